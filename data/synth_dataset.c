/* synth_dataset.c — a synthetic dataset: the id distribution (the plan),
 * rendering single items, and writing the Kaggle layout to a directory. */
#include "synth_dataset.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../src/rng.h"
#include "../src/fileio.h"
#include "decode.h"
#include "../src/parallel.h"

#define SALT_PLAN 0x706c616e6e696e67ull  /* "planning" */
#define SALT_NAMES 0x6e616d65732e2e2eull /* "names..." */
#define SALT_WHALES 0x7768616c65732e2eull /* "whales.." */

/* The real dataset (Kaggle "Humpback Whale Identification", train.csv):
 * 5,004 known whales with 15,697 images, 9,664 new_whale images, and 7,960
 * test images of which about 28% show whales not in train. */
#define REAL_WHALES 5004.0
#define REAL_TRAIN_NEW 9664.0
#define REAL_TEST 7960.0
#define TEST_NEW_SHARE 0.28
/* Images per known whale: the real shares of 1, 2 and 3 images, then a
 * power-law tail k^-TAIL_EXP up to TAIL_MAX (mean 3.14 like the real 15,697 / 5,004). */
#define SHARE_1 (2073.0 / 5004.0)
#define SHARE_2 (1285.0 / 5004.0)
#define SHARE_3 (568.0 / 5004.0)
#define TAIL_EXP 2.45
#define TAIL_MAX 73

/* ---- bijective name codes ------------------------------------------------ */

static uint64_t key_from(uint64_t seed, uint64_t salt)
{
    uint64_t x = seed ^ salt;
    return fw_splitmix64(&x);
}

