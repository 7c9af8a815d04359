/* synth_render.c — draws one synthetic fluke photo (see synth_render.h). */
#include "synth_render.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../src/rng.h"

#define SALT_PHOTO 0x70686f746f677261ull /* "photogra" */
#define SALT_SEA 0x73656174696c6521ull   /* "seatile!" */
#define PI_D 3.14159265358979323846
#define LUT_N 1024
#define LUT_MAX 1.6f    /* linear values above this saturate */
#define LUT_OFFSET 0.05f /* the LUT also covers [-LUT_OFFSET, 0) (noise) */

static float clampf(float x, float lo, float hi) { return x < lo ? lo : (x > hi ? hi : x); }
static float lerpf(float a, float b, float t) { return a + t * (b - a); }

/* ---- the shared noise tile ---------------------------------------------- */

int fw_synth_sea_make(uint64_t seed, fw_synth_sea *sea, fw_error *err)
{
    fw_rng r;
    fw_rng_init(&r, seed ^ SALT_SEA, 0);
    float *sum = calloc((size_t)FW_SYNTH_TILE * FW_SYNTH_TILE, sizeof *sum); /* (TILE, TILE) */
    if (!sum)
        return fw_fail(err, FW_ENOMEM, "synth: cannot allocate the noise tile");
    /* Periodic value noise: octaves with 8, 16, 32 and 64 lattice cells per period. */
    float lattice[64 * 64];
    float amp = 1.0f;
    for (int cells = 8; cells <= 64; cells *= 2, amp *= 0.55f) {
        for (int k = 0; k < cells * cells; k++)
            lattice[k] = fw_rng_uniform(&r);
        int step = FW_SYNTH_TILE / cells;
        for (int y = 0; y < FW_SYNTH_TILE; y++) {
            int ly = y / step;
            float ty = (float)(y % step) / (float)step;
            ty = ty * ty * (3.0f - 2.0f * ty);
            const float *l0 = lattice + ly * cells, *l1 = lattice + ((ly + 1) % cells) * cells;
            for (int x = 0; x < FW_SYNTH_TILE; x++) {
                int lx = x / step, lx1 = (lx + 1) % cells;
                float tx = (float)(x % step) / (float)step;
                tx = tx * tx * (3.0f - 2.0f * tx);
                float a = lerpf(l0[lx], l0[lx1], tx), b = lerpf(l1[lx], l1[lx1], tx);
                sum[y * FW_SYNTH_TILE + x] += amp * lerpf(a, b, ty);
            }
        }
    }
    float lo = sum[0], hi = sum[0];
    for (int k = 1; k < FW_SYNTH_TILE * FW_SYNTH_TILE; k++) {
        lo = sum[k] < lo ? sum[k] : lo;
        hi = sum[k] > hi ? sum[k] : hi;
    }
    for (int k = 0; k < FW_SYNTH_GRAIN; k++)
        sea->grain[k] = (int8_t)(int)(fw_rng_u32(&r) >> 24);
    float scale = hi > lo ? 255.0f / (hi - lo) : 0.0f;
    for (int y = 0; y < FW_SYNTH_TILE; y++)
        for (int x = 0; x < FW_SYNTH_TILE; x++)
            sea->tile[y][x] = (uint8_t)((sum[y * FW_SYNTH_TILE + x] - lo) * scale + 0.5f);
    free(sum);
    return FW_OK;
}

/* ---- per-photo parameters ------------------------------------------------ */

/* 3x3 inverse by the adjugate (the homographies here are well conditioned). */
static void invert3(const double m[9], double out[9])
{
    double a = m[0], b = m[1], c = m[2], d = m[3], e = m[4], f = m[5], g = m[6], h = m[7], i = m[8];
    double A = e * i - f * h, B = -(d * i - f * g), C = d * h - e * g;
    double det = a * A + b * B + c * C;
    double inv_det = det != 0.0 ? 1.0 / det : 0.0;
    out[0] = A * inv_det;
    out[1] = -(b * i - c * h) * inv_det;
    out[2] = (b * f - c * e) * inv_det;
    out[3] = B * inv_det;
    out[4] = (a * i - c * g) * inv_det;
    out[5] = -(a * f - c * d) * inv_det;
    out[6] = C * inv_det;
    out[7] = -(a * h - b * g) * inv_det;
    out[8] = (a * e - b * d) * inv_det;
}

static void draw_colour(fw_rng *r, const float base[3], float spread, float out[3])
{
    float k = fw_rng_range(r, 1.0f - spread, 1.0f + spread);
    for (int c = 0; c < 3; c++)
        out[c] = base[c] * k * fw_rng_range(r, 1.0f - 0.5f * spread, 1.0f + 0.5f * spread);
}

