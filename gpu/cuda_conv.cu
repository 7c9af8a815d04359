/* cuda_conv.cu — 2-D convolution on cuDNN (legacy API): NHWC activations and
 * KRSC (O, KH, KW, I) filters in the backend's precision, fp32 accumulation
 * (CUDNN_DATA_FLOAT compute type). Math: fp32 uses CUDNN_FMA_MATH (true fp32,
 * no TF32 conversion); bf16/fp16 use CUDNN_TENSOR_OP_MATH.
 * Per input shape (N, H, W) a plan caches the tensor descriptors and, for
 * each pass, the algorithm chosen on the pass's first call: the fastest that
 * fits a 256 MiB workspace when cuDNN times every candidate on the layer's
 * own buffers (cudnnFind...AlgorithmEx, as PyTorch's cudnn.benchmark), or
 * the first in cuDNN's heuristic ranking (..._v7, nothing timed) with
 * FLUKEWATCH_CUDNN_ALGO=heuristic. fp32 takes FMA math only (no TF32);
 * backward passes prefer deterministic algorithms. The math type cuDNN
 * reports for the algorithm is set on the descriptor before each call.
 * Weights: the fp32 OIHW host master is mirrored on the device and
 * reordered/converted to KRSC in the compute precision once per
 * params_updated(); dW comes back through the same reorder into an fp32
 * (O, I, KH, KW) gradient slot. Bias forward and backward use own kernels.
 */
#include <stdlib.h>
#include <string.h>

#include "cuda_backend.h"
#include "layout_math.h"

#define CONV_MAX_PLANS 8

/* The three passes of a convolution, each with its own algorithm. */
enum { PASS_FWD, PASS_DATA, PASS_FILTER, N_PASSES };

typedef struct conv_plan {
    int64_t n, h, w;
    fw_shape out;
    cudnnTensorDescriptor_t xd, yd;
    int algo[N_PASSES];              /* cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t */
    size_t ws[N_PASSES];             /* its workspace */
    cudnnMathType_t math[N_PASSES];  /* as the chosen algorithm reports */
    int have[N_PASSES];              /* chosen yet */
} conv_plan;

struct fw_conv {
    fw_conv_desc d;
    cuda_dparam weight, bias;
    cuda_slot *dw_slot, *db_slot;
    cudnnFilterDescriptor_t wd;
    cudnnConvolutionDescriptor_t cd;
    cudnnMathType_t math;
    void *w_typed; /* (O, KH, KW, I) compute precision */
    size_t w_typed_cap;
    uint64_t w_gen;
    void *dw_typed; /* (O, KH, KW, I) compute precision */
    size_t dw_typed_cap;
    double *db_sums; /* (2, O) */
    conv_plan plans[CONV_MAX_PLANS];
    int n_plans, next_evict;
};

static cudnnDataType_t cudnn_type(fw_precision p)
{
    return p == FW_PRECISION_BF16 ? CUDNN_DATA_BFLOAT16
                                  : p == FW_PRECISION_FP16 ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT;
}

static void plan_free(conv_plan *p)
{
    if (p->xd)
        cudnnDestroyTensorDescriptor(p->xd);
    if (p->yd)
        cudnnDestroyTensorDescriptor(p->yd);
    memset(p, 0, sizeof *p);
}

static int conv_setup(fw_backend *be, fw_conv *c, fw_error *err)
{
    const fw_conv_desc *d = &c->d;
    FW_TRY(cuda_dparam_init(be, &c->weight, c->weight.p, err));
    if (c->bias.p)
        FW_TRY(cuda_dparam_init(be, &c->bias, c->bias.p, err));
    if (c->weight.p->grad)
        FW_TRY(cuda_slot_create(be, c->weight.p, 1, &c->dw_slot, err));
    if (c->bias.p && c->bias.p->grad)
        FW_TRY(cuda_slot_create(be, c->bias.p, 1, &c->db_slot, err));
    if (c->bias.p)
        CUDA_CHECK(cudaMalloc((void **)&c->db_sums, 2 * (size_t)d->out_channels * sizeof(double)));
    CUDNN_CHECK(cudnnCreateFilterDescriptor(&c->wd));
    CUDNN_CHECK(cudnnSetFilter4dDescriptor(c->wd, cudnn_type(be->prec), CUDNN_TENSOR_NHWC,
                                           d->out_channels, d->in_channels, d->kernel_h,
                                           d->kernel_w));
    CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&c->cd));
    CUDNN_CHECK(cudnnSetConvolution2dDescriptor(c->cd, d->pad_h, d->pad_w, d->stride_h,
                                                d->stride_w, 1, 1, CUDNN_CROSS_CORRELATION,
                                                CUDNN_DATA_FLOAT));
    c->math = be->prec == FW_PRECISION_FP32 ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH;
    CUDNN_CHECK(cudnnSetConvolutionMathType(c->cd, c->math));
    return 0;
}

