/* screen_matches.c — the workbench's Matches screen: for the selected run's
 * newest evaluation, one validation query and its top-5 predicted whales as
 * images (sixel, Unicode half-blocks in 256 or true colour, or a table),
 * with ids, similarities and right/wrong in colour and in text; j/k step
 * through the queries, w jumps to the worst, n hides new_whale queries, h/l
 * pick a match and g opens that whale's gallery (all its train images).
 *
 * Images: the tiles of what is shown are decoded, composed and encoded once
 * per change (match_view.c composes them) and kept. Half-blocks are ncurses
 * cells in colour pairs from PAIR_BASE up (the app's roles use 1..40), so
 * ncurses' picture stays right. Sixel pixels are not cells: the tiles' cells
 * are left blank in ncurses, the cached sixel bytes are written after the
 * refresh, and before anything else is shown there (another query, the
 * gallery, another screen, an overlay) the rows that hold them are marked
 * garbled (wredrawln) so that ncurses repaints them, which wipes the pixels.
 * Tiles end above the area's last row, so no image reaches the message or
 * hint rows (a sixel touching the bottom row would scroll the terminal).
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "app.h"
#include "match_view.h"
#include "sanitize.h"
#include "term_caps.h"
#include "thumbs.h"

#define MAX_TILES 12           /* the gallery's page at most; a query has 6 */
#define MATCH_LABEL_ROWS 2     /* "1 w_abc" / "0.9123 ✓" */
#define GALLERY_LABEL_ROWS 1   /* the image name */
#define SIXEL_COLORS 64        /* registers per tile: libsixel's encoding time grows with them */
#define EVAL_CHECK_SECONDS 2.0 /* how often to look for a newer evaluation */
#define DEFAULT_CELL_W 10      /* pixels, when the terminal does not say */
#define DEFAULT_CELL_H 20
#define PAIR_BASE 64           /* first colour pair of the half-blocks */
#define PAIR_SLOTS 8192        /* hash slots (a power of two) */
#define PAIR_MAX (PAIR_SLOTS / 2)

/* One tile's pixels, encoded for the terminal. */
typedef struct tile_image {
    fw_image canvas; /* (tile_h, tile_w, 3) */
    fw_outbuf sixel; /* sixel mode: one DCS sequence */
    int *colors;     /* half-blocks: (tile_h, tile_w) terminal colour numbers */
} tile_image;

/* What the cached images show: equal keys, equal pixels. */
typedef struct content_key {
    int valid;
    fw_graphics_mode mode;
    int depth;
    int gallery;
    int64_t eval_id;
    int query;
    long gallery_first;
    int n_tiles, tile_w, tile_h;
} content_key;

/* Where sixel images are (or are to be) on the terminal. */
typedef struct placement {
    content_key key;
    int n;
    int y[MAX_TILES], x[MAX_TILES];
    int top, rows; /* the rows they cover (rows 0: none) */
} placement;

typedef struct matches_screen {
    /* what is loaded */
    char run_id[FW_RUN_ID_CAP];
    int64_t eval_id;
    double checked_at;
    fw_match_browser browser;
    fw_dataset ds;
    int ds_tried;
    char data_error[FW_MATCH_TEXT_CAP];
    int match; /* the selected match, 1..FW_EVAL_TOPK */

    /* the gallery of one whale, when open */
    int gallery;
    char *gallery_whale; /* raw id */
    long *gallery_rows;  /* train.csv rows, (n_gallery) */
    long n_gallery;
    long gallery_first;  /* first row shown */
    int gallery_step;    /* tiles per row of the last layout */
    int gallery_shown;   /* images the last draw showed */

    /* the tiles shown and their cached images */
    fw_match_tile tiles[MAX_TILES];
    tile_image img[MAX_TILES];
    content_key key;
    char image_error[FW_MATCH_TEXT_CAP];

    /* sixel bookkeeping */
    fw_match_layout lay; /* the last draw's grid */
    placement want;    /* where the last draw put the tiles */
    placement written; /* what is on the terminal now */
    int pending;       /* write `want` after the next refresh */
    int cell_w, cell_h;

    /* half-block colour pairs: (fg, bg) -> pair */
    uint64_t pair_key[PAIR_SLOTS];
    int pair_num[PAIR_SLOTS];
    int pairs_used;
} matches_screen;

