/* model.c — backbone + neck as one model with a host-float API (see model.h). */
#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model_params.h"
#include "resnet.h"
#include "rng.h"

struct fw_model {
    const fw_backend_ops *ops;
    fw_backend *be;
    fw_model_config cfg;
    int base_width;
    fw_param_list params;
    fw_resnet *backbone;
    fw_neck *neck;
    fw_tensor *input;       /* (N, C, H, W) host input copied in */
    fw_tensor *d_emb;       /* (N, D, 1, 1) */
    const fw_tensor *x;     /* the last forward's input */
    const fw_tensor *features;
    const fw_tensor *emb;
    int n;                  /* the last forward's batch */
    int can_backward;       /* the last forward was a training forward */
};

void fw_model_config_default(fw_model_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->arch = 18;
    cfg->in_channels = 1;
    cfg->width_mult = 1.0f;
    cfg->embedding_dim = 512;
    cfg->pool = FW_NECK_GEM;
    cfg->gem_p = 3.0f;
    cfg->dropout = 0.0f;
    cfg->seed = 0;
}

int fw_model_create(const fw_backend_ops *ops, fw_backend *be, const fw_model_config *cfg,
                    fw_model **out, fw_error *err)
{
    *out = NULL;
    if (!(cfg->width_mult > 0.0f && cfg->width_mult <= 64.0f))
        return fw_fail(err, FW_EINVAL, "model: width multiplier %g out of (0, 64]",
                       (double)cfg->width_mult);
    if (cfg->embedding_dim < 1 || cfg->embedding_dim > 65536)
        return fw_fail(err, FW_EINVAL, "model: embedding size %d out of [1, 65536]",
                       cfg->embedding_dim);
    fw_model *m = calloc(1, sizeof *m);
    if (!m)
        return fw_fail(err, FW_ENOMEM, "model: out of memory");
    m->ops = ops;
    m->be = be;
    m->cfg = *cfg;
    long base = lroundf(64.0f * cfg->width_mult);
    m->base_width = base < 1 ? 1 : (int)base;
    fw_resnet_config rc_cfg = {.arch = cfg->arch, .in_channels = cfg->in_channels,
                               .base_width = m->base_width};
    int rc = fw_resnet_create(ops, be, &rc_cfg, &m->params, &m->backbone, err);
    if (!rc) {
        fw_neck_config nc = {.in_channels = fw_resnet_out_channels(m->backbone),
                             .dim = cfg->embedding_dim, .pool = cfg->pool,
                             .gem_p = cfg->gem_p, .dropout = cfg->dropout,
                             .seed = cfg->seed ^ 0x6E65636Bull};
        rc = fw_neck_create(ops, be, &nc, &m->params, &m->neck, err);
    }
    if (!rc)
        rc = ops->tensor_create(be, &m->input, err);
    if (!rc)
        rc = ops->tensor_create(be, &m->d_emb, err);
    if (rc) {
        fw_model_destroy(m);
        return rc;
    }
    fw_model_init(m, cfg->seed);
    *out = m;
    return 0;
}