/* A keyed permutation of 32-bit integers (each step is invertible). */
static uint32_t permute32(uint32_t x, uint64_t key)
{
    x += (uint32_t)key;
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x += (uint32_t)(key >> 32);
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

/* A keyed permutation of 28-bit integers. */
static uint32_t permute28(uint32_t x, uint64_t key)
{
    const uint32_t mask = 0x0fffffffu;
    x = (x + (uint32_t)key) & mask;
    x ^= x >> 14;
    x = (x * 0x2c1b3c6du) & mask;
    x ^= x >> 13;
    x = (x + (uint32_t)(key >> 32)) & mask;
    x = (x * 0x297a2d39u) & mask;
    x ^= x >> 14;
    return x;
}

void fw_synth_whale_id(const fw_synth_plan *plan, int whale, char *buf, size_t bufsz)
{
    if (whale < 0 || whale >= plan->n_whales)
        snprintf(buf, bufsz, "new_whale");
    else
        snprintf(buf, bufsz, "w_%07x", (unsigned)plan->whale_code[whale]);
}

/* ---- the plan ------------------------------------------------------------ */

/* Images per whale for N whales: the quantiles (i + 0.5) / N of the target
 * distribution, so every N gets the same shape without sampling noise. */
static void stratified_counts(int n, int *counts)
{
    double cdf[TAIL_MAX + 1];
    double tail = 0.0;
    for (int k = 4; k <= TAIL_MAX; k++)
        tail += 1.0 / pow((double)k, TAIL_EXP);
    double rest = 1.0 - SHARE_1 - SHARE_2 - SHARE_3;
    cdf[0] = 0.0;
    cdf[1] = SHARE_1;
    cdf[2] = cdf[1] + SHARE_2;
    cdf[3] = cdf[2] + SHARE_3;
    for (int k = 4; k <= TAIL_MAX; k++)
        cdf[k] = cdf[k - 1] + rest / pow((double)k, TAIL_EXP) / tail;
    cdf[TAIL_MAX] = 1.0;
    int k = 1;
    for (int i = 0; i < n; i++) {
        double q = ((double)i + 0.5) / n;
        while (k < TAIL_MAX && cdf[k] < q)
            k++;
        counts[i] = k;
    }
}

static long round_long(double x) { return (long)(x + 0.5); }

void fw_synth_plan_free(fw_synth_plan *plan)
{
    free(plan->items);
    free(plan->train_count);
    free(plan->whale_code);
    free(plan->unit_items);
    free(plan->unit_start);
    free(plan->sea);
    memset(plan, 0, sizeof *plan);
}

int fw_synth_plan_make(const fw_synth_opts *opts, fw_synth_plan *plan, fw_error *err)
{
    memset(plan, 0, sizeof *plan);
    if (opts->n_whales < 1 || opts->n_whales > FW_SYNTH_MAX_WHALES)
        return fw_fail(err, FW_EINVAL, "synth: number of whales %d is outside 1..%d",
                       opts->n_whales, FW_SYNTH_MAX_WHALES);
    if ((opts->width || opts->height) &&
        (opts->width < 64 || opts->width > 4096 || opts->height < 32 || opts->height > 4096))
        return fw_fail(err, FW_EINVAL, "synth: image size %dx%d is outside 64x32..4096x4096",
                       opts->width, opts->height);
    const int n = opts->n_whales;
    plan->seed = opts->seed;
    plan->n_whales = n;
    plan->width = opts->width;
    plan->height = opts->height;

    fw_rng r;
    fw_rng_init(&r, opts->seed ^ SALT_PLAN, 0);
    plan->train_count = malloc(sizeof(int) * (size_t)n);
    plan->whale_code = malloc(sizeof(uint32_t) * (size_t)n);
    plan->sea = malloc(sizeof *plan->sea);
    if (!plan->train_count || !plan->whale_code || !plan->sea) {
        fw_synth_plan_free(plan);
        return fw_fail(err, FW_ENOMEM, "synth: out of memory planning %d whales", n);
    }
    int rc = fw_synth_sea_make(opts->seed, plan->sea, err);
    if (rc < 0) {
        fw_synth_plan_free(plan);
        return rc;
    }
    stratified_counts(n, plan->train_count);
    fw_rng_shuffle_int(&r, plan->train_count, n);
    uint64_t whale_key = key_from(opts->seed, SALT_WHALES);
    for (int w = 0; w < n; w++)
        plan->whale_code[w] = permute28((uint32_t)w, whale_key);

    long train_known = 0;
    for (int w = 0; w < n; w++)
        train_known += plan->train_count[w];
    plan->n_train_new = round_long(n * (REAL_TRAIN_NEW / REAL_WHALES));
    plan->n_train = train_known + plan->n_train_new;
    plan->n_test = round_long(n * (REAL_TEST / REAL_WHALES));
    if (plan->n_test < 1)
        plan->n_test = 1;
    plan->n_test_new = round_long((double)plan->n_test * TEST_NEW_SHARE);
    plan->n_items = plan->n_train + plan->n_test;

    plan->items = calloc((size_t)plan->n_items, sizeof *plan->items);
    long *cumulative = malloc(sizeof(long) * (size_t)n);
    if (!plan->items || !cumulative) {
        free(cumulative);
        fw_synth_plan_free(plan);
        return fw_fail(err, FW_ENOMEM, "synth: out of memory planning %ld images", plan->n_items);
    }
    long i = 0, new_k = 0;
    for (int w = 0; w < n; w++)
        for (int c = 0; c < plan->train_count[w]; c++)
            plan->items[i++] = (fw_synth_item){0, w, 0, (uint64_t)w};
    for (long k = 0; k < plan->n_train_new; k++)
        plan->items[i++] = (fw_synth_item){0, -1, 0, (uint64_t)n + (uint64_t)new_k++};
    /* Test images of known whales: more likely for whales with more photos. */
    long acc = 0;
    for (int w = 0; w < n; w++)
        cumulative[w] = acc += plan->train_count[w];
    for (long k = 0; k < plan->n_test - plan->n_test_new; k++) {
        long pick = (long)fw_rng_below(&r, (uint32_t)acc);
        int lo = 0, hi = n - 1;
        while (lo < hi) { /* first whale with cumulative > pick */
            int mid = (lo + hi) / 2;
            if (cumulative[mid] > pick)
                hi = mid;
            else
                lo = mid + 1;
        }
        plan->items[i++] = (fw_synth_item){0, lo, 1, (uint64_t)lo};
    }
    for (long k = 0; k < plan->n_test_new; k++)
        plan->items[i++] = (fw_synth_item){0, -1, 1, (uint64_t)n + (uint64_t)new_k++};
    free(cumulative);
    uint64_t name_key = key_from(opts->seed, SALT_NAMES);
    for (long k = 0; k < plan->n_items; k++)
        plan->items[k].name = permute32((uint32_t)k, name_key);

    /* Work units: all images of one identity, so it is built once. */
    plan->n_units = (long)n + new_k;
    plan->unit_start = calloc((size_t)plan->n_units + 1, sizeof(long));
    plan->unit_items = malloc(sizeof(long) * (size_t)plan->n_items);
    if (!plan->unit_start || !plan->unit_items) {
        fw_synth_plan_free(plan);
        return fw_fail(err, FW_ENOMEM, "synth: out of memory planning %ld images", plan->n_items);
    }
    for (long k = 0; k < plan->n_items; k++)
        plan->unit_start[plan->items[k].identity + 1]++;
    for (long u = 0; u < plan->n_units; u++)
        plan->unit_start[u + 1] += plan->unit_start[u];
    long *fill = calloc((size_t)plan->n_units, sizeof(long));
    if (!fill) {
        fw_synth_plan_free(plan);
        return fw_fail(err, FW_ENOMEM, "synth: out of memory planning %ld images", plan->n_items);
    }
    for (long k = 0; k < plan->n_items; k++) {
        uint64_t u = plan->items[k].identity;
        plan->unit_items[plan->unit_start[u] + fill[u]++] = k;
    }
    free(fill);
    return FW_OK;
}

void fw_synth_plan_stats(const fw_synth_plan *plan, fw_synth_stats *st)
{
    memset(st, 0, sizeof *st);
    st->n_whales = plan->n_whales;
    st->n_train = plan->n_train;
    st->n_train_new = plan->n_train_new;
    st->n_train_known = plan->n_train - plan->n_train_new;
    st->n_test = plan->n_test;
    st->n_test_new = plan->n_test_new;
    st->n_test_known = plan->n_test - plan->n_test_new;
    for (int k = 0; k < 4; k++)
        st->top_whales[k] = -1;
    for (int w = 0; w < plan->n_whales; w++) {
        int c = plan->train_count[w];
        st->singletons += c == 1;
        st->whales_ge10 += c >= 10;
        if (c > st->max_images)
            st->max_images = c;
        /* insertion into the top four (ties: the smaller id code first) */
        for (int k = 0; k < 4; k++) {
            int t = st->top_whales[k];
            if (t < 0 || c > plan->train_count[t] ||
                (c == plan->train_count[t] && plan->whale_code[w] < plan->whale_code[t])) {
                memmove(&st->top_whales[k + 1], &st->top_whales[k], sizeof(int) * (size_t)(3 - k));
                st->top_whales[k] = w;
                break;
            }
        }
    }
}

/* ---- rendering items -------------------------------------------------------- */

struct fw_synth_worker {
    fw_synth_identity *identity;
    uint64_t identity_index; /* which identity is built, or UINT64_MAX */
    uint64_t identity_seed;
    fw_synth_scratch scratch;
};

int fw_synth_worker_new(fw_synth_worker **worker, fw_error *err)
{
    fw_synth_worker *w = calloc(1, sizeof *w);
    if (w)
        w->identity = malloc(sizeof *w->identity);
    if (!w || !w->identity) {
        free(w);
        *worker = NULL;
        return fw_fail(err, FW_ENOMEM, "synth: cannot allocate a worker");
    }
    w->identity_index = UINT64_MAX;
    *worker = w;
    return FW_OK;
}

void fw_synth_worker_free(fw_synth_worker *w)
{
    if (!w)
        return;
    fw_synth_scratch_free(&w->scratch);
    free(w->identity);
    free(w);
}

int fw_synth_render_item(const fw_synth_plan *plan, long item, fw_synth_worker *w, fw_image *image,
                         fw_synth_photo *photo_out, const fw_synth_identity **identity,
                         fw_error *err)
{
    if (item < 0 || item >= plan->n_items)
        return fw_fail(err, FW_EINVAL, "synth: item %ld is outside 0..%ld", item, plan->n_items - 1);
    const fw_synth_item *it = &plan->items[item];
    if (w->identity_index != it->identity || w->identity_seed != plan->seed) {
        fw_synth_identity_make(plan->seed, it->identity, w->identity);
        w->identity_index = it->identity;
        w->identity_seed = plan->seed;
    }
    fw_synth_photo photo;
    fw_synth_photo_draw(plan->seed, (uint64_t)item, plan->width, plan->height, &photo);
    FW_TRY(fw_synth_render(w->identity, &photo, plan->sea, &w->scratch, image, err));
    if (photo_out)
        *photo_out = photo;
    if (identity)
        *identity = w->identity;
    return FW_OK;
}

int fw_synth_encode_item(const fw_synth_plan *plan, long item, fw_synth_worker *w, uint8_t **jpeg,
                         size_t *len, fw_error *err)
{
    fw_image image;
    fw_synth_photo photo;
    FW_TRY(fw_synth_render_item(plan, item, w, &image, &photo, NULL, err));
    return fw_jpeg_encode(&image, photo.quality, jpeg, len, err);
}

/* ---- writing the dataset ---------------------------------------------------- */

#define PATH_CAP 4096

static const char *const csv_names[] = {"train.csv", "sample_submission.csv", "test_truth.csv"};

static int join_path(char *buf, const char *dir, const char *a, const char *b, fw_error *err)
{
    int n = b ? snprintf(buf, PATH_CAP, "%s/%s/%s", dir, a, b) : snprintf(buf, PATH_CAP, "%s/%s", dir, a);
    if (n < 0 || n >= PATH_CAP)
        return fw_fail(err, FW_ETOOBIG, "synth: path under '%s' is too long", dir);
    return FW_OK;
}


/* Write a file under a temporary name and rename it into place (with fsync
 * when durable), so readers never see a partial file under the final name. */
static int write_file_atomic(const char *path, const void *buf, size_t len, int durable, fw_error *err)
{
    char tmp[PATH_CAP + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return fw_fail(err, FW_EIO, "cannot create '%s': %s", tmp, strerror(errno));
    int rc = fw_write_all(fd, buf, len) == 0
                 ? FW_OK
                 : fw_fail(err, FW_EIO, "%s: write failed: %s", tmp, strerror(errno));
    if (rc == FW_OK && durable && fsync(fd) != 0)
        rc = fw_fail(err, FW_EIO, "%s: fsync failed: %s", tmp, strerror(errno));
    if (close(fd) != 0 && rc == FW_OK)
        rc = fw_fail(err, FW_EIO, "%s: close failed: %s", tmp, strerror(errno));
    if (rc == FW_OK && rename(tmp, path) != 0)
        rc = fw_fail(err, FW_EIO, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
    if (rc != FW_OK)
        unlink(tmp);
    return rc;
}



/* "0123abcd.jpg" or "0123abcd.jpg.tmp": a file a synth run writes into train/ or test/. */
static int is_synth_image_name(const char *name)
{
    for (int i = 0; i < 8; i++)
        if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
            return 0;
    return !strcmp(name + 8, ".jpg") || !strcmp(name + 8, ".jpg.tmp");
}

static int unlink_if_present(const char *path, fw_error *err)
{
    if (unlink(path) != 0 && errno != ENOENT)
        return fw_fail(err, FW_EIO, "cannot remove '%s': %s", path, strerror(errno));
    return FW_OK;
}

/* Remove what a previous synth run wrote: the CSVs first (so no CSV ever names
 * a missing image), then its images. Other files are left alone. */
static int clear_previous(const char *dir, fw_error *err)
{
    char path[PATH_CAP], tmp[PATH_CAP + 8];
    for (size_t k = 0; k < sizeof csv_names / sizeof csv_names[0]; k++) {
        FW_TRY(join_path(path, dir, csv_names[k], NULL, err));
        FW_TRY(unlink_if_present(path, err));
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        FW_TRY(unlink_if_present(tmp, err));
    }
    static const char *const subdirs[] = {"train", "test"};
    for (int s = 0; s < 2; s++) {
        char sub[PATH_CAP];
        FW_TRY(join_path(sub, dir, subdirs[s], NULL, err));
        DIR *d = opendir(sub);
        if (!d) {
            if (errno == ENOENT)
                continue;
            return fw_fail(err, FW_EIO, "cannot read directory '%s': %s", sub, strerror(errno));
        }
        struct dirent *e;
        int rc = FW_OK;
        while (rc == FW_OK && (e = readdir(d)) != NULL) {
            if (!is_synth_image_name(e->d_name))
                continue;
            rc = join_path(path, sub, e->d_name, NULL, err);
            if (rc == FW_OK)
                rc = unlink_if_present(path, err);
        }
        closedir(d);
        FW_TRY(rc);
    }
    return FW_OK;
}

/* Create DIR or check it: empty, a previous synth output (cleared), or --force. */
static int prepare_dir(const char *dir, const fw_synth_opts *opts, fw_error *err)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (errno != ENOENT)
            return fw_fail(err, FW_EIO, "cannot access '%s': %s", dir, strerror(errno));
        FW_TRY(fw_mkdirs(dir, err));
    } else if (!S_ISDIR(st.st_mode)) {
        return fw_fail(err, FW_EINVAL, "'%s' exists and is not a directory", dir);
    }
    DIR *d = opendir(dir);
    if (!d)
        return fw_fail(err, FW_EIO, "cannot read directory '%s': %s", dir, strerror(errno));
    int entries = 0, has_marker = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        entries++;
        has_marker |= !strcmp(e->d_name, FW_SYNTH_MARKER);
    }
    closedir(d);
    if (access(dir, W_OK | X_OK) != 0)
        return fw_fail(err, FW_EIO, "cannot write to '%s': %s", dir, strerror(errno));
    if (entries > 0 && !has_marker && !opts->force)
        return fw_fail(err, FW_EINVAL,
                       "'%s' is not empty and is not a previous synth output (no %s); "
                       "use --force to write into it anyway",
                       dir, FW_SYNTH_MARKER);
    if (has_marker) /* with --force alone nothing is removed; same-named files are replaced */
        FW_TRY(clear_previous(dir, err));
    char path[PATH_CAP];
    FW_TRY(join_path(path, dir, "train", NULL, err));
    FW_TRY(fw_mkdirs(path, err));
    FW_TRY(join_path(path, dir, "test", NULL, err));
    FW_TRY(fw_mkdirs(path, err));
    char marker[256];
    int n = snprintf(marker, sizeof marker,
                     "flukewatch synth output (a later synth run may replace it)\n"
                     "seed=%llu\nwhales=%d\nsize=%dx%d\n",
                     (unsigned long long)opts->seed, opts->n_whales, opts->width, opts->height);
    FW_TRY(join_path(path, dir, FW_SYNTH_MARKER, NULL, err));
    return write_file_atomic(path, marker, (size_t)n, 0, err);
}

