/* cpu_bn.c — batch normalisation on oneDNN, PyTorch semantics: training mode
 * normalises with batch statistics and updates the running mean and the
 * UNBIASED running variance with momentum; eval mode uses the running stats.
 * Scale and shift are read straight from the gamma/beta parameters.
 * One plan per input layout (shape + memory desc).
 *
 * SyncBatchNorm (bn_set_sync): training forward sums count, sum x and
 * sum x^2 per channel in double straight from the input's layout (plain or
 * channel-blocked, cpu_offset), totals them with the sync function, and runs
 * oneDNN's normalisation with those global statistics (use_global_stats);
 * backward runs oneDNN's global-stats backward (dx = gamma/sigma * dy, local
 * dgamma = sum dy*xhat, dbeta = sum dy), totals [sum dy, sum dy*xhat] and
 * subtracts gamma/sigma * (Sdy + xhat * Sdyxhat) / count from dx.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_backend.h"
#include "parallel.h"

#define BN_MAX_PLANS 8

typedef struct bn_plan {
    dnnl_memory_desc_t md; /* input (and output) layout */
    dnnl_primitive_desc_t train_pd, eval_pd;
    dnnl_primitive_t train_fwd, eval_fwd, train_bwd, eval_bwd;
} bn_plan;

struct fw_bn {
    int channels;
    float eps, momentum;
    fw_param *weight, *bias, *running_mean, *running_var;
    bn_plan plans[BN_MAX_PLANS];
    int n_plans, next_evict;
    int last_training; /* mode of the last forward (-1: none yet) */
    float *mean, *var;     /* (C) batch stats of the last training forward */
    float *dscale, *dshift; /* (C) gradient scratch */
    cpu_buffer sdy, sdx;
    /* SyncBatchNorm */
    fw_bn_sync_fn sync_fn; /* NULL: local statistics */
    void *sync_ctx;
    double *sums;          /* (2C + 1) [count, sum x (C), sum x^2 (C)] or [Sdy, Sdyxhat] */
    double sync_count;     /* global element count per channel of the last forward */
    int last_synced;       /* the last training forward used global statistics */
    cpu_buffer sx;         /* x reordered to plain when its layout is not addressable */
};

static void plan_free(bn_plan *p)
{
    if (p->train_pd)
        dnnl_primitive_desc_destroy(p->train_pd);
    if (p->eval_pd)
        dnnl_primitive_desc_destroy(p->eval_pd);
    dnnl_primitive_t prims[4] = {p->train_fwd, p->eval_fwd, p->train_bwd, p->eval_bwd};
    for (int i = 0; i < 4; i++)
        if (prims[i])
            dnnl_primitive_destroy(prims[i]);
    memset(p, 0, sizeof *p);
}

static int check_param(const fw_param *p, int channels, const char *what, fw_error *err)
{
    if (!p || p->numel != channels || !p->data)
        return fw_fail(err, FW_EINVAL, "bn_create: %s %s has %lld elements, expected %d", what,
                       p ? p->name : "(null)", p ? (long long)p->numel : 0LL, channels);
    return 0;
}

int cpu_bn_create(fw_backend *be, int channels, float eps, float momentum, fw_param *weight,
                  fw_param *bias, fw_param *running_mean, fw_param *running_var, fw_bn **out,
                  fw_error *err)
{
    (void)be;
    *out = NULL;
    if (channels <= 0 || !(eps > 0) || momentum < 0 || momentum > 1)
        return fw_fail(err, FW_EINVAL, "bn_create: bad channels/eps/momentum");
    FW_TRY(check_param(weight, channels, "weight", err));
    FW_TRY(check_param(bias, channels, "bias", err));
    FW_TRY(check_param(running_mean, channels, "running_mean", err));
    FW_TRY(check_param(running_var, channels, "running_var", err));
    fw_bn *bn = calloc(1, sizeof *bn);
    float *stats = malloc(4 * (size_t)channels * sizeof(float));
    if (!bn || !stats) {
        free(bn);
        free(stats);
        return fw_fail(err, FW_ENOMEM, "bn_create: out of memory");
    }
    bn->channels = channels;
    bn->eps = eps;
    bn->momentum = momentum;
    bn->weight = weight;
    bn->bias = bias;
    bn->running_mean = running_mean;
    bn->running_var = running_var;
    bn->last_training = -1;
    bn->mean = stats;
    bn->var = stats + channels;
    bn->dscale = stats + 2 * channels;
    bn->dshift = stats + 3 * channels;
    *out = bn;
    return 0;
}

