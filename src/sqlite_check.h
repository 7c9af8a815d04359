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

/* Fills one row of a result list from the statement's current row; 0 or a
 * negative FW_E* code (then nothing of that row is left allocated). */
typedef int (*fw_sql_row_fn)(sqlite3_stmt *st, void *row, fw_error *err);

/* Step st to its end, then finalize it. Each row grows *list (elem bytes per
 * row, realloc'ed) by one element that fill() writes; *count counts the rows
 * filled. Returns 0 or the first error (`what` names the list in an
 * out-of-memory message); on error the caller frees the *count filled rows. */
int fw_sql_collect(sqlite3 *db, sqlite3_stmt *st, size_t elem, fw_sql_row_fn fill,
                   void **list, int *count, const char *what, fw_error *err);

/* Milliseconds on the monotonic clock (batching delays, lock retries). */
double fw_store_monotonic_ms(void);

int fw_sqlite_check_(int rc, sqlite3 *db, const char *call, const char *file, int line,
                     fw_error *err);

#define SQLITE_CHECK(err, db, call) fw_sqlite_check_((call), (db), #call, __FILE__, __LINE__, (err))

#endif
