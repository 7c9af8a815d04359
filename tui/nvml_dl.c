/* nvml_dl.c — NVML through dlopen (see nvml_dl.h).
 *
 * nvml.h is not installed on the build machines, so the few types and entry
 * points used here are declared below, following the NVML API Reference
 * (docs.nvidia.com/deploy/nvml-api): nvmlReturn_t is an enum (int-sized),
 * nvmlDevice_t an opaque pointer (struct nvmlDevice_st *), and
 *   nvmlUtilization_t { unsigned int gpu; unsigned int memory; }          (percent)
 *   nvmlMemory_t      { unsigned long long total; free; used; }           (bytes)
 *   nvmlReturn_t nvmlInit_v2(void);  nvmlShutdown(void);
 *   nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *deviceCount);
 *   nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device);
 *   nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t, char *name, unsigned int length);
 *   nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t, nvmlUtilization_t *);
 *   nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t, nvmlMemory_t *);
 *   nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t, nvmlTemperatureSensors_t, unsigned int *);
 *   nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t, unsigned int *power);   (milliwatts)
 *   const char  *nvmlErrorString(nvmlReturn_t);
 * Like nvtop, the unversioned entry points of old drivers are a fallback for
 * the _v2 ones.
 */
#include <config.h>

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvml_dl.h"
#include "sanitize.h"

typedef int nvml_return;                        /* nvmlReturn_t */
typedef struct nvml_device_st *nvml_device;     /* nvmlDevice_t */
typedef struct nvml_utilization {               /* nvmlUtilization_t */
    unsigned int gpu;
    unsigned int memory;
} nvml_utilization;
typedef struct nvml_memory {                    /* nvmlMemory_t (v1) */
    unsigned long long total;
    unsigned long long free;
    unsigned long long used;
} nvml_memory;

enum {
    NVML_OK = 0,                   /* NVML_SUCCESS */
    NVML_DRIVER_NOT_LOADED = 9,    /* NVML_ERROR_DRIVER_NOT_LOADED */
    NVML_TEMPERATURE_GPU_DIE = 0,  /* NVML_TEMPERATURE_GPU */
};

struct fw_nvml {
    void *library; /* dlopen handle */
    nvml_return (*init)(void);
    nvml_return (*shutdown)(void);
    nvml_return (*get_count)(unsigned int *);
    nvml_return (*get_handle)(unsigned int, nvml_device *);
    nvml_return (*get_name)(nvml_device, char *, unsigned int);
    nvml_return (*get_utilization)(nvml_device, nvml_utilization *);
    nvml_return (*get_memory)(nvml_device, nvml_memory *);
    nvml_return (*get_temperature)(nvml_device, int, unsigned int *);
    nvml_return (*get_power)(nvml_device, unsigned int *);
    const char *(*error_string)(nvml_return);
    int count;
    nvml_device *devices; /* (count) */
};

/* dlsym of the first of two names that exists (second may be NULL). */
static void *symbol(void *library, const char *name, const char *fallback)
{
    void *p = dlsym(library, name);
    if (!p && fallback)
        p = dlsym(library, fallback);
    return p;
}

static const char *nvml_text(const fw_nvml *n, nvml_return rc)
{
    const char *s = n->error_string ? n->error_string(rc) : NULL;
    return s ? s : "unknown NVML error";
}

/* Record `what: NVML's words` as the reading's first error. */
static void note_error(const fw_nvml *n, fw_gpu_reading *out, const char *what, nvml_return rc)
{
    if (out->error[0])
        return;
    char raw[sizeof out->error];
    snprintf(raw, sizeof raw, "%s: %s", what, nvml_text(n, rc));
    fw_sanitize(raw, out->error, sizeof out->error);
}

