/* test_optim.c — SGD/AdamW and clip_grad_norm_ against PyTorch 1.13 values
 * (tests/fixtures/ref/optim.bin from tests/ref/optim_ref.py), exact
 * continuation after restoring optimizer state, thread-count independence,
 * and the fw_param_list helpers.
 *
 * Error norm: per tensor, max|c - t| / max|t| (relative error in the max
 * norm) <= 1e-6. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optim.h"
#include "optim_fixture.h"
#include "param_list.h"
#include "rng.h"
#include "tap.h"

#define TOL 1e-6
#define N_PARAMS 6
#define N_STEPS 5

static const char *const names[N_PARAMS] = {"conv.weight", "bn.weight",   "bn.bias",
                                            "fc.weight",   "head.weight", "head.bias"};
static fx_file fx;
static int fx_ok;
static char fx_why[256];

static double rel_err(const float *got, const float *want, int64_t n)
{
    double diff = 0, mag = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        if (!(d <= diff))
            diff = d; /* NaN propagates */
        if (fabs(want[i]) > mag)
            mag = fabs(want[i]);
    }
    return mag > 0 ? diff / mag : diff;
}

/* Compare a tensor with fixture record `name`. */
static int matches(const float *got, int64_t n, const char *name, double *err_out)
{
    float *want = malloc((size_t)n * sizeof *want);
    int ok = want && fx_get_f32(&fx, name, want, n) == 0;
    double e = ok ? rel_err(got, want, n) : INFINITY;
    free(want);
    if (err_out)
        *err_out = e;
    if (!ok)
        printf("#   missing fixture record %s\n", name);
    return ok && e <= TOL;
}

/* The six fixture params (+ a BUFFER with a grad, which must stay untouched)
 * as an owned list with the fixture's initial values. */
static int make_params(fw_param_list *list)
{
    fw_error err;
    fw_param_list_init(list);
    for (int i = 0; i < N_PARAMS; i++) {
        char key[160];
        snprintf(key, sizeof key, "init.%s", names[i]);
        int64_t n = fx_count(&fx, key);
        float flags;
        snprintf(key, sizeof key, "flags.%s", names[i]);
        if (n <= 0 || fx_get_f32(&fx, key, &flags, 1) < 0)
            return -1;
        fw_param *p;
        if (fw_param_list_add_owned(list, names[i], 1, &n, (int)flags, 1, &p, &err) < 0)
            return -1;
        snprintf(key, sizeof key, "init.%s", names[i]);
        fx_get_f32(&fx, key, p->data, n);
    }
    int64_t four = 4;
    fw_param *buf;
    if (fw_param_list_add_owned(list, "bn.running_mean", 1, &four, FW_PARAM_BUFFER, 1, &buf,
                                &err) < 0)
        return -1;
    for (int i = 0; i < 4; i++) {
        buf->data[i] = 0.5f + (float)i;
        buf->grad[i] = 100.0f;
    }
    return 0;
}

static void load_grads(fw_param_list *list, int step)
{
    for (int i = 0; i < N_PARAMS; i++) {
        char key[160];
        snprintf(key, sizeof key, "grad.%d.%s", step, names[i]);
        fx_get_f32(&fx, key, list->items[i]->grad, list->items[i]->numel);
    }
}

static void hyper_at(int step, int adamw, double *lr, double *mom)
{
    double h[2 * N_STEPS];
    fx_get_f64(&fx, "hyper", h, 2 * N_STEPS);
    *lr = h[2 * step] / (adamw ? 10.0 : 1.0);
    *mom = h[2 * step + 1];
}

