/* runs_fixture.c — a workspace for the run-command tests (tests/runs_cli.sh),
 * made through the store API with no trainer:
 *
 *   runs_fixture populate WORKSPACE EXPECT.json
 *       creates finished, failed, queued and interrupted runs, with configs
 *       written by fw_run_config_format after changing a few keys, metric
 *       series, events, evaluations and an LR-finder curve, and writes what
 *       it made (ids, names, statuses, best mAP@5, point counts, changed
 *       keys) to EXPECT.json for the test to compare the commands against.
 *       One more run has a config text that does not parse (an unknown
 *       key, as a newer flukewatch could write).
 *
 *   runs_fixture many WORKSPACE N
 *       adds N finished runs named bulk-1 ... bulk-N (no metrics).
 *
 *   runs_fixture owner WORKSPACE RUN [SECONDS [silent]]
 *       acts as a run's owner: marks RUN running, prints "ready PID", then
 *       every 50 ms answers its control requests (pause: running -> paused,
 *       resume: paused -> running, stop: -> interrupted and exit 0), like
 *       the trainer does. After SECONDS (default 120) it gives up (exit 3).
 *       "silent": an owner that never answers (a hung trainer).
 */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "run_config.h"
#include "sanitize.h"
#include "store.h"

#define DIE_IF(cond, ...)                                 \
    do {                                                  \
        if (cond) {                                       \
            fprintf(stderr, "runs_fixture: " __VA_ARGS__); \
            fputc('\n', stderr);                          \
            exit(1);                                      \
        }                                                 \
    } while (0)

/* One run to make. */
typedef struct run_plan {
    const char *name;
    const char *parent;        /* index into made ids as "#N", or NULL */
    const char *keys[4][2];    /* config changes, {key, value} */
    fw_run_status status;      /* final status */
    int epochs_done;           /* epochs of metrics written */
    int steps_per_epoch;
    double quality;            /* scales the mAP@5 curve */
    int lr_curve;              /* store an LR-finder curve */
} run_plan;

static const run_plan plans[] = {
    {"baseline", NULL, {{"epochs", "6"}, {"seed", "7"}}, FW_RUN_FINISHED, 6, 5, 1.0, 1},
    {"wide-lr", "#0", {{"epochs", "6"}, {"seed", "7"}, {"lr", "0.003"}, {"embedding", "128"}},
     FW_RUN_FINISHED, 6, 5, 1.1, 0},
    {"crashy", NULL, {{"epochs", "4"}, {"dropout", "0.3"}}, FW_RUN_FAILED, 1, 4, 0.7, 0},
    {"waiting", NULL, {{"epochs", "3"}}, FW_RUN_QUEUED, 0, 0, 0, 0},
    {"cut-short", NULL, {{"epochs", "8"}, {"optimizer", "sgd"}}, FW_RUN_INTERRUPTED, 3, 3, 0.9,
     0},
    {"evil\033[2J\033]0;pwned\007\xc2\x9b" "31mname", NULL, {{"epochs", "2"}}, FW_RUN_FINISHED, 2,
     3, 0.8, 0},
    {"twin", NULL, {{"epochs", "2"}}, FW_RUN_FINISHED, 1, 2, 0.5, 0},
    {"twin", NULL, {{"epochs", "2"}}, FW_RUN_FINISHED, 1, 2, 0.6, 0},
    {"live-a", NULL, {{"epochs", "5"}}, FW_RUN_QUEUED, 0, 0, 0, 0},
    {"live-b", NULL, {{"epochs", "5"}}, FW_RUN_QUEUED, 0, 0, 0, 0},
    {"live-c", NULL, {{"epochs", "5"}}, FW_RUN_QUEUED, 0, 0, 0, 0},
    {"a-rather-long-run-name-that-cannot-fit-into-a-narrow-terminal-window", "#1",
     {{"epochs", "3"}, {"lr", "0.0005"}}, FW_RUN_FINISHED, 3, 2, 0.95, 0},
};
#define N_PLANS (int)(sizeof plans / sizeof plans[0])

/* The validation curve: rises, then falls a little (so the best is inside). */
static double map5_at(const run_plan *p, int epoch)
{
    double e = epoch;
    return p->quality * (0.15 + 0.12 * e - 0.011 * e * e);
}

static void must(int rc, const fw_error *err, const char *what)
{
    DIE_IF(rc < 0, "%s: %s", what, err->msg);
}

