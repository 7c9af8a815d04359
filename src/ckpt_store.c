/* ckpt_store.c — naming, retention and newest-complete lookup of a run's
 * checkpoints (see ckpt_store.h). */
#include "ckpt_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
int fw_ckpt_store_path(const char *dir, uint64_t step, char *buf, size_t bufsz, fw_error *err)
{
    int len = snprintf(buf, bufsz, "%s/ckpt-%08" PRIu64 ".fwc", dir, step);
    if (len < 0 || (size_t)len >= bufsz)
        return fw_fail(err, FW_ETOOBIG, "%s: checkpoint path too long", dir);
    return 0;
}

/* Step of an exact "ckpt-<8 or more digits>.fwc" name, or -1. */
static int parse_name(const char *name, uint64_t *step)
{
    if (strncmp(name, "ckpt-", 5) != 0)
        return -1;
    const char *p = name + 5;
    size_t digits = strspn(p, "0123456789");
    if (digits < 8 || digits > 19 || strcmp(p + digits, ".fwc") != 0)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < digits; i++)
        v = v * 10 + (uint64_t)(p[i] - '0');
    *step = v;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

int fw_ckpt_store_list(const char *dir, uint64_t **steps, long *n, fw_error *err)
{
    *steps = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return fw_fail(err, errno == ENOENT ? FW_ENOTFOUND : FW_EIO, "%s: cannot open: %s",
                       dir, strerror(errno));
    uint64_t *out = NULL;
    long count = 0, cap = 0;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        uint64_t step;
        if (parse_name(de->d_name, &step) != 0)
            continue;
        if (count == cap) {
            cap = cap ? 2 * cap : 16;
            uint64_t *grown = realloc(out, (size_t)cap * sizeof *out);
            if (!grown) {
                free(out);
                closedir(d);
                return fw_fail(err, FW_ENOMEM, "%s: no memory for the listing", dir);
            }
            out = grown;
        }
        out[count++] = step;
        errno = 0;
    }
    int saved = errno;
    closedir(d);
    if (saved != 0) {
        free(out);
        return fw_fail(err, FW_EIO, "%s: cannot list: %s", dir, strerror(saved));
    }
    if (count > 1)
        qsort(out, (size_t)count, sizeof *out, cmp_u64);
    *steps = out;
    *n = count;
    return 0;
}


int fw_ckpt_store_prune(const char *dir, int keep_last, long *n_removed, fw_error *err)
{
    if (n_removed)
        *n_removed = 0;
    if (keep_last < 1)
        return fw_fail(err, FW_EINVAL, "keep_last must be at least 1 (got %d)", keep_last);
    uint64_t *steps;
    long n;
    FW_TRY(fw_ckpt_store_list(dir, &steps, &n, err));
    long removed = 0;
    int rc = 0;
    for (long i = 0; i + keep_last < n; i++) {
        char path[PATH_MAX];
        rc = fw_ckpt_store_path(dir, steps[i], path, sizeof path, err);
        if (rc < 0)
            break;
        if (unlink(path) != 0 && errno != ENOENT) {
            rc = fw_fail(err, FW_EIO, "%s: cannot delete: %s", path, strerror(errno));
            break;
        }
        removed++;
    }
    free(steps);
    if (n_removed)
        *n_removed = removed;
    if (rc == 0 && removed)
        rc = fw_fsync_dir(dir, err);
    return rc;
}

int fw_ckpt_store_clean_temps(const char *dir, long *n_removed, fw_error *err)
{
    if (n_removed)
        *n_removed = 0;
    DIR *d = opendir(dir);
    if (!d)
        return fw_fail(err, errno == ENOENT ? FW_ENOTFOUND : FW_EIO, "%s: cannot open: %s",
                       dir, strerror(errno));
    long removed = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *t = strstr(de->d_name, ".fwc.tmp-");
        if (!t || strlen(t + 9) != 6)
            continue;
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path)
            continue;
        if (unlink(path) != 0 && errno != ENOENT) {
            rc = fw_fail(err, FW_EIO, "%s: cannot delete: %s", path, strerror(errno));
            break;
        }
        removed++;
    }
    closedir(d);
    if (n_removed)
        *n_removed = removed;
    return rc;
}

