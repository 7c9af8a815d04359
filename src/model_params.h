/* model_params.h — building blocks shared by the backbone and the neck: a growing
 * list of named parameters the model owns (allocation, lookup, freeing) and the
 * "batch norm unit" (its five state_dict tensors plus the backend op).
 *
 * Names and order follow PyTorch's state_dict: a module's parameters first, then
 * its buffers (weight, bias, running_mean, running_var, num_batches_tracked).
 */
#ifndef FW_MODEL_PARAMS_H
#define FW_MODEL_PARAMS_H

#include "backend.h"
#include "fw_error.h"
#include "param.h"

/* Append a new zero-filled tensor `name` with `ndim` dims (ndim 0: a scalar) to
 * list; grad is allocated unless flags has FW_PARAM_BUFFER. The list owns it. */
int fw_mp_add(fw_param_list *list, const char *name, int ndim, const int64_t *shape,
              int flags, fw_param **out, fw_error *err);

/* The tensor called name, or NULL. */
fw_param *fw_mp_find(const fw_param_list *list, const char *name);

/* Free every tensor of the list and the list's array. */
void fw_mp_free(fw_param_list *list);

/* One batch norm: "PREFIX.weight", ".bias", ".running_mean", ".running_var",
 * ".num_batches_tracked" (PyTorch's eps 1e-5, momentum 0.1). */
typedef struct fw_bn_unit {
    fw_bn *op;
    fw_param *weight, *bias, *running_mean, *running_var, *num_batches_tracked;
} fw_bn_unit;

/* Add the five tensors (weight 1, bias 0, mean 0, var 1) and create the op. */
int fw_bn_unit_create(const fw_backend_ops *ops, fw_backend *be, fw_param_list *list,
                      const char *prefix, int channels, fw_bn_unit *u, fw_error *err);
void fw_bn_unit_destroy(const fw_backend_ops *ops, fw_backend *be, fw_bn_unit *u);

/* Training forward counts the batch in num_batches_tracked (as PyTorch). */
int fw_bn_unit_forward(const fw_backend_ops *ops, fw_backend *be, fw_bn_unit *u,
                       int training, const fw_tensor *x, fw_tensor *y, fw_error *err);

#endif
