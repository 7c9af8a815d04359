/* nccl_comm.h — an NCCL communicator for data-parallel ranks on GPUs: the
 * gradient all-reduce of src/dist.c when every rank trains on a GPU.
 *
 * Rank 0 makes the unique id (fw_nccl_unique_id); the launcher's channel
 * (MPI) carries its FW_NCCL_ID_BYTES to every rank; each rank then joins with
 * fw_nccl_create on its own GPU (ncclCommInitRank: it waits for every rank). fw_nccl_allreduce_sum sums host floats over
 * the ranks: it stages them into device memory, runs ncclAllReduce on the
 * communicator's stream and copies the result back. While it waits it polls
 * ncclCommGetAsyncError; on an asynchronous NCCL error (a rank died, a
 * network failure) it aborts the communicator (ncclCommAbort) and returns
 * FW_EDEVICE with NCCL's text, so no rank waits for ever. After an error the
 * communicator is unusable; fw_nccl_destroy still frees it.
 * Declared for C; implemented in nccl_comm.cu.
 */
#ifndef FW_NCCL_COMM_H
#define FW_NCCL_COMM_H

#include <stddef.h>

#include "../src/fw_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FW_NCCL_ID_BYTES 128 /* sizeof(ncclUniqueId) */

typedef struct fw_nccl fw_nccl;

/* id (FW_NCCL_ID_BYTES): a new unique id, made on rank 0. */
int fw_nccl_unique_id(unsigned char *id, fw_error *err);
/* Join the communicator of `size` ranks as `rank`, on GPU `device`. */
int fw_nccl_create(const unsigned char *id, int rank, int size, int device, fw_nccl **out,
                   fw_error *err);
void fw_nccl_destroy(fw_nccl *c);
/* buf[0..n) = the sum over the ranks of buf[0..n), in place (host floats). */
int fw_nccl_allreduce_sum(fw_nccl *c, float *buf, size_t n, fw_error *err);
/* bufs[i][0..counts[i]) = the sum over the ranks, in place, for n DEVICE
 * buffers of this rank's GPU, after the work queued on `stream` (a
 * cudaStream_t; NULL: the legacy default stream). One NCCL group of
 * all-reduces (NCCL packs them); returns when they are done. */
int fw_nccl_allreduce_sum_device(fw_nccl *c, float *const *bufs, const size_t *counts, int n,
                                 void *stream, fw_error *err);
/* "NCCL 2.28.9, 2 ranks" style. */
void fw_nccl_describe(const fw_nccl *c, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