int fw_nvml_open(fw_nvml **out, const char *library, fw_error *err)
{
    *out = NULL;
    if (!library)
        library = FW_NVML_LIBRARY;
    dlerror();
    void *handle = dlopen(library, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char *why = dlerror();
        if (!why || strstr(why, "No such file"))
            return fw_fail(err, FW_EDEVICE, "no NVIDIA driver: %s not found", library);
        return fw_fail(err, FW_EDEVICE, "no NVIDIA driver: cannot load %s", why);
    }
    fw_nvml *n = calloc(1, sizeof *n);
    if (!n) {
        dlclose(handle);
        return fw_fail(err, FW_ENOMEM, "NVML: out of memory");
    }
    n->library = handle;

    /* Function pointers from dlsym: POSIX guarantees the conversion. */
    struct {
        void **slot;
        const char *name, *fallback;
    } wanted[] = {
        {(void **)&n->init, "nvmlInit_v2", "nvmlInit"},
        {(void **)&n->shutdown, "nvmlShutdown", NULL},
        {(void **)&n->get_count, "nvmlDeviceGetCount_v2", "nvmlDeviceGetCount"},
        {(void **)&n->get_handle, "nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex"},
        {(void **)&n->get_name, "nvmlDeviceGetName", NULL},
        {(void **)&n->get_utilization, "nvmlDeviceGetUtilizationRates", NULL},
        {(void **)&n->get_memory, "nvmlDeviceGetMemoryInfo", NULL},
        {(void **)&n->get_temperature, "nvmlDeviceGetTemperature", NULL},
        {(void **)&n->get_power, "nvmlDeviceGetPowerUsage", NULL},
        {(void **)&n->error_string, "nvmlErrorString", NULL},
    };
    for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++) {
        *wanted[i].slot = symbol(handle, wanted[i].name, wanted[i].fallback);
        if (!*wanted[i].slot) {
            dlclose(handle);
            free(n);
            return fw_fail(err, FW_EDEVICE, "NVML: %s has no %s (driver too old?)", library,
                           wanted[i].name);
        }
    }

    nvml_return rc = n->init();
    if (rc != NVML_OK) {
        if (rc == NVML_DRIVER_NOT_LOADED)
            fw_fail(err, FW_EDEVICE, "no NVIDIA driver: nvmlInit_v2: %s", nvml_text(n, rc));
        else
            fw_fail(err, FW_EDEVICE, "NVML: nvmlInit_v2: %s", nvml_text(n, rc));
        dlclose(handle); /* after the message: nvmlErrorString's text lives in the library */
        free(n);
        return FW_EDEVICE;
    }
    unsigned int count = 0;
    rc = n->get_count(&count);
    if (rc != NVML_OK) {
        fw_fail(err, FW_EDEVICE, "NVML: nvmlDeviceGetCount_v2: %s", nvml_text(n, rc));
        fw_nvml_close(n);
        return FW_EDEVICE;
    }
    if (count > 1024)
        count = 1024; /* far above any machine; bounds the allocation */
    n->devices = calloc(count ? count : 1, sizeof *n->devices);
    if (!n->devices) {
        fw_nvml_close(n);
        return fw_fail(err, FW_ENOMEM, "NVML: out of memory for %u devices", count);
    }
    /* A device whose handle NVML refuses (e.g. no permission) keeps a NULL
     * handle and reads as an error, so indices stay those of nvidia-smi. */
    for (unsigned int i = 0; i < count; i++)
        if (n->get_handle(i, &n->devices[i]) != NVML_OK)
            n->devices[i] = NULL;
    n->count = (int)count;
    *out = n;
    return FW_OK;
}

int fw_nvml_device_count(const fw_nvml *nvml)
{
    return nvml ? nvml->count : 0;
}

int fw_nvml_read(fw_nvml *n, int index, fw_gpu_reading *out, fw_error *err)
{
    memset(out, 0, sizeof *out);
    if (!n || index < 0 || index >= n->count)
        return fw_fail(err, FW_EINVAL, "NVML: no GPU %d", index);
    nvml_device dev = n->devices[index];
    if (!dev) {
        nvml_return rc = n->get_handle((unsigned int)index, &n->devices[index]);
        if (rc != NVML_OK) {
            note_error(n, out, "nvmlDeviceGetHandleByIndex_v2", rc);
            snprintf(out->name, sizeof out->name, "GPU %d", index);
            return fw_fail(err, FW_EDEVICE, "GPU %d: %s", index, out->error);
        }
        dev = n->devices[index];
    }

    char raw_name[FW_GPU_NAME_MAX] = "";
    nvml_return rc = n->get_name(dev, raw_name, sizeof raw_name);
    raw_name[sizeof raw_name - 1] = '\0';
    if (rc == NVML_OK)
        fw_sanitize(raw_name, out->name, sizeof out->name);
    else {
        note_error(n, out, "nvmlDeviceGetName", rc);
        snprintf(out->name, sizeof out->name, "GPU %d", index);
    }

    nvml_utilization util;
    rc = n->get_utilization(dev, &util);
    if (rc == NVML_OK) {
        out->has_util = 1;
        out->util_gpu = util.gpu;
        out->util_memory = util.memory;
    } else
        note_error(n, out, "nvmlDeviceGetUtilizationRates", rc);

    nvml_memory mem;
    rc = n->get_memory(dev, &mem);
    if (rc == NVML_OK) {
        out->has_memory = 1;
        out->memory_total = mem.total;
        out->memory_used = mem.used;
        out->memory_free = mem.free;
    } else
        note_error(n, out, "nvmlDeviceGetMemoryInfo", rc);

    unsigned int temp;
    rc = n->get_temperature(dev, NVML_TEMPERATURE_GPU_DIE, &temp);
    if (rc == NVML_OK) {
        out->has_temp = 1;
        out->temp_c = temp;
    } else
        note_error(n, out, "nvmlDeviceGetTemperature", rc);

    unsigned int milliwatts;
    rc = n->get_power(dev, &milliwatts);
    if (rc == NVML_OK) {
        out->has_power = 1;
        out->power_w = milliwatts / 1000.0;
    } else
        note_error(n, out, "nvmlDeviceGetPowerUsage", rc);

    if (!out->has_util && !out->has_memory && !out->has_temp && !out->has_power)
        return fw_fail(err, FW_EDEVICE, "GPU %d: %s", index, out->error);
    return FW_OK;
}

void fw_nvml_close(fw_nvml *n)
{
    if (!n)
        return;
    if (n->shutdown)
        n->shutdown();
    if (n->library)
        dlclose(n->library);
    free(n->devices);
    free(n);
}
