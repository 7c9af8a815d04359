/* progress.c — terminal progress bars and plain progress lines (see progress.h). */
#include "progress.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../src/sanitize.h"

struct fw_progress {
    char label[128];
    char unit[24];
    long total;
    long base;       /* items already done at the start (not counted in the rate) */
    atomic_long done;
    FILE *out;
    int tty;
    double t0;
    double last_draw;
    pthread_mutex_t lock;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void format_eta(double s, char *buf, size_t n)
{
    if (s < 0 || s > 1e7) {
        snprintf(buf, n, "--:--");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else
        snprintf(buf, n, "%02ld:%02ld", t / 60, t % 60);
}

fw_progress *fw_progress_start(const char *label, long total, const char *unit, FILE *out)
{
    return fw_progress_start_at(label, 0, total, unit, out);
}

fw_progress *fw_progress_start_at(const char *label, long done, long total, const char *unit,
                                  FILE *out)
{
    fw_progress *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    fw_sanitize(label, p->label, sizeof p->label);
    fw_sanitize(unit ? unit : "items", p->unit, sizeof p->unit);
    p->total = total;
    p->out = out ? out : stderr;
    p->tty = isatty(fileno(p->out)) && getenv("CI") == NULL;
    p->t0 = p->last_draw = now_s();
    p->base = done > 0 ? done : 0;
    atomic_init(&p->done, p->base);
    pthread_mutex_init(&p->lock, NULL);
    return p;
}

static void draw(fw_progress *p, long done, double t, int final)
{
    double el = t - p->t0;
    double rate = el > 0 && done > p->base ? (done - p->base) / el : 0;
    char eta[32];
    format_eta(rate > 0 && p->total > 0 ? (p->total - done) / rate : -1, eta, sizeof eta);
    if (p->tty) {
        int width = 30;
        int fill = p->total > 0 ? (int)((double)done / p->total * width) : 0;
        if (fill > width)
            fill = width;
        char bar[64];
        memset(bar, '#', (size_t)fill);
        memset(bar + fill, '-', (size_t)(width - fill));
        bar[width] = '\0';
        fprintf(p->out, "\r%s [%s] %ld/%ld %.1f %s/s ETA %s\033[K%s", p->label, bar, done,
                p->total, rate, p->unit, final ? "00:00" : eta, final ? "\n" : "");
    } else {
        fprintf(p->out, "%s: %ld/%ld %s, %.1f %s/s%s%s\n", p->label, done, p->total, p->unit,
                rate, p->unit, final ? "" : ", ETA ", final ? "" : eta);
    }
    fflush(p->out);
}

void fw_progress_set(fw_progress *p, long done)
{
    if (!p)
        return;
    long prev = atomic_load(&p->done);
    while (done > prev && !atomic_compare_exchange_weak(&p->done, &prev, done))
        ;
    if (pthread_mutex_trylock(&p->lock) != 0)
        return; /* someone else is drawing */
    double t = now_s();
    double interval = p->tty ? 0.1 : 5.0;
    if (t - p->last_draw >= interval) {
        p->last_draw = t;
        draw(p, atomic_load(&p->done), t, 0);
    }
    pthread_mutex_unlock(&p->lock);
}

void fw_progress_callback(void *p, long done, long total)
{
    (void)total;
    fw_progress_set(p, done);
}

void fw_progress_finish(fw_progress *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    draw(p, atomic_load(&p->done), now_s(), 1);
    pthread_mutex_unlock(&p->lock);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
