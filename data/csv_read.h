/* csv_read.h — reading RFC 4180 CSV files row by row (built on libcsv), with
 * the line number of every row so that each error can say "train.csv:17: ...".
 *
 * What the reader accepts (and why):
 *   - a UTF-8 byte-order mark at the very start is skipped;
 *   - rows end with LF, CRLF or a lone CR; the last row may lack a newline;
 *   - quoted fields may hold commas, CR/LF and doubled quotes ("" -> ");
 *   - spaces are data (RFC 4180): nothing is trimmed;
 *   - blank lines (empty, outside a quoted field) are skipped wherever they
 *     are — pandas does the same — but still counted, so line numbers stay
 *     true to the file;
 *   - bytes are passed through as they are (no UTF-8 check here: callers that
 *     need one do it).
 * What it refuses, with the file and line:
 *   - quoting that breaks RFC 4180 (a quote inside an unquoted field, text
 *     after a closing quote): the line of the offending byte;
 *   - a quoted field still open at the end of the file: the row's first line;
 *   - a NUL byte in a field, a field over max_field bytes (memory stays
 *     bounded even for a runaway quote), a row with over max_fields fields:
 *     the row's first line.
 */
#ifndef FW_CSV_READ_H
#define FW_CSV_READ_H

#include <stddef.h>

#include "../src/fw_error.h"

#define FW_CSV_MAX_FIELD 4096   /* default limit on one field, in bytes */
#define FW_CSV_MAX_FIELDS 256   /* default limit on fields per row */
#define FW_CSV_BLOCK 65536      /* default read size */

typedef struct fw_csv_row {
    const char *file;   /* name used in messages (the path as given) */
    long line;          /* 1-based line on which the row starts */
    long index;         /* 0-based row number, blank lines not counted (0 = header) */
    int n_fields;
    char **fields;      /* (n_fields) NUL-terminated; valid only during the callback */
} fw_csv_row;

/* Called once per row. Return 0 to go on, or a negative FW_E* code (filling
 * err, e.g. with fw_csv_row_fail) to stop reading; the code is returned. */
typedef int (*fw_csv_row_fn)(void *ctx, const fw_csv_row *row, fw_error *err);

typedef struct fw_csv_opts {
    size_t max_field;   /* 0: FW_CSV_MAX_FIELD */
    int max_fields;     /* 0: FW_CSV_MAX_FIELDS */
    size_t block_size;  /* bytes handed to the parser at a time; 0: FW_CSV_BLOCK */
} fw_csv_opts;

/* Read a file. opts may be NULL. A missing file is FW_ENOTFOUND, a read
 * failure FW_EIO, bad CSV FW_EFORMAT / FW_ETOOBIG; messages start with
 * "PATH:" (and the line when there is one). */
int fw_csv_read_file(const char *path, const fw_csv_opts *opts, fw_csv_row_fn fn, void *ctx,
                     fw_error *err);

/* The same for bytes in memory; name is used in messages. */
int fw_csv_read_mem(const void *data, size_t len, const char *name, const fw_csv_opts *opts,
                    fw_csv_row_fn fn, void *ctx, fw_error *err);

/* Fill err with "FILE:LINE: message" for this row and return code. */
int fw_csv_row_fail(const fw_csv_row *row, fw_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Require exactly n fields: "FILE:LINE: expected 2 fields, got 3". */
int fw_csv_expect_fields(const fw_csv_row *row, int n, fw_error *err);

/* Check a header row against names, ignoring ASCII case and spaces/tabs
 * around each name: "FILE:LINE: expected the header 'Image,Id', got 'a,b'". */
int fw_csv_expect_header(const fw_csv_row *row, const char *const *names, int n,
                         fw_error *err);

#endif
