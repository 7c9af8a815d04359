/* decode.h — JPEG decoding and encoding through the TurboJPEG API.
 *
 * Decoding never crashes and never returns a silent blank image: truncated,
 * empty, non-JPEG, over-large (limits checked in 64-bit before any
 * allocation), 12-bit and otherwise corrupt inputs return an error code with
 * the reason. DCT scaling decodes straight to the smallest libjpeg scale
 * (n/8) that is still at least the requested size, which is much cheaper
 * than a full decode followed by a resize.
 */
#ifndef FW_DECODE_H
#define FW_DECODE_H

#include <stddef.h>
#include <stdint.h>

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
} fw_jpeg_info;

/* Read only the header. FW_ECORRUPT / FW_EFORMAT / FW_ETOOBIG with the reason. */
int fw_jpeg_probe(const uint8_t *buf, size_t len, const fw_decode_limits *limits,
                  fw_jpeg_info *info, fw_error *err);

/* Decode to `channels` (1 gray, 3 RGB; CMYK is converted). min_w/min_h > 0
 * pick the smallest DCT scale whose output is >= min_w x min_h (0 = full size).
 * limits may be NULL for defaults. */
int fw_jpeg_decode(const uint8_t *buf, size_t len, int channels, int min_w, int min_h,
                   const fw_decode_limits *limits, fw_image *out, fw_error *err);

/* Read a whole file (refusing files over limits->max_file_bytes) — caller frees *buf. */
int fw_read_file(const char *path, size_t max_bytes, uint8_t **buf, size_t *len, fw_error *err);

/* fw_read_file + fw_jpeg_decode; errors are prefixed with the path. */
int fw_jpeg_decode_file(const char *path, int channels, int min_w, int min_h,
                        const fw_decode_limits *limits, fw_image *out, fw_error *err);

/* Encode an image (1 or 3 channels) as baseline JPEG at quality 1..100,
 * 4:2:0 for colour. *out is malloc'ed (caller frees). */
int fw_jpeg_encode(const fw_image *img, int quality, uint8_t **out, size_t *len, fw_error *err);

#endif
