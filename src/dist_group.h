/* dist_group.h — an in-process data-parallel group: N member threads of one
 * process, each holding an fw_dist of the group (dist.h), whose collectives
 * meet in shared memory instead of MPI. It carries several replicas of a run
 * in one process (one per GPU of device=cuda:A,B, or replicas=N).
 *
 * Every collective is a rendezvous of all members: each publishes a pointer to
 * its buffer, waits until all have, reads the others' buffers directly (sums
 * in rank order, so every member gets the same bits), waits again, then
 * writes its own result. A member that fails calls fw_dist_abort: the group is
 * broken, every waiting and later collective returns FW_EDEVICE ("another
 * replica failed"), so no member waits for ever.
 */
#ifndef FW_DIST_GROUP_H
#define FW_DIST_GROUP_H

#include <stddef.h>

#include "fw_error.h"

typedef struct fw_dist_group fw_dist_group;

int fw_dist_group_create(int n, fw_dist_group **out, fw_error *err);
/* Only after every member thread has ended. NULL is fine. */
void fw_dist_group_free(fw_dist_group *g);
int fw_dist_group_size(const fw_dist_group *g);

/* The collectives of member `rank` (called through dist.h). */
int fw_dist_group_barrier(fw_dist_group *g, fw_error *err);
int fw_dist_group_sum_f32(fw_dist_group *g, int rank, float *buf, size_t n, fw_error *err);
int fw_dist_group_sum_f64(fw_dist_group *g, int rank, double *buf, size_t n, fw_error *err);
int fw_dist_group_max_int(fw_dist_group *g, int rank, int *value, fw_error *err);
int fw_dist_group_allgather(fw_dist_group *g, int rank, const void *send, void *recv,
                            size_t bytes, fw_error *err);
int fw_dist_group_bcast(fw_dist_group *g, int rank, void *buf, size_t bytes, fw_error *err);
/* Mark the group broken and wake every member; rank: the member that fails
 * (-1: not a member, e.g. the code starting them). */
void fw_dist_group_break(fw_dist_group *g, int rank);
/* The member that broke the group first (-1: not a member), or -2 when it
 * is not broken: whose error is the cause, the others' being "another
 * replica of this run failed". */
int fw_dist_group_broken_by(fw_dist_group *g);

#endif
