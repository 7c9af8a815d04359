/* run_ref.h — turning what a user types for a run into its id.
 *
 * Commands that take a RUN argument (show, compare, export, pause, stop,
 * resume, eval, ...) accept a run id ("r0003"), its bare number ("3", also
 * "r3"), or a run name that is unique in the store. An id wins over a name
 * that happens to look like one. A name shared by several runs is refused
 * (FW_EINVAL) with the candidates' ids in the message; text that matches
 * nothing is FW_ENOTFOUND. Messages quote the text raw: print them through
 * fw_cli_report (which sanitises).
 */
#ifndef FW_RUN_REF_H
#define FW_RUN_REF_H

#include <stddef.h>

#include "fw_error.h"
#include "store.h"

/* Open the workspace's existing run store (fw_store_resolve_workspace +
 * fw_store_open); the workspace path goes to ws (may be NULL). A workspace
 * without a database is FW_ENOTFOUND (nothing is created): read-only
 * commands have nothing to show there. */
int fw_run_store_open_existing(fw_store **out, char *ws, size_t ws_cap, fw_error *err);

/* fw_run_store_open_existing, then fw_run_ref_resolve of text: the store
 * stays open (close it) only on success; *out is NULL otherwise. */
int fw_run_ref_open(const char *text, fw_store **out, char id_out[FW_RUN_ID_CAP], fw_error *err);

/* Resolve text to a run id (copied into id_out). */
int fw_run_ref_resolve(fw_store *s, const char *text, char id_out[FW_RUN_ID_CAP],
                       fw_error *err);

/* Same, over a list already read with fw_store_run_list (no store access). */
int fw_run_ref_resolve_in(const fw_run_info *runs, int n, const char *text,
                          char id_out[FW_RUN_ID_CAP], fw_error *err);

#endif
