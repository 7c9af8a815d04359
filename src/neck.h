/* neck.h — the embedding neck on the backend: pooling -> BN1d -> dropout -> FC
 * -> BN1d, turning the backbone's (N, C, h, w) features into the (N, D) embedding.
 *
 * Parameter names (state_dict order):
 *   neck.pool.p                        GeM exponent (1 element; GeM only), init 3
 *   neck.bn1.{weight,bias,running_mean,running_var,num_batches_tracked}   (C)
 *   neck.fc.weight (D, C), neck.fc.bias (D)
 *   neck.bn2.{weight,bias,running_mean,running_var,num_batches_tracked}   (D)
 * (the PyTorch twin is tests/ref/fwmodel.py: Neck). Dropout has no parameters.
 */
#ifndef FW_NECK_H
#define FW_NECK_H

#include <stdint.h>

#include "backend.h"
#include "param.h"

typedef enum fw_neck_pool {
    FW_NECK_GEM = 0, /* generalised mean, learnable p, eps 1e-6 */
    FW_NECK_AVG = 1, /* global average pooling */
} fw_neck_pool;

typedef struct fw_neck_config {
    int in_channels;   /* C: the backbone's output channels */
    int dim;           /* D: embedding size */
    fw_neck_pool pool;
    float gem_p;       /* GeM's initial p (3) */
    float dropout;     /* dropout rate before fc, in [0, 1); 0: none */
    uint64_t seed;     /* dropout masks */
} fw_neck_config;

typedef struct fw_neck fw_neck;

/* Appends the neck's parameters to list (which owns them); fc gets PyTorch's
 * nn.Linear default until initialised otherwise; BNs identity; p = gem_p. */
int fw_neck_create(const fw_backend_ops *ops, fw_backend *be, const fw_neck_config *cfg,
                   fw_param_list *list, fw_neck **out, fw_error *err);
void fw_neck_destroy(fw_neck *n);

/* Make both BN layers SyncBatchNorms through fn (NULL: local stats again). */
int fw_neck_set_bn_sync(fw_neck *n, fw_bn_sync_fn fn, void *ctx, fw_error *err);

/* features (N, C, h, w) -> *embedding (N, D, 1, 1), owned by the neck.
 * stream: the dropout mask stream (e.g. the training step). */
int fw_neck_forward(fw_neck *n, int training, uint64_t stream, const fw_tensor *features,
                    const fw_tensor **embedding, fw_error *err);

/* Backward of the last forward from d_embedding (N, D, 1, 1) into d_features
 * (the features' shape); parameter gradients per flags. */
int fw_neck_backward(fw_neck *n, const fw_tensor *features, const fw_tensor *d_embedding,
                     fw_tensor *d_features, unsigned flags, fw_error *err);

#endif
