/* cpu_tensor.c — the CPU backend's activations: oneDNN memory in a layout the
 * producing op chooses, plain (N, C, H, W) copies in and out, reorders, and
 * element offsets in blocked layouts for the backend's own loops.
 */
#include <stdlib.h>
#include <string.h>

#include "cpu_backend.h"

int64_t cpu_numel(fw_shape s)
{
    return s.n * s.c * s.h * s.w;
}

int cpu_shape_eq(fw_shape a, fw_shape b)
{
    return a.n == b.n && a.c == b.c && a.h == b.h && a.w == b.w;
}

void cpu_plain_md(dnnl_memory_desc_t *md, fw_shape s)
{
    dnnl_dims_t dims = {s.n, s.c, s.h, s.w};
    dnnl_memory_desc_init_by_tag(md, 4, dims, dnnl_f32, dnnl_nchw);
}

void cpu_any_md(dnnl_memory_desc_t *md, fw_shape s)
{
    dnnl_dims_t dims = {s.n, s.c, s.h, s.w};
    dnnl_memory_desc_init_by_tag(md, 4, dims, dnnl_f32, dnnl_format_tag_any);
}

int cpu_md_is_plain(const dnnl_memory_desc_t *md)
{
    if (md->format_kind != dnnl_blocked || md->format_desc.blocking.inner_nblks != 0 ||
        md->offset0 != 0)
        return 0;
    int64_t expect = 1;
    for (int d = md->ndims - 1; d >= 0; d--) {
        if (md->padded_dims[d] != md->dims[d])
            return 0;
        if (md->dims[d] > 1 && md->format_desc.blocking.strides[d] != expect)
            return 0;
        expect *= md->dims[d];
    }
    return 1;
}

int cpu_offset_supported(const dnnl_memory_desc_t *md)
{
    if (md->format_kind != dnnl_blocked || md->ndims != 4)
        return 0;
    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    return b->inner_nblks == 0 || (b->inner_nblks == 1 && b->inner_idxs[0] == 1);
}

int64_t cpu_offset(const dnnl_memory_desc_t *md, int64_t n, int64_t c, int64_t h, int64_t w)
{
    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    if (b->inner_nblks == 0)
        return md->offset0 + n * b->strides[0] + c * b->strides[1] + h * b->strides[2] +
               w * b->strides[3];
    int64_t blk = b->inner_blks[0];
    return md->offset0 + n * b->strides[0] + (c / blk) * b->strides[1] + h * b->strides[2] +
           w * b->strides[3] + c % blk;
}

static int grow(void **buf, size_t *cap, size_t need, fw_error *err)
{
    if (need <= *cap)
        return 0;
    size_t bytes = (need + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, bytes);
    if (!p)
        return fw_fail(err, FW_ENOMEM, "backend: cannot allocate %zu bytes", bytes);
    free(*buf);
    *buf = p;
    *cap = bytes;
    return 0;
}

int cpu_buffer_define(fw_backend *be, cpu_buffer *b, const dnnl_memory_desc_t *md,
                      fw_error *err)
{
    if (b->mem && dnnl_memory_desc_equal(&b->md, md))
        return 0;
    FW_TRY(grow(&b->buf, &b->cap, dnnl_memory_desc_get_size(md), err));
    if (b->mem)
        dnnl_memory_destroy(b->mem);
    b->mem = NULL;
    b->md = *md;
    b->gen = 0;
    DNNL_CHECK(dnnl_memory_create(&b->mem, md, be->engine, b->buf), err);
    return 0;
}

void cpu_buffer_free(cpu_buffer *b)
{
    if (b->mem)
        dnnl_memory_destroy(b->mem);
    free(b->buf);
    memset(b, 0, sizeof *b);
}

int cpu_tensor_define(fw_backend *be, fw_tensor *t, fw_shape s, const dnnl_memory_desc_t *md,
                      fw_error *err)
{
    if (s.n < 0 || s.c < 0 || s.h < 0 || s.w < 0)
        return fw_fail(err, FW_EINVAL, "backend: negative tensor shape");
    if (t->mem && cpu_shape_eq(t->shape, s) && dnnl_memory_desc_equal(&t->md, md))
        return 0;
    size_t need = dnnl_memory_desc_get_size(md);
    FW_TRY(grow(&t->buf, &t->cap, need ? need : 64, err));
    if (t->mem)
        dnnl_memory_destroy(t->mem);
    t->mem = NULL;
    t->shape = s;
    t->md = *md;
    DNNL_CHECK(dnnl_memory_create(&t->mem, md, be->engine, t->buf), err);
    return 0;
}

