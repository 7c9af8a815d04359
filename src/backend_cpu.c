/* backend_cpu.c — the CPU backend on oneDNN: instance (engine, stream, thread
 * count), the cache of stateless primitives, tensors as seen through the
 * interface, ReLU and residual add, and the ops table fw_backend_cpu().
 * Layers live in cpu_conv.c, cpu_bn.c, cpu_pool.c, cpu_gem.c, cpu_linear.c,
 * cpu_neck.c (L2 norm, dropout).
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_backend.h"
#include "parallel.h"

const char *fw_dnnl_status_name(dnnl_status_t status)
{
    switch (status) {
    case dnnl_success: return "dnnl_success";
    case dnnl_out_of_memory: return "dnnl_out_of_memory";
    case dnnl_invalid_arguments: return "dnnl_invalid_arguments";
    case dnnl_unimplemented: return "dnnl_unimplemented";
    case dnnl_iterator_ends: return "dnnl_iterator_ends";
    case dnnl_runtime_error: return "dnnl_runtime_error";
    case dnnl_not_required: return "dnnl_not_required";
    default: return "unknown oneDNN status";
    }
}

void cpu_enter(fw_backend *be)
{
    /* OpenMP thread counts are per calling thread: set it on every entry so
     * the trainer thread (not only the creator) uses the configured count. */
    if (omp_get_max_threads() != be->threads)
        omp_set_num_threads(be->threads);
}

/* ---- instance ---------------------------------------------------------------- */

static void cpu_destroy(fw_backend *be)
{
    if (!be)
        return;
    for (int i = 0; i < be->n_cache; i++)
        dnnl_primitive_destroy(be->cache[i].prim);
    free(be->cache);
    free(be->aug_out);
    free(be->aug_srcs);
    if (be->stream)
        dnnl_stream_destroy(be->stream);
    if (be->engine)
        dnnl_engine_destroy(be->engine);
    free(be);
}

static int create_parts(fw_backend *be, fw_error *err)
{
    DNNL_CHECK(dnnl_engine_create(&be->engine, dnnl_cpu, 0), err);
    DNNL_CHECK(dnnl_stream_create(&be->stream, be->engine, dnnl_stream_default_flags), err);
    return 0;
}

static int cpu_create(const fw_backend_options *opt, fw_backend **out, fw_error *err)
{
    *out = NULL;
    if (opt && opt->precision != FW_PRECISION_FP32)
        return fw_fail(err, FW_EINVAL, "backend cpu: computes in fp32 only (precision %d asked)",
                       (int)opt->precision);
    fw_backend *be = calloc(1, sizeof *be);
    if (!be)
        return fw_fail(err, FW_ENOMEM, "backend: out of memory");
    be->threads = fw_resolve_threads(opt ? opt->threads : 0);
    be->param_gen = 1;
    cpu_enter(be);
    int rc = create_parts(be, err);
    if (rc < 0) {
        cpu_destroy(be);
        return rc;
    }
    *out = be;
    return 0;
}

static void cpu_describe(fw_backend *be, char *buf, size_t size)
{
    const dnnl_version_t *v = dnnl_version();
    snprintf(buf, size, "oneDNN %d.%d.%d (cpu), %d thread%s", v->major, v->minor, v->patch,
             be->threads, be->threads == 1 ? "" : "s");
}

static int cpu_threads(fw_backend *be)
{
    return be->threads;
}

static void cpu_params_updated(fw_backend *be)
{
    be->param_gen++;
}

/* Batch norm reads its running statistics from the host data itself. */
static void cpu_buffers_updated(fw_backend *be)
{
    (void)be;
}

static int cpu_sync(fw_backend *be, fw_error *err)
{
    DNNL_CHECK(dnnl_stream_wait(be->stream), err);
    return 0;
}

/* ---- primitive cache and execution ------------------------------------------- */

static int md_eq(const dnnl_memory_desc_t *a, const dnnl_memory_desc_t *b)
{
    if (!a || !b)
        return !a && !b ? 1 : (a ? a->ndims == 0 : b->ndims == 0);
    return dnnl_memory_desc_equal(a, b);
}

dnnl_primitive_t cpu_cache_find(fw_backend *be, int kind, int extra,
                                const dnnl_memory_desc_t *md0, const dnnl_memory_desc_t *md1,
                                const dnnl_memory_desc_t *md2)
{
    for (int i = 0; i < be->n_cache; i++) {
        cpu_cached_prim *c = &be->cache[i];
        if (c->kind == kind && c->extra == extra && md_eq(&c->md[0], md0) &&
            md_eq(&c->md[1], md1) && md_eq(&c->md[2], md2))
            return c->prim;
    }
    return NULL;
}

