/* test_checkpoint.c — checkpoint round trips are bit-exact; every damaged,
 * torn or foreign file is refused before anything is loaded; write failures
 * leave the previous checkpoint; retention keeps the last K plus the best. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "ckpt_store.h"
#include "disk_cache.h"
#include "rng.h"
#include "tap.h"

/* ---- a small model: tensors with awkward values ------------------------------------ */

#define MAX_T 8

typedef struct model {
    fw_param p[MAX_T];
    fw_param *ptr[MAX_T];
    fw_param_list list;
} model;

static void model_init(model *m, int n, const char *const *names, const int64_t (*shapes)[5])
{
    memset(m, 0, sizeof *m);
    for (int i = 0; i < n; i++) {
        fw_param *p = &m->p[i];
        snprintf(p->name, sizeof p->name, "%s", names[i]);
        p->ndim = (int)shapes[i][0];
        p->numel = 1;
        for (int d = 0; d < p->ndim; d++) {
            p->shape[d] = shapes[i][d + 1];
            p->numel *= p->shape[d];
        }
        p->data = calloc((size_t)p->numel + 1, sizeof(float));
        m->ptr[i] = p;
    }
    m->list.items = m->ptr;
    m->list.n = n;
    m->list.cap = n;
}

static void model_free(model *m)
{
    for (int i = 0; i < m->list.n; i++)
        free(m->p[i].data);
}

/* Random bits (NaNs with payloads, infinities, denormals included) plus fixed
 * special values at the start. */
static void model_fill(model *m, uint64_t seed)
{
    static const uint32_t special[] = {0x80000000u, 0x00000001u, 0x007fffffu, 0x7fc00001u,
                                       0xffa5a5a5u, 0x7f800000u, 0xff800000u, 0x7f800001u};
    fw_rng r;
    fw_rng_init(&r, seed, 1);
    for (int i = 0; i < m->list.n; i++) {
        fw_param *p = &m->p[i];
        for (int64_t k = 0; k < p->numel; k++) {
            uint32_t bits = k < 8 ? special[k] : fw_rng_u32(&r);
            memcpy(&p->data[k], &bits, 4);
        }
    }
}

static const char *const model_names[] = {"conv1.weight", "bn1.weight", "bn1.num_batches_tracked",
                                          "fc.bias", "empty"};
static const int64_t model_shapes[][5] = {
    {4, 4, 1, 3, 3}, {1, 4}, {0}, {2, 3, 5}, {2, 0, 7}};
static const char *const optim_names[] = {"optim.conv1.weight.momentum_buffer",
                                          "optim.bn1.weight.momentum_buffer"};
static const int64_t optim_shapes[][5] = {{4, 4, 1, 3, 3}, {1, 4}};

typedef struct fixture {
    char dir[256];
    char path[300];
    model m, o;
    unsigned char rng[37];
    fw_ckpt_content c;
} fixture;

static void fixture_init(fixture *f, uint64_t seed)
{
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "%s/fwckpt.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(f->dir))
        abort();
    snprintf(f->path, sizeof f->path, "%s/one.fwc", f->dir);
    model_init(&f->m, 5, model_names, model_shapes);
    model_init(&f->o, 2, optim_names, optim_shapes);
    model_fill(&f->m, seed);
    model_fill(&f->o, seed + 100);
    for (size_t i = 0; i < sizeof f->rng; i++)
        f->rng[i] = (unsigned char)(seed * 31 + i * 7);
    f->c.model = &f->m.list;
    f->c.optim = &f->o.list;
    f->c.rng = f->rng;
    f->c.rng_len = sizeof f->rng;
    f->c.config = "model = resnet18\nlr = 0.1\n";
    f->c.meta.step = 1234567890123ull;
    f->c.meta.epoch = 17;
    f->c.meta.sampler_epoch = 17;
    f->c.meta.sampler_batch = 42;
    f->c.meta.best_metric = -0.0;
    f->c.meta.best_step = 99;
    f->c.meta.has_best = 1;
    static const unsigned char scaler[] = {0, 0, 0x80, 0x47, 1, 2, 3};
    static const fw_ckpt_blob blobs[] = {{"loss_scaler", scaler, sizeof scaler},
                                         {"empty_state", NULL, 0}};
    f->c.blobs = blobs;
    f->c.n_blobs = 2;
}

