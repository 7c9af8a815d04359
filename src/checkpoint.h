/* checkpoint.h — one training checkpoint file: written atomically, read back
 * only after every byte checks out, restored bit-exactly.
 *
 * A checkpoint holds the model's weights and buffers, the optimizer's state
 * tensors, the positions (step, epoch, sampler epoch/batch), the best metric
 * so far, the RNG state (raw bytes) and the run's config (text).
 *
 * File format (version FW_CKPT_VERSION; all integers little-endian):
 *
 *   header (80 bytes)
 *     0  u8[8]  magic "FWCKPT\r\n"
 *     8  u32    format version
 *    12  u32    header size (80)
 *    16  u64    n_entries
 *    24  u64    table offset (= 80)
 *    32  u64    table size (= n_entries * 256)
 *    40  u64    data offset (table end rounded up to 64)
 *    48  u64    total file size
 *    56  u64    table hash    (XXH64 of the table bytes)
 *    64  u64    reserved (0)
 *    72  u64    header hash   (XXH64 of the 72 bytes before it)
 *   table: n_entries entries of 256 bytes
 *     0  char[160] name, NUL-padded (at most 159 bytes, no NUL inside)
 *   160  u32    kind     (FW_CKPT_KIND_TENSOR = 1: float32 tensor;
 *                         FW_CKPT_KIND_BLOB = 2: raw bytes)
 *   164  u32    section  (FW_CKPT_SECTION_MODEL, _OPTIM, _META)
 *   168  u32    dtype    (FW_CKPT_F32 = 1 for tensors, FW_CKPT_U8 = 2 for blobs)
 *   172  u32    ndim     (0..4; 1 for blobs)
 *   176  i64[4] shape    (unused dims 0; blob: shape[0] = length)
 *   208  u64    offset   (absolute, 64-byte aligned, inside the data region)
 *   216  u64    length   (bytes = 4 * numel for tensors)
 *   224  u64    hash     (XXH64 of the entry's bytes)
 *   232  u8[24] reserved (0)
 *   data: the entries' bytes in table order, each at a 64-byte aligned
 *     offset, zero padding between them; the file ends right after the last.
 *
 * The meta section holds three blobs: "meta" (the positions, 64 bytes:
 * u64 step, i64 epoch, i64 sampler_epoch, i64 sampler_batch, f64 best_metric,
 * i64 best_step, u32 has_best, u32 reserved, u64 reserved), "rng" and
 * "config" (the text, no NUL), plus any extra named blobs. XXH64 is
 * data/disk_cache.h's fw_hash64 with seed 0.
 * The hashes form a chain that covers every byte: the header hash covers the
 * table hash, the table hash covers each entry's hash, and the padding must
 * be zero. A file whose size differs from the header's (torn write) is
 * refused before anything else is read; any flipped byte is refused.
 *
 * Names are unique within a section. Model tensors carry the model's names
 * ("layer1.0.conv1.weight"), optimizer tensors the optimizer's names
 * ("optim.layer1.0.conv1.weight.momentum_buffer" by convention; any name).
 *
 * Loading policy: fw_ckpt_open reads the whole file and verifies everything
 * (magic, version, sizes, offsets, all hashes, duplicate names) before it
 * returns; nothing is copied into the caller's tensors until
 * fw_ckpt_read_params has checked that every tensor of the list is present
 * with the same shape. A missing or mis-shaped tensor is an error naming it.
 * A tensor in the file's section that the list does not have is an error
 * too (it means another model or optimizer), unless FW_CKPT_IGNORE_EXTRA is
 * given; its count is always reported.
 */
#ifndef FW_CHECKPOINT_H
#define FW_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "fw_error.h"
#include "param.h"

#define FW_CKPT_VERSION 1u
#define FW_CKPT_MAGIC "FWCKPT\r\n"
#define FW_CKPT_HEADER_SIZE 80
#define FW_CKPT_ENTRY_SIZE 256
#define FW_CKPT_NAME_MAX 160 /* including the NUL */
#define FW_CKPT_ALIGN 64
#define FW_CKPT_MAX_ENTRIES 1000000

enum { FW_CKPT_KIND_TENSOR = 1, FW_CKPT_KIND_BLOB = 2 };
enum { FW_CKPT_F32 = 1, FW_CKPT_U8 = 2 };
enum { FW_CKPT_SECTION_MODEL = 0, FW_CKPT_SECTION_OPTIM = 1, FW_CKPT_SECTION_META = 2 };
enum { FW_CKPT_IGNORE_EXTRA = 1 << 0 };

