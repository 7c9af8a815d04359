/* cmd_show.c — `flukewatch show RUN`: one run in full — header, config (the
 * keys changed from the defaults, or all with --full), best metrics,
 * evaluations, LR-finder suggestions and the newest events. */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "run_config.h"
#include "run_ref.h"
#include "run_summary.h"
#include "sanitize.h"
#include "store.h"

enum { DEFAULT_EVENTS = 10, EVENT_PAGE = 4096 };

/* printf a line whose %s arguments are already sanitised. */
static const char *clean(const char *raw, char *buf, size_t cap)
{
    return fw_sanitize(raw && raw[0] ? raw : "-", buf, cap);
}

static void print_time(const char *label, double t)
{
    if (t <= 0)
        return;
    char when[64];
    time_t tt = (time_t)t;
    struct tm tm;
    if (localtime_r(&tt, &tm) && strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm))
        printf("  %-10s %s\n", label, when);
}

static void print_header(const fw_run_info *r)
{
    char a[1024], b[1024];
    printf("run %s  %s\n", r->id, clean(r->name, a, sizeof a));
    printf("  %-10s %s\n", "status", fw_run_status_name(r->status));
    printf("  %-10s %s\n", "parent", r->parent[0] ? r->parent : "-");
    printf("  %-10s %s (devices %s)\n", "backend", clean(r->backend, a, sizeof a),
           clean(r->devices, b, sizeof b));
    if (r->owner_pid > 0) {
        int live = r->status == FW_RUN_RUNNING || r->status == FW_RUN_PAUSED;
        printf("  %-10s pid %lld on %s%s\n", "owner", (long long)r->owner_pid,
               clean(r->owner_host, a, sizeof a), live ? "" : " (last)");
    }
    print_time("created", r->created_at);
    print_time("started", r->started_at);
    print_time("ended", r->ended_at);
    double d = fw_run_duration(r, fw_store_now());
    if (d >= 0) {
        fw_format_duration(d, a, sizeof a);
        printf("  %-10s %s\n", "duration", a);
    }
}

/* The config: changed keys (or all), each with its default when changed. */
static int print_config(const fw_run_info *r, int full, fw_error *err)
{
    fw_run_config cfg, defaults;
    int had_text = 0;
    fw_error perr;
    fw_error_clear(&perr);
    printf("\nconfig\n");
    if (fw_run_summary_config(r, &cfg, &had_text, &perr) < 0) {
        char buf[1024];
        printf("  (the stored config does not parse: %s)\n",
               fw_sanitize(perr.msg, buf, sizeof buf));
        /* Show the stored text as it is, line by line. */
        const char *p = r->config;
        while (*p) {
            const char *nl = strchr(p, '\n');
            size_t len = nl ? (size_t)(nl - p) : strlen(p);
            char line[1024];
            snprintf(line, sizeof line, "%.*s", (int)(len < 1000 ? len : 1000), p);
            printf("  %s\n", fw_sanitize(line, buf, sizeof buf));
            p += len + (nl ? 1 : 0);
        }
        return 0;
    }
    if (!had_text)
        printf("  (no config recorded: the defaults)\n");
    fw_run_config_default(&defaults);
    int n_keys = 0;
    const fw_config_key *keys = fw_run_config_keys(&n_keys);
    int width = 0;
    for (int k = 0; k < n_keys; k++)
        if ((int)strlen(keys[k].name) > width)
            width = (int)strlen(keys[k].name);
    if (!full)
        printf("  changed from defaults:\n");
    int changed = 0;
    for (int k = 0; k < n_keys; k++) {
        char v[FW_RUN_PATH_MAX + 64], dv[FW_RUN_PATH_MAX + 64], cv[FW_RUN_PATH_MAX + 64],
            cdv[FW_RUN_PATH_MAX + 64];
        FW_TRY(fw_run_config_get(&cfg, keys[k].name, v, sizeof v, err));
        FW_TRY(fw_run_config_get(&defaults, keys[k].name, dv, sizeof dv, err));
        int differs = strcmp(v, dv) != 0;
        changed += differs;
        if (!full && !differs)
            continue;
        fw_sanitize(v, cv, sizeof cv);
        fw_sanitize(dv, cdv, sizeof cdv);
        if (differs)
            printf("    %-*s = %s   (default: %s)\n", width, keys[k].name, cv, cdv);
        else
            printf("    %-*s = %s\n", width, keys[k].name, cv);
    }
    if (!full && changed == 0)
        printf("    (none: the default recipe)\n");
    if (!full)
        printf("  (%d of %d keys changed; --full shows every key)\n", changed, n_keys);
    return 0;
}

