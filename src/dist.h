/* dist.h — the process group of a data-parallel run (MPI).
 *
 *     fw_dist *d;
 *     FW_TRY(fw_dist_init(&d, err));        // 1 rank unless started by mpirun -np N
 *     int rank = fw_dist_rank(d), size = fw_dist_size(d);
 *     FW_TRY(fw_dist_allreduce_sum_f32(d, grads, n, err));  // in place, every rank
 *     ...
 *     fw_dist_finalize(d);
 *
 * fw_dist_init starts MPI (MPI_Init_thread, MPI_THREAD_SERIALIZED) only in a
 * build with MPI (HAVE_MPI) and only when the process was started by an MPI
 * launcher with more than one rank (OMPI_COMM_WORLD_SIZE or PMI_SIZE > 1 in
 * the environment); otherwise the group is one rank and no MPI function is
 * called, so a plain `flukewatch train` never touches MPI. A build without
 * MPI started by a launcher with several ranks fails (FW_EUNSUPPORTED)
 * rather than run N independent copies. Every collective
 * must be called by every rank in the same order; with one rank each is a
 * no-op (bcast, barrier) or the identity (allreduce, allgather copies).
 * Calls may come from any one thread at a time (SERIALIZED).
 *
 * A failure of one rank must stop the others (collectives would wait for
 * ever): fw_dist_abort(d, code) ends every rank of the group (MPI_Abort), or
 * just returns with one rank. Errors are values; MPI failures carry MPI's
 * error string (the communicator returns errors instead of aborting).
 */
#ifndef FW_DIST_H
#define FW_DIST_H

#include <stddef.h>

#include "fw_error.h"

typedef struct fw_dist fw_dist;

/* The group of this process (see above). *out is freed by fw_dist_finalize. */
int fw_dist_init(fw_dist **out, fw_error *err);
/* MPI_Finalize when MPI was started; frees d (NULL is fine). */
void fw_dist_finalize(fw_dist *d);

int fw_dist_rank(const fw_dist *d); /* 0..size-1; 0 for d NULL */
/* The rank among the ranks on this machine (MPI_COMM_TYPE_SHARED): the GPU a
 * rank takes. 0 for d NULL or one rank. */
int fw_dist_local_rank(const fw_dist *d);
/* GPU ranks (collective: every rank calls it): rank 0 makes an NCCL unique
 * id, MPI broadcasts it, and every rank joins an NCCL communicator on its GPU
 * `device`; from then on fw_dist_allreduce_sum_f32 (the gradient sum) runs on
 * NCCL (gpu/nccl_comm.h: asynchronous errors abort the communicator and come
 * back as errors). No-op with one rank; FW_EUNSUPPORTED in a build without
 * CUDA or MPI. */
int fw_dist_use_nccl(fw_dist *d, int device, fw_error *err);
int fw_dist_size(const fw_dist *d); /* >= 1; 1 for d NULL */
/* Whether this build has MPI (multi-rank groups possible at all). */
int fw_dist_available(void);
/* "MPI (Open MPI v4.1.4)" or "single process (built without MPI)". */
void fw_dist_describe(const fw_dist *d, char *buf, size_t cap);

/* buf[0..n) = sum over ranks of buf[0..n), in place, identical on every rank. */
int fw_dist_allreduce_sum_f32(fw_dist *d, float *buf, size_t n, fw_error *err);
int fw_dist_allreduce_sum_f64(fw_dist *d, double *buf, size_t n, fw_error *err);
/* bufs[i][0..counts[i]) = the sum over ranks, in place, for n buffers. With
 * `stream` NULL they are host memory (summed like fw_dist_allreduce_sum_f32,
 * one by one); otherwise they are device memory of this rank's GPU, summed
 * after the work queued on `stream` (a cudaStream_t) in one NCCL group
 * (fw_dist_use_nccl first; FW_EUNSUPPORTED without it). The signature of a
 * backend's update_allreduce callback. */
int fw_dist_allreduce_sum_buffers(void *dist, float *const *bufs, const size_t *counts, int n,
                                  void *stream, fw_error *err);
/* Max of an int over ranks (for error/stop flags), in place. It and
 * fw_dist_barrier are for waits that may be long (a rank paused, evaluating
 * or loading data): they sleep between polls (20 us up to 2 ms) instead of
 * spinning on a core as Open MPI's blocking collectives do. */
int fw_dist_allreduce_max_int(fw_dist *d, int *value, fw_error *err);
/* recv (size * bytes) = every rank's send (bytes) in rank order. */
int fw_dist_allgather(fw_dist *d, const void *send, void *recv, size_t bytes, fw_error *err);
/* buf (bytes) = rank 0's buf on every rank. */
int fw_dist_bcast(fw_dist *d, void *buf, size_t bytes, fw_error *err);
int fw_dist_barrier(fw_dist *d, fw_error *err);
/* End every rank (MPI_Abort with code) when d has more than one rank; else
 * return. A member of an in-process group breaks the group instead: every
 * member's collectives then fail. */
void fw_dist_abort(fw_dist *d, int code);

/* Member `rank` of an in-process group (dist_group.h): the same collectives,
 * met in shared memory by the group's threads; abort breaks the group instead
 * of ending the process. Free each member with fw_dist_finalize (it frees
 * only the member), then the group. */
struct fw_dist_group;
int fw_dist_group_member(struct fw_dist_group *g, int rank, fw_dist **out, fw_error *err);

/* The sync function for bn_set_sync (backend.h): ctx is the fw_dist. */
int fw_dist_bn_sync(void *ctx, double *sums, int n, fw_error *err);

#endif
