/* test_telemetry.c — the System panel's data source: /proc/stat deltas on
 * fixed texts (guest fields, short old-kernel lines, a core hot-plugged in
 * and one taken offline, through the sampler's histories), /proc/meminfo
 * and /proc/self/stat parsing (fixed texts, and live against independent
 * sources: sysinfo(2), /proc/self/statm, CLOCK_PROCESS_CPUTIME_ID), ring
 * wrap-around against a plain array, sparklines byte for byte in both glyph
 * sets, NVML absent (or, where a driver exists, present), and a live sample
 * of this machine. */
#include <config.h>

#include <dlfcn.h>
#include <math.h>
#include <stdlib.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "telemetry.h"

/* Two readings 100 ticks apart per core. cpu0: user +30, system +10,
 * idle +60 -> 40% busy. cpu1: nice +5, irq +5, softirq +5, steal +5,
 * idle +70, iowait +10 -> 20 busy of 100 = 20%. Aggregate = the sums:
 * 60 busy of 200 = 30%. */
static const char *stat_a =
    "cpu  1000 200 300 4000 50 10 20 5 0 0\n"
    "cpu0 500 100 150 2000 25 5 10 2 0 0\n"
    "cpu1 500 100 150 2000 25 5 10 3 0 0\n"
    "intr 12345 0 0 1\n"
    "ctxt 999\n"
    "btime 1700000000\n";
static const char *stat_b =
    "cpu  1030 205 310 4130 60 15 25 10 0 0\n"
    "cpu0 530 100 160 2060 25 5 10 2 0 0\n"
    "cpu1 500 105 150 2070 35 10 15 8 0 0\n"
    "intr 12399 0 0 1\n"
    "ctxt 1010\n";

static void test_stat_parse_fields(void)
{
    fw_cpu_sample s = {0};
    fw_error err = {0};
    CHECK_INT(fw_cpu_sample_parse(stat_a, &s, &err), FW_OK);
    CHECK_INT(s.ncores, 2);
    CHECK(s.total.user == 1000 && s.total.nice == 200 && s.total.system == 300);
    CHECK(s.total.idle == 4000 && s.total.iowait == 50 && s.total.irq == 10);
    CHECK(s.total.softirq == 20 && s.total.steal == 5);
    CHECK(s.cores[1].steal == 3 && s.cores[0].steal == 2);
    CHECK(s.online[0] && s.online[1]);
    fw_cpu_sample_free(&s);
}

static void test_stat_delta_percent(void)
{
    fw_cpu_sample a = {0}, b = {0};
    CHECK_INT(fw_cpu_sample_parse(stat_a, &a, NULL), FW_OK);
    CHECK_INT(fw_cpu_sample_parse(stat_b, &b, NULL), FW_OK);
    CHECK_NEAR(fw_cpu_busy_percent(&a.cores[0], &b.cores[0]), 40.0, 1e-12);
    CHECK_NEAR(fw_cpu_busy_percent(&a.cores[1], &b.cores[1]), 20.0, 1e-12);
    CHECK_NEAR(fw_cpu_busy_percent(&a.total, &b.total), 30.0, 1e-12);
    /* The same reading twice: no tick passed, no value. */
    CHECK(isnan(fw_cpu_busy_percent(&a.cores[0], &a.cores[0])));
    /* A counter that runs backwards (iowait may, on some kernels) counts 0:
     * cpu0 b -> a would be all negative, so no tick passed either. */
    CHECK(isnan(fw_cpu_busy_percent(&b.cores[0], &a.cores[0])));
    fw_cpu_sample_free(&a);
    fw_cpu_sample_free(&b);
}

/* The kernel adds guest time to user (and guest_nice to nice) as well as
 * to its own column; a parser that adds the guest columns to the total
 * counts it twice. Here user +50 of which guest +40, idle +50: 50% busy
 * (a double count would give 90 / 140 = 64%). */
