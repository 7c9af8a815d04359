/* test_bn_sync.c — SyncBatchNorm on the CPU backend without MPI: two "ranks"
 * (two threads, each with its own backend and BN layer) run a batch split in
 * two, their sync function totalling through a shared struct with a barrier;
 * one BN layer on one backend runs the whole batch. The outputs y, the input
 * gradients dx, the running statistics after two steps and dgamma/dbeta
 * summed over the ranks must equal the whole batch's within 1e-5 (relative
 * to the largest value). Plain inputs, BatchNorm1d shapes, channel-blocked
 * inputs (a conv's output) and an odd split are covered; eval mode must not
 * call the sync function. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "rng.h"
#include "tap.h"

enum { RANKS = 2, STEPS = 2, MAX_SUMS = 2 * 64 + 1 };

/* The cross-rank "all-reduce": every rank posts its values, waits for the
 * other, and all add the slots in rank order (identical results). */
typedef struct group {
    pthread_barrier_t barrier;
    double slot[RANKS][MAX_SUMS];
    int calls[RANKS];
} group;

typedef struct rank_ctx {
    group *g;
    int rank;
} rank_ctx;

static int group_sync(void *ctx, double *sums, int n, fw_error *err)
{
    rank_ctx *r = ctx;
    if (n > MAX_SUMS)
        return fw_fail(err, FW_EINVAL, "test sync: %d values", n);
    memcpy(r->g->slot[r->rank], sums, (size_t)n * sizeof *sums);
    r->g->calls[r->rank]++;
    pthread_barrier_wait(&r->g->barrier);
    for (int i = 0; i < n; i++) {
        double t = 0;
        for (int k = 0; k < RANKS; k++)
            t += r->g->slot[k][i];
        sums[i] = t;
    }
    pthread_barrier_wait(&r->g->barrier); /* nobody overwrites a slot still being read */
    return 0;
}

/* One case: shapes and whether a conv (3 -> c channels, 3x3) feeds the BN. */
typedef struct bn_case {
    int n, c, h, w;
    int n0;      /* rank 0's rows; rank 1 gets n - n0 */
    int use_conv;
} bn_case;

#define IN_C 3

/* What one BN run produces (over its rows). */
typedef struct bn_result {
    float *y[STEPS], *dx[STEPS]; /* (rows, C, H, W) */
    float *dgamma[STEPS], *dbeta[STEPS]; /* (C) */
    float *rmean, *rvar;         /* (C) after STEPS */
    float *eval_y;               /* (rows, C, H, W) eval forward after the steps */
    int rc;
    char msg[512];
} bn_result;

typedef struct job {
    const bn_case *bc;
    int row0, rows;
    const float *x[STEPS], *dy[STEPS]; /* whole batch inputs */
    rank_ctx *sync;                     /* NULL: local statistics */
    bn_result res;
} job;

static size_t in_plane(const bn_case *bc) { return (size_t)(bc->use_conv ? IN_C : bc->c) * bc->h * bc->w; }
static size_t out_plane(const bn_case *bc) { return (size_t)bc->c * bc->h * bc->w; }

