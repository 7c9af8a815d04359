/* run_data.c — dataset + split + image cache of a run (see run_data.h). */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_data.h"

void fw_default_cache_dir(char *buf, size_t cap)
{
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    if (xdg && *xdg)
        snprintf(buf, cap, "%s/flukewatch", xdg);
    else if (home && *home)
        snprintf(buf, cap, "%s/.cache/flukewatch", home);
    else if (cap)
        buf[0] = '\0';
}

fw_cache_opts fw_run_cache_opts(const fw_run_config *cfg, const char *cache_dir,
                                fw_progress_fn progress, void *progress_ctx)
{
    return (fw_cache_opts){.width = cfg->input_w, .height = cfg->input_h,
                           .channels = cfg->channels,
                           .threads = cfg->loader_threads ? cfg->loader_threads : cfg->threads,
                           .disk_dir = cache_dir && *cache_dir ? cache_dir : NULL,
                           .progress = progress, .progress_ctx = progress_ctx};
}

int fw_cache_dir_files(const char *dir, const char *const *names, const fw_bbox *boxes, long n,
                       const fw_cache_opts *opts, fw_image_cache *cache, fw_error *err)
{
    char **paths = calloc((size_t)(n ? n : 1), sizeof *paths);
    int rc = !paths ? fw_fail(err, FW_ENOMEM, "out of memory") : FW_OK;
    for (long i = 0; rc == FW_OK && i < n; i++) {
        size_t len = strlen(dir) + strlen(names[i]) + 2;
        if (!(paths[i] = malloc(len)))
            rc = fw_fail(err, FW_ENOMEM, "out of memory");
        else
            snprintf(paths[i], len, "%s/%s", dir, names[i]);
    }
    if (rc == FW_OK)
        rc = fw_cache_build(cache, (const char *const *)paths, boxes, n, opts, err);
    for (long i = 0; paths && i < n; i++)
        free(paths[i]);
    free(paths);
    return rc;
}

int fw_cache_train_images(const fw_dataset *ds, const fw_cache_opts *opts, fw_image_cache *cache,
                          fw_error *err)
{
    long n = ds->n_train;
    const char **names = malloc((size_t)(n ? n : 1) * sizeof *names);
    fw_bbox *boxes = malloc((size_t)(n ? n : 1) * sizeof *boxes);
    char dir[4096];
    int rc = (!names || !boxes) ? fw_fail(err, FW_ENOMEM, "out of memory") : FW_OK;
    if (rc == FW_OK && snprintf(dir, sizeof dir, "%s/train", ds->root) >= (int)sizeof dir)
        rc = fw_fail(err, FW_ETOOBIG, "dataset path too long: %s", ds->root);
    for (long i = 0; rc == FW_OK && i < n; i++) {
        names[i] = ds->train[i].image;
        boxes[i] = ds->train[i].box;
    }
    if (rc == FW_OK)
        rc = fw_cache_dir_files(dir, names, boxes, n, opts, cache, err);
    free(names);
    free(boxes);
    return rc;
}

int fw_run_data_open(fw_run_data *d, const fw_run_config *cfg, const char *cache_dir,
                     fw_progress_fn progress, void *progress_ctx, fw_error *err)
{
    memset(d, 0, sizeof *d);
    if (!cfg->dataset[0])
        return fw_fail(err, FW_EINVAL, "no dataset: set the 'dataset' key or pass --dataset DIR");
    int rc = fw_dataset_load(&d->ds, cfg->dataset, &(fw_dataset_opts){0}, err);
    if (rc == FW_OK) {
        fw_split_opts so = FW_SPLIT_OPTS_DEFAULT;
        so.seed = cfg->seed;
        so.query_whale_share = cfg->val_query_share;
        so.new_whale_share = cfg->val_new_whale_share;
        rc = fw_split_make(&d->ds, &so, &d->split, err);
    }
    if (rc == FW_OK) {
        d->labels = malloc((size_t)(d->ds.n_train ? d->ds.n_train : 1) * sizeof *d->labels);
        d->gallery = malloc((size_t)(d->split.n_train ? d->split.n_train : 1) * sizeof *d->gallery);
        if (!d->labels || !d->gallery)
            rc = fw_fail(err, FW_ENOMEM, "out of memory");
    }
    if (rc == FW_OK) {
        for (long i = 0; i < d->ds.n_train; i++)
            d->labels[i] = d->ds.train[i].whale;
        for (long i = 0; i < d->split.n_train; i++)
            if (d->labels[d->split.train[i]] >= 0)
                d->gallery[d->n_gallery++] = d->split.train[i];
        fw_cache_opts co = fw_run_cache_opts(cfg, cache_dir, progress, progress_ctx);
        rc = fw_cache_train_images(&d->ds, &co, &d->cache, err);
    }
    if (rc != FW_OK)
        fw_run_data_free(d);
    return rc;
}

void fw_run_data_free(fw_run_data *d)
{
    if (!d)
        return;
    fw_cache_free(&d->cache);
    fw_split_free(&d->split);
    fw_dataset_free(&d->ds);
    free(d->labels);
    free(d->gallery);
    memset(d, 0, sizeof *d);
}
