/* test_store.c — the run store: workspace resolution, schema creation,
 * migration of a hand-made version-1 database, refusal of a newer one, a
 * round trip through every table, run status transitions, dead owners shown
 * as interrupted, control request order, and batches that a crash (an _exit
 * inside a transaction, or kill -9 of a writer) never leaves half visible. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rng.h"
#include "sqlite_check.h"
#include "store.h"
#include "tap.h"

static char tmp_root[256];
static int dir_counter;

/* A fresh empty directory path (not created) under the test's temp dir. */
static void fresh_dir(char *out, size_t cap)
{
    snprintf(out, cap, "%s/ws%d", tmp_root, ++dir_counter);
}

static fw_store *open_fresh(char *dir, size_t cap)
{
    fresh_dir(dir, cap);
    fw_store *s = NULL;
    fw_error err = {0};
    int rc = fw_store_open(dir, &s, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    return s;
}

static void db_path(const char *dir, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", dir, FW_STORE_DB_NAME);
}

/* One integer from an SQL query on a separate raw connection. */
static long long raw_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    long long v = -999;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(db, 5000);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return v;
}

static long long store_int(fw_store *s, const char *sql)
{
    sqlite3_stmt *st = NULL;
    long long v = -999;
    if (sqlite3_prepare_v2(fw_store_db(s), sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void test_resolve_workspace(void)
{
    char out[256];
    fw_error err = {0};
    const char *saved = getenv("FLUKEWATCH_HOME");
    char saved_copy[256] = "";
    if (saved)
        snprintf(saved_copy, sizeof saved_copy, "%s", saved);
    setenv("FLUKEWATCH_HOME", "/from/env", 1);
    CHECK_INT(fw_store_resolve_workspace("/explicit", out, sizeof out, &err), 0);
    CHECK_STR(out, "/explicit");
    CHECK_INT(fw_store_resolve_workspace(NULL, out, sizeof out, &err), 0);
    CHECK_STR(out, "/from/env");
    CHECK_INT(fw_store_resolve_workspace("", out, sizeof out, &err), 0);
    CHECK_STR(out, "/from/env");
    unsetenv("FLUKEWATCH_HOME");
    CHECK_INT(fw_store_resolve_workspace(NULL, out, sizeof out, &err), 0);
    CHECK_STR(out, "./flukewatch-runs");
    setenv("FLUKEWATCH_HOME", "", 1);
    CHECK_INT(fw_store_resolve_workspace(NULL, out, sizeof out, &err), 0);
    CHECK_STR(out, "./flukewatch-runs");
    char small[4];
    CHECK_INT(fw_store_resolve_workspace("/long/path", small, sizeof small, &err), FW_ETOOBIG);
    if (saved_copy[0])
        setenv("FLUKEWATCH_HOME", saved_copy, 1);
    else
        unsetenv("FLUKEWATCH_HOME");
}

static void test_create_schema(void)
{
    char dir[300], nested[400], path[500];
    fresh_dir(dir, sizeof dir);
    snprintf(nested, sizeof nested, "%s/a/b", dir);
    fw_store *s = NULL;
    fw_error err = {0};
    int rc = fw_store_open(nested, &s, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc)
        return;
    db_path(nested, path, sizeof path);
    struct stat sb;
    CHECK(stat(path, &sb) == 0);
    CHECK_STR(fw_store_path(s), path);
    int version = -1;
    CHECK_INT(fw_store_schema_version(s, &version, &err), 0);
    CHECK_INT(version, FW_STORE_SCHEMA_VERSION);
    CHECK_INT(store_int(s, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode='wal'"),
              1);
    CHECK_INT(store_int(s, "PRAGMA foreign_keys"), 1);
    CHECK_INT(store_int(s, "PRAGMA synchronous"), 1); /* NORMAL */
    CHECK(store_int(s, "PRAGMA busy_timeout") >= 1000);
    const char *tables[] = {"runs", "metrics", "events", "lr_curves", "lr_points",
                            "evaluations", "eval_queries", "control_requests"};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        char sql[200];
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='%s'",
                 tables[i]);
        CHECK_MSG(store_int(s, sql) == 1, "table %s", tables[i]);
    }
    fw_store_close(s);
    /* Reopening an up-to-date store changes nothing. */
    rc = fw_store_open(nested, &s, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    CHECK_INT(raw_int(path, "PRAGMA user_version"), FW_STORE_SCHEMA_VERSION);
    int ok = 0;
    CHECK_INT(fw_store_integrity_check(s, &ok, &err), 0);
    CHECK(ok);
    fw_store_close(s);
}

/* The version-1 schema as flukewatch 1 created it, written out here on
 * purpose (not taken from the library) so the migration is tested against
 * what old stores really contain. */
static const char v1_schema[] =
    "CREATE TABLE runs (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,"
    " name TEXT NOT NULL, parent TEXT REFERENCES runs(id), status TEXT NOT NULL CHECK (status"
    " IN ('queued','running','paused','finished','failed','interrupted')), owner_pid INTEGER"
    " NOT NULL DEFAULT 0, owner_host TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL,"
    " started_at REAL NOT NULL DEFAULT 0, updated_at REAL NOT NULL, ended_at REAL NOT NULL"
    " DEFAULT 0, config TEXT NOT NULL DEFAULT '');"
    "CREATE TABLE metrics (id INTEGER PRIMARY KEY, run_id TEXT NOT NULL REFERENCES runs(id)"
    " ON DELETE CASCADE, step INTEGER NOT NULL, epoch REAL NOT NULL, name TEXT NOT NULL,"
    " value REAL, wall_time REAL NOT NULL);"
    "CREATE INDEX metrics_by_run ON metrics(run_id);"
    "CREATE INDEX metrics_by_name ON metrics(run_id, name);"
    "CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL"
    " REFERENCES runs(id) ON DELETE CASCADE, step INTEGER NOT NULL, kind TEXT NOT NULL,"
    " message TEXT NOT NULL, wall_time REAL NOT NULL);"
    "CREATE INDEX events_by_run ON events(run_id);"
    "INSERT INTO runs (id, name, status, created_at, updated_at, config) VALUES"
    " ('r0001', 'old run', 'finished', 1000, 1100, 'lr = 0.1');"
    "INSERT INTO metrics (run_id, step, epoch, name, value, wall_time) VALUES"
    " ('r0001', 1, 0.5, 'loss', 2.5, 1001), ('r0001', 2, 1.0, 'loss', 2.0, 1002);"
    "INSERT INTO events (run_id, step, kind, message, wall_time) VALUES"
    " ('r0001', 2, 'checkpoint', 'ckpt-2.fwc', 1002);"
    "PRAGMA user_version = 1;";

static int make_raw_db(const char *dir, const char *sql)
{
    char path[500];
    mkdir(dir, 0755);
    db_path(dir, path, sizeof path);
    sqlite3 *db = NULL;
    int rc = sqlite3_open(path, &db);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}

static void test_migrate_from_v1(void)
{
    char dir[300];
    fresh_dir(dir, sizeof dir);
    CHECK_INT(make_raw_db(dir, v1_schema), SQLITE_OK);
    fw_store *s = NULL;
    fw_error err = {0};
    int rc = fw_store_open(dir, &s, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc)
        return;
    int version = 0;
    CHECK_INT(fw_store_schema_version(s, &version, &err), 0);
    CHECK_INT(version, 2);
    fw_run_info r;
    CHECK_INT(fw_store_run_get(s, "r0001", &r, &err), 0);
    CHECK_STR(r.name, "old run");
    CHECK_STR(r.config, "lr = 0.1");
    CHECK_STR(r.backend, ""); /* the column added by migration 2 */
    CHECK_INT(r.status, FW_RUN_FINISHED);
    fw_run_info_free(&r);
    fw_metric_query q = {"r0001", "loss", 0, 0, 0};
    fw_metric_point *pts = NULL;
    int n = 0;
    CHECK_INT(fw_store_metrics_read(s, &q, &pts, &n, &err), 0);
    CHECK_INT(n, 2);
    if (n == 2) {
        CHECK_NEAR(pts[0].value, 2.5, 0);
        CHECK_NEAR(pts[1].value, 2.0, 0);
    }
    free(pts);
    fw_event *ev = NULL;
    CHECK_INT(fw_store_events_read(s, "r0001", 0, 0, &ev, &n, &err), 0);
    CHECK_INT(n, 1);
    if (n == 1)
        CHECK_STR(ev[0].message, "ckpt-2.fwc");
    fw_events_free(ev, n);
    /* New runs continue the sequence; the v2 tables work. */
    char id[FW_RUN_ID_CAP];
    fw_run_spec spec = {"new run", "r0001", NULL, "cpu", "cpu0"};
    CHECK_INT(fw_store_run_create(s, &spec, id, &err), 0);
    CHECK_STR(id, "r0002");
    int64_t req = 0;
    CHECK_INT(fw_store_control_post(s, "r0002", FW_CONTROL_STOP, &req, &err), 0);
    int ok = 0;
    CHECK_INT(fw_store_integrity_check(s, &ok, &err), 0);
    CHECK(ok);
    fw_store_close(s);
}

static void test_newer_version_refused(void)
{
    char dir[300], path[500];
    fresh_dir(dir, sizeof dir);
    CHECK_INT(make_raw_db(dir, "CREATE TABLE future (x); PRAGMA user_version = 3;"), SQLITE_OK);
    fw_store *s = NULL;
    fw_error err = {0};
    CHECK_INT(fw_store_open(dir, &s, &err), FW_EUNSUPPORTED);
    CHECK(s == NULL);
    CHECK_MSG(strstr(err.msg, "schema version 3") && strstr(err.msg, "newer"), "%s", err.msg);
    db_path(dir, path, sizeof path);
    CHECK_MSG(strstr(err.msg, path) != NULL, "%s", err.msg);
    CHECK_INT(raw_int(path, "PRAGMA user_version"), 3);
    CHECK_INT(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE name='runs'"), 0);
}

static void test_not_a_database(void)
{
    char dir[300], path[500];
    fresh_dir(dir, sizeof dir);
    mkdir(dir, 0755);
    db_path(dir, path, sizeof path);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f)
        return;
    for (int i = 0; i < 4096; i++)
        fputc("garbage!"[i % 8], f);
    fclose(f);
    fw_store *s = NULL;
    fw_error err = {0};
    int rc = fw_store_open(dir, &s, &err);
    CHECK_INT(rc, FW_ECORRUPT);
    CHECK_MSG(strstr(err.msg, "store.c:") != NULL, "%s", err.msg); /* file:line of the check */
    CHECK(s == NULL);
}

/* Several processes opening a brand-new workspace at once: one creates the
 * schema, none fails, and the runs they create get distinct ids. */
static void test_simultaneous_first_open(void)
{
    enum { PROCS = 4, RUNS_EACH = 5 };
    char dir[300];
    fresh_dir(dir, sizeof dir);
    pid_t pids[PROCS];
    for (int i = 0; i < PROCS; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            fw_store *cs = NULL;
            fw_error cerr = {0};
            if (fw_store_open(dir, &cs, &cerr) < 0) {
                printf("# child %d: %s\n", i, cerr.msg);
                fflush(stdout);
                _exit(1);
            }
            for (int r = 0; r < RUNS_EACH; r++) {
                char id[FW_RUN_ID_CAP];
                fw_run_spec spec = {"racer", NULL, NULL, NULL, NULL};
                if (fw_store_run_create(cs, &spec, id, &cerr) < 0) {
                    printf("# child %d: %s\n", i, cerr.msg);
                    fflush(stdout);
                    _exit(1);
                }
            }
            fw_store_close(cs);
            _exit(0);
        }
    }
    for (int i = 0; i < PROCS; i++) {
        int wstatus = 0;
        CHECK(waitpid(pids[i], &wstatus, 0) == pids[i]);
        CHECK_MSG(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0, "child %d failed", i);
    }
    fw_store *s = NULL;
    fw_error err = {0};
    CHECK_INT(fw_store_open(dir, &s, &err), 0);
    if (!s)
        return;
    fw_run_info *list = NULL;
    int n = 0;
    CHECK_INT(fw_store_run_list(s, &list, &n, &err), 0);
    CHECK_INT(n, PROCS * RUNS_EACH);
    for (int i = 0; i < n; i++) {
        char want[FW_RUN_ID_CAP];
        snprintf(want, sizeof want, "r%04d", i + 1);
        CHECK_STR(list[i].id, want);
    }
    fw_run_list_free(list, n);
    fw_store_close(s);
}

static void test_runs_round_trip(void)
{
    char dir[300];
    fw_store *s = open_fresh(dir, sizeof dir);
    if (!s)
        return;
    fw_error err = {0};
    char a[FW_RUN_ID_CAP], b[FW_RUN_ID_CAP], c[FW_RUN_ID_CAP];
    fw_run_spec sa = {"baseline", NULL, "[train]\nlr = 3e-4\n", "cuda", "0,1"};
    double before = fw_store_now();
    CHECK_INT(fw_store_run_create(s, &sa, a, &err), 0);
    fw_run_spec sb = {"fork \xe2\x9c\x93", a, NULL, NULL, NULL};
    CHECK_INT(fw_store_run_create(s, &sb, b, &err), 0);
    CHECK_STR(a, "r0001");
    CHECK_STR(b, "r0002");
    fw_run_spec bad_parent = {"x", "r9999", NULL, NULL, NULL};
    CHECK_INT(fw_store_run_create(s, &bad_parent, c, &err), FW_ENOTFOUND);
    fw_run_spec no_name = {"", NULL, NULL, NULL, NULL};
    CHECK_INT(fw_store_run_create(s, &no_name, c, &err), FW_EINVAL);
    fw_run_info r;
    CHECK_INT(fw_store_run_get(s, a, &r, &err), 0);
    CHECK_STR(r.id, "r0001");
    CHECK_STR(r.name, "baseline");
    CHECK_STR(r.parent, "");
    CHECK_STR(r.config, "[train]\nlr = 3e-4\n");
    CHECK_STR(r.backend, "cuda");
    CHECK_STR(r.devices, "0,1");
    CHECK_INT(r.status, FW_RUN_QUEUED);
    CHECK_INT(r.owner_pid, 0);
    CHECK(r.created_at >= before - 1 && r.created_at <= fw_store_now() + 1);
    CHECK(r.started_at == 0 && r.ended_at == 0);
    fw_run_info_free(&r);
    CHECK_INT(fw_store_run_get(s, "r0042", &r, &err), FW_ENOTFOUND);
    fw_run_info *list = NULL;
    int n = 0;
    CHECK_INT(fw_store_run_list(s, &list, &n, &err), 0);
    CHECK_INT(n, 2);
    if (n == 2) {
        CHECK_STR(list[0].id, "r0001");
        CHECK_STR(list[1].id, "r0002");
        CHECK_STR(list[1].parent, "r0001");
        CHECK_STR(list[1].name, "fork \xe2\x9c\x93");
        CHECK_STR(list[1].backend, "");
    }
    fw_run_list_free(list, n);
    /* Ids stay unique when another connection creates runs too. */
    fw_store *s2 = NULL;
    CHECK_INT(fw_store_open(dir, &s2, &err), 0);
    if (s2) {
        CHECK_INT(fw_store_run_create(s2, &sa, c, &err), 0);
        CHECK_STR(c, "r0003");
        fw_store_close(s2);
    }
    CHECK_STR(fw_run_status_name(FW_RUN_INTERRUPTED), "interrupted");
    fw_run_status st;
    CHECK_INT(fw_run_status_parse("paused", &st), 0);
    CHECK_INT(st, FW_RUN_PAUSED);
    CHECK_INT(fw_run_status_parse("bogus", &st), FW_EINVAL);
    fw_store_close(s);
}

static int status_of(fw_store *s, const char *id)
{
    fw_run_info r;
    fw_error err = {0};
    if (fw_store_run_get(s, id, &r, &err) < 0)
        return -1;
    int st = (int)r.status;
    fw_run_info_free(&r);
    return st;
}

static void test_status_transitions(void)
{
    char dir[300];
    fw_store *s = open_fresh(dir, sizeof dir);
    if (!s)
        return;
    fw_error err = {0};
    char id[FW_RUN_ID_CAP], id2[FW_RUN_ID_CAP];
    fw_run_spec spec = {"t", NULL, NULL, NULL, NULL};
    CHECK_INT(fw_store_run_create(s, &spec, id, &err), 0);
    CHECK_INT(fw_store_run_create(s, &spec, id2, &err), 0);
    /* queued -> finished / paused are refused */
    CHECK_INT(fw_store_run_set_status(s, id, FW_RUN_FINISHED, &err), FW_EINVAL);
    CHECK_MSG(strstr(err.msg, "queued") && strstr(err.msg, "finished"), "%s", err.msg);
    CHECK_INT(fw_store_run_set_status(s, id, FW_RUN_PAUSED, &err), FW_EINVAL);
    CHECK_INT(fw_store_run_set_status(s, "r9999", FW_RUN_RUNNING, &err), FW_ENOTFOUND);
    CHECK_INT(fw_store_run_set_status(s, id, FW_RUN_RUNNING, &err), 0);
    fw_run_info r;
    CHECK_INT(fw_store_run_get(s, id, &r, &err), 0);
    char host[256];
    gethostname(host, sizeof host);
    host[255] = 0;
    CHECK_INT(r.status, FW_RUN_RUNNING);
    CHECK_INT(r.owner_pid, getpid());
    CHECK_STR(r.owner_host, host);
    CHECK(r.started_at > 0);
    CHECK(r.ended_at == 0);
    double started = r.started_at;
    fw_run_info_free(&r);
    CHECK_INT(fw_store_run_set_status(s, id, FW_RUN_PAUSED, &err), 0);
    CHECK_INT(status_of(s, id), FW_RUN_PAUSED);
    CHECK_INT(fw_store_run_set_status(s, id, FW_RUN_RUNNING, &err), 0);
    CHECK_INT(fw_store_run_get(s, id, &r, &err), 0);
    CHECK(r.started_at == started); /* the first start is kept */
    fw_run_info_free(&r);
    CHECK_INT(fw_store_run_set_status(s, id, FW_RUN_FINISHED, &err), 0);
    CHECK_INT(fw_store_run_get(s, id, &r, &err), 0);
    CHECK_INT(r.status, FW_RUN_FINISHED);
    CHECK(r.ended_at >= r.started_at && r.ended_at > 0);
    fw_run_info_free(&r);
    for (int to = FW_RUN_QUEUED; to <= FW_RUN_INTERRUPTED; to++)
        CHECK_INT(fw_store_run_set_status(s, id, (fw_run_status)to, &err), FW_EINVAL);
    /* interrupted can be resumed in place; failed is final */
    CHECK_INT(fw_store_run_set_status(s, id2, FW_RUN_RUNNING, &err), 0);
    CHECK_INT(fw_store_run_set_status(s, id2, FW_RUN_INTERRUPTED, &err), 0);
    CHECK_INT(fw_store_run_set_status(s, id2, FW_RUN_PAUSED, &err), FW_EINVAL);
    CHECK_INT(fw_store_run_set_status(s, id2, FW_RUN_RUNNING, &err), 0);
    CHECK_INT(fw_store_run_get(s, id2, &r, &err), 0);
    CHECK_INT(r.status, FW_RUN_RUNNING);
    CHECK(r.ended_at == 0);
    fw_run_info_free(&r);
    CHECK_INT(fw_store_run_set_status(s, id2, FW_RUN_FAILED, &err), 0);
    CHECK_INT(fw_store_run_set_status(s, id2, FW_RUN_RUNNING, &err), FW_EINVAL);
    fw_store_close(s);
}

static void test_dead_owner_interrupted(void)
{
    char dir[300];
    fw_store *s = open_fresh(dir, sizeof dir);
    if (!s)
        return;
    fw_error err = {0};
    char dead[FW_RUN_ID_CAP], paused[FW_RUN_ID_CAP], alive[FW_RUN_ID_CAP],
        remote[FW_RUN_ID_CAP];
    fw_run_spec spec = {"owner", NULL, NULL, NULL, NULL};
    CHECK_INT(fw_store_run_create(s, &spec, dead, &err), 0);
    CHECK_INT(fw_store_run_create(s, &spec, paused, &err), 0);
    CHECK_INT(fw_store_run_create(s, &spec, alive, &err), 0);
    CHECK_INT(fw_store_run_create(s, &spec, remote, &err), 0);
    /* A child process owns `dead` (running) and `paused`, then dies. */
    pid_t pid = fork();
    if (pid == 0) {
        fw_store *cs = NULL;
        fw_error cerr = {0};
        int ok = fw_store_open(dir, &cs, &cerr) == 0 &&
                 fw_store_run_set_status(cs, dead, FW_RUN_RUNNING, &cerr) == 0 &&
                 fw_store_run_set_status(cs, paused, FW_RUN_RUNNING, &cerr) == 0 &&
                 fw_store_run_set_status(cs, paused, FW_RUN_PAUSED, &cerr) == 0;
        fw_store_close(cs);
        _exit(ok ? 0 : 1);
    }
    int wstatus = 0;
    CHECK(waitpid(pid, &wstatus, 0) == pid);
    CHECK(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
    CHECK_INT(fw_store_run_set_status(s, alive, FW_RUN_RUNNING, &err), 0);
    /* A run owned by the dead pid on another host cannot be judged: kept. */
    char sql[300];
    snprintf(sql, sizeof sql,
             "UPDATE runs SET status='running', owner_pid=%d, owner_host='elsewhere.invalid'"
             " WHERE id='%s'",
             (int)pid, remote);
    CHECK_INT(sqlite3_exec(fw_store_db(s), sql, NULL, NULL, NULL), SQLITE_OK);
    fw_run_info r;
    CHECK_INT(fw_store_run_get(s, dead, &r, &err), 0);
    CHECK_INT(r.status, FW_RUN_INTERRUPTED);
    CHECK_INT(r.owner_pid, pid);
    CHECK(r.ended_at > 0);
    fw_run_info_free(&r);
    CHECK_INT(status_of(s, paused), FW_RUN_INTERRUPTED);
    CHECK_INT(status_of(s, alive), FW_RUN_RUNNING);
    CHECK_INT(status_of(s, remote), FW_RUN_RUNNING);
    int marked = -1;
    CHECK_INT(fw_store_reap_dead_owners(s, &marked, &err), 0);
    CHECK_INT(marked, 0);
    /* The interrupted run resumes under a new owner. */
    CHECK_INT(fw_store_run_set_status(s, dead, FW_RUN_RUNNING, &err), 0);
    CHECK_INT(status_of(s, dead), FW_RUN_RUNNING);
    fw_store_close(s);
}

static void test_metrics_events_round_trip(void)
{
    char dir[300];
    fw_store *s = open_fresh(dir, sizeof dir);
    if (!s)
        return;
    fw_error err = {0};
    char id[FW_RUN_ID_CAP], other[FW_RUN_ID_CAP];
    fw_run_spec spec = {"m", NULL, NULL, NULL, NULL};
    CHECK_INT(fw_store_run_create(s, &spec, id, &err), 0);
    CHECK_INT(fw_store_run_create(s, &spec, other, &err), 0);
    fw_metric_writer *w = NULL, *wo = NULL;
    fw_metric_writer_config cfg = {1000, 60000};
    CHECK_INT(fw_metric_writer_open(s, id, &cfg, &w, &err), 0);
    CHECK_INT(fw_metric_writer_open(s, other, &cfg, &wo, &err), 0);
    if (!w || !wo)
        return;
    double t0 = fw_store_now();
    for (int step = 0; step < 50; step++) {
        double loss = step == 17 ? NAN : 3.0 / (1.0 + step);
        CHECK_INT(fw_metric_writer_point(w, step, step / 10.0, "loss", loss, &err), 0);
        CHECK_INT(fw_metric_writer_point(w, step, step / 10.0, "lr", 1e-4 * step, &err), 0);
        CHECK_INT(fw_metric_writer_point(wo, step, 0, "loss", -1, &err), 0);
    }
    CHECK_INT(fw_metric_writer_event(w, 17, FW_EVENT_NAN_STEP, "loss was NaN", &err), 0);
    CHECK_INT(fw_metric_writer_event(w, 20, FW_EVENT_SKIPPED_FILE, "bad.jpg: corrupt", &err), 0);
    CHECK_INT(fw_metric_writer_event(w, 49, FW_EVENT_CHECKPOINT, "ckpt-49.fwc", &err), 0);
    CHECK_INT(fw_metric_writer_pending(w), 103);
    CHECK_INT(fw_metric_writer_point(w, 0, 0, "", 1, &err), FW_EINVAL);
    CHECK_INT(fw_metric_writer_event(w, 0, "", "x", &err), FW_EINVAL);
    CHECK_INT(fw_metric_writer_close(w, &err), 0);
    CHECK_INT(fw_metric_writer_close(wo, &err), 0);
    fw_metric_point *p = NULL;
    int n = 0;
    fw_metric_query all = {id, NULL, 0, 0, 0};
    CHECK_INT(fw_store_metrics_read(s, &all, &p, &n, &err), 0);
    CHECK_INT(n, 100);
    for (int i = 0; i + 1 < n; i++)
        CHECK(p[i].rowid < p[i + 1].rowid);
    int64_t mid_rowid = n == 100 ? p[59].rowid : 0;
    free(p);
    fw_metric_query loss = {id, "loss", 0, 0, 0};
    CHECK_INT(fw_store_metrics_read(s, &loss, &p, &n, &err), 0);
    CHECK_INT(n, 50);
    for (int i = 0; i < n; i++) {
        CHECK_INT(p[i].step, i);
        CHECK_STR(p[i].name, "loss");
        CHECK_NEAR(p[i].epoch, i / 10.0, 0);
        if (i == 17)
            CHECK(isnan(p[i].value));
        else
            CHECK_NEAR(p[i].value, 3.0 / (1.0 + i), 0);
        CHECK(p[i].wall_time >= t0 - 1 && p[i].wall_time <= fw_store_now() + 1);
    }
    free(p);
    /* incremental polling: after a rowid, from a step, with a limit */
    fw_metric_query after = {id, NULL, mid_rowid, 0, 0};
    CHECK_INT(fw_store_metrics_read(s, &after, &p, &n, &err), 0);
    CHECK_INT(n, 40);
    if (n)
        CHECK(p[0].rowid > mid_rowid);
    free(p);
    fw_metric_query since = {id, "lr", 0, 45, 0};
    CHECK_INT(fw_store_metrics_read(s, &since, &p, &n, &err), 0);
    CHECK_INT(n, 5);
    if (n == 5)
        CHECK_NEAR(p[0].value, 1e-4 * 45, 0);
    free(p);
    fw_metric_query limited = {id, "lr", 0, 0, 7};
    CHECK_INT(fw_store_metrics_read(s, &limited, &p, &n, &err), 0);
    CHECK_INT(n, 7);
    free(p);
    char **names = NULL;
    CHECK_INT(fw_store_metric_names(s, id, &names, &n, &err), 0);
    CHECK_INT(n, 2);
    if (n == 2) {
        CHECK_STR(names[0], "loss");
        CHECK_STR(names[1], "lr");
    }
    fw_string_list_free(names, n);
    fw_event *ev = NULL;
    CHECK_INT(fw_store_events_read(s, id, 0, 0, &ev, &n, &err), 0);
    CHECK_INT(n, 3);
    if (n == 3) {
        CHECK_STR(ev[0].kind, "nan_step");
        CHECK_INT(ev[0].step, 17);
        CHECK_STR(ev[1].message, "bad.jpg: corrupt");
        CHECK_STR(ev[2].kind, "checkpoint");
        int64_t first = ev[0].id;
        fw_events_free(ev, n);
        CHECK_INT(fw_store_events_read(s, id, first, 1, &ev, &n, &err), 0);
        CHECK_INT(n, 1);
        if (n == 1)
            CHECK_STR(ev[0].kind, "skipped_file");
    }
    fw_events_free(ev, n);
    CHECK_INT(fw_store_events_read(s, other, 0, 0, &ev, &n, &err), 0);
    CHECK_INT(n, 0);
    fw_events_free(ev, n);
    /* a writer for a run that does not exist fails on flush, keeping its points */
    CHECK_INT(fw_metric_writer_open(s, "r9999", &cfg, &w, &err), 0);
    CHECK_INT(fw_metric_writer_point(w, 1, 0, "loss", 1, &err), 0);
    CHECK(fw_metric_writer_flush(w, &err) < 0);
    CHECK_MSG(strstr(err.msg, "r9999") && strstr(err.msg, "FOREIGN KEY"), "%s", err.msg);
    CHECK_INT(fw_metric_writer_pending(w), 1);
    CHECK(fw_metric_writer_close(w, &err) < 0);
    fw_store_close(s);
}

static long long count_rows(const char *dir, const char *run_id)
{
    char path[500], sql[200];
    db_path(dir, path, sizeof path);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM metrics WHERE run_id='%s'", run_id);
    return raw_int(path, sql);
}

static void test_writer_batching(void)
{
    char dir[300];
    fw_store *s = open_fresh(dir, sizeof dir);
    if (!s)
        return;
    fw_error err = {0};
    char id[FW_RUN_ID_CAP];
    fw_run_spec spec = {"b", NULL, NULL, NULL, NULL};
    CHECK_INT(fw_store_run_create(s, &spec, id, &err), 0);
    fw_metric_writer *w = NULL;
    fw_metric_writer_config cfg = {10, 60000};
    CHECK_INT(fw_metric_writer_open(s, id, &cfg, &w, &err), 0);
    if (!w)
        return;
    for (int i = 0; i < 9; i++)
        CHECK_INT(fw_metric_writer_point(w, i, 0, "loss", i, &err), 0);
    CHECK_INT(fw_metric_writer_pending(w), 9);
    CHECK_INT(count_rows(dir, id), 0); /* another connection sees nothing yet */
    CHECK_INT(fw_metric_writer_point(w, 9, 0, "loss", 9, &err), 0);
    CHECK_INT(fw_metric_writer_pending(w), 0);
    CHECK_INT(count_rows(dir, id), 10);
    CHECK_INT(fw_metric_writer_close(w, &err), 0);
    /* time-based flush */
    fw_metric_writer_config timed = {1000, 30};
    CHECK_INT(fw_metric_writer_open(s, id, &timed, &w, &err), 0);
    if (!w)
        return;
    CHECK_INT(fw_metric_writer_point(w, 10, 0, "loss", 10, &err), 0);
    CHECK_INT(fw_metric_writer_poll(w, &err), 0);
    CHECK_INT(count_rows(dir, id), 10 + (fw_metric_writer_pending(w) == 0));
    usleep(60 * 1000);
    CHECK_INT(fw_metric_writer_poll(w, &err), 0);
    CHECK_INT(fw_metric_writer_pending(w), 0);
    CHECK_INT(count_rows(dir, id), 11);
    CHECK_INT(fw_metric_writer_close(w, &err), 0);
    fw_store_close(s);
}

static void test_lr_curve_round_trip(void)
{
    char dir[300];
    fw_store *s = open_fresh(dir, sizeof dir);
    if (!s)
        return;
    fw_error err = {0};
    char id[FW_RUN_ID_CAP];
    fw_run_spec spec = {"lr", NULL, NULL, NULL, NULL};
    CHECK_INT(fw_store_run_create(s, &spec, id, &err), 0);
    fw_lr_curve got;
    CHECK_INT(fw_store_lr_curve_latest(s, id, &got, &err), FW_ENOTFOUND);
    enum { N = 37 };
    double lrs[N], losses[N], smoothed[N];
    fw_rng rng;
    fw_rng_init(&rng, 7, 1);
    for (int i = 0; i < N; i++) {
        lrs[i] = 1e-7 * pow(1e8, i / (double)(N - 1));
        losses[i] = 2.0 + fw_rng_uniform(&rng);
        smoothed[i] = losses[i] * 0.9;
    }
    losses[N - 1] = NAN;
    fw_lr_curve first = {0};
    first.n = 5;
    first.lrs = lrs;
    first.losses = losses;
    first.smoothed = smoothed;
    CHECK_INT(fw_store_lr_curve_put(s, id, &first, NULL, &err), 0);
    fw_lr_curve c = {0};
    c.n = N;
    c.lrs = lrs;
    c.losses = losses;
    c.smoothed = smoothed;
    c.diverged = 1;
    c.valid = 1;
    c.valley = lrs[12];
    c.steep = lrs[9];
    c.minimum = lrs[20] / 10;
    c.valley_idx = 12;
    c.steep_idx = 9;
    c.minimum_idx = 20;
    int64_t cid = 0;
    CHECK_INT(fw_store_lr_curve_put(s, id, &c, &cid, &err), 0);
    CHECK_INT(fw_store_lr_curve_latest(s, id, &got, &err), 0);
    CHECK_INT(got.id, cid);
    CHECK_INT(got.n, N);
    if (got.n == N) {
        CHECK(memcmp(got.lrs, lrs, sizeof lrs) == 0);
        CHECK(memcmp(got.smoothed, smoothed, sizeof smoothed) == 0);
        CHECK(memcmp(got.losses, losses, (N - 1) * sizeof(double)) == 0);
        CHECK(isnan(got.losses[N - 1]));
    }
    CHECK_INT(got.diverged, 1);
    CHECK_INT(got.valid, 1);
    CHECK(got.valley == lrs[12] && got.steep == lrs[9] && got.minimum == lrs[20] / 10);
    CHECK_INT(got.valley_idx, 12);
    CHECK_INT(got.steep_idx, 9);
    CHECK_INT(got.minimum_idx, 20);
    fw_lr_curve_free(&got);
    fw_store_close(s);
}

static void test_eval_round_trip(void)
{
    char dir[300];
    fw_store *s = open_fresh(dir, sizeof dir);
    if (!s)
        return;
    fw_error err = {0};
    char id[FW_RUN_ID_CAP];
    fw_run_spec spec = {"ev", NULL, NULL, NULL, NULL};
    CHECK_INT(fw_store_run_create(s, &spec, id, &err), 0);
    enum { NQ = 4 };
    char names[NQ][FW_EVAL_TOPK][16], images[NQ][16], truth[NQ][16];
    fw_eval_query qs[NQ];
    for (int q = 0; q < NQ; q++) {
        snprintf(images[q], sizeof images[q], "q%d.jpg", q);
        snprintf(truth[q], sizeof truth[q], q == 3 ? "new_whale" : "w_%03d", q);
        qs[q].image = images[q];
        qs[q].true_id = truth[q];
        for (int k = 0; k < FW_EVAL_TOPK; k++) {
            snprintf(names[q][k], sizeof names[q][k], "w_%d%d", q, k);
            qs[q].match_id[k] = names[q][k];
            qs[q].similarity[k] = 0.9 - 0.1 * k - 0.01 * q;
        }
    }
    fw_evaluation e = {0};
    snprintf(e.run_id, sizeof e.run_id, "%s", id);
    e.checkpoint = "ckpt-100.fwc";
    e.step = 100;
    e.epoch = 1;
    e.map5 = 0.42;
    e.top1 = 0.33;
    e.threshold = 0.55;
    e.n_queries = NQ;
    e.queries = qs;
    int64_t e1 = 0, e2 = 0;
    CHECK_INT(fw_store_eval_put(s, &e, &e1, &err), 0);
    e.checkpoint = "ckpt-200.fwc";
    e.step = 200;
    e.map5 = 0.5;
    e.n_queries = 2;
    CHECK_INT(fw_store_eval_put(s, &e, &e2, &err), 0);
    CHECK(e2 > e1);
    fw_evaluation got;
    CHECK_INT(fw_store_eval_get(s, 0, id, NULL, &got, &err), 0); /* newest */
    CHECK_INT(got.id, e2);
    CHECK_INT(got.n_queries, 2);
    CHECK_STR(got.checkpoint, "ckpt-200.fwc");
    fw_evaluation_free(&got);
    CHECK_INT(fw_store_eval_get(s, 0, id, "ckpt-100.fwc", &got, &err), 0);
    CHECK_INT(got.id, e1);
    CHECK_STR(got.run_id, id);
    CHECK_INT(got.step, 100);
    CHECK_NEAR(got.map5, 0.42, 0);
    CHECK_NEAR(got.top1, 0.33, 0);
    CHECK_NEAR(got.threshold, 0.55, 0);
    CHECK_INT(got.n_queries, NQ);
    for (int q = 0; q < got.n_queries && q < NQ; q++) {
        CHECK_STR(got.queries[q].image, images[q]);
        CHECK_STR(got.queries[q].true_id, truth[q]);
        for (int k = 0; k < FW_EVAL_TOPK; k++) {
            CHECK_STR(got.queries[q].match_id[k], names[q][k]);
            CHECK(got.queries[q].similarity[k] == qs[q].similarity[k]);
        }
    }
    fw_evaluation_free(&got);
    CHECK_INT(fw_store_eval_get(s, e1, NULL, NULL, &got, &err), 0);
    CHECK_INT(got.n_queries, NQ);
    fw_evaluation_free(&got);
    CHECK_INT(fw_store_eval_get(s, 0, id, "nope", &got, &err), FW_ENOTFOUND);
    fw_evaluation *list = NULL;
    int n = 0;
    CHECK_INT(fw_store_eval_list(s, id, &list, &n, &err), 0);
    CHECK_INT(n, 2);
    if (n == 2) {
        CHECK_INT(list[0].id, e1);
        CHECK(list[0].queries == NULL);
        CHECK_NEAR(list[1].map5, 0.5, 0);
    }
    fw_eval_list_free(list, n);
    fw_store_close(s);
}

static void test_control_ordering(void)
{
    char dir[300];
    fw_store *s = open_fresh(dir, sizeof dir);
    if (!s)
        return;
    fw_error err = {0};
    char id[FW_RUN_ID_CAP], other[FW_RUN_ID_CAP];
    fw_run_spec spec = {"c", NULL, NULL, NULL, NULL};
    CHECK_INT(fw_store_run_create(s, &spec, id, &err), 0);
    CHECK_INT(fw_store_run_create(s, &spec, other, &err), 0);
    int64_t r1 = 0;
    CHECK_INT(fw_store_control_post(s, id, FW_CONTROL_PAUSE, &r1, &err), 0);
    /* another process posts resume then stop */
    pid_t pid = fork();
    if (pid == 0) {
        fw_store *cs = NULL;
        fw_error cerr = {0};
        int ok = fw_store_open(dir, &cs, &cerr) == 0 &&
                 fw_store_control_post(cs, id, FW_CONTROL_RESUME, NULL, &cerr) == 0 &&
                 fw_store_control_post(cs, other, FW_CONTROL_STOP, NULL, &cerr) == 0 &&
                 fw_store_control_post(cs, id, FW_CONTROL_STOP, NULL, &cerr) == 0;
        fw_store_close(cs);
        _exit(ok ? 0 : 1);
    }
    int wstatus = 0;
    CHECK(waitpid(pid, &wstatus, 0) == pid);
    CHECK(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
    CHECK_INT(fw_store_control_post(s, "r9999", FW_CONTROL_STOP, NULL, &err), FW_ENOTFOUND);
    const fw_control_action expect[] = {FW_CONTROL_PAUSE, FW_CONTROL_RESUME, FW_CONTROL_STOP};
    int64_t last = 0;
    for (int i = 0; i < 3; i++) {
        fw_control_request req;
        int found = 0;
        CHECK_INT(fw_store_control_next(s, id, &req, &found, &err), 0);
        CHECK(found);
        if (!found)
            break;
        CHECK_INT(req.action, expect[i]);
        CHECK(req.id > last);
        CHECK_INT(req.sender_pid, i == 0 ? getpid() : pid);
        CHECK(req.done_at == 0);
        CHECK_STR(fw_control_action_name(req.action),
                  i == 0 ? "pause" : i == 1 ? "resume" : "stop");
        last = req.id;
        /* taking it again before done gives the same request */
        fw_control_request again;
        CHECK_INT(fw_store_control_next(s, id, &again, &found, &err), 0);
        CHECK_INT(again.id, req.id);
        CHECK_INT(fw_store_control_done(s, req.id, "ok", &err), 0);
        CHECK_INT(fw_store_control_done(s, req.id, "ok", &err), FW_ENOTFOUND);
    }
    fw_control_request req;
    int found = 1;
    CHECK_INT(fw_store_control_next(s, id, &req, &found, &err), 0);
    CHECK_INT(found, 0);
    CHECK_INT(fw_store_control_get(s, r1, &req, &err), 0);
    CHECK(req.done_at > 0);
    CHECK_STR(req.result, "ok");
    CHECK_INT(fw_store_control_next(s, other, &req, &found, &err), 0);
    CHECK_INT(found, 1);
    CHECK_INT(req.action, FW_CONTROL_STOP);
    fw_store_close(s);
}

/* Rows per batch (the step column holds the batch id): every batch present
 * must be whole. Returns the number of whole batches, -1 if any is partial. */
static long long whole_batches(const char *dir, int k, long long *max_batch)
{
    char path[500];
    db_path(dir, path, sizeof path);
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM (SELECT step FROM metrics GROUP BY step HAVING count(*) != %d)",
             k);
    long long partial = raw_int(path, sql);
    *max_batch = raw_int(path, "SELECT coalesce(max(step), -1) FROM metrics");
    if (partial != 0)
        return -1;
    return raw_int(path, "SELECT count(DISTINCT step) FROM metrics");
}

static void test_crash_mid_transaction(void)
{
    char dir[300];
    fw_store *s = open_fresh(dir, sizeof dir);
    if (!s)
        return;
    fw_error err = {0};
    char id[FW_RUN_ID_CAP];
    fw_run_spec spec = {"crash", NULL, NULL, NULL, NULL};
    CHECK_INT(fw_store_run_create(s, &spec, id, &err), 0);
    fw_store_close(s);
    enum { K = 200 };
    pid_t pid = fork();
    if (pid == 0) {
        /* batch 0 whole, then batch 1 half-written and _exit mid-transaction */
        fw_store *cs = NULL;
        fw_error cerr = {0};
        fw_metric_writer *w = NULL;
        fw_metric_writer_config cfg = {K, 60000};
        if (fw_store_open(dir, &cs, &cerr) || fw_metric_writer_open(cs, id, &cfg, &w, &cerr))
            _exit(1);
        for (int i = 0; i < K; i++)
            if (fw_metric_writer_point(w, 0, 0, "x", i, &cerr))
                _exit(1);
        if (fw_store_begin(cs, &cerr))
            _exit(1);
        char sql[200];
        snprintf(sql, sizeof sql,
                 "INSERT INTO metrics (run_id, step, epoch, name, value, wall_time) VALUES"
                 " ('%s', 1, 0, 'x', 0, 0)",
                 id);
        for (int i = 0; i < K / 2; i++)
            if (sqlite3_exec(fw_store_db(cs), sql, NULL, NULL, NULL) != SQLITE_OK)
                _exit(1);
        _exit(0);
    }
    int wstatus = 0;
    CHECK(waitpid(pid, &wstatus, 0) == pid);
    CHECK(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
    long long max_batch = 0;
    CHECK_INT(whole_batches(dir, K, &max_batch), 1);
    CHECK_INT(max_batch, 0);
    CHECK_INT(fw_store_open(dir, &s, &err), 0);
    if (s) {
        int ok = 0;
        CHECK_INT(fw_store_integrity_check(s, &ok, &err), 0);
        CHECK(ok);
        fw_store_close(s);
    }
}

static void test_kill9_never_half_a_batch(void)
{
    char dir[300];
    fw_store *s = open_fresh(dir, sizeof dir);
    if (!s)
        return;
    fw_error err = {0};
    char id[FW_RUN_ID_CAP];
    fw_run_spec spec = {"kill", NULL, NULL, NULL, NULL};
    CHECK_INT(fw_store_run_create(s, &spec, id, &err), 0);
    fw_store_close(s);
    enum { K = 300, KILLS = 12 };
    fw_rng rng;
    fw_rng_init(&rng, 42, 3);
    long long seen_batches = 0;
    for (int round = 0; round < KILLS; round++) {
        long long max_batch = -1;
        long long before = whole_batches(dir, K, &max_batch);
        pid_t pid = fork();
        if (pid == 0) {
            fw_store *cs = NULL;
            fw_error cerr = {0};
            fw_metric_writer *w = NULL;
            fw_metric_writer_config cfg = {K, 60000};
            if (fw_store_open(dir, &cs, &cerr) ||
                fw_metric_writer_open(cs, id, &cfg, &w, &cerr))
                _exit(1);
            for (long long b = max_batch + 1;; b++)
                for (int i = 0; i < K; i++)
                    if (fw_metric_writer_point(w, b, 0, "x", i, &cerr))
                        _exit(2);
        }
        usleep((useconds_t)(20000 + fw_rng_uniform(&rng) * 80000));
        kill(pid, SIGKILL);
        int wstatus = 0;
        CHECK(waitpid(pid, &wstatus, 0) == pid);
        CHECK_MSG(WIFSIGNALED(wstatus), "writer exited with %d", WEXITSTATUS(wstatus));
        long long after = whole_batches(dir, K, &max_batch);
        CHECK_MSG(after >= 0, "round %d: a partial batch is visible", round);
        CHECK(after >= before);
        seen_batches = after;
    }
    printf("# %lld whole batches of %d rows after %d kills\n", seen_batches, K, KILLS);
    CHECK(seen_batches > 0);
    CHECK_INT(fw_store_open(dir, &s, &err), 0);
    if (s) {
        int ok = 0;
        CHECK_INT(fw_store_integrity_check(s, &ok, &err), 0);
        CHECK(ok);
        fw_store_close(s);
    }
}

static void remove_tree(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", dir);
}

int main(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmp_root, sizeof tmp_root, "%s/fw-store-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmp_root)) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    RUN(test_resolve_workspace);
    RUN(test_create_schema);
    RUN(test_migrate_from_v1);
    RUN(test_newer_version_refused);
    RUN(test_not_a_database);
    RUN(test_simultaneous_first_open);
    RUN(test_runs_round_trip);
    RUN(test_status_transitions);
    RUN(test_dead_owner_interrupted);
    RUN(test_metrics_events_round_trip);
    RUN(test_writer_batching);
    RUN(test_lr_curve_round_trip);
    RUN(test_eval_round_trip);
    RUN(test_control_ordering);
    RUN(test_crash_mid_transaction);
    RUN(test_kill9_never_half_a_batch);
    remove_tree(tmp_root);
    return tap_done();
}
