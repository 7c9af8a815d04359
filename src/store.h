/* store.h — the run store: an embedded SQLite database in the workspace.
 *
 * One fw_store is one connection (one per process or thread; never share a
 * connection between a parent and a forked child). The database is
 * WORKSPACE/runs.sqlite in WAL mode (synchronous=NORMAL, foreign_keys=ON, a
 * busy timeout), its schema versioned in PRAGMA user_version and brought up to
 * date by an ordered list of migrations applied in one transaction. Every
 * write is a BEGIN IMMEDIATE transaction, so a reader in another process sees
 * a batch whole or not at all and waits (busy timeout) instead of failing.
 *
 * Times are wall-clock Unix seconds (double); 0 means "not set".
 * Strings returned inside structs are NUL-terminated and owned by the struct
 * (free with the matching *_free). Run ids are "r0001", "r0002", ... (the
 * number is the order of creation; past r9999 they grow a digit).
 * Text read back (run names, config, event messages, image names) is the
 * caller's raw input: pass it through fw_sanitize before printing it.
 */
#ifndef FW_STORE_H
#define FW_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "fw_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FW_STORE_SCHEMA_VERSION 2
#define FW_STORE_DEFAULT_WORKSPACE "./flukewatch-runs"
#define FW_STORE_DB_NAME "runs.sqlite"
#define FW_STORE_BUSY_TIMEOUT_MS 10000

typedef struct fw_store fw_store;

/* Workspace directory: `explicit_dir` when non-empty, else $FLUKEWATCH_HOME
 * when set and non-empty, else ./flukewatch-runs. Copies it into out. */
int fw_store_resolve_workspace(const char *explicit_dir, char *out, size_t cap, fw_error *err);

/* Create the workspace directory (mkdir -p) and open/create its database,
 * migrating it to FW_STORE_SCHEMA_VERSION. A database from a newer flukewatch
 * is refused with FW_EUNSUPPORTED. */
int fw_store_open(const char *workspace, fw_store **out, fw_error *err);

/* Same on a database file given by path (its directory must exist). */
int fw_store_open_file(const char *db_path, fw_store **out, fw_error *err);

void fw_store_close(fw_store *s);

const char *fw_store_path(const fw_store *s); /* the database file */

/* PRAGMA user_version of the open database. */
int fw_store_schema_version(fw_store *s, int *version, fw_error *err);

/* PRAGMA integrity_check: *ok = 1 when it says "ok". */
int fw_store_integrity_check(fw_store *s, int *ok, fw_error *err);

/* Write transactions (BEGIN IMMEDIATE, waiting up to the busy timeout and
 * then retrying until FW_STORE_BUSY_TIMEOUT_MS has passed). Used by the
 * store's own writers; exposed for callers that group several writes.
 * Transactions do not nest: the store's write functions begin their own, so
 * call them outside fw_store_begin/commit (so do run_get/run_list, which may
 * mark dead owners; the other readers work inside one). */
int fw_store_begin(fw_store *s, fw_error *err);
int fw_store_commit(fw_store *s, fw_error *err);
void fw_store_rollback(fw_store *s);

/* Wall-clock time now (Unix seconds). */
double fw_store_now(void);

/* ------------------------------------------------------------------ runs */

typedef enum fw_run_status {
    FW_RUN_QUEUED = 0,
    FW_RUN_RUNNING,
    FW_RUN_PAUSED,
    FW_RUN_FINISHED,
    FW_RUN_FAILED,
    FW_RUN_INTERRUPTED,
} fw_run_status;

const char *fw_run_status_name(fw_run_status st); /* "queued", "running", ... */
int fw_run_status_parse(const char *name, fw_run_status *st);

#define FW_RUN_ID_CAP 16

typedef struct fw_run_spec {
    const char *name;    /* required, non-empty */
    const char *parent;  /* parent run id (resumed/forked from) or NULL */
    const char *config;  /* config text as given, or NULL */
    const char *backend; /* "cpu", "cuda", ... or NULL */
    const char *devices; /* e.g. "0,1" or NULL */
} fw_run_spec;

typedef struct fw_run_info {
    char id[FW_RUN_ID_CAP];
    char parent[FW_RUN_ID_CAP]; /* "" when none */
    char *name;
    char *config;               /* "" when none */
    char *backend, *devices;    /* "" when none */
    char *owner_host;           /* "" when never run */
    fw_run_status status;
    int64_t owner_pid;          /* 0 when never run */
    double created_at, started_at, updated_at, ended_at;
} fw_run_info;

/* Create a queued run; its new id is copied into id_out. A parent that does
 * not exist is refused (FW_ENOTFOUND). */
