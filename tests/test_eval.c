/* test_eval.c — similarity search, mAP@5, the threshold search and the
 * submission file, against brute force in double and against the numpy
 * reference tests/ref/eval_ref.py (run at test time through $PYTHON_REF). */
#include <config.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/eval.h"
#include "../src/rng.h"
#include "tap.h"

/* (n, d) small integers in [-r, r]: dot products are exact in float, so
 * orderings (and ties, of which there are many) match double exactly. */
static float *int_matrix(fw_rng *g, long n, int d, int r)
{
    float *x = malloc((size_t)n * d * sizeof *x);
    for (long i = 0; i < n * d; i++)
        x[i] = (float)((int)fw_rng_below(g, (uint32_t)(2 * r + 1)) - r);
    return x;
}

static float *normal_matrix(fw_rng *g, long n, int d)
{
    float *x = malloc((size_t)n * d * sizeof *x);
    for (long i = 0; i < n * d; i++)
        x[i] = fw_rng_normal(g);
    return x;
}

static double dot_d(const float *a, const float *b, int d)
{
    double s = 0.0;
    for (int j = 0; j < d; j++)
        s += (double)a[j] * b[j];
    return s;
}

static void test_l2_normalize(void)
{
    fw_rng g;
    fw_rng_init(&g, 1, 0);
    float *x = normal_matrix(&g, 5, 7);
    for (int j = 0; j < 7; j++)
        x[2 * 7 + j] = 0.0f;
    float *y = malloc(5 * 7 * sizeof *y);
    memcpy(y, x, 5 * 7 * sizeof *y);
    fw_l2_normalize(x, 5, 7);
    for (int i = 0; i < 5; i++) {
        double n = sqrt(dot_d(y + i * 7, y + i * 7, 7));
        for (int j = 0; j < 7; j++)
            CHECK_NEAR(x[i * 7 + j], i == 2 ? 0.0 : y[i * 7 + j] / n, 1e-6);
    }
    /* flip merge: normalise(a + b) */
    float *a = normal_matrix(&g, 3, 4), *b = normal_matrix(&g, 3, 4);
    float sum[12];
    for (int i = 0; i < 12; i++)
        sum[i] = a[i] + b[i];
    fw_merge_flip(a, b, 3, 4);
    for (int i = 0; i < 3; i++) {
        double n = sqrt(dot_d(sum + i * 4, sum + i * 4, 4));
        for (int j = 0; j < 4; j++)
            CHECK_NEAR(a[i * 4 + j], sum[i * 4 + j] / n, 1e-6);
    }
    free(x), free(y), free(a), free(b);
}

/* Brute force: full sort of one row by (-sim, index). */
typedef struct ranked {
    double sim;
    long index;
} ranked;