static void test_stat_guest_fields(void)
{
    const char *before = "cpu  100 10 0 1000 0 0 0 0 0 0\ncpu0 100 10 0 1000 0 0 0 0 0 0\n";
    const char *after = "cpu  150 10 0 1050 0 0 0 0 40 0\ncpu0 150 10 0 1050 0 0 0 0 40 0\n";
    fw_cpu_sample a = {0}, b = {0};
    CHECK_INT(fw_cpu_sample_parse(before, &a, NULL), FW_OK);
    CHECK_INT(fw_cpu_sample_parse(after, &b, NULL), FW_OK);
    CHECK(b.cores[0].guest == 40 && b.cores[0].guest_nice == 0);
    CHECK_NEAR(fw_cpu_busy_percent(&a.cores[0], &b.cores[0]), 50.0, 1e-12);
    /* guest_nice inside nice likewise: nice +20 (guest_nice +20), idle +80. */
    const char *after2 = "cpu  150 30 0 1130 0 0 0 0 40 20\ncpu0 150 30 0 1130 0 0 0 0 40 20\n";
    fw_cpu_sample c = {0};
    CHECK_INT(fw_cpu_sample_parse(after2, &c, NULL), FW_OK);
    CHECK_NEAR(fw_cpu_busy_percent(&b.cores[0], &c.cores[0]), 20.0, 1e-12);
    fw_cpu_sample_free(&a);
    fw_cpu_sample_free(&b);
    fw_cpu_sample_free(&c);
}

static void test_stat_old_and_bad_texts(void)
{
    fw_cpu_sample s = {0};
    fw_error err = {0};
    /* Linux 2.4: four counters; the rest read 0. CRLF tolerated. */
    CHECK_INT(fw_cpu_sample_parse("cpu 1 2 3 4\r\ncpu0 1 2 3 4\n", &s, &err), FW_OK);
    CHECK(s.ncores == 1 && s.cores[0].idle == 4 && s.cores[0].iowait == 0);
    /* A future kernel's 11th counter is ignored. */
    CHECK_INT(fw_cpu_sample_parse("cpu 1 2 3 4 5 6 7 8 9 10 11\n", &s, &err), FW_OK);
    CHECK(s.total.guest_nice == 10 && s.ncores == 0);
    /* No text without the aggregate line. */
    CHECK_INT(fw_cpu_sample_parse("cpu0 1 2 3 4\n", &s, &err), FW_EFORMAT);
    CHECK(strstr(err.msg, "aggregate") != NULL);
    CHECK_INT(fw_cpu_sample_parse("", &s, &err), FW_EFORMAT);
    /* Too few counters, stray text, a bad core number: the line is named. */
    CHECK_INT(fw_cpu_sample_parse("intr 1\ncpu 1 2 3\n", &s, &err), FW_EFORMAT);
    CHECK_MSG(strstr(err.msg, "line 2") != NULL, "%s", err.msg);
    CHECK_INT(fw_cpu_sample_parse("cpu 1 2 3 4 x\n", &s, &err), FW_EFORMAT);
    CHECK_INT(fw_cpu_sample_parse("cpu 1 2 3 4\ncpu99999999 1 2 3 4\n", &s, &err),
              FW_EFORMAT);
    CHECK_INT(fw_cpu_sample_parse("cpu 1 2 3 4\ncpu1x 1 2 3 4\n", &s, &err), FW_EFORMAT);
    CHECK_INT(fw_cpu_sample_parse("cpu 1 2 3 99999999999999999999\n", &s, &err), FW_EFORMAT);
    /* "cpufreq"-like lines would be cpu lines with no counters: refused. */
    CHECK_INT(fw_cpu_sample_parse("cpu 1 2 3 4\ncpux 1 2 3 4\n", &s, &err), FW_EFORMAT);
    fw_cpu_sample_free(&s);
}

/* Build a /proc/stat text with the given online cores, every core having
 * spent `busy` of `step` ticks busy since the previous step (so each
 * reading's delta to the previous one is busy/step per core). */