static void set_status_path(fw_store *s, const char *id, fw_run_status to, fw_error *err)
{
    if (to == FW_RUN_QUEUED)
        return;
    must(fw_store_run_set_status(s, id, FW_RUN_RUNNING, err), err, "running");
    if (to != FW_RUN_RUNNING)
        must(fw_store_run_set_status(s, id, to, err), err, "final status");
}

static void put_evaluation(fw_store *s, const char *id, int epoch, int64_t step, double map5,
                           double top1, double threshold, fw_error *err)
{
    char ckpt[64];
    snprintf(ckpt, sizeof ckpt, "ckpt-%06lld.fwc", (long long)step);
    enum { NQ = 3 };
    fw_eval_query q[NQ];
    char images[NQ][32], truth[NQ][32], match[NQ][FW_EVAL_TOPK][32];
    for (int i = 0; i < NQ; i++) {
        snprintf(images[i], sizeof images[i], "q%d_%d.jpg", epoch, i);
        snprintf(truth[i], sizeof truth[i], i == 2 ? "new_whale" : "w_%04d", i);
        q[i].image = images[i];
        q[i].true_id = truth[i];
        for (int k = 0; k < FW_EVAL_TOPK; k++) {
            snprintf(match[i][k], sizeof match[i][k], "w_%04d", (i + k) % 7);
            q[i].match_id[k] = match[i][k];
            q[i].similarity[k] = 0.9 - 0.1 * k;
        }
    }
    fw_evaluation e;
    memset(&e, 0, sizeof e);
    snprintf(e.run_id, sizeof e.run_id, "%.*s", FW_RUN_ID_CAP - 1, id);
    e.checkpoint = ckpt;
    e.step = step;
    e.epoch = epoch;
    e.map5 = map5;
    e.top1 = top1;
    e.threshold = threshold;
    e.n_queries = NQ;
    e.queries = q;
    must(fw_store_eval_put(s, &e, NULL, err), err, "eval_put");
}

static void put_lr_curve(fw_store *s, const char *id, fw_error *err)
{
    enum { N = 40 };
    double lrs[N], losses[N], smoothed[N];
    for (int i = 0; i < N; i++) {
        lrs[i] = 1e-6 * pow(10.0, 6.0 * i / (N - 1));
        double x = log10(lrs[i]) + 3.0;
        losses[i] = 3.0 - 0.8 * tanh(x) + (x > 1.5 ? 2.0 * (x - 1.5) * (x - 1.5) : 0.0);
        smoothed[i] = losses[i];
    }
    fw_lr_curve c;
    memset(&c, 0, sizeof c);
    c.n = N;
    c.lrs = lrs;
    c.losses = losses;
    c.smoothed = smoothed;
    c.valid = 1;
    c.valley_idx = 20, c.steep_idx = 16, c.minimum_idx = 28;
    c.valley = lrs[20], c.steep = lrs[16], c.minimum = lrs[28];
    must(fw_store_lr_curve_put(s, id, &c, NULL, err), err, "lr_curve_put");
}

