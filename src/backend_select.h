/* backend_select.h — pick the backend for a device string. */
#ifndef FW_BACKEND_SELECT_H
#define FW_BACKEND_SELECT_H

#include "backend.h"

/* device: "cpu" or "cuda..." (already validated by run_config); device_index:
 * the GPU of this replica. Fills *ops and *opt (threads, device, precision,
 * with FW_PRECISION_AUTO resolved: bf16 on GPUs of compute capability >= 8.0,
 * fp32 elsewhere).
 * Fails plainly when the build has no CUDA backend or precision is not fp32
 * on the CPU. Whether a GPU is actually there is found by ops->create. */
int fw_backend_for_device(const char *device, int device_index, fw_precision precision,
                          int threads, const fw_backend_ops **ops, fw_backend_options *opt,
                          fw_error *err);

#endif
