/* test_run_progress.c — the Runs screen's progress figures: a summary folded
 * from new rows read page by page equals fw_run_summary_read's; the pace
 * and ETA of known constant-speed series (with gaps, step backs and a change
 * of speed); the epoch reached, status words and roles from the store and a
 * live trainer state; who trains a run; progress bars cell by cell. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rng.h"
#include "run_progress.h"
#include "run_summary.h"
#include "store.h"
#include "tap.h"

static char tmp_root[160];

/* Random points of several metrics (NaN map5 values, ties, other names),
 * folded from pages of `page` rows read after the last rowid seen — as the
 * screen reads them tick by tick — against fw_run_summary_read. */
static void test_fold_matches_summary(void)
{
    char ws[256];
    snprintf(ws, sizeof ws, "%s/ws-fold", tmp_root);
    fw_store *s = NULL;
    fw_error err = {0};
    CHECK_INT(fw_store_open(ws, &s, &err), 0);
    if (!s)
        return;
    char id[FW_RUN_ID_CAP];
    fw_run_spec spec = {.name = "fold"};
    CHECK_INT(fw_store_run_create(s, &spec, id, &err), 0);
    fw_metric_writer *w = NULL;
    CHECK_INT(fw_metric_writer_open(s, id, NULL, &w, &err), 0);
    fw_rng rng;
    fw_rng_init(&rng, 7, 0);
    const char *names[] = {"train.loss", "train.lr", "val.map5", "val.top1"};
    for (int i = 0; w && i < 3000; i++) {
        const char *name = names[fw_rng_u32(&rng) % 4];
        double v = fw_rng_uniform(&rng);
        if (strcmp(name, "val.map5") == 0) {
            uint32_t kind = fw_rng_u32(&rng) % 10;
            if (kind == 0)
                v = NAN;
            else if (kind == 1)
                v = 1.0; /* ties at the best: the earliest one wins */
        }
        CHECK_INT(fw_metric_writer_point(w, i, i / 700.0, name, v, &err), 0);
    }
    CHECK_INT(fw_metric_writer_close(w, &err), 0);

    fw_run_summary want;
    CHECK_INT(fw_run_summary_read(s, id, &want, &err), 0);
    static const int pages[] = {1, 37, 1000, 0};
    for (size_t k = 0; k < sizeof pages / sizeof pages[0]; k++) {
        fw_run_summary got;
        memset(&got, 0, sizeof got);
        int64_t after = 0;
        int reads = 0;
        for (;;) {
            fw_metric_query q = {.run_id = id, .after_rowid = after, .min_step = INT64_MIN,
                                 .limit = pages[k]};
            fw_metric_point *pts = NULL;
            int n = 0;
            CHECK_INT(fw_store_metrics_read(s, &q, &pts, &n, &err), 0);
            for (int i = 0; i < n; i++)
                fw_progress_fold_point(&got, &pts[i]);
            if (n > 0)
                after = pts[n - 1].rowid;
            free(pts);
            reads++;
            if (n == 0 || pages[k] == 0 || reads > 5000)
                break;
        }
        CHECK_INT(got.has_best, want.has_best);
        CHECK(got.best_map5 == want.best_map5);
        CHECK(got.best_epoch == want.best_epoch);
        CHECK_INT(got.best_step, want.best_step);
        CHECK_INT(got.n_evals, want.n_evals);
        CHECK_INT(got.has_loss, want.has_loss);
        CHECK(got.last_loss == want.last_loss);
        CHECK_INT(got.last_step, want.last_step);
        CHECK_INT(got.n_loss_points, want.n_loss_points);
        CHECK_INT(got.has_epoch, want.has_epoch);
        CHECK(got.last_epoch == want.last_epoch);
    }
    CHECK(want.has_best && want.n_evals > 100 && want.n_loss_points > 100);
    fw_store_close(s);
}

