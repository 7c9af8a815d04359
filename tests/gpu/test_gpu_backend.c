/* test_gpu_backend.c — the CUDA backend against the CPU backend, op by op,
 * forward and backward, on fresh random inputs, in fp32, bf16 and fp16, plus
 * one ResNet-18 training step (loss-side gradient, embeddings and a few
 * parameter gradients), the ArcFace loss term against the host's, and the
 * training update on the device (update_bind: a learner stepping on the GPU
 * against one whose update runs on the host). Needs a GPU: run by tests/gpu/check, not make check.
 * Without a usable GPU it prints "1..0 # SKIP no GPU (...)" and exits 0.
 *
 * Error measure: rel = max_i |gpu_i - cpu_i| / max_i |cpu_i|. Tolerances:
 * ops 1e-4 in fp32 and 1e-2 in bf16/fp16 (inputs are rounded to 16 bits on
 * the GPU side only, so that rounding is part of the error); the ResNet step
 * 2e-3 in fp32 and 1e-1 in bf16/fp16 (errors grow through 20 layers).
 * Prints a TAP line per check and a final table (check, precision, rel, tol).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "augment_params.h"
#include "backend.h"
#include "learner.h"
#include "model.h"
#include "param_list.h"
#include "rng.h"
#include "../tap.h"

#define MAX_ROWS 256

typedef struct result_row {
    char name[64];
    const char *prec;
    double rel, tol;
} result_row;

static result_row rows[MAX_ROWS];
static int n_rows;

static const fw_backend_ops *cpu, *gpu;
static fw_backend *cb, *gb;
static fw_precision cur_prec;
static fw_error err;
static fw_rng rng;

static const char *prec_name(fw_precision p)
{
    return p == FW_PRECISION_BF16 ? "bf16" : p == FW_PRECISION_FP16 ? "fp16" : "fp32";
}

static double op_tol(void)
{
    return cur_prec == FW_PRECISION_FP32 ? 1e-4 : 1e-2;
}

static double rel_err(const float *got, const float *ref, int64_t n)
{
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - ref[i]);
        if (!(d <= num)) /* NaN propagates */
            num = d;
        if (fabs(ref[i]) > den)
            den = fabs(ref[i]);
    }
    return den > 0 ? num / den : num;
}

/* One measured error: recorded in the table and checked. */
static void record(const char *name, double rel, double tol)
{
    if (n_rows < MAX_ROWS) {
        result_row *r = &rows[n_rows++];
        snprintf(r->name, sizeof r->name, "%s", name);
        r->prec = prec_name(cur_prec);
        r->rel = rel;
        r->tol = tol;
    }
    CHECK_MSG(rel <= tol, "%s (%s): rel %.3g > tol %.3g", name, prec_name(cur_prec), rel, tol);
}

/* One comparison of arrays (see rel_err). */
static void compare(const char *name, const float *got, const float *ref, int64_t n, double tol)
{
    record(name, rel_err(got, ref, n), tol);
}

static float *rand_vec(int64_t n, float lo, float hi)
{
    float *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    for (int64_t i = 0; i < n; i++)
        v[i] = fw_rng_range(&rng, lo, hi);
    return v;
}

static int64_t numel(fw_shape s)
{
    return s.n * s.c * s.h * s.w;
}

/* A tensor pair holding the same data on both backends. */
typedef struct pair {
    fw_tensor *c, *g;
} pair;

static pair pair_new(void)
{
    pair p = {0};
    if (cpu->tensor_create(cb, &p.c, &err) < 0 || gpu->tensor_create(gb, &p.g, &err) < 0)
        printf("# tensor_create: %s\n", err.msg);
    return p;
}

static void pair_free(pair *p)
{
    cpu->tensor_free(cb, p->c);
    gpu->tensor_free(gb, p->g);
}

static pair pair_rand(fw_shape s, float lo, float hi)
{
    pair p = pair_new();
    float *v = rand_vec(numel(s), lo, hi);
    CHECK(cpu->tensor_copy_in(cb, p.c, s, v, &err) == 0);
    CHECK(gpu->tensor_copy_in(gb, p.g, s, v, &err) == 0);
    free(v);
    return p;
}

/* Compare the two sides of a pair (shapes must agree). */
static void compare_pair(const char *name, const pair *p, double tol)
{
    fw_shape sc = cpu->tensor_shape(p->c), sg = gpu->tensor_shape(p->g);
    CHECK_MSG(sc.n == sg.n && sc.c == sg.c && sc.h == sg.h && sc.w == sg.w,
              "%s: shapes differ", name);
    int64_t n = numel(sc);
    float *a = malloc((size_t)(n ? n : 1) * sizeof *a), *b = malloc((size_t)(n ? n : 1) * sizeof *b);
    int ok = cpu->tensor_copy_out(cb, p->c, a, &err) == 0;
    ok = ok && gpu->tensor_copy_out(gb, p->g, b, &err) == 0;
    CHECK_MSG(ok, "%s: copy_out: %s", name, err.msg);
    if (ok)
        compare(name, b, a, n, tol);
    free(a);
    free(b);
}

/* Two copies of a parameter: one per backend (grads filled with junk). */
typedef struct pparam {
    fw_param c, g;
} pparam;

static void pparam_init(pparam *p, const char *name, int64_t n, float lo, float hi, int grad)
{
    memset(p, 0, sizeof *p);
    fw_param *ps[2] = {&p->c, &p->g};
    float *v = rand_vec(n, lo, hi);
    for (int k = 0; k < 2; k++) {
        snprintf(ps[k]->name, sizeof ps[k]->name, "%s", name);
        ps[k]->ndim = 1;
        ps[k]->shape[0] = n;
        ps[k]->numel = n;
        ps[k]->data = malloc((size_t)n * sizeof(float));
        memcpy(ps[k]->data, v, (size_t)n * sizeof(float));
        if (grad) {
            ps[k]->grad = malloc((size_t)n * sizeof(float));
            for (int64_t i = 0; i < n; i++)
                ps[k]->grad[i] = 123.0f; /* overwritten by backward */
        }
    }
    free(v);
}