/* ------------------------------------------------------------ loading */

static void free_images(matches_screen *s)
{
    for (int i = 0; i < MAX_TILES; i++) {
        fw_image_free(&s->img[i].canvas);
        fw_outbuf_free(&s->img[i].sixel);
        free(s->img[i].colors);
        s->img[i].colors = NULL;
    }
    memset(&s->key, 0, sizeof s->key);
}

static void close_gallery(matches_screen *s)
{
    s->gallery = 0;
    free(s->gallery_whale);
    free(s->gallery_rows);
    s->gallery_whale = NULL;
    s->gallery_rows = NULL;
    s->n_gallery = s->gallery_first = 0;
}

static void forget_run(matches_screen *s)
{
    close_gallery(s);
    fw_match_browser_free(&s->browser);
    fw_dataset_free(&s->ds);
    memset(&s->ds, 0, sizeof s->ds);
    s->ds_tried = 0;
    s->data_error[0] = '\0';
    s->eval_id = 0;
    s->checked_at = 0;
    s->match = 1;
    s->run_id[0] = '\0';
    free_images(s);
}

static void measure_cells(matches_screen *s)
{
    struct winsize ws;
    s->cell_w = DEFAULT_CELL_W;
    s->cell_h = DEFAULT_CELL_H;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0 &&
        ws.ws_xpixel >= ws.ws_col && ws.ws_ypixel >= ws.ws_row) {
        s->cell_w = ws.ws_xpixel / ws.ws_col;
        s->cell_h = ws.ws_ypixel / ws.ws_row;
    }
}

static void *matches_create(fw_app *app)
{
    (void)app;
    matches_screen *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    fw_match_browser_init(&s->browser);
    s->match = 1;
    measure_cells(s);
    return s;
}

static void matches_destroy(void *self)
{
    matches_screen *s = self;
    if (!s)
        return;
    forget_run(s);
    free(s);
}

/* The newest evaluation id of a run, 0 when it has none, -1 on error. */
static int64_t newest_eval(fw_app *app, const char *run_id)
{
    fw_evaluation *list = NULL;
    int n = 0;
    fw_error err;
    fw_error_clear(&err);
    if (fw_store_eval_list(fw_app_store(app), run_id, &list, &n, &err) < 0) {
        fw_app_message(app, FW_ROLE_BAD, "matches: %s", err.msg);
        return -1;
    }
    int64_t id = n > 0 ? list[n - 1].id : 0;
    fw_eval_list_free(list, n);
    return id;
}

static int load_eval(matches_screen *s, fw_app *app, int64_t id)
{
    fw_evaluation ev;
    memset(&ev, 0, sizeof ev);
    fw_error err;
    fw_error_clear(&err);
    if (fw_store_eval_get(fw_app_store(app), id, NULL, NULL, &ev, &err) < 0) {
        fw_app_message(app, FW_ROLE_BAD, "matches: %s", err.msg);
        return -1;
    }
    fw_match_browser_set_eval(&s->browser, &ev);
    s->eval_id = id;
    if (!s->ds_tried) {
        const fw_run_info *info = fw_app_selected_info(app);
        s->ds_tried = 1;
        if (!info || strcmp(info->id, s->run_id) != 0)
            snprintf(s->data_error, sizeof s->data_error, "the run is gone");
        else
            fw_match_load_dataset(info->config, info->id, &s->ds, s->data_error,
                                  sizeof s->data_error);
    }
    return 0;
}

/* Keep the selected match on a whale with a gallery: when it is new_whale,
 * the first rank that is not. */
static void fix_match(matches_screen *s)
{
    if (!s->browser.have_eval || s->browser.query < 0)
        return;
    const fw_eval_query *q = &s->browser.ev.queries[s->browser.query];
    const char *id = q->match_id[s->match - 1];
    if (id && strcmp(id, FW_NEW_WHALE_ID) != 0)
        return;
    for (int k = 0; k < FW_EVAL_TOPK; k++)
        if (q->match_id[k] && strcmp(q->match_id[k], FW_NEW_WHALE_ID) != 0) {
            s->match = k + 1;
            return;
        }
}

