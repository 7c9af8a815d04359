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
} fw_image_cache;

typedef void (*fw_progress_fn)(void *ctx, long done, long total);

typedef struct fw_cache_opts {
    int width, height;        /* working size */
    int channels;             /* 1 or 3 */
    int threads;              /* <= 0: all CPUs */
    const char *disk_dir;     /* NULL: no on-disk cache */
    fw_progress_fn progress;  /* optional, called from worker threads */
    void *progress_ctx;
} fw_cache_opts;

/* Build the cache for n files (paths[i]) with optional crop boxes (may be NULL). */
int fw_cache_build(fw_image_cache *cache, const char *const *paths, const fw_bbox *boxes,
                   long n, const fw_cache_opts *opts, fw_error *err);

/* Pointer to image i: (height, width, channels). */
static inline uint8_t *fw_cache_image(const fw_image_cache *c, long i)
{
    return c->pixels + (size_t)i * (size_t)c->height * (size_t)c->width * (size_t)c->channels;
}

void fw_cache_free(fw_image_cache *cache);

#endif