static void rm_rf(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", dir);
}

static void fixture_free(fixture *f)
{
    model_free(&f->m);
    model_free(&f->o);
    rm_rf(f->dir);
}

static int same_bits(const model *a, const model *b)
{
    for (int i = 0; i < a->list.n; i++)
        if (a->p[i].numel && memcmp(a->p[i].data, b->p[i].data, (size_t)a->p[i].numel * 4))
            return 0;
    return 1;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static unsigned char *slurp(const char *path, long *n)
{
    *n = file_size(path);
    FILE *f = fopen(path, "rb");
    unsigned char *b = malloc((size_t)*n + 1);
    if (!f || fread(b, 1, (size_t)*n, f) != (size_t)*n)
        abort();
    fclose(f);
    return b;
}

static void spit(const char *path, const unsigned char *b, long n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, (size_t)n, f) != (size_t)n || fclose(f) != 0)
        abort();
}

/* ---- tests -------------------------------------------------------------------------- */

static void test_round_trip_is_bit_exact(void)
{
    fixture f;
    fixture_init(&f, 7);
    fw_error err = {0};
    CHECK_INT(fw_ckpt_save(f.path, &f.c, &err), 0);

    model m2, o2;
    model_init(&m2, 5, model_names, model_shapes);
    model_init(&o2, 2, optim_names, optim_shapes);
    fw_ckpt ck;
    int rc = fw_ckpt_open(f.path, &ck, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc == 0) {
        int extra = -1;
        CHECK_INT(fw_ckpt_read_params(&ck, FW_CKPT_SECTION_MODEL, &m2.list, 0, &extra, &err), 0);
        CHECK_INT(extra, 0);
        CHECK_INT(fw_ckpt_read_params(&ck, FW_CKPT_SECTION_OPTIM, &o2.list, 0, NULL, &err), 0);
        CHECK(same_bits(&f.m, &m2));
        CHECK(same_bits(&f.o, &o2));
        CHECK(ck.meta.step == f.c.meta.step);
        CHECK_INT(ck.meta.epoch, 17);
        CHECK_INT(ck.meta.sampler_epoch, 17);
        CHECK_INT(ck.meta.sampler_batch, 42);
        CHECK_INT(ck.meta.best_step, 99);
        CHECK_INT(ck.meta.has_best, 1);
        CHECK(memcmp(&ck.meta.best_metric, &f.c.meta.best_metric, 8) == 0); /* -0.0 */
        CHECK(ck.rng_len == sizeof f.rng && memcmp(ck.rng, f.rng, sizeof f.rng) == 0);
        CHECK_STR(ck.config, f.c.config);
        const fw_ckpt_entry *e = fw_ckpt_find(&ck, FW_CKPT_SECTION_MODEL, "conv1.weight");
        CHECK(e && e->ndim == 4 && e->shape[0] == 4 && e->shape[1] == 1 && e->shape[3] == 3);
        CHECK(fw_ckpt_find(&ck, FW_CKPT_SECTION_OPTIM, "conv1.weight") == NULL);
        const fw_ckpt_entry *b = fw_ckpt_find(&ck, FW_CKPT_SECTION_META, "loss_scaler");
        CHECK(b && b->kind == FW_CKPT_KIND_BLOB && b->length == 7 &&
              memcmp(b->data, f.c.blobs[0].data, 7) == 0);
        b = fw_ckpt_find(&ck, FW_CKPT_SECTION_META, "empty_state");
        CHECK(b && b->length == 0);
        fw_ckpt_close(&ck);
    }
    /* A NaN best metric with a payload also survives. */
    uint64_t nan_bits = 0x7ff4000000abcdefull;
    memcpy(&f.c.meta.best_metric, &nan_bits, 8);
    CHECK_INT(fw_ckpt_save(f.path, &f.c, &err), 0);
    if (fw_ckpt_open(f.path, &ck, &err) == 0) {
        CHECK(memcmp(&ck.meta.best_metric, &nan_bits, 8) == 0);
        fw_ckpt_close(&ck);
    }
    model_free(&m2);
    model_free(&o2);
    fixture_free(&f);
}

