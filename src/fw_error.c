/* fw_error.c — building and prefixing error messages (see fw_error.h). */
#include "fw_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int fw_fail(fw_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

int fw_error_prefix(fw_error *err, const char *fmt, ...)
{
    if (!err)
        return FW_EINVAL;
    char prefix[128];
    char old[sizeof err->msg - sizeof prefix];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    size_t n = strnlen(err->msg, sizeof old - 1);
    memcpy(old, err->msg, n);
    old[n] = '\0';
    snprintf(err->msg, sizeof err->msg, "%s%s", prefix, old);
    return err->code;
}

void fw_error_clear(fw_error *err)
{
    if (err) {
        err->code = FW_OK;
        err->msg[0] = '\0';
    }
}

const char *fw_error_name(int code)
{
    switch (code) {
    case FW_OK: return "ok";
    case FW_EIO: return "I/O error";
    case FW_EINVAL: return "invalid argument";
    case FW_ENOMEM: return "out of memory";
    case FW_EFORMAT: return "malformed file";
    case FW_ECORRUPT: return "corrupt data";
    case FW_EUNSUPPORTED: return "unsupported";
    case FW_ETOOBIG: return "too large";
    case FW_ENOTFOUND: return "not found";
    case FW_EDEVICE: return "device error";
    default: return "error";
    }
}
