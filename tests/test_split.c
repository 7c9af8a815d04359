/* test_split.c — the identity split: determinism by seed, independence from
 * row order, and every promise of split.h recounted by brute force over many
 * random datasets (eligible whales keep a gallery image, single-image whales
 * give no query, query counts, new_whale share, a partition of the rows). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "split.h"
#include "tap.h"

/* An in-memory dataset: whale w has counts[w] images; n_new new_whale images;
 * rows in a random order, names unique. */
static void make_ds(fw_dataset *ds, int n_whales, const int *counts, long n_new, uint64_t seed)
{
    memset(ds, 0, sizeof *ds);
    long n = n_new;
    for (int w = 0; w < n_whales; w++)
        n += counts[w];
    ds->n_train = n;
    ds->train = calloc((size_t)(n ? n : 1), sizeof *ds->train);
    ds->n_whales = n_whales;
    ds->whales = calloc((size_t)(n_whales ? n_whales : 1), sizeof *ds->whales);
    for (int w = 0; w < n_whales; w++) {
        ds->whales[w] = malloc(16);
        snprintf(ds->whales[w], 16, "w_%06d", w);
    }
    long *perm = malloc((size_t)(n ? n : 1) * sizeof *perm);
    for (long i = 0; i < n; i++)
        perm[i] = i;
    fw_rng rng;
    fw_rng_init(&rng, seed, 99);
    for (long i = n - 1; i > 0; i--) {
        long j = (long)fw_rng_below(&rng, (uint32_t)(i + 1));
        long t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    long k = 0;
    for (int w = 0; w < n_whales; w++)
        for (int c = 0; c < counts[w]; c++, k++) {
            fw_sample *s = &ds->train[perm[k]];
            s->image = malloc(32);
            snprintf(s->image, 32, "%08lx.jpg", (unsigned long)(k * 2654435761u % 4294967291u));
            s->whale = w;
        }
    for (long c = 0; c < n_new; c++, k++) {
        fw_sample *s = &ds->train[perm[k]];
        s->image = malloc(32);
        snprintf(s->image, 32, "%08lx.jpg", (unsigned long)(k * 2654435761u % 4294967291u));
        s->whale = FW_NEW_WHALE;
    }
    free(perm);
}

static void free_ds(fw_dataset *ds)
{
    for (long i = 0; i < ds->n_train; i++)
        free(ds->train[i].image);
    for (int w = 0; w < ds->n_whales; w++)
        free(ds->whales[w]);
    free(ds->train);
    free(ds->whales);
}

/* Every promise of split.h, recounted from scratch. Returns 1 if all hold. */
static int brute_force_check(const fw_dataset *ds, const fw_split_opts *o, const fw_split *s)
{
    int ok = 1;
    long n = ds->n_train;
    int *seen = calloc((size_t)(n ? n : 1), sizeof *seen);
    for (long i = 0; i < s->n_train; i++) {
        ok &= s->train[i] >= 0 && s->train[i] < n && (i == 0 || s->train[i] > s->train[i - 1]);
        if (s->train[i] >= 0 && s->train[i] < n)
            seen[s->train[i]] |= 1;
    }
    for (long i = 0; i < s->n_query; i++) {
        ok &= s->query[i] >= 0 && s->query[i] < n && (i == 0 || s->query[i] > s->query[i - 1]);
        if (s->query[i] >= 0 && s->query[i] < n)
            seen[s->query[i]] |= 2;
    }
    ok &= s->n_train + s->n_query == n;
    for (long i = 0; i < n; i++)
        ok &= seen[i] == 1 || seen[i] == 2; /* in exactly one of them */
    if (!ok)
        printf("#   not a partition\n");
    /* per whale: images, queries */
    int eligible = 0, chosen = 0;
    long new_avail = 0, new_q = 0;
    for (int w = -1; w < ds->n_whales; w++) {
        long images = 0, queries = 0;
        for (long i = 0; i < n; i++)
            if (ds->train[i].whale == w) {
                images++;
                queries += seen[i] == 2;
            }
        if (w == -1) {
            new_avail = images, new_q = queries;
            continue;
        }
        if (images >= 2)
            eligible++;
        if (queries) {
            chosen++;
            if (images < 2 || queries != 1) {
                printf("#   whale %d: %ld images, %ld queries\n", w, images, queries);
                ok = 0;
            }
        }
    }
    long want_chosen = lround((double)o->query_whale_share * eligible);
    long want_new = lround(o->new_whale_share * (double)want_chosen / (1.0 - o->new_whale_share));
    if (want_new > new_avail)
        want_new = new_avail;
    if (chosen != want_chosen || new_q != want_new) {
        printf("#   chosen %d (want %ld), new_whale queries %ld (want %ld)\n", chosen, want_chosen,
               new_q, want_new);
        ok = 0;
    }
    free(seen);
    return ok;
}

static void random_counts(fw_rng *rng, int *counts, int n_whales)
{
    for (int w = 0; w < n_whales; w++) {
        uint32_t r = fw_rng_below(rng, 100);
        counts[w] = r < 40 ? 1 : r < 65 ? 2 : r < 80 ? 3 : r < 95 ? 4 + (int)fw_rng_below(rng, 7)
                                                                   : 11 + (int)fw_rng_below(rng, 30);
    }
}

static void test_invariants_random(void)
{
    fw_rng rng;
    fw_rng_init(&rng, 5, 0);
    int failures = 0;
    for (int trial = 0; trial < 200; trial++) {
        int n_whales = (int)fw_rng_below(&rng, 200);
        int *counts = malloc((size_t)(n_whales + 1) * sizeof *counts);
        random_counts(&rng, counts, n_whales);
        long n_new = (long)fw_rng_below(&rng, 150);
        fw_dataset ds;
        make_ds(&ds, n_whales, counts, n_new, (uint64_t)trial);
        fw_split_opts o = {(uint64_t)trial * 31 + 1, fw_rng_uniform(&rng),
                           0.9f * fw_rng_uniform(&rng)};
        if (trial % 10 == 0)
            o.query_whale_share = trial % 20 ? 1.0f : 0.0f;
        fw_split s;
        fw_error e;
        int rc = fw_split_make(&ds, &o, &s, &e);
        if (rc != 0 || !brute_force_check(&ds, &o, &s)) {
            failures++;
            printf("#   trial %d: rc %d, %d whales, %ld new, shares %g %g\n", trial, rc, n_whales,
                   n_new, (double)o.query_whale_share, (double)o.new_whale_share);
        }
        fw_split_free(&s);
        free_ds(&ds);
        free(counts);
    }
    CHECK_INT(failures, 0);
}

static int same_split(const fw_split *a, const fw_split *b)
{
    return a->n_query == b->n_query && a->n_train == b->n_train &&
           !memcmp(a->query, b->query, (size_t)a->n_query * sizeof *a->query) &&
           !memcmp(a->train, b->train, (size_t)a->n_train * sizeof *a->train);
}

static void test_deterministic_by_seed(void)
{
    fw_rng rng;
    fw_rng_init(&rng, 11, 0);
    int counts[300];
    random_counts(&rng, counts, 300);
    fw_dataset ds;
    make_ds(&ds, 300, counts, 400, 3);
    fw_split_opts o = FW_SPLIT_OPTS_DEFAULT;
    fw_split a, b, c;
    fw_error e;
    CHECK_INT(fw_split_make(&ds, &o, &a, &e), 0);
    CHECK_INT(fw_split_make(&ds, &o, &b, &e), 0);
    o.seed = 43;
    CHECK_INT(fw_split_make(&ds, &o, &c, &e), 0);
    CHECK(same_split(&a, &b));
    CHECK(!same_split(&a, &c));
    CHECK(a.n_query > 0);
    fw_split_free(&a);
    fw_split_free(&b);
    fw_split_free(&c);
    free_ds(&ds);
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Query image names, sorted. */
static char **query_names(const fw_dataset *ds, const fw_split *s)
{
    char **names = malloc((size_t)(s->n_query ? s->n_query : 1) * sizeof *names);
    for (long i = 0; i < s->n_query; i++)
        names[i] = ds->train[s->query[i]].image;
    qsort(names, (size_t)s->n_query, sizeof *names, cmp_str);
    return names;
}

static void test_independent_of_row_order(void)
{
    int counts[120];
    fw_rng rng;
    fw_rng_init(&rng, 12, 0);
    random_counts(&rng, counts, 120);
    fw_dataset a, b;
    make_ds(&a, 120, counts, 90, 1); /* same rows, two different orders */
    make_ds(&b, 120, counts, 90, 2);
    int differ = 0;
    for (long i = 0; i < a.n_train; i++)
        differ += strcmp(a.train[i].image, b.train[i].image) != 0;
    CHECK(differ > 0);
    fw_split_opts o = {7, 0.5f, 0.3f};
    fw_split sa, sb;
    fw_error e;
    CHECK_INT(fw_split_make(&a, &o, &sa, &e), 0);
    CHECK_INT(fw_split_make(&b, &o, &sb, &e), 0);
    CHECK_INT(sa.n_query, sb.n_query);
    if (sa.n_query == sb.n_query) {
        char **na = query_names(&a, &sa), **nb = query_names(&b, &sb);
        int same = 1;
        for (long i = 0; i < sa.n_query; i++)
            same &= !strcmp(na[i], nb[i]);
        CHECK(same);
        free(na);
        free(nb);
    }
    fw_split_free(&sa);
    fw_split_free(&sb);
    free_ds(&a);
    free_ds(&b);
}

static void test_single_image_whales_give_no_query(void)
{
    int counts[50];
    for (int w = 0; w < 50; w++)
        counts[w] = 1;
    fw_dataset ds;
    make_ds(&ds, 50, counts, 20, 4);
    fw_split_opts o = {1, 1.0f, 0.5f};
    fw_split s;
    fw_error e;
    CHECK_INT(fw_split_make(&ds, &o, &s, &e), 0);
    CHECK_INT(s.n_query, 0); /* no known query, so no new_whale queries either */
    CHECK_INT(s.n_train, 70);
    fw_split_free(&s);
    free_ds(&ds);
}

static void test_new_whale_share(void)
{
    int counts[2000];
    fw_rng rng;
    fw_rng_init(&rng, 13, 0);
    random_counts(&rng, counts, 2000);
    fw_dataset ds;
    make_ds(&ds, 2000, counts, 3000, 5);
    const float shares[] = {0.0f, 0.1f, 0.28f, 0.5f, 0.8f};
    for (int k = 0; k < 5; k++) {
        fw_split_opts o = {9, 0.2f, shares[k]};
        fw_split s;
        fw_error e;
        CHECK_INT(fw_split_make(&ds, &o, &s, &e), 0);
        long new_q = 0;
        for (long i = 0; i < s.n_query; i++)
            new_q += ds.train[s.query[i]].whale == FW_NEW_WHALE;
        CHECK(s.n_query > 200);
        CHECK_NEAR((double)new_q / (double)s.n_query, shares[k], 0.005);
        fw_split_free(&s);
    }
    /* too few new_whale images: all of them become queries, no more */
    free_ds(&ds);
    make_ds(&ds, 2000, counts, 10, 5);
    fw_split_opts o = {9, 0.2f, 0.28f};
    fw_split s;
    fw_error e;
    CHECK_INT(fw_split_make(&ds, &o, &s, &e), 0);
    long new_q = 0;
    for (long i = 0; i < s.n_query; i++)
        new_q += ds.train[s.query[i]].whale == FW_NEW_WHALE;
    CHECK_INT(new_q, 10);
    fw_split_free(&s);
    free_ds(&ds);
}

/* Over many seeds: each eligible whale is chosen ~share of the time, and the
 * image picked within a chosen whale is uniform. */
static void test_draws_are_uniform(void)
{
    int counts[40];
    for (int w = 0; w < 40; w++)
        counts[w] = 1 + w % 5; /* 8 single-image whales, 32 eligible */
    fw_dataset ds;
    make_ds(&ds, 40, counts, 0, 6);
    long *query_hits = calloc((size_t)ds.n_train, sizeof *query_hits);
    long chosen[40] = {0};
    const int seeds = 4000;
    for (int seed = 0; seed < seeds; seed++) {
        fw_split_opts o = {(uint64_t)seed, 0.25f, 0.0f};
        fw_split s;
        fw_error e;
        if (fw_split_make(&ds, &o, &s, &e) != 0)
            break;
        for (long i = 0; i < s.n_query; i++) {
            query_hits[s.query[i]]++;
            chosen[ds.train[s.query[i]].whale]++;
        }
        fw_split_free(&s);
    }
    for (int w = 0; w < 40; w++) {
        if (counts[w] == 1) {
            CHECK_INT(chosen[w], 0);
            continue;
        }
        CHECK_NEAR((double)chosen[w] / seeds, 0.25, 0.035);
        for (long i = 0; i < ds.n_train; i++)
            if (ds.train[i].whale == w)
                CHECK_NEAR((double)query_hits[i] / (double)chosen[w], 1.0 / counts[w], 0.09);
    }
    free(query_hits);
    free_ds(&ds);
}

static void test_bad_shares_refused(void)
{
    int counts[3] = {2, 2, 2};
    fw_dataset ds;
    make_ds(&ds, 3, counts, 2, 7);
    const float bad[][2] = {{-0.1f, 0.2f}, {1.1f, 0.2f}, {0.2f, 1.0f}, {0.2f, -0.01f}};
    for (int k = 0; k < 4; k++) {
        fw_split_opts o = {1, bad[k][0], bad[k][1]};
        fw_split s;
        fw_error e;
        fw_error_clear(&e);
        CHECK_INT(fw_split_make(&ds, &o, &s, &e), FW_EINVAL);
        CHECK(strstr(e.msg, "share") != NULL);
        CHECK(s.train == NULL && s.query == NULL);
    }
    free_ds(&ds);
}

int main(void)
{
    RUN(test_invariants_random);
    RUN(test_deterministic_by_seed);
    RUN(test_independent_of_row_order);
    RUN(test_single_image_whales_give_no_query);
    RUN(test_new_whale_share);
    RUN(test_draws_are_uniform);
    RUN(test_bad_shares_refused);
    return tap_done();
}
