/* cmd_data_check.c — `flukewatch data check DIR`: the whole data pipeline run
 * headless on a dataset, as a training run would use it — load and validate
 * the CSVs, split by identity, decode every train image into the cache (or
 * load it from the on-disk cache), then draw and augment whole epochs of P×K
 * batches through the loader — and report counts, failures and rates. */
#include <config.h>

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "dataset.h"
#include "image_cache.h"
#include "loader.h"
#include "parallel.h"
#include "progress.h"
#include "run_data.h"
#include "sanitize.h"
#include "sampler.h"
#include "split.h"

typedef struct check_opts {
    const char *dir;
    int width, height, channels, threads;
    int p, k, m_new;
    long epochs;
    unsigned long long seed;
    const char *cache_dir; /* NULL: no on-disk cache */
    char default_cache_dir[1024];
} check_opts;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void default_cache_dir(check_opts *o)
{
    fw_default_cache_dir(o->default_cache_dir, sizeof o->default_cache_dir);
    o->cache_dir = o->default_cache_dir[0] ? o->default_cache_dir : NULL;
}

static int parse_args(int argc, char **argv, check_opts *o)
{
    const fw_command *cmd = &fw_cmd_data_check;
    *o = (check_opts){.width = 512, .height = 256, .channels = 3, .threads = 0,
                      .p = 8, .k = 4, .m_new = 4, .epochs = 1, .seed = 42};
    default_cache_dir(o);
    static const struct option longopts[] = {
        {"size", required_argument, NULL, 's'},   {"channels", required_argument, NULL, 'c'},
        {"threads", required_argument, NULL, 't'}, {"p", required_argument, NULL, 'P'},
        {"k", required_argument, NULL, 'K'},      {"m", required_argument, NULL, 'M'},
        {"epochs", required_argument, NULL, 'e'}, {"seed", required_argument, NULL, 'S'},
        {"cache-dir", required_argument, NULL, 'C'},
        {"no-disk-cache", no_argument, NULL, 'N'}, {NULL, 0, NULL, 0},
    };
    int c;
    long v;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (fw_parse_size(optarg, &o->width, &o->height))
                return fw_cli_usage_error(cmd, "--size wants WxH (8..16384 each), got '%s'", optarg);
            break;
        case 'c':
            if (fw_parse_long(optarg, 1, 3, &v) || v == 2)
                return fw_cli_usage_error(cmd, "--channels wants 1 or 3, got '%s'", optarg);
            o->channels = (int)v;
            break;
        case 't':
            if (fw_parse_long(optarg, 1, 256, &v))
                return fw_cli_usage_error(cmd, "--threads wants 1..256, got '%s'", optarg);
            o->threads = (int)v;
            break;
        case 'P':
        case 'K':
        case 'M':
            if (fw_parse_long(optarg, c == 'M' ? 0 : 1, 1024, &v))
                return fw_cli_usage_error(cmd, "--%c wants %s..1024, got '%s'", c + 32,
                                          c == 'M' ? "0" : "1", optarg);
            *(c == 'P' ? &o->p : c == 'K' ? &o->k : &o->m_new) = (int)v;
            break;
        case 'e':
            if (fw_parse_long(optarg, 1, 1000, &v))
                return fw_cli_usage_error(cmd, "--epochs wants 1..1000, got '%s'", optarg);
            o->epochs = v;
            break;
        case 'S':
            if (fw_parse_u64(optarg, &o->seed))
                return fw_cli_usage_error(cmd, "--seed wants an unsigned integer, got '%s'", optarg);
            break;
        case 'C':
            o->cache_dir = optarg;
            break;
        case 'N':
            o->cache_dir = NULL;
            break;
        default:
            return fw_cli_usage_error(cmd, "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return fw_cli_usage_error(cmd, optind >= argc ? "missing DIR" : "expected one DIR");
    o->dir = argv[optind];
    return FW_EXIT_OK;
}

/* The cache is built for every train.csv image (queries included). */
static int build_cache(const check_opts *o, const fw_dataset *ds, fw_image_cache *cache,
                       fw_error *err)
{
    fflush(stdout);
    fw_progress *bar = fw_progress_start("decode", ds->n_train, "img", stderr);
    fw_cache_opts copts = {.width = o->width, .height = o->height, .channels = o->channels,
                           .threads = o->threads, .disk_dir = o->cache_dir,
                           .progress = fw_progress_callback, .progress_ctx = bar};
    int rc = fw_cache_train_images(ds, &copts, cache, err);
    fw_progress_finish(bar);
    return rc;
}

static void report_failures(const fw_image_cache *cache)
{
    char clean[600];
    for (long i = 0; i < cache->n_failed && i < 20; i++)
        printf("  unreadable: %s\n",
               fw_sanitize(cache->failures[i].reason, clean, sizeof clean));
    if (cache->n_failed > 20)
        printf("  ... and %ld more unreadable files\n", cache->n_failed - 20);
}

/* Run the loader over whole epochs; check every value is finite. */
static int run_epochs(const check_opts *o, const fw_image_cache *cache, fw_sampler *sampler,
                      fw_error *err)
{
    fw_loader_opts lopts;
    fw_loader_opts_default(&lopts);
    lopts.threads = o->threads;
    lopts.seed = o->seed;
    lopts.end_epoch = o->epochs;
    fw_loader *loader = NULL;
    FW_TRY(fw_loader_open(&loader, cache, sampler, &lopts, err));

    long total_batches = sampler->batches_per_epoch * o->epochs;
    fflush(stdout); /* keep printed lines before the progress on a shared console */
    fw_progress *bar = fw_progress_start("augment", total_batches, "batch", stderr);
    long batches = 0, images = 0, nonfinite = 0, flipped = 0;
    double sum = 0, sum2 = 0, values = 0;
    double t0 = now_s();
    int rc;
    const fw_batch *b;
    while ((rc = fw_loader_next(loader, &b, err)) == FW_OK && b) {
        size_t n = (size_t)b->n * b->channels * b->height * b->width;
        for (size_t i = 0; i < n; i++) {
            float v = b->pixels[i];
            if (!isfinite(v)) {
                nonfinite++;
                continue;
            }
            sum += v;
            sum2 += (double)v * v;
        }
        values += (double)n;
        for (int i = 0; i < b->n; i++)
            flipped += b->flipped[i];
        images += b->n;
        fw_progress_set(bar, ++batches);
    }
    double dt = now_s() - t0;
    fw_progress_finish(bar);
    fw_loader_close(loader);
    if (rc < 0)
        return rc;
    double mean = values > 0 ? sum / values : 0;
    double sd = values > 0 ? sqrt(fmax(sum2 / values - mean * mean, 0)) : 0;
    printf("loader     %ld epoch(s), %ld batches of %d (P %d x K %d + %d new_whale), %ld images\n",
           o->epochs, batches, sampler->batch_size, o->p, o->k, o->m_new, images);
    printf("           %.1f images/s on %d thread(s), %.1f%% flipped\n",
           dt > 0 ? images / dt : 0, fw_resolve_threads(o->threads),
           images ? 100.0 * flipped / images : 0);
    printf("           input values: mean %.3f, std %.3f, non-finite %ld\n", mean, sd, nonfinite);
    if (nonfinite)
        return fw_fail(err, FW_ECORRUPT, "%ld non-finite values in augmented batches", nonfinite);
    if (batches != total_batches)
        return fw_fail(err, FW_EIO, "loader stopped after %ld of %ld batches", batches,
                       total_batches);
    return FW_OK;
}

static int check(const check_opts *o, fw_error *err)
{
    fw_dataset ds = {0};
    fw_split split = {0};
    fw_image_cache cache = {0};
    fw_sampler sampler = {0};
    int *labels = NULL;
    char clean[1024];
    int rc = fw_dataset_load(&ds, o->dir, &(fw_dataset_opts){0}, err);
    if (rc < 0)
        goto done;
    long n_new = 0;
    for (long i = 0; i < ds.n_train; i++)
        n_new += ds.train[i].whale == FW_NEW_WHALE;
    printf("dataset    %s: %ld train images, %d whales, %ld new_whale (%.1f%%), %ld test images\n",
           fw_sanitize(o->dir, clean, sizeof clean), ds.n_train, ds.n_whales, n_new,
           ds.n_train ? 100.0 * n_new / ds.n_train : 0, ds.n_test);

    fw_split_opts sopts = FW_SPLIT_OPTS_DEFAULT;
    sopts.seed = o->seed;
    if ((rc = fw_split_make(&ds, &sopts, &split, err)) < 0)
        goto done;
    long q_new = 0;
    for (long i = 0; i < split.n_query; i++)
        q_new += ds.train[split.query[i]].whale == FW_NEW_WHALE;
    printf("split      %ld training/gallery images, %ld validation queries (%.1f%% new_whale)\n",
           split.n_train, split.n_query, split.n_query ? 100.0 * q_new / split.n_query : 0);

    double t0 = now_s();
    if ((rc = build_cache(o, &ds, &cache, err)) < 0)
        goto done;
    double dt = now_s() - t0;
    printf("cache      %ld images at %dx%dx%d (%.1f MiB), %s in %.2f s (%.1f images/s)\n",
           cache.n, o->width, o->height, o->channels,
           (double)cache.n * o->width * o->height * o->channels / 1048576.0,
           cache.from_disk ? "loaded from the disk cache" : "decoded", dt,
           dt > 0 ? cache.n / dt : 0);
    if (cache.disk_note.code != 0)
        printf("           disk cache: %s\n", fw_sanitize(cache.disk_note.msg, clean, sizeof clean));
    printf("           %ld unreadable\n", cache.n_failed);
    report_failures(&cache);

    labels = malloc((size_t)(ds.n_train ? ds.n_train : 1) * sizeof *labels);
    if (!labels) {
        rc = fw_fail(err, FW_ENOMEM, "out of memory");
        goto done;
    }
    for (long i = 0; i < ds.n_train; i++)
        labels[i] = ds.train[i].whale;
    fw_pk_opts pk = {.p = o->p, .k = o->k, .m_new = o->m_new, .seed = o->seed};
    if (n_new == 0)
        pk.m_new = 0;
    rc = fw_sampler_init_pk(&sampler, labels, cache.ok, ds.n_train, split.train, split.n_train,
                            ds.n_whales, &pk, err);
    if (rc < 0) {
        fw_error_prefix(err, "sampler: ");
        goto done;
    }
    if ((rc = run_epochs(o, &cache, &sampler, err)) < 0)
        goto done;
    printf("ready      the dataset is ready for training\n");
done:
    fw_sampler_free(&sampler);
    free(labels);
    fw_cache_free(&cache);
    fw_split_free(&split);
    fw_dataset_free(&ds);
    return rc;
}

static int run(int argc, char **argv)
{
    check_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc != FW_EXIT_OK)
        return rc;
    fw_error err;
    fw_error_clear(&err);
    if (check(&o, &err) < 0)
        return fw_cli_report(&fw_cmd_data_check, &err);
    return FW_EXIT_OK;
}