static int cmp_ranked(const void *pa, const void *pb)
{
    const ranked *a = pa, *b = pb;
    if (a->sim != b->sim)
        return a->sim > b->sim ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

static void check_topk_exact(long nq, long ng, int d, int k, const fw_sim_opts *opts,
                             uint64_t seed)
{
    fw_rng g;
    fw_rng_init(&g, seed, 0);
    float *q = int_matrix(&g, nq, d, 2), *gal = int_matrix(&g, ng, d, 2);
    long *idx = malloc((size_t)nq * k * sizeof *idx);
    float *sim = malloc((size_t)nq * k * sizeof *sim);
    fw_error err;
    fw_error_clear(&err);
    CHECK_INT(fw_knn_topk(q, nq, gal, ng, d, k, opts, idx, sim, &err), 0);
    ranked *row = malloc((size_t)(ng > 0 ? ng : 1) * sizeof *row);
    int bad = 0;
    for (long i = 0; i < nq && !bad; i++) {
        for (long j = 0; j < ng; j++)
            row[j] = (ranked){dot_d(q + i * d, gal + j * d, d), j};
        qsort(row, (size_t)ng, sizeof *row, cmp_ranked);
        for (int c = 0; c < k; c++) {
            long want_i = c < ng ? row[c].index : -1;
            double want_s = c < ng ? row[c].sim : -INFINITY;
            if (idx[i * k + c] != want_i || sim[i * k + c] != want_s) {
                CHECK_MSG(0, "query %ld slot %d: got (%ld, %g), want (%ld, %g)", i, c,
                          idx[i * k + c], sim[i * k + c], want_i, want_s);
                bad = 1;
                break;
            }
        }
    }
    free(q), free(gal), free(idx), free(sim), free(row);
}

/* fw_topk_rows on a coarse score matrix (many ties) against a full sort. */
static void check_topk_rows(long n, long m, int k, uint64_t seed)
{
    fw_rng g;
    fw_rng_init(&g, seed, 0);
    float *scores = malloc((size_t)(n * m > 0 ? n * m : 1) * sizeof *scores);
    for (long i = 0; i < n * m; i++)
        scores[i] = (float)fw_rng_below(&g, 7) * 0.25f;
    long *idx = malloc((size_t)n * k * sizeof *idx);
    float *sim = malloc((size_t)n * k * sizeof *sim);
    ranked *row = malloc((size_t)(m > 0 ? m : 1) * sizeof *row);
    fw_error err;
    CHECK_INT(fw_topk_rows(scores, n, m, k, 2, idx, sim, &err), 0);
    int bad = 0;
    for (long i = 0; i < n; i++) {
        for (long j = 0; j < m; j++)
            row[j] = (ranked){scores[i * m + j], j};
        qsort(row, (size_t)m, sizeof *row, cmp_ranked);
        for (int c = 0; c < k; c++)
            bad += idx[i * k + c] != (c < m ? row[c].index : -1) ||
                   sim[i * k + c] != (c < m ? row[c].sim : -INFINITY);
    }
    CHECK_MSG(bad == 0, "%d slots differ from a full sort", bad);
    free(scores), free(idx), free(sim), free(row);
}

static void test_topk_vs_sort(void)
{
    check_topk_rows(50, 200, 5, 16);
    check_topk_rows(10, 3, 5, 17);
    fw_sim_opts small = {.q_block = 7, .g_block = 13, .threads = 2};
    check_topk_exact(37, 301, 6, 7, &small, 11);   /* many blocks, many ties */
    check_topk_exact(20, 5, 3, 8, &small, 12);     /* k > gallery: -1 / -inf slots */
    check_topk_exact(9, 50, 4, 1, NULL, 13);       /* default blocks, k = 1 */
    check_topk_exact(0, 10, 4, 3, NULL, 14);       /* no queries */
    check_topk_exact(5, 0, 4, 3, &small, 15);      /* empty gallery */
}

/* Float embeddings (normalised): the blocked float GEMM agrees with a direct
 * double computation within rounding, and the chosen set is the true top-k
 * up to that rounding. */
static void test_blocked_similarity_vs_double(void)
{
    fw_rng g;
    fw_rng_init(&g, 21, 0);
    long nq = 45, ng = 700;
    int d = 64, k = 10;
    float *q = normal_matrix(&g, nq, d), *gal = normal_matrix(&g, ng, d);
    fw_l2_normalize(q, nq, d);
    fw_l2_normalize(gal, ng, d);
    long *idx = malloc((size_t)nq * k * sizeof *idx);
    float *sim = malloc((size_t)nq * k * sizeof *sim);
    fw_sim_opts opts = {.q_block = 16, .g_block = 128, .threads = 2};
    fw_error err;
    CHECK_INT(fw_knn_topk(q, nq, gal, ng, d, k, &opts, idx, sim, &err), 0);
    ranked *row = malloc((size_t)ng * sizeof *row);
    double worst = 0.0;
    for (long i = 0; i < nq; i++) {
        for (long j = 0; j < ng; j++)
            row[j] = (ranked){dot_d(q + i * d, gal + j * d, d), j};
        qsort(row, (size_t)ng, sizeof *row, cmp_ranked);
        for (int c = 0; c < k; c++) {
            double direct = dot_d(q + i * d, gal + idx[i * k + c] * d, d);
            worst = fmax(worst, fabs(direct - sim[i * k + c]));
            CHECK(c == 0 || sim[i * k + c] <= sim[i * k + c - 1]);
            CHECK(fabs(sim[i * k + c] - row[c].sim) <= 1e-5); /* c-th best value */
        }
    }
    CHECK_MSG(worst <= 1e-5, "max |float block - double| = %g", worst);
    free(q), free(gal), free(idx), free(sim), free(row);
}

static void test_map5_by_hand(void)
{
    const int W = FW_NEW_WHALE, N = FW_NO_PRED;
    int pred[] = {
        3, 1, 2, 4, 5,   /* truth 3: rank 1 -> 1 */
        1, 3, 3, 4, 5,   /* truth 3: rank 2 (duplicate later) -> 1/2 */
        1, 2, 4, 5, 6,   /* truth 3: absent -> 0 */
        1, 2, 4, 5, W,   /* truth new_whale at rank 5 -> 1/5 */
        W, N, N, N, N,   /* truth 7 -> 0 */
    };
    int truth[] = {3, 3, 3, W, 7};
    CHECK_NEAR(fw_map5(pred, truth, 5), (1.0 + 0.5 + 0.2) / 5.0, 1e-12);
    CHECK_NEAR(fw_map5(pred, truth, 0), 0.0, 0.0);

    /* new_whale insertion */
    int whale[] = {4, 8, 2, 9, 1, 5, 6, N, N, N};
    float sim[] = {0.9f, 0.7f, 0.5f, 0.3f, 0.1f, 0.8f, 0.2f, -INFINITY, -INFINITY, -INFINITY};
    int out[10];
    fw_predict_with_new_whale(whale, sim, 2, 0.5f, out);
    int want[] = {4, 8, 2, W, 9, 5, W, 6, N, N};
    for (int i = 0; i < 10; i++)
        CHECK_INT(out[i], want[i]);
    fw_predict_with_new_whale(whale, sim, 2, INFINITY, out);
    CHECK_INT(out[0], W);
    CHECK_INT(out[4], 9);
    fw_predict_with_new_whale(whale, sim, 2, -INFINITY, out);
    int want_low[] = {4, 8, 2, 9, 1, 5, 6, W, N, N};
    for (int i = 0; i < 10; i++)
        CHECK_INT(out[i], want_low[i]);
}

/* The threshold search against brute force over every candidate threshold. */
static void test_threshold_vs_brute_force(void)
{
    fw_rng g;
    fw_rng_init(&g, 31, 0);
    for (int round = 0; round < 20; round++) {
        long n = 1 + fw_rng_below(&g, 60);
        int n_whales = 8;
        int *whale = malloc((size_t)n * 5 * sizeof *whale);
        float *sim = malloc((size_t)n * 5 * sizeof *sim);
        int *truth = malloc((size_t)n * sizeof *truth);
        int *pred = malloc((size_t)n * 5 * sizeof *pred);
        for (long q = 0; q < n; q++) {
            int perm[8];
            for (int i = 0; i < 8; i++)
                perm[i] = i;
            fw_rng_shuffle_int(&g, perm, 8);
            int filled = round % 4 == 3 ? (int)fw_rng_below(&g, 6) : 5;
            float s = 1.0f;
            for (int i = 0; i < 5; i++) {
                /* coarse values: plenty of ties within and across queries */
                s -= (float)fw_rng_below(&g, 3) * 0.125f;
                whale[q * 5 + i] = i < filled ? perm[i] : FW_NO_PRED;
                sim[q * 5 + i] = i < filled ? s : -INFINITY;
            }
            int r = (int)fw_rng_below(&g, (uint32_t)n_whales + 2);
            truth[q] = r >= n_whales ? FW_NEW_WHALE : r;
        }
        float t = 0.0f;
        double m = -1.0;
        fw_error err;
        CHECK_INT(fw_best_threshold(whale, sim, truth, n, &t, &m, &err), 0);
        fw_predict_with_new_whale(whale, sim, n, t, pred);
        CHECK_NEAR(fw_map5(pred, truth, n), m, 1e-12);
        /* brute force: +inf and every finite value */
        double best = -1.0;
        float best_t = 0.0f;
        for (long c = -1; c < n * 5; c++) {
            float cand = c < 0 ? INFINITY : sim[c];
            if (c >= 0 && !isfinite(cand))
                continue;
            fw_predict_with_new_whale(whale, sim, n, cand, pred);
            double v = fw_map5(pred, truth, n);
            if (v > best + 1e-12 || (fabs(v - best) <= 1e-12 && cand > best_t)) {
                best = v;
                best_t = cand;
            }
        }
        CHECK_NEAR(m, best, 1e-12);
        CHECK_MSG(t == best_t, "round %d: threshold %g, brute force %g", round, t, best_t);
        free(whale), free(sim), free(truth), free(pred);
    }
    fw_error err;
    CHECK_INT(fw_best_threshold(NULL, NULL, NULL, 0, NULL, NULL, &err), FW_EINVAL);
}

/* ---- against numpy (tests/ref/eval_ref.py) ---- */

static int write_case(const char *path, int nq, int ng, int d, int nw, const float *q,
                      const float *gal, const int *gw, const int *truth, float thr)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int32_t hdr[4] = {nq, ng, d, nw};
    int ok = fwrite(hdr, sizeof hdr, 1, f) == 1;
    ok &= fwrite(q, sizeof *q, (size_t)nq * d, f) == (size_t)nq * d;
    ok &= fwrite(gal, sizeof *gal, (size_t)ng * d, f) == (size_t)ng * d;
    ok &= fwrite(gw, sizeof *gw, (size_t)ng, f) == (size_t)ng;
    ok &= fwrite(truth, sizeof *truth, (size_t)nq, f) == (size_t)nq;
    ok &= fwrite(&thr, sizeof thr, 1, f) == 1;
    ok &= fclose(f) == 0;
    return ok ? 0 : -1;
}

