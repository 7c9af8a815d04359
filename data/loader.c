/* loader.c — worker threads and a bounded ring of batch slots (see loader.h).
 *
 * Batches are numbered g = 0, 1, 2, ... from the start position; batch g
 * lives in slot g % n_slots. Under one mutex: `planned` batches have their
 * items from the sampler, samples are handed out earliest batch first
 * (work_g, next_sample), a slot becomes ready when its last sample is done,
 * and a slot is reused only after the consumer has given its batch back
 * (`released`). The pixel work runs outside the lock.
 */
#include "loader.h"

#include <limits.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "../src/parallel.h"
#include "augment_cpu.h"
#include "dataset.h"

typedef struct slot {
    fw_batch batch;
    long g;            /* batch number held, -1 none */
    int next_sample;   /* next sample to hand out */
    int pending;       /* samples not finished */
    int ready;
    int rc;            /* first error of this batch */
    fw_error err;
} slot;

struct fw_loader {
    const fw_image_cache *cache;
    fw_sampler *sampler;
    fw_loader_opts opts;
    int out_w, out_h, channels;
    long start_pos, total;  /* absolute position of g = 0; number of batches */

    int n_slots;
    slot *slots;
    int n_threads;
    pthread_t *threads;

    pthread_mutex_t mu;
    pthread_cond_t work_cv;  /* workers: something to do or stop */
    pthread_cond_t ready_cv; /* consumer: a slot became ready */
    long planned;            /* batches 0..planned-1 have their plan */
    long work_g;             /* earliest batch with samples not handed out */
    long consumed;           /* batches handed to the consumer */
    long released;           /* batches the consumer gave back */
    int stop;
    int failed;              /* sticky error for the consumer */
    fw_error fail_err;
};

void fw_loader_opts_default(fw_loader_opts *o)
{
    memset(o, 0, sizeof *o);
    o->threads = 0;
    o->prefetch = 2;
    o->seed = 42;
    fw_augment_opts_default(&o->aug);
}

/* Fill slot s with the sampler's plan for batch g (under the lock). */
static void plan_batch(fw_loader *l, slot *s, long g)
{
    long pos = l->start_pos + g;
    long bpe = l->sampler->batches_per_epoch;
    fw_batch_plan plan = {.items = s->batch.items, .labels = s->batch.whales};
    s->g = g;
    s->ready = 0;
    s->rc = FW_OK;
    fw_error_clear(&s->err);
    s->next_sample = 0;
    int rc = fw_sampler_batch(l->sampler, pos / bpe, pos % bpe, &plan, &s->err);
    if (rc == FW_OK) {
        for (int i = 0; i < plan.n; i++) {
            long item = plan.items[i];
            if (item < 0 || item >= l->cache->n || !l->cache->ok[item]) {
                rc = fw_fail(&s->err, FW_EINVAL,
                             "loader: the sampler gave item %ld, which is not a decoded image "
                             "of the cache (%ld images)", item, l->cache->n);
                break;
            }
        }
    }
    s->batch.epoch = pos / bpe;
    s->batch.index = pos % bpe;
    if (rc < 0) {
        s->rc = rc;
        s->batch.n = 0;
        s->pending = 0;
        s->ready = 1;
        pthread_cond_broadcast(&l->ready_cv);
        return;
    }
    int lo = 0, hi = plan.n;
    if (l->opts.shard_count > 1) {
        lo = (int)((long)plan.n * l->opts.shard_rank / l->opts.shard_count);
        hi = (int)((long)plan.n * (l->opts.shard_rank + 1) / l->opts.shard_count);
        memmove(s->batch.items, s->batch.items + lo, (size_t)(hi - lo) * sizeof *s->batch.items);
        memmove(s->batch.whales, s->batch.whales + lo,
                (size_t)(hi - lo) * sizeof *s->batch.whales);
    }
    s->batch.offset = lo;
    s->batch.n = hi - lo;
    s->pending = hi - lo;
    if (s->batch.n == 0) {
        s->ready = 1;
        pthread_cond_broadcast(&l->ready_cv);
    }
}

