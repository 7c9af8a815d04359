/* test_gpu_math.c — the CUDA backend's per-element math (gpu/half_convert.h,
 * gpu/pointwise_math.h) run on the host, where every build can test it:
 *   - fp32 -> bf16/fp16 (round to nearest even) and back, against torch
 *     ($PYTHON_REF), on specials (NaN, +-Inf, +-0), ties, subnormals,
 *     overflow edges and random values; 16 -> 32 bit on all 65536 patterns;
 *   - GeM and L2-norm values and gradients against the CPU backend's own
 *     math (src/cpu_kernels.h) and finite differences;
 *   - batch-norm statistics, apply and gradient against a double reference
 *     and finite differences; the running-variance update (unbiased);
 *   - the dropout keep mask against the CPU backend's dropout_forward;
 *   - the kernels' index arithmetic (NHWC -> plain, OIHW -> KRSC, pooling
 *     windows covering an input position) against brute force.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "cpu_kernels.h"
#include "gpu/half_convert.h"
#include "gpu/layout_math.h"
#include "gpu/pointwise_math.h"
#include "rng.h"
#include "tap.h"

/* ---- conversions against torch ---------------------------------------------- */

#define N_CONV_VALUES 4096

static int conv_values(float *v)
{
    int n = 0;
    const uint32_t specials[] = {
        0x00000000u, 0x80000000u, 0x7f800000u, 0xff800000u, 0x7fc00000u, 0xffc00000u,
        0x7f800001u, 0x7fbfffffu, 0x00000001u, 0x807fffffu, 0x3f800000u, 0x3f808000u,
        0x3f818000u, 0x3f80c000u, 0x3f807fffu, 0x3f808001u, 0x7f7fffffu, 0xff7fffffu,
        0x477fe000u, 0x477fefffu, 0x477ff000u, 0x477ff001u, 0x47800000u, 0xc77ff000u,
        0x38800000u, 0x387fffffu, 0x387fe000u, 0x33800000u, 0x33000000u, 0x33000001u,
        0x32ffffffu, 0x33c00000u, 0x34400000u, 0x34200000u, 0x35000000u, 0xb3000001u,
        0x3f801000u, 0x3f803000u, 0x3f802000u, 0x3a801000u, 0x38801000u, 0x38803000u};
    for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++)
        v[n++] = fw_f32_from_bits(specials[i]);
    fw_rng r;
    fw_rng_init(&r, 42, 7);
    while (n < N_CONV_VALUES) {
        int kind = n % 4;
        if (kind == 0) { /* any bit pattern */
            v[n++] = fw_f32_from_bits(fw_rng_u32(&r));
        } else if (kind == 1) { /* fp16 range, exact ties for fp16 */
            uint32_t e = 103 + fw_rng_below(&r, 40); /* 2^-24 .. 2^16 */
            uint32_t m = (fw_rng_u32(&r) & 0x7fe000u) | 0x1000u;
            v[n++] = fw_f32_from_bits((fw_rng_u32(&r) & 0x80000000u) | (e << 23) | m);
        } else if (kind == 2) { /* bf16 ties */
            uint32_t u = (fw_rng_u32(&r) & 0xffff0000u) | 0x8000u;
            v[n++] = fw_f32_from_bits(u);
        } else { /* ordinary values */
            v[n++] = fw_rng_range(&r, -70000.0f, 70000.0f) * powf(2.0f, (float)fw_rng_below(&r, 40) - 30.0f);
        }
    }
    return n;
}

static const char *python_ref(void)
{
    const char *py = getenv("PYTHON_REF");
    return py && *py ? py : NULL;
}

/* Runs torch on in.bin; fills bf16/fp16 bits of the values and the fp32 bits of
 * all 65536 bf16 and fp16 patterns. 0, or -1 with a reason. */
