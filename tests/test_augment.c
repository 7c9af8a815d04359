/* test_augment.c — the per-pixel augmentation math (augment.h), the
 * parameter drawer and the CPU path: identities (neutral, flip twice, whole
 * pixel shifts, 90-degree rotation), bilinear sampling and borders against a
 * brute-force double-precision reference, blur against a 5x5 discrete
 * Gaussian, photometric formulas, grey mix, erase, normalisation, the CPU
 * loop against the per-pixel function, and an affine warp against
 * torchvision when Debian's python3-torch is there. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "augment.h"
#include "augment_cpu.h"
#include "augment_params.h"
#include "tap.h"

static const float MEAN[3] = {0.485f, 0.456f, 0.406f};
static const float STD[3] = {0.229f, 0.224f, 0.225f};

/* A test image with smooth structure and noise: (h, w, c). */
static uint8_t *make_image(int w, int h, int c, unsigned seed)
{
    uint8_t *img = malloc((size_t)w * h * c);
    fw_rng r;
    fw_rng_init(&r, seed, 1);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < c; k++) {
                float v = 128.0f + 90.0f * sinf(0.11f * x + 1.7f * k) * cosf(0.07f * y - k) +
                          fw_rng_range(&r, -30.0f, 30.0f);
                img[((size_t)y * w + x) * c + k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
    return img;
}

/* fw_augment_image into a new buffer (sc, oh, ow). */
static float *augment(const fw_aug_params *p, const uint8_t *src, int sw, int sh, int sc, int ow,
                      int oh)
{
    float *out = malloc(sizeof(float) * (size_t)sc * ow * oh);
    fw_error err;
    int rc = fw_augment_image(p, src, sw, sh, sc, out, ow, oh, &err);
    CHECK_MSG(rc == FW_OK, "%s", err.msg);
    return out;
}

/* Output value back in 0..255 units (normalisation undone). */
static double undo(const fw_aug_params *p, const float *out, int ow, int oh, int x, int y, int c)
{
    float v = out[((size_t)c * oh + y) * ow + x];
    return ((double)v / p->inv_std[c] + p->mean[c]) * 255.0;
}

static uint8_t to_u8(double v)
{
    long r = lround(v);
    return (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
}

static void neutral(fw_aug_params *p, int sw, int sh, int ow, int oh, int sc)
{
    fw_aug_params_neutral(p, sw, sh, ow, oh, sc, MEAN, STD);
}

static void test_neutral_is_identity(void)
{
    const int borders[3] = {FW_BORDER_CONSTANT, FW_BORDER_REPLICATE, FW_BORDER_REFLECT};
    for (int sc = 1; sc <= 3; sc += 2)
        for (int b = 0; b < 3; b++) {
            int w = 37, h = 23;
            uint8_t *img = make_image(w, h, sc, 3);
            fw_aug_params p;
            neutral(&p, w, h, w, h, sc);
            p.border = borders[b];
            float *out = augment(&p, img, w, h, sc, w, h);
            int mismatches = 0;
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    for (int c = 0; c < sc; c++)
                        mismatches += to_u8(undo(&p, out, w, h, x, y, c)) !=
                                      img[((size_t)y * w + x) * sc + c];
            CHECK_MSG(mismatches == 0, "sc=%d border=%d: %d pixels differ", sc, borders[b],
                      mismatches);
            free(out);
            free(img);
        }
}

static void test_flip_twice_is_identity(void)
{
    int w = 40, h = 17, sc = 3;
    uint8_t *img = make_image(w, h, sc, 5);
    fw_aug_params p;
    neutral(&p, w, h, w, h, sc);
    fw_aug_geometry g = FW_AUG_GEOMETRY_IDENTITY;
    g.flip = 1;
    fw_aug_set_geometry(&p, &g, w, h, w, h);
    float *once = augment(&p, img, w, h, sc, w, h);
    uint8_t *mirrored = malloc((size_t)w * h * sc);
    int bad_once = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < sc; c++) {
                uint8_t v = to_u8(undo(&p, once, w, h, x, y, c));
                mirrored[((size_t)y * w + x) * sc + c] = v;
                bad_once += v != img[((size_t)y * w + (w - 1 - x)) * sc + c];
            }
    CHECK_INT(bad_once, 0);
    float *twice = augment(&p, mirrored, w, h, sc, w, h);
    int bad_twice = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < sc; c++)
                bad_twice += to_u8(undo(&p, twice, w, h, x, y, c)) != img[((size_t)y * w + x) * sc + c];
    CHECK_INT(bad_twice, 0);
    free(once);
    free(twice);
    free(mirrored);
    free(img);
}

