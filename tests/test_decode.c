/* test_decode.c — JPEG decoding against PIL's pixels, the DCT-scale choice, and
 * every kind of bad input (empty, non-JPEG, truncated, 12-bit, over-large,
 * garbage, fuzzed) giving its error code and reason, never a crash or a blank.
 *
 * Fixtures and PIL's reference pixels come from
 * tests/fixtures/make_jpeg_fixtures.py (format documented there), read from
 * $TOP_SRCDIR/tests/fixtures/jpeg.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "decode.h"
#include "parallel.h"
#include "resize.h"
#include "rng.h"
#include "tap.h"

typedef struct {
    char name[64];
    int denom, channels, req_w, req_h, width, height;
    const uint8_t *pixels; /* (height, width, channels), points into the file buffer */
} ref_entry;

static uint8_t *ref_data;
static ref_entry *refs;
static int n_refs;
static char ref_error[200];

static void fixture_path(char *buf, size_t n, const char *name)
{
    const char *top = getenv("TOP_SRCDIR");
    snprintf(buf, n, "%s/tests/fixtures/jpeg/%s", top ? top : ".", name);
}

static int read_fixture(const char *name, uint8_t **buf, size_t *len)
{
    char path[1024];
    fixture_path(path, sizeof path, name);
    fw_error e;
    return fw_read_file(path, (size_t)1 << 24, buf, len, &e);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Parse reference.bin (magic "FWJPGREF", version 1); 0 on success. */
static int load_reference(void)
{
    size_t len;
    if (read_fixture("reference.bin", &ref_data, &len) != 0) {
        snprintf(ref_error, sizeof ref_error, "cannot read reference.bin");
        return -1;
    }
    if (len < 16 || memcmp(ref_data, "FWJPGREF", 8) != 0 || le32(ref_data + 8) != 1) {
        snprintf(ref_error, sizeof ref_error, "bad magic or version");
        return -1;
    }
    uint32_t count = le32(ref_data + 12);
    refs = calloc(count ? count : 1, sizeof *refs);
    size_t off = 16;
    for (uint32_t k = 0; k < count; k++) {
        if (off + 4 > len)
            goto truncated;
        uint32_t nl = le32(ref_data + off);
        off += 4;
        if (nl >= sizeof refs[k].name || off + nl + 24 > len)
            goto truncated;
        memcpy(refs[k].name, ref_data + off, nl);
        off += nl;
        ref_entry *r = &refs[k];
        r->denom = (int)le32(ref_data + off);
        r->channels = (int)le32(ref_data + off + 4);
        r->req_w = (int)le32(ref_data + off + 8);
        r->req_h = (int)le32(ref_data + off + 12);
        r->width = (int)le32(ref_data + off + 16);
        r->height = (int)le32(ref_data + off + 20);
        off += 24;
        size_t bytes = (size_t)r->width * (size_t)r->height * (size_t)r->channels;
        if (off + bytes > len)
            goto truncated;
        r->pixels = ref_data + off;
        off += bytes;
    }
    if (off != len)
        goto truncated;
    n_refs = (int)count;
    return 0;
truncated:
    snprintf(ref_error, sizeof ref_error, "reference.bin is truncated or has trailing bytes");
    return -1;
}

static int max_abs_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
    int m = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)a[i] - (int)b[i]);
        if (d > m)
            m = d;
    }
    return m;
}

