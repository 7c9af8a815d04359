/* safetensors.c — validating a .safetensors header (cJSON) and loading its
 * tensors into fw_params as float32 (see safetensors.h). */
#include "safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "param_list.h"
#include "sanitize.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c reads little-endian data in place: port the loads for big-endian hosts"
#endif

static const struct {
    const char *name;
    int dtype, size;
} dtypes[] = {
    {"F32", FW_ST_F32, 4},   {"F16", FW_ST_F16, 2},         {"BF16", FW_ST_BF16, 2},
    {"F64", FW_ST_F64, 8},   {"I64", FW_ST_I64, 8},         {"I32", FW_ST_I32, 4},
    {"BOOL", FW_ST_BOOL, 1}, {"U8", FW_ST_U8, 1},           {"I8", FW_ST_I8, 1},
    {"I16", FW_ST_I16, 2},   {"U16", FW_ST_U16, 2},         {"U32", FW_ST_U32, 4},
    {"U64", FW_ST_U64, 8},   {"F8_E5M2", FW_ST_F8_E5M2, 1}, {"F8_E4M3", FW_ST_F8_E4M3, 1},
};

static int dtype_size(int dtype)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (dtypes[i].dtype == dtype)
            return dtypes[i].size;
    return 0;
}

const char *fw_safetensors_dtype_name(int dtype)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (dtypes[i].dtype == dtype)
            return dtypes[i].name;
    return "?";
}

