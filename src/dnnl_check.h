/* dnnl_check.h — one error-check macro for oneDNN calls.
 *
 *     DNNL_CHECK(dnnl_stream_wait(stream), err);
 *
 * On a status other than dnnl_success it records the call text, the status
 * name, file and line into *err (FW_EDEVICE) and returns that code from the
 * enclosing int-returning function.
 */
#ifndef FW_DNNL_CHECK_H
#define FW_DNNL_CHECK_H

#include <oneapi/dnnl/dnnl.h>

#include "fw_error.h"

/* Short name of a oneDNN status, e.g. "dnnl_unimplemented". */
const char *fw_dnnl_status_name(dnnl_status_t status);

#define DNNL_CHECK(call, err)                                                      \
    do {                                                                           \
        dnnl_status_t fw_dnnl_st_ = (call);                                        \
        if (fw_dnnl_st_ != dnnl_success)                                           \
            return fw_fail((err), FW_EDEVICE, "%s:%d: %s failed: %s", __FILE__,     \
                           __LINE__, #call, fw_dnnl_status_name(fw_dnnl_st_));     \
    } while (0)

#endif
