/* bench_pipeline.c — images/s of the input pipeline on JPEG files: read +
 * decode (TurboJPEG, DCT-scaled to at least the working size) + resize to the
 * working size + per-sample augmentation (default training options) into
 * float batches (N, 3, H, W), on 1, 2, ... threads. The peer is
 * bench/torchvision_pipeline.py; bench/pipeline.sh runs both.
 *
 *   bench_pipeline DIR [--threads 1,2] [--batch 32] [--size 512x256] [--passes 3]
 *
 * Reads every *.jpg in DIR/train and DIR/test (sorted by name). One untimed
 * warm-up pass, then `passes` timed passes (each an epoch with new
 * augmentation draws). Each batch is spread over the threads
 * (fw_parallel_for), and each thread keeps its own decoder and buffers.
 * Prints one line per thread count:
 *   flukewatch threads=T images=N seconds=S images_per_s=X decode_ms=.. resize_ms=.. augment_ms=..
 * (the stage times are per image, summed over threads).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "augment_cpu.h"
#include "augment_params.h"
#include "decode.h"
#include "parallel.h"
#include "resize.h"

enum { MAX_THREADS = 64 };

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct {
    fw_jpeg_decoder *dec;
    fw_image work;          /* (H, W, 3) working size */
    double t_decode, t_resize, t_augment;
} worker_state;

typedef struct {
    char **paths;
    long n_paths;
    int width, height, batch;
    fw_augment_opts aug;
    worker_state ws[MAX_THREADS];
    float *out;             /* (batch, 3, H, W) */
    long first;             /* first image of the current batch */
    long epoch;
} bench;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_jpegs(const char *root, const char *sub, char ***paths, long *n)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", root, sub);
    DIR *d = opendir(dir);
    if (!d)
        return 0; /* a missing test/ is fine */
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".jpg") != 0)
            continue;
        char **grown = realloc(*paths, (size_t)(*n + 1) * sizeof *grown);
        if (!grown) {
            closedir(d);
            return -1;
        }
        *paths = grown;
        size_t need = strlen(dir) + len + 2;
        (*paths)[*n] = malloc(need);
        if (!(*paths)[*n]) {
            closedir(d);
            return -1;
        }
        snprintf((*paths)[*n], need, "%s/%s", dir, e->d_name);
        (*n)++;
    }
    closedir(d);
    return 0;
}

/* One image: sample i of the current batch. */
static int do_image(void *ctx, long i, int worker, fw_error *err)
{
    bench *b = ctx;
    worker_state *w = &b->ws[worker];
    long index = b->first + i;
    double t0 = now_s();
    uint8_t *buf;
    size_t len;
    FW_TRY(fw_read_file(b->paths[index], (size_t)64 << 20, &buf, &len, err));
    fw_image img;
    int rc = fw_jpeg_decoder_decode(w->dec, buf, len, 3, b->width, b->height, NULL, &img, err);
    free(buf);
    if (rc < 0)
        return fw_error_prefix(err, "%s: ", b->paths[index]);
    double t1 = now_s();
    rc = fw_resize(&img, 0.0f, 0.0f, (float)img.width, (float)img.height, &w->work, err);
    fw_image_free(&img);
    FW_TRY(rc);
    double t2 = now_s();
    fw_rng r;
    fw_augment_rng(&r, 42, b->epoch, index);
    fw_aug_params p;
    int flipped;
    const fw_image *s = &w->work;
    fw_aug_params_draw(&b->aug, &r, s->width, s->height, 3,
                       fw_image_mean_luma(s->pixels, s->width, s->height, 3, 4), &p, &flipped);
    size_t per = (size_t)3 * b->height * b->width;
    FW_TRY(fw_augment_image(&p, s->pixels, s->width, s->height, 3, b->out + (size_t)i * per,
                            b->width, b->height, err));
    double t3 = now_s();
    w->t_decode += t1 - t0;
    w->t_resize += t2 - t1;
    w->t_augment += t3 - t2;
    return FW_OK;
}

/* One pass over every file in batches; returns 0 or an error. */
static int run_pass(bench *b, int threads, fw_error *err)
{
    for (b->first = 0; b->first < b->n_paths; b->first += b->batch) {
        long n = b->n_paths - b->first < b->batch ? b->n_paths - b->first : b->batch;
        FW_TRY(fw_parallel_for(threads, n, do_image, b, err));
    }
    return FW_OK;
}