static void test_rate_constant_pace(void)
{
    fw_rate_tracker r;
    fw_rate_reset(&r);
    CHECK(fw_rate_per_s(&r) == 0);
    fw_rate_add(&r, 1000.0, 0.0);
    fw_rate_add(&r, 1001.0, 0.001);
    CHECK(fw_rate_per_s(&r) == 0); /* under FW_RATE_MIN_SPAN_S */
    for (int i = 2; i <= 600; i++) /* a point every 0.5 s, 0.002 per second */
        fw_rate_add(&r, 1000.0 + 0.5 * i, 0.001 * i);
    CHECK_NEAR(fw_rate_per_s(&r), 0.002, 1e-12);
    CHECK(r.n == FW_RATE_SAMPLES); /* the ring is full and wraps */

    /* A change of pace: once the old samples left the window, only the new
     * pace counts. */
    double t = 1300.0, x = 0.6;
    for (int i = 0; i < 400; i++) {
        t += 1.0;
        x += 0.0005;
        fw_rate_add(&r, t, x);
    }
    CHECK_NEAR(fw_rate_per_s(&r), 0.0005, 1e-12);

    /* A long gap (paused, restarted) starts over: the pace is that of the
     * new stretch, not the average over the gap. */
    t += FW_RATE_GAP_S + 1000;
    for (int i = 0; i < 20; i++) {
        fw_rate_add(&r, t, x);
        t += 1.0;
        x += 0.004;
    }
    CHECK_NEAR(fw_rate_per_s(&r), 0.004, 1e-12);

    /* A step back (resumed from an earlier checkpoint) starts over too. */
    x -= 0.1;
    fw_rate_add(&r, t, x);
    CHECK(fw_rate_per_s(&r) == 0);
    CHECK_INT(r.n, 1);
    /* No progress: unknown, not zero seconds left. */
    fw_rate_reset(&r);
    for (int i = 0; i < 20; i++)
        fw_rate_add(&r, i, 0.3);
    CHECK(fw_rate_per_s(&r) == 0);
}

static fw_run_info run_with(fw_run_status st)
{
    fw_run_info r;
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "r0001");
    r.status = st;
    r.owner_host = "thishost";
    r.owner_pid = 4242;
    return r;
}

static void test_progress_from_store(void)
{
    fw_run_summary sum;
    memset(&sum, 0, sizeof sum);
    fw_run_progress p;

    /* Nothing trained yet. */
    fw_run_info q = run_with(FW_RUN_QUEUED);
    fw_run_progress_compute(&q, &sum, 3, NULL, NULL, &p);
    CHECK(p.fraction == 0);
    CHECK_INT(p.epoch, 0);
    CHECK_INT(p.epochs, 3);
    CHECK_STR(p.status, "queued");
    CHECK_INT(p.role, FW_ROLE_STATUS_QUEUED);
    CHECK(!p.live);
    CHECK(p.eta_s == -1);
    /* Unknown plan: unknown share. */
    fw_run_progress_compute(&q, &sum, 0, NULL, NULL, &p);
    CHECK(p.fraction == -1);
    CHECK_INT(p.epoch, 0);

    /* Running in another process, a quarter into its second epoch of 3,
     * at 0.001 of the run per second. */
    fw_run_info r = run_with(FW_RUN_RUNNING);
    sum.has_epoch = 1;
    sum.last_epoch = 1.25;
    fw_rate_tracker rate;
    fw_rate_reset(&rate);
    for (int i = 0; i <= 100; i++)
        fw_rate_add(&rate, 500.0 + i, 0.001 * i);
    fw_run_progress_compute(&r, &sum, 3, NULL, &rate, &p);
    CHECK_NEAR(p.fraction, 1.25 / 3, 1e-12);
    CHECK_INT(p.epoch, 2);
    CHECK_STR(p.status, "running");
    CHECK_INT(p.role, FW_ROLE_STATUS_RUNNING);
    CHECK(p.live);
    CHECK_NEAR(p.eta_s, (1 - 1.25 / 3) / 0.001, 1e-6);
    /* Exactly at the end of epoch 1: epoch 1 reached, not 2. */
    sum.last_epoch = 1.0;
    fw_run_progress_compute(&r, &sum, 3, NULL, NULL, &p);
    CHECK_INT(p.epoch, 1);
    CHECK(p.eta_s == -1); /* no pace known */

    /* Paused: no ETA. */
    fw_run_info pa = run_with(FW_RUN_PAUSED);
    fw_run_progress_compute(&pa, &sum, 3, NULL, &rate, &p);
    CHECK(p.eta_s == -1);
    CHECK_STR(p.status, "paused");
    CHECK_INT(p.role, FW_ROLE_STATUS_PAUSED);
    CHECK(p.live);

    /* Finished: all of it, whatever the last point said. */
    fw_run_info f = run_with(FW_RUN_FINISHED);
    sum.last_epoch = 2.97;
    fw_run_progress_compute(&f, &sum, 3, NULL, &rate, &p);
    CHECK(p.fraction == 1);
    CHECK_INT(p.epoch, 3);
    CHECK(p.eta_s == -1);
    CHECK(!p.live);
    CHECK_INT(p.role, FW_ROLE_STATUS_FINISHED);

    /* Interrupted / failed keep their share. */
    fw_run_info in = run_with(FW_RUN_INTERRUPTED);
    fw_run_progress_compute(&in, &sum, 3, NULL, &rate, &p);
    CHECK_NEAR(p.fraction, 2.97 / 3, 1e-12);
    CHECK_INT(p.epoch, 3);
    CHECK_STR(p.status, "interrupted");
    CHECK_INT(p.role, FW_ROLE_STATUS_INTERRUPTED);
    CHECK(p.eta_s == -1);
    fw_run_info fa = run_with(FW_RUN_FAILED);
    fw_run_progress_compute(&fa, &sum, 3, NULL, &rate, &p);
    CHECK_INT(p.role, FW_ROLE_STATUS_FAILED);
}

