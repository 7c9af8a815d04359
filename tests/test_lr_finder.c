/* test_lr_finder.c — the LR range test: suggestions against a numpy
 * reimplementation of fastai's valley/steep/minimum (fixture curves from
 * tests/ref/optim_ref.py), the sweep and the debiased EMA against closed
 * forms, the divergence stop against a brute-force replay, bit-exact restore
 * of weights and optimizer state, and a quadratic where the right lr is
 * known (SGD diverges above 2/a_max). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lr_finder.h"
#include "optim.h"
#include "optim_fixture.h"
#include "param_list.h"
#include "rng.h"
#include "tap.h"

static fx_file fx;
static int fx_ok;
static char fx_why[256];

static void test_suggestions_match_fastai(void)
{
    if (!fx_ok)
        SKIP("%s", fx_why);
    double count;
    CHECK(fx_get_f64(&fx, "lrf.count", &count, 1) == 0);
    CHECK(count >= 8);
    for (int k = 0; k < (int)count; k++) {
        char key[64];
        snprintf(key, sizeof key, "lrf.%d.lrs", k);
        int64_t n = fx_count(&fx, key);
        CHECK_MSG(n > 0, "missing %s", key);
        if (n <= 0)
            continue;
        double *lrs = malloc((size_t)n * sizeof *lrs), *sm = malloc((size_t)n * sizeof *sm);
        double num_it, want[6];
        fx_get_f64(&fx, key, lrs, n);
        snprintf(key, sizeof key, "lrf.%d.smoothed", k);
        CHECK(fx_get_f64(&fx, key, sm, n) == 0);
        snprintf(key, sizeof key, "lrf.%d.num_it", k);
        CHECK(fx_get_f64(&fx, key, &num_it, 1) == 0);
        snprintf(key, sizeof key, "lrf.%d.expect", k);
        CHECK(fx_get_f64(&fx, key, want, 6) == 0);
        fw_lr_suggestions s;
        fw_lr_suggest(lrs, sm, (int)n, (int)num_it, &s);
        CHECK_MSG(s.valid, "curve %d: no suggestions", k);
        CHECK_MSG(s.valley_idx == (int)want[3], "curve %d: valley at %d, fastai %d", k,
                  s.valley_idx, (int)want[3]);
        CHECK_MSG(s.steep_idx == (int)want[4], "curve %d: steep at %d, fastai %d", k,
                  s.steep_idx, (int)want[4]);
        CHECK_MSG(s.minimum_idx == (int)want[5], "curve %d: minimum at %d, fastai %d", k,
                  s.minimum_idx, (int)want[5]);
        CHECK_NEAR(s.valley / want[0], 1.0, 1e-6);
        CHECK_NEAR(s.steep / want[1], 1.0, 1e-6);
        CHECK_NEAR(s.minimum / want[2], 1.0, 1e-6);
        free(lrs);
        free(sm);
    }
    /* too few points after skipping num_it/10 and 5: no suggestion */
    double lrs[16], sm[16];
    for (int i = 0; i < 16; i++)
        lrs[i] = 1e-3 * (i + 1), sm[i] = 1.0 / (i + 1);
    fw_lr_suggestions s;
    fw_lr_suggest(lrs, sm, 16, 100, &s);
    CHECK(!s.valid);
}

/* A scripted loss sequence (no model). */
typedef struct scripted {
    const double *loss;
    int n, calls;
    double lr_seen[200];
    int fail_at;
} scripted;

static int scripted_step(void *ctx, double lr, double *loss, fw_error *err)
{
    scripted *s = ctx;
    if (s->calls == s->fail_at)
        return fw_fail(err, FW_EIO, "scripted failure at step %d", s->calls);
    s->lr_seen[s->calls] = lr;
    *loss = s->loss[s->calls % s->n];
    s->calls++;
    return 0;
}

/* Closed-form debiased EMA: sum_k (1-b) b^(i-k) x_k / (1 - b^(i+1)). */
static double ema_closed(const double *x, int i, double b)
{
    double num = 0;
    for (int k = 0; k <= i; k++)
        num += (1 - b) * pow(b, i - k) * x[k];
    return num / (1 - pow(b, i + 1));
}

