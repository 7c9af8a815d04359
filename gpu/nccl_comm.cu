/* nccl_comm.cu — the NCCL communicator of GPU data-parallel ranks (see nccl_comm.h). */
#include "nccl_comm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cuda_check.h"

static_assert(sizeof(ncclUniqueId) == FW_NCCL_ID_BYTES, "FW_NCCL_ID_BYTES");

struct fw_nccl {
    ncclComm_t comm;
    cudaStream_t stream;
    int rank, size, device;
    int broken;        /* an error aborted the communicator */
    float *d_buf;      /* device staging (cap floats) */
    size_t cap;
};

int fw_nccl_unique_id(unsigned char *id, fw_error *err)
{
    ncclUniqueId u;
    NCCL_CHECK(ncclGetUniqueId(&u));
    memcpy(id, &u, sizeof u);
    return FW_OK;
}

/* Wait for the stream, watching the communicator: an asynchronous error
 * aborts it instead of waiting for ever. */
static int wait_watching(fw_nccl *c, const char *what, fw_error *err)
{
    for (;;) {
        cudaError_t q = cudaStreamQuery(c->stream);
        if (q == cudaSuccess)
            return FW_OK;
        if (q != cudaErrorNotReady)
            return fw_fail(err, FW_EDEVICE, "%s: %s", what, cudaGetErrorString(q));
        ncclResult_t async = ncclSuccess;
        ncclResult_t rc = ncclCommGetAsyncError(c->comm, &async);
        if (rc != ncclSuccess || (async != ncclSuccess && async != ncclInProgress)) {
            ncclResult_t bad = rc != ncclSuccess ? rc : async;
            ncclCommAbort(c->comm);
            c->comm = NULL;
            c->broken = 1;
            return fw_fail(err, FW_EDEVICE, "%s: NCCL error (communicator aborted): %s", what,
                           ncclGetErrorString(bad));
        }
        struct timespec ts = {0, 50 * 1000};
        nanosleep(&ts, NULL);
    }
}

static int join(fw_nccl *c, const unsigned char *id, fw_error *err)
{
    CUDA_CHECK(cudaSetDevice(c->device));
    CUDA_CHECK(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
    ncclUniqueId u;
    memcpy(&u, id, sizeof u);
    NCCL_CHECK(ncclCommInitRank(&c->comm, c->size, u, c->rank));
    return FW_OK;
}

int fw_nccl_create(const unsigned char *id, int rank, int size, int device, fw_nccl **out,
                   fw_error *err)
{
    *out = NULL;
    if (size < 1 || rank < 0 || rank >= size)
        return fw_fail(err, FW_EINVAL, "nccl: rank %d of %d", rank, size);
    fw_nccl *c = (fw_nccl *)calloc(1, sizeof *c);
    if (!c)
        return fw_fail(err, FW_ENOMEM, "nccl: out of memory");
    c->rank = rank, c->size = size, c->device = device;
    int rc = join(c, id, err);
    if (rc < 0) {
        fw_nccl_destroy(c);
        return rc;
    }
    *out = c;
    return FW_OK;
}

void fw_nccl_destroy(fw_nccl *c)
{
    if (!c)
        return;
    if (c->comm)
        ncclCommDestroy(c->comm);
    if (c->d_buf)
        cudaFree(c->d_buf);
    if (c->stream)
        cudaStreamDestroy(c->stream);
    free(c);
}

int fw_nccl_allreduce_sum(fw_nccl *c, float *buf, size_t n, fw_error *err)
{
    if (c->broken)
        return fw_fail(err, FW_EDEVICE, "nccl: the communicator was aborted after an error");
    if (n == 0)
        return FW_OK;
    CUDA_CHECK(cudaSetDevice(c->device));
    if (n > c->cap) {
        if (c->d_buf)
            CUDA_CHECK(cudaFree(c->d_buf));
        c->d_buf = NULL;
        c->cap = 0;
        CUDA_CHECK(cudaMalloc((void **)&c->d_buf, n * sizeof(float)));
        c->cap = n;
    }
    CUDA_CHECK(cudaMemcpyAsync(c->d_buf, buf, n * sizeof(float), cudaMemcpyHostToDevice,
                               c->stream));
    NCCL_CHECK(ncclAllReduce(c->d_buf, c->d_buf, n, ncclFloat32, ncclSum, c->comm, c->stream));
    FW_TRY(wait_watching(c, "nccl all-reduce", err));
    CUDA_CHECK(cudaMemcpyAsync(buf, c->d_buf, n * sizeof(float), cudaMemcpyDeviceToHost,
                               c->stream));
    return wait_watching(c, "nccl all-reduce copy back", err);
}

/* Queue the group after the work on `after` (an event in between). */
static int group_sum(fw_nccl *c, float *const *bufs, const size_t *counts, int n,
                     cudaStream_t after, cudaEvent_t ev, fw_error *err)
{
    CUDA_CHECK(cudaEventRecord(ev, after));
    CUDA_CHECK(cudaStreamWaitEvent(c->stream, ev, 0));
    NCCL_CHECK(ncclGroupStart());
    ncclResult_t rc = ncclSuccess;
    for (int i = 0; i < n && rc == ncclSuccess; i++)
        if (counts[i])
            rc = ncclAllReduce(bufs[i], bufs[i], counts[i], ncclFloat32, ncclSum, c->comm,
                               c->stream);
    ncclResult_t end = ncclGroupEnd();
    NCCL_CHECK(rc);
    NCCL_CHECK(end);
    return wait_watching(c, "nccl all-reduce of device buffers", err);
}

int fw_nccl_allreduce_sum_device(fw_nccl *c, float *const *bufs, const size_t *counts, int n,
                                 void *stream, fw_error *err)
{
    if (c->broken)
        return fw_fail(err, FW_EDEVICE, "nccl: the communicator was aborted after an error");
    if (n <= 0)
        return FW_OK;
    CUDA_CHECK(cudaSetDevice(c->device));
    cudaEvent_t ev;
    CUDA_CHECK(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming));
    int rc = group_sum(c, bufs, counts, n, (cudaStream_t)stream, ev, err);
    cudaEventDestroy(ev);
    return rc;
}

void fw_nccl_describe(const fw_nccl *c, char *buf, size_t cap)
{
    int v = 0;
    ncclGetVersion(&v);
    snprintf(buf, cap, "NCCL %d.%d.%d, %d ranks", v / 10000, (v / 100) % 100, v % 100, c->size);
}