static void make_stat(char *out, size_t size, const int *online, int ncores, int step_no,
                      const int *busy_per_core)
{
    size_t n = 0;
    long tot_user = 0, tot_idle = 0;
    char lines[1024] = "";
    size_t ln = 0;
    for (int c = 0; c < ncores; c++) {
        if (!online[c])
            continue;
        long user = (long)step_no * busy_per_core[c];
        long idle = (long)step_no * (100 - busy_per_core[c]);
        tot_user += user;
        tot_idle += idle;
        ln += (size_t)snprintf(lines + ln, sizeof lines - ln, "cpu%d %ld 0 0 %ld 0 0 0 0 0 0\n",
                               c, user, idle);
    }
    n += (size_t)snprintf(out + n, size - n, "cpu  %ld 0 0 %ld 0 0 0 0 0 0\n%sctxt 1\n",
                          tot_user, tot_idle, lines);
}

/* A core appears (hot-plugged, numbered past a hole) and another goes
 * offline, seen through the sampler: slots, online flags, NaN where a
 * value is unknown, and histories kept aligned in time. */
static void test_hotplug_through_sampler(void)
{
    fw_telemetry *t = NULL;
    fw_error err = {0};
    CHECK_INT(fw_telemetry_open(&t, 8, &err), FW_OK);
    if (!t)
        return;
    const char *mem = "MemTotal: 1000 kB\nMemAvailable: 250 kB\n";
    const int busy[4] = {10, 50, 0, 90};
    char text[2048];

    int on_a[4] = {1, 1, 0, 0};
    make_stat(text, sizeof text, on_a, 4, 1, busy);
    CHECK_INT(fw_telemetry_feed(t, text, mem, NULL, 1.0, &err), FW_OK);
    CHECK_INT(fw_telemetry_core_count(t), 2);
    CHECK(isnan(fw_telemetry_core_percent(t, 0))); /* one reading: no value yet */
    CHECK(isnan(fw_telemetry_cpu_percent(t)));
    CHECK_INT(fw_telemetry_core_history(t, 0)->count, 0);
    CHECK_INT(fw_telemetry_cpu_history(t)->count, 0);

    /* cpu3 plugged in; cpu2 stays offline. */
    int on_b[4] = {1, 1, 0, 1};
    make_stat(text, sizeof text, on_b, 4, 2, busy);
    CHECK_INT(fw_telemetry_feed(t, text, mem, NULL, 2.0, &err), FW_OK);
    CHECK_INT(fw_telemetry_core_count(t), 4);
    CHECK_NEAR(fw_telemetry_core_percent(t, 0), 10.0, 1e-9);
    CHECK_NEAR(fw_telemetry_core_percent(t, 1), 50.0, 1e-9);
    CHECK(!fw_telemetry_core_online(t, 2) && isnan(fw_telemetry_core_percent(t, 2)));
    CHECK(fw_telemetry_core_online(t, 3));
    CHECK(isnan(fw_telemetry_core_percent(t, 3))); /* its first reading */
    /* Aggregate line: cpu3's whole past (180 busy of 200) lands in this
     * delta: (10 + 50 + 180) busy of (100 + 100 + 200) ticks = 60%. */
    CHECK_NEAR(fw_telemetry_cpu_percent(t), 60.0, 1e-9);

    /* Both readings now hold cpu3. */
    make_stat(text, sizeof text, on_b, 4, 3, busy);
    CHECK_INT(fw_telemetry_feed(t, text, mem, NULL, 3.0, &err), FW_OK);
    CHECK_NEAR(fw_telemetry_core_percent(t, 3), 90.0, 1e-9);
    CHECK_NEAR(fw_telemetry_cpu_percent(t), (10 + 50 + 90) / 3.0, 1e-9);

    /* cpu1 goes offline. */
    int on_d[4] = {1, 0, 0, 1};
    make_stat(text, sizeof text, on_d, 4, 4, busy);
    CHECK_INT(fw_telemetry_feed(t, text, mem, NULL, 4.0, &err), FW_OK);
    CHECK_INT(fw_telemetry_core_count(t), 4);
    CHECK(!fw_telemetry_core_online(t, 1) && isnan(fw_telemetry_core_percent(t, 1)));
    CHECK_NEAR(fw_telemetry_core_percent(t, 0), 10.0, 1e-9);

    /* Histories: one value per sample after the first, in step. */
    const fw_ring *h0 = fw_telemetry_core_history(t, 0), *h1 = fw_telemetry_core_history(t, 1),
                  *h3 = fw_telemetry_core_history(t, 3);
    CHECK_INT(h0->count, 3);
    CHECK_INT(h1->count, 3);
    CHECK_INT(h3->count, 3); /* slot made at the second sample: blank, then 90s */
    CHECK(isnan(fw_ring_at(h3, 0)) && fw_ring_at(h3, 1) == 90.0 && fw_ring_at(h3, 2) == 90.0);
    CHECK_INT(fw_telemetry_core_history(t, 2)->count, 3); /* never online: all blank */
    CHECK(isnan(fw_ring_last(fw_telemetry_core_history(t, 2))));
    CHECK(fw_ring_at(h1, 0) == 50.0 && fw_ring_at(h1, 1) == 50.0 && isnan(fw_ring_at(h1, 2)));
    CHECK_INT(fw_telemetry_cpu_history(t)->count, 3);
    CHECK_INT(fw_telemetry_memory_history(t)->count, 4);
    CHECK_NEAR(fw_ring_last(fw_telemetry_memory_history(t)), 75.0, 1e-12);
    CHECK_INT(fw_telemetry_samples(t), 4);

    /* A bad text changes nothing. */
    CHECK_INT(fw_telemetry_feed(t, "garbage\n", mem, NULL, 5.0, &err), FW_EFORMAT);
    CHECK_MSG(strncmp(err.msg, "/proc/stat: ", 12) == 0, "%s", err.msg);
    CHECK_INT(fw_telemetry_samples(t), 4);
    CHECK_INT(fw_telemetry_core_history(t, 0)->count, 3);
    fw_telemetry_close(t);
}

