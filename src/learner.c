/* learner.c — the training step, checkpoints and LR finder wired together
 * (see learner.h). */
#include "learner.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt_store.h"
#include "micro_batch.h"
#include "param_list.h"
#include "train_update.h"

/* The learner's own state that checkpoints carry as the "rng" blob.
 * Version 1 ended after `skipped`; version 2 adds the loss scaler. */
typedef struct learner_state_blob {
    uint64_t magic;   /* LEARNER_BLOB_MAGIC */
    uint64_t seed;    /* model seed: dropout masks are (seed, step) */
    int64_t steps;    /* updates applied */
    int64_t skipped;  /* non-finite steps skipped */
    double loss_scale;          /* v2: the scaler's S (1 when off) */
    int64_t scale_clean_steps;  /* v2 */
    int64_t scale_overflows;    /* v2 */
} learner_state_blob;

#define LEARNER_BLOB_V1_SIZE offsetof(learner_state_blob, loss_scale)

#define LEARNER_BLOB_MAGIC 0x31534e524c574655ull /* "UFWLRNS1" */

struct fw_learner {
    fw_learner_config cfg;
    const fw_backend_ops *ops;
    fw_backend *be;
    fw_model *model;
    fw_head head;
    int head_ready;
    fw_param_list params; /* model tensors then head tensors (borrowed) */
    fw_optim *optim;
    fw_train_update update; /* norm, clipping and the optimizer step: host or backend */
    int64_t steps, skipped;
    fw_loss_scaler scaler;
    fw_micro_batch micro; /* k micro-batches per step (gradient accumulation) */
    int started;          /* a step went through in this process */
    int oom_retries;      /* start-up halvings after running out of memory */
    char oom_reason[sizeof(((fw_error *)0)->msg)]; /* the last out-of-memory error */
    float *emb, *d_emb;   /* (cap_n, D) */
    int cap_n;
    /* data parallel (dist with > 1 rank) */
    int ranks, rank;
    float *flat;          /* (n_flat) model gradients, one all-reduce (host update only:
                             made on first use) */
    size_t n_flat;
    int *counts;          /* (ranks) rows of each rank's shard */
    float *gather_emb;    /* (ranks * max_n, D) padded all-gather */
    int *gather_lab, *all_lab; /* (ranks * max_n), (N) */
    float *all_emb, *all_d_emb; /* (N, D) */
    int cap_gather, cap_all;
    double fixed_lr;      /* >= 0: LR finder in progress, use this lr */
};

static int ensure_batch_buffers(fw_learner *l, int n, fw_error *err)
{
    if (n <= l->cap_n)
        return FW_OK;
    size_t d = (size_t)l->cfg.model.embedding_dim;
    float *e = realloc(l->emb, (size_t)n * d * sizeof *e);
    if (e)
        l->emb = e;
    float *de = e ? realloc(l->d_emb, (size_t)n * d * sizeof *de) : NULL;
    if (de)
        l->d_emb = de;
    if (!e || !de)
        return fw_fail(err, FW_ENOMEM, "learner: cannot allocate embeddings for %d images", n);
    l->cap_n = n;
    return FW_OK;
}

static int dist_setup(fw_learner *l, fw_error *err);

/* The tensors the backend holds: the model's, and a head term's it computes. */
static int param_on_backend(const fw_param *p, void *ctx)
{
    const fw_learner *l = ctx;
    return !(p->flags & FW_PARAM_HEAD) || fw_head_param_on_backend(&l->head, p);
}

