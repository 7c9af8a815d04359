/* test_store_concurrency.c — one writer process and two reader processes on
 * the run store at once.
 *
 * The writer pushes metric rows through the batched writer (K rows per
 * batch, all carrying the batch number as their step) at a target rate
 * (STORE_STRESS_RATE rows/s, default 20000) for STORE_STRESS_SECONDS
 * (default 5; the full check is 30), plus an event every 50 batches. Two
 * readers poll new rows by rowid, events and the run record, as a TUI does.
 * No call may fail (no "database is locked" reaches a caller), every batch a
 * reader sees must be whole (K rows of one step, never split across polls),
 * the readers must end up with every row written, and PRAGMA integrity_check
 * must say ok. The achieved write rate is printed; it is asserted only when
 * STORE_STRESS_MIN_RATE is set (no timing assertions in make check).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "tap.h"

enum { K = 100, N_READERS = 2 };

typedef struct report {
    long long rows, batches, polls, errors, partial, events;
    double seconds;
    char first_error[sizeof ((fw_error *)0)->msg];
} report;

static char workspace[256];
static char run_id[FW_RUN_ID_CAP];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void note_error(report *r, const fw_error *err)
{
    if (r->errors++ == 0)
        snprintf(r->first_error, sizeof r->first_error, "%s", err->msg);
}

static void writer_main(double seconds, double rate, report *r)
{
    fw_store *s = NULL;
    fw_error err = {0};
    fw_metric_writer *w = NULL;
    fw_metric_writer_config cfg = {K, 60000};
    if (fw_store_open(workspace, &s, &err) < 0 ||
        fw_store_run_set_status(s, run_id, FW_RUN_RUNNING, &err) < 0 ||
        fw_metric_writer_open(s, run_id, &cfg, &w, &err) < 0) {
        note_error(r, &err);
        fw_store_close(s);
        return;
    }
    double t0 = now_s();
    for (long long b = 0;; b++) {
        double elapsed = now_s() - t0;
        if (elapsed >= seconds)
            break;
        double ahead = (double)r->rows / rate - elapsed;
        if (ahead > 0.0005)
            usleep((useconds_t)(ahead * 1e6));
        for (int i = 0; i < K; i++)
            if (fw_metric_writer_point(w, b, b * 0.01, "stress", (double)i, &err) < 0)
                note_error(r, &err);
        r->rows += K;
        r->batches++;
        if (b % 50 == 0) {
            if (fw_metric_writer_event(w, b, FW_EVENT_CHECKPOINT, "batch", &err) < 0 ||
                fw_metric_writer_flush(w, &err) < 0)
                note_error(r, &err);
            else
                r->events++;
        }
    }
    if (fw_metric_writer_close(w, &err) < 0)
        note_error(r, &err);
    r->seconds = now_s() - t0;
    if (fw_store_run_set_status(s, run_id, FW_RUN_FINISHED, &err) < 0)
        note_error(r, &err);
    fw_store_close(s);
}

/* One poll: new rows must form whole batches (K consecutive rows of one step). */
static void poll_rows(fw_store *s, int64_t *after, report *r)
{
    fw_error err = {0};
    fw_metric_query q = {run_id, "stress", *after, 0, 0};
    fw_metric_point *p = NULL;
    int n = 0;
    if (fw_store_metrics_read(s, &q, &p, &n, &err) < 0) {
        note_error(r, &err);
        return;
    }
    r->polls++;
    int i = 0;
    while (i < n) {
        int j = i;
        while (j < n && p[j].step == p[i].step)
            j++;
        if (j - i != K)
            r->partial++;
        r->batches++;
        i = j;
    }
    r->rows += n;
    if (n)
        *after = p[n - 1].rowid;
    free(p);
}

static void reader_main(double seconds, report *r)
{
    fw_store *s = NULL;
    fw_error err = {0};
    if (fw_store_open(workspace, &s, &err) < 0) {
        note_error(r, &err);
        return;
    }
    int64_t after = 0, after_event = 0;
    double t0 = now_s();
    while (now_s() - t0 < seconds) {
        poll_rows(s, &after, r);
        fw_event *ev = NULL;
        int n = 0;
        if (fw_store_events_read(s, run_id, after_event, 0, &ev, &n, &err) < 0) {
            note_error(r, &err);
        } else {
            r->events += n;
            if (n)
                after_event = ev[n - 1].id;
            fw_events_free(ev, n);
        }
        if (r->polls % 20 == 0) {
            fw_run_info info;
            if (fw_store_run_get(s, run_id, &info, &err) < 0)
                note_error(r, &err);
            else
                fw_run_info_free(&info);
        }
        usleep(2000);
    }
    poll_rows(s, &after, r); /* the writer has finished: see everything */
    fw_store_close(s);
}