void fw_model_destroy(fw_model *m)
{
    if (!m)
        return;
    fw_resnet_destroy(m->backbone);
    fw_neck_destroy(m->neck);
    m->ops->tensor_free(m->be, m->input);
    m->ops->tensor_free(m->be, m->d_emb);
    fw_mp_free(&m->params);
    free(m);
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

void fw_model_init(fw_model *m, uint64_t seed)
{
    for (int i = 0; i < m->params.n; i++) {
        fw_param *p = m->params.items[i];
        fw_rng r;
        fw_rng_init(&r, seed, (uint64_t)i);
        float fill = 0.0f;
        if (has_suffix(p->name, ".running_var") || (p->ndim == 1 && has_suffix(p->name, ".weight")))
            fill = 1.0f; /* BN weight, running_var */
        else if (has_suffix(p->name, ".p"))
            fill = m->cfg.gem_p;
        for (int64_t k = 0; k < p->numel; k++)
            p->data[k] = fill;
        if (p->ndim == 4) { /* conv: kaiming_normal_(mode="fan_out", nonlinearity="relu") */
            double fan_out = (double)(p->shape[0] * p->shape[2] * p->shape[3]);
            float std = (float)sqrt(2.0 / fan_out);
            for (int64_t k = 0; k < p->numel; k++)
                p->data[k] = std * fw_rng_normal(&r);
        } else if (strcmp(p->name, "neck.fc.weight") == 0 ||
                   strcmp(p->name, "neck.fc.bias") == 0) { /* nn.Linear default */
            float bound = 1.0f / sqrtf((float)fw_resnet_out_channels(m->backbone));
            for (int64_t k = 0; k < p->numel; k++)
                p->data[k] = fw_rng_range(&r, -bound, bound);
        }
    }
    fw_model_zero_grad(m);
    fw_model_params_updated(m);
}

const fw_param_list *fw_model_params(const fw_model *m)
{
    return &m->params;
}

fw_param *fw_model_find(const fw_model *m, const char *name)
{
    return fw_mp_find(&m->params, name);
}

const fw_model_config *fw_model_get_config(const fw_model *m)
{
    return &m->cfg;
}

int fw_model_base_width(const fw_model *m)
{
    return m->base_width;
}

int fw_model_feature_channels(const fw_model *m)
{
    return fw_resnet_out_channels(m->backbone);
}

void fw_model_params_updated(fw_model *m)
{
    m->ops->params_updated(m->be);
}

void fw_model_discard_pending(fw_model *m)
{
    if (m->ops->discard_pending)
        m->ops->discard_pending(m->be);
}

void fw_model_buffers_updated(fw_model *m)
{
    if (m->ops->buffers_updated)
        m->ops->buffers_updated(m->be);
    else
        m->ops->params_updated(m->be);
}

int fw_model_set_bn_sync(fw_model *m, fw_bn_sync_fn fn, void *ctx, fw_error *err)
{
    if (!m->ops->bn_set_sync)
        return fw_fail(err, FW_EUNSUPPORTED, "model: the %s backend has no SyncBatchNorm",
                       m->ops->name);
    FW_TRY(fw_resnet_set_bn_sync(m->backbone, fn, ctx, err));
    return fw_neck_set_bn_sync(m->neck, fn, ctx, err);
}

void fw_model_zero_grad(fw_model *m)
{
    for (int i = 0; i < m->params.n; i++) {
        fw_param *p = m->params.items[i];
        if (p->grad)
            memset(p->grad, 0, (size_t)p->numel * sizeof(float));
    }
}

int fw_model_forward_tensor(fw_model *m, int training, uint64_t step, const fw_tensor *x,
                            const fw_tensor **emb, fw_error *err)
{
    m->can_backward = 0;
    fw_shape s = m->ops->tensor_shape(x);
    if (s.c != m->cfg.in_channels || s.n < 1 || s.h < 1 || s.w < 1)
        return fw_fail(err, FW_EINVAL, "model: input (%lld, %lld, %lld, %lld), expected "
                       "(N, %d, H, W)", (long long)s.n, (long long)s.c, (long long)s.h,
                       (long long)s.w, m->cfg.in_channels);
    if (training && s.n < 2)
        return fw_fail(err, FW_EINVAL, "model: training needs a batch of 2 or more "
                       "(batch norm), got %lld", (long long)s.n);
    FW_TRY(fw_resnet_forward(m->backbone, training, x, &m->features, err));
    FW_TRY(fw_neck_forward(m->neck, training, step, m->features, &m->emb, err));
    m->x = x;
    m->n = (int)s.n;
    m->can_backward = training;
    *emb = m->emb;
    return 0;
}

int fw_model_backward_tensor(fw_model *m, const fw_tensor *d_emb, fw_error *err)
{
    if (!m->can_backward)
        return fw_fail(err, FW_EINVAL, "model: backward without a training forward before it");
    fw_shape s = m->ops->tensor_shape(d_emb);
    if (s.n != m->n || s.c * s.h * s.w != m->cfg.embedding_dim)
        return fw_fail(err, FW_EINVAL, "model: embedding gradient (%lld, %lld), expected "
                       "(%d, %d)", (long long)s.n, (long long)(s.c * s.h * s.w), m->n,
                       m->cfg.embedding_dim);
    m->can_backward = 0; /* the saved state is consumed */
    unsigned flags = FW_GRAD_ACCUMULATE;
    FW_TRY(fw_neck_backward(m->neck, m->features, d_emb,
                            fw_resnet_grad_features(m->backbone), flags, err));
    return fw_resnet_backward(m->backbone, m->x, flags, err);
}

int fw_model_forward(fw_model *m, int training, uint64_t step, const float *x, int n, int h,
                     int w, float *emb, fw_error *err)
{
    m->can_backward = 0;
    if (n < 1 || h < 1 || w < 1)
        return fw_fail(err, FW_EINVAL, "model: input %d x %d x %d", n, h, w);
    fw_shape s = {n, m->cfg.in_channels, h, w};
    FW_TRY(m->ops->tensor_copy_in(m->be, m->input, s, x, err));
    const fw_tensor *out;
    FW_TRY(fw_model_forward_tensor(m, training, step, m->input, &out, err));
    FW_TRY(m->ops->tensor_copy_out(m->be, out, emb, err));
    return m->ops->sync(m->be, err);
}

int fw_model_set_image_cache(fw_model *m, const uint8_t *cache, int64_t items, int sw, int sh,
                             int sc, fw_error *err)
{
    if (!m->ops->augment_set_cache)
        return fw_fail(err, FW_EUNSUPPORTED, "model: the %s backend cannot augment",
                       m->ops->name);
    if (sc != m->cfg.in_channels)
        return fw_fail(err, FW_EINVAL, "model: images of %d channels for a %d-channel model",
                       sc, m->cfg.in_channels);
    return m->ops->augment_set_cache(m->be, cache, items, sw, sh, sc, err);
}

int fw_model_forward_augmented(fw_model *m, int training, uint64_t step,
                               const fw_aug_params *params, const int64_t *items, int n, int h,
                               int w, float *emb, fw_error *err)
{
    m->can_backward = 0;
    if (n < 1 || h < 1 || w < 1)
        return fw_fail(err, FW_EINVAL, "model: input %d x %d x %d", n, h, w);
    FW_TRY(m->ops->augment_batch(m->be, params, items, n, w, h, m->input, err));
    const fw_tensor *out;
    FW_TRY(fw_model_forward_tensor(m, training, step, m->input, &out, err));
    FW_TRY(m->ops->tensor_copy_out(m->be, out, emb, err));
    return m->ops->sync(m->be, err);
}

int fw_model_backward(fw_model *m, const float *d_emb, fw_error *err)
{
    if (!m->can_backward)
        return fw_fail(err, FW_EINVAL, "model: backward without a training forward before it");
    fw_shape s = {m->n, m->cfg.embedding_dim, 1, 1};
    FW_TRY(m->ops->tensor_copy_in(m->be, m->d_emb, s, d_emb, err));
    FW_TRY(fw_model_backward_tensor(m, m->d_emb, err));
    return m->ops->sync(m->be, err);
}
