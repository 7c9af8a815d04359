/* eval.c — similarity search and mAP@5: blocked sgemm similarity, per-row
 * top-k by a bounded min-heap, per-whale max aggregation, new_whale insertion
 * and the threshold search. See eval.h for the contracts and tie order. */
#include <config.h>

#include <math.h>
#include <oneapi/dnnl/dnnl.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "parallel.h"

void fw_l2_normalize(float *x, long n, int d)
{
    for (long i = 0; i < n; i++) {
        float *row = x + i * (long)d;
        double ss = 0.0;
        for (int j = 0; j < d; j++)
            ss += (double)row[j] * row[j];
        if (ss > 0.0) {
            double inv = 1.0 / sqrt(ss);
            for (int j = 0; j < d; j++)
                row[j] = (float)(row[j] * inv);
        }
    }
}

void fw_merge_flip(float *x, const float *x_flip, long n, int d)
{
    for (long i = 0; i < n * (long)d; i++)
        x[i] += x_flip[i];
    fw_l2_normalize(x, n, d);
}

/* ---- bounded heap of the k best (sim, index) pairs; root = the worst ---- */

static float sim_key(float s) { return isnan(s) ? -INFINITY : s; }

/* 1 if (sa, ia) ranks below (sb, ib): smaller similarity, or equal and larger index. */
static int worse(float sa, long ia, float sb, long ib)
{
    if (sa != sb)
        return sa < sb;
    return ia > ib;
}

static void heap_sift_down(float *s, long *ix, int n, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && worse(s[l], ix[l], s[m], ix[m]))
            m = l;
        if (r < n && worse(s[r], ix[r], s[m], ix[m]))
            m = r;
        if (m == i)
            return;
        float ts = s[i]; s[i] = s[m]; s[m] = ts;
        long ti = ix[i]; ix[i] = ix[m]; ix[m] = ti;
        i = m;
    }
}

/* The heap starts full of (-INFINITY, LONG_MAX-like sentinels) so that every
 * real candidate beats them; sentinels are turned into -1 at the end. */
#define SENTINEL_INDEX 0x7fffffffffffffffL

static void heap_init(float *s, long *ix, int k)
{
    for (int i = 0; i < k; i++) {
        s[i] = -INFINITY;
        ix[i] = SENTINEL_INDEX;
    }
}

static void heap_offer(float *s, long *ix, int k, float sim, long index)
{
    if (!worse(s[0], ix[0], sim, index))
        return;
    s[0] = sim;
    ix[0] = index;
    heap_sift_down(s, ix, k, 0);
}

/* Turn the heap into a best-first list (heap sort), sentinels -> -1. */
static void heap_finish(float *s, long *ix, int k)
{
    for (int n = k; n > 1; n--) {
        float ts = s[0]; s[0] = s[n - 1]; s[n - 1] = ts;
        long ti = ix[0]; ix[0] = ix[n - 1]; ix[n - 1] = ti;
        heap_sift_down(s, ix, n - 1, 0);
    }
    for (int i = 0; i < k; i++)
        if (ix[i] == SENTINEL_INDEX)
            ix[i] = -1;
}

/* ---- blocked similarity driver ---- */

typedef struct block_scan {
    const float *block;   /* (rows, g_count) similarities, row stride ld */
    long ld;
    long q0, g0, g_count; /* first query, first gallery row, gallery rows */
    int k;
    /* top-k of images */
    float *heap_sim;      /* (nq, k) */
    long *heap_index;     /* (nq, k) */
    /* per-whale max */
    const int *gallery_whale;
    float *whale_max;     /* (q_block, n_whales) */
    int n_whales;
} block_scan;

static int scan_images(void *ctx, long r, int worker, fw_error *err)
{
    (void)worker;
    (void)err;
    const block_scan *b = ctx;
    const float *row = b->block + r * b->ld;
    float *hs = b->heap_sim + (b->q0 + r) * b->k;
    long *hi = b->heap_index + (b->q0 + r) * b->k;
    for (long j = 0; j < b->g_count; j++) {
        float s = sim_key(row[j]);
        if (s >= hs[0])
            heap_offer(hs, hi, b->k, s, b->g0 + j);
    }
    return 0;
}

