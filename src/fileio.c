/* fileio.c — durable-file helpers (see fileio.h). */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK ((size_t)1 << 30)

int fw_write_all(int fd, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len > CHUNK ? CHUNK : len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int fw_read_all(int fd, void *buf, size_t len)
{
    unsigned char *p = buf;
    while (len > 0) {
        errno = 0;
        ssize_t r = read(fd, p, len > CHUNK ? CHUNK : len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

int fw_pread_all(int fd, void *buf, size_t len, uint64_t offset)
{
    unsigned char *p = buf;
    while (len > 0) {
        errno = 0;
        ssize_t r = pread(fd, p, len > CHUNK ? CHUNK : len, (off_t)offset);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        len -= (size_t)r;
        offset += (uint64_t)r;
    }
    return 0;
}

int fw_fsync_dir(const char *dir, fw_error *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return fw_fail(err, FW_EIO, "%s: cannot open directory: %s", dir, strerror(errno));
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    if (rc != 0 && saved != EINVAL) /* EINVAL: the file system cannot sync directories */
        return fw_fail(err, FW_EIO, "%s: fsync of directory failed: %s", dir, strerror(saved));
    return FW_OK;
}

int fw_fsync_parent_dir(const char *path, fw_error *err)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    size_t len = slash ? (size_t)(slash - path) : 0;
    if (slash && len == 0)
        len = 1; /* "/name" */
    if (len >= sizeof dir)
        return fw_fail(err, FW_ETOOBIG, "%s: path too long", path);
    if (len == 0) {
        strcpy(dir, ".");
    } else {
        memcpy(dir, path, len);
        dir[len] = '\0';
    }
    return fw_fsync_dir(dir, err);
}

int fw_mkdirs(const char *dir, fw_error *err)
{
    char buf[4096];
    size_t len = strlen(dir);
    if (len == 0 || len >= sizeof buf)
        return fw_fail(err, FW_EINVAL, "bad directory path '%s'", dir);
    memcpy(buf, dir, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char saved = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return fw_fail(err, FW_EIO, "cannot create directory '%s': %s", buf, strerror(errno));
        struct stat st;
        if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
            return fw_fail(err, FW_EIO, "'%s' exists and is not a directory", buf);
        buf[i] = saved;
    }
    return FW_OK;
}

int fw_read_file(const char *path, size_t max_bytes, uint8_t **buf, size_t *len, fw_error *err)
{
    *buf = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fw_fail(err, errno == ENOENT ? FW_ENOTFOUND : FW_EIO, "%s: cannot open: %s",
                       path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return fw_fail(err, FW_EIO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return fw_fail(err, FW_EIO, "%s: not a regular file", path);
    }
    if (st.st_size < 0 || (uint64_t)st.st_size > (uint64_t)max_bytes) {
        close(fd);
        return fw_fail(err, FW_ETOOBIG, "%s: file of %lld bytes is over the %zu-byte limit",
                       path, (long long)st.st_size, max_bytes);
    }
    size_t size = (size_t)st.st_size;
    uint8_t *data = malloc(size + 1);
    if (!data) {
        close(fd);
        return fw_fail(err, FW_ENOMEM, "%s: cannot allocate %zu bytes", path, size);
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, data + got, size - got);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            free(data);
            close(fd);
            return fw_fail(err, FW_EIO, "%s: read error after %zu bytes: %s", path, got,
                           strerror(e));
        }
        if (r == 0)
            break; /* the file shrank while we read it: take what is there */
        got += (size_t)r;
    }
    close(fd);
    data[got] = '\0';
    *buf = data;
    *len = got;
    return FW_OK;
}
