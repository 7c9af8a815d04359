/* cuda_backend.h — internals shared by the CUDA backend's files (gpu/cuda_*.cu,
 * gpu/backend_cuda.cu): the backend state, the tensor representation, the
 * element types per precision, parameter mirrors, gradient/statistics
 * download slots and small launch helpers. Not for use outside gpu/.
 *
 * Tensors: device memory, logical (N, C, H, W), stored channels-last (NHWC)
 * in the backend's precision: float (fp32) or raw uint16_t bf16/fp16 bits
 * converted with half_convert.h. (N, C, 1, 1) tensors are plain (N, C) rows.
 *
 * Parameters: the host fp32 fw_param.data is the master copy until
 * update_bind (cuda_update.cu) hands a tensor's update to the device. Each
 * op keeps a device fp32 mirror (cuda_dparam, listed in be->dparams),
 * uploaded lazily when params_updated() bumped be->param_gen; ops that keep
 * a converted copy (16-bit, cuDNN's filter layout) re-make it when
 * be->weights_gen moved (params_updated or a device update_step). Batch
 * norm's running statistics follow be->buffer_gen (params_updated or
 * buffers_updated). Parameter gradients land in device
 * fp32 buffers owned by a cuda_slot; sync() downloads every pending slot and
 * writes fw_param.grad: OVERWRITE, or ADD to the host values present at sync
 * time when the first backward since the last sync had FW_GRAD_ACCUMULATE
 * (later backwards before the same sync accumulate on the device when they
 * pass FW_GRAD_ACCUMULATE, and restart the buffer when they do not). Batch
 * norm's running statistics use the same slots (downloaded into .data).
 */
#ifndef FW_CUDA_BACKEND_H
#define FW_CUDA_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "../src/backend.h"
#include "cuda_check.h"
#include "half_convert.h"

/* A device fp32 buffer downloaded into a host parameter at sync(). */
typedef struct cuda_slot {
    fw_param *p;
    int to_grad;   /* 1: into p->grad; 0: into p->data (running statistics) */
    float *d;      /* device (numel) */
    float *h;      /* pinned staging (numel) */
    int pending;   /* written since the last sync */
    int add;       /* sync adds into the host values instead of overwriting */
    int bound;     /* the gradient stays on the device (update_bind): no download */
} cuda_slot;

/* A device fp32 mirror of a host parameter's data. */
typedef struct cuda_dparam {
    fw_param *p;
    float *d;     /* (numel) */
    uint64_t gen; /* be->param_gen when uploaded (0: never) */
} cuda_dparam;

/* One set of augment_batch's per-batch buffers (cuda_augment.cu). */
typedef struct cuda_aug_slot {
    void *batch_d;         /* pinned case: the batch's images */
    size_t batch_cap;
    void *args_h, *args_d; /* (n) params then (n) item indices */
    size_t args_cap;
    cudaEvent_t ready;     /* pinned case: its copies are done (copy stream) */
    cudaEvent_t done;      /* the kernel that read it is done (stream) */
    int used;
} cuda_aug_slot;

struct fw_backend {
    int device;
    fw_precision prec;
    size_t esize; /* bytes per activation element */
    int threads;
    cudaStream_t stream;
    cudnnHandle_t cudnn;
    cublasLtHandle_t lt;
    uint64_t param_gen;   /* host parameter data changed (params_updated) */
    uint64_t weights_gen; /* fp32 weights changed: host or device (derived copies) */
    uint64_t buffer_gen;  /* running statistics changed on the host */
    cuda_dparam **dparams; /* (n_dparams) every op's parameter mirror */
    int n_dparams, cap_dparams;
    struct cuda_update *update; /* update_bind's state (cuda_update.cu), or NULL */
    char describe[400];
    cuda_slot **slots; /* (n_slots) registered by ops */
    int n_slots, cap_slots;
    void *stage_h; /* pinned host staging */
    size_t stage_h_cap;
    void *stage_d; /* device scratch for layout/precision conversion */
    size_t stage_d_cap;
    void *workspace; /* cuDNN / cuBLASLt workspace */
    size_t workspace_cap;
    /* augment_set_cache (cuda_augment.cu) */
    const uint8_t *aug_cache_h; /* the caller's cache (aug_items, aug_sh, aug_sw, aug_sc) */
    int64_t aug_items;
    int aug_sw, aug_sh, aug_sc;
    void *aug_cache_d;          /* the whole cache on the device, or NULL: */
    int aug_pinned;             /* 1: aug_cache_h is registered (pinned) in place */
    cuda_aug_slot aug_slot[2];  /* per-batch buffers, used in turn */
    int aug_next;               /* the slot of the next batch */
    cudaStream_t aug_copy;      /* pinned case: the gathers, beside the compute */
};

