/* embed.h — embeddings of cached images in evaluation mode, for the
 * gallery, validation queries and test images.
 *
 * Each image is only resized-and-normalised (no random augmentation) to the
 * network input; with flip test-time augmentation it is embedded a second
 * time mirrored, and the two unit vectors are summed and normalised again.
 */
#ifndef FW_EMBED_H
#define FW_EMBED_H

#include "fw_error.h"
#include "image_cache.h"
#include "learner.h"

typedef struct fw_embed_opts {
    int dim;          /* D: the model's embedding size */
    int batch;        /* images per forward (default 64 when <= 0) */
    int tta_flip;     /* 1: merge the mirrored image's embedding */
    int threads;      /* preprocessing threads (<= 0: all CPUs) */
    fw_progress_fn progress; /* optional: (ctx, done, n) after each batch */
    void *progress_ctx;
} fw_embed_opts;

/* items (n) are cache indices -> out (n, D), unit rows. An item the cache
 * could not decode (ok = 0) gets a zero row (it matches nothing). raw (may be
 * NULL) gets the unflipped, unnormalised embeddings (n, D), e.g. for a
 * validation loss. */
int fw_embed_cache(fw_learner *l, const fw_image_cache *cache, const long *items, long n,
                   const fw_embed_opts *opts, float *out, float *raw, fw_error *err);

#endif