static void numpy_case(const char *py, const char *srcdir, const char *dir, int nq, int ng,
                       int d, int nw, float thr, uint64_t seed)
{
    fw_rng g;
    fw_rng_init(&g, seed, 0);
    float *q = int_matrix(&g, nq, d, 2), *gal = int_matrix(&g, ng, d, 2);
    int *gw = malloc((size_t)ng * sizeof *gw), *truth = malloc((size_t)nq * sizeof *truth);
    for (int j = 0; j < ng; j++) {
        /* about one image in eight is new_whale; the last whale has no images */
        int r = (int)fw_rng_below(&g, 8);
        gw[j] = r == 0 || nw < 2 ? FW_NEW_WHALE : (int)fw_rng_below(&g, (uint32_t)nw - 1);
    }
    for (int i = 0; i < nq; i++) {
        int r = (int)fw_rng_below(&g, (uint32_t)nw + 1);
        truth[i] = r == nw ? FW_NEW_WHALE : r; /* includes the whale absent from the gallery */
    }
    char in_path[512], cmd[2048];
    snprintf(in_path, sizeof in_path, "%s/case%llu.bin", dir, (unsigned long long)seed);
    CHECK(write_case(in_path, nq, ng, d, nw, q, gal, gw, truth, thr) == 0);
    snprintf(cmd, sizeof cmd, "'%s' '%s/tests/ref/eval_ref.py' '%s'", py, srcdir, in_path);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    if (!p)
        return;

    int *top_w = malloc((size_t)nq * 5 * sizeof *top_w);
    float *top_s = malloc((size_t)nq * 5 * sizeof *top_s);
    int *pred = malloc((size_t)nq * 5 * sizeof *pred);
    fw_sim_opts opts = {.q_block = 5, .g_block = 17, .threads = 2};
    fw_error err;
    fw_error_clear(&err);
    CHECK_INT(fw_knn_whales(q, nq, gal, ng, d, gw, nw, 5, &opts, top_w, top_s, &err), 0);
    fw_predict_with_new_whale(top_w, top_s, nq, thr, pred);
    long long map60 = llround(fw_map5(pred, truth, nq) * 60.0 * nq);
    float best_t = 0.0f;
    double best_m = 0.0;
    CHECK_INT(fw_best_threshold(top_w, top_s, truth, nq, &best_t, &best_m, &err), 0);

    char line[1024];
    int mismatches = 0, lines = 0, got_map = 0, got_best = 0;
    while (fgets(line, sizeof line, p)) {
        char *s = line, *end;
        lines++;
        if (!strncmp(s, "top ", 4)) {
            long i = strtol(s + 4, &end, 10);
            for (int c = 0; c < 5; c++) {
                long w = strtol(end, &end, 10);
                mismatches += i < 0 || i >= nq || top_w[i * 5 + c] != w;
            }
            for (int c = 0; c < 5; c++) {
                double v = strtod(end, &end);
                mismatches += i < 0 || i >= nq || (double)top_s[i * 5 + c] != v;
            }
        } else if (!strncmp(s, "pred ", 5)) {
            long i = strtol(s + 5, &end, 10);
            for (int c = 0; c < 5; c++) {
                long w = strtol(end, &end, 10);
                mismatches += i < 0 || i >= nq || pred[i * 5 + c] != w;
            }
        } else if (!strncmp(s, "map60 ", 6)) {
            got_map = 1;
            CHECK_INT(map60, strtoll(s + 6, NULL, 10));
        } else if (!strncmp(s, "best60 ", 7)) {
            got_best = 1;
            long long want = strtoll(s + 7, &end, 10);
            double want_t = strtod(end, NULL);
            CHECK_INT(llround(best_m * 60.0 * nq), want);
            CHECK_MSG((double)best_t == want_t, "threshold %g, numpy %g", best_t, want_t);
        }
    }
    CHECK_INT(pclose(p), 0);
    CHECK_MSG(mismatches == 0, "seed %llu: %d values differ from numpy",
              (unsigned long long)seed, mismatches);
    CHECK_INT(lines, 2 * nq + 2);
    CHECK(got_map && got_best);
    remove(in_path);
    free(q), free(gal), free(gw), free(truth), free(top_w), free(top_s), free(pred);
}

