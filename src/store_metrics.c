/* store_metrics.c — what a run publishes and what readers poll: the batched
 * metric/event writer, metric and event readers, LR-finder curves,
 * evaluations with their per-query top-5 matches, and control requests. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sqlite_check.h"
#include "store.h"

/* A REAL column that may hold NULL (SQLite stores NaN as NULL). */
static double real_col(sqlite3_stmt *st, int col)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL ? NAN : sqlite3_column_double(st, col);
}

/* Grow *buf (of *cap elements of size elem) to hold at least need. */
static int grow(void **buf, int *cap, int need, size_t elem)
{
    if (need <= *cap)
        return 0;
    int ncap = *cap ? *cap : 64;
    while (ncap < need)
        ncap *= 2;
    void *p = realloc(*buf, (size_t)ncap * elem);
    if (!p)
        return -1;
    *buf = p;
    *cap = ncap;
    return 0;
}

/* ------------------------------------------------------------- writer */

typedef struct buffered_item {
    int is_event;
    int64_t step;
    double epoch, value, wall_time;
    char name[64];  /* metric name or event kind */
    char *message;  /* events only */
} buffered_item;

struct fw_metric_writer {
    fw_store *store;
    char run_id[FW_RUN_ID_CAP];
    fw_metric_writer_config cfg;
    buffered_item *items; // (cap)
    int n, cap;
    double oldest_ms; /* monotonic time of the oldest buffered item */
    sqlite3_stmt *insert_point, *insert_event;
};

void fw_metric_writer_config_default(fw_metric_writer_config *cfg)
{
    cfg->max_points = 256;
    cfg->max_delay_ms = 500;
}

int fw_metric_writer_open(fw_store *s, const char *run_id, const fw_metric_writer_config *cfg,
                          fw_metric_writer **out, fw_error *err)
{
    *out = NULL;
    if (!run_id || strlen(run_id) >= FW_RUN_ID_CAP)
        return fw_fail(err, FW_EINVAL, "metric writer: bad run id");
    fw_metric_writer *w = calloc(1, sizeof *w);
    if (!w)
        return fw_fail(err, FW_ENOMEM, "out of memory opening a metric writer");
    w->store = s;
    snprintf(w->run_id, sizeof w->run_id, "%s", run_id);
    if (cfg)
        w->cfg = *cfg;
    else
        fw_metric_writer_config_default(&w->cfg);
    if (w->cfg.max_points < 1)
        w->cfg.max_points = 1;
    sqlite3 *db = fw_store_db(s);
    int rc = SQLITE_CHECK(err, db,
                          sqlite3_prepare_v3(db,
                                             "INSERT INTO metrics (run_id, step, epoch, name, "
                                             "value, wall_time) VALUES (?, ?, ?, ?, ?, ?)",
                                             -1, SQLITE_PREPARE_PERSISTENT, &w->insert_point,
                                             NULL));
    if (rc == 0)
        rc = SQLITE_CHECK(err, db,
                          sqlite3_prepare_v3(db,
                                             "INSERT INTO events (run_id, step, kind, message, "
                                             "wall_time) VALUES (?, ?, ?, ?, ?)",
                                             -1, SQLITE_PREPARE_PERSISTENT, &w->insert_event,
                                             NULL));
    if (rc < 0) {
        sqlite3_finalize(w->insert_point);
        sqlite3_finalize(w->insert_event);
        free(w);
        return rc;
    }
    *out = w;
    return 0;
}

int fw_metric_writer_pending(const fw_metric_writer *w)
{
    return w->n;
}

