/* param_list.h — helpers for fw_param_list (src/param.h): build, search and
 * free lists, tensors owned by a list, and snapshots of every tensor's data.
 *
 * A list normally borrows its items (the model owns them). A list built with
 * fw_param_list_add_owned owns them instead and is released with
 * fw_param_list_free_owned. Snapshots copy data (not grads) of every item, in
 * list order, so that the LR finder or a "revert" can put weights, buffers and
 * optimizer state back bit for bit.
 */
#ifndef FW_PARAM_LIST_H
#define FW_PARAM_LIST_H

#include <stdint.h>

#include "fw_error.h"
#include "param.h"

/* An empty list (no allocation). */
void fw_param_list_init(fw_param_list *list);

/* Append a borrowed pointer. Fails on allocation failure, a NULL/empty name or
 * a duplicate name. */
int fw_param_list_append(fw_param_list *list, fw_param *param, fw_error *err);

/* The item named `name`, or NULL. Linear search. */
fw_param *fw_param_list_find(const fw_param_list *list, const char *name);

/* Index of `name` in the list, or -1. */
int fw_param_list_index(const fw_param_list *list, const char *name);

/* Free the item array (not the items). The list is empty afterwards. */
void fw_param_list_free(fw_param_list *list);

/* Allocate a zero-filled tensor owned by the list (data, and grad when
 * with_grad) with the given shape and flags, and append it. Returns it in
 * *out (may be NULL). */
int fw_param_list_add_owned(fw_param_list *list, const char *name, int ndim,
                            const int64_t *shape, int flags, int with_grad,
                            fw_param **out, fw_error *err);

/* Free every item (data, grad, struct) and the array: only for lists whose
 * items all came from fw_param_list_add_owned. */
void fw_param_list_free_owned(fw_param_list *list);

/* Total elements of the items whose flags include none of `exclude_flags`. */
int64_t fw_param_list_numel(const fw_param_list *list, int exclude_flags);

/* Zero every grad (items without grad are skipped). */
void fw_param_list_zero_grad(fw_param_list *list);

/* A copy of the data of every item of one list, in order. */
typedef struct fw_param_snapshot {
    int n;           /* number of items */
    int64_t *numel;  /* (n) */
    float *data;     /* (sum numel) concatenated in list order */
} fw_param_snapshot;

/* Copy the data of every item of each list into one snapshot (lists[0]'s
 * items first). n_lists may be 1. */
int fw_param_list_snapshot(const fw_param_list *const *lists, int n_lists,
                           fw_param_snapshot *snap, fw_error *err);

/* Copy a snapshot back into the same lists (same items, same sizes;
 * FW_EINVAL otherwise, and nothing is written). */
int fw_param_list_restore(fw_param_list *const *lists, int n_lists,
                          const fw_param_snapshot *snap, fw_error *err);

void fw_param_snapshot_free(fw_param_snapshot *snap);

/* "(64, 3, 7, 7)" into buf (truncated to bufsz), for error messages. */
void fw_format_shape(char *buf, size_t bufsz, int ndim, const int64_t *shape);

#endif
