/* disk_cache.h — the decoded-image cache's file on disk, so a second start
 * skips decoding.
 *
 * File DIR/fwcache-KEY.bin (KEY: 16 hex digits of fw_disk_cache_key), all
 * integers little-endian:
 *   header (88 bytes): magic "FWIMGCAC", u32 version (FW_DISK_CACHE_VERSION),
 *     u32 header size, u64 key, u64 n, u32 width, u32 height, u32 channels,
 *     u32 reserved (0), u64 n_failed, u64 failure-section bytes,
 *     u64 payload hash, u64 header hash (of the 80 bytes before it)
 *   ok:       n bytes, 1 = decoded, 0 = failed
 *   failures: n_failed times { i64 index, i32 code, u32 length, reason bytes }
 *   pixels:   n * height * width * channels bytes, (n, H, W, C)
 * The payload hash (XXH64, chained over the three sections) catches damage
 * anywhere; the size must match exactly. Anything that does not check out is
 * reported and the caller rebuilds.
 */
#ifndef FW_DISK_CACHE_H
#define FW_DISK_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "image_cache.h"

#define FW_DISK_CACHE_VERSION 1u

/* XXH64 of a buffer with a seed (chain calls by passing the last hash as seed). */
uint64_t fw_hash64(const void *data, size_t len, uint64_t seed);

/* Hash of what the cache content depends on: format version, working size,
 * channels, and for each file its path, size, mtime (ns) and crop box. Files
 * that cannot be stat'ed still hash (as missing), so the key is always defined. */
uint64_t fw_disk_cache_key(const char *const *paths, const fw_bbox *boxes, long n, int width,
                           int height, int channels);

/* "DIR/fwcache-KEY.bin" into buf; FW_ETOOBIG if it does not fit. */
int fw_disk_cache_path(const char *dir, uint64_t key, char *buf, size_t bufsz, fw_error *err);

/* Load `path` into a cache whose n/width/height/channels are set and whose
 * pixels (n*H*W*C bytes) and ok (n bytes) are allocated; allocates failures.
 * Returns 0, FW_ENOTFOUND when there is no file, or FW_ECORRUPT / FW_EFORMAT /
 * FW_EIO / FW_ENOMEM with the reason. After a failure the pixels, ok and
 * failures contents are unspecified (failures is freed and NULL). */
int fw_disk_cache_load(const char *path, uint64_t key, fw_image_cache *cache, fw_error *err);

/* Write the cache to `path` atomically: a temp file in the same directory
 * (created, with parents, if missing), fsync, rename, fsync of the directory. */
int fw_disk_cache_save(const char *path, uint64_t key, const fw_image_cache *cache,
                       fw_error *err);

#endif
