/* cuda_pointwise.cu — the CUDA backend's own kernels for the small ops:
 * ReLU forward/backward, residual add, GeM pooling (learnable p), L2
 * normalisation over C and inverted dropout. Per-element math comes from
 * pointwise_math.h (unit-tested on the host); reductions run in double in a
 * fixed order, so results do not depend on the launch configuration.
 */
#include <stdlib.h>
#include <string.h>

#include "cuda_backend.h"
#include "layout_math.h"
#include "pointwise_math.h"

/* ---- ReLU and add ------------------------------------------------------------ */

template <int P>
__global__ void relu_fwd_kernel(const typename cuda_elem<P>::t *x, typename cuda_elem<P>::t *y,
                                int64_t n)
{
    CUDA_FOR(i, n)
    {
        float v = cuda_elem<P>::ld(x[i]);
        y[i] = cuda_elem<P>::st(v > 0.0f ? v : 0.0f);
    }
}

template <int P>
__global__ void relu_bwd_kernel(const typename cuda_elem<P>::t *y,
                                const typename cuda_elem<P>::t *dy,
                                typename cuda_elem<P>::t *dx, int64_t n)
{
    CUDA_FOR(i, n)
    {
        float g = cuda_elem<P>::ld(dy[i]);
        dx[i] = cuda_elem<P>::st(cuda_elem<P>::ld(y[i]) > 0.0f ? g : 0.0f);
    }
}

template <int P>
__global__ void add_kernel(const typename cuda_elem<P>::t *a, const typename cuda_elem<P>::t *b,
                           typename cuda_elem<P>::t *y, int64_t n)
{
    CUDA_FOR(i, n)
    y[i] = cuda_elem<P>::st(cuda_elem<P>::ld(a[i]) + cuda_elem<P>::ld(b[i]));
}

template <int P> static void launch_relu_fwd(fw_backend *be, const void *x, void *y, int64_t n)
{
    typedef typename cuda_elem<P>::t T;
    relu_fwd_kernel<P><<<cuda_blocks(n, 256), 256, 0, be->stream>>>((const T *)x, (T *)y, n);
}

template <int P>
static void launch_relu_bwd(fw_backend *be, const void *y, const void *dy, void *dx, int64_t n)
{
    typedef typename cuda_elem<P>::t T;
    relu_bwd_kernel<P><<<cuda_blocks(n, 256), 256, 0, be->stream>>>((const T *)y, (const T *)dy,
                                                                      (T *)dx, n);
}

template <int P>
static void launch_add(fw_backend *be, const void *a, const void *b, void *y, int64_t n)
{
    typedef typename cuda_elem<P>::t T;
    add_kernel<P><<<cuda_blocks(n, 256), 256, 0, be->stream>>>((const T *)a, (const T *)b,
                                                                 (T *)y, n);
}

int cuda_relu_forward(fw_backend *be, const fw_tensor *x, fw_tensor *y, fw_error *err)
{
    CUDA_ENTER(be);
    if (!x->defined)
        return fw_fail(err, FW_EINVAL, "relu_forward: input tensor is empty");
    if (y != x)
        FW_TRY(cuda_tensor_define(be, y, x->shape, err));
    int64_t n = cuda_numel(x->shape);
    if (n) {
        CUDA_PREC_SWITCH(be->prec, launch_relu_fwd, be, x->d, y->d, n);
        CUDA_LAUNCH_CHECK();
    }
    return 0;
}

int cuda_relu_backward(fw_backend *be, const fw_tensor *y, const fw_tensor *dy, fw_tensor *dx,
                       fw_error *err)
{
    CUDA_ENTER(be);
    if (!y->defined || !dy->defined)
        return fw_fail(err, FW_EINVAL, "relu_backward: input tensor is empty");
    if (!cuda_shape_eq(y->shape, dy->shape))
        return fw_fail(err, FW_EINVAL, "relu_backward: y and dy shapes differ");
    if (dx == y)
        return fw_fail(err, FW_EINVAL, "relu_backward: dx aliases y");
    if (dx != dy)
        FW_TRY(cuda_tensor_define(be, dx, y->shape, err));
    int64_t n = cuda_numel(y->shape);
    if (n) {
        CUDA_PREC_SWITCH(be->prec, launch_relu_bwd, be, y->d, dy->d, dx->d, n);
        CUDA_LAUNCH_CHECK();
    }
    return 0;
}

