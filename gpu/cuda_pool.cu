/* cuda_pool.cu — max and average pooling (PyTorch floor mode; padding counts
 * as -inf for max and as zeros for average, count_include_pad=True) and
 * global pooling, on own NHWC kernels. Max pooling keeps the argmax (the
 * first maximum in window order; a NaN wins, as in PyTorch) of the last forward;
 * both backward passes GATHER into each input element from the windows that
 * contain it (no atomics), so gradients are deterministic. Own kernels rather
 * than cuDNN: cuDNN's pooling backward needs the forward's x and y, which the
 * interface's pool_backward does not pass.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_backend.h"
#include "layout_math.h"

struct fw_pool {
    fw_pool_desc d;
    int have_last;
    fw_shape in, out; /* of the last forward */
    int kh, kw, sh, sw, ph, pw;
    int32_t *argmax; /* device (out numel): flat h * W + w of the max in the input plane */
    size_t argmax_cap;
};

int cuda_pool_create(fw_backend *be, const fw_pool_desc *desc, fw_pool **out, fw_error *err)
{
    CUDA_ENTER(be);
    *out = NULL;
    const fw_pool_desc *d = desc;
    if (d->kind != FW_POOL_MAX && d->kind != FW_POOL_AVG)
        return fw_fail(err, FW_EINVAL, "pool_create: unknown kind %d", (int)d->kind);
    if (!d->global && (d->kernel_h <= 0 || d->kernel_w <= 0 || d->stride_h <= 0 ||
                       d->stride_w <= 0 || d->pad_h < 0 || d->pad_w < 0 ||
                       2 * d->pad_h > d->kernel_h || 2 * d->pad_w > d->kernel_w))
        return fw_fail(err, FW_EINVAL,
                       "pool_create: bad kernel/stride/padding (padding must be <= kernel/2)");
    fw_pool *p = (fw_pool *)calloc(1, sizeof *p);
    if (!p)
        return fw_fail(err, FW_ENOMEM, "pool_create: out of memory");
    p->d = *d;
    *out = p;
    return 0;
}

void cuda_pool_destroy(fw_backend *be, fw_pool *p)
{
    if (!p)
        return;
    cuda_enter_quiet(be);
    if (p->argmax)
        cudaFree(p->argmax);
    free(p);
}

typedef struct pool_geo {
    int64_t n, c, h, w, oh, ow;
    int kh, kw, sh, sw, ph, pw;
} pool_geo;

template <int P, int MAX>
__global__ void pool_fwd_kernel(const typename cuda_elem<P>::t *x, typename cuda_elem<P>::t *y,
                                int32_t *argmax, pool_geo g)
{
    CUDA_FOR(i, g.n * g.oh * g.ow * g.c)
    {
        int64_t ch = i % g.c, r = i / g.c;
        int64_t ox = r % g.ow, oy = (r / g.ow) % g.oh, img = r / (g.ow * g.oh);
        int64_t y0 = oy * g.sh - g.ph, x0 = ox * g.sw - g.pw;
        const typename cuda_elem<P>::t *plane = x + img * g.h * g.w * g.c + ch;
        if (MAX) {
            float best = -INFINITY;
            int32_t where = -1;
            for (int ky = 0; ky < g.kh; ky++) {
                int64_t yy = y0 + ky;
                if (yy < 0 || yy >= g.h)
                    continue;
                for (int kx = 0; kx < g.kw; kx++) {
                    int64_t xx = x0 + kx;
                    if (xx < 0 || xx >= g.w)
                        continue;
                    float v = cuda_elem<P>::ld(plane[(yy * g.w + xx) * g.c]);
                    if (where < 0 || v > best || isnan(v)) {
                        best = v;
                        where = (int32_t)(yy * g.w + xx);
                    }
                }
            }
            y[i] = cuda_elem<P>::st(best);
            argmax[i] = where;
        } else {
            float sum = 0;
            for (int ky = 0; ky < g.kh; ky++) {
                int64_t yy = y0 + ky;
                if (yy < 0 || yy >= g.h)
                    continue;
                for (int kx = 0; kx < g.kw; kx++) {
                    int64_t xx = x0 + kx;
                    if (xx >= 0 && xx < g.w)
                        sum += cuda_elem<P>::ld(plane[(yy * g.w + xx) * g.c]);
                }
            }
            y[i] = cuda_elem<P>::st(sum / (float)(g.kh * g.kw));
        }
    }
}

template <int P, int MAX>
__global__ void pool_bwd_kernel(const typename cuda_elem<P>::t *dy, typename cuda_elem<P>::t *dx,
                                const int32_t *argmax, pool_geo g)
{
    CUDA_FOR(i, g.n * g.h * g.w * g.c)
    {
        int64_t ch = i % g.c, r = i / g.c;
        int64_t xx = r % g.w, yy = (r / g.w) % g.h, img = r / (g.w * g.h);
        int64_t oy0, oy1, ox0, ox1;
        fw_pool_covering(yy, g.kh, g.sh, g.ph, g.oh, &oy0, &oy1);
        fw_pool_covering(xx, g.kw, g.sw, g.pw, g.ow, &ox0, &ox1);
        int32_t me = (int32_t)(yy * g.w + xx);
        float acc = 0;
        for (int64_t oy = oy0; oy <= oy1; oy++)
            for (int64_t ox = ox0; ox <= ox1; ox++) {
                int64_t o = ((img * g.oh + oy) * g.ow + ox) * g.c + ch;
                if (MAX) {
                    if (argmax[o] == me)
                        acc += cuda_elem<P>::ld(dy[o]);
                } else {
                    acc += cuda_elem<P>::ld(dy[o]);
                }
            }
        dx[i] = cuda_elem<P>::st(MAX ? acc : acc / (float)(g.kh * g.kw));
    }
}

