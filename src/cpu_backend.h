/* cpu_backend.h — internals shared by the CPU backend's files (cpu_*.c):
 * the backend state, the tensor representation and small helpers for
 * layouts, cached primitives and execution. Not for use outside src/cpu_*.c
 * and src/backend_cpu.c.
 */
#ifndef FW_CPU_BACKEND_H
#define FW_CPU_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include <oneapi/dnnl/dnnl.h>

#include "backend.h"
#include "dnnl_check.h"

/* A cached stateless primitive (reorder, ReLU, add), keyed by kind + descs. */
typedef struct cpu_cached_prim {
    int kind;
    int extra;
    dnnl_memory_desc_t md[3];
    dnnl_primitive_t prim;
} cpu_cached_prim;

struct fw_backend {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    int threads;
    uint64_t param_gen; /* bumped by params_updated(); derived copies compare */
    cpu_cached_prim *cache; /* (n_cache) */
    int n_cache, cap_cache;
    /* augment_set_cache: the caller's image cache (aug_items, aug_sh, aug_sw, aug_sc) */
    const uint8_t *aug_cache;
    int64_t aug_items;
    int aug_sw, aug_sh, aug_sc;
    float *aug_out;           /* (n, sc, oh, ow) scratch, aug_out_cap floats */
    size_t aug_out_cap;
    const uint8_t **aug_srcs; /* (aug_srcs_cap) */
    int aug_srcs_cap;
};

struct fw_tensor {
    fw_shape shape;
    dnnl_memory_desc_t md; /* current layout (ndims 4, f32) */
    void *buf;             /* 64-byte aligned, cap bytes */
    size_t cap;
    dnnl_memory_t mem;     /* md over buf; NULL while empty */
};

/* A buffer whose layout an op picks (reordered inputs, derived weights). */
typedef struct cpu_buffer {
    dnnl_memory_desc_t md;
    void *buf;
    size_t cap;
    dnnl_memory_t mem;
    uint64_t gen; /* for derived weights: param_gen when filled (0 = never) */
} cpu_buffer;

/* Call at the start of every op: applies the thread count to this thread. */
void cpu_enter(fw_backend *be);

/* Plain (N, C, H, W) f32 memory desc of a shape. */
void cpu_plain_md(dnnl_memory_desc_t *md, fw_shape s);
/* Any-format (dnnl_format_tag_any) f32 desc of a shape. */
void cpu_any_md(dnnl_memory_desc_t *md, fw_shape s);
int cpu_md_is_plain(const dnnl_memory_desc_t *md);
int64_t cpu_numel(fw_shape s);
int cpu_shape_eq(fw_shape a, fw_shape b);

/* Give t the shape s and layout md (contents undefined; storage grows). */
int cpu_tensor_define(fw_backend *be, fw_tensor *t, fw_shape s, const dnnl_memory_desc_t *md,
                      fw_error *err);
/* Give b the layout md (storage grows; contents undefined). */
int cpu_buffer_define(fw_backend *be, cpu_buffer *b, const dnnl_memory_desc_t *md,
                      fw_error *err);
void cpu_buffer_free(cpu_buffer *b);

/* The memory of t in layout want: t's own memory when it already has that
 * layout, else t reordered into scratch. */
int cpu_tensor_as(fw_backend *be, const fw_tensor *t, const dnnl_memory_desc_t *want,
                  cpu_buffer *scratch, dnnl_memory_t *out, fw_error *err);

/* Reorder src memory into dst memory (dst = src, or dst += src with accumulate). */
int cpu_reorder(fw_backend *be, dnnl_memory_t src, dnnl_memory_t dst, int accumulate,
                fw_error *err);

/* Wrap a plain host pointer as memory (caller destroys). */
int cpu_wrap(fw_backend *be, const dnnl_memory_desc_t *md, const void *ptr,
             dnnl_memory_t *out, fw_error *err);

/* Look up / insert a cached stateless primitive. */
dnnl_primitive_t cpu_cache_find(fw_backend *be, int kind, int extra,
                                const dnnl_memory_desc_t *md0, const dnnl_memory_desc_t *md1,
                                const dnnl_memory_desc_t *md2);
int cpu_cache_add(fw_backend *be, int kind, int extra, const dnnl_memory_desc_t *md0,
                  const dnnl_memory_desc_t *md1, const dnnl_memory_desc_t *md2,
                  dnnl_primitive_t prim, fw_error *err);

/* Create a primitive from a pd (then destroys the pd unless keep_pd). */
int cpu_prim_from_pd(dnnl_primitive_desc_t pd, dnnl_primitive_t *out, fw_error *err);

/* Execute a primitive on the backend's stream and wait. */
int cpu_exec(fw_backend *be, dnnl_primitive_t prim, int nargs, const dnnl_exec_arg_t *args,
             fw_error *err);

/* Offset (in floats) of logical element (n, c, h, w) in a dense blocked md
 * (plain, nhwc or channel-blocked like nChw16c). */
int64_t cpu_offset(const dnnl_memory_desc_t *md, int64_t n, int64_t c, int64_t h, int64_t w);
/* Whether cpu_offset understands md. */
int cpu_offset_supported(const dnnl_memory_desc_t *md);