static void *run_job(void *p)
{
    job *j = p;
    const bn_case *bc = j->bc;
    const fw_backend_ops *ops = fw_backend_cpu();
    fw_error e;
    fw_error_clear(&e);
    fw_backend *be = NULL;
    fw_conv *conv = NULL;
    fw_bn *bn = NULL;
    fw_tensor *x = NULL, *cx = NULL, *y = NULL, *dy = NULL, *dx = NULL;
    int C = bc->c;
    float g[64], b[64], rm[64], rv[64], gg[64], gb[64];
    float cw[64 * IN_C * 9];
    fw_param pg = {.name = "bn.weight", .data = g, .grad = gg, .numel = C};
    fw_param pb = {.name = "bn.bias", .data = b, .grad = gb, .numel = C};
    fw_param pm = {.name = "bn.running_mean", .data = rm, .numel = C};
    fw_param pv = {.name = "bn.running_var", .data = rv, .numel = C};
    fw_param pw = {.name = "conv.weight", .data = cw, .numel = (int64_t)C * IN_C * 9};
    fw_rng r;
    fw_rng_init(&r, 5, 1);
    for (int c = 0; c < C; c++) {
        g[c] = 0.5f + fw_rng_uniform(&r);
        b[c] = fw_rng_uniform(&r) - 0.5f;
        rm[c] = 0;
        rv[c] = 1;
    }
    for (int i = 0; i < C * IN_C * 9; i++)
        cw[i] = 0.3f * fw_rng_normal(&r);
    int rc = 0;
    fw_backend_options opt = {.threads = 1};
    rc = ops->create(&opt, &be, &e);
    if (!rc)
        rc = ops->bn_create(be, C, 1e-5f, 0.1f, &pg, &pb, &pm, &pv, &bn, &e);
    if (!rc && bc->use_conv)
        rc = ops->conv_create(be,
                              &(fw_conv_desc){.in_channels = IN_C, .out_channels = C,
                                              .kernel_h = 3, .kernel_w = 3, .stride_h = 1,
                                              .stride_w = 1, .pad_h = 1, .pad_w = 1},
                              &pw, NULL, &conv, &e);
    if (!rc && j->sync)
        rc = ops->bn_set_sync(be, bn, group_sync, j->sync, &e);
    fw_tensor **ts[5] = {&x, &cx, &y, &dy, &dx};
    for (int i = 0; !rc && i < 5; i++)
        rc = ops->tensor_create(be, ts[i], &e);
    fw_shape in_s = {j->rows, bc->use_conv ? IN_C : C, bc->h, bc->w};
    fw_shape out_s = {j->rows, C, bc->h, bc->w};
    for (int s = 0; !rc && s < STEPS; s++) {
        rc = ops->tensor_copy_in(be, x, in_s, j->x[s] + (size_t)j->row0 * in_plane(bc), &e);
        if (!rc && conv)
            rc = ops->conv_forward(be, conv, x, cx, &e);
        const fw_tensor *bx = conv ? cx : x;
        if (!rc)
            rc = ops->bn_forward(be, bn, 1, bx, y, &e);
        if (!rc)
            rc = ops->tensor_copy_out(be, y, j->res.y[s], &e);
        if (!rc)
            rc = ops->tensor_copy_in(be, dy, out_s, j->dy[s] + (size_t)j->row0 * out_plane(bc),
                                     &e);
        if (!rc)
            rc = ops->bn_backward(be, bn, bx, dy, dx, 0, &e);
        if (!rc)
            rc = ops->tensor_copy_out(be, dx, j->res.dx[s], &e);
        memcpy(j->res.dgamma[s], gg, (size_t)C * sizeof(float));
        memcpy(j->res.dbeta[s], gb, (size_t)C * sizeof(float));
    }
    if (!rc) {
        memcpy(j->res.rmean, rm, (size_t)C * sizeof(float));
        memcpy(j->res.rvar, rv, (size_t)C * sizeof(float));
        const fw_tensor *bx = conv ? cx : x;
        rc = ops->bn_forward(be, bn, 0, bx, y, &e);
        if (!rc)
            rc = ops->tensor_copy_out(be, y, j->res.eval_y, &e);
    }
    j->res.rc = rc;
    if (rc)
        snprintf(j->res.msg, sizeof j->res.msg, "%s", e.msg);
    for (int i = 0; i < 5; i++)
        if (*ts[i])
            ops->tensor_free(be, *ts[i]);
    ops->bn_destroy(be, bn);
    ops->conv_destroy(be, conv);
    if (be)
        ops->destroy(be);
    return NULL;
}

static void result_alloc(bn_result *r, size_t elems, int C)
{
    memset(r, 0, sizeof *r);
    for (int s = 0; s < STEPS; s++) {
        r->y[s] = calloc(elems, sizeof(float));
        r->dx[s] = calloc(elems, sizeof(float));
        r->dgamma[s] = calloc((size_t)C, sizeof(float));
        r->dbeta[s] = calloc((size_t)C, sizeof(float));
    }
    r->rmean = calloc((size_t)C, sizeof(float));
    r->rvar = calloc((size_t)C, sizeof(float));
    r->eval_y = calloc(elems, sizeof(float));
}

static void result_free(bn_result *r)
{
    for (int s = 0; s < STEPS; s++) {
        free(r->y[s]);
        free(r->dx[s]);
        free(r->dgamma[s]);
        free(r->dbeta[s]);
    }
    free(r->rmean);
    free(r->rvar);
    free(r->eval_y);
}

