/* head.h — the training head: a weighted sum of metric-learning losses on the
 * neck's embeddings, owning the class weights those losses need.
 *
 *   fw_head_config cfg = {.emb_dim = 512, .classes = 5004, .seed = 1, .n_terms = 2,
 *       .terms = {{.kind = FW_LOSS_ARCFACE, .weight = 1.0,
 *                  .arcface = {.scale = 30, .margin = 0.5, .subcenters = 3}},
 *                 {.kind = FW_LOSS_TRIPLET, .weight = 0.5, .triplet = {.margin = 0.3}}}};
 *   fw_head h; fw_head_init(&h, &cfg, &err);
 *   fw_head_add_params(&h, &params, &err);         // for the optimizer / checkpoints
 *   fw_head_loss(&h, emb, labels, n, d_emb, &loss, &err);   // each step
 *
 * Parameters (flags FW_PARAM_HEAD; the bias also FW_PARAM_NO_DECAY), created
 * only for the terms that use them, in this order:
 *   "head.classifier.weight" (C, D), "head.classifier.bias" (C)  — softmax term;
 *       PyTorch nn.Linear's default init: U(-1/sqrt(D), 1/sqrt(D)) for both;
 *   "head.arcface.weight" (C*k, D)  — ArcFace term (k sub-centres per class,
 *       rows c*k..c*k+k-1); Xavier-uniform: U(-b, b), b = sqrt(6 / (D + C*k)).
 * Draws come from fw_rng(seed, stream 1 / 2 / 3 for the three tensors), so
 * the same seed gives the same head.
 */
#ifndef FW_HEAD_H
#define FW_HEAD_H

#include <stdint.h>

#include "backend.h"
#include "fw_error.h"
#include "loss.h"
#include "param.h"

#define FW_HEAD_MAX_TERMS 4
#define FW_HEAD_MAX_PARAMS 3

typedef enum fw_loss_kind {
    FW_LOSS_SOFTMAX,
    FW_LOSS_ARCFACE,
    FW_LOSS_TRIPLET,
    FW_LOSS_CONTRASTIVE,
} fw_loss_kind;

typedef struct fw_head_term {
    fw_loss_kind kind;
    double weight;           /* multiplier in the sum (0 = computed and logged only) */
    fw_softmax_cfg softmax;  /* FW_LOSS_SOFTMAX */
    int softmax_bias;        /* FW_LOSS_SOFTMAX: 1 = classifier has a bias */
    fw_arcface_cfg arcface;  /* FW_LOSS_ARCFACE */
    fw_triplet_cfg triplet;  /* FW_LOSS_TRIPLET */
    fw_contrastive_cfg contrastive; /* FW_LOSS_CONTRASTIVE */
} fw_head_term;

typedef struct fw_head_config {
    int emb_dim;  /* D */
    int classes;  /* C: known whales (new_whale is never a class); needed by
                     softmax / ArcFace terms, may be 0 otherwise */
    uint64_t seed;
    int n_terms;  /* 1..FW_HEAD_MAX_TERMS; at most one softmax and one ArcFace */
    fw_head_term terms[FW_HEAD_MAX_TERMS];
} fw_head_config;

typedef struct fw_head {
    fw_head_config cfg;
    fw_param params[FW_HEAD_MAX_PARAMS]; /* data and grad owned by the head */
    int n_params;
    fw_param *classifier_weight, *classifier_bias, *arcface_weight; /* into params or NULL */
    fw_loss_result term[FW_HEAD_MAX_TERMS]; /* last call: each term's unweighted result */
    fw_loss_ws ws; /* set ws.precise = 1 for double-precision products (checks) */
    /* the ArcFace term on a backend (fw_head_use_backend), or NULL */
    const fw_backend_ops *ops;
    fw_backend *be;
    fw_arcface *arcface_op;
} fw_head;

/* Validate the configuration, allocate and initialise the parameters (grads
 * zeroed). On failure nothing is left allocated. */
int fw_head_init(fw_head *h, const fw_head_config *cfg, fw_error *err);
void fw_head_free(fw_head *h);

/* Compute the ArcFace term (if any) with the backend's arcface ops, where it
 * has them: its weight "head.arcface.weight" becomes a parameter of that
 * backend (params_updated after host writes; fw_head_logits needs the host
 * copy current). A no-op for backends without them, or with
 * FLUKEWATCH_HEAD=host in the environment ("auto" or unset: use them). The
 * backend must outlive the head (fw_head_free destroys the op). */
int fw_head_use_backend(fw_head *h, const fw_backend_ops *ops, fw_backend *be, fw_error *err);
/* 1 when p is a head tensor the backend holds (fw_head_use_backend). */
int fw_head_param_on_backend(const fw_head *h, const fw_param *p);

/* Append borrowed pointers to the head's parameters to `list`
 * (fw_param_list_append: a name already in the list is refused). */
int fw_head_add_params(fw_head *h, fw_param_list *list, fw_error *err);

/* Loss = sum_t weight_t * loss_t on emb (N, D) with labels (N) (class index or
 * FW_NEW_WHALE). If d_emb (N, D) is not NULL it is OVERWRITTEN with dLoss/demb
 * and dLoss/dparam is ADDED to each parameter's grad; with d_emb NULL only the
 * loss is computed (validation). Each term's result is left in h->term. */
int fw_head_loss(fw_head *h, const float *emb, const int *labels, int n, float *d_emb,
                 double *loss, fw_error *err);

/* Prediction scores out (N, C): cosine between each embedding and each class
 * (max over sub-centres) of the ArcFace weights, else the classifier's
 * weights; FW_EINVAL when the head has neither. */
int fw_head_logits(fw_head *h, const float *emb, int n, float *out, fw_error *err);

/* "softmax", "arcface", "triplet", "contrastive". */
const char *fw_loss_kind_name(fw_loss_kind kind);
/* Parse one of those names; FW_EINVAL (message lists them) otherwise. */
int fw_loss_kind_parse(const char *name, fw_loss_kind *kind, fw_error *err);

#endif
