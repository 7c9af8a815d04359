/* test_safetensors.c — pretrained weights from .safetensors files written at
 * test time by tests/ref/make_safetensors.py ($PYTHON_REF): F32/F16/BF16
 * conversions against torch/numpy, conv1 RGB -> gray, missing / mis-shaped /
 * extra tensors, and a corpus of malformed headers refused with reasons. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "param.h"
#include "safetensors.h"
#include "tap.h"

static char gen_dir[256];
static int gen_ok;

static void path_of(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", gen_dir, name);
}

#define NEED_FILES()                                                             \
    do {                                                                         \
        if (!gen_ok)                                                             \
            SKIP("no reference files (PYTHON_REF with torch and numpy needed)"); \
    } while (0)

/* ---- a param list built from (name, shape) ------------------------------------------ */

typedef struct plist {
    fw_param p[16];
    fw_param *ptr[16];
    fw_param_list list;
} plist;

static void plist_add(plist *l, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2,
                      int64_t d3)
{
    fw_param *p = &l->p[l->list.n];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->ndim = ndim;
    int64_t dims[4] = {d0, d1, d2, d3};
    p->numel = 1;
    for (int d = 0; d < ndim; d++) {
        p->shape[d] = dims[d];
        p->numel *= dims[d];
    }
    p->data = malloc((size_t)p->numel * sizeof(float) + 1);
    for (int64_t k = 0; k < p->numel; k++)
        p->data[k] = -777.0f; /* sentinel: "not written" */
    l->ptr[l->list.n] = p;
    l->list.items = l->ptr;
    l->list.n++;
    l->list.cap = 16;
}

static void plist_free(plist *l)
{
    for (int i = 0; i < l->list.n; i++)
        free(l->p[i].data);
    memset(l, 0, sizeof *l);
}

/* The reference model's params; in_ch 3 or 1 (conv1). */
static void plist_model(plist *l, const char *prefix, int in_ch)
{
    char n[FW_PARAM_NAME_MAX];
#define ADD(name, ...)                                \
    snprintf(n, sizeof n, "%s%s", prefix, name);      \
    plist_add(l, n, __VA_ARGS__)
    ADD("conv1.weight", 4, 8, in_ch, 7, 7);
    ADD("bn1.weight", 1, 8, 0, 0, 0);
    ADD("bn1.bias", 1, 8, 0, 0, 0);
    ADD("bn1.running_mean", 1, 8, 0, 0, 0);
    ADD("bn1.running_var", 1, 8, 0, 0, 0);
    ADD("bn1.num_batches_tracked", 0, 0, 0, 0, 0);
    ADD("layer1.0.conv1.weight", 4, 8, 8, 3, 3);
#undef ADD
}

static int all_sentinel(const fw_param_list *list)
{
    for (int i = 0; i < list->n; i++)
        for (int64_t k = 0; k < list->items[i]->numel; k++)
            if (list->items[i]->data[k] != -777.0f)
                return 0;
    return 1;
}

