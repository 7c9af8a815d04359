/* run_progress.h — what the Runs screen says about how far a run is: its
 * summary kept current from new metric rows only, the share of its epochs
 * done, the epoch it has reached, an ETA from its recent pace, the status
 * word (with the live phase for runs this process trains), who trains it,
 * and a text progress bar. Pure functions on plain structs: no terminal,
 * no store access.
 */
#ifndef FW_RUN_PROGRESS_H
#define FW_RUN_PROGRESS_H

#include <stddef.h>

#include "run_summary.h"
#include "store.h"
#include "theme.h"
#include "trainer.h"

/* Fold one metric point (read in rowid order) into a summary as
 * fw_run_summary_read does for "val.map5" and "train.loss" (other names are
 * ignored; the best's top-1/threshold are not kept). Start from a zeroed
 * summary. */
void fw_progress_fold_point(fw_run_summary *sum, const fw_metric_point *p);

/* The pace of a run: (time, share done) samples at least
 * FW_RATE_SPACING_S apart, the newest FW_RATE_SAMPLES kept, plus the latest
 * point. A gap over FW_RATE_GAP_S (a pause, a restart) or a step back
 * starts over, so the pace is that of the current stretch of training. */
#define FW_RATE_SAMPLES 24
#define FW_RATE_SPACING_S 5.0
#define FW_RATE_GAP_S 120.0
#define FW_RATE_MIN_SPAN_S 3.0

typedef struct fw_rate_tracker {
    double t[FW_RATE_SAMPLES], x[FW_RATE_SAMPLES]; /* ring of kept samples */
    int n, head;                                   /* count, index of the oldest */
    double last_t, last_x;                         /* the latest sample */
    int has_last;
} fw_rate_tracker;

void fw_rate_reset(fw_rate_tracker *r);
void fw_rate_add(fw_rate_tracker *r, double t, double x);
/* Share per second from the oldest kept sample to the latest; 0 when
 * unknown (less than FW_RATE_MIN_SPAN_S of samples, or no progress). */
double fw_rate_per_s(const fw_rate_tracker *r);

typedef struct fw_run_progress {
    double fraction;      /* share of the planned epochs done, 0..1; -1 unknown */
    int epoch, epochs;    /* epoch reached (1-based, 0 before the first); planned (0 unknown) */
    double eta_s;         /* seconds left at the recent pace; -1 unknown */
    int live;             /* running or paused (here or in another process) */
    char status[24];      /* "running", "paused", "loading 45%", "finished", ... */
    fw_theme_role role;   /* FW_ROLE_STATUS_* for the status word */
} fw_run_progress;

/* `epochs`: the run's planned epochs (its config; 0 unknown). ts: the live
 * state when this process trains the run, else NULL. rate may be NULL. */
void fw_run_progress_compute(const fw_run_info *run, const fw_run_summary *sum, int epochs,
                             const fw_trainer_state *ts, const fw_rate_tracker *rate,
                             fw_run_progress *out);

/* The status role of a stored status. */
fw_theme_role fw_run_status_role(fw_run_status st);

/* Who trains the run: "here" (here != 0), "pid N" for a live run owned by
 * another process on this host, "pid N@HOST" on another host, "-" when no
 * one does. this_host: this machine's name. */
void fw_run_owner_text(const fw_run_info *run, int here, const char *this_host, char *buf,
                       size_t cap);

/* A bar of `width` cells filled to fraction (clamped to 0..1; negative:
 * empty): UTF-8 block characters with eighth-cell steps and '·' for empty
 * cells, or '#' and '.' in ASCII. buf gets NUL-terminated text (at most
 * 3 bytes per cell). */
void fw_progress_bar_text(double fraction, int width, int utf8, char *buf, size_t cap);

#endif
