/* test_sampler.c — the P x K and shuffled samplers: batch shape, coverage of
 * every whale per epoch, repetition of small whales, new_whale negatives,
 * unusable items never sampled, determinism and resuming from a position. */
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "sampler.h"
#include "tap.h"

/* A toy training set: whale w has 1 + (w % 7) images, interleaved with
 * new_whale items; returns the number of items. */
enum { N_WHALES = 45, MAX_ITEMS = 400 };

static long make_labels(int *labels)
{
    long n = 0;
    int left[N_WHALES];
    for (int w = 0; w < N_WHALES; w++)
        left[w] = 1 + w % 7;
    for (int round = 0; round < 7; round++) {
        for (int w = N_WHALES - 1; w >= 0; w--)
            if (left[w] > 0) {
                labels[n++] = w;
                left[w]--;
            }
        for (int k = 0; k < 5; k++)
            labels[n++] = FW_NEW_WHALE;
    }
    return n;
}

static int count_label(const int *labels, long n, int w)
{
    int c = 0;
    for (long i = 0; i < n; i++)
        c += labels[i] == w;
    return c;
}

typedef struct {
    long items[512];
    int labels[512];
} plan_buf;

static void test_pk_shape_and_labels(void)
{
    int labels[MAX_ITEMS];
    long n = make_labels(labels);
    fw_sampler s;
    fw_error err;
    fw_pk_opts o = {8, 4, 3, 7};
    CHECK_INT(fw_sampler_init_pk(&s, labels, NULL, n, NULL, 0, N_WHALES, &o, &err), FW_OK);
    CHECK_INT(s.batch_size, 8 * 4 + 3);
    CHECK_INT(s.batches_per_epoch, (N_WHALES + 7) / 8);
    plan_buf b;
    fw_batch_plan plan = {.items = b.items, .labels = b.labels};
    for (long e = 0; e < 2; e++)
        for (long bi = 0; bi < s.batches_per_epoch; bi++) {
            CHECK_INT(fw_sampler_batch(&s, e, bi, &plan, &err), FW_OK);
            CHECK_INT(plan.n, 35);
            CHECK_INT(plan.epoch, e);
            CHECK_INT(plan.batch, bi);
            for (int i = 0; i < plan.n; i++) {
                CHECK(plan.items[i] >= 0 && plan.items[i] < n);
                CHECK_INT(plan.labels[i], labels[plan.items[i]]);
            }
            for (int j = 0; j < 8; j++) {
                int w = plan.labels[j * 4];
                CHECK(w >= 0);
                for (int k = 1; k < 4; k++)
                    CHECK_INT(plan.labels[j * 4 + k], w);
                for (int j2 = 0; j2 < j; j2++)
                    CHECK(plan.labels[j2 * 4] != w); /* P distinct whales */
            }
            for (int i = 32; i < 35; i++)
                CHECK_INT(plan.labels[i], FW_NEW_WHALE);
        }
    fw_sampler_free(&s);
}

static void test_pk_every_whale_once_per_epoch(void)
{
    int labels[MAX_ITEMS];
    long n = make_labels(labels);
    fw_sampler s;
    fw_error err;
    fw_pk_opts o = {8, 2, 0, 11};
    CHECK_INT(fw_sampler_init_pk(&s, labels, NULL, n, NULL, 0, N_WHALES, &o, &err), FW_OK);
    plan_buf b;
    fw_batch_plan plan = {.items = b.items, .labels = b.labels};
    for (long e = 0; e < 3; e++) {
        int seen[N_WHALES] = {0}, seen_before_last[N_WHALES] = {0};
        long bpe = s.batches_per_epoch;
        for (long bi = 0; bi < bpe; bi++) {
            CHECK_INT(fw_sampler_batch(&s, e, bi, &plan, &err), FW_OK);
            for (int j = 0; j < 8; j++) {
                int w = plan.labels[j * 2];
                seen[w]++;
                if (bi < bpe - 1)
                    seen_before_last[w]++;
            }
        }
        int covered = 0, twice = 0;
        for (int w = 0; w < N_WHALES; w++) {
            covered += seen[w] >= 1;
            twice += seen[w] == 2;
            CHECK(seen[w] <= 2);
            CHECK(seen_before_last[w] <= 1); /* once per epoch, top-ups only at the end */
        }
        CHECK_INT(covered, N_WHALES);
        CHECK_INT(twice, bpe * 8 - N_WHALES); /* exactly the top-up slots */
    }
    /* epochs use different orders */
    long first[2][8];
    for (int e = 0; e < 2; e++) {
        CHECK_INT(fw_sampler_batch(&s, e, 0, &plan, &err), FW_OK);
        for (int j = 0; j < 8; j++)
            first[e][j] = plan.labels[j * 2];
    }
    CHECK(memcmp(first[0], first[1], sizeof first[0]) != 0);
    fw_sampler_free(&s);
}

