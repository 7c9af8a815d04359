/* test_backend_select.c — a run's device and precision to the backend:
 * cpu (auto and fp32 accepted, 16-bit refused with the reason), cuda in a
 * build with the CUDA backend (precision auto resolves to fp32 when no GPU
 * of compute capability 8.0 answers, as here) or without it (refused saying
 * so), and a device that is neither. */
#include <string.h>

#include "backend_select.h"
#include "tap.h"

static void test_cpu(void)
{
    const fw_backend_ops *ops = NULL;
    fw_backend_options o;
    fw_error err = {0};
    CHECK_INT(fw_backend_for_device("cpu", 0, FW_PRECISION_AUTO, 3, &ops, &o, &err), FW_OK);
    CHECK(ops == fw_backend_cpu());
    CHECK_INT(o.precision, FW_PRECISION_FP32);
    CHECK_INT(o.threads, 3);
    CHECK_INT(fw_backend_for_device("cpu", 0, FW_PRECISION_FP32, 0, &ops, &o, &err), FW_OK);
    CHECK_INT(fw_backend_for_device("cpu", 0, FW_PRECISION_BF16, 0, &ops, &o, &err), FW_EINVAL);
    CHECK_MSG(strstr(err.msg, "bf16 needs device=cuda") != NULL, "%s", err.msg);
    CHECK(ops == NULL);
    /* the CPU backend itself refuses 16 bits too */
    fw_backend *be = NULL;
    fw_backend_options half = {.threads = 1, .precision = FW_PRECISION_FP16};
    CHECK_INT(fw_backend_cpu()->create(&half, &be, &err), FW_EINVAL);
    CHECK(be == NULL);
}

static void test_cuda(void)
{
    const fw_backend_ops *ops = NULL;
    fw_backend_options o;
    fw_error err = {0};
    int rc = fw_backend_for_device("cuda", 2, FW_PRECISION_AUTO, 0, &ops, &o, &err);
    if (fw_backend_cuda() == NULL) {
        CHECK_INT(rc, FW_EUNSUPPORTED);
        CHECK_MSG(strstr(err.msg, "built without the CUDA toolkit") != NULL, "%s", err.msg);
        return;
    }
    CHECK_INT(rc, FW_OK);
    CHECK(ops == fw_backend_cuda());
    CHECK_INT(o.device, 2);
    /* no GPU 2 here (or anywhere in CI): auto is fp32; given values are kept */
    CHECK_INT(o.precision, FW_PRECISION_FP32);
    CHECK_INT(fw_backend_for_device("cuda:0", 0, FW_PRECISION_FP16, 0, &ops, &o, &err), FW_OK);
    CHECK_INT(o.precision, FW_PRECISION_FP16);
}

static void test_other_device(void)
{
    const fw_backend_ops *ops = NULL;
    fw_backend_options o;
    fw_error err = {0};
    CHECK_INT(fw_backend_for_device("tpu\x1b[2J", 0, FW_PRECISION_AUTO, 0, &ops, &o, &err),
              FW_EINVAL);
    CHECK_MSG(strstr(err.msg, "expected cpu or cuda") != NULL, "%s", err.msg);
    CHECK_MSG(strchr(err.msg, '\x1b') == NULL, "unsanitised: %s", err.msg);
}

int main(void)
{
    RUN(test_cpu);
    RUN(test_cuda);
    RUN(test_other_device);
    return tap_done();
}