struct fw_tensor {
    fw_shape shape;
    void *d; /* device, NHWC in the backend's precision */
    size_t cap;
    int defined;
};

/* Maximum workspace for one convolution algorithm. */
#define CUDA_WORKSPACE_LIMIT ((size_t)256 << 20)

/* ---- element types -------------------------------------------------------- */
template <int P> struct cuda_elem;
template <> struct cuda_elem<FW_PRECISION_FP32> {
    typedef float t;
    static __device__ __forceinline__ float ld(float v) { return v; }
    static __device__ __forceinline__ float st(float v) { return v; }
};
template <> struct cuda_elem<FW_PRECISION_BF16> {
    typedef uint16_t t;
    static __device__ __forceinline__ float ld(uint16_t v) { return fw_bf16_to_f32(v); }
    static __device__ __forceinline__ uint16_t st(float v) { return fw_f32_to_bf16(v); }
};
template <> struct cuda_elem<FW_PRECISION_FP16> {
    typedef uint16_t t;
    static __device__ __forceinline__ float ld(uint16_t v) { return fw_f16_to_f32(v); }
    static __device__ __forceinline__ uint16_t st(float v) { return fw_f32_to_f16(v); }
};

/* Call F<P>(args...) for the backend precision P. */
#define CUDA_PREC_SWITCH(prec, F, ...)                                          \
    do {                                                                        \
        switch (prec) {                                                         \
        case FW_PRECISION_BF16: F<FW_PRECISION_BF16>(__VA_ARGS__); break;       \
        case FW_PRECISION_FP16: F<FW_PRECISION_FP16>(__VA_ARGS__); break;       \
        default: F<FW_PRECISION_FP32>(__VA_ARGS__); break;                      \
        }                                                                       \
    } while (0)

static inline unsigned cuda_blocks(int64_t n, int threads)
{
    int64_t b = (n + threads - 1) / threads;
    return (unsigned)(b < 1 ? 1 : (b > 65535 * 32 ? 65535 * 32 : b));
}

/* Grid-stride loop over [0, n). */
#define CUDA_FOR(i, n)                                                                   \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (int64_t)(n); \
         i += (int64_t)blockDim.x * gridDim.x)

#define CUDA_LAUNCH_CHECK() CUDA_CHECK(cudaGetLastError())

/* Every op starts with this: the CUDA current device is per host thread, and
 * the trainer thread need not be the one that created the backend. */
#define CUDA_ENTER(be) CUDA_CHECK(cudaSetDevice((be)->device))
static inline void cuda_enter_quiet(fw_backend *be)
{
    cudaSetDevice(be->device);
}

/* ---- shapes, tensors, buffers (cuda_tensor.cu) ---------------------------- */
int64_t cuda_numel(fw_shape s);
int cuda_shape_eq(fw_shape a, fw_shape b);
/* Give t shape s (contents undefined; storage grows). */
int cuda_tensor_define(fw_backend *be, fw_tensor *t, fw_shape s, fw_error *err);
/* Grow a device buffer to at least need bytes (contents lost). */
int cuda_grow(void **d, size_t *cap, size_t need, fw_error *err);
/* The backend's device scratch / pinned staging / workspace, at least bytes. */
int cuda_stage_d(fw_backend *be, size_t bytes, void **out, fw_error *err);
int cuda_stage_h(fw_backend *be, size_t bytes, void **out, fw_error *err);
int cuda_workspace(fw_backend *be, size_t bytes, void **out, fw_error *err);
/* Convert between layouts/precisions on the device:
 * fp32 plain (N, C, H, W) <-> the backend's NHWC tensor data. */
int cuda_from_nchw_f32(fw_backend *be, const float *src, void *dst, fw_shape s, fw_error *err);
int cuda_to_nchw_f32(fw_backend *be, const void *src, float *dst, fw_shape s, fw_error *err);
/* Same precision, NHWC <-> NCHW (for flattening like torch.flatten(x, 1)). */
int cuda_permute(fw_backend *be, const void *src, void *dst, fw_shape s, int to_nhwc,
                 fw_error *err);