static void test_pk_small_whales_repeat(void)
{
    /* whale 0: 1 image, whale 1: 3 images, whale 2: 6 images */
    int labels[10] = {0, 1, 1, 1, 2, 2, 2, 2, 2, 2};
    fw_sampler s;
    fw_error err;
    fw_pk_opts o = {3, 4, 0, 5};
    CHECK_INT(fw_sampler_init_pk(&s, labels, NULL, 10, NULL, 0, 3, &o, &err), FW_OK);
    plan_buf b;
    fw_batch_plan plan = {.items = b.items, .labels = b.labels};
    int orders_differ = 0;
    long prev_first_group[4] = {-1, -1, -1, -1};
    for (long e = 0; e < 20; e++) {
        CHECK_INT(fw_sampler_batch(&s, e, 0, &plan, &err), FW_OK);
        for (int j = 0; j < 3; j++) {
            const long *g = plan.items + j * 4;
            int w = plan.labels[j * 4];
            int uses[10] = {0};
            for (int k = 0; k < 4; k++)
                uses[g[k]]++;
            if (w == 0) {
                CHECK_INT(uses[0], 4);
            } else if (w == 1) {
                /* all three images, one of them twice */
                CHECK(uses[1] >= 1 && uses[2] >= 1 && uses[3] >= 1);
                CHECK_INT(uses[1] + uses[2] + uses[3], 4);
            } else {
                int distinct = 0;
                for (int i = 4; i < 10; i++) {
                    CHECK(uses[i] <= 1);
                    distinct += uses[i];
                }
                CHECK_INT(distinct, 4);
            }
            if (w == 1) {
                if (prev_first_group[0] >= 0 && memcmp(prev_first_group, g, sizeof prev_first_group))
                    orders_differ = 1;
                memcpy(prev_first_group, g, sizeof prev_first_group);
            }
        }
    }
    CHECK(orders_differ); /* repeats are shuffled, not a fixed pattern */
    fw_sampler_free(&s);
}

static void collect(fw_sampler *s, fw_sampler_pos pos, int n_batches, long *items, int *labels)
{
    fw_error err;
    plan_buf b;
    fw_batch_plan plan = {.items = b.items, .labels = b.labels};
    for (int i = 0; i < n_batches; i++) {
        CHECK_INT(fw_sampler_next(s, &pos, &plan, &err), FW_OK);
        memcpy(items + (size_t)i * s->batch_size, plan.items, (size_t)plan.n * sizeof *items);
        memcpy(labels + (size_t)i * s->batch_size, plan.labels, (size_t)plan.n * sizeof *labels);
    }
}