static int matches_tick(void *self, fw_app *app)
{
    matches_screen *s = self;
    if (!s)
        return 0;
    int changed = 0;
    const char *selected = fw_app_selected(app);
    if (strcmp(selected, s->run_id) != 0) {
        forget_run(s);
        snprintf(s->run_id, sizeof s->run_id, "%s", selected);
        changed = 1;
    }
    if (!s->run_id[0])
        return changed;
    double now = fw_app_now();
    if (!changed && now - s->checked_at < EVAL_CHECK_SECONDS)
        return 0;
    s->checked_at = now;
    int64_t id = newest_eval(app, s->run_id);
    if (id > 0 && id != s->eval_id && load_eval(s, app, id) == 0) {
        fix_match(s);
        changed = 1;
    }
    return changed;
}

/* ------------------------------------------------------------ tiles */

static const char *mark(fw_app *app, int correct)
{
    if (fw_app_utf8(app))
        return correct ? "\xe2\x9c\x93" : "\xe2\x9c\x97"; /* ✓ ✗ */
    return correct ? "ok" : "WRONG";
}

static int tile_color(fw_app *app, const uint8_t *p)
{
    if (fw_app_color_depth(app) == FW_COLORS_TRUE)
        return (p[0] << 16) | (p[1] << 8) | p[2];
    return fw_cell_color_256(p[0], p[1], p[2]);
}

/* Fill s->tiles with what the current view shows; returns how many. */
static int collect_tiles(matches_screen *s, int capacity)
{
    const fw_evaluation *ev = &s->browser.ev;
    const char *err = s->data_error[0] ? s->data_error : NULL;
    if (!s->gallery) {
        fw_match_build_tiles(&ev->queries[s->browser.query], &s->ds, err, s->tiles);
        return FW_MATCH_TILES;
    }
    int n = 0;
    for (long i = s->gallery_first; i < s->n_gallery && n < capacity; i++, n++) {
        fw_match_tile *t = &s->tiles[n];
        memset(t, 0, sizeof *t);
        fw_sanitize(s->gallery_whale, t->label, sizeof t->label);
        fw_match_tile_image(t, &s->ds, s->ds.train[s->gallery_rows[i]].image, err);
    }
    return n;
}

/* Decode, compose and encode the tiles for `key` (once per change). */
static void build_images(matches_screen *s, fw_app *app, const content_key *key)
{
    free_images(s);
    s->image_error[0] = '\0';
    int n = collect_tiles(s, key->n_tiles);
    for (int i = 0; i < n; i++) {
        tile_image *im = &s->img[i];
        fw_error err;
        fw_error_clear(&err);
        if (fw_image_alloc(&im->canvas, key->tile_w, key->tile_h, 3, &err) < 0) {
            fw_sanitize(err.msg, s->image_error, sizeof s->image_error);
            continue;
        }
        fw_match_draw_tile(&s->tiles[i], &im->canvas, 0, 0, key->tile_w, key->tile_h);
        if (key->mode == FW_GRAPHICS_SIXEL) {
            /* Encoded in after_refresh (encode_sixel), so that the text
             * answering a key reaches the terminal before the ~90 ms of
             * sixel encoding. */
        } else {
            size_t npix = (size_t)key->tile_w * key->tile_h;
            im->colors = malloc(sizeof(int) * npix);
            if (!im->colors) {
                snprintf(s->image_error, sizeof s->image_error, "out of memory");
                continue;
            }
            for (size_t p = 0; p < npix; p++)
                im->colors[p] = tile_color(app, im->canvas.pixels + p * 3);
        }
    }
    s->key = *key;
    s->key.n_tiles = n;
    s->pairs_used = 0;
    memset(s->pair_key, 0, sizeof s->pair_key);
}

/* The colour pair drawing fg on bg (allocated on first use). */
static int pair_for(matches_screen *s, int fg, int bg)
{
    uint64_t k = (((uint64_t)(uint32_t)fg << 32) | (uint32_t)bg) + 1; /* 0 = empty slot */
    uint64_t h = k * 0x9E3779B97F4A7C15ull;
    for (unsigned i = (unsigned)(h >> 51) & (PAIR_SLOTS - 1);; i = (i + 1) & (PAIR_SLOTS - 1)) {
        if (s->pair_key[i] == k)
            return s->pair_num[i];
        if (s->pair_key[i] == 0) {
            int limit = COLOR_PAIRS - PAIR_BASE < PAIR_MAX ? COLOR_PAIRS - PAIR_BASE : PAIR_MAX;
            if (s->pairs_used >= limit) /* out of pairs: the last one (a wrong colour) */
                return PAIR_BASE + (limit > 0 ? limit - 1 : 0);
            int pair = PAIR_BASE + s->pairs_used++;
            init_extended_pair(pair, fg, bg);
            s->pair_key[i] = k;
            s->pair_num[i] = pair;
            return pair;
        }
    }
}