int fw_learner_create(const fw_backend_ops *ops, const fw_learner_config *cfg,
                      fw_learner **out, fw_error *err)
{
    *out = NULL;
    FW_TRY(fw_schedule_validate(&cfg->schedule, err));
    fw_learner *l = calloc(1, sizeof *l);
    if (!l)
        return fw_fail(err, FW_ENOMEM, "learner: out of memory");
    l->cfg = *cfg;
    l->cfg.head.emb_dim = cfg->model.embedding_dim;
    l->ops = ops;
    l->fixed_lr = -1;
    fw_loss_scaler_init(&l->scaler, cfg->loss_scale > 0, cfg->loss_scale);
    fw_micro_batch_init(&l->micro, cfg->micro_batches);
    fw_param_list_init(&l->params);
    fw_backend_options bopt = {
        .threads = cfg->threads, .device = cfg->device, .precision = cfg->precision};
    int rc = ops->create(&bopt, &l->be, err);
    if (rc == FW_OK)
        rc = fw_model_create(ops, l->be, &l->cfg.model, &l->model, err);
    if (rc == FW_OK && (rc = fw_head_init(&l->head, &l->cfg.head, err)) == FW_OK)
        l->head_ready = 1;
    if (rc == FW_OK)
        rc = fw_head_use_backend(&l->head, ops, l->be, err);
    const fw_param_list *mp = rc == FW_OK ? fw_model_params(l->model) : NULL;
    for (int i = 0; rc == FW_OK && i < mp->n; i++)
        rc = fw_param_list_append(&l->params, mp->items[i], err);
    if (rc == FW_OK)
        rc = fw_head_add_params(&l->head, &l->params, err);
    if (rc == FW_OK)
        rc = fw_optim_create(&l->optim, &l->cfg.optim, &l->params, err);
    if (rc == FW_OK)
        rc = dist_setup(l, err);
    /* (data parallel needs the backend to sum its own gradients) */
    if (rc == FW_OK)
        rc = fw_train_update_init(&l->update, ops, l->be, l->optim, &l->params,
                                  l->ranks <= 1 || ops->update_allreduce, param_on_backend, l,
                                  err);
    if (rc < 0) {
        fw_learner_destroy(l);
        return rc;
    }
    *out = l;
    return FW_OK;
}

void fw_learner_destroy(fw_learner *l)
{
    if (!l)
        return;
    fw_train_update_free(&l->update); /* (zeroed when init never ran or failed) */
    fw_optim_destroy(l->optim);
    fw_param_list_free(&l->params);
    if (l->head_ready)
        fw_head_free(&l->head);
    fw_model_destroy(l->model);
    fw_micro_batch_free(&l->micro);
    if (l->be)
        l->ops->destroy(l->be);
    free(l->emb);
    free(l->d_emb);
    free(l->flat);
    free(l->counts);
    free(l->gather_emb);
    free(l->gather_lab);
    free(l->all_lab);
    free(l->all_emb);
    free(l->all_d_emb);
    free(l);
}

int64_t fw_learner_steps_done(const fw_learner *l) { return l->steps; }
int64_t fw_learner_steps_skipped(const fw_learner *l) { return l->skipped; }
const fw_loss_scaler *fw_learner_loss_scaler(const fw_learner *l) { return &l->scaler; }

/* Loss scaling around the model's backward: d_emb (n, D) *= S before it. */
static void scale_rows(float *d_emb, int n, int dim, double scale)
{
    if (scale == 1.0)
        return;
    size_t count = (size_t)n * (size_t)dim;
    float s = (float)scale;
    for (size_t i = 0; i < count; i++)
        d_emb[i] *= s;
}

fw_param_list *fw_learner_params(fw_learner *l) { return &l->params; }

int fw_learner_sync_host(fw_learner *l, fw_error *err)
{
    return fw_train_update_to_host(&l->update, err);
}
fw_model *fw_learner_model(fw_learner *l) { return l->model; }

/* ---- data parallel ------------------------------------------------------------------ */

/* Model tensors that have gradients (not the head's, not buffers). */
static int is_model_grad(const fw_param *p)
{
    return p->grad && !(p->flags & FW_PARAM_HEAD);
}

static int dist_setup(fw_learner *l, fw_error *err)
{
    l->ranks = fw_dist_size(l->cfg.dist);
    l->rank = fw_dist_rank(l->cfg.dist);
    if (l->ranks <= 1)
        return FW_OK;
    FW_TRY(fw_model_set_bn_sync(l->model, fw_dist_bn_sync, l->cfg.dist, err));
    for (int i = 0; i < l->params.n; i++)
        if (is_model_grad(l->params.items[i]))
            l->n_flat += (size_t)l->params.items[i]->numel;
    l->counts = malloc((size_t)l->ranks * sizeof *l->counts);
    if (!l->counts)
        return fw_fail(err, FW_ENOMEM, "learner: out of memory for %d ranks", l->ranks);
    return FW_OK;
}