int cpu_cache_add(fw_backend *be, int kind, int extra, const dnnl_memory_desc_t *md0,
                  const dnnl_memory_desc_t *md1, const dnnl_memory_desc_t *md2,
                  dnnl_primitive_t prim, fw_error *err)
{
    if (be->n_cache == be->cap_cache) {
        int cap = be->cap_cache ? 2 * be->cap_cache : 32;
        cpu_cached_prim *p = realloc(be->cache, (size_t)cap * sizeof *p);
        if (!p) {
            dnnl_primitive_destroy(prim);
            return fw_fail(err, FW_ENOMEM, "backend: out of memory (primitive cache)");
        }
        be->cache = p;
        be->cap_cache = cap;
    }
    cpu_cached_prim *c = &be->cache[be->n_cache++];
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->extra = extra;
    if (md0)
        c->md[0] = *md0;
    if (md1)
        c->md[1] = *md1;
    if (md2)
        c->md[2] = *md2;
    c->prim = prim;
    return 0;
}

int cpu_prim_from_pd(dnnl_primitive_desc_t pd, dnnl_primitive_t *out, fw_error *err)
{
    dnnl_status_t st = dnnl_primitive_create(out, pd);
    dnnl_primitive_desc_destroy(pd);
    DNNL_CHECK(st, err);
    return 0;
}

int cpu_exec(fw_backend *be, dnnl_primitive_t prim, int nargs, const dnnl_exec_arg_t *args,
             fw_error *err)
{
    DNNL_CHECK(dnnl_primitive_execute(prim, be->stream, nargs, args), err);
    DNNL_CHECK(dnnl_stream_wait(be->stream), err);
    return 0;
}

/* ---- tensors ----------------------------------------------------------------- */

static int cpu_tensor_create(fw_backend *be, fw_tensor **out, fw_error *err)
{
    (void)be;
    *out = calloc(1, sizeof **out);
    if (!*out)
        return fw_fail(err, FW_ENOMEM, "backend: out of memory (tensor)");
    return 0;
}

static void cpu_tensor_free(fw_backend *be, fw_tensor *t)
{
    (void)be;
    if (!t)
        return;
    if (t->mem)
        dnnl_memory_destroy(t->mem);
    free(t->buf);
    free(t);
}

static fw_shape cpu_tensor_shape(const fw_tensor *t)
{
    return t->shape;
}

static int cpu_tensor_copy_in(fw_backend *be, fw_tensor *t, fw_shape s, const float *src,
                              fw_error *err)
{
    float *dst;
    FW_TRY(cpu_tensor_plain_out(be, t, s, &dst, err));
    int64_t n = cpu_numel(s);
    if (n)
        memcpy(dst, src, (size_t)n * sizeof(float));
    return 0;
}

static int cpu_tensor_copy_out(fw_backend *be, const fw_tensor *t, float *dst, fw_error *err)
{
    cpu_enter(be);
    int64_t n = cpu_numel(t->shape);
    if (n == 0)
        return 0;
    if (cpu_md_is_plain(&t->md)) {
        memcpy(dst, t->buf, (size_t)n * sizeof(float));
        return 0;
    }
    dnnl_memory_desc_t md;
    cpu_plain_md(&md, t->shape);
    dnnl_memory_t mem;
    FW_TRY(cpu_wrap(be, &md, dst, &mem, err));
    int rc = cpu_reorder(be, t->mem, mem, 0, err);
    dnnl_memory_destroy(mem);
    return rc;
}

static int cpu_tensor_zero(fw_backend *be, fw_tensor *t, fw_shape s, fw_error *err)
{
    float *dst;
    FW_TRY(cpu_tensor_plain_out(be, t, s, &dst, err));
    memset(dst, 0, (size_t)cpu_numel(s) * sizeof(float));
    return 0;
}

static int cpu_tensor_copy(fw_backend *be, const fw_tensor *src, fw_tensor *dst, fw_error *err)
{
    if (src == dst)
        return 0;
    if (!src->mem)
        return fw_fail(err, FW_EINVAL, "backend: tensor_copy from an empty tensor");
    FW_TRY(cpu_tensor_define(be, dst, src->shape, &src->md, err));
    memcpy(dst->buf, src->buf, dnnl_memory_desc_get_size(&src->md));
    return 0;
}