int fw_metric_writer_flush(fw_metric_writer *w, fw_error *err)
{
    if (w->n == 0)
        return 0;
    sqlite3 *db = fw_store_db(w->store);
    FW_TRY(fw_store_begin(w->store, err));
    int rc = 0;
    for (int i = 0; rc == 0 && i < w->n; i++) {
        const buffered_item *it = &w->items[i];
        sqlite3_stmt *st = it->is_event ? w->insert_event : w->insert_point;
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, w->run_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, it->step);
        if (it->is_event) {
            sqlite3_bind_text(st, 3, it->name, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 4, it->message, -1, SQLITE_STATIC);
            sqlite3_bind_double(st, 5, it->wall_time);
        } else {
            sqlite3_bind_double(st, 3, it->epoch);
            sqlite3_bind_text(st, 4, it->name, -1, SQLITE_STATIC);
            sqlite3_bind_double(st, 5, it->value);
            sqlite3_bind_double(st, 6, it->wall_time);
        }
        rc = SQLITE_CHECK(err, db, sqlite3_step(st));
    }
    sqlite3_reset(w->insert_point);
    sqlite3_reset(w->insert_event);
    if (rc == 0)
        rc = fw_store_commit(w->store, err);
    else
        fw_store_rollback(w->store);
    if (rc < 0)
        return fw_error_prefix(err, "run %s: writing %d metric points/events: ", w->run_id, w->n);
    for (int i = 0; i < w->n; i++)
        free(w->items[i].message);
    w->n = 0;
    return 0;
}

int fw_metric_writer_poll(fw_metric_writer *w, fw_error *err)
{
    if (w->n > 0 && (w->n >= w->cfg.max_points ||
                     fw_store_monotonic_ms() - w->oldest_ms >= (double)w->cfg.max_delay_ms))
        return fw_metric_writer_flush(w, err);
    return 0;
}

static int push(fw_metric_writer *w, const buffered_item *item, fw_error *err)
{
    if (grow((void **)&w->items, &w->cap, w->n + 1, sizeof *w->items) < 0) {
        free(item->message);
        return fw_fail(err, FW_ENOMEM, "out of memory buffering metric points");
    }
    if (w->n == 0)
        w->oldest_ms = fw_store_monotonic_ms();
    w->items[w->n++] = *item;
    return fw_metric_writer_poll(w, err);
}

int fw_metric_writer_point(fw_metric_writer *w, int64_t step, double epoch, const char *name,
                           double value, fw_error *err)
{
    if (!name || !*name || strlen(name) >= sizeof ((buffered_item *)0)->name)
        return fw_fail(err, FW_EINVAL, "metric name empty or longer than 63 bytes");
    buffered_item it = {0, step, epoch, value, fw_store_now(), "", NULL};
    snprintf(it.name, sizeof it.name, "%s", name);
    return push(w, &it, err);
}

int fw_metric_writer_event(fw_metric_writer *w, int64_t step, const char *kind,
                           const char *message, fw_error *err)
{
    if (!kind || !*kind || strlen(kind) >= 32)
        return fw_fail(err, FW_EINVAL, "event kind empty or longer than 31 bytes");
    buffered_item it = {1, step, 0, 0, fw_store_now(), "", strdup(message ? message : "")};
    if (!it.message)
        return fw_fail(err, FW_ENOMEM, "out of memory buffering an event");
    snprintf(it.name, sizeof it.name, "%s", kind);
    return push(w, &it, err);
}

int fw_metric_writer_close(fw_metric_writer *w, fw_error *err)
{
    if (!w)
        return 0;
    int rc = fw_metric_writer_flush(w, err);
    for (int i = 0; i < w->n; i++)
        free(w->items[i].message);
    free(w->items);
    sqlite3_finalize(w->insert_point);
    sqlite3_finalize(w->insert_event);
    free(w);
    return rc;
}

/* ------------------------------------------------------------- readers */

static int fill_point(sqlite3_stmt *st, void *row, fw_error *err)
{
    (void)err;
    fw_metric_point *p = row;
    p->rowid = sqlite3_column_int64(st, 0);
    p->step = sqlite3_column_int64(st, 1);
    p->epoch = sqlite3_column_double(st, 2);
    p->value = real_col(st, 3);
    p->wall_time = sqlite3_column_double(st, 4);
    fw_sql_copy_col(st, 5, p->name, sizeof p->name);
    return 0;
}