/* Grow a buffer of `n` elements of `size` bytes (kept when large enough). */
static int grow(void **buf, size_t n, size_t size, fw_error *err)
{
    void *p = realloc(*buf, (n ? n : 1) * size);
    if (!p)
        return fw_fail(err, FW_ENOMEM, "learner: cannot allocate %zu x %zu bytes", n, size);
    *buf = p;
    return FW_OK;
}

/* Sum the model's gradients over the ranks (one flat buffer). */
static int allreduce_model_grads(fw_learner *l, fw_error *err)
{
    if (!l->flat)
        FW_TRY(grow((void **)&l->flat, l->n_flat, sizeof *l->flat, err));
    size_t off = 0;
    for (int i = 0; i < l->params.n; i++) {
        fw_param *p = l->params.items[i];
        if (is_model_grad(p)) {
            memcpy(l->flat + off, p->grad, (size_t)p->numel * sizeof(float));
            off += (size_t)p->numel;
        }
    }
    FW_TRY(fw_dist_allreduce_sum_f32(l->cfg.dist, l->flat, l->n_flat, err));
    off = 0;
    for (int i = 0; i < l->params.n; i++) {
        fw_param *p = l->params.items[i];
        if (is_model_grad(p)) {
            memcpy(p->grad, l->flat + off, (size_t)p->numel * sizeof(float));
            off += (size_t)p->numel;
        }
    }
    return FW_OK;
}

/* Forward this rank's shard, gather the whole batch's embeddings and labels,
 * and the head's loss and d_emb on it; *my_d_emb: this rank's rows of d_emb.
 * res->loss is set (the same on every rank). */
static int dist_forward_loss(fw_learner *l, const fw_batch_input *in, const int *labels, int n,
                             int h, int w, fw_step_result *res, float **my_d_emb, fw_error *err)
{
    fw_dist *d = l->cfg.dist;
    int D = l->cfg.model.embedding_dim;
    FW_TRY(fw_dist_allgather(d, &n, l->counts, sizeof n, err));
    int total = 0, max_n = 0, offset = 0;
    for (int r = 0; r < l->ranks; r++) {
        /* every rank runs the model (its BN layers sync in every forward and
         * backward): no empty shards; the same error on every rank */
        if (l->counts[r] < 1)
            return fw_fail(err, FW_EINVAL, "learner: rank %d has an empty shard (%d rows)", r,
                           l->counts[r]);
        if (r < l->rank)
            offset += l->counts[r];
        total += l->counts[r];
        if (l->counts[r] > max_n)
            max_n = l->counts[r];
    }
    if (total < 2)
        return fw_fail(err, FW_EINVAL, "learner: a batch of %d images over %d ranks", total,
                       l->ranks);
    /* the same number of micro-batches (and so of synced BN calls) on every rank */
    for (int r = 0; r < l->ranks; r++)
        if (l->counts[r] < l->micro.k)
            return fw_fail(err, FW_EINVAL,
                           "learner: micro_batches %d exceeds rank %d's shard of %d images",
                           l->micro.k, r, l->counts[r]);
    size_t gather_rows = (size_t)l->ranks * (size_t)max_n;
    if (gather_rows > (size_t)l->cap_gather) {
        FW_TRY(grow((void **)&l->gather_emb, gather_rows * (size_t)D, sizeof(float), err));
        FW_TRY(grow((void **)&l->gather_lab, gather_rows, sizeof(int), err));
        l->cap_gather = (int)gather_rows;
    }
    if (total > l->cap_all) {
        FW_TRY(grow((void **)&l->all_emb, (size_t)total * (size_t)D, sizeof(float), err));
        FW_TRY(grow((void **)&l->all_d_emb, (size_t)total * (size_t)D, sizeof(float), err));
        FW_TRY(grow((void **)&l->all_lab, (size_t)total, sizeof(int), err));
        l->cap_all = total;
    }
    /* this rank's block of the padded gather: its rows, then zeros */
    FW_TRY(ensure_batch_buffers(l, max_n, err));
    FW_TRY(fw_micro_batch_forward(&l->micro, l->model, (uint64_t)l->steps, in, n, h, w, l->emb,
                                  err));
    memset(l->emb + (size_t)n * D, 0, (size_t)(max_n - n) * D * sizeof(float));
    FW_TRY(fw_dist_allgather(d, l->emb, l->gather_emb, (size_t)max_n * D * sizeof(float), err));
    /* the labels padded the same way */
    /* (sent from all_lab: it holds total >= max_n ints and is filled only after) */
    int *mine = l->all_lab;
    for (int i = 0; i < max_n; i++)
        mine[i] = i < n ? labels[i] : 0;
    FW_TRY(fw_dist_allgather(d, mine, l->gather_lab, (size_t)max_n * sizeof *mine, err));
    for (int r = 0, at = 0; r < l->ranks; r++) {
        memcpy(l->all_emb + (size_t)at * D, l->gather_emb + (size_t)r * max_n * D,
               (size_t)l->counts[r] * D * sizeof(float));
        memcpy(l->all_lab + at, l->gather_lab + (size_t)r * max_n,
               (size_t)l->counts[r] * sizeof(int));
        at += l->counts[r];
    }
    *my_d_emb = l->all_d_emb + (size_t)offset * D;
    return fw_head_loss(&l->head, l->all_emb, l->all_lab, total, l->all_d_emb, &res->loss, err);
}