static void run_case(const char *name, fw_optim_kind kind, int nesterov)
{
    if (!fx_ok)
        SKIP("%s", fx_why);
    fw_param_list params;
    fw_error err;
    CHECK(make_params(&params) == 0);
    fw_optim_config cfg;
    fw_optim_config_default(&cfg, kind);
    char key[200];
    snprintf(key, sizeof key, "%s.weight_decay", name);
    CHECK(fx_get_f64(&fx, key, &cfg.weight_decay, 1) == 0);
    CHECK(fx_get_f64(&fx, "head_mult", &cfg.head_lr_mult, 1) == 0);
    cfg.nesterov = nesterov;
    fw_optim *opt;
    CHECK(fw_optim_create(&opt, &cfg, &params, &err) == 0);
    fw_param_list *state = fw_optim_state(opt);
    CHECK_INT(state->n, N_PARAMS * (kind == FW_OPTIM_ADAMW ? 3 : 2));
    double worst = 0;
    for (int k = 0; k < N_STEPS; k++) {
        double lr, mom;
        hyper_at(k, kind == FW_OPTIM_ADAMW, &lr, &mom);
        load_grads(&params, k);
        fw_optim_set_hyper(opt, lr, mom);
        CHECK(fw_optim_step(opt, &err) == 0);
        for (int i = 0; i < N_PARAMS; i++) {
            fw_param *p = params.items[i];
            double e;
            snprintf(key, sizeof key, "%s.%d.%s", name, k, names[i]);
            CHECK_MSG(matches(p->data, p->numel, key, &e), "%s rel err %g", key, e);
            worst = e > worst ? e : worst;
            const char *const sgd_state[] = {"momentum_buffer", NULL};
            const char *const adam_state[] = {"exp_avg", "exp_avg_sq", "step", NULL};
            for (const char *const *s = kind == FW_OPTIM_SGD ? sgd_state : adam_state; *s; s++) {
                char sname[FW_PARAM_NAME_MAX];
                snprintf(sname, sizeof sname, "optim.%s.%s", names[i], *s);
                fw_param *t = fw_param_list_find(state, sname);
                CHECK_MSG(t != NULL, "no state tensor %s", sname);
                if (!t)
                    continue;
                snprintf(key, sizeof key, "%s.%d.%s", name, k, sname);
                CHECK_MSG(matches(t->data, t->numel, key, &e), "%s rel err %g", key, e);
                worst = e > worst ? e : worst;
            }
            snprintf(key, sizeof key, "optim.%s.step", names[i]);
            fw_param *st = fw_param_list_find(state, key);
            CHECK(st && st->data[0] == (float)(k + 1));
        }
        fw_param *buf = params.items[N_PARAMS];
        for (int i = 0; i < 4; i++)
            CHECK(buf->data[i] == 0.5f + (float)i);
    }
    printf("#   %s: worst relative error %.3g over %d steps\n", name, worst, N_STEPS);
    CHECK(fw_param_list_find(state, "optim.bn.running_mean.step") == NULL);
    fw_optim_destroy(opt);
    fw_param_list_free_owned(&params);
}

static void test_sgd_matches_torch(void)
{
    run_case("sgd", FW_OPTIM_SGD, 0);
}

static void test_sgd_nesterov_matches_torch(void)
{
    run_case("nesterov", FW_OPTIM_SGD, 1);
}

static void test_adamw_matches_torch(void)
{
    run_case("adamw", FW_OPTIM_ADAMW, 0);
}

/* Run 5 steps straight, and 2 steps + save + new optimizer + restore by name
 * + 3 steps: the weights and state must be bit-identical. */
