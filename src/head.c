/* head.c — the combined training head (head.h): parameter creation and
 * deterministic init, the weighted sum of losses, and prediction scores. */
#include "head.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "param_list.h"
#include "rng.h"

static const char *const KIND_NAMES[] = {"softmax", "arcface", "triplet", "contrastive"};

const char *fw_loss_kind_name(fw_loss_kind kind)
{
    if ((unsigned)kind < sizeof KIND_NAMES / sizeof KIND_NAMES[0])
        return KIND_NAMES[kind];
    return "unknown";
}

int fw_loss_kind_parse(const char *name, fw_loss_kind *kind, fw_error *err)
{
    for (unsigned i = 0; i < sizeof KIND_NAMES / sizeof KIND_NAMES[0]; i++)
        if (name && strcmp(name, KIND_NAMES[i]) == 0) {
            *kind = (fw_loss_kind)i;
            return FW_OK;
        }
    return fw_fail(err, FW_EINVAL,
                   "unknown loss '%.64s' (expected softmax, arcface, triplet or contrastive)",
                   name ? name : "(null)");
}

/* A parameter of `rows` x `cols` (cols = 0: a vector of `rows`), U(-bound, bound). */
static int make_param(fw_head *h, fw_param **slot, const char *name, int rows, int cols,
                      int flags, double bound, uint64_t stream, fw_error *err)
{
    fw_param *p = &h->params[h->n_params];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->ndim = cols ? 2 : 1;
    p->shape[0] = rows;
    p->shape[1] = cols;
    p->numel = (int64_t)rows * (cols ? cols : 1);
    p->flags = flags;
    p->data = malloc(sizeof(float) * (size_t)p->numel);
    p->grad = calloc((size_t)p->numel, sizeof(float));
    if (!p->data || !p->grad) {
        free(p->data);
        free(p->grad);
        return fw_fail(err, FW_ENOMEM, "head: cannot allocate %s (%lld floats)", name,
                       (long long)p->numel);
    }
    fw_rng r;
    fw_rng_init(&r, h->cfg.seed, stream);
    for (int64_t i = 0; i < p->numel; i++)
        p->data[i] = (float)((2.0 * fw_rng_uniform(&r) - 1.0) * bound);
    h->n_params++;
    *slot = p;
    return FW_OK;
}

static int check_config(const fw_head_config *cfg, fw_error *err)
{
    if (cfg->emb_dim <= 0)
        return fw_fail(err, FW_EINVAL, "head: embedding size %d must be > 0", cfg->emb_dim);
    if (cfg->n_terms < 1 || cfg->n_terms > FW_HEAD_MAX_TERMS)
        return fw_fail(err, FW_EINVAL, "head: %d loss terms (expected 1..%d)", cfg->n_terms,
                       FW_HEAD_MAX_TERMS);
    int seen[4] = {0};
    for (int t = 0; t < cfg->n_terms; t++) {
        const fw_head_term *term = &cfg->terms[t];
        if ((unsigned)term->kind > FW_LOSS_CONTRASTIVE)
            return fw_fail(err, FW_EINVAL, "head: term %d has unknown kind %d", t,
                           (int)term->kind);
        if (!isfinite(term->weight) || term->weight < 0.0)
            return fw_fail(err, FW_EINVAL, "head: term %d (%s) weight %g must be >= 0", t,
                           fw_loss_kind_name(term->kind), term->weight);
        if ((term->kind == FW_LOSS_SOFTMAX || term->kind == FW_LOSS_ARCFACE)) {
            if (seen[term->kind]++)
                return fw_fail(err, FW_EINVAL, "head: more than one %s term",
                               fw_loss_kind_name(term->kind));
            if (cfg->classes <= 0)
                return fw_fail(err, FW_EINVAL, "head: a %s term needs classes > 0 (got %d)",
                               fw_loss_kind_name(term->kind), cfg->classes);
        }
        if (term->kind == FW_LOSS_ARCFACE &&
            (term->arcface.subcenters < 1 ||
             (int64_t)cfg->classes * term->arcface.subcenters > 0x7fffffff / cfg->emb_dim))
            return fw_fail(err, FW_EINVAL, "head: ArcFace with %d classes x %d sub-centres x %d "
                           "dims is out of range", cfg->classes, term->arcface.subcenters,
                           cfg->emb_dim);
    }
    if (seen[FW_LOSS_SOFTMAX] && (int64_t)cfg->classes > 0x7fffffff / cfg->emb_dim)
        return fw_fail(err, FW_EINVAL, "head: classifier of %d x %d is too large", cfg->classes,
                       cfg->emb_dim);
    return FW_OK;
}

int fw_head_init(fw_head *h, const fw_head_config *cfg, fw_error *err)
{
    memset(h, 0, sizeof *h);
    FW_TRY(check_config(cfg, err));
    h->cfg = *cfg;
    fw_loss_ws_init(&h->ws);
    const int D = cfg->emb_dim, C = cfg->classes;
    int rc = FW_OK;
    for (int t = 0; t < cfg->n_terms && rc == FW_OK; t++) {
        const fw_head_term *term = &cfg->terms[t];
        if (term->kind == FW_LOSS_SOFTMAX) {
            double bound = 1.0 / sqrt((double)D);
            rc = make_param(h, &h->classifier_weight, "head.classifier.weight", C, D,
                            FW_PARAM_HEAD, bound, 1, err);
            if (rc == FW_OK && term->softmax_bias)
                rc = make_param(h, &h->classifier_bias, "head.classifier.bias", C, 0,
                                FW_PARAM_HEAD | FW_PARAM_NO_DECAY, bound, 2, err);
        }
    }
    for (int t = 0; t < cfg->n_terms && rc == FW_OK; t++) {
        const fw_head_term *term = &cfg->terms[t];
        if (term->kind == FW_LOSS_ARCFACE) {
            int rows = C * term->arcface.subcenters;
            double bound = sqrt(6.0 / ((double)D + rows));
            rc = make_param(h, &h->arcface_weight, "head.arcface.weight", rows, D,
                            FW_PARAM_HEAD, bound, 3, err);
        }
    }
    if (rc != FW_OK)
        fw_head_free(h);
    return rc;
}