static void test_meminfo_parse(void)
{
    const char *text = "MemTotal:       24683652 kB\n"
                       "MemFree:        20682956 kB\n"
                       "MemAvailable:   23086704 kB\n"
                       "Buffers:            8904 kB\n"
                       "Cached:          2434156 kB\n"
                       "SwapCached:            7 kB\n"
                       "Active(file):     123456 kB\n"
                       "SwapTotal:       1048572 kB\n"
                       "SwapFree:         524288 kB\n"
                       "HugePages_Total:       0\n";
    fw_meminfo m;
    fw_error err = {0};
    CHECK_INT(fw_meminfo_parse(text, &m, &err), FW_OK);
    CHECK(m.total == 24683652ull * 1024 && m.free == 20682956ull * 1024);
    CHECK(m.available == 23086704ull * 1024 && m.buffers == 8904ull * 1024);
    CHECK(m.cached == 2434156ull * 1024); /* not SwapCached */
    CHECK(m.swap_total == 1048572ull * 1024 && m.swap_free == 524288ull * 1024);
    CHECK(m.used == (24683652ull - 23086704ull) * 1024);

    /* Before Linux 3.14: no MemAvailable; free + buffers + cached. */
    CHECK_INT(fw_meminfo_parse("MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 20 kB\n"
                               "Cached: 300 kB\n",
                               &m, &err),
              FW_OK);
    CHECK(m.available == 420 * 1024 && m.used == 580 * 1024);
    CHECK_INT(fw_meminfo_parse("MemFree: 100 kB\n", &m, &err), FW_EFORMAT);
    CHECK(strstr(err.msg, "MemTotal") != NULL);
    CHECK_INT(fw_meminfo_parse("MemTotal: lots\n", &m, &err), FW_EFORMAT);
    CHECK_MSG(strstr(err.msg, "line 1") != NULL, "%s", err.msg);
}

