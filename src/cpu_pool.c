/* cpu_pool.c — max and average pooling on oneDNN (PyTorch floor mode; average
 * counts the zero padding like count_include_pad=True), global pooling, and
 * their backward passes (max uses the workspace saved by the last forward).
 * One plan per input layout.
 */
#include <stdlib.h>
#include <string.h>

#include "cpu_backend.h"

#define POOL_MAX_PLANS 8

typedef struct pool_plan {
    dnnl_memory_desc_t src_md, dst_md, ws_md;
    fw_shape in, out;
    dnnl_primitive_desc_t fwd_pd;
    dnnl_primitive_t fwd, bwd;
    int has_ws;
} pool_plan;

struct fw_pool {
    fw_pool_desc d;
    pool_plan plans[POOL_MAX_PLANS];
    int n_plans, next_evict;
    int last; /* plan of the last forward, -1: none */
    cpu_buffer ws, sdy;
};

static void plan_free(pool_plan *p)
{
    if (p->fwd_pd)
        dnnl_primitive_desc_destroy(p->fwd_pd);
    if (p->fwd)
        dnnl_primitive_destroy(p->fwd);
    if (p->bwd)
        dnnl_primitive_destroy(p->bwd);
    memset(p, 0, sizeof *p);
}

int cpu_pool_create(fw_backend *be, const fw_pool_desc *desc, fw_pool **out, fw_error *err)
{
    (void)be;
    *out = NULL;
    const fw_pool_desc *d = desc;
    if (d->kind != FW_POOL_MAX && d->kind != FW_POOL_AVG)
        return fw_fail(err, FW_EINVAL, "pool_create: unknown kind %d", (int)d->kind);
    if (!d->global && (d->kernel_h <= 0 || d->kernel_w <= 0 || d->stride_h <= 0 ||
                       d->stride_w <= 0 || d->pad_h < 0 || d->pad_w < 0 ||
                       2 * d->pad_h > d->kernel_h || 2 * d->pad_w > d->kernel_w))
        return fw_fail(err, FW_EINVAL,
                       "pool_create: bad kernel/stride/padding (padding must be <= kernel/2)");
    fw_pool *p = calloc(1, sizeof *p);
    if (!p)
        return fw_fail(err, FW_ENOMEM, "pool_create: out of memory");
    p->d = *d;
    p->last = -1;
    *out = p;
    return 0;
}

void cpu_pool_destroy(fw_backend *be, fw_pool *p)
{
    (void)be;
    if (!p)
        return;
    for (int i = 0; i < p->n_plans; i++)
        plan_free(&p->plans[i]);
    cpu_buffer_free(&p->ws);
    cpu_buffer_free(&p->sdy);
    free(p);
}

static void geometry(const fw_pool *p, fw_shape in, dnnl_dims_t kernel, dnnl_dims_t strides,
                     dnnl_dims_t pad, fw_shape *out)
{
    if (p->d.global) {
        kernel[0] = strides[0] = in.h;
        kernel[1] = strides[1] = in.w;
        pad[0] = pad[1] = 0;
    } else {
        kernel[0] = p->d.kernel_h;
        kernel[1] = p->d.kernel_w;
        strides[0] = p->d.stride_h;
        strides[1] = p->d.stride_w;
        pad[0] = p->d.pad_h;
        pad[1] = p->d.pad_w;
    }
    out->n = in.n;
    out->c = in.c;
    out->h = (in.h + 2 * pad[0] - kernel[0]) / strides[0] + 1;
    out->w = (in.w + 2 * pad[1] - kernel[1]) / strides[1] + 1;
}

static dnnl_alg_kind_t alg(const fw_pool *p)
{
    return p->d.kind == FW_POOL_MAX ? dnnl_pooling_max : dnnl_pooling_avg_include_padding;
}