static void test_whole_pixel_translation_shifts(void)
{
    int w = 64, h = 32, sc = 3;
    uint8_t *img = make_image(w, h, sc, 7);
    fw_aug_params p;
    neutral(&p, w, h, w, h, sc);
    p.border = FW_BORDER_REPLICATE;
    fw_aug_geometry g = FW_AUG_GEOMETRY_IDENTITY;
    g.translate_x = 5.0f / w;  /* content moves 5 px right */
    g.translate_y = -3.0f / h; /* and 3 px up */
    fw_aug_set_geometry(&p, &g, w, h, w, h);
    float *out = augment(&p, img, w, h, sc, w, h);
    int bad = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int sx = x - 5, sy = y + 3;
            sx = sx < 0 ? 0 : sx;        /* replicate */
            sy = sy > h - 1 ? h - 1 : sy;
            for (int c = 0; c < sc; c++)
                bad += to_u8(undo(&p, out, w, h, x, y, c)) != img[((size_t)sy * w + sx) * sc + c];
        }
    CHECK_INT(bad, 0);
    free(out);
    free(img);
}

static void test_rotate_90_is_transpose_flip(void)
{
    int n = 31, sc = 3;
    uint8_t *img = make_image(n, n, sc, 9);
    fw_aug_params p;
    neutral(&p, n, n, n, n, sc);
    fw_aug_geometry g = FW_AUG_GEOMETRY_IDENTITY;
    g.rotate_deg = 90.0f; /* clockwise on screen */
    fw_aug_set_geometry(&p, &g, n, n, n, n);
    float *out = augment(&p, img, n, n, sc, n, n);
    int bad = 0;
    for (int y = 0; y < n; y++)
        for (int x = 0; x < n; x++)
            for (int c = 0; c < sc; c++) /* out(x, y) = in(y, n-1-x) */
                bad += to_u8(undo(&p, out, n, n, x, y, c)) !=
                       img[((size_t)(n - 1 - x) * n + y) * sc + c];
    CHECK_INT(bad, 0);
    /* four quarter turns = none: -270 is the same as +90 */
    g.rotate_deg = -270.0f;
    fw_aug_params q;
    neutral(&q, n, n, n, n, sc);
    fw_aug_set_geometry(&q, &g, n, n, n, n);
    CHECK(memcmp(p.m, q.m, sizeof p.m) == 0);
    free(out);
    free(img);
}

/* Brute-force reference of one bilinear sample, in double, with the border
 * rules written out plainly. */
static int ref_index(int i, int n, int border, int *inside)
{
    *inside = i >= 0 && i < n;
    if (border == FW_BORDER_REFLECT) {
        if (i < 0)
            i = -1 - i;
        else if (i >= n)
            i = 2 * n - 1 - i;
    }
    if (i < 0)
        i = 0;
    if (i > n - 1)
        i = n - 1;
    return i;
}

static double ref_bilinear(const uint8_t *src, int sw, int sh, int sc, double sx, double sy,
                           int c, int border, double fill)
{
    double fx = floor(sx), fy = floor(sy);
    double wx = sx - fx, wy = sy - fy;
    double acc = 0.0;
    for (int dy = 0; dy < 2; dy++)
        for (int dx = 0; dx < 2; dx++) {
            int inx, iny;
            int ix = ref_index((int)fx + dx, sw, border, &inx);
            int iy = ref_index((int)fy + dy, sh, border, &iny);
            double v = src[((size_t)iy * sw + ix) * sc + c];
            if (border == FW_BORDER_CONSTANT && !(inx && iny))
                v = fill;
            acc += (dx ? wx : 1 - wx) * (dy ? wy : 1 - wy) * v;
        }
    return acc;
}