static void test_sweep_and_smoothing(void)
{
    double loss[100];
    for (int i = 0; i < 100; i++)
        loss[i] = 2.0 + 0.3 * sin(0.7 * i) - 0.01 * i;
    scripted s = {loss, 100, 0, {0}, -1};
    fw_lr_finder_config cfg;
    fw_lr_finder_config_default(&cfg);
    fw_lr_finder_result r;
    fw_error err;
    CHECK(fw_lr_find(&cfg, NULL, 0, scripted_step, &s, &r, &err) == 0);
    CHECK_INT(r.n, 100);
    CHECK_INT(s.calls, 100);
    CHECK(!r.diverged);
    CHECK_NEAR(r.lrs[0], 1e-7, 1e-21);
    CHECK_NEAR(r.lrs[99] / 10.0, 1.0, 1e-12);
    for (int i = 0; i < 100; i++) {
        double want = 1e-7 * pow(1e8, i / 99.0);
        CHECK_NEAR(r.lrs[i] / want, 1.0, 1e-12);
        CHECK(s.lr_seen[i] == r.lrs[i]);
        CHECK(r.losses[i] == loss[i]);
        CHECK_NEAR(r.smoothed[i] / ema_closed(loss, i, 0.98), 1.0, 1e-12);
        if (i + 1 < 100)
            CHECK(r.lrs[i + 1] > r.lrs[i]);
    }
    CHECK(r.suggest.valid);
    fw_lr_suggestions again;
    fw_lr_suggest(r.lrs, r.smoothed, r.n, 100, &again);
    CHECK(again.valley == r.suggest.valley && again.steep_idx == r.suggest.steep_idx);
    fw_lr_finder_result_free(&r);
}

/* Replay of the stop rule, written independently of the library. */
static int expected_stop(const double *loss, int n, double factor)
{
    double best = INFINITY;
    for (int i = 0; i < n; i++) {
        double sm = ema_closed(loss, i, 0.98);
        best = fmin(best, sm);
        if (isnan(sm) || isinf(sm) || (factor > 0 && sm > factor * best))
            return i + 1;
    }
    return n;
}

static void test_stop_rule(void)
{
    fw_lr_finder_config cfg;
    fw_lr_finder_config_default(&cfg);
    fw_lr_finder_result r;
    fw_error err;
    double loss[100];
    for (int i = 0; i < 100; i++) /* falls, then explodes */
        loss[i] = i < 60 ? 3.0 - 0.04 * i : 0.6 * exp(0.3 * (i - 60));
    int want = expected_stop(loss, 100, 4.0);
    CHECK(want > 60 && want < 100);
    scripted s = {loss, 100, 0, {0}, -1};
    CHECK(fw_lr_find(&cfg, NULL, 0, scripted_step, &s, &r, &err) == 0);
    CHECK_INT(r.n, want);
    CHECK_INT(s.calls, want);
    CHECK(r.diverged);
    CHECK(r.smoothed[r.n - 1] > 4.0 * r.smoothed[r.n - 2] || r.smoothed[r.n - 1] > 4.0 * 0.6);
    fw_lr_finder_result_free(&r);
    /* stop_factor 2 stops earlier */
    s.calls = 0;
    cfg.stop_factor = 2.0;
    CHECK(fw_lr_find(&cfg, NULL, 0, scripted_step, &s, &r, &err) == 0);
    CHECK_INT(r.n, expected_stop(loss, 100, 2.0));
    CHECK(r.n < want);
    fw_lr_finder_result_free(&r);
    /* a NaN loss stops at once, even with the divergence stop off */
    loss[30] = NAN;
    s.calls = 0;
    cfg.stop_factor = 0;
    CHECK(fw_lr_find(&cfg, NULL, 0, scripted_step, &s, &r, &err) == 0);
    CHECK_INT(r.n, 31);
    CHECK(r.diverged && isnan(r.smoothed[30]));
    CHECK(r.suggest.valid); /* 31 - 10 - 5 points remain */
    CHECK(r.suggest.minimum_idx < 26);
    fw_lr_finder_result_free(&r);
    loss[30] = INFINITY;
    s.calls = 0;
    CHECK(fw_lr_find(&cfg, NULL, 0, scripted_step, &s, &r, &err) == 0);
    CHECK_INT(r.n, 31);
    fw_lr_finder_result_free(&r);
    /* config errors */
    cfg.num_it = 5;
    CHECK_INT(fw_lr_find(&cfg, NULL, 0, scripted_step, &s, &r, &err), FW_EINVAL);
    fw_lr_finder_config_default(&cfg);
    cfg.end_lr = cfg.start_lr;
    CHECK_INT(fw_lr_find(&cfg, NULL, 0, scripted_step, &s, &r, &err), FW_EINVAL);
}