static void pparam_free(pparam *p)
{
    free(p->c.data);
    free(p->c.grad);
    free(p->g.data);
    free(p->g.grad);
}

static int sync_both(void)
{
    int ok = cpu->sync(cb, &err) == 0;
    ok = ok && gpu->sync(gb, &err) == 0;
    CHECK_MSG(ok, "sync: %s", err.msg);
    return ok;
}

static void compare_grad(const char *name, const pparam *p, double tol)
{
    if (sync_both())
        compare(name, p->g.grad, p->c.grad, p->c.numel, tol);
}

static void compare_data(const char *name, const pparam *p, double tol)
{
    if (sync_both())
        compare(name, p->g.data, p->c.data, p->c.numel, tol);
}

/* ---- ops ------------------------------------------------------------------------ */

static void conv_case(const char *tag, fw_conv_desc d, fw_shape xs, int bias)
{
    char name[64];
    pparam w, b;
    int64_t wn = (int64_t)d.out_channels * d.in_channels * d.kernel_h * d.kernel_w;
    float bound = 1.0f / sqrtf((float)(d.in_channels * d.kernel_h * d.kernel_w));
    pparam_init(&w, "w", wn, -bound, bound, 1);
    if (bias)
        pparam_init(&b, "b", d.out_channels, -0.5f, 0.5f, 1);
    fw_conv *cc = NULL, *gc = NULL;
    int ok = cpu->conv_create(cb, &d, &w.c, bias ? &b.c : NULL, &cc, &err) == 0;
    ok = ok && gpu->conv_create(gb, &d, &w.g, bias ? &b.g : NULL, &gc, &err) == 0;
    CHECK_MSG(ok, "conv_create: %s", err.msg);
    pair x = pair_rand(xs, -1, 1), y = pair_new(), dx = pair_new(), dy = {0};
    if (ok) {
        ok = cpu->conv_forward(cb, cc, x.c, y.c, &err) == 0 &&
             gpu->conv_forward(gb, gc, x.g, y.g, &err) == 0;
        CHECK_MSG(ok, "conv_forward: %s", err.msg);
    }
    if (ok) {
        snprintf(name, sizeof name, "conv %s fwd", tag);
        compare_pair(name, &y, op_tol());
        dy = pair_rand(cpu->tensor_shape(y.c), -1, 1);
        ok = cpu->conv_backward(cb, cc, x.c, dy.c, dx.c, 0, &err) == 0 &&
             gpu->conv_backward(gb, gc, x.g, dy.g, dx.g, 0, &err) == 0;
        CHECK_MSG(ok, "conv_backward: %s", err.msg);
    }
    if (ok) {
        snprintf(name, sizeof name, "conv %s dx", tag);
        compare_pair(name, &dx, op_tol());
        snprintf(name, sizeof name, "conv %s dW", tag);
        compare_grad(name, &w, op_tol());
        if (bias) {
            snprintf(name, sizeof name, "conv %s db", tag);
            compare_grad(name, &b, op_tol());
        }
        /* accumulate: a second backward adds (grad = 2 x the first) */
        ok = cpu->conv_backward(cb, cc, x.c, dy.c, NULL, FW_GRAD_ACCUMULATE, &err) == 0 &&
             gpu->conv_backward(gb, gc, x.g, dy.g, NULL, FW_GRAD_ACCUMULATE, &err) == 0;
        CHECK_MSG(ok, "conv_backward accumulate: %s", err.msg);
        snprintf(name, sizeof name, "conv %s dW accumulate", tag);
        if (ok)
            compare_grad(name, &w, op_tol());
        /* frozen: FW_GRAD_SKIP_PARAMS leaves .grad alone (poisoned: must stay) */
        for (int64_t i = 0; ok && i < w.c.numel; i++)
            w.c.grad[i] = w.g.grad[i] = -7.0f;
        ok = ok && cpu->conv_backward(cb, cc, x.c, dy.c, dx.c, FW_GRAD_SKIP_PARAMS, &err) == 0 &&
             gpu->conv_backward(gb, gc, x.g, dy.g, dx.g, FW_GRAD_SKIP_PARAMS, &err) == 0;
        CHECK_MSG(ok, "conv_backward skip params: %s", err.msg);
        if (ok && sync_both()) {
            int touched = 0;
            for (int64_t i = 0; i < w.g.numel; i++)
                touched += w.g.grad[i] != -7.0f;
            CHECK_MSG(touched == 0, "conv %s: SKIP_PARAMS changed %d grads", tag, touched);
        }
        /* new weights on the host + params_updated: the next forward uses them */
        for (int64_t i = 0; ok && i < w.c.numel; i++)
            w.c.data[i] = w.g.data[i] = -0.5f * w.c.data[i];
        cpu->params_updated(cb);
        gpu->params_updated(gb);
        ok = ok && cpu->conv_forward(cb, cc, x.c, y.c, &err) == 0 &&
             gpu->conv_forward(gb, gc, x.g, y.g, &err) == 0;
        CHECK_MSG(ok, "conv_forward after params_updated: %s", err.msg);
        snprintf(name, sizeof name, "conv %s fwd after params_updated", tag);
        if (ok)
            compare_pair(name, &y, op_tol());
    }
    cpu->conv_destroy(cb, cc);
    gpu->conv_destroy(gb, gc);
    pair_free(&x);
    pair_free(&y);
    pair_free(&dx);
    if (dy.c || dy.g)
        pair_free(&dy);
    pparam_free(&w);
    if (bias)
        pparam_free(&b);
}

