/* augment.h — the per-pixel math of data augmentation, one header for the
 * CPU (data/augment_cpu.c) and for the fused CUDA kernel (launched unchanged,
 * one thread per output pixel).
 *
 * Everything random was decided on the host (data/augment_params.c) and is
 * held in one plain struct per sample, fw_aug_params. An output value is a
 * pure function of (params, source pointer + shape, x, y, c), in this order:
 *   1. geometry: the output pixel (x, y) maps to the source point
 *      (sx, sy) = M (x, y, 1) — M is the inverse affine (resize, flip,
 *      rotation, scale, aspect, shear, translation), in pixel-index
 *      coordinates (pixel centres at integers);
 *   2. blur + sampling: the weighted sum of n_taps bilinear samples of the
 *      uint8 source at (sx + dx_t, sy + dy_t) (1 tap = no blur; 9 taps = a
 *      5x5 discrete Gaussian folded into 3x3 bilinear taps), with the border
 *      rule for points outside the image; then v = sum / 255;
 *   3. brightness/contrast as one affine map and gamma:
 *      v = clamp(gain * v + bias, 0, 1); v = v ^ gamma (fw_aug_pow01);
 *   4. grayscale mix (3 channels): v_c = clamp(v_c + gray * (Y - v_c), 0, 1)
 *      with Y = 0.299 R + 0.587 G + 0.114 B (gray = 1: fully grey; gray < 0
 *      raises saturation);
 *   5. erase: inside the output rectangle [erase_x0, erase_x1) x
 *      [erase_y0, erase_y1), v_c = erase_value[c] instead;
 *   6. normalisation: out = (v - mean[c]) * inv_std[c].
 * No allocation, no globals, no libc calls other than a 4-byte memcpy on
 * the host (it compiles to one load); clamps are compares and gamma uses its
 * own exp2/log2 polynomials. A kernel calls fw_aug_pixel_all once per
 * (sample, x, y) and writes the sc planes of (N, C, H, W).
 *
 * Written so that the CPU loop over x vectorises: no data-dependent
 * branches (borders are index clamps and selects), pixels read as one
 * 32-bit load each on the host (the vectoriser turns those into gathers; it
 * cannot gather single bytes), and the per-sample switches (blur, gamma,
 * erase) are arguments of fw_aug_pixel_ex that the CPU path passes as
 * constants. The device reads bytes (no unaligned loads on a GPU).
 */
#ifndef FW_AUGMENT_H
#define FW_AUGMENT_H

#include <stdint.h>
#ifndef __CUDA_ARCH__
#include <string.h>
#endif

#include "../src/hostdev.h"

/* FW_HD, and on the host also forced inline: the per-pixel code must fold
 * into the caller's loop (gcc otherwise keeps the bilinear step a call). */
#if defined(__CUDACC__) || !defined(__GNUC__)
#define FW_AUG_HD FW_HD
#else
#define FW_AUG_HD FW_HD __attribute__((always_inline))
#endif

#define FW_AUG_BLUR_TAPS 9 /* n_taps is 1 or this */
#define FW_AUG_MAX_CHANNELS 3

/* What a source point outside the image reads. */
enum {
    FW_BORDER_CONSTANT = 0,  /* the fill value */
    FW_BORDER_REPLICATE = 1, /* the nearest edge pixel */
    FW_BORDER_REFLECT = 2,   /* mirrored at the edge, edge pixel repeated (abc|cba),
                                one image width deep; beyond that the edge pixel */
};

typedef struct fw_aug_params {
    /* source index point of output pixel (x, y):
     * sx = m[0] x + m[1] y + m[2], sy = m[3] x + m[4] y + m[5] */
    float m[6];
    int border;        /* FW_BORDER_* */
    float fill;        /* FW_BORDER_CONSTANT value, 0..255 */
    int n_taps;        /* 1 or FW_AUG_BLUR_TAPS */
    float tap_dx[FW_AUG_BLUR_TAPS], tap_dy[FW_AUG_BLUR_TAPS]; /* source pixels */
    float tap_w[FW_AUG_BLUR_TAPS];                            /* sum to 1 */
    float gain, bias;  /* v -> clamp(gain v + bias, 0, 1) */
    float gamma;       /* v -> v^gamma (1: none) */
    float gray;        /* grayscale mix weight (0: none) */
    int erase_x0, erase_y0, erase_x1, erase_y1; /* output pixels; empty when x0 >= x1 */
    float erase_value[FW_AUG_MAX_CHANNELS];     /* 0..1 */
    float mean[FW_AUG_MAX_CHANNELS];
    float inv_std[FW_AUG_MAX_CHANNELS];
} fw_aug_params;

