/* config_diff.c — config keys that differ between runs, and their best
 * metrics as table cells, for the Compare screen (see config_diff.h). */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_diff.h"
#include "run_config.h"

/* One parsed "key = value" line. */
typedef struct kv {
    char *key, *value;
} kv;

typedef struct kv_list {
    kv *items;
    int n, cap;
} kv_list;

static void kv_list_free(kv_list *l)
{
    for (int i = 0; i < l->n; i++) {
        free(l->items[i].key);
        free(l->items[i].value);
    }
    free(l->items);
    memset(l, 0, sizeof *l);
}

static char *dup_range(const char *a, const char *b)
{
    while (a < b && (*a == ' ' || *a == '\t'))
        a++;
    while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\r'))
        b--;
    char *s = malloc((size_t)(b - a) + 1);
    if (s) {
        memcpy(s, a, (size_t)(b - a));
        s[b - a] = '\0';
    }
    return s;
}

/* Split formatted text into its "key = value" lines. */
static int parse_lines(const char *text, kv_list *out, fw_error *err)
{
    for (const char *line = text; line && *line;) {
        const char *end = strchr(line, '\n');
        const char *stop = end ? end : line + strlen(line);
        const char *eq = memchr(line, '=', (size_t)(stop - line));
        if (eq && line[0] != '#') {
            if (out->n == out->cap) {
                int cap = out->cap ? out->cap * 2 : 64;
                kv *grown = realloc(out->items, (size_t)cap * sizeof *grown);
                if (!grown)
                    return fw_fail(err, FW_ENOMEM, "config diff: out of memory");
                out->items = grown;
                out->cap = cap;
            }
            kv *item = &out->items[out->n];
            item->key = dup_range(line, eq);
            item->value = dup_range(eq + 1, stop);
            if (!item->key || !item->value) {
                free(item->key);
                free(item->value);
                return fw_fail(err, FW_ENOMEM, "config diff: out of memory");
            }
            if (item->key[0])
                out->n++;
            else {
                free(item->key);
                free(item->value);
            }
        }
        line = end ? end + 1 : NULL;
    }
    return FW_OK;
}

static const char *lookup(const kv_list *l, const char *key)
{
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->items[i].key, key))
            return l->items[i].value;
    return NULL;
}

void fw_config_diff_free(fw_config_diff *d)
{
    for (int r = 0; r < d->n_rows; r++) {
        free(d->rows[r].key);
        for (int i = 0; i < d->n_runs; i++)
            free(d->rows[r].value[i]);
    }
    free(d->rows);
    memset(d, 0, sizeof *d);
}

/* Append a row for key with each run's value (or "?"). */
static int add_row(fw_config_diff *d, const char *key, const char *const *values, int *cap,
                   fw_error *err)
{
    if (d->n_rows == *cap) {
        int grown_cap = *cap ? *cap * 2 : 16;
        fw_config_diff_row *grown = realloc(d->rows, (size_t)grown_cap * sizeof *grown);
        if (!grown)
            return fw_fail(err, FW_ENOMEM, "config diff: out of memory");
        d->rows = grown;
        *cap = grown_cap;
    }
    fw_config_diff_row *row = &d->rows[d->n_rows];
    memset(row, 0, sizeof *row);
    d->n_rows++; /* counted now so fw_config_diff_free frees a half-filled row */
    row->key = strdup(key);
    int ok = row->key != NULL;
    for (int i = 0; i < d->n_runs; i++) {
        row->value[i] = strdup(values[i] ? values[i] : "?");
        ok = ok && row->value[i];
    }
    return ok ? FW_OK : fw_fail(err, FW_ENOMEM, "config diff: out of memory");
}

