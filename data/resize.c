/* resize.c — resampling 8-bit images from a crop box to a target size.
 *
 * Separable: each axis gets a list of source taps per output pixel. For each
 * output row, a vertical pass sums the source rows it needs into one float
 * row (SSE2 when available), then a horizontal pass sums that row's taps into
 * the output pixels (the three channels of a pixel in one SSE2 vector). Along
 * an axis that shrinks, an output pixel is the area average of the source
 * interval it covers (partial pixels weighted by their overlap); along an
 * axis that keeps or enlarges its size, it is bilinear between the two
 * nearest source pixel centres (half-pixel aligned), with taps clamped to the
 * pixels the crop box touches, so nothing outside the box leaks in. Rounded
 * half up. The vector and scalar paths do the same multiply-then-add in the
 * same order, so the same inputs always give the same bytes.
 */
#include "resize.h"

#include <math.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Source taps of every output pixel along one axis. */
typedef struct {
    int *start;     /* (dst_len) first source index */
    int *count;     /* (dst_len) number of taps */
    float *weight;  /* (dst_len, max_taps) */
    int max_taps;
    int lo, hi;     /* smallest and largest source index used */
} axis_taps;

static void axis_taps_free(axis_taps *t)
{
    free(t->start);
    free(t->count);
    free(t->weight);
    memset(t, 0, sizeof *t);
}

static int axis_taps_build(axis_taps *t, int src_len, double a0, double a1, int dst_len,
                           fw_error *err)
{
    memset(t, 0, sizeof *t);
    double scale = (a1 - a0) / dst_len;
    int shrinking = scale > 1.0;
    t->max_taps = shrinking ? (int)ceil(scale) + 2 : 2;
    t->start = malloc((size_t)dst_len * sizeof *t->start);
    t->count = malloc((size_t)dst_len * sizeof *t->count);
    t->weight = calloc((size_t)dst_len * (size_t)t->max_taps, sizeof *t->weight);
    if (!t->start || !t->count || !t->weight) {
        axis_taps_free(t);
        return fw_fail(err, FW_ENOMEM, "resize: cannot allocate %d taps", dst_len);
    }
    /* source pixels the box touches */
    int first = (int)floor(a0), last = (int)ceil(a1) - 1;
    if (first < 0)
        first = 0;
    if (last > src_len - 1)
        last = src_len - 1;
    if (last < first)
        last = first;
    t->lo = src_len;
    t->hi = -1;
    for (int i = 0; i < dst_len; i++) {
        float *w = t->weight + (size_t)i * (size_t)t->max_taps;
        int start, count;
        if (shrinking) {
            double lo = a0 + i * scale;
            double hi = i == dst_len - 1 ? a1 : a0 + (i + 1) * scale;
            start = (int)floor(lo);
            int end = (int)ceil(hi) - 1;
            if (start < first)
                start = first;
            if (end > last)
                end = last;
            if (end < start)
                end = start;
            count = end - start + 1;
            if (count > t->max_taps)
                count = t->max_taps; /* cannot happen: ceil(scale)+2 bounds the overlap */
            double sum = 0;
            for (int k = 0; k < count; k++) {
                double p0 = start + k, p1 = start + k + 1;
                double ov = fmin(p1, hi) - fmax(p0, lo);
                w[k] = ov > 0 ? (float)ov : 0.0f;
                sum += w[k];
            }
            if (sum > 0) {
                for (int k = 0; k < count; k++)
                    w[k] = (float)(w[k] / sum);
            } else {
                w[0] = 1.0f;
            }
        } else {
            double u = a0 + (i + 0.5) * scale - 0.5;
            double base = floor(u);
            double frac = u - base;
            int j0 = (int)base, j1 = j0 + 1;
            if (j0 < first)
                j0 = first;
            if (j0 > last)
                j0 = last;
            if (j1 < first)
                j1 = first;
            if (j1 > last)
                j1 = last;
            start = j0;
            if (j1 == j0) {
                count = 1;
                w[0] = 1.0f;
            } else {
                count = 2;
                w[0] = (float)(1.0 - frac);
                w[1] = (float)frac;
            }
        }
        t->start[i] = start;
        t->count[i] = count;
        if (start < t->lo)
            t->lo = start;
        if (start + count - 1 > t->hi)
            t->hi = start + count - 1;
    }
    return FW_OK;
}