int cuda_conv_create(fw_backend *be, const fw_conv_desc *desc, fw_param *weight,
                     fw_param *bias, fw_conv **out, fw_error *err)
{
    *out = NULL;
    CUDA_ENTER(be);
    const fw_conv_desc *d = desc;
    if (d->in_channels <= 0 || d->out_channels <= 0 || d->kernel_h <= 0 || d->kernel_w <= 0 ||
        d->stride_h <= 0 || d->stride_w <= 0 || d->pad_h < 0 || d->pad_w < 0)
        return fw_fail(err, FW_EINVAL, "conv_create: bad descriptor");
    if (!weight || !weight->data ||
        weight->numel != (int64_t)d->out_channels * d->in_channels * d->kernel_h * d->kernel_w)
        return fw_fail(err, FW_EINVAL, "conv_create: weight %s has %lld elements, expected %d",
                       weight ? weight->name : "(null)", weight ? (long long)weight->numel : 0LL,
                       d->out_channels * d->in_channels * d->kernel_h * d->kernel_w);
    if (bias && (bias->numel != d->out_channels || !bias->data))
        return fw_fail(err, FW_EINVAL, "conv_create: bias %s has %lld elements, expected %d",
                       bias->name, (long long)bias->numel, d->out_channels);
    fw_conv *c = (fw_conv *)calloc(1, sizeof *c);
    if (!c)
        return fw_fail(err, FW_ENOMEM, "conv_create: out of memory");
    c->d = *d;
    c->weight.p = weight;
    c->bias.p = bias;
    int rc = conv_setup(be, c, err);
    if (rc < 0) {
        cuda_conv_destroy(be, c);
        return rc;
    }
    *out = c;
    return 0;
}

void cuda_conv_destroy(fw_backend *be, fw_conv *c)
{
    if (!c)
        return;
    cuda_enter_quiet(be);
    for (int i = 0; i < c->n_plans; i++)
        plan_free(&c->plans[i]);
    if (c->wd)
        cudnnDestroyFilterDescriptor(c->wd);
    if (c->cd)
        cudnnDestroyConvolutionDescriptor(c->cd);
    cuda_dparam_free(be, &c->weight);
    cuda_dparam_free(be, &c->bias);
    cuda_slot_destroy(be, c->dw_slot);
    cuda_slot_destroy(be, c->db_slot);
    if (c->w_typed)
        cudaFree(c->w_typed);
    if (c->dw_typed)
        cudaFree(c->dw_typed);
    if (c->db_sums)
        cudaFree(c->db_sums);
    free(c);
}

/* ---- algorithm choice -------------------------------------------------------- */

#define ALGO_MAX 16

static const char *const PASS_NAMES[N_PASSES] = {"forward", "backward-data", "backward-filter"};

/* One candidate of any pass, as cuDNN's perf records give it. */
typedef struct algo_rank {
    int algo;
    cudnnMathType_t math;
    int deterministic;
} algo_rank;

/* The buffers a pass reads and writes (Find times the algorithms on them):
 * FWD x, w -> y; DATA dy, w -> dx; FILTER x, dy -> dw. */
typedef struct pass_bufs {
    const void *a, *b;
    void *out;
} pass_bufs;

/* Unset or "find": time the candidates; "heuristic": cuDNN's ranking. */
static int use_find(fw_error *err, int *find)
{
    const char *v = getenv("FLUKEWATCH_CUDNN_ALGO");
    if (!v || !*v || !strcmp(v, "find")) {
        *find = 1;
        return 0;
    }
    if (!strcmp(v, "heuristic")) {
        *find = 0;
        return 0;
    }
    return fw_fail(err, FW_EINVAL, "FLUKEWATCH_CUDNN_ALGO='%.40s': expected find or heuristic",
                   v);
}