static void draw_blocks(matches_screen *s, int i, int y, int x)
{
    const tile_image *im = &s->img[i];
    if (!im->colors)
        return;
    int w = s->key.tile_w, rows = s->key.tile_h / 2;
    for (int r = 0; r < rows && y + r < LINES; r++) {
        move(y + r, x);
        for (int c = 0; c < w && x + c < COLS; c++) {
            int pair = pair_for(s, im->colors[(2 * r) * w + c], im->colors[(2 * r + 1) * w + c]);
            attr_set(A_NORMAL, 0, &pair);
            addstr("\xe2\x96\x80"); /* ▀: upper pixel in the foreground */
        }
    }
    attr_set(A_NORMAL, 0, NULL);
}

/* ------------------------------------------------------------ sixel rows */

static int same_key(const content_key *a, const content_key *b)
{
    return a->valid && b->valid && a->mode == b->mode && a->depth == b->depth &&
           a->gallery == b->gallery && a->eval_id == b->eval_id && a->query == b->query &&
           a->gallery_first == b->gallery_first && a->n_tiles == b->n_tiles &&
           a->tile_w == b->tile_w && a->tile_h == b->tile_h;
}

static int same_placement(const placement *a, const placement *b)
{
    if (!same_key(&a->key, &b->key) || a->n != b->n)
        return 0;
    for (int i = 0; i < a->n; i++)
        if (a->y[i] != b->y[i] || a->x[i] != b->x[i])
            return 0;
    return 1;
}

/* Make ncurses repaint the rows that hold sixel pixels at its next refresh. */
static void wipe_written(matches_screen *s)
{
    if (s->written.rows > 0 && s->written.top < LINES) {
        int rows = s->written.top + s->written.rows > LINES ? LINES - s->written.top
                                                             : s->written.rows;
        wredrawln(stdscr, s->written.top, rows);
    }
    memset(&s->written, 0, sizeof s->written);
}

static void matches_invalidate(void *self, fw_app *app)
{
    (void)app;
    matches_screen *s = self;
    if (!s)
        return;
    wipe_written(s);
    s->pending = 0;
    measure_cells(s);
}

/* Encode a tile's sixel once (its canvas is composed in build_images). */
static void encode_sixel(matches_screen *s, tile_image *im)
{
    if (im->sixel.len || !im->canvas.pixels)
        return;
    fw_error err;
    fw_error_clear(&err);
    if (fw_sixel_render(&im->canvas, SIXEL_COLORS, &im->sixel, &err) < 0) {
        fw_outbuf_free(&im->sixel);
        fw_sanitize(err.msg, s->image_error, sizeof s->image_error);
    }
}

static void matches_after_refresh(void *self, fw_app *app)
{
    matches_screen *s = self;
    if (!s || !s->pending)
        return;
    s->pending = 0;
    for (int i = 0; i < s->want.n; i++)
        encode_sixel(s, &s->img[i]);
    for (int i = 0; i < s->want.n; i++)
        if (s->img[i].sixel.len)
            fw_app_tty_write(app, s->want.y[i], s->want.x[i], s->img[i].sixel.data,
                             s->img[i].sixel.len);
    s->written = s->want;
}

/* ------------------------------------------------------------ drawing */

