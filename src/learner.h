/* learner.h — one training step and its state, wired together: the model
 * (backbone + neck) on a backend, the head's losses, the optimizer, the
 * lr/momentum schedule, gradient clipping, the LR finder and checkpoints.
 *
 * The step (fw_learner_step) on a batch x (N, C, H, W) with labels (N):
 *   zero grads → model forward (train) → head loss and d_emb → model backward
 *   → clip by global norm → lr, momentum = schedule(step) → optimizer step.
 * The step's gradients (after clipping) stay in every fw_param.grad until the
 * next step zeroes them, for inspection and logging.
 * A non-finite loss or gradient norm skips the update: nothing is changed but
 * the BN running statistics of that forward, the schedule does not advance,
 * and the skip is counted. With loss scaling (cfg.loss_scale > 0, fp16),
 * d_emb is multiplied by the scale S before the model's backward and the
 * model's gradients by 1/S after it; non-finite scaled gradients are an
 * overflow: S halves and the step is skipped as above (loss_scale.h).
 *
 * With cfg.micro_batches k > 1 the model runs the batch as k micro-batches
 * and accumulates their gradients (micro_batch.h); the head's loss is still
 * the whole batch's. When the backend runs out of memory (FW_ENOMEM) before
 * any step of this learner went through, the step puts the running
 * statistics back, doubles k (up to one image per micro-batch) and tries
 * again; fw_learner_oom_reason says what happened.
 *
 * Everything that decides the next step is in the checkpoint: weights and
 * buffers (model and head), optimizer state, the step and skip counts, the
 * loss scaler (scale, clean steps, overflows), the
 * seed (dropout masks derive from (seed, step)), so on the CPU a resumed run
 * continues bit-exactly (same thread count).
 */
#ifndef FW_LEARNER_H
#define FW_LEARNER_H

#include <stdint.h>

#include "backend.h"
#include "checkpoint.h"
#include "dist.h"
#include "fw_error.h"
#include "head.h"
#include "loss_scale.h"
#include "lr_finder.h"
#include "micro_batch.h"
#include "model.h"
#include "optim.h"
#include "param.h"
#include "safetensors.h"
#include "schedule.h"

typedef struct fw_learner_config {
    fw_model_config model;       /* model.seed also seeds dropout masks */
    fw_head_config head;         /* head.emb_dim is set from model.embedding_dim */
    fw_optim_config optim;
    fw_schedule_config schedule;
    double clip_norm;            /* clip gradients to this global norm (<= 0: no clipping) */
    int threads;                 /* backend threads (<= 0: all CPUs) */
    int device;                  /* GPU index for a GPU backend */
    fw_precision precision;      /* backend precision (fp32 on the CPU) */
    double loss_scale;           /* > 0: dynamic loss scaling from this scale (fp16);
                                    0: none (see loss_scale.h) */
    int micro_batches;           /* run each batch as this many micro-batches (<= 1:
                                    one; see micro_batch.h) */
    fw_dist *dist;               /* data-parallel group (not owned); NULL or 1 rank:
                                    single process */
} fw_learner_config;

typedef struct fw_step_result {
    double loss;        /* the batch's loss before the update */
    double grad_norm;   /* global gradient norm before clipping */
    double lr, momentum;/* used for the update */
    int skipped;        /* 1: non-finite loss or gradients, no update */
    int overflow;       /* 1: skipped for a loss-scaling overflow (the scale halved) */
    double loss_scale;  /* the scale this step's backward used (1: none) */
    int micro_batches;  /* micro-batches the step ran as */
} fw_step_result;

/* Where a run stands; saved in and restored from checkpoints. */
typedef struct fw_learner_position {
    int64_t epoch;
    int64_t sampler_epoch, sampler_batch; /* the next batch to draw */
    double best_metric;
    int64_t best_step;
    int has_best;
} fw_learner_position;

typedef struct fw_learner fw_learner;

/* Create the backend (ops with cfg->threads, device, precision), the model, head and optimizer.
 * Validates the schedule. */
int fw_learner_create(const fw_backend_ops *ops, const fw_learner_config *cfg,
                      fw_learner **out, fw_error *err);
void fw_learner_destroy(fw_learner *l);

/* One training step (see the top of this file).
 *
 * Data parallel (cfg.dist with more than one rank): every rank calls it at
 * the same time with ITS SHARD of the batch (x, labels: its n rows; shards
 * may differ in size but none may be empty; the batch is their concatenation
 * in rank order). Every BN layer is a SyncBatchNorm; the embeddings and
 * labels are all-gathered (padded to the largest shard), the head's loss and
 * gradients are computed on the whole batch on every rank (identical, so the
 * head's gradients are complete), the model backward runs on this rank's
 * rows of d_emb and the model's gradients are summed over the ranks in one
 * flat all-reduce; clipping and the optimizer then run identically
 * everywhere. res->loss is the whole batch's. The result equals one process
 * on the whole batch up to fp32 rounding, except dropout: the neck's masks
 * are drawn per element of the shard, so with dropout > 0 the ranks draw
 * different (equally distributed) masks than one process would. */
