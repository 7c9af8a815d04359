/* cmd_control.c — `flukewatch pause RUN` and `flukewatch stop RUN`: ask a
 * live run's owner (the process training it, here or in another terminal)
 * through the run store's control requests, and wait until it has answered
 * and the run's status shows it. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "run_ref.h"
#include "sanitize.h"
#include "store.h"

enum { POLL_MS = 100 };
#define DEFAULT_TIMEOUT_S 30.0

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int is_live(fw_run_status st)
{
    return st == FW_RUN_RUNNING || st == FW_RUN_PAUSED;
}

/* Has the status taken the request's effect? */
static int settled(fw_control_action a, fw_run_status st)
{
    return a == FW_CONTROL_PAUSE ? st != FW_RUN_RUNNING : !is_live(st);
}

/* Why a run that is not live cannot be paused/stopped (exit 1). */
static int refuse(const fw_command *cmd, fw_control_action a, const fw_run_info *r)
{
    const char *verb = fw_control_action_name(a);
    switch (r->status) {
    case FW_RUN_QUEUED:
        fprintf(stderr, "flukewatch %s: run %s is queued: it has not started, so there is "
                        "nothing to %s\n", cmd->name, r->id, verb);
        break;
    case FW_RUN_INTERRUPTED:
        if (a == FW_CONTROL_STOP)
            fprintf(stderr, "flukewatch %s: run %s is already stopped (interrupted); it can be "
                            "resumed with 'flukewatch resume %s'\n", cmd->name, r->id, r->id);
        else
            fprintf(stderr, "flukewatch %s: run %s is interrupted (stopped, or its owner "
                            "died), so there is nothing to %s; it can be resumed with "
                            "'flukewatch resume %s'\n", cmd->name, r->id, verb, r->id);
        break;
    default:
        fprintf(stderr, "flukewatch %s: run %s has already %s; there is nothing to %s\n",
                cmd->name, r->id, fw_run_status_name(r->status), verb);
        break;
    }
    return FW_EXIT_FAIL;
}

static int control(const fw_command *cmd, fw_control_action action, int argc, char **argv)
{
    const char *ref = NULL;
    double timeout = DEFAULT_TIMEOUT_S;
    int wait = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--no-wait")) {
            wait = 0;
        } else if (!strcmp(a, "--timeout") || !strncmp(a, "--timeout=", 10)) {
            const char *v = a[9] == '=' ? a + 10 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v)
                return fw_cli_usage_error(cmd, "--timeout needs a number of seconds");
            if (fw_parse_float(v, 0.1, 86400, &timeout) < 0)
                return fw_cli_usage_error(cmd, "--timeout '%s': expected 0.1..86400 seconds",
                                          v);
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
    int exit_code = FW_EXIT_OK;
    int rc = fw_store_run_get(s, id, &r, &err);
    if (rc < 0) {
        exit_code = fw_cli_report(cmd, &err);
        goto done;
    }
    if (!is_live(r.status)) {
        exit_code = refuse(cmd, action, &r);
        goto done;
    }
    if (action == FW_CONTROL_PAUSE && r.status == FW_RUN_PAUSED) {
        printf("run %s is already paused\n", r.id);
        goto done;
    }
    char host[512];
    fw_sanitize(r.owner_host, host, sizeof host);
    long long owner_pid = (long long)r.owner_pid;
    int64_t req_id = 0;
    if (fw_store_control_post(s, id, action, &req_id, &err) < 0) {
        exit_code = fw_cli_report(cmd, &err);
        goto done;
    }
    if (!wait) {
        printf("asked the owner of run %s (pid %lld on %s) to %s it (request %lld)\n", id,
               owner_pid, host, fw_control_action_name(action), (long long)req_id);
        goto done;
    }

    /* Wait for the owner's answer, then for the status to show it. */
    double deadline = fw_store_now() + timeout;
    fw_control_request req;
    memset(&req, 0, sizeof req);
    int answered = 0;
    for (;;) {
        if ((rc = fw_store_control_get(s, req_id, &req, &err)) < 0)
            break;
        fw_run_info_free(&r);
        if ((rc = fw_store_run_get(s, id, &r, &err)) < 0)
            break;
        answered = req.done_at != 0;
        int ignored = answered && !strncmp(req.result, "ignored", 7);
        if ((answered && (ignored || settled(action, r.status))) || !is_live(r.status))
            break;
        if (fw_store_now() >= deadline)
            break;
        sleep_ms(POLL_MS);
    }
    if (rc < 0) {
        exit_code = fw_cli_report(cmd, &err);
        goto done;
    }
    const char *status = fw_run_status_name(r.status);
    if (!answered && !is_live(r.status)) {
        /* The owner died (or ended the run) before answering. */
        if (action == FW_CONTROL_STOP && r.status == FW_RUN_INTERRUPTED) {
            printf("run %s: the owner (pid %lld on %s) ended before answering; status %s\n", id,
                   owner_pid, host, status);
        } else {
            fprintf(stderr, "flukewatch %s: run %s ended before its owner (pid %lld on %s) "
                            "answered; status %s\n", cmd->name, id, owner_pid, host, status);
            exit_code = FW_EXIT_FAIL;
        }
    } else if (!answered) {
        fprintf(stderr, "flukewatch %s: the owner (pid %lld on %s) did not answer within %g s; "
                        "run %s is still %s (the request stays queued for it)\n",
                cmd->name, owner_pid, host, timeout, id, status);
        exit_code = FW_EXIT_FAIL;
    } else {
        char result[sizeof req.result];
        fw_sanitize(req.result, result, sizeof result);
        printf("run %s: %s %s; status %s\n", id, fw_control_action_name(action), result, status);
        if (!settled(action, r.status) && strncmp(req.result, "ignored", 7))
            printf("(the owner takes it up at its next step; 'flukewatch runs' shows when)\n");
    }
done:
    fw_run_info_free(&r);
    fw_store_close(s);
    return exit_code;
}

static int run_pause(int argc, char **argv)
{
    return control(&fw_cmd_pause, FW_CONTROL_PAUSE, argc, argv);
}

static int run_stop(int argc, char **argv)
{
    return control(&fw_cmd_stop, FW_CONTROL_STOP, argc, argv);
}

#define CONTROL_OPTIONS                                                            \
    "Options:\n"                                                                   \
    "  --timeout SECONDS  wait at most this long for the owner (default 30)\n"      \
    "  --no-wait          post the request and return at once\n"                    \
    "\n"                                                                           \
    "Exit status 1 when the run is not running or paused, or when its owner\n"     \
    "does not answer in time.\n"

const fw_command fw_cmd_pause = {
    "pause",
    "RUN [--timeout SECONDS] [--no-wait]",
    "Pause a running run (its owner keeps it, ready to resume).",
    "RUN is a run id (r0003), its number (3) or a unique run name.\n"
    "Asks the process that trains the run (in this terminal or another) to\n"
    "pause at its next step, waits until it has, and prints its answer and\n"
    "the run's new status. 'flukewatch resume RUN' continues it.\n"
    "\n" CONTROL_OPTIONS,
    run_pause,
};

const fw_command fw_cmd_stop = {
    "stop",
    "RUN [--timeout SECONDS] [--no-wait]",
    "Stop a running or paused run (resumable later).",
    "RUN is a run id (r0003), its number (3) or a unique run name.\n"
    "Asks the process that trains the run to stop: it saves a checkpoint and\n"
    "marks the run interrupted. Waits until it has and prints its answer and\n"
    "the run's new status. 'flukewatch resume RUN' continues the run later.\n"
    "\n" CONTROL_OPTIONS,
    run_stop,
};
