/* split.h — a seeded validation split by identity.
 *
 * Queries: exactly one image from each of a share of the whales that have
 * >= 2 images in train.csv — so at least one image of each such whale stays
 * in the gallery — plus new_whale images, so that validation mAP@5 behaves
 * like the leaderboard's (about 28% new_whale among queries by default).
 * Whales with a single image never give a query (their query could not be
 * matched). Everything that is not a query is the training set, which is
 * also the gallery.
 *
 * How it is drawn (all from fw_rng streams of opts->seed):
 *   - the eligible whales, in ds->whales order (sorted ids), are shuffled and
 *     the first round(query_whale_share * eligible) are chosen;
 *   - for each chosen whale, in id order, one of its images, ordered by file
 *     name, is picked uniformly;
 *   - k = round(new_whale_share * chosen / (1 - new_whale_share)) new_whale
 *     images (at most all of them) are drawn from the new_whale images
 *     ordered by file name.
 * So the split depends only on the seed and the (Image, Id) pairs: shuffling
 * the rows of train.csv does not change it.
 */
#ifndef FW_SPLIT_H
#define FW_SPLIT_H

#include <stdint.h>

#include "dataset.h"

typedef struct fw_split_opts {
    uint64_t seed;
    float query_whale_share;  /* share of eligible whales giving a query, [0, 1] (default 0.2) */
    float new_whale_share;    /* wanted share of new_whale among queries, [0, 1) (default 0.28) */
} fw_split_opts;

#define FW_SPLIT_OPTS_DEFAULT {42, 0.2f, 0.28f}

typedef struct fw_split {
    long *train;  /* indices into ds->train: training set = gallery, ascending */
    long n_train;
    long *query;  /* indices into ds->train: validation queries, ascending */
    long n_query;
} fw_split;

/* FW_EINVAL for shares out of range. On failure *split is left empty. */
int fw_split_make(const fw_dataset *ds, const fw_split_opts *opts, fw_split *split,
                  fw_error *err);
void fw_split_free(fw_split *split);

#endif
