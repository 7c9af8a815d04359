/* telemetry.h — the System panel's data: CPU per core, memory, this
 * process's own cost, and NVIDIA GPUs (through nvml_dl.h), each with a
 * history ring for sparklines. No ncurses here.
 *
 * Three layers, each usable alone:
 *   - pure parsers of /proc texts (/proc/stat, /proc/meminfo,
 *     /proc/[pid]/stat) and the arithmetic on two samples;
 *   - fw_ring (a fixed-capacity ring of doubles) and fw_sparkline (a row of
 *     ▁▂▃▄▅▆▇█, or " .:-=+*#" without UTF-8);
 *   - the sampler fw_telemetry: open, sample at the panel's refresh rate,
 *     read the latest values and histories, close.
 *
 * Percentages are 0..100. NaN means "no value": a core that is offline or
 * has only one sample so far, a GPU field the board does not report.
 * A sampler belongs to one thread (the UI's); one sample costs ~30 µs of
 * CPU on the development machine without GPUs (NVML adds its own calls).
 */
#ifndef FW_TELEMETRY_H
#define FW_TELEMETRY_H

#include <stddef.h>
#include <stdint.h>

#include "fw_error.h"
#include "nvml_dl.h"

/* ------------------------------------------------------------ /proc/stat */

/* One "cpu" line of /proc/stat, in clock ticks since boot. guest and
 * guest_nice are already included in user and nice by the kernel. */
typedef struct fw_cpu_times {
    uint64_t user, nice, system, idle, iowait, irq, softirq, steal, guest, guest_nice;
} fw_cpu_times;

/* All "cpu" lines of one /proc/stat. Offline cores have no line. */
typedef struct fw_cpu_sample {
    fw_cpu_times total;     /* the aggregate "cpu" line */
    int ncores;             /* 1 + the highest N among the "cpuN" lines */
    fw_cpu_times *cores;    /* (ncores) indexed by N */
    unsigned char *online;  /* (ncores) 1 where a "cpuN" line was present */
    int capacity;           /* allocated length of cores/online */
} fw_cpu_sample;

/* Parse /proc/stat text into *s (zero-initialised the first time; its
 * arrays are reused and grown). Lines other than cpu lines are ignored;
 * older kernels' shorter cpu lines (4 to 10 numbers) are fine, missing
 * fields read 0. FW_EFORMAT naming the line when a cpu line is malformed
 * or the aggregate line is missing. */
int fw_cpu_sample_parse(const char *text, fw_cpu_sample *s, fw_error *err);
void fw_cpu_sample_free(fw_cpu_sample *s);

/* Busy share of the time between two readings of one cpu line, in percent:
 * 100 * (Δtotal - Δidle) / Δtotal with total = user + nice + system + idle
 * + iowait + irq + softirq + steal (guest time is inside user/nice and is
 * not counted twice) and idle = idle + iowait. Counters that went
 * backwards count as 0. NaN when no tick passed. */
double fw_cpu_busy_percent(const fw_cpu_times *before, const fw_cpu_times *after);

/* ------------------------------------------------------------ /proc/meminfo */

typedef struct fw_meminfo {
    uint64_t total, free, available, buffers, cached; /* bytes */
    uint64_t used;                                    /* total - available */
    uint64_t swap_total, swap_free;                   /* bytes */
} fw_meminfo;

/* Parse /proc/meminfo text. MemTotal is required (FW_EFORMAT otherwise);
 * without MemAvailable (kernels before 3.14) available is estimated as
 * free + buffers + cached. */
int fw_meminfo_parse(const char *text, fw_meminfo *m, fw_error *err);

/* ------------------------------------------------------------ /proc/[pid]/stat */

typedef struct fw_proc_usage {
    uint64_t utime_ticks, stime_ticks; /* user and system CPU time, clock ticks */
    double cpu_seconds;                /* (utime + stime) / ticks_per_second */
    uint64_t rss_bytes;                /* resident set size */
    int threads;
} fw_proc_usage;

/* Parse the text of /proc/self/stat (or /proc/PID/stat, or
 * /proc/self/task/TID/stat for one thread). The command name in
 * parentheses may hold spaces and parentheses. */
int fw_proc_stat_parse(const char *text, long ticks_per_second, long page_size,
                       fw_proc_usage *u, fw_error *err);

/* Read and parse such a file (sysconf's tick rate and page size). */
int fw_proc_stat_read(const char *path, fw_proc_usage *u, fw_error *err);

/* ------------------------------------------------------------ history ring */

typedef struct fw_ring {
    double *values; /* (capacity) */
    int capacity;
    int count;      /* values held, <= capacity */
    int start;      /* index of the oldest value */
} fw_ring;

int fw_ring_init(fw_ring *r, int capacity, fw_error *err);
void fw_ring_free(fw_ring *r);
/* Append; when full, the oldest value is dropped. */
void fw_ring_push(fw_ring *r, double v);
/* Value i, 0 = oldest, count-1 = newest; NaN outside [0, count). */
double fw_ring_at(const fw_ring *r, int i);
/* Newest value; NaN when empty. */
double fw_ring_last(const fw_ring *r);
/* Copy the newest min(n, count) values, oldest first; returns how many. */
int fw_ring_copy_last(const fw_ring *r, int n, double *out);