int cpu_wrap(fw_backend *be, const dnnl_memory_desc_t *md, const void *ptr,
             dnnl_memory_t *out, fw_error *err)
{
    DNNL_CHECK(dnnl_memory_create(out, md, be->engine, (void *)ptr), err);
    return 0;
}

enum { KIND_REORDER = 1 };

int cpu_reorder(fw_backend *be, dnnl_memory_t src, dnnl_memory_t dst, int accumulate,
                fw_error *err)
{
    const dnnl_memory_desc_t *smd, *dmd;
    DNNL_CHECK(dnnl_memory_get_memory_desc(src, &smd), err);
    DNNL_CHECK(dnnl_memory_get_memory_desc(dst, &dmd), err);
    dnnl_primitive_t prim = cpu_cache_find(be, KIND_REORDER, accumulate, smd, dmd, NULL);
    if (!prim) {
        dnnl_primitive_attr_t attr = NULL;
        dnnl_post_ops_t po = NULL;
        if (accumulate) {
            DNNL_CHECK(dnnl_primitive_attr_create(&attr), err);
            DNNL_CHECK(dnnl_post_ops_create(&po), err);
            DNNL_CHECK(dnnl_post_ops_append_sum(po, 1.0f), err);
            DNNL_CHECK(dnnl_primitive_attr_set_post_ops(attr, po), err);
            dnnl_post_ops_destroy(po);
        }
        dnnl_primitive_desc_t pd;
        dnnl_status_t st =
            dnnl_reorder_primitive_desc_create(&pd, smd, be->engine, dmd, be->engine, attr);
        if (attr)
            dnnl_primitive_attr_destroy(attr);
        DNNL_CHECK(st, err);
        FW_TRY(cpu_prim_from_pd(pd, &prim, err));
        FW_TRY(cpu_cache_add(be, KIND_REORDER, accumulate, smd, dmd, NULL, prim, err));
    }
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}};
    return cpu_exec(be, prim, 2, args, err);
}

int cpu_tensor_as(fw_backend *be, const fw_tensor *t, const dnnl_memory_desc_t *want,
                  cpu_buffer *scratch, dnnl_memory_t *out, fw_error *err)
{
    if (!t->mem)
        return fw_fail(err, FW_EINVAL, "backend: input tensor is empty");
    if (dnnl_memory_desc_equal(&t->md, want)) {
        *out = t->mem;
        return 0;
    }
    FW_TRY(cpu_buffer_define(be, scratch, want, err));
    FW_TRY(cpu_reorder(be, t->mem, scratch->mem, 0, err));
    *out = scratch->mem;
    return 0;
}

int cpu_tensor_plain_view(fw_backend *be, const fw_tensor *t, const float **data,
                          float **owned, fw_error *err)
{
    *owned = NULL;
    if (!t->mem)
        return fw_fail(err, FW_EINVAL, "backend: input tensor is empty");
    if (cpu_md_is_plain(&t->md)) {
        *data = t->buf;
        return 0;
    }
    int64_t n = cpu_numel(t->shape);
    float *p = malloc((size_t)(n ? n : 1) * sizeof(float));
    if (!p)
        return fw_fail(err, FW_ENOMEM, "backend: cannot allocate %lld floats", (long long)n);
    dnnl_memory_desc_t md;
    cpu_plain_md(&md, t->shape);
    dnnl_memory_t mem;
    int rc = cpu_wrap(be, &md, p, &mem, err);
    if (rc == 0) {
        rc = cpu_reorder(be, t->mem, mem, 0, err);
        dnnl_memory_destroy(mem);
    }
    if (rc < 0) {
        free(p);
        return rc;
    }
    *data = p;
    *owned = p;
    return 0;
}

int cpu_tensor_plain_out(fw_backend *be, fw_tensor *t, fw_shape s, float **data,
                         fw_error *err)
{
    dnnl_memory_desc_t md;
    cpu_plain_md(&md, s);
    FW_TRY(cpu_tensor_define(be, t, s, &md, err));
    *data = t->buf;
    return 0;
}

void cpu_axpy1(float *dst, const float *src, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        dst[i] += src[i];
}
