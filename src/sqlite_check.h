/* sqlite_check.h — the one check for SQLite return codes in the run store.
 *
 *   if ((rc = SQLITE_CHECK(err, db, sqlite3_step(st))) < 0) goto out;
 *
 * SQLITE_CHECK evaluates the call; SQLITE_OK, SQLITE_ROW and SQLITE_DONE give
 * 0 (use sqlite3_step's own code when the row/done distinction matters), any
 * other code fills err with "file:line: <call text> failed: <sqlite message>"
 * and gives a negative FW_E* code (busy/locked/I/O -> FW_EIO, corrupt or not a
 * database -> FW_ECORRUPT, no memory -> FW_ENOMEM, constraint -> FW_EINVAL).
 */
#ifndef FW_SQLITE_CHECK_H
#define FW_SQLITE_CHECK_H

#include <sqlite3.h>

#include "fw_error.h"
#include "store.h"

/* The store's connection, for the store's own files (store_*.c). */
sqlite3 *fw_store_db(fw_store *s);

/* Column helpers shared by the store's readers: text (NULL reads as ""),
 * copied into a buffer or strdup'ed (NULL on no memory). */
void fw_sql_copy_col(sqlite3_stmt *st, int col, char *out, size_t cap);
char *fw_sql_dup_col(sqlite3_stmt *st, int col);

/* Milliseconds on the monotonic clock (batching delays, lock retries). */
double fw_store_monotonic_ms(void);

int fw_sqlite_check_(int rc, sqlite3 *db, const char *call, const char *file, int line,
                     fw_error *err);

#define SQLITE_CHECK(err, db, call) fw_sqlite_check_((call), (db), #call, __FILE__, __LINE__, (err))

#endif