float fw_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu, bits;
    if (exp == 0x1f) { /* inf / NaN, payload kept */
        bits = sign | 0x7f800000u | (mant << 13);
    } else if (exp != 0) {
        bits = sign | ((exp + 112u) << 23) | (mant << 13);
    } else if (mant == 0) {
        bits = sign;
    } else { /* subnormal half: normalise */
        int e = -1;
        do {
            e++;
            mant <<= 1;
        } while (!(mant & 0x400u));
        bits = sign | ((uint32_t)(112 - e) << 23) | ((mant & 0x3ffu) << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

float fw_bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* ---- header --------------------------------------------------------------------- */

/* A JSON number that is an integer in [0, 2^53]. */
static int json_uint(const cJSON *j, uint64_t *out)
{
    if (!cJSON_IsNumber(j))
        return -1;
    double v = j->valuedouble;
    if (!isfinite(v) || v < 0 || v > 9007199254740992.0 || v != floor(v))
        return -1;
    *out = (uint64_t)v;
    return 0;
}

static int cmp_begin(const void *a, const void *b)
{
    const fw_st_tensor *x = *(const fw_st_tensor *const *)a, *y = *(const fw_st_tensor *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp((*(const fw_st_tensor *const *)a)->name, (*(const fw_st_tensor *const *)b)->name);
}

static int parse_tensor(const cJSON *item, fw_st_tensor *t, uint64_t data_len, const char *path,
                        const char *safe_name, fw_error *err)
{
    if (!cJSON_IsObject(item))
        return fw_fail(err, FW_EFORMAT, "%s: tensor '%s' is not a JSON object", path, safe_name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(shape) || !cJSON_IsArray(offs))
        return fw_fail(err, FW_EFORMAT,
                       "%s: tensor '%s' needs a dtype string, a shape array and data_offsets",
                       path, safe_name);
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (strcmp(dt->valuestring, dtypes[i].name) == 0)
            t->dtype = dtypes[i].dtype;
    if (!t->dtype) {
        char safe_dt[64];
        fw_sanitize(dt->valuestring, safe_dt, sizeof safe_dt);
        return fw_fail(err, FW_EFORMAT, "%s: tensor '%s' has unknown dtype '%s'", path,
                       safe_name, safe_dt);
    }
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > FW_ST_MAX_DIMS)
        return fw_fail(err, FW_EFORMAT, "%s: tensor '%s' has %d dimensions (at most %d)", path,
                       safe_name, ndim, FW_ST_MAX_DIMS);
    t->ndim = ndim;
    unsigned __int128 numel = 1;
    int d = 0;
    const cJSON *dim;
    cJSON_ArrayForEach(dim, shape)
    {
        uint64_t v;
        if (json_uint(dim, &v) != 0)
            return fw_fail(err, FW_EFORMAT,
                           "%s: tensor '%s': shape entry %d is not a non-negative integer", path,
                           safe_name, d);
        t->shape[d++] = (int64_t)v;
        numel *= v;
        if (numel > ((unsigned __int128)1 << 64) - 1)
            numel = ((unsigned __int128)1 << 64); /* saturate: surely too big */
    }
    uint64_t begin, end;
    if (cJSON_GetArraySize(offs) != 2 || json_uint(cJSON_GetArrayItem(offs, 0), &begin) != 0 ||
        json_uint(cJSON_GetArrayItem(offs, 1), &end) != 0)
        return fw_fail(err, FW_EFORMAT,
                       "%s: tensor '%s': data_offsets must be two non-negative integers", path,
                       safe_name);
    if (begin > end || end > data_len)
        return fw_fail(err, FW_EFORMAT,
                       "%s: tensor '%s': data_offsets [%llu, %llu] outside the %llu data bytes",
                       path, safe_name, (unsigned long long)begin, (unsigned long long)end,
                       (unsigned long long)data_len);
    unsigned __int128 bytes = numel * (unsigned)dtype_size(t->dtype);
    if (bytes != end - begin)
        return fw_fail(err, FW_EFORMAT,
                       "%s: tensor '%s': %llu bytes in data_offsets, but its shape and dtype %s "
                       "need %.0f",
                       path, safe_name, (unsigned long long)(end - begin), dt->valuestring,
                       (double)bytes);
    t->numel = (uint64_t)numel;
    t->begin = begin;
    t->end = end;
    return 0;
}

static int parse_header(fw_safetensors *st, const char *json, size_t len, fw_error *err)
{
    const char *path = st->path;
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root)
        return fw_fail(err, FW_EFORMAT, "%s: the header is not valid JSON", path);
    int rc = 0;
    if (!cJSON_IsObject(root)) {
        rc = fw_fail(err, FW_EFORMAT, "%s: the header is not a JSON object", path);
        goto out;
    }
    long count = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, root) count++;
    st->tensors = calloc((size_t)count + 1, sizeof *st->tensors);
    if (!st->tensors) {
        rc = fw_fail(err, FW_ENOMEM, "%s: no memory for %ld tensors", path, count);
        goto out;
    }
    uint64_t data_len = st->file_size - st->data_start;
    cJSON_ArrayForEach(item, root)
    {
        const char *name = item->string ? item->string : "";
        if (strcmp(name, "__metadata__") == 0) {
            if (!cJSON_IsObject(item)) {
                rc = fw_fail(err, FW_EFORMAT, "%s: __metadata__ is not a JSON object", path);
                goto out;
            }
            continue;
        }
        char safe_name[128];
        fw_sanitize(name, safe_name, sizeof safe_name);
        if (!*name) {
            rc = fw_fail(err, FW_EFORMAT, "%s: a tensor has an empty name", path);
            goto out;
        }
        fw_st_tensor *t = &st->tensors[st->n];
        rc = parse_tensor(item, t, data_len, path, safe_name, err);
        if (rc < 0)
            goto out;
        t->name = strdup(name);
        if (!t->name) {
            rc = fw_fail(err, FW_ENOMEM, "%s: no memory", path);
            goto out;
        }
        st->n++;
    }
    /* Repeated names and overlapping data. */
    fw_st_tensor **order = malloc(((size_t)st->n + 1) * sizeof *order);
    if (!order) {
        rc = fw_fail(err, FW_ENOMEM, "%s: no memory", path);
        goto out;
    }
    for (long i = 0; i < st->n; i++)
        order[i] = &st->tensors[i];
    qsort(order, (size_t)st->n, sizeof *order, cmp_name);
    for (long i = 1; i < st->n && rc == 0; i++)
        if (strcmp(order[i - 1]->name, order[i]->name) == 0) {
            char safe_name[128];
            fw_sanitize(order[i]->name, safe_name, sizeof safe_name);
            rc = fw_fail(err, FW_EFORMAT, "%s: tensor '%s' appears twice", path, safe_name);
        }
    qsort(order, (size_t)st->n, sizeof *order, cmp_begin);
    uint64_t prev_end = 0;
    const fw_st_tensor *prev = NULL;
    for (long i = 0; i < st->n && rc == 0; i++) {
        if (order[i]->begin == order[i]->end)
            continue; /* empty tensors occupy nothing */
        if (prev && order[i]->begin < prev_end) {
            char a[128], b[128];
            fw_sanitize(prev->name, a, sizeof a);
            fw_sanitize(order[i]->name, b, sizeof b);
            rc = fw_fail(err, FW_EFORMAT, "%s: the data of tensors '%s' and '%s' overlap", path,
                         a, b);
        }
        prev = order[i];
        prev_end = order[i]->end;
    }
    free(order);
out:
    cJSON_Delete(root);
    return rc;
}