static void test_conv(void)
{
    conv_case("3x3 s1 p1", (fw_conv_desc){16, 32, 3, 3, 1, 1, 1, 1}, (fw_shape){4, 16, 12, 10}, 0);
    conv_case("7x7 s2 p3 bias", (fw_conv_desc){3, 16, 7, 7, 2, 2, 3, 3}, (fw_shape){2, 3, 23, 19}, 1);
    conv_case("1x1 s2", (fw_conv_desc){32, 64, 1, 1, 2, 2, 0, 0}, (fw_shape){3, 32, 9, 8}, 0);
}

/* Sums over 2 identical ranks: every value doubles. */
static int twice_sync(void *ctx, double *sums, int n, fw_error *e)
{
    (void)e;
    int *calls = ctx;
    (*calls)++;
    for (int i = 0; i < n; i++)
        sums[i] *= 2;
    return 0;
}

static void bn_case(fw_shape xs, int sync)
{
    char name[64];
    const char *tag = sync ? "bn sync" : xs.h == 1 ? "bn 1d" : "bn";
    int c = (int)xs.c;
    pparam w, b, rm, rv;
    pparam_init(&w, "w", c, 0.5f, 1.5f, 1);
    pparam_init(&b, "b", c, -0.5f, 0.5f, 1);
    pparam_init(&rm, "rm", c, -0.2f, 0.2f, 0);
    pparam_init(&rv, "rv", c, 0.5f, 1.5f, 0);
    fw_bn *cbn = NULL, *gbn = NULL;
    int ok = cpu->bn_create(cb, c, 1e-5f, 0.1f, &w.c, &b.c, &rm.c, &rv.c, &cbn, &err) == 0 &&
             gpu->bn_create(gb, c, 1e-5f, 0.1f, &w.g, &b.g, &rm.g, &rv.g, &gbn, &err) == 0;
    CHECK_MSG(ok, "bn_create: %s", err.msg);
    int calls = 0;
    if (ok && sync) {
        ok = gpu->bn_set_sync(gb, gbn, twice_sync, &calls, &err) == 0;
        CHECK_MSG(ok, "bn_set_sync: %s", err.msg);
    }
    /* fp32: a mean far from 0 (cancellation); 16 bit: inputs whose rounding
     * stays well inside the tolerance */
    pair x = cur_prec == FW_PRECISION_FP32 ? pair_rand(xs, 1.0f, 3.0f) : pair_rand(xs, -1.5f, 1.5f);
    pair y = pair_new(), dx = pair_new();
    pair dy = pair_rand(xs, -1, 1);
    float *rv0 = malloc((size_t)c * sizeof *rv0);
    memcpy(rv0, rv.c.data, (size_t)c * sizeof *rv0);
    /* sync: training only (its running_var differs from the CPU's by design) */
    for (int training = 1; training >= (sync ? 1 : 0) && ok; training--) {
        const char *mode = training ? "train" : "eval";
        ok = cpu->bn_forward(cb, cbn, training, x.c, y.c, &err) == 0 &&
             gpu->bn_forward(gb, gbn, training, x.g, y.g, &err) == 0;
        CHECK_MSG(ok, "bn_forward: %s", err.msg);
        if (!ok)
            break;
        snprintf(name, sizeof name, "%s %s fwd", tag, mode);
        compare_pair(name, &y, op_tol());
        ok = cpu->bn_backward(cb, cbn, x.c, dy.c, dx.c, 0, &err) == 0 &&
             gpu->bn_backward(gb, gbn, x.g, dy.g, dx.g, 0, &err) == 0;
        CHECK_MSG(ok, "bn_backward: %s", err.msg);
        if (!ok)
            break;
        snprintf(name, sizeof name, "%s %s dx", tag, mode);
        compare_pair(name, &dx, op_tol());
        snprintf(name, sizeof name, "%s %s dgamma", tag, mode);
        compare_grad(name, &w, op_tol());
        snprintf(name, sizeof name, "%s %s dbeta", tag, mode);
        compare_grad(name, &b, op_tol());
        if (training) {
            snprintf(name, sizeof name, "%s running_mean", tag);
            compare_data(name, &rm, op_tol());
            if (!sync) {
                snprintf(name, sizeof name, "%s running_var", tag);
                compare_data(name, &rv, op_tol());
            } else {
                /* global count 2M: the GPU unbiases with 2M / (2M - 1), the CPU
                 * used M / (M - 1); recover the batch variance from the CPU */
                double m = (double)(xs.n * xs.h * xs.w);
                float *want = malloc((size_t)c * sizeof *want);
                for (int k = 0; k < c; k++) {
                    double v = (rv.c.data[k] - 0.9 * rv0[k]) / 0.1 * (m - 1) / m;
                    want[k] = (float)(0.9 * rv0[k] + 0.1 * v * 2 * m / (2 * m - 1));
                }
                if (sync_both())
                    compare("bn sync running_var 2M", rv.g.data, want, c, op_tol());
                free(want);
                CHECK_MSG(calls == 2, "sync fn calls %d after forward + backward, expected 2",
                          calls);
            }
        }
    }
    cpu->bn_destroy(cb, cbn);
    gpu->bn_destroy(gb, gbn);
    pair_free(&x);
    pair_free(&y);
    pair_free(&dx);
    pair_free(&dy);
    pparam_free(&w);
    pparam_free(&b);
    pparam_free(&rm);
    pparam_free(&rv);
    free(rv0);
}

static void test_bn(void)
{
    bn_case((fw_shape){4, 24, 7, 5}, 0);
    bn_case((fw_shape){16, 40, 1, 1}, 0);
    bn_case((fw_shape){4, 24, 7, 5}, 1);
}

