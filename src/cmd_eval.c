/* cmd_eval.c — `flukewatch eval RUN` (validation mAP@5 of a checkpoint,
 * stored as an evaluation of the run) and `flukewatch predict RUN` (a Kaggle
 * submission for the test images or any directory of images, the new_whale
 * threshold taken from the same checkpoint's validation). Both load the
 * run's data exactly as its trainer did (same split) and a checkpoint:
 * best.fwc, the newest, or a file. */
#include <config.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt_store.h"
#include "cli.h"
#include "embed.h"
#include "eval.h"
#include "progress.h"
#include "run_data.h"
#include "run_eval.h"
#include "run_ref.h"
#include "sanitize.h"
#include "store.h"
#include "trainer.h"

typedef struct loaded_run {
    char workspace[FW_RUN_PATH_MAX];
    char run_id[FW_RUN_ID_CAP];
    char ckpt_name[FW_RUN_PATH_MAX];    /* the checkpoint's file name, for the evaluation row */
    fw_run_config cfg;      /* the checkpoint's config (dataset from the run) */
    fw_run_data data;
    fw_learner *learner;
    fw_learner_position pos;
    fw_store *store;
} loaded_run;

static void loaded_run_free(loaded_run *r)
{
    fw_learner_destroy(r->learner);
    fw_run_data_free(&r->data);
    fw_store_close(r->store);
    memset(r, 0, sizeof *r);
}

/* Open the checkpoint named by which: "best", "last" or a file path. */
static int open_checkpoint(const loaded_run *r, const char *which, fw_ckpt *ck, fw_error *err)
{
    char dir[FW_RUN_PATH_MAX + 64];
    FW_TRY(fw_trainer_checkpoint_dir(r->workspace, r->run_id, dir, sizeof dir, err));
    if (!strcmp(which, "best")) {
        int rc = fw_ckpt_store_open_best(dir, ck, err);
        if (rc != FW_ENOTFOUND)
            return rc;
        /* A run stopped before its first evaluation has no best yet. */
        return fw_ckpt_store_open_newest(dir, ck, NULL, NULL, err);
    }
    if (!strcmp(which, "last"))
        return fw_ckpt_store_open_newest(dir, ck, NULL, NULL, err);
    return fw_ckpt_open(which, ck, err);
}

static int load_run(const fw_command *cmd, const char *ref, const char *which, loaded_run *r)
{
    fw_error err;
    fw_error_clear(&err);
    memset(r, 0, sizeof *r);
    fw_run_info info = {0};
    fw_ckpt ck = {0};
    int rc = fw_store_resolve_workspace(NULL, r->workspace, sizeof r->workspace, &err);
    if (rc == FW_OK)
        rc = fw_store_open(r->workspace, &r->store, &err);
    if (rc == FW_OK)
        rc = fw_run_ref_resolve(r->store, ref, r->run_id, &err);
    if (rc == FW_OK)
        rc = fw_store_run_get(r->store, r->run_id, &info, &err);
    fw_run_config run_cfg;
    fw_run_config_default(&run_cfg);
    if (rc == FW_OK)
        rc = fw_run_config_parse(&run_cfg, info.config, r->run_id, &err);
    if (rc == FW_OK) {
        rc = open_checkpoint(r, which, &ck, &err);
        if (rc == FW_ENOTFOUND && (!strcmp(which, "best") || !strcmp(which, "last")))
            rc = fw_fail(&err, FW_ENOTFOUND, "run %s has no checkpoint yet", r->run_id);
    }
    fw_run_config_default(&r->cfg);
    if (rc == FW_OK && ck.config && *ck.config)
        rc = fw_run_config_parse(&r->cfg, ck.config, ck.path, &err);
    if (rc == FW_OK) {
        snprintf(r->cfg.dataset, sizeof r->cfg.dataset, "%s", run_cfg.dataset);
        const char *slash = strrchr(ck.path, '/');
        snprintf(r->ckpt_name, sizeof r->ckpt_name, "%s", slash ? slash + 1 : ck.path);
        fflush(stdout);
        char cache_dir[FW_RUN_PATH_MAX];
        fw_default_cache_dir(cache_dir, sizeof cache_dir);
        fw_progress *bar = fw_progress_start("decode", 1, "img", stderr);
        rc = fw_run_data_open(&r->data, &r->cfg, cache_dir, fw_progress_callback, bar, &err);
        fw_progress_finish(bar);
    }
    if (rc == FW_OK) {
        fw_learner_config lc;
        int classes = r->data.ds.n_whales * (r->cfg.aug.flip_identity ? 2 : 1);
        fw_run_config_learner(&r->cfg, classes, 1, &lc);
        lc.precision = FW_PRECISION_FP32; /* evaluation runs on the CPU, in fp32 */
        lc.loss_scale = 0;
        rc = fw_learner_create(fw_backend_cpu(), &lc, &r->learner, &err);
    }
    if (rc == FW_OK)
        rc = fw_learner_restore(r->learner, &ck, &r->pos, &err);
    fw_ckpt_close(&ck);
    fw_run_info_free(&info);
    if (rc != FW_OK) {
        loaded_run_free(r);
        return fw_cli_report(cmd, &err);
    }
    return FW_EXIT_OK;
}

