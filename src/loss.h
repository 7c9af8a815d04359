/* loss.h — metric-learning losses on host float arrays (the CPU reference).
 *
 * Every loss takes the neck's embeddings emb (N, D) and labels (N): a class
 * index 0..C-1 or FW_NEW_WHALE (-1). new_whale never becomes a class: the
 * classification losses (softmax, ArcFace) skip those rows (PyTorch's
 * ignore_index semantics: they add nothing and do not count in the mean);
 * the pair losses (triplet, contrastive) use them as negatives. (A flipped
 * fluke relabelled as a new identity is just another class index here.)
 *
 * Each function returns 0 or a negative FW_E* code (filling err) and fills an
 * fw_loss_result with the mean loss (double) and how many rows / anchors /
 * pairs it averaged over (0: loss 0, no gradient). When grads is not NULL,
 * gradients of that mean loss, multiplied by grads->scale, are ADDED to the
 * buffers it names (d_emb (N, D); the weights' gradients); NULL buffers are
 * skipped. So a head can sum weighted terms, and parameter gradients
 * accumulate like PyTorch's .grad.
 *
 * Arithmetic: norms, softmax, margins and distances are in double; the large
 * matrix products (embeddings x class weights) run through oneDNN's fp32
 * sgemm, or in double when ws->precise is set (for gradient checks: then the
 * loss is a double-precision function of the float inputs).
 *
 * Normalisation follows F.normalize: x / max(||x||, 1e-12).
 */
#ifndef FW_LOSS_H
#define FW_LOSS_H

#include <stddef.h>

#include "fw_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FW_LOSS_NORM_EPS 1e-12      /* F.normalize's eps */
#define FW_LOSS_DIST_EPS 1e-12      /* distances are sqrt(max(d^2, this)) */
#define FW_LOSS_WS_SLOTS 8

/* Reusable scratch memory: grows to the largest call and is then reused, so
 * steady-state calls do not allocate. Zero-initialise (or fw_loss_ws_init). */
typedef struct fw_loss_ws {
    void *slot[FW_LOSS_WS_SLOTS];
    size_t cap[FW_LOSS_WS_SLOTS];
    int precise; /* 1: matrix products in double (slow; reference and checks) */
} fw_loss_ws;

/* One workspace per thread; the losses are otherwise stateless. Free keeps
 * the precise flag. */
void fw_loss_ws_init(fw_loss_ws *ws);
void fw_loss_ws_free(fw_loss_ws *ws);

/* Where gradients go (all optional) and their multiplier. */
typedef struct fw_loss_grads {
    float *d_emb;    /* (N, D) += scale * dL/demb */
    float *d_weight; /* (rows of W, D) += scale * dL/dW (softmax, ArcFace) */
    float *d_bias;   /* (C) += scale * dL/db (softmax with bias) */
    double scale;    /* e.g. the term's weight in a head; 1 for a lone loss */
} fw_loss_grads;

typedef struct fw_loss_result {
    double loss; /* mean over `count` items; 0 when count == 0 */
    int count;   /* rows (softmax, ArcFace), anchors (triplet), pairs (contrastive) */
    int active;  /* triplet: anchors with hinge > 0 (soft margin: d_ap > d_an);
                    contrastive: pairs with a non-zero loss; softmax/ArcFace: = count */
} fw_loss_result;

/* ---- softmax cross-entropy over a linear classifier -------------------------
 * logits = emb W^T + b, W (C, D), b (C) or NULL. Per row with a known label y:
 *   l = (1 - eps) * (-log p_y) + eps * mean_c(-log p_c)     (PyTorch's
 * CrossEntropyLoss(label_smoothing=eps, ignore_index=-1)); mean over known rows. */
typedef struct fw_softmax_cfg {
    double label_smoothing; /* eps in [0, 1) */
} fw_softmax_cfg;

int fw_loss_softmax(fw_loss_ws *ws, const fw_softmax_cfg *cfg, const float *emb, const int *labels,
                    int n, int d, const float *weight, const float *bias, int classes,
                    const fw_loss_grads *grads, fw_loss_result *res, fw_error *err);

