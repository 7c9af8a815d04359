/* cmd_compare.c — `flukewatch compare RUN RUN...`: two to eight runs side by
 * side: the config keys whose values differ, then their best metrics. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "run_config.h"
#include "run_ref.h"
#include "run_summary.h"
#include "store.h"
#include "text_table.h"

enum { MIN_RUNS = 2, MAX_RUNS = 8 };

typedef struct compared {
    char id[FW_RUN_ID_CAP];
    fw_run_info info;
    fw_run_config cfg;
    fw_run_summary sum;
} compared;

static void format_metric(int present, const char *fmt, double v, char *buf, size_t cap)
{
    if (present)
        snprintf(buf, cap, fmt, v);
    else
        snprintf(buf, cap, "-");
}

/* One table: a label column and a column per run. */
static int print_rows(const compared *runs, int n, int with_configs, fw_error *err)
{
    fw_table t;
    FW_TRY(fw_table_init(&t, n + 1, err));
    for (int c = 1; c <= n; c++)
        t.shrink[c] = 1;
    const char *cells[MAX_RUNS + 1];
    char bufs[MAX_RUNS + 1][FW_RUN_PATH_MAX + 64];
    int rc = 0;

    cells[0] = "";
    for (int i = 0; i < n; i++)
        cells[i + 1] = runs[i].id;
    rc = fw_table_add_row(&t, cells, err);
    cells[0] = "name";
    for (int i = 0; i < n; i++)
        cells[i + 1] = runs[i].info.name;
    if (rc == 0)
        rc = fw_table_add_row(&t, cells, err);

    if (with_configs) {
        int n_keys = 0, differing = 0;
        const fw_config_key *keys = fw_run_config_keys(&n_keys);
        for (int k = 0; rc == 0 && k < n_keys; k++) {
            int differs = 0;
            for (int i = 0; rc == 0 && i < n; i++) {
                rc = fw_run_config_get(&runs[i].cfg, keys[k].name, bufs[i + 1],
                                       sizeof bufs[i + 1], err);
                cells[i + 1] = bufs[i + 1];
                if (rc == 0 && i > 0 && strcmp(bufs[i + 1], bufs[1]))
                    differs = 1;
            }
            if (rc == 0 && differs) {
                cells[0] = keys[k].name;
                rc = fw_table_add_row(&t, cells, err);
                differing++;
            }
        }
        if (rc == 0) {
            printf("config keys that differ (%d of %d):\n", differing, n_keys);
            if (differing == 0)
                printf("  (none: the configs are the same)\n");
            else
                fw_table_print(&t, stdout, fw_terminal_width(stdout));
        }
        fw_table_free(&t);
        return rc;
    }

    double now = fw_store_now();
    static const char *const labels[] = {"best val.map5", "  at epoch", "final train.loss",
                                         "steps",         "duration",   "status"};
    for (size_t r = 0; rc == 0 && r < sizeof labels / sizeof labels[0]; r++) {
        cells[0] = labels[r];
        for (int i = 0; i < n; i++) {
            const fw_run_summary *m = &runs[i].sum;
            char *b = bufs[i + 1];
            size_t cap = sizeof bufs[i + 1];
            switch (r) {
            case 0: format_metric(m->has_best, "%.4f", m->best_map5, b, cap); break;
            case 1: format_metric(m->has_best, "%g", m->best_epoch, b, cap); break;
            case 2: format_metric(m->has_loss, "%.6g", m->last_loss, b, cap); break;
            case 3: format_metric(m->has_loss, "%.0f", (double)m->last_step, b, cap); break;
            case 4: fw_format_duration(fw_run_duration(&runs[i].info, now), b, cap); break;
            default: snprintf(b, cap, "%s", fw_run_status_name(runs[i].info.status)); break;
            }
            cells[i + 1] = b;
        }
        rc = fw_table_add_row(&t, cells, err);
    }
    if (rc == 0) {
        printf("\nbest metrics:\n");
        fw_table_print(&t, stdout, fw_terminal_width(stdout));
    }
    fw_table_free(&t);
    return rc;
}

static int run(int argc, char **argv)
{
    const fw_command *cmd = &fw_cmd_compare;
    const char *refs[MAX_RUNS];
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1])
            return fw_cli_usage_error(cmd, "unknown option '%s'", argv[i]);
        if (n == MAX_RUNS)
            return fw_cli_usage_error(cmd, "at most %d runs", MAX_RUNS);
        refs[n++] = argv[i];
    }
    if (n < MIN_RUNS)
        return fw_cli_usage_error(cmd, "give %d to %d runs to compare", MIN_RUNS, MAX_RUNS);

    fw_error err;
    fw_error_clear(&err);
    fw_store *s = NULL;
    if (fw_run_store_open_existing(&s, NULL, 0, &err) < 0)
        return fw_cli_report(cmd, &err);
    compared *runs = calloc(MAX_RUNS, sizeof *runs);
    if (!runs) {
        fw_store_close(s);
        fw_fail(&err, FW_ENOMEM, "out of memory");
        return fw_cli_report(cmd, &err);
    }
    int rc = 0, read = 0, exit_code = FW_EXIT_OK;
    for (int i = 0; rc == 0 && i < n; i++) {
        rc = fw_run_ref_resolve(s, refs[i], runs[i].id, &err);
        for (int j = 0; rc == 0 && j < i; j++) {
            if (!strcmp(runs[j].id, runs[i].id)) {
                exit_code = fw_cli_usage_error(cmd, "run %s is given twice ('%s' and '%s')",
                                               runs[i].id, refs[j], refs[i]);
                rc = FW_EINVAL;
            }
        }
        if (rc == 0)
            rc = fw_store_run_get(s, runs[i].id, &runs[i].info, &err);
        if (rc == 0) {
            read = i + 1;
            rc = fw_run_summary_config(&runs[i].info, &runs[i].cfg, NULL, &err);
            if (rc < 0)
                fw_error_prefix(&err, "run %s: ", runs[i].id);
        }
        if (rc == 0)
            rc = fw_run_summary_read(s, runs[i].id, &runs[i].sum, &err);
    }
    if (rc == 0)
        rc = print_rows(runs, n, 1, &err);
    if (rc == 0)
        rc = print_rows(runs, n, 0, &err);
    if (rc < 0 && exit_code == FW_EXIT_OK)
        exit_code = fw_cli_report(cmd, &err);
    for (int i = 0; i < read; i++)
        fw_run_info_free(&runs[i].info);
    free(runs);
    fw_store_close(s);
    return exit_code;
}

const fw_command fw_cmd_compare = {
    "compare",
    "RUN RUN [RUN...]",
    "Compare 2 to 8 runs: differing config keys and best metrics.",
    "Each RUN is a run id (r0003), its number (3) or a unique run name.\n"
    "Prints a column per run: first the config keys whose values differ\n"
    "between the runs (every key is compared as the run's config gives it\n"
    "over the defaults), then the best val.map5 and its epoch, the final\n"
    "train.loss, the steps done, the duration and the status.\n",
    run,
};