int cuda_add(fw_backend *be, const fw_tensor *a, const fw_tensor *b, fw_tensor *y, fw_error *err)
{
    CUDA_ENTER(be);
    if (!a->defined || !b->defined)
        return fw_fail(err, FW_EINVAL, "add: input tensor is empty");
    if (!cuda_shape_eq(a->shape, b->shape))
        return fw_fail(err, FW_EINVAL,
                       "add: shapes differ (%lld,%lld,%lld,%lld) vs (%lld,%lld,%lld,%lld)",
                       (long long)a->shape.n, (long long)a->shape.c, (long long)a->shape.h,
                       (long long)a->shape.w, (long long)b->shape.n, (long long)b->shape.c,
                       (long long)b->shape.h, (long long)b->shape.w);
    if (y != a && y != b)
        FW_TRY(cuda_tensor_define(be, y, a->shape, err));
    int64_t n = cuda_numel(a->shape);
    if (n) {
        CUDA_PREC_SWITCH(be->prec, launch_add, be, a->d, b->d, y->d, n);
        CUDA_LAUNCH_CHECK();
    }
    return 0;
}

/* ---- GeM ------------------------------------------------------------------------ */

struct fw_gem {
    cuda_dparam p;
    cuda_slot *dp_slot;
    float eps;
    double *dp_part; /* (N, C) per-plane dL/dp */
    size_t dp_cap;
};

int cuda_gem_create(fw_backend *be, fw_param *p, float eps, fw_gem **out, fw_error *err)
{
    *out = NULL;
    CUDA_ENTER(be);
    if (!p || p->numel != 1 || !p->data)
        return fw_fail(err, FW_EINVAL, "gem_create: p must be a 1-element parameter");
    if (!(eps > 0))
        return fw_fail(err, FW_EINVAL, "gem_create: eps must be > 0");
    fw_gem *g = (fw_gem *)calloc(1, sizeof *g);
    if (!g)
        return fw_fail(err, FW_ENOMEM, "gem_create: out of memory");
    g->eps = eps;
    int rc = cuda_dparam_init(be, &g->p, p, err);
    if (rc == 0 && p->grad)
        rc = cuda_slot_create(be, p, 1, &g->dp_slot, err);
    if (rc < 0) {
        cuda_gem_destroy(be, g);
        return rc;
    }
    *out = g;
    return 0;
}

void cuda_gem_destroy(fw_backend *be, fw_gem *g)
{
    if (!g)
        return;
    cuda_enter_quiet(be);
    cuda_dparam_free(be, &g->p);
    cuda_slot_destroy(be, g->dp_slot);
    if (g->dp_part)
        cudaFree(g->dp_part);
    free(g);
}

/* x (N, HW, C) NHWC; one thread per (n, c). */
template <int P>
__global__ void gem_fwd_kernel(const typename cuda_elem<P>::t *x, typename cuda_elem<P>::t *y,
                               int64_t n, int64_t c, int64_t hw, const float *p_dev, float eps)
{
    float p = *p_dev;
    CUDA_FOR(i, n * c)
    {
        int64_t img = i / c, ch = i % c;
        const typename cuda_elem<P>::t *px = x + img * hw * c + ch;
        double acc = 0;
        for (int64_t k = 0; k < hw; k++)
            acc += fw_gem_pow(cuda_elem<P>::ld(px[k * c]), p, eps);
        y[i] = cuda_elem<P>::st(fw_gem_value(acc, hw, p));
    }
}