/* The viewpoint: the fluke plane rotated (yaw, pitch, roll) at distance D in
 * front of a pinhole camera with focal length f, canonical origin (the notch)
 * projected to (cx, cy):  H = K [r1 r2 t]. */
static void draw_viewpoint(fw_rng *r, fw_synth_photo *p)
{
    float W = (float)p->width, H = (float)p->height;
    int close_up = fw_rng_uniform(r) < 0.15f; /* tips may leave the frame */
    float s = close_up ? fw_rng_range(r, 0.95f, 1.35f) : fw_rng_range(r, 0.55f, 0.92f);
    float base = 0.5f * W < 0.95f * H ? 0.5f * W : 0.95f * H;
    double half_span = (double)(s * base);
    double yaw = fw_rng_range(r, -35.0f, 35.0f) * PI_D / 180.0;
    double pitch = fw_rng_range(r, -20.0f, 30.0f) * PI_D / 180.0;
    double roll = clampf(fw_rng_normal(r) * 5.0f, -14.0f, 14.0f) * PI_D / 180.0;
    double dist = fw_rng_range(r, 2.5f, 8.0f);
    double cx = W * (0.5f + (close_up ? fw_rng_range(r, -0.25f, 0.25f) : fw_rng_range(r, -0.12f, 0.12f)));
    double cy = H * (0.5f + fw_rng_range(r, -0.08f, 0.08f)) - 0.22 * half_span;
    double f = half_span * dist;
    /* R = Rz(roll) Rx(pitch) Ry(yaw); only its first two columns matter. */
    double cyw = cos(yaw), syw = sin(yaw), cp = cos(pitch), sp = sin(pitch);
    double cr = cos(roll), sr = sin(roll);
    double ry[9] = {cyw, 0, syw, 0, 1, 0, -syw, 0, cyw};
    double rx[9] = {1, 0, 0, 0, cp, -sp, 0, sp, cp};
    double rz[9] = {cr, -sr, 0, sr, cr, 0, 0, 0, 1};
    double t[9], R[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            t[i * 3 + j] = rx[i * 3] * ry[j] + rx[i * 3 + 1] * ry[3 + j] + rx[i * 3 + 2] * ry[6 + j];
        }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            R[i * 3 + j] = rz[i * 3] * t[j] + rz[i * 3 + 1] * t[3 + j] + rz[i * 3 + 2] * t[6 + j];
    /* [r1 r2 t] with t = (0, 0, dist), then K. */
    double M[9] = {R[0], R[1], 0, R[3], R[4], 0, R[6], R[7], dist};
    double K[9] = {f, 0, cx, 0, f, cy, 0, 0, 1};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            p->hom[i * 3 + j] = K[i * 3] * M[j] + K[i * 3 + 1] * M[3 + j] + K[i * 3 + 2] * M[6 + j];
    invert3(p->hom, p->inv);
    /* Canonical units per pixel at the notch: sqrt of the inverse map's Jacobian. */
    double px[3][2];
    double pts[3][2] = {{cx, cy}, {cx + 1, cy}, {cx, cy + 1}};
    for (int k = 0; k < 3; k++) {
        const double *m = p->inv;
        double w = m[6] * pts[k][0] + m[7] * pts[k][1] + m[8];
        px[k][0] = (m[0] * pts[k][0] + m[1] * pts[k][1] + m[2]) / w;
        px[k][1] = (m[3] * pts[k][0] + m[4] * pts[k][1] + m[5]) / w;
    }
    double det = (px[1][0] - px[0][0]) * (px[2][1] - px[0][1]) -
                 (px[1][1] - px[0][1]) * (px[2][0] - px[0][0]);
    p->pix = (float)sqrt(fabs(det));
    p->horizon_slope = (float)tan(roll) * fw_rng_range(r, 0.5f, 1.0f);
}

