/* checkpoint.c — writing a checkpoint atomically and reading it back only
 * after every hash, size and offset checks out (format in checkpoint.h). */
#include "checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk_cache.h" /* fw_hash64 (XXH64) */
#include "fileio.h"
#include "param_list.h"

/* ---- little-endian fields ---------------------------------------------------- */

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static uint64_t align_up(uint64_t v)
{
    return (v + FW_CKPT_ALIGN - 1) / FW_CKPT_ALIGN * FW_CKPT_ALIGN;
}

/* ---- the entries to write -------------------------------------------------------- */

typedef struct out_entry {
    char name[FW_CKPT_NAME_MAX];
    int kind, section, dtype, ndim;
    int64_t shape[FW_PARAM_MAX_DIMS];
    const void *data;
    uint64_t length, offset, hash;
} out_entry;

static int add_tensors(out_entry *out, long *n, const fw_param_list *list, int section,
                       fw_error *err)
{
    if (!list)
        return 0;
    for (int i = 0; i < list->n; i++) {
        const fw_param *p = list->items[i];
        out_entry *e = &out[(*n)++];
        size_t len = strnlen(p->name, sizeof p->name);
        if (len == 0 || len >= sizeof p->name || len >= FW_CKPT_NAME_MAX)
            return fw_fail(err, FW_EINVAL, "tensor %d of section %d has no valid name", i,
                           section);
        if (p->ndim < 0 || p->ndim > FW_PARAM_MAX_DIMS)
            return fw_fail(err, FW_EINVAL, "tensor '%s': %d dimensions", p->name, p->ndim);
        int64_t numel = 1;
        for (int d = 0; d < p->ndim; d++) {
            if (p->shape[d] < 0 || (p->shape[d] && numel > INT64_MAX / 4 / p->shape[d]))
                return fw_fail(err, FW_EINVAL, "tensor '%s': bad shape", p->name);
            numel *= p->shape[d];
        }
        if (numel != p->numel || (numel > 0 && !p->data))
            return fw_fail(err, FW_EINVAL, "tensor '%s': numel %lld does not match its shape",
                           p->name, (long long)p->numel);
        memcpy(e->name, p->name, len + 1);
        e->kind = FW_CKPT_KIND_TENSOR;
        e->section = section;
        e->dtype = FW_CKPT_F32;
        e->ndim = p->ndim;
        for (int d = 0; d < FW_PARAM_MAX_DIMS; d++)
            e->shape[d] = d < p->ndim ? p->shape[d] : 0;
        e->data = p->data ? (const void *)p->data : "";
        e->length = (uint64_t)numel * 4;
    }
    return 0;
}

static void add_blob(out_entry *out, long *n, const char *name, const void *data, size_t len)
{
    out_entry *e = &out[(*n)++];
    snprintf(e->name, sizeof e->name, "%s", name);
    e->kind = FW_CKPT_KIND_BLOB;
    e->section = FW_CKPT_SECTION_META;
    e->dtype = FW_CKPT_U8;
    e->ndim = 1;
    e->shape[0] = (int64_t)len;
    e->data = data;
    e->length = len;
}

static void encode_meta(unsigned char out[64], const fw_ckpt_meta *m)
{
    memset(out, 0, 64);
    put_u64(out, m->step);
    put_u64(out + 8, (uint64_t)m->epoch);
    put_u64(out + 16, (uint64_t)m->sampler_epoch);
    put_u64(out + 24, (uint64_t)m->sampler_batch);
    uint64_t bits;
    memcpy(&bits, &m->best_metric, 8);
    put_u64(out + 32, bits);
    put_u64(out + 40, (uint64_t)m->best_step);
    put_u32(out + 48, m->has_best ? 1u : 0u);
}