/* ---- a quadratic: L(w) = 0.5 * sum_k a_k (w_k - c_k)^2, a_k in [1, 10] ----
 * The reported loss carries 3% multiplicative noise, as a minibatch loss
 * does (fastai's valley assumes a noisy flat start). */
#define QDIM 16
typedef struct quad {
    fw_param_list params;
    fw_param *w;
    fw_optim *opt;
    double a[QDIM], c[QDIM];
    int fail_at, calls;
    fw_rng noise;
} quad;

static double quad_loss_grad(quad *q)
{
    double loss = 0;
    for (int k = 0; k < QDIM; k++) {
        double d = q->w->data[k] - q->c[k];
        loss += 0.5 * q->a[k] * d * d;
        q->w->grad[k] = (float)(q->a[k] * d);
    }
    return loss;
}

static int quad_step(void *ctx, double lr, double *loss, fw_error *err)
{
    quad *q = ctx;
    if (q->calls++ == q->fail_at)
        return fw_fail(err, FW_EIO, "quad: scripted failure");
    *loss = quad_loss_grad(q) * (1.0 + 0.03 * (2.0 * fw_rng_uniform(&q->noise) - 1.0));
    fw_optim_set_hyper(q->opt, lr, fw_optim_momentum(q->opt));
    return fw_optim_step(q->opt, err);
}

static void quad_init(quad *q, double momentum)
{
    fw_error err;
    int64_t n = QDIM;
    memset(q, 0, sizeof *q);
    q->fail_at = -1;
    fw_rng_init(&q->noise, 11, 0);
    fw_param_list_init(&q->params);
    CHECK(fw_param_list_add_owned(&q->params, "w", 1, &n, 0, 1, &q->w, &err) == 0);
    for (int k = 0; k < QDIM; k++) {
        q->a[k] = 1.0 + 9.0 * k / (QDIM - 1);
        q->c[k] = sin(1.0 + k);
        q->w->data[k] = (float)(2.0 * cos(2.0 + 3.0 * k));
    }
    fw_optim_config cfg;
    fw_optim_config_default(&cfg, FW_OPTIM_SGD);
    cfg.momentum = momentum;
    cfg.weight_decay = 0;
    CHECK(fw_optim_create(&q->opt, &cfg, &q->params, &err) == 0);
}

static void quad_free(quad *q)
{
    fw_optim_destroy(q->opt);
    fw_param_list_free_owned(&q->params);
}

static size_t snap_bytes(const fw_param_snapshot *s)
{
    int64_t total = 0;
    for (int i = 0; i < s->n; i++)
        total += s->numel[i];
    return (size_t)total * sizeof(float);
}

