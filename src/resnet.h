/* resnet.h — the ResNet-18/34/50 backbone (torchvision v1.5 layout) on the
 * compute backend: conv1 7x7/2 + BN + ReLU + max-pool 3x3/2, then layer1..layer4
 * of BasicBlocks (18, 34) or Bottlenecks (50; stride on the 3x3 conv),
 * downsample = 1x1 conv + BN. No avgpool/fc: the output is the feature map
 * (N, 8*base*expansion, ~H/32, ~W/32).
 *
 * Parameters are added to the caller's list under torchvision's names
 * ("conv1.weight", "bn1.running_mean", "layer2.0.downsample.0.weight", ...) in
 * state_dict order; a base width of 64 gives torchvision's shapes exactly.
 */
#ifndef FW_RESNET_H
#define FW_RESNET_H

#include "backend.h"
#include "param.h"

typedef struct fw_resnet_config {
    int arch;        /* 18, 34 or 50 */
    int in_channels; /* 1 (grey) or 3 (RGB) */
    int base_width;  /* conv1's output channels: 64 in torchvision; 8 for a tiny model */
} fw_resnet_config;

typedef struct fw_resnet fw_resnet;

/* Build the backbone: append its parameters to list (which keeps owning them;
 * the backbone keeps pointers) and create its backend ops. Weights are zero /
 * BN identity until the caller initialises or loads them. */
int fw_resnet_create(const fw_backend_ops *ops, fw_backend *be, const fw_resnet_config *cfg,
                     fw_param_list *list, fw_resnet **out, fw_error *err);
void fw_resnet_destroy(fw_resnet *r);

/* Make every BN layer a SyncBatchNorm through fn (NULL: local stats again);
 * see bn_set_sync in backend.h. */
int fw_resnet_set_bn_sync(fw_resnet *r, fw_bn_sync_fn fn, void *ctx, fw_error *err);

/* Channels of the output feature map (512 for ResNet-18/34, 2048 for -50 at base 64). */
int fw_resnet_out_channels(const fw_resnet *r);

/* Forward x (N, in_channels, H, W) -> *features (owned by r, valid until the next
 * forward). training: BN uses batch statistics and updates running stats; every
 * activation needed by backward is kept. */
int fw_resnet_forward(fw_resnet *r, int training, const fw_tensor *x,
                      const fw_tensor **features, fw_error *err);

/* The tensor the caller fills with dL/dfeatures before fw_resnet_backward. */
fw_tensor *fw_resnet_grad_features(fw_resnet *r);

/* Backward of the last forward (x: its input), from fw_resnet_grad_features(r):
 * parameter gradients per flags (FW_GRAD_*). No input gradient is computed. */
int fw_resnet_backward(fw_resnet *r, const fw_tensor *x, unsigned flags, fw_error *err);

#endif
