/* run_progress.c — progress, pace, ETA, status words and bars of runs for
 * the Runs screen (see run_progress.h). Pure: plain structs in, text out. */
#include "run_progress.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------- summary */

static void note_epoch(fw_run_summary *sum, double epoch)
{
    if (!sum->has_epoch || epoch > sum->last_epoch)
        sum->last_epoch = epoch;
    sum->has_epoch = 1;
}

void fw_progress_fold_point(fw_run_summary *sum, const fw_metric_point *p)
{
    if (strcmp(p->name, "val.map5") == 0) {
        sum->n_evals++;
        note_epoch(sum, p->epoch);
        if (!isnan(p->value) && (!sum->has_best || p->value > sum->best_map5)) {
            sum->has_best = 1;
            sum->best_map5 = p->value;
            sum->best_epoch = p->epoch;
            sum->best_step = p->step;
        }
    } else if (strcmp(p->name, "train.loss") == 0) {
        sum->has_loss = 1;
        sum->last_loss = p->value;
        sum->last_step = p->step;
        sum->n_loss_points++;
        note_epoch(sum, p->epoch);
    }
}

/* ---------------------------------------------------------------- pace */

void fw_rate_reset(fw_rate_tracker *r)
{
    memset(r, 0, sizeof *r);
}

static void push_sample(fw_rate_tracker *r, double t, double x)
{
    int at;
    if (r->n < FW_RATE_SAMPLES) {
        at = (r->head + r->n) % FW_RATE_SAMPLES;
        r->n++;
    } else { /* full: the oldest goes */
        at = r->head;
        r->head = (r->head + 1) % FW_RATE_SAMPLES;
    }
    r->t[at] = t;
    r->x[at] = x;
}

void fw_rate_add(fw_rate_tracker *r, double t, double x)
{
    if (!isfinite(t) || !isfinite(x))
        return;
    if (r->has_last && (t - r->last_t > FW_RATE_GAP_S || x < r->last_x || t < r->last_t))
        fw_rate_reset(r);
    int newest = (r->head + r->n - 1) % FW_RATE_SAMPLES;
    if (r->n == 0 || t - r->t[newest] >= FW_RATE_SPACING_S)
        push_sample(r, t, x);
    r->last_t = t;
    r->last_x = x;
    r->has_last = 1;
}

double fw_rate_per_s(const fw_rate_tracker *r)
{
    if (!r->has_last || r->n == 0)
        return 0;
    double span = r->last_t - r->t[r->head];
    double gain = r->last_x - r->x[r->head];
    if (span < FW_RATE_MIN_SPAN_S || !(gain > 0))
        return 0;
    return gain / span;
}

/* ------------------------------------------------------------ progress */

fw_theme_role fw_run_status_role(fw_run_status st)
{
    switch (st) {
    case FW_RUN_QUEUED: return FW_ROLE_STATUS_QUEUED;
    case FW_RUN_RUNNING: return FW_ROLE_STATUS_RUNNING;
    case FW_RUN_PAUSED: return FW_ROLE_STATUS_PAUSED;
    case FW_RUN_FINISHED: return FW_ROLE_STATUS_FINISHED;
    case FW_RUN_FAILED: return FW_ROLE_STATUS_FAILED;
    case FW_RUN_INTERRUPTED: return FW_ROLE_STATUS_INTERRUPTED;
    }
    return FW_ROLE_TEXT;
}

static int percent(long done, long total)
{
    if (total <= 0 || done <= 0)
        return 0;
    if (done >= total)
        return 100;
    return (int)(100.0 * (double)done / (double)total);
}

/* The status word of a run this process trains, from its phase. */
static void phase_word(const fw_trainer_state *ts, const fw_run_info *run, char *buf, size_t cap)
{
    switch (ts->phase) {
    case FW_PHASE_STARTING: snprintf(buf, cap, "starting"); return;
    case FW_PHASE_LOADING: snprintf(buf, cap, "loading %d%%", percent(ts->done, ts->total)); return;
    case FW_PHASE_LR_FIND: snprintf(buf, cap, "lr-find %d%%", percent(ts->done, ts->total)); return;
    case FW_PHASE_EVALUATING: snprintf(buf, cap, "eval %d%%", percent(ts->done, ts->total)); return;
    case FW_PHASE_PAUSED: snprintf(buf, cap, "paused"); return;
    case FW_PHASE_TRAINING: snprintf(buf, cap, "running"); return;
    case FW_PHASE_DONE: break;
    }
    snprintf(buf, cap, "%s", fw_run_status_name(run->status));
}

