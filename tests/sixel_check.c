/* sixel_check.c — check the sixel images that the workbench's Matches screen
 * wrote (a pty_capture file) against the thumbnails match_view composes.
 *
 * usage: sixel_check CAPTURE FROM TO WORKSPACE RUN QUERY LINES COLS CELL_W CELL_H [OTHER]
 *
 * In bytes [FROM, TO) of CAPTURE it finds every sixel DCS sequence (ESC P ...
 * ESC \) and the cursor move written just before it (ESC [ ROW ; COL H), and
 * requires: exactly six images (the query and its five matches); each one
 * decoded with libsixel is the size fw_match_screen_layout gives for a
 * LINES x COLS terminal with CELL_W x CELL_H pixel cells, at the cell the
 * layout puts it, ending above row LINES-2 (the message and hint rows); and
 * its pixels equal, within the palette's quantisation (mean absolute error
 * < 8/255), the tile fw_match_draw_tile composes from query QUERY (0-based)
 * of RUN's newest evaluation. With OTHER, the query image must NOT match
 * query OTHER's (so that the comparison tells queries apart).
 * Prints "# " diagnostics; exits 0 when everything holds, 1 otherwise.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "match_view.h"
#include "store.h"

#undef PACKAGE_VERSION
#include <sixel.h>

#define MAX_IMAGES 64
#define TOLERANCE (8.0 / 255.0)

typedef struct dcs {
    const char *start; /* ESC P */
    size_t len;        /* through ESC \ */
    int row, col;      /* 1-based cursor position before it, 0 when none */
} dcs;

static int failures;

#define EXPECT(cond, ...)                                                                  \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            printf("# FAIL: ");                                                            \
            printf(__VA_ARGS__);                                                           \
            printf("\n");                                                                  \
            failures++;                                                                    \
        }                                                                                  \
    } while (0)

/* The ESC [ R ; C H that ends right before p, if any. */
static void cursor_before(const char *begin, const char *p, int *row, int *col)
{
    *row = *col = 0;
    if (p - begin < 6 || p[-1] != 'H')
        return;
    const char *q = p - 2;
    while (q > begin && ((*q >= '0' && *q <= '9') || *q == ';'))
        q--;
    if (q - begin < 1 || q[0] != '[' || q[-1] != '\033')
        return;
    if (sscanf(q + 1, "%d;%dH", row, col) != 2)
        *row = *col = 0;
}

static int find_dcs(const char *data, size_t len, dcs *out, int cap)
{
    int n = 0;
    for (size_t i = 0; i + 1 < len && n < cap; i++) {
        if (data[i] != '\033' || data[i + 1] != 'P')
            continue;
        const char *end = NULL;
        for (size_t j = i + 2; j + 1 < len; j++)
            if (data[j] == '\033' && data[j + 1] == '\\') {
                end = data + j + 2;
                break;
            }
        if (!end)
            break;
        out[n].start = data + i;
        out[n].len = (size_t)(end - (data + i));
        cursor_before(data, data + i, &out[n].row, &out[n].col);
        n++;
        i = (size_t)(end - data) - 1;
    }
    return n;
}

static int decode(const dcs *d, fw_image *rgb)
{
    unsigned char *indexed = NULL, *palette = NULL;
    int w = 0, h = 0, ncolors = 0;
    SIXELSTATUS st = sixel_decode_raw((unsigned char *)d->start, (int)d->len, &indexed, &w, &h,
                                      &palette, &ncolors, NULL);
    if (SIXEL_FAILED(st)) {
        printf("# sixel_decode_raw: %s\n", sixel_helper_format_error(st));
        return -1;
    }
    int rc = fw_image_alloc(rgb, w, h, 3, NULL);
    for (int i = 0; rc == 0 && i < w * h; i++) {
        if (indexed[i] >= ncolors) {
            rc = -1;
            break;
        }
        memcpy(rgb->pixels + (size_t)i * 3, palette + indexed[i] * 3, 3);
    }
    free(indexed);
    free(palette);
    return rc;
}

static double mean_abs_error(const fw_image *a, const fw_image *b)
{
    double sum = 0;
    size_t n = (size_t)a->width * a->height * 3;
    for (size_t i = 0; i < n; i++)
        sum += abs((int)a->pixels[i] - (int)b->pixels[i]);
    return sum / (double)n / 255.0;
}

