/* bench_backend_cpu.c — speed of the CPU backend's convolution (a ResNet-18
 * layer1-like 3x3, 64 -> 64 channels, 64x128, batch 32) forward, backward
 * data and backward weights, next to oneDNN's sgemm (1024^3) in the same run
 * as the ceiling. Prints GFLOP/s and the ratio to sgemm.
 *
 *     bench/bench_backend_cpu [threads] [iterations]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <oneapi/dnnl/dnnl.h>

#include "backend.h"
#include "rng.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int fail(const char *what, const fw_error *err)
{
    fprintf(stderr, "bench_backend_cpu: %s: %s\n", what, err->msg);
    return 1;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 0;
    int iters = argc > 2 ? atoi(argv[2]) : 5;
    if (iters < 1)
        iters = 1;
    const fw_backend_ops *ops = fw_backend_cpu();
    fw_backend *be;
    fw_error err = {0};
    fw_backend_options opt = {.threads = threads};
    if (ops->create(&opt, &be, &err) < 0)
        return fail("create", &err);
    char desc[128];
    ops->describe(be, desc, sizeof desc);
    printf("backend: %s\n", desc);

    /* sgemm ceiling (runs with the thread count the backend set on this thread) */
    enum { G = 1024 };
    float *a = malloc(sizeof(float) * G * G), *b = malloc(sizeof(float) * G * G),
          *c = malloc(sizeof(float) * G * G);
    fw_rng r;
    fw_rng_init(&r, 1, 0);
    for (int i = 0; i < G * G; i++) {
        a[i] = fw_rng_uniform(&r);
        b[i] = fw_rng_uniform(&r);
    }
    ops->sync(be, &err); /* applies nothing; the first op call sets threads */
    fw_tensor *x, *y, *dy, *dx;
    if (ops->tensor_create(be, &x, &err) < 0 || ops->tensor_create(be, &y, &err) < 0 ||
        ops->tensor_create(be, &dy, &err) < 0 || ops->tensor_create(be, &dx, &err) < 0)
        return fail("tensor_create", &err);
    const int N = 32, C = 64, H = 64, W = 128, K = 3;
    size_t nx = (size_t)N * C * H * W;
    float *host = malloc(nx * sizeof(float));
    for (size_t i = 0; i < nx; i++)
        host[i] = fw_rng_normal(&r);
    fw_param w = {.name = "w", .ndim = 4, .shape = {C, C, K, K}, .numel = C * C * K * K};
    w.data = malloc(w.numel * sizeof(float));
    w.grad = malloc(w.numel * sizeof(float));
    for (int64_t i = 0; i < w.numel; i++)
        w.data[i] = 0.05f * fw_rng_normal(&r);
    fw_conv *conv;
    fw_conv_desc cd = {C, C, K, K, 1, 1, 1, 1};
    if (ops->conv_create(be, &cd, &w, NULL, &conv, &err) < 0)
        return fail("conv_create", &err);
    if (ops->tensor_copy_in(be, x, (fw_shape){N, C, H, W}, host, &err) < 0 ||
        ops->tensor_copy_in(be, dy, (fw_shape){N, C, H, W}, host, &err) < 0)
        return fail("copy_in", &err);
    /* warm-up: plans and weight reorders; then x and dy in the conv's own
     * layout, as between layers of a model (a copy-in would be reordered on
     * every call) */
    if (ops->conv_forward(be, conv, x, y, &err) < 0 || ops->tensor_copy(be, y, x, &err) < 0 ||
        ops->relu_backward(be, y, dy, dy, &err) < 0 ||
        ops->conv_backward(be, conv, x, dy, dx, 0, &err) < 0)
        return fail("warm-up", &err);

    /* Interleave sgemm and the conv passes and keep each one's fastest
     * iteration: on a shared 2-core machine other processes steal whole
     * time slices, and the minimum is the least disturbed measurement. */
    double flop = 2.0 * N * C * H * W * C * K * K; /* per pass (stride 1, same size) */
    double gemm_flop = 2.0 * G * G * G;
    double best[4] = {1e30, 1e30, 1e30, 1e30}, sum[4] = {0};
    dnnl_sgemm('N', 'N', G, G, G, 1.0f, a, G, b, G, 0.0f, c, G);
    for (int i = 0; i < iters; i++) {
        double t[5];
        t[0] = now();
        for (int k = 0; k < 4; k++)
            dnnl_sgemm('N', 'N', G, G, G, 1.0f, a, G, b, G, 0.0f, c, G);
        t[1] = now();
        if (ops->conv_forward(be, conv, x, y, &err) < 0)
            return fail("forward", &err);
        t[2] = now();
        if (ops->conv_backward(be, conv, x, dy, dx, FW_GRAD_SKIP_PARAMS, &err) < 0)
            return fail("backward data", &err);
        t[3] = now();
        if (ops->conv_backward(be, conv, x, dy, NULL, 0, &err) < 0)
            return fail("backward weights", &err);
        t[4] = now();
        for (int k = 0; k < 4; k++) {
            double dt = (t[k + 1] - t[k]) / (k == 0 ? 4 : 1);
            sum[k] += dt;
            if (dt < best[k])
                best[k] = dt;
        }
    }
    double gemm = gemm_flop / best[0] / 1e9;
    printf("best of %d iterations (mean in brackets):\n", iters);
    printf("sgemm 1024^3:              %7.1f GFLOP/s  [%.1f]\n", gemm,
           gemm_flop * iters / sum[0] / 1e9);
    printf("conv3x3 64->64 64x128 b32, %.2f GFLOP per pass:\n", flop / 1e9);
    const char *names[4] = {"", "forward", "backward data", "backward weights"};
    for (int k = 1; k < 4; k++)
        printf("  %-22s %7.1f GFLOP/s  [%.1f]  %.0f%% of sgemm\n", names[k],
               flop / best[k] / 1e9, flop * iters / sum[k] / 1e9, 100 * flop / best[k] / 1e9 / gemm);
    double step = best[1] + best[2] + best[3];
    printf("  %-22s %7.1f GFLOP/s  %.0f%% of sgemm, %.1f ms per fwd+bwd\n", "fwd+bwd",
           3 * flop / step / 1e9, 100 * 3 * flop / step / 1e9 / gemm, 1e3 * step);
    ops->conv_destroy(be, conv);
    ops->tensor_free(be, x);
    ops->tensor_free(be, y);
    ops->tensor_free(be, dy);
    ops->tensor_free(be, dx);
    ops->destroy(be);
    free(w.data);
    free(w.grad);
    free(host);
    free(a);
    free(b);
    free(c);
    return 0;
}
