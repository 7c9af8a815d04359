/* run_series.c — incremental loading of one run's metric series from the
 * run store (see run_series.h). */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_series.h"

const char *fw_series_x_name(fw_series_x x)
{
    switch (x) {
    case FW_SERIES_X_EPOCH: return "epoch";
    case FW_SERIES_X_WALL: return "time";
    default: return "step";
    }
}

void fw_run_series_init(fw_run_series *rs) { memset(rs, 0, sizeof *rs); }

static void series_free(fw_series *s)
{
    free(s->step);
    free(s->step_x);
    free(s->epoch);
    free(s->wall);
    free(s->wall_x);
    free(s->value);
}

void fw_run_series_free(fw_run_series *rs)
{
    for (int i = 0; i < rs->n_series; i++)
        series_free(&rs->series[i]);
    free(rs->series);
    uint64_t version = rs->version;
    memset(rs, 0, sizeof *rs);
    rs->version = version + 1;
}

void fw_run_series_reset(fw_run_series *rs, const char *run_id)
{
    fw_run_series_free(rs);
    if (run_id)
        snprintf(rs->run_id, sizeof rs->run_id, "%s", run_id);
}

/* Grow one series' arrays to hold at least `need` points. */
static int series_reserve(fw_series *s, size_t need, fw_error *err)
{
    if (need <= s->cap)
        return FW_OK;
    size_t cap = s->cap ? s->cap : 256;
    while (cap < need)
        cap *= 2;
    int64_t *step = realloc(s->step, cap * sizeof *step);
    if (step)
        s->step = step;
    double **arrays[] = {&s->step_x, &s->epoch, &s->wall, &s->wall_x, &s->value};
    int ok = step != NULL;
    for (size_t i = 0; ok && i < sizeof arrays / sizeof arrays[0]; i++) {
        double *p = realloc(*arrays[i], cap * sizeof(double));
        if (p)
            *arrays[i] = p;
        else
            ok = 0;
    }
    if (!ok)
        return fw_fail(err, FW_ENOMEM, "run series %s: no memory for %zu points", s->name, cap);
    s->cap = cap;
    return FW_OK;
}

/* The series called name, created (empty) when missing. */
static int series_get(fw_run_series *rs, const char *name, fw_series **out, fw_error *err)
{
    for (int i = 0; i < rs->n_series; i++) {
        if (!strcmp(rs->series[i].name, name)) {
            *out = &rs->series[i];
            return FW_OK;
        }
    }
    fw_series *grown = realloc(rs->series, (size_t)(rs->n_series + 1) * sizeof *grown);
    if (!grown)
        return fw_fail(err, FW_ENOMEM, "run series: no memory for metric %s", name);
    rs->series = grown;
    fw_series *s = &rs->series[rs->n_series++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    *out = s;
    return FW_OK;
}

/* First index whose step is >= step (steps are increasing). */
static size_t lower_bound(const fw_series *s, int64_t step)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->step[mid] < step)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int fw_run_series_append(fw_run_series *rs, const fw_metric_point *points, int n, fw_error *err)
{
    if (n > 0 && !rs->has_t0) {
        rs->has_t0 = 1;
        rs->t0 = points[0].wall_time;
    }
    for (int i = 0; i < n; i++) {
        const fw_metric_point *p = &points[i];
        fw_series *s = NULL;
        FW_TRY(series_get(rs, p->name, &s, err));
        if (s->n > 0 && p->step <= s->step[s->n - 1])
            s->n = lower_bound(s, p->step); /* a repeat replaces what it repeats */
        FW_TRY(series_reserve(s, s->n + 1, err));
        size_t k = s->n++;
        s->step[k] = p->step;
        s->step_x[k] = (double)p->step;
        s->epoch[k] = p->epoch;
        s->wall[k] = p->wall_time;
        s->wall_x[k] = p->wall_time - rs->t0;
        s->value[k] = p->value;
        if (p->rowid > rs->last_rowid)
            rs->last_rowid = p->rowid;
    }
    if (n > 0)
        rs->version++;
    return FW_OK;
}

int fw_run_series_update(fw_run_series *rs, fw_store *s, const char *run_id, int max_rows,
                         int *n_new, fw_error *err)
{
    if (n_new)
        *n_new = 0;
    if (!run_id || !run_id[0]) {
        if (rs->run_id[0] || rs->n_series)
            fw_run_series_reset(rs, NULL);
        return FW_OK;
    }
    if (strcmp(rs->run_id, run_id) != 0)
        fw_run_series_reset(rs, run_id);
    fw_metric_query q = {
        .run_id = rs->run_id,
        .name = NULL,
        .after_rowid = rs->last_rowid,
        .min_step = INT64_MIN,
        .limit = max_rows > 0 ? max_rows : 0,
    };
    fw_metric_point *points = NULL;
    int n = 0;
    FW_TRY(fw_store_metrics_read(s, &q, &points, &n, err));
    int rc = fw_run_series_append(rs, points, n, err);
    free(points);
    if (rc == FW_OK && n_new)
        *n_new = n;
    return rc;
}

const fw_series *fw_run_series_find(const fw_run_series *rs, const char *name)
{
    for (int i = 0; i < rs->n_series; i++)
        if (!strcmp(rs->series[i].name, name))
            return &rs->series[i];
    return NULL;
}

const double *fw_series_x_values(const fw_series *s, fw_series_x x)
{
    switch (x) {
    case FW_SERIES_X_EPOCH: return s->epoch;
    case FW_SERIES_X_WALL: return s->wall_x;
    default: return s->step_x;
    }
}