/* perf records of any pass (the three types have the same fields) -> ranks */
template <typename Perf>
static void copy_ranks(const Perf *perf, int n, algo_rank *out)
{
    for (int i = 0; i < n; i++) {
        out[i].algo = perf[i].status == CUDNN_STATUS_SUCCESS ? (int)perf[i].algo : -1;
        out[i].math = perf[i].mathType;
        out[i].deterministic = perf[i].determinism == CUDNN_DETERMINISTIC;
    }
}

/* cuDNN's candidates for a pass, best first; failed ones have algo -1. */
static int rank_algos(fw_backend *be, fw_conv *c, conv_plan *p, int pass, const pass_bufs *b,
                      algo_rank *out, int *n, fw_error *err)
{
    int find;
    FW_TRY(use_find(err, &find));
    void *ws = NULL;
    if (find)
        FW_TRY(cuda_workspace(be, CUDA_WORKSPACE_LIMIT, &ws, err));
    size_t wsb = CUDA_WORKSPACE_LIMIT;
    *n = 0;
    CUDNN_CHECK(cudnnSetConvolutionMathType(c->cd, c->math));
    if (pass == PASS_FWD) {
        cudnnConvolutionFwdAlgoPerf_t perf[ALGO_MAX];
        if (find)
            CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(
                be->cudnn, p->xd, b->a, c->wd, b->b, c->cd, p->yd, b->out, ALGO_MAX, n, perf, ws,
                wsb));
        else
            CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(be->cudnn, p->xd, c->wd, c->cd,
                                                               p->yd, ALGO_MAX, n, perf));
        copy_ranks(perf, *n, out);
    } else if (pass == PASS_DATA) {
        cudnnConvolutionBwdDataAlgoPerf_t perf[ALGO_MAX];
        if (find)
            CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(
                be->cudnn, c->wd, b->b, p->yd, b->a, c->cd, p->xd, b->out, ALGO_MAX, n, perf, ws,
                wsb));
        else
            CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(be->cudnn, c->wd, p->yd,
                                                                    c->cd, p->xd, ALGO_MAX, n,
                                                                    perf));
        copy_ranks(perf, *n, out);
    } else {
        cudnnConvolutionBwdFilterAlgoPerf_t perf[ALGO_MAX];
        if (find)
            CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(
                be->cudnn, p->xd, b->a, p->yd, b->b, c->cd, c->wd, b->out, ALGO_MAX, n, perf, ws,
                wsb));
        else
            CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(be->cudnn, p->xd, p->yd,
                                                                      c->cd, c->wd, ALGO_MAX, n,
                                                                      perf));
        copy_ranks(perf, *n, out);
    }
    return 0;
}

/* The workspace algorithm `algo` of `pass` needs (math type already set). */
static cudnnStatus_t pass_workspace(fw_backend *be, fw_conv *c, conv_plan *p, int pass, int algo,
                                    size_t *ws)
{
    if (pass == PASS_FWD)
        return cudnnGetConvolutionForwardWorkspaceSize(
            be->cudnn, p->xd, c->wd, c->cd, p->yd, (cudnnConvolutionFwdAlgo_t)algo, ws);
    if (pass == PASS_DATA)
        return cudnnGetConvolutionBackwardDataWorkspaceSize(
            be->cudnn, c->wd, p->yd, c->cd, p->xd, (cudnnConvolutionBwdDataAlgo_t)algo, ws);
    return cudnnGetConvolutionBackwardFilterWorkspaceSize(
        be->cudnn, p->xd, p->yd, c->cd, c->wd, (cudnnConvolutionBwdFilterAlgo_t)algo, ws);
}

/* Whether a ranked algorithm may run: fp32 only with FMA math (no TF32, as
 * PyTorch with allow_tf32 off), 16-bit with what cuDNN reports. */
static int math_ok(const fw_backend *be, cudnnMathType_t m)
{
    return be->prec != FW_PRECISION_FP32 || m == CUDNN_FMA_MATH;
}

/* Choose the pass's algorithm: the best ranked that may run within the
 * workspace limit; backward passes take a deterministic one first. */
