/* test_match_view.c — the Matches model (tui/match_view.h) against brute
 * force on a small dataset written here (train.csv + JPEGs): gallery lookup,
 * a query's tiles (labels, reasons, right/wrong, sanitised ids), the
 * worst-first order and the new_whale filter on random evaluations, the
 * query browser, canvas composition against fw_jpeg_decode_file +
 * fw_thumb_fit on the same files, the grid layout's bounds, and the
 * dataset named by a run's config. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "decode.h"
#include "match_view.h"
#include "rng.h"
#include "tap.h"
#include "thumbs.h"

#define EVIL_ID "w_\033[31mred\033]0;t\007"

/* The dataset: whale, image rows in file order. */
static const char *const rows[][2] = {
    {"a1.jpg", "w_a"},       {"n1.jpg", "new_whale"}, {"a2.jpg", "w_a"},
    {"b1.jpg", "w_b"},       {"c1.jpg", "w_c"},       {"a3.jpg", "w_a"},
    {"n2.jpg", "new_whale"}, {"c2.jpg", "w_c"},       {"e1.jpg", EVIL_ID},
};
#define N_ROWS ((int)(sizeof rows / sizeof rows[0]))

static char root[256];
static fw_dataset ds;
static int have_ds;

static void photo(fw_image *img, int seed)
{
    CHECK(fw_image_alloc(img, 160 + 8 * seed, 72 + 4 * seed, 3, NULL) == FW_OK);
    for (int y = 0; y < img->height; y++)
        for (int x = 0; x < img->width; x++) {
            uint8_t *p = img->pixels + ((size_t)y * img->width + x) * 3;
            p[0] = (uint8_t)(x * 255 / img->width);
            p[1] = (uint8_t)((y * 3 + seed * 40) & 255);
            p[2] = (uint8_t)(((x / 16 + y / 16 + seed) & 1) ? 200 : 40);
        }
}