template <int P>
__global__ void gem_bwd_kernel(const typename cuda_elem<P>::t *x,
                               const typename cuda_elem<P>::t *dy, typename cuda_elem<P>::t *dx,
                               double *dp_part, int64_t n, int64_t c, int64_t hw,
                               const float *p_dev, float eps)
{
    float p = *p_dev;
    CUDA_FOR(i, n * c)
    {
        int64_t img = i / c, ch = i % c;
        const typename cuda_elem<P>::t *px = x + img * hw * c + ch;
        double acc = 0, acc_log = 0;
        for (int64_t k = 0; k < hw; k++) {
            float z = fw_gem_clamp(cuda_elem<P>::ld(px[k * c]), eps);
            float zp = powf(z, p);
            acc += zp;
            acc_log += (double)zp * (double)logf(z);
        }
        double m = acc / (double)hw, s = acc_log / (double)hw;
        float g = cuda_elem<P>::ld(dy[i]);
        float yv = powf((float)m, 1.0f / p);
        if (dx) {
            float coef = fw_gem_coef(g, m, p, hw);
            typename cuda_elem<P>::t *pdx = dx + img * hw * c + ch;
            for (int64_t k = 0; k < hw; k++)
                pdx[k * c] = cuda_elem<P>::st(fw_gem_dx(cuda_elem<P>::ld(px[k * c]), coef, p, eps));
        }
        dp_part[i] = fw_gem_dp(g, yv, m, s, p);
    }
}

/* Sum the (N, C) plane contributions in the CPU backend's order; one thread. */
__global__ void gem_dp_reduce_kernel(const double *part, int64_t n, int64_t c, float *grad,
                                     float beta)
{
    if (blockIdx.x != 0 || threadIdx.x != 0)
        return;
    double total = 0;
    for (int64_t i = 0; i < n; i++) {
        double img = 0;
        for (int64_t k = 0; k < c; k++)
            img += part[i * c + k];
        total += img;
    }
    grad[0] = beta != 0.0f ? (float)total + beta * grad[0] : (float)total;
}

template <int P>
static void launch_gem_fwd(fw_backend *be, const void *x, void *y, fw_shape s, const float *p,
                           float eps)
{
    typedef typename cuda_elem<P>::t T;
    gem_fwd_kernel<P><<<cuda_blocks(s.n * s.c, 128), 128, 0, be->stream>>>(
        (const T *)x, (T *)y, s.n, s.c, s.h * s.w, p, eps);
}

template <int P>
static void launch_gem_bwd(fw_backend *be, const void *x, const void *dy, void *dx,
                           double *part, fw_shape s, const float *p, float eps)
{
    typedef typename cuda_elem<P>::t T;
    gem_bwd_kernel<P><<<cuda_blocks(s.n * s.c, 128), 128, 0, be->stream>>>(
        (const T *)x, (const T *)dy, (T *)dx, part, s.n, s.c, s.h * s.w, p, eps);
}

int cuda_gem_forward(fw_backend *be, fw_gem *g, const fw_tensor *x, fw_tensor *y, fw_error *err)
{
    CUDA_ENTER(be);
    if (!x->defined || cuda_numel(x->shape) == 0)
        return fw_fail(err, FW_EINVAL, "gem_forward: input tensor is empty");
    if (x == y)
        return fw_fail(err, FW_EINVAL, "gem_forward: output aliases input");
    FW_TRY(cuda_dparam_refresh(be, &g->p, err));
    FW_TRY(cuda_tensor_define(be, y, (fw_shape){x->shape.n, x->shape.c, 1, 1}, err));
    CUDA_PREC_SWITCH(be->prec, launch_gem_fwd, be, x->d, y->d, x->shape, g->p.d, g->eps);
    CUDA_LAUNCH_CHECK();
    return 0;
}

