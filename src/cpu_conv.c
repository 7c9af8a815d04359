/* cpu_conv.c — 2-D convolution on oneDNN: forward, backward data and backward
 * weights. Each layer caches one plan per input shape (N, H, W) whose
 * primitives choose their own layouts ("any"); inputs in another layout are
 * reordered, and the plain (O, I, KH, KW) weights are reordered once per
 * params_updated() into each layout a primitive asks for.
 *
 * Algorithm: 3x3 stride-1 convs with >= 16 input channels ask oneDNN for
 * Winograd (F(4x4, 3x3), `jit_wino_4x3`, about 2x faster than its direct
 * kernels there) for each pass separately; a pass oneDNN has no Winograd
 * kernel for (dnnl_unimplemented: other ISA, channel counts not a multiple
 * of 16, ...) silently uses the direct algorithm. FLUKEWATCH_CONV_ALGO=direct
 * (read at conv_create) turns Winograd off; "auto" (or unset) is the default.
 */
#include <stdlib.h>
#include <string.h>

#include "cpu_backend.h"

#define CONV_MAX_PLANS 8
#define CONV_MAX_WCOPIES 4

typedef struct conv_plan {
    int64_t n, h, w; /* input shape key */
    fw_shape out;    /* (N, O, OH, OW) */
    dnnl_primitive_desc_t fwd_pd; /* kept as the hint for backward */
    dnnl_primitive_t fwd, bwd_data, bwd_weights;
    dnnl_memory_desc_t src_md, wei_md, dst_md;          /* forward */
    dnnl_memory_desc_t bd_dsrc_md, bd_wei_md, bd_ddst_md; /* backward data */
    dnnl_memory_desc_t bw_src_md, bw_dwei_md, bw_ddst_md; /* backward weights */
} conv_plan;

struct fw_conv {
    fw_conv_desc d;
    fw_param *weight, *bias;
    int winograd; /* try Winograd first for every pass (shape and env allow it) */
    conv_plan plans[CONV_MAX_PLANS];
    int n_plans, next_evict;
    cpu_buffer wcopy[CONV_MAX_WCOPIES]; /* derived weights, one per layout */
    int n_wcopy;
    cpu_buffer sx, sdy, sdw; /* scratch: reordered x, reordered dy, diff weights */
    float *db;               /* (O) bias gradient scratch */
};

static void plain_weight_md(const fw_conv *c, dnnl_memory_desc_t *md)
{
    dnnl_dims_t dims = {c->d.out_channels, c->d.in_channels, c->d.kernel_h, c->d.kernel_w};
    dnnl_memory_desc_init_by_tag(md, 4, dims, dnnl_f32, dnnl_oihw);
}

static void plan_free(conv_plan *p)
{
    if (p->fwd_pd)
        dnnl_primitive_desc_destroy(p->fwd_pd);
    if (p->fwd)
        dnnl_primitive_destroy(p->fwd);
    if (p->bwd_data)
        dnnl_primitive_destroy(p->bwd_data);
    if (p->bwd_weights)
        dnnl_primitive_destroy(p->bwd_weights);
    memset(p, 0, sizeof *p);
}

/* FLUKEWATCH_CONV_ALGO: unset, "" or "auto" -> Winograd allowed; "direct" -> not. */
static int conv_algo_from_env(int *allow_winograd, fw_error *err)
{
    const char *v = getenv("FLUKEWATCH_CONV_ALGO");
    if (!v || !*v || !strcmp(v, "auto")) {
        *allow_winograd = 1;
        return 0;
    }
    if (!strcmp(v, "direct")) {
        *allow_winograd = 0;
        return 0;
    }
    return fw_fail(err, FW_EINVAL, "conv_create: FLUKEWATCH_CONV_ALGO=%.40s: expected direct or auto",
                   v);
}