static double env_double(const char *name, double fallback)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return fallback;
    char *end = NULL;
    double x = strtod(v, &end);
    return (end && *end == '\0' && x > 0) ? x : fallback;
}

/* Run fn in a child; its report comes back through a pipe. */
static pid_t spawn(int kind, double seconds, double rate, int *fd_out)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        report r;
        memset(&r, 0, sizeof r);
        if (kind == 0)
            writer_main(seconds, rate, &r);
        else
            reader_main(seconds, &r);
        ssize_t wrote = write(fds[1], &r, sizeof r);
        _exit(wrote == (ssize_t)sizeof r ? 0 : 1);
    }
    close(fds[1]);
    *fd_out = fds[0];
    return pid;
}

static int collect(pid_t pid, int fd, report *r)
{
    memset(r, 0, sizeof *r);
    ssize_t got = 0;
    while (got < (ssize_t)sizeof *r) {
        ssize_t n = read(fd, (char *)r + got, sizeof *r - (size_t)got);
        if (n <= 0)
            break;
        got += n;
    }
    close(fd);
    int status = 0;
    waitpid(pid, &status, 0);
    return got == (ssize_t)sizeof *r && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void test_writer_and_readers(void)
{
    double seconds = env_double("STORE_STRESS_SECONDS", 5);
    double rate = env_double("STORE_STRESS_RATE", 20000);
    double min_rate = env_double("STORE_STRESS_MIN_RATE", 0);
    fw_store *s = NULL;
    fw_error err = {0};
    int rc = fw_store_open(workspace, &s, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc)
        return;
    fw_run_spec spec = {"stress", NULL, NULL, "cpu", NULL};
    CHECK_INT(fw_store_run_create(s, &spec, run_id, &err), 0);
    fw_store_close(s);

    int fds[1 + N_READERS];
    pid_t pids[1 + N_READERS];
    pids[0] = spawn(0, seconds, rate, &fds[0]);
    for (int i = 1; i <= N_READERS; i++)
        pids[i] = spawn(1, seconds + 1.0, rate, &fds[i]);
    report reps[1 + N_READERS];
    for (int i = 0; i <= N_READERS; i++) {
        CHECK(pids[i] > 0);
        if (pids[i] > 0)
            CHECK_MSG(collect(pids[i], fds[i], &reps[i]), "process %d did not report", i);
    }
    const report *w = &reps[0];
    printf("# writer: %lld rows in %lld batches of %d, %lld events, %.2f s: %.0f rows/s "
           "(target %.0f)\n",
           w->rows, w->batches, K, w->events, w->seconds,
           w->seconds > 0 ? (double)w->rows / w->seconds : 0.0, rate);
    CHECK_MSG(w->errors == 0, "writer: %lld errors, first: %s", w->errors, w->first_error);
    CHECK(w->rows > 0);
    for (int i = 1; i <= N_READERS; i++) {
        const report *r = &reps[i];
        printf("# reader %d: %lld polls, %lld rows, %lld batches, %lld partial, %lld events\n",
               i, r->polls, r->rows, r->batches, r->partial, r->events);
        CHECK_MSG(r->errors == 0, "reader %d: %lld errors, first: %s", i, r->errors,
                  r->first_error);
        CHECK_INT(r->partial, 0);
        CHECK_INT(r->rows, w->rows);
        CHECK_INT(r->events, w->events);
        CHECK(r->polls > 10);
    }
    if (min_rate > 0 && w->seconds > 0)
        CHECK_MSG((double)w->rows / w->seconds >= min_rate, "rate below %.0f rows/s", min_rate);
    rc = fw_store_open(workspace, &s, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc)
        return;
    int ok = 0;
    CHECK_INT(fw_store_integrity_check(s, &ok, &err), 0);
    CHECK(ok);
    fw_run_info info;
    CHECK_INT(fw_store_run_get(s, run_id, &info, &err), 0);
    if (info.name) {
        CHECK_INT(info.status, FW_RUN_FINISHED);
        fw_run_info_free(&info);
    }
    fw_store_close(s);
}

int main(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(workspace, sizeof workspace, "%s/fw-store-stress-XXXXXX",
             base && *base ? base : "/tmp");
    if (!mkdtemp(workspace)) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    RUN(test_writer_and_readers);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", workspace);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", workspace);
    return tap_done();
}