static void test_bilinear_matches_brute_force(void)
{
    const int borders[3] = {FW_BORDER_CONSTANT, FW_BORDER_REPLICATE, FW_BORDER_REFLECT};
    for (int sc = 1; sc <= 3; sc += 2)
        for (int b = 0; b < 3; b++) {
            int sw = 50, sh = 30, ow = 44, oh = 36;
            uint8_t *img = make_image(sw, sh, sc, 11);
            fw_aug_params p;
            neutral(&p, sw, sh, ow, oh, sc);
            p.border = borders[b];
            p.fill = 77.0f;
            fw_aug_geometry g = {23.0f, 0.8f, 1.2f, 7.0f, -4.0f, 0.1f, -0.05f, 1};
            fw_aug_set_geometry(&p, &g, sw, sh, ow, oh);
            float *out = augment(&p, img, sw, sh, sc, ow, oh);
            double worst = 0.0, worst_px = 0.0;
            int outside = 0;
            for (int y = 0; y < oh; y++)
                for (int x = 0; x < ow; x++) {
                    double sx = (double)p.m[0] * x + (double)p.m[1] * y + p.m[2];
                    double sy = (double)p.m[3] * x + (double)p.m[4] * y + p.m[5];
                    outside += sx < 0 || sy < 0 || sx > sw - 1 || sy > sh - 1;
                    for (int c = 0; c < sc; c++) {
                        double want = ref_bilinear(img, sw, sh, sc, sx, sy, c, p.border, p.fill);
                        double got = undo(&p, out, ow, oh, x, y, c);
                        double d = fabs(got - want);
                        worst = d > worst ? d : worst;
                        /* the CPU loop equals the per-pixel function */
                        float px = fw_aug_pixel(&p, img, sw, sh, sc, x, y, c);
                        double dp = fabs(px - out[((size_t)c * oh + y) * ow + x]);
                        worst_px = dp > worst_px ? dp : worst_px;
                    }
                }
            CHECK(outside > 50); /* the borders were exercised */
            CHECK_MSG(worst < 0.02, "sc=%d border=%d: worst difference %g (0..255 units)", sc,
                      borders[b], worst);
            CHECK_MSG(worst_px < 1e-5, "CPU loop vs fw_aug_pixel: %g", worst_px);
            free(out);
            free(img);
        }
}

static void test_blur_is_discrete_gaussian(void)
{
    int w = 33, h = 21, sc = 3;
    uint8_t *img = make_image(w, h, sc, 13);
    const float sigmas[3] = {0.4f, 0.8f, 1.3f};
    for (int si = 0; si < 3; si++) {
        float sigma = sigmas[si];
        fw_aug_params p;
        neutral(&p, w, h, w, h, sc);
        p.border = FW_BORDER_REPLICATE;
        fw_aug_set_blur(&p, sigma);
        CHECK_INT(p.n_taps, FW_AUG_BLUR_TAPS);
        float *out = augment(&p, img, w, h, sc, w, h);
        double k[5], ksum = 0;
        for (int i = -2; i <= 2; i++)
            ksum += k[i + 2] = exp(-(double)i * i / (2.0 * sigma * sigma));
        double worst = 0, change = 0;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int c = 0; c < sc; c++) {
                    double want = 0;
                    for (int j = -2; j <= 2; j++)
                        for (int i = -2; i <= 2; i++) {
                            int xx = x + i < 0 ? 0 : x + i > w - 1 ? w - 1 : x + i;
                            int yy = y + j < 0 ? 0 : y + j > h - 1 ? h - 1 : y + j;
                            want += k[i + 2] * k[j + 2] / (ksum * ksum) *
                                    img[((size_t)yy * w + xx) * sc + c];
                        }
                    double got = undo(&p, out, w, h, x, y, c);
                    worst = fmax(worst, fabs(got - want));
                    change = fmax(change, fabs(got - img[((size_t)y * w + x) * sc + c]));
                }
        CHECK_MSG(worst < 0.01, "sigma %g: worst %g", sigma, worst);
        CHECK(change > 5.0); /* it did blur */
        free(out);
    }
    free(img);
}

