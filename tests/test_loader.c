/* test_loader.c — the threaded batch loader: identical batches for 1 and 2
 * worker threads and across runs, content equal to augmenting each sample
 * directly, the flip-identity labels, resuming and ending at an epoch,
 * errors as values, and closing at any moment (run under ASan too). */
#include <stdlib.h>
#include <string.h>

#include "augment_cpu.h"
#include "augment_params.h"
#include "dataset.h"
#include "loader.h"
#include "tap.h"

enum { N_ITEMS = 48, N_WHALES = 10, W = 40, H = 20, C = 3 };

typedef struct {
    fw_image_cache cache;
    int labels[N_ITEMS];
} toy;

/* A hand-built cache: 48 RGB images of 40x20, items 5 and 17 not decoded;
 * whale i % 10 for most items, new_whale for every 6th. */
static void toy_init(toy *t)
{
    memset(t, 0, sizeof *t);
    fw_image_cache *c = &t->cache;
    c->width = W, c->height = H, c->channels = C, c->n = N_ITEMS;
    c->pixels = malloc((size_t)N_ITEMS * W * H * C);
    c->ok = malloc(N_ITEMS);
    fw_rng r;
    fw_rng_init(&r, 3, 0);
    for (long i = 0; i < N_ITEMS; i++) {
        uint8_t *img = fw_cache_image(c, i);
        for (int k = 0; k < W * H * C; k++)
            img[k] = (uint8_t)((k * 7 + i * 31) % 256 / 2 + fw_rng_below(&r, 64));
        c->ok[i] = i != 5 && i != 17;
        t->labels[i] = i % 6 == 0 ? FW_NEW_WHALE : (int)(i % N_WHALES);
    }
}

static void toy_free(toy *t)
{
    free(t->cache.pixels);
    free(t->cache.ok);
}

/* All batches of a run, copied. */
typedef struct {
    long n_batches;
    size_t floats_per_batch;
    int bs;
    float *pixels;
    int *labels, *whales, *ns;
    long *items, *pos;
    uint8_t *flipped;
} run_log;

static void log_init(run_log *g, long n_batches, int bs, size_t per_sample)
{
    g->n_batches = n_batches;
    g->bs = bs;
    g->floats_per_batch = per_sample * bs;
    g->pixels = calloc((size_t)n_batches * g->floats_per_batch, sizeof(float));
    g->labels = calloc((size_t)n_batches * bs, sizeof(int));
    g->whales = calloc((size_t)n_batches * bs, sizeof(int));
    g->items = calloc((size_t)n_batches * bs, sizeof(long));
    g->flipped = calloc((size_t)n_batches * bs, 1);
    g->ns = calloc((size_t)n_batches, sizeof(int));
    g->pos = calloc((size_t)n_batches * 2, sizeof(long));
}

static void log_free(run_log *g)
{
    free(g->pixels);
    free(g->labels);
    free(g->whales);
    free(g->items);
    free(g->flipped);
    free(g->ns);
    free(g->pos);
}

static int log_equal(const run_log *a, long a_from, const run_log *b, long count)
{
    size_t bs = (size_t)a->bs;
    return memcmp(a->pixels + a_from * a->floats_per_batch, b->pixels,
                  count * a->floats_per_batch * sizeof(float)) == 0 &&
           memcmp(a->labels + a_from * bs, b->labels, count * bs * sizeof(int)) == 0 &&
           memcmp(a->items + a_from * bs, b->items, count * bs * sizeof(long)) == 0 &&
           memcmp(a->pos + a_from * 2, b->pos, count * 2 * sizeof(long)) == 0;
}

static void pk_sampler(toy *t, fw_sampler *s, uint64_t seed)
{
    fw_error err;
    fw_pk_opts o = {3, 2, 2, seed};
    int rc = fw_sampler_init_pk(s, t->labels, t->cache.ok, N_ITEMS, NULL, 0, N_WHALES, &o, &err);
    CHECK_MSG(rc == FW_OK, "%s", err.msg);
}

