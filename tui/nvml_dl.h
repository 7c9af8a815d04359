/* nvml_dl.h — NVIDIA's management library (NVML) opened at run time with
 * dlopen("libnvidia-ml.so.1"), never linked, so flukewatch starts and shows
 * its System panel on machines with no NVIDIA driver. Reads, per GPU: name,
 * utilisation, memory, temperature and power.
 *
 * Opening fails with a plain message (FW_EDEVICE) that the panel shows as
 * it is: "no NVIDIA driver: libnvidia-ml.so.1 not found", "no NVIDIA
 * driver: nvmlInit_v2: Driver Not Loaded", or NVML's own error string.
 */
#ifndef FW_NVML_DL_H
#define FW_NVML_DL_H

#include <stdint.h>

#include "fw_error.h"

/* The library the driver installs (soname, not the -dev symlink). */
#define FW_NVML_LIBRARY "libnvidia-ml.so.1"

/* NVML_DEVICE_NAME_V2_BUFFER_SIZE in nvml.h: room for any device name. */
#define FW_GPU_NAME_MAX 96

/* One reading of one GPU. A field whose has_* flag is 0 was not available
 * (the board does not support it, or NVML failed; `error` then says why). */
typedef struct fw_gpu_reading {
    char name[FW_GPU_NAME_MAX]; /* sanitised for the terminal */
    int has_util, has_memory, has_temp, has_power;
    unsigned util_gpu;          /* % of the last sample period a kernel ran */
    unsigned util_memory;       /* % of it device memory was read or written */
    uint64_t memory_total;      /* bytes */
    uint64_t memory_used;       /* bytes */
    uint64_t memory_free;       /* bytes */
    unsigned temp_c;            /* GPU die, degrees Celsius */
    double power_w;             /* board power draw, watts */
    char error[160];            /* first failure of this reading, "" if none */
} fw_gpu_reading;

typedef struct fw_nvml fw_nvml;

/* dlopen `library` (NULL: FW_NVML_LIBRARY), resolve the entry points,
 * nvmlInit and count the GPUs. On failure *out is NULL, nothing stays
 * loaded, and err says why in words fit for the System panel. */
int fw_nvml_open(fw_nvml **out, const char *library, fw_error *err);

/* GPUs NVML reported at open time. */
int fw_nvml_device_count(const fw_nvml *nvml);

/* Read GPU `index` (0 <= index < count) into *out. Fields NVML cannot give
 * are flagged, not failed: returns 0 when at least one value was read,
 * FW_EDEVICE (message in err and out->error) when none was. */
int fw_nvml_read(fw_nvml *nvml, int index, fw_gpu_reading *out, fw_error *err);

/* nvmlShutdown and dlclose. NULL is fine. */
void fw_nvml_close(fw_nvml *nvml);

#endif
