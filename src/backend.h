/* backend.h — the interface every compute backend (CPU/oneDNN, later CUDA/cuDNN)
 * implements: a const table of function pointers plus opaque per-instance state.
 *
 * The model, losses and trainer are written once against this table:
 *
 *     const fw_backend_ops *ops = fw_backend_cpu();
 *     fw_backend *be;
 *     fw_backend_options opt = {.threads = 0};
 *     FW_TRY(ops->create(&opt, &be, err));
 *     fw_tensor *x, *y;
 *     FW_TRY(ops->tensor_create(be, &x, err));
 *     FW_TRY(ops->tensor_create(be, &y, err));
 *     FW_TRY(ops->tensor_copy_in(be, x, (fw_shape){32, 1, 128, 256}, pixels, err));
 *     fw_conv *conv;
 *     FW_TRY(ops->conv_create(be, &(fw_conv_desc){...}, weight, NULL, &conv, err));
 *     FW_TRY(ops->conv_forward(be, conv, x, y, err));
 *     ...
 *     ops->conv_destroy(be, conv); ops->tensor_free(be, x); ops->destroy(be);
 *
 * ---- Activations (fw_tensor) ---------------------------------------------
 * A tensor has a logical shape (N, C, H, W); a (N, C) matrix is (N, C, 1, 1).
 * Its memory layout is the backend's choice (the CPU backend keeps conv/BN/ReLU/
 * pool/add activations in oneDNN blocked layouts such as nChw16c) and is never
 * seen by the caller: data enters and leaves only through tensor_copy_in /
 * tensor_copy_out in plain row-major (N, C, H, W) floats.
 * Ops OWN the shape of their outputs: an output tensor passed to an op is
 * reshaped (and its storage grown if needed) to the op's output shape and
 * layout, so a model creates its tensors once (empty is fine) and reuses them
 * for any batch size. Outputs must not alias inputs unless the op says so.
 *
 * ---- Parameters (fw_param, src/param.h) -----------------------------------
 * Parameters stay plain PyTorch-layout host floats (fw_param.data, .grad) for
 * the optimizer and checkpoints. Ops bind their parameters at creation (the
 * fw_param pointers must outlive the op). A backend may keep derived copies
 * (the CPU backend keeps conv weights reordered to a blocked format; a GPU
 * backend keeps device copies). RULE: after anything changes fw_param.data
 * (initialisation, an optimizer step, a checkpoint load), call
 * params_updated(be) before the next forward; it marks every derived copy
 * stale, and each op refreshes its copy lazily on its next use.
 * Running statistics of batch norm are written by bn_forward(training) into
 * running_mean/running_var .data directly (no params_updated needed for them).
 *
 * ---- Gradients ---------------------------------------------------------------
 * Backward calls write activation gradients into the dx tensor given
 * (OVERWRITE; pass NULL to skip, e.g. for the first conv) and parameter
 * gradients into fw_param.grad in PyTorch layout: OVERWRITE by default, ADD to
 * the existing values with FW_GRAD_ACCUMULATE, or not at all with
 * FW_GRAD_SKIP_PARAMS (frozen layers). Parameter gradients are complete in host
 * memory when the backward call returns for the CPU backend; other backends
 * complete them at sync(be), so call sync before reading .grad or running the
 * optimizer. Ops with state saved by forward (batch-norm batch statistics,
 * max-pool workspace, dropout mask) use the state of that op's LAST forward:
 * run each op's backward before its next forward.
 * Residual add: y = a + b, so dL/da = dL/db = dL/dy; there is no add_backward —
 * pass dy on to both branches, and where two gradients meet (the block input)
 * sum them with add().
 *
 * ---- Errors ----------------------------------------------------------------------
 * Every int-returning function returns 0 or a negative FW_E* code and fills err
 * (library failures name the call, file and line: FW_EDEVICE). Shapes that do
 * not fit the op (wrong channel count, empty input) give FW_EINVAL.
 * Destroy/free functions accept NULL.
 *
 * ---- Threads ------------------------------------------------------------------
 * One fw_backend is used from one thread at a time (the trainer thread); ops
 * use up to options.threads worker threads internally. (CPU: oneDNN 2.6.3 on
 * Debian uses the OpenMP runtime; every op sets omp_set_num_threads on the
 * calling thread, and GeM uses fw_parallel_for.)
 * Determinism (CPU): results are bitwise reproducible for a given thread
 * count. Across thread counts, ReLU, add, pooling, GeM, L2 norm and dropout
 * are bitwise identical by construction (each output written by one thread
 * in a fixed order), and conv forward/backward-data and linear forward
 * (sgemm) were identical at 1 vs 2 threads in the tests; conv
 * backward-weights and batch-norm statistics reduce across threads and are
 * only promised equal to ~1e-6 relative (they too matched bitwise at 1 vs 2
 * threads on the development machine).
 *
 * ---- Convolution algorithm (CPU) ------------------------------------------------
 * 3x3 stride-1 convs with >= 16 input channels use oneDNN's Winograd kernels
 * (jit_wino_4x3, AVX-512) for each pass that has one, the direct kernels
 * otherwise. The environment variable FLUKEWATCH_CONV_ALGO, read by
 * conv_create, picks: "auto" (or unset: that rule) or "direct" (never
 * Winograd; for A/B benchmarks); anything else fails conv_create (FW_EINVAL).
 */