int cuda_gem_backward(fw_backend *be, fw_gem *g, const fw_tensor *x, const fw_tensor *y,
                      const fw_tensor *dy, fw_tensor *dx, unsigned flags, fw_error *err)
{
    CUDA_ENTER(be);
    (void)y; /* recomputed from x in double, like the CPU backend */
    if (!x->defined || !dy->defined)
        return fw_fail(err, FW_EINVAL, "gem_backward: input tensor is empty");
    if (dy->shape.n != x->shape.n || dy->shape.c != x->shape.c || dy->shape.h != 1 ||
        dy->shape.w != 1)
        return fw_fail(err, FW_EINVAL, "gem_backward: dy must be (N, C, 1, 1) of x's N, C");
    if (dx && (dx == x || dx == dy))
        return fw_fail(err, FW_EINVAL, "gem_backward: dx aliases an input");
    int want_p = !(flags & FW_GRAD_SKIP_PARAMS);
    if (want_p && !g->dp_slot)
        return fw_fail(err, FW_EINVAL, "gem_backward: %s has no grad buffer", g->p.p->name);
    if (!dx && !want_p)
        return 0;
    FW_TRY(cuda_dparam_refresh(be, &g->p, err));
    FW_TRY(cuda_grow((void **)&g->dp_part, &g->dp_cap,
                     (size_t)(x->shape.n * x->shape.c) * sizeof(double), err));
    if (dx)
        FW_TRY(cuda_tensor_define(be, dx, x->shape, err));
    CUDA_PREC_SWITCH(be->prec, launch_gem_bwd, be, x->d, dy->d, dx ? dx->d : NULL, g->dp_part,
                     x->shape, g->p.d, g->eps);
    CUDA_LAUNCH_CHECK();
    if (want_p) {
        gem_dp_reduce_kernel<<<1, 1, 0, be->stream>>>(g->dp_part, x->shape.n, x->shape.c,
                                                      g->dp_slot->d,
                                                      cuda_slot_beta(g->dp_slot, flags));
        CUDA_LAUNCH_CHECK();
        cuda_slot_mark(g->dp_slot, flags);
    }
    return 0;
}

/* ---- L2 normalisation (one thread per row) -------------------------------------- */

template <int P>
__global__ void l2norm_fwd_kernel(const typename cuda_elem<P>::t *x, typename cuda_elem<P>::t *y,
                                  int64_t n, int64_t c, float eps)
{
    CUDA_FOR(row, n)
    {
        const typename cuda_elem<P>::t *px = x + row * c;
        double ss = 0;
        for (int64_t k = 0; k < c; k++) {
            double v = cuda_elem<P>::ld(px[k]);
            ss += v * v;
        }
        double d = fw_l2norm_denom(ss, eps);
        for (int64_t k = 0; k < c; k++)
            y[row * c + k] = cuda_elem<P>::st((float)((double)cuda_elem<P>::ld(px[k]) / d));
    }
}

template <int P>
__global__ void l2norm_bwd_kernel(const typename cuda_elem<P>::t *x,
                                  const typename cuda_elem<P>::t *dy,
                                  typename cuda_elem<P>::t *dx, int64_t n, int64_t c, float eps)
{
    CUDA_FOR(row, n)
    {
        const typename cuda_elem<P>::t *px = x + row * c, *pdy = dy + row * c;
        double ss = 0, xdy = 0;
        for (int64_t k = 0; k < c; k++) {
            double v = cuda_elem<P>::ld(px[k]);
            ss += v * v;
            xdy += v * (double)cuda_elem<P>::ld(pdy[k]);
        }
        for (int64_t k = 0; k < c; k++)
            dx[row * c + k] = cuda_elem<P>::st(
                fw_l2norm_dx(cuda_elem<P>::ld(pdy[k]), cuda_elem<P>::ld(px[k]), xdy, ss, eps));
    }
}

template <int P>
static void launch_l2_fwd(fw_backend *be, const void *x, void *y, fw_shape s, float eps)
{
    typedef typename cuda_elem<P>::t T;
    l2norm_fwd_kernel<P><<<cuda_blocks(s.n, 64), 64, 0, be->stream>>>((const T *)x, (T *)y, s.n,
                                                                        s.c, eps);
}