static int torch_reference(const float *v, int n, uint16_t *bf, uint16_t *hf, uint32_t *bf_back,
                           uint32_t *hf_back, char *why, size_t why_size)
{
    const char *py = python_ref();
    if (!py) {
        snprintf(why, why_size, "PYTHON_REF not set");
        return -1;
    }
    char dir[] = "/tmp/fw_gpu_math_XXXXXX";
    if (!mkdtemp(dir)) {
        snprintf(why, why_size, "mkdtemp failed");
        return -1;
    }
    char in[512], out[512], script[512], cmd[2048];
    snprintf(in, sizeof in, "%s/in.bin", dir);
    snprintf(out, sizeof out, "%s/out.bin", dir);
    snprintf(script, sizeof script, "%s/ref.py", dir);
    FILE *f = fopen(in, "wb");
    int ok = f && fwrite(v, sizeof(float), (size_t)n, f) == (size_t)n;
    if (f)
        fclose(f);
    f = fopen(script, "w");
    if (f) {
        fputs("import sys, numpy as np, torch\n"
              "x = torch.from_numpy(np.fromfile(sys.argv[1], dtype=np.float32))\n"
              "bf = x.to(torch.bfloat16).view(torch.int16).numpy().astype(np.uint16)\n"
              "hf = x.to(torch.float16).view(torch.int16).numpy().astype(np.uint16)\n"
              "p = torch.arange(65536, dtype=torch.int32).to(torch.int16)\n"
              "bb = p.view(torch.bfloat16).float().view(torch.int32).numpy().astype(np.uint32)\n"
              "hb = p.view(torch.float16).float().view(torch.int32).numpy().astype(np.uint32)\n"
              "with open(sys.argv[2], 'wb') as o:\n"
              "    o.write(bf.tobytes()); o.write(hf.tobytes())\n"
              "    o.write(bb.tobytes()); o.write(hb.tobytes())\n",
              f);
        fclose(f);
    } else {
        ok = 0;
    }
    int rc = -1;
    if (ok) {
        snprintf(cmd, sizeof cmd, "'%s' '%s' '%s' '%s' 2>&1", py, script, in, out);
        int st = system(cmd);
        f = st == 0 ? fopen(out, "rb") : NULL;
        if (f) {
            if (fread(bf, 2, (size_t)n, f) == (size_t)n && fread(hf, 2, (size_t)n, f) == (size_t)n &&
                fread(bf_back, 4, 65536, f) == 65536 && fread(hf_back, 4, 65536, f) == 65536)
                rc = 0;
            fclose(f);
        }
        if (rc < 0)
            snprintf(why, why_size, "%s could not run torch (exit %d)", py, st);
    } else {
        snprintf(why, why_size, "cannot write %s", dir);
    }
    unlink(in);
    unlink(out);
    unlink(script);
    rmdir(dir);
    return rc;
}

static float conv_in[N_CONV_VALUES];
static uint16_t ref_bf[N_CONV_VALUES], ref_hf[N_CONV_VALUES];
static uint32_t ref_bf_back[65536], ref_hf_back[65536];
static int have_torch;
static char torch_why[256];

/* NaN payloads are not specified (torch's vectorised path gives 0xffff, its
 * scalar c10::BFloat16 0x7fc0): a NaN input must give some NaN. */
static int bf16_is_nan(uint16_t h)
{
    return (h & 0x7f80u) == 0x7f80u && (h & 0x7fu) != 0;
}

