/* match_view.h — the model behind the workbench's Matches screen and the
 * `flukewatch matches` command, without ncurses: which query is shown (the
 * worst-first order, the new_whale filter), the tiles of a query (the query
 * image and one gallery image per predicted whale, with id, similarity,
 * right/wrong and why a tile has no image), the gallery of one whale, the
 * composition of tiles into RGB canvases (fw_thumb_fit / fw_thumb_empty),
 * and the grid layout of the screen.
 *
 * The gallery image of a predicted whale is its first train.csv image in
 * file order other than the query itself; new_whale and ids train.csv does
 * not know have none. Every text field of a tile is sanitised.
 */
#ifndef FW_MATCH_VIEW_H
#define FW_MATCH_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "image.h"
#include "store.h"

#define FW_MATCH_TEXT_CAP 512
#define FW_MATCH_TILES (1 + FW_EVAL_TOPK) /* the query, then ranks 1..5 */

/* One tile: the query (rank 0), a predicted whale (rank 1..5), or one image
 * of a whale's gallery (rank 0, label = the whale id). */
typedef struct fw_match_tile {
    char label[FW_MATCH_TEXT_CAP];  /* sanitised: "query" or the whale id */
    char image[FW_MATCH_TEXT_CAP];  /* sanitised image name, "" when none */
    char path[4096];                /* file to draw, "" when none */
    char reason[FW_MATCH_TEXT_CAP]; /* why nothing is drawn ("" = draw path) */
    double similarity;
    int rank;                       /* 0 for the query, 1..5 */
    int correct;                    /* the predicted id is the query's true id */
} fw_match_tile;

/* ------------------------------------------------------------ queries */

/* Rank (1..5) of the true id among a query's predictions, 6 when absent. */
int fw_match_true_rank(const fw_eval_query *q);

/* "true id at rank R" or "true id not in the top 5", into buf; returns the rank. */
int fw_match_rank_text(const fw_eval_query *q, char *buf, size_t cap);

/* 1 when a query is shown under the new_whale filter: its true id is not
 * new_whale (always 1 when hide_new_whale is 0). */
int fw_match_query_visible(const fw_eval_query *q, int hide_new_whale);

/* The shown queries (indices into ev->queries), worst first: the true id's
 * rank descending (missing = 6 first), then evaluation order. order holds
 * ev->n_queries entries; returns how many were written. */
int fw_match_worst_order(const fw_evaluation *ev, int hide_new_whale, int *order);

/* The worst shown query (the first of fw_match_worst_order), -1 when none. */
int fw_match_worst(const fw_evaluation *ev, int hide_new_whale);

/* ------------------------------------------------------------ tiles */

/* Index of the first train.csv row of whale `id` other than image `exclude`
 * (may be NULL), or -1 (new_whale, unknown id, no other image). */
long fw_match_gallery_row(const fw_dataset *ds, const char *id, const char *exclude);

/* All train.csv rows of whale `id`, in file order: returns how many there
 * are (0 for new_whale or an unknown id) and writes the first `cap` of them
 * to rows (may be NULL when cap is 0). */
long fw_match_whale_rows(const fw_dataset *ds, const char *id, long *rows, long cap);

/* Point a tile at image `name` of the dataset's train/ directory, or, when
 * data_error is set (the dataset could not be loaded), at nothing with that
 * reason. Sets image, path and reason only. */
void fw_match_tile_image(fw_match_tile *t, const fw_dataset *ds, const char *name,
                         const char *data_error);

/* The FW_MATCH_TILES tiles of query q: tiles[0] the query, tiles[1..5] the
 * predicted whales with their gallery images. ds may be empty when
 * data_error says why. */
void fw_match_build_tiles(const fw_eval_query *q, const fw_dataset *ds, const char *data_error,
                          fw_match_tile tiles[FW_MATCH_TILES]);

/* Decode a tile's image and fit it into the tile_w x tile_h box at (x, y)
 * of an RGB canvas (fw_thumb_fit); a tile without an image, or one that
 * cannot be read, gets fw_thumb_empty, and the reason (sanitised, without
 * the path) is written into t->reason. Returns 1 when the image was drawn. */