template <int P>
static void launch_fwd(fw_backend *be, int max, const void *x, void *y, int32_t *argmax,
                       pool_geo g)
{
    typedef typename cuda_elem<P>::t T;
    int64_t n = g.n * g.oh * g.ow * g.c;
    if (max)
        pool_fwd_kernel<P, 1><<<cuda_blocks(n, 256), 256, 0, be->stream>>>((const T *)x, (T *)y,
                                                                             argmax, g);
    else
        pool_fwd_kernel<P, 0><<<cuda_blocks(n, 256), 256, 0, be->stream>>>((const T *)x, (T *)y,
                                                                             argmax, g);
}

template <int P>
static void launch_bwd(fw_backend *be, int max, const void *dy, void *dx, const int32_t *argmax,
                       pool_geo g)
{
    typedef typename cuda_elem<P>::t T;
    int64_t n = g.n * g.h * g.w * g.c;
    if (max)
        pool_bwd_kernel<P, 1><<<cuda_blocks(n, 256), 256, 0, be->stream>>>((const T *)dy,
                                                                             (T *)dx, argmax, g);
    else
        pool_bwd_kernel<P, 0><<<cuda_blocks(n, 256), 256, 0, be->stream>>>((const T *)dy,
                                                                             (T *)dx, argmax, g);
}

static void geometry(const fw_pool *p, fw_shape in, pool_geo *g)
{
    const fw_pool_desc *d = &p->d;
    g->n = in.n;
    g->c = in.c;
    g->h = in.h;
    g->w = in.w;
    if (d->global) {
        g->kh = (int)in.h;
        g->kw = (int)in.w;
        g->sh = g->sw = 1;
        g->ph = g->pw = 0;
    } else {
        g->kh = d->kernel_h;
        g->kw = d->kernel_w;
        g->sh = d->stride_h;
        g->sw = d->stride_w;
        g->ph = d->pad_h;
        g->pw = d->pad_w;
    }
    g->oh = (in.h + 2 * g->ph - g->kh) / g->sh + 1;
    g->ow = (in.w + 2 * g->pw - g->kw) / g->sw + 1;
}

int cuda_pool_forward(fw_backend *be, fw_pool *p, const fw_tensor *x, fw_tensor *y,
                      fw_error *err)
{
    CUDA_ENTER(be);
    if (!x->defined)
        return fw_fail(err, FW_EINVAL, "pool_forward: input tensor is empty");
    if (x == y)
        return fw_fail(err, FW_EINVAL, "pool_forward: output aliases input");
    pool_geo g;
    geometry(p, x->shape, &g);
    if (x->shape.n <= 0 || x->shape.h <= 0 || x->shape.w <= 0 ||
        x->shape.h + 2 * g.ph < g.kh || x->shape.w + 2 * g.pw < g.kw)
        return fw_fail(err, FW_EINVAL, "pool_forward: input %lldx%lld too small for kernel %dx%d",
                       (long long)x->shape.h, (long long)x->shape.w, g.kh, g.kw);
    p->have_last = 0;
    fw_shape o = {g.n, g.c, g.oh, g.ow};
    FW_TRY(cuda_tensor_define(be, y, o, err));
    int max = p->d.kind == FW_POOL_MAX;
    if (max)
        FW_TRY(cuda_grow((void **)&p->argmax, &p->argmax_cap,
                         (size_t)cuda_numel(o) * sizeof(int32_t), err));
    if (cuda_numel(o)) {
        CUDA_PREC_SWITCH(be->prec, launch_fwd, be, max, x->d, y->d, p->argmax, g);
        CUDA_LAUNCH_CHECK();
    }
    p->in = x->shape;
    p->out = o;
    p->have_last = 1;
    return 0;
}

int cuda_pool_backward(fw_backend *be, fw_pool *p, const fw_tensor *dy, fw_tensor *dx,
                       fw_error *err)
{
    CUDA_ENTER(be);
    if (!p->have_last)
        return fw_fail(err, FW_EINVAL, "pool_backward: no forward ran before");
    if (!dy->defined)
        return fw_fail(err, FW_EINVAL, "pool_backward: dy is empty");
    if (dx == dy)
        return fw_fail(err, FW_EINVAL, "pool_backward: dx aliases dy");
    if (!cuda_shape_eq(dy->shape, p->out))
        return fw_fail(err, FW_EINVAL, "pool_backward: dy shape does not match the output");
    pool_geo g;
    geometry(p, p->in, &g);
    FW_TRY(cuda_tensor_define(be, dx, p->in, err));
    if (cuda_numel(p->in)) {
        CUDA_PREC_SWITCH(be->prec, launch_bwd, be, p->d.kind == FW_POOL_MAX, dy->d, dx->d,
                         p->argmax, g);
        CUDA_LAUNCH_CHECK();
    }
    return 0;
}
