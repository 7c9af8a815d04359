/* decode.c — JPEG decoding through the TurboJPEG API (libjpeg-turbo 2.1).
 *
 * Every input is judged before pixels are allocated: the signature (empty or
 * non-JPEG files), the frame header (12-bit and lossless JPEGs, found by a
 * small marker walk so the reason is exact), and the size limits (64-bit
 * arithmetic on the header's width and height). Decoding stops on the first
 * libjpeg warning: libjpeg-turbo would otherwise fill a truncated or damaged
 * stream with grey and report success-with-warning, and a half-grey image
 * must never pass as data. CMYK/YCCK files are decoded to CMYK and converted
 * here with PIL's formula (Adobe inverted polarity), since TurboJPEG cannot
 * convert CMYK to RGB itself.
 *
 * DCT scaling uses only 1/8, 1/4, 1/2 and 1/1: libjpeg-turbo has SIMD inverse
 * DCTs for those, while its 3/8, 5/8, 6/8 and 7/8 paths are plain C. Counted
 * with valgrind on a 1000x500 q90 4:2:0 RGB decode, 3/8 costs 1.13x the
 * instructions of 1/2, and 5/8, 6/8, 7/8 cost 1.4x, 1.7x and 2.1x a FULL-size
 * decode, so "the next n/8 up" would be slower than not scaling at all.
 */
#include "decode.h"
#include "../src/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <turbojpeg.h>
#include <unistd.h>

struct fw_jpeg_decoder {
    tjhandle handle; /* one TurboJPEG decompressor; used by one thread at a time */
};

/* What a walk over the markers before the first scan found. */
typedef struct {
    int found_sof;
    int sof_marker; /* 0xC0..0xCF */
    int precision;  /* bits per sample */
} frame_header;

static const fw_decode_limits default_limits = FW_DECODE_LIMITS_DEFAULT;

static const fw_decode_limits *limits_or_default(const fw_decode_limits *limits)
{
    return limits ? limits : &default_limits;
}

/* Walk the marker segments after SOI up to the first SOFn (or SOS/EOI). Stops
 * quietly on anything malformed: TurboJPEG then gives the precise reason. */
static void scan_frame_header(const uint8_t *b, size_t len, frame_header *fh)
{
    memset(fh, 0, sizeof *fh);
    size_t i = 2;
    while (i < len) {
        if (b[i] != 0xFF)
            return;
        while (i < len && b[i] == 0xFF) /* fill bytes */
            i++;
        if (i >= len)
            return;
        int m = b[i++];
        if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) /* markers without a segment */
            continue;
        if (m == 0x00 || m == 0xD8 || m == 0xD9 || m == 0xDA)
            return;
        if (i + 2 > len)
            return;
        size_t seglen = ((size_t)b[i] << 8) | b[i + 1];
        if (seglen < 2 || i + seglen > len)
            return;
        int is_sof = m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
        if (is_sof) {
            if (seglen >= 8) {
                fh->found_sof = 1;
                fh->sof_marker = m;
                fh->precision = b[i + 2];
            }
            return;
        }
        i += seglen;
    }
}

/* A short description of a non-JPEG file's signature. */
static const char *signature_name(const uint8_t *b, size_t len)
{
    static const struct {
        const char *magic;
        size_t n;
        const char *name;
    } sigs[] = {
        {"\x89PNG\r\n\x1a\n", 8, "a PNG image"},
        {"GIF8", 4, "a GIF image"},
        {"BM", 2, "a BMP image"},
        {"II*\0", 4, "a TIFF image"},
        {"MM\0*", 4, "a TIFF image"},
        {"RIFF", 4, "a RIFF (WebP?) file"},
        {"%PDF", 4, "a PDF document"},
        {"\xff\x4f\xff\x51", 4, "a JPEG 2000 codestream"},
    };
    for (size_t k = 0; k < sizeof sigs / sizeof sigs[0]; k++)
        if (len >= sigs[k].n && memcmp(b, sigs[k].magic, sigs[k].n) == 0)
            return sigs[k].name;
    if (len >= 12 && memcmp(b + 4, "ftyp", 4) == 0)
        return "an ISO media file (HEIF/AVIF?)";
    return NULL;
}