int fw_safetensors_open(const char *path, fw_safetensors *st, fw_error *err)
{
    memset(st, 0, sizeof *st);
    st->fd = -1;
    if (!path)
        return fw_fail(err, FW_EINVAL, "safetensors: no path");
    snprintf(st->path, sizeof st->path, "%s", path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fw_fail(err, errno == ENOENT ? FW_ENOTFOUND : FW_EIO, "%s: cannot open: %s", path,
                       strerror(errno));
    st->fd = fd;
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fw_safetensors_close(st);
        return fw_fail(err, FW_EIO, "%s: not a regular file", path);
    }
    st->file_size = (uint64_t)sb.st_size;
    unsigned char len_bytes[8];
    if (st->file_size < 8 || fw_pread_all(fd, len_bytes, 8, 0) != 0) {
        fw_safetensors_close(st);
        return fw_fail(err, FW_EFORMAT, "%s: %llu bytes, too short for a safetensors file", path,
                       (unsigned long long)sb.st_size);
    }
    uint64_t n = 0;
    for (int i = 0; i < 8; i++)
        n |= (uint64_t)len_bytes[i] << (8 * i);
    if (n > st->file_size - 8) {
        fw_safetensors_close(st);
        return fw_fail(err, FW_EFORMAT,
                       "%s: header length %llu runs past the end of the file (%llu bytes)", path,
                       (unsigned long long)n, (unsigned long long)st->file_size);
    }
    if (n > FW_ST_MAX_HEADER) {
        fw_safetensors_close(st);
        return fw_fail(err, FW_ETOOBIG, "%s: header of %llu bytes (at most %u)", path,
                       (unsigned long long)n, FW_ST_MAX_HEADER);
    }
    if (n < 2) {
        fw_safetensors_close(st);
        return fw_fail(err, FW_EFORMAT, "%s: header of %llu bytes cannot hold a JSON object",
                       path, (unsigned long long)n);
    }
    st->data_start = 8 + n;
    char *json = malloc((size_t)n + 1);
    if (!json) {
        fw_safetensors_close(st);
        return fw_fail(err, FW_ENOMEM, "%s: no memory for a %llu-byte header", path,
                       (unsigned long long)n);
    }
    int rc = 0;
    if (fw_pread_all(fd, json, (size_t)n, 8) != 0)
        rc = fw_fail(err, FW_EIO, "%s: cannot read the header: %s", path, strerror(errno));
    else
        rc = parse_header(st, json, (size_t)n, err);
    free(json);
    if (rc < 0)
        fw_safetensors_close(st);
    return rc;
}

void fw_safetensors_close(fw_safetensors *st)
{
    if (!st)
        return;
    if (st->fd >= 0)
        close(st->fd);
    for (long i = 0; i < st->n; i++)
        free(st->tensors[i].name);
    free(st->tensors);
    memset(st, 0, sizeof *st);
    st->fd = -1;
}