/* Run a loader over `n_batches` batches into a fresh log. */
static void run_loader(toy *t, const fw_loader_opts *opts, uint64_t sampler_seed, long n_batches,
                       run_log *g)
{
    fw_sampler s;
    pk_sampler(t, &s, sampler_seed);
    int ow = opts->aug.out_width ? opts->aug.out_width : W;
    int oh = opts->aug.out_height ? opts->aug.out_height : H;
    log_init(g, n_batches, s.batch_size, (size_t)C * ow * oh);
    fw_loader *l;
    fw_error err;
    int rc = fw_loader_open(&l, &t->cache, &s, opts, &err);
    CHECK_MSG(rc == FW_OK, "%s", err.msg);
    if (rc != FW_OK) {
        fw_sampler_free(&s);
        return;
    }
    for (long b = 0; b < n_batches; b++) {
        const fw_batch *batch;
        rc = fw_loader_next(l, &batch, &err);
        CHECK_MSG(rc == FW_OK && batch, "batch %ld: %s", b, err.msg);
        if (rc != FW_OK || !batch)
            break;
        CHECK_INT(batch->channels, C);
        CHECK_INT(batch->width, ow);
        CHECK_INT(batch->height, oh);
        g->ns[b] = batch->n;
        g->pos[2 * b] = batch->epoch;
        g->pos[2 * b + 1] = batch->index;
        if (opts->params_only) { /* the caller renders the drawn parameters */
            CHECK(batch->pixels == NULL);
            for (int i = 0; i < batch->n; i++)
                CHECK_INT(fw_augment_image(&batch->params[i],
                                           fw_cache_image(&t->cache, batch->items[i]), W, H, C,
                                           g->pixels + b * g->floats_per_batch +
                                               (size_t)i * C * ow * oh,
                                           ow, oh, &err),
                          FW_OK);
        } else {
            memcpy(g->pixels + b * g->floats_per_batch, batch->pixels,
                   (size_t)batch->n * C * ow * oh * sizeof(float));
        }
        memcpy(g->labels + b * g->bs, batch->labels, (size_t)batch->n * sizeof(int));
        memcpy(g->whales + b * g->bs, batch->whales, (size_t)batch->n * sizeof(int));
        memcpy(g->items + b * g->bs, batch->items, (size_t)batch->n * sizeof(long));
        memcpy(g->flipped + b * g->bs, batch->flipped, (size_t)batch->n);
    }
    fw_loader_close(l);
    fw_sampler_free(&s);
}

static void test_same_batches_any_thread_count(void)
{
    toy t;
    toy_init(&t);
    fw_loader_opts o;
    fw_loader_opts_default(&o);
    o.seed = 123;
    o.aug.p_blur = 0.3f; /* every loop variant appears */
    run_log one, two, again;
    o.threads = 1;
    run_loader(&t, &o, 9, 12, &one);
    o.threads = 2;
    o.prefetch = 1;
    run_loader(&t, &o, 9, 12, &two);
    o.prefetch = 5;
    run_loader(&t, &o, 9, 12, &again);
    CHECK(log_equal(&one, 0, &two, 12));
    CHECK(log_equal(&one, 0, &again, 12));
    /* batches follow the sampler: positions in order across epochs */
    fw_sampler s;
    pk_sampler(&t, &s, 9);
    for (long b = 0; b < 12; b++) {
        CHECK_INT(one.pos[2 * b], b / s.batches_per_epoch);
        CHECK_INT(one.pos[2 * b + 1], b % s.batches_per_epoch);
        CHECK_INT(one.ns[b], s.batch_size);
        for (int i = 0; i < s.batch_size; i++) {
            long item = one.items[b * one.bs + i];
            CHECK(t.cache.ok[item]);
            CHECK_INT(one.whales[b * one.bs + i], t.labels[item]);
        }
    }
    /* params_only: the parameters drawn render to the same pixels */
    run_log params;
    o.params_only = 1;
    run_loader(&t, &o, 9, 12, &params);
    CHECK(log_equal(&one, 0, &params, 12));
    o.params_only = 0;
    log_free(&params);
    /* another augmentation seed changes pixels, not items */
    run_log other;
    o.seed = 124;
    run_loader(&t, &o, 9, 12, &other);
    CHECK(memcmp(one.items, other.items, 12 * one.bs * sizeof(long)) == 0);
    CHECK(memcmp(one.pixels, other.pixels, one.floats_per_batch * sizeof(float)) != 0);
    fw_sampler_free(&s);
    log_free(&one);
    log_free(&two);
    log_free(&again);
    log_free(&other);
    toy_free(&t);
}

