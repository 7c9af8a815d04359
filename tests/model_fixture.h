/* model_fixture.h — shared by the tests that compare the model with PyTorch
 * (test_model.c, test_learner_ref.c): the reader of tests/ref's versioned
 * fixture files (a magic, version 1, then named float tensors; see
 * tests/ref/fwmodel.py), the relative L2 error, and the deterministic weight
 * pattern that tests/ref/fwmodel.py generates on the Python side. */
#ifndef FW_TEST_MODEL_FIXTURE_H
#define FW_TEST_MODEL_FIXTURE_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

/* ---- fixture reader ---- */
typedef struct {
    char name[128];
    int ndim;
    int64_t dims[4];
    int64_t numel;
    float *data;
} ref_tensor;

typedef struct {
    ref_tensor *t;
    int n;
} ref_file;

static inline void ref_free(ref_file *f)
{
    for (int i = 0; i < f->n; i++)
        free(f->t[i].data);
    free(f->t);
    memset(f, 0, sizeof *f);
}

static inline int ref_load(ref_file *f, const char *leaf, const char magic_want[8])
{
    const char *top = getenv("TOP_SRCDIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/ref/%s", top ? top : ".", leaf);
    memset(f, 0, sizeof *f);
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        printf("# cannot open %s\n", path);
        return -1;
    }
    char magic[8];
    uint32_t version, count;
    int ok = fread(magic, 1, 8, fp) == 8 && memcmp(magic, magic_want, 8) == 0 &&
             fread(&version, 4, 1, fp) == 1 && version == 1 && fread(&count, 4, 1, fp) == 1 &&
             count < 100000;
    if (ok) {
        f->t = calloc(count, sizeof *f->t);
        ok = f->t != NULL;
    }
    for (uint32_t i = 0; ok && i < count; i++) {
        ref_tensor *t = &f->t[i];
        uint32_t len, ndim;
        ok = fread(&len, 4, 1, fp) == 1 && len < sizeof t->name &&
             fread(t->name, 1, len, fp) == len && fread(&ndim, 4, 1, fp) == 1 && ndim <= 4;
        if (!ok)
            break;
        t->ndim = (int)ndim;
        t->numel = 1;
        for (uint32_t d = 0; ok && d < ndim; d++) {
            ok = fread(&t->dims[d], 8, 1, fp) == 1 && t->dims[d] >= 0 && t->dims[d] < (1 << 24);
            t->numel *= ok ? t->dims[d] : 1;
        }
        if (ok) {
            t->data = malloc((size_t)(t->numel ? t->numel : 1) * sizeof(float));
            ok = t->data && fread(t->data, sizeof(float), (size_t)t->numel, fp) ==
                                (size_t)t->numel;
        }
        f->n++;
    }
    fclose(fp);
    if (!ok) {
        printf("# %s: malformed fixture\n", path);
        ref_free(f);
        return -1;
    }
    return 0;
}

static inline const ref_tensor *ref_get(const ref_file *f, const char *name)
{
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->t[i].name, name) == 0)
            return &f->t[i];
    return NULL;
}

static inline int ref_int(const ref_file *f, const char *name)
{
    const ref_tensor *t = ref_get(f, name);
    return t && t->numel == 1 ? (int)t->data[0] : -1;
}

/* ||a - b|| / max(||b||, floor) in double. */
static inline double norm2(const float *a, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += (double)a[i] * (double)a[i];
    return sqrt(s);
}

/* ||a - b|| / max(||b||, floor) in double. */
static inline double rel_err(const float *a, const float *b, int64_t n, double floor)
{
    double d = 0;
    for (int64_t i = 0; i < n; i++) {
        double e = (double)a[i] - (double)b[i];
        d += e * e;
    }
    double nb = norm2(b, n);
    return sqrt(d) / (nb > floor ? nb : floor);
}

/* ---- the test pattern (the twin of fwmodel.py: pattern_uniform / pattern_value) ---- */
static inline float pattern_uniform(uint64_t seed, uint64_t index, uint64_t i)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + index * 0xD1B54A32D192ED03ull +
                 i * 0x94D049BB133111EBull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    x ^= x >> 31;
    return (float)((double)(x >> 40) * (1.0 / 8388608.0) - 1.0);
}

static inline int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static inline void set_pattern_weights(fw_model *m, uint64_t seed)
{
    const fw_param_list *list = fw_model_params(m);
    for (int k = 0; k < list->n; k++) {
        fw_param *p = list->items[k];
        int64_t fan_in = 1;
        for (int d = 1; d < p->ndim; d++)
            fan_in *= p->shape[d];
        float bound = (float)sqrt(6.0 / (double)fan_in);
        for (int64_t i = 0; i < p->numel; i++) {
            float u = pattern_uniform(seed, (uint64_t)k, (uint64_t)i), v;
            if (ends_with(p->name, ".num_batches_tracked"))
                v = 0.0f;
            else if (ends_with(p->name, ".bias") && strncmp(p->name, "neck.", 5) != 0)
                v = 0.5f + u * 0.1f;
            else if (ends_with(p->name, ".running_mean") || ends_with(p->name, ".bias"))
                v = u * 0.1f;
            else if (ends_with(p->name, ".running_var"))
                v = 1.0f + u * 0.25f;
            else if (ends_with(p->name, ".p"))
                v = 3.0f + u * 0.25f;
            else if (p->ndim == 1)
                v = 1.0f + u * 0.2f;
            else
                v = u * bound;
            p->data[i] = v;
        }
    }
    fw_model_params_updated(m);
}

#endif