static int write_bytes(const char *path, const void *bytes, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int ok = fwrite(bytes, 1, n, f) == n;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static void make_dataset(void)
{
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(root, sizeof root, "%s/fw_match_view.XXXXXX", tmp);
    if (!mkdtemp(root))
        return;
    char path[512];
    snprintf(path, sizeof path, "%s/train", root);
    if (mkdir(path, 0755) != 0)
        return;
    snprintf(path, sizeof path, "%s/train.csv", root);
    FILE *csv = fopen(path, "w");
    if (!csv)
        return;
    fprintf(csv, "Image,Id\n");
    for (int i = 0; i < N_ROWS; i++) {
        fprintf(csv, "%s,\"%s\"\n", rows[i][0], rows[i][1]);
        fw_image img;
        photo(&img, i);
        uint8_t *jpeg = NULL;
        size_t len = 0;
        CHECK(fw_jpeg_encode(&img, 95, &jpeg, &len, NULL) == FW_OK);
        snprintf(path, sizeof path, "%s/train/%s", root, rows[i][0]);
        CHECK(write_bytes(path, jpeg, len) == 0);
        free(jpeg);
        fw_image_free(&img);
    }
    fclose(csv);
    fw_error err;
    fw_error_clear(&err);
    int rc = fw_dataset_load(&ds, root, NULL, &err);
    CHECK_MSG(rc == FW_OK, "%s", err.msg);
    have_ds = rc == FW_OK;
}

/* The brute-force gallery row: the first row of `id` in file order whose
 * image is not `exclude`. */
static long ref_gallery_row(const char *id, const char *exclude)
{
    if (!strcmp(id, "new_whale"))
        return -1;
    for (int i = 0; i < N_ROWS; i++)
        if (!strcmp(rows[i][1], id) && (!exclude || strcmp(rows[i][0], exclude)))
            return i;
    return -1;
}

static void test_gallery_lookup(void)
{
    if (!have_ds)
        SKIP("no dataset");
    const char *ids[] = {"w_a", "w_b", "w_c", "new_whale", "w_unknown", EVIL_ID};
    for (size_t k = 0; k < sizeof ids / sizeof ids[0]; k++) {
        CHECK_INT(fw_match_gallery_row(&ds, ids[k], NULL), ref_gallery_row(ids[k], NULL));
        for (int i = 0; i < N_ROWS; i++)
            CHECK_INT(fw_match_gallery_row(&ds, ids[k], rows[i][0]),
                      ref_gallery_row(ids[k], rows[i][0]));
        long got[N_ROWS];
        long n = fw_match_whale_rows(&ds, ids[k], got, N_ROWS);
        long want = 0;
        for (int i = 0; i < N_ROWS; i++)
            if (!strcmp(rows[i][1], ids[k]) && strcmp(ids[k], "new_whale")) {
                CHECK(want < n && got[want] == i);
                want++;
            }
        CHECK_INT(n, want);
        CHECK_INT(fw_match_whale_rows(&ds, ids[k], NULL, 0), want); /* counting only */
    }
}

static char *s_(const char *s) { return (char *)s; }

static void test_build_tiles(void)
{
    if (!have_ds)
        SKIP("no dataset");
    fw_eval_query q = {
        .image = s_("b1.jpg"),
        .true_id = s_("w_c"),
        .match_id = {s_("w_b"), s_("new_whale"), s_("w_zzz"), s_("w_c"), s_(EVIL_ID)},
        .similarity = {0.9, 0.8, 0.7, 0.6, 0.5},
    };
    fw_match_tile t[FW_MATCH_TILES];
    fw_match_build_tiles(&q, &ds, NULL, t);
    CHECK_STR(t[0].label, "query");
    CHECK_STR(t[0].image, "b1.jpg");
    CHECK(!t[0].reason[0] && strstr(t[0].path, "/train/b1.jpg"));
    /* w_b's only image is the query itself */
    CHECK_STR(t[1].reason, "no other train.csv image of this whale");
    CHECK_STR(t[2].reason, "new_whale has no image");
    CHECK_STR(t[3].reason, "id not in train.csv");
    CHECK_STR(t[4].image, rows[ref_gallery_row("w_c", "b1.jpg")][0]);
    CHECK(t[4].correct && !t[1].correct && !t[2].correct && !t[3].correct && !t[5].correct);
    CHECK_STR(t[5].image, "e1.jpg");
    CHECK(!strchr(t[5].label, '\033') && !strchr(t[5].label, '\007'));
    CHECK(strstr(t[5].label, "w_[31mred") != NULL);
    for (int k = 1; k < FW_MATCH_TILES; k++) {
        CHECK_INT(t[k].rank, k);
        CHECK_NEAR(t[k].similarity, q.similarity[k - 1], 0);
    }
    /* a dataset that could not be loaded: every tile says why */
    fw_dataset empty;
    memset(&empty, 0, sizeof empty);
    fw_match_build_tiles(&q, &empty, "train.csv: gone", t);
    CHECK_STR(t[0].reason, "train.csv: gone");
    CHECK_STR(t[4].reason, "train.csv: gone");
    CHECK_STR(t[2].reason, "new_whale has no image");
}

/* A random evaluation of n queries: true ids w_0..w_3 or new_whale,
 * predictions with the true id at a random rank or missing. */
static void random_eval(fw_evaluation *ev, fw_eval_query *q, int n, fw_rng *r)
{
    static char *ids[] = {"w_0", "w_1", "w_2", "w_3", "new_whale", "w_x", "w_y", "w_z"};
    memset(ev, 0, sizeof *ev);
    ev->n_queries = n;
    ev->queries = q;
    for (int i = 0; i < n; i++) {
        q[i].image = ids[i % 8]; /* only compared by pointer-free strcmp below */
        q[i].true_id = ids[fw_rng_below(r, 5)];
        int at = (int)fw_rng_below(r, 6); /* 5: missing */
        for (int k = 0; k < FW_EVAL_TOPK; k++)
            q[i].match_id[k] = k == at ? q[i].true_id : ids[5 + k % 3];
        if (at == 5 && !strcmp(q[i].true_id, "new_whale"))
            q[i].match_id[0] = ids[0];
    }
}

static int ref_rank(const fw_eval_query *q)
{
    for (int k = 0; k < FW_EVAL_TOPK; k++)
        if (!strcmp(q->match_id[k], q->true_id))
            return k + 1;
    return 6;
}

static void test_worst_order(void)
{
    fw_rng r;
    fw_rng_init(&r, 5, 0);
    for (int trial = 0; trial < 50; trial++) {
        fw_eval_query q[40];
        fw_evaluation ev;
        int n = 1 + (int)fw_rng_below(&r, 40);
        random_eval(&ev, q, n, &r);
        for (int hide = 0; hide < 2; hide++) {
            int order[40];
            int m = fw_match_worst_order(&ev, hide, order);
            int shown = 0;
            for (int i = 0; i < n; i++)
                shown += !hide || strcmp(q[i].true_id, "new_whale") != 0;
            CHECK_INT(m, shown);
            for (int i = 0; i < m; i++) {
                CHECK_INT(fw_match_true_rank(&q[order[i]]), ref_rank(&q[order[i]]));
                CHECK(!hide || strcmp(q[order[i]].true_id, "new_whale"));
                if (i > 0) { /* rank descending, then evaluation order */
                    int a = ref_rank(&q[order[i - 1]]), b = ref_rank(&q[order[i]]);
                    CHECK(a > b || (a == b && order[i - 1] < order[i]));
                }
            }
            /* the worst: the lowest index of the highest rank (what --worst shows) */
            int best = -1, best_rank = 0;
            for (int i = 0; i < n; i++)
                if ((!hide || strcmp(q[i].true_id, "new_whale")) && ref_rank(&q[i]) > best_rank)
                    best_rank = ref_rank(&q[i]), best = i;
            CHECK_INT(fw_match_worst(&ev, hide), best);
            CHECK_INT(m > 0 ? order[0] : -1, best);
        }
    }
}

/* Copy a random evaluation into malloc'ed storage the browser can own. */
static void owned_eval(fw_evaluation *ev, const fw_eval_query *src, int n)
{
    memset(ev, 0, sizeof *ev);
    ev->checkpoint = strdup("");
    ev->n_queries = n;
    ev->queries = calloc((size_t)n, sizeof *ev->queries);
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "q%02d.jpg", i);
        ev->queries[i].image = strdup(name);
        ev->queries[i].true_id = strdup(src[i].true_id);
        for (int k = 0; k < FW_EVAL_TOPK; k++)
            ev->queries[i].match_id[k] = strdup(src[i].match_id[k]);
    }
}

