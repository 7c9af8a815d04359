/* test_config_diff.c — the Compare screen's tables: differing config keys
 * from hand-built texts (order, missing keys, unknown configs), from runs'
 * stored configs (checked key by key against fw_run_config_get on configs
 * parsed independently), a run whose config no longer parses, and the best
 * metric cells. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "config_diff.h"
#include "run_config.h"
#include "tap.h"

static void test_texts_basic(void)
{
    const char *a = "lr = 0.1\nepochs = 3\nname = first run\n";
    const char *b = "lr = 0.2\nepochs = 3\nname = first run\n";
    const char *c = "lr = 0.1\nepochs = 3\nname = third\n";
    const char *texts[] = {a, b, c};
    fw_config_diff d;
    fw_error err = {0};
    int rc = fw_config_diff_texts(texts, 3, &d, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    CHECK_INT(d.n_runs, 3);
    CHECK_INT(d.n_keys, 3);
    CHECK_INT(d.n_rows, 2);
    if (d.n_rows == 2) {
        CHECK_STR(d.rows[0].key, "lr");
        CHECK_STR(d.rows[0].value[0], "0.1");
        CHECK_STR(d.rows[0].value[1], "0.2");
        CHECK_STR(d.rows[0].value[2], "0.1");
        CHECK_STR(d.rows[1].key, "name");
        CHECK_STR(d.rows[1].value[0], "first run"); /* inner spaces kept */
        CHECK_STR(d.rows[1].value[2], "third");
    }
    fw_config_diff_free(&d);
    CHECK_INT(d.n_rows, 0);
}

static void test_texts_missing_and_unknown(void)
{
    /* b lacks "pool" and has an extra key; c is unknown (NULL). Blank and
     * comment lines are ignored; values are trimmed. */
    const char *a = "# comment = no\nepochs = 3\n\npool = gem\n";
    const char *b = "epochs=3\r\nextra = 1\n";
    const char *texts[] = {a, b, NULL};
    fw_config_diff d;
    fw_error err = {0};
    int rc = fw_config_diff_texts(texts, 3, &d, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    CHECK_INT(d.n_keys, 3); /* epochs, pool, extra */
    CHECK_INT(d.n_rows, 3); /* c's "?" differs from every value */
    if (d.n_rows == 3) {
        CHECK_STR(d.rows[0].key, "epochs");
        CHECK_STR(d.rows[0].value[1], "3");
        CHECK_STR(d.rows[0].value[2], "?");
        CHECK_STR(d.rows[1].key, "pool");
        CHECK_STR(d.rows[1].value[0], "gem");
        CHECK_STR(d.rows[1].value[1], "?");
        CHECK_STR(d.rows[2].key, "extra");
        CHECK_STR(d.rows[2].value[0], "?");
        CHECK_STR(d.rows[2].value[1], "1");
    }
    fw_config_diff_free(&d);

    /* Identical texts: no rows; one run: no rows. */
    const char *same[] = {a, a};
    CHECK(fw_config_diff_texts(same, 2, &d, &err) == 0);
    CHECK_INT(d.n_rows, 0);
    CHECK_INT(d.n_keys, 2);
    fw_config_diff_free(&d);
    CHECK(fw_config_diff_texts(same, 1, &d, &err) == 0);
    CHECK_INT(d.n_rows, 0);
    fw_config_diff_free(&d);

    /* Run counts outside 1..8 are refused. */
    const char *nine[9] = {a, a, a, a, a, a, a, a, a};
    CHECK(fw_config_diff_texts(nine, 9, &d, &err) == FW_EINVAL);
    CHECK(fw_config_diff_texts(nine, 0, &d, &err) == FW_EINVAL);
}

static fw_run_info make_run(const char *id, const char *config)
{
    fw_run_info r;
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "%s", id);
    r.name = (char *)"run";
    r.config = (char *)config;
    r.status = FW_RUN_FINISHED;
    return r;
}

/* Runs' configs: the rows are exactly the keys whose fw_run_config_get
 * values differ, in key-table order, with those values. */