static void test_photometric_formulas(void)
{
    int w = 24, h = 12, sc = 3;
    uint8_t *img = make_image(w, h, sc, 17);
    const float b = 1.3f, c = 0.8f, mean = 0.4f, gam = 1.3f;
    fw_aug_params p;
    neutral(&p, w, h, w, h, sc);
    fw_aug_set_photometric(&p, b, c, mean, gam);
    float *out = augment(&p, img, w, h, sc, w, h);
    double worst = 0;
    int clipped = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < sc; k++) {
                double v = img[((size_t)y * w + x) * sc + k] / 255.0;
                double bv = b * v, m = b * mean;
                double u = c * (bv - m) + m;
                clipped += u > 1.0 || u < 0.0;
                u = u < 0 ? 0 : u > 1 ? 1 : u;
                double want = pow(u, gam);
                double got = undo(&p, out, w, h, x, y, k) / 255.0;
                worst = fmax(worst, fabs(got - want));
            }
    CHECK_MSG(worst < 2e-5, "worst %g", worst);
    CHECK(clipped > 0);
    /* the power itself, over the whole range */
    double worst_rel = 0, worst_abs = 0;
    for (int i = 0; i <= 100000; i++) {
        float v = i / 100000.0f;
        for (float g = 0.5f; g <= 2.01f; g += 0.25f) {
            double want = pow(v, g), got = fw_aug_pow01(v, g);
            worst_abs = fmax(worst_abs, fabs(got - want));
            if (want > 1e-6)
                worst_rel = fmax(worst_rel, fabs(got - want) / want);
        }
    }
    CHECK_MSG(worst_rel < 2e-5, "pow01 relative error %g", worst_rel);
    CHECK_MSG(worst_abs < 2e-6, "pow01 absolute error %g", worst_abs);
    CHECK(fw_aug_pow01(0.0f, 0.8f) == 0.0f);
    CHECK(fw_aug_pow01(1.0f, 1.3f) == 1.0f);
    free(out);
    free(img);
}

static void test_gray_mix(void)
{
    int w = 16, h = 8, sc = 3;
    uint8_t *img = make_image(w, h, sc, 19);
    const float grays[3] = {1.0f, 0.5f, -0.3f};
    for (int gi = 0; gi < 3; gi++) {
        fw_aug_params p;
        neutral(&p, w, h, w, h, sc);
        p.gray = grays[gi];
        float *out = augment(&p, img, w, h, sc, w, h);
        double worst = 0;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                const uint8_t *px = img + ((size_t)y * w + x) * 3;
                double luma = (0.299 * px[0] + 0.587 * px[1] + 0.114 * px[2]) / 255.0;
                for (int c = 0; c < 3; c++) {
                    double v = px[c] / 255.0;
                    double want = v + grays[gi] * (luma - v);
                    want = want < 0 ? 0 : want > 1 ? 1 : want;
                    worst = fmax(worst, fabs(undo(&p, out, w, h, x, y, c) / 255.0 - want));
                }
            }
        CHECK_MSG(worst < 1e-5, "gray %g: worst %g", grays[gi], worst);
        free(out);
    }
    free(img);
}