void fw_synth_photo_draw(uint64_t seed, uint64_t image_index, int fixed_w, int fixed_h,
                         fw_synth_photo *p)
{
    static const float sky_clear[3] = {0.55f, 0.68f, 0.85f}, sky_grey[3] = {0.78f, 0.8f, 0.82f};
    static const float seas[4][3] = {
        {0.1f, 0.2f, 0.33f}, {0.12f, 0.28f, 0.32f}, {0.25f, 0.31f, 0.32f}, {0.17f, 0.2f, 0.23f}};
    fw_rng r;
    fw_rng_init(&r, seed ^ SALT_PHOTO, image_index);
    memset(p, 0, sizeof *p);

    /* size: mostly wide (about 2:1 or more), a few hundred to 1,000 px wide */
    if (fixed_w > 0 && fixed_h > 0) {
        p->width = fixed_w;
        p->height = fixed_h;
    } else {
        p->width = FW_SYNTH_MIN_W + (int)fw_rng_below(&r, FW_SYNTH_MAX_W - FW_SYNTH_MIN_W + 1);
        float x = fw_rng_uniform(&r);
        float aspect = x < 0.75f ? fw_rng_range(&r, 2.0f, 3.0f)
                                 : (x < 0.95f ? fw_rng_range(&r, 1.4f, 2.0f) : fw_rng_range(&r, 1.1f, 1.4f));
        p->height = (int)((float)p->width / aspect + 0.5f);
        if (p->height < FW_SYNTH_MIN_H)
            p->height = FW_SYNTH_MIN_H;
    }
    p->channels = fw_rng_uniform(&r) < 1.0f / 3.0f ? 1 : 3;
    p->quality = 70 + (int)fw_rng_below(&r, 26);
    draw_viewpoint(&r, p);
    p->stock = fw_rng_range(&r, 0.03f, 0.5f);

    /* lighting */
    p->exposure = expf(0.05f + fw_rng_normal(&r) * 0.22f);
    p->contrast = fw_rng_range(&r, 0.7f, 1.25f);
    p->brightness = fw_rng_range(&r, -0.06f, 0.06f);
    p->gamma = fw_rng_range(&r, 0.8f, 1.25f);
    p->grad_x = fw_rng_range(&r, -0.35f, 0.35f);
    p->grad_y = fw_rng_range(&r, -0.35f, 0.35f);
    p->noise = fw_rng_range(&r, 0.0f, 0.05f);
    p->shade0 = fw_rng_range(&r, 0.75f, 1.0f);
    p->shade_u = fw_rng_range(&r, -0.2f, 0.2f);
    p->shade_v = fw_rng_range(&r, -0.25f, 0.15f);
    for (int c = 0; c < 3; c++)
        p->light[c] = 1.0f + fw_rng_range(&r, -0.08f, 0.08f);
    p->pattern_sharpness = fw_rng_range(&r, 0.6f, 1.4f);

    /* sky and sea */
    float H = (float)p->height;
    p->horizon_y = fw_rng_uniform(&r) < 0.35f ? H * fw_rng_range(&r, -0.05f, 0.3f)
                                              : -H * fw_rng_range(&r, 0.3f, 3.0f);
    float mix = fw_rng_uniform(&r);
    float sky[3];
    for (int c = 0; c < 3; c++)
        sky[c] = lerpf(sky_clear[c], sky_grey[c], mix);
    draw_colour(&r, sky, 0.15f, p->sky_top);
    for (int c = 0; c < 3; c++)
        p->sky_bottom[c] = clampf(p->sky_top[c] * fw_rng_range(&r, 1.05f, 1.25f), 0.0f, 1.0f);
    draw_colour(&r, seas[fw_rng_below(&r, 4)], 0.35f, p->sea_near);
    for (int c = 0; c < 3; c++)
        p->sea_far[c] = lerpf(p->sea_near[c], p->sky_bottom[c], fw_rng_range(&r, 0.2f, 0.6f));
    p->wave_amp = fw_rng_range(&r, 0.15f, 0.6f);
    p->wave_scale = fw_rng_range(&r, 0.5f, 2.0f);
    p->wave_aniso = fw_rng_range(&r, 2.0f, 5.0f);
    p->wave_ox = fw_rng_range(&r, 0.0f, 256.0f);
    p->wave_oy = fw_rng_range(&r, 0.0f, 256.0f);
    p->cap_threshold = fw_rng_range(&r, 0.72f, 0.95f);

    /* water streaming off the fluke, foam where the tail stock meets the sea */
    /* 0..12 streaks, mostly few */
    float many = fw_rng_uniform(&r);
    p->n_streaks = (int)(many * many * (FW_SYNTH_MAX_STREAKS + 1));
    for (int k = 0; k < p->n_streaks; k++) {
        fw_synth_streak *s = &p->streak[k];
        int sheet = fw_rng_uniform(&r) < 0.3f; /* a wide sheet pouring off near a tip */
        s->u = sheet ? (fw_rng_uniform(&r) < 0.5f ? -1.0f : 1.0f) * fw_rng_range(&r, 0.55f, 0.95f)
                     : fw_rng_range(&r, -0.95f, 0.95f);
        s->from_top = fw_rng_uniform(&r) < 0.4f;
        s->width = sheet ? fw_rng_range(&r, 8.0f, 40.0f) : fw_rng_range(&r, 1.0f, 4.0f);
        s->alpha = sheet ? fw_rng_range(&r, 0.15f, 0.5f) : fw_rng_range(&r, 0.2f, 0.7f);
        s->overshoot = fw_rng_range(&r, 0.0f, 0.1f);
    }
    p->foam = fw_rng_range(&r, 0.0f, 0.9f);
    p->foam_half = fw_rng_range(&r, 0.15f, 0.6f);
    p->foam_height = fw_rng_range(&r, 0.05f, 0.2f);
    p->foam_ox = fw_rng_range(&r, 0.0f, 256.0f);
    p->foam_oy = fw_rng_range(&r, 0.0f, 256.0f);
    float b = fw_rng_uniform(&r);
    p->blur = b < 0.5f ? 0 : (b < 0.85f ? 1 : 2);
    p->noise_seed = fw_rng_u32(&r);
}