static void test_runs_against_config_get(void)
{
    const char *configs[] = {
        "epochs = 3\ninput = 64x32\nlr = 0.01\n",
        "epochs = 5\ninput = 64x32\noptimizer = sgd\n",
        "", /* no config text: the defaults */
        "input = 128x64\nlr = 0.01\nhead = arcface+triplet\n",
    };
    enum { N = 4 };
    fw_run_info runs[N];
    const fw_run_info *ptrs[N];
    fw_run_config cfg[N];
    fw_error err = {0};
    char id[8];
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "r%04d", i + 1);
        runs[i] = make_run(id, configs[i]);
        ptrs[i] = &runs[i];
        fw_run_config_default(&cfg[i]);
        CHECK(fw_run_config_parse(&cfg[i], configs[i], "test", &err) == 0);
    }
    fw_config_diff d;
    int rc = fw_config_diff_runs(ptrs, N, &d, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc)
        return;
    int n_keys = 0, expected_rows = 0, row = 0;
    const fw_config_key *keys = fw_run_config_keys(&n_keys);
    CHECK_INT(d.n_keys, n_keys);
    for (int k = 0; k < n_keys; k++) {
        char vals[N][1200];
        int differs = 0;
        for (int i = 0; i < N; i++) {
            CHECK(fw_run_config_get(&cfg[i], keys[k].name, vals[i], sizeof vals[i], &err) == 0);
            differs |= strcmp(vals[i], vals[0]) != 0;
        }
        if (!differs)
            continue;
        expected_rows++;
        CHECK(row < d.n_rows);
        if (row >= d.n_rows)
            continue;
        CHECK_STR(d.rows[row].key, keys[k].name);
        for (int i = 0; i < N; i++)
            CHECK_STR(d.rows[row].value[i], vals[i]);
        row++;
    }
    CHECK_INT(d.n_rows, expected_rows);
    CHECK(expected_rows >= 5); /* epochs, input, optimizer, lr, head at least */
    for (int i = 0; i < N; i++)
        CHECK_STR(d.error[i], "");
    fw_config_diff_free(&d);
}

static void test_runs_bad_config(void)
{
    fw_run_info runs[2] = {make_run("r0001", "epochs = 3\n"),
                           make_run("r0002", "epochs = many\n")};
    const fw_run_info *ptrs[2] = {&runs[0], &runs[1]};
    fw_config_diff d;
    fw_error err = {0};
    CHECK(fw_config_diff_runs(ptrs, 2, &d, &err) == 0);
    CHECK_STR(d.error[0], "");
    CHECK(d.error[1][0] != '\0');
    CHECK(strstr(d.error[1], "epochs") != NULL);
    /* Every key differs from "?" */
    int n_keys = 0;
    fw_run_config_keys(&n_keys);
    CHECK_INT(d.n_rows, n_keys);
    for (int r = 0; r < d.n_rows; r++)
        CHECK_STR(d.rows[r].value[1], "?");
    fw_config_diff_free(&d);
}

static void test_metric_cells(void)
{
    fw_run_summary sum;
    memset(&sum, 0, sizeof sum);
    fw_run_info run = make_run("r0001", "");
    run.status = FW_RUN_RUNNING;
    char buf[64];
    for (int m = 0; m < FW_COMPARE_STATUS; m++) {
        fw_compare_metric_cell((fw_compare_metric)m, &sum, &run, buf, sizeof buf);
        CHECK_STR(buf, "-");
    }
    fw_compare_metric_cell(FW_COMPARE_STATUS, &sum, &run, buf, sizeof buf);
    CHECK_STR(buf, fw_run_status_name(FW_RUN_RUNNING));
    sum.has_best = 1;
    sum.best_map5 = 0.123456;
    sum.best_epoch = 7;
    sum.has_loss = 1;
    sum.last_loss = 1.234567;
    fw_compare_metric_cell(FW_COMPARE_BEST_MAP5, &sum, &run, buf, sizeof buf);
    CHECK_STR(buf, "0.1235");
    fw_compare_metric_cell(FW_COMPARE_BEST_EPOCH, &sum, &run, buf, sizeof buf);
    CHECK_STR(buf, "7");
    fw_compare_metric_cell(FW_COMPARE_LAST_LOSS, &sum, &run, buf, sizeof buf);
    CHECK_STR(buf, "1.235");
    CHECK_STR(fw_compare_metric_label(FW_COMPARE_BEST_MAP5), "best mAP@5");
    CHECK_STR(fw_compare_metric_label(FW_COMPARE_STATUS), "status");
}

int main(void)
{
    RUN(test_texts_basic);
    RUN(test_texts_missing_and_unknown);
    RUN(test_runs_against_config_get);
    RUN(test_runs_bad_config);
    RUN(test_metric_cells);
    return tap_done();
}
