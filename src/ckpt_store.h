/* ckpt_store.h — a run's checkpoint directory: naming, retention (the last K
 * plus the best), and finding the newest checkpoint that loads.
 *
 * Layout of DIR:
 *   ckpt-SSSSSSSS.fwc   one per save, SSSSSSSS = the step, zero-padded to 8
 *                       digits (more digits past 99,999,999)
 *   best.fwc            the checkpoint with the best metric (a hard link to the
 *                       ckpt-*.fwc of that step, or a copy where the file
 *                       system has no hard links); survives pruning
 *   *.tmp-XXXXXX        temp files of interrupted writes: ignored by listing
 *                       and loading, removed by fw_ckpt_store_clean_temps
 * Anything else in DIR is left alone.
 *
 * Order of a save: the new ckpt-*.fwc is durable (written, fsynced, renamed,
 * directory fsynced) before best.fwc is replaced and before any old
 * checkpoint is deleted, so a crash at any moment leaves the previous state
 * or the new one, never neither.
 */
#ifndef FW_CKPT_STORE_H
#define FW_CKPT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "checkpoint.h"
#include "fw_error.h"

#define FW_CKPT_BEST_NAME "best.fwc"

/* "DIR/ckpt-SSSSSSSS.fwc" into buf. FW_ETOOBIG if it does not fit. */
int fw_ckpt_store_path(const char *dir, uint64_t step, char *buf, size_t bufsz, fw_error *err);

/* The steps of the ckpt-*.fwc files in DIR, ascending (malloc'ed into *steps,
 * free it; NULL when *n == 0). Only exact names count: no temp files, no
 * best.fwc. A missing DIR is FW_ENOTFOUND. */
int fw_ckpt_store_list(const char *dir, uint64_t **steps, long *n, fw_error *err);

/* Save `c` as ckpt-<c->meta.step>.fwc in DIR (created if missing, one level),
 * make it best.fwc too when is_best, then delete all but the newest
 * keep_last ckpt-*.fwc (keep_last >= 1). */
int fw_ckpt_store_save(const char *dir, const fw_ckpt_content *c, int is_best, int keep_last,
                       fw_error *err);

/* Delete all but the newest keep_last ckpt-*.fwc files; best.fwc stays.
 * *n_removed (may be NULL) gets the count. */
int fw_ckpt_store_prune(const char *dir, int keep_last, long *n_removed, fw_error *err);

/* Delete the temp files of interrupted writes (names containing ".tmp-").
 * Call it when no other process writes to DIR (e.g. before resuming). */
int fw_ckpt_store_clean_temps(const char *dir, long *n_removed, fw_error *err);

/* Open the newest ckpt-*.fwc that verifies, skipping damaged or torn ones
 * (*n_skipped, may be NULL, counts them; skip_msg, may be NULL, gets the
 * first reason). When none loads, best.fwc is tried last. FW_ENOTFOUND when
 * DIR holds no checkpoint that loads. */
int fw_ckpt_store_open_newest(const char *dir, fw_ckpt *ck, long *n_skipped, fw_error *skip_msg,
                              fw_error *err);

/* Open DIR/best.fwc (verified). FW_ENOTFOUND when there is none. */
int fw_ckpt_store_open_best(const char *dir, fw_ckpt *ck, fw_error *err);

#endif