template <int P>
static void launch_l2_bwd(fw_backend *be, const void *x, const void *dy, void *dx, fw_shape s,
                          float eps)
{
    typedef typename cuda_elem<P>::t T;
    l2norm_bwd_kernel<P><<<cuda_blocks(s.n, 64), 64, 0, be->stream>>>(
        (const T *)x, (const T *)dy, (T *)dx, s.n, s.c, eps);
}

int cuda_l2norm_forward(fw_backend *be, const fw_tensor *x, fw_tensor *y, float eps,
                        fw_error *err)
{
    CUDA_ENTER(be);
    if (!x->defined)
        return fw_fail(err, FW_EINVAL, "l2norm_forward: input tensor is empty");
    if (x->shape.h != 1 || x->shape.w != 1)
        return fw_fail(err, FW_EINVAL, "l2norm_forward: input must be (N, C, 1, 1)");
    if (x == y)
        return fw_fail(err, FW_EINVAL, "l2norm_forward: output aliases input");
    FW_TRY(cuda_tensor_define(be, y, x->shape, err));
    if (x->shape.n) {
        CUDA_PREC_SWITCH(be->prec, launch_l2_fwd, be, x->d, y->d, x->shape, eps);
        CUDA_LAUNCH_CHECK();
    }
    return 0;
}

int cuda_l2norm_backward(fw_backend *be, const fw_tensor *x, const fw_tensor *y,
                         const fw_tensor *dy, fw_tensor *dx, float eps, fw_error *err)
{
    CUDA_ENTER(be);
    (void)y; /* recomputed from x in double */
    if (!x->defined || !dy->defined || !cuda_shape_eq(x->shape, dy->shape))
        return fw_fail(err, FW_EINVAL, "l2norm_backward: x and dy must be non-empty, same shape");
    if (x->shape.h != 1 || x->shape.w != 1)
        return fw_fail(err, FW_EINVAL, "l2norm_backward: input must be (N, C, 1, 1)");
    if (dx == x || dx == dy)
        return fw_fail(err, FW_EINVAL, "l2norm_backward: dx aliases an input");
    FW_TRY(cuda_tensor_define(be, dx, x->shape, err));
    if (x->shape.n) {
        CUDA_PREC_SWITCH(be->prec, launch_l2_bwd, be, x->d, dy->d, dx->d, x->shape, eps);
        CUDA_LAUNCH_CHECK();
    }
    return 0;
}

/* ---- dropout ---------------------------------------------------------------------- */

/* The mask is drawn on the host with the CPU backend's sequential generator
 * (pointwise_math.h's fw_dropout_fill_keep) and uploaded as one byte per
 * element, so CPU and GPU masks are identical bit for bit. */
struct fw_dropout {
    float rate;
    uint64_t seed;
    int last; /* -1: no forward; 0: eval (identity); 1: training with mask */
    fw_shape shape;
    uint8_t *keep_h; /* pinned (cap) */
    uint8_t *keep_d; /* device (cap), plain (N, C, H, W) order */
    size_t cap;
};

int cuda_dropout_create(fw_backend *be, float rate, uint64_t seed, fw_dropout **out,
                        fw_error *err)
{
    CUDA_ENTER(be);
    *out = NULL;
    if (!(rate >= 0 && rate < 1))
        return fw_fail(err, FW_EINVAL, "dropout_create: rate %g not in [0, 1)", (double)rate);
    fw_dropout *d = (fw_dropout *)calloc(1, sizeof *d);
    if (!d)
        return fw_fail(err, FW_ENOMEM, "dropout_create: out of memory");
    d->rate = rate;
    d->seed = seed;
    d->last = -1;
    *out = d;
    return 0;
}

void cuda_dropout_destroy(fw_backend *be, fw_dropout *d)
{
    if (!d)
        return;
    cuda_enter_quiet(be);
    if (d->keep_h)
        cudaFreeHost(d->keep_h);
    if (d->keep_d)
        cudaFree(d->keep_d);
    free(d);
}