static void test_whales_against_numpy(void)
{
    const char *py = getenv("PYTHON_REF");
    const char *srcdir = getenv("TOP_SRCDIR");
    if (!py || !*py || !srcdir)
        SKIP("PYTHON_REF / TOP_SRCDIR not set (run through make check)");
    char probe[1024];
    snprintf(probe, sizeof probe, "'%s' -c 'import numpy' >/dev/null 2>&1", py);
    if (system(probe) != 0)
        SKIP("%s has no numpy", py);
    char dir[] = "/tmp/fwevalXXXXXX";
    if (!mkdtemp(dir))
        SKIP("no temp dir");
    numpy_case(py, srcdir, dir, 40, 120, 5, 30, 6.0f, 41);   /* ties: small integer dots */
    numpy_case(py, srcdir, dir, 25, 60, 3, 12, 2.0f, 42);    /* coarse: heavy ties */
    numpy_case(py, srcdir, dir, 30, 40, 8, 4, 3.0f, 43);     /* 3 whales with images: empty slots */
    numpy_case(py, srcdir, dir, 17, 300, 16, 90, -100.0f, 44); /* never inserts by threshold */
    numpy_case(py, srcdir, dir, 12, 9, 4, 1, 0.0f, 45);      /* only new_whale images */
    rmdir(dir);
}