int fw_store_metrics_read(fw_store *s, const fw_metric_query *q, fw_metric_point **points,
                          int *n, fw_error *err)
{
    sqlite3 *db = fw_store_db(s);
    *points = NULL;
    *n = 0;
    sqlite3_stmt *st = NULL;
    const char *sql =
        q->name ? "SELECT id, step, epoch, value, wall_time, name FROM metrics"
                  " WHERE run_id = ?1 AND name = ?2 AND id > ?3 AND step >= ?4"
                  " ORDER BY id LIMIT ?5"
                : "SELECT id, step, epoch, value, wall_time, name FROM metrics"
                  " WHERE run_id = ?1 AND id > ?3 AND step >= ?4 ORDER BY id LIMIT ?5";
    int rc = SQLITE_CHECK(err, db, sqlite3_prepare_v2(db, sql, -1, &st, NULL));
    if (rc < 0)
        return rc;
    sqlite3_bind_text(st, 1, q->run_id, -1, SQLITE_STATIC);
    if (q->name)
        sqlite3_bind_text(st, 2, q->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, q->after_rowid);
    sqlite3_bind_int64(st, 4, q->min_step);
    sqlite3_bind_int64(st, 5, q->limit > 0 ? q->limit : -1);
    fw_metric_point *list = NULL;
    int count = 0;
    rc = fw_sql_collect(db, st, sizeof *list, fill_point, (void **)&list, &count,
                        "metric points", err);
    if (rc < 0) {
        free(list);
        return rc;
    }
    *points = list;
    *n = count;
    return 0;
}

void fw_string_list_free(char **list, int n)
{
    for (int i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

static int fill_name(sqlite3_stmt *st, void *row, fw_error *err)
{
    char **name = row;
    *name = fw_sql_dup_col(st, 0);
    return *name ? 0 : fw_fail(err, FW_ENOMEM, "out of memory reading metric names");
}

int fw_store_metric_names(fw_store *s, const char *run_id, char ***names, int *n, fw_error *err)
{
    sqlite3 *db = fw_store_db(s);
    *names = NULL;
    *n = 0;
    sqlite3_stmt *st = NULL;
    int rc = SQLITE_CHECK(err, db,
                          sqlite3_prepare_v2(db,
                                             "SELECT DISTINCT name FROM metrics WHERE run_id = ?"
                                             " ORDER BY name",
                                             -1, &st, NULL));
    if (rc < 0)
        return rc;
    sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
    char **list = NULL;
    int count = 0;
    rc = fw_sql_collect(db, st, sizeof *list, fill_name, (void **)&list, &count, "metric names",
                        err);
    if (rc < 0) {
        fw_string_list_free(list, count);
        return rc;
    }
    *names = list;
    *n = count;
    return 0;
}

static int fill_event(sqlite3_stmt *st, void *row, fw_error *err)
{
    fw_event *e = row;
    e->id = sqlite3_column_int64(st, 0);
    e->step = sqlite3_column_int64(st, 1);
    e->wall_time = sqlite3_column_double(st, 2);
    fw_sql_copy_col(st, 3, e->kind, sizeof e->kind);
    e->message = fw_sql_dup_col(st, 4);
    return e->message ? 0 : fw_fail(err, FW_ENOMEM, "out of memory reading events");
}

int fw_store_events_read(fw_store *s, const char *run_id, int64_t after_id, int limit,
                         fw_event **events, int *n, fw_error *err)
{
    sqlite3 *db = fw_store_db(s);
    *events = NULL;
    *n = 0;
    sqlite3_stmt *st = NULL;
    int rc = SQLITE_CHECK(err, db,
                          sqlite3_prepare_v2(db,
                                             "SELECT id, step, wall_time, kind, message FROM "
                                             "events WHERE run_id = ? AND id > ? ORDER BY id "
                                             "LIMIT ?",
                                             -1, &st, NULL));
    if (rc < 0)
        return rc;
    sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, after_id);
    sqlite3_bind_int64(st, 3, limit > 0 ? limit : -1);
    fw_event *list = NULL;
    int count = 0;
    rc = fw_sql_collect(db, st, sizeof *list, fill_event, (void **)&list, &count, "events", err);
    if (rc < 0) {
        fw_events_free(list, count);
        return rc;
    }
    *events = list;
    *n = count;
    return 0;
}

void fw_events_free(fw_event *events, int n)
{
    for (int i = 0; i < n; i++)
        free(events[i].message);
    free(events);
}

/* ------------------------------------------------------ LR-finder curves */

int fw_store_lr_curve_put(fw_store *s, const char *run_id, const fw_lr_curve *c, int64_t *id_out,
                          fw_error *err)
{
    sqlite3 *db = fw_store_db(s);
    if (c->n < 0 || (c->n > 0 && (!c->lrs || !c->losses || !c->smoothed)))
        return fw_fail(err, FW_EINVAL, "LR curve: bad point arrays (n = %d)", c->n);
    FW_TRY(fw_store_begin(s, err));
    sqlite3_stmt *st = NULL;
    int64_t id = 0;
    int rc = SQLITE_CHECK(err, db,
                          sqlite3_prepare_v2(db,
                                             "INSERT INTO lr_curves (run_id, created_at, n, "
                                             "diverged, valid, valley, steep, minimum, "
                                             "valley_idx, steep_idx, minimum_idx) VALUES "
                                             "(?,?,?,?,?,?,?,?,?,?,?)",
                                             -1, &st, NULL));
    if (rc == 0) {
        sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 2, fw_store_now());
        sqlite3_bind_int(st, 3, c->n);
        sqlite3_bind_int(st, 4, c->diverged);
        sqlite3_bind_int(st, 5, c->valid);
        sqlite3_bind_double(st, 6, c->valley);
        sqlite3_bind_double(st, 7, c->steep);
        sqlite3_bind_double(st, 8, c->minimum);
        sqlite3_bind_int(st, 9, c->valley_idx);
        sqlite3_bind_int(st, 10, c->steep_idx);
        sqlite3_bind_int(st, 11, c->minimum_idx);
        rc = SQLITE_CHECK(err, db, sqlite3_step(st));
        id = sqlite3_last_insert_rowid(db);
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc == 0)
        rc = SQLITE_CHECK(err, db,
                          sqlite3_prepare_v2(db,
                                             "INSERT INTO lr_points (curve_id, i, lr, loss, "
                                             "smoothed) VALUES (?,?,?,?,?)",
                                             -1, &st, NULL));
    for (int i = 0; rc == 0 && i < c->n; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int(st, 2, i);
        sqlite3_bind_double(st, 3, c->lrs[i]);
        sqlite3_bind_double(st, 4, c->losses[i]);
        sqlite3_bind_double(st, 5, c->smoothed[i]);
        rc = SQLITE_CHECK(err, db, sqlite3_step(st));
    }
    sqlite3_finalize(st);
    if (rc == 0)
        rc = fw_store_commit(s, err);
    else
        fw_store_rollback(s);
    if (rc == 0 && id_out)
        *id_out = id;
    return rc;
}

