/* rng.h — deterministic random numbers (xoshiro128** seeded by splitmix64).
 *
 * Every random decision in flukewatch (synthetic whales, splits, sampling,
 * augmentation) draws from an fw_rng derived from (seed, stream), so results
 * depend only on the seed, never on thread count or timing. The generator is
 * header-only and FW_HD so the GPU can use the same streams.
 */
#ifndef FW_RNG_H
#define FW_RNG_H

#include <stdint.h>

#include "hostdev.h"

typedef struct fw_rng {
    uint32_t s[4];
} fw_rng;

FW_HD uint64_t fw_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Independent stream `stream` of generator `seed` (e.g. stream = image index). */
FW_HD void fw_rng_init(fw_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ull);
    uint64_t a = fw_splitmix64(&x), b = fw_splitmix64(&x);
    r->s[0] = (uint32_t)a;
    r->s[1] = (uint32_t)(a >> 32);
    r->s[2] = (uint32_t)b;
    r->s[3] = (uint32_t)(b >> 32);
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3]))
        r->s[0] = 1;
}

FW_HD uint32_t fw_rng_u32(fw_rng *r)
{
    uint32_t *s = r->s;
    uint32_t x = s[1] * 5;
    uint32_t result = ((x << 7) | (x >> 25)) * 9;
    uint32_t t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 11) | (s[3] >> 21);
    return result;
}

/* Uniform in [0, 1). */
FW_HD float fw_rng_uniform(fw_rng *r)
{
    return (float)(fw_rng_u32(r) >> 8) * (1.0f / 16777216.0f);
}

/* Uniform in [lo, hi). */
FW_HD float fw_rng_range(fw_rng *r, float lo, float hi)
{
    return lo + (hi - lo) * fw_rng_uniform(r);
}

/* Uniform integer in [0, n), n > 0 (Lemire's multiply-shift, tiny bias ok). */
FW_HD uint32_t fw_rng_below(fw_rng *r, uint32_t n)
{
    return (uint32_t)(((uint64_t)fw_rng_u32(r) * n) >> 32);
}

/* Standard normal (Box-Muller; uses two uniforms). */
float fw_rng_normal(fw_rng *r);

/* Fisher-Yates shuffle of n ints. */
void fw_rng_shuffle_int(fw_rng *r, int *v, int n);

#endif
