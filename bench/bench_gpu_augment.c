/* bench_gpu_augment.c — images/s of the fused GPU augmentation kernel
 * (gpu/augment_kernel.cu) on a resident uint8 cache: batches of 64 samples
 * drawn from 512 cached 3x320x640 images (the working size before the crop),
 * default training augmentation, written as 3x256x512 bf16 NHWC — the input
 * of the GPU benchmark's ResNet-50 (tests/gpu/check compares it with the
 * training rate). Parameters are drawn on the host for every batch as the
 * loader does, and uploaded; both are inside the timing. Prints
 *   augment dtype=bf16 layout=nhwc batch=64 images_per_s=X ms_per_batch=Y
 * or says why there is no GPU (exit 0). CUDA events time the device work.
 *   bench/bench_gpu_augment [--iters 200] */
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../gpu/augment_kernel.h"
#include "../gpu/device_info.h"
#include "augment_params.h"
#include "rng.h"

enum { ITEMS = 512, SW = 640, SH = 320, SC = 3, OW = 512, OH = 256, BATCH = 64 };

#define CU(call)                                                                             \
    do {                                                                                     \
        cudaError_t rc_ = (call);                                                            \
        if (rc_ != cudaSuccess) {                                                            \
            fprintf(stderr, "bench_gpu_augment: %s: %s\n", #call, cudaGetErrorString(rc_)); \
            return 1;                                                                        \
        }                                                                                    \
    } while (0)

int main(int argc, char **argv)
{
    int iters = argc > 2 && !strcmp(argv[1], "--iters") ? atoi(argv[2]) : 200;
    if (iters < 1)
        iters = 1;
    fw_gpu_info info;
    fw_error e;
    fw_error_clear(&e);
    if (fw_gpu_probe(&info, &e) < 0 || info.device_count < 1) {
        printf("augment: no GPU (%s)\n", e.msg[0] ? e.msg : info.no_device_reason);
        return 0;
    }
    size_t img = (size_t)SH * SW * SC;
    uint8_t *cache = malloc(img * ITEMS);
    if (!cache)
        return 1;
    for (size_t i = 0; i < img * ITEMS; i++)
        cache[i] = (uint8_t)((i * 2654435761u) >> 24);
    fw_augment_opts o;
    fw_augment_opts_default(&o);
    o.out_width = OW;
    o.out_height = OH;
    fw_aug_params params[BATCH];
    int64_t items[BATCH];
    void *d_cache, *d_params, *d_items, *d_out;
    CU(cudaMalloc(&d_cache, img * ITEMS));
    CU(cudaMemcpy(d_cache, cache, img * ITEMS, cudaMemcpyHostToDevice));
    CU(cudaMalloc(&d_params, sizeof params));
    CU(cudaMalloc(&d_items, sizeof items));
    CU(cudaMalloc(&d_out, (size_t)BATCH * SC * OH * OW * 2));
    cudaEvent_t start, stop;
    CU(cudaEventCreate(&start));
    CU(cudaEventCreate(&stop));
    int rc = 0;
    for (int pass = 0; pass < 2 && !rc; pass++) { /* pass 0: warm-up */
        int n = pass == 0 ? 5 : iters;
        CU(cudaEventRecord(start, NULL));
        for (int b = 0; b < n && !rc; b++) {
            for (int s = 0; s < BATCH; s++) {
                fw_rng r;
                fw_augment_rng(&r, 1, b, s);
                items[s] = (int64_t)((b * BATCH + s) % ITEMS);
                int flipped;
                fw_aug_params_draw(&o, &r, SW, SH, SC, 0.5f, &params[s], &flipped);
            }
            CU(cudaMemcpy(d_params, params, sizeof params, cudaMemcpyHostToDevice));
            CU(cudaMemcpy(d_items, items, sizeof items, cudaMemcpyHostToDevice));
            rc = fw_gpu_augment_batch(d_params, d_cache, d_items, BATCH, SW, SH, SC, d_out, OW, OH,
                                      FW_GPU_BF16, FW_LAYOUT_NHWC, NULL, &e);
        }
        CU(cudaEventRecord(stop, NULL));
        CU(cudaEventSynchronize(stop));
        float ms = 0;
        CU(cudaEventElapsedTime(&ms, start, stop));
        if (!rc && pass == 1)
            printf("augment dtype=bf16 layout=nhwc batch=%d images_per_s=%.0f ms_per_batch=%.3f\n",
                   BATCH, BATCH * n / (ms / 1000.0), ms / n);
    }
    if (rc)
        fprintf(stderr, "bench_gpu_augment: %s\n", e.msg);
    cudaFree(d_cache);
    cudaFree(d_params);
    cudaFree(d_items);
    cudaFree(d_out);
    free(cache);
    return rc ? 1 : 0;
}