static int pick(fw_backend *be, fw_conv *c, conv_plan *p, int pass, const pass_bufs *b,
                fw_error *err)
{
    algo_rank r[ALGO_MAX];
    int n = 0;
    FW_TRY(rank_algos(be, c, p, pass, b, r, &n, err));
    for (int strict = pass == PASS_FWD ? 0 : 1; strict >= 0; strict--)
        for (int i = 0; i < n; i++) {
            size_t ws = 0;
            if (r[i].algo < 0 || !math_ok(be, r[i].math) || (strict && !r[i].deterministic) ||
                cudnnSetConvolutionMathType(c->cd, r[i].math) != CUDNN_STATUS_SUCCESS ||
                pass_workspace(be, c, p, pass, r[i].algo, &ws) != CUDNN_STATUS_SUCCESS ||
                ws > CUDA_WORKSPACE_LIMIT)
                continue;
            p->algo[pass] = r[i].algo;
            p->ws[pass] = ws;
            p->math[pass] = r[i].math;
            p->have[pass] = 1;
            return 0;
        }
    return fw_fail(err, FW_EDEVICE, "conv: cuDNN offers no %s algorithm for %lldx%lldx%lld "
                   "-> %d channels within %zu MiB", PASS_NAMES[pass], (long long)p->n,
                   (long long)p->h, (long long)p->w, c->d.out_channels,
                   CUDA_WORKSPACE_LIMIT >> 20);
}

static int plan_get(fw_backend *be, fw_conv *c, fw_shape in, conv_plan **out, fw_error *err)
{
    if (in.c != c->d.in_channels)
        return fw_fail(err, FW_EINVAL, "conv: input has %lld channels, layer expects %d",
                       (long long)in.c, c->d.in_channels);
    if (in.n <= 0 || in.h + 2 * c->d.pad_h < c->d.kernel_h ||
        in.w + 2 * c->d.pad_w < c->d.kernel_w)
        return fw_fail(err, FW_EINVAL,
                       "conv: input %lldx%lld (batch %lld) too small for kernel %dx%d",
                       (long long)in.h, (long long)in.w, (long long)in.n, c->d.kernel_h,
                       c->d.kernel_w);
    for (int i = 0; i < c->n_plans; i++)
        if (c->plans[i].n == in.n && c->plans[i].h == in.h && c->plans[i].w == in.w) {
            *out = &c->plans[i];
            return 0;
        }
    conv_plan *p;
    if (c->n_plans < CONV_MAX_PLANS) {
        p = &c->plans[c->n_plans++];
    } else {
        p = &c->plans[c->next_evict];
        c->next_evict = (c->next_evict + 1) % CONV_MAX_PLANS;
        plan_free(p);
    }
    p->n = p->h = p->w = -1; /* not valid until complete */
    fw_shape o = {in.n, c->d.out_channels, (in.h + 2 * c->d.pad_h - c->d.kernel_h) / c->d.stride_h + 1,
                  (in.w + 2 * c->d.pad_w - c->d.kernel_w) / c->d.stride_w + 1};
    cudnnDataType_t t = cudnn_type(be->prec);
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->xd));
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->xd, CUDNN_TENSOR_NHWC, t, (int)in.n, (int)in.c,
                                           (int)in.h, (int)in.w));
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->yd));
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->yd, CUDNN_TENSOR_NHWC, t, (int)o.n, (int)o.c,
                                           (int)o.h, (int)o.w));
    int dims[4];
    CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(c->cd, p->xd, c->wd, &dims[0], &dims[1],
                                                      &dims[2], &dims[3]));
    if (dims[0] != o.n || dims[1] != o.c || dims[2] != o.h || dims[3] != o.w)
        return fw_fail(err, FW_EDEVICE, "conv: cuDNN output %dx%dx%dx%d differs from %lldx%lldx%lldx%lld",
                       dims[0], dims[1], dims[2], dims[3], (long long)o.n, (long long)o.c,
                       (long long)o.h, (long long)o.w);
    p->out = o;
    p->n = in.n;
    p->h = in.h;
    p->w = in.w;
    *out = p;
    return 0;
}

/* ---- weights ----------------------------------------------------------------- */

