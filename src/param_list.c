/* param_list.c — building, searching and snapshotting fw_param lists. */
#include "param_list.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fw_param_list_init(fw_param_list *list)
{
    list->items = NULL;
    list->n = 0;
    list->cap = 0;
}

int fw_param_list_index(const fw_param_list *list, const char *name)
{
    for (int i = 0; i < list->n; i++)
        if (strcmp(list->items[i]->name, name) == 0)
            return i;
    return -1;
}

fw_param *fw_param_list_find(const fw_param_list *list, const char *name)
{
    int i = fw_param_list_index(list, name);
    return i < 0 ? NULL : list->items[i];
}

int fw_param_list_append(fw_param_list *list, fw_param *param, fw_error *err)
{
    if (!param || !param->name[0])
        return fw_fail(err, FW_EINVAL, "param list: tensor without a name");
    if (fw_param_list_index(list, param->name) >= 0)
        return fw_fail(err, FW_EINVAL, "param list: duplicate tensor name '%s'", param->name);
    if (list->n == list->cap) {
        int cap = list->cap ? list->cap * 2 : 16;
        fw_param **items = realloc(list->items, (size_t)cap * sizeof *items);
        if (!items)
            return fw_fail(err, FW_ENOMEM, "param list: out of memory growing to %d items", cap);
        list->items = items;
        list->cap = cap;
    }
    list->items[list->n++] = param;
    return 0;
}

void fw_param_list_free(fw_param_list *list)
{
    free(list->items);
    fw_param_list_init(list);
}

int fw_param_list_add_owned(fw_param_list *list, const char *name, int ndim,
                            const int64_t *shape, int flags, int with_grad,
                            fw_param **out, fw_error *err)
{
    if (out)
        *out = NULL;
    if (!name || !name[0] || strlen(name) >= FW_PARAM_NAME_MAX)
        return fw_fail(err, FW_EINVAL, "param list: bad tensor name '%.40s' (1..%d bytes)",
                       name ? name : "", FW_PARAM_NAME_MAX - 1);
    if (ndim < 0 || ndim > FW_PARAM_MAX_DIMS)
        return fw_fail(err, FW_EINVAL, "param list: %s: %d dimensions (0..%d)", name, ndim,
                       FW_PARAM_MAX_DIMS);
    int64_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] <= 0 || numel > INT64_MAX / 4 / shape[d])
            return fw_fail(err, FW_EINVAL, "param list: %s: bad size %lld in dimension %d", name,
                           (long long)shape[d], d);
        numel *= shape[d];
    }
    fw_param *p = calloc(1, sizeof *p);
    if (!p)
        return fw_fail(err, FW_ENOMEM, "param list: out of memory for %s", name);
    memcpy(p->name, name, strlen(name) + 1);
    p->ndim = ndim;
    for (int d = 0; d < ndim; d++)
        p->shape[d] = shape[d];
    p->numel = numel;
    p->flags = flags;
    p->data = calloc((size_t)numel, sizeof(float));
    p->grad = with_grad ? calloc((size_t)numel, sizeof(float)) : NULL;
    int rc = 0;
    if (!p->data || (with_grad && !p->grad))
        rc = fw_fail(err, FW_ENOMEM, "param list: out of memory for %s (%lld floats)", name,
                     (long long)numel);
    else
        rc = fw_param_list_append(list, p, err);
    if (rc < 0) {
        free(p->data);
        free(p->grad);
        free(p);
        return rc;
    }
    if (out)
        *out = p;
    return 0;
}

void fw_param_list_free_owned(fw_param_list *list)
{
    for (int i = 0; i < list->n; i++) {
        free(list->items[i]->data);
        free(list->items[i]->grad);
        free(list->items[i]);
    }
    fw_param_list_free(list);
}

int64_t fw_param_list_numel(const fw_param_list *list, int exclude_flags)
{
    int64_t total = 0;
    for (int i = 0; i < list->n; i++)
        if (!(list->items[i]->flags & exclude_flags))
            total += list->items[i]->numel;
    return total;
}

void fw_param_list_zero_grad(fw_param_list *list)
{
    for (int i = 0; i < list->n; i++)
        if (list->items[i]->grad)
            memset(list->items[i]->grad, 0, (size_t)list->items[i]->numel * sizeof(float));
}

int fw_param_list_snapshot(const fw_param_list *const *lists, int n_lists,
                           fw_param_snapshot *snap, fw_error *err)
{
    memset(snap, 0, sizeof *snap);
    int n = 0;
    int64_t total = 0;
    for (int l = 0; l < n_lists; l++) {
        n += lists[l]->n;
        total += fw_param_list_numel(lists[l], 0);
    }
    snap->numel = malloc((size_t)(n ? n : 1) * sizeof *snap->numel);
    snap->data = malloc((size_t)(total ? total : 1) * sizeof(float));
    if (!snap->numel || !snap->data) {
        fw_param_snapshot_free(snap);
        return fw_fail(err, FW_ENOMEM, "snapshot: out of memory for %lld floats", (long long)total);
    }
    snap->n = n;
    int k = 0;
    float *dst = snap->data;
    for (int l = 0; l < n_lists; l++)
        for (int i = 0; i < lists[l]->n; i++, k++) {
            const fw_param *p = lists[l]->items[i];
            snap->numel[k] = p->numel;
            memcpy(dst, p->data, (size_t)p->numel * sizeof(float));
            dst += p->numel;
        }
    return 0;
}

int fw_param_list_restore(fw_param_list *const *lists, int n_lists,
                          const fw_param_snapshot *snap, fw_error *err)
{
    int n = 0;
    for (int l = 0; l < n_lists; l++)
        n += lists[l]->n;
    if (n != snap->n)
        return fw_fail(err, FW_EINVAL, "restore: snapshot has %d tensors, the lists %d", snap->n, n);
    int k = 0;
    for (int l = 0; l < n_lists; l++)
        for (int i = 0; i < lists[l]->n; i++, k++)
            if (lists[l]->items[i]->numel != snap->numel[k])
                return fw_fail(err, FW_EINVAL, "restore: %s has %lld elements, the snapshot %lld",
                               lists[l]->items[i]->name, (long long)lists[l]->items[i]->numel,
                               (long long)snap->numel[k]);
    const float *src = snap->data;
    for (int l = 0; l < n_lists; l++)
        for (int i = 0; i < lists[l]->n; i++) {
            fw_param *p = lists[l]->items[i];
            memcpy(p->data, src, (size_t)p->numel * sizeof(float));
            src += p->numel;
        }
    return 0;
}

void fw_param_snapshot_free(fw_param_snapshot *snap)
{
    free(snap->numel);
    free(snap->data);
    memset(snap, 0, sizeof *snap);
}

void fw_format_shape(char *buf, size_t bufsz, int ndim, const int64_t *shape)
{
    if (bufsz == 0)
        return;
    size_t pos = (size_t)snprintf(buf, bufsz, "(");
    for (int d = 0; d < ndim && pos < bufsz; d++)
        pos += (size_t)snprintf(buf + pos, bufsz - pos, "%s%lld", d ? ", " : "",
                                (long long)shape[d]);
    if (pos < bufsz)
        snprintf(buf + pos, bufsz - pos, ")");
}