void fw_lr_curve_free(fw_lr_curve *c)
{
    if (!c)
        return;
    free(c->lrs);
    free(c->losses);
    free(c->smoothed);
    c->lrs = c->losses = c->smoothed = NULL;
}

int fw_store_lr_curve_latest(fw_store *s, const char *run_id, fw_lr_curve *out, fw_error *err)
{
    sqlite3 *db = fw_store_db(s);
    memset(out, 0, sizeof *out);
    /* One read transaction so the curve and its points are one snapshot. */
    int own_txn = sqlite3_get_autocommit(db);
    int rc = own_txn ? SQLITE_CHECK(err, db, sqlite3_exec(db, "BEGIN", NULL, NULL, NULL)) : 0;
    if (rc < 0)
        return rc;
    sqlite3_stmt *st = NULL;
    rc = SQLITE_CHECK(err, db,
                      sqlite3_prepare_v2(db,
                                         "SELECT id, created_at, n, diverged, valid, valley, "
                                         "steep, minimum, valley_idx, steep_idx, minimum_idx "
                                         "FROM lr_curves WHERE run_id = ? ORDER BY id DESC "
                                         "LIMIT 1",
                                         -1, &st, NULL));
    if (rc == 0) {
        sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            out->id = sqlite3_column_int64(st, 0);
            out->created_at = sqlite3_column_double(st, 1);
            out->n = sqlite3_column_int(st, 2);
            out->diverged = sqlite3_column_int(st, 3);
            out->valid = sqlite3_column_int(st, 4);
            out->valley = real_col(st, 5);
            out->steep = real_col(st, 6);
            out->minimum = real_col(st, 7);
            out->valley_idx = sqlite3_column_int(st, 8);
            out->steep_idx = sqlite3_column_int(st, 9);
            out->minimum_idx = sqlite3_column_int(st, 10);
        } else if (step == SQLITE_DONE) {
            rc = fw_fail(err, FW_ENOTFOUND, "run %s has no LR-finder curve", run_id);
        } else {
            rc = SQLITE_CHECK(err, db, step);
        }
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc == 0) {
        size_t bytes = (size_t)(out->n > 0 ? out->n : 1) * sizeof(double);
        out->lrs = malloc(bytes);
        out->losses = malloc(bytes);
        out->smoothed = malloc(bytes);
        if (!out->lrs || !out->losses || !out->smoothed)
            rc = fw_fail(err, FW_ENOMEM, "out of memory reading an LR curve");
    }
    if (rc == 0)
        rc = SQLITE_CHECK(err, db,
                          sqlite3_prepare_v2(db,
                                             "SELECT i, lr, loss, smoothed FROM lr_points WHERE "
                                             "curve_id = ? ORDER BY i",
                                             -1, &st, NULL));
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, out->id);
        int got = 0;
        for (;;) {
            int step = sqlite3_step(st);
            if (step == SQLITE_DONE)
                break;
            if (step != SQLITE_ROW) {
                rc = SQLITE_CHECK(err, db, step);
                break;
            }
            int i = sqlite3_column_int(st, 0);
            if (i < 0 || i >= out->n) {
                rc = fw_fail(err, FW_ECORRUPT, "LR curve %lld: point %d out of range",
                             (long long)out->id, i);
                break;
            }
            out->lrs[i] = real_col(st, 1);
            out->losses[i] = real_col(st, 2);
            out->smoothed[i] = real_col(st, 3);
            got++;
        }
        if (rc == 0 && got != out->n)
            rc = fw_fail(err, FW_ECORRUPT, "LR curve %lld: %d of %d points stored",
                         (long long)out->id, got, out->n);
    }
    sqlite3_finalize(st);
    if (own_txn)
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc < 0)
        fw_lr_curve_free(out);
    return rc;
}

