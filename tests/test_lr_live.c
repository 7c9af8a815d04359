/* test_lr_live.c — the LR finder's curve as it grows: the finder's observer
 * sees exactly the result's points, in order (on a quadratic with SGD that
 * diverges, with a failing step, and with the stop rule off), and a
 * trainer lr-find-only run on a tiny synthetic dataset leaves metric points
 * lr_find.lr / lr_find.loss / lr_find.smoothed (step = i) equal to the
 * stored curve, which is what the workbench's LR finder screen draws while
 * the test runs. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lr_finder.h"
#include "optim.h"
#include "param_list.h"
#include "rng.h"
#include "run_config.h"
#include "store.h"
#include "synth_dataset.h"
#include "tap.h"
#include "trainer.h"

static char tmp_root[256];

/* ---- what the observer saw ---- */
#define MAX_SEEN 256
typedef struct seen {
    int n;
    int i[MAX_SEEN];
    double lr[MAX_SEEN], loss[MAX_SEEN], smoothed[MAX_SEEN];
} seen;

static void observe(void *ctx, int i, double lr, double loss, double smoothed)
{
    seen *s = ctx;
    if (s->n < MAX_SEEN) {
        s->i[s->n] = i;
        s->lr[s->n] = lr;
        s->loss[s->n] = loss;
        s->smoothed[s->n] = smoothed;
    }
    s->n++;
}

/* ---- L(w) = 0.5 * sum_k a_k (w_k - c_k)^2 with SGD (as test_lr_finder) ---- */
#define QDIM 8
typedef struct quad {
    fw_param_list params;
    fw_param *w;
    fw_optim *opt;
    double a[QDIM], c[QDIM];
    int calls, fail_at;
    fw_rng noise;
} quad;

static int quad_step(void *ctx, double lr, double *loss, fw_error *err)
{
    quad *q = ctx;
    if (q->calls++ == q->fail_at)
        return fw_fail(err, FW_EIO, "quad: scripted failure");
    double l = 0;
    for (int k = 0; k < QDIM; k++) {
        double d = q->w->data[k] - q->c[k];
        l += 0.5 * q->a[k] * d * d;
        q->w->grad[k] = (float)(q->a[k] * d);
    }
    *loss = l * (1.0 + 0.03 * (2.0 * fw_rng_uniform(&q->noise) - 1.0));
    fw_optim_set_hyper(q->opt, lr, 0.0);
    return fw_optim_step(q->opt, err);
}

static void quad_init(quad *q)
{
    fw_error err;
    int64_t n = QDIM;
    memset(q, 0, sizeof *q);
    q->fail_at = -1;
    fw_rng_init(&q->noise, 5, 0);
    fw_param_list_init(&q->params);
    CHECK(fw_param_list_add_owned(&q->params, "w", 1, &n, 0, 1, &q->w, &(fw_error){0}) == 0);
    for (int k = 0; k < QDIM; k++) {
        q->a[k] = 1.0 + 9.0 * k / (QDIM - 1);
        q->c[k] = cos(0.5 + k);
        q->w->data[k] = (float)(1.5 * sin(1.0 + 2.0 * k));
    }
    fw_optim_config cfg;
    fw_optim_config_default(&cfg, FW_OPTIM_SGD);
    cfg.momentum = 0;
    cfg.weight_decay = 0;
    CHECK(fw_optim_create(&q->opt, &cfg, &q->params, &err) == 0);
}

static void quad_free(quad *q)
{
    fw_optim_destroy(q->opt);
    fw_param_list_free_owned(&q->params);
}

/* The observer saw points 0..res->n-1 once each, in order, bit-equal. */
static void check_seen_equals(const seen *s, const fw_lr_finder_result *r)
{
    CHECK_INT(s->n, r->n);
    int same = 1;
    for (int k = 0; k < s->n && k < r->n && k < MAX_SEEN; k++)
        same &= s->i[k] == k && s->lr[k] == r->lrs[k] && s->smoothed[k] == r->smoothed[k] &&
                (s->loss[k] == r->losses[k] || (isnan(s->loss[k]) && isnan(r->losses[k])));
    CHECK_MSG(same, "observer's points differ from the result's");
}

static void test_observer_sees_every_point(void)
{
    fw_lr_finder_config cfg;
    fw_lr_finder_config_default(&cfg);
    CHECK(cfg.observe == NULL && cfg.observe_ctx == NULL);
    quad q;
    quad_init(&q);
    fw_param_list *lists[2] = {&q.params, fw_optim_state(q.opt)};
    seen s = {0};
    cfg.observe = observe;
    cfg.observe_ctx = &s;
    fw_lr_finder_result r;
    fw_error err;
    CHECK(fw_lr_find(&cfg, lists, 2, quad_step, &q, &r, &err) == 0);
    CHECK(r.diverged && r.n < cfg.num_it); /* lr reaches 10 >> 2/a_max */
    CHECK(r.n > 20);
    CHECK_INT(q.calls, r.n);
    check_seen_equals(&s, &r);
    printf("#   quadratic: %d points observed, stopped at lr %.3g\n", s.n, r.lrs[r.n - 1]);
    fw_lr_finder_result_free(&r);

    /* the stop rule off: it still stops at the first non-finite loss */
    memset(&s, 0, sizeof s);
    q.calls = 0;
    cfg.stop_factor = 0;
    cfg.num_it = 200;
    CHECK(fw_lr_find(&cfg, lists, 2, quad_step, &q, &r, &err) == 0);
    check_seen_equals(&s, &r);
    CHECK(r.n == 200 || !isfinite(r.smoothed[r.n - 1]));
    fw_lr_finder_result_free(&r);

    /* a failing step: the points before it were observed, none after */
    memset(&s, 0, sizeof s);
    q.calls = 0;
    q.fail_at = 17;
    fw_lr_finder_config_default(&cfg);
    cfg.observe = observe;
    cfg.observe_ctx = &s;
    CHECK_INT(fw_lr_find(&cfg, lists, 2, quad_step, &q, &r, &err), FW_EIO);
    CHECK_INT(s.n, 17);
    for (int k = 0; k < s.n; k++)
        CHECK(s.i[k] == k && s.lr[k] == fw_lr_finder_lr_at(&cfg, k));
    quad_free(&q);
}

