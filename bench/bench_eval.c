/* bench_eval.c — flukewatch's side of the evaluation benchmark (bench/eval.sh
 * runs it and the peers in bench/eval_peers.py on the same data):
 *
 *   bench/bench_eval --dir DIR [--queries 8000] [--ids 5000] [--gallery 25000]
 *       [--dim 512] [--threads 2] [--repeat 3] [--seed 1]
 *
 * Writes the inputs to DIR (so that the peers read the very same numbers):
 *   map_scores.f32 (queries, ids)  per-id scores, the true id boosted
 *   map_truth.i32  (queries)
 *   knn_queries.f32 (queries, dim), knn_gallery.f32 (gallery, dim): L2-normalised
 *   knn_ours.i64 (queries, 5)     our top-5 gallery indices (for the agreement check)
 * and prints, per task, "flukewatch TASK mean_s best_s result":
 *   map5  top-5 of each score row (fw_topk_rows) + mAP@5 (fw_map5)
 *   knn5  top-5 inner product of queries against the gallery (fw_knn_topk:
 *         blocked oneDNN sgemm + per-row heap), result = sum of top-1 similarities
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eval.h"
#include "rng.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int write_file(const char *dir, const char *name, const void *data, size_t bytes)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, bytes, f) != bytes) {
        fprintf(stderr, "bench_eval: cannot write %s\n", path);
        if (f)
            fclose(f);
        return -1;
    }
    return fclose(f) == 0 ? 0 : -1;
}

static long arg_long(int argc, char **argv, const char *name, long def)
{
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], name))
            return strtol(argv[i + 1], NULL, 10);
    return def;
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--dir"))
            dir = argv[i + 1];
    if (!dir) {
        fprintf(stderr, "usage: bench_eval --dir DIR [--queries N] [--ids N] [--gallery N] "
                        "[--dim D] [--threads T] [--repeat R] [--seed S]\n");
        return 2;
    }
    long nq = arg_long(argc, argv, "--queries", 8000);
    long n_ids = arg_long(argc, argv, "--ids", 5000);
    long ng = arg_long(argc, argv, "--gallery", 25000);
    int d = (int)arg_long(argc, argv, "--dim", 512);
    int threads = (int)arg_long(argc, argv, "--threads", 2);
    int repeat = (int)arg_long(argc, argv, "--repeat", 3);
    unsigned long long seed = (unsigned long long)arg_long(argc, argv, "--seed", 1);
    if (nq <= 0 || n_ids <= 0 || ng <= 0 || d <= 0 || threads <= 0 || repeat <= 0) {
        fprintf(stderr, "bench_eval: sizes must be positive\n");
        return 2;
    }
    fw_rng g;
    fw_rng_init(&g, seed, 0);
    fw_error err;
    fw_error_clear(&err);

    /* ---- mAP@5 over a (queries, ids) score matrix ---- */
    float *scores = malloc((size_t)nq * n_ids * sizeof *scores);
    int *truth = malloc((size_t)nq * sizeof *truth);
    long *top_i = malloc((size_t)nq * 5 * sizeof *top_i);
    float *top_s = malloc((size_t)nq * 5 * sizeof *top_s);
    int *pred = malloc((size_t)nq * 5 * sizeof *pred);
    if (!scores || !truth || !top_i || !top_s || !pred) {
        fprintf(stderr, "bench_eval: out of memory\n");
        return 1;
    }
    for (long i = 0; i < nq * n_ids; i++)
        scores[i] = fw_rng_uniform(&g);
    for (long q = 0; q < nq; q++) {
        truth[q] = (int)fw_rng_below(&g, (uint32_t)n_ids);
        scores[q * n_ids + truth[q]] += fw_rng_uniform(&g); /* about half in the top 5 */
    }
    if (write_file(dir, "map_scores.f32", scores, (size_t)nq * n_ids * sizeof *scores) ||
        write_file(dir, "map_truth.i32", truth, (size_t)nq * sizeof *truth))
        return 1;
    double sum = 0.0, best = 1e30, map = 0.0;
    for (int r = 0; r < repeat; r++) {
        double t0 = now_s();
        if (fw_topk_rows(scores, nq, n_ids, 5, threads, top_i, top_s, &err) < 0) {
            fprintf(stderr, "bench_eval: %s\n", err.msg);
            return 1;
        }
        for (long i = 0; i < nq * 5; i++)
            pred[i] = (int)top_i[i];
        map = fw_map5(pred, truth, nq);
        double dt = now_s() - t0;
        sum += dt;
        best = dt < best ? dt : best;
    }
    printf("flukewatch map5 %.6f %.6f %.6f\n", sum / repeat, best, map);
    free(scores);
    free(truth);
    free(pred);
    free(top_i);
    free(top_s);

    /* ---- top-5 kNN of queries against a gallery ---- */
    float *q = malloc((size_t)nq * d * sizeof *q);
    float *gal = malloc((size_t)ng * d * sizeof *gal);
    long *idx = malloc((size_t)nq * 5 * sizeof *idx);
    float *sim = malloc((size_t)nq * 5 * sizeof *sim);
    if (!q || !gal || !idx || !sim) {
        fprintf(stderr, "bench_eval: out of memory\n");
        return 1;
    }
    for (long i = 0; i < nq * d; i++)
        q[i] = fw_rng_normal(&g);
    for (long i = 0; i < ng * d; i++)
        gal[i] = fw_rng_normal(&g);
    fw_l2_normalize(q, nq, d);
    fw_l2_normalize(gal, ng, d);
    if (write_file(dir, "knn_queries.f32", q, (size_t)nq * d * sizeof *q) ||
        write_file(dir, "knn_gallery.f32", gal, (size_t)ng * d * sizeof *gal))
        return 1;
    fw_sim_opts opts = {.threads = threads};
    sum = 0.0, best = 1e30;
    double top1 = 0.0;
    for (int r = 0; r < repeat; r++) {
        double t0 = now_s();
        if (fw_knn_topk(q, nq, gal, ng, d, 5, &opts, idx, sim, &err) < 0) {
            fprintf(stderr, "bench_eval: %s\n", err.msg);
            return 1;
        }
        double dt = now_s() - t0;
        sum += dt;
        best = dt < best ? dt : best;
    }
    top1 = 0.0;
    for (long i = 0; i < nq; i++)
        top1 += sim[i * 5];
    if (write_file(dir, "knn_ours.i64", idx, (size_t)nq * 5 * sizeof *idx))
        return 1;
    printf("flukewatch knn5 %.6f %.6f %.6f\n", sum / repeat, best, top1);
    free(q);
    free(gal);
    free(idx);
    free(sim);
    return 0;
}
