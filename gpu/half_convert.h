/* half_convert.h — fp32 <-> bf16 / fp16 conversion on raw 16-bit patterns,
 * round to nearest even, as FW_HD functions: the CUDA backend's kernels
 * store bf16/fp16 activations as uint16_t and convert with these, and
 * tests/test_gpu_math.c checks them on the host against torch.
 * NaN becomes a quiet NaN (bf16 0x7FC0 as c10::BFloat16's scalar path; fp16
 * 0x7E00 with the sign kept), overflow rounds to infinity, fp16 subnormals
 * round to nearest even like every other value.
 */
#ifndef FW_HALF_CONVERT_H
#define FW_HALF_CONVERT_H

#include <stdint.h>

#include "../src/hostdev.h"

FW_HD uint32_t fw_f32_bits(float f)
{
#ifdef __CUDA_ARCH__
    return __float_as_uint(f);
#else
    union {
        float f;
        uint32_t u;
    } v;
    v.f = f;
    return v.u;
#endif
}

FW_HD float fw_f32_from_bits(uint32_t u)
{
#ifdef __CUDA_ARCH__
    return __uint_as_float(u);
#else
    union {
        float f;
        uint32_t u;
    } v;
    v.u = u;
    return v.f;
#endif
}

/* ---- bf16: the high 16 bits of an fp32 ---- */
FW_HD uint16_t fw_f32_to_bf16(float f)
{
    uint32_t u = fw_f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return 0x7fc0; /* NaN (c10::BFloat16 round_to_nearest_even) */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

FW_HD float fw_bf16_to_f32(uint16_t h)
{
    return fw_f32_from_bits((uint32_t)h << 16);
}

/* ---- fp16: IEEE binary16 ---- */
FW_HD uint16_t fw_f32_to_f16(float f)
{
    uint32_t x = fw_f32_bits(f);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u)
        return (uint16_t)(sign | 0x7e00u); /* NaN */
    if (ax >= 0x477ff000u)                  /* >= 65520 rounds to infinity */
        return (uint16_t)(sign | 0x7c00u);
    if (ax < 0x38800000u) { /* below 2^-14: fp16 subnormal or zero */
        if (ax <= 0x33000000u) /* <= 2^-25: rounds to zero (the tie goes to even 0) */
            return (uint16_t)sign;
        uint32_t e = ax >> 23;                    /* 102..112 */
        uint32_t mant = (ax & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126u - e;               /* value / 2^-24 = mant >> shift */
        uint32_t r = mant >> shift;
        uint32_t rem = mant & ((1u << shift) - 1u);
        uint32_t halfway = 1u << (shift - 1u);
        if (rem > halfway || (rem == halfway && (r & 1u)))
            r++;
        return (uint16_t)(sign | r);
    }
    uint32_t h = ((((ax >> 23) - 112u) << 10) | ((ax & 0x7fffffu) >> 13));
    uint32_t rem = ax & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u)))
        h++; /* a carry into the exponent is the right result */
    return (uint16_t)(sign | h);
}

FW_HD float fw_f16_to_f32(uint16_t h)
{
    uint32_t sign = ((uint32_t)h & 0x8000u) << 16;
    uint32_t e = ((uint32_t)h >> 10) & 0x1fu;
    uint32_t m = (uint32_t)h & 0x3ffu;
    uint32_t bits;
    if (e == 0x1fu) {
        bits = sign | 0x7f800000u | (m << 13);
    } else if (e == 0) {
        if (m == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            uint32_t fe = 113u;
            while (!(m & 0x400u)) {
                m <<= 1;
                fe--;
            }
            bits = sign | (fe << 23) | ((m & 0x3ffu) << 13);
        }
    } else {
        bits = sign | ((e + 112u) << 23) | (m << 13);
    }
    return fw_f32_from_bits(bits);
}

#endif