static void test_every_flipped_byte_is_refused(void)
{
    fixture f;
    fixture_init(&f, 8);
    fw_error err = {0};
    CHECK_INT(fw_ckpt_save(f.path, &f.c, &err), 0);
    long n;
    unsigned char *b = slurp(f.path, &n);
    char bad[400];
    snprintf(bad, sizeof bad, "%s/bad.fwc", f.dir);
    spit(bad, b, n);
    int fd = open(bad, O_RDWR);
    CHECK(fd >= 0);
    long accepted = 0, corrupt = 0;
    for (long i = 0; i < n && fd >= 0; i++) {
        unsigned char flipped = b[i] ^ 0x20;
        CHECK(pwrite(fd, &flipped, 1, i) == 1);
        fw_ckpt ck;
        int rc = fw_ckpt_open(bad, &ck, &err);
        CHECK(pwrite(fd, &b[i], 1, i) == 1);
        if (rc == 0) {
            accepted++;
            printf("# byte %ld flipped was accepted\n", i);
            fw_ckpt_close(&ck);
        } else if (rc == FW_ECORRUPT) {
            corrupt++;
        }
        CHECK(ck.bytes == NULL && ck.n_entries == 0);
    }
    if (fd >= 0)
        close(fd);
    printf("# %ld bytes flipped one at a time: %ld refused as damaged, %ld as malformed or "
           "another version\n",
           n, corrupt, n - corrupt - accepted);
    CHECK_INT(accepted, 0);
    CHECK(corrupt > n / 2);
    /* The message names the damaged entry when a tensor's bytes change. */
    fw_ckpt ck;
    CHECK_INT(fw_ckpt_open(f.path, &ck, &err), 0);
    const fw_ckpt_entry *e = fw_ckpt_find(&ck, FW_CKPT_SECTION_OPTIM,
                                          "optim.bn1.weight.momentum_buffer");
    long off = e ? (long)e->offset : 0;
    fw_ckpt_close(&ck);
    b[off + 1] ^= 1;
    spit(bad, b, n);
    CHECK_INT(fw_ckpt_open(bad, &ck, &err), FW_ECORRUPT);
    CHECK_MSG(strstr(err.msg, "'optim.bn1.weight.momentum_buffer': checksum mismatch"), "%s",
              err.msg);
    free(b);
    fixture_free(&f);
}

static void test_truncated_files_are_refused(void)
{
    fixture f;
    fixture_init(&f, 9);
    fw_error err = {0};
    CHECK_INT(fw_ckpt_save(f.path, &f.c, &err), 0);
    long n;
    unsigned char *b = slurp(f.path, &n);
    char bad[400];
    snprintf(bad, sizeof bad, "%s/torn.fwc", f.dir);
    /* Every length, shortening one file (rewriting it each time would make
     * ext4 flush it on every close). */
    spit(bad, b, n);
    int fd = open(bad, O_RDWR);
    CHECK(fd >= 0);
    long accepted = 0;
    for (long len = n - 1; len >= 0 && fd >= 0; len--) {
        CHECK(ftruncate(fd, len) == 0);
        fw_ckpt ck;
        if (fw_ckpt_open(bad, &ck, &err) == 0) {
            accepted++;
            fw_ckpt_close(&ck);
        }
    }
    if (fd >= 0)
        close(fd);
    CHECK_INT(accepted, 0);
    spit(bad, b, n - 1);
    fw_ckpt ck;
    CHECK_INT(fw_ckpt_open(bad, &ck, &err), FW_ECORRUPT);
    CHECK_MSG(strstr(err.msg, "torn or truncated"), "%s", err.msg);
    /* One byte too many is refused as well. */
    unsigned char *longer = calloc((size_t)n + 1, 1);
    memcpy(longer, b, (size_t)n);
    spit(bad, longer, n + 1);
    CHECK_INT(fw_ckpt_open(bad, &ck, &err), FW_ECORRUPT);
    free(longer);
    free(b);
    fixture_free(&f);
}

