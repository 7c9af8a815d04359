/* disk_cache.c — reading and atomically writing the image cache file (format
 * in disk_cache.h), its content key, and the XXH64 hash both use. */
#include "disk_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../src/fileio.h"
#define HEADER_BYTES 88
static const char magic[8] = {'F', 'W', 'I', 'M', 'G', 'C', 'A', 'C'};

/* ---- XXH64 (Yann Collet's xxHash, 64-bit variant) --------------------------- */

#define P1 0x9E3779B185EBCA87ULL
#define P2 0xC2B2AE3D27D4EB4FULL
#define P3 0x165667B19E3779F9ULL
#define P4 0x85EBCA77C2B2AE63ULL
#define P5 0x27D4EB2F165667C5ULL

static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int k = 7; k >= 0; k--)
        v = v << 8 | p[k];
    return v;
}

static inline uint32_t load32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t xxh_round(uint64_t acc, uint64_t input)
{
    acc += input * P2;
    acc = rotl64(acc, 31);
    return acc * P1;
}

static inline uint64_t xxh_merge(uint64_t acc, uint64_t v)
{
    acc ^= xxh_round(0, v);
    return acc * P1 + P4;
}

uint64_t fw_hash64(const void *data, size_t len, uint64_t seed)
{
    const uint8_t *p = data, *end = p + len;
    uint64_t h;
    if (len >= 32) {
        uint64_t v1 = seed + P1 + P2, v2 = seed + P2, v3 = seed, v4 = seed - P1;
        const uint8_t *limit = end - 32;
        do {
            v1 = xxh_round(v1, load64(p));
            v2 = xxh_round(v2, load64(p + 8));
            v3 = xxh_round(v3, load64(p + 16));
            v4 = xxh_round(v4, load64(p + 24));
            p += 32;
        } while (p <= limit);
        h = rotl64(v1, 1) + rotl64(v2, 7) + rotl64(v3, 12) + rotl64(v4, 18);
        h = xxh_merge(h, v1);
        h = xxh_merge(h, v2);
        h = xxh_merge(h, v3);
        h = xxh_merge(h, v4);
    } else {
        h = seed + P5;
    }
    h += (uint64_t)len;
    while (p + 8 <= end) {
        h ^= xxh_round(0, load64(p));
        h = rotl64(h, 27) * P1 + P4;
        p += 8;
    }
    if (p + 4 <= end) {
        h ^= (uint64_t)load32(p) * P1;
        h = rotl64(h, 23) * P2 + P3;
        p += 4;
    }
    while (p < end) {
        h ^= (uint64_t)(*p) * P5;
        h = rotl64(h, 11) * P1;
        p++;
    }
    h ^= h >> 33;
    h *= P2;
    h ^= h >> 29;
    h *= P3;
    h ^= h >> 32;
    return h;
}

/* ---- little-endian fields --------------------------------------------------- */

static void put32(uint8_t *p, uint32_t v)
{
    for (int k = 0; k < 4; k++)
        p[k] = (uint8_t)(v >> (8 * k));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int k = 0; k < 8; k++)
        p[k] = (uint8_t)(v >> (8 * k));
}

/* ---- key ---------------------------------------------------------------------- */

uint64_t fw_disk_cache_key(const char *const *paths, const fw_bbox *boxes, long n, int width,
                           int height, int channels)
{
    uint8_t head[28];
    memcpy(head, magic, 8);
    put32(head + 8, FW_DISK_CACHE_VERSION);
    put32(head + 12, (uint32_t)width);
    put32(head + 16, (uint32_t)height);
    put32(head + 20, (uint32_t)channels);
    put32(head + 24, (uint32_t)(boxes != NULL));
    uint64_t h = fw_hash64(head, sizeof head, (uint64_t)n);
    for (long i = 0; i < n; i++) {
        uint8_t rec[48] = {0}; /* size, mtime s, mtime ns, box valid + 4 floats */
        struct stat st;
        if (stat(paths[i], &st) == 0) {
            put64(rec, (uint64_t)st.st_size);
            put64(rec + 8, (uint64_t)st.st_mtim.tv_sec);
            put64(rec + 16, (uint64_t)st.st_mtim.tv_nsec);
        } else {
            put64(rec, UINT64_MAX); /* missing: a distinct value */
        }
        if (boxes && boxes[i].valid) {
            const float f[4] = {boxes[i].x0, boxes[i].y0, boxes[i].x1, boxes[i].y1};
            put32(rec + 24, 1);
            for (int k = 0; k < 4; k++) {
                uint32_t bits;
                memcpy(&bits, &f[k], 4);
                put32(rec + 28 + 4 * k, bits);
            }
        }
        h = fw_hash64(paths[i], strlen(paths[i]) + 1, h);
        h = fw_hash64(rec, sizeof rec, h);
    }
    return h;
}

int fw_disk_cache_path(const char *dir, uint64_t key, char *buf, size_t bufsz, fw_error *err)
{
    int len = snprintf(buf, bufsz, "%s/fwcache-%016llx.bin", dir, (unsigned long long)key);
    if (len < 0 || (size_t)len >= bufsz)
        return fw_fail(err, FW_ETOOBIG, "%s: cache directory path too long", dir);
    return FW_OK;
}