/* ---- the trainer: lr-find-only on a tiny synthetic dataset ---- */

static int make_dataset(const char *dir, fw_error *err)
{
    fw_synth_opts so = {.seed = 7, .n_whales = 24, .width = 128, .height = 64, .threads = 2};
    fw_synth_plan plan;
    FW_TRY(fw_synth_plan_make(&so, &plan, err));
    int rc = fw_synth_write(dir, &so, &plan, err);
    fw_synth_plan_free(&plan);
    return rc;
}

static int read_metric(fw_store *s, const char *run, const char *name, fw_metric_point **p,
                       int *n, fw_error *err)
{
    fw_metric_query q = {.run_id = run, .name = name};
    return fw_store_metrics_read(s, &q, p, n, err);
}

static void test_trainer_publishes_curve(void)
{
    char data[512], ws[512];
    snprintf(data, sizeof data, "%s/data", tmp_root);
    snprintf(ws, sizeof ws, "%s/ws", tmp_root);
    fw_error err;
    if (make_dataset(data, &err) != 0) {
        CHECK_MSG(0, "synth: %s", err.msg);
        return;
    }
    fw_run_config cfg;
    fw_run_config_default(&cfg);
    const char *args[] = {"input=32x16", "width=0.125", "embedding=16", "sampler.p=4",
                          "sampler.k=2", "threads=1", "loader_threads=1"};
    for (size_t i = 0; i < sizeof args / sizeof *args; i++)
        CHECK(fw_run_config_set_arg(&cfg, args[i], &err) == 0);
    snprintf(cfg.dataset, sizeof cfg.dataset, "%s", data);
    CHECK(fw_run_config_validate(&cfg, &err) == 0);

    fw_store *s = NULL;
    if (fw_store_open(ws, &s, &err) != 0) {
        CHECK_MSG(0, "store: %s", err.msg);
        return;
    }
    char *text = NULL;
    CHECK(fw_run_config_format(&cfg, &text, &err) == 0);
    char run[FW_RUN_ID_CAP];
    fw_run_spec spec = {.name = "lr-find", .config = text, .backend = "cpu"};
    CHECK(fw_store_run_create(s, &spec, run, &err) == 0);
    free(text);

    fw_trainer_opts o = {.workspace = ws, .run_id = run, .cfg = &cfg, .lr_find_only = 1};
    fw_trainer *t = NULL;
    if (fw_trainer_start(&o, &t, &err) != 0) {
        CHECK_MSG(0, "trainer: %s", err.msg);
        fw_store_close(s);
        return;
    }
    /* Watch from this connection as the workbench does: count the polls
     * that saw part of the curve before it was stored (a diagnostic only:
     * how many depends on timing). */
    int partial_polls = 0, phase_seen = 0;
    for (;;) {
        fw_trainer_state st;
        fw_trainer_get_state(t, &st);
        if (st.phase == FW_PHASE_LR_FIND && st.done > 0)
            phase_seen = 1;
        if (st.phase == FW_PHASE_DONE)
            break;
        fw_metric_point *p = NULL;
        int n = 0;
        fw_lr_curve c;
        int stored = fw_store_lr_curve_latest(s, run, &c, &err) == 0;
        if (stored)
            fw_lr_curve_free(&c);
        if (read_metric(s, run, "lr_find.loss", &p, &n, &err) == 0 && n > 0 && !stored)
            partial_polls++;
        free(p);
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    int stopped = 0;
    CHECK(fw_trainer_join(t, &stopped, &err) == 0);
    CHECK(!stopped);
    printf("#   %d polls saw a partial curve before it was stored; progress seen: %d\n",
           partial_polls, phase_seen);

    fw_lr_curve c;
    CHECK(fw_store_lr_curve_latest(s, run, &c, &err) == 0);
    CHECK(c.n >= 6);
    const char *names[3] = {"lr_find.lr", "lr_find.loss", "lr_find.smoothed"};
    const double *want[3] = {c.lrs, c.losses, c.smoothed};
    for (int m = 0; m < 3; m++) {
        fw_metric_point *p = NULL;
        int n = 0;
        CHECK(read_metric(s, run, names[m], &p, &n, &err) == 0);
        CHECK_MSG(n == c.n, "%s: %d points, the curve has %d", names[m], n, c.n);
        int same = 1;
        for (int i = 0; i < n && i < c.n; i++)
            same &= p[i].step == i && (p[i].value == want[m][i] ||
                                       (isnan(p[i].value) && isnan(want[m][i])));
        CHECK_MSG(same, "%s differs from the stored curve", names[m]);
        free(p);
    }
    fw_run_info info;
    CHECK(fw_store_run_get(s, run, &info, &err) == 0);
    CHECK_INT(info.status, FW_RUN_FINISHED);
    fw_run_info_free(&info);
    fw_lr_curve_free(&c);
    fw_store_close(s);
}

int main(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmp_root, sizeof tmp_root, "%s/fw-lrlive-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmp_root)) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    setenv("XDG_CACHE_HOME", tmp_root, 1);
    RUN(test_observer_sees_every_point);
    RUN(test_trainer_publishes_curve);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", tmp_root);
    return tap_done();
}
