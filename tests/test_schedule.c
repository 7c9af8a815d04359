/* test_schedule.c — lr/momentum schedules against reference curves in
 * tests/fixtures/ref/optim.bin: fastai's one-cycle (combined_cos, recomputed
 * in numpy by tests/ref/optim_ref.py), torch's CosineAnnealingLR,
 * CosineAnnealingWarmRestarts and StepLR; warm-up, validation and names.
 * Tolerance: per point |got - want| <= 1e-9 * |want| + 1e-15. */
#include <math.h>
#include <stdlib.h>

#include "optim_fixture.h"
#include "schedule.h"
#include "tap.h"

static fx_file fx;
static int fx_ok;
static char fx_why[256];

static int close_enough(double got, double want)
{
    return fabs(got - want) <= 1e-9 * fabs(want) + 1e-15;
}

/* Compare cfg's lr (and momentum when mom_key) with fixture curves. */
static void compare(const fw_schedule_config *cfg, const char *lr_key, const char *mom_key)
{
    fw_error err;
    CHECK_MSG(fw_schedule_validate(cfg, &err) == 0, "%s", err.msg);
    int64_t n = fx_count(&fx, lr_key);
    CHECK_MSG(n > 0, "missing %s", lr_key);
    if (n <= 0)
        return;
    double *lr = malloc((size_t)n * sizeof *lr), *mom = malloc((size_t)n * sizeof *mom);
    CHECK(fx_get_f64(&fx, lr_key, lr, n) == 0);
    if (mom_key)
        CHECK(fx_get_f64(&fx, mom_key, mom, n) == 0);
    int bad = 0;
    for (int64_t s = 0; s < n && bad < 5; s++) {
        fw_schedule_point pt = fw_schedule_at(cfg, s);
        if (!close_enough(pt.lr, lr[s])) {
            bad++;
            CHECK_MSG(0, "%s step %lld: lr %.17g, expected %.17g", lr_key, (long long)s, pt.lr,
                      lr[s]);
        }
        double want_mom = mom_key ? mom[s] : cfg->momentum;
        if (!close_enough(pt.momentum, want_mom)) {
            bad++;
            CHECK_MSG(0, "%s step %lld: momentum %.17g, expected %.17g", lr_key, (long long)s,
                      pt.momentum, want_mom);
        }
    }
    free(lr);
    free(mom);
}

static void test_one_cycle_matches_fastai(void)
{
    if (!fx_ok)
        SKIP("%s", fx_why);
    fw_schedule_config cfg;
    fw_schedule_config_default(&cfg, FW_SCHED_ONE_CYCLE);
    cfg.lr_max = 1e-2;
    cfg.total_steps = 200;
    compare(&cfg, "sched.onecycle.lr", "sched.onecycle.mom");
    /* the shape a user expects: lr_max/25 -> lr_max at 25% -> ~lr_max/1e5 */
    CHECK_NEAR(fw_schedule_at(&cfg, 0).lr, 1e-2 / 25, 1e-15);
    CHECK_NEAR(fw_schedule_at(&cfg, 50).lr, 1e-2, 1e-15);
    CHECK_NEAR(fw_schedule_at(&cfg, 50).momentum, 0.85, 1e-15);
    CHECK_NEAR(fw_schedule_at(&cfg, 0).momentum, 0.95, 1e-15);
    CHECK_NEAR(fw_schedule_at(&cfg, 200).lr, 1e-2 / 1e5, 1e-18);
    CHECK_NEAR(fw_schedule_at(&cfg, 5000).lr, 1e-2 / 1e5, 1e-18);
    CHECK_NEAR(fw_schedule_at(&cfg, 5000).momentum, 0.95, 1e-15);
}

static void test_one_cycle_with_warmup(void)
{
    if (!fx_ok)
        SKIP("%s", fx_why);
    fw_schedule_config cfg;
    fw_schedule_config_default(&cfg, FW_SCHED_ONE_CYCLE);
    cfg.lr_max = 1e-2;
    cfg.total_steps = 220;
    cfg.warmup_steps = 20;
    cfg.warmup_start_factor = 0.1;
    compare(&cfg, "sched.warm_onecycle.lr", "sched.warm_onecycle.mom");
}

static void test_cosine_matches_torch(void)
{
    if (!fx_ok)
        SKIP("%s", fx_why);
    fw_schedule_config cfg;
    fw_schedule_config_default(&cfg, FW_SCHED_COSINE);
    cfg.lr_max = 0.1;
    cfg.total_steps = 100;
    cfg.eta_min = 1e-5;
    compare(&cfg, "sched.cosine.lr", NULL);
    CHECK_NEAR(fw_schedule_at(&cfg, 1000).lr, 1e-5, 1e-18); /* stays at eta_min */
}