#ifndef FW_BACKEND_H
#define FW_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "augment.h"
#include "fw_error.h"
#include "loss.h"
#include "optim_math.h"
#include "param.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fw_backend fw_backend; /* per-instance state (engine, stream, caches) */
typedef struct fw_tensor fw_tensor;   /* an activation in the backend's layout */
typedef struct fw_conv fw_conv;       /* one conv layer: desc, params, cached plans */
typedef struct fw_bn fw_bn;           /* one batch-norm layer + saved batch stats */
typedef struct fw_pool fw_pool;       /* one max/avg pooling layer + workspace */
typedef struct fw_gem fw_gem;         /* one GeM pooling layer (learnable p) */
typedef struct fw_linear fw_linear;   /* one fully connected layer */
typedef struct fw_dropout fw_dropout; /* one dropout layer + saved mask */
typedef struct fw_arcface fw_arcface; /* the ArcFace loss term over its class weights */

/* Logical shape of an activation: (N, C, H, W); a matrix (N, C) is (N, C, 1, 1). */
typedef struct fw_shape {
    int64_t n, c, h, w;
} fw_shape;

/* Arithmetic precision of a backend's activations and GEMMs/convolutions.
 * Parameters stay fp32 (master weights) in every mode; bf16 and fp16 keep
 * activations in 16 bits and accumulate in fp32. The CPU backend computes in
 * fp32 only (create refuses the others). */
typedef enum fw_precision {
    FW_PRECISION_AUTO = -1, /* a run's choice before fw_backend_for_device resolves it:
                               bf16 on GPUs of compute capability 8.0 and newer
                               (Ampere), fp32 elsewhere; never passed to create() */
    FW_PRECISION_FP32 = 0,
    FW_PRECISION_BF16,
    FW_PRECISION_FP16,
} fw_precision;

typedef struct fw_backend_options {
    int threads;            /* worker threads for the ops; <= 0: all online CPUs */
    int device;             /* device index for GPU backends; ignored by the CPU backend */
    fw_precision precision; /* FW_PRECISION_FP32 unless the backend supports others */
} fw_backend_options;

/* Cross-rank batch-norm statistics (SyncBatchNorm), set with bn_set_sync.
 * The function replaces sums[0..n) (this rank's values) by their sums over
 * every rank, in place, identically on every rank; it returns 0 or FW_E*. */
typedef int (*fw_bn_sync_fn)(void *ctx, double *sums, int n, fw_error *err);

/* Flags for backward calls (parameter gradients). */
enum {
    FW_GRAD_ACCUMULATE = 1 << 0,  /* add into fw_param.grad instead of overwriting */
    FW_GRAD_SKIP_PARAMS = 1 << 1, /* compute no parameter gradients (frozen layer) */
};

/* 2-D convolution, dilation 1, groups 1 (PyTorch nn.Conv2d semantics).
 * weight (out_channels, in_channels, kernel_h, kernel_w); bias (out_channels) or none. */
typedef struct fw_conv_desc {
    int in_channels, out_channels;
    int kernel_h, kernel_w;
    int stride_h, stride_w;
    int pad_h, pad_w; /* zero padding on both sides */
} fw_conv_desc;