static void resume_case(fw_optim_kind kind)
{
    fw_param_list a, b;
    fw_error err;
    CHECK(make_params(&a) == 0);
    CHECK(make_params(&b) == 0);
    fw_optim_config cfg;
    fw_optim_config_default(&cfg, kind);
    cfg.nesterov = kind == FW_OPTIM_SGD;
    cfg.head_lr_mult = 2.0;
    fw_optim *oa, *ob, *oc;
    CHECK(fw_optim_create(&oa, &cfg, &a, &err) == 0);
    CHECK(fw_optim_create(&ob, &cfg, &b, &err) == 0);
    for (int k = 0; k < N_STEPS; k++) {
        double lr, mom;
        hyper_at(k, kind == FW_OPTIM_ADAMW, &lr, &mom);
        load_grads(&a, k);
        fw_optim_set_hyper(oa, lr, mom);
        CHECK(fw_optim_step(oa, &err) == 0);
    }
    for (int k = 0; k < 2; k++) {
        double lr, mom;
        hyper_at(k, kind == FW_OPTIM_ADAMW, &lr, &mom);
        load_grads(&b, k);
        fw_optim_set_hyper(ob, lr, mom);
        CHECK(fw_optim_step(ob, &err) == 0);
    }
    /* "checkpoint": copy the state out by name, into a fresh optimizer */
    fw_param_list *saved = fw_optim_state(ob);
    CHECK(fw_optim_create(&oc, &cfg, &b, &err) == 0);
    fw_param_list *fresh = fw_optim_state(oc);
    CHECK_INT(fresh->n, saved->n);
    for (int i = fresh->n - 1; i >= 0; i--) { /* reverse order: lookup is by name */
        fw_param *dst = fresh->items[i], *src = fw_param_list_find(saved, dst->name);
        CHECK(src && src->numel == dst->numel);
        if (src)
            memcpy(dst->data, src->data, (size_t)src->numel * sizeof(float));
    }
    fw_optim_destroy(ob);
    for (int k = 2; k < N_STEPS; k++) {
        double lr, mom;
        hyper_at(k, kind == FW_OPTIM_ADAMW, &lr, &mom);
        load_grads(&b, k);
        fw_optim_set_hyper(oc, lr, mom);
        CHECK(fw_optim_step(oc, &err) == 0);
    }
    for (int i = 0; i < a.n; i++)
        CHECK_MSG(memcmp(a.items[i]->data, b.items[i]->data,
                         (size_t)a.items[i]->numel * sizeof(float)) == 0,
                  "%s differs after resume", a.items[i]->name);
    fw_param_list *sa = fw_optim_state(oa), *sc = fw_optim_state(oc);
    for (int i = 0; i < sa->n; i++)
        CHECK_MSG(memcmp(sa->items[i]->data, sc->items[i]->data,
                         (size_t)sa->items[i]->numel * sizeof(float)) == 0,
                  "%s differs after resume", sa->items[i]->name);
    fw_optim_destroy(oa);
    fw_optim_destroy(oc);
    fw_param_list_free_owned(&a);
    fw_param_list_free_owned(&b);
}

static void test_restore_continues_exactly(void)
{
    if (!fx_ok)
        SKIP("%s", fx_why);
    resume_case(FW_OPTIM_SGD);
    resume_case(FW_OPTIM_ADAMW);
}

/* A tensor spanning several work chunks: 1 and 2 threads agree bit for bit. */
static void test_threads_identical(void)
{
    for (int kind = 0; kind < 2; kind++) {
        fw_param_list l[2];
        fw_error err;
        fw_optim *o[2];
        for (int t = 0; t < 2; t++) {
            int64_t shape[2] = {300, 500};
            fw_param *p;
            fw_param_list_init(&l[t]);
            CHECK(fw_param_list_add_owned(&l[t], "big.weight", 2, shape, 0, 1, &p, &err) == 0);
            fw_rng r;
            fw_rng_init(&r, 5, 0);
            for (int64_t i = 0; i < p->numel; i++)
                p->data[i] = fw_rng_uniform(&r) - 0.5f;
            fw_optim_config cfg;
            fw_optim_config_default(&cfg, (fw_optim_kind)kind);
            cfg.threads = t + 1;
            CHECK(fw_optim_create(&o[t], &cfg, &l[t], &err) == 0);
            for (int k = 0; k < 3; k++) {
                for (int64_t i = 0; i < p->numel; i++)
                    p->grad[i] = fw_rng_uniform(&r) - 0.5f;
                CHECK(fw_optim_step(o[t], &err) == 0);
            }
        }
        CHECK(memcmp(l[0].items[0]->data, l[1].items[0]->data, 150000 * sizeof(float)) == 0);
        for (int t = 0; t < 2; t++) {
            fw_optim_destroy(o[t]);
            fw_param_list_free_owned(&l[t]);
        }
    }
}