/* Make one run; returns its description for EXPECT.json. */
static cJSON *make_run(fw_store *s, const run_plan *p, char ids[][FW_RUN_ID_CAP], int index)
{
    fw_error err;
    fw_error_clear(&err);
    fw_run_config cfg, defaults;
    fw_run_config_default(&cfg);
    fw_run_config_default(&defaults);
    cJSON *changed = cJSON_CreateObject();
    for (int k = 0; k < 4 && p->keys[k][0]; k++) {
        must(fw_run_config_set(&cfg, p->keys[k][0], p->keys[k][1], "fixture", &err), &err,
             "config set");
    }
    /* Changed = keys whose formatted value differs from the default's. */
    int n_keys = 0;
    const fw_config_key *keys = fw_run_config_keys(&n_keys);
    for (int k = 0; k < n_keys; k++) {
        char a[1100], b[1100];
        must(fw_run_config_get(&cfg, keys[k].name, a, sizeof a, &err), &err, "config get");
        must(fw_run_config_get(&defaults, keys[k].name, b, sizeof b, &err), &err, "config get");
        if (strcmp(a, b))
            cJSON_AddStringToObject(changed, keys[k].name, a);
    }
    char *text = NULL;
    must(fw_run_config_format(&cfg, &text, &err), &err, "config format");

    const char *parent = p->parent ? ids[atoi(p->parent + 1)] : NULL;
    fw_run_spec spec = {.name = p->name, .parent = parent, .config = text, .backend = "cpu",
                        .devices = "cpu"};
    must(fw_store_run_create(s, &spec, ids[index], &err), &err, "run_create");
    free(text);
    const char *id = ids[index];

    fw_metric_writer *w = NULL;
    must(fw_metric_writer_open(s, id, NULL, &w, &err), &err, "writer open");
    int n_points = 0, n_events = 0, n_evals = 0;
    double best = -1, best_epoch = 0;
    int64_t best_step = 0;
    double last_loss = 0;
    int64_t step = 1; /* steps done after the step, as the trainer counts */
    if (p->epochs_done > 0)
        must(fw_metric_writer_event(w, 0, "info", "training started", &err), &err, "event"),
            n_events++;
    for (int e = 1; e <= p->epochs_done; e++) {
        for (int b = 0; b < p->steps_per_epoch; b++, step++) {
            double epoch = (e - 1) + (double)(b + 1) / p->steps_per_epoch;
            last_loss = 4.0 / (1.0 + 0.1 * (double)step) + 0.01 * (index % 3);
            must(fw_metric_writer_point(w, step, epoch, "train.loss", last_loss, &err), &err,
                 "point");
            must(fw_metric_writer_point(w, step, epoch, "train.lr", 1e-3, &err), &err, "point");
            n_points += 2;
        }
        double m = map5_at(p, e), top1 = 0.8 * m, thr = 0.5 + 0.01 * e;
        must(fw_metric_writer_point(w, step - 1, e, "val.map5", m, &err), &err, "point");
        must(fw_metric_writer_point(w, step - 1, e, "val.top1", top1, &err), &err, "point");
        must(fw_metric_writer_point(w, step - 1, e, "val.threshold", thr, &err), &err, "point");
        n_points += 3;
        if (m > best) {
            best = m, best_epoch = e, best_step = step - 1;
        }
        char msg[128];
        snprintf(msg, sizeof msg, "epoch %d: mAP@5 %.4f", e, m);
        must(fw_metric_writer_event(w, step - 1, "eval", msg, &err), &err, "event");
        must(fw_metric_writer_event(w, step - 1, FW_EVENT_CHECKPOINT,
                                    "saved \033[31mckpt\033[0m", &err),
             &err, "event");
        n_events += 2;
        must(fw_metric_writer_flush(w, &err), &err, "flush");
        put_evaluation(s, id, e, step - 1, m, top1, thr, &err);
        n_evals++;
    }
    must(fw_metric_writer_close(w, &err), &err, "writer close");
    if (p->lr_curve)
        put_lr_curve(s, id, &err);
    set_status_path(s, id, p->status, &err);

    cJSON *o = cJSON_CreateObject();
    char clean[256];
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "name", fw_sanitize(p->name, clean, sizeof clean));
    cJSON_AddStringToObject(o, "status", fw_run_status_name(p->status));
    if (parent)
        cJSON_AddStringToObject(o, "parent", parent);
    else
        cJSON_AddNullToObject(o, "parent");
    cJSON_AddNumberToObject(o, "epochs", cfg.epochs);
    if (best >= 0) {
        cJSON_AddNumberToObject(o, "best_map5", best);
        cJSON_AddNumberToObject(o, "best_epoch", best_epoch);
        cJSON_AddNumberToObject(o, "best_step", (double)best_step);
        cJSON_AddNumberToObject(o, "best_top1", 0.8 * best);
        cJSON_AddNumberToObject(o, "last_loss", last_loss);
        cJSON_AddNumberToObject(o, "steps", (double)(step - 1));
        cJSON_AddNumberToObject(o, "epoch", p->epochs_done);
    } else {
        cJSON_AddNullToObject(o, "best_map5");
        cJSON_AddNullToObject(o, "epoch");
    }
    cJSON_AddNumberToObject(o, "metric_points", n_points);
    cJSON_AddNumberToObject(o, "events", n_events);
    cJSON_AddNumberToObject(o, "evaluations", n_evals);
    cJSON_AddBoolToObject(o, "lr_curve", p->lr_curve);
    cJSON_AddItemToObject(o, "changed", changed);
    return o;
}

