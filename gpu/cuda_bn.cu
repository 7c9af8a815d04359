/* cuda_bn.cu — batch normalisation (BatchNorm2d/1d, PyTorch semantics) and
 * SyncBatchNorm on own kernels: per-channel sums in double over the NHWC rows
 * (a fixed-order two-pass reduction, deterministic), statistics and running
 * averages in a per-channel kernel, and an element-wise apply/gradient.
 * Training normalises with the batch mean and biased variance and updates
 * running_mean and the UNBIASED running_var with momentum; eval uses the
 * running statistics. With bn_set_sync the sums go through the host callback
 * (2C + 1 doubles forward, 2C backward) and the statistics are global.
 * Own kernels rather than cuDNN's batch norm: the same code serves both the
 * local and the synchronised case, and the sums are exact-order doubles.
 * Running statistics live on the device and reach running_mean/var.data at
 * the next sync() (like the parameter gradients).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_backend.h"
#include "pointwise_math.h"

#define SUM_TX 32 /* channels per block */
#define SUM_TY 8  /* rows walked in parallel per block */
#define SUM_MAX_CHUNKS 512

/* partial[(chunk, k, c)] over this block's rows; k = 0, 1. */
template <int P>
__global__ void channel_sums_kernel(int mode, const typename cuda_elem<P>::t *a,
                                    const typename cuda_elem<P>::t *x, const float *mean,
                                    const float *invstd, int64_t rows, int64_t c,
                                    int64_t rows_per_chunk, double *partial)
{
    __shared__ double s0[SUM_TY][SUM_TX], s1[SUM_TY][SUM_TX];
    int64_t ch = (int64_t)blockIdx.x * SUM_TX + threadIdx.x;
    int64_t chunk = blockIdx.y;
    int64_t r0 = chunk * rows_per_chunk;
    int64_t r1 = r0 + rows_per_chunk < rows ? r0 + rows_per_chunk : rows;
    double acc0 = 0, acc1 = 0;
    if (ch < c) {
        float m = 0, is = 0;
        if (mode == CUDA_SUM_GRAD && x) {
            m = mean[ch];
            is = invstd[ch];
        }
        for (int64_t r = r0 + threadIdx.y; r < r1; r += SUM_TY) {
            float v = cuda_elem<P>::ld(a[r * c + ch]);
            acc0 += v;
            if (mode == CUDA_SUM_STATS)
                acc1 += (double)v * (double)v;
            else if (x)
                acc1 += (double)v * (double)((cuda_elem<P>::ld(x[r * c + ch]) - m) * is);
        }
    }
    s0[threadIdx.y][threadIdx.x] = acc0;
    s1[threadIdx.y][threadIdx.x] = acc1;
    __syncthreads();
    if (threadIdx.y == 0 && ch < c) {
        double t0 = 0, t1 = 0;
        for (int k = 0; k < SUM_TY; k++) {
            t0 += s0[k][threadIdx.x];
            t1 += s1[k][threadIdx.x];
        }
        partial[(chunk * 2 + 0) * c + ch] = t0;
        partial[(chunk * 2 + 1) * c + ch] = t1;
    }
}

__global__ void channel_sums_finish_kernel(const double *partial, int64_t chunks, int64_t c,
                                           double *out)
{
    CUDA_FOR(i, 2 * c)
    {
        int64_t k = i / c, ch = i % c;
        double t = 0;
        for (int64_t q = 0; q < chunks; q++)
            t += partial[(q * 2 + k) * c + ch];
        out[i] = t;
    }
}

template <int P>
static void launch_sums(fw_backend *be, int mode, const void *a, const void *x, const float *mean,
                        const float *invstd, int64_t rows, int64_t c, int64_t chunks,
                        int64_t rows_per_chunk, double *partial)
{
    typedef typename cuda_elem<P>::t T;
    dim3 grid((unsigned)((c + SUM_TX - 1) / SUM_TX), (unsigned)chunks);
    dim3 block(SUM_TX, SUM_TY);
    channel_sums_kernel<P><<<grid, block, 0, be->stream>>>(mode, (const T *)a, (const T *)x, mean,
                                                           invstd, rows, c, rows_per_chunk,
                                                           partial);
}