static int scan_whales(void *ctx, long r, int worker, fw_error *err)
{
    (void)worker;
    (void)err;
    const block_scan *b = ctx;
    const float *row = b->block + r * b->ld;
    float *wmax = b->whale_max + r * b->n_whales;
    const int *gw = b->gallery_whale + b->g0;
    for (long j = 0; j < b->g_count; j++) {
        int w = gw[j];
        if (w < 0)
            continue;
        float s = sim_key(row[j]);
        if (s > wmax[w])
            wmax[w] = s;
    }
    return 0;
}

typedef struct whale_select {
    const float *whale_max; /* (rows, n_whales) */
    const unsigned char *has_images; /* (n_whales) */
    int n_whales, k;
    long q0;
    int *out_whale;
    float *out_sim;
    float *heap_sim;  /* (threads, k) scratch */
    long *heap_index; /* (threads, k) */
} whale_select;

static int select_whales(void *ctx, long r, int worker, fw_error *err)
{
    (void)err;
    const whale_select *w = ctx;
    float *hs = w->heap_sim + (long)worker * w->k;
    long *hi = w->heap_index + (long)worker * w->k;
    heap_init(hs, hi, w->k);
    const float *wmax = w->whale_max + r * w->n_whales;
    for (int c = 0; c < w->n_whales; c++)
        if (w->has_images[c])
            heap_offer(hs, hi, w->k, wmax[c], c);
    heap_finish(hs, hi, w->k);
    for (int i = 0; i < w->k; i++) {
        long q = w->q0 + r;
        w->out_whale[q * w->k + i] = hi[i] < 0 ? FW_NO_PRED : (int)hi[i];
        w->out_sim[q * w->k + i] = hi[i] < 0 ? -INFINITY : hs[i];
    }
    return 0;
}

static int check_args(const float *queries, long nq, const float *gallery, long ng, int d, int k,
                      fw_error *err)
{
    if (nq < 0 || ng < 0 || d <= 0 || k <= 0 || (nq > 0 && !queries) || (ng > 0 && !gallery))
        return fw_fail(err, FW_EINVAL,
                       "similarity search: bad shape (queries %ld, gallery %ld, dim %d, k %d)",
                       nq, ng, d, k);
    return 0;
}

/* sim block (qn, gn) = queries[q0..] (qn, d) · gallery[g0..]ᵀ (gn, d). */
static int sim_block(const float *queries, long q0, long qn, const float *gallery, long g0,
                     long gn, int d, float *block, fw_error *err)
{
    dnnl_status_t st = dnnl_sgemm('N', 'T', qn, gn, d, 1.0f, queries + q0 * d, d,
                                  gallery + g0 * d, d, 0.0f, block, gn);
    if (st != dnnl_success)
        return fw_fail(err, FW_EDEVICE, "similarity: dnnl_sgemm failed (status %d)", (int)st);
    return 0;
}

int fw_topk_rows(const float *scores, long n, long m, int k, int threads, long *out_index,
                 float *out_sim, fw_error *err)
{
    if (n < 0 || m < 0 || k <= 0 || (n > 0 && m > 0 && !scores))
        return fw_fail(err, FW_EINVAL, "top-k: bad shape (%ld, %ld), k %d", n, m, k);
    for (long i = 0; i < n; i++)
        heap_init(out_sim + i * k, out_index + i * k, k);
    block_scan b = {.block = scores, .ld = m, .q0 = 0, .g0 = 0, .g_count = m, .k = k,
                    .heap_sim = out_sim, .heap_index = out_index};
    FW_TRY(fw_parallel_for(fw_resolve_threads(threads), n, scan_images, &b, err));
    for (long i = 0; i < n; i++)
        heap_finish(out_sim + i * k, out_index + i * k, k);
    return 0;
}

static void resolve_blocks(const fw_sim_opts *opts, long *qb, long *gb, int *threads)
{
    *qb = opts && opts->q_block > 0 ? opts->q_block : 256;
    *gb = opts && opts->g_block > 0 ? opts->g_block : 4096;
    *threads = fw_resolve_threads(opts ? opts->threads : 0);
}

