/* inspect.c — computes the data-inspect report: CSV-level counts from the
 * loaded dataset, then per-image facts gathered on worker threads, each
 * writing only its own slot so the result does not depend on the thread
 * count. */
#include "inspect.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "decode.h"
#include "image.h"
#include "parallel.h"

typedef struct image_fact {
    int width, height;  /* from the header */
    int gray;
    int code;           /* 0: readable */
    char *reason;       /* owned, when code != 0 */
} image_fact;

typedef struct check_ctx {
    const fw_dataset *ds;
    const fw_inspect_opts *opts;
    image_fact *facts;  /* (n_train + n_test) */
    fw_decode_limits limits;
    fw_jpeg_decoder **decoders; /* (threads) one TurboJPEG handle per worker, made on first use */
    atomic_long done;
    long total;
} check_ctx;

/* A message without a leading "PATH: " (the report already names the file). */
static char *reason_of(const char *msg, const char *path)
{
    size_t lp = strlen(path);
    if (!strncmp(msg, path, lp) && msg[lp] == ':' && msg[lp + 1] == ' ')
        msg += lp + 2;
    return strdup(*msg ? msg : "unreadable");
}

static void set_failure(image_fact *f, int code, const char *msg, const char *path)
{
    f->code = code < 0 ? code : FW_EIO;
    f->reason = reason_of(msg, path);
}

