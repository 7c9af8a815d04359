/* cuda_linear.cu — fully connected layer y = x W^T + b (nn.Linear layout:
 * W (out, in)) on cuBLASLt: A/B in the backend's precision, CUBLAS_COMPUTE_32F,
 * fp32 results; the bias is added by an own kernel that also converts y to
 * the compute precision. Backward: dx = dy W, dW = dy^T x (fp32, accumulated
 * with beta in the gradient slot), db = sum_n dy (double sums).
 * Row-major (N, K) matrices are column-major (K, N): every GEMM below is
 * written as the column-major product cuBLASLt computes. An input with
 * H*W > 1 is flattened in torch.flatten(x, 1) order (C, H, W) by a permute.
 */
#include <stdlib.h>
#include <string.h>

#include "cuda_backend.h"

#define LT_WORKSPACE ((size_t)32 << 20)

struct fw_linear {
    int in, out;
    cuda_dparam weight, bias;
    cuda_slot *dw_slot, *db_slot;
    void *w_typed; /* (out, in) compute precision; NULL in fp32 (the mirror is used) */
    uint64_t w_gen;
    float *acc;    /* fp32 GEMM result scratch */
    size_t acc_cap;
    void *flat;    /* (N, C*H*W) compute precision: x or dx in flatten order */
    size_t flat_cap;
    double *db_sums; /* (2, out) */
};

static cudaDataType_t cuda_type(fw_precision p)
{
    return p == FW_PRECISION_BF16 ? CUDA_R_16BF : p == FW_PRECISION_FP16 ? CUDA_R_16F : CUDA_R_32F;
}

static int linear_setup(fw_backend *be, fw_linear *l, fw_param *weight, fw_param *bias,
                        fw_error *err)
{
    FW_TRY(cuda_dparam_init(be, &l->weight, weight, err));
    if (bias)
        FW_TRY(cuda_dparam_init(be, &l->bias, bias, err));
    if (weight->grad)
        FW_TRY(cuda_slot_create(be, weight, 1, &l->dw_slot, err));
    if (bias && bias->grad)
        FW_TRY(cuda_slot_create(be, bias, 1, &l->db_slot, err));
    if (be->prec != FW_PRECISION_FP32)
        CUDA_CHECK(cudaMalloc(&l->w_typed, (size_t)weight->numel * be->esize));
    if (bias)
        CUDA_CHECK(cudaMalloc((void **)&l->db_sums, 2 * (size_t)l->out * sizeof(double)));
    return 0;
}

int cuda_linear_create(fw_backend *be, int in_features, int out_features, fw_param *weight,
                       fw_param *bias, fw_linear **out, fw_error *err)
{
    *out = NULL;
    CUDA_ENTER(be);
    if (in_features <= 0 || out_features <= 0)
        return fw_fail(err, FW_EINVAL, "linear_create: bad feature counts %d -> %d",
                       in_features, out_features);
    if (!weight || weight->numel != (int64_t)in_features * out_features || !weight->data)
        return fw_fail(err, FW_EINVAL, "linear_create: weight %s has %lld elements, expected %lld",
                       weight ? weight->name : "(null)", weight ? (long long)weight->numel : 0LL,
                       (long long)in_features * out_features);
    if (bias && (bias->numel != out_features || !bias->data))
        return fw_fail(err, FW_EINVAL, "linear_create: bias %s has %lld elements, expected %d",
                       bias->name, (long long)bias->numel, out_features);
    fw_linear *l = (fw_linear *)calloc(1, sizeof *l);
    if (!l)
        return fw_fail(err, FW_ENOMEM, "linear_create: out of memory");
    l->in = in_features;
    l->out = out_features;
    int rc = linear_setup(be, l, weight, bias, err);
    if (rc < 0) {
        cuda_linear_destroy(be, l);
        return rc;
    }
    *out = l;
    return 0;
}

void cuda_linear_destroy(fw_backend *be, fw_linear *l)
{
    if (!l)
        return;
    cuda_enter_quiet(be);
    cuda_dparam_free(be, &l->weight);
    cuda_dparam_free(be, &l->bias);
    cuda_slot_destroy(be, l->dw_slot);
    cuda_slot_destroy(be, l->db_slot);
    void *bufs[4] = {l->w_typed, l->acc, l->flat, l->db_sums};
    for (int i = 0; i < 4; i++)
        if (bufs[i])
            cudaFree(bufs[i]);
    free(l);
}

/* ---- kernels ------------------------------------------------------------------- */

template <int P> __global__ void cast_kernel(const float *src, typename cuda_elem<P>::t *dst, int64_t n)
{
    CUDA_FOR(i, n)
    dst[i] = cuda_elem<P>::st(src[i]);
}