const fw_st_tensor *fw_safetensors_find(const fw_safetensors *st, const char *name)
{
    for (long i = 0; i < st->n; i++)
        if (strcmp(st->tensors[i].name, name) == 0)
            return &st->tensors[i];
    return NULL;
}

int fw_safetensors_read_f32(const fw_safetensors *st, const fw_st_tensor *t, float *out,
                            fw_error *err)
{
    char safe_name[128];
    fw_sanitize(t->name, safe_name, sizeof safe_name);
    int size = dtype_size(t->dtype);
    switch (t->dtype) {
    case FW_ST_F32: case FW_ST_F16: case FW_ST_BF16: case FW_ST_F64: case FW_ST_I64:
    case FW_ST_I32:
        break;
    default:
        return fw_fail(err, FW_EUNSUPPORTED, "%s: tensor '%s' is %s, not a float type", st->path,
                       safe_name, fw_safetensors_dtype_name(t->dtype));
    }
    if (t->numel == 0)
        return 0;
    size_t bytes = (size_t)t->numel * (size_t)size;
    void *raw = t->dtype == FW_ST_F32 ? (void *)out : malloc(bytes);
    if (!raw)
        return fw_fail(err, FW_ENOMEM, "%s: no memory for tensor '%s'", st->path, safe_name);
    if (fw_pread_all(st->fd, raw, bytes, st->data_start + t->begin) != 0) {
        if (raw != out)
            free(raw);
        return fw_fail(err, FW_EIO, "%s: cannot read tensor '%s'", st->path, safe_name);
    }
    for (uint64_t i = 0; i < t->numel && raw != out; i++) {
        const unsigned char *p = (const unsigned char *)raw + i * (uint64_t)size;
        uint16_t u16;
        int32_t i32;
        int64_t i64;
        double f64;
        switch (t->dtype) {
        case FW_ST_F16:
            memcpy(&u16, p, 2);
            out[i] = fw_f16_to_f32(u16);
            break;
        case FW_ST_BF16:
            memcpy(&u16, p, 2);
            out[i] = fw_bf16_to_f32(u16);
            break;
        case FW_ST_F64:
            memcpy(&f64, p, 8);
            out[i] = (float)f64;
            break;
        case FW_ST_I64:
            memcpy(&i64, p, 8);
            out[i] = (float)i64;
            break;
        default:
            memcpy(&i32, p, 4);
            out[i] = (float)i32;
            break;
        }
    }
    if (raw != out)
        free(raw);
    return 0;
}

/* ---- loading into params --------------------------------------------------------- */

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* What to do with param i. */
typedef struct plan {
    const fw_st_tensor *t; /* NULL: leave the param alone */
    int sum_rgb;           /* conv1 (O,3,KH,KW) -> (O,1,KH,KW) */
} plan;

static int same_shape(const fw_param *p, const fw_st_tensor *t)
{
    if (p->ndim != t->ndim)
        return 0;
    for (int d = 0; d < p->ndim; d++)
        if (p->shape[d] != t->shape[d])
            return 0;
    return 1;
}

static int rgb_to_gray_ok(const char *key, const fw_param *p, const fw_st_tensor *t)
{
    return strcmp(key, "conv1.weight") == 0 && p->ndim == 4 && t->ndim == 4 &&
           p->shape[1] == 1 && t->shape[1] == 3 && p->shape[0] == t->shape[0] &&
           p->shape[2] == t->shape[2] && p->shape[3] == t->shape[3];
}