void fw_jpeg_scaled_size(int w, int h, int min_w, int min_h, int *out_w, int *out_h,
                         int *eighths)
{
    int n = 8;
    for (int k = 1; k <= 8 && (min_w > 0 || min_h > 0); k *= 2) {
        int64_t sw = ((int64_t)w * k + 7) / 8, sh = ((int64_t)h * k + 7) / 8;
        if (sw >= min_w && sh >= min_h) {
            n = k;
            break;
        }
    }
    if (out_w)
        *out_w = (int)(((int64_t)w * n + 7) / 8);
    if (out_h)
        *out_h = (int)(((int64_t)h * n + 7) / 8);
    if (eighths)
        *eighths = n;
}

int fw_jpeg_decoder_create(fw_jpeg_decoder **dec, fw_error *err)
{
    *dec = NULL;
    fw_jpeg_decoder *d = calloc(1, sizeof *d);
    if (!d)
        return fw_fail(err, FW_ENOMEM, "jpeg: cannot allocate a decoder");
    d->handle = tjInitDecompress();
    if (!d->handle) {
        free(d);
        return fw_fail(err, FW_ENOMEM, "jpeg: tjInitDecompress failed: %s",
                       tjGetErrorStr2(NULL));
    }
    *dec = d;
    return FW_OK;
}

/* After a failed call libjpeg's state inside a TurboJPEG handle can stay
 * poisoned (libjpeg-turbo 2.1: every later header read fails with the old
 * error), so a handle is replaced after any failure. */
static void decoder_reset(fw_jpeg_decoder *dec)
{
    tjDestroy(dec->handle);
    dec->handle = tjInitDecompress(); /* NULL is reported by the next call */
}

void fw_jpeg_decoder_free(fw_jpeg_decoder *dec)
{
    if (!dec)
        return;
    tjDestroy(dec->handle);
    free(dec);
}

