/* test_resize.c — resampling identities (same size, constant image, 2x2 mean,
 * crop box region), a brute-force 2-D reference over random boxes and sizes,
 * and 1<->3 channel conversion. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "resize.h"
#include "rng.h"
#include "tap.h"

static fw_image random_image(fw_rng *r, int w, int h, int c)
{
    fw_image img;
    fw_error e;
    if (fw_image_alloc(&img, w, h, c, &e) != 0)
        abort();
    for (size_t i = 0; i < (size_t)w * h * c; i++)
        img.pixels[i] = (uint8_t)fw_rng_u32(r);
    return img;
}

static fw_image blank(int w, int h, int c)
{
    fw_image img;
    fw_error e;
    if (fw_image_alloc(&img, w, h, c, &e) != 0)
        abort();
    return img;
}

static void test_same_size_is_identity(void)
{
    fw_rng r;
    fw_rng_init(&r, 1, 0);
    const int sizes[][2] = {{1, 1}, {7, 3}, {64, 48}, {133, 71}};
    for (int c = 1; c <= 3; c += 2) {
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            int w = sizes[k][0], h = sizes[k][1];
            fw_image src = random_image(&r, w, h, c), dst = blank(w, h, c);
            fw_error e;
            CHECK(fw_resize(&src, 0, 0, (float)w, (float)h, &dst, &e) == 0);
            CHECK_MSG(memcmp(src.pixels, dst.pixels, (size_t)w * h * c) == 0, "%dx%dx%d", w, h, c);
            fw_image_free(&src);
            fw_image_free(&dst);
        }
    }
}

static void test_constant_image_stays_constant(void)
{
    const int targets[][2] = {{10, 10}, {37, 5}, {200, 90}, {3, 150}, {1, 1}};
    const float boxes[][4] = {{0, 0, 50, 40}, {3.3f, 7.9f, 41.2f, 39.5f}, {10, 10, 11, 11}};
    for (int c = 1; c <= 3; c += 2) {
        fw_image src = blank(50, 40, c);
        memset(src.pixels, 201, (size_t)50 * 40 * c);
        for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) {
            for (size_t b = 0; b < sizeof boxes / sizeof boxes[0]; b++) {
                fw_image dst = blank(targets[t][0], targets[t][1], c);
                fw_error e;
                CHECK(fw_resize(&src, boxes[b][0], boxes[b][1], boxes[b][2], boxes[b][3], &dst,
                                &e) == 0);
                int all = 1;
                for (size_t i = 0; i < (size_t)dst.width * dst.height * c; i++)
                    all &= dst.pixels[i] == 201;
                CHECK_MSG(all, "to %dx%d from box %zu", dst.width, dst.height, b);
                fw_image_free(&dst);
            }
        }
        fw_image_free(&src);
    }
}

static void test_shrink_by_two_is_2x2_mean(void)
{
    fw_rng r;
    fw_rng_init(&r, 2, 0);
    for (int c = 1; c <= 3; c += 2) {
        fw_image src = random_image(&r, 64, 48, c), dst = blank(32, 24, c);
        fw_error e;
        CHECK(fw_resize(&src, 0, 0, 64, 48, &dst, &e) == 0);
        int bad = 0;
        for (int y = 0; y < 24; y++)
            for (int x = 0; x < 32; x++)
                for (int ch = 0; ch < c; ch++) {
                    int sum = 0;
                    for (int dy = 0; dy < 2; dy++)
                        for (int dx = 0; dx < 2; dx++)
                            sum += src.pixels[((2 * y + dy) * 64 + 2 * x + dx) * c + ch];
                    bad += dst.pixels[(y * 32 + x) * c + ch] != (sum + 2) / 4;
                }
        CHECK_INT(bad, 0);
        fw_image_free(&src);
        fw_image_free(&dst);
    }
}

static void test_crop_box_selects_the_region(void)
{
    fw_rng r;
    fw_rng_init(&r, 3, 0);
    fw_image src = random_image(&r, 80, 60, 3);
    /* same-size crop: exactly the sub-image */
    fw_image dst = blank(30, 20, 3);
    fw_error e;
    CHECK(fw_resize(&src, 17, 23, 47, 43, &dst, &e) == 0);
    int bad = 0;
    for (int y = 0; y < 20; y++)
        bad += memcmp(dst.pixels + (size_t)y * 30 * 3, src.pixels + ((size_t)(23 + y) * 80 + 17) * 3,
                      30 * 3) != 0;
    CHECK_INT(bad, 0);
    fw_image_free(&dst);
    /* crop and halve: the 2x2 means of the region */
    dst = blank(15, 10, 3);
    CHECK(fw_resize(&src, 17, 23, 47, 43, &dst, &e) == 0);
    bad = 0;
    for (int y = 0; y < 10; y++)
        for (int x = 0; x < 15; x++)
            for (int ch = 0; ch < 3; ch++) {
                int sum = 0;
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++)
                        sum += src.pixels[((23 + 2 * y + dy) * 80 + 17 + 2 * x + dx) * 3 + ch];
                bad += dst.pixels[(y * 15 + x) * 3 + ch] != (sum + 2) / 4;
            }
    CHECK_INT(bad, 0);
    fw_image_free(&dst);
    /* enlarging a crop never reads outside it: paint outside, check nothing leaks */
    fw_image marked = blank(80, 60, 1);
    memset(marked.pixels, 255, 80 * 60);
    for (int y = 10; y < 20; y++)
        memset(marked.pixels + y * 80 + 30, 0, 10);
    dst = blank(45, 33, 1);
    CHECK(fw_resize(&marked, 30, 10, 40, 20, &dst, &e) == 0);
    int leaked = 0;
    for (int i = 0; i < 45 * 33; i++)
        leaked += dst.pixels[i] != 0;
    CHECK_INT(leaked, 0);
    fw_image_free(&dst);
    fw_image_free(&marked);
    fw_image_free(&src);
}