/* One attempt at a step (fw_learner_step retries it on a start-up OOM). */
static int step_once(fw_learner *l, const fw_batch_input *in, const int *labels, int n, int h,
                     int w, fw_step_result *res, fw_error *err)
{
    memset(res, 0, sizeof *res);
    fw_train_update_zero_grads(&l->update);
    float *d_emb = NULL; /* this rank's rows of d_emb */
    if (l->ranks > 1) {
        FW_TRY(dist_forward_loss(l, in, labels, n, h, w, res, &d_emb, err));
    } else {
        FW_TRY(ensure_batch_buffers(l, n, err));
        FW_TRY(fw_micro_batch_forward(&l->micro, l->model, (uint64_t)l->steps, in, n, h, w,
                                      l->emb, err));
        FW_TRY(fw_head_loss(&l->head, l->emb, labels, n, l->d_emb, &res->loss, err));
        d_emb = l->d_emb;
    }
    if (!isfinite(res->loss)) {
        res->skipped = 1;
        res->grad_norm = NAN;
        l->skipped++;
        return FW_OK;
    }
    res->loss_scale = fw_loss_scaler_scale(&l->scaler);
    scale_rows(d_emb, n, l->cfg.model.embedding_dim, res->loss_scale);
    FW_TRY(fw_micro_batch_backward(&l->micro, l->model, (uint64_t)l->steps, in, n, h, w, d_emb,
                                   err));
    if (l->ranks > 1 && l->update.on_backend)
        FW_TRY(fw_train_update_allreduce(&l->update, fw_dist_allreduce_sum_buffers, l->cfg.dist,
                                         err));
    else if (l->ranks > 1)
        FW_TRY(allreduce_model_grads(l, err));
    fw_schedule_point sp = fw_schedule_at(&l->cfg.schedule, l->steps);
    double lr = l->fixed_lr >= 0 ? l->fixed_lr : sp.lr;
    fw_update_result up;
    FW_TRY(fw_train_update_apply(&l->update, &l->scaler, res->loss_scale, l->cfg.clip_norm, lr,
                                 sp.momentum, &up, err));
    res->grad_norm = up.grad_norm;
    res->overflow = up.overflow;
    if (up.skipped) {
        res->skipped = 1;
        l->skipped++;
        return FW_OK;
    }
    res->lr = lr;
    res->momentum = sp.momentum;
    l->steps++;
    return FW_OK;
}

int fw_learner_step(fw_learner *l, const float *x, const int *labels, int n, int h, int w,
                    fw_step_result *res, fw_error *err)
{
    fw_batch_input in = {.x = x};
    return fw_learner_step_input(l, &in, labels, n, h, w, res, err);
}

int fw_learner_set_image_cache(fw_learner *l, const uint8_t *cache, int64_t items, int sw,
                               int sh, int sc, fw_error *err)
{
    return fw_model_set_image_cache(l->model, cache, items, sw, sh, sc, err);
}

