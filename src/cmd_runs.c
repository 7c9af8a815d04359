/* cmd_runs.c — `flukewatch runs [--all] [--status S] [--json]`: the runs of
 * the workspace as a table (fitted to the terminal's width) or as a JSON
 * array for scripts. */
#include <config.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "run_ref.h"
#include "run_summary.h"
#include "sanitize.h"
#include "store.h"
#include "text_table.h"

enum { RECENT_SHOWN = 20 }; /* finished/failed/... runs listed without --all */

static int is_live(fw_run_status st)
{
    return st == FW_RUN_RUNNING || st == FW_RUN_PAUSED;
}

/* "running,paused" -> a bit per status. */
static int parse_status_set(const char *text, unsigned *set)
{
    char buf[256];
    if (strlen(text) >= sizeof buf)
        return FW_EINVAL;
    strcpy(buf, text);
    *set = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        fw_run_status st;
        if (fw_run_status_parse(tok, &st) < 0)
            return FW_EINVAL;
        *set |= 1u << st;
    }
    return *set ? FW_OK : FW_EINVAL;
}

static void format_epoch(double e, char *buf, size_t cap)
{
    if (e == floor(e) && fabs(e) < 1e9)
        snprintf(buf, cap, "%.0f", e);
    else
        snprintf(buf, cap, "%.2f", e);
}

/* What the table and the JSON say about one run. */
typedef struct run_row {
    const fw_run_info *run;
    fw_run_summary sum;
    int epochs; /* planned ("epochs" of the config), 0 when unknown */
} run_row;

static int read_row(fw_store *s, const fw_run_info *run, run_row *row, fw_error *err)
{
    row->run = run;
    FW_TRY(fw_run_summary_read(s, run->id, &row->sum, err));
    fw_run_config cfg;
    fw_error cfg_err;
    int had_text = 0;
    row->epochs = 0;
    if (fw_run_summary_config(run, &cfg, &had_text, &cfg_err) == 0 && had_text)
        row->epochs = cfg.epochs;
    return 0;
}

static void add_table_row(fw_table *t, const run_row *row, double now)
{
    const fw_run_info *r = row->run;
    char epoch[64] = "-", best[64] = "-", at[32] = "-", started[32], duration[32],
         owner[320] = "-";
    char last[32] = "-";
    if (row->sum.has_epoch)
        format_epoch(row->sum.last_epoch, last, sizeof last);
    if (row->epochs > 0)
        snprintf(epoch, sizeof epoch, "%s/%d", last, row->epochs);
    else
        snprintf(epoch, sizeof epoch, "%s", last);
    if (row->sum.has_best) {
        format_epoch(row->sum.best_epoch, at, sizeof at);
        snprintf(best, sizeof best, "%.4f ep%s", row->sum.best_map5, at);
    }
    fw_format_when(r->started_at, now, started, sizeof started);
    fw_format_duration(fw_run_duration(r, now), duration, sizeof duration);
    if (is_live(r->status) && r->owner_pid > 0)
        snprintf(owner, sizeof owner, "%lld@%s", (long long)r->owner_pid, r->owner_host);
    const char *cells[] = {r->id, r->name, fw_run_status_name(r->status),
                           r->parent[0] ? r->parent : "-", epoch, best, started, duration,
                           owner};
    fw_error ignored;
    fw_table_add_row(t, cells, &ignored); /* out of memory: the row is left out */
}

/* A number, or null when it is not finite / absent. */
static void add_number(cJSON *obj, const char *key, int present, double v)
{
    if (present && isfinite(v))
        cJSON_AddNumberToObject(obj, key, v);
    else
        cJSON_AddNullToObject(obj, key);
}

static void add_clean_string(cJSON *obj, const char *key, const char *raw)
{
    if (!raw || !raw[0]) {
        cJSON_AddNullToObject(obj, key);
        return;
    }
    size_t cap = strlen(raw) + 1;
    char *clean = malloc(cap);
    if (!clean) {
        cJSON_AddNullToObject(obj, key);
        return;
    }
    cJSON_AddStringToObject(obj, key, fw_sanitize(raw, clean, cap));
    free(clean);
}

