/* model_params.c — the model's named parameter list and batch-norm units (see
 * model_params.h). */
#include "model_params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float *alloc_floats(int64_t n)
{
    size_t bytes = ((size_t)n * sizeof(float) + 63) & ~(size_t)63;
    float *p = aligned_alloc(64, bytes ? bytes : 64);
    if (p)
        memset(p, 0, bytes);
    return p;
}

int fw_mp_add(fw_param_list *list, const char *name, int ndim, const int64_t *shape,
              int flags, fw_param **out, fw_error *err)
{
    if (ndim < 0 || ndim > FW_PARAM_MAX_DIMS || strlen(name) >= FW_PARAM_NAME_MAX)
        return fw_fail(err, FW_EINVAL, "parameter %s: bad name or rank %d", name, ndim);
    if (list->n == list->cap) {
        int cap = list->cap ? 2 * list->cap : 64;
        fw_param **items = realloc(list->items, (size_t)cap * sizeof *items);
        if (!items)
            return fw_fail(err, FW_ENOMEM, "parameter list: out of memory");
        list->items = items;
        list->cap = cap;
    }
    fw_param *p = calloc(1, sizeof *p);
    if (!p)
        return fw_fail(err, FW_ENOMEM, "parameter %s: out of memory", name);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->ndim = ndim;
    p->numel = 1;
    for (int i = 0; i < ndim; i++) {
        p->shape[i] = shape[i];
        p->numel *= shape[i];
    }
    p->flags = flags;
    p->data = alloc_floats(p->numel);
    p->grad = (flags & FW_PARAM_BUFFER) ? NULL : alloc_floats(p->numel);
    if (!p->data || (!(flags & FW_PARAM_BUFFER) && !p->grad)) {
        long long numel = (long long)p->numel;
        free(p->data);
        free(p->grad);
        free(p);
        return fw_fail(err, FW_ENOMEM, "parameter %s: out of memory (%lld floats)", name,
                       numel);
    }
    list->items[list->n++] = p;
    if (out)
        *out = p;
    return 0;
}

fw_param *fw_mp_find(const fw_param_list *list, const char *name)
{
    for (int i = 0; i < list->n; i++)
        if (strcmp(list->items[i]->name, name) == 0)
            return list->items[i];
    return NULL;
}

void fw_mp_free(fw_param_list *list)
{
    for (int i = 0; i < list->n; i++) {
        free(list->items[i]->data);
        free(list->items[i]->grad);
        free(list->items[i]);
    }
    free(list->items);
    memset(list, 0, sizeof *list);
}

static int add_named(fw_param_list *list, const char *prefix, const char *leaf, int ndim,
                     int64_t channels, int flags, fw_param **out, fw_error *err)
{
    char name[FW_PARAM_NAME_MAX];
    int len = snprintf(name, sizeof name, "%s.%s", prefix, leaf);
    if (len < 0 || len >= (int)sizeof name)
        return fw_fail(err, FW_EINVAL, "parameter name %s.%s too long", prefix, leaf);
    return fw_mp_add(list, name, ndim, &channels, flags, out, err);
}

int fw_bn_unit_create(const fw_backend_ops *ops, fw_backend *be, fw_param_list *list,
                      const char *prefix, int channels, fw_bn_unit *u, fw_error *err)
{
    memset(u, 0, sizeof *u);
    FW_TRY(add_named(list, prefix, "weight", 1, channels, FW_PARAM_NO_DECAY, &u->weight, err));
    FW_TRY(add_named(list, prefix, "bias", 1, channels, FW_PARAM_NO_DECAY, &u->bias, err));
    FW_TRY(add_named(list, prefix, "running_mean", 1, channels, FW_PARAM_BUFFER,
                     &u->running_mean, err));
    FW_TRY(add_named(list, prefix, "running_var", 1, channels, FW_PARAM_BUFFER,
                     &u->running_var, err));
    FW_TRY(add_named(list, prefix, "num_batches_tracked", 0, 1, FW_PARAM_BUFFER,
                     &u->num_batches_tracked, err));
    for (int c = 0; c < channels; c++) {
        u->weight->data[c] = 1.0f;
        u->running_var->data[c] = 1.0f;
    }
    return ops->bn_create(be, channels, 1e-5f, 0.1f, u->weight, u->bias, u->running_mean,
                          u->running_var, &u->op, err);
}

void fw_bn_unit_destroy(const fw_backend_ops *ops, fw_backend *be, fw_bn_unit *u)
{
    ops->bn_destroy(be, u->op);
    u->op = NULL;
}

int fw_bn_unit_forward(const fw_backend_ops *ops, fw_backend *be, fw_bn_unit *u,
                       int training, const fw_tensor *x, fw_tensor *y, fw_error *err)
{
    FW_TRY(ops->bn_forward(be, u->op, training, x, y, err));
    if (training)
        u->num_batches_tracked->data[0] += 1.0f;
    return 0;
}
