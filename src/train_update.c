/* train_update.c — the update after the backward, on the host or on the
 * backend (see train_update.h). */
#include "train_update.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int is_trained(const fw_param *p)
{
    return p->grad && !(p->flags & FW_PARAM_BUFFER);
}

/* Unset or "auto": on the backend when it can; "host": never. */
static int env_allows_backend(fw_error *err)
{
    const char *v = getenv("FLUKEWATCH_UPDATE");
    if (!v || !*v || strcmp(v, "auto") == 0)
        return 1;
    if (strcmp(v, "host") == 0)
        return 0;
    return fw_fail(err, FW_EINVAL, "FLUKEWATCH_UPDATE='%.40s': expected auto or host", v);
}

static int bind_backend_tensors(fw_train_update *u, fw_on_backend_fn on_backend, void *ctx,
                                fw_error *err)
{
    int n;
    fw_optim_tensor *t = fw_optim_tensors(u->optim, &n);
    size_t cap = (size_t)(n ? n : 1);
    u->bound = malloc(cap * sizeof *u->bound);
    u->coeffs = malloc(cap * sizeof *u->coeffs);
    u->mult = malloc(cap * sizeof *u->mult);
    u->model = malloc(cap * sizeof *u->model);
    fw_update_tensor *list = malloc(cap * sizeof *list);
    int rc = FW_OK;
    if (!u->bound || !u->coeffs || !u->mult || !u->model || !list) {
        rc = fw_fail(err, FW_ENOMEM, "update: out of memory for %d tensors", n);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        if (!on_backend(t[i].param, ctx))
            continue; /* computed on the host (a head term there) */
        list[u->n_bound] = (fw_update_tensor){t[i].param, t[i].buf, t[i].sq};
        u->model[u->n_bound] = !(t[i].param->flags & FW_PARAM_HEAD);
        u->bound[u->n_bound++] = i;
    }
    rc = u->ops->update_bind(u->be, list, u->n_bound, err);
    if (rc == FW_OK) {
        for (int k = 0; k < u->n_bound; k++)
            t[u->bound[k]].external = 1;
        u->on_backend = 1;
        for (int i = 0; i < u->params->n; i++)
            u->held[i] = on_backend(u->params->items[i], ctx);
    }
done:
    free(list);
    return rc;
}

int fw_train_update_init(fw_train_update *u, const fw_backend_ops *ops, fw_backend *be,
                         fw_optim *optim, fw_param_list *params, int allow_backend,
                         fw_on_backend_fn on_backend, void *ctx, fw_error *err)
{
    memset(u, 0, sizeof *u);
    u->ops = ops;
    u->be = be;
    u->optim = optim;
    u->params = params;
    u->held = calloc((size_t)(params->n ? params->n : 1), sizeof *u->held);
    if (!u->held)
        return fw_fail(err, FW_ENOMEM, "update: out of memory");
    if (!ops->update_bind || !allow_backend)
        return FW_OK;
    int rc = env_allows_backend(err);
    if (rc > 0)
        rc = bind_backend_tensors(u, on_backend, ctx, err);
    if (rc < 0)
        fw_train_update_free(u); /* nothing is left allocated on failure */
    return rc < 0 ? rc : FW_OK;
}

void fw_train_update_free(fw_train_update *u)
{
    free(u->bound);
    free(u->coeffs);
    free(u->mult);
    free(u->model);
    free(u->held);
    memset(u, 0, sizeof *u);
}

int fw_train_update_allreduce(fw_train_update *u, fw_buffers_sum_fn fn, void *ctx,
                              fw_error *err)
{
    if (!u->on_backend)
        return FW_OK;
    if (!u->ops->update_allreduce)
        return fw_fail(err, FW_EUNSUPPORTED, "update: this backend cannot sum its gradients "
                       "over ranks");
    return u->ops->update_allreduce(u->be, u->model, fn, ctx, err);
}

void fw_train_update_zero_grads(fw_train_update *u)
{
    /* what a given-up step left on the backend (its gradients) goes too */
    if (u->ops->discard_pending)
        u->ops->discard_pending(u->be);
    for (int i = 0; i < u->params->n; i++) {
        fw_param *p = u->params->items[i];
        if (p->grad && !u->held[i])
            memset(p->grad, 0, (size_t)p->numel * sizeof(float));
    }
}

/* Sum of squares of one tensor's gradient, in double. */
static double grad_sumsq(const fw_param *p)
{
    double sum = 0.0;
    for (int64_t k = 0; k < p->numel; k++)
        sum += (double)p->grad[k] * (double)p->grad[k];
    return sum;
}

/* Host path, loss scaling: 1 when the step may go on (the model's gradients
 * then divided by the scale), 0 after an overflow. */