static void test_other_version_and_foreign_files_are_refused(void)
{
    fixture f;
    fixture_init(&f, 10);
    fw_error err = {0};
    CHECK_INT(fw_ckpt_save(f.path, &f.c, &err), 0);
    long n;
    unsigned char *b = slurp(f.path, &n);
    /* Version 2 with a correct header hash. */
    b[8] = 2;
    uint64_t h = fw_hash64(b, 72, 0);
    for (int i = 0; i < 8; i++)
        b[72 + i] = (unsigned char)(h >> (8 * i));
    spit(f.path, b, n);
    fw_ckpt ck;
    CHECK_INT(fw_ckpt_open(f.path, &ck, &err), FW_EUNSUPPORTED);
    CHECK_MSG(strstr(err.msg, "version 2") && strstr(err.msg, "version 1"), "%s", err.msg);
    spit(f.path, (const unsigned char *)"hello, world\n", 13);
    CHECK_INT(fw_ckpt_open(f.path, &ck, &err), FW_EFORMAT);
    CHECK_MSG(strstr(err.msg, "not a flukewatch checkpoint"), "%s", err.msg);
    char missing[400];
    snprintf(missing, sizeof missing, "%s/none.fwc", f.dir);
    CHECK_INT(fw_ckpt_open(missing, &ck, &err), FW_ENOTFOUND);
    free(b);
    fixture_free(&f);
}

static void test_missing_misshaped_and_extra_tensors(void)
{
    fixture f;
    fixture_init(&f, 11);
    fw_error err = {0};
    CHECK_INT(fw_ckpt_save(f.path, &f.c, &err), 0);
    fw_ckpt ck;
    CHECK_INT(fw_ckpt_open(f.path, &ck, &err), 0);

    /* A model with one more tensor: missing, and nothing is copied. */
    static const char *const more_names[] = {"conv1.weight", "bn1.weight", "layer9.weight"};
    static const int64_t more_shapes[][5] = {{4, 4, 1, 3, 3}, {1, 4}, {1, 2}};
    model m;
    model_init(&m, 3, more_names, more_shapes);
    CHECK_INT(fw_ckpt_read_params(&ck, FW_CKPT_SECTION_MODEL, &m.list, FW_CKPT_IGNORE_EXTRA,
                                  NULL, &err),
              FW_ENOTFOUND);
    CHECK_MSG(strstr(err.msg, "'layer9.weight' is not in the checkpoint"), "%s", err.msg);
    CHECK(m.p[0].data[0] == 0.0f && m.p[1].data[0] == 0.0f); /* nothing half-loaded */
    model_free(&m);

    /* Another shape: named, with both shapes. */
    static const int64_t wrong_shapes[][5] = {{4, 4, 3, 3, 3}, {1, 4}};
    model_init(&m, 2, more_names, wrong_shapes);
    CHECK_INT(fw_ckpt_read_params(&ck, FW_CKPT_SECTION_MODEL, &m.list, FW_CKPT_IGNORE_EXTRA,
                                  NULL, &err),
              FW_EFORMAT);
    CHECK_MSG(strstr(err.msg, "'conv1.weight' has shape (4, 1, 3, 3) in the checkpoint, the "
                              "model has (4, 3, 3, 3)"),
              "%s", err.msg);
    model_free(&m);

    /* Fewer tensors than the file: extra ones are an error unless ignored. */
    model_init(&m, 2, more_names, more_shapes);
    int extra = 0;
    CHECK_INT(fw_ckpt_read_params(&ck, FW_CKPT_SECTION_MODEL, &m.list, 0, &extra, &err),
              FW_EFORMAT);
    CHECK_INT(extra, 3);
    CHECK_MSG(strstr(err.msg, "3 model tensor(s)") && strstr(err.msg, "bn1.num_batches_tracked"),
              "%s", err.msg);
    CHECK(m.p[0].data[0] == 0.0f);
    CHECK_INT(fw_ckpt_read_params(&ck, FW_CKPT_SECTION_MODEL, &m.list, FW_CKPT_IGNORE_EXTRA,
                                  &extra, &err),
              0);
    CHECK_INT(extra, 3);
    CHECK(memcmp(m.p[0].data, f.m.p[0].data, 36 * 4) == 0);
    model_free(&m);
    fw_ckpt_close(&ck);
    fixture_free(&f);
}

