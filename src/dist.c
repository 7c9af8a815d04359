/* dist.c — the data-parallel process group on MPI, or one rank without it
 * (see dist.h). */
#include <config.h>

#include "dist.h"
#include "dist_group.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef HAVE_MPI
#include <mpi.h>
#endif
#if defined(HAVE_MPI) && defined(FW_CUDA_BACKEND)
#include "gpu/nccl_comm.h"
#define DIST_NCCL 1
#endif

struct fw_dist {
    int rank, size;
    int local_rank; /* among the ranks on this machine */
    int mpi;        /* 1: MPI_Init_thread was called here */
    fw_dist_group *group; /* a member of an in-process group (dist_group.h) */
#ifdef DIST_NCCL
    fw_nccl *nccl;  /* fw_dist_use_nccl: gradient sums through NCCL */
#endif
};

/* Whether an MPI launcher started this process with more than one rank. */
static int launched_with_ranks(void)
{
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && atoi(v) > 1)
            return 1;
    }
    return 0;
}

int fw_dist_available(void)
{
#ifdef HAVE_MPI
    return 1;
#else
    return 0;
#endif
}

#ifdef HAVE_MPI
/* An MPI return code as an fw_error naming the call. */
static int mpi_check(int rc, const char *call, const char *file, int line, fw_error *err)
{
    if (rc == MPI_SUCCESS)
        return 0;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS)
        snprintf(msg, sizeof msg, "MPI error %d", rc);
    return fw_fail(err, FW_EDEVICE, "%s:%d: %s failed: %s", file, line, call, msg);
}
#define MPI_TRY(call, err) FW_TRY(mpi_check((call), #call, __FILE__, __LINE__, (err)))

/* Wait for a non-blocking collective without busy-polling a core: test,
 * then sleep 20 us doubling up to 2 ms (Open MPI's blocking calls spin). */
static int wait_idle(MPI_Request *req, const char *call, fw_error *err)
{
    long sleep_ns = 20000;
    for (;;) {
        int done = 0;
        FW_TRY(mpi_check(MPI_Test(req, &done, MPI_STATUS_IGNORE), call, __FILE__, __LINE__, err));
        if (done)
            return 0;
        struct timespec ts = {0, sleep_ns};
        nanosleep(&ts, NULL);
        if (sleep_ns < 2000000)
            sleep_ns *= 2;
    }
}

/* Split n elements into MPI's int counts. */
#define CHUNK ((size_t)1 << 30)
#endif

int fw_dist_init(fw_dist **out, fw_error *err)
{
    *out = NULL;
    fw_dist *d = calloc(1, sizeof *d);
    if (!d)
        return fw_fail(err, FW_ENOMEM, "dist: out of memory");
    d->rank = 0;
    d->size = 1;
#ifdef HAVE_MPI
    if (launched_with_ranks()) {
        int provided = 0;
        int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided);
        if (rc != MPI_SUCCESS) {
            free(d);
            return fw_fail(err, FW_EDEVICE, "%s:%d: MPI_Init_thread failed (code %d)",
                           __FILE__, __LINE__, rc);
        }
        d->mpi = 1;
        rc = MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
        if (rc == MPI_SUCCESS)
            rc = MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
        if (rc == MPI_SUCCESS)
            rc = MPI_Comm_size(MPI_COMM_WORLD, &d->size);
        if (rc == MPI_SUCCESS && provided < MPI_THREAD_SERIALIZED) {
            fw_dist_finalize(d);
            return fw_fail(err, FW_EDEVICE,
                           "%s:%d: MPI gives thread level %d, flukewatch needs "
                           "MPI_THREAD_SERIALIZED",
                           __FILE__, __LINE__, provided);
        }
        if (rc != MPI_SUCCESS) {
            mpi_check(rc, "MPI_Comm_rank/size", __FILE__, __LINE__, err);
            fw_dist_finalize(d);
            return FW_EDEVICE;
        }
        /* the rank among this machine's ranks: which GPU a rank takes */
        MPI_Comm node;
        rc = MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL,
                                 &node);
        if (rc == MPI_SUCCESS) {
            rc = MPI_Comm_rank(node, &d->local_rank);
            MPI_Comm_free(&node);
        }
        if (rc != MPI_SUCCESS) {
            mpi_check(rc, "MPI_Comm_split_type", __FILE__, __LINE__, err);
            fw_dist_finalize(d);
            return FW_EDEVICE;
        }
    }
