/* optim_math.h — the per-element SGD and AdamW updates, written once for the
 * host optimizer (src/optim.c) and the GPU's fused multi-tensor step
 * (gpu/cuda_update.cu), so both apply PyTorch's formulas the same way (see
 * optim.h for them).
 *
 * A step has hyper-parameters shared by every tensor (fw_optim_hyper) and
 * coefficients per tensor (fw_optim_coeffs: the head's lr multiplier, weight
 * decay or not, the bias corrections of that tensor's step count), both
 * worked out on the host in double and rounded to float once per step.
 */
#ifndef FW_OPTIM_MATH_H
#define FW_OPTIM_MATH_H

#include <math.h>

#include "hostdev.h"

typedef struct fw_optim_hyper {
    int adamw;        /* 0: SGD, 1: AdamW */
    int use_momentum; /* SGD: momentum != 0 this step */
    int nesterov;     /* SGD */
    float momentum;   /* SGD momentum / AdamW beta1 */
    float one_b1;     /* AdamW: 1 - beta1 */
    float b2, one_b2; /* AdamW: beta2, 1 - beta2 */
    float eps;        /* AdamW */
} fw_optim_hyper;

typedef struct fw_optim_coeffs {
    float lr;       /* SGD: the tensor's lr (head multiplier applied) */
    float wd;       /* SGD: L2 coefficient (0 for FW_PARAM_NO_DECAY) */
    int first;      /* SGD: the momentum buffer is set, not updated */
    float decay;    /* AdamW: 1 - lr * wd */
    float neg_step; /* AdamW: -lr / (1 - beta1^t) */
    float bc2_sqrt; /* AdamW: sqrt(1 - beta2^t) */
} fw_optim_coeffs;

/* One SGD element: *p the weight, g its gradient, *buf its momentum buffer. */
FW_HD void fw_sgd_elem(float *p, float g, float *buf, const fw_optim_hyper *h,
                       const fw_optim_coeffs *c)
{
    float d = c->wd != 0.0f ? g + c->wd * *p : g;
    if (h->use_momentum) {
        float b = c->first ? d : *buf * h->momentum + d;
        *buf = b;
        d = h->nesterov ? d + h->momentum * b : b;
    }
    *p = *p + (-c->lr) * d;
}

/* One AdamW element: *m exp_avg, *v exp_avg_sq. */
FW_HD void fw_adamw_elem(float *p, float g, float *m, float *v, const fw_optim_hyper *h,
                         const fw_optim_coeffs *c)
{
    float pi = *p * c->decay;
    float mi = *m * h->momentum + g * h->one_b1;
    float vi = *v * h->b2 + h->one_b2 * g * g;
    *m = mi;
    *v = vi;
    float denom = sqrtf(vi) / c->bc2_sqrt + h->eps;
    *p = pi + c->neg_step * mi / denom;
}

#endif
