/* store.c — open/create the run store: workspace, connection settings, schema
 * migrations, transactions, and the SQLite error check. */
#define _GNU_SOURCE
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "fileio.h"
#include "sqlite_check.h"

struct fw_store {
    sqlite3 *db;
    char path[4096];
};

int fw_sqlite_check_(int rc, sqlite3 *db, const char *call, const char *file, int line,
                     fw_error *err)
{
    if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE)
        return 0;
    int code;
    switch (rc & 0xff) {
    case SQLITE_NOMEM: code = FW_ENOMEM; break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: code = FW_ECORRUPT; break;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISUSE:
    case SQLITE_RANGE: code = FW_EINVAL; break;
    default: code = FW_EIO; break;
    }
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    return fw_fail(err, code, "%s:%d: %s failed: %s (%s)", file, line, call, msg,
                   sqlite3_errstr(rc));
}

/* ------------------------------------------------------------- schema */

/* migrations[i] takes the schema from version i to version i + 1. Never edit
 * a released entry: add a new one and bump FW_STORE_SCHEMA_VERSION. */
static const char *const migrations[FW_STORE_SCHEMA_VERSION] = {
    /* 0 -> 1: runs, metric points, events */
    "CREATE TABLE runs ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " id TEXT NOT NULL UNIQUE,"
    " name TEXT NOT NULL,"
    " parent TEXT REFERENCES runs(id),"
    " status TEXT NOT NULL CHECK (status IN ('queued','running','paused','finished',"
    "  'failed','interrupted')),"
    " owner_pid INTEGER NOT NULL DEFAULT 0,"
    " owner_host TEXT NOT NULL DEFAULT '',"
    " created_at REAL NOT NULL,"
    " started_at REAL NOT NULL DEFAULT 0,"
    " updated_at REAL NOT NULL,"
    " ended_at REAL NOT NULL DEFAULT 0,"
    " config TEXT NOT NULL DEFAULT '');"
    "CREATE TABLE metrics ("
    " id INTEGER PRIMARY KEY,"
    " run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " step INTEGER NOT NULL,"
    " epoch REAL NOT NULL,"
    " name TEXT NOT NULL,"
    " value REAL," /* NULL = NaN (SQLite stores NaN as NULL) */
    " wall_time REAL NOT NULL);"
    "CREATE INDEX metrics_by_run ON metrics(run_id);"
    "CREATE INDEX metrics_by_name ON metrics(run_id, name);"
    "CREATE TABLE events ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " step INTEGER NOT NULL,"
    " kind TEXT NOT NULL,"
    " message TEXT NOT NULL,"
    " wall_time REAL NOT NULL);"
    "CREATE INDEX events_by_run ON events(run_id);",

    /* 1 -> 2: backend/devices of a run, LR-finder curves, evaluations,
     * control requests */
    "ALTER TABLE runs ADD COLUMN backend TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE runs ADD COLUMN devices TEXT NOT NULL DEFAULT '';"
    "CREATE TABLE lr_curves ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " created_at REAL NOT NULL,"
    " n INTEGER NOT NULL,"
    " diverged INTEGER NOT NULL,"
    " valid INTEGER NOT NULL,"
    " valley REAL, steep REAL, minimum REAL,"
    " valley_idx INTEGER NOT NULL, steep_idx INTEGER NOT NULL, minimum_idx INTEGER NOT NULL);"
    "CREATE INDEX lr_curves_by_run ON lr_curves(run_id);"
    "CREATE TABLE lr_points ("
    " curve_id INTEGER NOT NULL REFERENCES lr_curves(id) ON DELETE CASCADE,"
    " i INTEGER NOT NULL,"
    " lr REAL, loss REAL, smoothed REAL,"
    " PRIMARY KEY (curve_id, i)) WITHOUT ROWID;"
    "CREATE TABLE evaluations ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " checkpoint TEXT NOT NULL DEFAULT '',"
    " step INTEGER NOT NULL,"
    " epoch REAL NOT NULL,"
    " created_at REAL NOT NULL,"
    " map5 REAL, top1 REAL, threshold REAL,"
    " n_queries INTEGER NOT NULL);"
    "CREATE INDEX evaluations_by_run ON evaluations(run_id, checkpoint);"
    "CREATE TABLE eval_queries ("
    " eval_id INTEGER NOT NULL REFERENCES evaluations(id) ON DELETE CASCADE,"
    " q INTEGER NOT NULL,"
    " image TEXT NOT NULL,"
    " true_id TEXT NOT NULL,"
    " m1 TEXT NOT NULL, s1 REAL, m2 TEXT NOT NULL, s2 REAL, m3 TEXT NOT NULL, s3 REAL,"
    " m4 TEXT NOT NULL, s4 REAL, m5 TEXT NOT NULL, s5 REAL,"
    " PRIMARY KEY (eval_id, q)) WITHOUT ROWID;"
    "CREATE TABLE control_requests ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " action TEXT NOT NULL CHECK (action IN ('pause','resume','stop')),"
    " sender_pid INTEGER NOT NULL,"
    " posted_at REAL NOT NULL,"
    " done_at REAL NOT NULL DEFAULT 0,"
    " result TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX control_pending ON control_requests(run_id, done_at, id);",
};

