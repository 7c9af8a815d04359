/* optim.c — SGD and AdamW updates (PyTorch's formulas, fp32 elementwise) and
 * gradient clipping by global norm. See optim.h for the formulas. */
#include "optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parallel.h"
#include "param_list.h"

#define CHUNK_ELEMS (1 << 16) /* elements per parallel work item */
#define MAX_STEP 16777216.0   /* 2^24: float step counts stay exact below it */

typedef struct chunk {
    int tensor;
    int64_t begin, end;
} chunk;

struct fw_optim {
    fw_optim_config cfg;
    double lr, momentum;
    fw_param_list *params;
    fw_param_list state;  /* owned */
    fw_optim_tensor *t;   /* (n_trained) */
    int n_trained;
    fw_optim_hyper hyper; /* the step being taken (fw_optim_prepare) */
    chunk *chunks;        /* (n_chunks) */
    long n_chunks;
};

void fw_optim_config_default(fw_optim_config *cfg, fw_optim_kind kind)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->kind = kind;
    cfg->beta2 = 0.999;
    cfg->eps = 1e-8;
    cfg->momentum = 0.9;
    cfg->head_lr_mult = 1.0;
    if (kind == FW_OPTIM_ADAMW) {
        cfg->lr = 1e-3;
        cfg->weight_decay = 1e-2;
    } else {
        cfg->lr = 0.1;
        cfg->weight_decay = 5e-4;
    }
}

int fw_optim_kind_parse(const char *name, fw_optim_kind *kind, fw_error *err)
{
    if (strcmp(name, "sgd") == 0)
        *kind = FW_OPTIM_SGD;
    else if (strcmp(name, "adamw") == 0)
        *kind = FW_OPTIM_ADAMW;
    else
        return fw_fail(err, FW_EINVAL, "unknown optimizer '%.60s' (sgd, adamw)", name);
    return 0;
}

const char *fw_optim_kind_name(fw_optim_kind kind)
{
    return kind == FW_OPTIM_ADAMW ? "adamw" : "sgd";
}

static int is_trained(const fw_param *p)
{
    return p->grad && !(p->flags & FW_PARAM_BUFFER);
}

static int add_state(fw_optim *opt, const fw_param *p, const char *suffix, int whole,
                     fw_param **out, fw_error *err)
{
    char name[FW_PARAM_NAME_MAX];
    int len = snprintf(name, sizeof name, "optim.%s.%s", p->name, suffix);
    if (len < 0 || len >= (int)sizeof name)
        return fw_fail(err, FW_EINVAL, "optimizer: state name for '%s' is longer than %d bytes",
                       p->name, FW_PARAM_NAME_MAX - 1);
    int64_t one = 1;
    if (whole)
        return fw_param_list_add_owned(&opt->state, name, p->ndim, p->shape, FW_PARAM_BUFFER, 0,
                                       out, err);
    return fw_param_list_add_owned(&opt->state, name, 1, &one, FW_PARAM_BUFFER, 0, out, err);
}

static int check_config(const fw_optim_config *c, fw_error *err)
{
    if (c->kind != FW_OPTIM_SGD && c->kind != FW_OPTIM_ADAMW)
        return fw_fail(err, FW_EINVAL, "optimizer: unknown kind %d", (int)c->kind);
    if (!(c->lr >= 0) || !isfinite(c->lr))
        return fw_fail(err, FW_EINVAL, "optimizer: lr %g must be >= 0", c->lr);
    if (!(c->momentum >= 0 && c->momentum < 1))
        return fw_fail(err, FW_EINVAL, "optimizer: momentum/beta1 %g must be in [0, 1)",
                       c->momentum);
    if (!(c->weight_decay >= 0) || !isfinite(c->weight_decay))
        return fw_fail(err, FW_EINVAL, "optimizer: weight decay %g must be >= 0", c->weight_decay);
    if (!(c->head_lr_mult >= 0) || !isfinite(c->head_lr_mult))
        return fw_fail(err, FW_EINVAL, "optimizer: head lr multiplier %g must be >= 0",
                       c->head_lr_mult);
    if (c->kind == FW_OPTIM_ADAMW) {
        if (!(c->beta2 >= 0 && c->beta2 < 1))
            return fw_fail(err, FW_EINVAL, "optimizer: beta2 %g must be in [0, 1)", c->beta2);
        if (!(c->eps >= 0) || !isfinite(c->eps))
            return fw_fail(err, FW_EINVAL, "optimizer: eps %g must be >= 0", c->eps);
    } else if (c->nesterov && c->momentum <= 0) {
        return fw_fail(err, FW_EINVAL, "optimizer: Nesterov momentum requires momentum > 0");
    }
    return 0;
}

