/* cuda_check.h — one error-check macro per GPU library. Each records the
 * failing call, file and line into an fw_error and returns FW_EDEVICE from
 * the enclosing function (which must have an `fw_error *err` in scope) —
 * FW_ENOMEM when the library ran out of device memory, so that the learner
 * can fall back to smaller micro-batches at start-up. */
#ifndef FW_CUDA_CHECK_H
#define FW_CUDA_CHECK_H

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <nccl.h>

#include "../src/fw_error.h"

#define CUDA_CHECK(call)                                                                 \
    do {                                                                                 \
        cudaError_t fw_rc_ = (call);                                                     \
        if (fw_rc_ != cudaSuccess)                                                       \
            return fw_fail(err,                                                          \
                           fw_rc_ == cudaErrorMemoryAllocation ? FW_ENOMEM : FW_EDEVICE, \
                           "%s:%d: %s: %s", __FILE__, __LINE__, #call,                   \
                           cudaGetErrorString(fw_rc_));                                  \
    } while (0)

#define CUDNN_CHECK(call)                                                                \
    do {                                                                                 \
        cudnnStatus_t fw_rc_ = (call);                                                   \
        if (fw_rc_ != CUDNN_STATUS_SUCCESS)                                              \
            return fw_fail(err,                                                          \
                           fw_rc_ == CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED \
                               ? FW_ENOMEM                                               \
                               : FW_EDEVICE,                                             \
                           "%s:%d: %s: %s", __FILE__, __LINE__, #call,                   \
                           cudnnGetErrorString(fw_rc_));                                 \
    } while (0)

#define CUBLAS_CHECK(call)                                                               \
    do {                                                                                 \
        cublasStatus_t fw_rc_ = (call);                                                  \
        if (fw_rc_ != CUBLAS_STATUS_SUCCESS)                                             \
            return fw_fail(err,                                                          \
                           fw_rc_ == CUBLAS_STATUS_ALLOC_FAILED ? FW_ENOMEM : FW_EDEVICE, \
                           "%s:%d: %s: cuBLAS status %d", __FILE__, __LINE__, #call,     \
                           (int)fw_rc_);                                                 \
    } while (0)

#define NCCL_CHECK(call)                                                                 \
    do {                                                                                 \
        ncclResult_t fw_rc_ = (call);                                                    \
        if (fw_rc_ != ncclSuccess)                                                       \
            return fw_fail(err, FW_EDEVICE, "%s:%d: %s: %s", __FILE__, __LINE__, #call,  \
                           ncclGetErrorString(fw_rc_));                                  \
    } while (0)

#endif
