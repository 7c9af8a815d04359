/* parallel.h — run a function over items 0..n-1 on a few worker threads.
 *
 * Work is handed out in order from an atomic counter, so results written to
 * per-item slots are identical for any thread count. The first failing item's
 * error is returned (the others still finish).
 */
#ifndef FW_PARALLEL_H
#define FW_PARALLEL_H

#include "fw_error.h"

/* Called once per item on some worker; `worker` is 0..threads-1 (for scratch
 * buffers). Return 0 or a negative FW_E* code (filling err). */
typedef int (*fw_item_fn)(void *ctx, long item, int worker, fw_error *err);

/* threads <= 0 means "number of online CPUs". */
int fw_parallel_for(int threads, long n, fw_item_fn fn, void *ctx, fw_error *err);

/* Number of online CPUs (at least 1). */
int fw_cpu_count(void);

/* Resolve a thread-count option: <= 0 -> CPU count; capped at 256. */
int fw_resolve_threads(int threads);

#endif
