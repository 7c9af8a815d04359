/* cpu_neck.c — the small ops of the embedding neck on (N, C, 1, 1) features,
 * own loops on plain rows: L2 normalisation over C (F.normalize) and inverted
 * dropout whose mask depends only on (seed, stream, element index).
 */
#include <stdlib.h>
#include <string.h>

#include "cpu_backend.h"
#include "cpu_kernels.h"
#include "rng.h"

int cpu_l2norm_forward(fw_backend *be, const fw_tensor *x, fw_tensor *y, float eps,
                       fw_error *err)
{
    cpu_enter(be);
    if (!x->mem)
        return fw_fail(err, FW_EINVAL, "l2norm_forward: input tensor is empty");
    if (x->shape.h != 1 || x->shape.w != 1)
        return fw_fail(err, FW_EINVAL, "l2norm_forward: input must be (N, C, 1, 1)");
    if (x == y)
        return fw_fail(err, FW_EINVAL, "l2norm_forward: output aliases input");
    const float *xd;
    float *owned, *yd;
    FW_TRY(cpu_tensor_plain_view(be, x, &xd, &owned, err));
    int rc = cpu_tensor_plain_out(be, y, x->shape, &yd, err);
    if (rc == 0)
        for (int64_t n = 0; n < x->shape.n; n++)
            fw_l2norm_forward_f(xd + n * x->shape.c, yd + n * x->shape.c, x->shape.c, eps);
    free(owned);
    return rc;
}

int cpu_l2norm_backward(fw_backend *be, const fw_tensor *x, const fw_tensor *y,
                        const fw_tensor *dy, fw_tensor *dx, float eps, fw_error *err)
{
    cpu_enter(be);
    (void)y; /* recomputed from x in double */
    if (!x->mem || !dy->mem || !cpu_shape_eq(x->shape, dy->shape))
        return fw_fail(err, FW_EINVAL, "l2norm_backward: x and dy must be non-empty, same shape");
    if (x->shape.h != 1 || x->shape.w != 1)
        return fw_fail(err, FW_EINVAL, "l2norm_backward: input must be (N, C, 1, 1)");
    if (dx == x || dx == dy)
        return fw_fail(err, FW_EINVAL, "l2norm_backward: dx aliases an input");
    const float *xd, *dyd;
    float *x_owned = NULL, *dy_owned = NULL, *dxd;
    int rc = cpu_tensor_plain_view(be, x, &xd, &x_owned, err);
    if (rc == 0)
        rc = cpu_tensor_plain_view(be, dy, &dyd, &dy_owned, err);
    if (rc == 0)
        rc = cpu_tensor_plain_out(be, dx, x->shape, &dxd, err);
    if (rc == 0)
        for (int64_t n = 0; n < x->shape.n; n++)
            fw_l2norm_backward_f(xd + n * x->shape.c, dyd + n * x->shape.c,
                                 dxd + n * x->shape.c, x->shape.c, eps);
    free(x_owned);
    free(dy_owned);
    return rc;
}

struct fw_dropout {
    float rate;
    uint64_t seed;
    int last; /* -1: no forward; 0: eval (identity); 1: training with mask */
    float *mask; /* (numel) 0 or 1/(1-rate), plain order */
    int64_t mask_cap;
    fw_shape shape;
};

int cpu_dropout_create(fw_backend *be, float rate, uint64_t seed, fw_dropout **out,
                       fw_error *err)
{
    (void)be;
    *out = NULL;
    if (!(rate >= 0 && rate < 1))
        return fw_fail(err, FW_EINVAL, "dropout_create: rate %g not in [0, 1)", (double)rate);
    fw_dropout *d = calloc(1, sizeof *d);
    if (!d)
        return fw_fail(err, FW_ENOMEM, "dropout_create: out of memory");
    d->rate = rate;
    d->seed = seed;
    d->last = -1;
    *out = d;
    return 0;
}

void cpu_dropout_destroy(fw_backend *be, fw_dropout *d)
{
    (void)be;
    if (!d)
        return;
    free(d->mask);
    free(d);
}

int cpu_dropout_forward(fw_backend *be, fw_dropout *d, int training, uint64_t stream,
                        const fw_tensor *x, fw_tensor *y, fw_error *err)
{
    cpu_enter(be);
    if (!x->mem)
        return fw_fail(err, FW_EINVAL, "dropout_forward: input tensor is empty");
    if (x == y)
        return fw_fail(err, FW_EINVAL, "dropout_forward: output aliases input");
    d->shape = x->shape;
    if (!training || d->rate == 0) {
        d->last = 0;
        return fw_backend_cpu()->tensor_copy(be, x, y, err);
    }
    int64_t n = cpu_numel(x->shape);
    if (n > d->mask_cap) {
        float *m = realloc(d->mask, (size_t)n * sizeof *m);
        if (!m)
            return fw_fail(err, FW_ENOMEM, "dropout_forward: out of memory");
        d->mask = m;
        d->mask_cap = n;
    }
    fw_rng r;
    fw_rng_init(&r, d->seed, stream);
    float scale = 1.0f / (1.0f - d->rate);
    for (int64_t i = 0; i < n; i++)
        d->mask[i] = fw_rng_uniform(&r) < d->rate ? 0.0f : scale;
    const float *xd;
    float *owned, *yd;
    FW_TRY(cpu_tensor_plain_view(be, x, &xd, &owned, err));
    int rc = cpu_tensor_plain_out(be, y, x->shape, &yd, err);
    if (rc == 0)
        for (int64_t i = 0; i < n; i++)
            yd[i] = xd[i] * d->mask[i];
    free(owned);
    d->last = rc == 0 ? 1 : -1;
    return rc;
}

int cpu_dropout_backward(fw_backend *be, fw_dropout *d, const fw_tensor *dy, fw_tensor *dx,
                         fw_error *err)
{
    cpu_enter(be);
    if (d->last < 0)
        return fw_fail(err, FW_EINVAL, "dropout_backward: no forward ran before");
    if (!dy->mem || !cpu_shape_eq(dy->shape, d->shape))
        return fw_fail(err, FW_EINVAL, "dropout_backward: dy shape does not match the forward");
    if (dx == dy)
        return fw_fail(err, FW_EINVAL, "dropout_backward: dx aliases dy");
    if (d->last == 0)
        return fw_backend_cpu()->tensor_copy(be, dy, dx, err);
    const float *dyd;
    float *owned, *dxd;
    FW_TRY(cpu_tensor_plain_view(be, dy, &dyd, &owned, err));
    int rc = cpu_tensor_plain_out(be, dx, dy->shape, &dxd, err);
    if (rc == 0)
        for (int64_t i = 0; i < cpu_numel(dy->shape); i++)
            dxd[i] = dyd[i] * d->mask[i];
    free(owned);
    return rc;
}