void cpu_bn_destroy(fw_backend *be, fw_bn *bn)
{
    (void)be;
    if (!bn)
        return;
    for (int i = 0; i < bn->n_plans; i++)
        plan_free(&bn->plans[i]);
    cpu_buffer_free(&bn->sdy);
    cpu_buffer_free(&bn->sdx);
    cpu_buffer_free(&bn->sx);
    free(bn->sums);
    free(bn->mean);
    free(bn);
}

static const unsigned SCALE_SHIFT = dnnl_use_scale | dnnl_use_shift;

static int plan_get(fw_backend *be, fw_bn *bn, const dnnl_memory_desc_t *md, bn_plan **out,
                    fw_error *err)
{
    for (int i = 0; i < bn->n_plans; i++)
        if (dnnl_memory_desc_equal(&bn->plans[i].md, md)) {
            *out = &bn->plans[i];
            return 0;
        }
    bn_plan *p;
    if (bn->n_plans < BN_MAX_PLANS) {
        p = &bn->plans[bn->n_plans++];
    } else {
        p = &bn->plans[bn->next_evict];
        bn->next_evict = (bn->next_evict + 1) % BN_MAX_PLANS;
        plan_free(p);
    }
    p->md = *md;
    dnnl_batch_normalization_desc_t d;
    DNNL_CHECK(dnnl_batch_normalization_forward_desc_init(&d, dnnl_forward_training, md,
                                                          bn->eps, SCALE_SHIFT),
               err);
    DNNL_CHECK(dnnl_primitive_desc_create(&p->train_pd, &d, NULL, be->engine, NULL), err);
    DNNL_CHECK(dnnl_primitive_create(&p->train_fwd, p->train_pd), err);
    /* forward_training with global stats: an eval forward that can be differentiated */
    DNNL_CHECK(dnnl_batch_normalization_forward_desc_init(
                   &d, dnnl_forward_training, md, bn->eps, SCALE_SHIFT | dnnl_use_global_stats),
               err);
    DNNL_CHECK(dnnl_primitive_desc_create(&p->eval_pd, &d, NULL, be->engine, NULL), err);
    DNNL_CHECK(dnnl_primitive_create(&p->eval_fwd, p->eval_pd), err);
    *out = p;
    return 0;
}

static int plan_backward(fw_backend *be, fw_bn *bn, bn_plan *p, int training, fw_error *err)
{
    dnnl_primitive_t *prim = training ? &p->train_bwd : &p->eval_bwd;
    if (*prim)
        return 0;
    dnnl_batch_normalization_desc_t d;
    dnnl_primitive_desc_t pd;
    unsigned flags = SCALE_SHIFT | (training ? 0 : dnnl_use_global_stats);
    DNNL_CHECK(dnnl_batch_normalization_backward_desc_init(&d, dnnl_backward, &p->md, &p->md,
                                                           bn->eps, flags),
               err);
    DNNL_CHECK(dnnl_primitive_desc_create(&pd, &d, NULL, be->engine,
                                          training ? p->train_pd : p->eval_pd),
               err);
    return cpu_prim_from_pd(pd, prim, err);
}

/* Memories over the (C) vectors: scale, shift, mean, var (+ dscale, dshift). */
static int wrap_vectors(fw_backend *be, fw_bn *bn, int training, dnnl_memory_t m[6],
                        fw_error *err)
{
    dnnl_memory_desc_t vmd;
    dnnl_dims_t dims = {bn->channels};
    dnnl_memory_desc_init_by_tag(&vmd, 1, dims, dnnl_f32, dnnl_x);
    float *ptrs[6] = {bn->weight->data,
                      bn->bias->data,
                      training ? bn->mean : bn->running_mean->data,
                      training ? bn->var : bn->running_var->data,
                      bn->dscale,
                      bn->dshift};
    memset(m, 0, 6 * sizeof m[0]);
    for (int i = 0; i < 6; i++) {
        int rc = cpu_wrap(be, &vmd, ptrs[i], &m[i], err);
        if (rc < 0) {
            for (int j = 0; j < i; j++)
                dnnl_memory_destroy(m[j]);
            return rc;
        }
    }
    return 0;
}

