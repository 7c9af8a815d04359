/* run_summary.c — a run's best metrics, last loss, epochs and config for the
 * run commands (see run_summary.h). Metric series are read in pages so a run
 * with millions of points costs bounded memory. */
#include "run_summary.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { PAGE = 8192 };

/* Visit every point of one metric of a run, page by page. */
typedef void (*point_fn)(const fw_metric_point *p, void *ctx);

static int for_each_point(fw_store *s, const char *run_id, const char *name, point_fn fn,
                          void *ctx, fw_error *err)
{
    int64_t after = 0;
    for (;;) {
        fw_metric_query q = {.run_id = run_id, .name = name, .after_rowid = after,
                             .min_step = INT64_MIN, .limit = PAGE};
        fw_metric_point *pts = NULL;
        int n = 0;
        FW_TRY(fw_store_metrics_read(s, &q, &pts, &n, err));
        for (int i = 0; i < n; i++)
            fn(&pts[i], ctx);
        if (n > 0)
            after = pts[n - 1].rowid;
        free(pts);
        if (n < PAGE)
            return 0;
    }
}

static void note_epoch(fw_run_summary *sum, double epoch)
{
    if (!sum->has_epoch || epoch > sum->last_epoch)
        sum->last_epoch = epoch;
    sum->has_epoch = 1;
}

static void on_map5(const fw_metric_point *p, void *ctx)
{
    fw_run_summary *sum = ctx;
    sum->n_evals++;
    note_epoch(sum, p->epoch);
    if (isnan(p->value))
        return;
    if (!sum->has_best || p->value > sum->best_map5) {
        sum->has_best = 1;
        sum->best_map5 = p->value;
        sum->best_epoch = p->epoch;
        sum->best_step = p->step;
    }
}

static void on_loss(const fw_metric_point *p, void *ctx)
{
    fw_run_summary *sum = ctx;
    sum->has_loss = 1;
    sum->last_loss = p->value;
    sum->last_step = p->step;
    sum->n_loss_points++;
    note_epoch(sum, p->epoch);
}

typedef struct at_step {
    int64_t step;
    int found;
    double value;
} at_step;

static void on_at_step(const fw_metric_point *p, void *ctx)
{
    at_step *a = ctx;
    if (p->step == a->step) { /* the newest one at that step wins */
        a->found = 1;
        a->value = p->value;
    }
}

int fw_run_summary_read(fw_store *s, const char *run_id, fw_run_summary *out, fw_error *err)
{
    memset(out, 0, sizeof *out);
    FW_TRY(for_each_point(s, run_id, "val.map5", on_map5, out, err));
    FW_TRY(for_each_point(s, run_id, "train.loss", on_loss, out, err));
    if (out->has_best) {
        at_step a = {.step = out->best_step};
        FW_TRY(for_each_point(s, run_id, "val.top1", on_at_step, &a, err));
        out->has_best_top1 = a.found;
        out->best_top1 = a.value;
        a.found = 0;
        FW_TRY(for_each_point(s, run_id, "val.threshold", on_at_step, &a, err));
        out->has_best_threshold = a.found;
        out->best_threshold = a.value;
    }
    return 0;
}

int fw_run_summary_config(const fw_run_info *run, fw_run_config *cfg, int *had_text,
                          fw_error *err)
{
    fw_run_config_default(cfg);
    int has = run->config && run->config[0];
    if (had_text)
        *had_text = has;
    if (!has)
        return 0;
    char origin[64];
    snprintf(origin, sizeof origin, "run %s config", run->id);
    return fw_run_config_parse(cfg, run->config, origin, err);
}

double fw_run_duration(const fw_run_info *run, double now)
{
    if (run->started_at <= 0)
        return -1;
    double end = now; /* live, or ended without an end time */
    if (run->status != FW_RUN_RUNNING && run->status != FW_RUN_PAUSED)
        end = run->ended_at > 0 ? run->ended_at : run->updated_at > 0 ? run->updated_at : now;
    return end >= run->started_at ? end - run->started_at : 0;
}

void fw_format_duration(double seconds, char *buf, size_t cap)
{
    if (!(seconds >= 0)) {
        snprintf(buf, cap, "-");
        return;
    }
    long long t = (long long)(seconds + 0.5);
    long long d = t / 86400, h = t / 3600 % 24, m = t / 60 % 60, sec = t % 60;
    if (d > 0)
        snprintf(buf, cap, "%lldd%02lldh", d, h);
    else if (h > 0)
        snprintf(buf, cap, "%lldh%02lldm", h, m);
    else if (m > 0)
        snprintf(buf, cap, "%lldm%02llds", m, sec);
    else
        snprintf(buf, cap, "%llds", sec);
}

void fw_format_when(double t, double now, char *buf, size_t cap)
{
    if (t <= 0) {
        snprintf(buf, cap, "-");
        return;
    }
    time_t tt = (time_t)t, nn = (time_t)now;
    struct tm when, today;
    if (!localtime_r(&tt, &when) || !localtime_r(&nn, &today)) {
        snprintf(buf, cap, "-");
        return;
    }
    const char *fmt = "%Y-%m-%d";
    if (when.tm_year == today.tm_year && when.tm_yday == today.tm_yday)
        fmt = "%H:%M";
    else if (when.tm_year == today.tm_year)
        fmt = "%b %d %H:%M";
    if (strftime(buf, cap, fmt, &when) == 0 && cap > 0)
        snprintf(buf, cap, "-");
}
