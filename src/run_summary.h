/* run_summary.h — what the run commands (runs, show, compare) say about a
 * run, read from the store: its best validation mAP@5, the last training
 * loss and step, how far its epochs went, and its config parsed over the
 * defaults. Library code: reads, never prints.
 */
#ifndef FW_RUN_SUMMARY_H
#define FW_RUN_SUMMARY_H

#include <stdint.h>

#include "fw_error.h"
#include "run_config.h"
#include "store.h"

typedef struct fw_run_summary {
    int has_best;          /* any "val.map5" point */
    double best_map5;      /* the highest val.map5 (the earliest one on ties) */
    double best_epoch;     /* its epoch and step */
    int64_t best_step;
    int has_best_top1, has_best_threshold;
    double best_top1;      /* val.top1 / val.threshold at the best's step */
    double best_threshold;
    int n_evals;           /* val.map5 points */
    int has_loss;          /* any "train.loss" point */
    double last_loss;      /* the newest train.loss */
    int64_t last_step;     /* its step */
    int64_t n_loss_points; /* train.loss points */
    int has_epoch;
    double last_epoch;     /* the highest epoch of train.loss and val.map5 points */
} fw_run_summary;

/* Read the summary of one run (a run without metrics gives all has_* 0). */
int fw_run_summary_read(fw_store *s, const char *run_id, fw_run_summary *out, fw_error *err);

/* The run's config: the defaults, then its stored config text over them.
 * A run with no config text gets the defaults and *had_text = 0 (may be
 * NULL). A text that no longer parses is FW_EINVAL with the reason. */
int fw_run_summary_config(const fw_run_info *run, fw_run_config *cfg, int *had_text,
                          fw_error *err);

/* Seconds the run has run: ended - started for a finished/failed/
 * interrupted run, now - started while it is live; -1 when never started. */
double fw_run_duration(const fw_run_info *run, double now);

/* "1d02h", "3h04m", "5m06s", "7s"; "-" for a negative duration. */
void fw_format_duration(double seconds, char *buf, size_t cap);

/* A Unix time as short local time: "HH:MM" today, "Mon DD HH:MM" this
 * year, "YYYY-MM-DD" before; "-" for 0. */
void fw_format_when(double t, double now, char *buf, size_t cap);

#endif
