/* blocks_expect.c — what the workbench's Matches screen should show in
 * half-block mode (256 colours) for one query: the layout of a LINES x COLS
 * terminal and, for each tile, the xterm colour of each cell's upper and
 * lower pixel, from match_view's tiles and fw_cell_color_256.
 *
 * usage: blocks_expect WORKSPACE RUN QUERY LINES COLS
 *
 * Output (text): "tiles N rows R cols C", then per tile "tile I Y X" (0-based
 * cell of its top-left corner) followed by R lines of C "FG/BG" pairs.
 * tests/workbench_blocks.sh compares it with tmux's capture of the screen.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match_view.h"
#include "store.h"
#include "thumbs.h"

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: blocks_expect WORKSPACE RUN QUERY LINES COLS\n");
        return 2;
    }
    int qi = atoi(argv[3]), lines = atoi(argv[4]), cols = atoi(argv[5]);
    fw_error err;
    fw_error_clear(&err);
    fw_store *store = NULL;
    fw_run_info info;
    fw_evaluation ev;
    memset(&info, 0, sizeof info);
    memset(&ev, 0, sizeof ev);
    if (fw_store_open(argv[1], &store, &err) < 0 || fw_store_run_get(store, argv[2], &info, &err) < 0 ||
        fw_store_eval_get(store, 0, argv[2], NULL, &ev, &err) < 0) {
        fprintf(stderr, "blocks_expect: %s\n", err.msg);
        return 1;
    }
    if (qi < 0 || qi >= ev.n_queries) {
        fprintf(stderr, "blocks_expect: no query %d\n", qi);
        return 1;
    }
    fw_dataset ds;
    char why[FW_MATCH_TEXT_CAP] = "";
    if (fw_match_load_dataset(info.config, info.id, &ds, why, sizeof why) < 0) {
        fprintf(stderr, "blocks_expect: %s\n", why);
        return 1;
    }
    fw_match_layout lay;
    if (fw_match_screen_layout(0, FW_MATCH_TILES, 2, lines - 3, cols, 1, 2, &lay) < 0) {
        fprintf(stderr, "blocks_expect: no layout for %dx%d\n", lines, cols);
        return 1;
    }
    fw_match_tile tiles[FW_MATCH_TILES];
    fw_match_build_tiles(&ev.queries[qi], &ds, NULL, tiles);
    int grid_w = lay.per_row * lay.tile_cols + (lay.per_row - 1) * lay.gap_cols;
    int left = (cols - grid_w) / 2;
    printf("tiles %d rows %d cols %d\n", FW_MATCH_TILES, lay.tile_rows, lay.tile_cols);
    for (int i = 0; i < FW_MATCH_TILES; i++) {
        fw_image canvas;
        if (fw_image_alloc(&canvas, lay.tile_w, lay.tile_h, 3, &err) < 0) {
            fprintf(stderr, "blocks_expect: %s\n", err.msg);
            return 1;
        }
        fw_match_draw_tile(&tiles[i], &canvas, 0, 0, lay.tile_w, lay.tile_h);
        int y = 1 + FW_MATCH_HEADER_ROWS + (i / lay.per_row) * lay.step_rows;
        int x = left + (i % lay.per_row) * (lay.tile_cols + lay.gap_cols);
        printf("tile %d %d %d\n", i, y, x);
        for (int r = 0; r < lay.tile_rows; r++) {
            for (int c = 0; c < lay.tile_cols; c++) {
                const uint8_t *up = canvas.pixels + ((size_t)(2 * r) * canvas.width + c) * 3;
                const uint8_t *lo = canvas.pixels + ((size_t)(2 * r + 1) * canvas.width + c) * 3;
                printf("%s%d/%d", c ? " " : "", fw_cell_color_256(up[0], up[1], up[2]),
                       fw_cell_color_256(lo[0], lo[1], lo[2]));
            }
            printf("\n");
        }
        fw_image_free(&canvas);
    }
    fw_dataset_free(&ds);
    fw_evaluation_free(&ev);
    fw_run_info_free(&info);
    fw_store_close(store);
    return 0;
}
