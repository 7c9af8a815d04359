/* schedule.h — learning-rate and momentum schedules as pure functions of the
 * step, so a resumed run recomputes them instead of saving them.
 *
 * Kinds (step s counts optimizer steps from 0; with warm-up the main schedule
 * sees s - warmup_steps and spans total_steps - warmup_steps steps):
 *   constant   lr = lr_max
 *   one-cycle  fastai's fit_one_cycle: with pos = s/total, combined_cos(
 *              pct_start, lr_max/div, lr_max, lr_max/div_final) for the lr and
 *              combined_cos(pct_start, mom_max, mom_min, mom_max) for the
 *              momentum; combined_cos = cosine start->middle over [0, pct),
 *              middle->end over [pct, 1]; SchedCos(a, b, x) =
 *              a + (1 + cos(pi*(1-x)))*(b-a)/2.
 *   cosine     eta_min + (lr_max - eta_min)*(1 + cos(pi*s/total))/2 (as
 *              torch CosineAnnealingLR), eta_min after the end.
 *   sgdr       cosine with warm restarts (torch CosineAnnealingWarmRestarts):
 *              cycles of t0, t0*t_mult, t0*t_mult^2 ... steps.
 *   step       lr_max * gamma^floor(s/step_size) (torch StepLR)
 * Momentum is `momentum` for every kind but one-cycle.
 * Linear warm-up (any kind): for s < warmup_steps, lr = target *
 * (f + (1-f)*s/warmup_steps) with f = warmup_start_factor and target the
 * main schedule's lr at its step 0 (torch LinearLR); momentum is the main
 * schedule's at its step 0.
 */
#ifndef FW_SCHEDULE_H
#define FW_SCHEDULE_H

#include <stdint.h>

#include "fw_error.h"

typedef enum fw_schedule_kind {
    FW_SCHED_CONSTANT = 0,
    FW_SCHED_ONE_CYCLE,
    FW_SCHED_COSINE,
    FW_SCHED_SGDR,
    FW_SCHED_STEP,
} fw_schedule_kind;

typedef struct fw_schedule_config {
    fw_schedule_kind kind;
    double lr_max;        /* peak / base lr */
    int64_t total_steps;  /* whole run incl. warm-up (one-cycle, cosine) */
    double momentum;      /* momentum (AdamW beta1) for all kinds but one-cycle */
    /* one-cycle */
    double div, div_final, pct_start, mom_max, mom_min;
    /* cosine, sgdr */
    double eta_min;
    int64_t t0;           /* sgdr: first cycle length in steps */
    int t_mult;           /* sgdr: cycle length multiplier (>= 1) */
    /* step */
    int64_t step_size;
    double gamma;
    /* linear warm-up */
    int64_t warmup_steps;
    double warmup_start_factor;
} fw_schedule_config;

typedef struct fw_schedule_point {
    double lr;
    double momentum;
} fw_schedule_point;

/* Defaults for `kind`: fastai's one-cycle (div 25, div_final 1e5, pct_start
 * 0.25, momentum 0.95 -> 0.85 -> 0.95), momentum 0.9 otherwise, eta_min 0,
 * t0 1000, t_mult 2, step_size 1000, gamma 0.1, no warm-up (start factor 0.01
 * when enabled). lr_max = 1e-3, total_steps = 1000. */
void fw_schedule_config_default(fw_schedule_config *cfg, fw_schedule_kind kind);

/* FW_EINVAL (with the field named) when the config cannot be evaluated. */
int fw_schedule_validate(const fw_schedule_config *cfg, fw_error *err);

/* lr and momentum at step `step` (>= 0; steps past the end keep the final
 * value of one-cycle and cosine). cfg must have passed fw_schedule_validate. */
fw_schedule_point fw_schedule_at(const fw_schedule_config *cfg, int64_t step);

/* "constant", "one-cycle", "cosine", "sgdr", "step". */
int fw_schedule_kind_parse(const char *name, fw_schedule_kind *kind, fw_error *err);
const char *fw_schedule_kind_name(fw_schedule_kind kind);

#endif
