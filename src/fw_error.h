/* fw_error.h — errors as values: a code plus a message with context.
 *
 * Library code never prints or exits. A function that can fail returns an
 * int (0 = success, a negative FW_E* code otherwise) and fills the caller's
 * fw_error with a human message naming the file, line or value at fault.
 * Only main() and the TUI decide what to show.
 */
#ifndef FW_ERROR_H
#define FW_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    FW_OK = 0,
    FW_EIO = -1,          /* open/read/write/fsync failed */
    FW_EINVAL = -2,       /* bad argument, option or config value */
    FW_ENOMEM = -3,       /* allocation failed */
    FW_EFORMAT = -4,      /* malformed file (CSV, header, ...) */
    FW_ECORRUPT = -5,     /* undecodable data (e.g. corrupt JPEG) */
    FW_EUNSUPPORTED = -6, /* valid but unsupported (e.g. 12-bit JPEG) */
    FW_ETOOBIG = -7,      /* over a size limit */
    FW_ENOTFOUND = -8,    /* missing file, id, key */
    FW_EDEVICE = -9,      /* GPU / driver / library failure */
};

typedef struct fw_error {
    int code;
    char msg[512];
} fw_error;

/* Record an error (printf-style message) and return its code. err may be NULL. */
int fw_fail(fw_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix the existing message with context, e.g. "train.csv: ". Returns err->code. */
int fw_error_prefix(fw_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Reset to success. */
void fw_error_clear(fw_error *err);

/* Short name of a code, e.g. "corrupt data". */
const char *fw_error_name(int code);

/* Propagate: evaluate an int-returning call and return its code on failure. */
#define FW_TRY(call)                      \
    do {                                  \
        int fw_try_rc_ = (call);          \
        if (fw_try_rc_ < 0)               \
            return fw_try_rc_;            \
    } while (0)

#ifdef __cplusplus
}
#endif

#endif