int fw_learner_step_input(fw_learner *l, const fw_batch_input *in, const int *labels, int n,
                          int h, int w, fw_step_result *res, fw_error *err)
{
    for (;;) {
        /* (data parallel: every rank must split alike, so no retry there) */
        int starting = !l->started && l->ranks <= 1;
        if (starting)
            FW_TRY(fw_micro_batch_save_stats(&l->micro, l->model, err));
        int rc = step_once(l, in, labels, n, h, w, res, err);
        if (rc == FW_OK) {
            l->started = 1;
            res->micro_batches = l->micro.k < n ? l->micro.k : n;
            return FW_OK;
        }
        /* Out of memory before any step went through: halve the micro-batch. */
        if (rc != FW_ENOMEM || !starting || l->micro.k >= n)
            return rc;
        fw_micro_batch_restore_stats(&l->micro, l->model);
        snprintf(l->oom_reason, sizeof l->oom_reason, "%s", err->msg);
        l->micro.k = l->micro.k * 2 < n ? l->micro.k * 2 : n;
        l->oom_retries++;
    }
}

int fw_learner_micro_batches(const fw_learner *l) { return l->micro.k; }

const char *fw_learner_oom_reason(const fw_learner *l, int *retries)
{
    if (retries)
        *retries = l->oom_retries;
    return l->oom_reason;
}

int fw_learner_embed(fw_learner *l, const float *x, int n, int h, int w, float *emb,
                     fw_error *err)
{
    return fw_model_forward(l->model, 0, (uint64_t)l->steps, x, n, h, w, emb, err);
}

int fw_learner_head_loss(fw_learner *l, const float *emb, const int *labels, int n,
                         double *loss, fw_error *err)
{
    return fw_head_loss(&l->head, emb, labels, n, NULL, loss, err);
}

static fw_ckpt_content make_content(fw_learner *l, const fw_learner_position *pos,
                                    const char *config_text, learner_state_blob *blob)
{
    *blob = (learner_state_blob){LEARNER_BLOB_MAGIC, l->cfg.model.seed, l->steps, l->skipped,
                                 l->scaler.scale, l->scaler.clean_steps, l->scaler.overflows};
    fw_ckpt_content c = {0};
    c.meta.step = (uint64_t)l->steps;
    if (pos) {
        c.meta.epoch = pos->epoch;
        c.meta.sampler_epoch = pos->sampler_epoch;
        c.meta.sampler_batch = pos->sampler_batch;
        c.meta.best_metric = pos->best_metric;
        c.meta.best_step = pos->best_step;
        c.meta.has_best = pos->has_best;
    }
    c.model = &l->params;
    c.optim = fw_optim_state(l->optim);
    c.rng = blob;
    c.rng_len = sizeof *blob;
    c.config = config_text;
    return c;
}

int fw_learner_save(fw_learner *l, const char *path, const fw_learner_position *pos,
                    const char *config_text, fw_error *err)
{
    learner_state_blob blob;
    FW_TRY(fw_train_update_to_host(&l->update, err));
    fw_ckpt_content c = make_content(l, pos, config_text, &blob);
    return fw_ckpt_save(path, &c, err);
}

int fw_learner_save_to_store(fw_learner *l, const char *dir, const fw_learner_position *pos,
                             const char *config_text, int is_best, int keep_last,
                             fw_error *err)
{
    learner_state_blob blob;
    FW_TRY(fw_train_update_to_host(&l->update, err));
    fw_ckpt_content c = make_content(l, pos, config_text, &blob);
    return fw_ckpt_store_save(dir, &c, is_best, keep_last, err);
}