static void check_one(check_ctx *c, long item, int worker, image_fact *f)
{
    int in_test = item >= c->ds->n_train;
    const fw_sample *s = in_test ? &c->ds->test[item - c->ds->n_train] : &c->ds->train[item];
    char path[4096];
    fw_error e;
    fw_error_clear(&e);
    if (fw_dataset_path(c->ds, in_test ? "test" : "train", s->image, path, sizeof path, &e) < 0) {
        set_failure(f, e.code, e.msg, "");
        return;
    }
    /* other stat failures (permissions, ...) are left to fw_read_file's message */
    struct stat st;
    int stat_rc = stat(path, &st);
    if (stat_rc != 0 && errno == ENOENT) {
        set_failure(f, FW_ENOTFOUND, "missing", path);
        return;
    }
    if (stat_rc == 0 && !S_ISREG(st.st_mode)) {
        set_failure(f, FW_EIO, "not a regular file", path);
        return;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = fw_read_file(path, c->limits.max_file_bytes, &buf, &len, &e);
    if (rc < 0) {
        set_failure(f, rc, e.msg, path);
        return;
    }
    fw_jpeg_decoder **dec = &c->decoders[worker];
    if (!*dec)
        rc = fw_jpeg_decoder_create(dec, &e);
    fw_jpeg_info info;
    if (rc == FW_OK)
        rc = fw_jpeg_decoder_probe(*dec, buf, len, &c->limits, &info, &e);
    if (rc == FW_OK) {
        f->width = info.width;
        f->height = info.height;
        f->gray = info.grayscale;
        /* gray output is the cheapest, and the entropy decoder still reads
         * every component, so a truncated or corrupt scan is still caught */
        fw_image img = {0};
        rc = fw_jpeg_decoder_decode(*dec, buf, len, 1, 1, 1, &c->limits, &img, &e);
        if (rc == FW_OK)
            fw_image_free(&img);
    }
    free(buf);
    if (rc < 0)
        set_failure(f, rc, e.msg, path);
}

static int check_item(void *vctx, long item, int worker, fw_error *err)
{
    (void)err;
    check_ctx *c = vctx;
    check_one(c, item, worker, &c->facts[item]);
    long done = atomic_fetch_add(&c->done, 1) + 1;
    if (c->opts->progress)
        c->opts->progress(c->opts->progress_ctx, done, c->total);
    return FW_OK;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static void count_whales(const fw_dataset *ds, fw_inspect_report *rep, long *per_whale)
{
    static const fw_inspect_bin bins[FW_INSPECT_BINS] = {
        {"1", 1, 1, 0, 0}, {"2", 2, 2, 0, 0}, {"3", 3, 3, 0, 0}, {"4-10", 4, 10, 0, 0},
        {">10", 11, 0, 0, 0}};
    memcpy(rep->bins, bins, sizeof bins);
    for (long i = 0; i < ds->n_train; i++) {
        if (ds->train[i].whale == FW_NEW_WHALE)
            rep->train_new_whale++;
        else
            per_whale[ds->train[i].whale]++;
    }
    for (int w = 0; w < ds->n_whales; w++) {
        for (int b = 0; b < FW_INSPECT_BINS; b++) {
            fw_inspect_bin *bin = &rep->bins[b];
            if (per_whale[w] >= bin->lo && (bin->hi == 0 || per_whale[w] <= bin->hi)) {
                bin->whales++;
                bin->images += per_whale[w];
                break;
            }
        }
        /* keep the top list sorted: most images first, then lower index */
        int pos = rep->n_top;
        while (pos > 0 && per_whale[w] > rep->top_count[pos - 1])
            pos--;
        if (pos < FW_INSPECT_TOP) {
            int last = rep->n_top < FW_INSPECT_TOP ? rep->n_top : FW_INSPECT_TOP - 1;
            for (int k = last; k > pos; k--) {
                rep->top_whale[k] = rep->top_whale[k - 1];
                rep->top_count[k] = rep->top_count[k - 1];
            }
            rep->top_whale[pos] = w;
            rep->top_count[pos] = per_whale[w];
            if (rep->n_top < FW_INSPECT_TOP)
                rep->n_top++;
        }
    }
    if (ds->has_test_truth) {
        rep->has_test_truth = 1;
        for (long i = 0; i < ds->n_test; i++)
            rep->test_new_whale += ds->test[i].whale == FW_NEW_WHALE;
        rep->test_unseen = ds->n_test_unseen;
    }
}

static int summarise_images(const fw_dataset *ds, image_fact *facts, fw_inspect_report *rep,
                            fw_error *err)
{
    long n = rep->n_images;
    int *ws = malloc((size_t)(n ? n : 1) * sizeof *ws);
    int *hs = malloc((size_t)(n ? n : 1) * sizeof *hs);
    long n_bad = 0;
    for (long i = 0; i < n; i++)
        n_bad += facts[i].code != 0;
    rep->bad = calloc((size_t)(n_bad ? n_bad : 1), sizeof *rep->bad);
    if (!ws || !hs || !rep->bad) {
        free(ws);
        free(hs);
        return fw_fail(err, FW_ENOMEM, "inspect: out of memory");
    }
    for (long i = 0; i < n; i++) {
        image_fact *f = &facts[i];
        if (f->code) {
            int in_test = i >= ds->n_train;
            fw_inspect_bad *b = &rep->bad[rep->n_bad++];
            b->in_test = in_test;
            b->image = strdup(in_test ? ds->test[i - ds->n_train].image : ds->train[i].image);
            b->code = f->code;
            b->reason = f->reason; /* moved */
            f->reason = NULL;
            if (!b->image || !b->reason) {
                free(ws);
                free(hs);
                return fw_fail(err, FW_ENOMEM, "inspect: out of memory");
            }
            continue;
        }
        ws[rep->n_readable] = f->width;
        hs[rep->n_readable] = f->height;
        rep->n_readable++;
        rep->n_gray += f->gray != 0;
        if (rep->work_w > 0 && (f->width < rep->work_w || f->height < rep->work_h))
            rep->n_smaller++;
    }
    if (rep->n_readable) {
        long m = rep->n_readable;
        qsort(ws, (size_t)m, sizeof *ws, cmp_int);
        qsort(hs, (size_t)m, sizeof *hs, cmp_int);
        rep->min_w = ws[0], rep->max_w = ws[m - 1], rep->median_w = ws[(m - 1) / 2];
        rep->min_h = hs[0], rep->max_h = hs[m - 1], rep->median_h = hs[(m - 1) / 2];
    }
    free(ws);
    free(hs);
    return FW_OK;
}

int fw_inspect(const fw_dataset *ds, const fw_inspect_opts *opts, fw_inspect_report *rep,
               fw_error *err)
{
    memset(rep, 0, sizeof *rep);
    if ((opts->work_w > 0) != (opts->work_h > 0))
        return fw_fail(err, FW_EINVAL, "inspect: working size %dx%d", opts->work_w,
                       opts->work_h);
    rep->n_train = ds->n_train;
    rep->n_test = ds->n_test;
    rep->n_whales = ds->n_whales;
    rep->n_images = ds->n_train + ds->n_test;
    rep->has_boxes = ds->bbox_path != NULL;
    rep->n_boxes = ds->n_boxes;
    rep->n_boxes_unmatched = ds->n_boxes_unmatched;
    rep->work_w = opts->work_w;
    rep->work_h = opts->work_h;

    long *per_whale = calloc((size_t)(ds->n_whales ? ds->n_whales : 1), sizeof *per_whale);
    if (!per_whale)
        return fw_fail(err, FW_ENOMEM, "inspect: out of memory");
    count_whales(ds, rep, per_whale);
    free(per_whale);

    check_ctx c = {.ds = ds, .opts = opts, .total = rep->n_images,
                   .limits = (fw_decode_limits)FW_DECODE_LIMITS_DEFAULT};
    atomic_init(&c.done, 0);
    int threads = fw_resolve_threads(opts->threads);
    c.facts = calloc((size_t)(rep->n_images ? rep->n_images : 1), sizeof *c.facts);
    c.decoders = calloc((size_t)threads, sizeof *c.decoders);
    int rc = FW_OK;
    if (!c.facts || !c.decoders)
        rc = fw_fail(err, FW_ENOMEM, "inspect: out of memory");
    if (rc == FW_OK)
        rc = fw_parallel_for(threads, rep->n_images, check_item, &c, err);
    if (rc == FW_OK)
        rc = summarise_images(ds, c.facts, rep, err);
    for (long i = 0; c.facts && i < rep->n_images; i++)
        free(c.facts[i].reason);
    for (int t = 0; c.decoders && t < threads; t++)
        if (c.decoders[t])
            fw_jpeg_decoder_free(c.decoders[t]);
    free(c.facts);
    free(c.decoders);
    if (rc < 0)
        fw_inspect_free(rep);
    return rc;
}

void fw_inspect_free(fw_inspect_report *rep)
{
    for (long i = 0; i < rep->n_bad; i++) {
        free(rep->bad[i].image);
        free(rep->bad[i].reason);
    }
    free(rep->bad);
    rep->bad = NULL;
    rep->n_bad = 0;
}