/* ------------------------------------------------------------ sparklines */

typedef enum fw_spark_glyphs {
    FW_SPARK_UTF8 = 0, /* ▁▂▃▄▅▆▇█ (U+2581..U+2588, 3 bytes each) */
    FW_SPARK_ASCII,    /* " .:-=+*#" */
} fw_spark_glyphs;

/* Bytes that always hold a sparkline of `cells` cells and its NUL. */
#define FW_SPARKLINE_BYTES(cells) ((size_t)(cells) * 3 + 1)

/* One cell per value. The range [lo, hi] is cut into 8 equal bins, level
 * floor(8 * (v - lo) / (hi - lo)) clamped to 0..7 (so lo is the lowest
 * glyph and hi the highest); values outside the range are clamped.
 * lo = NAN takes the smallest value shown, hi = NAN the largest; when the
 * range is empty (hi <= lo) every value gets the lowest glyph. A value that
 * is not finite is a blank cell (' '). Writes whole glyphs only and always
 * NUL-terminates (out_size > 0); returns the number of cells written. */
int fw_sparkline(const double *values, int n, double lo, double hi, fw_spark_glyphs glyphs,
                 char *out, size_t out_size);

/* The newest `width` values of a ring, right-aligned in `width` cells
 * (blank cells on the left while the ring holds fewer). The automatic
 * range is taken over the values shown. */
int fw_sparkline_ring(const fw_ring *r, int width, double lo, double hi,
                      fw_spark_glyphs glyphs, char *out, size_t out_size);

/* ------------------------------------------------------------ the sampler */

typedef struct fw_telemetry fw_telemetry;

/* Per-GPU histories. */
typedef enum fw_gpu_metric {
    FW_GPU_UTIL = 0,   /* % of time a kernel ran */
    FW_GPU_MEMORY,     /* % of device memory in use */
    FW_GPU_TEMP,       /* degrees Celsius */
    FW_GPU_POWER,      /* watts */
    FW_GPU_METRICS
} fw_gpu_metric;

/* Start a sampler keeping `history_len` (>= 1) values per metric. NVML is
 * opened here; its absence is no error (see fw_telemetry_gpu_status).
 * Takes no sample yet. */
int fw_telemetry_open(fw_telemetry **out, int history_len, fw_error *err);

/* Read /proc/stat, /proc/meminfo, /proc/self/stat and every GPU, update
 * the latest values and append to the histories. CPU percentages need two
 * samples: after the first they are NaN (and nothing is appended). A GPU
 * that fails to read keeps its error in its reading and is not fatal. */
int fw_telemetry_sample(fw_telemetry *t, fw_error *err);

/* The /proc half of fw_telemetry_sample on given texts (what it reads),
 * taken at `now_seconds` on a monotonic clock; self_stat may be NULL to
 * leave this process's figures alone. For replaying recorded samples. */
int fw_telemetry_feed(fw_telemetry *t, const char *proc_stat, const char *meminfo,
                      const char *self_stat, double now_seconds, fw_error *err);

void fw_telemetry_close(fw_telemetry *t);

/* Samples taken so far. */
long fw_telemetry_samples(const fw_telemetry *t);

/* CPU. Cores are numbered as the kernel numbers them (cpuN); the count is
 * 1 + the highest number seen so far and never shrinks. */
int fw_telemetry_core_count(const fw_telemetry *t);
int fw_telemetry_core_online(const fw_telemetry *t, int core);
double fw_telemetry_core_percent(const fw_telemetry *t, int core);
const fw_ring *fw_telemetry_core_history(const fw_telemetry *t, int core);
double fw_telemetry_cpu_percent(const fw_telemetry *t); /* all cores */
const fw_ring *fw_telemetry_cpu_history(const fw_telemetry *t);

/* Memory (the latest reading) and the history of used / total in %. */
const fw_meminfo *fw_telemetry_memory(const fw_telemetry *t);
const fw_ring *fw_telemetry_memory_history(const fw_telemetry *t);

/* This process: the latest /proc/self/stat reading and its CPU use between
 * the last two samples in % of one core (NaN before the second sample). */
const fw_proc_usage *fw_telemetry_self(const fw_telemetry *t);
double fw_telemetry_self_cpu_percent(const fw_telemetry *t);

/* GPUs. The status is "" when NVML is working and otherwise says plainly
 * why there are no GPU figures ("no NVIDIA driver: libnvidia-ml.so.1 not
 * found", "NVML found no GPU", NVML's error string). */
int fw_telemetry_gpu_count(const fw_telemetry *t);
const char *fw_telemetry_gpu_status(const fw_telemetry *t);
const fw_gpu_reading *fw_telemetry_gpu(const fw_telemetry *t, int gpu);
const fw_ring *fw_telemetry_gpu_history(const fw_telemetry *t, int gpu, fw_gpu_metric metric);

#endif