int fw_synth_photo_project(const fw_synth_photo *p, float u, float v, float *x, float *y)
{
    const double *m = p->hom;
    double w = m[6] * u + m[7] * v + m[8];
    if (w <= 1e-9)
        return 0;
    *x = (float)((m[0] * u + m[1] * v + m[2]) / w);
    *y = (float)((m[3] * u + m[4] * v + m[5]) / w);
    return 1;
}

/* ---- rendering ------------------------------------------------------------ */

void fw_synth_scratch_free(fw_synth_scratch *s)
{
    free(s->rgb);
    free(s->out);
    free(s->tmp);
    free(s->cols);
    free(s->blur_cols);
    memset(s, 0, sizeof *s);
}

static int scratch_reserve(fw_synth_scratch *s, int w, int h, fw_error *err)
{
    size_t pixels = (size_t)w * (size_t)h;
    if (pixels > s->cap_pixels) {
        free(s->rgb);
        free(s->out);
        free(s->tmp);
        s->rgb = malloc(pixels * 3);
        s->out = malloc(pixels * 3);
        s->tmp = malloc(pixels * 3);
        s->cap_pixels = pixels;
        if (!s->rgb || !s->out || !s->tmp) {
            fw_synth_scratch_free(s);
            return fw_fail(err, FW_ENOMEM, "synth: cannot allocate a %dx%d image", w, h);
        }
    }
    if ((size_t)w > s->cap_cols) {
        free(s->cols);
        free(s->blur_cols);
        s->cols = malloc(sizeof(float) * 3 * (size_t)w);
        s->blur_cols = malloc(sizeof(int) * 3 * (size_t)w);
        s->cap_cols = (size_t)w;
        if (!s->cols || !s->blur_cols) {
            fw_synth_scratch_free(s);
            return fw_fail(err, FW_ENOMEM, "synth: cannot allocate %d columns", w);
        }
    }
    return FW_OK;
}

/* Tone curve: linear value (0..LUT_MAX) -> 8-bit with gamma, contrast, brightness. */
static void make_lut(const fw_synth_photo *p, uint8_t lut[LUT_N])
{
    for (int i = 0; i < LUT_N; i++) {
        float x = (float)i * ((LUT_MAX + LUT_OFFSET) / (LUT_N - 1)) - LUT_OFFSET;
        x = x < 0.0f ? 0.0f : x;
        float y = powf(x > 1.0f ? 1.0f : x, p->gamma) + (x > 1.0f ? 0.5f * (x - 1.0f) : 0.0f);
        y = (y - 0.5f) * p->contrast + 0.5f + p->brightness;
        lut[i] = (uint8_t)(clampf(y, 0.0f, 1.0f) * 255.0f + 0.5f);
    }
}

/* Streak table per column: cols[x] = opacity, cols[W + x] = first y, cols[2W + x] = last y. */
static void make_streaks(const fw_synth_identity *id, const fw_synth_photo *p, float *cols)
{
    int W = p->width;
    for (int x = 0; x < W; x++) {
        cols[x] = 0.0f;
        cols[W + x] = 0.0f;
        cols[2 * W + x] = 0.0f;
    }
    for (int k = 0; k < p->n_streaks; k++) {
        const fw_synth_streak *s = &p->streak[k];
        float top, bottom, xs, ys, xe, ye;
        fw_synth_identity_edges(id, s->u, &top, &bottom);
        if (bottom - top < 0.01f)
            continue; /* no fluke there (past a damaged tip) */
        if (!fw_synth_photo_project(p, s->u, s->from_top ? top : bottom, &xs, &ys) ||
            !fw_synth_photo_project(p, s->u, fw_synth_waterline(id, p), &xe, &ye))
            continue;
        ye += s->overshoot * (float)p->height;
        if (ye <= ys)
            continue;
        float x0 = xs - 0.5f * s->width, x1 = xs + 0.5f * s->width;
        int c0 = (int)floorf(x0), c1 = (int)ceilf(x1);
        for (int x = c0 < 0 ? 0 : c0; x < c1 && x < W; x++) {
            float lo = (float)x > x0 ? (float)x : x0, hi = (float)(x + 1) < x1 ? (float)(x + 1) : x1;
            float a = s->alpha * clampf(hi - lo, 0.0f, 1.0f);
            if (a <= 0.0f)
                continue;
            if (cols[x] == 0.0f) {
                cols[W + x] = ys;
                cols[2 * W + x] = ye;
            } else {
                cols[W + x] = ys < cols[W + x] ? ys : cols[W + x];
                cols[2 * W + x] = ye > cols[2 * W + x] ? ye : cols[2 * W + x];
            }
            cols[x] = a > cols[x] ? a : cols[x];
        }
    }
}