/* y[n, o] = acc[n, o] + bias[o] (bias may be NULL), converted. */
template <int P>
__global__ void bias_out_kernel(const float *acc, const float *bias, typename cuda_elem<P>::t *y,
                                int64_t n, int64_t out)
{
    CUDA_FOR(i, n * out)
    y[i] = cuda_elem<P>::st(bias ? acc[i] + bias[i % out] : acc[i]);
}

template <int P> static void launch_cast(fw_backend *be, const float *src, void *dst, int64_t n)
{
    cast_kernel<P><<<cuda_blocks(n, 256), 256, 0, be->stream>>>(
        src, (typename cuda_elem<P>::t *)dst, n);
}

template <int P>
static void launch_bias_out(fw_backend *be, const float *acc, const float *bias, void *y,
                            int64_t n, int64_t out)
{
    bias_out_kernel<P><<<cuda_blocks(n * out, 256), 256, 0, be->stream>>>(
        acc, bias, (typename cuda_elem<P>::t *)y, n, out);
}

/* ---- cuBLASLt ------------------------------------------------------------------ */

int cuda_gemm(fw_backend *be, cudaDataType_t t, int ta, int tb, int64_t m, int64_t n, int64_t k,
              float alpha, const void *a, const void *b, float beta, float *d, fw_error *err)
{
    cublasLtMatmulDesc_t op = NULL;
    cublasLtMatrixLayout_t la = NULL, lb = NULL, ld = NULL;
    cublasOperation_t opa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, opb = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasStatus_t st = cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F);
    if (st == CUBLAS_STATUS_SUCCESS)
        st = cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa);
    if (st == CUBLAS_STATUS_SUCCESS)
        st = cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb);
    if (st == CUBLAS_STATUS_SUCCESS)
        st = cublasLtMatrixLayoutCreate(&la, t, ta ? k : m, ta ? m : k, ta ? k : m);
    if (st == CUBLAS_STATUS_SUCCESS)
        st = cublasLtMatrixLayoutCreate(&lb, t, tb ? n : k, tb ? k : n, tb ? n : k);
    if (st == CUBLAS_STATUS_SUCCESS)
        st = cublasLtMatrixLayoutCreate(&ld, CUDA_R_32F, m, n, m);
    void *ws = NULL;
    int rc = 0;
    if (st == CUBLAS_STATUS_SUCCESS)
        rc = cuda_workspace(be, LT_WORKSPACE, &ws, err);
    if (st == CUBLAS_STATUS_SUCCESS && rc == 0) {
        st = cublasLtMatmul(be->lt, op, &alpha, a, la, b, lb, &beta, d, ld, d, ld, NULL, ws,
                            be->workspace_cap < LT_WORKSPACE ? be->workspace_cap : LT_WORKSPACE,
                            be->stream);
    }
    if (ld)
        cublasLtMatrixLayoutDestroy(ld);
    if (lb)
        cublasLtMatrixLayoutDestroy(lb);
    if (la)
        cublasLtMatrixLayoutDestroy(la);
    if (op)
        cublasLtMatmulDescDestroy(op);
    if (rc < 0)
        return rc;
    CUBLAS_CHECK(st);
    return 0;
}

static int check_input(const fw_linear *l, const fw_tensor *x, fw_error *err)
{
    if (!x->defined || x->shape.n <= 0)
        return fw_fail(err, FW_EINVAL, "linear: input tensor is empty");
    if (x->shape.c * x->shape.h * x->shape.w != l->in)
        return fw_fail(err, FW_EINVAL, "linear: input has %lld features, layer expects %d",
                       (long long)(x->shape.c * x->shape.h * x->shape.w), l->in);
    return 0;
}

/* W in the compute precision (re-made when the fp32 weights changed). */
static int weight_typed(fw_backend *be, fw_linear *l, const void **out, fw_error *err)
{
    FW_TRY(cuda_dparam_refresh(be, &l->weight, err));
    if (be->prec == FW_PRECISION_FP32) {
        *out = l->weight.d;
        return 0;
    }
    if (l->w_gen != be->weights_gen) {
        CUDA_PREC_SWITCH(be->prec, launch_cast, be, l->weight.d, l->w_typed,
                         l->weight.p->numel);
        CUDA_LAUNCH_CHECK();
        l->w_gen = be->weights_gen;
    }
    *out = l->w_typed;
    return 0;
}

/* x's rows in torch.flatten order: x itself, or a permuted copy. */
static int flat_input(fw_backend *be, fw_linear *l, const fw_tensor *x, const void **out,
                      fw_error *err)
{
    if (x->shape.h * x->shape.w == 1) {
        *out = x->d;
        return 0;
    }
    FW_TRY(cuda_grow(&l->flat, &l->flat_cap, (size_t)cuda_numel(x->shape) * be->esize, err));
    FW_TRY(cuda_permute(be, x->d, l->flat, x->shape, 0, err));
    *out = l->flat;
    return 0;
}