static void free_vectors(dnnl_memory_t m[6])
{
    for (int i = 0; i < 6; i++)
        if (m[i])
            dnnl_memory_destroy(m[i]);
}

/* ---- SyncBatchNorm ---------------------------------------------------------------- */

/* A read/write view of a tensor's floats in a layout cpu_offset understands. */
typedef struct bn_view {
    const dnnl_memory_desc_t *md;
    float *data;
    int64_t n, c, h, w;
} bn_view;

/* x as an addressable view: its own memory, or reordered to plain into bn->sx. */
static int view_of(fw_backend *be, fw_bn *bn, const fw_tensor *x, bn_view *v, fw_error *err)
{
    *v = (bn_view){&x->md, x->buf, x->shape.n, x->shape.c, x->shape.h, x->shape.w};
    if (cpu_offset_supported(&x->md))
        return 0;
    dnnl_memory_desc_t plain;
    cpu_plain_md(&plain, x->shape);
    dnnl_memory_t m;
    FW_TRY(cpu_tensor_as(be, x, &plain, &bn->sx, &m, err));
    v->md = &bn->sx.md;
    v->data = bn->sx.buf;
    return 0;
}

typedef struct sync_job {
    fw_bn *bn;
    bn_view x, dx;     /* dx: backward only */
    const float *invstd; /* (C) backward only */
    double scale;      /* backward: 1 / global count */
} sync_job;

/* Per channel c: sum x and sum x^2 over (n, h, w) into sums[1 + c], sums[1 + C + c]. */
static int sum_channel(void *ctx, long c, int worker, fw_error *err)
{
    (void)worker, (void)err;
    sync_job *j = ctx;
    const bn_view *v = &j->x;
    double s = 0, ss = 0;
    for (int64_t n = 0; n < v->n; n++)
        for (int64_t h = 0; h < v->h; h++)
            for (int64_t w = 0; w < v->w; w++) {
                double x = v->data[cpu_offset(v->md, n, c, h, w)];
                s += x;
                ss += x * x;
            }
    j->bn->sums[1 + c] = s;
    j->bn->sums[1 + j->bn->channels + c] = ss;
    return 0;
}

/* Global mean and biased variance into bn->mean/var (and bn->sync_count). */
static int sync_stats(fw_backend *be, fw_bn *bn, const fw_tensor *x, fw_error *err)
{
    sync_job j = {.bn = bn};
    FW_TRY(view_of(be, bn, x, &j.x, err));
    int C = bn->channels;
    bn->sums[0] = (double)(x->shape.n * x->shape.h * x->shape.w);
    FW_TRY(fw_parallel_for(be->threads, C, sum_channel, &j, err));
    FW_TRY(bn->sync_fn(bn->sync_ctx, bn->sums, 2 * C + 1, err));
    double count = bn->sums[0];
    if (!(count >= 2))
        return fw_fail(err, FW_EINVAL,
                       "bn_forward: training needs more than 1 value per channel over all "
                       "ranks (got %g)",
                       count);
    for (int c = 0; c < C; c++) {
        double mean = bn->sums[1 + c] / count;
        double var = bn->sums[1 + C + c] / count - mean * mean;
        bn->mean[c] = (float)mean;
        bn->var[c] = (float)(var > 0 ? var : 0);
    }
    bn->sync_count = count;
    return 0;
}

