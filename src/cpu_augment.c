/* cpu_augment.c — the CPU backend's augmentation ops: the caller's image
 * cache by pointer, each batch made by data/augment_cpu.c on the backend's
 * threads and copied into the tensor's layout (see backend.h). */
#include <stdlib.h>

#include "augment_cpu.h"
#include "cpu_backend.h"

int cpu_augment_set_cache(fw_backend *be, const uint8_t *cache, int64_t items, int sw, int sh,
                          int sc, fw_error *err)
{
    if (!cache || items < 1 || sw < 1 || sh < 1 || (sc != 1 && sc != 3))
        return fw_fail(err, FW_EINVAL,
                       "augment_set_cache: bad cache (%lld items of %dx%dx%d)",
                       (long long)items, sw, sh, sc);
    be->aug_cache = cache;
    be->aug_items = items;
    be->aug_sw = sw, be->aug_sh = sh, be->aug_sc = sc;
    return FW_OK;
}

int cpu_augment_batch(fw_backend *be, const fw_aug_params *params, const int64_t *items, int n,
                      int ow, int oh, fw_tensor *out, fw_error *err)
{
    if (!be->aug_cache)
        return fw_fail(err, FW_EINVAL, "augment_batch: no image cache (augment_set_cache)");
    if (n < 1 || ow < 1 || oh < 1)
        return fw_fail(err, FW_EINVAL, "augment_batch: bad batch %d of %dx%d", n, ow, oh);
    if (n > be->aug_srcs_cap) {
        const uint8_t **s = realloc(be->aug_srcs, (size_t)n * sizeof *s);
        if (!s)
            return fw_fail(err, FW_ENOMEM, "augment_batch: out of memory");
        be->aug_srcs = s;
        be->aug_srcs_cap = n;
    }
    size_t image = (size_t)be->aug_sh * be->aug_sw * be->aug_sc;
    for (int i = 0; i < n; i++) {
        if (items[i] < 0 || items[i] >= be->aug_items)
            return fw_fail(err, FW_EINVAL, "augment_batch: sample %d reads item %lld of %lld", i,
                           (long long)items[i], (long long)be->aug_items);
        be->aug_srcs[i] = be->aug_cache + (size_t)items[i] * image;
    }
    size_t floats = (size_t)n * be->aug_sc * oh * ow;
    if (floats > be->aug_out_cap) {
        float *o = realloc(be->aug_out, floats * sizeof *o);
        if (!o)
            return fw_fail(err, FW_ENOMEM, "augment_batch: out of memory for %zu floats", floats);
        be->aug_out = o;
        be->aug_out_cap = floats;
    }
    FW_TRY(fw_augment_batch(params, be->aug_srcs, n, be->aug_sw, be->aug_sh, be->aug_sc,
                            be->aug_out, ow, oh, be->threads, err));
    return fw_backend_cpu()->tensor_copy_in(be, out, (fw_shape){n, be->aug_sc, oh, ow},
                                            be->aug_out, err);
}