#else
    if (launched_with_ranks()) { /* N copies of one process would each own a run */
        free(d);
        return fw_fail(err, FW_EUNSUPPORTED,
                       "started by an MPI launcher with several ranks, but flukewatch was "
                       "built without MPI (Debian: apt-get install libopenmpi-dev, then "
                       "reconfigure)");
    }
#endif
    *out = d;
    return 0;
}

int fw_dist_group_member(fw_dist_group *g, int rank, fw_dist **out, fw_error *err)
{
    *out = NULL;
    if (rank < 0 || rank >= fw_dist_group_size(g))
        return fw_fail(err, FW_EINVAL, "replicas: member %d of %d", rank,
                       fw_dist_group_size(g));
    fw_dist *d = calloc(1, sizeof *d);
    if (!d)
        return fw_fail(err, FW_ENOMEM, "dist: out of memory");
    d->rank = rank;
    d->size = fw_dist_group_size(g);
    d->local_rank = rank; /* one process: every member is local */
    d->group = g;
    *out = d;
    return FW_OK;
}

void fw_dist_finalize(fw_dist *d)
{
    if (!d)
        return;
#ifdef DIST_NCCL
    fw_nccl_destroy(d->nccl);
#endif
#ifdef HAVE_MPI
    if (d->mpi)
        MPI_Finalize();
#endif
    free(d);
}

int fw_dist_rank(const fw_dist *d) { return d ? d->rank : 0; }
int fw_dist_local_rank(const fw_dist *d) { return d ? d->local_rank : 0; }

int fw_dist_use_nccl(fw_dist *d, int device, fw_error *err)
{
    if (!d || d->size <= 1)
        return FW_OK;
#ifdef DIST_NCCL
    if (d->nccl)
        return FW_OK;
    unsigned char id[FW_NCCL_ID_BYTES] = {0};
    if (d->rank == 0)
        FW_TRY(fw_nccl_unique_id(id, err));
    FW_TRY(fw_dist_bcast(d, id, sizeof id, err));
    return fw_nccl_create(id, d->rank, d->size, device, &d->nccl, err);
#else
    (void)device;
    return fw_fail(err, FW_EUNSUPPORTED, "dist: this build has no NCCL (CUDA toolkit and MPI)");
#endif
}
int fw_dist_size(const fw_dist *d) { return d ? d->size : 1; }

void fw_dist_describe(const fw_dist *d, char *buf, size_t cap)
{
    if (d && d->group) {
        snprintf(buf, cap, "%d replicas in one process", d->size);
        return;
    }
#ifdef HAVE_MPI
    if (d && d->mpi) {
        char lib[MPI_MAX_LIBRARY_VERSION_STRING];
        int len = 0;
        if (MPI_Get_library_version(lib, &len) != MPI_SUCCESS)
            snprintf(lib, sizeof lib, "MPI");
        lib[strcspn(lib, ",\n")] = '\0';
        snprintf(buf, cap, "%d ranks (%s%s)", d->size, lib,
#ifdef DIST_NCCL
                 d->nccl ? ", gradients over NCCL" : ""
#else
                 ""
#endif
        );
        return;
    }
    snprintf(buf, cap, "single process");
#else
    (void)d;
    snprintf(buf, cap, "single process (built without MPI)");
#endif
}

#ifdef HAVE_MPI
/* buf[0..n) of `type` (elem bytes each) summed over the ranks in place, in
 * chunks that fit MPI's int counts. */
static int mpi_sum(void *buf, size_t n, MPI_Datatype type, size_t elem, fw_error *err)
{
    for (size_t off = 0; off < n; off += CHUNK) {
        int cnt = (int)(n - off < CHUNK ? n - off : CHUNK);
        MPI_TRY(MPI_Allreduce(MPI_IN_PLACE, (char *)buf + off * elem, cnt, type, MPI_SUM,
                              MPI_COMM_WORLD),
                err);
    }
    return 0;
}
#endif

int fw_dist_allreduce_sum_buffers(void *dist, float *const *bufs, const size_t *counts, int n,
                                  void *stream, fw_error *err)
{
    fw_dist *d = dist;
    if (stream) {
#ifdef DIST_NCCL
        if (d && d->nccl)
            return fw_nccl_allreduce_sum_device(d->nccl, bufs, counts, n, stream, err);
#endif
        if (fw_dist_size(d) <= 1)
            return FW_OK;
        return fw_fail(err, FW_EUNSUPPORTED, "dist: device gradients are summed over NCCL, "
                       "which this group does not use");
    }
    for (int i = 0; i < n; i++)
        FW_TRY(fw_dist_allreduce_sum_f32(d, bufs[i], counts[i], err));
    return FW_OK;
}

