/* test_loader_shard.c — the loader's data-parallel shards: for 2 and 3
 * ranks, the shards of every batch (augmentation on) concatenated in rank
 * order equal the unsharded loader's batch sample for sample (pixels,
 * labels, whales, items, flips), with offsets and sizes as documented; a
 * shard rank out of range is refused. */
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "loader.h"
#include "tap.h"

enum { N_ITEMS = 40, N_WHALES = 8, W = 36, H = 18, C = 1, BATCHES = 7 };

static fw_image_cache g_cache;
static int g_labels[N_ITEMS];

static void toy_init(void)
{
    fw_image_cache *c = &g_cache;
    memset(c, 0, sizeof *c);
    c->width = W, c->height = H, c->channels = C, c->n = N_ITEMS;
    c->pixels = malloc((size_t)N_ITEMS * W * H * C);
    c->ok = malloc(N_ITEMS);
    fw_rng r;
    fw_rng_init(&r, 4, 0);
    for (long i = 0; i < N_ITEMS; i++) {
        uint8_t *img = fw_cache_image(c, i);
        for (int k = 0; k < W * H * C; k++)
            img[k] = (uint8_t)((k * 5 + i * 29) % 200 + fw_rng_below(&r, 50));
        c->ok[i] = 1;
        g_labels[i] = i % 7 == 0 ? FW_NEW_WHALE : (int)(i % N_WHALES);
    }
}

typedef struct batch_copy {
    int n, offset;
    long epoch, index;
    float *pixels;
    int *labels, *whales;
    long *items;
    uint8_t *flipped;
} batch_copy;

/* BATCHES batches of one loader (shard rank of count) copied out. */
static int load(int rank, int count, batch_copy out[BATCHES])
{
    fw_sampler s;
    fw_error err;
    fw_pk_opts po = {3, 2, 2, 11};
    int rc = fw_sampler_init_pk(&s, g_labels, g_cache.ok, N_ITEMS, NULL, 0, N_WHALES, &po, &err);
    CHECK_MSG(rc == FW_OK, "%s", err.msg);
    if (rc)
        return rc;
    fw_loader_opts o;
    fw_loader_opts_default(&o);
    o.threads = 2;
    o.seed = 5;
    o.aug.out_width = 32;
    o.aug.out_height = 16;
    o.shard_rank = rank;
    o.shard_count = count;
    fw_loader *l = NULL;
    rc = fw_loader_open(&l, &g_cache, &s, &o, &err);
    CHECK_MSG(rc == FW_OK, "%s", err.msg);
    for (int b = 0; rc == FW_OK && b < BATCHES; b++) {
        const fw_batch *bt = NULL;
        rc = fw_loader_next(l, &bt, &err);
        CHECK_MSG(rc == FW_OK && bt, "batch %d: %s", b, err.msg);
        if (rc || !bt)
            break;
        batch_copy *c = &out[b];
        size_t per = (size_t)bt->channels * bt->height * bt->width;
        c->n = bt->n, c->offset = bt->offset, c->epoch = bt->epoch, c->index = bt->index;
        c->pixels = malloc((size_t)bt->n * per * sizeof(float) + 1);
        c->labels = malloc((size_t)bt->n * sizeof(int) + 1);
        c->whales = malloc((size_t)bt->n * sizeof(int) + 1);
        c->items = malloc((size_t)bt->n * sizeof(long) + 1);
        c->flipped = malloc((size_t)bt->n + 1);
        memcpy(c->pixels, bt->pixels, (size_t)bt->n * per * sizeof(float));
        memcpy(c->labels, bt->labels, (size_t)bt->n * sizeof(int));
        memcpy(c->whales, bt->whales, (size_t)bt->n * sizeof(int));
        memcpy(c->items, bt->items, (size_t)bt->n * sizeof(long));
        memcpy(c->flipped, bt->flipped, (size_t)bt->n);
    }
    fw_loader_close(l);
    fw_sampler_free(&s);
    return rc;
}

static void copies_free(batch_copy *c, int n)
{
    for (int i = 0; i < n; i++) {
        free(c[i].pixels);
        free(c[i].labels);
        free(c[i].whales);
        free(c[i].items);
        free(c[i].flipped);
    }
}

static void check_shards(int count)
{
    toy_init();
    batch_copy whole[BATCHES], part[3][BATCHES];
    memset(whole, 0, sizeof whole);
    memset(part, 0, sizeof part);
    int ok = load(0, 1, whole) == FW_OK;
    for (int r = 0; r < count; r++)
        ok = load(r, count, part[r]) == FW_OK && ok;
    size_t per = (size_t)C * 16 * 32;
    for (int b = 0; ok && b < BATCHES; b++) {
        int n = whole[b].n, at = 0;
        CHECK_INT(whole[b].offset, 0);
        for (int r = 0; r < count; r++) {
            const batch_copy *p = &part[r][b];
            CHECK_INT(p->offset, n * r / count);
            CHECK_INT(p->n, n * (r + 1) / count - n * r / count);
            CHECK_INT(p->offset, at);
            CHECK(p->epoch == whole[b].epoch && p->index == whole[b].index);
            if (p->offset != at || at + p->n > n)
                break;
            CHECK(memcmp(p->pixels, whole[b].pixels + at * per, (size_t)p->n * per * sizeof(float)) == 0);
            CHECK(memcmp(p->labels, whole[b].labels + at, (size_t)p->n * sizeof(int)) == 0);
            CHECK(memcmp(p->whales, whole[b].whales + at, (size_t)p->n * sizeof(int)) == 0);
            CHECK(memcmp(p->items, whole[b].items + at, (size_t)p->n * sizeof(long)) == 0);
            CHECK(memcmp(p->flipped, whole[b].flipped + at, (size_t)p->n) == 0);
            at += p->n;
        }
        CHECK_INT(at, n);
    }
    copies_free(whole, BATCHES);
    for (int r = 0; r < count; r++)
        copies_free(part[r], BATCHES);
    free(g_cache.pixels);
    free(g_cache.ok);
}

static void test_two_shards_equal_the_whole_batch(void) { check_shards(2); }
static void test_three_shards_equal_the_whole_batch(void) { check_shards(3); }

static void test_bad_shard_refused(void)
{
    toy_init();
    fw_sampler s;
    fw_error err;
    fw_pk_opts po = {3, 2, 2, 11};
    CHECK(fw_sampler_init_pk(&s, g_labels, g_cache.ok, N_ITEMS, NULL, 0, N_WHALES, &po, &err) ==
          FW_OK);
    fw_loader_opts o;
    fw_loader_opts_default(&o);
    o.threads = 1;
    o.shard_rank = 2;
    o.shard_count = 2;
    fw_loader *l = NULL;
    CHECK_INT(fw_loader_open(&l, &g_cache, &s, &o, &err), FW_EINVAL);
    CHECK(strstr(err.msg, "shard 2 of 2") != NULL);
    fw_sampler_free(&s);
    free(g_cache.pixels);
    free(g_cache.ok);
}

int main(void)
{
    RUN(test_two_shards_equal_the_whole_batch);
    RUN(test_three_shards_equal_the_whole_batch);
    RUN(test_bad_shard_refused);
    return tap_done();
}
