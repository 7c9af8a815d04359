/* param.h — named float tensors: the model's parameters and buffers as the
 * optimizer, the checkpoint writer and the weight loaders see them.
 *
 * Names follow torchvision (e.g. "layer1.0.conv1.weight", "bn1.running_mean")
 * so that pretrained weights and PyTorch reference fixtures map one to one.
 * Data lives in host memory for the CPU backend (a GPU backend mirrors it).
 */
#ifndef FW_PARAM_H
#define FW_PARAM_H

#include <stddef.h>
#include <stdint.h>

#define FW_PARAM_NAME_MAX 96
#define FW_PARAM_MAX_DIMS 4

enum {
    FW_PARAM_NO_DECAY = 1 << 0, /* BN weights/biases and all biases: no weight decay */
    FW_PARAM_HEAD = 1 << 1,     /* head (classifier/ArcFace) weights: LR multiplier */
    FW_PARAM_BUFFER = 1 << 2,   /* not trained (BN running stats, num_batches_tracked) */
};

typedef struct fw_param {
    char name[FW_PARAM_NAME_MAX];
    int ndim;
    int64_t shape[FW_PARAM_MAX_DIMS]; /* PyTorch order, e.g. conv weight (O, I, KH, KW) */
    int64_t numel;
    float *data;  /* (numel) */
    float *grad;  /* (numel), NULL for buffers */
    int flags;    /* FW_PARAM_* */
} fw_param;

typedef struct fw_param_list {
    fw_param **items; /* borrowed pointers, in a fixed order (the model's state_dict order) */
    int n;
    int cap;
} fw_param_list;

#endif