/* dx -= gamma/sigma * (Sdy + xhat * Sdyxhat) / count for channel c. */
static int correct_channel(void *ctx, long c, int worker, fw_error *err)
{
    (void)worker, (void)err;
    sync_job *j = ctx;
    fw_bn *bn = j->bn;
    int C = bn->channels;
    float invstd = j->invstd[c], mean = bn->mean[c];
    double k = (double)bn->weight->data[c] * invstd * j->scale;
    double a = k * bn->sums[c], b = k * bn->sums[C + c];
    for (int64_t n = 0; n < j->x.n; n++)
        for (int64_t h = 0; h < j->x.h; h++)
            for (int64_t w = 0; w < j->x.w; w++) {
                float xhat = (j->x.data[cpu_offset(j->x.md, n, c, h, w)] - mean) * invstd;
                float *d = &j->dx.data[cpu_offset(j->dx.md, n, c, h, w)];
                *d = (float)(*d - (a + b * xhat));
            }
    return 0;
}

/* After the global-stats backward: total [Sdy, Sdyxhat] and correct dx in place. */
static int sync_backward(fw_backend *be, fw_bn *bn, const fw_tensor *x, fw_tensor *dx,
                         fw_error *err)
{
    int C = bn->channels;
    for (int c = 0; c < C; c++) {
        bn->sums[c] = bn->dshift[c];
        bn->sums[C + c] = bn->dscale[c];
    }
    FW_TRY(bn->sync_fn(bn->sync_ctx, bn->sums, 2 * C, err));
    if (!cpu_offset_supported(&dx->md))
        return fw_fail(err, FW_EUNSUPPORTED, "bn_backward: sync mode cannot address dx's layout");
    float *invstd = malloc((size_t)C * sizeof *invstd);
    if (!invstd)
        return fw_fail(err, FW_ENOMEM, "bn_backward: out of memory");
    for (int c = 0; c < C; c++)
        invstd[c] = 1.0f / sqrtf(bn->var[c] + bn->eps);
    sync_job j = {.bn = bn, .invstd = invstd, .scale = 1.0 / bn->sync_count};
    int rc = view_of(be, bn, x, &j.x, err);
    j.dx = (bn_view){&dx->md, dx->buf, dx->shape.n, dx->shape.c, dx->shape.h, dx->shape.w};
    if (rc == 0)
        rc = fw_parallel_for(be->threads, C, correct_channel, &j, err);
    free(invstd);
    return rc;
}

int cpu_bn_set_sync(fw_backend *be, fw_bn *bn, fw_bn_sync_fn fn, void *ctx, fw_error *err)
{
    (void)be;
    if (fn && !bn->sums) {
        bn->sums = malloc((2 * (size_t)bn->channels + 1) * sizeof *bn->sums);
        if (!bn->sums)
            return fw_fail(err, FW_ENOMEM, "bn_set_sync: out of memory");
    }
    bn->sync_fn = fn;
    bn->sync_ctx = fn ? ctx : NULL;
    return 0;
}

int cpu_bn_forward(fw_backend *be, fw_bn *bn, int training, const fw_tensor *x, fw_tensor *y,
                   fw_error *err)
{
    cpu_enter(be);
    if (!x->mem)
        return fw_fail(err, FW_EINVAL, "bn_forward: input tensor is empty");
    if (x == y)
        return fw_fail(err, FW_EINVAL, "bn_forward: output aliases input");
    if (x->shape.c != bn->channels)
        return fw_fail(err, FW_EINVAL, "bn_forward: input has %lld channels, layer expects %d",
                       (long long)x->shape.c, bn->channels);
    int64_t count = x->shape.n * x->shape.h * x->shape.w;
    if (training && !bn->sync_fn && count < 2)
        return fw_fail(err, FW_EINVAL,
                       "bn_forward: training needs more than 1 value per channel (got %lld)",
                       (long long)count);
    bn_plan *p;
    FW_TRY(plan_get(be, bn, &x->md, &p, err));
    int synced = training && bn->sync_fn;
    if (synced)
        FW_TRY(sync_stats(be, bn, x, err));
    FW_TRY(cpu_tensor_define(be, y, x->shape, &x->md, err));
    dnnl_memory_t v[6];
    FW_TRY(wrap_vectors(be, bn, training, v, err));
    dnnl_exec_arg_t args[6] = {{DNNL_ARG_SRC, x->mem},  {DNNL_ARG_DST, y->mem},
                               {DNNL_ARG_SCALE, v[0]},  {DNNL_ARG_SHIFT, v[1]},
                               {DNNL_ARG_MEAN, v[2]},   {DNNL_ARG_VARIANCE, v[3]}};
    int rc = cpu_exec(be, training && !synced ? p->train_fwd : p->eval_fwd, 6, args, err);
    free_vectors(v);
    FW_TRY(rc);
    bn->last_training = training != 0;
    bn->last_synced = synced;
    if (training) {
        float m = bn->momentum;
        double total = synced ? bn->sync_count : (double)count;
        double unbias = total / (total - 1);
        float *rm = bn->running_mean->data, *rv = bn->running_var->data;
        for (int c = 0; c < bn->channels; c++) {
            rm[c] = (1 - m) * rm[c] + m * bn->mean[c];
            rv[c] = (1 - m) * rv[c] + m * (float)(bn->var[c] * unbias);
        }
    }
    return 0;
}

