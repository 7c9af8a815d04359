/* image_cache.h — every image of a dataset decoded once to the working size.
 *
 * Pixels are uint8 (n, H, W, C) in one block, filled by a thread pool (decode
 * with DCT scaling, optional bounding-box crop, resize). Files that cannot be
 * decoded are counted, reported with their reason and marked unusable — never
 * a blank image passed off as data. An optional on-disk cache, keyed by the
 * dataset files (name, size, mtime), the working size, channel count and crop
 * boxes, lets the second start skip decoding.
 */
#ifndef FW_IMAGE_CACHE_H
#define FW_IMAGE_CACHE_H

#include <stdint.h>

#include "dataset.h"
#include "decode.h"
#include "image.h"

typedef struct fw_cache_failure {
    long index;      /* which item */
    int code;        /* FW_E* */
    char *reason;    /* message, owned */
} fw_cache_failure;

typedef struct fw_image_cache {
    int width, height, channels;
    long n;
    uint8_t *pixels;          /* (n, height, width, channels) */
    uint8_t *ok;              /* (n) 1 = decoded, 0 = failed */
    fw_cache_failure *failures;
    long n_failed;
    int from_disk;            /* 1 if loaded from the on-disk cache */
    int disk_rejected;        /* 1 if a cache file was found but ignored (damaged,
                                 truncated, other format version or key) and rebuilt */
    fw_error disk_note;       /* code 0: nothing to report; otherwise why the on-disk
                                 cache was ignored or could not be written (the build
                                 itself still succeeded) */
} fw_image_cache;

typedef void (*fw_progress_fn)(void *ctx, long done, long total);

typedef struct fw_cache_opts {
    int width, height;        /* working size */
    int channels;             /* 1 or 3 */
    int threads;              /* <= 0: all CPUs */
    const char *disk_dir;     /* NULL: no on-disk cache */
    fw_progress_fn progress;  /* optional, called from worker threads after each
                                 image (done counts up to total = n; calls may
                                 arrive slightly out of order) and once with
                                 (n, n) when the cache comes from disk */
    void *progress_ctx;
    const fw_decode_limits *limits; /* NULL: FW_DECODE_LIMITS_DEFAULT */
} fw_cache_opts;

/* Build the cache for n files (paths[i]) with optional crop boxes (may be NULL;
 * boxes[i].valid = 0 means the whole image). Each file is decoded at the
 * smallest DCT scale that keeps the box at least width x height, cropped to the
 * box (clamped to the image) and resized (area-averaging down, bilinear up).
 * A file that cannot be used (unreadable, corrupt, too large, box outside the
 * image) gets ok[i] = 0, zero pixels, and a failure entry (index order) whose
 * reason starts with its path; the build still returns 0. Errors (FW_EINVAL,
 * FW_ENOMEM) are returned only when the cache as a whole cannot be built.
 *
 * With opts->disk_dir (created if missing), the cache is looked up in
 * DIR/fwcache-KEY.bin, KEY a hash of each path, file size and mtime, the boxes,
 * the working size and channel count. A valid file sets from_disk and skips
 * decoding; a damaged or mismatching one is ignored (disk_rejected) and
 * replaced. The file is written atomically (temp file, fsync, rename, fsync
 * of the directory). Thread count never changes the pixels. */
int fw_cache_build(fw_image_cache *cache, const char *const *paths, const fw_bbox *boxes,
                   long n, const fw_cache_opts *opts, fw_error *err);

/* Pointer to image i: (height, width, channels). */
static inline uint8_t *fw_cache_image(const fw_image_cache *c, long i)
{
    return c->pixels + (size_t)i * (size_t)c->height * (size_t)c->width * (size_t)c->channels;
}

void fw_cache_free(fw_image_cache *cache);

#endif