/* Validation evaluation of the loaded checkpoint, stored with the run. */
static int evaluate(const fw_command *cmd, loaded_run *r, int tta, fw_evaluation *ev)
{
    fw_error err;
    fw_error_clear(&err);
    fw_progress *bar = fw_progress_start("evaluate", r->data.n_gallery + r->data.split.n_query,
                                         "img", stderr);
    fw_run_eval_opts eo = {.tta_flip = tta, .threads = r->cfg.threads,
                           .progress = fw_progress_callback, .progress_ctx = bar};
    double vloss;
    int rc = fw_run_evaluate(r->learner, &r->data, &r->cfg, &eo, ev, &vloss, &err);
    fw_progress_finish(bar);
    if (rc == FW_OK) {
        snprintf(ev->run_id, sizeof ev->run_id, "%s", r->run_id);
        ev->checkpoint = strdup(r->ckpt_name);
        ev->step = fw_learner_steps_done(r->learner);
        ev->epoch = (double)r->pos.epoch;
        rc = ev->checkpoint ? fw_store_eval_put(r->store, ev, NULL, &err)
                            : fw_fail(&err, FW_ENOMEM, "out of memory");
    }
    return rc == FW_OK ? FW_EXIT_OK : fw_cli_report(cmd, &err);
}

/* --checkpoint and --no-tta, shared by eval and predict; other arguments are
 * left for the caller (returns 1 when argv[*i] was consumed). */
static int common_option(const fw_command *cmd, int argc, char **argv, int *i,
                         const char **which, int *tta, int *code)
{
    if (!strcmp(argv[*i], "--checkpoint")) {
        if (*i + 1 >= argc || !*argv[*i + 1])
            *code = fw_cli_usage_error(cmd, "--checkpoint needs best, last or a FILE");
        else
            *which = argv[++*i];
        return 1;
    }
    if (!strcmp(argv[*i], "--no-tta")) {
        *tta = 0;
        return 1;
    }
    return 0;
}