/* ------------------------------------------------------------ evaluations */

int fw_store_eval_put(fw_store *s, const fw_evaluation *e, int64_t *id_out, fw_error *err)
{
    sqlite3 *db = fw_store_db(s);
    if (e->n_queries < 0 || (e->n_queries > 0 && !e->queries))
        return fw_fail(err, FW_EINVAL, "evaluation: bad query array (n = %d)", e->n_queries);
    for (int q = 0; q < e->n_queries; q++) {
        const fw_eval_query *qq = &e->queries[q];
        int ok = qq->image && qq->true_id;
        for (int k = 0; k < FW_EVAL_TOPK; k++)
            ok = ok && qq->match_id[k];
        if (!ok)
            return fw_fail(err, FW_EINVAL, "evaluation: query %d has a missing string", q);
    }
    FW_TRY(fw_store_begin(s, err));
    sqlite3_stmt *st = NULL;
    int64_t id = 0;
    int rc = SQLITE_CHECK(err, db,
                          sqlite3_prepare_v2(db,
                                             "INSERT INTO evaluations (run_id, checkpoint, step, "
                                             "epoch, created_at, map5, top1, threshold, "
                                             "n_queries) VALUES (?,?,?,?,?,?,?,?,?)",
                                             -1, &st, NULL));
    if (rc == 0) {
        sqlite3_bind_text(st, 1, e->run_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, e->checkpoint ? e->checkpoint : "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, e->step);
        sqlite3_bind_double(st, 4, e->epoch);
        sqlite3_bind_double(st, 5, fw_store_now());
        sqlite3_bind_double(st, 6, e->map5);
        sqlite3_bind_double(st, 7, e->top1);
        sqlite3_bind_double(st, 8, e->threshold);
        sqlite3_bind_int(st, 9, e->n_queries);
        rc = SQLITE_CHECK(err, db, sqlite3_step(st));
        id = sqlite3_last_insert_rowid(db);
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc == 0)
        rc = SQLITE_CHECK(err, db,
                          sqlite3_prepare_v2(db,
                                             "INSERT INTO eval_queries (eval_id, q, image, "
                                             "true_id, m1, s1, m2, s2, m3, s3, m4, s4, m5, s5) "
                                             "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                                             -1, &st, NULL));
    for (int q = 0; rc == 0 && q < e->n_queries; q++) {
        const fw_eval_query *qq = &e->queries[q];
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int(st, 2, q);
        sqlite3_bind_text(st, 3, qq->image, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, qq->true_id, -1, SQLITE_STATIC);
        for (int k = 0; k < FW_EVAL_TOPK; k++) {
            sqlite3_bind_text(st, 5 + 2 * k, qq->match_id[k], -1, SQLITE_STATIC);
            sqlite3_bind_double(st, 6 + 2 * k, qq->similarity[k]);
        }
        rc = SQLITE_CHECK(err, db, sqlite3_step(st));
    }
    sqlite3_finalize(st);
    if (rc == 0)
        rc = fw_store_commit(s, err);
    else
        fw_store_rollback(s);
    if (rc == 0 && id_out)
        *id_out = id;
    return rc;
}

#define EVAL_COLUMNS                                                                       \
    "id, run_id, checkpoint, step, epoch, created_at, map5, top1, threshold, n_queries"

static int fill_eval(sqlite3_stmt *st, void *row, fw_error *err)
{
    fw_evaluation *e = row;
    memset(e, 0, sizeof *e);
    e->id = sqlite3_column_int64(st, 0);
    fw_sql_copy_col(st, 1, e->run_id, sizeof e->run_id);
    e->checkpoint = fw_sql_dup_col(st, 2);
    e->step = sqlite3_column_int64(st, 3);
    e->epoch = sqlite3_column_double(st, 4);
    e->created_at = sqlite3_column_double(st, 5);
    e->map5 = real_col(st, 6);
    e->top1 = real_col(st, 7);
    e->threshold = real_col(st, 8);
    e->n_queries = sqlite3_column_int(st, 9);
    if (!e->checkpoint)
        return fw_fail(err, FW_ENOMEM, "out of memory reading an evaluation");
    return 0;
}

static int read_queries(sqlite3 *db, fw_evaluation *e, fw_error *err)
{
    e->queries = calloc((size_t)(e->n_queries > 0 ? e->n_queries : 1), sizeof *e->queries);
    if (!e->queries)
        return fw_fail(err, FW_ENOMEM, "out of memory reading evaluation queries");
    sqlite3_stmt *st = NULL;
    int rc = SQLITE_CHECK(err, db,
                          sqlite3_prepare_v2(db,
                                             "SELECT q, image, true_id, m1, s1, m2, s2, m3, s3, "
                                             "m4, s4, m5, s5 FROM eval_queries WHERE eval_id = ? "
                                             "ORDER BY q",
                                             -1, &st, NULL));
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, e->id);
    int got = 0;
    for (;;) {
        int step = sqlite3_step(st);
        if (step == SQLITE_DONE)
            break;
        if (step != SQLITE_ROW) {
            rc = SQLITE_CHECK(err, db, step);
            break;
        }
        int q = sqlite3_column_int(st, 0);
        if (q < 0 || q >= e->n_queries || e->queries[q].image) {
            rc = fw_fail(err, FW_ECORRUPT, "evaluation %lld: query %d out of range",
                         (long long)e->id, q);
            break;
        }
        fw_eval_query *qq = &e->queries[q];
        qq->image = fw_sql_dup_col(st, 1);
        qq->true_id = fw_sql_dup_col(st, 2);
        int ok = qq->image && qq->true_id;
        for (int k = 0; k < FW_EVAL_TOPK; k++) {
            qq->match_id[k] = fw_sql_dup_col(st, 3 + 2 * k);
            qq->similarity[k] = real_col(st, 4 + 2 * k);
            ok = ok && qq->match_id[k];
        }
        if (!ok) {
            rc = fw_fail(err, FW_ENOMEM, "out of memory reading evaluation queries");
            break;
        }
        got++;
    }
    sqlite3_finalize(st);
    if (rc == 0 && got != e->n_queries)
        rc = fw_fail(err, FW_ECORRUPT, "evaluation %lld: %d of %d queries stored",
                     (long long)e->id, got, e->n_queries);
    return rc;
}

int fw_store_eval_get(fw_store *s, int64_t id, const char *run_id, const char *checkpoint,
                      fw_evaluation *out, fw_error *err)
{
    sqlite3 *db = fw_store_db(s);
    memset(out, 0, sizeof *out);
    int own_txn = sqlite3_get_autocommit(db);
    int rc = own_txn ? SQLITE_CHECK(err, db, sqlite3_exec(db, "BEGIN", NULL, NULL, NULL)) : 0;
    if (rc < 0)
        return rc;
    sqlite3_stmt *st = NULL;
    const char *sql = id > 0 ? "SELECT " EVAL_COLUMNS " FROM evaluations WHERE id = ?1"
                      : checkpoint
                          ? "SELECT " EVAL_COLUMNS " FROM evaluations WHERE run_id = ?2 AND "
                            "checkpoint = ?3 ORDER BY id DESC LIMIT 1"
                          : "SELECT " EVAL_COLUMNS " FROM evaluations WHERE run_id = ?2 "
                            "ORDER BY id DESC LIMIT 1";
    rc = SQLITE_CHECK(err, db, sqlite3_prepare_v2(db, sql, -1, &st, NULL));
    if (rc == 0) {
        if (id > 0)
            sqlite3_bind_int64(st, 1, id);
        else
            sqlite3_bind_text(st, 2, run_id ? run_id : "", -1, SQLITE_STATIC);
        if (id <= 0 && checkpoint)
            sqlite3_bind_text(st, 3, checkpoint, -1, SQLITE_STATIC);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW)
            rc = fill_eval(st, out, err);
        else if (step == SQLITE_DONE)
            rc = fw_fail(err, FW_ENOTFOUND, "no such evaluation (id %lld, run %s%s%s)",
                         (long long)id, run_id ? run_id : "-",
                         checkpoint ? ", checkpoint " : "", checkpoint ? checkpoint : "");
        else
            rc = SQLITE_CHECK(err, db, step);
    }
    sqlite3_finalize(st);
    if (rc == 0)
        rc = read_queries(db, out, err);
    if (own_txn)
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc < 0)
        fw_evaluation_free(out);
    return rc;
}

