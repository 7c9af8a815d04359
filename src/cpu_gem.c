/* cpu_gem.c — generalized-mean (GeM) pooling with a learnable exponent p,
 * own loops (no oneDNN op): reads the input in place in its layout (plain,
 * nhwc or channel-blocked), one image per work item, so results do not
 * depend on the thread count.
 */
#include <stdlib.h>
#include <string.h>

#include "cpu_backend.h"
#include "cpu_kernels.h"
#include "parallel.h"

struct fw_gem {
    fw_param *p;
    float eps;
    double *dp; /* (N) per-image dL/dp, summed in order */
    int64_t dp_cap;
};

int cpu_gem_create(fw_backend *be, fw_param *p, float eps, fw_gem **out, fw_error *err)
{
    (void)be;
    *out = NULL;
    if (!p || p->numel != 1 || !p->data)
        return fw_fail(err, FW_EINVAL, "gem_create: p must be a 1-element parameter");
    if (!(eps > 0))
        return fw_fail(err, FW_EINVAL, "gem_create: eps must be > 0");
    fw_gem *g = calloc(1, sizeof *g);
    if (!g)
        return fw_fail(err, FW_ENOMEM, "gem_create: out of memory");
    g->p = p;
    g->eps = eps;
    *out = g;
    return 0;
}

void cpu_gem_destroy(fw_backend *be, fw_gem *g)
{
    (void)be;
    if (!g)
        return;
    free(g->dp);
    free(g);
}

/* Where the (n, c) plane of a tensor starts and the step between its values. */
typedef struct plane_access {
    const dnnl_memory_desc_t *md;
    int64_t hw_stride;
} plane_access;

static int plane_access_init(const dnnl_memory_desc_t *md, fw_shape s, plane_access *a)
{
    if (!cpu_offset_supported(md))
        return 0;
    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    if (s.h > 1 && s.w > 1 && b->strides[2] != s.w * b->strides[3])
        return 0;
    a->md = md;
    a->hw_stride = s.w > 1 ? b->strides[3] : b->strides[2];
    return 1;
}

typedef struct gem_job {
    const float *x; /* in layout xa */
    plane_access xa;
    fw_shape s;
    float p, eps;
    float *y;        /* (N, C) */
    const float *dy; /* (N, C) */
    float *dx;       /* in layout xa */
    double *dp;      /* (N) */
} gem_job;

static int gem_forward_item(void *ctx, long n, int worker, fw_error *err)
{
    (void)worker;
    (void)err;
    gem_job *j = ctx;
    for (int64_t c = 0; c < j->s.c; c++) {
        int64_t base = cpu_offset(j->xa.md, n, c, 0, 0);
        j->y[n * j->s.c + c] =
            fw_gem_forward_f(j->x + base, j->xa.hw_stride, j->s.h * j->s.w, j->p, j->eps);
    }
    return 0;
}

static int gem_backward_item(void *ctx, long n, int worker, fw_error *err)
{
    (void)worker;
    (void)err;
    gem_job *j = ctx;
    double dp = 0;
    for (int64_t c = 0; c < j->s.c; c++) {
        int64_t base = cpu_offset(j->xa.md, n, c, 0, 0);
        dp += fw_gem_backward_f(j->x + base, j->xa.hw_stride, j->s.h * j->s.w, j->p, j->eps,
                                j->dy[n * j->s.c + c], j->dx + base, j->xa.hw_stride);
    }
    j->dp[n] = dp;
    return 0;
}

/* x's data in a layout the loops can walk (x itself, or a plain copy in *owned). */
static int gem_input(fw_backend *be, const fw_tensor *x, gem_job *j, dnnl_memory_desc_t *plain,
                     float **owned, fw_error *err)
{
    *owned = NULL;
    j->s = x->shape;
    if (plane_access_init(&x->md, x->shape, &j->xa)) {
        j->x = x->buf;
        return 0;
    }
    const float *data;
    FW_TRY(cpu_tensor_plain_view(be, x, &data, owned, err));
    cpu_plain_md(plain, x->shape);
    plane_access_init(plain, x->shape, &j->xa);
    j->x = data;
    return 0;
}