static void test_pk_deterministic_and_resume(void)
{
    int labels[MAX_ITEMS];
    long n = make_labels(labels);
    fw_pk_opts o = {6, 3, 2, 99};
    fw_sampler a, b, c;
    fw_error err;
    CHECK_INT(fw_sampler_init_pk(&a, labels, NULL, n, NULL, 0, N_WHALES, &o, &err), FW_OK);
    CHECK_INT(fw_sampler_init_pk(&b, labels, NULL, n, NULL, 0, N_WHALES, &o, &err), FW_OK);
    fw_pk_opts o2 = o;
    o2.seed = 100;
    CHECK_INT(fw_sampler_init_pk(&c, labels, NULL, n, NULL, 0, N_WHALES, &o2, &err), FW_OK);
    long bpe = a.batches_per_epoch;
    int total = (int)(3 * bpe), bs = a.batch_size;
    long *ia = malloc(sizeof(long) * total * bs), *ib = malloc(sizeof(long) * total * bs);
    int *la = malloc(sizeof(int) * total * bs), *lb = malloc(sizeof(int) * total * bs);
    collect(&a, (fw_sampler_pos){0, 0}, total, ia, la);
    collect(&b, (fw_sampler_pos){0, 0}, total, ib, lb);
    CHECK(memcmp(ia, ib, sizeof(long) * total * bs) == 0);
    CHECK(memcmp(la, lb, sizeof(int) * total * bs) == 0);
    /* another seed gives other batches */
    collect(&c, (fw_sampler_pos){0, 0}, total, ib, lb);
    CHECK(memcmp(ia, ib, sizeof(long) * total * bs) != 0);
    /* resume at (1, 3) in a fresh sampler after touching another epoch */
    fw_sampler r;
    CHECK_INT(fw_sampler_init_pk(&r, labels, NULL, n, NULL, 0, N_WHALES, &o, &err), FW_OK);
    plan_buf pb;
    fw_batch_plan plan = {.items = pb.items, .labels = pb.labels};
    CHECK_INT(fw_sampler_batch(&r, 2, 1, &plan, &err), FW_OK);
    long skip = bpe + 3;
    collect(&r, (fw_sampler_pos){1, 3}, (int)(total - skip), ib, lb);
    CHECK(memcmp(ia + skip * bs, ib, sizeof(long) * (total - skip) * bs) == 0);
    CHECK(memcmp(la + skip * bs, lb, sizeof(int) * (total - skip) * bs) == 0);
    /* the position advances across epochs */
    fw_sampler_pos pos = {0, bpe - 1};
    CHECK_INT(fw_sampler_next(&r, &pos, &plan, &err), FW_OK);
    CHECK_INT(pos.epoch, 1);
    CHECK_INT(pos.batch, 0);
    free(ia);
    free(ib);
    free(la);
    free(lb);
    fw_sampler_free(&a);
    fw_sampler_free(&b);
    fw_sampler_free(&c);
    fw_sampler_free(&r);
}

static void test_pk_new_whale_negatives(void)
{
    int labels[MAX_ITEMS];
    long n = make_labels(labels);
    int n_new = count_label(labels, n, FW_NEW_WHALE);
    fw_sampler s;
    fw_error err;
    fw_pk_opts o = {4, 2, 5, 3};
    CHECK_INT(fw_sampler_init_pk(&s, labels, NULL, n, NULL, 0, N_WHALES, &o, &err), FW_OK);
    CHECK_INT(s.n_new, n_new);
    plan_buf b;
    fw_batch_plan plan = {.items = b.items, .labels = b.labels};
    int *used = calloc((size_t)n, sizeof *used);
    long bpe = s.batches_per_epoch;
    CHECK(bpe * 5 >= n_new);
    for (long bi = 0; bi < bpe; bi++) {
        CHECK_INT(fw_sampler_batch(&s, 0, bi, &plan, &err), FW_OK);
        for (int i = 8; i < 13; i++) {
            CHECK_INT(plan.labels[i], FW_NEW_WHALE);
            CHECK_INT(labels[plan.items[i]], FW_NEW_WHALE);
            used[plan.items[i]]++;
        }
    }
    int distinct = 0;
    for (long i = 0; i < n; i++)
        distinct += used[i] > 0;
    CHECK_INT(distinct, n_new); /* every new_whale image used in the epoch */
    free(used);
    fw_sampler_free(&s);

    /* none when not asked for */
    o.m_new = 0;
    CHECK_INT(fw_sampler_init_pk(&s, labels, NULL, n, NULL, 0, N_WHALES, &o, &err), FW_OK);
    CHECK_INT(fw_sampler_batch(&s, 0, 0, &plan, &err), FW_OK);
    CHECK_INT(plan.n, 8);
    for (int i = 0; i < plan.n; i++)
        CHECK(plan.labels[i] >= 0);
    fw_sampler_free(&s);

    /* asked for, but there are none: an error that says so */
    int only_whales[6] = {0, 0, 1, 1, 2, 2};
    fw_pk_opts o3 = {2, 2, 1, 3};
    CHECK_INT(fw_sampler_init_pk(&s, only_whales, NULL, 6, NULL, 0, 3, &o3, &err), FW_EINVAL);
    CHECK(strstr(err.msg, "new_whale") != NULL);
}