/* SGD with momentum 0 is plain SGD (no buffer, no step count); a later step
 * with momentum starts the buffer as a copy of the gradient. */
static void test_sgd_momentum_zero(void)
{
    fw_param_list l;
    fw_error err;
    fw_param *p;
    int64_t n = 3;
    fw_param_list_init(&l);
    CHECK(fw_param_list_add_owned(&l, "w", 1, &n, 0, 1, &p, &err) == 0);
    const float w0[3] = {1.0f, -2.0f, 0.25f}, g[3] = {0.5f, 0.125f, -1.0f};
    memcpy(p->data, w0, sizeof w0);
    memcpy(p->grad, g, sizeof g);
    fw_optim_config cfg;
    fw_optim_config_default(&cfg, FW_OPTIM_SGD);
    cfg.weight_decay = 0.1;
    fw_optim *o;
    CHECK(fw_optim_create(&o, &cfg, &l, &err) == 0);
    fw_optim_set_hyper(o, 0.5, 0.0);
    CHECK(fw_optim_step(o, &err) == 0);
    float w1[3];
    for (int i = 0; i < 3; i++) {
        w1[i] = w0[i] - 0.5f * (g[i] + 0.1f * w0[i]);
        CHECK_NEAR(p->data[i], w1[i], 1e-6);
    }
    fw_param *buf = fw_param_list_find(fw_optim_state(o), "optim.w.momentum_buffer");
    fw_param *st = fw_param_list_find(fw_optim_state(o), "optim.w.step");
    CHECK(buf && st && st->data[0] == 0.0f && buf->data[0] == 0.0f);
    fw_optim_set_hyper(o, 0.5, 0.9);
    CHECK(fw_optim_step(o, &err) == 0);
    for (int i = 0; i < 3; i++) {
        float d = g[i] + 0.1f * w1[i];
        CHECK_NEAR(buf->data[i], d, 1e-6);
        CHECK_NEAR(p->data[i], w1[i] - 0.5f * d, 1e-6);
    }
    CHECK(st->data[0] == 1.0f);
    fw_optim_destroy(o);
    fw_param_list_free_owned(&l);
}

static void test_clip_matches_torch(void)
{
    if (!fx_ok)
        SKIP("%s", fx_why);
    for (int c = 0; c < 2; c++) {
        fw_param_list l;
        fw_error err;
        fw_param_list_init(&l);
        char key[160];
        for (int i = 0; i < N_PARAMS; i++) {
            snprintf(key, sizeof key, "clip.%d.before.%s", c, names[i]);
            int64_t n = fx_count(&fx, key);
            fw_param *p;
            CHECK(fw_param_list_add_owned(&l, names[i], 1, &n, 0, 1, &p, &err) == 0);
            fx_get_f32(&fx, key, p->grad, n);
        }
        double max_norm, want_total, total = 0;
        snprintf(key, sizeof key, "clip.%d.max_norm", c);
        fx_get_f64(&fx, key, &max_norm, 1);
        snprintf(key, sizeof key, "clip.%d.total", c);
        fx_get_f64(&fx, key, &want_total, 1);
        CHECK_INT(fw_clip_grad_norm(&l, max_norm, &total, &err), 0);
        CHECK_NEAR(total / want_total, 1.0, TOL);
        CHECK_NEAR(fw_grad_global_norm(&l) / (c == 0 ? max_norm : want_total), 1.0, 2e-6);
        for (int i = 0; i < N_PARAMS; i++) {
            double e;
            snprintf(key, sizeof key, "clip.%d.after.%s", c, names[i]);
            CHECK_MSG(matches(l.items[i]->grad, l.items[i]->numel, key, &e), "%s rel err %g",
                      key, e);
        }
        fw_param_list_free_owned(&l);
    }
}