static int populate(const char *workspace, const char *expect_path)
{
    fw_error err;
    fw_error_clear(&err);
    fw_store *s = NULL;
    must(fw_store_open(workspace, &s, &err), &err, "store open");
    char ids[N_PLANS][FW_RUN_ID_CAP];
    cJSON *all = cJSON_CreateArray();
    for (int i = 0; i < N_PLANS; i++)
        cJSON_AddItemToArray(all, make_run(s, &plans[i], ids, i));
    /* A config text this flukewatch cannot parse (as from a newer one). */
    char odd_id[FW_RUN_ID_CAP];
    fw_run_spec odd = {.name = "odd-config", .config = "epochs = 4\nno_such_key = 1\n"};
    must(fw_store_run_create(s, &odd, odd_id, &err), &err, "run_create");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", odd_id);
    cJSON_AddStringToObject(o, "name", odd.name);
    cJSON_AddStringToObject(o, "status", "queued");
    cJSON_AddNullToObject(o, "parent");
    cJSON_AddNullToObject(o, "epochs");
    cJSON_AddNullToObject(o, "best_map5");
    cJSON_AddNullToObject(o, "epoch");
    cJSON_AddNumberToObject(o, "metric_points", 0);
    cJSON_AddItemToObject(o, "changed", cJSON_CreateObject());
    cJSON_AddItemToArray(all, o);
    fw_store_close(s);
    char *text = cJSON_Print(all);
    FILE *f = fopen(expect_path, "w");
    DIE_IF(!f || !text, "cannot write %s", expect_path);
    fputs(text, f);
    fputc('\n', f);
    DIE_IF(fclose(f) != 0, "cannot write %s", expect_path);
    cJSON_free(text);
    cJSON_Delete(all);
    return 0;
}

static int add_many(const char *workspace, int n)
{
    fw_error err;
    fw_error_clear(&err);
    fw_store *s = NULL;
    must(fw_store_open(workspace, &s, &err), &err, "store open");
    for (int i = 1; i <= n; i++) {
        char name[32], id[FW_RUN_ID_CAP];
        snprintf(name, sizeof name, "bulk-%d", i);
        fw_run_spec spec = {.name = name};
        must(fw_store_run_create(s, &spec, id, &err), &err, "run_create");
        set_status_path(s, id, FW_RUN_FINISHED, &err);
    }
    fw_store_close(s);
    return 0;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int owner(const char *workspace, const char *run_id, double lifetime, int silent)
{
    fw_error err;
    fw_error_clear(&err);
    fw_store *s = NULL;
    must(fw_store_open(workspace, &s, &err), &err, "store open");
    must(fw_store_run_set_status(s, run_id, FW_RUN_RUNNING, &err), &err, "set running");
    printf("ready %ld\n", (long)getpid());
    fflush(stdout);
    double deadline = fw_store_now() + lifetime;
    fw_run_status status = FW_RUN_RUNNING;
    while (fw_store_now() < deadline) {
        fw_control_request req;
        int found = 0;
        if (silent) {
            sleep_ms(50);
            continue;
        }
        must(fw_store_control_next(s, run_id, &req, &found, &err), &err, "control_next");
        if (!found) {
            sleep_ms(50);
            continue;
        }
        const char *result = "ok";
        fw_run_status to = status;
        if (req.action == FW_CONTROL_PAUSE)
            to = status == FW_RUN_RUNNING ? FW_RUN_PAUSED : status;
        else if (req.action == FW_CONTROL_RESUME)
            to = status == FW_RUN_PAUSED ? FW_RUN_RUNNING : status;
        else
            to = FW_RUN_INTERRUPTED;
        if (to == status)
            result = "ignored: already so";
        else
            must(fw_store_run_set_status(s, run_id, to, &err), &err, "set status");
        status = to;
        must(fw_store_control_done(s, req.id, result, &err), &err, "control_done");
        if (status == FW_RUN_INTERRUPTED) {
            fw_store_close(s);
            return 0;
        }
    }
    fw_store_run_set_status(s, run_id, FW_RUN_INTERRUPTED, &err);
    fw_store_close(s);
    return 3;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "populate"))
        return populate(argv[2], argv[3]);
    if (argc == 4 && !strcmp(argv[1], "many"))
        return add_many(argv[2], atoi(argv[3]));
    if (argc >= 4 && argc <= 6 && !strcmp(argv[1], "owner"))
        return owner(argv[2], argv[3], argc >= 5 ? atof(argv[4]) : 120.0,
                     argc == 6 && !strcmp(argv[5], "silent"));
    fprintf(stderr, "usage: runs_fixture populate WORKSPACE EXPECT.json\n"
                    "       runs_fixture many WORKSPACE N\n"
                    "       runs_fixture owner WORKSPACE RUN [SECONDS [silent]]\n");
    return 2;
}