typedef struct write_ctx {
    const fw_synth_plan *plan;
    const char *dir;
    fw_synth_worker **workers;
    atomic_long done;
    const fw_synth_opts *opts;
} write_ctx;

static int write_unit(void *vctx, long unit, int worker, fw_error *err)
{
    write_ctx *ctx = vctx;
    const fw_synth_plan *plan = ctx->plan;
    for (long k = plan->unit_start[unit]; k < plan->unit_start[unit + 1]; k++) {
        long item = plan->unit_items[k];
        uint8_t *jpeg = NULL;
        size_t len = 0;
        FW_TRY(fw_synth_encode_item(plan, item, ctx->workers[worker], &jpeg, &len, err));
        char name[16], path[PATH_CAP];
        snprintf(name, sizeof name, "%08x.jpg", (unsigned)plan->items[item].name);
        int rc = join_path(path, ctx->dir, plan->items[item].test ? "test" : "train", name, err);
        if (rc == FW_OK)
            rc = write_file_atomic(path, jpeg, len, 0, err);
        free(jpeg);
        FW_TRY(rc);
        long done = atomic_fetch_add(&ctx->done, 1) + 1;
        if (ctx->opts->progress)
            ctx->opts->progress(ctx->opts->progress_ctx, done, plan->n_items);
    }
    return FW_OK;
}