static void decode_meta(const unsigned char in[64], fw_ckpt_meta *m)
{
    m->step = get_u64(in);
    m->epoch = (int64_t)get_u64(in + 8);
    m->sampler_epoch = (int64_t)get_u64(in + 16);
    m->sampler_batch = (int64_t)get_u64(in + 24);
    uint64_t bits = get_u64(in + 32);
    memcpy(&m->best_metric, &bits, 8);
    m->best_step = (int64_t)get_u64(in + 40);
    m->has_best = get_u32(in + 48) != 0;
}

/* ---- writing ----------------------------------------------------------------------- */

static int write_file_body(int fd, const out_entry *entries, long n, uint64_t data_offset,
                           uint64_t file_size, const char *tmp, fw_error *err)
{
    uint64_t table_size = (uint64_t)n * FW_CKPT_ENTRY_SIZE;
    unsigned char *table = calloc((size_t)table_size + 1, 1);
    if (!table)
        return fw_fail(err, FW_ENOMEM, "%s: no memory for the table", tmp);
    for (long i = 0; i < n; i++) {
        const out_entry *e = &entries[i];
        unsigned char *t = table + (size_t)i * FW_CKPT_ENTRY_SIZE;
        memcpy(t, e->name, strlen(e->name));
        put_u32(t + 160, (uint32_t)e->kind);
        put_u32(t + 164, (uint32_t)e->section);
        put_u32(t + 168, (uint32_t)e->dtype);
        put_u32(t + 172, (uint32_t)e->ndim);
        for (int d = 0; d < FW_PARAM_MAX_DIMS; d++)
            put_u64(t + 176 + 8 * d, (uint64_t)e->shape[d]);
        put_u64(t + 208, e->offset);
        put_u64(t + 216, e->length);
        put_u64(t + 224, e->hash);
    }
    unsigned char header[FW_CKPT_HEADER_SIZE] = {0};
    memcpy(header, FW_CKPT_MAGIC, 8);
    put_u32(header + 8, FW_CKPT_VERSION);
    put_u32(header + 12, FW_CKPT_HEADER_SIZE);
    put_u64(header + 16, (uint64_t)n);
    put_u64(header + 24, FW_CKPT_HEADER_SIZE);
    put_u64(header + 32, table_size);
    put_u64(header + 40, data_offset);
    put_u64(header + 48, file_size);
    put_u64(header + 56, fw_hash64(table, (size_t)table_size, 0));
    put_u64(header + 72, fw_hash64(header, 72, 0));

    static const unsigned char zeros[FW_CKPT_ALIGN];
    int rc = 0;
    uint64_t pos = FW_CKPT_HEADER_SIZE + table_size;
    if (fw_write_all(fd, header, sizeof header) || fw_write_all(fd, table, (size_t)table_size))
        rc = -1;
    for (long i = 0; i < n && rc == 0; i++) {
        if (fw_write_all(fd, zeros, (size_t)(entries[i].offset - pos)) ||
            fw_write_all(fd, entries[i].data, (size_t)entries[i].length))
            rc = -1;
        pos = entries[i].offset + entries[i].length;
    }
    free(table);
    if (rc != 0)
        return fw_fail(err, FW_EIO, "%s: write failed: %s", tmp, strerror(errno));
    return 0;
}

