/* test_losses.c — the metric-learning losses and the combined head:
 *  - against PyTorch autograd (tests/fixtures/ref/losses.bin, written by
 *    tests/ref/losses_ref.py): loss and every gradient, relative error
 *    ||c - ref||_2 / ||ref||_2 <= 1e-4, in the fp32 sgemm and the double path;
 *  - central finite differences in double on tiny shapes (ws.precise = 1
 *    makes each loss a double-precision function of its float inputs);
 *  - edge cases with closed forms (no positives, all new_whale, plain CE,
 *    label smoothing, ArcFace at theta = 0 and theta = pi, cosine bounds);
 *  - the head: weighted sum of separate results, deterministic init, logits,
 *    bad input and configurations, workspace reuse. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "head.h"
#include "loss.h"
#include "rng.h"
#include "tap.h"

/* ---- fixture reading ---------------------------------------------------------- */

typedef struct tensor {
    char name[64];
    int dtype; /* 0 float32, 1 int32, 2 float64 */
    int ndim;
    int64_t dims[4];
    int64_t numel;
    void *data;
} tensor;

static tensor g_tensors[64];
static int g_ntensors = -1; /* -1: not loaded, -2: failed */

static int read_exact(FILE *f, void *p, size_t n)
{
    return fread(p, 1, n, f) == n;
}

static int load_fixture(void)
{
    if (g_ntensors != -1)
        return g_ntensors >= 0;
    g_ntensors = -2;
    const char *top = getenv("TOP_SRCDIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/ref/losses.bin", top ? top : ".");
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("# cannot open %s\n", path);
        return 0;
    }
    char magic[8];
    uint32_t version, count;
    int ok = read_exact(f, magic, 8) && memcmp(magic, "FWLOSREF", 8) == 0 &&
             read_exact(f, &version, 4) && version == 1 && read_exact(f, &count, 4) &&
             count <= 64;
    for (uint32_t t = 0; ok && t < count; t++) {
        tensor *x = &g_tensors[t];
        uint32_t len, dtype, ndim;
        ok = read_exact(f, &len, 4) && len < sizeof x->name && read_exact(f, x->name, len) &&
             read_exact(f, &dtype, 4) && dtype <= 2 && read_exact(f, &ndim, 4) && ndim <= 4;
        if (!ok)
            break;
        x->name[len] = '\0';
        x->dtype = (int)dtype;
        x->ndim = (int)ndim;
        x->numel = 1;
        for (uint32_t k = 0; ok && k < ndim; k++) {
            ok = read_exact(f, &x->dims[k], 8) && x->dims[k] >= 0 && x->dims[k] < 1000000;
            x->numel *= x->dims[k];
        }
        size_t esize = dtype == 2 ? 8 : 4;
        x->data = ok ? malloc(esize * (size_t)x->numel + 1) : NULL;
        ok = ok && x->data && read_exact(f, x->data, esize * (size_t)x->numel);
    }
    if (ok && fgetc(f) != EOF)
        ok = 0;
    fclose(f);
    if (!ok) {
        printf("# %s: malformed fixture\n", path);
        return 0;
    }
    g_ntensors = (int)count;
    return 1;
}

static const tensor *find(const char *name, int dtype)
{
    for (int t = 0; t < g_ntensors; t++)
        if (strcmp(g_tensors[t].name, name) == 0) {
            if (g_tensors[t].dtype != dtype)
                return NULL;
            return &g_tensors[t];
        }
    printf("# fixture has no tensor %s\n", name);
    return NULL;
}

static const float *ffix(const char *name)
{
    const tensor *t = find(name, 0);
    return t ? t->data : NULL;
}

static const double *dfix(const char *name)
{
    const tensor *t = find(name, 2);
    return t ? t->data : NULL;
}

