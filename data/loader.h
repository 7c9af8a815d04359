/* loader.h — float batches for training and evaluation, prepared ahead on a
 * pool of worker threads.
 *
 * Batches follow the sampler's positions (epoch, batch) from a start
 * position, one after the other across epochs. Each batch's content depends
 * only on (sampler, augmentation seed, position): sample i of batch b draws
 * its augmentation from fw_augment_rng(seed, epoch, b * batch_size + i), and
 * batches come out in order whatever the thread count or timing. Workers
 * take single samples, earliest batch first, so one batch is spread over all
 * threads; at most `prefetch` batches are prepared or waiting beyond the one
 * the caller holds (memory: (prefetch + 1) x batch_size x C x H x W floats).
 *
 * Errors (a bad item from the sampler, bad options) come back from
 * fw_loader_next as values; after one, the loader keeps returning it.
 * fw_loader_close may be called at any time: it stops the workers after the
 * sample each is on, joins them and frees everything.
 */
#ifndef FW_LOADER_H
#define FW_LOADER_H

#include <stdint.h>

#include "../src/fw_error.h"
#include "augment_params.h"
#include "image_cache.h"
#include "sampler.h"

typedef struct fw_batch {
    long epoch, index;   /* sampler position */
    int n;               /* samples in this batch (this shard's) */
    int offset;          /* index of sample 0 in the sampler's whole batch
                            (0 unless sharded) */
    int channels, height, width;
    float *pixels;       /* (n, channels, height, width), normalised; NULL with
                            params_only */
    fw_aug_params *params; /* (n) each sample's augmentation (always filled) */
    int *labels;         /* (n) training label: the whale, whale + n_whales when
                            flipped with flip_identity on, or FW_NEW_WHALE */
    int *whales;         /* (n) whale index as sampled (FW_NEW_WHALE for new_whale) */
    long *items;         /* (n) cache indices */
    uint8_t *flipped;    /* (n) 1 when mirrored */
} fw_batch;

typedef struct fw_loader_opts {
    int threads;         /* worker threads; <= 0: all CPUs */
    int prefetch;        /* batches prepared ahead; <= 0: 2 */
    uint64_t seed;       /* augmentation seed */
    fw_augment_opts aug; /* output size and augmentation (fw_augment_opts_none for eval) */
    long start_epoch, start_batch; /* first position (resume) */
    long end_epoch;      /* stop before this epoch; <= 0: never stop */
    int shard_rank, shard_count; /* data parallel: this rank's part of every batch,
                            samples [n*rank/count, n*(rank+1)/count) of the
                            sampler's n, each augmented with its index in the
                            WHOLE batch (pixels equal the unsharded loader's);
                            count <= 1: the whole batch */
    int params_only;     /* 1: draw each sample's parameters (batch.params) but
                            leave the pixels to the caller (the backend's
                            augment_batch); batch.pixels is NULL */
    int nice;            /* workers lower their own scheduling priority by this
                            (Linux per-thread nice, 0..19), so that they fill
                            the gaps of compute threads instead of preempting
                            them; 0: unchanged */
} fw_loader_opts;

/* threads 0, prefetch 2, seed 42, fw_augment_opts_default, from (0, 0), endless,
 * nice 0. */
void fw_loader_opts_default(fw_loader_opts *o);

typedef struct fw_loader fw_loader;

/* Start the workers. The cache and the sampler must outlive the loader, and
 * the sampler must not be used elsewhere while it is open. */
int fw_loader_open(fw_loader **out, const fw_image_cache *cache, fw_sampler *sampler,
                   const fw_loader_opts *opts, fw_error *err);

/* Wait for the next batch. *batch stays valid until the next call or close;
 * *batch = NULL (return 0) after the last batch before end_epoch. */
int fw_loader_next(fw_loader *l, const fw_batch **batch, fw_error *err);

/* Stop, join and free; NULL is fine. */
void fw_loader_close(fw_loader *l);

#endif
