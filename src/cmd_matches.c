/* cmd_matches.c — `flukewatch matches RUN`: one validation query of a run's
 * evaluation and its top-5 predicted whales, drawn as thumbnails (sixel
 * images or Unicode half-blocks) with id, similarity and right/wrong, or as a
 * plain table. The tiles, the gallery lookup (a predicted whale's first
 * train.csv image other than the query), the worst-first choice and the
 * canvas composition are match_view.c's, shared with the workbench. */
#include <config.h>

#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli.h"
#include "match_view.h"
#include "dataset.h"
#include "sanitize.h"
#include "store.h"
#include "term_caps.h"
#include "thumbs.h"

#define TEXT_CAP FW_MATCH_TEXT_CAP
#define TILE_GAP_CELLS 2
#define DA1_TIMEOUT_MS 300
#define SIXEL_DEFAULT_W 192
#define BLOCKS_DEFAULT_COLS 24

typedef enum graphics_mode {
    MODE_AUTO = 0,
    MODE_TEXT,
    MODE_BLOCKS,
    MODE_SIXEL,
} graphics_mode;

typedef struct matches_opts {
    const char *run_id;
    const char *query;   /* image name, or NULL */
    graphics_mode mode;  /* from the options (MODE_AUTO when none) */
    int64_t evaluation;  /* 0: the newest */
    int worst;
    int cols;            /* thumbnail width in cells (0: default) */
} matches_opts;

typedef fw_match_tile tile; /* the query or one predicted whale (match_view.h) */

/* How the terminal is to be used. */
typedef struct view {
    graphics_mode mode;
    int utf8;
    int color;                /* SGR colours for right/wrong */
    fw_cell_colors cell_colors;
    int term_cols;
    int cell_w;               /* pixels per cell column (sixel), guessed when unknown */
} view;

/* ------------------------------------------------------------ options */

static int set_mode(const fw_command *cmd, matches_opts *o, graphics_mode m, const char *flag)
{
    if (o->mode != MODE_AUTO && o->mode != m)
        return fw_cli_usage_error(cmd, "%s: choose one of --text, --blocks, --sixel", flag);
    o->mode = m;
    return 0;
}

static int parse_args(const fw_command *cmd, int argc, char **argv, matches_opts *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        int missing = 0;
        const char *v;
        int rc;
        if ((v = fw_cli_option_value(argc, argv, &i, "--query", &missing))) {
            if (!*v)
                return fw_cli_usage_error(cmd, "--query needs an image name");
            o->query = v;
        } else if ((v = fw_cli_option_value(argc, argv, &i, "--evaluation", &missing))) {
            long id;
            if (fw_parse_long(v, 1, 0x7fffffffL, &id))
                return fw_cli_usage_error(cmd, "--evaluation '%s' is not a positive whole number",
                                          v);
            o->evaluation = id;
        } else if ((v = fw_cli_option_value(argc, argv, &i, "--cols", &missing))) {
            long n;
            if (fw_parse_long(v, 4, 400, &n))
                return fw_cli_usage_error(cmd, "--cols '%s' is not a whole number in 4..400", v);
            o->cols = (int)n;
        } else if (missing) {
            return fw_cli_usage_error(cmd, "%s needs a value", argv[i]);
        } else if (!strcmp(argv[i], "--text")) {
            if ((rc = set_mode(cmd, o, MODE_TEXT, argv[i])))
                return rc;
        } else if (!strcmp(argv[i], "--blocks")) {
            if ((rc = set_mode(cmd, o, MODE_BLOCKS, argv[i])))
                return rc;
        } else if (!strcmp(argv[i], "--sixel")) {
            if ((rc = set_mode(cmd, o, MODE_SIXEL, argv[i])))
                return rc;
        } else if (!strcmp(argv[i], "--worst")) {
            o->worst = 1;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return fw_cli_usage_error(cmd, "unknown option '%s'", argv[i]);
        } else if (o->run_id) {
            return fw_cli_usage_error(cmd, "unexpected argument '%s'", argv[i]);
        } else {
            o->run_id = argv[i];
        }
    }
    if (!o->run_id)
        return fw_cli_usage_error(cmd, "the RUN id is required");
    if (o->worst && o->query)
        return fw_cli_usage_error(cmd, "--query and --worst pick the query both: give one");
    return 0;
}