int cuda_channel_sums(fw_backend *be, int mode, const void *a, const void *x,
                      const float *mean, const float *invstd, int64_t rows, int64_t c,
                      double *out, fw_error *err)
{
    int64_t chunks = (rows + 255) / 256;
    if (chunks > SUM_MAX_CHUNKS)
        chunks = SUM_MAX_CHUNKS;
    if (chunks < 1)
        chunks = 1;
    int64_t rows_per_chunk = (rows + chunks - 1) / chunks;
    if (rows_per_chunk < 1)
        rows_per_chunk = 1;
    void *partial;
    FW_TRY(cuda_stage_d(be, (size_t)(chunks * 2 * c) * sizeof(double), &partial, err));
    CUDA_PREC_SWITCH(be->prec, launch_sums, be, mode, a, x, mean, invstd, rows, c, chunks,
                     rows_per_chunk, (double *)partial);
    CUDA_LAUNCH_CHECK();
    channel_sums_finish_kernel<<<cuda_blocks(2 * c, 256), 256, 0, be->stream>>>(
        (const double *)partial, chunks, c, out);
    CUDA_LAUNCH_CHECK();
    return 0;
}

/* ---- the layer -------------------------------------------------------------------- */

struct fw_bn {
    int channels;
    float eps, momentum;
    cuda_dparam weight, bias;
    cuda_dparam running_mean, running_var; /* device copies, updated by training */
    cuda_slot *rm_slot, *rv_slot;          /* download of the running statistics */
    cuda_slot *dw_slot, *db_slot;          /* gradients (NULL when the params have none) */
    fw_bn_sync_fn sync_fn;
    void *sync_ctx;
    int last_training; /* -1: no forward yet */
    double last_count; /* element count per channel of the last training forward (global) */
    float *mean, *invstd; /* device (C): statistics the last forward normalised with */
    double *sums;         /* device (2C + 1) */
    double *sums_h;       /* pinned (2C + 1) */
};

static int check_param(const fw_param *p, int channels, const char *what, fw_error *err)
{
    if (!p || p->numel != channels || !p->data)
        return fw_fail(err, FW_EINVAL, "bn_create: %s %s has %lld elements, expected %d", what,
                       p ? p->name : "(null)", p ? (long long)p->numel : 0LL, channels);
    return 0;
}

static int bn_alloc(fw_backend *be, fw_bn *bn, fw_param *weight, fw_param *bias, fw_param *rm,
                    fw_param *rv, fw_error *err)
{
    int c = bn->channels;
    FW_TRY(cuda_dparam_init(be, &bn->weight, weight, err));
    FW_TRY(cuda_dparam_init(be, &bn->bias, bias, err));
    FW_TRY(cuda_dparam_init(be, &bn->running_mean, rm, err));
    FW_TRY(cuda_dparam_init(be, &bn->running_var, rv, err));
    FW_TRY(cuda_slot_create(be, rm, 0, &bn->rm_slot, err));
    FW_TRY(cuda_slot_create(be, rv, 0, &bn->rv_slot, err));
    if (weight->grad)
        FW_TRY(cuda_slot_create(be, weight, 1, &bn->dw_slot, err));
    if (bias->grad)
        FW_TRY(cuda_slot_create(be, bias, 1, &bn->db_slot, err));
    CUDA_CHECK(cudaMalloc((void **)&bn->mean, 2 * (size_t)c * sizeof(float)));
    bn->invstd = bn->mean + c;
    CUDA_CHECK(cudaMalloc((void **)&bn->sums, (2 * (size_t)c + 1) * sizeof(double)));
    CUDA_CHECK(cudaMallocHost((void **)&bn->sums_h, (2 * (size_t)c + 1) * sizeof(double)));
    return 0;
}

