/* layout_math.h — the CUDA backend's index arithmetic as FW_HD functions, so
 * the kernels and the host tests (tests/test_gpu_math.c) run the same code:
 * channels-last (NHWC) position -> plain (N, C, H, W) index, PyTorch conv
 * weight (O, I, KH, KW) index -> cuDNN KRSC (O, KH, KW, I) index, and the
 * range of pooling windows that cover an input coordinate.
 */
#ifndef FW_LAYOUT_MATH_H
#define FW_LAYOUT_MATH_H

#include <stdint.h>

#include "../src/hostdev.h"

/* Index in plain (N, C, H, W) order of element i of an (N, H, W, C) array. */
FW_HD int64_t fw_nhwc_to_plain(int64_t i, int64_t c, int64_t h, int64_t w)
{
    int64_t ch = i % c;
    int64_t r = i / c; /* (n, y, x) */
    int64_t x = r % w;
    int64_t y = (r / w) % h;
    int64_t n = r / (w * h);
    return ((n * c + ch) * h + y) * w + x;
}

/* Index in (O, KH, KW, I) order of element i of an (O, I, KH, KW) array. */
FW_HD int64_t fw_oihw_to_krsc(int64_t i, int64_t in, int64_t kh, int64_t kw)
{
    int64_t x = i % kw, r = i / kw;
    int64_t y = r % kh;
    r /= kh;
    int64_t ci = r % in, co = r / in;
    return ((co * kh + y) * kw + x) * in + ci;
}

/* Output positions o in [0, out) whose window [o s - p, o s - p + k) covers
 * input coordinate v (0 <= v): [*lo, *hi], empty when *lo > *hi. */
FW_HD void fw_pool_covering(int64_t v, int64_t k, int64_t s, int64_t p, int64_t out,
                            int64_t *lo, int64_t *hi)
{
    int64_t a = v + p - k + 1; /* o s >= v + p - k + 1 */
    *lo = a <= 0 ? 0 : (a + s - 1) / s;
    int64_t b = (v + p) / s; /* o s <= v + p */
    *hi = b < out - 1 ? b : out - 1;
}

#endif