int fw_store_eval_list(fw_store *s, const char *run_id, fw_evaluation **evals, int *n,
                       fw_error *err)
{
    sqlite3 *db = fw_store_db(s);
    *evals = NULL;
    *n = 0;
    sqlite3_stmt *st = NULL;
    int rc = SQLITE_CHECK(err, db,
                          sqlite3_prepare_v2(db,
                                             "SELECT " EVAL_COLUMNS " FROM evaluations WHERE "
                                             "run_id = ? ORDER BY id",
                                             -1, &st, NULL));
    if (rc < 0)
        return rc;
    sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
    fw_evaluation *list = NULL;
    int count = 0;
    rc = fw_sql_collect(db, st, sizeof *list, fill_eval, (void **)&list, &count, "evaluations",
                        err);
    if (rc < 0) {
        fw_eval_list_free(list, count);
        return rc;
    }
    *evals = list;
    *n = count;
    return 0;
}

void fw_evaluation_free(fw_evaluation *e)
{
    if (!e)
        return;
    if (e->queries) {
        for (int q = 0; q < e->n_queries; q++) {
            free(e->queries[q].image);
            free(e->queries[q].true_id);
            for (int k = 0; k < FW_EVAL_TOPK; k++)
                free(e->queries[q].match_id[k]);
        }
        free(e->queries);
    }
    free(e->checkpoint);
    e->queries = NULL;
    e->checkpoint = NULL;
}