static int run_eval(int argc, char **argv)
{
    const fw_command *cmd = &fw_cmd_eval;
    const char *ref = NULL, *which = "best";
    int tta = -1, code = FW_EXIT_OK;
    for (int i = 1; i < argc && code == FW_EXIT_OK; i++) {
        if (common_option(cmd, argc, argv, &i, &which, &tta, &code))
            continue;
        if (argv[i][0] == '-' && argv[i][1])
            return fw_cli_usage_error(cmd, "unknown option '%s'", argv[i]);
        if (ref)
            return fw_cli_usage_error(cmd, "unexpected argument '%s'", argv[i]);
        ref = argv[i];
    }
    if (code != FW_EXIT_OK)
        return code;
    if (!ref)
        return fw_cli_usage_error(cmd, "missing RUN");
    loaded_run r;
    if ((code = load_run(cmd, ref, which, &r)) != FW_EXIT_OK)
        return code;
    fw_evaluation ev = {0};
    code = evaluate(cmd, &r, tta < 0 ? r.cfg.tta_flip : tta, &ev);
    if (code == FW_EXIT_OK)
        printf("%s %s: mAP@5 %.4f  top-1 %.4f  new_whale threshold %.4f  (%d queries, "
               "epoch %lld, step %lld)\n",
               r.run_id, r.ckpt_name, ev.map5, ev.top1, ev.threshold, ev.n_queries,
               (long long)r.pos.epoch, (long long)ev.step);
    fw_evaluation_free(&ev);
    loaded_run_free(&r);
    return code;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The JPEG files of dir, sorted by name. */
static int list_images(const char *dir, char ***names, long *n, fw_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return fw_fail(err, FW_ENOTFOUND, "%s: cannot open the directory", dir);
    long cap = 64, m = 0;
    char **v = malloc((size_t)cap * sizeof *v);
    int rc = v ? FW_OK : fw_fail(err, FW_ENOMEM, "out of memory");
    struct dirent *e;
    while (rc == FW_OK && (e = readdir(d))) {
        const char *dot = strrchr(e->d_name, '.');
        if (!dot || (strcasecmp(dot, ".jpg") && strcasecmp(dot, ".jpeg")) ||
            !fw_image_name_ok(e->d_name))
            continue;
        if (m == cap) {
            char **nv = realloc(v, (size_t)(cap *= 2) * sizeof *v);
            if (!nv) {
                rc = fw_fail(err, FW_ENOMEM, "out of memory");
                break;
            }
            v = nv;
        }
        if (!(v[m] = strdup(e->d_name)))
            rc = fw_fail(err, FW_ENOMEM, "out of memory");
        else
            m++;
    }
    closedir(d);
    if (rc == FW_OK && m == 0)
        rc = fw_fail(err, FW_ENOTFOUND, "%s: no .jpg images", dir);
    if (rc != FW_OK) {
        for (long i = 0; i < m; i++)
            free(v[i]);
        free(v);
        return rc;
    }
    qsort(v, (size_t)m, sizeof *v, by_name);
    *names = v;
    *n = m;
    return FW_OK;
}

/* Embed the images, rank the whales of every train.csv image, insert
 * new_whale at threshold and write the submission. */
static int predict(loaded_run *r, const char *dir, char **names, long n, float threshold,
                   int tta, const char *out, fw_error *err)
{
    const int dim = r->cfg.embedding_dim;
    fw_image_cache cache = {0};
    long *g_items = NULL, ng = 0;
    int *g_whale = NULL, *whale = NULL, *pred = NULL;
    float *g_emb = NULL, *q_emb = NULL, *sim = NULL;
    const char **ids = NULL;
    char cache_dir[FW_RUN_PATH_MAX];
    fw_default_cache_dir(cache_dir, sizeof cache_dir);
    fw_progress *bar = fw_progress_start("decode", n, "img", stderr);
    fw_cache_opts co = fw_run_cache_opts(&r->cfg, cache_dir, fw_progress_callback, bar);
    int rc = fw_cache_dir_files(dir, (const char *const *)names, NULL, n, &co, &cache, err);
    fw_progress_finish(bar);
    for (long i = 0; rc == FW_OK && i < cache.n_failed; i++) {
        char clean[600];
        fprintf(stderr, "flukewatch predict: skipped (predicted new_whale first): %s\n",
                fw_sanitize(cache.failures[i].reason, clean, sizeof clean));
    }
    fw_run_eval_opts eo = {.tta_flip = tta, .threads = r->cfg.threads};
    if (rc == FW_OK) {
        bar = fw_progress_start("embed", r->data.ds.n_train + n, "img", stderr);
        eo.progress = fw_progress_callback;
        eo.progress_ctx = bar;
        rc = fw_run_embed_gallery(r->learner, &r->data, &r->cfg, &eo, 1, &g_items, &g_whale,
                                  &g_emb, &ng, err);
        long *items = malloc((size_t)n * sizeof *items);
        q_emb = malloc((size_t)n * dim * sizeof *q_emb);
        if (rc == FW_OK && (!items || !q_emb))
            rc = fw_fail(err, FW_ENOMEM, "out of memory");
        for (long i = 0; rc == FW_OK && i < n; i++)
            items[i] = i;
        fw_embed_opts qo = {.dim = dim, .tta_flip = tta, .threads = r->cfg.threads};
        if (rc == FW_OK)
            rc = fw_embed_cache(r->learner, &cache, items, n, &qo, q_emb, NULL, err);
        free(items);
        fw_progress_set(bar, r->data.ds.n_train + n);
        fw_progress_finish(bar);
    }
    whale = malloc((size_t)n * FW_MAP_K * sizeof *whale);
    pred = malloc((size_t)n * FW_MAP_K * sizeof *pred);
    sim = malloc((size_t)n * FW_MAP_K * sizeof *sim);
    ids = calloc((size_t)n * FW_MAP_K, sizeof *ids);
    if (rc == FW_OK && (!whale || !pred || !sim || !ids))
        rc = fw_fail(err, FW_ENOMEM, "out of memory");
    if (rc == FW_OK) {
        fw_sim_opts so = {.threads = r->cfg.threads};
        rc = fw_knn_whales(q_emb, n, g_emb, ng, dim, g_whale, r->data.ds.n_whales, FW_MAP_K, &so,
                           whale, sim, err);
    }
    if (rc == FW_OK) {
        for (long i = 0; i < n; i++)
            if (!cache.ok[i]) /* an unreadable image: new_whale first */
                for (int k = 0; k < FW_MAP_K; k++)
                    sim[i * FW_MAP_K + k] = -INFINITY;
        fw_predict_with_new_whale(whale, sim, n, threshold, pred);
        for (long i = 0; i < (long)n * FW_MAP_K; i++)
            ids[i] = pred[i] >= 0 ? r->data.ds.whales[pred[i]]
                     : pred[i] == FW_NEW_WHALE ? FW_NEW_WHALE_NAME
                                               : NULL;
        rc = fw_submission_write(out, n, (const char *const *)names, ids, err);
    }
    fw_cache_free(&cache);
    free(g_items);
    free(g_whale);
    free(g_emb);
    free(q_emb);
    free(whale);
    free(pred);
    free(sim);
    free(ids);
    return rc;
}

static int run_predict(int argc, char **argv)
{
    const fw_command *cmd = &fw_cmd_predict;
    const char *ref = NULL, *which = "best", *images = NULL, *out = NULL;
    double threshold = NAN;
    int tta = -1, code = FW_EXIT_OK;
    for (int i = 1; i < argc && code == FW_EXIT_OK; i++) {
        if (common_option(cmd, argc, argv, &i, &which, &tta, &code))
            continue;
        const char **slot = !strcmp(argv[i], "--images") ? &images
                            : !strcmp(argv[i], "--out") ? &out
                                                        : NULL;
        if (slot || !strcmp(argv[i], "--threshold")) {
            if (i + 1 >= argc || !*argv[i + 1])
                return fw_cli_usage_error(cmd, "%s needs a value", argv[i]);
            if (slot)
                *slot = argv[++i];
            else if (fw_parse_float(argv[++i], -1.0, 2.0, &threshold))
                return fw_cli_usage_error(cmd, "--threshold wants a number in [-1, 2], got '%s'",
                                          argv[i]);
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return fw_cli_usage_error(cmd, "unknown option '%s'", argv[i]);
        } else if (ref) {
            return fw_cli_usage_error(cmd, "unexpected argument '%s'", argv[i]);
        } else {
            ref = argv[i];
        }
    }
    if (code != FW_EXIT_OK)
        return code;
    if (!ref)
        return fw_cli_usage_error(cmd, "missing RUN");
    if (!out)
        return fw_cli_usage_error(cmd, "--out FILE is required");
    loaded_run r;
    if ((code = load_run(cmd, ref, which, &r)) != FW_EXIT_OK)
        return code;
    int use_tta = tta < 0 ? r.cfg.tta_flip : tta;
    fw_error err;
    fw_error_clear(&err);
    if (isnan(threshold)) {
        fw_evaluation ev = {0};
        code = evaluate(cmd, &r, use_tta, &ev);
        threshold = ev.threshold;
        if (code == FW_EXIT_OK)
            printf("validation mAP@5 %.4f sets the new_whale threshold %.4f\n", ev.map5,
                   ev.threshold);
        fw_evaluation_free(&ev);
    }
    char **names = NULL;
    long n = 0;
    char dir[FW_RUN_PATH_MAX + 16];
    int rc = FW_OK;
    if (code == FW_EXIT_OK && images) {
        snprintf(dir, sizeof dir, "%s", images);
        rc = list_images(dir, &names, &n, &err);
    } else if (code == FW_EXIT_OK) {
        snprintf(dir, sizeof dir, "%s/test", r.data.ds.root);
        n = r.data.ds.n_test;
        names = calloc((size_t)(n ? n : 1), sizeof *names);
        if (!names)
            rc = fw_fail(&err, FW_ENOMEM, "out of memory");
        else if (n == 0)
            rc = fw_fail(&err, FW_ENOTFOUND,
                         "%s has no test images (sample_submission.csv); use --images DIR",
                         r.data.ds.root);
        for (long i = 0; rc == FW_OK && i < n; i++)
            if (!(names[i] = strdup(r.data.ds.test[i].image)))
                rc = fw_fail(&err, FW_ENOMEM, "out of memory");
    }
    if (code == FW_EXIT_OK && rc == FW_OK)
        rc = predict(&r, dir, names, n, (float)threshold, use_tta, out, &err);
    if (code == FW_EXIT_OK && rc != FW_OK)
        code = fw_cli_report(cmd, &err);
    else if (code == FW_EXIT_OK) {
        char clean[FW_RUN_PATH_MAX];
        printf("wrote %ld predictions to %s (new_whale threshold %.4f)\n", n,
               fw_sanitize(out, clean, sizeof clean), threshold);
    }
    for (long i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
    loaded_run_free(&r);
    return code;
}

const fw_command fw_cmd_eval = {
    "eval",
    "RUN [--checkpoint best|last|FILE] [--no-tta]",
    "Evaluate a run's checkpoint on its validation split (mAP@5).",
    "Loads the run's dataset and validation split (as its training did) and a\n"
    "checkpoint, embeds the gallery and the validation queries, and prints mAP@5\n"
    "and top-1 with new_whale inserted at the threshold that maximises mAP@5.\n"
    "The evaluation, with every query's top-5 matches, is stored with the run\n"
    "(see 'flukewatch matches').\n"
    "\n"
    "Options:\n"
    "  --checkpoint best|last|FILE   which checkpoint (default best: the best\n"
    "                                validation mAP@5 so far)\n"
    "  --no-tta                      no flip test-time augmentation (default: the\n"
    "                                run's tta_flip)\n",
    run_eval,
};

const fw_command fw_cmd_predict = {
    "predict",
    "RUN --out FILE [--images DIR] [--checkpoint best|last|FILE] [--threshold T] [--no-tta]",
    "Write a Kaggle submission for the test images with a run's model.",
    "Predicts five ids per image (header 'Image,Id'), ranking whales by the\n"
    "highest cosine similarity over all their train.csv images, with new_whale\n"
    "inserted at the threshold that maximised validation mAP@5 for the same\n"
    "checkpoint (evaluated first and stored with the run). Images are the\n"
    "dataset's test set in sample_submission.csv order, or every .jpg in --images\n"
    "DIR by name. An unreadable image is reported and predicted new_whale first.\n"
    "\n"
    "Options:\n"
    "  --out FILE                    the submission to write (required)\n"
    "  --images DIR                  predict these images instead of the test set\n"
    "  --checkpoint best|last|FILE   which checkpoint (default best)\n"
    "  --threshold T                 use this new_whale threshold (no validation)\n"
    "  --no-tta                      no flip test-time augmentation\n",
    run_predict,
};