/* Make best.fwc name the same file as `path`: a hard link under a temp name,
 * renamed over best.fwc. Where hard links are not possible, write a copy. */
static int set_best(const char *dir, const char *path, const fw_ckpt_content *c, fw_error *err)
{
    char best[PATH_MAX], tmp[PATH_MAX];
    if (snprintf(best, sizeof best, "%s/%s", dir, FW_CKPT_BEST_NAME) >= (int)sizeof best ||
        snprintf(tmp, sizeof tmp, "%s.tmp-%06ld", best, (long)(getpid() % 1000000)) >=
            (int)sizeof tmp)
        return fw_fail(err, FW_ETOOBIG, "%s: path too long", dir);
    unlink(tmp);
    if (link(path, tmp) != 0)
        return fw_ckpt_save(best, c, err); /* no hard links here: a full copy */
    if (rename(tmp, best) != 0) {
        int saved = errno;
        unlink(tmp);
        return fw_fail(err, FW_EIO, "%s: rename to %s failed: %s", tmp, best,
                       strerror(saved));
    }
    return fw_fsync_dir(dir, err);
}

int fw_ckpt_store_save(const char *dir, const fw_ckpt_content *c, int is_best, int keep_last,
                       fw_error *err)
{
    if (!dir || !c || keep_last < 1)
        return fw_fail(err, FW_EINVAL, "checkpoint store: bad arguments (keep_last %d)",
                       keep_last);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return fw_fail(err, FW_EIO, "%s: cannot create: %s", dir, strerror(errno));
    char path[PATH_MAX];
    FW_TRY(fw_ckpt_store_path(dir, c->meta.step, path, sizeof path, err));
    FW_TRY(fw_ckpt_save(path, c, err));
    if (is_best)
        FW_TRY(set_best(dir, path, c, err));
    return fw_ckpt_store_prune(dir, keep_last, NULL, err);
}

int fw_ckpt_store_open_best(const char *dir, fw_ckpt *ck, fw_error *err)
{
    char best[PATH_MAX];
    if (snprintf(best, sizeof best, "%s/%s", dir, FW_CKPT_BEST_NAME) >= (int)sizeof best)
        return fw_fail(err, FW_ETOOBIG, "%s: path too long", dir);
    return fw_ckpt_open(best, ck, err);
}

int fw_ckpt_store_open_newest(const char *dir, fw_ckpt *ck, long *n_skipped, fw_error *skip_msg,
                              fw_error *err)
{
    memset(ck, 0, sizeof *ck);
    if (n_skipped)
        *n_skipped = 0;
    if (skip_msg)
        fw_error_clear(skip_msg);
    uint64_t *steps;
    long n;
    FW_TRY(fw_ckpt_store_list(dir, &steps, &n, err));
    long skipped = 0;
    int rc = FW_ENOTFOUND;
    for (long i = n - 1; i >= 0; i--) {
        char path[PATH_MAX];
        fw_error e = {0};
        rc = fw_ckpt_store_path(dir, steps[i], path, sizeof path, &e);
        if (rc == 0)
            rc = fw_ckpt_open(path, ck, &e);
        if (rc == 0)
            break;
        if (rc == FW_ENOMEM) { /* not the file's fault: do not skip it */
            free(steps);
            return fw_fail(err, rc, "%s", e.msg);
        }
        if (skipped++ == 0 && skip_msg)
            *skip_msg = e;
    }
    free(steps);
    if (rc != 0) {
        fw_error e = {0};
        rc = fw_ckpt_store_open_best(dir, ck, &e);
        if (rc != 0 && rc != FW_ENOTFOUND) {
            if (skipped++ == 0 && skip_msg)
                *skip_msg = e;
        }
    }
    if (n_skipped)
        *n_skipped = skipped;
    if (rc != 0)
        return fw_fail(err, FW_ENOTFOUND, "%s: no checkpoint that loads (%ld damaged)", dir,
                       skipped);
    return 0;
}