static void test_failed_write_keeps_the_previous_checkpoint(void)
{
    fixture f;
    fixture_init(&f, 12);
    fw_error err = {0};
    CHECK_INT(fw_ckpt_save(f.path, &f.c, &err), 0);
    long good_size = file_size(f.path);

    /* A file size limit makes write() fail (EFBIG) half way through. */
    struct rlimit old;
    getrlimit(RLIMIT_FSIZE, &old);
    struct rlimit small = old;
    small.rlim_cur = 1000;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    CHECK_INT(setrlimit(RLIMIT_FSIZE, &small), 0);
    model_fill(&f.m, 99);
    int rc = fw_ckpt_save(f.path, &f.c, &err);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    CHECK_INT(rc, FW_EIO);
    CHECK_MSG(strstr(err.msg, "write failed"), "%s", err.msg);

    CHECK_INT(file_size(f.path), good_size);
    fw_ckpt ck;
    CHECK_INT(fw_ckpt_open(f.path, &ck, &err), 0); /* still the first one */
    fw_ckpt_close(&ck);
    long temps = 0;
    CHECK_INT(fw_ckpt_store_clean_temps(f.dir, &temps, &err), 0);
    CHECK_INT(temps, 0); /* the failed save removed its temp file */

    /* A directory that does not exist: a clear error, nothing written. */
    char nodir[400];
    snprintf(nodir, sizeof nodir, "%s/no/such/dir/x.fwc", f.dir);
    CHECK_INT(fw_ckpt_save(nodir, &f.c, &err), FW_EIO);
    CHECK_MSG(strstr(err.msg, "cannot create a temp file"), "%s", err.msg);
    /* Reserved or repeated blob names are refused before anything is written. */
    fw_ckpt_blob twice[] = {{"a", "x", 1}, {"a", "y", 1}}, reserved[] = {{"rng", "x", 1}};
    f.c.blobs = twice;
    f.c.n_blobs = 2;
    CHECK_INT(fw_ckpt_save(f.path, &f.c, &err), FW_EINVAL);
    f.c.blobs = reserved;
    f.c.n_blobs = 1;
    CHECK_INT(fw_ckpt_save(f.path, &f.c, &err), FW_EINVAL);
    CHECK_INT(file_size(f.path), good_size);
    fixture_free(&f);
}

static int exists(const char *dir, const char *name)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return file_size(path) >= 0;
}

static void test_retention_keeps_last_k_and_best(void)
{
    fixture f;
    fixture_init(&f, 13);
    fw_error err = {0};
    char dir[300];
    snprintf(dir, sizeof dir, "%s/run", f.dir);
    for (uint64_t step = 1; step <= 10; step++) {
        f.c.meta.step = step * 100;
        model_fill(&f.m, step);
        CHECK_INT(fw_ckpt_store_save(dir, &f.c, step == 4 || step == 6, 3, &err), 0);
    }
    uint64_t *steps;
    long n;
    CHECK_INT(fw_ckpt_store_list(dir, &steps, &n, &err), 0);
    CHECK_INT(n, 3);
    if (n == 3) {
        CHECK_INT(steps[0], 800);
        CHECK_INT(steps[1], 900);
        CHECK_INT(steps[2], 1000);
    }
    free(steps);
    CHECK(exists(dir, "ckpt-00001000.fwc"));
    CHECK(!exists(dir, "ckpt-00000700.fwc"));
    CHECK(exists(dir, "best.fwc"));

    model m;
    model_init(&m, 5, model_names, model_shapes);
    fw_ckpt ck;
    CHECK_INT(fw_ckpt_store_open_best(dir, &ck, &err), 0);
    CHECK_INT(ck.meta.step, 600);
    CHECK_INT(fw_ckpt_read_params(&ck, FW_CKPT_SECTION_MODEL, &m.list, 0, NULL, &err), 0);
    model_fill(&f.m, 6);
    CHECK(same_bits(&m, &f.m));
    fw_ckpt_close(&ck);

    /* Temp files of interrupted writes are ignored, then cleaned; others stay. */
    char path[600];
    snprintf(path, sizeof path, "%s/ckpt-00001100.fwc.tmp-Ab12Cd", dir);
    spit(path, (const unsigned char *)"FWCKPT", 6);
    snprintf(path, sizeof path, "%s/notes.txt", dir);
    spit(path, (const unsigned char *)"mine", 4);
    snprintf(path, sizeof path, "%s/ckpt-123.fwc", dir);
    spit(path, (const unsigned char *)"short name", 10);
    CHECK_INT(fw_ckpt_store_list(dir, &steps, &n, &err), 0);
    CHECK_INT(n, 3);
    free(steps);
    CHECK_INT(fw_ckpt_store_open_newest(dir, &ck, NULL, NULL, &err), 0);
    CHECK_INT(ck.meta.step, 1000);
    fw_ckpt_close(&ck);
    long removed = 0;
    CHECK_INT(fw_ckpt_store_clean_temps(dir, &removed, &err), 0);
    CHECK_INT(removed, 1);
    CHECK(!exists(dir, "ckpt-00001100.fwc.tmp-Ab12Cd"));
    CHECK(exists(dir, "notes.txt") && exists(dir, "ckpt-123.fwc"));

    /* Big steps keep sorting numerically. */
    f.c.meta.step = 123456789012ull;
    CHECK_INT(fw_ckpt_store_save(dir, &f.c, 0, 3, &err), 0);
    CHECK(exists(dir, "ckpt-123456789012.fwc"));
    CHECK(!exists(dir, "ckpt-00000800.fwc"));
    CHECK_INT(fw_ckpt_store_save(dir, &f.c, 0, 0, &err), FW_EINVAL);
    model_free(&m);
    fixture_free(&f);
}