/* Up to three channel values, passed by value so they stay in registers
 * (an indexed array would live in memory on the CPU and in local memory on
 * the GPU). Channels beyond the image's are 0. */
typedef struct fw_aug_px {
    float v0, v1, v2;
} fw_aug_px;

/* min(max(x, lo), hi); NaN gives lo. Plain compares, so gcc emits
 * minss/maxss instead of calls to fminf/fmaxf (whose NaN rules forbid them). */
FW_AUG_HD float fw_aug_clamp(float x, float lo, float hi)
{
    x = x > lo ? x : lo;
    return x < hi ? x : hi;
}

/* floor of x as an int, for |x| <= 2^24 (cheaper than floorf without SSE4.1). */
FW_AUG_HD int fw_aug_floor(float x)
{
    int i = (int)x;
    return i - (x < (float)i);
}

/* Index i along an axis of length n under a border rule, always in 0..n-1
 * (FW_BORDER_CONSTANT clamps too; the caller swaps in the fill). */
FW_AUG_HD int fw_aug_border_index(int i, int n, int border)
{
    int mirrored = i < 0 ? -1 - i : i >= n ? 2 * n - 1 - i : i;
    i = border == FW_BORDER_REFLECT ? mirrored : i;
    i = i < 0 ? 0 : i;
    return i > n - 1 ? n - 1 : i;
}

/* The sc channels (0..255) of the pixel whose first byte is src[off].
 * Host: one 32-bit load, never past src[limit + 3] (limit = image bytes - 4,
 * so the image must hold at least 4 bytes). Device: byte loads. */
FW_AUG_HD fw_aug_px fw_aug_fetch(const uint8_t *src, int off, int sc, int limit)
{
    fw_aug_px o;
#ifdef __CUDA_ARCH__
    (void)limit;
    o.v0 = (float)src[off];
    o.v1 = sc == 3 ? (float)src[off + 1] : 0.0f;
    o.v2 = sc == 3 ? (float)src[off + 2] : 0.0f;
#else
    int at = off < limit ? off : limit;
    uint32_t w;
    memcpy(&w, src + at, 4);
    w >>= 8 * (off - at); /* little-endian: the pixel's bytes come first */
    o.v0 = (float)(int)(w & 255u);
    o.v1 = sc == 3 ? (float)(int)((w >> 8) & 255u) : 0.0f;
    o.v2 = sc == 3 ? (float)(int)((w >> 16) & 255u) : 0.0f;
#endif
    return o;
}

/* Bilinear sample of the sc channels at source index point (sx, sy), in
 * 0..255 units. A neighbour outside the image reads the border rule. */