/* ------------------------------------------------------------ choosing */

static int pick_query(const fw_command *cmd, const matches_opts *o, const fw_evaluation *ev)
{
    if (o->query) {
        for (int i = 0; i < ev->n_queries; i++)
            if (!strcmp(ev->queries[i].image, o->query))
                return i;
        char clean[TEXT_CAP];
        fprintf(stderr, "flukewatch %s: error: evaluation %lld has no query image '%s'\n",
                cmd->name, (long long)ev->id, fw_sanitize(o->query, clean, sizeof clean));
        return -1;
    }
    if (!o->worst)
        return 0;
    return fw_match_worst(ev, 0);
}

/* ------------------------------------------------------------ tiles */

/* ------------------------------------------------------------ text */

static const char *mark(const view *v, int correct)
{
    if (v->utf8)
        return correct ? "\xe2\x9c\x93" : "\xe2\x9c\x97"; /* ✓ ✗ */
    return correct ? "ok" : "--";
}

/* Append s padded or cut to `width` characters (UTF-8 code points); color
 * (an SGR sequence or NULL) wraps the text, not the padding. */
static int put_cell_text(fw_outbuf *out, const char *s, int width, int utf8, const char *color,
                         fw_error *err)
{
    int chars = 0;
    for (const char *p = s; *p; p++)
        chars += ((unsigned char)*p & 0xc0) != 0x80;
    size_t keep = strlen(s);
    int cut = chars > width;
    if (cut) { /* keep width-1 characters and an ellipsis */
        const char *p = s;
        for (int n = 0; *p; p++) {
            if (((unsigned char)*p & 0xc0) != 0x80 && n++ == width - 1)
                break;
        }
        keep = (size_t)(p - s);
    }
    if (color && keep)
        FW_TRY(fw_outbuf_printf(out, err, "%s", color));
    FW_TRY(fw_outbuf_append(out, s, keep, err));
    if (cut)
        FW_TRY(utf8 ? fw_outbuf_append(out, "\xe2\x80\xa6", 3, err)
                    : fw_outbuf_append(out, "~", 1, err));
    if (color && keep)
        FW_TRY(fw_outbuf_append(out, "\033[0m", 4, err));
    for (int i = chars; i < width; i++)
        FW_TRY(fw_outbuf_append(out, " ", 1, err));
    return FW_OK;
}

static void print_header(const fw_run_info *run, const fw_evaluation *ev, int qi)
{
    char name[TEXT_CAP], ckpt[TEXT_CAP], image[TEXT_CAP], truth[TEXT_CAP];
    const fw_eval_query *q = &ev->queries[qi];
    printf("run %s (%s)  evaluation %lld  step %lld  epoch %.2f  mAP@5 %.4f  top-1 %.4f%s%s\n",
           run->id, fw_sanitize(run->name, name, sizeof name), (long long)ev->id,
           (long long)ev->step, ev->epoch, ev->map5, ev->top1, ev->checkpoint[0] ? "  " : "",
           fw_sanitize(ev->checkpoint, ckpt, sizeof ckpt));
    char where[64];
    fw_match_rank_text(q, where, sizeof where);
    printf("query %d of %d: %s  true id %s  (%s)\n", qi + 1, ev->n_queries,
           fw_sanitize(q->image, image, sizeof image),
           fw_sanitize(q->true_id, truth, sizeof truth), where);
}

static int print_table(const view *v, tile tiles[FW_MATCH_TILES])
{
    int idw = 8;
    for (int k = 1; k <= FW_EVAL_TOPK; k++) {
        int n = (int)strlen(tiles[k].label);
        if (n > idw)
            idw = n;
    }
    printf("%-4s  %-*s  %10s  %-7s  %s\n", "rank", idw, "whale id", "similarity", "correct",
           "gallery image");
    for (int k = 1; k <= FW_EVAL_TOPK; k++) {
        const tile *t = &tiles[k];
        const char *m = mark(v, t->correct);
        /* pad the mark by characters, not bytes */
        printf("%-4d  %-*s  %10.4f  %s%*s  %s", t->rank, idw, t->label, t->similarity, m,
               7 - (v->utf8 ? 1 : 2), "", t->image[0] ? t->image : "-");
        if (t->reason[0])
            printf(" (%s)", t->reason);
        else if (t->path[0] && access(t->path, R_OK) != 0) {
            char why[TEXT_CAP];
            snprintf(why, sizeof why, "%s", strerror(errno));
            printf(" (unreadable: %s)", why);
        }
        printf("\n");
    }
    const tile *qt = &tiles[0];
    if (qt->reason[0])
        printf("query image: %s\n", qt->reason);
    else if (qt->path[0] && access(qt->path, R_OK) != 0)
        printf("query image: unreadable: %s\n", strerror(errno));
    return FW_EXIT_OK;
}

