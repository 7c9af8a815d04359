/* split.c — the seeded identity split described in split.h. */
#include "split.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

/* fw_rng stream numbers of the three draws. */
enum { STREAM_WHALES = 1, STREAM_IMAGES = 2, STREAM_NEW_WHALE = 3 };

/* qsort has no context argument: sort (name, index) pairs instead. */
typedef struct named_index {
    const char *name;
    long index;
} named_index;

static int cmp_named(const void *a, const void *b)
{
    return strcmp(((const named_index *)a)->name, ((const named_index *)b)->name);
}

int fw_split_make(const fw_dataset *ds, const fw_split_opts *opts, fw_split *split,
                  fw_error *err)
{
    memset(split, 0, sizeof *split);
    if (!(opts->query_whale_share >= 0.0f && opts->query_whale_share <= 1.0f))
        return fw_fail(err, FW_EINVAL, "split: query whale share %g is not in [0, 1]",
                       (double)opts->query_whale_share);
    if (!(opts->new_whale_share >= 0.0f && opts->new_whale_share < 1.0f))
        return fw_fail(err, FW_EINVAL, "split: new_whale share %g is not in [0, 1)",
                       (double)opts->new_whale_share);
    long n = ds->n_train;
    int nw = ds->n_whales;
    if (n > INT_MAX)
        return fw_fail(err, FW_ETOOBIG, "split: too many images (%ld)", n);

    /* members of each whale, grouped (CSR) and ordered by file name;
     * new_whale images after them */
    long *start = calloc((size_t)nw + 2, sizeof *start);  /* (nw + 2) */
    named_index *members = malloc((size_t)(n ? n : 1) * sizeof *members);
    char *is_query = calloc((size_t)(n ? n : 1), 1);
    size_t order_len = (size_t)(nw > n ? nw : n) + 1;
    int *order = malloc(order_len * sizeof *order); /* whales, then new_whale images */
    int rc = FW_OK;
    if (!start || !members || !is_query || !order) {
        rc = fw_fail(err, FW_ENOMEM, "split: out of memory");
        goto done;
    }
    /* group g = whale index, or nw for new_whale */
    for (long i = 0; i < n; i++) {
        int w = ds->train[i].whale;
        if (w != FW_NEW_WHALE && (w < 0 || w >= nw)) {
            rc = fw_fail(err, FW_EINVAL, "split: image '%s' has a bad whale index %d",
                         ds->train[i].image, w);
            goto done;
        }
        start[(w == FW_NEW_WHALE ? nw : w) + 1]++;
    }
    for (int g = 0; g <= nw; g++)
        start[g + 1] += start[g];
    {
        long *fill = calloc((size_t)nw + 1, sizeof *fill);
        if (!fill) {
            rc = fw_fail(err, FW_ENOMEM, "split: out of memory");
            goto done;
        }
        for (long i = 0; i < n; i++) {
            int w = ds->train[i].whale;
            int g = w == FW_NEW_WHALE ? nw : w;
            members[start[g] + fill[g]++] = (named_index){ds->train[i].image, i};
        }
        free(fill);
    }
    for (int g = 0; g <= nw; g++)
        qsort(members + start[g], (size_t)(start[g + 1] - start[g]), sizeof *members,
              cmp_named);

    /* known whales: shuffle the eligible ones, keep the first share */
    int n_eligible = 0;
    for (int w = 0; w < nw; w++)
        if (start[w + 1] - start[w] >= 2)
            order[n_eligible++] = w;
    fw_rng rng;
    fw_rng_init(&rng, opts->seed, STREAM_WHALES);
    fw_rng_shuffle_int(&rng, order, n_eligible);
    long n_pick = lround((double)opts->query_whale_share * n_eligible);
    if (n_pick > n_eligible)
        n_pick = n_eligible;
    /* back to id order so the image draws do not depend on the shuffle's order */
    char *chosen = calloc((size_t)(nw ? nw : 1), 1);
    if (!chosen) {
        rc = fw_fail(err, FW_ENOMEM, "split: out of memory");
        goto done;
    }
    for (long k = 0; k < n_pick; k++)
        chosen[order[k]] = 1;
    fw_rng_init(&rng, opts->seed, STREAM_IMAGES);
    for (int w = 0; w < nw; w++) {
        if (!chosen[w])
            continue;
        uint32_t count = (uint32_t)(start[w + 1] - start[w]);
        is_query[members[start[w] + fw_rng_below(&rng, count)].index] = 1;
    }
    free(chosen);

    /* new_whale: enough for the wanted share of the queries */
    long n_new_avail = start[nw + 1] - start[nw];
    double share = opts->new_whale_share;
    long n_new = lround(share * (double)n_pick / (1.0 - share));
    if (n_new > n_new_avail)
        n_new = n_new_avail;
    for (long k = 0; k < n_new_avail; k++)
        order[k] = (int)k;
    fw_rng_init(&rng, opts->seed, STREAM_NEW_WHALE);
    fw_rng_shuffle_int(&rng, order, (int)n_new_avail);
    for (long k = 0; k < n_new; k++)
        is_query[members[start[nw] + order[k]].index] = 1;

    long n_query = 0;
    for (long i = 0; i < n; i++)
        n_query += is_query[i];
    split->query = malloc((size_t)(n_query ? n_query : 1) * sizeof *split->query);
    split->train = malloc((size_t)(n - n_query ? n - n_query : 1) * sizeof *split->train);
    if (!split->query || !split->train) {
        fw_split_free(split);
        rc = fw_fail(err, FW_ENOMEM, "split: out of memory");
        goto done;
    }
    for (long i = 0; i < n; i++) {
        if (is_query[i])
            split->query[split->n_query++] = i;
        else
            split->train[split->n_train++] = i;
    }
done:
    free(start);
    free(members);
    free(is_query);
    free(order);
    return rc;
}

void fw_split_free(fw_split *split)
{
    free(split->train);
    free(split->query);
    memset(split, 0, sizeof *split);
}