static void test_browser(void)
{
    fw_rng r;
    fw_rng_init(&r, 9, 0);
    fw_eval_query q[30];
    fw_evaluation tmp;
    random_eval(&tmp, q, 30, &r);
    q[0].true_id = "new_whale"; /* the first query is hidden under the filter */
    q[0].match_id[0] = "w_x";
    fw_evaluation ev;
    owned_eval(&ev, q, 30);
    fw_match_browser b;
    fw_match_browser_init(&b);
    fw_match_browser_set_eval(&b, &ev);
    CHECK(ev.queries == NULL); /* taken over */
    CHECK_INT(b.query, 0);
    int pos = -2;
    CHECK_INT(fw_match_browser_count(&b, &pos), 30);
    CHECK_INT(pos, 0);
    CHECK_INT(fw_match_browser_step(&b, -1), 0); /* stops at the ends */
    CHECK_INT(fw_match_browser_step(&b, 100), 1);
    CHECK_INT(b.query, 29);
    CHECK_INT(fw_match_browser_step(&b, 1), 0);

    /* the filter: the shown query moves off a hidden one; steps skip them */
    fw_match_browser_step(&b, -100);
    fw_match_browser_toggle_new_whale(&b);
    CHECK(strcmp(b.ev.queries[b.query].true_id, "new_whale") != 0);
    int visible = 0;
    for (int i = 0; i < 30; i++)
        visible += strcmp(b.ev.queries[i].true_id, "new_whale") != 0;
    CHECK_INT(fw_match_browser_count(&b, &pos), visible);
    CHECK_INT(pos, 0);
    int steps = 0;
    while (fw_match_browser_step(&b, 1)) {
        CHECK(strcmp(b.ev.queries[b.query].true_id, "new_whale") != 0);
        steps++;
    }
    CHECK_INT(steps, visible - 1);

    /* w: the worst-first order, one step per press, wrapping */
    int order[30];
    int m = fw_match_worst_order(&b.ev, 1, order);
    for (int i = 0; i < m + 1; i++) {
        fw_match_browser_worst(&b);
        CHECK_INT(b.query, order[i % m]);
    }
    fw_match_browser_step(&b, 1); /* moving resets it: the next w is the worst again */
    fw_match_browser_step(&b, -1);
    fw_match_browser_worst(&b);
    CHECK_INT(b.query, order[0]);

    /* a newer evaluation keeps the query with the same image */
    fw_match_browser_step(&b, -100);
    fw_match_browser_step(&b, 3);
    char keep[32];
    snprintf(keep, sizeof keep, "%s", b.ev.queries[b.query].image);
    fw_evaluation next;
    owned_eval(&next, q, 30);
    fw_match_browser_set_eval(&b, &next);
    CHECK_STR(b.ev.queries[b.query].image, keep);
    fw_match_browser_free(&b);
    CHECK_INT(b.hide_new_whale, 1); /* the filter outlives the evaluation */
    CHECK_INT(b.query, -1);
}

