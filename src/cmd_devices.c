/* cmd_devices.c — `flukewatch devices`: the CPU and GPUs training can use, and
 * the versions of the math libraries behind each backend. */
#include <config.h>

#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>

#include "cli.h"
#include "dist.h"
#include "parallel.h"
#include "sanitize.h"
#ifdef HAVE_CUDA
#include "../gpu/device_info.h"
#endif

static const char *isa_name(dnnl_cpu_isa_t isa)
{
    switch (isa) {
    case dnnl_cpu_isa_sse41: return "SSE4.1";
    case dnnl_cpu_isa_avx: return "AVX";
    case dnnl_cpu_isa_avx2: return "AVX2";
    case dnnl_cpu_isa_avx2_vnni: return "AVX2-VNNI";
    case dnnl_cpu_isa_avx512_core: return "AVX-512";
    case dnnl_cpu_isa_avx512_core_vnni: return "AVX-512 VNNI";
    case dnnl_cpu_isa_avx512_core_bf16: return "AVX-512 BF16";
    case dnnl_cpu_isa_avx512_core_amx: return "AVX-512 AMX";
    default: return "generic";
    }
}

static int run(int argc, char **argv)
{
    if (argc > 1)
        return fw_cli_usage_error(&fw_cmd_devices, "unexpected argument '%s'", argv[1]);
    const dnnl_version_t *v = dnnl_version();
    printf("cpu      %d threads, oneDNN %d.%d.%d (%s)\n", fw_cpu_count(), v->major, v->minor,
           v->patch, isa_name(dnnl_get_effective_cpu_isa()));
#ifdef HAVE_CUDA
    fw_gpu_info info;
    fw_error err;
    fw_error_clear(&err);
    if (fw_gpu_probe(&info, &err) < 0)
        return fw_cli_report(&fw_cmd_devices, &err);
    printf("cuda     runtime %d.%d, cuDNN %zu.%zu.%zu, cuBLAS %d.%d.%d, NCCL %d.%d.%d\n",
           info.runtime_version / 1000, (info.runtime_version % 1000) / 10,
           info.cudnn_version / 10000, (info.cudnn_version / 100) % 100, info.cudnn_version % 100,
           info.cublas_version / 10000, (info.cublas_version / 100) % 100,
           info.cublas_version % 100, info.nccl_version / 10000, (info.nccl_version / 100) % 100,
           info.nccl_version % 100);
    if (info.device_count == 0) {
        char reason[256];
        printf("gpu      none (%s)\n",
               fw_sanitize(info.no_device_reason, reason, sizeof reason));
    }
    for (int d = 0; d < info.device_count; d++) {
        char name[256];
        const fw_gpu_device *g = &info.devices[d];
        printf("cuda:%-3d %s, %.1f GiB, compute %d.%d, %d SMs, precision=auto is %s\n", d,
               fw_sanitize(g->name, name, sizeof name), g->total_memory / 1073741824.0,
               g->cc_major, g->cc_minor, g->multiprocessors, g->cc_major >= 8 ? "bf16" : "fp32");
    }
#else
    printf("gpu      not compiled in (configure found no CUDA toolkit)\n");
#endif
    if (fw_dist_available())
        printf("mpi      data parallel over processes: mpirun -np N flukewatch train ...\n");
    else
        printf("mpi      not compiled in (configure found no Open MPI)\n");
    return FW_EXIT_OK;
}

const fw_command fw_cmd_devices = {
    "devices",
    "",
    "List the CPU and GPUs that training can use, with library versions.",
    "Prints one line for the CPU (threads, oneDNN version and instruction set),\n"
    "one for the CUDA libraries when the GPU backend is compiled in, one per GPU\n"
    "(with what precision=auto picks there), and one saying whether multi-process\n"
    "data parallel training (mpirun) is compiled in. On a machine without a GPU or\n"
    "driver it says so and exits 0.\n",
    run,
};