void fw_run_progress_compute(const fw_run_info *run, const fw_run_summary *sum, int epochs,
                             const fw_trainer_state *ts, const fw_rate_tracker *rate,
                             fw_run_progress *out)
{
    memset(out, 0, sizeof *out);
    out->eta_s = -1;
    out->live = run->status == FW_RUN_RUNNING || run->status == FW_RUN_PAUSED;
    out->epochs = ts && ts->epochs > 0 ? ts->epochs : epochs > 0 ? epochs : 0;
    out->role = fw_run_status_role(run->status);
    snprintf(out->status, sizeof out->status, "%s", fw_run_status_name(run->status));
    int paused = run->status == FW_RUN_PAUSED;
    if (ts && ts->phase != FW_PHASE_DONE) {
        phase_word(ts, run, out->status, sizeof out->status);
        paused = ts->phase == FW_PHASE_PAUSED;
        out->role = paused ? FW_ROLE_STATUS_PAUSED : FW_ROLE_STATUS_RUNNING;
        out->live = 1;
    }

    double f = -1;
    if (run->status == FW_RUN_FINISHED)
        f = 1;
    else if (ts && ts->total_steps > 0)
        f = (double)ts->step / (double)ts->total_steps;
    else if (out->epochs > 0)
        f = sum->has_epoch ? sum->last_epoch / out->epochs : 0;
    if (f > 1)
        f = 1;
    if (f < 0 && f != -1)
        f = 0;
    out->fraction = f;
    if (out->epochs > 0 && f >= 0) {
        /* The epoch reached: ceil, so 1.25 of 3 is "2/3" and 1.0 is "1/3". */
        double e = ceil(f * out->epochs - 1e-9);
        out->epoch = e < 0 ? 0 : e > out->epochs ? out->epochs : (int)e;
    }
    if (out->live && !paused && rate && f >= 0 && f < 1) {
        double per_s = fw_rate_per_s(rate);
        if (per_s > 0)
            out->eta_s = (1 - f) / per_s;
    }
}

void fw_run_owner_text(const fw_run_info *run, int here, const char *this_host, char *buf,
                       size_t cap)
{
    int live = run->status == FW_RUN_RUNNING || run->status == FW_RUN_PAUSED;
    if (here)
        snprintf(buf, cap, "here");
    else if (live && run->owner_pid > 0 && this_host &&
             strcmp(run->owner_host ? run->owner_host : "", this_host) != 0)
        snprintf(buf, cap, "pid %lld@%s", (long long)run->owner_pid, run->owner_host);
    else if (live && run->owner_pid > 0)
        snprintf(buf, cap, "pid %lld", (long long)run->owner_pid);
    else
        snprintf(buf, cap, "-");
}

/* ----------------------------------------------------------------- bar */

void fw_progress_bar_text(double fraction, int width, int utf8, char *buf, size_t cap)
{
    static const char *const eighths[8] = {"", "\xe2\x96\x8f", "\xe2\x96\x8e", "\xe2\x96\x8d",
                                           "\xe2\x96\x8c", "\xe2\x96\x8b", "\xe2\x96\x8a",
                                           "\xe2\x96\x89"}; /* ▏▎▍▌▋▊▉ */
    const char *full = utf8 ? "\xe2\x96\x88" : "#";         /* █ */
    const char *empty = utf8 ? "\xc2\xb7" : ".";            /* · */
    if (cap == 0)
        return;
    buf[0] = '\0';
    if (width <= 0)
        return;
    double f = !(fraction > 0) ? 0 : fraction > 1 ? 1 : fraction;
    int units = utf8 ? 8 : 1;
    long filled = lround(f * width * units); /* in sub-cell units */
    size_t len = 0;
    for (int i = 0; i < width; i++) {
        long cell = filled - (long)i * units; /* units of this cell filled */
        const char *s = cell >= units ? full : cell > 0 ? eighths[cell] : empty;
        size_t n = strlen(s);
        if (len + n + 1 > cap)
            break;
        memcpy(buf + len, s, n);
        len += n;
    }
    buf[len] = '\0';
}