static void test_progress_from_trainer_state(void)
{
    fw_run_summary sum;
    memset(&sum, 0, sizeof sum);
    fw_run_progress p;
    fw_run_info r = run_with(FW_RUN_RUNNING);
    fw_trainer_state ts;
    memset(&ts, 0, sizeof ts);
    ts.epochs = 4;
    ts.phase = FW_PHASE_LOADING;
    ts.done = 45;
    ts.total = 100;
    fw_run_progress_compute(&r, &sum, 9, &ts, NULL, &p);
    CHECK_STR(p.status, "loading 45%");
    CHECK_INT(p.epochs, 4); /* the trainer's plan wins */
    CHECK(p.fraction == 0);

    ts.phase = FW_PHASE_TRAINING;
    ts.step = 30;
    ts.total_steps = 120;
    fw_rate_tracker rate;
    fw_rate_reset(&rate);
    for (int i = 0; i <= 10; i++)
        fw_rate_add(&rate, i, 0.01 * i);
    fw_run_progress_compute(&r, &sum, 9, &ts, &rate, &p);
    CHECK_STR(p.status, "running");
    CHECK(p.fraction == 0.25);
    CHECK_INT(p.epoch, 1);
    CHECK_NEAR(p.eta_s, 75.0, 1e-9);

    ts.phase = FW_PHASE_PAUSED; /* the store may still say running */
    fw_run_progress_compute(&r, &sum, 9, &ts, &rate, &p);
    CHECK_STR(p.status, "paused");
    CHECK_INT(p.role, FW_ROLE_STATUS_PAUSED);
    CHECK(p.eta_s == -1);

    ts.phase = FW_PHASE_EVALUATING;
    ts.done = 3;
    ts.total = 4;
    fw_run_progress_compute(&r, &sum, 9, &ts, &rate, &p);
    CHECK_STR(p.status, "eval 75%");
    ts.phase = FW_PHASE_LR_FIND;
    ts.done = 0;
    fw_run_progress_compute(&r, &sum, 9, &ts, &rate, &p);
    CHECK_STR(p.status, "lr-find 0%");
    /* A queued run this process is starting counts as live. */
    fw_run_info q = run_with(FW_RUN_QUEUED);
    ts.phase = FW_PHASE_STARTING;
    fw_run_progress_compute(&q, &sum, 9, &ts, &rate, &p);
    CHECK_STR(p.status, "starting");
    CHECK(p.live);
    /* Done: the store's word. */
    fw_run_info f = run_with(FW_RUN_FINISHED);
    ts.phase = FW_PHASE_DONE;
    fw_run_progress_compute(&f, &sum, 9, &ts, &rate, &p);
    CHECK_STR(p.status, "finished");
    CHECK(p.fraction == 1);
}