int fw_store_run_create(fw_store *s, const fw_run_spec *spec, char id_out[FW_RUN_ID_CAP],
                        fw_error *err);

/* Read one run (FW_ENOTFOUND when absent) / all runs in creation order.
 * Before reading, runs still marked running or paused whose owner process is
 * gone (same host, kill(pid, 0) fails with ESRCH) are marked interrupted. */
int fw_store_run_get(fw_store *s, const char *id, fw_run_info *out, fw_error *err);
int fw_store_run_list(fw_store *s, fw_run_info **runs, int *n, fw_error *err);
void fw_run_info_free(fw_run_info *r);
void fw_run_list_free(fw_run_info *runs, int n);

/* Change a run's status. Allowed transitions:
 *   queued      -> running, failed, interrupted
 *   running     -> paused, finished, failed, interrupted
 *   paused      -> running, finished, failed, interrupted
 *   interrupted -> running (resumed in place)
 * finished and failed are final; anything else is FW_EINVAL. Becoming running
 * records this process as the owner (getpid(), gethostname()) and sets
 * started_at the first time; finished/failed/interrupted set ended_at. */
int fw_store_run_set_status(fw_store *s, const char *id, fw_run_status st, fw_error *err);

/* Rename a run (name non-empty; FW_ENOTFOUND when the run is absent). */
int fw_store_run_rename(fw_store *s, const char *id, const char *name, fw_error *err);

/* Delete a run with its metrics, events, evaluations (and their queries),
 * LR-finder curves and control requests, in one transaction. Runs that name
 * it as their parent keep going without one. A running or paused run is
 * refused (FW_EINVAL); FW_ENOTFOUND when absent. The checkpoint files are
 * left alone: remove them with fw_store_run_remove_files. */
int fw_store_run_delete(fw_store *s, const char *id, fw_error *err);

/* Remove WORKSPACE/runs/ID (checkpoints, train.log) recursively, never
 * following symbolic links; a missing directory is fine. The id must look
 * like a run id ("r" and digits), so no other path can be named. */
int fw_store_run_remove_files(const char *workspace, const char *id, fw_error *err);

/* Mark every running/paused run whose owner died (same host) interrupted;
 * *n_marked (may be NULL) counts them. run_get/run_list call this. */
int fw_store_reap_dead_owners(fw_store *s, int *n_marked, fw_error *err);

/* --------------------------------------------------- metrics and events */

/* Event kinds used by flukewatch (the column is free text). */
#define FW_EVENT_WARNING "warning"
#define FW_EVENT_SKIPPED_FILE "skipped_file"
#define FW_EVENT_NAN_STEP "nan_step"
#define FW_EVENT_CHECKPOINT "checkpoint"

typedef struct fw_metric_writer fw_metric_writer;

typedef struct fw_metric_writer_config {
    int max_points;   /* flush when this many points+events are buffered (default 256) */
    int max_delay_ms; /* or when the oldest buffered one is this old (default 500) */
} fw_metric_writer_config;

void fw_metric_writer_config_default(fw_metric_writer_config *cfg);

/* A buffered writer for one run on store s (which must outlive it). */
int fw_metric_writer_open(fw_store *s, const char *run_id, const fw_metric_writer_config *cfg,
                          fw_metric_writer **out, fw_error *err);

/* Buffer a point / an event (wall time = now); flushes when a limit is hit.
 * On a failed flush the buffer is kept and the next call retries. */
int fw_metric_writer_point(fw_metric_writer *w, int64_t step, double epoch, const char *name,
                           double value, fw_error *err);
int fw_metric_writer_event(fw_metric_writer *w, int64_t step, const char *kind,
                           const char *message, fw_error *err);

/* Flush when the delay has passed (call this from an idle loop). */
int fw_metric_writer_poll(fw_metric_writer *w, fw_error *err);

/* Write everything buffered in one BEGIN IMMEDIATE transaction. */
int fw_metric_writer_flush(fw_metric_writer *w, fw_error *err);

int fw_metric_writer_pending(const fw_metric_writer *w); /* buffered count */

/* Flush and free (frees even when the flush fails; w may be NULL). */
int fw_metric_writer_close(fw_metric_writer *w, fw_error *err);

typedef struct fw_metric_point {
    int64_t rowid; /* increasing in insertion order: poll with after_rowid */
    int64_t step;
    double epoch, value, wall_time;
    char name[64];
} fw_metric_point;

typedef struct fw_metric_query {
    const char *run_id;
    const char *name;    /* one metric, or NULL for all */
    int64_t after_rowid; /* only rows with rowid > this (0 = from the start) */
    int64_t min_step;    /* only steps >= this (INT64_MIN or 0 for all) */
    int limit;           /* at most this many (0 = no limit) */
} fw_metric_query;