int cuda_bn_create(fw_backend *be, int channels, float eps, float momentum, fw_param *weight,
                   fw_param *bias, fw_param *running_mean, fw_param *running_var, fw_bn **out,
                   fw_error *err)
{
    *out = NULL;
    CUDA_ENTER(be);
    if (channels <= 0 || !(eps > 0) || momentum < 0 || momentum > 1)
        return fw_fail(err, FW_EINVAL, "bn_create: bad channels/eps/momentum");
    FW_TRY(check_param(weight, channels, "weight", err));
    FW_TRY(check_param(bias, channels, "bias", err));
    FW_TRY(check_param(running_mean, channels, "running_mean", err));
    FW_TRY(check_param(running_var, channels, "running_var", err));
    fw_bn *bn = (fw_bn *)calloc(1, sizeof *bn);
    if (!bn)
        return fw_fail(err, FW_ENOMEM, "bn_create: out of memory");
    bn->channels = channels;
    bn->eps = eps;
    bn->momentum = momentum;
    bn->last_training = -1;
    int rc = bn_alloc(be, bn, weight, bias, running_mean, running_var, err);
    if (rc < 0) {
        cuda_bn_destroy(be, bn);
        return rc;
    }
    *out = bn;
    return 0;
}

void cuda_bn_destroy(fw_backend *be, fw_bn *bn)
{
    if (!bn)
        return;
    cuda_enter_quiet(be);
    cuda_dparam_free(be, &bn->weight);
    cuda_dparam_free(be, &bn->bias);
    cuda_dparam_free(be, &bn->running_mean);
    cuda_dparam_free(be, &bn->running_var);
    cuda_slot_destroy(be, bn->rm_slot);
    cuda_slot_destroy(be, bn->rv_slot);
    cuda_slot_destroy(be, bn->dw_slot);
    cuda_slot_destroy(be, bn->db_slot);
    if (bn->mean)
        cudaFree(bn->mean);
    if (bn->sums)
        cudaFree(bn->sums);
    if (bn->sums_h)
        cudaFreeHost(bn->sums_h);
    free(bn);
}

int cuda_bn_set_sync(fw_backend *be, fw_bn *bn, fw_bn_sync_fn fn, void *ctx, fw_error *err)
{
    CUDA_ENTER(be);
    (void)err;
    bn->sync_fn = fn;
    bn->sync_ctx = fn ? ctx : NULL;
    return 0;
}

/* Training statistics from sums [count, sum x (C), sum x^2 (C)]; running
 * averages updated in place (rm_out/rv_out are the slots' download buffers). */
__global__ void bn_train_stats_kernel(const double *sums, int64_t c, float eps, float momentum,
                                      float *mean, float *invstd, float *rm, float *rv,
                                      float *rm_out, float *rv_out)
{
    CUDA_FOR(ch, c)
    {
        double count = sums[0];
        double var;
        fw_bn_stats(count, sums[1 + ch], sums[1 + c + ch], eps, &mean[ch], &invstd[ch], &var);
        float unbiased = (float)(var * (count / (count - 1)));
        float m = fw_bn_running(rm[ch], (float)(sums[1 + ch] / count), momentum);
        float v = fw_bn_running(rv[ch], unbiased, momentum);
        rm[ch] = rm_out[ch] = m;
        rv[ch] = rv_out[ch] = v;
    }
}

__global__ void bn_eval_stats_kernel(const float *rm, const float *rv, int64_t c, float eps,
                                     float *mean, float *invstd)
{
    CUDA_FOR(ch, c)
    {
        mean[ch] = rm[ch];
        invstd[ch] = fw_bn_invstd(rv[ch], eps);
    }
}

template <int P>
__global__ void bn_apply_kernel(const typename cuda_elem<P>::t *x, typename cuda_elem<P>::t *y,
                                int64_t n, int64_t c, const float *mean, const float *invstd,
                                const float *gamma, const float *beta)
{
    CUDA_FOR(i, n)
    {
        int64_t ch = i % c;
        y[i] = cuda_elem<P>::st(
            fw_bn_apply(cuda_elem<P>::ld(x[i]), mean[ch], invstd[ch], gamma[ch], beta[ch]));
    }
}

/* training: sums [sum dy (C), sum dy xhat (C)] (global); eval: sums NULL. */
template <int P>
__global__ void bn_dx_kernel(const typename cuda_elem<P>::t *x, const typename cuda_elem<P>::t *dy,
                             typename cuda_elem<P>::t *dx, int64_t n, int64_t c,
                             const float *mean, const float *invstd, const float *gamma,
                             const double *sums, double count)
{
    CUDA_FOR(i, n)
    {
        int64_t ch = i % c;
        float g = cuda_elem<P>::ld(dy[i]);
        float r;
        if (sums) {
            float xhat = (cuda_elem<P>::ld(x[i]) - mean[ch]) * invstd[ch];
            r = fw_bn_dx_train(g, xhat, gamma[ch], invstd[ch], sums[ch], sums[c + ch], count);
        } else {
            r = g * gamma[ch] * invstd[ch];
        }
        dx[i] = cuda_elem<P>::st(r);
    }
}