/* Compose a tile through match_view and directly through decode + fit on a
 * canvas of the same noise: the pixels must be identical. */
static void test_draw_tile_matches_fit(void)
{
    if (!have_ds)
        SKIP("no dataset");
    fw_eval_query q = {
        .image = s_("a1.jpg"),
        .true_id = s_("w_a"),
        .match_id = {s_("w_a"), s_("w_c"), s_("new_whale"), s_("w_b"), s_("w_zzz")},
    };
    fw_match_tile t[FW_MATCH_TILES];
    fw_match_build_tiles(&q, &ds, NULL, t);
    const int tw = 96, th = 48, gap = 5;
    fw_image got, want;
    CHECK(fw_image_alloc(&got, FW_MATCH_TILES * (tw + gap), th + 7, 3, NULL) == FW_OK);
    CHECK(fw_image_alloc(&want, got.width, got.height, 3, NULL) == FW_OK);
    fw_rng r;
    fw_rng_init(&r, 3, 0);
    for (size_t i = 0; i < (size_t)got.width * got.height * 3; i++)
        got.pixels[i] = want.pixels[i] = (uint8_t)fw_rng_below(&r, 256);
    for (int k = 0; k < FW_MATCH_TILES; k++) {
        int drawn = fw_match_draw_tile(&t[k], &got, k * (tw + gap), 3, tw, th);
        if (t[k].path[0] && !t[k].reason[0]) {
            CHECK(drawn == 1);
            fw_image img = {0};
            fw_error err;
            fw_error_clear(&err);
            CHECK_MSG(fw_jpeg_decode_file(t[k].path, 3, tw, th, NULL, &img, &err) == FW_OK, "%s",
                      err.msg);
            CHECK(fw_thumb_fit(&img, &want, k * (tw + gap), 3, tw, th, NULL) == FW_OK);
            fw_image_free(&img);
        } else {
            CHECK(drawn == 0);
            fw_thumb_empty(&want, k * (tw + gap), 3, tw, th);
        }
    }
    CHECK(t[0].path[0] && t[1].path[0] && t[2].path[0]); /* query, w_a, w_c drawn */
    CHECK_INT(memcmp(got.pixels, want.pixels, (size_t)got.width * got.height * 3), 0);

    /* an unreadable file: an empty tile and the reason, without the path */
    char bad[512];
    snprintf(bad, sizeof bad, "%s/train/a3.jpg", root);
    CHECK(write_bytes(bad, "not a jpeg", 10) == 0);
    fw_match_tile one;
    memset(&one, 0, sizeof one);
    fw_match_tile_image(&one, &ds, "a3.jpg", NULL);
    CHECK(fw_match_draw_tile(&one, &got, 0, 0, tw, th) == 0);
    CHECK(one.reason[0] != '\0' && strstr(one.reason, root) == NULL);
    fw_thumb_empty(&want, 0, 0, tw, th);
    CHECK_INT(memcmp(got.pixels, want.pixels, (size_t)got.width * got.height * 3), 0);
    fw_image_free(&got);
    fw_image_free(&want);
}

/* Bounds of the grid layout: it fits, bands are whole, tiles are as large
 * as the width, height and max_cols allow for the chosen tiles per row. */