/* ||a - ref||_2 / ||ref||_2 */
static double rel_err(const float *a, const double *ref, size_t n)
{
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        num += ((double)a[i] - ref[i]) * ((double)a[i] - ref[i]);
        den += ref[i] * ref[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

#define CHECK_REL(a, ref, n, tol)                                                        \
    do {                                                                                 \
        double e_ = rel_err((a), (ref), (n));                                            \
        CHECK_MSG(e_ <= (tol), "%s vs %s: relative error %.3g > %g", #a, #ref, e_,       \
                  (double)(tol));                                                        \
    } while (0)

#define CHECK_LOSS(got, ref)                                                             \
    CHECK_MSG(fabs((got) - (ref)) <= 1e-4 * fabs(ref), "loss %.9g, torch %.9g", (got), (ref))

/* The fixture's batch. */
typedef struct batch {
    const float *emb;
    const int *labels;
    int n, d;
} batch;

static int fixture_batch(batch *b)
{
    if (!load_fixture())
        return 0;
    const tensor *e = find("emb", 0), *l = find("labels", 1);
    if (!e || !l || e->ndim != 2 || l->numel != e->dims[0])
        return 0;
    b->emb = e->data;
    b->labels = l->data;
    b->n = (int)e->dims[0];
    b->d = (int)e->dims[1];
    return 1;
}

static float *zeros(size_t n)
{
    return calloc(n ? n : 1, sizeof(float));
}

/* ---- PyTorch references -------------------------------------------------------- */

static void test_softmax_matches_torch(void)
{
    batch b;
    CHECK(fixture_batch(&b));
    if (!b.emb)
        return;
    const float *w = ffix("softmax.weight"), *bias = ffix("softmax.bias");
    const int C = 10;
    for (int precise = 0; precise <= 1; precise++)
        for (int with_bias = 0; with_bias <= 1; with_bias++) {
            const char *pre = with_bias ? "softmax_ls" : "softmax_nobias";
            char name[64];
            fw_loss_ws ws;
            fw_loss_ws_init(&ws);
            ws.precise = precise;
            float *de = zeros((size_t)b.n * b.d), *dw = zeros((size_t)C * b.d), *db = zeros(C);
            fw_loss_grads g = {.d_emb = de, .d_weight = dw, .d_bias = db, .scale = 1.0};
            fw_softmax_cfg cfg = {.label_smoothing = with_bias ? 0.1 : 0.0};
            fw_loss_result res;
            fw_error err;
            int rc = fw_loss_softmax(&ws, &cfg, b.emb, b.labels, b.n, b.d, w,
                                     with_bias ? bias : NULL, C, &g, &res, &err);
            CHECK_MSG(rc == FW_OK, "%s", err.msg);
            snprintf(name, sizeof name, "%s.loss", pre);
            CHECK_LOSS(res.loss, dfix(name)[0]);
            CHECK_INT(res.count, b.n - 2);
            snprintf(name, sizeof name, "%s.d_emb", pre);
            CHECK_REL(de, dfix(name), (size_t)b.n * b.d, 1e-4);
            snprintf(name, sizeof name, "%s.d_weight", pre);
            CHECK_REL(dw, dfix(name), (size_t)C * b.d, 1e-4);
            if (with_bias)
                CHECK_REL(db, dfix("softmax_ls.d_bias"), (size_t)C, 1e-4);
            for (int i = 0; i < b.n; i++) /* new_whale rows get no gradient */
                if (b.labels[i] == FW_NEW_WHALE)
                    for (int k = 0; k < b.d; k++)
                        CHECK(de[(size_t)i * b.d + k] == 0.0f);
            free(de);
            free(dw);
            free(db);
            fw_loss_ws_free(&ws);
        }
}

static void check_arcface(const char *pre, const char *wname, fw_arcface_cfg cfg)
{
    batch b;
    CHECK(fixture_batch(&b));
    if (!b.emb)
        return;
    const float *w = ffix(wname);
    const int C = 10, rows = C * cfg.subcenters;
    char name[64];
    for (int precise = 0; precise <= 1; precise++) {
        fw_loss_ws ws;
        fw_loss_ws_init(&ws);
        ws.precise = precise;
        float *de = zeros((size_t)b.n * b.d), *dw = zeros((size_t)rows * b.d);
        fw_loss_grads g = {.d_emb = de, .d_weight = dw, .scale = 1.0};
        fw_loss_result res;
        fw_error err;
        int rc = fw_loss_arcface(&ws, &cfg, b.emb, b.labels, b.n, b.d, w, C, &g, &res, &err);
        CHECK_MSG(rc == FW_OK, "%s", err.msg);
        snprintf(name, sizeof name, "%s.loss", pre);
        CHECK_LOSS(res.loss, dfix(name)[0]);
        snprintf(name, sizeof name, "%s.d_emb", pre);
        CHECK_REL(de, dfix(name), (size_t)b.n * b.d, 1e-4);
        snprintf(name, sizeof name, "%s.d_weight", pre);
        CHECK_REL(dw, dfix(name), (size_t)rows * b.d, 1e-4);
        free(de);
        free(dw);
        fw_loss_ws_free(&ws);
    }
}

static void test_arcface_matches_torch(void)
{
    /* the fixture asserts that both phi branches (cos > th and theta + m > pi) occur */
    check_arcface("arcface", "arcface1.weight",
                  (fw_arcface_cfg){.scale = 30, .margin = 0.5, .subcenters = 1});
}

static void test_subcenter_arcface_matches_torch(void)
{
    check_arcface("subcenter", "arcface3.weight",
                  (fw_arcface_cfg){.scale = 16, .margin = 0.3, .subcenters = 3,
                                   .label_smoothing = 0.1});
}

static void test_triplet_matches_torch(void)
{
    batch b;
    CHECK(fixture_batch(&b));
    if (!b.emb)
        return;
    for (int soft = 0; soft <= 1; soft++) {
        fw_loss_ws ws;
        fw_loss_ws_init(&ws);
        float *de = zeros((size_t)b.n * b.d);
        fw_loss_grads g = {.d_emb = de, .scale = 1.0};
        fw_triplet_cfg cfg = {.margin = 0.3, .soft_margin = soft};
        fw_loss_result res;
        fw_error err;
        int rc = fw_loss_triplet(&ws, &cfg, b.emb, b.labels, b.n, b.d, &g, &res, &err);
        CHECK_MSG(rc == FW_OK, "%s", err.msg);
        CHECK_LOSS(res.loss, dfix(soft ? "triplet_soft.loss" : "triplet.loss")[0]);
        CHECK_INT(res.count, b.n - 2); /* every known row has a positive (K = 3) */
        if (!soft)
            CHECK(res.active > 0 && res.active < res.count);
        CHECK_REL(de, dfix(soft ? "triplet_soft.d_emb" : "triplet.d_emb"), (size_t)b.n * b.d,
                  1e-4);
        free(de);
        fw_loss_ws_free(&ws);
    }
}

static void test_contrastive_matches_torch(void)
{
    batch b;
    CHECK(fixture_batch(&b));
    if (!b.emb)
        return;
    fw_loss_ws ws;
    fw_loss_ws_init(&ws);
    float *de = zeros((size_t)b.n * b.d);
    fw_loss_grads g = {.d_emb = de, .scale = 1.0};
    fw_contrastive_cfg cfg = {.margin = 1.0};
    fw_loss_result res;
    fw_error err;
    int rc = fw_loss_contrastive(&ws, &cfg, b.emb, b.labels, b.n, b.d, &g, &res, &err);
    CHECK_MSG(rc == FW_OK, "%s", err.msg);
    CHECK_LOSS(res.loss, dfix("contrastive.loss")[0]);
    CHECK_INT(res.count, b.n * (b.n - 1) / 2);
    CHECK_REL(de, dfix("contrastive.d_emb"), (size_t)b.n * b.d, 1e-4);
    free(de);
    fw_loss_ws_free(&ws);
}

/* ---- finite differences ------------------------------------------------------- */

/* Which loss a finite-difference case runs. */
typedef struct fd_case {
    fw_loss_kind kind;
    fw_softmax_cfg softmax;
    fw_arcface_cfg arcface;
    fw_triplet_cfg triplet;
    fw_contrastive_cfg contrastive;
    int with_bias;
    int n, d, classes;
    const int *labels;
    float *emb, *w, *b; /* (n, d), (rows, d), (classes) */
    int rows;           /* rows of w */
} fd_case;

static double fd_eval(fw_loss_ws *ws, const fd_case *c, const fw_loss_grads *g)
{
    fw_loss_result res;
    fw_error err;
    int rc;
    switch (c->kind) {
    case FW_LOSS_SOFTMAX:
        rc = fw_loss_softmax(ws, &c->softmax, c->emb, c->labels, c->n, c->d, c->w,
                             c->with_bias ? c->b : NULL, c->classes, g, &res, &err);
        break;
    case FW_LOSS_ARCFACE:
        rc = fw_loss_arcface(ws, &c->arcface, c->emb, c->labels, c->n, c->d, c->w, c->classes, g,
                             &res, &err);
        break;
    case FW_LOSS_TRIPLET:
        rc = fw_loss_triplet(ws, &c->triplet, c->emb, c->labels, c->n, c->d, g, &res, &err);
        break;
    default:
        rc = fw_loss_contrastive(ws, &c->contrastive, c->emb, c->labels, c->n, c->d, g, &res,
                                 &err);
        break;
    }
    CHECK_MSG(rc == FW_OK, "%s", err.msg);
    return res.loss;
}

/* Values on a 2^-20 grid in [-2, 2): x +- 2^-16 is then exact in float, so the
 * central difference sees exactly the step it divides by. */
static float grid_value(fw_rng *r)
{
    return (float)(ldexp((double)(int32_t)(fw_rng_u32(r) % (1u << 22)) - (1 << 21), -20));
}

/* Compare the analytic gradient of every float in `x` (count) with central
 * differences (step 2^-16). Error bound: the gradient is stored in float
 * (6e-8 relative), the difference's truncation h^2/6 f''' is < 1e-8 here
 * (|f'''| < 1e3 for s <= 16) and its rounding ~1e-16 |L| / h < 1e-10, so
 * 1e-5 of the gradient's largest entry leaves a wide margin and still
 * catches any wrong term. */
static void fd_check(fw_loss_ws *ws, fd_case *c, float *x, const float *grad, int count,
                     const char *what)
{
    const double h = ldexp(1.0, -16);
    double gmax = 0.0, worst = 0.0;
    int worst_i = -1;
    for (int i = 0; i < count; i++)
        gmax = fmax(gmax, fabs(grad[i]));
    for (int i = 0; i < count; i++) {
        float keep = x[i];
        x[i] = (float)(keep + h);
        double up = fd_eval(ws, c, NULL);
        x[i] = (float)(keep - h);
        double down = fd_eval(ws, c, NULL);
        x[i] = keep;
        double fd = (up - down) / (2 * h), e = fabs(fd - grad[i]);
        if (e > worst) {
            worst = e;
            worst_i = i;
        }
    }
    CHECK_MSG(gmax > 1e-3, "%s: gradient is (nearly) zero, max %g", what, gmax);
    CHECK_MSG(worst <= 1e-5 * gmax, "%s: finite difference off by %.3g at %d (max |g| %.3g)",
              what, worst, worst_i, gmax);
}

static void run_fd(fd_case *c, const char *what)
{
    fw_loss_ws ws;
    fw_loss_ws_init(&ws);
    ws.precise = 1;
    float *de = zeros((size_t)c->n * c->d), *dw = zeros((size_t)c->rows * c->d),
          *db = zeros((size_t)c->classes + 1);
    fw_loss_grads g = {.d_emb = de, .d_weight = dw, .d_bias = db, .scale = 1.0};
    fd_eval(&ws, c, &g);
    char name[96];
    snprintf(name, sizeof name, "%s d_emb", what);
    fd_check(&ws, c, c->emb, de, c->n * c->d, name);
    if (c->kind == FW_LOSS_SOFTMAX || c->kind == FW_LOSS_ARCFACE) {
        snprintf(name, sizeof name, "%s d_weight", what);
        fd_check(&ws, c, c->w, dw, c->rows * c->d, name);
    }
    if (c->with_bias) {
        snprintf(name, sizeof name, "%s d_bias", what);
        fd_check(&ws, c, c->b, db, c->classes, name);
    }
    free(de);
    free(dw);
    free(db);
    fw_loss_ws_free(&ws);
}

/* Tiny batch: 3 classes x 2 rows + 2 new_whale rows, D = 5, 3 classes, k <= 2. */
enum { FD_N = 8, FD_D = 5, FD_C = 3, FD_K = 2 };
static const int FD_LABELS[FD_N] = {0, 2, FW_NEW_WHALE, 1, 0, 2, 1, FW_NEW_WHALE};

static void fd_fill(fd_case *c, uint64_t seed)
{
    fw_rng r;
    fw_rng_init(&r, seed, 0);
    c->n = FD_N;
    c->d = FD_D;
    c->classes = FD_C;
    c->labels = FD_LABELS;
    c->emb = zeros(FD_N * FD_D);
    c->w = zeros(FD_C * FD_K * FD_D);
    c->b = zeros(FD_C);
    for (int i = 0; i < FD_N * FD_D; i++)
        c->emb[i] = grid_value(&r);
    for (int i = 0; i < FD_C * FD_K * FD_D; i++)
        c->w[i] = grid_value(&r);
    for (int i = 0; i < FD_C; i++)
        c->b[i] = grid_value(&r);
}

static void fd_free(fd_case *c)
{
    free(c->emb);
    free(c->w);
    free(c->b);
}

static void test_fd_softmax(void)
{
    fd_case c = {.kind = FW_LOSS_SOFTMAX, .softmax = {.label_smoothing = 0.2}, .with_bias = 1};
    fd_fill(&c, 11);
    c.rows = FD_C;
    run_fd(&c, "softmax");
    fd_free(&c);
}

static void test_fd_arcface(void)
{
    fd_case c = {.kind = FW_LOSS_ARCFACE,
                 .arcface = {.scale = 8, .margin = 0.5, .subcenters = 1,
                             .label_smoothing = 0.1}};
    fd_fill(&c, 12);
    c.rows = FD_C;
    /* row 3 (class 1) points away from class 1's weight: theta + m > pi there */
    for (int k = 0; k < FD_D; k++)
        c.emb[3 * FD_D + k] = -c.w[1 * FD_D + k] + ldexp(k % 2 ? 1 : -1, -6);
    fw_loss_ws ws;
    fw_loss_ws_init(&ws);
    float cosv[FD_N * FD_C];
    fw_error err;
    CHECK(fw_cosine_logits(&ws, c.emb, FD_N, FD_D, c.w, FD_C, 1, cosv, &err) == FW_OK);
    CHECK(cosv[3 * FD_C + 1] < cos(M_PI - 0.5)); /* the fallback branch is in play */
    fw_loss_ws_free(&ws);
    run_fd(&c, "arcface");
    fd_free(&c);
}

static void test_fd_subcenter_arcface(void)
{
    fd_case c = {.kind = FW_LOSS_ARCFACE,
                 .arcface = {.scale = 16, .margin = 0.3, .subcenters = FD_K}};
    fd_fill(&c, 13);
    c.rows = FD_C * FD_K;
    run_fd(&c, "sub-center arcface");
    fd_free(&c);
}

static void test_fd_triplet(void)
{
    for (int soft = 0; soft <= 1; soft++) {
        fd_case c = {.kind = FW_LOSS_TRIPLET, .triplet = {.margin = 0.5, .soft_margin = soft}};
        fd_fill(&c, 14);
        c.rows = 0;
        run_fd(&c, soft ? "soft-margin triplet" : "triplet");
        fd_free(&c);
    }
}

static void test_fd_contrastive(void)
{
    fd_case c = {.kind = FW_LOSS_CONTRASTIVE, .contrastive = {.margin = 1.2}};
    fd_fill(&c, 15);
    c.rows = 0;
    run_fd(&c, "contrastive");
    fd_free(&c);
}

/* ---- edge cases ------------------------------------------------------------------ */

static void random_floats(float *x, size_t n, uint64_t seed, float scale)
{
    fw_rng r;
    fw_rng_init(&r, seed, 7);
    for (size_t i = 0; i < n; i++)
        x[i] = scale * fw_rng_normal(&r);
}

static int all_zero(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (x[i] != 0.0f)
            return 0;
    return 1;
}

static void test_triplet_without_positives(void)
{
    enum { N = 6, D = 8 };
    float emb[N * D], de[N * D] = {0};
    random_floats(emb, N * D, 1, 1.0f);
    const int labels[N] = {0, 1, 2, 3, FW_NEW_WHALE, 5}; /* every known whale appears once */
    fw_loss_ws ws;
    fw_loss_ws_init(&ws);
    fw_loss_grads g = {.d_emb = de, .scale = 1.0};
    fw_triplet_cfg cfg = {.margin = 0.3};
    fw_loss_result res = {.loss = 99};
    fw_error err;
    CHECK(fw_loss_triplet(&ws, &cfg, emb, labels, N, D, &g, &res, &err) == FW_OK);
    CHECK(res.loss == 0.0);
    CHECK_INT(res.count, 0);
    CHECK(all_zero(de, N * D));
    fw_loss_ws_free(&ws);
}

static void test_all_new_whale(void)
{
    enum { N = 5, D = 6, C = 4 };
    float emb[N * D], w[C * D], b[C], de[N * D] = {0}, dw[C * D] = {0}, db[C] = {0};
    random_floats(emb, N * D, 2, 1.0f);
    random_floats(w, C * D, 3, 1.0f);
    random_floats(b, C, 4, 1.0f);
    int labels[N];
    for (int i = 0; i < N; i++)
        labels[i] = FW_NEW_WHALE;
    fw_loss_ws ws;
    fw_loss_ws_init(&ws);
    fw_loss_grads g = {.d_emb = de, .d_weight = dw, .d_bias = db, .scale = 1.0};
    fw_loss_result res;
    fw_error err;
    fw_softmax_cfg sc = {.label_smoothing = 0.1};
    CHECK(fw_loss_softmax(&ws, &sc, emb, labels, N, D, w, b, C, &g, &res, &err) == FW_OK);
    CHECK(res.loss == 0.0 && res.count == 0);
    fw_arcface_cfg ac = {.scale = 30, .margin = 0.5, .subcenters = 1};
    CHECK(fw_loss_arcface(&ws, &ac, emb, labels, N, D, w, C, &g, &res, &err) == FW_OK);
    CHECK(res.loss == 0.0 && res.count == 0);
    fw_triplet_cfg tc = {.margin = 0.3};
    CHECK(fw_loss_triplet(&ws, &tc, emb, labels, N, D, &g, &res, &err) == FW_OK);
    CHECK(res.loss == 0.0 && res.count == 0);
    CHECK(all_zero(de, N * D) && all_zero(dw, C * D) && all_zero(db, C));

    /* contrastive: every pair is negative, two new_whale rows included */
    fw_contrastive_cfg cc = {.margin = 1.5};
    CHECK(fw_loss_contrastive(&ws, &cc, emb, labels, N, D, &g, &res, &err) == FW_OK);
    double want = 0.0;
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++) {
            double ni = 0, nj = 0, s = 0;
            for (int k = 0; k < D; k++) {
                ni += (double)emb[i * D + k] * emb[i * D + k];
                nj += (double)emb[j * D + k] * emb[j * D + k];
            }
            for (int k = 0; k < D; k++) {
                double t = emb[i * D + k] / sqrt(ni) - emb[j * D + k] / sqrt(nj);
                s += t * t;
            }
            double gap = 1.5 - sqrt(s);
            want += gap > 0 ? gap * gap : 0.0;
        }
    want /= N * (N - 1) / 2;
    CHECK_INT(res.count, N * (N - 1) / 2);
    CHECK_NEAR(res.loss, want, 1e-12 * want);
    CHECK(!all_zero(de, N * D));
    fw_loss_ws_free(&ws);
}

/* Softmax loss computed directly: (1 - eps) * (lse - z_y) + eps * (lse - mean z). */
static double direct_ce(const float *emb, const int *labels, int n, int d, const float *w,
                        const float *b, int c, double eps)
{
    double total = 0.0;
    int known = 0;
    for (int i = 0; i < n; i++) {
        if (labels[i] < 0)
            continue;
        double z[16], lse = 0.0, mean = 0.0;
        for (int j = 0; j < c; j++) {
            z[j] = b[j];
            for (int k = 0; k < d; k++)
                z[j] += (double)emb[i * d + k] * w[j * d + k];
            lse += exp(z[j]);
            mean += z[j] / c;
        }
        lse = log(lse);
        total += (1 - eps) * (lse - z[labels[i]]) + eps * (lse - mean);
        known++;
    }
    return total / known;
}

static void test_plain_and_smoothed_ce_direct(void)
{
    enum { N = 7, D = 9, C = 6 };
    float emb[N * D], w[C * D], b[C];
    random_floats(emb, N * D, 5, 0.8f);
    random_floats(w, C * D, 6, 0.8f);
    random_floats(b, C, 7, 0.5f);
    const int labels[N] = {3, FW_NEW_WHALE, 0, 5, 5, 1, FW_NEW_WHALE};
    const double eps[3] = {0.0, 0.3, 0.9};
    for (int precise = 0; precise <= 1; precise++)
        for (int e = 0; e < 3; e++) {
            fw_loss_ws ws;
            fw_loss_ws_init(&ws);
            ws.precise = precise;
            fw_softmax_cfg cfg = {.label_smoothing = eps[e]};
            fw_loss_result res;
            fw_error err;
            CHECK(fw_loss_softmax(&ws, &cfg, emb, labels, N, D, w, b, C, NULL, &res, &err) ==
                  FW_OK);
            double want = direct_ce(emb, labels, N, D, w, b, C, eps[e]);
            CHECK_NEAR(res.loss, want, (precise ? 1e-12 : 1e-5) * want);
            CHECK_INT(res.count, 5);
            fw_loss_ws_free(&ws);
        }
}

static void test_arcface_closed_forms(void)
{
    /* W = identity (C = D); an embedding along class y's axis has cos 1 with
     * it and 0 with the rest: loss = log(1 + (C-1) exp(-s cos m)). Pointing
     * the other way, cos = -1 <= th: loss = log(1 + (C-1) exp(s (1 + mm))). */
    enum { C = 5, D = 5 };
    float w[C * D] = {0}, emb[2 * D] = {0};
    for (int c = 0; c < C; c++)
        w[c * D + c] = 2.5f;
    emb[0 * D + 2] = 3.0f;  /* row 0: class 2, theta = 0 */
    emb[1 * D + 4] = -0.5f; /* row 1: class 4, theta = pi */
    const double s = 10, m = 0.4, mm = sin(M_PI - m) * m;
    fw_arcface_cfg cfg = {.scale = s, .margin = m, .subcenters = 1};
    fw_loss_ws ws;
    fw_loss_ws_init(&ws);
    fw_loss_result res;
    fw_error err;
    int lab0[1] = {2}, lab1[1] = {4};
    CHECK(fw_loss_arcface(&ws, &cfg, emb, lab0, 1, D, w, C, NULL, &res, &err) == FW_OK);
    CHECK_NEAR(res.loss, log1p((C - 1) * exp(-s * cos(m))), 1e-9);
    CHECK(fw_loss_arcface(&ws, &cfg, emb + D, lab1, 1, D, w, C, NULL, &res, &err) == FW_OK);
    CHECK_NEAR(res.loss, log1p((C - 1) * exp(s * (1 + mm))), 1e-6);
    fw_loss_ws_free(&ws);
}

static void test_cosine_logits_bounds(void)
{
    enum { N = 6, D = 12, C = 7, K = 3 };
    float emb[N * D], w[C * K * D], out[N * C];
    random_floats(emb, N * D, 8, 40.0f);
    random_floats(w, C * K * D, 9, 0.01f);
    memset(emb + 5 * D, 0, sizeof(float) * D); /* a zero embedding: norm clamped, cos 0 */
    memcpy(emb + 2 * D, w + (4 * K + 1) * D, sizeof(float) * D); /* row 2 = class 4, sub 1 */
    fw_loss_ws ws;
    fw_loss_ws_init(&ws);
    fw_error err;
    CHECK(fw_cosine_logits(&ws, emb, N, D, w, C, K, out, &err) == FW_OK);
    int bounded = 1;
    for (int i = 0; i < N * C; i++)
        bounded &= fabsf(out[i]) <= 1.0f + 1e-6f;
    CHECK(bounded);
    CHECK_NEAR(out[2 * C + 4], 1.0, 1e-6);
    CHECK(all_zero(out + 5 * C, C));
    /* each class score is the best of its sub-centres */
    for (int i = 0; i < N - 1; i++)
        for (int c = 0; c < C; c++) {
            double best = -2, ni = 0;
            for (int k = 0; k < D; k++)
                ni += (double)emb[i * D + k] * emb[i * D + k];
            for (int j = 0; j < K; j++) {
                const float *wr = w + (size_t)(c * K + j) * D;
                double dot = 0, nw = 0;
                for (int k = 0; k < D; k++) {
                    dot += (double)emb[i * D + k] * wr[k];
                    nw += (double)wr[k] * wr[k];
                }
                best = fmax(best, dot / sqrt(ni * nw));
            }
            CHECK_NEAR(out[i * C + c], best, 1e-5);
        }
    fw_loss_ws_free(&ws);
}

static void test_gradients_accumulate_with_scale(void)
{
    batch b;
    CHECK(fixture_batch(&b));
    if (!b.emb)
        return;
    const float *w = ffix("arcface3.weight");
    const int rows = 30;
    fw_arcface_cfg cfg = {.scale = 16, .margin = 0.3, .subcenters = 3, .label_smoothing = 0.1};
    fw_loss_ws ws;
    fw_loss_ws_init(&ws);
    float *de = zeros((size_t)b.n * b.d), *dw = zeros((size_t)rows * b.d);
    fw_loss_grads g = {.d_emb = de, .d_weight = dw, .scale = 0.25};
    fw_loss_result res;
    fw_error err;
    for (int t = 0; t < 4; t++) /* 4 x 0.25 = the gradient once */
        CHECK(fw_loss_arcface(&ws, &cfg, b.emb, b.labels, b.n, b.d, w, 10, &g, &res, &err) ==
              FW_OK);
    CHECK_REL(de, dfix("subcenter.d_emb"), (size_t)b.n * b.d, 1e-4);
    CHECK_REL(dw, dfix("subcenter.d_weight"), (size_t)rows * b.d, 1e-4);
    free(de);
    free(dw);
    fw_loss_ws_free(&ws);
}

/* ---- the head ----------------------------------------------------------------------- */

static fw_head_config combined_config(int classes, int d)
{
    fw_head_config cfg = {.emb_dim = d, .classes = classes, .seed = 42, .n_terms = 4};
    cfg.terms[0] = (fw_head_term){.kind = FW_LOSS_ARCFACE, .weight = 1.0,
                                  .arcface = {.scale = 20, .margin = 0.4, .subcenters = 2,
                                              .label_smoothing = 0.05}};
    cfg.terms[1] = (fw_head_term){.kind = FW_LOSS_TRIPLET, .weight = 0.5,
                                  .triplet = {.margin = 0.3}};
    cfg.terms[2] = (fw_head_term){.kind = FW_LOSS_SOFTMAX, .weight = 0.25, .softmax_bias = 1,
                                  .softmax = {.label_smoothing = 0.1}};
    cfg.terms[3] = (fw_head_term){.kind = FW_LOSS_CONTRASTIVE, .weight = 0.1,
                                  .contrastive = {.margin = 1.0}};
    return cfg;
}

static void test_head_is_weighted_sum(void)
{
    batch b;
    CHECK(fixture_batch(&b));
    if (!b.emb)
        return;
    const int C = 10, N = b.n, D = b.d;
    fw_head_config cfg = combined_config(C, D);
    fw_head h;
    fw_error err;
    CHECK(fw_head_init(&h, &cfg, &err) == FW_OK);
    CHECK_INT(h.n_params, 3);
    float *de = zeros((size_t)N * D);
    memset(de, 0x7f, sizeof(float) * (size_t)N * D); /* overwritten, not added to */
    double loss;
    CHECK(fw_head_loss(&h, b.emb, b.labels, N, de, &loss, &err) == FW_OK);

    /* the same terms one by one, gradients scaled by the weights */
    fw_loss_ws ws;
    fw_loss_ws_init(&ws);
    float *we = zeros((size_t)N * D), *dwa = zeros((size_t)C * 2 * D), *dwc = zeros((size_t)C * D),
          *dbc = zeros(C);
    double want = 0.0;
    fw_loss_result r;
    fw_loss_grads g = {.d_emb = we, .d_weight = dwa, .scale = 1.0};
    CHECK(fw_loss_arcface(&ws, &cfg.terms[0].arcface, b.emb, b.labels, N, D,
                          h.arcface_weight->data, C, &g, &r, &err) == FW_OK);
    want += r.loss;
    CHECK_NEAR(h.term[0].loss, r.loss, 1e-12);
    g = (fw_loss_grads){.d_emb = we, .scale = 0.5};
    CHECK(fw_loss_triplet(&ws, &cfg.terms[1].triplet, b.emb, b.labels, N, D, &g, &r, &err) ==
          FW_OK);
    want += 0.5 * r.loss;
    CHECK_NEAR(h.term[1].loss, r.loss, 1e-12);
    g = (fw_loss_grads){.d_emb = we, .d_weight = dwc, .d_bias = dbc, .scale = 0.25};
    CHECK(fw_loss_softmax(&ws, &cfg.terms[2].softmax, b.emb, b.labels, N, D,
                          h.classifier_weight->data, h.classifier_bias->data, C, &g, &r,
                          &err) == FW_OK);
    want += 0.25 * r.loss;
    g = (fw_loss_grads){.d_emb = we, .scale = 0.1};
    CHECK(fw_loss_contrastive(&ws, &cfg.terms[3].contrastive, b.emb, b.labels, N, D, &g, &r,
                              &err) == FW_OK);
    want += 0.1 * r.loss;
    CHECK_NEAR(h.term[3].loss, r.loss, 1e-12);
    CHECK_NEAR(loss, want, 1e-12 * want);
    /* dwc and dbc were scaled by 0.25 already; dwa by 1 */
    double *ref = malloc(sizeof(double) * (size_t)C * 2 * D);
    for (int i = 0; i < N * D; i++)
        ref[i] = we[i];
    CHECK_REL(de, ref, (size_t)N * D, 1e-6);
    for (int i = 0; i < C * 2 * D; i++)
        ref[i] = dwa[i];
    CHECK_REL(h.arcface_weight->grad, ref, (size_t)C * 2 * D, 1e-6);
    for (int i = 0; i < C * D; i++)
        ref[i] = dwc[i];
    CHECK_REL(h.classifier_weight->grad, ref, (size_t)C * D, 1e-6);
    for (int i = 0; i < C; i++)
        ref[i] = dbc[i];
    CHECK_REL(h.classifier_bias->grad, ref, (size_t)C, 1e-6);

    /* loss only: same value, parameter gradients untouched */
    float keep = h.arcface_weight->grad[0];
    double loss2;
    CHECK(fw_head_loss(&h, b.emb, b.labels, N, NULL, &loss2, &err) == FW_OK);
    CHECK(loss2 == loss);
    CHECK(h.arcface_weight->grad[0] == keep);
    free(ref);
    free(de);
    free(we);
    free(dwa);
    free(dwc);
    free(dbc);
    fw_loss_ws_free(&ws);
    fw_head_free(&h);
}

static void test_head_init_and_params(void)
{
    const int C = 50, D = 64;
    fw_head_config cfg = combined_config(C, D);
    fw_head a, b, c;
    fw_error err;
    CHECK(fw_head_init(&a, &cfg, &err) == FW_OK);
    CHECK(fw_head_init(&b, &cfg, &err) == FW_OK);
    cfg.seed = 43;
    CHECK(fw_head_init(&c, &cfg, &err) == FW_OK);
    CHECK_STR(a.params[0].name, "head.classifier.weight");
    CHECK_STR(a.params[1].name, "head.classifier.bias");
    CHECK_STR(a.params[2].name, "head.arcface.weight");
    CHECK_INT(a.arcface_weight->shape[0], C * 2);
    CHECK_INT(a.arcface_weight->shape[1], D);
    CHECK_INT(a.classifier_bias->ndim, 1);
    CHECK(a.classifier_bias->flags == (FW_PARAM_HEAD | FW_PARAM_NO_DECAY));
    CHECK(a.arcface_weight->flags == FW_PARAM_HEAD);
    for (int p = 0; p < 3; p++) {
        size_t n = (size_t)a.params[p].numel;
        CHECK(memcmp(a.params[p].data, b.params[p].data, n * sizeof(float)) == 0);
        CHECK(memcmp(a.params[p].data, c.params[p].data, n * sizeof(float)) != 0);
        CHECK(all_zero(a.params[p].grad, n));
    }
    /* Xavier-uniform bound and spread (uniform: std = bound / sqrt 3) */
    double bound = sqrt(6.0 / (D + 2 * C)), s2 = 0.0, mx = 0.0;
    const fw_param *w = a.arcface_weight;
    for (int64_t i = 0; i < w->numel; i++) {
        s2 += (double)w->data[i] * w->data[i];
        mx = fmax(mx, fabs(w->data[i]));
    }
    CHECK(mx <= bound && mx > 0.99 * bound);
    CHECK_NEAR(sqrt(s2 / w->numel), bound / sqrt(3.0), 0.03 * bound);
    mx = 0.0;
    for (int64_t i = 0; i < a.classifier_weight->numel; i++)
        mx = fmax(mx, fabs(a.classifier_weight->data[i]));
    CHECK(mx <= 1.0 / sqrt(D) && mx > 0.99 / sqrt(D));

    fw_param_list list = {0};
    CHECK(fw_head_add_params(&a, &list, &err) == FW_OK);
    CHECK_INT(list.n, 3);
    CHECK(list.items[2] == a.arcface_weight);
    /* a second head's tensors have the same names: refused (checkpoints need unique names) */
    CHECK(fw_head_add_params(&b, &list, &err) == FW_EINVAL);
    CHECK(strstr(err.msg, "head.classifier.weight") != NULL);
    free(list.items);

    /* a triplet-only head owns no parameters */
    fw_head_config pair = {.emb_dim = D, .seed = 1, .n_terms = 1,
                           .terms = {{.kind = FW_LOSS_TRIPLET, .weight = 1}}};
    fw_head t;
    CHECK(fw_head_init(&t, &pair, &err) == FW_OK);
    CHECK_INT(t.n_params, 0);
    float out[4];
    CHECK(fw_head_logits(&t, out, 1, out, &err) == FW_EINVAL);
    fw_head_free(&t);
    fw_head_free(&a);
    fw_head_free(&b);
    fw_head_free(&c);
}

static void test_head_logits(void)
{
    enum { N = 4, D = 8, C = 5 };
    fw_head_config cfg = combined_config(C, D);
    fw_head h;
    fw_error err;
    CHECK(fw_head_init(&h, &cfg, &err) == FW_OK);
    float emb[N * D], out[N * C], want[N * C];
    random_floats(emb, N * D, 10, 1.0f);
    CHECK(fw_head_logits(&h, emb, N, out, &err) == FW_OK);
    fw_loss_ws ws;
    fw_loss_ws_init(&ws);
    CHECK(fw_cosine_logits(&ws, emb, N, D, h.arcface_weight->data, C, 2, want, &err) == FW_OK);
    CHECK(memcmp(out, want, sizeof out) == 0);
    fw_loss_ws_free(&ws);
    fw_head_free(&h);
}

static void test_bad_input(void)
{
    enum { N = 3, D = 4, C = 3 };
    float emb[N * D], w[C * D];
    random_floats(emb, N * D, 11, 1.0f);
    random_floats(w, C * D, 12, 1.0f);
    int labels[N] = {0, 3, 1};
    fw_loss_ws ws;
    fw_loss_ws_init(&ws);
    fw_loss_result res;
    fw_error err;
    fw_softmax_cfg sc = {0};
    CHECK_INT(fw_loss_softmax(&ws, &sc, emb, labels, N, D, w, NULL, C, NULL, &res, &err),
              FW_EINVAL);
    CHECK(strstr(err.msg, "label 3 of row 1") != NULL);
    labels[1] = -2;
    fw_triplet_cfg tc = {.margin = 0.3};
    CHECK_INT(fw_loss_triplet(&ws, &tc, emb, labels, N, D, NULL, &res, &err), FW_EINVAL);
    labels[1] = 2;
    sc.label_smoothing = 1.0;
    CHECK_INT(fw_loss_softmax(&ws, &sc, emb, labels, N, D, w, NULL, C, NULL, &res, &err),
              FW_EINVAL);
    fw_arcface_cfg ac = {.scale = 30, .margin = 4.0, .subcenters = 1};
    CHECK_INT(fw_loss_arcface(&ws, &ac, emb, labels, N, D, w, C, NULL, &res, &err), FW_EINVAL);
    ac = (fw_arcface_cfg){.scale = 30, .margin = 0.5, .subcenters = 0};
    CHECK_INT(fw_loss_arcface(&ws, &ac, emb, labels, N, D, w, C, NULL, &res, &err), FW_EINVAL);
    fw_contrastive_cfg cc = {.margin = -1};
    CHECK_INT(fw_loss_contrastive(&ws, &cc, emb, labels, N, D, NULL, &res, &err), FW_EINVAL);

    fw_head h;
    fw_head_config cfg = combined_config(C, D);
    cfg.terms[3] = cfg.terms[0]; /* two ArcFace terms */
    CHECK_INT(fw_head_init(&h, &cfg, &err), FW_EINVAL);
    cfg = combined_config(0, D);
    CHECK_INT(fw_head_init(&h, &cfg, &err), FW_EINVAL);
    cfg = combined_config(C, D);
    cfg.terms[1].weight = -1;
    CHECK_INT(fw_head_init(&h, &cfg, &err), FW_EINVAL);
    cfg = combined_config(C, D);
    CHECK(fw_head_init(&h, &cfg, &err) == FW_OK);
    labels[0] = 7;
    double loss;
    float de[N * D];
    CHECK_INT(fw_head_loss(&h, emb, labels, N, de, &loss, &err), FW_EINVAL);
    CHECK(strncmp(err.msg, "head term 0 (arcface): ", 23) == 0);
    fw_head_free(&h);

    fw_loss_kind k;
    CHECK(fw_loss_kind_parse("contrastive", &k, &err) == FW_OK && k == FW_LOSS_CONTRASTIVE);
    CHECK_INT(fw_loss_kind_parse("cosface", &k, &err), FW_EINVAL);
    CHECK_STR(fw_loss_kind_name(FW_LOSS_ARCFACE), "arcface");
    fw_loss_ws_free(&ws);
}

static void test_workspace_is_reused(void)
{
    batch b;
    CHECK(fixture_batch(&b));
    if (!b.emb)
        return;
    fw_head_config cfg = combined_config(10, b.d);
    fw_head h;
    fw_error err;
    CHECK(fw_head_init(&h, &cfg, &err) == FW_OK);
    float *de = zeros((size_t)b.n * b.d);
    double loss1, loss2;
    CHECK(fw_head_loss(&h, b.emb, b.labels, b.n, de, &loss1, &err) == FW_OK);
    fw_loss_ws before = h.ws;
    CHECK(fw_head_loss(&h, b.emb, b.labels, b.n, de, &loss2, &err) == FW_OK);
    CHECK(memcmp(&before, &h.ws, sizeof before) == 0); /* no slot grew or moved */
    CHECK(loss1 == loss2);                              /* and the result is repeatable */
    free(de);
    fw_head_free(&h);
}

int main(void)
{
    RUN(test_softmax_matches_torch);
    RUN(test_arcface_matches_torch);
    RUN(test_subcenter_arcface_matches_torch);
    RUN(test_triplet_matches_torch);
    RUN(test_contrastive_matches_torch);
    RUN(test_gradients_accumulate_with_scale);
    RUN(test_fd_softmax);
    RUN(test_fd_arcface);
    RUN(test_fd_subcenter_arcface);
    RUN(test_fd_triplet);
    RUN(test_fd_contrastive);
    RUN(test_triplet_without_positives);
    RUN(test_all_new_whale);
    RUN(test_plain_and_smoothed_ce_direct);
    RUN(test_arcface_closed_forms);
    RUN(test_cosine_logits_bounds);
    RUN(test_head_is_weighted_sum);
    RUN(test_head_init_and_params);
    RUN(test_head_logits);
    RUN(test_bad_input);
    RUN(test_workspace_is_reused);
    for (int t = 0; t < g_ntensors; t++)
        free(g_tensors[t].data);
    return tap_done();
}
