/* augment_kernel.cu — the fused augmentation kernel (see augment_kernel.h).
 * One thread per output pixel; blockIdx.z is the sample. The per-pixel math
 * is data/augment.h, unchanged, compiled here as device code. */
#include "augment_kernel.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda_check.h"

template <typename T> __device__ __forceinline__ T from_float(float v);
template <> __device__ __forceinline__ float from_float<float>(float v) { return v; }
template <> __device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v)
{
    return __float2bfloat16_rn(v);
}
template <> __device__ __forceinline__ __half from_float<__half>(float v)
{
    return __float2half_rn(v);
}

template <typename T, bool NHWC>
__global__ void augment_kernel(const fw_aug_params *__restrict__ params,
                               const uint8_t *__restrict__ cache,
                               const int64_t *__restrict__ items, int sw, int sh, int sc,
                               T *__restrict__ out, int ow, int oh)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    int s = blockIdx.z;
    if (x >= ow || y >= oh)
        return;
    const fw_aug_params p = params[s];
    const uint8_t *src = cache + (size_t)items[s] * sh * sw * sc;
    fw_aug_px v = fw_aug_pixel_all(&p, src, sw, sh, sc, x, y);
    size_t plane = (size_t)oh * ow;
    if (NHWC) {
        T *o = out + ((size_t)s * plane + (size_t)y * ow + x) * sc;
        o[0] = from_float<T>(v.v0);
        if (sc == 3) {
            o[1] = from_float<T>(v.v1);
            o[2] = from_float<T>(v.v2);
        }
    } else {
        T *o = out + (size_t)s * sc * plane + (size_t)y * ow + x;
        o[0] = from_float<T>(v.v0);
        if (sc == 3) {
            o[plane] = from_float<T>(v.v1);
            o[2 * plane] = from_float<T>(v.v2);
        }
    }
}

template <typename T>
static void launch(const fw_aug_params *params, const uint8_t *cache, const int64_t *items, int n,
                   int sw, int sh, int sc, void *out, int ow, int oh, fw_gpu_layout layout,
                   cudaStream_t stream)
{
    dim3 block(32, 8);
    dim3 grid((ow + block.x - 1) / block.x, (oh + block.y - 1) / block.y, n);
    if (layout == FW_LAYOUT_NHWC)
        augment_kernel<T, true><<<grid, block, 0, stream>>>(params, cache, items, sw, sh, sc,
                                                            (T *)out, ow, oh);
    else
        augment_kernel<T, false><<<grid, block, 0, stream>>>(params, cache, items, sw, sh, sc,
                                                             (T *)out, ow, oh);
}

extern "C" int fw_gpu_augment_batch(const fw_aug_params *params, const uint8_t *cache,
                                    const int64_t *items, int n, int sw, int sh, int sc,
                                    void *out, int ow, int oh, fw_gpu_dtype dtype,
                                    fw_gpu_layout layout, void *stream, fw_error *err)
{
    if (n <= 0 || n > 65535 || sw <= 0 || sh <= 0 || (sc != 1 && sc != 3) || ow <= 0 ||
        oh <= 0 || (size_t)sw * sh * sc < 4)
        return fw_fail(err, FW_EINVAL, "gpu augment: bad shape n=%d src %dx%dx%d out %dx%d", n,
                       sw, sh, sc, ow, oh);
    cudaStream_t s = (cudaStream_t)stream;
    switch (dtype) {
    case FW_GPU_F32: launch<float>(params, cache, items, n, sw, sh, sc, out, ow, oh, layout, s); break;
    case FW_GPU_BF16: launch<__nv_bfloat16>(params, cache, items, n, sw, sh, sc, out, ow, oh, layout, s); break;
    case FW_GPU_F16: launch<__half>(params, cache, items, n, sw, sh, sc, out, ow, oh, layout, s); break;
    default: return fw_fail(err, FW_EINVAL, "gpu augment: unknown dtype %d", (int)dtype);
    }
    CUDA_CHECK(cudaGetLastError());
    return FW_OK;
}