static void test_content_is_direct_augmentation(void)
{
    toy t;
    toy_init(&t);
    fw_loader_opts o;
    fw_loader_opts_default(&o);
    o.threads = 2;
    o.seed = 77;
    o.aug.out_width = 32, o.aug.out_height = 24;
    run_log g;
    run_loader(&t, &o, 4, 3, &g);
    size_t per = (size_t)C * 32 * 24;
    float *want = malloc(per * sizeof(float));
    fw_error err;
    int bad = 0;
    for (long b = 0; b < 3; b++)
        for (int i = 0; i < g.ns[b]; i++) {
            long item = g.items[b * g.bs + i];
            const uint8_t *src = fw_cache_image(&t.cache, item);
            fw_rng r;
            fw_augment_rng(&r, 77, g.pos[2 * b], g.pos[2 * b + 1] * g.bs + i);
            fw_aug_params p;
            int flipped;
            fw_aug_params_draw(&o.aug, &r, W, H, C, fw_image_mean_luma(src, W, H, C, 4), &p,
                               &flipped);
            CHECK_INT(fw_augment_image(&p, src, W, H, C, want, 32, 24, &err), FW_OK);
            bad += memcmp(want, g.pixels + b * g.floats_per_batch + i * per,
                          per * sizeof(float)) != 0;
            CHECK_INT(flipped, g.flipped[b * g.bs + i]);
        }
    CHECK_INT(bad, 0);
    free(want);
    log_free(&g);
    toy_free(&t);
}

static void test_flip_identity_labels(void)
{
    toy t;
    toy_init(&t);
    fw_loader_opts o;
    fw_loader_opts_default(&o);
    o.threads = 2;
    fw_augment_opts_none(&o.aug);
    o.aug.p_flip = 0.5f;
    o.aug.flip_identity = 1;
    run_log g;
    run_loader(&t, &o, 2, 20, &g);
    int flips = 0, total = 0, new_flipped = 0, mirrored_ok = 1;
    size_t per = (size_t)C * W * H;
    for (long b = 0; b < 20; b++)
        for (int i = 0; i < g.ns[b]; i++) {
            size_t k = (size_t)b * g.bs + i;
            int w = g.whales[k], lab = g.labels[k], f = g.flipped[k];
            total++;
            flips += f;
            if (w == FW_NEW_WHALE) {
                CHECK_INT(lab, FW_NEW_WHALE);
                new_flipped += f;
            } else {
                CHECK_INT(lab, f ? w + N_WHALES : w);
            }
            /* the flip is real: pixel (0, 0) of the output is the source's (W-1, 0) */
            const uint8_t *src = fw_cache_image(&t.cache, g.items[k]);
            float v = g.pixels[b * g.floats_per_batch + i * per];
            float want = (src[(f ? W - 1 : 0) * C] / 255.0f - 0.485f) / 0.229f;
            mirrored_ok &= fabsf(v - want) < 1e-5f;
        }
    CHECK(mirrored_ok);
    CHECK_NEAR(flips / (double)total, 0.5, 0.1);
    CHECK(new_flipped > 0); /* new_whale samples were flipped and kept new_whale */
    log_free(&g);

    o.aug.flip_identity = 0;
    run_loader(&t, &o, 2, 5, &g);
    for (long k = 0; k < 5 * g.bs; k++)
        CHECK_INT(g.labels[k], g.whales[k]);
    log_free(&g);
    toy_free(&t);
}