/* Points in rowid order. */
int fw_store_metrics_read(fw_store *s, const fw_metric_query *q, fw_metric_point **points,
                          int *n, fw_error *err);

/* Distinct metric names of a run, sorted. Free with fw_string_list_free. */
int fw_store_metric_names(fw_store *s, const char *run_id, char ***names, int *n, fw_error *err);
void fw_string_list_free(char **list, int n);

typedef struct fw_event {
    int64_t id, step;
    double wall_time;
    char kind[32];
    char *message;
} fw_event;

/* Events of a run with id > after_id, in id order (limit 0 = all). */
int fw_store_events_read(fw_store *s, const char *run_id, int64_t after_id, int limit,
                         fw_event **events, int *n, fw_error *err);
void fw_events_free(fw_event *events, int n);

/* ------------------------------------------------------ LR-finder curves */

typedef struct fw_lr_curve {
    int64_t id;
    double created_at;
    int n;               /* points */
    double *lrs;         /* (n) */
    double *losses;      /* (n) */
    double *smoothed;    /* (n) */
    int diverged;
    int valid;           /* suggestions valid */
    double valley, steep, minimum;
    int valley_idx, steep_idx, minimum_idx;
} fw_lr_curve;

/* Store a curve (arrays of n points, read, not kept); *id_out may be NULL. */
int fw_store_lr_curve_put(fw_store *s, const char *run_id, const fw_lr_curve *curve,
                          int64_t *id_out, fw_error *err);
/* The newest curve of a run; FW_ENOTFOUND when it has none. */
int fw_store_lr_curve_latest(fw_store *s, const char *run_id, fw_lr_curve *out, fw_error *err);
void fw_lr_curve_free(fw_lr_curve *c);

/* ------------------------------------------------------------ evaluations */

#define FW_EVAL_TOPK 5

typedef struct fw_eval_query {
    char *image;                        /* query image file name */
    char *true_id;                      /* its whale id ("new_whale" allowed) */
    char *match_id[FW_EVAL_TOPK];       /* predicted ids, best first */
    double similarity[FW_EVAL_TOPK];
} fw_eval_query;

typedef struct fw_evaluation {
    int64_t id;
    char run_id[FW_RUN_ID_CAP];
    char *checkpoint;   /* checkpoint file or label, "" when none */
    int64_t step;
    double epoch, created_at;
    double map5, top1, threshold;
    int n_queries;
    fw_eval_query *queries; /* (n_queries), NULL from fw_store_eval_list */
} fw_evaluation;

/* Store an evaluation with its queries (n_queries of e->queries); the id is
 * written to *id_out (may be NULL). All in one transaction. */
int fw_store_eval_put(fw_store *s, const fw_evaluation *e, int64_t *id_out, fw_error *err);
/* One evaluation with its queries: by id, or (id <= 0) the newest of run_id,
 * optionally of one checkpoint (NULL = any). FW_ENOTFOUND when none. */
int fw_store_eval_get(fw_store *s, int64_t id, const char *run_id, const char *checkpoint,
                      fw_evaluation *out, fw_error *err);
/* Summaries (no queries) of a run's evaluations in creation order. */
int fw_store_eval_list(fw_store *s, const char *run_id, fw_evaluation **evals, int *n,
                       fw_error *err);
void fw_evaluation_free(fw_evaluation *e);
void fw_eval_list_free(fw_evaluation *evals, int n);

/* ------------------------------------------------------- control requests */

typedef enum fw_control_action {
    FW_CONTROL_PAUSE = 0,
    FW_CONTROL_RESUME,
    FW_CONTROL_STOP,
} fw_control_action;

const char *fw_control_action_name(fw_control_action a);

typedef struct fw_control_request {
    int64_t id;
    char run_id[FW_RUN_ID_CAP];
    fw_control_action action;
    int64_t sender_pid;
    double posted_at, done_at; /* done_at 0 while pending */
    char result[128];          /* set by the owner when done */
} fw_control_request;

/* Any process: ask the run's owner to pause/resume/stop. */
int fw_store_control_post(fw_store *s, const char *run_id, fw_control_action a,
                          int64_t *id_out, fw_error *err);
/* The owner: the oldest pending request of the run; *found = 0 when none. */
int fw_store_control_next(fw_store *s, const char *run_id, fw_control_request *req, int *found,
                          fw_error *err);
/* The owner: mark a request done with a short result ("ok", "ignored: ..."). */
int fw_store_control_done(fw_store *s, int64_t id, const char *result, fw_error *err);
/* Read one request (to see whether it was done). */
int fw_store_control_get(fw_store *s, int64_t id, fw_control_request *req, fw_error *err);

#ifdef __cplusplus
}
#endif

#endif