/* Decode every reference entry of the given kind and compare with PIL. */
static void compare_with_pil(int scaled, const char *only)
{
    if (!refs)
        SKIP("no reference: %s", ref_error);
    int compared = 0, worst = 0;
    for (int k = 0; k < n_refs; k++) {
        const ref_entry *r = &refs[k];
        if ((r->denom > 1) != scaled || (only && strcmp(r->name, only) != 0))
            continue;
        uint8_t *buf;
        size_t len;
        CHECK(read_fixture(r->name, &buf, &len) == 0);
        fw_image img;
        fw_error e = {0};
        /* at a DCT scale, ask for exactly PIL's output size: 8/denom eighths is the
           smallest scale reaching it */
        int rc = fw_jpeg_decode(buf, len, r->channels, scaled ? r->width : 0,
                                scaled ? r->height : 0, NULL, &img, &e);
        CHECK_MSG(rc == 0, "%s: %s", r->name, e.msg);
        if (rc == 0) {
            CHECK_MSG(img.width == r->width && img.height == r->height && img.channels == r->channels,
                      "%s 1/%d: got %dx%dx%d, PIL %dx%dx%d", r->name, r->denom, img.width,
                      img.height, img.channels, r->width, r->height, r->channels);
            if (img.width == r->width && img.height == r->height) {
                int d = max_abs_diff(img.pixels, r->pixels,
                                     (size_t)r->width * r->height * r->channels);
                CHECK_MSG(d <= 1, "%s 1/%d %dch: max |diff| %d vs PIL", r->name, r->denom,
                          r->channels, d);
                worst = d > worst ? d : worst;
            }
            compared++;
        }
        fw_image_free(&img);
        free(buf);
    }
    CHECK(compared > 0);
    printf("#   %d decodes compared with PIL, max |diff| %d\n", compared, worst);
}

static void test_reference_file_loads(void)
{
    CHECK_MSG(refs != NULL, "%s", ref_error);
    CHECK(n_refs >= 8 * 8);
}

static void test_full_size_matches_pil(void) { compare_with_pil(0, NULL); }
static void test_dct_scaled_matches_pil(void) { compare_with_pil(1, NULL); }
static void test_cmyk_matches_pil(void)
{
    compare_with_pil(0, "cmyk.jpg");
    compare_with_pil(1, "cmyk.jpg");
}
static void test_ycck_matches_pil(void)
{
    compare_with_pil(0, "ycck.jpg");
    compare_with_pil(1, "ycck.jpg");
}

/* The smallest TurboJPEG factor among 1/8, 1/4, 1/2, 1/1 (the SIMD scales)
 * whose TJSCALED output is >= the request (full size if none), from
 * tjGetScalingFactors. */
static void expected_scaled(int w, int h, int mw, int mh, int *ew, int *eh)
{
    int n;
    tjscalingfactor *f = tjGetScalingFactors(&n);
    *ew = w, *eh = h;
    if (mw <= 0 && mh <= 0)
        return; /* no request: full size */
    double best = 2.0;
    for (int k = 0; k < n; k++) {
        double s = (double)f[k].num / f[k].denom;
        if (s != 1.0 && s != 0.5 && s != 0.25 && s != 0.125)
            continue;
        int sw = TJSCALED(w, f[k]), sh = TJSCALED(h, f[k]);
        if (sw >= mw && sh >= mh && s < best) {
            best = s;
            *ew = sw, *eh = sh;
        }
    }
}

static void test_scale_choice_is_smallest_reaching_request(void)
{
    const char *names[] = {"color420.jpg", "odd.jpg", "gray.jpg", "cmyk.jpg"};
    int checked = 0;
    for (size_t f = 0; f < sizeof names / sizeof names[0]; f++) {
        uint8_t *buf;
        size_t len;
        CHECK(read_fixture(names[f], &buf, &len) == 0);
        fw_jpeg_info info;
        fw_error e;
        CHECK(fw_jpeg_probe(buf, len, NULL, &info, &e) == 0);
        for (int mw = 0; mw <= info.width + 3; mw += 7) {
            for (int mh = 0; mh <= info.height + 3; mh += 11) {
                fw_image img;
                int rc = fw_jpeg_decode(buf, len, 3, mw, mh, NULL, &img, &e);
                CHECK_MSG(rc == 0, "%s: %s", names[f], e.msg);
                int ew, eh;
                expected_scaled(info.width, info.height, mw, mh, &ew, &eh);
                CHECK_MSG(img.width == ew && img.height == eh,
                          "%s min %dx%d: got %dx%d, expected %dx%d", names[f], mw, mh,
                          img.width, img.height, ew, eh);
                /* and it is at least what was asked, unless the image is smaller */
                CHECK(img.width >= mw || img.width == info.width);
                CHECK(img.height >= mh || img.height == info.height);
                int sw, sh, eighths;
                fw_jpeg_scaled_size(info.width, info.height, mw, mh, &sw, &sh, &eighths);
                CHECK(sw == ew && sh == eh && eighths >= 1 && eighths <= 8);
                fw_image_free(&img);
                checked++;
            }
        }
        free(buf);
    }
    CHECK(checked > 100);
}

