/* test_model.c — the model (ResNet backbone + neck) on the CPU backend against
 * PyTorch: fixtures from tests/ref/model_ref.py (torchvision ResNet + the
 * fwmodel.py neck, weights from a test pattern both sides generate), compared per
 * tensor by relative L2 error ||ours - torch|| / max(||torch||, floor) <= 1e-4
 * (the reference is PyTorch in float64; its seeds keep every ReLU input and
 * max-pool tie far enough from its kink that fp32 rounding cannot flip a branch);
 * plus names/shapes/flags against torchvision, determinism, odd sizes, errors.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "model.h"
#include "model_fixture.h"
#include "rng.h"
#include "tap.h"

#define REL_TOL 1e-4

/* fixture reader, rel_err and the weight pattern: model_fixture.h ("FWREFMDL") */

/* ---- helpers ---- */
static const fw_backend_ops *ops;

static fw_backend *new_backend(int threads)
{
    fw_backend *be = NULL;
    fw_error err = {0};
    fw_backend_options opt = {.threads = threads};
    if (ops->create(&opt, &be, &err) < 0) {
        printf("# backend: %s\n", err.msg);
        return NULL;
    }
    return be;
}

static fw_model *new_model(fw_backend *be, int arch, int in_ch, float mult, int dim,
                           fw_neck_pool pool, float dropout, uint64_t seed)
{
    fw_model_config cfg;
    fw_model_config_default(&cfg);
    cfg.arch = arch;
    cfg.in_channels = in_ch;
    cfg.width_mult = mult;
    cfg.embedding_dim = dim;
    cfg.pool = pool;
    cfg.dropout = dropout;
    cfg.seed = seed;
    fw_model *m = NULL;
    fw_error err = {0};
    if (fw_model_create(ops, be, &cfg, &m, &err) < 0)
        printf("# model: %s\n", err.msg);
    return m;
}

static float *random_floats(uint64_t seed, size_t n)
{
    float *v = malloc(n * sizeof *v);
    fw_rng r;
    fw_rng_init(&r, seed, 0);
    for (size_t i = 0; i < n; i++)
        v[i] = fw_rng_range(&r, -1.0f, 1.0f);
    return v;
}

/* ---- names, shapes and flags: torchvision's state_dict (model_names.txt) ---- */
static void test_names_match_torchvision(void)
{
    const char *top = getenv("TOP_SRCDIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/ref/model_names.txt", top ? top : ".");
    FILE *fp = fopen(path, "r");
    CHECK_MSG(fp != NULL, "cannot open %s", path);
    if (!fp)
        return;
    fw_backend *be = new_backend(2);
    const int archs[3] = {18, 34, 50};
    char line[256];
    long pos = 0;
    for (int a = 0; a < 3; a++) {
        fw_model *m = new_model(be, archs[a], 3, 1.0f, 512, FW_NECK_GEM, 0.0f, 1);
        CHECK(m != NULL);
        if (!m)
            break;
        const fw_param_list *list = fw_model_params(m);
        int k = 0;
        fseek(fp, pos, SEEK_SET);
        while (fgets(line, sizeof line, fp)) {
            int arch, nread = 0;
            char name[128];
            if (sscanf(line, "%d %127s%n", &arch, name, &nread) < 2 || arch != archs[a])
                break;
            pos = ftell(fp);
            if (k >= list->n) {
                CHECK_MSG(0, "resnet%d: %s missing (we have %d tensors)", arch, name, list->n);
                k++;
                continue;
            }
            const fw_param *p = list->items[k++];
            CHECK_STR(p->name, name);
            int64_t dims[4];
            int nd = 0, off = nread, used;
            while (nd < 4 && sscanf(line + off, "%lld%n", (long long *)&dims[nd], &used) == 1) {
                nd++;
                off += used;
            }
            CHECK_INT(p->ndim, nd);
            for (int d = 0; d < nd && d < p->ndim; d++)
                CHECK_INT(p->shape[d], dims[d]);
            /* flags */
            int buffer = ends_with(name, "running_mean") || ends_with(name, "running_var") ||
                         ends_with(name, "num_batches_tracked");
            int no_decay = !buffer && (nd == 1 || ends_with(name, ".bias"));
            CHECK_INT(p->flags, buffer ? FW_PARAM_BUFFER : no_decay ? FW_PARAM_NO_DECAY : 0);
            CHECK(buffer ? p->grad == NULL : p->grad != NULL);
        }
        CHECK_INT(k, list->n);
        fw_model_destroy(m);
    }
    fclose(fp);
    ops->destroy(be);
}

