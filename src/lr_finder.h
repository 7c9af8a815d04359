/* lr_finder.h — the learning-rate range test (fastai's lr_find).
 *
 * The finder runs up to num_it training steps with an exponentially growing
 * lr, lr_i = start*(end/start)^(i/(num_it-1)), through a caller's step
 * callback. It smooths the loss with a debiased EMA (beta = 0.98:
 * avg = beta*avg + (1-beta)*loss, smoothed_i = avg/(1-beta^(i+1))), stops
 * once the smoothed loss exceeds stop_factor (4) x the best smoothed loss so
 * far or is NaN/Inf, and puts every tensor of the given lists (model weights,
 * buffers, optimizer state) back exactly as they were before it started.
 *
 * Suggestions follow fastai's lr_find: from the recorded (smoothed) curve,
 * drop the first num_it/10 points (integer division, num_it being the
 * requested count) and the last 5, then everything from the first NaN on;
 * then, on float32 values as fastai's tensors hold them,
 *   valley:  longest strictly decreasing subsequence of the losses (O(n^2)
 *            DP), ending at max_end, max_start = max_end - its length;
 *            sections = (max_end - max_start)/3; idx = max_start +
 *            int(sections) + int(sections/2) (Python indexing: -1 = last);
 *            lr = lrs[idx].
 *   steep:   lrs[argmin_i (loss[i+1]-loss[i])/(log lr[i+1] - log lr[i])]
 *   minimum: lrs[argmin loss] / 10
 * (argmin: first minimum; a NaN, if any, counts as the minimum as in torch.)
 */
#ifndef FW_LR_FINDER_H
#define FW_LR_FINDER_H

#include "fw_error.h"
#include "param.h"

typedef struct fw_lr_finder_config {
    double start_lr;    /* 1e-7 */
    double end_lr;      /* 10 */
    int num_it;         /* 100 (>= 6) */
    double beta;        /* 0.98 */
    double stop_factor; /* 4; <= 0 disables the divergence stop (NaN/Inf still stop) */
    /* Optional (NULL by default): called after each recorded step with the
     * point just recorded (index i, its lr, raw and smoothed loss), in order,
     * so a caller can publish the curve while it grows. */
    void (*observe)(void *ctx, int i, double lr, double loss, double smoothed);
    void *observe_ctx;
} fw_lr_finder_config;

void fw_lr_finder_config_default(fw_lr_finder_config *cfg);

/* One training step at `lr`: forward, backward, optimizer step. *loss is the
 * step's training loss (before the update). A negative return aborts the
 * search (weights are still restored). */
typedef int (*fw_lr_step_fn)(void *ctx, double lr, double *loss, fw_error *err);

typedef struct fw_lr_suggestions {
    int valid;        /* 0 when too few points remained after skipping */
    double valley;    /* fastai's default suggestion */
    double steep;
    double minimum;   /* lr at the minimum loss / 10 */
    /* indices into the curve passed in (or into fw_lr_finder_result) */
    int valley_idx, steep_idx, minimum_idx;
} fw_lr_suggestions;

typedef struct fw_lr_finder_result {
    int n;            /* steps recorded */
    double *lrs;      /* (n) */
    double *losses;   /* (n) raw losses from the callback */
    double *smoothed; /* (n) debiased EMA */
    int diverged;     /* stopped by the divergence rule (or a NaN/Inf loss) */
    fw_lr_suggestions suggest;
} fw_lr_finder_result;

/* Run the range test. `lists` (n_lists of them) are snapshotted before the
 * first step and restored after the last (also on error). res is filled on
 * success; free it with fw_lr_finder_result_free. */
int fw_lr_find(const fw_lr_finder_config *cfg, fw_param_list *const *lists, int n_lists,
               fw_lr_step_fn step, void *ctx, fw_lr_finder_result *res, fw_error *err);

void fw_lr_finder_result_free(fw_lr_finder_result *res);

/* The lr of sweep point i of n (exponential from start to end). */
double fw_lr_finder_lr_at(const fw_lr_finder_config *cfg, int i);

/* fastai's suggestions (see above) from a recorded curve of n points, with
 * num_it the requested number of iterations. */
void fw_lr_suggest(const double *lrs, const double *smoothed, int n, int num_it,
                   fw_lr_suggestions *out);

#endif
