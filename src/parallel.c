/* parallel.c — a minimal fork/join parallel-for over pthreads (see parallel.h). */
#include "parallel.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    fw_item_fn fn;
    void *ctx;
    long n;
    atomic_long next;
    pthread_mutex_t lock;
    int rc;            /* first error code, guarded by lock */
    fw_error first;    /* its message */
} job;

typedef struct {
    job *j;
    int worker;
} worker_arg;

static void *worker_main(void *p)
{
    worker_arg *a = p;
    job *j = a->j;
    fw_error err;
    for (;;) {
        long i = atomic_fetch_add(&j->next, 1);
        if (i >= j->n)
            break;
        fw_error_clear(&err);
        int rc = j->fn(j->ctx, i, a->worker, &err);
        if (rc < 0) {
            pthread_mutex_lock(&j->lock);
            if (j->rc == 0) {
                j->rc = rc;
                j->first = err;
            }
            pthread_mutex_unlock(&j->lock);
        }
    }
    return NULL;
}

int fw_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

int fw_resolve_threads(int threads)
{
    if (threads <= 0)
        threads = fw_cpu_count();
    return threads > 256 ? 256 : threads;
}

int fw_parallel_for(int threads, long n, fw_item_fn fn, void *ctx, fw_error *err)
{
    threads = fw_resolve_threads(threads);
    if (n <= 0)
        return FW_OK;
    if (threads > n)
        threads = (int)n;

    job j = {.fn = fn, .ctx = ctx, .n = n, .rc = 0};
    atomic_init(&j.next, 0);
    pthread_mutex_init(&j.lock, NULL);
    fw_error_clear(&j.first);

    pthread_t *tids = calloc((size_t)threads, sizeof *tids);
    worker_arg *args = calloc((size_t)threads, sizeof *args);
    if (!tids || !args) {
        free(tids);
        free(args);
        pthread_mutex_destroy(&j.lock);
        return fw_fail(err, FW_ENOMEM, "parallel_for: out of memory");
    }
    int started = 0;
    for (int t = 1; t < threads; t++) {
        args[t] = (worker_arg){&j, t};
        if (pthread_create(&tids[t], NULL, worker_main, &args[t]) != 0)
            break;
        started = t;
    }
    args[0] = (worker_arg){&j, 0};
    worker_main(&args[0]); /* the calling thread works too */
    for (int t = 1; t <= started; t++)
        pthread_join(tids[t], NULL);
    free(tids);
    free(args);
    pthread_mutex_destroy(&j.lock);
    if (j.rc < 0 && err)
        *err = j.first;
    return j.rc;
}
