/* train_update.h — the update after a backward pass: the loss scaler's
 * overflow check and unscaling, the gradient norm and clipping, and the
 * optimizer step, on the host or, where the backend offers it
 * (update_bind, e.g. the GPU), on the backend for the model's tensors.
 *
 * On the backend the gradients of the tensors it holds stay in its memory:
 * the norm comes from update_grad_sumsq, the unscaling and clipping are one
 * factor per tensor folded into update_step, and only the tensors the host
 * computes (head terms on the host) are updated here. The results match the host update: the same per-element
 * math (optim_math.h), the same per-tensor order of the norm's sums.
 * While the backend holds newer weights than the host, fw_train_update_to_host
 * brings them (and the optimizer's moments) back; call it before reading or
 * writing fw_param.data of the model.
 *
 * FLUKEWATCH_UPDATE=host keeps the whole update on the host (for A/B
 * benchmarks); unset or "auto": on the backend when it can.
 */
#ifndef FW_TRAIN_UPDATE_H
#define FW_TRAIN_UPDATE_H

#include "backend.h"
#include "loss_scale.h"
#include "optim.h"

typedef struct fw_train_update {
    const fw_backend_ops *ops;
    fw_backend *be;
    fw_optim *optim;
    fw_param_list *params;    /* every tensor (model then head), borrowed */
    int on_backend;           /* the model's tensors are updated by the backend */
    int host_stale;           /* the backend's weights are newer than the host's */
    int *bound;               /* (n_bound) indices into fw_optim_tensors */
    int n_bound;
    fw_optim_coeffs *coeffs;  /* (n_bound) this step's, in bind order */
    float *mult;              /* (n_bound) this step's gradient multipliers */
    int *model;               /* (n_bound) 1: a model tensor (loss-scaled, summed over
                                 ranks), 0: a head tensor */
    int *held;                /* (params->n) 1: the backend computes and updates it */
} fw_train_update;

/* What one update did (fields of the learner's step result). */
typedef struct fw_update_result {
    int skipped;      /* no update: non-finite gradients */
    int overflow;     /* ... because the scaled gradients overflowed */
    double grad_norm; /* before clipping; NaN when skipped by an overflow */
} fw_update_result;

/* Which tensors the backend holds (its layers' parameters, a head term it
 * computes): 1 for those. */
typedef int (*fw_on_backend_fn)(const fw_param *p, void *ctx);

/* allow_backend: 0 keeps everything on the host (data parallel through the
 * host, or the environment says so). The loss scale applies to the model's
 * tensors (without FW_PARAM_HEAD). */
int fw_train_update_init(fw_train_update *u, const fw_backend_ops *ops, fw_backend *be,
                         fw_optim *optim, fw_param_list *params, int allow_backend,
                         fw_on_backend_fn on_backend, void *ctx, fw_error *err);
/* (after a failed init nothing is left to free; free is harmless anyway) */
void fw_train_update_free(fw_train_update *u);

/* Data parallel, before fw_train_update_apply: sum the gradients of the
 * model's tensors the backend holds over the ranks with fn(ctx, ...) (the
 * head's are computed on the whole batch on every rank: not summed). A no-op
 * when the update is on the host. */
int fw_train_update_allreduce(fw_train_update *u, fw_buffers_sum_fn fn, void *ctx,
                              fw_error *err);

/* Start a step's gradients: zero those the host computes into, and drop
 * what the backend still holds of an earlier step (discard_pending). */
void fw_train_update_zero_grads(fw_train_update *u);

/* The update of one step whose model gradients were computed with loss scale
 * `scale` (1: none): check, unscale, clip (clip_norm > 0), then lr/momentum
 * and step. *scaler may be disabled. */
int fw_train_update_apply(fw_train_update *u, fw_loss_scaler *scaler, double scale,
                          double clip_norm, double lr, double momentum,
                          fw_update_result *res, fw_error *err);

/* The host wrote fw_param.data (a checkpoint, the LR finder's restore):
 * params_updated, and the host copy is the current one. */
void fw_train_update_host_written(fw_train_update *u);

/* Bring the backend's newer weights and moments to the host (no-op when the
 * host is current). */
int fw_train_update_to_host(fw_train_update *u, fw_error *err);

#endif