/* round half up and clamp to 0..255 (compiles to maxss/minss, no branches) */
static inline uint8_t round_u8(float v)
{
    v += 0.5f;
    v = v > 0.0f ? v : 0.0f;
    v = v < 255.0f ? v : 255.0f;
    return (uint8_t)v;
}

/* acc[e] = w * in[e] (first tap) or acc[e] += w * in[e]. With SSE2 sixteen
 * at a time (plain -O2 does not vectorise the uint8 -> float widening); the
 * arithmetic is the same multiply-then-add as the scalar loop, so results do
 * not depend on which path a value took. */
#ifdef __SSE2__
/* Sixteen uint8 values widened to four float vectors. */
static inline void widen_u8x16(const uint8_t *in, __m128 f[4])
{
    const __m128i zero = _mm_setzero_si128();
    __m128i b = _mm_loadu_si128((const __m128i *)in);
    __m128i lo = _mm_unpacklo_epi8(b, zero), hi = _mm_unpackhi_epi8(b, zero);
    f[0] = _mm_cvtepi32_ps(_mm_unpacklo_epi16(lo, zero));
    f[1] = _mm_cvtepi32_ps(_mm_unpackhi_epi16(lo, zero));
    f[2] = _mm_cvtepi32_ps(_mm_unpacklo_epi16(hi, zero));
    f[3] = _mm_cvtepi32_ps(_mm_unpackhi_epi16(hi, zero));
}
#endif

static void accumulate_row(float *restrict acc, const uint8_t *restrict in, float w, size_t n,
                           int first)
{
    size_t e = 0;
#ifdef __SSE2__
    const __m128 wv = _mm_set1_ps(w);
    for (; e + 16 <= n; e += 16) {
        __m128 f[4];
        widen_u8x16(in + e, f);
        for (int q = 0; q < 4; q++) {
            __m128 term = _mm_mul_ps(wv, f[q]);
            _mm_storeu_ps(acc + e + 4 * q,
                          first ? term : _mm_add_ps(_mm_loadu_ps(acc + e + 4 * q), term));
        }
    }
#endif
    if (first) {
        for (; e < n; e++)
            acc[e] = w * (float)in[e];
    } else {
        for (; e < n; e++)
            acc[e] += w * (float)in[e];
    }
}