template <int P>
static void launch_apply(fw_backend *be, const void *x, void *y, int64_t n, int64_t c,
                         const float *mean, const float *invstd, const float *gamma,
                         const float *beta)
{
    typedef typename cuda_elem<P>::t T;
    bn_apply_kernel<P><<<cuda_blocks(n, 256), 256, 0, be->stream>>>((const T *)x, (T *)y, n, c,
                                                                      mean, invstd, gamma, beta);
}

template <int P>
static void launch_dx(fw_backend *be, const void *x, const void *dy, void *dx, int64_t n,
                      int64_t c, const float *mean, const float *invstd, const float *gamma,
                      const double *sums, double count)
{
    typedef typename cuda_elem<P>::t T;
    bn_dx_kernel<P><<<cuda_blocks(n, 256), 256, 0, be->stream>>>(
        (const T *)x, (const T *)dy, (T *)dx, n, c, mean, invstd, gamma, sums, count);
}

/* Running statistics: re-upload from the host only when params_updated() or
 * buffers_updated() ran and no device update is waiting for sync(). */
static int refresh_running(fw_backend *be, fw_bn *bn, fw_error *err)
{
    if (bn->rm_slot->pending || bn->rv_slot->pending) {
        bn->running_mean.gen = be->buffer_gen;
        bn->running_var.gen = be->buffer_gen;
        return 0;
    }
    FW_TRY(cuda_dparam_refresh_at(be, &bn->running_mean, be->buffer_gen, err));
    return cuda_dparam_refresh_at(be, &bn->running_var, be->buffer_gen, err);
}

/* Total n doubles at dev (device) over the ranks with the host callback. */
static int sync_sums(fw_backend *be, fw_bn *bn, double *dev, int n, fw_error *err)
{
    size_t bytes = (size_t)n * sizeof(double);
    CUDA_CHECK(cudaMemcpyAsync(bn->sums_h, dev, bytes, cudaMemcpyDeviceToHost, be->stream));
    CUDA_CHECK(cudaStreamSynchronize(be->stream));
    FW_TRY(bn->sync_fn(bn->sync_ctx, bn->sums_h, n, err));
    CUDA_CHECK(cudaMemcpyAsync(dev, bn->sums_h, bytes, cudaMemcpyHostToDevice, be->stream));
    return 0;
}

