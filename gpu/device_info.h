/* device_info.h — what GPUs and GPU libraries this process can use.
 *
 * Safe on machines with no GPU and no driver: the probe then reports zero
 * devices and the driver's error text instead of failing. Declared for C;
 * implemented in CUDA C (device_info.cu) and compiled only with the toolkit.
 */
#ifndef FW_DEVICE_INFO_H
#define FW_DEVICE_INFO_H

#include <stddef.h>

#include "../src/fw_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FW_MAX_GPUS 16

typedef struct fw_gpu_device {
    char name[256];
    size_t total_memory;  /* bytes */
    int cc_major, cc_minor;
    int multiprocessors;
} fw_gpu_device;

typedef struct fw_gpu_info {
    int runtime_version;   /* cudaRuntimeGetVersion, e.g. 13000 */
    int driver_version;    /* 0 when no driver */
    size_t cudnn_version;  /* cudnnGetVersion, e.g. 91900 */
    int cublas_version;    /* major*10000 + minor*100 + patch */
    int nccl_version;      /* ncclGetVersion, e.g. 22800 */
    int device_count;      /* 0 with no GPU / no driver */
    char no_device_reason[256]; /* why device_count is 0 ("" otherwise) */
    fw_gpu_device devices[FW_MAX_GPUS];
} fw_gpu_info;

/* Fill info. Returns FW_OK even with no GPU (see device_count and
 * no_device_reason); FW_EDEVICE only for unexpected library failures. */
int fw_gpu_probe(fw_gpu_info *info, fw_error *err);

#ifdef __cplusplus
}
#endif

#endif