/* to_krsc: src fp32 (O, I, KH, KW) -> dst typed (O, KH, KW, I);
 * else src typed (O, KH, KW, I) -> dst fp32 (O, I, KH, KW) with dst = src + beta dst. */
template <int P>
__global__ void filter_kernel(const void *src, void *dst, int o, int in, int kh, int kw,
                              int to_krsc, float beta)
{
    typedef typename cuda_elem<P>::t T;
    CUDA_FOR(i, (int64_t)o * in * kh * kw)
    {
        int64_t j = fw_oihw_to_krsc(i, in, kh, kw); /* i: OIHW index */
        if (to_krsc) {
            ((T *)dst)[j] = cuda_elem<P>::st(((const float *)src)[i]);
        } else {
            float v = cuda_elem<P>::ld(((const T *)src)[j]);
            float *out = (float *)dst;
            out[i] = beta != 0.0f ? v + beta * out[i] : v;
        }
    }
}

template <int P>
static void launch_filter(fw_backend *be, const fw_conv *c, const void *src, void *dst,
                          int to_krsc, float beta)
{
    int64_t n = (int64_t)c->d.out_channels * c->d.in_channels * c->d.kernel_h * c->d.kernel_w;
    filter_kernel<P><<<cuda_blocks(n, 256), 256, 0, be->stream>>>(
        src, dst, c->d.out_channels, c->d.in_channels, c->d.kernel_h, c->d.kernel_w, to_krsc,
        beta);
}

static int weights_typed(fw_backend *be, fw_conv *c, fw_error *err)
{
    if (c->w_typed && c->w_gen == be->weights_gen)
        return 0;
    FW_TRY(cuda_dparam_refresh(be, &c->weight, err));
    FW_TRY(cuda_grow(&c->w_typed, &c->w_typed_cap, (size_t)c->weight.p->numel * be->esize, err));
    CUDA_PREC_SWITCH(be->prec, launch_filter, be, c, c->weight.d, c->w_typed, 1, 0.0f);
    CUDA_LAUNCH_CHECK();
    c->w_gen = be->weights_gen;
    return 0;
}

/* ---- bias -------------------------------------------------------------------- */

template <int P>
__global__ void bias_add_kernel(typename cuda_elem<P>::t *y, const float *bias, int64_t n,
                                int64_t c)
{
    CUDA_FOR(i, n)
    y[i] = cuda_elem<P>::st(cuda_elem<P>::ld(y[i]) + bias[i % c]);
}

template <int P>
static void launch_bias(fw_backend *be, void *y, const float *bias, int64_t n, int64_t c)
{
    bias_add_kernel<P><<<cuda_blocks(n, 256), 256, 0, be->stream>>>(
        (typename cuda_elem<P>::t *)y, bias, n, c);
}

/* ---- passes ------------------------------------------------------------------ */

int cuda_conv_forward(fw_backend *be, fw_conv *c, const fw_tensor *x, fw_tensor *y,
                      fw_error *err)
{
    CUDA_ENTER(be);
    if (!x->defined)
        return fw_fail(err, FW_EINVAL, "conv_forward: input tensor is empty");
    if (x == y)
        return fw_fail(err, FW_EINVAL, "conv_forward: output aliases input");
    conv_plan *p;
    FW_TRY(plan_get(be, c, x->shape, &p, err));
    FW_TRY(weights_typed(be, c, err));
    FW_TRY(cuda_tensor_define(be, y, p->out, err));
    if (!p->have[PASS_FWD]) {
        pass_bufs b = {x->d, c->w_typed, y->d};
        FW_TRY(pick(be, c, p, PASS_FWD, &b, err));
    }
    void *ws = NULL;
    if (p->ws[PASS_FWD])
        FW_TRY(cuda_workspace(be, p->ws[PASS_FWD], &ws, err));
    float one = 1.0f, zero = 0.0f;
    CUDNN_CHECK(cudnnSetConvolutionMathType(c->cd, p->math[PASS_FWD]));
    CUDNN_CHECK(cudnnConvolutionForward(be->cudnn, &one, p->xd, x->d, c->wd, c->w_typed, c->cd,
                                        (cudnnConvolutionFwdAlgo_t)p->algo[PASS_FWD], ws,
                                        p->ws[PASS_FWD], &zero, p->yd, y->d));
    if (c->bias.p) {
        FW_TRY(cuda_dparam_refresh(be, &c->bias, err));
        CUDA_PREC_SWITCH(be->prec, launch_bias, be, y->d, c->bias.d, cuda_numel(p->out),
                         p->out.c);
        CUDA_LAUNCH_CHECK();
    }
    return 0;
}

