/* safetensors.h — reading pretrained weights (torchvision / timm ResNets)
 * from .safetensors files into the model's fw_params.
 *
 * Format: u64 little-endian N, then N bytes of JSON
 *   {"NAME": {"dtype": "F32", "shape": [64, 3, 7, 7], "data_offsets": [BEGIN, END]},
 *    ..., "__metadata__": {"key": "text", ...}}
 * then the data; offsets are relative to the byte after the header.
 * Everything in the header is untrusted: every number is checked to be an
 * integer in range, every offset and size is checked in 64 bits against the
 * file's length, END - BEGIN must equal numel * dtype size, tensors may not
 * overlap, names may not repeat. A header that fails any check is refused
 * (FW_EFORMAT, or FW_ETOOBIG for N over 100 MB) with a message saying why.
 *
 * dtypes read (converted to float32 exactly where float32 can hold the value):
 * F32, F16, BF16 (exact), F64 (rounded), I64, I32 (num_batches_tracked).
 * Other valid dtypes (BOOL, U8, I8, I16, U16, U32, U64, F8_E5M2, F8_E4M3)
 * parse but cannot be loaded into a float param (FW_EUNSUPPORTED).
 *
 * Names: torchvision's and timm's ResNet-18/34/50 state dicts use the same
 * names (conv1, bn1, layer1.0.conv1, layer1.0.downsample.0, ..., fc). The
 * torchvision/timm classifier "fc.*" is never loaded.
 */
#ifndef FW_SAFETENSORS_H
#define FW_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "fw_error.h"
#include "param.h"

#define FW_ST_MAX_HEADER (100u << 20) /* bytes of JSON */
#define FW_ST_MAX_DIMS 16

enum {
    FW_ST_F32 = 1, FW_ST_F16, FW_ST_BF16, FW_ST_F64, FW_ST_I64, FW_ST_I32,
    FW_ST_BOOL, FW_ST_U8, FW_ST_I8, FW_ST_I16, FW_ST_U16, FW_ST_U32, FW_ST_U64,
    FW_ST_F8_E5M2, FW_ST_F8_E4M3,
};

typedef struct fw_st_tensor {
    char *name;
    int dtype; /* FW_ST_* */
    int ndim;
    int64_t shape[FW_ST_MAX_DIMS];
    uint64_t numel;
    uint64_t begin, end; /* offsets from the start of the data */
} fw_st_tensor;

typedef struct fw_safetensors {
    int fd;
    uint64_t file_size;
    uint64_t data_start; /* 8 + N */
    fw_st_tensor *tensors;
    long n;
    char path[1024];
} fw_safetensors;

/* Open and validate `path` (header only; data is read on demand). Errors:
 * FW_ENOTFOUND, FW_EIO, FW_ENOMEM, FW_ETOOBIG, FW_EFORMAT. */
int fw_safetensors_open(const char *path, fw_safetensors *st, fw_error *err);
void fw_safetensors_close(fw_safetensors *st);

const fw_st_tensor *fw_safetensors_find(const fw_safetensors *st, const char *name);

/* "F32", "BF16", ... */
const char *fw_safetensors_dtype_name(int dtype);

/* Read tensor t converted to float32 into out (t->numel floats). */
int fw_safetensors_read_f32(const fw_safetensors *st, const fw_st_tensor *t, float *out,
                            fw_error *err);

/* IEEE half / bfloat16 bits to float (exact, NaN payloads kept). */
float fw_f16_to_f32(uint16_t h);
float fw_bf16_to_f32(uint16_t h);

typedef struct fw_pretrained_opts {
    const char *prefix; /* only params named PREFIX+name are looked up (as name);
                           NULL or "" = all params */
    int allow_missing;  /* 1: params not in the file are reported, not an error
                           (e.g. a new neck and head) */
} fw_pretrained_opts;

typedef struct fw_pretrained_report {
    int n_loaded;          /* params filled from the file */
    int n_missing;         /* params looked up but not in the file (left as they were) */
    int n_counters_kept;   /* "*.num_batches_tracked" params not in the file: kept, no error */
    int n_not_looked_up;   /* params outside the prefix (left as they were) */
    int n_classifier;      /* file tensors "fc.*" skipped */
    int n_unused;          /* other file tensors that no param took */
    int conv1_summed;      /* 1 when conv1.weight was summed over RGB for 1 channel */
    char first_missing[FW_PARAM_NAME_MAX];
    char first_unused[128]; /* sanitized */
} fw_pretrained_report;

/* Load pretrained weights from `path` into `list` by name, with shape checks.
 * A param whose file tensor has another shape is an error naming it and both
 * shapes, except "conv1.weight" with (O, 1, KH, KW) in the model and
 * (O, 3, KH, KW) in the file: the RGB kernels are summed into one gray
 * channel ((w0 + w1) + w2 in float32). A param not in the file is an error
 * naming the first (FW_ENOTFOUND) unless opts->allow_missing; a missing
 * "*.num_batches_tracked" is never an error. Every check runs before any
 * param is written, so a failure leaves the whole list as it was. opts and
 * report may be NULL. */
int fw_safetensors_load_params(const char *path, fw_param_list *list,
                               const fw_pretrained_opts *opts, fw_pretrained_report *report,
                               fw_error *err);

#endif
