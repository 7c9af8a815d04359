/* bench_ui.c — what the workbench's UI costs while a run trains, next to a
 * peer (procps `top -d 0.5`, a light terminal program redrawing at the same
 * rate) measured the same way in the same call.
 *
 * Each program runs on its own pseudo-terminal (forkpty, 120x40, TERM=
 * xterm-256color) whose output this program drains. Measured:
 *   - CPU of the UI thread (the workbench's main thread, from
 *     /proc/PID/task/PID/stat; training runs on other threads) in % of one
 *     core over a window, per screen, at the default 500 ms refresh;
 *   - key latency: the time from writing a key to the end of the output
 *     burst it causes (the last byte before 40 ms of quiet, minus nothing:
 *     the quiet gap is not counted), median and max over many keys.
 *
 * usage: bench_ui FLUKEWATCH DATASET CONFIG [SECONDS_PER_SCREEN]
 */
#define _GNU_SOURCE /* memmem */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KEY_ROUNDS 40
#define QUIET_MS 120 /* longer than a sixel encoding (~90 ms), well under the 500 ms tick */

typedef struct term_proc {
    pid_t pid;
    int master;
    long bytes;
    double first_byte; /* time of the first byte since it was last set to 0 */
    char tail[8192]; /* the latest output, for waiting on text */
    size_t tail_len;
} term_proc;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int spawn(term_proc *p, char *const argv[])
{
    struct winsize ws = {.ws_row = 40, .ws_col = 120};
    memset(p, 0, sizeof *p);
    p->pid = forkpty(&p->master, NULL, NULL, &ws);
    if (p->pid < 0)
        return -1;
    if (p->pid == 0) {
        setenv("TERM", "xterm-256color", 1);
        execvp(argv[0], argv);
        _exit(127);
    }
    fcntl(p->master, F_SETFL, O_NONBLOCK);
    return 0;
}

/* Read what arrives for `ms`; returns the time of the last byte (0: none). */
static double pump(term_proc *p, int ms)
{
    double end = now_s() + ms / 1000.0, last = 0;
    for (;;) {
        int left = (int)((end - now_s()) * 1000.0);
        if (left <= 0)
            return last;
        struct pollfd pfd = {.fd = p->master, .events = POLLIN};
        if (poll(&pfd, 1, left) <= 0)
            continue;
        char buf[4096];
        ssize_t n = read(p->master, buf, sizeof buf);
        if (n <= 0) {
            if (n < 0 && errno == EAGAIN)
                continue;
            return last;
        }
        last = now_s();
        if (p->first_byte == 0)
            p->first_byte = last;
        p->bytes += n;
        /* keep the newest bytes (buf is smaller than tail) */
        if (p->tail_len + (size_t)n >= sizeof p->tail) {
            size_t drop = p->tail_len + (size_t)n - (sizeof p->tail - 1);
            memmove(p->tail, p->tail + drop, p->tail_len - drop);
            p->tail_len -= drop;
        }
        memcpy(p->tail + p->tail_len, buf, (size_t)n);
        p->tail_len += (size_t)n;
        p->tail[p->tail_len] = '\0';
    }
}

/* Pump until the output holds `text` or `seconds` pass. */
static int wait_text(term_proc *p, const char *text, double seconds)
{
    double end = now_s() + seconds;
    while (now_s() < end) {
        pump(p, 100);
        if (memmem(p->tail, p->tail_len, text, strlen(text)))
            return 0;
    }
    return -1;
}

/* CPU seconds of one thread. */
static double thread_cpu(pid_t pid, pid_t tid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)tid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long utime = 0, stime = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime,
                     &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* The workbench's launcher forks the app: find that child. */
static pid_t child_of(pid_t parent)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)parent, (int)parent);
    FILE *f = fopen(path, "r");
    int child = 0;
    if (f) {
        if (fscanf(f, "%d", &child) != 1)
            child = 0;
        fclose(f);
    }
    return child;
}