int fw_learner_restore(fw_learner *l, const fw_ckpt *ck, fw_learner_position *pos,
                       fw_error *err)
{
    learner_state_blob blob;
    if (ck->rng_len != sizeof blob && ck->rng_len != LEARNER_BLOB_V1_SIZE)
        return fw_fail(err, FW_EFORMAT, "%s: learner state has %zu bytes, expected %zu",
                       ck->path, ck->rng_len, sizeof blob);
    /* A version-1 blob (before loss scaling) leaves the scaler as configured. */
    blob.loss_scale = l->scaler.scale;
    blob.scale_clean_steps = l->scaler.clean_steps;
    blob.scale_overflows = l->scaler.overflows;
    memcpy(&blob, ck->rng, ck->rng_len);
    if (blob.magic != LEARNER_BLOB_MAGIC || blob.steps < 0 || blob.skipped < 0 ||
        !(blob.loss_scale > 0) || blob.scale_clean_steps < 0 || blob.scale_overflows < 0)
        return fw_fail(err, FW_EFORMAT, "%s: not a learner checkpoint", ck->path);
    if (blob.seed != l->cfg.model.seed)
        return fw_fail(err, FW_EINVAL, "%s: saved with seed %llu, this run has seed %llu",
                       ck->path, (unsigned long long)blob.seed,
                       (unsigned long long)l->cfg.model.seed);
    /* The host copy is whole before part of it is overwritten. */
    FW_TRY(fw_train_update_to_host(&l->update, err));
    /* Every tensor is checked before anything is copied (fw_ckpt_read_params). */
    FW_TRY(fw_ckpt_read_params(ck, FW_CKPT_SECTION_MODEL, &l->params, 0, NULL, err));
    int rc = fw_ckpt_read_params(ck, FW_CKPT_SECTION_OPTIM, fw_optim_state(l->optim), 0, NULL,
                                 err);
    fw_train_update_host_written(&l->update);
    if (rc < 0)
        return rc;
    l->steps = blob.steps;
    l->skipped = blob.skipped;
    if (l->scaler.enabled) {
        l->scaler.scale = blob.loss_scale;
        l->scaler.clean_steps = blob.scale_clean_steps;
        l->scaler.overflows = blob.scale_overflows;
    }
    if (pos) {
        pos->epoch = ck->meta.epoch;
        pos->sampler_epoch = ck->meta.sampler_epoch;
        pos->sampler_batch = ck->meta.sampler_batch;
        pos->best_metric = ck->meta.best_metric;
        pos->best_step = ck->meta.best_step;
        pos->has_best = ck->meta.has_best;
    }
    return FW_OK;
}

int fw_learner_load(fw_learner *l, const char *path, fw_learner_position *pos, fw_error *err)
{
    fw_ckpt ck;
    FW_TRY(fw_ckpt_open(path, &ck, err));
    int rc = fw_learner_restore(l, &ck, pos, err);
    fw_ckpt_close(&ck);
    return rc;
}

int fw_learner_load_pretrained(fw_learner *l, const char *path, fw_pretrained_report *report,
                               fw_error *err)
{
    /* The backbone: every model tensor outside the neck. */
    const fw_param_list *all = fw_model_params(l->model);
    FW_TRY(fw_train_update_to_host(&l->update, err)); /* (else the host's copy is stale) */
    fw_param_list backbone;
    fw_param_list_init(&backbone);
    int rc = FW_OK;
    for (int i = 0; rc == FW_OK && i < all->n; i++)
        if (strncmp(all->items[i]->name, "neck.", 5) != 0)
            rc = fw_param_list_append(&backbone, all->items[i], err);
    fw_pretrained_report local;
    fw_pretrained_opts opts = {0};
    if (rc == FW_OK)
        rc = fw_safetensors_load_params(path, &backbone, &opts, report ? report : &local, err);
    fw_param_list_free(&backbone);
    fw_train_update_host_written(&l->update);
    return rc;
}

typedef struct lr_find_ctx {
    fw_learner *l;
    fw_learner_batch_fn batch;
    void *batch_ctx;
    int i;
} lr_find_ctx;

static int lr_find_step(void *p, double lr, double *loss, fw_error *err)
{
    lr_find_ctx *c = p;
    const float *x;
    const int *labels;
    int n, h, w;
    FW_TRY(c->batch(c->batch_ctx, c->i++, &x, &labels, &n, &h, &w, err));
    c->l->fixed_lr = lr;
    fw_step_result r;
    int rc = fw_learner_step(c->l, x, labels, n, h, w, &r, err);
    c->l->fixed_lr = -1;
    *loss = r.loss;
    return rc;
}

int fw_learner_lr_find(fw_learner *l, const fw_lr_finder_config *cfg, fw_learner_batch_fn batch,
                       void *ctx, fw_lr_finder_result *res, fw_error *err)
{
    int64_t steps = l->steps, skipped = l->skipped;
    fw_loss_scaler scaler = l->scaler;
    FW_TRY(fw_train_update_to_host(&l->update, err)); /* the finder saves the host copy */
    fw_param_list *lists[2] = {&l->params, fw_optim_state(l->optim)};
    lr_find_ctx c = {l, batch, ctx, 0};
    int rc = fw_lr_find(cfg, lists, 2, lr_find_step, &c, res, err);
    fw_train_update_host_written(&l->update); /* the finder wrote the weights back */
    l->steps = steps;
    l->skipped = skipped;
    l->scaler = scaler;
    return rc;
}
