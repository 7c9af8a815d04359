/* image_cache.c — decode every image of a dataset once, at the working size.
 *
 * A thread pool (fw_parallel_for) takes the files in order; each worker keeps
 * its own TurboJPEG decoder. Per file: read, parse the header, pick the
 * smallest DCT scale that keeps the crop box at least the working size,
 * decode, crop and resize straight into the file's slot of the (n, H, W, C)
 * block. A file that fails leaves a zero slot, ok = 0 and a failure record;
 * failures are gathered in index order afterwards, so neither the pixels nor
 * the report depend on the thread count. The on-disk copy is in disk_cache.c.
 */
#include "image_cache.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "decode.h"
#include "disk_cache.h"
#include "parallel.h"
#include "resize.h"

typedef struct {
    const char *const *paths;
    const fw_bbox *boxes;
    const fw_cache_opts *opts;
    const fw_decode_limits *limits;
    fw_image_cache *cache;
    fw_jpeg_decoder **decoders; /* (threads) one per worker, made on first use */
    int *codes;                 /* (n) 0 or the item's FW_E* code */
    char **reasons;             /* (n) the item's error message, or NULL */
    atomic_long done;
} build_ctx;

/* The part of a (w x h) image the crop box selects, clamped to the image. */
static int crop_region(const fw_bbox *box, int w, int h, double r[4], fw_error *err)
{
    r[0] = 0, r[1] = 0, r[2] = w, r[3] = h;
    if (!box || !box->valid)
        return FW_OK;
    if (!(isfinite(box->x0) && isfinite(box->y0) && isfinite(box->x1) && isfinite(box->y1)))
        return fw_fail(err, FW_EINVAL, "bounding box is not finite");
    r[0] = fmax(box->x0, 0.0);
    r[1] = fmax(box->y0, 0.0);
    r[2] = fmin(box->x1, (double)w);
    r[3] = fmin(box->y1, (double)h);
    if (r[2] - r[0] < 1.0 || r[3] - r[1] < 1.0)
        return fw_fail(err, FW_EINVAL,
                       "bounding box (%g,%g)-(%g,%g) leaves less than one pixel of the %dx%d image",
                       box->x0, box->y0, box->x1, box->y1, w, h);
    return FW_OK;
}

/* Decode file i into its slot; 0 or an FW_E* code with err filled. */
static int load_one(build_ctx *b, long i, fw_jpeg_decoder *dec, fw_error *err)
{
    const fw_image_cache *c = b->cache;
    uint8_t *buf;
    size_t len;
    FW_TRY(fw_read_file(b->paths[i], b->limits->max_file_bytes, &buf, &len, err));
    fw_jpeg_info info;
    int rc = fw_jpeg_decoder_probe(dec, buf, len, b->limits, &info, err);
    double r[4] = {0, 0, 0, 0};
    if (rc == FW_OK)
        rc = crop_region(b->boxes ? &b->boxes[i] : NULL, info.width, info.height, r, err);
    fw_image img = {0};
    int min_w = 0, min_h = 0;
    if (rc == FW_OK) {
        /* smallest scale s (n/8) with box_w * s >= W and box_h * s >= H */
        min_w = (int)ceil(c->width * (double)info.width / (r[2] - r[0]) - 1e-6);
        min_h = (int)ceil(c->height * (double)info.height / (r[3] - r[1]) - 1e-6);
        rc = fw_jpeg_decoder_decode(dec, buf, len, c->channels, min_w, min_h, b->limits, &img,
                                    err);
    }
    free(buf);
    if (rc < 0)
        return rc;
    /* the region in the decoded image's pixels: scale by n/8 and clamp. The
       decoded size is rounded up (133 px at 1/2 -> 67), so the last column
       holds only part of a pixel of picture; mapping by n/8 rather than by
       decoded/full keeps the geometry exact (on odd.jpg at 3/8 of the size
       this halves the mean difference to a full decode + area resize) */
    int eighths;
    fw_jpeg_scaled_size(info.width, info.height, min_w, min_h, NULL, NULL, &eighths);
    double s = eighths / 8.0;
    float x0 = (float)(r[0] * s), y0 = (float)(r[1] * s);
    float x1 = (float)fmin(r[2] * s, img.width), y1 = (float)fmin(r[3] * s, img.height);
    fw_image slot = {c->width, c->height, c->channels, fw_cache_image(c, i)};
    rc = fw_resize(&img, x0, y0, x1, y1, &slot, err);
    fw_image_free(&img);
    return rc;
}