static void test_sgdr_matches_torch(void)
{
    if (!fx_ok)
        SKIP("%s", fx_why);
    fw_schedule_config cfg;
    fw_schedule_config_default(&cfg, FW_SCHED_SGDR);
    cfg.lr_max = 0.1;
    cfg.t0 = 10;
    cfg.t_mult = 2;
    cfg.eta_min = 1e-4;
    compare(&cfg, "sched.sgdr2.lr", NULL);
    cfg.t0 = 7;
    cfg.t_mult = 1;
    cfg.eta_min = 0;
    compare(&cfg, "sched.sgdr1.lr", NULL);
    /* restarts at 0, 7, 14, ... */
    CHECK(fw_schedule_at(&cfg, 14).lr == 0.1 && fw_schedule_at(&cfg, 13).lr < 0.01);
}

static void test_step_matches_torch(void)
{
    if (!fx_ok)
        SKIP("%s", fx_why);
    fw_schedule_config cfg;
    fw_schedule_config_default(&cfg, FW_SCHED_STEP);
    cfg.lr_max = 0.1;
    cfg.step_size = 7;
    cfg.gamma = 0.5;
    compare(&cfg, "sched.step.lr", NULL);
}

/* Warm-up closed form on a constant schedule, and momentum passing through. */
static void test_constant_with_warmup(void)
{
    fw_schedule_config cfg;
    fw_error err;
    fw_schedule_config_default(&cfg, FW_SCHED_CONSTANT);
    cfg.lr_max = 0.4;
    cfg.momentum = 0.8;
    cfg.warmup_steps = 4;
    cfg.warmup_start_factor = 0.2;
    CHECK(fw_schedule_validate(&cfg, &err) == 0);
    const double want[] = {0.08, 0.16, 0.24, 0.32, 0.4, 0.4, 0.4};
    for (int s = 0; s < 7; s++) {
        fw_schedule_point pt = fw_schedule_at(&cfg, s);
        CHECK_NEAR(pt.lr, want[s], 1e-15);
        CHECK_NEAR(pt.momentum, 0.8, 0);
    }
    /* the same warm-up ahead of a step schedule starts it at its step 0 */
    cfg.kind = FW_SCHED_STEP;
    cfg.step_size = 2;
    cfg.gamma = 0.1;
    CHECK_NEAR(fw_schedule_at(&cfg, 4).lr, 0.4, 1e-15);
    CHECK_NEAR(fw_schedule_at(&cfg, 6).lr, 0.04, 1e-15);
}

static void test_validation_and_names(void)
{
    fw_schedule_config cfg;
    fw_error err;
    fw_schedule_config_default(&cfg, FW_SCHED_ONE_CYCLE);
    CHECK(fw_schedule_validate(&cfg, &err) == 0);
    cfg.warmup_steps = cfg.total_steps;
    CHECK_INT(fw_schedule_validate(&cfg, &err), FW_EINVAL);
    fw_schedule_config_default(&cfg, FW_SCHED_ONE_CYCLE);
    cfg.pct_start = 1.0;
    CHECK_INT(fw_schedule_validate(&cfg, &err), FW_EINVAL);
    CHECK(strstr(err.msg, "pct_start") != NULL);
    fw_schedule_config_default(&cfg, FW_SCHED_SGDR);
    cfg.t_mult = 0;
    CHECK_INT(fw_schedule_validate(&cfg, &err), FW_EINVAL);
    fw_schedule_config_default(&cfg, FW_SCHED_STEP);
    cfg.gamma = 0;
    CHECK_INT(fw_schedule_validate(&cfg, &err), FW_EINVAL);
    fw_schedule_config_default(&cfg, FW_SCHED_COSINE);
    cfg.lr_max = NAN;
    CHECK_INT(fw_schedule_validate(&cfg, &err), FW_EINVAL);
    fw_schedule_kind k;
    for (int i = FW_SCHED_CONSTANT; i <= FW_SCHED_STEP; i++) {
        CHECK(fw_schedule_kind_parse(fw_schedule_kind_name((fw_schedule_kind)i), &k, &err) == 0);
        CHECK_INT(k, i);
    }
    CHECK_INT(fw_schedule_kind_parse("onecycle", &k, &err), FW_EINVAL);
}

int main(void)
{
    char path[1024];
    fx_default_path(path, sizeof path);
    fx_ok = fx_open(&fx, path, fx_why, sizeof fx_why) == 0;
    RUN(test_one_cycle_matches_fastai);
    RUN(test_one_cycle_with_warmup);
    RUN(test_cosine_matches_torch);
    RUN(test_sgdr_matches_torch);
    RUN(test_step_matches_torch);
    RUN(test_constant_with_warmup);
    RUN(test_validation_and_names);
    fx_close(&fx);
    return tap_done();
}