/* A request between two scales decodes at the larger one (1/2 here, for 3/8
 * of the size); resized down, that is close to PIL's full-size decode
 * area-averaged to the same size (the DCT reduction is a different filter,
 * so close, not equal). */
static void test_scaled_then_resized_close_to_full_resize(void)
{
    if (!refs)
        SKIP("no reference: %s", ref_error);
    const ref_entry *full = NULL;
    for (int k = 0; k < n_refs; k++)
        if (!strcmp(refs[k].name, "odd.jpg") && refs[k].denom == 1 && refs[k].channels == 3)
            full = &refs[k];
    CHECK(full != NULL);
    if (!full)
        return;
    uint8_t *buf;
    size_t len;
    CHECK(read_fixture("odd.jpg", &buf, &len) == 0);
    for (int n = 3; n <= 7; n += 2) {
        int mw = (full->width * n + 7) / 8, mh = (full->height * n + 7) / 8;
        fw_image img, ref_full = {full->width, full->height, 3, (uint8_t *)full->pixels};
        fw_image ours, theirs;
        fw_error e;
        CHECK(fw_jpeg_decode(buf, len, 3, mw, mh, NULL, &img, &e) == 0);
        int ew = n < 4 ? (full->width + 1) / 2 : full->width;
        CHECK_MSG(img.width == ew, "%d/8 request: decoded %d wide, expected %d", n, img.width, ew);
        CHECK(fw_image_alloc(&ours, mw, mh, 3, &e) == 0);
        CHECK(fw_image_alloc(&theirs, mw, mh, 3, &e) == 0);
        /* the decoded 67x36 holds 66.5x35.5 pixels of picture (the last column
           and row are rounded up), so the whole picture is [0, w/2) x [0, h/2) */
        float x1 = n < 4 ? full->width / 2.0f : (float)img.width;
        float y1 = n < 4 ? full->height / 2.0f : (float)img.height;
        CHECK(fw_resize(&img, 0, 0, x1, y1, &ours, &e) == 0);
        CHECK(fw_resize(&ref_full, 0, 0, (float)full->width, (float)full->height, &theirs, &e) == 0);
        double sum = 0;
        size_t cnt = (size_t)mw * mh * 3;
        for (size_t i = 0; i < cnt; i++)
            sum += abs((int)ours.pixels[i] - (int)theirs.pixels[i]);
        CHECK_MSG(sum / cnt < 2.0, "%d/8: mean |diff| %.2f vs area-averaged PIL", n, sum / cnt);
        printf("#   %d/8 of the size via the %s decode: mean |diff| %.2f vs PIL full + area\n", n,
               n < 4 ? "1/2" : "full", sum / cnt);
        fw_image_free(&img);
        fw_image_free(&ours);
        fw_image_free(&theirs);
    }
    free(buf);
}

/* PIL's L of CMYK files is convert("RGB").convert("L"): fw_image_convert of
 * PIL's own RGB pixels must give exactly PIL's L pixels. */