int cuda_bn_forward(fw_backend *be, fw_bn *bn, int training, const fw_tensor *x, fw_tensor *y,
                    fw_error *err)
{
    CUDA_ENTER(be);
    if (!x->defined)
        return fw_fail(err, FW_EINVAL, "bn_forward: input tensor is empty");
    if (x == y)
        return fw_fail(err, FW_EINVAL, "bn_forward: output aliases input");
    if (x->shape.c != bn->channels)
        return fw_fail(err, FW_EINVAL, "bn_forward: input has %lld channels, layer expects %d",
                       (long long)x->shape.c, bn->channels);
    int64_t c = bn->channels;
    int64_t rows = x->shape.n * x->shape.h * x->shape.w;
    if (training && rows < 2 && !bn->sync_fn)
        return fw_fail(err, FW_EINVAL,
                       "bn_forward: training needs more than 1 value per channel (got %lld)",
                       (long long)rows);
    FW_TRY(cuda_dparam_refresh(be, &bn->weight, err));
    FW_TRY(cuda_dparam_refresh(be, &bn->bias, err));
    FW_TRY(refresh_running(be, bn, err));
    FW_TRY(cuda_tensor_define(be, y, x->shape, err));
    bn->last_training = -1;
    if (training) {
        FW_TRY(cuda_channel_sums(be, CUDA_SUM_STATS, x->d, NULL, NULL, NULL, rows, c,
                                 bn->sums + 1, err));
        double count = (double)rows;
        CUDA_CHECK(cudaMemcpyAsync(bn->sums, &count, sizeof count, cudaMemcpyHostToDevice,
                                   be->stream));
        if (bn->sync_fn) {
            FW_TRY(sync_sums(be, bn, bn->sums, (int)(2 * c + 1), err));
            count = bn->sums_h[0];
            if (!(count > 1))
                return fw_fail(err, FW_EINVAL,
                               "bn_forward: training needs more than 1 value per channel "
                               "over the ranks (got %g)",
                               count);
        }
        bn->last_count = count;
        bn_train_stats_kernel<<<cuda_blocks(c, 128), 128, 0, be->stream>>>(
            bn->sums, c, bn->eps, bn->momentum, bn->mean, bn->invstd, bn->running_mean.d,
            bn->running_var.d, bn->rm_slot->d, bn->rv_slot->d);
        CUDA_LAUNCH_CHECK();
        cuda_slot_mark(bn->rm_slot, 0);
        cuda_slot_mark(bn->rv_slot, 0);
    } else {
        bn_eval_stats_kernel<<<cuda_blocks(c, 128), 128, 0, be->stream>>>(
            bn->running_mean.d, bn->running_var.d, c, bn->eps, bn->mean, bn->invstd);
        CUDA_LAUNCH_CHECK();
    }
    int64_t n = cuda_numel(x->shape);
    if (n) {
        CUDA_PREC_SWITCH(be->prec, launch_apply, be, x->d, y->d, n, c, bn->mean, bn->invstd,
                         bn->weight.d, bn->bias.d);
        CUDA_LAUNCH_CHECK();
    }
    bn->last_training = training != 0;
    return 0;
}

int cuda_bn_backward(fw_backend *be, fw_bn *bn, const fw_tensor *x, const fw_tensor *dy,
                     fw_tensor *dx, unsigned flags, fw_error *err)
{
    CUDA_ENTER(be);
    if (bn->last_training < 0)
        return fw_fail(err, FW_EINVAL, "bn_backward: no forward ran before");
    if (!x->defined || !dy->defined)
        return fw_fail(err, FW_EINVAL, "bn_backward: input tensor is empty");
    if (!cuda_shape_eq(x->shape, dy->shape))
        return fw_fail(err, FW_EINVAL, "bn_backward: x and dy shapes differ");
    if (dx && (dx == x || dx == dy))
        return fw_fail(err, FW_EINVAL, "bn_backward: dx aliases an input");
    int want_p = !(flags & FW_GRAD_SKIP_PARAMS);
    if (want_p && (!bn->dw_slot || !bn->db_slot))
        return fw_fail(err, FW_EINVAL, "bn_backward: %s has no grad buffer",
                       bn->weight.p->name);
    int64_t c = bn->channels;
    int64_t rows = x->shape.n * x->shape.h * x->shape.w;
    int training = bn->last_training;
    FW_TRY(cuda_dparam_refresh(be, &bn->weight, err));
    /* local [sum dy (C), sum dy xhat (C)] */
    FW_TRY(cuda_channel_sums(be, CUDA_SUM_GRAD, dy->d, x->d, bn->mean, bn->invstd, rows, c,
                             bn->sums, err));
    if (want_p) {
        FW_TRY(cuda_sums_to_grad(be, bn->sums + c, bn->dw_slot->d, c,
                                 cuda_slot_beta(bn->dw_slot, flags), err));
        FW_TRY(cuda_sums_to_grad(be, bn->sums, bn->db_slot->d, c,
                                 cuda_slot_beta(bn->db_slot, flags), err));
        cuda_slot_mark(bn->dw_slot, flags);
        cuda_slot_mark(bn->db_slot, flags);
    }
    if (!dx)
        return 0;
    if (training && bn->sync_fn)
        FW_TRY(sync_sums(be, bn, bn->sums, (int)(2 * c), err));
    FW_TRY(cuda_tensor_define(be, dx, x->shape, err));
    int64_t n = cuda_numel(x->shape);
    if (n) {
        CUDA_PREC_SWITCH(be->prec, launch_dx, be, x->d, dy->d, dx->d, n, c, bn->mean,
                         bn->invstd, bn->weight.d, training ? bn->sums : NULL, bn->last_count);
        CUDA_LAUNCH_CHECK();
    }
    return 0;
}