/* A growable text buffer for the CSVs. */
typedef struct text {
    char *p;
    size_t len, cap;
} text;

static int text_add(text *t, const char *s, fw_error *err)
{
    size_t n = strlen(s);
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 4096;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *p = realloc(t->p, cap);
        if (!p)
            return fw_fail(err, FW_ENOMEM, "synth: out of memory writing CSVs");
        t->p = p;
        t->cap = cap;
    }
    memcpy(t->p + t->len, s, n + 1);
    t->len += n;
    return FW_OK;
}

typedef struct name_ref {
    uint32_t name;
    long item;
} name_ref;

static int cmp_name(const void *a, const void *b)
{
    uint32_t x = ((const name_ref *)a)->name, y = ((const name_ref *)b)->name;
    return x < y ? -1 : x > y;
}

/* Build one CSV (rows sorted by image name, as in the real files). kind:
 * 0 train.csv, 1 sample_submission.csv, 2 test_truth.csv. */
static int build_csv(const fw_synth_plan *plan, int kind, const char *placeholder, text *t,
                     fw_error *err)
{
    long n = kind == 0 ? plan->n_train : plan->n_test;
    long first = kind == 0 ? 0 : plan->n_train;
    name_ref *refs = malloc(sizeof *refs * (size_t)(n ? n : 1));
    if (!refs)
        return fw_fail(err, FW_ENOMEM, "synth: out of memory writing CSVs");
    for (long k = 0; k < n; k++)
        refs[k] = (name_ref){plan->items[first + k].name, first + k};
    qsort(refs, (size_t)n, sizeof *refs, cmp_name);
    int rc = text_add(t, "Image,Id\n", err);
    for (long k = 0; k < n && rc == FW_OK; k++) {
        char row[128], id[16];
        fw_synth_whale_id(plan, plan->items[refs[k].item].whale, id, sizeof id);
        snprintf(row, sizeof row, "%08x.jpg,%s\n", (unsigned)refs[k].name, kind == 1 ? placeholder : id);
        rc = text_add(t, row, err);
    }
    free(refs);
    return rc;
}