/* max |a - b| <= 1e-5 * max(1, max |b|) */
static void check_close(const char *what, const float *a, const float *b, size_t n)
{
    double worst = 0, scale = 1;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        scale = fmax(scale, fabs(b[i]));
        double d = fabs((double)a[i] - b[i]);
        if (d > worst || isnan(d)) {
            worst = isnan(d) ? INFINITY : d;
            at = i;
        }
    }
    CHECK_MSG(worst <= 1e-5 * scale, "%s: max diff %g at %zu (%g vs %g), scale %g", what,
              worst, at, n ? (double)a[at] : 0.0, n ? (double)b[at] : 0.0, scale);
}

static void run_case(const bn_case *bc)
{
    size_t in_n = (size_t)bc->n * in_plane(bc), out_n = (size_t)bc->n * out_plane(bc);
    float *xs[STEPS], *dys[STEPS];
    fw_rng r;
    fw_rng_init(&r, 11, (uint64_t)bc->n * 1000 + (uint64_t)bc->c);
    for (int s = 0; s < STEPS; s++) {
        xs[s] = malloc(in_n * sizeof(float));
        dys[s] = malloc(out_n * sizeof(float));
        for (size_t i = 0; i < in_n; i++)
            xs[s][i] = 1.5f * fw_rng_normal(&r) + 0.7f; /* non-zero mean */
        for (size_t i = 0; i < out_n; i++)
            dys[s][i] = fw_rng_normal(&r);
    }
    /* the whole batch on one BN */
    job whole = {.bc = bc, .row0 = 0, .rows = bc->n};
    for (int s = 0; s < STEPS; s++) {
        whole.x[s] = xs[s];
        whole.dy[s] = dys[s];
    }
    result_alloc(&whole.res, out_n, bc->c);
    run_job(&whole);
    CHECK_MSG(whole.res.rc == 0, "whole batch: %s", whole.res.msg);

    /* two ranks on two threads */
    group g;
    memset(&g, 0, sizeof g);
    pthread_barrier_init(&g.barrier, NULL, RANKS);
    rank_ctx rc[RANKS] = {{&g, 0}, {&g, 1}};
    job part[RANKS];
    pthread_t th[RANKS];
    for (int k = 0; k < RANKS; k++) {
        part[k] = whole;
        part[k].row0 = k == 0 ? 0 : bc->n0;
        part[k].rows = k == 0 ? bc->n0 : bc->n - bc->n0;
        part[k].sync = &rc[k];
        result_alloc(&part[k].res, (size_t)part[k].rows * out_plane(bc), bc->c);
        pthread_create(&th[k], NULL, run_job, &part[k]);
    }
    for (int k = 0; k < RANKS; k++)
        pthread_join(th[k], NULL);
    pthread_barrier_destroy(&g.barrier);
    for (int k = 0; k < RANKS; k++)
        CHECK_MSG(part[k].res.rc == 0, "rank %d: %s", k, part[k].res.msg);
    /* forward and backward of every step call sync once each; eval never */
    CHECK_INT(g.calls[0], 2 * STEPS);
    CHECK_INT(g.calls[1], 2 * STEPS);

    if (whole.res.rc == 0 && part[0].res.rc == 0 && part[1].res.rc == 0) {
        size_t off = (size_t)bc->n0 * out_plane(bc);
        char what[64];
        float *sum_g = malloc((size_t)bc->c * sizeof(float));
        float *sum_b = malloc((size_t)bc->c * sizeof(float));
        for (int s = 0; s < STEPS; s++) {
            for (int k = 0; k < RANKS; k++) {
                size_t at = k ? off : 0, len = k ? out_n - off : off;
                snprintf(what, sizeof what, "step %d rank %d y", s, k);
                check_close(what, part[k].res.y[s], whole.res.y[s] + at, len);
                snprintf(what, sizeof what, "step %d rank %d dx", s, k);
                check_close(what, part[k].res.dx[s], whole.res.dx[s] + at, len);
            }
            for (int c = 0; c < bc->c; c++) {
                sum_g[c] = part[0].res.dgamma[s][c] + part[1].res.dgamma[s][c];
                sum_b[c] = part[0].res.dbeta[s][c] + part[1].res.dbeta[s][c];
            }
            snprintf(what, sizeof what, "step %d dgamma_0 + dgamma_1", s);
            check_close(what, sum_g, whole.res.dgamma[s], (size_t)bc->c);
            snprintf(what, sizeof what, "step %d dbeta_0 + dbeta_1", s);
            check_close(what, sum_b, whole.res.dbeta[s], (size_t)bc->c);
        }
        for (int k = 0; k < RANKS; k++) {
            check_close("running_mean", part[k].res.rmean, whole.res.rmean, (size_t)bc->c);
            check_close("running_var", part[k].res.rvar, whole.res.rvar, (size_t)bc->c);
            size_t at = k ? off : 0, len = k ? out_n - off : off;
            check_close("eval y", part[k].res.eval_y, whole.res.eval_y + at, len);
        }
        /* the local statistics alone would differ: the test can tell */
        double d = 0;
        for (int c = 0; c < bc->c; c++)
            d = fmax(d, fabs((double)part[0].res.dgamma[0][c] - whole.res.dgamma[0][c]));
        CHECK_MSG(d > 1e-3, "rank 0's dgamma equals the whole batch's (%g): split too small", d);
        free(sum_g);
        free(sum_b);
    }
    for (int k = 0; k < RANKS; k++)
        result_free(&part[k].res);
    result_free(&whole.res);
    for (int s = 0; s < STEPS; s++) {
        free(xs[s]);
        free(dys[s]);
    }
}