int fw_match_draw_tile(fw_match_tile *t, fw_image *canvas, int x, int y, int tile_w,
                       int tile_h);

/* ------------------------------------------------------------ dataset */

/* Load the dataset named by a run's config text ("dataset = DIR"). On
 * failure returns -1 with ds empty and a sanitised reason in data_error;
 * run_id only names the config in messages. */
int fw_match_load_dataset(const char *run_config, const char *run_id, fw_dataset *ds,
                          char *data_error, size_t cap);

/* ------------------------------------------------------------ layout */

typedef struct fw_match_layout {
    int tile_cols, tile_rows; /* one tile's cells */
    int tile_w, tile_h;       /* one tile's image in pixels */
    int per_row;              /* tiles side by side */
    int grid_rows;            /* rows of tiles */
    int gap_cols;             /* blank columns between tiles */
    int label_rows;           /* text lines under each tile */
    int step_rows;            /* rows from one row of tiles to the next */
} fw_match_layout;

/* Lay out n_tiles tiles of about 2:1 (width:height in pixels) in an area of
 * h x w cells whose cells are cell_w x cell_h pixels (half-blocks: 1 x 2),
 * each with label_rows lines of text under it: the largest tiles (at most
 * max_cols cells wide), preferring more tiles per row when that keeps at
 * least 3/4 of the width. Pixel heights are cut to a multiple of `band`
 * (6 for sixel, whose bands are 6 pixels high; 2 for half-blocks) so that an
 * image never reaches below its tile's cells. Returns -1 when the tiles do
 * not all fit at 4 cells wide (the caller shows text instead). */
int fw_match_layout_grid(int n_tiles, int h, int w, int cell_w, int cell_h, int band,
                         int label_rows, int max_cols, fw_match_layout *out);

/* The Matches screen's grid for an area of area_h x area_w cells: the
 * rows under FW_MATCH_HEADER_ROWS lines of text and above one line of
 * detail. Sixel tiles (sixel = 1) are at most FW_MATCH_SIXEL_MAX_PX pixels
 * wide (at least 8 cells) with heights in bands of 6 pixels; half-block
 * tiles (cells of 1 x 2 pixels) at most FW_MATCH_BLOCKS_MAX_COLS cells. The
 * grid's first row is FW_MATCH_HEADER_ROWS below the area's top. */
#define FW_MATCH_HEADER_ROWS 3
#define FW_MATCH_FOOTER_ROWS 1
#define FW_MATCH_SIXEL_MAX_PX 320
#define FW_MATCH_BLOCKS_MAX_COLS 36
int fw_match_screen_layout(int sixel, int n_tiles, int label_rows, int area_h, int area_w,
                           int cell_w, int cell_h, fw_match_layout *out);

/* ------------------------------------------------------------ browsing */

/* Which query is shown: the loaded evaluation, the filter and the position.
 * Owns ev (fw_match_browser_set_eval takes it over). */
typedef struct fw_match_browser {
    fw_evaluation ev;     /* n_queries == 0 when none is loaded */
    int have_eval;
    int hide_new_whale;
    int query;            /* index into ev.queries, -1 when no query is shown */
    int worst_pos;        /* position in the worst order that w showed last, -1 */
} fw_match_browser;

void fw_match_browser_init(fw_match_browser *b);
void fw_match_browser_free(fw_match_browser *b);

/* Take over an evaluation (the old one is freed): the query with the same
 * image as the one shown stays selected, else the first shown query. */
void fw_match_browser_set_eval(fw_match_browser *b, fw_evaluation *ev);

/* Step `delta` shown queries forward (negative: back), stopping at the
 * ends. Returns 1 when the query changed. */
int fw_match_browser_step(fw_match_browser *b, int delta);

/* Jump to the worst shown query; pressed again while still there, to the
 * next one in the worst-first order (wrapping). Returns 1 when it changed. */
int fw_match_browser_worst(fw_match_browser *b);

/* Toggle the new_whale filter; when the shown query becomes hidden, the
 * next shown one after it (else the one before) is selected. */
void fw_match_browser_toggle_new_whale(fw_match_browser *b);

/* Shown queries and the 0-based position of the selected one among them
 * (-1 when none). */
int fw_match_browser_count(const fw_match_browser *b, int *position);

#endif