/* ---- forward/backward/running stats against a PyTorch fixture ---- */
static void check_against_fixture(const char *leaf, int threads)
{
    ref_file f;
    CHECK(ref_load(&f, leaf, "FWREFMDL") == 0);
    if (!f.n)
        return;
    int arch = ref_int(&f, "cfg.arch"), width = ref_int(&f, "cfg.width");
    int cin = ref_int(&f, "cfg.in_channels"), h = ref_int(&f, "cfg.height");
    int w = ref_int(&f, "cfg.width_px"), n = ref_int(&f, "cfg.batch");
    int dim = ref_int(&f, "cfg.dim"), gem = ref_int(&f, "cfg.gem"), seed = ref_int(&f, "cfg.seed");
    fw_backend *be = new_backend(threads);
    fw_model *m = new_model(be, arch, cin, (float)width / 64.0f, dim,
                            gem ? FW_NECK_GEM : FW_NECK_AVG, 0.0f, 99);
    CHECK(m != NULL);
    if (!m) {
        ops->destroy(be);
        ref_free(&f);
        return;
    }
    CHECK_INT(fw_model_base_width(m), width);
    set_pattern_weights(m, (uint64_t)seed);
    fw_model_zero_grad(m);
    const ref_tensor *g = ref_get(&f, "d_embedding");
    /* the input is the test pattern's tensor 1000 (not stored in the fixture) */
    size_t nx = (size_t)n * cin * h * w;
    float *x = malloc(nx * sizeof *x);
    for (size_t i = 0; i < nx; i++)
        x[i] = pattern_uniform((uint64_t)seed, 1000, i);
    float *emb = calloc((size_t)n * dim, sizeof *emb);
    fw_error err = {0};
    int rc = fw_model_forward(m, 1, 0, x, n, h, w, emb, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    double e = rel_err(emb, ref_get(&f, "out.train")->data, (int64_t)n * dim, 1e-12);
    CHECK_MSG(e <= REL_TOL, "%s: train embedding rel err %.3g", leaf, e);
    rc = fw_model_backward(m, g->data, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    /* every gradient in the fixture, and every parameter has one there (full cases) */
    int n_grads = 0, n_state = 0, n_failed = 0;
    double worst = 0, max_grad_norm = 0;
    for (int i = 0; i < f.n; i++)
        if (strncmp(f.t[i].name, "grad.", 5) == 0) {
            double nrm = 0;
            for (int64_t k = 0; k < f.t[i].numel; k++)
                nrm += (double)f.t[i].data[k] * f.t[i].data[k];
            max_grad_norm = fmax(max_grad_norm, sqrt(nrm));
        }
    const char *worst_name = "";
    for (int i = 0; i < f.n; i++) {
        const ref_tensor *t = &f.t[i];
        int is_grad = strncmp(t->name, "grad.", 5) == 0;
        int is_state = strncmp(t->name, "state.", 6) == 0;
        if (!is_grad && !is_state)
            continue;
        const char *pname = t->name + (is_grad ? 5 : 6);
        fw_param *p = fw_model_find(m, pname);
        CHECK_MSG(p != NULL, "%s: no parameter %s", leaf, pname);
        if (!p)
            continue;
        CHECK_INT(p->numel, t->numel);
        if (p->numel != t->numel)
            continue;
        /* floor: a gradient that is zero in exact arithmetic (neck.fc.bias and
         * neck.bn1.bias, before a training-mode BN) is rounding noise; measure it
         * against 1e-3 of the model's largest gradient norm instead */
        double floor = is_grad ? 1e-3 * max_grad_norm : 1e-12;
        double er = rel_err(is_grad ? p->grad : p->data, t->data, t->numel, floor);
        if (er > REL_TOL && ++n_failed <= 8)
            CHECK_MSG(er <= REL_TOL, "%s: %s rel err %.3g", leaf, t->name, er);
        CHECK(n_failed == 0 || er <= REL_TOL);
        if (er > worst) {
            worst = er;
            worst_name = t->name;
        }
        n_grads += is_grad;
        n_state += is_state;
    }
    int n_params = 0, n_buffers = 0;
    const fw_param_list *list = fw_model_params(m);
    for (int i = 0; i < list->n; i++) {
        n_params += !(list->items[i]->flags & FW_PARAM_BUFFER);
        n_buffers += !!(list->items[i]->flags & FW_PARAM_BUFFER);
    }
    CHECK_INT(n_state, n_buffers);
    if (strcmp(leaf, "model_r34_rgb.bin") != 0) /* the rgb case stores some grads only */
        CHECK_INT(n_grads, n_params);
    printf("# %s (%d threads): %d grads, %d buffers, worst rel err %.2g (%s)\n", leaf, threads,
           n_grads, n_state, worst, worst_name);
    rc = fw_model_forward(m, 0, 0, x, n, h, w, emb, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    e = rel_err(emb, ref_get(&f, "out.eval")->data, (int64_t)n * dim, 1e-12);
    CHECK_MSG(e <= REL_TOL, "%s: eval embedding rel err %.3g", leaf, e);
    /* backward after an eval forward is refused */
    CHECK_INT(fw_model_backward(m, g->data, &err), FW_EINVAL);
    free(emb);
    free(x);
    fw_model_destroy(m);
    ops->destroy(be);
    ref_free(&f);
}

static void test_resnet18_gem_matches_torch(void)
{
    check_against_fixture("model_r18_gem.bin", 2);
}

static void test_resnet50_avg_matches_torch(void)
{
    check_against_fixture("model_r50_avg.bin", 2);
}

static void test_resnet34_rgb_odd_size_matches_torch(void)
{
    check_against_fixture("model_r34_rgb.bin", 2);
}

static void test_one_thread_matches_torch(void)
{
    check_against_fixture("model_r18_gem.bin", 1);
    check_against_fixture("model_r50_avg.bin", 1);
}

/* ---- determinism: same seed and threads -> identical bits ---- */
static void run_once(int threads, uint64_t seed, float *emb, float **grads, int *n_out)
{
    fw_backend *be = new_backend(threads);
    fw_model *m = new_model(be, 18, 1, 0.125f, 16, FW_NECK_GEM, 0.25f, seed);
    const int n = 3, h = 37, w = 53;
    float *x = random_floats(7, (size_t)n * h * w), *g = random_floats(8, (size_t)n * 16);
    fw_error err = {0};
    fw_model_zero_grad(m);
    CHECK(fw_model_forward(m, 1, 5, x, n, h, w, emb, &err) == 0);
    CHECK(fw_model_backward(m, g, &err) == 0);
    const fw_param_list *list = fw_model_params(m);
    size_t total = 0;
    for (int i = 0; i < list->n; i++)
        total += list->items[i]->grad ? (size_t)list->items[i]->numel : 0;
    *grads = malloc(total * sizeof(float));
    size_t off = 0;
    for (int i = 0; i < list->n; i++)
        if (list->items[i]->grad) {
            memcpy(*grads + off, list->items[i]->grad, (size_t)list->items[i]->numel * 4);
            off += (size_t)list->items[i]->numel;
        }
    *n_out = (int)total;
    free(x);
    free(g);
    fw_model_destroy(m);
    ops->destroy(be);
}

static void test_same_seed_same_bits(void)
{
    float e1[3 * 16], e2[3 * 16], e3[3 * 16], *g1, *g2, *g3;
    int n1, n2, n3;
    run_once(2, 42, e1, &g1, &n1);
    run_once(2, 42, e2, &g2, &n2);
    run_once(2, 43, e3, &g3, &n3);
    CHECK(memcmp(e1, e2, sizeof e1) == 0);
    CHECK_INT(n1, n2);
    CHECK(n1 == n2 && memcmp(g1, g2, (size_t)n1 * 4) == 0);
    CHECK(memcmp(e1, e3, sizeof e1) != 0); /* another seed: other weights */
    for (int i = 0; i < 3 * 16; i++)
        CHECK(isfinite(e1[i]));
    free(g1);
    free(g2);
    free(g3);
}

/* ---- the smallest input (32 x 32) and default init give finite results ---- */
static void test_min_size_and_init(void)
{
    fw_backend *be = new_backend(2);
    fw_model *m = new_model(be, 50, 3, 0.125f, 24, FW_NECK_GEM, 0.0f, 3);
    CHECK(m != NULL);
    if (!m) {
        ops->destroy(be);
        return;
    }
    /* torchvision init: conv std = sqrt(2 / fan_out), BN 1 / 0, p = 3 */
    fw_param *c = fw_model_find(m, "layer3.0.conv2.weight");
    double ss = 0;
    for (int64_t i = 0; i < c->numel; i++)
        ss += (double)c->data[i] * c->data[i];
    double std = sqrt(ss / (double)c->numel), want = sqrt(2.0 / (double)(c->shape[0] * 9));
    CHECK_MSG(fabs(std / want - 1) < 0.1, "conv std %g, expected %g", std, want);
    CHECK_NEAR(fw_model_find(m, "layer1.0.bn3.weight")->data[5], 1.0, 0);
    CHECK_NEAR(fw_model_find(m, "neck.pool.p")->data[0], 3.0, 0);
    fw_param *fc = fw_model_find(m, "neck.fc.weight");
    float bound = 1.0f / sqrtf((float)fc->shape[1]), mx = 0;
    for (int64_t i = 0; i < fc->numel; i++)
        mx = fmaxf(mx, fabsf(fc->data[i]));
    CHECK(mx <= bound && mx > 0.5f * bound);
    const int n = 2, h = 32, w = 32;
    float *x = random_floats(1, (size_t)n * 3 * h * w), *g = random_floats(2, (size_t)n * 24);
    float emb[2 * 24];
    fw_error err = {0};
    CHECK(fw_model_forward(m, 1, 0, x, n, h, w, emb, &err) == 0);
    CHECK(fw_model_backward(m, g, &err) == 0);
    for (int i = 0; i < n * 24; i++)
        CHECK(isfinite(emb[i]));
    fw_param *p = fw_model_find(m, "neck.pool.p");
    CHECK(isfinite(p->grad[0]) && p->grad[0] != 0.0f);
    CHECK(fw_model_find(m, "bn1.num_batches_tracked")->data[0] == 1.0f);
    /* accumulate: a second identical backward doubles the gradients */
    fw_param *w1 = fw_model_find(m, "conv1.weight");
    float before = w1->grad[3];
    CHECK(fw_model_forward(m, 1, 0, x, n, h, w, emb, &err) == 0);
    CHECK(fw_model_backward(m, g, &err) == 0);
    CHECK(before != 0.0f);
    /* the second forward saw updated running stats only in eval, so train output and
     * gradients repeat exactly: grads double */
    CHECK_NEAR(w1->grad[3], 2.0 * before, 1e-6 * fabs(before) + 1e-12);
    fw_model_zero_grad(m);
    CHECK(w1->grad[3] == 0.0f);
    free(x);
    free(g);
    fw_model_destroy(m);
    ops->destroy(be);
}

/* ---- dropout: train masks depend on the step; eval is the identity ---- */
static void test_dropout(void)
{
    fw_backend *be = new_backend(2);
    fw_model *a = new_model(be, 18, 1, 0.125f, 16, FW_NECK_AVG, 0.5f, 9);
    fw_model *b = new_model(be, 18, 1, 0.125f, 16, FW_NECK_AVG, 0.0f, 9);
    CHECK(a && b);
    if (!a || !b) {
        fw_model_destroy(a);
        fw_model_destroy(b);
        ops->destroy(be);
        return;
    }
    const int n = 4, h = 40, w = 48;
    float *x = random_floats(3, (size_t)n * h * w);
    float e1[64], e2[64], e3[64], e4[64];
    fw_error err = {0};
    CHECK(fw_model_forward(a, 0, 0, x, n, h, w, e1, &err) == 0);
    CHECK(fw_model_forward(b, 0, 0, x, n, h, w, e2, &err) == 0);
    CHECK(memcmp(e1, e2, sizeof e1) == 0); /* same seed, same weights, eval: no dropout */
    CHECK(fw_model_forward(a, 1, 1, x, n, h, w, e3, &err) == 0);
    CHECK(fw_model_forward(a, 1, 2, x, n, h, w, e4, &err) == 0);
    CHECK(memcmp(e3, e4, sizeof e3) != 0); /* another step, another mask */
    free(x);
    fw_model_destroy(a);
    fw_model_destroy(b);
    ops->destroy(be);
}

/* ---- errors are values ---- */
static void test_errors(void)
{
    fw_backend *be = new_backend(2);
    fw_model_config cfg;
    fw_model_config_default(&cfg);
    fw_model *m = NULL;
    fw_error err = {0};
    cfg.arch = 20;
    CHECK_INT(fw_model_create(ops, be, &cfg, &m, &err), FW_EINVAL);
    CHECK(m == NULL && strstr(err.msg, "20") != NULL);
    fw_model_config_default(&cfg);
    cfg.in_channels = 2;
    CHECK_INT(fw_model_create(ops, be, &cfg, &m, &err), FW_EINVAL);
    fw_model_config_default(&cfg);
    cfg.dropout = 1.0f;
    cfg.width_mult = 0.125f;
    CHECK_INT(fw_model_create(ops, be, &cfg, &m, &err), FW_EINVAL);
    cfg.dropout = 0.0f;
    cfg.embedding_dim = 8;
    CHECK_INT(fw_model_create(ops, be, &cfg, &m, &err), 0);
    float x[2 * 3 * 32 * 32] = {0}, emb[16], g[16] = {0};
    CHECK_INT(fw_model_backward(m, g, &err), FW_EINVAL); /* no forward yet */
    CHECK_INT(fw_model_forward(m, 1, 0, x, 1, 32, 32, emb, &err), FW_EINVAL); /* batch 1 */
    CHECK_INT(fw_model_forward(m, 0, 0, x, 2, 0, 32, emb, &err), FW_EINVAL);
    CHECK_INT(fw_model_forward(m, 0, 0, x, 2, 32, 32, emb, &err), 0);
    fw_model_destroy(m);
    ops->destroy(be);
}

int main(void)
{
    ops = fw_backend_cpu();
    RUN(test_names_match_torchvision);
    RUN(test_resnet18_gem_matches_torch);
    RUN(test_resnet50_avg_matches_torch);
    RUN(test_resnet34_rgb_odd_size_matches_torch);
    RUN(test_one_thread_matches_torch);
    RUN(test_same_seed_same_bits);
    RUN(test_min_size_and_init);
    RUN(test_dropout);
    RUN(test_errors);
    return tap_done();
}