int cpu_conv_create(fw_backend *be, const fw_conv_desc *desc, fw_param *weight,
                    fw_param *bias, fw_conv **out, fw_error *err)
{
    (void)be;
    *out = NULL;
    const fw_conv_desc *d = desc;
    if (d->in_channels <= 0 || d->out_channels <= 0 || d->kernel_h <= 0 || d->kernel_w <= 0 ||
        d->stride_h <= 0 || d->stride_w <= 0 || d->pad_h < 0 || d->pad_w < 0)
        return fw_fail(err, FW_EINVAL, "conv_create: bad descriptor");
    if (!weight || weight->numel != (int64_t)d->out_channels * d->in_channels * d->kernel_h *
                                        d->kernel_w)
        return fw_fail(err, FW_EINVAL, "conv_create: weight %s has %lld elements, expected %d",
                       weight ? weight->name : "(null)", weight ? (long long)weight->numel : 0LL,
                       d->out_channels * d->in_channels * d->kernel_h * d->kernel_w);
    if (bias && bias->numel != d->out_channels)
        return fw_fail(err, FW_EINVAL, "conv_create: bias %s has %lld elements, expected %d",
                       bias->name, (long long)bias->numel, d->out_channels);
    int allow_winograd = 0;
    FW_TRY(conv_algo_from_env(&allow_winograd, err));
    fw_conv *c = calloc(1, sizeof *c);
    if (!c)
        return fw_fail(err, FW_ENOMEM, "conv_create: out of memory");
    c->d = *d;
    c->winograd = allow_winograd && d->kernel_h == 3 && d->kernel_w == 3 && d->stride_h == 1 &&
                  d->stride_w == 1 && d->in_channels >= 16;
    c->weight = weight;
    c->bias = bias;
    if (bias && !(c->db = malloc((size_t)d->out_channels * sizeof(float)))) {
        free(c);
        return fw_fail(err, FW_ENOMEM, "conv_create: out of memory");
    }
    *out = c;
    return 0;
}

void cpu_conv_destroy(fw_backend *be, fw_conv *c)
{
    (void)be;
    if (!c)
        return;
    for (int i = 0; i < c->n_plans; i++)
        plan_free(&c->plans[i]);
    for (int i = 0; i < c->n_wcopy; i++)
        cpu_buffer_free(&c->wcopy[i]);
    cpu_buffer_free(&c->sx);
    cpu_buffer_free(&c->sdy);
    cpu_buffer_free(&c->sdw);
    free(c->db);
    free(c);
}

static void conv_geometry(const fw_conv *c, dnnl_dims_t strides, dnnl_dims_t pad_l,
                          dnnl_dims_t pad_r, fw_shape in, fw_shape *out)
{
    strides[0] = c->d.stride_h;
    strides[1] = c->d.stride_w;
    pad_l[0] = pad_r[0] = c->d.pad_h; /* oneDNN floors like PyTorch with pad_r = pad_l */
    pad_l[1] = pad_r[1] = c->d.pad_w;
    out->n = in.n;
    out->c = c->d.out_channels;
    out->h = (in.h + 2 * c->d.pad_h - c->d.kernel_h) / c->d.stride_h + 1;
    out->w = (in.w + 2 * c->d.pad_w - c->d.kernel_w) / c->d.stride_w + 1;
}

static void any_weight_md(const fw_conv *c, dnnl_memory_desc_t *md)
{
    dnnl_dims_t dims = {c->d.out_channels, c->d.in_channels, c->d.kernel_h, c->d.kernel_w};
    dnnl_memory_desc_init_by_tag(md, 4, dims, dnnl_f32, dnnl_format_tag_any);
}

static void bias_md(const fw_conv *c, dnnl_memory_desc_t *md)
{
    dnnl_dims_t dims = {c->d.out_channels};
    dnnl_memory_desc_init_by_tag(md, 1, dims, dnnl_f32, dnnl_x);
}

/* Which oneDNN pass a descriptor is for. */
enum { PASS_FWD, PASS_BWD_DATA, PASS_BWD_WEIGHTS };

/* Create the primitive descriptor of one pass: Winograd first when c->winograd,
 * the direct algorithm if oneDNN has no Winograd kernel for it. */