double fw_store_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double fw_store_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

void fw_sql_copy_col(sqlite3_stmt *st, int col, char *out, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(out, cap, "%s", t ? (const char *)t : "");
}

char *fw_sql_dup_col(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return strdup(t ? (const char *)t : "");
}

int fw_sql_collect(sqlite3 *db, sqlite3_stmt *st, size_t elem, fw_sql_row_fn fill,
                   void **list, int *count, const char *what, fw_error *err)
{
    int rc = 0, cap = 0;
    *list = NULL;
    *count = 0;
    for (;;) {
        int step = sqlite3_step(st);
        if (step == SQLITE_DONE)
            break;
        if (step != SQLITE_ROW) {
            rc = SQLITE_CHECK(err, db, step);
            break;
        }
        if (*count == cap) {
            int ncap = cap ? cap * 2 : 64;
            void *grown = realloc(*list, (size_t)ncap * elem);
            if (!grown) {
                rc = fw_fail(err, FW_ENOMEM, "out of memory reading %s", what);
                break;
            }
            *list = grown;
            cap = ncap;
        }
        rc = fill(st, (char *)*list + (size_t)*count * elem, err);
        if (rc < 0)
            break;
        (*count)++;
    }
    sqlite3_finalize(st);
    return rc;
}

int fw_store_resolve_workspace(const char *explicit_dir, char *out, size_t cap, fw_error *err)
{
    const char *dir = explicit_dir;
    if (!dir || !*dir) {
        const char *env = getenv("FLUKEWATCH_HOME");
        dir = (env && *env) ? env : FW_STORE_DEFAULT_WORKSPACE;
    }
    size_t len = strlen(dir);
    if (len + 1 > cap)
        return fw_fail(err, FW_ETOOBIG, "%s: workspace path too long", dir);
    memcpy(out, dir, len + 1);
    return 0;
}

static int exec_sql(fw_store *s, const char *sql, const char *what, fw_error *err)
{
    char *msg = NULL;
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        int code = fw_sqlite_check_(rc, s->db, what, __FILE__, __LINE__, err);
        if (msg)
            fw_error_prefix(err, "%s: ", s->path);
        sqlite3_free(msg);
        return code;
    }
    return 0;
}

int fw_store_schema_version(fw_store *s, int *version, fw_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = SQLITE_CHECK(err, s->db, sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL));
    if (rc == 0) {
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW)
            *version = sqlite3_column_int(st, 0);
        else
            rc = SQLITE_CHECK(err, s->db, step == SQLITE_DONE ? SQLITE_ERROR : step);
    }
    sqlite3_finalize(st);
    return rc;
}

int fw_store_integrity_check(fw_store *s, int *ok, fw_error *err)
{
    sqlite3_stmt *st = NULL;
    *ok = 0;
    int rc = SQLITE_CHECK(err, s->db,
                          sqlite3_prepare_v2(s->db, "PRAGMA integrity_check", -1, &st, NULL));
    if (rc == 0) {
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            const unsigned char *t = sqlite3_column_text(st, 0);
            *ok = t && strcmp((const char *)t, "ok") == 0;
        } else {
            rc = SQLITE_CHECK(err, s->db, step);
        }
    }
    sqlite3_finalize(st);
    return rc;
}

int fw_store_begin(fw_store *s, fw_error *err)
{
    /* busy_timeout makes BEGIN IMMEDIATE wait for the write lock; keep trying
     * past one timeout in case the handler gave up early (e.g. a WAL
     * recovery by another connection). */
    double deadline = fw_store_monotonic_ms() + FW_STORE_BUSY_TIMEOUT_MS;
    for (;;) {
        int rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        if (rc == SQLITE_OK)
            return 0;
        if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
            return SQLITE_CHECK(err, s->db, rc);
        if (fw_store_monotonic_ms() > deadline)
            return fw_fail(err, FW_EIO, "%s: the store stayed locked by another writer for %d ms",
                           s->path, FW_STORE_BUSY_TIMEOUT_MS);
        sqlite3_sleep(5);
    }
}

int fw_store_commit(fw_store *s, fw_error *err)
{
    double deadline = fw_store_monotonic_ms() + FW_STORE_BUSY_TIMEOUT_MS;
    for (;;) {
        int rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
        if (rc == SQLITE_OK)
            return 0;
        if ((rc & 0xff) != SQLITE_BUSY || fw_store_monotonic_ms() > deadline) {
            int code = SQLITE_CHECK(err, s->db, rc);
            fw_store_rollback(s);
            return code;
        }
        sqlite3_sleep(5);
    }
}