static void test_proc_stat_parse(void)
{
    /* A command name holding spaces and parentheses: fields count from the
     * last ')'. utime 70, stime 30, 5 threads, rss 1234 pages. */
    const char *text =
        "4242 (fluke (watch) x) S 1 4242 4242 34816 4242 4194304 1000 0 0 0 70 30 0 0 "
        "20 0 5 0 123456 98765432 1234 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0\n";
    fw_proc_usage u;
    fw_error err = {0};
    CHECK_INT(fw_proc_stat_parse(text, 100, 4096, &u, &err), FW_OK);
    CHECK(u.utime_ticks == 70 && u.stime_ticks == 30);
    CHECK_NEAR(u.cpu_seconds, 1.0, 1e-12);
    CHECK(u.rss_bytes == 1234ull * 4096);
    CHECK_INT(u.threads, 5);
    CHECK_INT(fw_proc_stat_parse("4242 (x) S 1 2 3\n", 100, 4096, &u, &err), FW_EFORMAT);
    CHECK_INT(fw_proc_stat_parse("4242 x S 1 2 3\n", 100, 4096, &u, &err), FW_EFORMAT);
}

/* /proc/self/stat against two other sources of the same figures. */
static void test_proc_self_live(void)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    volatile double sink = 0;
    do { /* burn ~0.25 s of CPU so the tick counters move */
        for (int i = 0; i < 100000; i++)
            sink += sqrt((double)i);
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
    } while ((t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9 < 0.25);

    fw_proc_usage u;
    fw_error err = {0};
    CHECK_INT(fw_proc_stat_read("/proc/self/stat", &u, &err), FW_OK);
    struct timespec t2;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t2);
    double precise = (double)t2.tv_sec + t2.tv_nsec * 1e-9;
    CHECK_MSG(fabs(u.cpu_seconds - precise) < 0.1, "stat %.3f s, clock %.3f s", u.cpu_seconds,
              precise);
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size_pages = 0, resident_pages = 0;
    CHECK(f && fscanf(f, "%lu %lu", &size_pages, &resident_pages) == 2);
    if (f)
        fclose(f);
    double statm_bytes = (double)resident_pages * (double)sysconf(_SC_PAGESIZE);
    CHECK_MSG(fabs((double)u.rss_bytes - statm_bytes) <= 1 << 20, "stat %llu, statm %.0f",
              (unsigned long long)u.rss_bytes, statm_bytes);
    CHECK(u.rss_bytes > 0 && u.threads >= 1);
    CHECK_INT(fw_proc_stat_read("/proc/self/no-such-file", &u, &err), FW_ENOTFOUND);
}

/* The ring against a plain array holding every value pushed. */
static void test_ring_wraparound(void)
{
    fw_ring r;
    fw_error err = {0};
    CHECK_INT(fw_ring_init(&r, 0, &err), FW_EINVAL);
    CHECK_INT(fw_ring_init(&r, 5, &err), FW_OK);
    CHECK(isnan(fw_ring_last(&r)) && isnan(fw_ring_at(&r, 0)));
    double all[23];
    for (int n = 0; n < 23; n++) {
        all[n] = n * 1.5 - 7;
        fw_ring_push(&r, all[n]);
        int held = n + 1 < 5 ? n + 1 : 5;
        CHECK_INT(r.count, held);
        for (int i = 0; i < held; i++)
            CHECK(fw_ring_at(&r, i) == all[n + 1 - held + i]);
        CHECK(fw_ring_last(&r) == all[n]);
        CHECK(isnan(fw_ring_at(&r, held)) && isnan(fw_ring_at(&r, -1)));
    }
    double out[8];
    CHECK_INT(fw_ring_copy_last(&r, 3, out), 3);
    CHECK(out[0] == all[20] && out[1] == all[21] && out[2] == all[22]);
    CHECK_INT(fw_ring_copy_last(&r, 8, out), 5);
    CHECK(out[0] == all[18] && out[4] == all[22]);
    fw_ring_free(&r);
    CHECK(r.values == NULL && r.count == 0);
}