/* ---- parameters and download slots (cuda_tensor.cu) ----------------------- */
int cuda_dparam_init(fw_backend *be, cuda_dparam *dp, fw_param *p, fw_error *err);
void cuda_dparam_free(fw_backend *be, cuda_dparam *dp);
/* Upload p->data when params_updated() ran since the last upload. */
int cuda_dparam_refresh(fw_backend *be, cuda_dparam *dp, fw_error *err);
/* The same against another generation counter (be->buffer_gen). */
int cuda_dparam_refresh_at(fw_backend *be, cuda_dparam *dp, uint64_t gen, fw_error *err);
int cuda_slot_create(fw_backend *be, fw_param *p, int to_grad, cuda_slot **out, fw_error *err);
void cuda_slot_destroy(fw_backend *be, cuda_slot *s);
/* beta for an op writing a new gradient into s->d under flags (1: accumulate). */
float cuda_slot_beta(const cuda_slot *s, unsigned flags);
/* Record that s->d was written under flags. */
void cuda_slot_mark(cuda_slot *s, unsigned flags);
/* Download every pending slot (stream synchronised). */
int cuda_slots_flush(fw_backend *be, fw_error *err);
/* dst[i] = (float)src[i] + beta * dst[i] for n doubles (device). */
int cuda_sums_to_grad(fw_backend *be, const double *src, float *dst, int64_t n, float beta,
                      fw_error *err);

/* ---- GEMM (cuda_linear.cu) -------------------------------------------------- */
/* D (m x n, col-major, fp32, ld m) = alpha op(A) op(B) + beta D on cuBLASLt,
 * fp32 compute; A/B of type t: A stored (ta ? k x m : m x k), B stored
 * (tb ? n x k : k x n). (Row-major (r, c) is col-major (c, r).) */
int cuda_gemm(fw_backend *be, cudaDataType_t t, int ta, int tb, int64_t m, int64_t n, int64_t k,
              float alpha, const void *a, const void *b, float beta, float *d, fw_error *err);

/* ---- per-channel reductions (cuda_bn.cu) ---------------------------------- */
enum { CUDA_SUM_STATS = 0, CUDA_SUM_GRAD = 1 };
/* Over the rows of an NHWC tensor (rows = N*H*W, C channels), into out
 * (2, C) doubles: STATS: [sum x, sum x^2]; GRAD: [sum dy, sum dy (x - mean) invstd]
 * (x, mean, invstd only for GRAD; x may be NULL to sum dy alone). */
int cuda_channel_sums(fw_backend *be, int mode, const void *a, const void *x,
                      const float *mean, const float *invstd, int64_t rows, int64_t c,
                      double *out, fw_error *err);

/* ---- per-file op entry points (the table in backend_cuda.cu) -------------- */
int cuda_tensor_create(fw_backend *be, fw_tensor **out, fw_error *err);
void cuda_tensor_free(fw_backend *be, fw_tensor *t);
fw_shape cuda_tensor_shape(const fw_tensor *t);
int cuda_tensor_copy_in(fw_backend *be, fw_tensor *t, fw_shape s, const float *src,
                        fw_error *err);
int cuda_tensor_copy_out(fw_backend *be, const fw_tensor *t, float *dst, fw_error *err);
int cuda_tensor_zero(fw_backend *be, fw_tensor *t, fw_shape s, fw_error *err);
int cuda_tensor_copy(fw_backend *be, const fw_tensor *src, fw_tensor *dst, fw_error *err);

int cuda_conv_create(fw_backend *be, const fw_conv_desc *desc, fw_param *weight,
                     fw_param *bias, fw_conv **out, fw_error *err);
void cuda_conv_destroy(fw_backend *be, fw_conv *conv);
int cuda_conv_forward(fw_backend *be, fw_conv *conv, const fw_tensor *x, fw_tensor *y,
                      fw_error *err);
int cuda_conv_backward(fw_backend *be, fw_conv *conv, const fw_tensor *x, const fw_tensor *dy,
                       fw_tensor *dx, unsigned flags, fw_error *err);

int cuda_bn_create(fw_backend *be, int channels, float eps, float momentum, fw_param *weight,
                   fw_param *bias, fw_param *running_mean, fw_param *running_var, fw_bn **out,
                   fw_error *err);
void cuda_bn_destroy(fw_backend *be, fw_bn *bn);
int cuda_bn_forward(fw_backend *be, fw_bn *bn, int training, const fw_tensor *x, fw_tensor *y,
                    fw_error *err);
int cuda_bn_backward(fw_backend *be, fw_bn *bn, const fw_tensor *x, const fw_tensor *dy,
                     fw_tensor *dx, unsigned flags, fw_error *err);
int cuda_bn_set_sync(fw_backend *be, fw_bn *bn, fw_bn_sync_fn fn, void *ctx, fw_error *err);

int cuda_pool_create(fw_backend *be, const fw_pool_desc *desc, fw_pool **out, fw_error *err);
void cuda_pool_destroy(fw_backend *be, fw_pool *pool);
int cuda_pool_forward(fw_backend *be, fw_pool *pool, const fw_tensor *x, fw_tensor *y,
                      fw_error *err);