int fw_knn_topk(const float *queries, long nq, const float *gallery, long ng, int d, int k,
                const fw_sim_opts *opts, long *out_index, float *out_sim, fw_error *err)
{
    FW_TRY(check_args(queries, nq, gallery, ng, d, k, err));
    long qb, gb;
    int threads;
    resolve_blocks(opts, &qb, &gb, &threads);
    for (long i = 0; i < nq; i++)
        heap_init(out_sim + i * k, out_index + i * k, k);
    float *block = malloc((size_t)qb * (size_t)gb * sizeof *block);
    if (!block)
        return fw_fail(err, FW_ENOMEM, "similarity: cannot allocate a %ld x %ld block", qb, gb);
    int rc = 0;
    for (long q0 = 0; q0 < nq && rc == 0; q0 += qb) {
        long qn = nq - q0 < qb ? nq - q0 : qb;
        for (long g0 = 0; g0 < ng && rc == 0; g0 += gb) {
            long gn = ng - g0 < gb ? ng - g0 : gb;
            rc = sim_block(queries, q0, qn, gallery, g0, gn, d, block, err);
            if (rc == 0) {
                block_scan b = {.block = block, .ld = gn, .q0 = q0, .g0 = g0, .g_count = gn,
                                .k = k, .heap_sim = out_sim, .heap_index = out_index};
                rc = fw_parallel_for(threads, qn, scan_images, &b, err);
            }
        }
    }
    free(block);
    if (rc < 0)
        return rc;
    for (long i = 0; i < nq; i++)
        heap_finish(out_sim + i * k, out_index + i * k, k);
    return 0;
}

int fw_knn_whales(const float *queries, long nq, const float *gallery, long ng, int d,
                  const int *gallery_whale, int n_whales, int k, const fw_sim_opts *opts,
                  int *out_whale, float *out_sim, fw_error *err)
{
    FW_TRY(check_args(queries, nq, gallery, ng, d, k, err));
    if (n_whales < 0 || (ng > 0 && !gallery_whale))
        return fw_fail(err, FW_EINVAL, "similarity: bad whale count %d", n_whales);
    for (long j = 0; j < ng; j++)
        if (gallery_whale[j] < FW_NEW_WHALE || gallery_whale[j] >= n_whales)
            return fw_fail(err, FW_EINVAL, "similarity: gallery image %ld has whale %d, not in -1..%d",
                           j, gallery_whale[j], n_whales - 1);
    long qb, gb;
    int threads;
    resolve_blocks(opts, &qb, &gb, &threads);
    size_t wcount = n_whales > 0 ? (size_t)n_whales : 1;
    float *block = malloc((size_t)qb * (size_t)gb * sizeof *block);
    float *whale_max = malloc((size_t)qb * wcount * sizeof *whale_max);
    unsigned char *has = calloc(wcount, 1);
    float *hs = malloc((size_t)threads * (size_t)k * sizeof *hs);
    long *hi = malloc((size_t)threads * (size_t)k * sizeof *hi);
    int rc = 0;
    if (!block || !whale_max || !has || !hs || !hi)
        rc = fw_fail(err, FW_ENOMEM, "similarity: out of memory for %ld x %ld blocks", qb, gb);
    for (long j = 0; rc == 0 && j < ng; j++)
        if (gallery_whale[j] >= 0)
            has[gallery_whale[j]] = 1;
    for (long q0 = 0; q0 < nq && rc == 0; q0 += qb) {
        long qn = nq - q0 < qb ? nq - q0 : qb;
        for (long i = 0; i < qn * n_whales; i++)
            whale_max[i] = -INFINITY;
        for (long g0 = 0; g0 < ng && rc == 0; g0 += gb) {
            long gn = ng - g0 < gb ? ng - g0 : gb;
            rc = sim_block(queries, q0, qn, gallery, g0, gn, d, block, err);
            if (rc == 0) {
                block_scan b = {.block = block, .ld = gn, .q0 = q0, .g0 = g0, .g_count = gn,
                                .gallery_whale = gallery_whale, .whale_max = whale_max,
                                .n_whales = n_whales};
                rc = fw_parallel_for(threads, qn, scan_whales, &b, err);
            }
        }
        if (rc == 0) {
            whale_select w = {.whale_max = whale_max, .has_images = has, .n_whales = n_whales,
                              .k = k, .q0 = q0, .out_whale = out_whale, .out_sim = out_sim,
                              .heap_sim = hs, .heap_index = hi};
            rc = fw_parallel_for(threads, qn, select_whales, &w, err);
        }
    }
    free(block);
    free(whale_max);
    free(has);
    free(hs);
    free(hi);
    return rc;
}

void fw_predict_with_new_whale(const int *whale, const float *sim, long nq, float threshold,
                               int *pred)
{
    for (long q = 0; q < nq; q++) {
        const int *w = whale + q * FW_MAP_K;
        const float *s = sim + q * FW_MAP_K;
        int *p = pred + q * FW_MAP_K;
        int out = 0;
        int inserted = 0;
        for (int i = 0; i < FW_MAP_K && out < FW_MAP_K; i++) {
            if (!inserted &&
                (w[i] == FW_NO_PRED || threshold == INFINITY || !(s[i] >= threshold))) {
                p[out++] = FW_NEW_WHALE;
                inserted = 1;
                if (out == FW_MAP_K)
                    break;
            }
            p[out++] = w[i];
        }
    }
}