static const fw_arcface_cfg *arcface_cfg(const fw_head *h)
{
    for (int t = 0; t < h->cfg.n_terms; t++)
        if (h->cfg.terms[t].kind == FW_LOSS_ARCFACE)
            return &h->cfg.terms[t].arcface;
    return NULL;
}

int fw_head_use_backend(fw_head *h, const fw_backend_ops *ops, fw_backend *be, fw_error *err)
{
    const fw_arcface_cfg *cfg = arcface_cfg(h);
    if (!cfg || !ops->arcface_create || h->arcface_op)
        return FW_OK;
    const char *env = getenv("FLUKEWATCH_HEAD");
    if (env && *env && strcmp(env, "auto") != 0) {
        if (strcmp(env, "host") == 0)
            return FW_OK;
        return fw_fail(err, FW_EINVAL, "FLUKEWATCH_HEAD='%.40s': expected auto or host", env);
    }
    FW_TRY(ops->arcface_create(be, cfg, h->cfg.classes, h->cfg.emb_dim, h->arcface_weight,
                               &h->arcface_op, err));
    h->ops = ops;
    h->be = be;
    return FW_OK;
}

int fw_head_param_on_backend(const fw_head *h, const fw_param *p)
{
    return h->arcface_op && p == h->arcface_weight;
}

void fw_head_free(fw_head *h)
{
    if (!h)
        return;
    if (h->arcface_op)
        h->ops->arcface_destroy(h->be, h->arcface_op);
    for (int i = 0; i < h->n_params; i++) {
        free(h->params[i].data);
        free(h->params[i].grad);
    }
    fw_loss_ws_free(&h->ws);
    memset(h, 0, sizeof *h);
}

int fw_head_add_params(fw_head *h, fw_param_list *list, fw_error *err)
{
    for (int i = 0; i < h->n_params; i++)
        FW_TRY(fw_param_list_append(list, &h->params[i], err));
    return FW_OK;
}

int fw_head_loss(fw_head *h, const float *emb, const int *labels, int n, float *d_emb,
                 double *loss, fw_error *err)
{
    const int D = h->cfg.emb_dim, C = h->cfg.classes;
    *loss = 0.0;
    if (n < 0 || (n > 0 && (!emb || !labels)))
        return fw_fail(err, FW_EINVAL, "head: bad batch (N=%d)", n);
    if (d_emb)
        memset(d_emb, 0, sizeof(float) * (size_t)n * D);
    double total = 0.0;
    for (int t = 0; t < h->cfg.n_terms; t++) {
        const fw_head_term *term = &h->cfg.terms[t];
        fw_loss_grads g = {.d_emb = d_emb, .scale = term->weight};
        const fw_loss_grads *gp = d_emb ? &g : NULL;
        fw_loss_result *res = &h->term[t];
        int rc;
        switch (term->kind) {
        case FW_LOSS_SOFTMAX:
            g.d_weight = h->classifier_weight->grad;
            g.d_bias = h->classifier_bias ? h->classifier_bias->grad : NULL;
            rc = fw_loss_softmax(&h->ws, &term->softmax, emb, labels, n, D,
                                 h->classifier_weight->data,
                                 h->classifier_bias ? h->classifier_bias->data : NULL, C, gp,
                                 res, err);
            break;
        case FW_LOSS_ARCFACE:
            if (h->arcface_op) {
                rc = h->ops->arcface_loss(h->be, h->arcface_op, emb, labels, n, term->weight,
                                          d_emb, res, err);
                break;
            }
            g.d_weight = h->arcface_weight->grad;
            rc = fw_loss_arcface(&h->ws, &term->arcface, emb, labels, n, D,
                                 h->arcface_weight->data, C, gp, res, err);
            break;
        case FW_LOSS_TRIPLET:
            rc = fw_loss_triplet(&h->ws, &term->triplet, emb, labels, n, D, gp, res, err);
            break;
        default:
            rc = fw_loss_contrastive(&h->ws, &term->contrastive, emb, labels, n, D, gp, res,
                                     err);
            break;
        }
        if (rc < 0)
            return fw_error_prefix(err, "head term %d (%s): ", t, fw_loss_kind_name(term->kind));
        total += term->weight * res->loss;
    }
    *loss = total;
    return FW_OK;
}

int fw_head_logits(fw_head *h, const float *emb, int n, float *out, fw_error *err)
{
    if (h->arcface_weight) {
        int k = 1;
        for (int t = 0; t < h->cfg.n_terms; t++)
            if (h->cfg.terms[t].kind == FW_LOSS_ARCFACE)
                k = h->cfg.terms[t].arcface.subcenters;
        return fw_cosine_logits(&h->ws, emb, n, h->cfg.emb_dim, h->arcface_weight->data,
                                h->cfg.classes, k, out, err);
    }
    if (h->classifier_weight)
        return fw_cosine_logits(&h->ws, emb, n, h->cfg.emb_dim, h->classifier_weight->data,
                                h->cfg.classes, 1, out, err);
    return fw_fail(err, FW_EINVAL, "head: no softmax or ArcFace term, so no class scores");
}
