/* neck.c — pooling -> BN1d -> dropout -> FC -> BN1d on the backend (see neck.h). */
#include "neck.h"

#include <stdlib.h>

#include "model_params.h"

struct fw_neck {
    const fw_backend_ops *ops;
    fw_backend *be;
    fw_neck_config cfg;
    fw_param *p;                /* (1) GeM only */
    fw_gem *gem;                /* GeM only */
    fw_pool *avg;               /* average pooling only */
    fw_bn_unit bn1, bn2;
    fw_dropout *drop;           /* NULL when dropout == 0 */
    fw_param *fc_w, *fc_b;      /* (D, C), (D) */
    fw_linear *fc;
    fw_tensor *pooled;          /* (N, C, 1, 1) */
    fw_tensor *bn1_out;         /* (N, C, 1, 1) */
    fw_tensor *drop_out;        /* (N, C, 1, 1), when dropout */
    fw_tensor *fc_out;          /* (N, D, 1, 1) */
    fw_tensor *emb;             /* (N, D, 1, 1) */
    fw_tensor *g1, *g2;         /* gradient scratch */
};

int fw_neck_create(const fw_backend_ops *ops, fw_backend *be, const fw_neck_config *cfg,
                   fw_param_list *list, fw_neck **out, fw_error *err)
{
    *out = NULL;
    if (cfg->in_channels < 1 || cfg->dim < 1)
        return fw_fail(err, FW_EINVAL, "neck: %d channels -> %d dims", cfg->in_channels,
                       cfg->dim);
    if (!(cfg->dropout >= 0.0f && cfg->dropout < 1.0f))
        return fw_fail(err, FW_EINVAL, "neck: dropout %g not in [0, 1)", (double)cfg->dropout);
    if (cfg->pool != FW_NECK_GEM && cfg->pool != FW_NECK_AVG)
        return fw_fail(err, FW_EINVAL, "neck: unknown pooling %d", (int)cfg->pool);
    if (cfg->pool == FW_NECK_GEM && !(cfg->gem_p > 0.0f))
        return fw_fail(err, FW_EINVAL, "neck: GeM p %g must be > 0", (double)cfg->gem_p);
    fw_neck *n = calloc(1, sizeof *n);
    if (!n)
        return fw_fail(err, FW_ENOMEM, "neck: out of memory");
    n->ops = ops;
    n->be = be;
    n->cfg = *cfg;
    int rc = 0;
    if (cfg->pool == FW_NECK_GEM) {
        int64_t one = 1;
        rc = fw_mp_add(list, "neck.pool.p", 1, &one, FW_PARAM_NO_DECAY, &n->p, err);
        if (!rc) {
            n->p->data[0] = cfg->gem_p;
            rc = ops->gem_create(be, n->p, 1e-6f, &n->gem, err);
        }
    } else {
        fw_pool_desc pd = {.kind = FW_POOL_AVG, .global = 1};
        rc = ops->pool_create(be, &pd, &n->avg, err);
    }
    if (!rc)
        rc = fw_bn_unit_create(ops, be, list, "neck.bn1", cfg->in_channels, &n->bn1, err);
    if (!rc && cfg->dropout > 0.0f)
        rc = ops->dropout_create(be, cfg->dropout, cfg->seed, &n->drop, err);
    int64_t wshape[2] = {cfg->dim, cfg->in_channels}, bshape = cfg->dim;
    if (!rc)
        rc = fw_mp_add(list, "neck.fc.weight", 2, wshape, 0, &n->fc_w, err);
    if (!rc)
        rc = fw_mp_add(list, "neck.fc.bias", 1, &bshape, FW_PARAM_NO_DECAY, &n->fc_b, err);
    if (!rc)
        rc = ops->linear_create(be, cfg->in_channels, cfg->dim, n->fc_w, n->fc_b, &n->fc, err);
    if (!rc)
        rc = fw_bn_unit_create(ops, be, list, "neck.bn2", cfg->dim, &n->bn2, err);
    fw_tensor **tensors[] = {&n->pooled, &n->bn1_out, &n->drop_out, &n->fc_out, &n->emb,
                             &n->g1, &n->g2};
    for (size_t i = 0; i < sizeof tensors / sizeof tensors[0] && !rc; i++)
        rc = ops->tensor_create(be, tensors[i], err);
    if (rc) {
        fw_neck_destroy(n);
        return rc;
    }
    *out = n;
    return 0;
}