int cuda_linear_forward(fw_backend *be, fw_linear *l, const fw_tensor *x, fw_tensor *y,
                        fw_error *err)
{
    CUDA_ENTER(be);
    FW_TRY(check_input(l, x, err));
    if (x == y)
        return fw_fail(err, FW_EINVAL, "linear_forward: output aliases input");
    int64_t nb = x->shape.n;
    const void *w, *xf;
    FW_TRY(weight_typed(be, l, &w, err));
    FW_TRY(flat_input(be, l, x, &xf, err));
    FW_TRY(cuda_grow((void **)&l->acc, &l->acc_cap, (size_t)(nb * l->out) * sizeof(float), err));
    /* y^T (out x N) = W^T-stored (in x out)^T . x^T (in x N) */
    FW_TRY(cuda_gemm(be, cuda_type(be->prec), 1, 0, l->out, nb, l->in, 1.0f, w, xf, 0.0f, l->acc,
                     err));
    if (l->bias.p)
        FW_TRY(cuda_dparam_refresh(be, &l->bias, err));
    FW_TRY(cuda_tensor_define(be, y, (fw_shape){nb, l->out, 1, 1}, err));
    CUDA_PREC_SWITCH(be->prec, launch_bias_out, be, l->acc, l->bias.p ? l->bias.d : NULL, y->d,
                     nb, l->out);
    CUDA_LAUNCH_CHECK();
    return 0;
}

int cuda_linear_backward(fw_backend *be, fw_linear *l, const fw_tensor *x, const fw_tensor *dy,
                         fw_tensor *dx, unsigned flags, fw_error *err)
{
    CUDA_ENTER(be);
    FW_TRY(check_input(l, x, err));
    int64_t nb = x->shape.n;
    if (!dy->defined || dy->shape.n != nb || dy->shape.c * dy->shape.h * dy->shape.w != l->out)
        return fw_fail(err, FW_EINVAL, "linear_backward: dy must be (%lld, %d)", (long long)nb,
                       l->out);
    if (dx && (dx == x || dx == dy))
        return fw_fail(err, FW_EINVAL, "linear_backward: dx aliases an input");
    int want_p = !(flags & FW_GRAD_SKIP_PARAMS);
    if (want_p && (!l->dw_slot || (l->bias.p && !l->db_slot)))
        return fw_fail(err, FW_EINVAL, "linear_backward: %s has no grad buffer",
                       l->weight.p->name);
    if (want_p) {
        const void *xf;
        FW_TRY(flat_input(be, l, x, &xf, err));
        /* dW^T (in x out) = x^T (in x N) . dy (N x out), dy stored (out x N) */
        FW_TRY(cuda_gemm(be, cuda_type(be->prec), 0, 1, l->in, l->out, nb, 1.0f, xf, dy->d,
                         cuda_slot_beta(l->dw_slot, flags), l->dw_slot->d, err));
        cuda_slot_mark(l->dw_slot, flags);
        if (l->bias.p) {
            FW_TRY(cuda_channel_sums(be, CUDA_SUM_GRAD, dy->d, NULL, NULL, NULL, nb, l->out,
                                     l->db_sums, err));
            FW_TRY(cuda_sums_to_grad(be, l->db_sums, l->db_slot->d, l->out,
                                     cuda_slot_beta(l->db_slot, flags), err));
            cuda_slot_mark(l->db_slot, flags);
        }
    }
    if (dx) {
        const void *w;
        FW_TRY(weight_typed(be, l, &w, err));
        FW_TRY(cuda_grow((void **)&l->acc, &l->acc_cap, (size_t)(nb * l->in) * sizeof(float),
                         err));
        /* dx^T (in x N) = W-stored (in x out) . dy^T (out x N) */
        FW_TRY(cuda_gemm(be, cuda_type(be->prec), 0, 0, l->in, nb, l->out, 1.0f, w, dy->d, 0.0f,
                         l->acc, err));
        FW_TRY(cuda_tensor_define(be, dx, x->shape, err));
        if (x->shape.h * x->shape.w == 1) {
            CUDA_PREC_SWITCH(be->prec, launch_cast, be, l->acc, dx->d, nb * l->in);
            CUDA_LAUNCH_CHECK();
        } else {
            FW_TRY(cuda_grow(&l->flat, &l->flat_cap, (size_t)cuda_numel(x->shape) * be->esize,
                             err));
            CUDA_PREC_SWITCH(be->prec, launch_cast, be, l->acc, l->flat, nb * l->in);
            CUDA_LAUNCH_CHECK();
            FW_TRY(cuda_permute(be, l->flat, dx->d, x->shape, 1, err));
        }
    }
    return 0;
}