static int host_unscale(fw_train_update *u, fw_loss_scaler *scaler, double scale)
{
    if (!scaler->enabled)
        return 1;
    int finite = 1;
    for (int i = 0; finite && i < u->params->n; i++) {
        const fw_param *p = u->params->items[i];
        if (!p->grad || (p->flags & FW_PARAM_HEAD))
            continue;
        for (int64_t j = 0; j < p->numel; j++)
            if (!isfinite(p->grad[j])) {
                finite = 0;
                break;
            }
    }
    if (!fw_loss_scaler_update(scaler, finite))
        return 0;
    float inv = (float)(1.0 / scale); /* exact: S is a power of two */
    for (int i = 0; i < u->params->n; i++) {
        fw_param *p = u->params->items[i];
        if (p->grad && !(p->flags & FW_PARAM_HEAD))
            for (int64_t j = 0; j < p->numel; j++)
                p->grad[j] *= inv;
    }
    return 1;
}

/* Backend path: the norm's sums over the tensors the backend holds come
 * from it, the host's are added after them (the same order as
 * fw_grad_global_norm when the held tensors come first). u->mult receives
 * each held tensor's factor: the loss scale's inverse for the model's
 * (not the head's), times the clipping factor. */
static int backend_norm(fw_train_update *u, fw_loss_scaler *scaler, double scale,
                        double clip_norm, fw_update_result *res, fw_error *err)
{
    float inv = scaler->enabled ? (float)(1.0 / scale) : 1.0f;
    for (int k = 0; k < u->n_bound; k++)
        u->mult[k] = u->model[k] ? inv : 1.0f;
    double total;
    int finite;
    FW_TRY(u->ops->update_grad_sumsq(u->be, u->mult, &total, &finite, err));
    if (scaler->enabled && !fw_loss_scaler_update(scaler, finite)) {
        res->skipped = res->overflow = 1;
        res->grad_norm = NAN;
        return FW_OK;
    }
    for (int i = 0; i < u->params->n; i++) {
        const fw_param *p = u->params->items[i];
        if (is_trained(p) && !u->held[i])
            total += grad_sumsq(p);
    }
    double norm = sqrt(total);
    res->grad_norm = norm;
    if (clip_norm > 0 && isfinite(norm)) {
        /* torch.nn.utils.clip_grad_norm_, as fw_clip_grad_norm */
        double coef = clip_norm / (norm + 1e-6);
        if (coef < 1.0) {
            float f = (float)coef;
            for (int i = 0; i < u->params->n; i++) {
                fw_param *p = u->params->items[i];
                if (is_trained(p) && !u->held[i])
                    for (int64_t k = 0; k < p->numel; k++)
                        p->grad[k] *= f;
            }
            for (int k = 0; k < u->n_bound; k++)
                u->mult[k] *= f; /* (inv is a power of two: exact) */
        }
    }
    return FW_OK;
}

int fw_train_update_apply(fw_train_update *u, fw_loss_scaler *scaler, double scale,
                          double clip_norm, double lr, double momentum,
                          fw_update_result *res, fw_error *err)
{
    memset(res, 0, sizeof *res);
    if (clip_norm > 0 && !isfinite(clip_norm))
        return fw_fail(err, FW_EINVAL, "clip: max norm %g must be finite and > 0", clip_norm);
    if (u->on_backend) {
        FW_TRY(backend_norm(u, scaler, scale, clip_norm, res, err));
        if (res->overflow)
            return FW_OK;
    } else {
        if (!host_unscale(u, scaler, scale)) {
            res->skipped = res->overflow = 1;
            res->grad_norm = NAN;
            return FW_OK;
        }
        if (clip_norm > 0) {
            int rc = fw_clip_grad_norm(u->params, clip_norm, &res->grad_norm, err);
            if (rc < 0)
                return rc;
        } else {
            res->grad_norm = fw_grad_global_norm(u->params);
        }
    }
    if (!isfinite(res->grad_norm)) {
        res->skipped = 1;
        return FW_OK;
    }
    fw_optim_set_hyper(u->optim, lr, momentum);
    fw_optim_hyper h;
    FW_TRY(fw_optim_prepare(u->optim, &h, err));
    FW_TRY(fw_optim_update(u->optim, err));
    if (u->on_backend) {
        int n;
        const fw_optim_tensor *t = fw_optim_tensors(u->optim, &n);
        for (int k = 0; k < u->n_bound; k++)
            u->coeffs[k] = t[u->bound[k]].c;
        FW_TRY(u->ops->update_step(u->be, &h, u->coeffs, u->mult, err));
        u->host_stale = 1;
    } else {
        u->ops->params_updated(u->be);
    }
    fw_optim_finish(u->optim);
    return FW_OK;
}

int fw_train_update_to_host(fw_train_update *u, fw_error *err)
{
    if (!u->host_stale)
        return FW_OK;
    FW_TRY(u->ops->update_to_host(u->be, err));
    u->host_stale = 0;
    return FW_OK;
}

void fw_train_update_host_written(fw_train_update *u)
{
    u->ops->params_updated(u->be);
    u->host_stale = 0;
}
