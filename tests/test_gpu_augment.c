/* test_gpu_augment.c — the fused GPU augmentation kernel against the CPU path
 * (data/augment_cpu.c), on random images with the default training
 * augmentation: fp32 within 1e-3 absolute (the CPU loop may fuse multiply-adds
 * differently), bf16/fp16 within their rounding, NHWC equal to NCHW
 * transposed. Skips (visibly) on machines without a GPU. Built only with CUDA. */
#include <cuda_runtime_api.h>
#include <stdlib.h>
#include <string.h>

#include "../gpu/augment_kernel.h"
#include "../gpu/device_info.h"
#include "augment_cpu.h"
#include "augment_params.h"
#include "rng.h"
#include "tap.h"

enum { N = 12, SW = 96, SH = 48, OW = 80, OH = 40 };

static char no_gpu[200];

static float bf16_to_float(uint16_t b)
{
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static float half_to_float(uint16_t h)
{
    int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    float v = e == 0 ? ldexpf((float)m, -24) : ldexpf((float)(m | 1024), e - 25);
    return s ? -v : v;
}

typedef struct case_data {
    int sc;
    uint8_t *cache;          /* (N, SH, SW, sc) */
    fw_aug_params params[N];
    float *cpu;              /* (N, sc, OH, OW) */
} case_data;

static void make_case(case_data *cd, int sc, uint64_t seed)
{
    cd->sc = sc;
    size_t img = (size_t)SH * SW * sc;
    cd->cache = malloc(img * N);
    fw_rng r;
    fw_rng_init(&r, seed, 0);
    for (size_t i = 0; i < img * N; i++) /* smooth-ish random images */
        cd->cache[i] = (uint8_t)(128 + 100 * sinf(0.05f * (float)(i % (SW * sc)) + (float)(i / img)) +
                                 fw_rng_below(&r, 20));
    fw_augment_opts o;
    fw_augment_opts_default(&o);
    o.p_blur = 0.5f; /* exercise every path often */
    o.p_gamma = 0.5f;
    o.out_width = OW;
    o.out_height = OH;
    const uint8_t *srcs[N];
    for (int s = 0; s < N; s++) {
        fw_rng rs;
        fw_augment_rng(&rs, seed, 0, s);
        int flipped;
        srcs[s] = cd->cache + img * s;
        fw_aug_params_draw(&o, &rs, SW, SH, sc, fw_image_mean_luma(srcs[s], SW, SH, sc, 4),
                           &cd->params[s], &flipped);
    }
    cd->cpu = malloc(sizeof(float) * N * sc * OH * OW);
    fw_error e;
    fw_error_clear(&e);
    CHECK_INT(fw_augment_batch(cd->params, srcs, N, SW, SH, sc, cd->cpu, OW, OH, 1, &e), 0);
}

/* Run the kernel; returns host copy of the output (elements of `bytes` each). */
static void *run_gpu(const case_data *cd, fw_gpu_dtype dtype, fw_gpu_layout layout, size_t bytes)
{
    size_t img = (size_t)SH * SW * cd->sc, outn = (size_t)N * cd->sc * OH * OW;
    int64_t items[N];
    for (int s = 0; s < N; s++)
        items[s] = s;
    void *d_params = NULL, *d_cache = NULL, *d_items = NULL, *d_out = NULL;
    void *host = malloc(outn * bytes);
    fw_error e;
    fw_error_clear(&e);
    int ok = cudaMalloc(&d_params, sizeof cd->params) == cudaSuccess &&
             cudaMalloc(&d_cache, img * N) == cudaSuccess &&
             cudaMalloc(&d_items, sizeof items) == cudaSuccess &&
             cudaMalloc(&d_out, outn * bytes) == cudaSuccess &&
             cudaMemcpy(d_params, cd->params, sizeof cd->params, cudaMemcpyHostToDevice) == cudaSuccess &&
             cudaMemcpy(d_cache, cd->cache, img * N, cudaMemcpyHostToDevice) == cudaSuccess &&
             cudaMemcpy(d_items, items, sizeof items, cudaMemcpyHostToDevice) == cudaSuccess;
    CHECK_MSG(ok, "cuda allocation/copy failed");
    if (ok) {
        CHECK_INT(fw_gpu_augment_batch(d_params, d_cache, d_items, N, SW, SH, cd->sc, d_out, OW,
                                       OH, dtype, layout, NULL, &e), 0);
        CHECK_INT(cudaDeviceSynchronize(), cudaSuccess);
        CHECK_INT(cudaMemcpy(host, d_out, outn * bytes, cudaMemcpyDeviceToHost), cudaSuccess);
    }
    cudaFree(d_params);
    cudaFree(d_cache);
    cudaFree(d_items);
    cudaFree(d_out);
    return host;
}

static float get(const void *buf, fw_gpu_dtype dtype, size_t i)
{
    if (dtype == FW_GPU_F32)
        return ((const float *)buf)[i];
    uint16_t h = ((const uint16_t *)buf)[i];
    return dtype == FW_GPU_BF16 ? bf16_to_float(h) : half_to_float(h);
}

static void compare(int sc, fw_gpu_dtype dtype, fw_gpu_layout layout)
{
    if (no_gpu[0])
        SKIP("%.199s", no_gpu);
    case_data cd;
    make_case(&cd, sc, 1234 + sc);
    size_t bytes = dtype == FW_GPU_F32 ? 4 : 2;
    void *gpu = run_gpu(&cd, dtype, layout, bytes);
    double max_err = 0;
    double tol_rel = dtype == FW_GPU_F32 ? 0 : dtype == FW_GPU_BF16 ? 1.0 / 128 : 1.0 / 1024;
    int bad = 0;
    for (int s = 0; s < N; s++)
        for (int c = 0; c < sc; c++)
            for (int y = 0; y < OH; y++)
                for (int x = 0; x < OW; x++) {
                    float ref = cd.cpu[(((size_t)s * sc + c) * OH + y) * OW + x];
                    size_t gi = layout == FW_LAYOUT_NCHW
                                    ? (((size_t)s * sc + c) * OH + y) * OW + x
                                    : (((size_t)s * OH + y) * OW + x) * sc + c;
                    double d = fabs((double)get(gpu, dtype, gi) - ref);
                    if (d > max_err)
                        max_err = d;
                    if (d > 1e-3 + tol_rel * fabs(ref))
                        bad++;
                }
    printf("#   channels %d dtype %d layout %d: max |gpu - cpu| %.3g, %d beyond tolerance\n", sc,
           (int)dtype, (int)layout, max_err, bad);
    CHECK_INT(bad, 0);
    free(gpu);
    free(cd.cache);
    free(cd.cpu);
}

static void test_f32_nchw_rgb(void) { compare(3, FW_GPU_F32, FW_LAYOUT_NCHW); }
static void test_f32_nchw_gray(void) { compare(1, FW_GPU_F32, FW_LAYOUT_NCHW); }
static void test_f32_nhwc_rgb(void) { compare(3, FW_GPU_F32, FW_LAYOUT_NHWC); }
static void test_bf16_nhwc_rgb(void) { compare(3, FW_GPU_BF16, FW_LAYOUT_NHWC); }
static void test_f16_nchw_rgb(void) { compare(3, FW_GPU_F16, FW_LAYOUT_NCHW); }

static void test_bad_shape_refused(void)
{
    fw_error e;
    fw_error_clear(&e);
    /* Refused before any launch, so this runs without a GPU too. */
    CHECK_INT(fw_gpu_augment_batch(NULL, NULL, NULL, 0, SW, SH, 3, NULL, OW, OH, FW_GPU_F32,
                                   FW_LAYOUT_NCHW, NULL, &e), FW_EINVAL);
    CHECK_INT(fw_gpu_augment_batch(NULL, NULL, NULL, 4, SW, SH, 2, NULL, OW, OH, FW_GPU_F32,
                                   FW_LAYOUT_NCHW, NULL, &e), FW_EINVAL);
    CHECK(strstr(e.msg, "bad shape") != NULL);
}

int main(void)
{
    fw_gpu_info info;
    fw_error e;
    fw_error_clear(&e);
    if (fw_gpu_probe(&info, &e) < 0)
        snprintf(no_gpu, sizeof no_gpu, "GPU probe failed: %.150s", e.msg);
    else if (info.device_count == 0)
        snprintf(no_gpu, sizeof no_gpu, "no GPU on this machine (%.150s)", info.no_device_reason);
    RUN(test_bad_shape_refused);
    RUN(test_f32_nchw_rgb);
    RUN(test_f32_nchw_gray);
    RUN(test_f32_nhwc_rgb);
    RUN(test_bf16_nhwc_rgb);
    RUN(test_f16_nchw_rgb);
    return tap_done();
}