int fw_ckpt_save(const char *path, const fw_ckpt_content *c, fw_error *err)
{
    if (!path || !c)
        return fw_fail(err, FW_EINVAL, "checkpoint save: no path or content");
    if (c->n_blobs < 0 || (c->n_blobs > 0 && !c->blobs))
        return fw_fail(err, FW_EINVAL, "%s: bad blob list (%d blobs)", path, c->n_blobs);
    for (int i = 0; i < c->n_blobs; i++) {
        const char *name = c->blobs[i].name;
        if (!name || !*name || strlen(name) >= FW_CKPT_NAME_MAX || !strcmp(name, "meta") ||
            !strcmp(name, "rng") || !strcmp(name, "config") ||
            (c->blobs[i].len && !c->blobs[i].data))
            return fw_fail(err, FW_EINVAL, "%s: extra blob %d has a bad or reserved name", path,
                           i);
        for (int j = 0; j < i; j++)
            if (strcmp(name, c->blobs[j].name) == 0)
                return fw_fail(err, FW_EINVAL, "%s: blob '%s' given twice", path, name);
    }
    long cap = 3 + (long)c->n_blobs + (c->model ? c->model->n : 0) +
               (c->optim ? c->optim->n : 0);
    out_entry *entries = calloc((size_t)cap, sizeof *entries);
    if (!entries)
        return fw_fail(err, FW_ENOMEM, "%s: no memory for %ld entries", path, cap);
    long n = 0;
    int rc = add_tensors(entries, &n, c->model, FW_CKPT_SECTION_MODEL, err);
    if (rc == 0)
        rc = add_tensors(entries, &n, c->optim, FW_CKPT_SECTION_OPTIM, err);
    if (rc < 0) {
        free(entries);
        return fw_error_prefix(err, "%s: ", path);
    }
    unsigned char meta[64];
    encode_meta(meta, &c->meta);
    add_blob(entries, &n, "meta", meta, sizeof meta);
    add_blob(entries, &n, "rng", c->rng_len ? c->rng : "", c->rng_len);
    add_blob(entries, &n, "config", c->config ? c->config : "",
             c->config ? strlen(c->config) : 0);
    for (int i = 0; i < c->n_blobs; i++)
        add_blob(entries, &n, c->blobs[i].name, c->blobs[i].len ? c->blobs[i].data : "",
                 c->blobs[i].len);

    /* Layout and hashes. */
    uint64_t table_size = (uint64_t)n * FW_CKPT_ENTRY_SIZE;
    uint64_t data_offset = align_up(FW_CKPT_HEADER_SIZE + table_size);
    uint64_t pos = data_offset;
    for (long i = 0; i < n; i++) {
        entries[i].offset = align_up(pos);
        entries[i].hash = fw_hash64(entries[i].data, (size_t)entries[i].length, 0);
        pos = entries[i].offset + entries[i].length;
    }
    uint64_t file_size = pos;

    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", path) >= (int)sizeof tmp) {
        free(entries);
        return fw_fail(err, FW_ETOOBIG, "%s: path too long", path);
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        free(entries);
        return fw_fail(err, FW_EIO, "%s: cannot create a temp file: %s", tmp,
                       strerror(errno));
    }
    fchmod(fd, 0644); /* mkstemp makes 0600; a checkpoint is an ordinary file */
    rc = write_file_body(fd, entries, n, data_offset, file_size, tmp, err);
    free(entries);
    if (rc == 0 && fsync(fd) != 0)
        rc = fw_fail(err, FW_EIO, "%s: fsync failed: %s", tmp, strerror(errno));
    if (close(fd) != 0 && rc == 0)
        rc = fw_fail(err, FW_EIO, "%s: close failed: %s", tmp, strerror(errno));
    if (rc == 0 && rename(tmp, path) != 0)
        rc = fw_fail(err, FW_EIO, "%s: rename to %s failed: %s", tmp, path, strerror(errno));
    if (rc < 0) {
        unlink(tmp);
        return rc;
    }
    return fw_fsync_parent_dir(path, err);
}

/* ---- reading ------------------------------------------------------------------------ */