static void test_resume_and_end_epoch(void)
{
    toy t;
    toy_init(&t);
    fw_sampler s;
    pk_sampler(&t, &s, 6);
    long bpe = s.batches_per_epoch;
    fw_sampler_free(&s);
    fw_loader_opts o;
    fw_loader_opts_default(&o);
    o.threads = 2;
    run_log full, tail;
    run_loader(&t, &o, 6, 3 * bpe, &full);
    o.start_epoch = 1, o.start_batch = 2;
    run_loader(&t, &o, 6, 2 * bpe - 2, &tail);
    CHECK(log_equal(&full, bpe + 2, &tail, 2 * bpe - 2));
    log_free(&full);
    log_free(&tail);

    /* end_epoch: exactly the batches before it, then NULL (and NULL again) */
    pk_sampler(&t, &s, 6);
    o.start_epoch = 1, o.start_batch = 1, o.end_epoch = 3;
    fw_loader *l;
    fw_error err;
    CHECK_INT(fw_loader_open(&l, &t.cache, &s, &o, &err), FW_OK);
    long got = 0;
    const fw_batch *b;
    while (fw_loader_next(l, &b, &err) == FW_OK && b)
        got++;
    CHECK_INT(got, 2 * bpe - 1);
    CHECK_INT(fw_loader_next(l, &b, &err), FW_OK);
    CHECK(b == NULL);
    fw_loader_close(l);
    fw_sampler_free(&s);
    toy_free(&t);
}

static void test_close_at_any_time(void)
{
    toy t;
    toy_init(&t);
    fw_sampler s;
    pk_sampler(&t, &s, 1);
    fw_loader_opts o;
    fw_loader_opts_default(&o);
    o.threads = 2;
    o.aug.out_width = 256, o.aug.out_height = 128; /* slow enough to close mid-batch */
    fw_error err;
    for (int round = 0; round < 6; round++) {
        fw_loader *l;
        o.prefetch = 1 + round;
        CHECK_INT(fw_loader_open(&l, &t.cache, &s, &o, &err), FW_OK);
        for (int k = 0; k < round % 3; k++) {
            const fw_batch *b;
            CHECK_INT(fw_loader_next(l, &b, &err), FW_OK);
            CHECK(b != NULL);
        }
        fw_loader_close(l); /* workers busy or waiting: joins, frees */
    }
    fw_loader_close(NULL);
    fw_sampler_free(&s);
    toy_free(&t);
}

static void test_errors_are_values(void)
{
    toy t;
    toy_init(&t);
    fw_loader_opts o;
    fw_loader_opts_default(&o);
    o.threads = 2;
    fw_error err;
    fw_loader *l;
    /* a sampler that ignores the cache's ok flags hands out item 5 or 17 */
    fw_sampler s;
    fw_shuffle_opts so = {8, 0, 0, 1};
    CHECK_INT(fw_sampler_init_shuffle(&s, t.labels, NULL, N_ITEMS, NULL, 0, N_WHALES, &so, &err),
              FW_OK);
    CHECK_INT(fw_loader_open(&l, &t.cache, &s, &o, &err), FW_OK);
    const fw_batch *b;
    CHECK_INT(fw_loader_next(l, &b, &err), FW_EINVAL); /* batch 0 holds item 5 */
    CHECK(b == NULL);
    CHECK(strstr(err.msg, "item 5") != NULL);
    fw_error_clear(&err);
    CHECK_INT(fw_loader_next(l, &b, &err), FW_EINVAL); /* sticky */
    CHECK(strstr(err.msg, "item 5") != NULL);
    fw_loader_close(l);

    /* bad start position and bad options: refused at open */
    o.start_batch = s.batches_per_epoch;
    CHECK_INT(fw_loader_open(&l, &t.cache, &s, &o, &err), FW_EINVAL);
    CHECK(l == NULL);
    o.start_batch = 0;
    o.aug.p_erase = -1.0f;
    CHECK_INT(fw_loader_open(&l, &t.cache, &s, &o, &err), FW_EINVAL);
    fw_sampler_free(&s);
    fw_image_cache empty = {0};
    fw_loader_opts_default(&o);
    pk_sampler(&t, &s, 1);
    CHECK_INT(fw_loader_open(&l, &empty, &s, &o, &err), FW_EINVAL);
    fw_sampler_free(&s);
    toy_free(&t);
}

int main(void)
{
    RUN(test_same_batches_any_thread_count);
    RUN(test_content_is_direct_augmentation);
    RUN(test_flip_identity_labels);
    RUN(test_resume_and_end_epoch);
    RUN(test_close_at_any_time);
    RUN(test_errors_are_values);
    return tap_done();
}