static void test_pk_unusable_items_never_sampled(void)
{
    int labels[MAX_ITEMS];
    long n = make_labels(labels);
    uint8_t ok[MAX_ITEMS];
    for (long i = 0; i < n; i++)
        ok[i] = (i % 5) != 2 && labels[i] != 7; /* whale 7 loses every image */
    /* the subset drops items 0..19 too */
    long subset[MAX_ITEMS];
    long ns = 0;
    for (long i = 20; i < n; i++)
        subset[ns++] = i;
    fw_sampler s;
    fw_error err;
    fw_pk_opts o = {5, 3, 2, 8};
    CHECK_INT(fw_sampler_init_pk(&s, labels, ok, n, subset, ns, N_WHALES, &o, &err), FW_OK);
    int active_expected = 0;
    for (int w = 0; w < N_WHALES; w++) {
        int usable = 0;
        for (long i = 20; i < n; i++)
            usable += labels[i] == w && ok[i];
        active_expected += usable > 0;
    }
    CHECK_INT(s.n_active, active_expected);
    plan_buf b;
    fw_batch_plan plan = {.items = b.items, .labels = b.labels};
    int bad = 0, whale7 = 0;
    for (long e = 0; e < 3; e++)
        for (long bi = 0; bi < s.batches_per_epoch; bi++) {
            CHECK_INT(fw_sampler_batch(&s, e, bi, &plan, &err), FW_OK);
            for (int i = 0; i < plan.n; i++) {
                bad += !ok[plan.items[i]] || plan.items[i] < 20;
                whale7 += plan.labels[i] == 7;
            }
        }
    CHECK_INT(bad, 0);
    CHECK_INT(whale7, 0);
    fw_sampler_free(&s);
}

static void test_pk_errors(void)
{
    int labels[6] = {0, 0, 1, 1, FW_NEW_WHALE, 2};
    fw_sampler s;
    fw_error err;
    fw_pk_opts too_many = {4, 2, 0, 1};
    CHECK_INT(fw_sampler_init_pk(&s, labels, NULL, 6, NULL, 0, 3, &too_many, &err), FW_EINVAL);
    CHECK(strstr(err.msg, "only 3 whales") != NULL);
    int bad_labels[3] = {0, 5, 1};
    fw_pk_opts o = {2, 2, 0, 1};
    CHECK_INT(fw_sampler_init_pk(&s, bad_labels, NULL, 3, NULL, 0, 3, &o, &err), FW_EINVAL);
    CHECK(strstr(err.msg, "item 1") != NULL);
    long bad_subset[1] = {6};
    CHECK_INT(fw_sampler_init_pk(&s, labels, NULL, 6, bad_subset, 1, 3, &o, &err), FW_EINVAL);
    fw_pk_opts zero = {0, 2, 0, 1};
    CHECK_INT(fw_sampler_init_pk(&s, labels, NULL, 6, NULL, 0, 3, &zero, &err), FW_EINVAL);
    CHECK_INT(fw_sampler_init_pk(&s, labels, NULL, 6, NULL, 0, 3, &o, &err), FW_OK);
    plan_buf b;
    fw_batch_plan plan = {.items = b.items, .labels = b.labels};
    CHECK_INT(fw_sampler_batch(&s, 0, s.batches_per_epoch, &plan, &err), FW_EINVAL);
    CHECK_INT(fw_sampler_batch(&s, -1, 0, &plan, &err), FW_EINVAL);
    fw_sampler_free(&s);
}