static void test_erase_region(void)
{
    int w = 30, h = 20, sc = 3;
    uint8_t *img = make_image(w, h, sc, 23);
    fw_aug_params p, plain;
    neutral(&p, w, h, w, h, sc);
    plain = p;
    p.erase_x0 = 4, p.erase_x1 = 13, p.erase_y0 = 15, p.erase_y1 = 25; /* clipped at h */
    p.erase_value[0] = 0.1f, p.erase_value[1] = 0.7f, p.erase_value[2] = 0.9f;
    float *out = augment(&p, img, w, h, sc, w, h);
    float *ref = augment(&plain, img, w, h, sc, w, h);
    int inside_bad = 0, outside_bad = 0, inside = 0;
    for (int c = 0; c < sc; c++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                size_t i = ((size_t)c * h + y) * w + x;
                int in = x >= 4 && x < 13 && y >= 15;
                float want = (p.erase_value[c] - MEAN[c]) / STD[c];
                if (in) {
                    inside++;
                    inside_bad += fabsf(out[i] - want) > 1e-6f;
                    /* the per-pixel function agrees */
                    inside_bad += fabsf(fw_aug_pixel(&p, img, w, h, sc, x, y, c) - out[i]) > 1e-6f;
                } else {
                    outside_bad += out[i] != ref[i];
                }
            }
    CHECK_INT(inside, 3 * 9 * 5);
    CHECK_INT(inside_bad, 0);
    CHECK_INT(outside_bad, 0);
    free(out);
    free(ref);
    free(img);
}

static void test_normalisation(void)
{
    int w = 9, h = 7;
    uint8_t *img = make_image(w, h, 3, 29);
    fw_aug_params p;
    const float mean[3] = {0.2f, 0.5f, 0.7f}, std[3] = {0.5f, 0.25f, 2.0f};
    fw_aug_params_neutral(&p, w, h, w, h, 3, mean, std);
    float *out = augment(&p, img, w, h, 3, w, h);
    double worst = 0;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                double want = (img[((size_t)y * w + x) * 3 + c] / 255.0 - mean[c]) / std[c];
                worst = fmax(worst, fabs(out[((size_t)c * h + y) * w + x] - want));
            }
    CHECK_MSG(worst < 1e-5, "worst %g", worst);
    /* without mean/std the output is v / 255 */
    fw_aug_params_neutral(&p, w, h, w, h, 3, NULL, NULL);
    free(out);
    out = augment(&p, img, w, h, 3, w, h);
    CHECK_NEAR(out[0], img[0] / 255.0, 1e-7);
    free(out);
    free(img);
}

static void test_cpu_path_matches_pixel_function(void)
{
    /* drawn parameters cover every loop variant (blur, gamma, grey, erase) */
    int sw = 48, sh = 24, ow = 40, oh = 20;
    fw_augment_opts o;
    fw_augment_opts_default(&o);
    o.out_width = ow, o.out_height = oh;
    o.p_blur = 0.5f, o.p_gamma = 0.5f, o.p_erase = 0.5f;
    for (int sc = 1; sc <= 3; sc += 2) {
        uint8_t *img = make_image(sw, sh, sc, 31);
        float mean = fw_image_mean_luma(img, sw, sh, sc, 1);
        double worst = 0;
        int variants[2][2] = {{0, 0}, {0, 0}};
        for (long s = 0; s < 24; s++) {
            fw_rng r;
            fw_augment_rng(&r, 5, 2, s);
            fw_aug_params p;
            int flipped;
            fw_aug_params_draw(&o, &r, sw, sh, sc, mean, &p, &flipped);
            variants[p.n_taps > 1][p.gamma != 1.0f] = 1;
            float *out = augment(&p, img, sw, sh, sc, ow, oh);
            for (int c = 0; c < sc; c++)
                for (int y = 0; y < oh; y++)
                    for (int x = 0; x < ow; x++)
                        worst = fmax(worst, fabs(fw_aug_pixel(&p, img, sw, sh, sc, x, y, c) -
                                                 out[((size_t)c * oh + y) * ow + x]));
            free(out);
        }
        CHECK(variants[0][0] && variants[0][1] && variants[1][0] && variants[1][1]);
        CHECK_MSG(worst < 1e-4, "sc=%d: worst %g", sc, worst);
        free(img);
    }
}

