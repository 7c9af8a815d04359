/* config_diff.h — what the Compare screen tabulates for 1..8 runs: the
 * config keys whose values differ between them (each run's config parsed
 * over the defaults with fw_run_summary_config and written out with
 * fw_run_config_format, compared key by key), and each run's best metrics
 * (fw_run_summary_read) as short table cells. No curses here.
 */
#ifndef FW_CONFIG_DIFF_H
#define FW_CONFIG_DIFF_H

#include "fw_error.h"
#include "run_summary.h"
#include "store.h"

#define FW_CONFIG_DIFF_MAX_RUNS 8

/* One key whose values are not all equal. */
typedef struct fw_config_diff_row {
    char *key;
    char *value[FW_CONFIG_DIFF_MAX_RUNS]; /* (n_runs,) as formatted; "?" when unknown */
} fw_config_diff_row;

typedef struct fw_config_diff {
    int n_runs;
    int n_keys;                  /* keys compared (every key of the formatted configs) */
    int n_rows;
    fw_config_diff_row *rows;    /* (n_rows,) in the formatted configs' key order */
    /* Per run: "" when its config parsed, else why not (its values are then "?"). */
    char error[FW_CONFIG_DIFF_MAX_RUNS][512];
} fw_config_diff;

/* Compare formatted configs ("key = value" lines as fw_run_config_format
 * writes them; NULL for a run whose config is unknown: all its values are
 * "?"). Keys are taken in order of first appearance; a key one text lacks
 * has the value "?" there. Lines without " = " and blank lines are ignored.
 * FW_EINVAL for n outside 1..FW_CONFIG_DIFF_MAX_RUNS, FW_ENOMEM. */
int fw_config_diff_texts(const char *const *formatted, int n, fw_config_diff *out,
                         fw_error *err);

/* Compare runs' configs: each parsed over the defaults
 * (fw_run_summary_config) and formatted. A config that no longer parses
 * does not fail the diff: that run's error[] says why and its values are
 * "?". Errors as fw_config_diff_texts. */
int fw_config_diff_runs(const fw_run_info *const *runs, int n, fw_config_diff *out,
                        fw_error *err);

void fw_config_diff_free(fw_config_diff *d);

/* The best-metrics rows of the Compare table, in order. */
typedef enum fw_compare_metric {
    FW_COMPARE_BEST_MAP5 = 0, /* "best mAP@5": %.4f */
    FW_COMPARE_BEST_EPOCH,    /* "at epoch": %g */
    FW_COMPARE_LAST_LOSS,     /* "last loss": %.4g */
    FW_COMPARE_STATUS,        /* "status": the run status' name */
    FW_COMPARE_METRIC_COUNT
} fw_compare_metric;

/* The row's label ("best mAP@5", ...). */
const char *fw_compare_metric_label(fw_compare_metric m);

/* One cell of a best-metrics row for a run: "-" where the run has no such
 * metric yet. */
void fw_compare_metric_cell(fw_compare_metric m, const fw_run_summary *sum,
                            const fw_run_info *run, char *buf, size_t cap);

#endif