static void test_shuffle_sampler(void)
{
    int labels[MAX_ITEMS];
    long n = make_labels(labels);
    uint8_t ok[MAX_ITEMS];
    long usable = 0;
    for (long i = 0; i < n; i++) {
        ok[i] = i % 9 != 4;
        usable += ok[i];
    }
    fw_sampler s;
    fw_error err;
    fw_shuffle_opts o = {16, 1, 0, 4};
    CHECK_INT(fw_sampler_init_shuffle(&s, labels, ok, n, NULL, 0, N_WHALES, &o, &err), FW_OK);
    CHECK_INT(s.batches_per_epoch, (usable + 15) / 16);
    plan_buf b;
    fw_batch_plan plan = {.items = b.items, .labels = b.labels};
    long first_epoch[MAX_ITEMS];
    for (long e = 0; e < 2; e++) {
        int *seen = calloc((size_t)n, sizeof *seen);
        long k = 0, ascending = 1, prev = -1;
        for (long bi = 0; bi < s.batches_per_epoch; bi++) {
            CHECK_INT(fw_sampler_batch(&s, e, bi, &plan, &err), FW_OK);
            CHECK_INT(plan.n, bi < s.batches_per_epoch - 1 ? 16 : usable - 16 * bi);
            for (int i = 0; i < plan.n; i++) {
                long it = plan.items[i];
                seen[it]++;
                CHECK(ok[it]);
                CHECK_INT(plan.labels[i], labels[it]);
                ascending &= it > prev;
                prev = it;
                if (e == 0)
                    first_epoch[k] = it;
                k++;
            }
        }
        CHECK_INT(k, usable);
        for (long i = 0; i < n; i++)
            CHECK_INT(seen[i], ok[i] ? 1 : 0);
        CHECK(!ascending); /* shuffled */
        free(seen);
    }
    /* epoch 1 differs from epoch 0; same seed reproduces */
    CHECK_INT(fw_sampler_batch(&s, 1, 0, &plan, &err), FW_OK);
    CHECK(memcmp(plan.items, first_epoch, 16 * sizeof(long)) != 0);
    fw_sampler t;
    CHECK_INT(fw_sampler_init_shuffle(&t, labels, ok, n, NULL, 0, N_WHALES, &o, &err), FW_OK);
    CHECK_INT(fw_sampler_batch(&t, 0, 0, &plan, &err), FW_OK);
    CHECK(memcmp(plan.items, first_epoch, 16 * sizeof(long)) == 0);
    fw_sampler_free(&t);
    fw_sampler_free(&s);

    /* evaluation order and drop_last */
    fw_shuffle_opts seq = {16, 0, 1, 4};
    CHECK_INT(fw_sampler_init_shuffle(&s, labels, ok, n, NULL, 0, N_WHALES, &seq, &err), FW_OK);
    CHECK_INT(s.batches_per_epoch, usable / 16);
    long prev = -1;
    int ascending = 1;
    for (long bi = 0; bi < s.batches_per_epoch; bi++) {
        CHECK_INT(fw_sampler_batch(&s, 3, bi, &plan, &err), FW_OK);
        CHECK_INT(plan.n, 16);
        for (int i = 0; i < plan.n; i++) {
            ascending &= plan.items[i] > prev;
            prev = plan.items[i];
        }
    }
    CHECK(ascending);
    fw_sampler_free(&s);
    uint8_t none[MAX_ITEMS] = {0};
    CHECK_INT(fw_sampler_init_shuffle(&s, labels, none, n, NULL, 0, N_WHALES, &o, &err),
              FW_EINVAL);
}

int main(void)
{
    RUN(test_pk_shape_and_labels);
    RUN(test_pk_every_whale_once_per_epoch);
    RUN(test_pk_small_whales_repeat);
    RUN(test_pk_deterministic_and_resume);
    RUN(test_pk_new_whale_negatives);
    RUN(test_pk_unusable_items_never_sampled);
    RUN(test_pk_errors);
    RUN(test_shuffle_sampler);
    return tap_done();
}