/* % of one core the thread used over `seconds`, pumping output meanwhile. */
static double cpu_percent(term_proc *p, pid_t pid, double seconds, long *bytes)
{
    long b0 = p->bytes;
    double c0 = thread_cpu(pid, pid), t0 = now_s();
    pump(p, (int)(seconds * 1000));
    double c1 = thread_cpu(pid, pid), t1 = now_s();
    *bytes = p->bytes - b0;
    return 100.0 * (c1 - c0) / (t1 - t0);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Key latencies over KEY_ROUNDS keys sent alternately from `keys`. */
typedef struct latency {
    double first_med, first_max; /* write -> the first byte of the answer (ms) */
    double done_med, done_max;   /* write -> the last byte of its burst (ms) */
} latency;

static void key_latency(term_proc *p, const char *keys, latency *out)
{
    double first[KEY_ROUNDS], done[KEY_ROUNDS];
    int n = 0;
    pump(p, 300);
    for (int i = 0; i < KEY_ROUNDS; i++) {
        char k = keys[i % strlen(keys)];
        p->first_byte = 0;
        double t0 = now_s();
        if (write(p->master, &k, 1) != 1)
            break;
        double last = 0;
        /* the burst ends after QUIET_MS without output (at most 2 s) */
        for (int j = 0; j < 50; j++) {
            double got = pump(p, QUIET_MS);
            if (got == 0 && last > 0)
                break;
            if (got > 0)
                last = got;
        }
        if (last > 0) {
            first[n] = 1000.0 * (p->first_byte - t0);
            done[n++] = 1000.0 * (last - t0);
        }
        pump(p, 150); /* let a refresh tick pass between keys */
    }
    qsort(first, (size_t)n, sizeof first[0], cmp_double);
    qsort(done, (size_t)n, sizeof done[0], cmp_double);
    out->first_med = n ? first[n / 2] : -1;
    out->first_max = n ? first[n - 1] : -1;
    out->done_med = n ? done[n / 2] : -1;
    out->done_max = n ? done[n - 1] : -1;
}

static void finish(term_proc *p, const char *quit_keys)
{
    for (const char *k = quit_keys; *k; k++) {
        if (write(p->master, k, 1) != 1)
            break;
        pump(p, 300);
    }
    for (int i = 0; i < 100; i++) {
        pump(p, 100);
        if (waitpid(p->pid, NULL, WNOHANG) == p->pid)
            break;
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
    close(p->master);
}

/* Start the workbench training a run; returns its app (UI) process. */
static pid_t start_workbench(term_proc *fw, char **argv, const char *graphics)
{
    char *fw_argv[] = {argv[1], "workbench", "--train", argv[2], "--config", argv[3],
                       "--name", "bench", "--graphics", (char *)graphics, NULL};
    if (spawn(fw, fw_argv) != 0 || wait_text(fw, "1 training", 60) != 0) {
        fprintf(stderr, "bench_ui: the workbench did not start a run\n");
        return -1;
    }
    pid_t app = child_of(fw->pid);
    if (app <= 0)
        fprintf(stderr, "bench_ui: cannot find the workbench's app process\n");
    return app;
}

static void screen_row(term_proc *fw, pid_t app, const char *key, const char *label,
                       double window)
{
    if (write(fw->master, key, 1) != 1)
        return;
    pump(fw, 1000);
    long bytes = 0;
    double pct = cpu_percent(fw, app, window, &bytes);
    printf("%-30s %10.2f %12.0f\n", label, pct, bytes / window);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_ui FLUKEWATCH DATASET CONFIG [SECONDS_PER_SCREEN]\n");
        return 2;
    }
    double window = argc > 4 ? atof(argv[4]) : 20.0;
    char ws_template[] = "/tmp/bench_ui.XXXXXX";
    const char *ws = mkdtemp(ws_template);
    if (!ws)
        return 1;
    char home[256];
    snprintf(home, sizeof home, "%s/home", ws);
    mkdir(home, 0755);
    setenv("HOME", home, 1); /* no user config: the default refresh */
    setenv("XDG_CONFIG_HOME", home, 1);
    setenv("FLUKEWATCH_HOME", ws, 1);
    setenv("LC_ALL", "C.UTF-8", 1);

    term_proc fw;
    pid_t app = start_workbench(&fw, argv, "blocks");
    if (app <= 0)
        return 1;
    printf("UI thread CPU while a run trains in the same process (%.0f s per screen, default "
           "500 ms refresh, 120x40)\n\n",
           window);
    printf("%-30s %10s %12s\n", "program / screen", "% of core", "output B/s");
    const char *screens[][2] = {{"1", "Runs"},    {"2", "Plots"},   {"3", "LR finder"},
                                {"4", "System"},  {"5", "Matches (half-blocks)"},
                                {"6", "Compare"}, {"7", "Log"}};
    for (size_t i = 0; i < sizeof screens / sizeof screens[0]; i++) {
        char label[64];
        snprintf(label, sizeof label, "flukewatch %s", screens[i][1]);
        screen_row(&fw, app, screens[i][0], label, window);
    }
    latency sw = {-1, -1, -1, -1}, plot = sw, blk = sw, six = sw, top_lat = sw;
    key_latency(&fw, "12", &sw);
    if (write(fw.master, "2", 1) == 1)
        key_latency(&fw, "xxx", &plot); /* x axis: step, epoch, time */
    if (write(fw.master, "5", 1) == 1)
        key_latency(&fw, "jk", &blk);
    finish(&fw, "qs");

    term_proc six_proc;
    app = start_workbench(&six_proc, argv, "sixel");
    if (app > 0) {
        if (write(six_proc.master, "5", 1) == 1)
            pump(&six_proc, 3000); /* the first evaluation */
        screen_row(&six_proc, app, "5", "flukewatch Matches (sixel)", window);
        key_latency(&six_proc, "jk", &six);
        finish(&six_proc, "qs");
    }

    term_proc top;
    char *top_argv[] = {"top", "-d", "0.5", NULL};
    double top_pct = -1;
    long top_bytes = 0;
    if (spawn(&top, top_argv) == 0) {
        pump(&top, 1500);
        top_pct = cpu_percent(&top, top.pid, window, &top_bytes);
        key_latency(&top, "ii", &top_lat);
        finish(&top, "q");
    }
    printf("%-30s %10.2f %12.0f\n\n", "top -d 0.5 (peer)", top_pct, top_bytes / window);
    printf("key latency (ms): first byte of the answer, and the end of its output\n");
    printf("%-30s %8s %8s %8s %8s\n", "", "first", "max", "done", "max");
    const struct {
        const char *label;
        const latency *l;
    } rows[] = {{"flukewatch 1/2 (switch)", &sw},
                {"flukewatch Plots x (x axis)", &plot},
                {"flukewatch Matches j/k blocks", &blk},
                {"flukewatch Matches j/k sixel", &six},
                {"top i (toggle idle)", &top_lat}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        printf("%-30s %8.1f %8.1f %8.1f %8.1f\n", rows[i].label, rows[i].l->first_med,
               rows[i].l->first_max, rows[i].l->done_med, rows[i].l->done_max);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", ws);
    return system(cmd) == 0 ? 0 : 1;
}
