/* trainer.c — a training run on its own thread (see trainer.h). */
#include <config.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend_select.h"
#include "ckpt_store.h"
#include "dataset.h"
#include "dist_group.h"
#include "fileio.h"
#include "loader.h"
#include "parallel.h"
#include "run_data.h"
#include "run_eval.h"
#include "sampler.h"
#include "trainer.h"

#define CONTROL_POLL_S 0.25
#define MAX_SKIPPED_FILE_EVENTS 50

/* The decoded data of in-process replicas: member 0 loads it once, the
 * others borrow it, the last trainer to end frees it. */
typedef struct shared_data {
    pthread_mutex_t mu;
    int refs;          /* trainers (and the starter) holding it */
    int replicas;
    fw_run_data data;
} shared_data;

static shared_data *shared_data_new(int replicas)
{
    shared_data *sd = calloc(1, sizeof *sd);
    if (!sd)
        return NULL;
    pthread_mutex_init(&sd->mu, NULL);
    sd->refs = 1;
    sd->replicas = replicas;
    return sd;
}

static void shared_data_acquire(shared_data *sd)
{
    pthread_mutex_lock(&sd->mu);
    sd->refs++;
    pthread_mutex_unlock(&sd->mu);
}

static void shared_data_release(shared_data *sd)
{
    if (!sd)
        return;
    pthread_mutex_lock(&sd->mu);
    int last = --sd->refs == 0;
    pthread_mutex_unlock(&sd->mu);
    if (!last)
        return;
    fw_run_data_free(&sd->data);
    pthread_mutex_destroy(&sd->mu);
    free(sd);
}

struct fw_trainer {
    /* set before the thread starts, then read-only */
    fw_trainer_opts opts;
    /* in-process replicas (replicas=N or device=cuda:A,B): this trainer is
     * member 0 of `group` and owns the others, joined by fw_trainer_join */
    fw_dist_group *group;
    fw_dist *member;          /* this trainer's member of the group (owned) */
    struct fw_trainer **replicas; /* (n_replicas) members 1.. */
    int n_replicas;
    char workspace[FW_RUN_PATH_MAX];
    char run_id[FW_RUN_ID_CAP];
    char cache_dir[FW_RUN_PATH_MAX];
    char ckpt_dir[FW_RUN_PATH_MAX + 64];
    pthread_t thread;

    /* shared with other threads, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    fw_trainer_state st;
    int want_pause, want_stop; /* this process's requests */
    fw_epoch_summary *epoch_log; /* (log_cap) by epoch number, .epoch 0 = empty */
    long log_cap;

    /* owned by the thread */
    fw_run_config cfg;
    fw_store *store;
    fw_metric_writer *mw;
    fw_run_data own_data;
    fw_run_data *data;         /* own_data, or the replicas' shared copy */
    shared_data *shared;       /* in-process replicas: the data they share (a reference) */
    fw_sampler sampler;
    fw_learner *learner;
    fw_learner_position pos;
    char *config_text;         /* the effective config (saved in checkpoints) */
    double last_poll;
    int paused, stopped;
    int64_t last_saved_step;   /* -1: nothing saved yet */
    int result;
    fw_error err;
};

/* Data parallel: rank 0 owns the store; the others only compute. */
static int is_root(const fw_trainer *t)
{
    return fw_dist_rank(t->opts.dist) == 0;
}

static int n_ranks(const fw_trainer *t)
{
    return fw_dist_size(t->opts.dist);
}

static const char *const phase_names[] = {"starting", "loading", "lr-find", "training",
                                          "evaluating", "paused", "done"};

