/* sampler.h — which training items go into which batch, deterministic by seed.
 *
 * Two samplers behind one type, both random-access by position
 * (epoch, batch): a batch depends only on (seed, epoch, batch) and the items
 * given at init, never on what was asked before, so resuming from a saved
 * position yields exactly the batches an uninterrupted run would have seen.
 *
 * P x K (metric learning). Items are grouped by whale label. An epoch is one
 * shuffled order of every whale that has at least one usable item: batch b
 * takes whales order[b*P .. b*P+P) as its P identities, so each whale
 * appears exactly once per epoch as one of the P. The last batch of an epoch,
 * when the number of whales is not a multiple of P, is topped up with whales
 * drawn (distinct) from earlier in the same epoch's order, so every batch has
 * the same shape. Each of the P whales contributes K items: K distinct ones
 * when it has >= K; otherwise all of its items repeated as evenly as possible
 * (every item floor(K/n) or ceil(K/n) times) in shuffled order. Optionally M
 * new_whale items follow as negatives: each epoch shuffles the usable
 * new_whale items and batch b takes positions b*M .. b*M+M-1 of that order
 * (wrapping), so all of them are used before any repeats.
 *   Batch layout: P groups of K consecutive items (group j = one whale), then
 *   the M new_whale items; n = P*K + M; batches_per_epoch = ceil(W / P) for W
 *   usable whales (W >= P is required).
 *
 * Shuffled (classification / evaluation). Every usable item once per epoch
 * in a shuffled order (or in ascending item order with shuffle = 0), batch b
 * = positions b*N .. b*N+N-1; the last batch is shorter unless drop_last.
 *
 * "Usable" = in the subset (all items when subset is NULL) and ok[i] != 0
 * (all when ok is NULL; pass the image cache's ok flags so undecodable images
 * are never sampled). Labels are whale indices 0..n_whales-1 or FW_NEW_WHALE.
 * A sampler object caches the current epoch's order, so one sampler must not
 * be used by two threads at once (the loader calls it under its lock).
 */
#ifndef FW_SAMPLER_H
#define FW_SAMPLER_H

#include <stdint.h>

#include "../src/fw_error.h"

enum { FW_SAMPLER_PK = 1, FW_SAMPLER_SHUFFLE = 2 };

typedef struct fw_pk_opts {
    int p;          /* whales per batch (>= 1) */
    int k;          /* items per whale (>= 1) */
    int m_new;      /* new_whale negatives per batch (>= 0) */
    uint64_t seed;
} fw_pk_opts;

#define FW_PK_OPTS_DEFAULT {8, 4, 0, 42}

typedef struct fw_shuffle_opts {
    int batch_size; /* >= 1 */
    int shuffle;    /* 0: ascending item order every epoch */
    int drop_last;  /* 1: drop the short last batch */
    uint64_t seed;
} fw_shuffle_opts;

#define FW_SHUFFLE_OPTS_DEFAULT {32, 1, 0, 42}

typedef struct fw_sampler {
    int kind;               /* FW_SAMPLER_PK or FW_SAMPLER_SHUFFLE */
    int batch_size;         /* largest n of a batch (P*K + M, or N) */
    long batches_per_epoch;
    int n_whales;           /* label space (flip identities map to label + n_whales) */
    fw_pk_opts pk;
    fw_shuffle_opts sh;

    /* P x K: usable whales (ascending id) and their items (CSR, ascending) */
    int n_active;
    int *active;            /* (n_active) whale ids */
    long *whale_start;      /* (n_active + 1) offsets into whale_items */
    long *whale_items;      /* (whale_start[n_active]) item indices */
    long *new_items;        /* (n_new) usable new_whale items, ascending */
    long n_new;

    /* shuffled: usable items, ascending, and their labels */
    long *items;            /* (n_items) */
    int *item_labels;       /* (n_items) */
    long n_items;

    /* cache of one epoch's order (mutable: not thread-safe) */
    long cached_epoch;      /* -1: none */
    int *order;             /* (n_active) whale slots, or NULL */
    long *order_items;      /* P x K: (n_new) permuted new_whale items;
                               shuffled: (n_items) permuted positions in items[] */
    long *scratch;          /* (max items of one whale) */
    int *topup;             /* (p) scratch */
} fw_sampler;

/* One batch as item indices and labels (arrays of at least batch_size,
 * owned by the caller). */
typedef struct fw_batch_plan {
    long epoch, batch;
    int n;                  /* items in this batch */
    long *items;            /* (batch_size) */
    int *labels;            /* (batch_size) whale index or FW_NEW_WHALE */
} fw_batch_plan;

/* A position in the stream of batches. */
typedef struct fw_sampler_pos {
    long epoch, batch;
} fw_sampler_pos;

/* labels: (n_items) whale index or FW_NEW_WHALE; ok: (n_items) or NULL;
 * subset: (n_subset) item indices or NULL for all. FW_EINVAL with the reason
 * for bad options, out-of-range labels, fewer than P usable whales, or
 * m_new > 0 without usable new_whale items. */
int fw_sampler_init_pk(fw_sampler *s, const int *labels, const uint8_t *ok, long n_items,
                       const long *subset, long n_subset, int n_whales,
                       const fw_pk_opts *opts, fw_error *err);

/* Same inputs; labels are copied into the plans (may be NULL: all FW_NEW_WHALE).
 * FW_EINVAL when no item is usable. */
int fw_sampler_init_shuffle(fw_sampler *s, const int *labels, const uint8_t *ok, long n_items,
                            const long *subset, long n_subset, int n_whales,
                            const fw_shuffle_opts *opts, fw_error *err);

/* Fill plan (its items/labels arrays must hold batch_size) with batch `batch`
 * of `epoch` (0 <= batch < batches_per_epoch, epoch >= 0). */
int fw_sampler_batch(fw_sampler *s, long epoch, long batch, fw_batch_plan *plan, fw_error *err);

/* fw_sampler_batch at *pos, then advance *pos (to the next epoch after its last batch). */
int fw_sampler_next(fw_sampler *s, fw_sampler_pos *pos, fw_batch_plan *plan, fw_error *err);

void fw_sampler_free(fw_sampler *s);

#endif