static void test_tensor_round_trip(void)
{
    fw_shape s = {3, 5, 4, 6};
    pair x = pair_rand(s, -2, 2), y = pair_new(), z = pair_new();
    CHECK(cpu->tensor_copy(cb, x.c, y.c, &err) == 0 && gpu->tensor_copy(gb, x.g, y.g, &err) == 0);
    compare_pair("tensor copy_in/copy/copy_out", &y, cur_prec == FW_PRECISION_FP32 ? 0 : 4e-3);
    CHECK(cpu->tensor_zero(cb, z.c, s, &err) == 0 && gpu->tensor_zero(gb, z.g, s, &err) == 0);
    compare_pair("tensor zero", &z, 0);
    pair_free(&x);
    pair_free(&y);
    pair_free(&z);
}

static void test_relu_add(void)
{
    fw_shape s = {2, 16, 9, 7};
    pair a = pair_rand(s, -1, 1), b = pair_rand(s, -1, 1), y = pair_new(), dx = pair_new();
    CHECK(cpu->relu_forward(cb, a.c, y.c, &err) == 0 && gpu->relu_forward(gb, a.g, y.g, &err) == 0);
    compare_pair("relu fwd", &y, op_tol());
    CHECK(cpu->relu_backward(cb, y.c, b.c, dx.c, &err) == 0 &&
          gpu->relu_backward(gb, y.g, b.g, dx.g, &err) == 0);
    compare_pair("relu bwd", &dx, op_tol());
    CHECK(cpu->add(cb, a.c, b.c, y.c, &err) == 0 && gpu->add(gb, a.g, b.g, y.g, &err) == 0);
    compare_pair("add", &y, op_tol());
    CHECK(cpu->add(cb, a.c, b.c, a.c, &err) == 0 && gpu->add(gb, a.g, b.g, a.g, &err) == 0);
    compare_pair("add in place", &a, op_tol());
    pair_free(&a);
    pair_free(&b);
    pair_free(&y);
    pair_free(&dx);
}

/* Max-pool input without ties inside any window, exact in 16 bits (a tie
 * rounded into existence would send the gradient to another element):
 * global: each plane a permutation of k / HW; 3x3 windows: each plane a
 * pattern over (h mod 3, w mod 3), a permutation of (k - 4) / 4. */
static pair pool_input(fw_pool_desc d, fw_shape xs)
{
    if (d.kind != FW_POOL_MAX || cur_prec == FW_PRECISION_FP32)
        return pair_rand(xs, -1, 1);
    int64_t hw = xs.h * xs.w, m = d.global ? hw : 9;
    float *v = malloc((size_t)numel(xs) * sizeof *v);
    int *perm = malloc((size_t)m * sizeof *perm);
    for (int64_t pl = 0; pl < xs.n * xs.c; pl++) {
        for (int k = 0; k < m; k++)
            perm[k] = k;
        fw_rng_shuffle_int(&rng, perm, (int)m);
        for (int64_t i = 0; i < hw; i++) {
            int64_t h = i / xs.w, w = i % xs.w;
            v[pl * hw + i] = d.global ? (float)perm[i] / (float)hw
                                      : (float)(perm[(h % 3) * 3 + w % 3] - 4) / 4.0f;
        }
    }
    pair p = pair_new();
    CHECK(cpu->tensor_copy_in(cb, p.c, xs, v, &err) == 0);
    CHECK(gpu->tensor_copy_in(gb, p.g, xs, v, &err) == 0);
    free(v);
    free(perm);
    return p;
}

static void pool_case(const char *name, fw_pool_desc d, fw_shape xs)
{
    char buf[64];
    fw_pool *cp = NULL, *gp = NULL;
    int ok = cpu->pool_create(cb, &d, &cp, &err) == 0 && gpu->pool_create(gb, &d, &gp, &err) == 0;
    CHECK_MSG(ok, "pool_create: %s", err.msg);
    pair x = pool_input(d, xs), y = pair_new(), dx = pair_new(), dy = {0};
    if (ok) {
        ok = cpu->pool_forward(cb, cp, x.c, y.c, &err) == 0 &&
             gpu->pool_forward(gb, gp, x.g, y.g, &err) == 0;
        CHECK_MSG(ok, "pool_forward: %s", err.msg);
    }
    if (ok) {
        snprintf(buf, sizeof buf, "%s fwd", name);
        compare_pair(buf, &y, op_tol());
        dy = pair_rand(cpu->tensor_shape(y.c), -1, 1);
        ok = cpu->pool_backward(cb, cp, dy.c, dx.c, &err) == 0 &&
             gpu->pool_backward(gb, gp, dy.g, dx.g, &err) == 0;
        CHECK_MSG(ok, "pool_backward: %s", err.msg);
        snprintf(buf, sizeof buf, "%s bwd", name);
        if (ok)
            compare_pair(buf, &dx, op_tol());
        pair_free(&dy);
    }
    cpu->pool_destroy(cb, cp);
    gpu->pool_destroy(gb, gp);
    pair_free(&x);
    pair_free(&y);
    pair_free(&dx);
}

static void test_pool(void)
{
    pool_case("maxpool 3x3 s2 p1", (fw_pool_desc){FW_POOL_MAX, 3, 3, 2, 2, 1, 1, 0},
              (fw_shape){2, 16, 13, 10});
    pool_case("avgpool 2x2 s2", (fw_pool_desc){FW_POOL_AVG, 2, 2, 2, 2, 0, 0, 0},
              (fw_shape){2, 8, 9, 8});
    pool_case("avgpool 3x3 s1 p1", (fw_pool_desc){FW_POOL_AVG, 3, 3, 1, 1, 1, 1, 0},
              (fw_shape){2, 8, 6, 5});
    pool_case("global avgpool", (fw_pool_desc){FW_POOL_AVG, 0, 0, 0, 0, 0, 0, 1},
              (fw_shape){3, 32, 4, 8});
    pool_case("global maxpool", (fw_pool_desc){FW_POOL_MAX, 0, 0, 0, 0, 0, 0, 1},
              (fw_shape){3, 32, 4, 8});
}