static void draw_header(matches_screen *s, fw_app *app, int top, int w)
{
    const fw_evaluation *ev = &s->browser.ev;
    const fw_run_info *info = fw_app_selected_info(app);
    fw_draw_textf(app, top, 0, w, FW_ROLE_TITLE, A_BOLD,
                  "run %s%s%s%s  evaluation %lld  step %lld  epoch %.2f  mAP@5 %.4f  top-1 %.4f",
                  s->run_id, info ? " (" : "", info ? info->name : "", info ? ")" : "",
                  (long long)ev->id, (long long)ev->step, ev->epoch, ev->map5, ev->top1);
    if (s->gallery) {
        long last = s->gallery_first + s->gallery_shown;
        fw_draw_textf(app, top + 1, 0, w, FW_ROLE_TEXT, 0,
                      "gallery of %s: %ld train image%s (%ld-%ld shown)  Esc back  j/k scroll",
                      s->gallery_whale, s->n_gallery, s->n_gallery == 1 ? "" : "s",
                      s->n_gallery ? s->gallery_first + 1 : 0, last);
        return;
    }
    int pos = 0;
    int n = fw_match_browser_count(&s->browser, &pos);
    const fw_eval_query *q = &ev->queries[s->browser.query];
    char where[64];
    int r = fw_match_rank_text(q, where, sizeof where);
    int x = fw_draw_textf(app, top + 1, 0, w, FW_ROLE_TEXT, 0, "query %d of %d%s: %s  true id %s",
                          pos + 1, n, s->browser.hide_new_whale ? " (new_whale hidden)" : "",
                          q->image, q->true_id);
    if (x + 4 < w)
        fw_draw_textf(app, top + 1, x + 2, w - x - 2, r == 1 ? FW_ROLE_GOOD : FW_ROLE_BAD, 0,
                      "(%s)", where);
}

/* The plain table: one row per predicted whale. */
static void draw_table(matches_screen *s, fw_app *app, int top, int h, int w)
{
    fw_match_tile tiles[FW_MATCH_TILES];
    fw_match_build_tiles(&s->browser.ev.queries[s->browser.query], &s->ds,
                         s->data_error[0] ? s->data_error : NULL, tiles);
    int y = top;
    fw_draw_textf(app, y++, 0, w, FW_ROLE_DIM, 0, "%-4s  %-24s  %10s  %-7s  %s", "rank",
                  "whale id", "similarity", "correct", "gallery image");
    for (int k = 1; k <= FW_EVAL_TOPK && y < top + h; k++, y++) {
        const fw_match_tile *t = &tiles[k];
        fw_draw_textf(app, y, 0, 6, FW_ROLE_TEXT, 0, "%-4d", k);
        fw_draw_text(app, y, 6, 24, k == s->match ? FW_ROLE_SELECTION : FW_ROLE_TEXT, 0, t->label);
        fw_draw_textf(app, y, 32, 10, FW_ROLE_TEXT, 0, "%10.4f", t->similarity);
        fw_draw_text(app, y, 44, 7, t->correct ? FW_ROLE_GOOD : FW_ROLE_BAD, A_BOLD,
                     mark(app, t->correct));
        if (t->reason[0])
            fw_draw_textf(app, y, 53, w - 53, FW_ROLE_DIM, 0, "%s (%s)",
                          t->image[0] ? t->image : "-", t->reason);
        else
            fw_draw_text(app, y, 53, w - 53, FW_ROLE_TEXT, 0, t->image);
    }
    if (tiles[0].reason[0] && y + 1 < top + h)
        fw_draw_textf(app, y + 1, 0, w, FW_ROLE_BAD, 0, "query image: %s", tiles[0].reason);
}

/* The gallery without images: one image name a line. */
static void draw_gallery_list(matches_screen *s, fw_app *app, int top, int w)
{
    const char *query = s->browser.ev.queries[s->browser.query].image;
    for (int i = 0; i < s->gallery_shown; i++) {
        const char *name = s->ds.train[s->gallery_rows[s->gallery_first + i]].image;
        fw_draw_textf(app, top + i, 2, w - 2, FW_ROLE_TEXT, 0, "%s%s", name,
                      query && !strcmp(name, query) ? "  (query)" : "");
    }
}

/* The label lines under tile i. */
static void draw_labels(matches_screen *s, fw_app *app, int i, int y, int x, int cols)
{
    const fw_match_tile *t = &s->tiles[i];
    if (s->gallery) {
        const char *query = s->browser.ev.queries[s->browser.query].image;
        fw_draw_textf(app, y, x, cols, FW_ROLE_TEXT, 0, "%s%s", t->image,
                      query && !strcmp(s->ds.train[s->gallery_rows[s->gallery_first + i]].image,
                                       query)
                          ? " (query)"
                          : "");
        return;
    }
    if (t->rank == 0) {
        fw_draw_text(app, y, x, cols, FW_ROLE_ACCENT, A_BOLD, "query");
        fw_draw_textf(app, y + 1, x, cols, FW_ROLE_DIM, 0, "true %s",
                      s->browser.ev.queries[s->browser.query].true_id);
        return;
    }
    int used = fw_draw_textf(app, y, x, cols, FW_ROLE_TEXT, 0, "%d ", t->rank);
    fw_draw_text(app, y, x + used, cols - used,
                 t->rank == s->match ? FW_ROLE_SELECTION : FW_ROLE_TEXT, 0, t->label);
    fw_draw_textf(app, y + 1, x, cols, t->correct ? FW_ROLE_GOOD : FW_ROLE_BAD, A_BOLD,
                  "%.4f %s", t->similarity, mark(app, t->correct));
}