/* ---- ArcFace and sub-center ArcFace ------------------------------------------
 * W (C*k, D), rows c*k .. c*k+k-1 are class c's sub-centres (insightface's
 * layout). e^ = emb/|emb|, w^ = W/|W| (rows); cos_c = max_j (e^ . w^_{c*k+j})
 * (the gradient flows to the arg-max sub-centre; the first one on a tie).
 * For the target class y, with th = cos(pi - m) and mm = sin(pi - m) * m:
 *   phi = cos(theta + m) = cos*cos(m) - sin*sin(m)   if cos > th
 *   phi = cos - mm                                   otherwise (theta + m > pi:
 *         cos(theta + m) would no longer fall with theta; insightface's fallback)
 * with sin = sqrt(max(1 - cos^2, 0)) (its derivative uses max(sin, 1e-6)).
 * logits = s * phi for the target, s * cos_c otherwise; then the softmax
 * cross-entropy above (label smoothing allowed), mean over known rows. */
typedef struct fw_arcface_cfg {
    double scale;           /* s, e.g. 30 or 64 */
    double margin;          /* m in radians, e.g. 0.5 */
    int subcenters;         /* k >= 1 (1 = plain ArcFace) */
    double label_smoothing; /* eps in [0, 1) */
} fw_arcface_cfg;

int fw_loss_arcface(fw_loss_ws *ws, const fw_arcface_cfg *cfg, const float *emb,
                    const int *labels, int n, int d, const float *weight, int classes,
                    const fw_loss_grads *grads, fw_loss_result *res, fw_error *err);

/* Class cosines for prediction: out (N, C) = max over each class's k
 * sub-centres of e^ . w^ (in [-1, 1]); W (C*k, D). */
int fw_cosine_logits(fw_loss_ws *ws, const float *emb, int n, int d, const float *weight,
                     int classes, int subcenters, float *out, fw_error *err);

/* ---- batch-hard triplet loss ---------------------------------------------------
 * d_ij = |e^_i - e^_j| (Euclidean on L2-normalised embeddings, as
 * sqrt(max(d^2, 1e-12))). For each anchor i with a known label: hardest
 * positive p = arg max d_ij over j != i with label_j == label_i; hardest
 * negative q = arg min d_ij over j with label_j != label_i (new_whale rows are
 * negatives for every anchor, never anchors or positives). An anchor without a
 * positive or a negative is skipped. Loss per anchor:
 *   relu(d_ip - d_iq + margin)      or, soft margin,   log(1 + exp(d_ip - d_iq))
 * mean over the anchors that count; subgradient through the arg max / arg min
 * (relu'(0) = 0; the first index on a tie). */
typedef struct fw_triplet_cfg {
    double margin;   /* e.g. 0.3 (ignored with soft_margin) */
    int soft_margin; /* 1: softplus instead of the hinge */
} fw_triplet_cfg;

int fw_loss_triplet(fw_loss_ws *ws, const fw_triplet_cfg *cfg, const float *emb,
                    const int *labels, int n, int d, const fw_loss_grads *grads,
                    fw_loss_result *res, fw_error *err);

/* ---- contrastive (Siamese) loss ----------------------------------------------
 * Over all unordered pairs i < j, d_ij as for the triplet loss. y = 1 when both
 * labels are known and equal, else 0 (a pair with a new_whale row is negative,
 * two new_whale rows included: they are not known to be the same whale).
 *   l_ij = y * d^2 + (1 - y) * relu(margin - d)^2
 * with no 1/2 factor, averaged over all N(N-1)/2 pairs. */
typedef struct fw_contrastive_cfg {
    double margin; /* e.g. 1.0 (distances of unit vectors lie in [0, 2]) */
} fw_contrastive_cfg;

int fw_loss_contrastive(fw_loss_ws *ws, const fw_contrastive_cfg *cfg, const float *emb,
                        const int *labels, int n, int d, const fw_loss_grads *grads,
                        fw_loss_result *res, fw_error *err);

#ifdef __cplusplus
}
#endif

#endif