int fw_jpeg_decoder_probe(fw_jpeg_decoder *dec, const uint8_t *buf, size_t len,
                          const fw_decode_limits *limits, fw_jpeg_info *info, fw_error *err)
{
    limits = limits_or_default(limits);
    memset(info, 0, sizeof *info);
    if (len == 0)
        return fw_fail(err, FW_EFORMAT, "empty file (0 bytes), not a JPEG");
    if (len < 2 || buf[0] != 0xFF || buf[1] != 0xD8) {
        const char *what = signature_name(buf, len);
        if (what)
            return fw_fail(err, FW_EFORMAT, "not a JPEG file: it is %s", what);
        uint8_t head[4] = {0};
        memcpy(head, buf, len < 4 ? len : 4);
        return fw_fail(err, FW_EFORMAT,
                       "not a JPEG file: starts with %02X %02X %02X %02X, not the SOI marker FF D8",
                       head[0], head[1], head[2], head[3]);
    }
    if (len > (size_t)0xFFFFFFFFu)
        return fw_fail(err, FW_ETOOBIG, "JPEG data of %zu bytes is too large", len);

    if (!dec->handle && !(dec->handle = tjInitDecompress()))
        return fw_fail(err, FW_ENOMEM, "jpeg: tjInitDecompress failed: %s",
                       tjGetErrorStr2(NULL));

    frame_header fh;
    scan_frame_header(buf, len, &fh);
    int lossless = fh.found_sof && (fh.sof_marker & 3) == 3; /* SOF3, SOF7, SOF11, SOF15 */

    int w = 0, h = 0, subsamp = -1, colorspace = -1;
    if (tjDecompressHeader3(dec->handle, buf, (unsigned long)len, &w, &h, &subsamp,
                            &colorspace) != 0) {
        const char *why = tjGetErrorStr2(dec->handle);
        int rc;
        if (lossless)
            rc = fw_fail(err, FW_EUNSUPPORTED, "lossless JPEG (SOF%d) is not supported: %s",
                         fh.sof_marker - 0xC0, why);
        else if (fh.found_sof && fh.precision != 8)
            rc = fw_fail(err, FW_EUNSUPPORTED,
                         "%d-bit JPEG (sample precision %d) is not supported, only 8-bit: %s",
                         fh.precision, fh.precision, why);
        else
            rc = fw_fail(err, FW_ECORRUPT, "corrupt JPEG header: %s", why);
        decoder_reset(dec);
        return rc;
    }
    if (lossless || (fh.found_sof && fh.precision != 8))
        return fw_fail(err, FW_EUNSUPPORTED, "%d-bit%s JPEG is not supported, only 8-bit",
                       fh.precision, lossless ? " lossless" : "");
    if (w <= 0 || h <= 0)
        return fw_fail(err, FW_ECORRUPT, "corrupt JPEG header: size %dx%d", w, h);
    int64_t pixels = (int64_t)w * (int64_t)h;
    if (w > limits->max_dim || h > limits->max_dim)
        return fw_fail(err, FW_ETOOBIG,
                       "image too large: %dx%d, the largest side allowed is %d pixels", w, h,
                       limits->max_dim);
    if (pixels > limits->max_pixels)
        return fw_fail(err, FW_ETOOBIG,
                       "image too large: %dx%d = %lld pixels, at most %lld allowed", w, h,
                       (long long)pixels, (long long)limits->max_pixels);
    info->width = w;
    info->height = h;
    info->subsampling = subsamp;
    info->colorspace = colorspace;
    info->grayscale = colorspace == TJCS_GRAY;
    info->progressive = fh.found_sof && (fh.sof_marker == 0xC2 || fh.sof_marker == 0xC6 ||
                                         fh.sof_marker == 0xCA || fh.sof_marker == 0xCE);
    return FW_OK;
}

/* PIL's rounded a*b/255 (MULDIV255 in libImaging). */
static inline int muldiv255(int a, int b)
{
    int t = a * b + 128;
    return ((t >> 8) + t) >> 8;
}