/* The line under the grid: the selected match, or why a tile is empty. */
static void draw_detail(matches_screen *s, fw_app *app, int y, int w)
{
    if (s->image_error[0]) {
        fw_draw_textf(app, y, 0, w, FW_ROLE_BAD, 0, "images: %s", s->image_error);
        return;
    }
    if (s->gallery) {
        for (int i = 0; i < s->key.n_tiles; i++)
            if (s->tiles[i].reason[0]) {
                fw_draw_textf(app, y, 0, w, FW_ROLE_BAD, 0, "%s: %s", s->tiles[i].image,
                              s->tiles[i].reason);
                return;
            }
        return;
    }
    const fw_match_tile *t = &s->tiles[s->match];
    if (t->reason[0])
        fw_draw_textf(app, y, 0, w, FW_ROLE_DIM, 0, "%d %s: %s", t->rank, t->label, t->reason);
    else if (s->tiles[0].reason[0])
        fw_draw_textf(app, y, 0, w, FW_ROLE_BAD, 0, "query %s: %s", s->tiles[0].image,
                      s->tiles[0].reason);
    else
        fw_draw_textf(app, y, 0, w, FW_ROLE_DIM, 0, "%d %s: gallery image %s  (g: all its images)",
                      t->rank, t->label, t->image);
}

static void draw_message(fw_app *app, int top, int w, const char *text)
{
    fw_draw_text(app, top + 1, 2, w - 4, FW_ROLE_DIM, 0, text);
}

