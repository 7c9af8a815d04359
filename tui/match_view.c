/* match_view.c — the Matches model shared by the workbench screen and the
 * `matches` command: query order and filter, tiles, gallery lookup, canvas
 * composition and the grid layout (see match_view.h). No ncurses here. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "match_view.h"
#include "run_config.h"
#include "sanitize.h"
#include "thumbs.h"

/* ------------------------------------------------------------ queries */

int fw_match_true_rank(const fw_eval_query *q)
{
    for (int k = 0; k < FW_EVAL_TOPK; k++)
        if (q->match_id[k] && q->true_id && !strcmp(q->match_id[k], q->true_id))
            return k + 1;
    return FW_EVAL_TOPK + 1;
}

int fw_match_rank_text(const fw_eval_query *q, char *buf, size_t cap)
{
    int r = fw_match_true_rank(q);
    if (r <= FW_EVAL_TOPK)
        snprintf(buf, cap, "true id at rank %d", r);
    else
        snprintf(buf, cap, "true id not in the top %d", FW_EVAL_TOPK);
    return r;
}

int fw_match_query_visible(const fw_eval_query *q, int hide_new_whale)
{
    return !hide_new_whale || !q->true_id || strcmp(q->true_id, FW_NEW_WHALE_ID) != 0;
}

int fw_match_worst_order(const fw_evaluation *ev, int hide_new_whale, int *order)
{
    /* a counting sort by rank keeps evaluation order within a rank */
    int n = 0;
    for (int r = FW_EVAL_TOPK + 1; r >= 1; r--)
        for (int i = 0; i < ev->n_queries; i++)
            if (fw_match_query_visible(&ev->queries[i], hide_new_whale) &&
                fw_match_true_rank(&ev->queries[i]) == r)
                order[n++] = i;
    return n;
}

int fw_match_worst(const fw_evaluation *ev, int hide_new_whale)
{
    int best = -1, best_rank = 0;
    for (int i = 0; i < ev->n_queries; i++) {
        if (!fw_match_query_visible(&ev->queries[i], hide_new_whale))
            continue;
        int r = fw_match_true_rank(&ev->queries[i]);
        if (r > best_rank) {
            best_rank = r;
            best = i;
        }
    }
    return best;
}

/* ------------------------------------------------------------ tiles */

long fw_match_gallery_row(const fw_dataset *ds, const char *id, const char *exclude)
{
    int w = fw_dataset_whale_index(ds, id);
    if (w < 0) /* new_whale, or an id train.csv does not have */
        return -1;
    for (long i = 0; i < ds->n_train; i++)
        if (ds->train[i].whale == w && (!exclude || strcmp(ds->train[i].image, exclude) != 0))
            return i;
    return -1;
}

long fw_match_whale_rows(const fw_dataset *ds, const char *id, long *rows, long cap)
{
    int w = fw_dataset_whale_index(ds, id);
    if (w < 0)
        return 0;
    long n = 0;
    for (long i = 0; i < ds->n_train; i++)
        if (ds->train[i].whale == w) {
            if (n < cap)
                rows[n] = i;
            n++;
        }
    return n;
}

void fw_match_tile_image(fw_match_tile *t, const fw_dataset *ds, const char *name,
                         const char *data_error)
{
    fw_sanitize(name, t->image, sizeof t->image);
    t->path[0] = '\0';
    t->reason[0] = '\0';
    if (data_error) {
        snprintf(t->reason, sizeof t->reason, "%s", data_error);
        return;
    }
    fw_error err;
    fw_error_clear(&err);
    if (fw_dataset_path(ds, "train", name, t->path, sizeof t->path, &err) < 0) {
        t->path[0] = '\0';
        fw_sanitize(err.msg, t->reason, sizeof t->reason);
    }
}

void fw_match_build_tiles(const fw_eval_query *q, const fw_dataset *ds, const char *data_error,
                          fw_match_tile tiles[FW_MATCH_TILES])
{
    memset(tiles, 0, sizeof(fw_match_tile) * FW_MATCH_TILES);
    snprintf(tiles[0].label, sizeof tiles[0].label, "query");
    fw_match_tile_image(&tiles[0], ds, q->image, data_error);
    for (int k = 0; k < FW_EVAL_TOPK; k++) {
        fw_match_tile *t = &tiles[1 + k];
        const char *id = q->match_id[k] ? q->match_id[k] : "";
        fw_sanitize(id, t->label, sizeof t->label);
        t->rank = k + 1;
        t->similarity = q->similarity[k];
        t->correct = q->true_id && !strcmp(id, q->true_id);
        if (!strcmp(id, FW_NEW_WHALE_ID)) {
            snprintf(t->reason, sizeof t->reason, "new_whale has no image");
        } else if (data_error) {
            snprintf(t->reason, sizeof t->reason, "%s", data_error);
        } else {
            long row = fw_match_gallery_row(ds, id, q->image);
            if (row < 0)
                snprintf(t->reason, sizeof t->reason, "%s",
                         fw_dataset_whale_index(ds, id) < -1
                             ? "id not in train.csv"
                             : "no other train.csv image of this whale");
            else
                fw_match_tile_image(t, ds, ds->train[row].image, NULL);
        }
    }
}

