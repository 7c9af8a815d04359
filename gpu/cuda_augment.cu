/* cuda_augment.cu — the CUDA backend's augmentation ops (backend.h): the
 * decoded uint8 image cache goes to device memory once when it fits in half
 * of the free memory; otherwise it is pinned in place (cudaHostRegister) and
 * each batch's images are gathered to the device on a copy stream of their
 * own. Either way one fused kernel (augment_kernel.cu, the per-pixel math of
 * data/augment.h) writes the batch straight into the output tensor, NHWC in
 * the backend's precision.
 * FLUKEWATCH_GPU_CACHE=pinned takes the streamed path whatever the size (so
 * that tests/gpu/check covers it).
 * Double-buffered: two sets of per-batch buffers (parameters and item
 * indices through pinned memory; the gathered images) are used in turn, each
 * reused only after the kernel that read it is done (an event), so the host
 * queues batch i+1, and its gather runs, while batch i is still computing.
 */
#include <stdlib.h>
#include <string.h>

#include "augment_kernel.h"
#include "cuda_backend.h"

static void slot_free(cuda_aug_slot *s)
{
    if (s->batch_d)
        cudaFree(s->batch_d);
    if (s->args_d)
        cudaFree(s->args_d);
    if (s->args_h)
        cudaFreeHost(s->args_h);
    if (s->ready)
        cudaEventDestroy(s->ready);
    if (s->done)
        cudaEventDestroy(s->done);
    memset(s, 0, sizeof *s);
}

void cuda_augment_release(fw_backend *be)
{
    cuda_enter_quiet(be);
    for (int k = 0; k < 2; k++) {
        if (be->aug_slot[k].used)
            cudaEventSynchronize(be->aug_slot[k].done);
        slot_free(&be->aug_slot[k]);
    }
    if (be->aug_copy)
        cudaStreamDestroy(be->aug_copy);
    if (be->aug_cache_d)
        cudaFree(be->aug_cache_d);
    if (be->aug_pinned)
        cudaHostUnregister((void *)be->aug_cache_h);
    be->aug_cache_d = NULL, be->aug_cache_h = NULL, be->aug_copy = NULL;
    be->aug_pinned = 0, be->aug_items = 0, be->aug_next = 0;
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
    /* FLUKEWATCH_GPU_CACHE=pinned streams even a cache that fits (tests) */
    const char *mode = getenv("FLUKEWATCH_GPU_CACHE");
    int force_pinned = mode && strcmp(mode, "pinned") == 0;
    if (bytes <= free_b / 2 && !force_pinned) {
        CUDA_CHECK(cudaMalloc(&be->aug_cache_d, bytes));
        /* on the stream, waited for: a plain cudaMemcpy from pageable memory
         * may return before the data arrive, unordered with this stream */
        CUDA_CHECK(cudaMemcpyAsync(be->aug_cache_d, cache, bytes, cudaMemcpyHostToDevice,
                                   be->stream));
        CUDA_CHECK(cudaStreamSynchronize(be->stream));
    } else {
        /* pinned where it is: the per-batch gathers then run at full bus speed */
        /* read-only registration exists only where the device says so (ATS
         * systems); elsewhere (x86 PCIe GPUs) it would fail */
        int read_only = 0;
        if (cudaDeviceGetAttribute(&read_only, cudaDevAttrHostRegisterReadOnlySupported,
                                   be->device) != cudaSuccess) {
            read_only = 0;
            cudaGetLastError(); /* not left for a later check to report */
        }
        CUDA_CHECK(cudaHostRegister((void *)cache, bytes,
                                    read_only ? cudaHostRegisterReadOnly
                                              : cudaHostRegisterDefault));
        be->aug_cache_h = cache; /* (release unregisters it from here on) */
        be->aug_pinned = 1;
        CUDA_CHECK(cudaStreamCreateWithFlags(&be->aug_copy, cudaStreamNonBlocking));
    }
    /* usable only now that everything above went through */
    be->aug_cache_h = cache;
    be->aug_items = items;
    be->aug_sw = sw, be->aug_sh = sh, be->aug_sc = sc;
    return FW_OK;
}

/* The next slot, free for reuse, with room for n samples of `image` bytes. */
static int take_slot(fw_backend *be, int n, size_t image, cuda_aug_slot **out,
                     fw_error *err)
{
    cuda_aug_slot *s = &be->aug_slot[be->aug_next];
    be->aug_next ^= 1;
    if (!s->done)
        CUDA_CHECK(cudaEventCreateWithFlags(&s->done, cudaEventDisableTiming));
    if (!s->ready)
        CUDA_CHECK(cudaEventCreateWithFlags(&s->ready, cudaEventDisableTiming));
    if (s->used) /* its last batch's copies and kernel must be done */
        CUDA_CHECK(cudaEventSynchronize(s->done));
    size_t args = (size_t)n * (sizeof(int64_t) + sizeof(fw_aug_params));
    if (args > s->args_cap) {
        if (s->args_h)
            CUDA_CHECK(cudaFreeHost(s->args_h));
        s->args_h = NULL;
        s->args_cap = 0;
        CUDA_CHECK(cudaMallocHost(&s->args_h, args));
        size_t cap_d = 0;
        FW_TRY(cuda_grow(&s->args_d, &cap_d, args, err));
        s->args_cap = args;
    }
    if (be->aug_pinned)
        FW_TRY(cuda_grow(&s->batch_d, &s->batch_cap, (size_t)n * image, err));
    *out = s;
    return 0;
}