/* A plain (N, C, H, W) float copy of t: *data points into t when t is plain,
 * else into *owned (malloc'd, caller frees). */
int cpu_tensor_plain_view(fw_backend *be, const fw_tensor *t, const float **data,
                          float **owned, fw_error *err);
/* Make t plain (N, C, H, W) of shape s and return its data pointer. */
int cpu_tensor_plain_out(fw_backend *be, fw_tensor *t, fw_shape s, float **data,
                         fw_error *err);

/* Add n floats of src into dst (dst += src). */
void cpu_axpy1(float *dst, const float *src, int64_t n);

/* ---- per-file op entry points (the ops table in backend_cpu.c) ---- */
int cpu_conv_create(fw_backend *be, const fw_conv_desc *desc, fw_param *weight,
                    fw_param *bias, fw_conv **out, fw_error *err);
void cpu_conv_destroy(fw_backend *be, fw_conv *conv);
int cpu_conv_forward(fw_backend *be, fw_conv *conv, const fw_tensor *x, fw_tensor *y,
                     fw_error *err);
int cpu_conv_backward(fw_backend *be, fw_conv *conv, const fw_tensor *x, const fw_tensor *dy,
                      fw_tensor *dx, unsigned flags, fw_error *err);

int cpu_bn_create(fw_backend *be, int channels, float eps, float momentum, fw_param *weight,
                  fw_param *bias, fw_param *running_mean, fw_param *running_var, fw_bn **out,
                  fw_error *err);
void cpu_bn_destroy(fw_backend *be, fw_bn *bn);
int cpu_bn_forward(fw_backend *be, fw_bn *bn, int training, const fw_tensor *x, fw_tensor *y,
                   fw_error *err);
int cpu_bn_backward(fw_backend *be, fw_bn *bn, const fw_tensor *x, const fw_tensor *dy,
                    fw_tensor *dx, unsigned flags, fw_error *err);
int cpu_bn_set_sync(fw_backend *be, fw_bn *bn, fw_bn_sync_fn fn, void *ctx, fw_error *err);

int cpu_pool_create(fw_backend *be, const fw_pool_desc *desc, fw_pool **out, fw_error *err);
void cpu_pool_destroy(fw_backend *be, fw_pool *pool);
int cpu_pool_forward(fw_backend *be, fw_pool *pool, const fw_tensor *x, fw_tensor *y,
                     fw_error *err);
int cpu_pool_backward(fw_backend *be, fw_pool *pool, const fw_tensor *dy, fw_tensor *dx,
                      fw_error *err);

int cpu_relu_forward(fw_backend *be, const fw_tensor *x, fw_tensor *y, fw_error *err);
int cpu_relu_backward(fw_backend *be, const fw_tensor *y, const fw_tensor *dy, fw_tensor *dx,
                      fw_error *err);
int cpu_add(fw_backend *be, const fw_tensor *a, const fw_tensor *b, fw_tensor *y,
            fw_error *err);

int cpu_gem_create(fw_backend *be, fw_param *p, float eps, fw_gem **out, fw_error *err);
void cpu_gem_destroy(fw_backend *be, fw_gem *gem);
int cpu_gem_forward(fw_backend *be, fw_gem *gem, const fw_tensor *x, fw_tensor *y,
                    fw_error *err);
int cpu_gem_backward(fw_backend *be, fw_gem *gem, const fw_tensor *x, const fw_tensor *y,
                     const fw_tensor *dy, fw_tensor *dx, unsigned flags, fw_error *err);

int cpu_linear_create(fw_backend *be, int in_features, int out_features, fw_param *weight,
                      fw_param *bias, fw_linear **out, fw_error *err);
void cpu_linear_destroy(fw_backend *be, fw_linear *lin);
int cpu_linear_forward(fw_backend *be, fw_linear *lin, const fw_tensor *x, fw_tensor *y,
                       fw_error *err);
int cpu_linear_backward(fw_backend *be, fw_linear *lin, const fw_tensor *x,
                        const fw_tensor *dy, fw_tensor *dx, unsigned flags, fw_error *err);

int cpu_l2norm_forward(fw_backend *be, const fw_tensor *x, fw_tensor *y, float eps,
                       fw_error *err);
int cpu_l2norm_backward(fw_backend *be, const fw_tensor *x, const fw_tensor *y,
                        const fw_tensor *dy, fw_tensor *dx, float eps, fw_error *err);

int cpu_dropout_create(fw_backend *be, float rate, uint64_t seed, fw_dropout **out,
                       fw_error *err);
void cpu_dropout_destroy(fw_backend *be, fw_dropout *d);
int cpu_dropout_forward(fw_backend *be, fw_dropout *d, int training, uint64_t stream,
                        const fw_tensor *x, fw_tensor *y, fw_error *err);
int cpu_dropout_backward(fw_backend *be, fw_dropout *d, const fw_tensor *dy, fw_tensor *dx,
                         fw_error *err);

int cpu_augment_set_cache(fw_backend *be, const uint8_t *cache, int64_t items, int sw, int sh,
                          int sc, fw_error *err);
int cpu_augment_batch(fw_backend *be, const fw_aug_params *params, const int64_t *items, int n,
                      int ow, int oh, fw_tensor *out, fw_error *err);

#endif