static void test_sparkline_utf8(void)
{
    char out[FW_SPARKLINE_BYTES(16)];
    /* Bin edges of 0..100 in 8 bins: 12.5 k starts level k; 100 is the top. */
    const double ramp[] = {0, 12.5, 25, 37.5, 50, 62.5, 75, 87.5, 100, 12.4999};
    CHECK_INT(fw_sparkline(ramp, 10, 0, 100, FW_SPARK_UTF8, out, sizeof out), 10);
    CHECK_STR(out, "▁▂▃▄▅▆▇██▁");
    /* Out of range clamps; NaN and infinities are blank cells. */
    const double odd[] = {-5, 150, NAN, 50, INFINITY};
    CHECK_INT(fw_sparkline(odd, 5, 0, 100, FW_SPARK_UTF8, out, sizeof out), 5);
    CHECK_STR(out, "▁█ ▅ ");
    /* Automatic range over the finite values: 10..20. */
    const double series[] = {10, 20, 15, NAN, 11};
    CHECK_INT(fw_sparkline(series, 5, NAN, NAN, FW_SPARK_UTF8, out, sizeof out), 5);
    CHECK_STR(out, "▁█▅ ▁");
    /* Half automatic: from 0 to the largest value (20). */
    CHECK_INT(fw_sparkline(series, 5, 0, NAN, FW_SPARK_UTF8, out, sizeof out), 5);
    CHECK_STR(out, "▅█▇ ▅");
    /* A flat series has no range: lowest glyph. */
    const double flat[] = {3, 3, 3};
    CHECK_INT(fw_sparkline(flat, 3, NAN, NAN, FW_SPARK_UTF8, out, sizeof out), 3);
    CHECK_STR(out, "▁▁▁");
    /* A short buffer gets whole glyphs only: 7 bytes hold two. */
    char tiny[7];
    CHECK_INT(fw_sparkline(ramp, 10, 0, 100, FW_SPARK_UTF8, tiny, sizeof tiny), 2);
    CHECK_STR(tiny, "▁▂");
    CHECK_INT(fw_sparkline(ramp, 0, 0, 100, FW_SPARK_UTF8, out, sizeof out), 0);
    CHECK_STR(out, "");
}

static void test_sparkline_ascii(void)
{
    char out[FW_SPARKLINE_BYTES(16)];
    const double ramp[] = {0, 12.5, 25, 37.5, 50, 62.5, 75, 87.5, 100};
    CHECK_INT(fw_sparkline(ramp, 9, 0, 100, FW_SPARK_ASCII, out, sizeof out), 9);
    CHECK_STR(out, " .:-=+*##");
    const double odd[] = {-5, 150, NAN, 50};
    CHECK_INT(fw_sparkline(odd, 4, 0, 100, FW_SPARK_ASCII, out, sizeof out), 4);
    CHECK_STR(out, " # =");
    char tiny[4];
    CHECK_INT(fw_sparkline(ramp, 9, 0, 100, FW_SPARK_ASCII, tiny, sizeof tiny), 3);
    CHECK_STR(tiny, " .:");
}

static void test_sparkline_ring(void)
{
    fw_ring r;
    CHECK_INT(fw_ring_init(&r, 6, NULL), FW_OK);
    char out[FW_SPARKLINE_BYTES(8)];
    /* Empty ring: all blank, still `width` cells. */
    CHECK_INT(fw_sparkline_ring(&r, 4, 0, 100, FW_SPARK_UTF8, out, sizeof out), 4);
    CHECK_STR(out, "    ");
    fw_ring_push(&r, 100);
    fw_ring_push(&r, 50);
    /* Fewer values than cells: right-aligned. */
    CHECK_INT(fw_sparkline_ring(&r, 4, 0, 100, FW_SPARK_UTF8, out, sizeof out), 4);
    CHECK_STR(out, "  █▅");
    for (int i = 1; i <= 7; i++) /* wraps: holds 25 37.5 50 62.5 75 87.5 */
        fw_ring_push(&r, i * 12.5);
    /* Width below the count shows the newest values. */
    CHECK_INT(fw_sparkline_ring(&r, 3, 0, 100, FW_SPARK_UTF8, out, sizeof out), 3);
    CHECK_STR(out, "▆▇█"); /* 62.5 75 87.5 (87.5 is level 7) */
    CHECK_INT(fw_sparkline_ring(&r, 8, 0, 100, FW_SPARK_ASCII, out, sizeof out), 8);
    CHECK_STR(out, "  :-=+*#");
    /* Automatic range over the values shown (62.5..87.5). */
    CHECK_INT(fw_sparkline_ring(&r, 3, NAN, NAN, FW_SPARK_ASCII, out, sizeof out), 3);
    CHECK_STR(out, " =#");
    fw_ring_free(&r);
}