static int conv_pd_create(fw_backend *be, const fw_conv *c, int pass, fw_shape in,
                          const_dnnl_primitive_desc_t hint, dnnl_primitive_desc_t *pd,
                          fw_error *err)
{
    dnnl_dims_t strides, pad_l, pad_r;
    fw_shape o;
    conv_geometry(c, strides, pad_l, pad_r, in, &o);
    dnnl_memory_desc_t src, wei, dst, b;
    cpu_any_md(&src, in);
    cpu_any_md(&dst, o);
    any_weight_md(c, &wei);
    bias_md(c, &b);
    const dnnl_memory_desc_t *bp = c->bias ? &b : NULL;
    for (int attempt = c->winograd ? 0 : 1; attempt < 2; attempt++) {
        dnnl_alg_kind_t alg = attempt == 0 ? dnnl_convolution_winograd : dnnl_convolution_direct;
        dnnl_convolution_desc_t cd;
        if (pass == PASS_FWD)
            DNNL_CHECK(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_training, alg, &src,
                                                          &wei, bp, &dst, strides, pad_l, pad_r),
                       err);
        else if (pass == PASS_BWD_DATA)
            DNNL_CHECK(dnnl_convolution_backward_data_desc_init(&cd, alg, &src, &wei, &dst,
                                                                strides, pad_l, pad_r),
                       err);
        else
            DNNL_CHECK(dnnl_convolution_backward_weights_desc_init(&cd, alg, &src, &wei, bp, &dst,
                                                                   strides, pad_l, pad_r),
                       err);
        dnnl_status_t st = dnnl_primitive_desc_create(pd, &cd, NULL, be->engine, hint);
        if (st == dnnl_unimplemented && attempt == 0)
            continue; /* no Winograd kernel for this pass: use direct */
        DNNL_CHECK(st, err);
        return 0;
    }
    return fw_fail(err, FW_EDEVICE, "conv: no algorithm"); /* not reached */
}

static int plan_get(fw_backend *be, fw_conv *c, fw_shape in, conv_plan **out, fw_error *err)
{
    if (in.c != c->d.in_channels)
        return fw_fail(err, FW_EINVAL, "conv: input has %lld channels, layer expects %d",
                       (long long)in.c, c->d.in_channels);
    if (in.n <= 0 || in.h + 2 * c->d.pad_h < c->d.kernel_h ||
        in.w + 2 * c->d.pad_w < c->d.kernel_w)
        return fw_fail(err, FW_EINVAL, "conv: input %lldx%lld (batch %lld) too small for kernel %dx%d",
                       (long long)in.h, (long long)in.w, (long long)in.n, c->d.kernel_h,
                       c->d.kernel_w);
    for (int i = 0; i < c->n_plans; i++)
        if (c->plans[i].n == in.n && c->plans[i].h == in.h && c->plans[i].w == in.w) {
            *out = &c->plans[i];
            return 0;
        }
    conv_plan *p;
    if (c->n_plans < CONV_MAX_PLANS) {
        p = &c->plans[c->n_plans++];
    } else {
        p = &c->plans[c->next_evict];
        c->next_evict = (c->next_evict + 1) % CONV_MAX_PLANS;
        plan_free(p);
    }
    dnnl_dims_t strides, pad_l, pad_r;
    conv_geometry(c, strides, pad_l, pad_r, in, &p->out);
    FW_TRY(conv_pd_create(be, c, PASS_FWD, in, NULL, &p->fwd_pd, err));
    p->src_md = *dnnl_primitive_desc_query_md(p->fwd_pd, dnnl_query_src_md, 0);
    p->wei_md = *dnnl_primitive_desc_query_md(p->fwd_pd, dnnl_query_weights_md, 0);
    p->dst_md = *dnnl_primitive_desc_query_md(p->fwd_pd, dnnl_query_dst_md, 0);
    DNNL_CHECK(dnnl_primitive_create(&p->fwd, p->fwd_pd), err);
    p->n = in.n;
    p->h = in.h;
    p->w = in.w;
    *out = p;
    return 0;
}

