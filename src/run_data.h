/* run_data.h — the data of one run: the dataset, its validation split by
 * identity, and every train.csv image decoded once into the image cache at
 * the run's input size (queries included: they are embedded for
 * evaluation). The trainer, `eval` and `predict` open it the same way, so a
 * run is always evaluated on the split it was trained with (the split
 * depends only on the config's seed and the dataset's (Image, Id) pairs).
 */
#ifndef FW_RUN_DATA_H
#define FW_RUN_DATA_H

#include <stddef.h>

#include "dataset.h"
#include "fw_error.h"
#include "image_cache.h"
#include "run_config.h"
#include "split.h"

typedef struct fw_run_data {
    fw_dataset ds;
    fw_split split;
    fw_image_cache cache;   /* every ds.train image at input size and channels */
    int *labels;            /* (ds.n_train) whale index or FW_NEW_WHALE */
    long n_gallery;         /* split.train items that are known whales */
    long *gallery;          /* (n_gallery) indices into ds.train, ascending */
} fw_run_data;

/* Where decoded caches are kept: $XDG_CACHE_HOME/flukewatch, else
 * $HOME/.cache/flukewatch; "" when neither is set (no on-disk cache). */
void fw_default_cache_dir(char *buf, size_t cap);

/* Load cfg->dataset, split it (cfg seed and val.* shares) and build the
 * cache (cache_dir NULL: no on-disk cache). progress may be NULL. Unreadable
 * images are not an error here: they are in cache.failures and never used. */
int fw_run_data_open(fw_run_data *d, const fw_run_config *cfg, const char *cache_dir,
                     fw_progress_fn progress, void *progress_ctx, fw_error *err);
void fw_run_data_free(fw_run_data *d);

/* The image-cache options of a run: the config's input size and channels,
 * its loader (else compute) thread count, cache_dir ("" or NULL: none). */
fw_cache_opts fw_run_cache_opts(const fw_run_config *cfg, const char *cache_dir,
                                fw_progress_fn progress, void *progress_ctx);

/* A cache of n image files DIR/names[i] (boxes may be NULL); used for
 * predict's images. */
int fw_cache_dir_files(const char *dir, const char *const *names, const fw_bbox *boxes, long n,
                       const fw_cache_opts *opts, fw_image_cache *cache, fw_error *err);

/* A cache of every train.csv image of ds (DIR/train/NAME), with its box. */
int fw_cache_train_images(const fw_dataset *ds, const fw_cache_opts *opts, fw_image_cache *cache,
                          fw_error *err);

#endif