static void test_tiny_and_bad_inputs(void)
{
    uint8_t one = 200;
    fw_aug_params p;
    fw_aug_params_neutral(&p, 1, 1, 3, 2, 1, NULL, NULL);
    float out[6];
    fw_error err;
    CHECK_INT(fw_augment_image(&p, &one, 1, 1, 1, out, 3, 2, &err), FW_OK);
    for (int i = 0; i < 6; i++)
        CHECK_NEAR(out[i], 200.0 / 255.0, 1e-6);
    CHECK_INT(fw_augment_image(&p, &one, 1, 1, 2, out, 3, 2, &err), FW_EINVAL);
    CHECK_INT(fw_augment_image(&p, &one, 0, 1, 1, out, 3, 2, &err), FW_EINVAL);
    p.m[0] = NAN;
    CHECK_INT(fw_augment_image(&p, &one, 1, 1, 1, out, 3, 2, &err), FW_EINVAL);
    fw_aug_params_neutral(&p, 1, 1, 3, 2, 1, NULL, NULL);
    p.n_taps = 4;
    CHECK_INT(fw_augment_image(&p, &one, 1, 1, 1, out, 3, 2, &err), FW_EINVAL);
    /* far outside the image: the border rule, no stray reads (ASan watches) */
    uint8_t img[12] = {10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120};
    fw_aug_params_neutral(&p, 2, 2, 2, 2, 3, NULL, NULL);
    p.m[2] = 1e5f;
    p.border = FW_BORDER_CONSTANT;
    p.fill = 255.0f;
    float o3[12];
    CHECK_INT(fw_augment_image(&p, img, 2, 2, 3, o3, 2, 2, &err), FW_OK);
    for (int i = 0; i < 12; i++)
        CHECK_NEAR(o3[i], 1.0, 1e-6);
    p.border = FW_BORDER_REFLECT;
    CHECK_INT(fw_augment_image(&p, img, 2, 2, 3, o3, 2, 2, &err), FW_OK);
    int inside;
    int ix = ref_index(100000, 2, FW_BORDER_REFLECT, &inside); /* beyond one mirror: clamped */
    CHECK_NEAR(o3[0] * 255.0, img[ix * 3], 1e-3);
}

static void test_options(void)
{
    fw_augment_opts o;
    fw_error err;
    fw_augment_opts_default(&o);
    CHECK_INT(fw_augment_opts_check(&o, &err), FW_OK);
    fw_augment_opts_none(&o);
    CHECK_INT(fw_augment_opts_check(&o, &err), FW_OK);
    fw_augment_opts_default(&o);
    o.p_flip = 1.5f;
    CHECK_INT(fw_augment_opts_check(&o, &err), FW_EINVAL);
    CHECK(strstr(err.msg, "p_flip") != NULL);
    fw_augment_opts_default(&o);
    o.scale_min = 1.2f, o.scale_max = 1.1f;
    CHECK_INT(fw_augment_opts_check(&o, &err), FW_EINVAL);
    fw_augment_opts_default(&o);
    o.std[1] = 0.0f;
    CHECK_INT(fw_augment_opts_check(&o, &err), FW_EINVAL);
    fw_augment_opts_default(&o);
    o.blur_sigma_max = 4.0f;
    CHECK_INT(fw_augment_opts_check(&o, &err), FW_EINVAL);

    /* flip identity labels */
    fw_augment_opts_default(&o);
    CHECK_INT(fw_augment_label(&o, 3, 1, 10), 3);
    o.flip_identity = 1;
    CHECK_INT(fw_augment_label(&o, 3, 1, 10), 13);
    CHECK_INT(fw_augment_label(&o, 3, 0, 10), 3);
    CHECK_INT(fw_augment_label(&o, -1, 1, 10), -1);
}