static void test_restore_bit_identical(void)
{
    quad q;
    fw_error err;
    quad_init(&q, 0.9);
    /* take two real steps first so the optimizer state is not all zero */
    for (int i = 0; i < 2; i++) {
        double l;
        CHECK(quad_step(&q, 0.01, &l, &err) == 0);
    }
    fw_param_list *lists[2] = {&q.params, fw_optim_state(q.opt)};
    fw_param_snapshot before;
    CHECK(fw_param_list_snapshot((const fw_param_list *const *)lists, 2, &before, &err) == 0);
    fw_lr_finder_config cfg;
    fw_lr_finder_config_default(&cfg);
    fw_lr_finder_result r;
    CHECK(fw_lr_find(&cfg, lists, 2, quad_step, &q, &r, &err) == 0);
    CHECK(r.diverged); /* lr reaches 10 >> 2/a_max */
    fw_param_snapshot after;
    CHECK(fw_param_list_snapshot((const fw_param_list *const *)lists, 2, &after, &err) == 0);
    CHECK_INT(after.n, before.n);
    CHECK_INT(snap_bytes(&before), (2 * QDIM + 1) * sizeof(float));
    CHECK(memcmp(after.data, before.data, snap_bytes(&before)) == 0);
    fw_param_snapshot_free(&after);
    fw_lr_finder_result_free(&r);
    /* a failing step: the error comes back and the weights are still restored */
    q.calls = 0;
    q.fail_at = 40;
    CHECK_INT(fw_lr_find(&cfg, lists, 2, quad_step, &q, &r, &err), FW_EIO);
    CHECK(strstr(err.msg, "scripted failure") != NULL);
    CHECK(r.lrs == NULL);
    CHECK(fw_param_list_snapshot((const fw_param_list *const *)lists, 2, &after, &err) == 0);
    CHECK(memcmp(after.data, before.data, snap_bytes(&before)) == 0);
    fw_param_snapshot_free(&after);
    fw_param_snapshot_free(&before);
    quad_free(&q);
}

/* Loss after `steps` SGD steps at `lr` from the quadratic's start. */
static double quad_train(double lr, int steps)
{
    quad q;
    fw_error err;
    double loss = 0;
    quad_init(&q, 0.0);
    for (int i = 0; i < steps; i++)
        CHECK(quad_step(&q, lr, &loss, &err) == 0);
    loss = quad_loss_grad(&q);
    quad_free(&q);
    return loss;
}

static void test_quadratic_suggestion_sensible(void)
{
    quad q;
    fw_error err;
    quad_init(&q, 0.0);
    fw_param_list *lists[2] = {&q.params, fw_optim_state(q.opt)};
    fw_lr_finder_config cfg;
    fw_lr_finder_config_default(&cfg);
    fw_lr_finder_result r;
    CHECK(fw_lr_find(&cfg, lists, 2, quad_step, &q, &r, &err) == 0);
    double limit = 2.0 / 10.0; /* plain SGD diverges above 2 / a_max */
    printf("#   quadratic: valley %.3g steep %.3g minimum/10 %.3g (stability limit %.3g), "
           "%d steps\n", r.suggest.valley, r.suggest.steep, r.suggest.minimum, limit, r.n);
    CHECK(r.suggest.valid);
    CHECK(r.diverged && r.lrs[r.n - 1] > limit);
    /* all three below the stability limit, within two decades of it */
    CHECK(r.suggest.valley > limit / 100 && r.suggest.valley < limit);
    CHECK(r.suggest.steep > limit / 100 && r.suggest.steep < limit);
    CHECK(r.suggest.minimum > limit / 100 && r.suggest.minimum < limit);
    /* training at each cuts the loss 100-fold, and beats 1/100 of it 100-fold */
    const double picks[3] = {r.suggest.valley, r.suggest.steep, r.suggest.minimum};
    double start = quad_train(0, 0);
    for (int i = 0; i < 3; i++) {
        double at = quad_train(picks[i], 200), slow = quad_train(picks[i] / 100, 200);
        printf("#   lr %.3g: loss %.4g -> %.4g after 200 steps (%.4g at lr/100)\n", picks[i],
               start, at, slow);
        CHECK(at < 0.01 * start);
        CHECK(at < 0.01 * slow);
    }
    fw_lr_finder_result_free(&r);
    quad_free(&q);
}

int main(void)
{
    char path[1024];
    fx_default_path(path, sizeof path);
    fx_ok = fx_open(&fx, path, fx_why, sizeof fx_why) == 0;
    RUN(test_suggestions_match_fastai);
    RUN(test_sweep_and_smoothing);
    RUN(test_stop_rule);
    RUN(test_restore_bit_identical);
    RUN(test_quadratic_suggestion_sensible);
    fx_close(&fx);
    return tap_done();
}
