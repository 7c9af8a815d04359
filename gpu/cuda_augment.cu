/* cuda_augment.cu — the CUDA backend's augmentation ops (backend.h): the
 * decoded uint8 image cache goes to device memory once when it fits in half
 * of the free memory; otherwise it is pinned in place (cudaHostRegister) and
 * each batch's images are copied to a device staging area before the kernel.
 * Either way one fused kernel (augment_kernel.cu, the per-pixel math of
 * data/augment.h) writes the batch straight into the output tensor, NHWC in
 * the backend's precision. Parameters and item indices go up per batch
 * through a pinned staging buffer.
 */
#include <string.h>

#include "augment_kernel.h"
#include "cuda_backend.h"

void cuda_augment_release(fw_backend *be)
{
    cuda_enter_quiet(be);
    if (be->aug_cache_d)
        cudaFree(be->aug_cache_d);
    if (be->aug_pinned)
        cudaHostUnregister((void *)be->aug_cache_h);
    if (be->aug_batch_d)
        cudaFree(be->aug_batch_d);
    if (be->aug_args_d)
        cudaFree(be->aug_args_d);
    if (be->aug_args_h)
        cudaFreeHost(be->aug_args_h);
    be->aug_cache_d = NULL, be->aug_batch_d = NULL, be->aug_args_d = NULL;
    be->aug_args_h = NULL, be->aug_cache_h = NULL;
    be->aug_pinned = 0, be->aug_batch_cap = 0, be->aug_args_cap = 0, be->aug_items = 0;
}

int cuda_augment_set_cache(fw_backend *be, const uint8_t *cache, int64_t items, int sw, int sh,
                           int sc, fw_error *err)
{
    if (!cache || items < 1 || sw < 1 || sh < 1 || (sc != 1 && sc != 3))
        return fw_fail(err, FW_EINVAL, "augment_set_cache: bad cache (%lld items of %dx%dx%d)",
                       (long long)items, sw, sh, sc);
    CUDA_ENTER(be);
    CUDA_CHECK(cudaStreamSynchronize(be->stream));
    cuda_augment_release(be);
    size_t bytes = (size_t)items * sh * sw * sc;
    size_t free_b = 0, total_b = 0;
    CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    be->aug_cache_h = cache;
    be->aug_items = items;
    be->aug_sw = sw, be->aug_sh = sh, be->aug_sc = sc;
    if (bytes <= free_b / 2) {
        CUDA_CHECK(cudaMalloc(&be->aug_cache_d, bytes));
        CUDA_CHECK(cudaMemcpy(be->aug_cache_d, cache, bytes, cudaMemcpyHostToDevice));
    } else {
        /* pinned where it is: the per-batch copies then run at full bus speed */
        CUDA_CHECK(cudaHostRegister((void *)cache, bytes, cudaHostRegisterReadOnly));
        be->aug_pinned = 1;
    }
    return FW_OK;
}

int cuda_augment_batch(fw_backend *be, const fw_aug_params *params, const int64_t *items, int n,
                       int ow, int oh, fw_tensor *out, fw_error *err)
{
    if (!be->aug_cache_h)
        return fw_fail(err, FW_EINVAL, "augment_batch: no image cache (augment_set_cache)");
    if (n < 1 || ow < 1 || oh < 1)
        return fw_fail(err, FW_EINVAL, "augment_batch: bad batch %d of %dx%d", n, ow, oh);
    for (int i = 0; i < n; i++)
        if (items[i] < 0 || items[i] >= be->aug_items)
            return fw_fail(err, FW_EINVAL, "augment_batch: sample %d reads item %lld of %lld", i,
                           (long long)items[i], (long long)be->aug_items);
    CUDA_ENTER(be);
    size_t image = (size_t)be->aug_sh * be->aug_sw * be->aug_sc;
    size_t args = (size_t)n * (sizeof(fw_aug_params) + sizeof(int64_t));
    /* the staging buffers are reused: the previous batch's copies must be done */
    CUDA_CHECK(cudaStreamSynchronize(be->stream));
    if (args > be->aug_args_cap) {
        if (be->aug_args_h)
            CUDA_CHECK(cudaFreeHost(be->aug_args_h));
        be->aug_args_h = NULL;
        be->aug_args_cap = 0;
        CUDA_CHECK(cudaMallocHost(&be->aug_args_h, args));
        size_t cap_d = 0;
        FW_TRY(cuda_grow(&be->aug_args_d, &cap_d, args, err));
        be->aug_args_cap = args;
    }
    fw_aug_params *p_h = (fw_aug_params *)be->aug_args_h;
    int64_t *items_h = (int64_t *)(p_h + n);
    memcpy(p_h, params, (size_t)n * sizeof *params);
    const uint8_t *src = (const uint8_t *)be->aug_cache_d;
    if (be->aug_pinned) { /* gather this batch's images; the kernel reads them as 0..n-1 */
        FW_TRY(cuda_grow(&be->aug_batch_d, &be->aug_batch_cap, (size_t)n * image, err));
        for (int i = 0; i < n; i++) {
            items_h[i] = i;
            CUDA_CHECK(cudaMemcpyAsync((uint8_t *)be->aug_batch_d + (size_t)i * image,
                                       be->aug_cache_h + (size_t)items[i] * image, image,
                                       cudaMemcpyHostToDevice, be->stream));
        }
        src = (const uint8_t *)be->aug_batch_d;
    } else {
        memcpy(items_h, items, (size_t)n * sizeof *items);
    }
    CUDA_CHECK(cudaMemcpyAsync(be->aug_args_d, be->aug_args_h, args, cudaMemcpyHostToDevice,
                               be->stream));
    FW_TRY(cuda_tensor_define(be, out, (fw_shape){n, be->aug_sc, oh, ow}, err));
    fw_gpu_dtype dtype = be->prec == FW_PRECISION_BF16   ? FW_GPU_BF16
                         : be->prec == FW_PRECISION_FP16 ? FW_GPU_F16
                                                         : FW_GPU_F32;
    const fw_aug_params *p_d = (const fw_aug_params *)be->aug_args_d;
    const int64_t *items_d = (const int64_t *)(p_d + n);
    return fw_gpu_augment_batch(p_d, src, items_d, n, be->aug_sw, be->aug_sh, be->aug_sc, out->d,
                                ow, oh, dtype, FW_LAYOUT_NHWC, be->stream, err);
}
