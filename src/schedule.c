/* schedule.c — lr/momentum schedules (see schedule.h), closed forms only. */
#include "schedule.h"

#include <math.h>
#include <string.h>

static const char *const kind_names[] = {"constant", "one-cycle", "cosine", "sgdr", "step"};
#define N_KINDS ((int)(sizeof kind_names / sizeof kind_names[0]))

void fw_schedule_config_default(fw_schedule_config *cfg, fw_schedule_kind kind)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->kind = kind;
    cfg->lr_max = 1e-3;
    cfg->total_steps = 1000;
    cfg->momentum = 0.9;
    cfg->div = 25.0;
    cfg->div_final = 1e5;
    cfg->pct_start = 0.25;
    cfg->mom_max = 0.95;
    cfg->mom_min = 0.85;
    cfg->eta_min = 0.0;
    cfg->t0 = 1000;
    cfg->t_mult = 2;
    cfg->step_size = 1000;
    cfg->gamma = 0.1;
    cfg->warmup_steps = 0;
    cfg->warmup_start_factor = 0.01;
}

int fw_schedule_kind_parse(const char *name, fw_schedule_kind *kind, fw_error *err)
{
    for (int k = 0; k < N_KINDS; k++)
        if (strcmp(name, kind_names[k]) == 0) {
            *kind = (fw_schedule_kind)k;
            return 0;
        }
    return fw_fail(err, FW_EINVAL,
                   "unknown schedule '%.60s' (constant, one-cycle, cosine, sgdr, step)", name);
}

const char *fw_schedule_kind_name(fw_schedule_kind kind)
{
    return (int)kind >= 0 && (int)kind < N_KINDS ? kind_names[kind] : "?";
}

static int finite_pos(double x)
{
    return isfinite(x) && x > 0;
}

int fw_schedule_validate(const fw_schedule_config *c, fw_error *err)
{
    if ((int)c->kind < 0 || (int)c->kind >= N_KINDS)
        return fw_fail(err, FW_EINVAL, "schedule: unknown kind %d", (int)c->kind);
    if (!isfinite(c->lr_max) || c->lr_max < 0)
        return fw_fail(err, FW_EINVAL, "schedule: lr %g must be finite and >= 0", c->lr_max);
    if (!(c->momentum >= 0 && c->momentum < 1))
        return fw_fail(err, FW_EINVAL, "schedule: momentum %g must be in [0, 1)", c->momentum);
    if (c->warmup_steps < 0)
        return fw_fail(err, FW_EINVAL, "schedule: warm-up steps %lld must be >= 0",
                       (long long)c->warmup_steps);
    if (c->warmup_steps > 0 && !(c->warmup_start_factor >= 0 && c->warmup_start_factor <= 1))
        return fw_fail(err, FW_EINVAL, "schedule: warm-up start factor %g must be in [0, 1]",
                       c->warmup_start_factor);
    if ((c->kind == FW_SCHED_ONE_CYCLE || c->kind == FW_SCHED_COSINE) &&
        c->total_steps - c->warmup_steps < 1)
        return fw_fail(err, FW_EINVAL,
                       "schedule: total steps %lld must exceed the warm-up steps %lld",
                       (long long)c->total_steps, (long long)c->warmup_steps);
    switch (c->kind) {
    case FW_SCHED_ONE_CYCLE:
        if (!finite_pos(c->div) || !finite_pos(c->div_final))
            return fw_fail(err, FW_EINVAL, "schedule: one-cycle div %g and div_final %g must be > 0",
                           c->div, c->div_final);
        if (!(c->pct_start > 0 && c->pct_start < 1))
            return fw_fail(err, FW_EINVAL, "schedule: one-cycle pct_start %g must be in (0, 1)",
                           c->pct_start);
        if (!(c->mom_max >= 0 && c->mom_max < 1 && c->mom_min >= 0 && c->mom_min < 1))
            return fw_fail(err, FW_EINVAL, "schedule: one-cycle momenta %g, %g must be in [0, 1)",
                           c->mom_max, c->mom_min);
        break;
    case FW_SCHED_COSINE:
        if (!(c->eta_min >= 0 && c->eta_min <= c->lr_max))
            return fw_fail(err, FW_EINVAL, "schedule: eta_min %g must be in [0, lr %g]",
                           c->eta_min, c->lr_max);
        break;
    case FW_SCHED_SGDR:
        if (c->t0 < 1 || c->t_mult < 1)
            return fw_fail(err, FW_EINVAL, "schedule: sgdr t0 %lld and t_mult %d must be >= 1",
                           (long long)c->t0, c->t_mult);
        if (!(c->eta_min >= 0 && c->eta_min <= c->lr_max))
            return fw_fail(err, FW_EINVAL, "schedule: eta_min %g must be in [0, lr %g]",
                           c->eta_min, c->lr_max);
        break;
    case FW_SCHED_STEP:
        if (c->step_size < 1)
            return fw_fail(err, FW_EINVAL, "schedule: step size %lld must be >= 1",
                           (long long)c->step_size);
        if (!(c->gamma > 0) || !isfinite(c->gamma))
            return fw_fail(err, FW_EINVAL, "schedule: gamma %g must be > 0", c->gamma);
        break;
    case FW_SCHED_CONSTANT:
        break;
    }
    return 0;
}

