/* test_backend_cpu.c — the oneDNN CPU backend against PyTorch and against
 * finite differences.
 *
 * PyTorch references (float64, stored as fp32) come from
 * $TOP_SRCDIR/tests/fixtures/ref/backend_ops.bin, written by
 * tests/ref/backend_ops.py. Errors are measured as
 *     rel = max_i |got_i - ref_i| / max_i |ref_i|      (infinity norms)
 * and must be <= 1e-4. Ops that accept blocked inputs are run twice: with the
 * input plain (N, C, H, W) and reordered to nChw16c first.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "cpu_backend.h" /* to force blocked layouts and inspect them */
#include "cpu_kernels.h"
#include "augment_cpu.h"
#include "augment_params.h"
#include "rng.h"
#include "tap.h"

#define REL_TOL 1e-4

/* ---- fixture ---------------------------------------------------------------- */

typedef struct ref_arr {
    char name[64];
    int ndim;
    int dims[4];
    int64_t n;
    float *data;
} ref_arr;

typedef struct fixture {
    ref_arr *a;
    int n;
    char error[512];
} fixture;

static fixture fx;

static int load_fixture(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(fx.error, sizeof fx.error, "cannot open %s", path);
        return -1;
    }
    char magic[4];
    uint32_t version, count;
    if (fread(magic, 1, 4, f) != 4 || memcmp(magic, "FWBK", 4) != 0 ||
        fread(&version, 4, 1, f) != 1 || version != 1 || fread(&count, 4, 1, f) != 1 ||
        count > 10000) {
        snprintf(fx.error, sizeof fx.error, "%s: bad header", path);
        fclose(f);
        return -1;
    }
    fx.a = calloc(count, sizeof *fx.a);
    for (uint32_t i = 0; i < count; i++) {
        ref_arr *r = &fx.a[i];
        uint16_t len;
        uint8_t nd;
        if (fread(&len, 2, 1, f) != 1 || len >= sizeof r->name ||
            fread(r->name, 1, len, f) != len || fread(&nd, 1, 1, f) != 1 || nd > 4) {
            snprintf(fx.error, sizeof fx.error, "%s: bad entry %u", path, i);
            fclose(f);
            return -1;
        }
        r->ndim = nd;
        r->n = 1;
        for (int d = 0; d < nd; d++) {
            int32_t v;
            if (fread(&v, 4, 1, f) != 1 || v < 0) {
                fclose(f);
                return -1;
            }
            r->dims[d] = v;
            r->n *= v;
        }
        r->data = malloc((size_t)(r->n ? r->n : 1) * sizeof(float));
        if (fread(r->data, sizeof(float), (size_t)r->n, f) != (size_t)r->n) {
            snprintf(fx.error, sizeof fx.error, "%s: truncated at %s", path, r->name);
            fclose(f);
            return -1;
        }
        fx.n++;
    }
    fclose(f);
    return 0;
}

static const ref_arr *ref(const char *prefix, const char *field)
{
    char name[96];
    snprintf(name, sizeof name, "%s.%s", prefix, field);
    for (int i = 0; i < fx.n; i++)
        if (strcmp(fx.a[i].name, name) == 0)
            return &fx.a[i];
    printf("#   fixture has no %s\n", name);
    tap_current_failed_ = 1;
    return NULL;
}

static const ref_arr *ref_opt(const char *prefix, const char *field)
{
    char name[96];
    snprintf(name, sizeof name, "%s.%s", prefix, field);
    for (int i = 0; i < fx.n; i++)
        if (strcmp(fx.a[i].name, name) == 0)
            return &fx.a[i];
    return NULL;
}

static fw_shape ref_shape(const ref_arr *r)
{
    fw_shape s = {1, 1, 1, 1};
    int64_t *v[4] = {&s.n, &s.c, &s.h, &s.w};
    for (int d = 0; d < r->ndim; d++)
        *v[d] = r->dims[d];
    return s;
}

/* ---- helpers -------------------------------------------------------------------- */

static const fw_backend_ops *ops;

static fw_backend *new_backend(int threads)
{
    fw_backend *be = NULL;
    fw_error err = {0};
    fw_backend_options opt = {.threads = threads};
    if (ops->create(&opt, &be, &err) < 0)
        printf("#   create: %s\n", err.msg);
    return be;
}

static double rel_err(const float *got, const float *want, int64_t n)
{
    double maxdiff = 0, maxref = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        if (!(d <= maxdiff)) /* NaN propagates */
            maxdiff = d;
        if (fabs(want[i]) > maxref)
            maxref = fabs(want[i]);
    }
    return maxdiff / (maxref > 1e-30 ? maxref : 1e-30);
}

#define CHECK_REL(got, want, n, what)                                                      \
    do {                                                                                   \
        double e_ = rel_err((got), (want), (n));                                           \
        CHECK_MSG(e_ <= REL_TOL, "%s: relative error %.3g > %g", (what), e_, REL_TOL);     \
    } while (0)