const fw_command fw_cmd_data_check = {
    "data check",
    "DIR [--size WxH] [--channels 1|3] [--threads N] [--p P] [--k K] [--m M]\n"
    "       [--epochs E] [--seed S] [--cache-dir DIR | --no-disk-cache]",
    "Run the whole data pipeline on a dataset, headless, and report rates.",
    "Loads and validates DIR's CSV files, makes the seeded validation split by\n"
    "identity, decodes every train image into the image cache at the working\n"
    "size (or loads it from the on-disk cache), then draws and augments whole\n"
    "epochs of P x K batches through the loader, as training will, checking that\n"
    "every value is finite. Unreadable images are listed with their reason and\n"
    "skipped.\n\n"
    "Options:\n"
    "  --size WxH        working size (default 512x256)\n"
    "  --channels 1|3    grayscale or colour input (default 3)\n"
    "  --threads N       decode and augment threads (default: all CPUs)\n"
    "  --p P             whales per batch (default 8)\n"
    "  --k K             images per whale (default 4)\n"
    "  --m M             new_whale negatives per batch (default 4)\n"
    "  --epochs E        epochs to draw (default 1)\n"
    "  --seed S          split, sampler and augmentation seed (default 42)\n"
    "  --cache-dir DIR   on-disk decode cache (default $XDG_CACHE_HOME/flukewatch\n"
    "                    or ~/.cache/flukewatch)\n"
    "  --no-disk-cache   always decode\n\n"
    "Exit status: 0 when the data is ready for training (unreadable images are\n"
    "reported and skipped), 1 on a malformed dataset or when too few usable\n"
    "images remain for a P x K batch, 2 for bad usage.\n",
    run,
};
