/* telemetry.c — /proc parsers, history rings, sparklines and the sampler
 * behind the System panel (see telemetry.h). */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "telemetry.h"

/* ------------------------------------------------------------ text scanning */

/* Cores numbered beyond this are taken for a malformed file (Linux's
 * NR_CPUS tops out at 8192). */
#define MAX_CORE_NUMBER 65535

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Parse an unsigned decimal at *p (after blanks), stopping before end;
 * advances *p. 0 on success, -1 when no digit or on overflow. */
static int scan_u64(const char **p, const char *end, uint64_t *out)
{
    const char *s = *p;
    while (s < end && is_blank(*s))
        s++;
    if (s >= end || *s < '0' || *s > '9')
        return -1;
    uint64_t v = 0;
    while (s < end && *s >= '0' && *s <= '9') {
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
        s++;
    }
    *out = v;
    *p = s;
    return 0;
}

static const char *line_end(const char *line)
{
    const char *nl = strchr(line, '\n');
    return nl ? nl : line + strlen(line);
}

/* ------------------------------------------------------------ /proc/stat */

static int grow_cores(fw_cpu_sample *s, int ncores, fw_error *err)
{
    if (ncores <= s->capacity)
        return FW_OK;
    int cap = s->capacity ? s->capacity : 8;
    while (cap < ncores)
        cap *= 2;
    fw_cpu_times *cores = realloc(s->cores, (size_t)cap * sizeof *cores);
    if (!cores)
        return fw_fail(err, FW_ENOMEM, "cannot hold %d cores", cap);
    s->cores = cores;
    unsigned char *online = realloc(s->online, (size_t)cap);
    if (!online)
        return fw_fail(err, FW_ENOMEM, "cannot hold %d cores", cap);
    s->online = online;
    s->capacity = cap;
    return FW_OK;
}

int fw_cpu_sample_parse(const char *text, fw_cpu_sample *s, fw_error *err)
{
    int have_total = 0, lineno = 0;
    s->ncores = 0;
    memset(&s->total, 0, sizeof s->total);
    for (const char *line = text; *line; ) {
        const char *end = line_end(line);
        lineno++;
        if (end - line >= 3 && memcmp(line, "cpu", 3) == 0) {
            const char *p = line + 3;
            int core = -1; /* -1: the aggregate line */
            if (p < end && *p >= '0' && *p <= '9') {
                uint64_t n = 0;
                if (scan_u64(&p, end, &n) != 0 || n > MAX_CORE_NUMBER)
                    return fw_fail(err, FW_EFORMAT, "line %d: bad core number", lineno);
                core = (int)n;
            }
            if (p >= end || !is_blank(*p))
                return fw_fail(err, FW_EFORMAT, "line %d: expected counters after 'cpu'",
                               lineno);
            uint64_t v[10] = {0};
            int got = 0;
            uint64_t extra;
            while (got < 10 && scan_u64(&p, end, &v[got]) == 0)
                got++;
            while (got == 10 && scan_u64(&p, end, &extra) == 0)
                ; /* counters a newer kernel may add */
            while (p < end && (is_blank(*p) || *p == '\r'))
                p++;
            if (got < 4 || p != end)
                return fw_fail(err, FW_EFORMAT,
                               "line %d: a cpu line needs 4 to 10 counters (got %d%s)", lineno,
                               got, p != end ? " and stray text" : "");
            fw_cpu_times t = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9]};
            if (core < 0) {
                s->total = t;
                have_total = 1;
            } else {
                if (core >= s->ncores) {
                    FW_TRY(grow_cores(s, core + 1, err));
                    memset(s->online + s->ncores, 0, (size_t)(core + 1 - s->ncores));
                    s->ncores = core + 1;
                }
                s->cores[core] = t;
                s->online[core] = 1;
            }
        }
        line = *end ? end + 1 : end;
    }
    if (!have_total)
        return fw_fail(err, FW_EFORMAT, "no aggregate 'cpu' line");
    return FW_OK;
}