static void test_convert_matches_pil_luma(void)
{
    if (!refs)
        SKIP("no reference: %s", ref_error);
    int compared = 0;
    for (int k = 0; k < n_refs; k++) {
        const ref_entry *rgb = &refs[k];
        if (strcmp(rgb->name, "cmyk.jpg") != 0 || rgb->channels != 3)
            continue;
        for (int j = 0; j < n_refs; j++) {
            const ref_entry *l = &refs[j];
            if (strcmp(l->name, rgb->name) || l->channels != 1 || l->denom != rgb->denom)
                continue;
            fw_image src = {rgb->width, rgb->height, 3, (uint8_t *)rgb->pixels}, gray;
            fw_error e;
            CHECK(fw_image_convert(&src, 1, &gray, &e) == 0);
            CHECK_INT(max_abs_diff(gray.pixels, l->pixels, (size_t)l->width * l->height), 0);
            fw_image_free(&gray);
            compared++;
        }
    }
    CHECK_INT(compared, 4);
}

static void test_probe_reports_the_header(void)
{
    struct {
        const char *name;
        int w, h, subsamp, colorspace, gray, progressive;
    } cases[] = {
        {"color420.jpg", 96, 64, TJSAMP_420, TJCS_YCbCr, 0, 0},
        {"color422.jpg", 96, 64, TJSAMP_422, TJCS_YCbCr, 0, 0},
        {"color444.jpg", 96, 64, TJSAMP_444, TJCS_YCbCr, 0, 0},
        {"gray.jpg", 96, 64, TJSAMP_GRAY, TJCS_GRAY, 1, 0},
        {"progressive.jpg", 96, 64, TJSAMP_420, TJCS_YCbCr, 0, 1},
        {"cmyk.jpg", 96, 64, TJSAMP_444, TJCS_CMYK, 0, 0},
        {"ycck.jpg", 96, 64, TJSAMP_444, TJCS_YCCK, 0, 0},
        {"odd.jpg", 133, 71, TJSAMP_420, TJCS_YCbCr, 0, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        uint8_t *buf;
        size_t len;
        CHECK(read_fixture(cases[k].name, &buf, &len) == 0);
        fw_jpeg_info info;
        fw_error e;
        int rc = fw_jpeg_probe(buf, len, NULL, &info, &e);
        CHECK_MSG(rc == 0, "%s: %s", cases[k].name, e.msg);
        CHECK_MSG(info.width == cases[k].w && info.height == cases[k].h &&
                      info.subsampling == cases[k].subsamp &&
                      info.colorspace == cases[k].colorspace && info.grayscale == cases[k].gray &&
                      info.progressive == cases[k].progressive,
                  "%s: %dx%d samp %d cs %d gray %d prog %d", cases[k].name, info.width,
                  info.height, info.subsampling, info.colorspace, info.grayscale,
                  info.progressive);
        free(buf);
    }
}

/* Each corrupt fixture: its code, words from the reason, no image. */
static void check_refused(const char *name, int code, const char *word1, const char *word2)
{
    char path[1024];
    fixture_path(path, sizeof path, name);
    for (int channels = 1; channels <= 3; channels += 2) {
        fw_image img = {7, 7, 7, (uint8_t *)path}; /* must be reset */
        fw_error e = {0};
        int rc = fw_jpeg_decode_file(path, channels, 0, 0, NULL, &img, &e);
        CHECK_MSG(rc == code, "%s: code %d (%s), expected %d; reason: %s", name, rc,
                  fw_error_name(rc), code, e.msg);
        CHECK_INT(e.code, code);
        CHECK(img.pixels == NULL && img.width == 0);
        CHECK_MSG(strncmp(e.msg, path, strlen(path)) == 0, "reason lacks the path: %s", e.msg);
        CHECK_MSG(strstr(e.msg, word1) != NULL, "%s: reason '%s' lacks '%s'", name, e.msg, word1);
        CHECK_MSG(!word2 || strstr(e.msg, word2) != NULL, "%s: reason '%s' lacks '%s'", name,
                  e.msg, word2);
        if (channels == 3)
            printf("#   %s -> %s: %s\n", name, fw_error_name(rc), e.msg + strlen(path) + 2);
    }
}

static void test_truncated_refused(void)
{
    check_refused("truncated.jpg", FW_ECORRUPT, "Premature end of JPEG file", "incomplete");
}
static void test_empty_refused(void) { check_refused("empty.jpg", FW_EFORMAT, "empty", "0 bytes"); }
static void test_png_refused(void) { check_refused("png.jpg", FW_EFORMAT, "not a JPEG", "PNG"); }
static void test_huge_refused(void) { check_refused("huge.jpg", FW_ETOOBIG, "65500x65500", "too large"); }
static void test_12bit_refused(void)
{
    check_refused("12bit.jpg", FW_EUNSUPPORTED, "12-bit", "precision 12");
}
static void test_garbage_refused(void) { check_refused("garbage.jpg", FW_ECORRUPT, "corrupt JPEG", NULL); }

/* The pixel limit is computed in 64 bits: 65500*65500 wraps to a negative
 * int32, which a 32-bit check would let through. */
static void test_pixel_limit_is_64bit(void)
{
    uint8_t *buf;
    size_t len;
    CHECK(read_fixture("huge.jpg", &buf, &len) == 0);
    fw_decode_limits lim = {65535, 100000000LL, (size_t)1 << 20};
    fw_jpeg_info info;
    fw_error e;
    CHECK_INT(fw_jpeg_probe(buf, len, &lim, &info, &e), FW_ETOOBIG);
    CHECK_MSG(strstr(e.msg, "4290250000 pixels") != NULL, "%s", e.msg);
    lim.max_dim = 100;
    CHECK_INT(fw_jpeg_probe(buf, len, &lim, &info, &e), FW_ETOOBIG);
    CHECK_MSG(strstr(e.msg, "largest side allowed is 100") != NULL, "%s", e.msg);
    free(buf);
    /* and the limits apply to a normal file too */
    CHECK(read_fixture("odd.jpg", &buf, &len) == 0);
    fw_decode_limits small = {132, 100000000LL, (size_t)1 << 20};
    fw_image img;
    CHECK_INT(fw_jpeg_decode(buf, len, 3, 0, 0, &small, &img, &e), FW_ETOOBIG);
    fw_decode_limits few = {1000, 133 * 71 - 1, (size_t)1 << 20};
    CHECK_INT(fw_jpeg_decode(buf, len, 3, 0, 0, &few, &img, &e), FW_ETOOBIG);
    few.max_pixels = 133 * 71;
    CHECK_INT(fw_jpeg_decode(buf, len, 3, 0, 0, &few, &img, &e), 0);
    fw_image_free(&img);
    free(buf);
}

static void test_read_file_limits_and_errors(void)
{
    char path[1024];
    fixture_path(path, sizeof path, "color420.jpg");
    uint8_t *buf;
    size_t len;
    fw_error e;
    CHECK_INT(fw_read_file(path, 2784, &buf, &len, &e), FW_ETOOBIG);
    CHECK(buf == NULL && strstr(e.msg, path) && strstr(e.msg, "2785 bytes"));
    CHECK_INT(fw_read_file(path, 2785, &buf, &len, &e), 0);
    CHECK_INT(len, 2785);
    CHECK(buf[0] == 0xFF && buf[1] == 0xD8 && buf[len - 2] == 0xFF && buf[len - 1] == 0xD9);
    free(buf);
    fixture_path(path, sizeof path, "no-such-file.jpg");
    CHECK_INT(fw_read_file(path, 100, &buf, &len, &e), FW_ENOTFOUND);
    CHECK(strstr(e.msg, path) && strstr(e.msg, "No such file"));
    fixture_path(path, sizeof path, "");
    CHECK_INT(fw_read_file(path, 100, &buf, &len, &e), FW_EIO);
    CHECK(strstr(e.msg, path) && strstr(e.msg, "not a regular file"));
    fixture_path(path, sizeof path, "empty.jpg");
    CHECK_INT(fw_read_file(path, 100, &buf, &len, &e), 0);
    CHECK(buf != NULL && len == 0);
    free(buf);
    /* the file limit also guards fw_jpeg_decode_file */
    fixture_path(path, sizeof path, "color420.jpg");
    fw_decode_limits lim = {30000, 100000000LL, 1000};
    fw_image img;
    CHECK_INT(fw_jpeg_decode_file(path, 3, 0, 0, &lim, &img, &e), FW_ETOOBIG);
    CHECK(img.pixels == NULL);
}

/* Every prefix of a valid file (baseline and progressive) is an error, and
 * seeded byte damage never crashes or leaves a half-made image behind. */
static void test_every_truncation_and_damage_is_safe(void)
{
    const char *names[] = {"color420.jpg", "progressive.jpg", "cmyk.jpg"};
    fw_jpeg_decoder *dec;
    fw_error e;
    CHECK(fw_jpeg_decoder_create(&dec, &e) == 0);
    int refused = 0, damaged_ok = 0, damaged_bad = 0;
    for (size_t f = 0; f < sizeof names / sizeof names[0]; f++) {
        uint8_t *buf;
        size_t len;
        CHECK(read_fixture(names[f], &buf, &len) == 0);
        for (size_t cut = 0; cut < len; cut += 1 + cut / 16) {
            fw_image img;
            int rc = fw_jpeg_decoder_decode(dec, buf, cut, 3, 0, 0, NULL, &img, &e);
            CHECK_MSG(rc < 0, "%s cut at %zu/%zu decoded", names[f], cut, len);
            CHECK(img.pixels == NULL && e.msg[0] != '\0');
            refused += rc < 0;
            fw_image_free(&img);
        }
        fw_rng rng;
        fw_rng_init(&rng, 42, f);
        uint8_t *copy = malloc(len);
        for (int trial = 0; trial < 150; trial++) {
            memcpy(copy, buf, len);
            int flips = 1 + (int)fw_rng_below(&rng, 8);
            for (int k = 0; k < flips; k++)
                copy[fw_rng_below(&rng, (uint32_t)len)] = (uint8_t)fw_rng_u32(&rng);
            fw_image img;
            int rc = fw_jpeg_decoder_decode(dec, copy, len, 1 + 2 * (trial & 1), 0, 0, NULL,
                                            &img, &e);
            if (rc == 0) {
                CHECK(img.pixels != NULL && img.width > 0);
                damaged_ok++;
            } else {
                CHECK(img.pixels == NULL && e.msg[0] != '\0');
                damaged_bad++;
            }
            fw_image_free(&img);
        }
        free(copy);
        free(buf);
    }
    fw_jpeg_decoder_free(dec);
    printf("#   %d truncations refused; damaged files: %d decoded, %d refused\n", refused,
           damaged_ok, damaged_bad);
    CHECK(damaged_bad > 0);
}

/* Decoders on several threads (one handle each) give the same pixels. */
typedef struct {
    const uint8_t *buf;
    size_t len;
    fw_image out[16];
} mt_ctx;

static int decode_item(void *p, long i, int worker, fw_error *err)
{
    mt_ctx *c = p;
    return fw_jpeg_decode(c->buf, c->len, (i & 1) ? 1 : 3, (int)(i % 4) * 20, 0, NULL,
                          &c->out[i], err);
}

static void test_threads_decode_the_same(void)
{
    mt_ctx c;
    uint8_t *buf;
    CHECK(read_fixture("odd.jpg", &buf, &c.len) == 0);
    c.buf = buf;
    fw_error e;
    CHECK(fw_parallel_for(4, 16, decode_item, &c, &e) == 0);
    for (int i = 8; i < 16; i++) {
        const fw_image *a = &c.out[i], *b = &c.out[i - 8];
        CHECK(a->width == b->width && a->height == b->height && a->channels == b->channels);
        CHECK(memcmp(a->pixels, b->pixels, (size_t)a->width * a->height * a->channels) == 0);
    }
    for (int i = 0; i < 16; i++)
        fw_image_free(&c.out[i]);
    free(buf);
}

static void test_bad_arguments(void)
{
    uint8_t *buf;
    size_t len;
    CHECK(read_fixture("gray.jpg", &buf, &len) == 0);
    fw_image img;
    fw_error e;
    CHECK_INT(fw_jpeg_decode(buf, len, 4, 0, 0, NULL, &img, &e), FW_EINVAL);
    CHECK(img.pixels == NULL);
    /* a grayscale file decodes to RGB as three equal channels */
    CHECK(fw_jpeg_decode(buf, len, 3, 0, 0, NULL, &img, &e) == 0);
    int equal = 1;
    for (size_t p = 0; p < (size_t)img.width * img.height; p++)
        equal &= img.pixels[3 * p] == img.pixels[3 * p + 1] && img.pixels[3 * p] == img.pixels[3 * p + 2];
    CHECK(equal);
    fw_image_free(&img);
    free(buf);
}

/* One decoder reused across failures (as each cache worker does): after any
 * refused file, the next good file must still decode, equal to a fresh decode. */
static void test_decoder_reuse_after_errors(void)
{
    static const char *bad[] = {"truncated.jpg", "garbage.jpg", "12bit.jpg", "huge.jpg",
                                "png.jpg", "empty.jpg"};
    uint8_t *good;
    size_t good_len;
    if (read_fixture("color420.jpg", &good, &good_len) != 0) {
        CHECK_MSG(0, "cannot read color420.jpg");
        return;
    }
    fw_image fresh = {0};
    fw_error e;
    fw_error_clear(&e);
    CHECK_INT(fw_jpeg_decode(good, good_len, 3, 0, 0, NULL, &fresh, &e), 0);
    fw_jpeg_decoder *dec;
    CHECK_INT(fw_jpeg_decoder_create(&dec, &e), 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t *b;
        size_t blen;
        CHECK_INT(read_fixture(bad[i], &b, &blen), 0);
        fw_image img = {0};
        CHECK(fw_jpeg_decoder_decode(dec, b, blen, 3, 0, 0, NULL, &img, &e) < 0);
        free(b);
        fw_error_clear(&e);
        CHECK_MSG(fw_jpeg_decoder_decode(dec, good, good_len, 3, 0, 0, NULL, &img, &e) == 0,
                  "good file after %s: %s", bad[i], e.msg);
        CHECK(img.pixels && fresh.pixels && img.width == fresh.width &&
              img.height == fresh.height &&
              !memcmp(img.pixels, fresh.pixels, (size_t)img.width * img.height * 3));
        fw_image_free(&img);
    }
    fw_jpeg_decoder_free(dec);
    fw_image_free(&fresh);
    free(good);
}

int main(void)
{
    load_reference();
    RUN(test_reference_file_loads);
    RUN(test_full_size_matches_pil);
    RUN(test_dct_scaled_matches_pil);
    RUN(test_cmyk_matches_pil);
    RUN(test_ycck_matches_pil);
    RUN(test_scale_choice_is_smallest_reaching_request);
    RUN(test_scaled_then_resized_close_to_full_resize);
    RUN(test_convert_matches_pil_luma);
    RUN(test_probe_reports_the_header);
    RUN(test_truncated_refused);
    RUN(test_empty_refused);
    RUN(test_png_refused);
    RUN(test_huge_refused);
    RUN(test_12bit_refused);
    RUN(test_garbage_refused);
    RUN(test_pixel_limit_is_64bit);
    RUN(test_read_file_limits_and_errors);
    RUN(test_every_truncation_and_damage_is_safe);
    RUN(test_threads_decode_the_same);
    RUN(test_bad_arguments);
    RUN(test_decoder_reuse_after_errors);
    free(refs);
    free(ref_data);
    return tap_done();
}