static cJSON *row_json(const run_row *row, double now)
{
    const fw_run_info *r = row->run;
    const fw_run_summary *m = &row->sum;
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "id", r->id);
    add_clean_string(o, "name", r->name);
    cJSON_AddStringToObject(o, "status", fw_run_status_name(r->status));
    add_clean_string(o, "parent", r->parent);
    add_clean_string(o, "backend", r->backend);
    add_clean_string(o, "devices", r->devices);
    add_number(o, "epoch", m->has_epoch, m->last_epoch);
    add_number(o, "epochs", row->epochs > 0, row->epochs);
    add_number(o, "best_map5", m->has_best, m->best_map5);
    add_number(o, "best_epoch", m->has_best, m->best_epoch);
    add_number(o, "best_step", m->has_best, (double)m->best_step);
    add_number(o, "evaluations", 1, m->n_evals);
    add_number(o, "last_loss", m->has_loss, m->last_loss);
    add_number(o, "steps", m->has_loss, (double)m->last_step);
    add_number(o, "created_at", r->created_at > 0, r->created_at);
    add_number(o, "started_at", r->started_at > 0, r->started_at);
    add_number(o, "ended_at", r->ended_at > 0, r->ended_at);
    double d = fw_run_duration(r, now);
    add_number(o, "duration_s", d >= 0, d);
    add_number(o, "owner_pid", r->owner_pid > 0, (double)r->owner_pid);
    add_clean_string(o, "owner_host", r->owner_host);
    cJSON_AddBoolToObject(o, "live", is_live(r->status));
    return o;
}