static void test_gem(void)
{
    pparam p;
    pparam_init(&p, "p", 1, 3.0f, 3.0f, 1);
    fw_gem *cg = NULL, *gg = NULL;
    int ok = cpu->gem_create(cb, &p.c, 1e-6f, &cg, &err) == 0 &&
             gpu->gem_create(gb, &p.g, 1e-6f, &gg, &err) == 0;
    CHECK_MSG(ok, "gem_create: %s", err.msg);
    fw_shape xs = {4, 32, 4, 8};
    pair x = pair_rand(xs, -0.1f, 2.0f), y = pair_new(), dx = pair_new();
    pair dy = pair_rand((fw_shape){4, 32, 1, 1}, -1, 1);
    if (ok) {
        ok = cpu->gem_forward(cb, cg, x.c, y.c, &err) == 0 &&
             gpu->gem_forward(gb, gg, x.g, y.g, &err) == 0;
        CHECK_MSG(ok, "gem_forward: %s", err.msg);
    }
    if (ok) {
        compare_pair("gem fwd", &y, op_tol());
        ok = cpu->gem_backward(cb, cg, x.c, y.c, dy.c, dx.c, 0, &err) == 0 &&
             gpu->gem_backward(gb, gg, x.g, y.g, dy.g, dx.g, 0, &err) == 0;
        CHECK_MSG(ok, "gem_backward: %s", err.msg);
    }
    if (ok) {
        compare_pair("gem dx", &dx, op_tol());
        compare_grad("gem dp", &p, op_tol());
    }
    cpu->gem_destroy(cb, cg);
    gpu->gem_destroy(gb, gg);
    pair_free(&x);
    pair_free(&y);
    pair_free(&dx);
    pair_free(&dy);
    pparam_free(&p);
}

static void linear_case(const char *tag, fw_shape xs, int out, int bias)
{
    char name[64];
    int in = (int)(xs.c * xs.h * xs.w);
    pparam w, b;
    float bound = 1.0f / sqrtf((float)in);
    pparam_init(&w, "w", (int64_t)in * out, -bound, bound, 1);
    if (bias)
        pparam_init(&b, "b", out, -bound, bound, 1);
    fw_linear *cl = NULL, *gl = NULL;
    int ok = cpu->linear_create(cb, in, out, &w.c, bias ? &b.c : NULL, &cl, &err) == 0 &&
             gpu->linear_create(gb, in, out, &w.g, bias ? &b.g : NULL, &gl, &err) == 0;
    CHECK_MSG(ok, "linear_create: %s", err.msg);
    pair x = pair_rand(xs, -1, 1), y = pair_new(), dx = pair_new();
    pair dy = pair_rand((fw_shape){xs.n, out, 1, 1}, -1, 1);
    if (ok) {
        ok = cpu->linear_forward(cb, cl, x.c, y.c, &err) == 0 &&
             gpu->linear_forward(gb, gl, x.g, y.g, &err) == 0;
        CHECK_MSG(ok, "linear_forward: %s", err.msg);
    }
    if (ok) {
        snprintf(name, sizeof name, "linear %s fwd", tag);
        compare_pair(name, &y, op_tol());
        ok = cpu->linear_backward(cb, cl, x.c, dy.c, dx.c, 0, &err) == 0 &&
             gpu->linear_backward(gb, gl, x.g, dy.g, dx.g, 0, &err) == 0;
        CHECK_MSG(ok, "linear_backward: %s", err.msg);
    }
    if (ok) {
        snprintf(name, sizeof name, "linear %s dx", tag);
        compare_pair(name, &dx, op_tol());
        snprintf(name, sizeof name, "linear %s dW", tag);
        compare_grad(name, &w, op_tol());
        if (bias) {
            snprintf(name, sizeof name, "linear %s db", tag);
            compare_grad(name, &b, op_tol());
        }
    }
    cpu->linear_destroy(cb, cl);
    gpu->linear_destroy(gb, gl);
    pair_free(&x);
    pair_free(&y);
    pair_free(&dx);
    pair_free(&dy);
    pparam_free(&w);
    if (bias)
        pparam_free(&b);
}

static void test_linear(void)
{
    linear_case("512->128 bias", (fw_shape){8, 512, 1, 1}, 128, 1);
    linear_case("flatten 8x3x5->40", (fw_shape){6, 8, 3, 5}, 40, 0);
}

static void test_l2norm(void)
{
    fw_shape s = {8, 128, 1, 1};
    pair x = pair_rand(s, -1, 1), y = pair_new(), dx = pair_new(), dy = pair_rand(s, -1, 1);
    CHECK(cpu->l2norm_forward(cb, x.c, y.c, 1e-12f, &err) == 0 &&
          gpu->l2norm_forward(gb, x.g, y.g, 1e-12f, &err) == 0);
    compare_pair("l2norm fwd", &y, op_tol());
    CHECK(cpu->l2norm_backward(cb, x.c, y.c, dy.c, dx.c, 1e-12f, &err) == 0 &&
          gpu->l2norm_backward(gb, x.g, y.g, dy.g, dx.g, 1e-12f, &err) == 0);
    compare_pair("l2norm bwd", &dx, op_tol());
    pair_free(&x);
    pair_free(&y);
    pair_free(&dx);
    pair_free(&dy);
}