static void test_bn2d_plain_even_split(void)
{
    run_case(&(bn_case){.n = 6, .c = 5, .h = 7, .w = 9, .n0 = 3});
}

static void test_bn2d_plain_odd_split(void)
{
    run_case(&(bn_case){.n = 5, .c = 4, .h = 6, .w = 5, .n0 = 3});
}

static void test_bn1d_split(void)
{
    /* (N, C, 1, 1) as the neck's BatchNorm1d; rank 1 has a single row */
    run_case(&(bn_case){.n = 7, .c = 24, .h = 1, .w = 1, .n0 = 6});
}

static void test_bn2d_blocked_from_conv(void)
{
    /* 40 channels from a conv: the BN sees oneDNN's channel-blocked layout */
    run_case(&(bn_case){.n = 4, .c = 40, .h = 8, .w = 10, .n0 = 2, .use_conv = 1});
}

static void test_sync_off_again(void)
{
    /* bn_set_sync(NULL) restores local statistics: a single rank with a
     * sync function that would fail must not be called */
    const fw_backend_ops *ops = fw_backend_cpu();
    fw_error e;
    fw_error_clear(&e);
    fw_backend *be = NULL;
    fw_backend_options opt = {.threads = 1};
    CHECK_MSG(ops->create(&opt, &be, &e) == 0, "%s", e.msg);
    if (!be)
        return;
    float g[3] = {1, 1, 1}, b[3] = {0}, m[3] = {0}, v[3] = {1, 1, 1}, gg[3], gb[3];
    fw_param pg = {.name = "w", .data = g, .grad = gg, .numel = 3};
    fw_param pb = {.name = "b", .data = b, .grad = gb, .numel = 3};
    fw_param pm = {.name = "m", .data = m, .numel = 3};
    fw_param pv = {.name = "v", .data = v, .numel = 3};
    fw_bn *bn = NULL;
    fw_tensor *x = NULL, *y = NULL;
    CHECK(ops->bn_create(be, 3, 1e-5f, 0.1f, &pg, &pb, &pm, &pv, &bn, &e) == 0);
    CHECK(ops->tensor_create(be, &x, &e) == 0 && ops->tensor_create(be, &y, &e) == 0);
    float xs[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    CHECK(ops->tensor_copy_in(be, x, (fw_shape){4, 3, 1, 1}, xs, &e) == 0);
    group gr;
    memset(&gr, 0, sizeof gr);
    pthread_barrier_init(&gr.barrier, NULL, 1);
    rank_ctx rc = {&gr, 0};
    CHECK(ops->bn_set_sync(be, bn, group_sync, &rc, &e) == 0);
    CHECK(ops->bn_forward(be, bn, 1, x, y, &e) == 0);
    CHECK_INT(gr.calls[0], 1); /* one rank: its own sums, same result */
    CHECK(ops->bn_set_sync(be, bn, NULL, NULL, &e) == 0);
    CHECK(ops->bn_forward(be, bn, 1, x, y, &e) == 0);
    CHECK_INT(gr.calls[0], 1);
    pthread_barrier_destroy(&gr.barrier);
    ops->tensor_free(be, x);
    ops->tensor_free(be, y);
    ops->bn_destroy(be, bn);
    ops->destroy(be);
}

int main(void)
{
    RUN(test_bn2d_plain_even_split);
    RUN(test_bn2d_plain_odd_split);
    RUN(test_bn1d_split);
    RUN(test_bn2d_blocked_from_conv);
    RUN(test_sync_off_again);
    return tap_done();
}