/* Queue the slot's uploads (and gathers), the kernel, and the slot's event. */
static int queue_batch(fw_backend *be, cuda_aug_slot *s, const fw_aug_params *params,
                       const int64_t *items, int n, int ow, int oh, fw_tensor *out,
                       fw_error *err)
{
    size_t image = (size_t)be->aug_sh * be->aug_sw * be->aug_sc;
    size_t args = (size_t)n * (sizeof(int64_t) + sizeof(fw_aug_params));
    /* the item indices first: 8-byte aligned whatever n is (fw_aug_params
     * is 4-byte aligned, so indices after n of them would not be) */
    int64_t *items_h = (int64_t *)s->args_h;
    fw_aug_params *p_h = (fw_aug_params *)(items_h + n);
    memcpy(p_h, params, (size_t)n * sizeof *params);
    const uint8_t *src = (const uint8_t *)be->aug_cache_d;
    if (be->aug_pinned) { /* gather this batch's images; the kernel reads them as 0..n-1 */
        for (int i = 0; i < n; i++) {
            items_h[i] = i;
            CUDA_CHECK(cudaMemcpyAsync((uint8_t *)s->batch_d + (size_t)i * image,
                                       be->aug_cache_h + (size_t)items[i] * image, image,
                                       cudaMemcpyHostToDevice, be->aug_copy));
        }
        CUDA_CHECK(cudaMemcpyAsync(s->args_d, s->args_h, args, cudaMemcpyHostToDevice,
                                   be->aug_copy));
        CUDA_CHECK(cudaEventRecord(s->ready, be->aug_copy));
        CUDA_CHECK(cudaStreamWaitEvent(be->stream, s->ready, 0));
        src = (const uint8_t *)s->batch_d;
    } else {
        memcpy(items_h, items, (size_t)n * sizeof *items);
        CUDA_CHECK(cudaMemcpyAsync(s->args_d, s->args_h, args, cudaMemcpyHostToDevice,
                                   be->stream));
    }
    FW_TRY(cuda_tensor_define(be, out, (fw_shape){n, be->aug_sc, oh, ow}, err));
    fw_gpu_dtype dtype = be->prec == FW_PRECISION_BF16   ? FW_GPU_BF16
                         : be->prec == FW_PRECISION_FP16 ? FW_GPU_F16
                                                         : FW_GPU_F32;
    const int64_t *items_d = (const int64_t *)s->args_d;
    const fw_aug_params *p_d = (const fw_aug_params *)(items_d + n);
    return fw_gpu_augment_batch(p_d, src, items_d, n, be->aug_sw, be->aug_sh, be->aug_sc, out->d,
                                ow, oh, dtype, FW_LAYOUT_NHWC, be->stream, err);
}

int cuda_augment_batch(fw_backend *be, const fw_aug_params *params, const int64_t *items, int n,
                       int ow, int oh, fw_tensor *out, fw_error *err)
{
    if (!be->aug_cache_h)
        return fw_fail(err, FW_EINVAL, "augment_batch: no image cache (augment_set_cache)");
    if (n < 1 || n > 65535 || ow < 1 || oh < 1)
        return fw_fail(err, FW_EINVAL, "augment_batch: bad batch %d of %dx%d (at most 65535)",
                       n, ow, oh);
    for (int i = 0; i < n; i++)
        if (items[i] < 0 || items[i] >= be->aug_items)
            return fw_fail(err, FW_EINVAL, "augment_batch: sample %d reads item %lld of %lld", i,
                           (long long)items[i], (long long)be->aug_items);
    CUDA_ENTER(be);
    size_t image = (size_t)be->aug_sh * be->aug_sw * be->aug_sc;
    cuda_aug_slot *s;
    FW_TRY(take_slot(be, n, image, &s, err));
    int rc = queue_batch(be, s, params, items, n, ow, oh, out, err);
    /* whatever was queued, the slot is reused only after it (errors too) */
    cudaError_t ev = cudaEventRecord(s->done, be->stream);
    if (ev == cudaSuccess)
        s->used = 1;
    else if (rc == 0)
        return fw_fail(err, FW_EDEVICE, "augment_batch: cudaEventRecord: %s",
                       cudaGetErrorString(ev));
    return rc;
}
