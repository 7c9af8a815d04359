/* device_info.cu — probing the CUDA runtime, driver, cuDNN, cuBLAS and NCCL
 * (see device_info.h). Nothing here needs a GPU to be present. */
#include "device_info.h"

#include <string.h>

#include "cuda_check.h"

extern "C" int fw_gpu_probe(fw_gpu_info *info, fw_error *err)
{
    memset(info, 0, sizeof *info);
    cudaRuntimeGetVersion(&info->runtime_version);
    if (cudaDriverGetVersion(&info->driver_version) != cudaSuccess)
        info->driver_version = 0;
    info->cudnn_version = cudnnGetVersion();
    int major = 0, minor = 0, patch = 0;
    CUBLAS_CHECK(cublasGetProperty(MAJOR_VERSION, &major));
    CUBLAS_CHECK(cublasGetProperty(MINOR_VERSION, &minor));
    CUBLAS_CHECK(cublasGetProperty(PATCH_LEVEL, &patch));
    info->cublas_version = major * 10000 + minor * 100 + patch;
    NCCL_CHECK(ncclGetVersion(&info->nccl_version));

    int count = 0; /* left unset by the runtime when there is no driver */
    cudaError_t rc = cudaGetDeviceCount(&count);
    if (rc != cudaSuccess) {
        snprintf(info->no_device_reason, sizeof info->no_device_reason, "%s",
                 cudaGetErrorString(rc));
        cudaGetLastError(); /* clear the sticky-free error state */
        return FW_OK;
    }
    if (count == 0)
        snprintf(info->no_device_reason, sizeof info->no_device_reason, "no CUDA devices");
    if (count > FW_MAX_GPUS)
        count = FW_MAX_GPUS;
    info->device_count = count;
    for (int d = 0; d < count; d++) {
        cudaDeviceProp prop;
        CUDA_CHECK(cudaGetDeviceProperties(&prop, d));
        fw_gpu_device *g = &info->devices[d];
        snprintf(g->name, sizeof g->name, "%s", prop.name);
        g->total_memory = prop.totalGlobalMem;
        g->cc_major = prop.major;
        g->cc_minor = prop.minor;
        g->multiprocessors = prop.multiProcessorCount;
    }
    return FW_OK;
}