typedef enum fw_pool_kind {
    FW_POOL_MAX = 0, /* nn.MaxPool2d (padding counts as -inf) */
    FW_POOL_AVG = 1, /* nn.AvgPool2d, count_include_pad=True (PyTorch's default) */
} fw_pool_kind;

/* Pooling, floor output size (ceil_mode=False). global != 0: the kernel is the
 * whole input plane (kernel/stride/pad ignored), output (N, C, 1, 1). */
typedef struct fw_pool_desc {
    fw_pool_kind kind;
    int kernel_h, kernel_w;
    int stride_h, stride_w;
    int pad_h, pad_w;
    int global;
} fw_pool_desc;

/* Sums n buffers over data-parallel ranks in place (fw_dist_allreduce_sum_buffers):
 * device memory ordered after `stream`, or host memory when stream is NULL. */
typedef int (*fw_buffers_sum_fn)(void *ctx, float *const *bufs, const size_t *counts, int n,
                                 void *stream, fw_error *err);

/* One trained tensor whose update a backend takes over (update_bind). */
typedef struct fw_update_tensor {
    fw_param *param;   /* a parameter one of this backend's ops holds, with a grad */
    fw_param *moment1; /* SGD momentum_buffer / AdamW exp_avg (param's numel) */
    fw_param *moment2; /* AdamW exp_avg_sq, NULL for SGD */
} fw_update_tensor;