/* Separable box blur of radius r (edges clamped), src -> dst via tmp. Rows are
 * blurred horizontally into tmp, then a running column sum (cols, W*C ints)
 * blurs vertically row by row, so memory is walked in order. */
static void box_blur(const uint8_t *src, uint8_t *tmp, uint8_t *dst, int *cols, int w, int h,
                     int ch, int r)
{
    const int k = 2 * r + 1;
    const uint32_t recip = (65536u + (uint32_t)k / 2) / (uint32_t)k; /* x / k ~ (x * recip) >> 16 */
    const size_t stride = (size_t)w * ch;
    for (int y = 0; y < h; y++) {
        const uint8_t *row = src + (size_t)y * stride;
        uint8_t *out = tmp + (size_t)y * stride;
        for (int c = 0; c < ch; c++) {
            uint32_t sum = 0;
            for (int i = -r; i <= r; i++)
                sum += row[(i < 0 ? 0 : (i >= w ? w - 1 : i)) * ch + c];
            for (int x = 0; x < w; x++) {
                out[x * ch + c] = (uint8_t)((sum * recip + 32768u) >> 16);
                int add = x + r + 1 >= w ? w - 1 : x + r + 1, sub = x - r < 0 ? 0 : x - r;
                sum += row[add * ch + c];
                sum -= row[sub * ch + c];
            }
        }
    }
    for (size_t i = 0; i < stride; i++)
        cols[i] = 0;
    for (int j = -r; j <= r; j++) {
        const uint8_t *row = tmp + (size_t)(j < 0 ? 0 : (j >= h ? h - 1 : j)) * stride;
        for (size_t i = 0; i < stride; i++)
            cols[i] += row[i];
    }
    for (int y = 0; y < h; y++) {
        uint8_t *out = dst + (size_t)y * stride;
        for (size_t i = 0; i < stride; i++)
            out[i] = (uint8_t)(((uint32_t)cols[i] * recip + 32768u) >> 16);
        const uint8_t *add = tmp + (size_t)(y + r + 1 >= h ? h - 1 : y + r + 1) * stride;
        const uint8_t *sub = tmp + (size_t)(y - r < 0 ? 0 : y - r) * stride;
        for (size_t i = 0; i < stride; i++)
            cols[i] += add[i] - sub[i];
    }
}

/* Overlap of [a0, a1] with [b0, b1]. */
static inline float overlap(float a0, float a1, float b0, float b1)
{
    float lo = a0 > b0 ? a0 : b0, hi = a1 < b1 ? a1 : b1;
    return hi > lo ? hi - lo : 0.0f;
}

/* Per row, the x-range where the fluke (with foam) can be: the canonical box
 * [-1, 1] x [v0, v1] maps to a convex quadrilateral when it lies in front of
 * the camera. Returns 0 when it does not (then every pixel is checked). */
typedef struct quad {
    float x[4], y[4];
} quad;

static int fluke_quad(const fw_synth_photo *p, float v0, float v1, quad *q)
{
    const float cu[4] = {-1.0f, 1.0f, 1.0f, -1.0f}, cv[4] = {v0, v0, v1, v1};
    for (int k = 0; k < 4; k++)
        if (!fw_synth_photo_project(p, cu[k], cv[k], &q->x[k], &q->y[k]))
            return 0;
    return 1;
}