/* Per-axis weight of source pixel j for output pixel i, from the definitions:
 * shrinking -> overlap of [j, j+1) with the output's source interval, over
 * the interval's length; otherwise a tent around the (clamped) source
 * position of the output pixel centre. */
static double axis_weight(int i, int j, int src_len, double a0, double a1, int dst_len)
{
    double s = (a1 - a0) / dst_len;
    if (s > 1.0) {
        double lo = a0 + i * s, hi = a0 + (i + 1) * s;
        double ov = fmin(hi, j + 1.0) - fmax(lo, (double)j);
        return ov > 0 ? ov / s : 0;
    }
    double first = fmax(floor(a0), 0), last = fmin(ceil(a1) - 1, src_len - 1);
    double u = a0 + (i + 0.5) * s - 0.5;
    u = fmin(fmax(u, first), last);
    double w = 1.0 - fabs(u - j);
    return w > 0 ? w : 0;
}

static void test_matches_brute_force(void)
{
    fw_rng r;
    fw_rng_init(&r, 4, 0);
    long total = 0, exact = 0, off_by_more = 0;
    for (int trial = 0; trial < 60; trial++) {
        int c = (trial & 1) ? 3 : 1;
        int sw = 5 + (int)fw_rng_below(&r, 60), sh = 5 + (int)fw_rng_below(&r, 60);
        fw_image src = random_image(&r, sw, sh, c);
        float x0 = fw_rng_uniform(&r) * sw * 0.4f, y0 = fw_rng_uniform(&r) * sh * 0.4f;
        float x1 = x0 + 1 + fw_rng_uniform(&r) * (sw - x0 - 1);
        float y1 = y0 + 1 + fw_rng_uniform(&r) * (sh - y0 - 1);
        if (trial % 5 == 0)
            x0 = 0, y0 = 0, x1 = (float)sw, y1 = (float)sh;
        int dw = 1 + (int)fw_rng_below(&r, 90), dh = 1 + (int)fw_rng_below(&r, 90);
        fw_image dst = blank(dw, dh, c);
        fw_error e;
        CHECK(fw_resize(&src, x0, y0, x1, y1, &dst, &e) == 0);
        double *wx = calloc((size_t)dw * sw, sizeof *wx), *wy = calloc((size_t)dh * sh, sizeof *wy);
        for (int i = 0; i < dw; i++) {
            double sum = 0;
            for (int j = 0; j < sw; j++)
                sum += wx[i * sw + j] = axis_weight(i, j, sw, x0, x1, dw);
            for (int j = 0; j < sw; j++)
                wx[i * sw + j] /= sum;
        }
        for (int i = 0; i < dh; i++) {
            double sum = 0;
            for (int j = 0; j < sh; j++)
                sum += wy[i * sh + j] = axis_weight(i, j, sh, y0, y1, dh);
            for (int j = 0; j < sh; j++)
                wy[i * sh + j] /= sum;
        }
        for (int y = 0; y < dh; y++)
            for (int x = 0; x < dw; x++)
                for (int ch = 0; ch < c; ch++) {
                    double v = 0;
                    for (int j = 0; j < sh; j++) {
                        if (wy[y * sh + j] == 0)
                            continue;
                        for (int k = 0; k < sw; k++)
                            v += wy[y * sh + j] * wx[x * sw + k] * src.pixels[(j * sw + k) * c + ch];
                    }
                    int want = (int)floor(v + 0.5), got = dst.pixels[(y * dw + x) * c + ch];
                    total++;
                    exact += got == want;
                    off_by_more += abs(got - want) > 1;
                }
        free(wx);
        free(wy);
        fw_image_free(&src);
        fw_image_free(&dst);
    }
    printf("#   %ld pixels: %ld exact, %ld off by more than 1\n", total, exact, off_by_more);
    CHECK_INT(off_by_more, 0);
    CHECK(exact >= total * 99 / 100);
}

