/* optim_fixture.h — reader for tests/fixtures/ref/optim.bin (written by
 * tests/ref/optim_ref.py): named f32/f64 arrays after a magic and version.
 * Test-only, header-only. */
#ifndef FW_OPTIM_FIXTURE_H
#define FW_OPTIM_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPTIM_FIXTURE_VERSION 1

typedef struct fx_record {
    char name[128];
    int dtype;     /* 0 = f32, 1 = f64 */
    int64_t count;
    const unsigned char *bytes;
} fx_record;

typedef struct fx_file {
    unsigned char *buf;
    fx_record *rec;
    int n;
} fx_file;

static inline void fx_close(fx_file *f)
{
    free(f->buf);
    free(f->rec);
    memset(f, 0, sizeof *f);
}

/* 0 on success; -1 (with a message in why) on a missing or malformed file. */
static inline int fx_open(fx_file *f, const char *path, char *why, size_t why_size)
{
    memset(f, 0, sizeof *f);
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(why, why_size, "cannot open %.200s", path);
        return -1;
    }
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    f->buf = malloc((size_t)size + 1);
    if (!f->buf || fread(f->buf, 1, (size_t)size, fp) != (size_t)size) {
        fclose(fp);
        fx_close(f);
        snprintf(why, why_size, "cannot read %.200s", path);
        return -1;
    }
    fclose(fp);
    const unsigned char *p = f->buf, *end = f->buf + size;
    uint32_t version, count;
    if (size < 16 || memcmp(p, "FWOPTREF", 8) != 0) {
        snprintf(why, why_size, "%.200s: bad magic", path);
        goto bad;
    }
    memcpy(&version, p + 8, 4);
    memcpy(&count, p + 12, 4);
    if (version != OPTIM_FIXTURE_VERSION) {
        snprintf(why, why_size, "%.200s: version %u, expected %d", path, version,
                 OPTIM_FIXTURE_VERSION);
        goto bad;
    }
    p += 16;
    f->rec = calloc(count ? count : 1, sizeof *f->rec);
    if (!f->rec)
        goto bad;
    for (uint32_t i = 0; i < count; i++) {
        fx_record *r = &f->rec[i];
        uint16_t len;
        if (end - p < 2)
            goto truncated;
        memcpy(&len, p, 2);
        p += 2;
        if (len >= sizeof r->name || end - p < len + 2)
            goto truncated;
        memcpy(r->name, p, len);
        p += len;
        r->dtype = p[0];
        int ndim = p[1];
        p += 2;
        if (end - p < 4 * ndim)
            goto truncated;
        r->count = 1;
        for (int d = 0; d < ndim; d++) {
            uint32_t dim;
            memcpy(&dim, p + 4 * d, 4);
            r->count *= dim;
        }
        p += 4 * ndim;
        int64_t bytes = r->count * (r->dtype ? 8 : 4);
        if (end - p < bytes)
            goto truncated;
        r->bytes = p;
        p += bytes;
        f->n++;
    }
    return 0;
truncated:
    snprintf(why, why_size, "%.200s: truncated at record %d", path, f->n);
bad:
    fx_close(f);
    return -1;
}

static inline const fx_record *fx_find(const fx_file *f, const char *name)
{
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->rec[i].name, name) == 0)
            return &f->rec[i];
    return NULL;
}

/* Copy record `name` into dst (count values, converted to float/double).
 * Returns 0, or -1 when missing or of another size. */
static inline int fx_get_f32(const fx_file *f, const char *name, float *dst, int64_t count)
{
    const fx_record *r = fx_find(f, name);
    if (!r || r->count != count)
        return -1;
    for (int64_t i = 0; i < count; i++) {
        if (r->dtype) {
            double v;
            memcpy(&v, r->bytes + 8 * i, 8);
            dst[i] = (float)v;
        } else {
            memcpy(&dst[i], r->bytes + 4 * i, 4);
        }
    }
    return 0;
}

static inline int fx_get_f64(const fx_file *f, const char *name, double *dst, int64_t count)
{
    const fx_record *r = fx_find(f, name);
    if (!r || r->count != count)
        return -1;
    for (int64_t i = 0; i < count; i++) {
        if (r->dtype) {
            memcpy(&dst[i], r->bytes + 8 * i, 8);
        } else {
            float v;
            memcpy(&v, r->bytes + 4 * i, 4);
            dst[i] = v;
        }
    }
    return 0;
}

/* Number of values in record `name`, or -1. */
static inline int64_t fx_count(const fx_file *f, const char *name)
{
    const fx_record *r = fx_find(f, name);
    return r ? r->count : -1;
}

/* Path of the fixture: $TOP_SRCDIR/tests/fixtures/ref/optim.bin, else
 * relative to the current directory. */
static inline void fx_default_path(char *path, size_t size)
{
    const char *top = getenv("TOP_SRCDIR");
    snprintf(path, size, "%s/tests/fixtures/ref/optim.bin", top && top[0] ? top : ".");
}

#endif