static int write_csvs(const char *dir, const fw_synth_plan *plan, fw_error *err)
{
    fw_synth_stats st;
    fw_synth_plan_stats(plan, &st);
    char placeholder[64] = "new_whale";
    for (int k = 0; k < 4 && st.top_whales[k] >= 0; k++) {
        char id[16];
        fw_synth_whale_id(plan, st.top_whales[k], id, sizeof id);
        strcat(placeholder, " ");
        strcat(placeholder, id);
    }
    /* test_truth and sample_submission first; train.csv last. */
    static const int order[3] = {2, 1, 0};
    for (int i = 0; i < 3; i++) {
        int kind = order[i];
        text t = {0};
        char path[PATH_CAP];
        int rc = build_csv(plan, kind, placeholder, &t, err);
        if (rc == FW_OK)
            rc = join_path(path, dir, csv_names[kind], NULL, err);
        if (rc == FW_OK)
            rc = write_file_atomic(path, t.p, t.len, 1, err);
        free(t.p);
        FW_TRY(rc);
    }
    return fw_fsync_dir(dir, err);
}

int fw_synth_write(const char *dir, const fw_synth_opts *opts, const fw_synth_plan *plan,
                   fw_error *err)
{
    if (!dir || !*dir)
        return fw_fail(err, FW_EINVAL, "synth: no output directory given");
    FW_TRY(prepare_dir(dir, opts, err));
    int threads = fw_resolve_threads(opts->threads);
    write_ctx ctx = {.plan = plan, .dir = dir, .opts = opts};
    atomic_init(&ctx.done, 0);
    ctx.workers = calloc((size_t)threads, sizeof *ctx.workers);
    if (!ctx.workers)
        return fw_fail(err, FW_ENOMEM, "synth: out of memory");
    int rc = FW_OK;
    for (int t = 0; t < threads && rc == FW_OK; t++)
        rc = fw_synth_worker_new(&ctx.workers[t], err);
    if (rc == FW_OK)
        rc = fw_parallel_for(threads, plan->n_units, write_unit, &ctx, err);
    for (int t = 0; t < threads; t++)
        fw_synth_worker_free(ctx.workers[t]);
    free(ctx.workers);
    FW_TRY(rc);
    return write_csvs(dir, plan, err);
}