static void test_convert_channels(void)
{
    fw_rng r;
    fw_rng_init(&r, 5, 0);
    fw_image rgb = random_image(&r, 33, 17, 3), gray, back, copy;
    fw_error e;
    CHECK(fw_image_convert(&rgb, 1, &gray, &e) == 0);
    CHECK(gray.width == 33 && gray.height == 17 && gray.channels == 1);
    int worst = 0;
    for (int p = 0; p < 33 * 17; p++) {
        const uint8_t *q = rgb.pixels + 3 * p;
        int want = (int)floor(0.299 * q[0] + 0.587 * q[1] + 0.114 * q[2] + 0.5);
        int d = abs(gray.pixels[p] - want);
        worst = d > worst ? d : worst;
    }
    CHECK_MSG(worst <= 1, "gray differs from 0.299R+0.587G+0.114B by %d", worst);
    CHECK(fw_image_convert(&gray, 3, &back, &e) == 0);
    int same = back.channels == 3;
    for (int p = 0; p < 33 * 17; p++)
        same &= back.pixels[3 * p] == gray.pixels[p] && back.pixels[3 * p + 1] == gray.pixels[p] &&
                back.pixels[3 * p + 2] == gray.pixels[p];
    CHECK(same);
    CHECK(fw_image_convert(&rgb, 3, &copy, &e) == 0);
    CHECK(memcmp(copy.pixels, rgb.pixels, 33 * 17 * 3) == 0 && copy.pixels != rgb.pixels);
    fw_image bad;
    CHECK_INT(fw_image_convert(&rgb, 2, &bad, &e), FW_EINVAL);
    CHECK(bad.pixels == NULL);
    fw_image_free(&gray);
    fw_image_free(&rgb);
    fw_image_free(&back);
    fw_image_free(&copy);
}

static void test_bad_arguments(void)
{
    fw_image src = blank(20, 10, 3), dst = blank(5, 5, 3), gray = blank(5, 5, 1);
    fw_error e;
    CHECK_INT(fw_resize(&src, -1, 0, 20, 10, &dst, &e), FW_EINVAL);
    CHECK_INT(fw_resize(&src, 0, 0, 21, 10, &dst, &e), FW_EINVAL);
    CHECK_INT(fw_resize(&src, 5, 5, 5, 8, &dst, &e), FW_EINVAL);
    CHECK(strstr(e.msg, "not inside the 20x10 image") != NULL);
    CHECK_INT(fw_resize(&src, 0, 0, 20, 10, &gray, &e), FW_EINVAL);
    CHECK_INT(fw_resize(&src, NAN, 0, 20, 10, &dst, &e), FW_EINVAL);
    fw_image_free(&src);
    fw_image_free(&dst);
    fw_image_free(&gray);
}

int main(void)
{
    RUN(test_same_size_is_identity);
    RUN(test_constant_image_stays_constant);
    RUN(test_shrink_by_two_is_2x2_mean);
    RUN(test_crop_box_selects_the_region);
    RUN(test_matches_brute_force);
    RUN(test_convert_channels);
    RUN(test_bad_arguments);
    return tap_done();
}