/* ---- ReLU and add -------------------------------------------------------------- */

enum { KIND_RELU_FWD = 10, KIND_RELU_BWD = 11, KIND_ADD = 12 };

int cpu_relu_forward(fw_backend *be, const fw_tensor *x, fw_tensor *y, fw_error *err)
{
    cpu_enter(be);
    if (!x->mem)
        return fw_fail(err, FW_EINVAL, "relu_forward: input tensor is empty");
    dnnl_memory_desc_t md = x->md;
    dnnl_primitive_t prim = cpu_cache_find(be, KIND_RELU_FWD, 0, &md, NULL, NULL);
    if (!prim) {
        dnnl_eltwise_desc_t d;
        dnnl_primitive_desc_t pd;
        DNNL_CHECK(dnnl_eltwise_forward_desc_init(&d, dnnl_forward_training,
                                                  dnnl_eltwise_relu_use_dst_for_bwd, &md,
                                                  0.f, 0.f),
                   err);
        DNNL_CHECK(dnnl_primitive_desc_create(&pd, &d, NULL, be->engine, NULL), err);
        FW_TRY(cpu_prim_from_pd(pd, &prim, err));
        FW_TRY(cpu_cache_add(be, KIND_RELU_FWD, 0, &md, NULL, NULL, prim, err));
    }
    FW_TRY(cpu_tensor_define(be, y, x->shape, &md, err));
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_SRC, x->mem}, {DNNL_ARG_DST, y->mem}};
    return cpu_exec(be, prim, 2, args, err);
}

int cpu_relu_backward(fw_backend *be, const fw_tensor *y, const fw_tensor *dy, fw_tensor *dx,
                      fw_error *err)
{
    cpu_enter(be);
    if (!y->mem || !dy->mem)
        return fw_fail(err, FW_EINVAL, "relu_backward: input tensor is empty");
    if (!cpu_shape_eq(y->shape, dy->shape))
        return fw_fail(err, FW_EINVAL, "relu_backward: y and dy shapes differ");
    dnnl_memory_desc_t md = y->md;
    dnnl_primitive_t prim = cpu_cache_find(be, KIND_RELU_BWD, 0, &md, NULL, NULL);
    if (!prim) {
        dnnl_eltwise_desc_t fd, d;
        dnnl_primitive_desc_t hint, pd;
        DNNL_CHECK(dnnl_eltwise_forward_desc_init(&fd, dnnl_forward_training,
                                                  dnnl_eltwise_relu_use_dst_for_bwd, &md,
                                                  0.f, 0.f),
                   err);
        DNNL_CHECK(dnnl_primitive_desc_create(&hint, &fd, NULL, be->engine, NULL), err);
        dnnl_status_t st = dnnl_eltwise_backward_desc_init(
            &d, dnnl_eltwise_relu_use_dst_for_bwd, &md, &md, 0.f, 0.f);
        if (st == dnnl_success)
            st = dnnl_primitive_desc_create(&pd, &d, NULL, be->engine, hint);
        dnnl_primitive_desc_destroy(hint);
        DNNL_CHECK(st, err);
        FW_TRY(cpu_prim_from_pd(pd, &prim, err));
        FW_TRY(cpu_cache_add(be, KIND_RELU_BWD, 0, &md, NULL, NULL, prim, err));
    }
    cpu_buffer scratch = {0};
    dnnl_memory_t dy_mem;
    int rc = cpu_tensor_as(be, dy, &md, &scratch, &dy_mem, err);
    if (rc == 0)
        rc = cpu_tensor_define(be, dx, y->shape, &md, err);
    if (rc == 0) {
        dnnl_exec_arg_t args[3] = {
            {DNNL_ARG_DST, y->mem}, {DNNL_ARG_DIFF_DST, dy_mem}, {DNNL_ARG_DIFF_SRC, dx->mem}};
        rc = cpu_exec(be, prim, 3, args, err);
    }
    cpu_buffer_free(&scratch);
    return rc;
}