static int f16_is_nan(uint16_t h)
{
    return (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0;
}

static void test_f32_to_bf16_matches_torch(void)
{
    if (!have_torch)
        SKIP("%s", torch_why);
    int bad = 0;
    for (int i = 0; i < N_CONV_VALUES; i++) {
        uint16_t got = fw_f32_to_bf16(conv_in[i]);
        if (bf16_is_nan(got) && bf16_is_nan(ref_bf[i]))
            continue;
        if (got != ref_bf[i] && bad++ < 5)
            printf("#   bf16(0x%08x) = 0x%04x, torch 0x%04x\n", fw_f32_bits(conv_in[i]), got,
                   ref_bf[i]);
    }
    CHECK_INT(bad, 0);
}

static void test_f32_to_f16_matches_torch(void)
{
    if (!have_torch)
        SKIP("%s", torch_why);
    int bad = 0;
    for (int i = 0; i < N_CONV_VALUES; i++) {
        uint16_t got = fw_f32_to_f16(conv_in[i]);
        if (f16_is_nan(got) && f16_is_nan(ref_hf[i]))
            continue;
        if (got != ref_hf[i] && bad++ < 5)
            printf("#   fp16(0x%08x) = 0x%04x, torch 0x%04x\n", fw_f32_bits(conv_in[i]), got,
                   ref_hf[i]);
    }
    CHECK_INT(bad, 0);
}

static int same_float_bits(uint32_t a, uint32_t b)
{
    float fa = fw_f32_from_bits(a), fb = fw_f32_from_bits(b);
    if (isnan(fa) || isnan(fb)) /* NaN payloads may differ; NaN-ness and sign must not */
        return isnan(fa) && isnan(fb) && (a >> 31) == (b >> 31);
    return a == b;
}

static void test_16_to_f32_all_patterns_match_torch(void)
{
    if (!have_torch)
        SKIP("%s", torch_why);
    int bad = 0;
    for (uint32_t p = 0; p < 65536; p++) {
        uint32_t b = fw_f32_bits(fw_bf16_to_f32((uint16_t)p));
        uint32_t h = fw_f32_bits(fw_f16_to_f32((uint16_t)p));
        if (!same_float_bits(b, ref_bf_back[p]) && bad++ < 5)
            printf("#   bf16 0x%04x -> 0x%08x, torch 0x%08x\n", p, b, ref_bf_back[p]);
        if (!same_float_bits(h, ref_hf_back[p]) && bad++ < 5)
            printf("#   fp16 0x%04x -> 0x%08x, torch 0x%08x\n", p, h, ref_hf_back[p]);
    }
    CHECK_INT(bad, 0);
}

/* Round trip: every non-NaN 16-bit value converts back to itself. */
static void test_16_bit_round_trip_is_identity(void)
{
    int bad = 0;
    for (uint32_t p = 0; p < 65536; p++) {
        float b = fw_bf16_to_f32((uint16_t)p), h = fw_f16_to_f32((uint16_t)p);
        if (!isnan(b) && fw_f32_to_bf16(b) != p)
            bad++;
        if (!isnan(h) && fw_f32_to_f16(h) != p)
            bad++;
    }
    CHECK_INT(bad, 0);
}

/* ---- GeM -------------------------------------------------------------------------- */

static void fill_uniform(fw_rng *r, float *v, int n, float lo, float hi)
{
    for (int i = 0; i < n; i++)
        v[i] = fw_rng_range(r, lo, hi);
}

/* The kernel's loops over one plane, with the FW_HD pieces. */
static float gem_forward_hd(const float *x, int hw, float p, float eps)
{
    double acc = 0;
    for (int i = 0; i < hw; i++)
        acc += fw_gem_pow(x[i], p, eps);
    return fw_gem_value(acc, hw, p);
}

static double gem_backward_hd(const float *x, int hw, float p, float eps, float dy, float *dx)
{
    double acc = 0, acc_log = 0;
    for (int i = 0; i < hw; i++) {
        float z = fw_gem_clamp(x[i], eps);
        float zp = powf(z, p);
        acc += zp;
        acc_log += (double)zp * (double)logf(z);
    }
    double m = acc / hw, s = acc_log / hw;
    float coef = fw_gem_coef(dy, m, p, hw);
    for (int i = 0; i < hw; i++)
        dx[i] = fw_gem_dx(x[i], coef, p, eps);
    return fw_gem_dp(dy, powf((float)m, 1.0f / p), m, s, p);
}

static void test_gem_matches_cpu_backend_math(void)
{
    fw_rng r;
    fw_rng_init(&r, 5, 1);
    enum { HW = 37 };
    float x[HW], dx_hd[HW], dx_cpu[HW];
    for (int trial = 0; trial < 20; trial++) {
        fill_uniform(&r, x, HW, -0.2f, 3.0f); /* some below eps: clamped */
        float p = fw_rng_range(&r, 1.5f, 4.0f), eps = 1e-6f, dy = fw_rng_range(&r, -1, 1);
        float y_hd = gem_forward_hd(x, HW, p, 1e-6f);
        float y_cpu = fw_gem_forward_f(x, 1, HW, p, eps);
        CHECK_NEAR(y_hd, y_cpu, 1e-6 * fabs(y_cpu));
        double dp_hd = gem_backward_hd(x, HW, p, eps, dy, dx_hd);
        double dp_cpu = fw_gem_backward_f(x, 1, HW, p, eps, dy, dx_cpu, 1);
        CHECK_NEAR(dp_hd, dp_cpu, 1e-6 * fabs(dp_cpu) + 1e-12);
        for (int i = 0; i < HW; i++)
            CHECK_NEAR(dx_hd[i], dx_cpu[i], 1e-6 * fabs(dx_cpu[i]) + 1e-12);
    }
}

static void test_gem_gradient_matches_finite_differences(void)
{
    fw_rng r;
    fw_rng_init(&r, 6, 1);
    enum { HW = 9 };
    float x[HW], dx[HW];
    fill_uniform(&r, x, HW, 0.2f, 2.0f);
    float p = 3.0f, eps = 1e-6f;
    double dp = gem_backward_hd(x, HW, p, eps, 1.0f, dx);
    /* central differences in double on the double instantiation of the CPU math */
    double xd[HW];
    for (int i = 0; i < HW; i++)
        xd[i] = x[i];
    double h = 1e-5;
    for (int i = 0; i < HW; i++) {
        double keep = xd[i];
        xd[i] = keep + h;
        double up = fw_gem_forward_d(xd, 1, HW, p, eps);
        xd[i] = keep - h;
        double down = fw_gem_forward_d(xd, 1, HW, p, eps);
        xd[i] = keep;
        CHECK_NEAR(dx[i], (up - down) / (2 * h), 1e-4);
    }
    double up = fw_gem_forward_d(xd, 1, HW, p + h, eps);
    double down = fw_gem_forward_d(xd, 1, HW, p - h, eps);
    CHECK_NEAR(dp, (up - down) / (2 * h), 1e-4);
}

/* ---- L2 norm ----------------------------------------------------------------------- */

static void test_l2norm_matches_cpu_backend_math(void)
{
    fw_rng r;
    fw_rng_init(&r, 8, 1);
    enum { C = 64 };
    float x[C], dy[C], y_cpu[C], dx_cpu[C];
    for (int trial = 0; trial < 3; trial++) {
        float scale = trial == 2 ? 1e-9f : 1.0f; /* last: below eps, clamped */
        fill_uniform(&r, x, C, -scale, scale);
        fill_uniform(&r, dy, C, -1, 1);
        float eps = 1e-6f;
        fw_l2norm_forward_f(x, y_cpu, C, eps);
        fw_l2norm_backward_f(x, dy, dx_cpu, C, eps);
        double ss = 0, xdy = 0;
        for (int i = 0; i < C; i++) {
            ss += (double)x[i] * x[i];
            xdy += (double)x[i] * dy[i];
        }
        double d = fw_l2norm_denom(ss, eps);
        for (int i = 0; i < C; i++) {
            CHECK(fabsf((float)(x[i] / d) - y_cpu[i]) <= 1e-7f * fabsf(y_cpu[i]));
            float g = fw_l2norm_dx(dy[i], x[i], xdy, ss, eps);
            CHECK_NEAR(g, dx_cpu[i], 1e-6 * fabs(dx_cpu[i]) + 1e-9);
        }
    }
}

/* ---- batch norm --------------------------------------------------------------------- */

/* L = sum_i w_i y_i of one channel, in double, with batch statistics. */
static double bn_loss(const double *x, const double *w, int m, double gamma, double beta,
                      double eps)
{
    double mean = 0, var = 0;
    for (int i = 0; i < m; i++)
        mean += x[i];
    mean /= m;
    for (int i = 0; i < m; i++)
        var += (x[i] - mean) * (x[i] - mean);
    var /= m;
    double l = 0;
    for (int i = 0; i < m; i++)
        l += w[i] * ((x[i] - mean) / sqrt(var + eps) * gamma + beta);
    return l;
}

static void test_bn_forward_and_gradient(void)
{
    enum { M = 50 };
    fw_rng r;
    fw_rng_init(&r, 9, 1);
    float x[M], w[M];
    fill_uniform(&r, x, M, 2.0f, 5.0f); /* mean far from 0: cancellation check */
    fill_uniform(&r, w, M, -1, 1);
    float gamma = 1.3f, beta = -0.4f, eps = 1e-5f;
    double sum = 0, sumsq = 0;
    for (int i = 0; i < M; i++) {
        sum += x[i];
        sumsq += (double)x[i] * x[i];
    }
    float mean, invstd;
    double var;
    fw_bn_stats(M, sum, sumsq, eps, &mean, &invstd, &var);
    double rmean = sum / M, rvar = 0;
    for (int i = 0; i < M; i++)
        rvar += (x[i] - rmean) * (x[i] - rmean);
    rvar /= M;
    CHECK_NEAR(mean, rmean, 1e-6 * fabs(rmean));
    CHECK_NEAR(var, rvar, 1e-9 * rvar);
    CHECK_NEAR(invstd, 1 / sqrt(rvar + eps), 1e-6 / sqrt(rvar + eps));
    CHECK_NEAR(fw_bn_invstd((float)rvar, eps), 1 / sqrt(rvar + eps), 1e-6 / sqrt(rvar + eps));
    for (int i = 0; i < M; i++) {
        double ref = (x[i] - rmean) / sqrt(rvar + eps) * gamma + beta;
        CHECK_NEAR(fw_bn_apply(x[i], mean, invstd, gamma, beta), ref, 1e-5);
    }
    /* gradient of L = sum w y: sums as the kernels build them */
    double sdy = 0, sdyx = 0;
    for (int i = 0; i < M; i++) {
        float xhat = (x[i] - mean) * invstd;
        sdy += w[i];
        sdyx += (double)w[i] * xhat;
    }
    double xd[M], wd[M];
    for (int i = 0; i < M; i++) {
        xd[i] = x[i];
        wd[i] = w[i];
    }
    double h = 1e-6;
    for (int i = 0; i < M; i++) {
        float xhat = (x[i] - mean) * invstd;
        float g = fw_bn_dx_train(w[i], xhat, gamma, invstd, sdy, sdyx, M);
        double keep = xd[i];
        xd[i] = keep + h;
        double up = bn_loss(xd, wd, M, gamma, beta, eps);
        xd[i] = keep - h;
        double down = bn_loss(xd, wd, M, gamma, beta, eps);
        xd[i] = keep;
        CHECK_NEAR(g, (up - down) / (2 * h), 1e-4);
    }
    /* running statistics, PyTorch: unbiased variance, momentum */
    float momentum = 0.1f;
    float rv = fw_bn_running(1.0f, (float)(var * M / (M - 1)), momentum);
    CHECK_NEAR(rv, 0.9 * 1.0 + 0.1 * rvar * M / (M - 1), 1e-6);
    CHECK_NEAR(fw_bn_running(0.5f, 2.0f, 0.25f), 0.875, 1e-7);
}

/* ---- dropout ------------------------------------------------------------------------- */

static void test_dropout_mask_matches_cpu_backend(void)
{
    const fw_backend_ops *ops = fw_backend_cpu();
    fw_backend_options opt = {.threads = 1};
    fw_backend *be = NULL;
    fw_error err = {0};
    CHECK(ops->create(&opt, &be, &err) == 0);
    if (!be)
        return;
    fw_shape s = {3, 40, 2, 3};
    int n = (int)(s.n * s.c * s.h * s.w);
    float *ones = malloc((size_t)n * sizeof *ones), *y = malloc((size_t)n * sizeof *y);
    uint8_t *keep = malloc((size_t)n);
    for (int i = 0; i < n; i++)
        ones[i] = 1.0f;
    fw_tensor *x = NULL, *t = NULL;
    fw_dropout *d = NULL;
    float rate = 0.3f;
    CHECK(ops->tensor_create(be, &x, &err) == 0 && ops->tensor_create(be, &t, &err) == 0);
    CHECK(ops->dropout_create(be, rate, 1234, &d, &err) == 0);
    int dropped = 0;
    for (uint64_t stream = 0; stream < 3 && x && t && d; stream++) {
        CHECK(ops->tensor_copy_in(be, x, s, ones, &err) == 0);
        CHECK(ops->dropout_forward(be, d, 1, stream * 977, x, t, &err) == 0);
        CHECK(ops->tensor_copy_out(be, t, y, &err) == 0);
        fw_dropout_fill_keep(1234, stream * 977, rate, n, keep);
        int bad = 0;
        for (int i = 0; i < n; i++) {
            float want = keep[i] ? 1.0f * (1.0f / (1.0f - rate)) : 0.0f;
            if (y[i] != want)
                bad++;
            dropped += !keep[i];
        }
        CHECK_INT(bad, 0);
    }
    /* about rate of them dropped (3 x 720 draws): the mask is not trivial */
    CHECK(dropped > 0.2 * 3 * n && dropped < 0.4 * 3 * n);
    ops->dropout_destroy(be, d);
    ops->tensor_free(be, x);
    ops->tensor_free(be, t);
    ops->destroy(be);
    free(ones);
    free(y);
    free(keep);
}

/* ---- index arithmetic ----------------------------------------------------------------- */

static void test_nhwc_to_plain_is_the_transpose(void)
{
    enum { N = 3, C = 5, H = 4, W = 7 };
    int bad = 0, seen[N * C * H * W] = {0};
    for (int n = 0; n < N; n++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                for (int c = 0; c < C; c++) {
                    int64_t i = ((n * H + y) * W + x) * C + c; /* NHWC */
                    int64_t j = fw_nhwc_to_plain(i, C, H, W);
                    bad += j != ((n * C + c) * H + y) * W + x;
                    if (j >= 0 && j < N * C * H * W)
                        seen[j]++;
                }
    for (int j = 0; j < N * C * H * W; j++)
        bad += seen[j] != 1;
    CHECK_INT(bad, 0);
}

static void test_oihw_to_krsc_is_the_transpose(void)
{
    enum { O = 4, I = 3, KH = 5, KW = 2 };
    int bad = 0;
    for (int o = 0; o < O; o++)
        for (int i = 0; i < I; i++)
            for (int y = 0; y < KH; y++)
                for (int x = 0; x < KW; x++)
                    bad += fw_oihw_to_krsc(((o * I + i) * KH + y) * KW + x, I, KH, KW) !=
                           ((o * KH + y) * KW + x) * I + i;
    CHECK_INT(bad, 0);
}

/* For every geometry the backend allows (pad <= k/2, floor mode), the covering
 * range equals the brute-force set of windows containing each position. */
static void test_pool_covering_matches_brute_force(void)
{
    int bad = 0, cases = 0;
    for (int k = 1; k <= 7; k++)
        for (int st = 1; st <= 4; st++)
            for (int p = 0; 2 * p <= k; p++)
                for (int size = 1; size <= 13; size++) {
                    if (size + 2 * p < k)
                        continue;
                    int out = (size + 2 * p - k) / st + 1;
                    for (int v = 0; v < size; v++) {
                        int64_t lo, hi;
                        fw_pool_covering(v, k, st, p, out, &lo, &hi);
                        int blo = -1, bhi = -2;
                        for (int o = 0; o < out; o++)
                            if (o * st - p <= v && v < o * st - p + k) {
                                if (blo < 0)
                                    blo = o;
                                bhi = o;
                            }
                        int empty = lo > hi, bempty = blo < 0;
                        if (empty != bempty || (!empty && (lo != blo || hi != bhi)))
                            bad++;
                        cases++;
                    }
                }
    CHECK(cases > 1000);
    CHECK_INT(bad, 0);
}

int main(void)
{
    int n = conv_values(conv_in);
    have_torch = torch_reference(conv_in, n, ref_bf, ref_hf, ref_bf_back, ref_hf_back, torch_why,
                                 sizeof torch_why) == 0;
    RUN(test_f32_to_bf16_matches_torch);
    RUN(test_f32_to_f16_matches_torch);
    RUN(test_16_to_f32_all_patterns_match_torch);
    RUN(test_16_bit_round_trip_is_identity);
    RUN(test_gem_matches_cpu_backend_math);
    RUN(test_gem_gradient_matches_finite_differences);
    RUN(test_l2norm_matches_cpu_backend_math);
    RUN(test_bn_forward_and_gradient);
    RUN(test_dropout_mask_matches_cpu_backend);
    RUN(test_nhwc_to_plain_is_the_transpose);
    RUN(test_oihw_to_krsc_is_the_transpose);
    RUN(test_pool_covering_matches_brute_force);
    return tap_done();
}