static int run(int argc, char **argv)
{
    const fw_command *cmd = &fw_cmd_runs;
    int all = 0, json = 0;
    unsigned status_set = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *value = NULL;
        if (!strcmp(a, "--all")) {
            all = 1;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--status") || !strncmp(a, "--status=", 9)) {
            if (a[8] == '=')
                value = a + 9;
            else if (i + 1 < argc)
                value = argv[++i];
            else
                return fw_cli_usage_error(cmd, "--status needs a value");
            if (parse_status_set(value, &status_set) < 0)
                return fw_cli_usage_error(cmd,
                                          "--status '%s': expected queued, running, paused, "
                                          "finished, failed or interrupted (comma-separated)",
                                          value);
        } else if (a[0] == '-') {
            return fw_cli_usage_error(cmd, "unknown option '%s'", a);
        } else {
            return fw_cli_usage_error(cmd, "unexpected argument '%s'", a);
        }
    }

    fw_error err;
    fw_error_clear(&err);
    fw_store *s = NULL;
    char ws[4096];
    int rc = fw_run_store_open_existing(&s, ws, sizeof ws, &err);
    if (rc == FW_ENOTFOUND) { /* a workspace with no store has no runs */
        if (json) {
            puts("[]");
        } else {
            char clean[4096];
            printf("No runs in %s.\n", fw_sanitize(ws, clean, sizeof clean));
        }
        return FW_EXIT_OK;
    }
    if (rc < 0)
        return fw_cli_report(cmd, &err);
    fw_run_info *runs = NULL;
    int n = 0;
    if (fw_store_run_list(s, &runs, &n, &err) < 0) {
        fw_store_close(s);
        return fw_cli_report(cmd, &err);
    }

    /* Select: the status filter, then (without --all) every live run and
     * the RECENT_SHOWN newest of the others. */
    char *keep = calloc((size_t)n + 1, 1);
    run_row *rows = calloc((size_t)n + 1, sizeof *rows);
    if (!keep || !rows) {
        free(keep);
        free(rows);
        fw_run_list_free(runs, n);
        fw_store_close(s);
        fw_fail(&err, FW_ENOMEM, "out of memory listing %d runs", n);
        return fw_cli_report(cmd, &err);
    }
    int others = 0, hidden = 0;
    for (int i = n - 1; i >= 0; i--) {
        if (status_set && !(status_set & (1u << runs[i].status)))
            continue;
        if (all || is_live(runs[i].status) || others < RECENT_SHOWN) {
            keep[i] = 1;
            if (!is_live(runs[i].status))
                others++;
        } else {
            hidden++;
        }
    }
    int n_rows = 0;
    rc = 0;
    double now = fw_store_now();
    for (int i = 0; i < n && rc == 0; i++)
        if (keep[i])
            rc = read_row(s, &runs[i], &rows[n_rows++], &err);

    int exit_code = FW_EXIT_OK;
    if (rc < 0) {
        exit_code = fw_cli_report(cmd, &err);
    } else if (json) {
        cJSON *arr = cJSON_CreateArray();
        for (int i = 0; arr && i < n_rows; i++) {
            cJSON *o = row_json(&rows[i], now);
            if (!o || !cJSON_AddItemToArray(arr, o)) {
                cJSON_Delete(o);
                cJSON_Delete(arr);
                arr = NULL;
            }
        }
        char *text = arr ? cJSON_Print(arr) : NULL;
        if (text) {
            puts(text);
        } else {
            fw_fail(&err, FW_ENOMEM, "out of memory writing JSON");
            exit_code = fw_cli_report(cmd, &err);
        }
        cJSON_free(text);
        cJSON_Delete(arr);
    } else if (n_rows == 0 && hidden == 0) {
        char clean[4096];
        printf(status_set ? "No runs with that status in %s.\n" : "No runs in %s.\n",
               fw_sanitize(ws, clean, sizeof clean));
    } else {
        fw_table t;
        fw_table_init(&t, 9, &err);
        t.shrink[1] = t.shrink[8] = 1; /* the name and the owner's host give way, */
        t.drop[3] = 3;                 /* then the parent, start time and duration */
        t.drop[6] = 2;
        t.drop[7] = 1;
        t.right[4] = t.right[7] = 1;
        const char *header[] = {"ID",         "NAME",    "STATUS",   "PARENT", "EPOCH",
                                "BEST MAP@5", "STARTED", "DURATION", "OWNER"};
        fw_table_add_row(&t, header, &err);
        for (int i = 0; i < n_rows; i++)
            add_table_row(&t, &rows[i], now);
        fw_table_print(&t, stdout, fw_terminal_width(stdout));
        fw_table_free(&t);
        if (hidden > 0)
            printf("(%d older run%s not shown: --all lists every run)\n", hidden,
                   hidden == 1 ? "" : "s");
    }
    free(keep);
    free(rows);
    fw_run_list_free(runs, n);
    fw_store_close(s);
    return exit_code;
}

const fw_command fw_cmd_runs = {
    "runs",
    "[--all] [--status S[,S...]] [--json]",
    "List the runs of the workspace.",
    "One line per run: id, name, status, parent run, epoch reached / epochs\n"
    "planned, best validation mAP@5 and the epoch it was reached, start time\n"
    "(local), duration, and the owner (pid@host) of a live run. On a terminal\n"
    "the table fits the width (long names end in '…'). Without --all, every\n"
    "running or paused run and the 20 newest others are listed.\n"
    "Runs whose owner process has died are marked interrupted first.\n"
    "\n"
    "Options:\n"
    "  --all          list every run\n"
    "  --status S     only runs with this status (queued, running, paused,\n"
    "                 finished, failed, interrupted; several joined by ',')\n"
    "  --json         print a JSON array of the same runs (id, name, status,\n"
    "                 parent, epoch, epochs, best_map5, best_epoch, best_step,\n"
    "                 evaluations, last_loss, steps, times in Unix seconds,\n"
    "                 duration_s, owner_pid, owner_host, live); absent values\n"
    "                 are null\n",
    run,
};