/* ---- sections ------------------------------------------------------------------ */

static size_t pixel_bytes(const fw_image_cache *c)
{
    return (size_t)c->n * (size_t)c->height * (size_t)c->width * (size_t)c->channels;
}

/* The failure section serialised into a malloc'ed buffer. */
static int pack_failures(const fw_image_cache *c, uint8_t **out, size_t *len, fw_error *err)
{
    size_t total = 0;
    for (long k = 0; k < c->n_failed; k++)
        total += 16 + strlen(c->failures[k].reason);
    uint8_t *buf = malloc(total ? total : 1), *p = buf;
    if (!buf)
        return fw_fail(err, FW_ENOMEM, "cache: cannot allocate %zu bytes", total);
    for (long k = 0; k < c->n_failed; k++) {
        size_t rl = strlen(c->failures[k].reason);
        put64(p, (uint64_t)(int64_t)c->failures[k].index);
        put32(p + 8, (uint32_t)c->failures[k].code);
        put32(p + 12, (uint32_t)rl);
        memcpy(p + 16, c->failures[k].reason, rl);
        p += 16 + rl;
    }
    *out = buf;
    *len = total;
    return FW_OK;
}

static uint64_t payload_hash(const uint8_t *ok, long n, const uint8_t *fail, size_t fail_len,
                             const uint8_t *pixels, size_t npix)
{
    uint64_t h = fw_hash64(ok, (size_t)n, 0);
    h = fw_hash64(fail, fail_len, h);
    return fw_hash64(pixels, npix, h);
}

/* ---- load -------------------------------------------------------------------- */


static int parse_failures(fw_image_cache *c, const uint8_t *buf, size_t len, const char *path,
                          fw_error *err)
{
    c->failures = calloc(c->n_failed ? (size_t)c->n_failed : 1, sizeof *c->failures);
    if (!c->failures)
        return fw_fail(err, FW_ENOMEM, "%s: cannot allocate failure list", path);
    size_t off = 0;
    long prev = -1;
    for (long k = 0; k < c->n_failed; k++) {
        if (off + 16 > len)
            return fw_fail(err, FW_ECORRUPT, "%s: failure list is cut short", path);
        int64_t index = (int64_t)load64(buf + off);
        int32_t code = (int32_t)load32(buf + off + 8);
        uint32_t rl = load32(buf + off + 12);
        off += 16;
        if (index <= prev || index >= c->n || c->ok[index] != 0 || code >= 0 || rl > len - off)
            return fw_fail(err, FW_ECORRUPT, "%s: failure entry %ld is inconsistent", path, k);
        c->failures[k].reason = malloc((size_t)rl + 1);
        if (!c->failures[k].reason)
            return fw_fail(err, FW_ENOMEM, "%s: cannot allocate a failure reason", path);
        memcpy(c->failures[k].reason, buf + off, rl);
        c->failures[k].reason[rl] = '\0';
        c->failures[k].index = (long)index;
        c->failures[k].code = code;
        off += rl;
        prev = (long)index;
    }
    if (off != len)
        return fw_fail(err, FW_ECORRUPT, "%s: failure list has trailing bytes", path);
    return FW_OK;
}

static void drop_failures(fw_image_cache *c)
{
    if (c->failures)
        for (long k = 0; k < c->n_failed; k++)
            free(c->failures[k].reason);
    free(c->failures);
    c->failures = NULL;
    c->n_failed = 0;
}