int fw_optim_create(fw_optim **out, const fw_optim_config *cfg, fw_param_list *params,
                    fw_error *err)
{
    *out = NULL;
    FW_TRY(check_config(cfg, err));
    fw_optim *opt = calloc(1, sizeof *opt);
    if (!opt)
        return fw_fail(err, FW_ENOMEM, "optimizer: out of memory");
    opt->cfg = *cfg;
    opt->lr = cfg->lr;
    opt->momentum = cfg->momentum;
    opt->params = params;
    fw_param_list_init(&opt->state);
    int rc = 0;
    opt->t = calloc((size_t)(params->n ? params->n : 1), sizeof *opt->t);
    if (!opt->t) {
        rc = fw_fail(err, FW_ENOMEM, "optimizer: out of memory");
        goto fail;
    }
    long n_chunks = 0;
    for (int i = 0; i < params->n; i++) {
        fw_param *p = params->items[i];
        if (!is_trained(p))
            continue;
        fw_optim_tensor *t = &opt->t[opt->n_trained++];
        t->param = p;
        if (cfg->kind == FW_OPTIM_SGD) {
            if ((rc = add_state(opt, p, "momentum_buffer", 1, &t->buf, err)) < 0)
                goto fail;
        } else {
            if ((rc = add_state(opt, p, "exp_avg", 1, &t->buf, err)) < 0 ||
                (rc = add_state(opt, p, "exp_avg_sq", 1, &t->sq, err)) < 0)
                goto fail;
        }
        if ((rc = add_state(opt, p, "step", 0, &t->step, err)) < 0)
            goto fail;
        n_chunks += (long)((p->numel + CHUNK_ELEMS - 1) / CHUNK_ELEMS);
    }
    opt->chunks = malloc((size_t)(n_chunks ? n_chunks : 1) * sizeof *opt->chunks);
    if (!opt->chunks) {
        rc = fw_fail(err, FW_ENOMEM, "optimizer: out of memory");
        goto fail;
    }
    for (int i = 0; i < opt->n_trained; i++)
        for (int64_t b = 0; b < opt->t[i].param->numel; b += CHUNK_ELEMS) {
            chunk *c = &opt->chunks[opt->n_chunks++];
            c->tensor = i;
            c->begin = b;
            c->end = b + CHUNK_ELEMS < opt->t[i].param->numel ? b + CHUNK_ELEMS
                                                               : opt->t[i].param->numel;
        }
    *out = opt;
    return 0;
fail:
    fw_optim_destroy(opt);
    return rc;
}

void fw_optim_destroy(fw_optim *opt)
{
    if (!opt)
        return;
    fw_param_list_free_owned(&opt->state);
    free(opt->t);
    free(opt->chunks);
    free(opt);
}

void fw_optim_set_hyper(fw_optim *opt, double lr, double momentum)
{
    opt->lr = lr;
    opt->momentum = momentum;
}

double fw_optim_lr(const fw_optim *opt)
{
    return opt->lr;
}

double fw_optim_momentum(const fw_optim *opt)
{
    return opt->momentum;
}

fw_param_list *fw_optim_state(fw_optim *opt)
{
    return &opt->state;
}

void fw_optim_reset(fw_optim *opt)
{
    for (int i = 0; i < opt->state.n; i++)
        memset(opt->state.items[i]->data, 0, (size_t)opt->state.items[i]->numel * sizeof(float));
}

fw_optim_tensor *fw_optim_tensors(fw_optim *opt, int *n)
{
    *n = opt->n_trained;
    return opt->t;
}

/* One chunk of one tensor with the shared per-element math (optim_math.h). */
static int update_chunk(void *ctx, long item, int worker, fw_error *err)
{
    (void)worker;
    (void)err;
    const fw_optim *opt = ctx;
    const chunk *c = &opt->chunks[item];
    const fw_optim_tensor *t = &opt->t[c->tensor];
    if (t->external)
        return 0;
    float *p = t->param->data, *g = t->param->grad, *buf = t->buf->data;
    if (opt->hyper.adamw) {
        float *sq = t->sq->data;
        for (int64_t i = c->begin; i < c->end; i++)
            fw_adamw_elem(&p[i], g[i], &buf[i], &sq[i], &opt->hyper, &t->c);
    } else {
        for (int64_t i = c->begin; i < c->end; i++)
            fw_sgd_elem(&p[i], g[i], &buf[i], &opt->hyper, &t->c);
    }
    return 0;
}