/* y = x * factor(keep) at NHWC position i; the mask is in plain order. */
template <int P>
__global__ void dropout_kernel(const typename cuda_elem<P>::t *x, typename cuda_elem<P>::t *y,
                               const uint8_t *keep, fw_shape s, float scale)
{
    CUDA_FOR(i, s.n * s.c * s.h * s.w)
    {
        float f = keep[fw_nhwc_to_plain(i, s.c, s.h, s.w)] ? scale : 0.0f;
        y[i] = cuda_elem<P>::st(cuda_elem<P>::ld(x[i]) * f);
    }
}

template <int P>
static void launch_dropout(fw_backend *be, const void *x, void *y, const uint8_t *keep,
                           fw_shape s, float scale)
{
    typedef typename cuda_elem<P>::t T;
    dropout_kernel<P><<<cuda_blocks(cuda_numel(s), 256), 256, 0, be->stream>>>(
        (const T *)x, (T *)y, keep, s, scale);
}

int cuda_dropout_forward(fw_backend *be, fw_dropout *d, int training, uint64_t stream,
                         const fw_tensor *x, fw_tensor *y, fw_error *err)
{
    CUDA_ENTER(be);
    if (!x->defined)
        return fw_fail(err, FW_EINVAL, "dropout_forward: input tensor is empty");
    if (x == y)
        return fw_fail(err, FW_EINVAL, "dropout_forward: output aliases input");
    d->shape = x->shape;
    if (!training || d->rate == 0) {
        d->last = 0;
        return cuda_tensor_copy(be, x, y, err);
    }
    d->last = -1;
    int64_t n = cuda_numel(x->shape);
    if (n == 0) {
        FW_TRY(cuda_tensor_define(be, y, x->shape, err));
        d->last = 0;
        return 0;
    }
    if ((size_t)n > d->cap) {
        /* the old pinned mask may still feed a queued copy */
        CUDA_CHECK(cudaStreamSynchronize(be->stream));
        if (d->keep_h)
            CUDA_CHECK(cudaFreeHost(d->keep_h));
        d->keep_h = NULL;
        d->cap = 0;
        size_t dcap = 0;
        FW_TRY(cuda_grow((void **)&d->keep_d, &dcap, (size_t)n, err));
        CUDA_CHECK(cudaMallocHost((void **)&d->keep_h, (size_t)n));
        d->cap = (size_t)n;
    } else {
        CUDA_CHECK(cudaStreamSynchronize(be->stream)); /* keep_h reused */
    }
    fw_dropout_fill_keep(d->seed, stream, d->rate, n, d->keep_h);
    CUDA_CHECK(cudaMemcpyAsync(d->keep_d, d->keep_h, (size_t)n, cudaMemcpyHostToDevice,
                               be->stream));
    FW_TRY(cuda_tensor_define(be, y, x->shape, err));
    if (n) {
        CUDA_PREC_SWITCH(be->prec, launch_dropout, be, x->d, y->d, d->keep_d, x->shape,
                         1.0f / (1.0f - d->rate));
        CUDA_LAUNCH_CHECK();
    }
    d->last = 1;
    return 0;
}

int cuda_dropout_backward(fw_backend *be, fw_dropout *d, const fw_tensor *dy, fw_tensor *dx,
                          fw_error *err)
{
    CUDA_ENTER(be);
    if (d->last < 0)
        return fw_fail(err, FW_EINVAL, "dropout_backward: no forward ran before");
    if (!dy->defined || !cuda_shape_eq(dy->shape, d->shape))
        return fw_fail(err, FW_EINVAL, "dropout_backward: dy shape does not match the forward");
    if (dx == dy)
        return fw_fail(err, FW_EINVAL, "dropout_backward: dx aliases dy");
    if (d->last == 0)
        return cuda_tensor_copy(be, dy, dx, err);
    FW_TRY(cuda_tensor_define(be, dx, dy->shape, err));
    if (cuda_numel(dy->shape)) {
        CUDA_PREC_SWITCH(be->prec, launch_dropout, be, dy->d, dx->d, d->keep_d, dy->shape,
                         1.0f / (1.0f - d->rate));
        CUDA_LAUNCH_CHECK();
    }
    return 0;
}