int fw_match_draw_tile(fw_match_tile *t, fw_image *canvas, int x, int y, int tile_w,
                       int tile_h)
{
    if (!t->reason[0] && t->path[0]) {
        fw_image img = {0};
        fw_error err;
        fw_error_clear(&err);
        int ok = fw_jpeg_decode_file(t->path, 3, tile_w, tile_h, NULL, &img, &err) == FW_OK &&
                 fw_thumb_fit(&img, canvas, x, y, tile_w, tile_h, &err) == FW_OK;
        fw_image_free(&img);
        if (ok)
            return 1;
        /* the message starts with the path; keep what follows it */
        const char *msg = err.msg;
        size_t plen = strlen(t->path);
        if (!strncmp(msg, t->path, plen) && !strncmp(msg + plen, ": ", 2))
            msg += plen + 2;
        fw_sanitize(msg[0] ? msg : fw_error_name(err.code), t->reason, sizeof t->reason);
    }
    fw_thumb_empty(canvas, x, y, tile_w, tile_h);
    return 0;
}

/* ------------------------------------------------------------ dataset */

int fw_match_load_dataset(const char *run_config, const char *run_id, fw_dataset *ds,
                          char *data_error, size_t cap)
{
    memset(ds, 0, sizeof *ds);
    fw_error err;
    fw_error_clear(&err);
    fw_run_config cfg;
    fw_run_config_default(&cfg);
    char origin[64];
    snprintf(origin, sizeof origin, "run %s config", run_id);
    if (fw_run_config_parse(&cfg, run_config ? run_config : "", origin, &err) < 0) {
        fw_sanitize(err.msg, data_error, cap);
        return -1;
    }
    if (!cfg.dataset[0]) {
        snprintf(data_error, cap, "the run's config names no dataset");
        return -1;
    }
    if (fw_dataset_load(ds, cfg.dataset, NULL, &err) < 0) {
        fw_sanitize(err.msg, data_error, cap);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ layout */

/* Tile cells and pixels for tiles `cols` cells wide, rows capped by max_rows. */
static void size_tile(int cols, int cell_w, int cell_h, int band, int max_rows,
                      fw_match_layout *l)
{
    int rows = cols * cell_w / 2 / cell_h; /* a 2:1 image */
    if (rows > max_rows)
        rows = max_rows;
    if (rows < 1)
        rows = 1;
    l->tile_cols = cols;
    l->tile_rows = rows;
    l->tile_w = cols * cell_w;
    l->tile_h = rows * cell_h / band * band;
    if (l->tile_h < band) /* a cell shorter than a band: one band still fits below */
        l->tile_h = band;
}

int fw_match_layout_grid(int n_tiles, int h, int w, int cell_w, int cell_h, int band,
                         int label_rows, int max_cols, fw_match_layout *out)
{
    const int gap = 2, min_cols = 4;
    memset(out, 0, sizeof *out);
    if (n_tiles < 1 || cell_w < 1 || cell_h < 1 || band < 1 || max_cols < min_cols)
        return -1;
    fw_match_layout best = {0};
    for (int per_row = n_tiles; per_row >= 1; per_row--) {
        int grid_rows = (n_tiles + per_row - 1) / per_row;
        if (per_row > 1 && (n_tiles + per_row - 2) / (per_row - 1) == grid_rows)
            continue; /* one fewer per row takes as many rows and has wider tiles */
        int cols = (w - (per_row - 1) * gap) / per_row;
        if (cols > max_cols)
            cols = max_cols;
        /* rows of cells left for each tile's image */
        int rows = (h - grid_rows * label_rows - (grid_rows - 1)) / grid_rows;
        if (rows < 1)
            continue;
        int by_rows = 2 * rows * cell_h / cell_w; /* the widest 2:1 image in `rows` rows */
        if (cols > by_rows)
            cols = by_rows;
        if (cols < min_cols)
            continue;
        fw_match_layout l = {0};
        size_tile(cols, cell_w, cell_h, band, rows, &l);
        l.per_row = per_row;
        l.grid_rows = grid_rows;
        l.gap_cols = gap;
        l.label_rows = label_rows;
        l.step_rows = l.tile_rows + label_rows + 1;
        /* fewer per row only when that makes tiles more than 4/3 as wide */
        if (!best.per_row || best.tile_cols * 4 < l.tile_cols * 3)
            best = l;
    }
    if (!best.per_row)
        return -1;
    *out = best;
    return 0;
}

int fw_match_screen_layout(int sixel, int n_tiles, int label_rows, int area_h, int area_w,
                           int cell_w, int cell_h, fw_match_layout *out)
{
    int grid_h = area_h - FW_MATCH_HEADER_ROWS - FW_MATCH_FOOTER_ROWS;
    if (!sixel)
        return fw_match_layout_grid(n_tiles, grid_h, area_w, 1, 2, 2, label_rows,
                                    FW_MATCH_BLOCKS_MAX_COLS, out);
    int max_cols = cell_w > 0 ? FW_MATCH_SIXEL_MAX_PX / cell_w : 0;
    return fw_match_layout_grid(n_tiles, grid_h, area_w, cell_w, cell_h, 6, label_rows,
                                max_cols < 8 ? 8 : max_cols, out);
}

/* ------------------------------------------------------------ browsing */

void fw_match_browser_init(fw_match_browser *b)
{
    memset(b, 0, sizeof *b);
    b->query = -1;
    b->worst_pos = -1;
}

void fw_match_browser_free(fw_match_browser *b)
{
    if (b->have_eval)
        fw_evaluation_free(&b->ev);
    int hide = b->hide_new_whale;
    fw_match_browser_init(b);
    b->hide_new_whale = hide;
}

/* The first shown query at or after index `from` (direction dir), or -1. */
static int find_visible(const fw_match_browser *b, int from, int dir)
{
    for (int i = from; i >= 0 && i < b->ev.n_queries; i += dir)
        if (fw_match_query_visible(&b->ev.queries[i], b->hide_new_whale))
            return i;
    return -1;
}

void fw_match_browser_set_eval(fw_match_browser *b, fw_evaluation *ev)
{
    char keep[FW_MATCH_TEXT_CAP] = "";
    if (b->have_eval && b->query >= 0 && b->ev.queries[b->query].image)
        snprintf(keep, sizeof keep, "%s", b->ev.queries[b->query].image);
    if (b->have_eval)
        fw_evaluation_free(&b->ev);
    b->ev = *ev;
    memset(ev, 0, sizeof *ev);
    b->have_eval = 1;
    b->worst_pos = -1;
    b->query = -1;
    if (keep[0])
        for (int i = 0; i < b->ev.n_queries; i++)
            if (b->ev.queries[i].image && !strcmp(b->ev.queries[i].image, keep) &&
                fw_match_query_visible(&b->ev.queries[i], b->hide_new_whale)) {
                b->query = i;
                break;
            }
    if (b->query < 0)
        b->query = find_visible(b, 0, 1);
}

int fw_match_browser_step(fw_match_browser *b, int delta)
{
    if (b->query < 0)
        return 0;
    int at = b->query;
    int dir = delta < 0 ? -1 : 1;
    for (int n = delta < 0 ? -delta : delta; n > 0; n--) {
        int next = find_visible(b, at + dir, dir);
        if (next < 0)
            break;
        at = next;
    }
    if (at == b->query)
        return 0;
    b->query = at;
    b->worst_pos = -1;
    return 1;
}

int fw_match_browser_worst(fw_match_browser *b)
{
    if (!b->have_eval || b->ev.n_queries < 1)
        return 0;
    int *order = malloc(sizeof(int) * (size_t)b->ev.n_queries);
    if (!order)
        return 0;
    int n = fw_match_worst_order(&b->ev, b->hide_new_whale, order);
    int changed = 0;
    if (n > 0) {
        int pos = 0;
        if (b->worst_pos >= 0 && b->worst_pos < n && order[b->worst_pos] == b->query)
            pos = (b->worst_pos + 1) % n;
        changed = order[pos] != b->query;
        b->query = order[pos];
        b->worst_pos = pos;
    }
    free(order);
    return changed;
}

void fw_match_browser_toggle_new_whale(fw_match_browser *b)
{
    b->hide_new_whale = !b->hide_new_whale;
    b->worst_pos = -1;
    if (!b->have_eval)
        return;
    if (b->query >= 0 &&
        fw_match_query_visible(&b->ev.queries[b->query], b->hide_new_whale))
        return;
    int from = b->query < 0 ? 0 : b->query;
    int next = find_visible(b, from, 1);
    if (next < 0)
        next = find_visible(b, from, -1);
    b->query = next;
}

int fw_match_browser_count(const fw_match_browser *b, int *position)
{
    int n = 0, pos = -1;
    for (int i = 0; b->have_eval && i < b->ev.n_queries; i++)
        if (fw_match_query_visible(&b->ev.queries[i], b->hide_new_whale)) {
            if (i == b->query)
                pos = n;
            n++;
        }
    if (position)
        *position = pos;
    return n;
}
