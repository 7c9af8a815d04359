/* decode.h — JPEG decoding and encoding through the TurboJPEG API.
 *
 * Decoding never crashes and never returns a silent blank image: truncated,
 * empty, non-JPEG, over-large (limits checked in 64-bit before any
 * allocation), 12-bit and otherwise corrupt inputs return an error code with
 * the reason. DCT scaling decodes straight to the smallest of libjpeg-turbo's
 * fast scales (1/8, 1/4, 1/2, 1/1) that is still at least the requested size,
 * which is much cheaper than a full decode followed by a resize (the other
 * n/8 scales are slower than a full decode in libjpeg-turbo 2.1).
 */
#ifndef FW_DECODE_H
#define FW_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "../src/fileio.h"
#include "image.h"

typedef struct fw_decode_limits {
    int max_dim;          /* largest width or height accepted (default 30000) */
    int64_t max_pixels;   /* largest width*height accepted (default 100e6) */
    size_t max_file_bytes;/* largest file read (default 64 MiB) */
} fw_decode_limits;

#define FW_DECODE_LIMITS_DEFAULT {30000, 100000000LL, (size_t)64 << 20}

typedef struct fw_jpeg_info {
    int width, height;   /* full-size dimensions */
    int subsampling;     /* TJSAMP_* */
    int colorspace;      /* TJCS_* (TJCS_GRAY for grayscale, TJCS_CMYK/YCCK for CMYK) */
    int grayscale;       /* 1 if the file is single-channel */
    int progressive;     /* 1 for a progressive (multi-scan) file */
} fw_jpeg_info;

/* Error codes used by the decoder:
 *   FW_EFORMAT       not a JPEG at all (empty file, PNG/GIF/... signature)
 *   FW_ECORRUPT      a JPEG whose header or data is broken, truncated or
 *                    gives any libjpeg warning (a warning means part of the
 *                    image would be filled with grey, so it is an error here)
 *   FW_EUNSUPPORTED  valid but not decodable here (12-bit, lossless JPEG)
 *   FW_ETOOBIG       over limits->max_dim / max_pixels (checked from the header
 *                    in 64-bit before anything is allocated)
 *   FW_ENOMEM        allocation failed
 */

/* Read only the header. FW_ECORRUPT / FW_EFORMAT / FW_ETOOBIG with the reason. */
int fw_jpeg_probe(const uint8_t *buf, size_t len, const fw_decode_limits *limits,
                  fw_jpeg_info *info, fw_error *err);

/* Decode to `channels` (1 gray, 3 RGB; CMYK is converted). min_w/min_h > 0
 * pick the smallest DCT scale whose output is >= min_w x min_h (0 = full size;
 * see fw_jpeg_scaled_size). limits may be NULL for defaults. Gray output of a
 * colour file is libjpeg's Y plane; CMYK/YCCK files (taken as Adobe-inverted,
 * as PIL does) become RGB with PIL's CMYK->RGB formula and gray with PIL's
 * luma weights, so the result equals PIL's. On error out->pixels is NULL. */
int fw_jpeg_decode(const uint8_t *buf, size_t len, int channels, int min_w, int min_h,
                   const fw_decode_limits *limits, fw_image *out, fw_error *err);

/* The DCT scale fw_jpeg_decode uses: the smallest factor n/8 (n = 1, 2, 4, 8:
 * the scales libjpeg-turbo decodes with SIMD) whose output
 * ceil(w*n/8) x ceil(h*n/8) is >= min_w x min_h; full size (8/8) when
 * even that is smaller, or when both min_w and min_h are <= 0. If only one is
 * <= 0, only the other constrains. Writes the output size (any pointer may be
 * NULL). */
void fw_jpeg_scaled_size(int w, int h, int min_w, int min_h, int *out_w, int *out_h,
                         int *eighths);

/* A decoder that keeps one TurboJPEG handle for many images. Handles are not
 * thread-safe: use one decoder per thread. fw_jpeg_probe/fw_jpeg_decode make
 * a temporary one per call. */
typedef struct fw_jpeg_decoder fw_jpeg_decoder;

int fw_jpeg_decoder_create(fw_jpeg_decoder **dec, fw_error *err);
void fw_jpeg_decoder_free(fw_jpeg_decoder *dec);
int fw_jpeg_decoder_probe(fw_jpeg_decoder *dec, const uint8_t *buf, size_t len,
                          const fw_decode_limits *limits, fw_jpeg_info *info, fw_error *err);
int fw_jpeg_decoder_decode(fw_jpeg_decoder *dec, const uint8_t *buf, size_t len, int channels,
                           int min_w, int min_h, const fw_decode_limits *limits, fw_image *out,
                           fw_error *err);

/* fw_read_file is in src/fileio.h. */

/* fw_read_file + fw_jpeg_decode; errors are prefixed with the path. */
int fw_jpeg_decode_file(const char *path, int channels, int min_w, int min_h,
                        const fw_decode_limits *limits, fw_image *out, fw_error *err);

/* Encode an image (1 or 3 channels) as baseline JPEG at quality 1..100,
 * 4:2:0 for colour. *out is malloc'ed (caller frees). */
int fw_jpeg_encode(const fw_image *img, int quality, uint8_t **out, size_t *len, fw_error *err);

#endif