/* PIL's luma: (19595 R + 38470 G + 7471 B + 0x8000) >> 16 (0.299/0.587/0.114). */
static inline uint8_t luma(int r, int g, int b)
{
    return (uint8_t)((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);
}

/* Inverted (Adobe) CMYK as libjpeg delivers it -> RGB or gray, as PIL does:
 * c = 255 - C', k = 255 - K', R = (255 - k) - c*(255 - k)/255. */
static void cmyk_to_output(const uint8_t *cmyk, size_t npix, int channels, uint8_t *out)
{
    for (size_t p = 0; p < npix; p++) {
        const uint8_t *q = cmyk + 4 * p;
        int nk = q[3];
        int r = nk - muldiv255(255 - q[0], nk);
        int g = nk - muldiv255(255 - q[1], nk);
        int b = nk - muldiv255(255 - q[2], nk);
        if (channels == 3) {
            out[3 * p] = (uint8_t)r;
            out[3 * p + 1] = (uint8_t)g;
            out[3 * p + 2] = (uint8_t)b;
        } else {
            out[p] = luma(r, g, b);
        }
    }
}

int fw_jpeg_decoder_decode(fw_jpeg_decoder *dec, const uint8_t *buf, size_t len, int channels,
                           int min_w, int min_h, const fw_decode_limits *limits, fw_image *out,
                           fw_error *err)
{
    *out = (fw_image){0};
    if (channels != 1 && channels != 3)
        return fw_fail(err, FW_EINVAL, "jpeg: channels must be 1 or 3, not %d", channels);
    fw_jpeg_info info;
    FW_TRY(fw_jpeg_decoder_probe(dec, buf, len, limits, &info, err));

    int sw, sh, eighths;
    fw_jpeg_scaled_size(info.width, info.height, min_w, min_h, &sw, &sh, &eighths);
    int cmyk = info.colorspace == TJCS_CMYK || info.colorspace == TJCS_YCCK;
    int pixel_format = cmyk ? TJPF_CMYK : channels == 3 ? TJPF_RGB : TJPF_GRAY;

    FW_TRY(fw_image_alloc(out, sw, sh, channels, err));
    uint8_t *target = out->pixels;
    uint8_t *cmyk_buf = NULL;
    if (cmyk) {
        cmyk_buf = malloc((size_t)sw * (size_t)sh * 4);
        if (!cmyk_buf) {
            fw_image_free(out);
            return fw_fail(err, FW_ENOMEM, "jpeg: cannot allocate %dx%d CMYK pixels", sw, sh);
        }
        target = cmyk_buf;
    }
    int flags = TJFLAG_ACCURATEDCT | TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS;
    if (tjDecompress2(dec->handle, buf, (unsigned long)len, target, sw, 0, sh, pixel_format,
                      flags) != 0) {
        int warning = tjGetErrorCode(dec->handle) == TJERR_WARNING;
        fw_fail(err, FW_ECORRUPT, "corrupt JPEG data (%s): %s",
                warning ? "libjpeg warning; the image would be incomplete" : "libjpeg error",
                tjGetErrorStr2(dec->handle));
        decoder_reset(dec);
        free(cmyk_buf);
        fw_image_free(out);
        return FW_ECORRUPT;
    }
    if (cmyk) {
        cmyk_to_output(cmyk_buf, (size_t)sw * (size_t)sh, channels, out->pixels);
        free(cmyk_buf);
    }
    return FW_OK;
}

int fw_jpeg_probe(const uint8_t *buf, size_t len, const fw_decode_limits *limits,
                  fw_jpeg_info *info, fw_error *err)
{
    fw_jpeg_decoder *dec;
    FW_TRY(fw_jpeg_decoder_create(&dec, err));
    int rc = fw_jpeg_decoder_probe(dec, buf, len, limits, info, err);
    fw_jpeg_decoder_free(dec);
    return rc;
}

int fw_jpeg_decode(const uint8_t *buf, size_t len, int channels, int min_w, int min_h,
                   const fw_decode_limits *limits, fw_image *out, fw_error *err)
{
    *out = (fw_image){0};
    fw_jpeg_decoder *dec;
    FW_TRY(fw_jpeg_decoder_create(&dec, err));
    int rc = fw_jpeg_decoder_decode(dec, buf, len, channels, min_w, min_h, limits, out, err);
    fw_jpeg_decoder_free(dec);
    return rc;
}

/* "PATH: reason" (fw_error_prefix caps the prefix at 128 bytes; paths may be longer). */
static void prefix_path(fw_error *err, const char *path)
{
    if (!err)
        return;
    char why[sizeof err->msg];
    size_t wn = strnlen(err->msg, sizeof err->msg - 1);
    memcpy(why, err->msg, wn);
    size_t pn = strlen(path), cap = sizeof err->msg - 1;
    if (pn > cap - 2)
        pn = cap - 2;
    if (wn > cap - 2 - pn)
        wn = cap - 2 - pn;
    memcpy(err->msg, path, pn);
    memcpy(err->msg + pn, ": ", 2);
    memcpy(err->msg + pn + 2, why, wn);
    err->msg[pn + 2 + wn] = '\0';
}

int fw_jpeg_decode_file(const char *path, int channels, int min_w, int min_h,
                        const fw_decode_limits *limits, fw_image *out, fw_error *err)
{
    *out = (fw_image){0};
    limits = limits_or_default(limits);
    uint8_t *buf;
    size_t len;
    FW_TRY(fw_read_file(path, limits->max_file_bytes, &buf, &len, err));
    int rc = fw_jpeg_decode(buf, len, channels, min_w, min_h, limits, out, err);
    free(buf);
    if (rc < 0)
        prefix_path(err, path);
    return rc;
}