static int make_plan(const fw_safetensors *st, fw_param_list *list, const fw_pretrained_opts *o,
                     plan *plans, char *used, fw_pretrained_report *r, fw_error *err)
{
    const char *prefix = o && o->prefix ? o->prefix : "";
    size_t plen = strlen(prefix);
    for (int i = 0; i < list->n; i++) {
        const fw_param *p = list->items[i];
        if (strncmp(p->name, prefix, plen) != 0) {
            r->n_not_looked_up++;
            continue;
        }
        const char *key = p->name + plen;
        const fw_st_tensor *t = strncmp(key, "fc.", 3) == 0 ? NULL : fw_safetensors_find(st, key);
        if (!t) {
            if (ends_with(key, ".num_batches_tracked")) {
                r->n_counters_kept++;
                continue;
            }
            if (r->n_missing++ == 0)
                snprintf(r->first_missing, sizeof r->first_missing, "%s", p->name);
            continue;
        }
        plans[i].t = t;
        used[t - st->tensors] = 1;
        if (same_shape(p, t))
            continue;
        if (rgb_to_gray_ok(key, p, t)) {
            plans[i].sum_rgb = 1;
            r->conv1_summed = 1;
            continue;
        }
        char want[128], have[128];
        fw_format_shape(want, sizeof want, p->ndim, p->shape);
        fw_format_shape(have, sizeof have, t->ndim, t->shape);
        return fw_fail(err, FW_EFORMAT, "%s: tensor '%s' has shape %s in the file, the model's "
                                        "'%s' has %s",
                       st->path, key, have, p->name, want);
    }
    if (r->n_missing && !(o && o->allow_missing))
        return fw_fail(err, FW_ENOTFOUND,
                       "%s: the model's '%s' is not in the file (%d param(s) missing)", st->path,
                       r->first_missing, r->n_missing);
    for (long k = 0; k < st->n; k++) {
        if (strncmp(st->tensors[k].name, "fc.", 3) == 0) {
            r->n_classifier++;
        } else if (!used[k] && r->n_unused++ == 0) {
            fw_sanitize(st->tensors[k].name, r->first_unused, sizeof r->first_unused);
        }
    }
    return 0;
}

int fw_safetensors_load_params(const char *path, fw_param_list *list,
                               const fw_pretrained_opts *opts, fw_pretrained_report *report,
                               fw_error *err)
{
    fw_pretrained_report local;
    fw_pretrained_report *r = report ? report : &local;
    memset(r, 0, sizeof *r);
    if (!list)
        return fw_fail(err, FW_EINVAL, "safetensors load: no param list");
    fw_safetensors st;
    FW_TRY(fw_safetensors_open(path, &st, err));
    plan *plans = calloc((size_t)list->n + 1, sizeof *plans);
    char *used = calloc((size_t)st.n + 1, 1);
    float **staged = calloc((size_t)list->n + 1, sizeof *staged);
    int rc = 0;
    if (!plans || !used || !staged)
        rc = fw_fail(err, FW_ENOMEM, "%s: no memory", path);
    if (rc == 0)
        rc = make_plan(&st, list, opts, plans, used, r, err);
    /* Read and convert everything first; write the params only when all of it read. */
    for (int i = 0; i < list->n && rc == 0; i++) {
        const fw_st_tensor *t = plans[i].t;
        if (!t)
            continue;
        staged[i] = malloc((size_t)t->numel * sizeof(float) + 1);
        if (!staged[i]) {
            rc = fw_fail(err, FW_ENOMEM, "%s: no memory for '%s'", path, t->name);
            break;
        }
        rc = fw_safetensors_read_f32(&st, t, staged[i], err);
    }
    for (int i = 0; i < list->n && rc == 0; i++) {
        fw_param *p = list->items[i];
        if (!plans[i].t)
            continue;
        if (!plans[i].sum_rgb) {
            memcpy(p->data, staged[i], (size_t)p->numel * sizeof(float));
        } else {
            const float *w = staged[i]; /* (O, 3, KH, KW) */
            int64_t o_n = p->shape[0], hw = p->shape[2] * p->shape[3];
            for (int64_t o = 0; o < o_n; o++)
                for (int64_t k = 0; k < hw; k++) {
                    const float *src = w + o * 3 * hw + k;
                    p->data[o * hw + k] = (src[0] + src[hw]) + src[2 * hw];
                }
        }
        r->n_loaded++;
    }
    if (staged)
        for (int i = 0; i < list->n; i++)
            free(staged[i]);
    free(staged);
    free(plans);
    free(used);
    fw_safetensors_close(&st);
    return rc;
}