void fw_cpu_sample_free(fw_cpu_sample *s)
{
    free(s->cores);
    free(s->online);
    memset(s, 0, sizeof *s);
}

/* after - before, or 0 when a counter went backwards. */
static uint64_t delta(uint64_t before, uint64_t after)
{
    return after > before ? after - before : 0;
}

double fw_cpu_busy_percent(const fw_cpu_times *a, const fw_cpu_times *b)
{
    uint64_t idle = delta(a->idle, b->idle) + delta(a->iowait, b->iowait);
    uint64_t busy = delta(a->user, b->user) + delta(a->nice, b->nice) +
                    delta(a->system, b->system) + delta(a->irq, b->irq) +
                    delta(a->softirq, b->softirq) + delta(a->steal, b->steal);
    uint64_t total = idle + busy;
    if (total == 0)
        return NAN;
    return 100.0 * (double)busy / (double)total;
}

/* ------------------------------------------------------------ /proc/meminfo */

int fw_meminfo_parse(const char *text, fw_meminfo *m, fw_error *err)
{
    static const struct {
        const char *key;
        size_t offset;
    } fields[] = {
        {"MemTotal", offsetof(fw_meminfo, total)},
        {"MemFree", offsetof(fw_meminfo, free)},
        {"MemAvailable", offsetof(fw_meminfo, available)},
        {"Buffers", offsetof(fw_meminfo, buffers)},
        {"Cached", offsetof(fw_meminfo, cached)},
        {"SwapTotal", offsetof(fw_meminfo, swap_total)},
        {"SwapFree", offsetof(fw_meminfo, swap_free)},
    };
    enum { NFIELDS = sizeof fields / sizeof fields[0] };
    int seen[NFIELDS] = {0};
    memset(m, 0, sizeof *m);
    int lineno = 0;
    for (const char *line = text; *line; ) {
        const char *end = line_end(line);
        lineno++;
        const char *colon = memchr(line, ':', (size_t)(end - line));
        for (int f = 0; colon && f < NFIELDS; f++) {
            size_t klen = strlen(fields[f].key);
            if ((size_t)(colon - line) != klen || memcmp(line, fields[f].key, klen) != 0)
                continue;
            const char *p = colon + 1;
            uint64_t v = 0;
            if (scan_u64(&p, end, &v) != 0)
                return fw_fail(err, FW_EFORMAT, "line %d: %s has no number", lineno,
                               fields[f].key);
            while (p < end && is_blank(*p))
                p++;
            if (end - p >= 2 && memcmp(p, "kB", 2) == 0) {
                if (v > UINT64_MAX / 1024)
                    return fw_fail(err, FW_EFORMAT, "line %d: %s is too large", lineno,
                                   fields[f].key);
                v *= 1024;
            }
            *(uint64_t *)((char *)m + fields[f].offset) = v;
            seen[f] = 1;
        }
        line = *end ? end + 1 : end;
    }
    if (!seen[0])
        return fw_fail(err, FW_EFORMAT, "no MemTotal line");
    if (!seen[2]) {
        uint64_t estimate = m->free + m->buffers + m->cached;
        m->available = estimate < m->total ? estimate : m->total;
    }
    m->used = m->total > m->available ? m->total - m->available : 0;
    return FW_OK;
}

/* ------------------------------------------------------------ /proc/[pid]/stat */