static int parse_entry(const unsigned char *t, long i, uint64_t data_offset, uint64_t file_size,
                       uint64_t *min_offset, fw_ckpt_entry *e, const unsigned char *bytes,
                       const char *path, fw_error *err)
{
    memcpy(e->name, t, FW_CKPT_NAME_MAX);
    size_t len = strnlen(e->name, FW_CKPT_NAME_MAX);
    if (len == 0 || len == FW_CKPT_NAME_MAX)
        return fw_fail(err, FW_EFORMAT, "%s: entry %ld has no valid name", path, i);
    for (size_t k = len; k < FW_CKPT_NAME_MAX; k++)
        if (t[k] != 0)
            return fw_fail(err, FW_EFORMAT, "%s: entry %ld: name not NUL-padded", path, i);
    e->kind = (int)get_u32(t + 160);
    e->section = (int)get_u32(t + 164);
    e->dtype = (int)get_u32(t + 168);
    uint32_t ndim = get_u32(t + 172);
    e->offset = get_u64(t + 208);
    e->length = get_u64(t + 216);
    uint64_t hash = get_u64(t + 224);
    for (int k = 232; k < FW_CKPT_ENTRY_SIZE; k++)
        if (t[k] != 0)
            return fw_fail(err, FW_EFORMAT, "%s: entry '%s': reserved bytes not zero", path,
                           e->name);
    int tensor = e->kind == FW_CKPT_KIND_TENSOR;
    if (!(tensor || e->kind == FW_CKPT_KIND_BLOB) ||
        e->section < FW_CKPT_SECTION_MODEL || e->section > FW_CKPT_SECTION_META ||
        e->dtype != (tensor ? FW_CKPT_F32 : FW_CKPT_U8) || ndim > FW_PARAM_MAX_DIMS ||
        (!tensor && ndim != 1) || (tensor == (e->section == FW_CKPT_SECTION_META)))
        return fw_fail(err, FW_EFORMAT,
                       "%s: entry '%s': bad kind %d / section %d / dtype %d / ndim %u", path,
                       e->name, e->kind, e->section, e->dtype, ndim);
    e->ndim = (int)ndim;
    uint64_t numel = 1;
    for (int d = 0; d < FW_PARAM_MAX_DIMS; d++) {
        e->shape[d] = (int64_t)get_u64(t + 176 + 8 * d);
        if (d >= e->ndim) {
            if (e->shape[d] != 0)
                return fw_fail(err, FW_EFORMAT, "%s: entry '%s': unused dim %d not 0", path,
                               e->name, d);
            continue;
        }
        if (e->shape[d] < 0 || (e->shape[d] > 0 && numel > (UINT64_MAX / 8) / (uint64_t)e->shape[d]))
            return fw_fail(err, FW_EFORMAT, "%s: entry '%s': bad dim %d (%lld)", path, e->name,
                           d, (long long)e->shape[d]);
        numel *= (uint64_t)e->shape[d];
    }
    if (e->length != numel * (tensor ? 4u : 1u))
        return fw_fail(err, FW_EFORMAT, "%s: entry '%s': length %llu does not match its shape",
                       path, e->name, (unsigned long long)e->length);
    if (e->offset % FW_CKPT_ALIGN != 0 || e->offset < *min_offset || e->offset < data_offset ||
        e->offset > file_size || e->length > file_size - e->offset)
        return fw_fail(err, FW_EFORMAT,
                       "%s: entry '%s': offset %llu + length %llu outside the data (file %llu)",
                       path, e->name, (unsigned long long)e->offset,
                       (unsigned long long)e->length, (unsigned long long)file_size);
    /* Zero padding between the previous entry and this one. */
    for (uint64_t k = *min_offset; k < e->offset; k++)
        if (bytes[k] != 0)
            return fw_fail(err, FW_ECORRUPT, "%s: padding byte %llu not zero (damaged file)",
                           path, (unsigned long long)k);
    *min_offset = e->offset + e->length;
    e->data = bytes + e->offset;
    if (fw_hash64(e->data, (size_t)e->length, 0) != hash)
        return fw_fail(err, FW_ECORRUPT, "%s: entry '%s': checksum mismatch (damaged file)",
                       path, e->name);
    return 0;
}

