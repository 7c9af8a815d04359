/* micro_batch.h — one training batch through the model in k micro-batches
 * (gradient accumulation), for a batch that does not fit in the device's
 * memory at once.
 *
 * The head's losses couple the whole batch (batch-hard triplet mining, the
 * mean over the batch), so the embeddings of every micro-batch are needed
 * before any gradient exists:
 *   forward:  each micro-batch in training mode, its embeddings copied into
 *             the batch's (N, D) rows; BN normalises per micro-batch and
 *             updates the running statistics once per micro-batch, as
 *             gradient accumulation does in PyTorch;
 *   (the caller computes the head's loss and d_emb on the whole batch)
 *   backward: each micro-batch's parameter gradients from its rows of d_emb,
 *             ADDED together (fw_model_backward adds). The last micro-batch's
 *             activations are still there; the others are recomputed by a
 *             second forward (same dropout masks), whose running-statistics
 *             updates are undone.
 * Micro-batch i draws its dropout masks from stream step + i * 2^40 (the
 * first: the step itself, as a plain forward).
 * The cost is one more forward of k-1 micro-batches. k = 1 is a plain
 * fw_model_forward / fw_model_backward. Micro-batch i of k over n rows
 * holds rows [i*n/k, (i+1)*n/k).
 */
#ifndef FW_MICRO_BATCH_H
#define FW_MICRO_BATCH_H

#include <stdint.h>

#include "fw_error.h"
#include "model.h"

/* A batch's input: plain pixels x (n, C, h, w), or (x NULL) made on the
 * backend from params (n) and cache items (n) (fw_model_forward_augmented). */
typedef struct fw_batch_input {
    const float *x;
    const fw_aug_params *params;
    const int64_t *items;
} fw_batch_input;

typedef struct fw_micro_batch {
    int k;            /* micro-batches per batch (>= 1) */
    float *scratch;   /* recomputed embeddings and saved running statistics */
    size_t scratch_cap;
    float *saved_stats; /* fw_micro_batch_save_stats */
    size_t saved_cap;
} fw_micro_batch;

void fw_micro_batch_init(fw_micro_batch *mb, int k);
void fw_micro_batch_free(fw_micro_batch *mb);

/* The input (n images of h x w) -> emb (n, D), training mode, in mb->k
 * micro-batches (k is capped at n). step: the dropout stream. */
int fw_micro_batch_forward(fw_micro_batch *mb, fw_model *m, uint64_t step,
                           const fw_batch_input *in, int n, int h, int w, float *emb,
                           fw_error *err);

/* Parameter gradients (added into fw_param.grad) of the last
 * fw_micro_batch_forward on the same input, from d_emb (n, D). */
int fw_micro_batch_backward(fw_micro_batch *mb, fw_model *m, uint64_t step,
                            const fw_batch_input *in, int n, int h, int w, const float *d_emb,
                            fw_error *err);

/* Save every running statistic (FW_PARAM_BUFFER) of m, to put back with
 * fw_micro_batch_restore_stats after a failed attempt at a step. */
int fw_micro_batch_save_stats(fw_micro_batch *mb, const fw_model *m, fw_error *err);
void fw_micro_batch_restore_stats(fw_micro_batch *mb, fw_model *m);

#endif