/* Bits of tensor `name` of the F32 file `file` equal to param p? */
static int equals_file(const fw_param *p, const char *file, const char *name)
{
    char path[400];
    path_of(path, sizeof path, file);
    fw_safetensors st;
    fw_error err = {0};
    if (fw_safetensors_open(path, &st, &err) != 0) {
        printf("# %s\n", err.msg);
        return 0;
    }
    const fw_st_tensor *t = fw_safetensors_find(&st, name);
    int same = 0;
    if (t && t->numel == (uint64_t)p->numel) {
        float *want = malloc((size_t)t->numel * 4 + 1);
        if (fw_safetensors_read_f32(&st, t, want, &err) == 0)
            same = memcmp(want, p->data, (size_t)t->numel * 4) == 0;
        if (!same)
            for (uint64_t k = 0; k < t->numel; k++)
                if (memcmp(&want[k], &p->data[k], 4) != 0) {
                    printf("# %s[%llu]: got %.9g, expected %.9g\n", name, (unsigned long long)k,
                           p->data[k], want[k]);
                    break;
                }
        free(want);
    }
    fw_safetensors_close(&st);
    return same;
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_f32_file_loads_bit_exactly(void)
{
    NEED_FILES();
    plist l = {0};
    plist_model(&l, "", 3);
    char path[400];
    path_of(path, sizeof path, "model_f32.safetensors");
    fw_pretrained_report r;
    fw_error err = {0};
    int rc = fw_safetensors_load_params(path, &l.list, NULL, &r, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    CHECK_INT(r.n_loaded, 7);
    CHECK_INT(r.n_missing, 0);
    CHECK_INT(r.n_classifier, 2); /* fc.weight, fc.bias skipped */
    CHECK_INT(r.n_unused, 0);
    CHECK_INT(r.conv1_summed, 0);
    for (int i = 0; i < 7; i++)
        if (i != 5)
            CHECK_MSG(equals_file(&l.p[i], "model_f32.safetensors", l.p[i].name), "%s",
                      l.p[i].name);
    CHECK(l.p[5].data[0] == 12345.0f); /* I64 num_batches_tracked */
    plist_free(&l);
}

static void test_f16_and_bf16_files_match_torch(void)
{
    NEED_FILES();
    static const char *const files[][2] = {{"model_f16.safetensors", "expect_f16.safetensors"},
                                           {"model_bf16.safetensors", "expect_bf16.safetensors"}};
    for (int f = 0; f < 2; f++) {
        plist l = {0};
        plist_model(&l, "", 3);
        char path[400];
        path_of(path, sizeof path, files[f][0]);
        fw_error err = {0};
        int rc = fw_safetensors_load_params(path, &l.list, NULL, NULL, &err);
        CHECK_MSG(rc == 0, "%s", err.msg);
        for (int i = 0; i < 7; i++)
            if (i != 5)
                CHECK_MSG(equals_file(&l.p[i], files[f][1], l.p[i].name), "%s %s", files[f][0],
                          l.p[i].name);
        CHECK(l.p[5].data[0] == 12345.0f);
        plist_free(&l);
    }
}

/* Every one of the 65536 half / bfloat16 patterns against numpy / torch. */
static void test_every_16_bit_pattern_converts_exactly(void)
{
    NEED_FILES();
    static const char *const files[][2] = {{"all_f16.safetensors", "all_f16_expect.safetensors"},
                                           {"all_bf16.safetensors", "all_bf16_expect.safetensors"}};
    for (int f = 0; f < 2; f++) {
        plist l = {0};
        plist_add(&l, "x", 1, 65536, 0, 0, 0);
        char path[400];
        path_of(path, sizeof path, files[f][0]);
        fw_error err = {0};
        CHECK_INT(fw_safetensors_load_params(path, &l.list, NULL, NULL, &err), 0);
        CHECK_MSG(equals_file(&l.p[0], files[f][1], "x"), "%s", files[f][0]);
        /* Spot checks by hand: 1.0, -2.0, the smallest subnormal, inf, -0. */
        if (f == 0) {
            CHECK(fw_f16_to_f32(0x3c00) == 1.0f && fw_f16_to_f32(0xc000) == -2.0f);
            CHECK(fw_f16_to_f32(0x0001) == 5.9604644775390625e-8f);
            CHECK(fw_f16_to_f32(0x7c00) > 3e38f && fw_f16_to_f32(0x7e00) != fw_f16_to_f32(0x7e00));
        } else {
            CHECK(fw_bf16_to_f32(0x3f80) == 1.0f && fw_bf16_to_f32(0xc000) == -2.0f);
        }
        CHECK(l.p[0].data[0x8000] == 0.0f && signbit(l.p[0].data[0x8000]));
        plist_free(&l);
    }
}

static void test_conv1_rgb_summed_to_gray(void)
{
    NEED_FILES();
    plist l = {0};
    plist_model(&l, "", 1);
    char path[400];
    path_of(path, sizeof path, "model_f32.safetensors");
    fw_pretrained_report r;
    fw_error err = {0};
    int rc = fw_safetensors_load_params(path, &l.list, NULL, &r, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    CHECK_INT(r.conv1_summed, 1);
    CHECK(equals_file(&l.p[0], "expect_gray.safetensors", "conv1.weight"));
    CHECK(equals_file(&l.p[6], "model_f32.safetensors", "layer1.0.conv1.weight"));
    plist_free(&l);
    /* Only conv1 is adapted: a 1-channel layer1.0.conv1 is a shape error. */
    plist_add(&l, "layer1.0.conv1.weight", 4, 8, 1, 3, 3);
    CHECK_INT(fw_safetensors_load_params(path, &l.list, NULL, &r, &err), FW_EFORMAT);
    plist_free(&l);
}

static void test_missing_misshaped_extra_and_prefix(void)
{
    NEED_FILES();
    char path[400];
    path_of(path, sizeof path, "model_f32.safetensors");
    fw_pretrained_report r;
    fw_error err = {0};

    /* A backbone under "backbone." plus a new neck: the neck is not looked up. */
    plist l = {0};
    plist_model(&l, "backbone.", 3);
    plist_add(&l, "neck.weight", 2, 4, 8, 0, 0);
    fw_pretrained_opts o = {.prefix = "backbone.", .allow_missing = 0};
    CHECK_INT(fw_safetensors_load_params(path, &l.list, &o, &r, &err), 0);
    CHECK_INT(r.n_loaded, 7);
    CHECK_INT(r.n_not_looked_up, 1);
    CHECK(l.p[7].data[0] == -777.0f);
    CHECK(equals_file(&l.p[0], "model_f32.safetensors", "conv1.weight"));
    plist_free(&l);

    /* A param the file lacks: an error naming it, and nothing written. */
    plist_model(&l, "", 3);
    plist_add(&l, "layer2.0.conv1.weight", 4, 16, 8, 3, 3);
    plist_add(&l, "layer2.0.bn1.num_batches_tracked", 0, 0, 0, 0, 0);
    CHECK_INT(fw_safetensors_load_params(path, &l.list, NULL, &r, &err), FW_ENOTFOUND);
    CHECK_MSG(strstr(err.msg, "'layer2.0.conv1.weight' is not in the file (1 param(s) missing)"),
              "%s", err.msg);
    CHECK(all_sentinel(&l.list));
    o = (fw_pretrained_opts){.prefix = NULL, .allow_missing = 1};
    CHECK_INT(fw_safetensors_load_params(path, &l.list, &o, &r, &err), 0);
    CHECK_INT(r.n_loaded, 7);
    CHECK_INT(r.n_missing, 1);
    CHECK_INT(r.n_counters_kept, 1);
    CHECK_STR(r.first_missing, "layer2.0.conv1.weight");
    CHECK(l.p[7].data[0] == -777.0f);
    plist_free(&l);

    /* Another shape: named with both shapes, nothing written. */
    plist_add(&l, "conv1.weight", 4, 8, 3, 7, 7);
    plist_add(&l, "bn1.weight", 1, 9, 0, 0, 0);
    CHECK_INT(fw_safetensors_load_params(path, &l.list, &o, &r, &err), FW_EFORMAT);
    CHECK_MSG(strstr(err.msg, "'bn1.weight' has shape (8) in the file, the model's 'bn1.weight' "
                              "has (9)"),
              "%s", err.msg);
    CHECK(all_sentinel(&l.list));
    plist_free(&l);

    /* Tensors the model does not take are reported, not an error; fc.* never loads. */
    plist_add(&l, "conv1.weight", 4, 8, 3, 7, 7);
    plist_add(&l, "fc.bias", 1, 10, 0, 0, 0);
    CHECK_INT(fw_safetensors_load_params(path, &l.list, &o, &r, &err), 0);
    CHECK_INT(r.n_unused, 6);
    CHECK_INT(r.n_classifier, 2);
    CHECK_INT(r.n_missing, 1); /* the model's fc.bias: the classifier is not loaded */
    CHECK(l.p[1].data[0] == -777.0f);
    CHECK(strlen(r.first_unused) > 0);
    plist_free(&l);
}

static void test_other_dtypes_and_metadata(void)
{
    NEED_FILES();
    char path[400];
    path_of(path, sizeof path, "odd.safetensors");
    fw_error err = {0};
    fw_safetensors st;
    CHECK_INT(fw_safetensors_open(path, &st, &err), 0);
    CHECK_INT(st.n, 3);
    const fw_st_tensor *e = fw_safetensors_find(&st, "empty");
    CHECK(e && e->numel == 0 && e->ndim == 2 && e->shape[1] == 4);
    const fw_st_tensor *m = fw_safetensors_find(&st, "mask");
    CHECK(m && m->dtype == FW_ST_U8);
    fw_safetensors_close(&st);

    plist l = {0};
    plist_add(&l, "conv1.weight", 4, 8, 3, 7, 7); /* F64 in the file: rounded to f32 */
    CHECK_INT(fw_safetensors_load_params(path, &l.list, NULL, NULL, &err), 0);
    CHECK(equals_file(&l.p[0], "model_f32.safetensors", "conv1.weight"));
    plist_add(&l, "mask", 1, 6, 0, 0, 0);
    CHECK_INT(fw_safetensors_load_params(path, &l.list, NULL, NULL, &err), FW_EUNSUPPORTED);
    CHECK_MSG(strstr(err.msg, "'mask' is U8"), "%s", err.msg);
    CHECK(l.p[1].data[0] == -777.0f);
    plist_free(&l);

    CHECK_INT(fw_safetensors_load_params("/nonexistent/x.safetensors", &l.list, NULL, NULL, &err),
              FW_ENOTFOUND);
}

static int code_of(const char *name)
{
    static const struct {
        const char *n;
        int c;
    } codes[] = {{"EFORMAT", FW_EFORMAT}, {"ETOOBIG", FW_ETOOBIG}, {"EIO", FW_EIO}};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (strcmp(codes[i].n, name) == 0)
            return codes[i].c;
    return 1;
}

static void test_malformed_headers_are_refused(void)
{
    NEED_FILES();
    char manifest[400];
    path_of(manifest, sizeof manifest, "bad/manifest.txt");
    FILE *f = fopen(manifest, "r");
    CHECK(f != NULL);
    if (!f)
        return;
    char line[512];
    int n = 0, refused = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *file = strtok(line, "\t"), *code = strtok(NULL, "\t"), *msg = strtok(NULL, "\t");
        if (!file || !code || !msg)
            continue;
        n++;
        char path[600];
        snprintf(path, sizeof path, "%s/bad/%s", gen_dir, file);
        plist l = {0};
        plist_add(&l, "a", 1, 4, 0, 0, 0);
        fw_error err = {0};
        int rc = fw_safetensors_load_params(path, &l.list, NULL, NULL, &err);
        int ok = rc == code_of(code) && strstr(err.msg, msg) && !strchr(err.msg, '\x1b') &&
                 all_sentinel(&l.list);
        refused += ok;
        CHECK_MSG(ok, "%s: rc %d (%s), message \"%s\", expected %s and \"%s\"", file, rc,
                  fw_error_name(rc), err.msg, code, msg);
        plist_free(&l);
    }
    fclose(f);
    printf("# %d malformed files, %d refused with the expected reason\n", n, refused);
    CHECK(n >= 40);
}

/* Random damage to a valid file's length field and JSON header: whatever the
 * loader answers, it must not crash or read out of bounds (ASan build), and
 * on success the loaded values must be finite floats of the right count. */
static void test_mutated_headers_never_crash(void)
{
    NEED_FILES();
    char src[400], dst[400];
    path_of(src, sizeof src, "model_f16.safetensors");
    path_of(dst, sizeof dst, "mutant.safetensors");
    FILE *f = fopen(src, "rb");
    CHECK(f != NULL);
    if (!f)
        return;
    static unsigned char orig[1 << 16];
    size_t n = fread(orig, 1, sizeof orig, f);
    fclose(f);
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++)
        hlen |= (uint64_t)orig[i] << (8 * i);
    FILE *out = fopen(dst, "wb");
    CHECK(out && fwrite(orig, 1, n, out) == n && fclose(out) == 0);
    int fd = open(dst, O_RDWR);
    CHECK(fd >= 0);
    static const char chars[] = "{}[],:\"0123456789-.eE \\Fx";
    uint64_t x = 0x9E3779B97F4A7C15ull;
    int loaded = 0, refused = 0;
    for (int it = 0; it < 3000 && fd >= 0; it++) {
        size_t pos[3];
        unsigned char was[3];
        int k = 1 + (int)(x % 3);
        for (int j = 0; j < k; j++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            pos[j] = (size_t)(x % (8 + hlen));
            was[j] = orig[pos[j]];
            unsigned char c = pos[j] < 8 ? (unsigned char)(x >> 32)
                                         : (unsigned char)chars[(x >> 32) % (sizeof chars - 1)];
            CHECK(pwrite(fd, &c, 1, (off_t)pos[j]) == 1);
        }
        plist l = {0};
        plist_model(&l, "", 3);
        fw_pretrained_opts o = {.allow_missing = 1};
        fw_error err = {0};
        if (fw_safetensors_load_params(dst, &l.list, &o, NULL, &err) == 0)
            loaded++;
        else
            refused++;
        plist_free(&l);
        for (int j = k - 1; j >= 0; j--)
            CHECK(pwrite(fd, &was[j], 1, (off_t)pos[j]) == 1);
    }
    if (fd >= 0)
        close(fd);
    printf("# 3000 mutated headers: %d loaded, %d refused\n", loaded, refused);
    CHECK(refused > 0);
}

static void generate(void)
{
    const char *py = getenv("PYTHON_REF");
    const char *src = getenv("TOP_SRCDIR");
    if (!py || !*py)
        py = "/usr/bin/python3";
    if (!src || !*src)
        src = ".";
    snprintf(gen_dir, sizeof gen_dir, "%s/fwst.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(gen_dir))
        return;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' '%s/tests/ref/make_safetensors.py' '%s' >&2", py, src,
             gen_dir);
    gen_ok = system(cmd) == 0;
    if (!gen_ok)
        printf("# %s failed\n", cmd);
}

int main(void)
{
    generate();
    RUN(test_f32_file_loads_bit_exactly);
    RUN(test_f16_and_bf16_files_match_torch);
    RUN(test_every_16_bit_pattern_converts_exactly);
    RUN(test_conv1_rgb_summed_to_gray);
    RUN(test_missing_misshaped_extra_and_prefix);
    RUN(test_other_dtypes_and_metadata);
    RUN(test_malformed_headers_are_refused);
    RUN(test_mutated_headers_never_crash);
    if (gen_dir[0]) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", gen_dir);
        if (system(cmd) != 0)
            printf("# could not remove %s\n", gen_dir);
    }
    return tap_done();
}