int fw_proc_stat_parse(const char *text, long ticks_per_second, long page_size,
                       fw_proc_usage *u, fw_error *err)
{
    /* Fields after the command: 3 state, ..., 14 utime, 15 stime, ...,
     * 20 num_threads, ..., 24 rss (proc(5)); token k here is field k + 3. */
    enum { UTIME = 11, STIME = 12, THREADS = 17, RSS = 21 };
    memset(u, 0, sizeof *u);
    const char *paren = strrchr(text, ')');
    if (!paren || !strchr(text, '('))
        return fw_fail(err, FW_EFORMAT, "no '(command)' field");
    if (ticks_per_second <= 0 || page_size <= 0)
        return fw_fail(err, FW_EINVAL, "bad tick rate %ld or page size %ld", ticks_per_second,
                       page_size);
    const char *p = paren + 1, *end = line_end(paren);
    uint64_t values[RSS + 1] = {0};
    for (int token = 0; token <= RSS; token++) {
        while (p < end && is_blank(*p))
            p++;
        if (p >= end)
            return fw_fail(err, FW_EFORMAT, "only %d fields after the command", token);
        const char *start = p;
        if (token == UTIME || token == STIME || token == THREADS || token == RSS) {
            if (scan_u64(&p, end, &values[token]) != 0 || (p < end && !is_blank(*p)))
                return fw_fail(err, FW_EFORMAT, "field %d is not a count", token + 3);
        }
        while (p < end && !is_blank(*p))
            p++;
        if (p == start)
            return fw_fail(err, FW_EFORMAT, "field %d is empty", token + 3);
    }
    u->utime_ticks = values[UTIME];
    u->stime_ticks = values[STIME];
    u->cpu_seconds = (double)(values[UTIME] + values[STIME]) / (double)ticks_per_second;
    u->rss_bytes = values[RSS] * (uint64_t)page_size;
    u->threads = values[THREADS] > 1000000 ? 1000000 : (int)values[THREADS];
    return FW_OK;
}

/* Read a whole /proc file (whose size stat() does not tell) into a buffer
 * that grows as needed and is kept for the next read. */