int fw_resize(const fw_image *src, float x0, float y0, float x1, float y1, fw_image *dst,
              fw_error *err)
{
    if (!src->pixels || !dst->pixels || src->width <= 0 || src->height <= 0 ||
        dst->width <= 0 || dst->height <= 0)
        return fw_fail(err, FW_EINVAL, "resize: empty source or destination image");
    if (src->channels != dst->channels || (src->channels != 1 && src->channels != 3))
        return fw_fail(err, FW_EINVAL, "resize: channel counts %d -> %d (must match, 1 or 3)",
                       src->channels, dst->channels);
    if (!(x0 >= 0 && y0 >= 0 && x1 <= src->width && y1 <= src->height && x1 > x0 && y1 > y0))
        return fw_fail(err, FW_EINVAL, "resize: box (%g,%g)-(%g,%g) is not inside the %dx%d image",
                       x0, y0, x1, y1, src->width, src->height);
    const int C = src->channels, sw = src->width, dw = dst->width, dh = dst->height;

    axis_taps tx, ty;
    FW_TRY(axis_taps_build(&tx, sw, x0, x1, dw, err));
    int rc = axis_taps_build(&ty, src->height, y0, y1, dh, err);
    if (rc < 0) {
        axis_taps_free(&tx);
        return rc;
    }
    /* only the columns the horizontal taps read */
    const size_t col0 = (size_t)tx.lo * (size_t)C, cols = (size_t)(tx.hi - tx.lo + 1) * (size_t)C;
    float *tmp = calloc(cols + 1, sizeof *tmp); // (tx.hi - tx.lo + 1, C) + 1 pad: one row
    if (!tmp) {
        axis_taps_free(&tx);
        axis_taps_free(&ty);
        return fw_fail(err, FW_ENOMEM, "resize: cannot allocate a %zu-value work row", cols);
    }
    const size_t src_stride = (size_t)sw * (size_t)C;
    for (int y = 0; y < dh; y++) {
        /* vertical pass into one float row (contiguous, so it vectorises) */
        const float *wy = ty.weight + (size_t)y * (size_t)ty.max_taps;
        const uint8_t *in = src->pixels + (size_t)ty.start[y] * src_stride + col0;
        for (int k = 0; k < ty.count[y]; k++)
            accumulate_row(tmp, in + (size_t)k * src_stride, wy[k], cols, k == 0);
        /* horizontal pass from that row into the output row */
        uint8_t *out = dst->pixels + (size_t)y * (size_t)dw * (size_t)C;
        for (int x = 0; x < dw; x++) {
            const float *w = tx.weight + (size_t)x * (size_t)tx.max_taps;
            const float *p = tmp + (size_t)(tx.start[x] - tx.lo) * (size_t)C;
            int n = tx.count[x];
            if (C == 3) {
#ifdef __SSE2__
                /* the three channels in one vector; the 4th lane reads the
                   next value (the row has one float of padding) and is unused */
                __m128 acc = _mm_setzero_ps();
                for (int k = 0; k < n; k++)
                    acc = _mm_add_ps(acc, _mm_mul_ps(_mm_set1_ps(w[k]), _mm_loadu_ps(p + 3 * k)));
                acc = _mm_min_ps(_mm_max_ps(_mm_add_ps(acc, _mm_set1_ps(0.5f)), _mm_setzero_ps()),
                                 _mm_set1_ps(255.0f));
                int32_t v[4];
                _mm_storeu_si128((__m128i *)v, _mm_cvttps_epi32(acc));
                out[3 * x] = (uint8_t)v[0];
                out[3 * x + 1] = (uint8_t)v[1];
                out[3 * x + 2] = (uint8_t)v[2];
                continue;
#endif
                float s0 = 0, s1 = 0, s2 = 0;
                for (int k = 0; k < n; k++) {
                    s0 += w[k] * p[3 * k];
                    s1 += w[k] * p[3 * k + 1];
                    s2 += w[k] * p[3 * k + 2];
                }
                out[3 * x] = round_u8(s0);
                out[3 * x + 1] = round_u8(s1);
                out[3 * x + 2] = round_u8(s2);
            } else {
                float s0 = 0;
                for (int k = 0; k < n; k++)
                    s0 += w[k] * p[k];
                out[x] = round_u8(s0);
            }
        }
    }
    free(tmp);
    axis_taps_free(&tx);
    axis_taps_free(&ty);
    return FW_OK;
}

int fw_image_convert(const fw_image *src, int channels, fw_image *dst, fw_error *err)
{
    dst->pixels = NULL;
    if (!src->pixels || (src->channels != 1 && src->channels != 3))
        return fw_fail(err, FW_EINVAL, "convert: bad source image (%d channels)", src->channels);
    FW_TRY(fw_image_alloc(dst, src->width, src->height, channels, err));
    size_t n = (size_t)src->width * (size_t)src->height;
    const uint8_t *s = src->pixels;
    uint8_t *d = dst->pixels;
    if (src->channels == channels) {
        memcpy(d, s, n * (size_t)channels);
    } else if (channels == 1) {
        for (size_t p = 0; p < n; p++) /* PIL's "L" conversion, rounded fixed point */
            d[p] = (uint8_t)((s[3 * p] * 19595 + s[3 * p + 1] * 38470 + s[3 * p + 2] * 7471 +
                              0x8000) >> 16);
    } else {
        for (size_t p = 0; p < n; p++)
            d[3 * p] = d[3 * p + 1] = d[3 * p + 2] = s[p];
    }
    return FW_OK;
}