/* Whether this machine can load NVML at all, asked independently. */
static int nvml_loadable(void)
{
    void *h = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (h)
        dlclose(h);
    return h != NULL;
}

static void test_nvml_absent_or_present(void)
{
    fw_nvml *n = NULL;
    fw_error err = {0};
    /* A path that cannot exist: always "not found", nothing held. */
    CHECK_INT(fw_nvml_open(&n, "/nonexistent/libnvidia-ml.so.1", &err), FW_EDEVICE);
    CHECK(n == NULL);
    CHECK_STR(err.msg, "no NVIDIA driver: /nonexistent/libnvidia-ml.so.1 not found");
    /* A real library that is not NVML: the missing entry point is named. */
    CHECK_INT(fw_nvml_open(&n, "libm.so.6", &err), FW_EDEVICE);
    CHECK(n == NULL);
    CHECK_MSG(strstr(err.msg, "has no nvmlInit_v2") != NULL, "%s", err.msg);

    int rc = fw_nvml_open(&n, NULL, &err);
    if (!nvml_loadable()) {
        CHECK_INT(rc, FW_EDEVICE);
        CHECK(n == NULL);
        CHECK_STR(err.msg, "no NVIDIA driver: libnvidia-ml.so.1 not found");
        return;
    }
    /* A driver is installed: NVML opens (or says why in its own words). */
    if (rc != FW_OK) {
        CHECK_MSG(err.msg[0] != '\0', "NVML failed with no message");
        return;
    }
    fw_gpu_reading g;
    for (int i = 0; i < fw_nvml_device_count(n); i++) {
        if (fw_nvml_read(n, i, &g, &err) != FW_OK)
            continue;
        printf("# GPU %d: %s util %u%% mem %llu/%llu MiB %u C %.1f W %s\n", i, g.name,
               g.util_gpu, (unsigned long long)(g.memory_used >> 20),
               (unsigned long long)(g.memory_total >> 20), g.temp_c, g.power_w, g.error);
        CHECK(g.name[0] != '\0');
        CHECK(!g.has_util || (g.util_gpu <= 100 && g.util_memory <= 100));
        CHECK(!g.has_memory || (g.memory_used <= g.memory_total && g.memory_total > 0));
        CHECK(!g.has_temp || g.temp_c < 150);
        CHECK(!g.has_power || (g.power_w >= 0 && g.power_w < 5000));
    }
    CHECK_INT(fw_nvml_read(n, fw_nvml_device_count(n), &g, &err), FW_EINVAL);
    fw_nvml_close(n);
}

