/* test_store_edit.c — editing runs in the store: rename, delete (every row
 * of the run in every table goes, other runs' rows stay, live runs are
 * refused, children lose their parent, a failure half-way leaves
 * everything), ids never given out twice after a delete, and removing a
 * run's files without following links or leaving the run's directory. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "sqlite_check.h"
#include "store.h"
#include "tap.h"

static char tmp_root[160];
static int dir_counter;

static fw_store *open_fresh(char *dir, size_t cap)
{
    snprintf(dir, cap, "%s/ws%d", tmp_root, ++dir_counter);
    fw_store *s = NULL;
    fw_error err = {0};
    int rc = fw_store_open(dir, &s, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    return s;
}

/* One integer from a query with one text parameter (the run id). */
static long long count_for(fw_store *s, const char *sql, const char *id)
{
    sqlite3_stmt *st = NULL;
    long long v = -999;
    if (sqlite3_prepare_v2(fw_store_db(s), sql, -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return v;
}

/* Rows that belong to a run, one count per table (the order of `tables`). */
static const char *const tables[] = {
    "SELECT count(*) FROM runs WHERE id = ?1",
    "SELECT count(*) FROM metrics WHERE run_id = ?1",
    "SELECT count(*) FROM events WHERE run_id = ?1",
    "SELECT count(*) FROM evaluations WHERE run_id = ?1",
    "SELECT count(*) FROM eval_queries WHERE eval_id IN"
    " (SELECT id FROM evaluations WHERE run_id = ?1)",
    "SELECT count(*) FROM lr_curves WHERE run_id = ?1",
    "SELECT count(*) FROM lr_points WHERE curve_id IN (SELECT id FROM lr_curves WHERE run_id = ?1)",
    "SELECT count(*) FROM control_requests WHERE run_id = ?1",
};
enum { N_TABLES = sizeof tables / sizeof tables[0] };

static void counts_of(fw_store *s, const char *id, long long out[N_TABLES])
{
    for (int i = 0; i < N_TABLES; i++)
        out[i] = count_for(s, tables[i], id);
}

/* Total rows of every table (to see that a delete touched nothing else). */
static long long total_rows(fw_store *s)
{
    static const char *const all[] = {"runs", "metrics", "events", "evaluations",
                                      "eval_queries", "lr_curves", "lr_points",
                                      "control_requests"};
    long long sum = 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        char sql[96];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE ?1 IS NOT NULL", all[i]);
        sum += count_for(s, sql, "x");
    }
    return sum;
}

/* A run with rows in every table: `salt` varies the amounts so two runs
 * differ. */
static void populate(fw_store *s, const char *id, int salt)
{
    fw_error err = {0};
    fw_metric_writer *w = NULL;
    CHECK_INT(fw_metric_writer_open(s, id, NULL, &w, &err), 0);
    for (int i = 0; w && i < 20 + salt; i++) {
        CHECK_INT(fw_metric_writer_point(w, i, i / 10.0, "train.loss", 1.0 / (i + 1), &err), 0);
        if (i % 10 == 9)
            CHECK_INT(fw_metric_writer_point(w, i, (i + 1) / 10, "val.map5", 0.1 * i, &err), 0);
    }
    for (int i = 0; w && i < 3 + salt; i++)
        CHECK_INT(fw_metric_writer_event(w, i, "info", "hello", &err), 0);
    CHECK_INT(fw_metric_writer_close(w, &err), 0);

    fw_eval_query q[3];
    char *names[FW_EVAL_TOPK] = {"w_a", "w_b", "w_c", "w_d", "new_whale"};
    for (int i = 0; i < 3; i++) {
        memset(&q[i], 0, sizeof q[i]);
        q[i].image = "q.jpg";
        q[i].true_id = "w_a";
        for (int k = 0; k < FW_EVAL_TOPK; k++) {
            q[i].match_id[k] = names[k];
            q[i].similarity[k] = 0.9 - 0.1 * k;
        }
    }
    for (int e = 0; e < 1 + salt; e++) {
        fw_evaluation ev = {0};
        snprintf(ev.run_id, sizeof ev.run_id, "%s", id);
        ev.checkpoint = "ckpt.fwc";
        ev.step = 10 * e;
        ev.map5 = 0.5;
        ev.n_queries = 3;
        ev.queries = q;
        CHECK_INT(fw_store_eval_put(s, &ev, NULL, &err), 0);
    }
    double lrs[4] = {1e-5, 1e-4, 1e-3, 1e-2}, losses[4] = {5, 4, 3, 9};
    fw_lr_curve c = {.n = 4, .lrs = lrs, .losses = losses, .smoothed = losses, .valid = 1,
                     .valley = 1e-3, .steep = 1e-4, .minimum = 1e-3, .valley_idx = 2,
                     .steep_idx = 1, .minimum_idx = 2};
    CHECK_INT(fw_store_lr_curve_put(s, id, &c, NULL, &err), 0);
    CHECK_INT(fw_store_control_post(s, id, FW_CONTROL_PAUSE, NULL, &err), 0);
}

static void create_run(fw_store *s, const char *name, const char *parent, char id[FW_RUN_ID_CAP])
{
    fw_error err = {0};
    fw_run_spec spec = {.name = name, .parent = parent, .config = "epochs = 3\n"};
    int rc = fw_store_run_create(s, &spec, id, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
}

static void test_rename(void)
{
    char dir[256], a[FW_RUN_ID_CAP];
    fw_store *s = open_fresh(dir, sizeof dir);
    if (!s)
        return;
    fw_error err = {0};
    create_run(s, "first", NULL, a);
    fw_run_info before;
    CHECK_INT(fw_store_run_get(s, a, &before, &err), 0);
    CHECK_INT(fw_store_run_rename(s, a, "better name \xe2\x9c\x93", &err), 0);
    fw_run_info r;
    CHECK_INT(fw_store_run_get(s, a, &r, &err), 0);
    CHECK_STR(r.name, "better name \xe2\x9c\x93");
    CHECK_STR(r.config, before.config); /* nothing else changes */
    CHECK(r.created_at == before.created_at);
    CHECK(r.status == before.status);
    fw_run_info_free(&r);
    fw_run_info_free(&before);
    CHECK_INT(fw_store_run_rename(s, a, "", &err), FW_EINVAL);
    CHECK_INT(fw_store_run_rename(s, a, NULL, &err), FW_EINVAL);
    CHECK_INT(fw_store_run_rename(s, "r0042", "x", &err), FW_ENOTFOUND);
    CHECK(strstr(err.msg, "r0042") != NULL);
    CHECK_INT(fw_store_run_get(s, a, &r, &err), 0);
    CHECK_STR(r.name, "better name \xe2\x9c\x93"); /* the refused renames changed nothing */
    fw_run_info_free(&r);
    fw_store_close(s);
}

static void test_delete_removes_every_row(void)
{
    char dir[256], a[FW_RUN_ID_CAP], b[FW_RUN_ID_CAP];
    fw_store *s = open_fresh(dir, sizeof dir);
    if (!s)
        return;
    fw_error err = {0};
    create_run(s, "a", NULL, a);
    create_run(s, "b", NULL, b);
    populate(s, a, 0);
    populate(s, b, 2);
    long long ca[N_TABLES], cb[N_TABLES];
    counts_of(s, a, ca);
    counts_of(s, b, cb);
    long long own_a = 0;
    for (int i = 0; i < N_TABLES; i++) {
        CHECK_MSG(ca[i] > 0, "table query %d has no rows for %s", i, a); /* setup covers all */
        own_a += ca[i];
    }
    long long total = total_rows(s);

    CHECK_INT(fw_store_run_delete(s, a, &err), 0);
    long long after_a[N_TABLES], after_b[N_TABLES];
    counts_of(s, a, after_a);
    counts_of(s, b, after_b);
    for (int i = 0; i < N_TABLES; i++) {
        CHECK_MSG(after_a[i] == 0, "query %d: %lld rows of the deleted run left", i, after_a[i]);
        CHECK_MSG(after_b[i] == cb[i], "query %d: other run %lld -> %lld rows", i, cb[i],
                  after_b[i]);
    }
    CHECK_INT(total_rows(s), total - own_a);
    fw_run_info r;
    CHECK_INT(fw_store_run_get(s, a, &r, &err), FW_ENOTFOUND);
    CHECK_INT(fw_store_run_delete(s, a, &err), FW_ENOTFOUND);
    int ok = 0;
    CHECK_INT(fw_store_integrity_check(s, &ok, &err), 0);
    CHECK(ok);
    CHECK_INT(count_for(s, "SELECT count(*) FROM pragma_foreign_key_check WHERE ?1 NOTNULL", "x"),
              0);
    fw_store_close(s);
}

static void set_status(fw_store *s, const char *id, fw_run_status st)
{
    fw_error err = {0};
    int rc = fw_store_run_set_status(s, id, st, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
}

static void test_delete_refuses_live_runs(void)
{
    char dir[256], a[FW_RUN_ID_CAP];
    fw_store *s = open_fresh(dir, sizeof dir);
    if (!s)
        return;
    fw_error err = {0};
    create_run(s, "live", NULL, a);
    populate(s, a, 1);
    long long before[N_TABLES], now[N_TABLES];
    counts_of(s, a, before);
    set_status(s, a, FW_RUN_RUNNING); /* owned by this (live) process */
    CHECK_INT(fw_store_run_delete(s, a, &err), FW_EINVAL);
    CHECK(strstr(err.msg, "running") != NULL && strstr(err.msg, a) != NULL);
    set_status(s, a, FW_RUN_PAUSED);
    CHECK_INT(fw_store_run_delete(s, a, &err), FW_EINVAL);
    CHECK(strstr(err.msg, "paused") != NULL);
    counts_of(s, a, now);
    for (int i = 0; i < N_TABLES; i++)
        CHECK_INT(now[i], before[i]);
    set_status(s, a, FW_RUN_INTERRUPTED);
    CHECK_INT(fw_store_run_delete(s, a, &err), 0);
    CHECK_INT(count_for(s, tables[0], a), 0);

    /* Every status that is not live can be deleted. */
    static const fw_run_status ends[] = {FW_RUN_QUEUED, FW_RUN_FINISHED, FW_RUN_FAILED};
    for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++) {
        char id[FW_RUN_ID_CAP];
        create_run(s, "x", NULL, id);
        if (ends[i] == FW_RUN_FINISHED)
            set_status(s, id, FW_RUN_RUNNING);
        if (ends[i] != FW_RUN_QUEUED)
            set_status(s, id, ends[i]);
        CHECK_MSG(fw_store_run_delete(s, id, &err) == 0, "%s: %s",
                  fw_run_status_name(ends[i]), err.msg);
        CHECK_INT(count_for(s, tables[0], id), 0);
    }
    fw_store_close(s);
}

static void test_delete_parent_keeps_children(void)
{
    char dir[256], p[FW_RUN_ID_CAP], c1[FW_RUN_ID_CAP], c2[FW_RUN_ID_CAP], other[FW_RUN_ID_CAP];
    fw_store *s = open_fresh(dir, sizeof dir);
    if (!s)
        return;
    fw_error err = {0};
    create_run(s, "parent", NULL, p);
    create_run(s, "other", NULL, other);
    create_run(s, "child1", p, c1);
    create_run(s, "child2", other, c2);
    CHECK_INT(fw_store_run_delete(s, p, &err), 0);
    fw_run_info r;
    CHECK_INT(fw_store_run_get(s, c1, &r, &err), 0);
    CHECK_STR(r.parent, "");
    CHECK_STR(r.name, "child1");
    fw_run_info_free(&r);
    CHECK_INT(fw_store_run_get(s, c2, &r, &err), 0);
    CHECK_STR(r.parent, other); /* other runs' parents are left alone */
    fw_run_info_free(&r);
    fw_store_close(s);
}

/* A failure after some of the run's rows were deleted (here: a trigger
 * that refuses the last statement) leaves every row in place. */
static void test_delete_is_one_transaction(void)
{
    char dir[256], a[FW_RUN_ID_CAP];
    fw_store *s = open_fresh(dir, sizeof dir);
    if (!s)
        return;
    fw_error err = {0};
    create_run(s, "a", NULL, a);
    populate(s, a, 1);
    long long before[N_TABLES], after[N_TABLES];
    counts_of(s, a, before);
    CHECK_INT(sqlite3_exec(fw_store_db(s),
                           "CREATE TEMP TRIGGER no_delete BEFORE DELETE ON main.runs BEGIN"
                           " SELECT RAISE(ABORT, 'refused by the test'); END",
                           NULL, NULL, NULL),
              SQLITE_OK);
    int rc = fw_store_run_delete(s, a, &err);
    CHECK(rc < 0);
    CHECK(strstr(err.msg, "refused by the test") != NULL);
    counts_of(s, a, after);
    for (int i = 0; i < N_TABLES; i++)
        CHECK_MSG(after[i] == before[i], "query %d: %lld -> %lld rows", i, before[i], after[i]);
    CHECK_INT(sqlite3_exec(fw_store_db(s), "DROP TRIGGER temp.no_delete", NULL, NULL, NULL),
              SQLITE_OK);
    CHECK_INT(fw_store_run_delete(s, a, &err), 0); /* the store is usable afterwards */
    fw_store_close(s);
}

static void test_ids_not_reused(void)
{
    char dir[256], a[FW_RUN_ID_CAP], b[FW_RUN_ID_CAP], c[FW_RUN_ID_CAP], d[FW_RUN_ID_CAP];
    fw_store *s = open_fresh(dir, sizeof dir);
    if (!s)
        return;
    fw_error err = {0};
    create_run(s, "a", NULL, a);
    create_run(s, "b", NULL, b);
    CHECK_STR(a, "r0001");
    CHECK_STR(b, "r0002");
    CHECK_INT(fw_store_run_delete(s, b, &err), 0); /* the newest */
    create_run(s, "c", NULL, c);
    CHECK_STR(c, "r0003");
    CHECK_INT(fw_store_run_delete(s, a, &err), 0);
    CHECK_INT(fw_store_run_delete(s, c, &err), 0); /* the store is empty now */
    create_run(s, "d", NULL, d);
    CHECK_STR(d, "r0004");
    fw_store_close(s);
    /* The high-water mark survives reopening. */
    fw_store *s2 = NULL;
    CHECK_INT(fw_store_open(dir, &s2, &err), 0);
    if (s2) {
        create_run(s2, "e", NULL, d);
        CHECK_STR(d, "r0005");
        fw_store_close(s2);
    }
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

static int exists(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0;
}

static void test_remove_files(void)
{
    char ws[256], p[512], outside[512];
    snprintf(ws, sizeof ws, "%s/files%d", tmp_root, ++dir_counter);
    fw_error err = {0};
    /* WORKSPACE/runs/r0001 with nested files, a link to a directory outside
     * and a link to a file outside; r0002 next to it. */
    snprintf(outside, sizeof outside, "%s/outside", ws);
    snprintf(p, sizeof p, "%s/runs/r0001/checkpoints/deeper", ws);
    CHECK_INT(fw_mkdirs(p, &err), 0);
    CHECK_INT(fw_mkdirs(outside, &err), 0);
    snprintf(p, sizeof p, "%s/runs/r0002", ws);
    CHECK_INT(fw_mkdirs(p, &err), 0);
    const char *files[] = {"runs/r0001/train.log", "runs/r0001/checkpoints/ckpt-1.fwc",
                           "runs/r0001/checkpoints/deeper/x", "runs/r0002/train.log",
                           "outside/keep.txt"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", ws, files[i]);
        CHECK_INT(write_file(p, "data\n"), 0);
    }
    snprintf(p, sizeof p, "%s/runs/r0001/checkpoints/link-dir", ws);
    CHECK_INT(symlink(outside, p), 0);
    char target[600];
    snprintf(target, sizeof target, "%s/keep.txt", outside);
    snprintf(p, sizeof p, "%s/runs/r0001/link-file", ws);
    CHECK_INT(symlink(target, p), 0);

    /* Ids that could name another path are refused. */
    const char *bad[] = {"", "r", "../outside", "r0001/..", "r00a1", "x0001", "r0001/"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_MSG(fw_store_run_remove_files(ws, bad[i], &err) == FW_EINVAL, "id '%s'", bad[i]);
    snprintf(p, sizeof p, "%s/runs/r0001/train.log", ws);
    CHECK(exists(p));

    CHECK_INT(fw_store_run_remove_files(ws, "r0001", &err), 0);
    snprintf(p, sizeof p, "%s/runs/r0001", ws);
    CHECK(!exists(p));
    CHECK(exists(target));                           /* the link's target is kept */
    snprintf(p, sizeof p, "%s/runs/r0002/train.log", ws); /* the other run is kept */
    CHECK(exists(p));
    /* Nothing there (never checkpointed, or removed already): fine. */
    CHECK_INT(fw_store_run_remove_files(ws, "r0001", &err), 0);
    CHECK_INT(fw_store_run_remove_files(ws, "r0077", &err), 0);
    /* The run directory itself a link: refused, its target untouched. */
    snprintf(p, sizeof p, "%s/runs/r0003", ws);
    CHECK_INT(symlink(outside, p), 0);
    CHECK(fw_store_run_remove_files(ws, "r0003", &err) < 0);
    CHECK(exists(target));
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
    snprintf(tmp_root, sizeof tmp_root, "%s/fw-store-edit-XXXXXX",
             base && *base ? base : "/tmp");
    if (!mkdtemp(tmp_root)) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    RUN(test_rename);
    RUN(test_delete_removes_every_row);
    RUN(test_delete_refuses_live_runs);
    RUN(test_delete_parent_keeps_children);
    RUN(test_delete_is_one_transaction);
    RUN(test_ids_not_reused);
    RUN(test_remove_files);
    remove_tree(tmp_root);
    return tap_done();
}