/* The tile that match_view composes for tile k of query qi. */
static int expected_tile(const fw_evaluation *ev, int qi, const fw_dataset *ds,
                         const char *data_error, int k, int w, int h, fw_image *out)
{
    fw_match_tile tiles[FW_MATCH_TILES];
    fw_match_build_tiles(&ev->queries[qi], ds, data_error, tiles);
    if (fw_image_alloc(out, w, h, 3, NULL) < 0)
        return -1;
    fw_match_draw_tile(&tiles[k], out, 0, 0, w, h);
    printf("# tile %d of query %d: %s %s%s%s\n", k, qi, tiles[k].label,
           tiles[k].image[0] ? tiles[k].image : "(no image)", tiles[k].reason[0] ? ": " : "",
           tiles[k].reason);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 11 && argc != 12) {
        fprintf(stderr, "usage: sixel_check CAPTURE FROM TO WORKSPACE RUN QUERY LINES COLS "
                        "CELL_W CELL_H [OTHER]\n");
        return 2;
    }
    size_t from = strtoul(argv[2], NULL, 10), to = strtoul(argv[3], NULL, 10);
    int qi = atoi(argv[6]), lines = atoi(argv[7]), cols = atoi(argv[8]);
    int cell_w = atoi(argv[9]), cell_h = atoi(argv[10]);
    int other = argc == 12 ? atoi(argv[11]) : -1;
    fw_error err;
    fw_error_clear(&err);
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (fw_read_file(argv[1], (size_t)256 << 20, &bytes, &len, &err) < 0) {
        printf("# %s\n", err.msg);
        return 1;
    }
    if (to > len || from > to) {
        printf("# range %zu..%zu outside the capture (%zu bytes)\n", from, to, len);
        return 1;
    }
    static dcs found[MAX_IMAGES];
    int n = find_dcs((const char *)bytes + from, to - from, found, MAX_IMAGES);
    printf("# %d sixel images in bytes %zu..%zu\n", n, from, to);
    EXPECT(n == FW_MATCH_TILES, "%d sixel images, expected %d", n, FW_MATCH_TILES);

    fw_store *store = NULL;
    fw_evaluation ev;
    memset(&ev, 0, sizeof ev);
    fw_run_info info;
    memset(&info, 0, sizeof info);
    if (fw_store_open(argv[4], &store, &err) < 0 ||
        fw_store_run_get(store, argv[5], &info, &err) < 0 ||
        fw_store_eval_get(store, 0, argv[5], NULL, &ev, &err) < 0) {
        printf("# %s\n", err.msg);
        return 1;
    }
    EXPECT(qi >= 0 && qi < ev.n_queries && other < ev.n_queries, "query %d of %d", qi,
           ev.n_queries);
    fw_dataset ds;
    char data_error[FW_MATCH_TEXT_CAP] = "";
    fw_match_load_dataset(info.config, info.id, &ds, data_error, sizeof data_error);
    EXPECT(!data_error[0], "dataset: %s", data_error);

    /* the area is rows 1 .. lines-3: the tab bar above, message and hints below */
    fw_match_layout lay;
    int laid = fw_match_screen_layout(1, FW_MATCH_TILES, 2, lines - 3, cols, cell_w, cell_h, &lay);
    EXPECT(laid == 0, "no layout for %dx%d", lines, cols);
    int grid_w = lay.per_row * lay.tile_cols + (lay.per_row - 1) * lay.gap_cols;
    int left = (cols - grid_w) / 2;
    printf("# layout: %d per row, tiles %dx%d cells, %dx%d px\n", lay.per_row, lay.tile_cols,
           lay.tile_rows, lay.tile_w, lay.tile_h);

    for (int i = 0; failures == 0 && laid == 0 && i < n && qi < ev.n_queries; i++) {
        fw_image got = {0}, want = {0}, wrong = {0};
        EXPECT(decode(&found[i], &got) == 0, "image %d does not decode", i);
        if (!got.pixels)
            break;
        int row = 1 + 1 + FW_MATCH_HEADER_ROWS + (i / lay.per_row) * lay.step_rows; /* 1-based */
        int col = 1 + left + (i % lay.per_row) * (lay.tile_cols + lay.gap_cols);
        int last_row = found[i].row + (got.height + cell_h - 1) / cell_h - 1; /* 1-based */
        printf("# image %d: %dx%d px at row %d col %d (rows to %d of %d), %zu bytes\n", i,
               got.width, got.height, found[i].row, found[i].col, last_row, lines, found[i].len);
        EXPECT(got.width == lay.tile_w && got.height == lay.tile_h,
               "image %d is %dx%d, the layout says %dx%d", i, got.width, got.height, lay.tile_w,
               lay.tile_h);
        EXPECT(found[i].row == row && found[i].col == col, "image %d at %d;%d, expected %d;%d", i,
               found[i].row, found[i].col, row, col);
        EXPECT(last_row <= lines - 2, "image %d reaches row %d (1-based) of %d", i, last_row,
               lines);
        EXPECT(found[i].len < (1u << 20), "image %d is %zu bytes", i, found[i].len);
        if (got.width == lay.tile_w && got.height == lay.tile_h &&
            expected_tile(&ev, qi, &ds, data_error[0] ? data_error : NULL, i, got.width,
                          got.height, &want) == 0) {
            double mae = mean_abs_error(&got, &want);
            printf("# image %d: mean abs error %.4f (x255 = %.2f)\n", i, mae, mae * 255);
            EXPECT(mae < TOLERANCE, "image %d differs from its tile: %.4f", i, mae);
            if (i == 0 && other >= 0 &&
                expected_tile(&ev, other, &ds, NULL, 0, got.width, got.height, &wrong) == 0) {
                double off = mean_abs_error(&got, &wrong);
                printf("# image 0 against query %d's image: mean abs error %.4f\n", other, off);
                EXPECT(off > 2 * TOLERANCE, "query %d's image matches too: %.4f", other, off);
            }
        }
        fw_image_free(&got);
        fw_image_free(&want);
        fw_image_free(&wrong);
    }
    fw_dataset_free(&ds);
    fw_evaluation_free(&ev);
    fw_run_info_free(&info);
    fw_store_close(store);
    free(bytes);
    return failures ? 1 : 0;
}