/* ------------------------------------------------------------ grid */

/* Label lines under a row of tiles: the id (or "query"), the similarity and
 * mark (or the true id), and "no image [n]" for a tile that is empty. */
static int put_labels(fw_outbuf *out, const view *v, const tile *row, const int *notes, int n,
                      int tile_cols, const char *true_id, fw_error *err)
{
    int any_reason = 0;
    for (int i = 0; i < n; i++)
        any_reason |= row[i].reason[0] != '\0';
    for (int line = 0; line < (any_reason ? 3 : 2); line++) {
        for (int i = 0; i < n; i++) {
            const tile *t = &row[i];
            char text[2 * TEXT_CAP];
            const char *color = NULL;
            text[0] = '\0';
            if (line == 0) {
                if (t->rank == 0)
                    snprintf(text, sizeof text, "query %.*s", TEXT_CAP, t->image);
                else
                    snprintf(text, sizeof text, "%d %.*s", t->rank, TEXT_CAP, t->label);
            } else if (line == 1) {
                if (t->rank == 0) {
                    snprintf(text, sizeof text, "true %.*s", TEXT_CAP, true_id);
                } else {
                    snprintf(text, sizeof text, "%.4f %s", t->similarity, mark(v, t->correct));
                    if (v->color)
                        color = t->correct ? "\033[1;32m" : "\033[1;31m";
                }
            } else if (notes[i]) {
                snprintf(text, sizeof text, "no image [%d]", notes[i]);
            } else if (t->reason[0]) {
                snprintf(text, sizeof text, "(no image)");
            }
            if (i > 0)
                FW_TRY(fw_outbuf_printf(out, err, "%*s", TILE_GAP_CELLS, ""));
            FW_TRY(put_cell_text(out, text, tile_cols, v->utf8, color, err));
        }
        /* trailing spaces of the row are noise */
        while (out->len && out->data[out->len - 1] == ' ')
            out->data[--out->len] = '\0';
        FW_TRY(fw_outbuf_append(out, "\n", 1, err));
    }
    return FW_OK;
}

