/* run_eval.c — validation evaluation of a run's learner (see run_eval.h). */
#include <config.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "run_eval.h"

int fw_run_embed_gallery(fw_learner *l, const fw_run_data *d, const fw_run_config *cfg,
                         const fw_run_eval_opts *opts, int whole_train, long **items,
                         int **whales, float **emb, long *n, fw_error *err)
{
    long cap = whole_train ? d->ds.n_train : d->n_gallery, m = 0;
    *items = malloc((size_t)(cap ? cap : 1) * sizeof **items);
    *whales = malloc((size_t)(cap ? cap : 1) * sizeof **whales);
    *emb = malloc((size_t)(cap ? cap : 1) * cfg->embedding_dim * sizeof **emb);
    if (!*items || !*whales || !*emb)
        return fw_fail(err, FW_ENOMEM, "gallery: out of memory for %ld embeddings", cap);
    for (long i = 0; i < cap; i++) {
        long item = whole_train ? i : d->gallery[i];
        if (d->labels[item] < 0)
            continue;
        (*items)[m] = item;
        (*whales)[m++] = d->labels[item];
    }
    *n = m;
    fw_embed_opts eo = {.dim = cfg->embedding_dim, .tta_flip = opts->tta_flip,
                        .threads = opts->threads, .progress = opts->progress,
                        .progress_ctx = opts->progress_ctx};
    return fw_embed_cache(l, &d->cache, *items, m, &eo, *emb, NULL, err);
}

/* Validation loss on the known-whale queries (NaN when there are none or the
 * head cannot score them). */
static double query_loss(fw_learner *l, const float *raw, const int *truth, long nq, int dim)
{
    float *e = malloc((size_t)(nq ? nq : 1) * dim * sizeof *e);
    int *lab = malloc((size_t)(nq ? nq : 1) * sizeof *lab);
    int m = 0;
    double loss = NAN;
    if (e && lab) {
        for (long i = 0; i < nq; i++)
            if (truth[i] >= 0) {
                memcpy(e + (size_t)m * dim, raw + (size_t)i * dim, (size_t)dim * sizeof *e);
                lab[m++] = truth[i];
            }
        fw_error ignored;
        if (m == 0 || fw_learner_head_loss(l, e, lab, m, &loss, &ignored) != FW_OK)
            loss = NAN;
    }
    free(e);
    free(lab);
    return loss;
}

static int fill_queries(const fw_run_data *d, const long *query, long nq, const int *truth,
                        const int *pred, const float *sim, float thr,
                        fw_evaluation *out, fw_error *err)
{
    out->queries = calloc((size_t)(nq ? nq : 1), sizeof *out->queries);
    if (!out->queries)
        return fw_fail(err, FW_ENOMEM, "evaluation: out of memory");
    out->n_queries = (int)nq;
    for (long i = 0; i < nq; i++) {
        fw_eval_query *q = &out->queries[i];
        q->image = strdup(d->ds.train[query[i]].image);
        q->true_id = strdup(truth[i] >= 0 ? d->ds.whales[truth[i]] : FW_NEW_WHALE_NAME);
        int src = 0; /* next slot of the per-whale list */
        for (int k = 0; k < FW_EVAL_TOPK; k++) {
            int p = pred[i * FW_MAP_K + k];
            const char *name = p >= 0 ? d->ds.whales[p] : p == FW_NEW_WHALE ? FW_NEW_WHALE_NAME : "";
            q->match_id[k] = strdup(name);
            if (p == FW_NEW_WHALE) {
                q->similarity[k] = thr;
            } else {
                q->similarity[k] = src < FW_MAP_K ? sim[i * FW_MAP_K + src] : -INFINITY;
                src++;
            }
            if (!q->match_id[k])
                return fw_fail(err, FW_ENOMEM, "evaluation: out of memory");
        }
        if (!q->image || !q->true_id)
            return fw_fail(err, FW_ENOMEM, "evaluation: out of memory");
    }
    return FW_OK;
}

int fw_run_evaluate(fw_learner *l, const fw_run_data *d, const fw_run_config *cfg,
                    const fw_run_eval_opts *opts, fw_evaluation *out, double *val_loss,
                    fw_error *err)
{
    memset(out, 0, sizeof *out);
    *val_loss = NAN;
    const int dim = cfg->embedding_dim;
    const long nq = d->split.n_query;
    if (nq == 0)
        return fw_fail(err, FW_EINVAL,
                       "evaluation: the validation split has no queries (val.query_share = %g)",
                       (double)cfg->val_query_share);
    long *g_items = NULL, ng = 0;
    int *g_whale = NULL;
    float *g_emb = NULL;
    float *q_emb = malloc((size_t)nq * dim * sizeof *q_emb);
    float *q_raw = malloc((size_t)nq * dim * sizeof *q_raw);
    int *truth = malloc((size_t)nq * sizeof *truth);
    int *whale = malloc((size_t)nq * FW_MAP_K * sizeof *whale);
    int *pred = malloc((size_t)nq * FW_MAP_K * sizeof *pred);
    float *sim = malloc((size_t)nq * FW_MAP_K * sizeof *sim);
    int rc = (!q_emb || !q_raw || !truth || !whale || !pred || !sim)
                 ? fw_fail(err, FW_ENOMEM, "evaluation: out of memory")
                 : FW_OK;
    if (rc == FW_OK)
        rc = fw_run_embed_gallery(l, d, cfg, opts, 0, &g_items, &g_whale, &g_emb, &ng, err);
    if (rc == FW_OK) {
        fw_embed_opts eo = {.dim = dim, .tta_flip = opts->tta_flip, .threads = opts->threads};
        rc = fw_embed_cache(l, &d->cache, d->split.query, nq, &eo, q_emb, q_raw, err);
    }
    if (rc == FW_OK) {
        fw_sim_opts so = {.threads = opts->threads};
        rc = fw_knn_whales(q_emb, nq, g_emb, ng, dim, g_whale, d->ds.n_whales, FW_MAP_K, &so,
                           whale, sim, err);
    }
    float thr = 0;
    if (rc == FW_OK) {
        for (long i = 0; i < nq; i++)
            truth[i] = d->labels[d->split.query[i]];
        rc = fw_best_threshold(whale, sim, truth, nq, &thr, NULL, err);
    }
    if (rc == FW_OK) {
        fw_predict_with_new_whale(whale, sim, nq, thr, pred);
        long top1 = 0;
        for (long i = 0; i < nq; i++)
            top1 += pred[i * FW_MAP_K] == truth[i];
        out->map5 = fw_map5(pred, truth, nq);
        out->top1 = (double)top1 / (double)nq;
        out->threshold = thr;
        *val_loss = query_loss(l, q_raw, truth, nq, dim);
        rc = fill_queries(d, d->split.query, nq, truth, pred, sim, thr, out, err);
    }
    if (rc != FW_OK)
        fw_evaluation_free(out);
    free(g_items);
    free(g_whale);
    free(g_emb);
    free(q_emb);
    free(q_raw);
    free(truth);
    free(whale);
    free(pred);
    free(sim);
    return rc;
}