static int build_item(void *p, long i, int worker, fw_error *err)
{
    build_ctx *b = p;
    fw_image_cache *c = b->cache;
    if (!b->decoders[worker])
        FW_TRY(fw_jpeg_decoder_create(&b->decoders[worker], err)); /* fatal: no memory */
    fw_error item_err;
    fw_error_clear(&item_err);
    int rc = load_one(b, i, b->decoders[worker], &item_err);
    if (rc < 0) {
        size_t slot = (size_t)c->height * (size_t)c->width * (size_t)c->channels;
        memset(fw_cache_image(c, i), 0, slot);
        c->ok[i] = 0;
        b->codes[i] = rc;
        /* decode errors do not name the file yet; read errors already start with it */
        size_t pl = strlen(b->paths[i]);
        int named = strncmp(item_err.msg, b->paths[i], pl) == 0 && item_err.msg[pl] == ':';
        size_t need = (named ? 0 : pl + 2) + strlen(item_err.msg) + 1;
        b->reasons[i] = malloc(need);
        if (!b->reasons[i])
            return fw_fail(err, FW_ENOMEM, "cache: cannot allocate an error message");
        if (named)
            memcpy(b->reasons[i], item_err.msg, need);
        else
            snprintf(b->reasons[i], need, "%s: %s", b->paths[i], item_err.msg);
    } else {
        c->ok[i] = 1;
    }
    long done = atomic_fetch_add(&b->done, 1) + 1;
    if (b->opts->progress)
        b->opts->progress(b->opts->progress_ctx, done, c->n);
    return FW_OK;
}

/* Gather the per-item failures in index order. */
static int collect_failures(build_ctx *b, fw_error *err)
{
    fw_image_cache *c = b->cache;
    long count = 0;
    for (long i = 0; i < c->n; i++)
        count += b->codes[i] < 0;
    c->failures = calloc(count ? (size_t)count : 1, sizeof *c->failures);
    if (!c->failures)
        return fw_fail(err, FW_ENOMEM, "cache: cannot allocate the failure list");
    for (long i = 0; i < c->n; i++) {
        if (b->codes[i] >= 0)
            continue;
        fw_cache_failure *f = &c->failures[c->n_failed++];
        f->index = i;
        f->code = b->codes[i];
        f->reason = b->reasons[i];
        b->reasons[i] = NULL; /* now owned by the cache */
    }
    return FW_OK;
}

static int decode_all(fw_image_cache *c, const char *const *paths, const fw_bbox *boxes,
                      const fw_cache_opts *opts, fw_error *err)
{
    static const fw_decode_limits default_limits = FW_DECODE_LIMITS_DEFAULT;
    int threads = fw_resolve_threads(opts->threads);
    build_ctx b = {
        .paths = paths,
        .boxes = boxes,
        .opts = opts,
        .limits = opts->limits ? opts->limits : &default_limits,
        .cache = c,
        .decoders = calloc((size_t)threads, sizeof *b.decoders),
        .codes = calloc(c->n ? (size_t)c->n : 1, sizeof *b.codes),
        .reasons = calloc(c->n ? (size_t)c->n : 1, sizeof *b.reasons),
    };
    atomic_init(&b.done, 0);
    int rc = FW_OK;
    if (!b.decoders || !b.codes || !b.reasons)
        rc = fw_fail(err, FW_ENOMEM, "cache: cannot allocate work state for %ld images", c->n);
    if (rc == FW_OK)
        rc = fw_parallel_for(threads, c->n, build_item, &b, err);
    if (rc == FW_OK)
        rc = collect_failures(&b, err);
    if (b.decoders)
        for (int t = 0; t < threads; t++)
            fw_jpeg_decoder_free(b.decoders[t]);
    if (b.reasons)
        for (long i = 0; i < c->n; i++)
            free(b.reasons[i]);
    free(b.decoders);
    free(b.codes);
    free(b.reasons);
    return rc;
}

