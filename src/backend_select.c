/* backend_select.c — from a run's device string ("cpu", "cuda", "cuda:N,...")
 * to the backend ops and options that train on it, with a plain message when
 * this build or this machine cannot. */
#include "backend_select.h"

#include <string.h>

#include "config.h"
#include "sanitize.h"
#ifdef FW_CUDA_BACKEND
#include "gpu/device_info.h"
#endif

#ifndef FW_CUDA_BACKEND
/* A build without the CUDA backend (no toolkit) has no CUDA ops. */
const fw_backend_ops *fw_backend_cuda(void)
{
    return NULL;
}
#endif

/* precision=auto: bf16 on a GPU of compute capability 8.0 or newer, else fp32
 * (also when no GPU answers: create() then says why). */
static fw_precision auto_precision(const char *device, int device_index)
{
#ifdef FW_CUDA_BACKEND
    if (strncmp(device, "cuda", 4) == 0) {
        fw_gpu_info info;
        fw_error err;
        if (fw_gpu_probe(&info, &err) == FW_OK && device_index >= 0 &&
            device_index < info.device_count && device_index < FW_MAX_GPUS &&
            info.devices[device_index].cc_major >= 8)
            return FW_PRECISION_BF16;
    }
#else
    (void)device;
    (void)device_index;
#endif
    return FW_PRECISION_FP32;
}

int fw_backend_for_device(const char *device, int device_index, fw_precision precision,
                          int threads, const fw_backend_ops **ops, fw_backend_options *opt,
                          fw_error *err)
{
    *ops = NULL;
    memset(opt, 0, sizeof *opt);
    opt->threads = threads;
    opt->device = device_index;
    opt->precision = precision == FW_PRECISION_AUTO ? auto_precision(device, device_index)
                                                    : precision;
    precision = opt->precision;
    if (strcmp(device, "cpu") == 0) {
        if (precision != FW_PRECISION_FP32)
            return fw_fail(err, FW_EINVAL,
                           "precision %s needs device=cuda (the CPU backend computes in fp32)",
                           precision == FW_PRECISION_BF16 ? "bf16" : "fp16");
        *ops = fw_backend_cpu();
        return FW_OK;
    }
    if (strncmp(device, "cuda", 4) != 0) {
        char shown[96];
        fw_sanitize(device, shown, sizeof shown);
        return fw_fail(err, FW_EINVAL, "device: expected cpu or cuda[:N,...], got '%s'", shown);
    }
    *ops = fw_backend_cuda();
    if (!*ops)
        return fw_fail(err, FW_EUNSUPPORTED,
                       "device=cuda: this flukewatch was built without the CUDA toolkit "
                       "(configure found none); use device=cpu or rebuild with --with-cuda");
    return FW_OK;
}