/* Score of one query in 1/60ths, given its prediction list. */
static int score60(const int *pred, int truth)
{
    for (int i = 0; i < FW_MAP_K; i++)
        if (pred[i] == truth)
            return 60 / (i + 1);
    return 0;
}

double fw_map5(const int *pred, const int *truth, long n)
{
    if (n <= 0)
        return 0.0;
    long long total = 0;
    for (long q = 0; q < n; q++)
        total += score60(pred + q * FW_MAP_K, truth[q]);
    return (double)total / (60.0 * (double)n);
}

/* Number of leading slots that are filled (not FW_NO_PRED) with a finite or
 * +inf similarity; only those can ever be "at or above" a finite threshold. */
static int usable_slots(const int *w, const float *s)
{
    int n = 0;
    while (n < FW_MAP_K && w[n] != FW_NO_PRED && !isnan(s[n]) && s[n] != -INFINITY)
        n++;
    return n;
}

/* Score (1/60ths) of query q when p of its slots reach the threshold. */
static int score_at(const int *w, int truth, int p)
{
    int pred[FW_MAP_K];
    int out = 0;
    for (int i = 0; i < FW_MAP_K && out < FW_MAP_K; i++) {
        if (i == p) {
            pred[out++] = FW_NEW_WHALE;
            if (out == FW_MAP_K)
                break;
        }
        pred[out++] = w[i];
    }
    return score60(pred, truth);
}

typedef struct sweep_entry {
    float sim;
    int slot;
    long query;
} sweep_entry;

static int cmp_sweep_desc(const void *a, const void *b)
{
    const sweep_entry *x = a, *y = b;
    if (x->sim != y->sim)
        return x->sim > y->sim ? -1 : 1;
    if (x->query != y->query)
        return x->query < y->query ? -1 : 1;
    return x->slot - y->slot;
}

int fw_best_threshold(const int *whale, const float *sim, const int *truth, long n,
                      float *best_threshold, double *best_map, fw_error *err)
{
    if (n <= 0)
        return fw_fail(err, FW_EINVAL, "threshold search: no validation queries");
    sweep_entry *e = malloc((size_t)n * FW_MAP_K * sizeof *e);
    if (!e)
        return fw_fail(err, FW_ENOMEM, "threshold search: out of memory for %ld queries", n);
    long m = 0;
    long long total = 0; /* at t = +inf: every query has p = 0 */
    for (long q = 0; q < n; q++) {
        const int *w = whale + q * FW_MAP_K;
        const float *s = sim + q * FW_MAP_K;
        total += score_at(w, truth[q], 0);
        int u = usable_slots(w, s);
        for (int i = 0; i < u; i++) {
            if (s[i] == INFINITY)
                continue; /* entered below, in the +inf group */
            e[m++] = (sweep_entry){s[i], i, q};
        }
    }
    /* A +inf similarity reaches every finite threshold (but not the +inf
     * candidate, which puts new_whale first): such slots enter in a first
     * group of value +inf, which is never itself a candidate. */
    for (long q = 0; q < n; q++) {
        const int *w = whale + q * FW_MAP_K;
        const float *s = sim + q * FW_MAP_K;
        for (int i = 0; i < FW_MAP_K && s[i] == INFINITY && w[i] != FW_NO_PRED; i++)
            e[m++] = (sweep_entry){INFINITY, i, q};
    }
    qsort(e, (size_t)m, sizeof *e, cmp_sweep_desc);
    long long best = total;
    float best_t = INFINITY;
    for (long i = 0; i < m;) {
        float v = e[i].sim;
        for (; i < m && e[i].sim == v; i++) {
            const int *w = whale + e[i].query * FW_MAP_K;
            int t = truth[e[i].query];
            total += score_at(w, t, e[i].slot + 1) - score_at(w, t, e[i].slot);
        }
        if (total > best && v != INFINITY) {
            best = total;
            best_t = v;
        }
    }
    free(e);
    if (best_threshold)
        *best_threshold = best_t;
    if (best_map)
        *best_map = (double)best / (60.0 * (double)n);
    return 0;
}