/* Positions and the best metric (the "meta" blob). */
typedef struct fw_ckpt_meta {
    uint64_t step;         /* optimizer steps done */
    int64_t epoch;         /* schedule epoch */
    int64_t sampler_epoch; /* the sampler's epoch and the next batch in it */
    int64_t sampler_batch;
    double best_metric;    /* meaningful when has_best */
    int64_t best_step;
    int has_best;
} fw_ckpt_meta;

/* A named extra blob (e.g. a sampler's or loss scaler's state). */
typedef struct fw_ckpt_blob {
    const char *name; /* unique, not "meta", "rng" or "config", < FW_CKPT_NAME_MAX */
    const void *data;
    size_t len;
} fw_ckpt_blob;

/* What fw_ckpt_save writes. model/optim may be NULL (no tensors); rng may be
 * NULL with rng_len 0; config may be NULL (stored as empty text); blobs may
 * be NULL with n_blobs 0 (read them back with fw_ckpt_find(ck,
 * FW_CKPT_SECTION_META, name)). */
typedef struct fw_ckpt_content {
    fw_ckpt_meta meta;
    const fw_param_list *model; /* weights and buffers */
    const fw_param_list *optim; /* optimizer state tensors */
    const void *rng;            /* raw RNG state */
    size_t rng_len;
    const char *config;         /* NUL-terminated text */
    const fw_ckpt_blob *blobs;  /* (n_blobs) extra blobs */
    int n_blobs;
} fw_ckpt_content;

/* One table entry of an opened checkpoint (points into the file's bytes). */
typedef struct fw_ckpt_entry {
    char name[FW_CKPT_NAME_MAX];
    int kind, section, dtype, ndim;
    int64_t shape[FW_PARAM_MAX_DIMS];
    uint64_t offset, length;
    const unsigned char *data; /* (length) bytes */
} fw_ckpt_entry;

/* A verified checkpoint in memory. */
typedef struct fw_ckpt {
    unsigned char *bytes; /* the whole file */
    size_t size;
    fw_ckpt_entry *entries; /* (n_entries) */
    long n_entries;
    fw_ckpt_meta meta;
    const char *config;     /* NUL-terminated copy */
    const unsigned char *rng;
    size_t rng_len;
    char path[1024];
} fw_ckpt;

/* Write `c` to `path` atomically: a temp file "PATH.tmp-XXXXXX" in the same
 * directory, written, fsynced and closed (errors of each checked), renamed
 * over `path`, then the directory fsynced. On any failure the temp file is
 * removed, an existing `path` is left as it was, and FW_EIO (or FW_EINVAL /
 * FW_ENOMEM / FW_ETOOBIG) is returned with a message naming the file. Only a
 * failed fsync of the directory after the rename is reported with the new
 * file already in place (complete, but its name may not survive a crash). */
int fw_ckpt_save(const char *path, const fw_ckpt_content *c, fw_error *err);

/* Read and verify `path` completely (see the format above). On success *ck
 * owns the bytes (free with fw_ckpt_close). Errors: FW_ENOTFOUND (no file),
 * FW_EIO, FW_ENOMEM, FW_EFORMAT (not a checkpoint / bad structure),
 * FW_EUNSUPPORTED (another format version), FW_ECORRUPT (a hash or size
 * mismatch: torn or damaged file). On failure *ck is left empty. */
int fw_ckpt_open(const char *path, fw_ckpt *ck, fw_error *err);

void fw_ckpt_close(fw_ckpt *ck);

/* The entry `name` of `section`, or NULL. */
const fw_ckpt_entry *fw_ckpt_find(const fw_ckpt *ck, int section, const char *name);

/* Copy every tensor of `section` into the same-named fw_param of `list`
 * (bit-exact). All names and shapes are checked before any data is copied:
 * a param missing from the file (FW_ENOTFOUND) or with another shape
 * (FW_EFORMAT) is an error naming it (and both shapes). Tensors of the
 * section that the list lacks are an error unless flags has
 * FW_CKPT_IGNORE_EXTRA; *n_extra (may be NULL) gets their count. */
int fw_ckpt_read_params(const fw_ckpt *ck, int section, fw_param_list *list, int flags,
                        int *n_extra, fw_error *err);

#endif