typedef struct fw_backend_ops {
    const char *name; /* "cpu", "cuda" */

    /* ---- instance ---- */
    int (*create)(const fw_backend_options *opt, fw_backend **out, fw_error *err);
    void (*destroy)(fw_backend *be);
    /* One line describing the backend, e.g. "oneDNN 2.6.3 (cpu), 2 threads". */
    void (*describe)(fw_backend *be, char *buf, size_t size);
    /* Number of worker threads in use (after resolving <= 0). */
    int (*threads)(fw_backend *be);
    /* Mark every derived copy of parameter data stale (see RULE above). */
    void (*params_updated)(fw_backend *be);
    /* Wait for queued work; after it parameter grads and copy_out data are final. */
    int (*sync)(fw_backend *be, fw_error *err);

    /* ---- tensors ---- */
    /* A new empty tensor (shape 0x0x0x0); ops and copy_in give it a shape. */
    int (*tensor_create)(fw_backend *be, fw_tensor **out, fw_error *err);
    void (*tensor_free)(fw_backend *be, fw_tensor *t);
    fw_shape (*tensor_shape)(const fw_tensor *t);
    /* Set t's shape and fill it from plain (N, C, H, W) floats. */
    int (*tensor_copy_in)(fw_backend *be, fw_tensor *t, fw_shape shape,
                          const float *src, fw_error *err); /* src (N, C, H, W) */
    /* Copy t out as plain (N, C, H, W) floats (n*c*h*w of them). */
    int (*tensor_copy_out)(fw_backend *be, const fw_tensor *t, float *dst,
                           fw_error *err); /* dst (N, C, H, W) */
    /* Set t's shape (layout: backend's choice) and fill it with zeros. */
    int (*tensor_zero)(fw_backend *be, fw_tensor *t, fw_shape shape, fw_error *err);
    /* dst = src (same shape and layout as src). */
    int (*tensor_copy)(fw_backend *be, const fw_tensor *src, fw_tensor *dst, fw_error *err);

    /* ---- convolution ---- */
    int (*conv_create)(fw_backend *be, const fw_conv_desc *desc, fw_param *weight,
                       fw_param *bias /* NULL: no bias */, fw_conv **out, fw_error *err);
    void (*conv_destroy)(fw_backend *be, fw_conv *conv);
    /* y = conv(x): x (N, in, H, W) -> y (N, out, OH, OW),
     * OH = (H + 2*pad_h - kernel_h) / stride_h + 1. */
    int (*conv_forward)(fw_backend *be, fw_conv *conv, const fw_tensor *x, fw_tensor *y,
                        fw_error *err);
    /* dx (may be NULL) from dy; dW (+ db) into weight->grad (bias->grad) per flags. */
    int (*conv_backward)(fw_backend *be, fw_conv *conv, const fw_tensor *x,
                         const fw_tensor *dy, fw_tensor *dx, unsigned flags, fw_error *err);

    /* ---- batch norm (nn.BatchNorm2d; also (N, C, 1, 1) as BatchNorm1d) ----
     * weight, bias, running_mean, running_var: (channels). Training forward
     * normalises with the batch mean and biased variance, saves them for backward
     * and updates running_mean = (1 - momentum) * running_mean + momentum * mean,
     * running_var likewise with the UNBIASED variance (x n/(n-1)), as PyTorch.
     * Eval forward uses the running statistics. num_batches_tracked is the
     * caller's. */
    int (*bn_create)(fw_backend *be, int channels, float eps, float momentum,
                     fw_param *weight, fw_param *bias, fw_param *running_mean,
                     fw_param *running_var, fw_bn **out, fw_error *err);
    void (*bn_destroy)(fw_backend *be, fw_bn *bn);
    int (*bn_forward)(fw_backend *be, fw_bn *bn, int training, const fw_tensor *x,
                      fw_tensor *y, fw_error *err);
    /* Backward of the last bn_forward (training: through batch stats; eval: through
     * the fixed running stats). dx may be NULL; dgamma/dbeta into weight/bias->grad. */
    int (*bn_backward)(fw_backend *be, fw_bn *bn, const fw_tensor *x, const fw_tensor *dy,
                       fw_tensor *dx, unsigned flags, fw_error *err);
    /* Make this layer a SyncBatchNorm over data-parallel ranks (fn NULL: local
     * statistics again). Training forward sums, per channel, the element count
     * and sum x, sum x^2 over the local batch as doubles laid out
     * [count, sum x (C), sum x^2 (C)] (n = 2C + 1), calls fn to total them
     * over the ranks, and normalises with the global mean and biased variance;
     * the running variance is unbiased with the global count. Training
     * backward sums [sum dy (C), sum dy*xhat (C)] (n = 2C), totals them with
     * fn and computes dx through the global statistics. dgamma/dbeta stay
     * this rank's local sums: the data-parallel gradient all-reduce adds them
     * up like every other weight's gradient. Eval mode never calls fn. */
    int (*bn_set_sync)(fw_backend *be, fw_bn *bn, fw_bn_sync_fn fn, void *ctx, fw_error *err);

    /* ---- ReLU (stateless) ----
     * y = max(x, 0); y may be x (in place). Backward from the OUTPUT y:
     * dx = dy * (y > 0); dx may be dy (in place). */
    int (*relu_forward)(fw_backend *be, const fw_tensor *x, fw_tensor *y, fw_error *err);
    int (*relu_backward)(fw_backend *be, const fw_tensor *y, const fw_tensor *dy,
                         fw_tensor *dx, fw_error *err);

    /* ---- residual add (stateless) ----
     * y = a + b (same shape); y may be a or b. Backward: see "Gradients" above. */
    int (*add)(fw_backend *be, const fw_tensor *a, const fw_tensor *b, fw_tensor *y,
               fw_error *err);

    /* ---- max / avg pooling ---- */
    int (*pool_create)(fw_backend *be, const fw_pool_desc *desc, fw_pool **out,
                       fw_error *err);
    void (*pool_destroy)(fw_backend *be, fw_pool *pool);
    int (*pool_forward)(fw_backend *be, fw_pool *pool, const fw_tensor *x, fw_tensor *y,
                        fw_error *err);
    /* dx (shape of the last forward's x) from dy. */
    int (*pool_backward)(fw_backend *be, fw_pool *pool, const fw_tensor *dy, fw_tensor *dx,
                         fw_error *err);

    /* ---- GeM pooling: y[n,c] = (mean_hw clamp(x[n,c,h,w], eps)^p)^(1/p) ----
     * p: a 1-element fw_param (learnable; PyTorch GeM, eps 1e-6). x (N, C, H, W)
     * -> y (N, C, 1, 1). Backward needs the forward's x and y. */
    int (*gem_create)(fw_backend *be, fw_param *p, float eps, fw_gem **out, fw_error *err);
    void (*gem_destroy)(fw_backend *be, fw_gem *gem);
    int (*gem_forward)(fw_backend *be, fw_gem *gem, const fw_tensor *x, fw_tensor *y,
                       fw_error *err);
    int (*gem_backward)(fw_backend *be, fw_gem *gem, const fw_tensor *x, const fw_tensor *y,
                        const fw_tensor *dy, fw_tensor *dx, unsigned flags, fw_error *err);

    /* ---- linear: y = x W^T + b ----
     * weight (out_features, in_features) as nn.Linear; bias (out_features) or NULL.
     * x (N, in, 1, 1) (or any (N, C, H, W) with C*H*W == in, flattened as
     * torch.flatten(x, 1)) -> y (N, out, 1, 1). dx gets x's shape. */
    int (*linear_create)(fw_backend *be, int in_features, int out_features,
                         fw_param *weight, fw_param *bias, fw_linear **out, fw_error *err);
    void (*linear_destroy)(fw_backend *be, fw_linear *lin);
    int (*linear_forward)(fw_backend *be, fw_linear *lin, const fw_tensor *x, fw_tensor *y,
                          fw_error *err);
    int (*linear_backward)(fw_backend *be, fw_linear *lin, const fw_tensor *x,
                           const fw_tensor *dy, fw_tensor *dx, unsigned flags,
                           fw_error *err);

    /* ---- L2 normalisation over C (F.normalize(x, dim=1, eps)) ----
     * x (N, C, 1, 1): y = x / max(||x[n]||_2, eps). Backward from x, y and dy. */
    int (*l2norm_forward)(fw_backend *be, const fw_tensor *x, fw_tensor *y, float eps,
                          fw_error *err);
    int (*l2norm_backward)(fw_backend *be, const fw_tensor *x, const fw_tensor *y,
                           const fw_tensor *dy, fw_tensor *dx, float eps, fw_error *err);

    /* ---- dropout (inverted: kept values scaled by 1/(1-rate)) ----
     * The mask of element i (plain (N, C, H, W) order) depends only on
     * (seed, stream, i): pass e.g. the global step as stream so a resumed run
     * draws the same masks. training == 0: y = x. Backward uses the last mask. */
    int (*dropout_create)(fw_backend *be, float rate, uint64_t seed, fw_dropout **out,
                          fw_error *err);
    void (*dropout_destroy)(fw_backend *be, fw_dropout *d);
    int (*dropout_forward)(fw_backend *be, fw_dropout *d, int training, uint64_t stream,
                           const fw_tensor *x, fw_tensor *y, fw_error *err);
    int (*dropout_backward)(fw_backend *be, fw_dropout *d, const fw_tensor *dy,
                            fw_tensor *dx, fw_error *err);

    /* ---- augmentation where the model runs (data/augment.h) ----
     * The training input is made on the backend: the decoded uint8 image
     * cache is handed over once, and each batch is made from per-sample
     * parameters drawn on the host (fw_aug_params_draw) and the cache items
     * they read. out gets (n, sc, oh, ow) in the backend's layout, equal to
     * what data/augment_cpu.c writes for the same parameters (up to the
     * rounding of the backend's precision).
     * augment_set_cache: cache (items, sh, sw, sc) uint8. The CPU backend
     * keeps the pointer (the caller keeps the cache alive and unchanged until
     * the next augment_set_cache or destroy); a GPU backend copies it to the
     * device when it fits, else reads it from pinned host memory. */
    int (*augment_set_cache)(fw_backend *be, const uint8_t *cache, int64_t items, int sw,
                             int sh, int sc, fw_error *err);
    /* params (n), items (n): cache indices in [0, items). */
    int (*augment_batch)(fw_backend *be, const fw_aug_params *params, const int64_t *items,
                         int n, int ow, int oh, fw_tensor *out, fw_error *err);

    /* ---- forget what backward and forward passes left pending (optional) ----
     * Gradients not yet taken (by sync or update_grad_sumsq) and running
     * statistics not yet downloaded are dropped: the host's values stand,
     * and the next backward starts a new gradient. For a step given up
     * halfway (a non-finite loss, out of memory). NULL: nothing is ever
     * pending (the CPU backend completes everything in each call). */
    void (*discard_pending)(fw_backend *be);

    /* ---- running statistics written on the host (optional) ----
     * After the host rewrote FW_PARAM_BUFFER data (batch norm's running
     * statistics) and nothing else: a narrower params_updated. NULL: the
     * caller uses params_updated. */
    void (*buffers_updated)(fw_backend *be);

    /* ---- the training update on the backend (optional) ----
     * A backend with its own memory (a GPU) can keep the whole update there,
     * so that gradients never go to the host and weights never come back on
     * each step. NULL in backends whose parameters are host memory (the CPU).
     *
     * update_bind: from now on the backend owns the master weights,
     * gradients and moments of tensors t[0..n): sync() no longer writes
     * their fw_param.grad, and their fw_param.data and moments' data on the
     * host are out of date after update_step until update_to_host. Host
     * writes to them are still announced with params_updated (weights and
     * moments are then uploaded again), but the host copy must be current
     * before such a write: call update_to_host first. Call once, before the
     * first backward.
     * A step's gradient is what the backward passes since the last
     * update_grad_sumsq left (a tensor they did not reach: zero);
     * update_grad_sumsq closes it, update_step (if the step goes on) applies
     * it, and the next backward starts a new one. */
    int (*update_bind)(fw_backend *be, const fw_update_tensor *t, int n, fw_error *err);
    /* Data parallel: sum the bound gradients of the tensors i with
     * reduce[i] != 0 over the ranks with fn(ctx, ...), handing it the
     * backend's own buffers (device memory and its stream on a GPU); after
     * the backward, before update_grad_sumsq. */
    int (*update_allreduce)(fw_backend *be, const int *reduce, fw_buffers_sum_fn fn, void *ctx,
                            fw_error *err);
    /* Over the bound gradients g of tensors i: *sumsq = sum of (g * mult[i])^2
     * (in double, in the tensors' order; each tensor's sum first), *finite =
     * 0 when a g is NaN or infinite. Waits for the backward. */
    int (*update_grad_sumsq)(fw_backend *be, const float *mult, double *sumsq, int *finite,
                             fw_error *err);
    /* One optimizer step of every bound tensor i with gradient g * mult[i]:
     * fw_sgd_elem / fw_adamw_elem (optim_math.h) with *h and c[i]. */
    int (*update_step)(fw_backend *be, const fw_optim_hyper *h, const fw_optim_coeffs *c,
                       const float *mult, fw_error *err);
    /* Write the bound weights and moments into their host fw_param.data. */
    int (*update_to_host)(fw_backend *be, fw_error *err);

    /* ---- the ArcFace loss term on the backend (optional) ----
     * fw_loss_arcface (loss.h) with the class weights where the backend keeps
     * them, so that the (C*k, D) products, the weights' gradient and (with
     * update_bind) their update stay there; the embeddings come and go as
     * host arrays (N x D floats). NULL: the head computes it on the host.
     * arcface_create: weight (classes * cfg->subcenters, dim) with a grad,
     * from now on a parameter of this backend (params_updated, update_bind).
     * arcface_loss: emb (n, dim), labels (n) (class or FW_NEW_WHALE); fills
     * *res as fw_loss_arcface does; with d_emb: d_emb (n, dim) += scale *
     * dL/demb on the host when it returns, and scale * dL/dW is ADDED to the
     * weight's gradient like a backward with FW_GRAD_ACCUMULATE (complete
     * at sync, or kept on the device when bound). */
    int (*arcface_create)(fw_backend *be, const fw_arcface_cfg *cfg, int classes, int dim,
                          fw_param *weight, fw_arcface **out, fw_error *err);
    void (*arcface_destroy)(fw_backend *be, fw_arcface *a);
    int (*arcface_loss)(fw_backend *be, fw_arcface *a, const float *emb, const int *labels,
                        int n, double scale, float *d_emb, fw_loss_result *res, fw_error *err);
} fw_backend_ops;

/* The CPU backend (oneDNN). */
const fw_backend_ops *fw_backend_cpu(void);

/* The CUDA backend (cuDNN, cuBLASLt, own kernels; gpu/backend_cuda.cu), or
 * NULL in a build without the CUDA toolkit. create() fails with a plain
 * message on a machine without a usable GPU. */
const fw_backend_ops *fw_backend_cuda(void);

#ifdef __cplusplus
}
#endif

#endif