void fw_store_rollback(fw_store *s)
{
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

static int refuse_newer(fw_store *s, int version, fw_error *err)
{
    return fw_fail(err, FW_EUNSUPPORTED,
                   "%s: the run store has schema version %d, newer than this flukewatch "
                   "supports (%d); use a newer flukewatch or another workspace",
                   s->path, version, FW_STORE_SCHEMA_VERSION);
}

static int migrate(fw_store *s, fw_error *err)
{
    int version = 0;
    FW_TRY(fw_store_schema_version(s, &version, err));
    if (version > FW_STORE_SCHEMA_VERSION)
        return refuse_newer(s, version, err);
    if (version == FW_STORE_SCHEMA_VERSION)
        return 0;
    FW_TRY(fw_store_begin(s, err));
    /* Another process may have migrated between the read and the lock. */
    int rc = fw_store_schema_version(s, &version, err);
    if (rc == 0 && version > FW_STORE_SCHEMA_VERSION)
        rc = refuse_newer(s, version, err);
    for (int v = version; rc == 0 && v < FW_STORE_SCHEMA_VERSION; v++) {
        rc = exec_sql(s, migrations[v], "migration", err);
        if (rc < 0)
            fw_error_prefix(err, "migrating the store from version %d to %d: ", v, v + 1);
    }
    if (rc == 0) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", FW_STORE_SCHEMA_VERSION);
        rc = exec_sql(s, sql, "PRAGMA user_version", err);
    }
    if (rc == 0)
        return fw_store_commit(s, err);
    fw_store_rollback(s);
    return rc;
}

static int configure_connection(fw_store *s, fw_error *err)
{
    int rc = SQLITE_CHECK(err, s->db, sqlite3_busy_timeout(s->db, FW_STORE_BUSY_TIMEOUT_MS));
    if (rc < 0)
        return rc;
    sqlite3_extended_result_codes(s->db, 1);
    /* journal_mode returns the mode now in force: it must say "wal". Switching
     * a new database to WAL needs an exclusive lock, and SQLite answers BUSY
     * at once (no busy handler) while another process opens it too: retry. */
    double deadline = fw_store_monotonic_ms() + FW_STORE_BUSY_TIMEOUT_MS;
    for (;;) {
        sqlite3_stmt *st = NULL;
        rc = SQLITE_CHECK(err, s->db,
                          sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL));
        if (rc < 0)
            return rc;
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            const unsigned char *mode = sqlite3_column_text(st, 0);
            if (!mode || strcmp((const char *)mode, "wal") != 0)
                rc = fw_fail(err, FW_EUNSUPPORTED,
                             "%s: cannot switch the store to WAL mode (got %s)", s->path,
                             mode ? (const char *)mode : "nothing");
            sqlite3_finalize(st);
            if (rc < 0)
                return rc;
            break;
        }
        sqlite3_finalize(st);
        int busy = (step & 0xff) == SQLITE_BUSY || (step & 0xff) == SQLITE_LOCKED;
        if (!busy || fw_store_monotonic_ms() > deadline)
            return SQLITE_CHECK(err, s->db, step == SQLITE_DONE ? SQLITE_ERROR : step);
        sqlite3_sleep(5);
    }
    FW_TRY(exec_sql(s, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON", "PRAGMA", err));
    return 0;
}

int fw_store_open_file(const char *db_path, fw_store **out, fw_error *err)
{
    *out = NULL;
    fw_store *s = calloc(1, sizeof *s);
    if (!s)
        return fw_fail(err, FW_ENOMEM, "out of memory opening %s", db_path);
    size_t len = strlen(db_path);
    if (len >= sizeof s->path) {
        free(s);
        return fw_fail(err, FW_ETOOBIG, "%s: path too long", db_path);
    }
    memcpy(s->path, db_path, len + 1);
    int rc = sqlite3_open_v2(db_path, &s->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        rc = SQLITE_CHECK(err, s->db, rc);
        fw_error_prefix(err, "%s: ", db_path);
        fw_store_close(s);
        return rc;
    }
    rc = configure_connection(s, err);
    if (rc == 0)
        rc = migrate(s, err);
    if (rc < 0) {
        fw_store_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

int fw_store_open(const char *workspace, fw_store **out, fw_error *err)
{
    *out = NULL;
    char dir[4096];
    FW_TRY(fw_store_resolve_workspace(workspace, dir, sizeof dir, err));
    FW_TRY(fw_mkdirs(dir, err));
    char path[4096 + 32];
    int len = snprintf(path, sizeof path, "%s/%s", dir, FW_STORE_DB_NAME);
    if (len < 0 || (size_t)len >= sizeof path)
        return fw_fail(err, FW_ETOOBIG, "%s: workspace path too long", dir);
    return fw_store_open_file(path, out, err);
}

void fw_store_close(fw_store *s)
{
    if (!s)
        return;
    sqlite3_close_v2(s->db);
    free(s);
}

const char *fw_store_path(const fw_store *s)
{
    return s->path;
}

sqlite3 *fw_store_db(fw_store *s)
{
    return s->db;
}
