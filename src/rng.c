/* rng.c — the parts of the generator that need libm or loops (see rng.h). */
#include "rng.h"

#include <math.h>

float fw_rng_normal(fw_rng *r)
{
    float u1 = fw_rng_uniform(r);
    float u2 = fw_rng_uniform(r);
    if (u1 < 1e-7f)
        u1 = 1e-7f;
    return sqrtf(-2.0f * logf(u1)) * cosf(6.28318530718f * u2);
}

void fw_rng_shuffle_int(fw_rng *r, int *v, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)fw_rng_below(r, (uint32_t)(i + 1));
        int t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
}