FW_AUG_HD fw_aug_px fw_aug_bilinear(const uint8_t *src, int sw, int sh, int sc, int limit,
                                    float sx, float sy, int border, float fill)
{
    /* keep the integer conversion defined for any input (NaN included) */
    const float lim = 16777216.0f;
    sx = fw_aug_clamp(sx, -lim, lim);
    sy = fw_aug_clamp(sy, -lim, lim);
    int x0 = fw_aug_floor(sx), y0 = fw_aug_floor(sy);
    float wx = sx - (float)x0, wy = sy - (float)y0;
    float w00 = (1.0f - wx) * (1.0f - wy), w01 = wx * (1.0f - wy);
    float w10 = (1.0f - wx) * wy, w11 = wx * wy;
    int xa = fw_aug_border_index(x0, sw, border), xb = fw_aug_border_index(x0 + 1, sw, border);
    int ya = fw_aug_border_index(y0, sh, border), yb = fw_aug_border_index(y0 + 1, sh, border);
    fw_aug_px p00 = fw_aug_fetch(src, (ya * sw + xa) * sc, sc, limit);
    fw_aug_px p01 = fw_aug_fetch(src, (ya * sw + xb) * sc, sc, limit);
    fw_aug_px p10 = fw_aug_fetch(src, (yb * sw + xa) * sc, sc, limit);
    fw_aug_px p11 = fw_aug_fetch(src, (yb * sw + xb) * sc, sc, limit);
    /* constant border: an outside neighbour's weight goes to the fill */
    int cst = border == FW_BORDER_CONSTANT;
    int in_xa = (unsigned)x0 < (unsigned)sw, in_xb = (unsigned)(x0 + 1) < (unsigned)sw;
    int in_ya = (unsigned)y0 < (unsigned)sh, in_yb = (unsigned)(y0 + 1) < (unsigned)sh;
    float v00 = (cst & !(in_xa & in_ya)) ? 0.0f : w00;
    float v01 = (cst & !(in_xb & in_ya)) ? 0.0f : w01;
    float v10 = (cst & !(in_xa & in_yb)) ? 0.0f : w10;
    float v11 = (cst & !(in_xb & in_yb)) ? 0.0f : w11;
    float fw = ((w00 - v00) + (w01 - v01) + (w10 - v10) + (w11 - v11)) * fill;
    fw_aug_px o;
    o.v0 = v00 * p00.v0 + v01 * p01.v0 + v10 * p10.v0 + v11 * p11.v0 + fw;
    o.v1 = v00 * p00.v1 + v01 * p01.v1 + v10 * p10.v1 + v11 * p11.v1 + (sc == 3 ? fw : 0.0f);
    o.v2 = v00 * p00.v2 + v01 * p01.v2 + v10 * p10.v2 + v11 * p11.v2 + (sc == 3 ? fw : 0.0f);
    return o;
}

/* v^g for v in [0, 1] and g in about [0.2, 5]: exp2(g log2 v) with short
 * polynomials, relative error below 1e-5 (powf costs several times more and
 * does not vectorise). */
FW_AUG_HD float fw_aug_pow01(float v, float g)
{
    union {
        float f;
        uint32_t i;
    } u;
    const float tiny = 1.17549435e-38f; /* smallest normal float */
    int nonzero = v > tiny;             /* arithmetic, not branches: it vectorises */
    u.f = fw_aug_clamp(v, tiny, 1.0f);
    int e = (int)((u.i >> 23) & 255u) - 127;
    u.i = (u.i & 0x007FFFFFu) | 0x3F800000u; /* mantissa m in [1, 2) */
    int big = u.f > 1.41421356f; /* halve m into [0.707, 1.414): a shorter series */
    float m = u.f * (1.0f - 0.5f * (float)big);
    e += big;
    float t = (m - 1.0f) / (m + 1.0f), t2 = t * t;
    float log2v = (float)e + t * (2.88539008f + t2 * (0.961796693f + t2 * (0.577078016f +
                                   t2 * (0.412198583f + t2 * 0.320598898f))));
    float y = fw_aug_clamp(g * log2v, -126.0f, 0.0f);
    int n = fw_aug_floor(y + 0.5f);
    float f = y - (float)n; /* [-0.5, 0.5] */
    float r = 1.0f + f * (0.693147181f + f * (0.240226507f + f * (0.0555041087f +
                          f * (0.00961812911f + f * (0.00133335581f + f * 0.000154035304f)))));
    u.i = (uint32_t)(n + 127) << 23;
    return r * u.f * (float)nonzero;
}

/* Geometry + blur: the source colour (0..255 units) seen by output pixel
 * (x, y). blur: 0 = one tap, else FW_AUG_BLUR_TAPS taps. */
FW_AUG_HD fw_aug_px fw_aug_sample(const fw_aug_params *p, const uint8_t *src, int sw, int sh,
                                  int sc, int limit, int x, int y, int blur)
{
    float fx = (float)x, fy = (float)y;
    float sx = p->m[0] * fx + p->m[1] * fy + p->m[2];
    float sy = p->m[3] * fx + p->m[4] * fy + p->m[5];
    if (!blur)
        return fw_aug_bilinear(src, sw, sh, sc, limit, sx, sy, p->border, p->fill);
    fw_aug_px acc = {0.0f, 0.0f, 0.0f};
    /* unrolled, so that the CPU loop around it stays one vectorisable loop */
#if defined(__CUDACC__)
#pragma unroll
#elif defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 9
#endif
    for (int t = 0; t < FW_AUG_BLUR_TAPS; t++) {
        fw_aug_px s = fw_aug_bilinear(src, sw, sh, sc, limit, sx + p->tap_dx[t],
                                      sy + p->tap_dy[t], p->border, p->fill);
        float w = p->tap_w[t];
        acc.v0 += w * s.v0;
        acc.v1 += w * s.v1;
        acc.v2 += w * s.v2;
    }
    return acc;
}

