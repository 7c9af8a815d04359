/* cpu_linear.c — fully connected layer y = x W^T + b (nn.Linear layout:
 * W (out, in)) through oneDNN's sgemm, with backward dx = dy W,
 * dW = dy^T x, db = sum_n dy. The input is flattened like torch.flatten(x, 1).
 */
#include <stdlib.h>
#include <string.h>

#include "cpu_backend.h"

struct fw_linear {
    int in, out;
    fw_param *weight, *bias;
};

int cpu_linear_create(fw_backend *be, int in_features, int out_features, fw_param *weight,
                      fw_param *bias, fw_linear **out, fw_error *err)
{
    (void)be;
    *out = NULL;
    if (in_features <= 0 || out_features <= 0)
        return fw_fail(err, FW_EINVAL, "linear_create: bad feature counts %d -> %d",
                       in_features, out_features);
    if (!weight || weight->numel != (int64_t)in_features * out_features || !weight->data)
        return fw_fail(err, FW_EINVAL, "linear_create: weight %s has %lld elements, expected %lld",
                       weight ? weight->name : "(null)", weight ? (long long)weight->numel : 0LL,
                       (long long)in_features * out_features);
    if (bias && bias->numel != out_features)
        return fw_fail(err, FW_EINVAL, "linear_create: bias %s has %lld elements, expected %d",
                       bias->name, (long long)bias->numel, out_features);
    fw_linear *l = calloc(1, sizeof *l);
    if (!l)
        return fw_fail(err, FW_ENOMEM, "linear_create: out of memory");
    l->in = in_features;
    l->out = out_features;
    l->weight = weight;
    l->bias = bias;
    *out = l;
    return 0;
}

void cpu_linear_destroy(fw_backend *be, fw_linear *l)
{
    (void)be;
    free(l);
}

static int check_input(const fw_linear *l, const fw_tensor *x, fw_error *err)
{
    if (!x->mem || x->shape.n <= 0)
        return fw_fail(err, FW_EINVAL, "linear: input tensor is empty");
    if (x->shape.c * x->shape.h * x->shape.w != l->in)
        return fw_fail(err, FW_EINVAL, "linear: input has %lld features, layer expects %d",
                       (long long)(x->shape.c * x->shape.h * x->shape.w), l->in);
    return 0;
}

#define SGEMM_CHECK(call, err)                                                        \
    do {                                                                              \
        dnnl_status_t st_ = (call);                                                   \
        if (st_ != dnnl_success) {                                                    \
            rc = fw_fail((err), FW_EDEVICE, "%s:%d: %s failed: %s", __FILE__, __LINE__, \
                         #call, fw_dnnl_status_name(st_));                            \
            goto done;                                                                \
        }                                                                             \
    } while (0)

int cpu_linear_forward(fw_backend *be, fw_linear *l, const fw_tensor *x, fw_tensor *y,
                       fw_error *err)
{
    cpu_enter(be);
    FW_TRY(check_input(l, x, err));
    if (x == y)
        return fw_fail(err, FW_EINVAL, "linear_forward: output aliases input");
    const float *xd;
    float *owned, *yd;
    FW_TRY(cpu_tensor_plain_view(be, x, &xd, &owned, err));
    int64_t nb = x->shape.n;
    int rc = cpu_tensor_plain_out(be, y, (fw_shape){nb, l->out, 1, 1}, &yd, err);
    if (rc < 0)
        goto done;
    /* y (N, out) = x (N, in) . W^T (in, out) */
    SGEMM_CHECK(dnnl_sgemm('N', 'T', nb, l->out, l->in, 1.0f, xd, l->in, l->weight->data,
                           l->in, 0.0f, yd, l->out),
                err);
    if (l->bias)
        for (int64_t n = 0; n < nb; n++)
            cpu_axpy1(yd + n * l->out, l->bias->data, l->out);
done:
    free(owned);
    return rc;
}

int cpu_linear_backward(fw_backend *be, fw_linear *l, const fw_tensor *x, const fw_tensor *dy,
                        fw_tensor *dx, unsigned flags, fw_error *err)
{
    cpu_enter(be);
    FW_TRY(check_input(l, x, err));
    int64_t nb = x->shape.n;
    if (!dy->mem || dy->shape.n != nb || dy->shape.c * dy->shape.h * dy->shape.w != l->out)
        return fw_fail(err, FW_EINVAL, "linear_backward: dy must be (%lld, %d)", (long long)nb,
                       l->out);
    if (dx && (dx == x || dx == dy))
        return fw_fail(err, FW_EINVAL, "linear_backward: dx aliases an input");
    int want_p = !(flags & FW_GRAD_SKIP_PARAMS);
    if (want_p && (!l->weight->grad || (l->bias && !l->bias->grad)))
        return fw_fail(err, FW_EINVAL, "linear_backward: %s has no grad buffer",
                       l->weight->name);
    const float *xd, *dyd;
    float *x_owned = NULL, *dy_owned = NULL;
    int rc = cpu_tensor_plain_view(be, dy, &dyd, &dy_owned, err);
    if (rc < 0)
        goto done;
    if (want_p) {
        rc = cpu_tensor_plain_view(be, x, &xd, &x_owned, err);
        if (rc < 0)
            goto done;
        float beta = (flags & FW_GRAD_ACCUMULATE) ? 1.0f : 0.0f;
        /* dW (out, in) = dy^T (out, N) . x (N, in) */
        SGEMM_CHECK(dnnl_sgemm('T', 'N', l->out, l->in, nb, 1.0f, dyd, l->out, xd, l->in, beta,
                               l->weight->grad, l->in),
                    err);
        if (l->bias) {
            float *db = l->bias->grad;
            for (int o = 0; o < l->out; o++) {
                double s = 0;
                for (int64_t n = 0; n < nb; n++)
                    s += dyd[n * l->out + o];
                db[o] = (float)s + beta * db[o];
            }
        }
    }
    if (dx) {
        float *dxd;
        rc = cpu_tensor_plain_out(be, dx, x->shape, &dxd, err);
        if (rc < 0)
            goto done;
        /* dx (N, in) = dy (N, out) . W (out, in) */
        SGEMM_CHECK(dnnl_sgemm('N', 'N', nb, l->in, l->out, 1.0f, dyd, l->out,
                               l->weight->data, l->in, 0.0f, dxd, l->in),
                    err);
    }
done:
    free(x_owned);
    free(dy_owned);
    return rc;
}
