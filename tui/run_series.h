/* run_series.h — one run's metric series, loaded from the run store a few
 * rows at a time, for the workbench's plots (no curses here).
 *
 * A fw_run_series keeps a rowid cursor: each fw_run_series_update reads
 * only the rows written since the last one (fw_metric_query.after_rowid)
 * and appends them to per-metric arrays, so a screen can poll it every
 * refresh tick at the cost of one indexed query. Asking for another run
 * (or for none) drops everything and starts again from that run's first
 * row.
 *
 * Per metric name the arrays hold, in write order, the step, the epoch, the
 * wall time and the value, plus x arrays ready for plotting: the step as a
 * double, the epoch, and the seconds since the run's first point (the wall
 * time of the first row read). A point whose step is not after the series'
 * last step replaces the points from that step on: a resumed run repeats
 * the steps after its checkpoint, and the repeat is the record to plot.
 */
#ifndef FW_RUN_SERIES_H
#define FW_RUN_SERIES_H

#include <stddef.h>
#include <stdint.h>

#include "fw_error.h"
#include "store.h"

/* What a plot's x axis shows. */
typedef enum fw_series_x {
    FW_SERIES_X_STEP = 0,
    FW_SERIES_X_EPOCH,
    FW_SERIES_X_WALL, /* seconds since the run's first point */
    FW_SERIES_X_COUNT
} fw_series_x;

/* "step", "epoch", "time" (the axis' short name). */
const char *fw_series_x_name(fw_series_x x);

/* One metric's points in write order. */
typedef struct fw_series {
    char name[64];
    size_t n, cap;
    int64_t *step;    /* (n,) */
    double *step_x;   /* (n,) step as a double */
    double *epoch;    /* (n,) */
    double *wall;     /* (n,) wall-clock Unix seconds */
    double *wall_x;   /* (n,) seconds since the run's first point */
    double *value;    /* (n,) */
} fw_series;

typedef struct fw_run_series {
    char run_id[FW_RUN_ID_CAP]; /* "" = none loaded */
    int64_t last_rowid;         /* the newest row read (0 = none) */
    int has_t0;
    double t0;                  /* wall time of the run's first point read */
    int n_series;
    fw_series *series;          /* (n_series,) in order of first appearance */
    uint64_t version;           /* bumped whenever any series changes */
} fw_run_series;

void fw_run_series_init(fw_run_series *rs);
void fw_run_series_free(fw_run_series *rs);

/* Drop every point and set the run (NULL or "" = none). */
void fw_run_series_reset(fw_run_series *rs, const char *run_id);

/* Read the rows of run_id written since the last call and append them
 * (resetting first when run_id is not the loaded run). At most max_rows
 * rows are read per call (0 = all); *n_new (may be NULL) gets how many
 * rows were read, so a caller can loop while it equals max_rows. A NULL or
 * empty run_id resets and reads nothing. */
int fw_run_series_update(fw_run_series *rs, fw_store *s, const char *run_id, int max_rows,
                         int *n_new, fw_error *err);

/* Append points as read from the store (rowid order), as update does;
 * exposed for callers that read rows themselves. */
int fw_run_series_append(fw_run_series *rs, const fw_metric_point *points, int n,
                         fw_error *err);

/* The series called name, or NULL when the run has no such point yet. */
const fw_series *fw_run_series_find(const fw_run_series *rs, const char *name);

/* The x array of a series for an axis ((s->n,), owned by the series). */
const double *fw_series_x_values(const fw_series *s, fw_series_x x);

#endif