static void test_drawn_parameters(void)
{
    fw_augment_opts o;
    fw_augment_opts_default(&o);
    const int n = 4000;
    int flips = 0, blurs = 0, erases = 0, grays = 0, gammas = 0, affines = 0;
    double max_area = 0, min_area = 1;
    for (int i = 0; i < n; i++) {
        fw_rng r, r2;
        fw_augment_rng(&r, 77, 3, i);
        fw_augment_rng(&r2, 77, 3, i);
        fw_aug_params p, q;
        int f, f2;
        fw_aug_params_draw(&o, &r, 512, 256, 3, 0.5f, &p, &f);
        fw_aug_params_draw(&o, &r2, 512, 256, 3, 0.5f, &q, &f2);
        CHECK(memcmp(&p, &q, sizeof p) == 0 && f == f2);
        flips += f;
        blurs += p.n_taps > 1;
        gammas += p.gamma != 1.0f;
        grays += p.gray == 1.0f;
        affines += p.m[1] != 0.0f;
        CHECK(f == (p.m[0] < 0)); /* no rotation flips the x axis by itself */
        if (p.erase_x1 > p.erase_x0) {
            erases++;
            double a = (double)(p.erase_x1 - p.erase_x0) * (p.erase_y1 - p.erase_y0) / (512 * 256);
            max_area = fmax(max_area, a), min_area = fmin(min_area, a);
            CHECK(p.erase_x0 >= 0 && p.erase_x1 <= 512 && p.erase_y0 >= 0 && p.erase_y1 <= 256);
        }
        if (p.gain != 1.0f) {
            CHECK(p.gain >= 0.8f * 0.8f - 1e-6f && p.gain <= 1.2f * 1.2f + 1e-6f);
        }
        if (p.gamma != 1.0f)
            CHECK(p.gamma >= 0.8f - 1e-6f && p.gamma <= 1.25f + 1e-6f);
    }
    CHECK_NEAR(flips / (double)n, 0.5, 0.04);
    CHECK_NEAR(blurs / (double)n, 0.1, 0.03);
    CHECK_NEAR(gammas / (double)n, 0.3, 0.04);
    CHECK_NEAR(grays / (double)n, 0.2, 0.03);
    CHECK_NEAR(erases / (double)n, 0.25, 0.04);
    CHECK_NEAR(affines / (double)n, 0.9, 0.03);
    CHECK(max_area < 0.17 && min_area > 0.015);

    /* changing one probability leaves the other draws alone */
    fw_augment_opts o2 = o;
    o2.p_blur = 1.0f;
    int same_geometry = 1;
    for (int i = 0; i < 100; i++) {
        fw_rng r, r2;
        fw_augment_rng(&r, 1, 0, i);
        fw_augment_rng(&r2, 1, 0, i);
        fw_aug_params p, q;
        int f;
        fw_aug_params_draw(&o, &r, 64, 32, 3, 0.5f, &p, &f);
        fw_aug_params_draw(&o2, &r2, 64, 32, 3, 0.5f, &q, &f);
        same_geometry &= memcmp(p.m, q.m, sizeof p.m) == 0 && p.erase_x0 == q.erase_x0 &&
                         p.gain == q.gain;
        CHECK_INT(q.n_taps, FW_AUG_BLUR_TAPS);
    }
    CHECK(same_geometry);
    /* the evaluation options draw nothing random */
    fw_augment_opts none;
    fw_augment_opts_none(&none);
    fw_aug_params p, neutral_p;
    fw_rng r;
    fw_augment_rng(&r, 1, 0, 0);
    int f;
    fw_aug_params_draw(&none, &r, 64, 32, 3, 0.3f, &p, &f);
    fw_aug_params_neutral(&neutral_p, 64, 32, 64, 32, 3, MEAN, STD);
    CHECK(memcmp(&p, &neutral_p, sizeof p) == 0);
    CHECK_INT(f, 0);
}

/* Affine warp against torchvision.transforms.functional.affine (bilinear,
 * fill 0) on a uint8 tensor: the script writes its result as raw bytes. */