int cpu_bn_backward(fw_backend *be, fw_bn *bn, const fw_tensor *x, const fw_tensor *dy,
                    fw_tensor *dx, unsigned flags, fw_error *err)
{
    cpu_enter(be);
    if (bn->last_training < 0)
        return fw_fail(err, FW_EINVAL, "bn_backward: no forward ran before");
    if (!x->mem || !dy->mem)
        return fw_fail(err, FW_EINVAL, "bn_backward: input tensor is empty");
    if (!cpu_shape_eq(x->shape, dy->shape))
        return fw_fail(err, FW_EINVAL, "bn_backward: x and dy shapes differ");
    if (dx && (dx == x || dx == dy))
        return fw_fail(err, FW_EINVAL, "bn_backward: dx aliases an input");
    int want_p = !(flags & FW_GRAD_SKIP_PARAMS);
    if (want_p && (!bn->weight->grad || !bn->bias->grad))
        return fw_fail(err, FW_EINVAL, "bn_backward: %s has no grad buffer", bn->weight->name);
    int training = bn->last_training;
    int synced = training && bn->last_synced;
    bn_plan *p;
    FW_TRY(plan_get(be, bn, &x->md, &p, err));
    /* synced: the global-stats backward, corrected below */
    FW_TRY(plan_backward(be, bn, p, training && !synced, err));
    dnnl_memory_t dym, dxm;
    FW_TRY(cpu_tensor_as(be, dy, &x->md, &bn->sdy, &dym, err));
    if (dx) {
        FW_TRY(cpu_tensor_define(be, dx, x->shape, &x->md, err));
        dxm = dx->mem;
    } else {
        FW_TRY(cpu_buffer_define(be, &bn->sdx, &x->md, err));
        dxm = bn->sdx.mem;
    }
    dnnl_memory_t v[6];
    FW_TRY(wrap_vectors(be, bn, training, v, err));
    dnnl_exec_arg_t args[9] = {{DNNL_ARG_SRC, x->mem},      {DNNL_ARG_DIFF_DST, dym},
                               {DNNL_ARG_SCALE, v[0]},       {DNNL_ARG_SHIFT, v[1]},
                               {DNNL_ARG_MEAN, v[2]},        {DNNL_ARG_VARIANCE, v[3]},
                               {DNNL_ARG_DIFF_SRC, dxm},     {DNNL_ARG_DIFF_SCALE, v[4]},
                               {DNNL_ARG_DIFF_SHIFT, v[5]}};
    int rc = cpu_exec(be, training && !synced ? p->train_bwd : p->eval_bwd, 9, args, err);
    free_vectors(v);
    FW_TRY(rc);
    if (synced && dx)
        FW_TRY(sync_backward(be, bn, x, dx, err));
    if (want_p) {
        size_t bytes = (size_t)bn->channels * sizeof(float);
        if (flags & FW_GRAD_ACCUMULATE) {
            cpu_axpy1(bn->weight->grad, bn->dscale, bn->channels);
            cpu_axpy1(bn->bias->grad, bn->dshift, bn->channels);
        } else {
            memcpy(bn->weight->grad, bn->dscale, bytes);
            memcpy(bn->bias->grad, bn->dshift, bytes);
        }
    }
    return 0;
}