static int plan_backward(fw_backend *be, fw_conv *c, conv_plan *p, fw_shape in, int data,
                         int weights, fw_error *err)
{
    dnnl_primitive_desc_t pd;
    if (data && !p->bwd_data) {
        FW_TRY(conv_pd_create(be, c, PASS_BWD_DATA, in, p->fwd_pd, &pd, err));
        p->bd_dsrc_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_diff_src_md, 0);
        p->bd_wei_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        p->bd_ddst_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_diff_dst_md, 0);
        FW_TRY(cpu_prim_from_pd(pd, &p->bwd_data, err));
    }
    if (weights && !p->bwd_weights) {
        FW_TRY(conv_pd_create(be, c, PASS_BWD_WEIGHTS, in, p->fwd_pd, &pd, err));
        p->bw_src_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
        p->bw_dwei_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_diff_weights_md, 0);
        p->bw_ddst_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_diff_dst_md, 0);
        FW_TRY(cpu_prim_from_pd(pd, &p->bwd_weights, err));
    }
    return 0;
}

/* The weights in layout md, refreshed from weight->data when params changed. */
static int weights_as(fw_backend *be, fw_conv *c, const dnnl_memory_desc_t *md,
                      dnnl_memory_t *out, fw_error *err)
{
    cpu_buffer *w = NULL;
    for (int i = 0; i < c->n_wcopy; i++)
        if (dnnl_memory_desc_equal(&c->wcopy[i].md, md))
            w = &c->wcopy[i];
    if (!w) {
        if (c->n_wcopy == CONV_MAX_WCOPIES) {
            cpu_buffer_free(&c->wcopy[0]);
            memmove(&c->wcopy[0], &c->wcopy[1], (CONV_MAX_WCOPIES - 1) * sizeof c->wcopy[0]);
            memset(&c->wcopy[CONV_MAX_WCOPIES - 1], 0, sizeof c->wcopy[0]);
            c->n_wcopy--;
        }
        w = &c->wcopy[c->n_wcopy++];
        FW_TRY(cpu_buffer_define(be, w, md, err));
    }
    if (w->gen != be->param_gen) {
        dnnl_memory_desc_t pmd;
        plain_weight_md(c, &pmd);
        dnnl_memory_t src;
        FW_TRY(cpu_wrap(be, &pmd, c->weight->data, &src, err));
        int rc = cpu_reorder(be, src, w->mem, 0, err);
        dnnl_memory_destroy(src);
        FW_TRY(rc);
        w->gen = be->param_gen;
    }
    *out = w->mem;
    return 0;
}

int cpu_conv_forward(fw_backend *be, fw_conv *c, const fw_tensor *x, fw_tensor *y,
                     fw_error *err)
{
    cpu_enter(be);
    if (!x->mem)
        return fw_fail(err, FW_EINVAL, "conv_forward: input tensor is empty");
    if (x == y)
        return fw_fail(err, FW_EINVAL, "conv_forward: output aliases input");
    conv_plan *p;
    FW_TRY(plan_get(be, c, x->shape, &p, err));
    dnnl_memory_t xm, wm, bm = NULL;
    FW_TRY(cpu_tensor_as(be, x, &p->src_md, &c->sx, &xm, err));
    FW_TRY(weights_as(be, c, &p->wei_md, &wm, err));
    FW_TRY(cpu_tensor_define(be, y, p->out, &p->dst_md, err));
    dnnl_exec_arg_t args[4] = {
        {DNNL_ARG_SRC, xm}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, y->mem}, {DNNL_ARG_BIAS, NULL}};
    int nargs = 3;
    if (c->bias) {
        dnnl_memory_desc_t bmd;
        bias_md(c, &bmd);
        FW_TRY(cpu_wrap(be, &bmd, c->bias->data, &bm, err));
        args[3].memory = bm;
        nargs = 4;
    }
    int rc = cpu_exec(be, p->fwd, nargs, args, err);
    if (bm)
        dnnl_memory_destroy(bm);
    return rc;
}

