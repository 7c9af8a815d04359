/* split.h — a seeded validation split by identity.
 *
 * Queries: one image (sometimes two) from a share of the whales that have >= 2
 * images — at least one image of each such whale stays in the gallery — plus a
 * share of the new_whale images, so that validation mAP@5 behaves like the
 * leaderboard's (about 28% new_whale among queries by default). Everything
 * that is not a query is the training set, which is also the gallery.
 */
#ifndef FW_SPLIT_H
#define FW_SPLIT_H

#include <stdint.h>

#include "dataset.h"

typedef struct fw_split_opts {
    uint64_t seed;
    float query_whale_share;  /* share of eligible whales giving a query (default 0.2) */
    float new_whale_share;    /* wanted share of new_whale among queries (default 0.28) */
} fw_split_opts;

#define FW_SPLIT_OPTS_DEFAULT {42, 0.2f, 0.28f}

typedef struct fw_split {
    long *train;  /* indices into ds->train: training set = gallery, ascending */
    long n_train;
    long *query;  /* indices into ds->train: validation queries, ascending */
    long n_query;
} fw_split;

int fw_split_make(const fw_dataset *ds, const fw_split_opts *opts, fw_split *split,
                  fw_error *err);
void fw_split_free(fw_split *split);

#endif