static void print_best(const fw_run_summary *m)
{
    printf("\nmetrics\n");
    if (m->has_best) {
        printf("  %-16s %.4f at epoch %g (step %lld)\n", "best val.map5", m->best_map5, m->best_epoch,
               (long long)m->best_step);
        if (m->has_best_top1)
            printf("  %-16s %.4f\n", "  top-1", m->best_top1);
        if (m->has_best_threshold)
            printf("  %-16s %.4f\n", "  threshold", m->best_threshold);
    } else {
        printf("  %-16s - (no evaluation yet)\n", "best val.map5");
    }
    if (m->has_loss) {
        printf("  %-16s %.6g (step %lld)\n", "last train.loss", m->last_loss, (long long)m->last_step);
        printf("  %-16s %lld\n", "steps", (long long)m->last_step);
    } else {
        printf("  %-16s - (no training steps yet)\n", "last train.loss");
    }
    if (m->has_epoch)
        printf("  %-16s %g\n", "epoch reached", m->last_epoch);
}

static int print_evaluations(fw_store *s, const char *id, fw_error *err)
{
    fw_evaluation *evals = NULL;
    int n = 0;
    FW_TRY(fw_store_eval_list(s, id, &evals, &n, err));
    printf("\nevaluations (%d)\n", n);
    if (n > 0)
        printf("  %6s  %6s  %8s  %7s  %7s  %9s  %s\n", "ID", "EPOCH", "STEP", "MAP@5", "TOP-1",
               "THRESHOLD", "CHECKPOINT");
    for (int i = 0; i < n; i++) {
        char ck[1024];
        printf("  %6lld  %6g  %8lld  %7.4f  %7.4f  %9.4f  %s\n", (long long)evals[i].id,
               evals[i].epoch, (long long)evals[i].step, evals[i].map5, evals[i].top1,
               evals[i].threshold, clean(evals[i].checkpoint, ck, sizeof ck));
    }
    fw_eval_list_free(evals, n);
    return 0;
}

static int print_lr_curve(fw_store *s, const char *id, fw_error *err)
{
    fw_lr_curve c;
    int rc = fw_store_lr_curve_latest(s, id, &c, err);
    if (rc == FW_ENOTFOUND)
        return 0;
    FW_TRY(rc);
    printf("\nLR finder (%d points%s)\n", c.n, c.diverged ? ", stopped when the loss diverged" : "");
    if (c.valid) {
        printf("  valley   %.3g\n", c.valley);
        printf("  steep    %.3g\n", c.steep);
        printf("  minimum  %.3g\n", c.minimum);
    } else {
        printf("  no suggestion (the curve is too short or too flat)\n");
    }
    fw_lr_curve_free(&c);
    return 0;
}