/* Cut a half-block rendering of one tile into its lines (pointers into buf). */
static int split_lines(char *buf, char **lines, int cap)
{
    int n = 0;
    for (char *p = buf; *p && n < cap;) {
        lines[n++] = p;
        char *nl = strchr(p, '\n');
        if (!nl)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    return n;
}

static int render_grid(const view *v, const matches_opts *o, tile tiles[FW_MATCH_TILES],
                       const char *true_id, fw_outbuf *out, fw_error *err)
{
    int note[FW_MATCH_TILES] = {0}; /* footnote of a tile without an image, 0 = none */
    const int n_tiles = FW_MATCH_TILES;
    int tile_cols, tile_w, tile_h; /* cells wide; pixels */
    if (v->mode == MODE_SIXEL) {
        if (o->cols) {
            tile_cols = o->cols;
            tile_w = o->cols * v->cell_w;
        } else {
            tile_w = SIXEL_DEFAULT_W;
            /* shrink so that the six tiles fit side by side when the terminal is narrow */
            int fit = ((v->term_cols + TILE_GAP_CELLS) / n_tiles - TILE_GAP_CELLS) * v->cell_w;
            if (fit < tile_w)
                tile_w = fit < 8 * v->cell_w ? 8 * v->cell_w : fit;
            tile_cols = (tile_w + v->cell_w - 1) / v->cell_w;
            tile_w = tile_cols * v->cell_w;
        }
        tile_h = tile_w / 2;
    } else {
        if (o->cols) {
            tile_cols = o->cols;
        } else {
            tile_cols = (v->term_cols + TILE_GAP_CELLS) / n_tiles - TILE_GAP_CELLS;
            if (tile_cols > BLOCKS_DEFAULT_COLS)
                tile_cols = BLOCKS_DEFAULT_COLS;
            if (tile_cols < 12)
                tile_cols = 12;
        }
        tile_w = tile_cols;
        tile_h = (tile_cols / 4) * 2; /* a 2:1 tile: cells are about twice as tall as wide */
        if (tile_h < 2)
            tile_h = 2;
    }
    int per_row = (v->term_cols + TILE_GAP_CELLS) / (tile_cols + TILE_GAP_CELLS);
    if (per_row < 1)
        per_row = 1;
    if (per_row > n_tiles)
        per_row = n_tiles;

    int notes = 0;
    for (int first = 0; first < n_tiles; first += per_row) {
        int n = first + per_row <= n_tiles ? per_row : n_tiles - first;
        int gap_px = v->mode == MODE_SIXEL ? TILE_GAP_CELLS * v->cell_w : 0;
        int canvas_w = v->mode == MODE_SIXEL ? n * tile_w + (n - 1) * gap_px : tile_w;
        fw_image canvas[FW_MATCH_TILES];
        memset(canvas, 0, sizeof canvas);
        int rc = FW_OK;
        int n_canvas = v->mode == MODE_SIXEL ? 1 : n;
        for (int c = 0; c < n_canvas && rc == FW_OK; c++)
            rc = fw_image_alloc(&canvas[c], canvas_w, tile_h, 3, err);
        for (int i = 0; i < n && rc == FW_OK; i++) {
            tile *t = &tiles[first + i];
            if (v->mode == MODE_SIXEL)
                fw_match_draw_tile(t, &canvas[0], i * (tile_w + gap_px), 0, tile_w, tile_h);
            else
                fw_match_draw_tile(t, &canvas[i], 0, 0, tile_w, tile_h);
            if (t->reason[0] && strcmp(t->label, FW_NEW_WHALE_ID) != 0)
                note[first + i] = ++notes;
        }
        if (rc == FW_OK && v->mode == MODE_SIXEL) {
            rc = fw_sixel_render(&canvas[0], 256, out, err);
            if (rc == FW_OK)
                rc = fw_outbuf_append(out, "\n", 1, err);
        } else if (rc == FW_OK) {
            /* render each tile, then interleave their lines with plain gaps */
            fw_outbuf cells[FW_MATCH_TILES];
            memset(cells, 0, sizeof cells);
            char *lines[FW_MATCH_TILES][256];
            int n_lines = 0;
            static const uint8_t pad[3] = {0, 0, 0};
            for (int i = 0; i < n && rc == FW_OK; i++) {
                rc = fw_halfblock_render(&canvas[i], v->cell_colors, pad, &cells[i], err);
                if (rc == FW_OK)
                    n_lines = split_lines(cells[i].data, lines[i], 256);
            }
            for (int l = 0; l < n_lines && rc == FW_OK; l++) {
                for (int i = 0; i < n && rc == FW_OK; i++) {
                    if (i > 0)
                        rc = fw_outbuf_printf(out, err, "%*s", TILE_GAP_CELLS, "");
                    if (rc == FW_OK)
                        rc = fw_outbuf_printf(out, err, "%s", lines[i][l]);
                }
                if (rc == FW_OK)
                    rc = fw_outbuf_append(out, "\n", 1, err);
            }
            for (int i = 0; i < n; i++)
                fw_outbuf_free(&cells[i]);
        }
        for (int c = 0; c < n_canvas; c++)
            fw_image_free(&canvas[c]);
        if (rc == FW_OK)
            rc = put_labels(out, v, &tiles[first], &note[first], n, tile_cols, true_id, err);
        if (rc == FW_OK && first + per_row < n_tiles)
            rc = fw_outbuf_append(out, "\n", 1, err);
        if (rc < 0)
            return rc;
    }
    for (int i = 0; i < n_tiles; i++) {
        const tile *t = &tiles[i];
        if (note[i])
            FW_TRY(fw_outbuf_printf(out, err, "[%d] %s%s%s: %s\n", note[i],
                                    t->rank ? t->label : "query", t->image[0] ? " " : "",
                                    t->image, t->reason));
    }
    return FW_OK;
}

/* ------------------------------------------------------------ terminal */

static graphics_mode mode_from_env(const fw_command *cmd)
{
    const char *g = getenv("FLUKEWATCH_GRAPHICS");
    if (!g || !*g)
        return MODE_AUTO;
    if (!strcmp(g, "sixel"))
        return MODE_SIXEL;
    if (!strcmp(g, "blocks"))
        return MODE_BLOCKS;
    if (!strcmp(g, "text"))
        return MODE_TEXT;
    char clean[64];
    fprintf(stderr, "flukewatch %s: warning: FLUKEWATCH_GRAPHICS='%s' is not sixel, blocks or "
                    "text; detecting\n",
            cmd->name, fw_sanitize(g, clean, sizeof clean));
    return MODE_AUTO;
}

static void choose_view(const fw_command *cmd, const matches_opts *o, view *v)
{
    memset(v, 0, sizeof *v);
    v->utf8 = fw_locale_is_utf8();
    int tty = isatty(STDOUT_FILENO);
    fw_color_depth depth = fw_term_color_depth();
    v->cell_colors = depth == FW_COLORS_TRUE ? FW_CELL_COLORS_TRUE : FW_CELL_COLORS_256;
    v->term_cols = 80;
    v->cell_w = 10; /* a guess when the terminal does not say */
    struct winsize ws;
    if (tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
        v->term_cols = ws.ws_col;
        if (ws.ws_xpixel > 0)
            v->cell_w = ws.ws_xpixel / ws.ws_col;
    } else {
        long c;
        const char *env = getenv("COLUMNS");
        if (env && fw_parse_long(env, 20, 10000, &c) == 0)
            v->term_cols = (int)c;
    }
    if (v->cell_w < 1)
        v->cell_w = 10;

    v->mode = o->mode;
    if (v->mode == MODE_AUTO)
        v->mode = mode_from_env(cmd);
    if (v->mode == MODE_AUTO) {
        fw_error err;
        fw_error_clear(&err);
        if (!tty)
            v->mode = MODE_TEXT;
        else if (fw_term_probe_sixel(DA1_TIMEOUT_MS, &err) == 1)
            v->mode = MODE_SIXEL;
        else if (v->utf8 && depth != FW_COLORS_NONE)
            v->mode = MODE_BLOCKS;
        else
            v->mode = MODE_TEXT;
        if (err.code < 0) {
            char clean[sizeof err.msg];
            fprintf(stderr, "flukewatch %s: warning: %s\n", cmd->name,
                    fw_sanitize(err.msg, clean, sizeof clean));
        }
    }
    /* colours for right/wrong: in the graphic modes, where the terminal has them */
    v->color = v->mode != MODE_TEXT && (depth != FW_COLORS_NONE || !tty);
}

/* ------------------------------------------------------------ command */

static int run(int argc, char **argv)
{
    const fw_command *cmd = &fw_cmd_matches;
    matches_opts o;
    int urc = parse_args(cmd, argc, argv, &o);
    if (urc)
        return urc;
    setlocale(LC_CTYPE, "");

    fw_error err;
    fw_error_clear(&err);
    char workspace[4096];
    fw_store *store = NULL;
    if (fw_store_resolve_workspace(NULL, workspace, sizeof workspace, &err) < 0 ||
        fw_store_open(workspace, &store, &err) < 0)
        return fw_cli_report(cmd, &err);

    int exit_code = FW_EXIT_FAIL;
    fw_run_info info;
    memset(&info, 0, sizeof info);
    fw_evaluation ev;
    memset(&ev, 0, sizeof ev);
    fw_dataset ds;
    memset(&ds, 0, sizeof ds);
    fw_outbuf out = {0};
    int have_run = 0, have_eval = 0;

    int rc = fw_store_run_get(store, o.run_id, &info, &err);
    if (rc == FW_ENOTFOUND) {
        char clean[TEXT_CAP];
        fprintf(stderr, "flukewatch %s: error: no run '%s' in %s\n", cmd->name,
                fw_sanitize(o.run_id, clean, sizeof clean), fw_store_path(store));
        goto done;
    }
    if (rc < 0) {
        fw_cli_report(cmd, &err);
        goto done;
    }
    have_run = 1;
    rc = fw_store_eval_get(store, o.evaluation, o.run_id, NULL, &ev, &err);
    if (rc == FW_ENOTFOUND) {
        if (o.evaluation)
            fprintf(stderr, "flukewatch %s: error: no evaluation %lld\n", cmd->name,
                    (long long)o.evaluation);
        else
            fprintf(stderr, "flukewatch %s: error: run %s has no evaluation yet\n", cmd->name,
                    info.id);
        goto done;
    }
    if (rc < 0) {
        fw_cli_report(cmd, &err);
        goto done;
    }
    have_eval = 1;
    if (strcmp(ev.run_id, info.id) != 0) {
        fprintf(stderr, "flukewatch %s: error: evaluation %lld belongs to run %s, not %s\n",
                cmd->name, (long long)ev.id, ev.run_id, info.id);
        goto done;
    }
    if (ev.n_queries < 1) {
        fprintf(stderr, "flukewatch %s: error: evaluation %lld has no queries\n", cmd->name,
                (long long)ev.id);
        goto done;
    }
    int qi = pick_query(cmd, &o, &ev);
    if (qi < 0)
        goto done;

    char data_error[TEXT_CAP] = "";
    if (fw_match_load_dataset(info.config, info.id, &ds, data_error, sizeof data_error) < 0) {
        fprintf(stderr, "flukewatch %s: warning: no images: %s\n", cmd->name, data_error);
    }
    tile tiles[FW_MATCH_TILES];
    fw_match_build_tiles(&ev.queries[qi], &ds, data_error[0] ? data_error : NULL, tiles);

    view v;
    choose_view(cmd, &o, &v);
    print_header(&info, &ev, qi);
    fflush(stdout);
    if (v.mode == MODE_TEXT) {
        exit_code = print_table(&v, tiles);
        goto done;
    }
    char truth[TEXT_CAP];
    fw_sanitize(ev.queries[qi].true_id, truth, sizeof truth);
    if (render_grid(&v, &o, tiles, truth, &out, &err) < 0) {
        fw_cli_report(cmd, &err);
        goto done;
    }
    if (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
        fprintf(stderr, "flukewatch %s: error: cannot write the output\n", cmd->name);
        goto done;
    }
    exit_code = FW_EXIT_OK;
done:
    fw_outbuf_free(&out);
    fw_dataset_free(&ds);
    if (have_eval)
        fw_evaluation_free(&ev);
    if (have_run)
        fw_run_info_free(&info);
    fw_store_close(store);
    return exit_code;
}

const fw_command fw_cmd_matches = {
    "matches",
    "RUN [--query IMAGE | --worst] [--evaluation ID] [--text | --blocks | --sixel] [--cols N]",
    "Show a validation query of a run's evaluation and its top-5 matches.",
    "Shows one validation query of the run's newest evaluation (or --evaluation ID)\n"
    "and the five whales the model ranked first: the query image and, for each\n"
    "predicted id, its first train.csv image other than the query (new_whale has\n"
    "none), with the id, the similarity and whether it is the query's true id\n"
    "(marked \xe2\x9c\x93/\xe2\x9c\x97 in a UTF-8 locale, ok/-- otherwise; in colour where the\n"
    "terminal has it). Images come from the dataset directory of the run's config.\n"
    "\n"
    "Options:\n"
    "  --query IMAGE     the query with this image name (default: the first)\n"
    "  --worst           the query whose true id ranks lowest or is missing\n"
    "  --evaluation ID   this evaluation instead of the run's newest\n"
    "  --text            a plain table: rank, whale id, similarity, correct, image\n"
    "  --blocks          thumbnails as Unicode half-blocks (24-bit or 256 colours)\n"
    "  --sixel           thumbnails as sixel images\n"
    "  --cols N          thumbnail width in terminal cells\n"
    "\n"
    "Without --text/--blocks/--sixel, FLUKEWATCH_GRAPHICS=sixel|blocks|text decides;\n"
    "else a terminal that lists sixel in its DA1 answer gets sixel, another\n"
    "terminal half-blocks (UTF-8 locale) or the table, and a pipe the table.\n"
    "An image that cannot be read is drawn as an empty tile with the reason.\n"
    "Exit status: 0 shown, 1 unknown run, no evaluation or failure, 2 usage.\n",
    run,
};