/* Augment sample i of slot s (outside the lock). */
static int do_sample(fw_loader *l, slot *s, int i, fw_error *err)
{
    const fw_image_cache *c = l->cache;
    fw_batch *b = &s->batch;
    long item = b->items[i];
    const uint8_t *src = fw_cache_image(c, item);
    float mean = fw_image_mean_luma(src, c->width, c->height, c->channels, 4);
    fw_rng r;
    fw_augment_rng(&r, l->opts.seed, b->epoch,
                   b->index * (long)l->sampler->batch_size + b->offset + i);
    fw_aug_params p;
    int flipped = 0;
    fw_aug_params_draw(&l->opts.aug, &r, c->width, c->height, c->channels, mean, &p, &flipped);
    b->params[i] = p;
    size_t per = (size_t)l->channels * l->out_h * l->out_w;
    if (!l->opts.params_only)
        FW_TRY(fw_augment_image(&p, src, c->width, c->height, c->channels, b->pixels + i * per,
                                l->out_w, l->out_h, err));
    b->flipped[i] = (uint8_t)flipped;
    b->labels[i] = fw_augment_label(&l->opts.aug, b->whales[i], flipped, l->sampler->n_whales);
    return FW_OK;
}

static void *worker_main(void *arg)
{
    fw_loader *l = arg;
    fw_error err;
    if (l->opts.nice > 0) /* lowering one's own priority needs no privilege */
        (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), l->opts.nice);
    pthread_mutex_lock(&l->mu);
    while (!l->stop) {
        if (l->work_g < l->planned) {
            slot *s = &l->slots[l->work_g % l->n_slots];
            if (s->next_sample >= s->batch.n) {
                l->work_g++;
                continue;
            }
            int i = s->next_sample++;
            if (s->next_sample >= s->batch.n)
                l->work_g++;
            pthread_mutex_unlock(&l->mu);
            fw_error_clear(&err);
            int rc = do_sample(l, s, i, &err);
            pthread_mutex_lock(&l->mu);
            if (rc < 0 && s->rc == FW_OK) {
                s->rc = rc;
                s->err = err;
            }
            if (--s->pending == 0) {
                s->ready = 1;
                pthread_cond_broadcast(&l->ready_cv);
            }
            continue;
        }
        if (l->planned < l->total && l->planned < l->released + l->n_slots) {
            plan_batch(l, &l->slots[l->planned % l->n_slots], l->planned);
            l->planned++;
            continue;
        }
        pthread_cond_wait(&l->work_cv, &l->mu);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static void free_slots(fw_loader *l)
{
    if (!l->slots)
        return;
    for (int k = 0; k < l->n_slots; k++) {
        fw_batch *b = &l->slots[k].batch;
        free(b->pixels);
        free(b->params);
        free(b->labels);
        free(b->whales);
        free(b->items);
        free(b->flipped);
    }
    free(l->slots);
    l->slots = NULL;
}

void fw_loader_close(fw_loader *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    l->stop = 1;
    pthread_cond_broadcast(&l->work_cv);
    pthread_cond_broadcast(&l->ready_cv);
    pthread_mutex_unlock(&l->mu);
    for (int t = 0; t < l->n_threads; t++)
        pthread_join(l->threads[t], NULL);
    free(l->threads);
    free_slots(l);
    pthread_cond_destroy(&l->work_cv);
    pthread_cond_destroy(&l->ready_cv);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

int fw_loader_open(fw_loader **out, const fw_image_cache *cache, fw_sampler *sampler,
                   const fw_loader_opts *opts, fw_error *err)
{
    *out = NULL;
    if (!cache || !cache->pixels || !cache->ok || cache->n <= 0 || cache->width <= 0 ||
        cache->height <= 0 || (cache->channels != 1 && cache->channels != 3))
        return fw_fail(err, FW_EINVAL, "loader: the image cache is empty or malformed");
    if (!sampler || (sampler->kind != FW_SAMPLER_PK && sampler->kind != FW_SAMPLER_SHUFFLE) ||
        sampler->batches_per_epoch <= 0)
        return fw_fail(err, FW_EINVAL, "loader: the sampler is not initialised");
    FW_TRY(fw_augment_opts_check(&opts->aug, err));
    if (opts->shard_count > 1 && (opts->shard_rank < 0 || opts->shard_rank >= opts->shard_count))
        return fw_fail(err, FW_EINVAL, "loader: shard %d of %d", opts->shard_rank,
                       opts->shard_count);
    if (opts->start_epoch < 0 || opts->start_batch < 0 ||
        opts->start_batch >= sampler->batches_per_epoch)
        return fw_fail(err, FW_EINVAL,
                       "loader: start position (epoch %ld, batch %ld) is outside 0..%ld batches",
                       opts->start_epoch, opts->start_batch, sampler->batches_per_epoch - 1);
    long bpe = sampler->batches_per_epoch;
    if (opts->start_epoch > LONG_MAX / bpe - 2 || opts->end_epoch > LONG_MAX / bpe - 2)
        return fw_fail(err, FW_EINVAL, "loader: epoch number too large");

    fw_loader *l = calloc(1, sizeof *l);
    if (!l)
        return fw_fail(err, FW_ENOMEM, "loader: out of memory");
    l->cache = cache;
    l->sampler = sampler;
    l->opts = *opts;
    l->out_w = opts->aug.out_width > 0 ? opts->aug.out_width : cache->width;
    l->out_h = opts->aug.out_height > 0 ? opts->aug.out_height : cache->height;
    l->channels = cache->channels;
    l->start_pos = opts->start_epoch * bpe + opts->start_batch;
    l->total = opts->end_epoch > 0 ? opts->end_epoch * bpe - l->start_pos : LONG_MAX;
    if (l->total < 0)
        l->total = 0;
    int prefetch = opts->prefetch > 0 ? opts->prefetch : 2;
    if (prefetch > 64)
        prefetch = 64;
    l->n_slots = prefetch + 1;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->work_cv, NULL);
    pthread_cond_init(&l->ready_cv, NULL);

    int bs = sampler->batch_size;
    size_t per = (size_t)l->channels * l->out_h * l->out_w;
    l->slots = calloc((size_t)l->n_slots, sizeof *l->slots);
    int rc = FW_OK;
    if (!l->slots) {
        rc = fw_fail(err, FW_ENOMEM, "loader: out of memory");
        goto fail;
    }
    for (int k = 0; k < l->n_slots; k++) {
        fw_batch *b = &l->slots[k].batch;
        l->slots[k].g = -1;
        b->channels = l->channels;
        b->height = l->out_h;
        b->width = l->out_w;
        b->pixels = opts->params_only ? NULL : malloc((size_t)bs * per * sizeof *b->pixels);
        b->params = malloc((size_t)bs * sizeof *b->params);
        b->labels = malloc((size_t)bs * sizeof *b->labels);
        b->whales = malloc((size_t)bs * sizeof *b->whales);
        b->items = malloc((size_t)bs * sizeof *b->items);
        b->flipped = malloc((size_t)bs);
        if ((!b->pixels && !opts->params_only) || !b->params || !b->labels || !b->whales ||
            !b->items || !b->flipped) {
            rc = fw_fail(err, FW_ENOMEM,
                         "loader: cannot allocate %d batches of %d x %d x %d x %d floats",
                         l->n_slots, bs, l->channels, l->out_h, l->out_w);
            goto fail;
        }
    }
    int want = fw_resolve_threads(opts->threads);
    l->threads = calloc((size_t)want, sizeof *l->threads);
    if (!l->threads) {
        rc = fw_fail(err, FW_ENOMEM, "loader: out of memory");
        goto fail;
    }
    for (int t = 0; t < want; t++) {
        if (pthread_create(&l->threads[t], NULL, worker_main, l) != 0) {
            rc = fw_fail(err, FW_ENOMEM, "loader: cannot start worker thread %d of %d", t + 1,
                         want);
            goto fail;
        }
        l->n_threads++;
    }
    *out = l;
    return FW_OK;
fail:
    fw_loader_close(l);
    return rc;
}

int fw_loader_next(fw_loader *l, const fw_batch **batch, fw_error *err)
{
    *batch = NULL;
    pthread_mutex_lock(&l->mu);
    if (l->failed) {
        if (err)
            *err = l->fail_err;
        int code = l->fail_err.code;
        pthread_mutex_unlock(&l->mu);
        return code;
    }
    if (l->released < l->consumed) { /* give the held batch back */
        l->released = l->consumed;
        pthread_cond_broadcast(&l->work_cv);
    }
    if (l->consumed >= l->total) {
        pthread_mutex_unlock(&l->mu);
        return FW_OK;
    }
    slot *s = &l->slots[l->consumed % l->n_slots];
    while (!(s->g == l->consumed && s->ready) && !l->stop)
        pthread_cond_wait(&l->ready_cv, &l->mu);
    int rc = FW_OK;
    if (l->stop) {
        rc = fw_fail(err, FW_EINVAL, "loader: closed");
    } else if (s->rc < 0) {
        l->failed = 1;
        l->fail_err = s->err;
        l->fail_err.code = s->rc;
        if (err)
            *err = l->fail_err;
        rc = s->rc;
    } else {
        *batch = &s->batch;
        l->consumed++;
    }
    pthread_mutex_unlock(&l->mu);
    return rc;
}
