/* augment_kernel.h — GPU-side augmentation: one fused kernel per batch.
 *
 * Every output pixel of every sample runs data/augment.h's per-pixel math
 * (the same code the CPU path runs) on the uint8 image cache resident on the
 * GPU, and writes the model's input directly in its layout and dtype.
 * Declared for C; implemented in augment_kernel.cu.
 */
#ifndef FW_AUGMENT_KERNEL_H
#define FW_AUGMENT_KERNEL_H

#include <stdint.h>

#include "../data/augment.h"
#include "../src/fw_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { FW_GPU_F32 = 0, FW_GPU_BF16 = 1, FW_GPU_F16 = 2 } fw_gpu_dtype;
typedef enum { FW_LAYOUT_NCHW = 0, FW_LAYOUT_NHWC = 1 } fw_gpu_layout;

/* All pointers are device pointers.
 *   params (n)             per-sample parameters (drawn on the host)
 *   cache  (items, sh, sw, sc) uint8 images at the working size
 *   items  (n)             which cache image each sample reads
 *   out    (n, sc, oh, ow) for NCHW or (n, oh, ow, sc) for NHWC, in dtype
 * stream is a cudaStream_t (NULL: the default stream). Launch errors are
 * returned; execution errors surface at the caller's next synchronisation. */
int fw_gpu_augment_batch(const fw_aug_params *params, const uint8_t *cache, const int64_t *items,
                         int n, int sw, int sh, int sc, void *out, int ow, int oh,
                         fw_gpu_dtype dtype, fw_gpu_layout layout, void *stream, fw_error *err);

#ifdef __cplusplus
}
#endif

#endif