static int verify(fw_ckpt *ck, const char *path, fw_error *err)
{
    const unsigned char *b = ck->bytes;
    if (ck->size < 8)
        return fw_fail(err, FW_ECORRUPT, "%s: %zu bytes, too short for a checkpoint (torn file?)",
                       path, ck->size);
    if (memcmp(b, FW_CKPT_MAGIC, 8) != 0)
        return fw_fail(err, FW_EFORMAT, "%s: not a flukewatch checkpoint (bad magic)", path);
    if (ck->size < FW_CKPT_HEADER_SIZE)
        return fw_fail(err, FW_ECORRUPT,
                       "%s: %zu bytes, shorter than a checkpoint header (torn file?)", path,
                       ck->size);
    uint32_t version = get_u32(b + 8);
    if (version != FW_CKPT_VERSION)
        return fw_fail(err, FW_EUNSUPPORTED,
                       "%s: checkpoint format version %u, this flukewatch reads version %u",
                       path, version, FW_CKPT_VERSION);
    if (fw_hash64(b, 72, 0) != get_u64(b + 72))
        return fw_fail(err, FW_ECORRUPT, "%s: header checksum mismatch (damaged file)", path);
    uint64_t n = get_u64(b + 16), table_off = get_u64(b + 24), table_size = get_u64(b + 32);
    uint64_t data_offset = get_u64(b + 40), file_size = get_u64(b + 48);
    if (get_u32(b + 12) != FW_CKPT_HEADER_SIZE || table_off != FW_CKPT_HEADER_SIZE ||
        n < 3 || n > FW_CKPT_MAX_ENTRIES || table_size != n * FW_CKPT_ENTRY_SIZE ||
        data_offset != align_up(FW_CKPT_HEADER_SIZE + table_size) || get_u64(b + 64) != 0)
        return fw_fail(err, FW_EFORMAT, "%s: inconsistent header (%llu entries)", path,
                       (unsigned long long)n);
    if (file_size != ck->size)
        return fw_fail(err, FW_ECORRUPT,
                       "%s: file has %zu bytes, its header says %llu (torn or truncated file)",
                       path, ck->size, (unsigned long long)file_size);
    if (data_offset > file_size)
        return fw_fail(err, FW_EFORMAT, "%s: table beyond the end of the file", path);
    if (fw_hash64(b + table_off, (size_t)table_size, 0) != get_u64(b + 56))
        return fw_fail(err, FW_ECORRUPT, "%s: table checksum mismatch (damaged file)", path);

    ck->entries = calloc((size_t)n, sizeof *ck->entries);
    if (!ck->entries)
        return fw_fail(err, FW_ENOMEM, "%s: no memory for %llu entries", path,
                       (unsigned long long)n);
    ck->n_entries = (long)n;
    uint64_t min_offset = FW_CKPT_HEADER_SIZE + table_size;
    for (long i = 0; i < (long)n; i++)
        FW_TRY(parse_entry(b + table_off + (uint64_t)i * FW_CKPT_ENTRY_SIZE, i, data_offset,
                           file_size, &min_offset, &ck->entries[i], b, path, err));
    if (min_offset != file_size)
        return fw_fail(err, FW_EFORMAT, "%s: %llu trailing bytes after the last entry", path,
                       (unsigned long long)(file_size - min_offset));
    /* Duplicate names within a section (quadratic; a model has a few hundred). */
    for (long i = 0; i < (long)n; i++)
        for (long j = i + 1; j < (long)n; j++)
            if (ck->entries[i].section == ck->entries[j].section &&
                strcmp(ck->entries[i].name, ck->entries[j].name) == 0)
                return fw_fail(err, FW_EFORMAT, "%s: entry '%s' appears twice", path,
                               ck->entries[i].name);

    const fw_ckpt_entry *meta = fw_ckpt_find(ck, FW_CKPT_SECTION_META, "meta");
    const fw_ckpt_entry *rng = fw_ckpt_find(ck, FW_CKPT_SECTION_META, "rng");
    const fw_ckpt_entry *config = fw_ckpt_find(ck, FW_CKPT_SECTION_META, "config");
    if (!meta || meta->length != 64 || !rng || !config)
        return fw_fail(err, FW_EFORMAT, "%s: the meta, rng or config entry is missing", path);
    decode_meta(meta->data, &ck->meta);
    ck->rng = rng->data;
    ck->rng_len = (size_t)rng->length;
    char *text = malloc((size_t)config->length + 1);
    if (!text)
        return fw_fail(err, FW_ENOMEM, "%s: no memory for the config", path);
    memcpy(text, config->data, (size_t)config->length);
    text[config->length] = '\0';
    ck->config = text;
    return 0;
}