/* fastai's SchedCos: start -> end as pos goes 0 -> 1. */
static double sched_cos(double start, double end, double pos)
{
    return start + (1.0 + cos(M_PI * (1.0 - pos))) * (end - start) / 2.0;
}

/* fastai's combined_cos(pct, start, middle, end) at pos in [0, 1]. */
static double combined_cos(double pct, double start, double middle, double end, double pos)
{
    if (pos < pct)
        return sched_cos(start, middle, pos / pct);
    return sched_cos(middle, end, (pos - pct) / (1.0 - pct));
}

/* The main schedule (without warm-up) at its own step s over n steps. */
static fw_schedule_point main_at(const fw_schedule_config *c, int64_t s, int64_t n)
{
    fw_schedule_point pt = {c->lr_max, c->momentum};
    switch (c->kind) {
    case FW_SCHED_CONSTANT:
        break;
    case FW_SCHED_ONE_CYCLE: {
        double pos = s >= n ? 1.0 : (double)s / (double)n;
        pt.lr = combined_cos(c->pct_start, c->lr_max / c->div, c->lr_max,
                             c->lr_max / c->div_final, pos);
        pt.momentum = combined_cos(c->pct_start, c->mom_max, c->mom_min, c->mom_max, pos);
        break;
    }
    case FW_SCHED_COSINE: {
        int64_t t = s > n ? n : s;
        pt.lr = c->eta_min +
                (c->lr_max - c->eta_min) * (1.0 + cos(M_PI * (double)t / (double)n)) / 2.0;
        break;
    }
    case FW_SCHED_SGDR: {
        int64_t t = s, len = c->t0;
        /* Walk the cycles: at most ~63 iterations for t_mult >= 2. */
        if (c->t_mult == 1)
            t %= len;
        else
            while (t >= len) {
                t -= len;
                if (len > INT64_MAX / c->t_mult)
                    break;
                len *= c->t_mult;
            }
        pt.lr = c->eta_min +
                (c->lr_max - c->eta_min) * (1.0 + cos(M_PI * (double)t / (double)len)) / 2.0;
        break;
    }
    case FW_SCHED_STEP:
        pt.lr = c->lr_max * pow(c->gamma, (double)(s / c->step_size));
        break;
    }
    return pt;
}

fw_schedule_point fw_schedule_at(const fw_schedule_config *c, int64_t step)
{
    if (step < 0)
        step = 0;
    int64_t w = c->warmup_steps, n = c->total_steps - w;
    if (step < w) {
        fw_schedule_point target = main_at(c, 0, n);
        double f = c->warmup_start_factor;
        target.lr *= f + (1.0 - f) * (double)step / (double)w;
        return target;
    }
    return main_at(c, step - w, n);
}