int cpu_add(fw_backend *be, const fw_tensor *a, const fw_tensor *b, fw_tensor *y, fw_error *err)
{
    cpu_enter(be);
    if (!a->mem || !b->mem)
        return fw_fail(err, FW_EINVAL, "add: input tensor is empty");
    if (!cpu_shape_eq(a->shape, b->shape))
        return fw_fail(err, FW_EINVAL,
                       "add: shapes differ (%lld,%lld,%lld,%lld) vs (%lld,%lld,%lld,%lld)",
                       (long long)a->shape.n, (long long)a->shape.c, (long long)a->shape.h,
                       (long long)a->shape.w, (long long)b->shape.n, (long long)b->shape.c,
                       (long long)b->shape.h, (long long)b->shape.w);
    if (y == b && y != a) { /* in place only as src0 = dst: swap (add commutes) */
        const fw_tensor *t = a;
        a = b;
        b = t;
    }
    dnnl_memory_desc_t md = a->md;
    dnnl_primitive_t prim = cpu_cache_find(be, KIND_ADD, 0, &md, NULL, NULL);
    if (!prim) {
        dnnl_binary_desc_t d;
        dnnl_primitive_desc_t pd;
        DNNL_CHECK(dnnl_binary_desc_init(&d, dnnl_binary_add, &md, &md, &md), err);
        DNNL_CHECK(dnnl_primitive_desc_create(&pd, &d, NULL, be->engine, NULL), err);
        FW_TRY(cpu_prim_from_pd(pd, &prim, err));
        FW_TRY(cpu_cache_add(be, KIND_ADD, 0, &md, NULL, NULL, prim, err));
    }
    cpu_buffer scratch = {0};
    dnnl_memory_t b_mem;
    int rc = cpu_tensor_as(be, b, &md, &scratch, &b_mem, err);
    if (rc == 0)
        rc = cpu_tensor_define(be, y, a->shape, &md, err);
    if (rc == 0) {
        dnnl_exec_arg_t args[3] = {
            {DNNL_ARG_SRC_0, a->mem}, {DNNL_ARG_SRC_1, b_mem}, {DNNL_ARG_DST, y->mem}};
        rc = cpu_exec(be, prim, 3, args, err);
    }
    cpu_buffer_free(&scratch);
    return rc;
}

/* ---- the table ------------------------------------------------------------------- */

static const fw_backend_ops cpu_ops = {
    .name = "cpu",
    .create = cpu_create,
    .destroy = cpu_destroy,
    .describe = cpu_describe,
    .threads = cpu_threads,
    .params_updated = cpu_params_updated,
    .buffers_updated = cpu_buffers_updated,
    .sync = cpu_sync,
    .tensor_create = cpu_tensor_create,
    .tensor_free = cpu_tensor_free,
    .tensor_shape = cpu_tensor_shape,
    .tensor_copy_in = cpu_tensor_copy_in,
    .tensor_copy_out = cpu_tensor_copy_out,
    .tensor_zero = cpu_tensor_zero,
    .tensor_copy = cpu_tensor_copy,
    .conv_create = cpu_conv_create,
    .conv_destroy = cpu_conv_destroy,
    .conv_forward = cpu_conv_forward,
    .conv_backward = cpu_conv_backward,
    .bn_create = cpu_bn_create,
    .bn_destroy = cpu_bn_destroy,
    .bn_forward = cpu_bn_forward,
    .bn_backward = cpu_bn_backward,
    .bn_set_sync = cpu_bn_set_sync,
    .relu_forward = cpu_relu_forward,
    .relu_backward = cpu_relu_backward,
    .add = cpu_add,
    .pool_create = cpu_pool_create,
    .pool_destroy = cpu_pool_destroy,
    .pool_forward = cpu_pool_forward,
    .pool_backward = cpu_pool_backward,
    .gem_create = cpu_gem_create,
    .gem_destroy = cpu_gem_destroy,
    .gem_forward = cpu_gem_forward,
    .gem_backward = cpu_gem_backward,
    .linear_create = cpu_linear_create,
    .linear_destroy = cpu_linear_destroy,
    .linear_forward = cpu_linear_forward,
    .linear_backward = cpu_linear_backward,
    .l2norm_forward = cpu_l2norm_forward,
    .l2norm_backward = cpu_l2norm_backward,
    .dropout_create = cpu_dropout_create,
    .dropout_destroy = cpu_dropout_destroy,
    .dropout_forward = cpu_dropout_forward,
    .dropout_backward = cpu_dropout_backward,
    .augment_set_cache = cpu_augment_set_cache,
    .augment_batch = cpu_augment_batch,
};

const fw_backend_ops *fw_backend_cpu(void)
{
    return &cpu_ops;
}
