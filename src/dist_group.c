/* dist_group.c — the in-process data-parallel group (see dist_group.h). */
#include "dist_group.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define GROUP_MAX 64

struct fw_dist_group {
    int n;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int arrived;
    unsigned long generation;
    int broken;
    int broken_by; /* the member that broke it first, -1: the starter */
    const void *slot[GROUP_MAX]; /* each member's published buffer */
};

int fw_dist_group_create(int n, fw_dist_group **out, fw_error *err)
{
    *out = NULL;
    if (n < 1 || n > GROUP_MAX)
        return fw_fail(err, FW_EINVAL, "replicas: %d, expected 1..%d", n, GROUP_MAX);
    fw_dist_group *g = calloc(1, sizeof *g);
    if (!g)
        return fw_fail(err, FW_ENOMEM, "replicas: out of memory");
    g->n = n;
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    *out = g;
    return FW_OK;
}

void fw_dist_group_free(fw_dist_group *g)
{
    if (!g)
        return;
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    free(g);
}

int fw_dist_group_size(const fw_dist_group *g) { return g->n; }

int fw_dist_group_broken_by(fw_dist_group *g)
{
    pthread_mutex_lock(&g->mu);
    int who = g->broken ? g->broken_by : -2;
    pthread_mutex_unlock(&g->mu);
    return who;
}

void fw_dist_group_break(fw_dist_group *g, int rank)
{
    pthread_mutex_lock(&g->mu);
    if (!g->broken)
        g->broken_by = rank;
    g->broken = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

int fw_dist_group_barrier(fw_dist_group *g, fw_error *err)
{
    pthread_mutex_lock(&g->mu);
    unsigned long mine = g->generation;
    if (!g->broken && ++g->arrived == g->n) {
        g->arrived = 0;
        g->generation++;
        pthread_cond_broadcast(&g->cv);
    }
    while (!g->broken && g->generation == mine)
        pthread_cond_wait(&g->cv, &g->mu);
    int broken = g->broken;
    pthread_mutex_unlock(&g->mu);
    if (broken)
        return fw_fail(err, FW_EDEVICE, "replicas: another replica of this run failed");
    return FW_OK;
}

/* Publish this member's buffer and wait until every member has. */
static int publish(fw_dist_group *g, int rank, const void *buf, fw_error *err)
{
    g->slot[rank] = buf; /* written before the barrier's lock, read after it */
    return fw_dist_group_barrier(g, err);
}

/* buf[0..n) of T = the sum over the members, in rank order (the same bits on
 * every member): publish, sum everyone's buffers privately, wait until all
 * have read, write back. */
#define GROUP_SUM(name, T)                                                                 \
    int name(fw_dist_group *g, int rank, T *buf, size_t n, fw_error *err)                  \
    {                                                                                      \
        if (g->n == 1 || n == 0)                                                           \
            return FW_OK;                                                                  \
        T *sum = malloc(n * sizeof *sum);                                                  \
        if (!sum) {                                                                        \
            fw_dist_group_break(g, rank);                                                  \
            return fw_fail(err, FW_ENOMEM, "replicas: out of memory for a sum of %zu", n); \
        }                                                                                  \
        int rc = publish(g, rank, buf, err);                                               \
        if (rc == FW_OK) {                                                                 \
            memcpy(sum, g->slot[0], n * sizeof *sum);                                      \
            for (int r = 1; r < g->n; r++) {                                               \
                const T *other = g->slot[r];                                               \
                for (size_t i = 0; i < n; i++)                                             \
                    sum[i] += other[i];                                                    \
            }                                                                              \
            rc = fw_dist_group_barrier(g, err);                                            \
        }                                                                                  \
        if (rc == FW_OK)                                                                   \
            memcpy(buf, sum, n * sizeof *sum);                                             \
        free(sum);                                                                         \
        return rc;                                                                         \
    }

GROUP_SUM(fw_dist_group_sum_f32, float)
GROUP_SUM(fw_dist_group_sum_f64, double)

int fw_dist_group_max_int(fw_dist_group *g, int rank, int *value, fw_error *err)
{
    if (g->n == 1)
        return FW_OK;
    FW_TRY(publish(g, rank, value, err));
    int max = *(const int *)g->slot[0];
    for (int r = 1; r < g->n; r++) {
        int v = *(const int *)g->slot[r];
        max = v > max ? v : max;
    }
    FW_TRY(fw_dist_group_barrier(g, err));
    *value = max;
    return FW_OK;
}

int fw_dist_group_allgather(fw_dist_group *g, int rank, const void *send, void *recv,
                            size_t bytes, fw_error *err)
{
    FW_TRY(publish(g, rank, send, err));
    for (int r = 0; r < g->n; r++)
        memcpy((char *)recv + (size_t)r * bytes, g->slot[r], bytes);
    return fw_dist_group_barrier(g, err);
}

int fw_dist_group_bcast(fw_dist_group *g, int rank, void *buf, size_t bytes, fw_error *err)
{
    if (g->n == 1)
        return FW_OK;
    FW_TRY(publish(g, rank, buf, err));
    if (rank != 0)
        memcpy(buf, g->slot[0], bytes);
    return fw_dist_group_barrier(g, err);
}