int cuda_pool_backward(fw_backend *be, fw_pool *pool, const fw_tensor *dy, fw_tensor *dx,
                       fw_error *err);

int cuda_relu_forward(fw_backend *be, const fw_tensor *x, fw_tensor *y, fw_error *err);
int cuda_relu_backward(fw_backend *be, const fw_tensor *y, const fw_tensor *dy, fw_tensor *dx,
                       fw_error *err);
int cuda_add(fw_backend *be, const fw_tensor *a, const fw_tensor *b, fw_tensor *y,
             fw_error *err);

int cuda_gem_create(fw_backend *be, fw_param *p, float eps, fw_gem **out, fw_error *err);
void cuda_gem_destroy(fw_backend *be, fw_gem *gem);
int cuda_gem_forward(fw_backend *be, fw_gem *gem, const fw_tensor *x, fw_tensor *y,
                     fw_error *err);
int cuda_gem_backward(fw_backend *be, fw_gem *gem, const fw_tensor *x, const fw_tensor *y,
                      const fw_tensor *dy, fw_tensor *dx, unsigned flags, fw_error *err);

int cuda_linear_create(fw_backend *be, int in_features, int out_features, fw_param *weight,
                       fw_param *bias, fw_linear **out, fw_error *err);
void cuda_linear_destroy(fw_backend *be, fw_linear *lin);
int cuda_linear_forward(fw_backend *be, fw_linear *lin, const fw_tensor *x, fw_tensor *y,
                        fw_error *err);
int cuda_linear_backward(fw_backend *be, fw_linear *lin, const fw_tensor *x,
                         const fw_tensor *dy, fw_tensor *dx, unsigned flags, fw_error *err);

int cuda_l2norm_forward(fw_backend *be, const fw_tensor *x, fw_tensor *y, float eps,
                        fw_error *err);
int cuda_l2norm_backward(fw_backend *be, const fw_tensor *x, const fw_tensor *y,
                         const fw_tensor *dy, fw_tensor *dx, float eps, fw_error *err);

int cuda_dropout_create(fw_backend *be, float rate, uint64_t seed, fw_dropout **out,
                        fw_error *err);
void cuda_dropout_destroy(fw_backend *be, fw_dropout *d);
int cuda_dropout_forward(fw_backend *be, fw_dropout *d, int training, uint64_t stream,
                         const fw_tensor *x, fw_tensor *y, fw_error *err);
int cuda_dropout_backward(fw_backend *be, fw_dropout *d, const fw_tensor *dy, fw_tensor *dx,
                          fw_error *err);

int cuda_augment_set_cache(fw_backend *be, const uint8_t *cache, int64_t items, int sw, int sh,
                           int sc, fw_error *err);
int cuda_augment_batch(fw_backend *be, const fw_aug_params *params, const int64_t *items, int n,
                       int ow, int oh, fw_tensor *out, fw_error *err);
/* Free the device copy / unpin the cache (destroy, a new cache). */
void cuda_augment_release(fw_backend *be);

/* ---- the ArcFace loss term (cuda_arcface.cu) ------------------------------- */
int cuda_arcface_create(fw_backend *be, const fw_arcface_cfg *cfg, int classes, int dim,
                        fw_param *weight, fw_arcface **out, fw_error *err);
void cuda_arcface_destroy(fw_backend *be, fw_arcface *a);
int cuda_arcface_loss(fw_backend *be, fw_arcface *a, const float *emb, const int *labels, int n,
                      double scale, float *d_emb, fw_loss_result *res, fw_error *err);

/* ---- the training update on the device (cuda_update.cu) ------------------- */
int cuda_update_bind(fw_backend *be, const fw_update_tensor *t, int n, fw_error *err);
int cuda_update_allreduce(fw_backend *be, const int *reduce, fw_buffers_sum_fn fn, void *ctx,
                          fw_error *err);
int cuda_update_grad_sumsq(fw_backend *be, const float *mult, double *sumsq, int *finite,
                           fw_error *err);
int cuda_update_step(fw_backend *be, const fw_optim_hyper *h, const fw_optim_coeffs *c,
                     const float *mult, fw_error *err);
int cuda_update_to_host(fw_backend *be, fw_error *err);
/* Free update_bind's state (destroy, a new bind). */
void cuda_update_release(fw_backend *be);
/* An op is freeing this slot or mirror (either may be NULL): the update
 * that uses it is released first (it would point at freed memory). */
void cuda_update_forget(fw_backend *be, const cuda_slot *s, const cuda_dparam *dp);

#endif
