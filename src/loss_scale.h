/* loss_scale.h — dynamic loss scaling for fp16 mixed precision.
 *
 * fp16 gradients underflow to zero below ~6e-8; scaling the loss (here: the
 * gradient of the loss with respect to the embeddings) by S before the
 * backward pass and the parameter gradients by 1/S after it keeps them in
 * range. S is dynamic, as torch.cuda.amp.GradScaler:
 *   start at 2^16; after `growth_interval` (2000) clean steps in a row S *= 2;
 *   a step whose gradients hold an Inf or NaN is an overflow: S *= 0.5, the
 *   update is skipped (the schedule does not advance) and the overflow is
 *   counted.
 * Scaling by a power of two is exact in floating point barring over- and
 * underflow, so with fp32 arithmetic a scaled step gives the same bits as an
 * unscaled one. The state (scale, clean steps, overflows) goes into
 * checkpoints with the learner's state.
 */
#ifndef FW_LOSS_SCALE_H
#define FW_LOSS_SCALE_H

#include <stdint.h>

#define FW_LOSS_SCALE_INIT 65536.0
#define FW_LOSS_SCALE_GROWTH_INTERVAL 2000

typedef struct fw_loss_scaler {
    int enabled;             /* 0: scale stays 1 and nothing is counted */
    double scale;            /* S */
    int64_t clean_steps;     /* finite steps since the last change of S */
    int64_t overflows;       /* steps skipped for non-finite gradients */
    int64_t growth_interval; /* clean steps before S doubles */
} fw_loss_scaler;

/* enabled != 0: dynamic scaling starting at init_scale (<= 0: 2^16). */
void fw_loss_scaler_init(fw_loss_scaler *s, int enabled, double init_scale);

/* The factor for the backward pass (1 when disabled). */
double fw_loss_scaler_scale(const fw_loss_scaler *s);

/* After a backward pass: grads_finite says whether every (scaled) gradient
 * was finite. Returns 1 when the update may be applied (the caller then
 * unscales the gradients by 1/S taken BEFORE this call), 0 for an overflow
 * (skip the update). Disabled: returns grads_finite and changes nothing. */
int fw_loss_scaler_update(fw_loss_scaler *s, int grads_finite);

#endif