int fw_cache_build(fw_image_cache *cache, const char *const *paths, const fw_bbox *boxes,
                   long n, const fw_cache_opts *opts, fw_error *err)
{
    memset(cache, 0, sizeof *cache);
    if (!opts || opts->width <= 0 || opts->height <= 0 ||
        (opts->channels != 1 && opts->channels != 3) || n < 0 || (n > 0 && !paths))
        return fw_fail(err, FW_EINVAL, "cache: bad options (size %dx%d, %d channels, %ld images)",
                       opts ? opts->width : 0, opts ? opts->height : 0,
                       opts ? opts->channels : 0, n);
    size_t per = (size_t)opts->width * (size_t)opts->height * (size_t)opts->channels;
    if (n > 0 && per > SIZE_MAX / (size_t)n)
        return fw_fail(err, FW_ETOOBIG, "cache: %ld images of %dx%dx%d do not fit in memory", n,
                       opts->width, opts->height, opts->channels);
    cache->width = opts->width;
    cache->height = opts->height;
    cache->channels = opts->channels;
    cache->n = n;
    cache->pixels = malloc(n ? per * (size_t)n : 1);
    cache->ok = calloc(n ? (size_t)n : 1, 1);
    if (!cache->pixels || !cache->ok) {
        fw_cache_free(cache);
        return fw_fail(err, FW_ENOMEM, "cache: cannot allocate %ld images of %dx%dx%d (%.1f GiB)",
                       n, opts->width, opts->height, opts->channels,
                       (double)per * (double)n / (1 << 30));
    }

    char disk_path[4200] = "";
    uint64_t key = 0;
    if (opts->disk_dir) {
        key = fw_disk_cache_key(paths, boxes, n, opts->width, opts->height, opts->channels);
        if (fw_disk_cache_path(opts->disk_dir, key, disk_path, sizeof disk_path,
                               &cache->disk_note) < 0) {
            disk_path[0] = '\0';
        } else {
            fw_error load_err;
            fw_error_clear(&load_err);
            int rc = fw_disk_cache_load(disk_path, key, cache, &load_err);
            if (rc == FW_OK) {
                cache->from_disk = 1;
                if (opts->progress)
                    opts->progress(opts->progress_ctx, n, n);
                return FW_OK;
            }
            if (rc != FW_ENOTFOUND) {
                cache->disk_rejected = 1;
                cache->disk_note = load_err;
            }
            memset(cache->ok, 0, n ? (size_t)n : 1);
        }
    }

    int rc = decode_all(cache, paths, boxes, opts, err);
    if (rc < 0) {
        fw_cache_free(cache);
        return rc;
    }
    if (disk_path[0]) {
        fw_error save_err;
        fw_error_clear(&save_err);
        if (fw_disk_cache_save(disk_path, key, cache, &save_err) < 0)
            cache->disk_note = save_err;
    }
    return FW_OK;
}

void fw_cache_free(fw_image_cache *cache)
{
    if (!cache)
        return;
    if (cache->failures)
        for (long k = 0; k < cache->n_failed; k++)
            free(cache->failures[k].reason);
    free(cache->failures);
    free(cache->pixels);
    free(cache->ok);
    memset(cache, 0, sizeof *cache);
}