static void test_dropout(void)
{
    fw_shape s = {4, 6, 3, 5};
    fw_dropout *cd = NULL, *gd = NULL;
    int ok = cpu->dropout_create(cb, 0.25f, 77, &cd, &err) == 0 &&
             gpu->dropout_create(gb, 0.25f, 77, &gd, &err) == 0;
    CHECK_MSG(ok, "dropout_create: %s", err.msg);
    pair x = pair_rand(s, -1, 1), y = pair_new(), dx = pair_new(), dy = pair_rand(s, -1, 1);
    double tol = cur_prec == FW_PRECISION_FP32 ? 0 : op_tol(); /* same mask: exact in fp32 */
    if (ok) {
        CHECK(cpu->dropout_forward(cb, cd, 1, 5, x.c, y.c, &err) == 0 &&
              gpu->dropout_forward(gb, gd, 1, 5, x.g, y.g, &err) == 0);
        compare_pair("dropout train fwd (same mask)", &y, tol);
        CHECK(cpu->dropout_backward(cb, cd, dy.c, dx.c, &err) == 0 &&
              gpu->dropout_backward(gb, gd, dy.g, dx.g, &err) == 0);
        compare_pair("dropout train bwd", &dx, tol);
        CHECK(cpu->dropout_forward(cb, cd, 0, 5, x.c, y.c, &err) == 0 &&
              gpu->dropout_forward(gb, gd, 0, 5, x.g, y.g, &err) == 0);
        compare_pair("dropout eval fwd", &y, tol);
    }
    cpu->dropout_destroy(cb, cd);
    gpu->dropout_destroy(gb, gd);
    pair_free(&x);
    pair_free(&y);
    pair_free(&dx);
    pair_free(&dy);
}

/* ---- ResNet-18 training step ------------------------------------------------------- */

static void test_resnet18_step(void)
{
    fw_model_config cfg;
    fw_model_config_default(&cfg);
    cfg.width_mult = 0.25f; /* base width 16: small and quick */
    cfg.embedding_dim = 64;
    cfg.seed = 11;
    fw_model *cm = NULL, *gm = NULL;
    int ok = fw_model_create(cpu, cb, &cfg, &cm, &err) == 0 &&
             fw_model_create(gpu, gb, &cfg, &gm, &err) == 0;
    CHECK_MSG(ok, "fw_model_create: %s", err.msg);
    enum { N = 4, H = 64, W = 96, D = 64 };
    float *x = rand_vec((int64_t)N * H * W, 0, 1), *d_emb = rand_vec(N * D, -1, 1);
    float ec[N * D], eg[N * D];
    double tol = cur_prec == FW_PRECISION_FP32 ? 2e-3 : 1e-1;
    if (ok) {
        fw_model_zero_grad(cm);
        fw_model_zero_grad(gm);
        ok = fw_model_forward(cm, 1, 3, x, N, H, W, ec, &err) == 0 &&
             fw_model_forward(gm, 1, 3, x, N, H, W, eg, &err) == 0;
        CHECK_MSG(ok, "fw_model_forward: %s", err.msg);
    }
    if (ok) {
        compare("resnet18 step embeddings", eg, ec, N * D, tol);
        ok = fw_model_backward(cm, d_emb, &err) == 0 && fw_model_backward(gm, d_emb, &err) == 0;
        CHECK_MSG(ok, "fw_model_backward: %s", err.msg);
    }
    const char *names[] = {"conv1.weight", "bn1.weight", "layer1.0.conv1.weight",
                           "layer4.1.conv2.weight", "layer4.1.bn2.bias", "bn1.running_var"};
    for (size_t i = 0; ok && i < sizeof names / sizeof names[0]; i++) {
        fw_param *pc = fw_model_find(cm, names[i]), *pg = fw_model_find(gm, names[i]);
        CHECK_MSG(pc && pg, "no parameter %s", names[i]);
        if (!pc || !pg)
            continue;
        char label[64];
        int is_grad = pc->grad != NULL;
        snprintf(label, sizeof label, "resnet18 step %s%s", names[i], is_grad ? " grad" : "");
        compare(label, is_grad ? pg->grad : pg->data, is_grad ? pc->grad : pc->data, pc->numel,
                tol);
    }
    fw_model_destroy(cm);
    fw_model_destroy(gm);
    free(x);
    free(d_emb);
}

/* ---- the ArcFace term -------------------------------------------------------------- */

/* arcface_loss on the GPU against fw_loss_arcface on the host: the loss,
 * dL/demb added to a buffer, and dL/dW added to the weight's gradient (both
 * gradients start from the same non-zero values: they accumulate). fp32
 * products on both sides, in every backend precision. */