void fw_neck_destroy(fw_neck *n)
{
    if (!n)
        return;
    const fw_backend_ops *ops = n->ops;
    ops->gem_destroy(n->be, n->gem);
    ops->pool_destroy(n->be, n->avg);
    fw_bn_unit_destroy(ops, n->be, &n->bn1);
    fw_bn_unit_destroy(ops, n->be, &n->bn2);
    ops->dropout_destroy(n->be, n->drop);
    ops->linear_destroy(n->be, n->fc);
    fw_tensor *tensors[] = {n->pooled, n->bn1_out, n->drop_out, n->fc_out, n->emb, n->g1,
                            n->g2};
    for (size_t i = 0; i < sizeof tensors / sizeof tensors[0]; i++)
        ops->tensor_free(n->be, tensors[i]);
    free(n);
}

int fw_neck_set_bn_sync(fw_neck *n, fw_bn_sync_fn fn, void *ctx, fw_error *err)
{
    FW_TRY(n->ops->bn_set_sync(n->be, n->bn1.op, fn, ctx, err));
    return n->ops->bn_set_sync(n->be, n->bn2.op, fn, ctx, err);
}

static const fw_tensor *fc_input(const fw_neck *n)
{
    return n->drop ? n->drop_out : n->bn1_out;
}

int fw_neck_forward(fw_neck *n, int training, uint64_t stream, const fw_tensor *features,
                    const fw_tensor **embedding, fw_error *err)
{
    const fw_backend_ops *ops = n->ops;
    if (n->gem)
        FW_TRY(ops->gem_forward(n->be, n->gem, features, n->pooled, err));
    else
        FW_TRY(ops->pool_forward(n->be, n->avg, features, n->pooled, err));
    FW_TRY(fw_bn_unit_forward(ops, n->be, &n->bn1, training, n->pooled, n->bn1_out, err));
    if (n->drop)
        FW_TRY(ops->dropout_forward(n->be, n->drop, training, stream, n->bn1_out, n->drop_out,
                                    err));
    FW_TRY(ops->linear_forward(n->be, n->fc, fc_input(n), n->fc_out, err));
    FW_TRY(fw_bn_unit_forward(ops, n->be, &n->bn2, training, n->fc_out, n->emb, err));
    *embedding = n->emb;
    return 0;
}

int fw_neck_backward(fw_neck *n, const fw_tensor *features, const fw_tensor *d_embedding,
                     fw_tensor *d_features, unsigned flags, fw_error *err)
{
    const fw_backend_ops *ops = n->ops;
    FW_TRY(ops->bn_backward(n->be, n->bn2.op, n->fc_out, d_embedding, n->g1, flags, err));
    FW_TRY(ops->linear_backward(n->be, n->fc, fc_input(n), n->g1, n->g2, flags, err));
    fw_tensor *d_bn1_out = n->g2;
    if (n->drop) {
        FW_TRY(ops->dropout_backward(n->be, n->drop, n->g2, n->g1, err));
        d_bn1_out = n->g1;
    }
    fw_tensor *d_pooled = d_bn1_out == n->g1 ? n->g2 : n->g1;
    FW_TRY(ops->bn_backward(n->be, n->bn1.op, n->pooled, d_bn1_out, d_pooled, flags, err));
    if (n->gem)
        return ops->gem_backward(n->be, n->gem, features, n->pooled, d_pooled, d_features,
                                 flags, err);
    return ops->pool_backward(n->be, n->avg, d_pooled, d_features, err);
}
