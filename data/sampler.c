/* sampler.c — P x K and shuffled batch samplers, random-access by
 * (epoch, batch) and deterministic by seed (see sampler.h). */
#include "sampler.h"

#include <stdlib.h>
#include <string.h>

#include "../src/rng.h"
#include "dataset.h"

/* Separate random streams for the separate decisions, so that e.g. changing
 * m_new does not reshuffle the whale order. */
enum {
    DOMAIN_WHALE_ORDER = 1,
    DOMAIN_NEW_ORDER = 2,
    DOMAIN_BATCH = 3,
    DOMAIN_ITEM_ORDER = 4,
};

static void stream_rng(fw_rng *r, uint64_t seed, uint64_t domain, long epoch, long stream)
{
    uint64_t x = seed ^ (domain * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)epoch * 0xD1B54A32D192ED03ull);
    uint64_t derived = fw_splitmix64(&x);
    fw_rng_init(r, derived, (uint64_t)stream);
}

static void shuffle_long(fw_rng *r, long *v, long n)
{
    for (long i = n - 1; i > 0; i--) {
        long j = (long)fw_rng_below(r, (uint32_t)(i + 1));
        long t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
}

/* usable[i] = in subset && ok; labels checked for the usable items. */
static int usable_mask(const int *labels, const uint8_t *ok, long n_items, const long *subset,
                       long n_subset, int n_whales, uint8_t **out, fw_error *err)
{
    *out = NULL;
    if (n_items < 0 || n_items > 0x7fffffffL)
        return fw_fail(err, FW_EINVAL, "sampler: %ld items is out of range", n_items);
    if (n_whales < 0)
        return fw_fail(err, FW_EINVAL, "sampler: n_whales = %d", n_whales);
    uint8_t *usable = calloc((size_t)(n_items > 0 ? n_items : 1), 1);
    if (!usable)
        return fw_fail(err, FW_ENOMEM, "sampler: cannot allocate a mask of %ld items", n_items);
    if (subset) {
        for (long j = 0; j < n_subset; j++) {
            long i = subset[j];
            if (i < 0 || i >= n_items) {
                free(usable);
                return fw_fail(err, FW_EINVAL, "sampler: subset[%ld] = %ld is outside 0..%ld", j,
                               i, n_items - 1);
            }
            usable[i] = 1;
        }
    } else {
        memset(usable, 1, (size_t)n_items);
    }
    for (long i = 0; i < n_items; i++) {
        if (ok && !ok[i])
            usable[i] = 0;
        if (!usable[i] || !labels)
            continue;
        int lab = labels[i];
        if (lab != FW_NEW_WHALE && (lab < 0 || lab >= n_whales)) {
            free(usable);
            return fw_fail(err, FW_EINVAL,
                           "sampler: item %ld has label %d (expected 0..%d or new_whale)", i, lab,
                           n_whales - 1);
        }
    }
    *out = usable;
    return FW_OK;
}

int fw_sampler_init_pk(fw_sampler *s, const int *labels, const uint8_t *ok, long n_items,
                       const long *subset, long n_subset, int n_whales,
                       const fw_pk_opts *opts, fw_error *err)
{
    memset(s, 0, sizeof *s);
    s->cached_epoch = -1;
    if (!labels)
        return fw_fail(err, FW_EINVAL, "sampler: P x K sampling needs labels");
    if (opts->p < 1 || opts->k < 1 || opts->m_new < 0 || opts->p > 1000000 ||
        opts->k > 1000000 || opts->m_new > 1000000 ||
        (long)opts->p * opts->k + opts->m_new > 1000000)
        return fw_fail(err, FW_EINVAL, "sampler: bad P x K + M = %d x %d + %d", opts->p, opts->k,
                       opts->m_new);
    uint8_t *usable;
    FW_TRY(usable_mask(labels, ok, n_items, subset, n_subset, n_whales, &usable, err));

    long *count = calloc((size_t)n_whales + 1, sizeof *count);
    if (!count) {
        free(usable);
        return fw_fail(err, FW_ENOMEM, "sampler: out of memory");
    }
    long n_new = 0, n_labelled = 0;
    for (long i = 0; i < n_items; i++) {
        if (!usable[i])
            continue;
        if (labels[i] == FW_NEW_WHALE) {
            n_new++;
        } else {
            count[labels[i]]++;
            n_labelled++;
        }
    }
    int n_active = 0;
    long max_per_whale = 0;
    for (int w = 0; w < n_whales; w++) {
        if (count[w] > 0)
            n_active++;
        if (count[w] > max_per_whale)
            max_per_whale = count[w];
    }
    int rc = FW_OK;
    if (n_active < opts->p) {
        rc = fw_fail(err, FW_EINVAL,
                     "sampler: only %d whales have usable training images; P = %d needs at least P",
                     n_active, opts->p);
        goto done;
    }
    if (opts->m_new > 0 && n_new == 0) {
        rc = fw_fail(err, FW_EINVAL,
                     "sampler: %d new_whale negatives per batch asked for, but no usable new_whale "
                     "image is in the training items",
                     opts->m_new);
        goto done;
    }
    s->kind = FW_SAMPLER_PK;
    s->pk = *opts;
    s->n_whales = n_whales;
    s->n_active = n_active;
    s->batch_size = opts->p * opts->k + opts->m_new;
    s->batches_per_epoch = (n_active + opts->p - 1) / opts->p;
    s->active = malloc((size_t)n_active * sizeof *s->active);
    s->whale_start = malloc(((size_t)n_active + 1) * sizeof *s->whale_start);
    s->whale_items = malloc((size_t)(n_labelled > 0 ? n_labelled : 1) * sizeof *s->whale_items);
    s->new_items = malloc((size_t)(n_new > 0 ? n_new : 1) * sizeof *s->new_items);
    s->order = malloc((size_t)n_active * sizeof *s->order);
    s->order_items = malloc((size_t)(n_new > 0 ? n_new : 1) * sizeof *s->order_items);
    s->scratch = malloc((size_t)max_per_whale * sizeof *s->scratch);
    s->topup = malloc((size_t)opts->p * sizeof *s->topup);
    long *slot_of = malloc(((size_t)n_whales + 1) * sizeof *slot_of);
    long *fill = malloc(((size_t)n_active + 1) * sizeof *fill);
    if (!s->active || !s->whale_start || !s->whale_items || !s->new_items || !s->order ||
        !s->order_items || !s->scratch || !s->topup || !slot_of || !fill) {
        free(slot_of);
        free(fill);
        rc = fw_fail(err, FW_ENOMEM, "sampler: out of memory for %ld items", n_items);
        goto done;
    }
    /* CSR layout: whales in ascending id, each whale's items ascending. */
    long off = 0;
    int a = 0;
    for (int w = 0; w < n_whales; w++) {
        slot_of[w] = -1;
        if (count[w] == 0)
            continue;
        s->active[a] = w;
        s->whale_start[a] = off;
        fill[a] = off;
        slot_of[w] = a;
        off += count[w];
        a++;
    }
    s->whale_start[n_active] = off;
    for (long i = 0; i < n_items; i++) {
        if (!usable[i])
            continue;
        if (labels[i] == FW_NEW_WHALE)
            s->new_items[s->n_new++] = i;
        else
            s->whale_items[fill[slot_of[labels[i]]]++] = i;
    }
    free(slot_of);
    free(fill);
done:
    free(count);
    free(usable);
    if (rc < 0)
        fw_sampler_free(s);
    return rc;
}

int fw_sampler_init_shuffle(fw_sampler *s, const int *labels, const uint8_t *ok, long n_items,
                            const long *subset, long n_subset, int n_whales,
                            const fw_shuffle_opts *opts, fw_error *err)
{
    memset(s, 0, sizeof *s);
    s->cached_epoch = -1;
    if (opts->batch_size < 1 || opts->batch_size > 1000000)
        return fw_fail(err, FW_EINVAL, "sampler: batch size %d is out of range", opts->batch_size);
    uint8_t *usable;
    FW_TRY(usable_mask(labels, ok, n_items, subset, n_subset, n_whales, &usable, err));
    long n = 0;
    for (long i = 0; i < n_items; i++)
        n += usable[i];
    int rc = FW_OK;
    if (n == 0) {
        rc = fw_fail(err, FW_EINVAL, "sampler: no usable item among %ld", n_items);
        goto done;
    }
    if (opts->drop_last && n < opts->batch_size) {
        rc = fw_fail(err, FW_EINVAL,
                     "sampler: %ld usable items are fewer than one batch of %d (drop_last)", n,
                     opts->batch_size);
        goto done;
    }
    s->kind = FW_SAMPLER_SHUFFLE;
    s->sh = *opts;
    s->n_whales = n_whales;
    s->batch_size = opts->batch_size;
    s->batches_per_epoch =
        opts->drop_last ? n / opts->batch_size : (n + opts->batch_size - 1) / opts->batch_size;
    s->items = malloc((size_t)n * sizeof *s->items);
    s->item_labels = malloc((size_t)n * sizeof *s->item_labels);
    s->order_items = malloc((size_t)n * sizeof *s->order_items);
    if (!s->items || !s->item_labels || !s->order_items) {
        rc = fw_fail(err, FW_ENOMEM, "sampler: out of memory for %ld items", n);
        goto done;
    }
    for (long i = 0; i < n_items; i++) {
        if (!usable[i])
            continue;
        s->items[s->n_items] = i;
        s->item_labels[s->n_items] = labels ? labels[i] : FW_NEW_WHALE;
        s->n_items++;
    }
done:
    free(usable);
    if (rc < 0)
        fw_sampler_free(s);
    return rc;
}

/* Build (once per epoch) the whale order, the new_whale order or the item order. */
static void ensure_epoch(fw_sampler *s, long epoch)
{
    if (s->cached_epoch == epoch)
        return;
    fw_rng r;
    if (s->kind == FW_SAMPLER_PK) {
        uint64_t seed = s->pk.seed;
        for (int i = 0; i < s->n_active; i++)
            s->order[i] = i;
        stream_rng(&r, seed, DOMAIN_WHALE_ORDER, epoch, 0);
        fw_rng_shuffle_int(&r, s->order, s->n_active);
        memcpy(s->order_items, s->new_items, (size_t)s->n_new * sizeof *s->order_items);
        stream_rng(&r, seed, DOMAIN_NEW_ORDER, epoch, 0);
        shuffle_long(&r, s->order_items, s->n_new);
    } else {
        for (long i = 0; i < s->n_items; i++)
            s->order_items[i] = i;
        if (s->sh.shuffle) {
            stream_rng(&r, s->sh.seed, DOMAIN_ITEM_ORDER, epoch, 0);
            shuffle_long(&r, s->order_items, s->n_items);
        }
    }
    s->cached_epoch = epoch;
}

/* K items of whale slot w into out[0..K): distinct when it has >= K items,
 * else every item floor(K/n) or ceil(K/n) times; shuffled either way. */
static void draw_k(fw_sampler *s, fw_rng *r, int w, long *out)
{
    int k = s->pk.k;
    const long *items = s->whale_items + s->whale_start[w];
    long n = s->whale_start[w + 1] - s->whale_start[w];
    long *tmp = s->scratch;
    memcpy(tmp, items, (size_t)n * sizeof *tmp);
    int pos = 0;
    if (n < k) {
        long copies = k / n;
        for (long c = 0; c < copies; c++)
            for (long i = 0; i < n; i++)
                out[pos++] = items[i];
    }
    int rest = k - pos; /* distinct extra items, rest < n when n < k */
    for (int i = 0; i < rest; i++) {
        long j = i + (long)fw_rng_below(r, (uint32_t)(n - i));
        long t = tmp[i];
        tmp[i] = tmp[j];
        tmp[j] = t;
        out[pos++] = tmp[i];
    }
    shuffle_long(r, out, k);
}

static void pk_batch(fw_sampler *s, long epoch, long batch, fw_batch_plan *plan)
{
    int p = s->pk.p, k = s->pk.k, m = s->pk.m_new;
    fw_rng r;
    stream_rng(&r, s->pk.seed, DOMAIN_BATCH, epoch, batch);

    long first = batch * (long)p;
    int have = (int)(s->n_active - first < p ? s->n_active - first : p);
    int need = p - have;
    /* Top-up: `need` distinct whales from order[0 .. first) (Floyd's algorithm). */
    for (int t = 0; t < need; t++) {
        long c = first - need + t;
        long pick = (long)fw_rng_below(&r, (uint32_t)(c + 1));
        for (int u = 0; u < t; u++)
            if (s->topup[u] == s->order[pick]) {
                pick = c;
                break;
            }
        s->topup[t] = s->order[pick];
    }
    int pos = 0;
    for (int j = 0; j < p; j++) {
        int w = j < have ? s->order[first + j] : s->topup[j - have];
        draw_k(s, &r, w, plan->items + pos);
        for (int i = 0; i < k; i++)
            plan->labels[pos + i] = s->active[w];
        pos += k;
    }
    for (int i = 0; i < m; i++) {
        plan->items[pos] = s->order_items[(batch * (long)m + i) % s->n_new];
        plan->labels[pos] = FW_NEW_WHALE;
        pos++;
    }
    plan->n = pos;
}

static void shuffle_batch(fw_sampler *s, long batch, fw_batch_plan *plan)
{
    long start = batch * (long)s->batch_size;
    long n = s->n_items - start < s->batch_size ? s->n_items - start : s->batch_size;
    for (long i = 0; i < n; i++) {
        long at = s->order_items[start + i]; /* position in items[] */
        plan->items[i] = s->items[at];
        plan->labels[i] = s->item_labels[at];
    }
    plan->n = (int)n;
}

int fw_sampler_batch(fw_sampler *s, long epoch, long batch, fw_batch_plan *plan, fw_error *err)
{
    if (s->kind != FW_SAMPLER_PK && s->kind != FW_SAMPLER_SHUFFLE)
        return fw_fail(err, FW_EINVAL, "sampler: not initialised");
    if (epoch < 0 || batch < 0 || batch >= s->batches_per_epoch)
        return fw_fail(err, FW_EINVAL, "sampler: position (epoch %ld, batch %ld) is outside "
                       "0..%ld batches per epoch", epoch, batch, s->batches_per_epoch - 1);
    ensure_epoch(s, epoch);
    plan->epoch = epoch;
    plan->batch = batch;
    if (s->kind == FW_SAMPLER_PK)
        pk_batch(s, epoch, batch, plan);
    else
        shuffle_batch(s, batch, plan);
    return FW_OK;
}

int fw_sampler_next(fw_sampler *s, fw_sampler_pos *pos, fw_batch_plan *plan, fw_error *err)
{
    FW_TRY(fw_sampler_batch(s, pos->epoch, pos->batch, plan, err));
    if (++pos->batch >= s->batches_per_epoch) {
        pos->batch = 0;
        pos->epoch++;
    }
    return FW_OK;
}

void fw_sampler_free(fw_sampler *s)
{
    free(s->active);
    free(s->whale_start);
    free(s->whale_items);
    free(s->new_items);
    free(s->items);
    free(s->item_labels);
    free(s->order);
    free(s->order_items);
    free(s->scratch);
    free(s->topup);
    memset(s, 0, sizeof *s);
    s->cached_epoch = -1;
}