static void test_affine_against_torchvision(void)
{
    const char *py = getenv("PYTHON_REF");
    const char *srcdir = getenv("TOP_SRCDIR");
    if (!py || !*py || !srcdir)
        SKIP("PYTHON_REF / TOP_SRCDIR not set (run through make check)");
    char probe[1024];
    snprintf(probe, sizeof probe, "'%s' -c 'import torch, torchvision' >/dev/null 2>&1", py);
    if (system(probe) != 0)
        SKIP("%s has no torch/torchvision", py);
    int w = 96, h = 64, sc = 3;
    uint8_t *img = make_image(w, h, sc, 37);
    char dir[] = "/tmp/fwaugXXXXXX";
    if (!mkdtemp(dir))
        SKIP("no temp dir");
    char in_path[256], out_path[256], cmd[2048];
    snprintf(in_path, sizeof in_path, "%s/in.raw", dir);
    snprintf(out_path, sizeof out_path, "%s/out.raw", dir);
    FILE *f = fopen(in_path, "wb");
    CHECK(f && fwrite(img, 1, (size_t)w * h * sc, f) == (size_t)w * h * sc);
    if (f)
        fclose(f);
    /* F.affine: angle clockwise (like ours), translate in pixels, scale, shear 0 */
    const float angle = 12.5f, scale = 1.1f, tx = 3.0f, ty = -2.0f;
    snprintf(cmd, sizeof cmd, "'%s' '%s/tests/augment_torchvision.py' %s %s %d %d %g %g %g %g",
             py, srcdir, in_path, out_path, w, h, angle, tx, ty, scale);
    int rc = system(cmd);
    CHECK_MSG(rc == 0, "%s failed", cmd);
    uint8_t *want = malloc((size_t)w * h * sc);
    f = fopen(out_path, "rb");
    size_t got_bytes = f ? fread(want, 1, (size_t)w * h * sc, f) : 0;
    if (f)
        fclose(f);
    CHECK(got_bytes == (size_t)w * h * sc);
    fw_aug_params p;
    fw_aug_params_neutral(&p, w, h, w, h, sc, NULL, NULL);
    p.border = FW_BORDER_CONSTANT;
    p.fill = 0.0f;
    fw_aug_geometry g = FW_AUG_GEOMETRY_IDENTITY;
    g.rotate_deg = angle, g.scale = scale;
    g.translate_x = tx / w, g.translate_y = ty / h;
    fw_aug_set_geometry(&p, &g, w, h, w, h);
    float *out = augment(&p, img, w, h, sc, w, h);
    long n = 0, off_by_more = 0;
    double sum = 0;
    for (int c = 0; c < sc; c++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                double mine = out[((size_t)c * h + y) * w + x] * 255.0;
                double theirs = want[((size_t)y * w + x) * sc + c];
                double d = fabs(mine - theirs);
                sum += d;
                off_by_more += d > 1.0;
                n++;
            }
    /* torch rounds its float result to uint8 (up to 0.5 off), ours is float */
    CHECK_MSG(sum / n < 0.35, "mean |difference| %g levels", sum / n);
    CHECK_MSG(off_by_more == 0, "%ld of %ld values differ by more than 1 level", off_by_more, n);
    free(out);
    free(want);
    free(img);
    remove(in_path);
    remove(out_path);
    rmdir(dir);
}

int main(void)
{
    RUN(test_neutral_is_identity);
    RUN(test_flip_twice_is_identity);
    RUN(test_whole_pixel_translation_shifts);
    RUN(test_rotate_90_is_transpose_flip);
    RUN(test_bilinear_matches_brute_force);
    RUN(test_blur_is_discrete_gaussian);
    RUN(test_photometric_formulas);
    RUN(test_gray_mix);
    RUN(test_erase_region);
    RUN(test_normalisation);
    RUN(test_cpu_path_matches_pixel_function);
    RUN(test_tiny_and_bad_inputs);
    RUN(test_options);
    RUN(test_drawn_parameters);
    RUN(test_affine_against_torchvision);
    return tap_done();
}