static void test_owner_text(void)
{
    char buf[64];
    fw_run_info r = run_with(FW_RUN_RUNNING);
    fw_run_owner_text(&r, 1, "thishost", buf, sizeof buf);
    CHECK_STR(buf, "here");
    fw_run_owner_text(&r, 0, "thishost", buf, sizeof buf);
    CHECK_STR(buf, "pid 4242");
    fw_run_owner_text(&r, 0, "elsewhere", buf, sizeof buf);
    CHECK_STR(buf, "pid 4242@thishost");
    fw_run_info f = run_with(FW_RUN_FINISHED); /* its old owner trains nothing */
    fw_run_owner_text(&f, 0, "thishost", buf, sizeof buf);
    CHECK_STR(buf, "-");
    fw_run_info q = run_with(FW_RUN_PAUSED);
    q.owner_pid = 0;
    fw_run_owner_text(&q, 0, "thishost", buf, sizeof buf);
    CHECK_STR(buf, "-");
}

/* Code points of UTF-8 text (each bar cell is one). */
static int cells(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static void test_bar(void)
{
    char buf[128];
    fw_progress_bar_text(0.5, 10, 0, buf, sizeof buf);
    CHECK_STR(buf, "#####.....");
    fw_progress_bar_text(-1, 4, 0, buf, sizeof buf);
    CHECK_STR(buf, "....");
    fw_progress_bar_text(7, 4, 0, buf, sizeof buf);
    CHECK_STR(buf, "####");
    fw_progress_bar_text(NAN, 3, 0, buf, sizeof buf);
    CHECK_STR(buf, "...");
    /* 9/16 of two cells: one full cell and one eighth. */
    fw_progress_bar_text(9.0 / 16, 2, 1, buf, sizeof buf);
    CHECK_STR(buf, "\xe2\x96\x88\xe2\x96\x8f");
    /* Every width and share: exactly `width` cells, filled units right. */
    for (int width = 1; width <= 20; width++)
        for (int k = 0; k <= 8 * width; k++) {
            fw_progress_bar_text((double)k / (8 * width), width, 1, buf, sizeof buf);
            CHECK_INT(cells(buf), width);
            int units = 0;
            for (const char *p = buf; *p;) {
                if (!strncmp(p, "\xe2\x96\x88", 3)) {
                    units += 8;
                    p += 3;
                } else if ((unsigned char)p[0] == 0xe2 && (unsigned char)p[1] == 0x96 &&
                           (unsigned char)p[2] >= 0x89 && (unsigned char)p[2] <= 0x8f) {
                    units += 0x90 - (unsigned char)p[2]; /* ▉ = 7 ... ▏ = 1 */
                    p += 3;
                } else {
                    p += ((unsigned char)*p == 0xc2) ? 2 : 1;
                }
            }
            CHECK_INT(units, k);
        }
    /* A short buffer: cut on a cell boundary, never overrun. */
    char small[8];
    memset(small, 'Z', sizeof small);
    fw_progress_bar_text(1, 10, 1, small, 7);
    CHECK_STR(small, "\xe2\x96\x88\xe2\x96\x88");
    CHECK(small[7] == 'Z');
    fw_progress_bar_text(1, 0, 1, buf, sizeof buf);
    CHECK_STR(buf, "");
}

int main(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmp_root, sizeof tmp_root, "%s/fw-progress-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmp_root)) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    RUN(test_fold_matches_summary);
    RUN(test_rate_constant_pace);
    RUN(test_progress_from_store);
    RUN(test_progress_from_trainer_state);
    RUN(test_owner_text);
    RUN(test_bar);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", tmp_root);
    return tap_done();
}