int fw_dist_allreduce_sum_f32(fw_dist *d, float *buf, size_t n, fw_error *err)
{
    if (d && d->group)
        return fw_dist_group_sum_f32(d->group, d->rank, buf, n, err);
#ifdef DIST_NCCL
    if (d && d->nccl)
        return fw_nccl_allreduce_sum(d->nccl, buf, n, err);
#endif
#ifdef HAVE_MPI
    if (d && d->mpi)
        return mpi_sum(buf, n, MPI_FLOAT, sizeof *buf, err);
#else
    (void)d, (void)buf, (void)n, (void)err;
#endif
    return 0;
}

int fw_dist_allreduce_sum_f64(fw_dist *d, double *buf, size_t n, fw_error *err)
{
    if (d && d->group)
        return fw_dist_group_sum_f64(d->group, d->rank, buf, n, err);
#ifdef HAVE_MPI
    if (d && d->mpi)
        return mpi_sum(buf, n, MPI_DOUBLE, sizeof *buf, err);
#else
    (void)d, (void)buf, (void)n, (void)err;
#endif
    return 0;
}

int fw_dist_allreduce_max_int(fw_dist *d, int *value, fw_error *err)
{
    if (d && d->group)
        return fw_dist_group_max_int(d->group, d->rank, value, err);
#ifdef HAVE_MPI
    if (d && d->mpi) {
        MPI_Request req;
        MPI_TRY(MPI_Iallreduce(MPI_IN_PLACE, value, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD, &req),
                err);
        return wait_idle(&req, "MPI_Iallreduce", err);
    }
#else
    (void)d, (void)value, (void)err;
#endif
    return 0;
}

int fw_dist_allgather(fw_dist *d, const void *send, void *recv, size_t bytes, fw_error *err)
{
    if (d && d->group)
        return fw_dist_group_allgather(d->group, d->rank, send, recv, bytes, err);
#ifdef HAVE_MPI
    if (d && d->mpi) {
        if (bytes > INT_MAX)
            return fw_fail(err, FW_ETOOBIG, "dist: allgather of %zu bytes per rank (max %d)",
                           bytes, INT_MAX);
        MPI_TRY(MPI_Allgather(send, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE,
                              MPI_COMM_WORLD),
                err);
        return 0;
    }
#endif
    (void)d, (void)err;
    if (bytes && send != recv)
        memmove(recv, send, bytes);
    return 0;
}

int fw_dist_bcast(fw_dist *d, void *buf, size_t bytes, fw_error *err)
{
    if (d && d->group)
        return fw_dist_group_bcast(d->group, d->rank, buf, bytes, err);
#ifdef HAVE_MPI
    if (d && d->mpi)
        for (size_t off = 0; off < bytes; off += CHUNK) {
            int cnt = (int)(bytes - off < CHUNK ? bytes - off : CHUNK);
            MPI_TRY(MPI_Bcast((char *)buf + off, cnt, MPI_BYTE, 0, MPI_COMM_WORLD), err);
        }
#else
    (void)d, (void)buf, (void)bytes, (void)err;
#endif
    return 0;
}

int fw_dist_barrier(fw_dist *d, fw_error *err)
{
    if (d && d->group)
        return fw_dist_group_barrier(d->group, err);
#ifdef HAVE_MPI
    if (d && d->mpi) {
        MPI_Request req;
        MPI_TRY(MPI_Ibarrier(MPI_COMM_WORLD, &req), err);
        return wait_idle(&req, "MPI_Ibarrier", err);
    }
#else
    (void)d, (void)err;
#endif
    return 0;
}

void fw_dist_abort(fw_dist *d, int code)
{
    if (d && d->group) {
        fw_dist_group_break(d->group, d->rank);
        return;
    }
#ifdef HAVE_MPI
    if (d && d->mpi && d->size > 1)
        MPI_Abort(MPI_COMM_WORLD, code ? code : 1);
#else
    (void)d, (void)code;
#endif
}

int fw_dist_bn_sync(void *ctx, double *sums, int n, fw_error *err)
{
    if (n < 0)
        return fw_fail(err, FW_EINVAL, "dist: bn sync of %d values", n);
    return fw_dist_allreduce_sum_f64(ctx, sums, (size_t)n, err);
}