/* Step 3 on one channel value v (0..1); gamma: 0 = skip the power. */
FW_AUG_HD float fw_aug_tone(const fw_aug_params *p, float v, int gamma)
{
    float u = fw_aug_clamp(p->gain * v + p->bias, 0.0f, 1.0f);
    return gamma ? fw_aug_pow01(u, p->gamma) : u;
}

/* Steps 3-4 on v (0..1 units). The grey mix always runs: with gray = 0 it
 * leaves v exactly as it is. */
FW_AUG_HD fw_aug_px fw_aug_photometric(const fw_aug_params *p, int sc, fw_aug_px v, int gamma)
{
    v.v0 = fw_aug_tone(p, v.v0, gamma);
    if (sc == 3) {
        v.v1 = fw_aug_tone(p, v.v1, gamma);
        v.v2 = fw_aug_tone(p, v.v2, gamma);
        float luma = 0.299f * v.v0 + 0.587f * v.v1 + 0.114f * v.v2;
        v.v0 = fw_aug_clamp(v.v0 + p->gray * (luma - v.v0), 0.0f, 1.0f);
        v.v1 = fw_aug_clamp(v.v1 + p->gray * (luma - v.v1), 0.0f, 1.0f);
        v.v2 = fw_aug_clamp(v.v2 + p->gray * (luma - v.v2), 0.0f, 1.0f);
    }
    return v;
}

/* Step 6. */
FW_AUG_HD fw_aug_px fw_aug_normalise(const fw_aug_params *p, fw_aug_px v)
{
    v.v0 = (v.v0 - p->mean[0]) * p->inv_std[0];
    v.v1 = (v.v1 - p->mean[1]) * p->inv_std[1];
    v.v2 = (v.v2 - p->mean[2]) * p->inv_std[2];
    return v;
}

/* The normalised output of an erased pixel. */
FW_AUG_HD fw_aug_px fw_aug_erased(const fw_aug_params *p)
{
    fw_aug_px v = {p->erase_value[0], p->erase_value[1], p->erase_value[2]};
    return fw_aug_normalise(p, v);
}

/* Output pixel (x, y), all channels, with the per-sample switches given
 * explicitly (blur: n_taps > 1; gamma: gamma != 1; erase: 0 = ignore the
 * erase rectangle, the caller fills it). limit = sw * sh * sc - 4 (>= 0). */
FW_AUG_HD fw_aug_px fw_aug_pixel_ex(const fw_aug_params *p, const uint8_t *src, int sw, int sh,
                                    int sc, int limit, int x, int y, int blur, int gamma,
                                    int erase)
{
    const float k = 1.0f / 255.0f;
    fw_aug_px v = fw_aug_sample(p, src, sw, sh, sc, limit, x, y, blur);
    v.v0 *= k, v.v1 *= k, v.v2 *= k;
    v = fw_aug_normalise(p, fw_aug_photometric(p, sc, v, gamma));
    if (erase && x >= p->erase_x0 && x < p->erase_x1 && y >= p->erase_y0 && y < p->erase_y1)
        v = fw_aug_erased(p);
    return v;
}

/* All channels of output pixel (x, y), normalised. src is (sh, sw, sc)
 * uint8 with sw * sh * sc >= 4 (smaller images: see fw_augment_image). */
FW_AUG_HD fw_aug_px fw_aug_pixel_all(const fw_aug_params *p, const uint8_t *src, int sw, int sh,
                                     int sc, int x, int y)
{
    return fw_aug_pixel_ex(p, src, sw, sh, sc, sw * sh * sc - 4, x, y, p->n_taps > 1,
                           p->gamma != 1.0f, 1);
}

/* One output value: channel c (< sc) of pixel (x, y). */
FW_AUG_HD float fw_aug_pixel(const fw_aug_params *p, const uint8_t *src, int sw, int sh, int sc,
                             int x, int y, int c)
{
    fw_aug_px v = fw_aug_pixel_all(p, src, sw, sh, sc, x, y);
    return c == 0 ? v.v0 : c == 1 ? v.v1 : v.v2;
}

#endif