int fw_ckpt_open(const char *path, fw_ckpt *ck, fw_error *err)
{
    memset(ck, 0, sizeof *ck);
    if (!path)
        return fw_fail(err, FW_EINVAL, "checkpoint open: no path");
    snprintf(ck->path, sizeof ck->path, "%s", path);
    FW_TRY(fw_read_file(path, SIZE_MAX, &ck->bytes, &ck->size, err));
    int rc = verify(ck, path, err);
    if (rc < 0)
        fw_ckpt_close(ck);
    return rc;
}

void fw_ckpt_close(fw_ckpt *ck)
{
    if (!ck)
        return;
    free(ck->bytes);
    free(ck->entries);
    free((char *)ck->config);
    memset(ck, 0, sizeof *ck);
}

const fw_ckpt_entry *fw_ckpt_find(const fw_ckpt *ck, int section, const char *name)
{
    for (long i = 0; i < ck->n_entries; i++)
        if (ck->entries[i].section == section && strcmp(ck->entries[i].name, name) == 0)
            return &ck->entries[i];
    return NULL;
}

static int list_has(const fw_param_list *list, const char *name)
{
    for (int i = 0; i < list->n; i++)
        if (strcmp(list->items[i]->name, name) == 0)
            return 1;
    return 0;
}

int fw_ckpt_read_params(const fw_ckpt *ck, int section, fw_param_list *list, int flags,
                        int *n_extra, fw_error *err)
{
    static const char *const section_names[] = {"model", "optimizer", "meta"};
    if (section < FW_CKPT_SECTION_MODEL || section > FW_CKPT_SECTION_OPTIM || !list)
        return fw_fail(err, FW_EINVAL, "checkpoint read: bad section %d", section);
    const char *sname = section_names[section];
    /* 1. Every param present with the same shape. */
    for (int i = 0; i < list->n; i++) {
        const fw_param *p = list->items[i];
        const fw_ckpt_entry *e = fw_ckpt_find(ck, section, p->name);
        if (!e || e->kind != FW_CKPT_KIND_TENSOR)
            return fw_fail(err, FW_ENOTFOUND, "%s: %s tensor '%s' is not in the checkpoint",
                           ck->path, sname, p->name);
        int same = e->ndim == p->ndim;
        for (int d = 0; same && d < p->ndim; d++)
            same = e->shape[d] == p->shape[d];
        if (!same) {
            char want[96], have[96];
            fw_format_shape(want, sizeof want, p->ndim, p->shape);
            fw_format_shape(have, sizeof have, e->ndim, e->shape);
            return fw_fail(err, FW_EFORMAT,
                           "%s: %s tensor '%s' has shape %s in the checkpoint, the model "
                           "has %s",
                           ck->path, sname, p->name, have, want);
        }
    }
    /* 2. Tensors of the section that the list does not have. */
    int extra = 0;
    const char *first_extra = NULL;
    for (long i = 0; i < ck->n_entries; i++) {
        const fw_ckpt_entry *e = &ck->entries[i];
        if (e->section == section && !list_has(list, e->name)) {
            if (!first_extra)
                first_extra = e->name;
            extra++;
        }
    }
    if (n_extra)
        *n_extra = extra;
    if (extra && !(flags & FW_CKPT_IGNORE_EXTRA))
        return fw_fail(err, FW_EFORMAT,
                       "%s: %d %s tensor(s) in the checkpoint are not in the list, first '%s'",
                       ck->path, extra, sname, first_extra);
    /* 3. Copy. */
    for (int i = 0; i < list->n; i++) {
        fw_param *p = list->items[i];
        const fw_ckpt_entry *e = fw_ckpt_find(ck, section, p->name);
        if (e->length)
            memcpy(p->data, e->data, (size_t)e->length);
    }
    return 0;
}