static int plan_get(fw_backend *be, fw_pool *pool, const fw_tensor *x, int *out, fw_error *err)
{
    for (int i = 0; i < pool->n_plans; i++)
        if (dnnl_memory_desc_equal(&pool->plans[i].src_md, &x->md)) {
            *out = i;
            return 0;
        }
    dnnl_dims_t kernel, strides, pad;
    fw_shape o;
    geometry(pool, x->shape, kernel, strides, pad, &o);
    if (x->shape.n <= 0 || x->shape.h + 2 * pad[0] < kernel[0] ||
        x->shape.w + 2 * pad[1] < kernel[1])
        return fw_fail(err, FW_EINVAL, "pool: input %lldx%lld too small for kernel %lldx%lld",
                       (long long)x->shape.h, (long long)x->shape.w, (long long)kernel[0],
                       (long long)kernel[1]);
    int idx;
    if (pool->n_plans < POOL_MAX_PLANS) {
        idx = pool->n_plans++;
    } else {
        idx = pool->next_evict;
        pool->next_evict = (pool->next_evict + 1) % POOL_MAX_PLANS;
        plan_free(&pool->plans[idx]);
        if (pool->last == idx)
            pool->last = -1;
    }
    pool_plan *p = &pool->plans[idx];
    p->src_md = x->md;
    p->in = x->shape;
    p->out = o;
    dnnl_memory_desc_t dst;
    cpu_any_md(&dst, o);
    dnnl_pooling_desc_t pd;
    DNNL_CHECK(dnnl_pooling_forward_desc_init(&pd, dnnl_forward_training, alg(pool), &x->md,
                                              &dst, strides, kernel, pad, pad),
               err);
    DNNL_CHECK(dnnl_primitive_desc_create(&p->fwd_pd, &pd, NULL, be->engine, NULL), err);
    p->dst_md = *dnnl_primitive_desc_query_md(p->fwd_pd, dnnl_query_dst_md, 0);
    const dnnl_memory_desc_t *ws = dnnl_primitive_desc_query_md(p->fwd_pd, dnnl_query_workspace_md, 0);
    p->has_ws = ws && ws->ndims > 0;
    if (p->has_ws)
        p->ws_md = *ws;
    DNNL_CHECK(dnnl_primitive_create(&p->fwd, p->fwd_pd), err);
    *out = idx;
    return 0;
}

int cpu_pool_forward(fw_backend *be, fw_pool *pool, const fw_tensor *x, fw_tensor *y,
                     fw_error *err)
{
    cpu_enter(be);
    if (!x->mem)
        return fw_fail(err, FW_EINVAL, "pool_forward: input tensor is empty");
    if (x == y)
        return fw_fail(err, FW_EINVAL, "pool_forward: output aliases input");
    int idx;
    FW_TRY(plan_get(be, pool, x, &idx, err));
    pool_plan *p = &pool->plans[idx];
    FW_TRY(cpu_tensor_define(be, y, p->out, &p->dst_md, err));
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, x->mem}, {DNNL_ARG_DST, y->mem},
                               {DNNL_ARG_WORKSPACE, NULL}};
    int nargs = 2;
    if (p->has_ws) {
        FW_TRY(cpu_buffer_define(be, &pool->ws, &p->ws_md, err));
        args[2].memory = pool->ws.mem;
        nargs = 3;
    }
    pool->last = -1;
    FW_TRY(cpu_exec(be, p->fwd, nargs, args, err));
    pool->last = idx;
    return 0;
}

int cpu_pool_backward(fw_backend *be, fw_pool *pool, const fw_tensor *dy, fw_tensor *dx,
                      fw_error *err)
{
    cpu_enter(be);
    if (pool->last < 0)
        return fw_fail(err, FW_EINVAL, "pool_backward: no forward ran before");
    if (!dy->mem)
        return fw_fail(err, FW_EINVAL, "pool_backward: dy is empty");
    if (dx == dy)
        return fw_fail(err, FW_EINVAL, "pool_backward: dx aliases dy");
    pool_plan *p = &pool->plans[pool->last];
    if (!cpu_shape_eq(dy->shape, p->out))
        return fw_fail(err, FW_EINVAL, "pool_backward: dy shape does not match the output");
    if (!p->bwd) {
        dnnl_dims_t kernel, strides, pad;
        fw_shape o;
        geometry(pool, p->in, kernel, strides, pad, &o);
        dnnl_pooling_desc_t d;
        dnnl_primitive_desc_t pd;
        DNNL_CHECK(dnnl_pooling_backward_desc_init(&d, alg(pool), &p->src_md, &p->dst_md,
                                                   strides, kernel, pad, pad),
                   err);
        DNNL_CHECK(dnnl_primitive_desc_create(&pd, &d, NULL, be->engine, p->fwd_pd), err);
        FW_TRY(cpu_prim_from_pd(pd, &p->bwd, err));
    }
    dnnl_memory_t dym;
    FW_TRY(cpu_tensor_as(be, dy, &p->dst_md, &pool->sdy, &dym, err));
    FW_TRY(cpu_tensor_define(be, dx, p->in, &p->src_md, err));
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_DIFF_DST, dym}, {DNNL_ARG_DIFF_SRC, dx->mem},
                               {DNNL_ARG_WORKSPACE, p->has_ws ? pool->ws.mem : NULL}};
    return cpu_exec(be, p->bwd, p->has_ws ? 3 : 2, args, err);
}
