/* model.h — the embedding model: a ResNet backbone (resnet.h) plus the neck
 * (neck.h), on a compute backend. Input images (N, C, H, W) -> embeddings (N, D).
 *
 *     fw_model_config cfg;
 *     fw_model_config_default(&cfg);              // ResNet-18, 1 channel, GeM, 512-d
 *     fw_model *m;
 *     FW_TRY(fw_model_create(ops, be, &cfg, &m, err)); // initialised from cfg.seed
 *     fw_model_zero_grad(m);
 *     FW_TRY(fw_model_forward(m, 1, step, x, n, h, w, emb, err));  // emb (N, D)
 *     ... loss: d_emb = dL/demb (N, D) ...
 *     FW_TRY(fw_model_backward(m, d_emb, err));   // += into every fw_param.grad
 *     ... optimizer step on fw_model_params(m) ..., then fw_model_params_updated(m)
 *
 * Parameters: fw_model_params() lists every tensor (parameters and buffers) in
 * PyTorch state_dict order under torchvision's names plus "neck.*" (see neck.h).
 * BN weights/biases, biases and GeM's p carry FW_PARAM_NO_DECAY; running stats
 * and num_batches_tracked FW_PARAM_BUFFER (grad NULL). The model owns them.
 *
 * Determinism: for one seed and one thread count, results are bitwise repeatable.
 */
#ifndef FW_MODEL_H
#define FW_MODEL_H

#include <stdint.h>

#include "backend.h"
#include "neck.h"
#include "param.h"

typedef struct fw_model_config {
    int arch;           /* ResNet depth: 18, 34 or 50 */
    int in_channels;    /* 1 or 3 */
    float width_mult;   /* base width = round(64 * width_mult), at least 1 */
    int embedding_dim;  /* D (512) */
    fw_neck_pool pool;  /* FW_NECK_GEM or FW_NECK_AVG */
    float gem_p;        /* GeM's initial p (3) */
    float dropout;      /* before the neck's fc (0: none) */
    uint64_t seed;      /* weight initialisation and dropout masks */
} fw_model_config;

typedef struct fw_model fw_model;

/* ResNet-18, 1 input channel, width 1, D = 512, GeM (p 3), no dropout, seed 0. */
void fw_model_config_default(fw_model_config *cfg);

/* Build the model and initialise it as torchvision does (fw_model_init(cfg->seed)).
 * The backend must outlive the model. */
int fw_model_create(const fw_backend_ops *ops, fw_backend *be, const fw_model_config *cfg,
                    fw_model **out, fw_error *err);
void fw_model_destroy(fw_model *m);

/* Re-initialise every tensor from seed: convs kaiming-normal (fan_out, ReLU),
 * BN weight 1 / bias 0 / running stats 0 and 1, fc as nn.Linear's default
 * (uniform +-1/sqrt(fan_in)), GeM p = cfg.gem_p. Calls fw_model_params_updated. */
void fw_model_init(fw_model *m, uint64_t seed);

/* Every tensor, state_dict order. */
const fw_param_list *fw_model_params(const fw_model *m);
/* The tensor called name, or NULL. */
fw_param *fw_model_find(const fw_model *m, const char *name);
const fw_model_config *fw_model_get_config(const fw_model *m);
/* Base width (round(64 * width_mult)) and the backbone's output channels. */
int fw_model_base_width(const fw_model *m);
int fw_model_feature_channels(const fw_model *m);

/* Call after anything wrote fw_param.data (optimizer step, loading weights). */
void fw_model_params_updated(fw_model *m);
/* Only the running statistics (FW_PARAM_BUFFER data) were written on the
 * host: the backend's buffers_updated, or params_updated where it has none. */
void fw_model_buffers_updated(fw_model *m);
/* The backend's discard_pending (when it has one): gradients and statistics
 * a given-up pass left on the device are dropped. */
void fw_model_discard_pending(fw_model *m);

/* Make every BN layer (backbone and neck) a SyncBatchNorm over data-parallel
 * ranks through fn (e.g. fw_dist_bn_sync with the fw_dist as ctx); fn NULL:
 * local statistics again. See bn_set_sync in backend.h. */
int fw_model_set_bn_sync(fw_model *m, fw_bn_sync_fn fn, void *ctx, fw_error *err);

/* Set every parameter gradient to zero. */
void fw_model_zero_grad(fw_model *m);

/* Forward x (N, in_channels, H, W) host floats -> emb (N, D) host floats.
 * training: batch statistics (running stats and num_batches_tracked updated),
 * dropout active, activations kept for fw_model_backward; else eval mode.
 * step: the dropout mask stream (e.g. the global step). */
int fw_model_forward(fw_model *m, int training, uint64_t step, const float *x, int n, int h,
                     int w, float *emb, fw_error *err);

/* The input made on the backend (backend.h, augment_set_cache/augment_batch):
 * fw_model_set_image_cache hands the uint8 cache (items, sh, sw, sc) over once
 * (sc: the model's channels); fw_model_forward_augmented is fw_model_forward
 * with sample i made from cache item items[i] with params[i] (n, h, w: the
 * output batch). fw_model_backward follows either. */
int fw_model_set_image_cache(fw_model *m, const uint8_t *cache, int64_t items, int sw, int sh,
                             int sc, fw_error *err);
int fw_model_forward_augmented(fw_model *m, int training, uint64_t step,
                               const fw_aug_params *params, const int64_t *items, int n, int h,
                               int w, float *emb, fw_error *err);

/* Backward of the last training forward from d_emb (N, D) host floats:
 * ADDS each parameter's gradient into fw_param.grad (zero them first with
 * fw_model_zero_grad). Parameter gradients are final when it returns. */
int fw_model_backward(fw_model *m, const float *d_emb, fw_error *err);

/* The same on backend tensors (for a batch already on the backend):
 * x (N, C, H, W) -> *emb (N, D, 1, 1) owned by the model until the next forward;
 * d_emb (N, D, 1, 1). x must stay alive and unchanged until the backward (it is
 * conv1's saved input). One backward per training forward. Call the backend's
 * sync before reading grads. */
int fw_model_forward_tensor(fw_model *m, int training, uint64_t step, const fw_tensor *x,
                            const fw_tensor **emb, fw_error *err);
int fw_model_backward_tensor(fw_model *m, const fw_tensor *d_emb, fw_error *err);

#endif