static void matches_draw(void *self, fw_app *app, int top, int h, int w)
{
    matches_screen *s = self;
    if (!s) {
        draw_message(app, top, w, "Matches: out of memory");
        return;
    }
    s->want.n = 0;
    s->want.rows = 0;
    if (!s->run_id[0] || !s->browser.have_eval || s->browser.query < 0) {
        wipe_written(s);
        if (!s->run_id[0])
            draw_message(app, top, w, "No run yet: start one on the Runs screen (1).");
        else if (!s->browser.have_eval)
            fw_draw_textf(app, top + 1, 2, w - 4, FW_ROLE_DIM, 0,
                          "Run %s has no evaluation yet: one is stored after each epoch.",
                          s->run_id);
        else if (s->browser.ev.n_queries == 0)
            fw_draw_textf(app, top + 1, 2, w - 4, FW_ROLE_DIM, 0, "Evaluation %lld has no queries.",
                          (long long)s->eval_id);
        else
            draw_message(app, top, w,
                         "No query to show: every query is new_whale (n shows them).");
        return;
    }
    fw_graphics_mode mode = fw_app_graphics(app);
    if (mode == FW_GRAPHICS_BLOCKS && COLOR_PAIRS <= PAIR_BASE + 16)
        mode = FW_GRAPHICS_TEXT;

    /* the grid's layout */
    int grid_top = top + FW_MATCH_HEADER_ROWS;
    int grid_h = h - FW_MATCH_HEADER_ROWS - FW_MATCH_FOOTER_ROWS;
    fw_match_layout lay;
    int capacity = s->gallery ? MAX_TILES : FW_MATCH_TILES;
    long n_want = s->gallery ? (s->n_gallery < MAX_TILES ? s->n_gallery : MAX_TILES)
                             : FW_MATCH_TILES;
    int label_rows = s->gallery ? GALLERY_LABEL_ROWS : MATCH_LABEL_ROWS;
    int laid = -1;
    if (mode != FW_GRAPHICS_TEXT)
        laid = fw_match_screen_layout(mode == FW_GRAPHICS_SIXEL, (int)(n_want > 0 ? n_want : 1),
                                      label_rows, h, w, s->cell_w, s->cell_h, &lay);
    if (laid < 0 || mode == FW_GRAPHICS_TEXT) {
        wipe_written(s);
        if (s->gallery) {
            s->gallery_step = 1;
            s->gallery_shown = grid_h < 1 ? 1 : grid_h;
            if (s->gallery_shown > s->n_gallery - s->gallery_first)
                s->gallery_shown = (int)(s->n_gallery - s->gallery_first);
        }
        draw_header(s, app, top, w);
        if (s->gallery)
            draw_gallery_list(s, app, grid_top, w);
        else
            draw_table(s, app, grid_top, grid_h, w);
        return;
    }
    int page = lay.per_row * lay.grid_rows;
    if (page > capacity)
        page = capacity;
    if (s->gallery) {
        s->gallery_step = lay.per_row;
        if (s->gallery_first + page > s->n_gallery) /* keep the page full after a resize */
            s->gallery_first = s->n_gallery > page ? s->n_gallery - page : 0;
        s->gallery_first -= s->gallery_first % lay.per_row;
    }

    long shown = s->gallery ? s->n_gallery - s->gallery_first : FW_MATCH_TILES;
    content_key key = {
        .valid = 1,
        .mode = mode,
        .depth = fw_app_color_depth(app),
        .gallery = s->gallery,
        .eval_id = s->eval_id,
        .query = s->browser.query,
        .gallery_first = s->gallery ? s->gallery_first : 0,
        .n_tiles = shown < page ? (int)shown : page,
        .tile_w = lay.tile_w,
        .tile_h = lay.tile_h,
    };
    if (!same_key(&s->key, &key))
        build_images(s, app, &key);
    s->lay = lay;
    s->gallery_shown = s->key.n_tiles;

    draw_header(s, app, top, w);
    /* centre the grid horizontally */
    int grid_w = lay.per_row * lay.tile_cols + (lay.per_row - 1) * lay.gap_cols;
    int left = (w - grid_w) / 2;
    placement want = {.key = s->key};
    for (int i = 0; i < s->key.n_tiles; i++) {
        int y = grid_top + (i / lay.per_row) * lay.step_rows;
        int x = left + (i % lay.per_row) * (lay.tile_cols + lay.gap_cols);
        want.y[i] = y;
        want.x[i] = x;
        if (mode == FW_GRAPHICS_BLOCKS)
            draw_blocks(s, i, y, x);
        draw_labels(s, app, i, y + lay.tile_rows, x, lay.tile_cols);
    }
    want.n = s->key.n_tiles;
    want.top = grid_top;
    want.rows = want.n ? want.y[want.n - 1] + lay.tile_rows - grid_top : 0;
    draw_detail(s, app, top + h - 1, w);

    if (mode == FW_GRAPHICS_SIXEL) {
        if (!same_placement(&want, &s->written)) {
            wipe_written(s);
            s->pending = 1;
        }
        s->want = want;
    } else {
        wipe_written(s);
    }
}

/* ------------------------------------------------------------ keys */


static void open_gallery(matches_screen *s, fw_app *app)
{
    const fw_eval_query *q = &s->browser.ev.queries[s->browser.query];
    const char *id = q->match_id[s->match - 1] ? q->match_id[s->match - 1] : "";
    if (s->data_error[0]) {
        fw_app_message(app, FW_ROLE_BAD, "no gallery: %s", s->data_error);
        return;
    }
    long n = fw_match_whale_rows(&s->ds, id, NULL, 0);
    if (n == 0) {
        fw_app_message(app, FW_ROLE_TEXT, "%s has no train images",
                       !strcmp(id, FW_NEW_WHALE_ID) ? "new_whale" : id);
        return;
    }
    long *rows = malloc(sizeof(long) * (size_t)n);
    char *whale = strdup(id);
    if (!rows || !whale) {
        free(rows);
        free(whale);
        fw_app_message(app, FW_ROLE_BAD, "gallery: out of memory");
        return;
    }
    fw_match_whale_rows(&s->ds, id, rows, n);
    close_gallery(s);
    s->gallery = 1;
    s->gallery_whale = whale;
    s->gallery_rows = rows;
    s->n_gallery = n;
    s->gallery_first = 0;
    s->gallery_step = 1;
}