static int load_body(int fd, const char *path, uint64_t key, fw_image_cache *c, fw_error *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return fw_fail(err, FW_EIO, "%s: cannot stat: %s", path, strerror(errno));
    uint8_t h[HEADER_BYTES];
    if ((uint64_t)st.st_size < HEADER_BYTES || fw_read_all(fd, h, sizeof h) != 0)
        return fw_fail(err, FW_ECORRUPT, "%s: truncated header (%lld bytes)", path,
                       (long long)st.st_size);
    if (memcmp(h, magic, 8) != 0)
        return fw_fail(err, FW_EFORMAT, "%s: not a flukewatch image cache (bad magic)", path);
    if (load32(h + 8) != FW_DISK_CACHE_VERSION || load32(h + 12) != HEADER_BYTES)
        return fw_fail(err, FW_EFORMAT, "%s: cache format version %u, this build uses %u", path,
                       load32(h + 8), FW_DISK_CACHE_VERSION);
    if (load64(h + 80) != fw_hash64(h, 80, 0))
        return fw_fail(err, FW_ECORRUPT, "%s: header checksum mismatch", path);
    uint64_t n = load64(h + 24), n_failed = load64(h + 48), fail_len = load64(h + 56);
    if (load64(h + 16) != key || n != (uint64_t)c->n || load32(h + 32) != (uint32_t)c->width ||
        load32(h + 36) != (uint32_t)c->height || load32(h + 40) != (uint32_t)c->channels)
        return fw_fail(err, FW_EFORMAT, "%s: cache is for other files or another working size",
                       path);
    size_t npix = pixel_bytes(c);
    uint64_t expect = HEADER_BYTES + n + fail_len + (uint64_t)npix;
    if (n_failed > n || fail_len > (uint64_t)st.st_size || (uint64_t)st.st_size != expect)
        return fw_fail(err, FW_ECORRUPT, "%s: file is %lld bytes, the header implies %llu", path,
                       (long long)st.st_size, (unsigned long long)expect);
    uint8_t *fail = malloc(fail_len ? (size_t)fail_len : 1);
    if (!fail)
        return fw_fail(err, FW_ENOMEM, "%s: cannot allocate %llu bytes", path,
                       (unsigned long long)fail_len);
    if (fw_read_all(fd, c->ok, (size_t)n) != 0 || fw_read_all(fd, fail, (size_t)fail_len) != 0 ||
        fw_read_all(fd, c->pixels, npix) != 0) {
        free(fail);
        return fw_fail(err, FW_EIO, "%s: read error: %s", path, strerror(errno));
    }
    int rc = FW_OK;
    long zeros = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (c->ok[i] > 1)
            rc = FW_ECORRUPT;
        zeros += c->ok[i] == 0;
    }
    if (payload_hash(c->ok, c->n, fail, (size_t)fail_len, c->pixels, npix) != load64(h + 64))
        rc = fw_fail(err, FW_ECORRUPT, "%s: content checksum mismatch (damaged file)", path);
    else if (rc < 0 || (uint64_t)zeros != n_failed)
        rc = fw_fail(err, FW_ECORRUPT, "%s: ok flags disagree with the failure count", path);
    if (rc == FW_OK) {
        c->n_failed = (long)n_failed;
        rc = parse_failures(c, fail, (size_t)fail_len, path, err);
        if (rc < 0)
            drop_failures(c);
    }
    free(fail);
    return rc;
}

int fw_disk_cache_load(const char *path, uint64_t key, fw_image_cache *cache, fw_error *err)
{
    cache->failures = NULL;
    cache->n_failed = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fw_fail(err, errno == ENOENT ? FW_ENOTFOUND : FW_EIO, "%s: cannot open: %s", path,
                       strerror(errno));
    int rc = load_body(fd, path, key, cache, err);
    close(fd);
    return rc;
}

/* ---- save -------------------------------------------------------------------- */


/* mkdir -p for the directory part of `path`. */
static int make_parent_dirs(const char *path, fw_error *err)
{
    char dir[4096];
    size_t len = strlen(path);
    if (len >= sizeof dir)
        return fw_fail(err, FW_ETOOBIG, "%s: path too long", path);
    memcpy(dir, path, len + 1);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return FW_OK;
    *slash = '\0';
    return fw_mkdirs(dir, err);
}


int fw_disk_cache_save(const char *path, uint64_t key, const fw_image_cache *c, fw_error *err)
{
    FW_TRY(make_parent_dirs(path, err));
    uint8_t *fail = NULL;
    size_t fail_len = 0;
    FW_TRY(pack_failures(c, &fail, &fail_len, err));
    size_t npix = pixel_bytes(c);

    uint8_t h[HEADER_BYTES] = {0};
    memcpy(h, magic, 8);
    put32(h + 8, FW_DISK_CACHE_VERSION);
    put32(h + 12, HEADER_BYTES);
    put64(h + 16, key);
    put64(h + 24, (uint64_t)c->n);
    put32(h + 32, (uint32_t)c->width);
    put32(h + 36, (uint32_t)c->height);
    put32(h + 40, (uint32_t)c->channels);
    put64(h + 48, (uint64_t)c->n_failed);
    put64(h + 56, (uint64_t)fail_len);
    put64(h + 64, payload_hash(c->ok, c->n, fail, fail_len, c->pixels, npix));
    put64(h + 80, fw_hash64(h, 80, 0));

    char tmp[4200];
    int tl = snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", path);
    if (tl < 0 || (size_t)tl >= sizeof tmp) {
        free(fail);
        return fw_fail(err, FW_ETOOBIG, "%s: path too long", path);
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        free(fail);
        return fw_fail(err, FW_EIO, "%s: cannot create a temporary file: %s", tmp,
                       strerror(errno));
    }
    int rc = FW_OK;
    if (fw_write_all(fd, h, sizeof h) != 0 || fw_write_all(fd, c->ok, (size_t)c->n) != 0 ||
        fw_write_all(fd, fail, fail_len) != 0 || fw_write_all(fd, c->pixels, npix) != 0)
        rc = fw_fail(err, FW_EIO, "%s: write failed: %s", tmp, strerror(errno));
    else if (fsync(fd) != 0)
        rc = fw_fail(err, FW_EIO, "%s: fsync failed: %s", tmp, strerror(errno));
    free(fail);
    if (close(fd) != 0 && rc == FW_OK)
        rc = fw_fail(err, FW_EIO, "%s: close failed: %s", tmp, strerror(errno));
    if (rc == FW_OK && rename(tmp, path) != 0)
        rc = fw_fail(err, FW_EIO, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
    if (rc < 0) {
        unlink(tmp);
        return rc;
    }
    return fw_fsync_parent_dir(path, err);
}