static int read_proc_text(const char *path, char **buf, size_t *cap, fw_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fw_fail(err, errno == ENOENT ? FW_ENOTFOUND : FW_EIO, "%s: cannot open: %s",
                       path, strerror(errno));
    size_t len = 0;
    for (;;) {
        if (len + 1 >= *cap) {
            size_t grown_cap = *cap ? *cap * 2 : 8192;
            if (grown_cap > ((size_t)64 << 20)) {
                close(fd);
                return fw_fail(err, FW_ETOOBIG, "%s: over 64 MiB", path);
            }
            char *grown = realloc(*buf, grown_cap);
            if (!grown) {
                close(fd);
                return fw_fail(err, FW_ENOMEM, "%s: cannot allocate %zu bytes", path,
                               grown_cap);
            }
            *buf = grown;
            *cap = grown_cap;
        }
        ssize_t r = read(fd, *buf + len, *cap - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            return fw_fail(err, FW_EIO, "%s: read error: %s", path, strerror(e));
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    (*buf)[len] = '\0';
    return FW_OK;
}

int fw_proc_stat_read(const char *path, fw_proc_usage *u, fw_error *err)
{
    char *text = NULL;
    size_t cap = 0;
    int rc = read_proc_text(path, &text, &cap, err);
    if (rc == FW_OK) {
        rc = fw_proc_stat_parse(text, sysconf(_SC_CLK_TCK), sysconf(_SC_PAGESIZE), u, err);
        if (rc < 0)
            fw_error_prefix(err, "%s: ", path);
    }
    free(text);
    return rc;
}

/* ------------------------------------------------------------ history ring */

int fw_ring_init(fw_ring *r, int capacity, fw_error *err)
{
    memset(r, 0, sizeof *r);
    if (capacity < 1)
        return fw_fail(err, FW_EINVAL, "history length %d: must be at least 1", capacity);
    r->values = malloc((size_t)capacity * sizeof *r->values);
    if (!r->values)
        return fw_fail(err, FW_ENOMEM, "cannot hold a history of %d values", capacity);
    r->capacity = capacity;
    return FW_OK;
}

void fw_ring_free(fw_ring *r)
{
    free(r->values);
    memset(r, 0, sizeof *r);
}

void fw_ring_push(fw_ring *r, double v)
{
    if (r->capacity < 1)
        return;
    if (r->count < r->capacity) {
        r->values[(r->start + r->count) % r->capacity] = v;
        r->count++;
    } else {
        r->values[r->start] = v;
        r->start = (r->start + 1) % r->capacity;
    }
}

double fw_ring_at(const fw_ring *r, int i)
{
    if (!r || i < 0 || i >= r->count)
        return NAN;
    return r->values[(r->start + i) % r->capacity];
}

double fw_ring_last(const fw_ring *r)
{
    return r ? fw_ring_at(r, r->count - 1) : NAN;
}

int fw_ring_copy_last(const fw_ring *r, int n, double *out)
{
    if (!r || n <= 0)
        return 0;
    int k = n < r->count ? n : r->count;
    for (int i = 0; i < k; i++)
        out[i] = fw_ring_at(r, r->count - k + i);
    return k;
}

/* ------------------------------------------------------------ sparklines */

static const char *const spark_utf8[8] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
static const char spark_ascii[8] = {' ', '.', ':', '-', '=', '+', '*', '#'};

/* Append one cell (a glyph of `level`, or a blank for level < 0). */
static int put_cell(char *out, size_t out_size, size_t *len, int level, fw_spark_glyphs glyphs)
{
    const char *s;
    char one[2] = {' ', '\0'};
    if (level >= 0 && glyphs == FW_SPARK_UTF8)
        s = spark_utf8[level];
    else {
        one[0] = level >= 0 ? spark_ascii[level] : ' ';
        s = one;
    }
    size_t n = strlen(s);
    if (*len + n + 1 > out_size)
        return 0;
    memcpy(out + *len, s, n);
    *len += n;
    out[*len] = '\0';
    return 1;
}

/* The values a sparkline draws: an array, or a stretch of a ring. */
typedef struct spark_series {
    const double *array;
    const fw_ring *ring;
    int first; /* ring index of value 0 */
    int n;
} spark_series;

static double series_at(const spark_series *s, int i)
{
    return s->array ? s->array[i] : fw_ring_at(s->ring, s->first + i);
}

/* Leading blank cells count towards the width but not the range. */
static int spark_cells(const spark_series *s, int leading_blanks, double lo, double hi,
                       fw_spark_glyphs glyphs, char *out, size_t out_size)
{
    if (out_size == 0)
        return 0;
    out[0] = '\0';
    if (isnan(lo) || isnan(hi)) {
        double mn = INFINITY, mx = -INFINITY;
        for (int i = 0; i < s->n; i++) {
            double v = series_at(s, i);
            if (isfinite(v)) {
                mn = v < mn ? v : mn;
                mx = v > mx ? v : mx;
            }
        }
        if (isnan(lo))
            lo = mn;
        if (isnan(hi))
            hi = mx;
    }
    int range_ok = isfinite(lo) && isfinite(hi) && hi > lo;
    size_t len = 0;
    int cells = 0;
    for (int i = 0; i < leading_blanks; i++, cells++)
        if (!put_cell(out, out_size, &len, -1, glyphs))
            return cells;
    for (int i = 0; i < s->n; i++, cells++) {
        double v = series_at(s, i);
        int level = -1;
        if (isfinite(v)) {
            level = 0;
            if (range_ok) {
                double f = floor(8.0 * (v - lo) / (hi - lo));
                level = f < 0 ? 0 : f > 7 ? 7 : (int)f;
            }
        }
        if (!put_cell(out, out_size, &len, level, glyphs))
            return cells;
    }
    return cells;
}

int fw_sparkline(const double *values, int n, double lo, double hi, fw_spark_glyphs glyphs,
                 char *out, size_t out_size)
{
    spark_series s = {.array = values, .n = n < 0 || !values ? 0 : n};
    return spark_cells(&s, 0, lo, hi, glyphs, out, out_size);
}

int fw_sparkline_ring(const fw_ring *r, int width, double lo, double hi,
                      fw_spark_glyphs glyphs, char *out, size_t out_size)
{
    if (width < 0)
        width = 0;
    int count = r ? r->count : 0;
    int n = width < count ? width : count;
    spark_series s = {.ring = r, .first = count - n, .n = n};
    return spark_cells(&s, width - n, lo, hi, glyphs, out, out_size);
}

/* ------------------------------------------------------------ the sampler */

enum { TEXT_STAT, TEXT_MEMINFO, TEXT_SELF, NTEXTS };

struct fw_telemetry {
    int history_len;
    long samples;
    long ticks_per_second, page_size;
    struct {
        char *data;
        size_t cap;
    } text[NTEXTS]; /* read buffers, reused */

    fw_cpu_sample stat[2]; /* the previous and the scratch reading */
    int prev;              /* index of the previous reading in stat[] */
    int have_prev;
    int ncores;            /* slots below, 1 + highest core number seen */
    double *core_percent;  /* (ncores) */
    unsigned char *core_online; /* (ncores) */
    fw_ring *core_history; /* (ncores) */
    double cpu_percent;
    fw_ring cpu_history;

    fw_meminfo memory;
    fw_ring memory_history; /* used / total, % */

    fw_proc_usage self;
    int have_self;
    double self_time;   /* monotonic seconds of the self reading */
    double self_percent;

    fw_nvml *nvml;
    char gpu_status[sizeof(((fw_error *)0)->msg)];
    int ngpus;
    fw_gpu_reading *gpus;   /* (ngpus) */
    fw_ring *gpu_history;   /* (ngpus, FW_GPU_METRICS) */
};

static int grow_core_slots(fw_telemetry *t, int ncores, fw_error *err)
{
    if (ncores <= t->ncores)
        return FW_OK;
    double *pct = realloc(t->core_percent, (size_t)ncores * sizeof *pct);
    if (!pct)
        return fw_fail(err, FW_ENOMEM, "cannot track %d cores", ncores);
    t->core_percent = pct;
    unsigned char *online = realloc(t->core_online, (size_t)ncores);
    if (!online)
        return fw_fail(err, FW_ENOMEM, "cannot track %d cores", ncores);
    t->core_online = online;
    fw_ring *hist = realloc(t->core_history, (size_t)ncores * sizeof *hist);
    if (!hist)
        return fw_fail(err, FW_ENOMEM, "cannot track %d cores", ncores);
    t->core_history = hist;
    for (int i = t->ncores; i < ncores; i++) {
        pct[i] = NAN;
        online[i] = 0;
        int rc = fw_ring_init(&hist[i], t->history_len, err);
        if (rc < 0) {
            t->ncores = i; /* rings below i are live */
            return rc;
        }
    }
    t->ncores = ncores;
    return FW_OK;
}

int fw_telemetry_open(fw_telemetry **out, int history_len, fw_error *err)
{
    *out = NULL;
    if (history_len < 1)
        return fw_fail(err, FW_EINVAL, "history length %d: must be at least 1", history_len);
    fw_telemetry *t = calloc(1, sizeof *t);
    if (!t)
        return fw_fail(err, FW_ENOMEM, "telemetry: out of memory");
    t->history_len = history_len;
    t->ticks_per_second = sysconf(_SC_CLK_TCK);
    t->page_size = sysconf(_SC_PAGESIZE);
    t->cpu_percent = NAN;
    t->self_percent = NAN;
    int rc = fw_ring_init(&t->cpu_history, history_len, err);
    if (rc == FW_OK)
        rc = fw_ring_init(&t->memory_history, history_len, err);
    if (rc < 0) {
        fw_telemetry_close(t);
        return rc;
    }

    fw_error nvml_err = {0};
    if (fw_nvml_open(&t->nvml, NULL, &nvml_err) < 0) {
        snprintf(t->gpu_status, sizeof t->gpu_status, "%s", nvml_err.msg);
        *out = t;
        return FW_OK;
    }
    int n = fw_nvml_device_count(t->nvml);
    if (n == 0) {
        snprintf(t->gpu_status, sizeof t->gpu_status, "NVML found no GPU");
        *out = t;
        return FW_OK;
    }
    t->gpus = calloc((size_t)n, sizeof *t->gpus);
    t->gpu_history = calloc((size_t)n * FW_GPU_METRICS, sizeof *t->gpu_history);
    if (!t->gpus || !t->gpu_history) {
        fw_telemetry_close(t);
        return fw_fail(err, FW_ENOMEM, "telemetry: out of memory for %d GPUs", n);
    }
    t->ngpus = n;
    for (int i = 0; i < n * FW_GPU_METRICS; i++)
        if ((rc = fw_ring_init(&t->gpu_history[i], history_len, err)) < 0) {
            fw_telemetry_close(t);
            return rc;
        }
    *out = t;
    return FW_OK;
}

int fw_telemetry_feed(fw_telemetry *t, const char *proc_stat, const char *meminfo,
                      const char *self_stat, double now_seconds, fw_error *err)
{
    /* Parse everything first, so a bad text changes nothing. */
    fw_cpu_sample *cur = &t->stat[1 - t->prev], *prev = &t->stat[t->prev];
    const char *failed = NULL;
    fw_meminfo mem;
    fw_proc_usage self;
    int rc = fw_cpu_sample_parse(proc_stat, cur, err);
    if (rc < 0)
        failed = "/proc/stat";
    else if ((rc = fw_meminfo_parse(meminfo, &mem, err)) < 0)
        failed = "/proc/meminfo";
    else if (self_stat && (rc = fw_proc_stat_parse(self_stat, t->ticks_per_second,
                                                   t->page_size, &self, err)) < 0)
        failed = "/proc/self/stat";
    if (failed) {
        fw_error_prefix(err, "%s: ", failed);
        return rc;
    }
    FW_TRY(grow_core_slots(t, cur->ncores, err));

    /* Cores: a core needs a line in both readings to have a value. */
    for (int i = 0; i < t->ncores; i++) {
        int now_online = i < cur->ncores && cur->online[i];
        int was_online = t->have_prev && i < prev->ncores && prev->online[i];
        t->core_online[i] = (unsigned char)now_online;
        t->core_percent[i] = now_online && was_online
                                 ? fw_cpu_busy_percent(&prev->cores[i], &cur->cores[i])
                                 : NAN;
        if (t->have_prev)
            fw_ring_push(&t->core_history[i], t->core_percent[i]);
    }
    if (t->have_prev) {
        t->cpu_percent = fw_cpu_busy_percent(&prev->total, &cur->total);
        fw_ring_push(&t->cpu_history, t->cpu_percent);
    }
    t->prev = 1 - t->prev;
    t->have_prev = 1;

    t->memory = mem;
    fw_ring_push(&t->memory_history,
                 mem.total ? 100.0 * (double)mem.used / (double)mem.total : NAN);

    if (self_stat) {
        double dt = now_seconds - t->self_time;
        if (t->have_self && dt > 0) {
            uint64_t before = t->self.utime_ticks + t->self.stime_ticks;
            uint64_t after = self.utime_ticks + self.stime_ticks;
            t->self_percent = 100.0 * (double)delta(before, after) /
                              (double)t->ticks_per_second / dt;
        }
        t->self = self;
        t->self_time = now_seconds;
        t->have_self = 1;
    }
    t->samples++;
    return FW_OK;
}

static void sample_gpus(fw_telemetry *t)
{
    for (int g = 0; g < t->ngpus; g++) {
        fw_gpu_reading *r = &t->gpus[g];
        fw_nvml_read(t->nvml, g, r, NULL); /* failures stay in r->error */
        fw_ring *h = &t->gpu_history[g * FW_GPU_METRICS];
        fw_ring_push(&h[FW_GPU_UTIL], r->has_util ? (double)r->util_gpu : NAN);
        fw_ring_push(&h[FW_GPU_MEMORY], r->has_memory && r->memory_total
                                            ? 100.0 * (double)r->memory_used /
                                                  (double)r->memory_total
                                            : NAN);
        fw_ring_push(&h[FW_GPU_TEMP], r->has_temp ? (double)r->temp_c : NAN);
        fw_ring_push(&h[FW_GPU_POWER], r->has_power ? r->power_w : NAN);
    }
}

int fw_telemetry_sample(fw_telemetry *t, fw_error *err)
{
    static const char *const paths[NTEXTS] = {"/proc/stat", "/proc/meminfo",
                                              "/proc/self/stat"};
    sample_gpus(t); /* GPU figures do not depend on /proc */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    for (int i = 0; i < NTEXTS; i++)
        FW_TRY(read_proc_text(paths[i], &t->text[i].data, &t->text[i].cap, err));
    return fw_telemetry_feed(t, t->text[TEXT_STAT].data, t->text[TEXT_MEMINFO].data,
                             t->text[TEXT_SELF].data, (double)ts.tv_sec + ts.tv_nsec * 1e-9,
                             err);
}

void fw_telemetry_close(fw_telemetry *t)
{
    if (!t)
        return;
    for (int i = 0; i < NTEXTS; i++)
        free(t->text[i].data);
    fw_cpu_sample_free(&t->stat[0]);
    fw_cpu_sample_free(&t->stat[1]);
    for (int i = 0; i < t->ncores; i++)
        fw_ring_free(&t->core_history[i]);
    free(t->core_history);
    free(t->core_percent);
    free(t->core_online);
    fw_ring_free(&t->cpu_history);
    fw_ring_free(&t->memory_history);
    if (t->gpu_history)
        for (int i = 0; i < t->ngpus * FW_GPU_METRICS; i++)
            fw_ring_free(&t->gpu_history[i]);
    free(t->gpu_history);
    free(t->gpus);
    fw_nvml_close(t->nvml);
    free(t);
}

/* ------------------------------------------------------------ accessors */

long fw_telemetry_samples(const fw_telemetry *t)
{
    return t->samples;
}

int fw_telemetry_core_count(const fw_telemetry *t)
{
    return t->ncores;
}

int fw_telemetry_core_online(const fw_telemetry *t, int core)
{
    return core >= 0 && core < t->ncores && t->core_online[core];
}

double fw_telemetry_core_percent(const fw_telemetry *t, int core)
{
    return core >= 0 && core < t->ncores ? t->core_percent[core] : NAN;
}

const fw_ring *fw_telemetry_core_history(const fw_telemetry *t, int core)
{
    return core >= 0 && core < t->ncores ? &t->core_history[core] : NULL;
}

double fw_telemetry_cpu_percent(const fw_telemetry *t)
{
    return t->cpu_percent;
}

const fw_ring *fw_telemetry_cpu_history(const fw_telemetry *t)
{
    return &t->cpu_history;
}

const fw_meminfo *fw_telemetry_memory(const fw_telemetry *t)
{
    return &t->memory;
}

const fw_ring *fw_telemetry_memory_history(const fw_telemetry *t)
{
    return &t->memory_history;
}

const fw_proc_usage *fw_telemetry_self(const fw_telemetry *t)
{
    return &t->self;
}

double fw_telemetry_self_cpu_percent(const fw_telemetry *t)
{
    return t->self_percent;
}

int fw_telemetry_gpu_count(const fw_telemetry *t)
{
    return t->ngpus;
}

const char *fw_telemetry_gpu_status(const fw_telemetry *t)
{
    return t->gpu_status;
}

const fw_gpu_reading *fw_telemetry_gpu(const fw_telemetry *t, int gpu)
{
    return gpu >= 0 && gpu < t->ngpus ? &t->gpus[gpu] : NULL;
}

const fw_ring *fw_telemetry_gpu_history(const fw_telemetry *t, int gpu, fw_gpu_metric metric)
{
    if (gpu < 0 || gpu >= t->ngpus || (int)metric < 0 || metric >= FW_GPU_METRICS)
        return NULL;
    return &t->gpu_history[gpu * FW_GPU_METRICS + metric];
}