static int gallery_key(matches_screen *s, int ch)
{
    long step = s->gallery_step > 0 ? s->gallery_step : 1;
    switch (ch) {
    case 27: /* Esc */
    case 'g':
    case KEY_BACKSPACE:
    case 127:
        close_gallery(s);
        return 1;
    case 'j':
    case KEY_DOWN:
    case KEY_NPAGE:
        if (s->gallery_first + s->gallery_shown < s->n_gallery)
            s->gallery_first += step;
        return 1;
    case 'k':
    case KEY_UP:
    case KEY_PPAGE:
        s->gallery_first = s->gallery_first >= step ? s->gallery_first - step : 0;
        return 1;
    default:
        return 0;
    }
}

/* A click on a match tile selects it. */
static int mouse_key(matches_screen *s, fw_app *app)
{
    const MEVENT *m = fw_app_mouse(app);
    if (!m || s->gallery)
        return 0;
    for (int i = 1; i < s->want.n && i < FW_MATCH_TILES; i++) {
        if (m->y >= s->want.y[i] && m->y < s->want.y[i] + s->lay.tile_rows + s->lay.label_rows &&
            m->x >= s->want.x[i] && m->x < s->want.x[i] + s->lay.tile_cols) {
            s->match = i;
            return 1;
        }
    }
    return 0;
}

static int query_key(matches_screen *s, fw_app *app, int ch)
{
    switch (ch) {
    case 'j':
    case KEY_DOWN:
        fw_match_browser_step(&s->browser, 1);
        return 1;
    case 'k':
    case KEY_UP:
        fw_match_browser_step(&s->browser, -1);
        return 1;
    case KEY_NPAGE:
        fw_match_browser_step(&s->browser, 10);
        return 1;
    case KEY_PPAGE:
        fw_match_browser_step(&s->browser, -10);
        return 1;
    case KEY_HOME:
        fw_match_browser_step(&s->browser, -s->browser.ev.n_queries);
        return 1;
    case KEY_END:
        fw_match_browser_step(&s->browser, s->browser.ev.n_queries);
        return 1;
    case 'h':
    case KEY_LEFT:
        if (s->match > 1)
            s->match--;
        return 1;
    case 'l':
    case KEY_RIGHT:
        if (s->match < FW_EVAL_TOPK)
            s->match++;
        return 1;
    case 'w': {
        fw_match_browser_worst(&s->browser);
        int r = fw_match_true_rank(&s->browser.ev.queries[s->browser.query]);
        int pos = 0;
        fw_match_browser_count(&s->browser, &pos);
        if (r > FW_EVAL_TOPK)
            fw_app_message(app, FW_ROLE_TEXT, "worst #%d: the true id is not in the top %d",
                           s->browser.worst_pos + 1, FW_EVAL_TOPK);
        else
            fw_app_message(app, FW_ROLE_TEXT, "worst #%d: the true id is at rank %d",
                           s->browser.worst_pos + 1, r);
        return 1;
    }
    case 'n':
        fw_match_browser_toggle_new_whale(&s->browser);
        fw_app_message(app, FW_ROLE_TEXT, "new_whale queries %s",
                       s->browser.hide_new_whale ? "hidden" : "shown");
        return 1;
    case 'g':
    case '\r':
    case '\n':
    case KEY_ENTER:
        open_gallery(s, app);
        return 1;
    case KEY_MOUSE:
        return mouse_key(s, app);
    default:
        return 0;
    }
}

static int matches_key(void *self, fw_app *app, int ch)
{
    matches_screen *s = self;
    if (!s || !s->browser.have_eval || s->browser.query < 0) {
        if (s && ch == 'n' && s->browser.have_eval) {
            fw_match_browser_toggle_new_whale(&s->browser);
            return 1;
        }
        return 0;
    }
    if (s->gallery)
        return gallery_key(s, ch);
    int query = s->browser.query;
    int used = query_key(s, app, ch);
    if (s->browser.query != query)
        fix_match(s);
    return used;
}

const fw_screen_ops fw_screen_matches = {
    .title = "Matches",
    .hints = "j/k query  h/l match  w worst  n new_whale  g gallery",
    .create = matches_create,
    .destroy = matches_destroy,
    .tick = matches_tick,
    .draw = matches_draw,
    .key = matches_key,
    .after_refresh = matches_after_refresh,
    .invalidate = matches_invalidate,
};