static void test_clip_nonfinite_and_buffers(void)
{
    fw_param_list l;
    fw_error err;
    fw_param *a, *b;
    int64_t n = 4;
    fw_param_list_init(&l);
    CHECK(fw_param_list_add_owned(&l, "a", 1, &n, 0, 1, &a, &err) == 0);
    CHECK(fw_param_list_add_owned(&l, "b", 1, &n, FW_PARAM_BUFFER, 1, &b, &err) == 0);
    for (int i = 0; i < 4; i++) {
        a->grad[i] = 3.0f;
        b->grad[i] = 1000.0f; /* a buffer: neither counted nor scaled */
    }
    double total;
    CHECK_INT(fw_clip_grad_norm(&l, 1.0, &total, &err), 0);
    CHECK_NEAR(total, 6.0, 1e-12);
    CHECK_NEAR(a->grad[0], 3.0 * 1.0 / (6.0 + 1e-6), 1e-7);
    CHECK(b->grad[0] == 1000.0f);
    const float clipped = a->grad[1];
    a->grad[2] = INFINITY;
    CHECK_INT(fw_clip_grad_norm(&l, 1.0, &total, &err), FW_CLIP_NONFINITE);
    CHECK(isinf(total));
    a->grad[2] = NAN;
    CHECK_INT(fw_clip_grad_norm(&l, 1.0, &total, &err), FW_CLIP_NONFINITE);
    CHECK(isnan(total));
    CHECK(isnan(a->grad[2]) && a->grad[1] == clipped); /* untouched */
    CHECK_INT(fw_clip_grad_norm(&l, 0.0, &total, &err), FW_EINVAL);
    fw_param_list_free_owned(&l);
}

static void test_config_errors(void)
{
    fw_param_list l;
    fw_error err;
    fw_optim *o;
    int64_t n = 2;
    fw_param_list_init(&l);
    char longname[FW_PARAM_NAME_MAX];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    CHECK(fw_param_list_add_owned(&l, longname, 1, &n, 0, 1, NULL, &err) == 0);
    fw_optim_config cfg;
    fw_optim_config_default(&cfg, FW_OPTIM_SGD);
    CHECK_INT(fw_optim_create(&o, &cfg, &l, &err), FW_EINVAL);
    CHECK(strstr(err.msg, "longer than") != NULL);
    fw_param_list_free_owned(&l);
    fw_param_list_init(&l);
    CHECK(fw_param_list_add_owned(&l, "w", 1, &n, 0, 1, NULL, &err) == 0);
    cfg.momentum = 1.0;
    CHECK_INT(fw_optim_create(&o, &cfg, &l, &err), FW_EINVAL);
    cfg.momentum = 0.0;
    cfg.nesterov = 1;
    CHECK_INT(fw_optim_create(&o, &cfg, &l, &err), FW_EINVAL);
    fw_optim_config_default(&cfg, FW_OPTIM_ADAMW);
    cfg.beta2 = 1.0;
    CHECK_INT(fw_optim_create(&o, &cfg, &l, &err), FW_EINVAL);
    fw_optim_config_default(&cfg, FW_OPTIM_ADAMW);
    CHECK(fw_optim_create(&o, &cfg, &l, &err) == 0);
    fw_optim_set_hyper(o, NAN, 0.9);
    CHECK_INT(fw_optim_step(o, &err), FW_EINVAL);
    fw_param *st = fw_param_list_find(fw_optim_state(o), "optim.w.step");
    st->data[0] = 16777216.0f;
    fw_optim_set_hyper(o, 1e-3, 0.9);
    CHECK_INT(fw_optim_step(o, &err), FW_ETOOBIG);
    fw_optim_destroy(o);
    fw_optim_kind k;
    CHECK(fw_optim_kind_parse("adamw", &k, &err) == 0 && k == FW_OPTIM_ADAMW);
    CHECK(fw_optim_kind_parse("adam", &k, &err) == FW_EINVAL);
    fw_param_list_free_owned(&l);
}