/* Two samples of this machine through the sampler. */
static void test_live_sample(void)
{
    fw_telemetry *t = NULL;
    fw_error err = {0};
    CHECK_INT(fw_telemetry_open(&t, 0, &err), FW_EINVAL);
    CHECK_INT(fw_telemetry_open(&t, 60, &err), FW_OK);
    if (!t)
        return;
    CHECK_INT(fw_telemetry_sample(t, &err), FW_OK);
    struct timespec t0, t1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    volatile double sink = 0;
    do { /* ~0.2 s of CPU, so some ticks pass on every clock */
        for (int i = 0; i < 100000; i++)
            sink += sqrt((double)i);
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
    } while ((t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9 < 0.2);
    CHECK_INT(fw_telemetry_sample(t, &err), FW_OK);
    CHECK_INT(fw_telemetry_samples(t), 2);

    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int cores = fw_telemetry_core_count(t), seen_online = 0;
    CHECK_MSG(cores >= online, "%d slots, %ld cores online", cores, online);
    for (int c = 0; c < cores; c++) {
        if (!fw_telemetry_core_online(t, c))
            continue;
        seen_online++;
        double p = fw_telemetry_core_percent(t, c);
        CHECK_MSG(p >= 0 && p <= 100, "core %d: %g%%", c, p);
        CHECK_INT(fw_telemetry_core_history(t, c)->count, 1);
    }
    CHECK_INT(seen_online, online);
    double all = fw_telemetry_cpu_percent(t);
    CHECK_MSG(all >= 0 && all <= 100, "all cores: %g%%", all);

    struct sysinfo si;
    CHECK(sysinfo(&si) == 0);
    const fw_meminfo *m = fw_telemetry_memory(t);
    CHECK(m->total == (uint64_t)si.totalram * si.mem_unit);
    CHECK(m->available <= m->total && m->used == m->total - m->available);
    double used_pct = fw_ring_last(fw_telemetry_memory_history(t));
    CHECK(used_pct > 0 && used_pct < 100);

    const fw_proc_usage *self = fw_telemetry_self(t);
    CHECK(self->rss_bytes > 0 && self->cpu_seconds >= 0.2 - 0.05);
    double sp = fw_telemetry_self_cpu_percent(t);
    CHECK_MSG(sp > 0 && sp <= 100.0 * (double)online + 10, "self %g%%", sp);

    char line[FW_SPARKLINE_BYTES(20)];
    CHECK_INT(fw_sparkline_ring(fw_telemetry_cpu_history(t), 20, 0, 100, FW_SPARK_UTF8, line,
                                sizeof line),
              20);
    printf("# %d cores, all %.1f%%, memory %.1f%% of %.1f GiB, self %.1f%% rss %.1f MiB, "
           "gpus: %d %s\n",
           cores, all, used_pct, m->total / 1073741824.0, sp, self->rss_bytes / 1048576.0,
           fw_telemetry_gpu_count(t), fw_telemetry_gpu_status(t));
    fw_telemetry_close(t);
}

/* The sampler's GPU side: without a driver it says so and still samples. */
static void test_sampler_gpu_status(void)
{
    fw_telemetry *t = NULL;
    fw_error err = {0};
    CHECK_INT(fw_telemetry_open(&t, 4, &err), FW_OK);
    if (!t)
        return;
    CHECK_INT(fw_telemetry_sample(t, &err), FW_OK);
    if (!nvml_loadable()) {
        CHECK_INT(fw_telemetry_gpu_count(t), 0);
        CHECK_STR(fw_telemetry_gpu_status(t), "no NVIDIA driver: libnvidia-ml.so.1 not found");
        CHECK(fw_telemetry_gpu(t, 0) == NULL);
        CHECK(fw_telemetry_gpu_history(t, 0, FW_GPU_UTIL) == NULL);
    } else {
        int n = fw_telemetry_gpu_count(t);
        CHECK(n > 0 || fw_telemetry_gpu_status(t)[0] != '\0');
        for (int g = 0; g < n; g++)
            for (int m = 0; m < FW_GPU_METRICS; m++)
                CHECK_INT(fw_telemetry_gpu_history(t, g, (fw_gpu_metric)m)->count, 1);
    }
    fw_telemetry_close(t);
}

int main(void)
{
    RUN(test_stat_parse_fields);
    RUN(test_stat_delta_percent);
    RUN(test_stat_guest_fields);
    RUN(test_stat_old_and_bad_texts);
    RUN(test_hotplug_through_sampler);
    RUN(test_meminfo_parse);
    RUN(test_proc_stat_parse);
    RUN(test_proc_self_live);
    RUN(test_ring_wraparound);
    RUN(test_sparkline_utf8);
    RUN(test_sparkline_ascii);
    RUN(test_sparkline_ring);
    RUN(test_nvml_absent_or_present);
    RUN(test_live_sample);
    RUN(test_sampler_gpu_status);
    return tap_done();
}