int fw_optim_prepare(fw_optim *opt, fw_optim_hyper *h, fw_error *err)
{
    const fw_optim_config *c = &opt->cfg;
    if (!(opt->lr >= 0) || !isfinite(opt->lr))
        return fw_fail(err, FW_EINVAL, "optimizer: lr %g must be finite and >= 0", opt->lr);
    if (!(opt->momentum >= 0 && opt->momentum < 1))
        return fw_fail(err, FW_EINVAL, "optimizer: momentum/beta1 %g must be in [0, 1)",
                       opt->momentum);
    fw_optim_hyper hy = {
        .adamw = c->kind == FW_OPTIM_ADAMW,
        .use_momentum = c->kind == FW_OPTIM_SGD && opt->momentum != 0.0,
        .nesterov = c->nesterov,
        .momentum = (float)opt->momentum,
        .one_b1 = (float)(1.0 - opt->momentum),
        .b2 = (float)c->beta2,
        .one_b2 = (float)(1.0 - c->beta2),
        .eps = (float)c->eps,
    };
    /* Per-tensor coefficients; step counts advance only where PyTorch's do. */
    for (int i = 0; i < opt->n_trained; i++) {
        fw_optim_tensor *t = &opt->t[i];
        double lr = opt->lr * ((t->param->flags & FW_PARAM_HEAD) ? c->head_lr_mult : 1.0);
        double wd = (t->param->flags & FW_PARAM_NO_DECAY) ? 0.0 : c->weight_decay;
        double step = t->step->data[0];
        if (!(step >= 0 && step < MAX_STEP) || step != floor(step))
            return fw_fail(err, step >= MAX_STEP ? FW_ETOOBIG : FW_EINVAL,
                           "optimizer: %s: step count %g out of range [0, 2^24)",
                           t->step->name, step);
        fw_optim_coeffs k = {.lr = (float)lr, .wd = (float)wd};
        if (c->kind == FW_OPTIM_SGD) {
            k.first = step == 0;
        } else {
            step += 1;
            k.decay = (float)(1.0 - (double)k.lr * (double)k.wd);
            k.neg_step = -(float)(lr / (1.0 - pow(opt->momentum, step)));
            k.bc2_sqrt = (float)sqrt(1.0 - pow(c->beta2, step));
        }
        t->c = k;
    }
    opt->hyper = hy;
    if (h)
        *h = hy;
    return 0;
}

int fw_optim_update(fw_optim *opt, fw_error *err)
{
    return fw_parallel_for(opt->cfg.threads, opt->n_chunks, update_chunk, opt, err);
}

void fw_optim_finish(fw_optim *opt)
{
    for (int i = 0; i < opt->n_trained; i++)
        if (opt->hyper.adamw || opt->hyper.use_momentum)
            opt->t[i].step->data[0] += 1.0f;
}

int fw_optim_step(fw_optim *opt, fw_error *err)
{
    FW_TRY(fw_optim_prepare(opt, NULL, err));
    FW_TRY(fw_optim_update(opt, err));
    fw_optim_finish(opt);
    return 0;
}

double fw_grad_global_norm(const fw_param_list *params)
{
    double total = 0.0;
    for (int i = 0; i < params->n; i++) {
        const fw_param *p = params->items[i];
        if (!is_trained(p))
            continue;
        double sum = 0.0;
        for (int64_t k = 0; k < p->numel; k++)
            sum += (double)p->grad[k] * (double)p->grad[k];
        total += sum;
    }
    return sqrt(total);
}

int fw_clip_grad_norm(fw_param_list *params, double max_norm, double *total_norm,
                      fw_error *err)
{
    if (!(max_norm > 0) || !isfinite(max_norm))
        return fw_fail(err, FW_EINVAL, "clip: max norm %g must be finite and > 0", max_norm);
    double norm = fw_grad_global_norm(params);
    *total_norm = norm;
    if (!isfinite(norm))
        return FW_CLIP_NONFINITE;
    double coef = max_norm / (norm + 1e-6);
    if (coef >= 1.0)
        return 0;
    float scale = (float)coef;
    for (int i = 0; i < params->n; i++) {
        fw_param *p = params->items[i];
        if (!is_trained(p))
            continue;
        for (int64_t k = 0; k < p->numel; k++)
            p->grad[k] *= scale;
    }
    return 0;
}