static void test_newest_complete_skips_damaged(void)
{
    fixture f;
    fixture_init(&f, 14);
    fw_error err = {0}, skip = {0};
    char dir[300];
    snprintf(dir, sizeof dir, "%s/run", f.dir);
    fw_ckpt ck;
    CHECK_INT(fw_ckpt_store_open_newest(dir, &ck, NULL, NULL, &err), FW_ENOTFOUND);
    for (uint64_t step = 1; step <= 3; step++) {
        f.c.meta.step = step;
        CHECK_INT(fw_ckpt_store_save(dir, &f.c, step == 1, 5, &err), 0);
    }
    char p3[600], p2[600];
    fw_ckpt_store_path(dir, 3, p3, sizeof p3, &err);
    fw_ckpt_store_path(dir, 2, p2, sizeof p2, &err);
    /* Newest torn, the one before damaged in the middle. */
    CHECK_INT(truncate(p3, file_size(p3) / 2), 0);
    long n;
    unsigned char *b = slurp(p2, &n);
    b[n / 2] ^= 0x80;
    spit(p2, b, n);
    free(b);
    long skipped = 0;
    CHECK_INT(fw_ckpt_store_open_newest(dir, &ck, &skipped, &skip, &err), 0);
    CHECK_INT(ck.meta.step, 1);
    CHECK_INT(skipped, 2);
    CHECK_MSG(strstr(skip.msg, "ckpt-00000003.fwc") && strstr(skip.msg, "torn"), "%s", skip.msg);
    fw_ckpt_close(&ck);
    /* With every ckpt-* damaged, best.fwc is the last resort. */
    char p1[600];
    fw_ckpt_store_path(dir, 1, p1, sizeof p1, &err);
    CHECK_INT(unlink(p1), 0);
    CHECK_INT(fw_ckpt_store_open_newest(dir, &ck, &skipped, &skip, &err), 0);
    CHECK_INT(ck.meta.step, 1);
    fw_ckpt_close(&ck);
    fixture_free(&f);
}

int main(void)
{
    RUN(test_round_trip_is_bit_exact);
    RUN(test_every_flipped_byte_is_refused);
    RUN(test_truncated_files_are_refused);
    RUN(test_other_version_and_foreign_files_are_refused);
    RUN(test_missing_misshaped_and_extra_tensors);
    RUN(test_failed_write_keeps_the_previous_checkpoint);
    RUN(test_retention_keeps_last_k_and_best);
    RUN(test_newest_complete_skips_damaged);
    return tap_done();
}