static int parse_threads(const char *s, int *list, int max)
{
    int n = 0;
    while (*s && n < max) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 1 || v > MAX_THREADS)
            return -1;
        list[n++] = (int)v;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return -1;
    }
    return n;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: %s DIR [--threads 1,2] [--batch 32] [--size 512x256] "
                        "[--passes 3]\n", argv[0]);
        return 2;
    }
    const char *root = argv[1];
    int threads[16] = {1, 2}, n_threads = 2, batch = 32, width = 512, height = 256, passes = 3;
    for (int i = 2; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "bench_pipeline: %s needs a value\n", argv[i]);
            return 2;
        }
        if (!strcmp(argv[i], "--threads")) {
            n_threads = parse_threads(v, threads, 16);
            if (n_threads <= 0) {
                fprintf(stderr, "bench_pipeline: bad --threads '%s'\n", v);
                return 2;
            }
        } else if (!strcmp(argv[i], "--batch")) {
            batch = atoi(v);
        } else if (!strcmp(argv[i], "--size")) {
            if (sscanf(v, "%dx%d", &width, &height) != 2) {
                fprintf(stderr, "bench_pipeline: bad --size '%s'\n", v);
                return 2;
            }
        } else if (!strcmp(argv[i], "--passes")) {
            passes = atoi(v);
        } else {
            fprintf(stderr, "bench_pipeline: unknown option '%s'\n", argv[i]);
            return 2;
        }
        i++;
    }
    if (batch < 1 || batch > 4096 || passes < 1 || width < 8 || height < 8 || width > 8192 ||
        height > 8192) {
        fprintf(stderr, "bench_pipeline: batch/passes/size out of range\n");
        return 2;
    }

    static bench b;
    b.width = width, b.height = height, b.batch = batch;
    fw_augment_opts_default(&b.aug);
    b.aug.out_width = width, b.aug.out_height = height;
    if (list_jpegs(root, "train", &b.paths, &b.n_paths) < 0 ||
        list_jpegs(root, "test", &b.paths, &b.n_paths) < 0) {
        fprintf(stderr, "bench_pipeline: out of memory listing %s\n", root);
        return 1;
    }
    if (b.n_paths == 0) {
        fprintf(stderr, "bench_pipeline: no *.jpg in %s/train or %s/test\n", root, root);
        return 1;
    }
    qsort(b.paths, (size_t)b.n_paths, sizeof *b.paths, cmp_str);
    b.out = malloc((size_t)batch * 3 * height * width * sizeof(float));
    fw_error err;
    for (int t = 0; t < MAX_THREADS; t++) {
        if (fw_jpeg_decoder_create(&b.ws[t].dec, &err) < 0 ||
            fw_image_alloc(&b.ws[t].work, width, height, 3, &err) < 0) {
            fprintf(stderr, "bench_pipeline: %s\n", err.msg);
            return 1;
        }
    }
    int status = 0;
    for (int k = 0; k < n_threads; k++) {
        int nt = threads[k];
        b.epoch = 0;
        if (run_pass(&b, nt, &err) < 0) { /* warm-up */
            fprintf(stderr, "bench_pipeline: %s\n", err.msg);
            status = 1;
            break;
        }
        for (int t = 0; t < MAX_THREADS; t++)
            b.ws[t].t_decode = b.ws[t].t_resize = b.ws[t].t_augment = 0;
        double t0 = now_s();
        for (int p = 1; p <= passes && status == 0; p++) {
            b.epoch = p;
            if (run_pass(&b, nt, &err) < 0) {
                fprintf(stderr, "bench_pipeline: %s\n", err.msg);
                status = 1;
            }
        }
        double secs = now_s() - t0;
        if (status)
            break;
        long images = b.n_paths * passes;
        double td = 0, tr = 0, ta = 0;
        for (int t = 0; t < MAX_THREADS; t++)
            td += b.ws[t].t_decode, tr += b.ws[t].t_resize, ta += b.ws[t].t_augment;
        printf("flukewatch threads=%d images=%ld seconds=%.3f images_per_s=%.1f decode_ms=%.3f "
               "resize_ms=%.3f augment_ms=%.3f\n",
               nt, images, secs, images / secs, td / images * 1e3, tr / images * 1e3,
               ta / images * 1e3);
        fflush(stdout);
    }
    for (int t = 0; t < MAX_THREADS; t++) {
        fw_jpeg_decoder_free(b.ws[t].dec);
        fw_image_free(&b.ws[t].work);
    }
    for (long i = 0; i < b.n_paths; i++)
        free(b.paths[i]);
    free(b.paths);
    free(b.out);
    return status;
}
