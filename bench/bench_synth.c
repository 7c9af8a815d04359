/* bench_synth.c — how fast `flukewatch synth` makes images at 512x256.
 *
 *   bench/bench_synth [WHALES]      (default 100 whales: ~650 images per run)
 *
 * Measures (best of 3 runs each): the whole writer (render + JPEG encode +
 * file write) with 1 and 2 threads, render only and encode only on one
 * thread (the encode-only rate is the reference ceiling: TurboJPEG itself on
 * the same images at the same qualities). Prints a Markdown table with the
 * wall-clock rate and the rate per CPU-second (all threads' CPU time), which
 * stays meaningful when other processes share the cores.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "decode.h"
#include "synth_dataset.h"

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}
static double now_s(void) { return clock_s(CLOCK_MONOTONIC); }
static double cpu_s(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }

static int die(const fw_error *err)
{
    fprintf(stderr, "bench_synth: %s\n", err->msg);
    return 1;
}

int main(int argc, char **argv)
{
    int whales = argc > 1 ? atoi(argv[1]) : 100;
    if (whales < 1)
        whales = 100;
    fw_error err;
    fw_error_clear(&err);
    fw_synth_opts opts = {.seed = 7, .n_whales = whales, .width = 512, .height = 256, .force = 1};
    fw_synth_plan plan;
    if (fw_synth_plan_make(&opts, &plan, &err) < 0)
        return die(&err);
    char dir[] = "/tmp/bench_synth.XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    printf("# synth at 512x256: %ld images (%d whales), best of 3\n\n", plan.n_items, whales);
    printf("| what | threads | images/s (wall) | images per CPU-second |\n|---|---|---|---|\n");

    for (int threads = 1; threads <= 2; threads++) {
        double best = 1e30, best_cpu = 1e30;
        for (int rep = 0; rep < 3; rep++) {
            opts.threads = threads;
            double t0 = now_s(), c0 = cpu_s();
            if (fw_synth_write(dir, &opts, &plan, &err) < 0)
                return die(&err);
            double dt = now_s() - t0, dc = cpu_s() - c0;
            best = dt < best ? dt : best;
            best_cpu = dc < best_cpu ? dc : best_cpu;
        }
        printf("| write (render + encode + files) | %d | %.0f | %.0f |\n", threads, plan.n_items / best,
               plan.n_items / best_cpu);
        fflush(stdout);
    }

    /* One thread, in memory: render only, then encode only on kept copies. */
    fw_synth_worker *worker;
    if (fw_synth_worker_new(&worker, &err) < 0)
        return die(&err);
    long n = plan.n_items < 200 ? plan.n_items : 200;
    fw_image *kept = calloc((size_t)n, sizeof *kept);
    int *quality = calloc((size_t)n, sizeof *quality);
    double best_render = 1e30, best_encode = 1e30, cpu_render = 1e30, cpu_encode = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now_s(), c0 = cpu_s();
        for (long k = 0; k < n; k++) {
            long item = plan.unit_items[k]; /* in the writer's order (identity reuse) */
            fw_image view;
            fw_synth_photo photo;
            if (fw_synth_render_item(&plan, item, worker, &view, &photo, NULL, &err) < 0)
                return die(&err);
            if (rep == 0) {
                size_t bytes = (size_t)view.width * view.height * view.channels;
                kept[k] = view;
                kept[k].pixels = malloc(bytes);
                memcpy(kept[k].pixels, view.pixels, bytes);
                quality[k] = photo.quality;
            }
        }
        double dt = now_s() - t0, dc = cpu_s() - c0;
        best_render = dt < best_render ? dt : best_render;
        cpu_render = dc < cpu_render ? dc : cpu_render;
        t0 = now_s();
        c0 = cpu_s();
        for (long k = 0; k < n; k++) {
            uint8_t *jpeg;
            size_t len;
            if (fw_jpeg_encode(&kept[k], quality[k], &jpeg, &len, &err) < 0)
                return die(&err);
            free(jpeg);
        }
        dt = now_s() - t0;
        dc = cpu_s() - c0;
        best_encode = dt < best_encode ? dt : best_encode;
        cpu_encode = dc < cpu_encode ? dc : cpu_encode;
    }
    printf("| render only (in memory) | 1 | %.0f | %.0f |\n", n / best_render, n / cpu_render);
    printf("| JPEG encode only (reference) | 1 | %.0f | %.0f |\n", n / best_encode, n / cpu_encode);
    for (long k = 0; k < n; k++)
        free(kept[k].pixels);
    free(kept);
    free(quality);
    fw_synth_worker_free(worker);
    fw_synth_plan_free(&plan);

    /* Clean up the temporary dataset. */
    char cmd[sizeof dir + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_synth: could not remove %s\n", dir);
    return 0;
}