int fw_learner_step(fw_learner *l, const float *x, const int *labels, int n, int h, int w,
                    fw_step_result *res, fw_error *err);

/* The same step on an input made on the backend (micro_batch.h's
 * fw_batch_input: plain pixels, or per-sample augmentation parameters and
 * cache items after fw_learner_set_image_cache). */
int fw_learner_step_input(fw_learner *l, const fw_batch_input *in, const int *labels, int n,
                          int h, int w, fw_step_result *res, fw_error *err);
/* Hand the decoded image cache (items, sh, sw, sc) uint8 to the backend for
 * fw_learner_step_input with parameters (it must outlive the learner). */
int fw_learner_set_image_cache(fw_learner *l, const uint8_t *cache, int64_t items, int sw,
                               int sh, int sc, fw_error *err);

/* Micro-batches per step now (cfg.micro_batches, doubled by start-up OOMs). */
int fw_learner_micro_batches(const fw_learner *l);
/* The last out-of-memory error that doubled the micro-batches ("" if none)
 * and how many doublings there were. */
const char *fw_learner_oom_reason(const fw_learner *l, int *retries);

/* Embeddings in eval mode: x (N, C, H, W) -> emb (N, D). */
int fw_learner_embed(fw_learner *l, const float *x, int n, int h, int w, float *emb,
                     fw_error *err);

/* The head's loss on embeddings emb (N, D) with labels (N), without gradients
 * (validation loss). */
int fw_learner_head_loss(fw_learner *l, const float *emb, const int *labels, int n,
                         double *loss, fw_error *err);

int64_t fw_learner_steps_done(const fw_learner *l);    /* updates applied */
int64_t fw_learner_steps_skipped(const fw_learner *l); /* non-finite steps skipped */
/* The loss scaler's state (scale 1 and nothing counted when scaling is off). */
const fw_loss_scaler *fw_learner_loss_scaler(const fw_learner *l);

/* Model and head tensors (state_dict order, then "head.*"). */
fw_param_list *fw_learner_params(fw_learner *l);
/* Where the backend updates the model (a GPU), bring its weights and the
 * optimizer's moments to the host: fw_learner_params' data are current after
 * it. Checkpoints and the LR finder call it themselves. */
int fw_learner_sync_host(fw_learner *l, fw_error *err);
fw_model *fw_learner_model(fw_learner *l);

/* Save a checkpoint atomically to `path` (config_text: the run's config). */
int fw_learner_save(fw_learner *l, const char *path, const fw_learner_position *pos,
                    const char *config_text, fw_error *err);
/* The same through the checkpoint store in `dir` (keep the last keep_last + best). */
int fw_learner_save_to_store(fw_learner *l, const char *dir, const fw_learner_position *pos,
                             const char *config_text, int is_best, int keep_last,
                             fw_error *err);

/* Restore everything from an open checkpoint (it must come from a learner of
 * the same configuration: every tensor is checked by name and shape). */
int fw_learner_restore(fw_learner *l, const fw_ckpt *ck, fw_learner_position *pos,
                       fw_error *err);
int fw_learner_load(fw_learner *l, const char *path, fw_learner_position *pos, fw_error *err);

/* Load pretrained backbone weights (torchvision/timm ResNet names) from a
 * .safetensors file into the model: every backbone tensor must be there with
 * its shape (conv1 is summed over RGB for a 1-channel model; "fc.*" is
 * skipped); the neck and head keep their initialisation. Nothing is written
 * unless everything loads. report may be NULL. */
int fw_learner_load_pretrained(fw_learner *l, const char *path, fw_pretrained_report *report,
                               fw_error *err);

/* The batch for LR-finder step i: fill *x (N, C, H, W), *labels (N), *n, *h, *w
 * (pointers stay valid until the next call). */
typedef int (*fw_learner_batch_fn)(void *ctx, int i, const float **x, const int **labels,
                                   int *n, int *h, int *w, fw_error *err);

/* LR range test on this learner: runs the sweep with real steps, then puts
 * back every weight, buffer, optimizer state and the step count. */
int fw_learner_lr_find(fw_learner *l, const fw_lr_finder_config *cfg, fw_learner_batch_fn batch,
                       void *ctx, fw_lr_finder_result *res, fw_error *err);

#endif