void fw_eval_list_free(fw_evaluation *evals, int n)
{
    for (int i = 0; i < n; i++)
        fw_evaluation_free(&evals[i]);
    free(evals);
}

/* ------------------------------------------------------- control requests */

static const char *const action_names[] = {"pause", "resume", "stop"};

const char *fw_control_action_name(fw_control_action a)
{
    return (int)a >= 0 && (int)a < 3 ? action_names[a] : "unknown";
}

static fw_control_action parse_action(const unsigned char *t)
{
    for (int i = 0; i < 3; i++)
        if (t && strcmp((const char *)t, action_names[i]) == 0)
            return (fw_control_action)i;
    return FW_CONTROL_STOP; /* unreachable: the CHECK constraint */
}

int fw_store_control_post(fw_store *s, const char *run_id, fw_control_action a, int64_t *id_out,
                          fw_error *err)
{
    sqlite3 *db = fw_store_db(s);
    if ((int)a < 0 || (int)a > 2)
        return fw_fail(err, FW_EINVAL, "control request: invalid action %d", (int)a);
    FW_TRY(fw_store_begin(s, err));
    sqlite3_stmt *st = NULL;
    int64_t id = 0;
    int rc = SQLITE_CHECK(err, db,
                          sqlite3_prepare_v2(db,
                                             "INSERT INTO control_requests (run_id, action, "
                                             "sender_pid, posted_at) VALUES (?,?,?,?)",
                                             -1, &st, NULL));
    if (rc == 0) {
        sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, action_names[a], -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (int64_t)getpid());
        sqlite3_bind_double(st, 4, fw_store_now());
        int step = sqlite3_step(st);
        if (step != SQLITE_DONE && (step & 0xff) == SQLITE_CONSTRAINT)
            rc = fw_fail(err, FW_ENOTFOUND, "%s: no run %s to control", fw_store_path(s),
                         run_id);
        else
            rc = SQLITE_CHECK(err, db, step);
        id = sqlite3_last_insert_rowid(db);
    }
    sqlite3_finalize(st);
    if (rc == 0)
        rc = fw_store_commit(s, err);
    else
        fw_store_rollback(s);
    if (rc == 0 && id_out)
        *id_out = id;
    return rc;
}