static void quad_span(const quad *q, float yc, int width, int *x0, int *x1)
{
    float lo = 1e30f, hi = -1e30f;
    for (int k = 0; k < 4; k++) {
        int n = (k + 1) & 3;
        float ya = q->y[k], yb = q->y[n];
        if ((yc < ya && yc < yb) || (yc > ya && yc > yb))
            continue;
        float x = ya == yb ? q->x[k] : q->x[k] + (yc - ya) / (yb - ya) * (q->x[n] - q->x[k]);
        if (ya == yb) {
            lo = fminf(lo, fminf(q->x[k], q->x[n]));
            hi = fmaxf(hi, fmaxf(q->x[k], q->x[n]));
        }
        lo = fminf(lo, x);
        hi = fmaxf(hi, x);
    }
    if (lo > hi) {
        *x0 = *x1 = 0;
        return;
    }
    lo = floorf(lo) - 2.0f;
    hi = ceilf(hi) + 2.0f;
    *x0 = lo < 0.0f ? 0 : (lo > (float)width ? width : (int)lo);
    *x1 = hi < 0.0f ? 0 : (hi > (float)width ? width : (int)hi);
}

int fw_synth_render(const fw_synth_identity *id, const fw_synth_photo *p,
                    const fw_synth_sea *sea, fw_synth_scratch *s, fw_image *out, fw_error *err)
{
    const int W = p->width, H = p->height;
    if (W < 1 || H < 1 || (p->channels != 1 && p->channels != 3))
        return fw_fail(err, FW_EINVAL, "synth: bad photo shape %dx%dx%d", W, H, p->channels);
    FW_TRY(scratch_reserve(s, W, H, err));
    uint8_t lut[LUT_N];
    make_lut(p, lut);
    make_streaks(id, p, s->cols);
    const float *streak_a = s->cols, *streak_y0 = s->cols + W, *streak_y1 = s->cols + 2 * W;
    const uint8_t(*tile)[FW_SYNTH_TILE] = sea->tile;

    const float pix = p->pix, half_pix = 0.5f * pix, inv_pix = 1.0f / pix;
    const float gain_field = p->pattern_sharpness * 0.045f * inv_pix;
    const float edge_scale = 0.5f * (FW_SYNTH_EDGE_N - 1);
    const float grid_sx = 0.5f * (FW_SYNTH_GRID_W - 1);
    const float grid_sy = (FW_SYNTH_GRID_H - 1) / (FW_SYNTH_GRID_V1 - FW_SYNTH_GRID_V0);
    const float waterline = fw_synth_waterline(id, p), top_limit = id->top_min - pix;
    const float fluke_end = waterline + p->foam_height;
    const float ped_max = id->ped_half + id->ped_flare + pix;
    const float inv_flare = 1.0f / id->ped_flare_len;
    const float foam_inv_h = 1.0f / p->foam_height, foam_inv_half = 1.0f / p->foam_half;
    const float margin = id->margin, inv_margin = margin > 0.0f ? 1.0f / margin : 0.0f;
    const float wb = id->white_level - id->black_level;
    const float cap_scale = 1.0f / (1.0f - p->cap_threshold);
    /* output: LUT index = (value + LUT_OFFSET) * lut_scale, noise in index units */
    const float lut_scale = (LUT_N - 1) / (LUT_MAX + LUT_OFFSET);
    const float noise_luma = p->noise * (1.0f / 256.0f) * lut_scale;
    const float noise_chroma = 0.3f * noise_luma;
    const float index_offset = LUT_OFFSET * lut_scale;
    const float sky_bright = (p->sky_bottom[0] + p->sky_bottom[1] + p->sky_bottom[2]) * (1.0f / 3.0f);
    const float water[3] = {0.9f * sky_bright + 0.1f, 0.93f * sky_bright + 0.07f, 0.96f * sky_bright + 0.04f};
    float skin[3];
    for (int c = 0; c < 3; c++)
        skin[c] = id->tint[c] * p->light[c];
    const double *m = p->inv;
    quad q;
    int have_quad = fluke_quad(p, top_limit, fluke_end, &q);
    fw_rng grain_rng;
    fw_rng_init(&grain_rng, p->noise_seed, 0);

    for (int y = 0; y < H; y++) {
        const float yc = (float)y + 0.5f;
        uint8_t *row = s->rgb + (size_t)y * W * 3;
        /* row constants: sky gradient, sea colour and wave texture rows */
        float ts = clampf((yc + 0.2f * H) / (p->horizon_y + 0.2f * H + 1.0f), 0.0f, 1.0f);
        float sky[3], seac[3];
        float d = (yc - p->horizon_y) / (float)H;
        float d_eff = d > 0.01f ? d : 0.01f;
        float wave_fade = clampf(d * 20.0f, 0.0f, 1.0f);
        float tnear = clampf(d * 1.5f, 0.0f, 1.0f);
        for (int c = 0; c < 3; c++) {
            sky[c] = lerpf(p->sky_top[c], p->sky_bottom[c], ts);
            seac[c] = lerpf(p->sea_far[c], p->sea_near[c], tnear);
        }
        float wave_sx = p->wave_scale / (p->wave_aniso * d_eff);
        float ty1 = p->wave_oy + p->wave_scale * (float)H / d_eff;
        const uint8_t *wrow1 = tile[(int)ty1 & (FW_SYNTH_TILE - 1)];
        const uint8_t *wrow2 = tile[(int)(ty1 * 2.3f + 31.0f) & (FW_SYNTH_TILE - 1)];
        const float wave_k = 2.0f * p->wave_amp * wave_fade * (1.0f / 255.0f);
        const float wave_k0 = 1.0f - 2.0f * p->wave_amp * wave_fade * 0.5f;
        const float cap_k = cap_scale * wave_fade;
        const float gain_row = p->exposure * (1.0f + p->grad_y * (yc / (float)H - 0.5f));
        const float gain_dx = p->exposure * p->grad_x / (float)W * lut_scale;
        float gain = (gain_row + p->exposure * p->grad_x * (0.5f / (float)W - 0.5f)) * lut_scale;
        float sky_limit = p->horizon_y; /* sky where yc < horizon_y + slope * x */
        const uint8_t *streak_row = tile[(int)(yc * 0.3f + 1000.0f) & (FW_SYNTH_TILE - 1)];
        const uint32_t grain_off1 = fw_rng_u32(&grain_rng), grain_off2 = fw_rng_u32(&grain_rng);
        int fx0 = 0, fx1 = W;
        if (have_quad)
            quad_span(&q, yc, W, &fx0, &fx1);

        float nu = (float)(m[0] * 0.5 + m[1] * yc + m[2]);
        float nv = (float)(m[3] * 0.5 + m[4] * yc + m[5]);
        float den = (float)(m[6] * 0.5 + m[7] * yc + m[8]);
        const float dnu = (float)m[0], dnv = (float)m[3], dden = (float)m[6];
        const float wave_ox = p->wave_ox;

        for (int x = 0; x < W; x++, nu += dnu, nv += dnv, den += dden, gain += gain_dx,
                 sky_limit += p->horizon_slope) {
            float c0, c1, c2;
            /* background: sky above the horizon, sea with waves and whitecaps below */
            if (yc < sky_limit) {
                c0 = sky[0], c1 = sky[1], c2 = sky[2];
            } else {
                float tx = wave_ox + (float)x * wave_sx;
                int wx1 = (int)tx & (FW_SYNTH_TILE - 1);
                int wx2 = (int)(tx * 2.3f + 77.0f) & (FW_SYNTH_TILE - 1);
                float t = 0.65f * wrow1[wx1] + 0.35f * wrow2[wx2]; /* 0..255 */
                float k = wave_k0 + wave_k * t;
                c0 = seac[0] * k, c1 = seac[1] * k, c2 = seac[2] * k;
                float cap = (t * (1.0f / 255.0f) - p->cap_threshold) * cap_k;
                if (cap > 0.0f) {
                    c0 += cap * (water[0] - c0);
                    c1 += cap * (water[1] - c1);
                    c2 += cap * (water[2] - c2);
                }
            }
            /* the fluke, in its canonical frame */
            if (x >= fx0 && x < fx1 && den > 1e-6f) {
                float iw = 1.0f / den;
                float u = nu * iw, v = nv * iw;
                if (u > -1.0f && u < 1.0f && v > top_limit && v < fluke_end) {
                    float fe = (u + 1.0f) * edge_scale;
                    int ei = (int)fe;
                    /* u just below 1 can round fe up to EDGE_N - 1 in float */
                    ei = ei < FW_SYNTH_EDGE_N - 2 ? ei : FW_SYNTH_EDGE_N - 2;
                    float et = fe - (float)ei;
                    float top = id->top[ei] + et * (id->top[ei + 1] - id->top[ei]);
                    float bot = id->bottom[ei] + et * (id->bottom[ei + 1] - id->bottom[ei]);
                    float cover = overlap(top, bot, v - half_pix, v + half_pix) * inv_pix;
                    float au = fabsf(u);
                    if (v > id->ped_v0 && au < ped_max) {
                        float qv = 1.0f - (v - id->ped_v0) * inv_flare;
                        float ph = id->ped_half + (qv > 0.0f ? id->ped_flare * qv * qv : 0.0f);
                        float cu = overlap(-ph, ph, u - half_pix, u + half_pix) * inv_pix;
                        float cv = clampf((waterline - v) * inv_pix + 0.5f, 0.0f, 1.0f);
                        if (cu * cv > cover)
                            cover = cu * cv;
                    }
                    if (cover > 0.0f) {
                        float gx = (u + 1.0f) * grid_sx;
                        float gy = clampf((v - FW_SYNTH_GRID_V0) * grid_sy, 0.0f, FW_SYNTH_GRID_H - 1.001f);
                        int ix = (int)gx, iy = (int)gy;
                        ix = ix < FW_SYNTH_GRID_W - 2 ? ix : FW_SYNTH_GRID_W - 2; /* float rounding at u ~ 1 */
                        float tx = gx - (float)ix, ty = gy - (float)iy;
                        const float *r0 = id->field[iy], *r1 = id->field[iy + 1];
                        float fa = r0[ix] + tx * (r0[ix + 1] - r0[ix]);
                        float fb = r1[ix] + tx * (r1[ix + 1] - r1[ix]);
                        float white = clampf(0.5f + (fa + ty * (fb - fa)) * gain_field, 0.0f, 1.0f);
                        float dm = v - top;
                        if (dm < margin)
                            white *= dm > 0.0f ? dm * inv_margin : 0.0f;
                        if (v > bot) /* the tail stock is darker */
                            white *= v > bot + 0.1f ? 0.35f : 1.0f - 6.5f * (v - bot);
                        float shade = clampf(p->shade0 + p->shade_u * u + p->shade_v * v, 0.3f, 1.3f);
                        float albedo = (id->black_level + wb * white) * shade;
                        c0 += cover * (albedo * skin[0] - c0);
                        c1 += cover * (albedo * skin[1] - c1);
                        c2 += cover * (albedo * skin[2] - c2);
                    }
                    /* foam where the tail stock meets the sea */
                    float dw = fabsf(v - waterline);
                    if (dw < p->foam_height && au < p->foam_half && p->foam > 0.0f) {
                        int fx = (int)(u * 300.0f + p->foam_ox + 512.0f) & (FW_SYNTH_TILE - 1);
                        int fy = (int)(v * 300.0f + p->foam_oy + 512.0f) & (FW_SYNTH_TILE - 1);
                        float a = p->foam * clampf((tile[fy][fx] - 110.0f) * (1.0f / 70.0f), 0.0f, 1.0f) *
                                  (1.0f - dw * foam_inv_h) * (1.0f - au * foam_inv_half);
                        c0 += a * (water[0] - c0);
                        c1 += a * (water[1] - c1);
                        c2 += a * (water[2] - c2);
                    }
                }
            }
            /* water streaming down */
            if (streak_a[x] > 0.0f && yc >= streak_y0[x] && yc < streak_y1[x]) {
                float tex = streak_row[(x * 5) & (FW_SYNTH_TILE - 1)] * (1.0f / 255.0f);
                float a = streak_a[x] * (0.3f + 0.7f * tex) * clampf((yc - streak_y0[x]) * 0.2f, 0.0f, 1.0f);
                c0 += a * (water[0] - c0);
                c1 += a * (water[1] - c1);
                c2 += a * (water[2] - c2);
            }
            /* exposure and gradient (gain), sensor grain, tone curve */
            float nl = index_offset + noise_luma * (float)sea->grain[(x + grain_off1) & (FW_SYNTH_GRAIN - 1)];
            float nc = noise_chroma * (float)sea->grain[(x + grain_off2) & (FW_SYNTH_GRAIN - 1)];
            int i0 = (int)(c0 * gain + nl + nc), i1 = (int)(c1 * gain + nl - nc), i2 = (int)(c2 * gain + nl + nc);
            i0 = (unsigned)i0 < LUT_N ? i0 : (i0 < 0 ? 0 : LUT_N - 1);
            i1 = (unsigned)i1 < LUT_N ? i1 : (i1 < 0 ? 0 : LUT_N - 1);
            i2 = (unsigned)i2 < LUT_N ? i2 : (i2 < 0 ? 0 : LUT_N - 1);
            row[x * 3] = lut[i0];
            row[x * 3 + 1] = lut[i1];
            row[x * 3 + 2] = lut[i2];
        }
    }

    /* grayscale conversion (integer luma, as PIL does), then blur */
    size_t n = (size_t)W * H;
    uint8_t *final = s->rgb;
    if (p->channels == 1) {
        for (size_t i = 0; i < n; i++) {
            const uint8_t *px = s->rgb + i * 3;
            s->out[i] = (uint8_t)((px[0] * 19595u + px[1] * 38470u + px[2] * 7471u + 32768u) >> 16);
        }
        final = s->out;
    }
    if (p->blur > 0) {
        uint8_t *dst = final == s->out ? s->rgb : s->out;
        box_blur(final, s->tmp, dst, s->blur_cols, W, H, p->channels, p->blur);
        final = dst;
    }
    out->width = W;
    out->height = H;
    out->channels = p->channels;
    out->pixels = final;
    return FW_OK;
}
