/* loss_scale.c — dynamic loss scaling (see loss_scale.h). */
#include "loss_scale.h"

/* The scale stays within fp32's normal range so 1/S is exact too. */
#define SCALE_MIN 0x1p-24
#define SCALE_MAX 0x1p+100

void fw_loss_scaler_init(fw_loss_scaler *s, int enabled, double init_scale)
{
    s->enabled = enabled != 0;
    s->scale = !s->enabled ? 1.0 : init_scale > 0 ? init_scale : FW_LOSS_SCALE_INIT;
    s->clean_steps = 0;
    s->overflows = 0;
    s->growth_interval = FW_LOSS_SCALE_GROWTH_INTERVAL;
}

double fw_loss_scaler_scale(const fw_loss_scaler *s)
{
    return s->enabled ? s->scale : 1.0;
}

int fw_loss_scaler_update(fw_loss_scaler *s, int grads_finite)
{
    if (!s->enabled)
        return grads_finite;
    if (!grads_finite) {
        s->overflows++;
        s->clean_steps = 0;
        if (s->scale * 0.5 >= SCALE_MIN)
            s->scale *= 0.5;
        return 0;
    }
    if (++s->clean_steps >= s->growth_interval) {
        s->clean_steps = 0;
        if (s->scale * 2 <= SCALE_MAX)
            s->scale *= 2;
    }
    return 1;
}