static void test_param_list_helpers(void)
{
    fw_param_list l;
    fw_error err;
    fw_param *p, *q;
    int64_t shape[2] = {2, 3};
    fw_param_list_init(&l);
    CHECK(fw_param_list_add_owned(&l, "a", 2, shape, 0, 1, &p, &err) == 0);
    CHECK(fw_param_list_add_owned(&l, "b", 1, shape, FW_PARAM_BUFFER, 0, &q, &err) == 0);
    CHECK_INT(p->numel, 6);
    CHECK(q->grad == NULL && p->grad != NULL);
    CHECK_INT(fw_param_list_add_owned(&l, "a", 1, shape, 0, 0, NULL, &err), FW_EINVAL);
    CHECK_INT(l.n, 2);
    CHECK(fw_param_list_find(&l, "b") == q && fw_param_list_find(&l, "c") == NULL);
    CHECK_INT(fw_param_list_index(&l, "b"), 1);
    CHECK_INT(fw_param_list_numel(&l, 0), 8);
    CHECK_INT(fw_param_list_numel(&l, FW_PARAM_BUFFER), 6);
    for (int i = 0; i < 6; i++)
        p->data[i] = (float)i, p->grad[i] = 1.0f;
    q->data[0] = 7.0f;
    fw_param_list_zero_grad(&l);
    CHECK(p->grad[3] == 0.0f);
    fw_param_snapshot snap;
    const fw_param_list *lists[1] = {&l};
    CHECK(fw_param_list_snapshot(lists, 1, &snap, &err) == 0);
    p->data[5] = -1.0f;
    q->data[0] = -1.0f;
    fw_param_list *wl[1] = {&l};
    CHECK(fw_param_list_restore(wl, 1, &snap, &err) == 0);
    CHECK(p->data[5] == 5.0f && q->data[0] == 7.0f);
    /* a list of another shape is refused and left alone */
    fw_param_list other;
    fw_param_list_init(&other);
    fw_param *r;
    CHECK(fw_param_list_add_owned(&other, "a", 1, shape, 0, 0, &r, &err) == 0);
    CHECK(fw_param_list_add_owned(&other, "b", 1, shape, 0, 0, NULL, &err) == 0);
    r->data[0] = 42.0f;
    fw_param_list *ol[1] = {&other};
    CHECK_INT(fw_param_list_restore(ol, 1, &snap, &err), FW_EINVAL);
    CHECK(r->data[0] == 42.0f);
    fw_param_snapshot_free(&snap);
    fw_param_list_free_owned(&other);
    fw_param_list_free_owned(&l);
    /* borrowed lists */
    fw_param stack = {.name = "s", .ndim = 1, .shape = {1}, .numel = 1};
    fw_param_list_init(&l);
    CHECK(fw_param_list_append(&l, &stack, &err) == 0);
    CHECK_INT(fw_param_list_append(&l, &stack, &err), FW_EINVAL);
    fw_param_list_free(&l);
    CHECK(l.n == 0 && l.items == NULL);
}

int main(void)
{
    char path[1024];
    fx_default_path(path, sizeof path);
    fx_ok = fx_open(&fx, path, fx_why, sizeof fx_why) == 0;
    RUN(test_sgd_matches_torch);
    RUN(test_sgd_nesterov_matches_torch);
    RUN(test_adamw_matches_torch);
    RUN(test_restore_continues_exactly);
    RUN(test_threads_identical);
    RUN(test_sgd_momentum_zero);
    RUN(test_clip_matches_torch);
    RUN(test_clip_nonfinite_and_buffers);
    RUN(test_config_errors);
    RUN(test_param_list_helpers);
    fx_close(&fx);
    return tap_done();
}