static void test_arcface(void)
{
    enum { AN = 12, AD = 64, AC = 20, AK = 3 };
    fw_arcface_cfg cfg = {.scale = 30, .margin = 0.5, .subcenters = AK, .label_smoothing = 0.1};
    pparam w;
    pparam_init(&w, "head.arcface.weight", (int64_t)AC * AK * AD, -0.2f, 0.2f, 1);
    for (int64_t i = 0; i < w.c.numel; i++)
        w.c.grad[i] = w.g.grad[i] = 0.01f * (float)(i % 7);
    float *emb = rand_vec(AN * AD, -1, 1), *de_c = rand_vec(AN * AD, -1, 1);
    float *de_g = malloc(sizeof(float) * AN * AD);
    memcpy(de_g, de_c, sizeof(float) * AN * AD);
    int labels[AN];
    for (int i = 0; i < AN; i++)
        labels[i] = i % 4 == 3 ? -1 : (i * 7) % AC; /* some new_whale rows */
    fw_loss_ws ws;
    fw_loss_ws_init(&ws);
    fw_loss_result rc_res, rg_res;
    fw_loss_grads g = {.d_emb = de_c, .d_weight = w.c.grad, .scale = 0.7};
    fw_arcface *op = NULL;
    int ok = fw_loss_arcface(&ws, &cfg, emb, labels, AN, AD, w.c.data, AC, &g, &rc_res, &err) == 0;
    CHECK_MSG(ok, "host ArcFace: %s", err.msg);
    ok = ok && gpu->arcface_create(gb, &cfg, AC, AD, &w.g, &op, &err) == 0 &&
         gpu->arcface_loss(gb, op, emb, labels, AN, 0.7, de_g, &rg_res, &err) == 0 &&
         gpu->sync(gb, &err) == 0;
    CHECK_MSG(ok, "gpu ArcFace: %s", err.msg);
    if (ok) {
        CHECK_INT(rg_res.count, rc_res.count);
        record("arcface loss", fabs(rg_res.loss - rc_res.loss) / fabs(rc_res.loss), 1e-5);
        compare("arcface d_emb (accumulated)", de_g, de_c, AN * AD, 1e-4);
        compare("arcface dW (accumulated)", w.g.grad, w.c.grad, w.c.numel, 1e-4);
    }
    if (op)
        gpu->arcface_destroy(gb, op);
    fw_loss_ws_free(&ws);
    pparam_free(&w);
    free(emb);
    free(de_c);
    free(de_g);
}

/* ---- the training update on the device --------------------------------------------- */

enum { UN = 8, UH = 64, UW = 96, UC = 3, UD = 64, USTEPS = 4 };

/* A small AdamW learner on the GPU with clipping (and loss scaling in fp16);
 * on_device 0: FLUKEWATCH_UPDATE=host keeps its update on the host. */
static fw_learner *update_learner(int on_device)
{
    fw_learner_config cfg;
    memset(&cfg, 0, sizeof cfg);
    fw_model_config_default(&cfg.model);
    cfg.model.width_mult = 0.25f;
    cfg.model.in_channels = UC;
    cfg.model.embedding_dim = UD;
    cfg.model.seed = 5;
    cfg.head = (fw_head_config){
        .classes = UN / 2, .seed = 3, .n_terms = 1,
        .terms = {{.kind = FW_LOSS_ARCFACE, .weight = 1.0,
                   .arcface = {.scale = 16, .margin = 0.3, .subcenters = 1}}}};
    fw_optim_config_default(&cfg.optim, FW_OPTIM_ADAMW);
    fw_schedule_config_default(&cfg.schedule, FW_SCHED_ONE_CYCLE);
    cfg.schedule.lr_max = 1e-3;
    cfg.schedule.total_steps = USTEPS;
    cfg.clip_norm = 1.0;
    cfg.precision = cur_prec;
    /* (fp16: a start low enough that the first steps do not overflow) */
    cfg.loss_scale = cur_prec == FW_PRECISION_FP16 ? 1024.0 : 0.0;
    setenv("FLUKEWATCH_UPDATE", on_device ? "auto" : "host", 1);
    fw_learner *l = NULL;
    int rc = fw_learner_create(gpu, &cfg, &l, &err);
    unsetenv("FLUKEWATCH_UPDATE");
    CHECK_MSG(rc == 0, "learner (update on the %s): %s", on_device ? "device" : "host", err.msg);
    return l;
}

static void test_device_update(void)
{
    /* both learners take the same convolution algorithms (timing them could
     * pick different ones, whose 16-bit roundings differ) */
    setenv("FLUKEWATCH_CUDNN_ALGO", "heuristic", 1);
    fw_learner *dev = update_learner(1), *host = update_learner(0);
    float *x = rand_vec((int64_t)UN * UC * UH * UW, 0, 1);
    int labels[UN];
    for (int i = 0; i < UN; i++)
        labels[i] = i / 2;
    fw_param *conv1 = dev ? fw_param_list_find(fw_learner_params(dev), "conv1.weight") : NULL;
    float *before = conv1 ? malloc((size_t)conv1->numel * sizeof *before) : NULL;
    int ok = dev && host && conv1 && before;
    if (ok)
        memcpy(before, conv1->data, (size_t)conv1->numel * sizeof *before);
    double worst_loss = 0, tol = op_tol();
    for (int s = 0; ok && s < USTEPS; s++) {
        fw_step_result rd, rh;
        ok = fw_learner_step(dev, x, labels, UN, UH, UW, &rd, &err) == 0 &&
             fw_learner_step(host, x, labels, UN, UH, UW, &rh, &err) == 0;
        CHECK_MSG(ok, "step %d: %s", s, err.msg);
        if (ok) {
            CHECK_MSG(rd.skipped == rh.skipped && !rd.skipped, "step %d: skipped %d (device) "
                      "and %d (host)", s, rd.skipped, rh.skipped);
            double d = fabs(rd.loss - rh.loss) / fmax(fabs(rh.loss), 1e-30);
            worst_loss = d > worst_loss ? d : worst_loss;
        }
    }
    if (ok) {
        record("device update: losses, 4 steps", worst_loss, tol);
        /* the host copy stays as it was until asked for: the update ran on the GPU */
        CHECK_MSG(memcmp(before, conv1->data, (size_t)conv1->numel * sizeof *before) == 0,
                  "the host's conv1.weight changed without update_to_host");
        ok = fw_learner_sync_host(dev, &err) == 0;
        CHECK_MSG(ok, "sync_host: %s", err.msg);
    }
    if (ok) {
        CHECK_MSG(memcmp(before, conv1->data, (size_t)conv1->numel * sizeof *before) != 0,
                  "conv1.weight did not change in %d steps", USTEPS);
        fw_param_list *pd = fw_learner_params(dev), *ph = fw_learner_params(host);
        double worst = 0;
        const char *where = "";
        for (int i = 0; i < pd->n && i < ph->n; i++) {
            double r = rel_err(pd->items[i]->data, ph->items[i]->data, pd->items[i]->numel);
            if (r > worst) {
                worst = r;
                where = pd->items[i]->name;
            }
        }
        printf("#   worst weight: %s\n", where);
        record("device update: weights, 4 steps", worst, tol);
    }
    free(before);
    free(x);
    fw_learner_destroy(dev);
    fw_learner_destroy(host);
    unsetenv("FLUKEWATCH_CUDNN_ALGO");
}