int fw_config_diff_texts(const char *const *formatted, int n, fw_config_diff *out,
                         fw_error *err)
{
    memset(out, 0, sizeof *out);
    if (n < 1 || n > FW_CONFIG_DIFF_MAX_RUNS)
        return fw_fail(err, FW_EINVAL, "config diff: %d runs (1 to %d can be compared)", n,
                       FW_CONFIG_DIFF_MAX_RUNS);
    out->n_runs = n;
    kv_list lists[FW_CONFIG_DIFF_MAX_RUNS];
    memset(lists, 0, sizeof lists);
    int rc = FW_OK, cap = 0;
    for (int i = 0; rc == FW_OK && i < n; i++)
        if (formatted[i])
            rc = parse_lines(formatted[i], &lists[i], err);
    /* Every key in order of first appearance over the runs. */
    for (int i = 0; rc == FW_OK && i < n; i++) {
        for (int k = 0; rc == FW_OK && k < lists[i].n; k++) {
            const char *key = lists[i].items[k].key;
            int seen = 0;
            for (int j = 0; j < i && !seen; j++)
                seen = lookup(&lists[j], key) != NULL;
            if (seen || lookup(&lists[i], key) != lists[i].items[k].value)
                continue; /* compared already (or a repeat within this text) */
            out->n_keys++;
            const char *values[FW_CONFIG_DIFF_MAX_RUNS];
            int differs = 0;
            for (int j = 0; j < n; j++) {
                values[j] = lookup(&lists[j], key);
                const char *a = values[j] ? values[j] : "?";
                const char *b = values[0] ? values[0] : "?";
                differs |= strcmp(a, b) != 0;
            }
            if (differs)
                rc = add_row(out, key, values, &cap, err);
        }
    }
    for (int i = 0; i < n; i++)
        kv_list_free(&lists[i]);
    if (rc != FW_OK)
        fw_config_diff_free(out);
    return rc;
}

int fw_config_diff_runs(const fw_run_info *const *runs, int n, fw_config_diff *out,
                        fw_error *err)
{
    memset(out, 0, sizeof *out);
    if (n < 1 || n > FW_CONFIG_DIFF_MAX_RUNS)
        return fw_fail(err, FW_EINVAL, "config diff: %d runs (1 to %d can be compared)", n,
                       FW_CONFIG_DIFF_MAX_RUNS);
    char *texts[FW_CONFIG_DIFF_MAX_RUNS] = {0};
    char errors[FW_CONFIG_DIFF_MAX_RUNS][512];
    int rc = FW_OK;
    for (int i = 0; i < n && rc != FW_ENOMEM; i++) {
        errors[i][0] = '\0';
        fw_run_config cfg;
        fw_error e;
        fw_error_clear(&e);
        int r = fw_run_summary_config(runs[i], &cfg, NULL, &e);
        if (r == FW_OK)
            r = fw_run_config_format(&cfg, &texts[i], &e);
        if (r == FW_ENOMEM)
            rc = fw_fail(err, FW_ENOMEM, "config diff: %s", e.msg);
        else if (r < 0)
            snprintf(errors[i], sizeof errors[i], "%s", e.msg[0] ? e.msg : fw_error_name(r));
    }
    if (rc == FW_OK)
        rc = fw_config_diff_texts((const char *const *)texts, n, out, err);
    if (rc == FW_OK)
        memcpy(out->error, errors, (size_t)n * sizeof errors[0]);
    for (int i = 0; i < n; i++)
        free(texts[i]);
    return rc;
}

const char *fw_compare_metric_label(fw_compare_metric m)
{
    switch (m) {
    case FW_COMPARE_BEST_MAP5: return "best mAP@5";
    case FW_COMPARE_BEST_EPOCH: return "at epoch";
    case FW_COMPARE_LAST_LOSS: return "last loss";
    case FW_COMPARE_STATUS: return "status";
    default: return "?";
    }
}

void fw_compare_metric_cell(fw_compare_metric m, const fw_run_summary *sum,
                            const fw_run_info *run, char *buf, size_t cap)
{
    switch (m) {
    case FW_COMPARE_BEST_MAP5:
        if (sum->has_best)
            snprintf(buf, cap, "%.4f", sum->best_map5);
        else
            snprintf(buf, cap, "-");
        break;
    case FW_COMPARE_BEST_EPOCH:
        if (sum->has_best)
            snprintf(buf, cap, "%g", sum->best_epoch);
        else
            snprintf(buf, cap, "-");
        break;
    case FW_COMPARE_LAST_LOSS:
        if (sum->has_loss)
            snprintf(buf, cap, "%.4g", sum->last_loss);
        else
            snprintf(buf, cap, "-");
        break;
    case FW_COMPARE_STATUS:
        snprintf(buf, cap, "%s", fw_run_status_name(run->status));
        break;
    default:
        snprintf(buf, cap, "?");
        break;
    }
}