#define OK(call)                                                                           \
    do {                                                                                   \
        fw_error e_ = {0};                                                                 \
        int rc_ = (call);                                                                  \
        CHECK_MSG(rc_ == 0, "%s -> %d: %s", #call, rc_, e_.msg);                           \
    } while (0)
/* (OK needs the call to use &e_ as its error argument) */

static void param_init(fw_param *p, const char *name, const float *data, int64_t n)
{
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->ndim = 1;
    p->shape[0] = n;
    p->numel = n;
    p->data = malloc((size_t)n * sizeof(float));
    p->grad = calloc((size_t)n, sizeof(float));
    if (data)
        memcpy(p->data, data, (size_t)n * sizeof(float));
}

static void param_free(fw_param *p)
{
    free(p->data);
    free(p->grad);
}

static fw_tensor *tensor_new(fw_backend *be)
{
    fw_tensor *t = NULL;
    fw_error e = {0};
    if (ops->tensor_create(be, &t, &e) < 0)
        printf("#   tensor_create: %s\n", e.msg);
    return t;
}

static fw_tensor *tensor_of(fw_backend *be, const ref_arr *r)
{
    fw_tensor *t = tensor_new(be);
    OK(ops->tensor_copy_in(be, t, ref_shape(r), r->data, &e_));
    return t;
}

/* Reorder t in place into a channel-blocked layout (nChw16c / nChw8c) or nhwc. */
static void make_layout(fw_backend *be, fw_tensor *t, dnnl_format_tag_t tag)
{
    dnnl_memory_desc_t md;
    dnnl_dims_t dims = {t->shape.n, t->shape.c, t->shape.h, t->shape.w};
    dnnl_memory_desc_init_by_tag(&md, 4, dims, dnnl_f32, tag);
    fw_tensor *tmp = tensor_new(be);
    OK(cpu_tensor_define(be, tmp, t->shape, &md, &e_));
    OK(cpu_reorder(be, t->mem, tmp->mem, 0, &e_));
    OK(ops->tensor_copy(be, tmp, t, &e_));
    ops->tensor_free(be, tmp);
}

static float *out_of(fw_backend *be, const fw_tensor *t)
{
    fw_shape s = ops->tensor_shape(t);
    int64_t n = s.n * s.c * s.h * s.w;
    float *p = calloc((size_t)(n ? n : 1), sizeof(float));
    OK(ops->tensor_copy_out(be, t, p, &e_));
    return p;
}

static void check_tensor(fw_backend *be, const fw_tensor *t, const ref_arr *want,
                         const char *what)
{
    if (!want)
        return;
    fw_shape s = ops->tensor_shape(t), w = ref_shape(want);
    CHECK_MSG(cpu_shape_eq(s, w), "%s: shape (%lld,%lld,%lld,%lld), want (%lld,%lld,%lld,%lld)",
              what, (long long)s.n, (long long)s.c, (long long)s.h, (long long)s.w,
              (long long)w.n, (long long)w.c, (long long)w.h, (long long)w.w);
    if (!cpu_shape_eq(s, w))
        return;
    float *got = out_of(be, t);
    CHECK_REL(got, want->data, want->n, what);
    free(got);
}

/* ---- layouts ------------------------------------------------------------------------ */

static void test_layout_roundtrip(void)
{
    fw_backend *be = new_backend(2);
    fw_shape s = {3, 24, 5, 7};
    int64_t n = 3 * 24 * 5 * 7;
    float *src = malloc(n * sizeof(float)), *back = malloc(n * sizeof(float));
    fw_rng r;
    fw_rng_init(&r, 1, 0);
    for (int64_t i = 0; i < n; i++)
        src[i] = fw_rng_normal(&r);
    dnnl_format_tag_t tags[3] = {dnnl_nChw16c, dnnl_nChw8c, dnnl_nhwc};
    for (int k = 0; k < 3; k++) {
        fw_tensor *t = tensor_new(be);
        OK(ops->tensor_copy_in(be, t, s, src, &e_));
        make_layout(be, t, tags[k]);
        CHECK(!cpu_md_is_plain(&t->md));
        memset(back, 0, n * sizeof(float));
        OK(ops->tensor_copy_out(be, t, back, &e_));
        CHECK_MSG(memcmp(src, back, n * sizeof(float)) == 0, "layout %d round trip not exact", k);
        /* the element-offset helper agrees with the reorder */
        const float *buf = t->buf;
        int bad = 0;
        for (int64_t i = 0; i < n && !bad; i++) {
            int64_t w = i % 7, h = i / 7 % 5, c = i / 35 % 24, b = i / (35 * 24);
            bad = buf[cpu_offset(&t->md, b, c, h, w)] != src[i];
        }
        CHECK_MSG(!bad, "cpu_offset disagrees with layout %d", k);
        ops->tensor_free(be, t);
    }
    /* a conv with 64 channels keeps its output blocked */
    fw_param w;
    param_init(&w, "w", NULL, 64 * 64 * 9);
    for (int i = 0; i < 64 * 64 * 9; i++)
        w.data[i] = 0.01f * (float)((i * 7) % 13 - 6);
    fw_conv *conv;
    fw_conv_desc d = {64, 64, 3, 3, 1, 1, 1, 1};
    OK(ops->conv_create(be, &d, &w, NULL, &conv, &e_));
    float *x64 = calloc(2 * 64 * 8 * 8, sizeof(float));
    fw_tensor *x = tensor_new(be), *y = tensor_new(be);
    OK(ops->tensor_copy_in(be, x, (fw_shape){2, 64, 8, 8}, x64, &e_));
    OK(ops->conv_forward(be, conv, x, y, &e_));
    CHECK_MSG(y->md.format_desc.blocking.inner_nblks == 1,
              "conv output with 64 channels is not channel-blocked");
    ops->conv_destroy(be, conv);
    ops->tensor_free(be, x);
    ops->tensor_free(be, y);
    param_free(&w);
    free(x64);
    free(src);
    free(back);
    ops->destroy(be);
}

/* tensor_zero, tensor_copy, shapes, describe, and errors on empty inputs */
static void test_tensor_basics(void)
{
    fw_backend *be = new_backend(1);
    char desc[128];
    ops->describe(be, desc, sizeof desc);
    CHECK(strstr(desc, "oneDNN") != NULL && strstr(desc, "1 thread") != NULL);
    fw_tensor *a = tensor_new(be), *b = tensor_new(be);
    fw_shape s0 = ops->tensor_shape(a);
    CHECK_INT(s0.n * s0.c * s0.h * s0.w, 0);
    float src[2 * 3 * 4 * 5], back[2 * 3 * 4 * 5];
    for (int i = 0; i < 120; i++)
        src[i] = (float)i - 60.5f;
    OK(ops->tensor_copy_in(be, a, (fw_shape){2, 3, 4, 5}, src, &e_));
    make_layout(be, a, dnnl_nChw8c);
    OK(ops->tensor_copy(be, a, b, &e_));
    CHECK(cpu_shape_eq(ops->tensor_shape(b), (fw_shape){2, 3, 4, 5}));
    OK(ops->tensor_copy_out(be, b, back, &e_));
    CHECK(memcmp(src, back, sizeof src) == 0);
    OK(ops->tensor_zero(be, b, (fw_shape){1, 3, 2, 2}, &e_));
    CHECK(cpu_shape_eq(ops->tensor_shape(b), (fw_shape){1, 3, 2, 2}));
    memset(back, 0xff, sizeof back);
    OK(ops->tensor_copy_out(be, b, back, &e_));
    int zeros = 1;
    for (int i = 0; i < 12; i++)
        zeros &= back[i] == 0.0f;
    CHECK(zeros);
    fw_tensor *empty = tensor_new(be);
    fw_error err = {0};
    CHECK_INT(ops->relu_forward(be, empty, b, &err), FW_EINVAL);
    CHECK(strstr(err.msg, "empty") != NULL);
    CHECK_INT(ops->add(be, a, b, b, &err), FW_EINVAL); /* shapes differ */
    CHECK(strstr(err.msg, "shapes differ") != NULL);
    ops->tensor_free(be, a);
    ops->tensor_free(be, b);
    ops->tensor_free(be, empty);
    ops->tensor_free(be, NULL);
    ops->destroy(be);
}

/* ---- conv -------------------------------------------------------------------------- */

static void run_conv_case(fw_backend *be, const char *name, int blocked_input)
{
    const ref_arr *cfg = ref(name, "cfg"), *rx = ref(name, "x"), *rw = ref(name, "w"),
                  *ry = ref(name, "y"), *rdy = ref(name, "dy"), *rdx = ref(name, "dx"),
                  *rdw = ref(name, "dw"), *rb = ref_opt(name, "b"), *rdb = ref_opt(name, "db");
    if (!cfg || !rx || !rw || !ry || !rdy || !rdx || !rdw)
        return;
    int o = (int)cfg->data[0], k = (int)cfg->data[1], s = (int)cfg->data[2],
        p = (int)cfg->data[3];
    fw_conv_desc d = {rx->dims[1], o, k, k, s, s, p, p};
    fw_param w, b;
    param_init(&w, "w", rw->data, rw->n);
    if (rb)
        param_init(&b, "b", rb->data, rb->n);
    fw_conv *conv = NULL;
    OK(ops->conv_create(be, &d, &w, rb ? &b : NULL, &conv, &e_));
    fw_tensor *x = tensor_of(be, rx), *y = tensor_new(be), *dy = tensor_of(be, rdy),
              *dx = tensor_new(be);
    if (blocked_input)
        make_layout(be, x, dnnl_nChw16c);
    OK(ops->conv_forward(be, conv, x, y, &e_));
    char what[96];
    snprintf(what, sizeof what, "%s y%s", name, blocked_input ? " (blocked x)" : "");
    check_tensor(be, y, ry, what);
    OK(ops->conv_backward(be, conv, x, dy, dx, 0, &e_));
    snprintf(what, sizeof what, "%s dx", name);
    check_tensor(be, dx, rdx, what);
    snprintf(what, sizeof what, "%s dw", name);
    CHECK_REL(w.grad, rdw->data, rdw->n, what);
    if (rb) {
        snprintf(what, sizeof what, "%s db", name);
        CHECK_REL(b.grad, rdb->data, rdb->n, what);
    }
    /* accumulate adds a second copy; skip-params leaves grads alone */
    OK(ops->conv_backward(be, conv, x, dy, NULL, FW_GRAD_ACCUMULATE, &e_));
    for (int64_t i = 0; i < rdw->n; i++)
        w.grad[i] *= 0.5f;
    snprintf(what, sizeof what, "%s dw accumulated / 2", name);
    CHECK_REL(w.grad, rdw->data, rdw->n, what);
    if (rb) {
        for (int64_t i = 0; i < rdb->n; i++)
            b.grad[i] *= 0.5f;
        CHECK_REL(b.grad, rdb->data, rdb->n, "db accumulated / 2");
    }
    memset(w.grad, 0, rdw->n * sizeof(float));
    OK(ops->conv_backward(be, conv, x, dy, dx, FW_GRAD_SKIP_PARAMS, &e_));
    int untouched = 1;
    for (int64_t i = 0; i < rdw->n; i++)
        untouched &= w.grad[i] == 0.0f;
    CHECK_MSG(untouched, "%s: FW_GRAD_SKIP_PARAMS wrote weight grads", name);
    check_tensor(be, dx, rdx, "dx with skip-params");
    ops->conv_destroy(be, conv);
    ops->tensor_free(be, x);
    ops->tensor_free(be, y);
    ops->tensor_free(be, dy);
    ops->tensor_free(be, dx);
    param_free(&w);
    if (rb)
        param_free(&b);
}

static void test_conv_vs_torch(void)
{
    fw_backend *be = new_backend(2);
    const char *cases[] = {"conv0", "conv1", "conv2", "conv3", "conv4", "conv5"};
    for (int i = 0; i < 6; i++) {
        run_conv_case(be, cases[i], 0);
        run_conv_case(be, cases[i], 1);
    }
    ops->destroy(be);
}

/* Batch size changes between calls: each shape gets its own plan. */
static void test_conv_batch_change(void)
{
    fw_backend *be = new_backend(2);
    const ref_arr *rx = ref("conv1", "x"), *rw = ref("conv1", "w"), *ry = ref("conv1", "y");
    if (!rx || !rw || !ry)
        return;
    fw_param w;
    param_init(&w, "w", rw->data, rw->n);
    fw_conv_desc d = {16, 24, 3, 3, 2, 2, 1, 1};
    fw_conv *conv;
    OK(ops->conv_create(be, &d, &w, NULL, &conv, &e_));
    fw_tensor *x = tensor_new(be), *y = tensor_new(be);
    fw_shape one = ref_shape(rx);
    one.n = 1;
    int64_t per_out = ry->n / ry->dims[0];
    for (int round = 0; round < 2; round++) {
        OK(ops->tensor_copy_in(be, x, one, rx->data + rx->n / 2, &e_)); /* second image */
        OK(ops->conv_forward(be, conv, x, y, &e_));
        CHECK_INT(ops->tensor_shape(y).n, 1);
        float *got = out_of(be, y);
        CHECK_REL(got, ry->data + per_out, per_out, "batch 1 (second image)");
        free(got);
        OK(ops->tensor_copy_in(be, x, ref_shape(rx), rx->data, &e_));
        OK(ops->conv_forward(be, conv, x, y, &e_));
        check_tensor(be, y, ry, "batch 2");
    }
    /* a changed weight is picked up after params_updated() */
    for (int64_t i = 0; i < w.numel; i++)
        w.data[i] *= 2.0f;
    ops->params_updated(be);
    OK(ops->conv_forward(be, conv, x, y, &e_));
    float *got = out_of(be, y);
    for (int64_t i = 0; i < ry->n; i++)
        got[i] *= 0.5f;
    CHECK_REL(got, ry->data, ry->n, "y after doubling weights and params_updated");
    free(got);
    /* wrong channel count is an error naming the problem */
    fw_error err = {0};
    OK(ops->tensor_copy_in(be, x, (fw_shape){1, 3, 8, 8}, rx->data, &e_));
    CHECK_INT(ops->conv_forward(be, conv, x, y, &err), FW_EINVAL);
    CHECK(strstr(err.msg, "channels") != NULL);
    ops->conv_destroy(be, conv);
    ops->tensor_free(be, x);
    ops->tensor_free(be, y);
    param_free(&w);
    ops->destroy(be);
}

/* ---- batch norm ---------------------------------------------------------------------- */

static void run_bn_case(fw_backend *be, const char *name, int blocked_input)
{
    const ref_arr *rx = ref(name, "x"), *rg = ref(name, "gamma"), *rb = ref(name, "beta"),
                  *rm = ref(name, "rm"), *rv = ref(name, "rv");
    if (!rx || !rg || !rb || !rm || !rv)
        return;
    int c = rx->dims[1];
    fw_param g, b, m, v;
    param_init(&g, "g", rg->data, c);
    param_init(&b, "b", rb->data, c);
    param_init(&m, "rm", rm->data, c);
    param_init(&v, "rv", rv->data, c);
    fw_bn *bn;
    OK(ops->bn_create(be, c, 1e-5f, 0.1f, &g, &b, &m, &v, &bn, &e_));
    fw_tensor *x = tensor_of(be, rx), *y = tensor_new(be), *dy = tensor_of(be, ref(name, "dy")),
              *dx = tensor_new(be);
    if (blocked_input) {
        make_layout(be, x, dnnl_nChw16c);
        make_layout(be, dy, dnnl_nChw8c); /* a different layout: reordered inside */
    }
    char what[96];
    /* eval first (running stats as given), then training */
    OK(ops->bn_forward(be, bn, 0, x, y, &e_));
    snprintf(what, sizeof what, "%s y_eval%s", name, blocked_input ? " blocked" : "");
    check_tensor(be, y, ref(name, "y_eval"), what);
    OK(ops->bn_backward(be, bn, x, dy, dx, 0, &e_));
    snprintf(what, sizeof what, "%s dx_eval", name);
    check_tensor(be, dx, ref(name, "dx_eval"), what);
    CHECK_REL(g.grad, ref(name, "dgamma_eval")->data, c, "dgamma_eval");
    CHECK_REL(b.grad, ref(name, "dbeta_eval")->data, c, "dbeta_eval");
    OK(ops->bn_forward(be, bn, 1, x, y, &e_));
    snprintf(what, sizeof what, "%s y_train", name);
    check_tensor(be, y, ref(name, "y"), what);
    CHECK_REL(m.data, ref(name, "rm_after")->data, c, "running_mean after");
    CHECK_REL(v.data, ref(name, "rv_after")->data, c, "running_var after (unbiased)");
    OK(ops->bn_backward(be, bn, x, dy, dx, 0, &e_));
    snprintf(what, sizeof what, "%s dx", name);
    check_tensor(be, dx, ref(name, "dx"), what);
    CHECK_REL(g.grad, ref(name, "dgamma")->data, c, "dgamma");
    CHECK_REL(b.grad, ref(name, "dbeta")->data, c, "dbeta");
    ops->bn_destroy(be, bn);
    ops->tensor_free(be, x);
    ops->tensor_free(be, y);
    ops->tensor_free(be, dy);
    ops->tensor_free(be, dx);
    param_free(&g);
    param_free(&b);
    param_free(&m);
    param_free(&v);
}

static void test_bn_vs_torch(void)
{
    fw_backend *be = new_backend(2);
    const char *cases[] = {"bn0", "bn1", "bn2", "bn3"};
    for (int i = 0; i < 4; i++) {
        run_bn_case(be, cases[i], 0);
        run_bn_case(be, cases[i], 1);
    }
    ops->destroy(be);
}

/* ---- relu and add ---------------------------------------------------------------------- */

static void test_relu_vs_torch(void)
{
    fw_backend *be = new_backend(2);
    for (int blocked = 0; blocked < 2; blocked++) {
        fw_tensor *x = tensor_of(be, ref("relu", "x")), *y = tensor_new(be),
                  *dy = tensor_of(be, ref("relu", "dy")), *dx = tensor_new(be);
        if (blocked)
            make_layout(be, x, dnnl_nChw16c);
        OK(ops->relu_forward(be, x, y, &e_));
        check_tensor(be, y, ref("relu", "y"), "relu y");
        OK(ops->relu_backward(be, y, dy, dx, &e_));
        check_tensor(be, dx, ref("relu", "dx"), "relu dx");
        /* in place: y = x, dx = dy */
        OK(ops->relu_forward(be, x, x, &e_));
        check_tensor(be, x, ref("relu", "y"), "relu in place");
        OK(ops->relu_backward(be, x, dy, dy, &e_));
        check_tensor(be, dy, ref("relu", "dx"), "relu backward in place");
        ops->tensor_free(be, x);
        ops->tensor_free(be, y);
        ops->tensor_free(be, dy);
        ops->tensor_free(be, dx);
    }
    ops->destroy(be);
}

static void test_add(void)
{
    fw_backend *be = new_backend(2);
    const ref_arr *ra = ref("relu", "x"), *rb = ref("relu", "dy");
    if (!ra || !rb)
        return;
    float *want = malloc(ra->n * sizeof(float));
    for (int64_t i = 0; i < ra->n; i++)
        want[i] = ra->data[i] + rb->data[i];
    for (int mode = 0; mode < 4; mode++) {
        fw_tensor *a = tensor_of(be, ra), *b = tensor_of(be, rb), *y = tensor_new(be);
        if (mode & 1)
            make_layout(be, a, dnnl_nChw16c);
        fw_tensor *out = mode == 2 ? a : mode == 3 ? b : y;
        OK(ops->add(be, a, b, out, &e_));
        float *got = out_of(be, out);
        CHECK_MSG(memcmp(got, want, ra->n * sizeof(float)) == 0, "add mode %d not exact", mode);
        free(got);
        ops->tensor_free(be, a);
        ops->tensor_free(be, b);
        ops->tensor_free(be, y);
    }
    free(want);
    ops->destroy(be);
}

/* ---- pooling ------------------------------------------------------------------------------ */

static void test_pool_vs_torch(void)
{
    fw_backend *be = new_backend(2);
    const char *cases[] = {"pool0", "pool1", "pool2", "pool3", "pool4", "pool5"};
    for (int i = 0; i < 6; i++)
        for (int blocked = 0; blocked < 2; blocked++) {
            const char *name = cases[i];
            const ref_arr *cfg = ref(name, "cfg");
            if (!cfg)
                return;
            int k = (int)cfg->data[1], s = (int)cfg->data[2], p = (int)cfg->data[3];
            fw_pool_desc d = {cfg->data[0] == 0 ? FW_POOL_MAX : FW_POOL_AVG, k, k, s, s, p, p,
                              (int)cfg->data[4]};
            fw_pool *pool;
            OK(ops->pool_create(be, &d, &pool, &e_));
            fw_tensor *x = tensor_of(be, ref(name, "x")), *y = tensor_new(be),
                      *dy = tensor_of(be, ref(name, "dy")), *dx = tensor_new(be);
            if (blocked)
                make_layout(be, x, dnnl_nChw16c);
            char what[64];
            snprintf(what, sizeof what, "%s y%s", name, blocked ? " blocked" : "");
            OK(ops->pool_forward(be, pool, x, y, &e_));
            check_tensor(be, y, ref(name, "y"), what);
            OK(ops->pool_backward(be, pool, dy, dx, &e_));
            snprintf(what, sizeof what, "%s dx%s", name, blocked ? " blocked" : "");
            check_tensor(be, dx, ref(name, "dx"), what);
            ops->pool_destroy(be, pool);
            ops->tensor_free(be, x);
            ops->tensor_free(be, y);
            ops->tensor_free(be, dy);
            ops->tensor_free(be, dx);
        }
    ops->destroy(be);
}

/* ---- linear, l2 norm, GeM ---------------------------------------------------------------- */

static void test_linear_vs_torch(void)
{
    fw_backend *be = new_backend(2);
    const char *cases[] = {"lin0", "lin1", "lin2"};
    for (int i = 0; i < 3; i++) {
        const char *name = cases[i];
        const ref_arr *cfg = ref(name, "cfg"), *rx = ref(name, "x"), *rw = ref(name, "w"),
                      *rb = ref_opt(name, "b");
        if (!cfg || !rx || !rw)
            return;
        int out = (int)cfg->data[0], in = rx->dims[1] * rx->dims[2] * rx->dims[3];
        fw_param w, b;
        param_init(&w, "w", rw->data, rw->n);
        if (rb)
            param_init(&b, "b", rb->data, rb->n);
        fw_linear *lin;
        OK(ops->linear_create(be, in, out, &w, rb ? &b : NULL, &lin, &e_));
        fw_tensor *x = tensor_of(be, rx), *y = tensor_new(be),
                  *dy = tensor_of(be, ref(name, "dy")), *dx = tensor_new(be);
        if (rx->dims[1] % 8 == 0)
            make_layout(be, x, dnnl_nChw8c);
        OK(ops->linear_forward(be, lin, x, y, &e_));
        check_tensor(be, y, ref(name, "y"), "linear y");
        OK(ops->linear_backward(be, lin, x, dy, dx, 0, &e_));
        check_tensor(be, dx, ref(name, "dx"), "linear dx");
        CHECK_REL(w.grad, ref(name, "dw")->data, rw->n, "linear dw");
        if (rb)
            CHECK_REL(b.grad, ref(name, "db")->data, rb->n, "linear db");
        OK(ops->linear_backward(be, lin, x, dy, NULL, FW_GRAD_ACCUMULATE, &e_));
        for (int64_t j = 0; j < rw->n; j++)
            w.grad[j] *= 0.5f;
        CHECK_REL(w.grad, ref(name, "dw")->data, rw->n, "linear dw accumulated / 2");
        ops->linear_destroy(be, lin);
        ops->tensor_free(be, x);
        ops->tensor_free(be, y);
        ops->tensor_free(be, dy);
        ops->tensor_free(be, dx);
        param_free(&w);
        if (rb)
            param_free(&b);
    }
    ops->destroy(be);
}

static void test_l2norm_vs_torch(void)
{
    fw_backend *be = new_backend(2);
    fw_tensor *x = tensor_of(be, ref("l2", "x")), *y = tensor_new(be),
              *dy = tensor_of(be, ref("l2", "dy")), *dx = tensor_new(be);
    OK(ops->l2norm_forward(be, x, y, 1e-12f, &e_));
    check_tensor(be, y, ref("l2", "y"), "l2norm y");
    OK(ops->l2norm_backward(be, x, y, dy, dx, 1e-12f, &e_));
    check_tensor(be, dx, ref("l2", "dx"), "l2norm dx");
    ops->tensor_free(be, x);
    ops->tensor_free(be, y);
    ops->tensor_free(be, dy);
    ops->tensor_free(be, dx);
    ops->destroy(be);
}

static void test_gem_vs_torch(void)
{
    fw_backend *be = new_backend(2);
    const char *cases[] = {"gem0", "gem1", "gem2"};
    for (int i = 0; i < 3; i++)
        for (int layout = 0; layout < 3; layout++) {
            const char *name = cases[i];
            const ref_arr *rp = ref(name, "p"), *rdp = ref(name, "dp");
            if (!rp || !rdp)
                return;
            fw_param p;
            param_init(&p, "p", rp->data, 1);
            fw_gem *gem;
            OK(ops->gem_create(be, &p, 1e-6f, &gem, &e_));
            fw_tensor *x = tensor_of(be, ref(name, "x")), *y = tensor_new(be),
                      *dy = tensor_of(be, ref(name, "dy")), *dx = tensor_new(be);
            if (layout == 1)
                make_layout(be, x, dnnl_nChw16c);
            if (layout == 2)
                make_layout(be, x, dnnl_nhwc);
            char what[64];
            snprintf(what, sizeof what, "%s y layout %d", name, layout);
            OK(ops->gem_forward(be, gem, x, y, &e_));
            check_tensor(be, y, ref(name, "y"), what);
            OK(ops->gem_backward(be, gem, x, y, dy, dx, 0, &e_));
            snprintf(what, sizeof what, "%s dx layout %d", name, layout);
            check_tensor(be, dx, ref(name, "dx"), what);
            /* dp is a sum over all planes; gem2 (1x1 planes) has dp = 0 exactly, so
             * its error is measured against max(|dp|, 1) */
            CHECK_MSG(fabs(p.grad[0] - rdp->data[0]) <= REL_TOL * fmax(fabs(rdp->data[0]), 1),
                      "%s dp %.8g, want %.8g", name, p.grad[0], rdp->data[0]);
            ops->gem_destroy(be, gem);
            ops->tensor_free(be, x);
            ops->tensor_free(be, y);
            ops->tensor_free(be, dy);
            ops->tensor_free(be, dx);
            param_free(&p);
        }
    ops->destroy(be);
}

/* ---- finite differences in double: GeM and L2 norm kernels --------------------------- */

static void test_gem_fd_double(void)
{
    enum { HW = 12 };
    double x[HW], dx[HW], p = 2.7, eps = 1e-6, h = 1e-6;
    fw_rng r;
    fw_rng_init(&r, 3, 0);
    for (int i = 0; i < HW; i++)
        x[i] = fabs(fw_rng_normal(&r)) + 0.05;
    x[3] = -0.4; /* clamped: zero gradient */
    double dy = 0.8;
    double dp = fw_gem_backward_d(x, 1, HW, p, eps, dy, dx, 1);
    double worst = 0;
    for (int i = 0; i < HW; i++) {
        double keep = x[i];
        x[i] = keep + h;
        double up = fw_gem_forward_d(x, 1, HW, p, eps);
        x[i] = keep - h;
        double down = fw_gem_forward_d(x, 1, HW, p, eps);
        x[i] = keep;
        double fd = dy * (up - down) / (2 * h);
        worst = fmax(worst, fabs(fd - dx[i]));
    }
    CHECK_MSG(worst < 1e-8, "GeM dx vs central differences: max abs diff %g", worst);
    CHECK(dx[3] == 0.0);
    double fd_p = dy * (fw_gem_forward_d(x, 1, HW, p + h, eps) -
                        fw_gem_forward_d(x, 1, HW, p - h, eps)) / (2 * h);
    CHECK_MSG(fabs(fd_p - dp) < 1e-8 * fmax(1, fabs(dp)), "GeM dp %g vs FD %g", dp, fd_p);
}

static void test_l2norm_fd_double(void)
{
    enum { C = 9 };
    double x[C], y[C], dy[C], dx[C], eps = 1e-12, h = 1e-6;
    fw_rng r;
    fw_rng_init(&r, 4, 0);
    for (int i = 0; i < C; i++) {
        x[i] = fw_rng_normal(&r);
        dy[i] = fw_rng_normal(&r);
    }
    fw_l2norm_backward_d(x, dy, dx, C, eps);
    double worst = 0;
    for (int i = 0; i < C; i++) {
        double keep = x[i], up = 0, down = 0;
        x[i] = keep + h;
        fw_l2norm_forward_d(x, y, C, eps);
        for (int j = 0; j < C; j++)
            up += dy[j] * y[j];
        x[i] = keep - h;
        fw_l2norm_forward_d(x, y, C, eps);
        for (int j = 0; j < C; j++)
            down += dy[j] * y[j];
        x[i] = keep;
        worst = fmax(worst, fabs((up - down) / (2 * h) - dx[i]));
    }
    CHECK_MSG(worst < 1e-8, "L2 norm dx vs central differences: max abs diff %g", worst);
    /* below eps the op is x / eps: gradient dy / eps */
    double tiny[3] = {1e-14, -2e-14, 0}, dty[3] = {1, 2, 3}, dtx[3];
    fw_l2norm_backward_d(tiny, dty, dtx, 3, 1e-12);
    CHECK_NEAR(dtx[1], 2e12, 1);
}

/* ---- finite differences through the fp32 ops (directional) ----------------------------
 * L = sum(r * f(theta)) with r fixed; compare the analytic <grad L, v> with
 * (L(theta + h v) - L(theta - h v)) / 2h for random directions v. In fp32 the
 * outputs carry ~6e-8 relative rounding, so with h = 1e-2 (inputs O(1)) the
 * difference quotient is good to ~1e-5 relative for ops linear in theta
 * (conv, linear, avg pool: no truncation error); batch norm adds O(h^2)
 * truncation. Tolerance: 2e-3 relative to |<grad, v>|, two orders of
 * magnitude above the expected error, yet a wrong gradient (e.g. a dropped
 * term or a transposed weight) is off by O(1). */

#define FD_TOL 2e-3

typedef struct fd_case {
    fw_backend *be;
    int kind; /* 0 conv, 1 bn(train), 2 linear, 3 avg pool, 4 max pool */
    fw_conv *conv;
    fw_bn *bn;
    fw_linear *lin;
    fw_pool *pool;
    fw_param *params[3];
    int n_params;
    float *x; /* host input */
    fw_shape xs;
    fw_tensor *tx, *ty, *tdy, *tdx;
    float *r; /* weights of the outputs */
    int64_t ny;
} fd_case;

static double fd_loss(fd_case *c)
{
    fw_error e = {0};
    int rc = ops->tensor_copy_in(c->be, c->tx, c->xs, c->x, &e);
    ops->params_updated(c->be);
    if (rc == 0) {
        switch (c->kind) {
        case 0: rc = ops->conv_forward(c->be, c->conv, c->tx, c->ty, &e); break;
        case 1: rc = ops->bn_forward(c->be, c->bn, 1, c->tx, c->ty, &e); break;
        case 2: rc = ops->linear_forward(c->be, c->lin, c->tx, c->ty, &e); break;
        default: rc = ops->pool_forward(c->be, c->pool, c->tx, c->ty, &e); break;
        }
    }
    CHECK_MSG(rc == 0, "fd forward: %s", e.msg);
    float *y = out_of(c->be, c->ty);
    fw_shape s = ops->tensor_shape(c->ty);
    c->ny = s.n * s.c * s.h * s.w;
    double l = 0;
    for (int64_t i = 0; i < c->ny; i++)
        l += (double)c->r[i] * y[i];
    free(y);
    return l;
}

static void fd_backward(fd_case *c)
{
    fw_error e = {0};
    fd_loss(c);
    int rc = ops->tensor_copy_in(c->be, c->tdy, ops->tensor_shape(c->ty), c->r, &e);
    if (rc == 0) {
        switch (c->kind) {
        case 0: rc = ops->conv_backward(c->be, c->conv, c->tx, c->tdy, c->tdx, 0, &e); break;
        case 1: rc = ops->bn_backward(c->be, c->bn, c->tx, c->tdy, c->tdx, 0, &e); break;
        case 2: rc = ops->linear_backward(c->be, c->lin, c->tx, c->tdy, c->tdx, 0, &e); break;
        default: rc = ops->pool_backward(c->be, c->pool, c->tdy, c->tdx, &e); break;
        }
    }
    CHECK_MSG(rc == 0, "fd backward: %s", e.msg);
}

/* Check d/d(target) along 3 random directions; target = x (param == NULL) or a param. */
static void fd_check(fd_case *c, fw_param *param, const char *what, double h)
{
    float *data = param ? param->data : c->x;
    int64_t n = param ? param->numel : c->xs.n * c->xs.c * c->xs.h * c->xs.w;
    fd_backward(c);
    float *grad = param ? param->grad : out_of(c->be, c->tdx);
    float *keep = malloc(n * sizeof(float)), *v = malloc(n * sizeof(float));
    memcpy(keep, data, n * sizeof(float));
    fw_rng r;
    fw_rng_init(&r, 77, (uint64_t)n);
    for (int dir = 0; dir < 3; dir++) {
        double analytic = 0;
        for (int64_t i = 0; i < n; i++) {
            v[i] = fw_rng_normal(&r);
            analytic += (double)grad[i] * v[i];
        }
        for (int64_t i = 0; i < n; i++)
            data[i] = keep[i] + (float)h * v[i];
        double up = fd_loss(c);
        for (int64_t i = 0; i < n; i++)
            data[i] = keep[i] - (float)h * v[i];
        double down = fd_loss(c);
        memcpy(data, keep, n * sizeof(float));
        double fd = (up - down) / (2 * h);
        CHECK_MSG(fabs(fd - analytic) <= FD_TOL * fmax(fabs(analytic), 1e-3),
                  "%s direction %d: analytic %.8g vs finite difference %.8g", what, dir,
                  analytic, fd);
    }
    if (!param)
        free(grad);
    free(keep);
    free(v);
}

static void fd_setup(fd_case *c, fw_backend *be, int kind, fw_shape xs, int64_t ny_max)
{
    memset(c, 0, sizeof *c);
    c->be = be;
    c->kind = kind;
    c->xs = xs;
    int64_t n = xs.n * xs.c * xs.h * xs.w;
    c->x = malloc(n * sizeof(float));
    c->r = malloc(ny_max * sizeof(float));
    fw_rng r;
    fw_rng_init(&r, 5, (uint64_t)kind);
    for (int64_t i = 0; i < n; i++)
        c->x[i] = fw_rng_normal(&r);
    for (int64_t i = 0; i < ny_max; i++)
        c->r[i] = fw_rng_normal(&r);
    c->tx = tensor_new(be);
    c->ty = tensor_new(be);
    c->tdy = tensor_new(be);
    c->tdx = tensor_new(be);
}

static void fd_teardown(fd_case *c)
{
    ops->tensor_free(c->be, c->tx);
    ops->tensor_free(c->be, c->ty);
    ops->tensor_free(c->be, c->tdy);
    ops->tensor_free(c->be, c->tdx);
    free(c->x);
    free(c->r);
}

static void random_param(fw_param *p, const char *name, int64_t n, float scale, float offset,
                         uint64_t stream)
{
    param_init(p, name, NULL, n);
    fw_rng r;
    fw_rng_init(&r, 9, stream);
    for (int64_t i = 0; i < n; i++)
        p->data[i] = offset + scale * fw_rng_normal(&r);
}

static void test_fd_conv(void)
{
    fw_backend *be = new_backend(2);
    fd_case c;
    fd_setup(&c, be, 0, (fw_shape){2, 5, 6, 7}, 2 * 6 * 3 * 4);
    fw_param w, b;
    random_param(&w, "w", 6 * 5 * 9, 0.3f, 0, 1);
    random_param(&b, "b", 6, 0.3f, 0, 2);
    fw_conv_desc d = {5, 6, 3, 3, 2, 2, 1, 1};
    OK(ops->conv_create(be, &d, &w, &b, &c.conv, &e_));
    fd_check(&c, NULL, "conv dx", 1e-2);
    fd_check(&c, &w, "conv dW", 1e-2);
    fd_check(&c, &b, "conv db", 1e-2);
    ops->conv_destroy(be, c.conv);
    param_free(&w);
    param_free(&b);
    fd_teardown(&c);
    ops->destroy(be);
}

static void test_fd_bn(void)
{
    fw_backend *be = new_backend(2);
    fd_case c;
    fd_setup(&c, be, 1, (fw_shape){3, 4, 3, 2}, 3 * 4 * 3 * 2);
    fw_param g, b, m, v;
    random_param(&g, "g", 4, 0.3f, 1, 3);
    random_param(&b, "b", 4, 0.3f, 0, 4);
    param_init(&m, "m", NULL, 4);
    param_init(&v, "v", NULL, 4);
    OK(ops->bn_create(be, 4, 1e-5f, 0.1f, &g, &b, &m, &v, &c.bn, &e_));
    fd_check(&c, NULL, "bn dx", 1e-2);
    fd_check(&c, &g, "bn dgamma", 1e-2);
    fd_check(&c, &b, "bn dbeta", 1e-2);
    ops->bn_destroy(be, c.bn);
    param_free(&g);
    param_free(&b);
    param_free(&m);
    param_free(&v);
    fd_teardown(&c);
    ops->destroy(be);
}

static void test_fd_linear_pool(void)
{
    fw_backend *be = new_backend(2);
    fd_case c;
    fd_setup(&c, be, 2, (fw_shape){3, 7, 1, 1}, 3 * 5);
    fw_param w, b;
    random_param(&w, "w", 5 * 7, 0.4f, 0, 5);
    random_param(&b, "b", 5, 0.4f, 0, 6);
    OK(ops->linear_create(be, 7, 5, &w, &b, &c.lin, &e_));
    fd_check(&c, NULL, "linear dx", 1e-2);
    fd_check(&c, &w, "linear dW", 1e-2);
    fd_check(&c, &b, "linear db", 1e-2);
    ops->linear_destroy(be, c.lin);
    param_free(&w);
    param_free(&b);
    fd_teardown(&c);
    for (int kind = 3; kind <= 4; kind++) {
        fd_setup(&c, be, kind, (fw_shape){2, 3, 7, 6}, 2 * 3 * 4 * 3);
        fw_pool_desc d = {kind == 3 ? FW_POOL_AVG : FW_POOL_MAX, 3, 3, 2, 2, 1, 1, 0};
        OK(ops->pool_create(be, &d, &c.pool, &e_));
        /* max pool: a small step keeps every window's argmax (random data has gaps) */
        fd_check(&c, NULL, kind == 3 ? "avg pool dx" : "max pool dx", kind == 3 ? 1e-2 : 1e-4);
        ops->pool_destroy(be, c.pool);
        fd_teardown(&c);
    }
    ops->destroy(be);
}

/* ---- dropout ------------------------------------------------------------------------------ */

/* augment_batch makes, from the cache items and parameters, exactly what
 * data/augment_cpu.c writes (and refuses an item outside the cache). */
static void test_augment_batch(void)
{
    fw_backend *be = new_backend(2);
    enum { ITEMS = 5, SW = 60, SH = 30, SC = 3, OW = 48, OH = 24, N = 4 };
    static uint8_t cache[ITEMS * SH * SW * SC];
    fw_rng r;
    fw_rng_init(&r, 5, 0);
    for (size_t i = 0; i < sizeof cache; i++)
        cache[i] = (uint8_t)fw_rng_below(&r, 256);
    fw_augment_opts o;
    fw_augment_opts_default(&o);
    o.out_width = OW, o.out_height = OH;
    fw_aug_params params[N];
    int64_t items[N] = {4, 0, 2, 4};
    const uint8_t *srcs[N];
    for (int i = 0; i < N; i++) {
        fw_rng rs;
        fw_augment_rng(&rs, 9, 1, i);
        int flipped;
        srcs[i] = cache + (size_t)items[i] * SH * SW * SC;
        fw_aug_params_draw(&o, &rs, SW, SH, SC, 0.5f, &params[i], &flipped);
    }
    static float want[N * SC * OH * OW];
    OK(fw_augment_batch(params, srcs, N, SW, SH, SC, want, OW, OH, 1, &e_));
    fw_tensor *t = tensor_new(be);
    fw_error err = {0};
    CHECK_INT(ops->augment_batch(be, params, items, N, OW, OH, t, &err), FW_EINVAL);
    OK(ops->augment_set_cache(be, cache, ITEMS, SW, SH, SC, &e_));
    OK(ops->augment_batch(be, params, items, N, OW, OH, t, &e_));
    fw_shape sh = ops->tensor_shape(t);
    CHECK(sh.n == N && sh.c == SC && sh.h == OH && sh.w == OW);
    float *got = out_of(be, t);
    CHECK(memcmp(got, want, sizeof want) == 0);
    free(got);
    items[2] = ITEMS;
    CHECK_INT(ops->augment_batch(be, params, items, N, OW, OH, t, &err), FW_EINVAL);
    CHECK_MSG(strstr(err.msg, "item 5 of 5") != NULL, "%s", err.msg);
    ops->tensor_free(be, t);
    ops->destroy(be);
}

static void test_dropout(void)
{
    fw_backend *be = new_backend(2);
    enum { N = 40, C = 500 };
    float *x = malloc(N * C * sizeof(float)), *dyv = malloc(N * C * sizeof(float));
    for (int i = 0; i < N * C; i++) {
        x[i] = 1.0f + (float)(i % 17);
        dyv[i] = 0.5f + (float)(i % 5);
    }
    fw_dropout *d1, *d2;
    OK(ops->dropout_create(be, 0.3f, 42, &d1, &e_));
    OK(ops->dropout_create(be, 0.3f, 42, &d2, &e_));
    fw_tensor *tx = tensor_new(be), *y1 = tensor_new(be), *y2 = tensor_new(be),
              *tdy = tensor_new(be), *tdx = tensor_new(be);
    OK(ops->tensor_copy_in(be, tx, (fw_shape){N, C, 1, 1}, x, &e_));
    OK(ops->dropout_forward(be, d1, 1, 7, tx, y1, &e_));
    OK(ops->dropout_forward(be, d2, 1, 7, tx, y2, &e_));
    float *a = out_of(be, y1), *b = out_of(be, y2);
    CHECK_MSG(memcmp(a, b, N * C * sizeof(float)) == 0, "same seed and stream, different masks");
    int dropped = 0, bad_scale = 0;
    float scale = 1.0f / 0.7f;
    for (int i = 0; i < N * C; i++) {
        if (a[i] == 0)
            dropped++;
        else if (a[i] != x[i] * scale)
            bad_scale++;
    }
    CHECK_INT(bad_scale, 0);
    /* binomial(20000, 0.3): sd 0.0032; allow 6 sd */
    CHECK_NEAR((double)dropped / (N * C), 0.3, 0.02);
    /* another stream gives another mask */
    OK(ops->dropout_forward(be, d2, 1, 8, tx, y2, &e_));
    free(b);
    b = out_of(be, y2);
    CHECK(memcmp(a, b, N * C * sizeof(float)) != 0);
    /* backward uses d1's mask (stream 7) */
    OK(ops->tensor_copy_in(be, tdy, (fw_shape){N, C, 1, 1}, dyv, &e_));
    OK(ops->dropout_backward(be, d1, tdy, tdx, &e_));
    float *g = out_of(be, tdx);
    int bad = 0;
    for (int i = 0; i < N * C; i++)
        bad += g[i] != (a[i] == 0 ? 0.0f : dyv[i] * scale);
    CHECK_INT(bad, 0);
    free(g);
    /* eval: identity both ways */
    OK(ops->dropout_forward(be, d1, 0, 7, tx, y1, &e_));
    free(a);
    a = out_of(be, y1);
    CHECK(memcmp(a, x, N * C * sizeof(float)) == 0);
    OK(ops->dropout_backward(be, d1, tdy, tdx, &e_));
    g = out_of(be, tdx);
    CHECK(memcmp(g, dyv, N * C * sizeof(float)) == 0);
    free(g);
    free(a);
    free(b);
    free(x);
    free(dyv);
    ops->dropout_destroy(be, d1);
    ops->dropout_destroy(be, d2);
    ops->tensor_free(be, tx);
    ops->tensor_free(be, y1);
    ops->tensor_free(be, y2);
    ops->tensor_free(be, tdy);
    ops->tensor_free(be, tdx);
    ops->destroy(be);
}

/* ---- thread count: 1 vs 2 ------------------------------------------------------------------ */

typedef struct thread_run {
    float *out[12]; /* outputs to compare, NULL-terminated */
    int64_t n[12];
} thread_run;

static void keep_out(thread_run *tr, int slot, fw_backend *be, const fw_tensor *t)
{
    fw_shape s = ops->tensor_shape(t);
    tr->out[slot] = out_of(be, t);
    tr->n[slot] = s.n * s.c * s.h * s.w;
}

static void keep_host(thread_run *tr, int slot, const float *p, int64_t n)
{
    tr->out[slot] = malloc(n * sizeof(float));
    memcpy(tr->out[slot], p, n * sizeof(float));
    tr->n[slot] = n;
}

/* Slots: 0 conv y, 1 conv dx, 2 conv dW, 3 bn y, 4 bn dx, 5 bn dgamma, 6 relu y,
 * 7 maxpool y, 8 maxpool dx, 9 gem y, 10 gem dx, 11 linear y. */
static void thread_pipeline(int threads, thread_run *tr)
{
    fw_backend *be = new_backend(threads);
    CHECK_INT(ops->threads(be), threads);
    fw_shape xs = {4, 32, 16, 16};
    int64_t nx = 4 * 32 * 16 * 16;
    float *x = malloc(nx * sizeof(float));
    fw_rng r;
    fw_rng_init(&r, 11, 0);
    for (int64_t i = 0; i < nx; i++)
        x[i] = fw_rng_normal(&r);
    fw_param w, g, b, m, v, p, lw;
    random_param(&w, "w", 32 * 32 * 9, 0.06f, 0, 1);
    random_param(&g, "g", 32, 0.1f, 1, 2);
    random_param(&b, "b", 32, 0.1f, 0, 3);
    param_init(&m, "m", NULL, 32);
    param_init(&v, "v", NULL, 32);
    float three = 3.0f;
    param_init(&p, "p", &three, 1);
    random_param(&lw, "lw", 32 * 10, 0.2f, 0, 4);
    fw_conv *conv;
    fw_bn *bn;
    fw_pool *pool;
    fw_gem *gem;
    fw_linear *lin;
    fw_conv_desc cd = {32, 32, 3, 3, 1, 1, 1, 1};
    fw_pool_desc pd = {FW_POOL_MAX, 3, 3, 2, 2, 1, 1, 0};
    OK(ops->conv_create(be, &cd, &w, NULL, &conv, &e_));
    OK(ops->bn_create(be, 32, 1e-5f, 0.1f, &g, &b, &m, &v, &bn, &e_));
    OK(ops->pool_create(be, &pd, &pool, &e_));
    OK(ops->gem_create(be, &p, 1e-6f, &gem, &e_));
    OK(ops->linear_create(be, 32, 10, &lw, NULL, &lin, &e_));
    fw_tensor *t0 = tensor_new(be), *t1 = tensor_new(be), *t2 = tensor_new(be),
              *t3 = tensor_new(be), *t4 = tensor_new(be), *t5 = tensor_new(be),
              *d0 = tensor_new(be), *d1 = tensor_new(be);
    OK(ops->tensor_copy_in(be, t0, xs, x, &e_));
    OK(ops->conv_forward(be, conv, t0, t1, &e_));
    keep_out(tr, 0, be, t1);
    OK(ops->bn_forward(be, bn, 1, t1, t2, &e_));
    keep_out(tr, 3, be, t2);
    OK(ops->relu_forward(be, t2, t2, &e_));
    keep_out(tr, 6, be, t2);
    OK(ops->pool_forward(be, pool, t2, t3, &e_));
    keep_out(tr, 7, be, t3);
    OK(ops->gem_forward(be, gem, t3, t4, &e_));
    keep_out(tr, 9, be, t4);
    OK(ops->linear_forward(be, lin, t4, t5, &e_));
    keep_out(tr, 11, be, t5);
    /* backward with dy = the forward values themselves (deterministic, nonzero) */
    OK(ops->gem_backward(be, gem, t3, t4, t4, d0, 0, &e_));
    keep_out(tr, 10, be, d0);
    OK(ops->pool_backward(be, pool, d0, d1, &e_));
    keep_out(tr, 8, be, d1);
    OK(ops->bn_backward(be, bn, t1, t1, d0, 0, &e_));
    keep_out(tr, 4, be, d0);
    keep_host(tr, 5, g.grad, 32);
    OK(ops->conv_backward(be, conv, t0, t1, d1, 0, &e_));
    keep_out(tr, 1, be, d1);
    keep_host(tr, 2, w.grad, w.numel);
    ops->conv_destroy(be, conv);
    ops->bn_destroy(be, bn);
    ops->pool_destroy(be, pool);
    ops->gem_destroy(be, gem);
    ops->linear_destroy(be, lin);
    fw_tensor *all[8] = {t0, t1, t2, t3, t4, t5, d0, d1};
    for (int i = 0; i < 8; i++)
        ops->tensor_free(be, all[i]);
    fw_param *ps[7] = {&w, &g, &b, &m, &v, &p, &lw};
    for (int i = 0; i < 7; i++)
        param_free(ps[i]);
    free(x);
    ops->destroy(be);
}

static void test_threads_1_vs_2(void)
{
    static const char *names[12] = {"conv y",     "conv dx",  "conv dW",    "bn y",
                                    "bn dx",      "bn dgamma", "relu y",    "maxpool y",
                                    "maxpool dx", "gem y",    "gem dx",     "linear y"};
    /* Found identical on this machine and expected by construction (each output
     * element computed by one thread in a fixed order); the others reduce across
     * threads and may differ in the last bits, so they are only reported. */
    static const int must_match[12] = {1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1};
    thread_run a = {0}, b = {0};
    thread_pipeline(1, &a);
    thread_pipeline(2, &b);
    for (int i = 0; i < 12; i++) {
        if (!a.out[i] || !b.out[i] || a.n[i] != b.n[i]) {
            CHECK_MSG(0, "%s: missing output", names[i]);
            continue;
        }
        int same = memcmp(a.out[i], b.out[i], a.n[i] * sizeof(float)) == 0;
        double e = rel_err(a.out[i], b.out[i], a.n[i]);
        printf("#   %-10s 1 vs 2 threads: %s (rel diff %.2g)\n", names[i],
               same ? "identical" : "differs", e);
        if (must_match[i])
            CHECK_MSG(same, "%s differs between 1 and 2 threads", names[i]);
        else
            CHECK_MSG(e <= REL_TOL, "%s: 1 vs 2 threads rel diff %g", names[i], e);
        free(a.out[i]);
        free(b.out[i]);
    }
}

/* A mistyped FLUKEWATCH_CONV_ALGO is refused by name, not silently ignored. */
static void test_conv_algo_env_refused(void)
{
    const char *old = getenv("FLUKEWATCH_CONV_ALGO");
    char saved[64] = "";
    if (old)
        snprintf(saved, sizeof saved, "%s", old);
    setenv("FLUKEWATCH_CONV_ALGO", "fastest", 1);
    fw_backend *be = new_backend(1);
    fw_param w;
    param_init(&w, "w", NULL, 16 * 16 * 9);
    fw_conv *conv = NULL;
    fw_conv_desc d = {16, 16, 3, 3, 1, 1, 1, 1};
    fw_error e = {0};
    CHECK_INT(ops->conv_create(be, &d, &w, NULL, &conv, &e), FW_EINVAL);
    CHECK(conv == NULL);
    CHECK(strstr(e.msg, "FLUKEWATCH_CONV_ALGO=fastest") != NULL);
    if (old)
        setenv("FLUKEWATCH_CONV_ALGO", saved, 1);
    else
        unsetenv("FLUKEWATCH_CONV_ALGO");
    free(w.data);
    free(w.grad);
    ops->destroy(be);
}

int main(void)
{
    ops = fw_backend_cpu();
    const char *top = getenv("TOP_SRCDIR");
    char path[200];
    snprintf(path, sizeof path, "%s/tests/fixtures/ref/backend_ops.bin", top ? top : ".");
    if (load_fixture(path) < 0) {
        printf("not ok 1 - load_fixture # %s\n1..1\n", fx.error);
        return 0;
    }
    RUN(test_layout_roundtrip);
    RUN(test_tensor_basics);
    RUN(test_conv_vs_torch);
    RUN(test_conv_batch_change);
    RUN(test_bn_vs_torch);
    RUN(test_relu_vs_torch);
    RUN(test_add);
    RUN(test_pool_vs_torch);
    RUN(test_linear_vs_torch);
    RUN(test_l2norm_vs_torch);
    RUN(test_gem_vs_torch);
    RUN(test_gem_fd_double);
    RUN(test_l2norm_fd_double);
    RUN(test_fd_conv);
    RUN(test_fd_bn);
    RUN(test_fd_linear_pool);
    RUN(test_dropout);
    RUN(test_augment_batch);
    RUN(test_threads_1_vs_2);
    RUN(test_conv_algo_env_refused);
    for (int i = 0; i < fx.n; i++)
        free(fx.a[i].data);
    free(fx.a);
    return tap_done();
}