/* ---- main ---------------------------------------------------------------------------- */

/* augment_batch: the fused kernel on the device cache against the CPU
 * backend's data/augment_cpu.c, same parameters and items. */
static void augment_batch_case(const char *name)
{
    enum { ITEMS = 6, SW = 80, SH = 40, SC = 3, OW = 64, OH = 32, N = 5 };
    static uint8_t cache[ITEMS * SH * SW * SC];
    for (size_t i = 0; i < sizeof cache; i++)
        cache[i] = (uint8_t)fw_rng_below(&rng, 256);
    fw_augment_opts o;
    fw_augment_opts_default(&o);
    o.out_width = OW, o.out_height = OH;
    o.p_blur = 0.5f;
    fw_aug_params params[N];
    int64_t items[N] = {5, 0, 3, 3, 1};
    for (int i = 0; i < N; i++) {
        fw_rng r;
        fw_augment_rng(&r, 11, 2, i);
        int flipped;
        fw_aug_params_draw(&o, &r, SW, SH, SC, 0.5f, &params[i], &flipped);
    }
    pair p = pair_new();
    CHECK(cpu->augment_set_cache(cb, cache, ITEMS, SW, SH, SC, &err) == 0);
    CHECK_MSG(gpu->augment_set_cache(gb, cache, ITEMS, SW, SH, SC, &err) == 0, "%s", err.msg);
    CHECK(cpu->augment_batch(cb, params, items, N, OW, OH, p.c, &err) == 0);
    CHECK_MSG(gpu->augment_batch(gb, params, items, N, OW, OH, p.g, &err) == 0, "%s", err.msg);
    /* the kernel's FMAs round differently from the CPU loop: 1e-3 absolute on
     * values of order 1 in fp32, the storage rounding in 16 bits */
    compare_pair(name, &p, cur_prec == FW_PRECISION_FP32 ? 1e-3 : op_tol());
    /* a second batch through the other set of buffers (double-buffered) */
    int64_t again[N] = {2, 2, 0, 5, 4};
    pair q = pair_new();
    CHECK(cpu->augment_batch(cb, params, again, N, OW, OH, q.c, &err) == 0);
    CHECK_MSG(gpu->augment_batch(gb, params, again, N, OW, OH, q.g, &err) == 0, "%s", err.msg);
    char second[64];
    snprintf(second, sizeof second, "%s, 2nd batch", name);
    compare_pair(second, &q, cur_prec == FW_PRECISION_FP32 ? 1e-3 : op_tol());
    pair_free(&q);
    pair_free(&p);
}

/* the cache resident on the device, then streamed from pinned host memory */
static void test_augment_batch(void)
{
    augment_batch_case("augment_batch resident");
    setenv("FLUKEWATCH_GPU_CACHE", "pinned", 1);
    augment_batch_case("augment_batch pinned");
    unsetenv("FLUKEWATCH_GPU_CACHE");
}

static void run_all(void)
{
    RUN(test_tensor_round_trip);
    RUN(test_conv);
    RUN(test_bn);
    RUN(test_relu_add);
    RUN(test_pool);
    RUN(test_gem);
    RUN(test_linear);
    RUN(test_l2norm);
    RUN(test_dropout);
    RUN(test_resnet18_step);
    RUN(test_augment_batch);
    RUN(test_arcface);
    RUN(test_device_update);
}

int main(void)
{
    cpu = fw_backend_cpu();
    gpu = fw_backend_cuda();
    if (!gpu) {
        printf("1..0 # SKIP this build has no CUDA backend\n");
        return 0;
    }
    fw_backend_options copt = {.threads = 0};
    if (cpu->create(&copt, &cb, &err) < 0) {
        printf("Bail out! cpu backend: %s\n", err.msg);
        return 1;
    }
    const fw_precision precs[] = {FW_PRECISION_FP32, FW_PRECISION_BF16, FW_PRECISION_FP16};
    for (size_t k = 0; k < 3; k++) {
        fw_backend_options gopt = {.threads = 0, .device = 0, .precision = precs[k]};
        if (gpu->create(&gopt, &gb, &err) < 0) {
            if (k == 0) {
                printf("1..0 # SKIP no GPU (%s)\n", err.msg);
                cpu->destroy(cb);
                return 0;
            }
            printf("Bail out! cuda backend %s: %s\n", prec_name(precs[k]), err.msg);
            return 1;
        }
        char desc[256];
        gpu->describe(gb, desc, sizeof desc);
        printf("# %s\n", desc);
        cur_prec = precs[k];
        fw_rng_init(&rng, 2024, k);
        run_all();
        gpu->destroy(gb);
        gb = NULL;
    }
    cpu->destroy(cb);
    printf("# %-40s %-5s %11s %9s  %s\n", "check", "prec", "rel err", "tol", "result");
    for (int i = 0; i < n_rows; i++)
        printf("# %-40s %-5s %11.3g %9.3g  %s\n", rows[i].name, rows[i].prec, rows[i].rel,
               rows[i].tol, rows[i].rel <= rows[i].tol ? "ok" : "FAIL");
    return tap_done();
}