static int conv_backward_weights(fw_backend *be, fw_conv *c, conv_plan *p, const fw_tensor *x,
                                 const fw_tensor *dy, unsigned flags, fw_error *err)
{
    dnnl_memory_t xm, dym, dbm = NULL, gm = NULL;
    FW_TRY(cpu_tensor_as(be, x, &p->bw_src_md, &c->sx, &xm, err));
    FW_TRY(cpu_tensor_as(be, dy, &p->bw_ddst_md, &c->sdy, &dym, err));
    FW_TRY(cpu_buffer_define(be, &c->sdw, &p->bw_dwei_md, err));
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, xm},
                               {DNNL_ARG_DIFF_DST, dym},
                               {DNNL_ARG_DIFF_WEIGHTS, c->sdw.mem},
                               {DNNL_ARG_DIFF_BIAS, NULL}};
    int nargs = 3;
    if (c->bias) {
        dnnl_memory_desc_t bmd;
        bias_md(c, &bmd);
        FW_TRY(cpu_wrap(be, &bmd, c->db, &dbm, err));
        args[3].memory = dbm;
        nargs = 4;
    }
    int rc = cpu_exec(be, p->bwd_weights, nargs, args, err);
    if (dbm)
        dnnl_memory_destroy(dbm);
    FW_TRY(rc);
    /* diff weights -> plain (O, I, KH, KW) grad, overwriting or accumulating */
    dnnl_memory_desc_t pmd;
    plain_weight_md(c, &pmd);
    FW_TRY(cpu_wrap(be, &pmd, c->weight->grad, &gm, err));
    rc = cpu_reorder(be, c->sdw.mem, gm, (flags & FW_GRAD_ACCUMULATE) != 0, err);
    dnnl_memory_destroy(gm);
    FW_TRY(rc);
    if (c->bias) {
        if (flags & FW_GRAD_ACCUMULATE)
            cpu_axpy1(c->bias->grad, c->db, c->d.out_channels);
        else
            memcpy(c->bias->grad, c->db, (size_t)c->d.out_channels * sizeof(float));
    }
    return 0;
}

int cpu_conv_backward(fw_backend *be, fw_conv *c, const fw_tensor *x, const fw_tensor *dy,
                      fw_tensor *dx, unsigned flags, fw_error *err)
{
    cpu_enter(be);
    if (!x->mem || !dy->mem)
        return fw_fail(err, FW_EINVAL, "conv_backward: input tensor is empty");
    if (dx && (dx == x || dx == dy))
        return fw_fail(err, FW_EINVAL, "conv_backward: dx aliases an input");
    int want_w = !(flags & FW_GRAD_SKIP_PARAMS);
    if (want_w && (!c->weight->grad || (c->bias && !c->bias->grad)))
        return fw_fail(err, FW_EINVAL, "conv_backward: %s has no grad buffer", c->weight->name);
    conv_plan *p;
    FW_TRY(plan_get(be, c, x->shape, &p, err));
    if (!cpu_shape_eq(dy->shape, p->out))
        return fw_fail(err, FW_EINVAL, "conv_backward: dy shape does not match the output");
    FW_TRY(plan_backward(be, c, p, x->shape, dx != NULL, want_w, err));
    if (want_w)
        FW_TRY(conv_backward_weights(be, c, p, x, dy, flags, err));
    if (dx) {
        dnnl_memory_t dym, wm;
        FW_TRY(cpu_tensor_as(be, dy, &p->bd_ddst_md, &c->sdy, &dym, err));
        FW_TRY(weights_as(be, c, &p->bd_wei_md, &wm, err));
        FW_TRY(cpu_tensor_define(be, dx, x->shape, &p->bd_dsrc_md, err));
        dnnl_exec_arg_t args[3] = {
            {DNNL_ARG_DIFF_DST, dym}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DIFF_SRC, dx->mem}};
        FW_TRY(cpu_exec(be, p->bwd_data, 3, args, err));
    }
    return 0;
}