int cuda_conv_backward(fw_backend *be, fw_conv *c, const fw_tensor *x, const fw_tensor *dy,
                       fw_tensor *dx, unsigned flags, fw_error *err)
{
    CUDA_ENTER(be);
    if (!x->defined || !dy->defined)
        return fw_fail(err, FW_EINVAL, "conv_backward: input tensor is empty");
    if (dx && (dx == x || dx == dy))
        return fw_fail(err, FW_EINVAL, "conv_backward: dx aliases an input");
    int want_w = !(flags & FW_GRAD_SKIP_PARAMS);
    if (want_w && (!c->dw_slot || (c->bias.p && !c->db_slot)))
        return fw_fail(err, FW_EINVAL, "conv_backward: %s has no grad buffer",
                       c->weight.p->name);
    conv_plan *p;
    FW_TRY(plan_get(be, c, x->shape, &p, err));
    if (!cuda_shape_eq(dy->shape, p->out))
        return fw_fail(err, FW_EINVAL, "conv_backward: dy shape does not match the output");
    float one = 1.0f, zero = 0.0f;
    if (want_w) {
        FW_TRY(cuda_grow(&c->dw_typed, &c->dw_typed_cap, (size_t)c->weight.p->numel * be->esize,
                         err));
        if (!p->have[PASS_FILTER]) {
            pass_bufs b = {x->d, dy->d, c->dw_typed};
            FW_TRY(pick(be, c, p, PASS_FILTER, &b, err));
        }
        void *ws = NULL;
        if (p->ws[PASS_FILTER])
            FW_TRY(cuda_workspace(be, p->ws[PASS_FILTER], &ws, err));
        CUDNN_CHECK(cudnnSetConvolutionMathType(c->cd, p->math[PASS_FILTER]));
        CUDNN_CHECK(cudnnConvolutionBackwardFilter(
            be->cudnn, &one, p->xd, x->d, p->yd, dy->d, c->cd,
            (cudnnConvolutionBwdFilterAlgo_t)p->algo[PASS_FILTER], ws, p->ws[PASS_FILTER], &zero,
            c->wd, c->dw_typed));
        CUDA_PREC_SWITCH(be->prec, launch_filter, be, c, c->dw_typed, c->dw_slot->d, 0,
                         cuda_slot_beta(c->dw_slot, flags));
        CUDA_LAUNCH_CHECK();
        cuda_slot_mark(c->dw_slot, flags);
        if (c->bias.p) {
            FW_TRY(cuda_channel_sums(be, CUDA_SUM_GRAD, dy->d, NULL, NULL, NULL,
                                     p->out.n * p->out.h * p->out.w, p->out.c, c->db_sums, err));
            FW_TRY(cuda_sums_to_grad(be, c->db_sums, c->db_slot->d, p->out.c,
                                     cuda_slot_beta(c->db_slot, flags), err));
            cuda_slot_mark(c->db_slot, flags);
        }
    }
    if (dx) {
        FW_TRY(weights_typed(be, c, err));
        FW_TRY(cuda_tensor_define(be, dx, x->shape, err));
        if (!p->have[PASS_DATA]) {
            pass_bufs b = {dy->d, c->w_typed, dx->d};
            FW_TRY(pick(be, c, p, PASS_DATA, &b, err));
        }
        void *ws = NULL;
        if (p->ws[PASS_DATA])
            FW_TRY(cuda_workspace(be, p->ws[PASS_DATA], &ws, err));
        CUDNN_CHECK(cudnnSetConvolutionMathType(c->cd, p->math[PASS_DATA]));
        CUDNN_CHECK(cudnnConvolutionBackwardData(
            be->cudnn, &one, c->wd, c->w_typed, p->yd, dy->d, c->cd,
            (cudnnConvolutionBwdDataAlgo_t)p->algo[PASS_DATA], ws, p->ws[PASS_DATA], &zero, p->xd,
            dx->d));
    }
    return 0;
}
