/* embed.c — evaluation-mode embeddings of cached images (see embed.h). */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "augment_cpu.h"
#include "augment_params.h"
#include "embed.h"
#include "eval.h"

/* Preprocess images items[0..n) into x (n, C, H, W), mirrored when flip. */
static int prepare(const fw_image_cache *c, const long *items, int n, int flip, int threads,
                   fw_aug_params *params, const uint8_t **srcs, float *x, fw_error *err)
{
    fw_augment_opts o;
    fw_augment_opts_none(&o);
    o.p_flip = flip ? 1.0f : 0.0f;
    for (int i = 0; i < n; i++) {
        const uint8_t *src = fw_cache_image(c, items[i]);
        fw_rng r;
        fw_rng_init(&r, 0, (uint64_t)items[i]);
        int flipped = 0;
        fw_aug_params_draw(&o, &r, c->width, c->height, c->channels,
                           fw_image_mean_luma(src, c->width, c->height, c->channels, 4),
                           &params[i], &flipped);
        srcs[i] = src;
    }
    return fw_augment_batch(params, srcs, n, c->width, c->height, c->channels, x, c->width,
                            c->height, threads, err);
}

int fw_embed_cache(fw_learner *l, const fw_image_cache *cache, const long *items, long n,
                   const fw_embed_opts *opts, float *out, float *raw, fw_error *err)
{
    const int d = opts->dim, batch = opts->batch > 0 ? opts->batch : 64;
    const int h = cache->height, w = cache->width, ch = cache->channels;
    size_t per = (size_t)ch * h * w;
    float *x = malloc((size_t)batch * per * sizeof *x);
    float *e = malloc((size_t)batch * d * sizeof *e);
    float *ef = opts->tta_flip ? malloc((size_t)batch * d * sizeof *ef) : NULL;
    fw_aug_params *params = malloc((size_t)batch * sizeof *params);
    const uint8_t **srcs = malloc((size_t)batch * sizeof *srcs);
    long *ok_items = malloc((size_t)batch * sizeof *ok_items);
    long *ok_rows = malloc((size_t)batch * sizeof *ok_rows);
    int rc = (!x || !e || (opts->tta_flip && !ef) || !params || !srcs || !ok_items || !ok_rows)
                 ? fw_fail(err, FW_ENOMEM, "embed: out of memory for a batch of %d", batch)
                 : FW_OK;
    for (long b0 = 0; rc == FW_OK && b0 < n; b0 += batch) {
        int nb = (int)(n - b0 < batch ? n - b0 : batch), m = 0;
        for (int i = 0; i < nb; i++) {
            long item = items[b0 + i];
            if (item < 0 || item >= cache->n) {
                rc = fw_fail(err, FW_EINVAL, "embed: item %ld outside the cache (%ld)", item,
                             cache->n);
                break;
            }
            memset(out + (size_t)(b0 + i) * d, 0, (size_t)d * sizeof *out);
            if (raw)
                memset(raw + (size_t)(b0 + i) * d, 0, (size_t)d * sizeof *raw);
            if (cache->ok[item]) {
                ok_items[m] = item;
                ok_rows[m++] = b0 + i;
            }
        }
        if (rc != FW_OK || m == 0)
            goto next;
        if ((rc = prepare(cache, ok_items, m, 0, opts->threads, params, srcs, x, err)) ||
            (rc = fw_learner_embed(l, x, m, h, w, e, err)))
            break;
        if (raw)
            for (int i = 0; i < m; i++)
                memcpy(raw + (size_t)ok_rows[i] * d, e + (size_t)i * d, (size_t)d * sizeof *e);
        fw_l2_normalize(e, m, d);
        if (opts->tta_flip) {
            if ((rc = prepare(cache, ok_items, m, 1, opts->threads, params, srcs, x, err)) ||
                (rc = fw_learner_embed(l, x, m, h, w, ef, err)))
                break;
            fw_l2_normalize(ef, m, d);
            fw_merge_flip(e, ef, m, d);
        }
        for (int i = 0; i < m; i++)
            memcpy(out + (size_t)ok_rows[i] * d, e + (size_t)i * d, (size_t)d * sizeof *e);
    next:
        if (rc == FW_OK && opts->progress)
            opts->progress(opts->progress_ctx, b0 + nb, n);
    }
    free(x);
    free(e);
    free(ef);
    free(params);
    free(srcs);
    free(ok_items);
    free(ok_rows);
    return rc;
}
