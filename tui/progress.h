/* progress.h — progress reporting for long CLI work: a redrawn bar with rate
 * and ETA on a terminal, a plain line every few seconds otherwise (logs, CI).
 * Updates are thread-safe and throttled, so workers may call it per item. */
#ifndef FW_PROGRESS_H
#define FW_PROGRESS_H

#include <stdio.h>

typedef struct fw_progress fw_progress;

/* label is sanitised before display. out is usually stderr. */
fw_progress *fw_progress_start(const char *label, long total, const char *unit, FILE *out);

/* The same for work resumed with `done` items already finished: the rate and
 * ETA count only what is done from now on. */
fw_progress *fw_progress_start_at(const char *label, long done, long total, const char *unit,
                                  FILE *out);

/* Set the number of finished items (monotonic; smaller values are ignored). */
void fw_progress_set(fw_progress *p, long done);

/* Adapter for library callbacks: fw_progress_callback(p, done, total). */
void fw_progress_callback(void *p, long done, long total);

/* Final line with the total rate; frees p. */
void fw_progress_finish(fw_progress *p);

#endif