static void test_layout_bounds(void)
{
    const int sizes[][2] = {{21, 78}, {21, 80}, {37, 120}, {57, 200}, {10, 40}, {30, 60}};
    const int cells[][3] = {{10, 20, 6}, {6, 13, 6}, {9, 18, 6}, {1, 2, 2}};
    int laid = 0;
    for (size_t a = 0; a < sizeof sizes / sizeof sizes[0]; a++)
        for (size_t c = 0; c < sizeof cells / sizeof cells[0]; c++)
            for (int n = 1; n <= 12; n += 5) {
                int h = sizes[a][0], w = sizes[a][1];
                int cw = cells[c][0], ch = cells[c][1], band = cells[c][2];
                int max_cols = cw == 1 ? 36 : 320 / cw;
                fw_match_layout l;
                if (fw_match_layout_grid(n, h, w, cw, ch, band, 2, max_cols, &l) < 0)
                    continue;
                laid++;
                CHECK(l.per_row >= 1 && l.per_row * l.grid_rows >= n);
                CHECK(l.per_row * (l.grid_rows - 1) < n); /* no empty row */
                CHECK(l.per_row * l.tile_cols + (l.per_row - 1) * l.gap_cols <= w);
                CHECK(l.grid_rows * l.step_rows - 1 <= h);
                CHECK(l.tile_cols <= max_cols && l.tile_cols >= 4);
                CHECK_INT(l.tile_w, l.tile_cols * cw);
                CHECK_INT(l.tile_h % band, 0);
                CHECK(l.tile_h <= l.tile_rows * ch);
                CHECK(l.tile_h * 2 <= l.tile_w + band); /* about 2:1, never taller */
                /* one more column would break a bound */
                int c1 = l.tile_cols + 1;
                int rows_left = (h - l.grid_rows * 2 - (l.grid_rows - 1)) / l.grid_rows;
                CHECK(c1 > max_cols || l.per_row * c1 + (l.per_row - 1) * l.gap_cols > w ||
                      c1 * cw > 2 * rows_left * ch); /* its 2:1 image would be too tall */
            }
    CHECK(laid > 50);
    fw_match_layout l;
    CHECK_INT(fw_match_layout_grid(6, 2, 80, 10, 20, 6, 2, 32, &l), -1); /* labels only */
    CHECK_INT(fw_match_layout_grid(6, 3, 80, 10, 20, 6, 2, 32, &l), 0); /* one row of cells */
    CHECK_INT(l.tile_rows, 1);
}

static void test_load_dataset(void)
{
    if (!have_ds)
        SKIP("no dataset");
    char config[600], why[FW_MATCH_TEXT_CAP];
    snprintf(config, sizeof config, "dataset = %s\nepochs = 2\n", root);
    fw_dataset d;
    CHECK_INT(fw_match_load_dataset(config, "r0001", &d, why, sizeof why), 0);
    CHECK_INT(d.n_train, N_ROWS);
    fw_dataset_free(&d);
    CHECK_INT(fw_match_load_dataset("epochs = 2\n", "r0001", &d, why, sizeof why), -1);
    CHECK_STR(why, "the run's config names no dataset");
    CHECK_INT(fw_match_load_dataset("epochs = banana\n", "r0002", &d, why, sizeof why), -1);
    CHECK(strstr(why, "r0002") != NULL);
    CHECK_INT(fw_match_load_dataset("dataset = /nonexistent/x\n", "r3", &d, why, sizeof why), -1);
    CHECK(why[0] != '\0');
}

static void remove_dataset(void)
{
    char path[512];
    for (int i = 0; i < N_ROWS; i++) {
        snprintf(path, sizeof path, "%s/train/%s", root, rows[i][0]);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/train.csv", root);
    unlink(path);
    snprintf(path, sizeof path, "%s/train", root);
    rmdir(path);
    rmdir(root);
}

int main(void)
{
    make_dataset();
    RUN(test_gallery_lookup);
    RUN(test_build_tiles);
    RUN(test_worst_order);
    RUN(test_browser);
    RUN(test_draw_tile_matches_fit);
    RUN(test_layout_bounds);
    RUN(test_load_dataset);
    if (have_ds)
        fw_dataset_free(&ds);
    if (root[0])
        remove_dataset();
    return tap_done();
}