/* ---- submission files ---- */

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void expect_refusal(const char *dir, const char *text, int max_ids, int code,
                           const char *fragment)
{
    char path[512];
    snprintf(path, sizeof path, "%s/bad.csv", dir);
    write_text(path, text);
    fw_submission s;
    fw_error err;
    fw_error_clear(&err);
    int rc = fw_submission_read(path, max_ids, &s, &err);
    CHECK_MSG(rc == code, "'%s': rc %d, want %d (%s)", text, rc, code, err.msg);
    CHECK_MSG(strstr(err.msg, fragment) != NULL, "message '%s' lacks '%s'", err.msg, fragment);
    CHECK_MSG(strstr(err.msg, path) == err.msg, "message '%s' does not start with the file",
              err.msg);
    if (rc == 0)
        fw_submission_free(&s);
}

static void test_submission_round_trip(void)
{
    char dir[] = "/tmp/fwsubXXXXXX";
    if (!mkdtemp(dir))
        SKIP("no temp dir");
    char path[512], truth_path[512];
    snprintf(path, sizeof path, "%s/sub.csv", dir);
    snprintf(truth_path, sizeof truth_path, "%s/truth.csv", dir);
    const char *images[] = {"a.jpg", "b.jpg", "c.jpg"};
    const char *ids[] = {"w_1", "new_whale", "w_2", "w_3", "w_4",
                         "new_whale", NULL, NULL, NULL, NULL,
                         "w_9", "w_1", NULL, NULL, NULL};
    fw_error err;
    fw_error_clear(&err);
    CHECK_INT(fw_submission_write(path, 3, images, ids, &err), 0);
    fw_submission s;
    CHECK_INT(fw_submission_read(path, 5, &s, &err), 0);
    CHECK_INT(s.n, 3);
    for (long r = 0; r < s.n && r < 3; r++) {
        CHECK_STR(s.image[r], images[r]);
        CHECK_INT(s.line[r], r + 2);
        int n = 0;
        for (int i = 0; i < 5; i++)
            if (ids[r * 5 + i])
                CHECK_STR(s.ids[r * 5 + n++], ids[r * 5 + i]);
        CHECK_INT(s.n_ids[r], n);
    }
    /* score by hand: a -> new_whale at rank 2 (1/2), b -> w_5 absent (0), c -> w_1 rank 2 */
    write_text(truth_path, "Image,Id\nc.jpg,w_1\na.jpg,new_whale\nb.jpg,w_5\n");
    fw_submission t;
    CHECK_INT(fw_submission_read(truth_path, 1, &t, &err), 0);
    double m = -1.0;
    CHECK_INT(fw_submission_score(&s, "sub.csv", &t, "truth.csv", &m, &err), 0);
    CHECK_NEAR(m, (0.5 + 0.0 + 0.5) / 3.0, 1e-12);
    fw_submission_free(&t);
    write_text(truth_path, "Image,Id\nc.jpg,w_1\na.jpg,new_whale\n");
    CHECK_INT(fw_submission_read(truth_path, 1, &t, &err), 0);
    CHECK_INT(fw_submission_score(&s, "sub.csv", &t, "truth.csv", &m, &err), FW_EFORMAT);
    CHECK_MSG(strstr(err.msg, "sub.csv:3: image 'b.jpg' is not in truth.csv") != NULL, "%s",
              err.msg);
    fw_submission_free(&t);
    write_text(truth_path, "Image,Id\nc.jpg,w_1\nd.jpg,w_1\na.jpg,new_whale\nb.jpg,w_2\n");
    CHECK_INT(fw_submission_read(truth_path, 1, &t, &err), 0);
    CHECK_INT(fw_submission_score(&s, "sub.csv", &t, "truth.csv", &m, &err), FW_ENOTFOUND);
    CHECK_MSG(strstr(err.msg, "no row for image 'd.jpg' (truth.csv:3)") != NULL, "%s", err.msg);
    fw_submission_free(&t);
    fw_submission_free(&s);

    /* the writer refuses what it could not write back plainly */
    const char *bad_images[] = {"a,b.jpg"};
    const char *one[] = {"w_1", NULL, NULL, NULL, NULL};
    CHECK_INT(fw_submission_write(path, 1, bad_images, one, &err), FW_EINVAL);
    const char *spaced[] = {"w 1", NULL, NULL, NULL, NULL};
    CHECK_INT(fw_submission_write(path, 1, images, spaced, &err), FW_EINVAL);

    expect_refusal(dir, "Image,Id\na.jpg,w_1\nb.jpg,w_2\na.jpg,w_3\n", 5, FW_EFORMAT,
                   "bad.csv:4: image 'a.jpg' already on line 2");
    expect_refusal(dir, "Image,Ids\na.jpg,w_1\n", 5, FW_EFORMAT, "bad.csv:1:");
    expect_refusal(dir, "Image,Id\na.jpg,w_1,w_2\n", 5, FW_EFORMAT, "bad.csv:2:");
    expect_refusal(dir, "Image,Id\na.jpg,1 2 3 4 5 6\n", 5, FW_EFORMAT,
                   "bad.csv:2: more than 5 ids");
    expect_refusal(dir, "Image,Id\n\na.jpg,w_1\n,w_2\n", 5, FW_EFORMAT,
                   "bad.csv:4: empty image name");
    expect_refusal(dir, "Image,Id\na.jpg,w_1 w_2\n", 1, FW_EFORMAT, "bad.csv:2: more than 1 id");
    expect_refusal(dir, "Image,Id\na.jpg,\n", 1, FW_EFORMAT, "bad.csv:2: expected one id");
    expect_refusal(dir, "", 5, FW_EFORMAT, "empty file");
    char missing[600];
    snprintf(missing, sizeof missing, "%s/none.csv", dir);
    CHECK_INT(fw_submission_read(missing, 5, &s, &err), FW_ENOTFOUND);
    remove(path);
    remove(truth_path);
    char bad[600];
    snprintf(bad, sizeof bad, "%s/bad.csv", dir);
    remove(bad);
    rmdir(dir);
}

static void test_bad_arguments(void)
{
    fw_error err;
    float x[4] = {0};
    long idx[2];
    float sim[2];
    int w[2];
    int gw[2] = {0, 3};
    CHECK_INT(fw_knn_topk(x, 1, x, 1, 0, 2, NULL, idx, sim, &err), FW_EINVAL);
    CHECK_INT(fw_knn_topk(x, 1, x, 1, 2, 0, NULL, idx, sim, &err), FW_EINVAL);
    CHECK_INT(fw_knn_whales(x, 1, x, 2, 2, gw, 2, 2, NULL, w, sim, &err), FW_EINVAL);
    CHECK(strstr(err.msg, "gallery image 1 has whale 3") != NULL);
}

int main(void)
{
    RUN(test_l2_normalize);
    RUN(test_topk_vs_sort);
    RUN(test_blocked_similarity_vs_double);
    RUN(test_map5_by_hand);
    RUN(test_threshold_vs_brute_force);
    RUN(test_whales_against_numpy);
    RUN(test_submission_round_trip);
    RUN(test_bad_arguments);
    return tap_done();
}