/* The newest `want` events, read page by page into a ring. */
static int print_events(fw_store *s, const char *id, int want, fw_error *err)
{
    if (want <= 0)
        return 0;
    fw_event *ring = calloc((size_t)want, sizeof *ring);
    if (!ring)
        return fw_fail(err, FW_ENOMEM, "out of memory for %d events", want);
    long long total = 0;
    int64_t after = 0;
    int rc = 0;
    for (;;) {
        fw_event *page = NULL;
        int n = 0;
        rc = fw_store_events_read(s, id, after, EVENT_PAGE, &page, &n, err);
        if (rc < 0)
            break;
        for (int i = 0; i < n; i++) {
            fw_event *slot = &ring[total % want];
            free(slot->message);
            *slot = page[i];
            page[i].message = NULL; /* moved into the ring */
            total++;
        }
        if (n > 0)
            after = page[n - 1].id;
        fw_events_free(page, n);
        if (n < EVENT_PAGE)
            break;
    }
    if (rc == 0) {
        int shown = total < want ? (int)total : want;
        printf("\nevents (last %d of %lld)\n", shown, total);
        for (long long k = total - shown; k < total; k++) {
            const fw_event *e = &ring[k % want];
            char when[32] = "", kind[64], msg[1024];
            time_t tt = (time_t)e->wall_time;
            struct tm tm;
            if (!localtime_r(&tt, &tm) || !strftime(when, sizeof when, "%m-%d %H:%M:%S", &tm))
                snprintf(when, sizeof when, "-");
            printf("  %s  step %-7lld %-12s %s\n", when, (long long)e->step,
                   fw_sanitize(e->kind, kind, sizeof kind),
                   fw_sanitize(e->message ? e->message : "", msg, sizeof msg));
        }
    }
    for (int i = 0; i < want; i++)
        free(ring[i].message);
    free(ring);
    return rc;
}

static int run(int argc, char **argv)
{
    const fw_command *cmd = &fw_cmd_show;
    const char *ref = NULL;
    int full = 0;
    long n_events = DEFAULT_EVENTS;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--full")) {
            full = 1;
        } else if (!strcmp(a, "--events") || !strncmp(a, "--events=", 9)) {
            const char *v = a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v)
                return fw_cli_usage_error(cmd, "--events needs a number");
            if (fw_parse_long(v, 0, 100000, &n_events) < 0)
                return fw_cli_usage_error(cmd, "--events '%s': expected 0..100000", v);
        } else if (a[0] == '-' && a[1]) {
            return fw_cli_usage_error(cmd, "unknown option '%s'", a);
        } else if (ref) {
            return fw_cli_usage_error(cmd, "unexpected argument '%s' (one RUN)", a);
        } else {
            ref = a;
        }
    }
    if (!ref)
        return fw_cli_usage_error(cmd, "RUN is required (an id, its number or a unique name)");

    fw_error err;
    fw_error_clear(&err);
    fw_store *s = NULL;
    char id[FW_RUN_ID_CAP];
    if (fw_run_ref_open(ref, &s, id, &err) < 0)
        return fw_cli_report(cmd, &err);
    fw_run_info r;
    memset(&r, 0, sizeof r);
    fw_run_summary m;
    int rc = fw_store_run_get(s, id, &r, &err);
    if (rc == 0)
        rc = fw_run_summary_read(s, id, &m, &err);
    if (rc == 0) {
        print_header(&r);
        rc = print_config(&r, full, &err);
    }
    if (rc == 0) {
        print_best(&m);
        rc = print_evaluations(s, id, &err);
    }
    if (rc == 0)
        rc = print_lr_curve(s, id, &err);
    if (rc == 0)
        rc = print_events(s, id, (int)n_events, &err);
    fw_run_info_free(&r);
    fw_store_close(s);
    fflush(stdout);
    return rc < 0 ? fw_cli_report(cmd, &err) : FW_EXIT_OK;
}

const fw_command fw_cmd_show = {
    "show",
    "RUN [--full] [--events N]",
    "Show one run: header, config, best metrics, evaluations, events.",
    "RUN is a run id (r0003), its number (3) or a unique run name.\n"
    "Prints the run's status, parent, backend and devices, owner and times;\n"
    "its config keys that differ from the defaults (each with its default);\n"
    "the best val.map5 with its epoch and step, top-1 and threshold there, the\n"
    "last train.loss and the steps done; every evaluation (epoch, step, mAP@5,\n"
    "top-1, threshold, checkpoint); the LR-finder suggestions when the run has\n"
    "a curve; and its newest events.\n"
    "\n"
    "Options:\n"
    "  --full         list every config key, not only the changed ones\n"
    "  --events N     show the newest N events (default 10; 0 for none)\n",
    run,
};
