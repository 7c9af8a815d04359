/* fileio.h — the few durable-file helpers that atomic writers share (the
 * decode cache, synth's CSVs, checkpoints, the checkpoint store): whole-buffer
 * reads and writes that survive EINTR and short transfers, directory fsync,
 * and mkdir -p. */
#ifndef FW_FILEIO_H
#define FW_FILEIO_H

#include <stddef.h>
#include <stdint.h>

#include "fw_error.h"

/* Write / read exactly len bytes (in chunks of at most 1 GiB). 0 on success,
 * -1 otherwise (errno set; a read that meets end-of-file leaves errno 0). */
int fw_write_all(int fd, const void *buf, size_t len);
int fw_read_all(int fd, void *buf, size_t len);
int fw_pread_all(int fd, void *buf, size_t len, uint64_t offset);

/* Read a whole regular file (refusing files over max_bytes with FW_ETOOBIG);
 * the caller frees *buf (never NULL on success, even for an empty file). A NUL
 * byte follows the *len bytes read, so text can be used as a string. Errors
 * name the path: FW_ENOTFOUND when it does not exist, FW_EIO for other
 * failures. */
int fw_read_file(const char *path, size_t max_bytes, uint8_t **buf, size_t *len, fw_error *err);

/* fsync a directory, so a rename inside it is durable. File systems that
 * cannot sync directories (EINVAL) count as success. */
int fw_fsync_dir(const char *dir, fw_error *err);

/* fw_fsync_dir of the directory that holds path ("." for a bare name). */
int fw_fsync_parent_dir(const char *path, fw_error *err);

/* mkdir -p (mode 0777 before umask); existing directories are fine. */
int fw_mkdirs(const char *dir, fw_error *err);

#endif