int cpu_gem_forward(fw_backend *be, fw_gem *g, const fw_tensor *x, fw_tensor *y, fw_error *err)
{
    cpu_enter(be);
    if (!x->mem || cpu_numel(x->shape) == 0)
        return fw_fail(err, FW_EINVAL, "gem_forward: input tensor is empty");
    if (x == y)
        return fw_fail(err, FW_EINVAL, "gem_forward: output aliases input");
    gem_job j = {.p = g->p->data[0], .eps = g->eps};
    dnnl_memory_desc_t plain;
    float *owned;
    FW_TRY(gem_input(be, x, &j, &plain, &owned, err));
    int rc = cpu_tensor_plain_out(be, y, (fw_shape){x->shape.n, x->shape.c, 1, 1}, &j.y, err);
    if (rc == 0)
        rc = fw_parallel_for(be->threads, (long)x->shape.n, gem_forward_item, &j, err);
    free(owned);
    return rc;
}

int cpu_gem_backward(fw_backend *be, fw_gem *g, const fw_tensor *x, const fw_tensor *y,
                     const fw_tensor *dy, fw_tensor *dx, unsigned flags, fw_error *err)
{
    cpu_enter(be);
    (void)y; /* recomputed from x in double: more accurate than reusing the fp32 y */
    if (!x->mem || !dy->mem)
        return fw_fail(err, FW_EINVAL, "gem_backward: input tensor is empty");
    if (dy->shape.n != x->shape.n || dy->shape.c != x->shape.c || dy->shape.h != 1 ||
        dy->shape.w != 1)
        return fw_fail(err, FW_EINVAL, "gem_backward: dy must be (N, C, 1, 1) of x's N, C");
    if (dx && (dx == x || dx == dy))
        return fw_fail(err, FW_EINVAL, "gem_backward: dx aliases an input");
    int want_p = !(flags & FW_GRAD_SKIP_PARAMS);
    if (want_p && !g->p->grad)
        return fw_fail(err, FW_EINVAL, "gem_backward: %s has no grad buffer", g->p->name);
    if (!dx && !want_p)
        return 0;
    gem_job j = {.p = g->p->data[0], .eps = g->eps};
    dnnl_memory_desc_t plain;
    float *owned = NULL, *dy_owned = NULL, *dx_tmp = NULL;
    int rc = gem_input(be, x, &j, &plain, &owned, err);
    if (rc == 0)
        rc = cpu_tensor_plain_view(be, dy, &j.dy, &dy_owned, err);
    if (rc == 0 && x->shape.n > g->dp_cap) {
        double *p = realloc(g->dp, (size_t)x->shape.n * sizeof *p);
        if (!p)
            rc = fw_fail(err, FW_ENOMEM, "gem_backward: out of memory");
        else {
            g->dp = p;
            g->dp_cap = x->shape.n;
        }
    }
    const dnnl_memory_desc_t *dx_md = owned ? &plain : &x->md;
    if (rc == 0 && dx) {
        rc = cpu_tensor_define(be, dx, x->shape, dx_md, err);
        if (rc == 0) {
            memset(dx->buf, 0, dnnl_memory_desc_get_size(dx_md)); /* blocked padding */
            j.dx = dx->buf;
        }
    } else if (rc == 0) {
        size_t bytes = dnnl_memory_desc_get_size(dx_md);
        dx_tmp = malloc(bytes ? bytes : 1);
        if (!dx_tmp)
            rc = fw_fail(err, FW_ENOMEM, "gem_backward: out of memory");
        j.dx = dx_tmp;
    }
    j.dp = g->dp;
    if (rc == 0)
        rc = fw_parallel_for(be->threads, (long)x->shape.n, gem_backward_item, &j, err);
    if (rc == 0 && want_p) {
        double dp = 0;
        for (int64_t n = 0; n < x->shape.n; n++)
            dp += g->dp[n];
        if (flags & FW_GRAD_ACCUMULATE)
            g->p->grad[0] += (float)dp;
        else
            g->p->grad[0] = (float)dp;
    }
    free(owned);
    free(dy_owned);
    free(dx_tmp);
    return rc;
}
