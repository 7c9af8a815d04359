/* test_run_series.c — incremental loading of a run's metric series from a
 * real run store in a temp dir: the first load matches a full read of the
 * store, later loads append only the rows written since, the x arrays (step,
 * epoch, seconds since the first point) follow the stored values, a changed
 * run resets everything, row limits page through the rows, and a resumed
 * run's repeated steps replace the points they repeat. */
#define _GNU_SOURCE
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run_series.h"
#include "store.h"
#include "tap.h"

static char tmp_root[256];
static int dir_counter;

static fw_store *open_fresh(void)
{
    char dir[320];
    snprintf(dir, sizeof dir, "%s/ws%d", tmp_root, ++dir_counter);
    fw_store *s = NULL;
    fw_error err = {0};
    int rc = fw_store_open(dir, &s, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    return s;
}

static void new_run(fw_store *s, const char *name, char id[FW_RUN_ID_CAP])
{
    fw_error err = {0};
    fw_run_spec spec = {.name = name};
    int rc = fw_store_run_create(s, &spec, id, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
}

/* Write steps [from, to) of train.loss (every step) and train.lr, and
 * val.map5 every 5th step, in one flush. Values are functions of the step
 * so the test can recompute them. */
static double loss_at(int64_t step) { return 2.0 / (1.0 + 0.1 * (double)step); }
static double lr_at(int64_t step) { return 1e-3 * (double)(step + 1); }
static double map_at(int64_t step) { return 0.01 * (double)step; }

static void write_steps(fw_store *s, const char *run_id, int64_t from, int64_t to)
{
    fw_error err = {0};
    fw_metric_writer *w = NULL;
    fw_metric_writer_config cfg;
    fw_metric_writer_config_default(&cfg);
    cfg.max_points = 1 << 20;
    cfg.max_delay_ms = 1 << 30;
    int rc = fw_metric_writer_open(s, run_id, &cfg, &w, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc)
        return;
    for (int64_t st = from; st < to && rc == 0; st++) {
        double epoch = (double)st / 10.0;
        rc = fw_metric_writer_point(w, st, epoch, "train.loss", loss_at(st), &err);
        if (rc == 0)
            rc = fw_metric_writer_point(w, st, epoch, "train.lr", lr_at(st), &err);
        if (rc == 0 && st % 5 == 4)
            rc = fw_metric_writer_point(w, st, floor(epoch), "val.map5", map_at(st), &err);
    }
    CHECK_MSG(rc == 0, "%s", err.msg);
    rc = fw_metric_writer_close(w, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
}

/* Every point of a run as the store has it (the reference). */
static fw_metric_point *read_all(fw_store *s, const char *run_id, int *n)
{
    fw_error err = {0};
    fw_metric_query q = {.run_id = run_id, .min_step = INT64_MIN};
    fw_metric_point *p = NULL;
    int rc = fw_store_metrics_read(s, &q, &p, n, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    return p;
}

/* The loaded series equal the store's points of each name, in rowid order,
 * with x arrays derived from them (t0 = the first point's wall time). */
static void check_matches_store(fw_store *s, const fw_run_series *rs)
{
    int n = 0;
    fw_metric_point *all = read_all(s, rs->run_id, &n);
    CHECK(n > 0);
    if (n == 0) {
        free(all);
        return;
    }
    CHECK(rs->has_t0);
    CHECK(rs->t0 == all[0].wall_time);
    CHECK_INT(rs->last_rowid, all[n - 1].rowid);
    size_t total = 0;
    for (int k = 0; k < rs->n_series; k++) {
        const fw_series *ser = &rs->series[k];
        size_t idx = 0;
        for (int i = 0; i < n; i++) {
            if (strcmp(all[i].name, ser->name))
                continue;
            CHECK(idx < ser->n);
            if (idx >= ser->n)
                break;
            CHECK_INT(ser->step[idx], all[i].step);
            CHECK(ser->step_x[idx] == (double)all[i].step);
            CHECK(ser->epoch[idx] == all[i].epoch);
            CHECK(ser->value[idx] == all[i].value);
            CHECK(ser->wall[idx] == all[i].wall_time);
            CHECK(ser->wall_x[idx] == all[i].wall_time - all[0].wall_time);
            idx++;
        }
        CHECK_INT(idx, ser->n);
        total += ser->n;
    }
    CHECK_INT(total, n);
    free(all);
}

static void test_first_load_matches_store(void)
{
    fw_store *s = open_fresh();
    if (!s)
        return;
    char id[FW_RUN_ID_CAP];
    new_run(s, "a", id);
    write_steps(s, id, 0, 30);
    fw_run_series rs;
    fw_run_series_init(&rs);
    fw_error err = {0};
    int n_new = -1;
    int rc = fw_run_series_update(&rs, s, id, 0, &n_new, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    CHECK_INT(n_new, 30 + 30 + 6);
    CHECK_STR(rs.run_id, id);
    CHECK_INT(rs.n_series, 3);
    const fw_series *loss = fw_run_series_find(&rs, "train.loss");
    const fw_series *map = fw_run_series_find(&rs, "val.map5");
    CHECK(loss && map);
    CHECK(fw_run_series_find(&rs, "val.loss") == NULL);
    if (loss && map) {
        CHECK_INT(loss->n, 30);
        CHECK_INT(map->n, 6);
        for (size_t i = 0; i < loss->n; i++) {
            CHECK_INT(loss->step[i], (int64_t)i);
            CHECK(loss->value[i] == loss_at((int64_t)i));
            CHECK(fw_series_x_values(loss, FW_SERIES_X_STEP)[i] == (double)i);
            CHECK(fw_series_x_values(loss, FW_SERIES_X_EPOCH)[i] == (double)i / 10.0);
            CHECK(fw_series_x_values(loss, FW_SERIES_X_WALL)[i] >= 0.0);
        }
        for (size_t i = 0; i < map->n; i++) {
            int64_t st = 5 * (int64_t)i + 4;
            CHECK_INT(map->step[i], st);
            CHECK(map->value[i] == map_at(st));
            CHECK(map->epoch[i] == floor((double)st / 10.0));
        }
        CHECK(fw_series_x_values(loss, FW_SERIES_X_WALL) == loss->wall_x);
    }
    check_matches_store(s, &rs);
    fw_run_series_free(&rs);
    fw_store_close(s);
}

static void test_update_appends_only_new_rows(void)
{
    fw_store *s = open_fresh();
    if (!s)
        return;
    char id[FW_RUN_ID_CAP];
    new_run(s, "a", id);
    write_steps(s, id, 0, 12);
    fw_run_series rs;
    fw_run_series_init(&rs);
    fw_error err = {0};
    int n_new = -1;
    CHECK(fw_run_series_update(&rs, s, id, 0, &n_new, &err) == 0);
    CHECK_INT(n_new, 12 + 12 + 2);
    uint64_t v1 = rs.version;

    /* Nothing new: nothing read, nothing changed. */
    CHECK(fw_run_series_update(&rs, s, id, 0, &n_new, &err) == 0);
    CHECK_INT(n_new, 0);
    CHECK(rs.version == v1);

    /* A second batch: exactly its rows are read, appended after the first. */
    int64_t rowid_before = rs.last_rowid;
    write_steps(s, id, 12, 25);
    CHECK(fw_run_series_update(&rs, s, id, 0, &n_new, &err) == 0);
    CHECK_INT(n_new, 13 + 13 + 3);
    CHECK(rs.version > v1);
    CHECK(rs.last_rowid > rowid_before);
    const fw_series *loss = fw_run_series_find(&rs, "train.loss");
    CHECK(loss && loss->n == 25);
    for (size_t i = 0; loss && i < loss->n; i++)
        CHECK(loss->value[i] == loss_at((int64_t)i) && loss->step[i] == (int64_t)i);
    check_matches_store(s, &rs);

    /* A series that appears only later (val.loss) is added. */
    fw_metric_writer *w = NULL;
    CHECK(fw_metric_writer_open(s, id, NULL, &w, &err) == 0);
    CHECK(fw_metric_writer_point(w, 25, 2.0, "val.loss", 0.75, &err) == 0);
    CHECK(fw_metric_writer_close(w, &err) == 0);
    CHECK(fw_run_series_update(&rs, s, id, 0, &n_new, &err) == 0);
    CHECK_INT(n_new, 1);
    const fw_series *vl = fw_run_series_find(&rs, "val.loss");
    CHECK(vl && vl->n == 1 && vl->value[0] == 0.75 && vl->epoch[0] == 2.0);
    check_matches_store(s, &rs);
    fw_run_series_free(&rs);
    fw_store_close(s);
}

static void test_row_limit_pages(void)
{
    fw_store *s = open_fresh();
    if (!s)
        return;
    char id[FW_RUN_ID_CAP];
    new_run(s, "a", id);
    write_steps(s, id, 0, 40); /* 40 + 40 + 8 = 88 rows */
    fw_run_series rs;
    fw_run_series_init(&rs);
    fw_error err = {0};
    int n_new = 0, calls = 0, total = 0;
    do {
        CHECK(fw_run_series_update(&rs, s, id, 25, &n_new, &err) == 0);
        CHECK(n_new <= 25);
        total += n_new;
        calls++;
    } while (n_new == 25 && calls < 10);
    CHECK_INT(total, 88);
    CHECK_INT(calls, 4); /* 25 + 25 + 25 + 13 */
    check_matches_store(s, &rs);
    fw_run_series_free(&rs);
    fw_store_close(s);
}

static void test_reset_on_run_change(void)
{
    fw_store *s = open_fresh();
    if (!s)
        return;
    char a[FW_RUN_ID_CAP], b[FW_RUN_ID_CAP];
    new_run(s, "a", a);
    new_run(s, "b", b);
    write_steps(s, a, 0, 20);
    fw_error err = {0};
    fw_metric_writer *w = NULL;
    CHECK(fw_metric_writer_open(s, b, NULL, &w, &err) == 0);
    for (int i = 0; i < 7; i++)
        CHECK(fw_metric_writer_point(w, 100 + i, 0.5, "train.momentum", 0.9 - 0.01 * i, &err) == 0);
    CHECK(fw_metric_writer_close(w, &err) == 0);

    fw_run_series rs;
    fw_run_series_init(&rs);
    int n_new = 0;
    CHECK(fw_run_series_update(&rs, s, a, 0, &n_new, &err) == 0);
    CHECK(fw_run_series_find(&rs, "train.loss") != NULL);
    /* Run b: only b's points, none of a's; t0 is b's first point. */
    CHECK(fw_run_series_update(&rs, s, b, 0, &n_new, &err) == 0);
    CHECK_INT(n_new, 7);
    CHECK_STR(rs.run_id, b);
    CHECK_INT(rs.n_series, 1);
    CHECK(fw_run_series_find(&rs, "train.loss") == NULL);
    const fw_series *m = fw_run_series_find(&rs, "train.momentum");
    CHECK(m && m->n == 7 && m->step[0] == 100 && m->wall_x[0] == 0.0);
    check_matches_store(s, &rs);
    /* And back to a: everything of a again. */
    CHECK(fw_run_series_update(&rs, s, a, 0, &n_new, &err) == 0);
    CHECK_INT(n_new, 20 + 20 + 4);
    check_matches_store(s, &rs);
    /* No run: empty. */
    CHECK(fw_run_series_update(&rs, s, "", 0, &n_new, &err) == 0);
    CHECK_INT(n_new, 0);
    CHECK_INT(rs.n_series, 0);
    CHECK_STR(rs.run_id, "");
    fw_run_series_free(&rs);
    fw_store_close(s);
}

static void test_repeated_steps_replace(void)
{
    fw_store *s = open_fresh();
    if (!s)
        return;
    char id[FW_RUN_ID_CAP];
    new_run(s, "a", id);
    fw_error err = {0};
    fw_metric_writer *w = NULL;
    CHECK(fw_metric_writer_open(s, id, NULL, &w, &err) == 0);
    for (int st = 1; st <= 10; st++)
        CHECK(fw_metric_writer_point(w, st, st / 5.0, "train.loss", 10.0 + st, &err) == 0);
    CHECK(fw_metric_writer_flush(w, &err) == 0);
    fw_run_series rs;
    fw_run_series_init(&rs);
    CHECK(fw_run_series_update(&rs, s, id, 0, NULL, &err) == 0);
    /* Resumed from a checkpoint at step 5: steps 6.. are written again. */
    for (int st = 6; st <= 8; st++)
        CHECK(fw_metric_writer_point(w, st, st / 5.0, "train.loss", 20.0 + st, &err) == 0);
    CHECK(fw_metric_writer_close(w, &err) == 0);
    CHECK(fw_run_series_update(&rs, s, id, 0, NULL, &err) == 0);
    const fw_series *l = fw_run_series_find(&rs, "train.loss");
    CHECK(l && l->n == 8);
    for (size_t i = 0; l && i < l->n; i++) {
        CHECK_INT(l->step[i], (int64_t)i + 1);
        CHECK(l->value[i] == (i < 5 ? 10.0 : 20.0) + (double)(i + 1));
    }
    /* The same rows read in one go give the same series. */
    fw_run_series again;
    fw_run_series_init(&again);
    CHECK(fw_run_series_update(&again, s, id, 0, NULL, &err) == 0);
    const fw_series *l2 = fw_run_series_find(&again, "train.loss");
    CHECK(l2 && l && l2->n == l->n);
    for (size_t i = 0; l && l2 && i < l->n && i < l2->n; i++)
        CHECK(l2->value[i] == l->value[i] && l2->step[i] == l->step[i]);
    fw_run_series_free(&again);
    fw_run_series_free(&rs);
    fw_store_close(s);
}

static void test_x_names(void)
{
    CHECK_STR(fw_series_x_name(FW_SERIES_X_STEP), "step");
    CHECK_STR(fw_series_x_name(FW_SERIES_X_EPOCH), "epoch");
    CHECK_STR(fw_series_x_name(FW_SERIES_X_WALL), "time");
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(tmp_root, sizeof tmp_root, "%s/fw_run_series_XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(tmp_root)) {
        printf("Bail out! mkdtemp failed\n");
        return 1;
    }
    RUN(test_first_load_matches_store);
    RUN(test_update_appends_only_new_rows);
    RUN(test_row_limit_pages);
    RUN(test_reset_on_run_change);
    RUN(test_repeated_steps_replace);
    RUN(test_x_names);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", tmp_root);
    return tap_done();
}