const char *fw_trainer_phase_name(fw_trainer_phase p)
{
    return (unsigned)p < sizeof phase_names / sizeof phase_names[0] ? phase_names[p] : "?";
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int fw_trainer_epoch_summary(fw_trainer *t, long epoch, fw_epoch_summary *out)
{
    int rc = FW_ENOTFOUND;
    pthread_mutex_lock(&t->mu);
    if (epoch >= 0 && epoch < t->log_cap && t->epoch_log[epoch].epoch == epoch) {
        *out = t->epoch_log[epoch];
        rc = FW_OK;
    }
    pthread_mutex_unlock(&t->mu);
    return rc;
}

/* Record a completed epoch's summary (the log grows as needed). */
static int log_epoch(fw_trainer *t, const fw_epoch_summary *e, fw_error *err)
{
    pthread_mutex_lock(&t->mu);
    if (e->epoch >= t->log_cap) {
        long cap = e->epoch + 64;
        fw_epoch_summary *n = realloc(t->epoch_log, (size_t)cap * sizeof *n);
        if (!n) {
            pthread_mutex_unlock(&t->mu);
            return fw_fail(err, FW_ENOMEM, "out of memory");
        }
        memset(n + t->log_cap, 0, (size_t)(cap - t->log_cap) * sizeof *n);
        t->epoch_log = n;
        t->log_cap = cap;
    }
    t->epoch_log[e->epoch] = *e;
    pthread_mutex_unlock(&t->mu);
    return FW_OK;
}

int fw_trainer_checkpoint_dir(const char *workspace, const char *run_id, char *buf, size_t cap,
                              fw_error *err)
{
    if ((size_t)snprintf(buf, cap, "%s/runs/%s/checkpoints", workspace, run_id) >= cap)
        return fw_fail(err, FW_ETOOBIG, "checkpoint directory path too long (%s)", workspace);
    return FW_OK;
}

/* ------------------------------------------------------------ state */

static void set_phase(fw_trainer *t, fw_trainer_phase ph, long done, long total)
{
    pthread_mutex_lock(&t->mu);
    t->st.phase = ph;
    t->st.done = done;
    t->st.total = total;
    pthread_mutex_unlock(&t->mu);
}

static void cache_progress(void *ctx, long done, long total)
{
    fw_trainer *t = ctx;
    pthread_mutex_lock(&t->mu);
    if (done > t->st.done)
        t->st.done = done;
    t->st.total = total;
    pthread_mutex_unlock(&t->mu);
}

void fw_trainer_get_state(fw_trainer *t, fw_trainer_state *s)
{
    pthread_mutex_lock(&t->mu);
    *s = t->st;
    pthread_mutex_unlock(&t->mu);
}

void fw_trainer_control(fw_trainer *t, fw_control_action a)
{
    pthread_mutex_lock(&t->mu);
    if (a == FW_CONTROL_PAUSE)
        t->want_pause = 1;
    else if (a == FW_CONTROL_RESUME)
        t->want_pause = 0;
    else
        t->want_stop = 1;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

/* ------------------------------------------------------------ store */

static int event(fw_trainer *t, const char *kind, fw_error *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int event(fw_trainer *t, const char *kind, fw_error *err, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!t->mw) /* not rank 0 of a data-parallel run */
        return FW_OK;
    int64_t step = t->learner ? fw_learner_steps_done(t->learner) : 0;
    FW_TRY(fw_metric_writer_event(t->mw, step, kind, msg, err));
    return fw_metric_writer_flush(t->mw, err);
}

static int set_status(fw_trainer *t, fw_run_status st, fw_error *err)
{
    if (!t->store || !t->mw)
        return FW_OK;
    FW_TRY(fw_metric_writer_flush(t->mw, err));
    return fw_store_run_set_status(t->store, t->run_id, st, err);
}

/* Apply pending control requests from other processes (and record that they
 * were seen). */
static int poll_store_control(fw_trainer *t, fw_error *err)
{
    double now = now_s();
    if (!t->store)
        return FW_OK;
    if (now - t->last_poll < CONTROL_POLL_S)
        return FW_OK;
    t->last_poll = now;
    for (;;) {
        fw_control_request req;
        int found = 0;
        FW_TRY(fw_store_control_next(t->store, t->run_id, &req, &found, err));
        if (!found)
            return FW_OK;
        const char *result = "ok";
        pthread_mutex_lock(&t->mu);
        if (req.action == FW_CONTROL_PAUSE) {
            if (t->want_pause)
                result = "ignored: already paused";
            t->want_pause = 1;
        } else if (req.action == FW_CONTROL_RESUME) {
            if (!t->want_pause)
                result = "ignored: not paused";
            t->want_pause = 0;
        } else {
            t->want_stop = 1;
        }
        pthread_mutex_unlock(&t->mu);
        FW_TRY(fw_store_control_done(t->store, req.id, result, err));
        FW_TRY(event(t, "status", err, "%s requested by pid %lld: %s",
                     fw_control_action_name(req.action), (long long)req.sender_pid, result));
    }
}

static void back_to_training(fw_trainer *t)
{
    set_phase(t, FW_PHASE_TRAINING, (long)fw_learner_steps_done(t->learner),
              (long)t->st.total_steps);
}

/* At a step boundary: pause (sleeping until resumed or stopped) and report
 * whether the run must stop now (*stop), for this process. */
static int check_local_control(fw_trainer *t, int *stop, fw_error *err)
{
    FW_TRY(poll_store_control(t, err));
    for (;;) {
        pthread_mutex_lock(&t->mu);
        int pause = t->want_pause;
        *stop = t->want_stop || (t->opts.interrupt && *t->opts.interrupt);
        pthread_mutex_unlock(&t->mu);
        if (*stop) {
            t->paused = 0; /* paused -> interrupted is a valid transition */
            return FW_OK;
        }
        if (!pause) {
            if (t->paused) {
                t->paused = 0;
                FW_TRY(set_status(t, FW_RUN_RUNNING, err));
                FW_TRY(event(t, "status", err, "resumed at step %lld",
                             (long long)fw_learner_steps_done(t->learner)));
                back_to_training(t);
            }
            return FW_OK;
        }
        if (!t->paused) {
            t->paused = 1;
            FW_TRY(set_status(t, FW_RUN_PAUSED, err));
            FW_TRY(event(t, "status", err, "paused at step %lld",
                         (long long)fw_learner_steps_done(t->learner)));
            set_phase(t, FW_PHASE_PAUSED, 0, 0);
        }
        /* Paused: sleep until a local request or the next store poll. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)(CONTROL_POLL_S * 1e9);
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&t->mu);
        if (t->want_pause && !t->want_stop)
            pthread_cond_timedwait(&t->cv, &t->mu, &ts);
        pthread_mutex_unlock(&t->mu);
        if (t->mw)
            FW_TRY(fw_metric_writer_poll(t->mw, err));
        FW_TRY(poll_store_control(t, err));
    }
}

/* The same for every rank together: all stop when any rank must (rank 0's
 * requests, any rank's interrupt); a pause on rank 0 holds the others here. */
static int check_control(fw_trainer *t, int *stop, fw_error *err)
{
    FW_TRY(check_local_control(t, stop, err));
    if (n_ranks(t) > 1) {
        int any = *stop;
        FW_TRY(fw_dist_allreduce_max_int(t->opts.dist, &any, err));
        *stop = any;
        if (any)
            t->paused = 0;
    }
    return FW_OK;
}

/* ------------------------------------------------------------ pieces */

static int save_checkpoint(fw_trainer *t, int is_best, fw_error *err)
{
    if (!is_root(t))
        return FW_OK;
    FW_TRY(fw_learner_save_to_store(t->learner, t->ckpt_dir, &t->pos, t->config_text, is_best,
                                    t->cfg.keep_last, err));
    t->last_saved_step = fw_learner_steps_done(t->learner);
    return event(t, FW_EVENT_CHECKPOINT, err, "saved ckpt-%08lld.fwc (epoch %lld%s)",
                 (long long)t->last_saved_step, (long long)t->pos.epoch,
                 is_best ? ", best" : "");
}

/* Validation evaluation at the current step; *is_best when it beats the best. */
static int evaluate(fw_trainer *t, int *is_best, fw_error *err)
{
    set_phase(t, FW_PHASE_EVALUATING, 0, t->data->n_gallery + t->data->split.n_query);
    fw_run_eval_opts eo = {.tta_flip = t->cfg.tta_flip, .threads = t->cfg.threads,
                           .progress = cache_progress, .progress_ctx = t};
    fw_evaluation ev;
    double vloss;
    FW_TRY(fw_run_evaluate(t->learner, t->data, &t->cfg, &eo, &ev, &vloss, err));
    int64_t step = fw_learner_steps_done(t->learner);
    char label[64];
    snprintf(label, sizeof label, "ckpt-%08lld.fwc", (long long)step);
    snprintf(ev.run_id, sizeof ev.run_id, "%s", t->run_id);
    ev.checkpoint = strdup(label);
    ev.step = step;
    ev.epoch = (double)t->pos.epoch;
    int rc = ev.checkpoint ? FW_OK : fw_fail(err, FW_ENOMEM, "out of memory");
    if (rc == FW_OK)
        rc = fw_metric_writer_flush(t->mw, err);
    if (rc == FW_OK)
        rc = fw_store_eval_put(t->store, &ev, NULL, err);
    double ep = (double)t->pos.epoch;
    if (rc == FW_OK)
        rc = fw_metric_writer_point(t->mw, step, ep, "val.map5", ev.map5, err);
    if (rc == FW_OK)
        rc = fw_metric_writer_point(t->mw, step, ep, "val.top1", ev.top1, err);
    if (rc == FW_OK && isfinite(ev.threshold))
        rc = fw_metric_writer_point(t->mw, step, ep, "val.threshold", ev.threshold, err);
    if (rc == FW_OK && isfinite(vloss))
        rc = fw_metric_writer_point(t->mw, step, ep, "val.loss", vloss, err);
    *is_best = !t->pos.has_best || ev.map5 > t->pos.best_metric;
    if (rc == FW_OK && *is_best) {
        t->pos.has_best = 1;
        t->pos.best_metric = ev.map5;
        t->pos.best_step = step;
    }
    if (rc == FW_OK)
        rc = event(t, "eval", err, "epoch %lld: val mAP@5 %.4f, top-1 %.4f, threshold %.3f%s",
                   (long long)t->pos.epoch, ev.map5, ev.top1, ev.threshold,
                   *is_best ? " (best)" : "");
    pthread_mutex_lock(&t->mu);
    t->st.last_map5 = ev.map5;
    t->st.last_eval_epoch = t->pos.epoch;
    if (t->pos.has_best)
        t->st.best_map5 = t->pos.best_metric;
    pthread_mutex_unlock(&t->mu);
    fw_evaluation_free(&ev);
    back_to_training(t);
    return rc;
}

typedef struct lr_find_batches {
    fw_trainer *t;
    fw_loader *loader;
    int stopped; /* a stop request ended the range test */
} lr_find_batches;

static int lr_find_batch(void *ctx, int i, const float **x, const int **labels, int *n, int *h,
                         int *w, fw_error *err)
{
    lr_find_batches *c = ctx;
    const fw_batch *b = NULL;
    (void)i;
    /* Pause and stop work during the range test too (at its steps). */
    int stop = 0;
    FW_TRY(check_control(c->t, &stop, err));
    if (stop) {
        c->stopped = 1;
        return fw_fail(err, FW_EINVAL, "lr-find: stopped on request");
    }
    FW_TRY(fw_loader_next(c->loader, &b, err));
    if (!b)
        return fw_fail(err, FW_EINVAL, "lr-find: the loader ran out of batches");
    *x = b->pixels, *labels = b->labels, *n = b->n, *h = b->height, *w = b->width;
    return FW_OK;
}

/* Whether training batches are made by the backend (augment_on, backend.h's
 * augment_batch) from parameters the loader draws, instead of the loader. */
static int augment_on_device(const fw_trainer *t)
{
    return t->cfg.augment_on == FW_AUGMENT_ON_DEVICE ||
           (t->cfg.augment_on == FW_AUGMENT_ON_AUTO && strcmp(t->cfg.device, "cpu") != 0);
}

/* params_only: the loader draws parameters and leaves the pixels to the backend. */
static int open_loader(fw_trainer *t, long start_epoch, long start_batch, long end_epoch,
                       int params_only, fw_loader **out, fw_error *err)
{
    fw_loader_opts lo;
    fw_loader_opts_default(&lo);
    lo.params_only = params_only;
    int on_cpu = !strcmp(t->cfg.device, "cpu");
    int cpus = fw_resolve_threads(0);
    lo.threads = t->cfg.loader_threads ? t->cfg.loader_threads
                 : on_cpu            ? (cpus / 4 > 1 ? cpus / 4 : 1)
                                     : cpus;
    lo.nice = on_cpu ? 10 : 0;
    lo.seed = t->cfg.seed;
    fw_run_config_augment(&t->cfg, &lo.aug);
    lo.start_epoch = start_epoch;
    lo.start_batch = start_batch;
    lo.end_epoch = end_epoch;
    lo.shard_rank = fw_dist_rank(t->opts.dist);
    lo.shard_count = n_ranks(t);
    return fw_loader_open(out, &t->data->cache, &t->sampler, &lo, err);
}

/* The GPU this process trains on. One process: cuda[:N] (a list is refused:
 * one GPU per process). Several ranks: the GPUs of the list (or 0, 1, ... for
 * plain cuda) taken by the rank's index among this machine's ranks. */
static int gpu_of_this_rank(const fw_trainer *t, int *gpu, int *cuda, fw_error *err)
{
    int ids[64] = {0}, n_ids = 0;
    FW_TRY(fw_run_config_device_parse(t->cfg.device, cuda, ids, 64, &n_ids, err));
    *gpu = ids[0];
    if (!*cuda)
        return FW_OK;
    int local = fw_dist_local_rank(t->opts.dist);
    if (n_ranks(t) <= 1) {
        if (n_ids > 1)
            return fw_fail(err, FW_EINVAL,
                           "device=%s lists %d GPUs but replicas=1: one replica trains on one "
                           "GPU (replicas=0 gives one per listed GPU)",
                           t->cfg.device, n_ids);
        return FW_OK;
    }
    if (strcmp(t->cfg.device, "cuda") == 0)
        *gpu = local;
    else if (local < n_ids && local < 64)
        *gpu = ids[local];
    else
        return fw_fail(err, FW_EINVAL,
                       "device=%s lists %d GPU(s) but this machine runs at least %d ranks "
                       "(local rank %d): list one GPU per rank, or use device=cuda",
                       t->cfg.device, n_ids, local + 1, local);
    return FW_OK;
}

static int create_learner(fw_trainer *t, fw_error *err)
{
    fw_learner_config lc;
    int classes = t->data->ds.n_whales * (t->cfg.aug.flip_identity ? 2 : 1);
    fw_run_config_learner(&t->cfg, classes, t->sampler.batches_per_epoch, &lc);
    lc.dist = t->opts.dist;
    fw_learner_destroy(t->learner);
    t->learner = NULL;
    int gpu = 0, cuda = 0;
    FW_TRY(gpu_of_this_rank(t, &gpu, &cuda, err));
    const fw_backend_ops *ops;
    fw_backend_options bopt;
    FW_TRY(fw_backend_for_device(t->cfg.device, gpu, t->cfg.precision, lc.threads, &ops, &bopt,
                                 err));
    lc.device = bopt.device;
    lc.precision = bopt.precision;
    FW_TRY(fw_learner_create(ops, &lc, &t->learner, err));
    /* GPU ranks sum their gradients over NCCL (collective: every rank is here) */
    return cuda && n_ranks(t) > 1 ? fw_dist_use_nccl(t->opts.dist, gpu, err) : FW_OK;
}

/* The LR finder's observer: each point goes to the store as it is made
 * (metrics lr_find.lr, lr_find.loss and lr_find.smoothed at step i), so
 * another process sees the curve grow; the phase's progress follows. */
typedef struct lr_find_publish {
    fw_trainer *t;
    int num_it;
    int rc;       /* the first write error (the observer cannot return one) */
    fw_error err;
} lr_find_publish;

static void lr_find_observe(void *ctx, int i, double lr, double loss, double smoothed)
{
    lr_find_publish *p = ctx;
    set_phase(p->t, FW_PHASE_LR_FIND, i + 1, p->num_it);
    if (p->rc < 0 || !p->t->mw)
        return;
    fw_metric_writer *mw = p->t->mw;
    int rc = fw_metric_writer_point(mw, i, 0, "lr_find.lr", lr, &p->err);
    if (rc == FW_OK)
        rc = fw_metric_writer_point(mw, i, 0, "lr_find.loss", loss, &p->err);
    if (rc == FW_OK)
        rc = fw_metric_writer_point(mw, i, 0, "lr_find.smoothed", smoothed, &p->err);
    p->rc = rc;
}

/* The LR range test on this run's batches; stores the curve. *lr_out gets
 * the valley suggestion (0 when there is none). */
static int lr_find(fw_trainer *t, double *lr_out, fw_error *err)
{
    fw_lr_finder_config fc;
    fw_lr_finder_config_default(&fc);
    lr_find_publish pub = {.t = t, .num_it = fc.num_it, .rc = FW_OK};
    fc.observe = lr_find_observe;
    fc.observe_ctx = &pub;
    set_phase(t, FW_PHASE_LR_FIND, 0, fc.num_it);
    lr_find_batches c = {.t = t};
    fw_lr_finder_result res = {0};
    *lr_out = 0;
    int rc = open_loader(t, 0, 0, 0, 0, &c.loader, err);
    if (rc == FW_OK)
        rc = fw_learner_lr_find(t->learner, &fc, lr_find_batch, &c, &res, err);
    fw_loader_close(c.loader);
    if (c.stopped) { /* the weights are restored; nothing to store */
        t->stopped = 1;
        fw_lr_finder_result_free(&res);
        return t->mw ? fw_metric_writer_flush(t->mw, err) : FW_OK;
    }
    if (rc == FW_OK && pub.rc < 0) {
        rc = pub.rc;
        if (err)
            *err = pub.err;
    }
    if (rc == FW_OK && !is_root(t)) { /* rank 0 stores the curve */
        if (res.suggest.valid)
            *lr_out = res.suggest.valley;
        fw_lr_finder_result_free(&res);
        return FW_OK;
    }
    if (rc == FW_OK)
        rc = fw_metric_writer_flush(t->mw, err);
    if (rc == FW_OK) {
        fw_lr_curve curve = {.n = res.n, .lrs = res.lrs, .losses = res.losses,
                             .smoothed = res.smoothed, .diverged = res.diverged,
                             .valid = res.suggest.valid, .valley = res.suggest.valley,
                             .steep = res.suggest.steep, .minimum = res.suggest.minimum,
                             .valley_idx = res.suggest.valley_idx,
                             .steep_idx = res.suggest.steep_idx,
                             .minimum_idx = res.suggest.minimum_idx};
        rc = fw_store_lr_curve_put(t->store, t->run_id, &curve, NULL, err);
        if (rc == FW_OK && res.suggest.valid)
            *lr_out = res.suggest.valley;
        if (rc == FW_OK)
            rc = event(t, "info", err,
                       res.suggest.valid
                           ? "lr-find: %d steps, valley %.3g, steep %.3g, minimum/10 %.3g"
                           : "lr-find: %d steps, no suggestion (too few points)%.0g%.0g%.0g",
                       res.n, res.suggest.valley, res.suggest.steep, res.suggest.minimum);
    }
    fw_lr_finder_result_free(&res);
    return rc;
}

static int record_skipped_files(fw_trainer *t, fw_error *err)
{
    const fw_image_cache *c = &t->data->cache;
    for (long i = 0; i < c->n_failed && i < MAX_SKIPPED_FILE_EVENTS; i++)
        FW_TRY(fw_metric_writer_event(t->mw, 0, FW_EVENT_SKIPPED_FILE, c->failures[i].reason,
                                      err));
    if (c->n_failed > MAX_SKIPPED_FILE_EVENTS)
        FW_TRY(event(t, FW_EVENT_SKIPPED_FILE, err, "... and %ld more unreadable images",
                     c->n_failed - MAX_SKIPPED_FILE_EVENTS));
    return fw_metric_writer_flush(t->mw, err);
}

/* Restore the newest checkpoint that loads; its config replaces t->cfg. */
static int restore(fw_trainer *t, fw_error *err)
{
    fw_ckpt ck;
    long skipped = 0;
    fw_error skip_msg = {0};
    if (is_root(t))
        FW_TRY(fw_ckpt_store_clean_temps(t->ckpt_dir, NULL, err));
    FW_TRY(fw_dist_barrier(t->opts.dist, err)); /* every rank reads the same newest */
    int rc = fw_ckpt_store_open_newest(t->ckpt_dir, &ck, &skipped, &skip_msg, err);
    if (rc == FW_ENOTFOUND)
        return FW_ENOTFOUND;
    FW_TRY(rc);
    if (skipped)
        rc = event(t, FW_EVENT_WARNING, err, "resume: skipped %ld damaged checkpoint(s): %s",
                   skipped, skip_msg.msg);
    fw_run_config cfg;
    fw_run_config_default(&cfg);
    if (rc == FW_OK && ck.config && *ck.config)
        rc = fw_run_config_parse(&cfg, ck.config, ck.path, err);
    if (rc == FW_OK) {
        snprintf(cfg.dataset, sizeof cfg.dataset, "%s", t->cfg.dataset);
        t->cfg = cfg;
        rc = create_learner(t, err);
    }
    if (rc == FW_OK)
        rc = fw_learner_restore(t->learner, &ck, &t->pos, err);
    if (rc == FW_OK)
        rc = event(t, "status", err, "resumed from %s (step %lld, epoch %lld)", ck.path,
                   (long long)fw_learner_steps_done(t->learner), (long long)t->pos.epoch);
    fw_ckpt_close(&ck);
    if (rc == FW_OK) {
        t->last_saved_step = fw_learner_steps_done(t->learner);
        pthread_mutex_lock(&t->mu);
        t->st.best_map5 = t->pos.has_best ? t->pos.best_metric : -1;
        pthread_mutex_unlock(&t->mu);
    }
    return rc;
}

/* Per-step metrics and the live state. */
static int record_step(fw_trainer *t, const fw_step_result *r, int n, double step_s,
                       fw_error *err)
{
    int64_t step = fw_learner_steps_done(t->learner);
    double ep = (double)t->pos.sampler_epoch +
                (double)t->pos.sampler_batch / (double)t->sampler.batches_per_epoch;
    if (t->mw && !r->skipped) {
        FW_TRY(fw_metric_writer_point(t->mw, step, ep, "train.loss", r->loss, err));
        FW_TRY(fw_metric_writer_point(t->mw, step, ep, "train.lr", r->lr, err));
        FW_TRY(fw_metric_writer_point(t->mw, step, ep, "train.momentum", r->momentum, err));
        FW_TRY(fw_metric_writer_point(t->mw, step, ep, "train.grad_norm", r->grad_norm, err));
    }
    const fw_loss_scaler *ls = fw_learner_loss_scaler(t->learner);
    if (t->mw && ls->enabled) {
        FW_TRY(fw_metric_writer_point(t->mw, step, ep, "train.loss_scale", ls->scale, err));
        FW_TRY(fw_metric_writer_point(t->mw, step, ep, "train.overflows",
                                      (double)ls->overflows, err));
    }
    if (t->mw)
        FW_TRY(fw_metric_writer_poll(t->mw, err));
    pthread_mutex_lock(&t->mu);
    t->st.step = step;
    t->st.skipped = fw_learner_steps_skipped(t->learner);
    if (!r->skipped) {
        t->st.loss = r->loss;
        t->st.lr = r->lr;
    }
    double ips = step_s > 0 ? n / step_s : 0;
    t->st.img_per_s = t->st.img_per_s > 0 ? 0.9 * t->st.img_per_s + 0.1 * ips : ips;
    t->st.done = (long)step;
    pthread_mutex_unlock(&t->mu);
    return FW_OK;
}

/* Everything after the epoch's last batch: metrics, evaluation, checkpoint. */
static int end_of_epoch(fw_trainer *t, double epoch_s, double wait_s, long images,
                        double loss_sum, long loss_n, fw_error *err)
{
    int64_t step = fw_learner_steps_done(t->learner);
    double ep = (double)t->pos.epoch;
    /* images counts this rank's shards: the whole batches are R times as many */
    double all_images = (double)images * n_ranks(t);
    if (t->mw) {
        FW_TRY(fw_metric_writer_point(t->mw, step, ep, "train.img_per_s",
                                      epoch_s > 0 ? all_images / epoch_s : 0, err));
        FW_TRY(fw_metric_writer_point(t->mw, step, ep, "train.data_wait",
                                      epoch_s > 0 ? wait_s / epoch_s : 0, err));
    }
    int last = t->pos.epoch >= t->cfg.epochs;
    int is_best = 0;
    /* rank 0 evaluates alone; the others wait at the next step boundary */
    if (is_root(t) && ((t->cfg.eval_every > 0 && t->pos.epoch % t->cfg.eval_every == 0) || last))
        FW_TRY(evaluate(t, &is_best, err));
    if (t->pos.epoch % t->cfg.checkpoint_every == 0 || is_best || last)
        FW_TRY(save_checkpoint(t, is_best, err));
    fw_epoch_summary e = {.epoch = t->pos.epoch, .step = step,
                          .loss = loss_n > 0 ? loss_sum / (double)loss_n : NAN,
                          .img_per_s = epoch_s > 0 ? all_images / epoch_s : 0,
                          .data_wait = epoch_s > 0 ? wait_s / epoch_s : 0};
    pthread_mutex_lock(&t->mu);
    e.lr = t->st.lr;
    e.val_map5 = t->st.last_eval_epoch == t->pos.epoch ? t->st.last_map5 : -1;
    e.best_map5 = t->st.best_map5;
    pthread_mutex_unlock(&t->mu);
    FW_TRY(log_epoch(t, &e, err));
    /* Published last, so a watcher sees the epoch with its evaluation. */
    pthread_mutex_lock(&t->mu);
    t->st.epoch = t->pos.epoch;
    t->st.data_wait = e.data_wait;
    pthread_mutex_unlock(&t->mu);
    return FW_OK;
}

static int train_loop(fw_trainer *t, fw_error *err)
{
    fw_loader *loader = NULL;
    long bpe = t->sampler.batches_per_epoch;
    int on_device = augment_on_device(t);
    if (on_device) {
        const fw_image_cache *c = &t->data->cache;
        FW_TRY(fw_learner_set_image_cache(t->learner, c->pixels, c->n, c->width, c->height,
                                          c->channels, err));
    }
    FW_TRY(open_loader(t, t->pos.sampler_epoch, t->pos.sampler_batch, t->cfg.epochs, on_device,
                       &loader, err));
    back_to_training(t);
    int rc = FW_OK, nan_run = 0, overflow_run = 0;
    int oom_retries = 0;
    double epoch_t0 = now_s(), wait_s = 0, loss_sum = 0;
    long images = 0, loss_n = 0;
    for (;;) {
        int stop = 0;
        if ((rc = check_control(t, &stop, err)) != FW_OK)
            break;
        if (stop) {
            t->stopped = 1;
            break;
        }
        const fw_batch *b = NULL;
        double t0 = now_s();
        if ((rc = fw_loader_next(loader, &b, err)) != FW_OK || !b)
            break;
        double t1 = now_s();
        wait_s += t1 - t0;
        fw_step_result r;
        fw_batch_input in = {.x = b->pixels, .params = b->params, .items = b->items};
        if ((rc = fw_learner_step_input(t->learner, &in, b->labels, b->n, b->height, b->width,
                                        &r, err)) != FW_OK)
            break;
        int retries = 0;
        const char *why = fw_learner_oom_reason(t->learner, &retries);
        if (retries != oom_retries) {
            oom_retries = retries;
            if ((rc = event(t, FW_EVENT_WARNING, err,
                            "out of device memory at start-up (%s): each batch of %d now runs "
                            "as %d micro-batches, gradients accumulated",
                            why, b->n, r.micro_batches)) != FW_OK)
                break;
        }
        images += b->n;
        t->pos.sampler_epoch = b->epoch;
        t->pos.sampler_batch = b->index + 1;
        if (t->pos.sampler_batch >= bpe) {
            t->pos.sampler_epoch++;
            t->pos.sampler_batch = 0;
        }
        if ((rc = record_step(t, &r, b->n * n_ranks(t), now_s() - t0, err)) != FW_OK)
            break;
        if (!r.skipped) {
            loss_sum += r.loss;
            loss_n++;
        }
        /* An fp16 overflow is loss scaling at work (the scale halved, the
         * step skipped, counted in train.overflows), not a divergence —
         * unless no scale gives finite gradients. */
        overflow_run = r.overflow ? overflow_run + 1 : 0;
        if (overflow_run >= 64) {
            rc = fw_fail(err, FW_EINVAL,
                         "%d fp16 overflows in a row (loss scale now %g): the gradients are "
                         "not finite at any scale; lower lr or use precision=bf16",
                         overflow_run, r.loss_scale / 2);
            break;
        }
        if (r.skipped && !r.overflow) {
            nan_run++;
            if ((rc = event(t, FW_EVENT_NAN_STEP, err,
                            "non-finite %s at epoch %ld batch %ld: step skipped (%d in a row)",
                            isfinite(r.loss) ? "gradient" : "loss", b->epoch, b->index,
                            nan_run)) != FW_OK)
                break;
            if (nan_run >= t->cfg.nan_limit) {
                rc = fw_fail(err, FW_EINVAL,
                             "%d non-finite steps in a row (nan_limit %d): the loss diverged; "
                             "lower lr or raise clip_norm",
                             nan_run, t->cfg.nan_limit);
                break;
            }
        } else if (!r.skipped) {
            nan_run = 0;
        }
        if (t->pos.sampler_batch == 0) {
            t->pos.epoch = t->pos.sampler_epoch;
            if ((rc = end_of_epoch(t, now_s() - epoch_t0, wait_s, images, loss_sum, loss_n,
                                   err)) != FW_OK)
                break;
            epoch_t0 = now_s();
            wait_s = loss_sum = 0;
            images = loss_n = 0;
        }
    }
    fw_loader_close(loader);
    return rc;
}

/* ------------------------------------------------------------ the thread */

static int run(fw_trainer *t, fw_error *err)
{
    if (is_root(t)) {
        FW_TRY(fw_store_open(t->workspace, &t->store, err));
        FW_TRY(fw_metric_writer_open(t->store, t->run_id, NULL, &t->mw, err));
        FW_TRY(fw_store_run_set_status(t->store, t->run_id, FW_RUN_RUNNING, err));
    }
    char host[256] = "", ranks[128] = "";
    gethostname(host, sizeof host - 1);
    if (n_ranks(t) > 1) {
        char what[96];
        fw_dist_describe(t->opts.dist, what, sizeof what);
        snprintf(ranks, sizeof ranks, " as rank 0 of %s", what);
    }
    FW_TRY(event(t, "status", err, "%s by pid %ld on %s%s",
                 t->opts.resume ? "resumed" : "started", (long)getpid(), host, ranks));

    set_phase(t, FW_PHASE_LOADING, 0, 0);
    /* rank 0 fills the disk cache first; the others then read it */
    /* (in-process replicas: rank 0 decodes once for all of them) */
    if (!is_root(t))
        FW_TRY(fw_dist_barrier(t->opts.dist, err));
    if (is_root(t) || !t->shared)
        FW_TRY(fw_run_data_open(t->data, &t->cfg, t->cache_dir, cache_progress, t, err));
    if (is_root(t) && n_ranks(t) > 1)
        FW_TRY(fw_dist_barrier(t->opts.dist, err));
    if (is_root(t))
        FW_TRY(record_skipped_files(t, err));
    fw_pk_opts pk = {t->cfg.sampler_p, t->cfg.sampler_k, t->cfg.sampler_new, t->cfg.seed};
    FW_TRY(fw_sampler_init_pk(&t->sampler, t->data->labels, t->data->cache.ok,
                              t->data->ds.n_train, t->data->split.train, t->data->split.n_train,
                              t->data->ds.n_whales, &pk, err));
    char shared_by[64] = "";
    if (t->shared)
        snprintf(shared_by, sizeof shared_by, "; decoded once for %d replicas",
                 t->shared->replicas);
    FW_TRY(event(t, "info", err,
                 "data: %ld images (%ld unreadable), %d whales; %ld training/gallery, %ld "
                 "validation queries; %ld batches of %d per epoch%s",
                 t->data->ds.n_train, t->data->cache.n_failed, t->data->ds.n_whales,
                 t->data->split.n_train, t->data->split.n_query, t->sampler.batches_per_epoch,
                 t->sampler.batch_size, shared_by));
    if (is_root(t))
        FW_TRY(fw_mkdirs(t->ckpt_dir, err));

    int rc = FW_ENOTFOUND;
    if (t->opts.resume) {
        rc = restore(t, err);
        if (rc == FW_ENOTFOUND)
            FW_TRY(event(t, FW_EVENT_WARNING, err,
                         "resume: no checkpoint in %s; starting from the beginning", t->ckpt_dir));
        else
            FW_TRY(rc);
    }
    if (rc == FW_ENOTFOUND) {
        FW_TRY(create_learner(t, err));
        if (t->cfg.lr_find || t->opts.lr_find_only) {
            double lr = 0;
            FW_TRY(lr_find(t, &lr, err));
            if (t->stopped)
                return event(t, "status", err,
                             t->opts.lr_find_only
                                 ? "lr-find stopped before its end; no curve stored"
                                 : "stopped during the LR finder; resume starts it again");
            if (t->opts.lr_find_only)
                return FW_OK;
            if (lr > 0) {
                t->cfg.lr = lr;
                FW_TRY(create_learner(t, err));
                FW_TRY(event(t, "info", err, "training with the LR finder's valley: lr %.3g",
                             lr));
            }
        }
    }
    fw_run_config eff = t->cfg;
    eff.lr_find = 0;
    FW_TRY(fw_run_config_format(&eff, &t->config_text, err));
    pthread_mutex_lock(&t->mu);
    t->st.total_steps = (int64_t)t->sampler.batches_per_epoch * t->cfg.epochs;
    t->st.epochs = t->cfg.epochs;
    t->st.epoch = t->pos.epoch;
    t->st.step = fw_learner_steps_done(t->learner);
    t->st.start_epoch = t->pos.epoch;
    pthread_mutex_unlock(&t->mu);

    if (t->pos.epoch < t->cfg.epochs)
        FW_TRY(train_loop(t, err));
    if (t->stopped) {
        if (fw_learner_steps_done(t->learner) != t->last_saved_step)
            FW_TRY(save_checkpoint(t, 0, err));
        return event(t, "status", err, "stopped at step %lld (epoch %lld); resume continues here",
                     (long long)fw_learner_steps_done(t->learner), (long long)t->pos.epoch);
    }
    return FW_OK;
}

static void *thread_main(void *arg)
{
    fw_trainer *t = arg;
    fw_error err = {0};
    int rc = run(t, &err);
    /* A failed in-process replica breaks its group, so that no other replica
     * waits for it in a collective (an MPI rank's failure is cmd_train's). */
    if (rc != FW_OK && t->member)
        fw_dist_abort(t->member, 1);
    /* Record the outcome (a fresh error for the bookkeeping itself). */
    fw_error e2 = {0};
    if (t->store && t->mw) {
        if (rc != FW_OK) {
            fw_metric_writer_event(t->mw, t->learner ? fw_learner_steps_done(t->learner) : 0,
                                   "error", err.msg, &e2);
            set_status(t, FW_RUN_FAILED, &e2);
        } else if (t->stopped) {
            set_status(t, FW_RUN_INTERRUPTED, &e2);
        } else {
            fw_metric_writer_event(t->mw, t->learner ? fw_learner_steps_done(t->learner) : 0,
                                   "status", "finished", &e2);
            set_status(t, FW_RUN_FINISHED, &e2);
        }
    } else if (t->store && rc != FW_OK) {
        fw_store_run_set_status(t->store, t->run_id, FW_RUN_FAILED, &e2);
    }
    fw_metric_writer_close(t->mw, &e2);
    t->mw = NULL;
    fw_store_close(t->store);
    t->store = NULL;
    fw_learner_destroy(t->learner);
    t->learner = NULL;
    fw_sampler_free(&t->sampler);
    if (t->shared)
        shared_data_release(t->shared);
    else
        fw_run_data_free(&t->own_data);
    t->result = rc;
    t->err = err;
    set_phase(t, FW_PHASE_DONE, 0, 0);
    return NULL;
}

int fw_trainer_check_config(const fw_run_config *cfg, fw_error *err)
{
    FW_TRY(fw_run_config_validate(cfg, err));
    if (!cfg->dataset[0])
        return fw_fail(err, FW_EINVAL, "no dataset: set the dataset key to a directory");
    fw_dataset ds;
    int rc = fw_dataset_load(&ds, cfg->dataset, &(fw_dataset_opts){0}, err);
    fw_dataset_free(&ds);
    return rc;
}

int fw_trainer_create_run(fw_store *s, const fw_run_config *cfg, const char *name,
                          const char *parent, int lr_find_only, char id_out[FW_RUN_ID_CAP],
                          fw_error *err)
{
    return fw_trainer_create_run_on(s, cfg, name, parent, lr_find_only, NULL, "", id_out, err);
}

int fw_trainer_create_run_on(fw_store *s, const fw_run_config *cfg, const char *name,
                             const char *parent, int lr_find_only, const char *backend,
                             const char *devices, char id_out[FW_RUN_ID_CAP], fw_error *err)
{
    char *text = NULL;
    FW_TRY(fw_run_config_format(cfg, &text, err));
    fw_run_spec spec = {.name = (name && *name) ? name : lr_find_only ? "lr-find" : "train",
                        .parent = (parent && *parent) ? parent : NULL,
                        .config = text, .devices = devices,
                        /* NULL: the backend the run's device selects */
                        .backend = backend                             ? backend
                                   : strcmp(cfg->device, "cpu") == 0 ? "cpu"
                                                                     : "cuda"};
    int rc = fw_store_run_create(s, &spec, id_out, err);
    free(text);
    return rc;
}

/* One trainer thread; member: its in-process replica group member (owned
 * from here on), or NULL; shared: the replicas' data (a reference is taken),
 * or NULL. */
static int start_one(const fw_trainer_opts *opts, fw_dist *member, shared_data *shared,
                     fw_trainer **out, fw_error *err)
{
    *out = NULL;
    FW_TRY(fw_run_config_validate(opts->cfg, err));
    fw_trainer *t = calloc(1, sizeof *t);
    if (!t)
        return fw_fail(err, FW_ENOMEM, "out of memory");
    t->opts = *opts;
    t->member = member;
    t->data = shared ? &shared->data : &t->own_data;
    t->cfg = *opts->cfg;
    t->last_saved_step = -1;
    t->st.best_map5 = t->st.last_map5 = -1;
    t->st.last_eval_epoch = -1;
    t->st.start_epoch = -1;
    t->st.epochs = t->cfg.epochs;
    snprintf(t->workspace, sizeof t->workspace, "%s", opts->workspace);
    snprintf(t->run_id, sizeof t->run_id, "%s", opts->run_id);
    snprintf(t->cache_dir, sizeof t->cache_dir, "%s", opts->cache_dir ? opts->cache_dir : "");
    t->opts.workspace = t->workspace;
    t->opts.run_id = t->run_id;
    t->opts.cfg = &t->cfg;
    int rc = fw_trainer_checkpoint_dir(t->workspace, t->run_id, t->ckpt_dir, sizeof t->ckpt_dir,
                                       err);
    if (rc != FW_OK) {
        free(t);
        return rc;
    }
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    if (shared) {
        shared_data_acquire(shared);
        t->shared = shared;
    }
    int e = pthread_create(&t->thread, NULL, thread_main, t);
    if (e) {
        shared_data_release(t->shared);
        pthread_mutex_destroy(&t->mu);
        pthread_cond_destroy(&t->cv);
        free(t);
        return fw_fail(err, FW_ENOMEM, "cannot start the training thread: %s", strerror(e));
    }
    *out = t;
    return FW_OK;
}

/* Replicas in this process: replicas=N, else one per GPU of a cuda list; 1
 * under MPI (each process is one replica there). */
static int replicas_wanted(const fw_trainer_opts *opts, fw_error *err)
{
    if (fw_dist_size(opts->dist) > 1)
        return 1;
    int cuda = 0, n_ids = 0;
    if (fw_run_config_device_parse(opts->cfg->device, &cuda, NULL, 0, &n_ids, err) != FW_OK)
        return -1;
    if (opts->cfg->replicas > 0)
        return opts->cfg->replicas;
    return cuda && n_ids > 1 ? n_ids : 1;
}

int fw_trainer_start(const fw_trainer_opts *opts, fw_trainer **out, fw_error *err)
{
    *out = NULL;
    int n = replicas_wanted(opts, err);
    if (n < 0)
        return FW_EINVAL;
    if (n <= 1)
        return start_one(opts, NULL, NULL, out, err);
    fw_dist_group *g = NULL;
    FW_TRY(fw_dist_group_create(n, &g, err));
    fw_dist **members = calloc((size_t)n, sizeof *members);
    fw_trainer **replicas = calloc((size_t)n - 1, sizeof *replicas);
    shared_data *shared = shared_data_new(n);
    int rc = members && replicas && shared ? FW_OK
                                           : fw_fail(err, FW_ENOMEM, "replicas: out of memory");
    for (int r = 0; rc == FW_OK && r < n; r++)
        rc = fw_dist_group_member(g, r, &members[r], err);
    fw_trainer *root = NULL;
    fw_trainer_opts o = *opts;
    if (rc == FW_OK) {
        o.dist = members[0];
        rc = start_one(&o, members[0], shared, &root, err);
    }
    int started = 0;
    for (int r = 1; rc == FW_OK && r < n; r++) {
        o.dist = members[r];
        rc = start_one(&o, members[r], shared, &replicas[r - 1], err);
        if (rc == FW_OK)
            started++;
    }
    if (rc != FW_OK) { /* the started ones wait for the rest: break and join them */
        fw_dist_group_break(g, -1);
        fw_error ignored;
        if (root)
            fw_trainer_join(root, NULL, &ignored);
        for (int r = 0; r < started; r++)
            fw_trainer_join(replicas[r], NULL, &ignored);
        for (int r = started + 1; members && r < n; r++)
            fw_dist_finalize(members[r]);
        if (!root && members)
            fw_dist_finalize(members[0]);
        free(members);
        free(replicas);
        fw_dist_group_free(g);
        shared_data_release(shared); /* the starter's reference */
        return rc;
    }
    root->group = g; /* read by fw_trainer_join only */
    root->replicas = replicas;
    root->n_replicas = n - 1;
    free(members); /* each trainer owns its member now */
    shared_data_release(shared); /* the trainers hold theirs */
    *out = root;
    return FW_OK;
}

int fw_trainer_join(fw_trainer *t, int *stopped, fw_error *err)
{
    pthread_join(t->thread, NULL);
    int rc = t->result;
    if (rc != FW_OK && err)
        *err = t->err;
    if (stopped)
        *stopped = t->stopped;
    /* The replicas end with the root (the same steps, the same stop); the
     * first failure among them is the run's if the root itself succeeded,
     * and the one that broke the group is the run's when the root failed
     * only because the group broke (its error then says so, not why). */
    int breaker = t->group ? fw_dist_group_broken_by(t->group) : -2;
    for (int r = 0; r < t->n_replicas; r++) {
        fw_error rerr = {0};
        int rrc = fw_trainer_join(t->replicas[r], NULL, &rerr);
        if (rrc != FW_OK && (rc == FW_OK || r + 1 == breaker)) {
            rc = rrc;
            if (err)
                *err = rerr;
        }
    }
    free(t->replicas);
    fw_dist_finalize(t->member);
    fw_dist_group_free(t->group);
    free(t->config_text);
    free(t->epoch_log);
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
    free(t);
    return rc;
}