#define CONTROL_COLUMNS "id, run_id, action, sender_pid, posted_at, done_at, result"

static void fill_control(sqlite3_stmt *st, fw_control_request *r)
{
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(st, 0);
    fw_sql_copy_col(st, 1, r->run_id, sizeof r->run_id);
    r->action = parse_action(sqlite3_column_text(st, 2));
    r->sender_pid = sqlite3_column_int64(st, 3);
    r->posted_at = sqlite3_column_double(st, 4);
    r->done_at = sqlite3_column_double(st, 5);
    fw_sql_copy_col(st, 6, r->result, sizeof r->result);
}

static int control_select(fw_store *s, const char *sql, const char *run_id, int64_t id,
                          fw_control_request *req, int *found, fw_error *err)
{
    sqlite3 *db = fw_store_db(s);
    *found = 0;
    sqlite3_stmt *st = NULL;
    int rc = SQLITE_CHECK(err, db, sqlite3_prepare_v2(db, sql, -1, &st, NULL));
    if (rc < 0)
        return rc;
    if (run_id)
        sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(st, 1, id);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        fill_control(st, req);
        *found = 1;
    } else if (step != SQLITE_DONE) {
        rc = SQLITE_CHECK(err, db, step);
    }
    sqlite3_finalize(st);
    return rc;
}

int fw_store_control_next(fw_store *s, const char *run_id, fw_control_request *req, int *found,
                          fw_error *err)
{
    return control_select(s,
                          "SELECT " CONTROL_COLUMNS " FROM control_requests WHERE run_id = ? "
                          "AND done_at = 0 ORDER BY id LIMIT 1",
                          run_id, 0, req, found, err);
}

int fw_store_control_get(fw_store *s, int64_t id, fw_control_request *req, fw_error *err)
{
    int found = 0;
    FW_TRY(control_select(s, "SELECT " CONTROL_COLUMNS " FROM control_requests WHERE id = ?",
                          NULL, id, req, &found, err));
    if (!found)
        return fw_fail(err, FW_ENOTFOUND, "%s: no control request %lld", fw_store_path(s),
                       (long long)id);
    return 0;
}

int fw_store_control_done(fw_store *s, int64_t id, const char *result, fw_error *err)
{
    sqlite3 *db = fw_store_db(s);
    FW_TRY(fw_store_begin(s, err));
    sqlite3_stmt *st = NULL;
    int rc = SQLITE_CHECK(err, db,
                          sqlite3_prepare_v2(db,
                                             "UPDATE control_requests SET done_at = ?, result = ? "
                                             "WHERE id = ? AND done_at = 0",
                                             -1, &st, NULL));
    if (rc == 0) {
        sqlite3_bind_double(st, 1, fw_store_now());
        sqlite3_bind_text(st, 2, result ? result : "ok", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, id);
        rc = SQLITE_CHECK(err, db, sqlite3_step(st));
        if (rc == 0 && sqlite3_changes(db) != 1)
            rc = fw_fail(err, FW_ENOTFOUND, "%s: no pending control request %lld",
                         fw_store_path(s), (long long)id);
    }
    sqlite3_finalize(st);
    if (rc == 0)
        return fw_store_commit(s, err);
    fw_store_rollback(s);
    return rc;
}
