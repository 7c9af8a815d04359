/* lr_finder.c — exponential lr sweep with a debiased EMA of the loss, a
 * divergence stop, weight restore, and fastai's valley/steep/minimum. */
#include "lr_finder.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "param_list.h"

#define SKIP_END 5 /* fastai's lr_find drops the last 5 recorded points */

void fw_lr_finder_config_default(fw_lr_finder_config *cfg)
{
    cfg->start_lr = 1e-7;
    cfg->end_lr = 10.0;
    cfg->num_it = 100;
    cfg->beta = 0.98;
    cfg->stop_factor = 4.0;
    cfg->observe = NULL;
    cfg->observe_ctx = NULL;
}

double fw_lr_finder_lr_at(const fw_lr_finder_config *cfg, int i)
{
    return cfg->start_lr * pow(cfg->end_lr / cfg->start_lr, (double)i / (double)(cfg->num_it - 1));
}

/* First index of the minimum; a NaN wins (torch.argmin propagates NaN). */
static int argmin_f(const float *x, int n)
{
    int best = 0;
    for (int i = 0; i < n; i++) {
        if (isnan(x[i]))
            return i;
        if (x[i] < x[best])
            best = i;
    }
    return best;
}

static int valley_index(const float *loss, int n)
{
    int *lds = malloc((size_t)n * sizeof *lds);
    if (!lds)
        return 0;
    for (int i = 0; i < n; i++)
        lds[i] = 1;
    int max_start = 0, max_end = 0;
    for (int i = 1; i < n; i++)
        for (int j = 0; j < i; j++) {
            if (loss[i] < loss[j] && lds[i] < lds[j] + 1)
                lds[i] = lds[j] + 1;
            if (lds[max_end] < lds[i]) {
                max_end = i;
                max_start = max_end - lds[max_end];
            }
        }
    free(lds);
    double sections = (double)(max_end - max_start) / 3.0;
    int idx = max_start + (int)sections + (int)(sections / 2.0);
    return idx < 0 ? idx + n : idx; /* Python's lrs[-1] */
}

void fw_lr_suggest(const double *lrs, const double *smoothed, int n, int num_it,
                   fw_lr_suggestions *out)
{
    memset(out, 0, sizeof *out);
    int begin = num_it / 10, end = n - SKIP_END;
    if (begin > n)
        begin = n;
    for (int i = begin; i < end; i++)
        if (isnan((float)smoothed[i])) {
            end = i;
            break;
        }
    int m = end - begin;
    if (m < 2)
        return;
    float *lr = malloc((size_t)m * sizeof *lr), *loss = malloc((size_t)m * sizeof *loss);
    float *grad = malloc((size_t)(m - 1) * sizeof *grad);
    if (!lr || !loss || !grad)
        goto done;
    for (int i = 0; i < m; i++) {
        lr[i] = (float)lrs[begin + i];
        loss[i] = (float)smoothed[begin + i];
    }
    int v = valley_index(loss, m);
    for (int i = 0; i + 1 < m; i++)
        grad[i] = (loss[i + 1] - loss[i]) / (logf(lr[i + 1]) - logf(lr[i]));
    int s = argmin_f(grad, m - 1);
    int mn = argmin_f(loss, m);
    out->valley = lr[v];
    out->valley_idx = begin + v;
    out->steep = lr[s];
    out->steep_idx = begin + s;
    out->minimum = (double)lr[mn] / 10.0;
    out->minimum_idx = begin + mn;
    out->valid = 1;
done:
    free(lr);
    free(loss);
    free(grad);
}

void fw_lr_finder_result_free(fw_lr_finder_result *res)
{
    free(res->lrs);
    free(res->losses);
    free(res->smoothed);
    memset(res, 0, sizeof *res);
}

static int check_config(const fw_lr_finder_config *c, fw_error *err)
{
    if (!(c->start_lr > 0) || !(c->end_lr > c->start_lr) || !isfinite(c->end_lr))
        return fw_fail(err, FW_EINVAL, "lr finder: need 0 < start lr (%g) < end lr (%g)",
                       c->start_lr, c->end_lr);
    if (c->num_it < 6 || c->num_it > 100000)
        return fw_fail(err, FW_EINVAL, "lr finder: %d iterations (6..100000)", c->num_it);
    if (!(c->beta >= 0 && c->beta < 1))
        return fw_fail(err, FW_EINVAL, "lr finder: smoothing beta %g must be in [0, 1)", c->beta);
    if (!isfinite(c->stop_factor))
        return fw_fail(err, FW_EINVAL, "lr finder: stop factor %g must be finite", c->stop_factor);
    return 0;
}

int fw_lr_find(const fw_lr_finder_config *cfg, fw_param_list *const *lists, int n_lists,
               fw_lr_step_fn step, void *ctx, fw_lr_finder_result *res, fw_error *err)
{
    memset(res, 0, sizeof *res);
    FW_TRY(check_config(cfg, err));
    int n = cfg->num_it;
    res->lrs = malloc((size_t)n * sizeof(double));
    res->losses = malloc((size_t)n * sizeof(double));
    res->smoothed = malloc((size_t)n * sizeof(double));
    if (!res->lrs || !res->losses || !res->smoothed) {
        fw_lr_finder_result_free(res);
        return fw_fail(err, FW_ENOMEM, "lr finder: out of memory");
    }
    fw_param_snapshot snap;
    int rc = fw_param_list_snapshot((const fw_param_list *const *)lists, n_lists, &snap, err);
    if (rc < 0) {
        fw_lr_finder_result_free(res);
        return fw_error_prefix(err, "lr finder: ");
    }
    double avg = 0.0, best = INFINITY, beta_pow = 1.0;
    for (int i = 0; i < n; i++) {
        double lr = fw_lr_finder_lr_at(cfg, i), loss = NAN;
        rc = step(ctx, lr, &loss, err);
        if (rc < 0)
            break;
        avg = cfg->beta * avg + (1.0 - cfg->beta) * loss;
        beta_pow *= cfg->beta;
        double smooth = avg / (1.0 - beta_pow);
        res->lrs[i] = lr;
        res->losses[i] = loss;
        res->smoothed[i] = smooth;
        res->n = i + 1;
        if (cfg->observe)
            cfg->observe(cfg->observe_ctx, i, lr, loss, smooth);
        if (smooth < best)
            best = smooth;
        if (!isfinite(smooth) || (cfg->stop_factor > 0 && smooth > cfg->stop_factor * best)) {
            res->diverged = 1;
            break;
        }
    }
    int restore_rc = fw_param_list_restore(lists, n_lists, &snap, rc < 0 ? NULL : err);
    fw_param_snapshot_free(&snap);
    if (rc < 0 || restore_rc < 0) {
        fw_lr_finder_result_free(res);
        return rc < 0 ? rc : restore_rc;
    }
    fw_lr_suggest(res->lrs, res->smoothed, res->n, cfg->num_it, &res->suggest);
    return 0;
}
