/* cuda_arcface.cu — the ArcFace / sub-centre ArcFace loss term on the GPU
 * (arcface_create / arcface_loss / arcface_destroy; see src/backend.h), the
 * device twin of src/loss_arcface.c: the same steps, the same per-row code
 * (src/loss_row_math.h), fp32 products on cuBLASLt where the host uses
 * oneDNN's sgemm.
 *
 * The class weights W (rows = classes * k, D) live on the device: an fp32
 * master mirror (cuda_dparam) and an fp32 gradient slot, so that with
 * update_bind neither ever crosses PCIe. Per call only the embeddings
 * (N x D floats) go up, and dL/demb (N x D) and the per-row losses come back.
 *
 *   re, rw    row norms of e and W (fw_lm_row_norm, one thread a row)
 *   cos       e W^T / (re rw)                          (GEMM, then scaled)
 *   per row   sub-centre max, margin, scale, cross-entropy (fw_arcface_row),
 *             dcos at each class's arg-max (fw_arcface_dcos_row),
 *             corr_e = rade * sum_j dcos cos            (one thread a row)
 *   corr_w    radw * sum_i dcos cos                     (one thread a W row)
 *   dcos      /= re rw, as floats for the products
 *   d_emb     alpha (dcos W - corr_e e)                 (GEMM, beta 1)
 *   dW       += alpha (dcos^T e - corr_w W)             (GEMM, beta 1)
 * with alpha = scale / (labelled rows).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_backend.h"
#include "../src/loss_row_math.h"

#define ARC_THREADS 128

struct fw_arcface {
    fw_arcface_cfg cfg;
    fw_arcface_consts consts;
    int classes, k, rows, dim;
    cuda_dparam w;        /* (rows, dim) fp32 master */
    cuda_slot *dw;        /* (rows, dim) fp32 gradient */
    double *rw, *radw;    /* (rows) */
    double *corr_w;       /* (rows) */
    int cap_n;            /* the buffers below hold cap_n rows */
    float *emb;           /* (n, dim) */
    float *demb;          /* (n, dim) */
    int *labels;          /* (n) */
    float *cos_f;         /* (n, rows) products, then dcos as floats */
    double *cosv, *dcos;  /* (n, rows) */
    double *logits;       /* (n, classes) */
    int *arg;             /* (n, classes) */
    double *re, *rade, *dphi, *corr_e, *loss_row; /* (n) */
    float *demb_h;        /* pinned (n, dim) */
    double *loss_h;       /* pinned (n) */
};

static void free_rows(fw_arcface *a)
{
    cudaFree(a->emb);
    cudaFree(a->demb);
    cudaFree(a->labels);
    cudaFree(a->cos_f);
    cudaFree(a->cosv);
    cudaFree(a->dcos);
    cudaFree(a->logits);
    cudaFree(a->arg);
    cudaFree(a->re);
    cudaFreeHost(a->demb_h);
    cudaFreeHost(a->loss_h);
    a->emb = a->demb = a->cos_f = a->demb_h = NULL;
    a->labels = a->arg = NULL;
    a->cosv = a->dcos = a->logits = a->re = a->loss_h = NULL;
    a->cap_n = 0;
}

/* Buffers for n rows (kept when large enough). */
static int ensure_rows(fw_arcface *a, int n, fw_error *err)
{
    if (n <= a->cap_n)
        return 0;
    free_rows(a);
    size_t nd = (size_t)n * a->dim, nr = (size_t)n * a->rows, nc = (size_t)n * a->classes;
    CUDA_CHECK(cudaMalloc((void **)&a->emb, nd * sizeof(float)));
    CUDA_CHECK(cudaMalloc((void **)&a->demb, nd * sizeof(float)));
    CUDA_CHECK(cudaMalloc((void **)&a->labels, (size_t)n * sizeof(int)));
    CUDA_CHECK(cudaMalloc((void **)&a->cos_f, nr * sizeof(float)));
    CUDA_CHECK(cudaMalloc((void **)&a->cosv, nr * sizeof(double)));
    CUDA_CHECK(cudaMalloc((void **)&a->dcos, nr * sizeof(double)));
    CUDA_CHECK(cudaMalloc((void **)&a->logits, nc * sizeof(double)));
    CUDA_CHECK(cudaMalloc((void **)&a->arg, nc * sizeof(int)));
    CUDA_CHECK(cudaMalloc((void **)&a->re, 5 * (size_t)n * sizeof(double)));
    a->rade = a->re + n;
    a->dphi = a->rade + n;
    a->corr_e = a->dphi + n;
    a->loss_row = a->corr_e + n;
    CUDA_CHECK(cudaMallocHost((void **)&a->demb_h, nd * sizeof(float)));
    CUDA_CHECK(cudaMallocHost((void **)&a->loss_h, (size_t)n * sizeof(double)));
    a->cap_n = n;
    return 0;
}

void cuda_arcface_destroy(fw_backend *be, fw_arcface *a)
{
    if (!a)
        return;
    cuda_enter_quiet(be);
    free_rows(a);
    cudaFree(a->rw);
    cuda_dparam_free(be, &a->w);
    cuda_slot_destroy(be, a->dw);
    free(a);
}

static int arcface_setup(fw_backend *be, fw_arcface *a, fw_param *weight, fw_error *err)
{
    FW_TRY(cuda_dparam_init(be, &a->w, weight, err));
    FW_TRY(cuda_slot_create(be, weight, 1, &a->dw, err));
    CUDA_CHECK(cudaMalloc((void **)&a->rw, 3 * (size_t)a->rows * sizeof(double)));
    a->radw = a->rw + a->rows;
    a->corr_w = a->radw + a->rows;
    return 0;
}

int cuda_arcface_create(fw_backend *be, const fw_arcface_cfg *cfg, int classes, int dim,
                        fw_param *weight, fw_arcface **out, fw_error *err)
{
    *out = NULL;
    CUDA_ENTER(be);
    const double s = cfg->scale, m = cfg->margin, eps = cfg->label_smoothing;
    if (classes <= 0 || dim <= 0 || cfg->subcenters <= 0)
        return fw_fail(err, FW_EINVAL, "ArcFace loss: %d classes x %d sub-centres x %d dims",
                       classes, cfg->subcenters, dim);
    if (!(s > 0.0) || !(m >= 0.0 && m < M_PI) || !(eps >= 0.0 && eps < 1.0))
        return fw_fail(err, FW_EINVAL, "ArcFace loss: scale %g, margin %g, label smoothing %g",
                       s, m, eps);
    if (!weight || !weight->data || !weight->grad ||
        weight->numel != (int64_t)classes * cfg->subcenters * dim)
        return fw_fail(err, FW_EINVAL, "ArcFace loss: weight %s is not (%d x %d, %d) with a grad",
                       weight ? weight->name : "(null)", classes, cfg->subcenters, dim);
    fw_arcface *a = (fw_arcface *)calloc(1, sizeof *a);
    if (!a)
        return fw_fail(err, FW_ENOMEM, "ArcFace loss: out of memory");
    a->cfg = *cfg;
    a->consts = fw_arcface_consts_of(s, m, eps);
    a->classes = classes;
    a->k = cfg->subcenters;
    a->rows = classes * cfg->subcenters;
    a->dim = dim;
    int rc = arcface_setup(be, a, weight, err);
    if (rc < 0) {
        cuda_arcface_destroy(be, a);
        return rc;
    }
    *out = a;
    return 0;
}

/* ---- kernels ------------------------------------------------------------------ */

__global__ void arc_norms_kernel(const float *x, int rows, int d, double *r, double *rad)
{
    CUDA_FOR(i, rows)
    fw_lm_row_norm(x + (size_t)i * d, d, &r[i], &rad[i]);
}

/* cos (n, rows) = products / (re rw) */
__global__ void arc_cos_kernel(const float *prod, const double *re, const double *rw, int n,
                               int rows, double *cosv)
{
    CUDA_FOR(t, (int64_t)n * rows)
    {
        int64_t i = t / rows, j = t % rows;
        cosv[t] = (double)prod[t] / (re[i] * rw[j]);
    }
}

/* One thread per sample: its loss, and with grads its dcos row and corr_e. */
__global__ void arc_rows_kernel(fw_arcface_consts consts, const int *labels,
                                int n, int classes, int k, int rows, int grads,
                                const double *cosv, double *logits, int *arg, double *dphi,
                                double *dcos, const double *rade, double *corr_e,
                                double *loss_row)
{
    CUDA_FOR(i, n)
    {
        const int y = labels[i];
        loss_row[i] = 0.0;
        corr_e[i] = 0.0;
        if (y < 0)
            continue;
        const double *ci = cosv + (size_t)i * rows;
        double *z = logits + (size_t)i * classes;
        int *ai = arg + (size_t)i * classes;
        loss_row[i] = fw_arcface_row(ci, classes, k, y, &consts, z, ai, &dphi[i]);
        if (!grads)
            continue;
        double *dci = dcos + (size_t)i * rows; /* zeroed before the launch */
        fw_arcface_dcos_row(z, ai, classes, k, y, consts.s, dphi[i], dci);
        double acc = 0.0;
        for (int j = 0; j < rows; j++)
            acc += dci[j] * ci[j];
        corr_e[i] = acc * rade[i];
    }
}

/* One thread per W row: corr_w = radw * sum_i dcos cos (i in order). */
__global__ void arc_corr_w_kernel(const double *dcos, const double *cosv, const double *radw,
                                  int n, int rows, double *corr_w)
{
    CUDA_FOR(j, rows)
    {
        double s = 0.0;
        for (int i = 0; i < n; i++)
            s += dcos[(size_t)i * rows + j] * cosv[(size_t)i * rows + j];
        corr_w[j] = s * radw[j];
    }
}

/* dcos / (re rw) as floats (for the products) */
__global__ void arc_dcos_f_kernel(const double *dcos, const double *re, const double *rw, int n,
                                  int rows, float *out)
{
    CUDA_FOR(t, (int64_t)n * rows)
    {
        int64_t i = t / rows, j = t % rows;
        out[t] = (float)(dcos[t] / (re[i] * rw[j]));
    }
}

/* out (rows, d) = beta * out - (float)(alpha * corr[r]) * self (rows, d) */
__global__ void arc_corr_kernel(float *out, float beta, const double *corr, double alpha,
                                const float *self, int rows, int d)
{
    CUDA_FOR(t, (int64_t)rows * d)
    {
        int64_t r = t / d;
        float c = (float)(alpha * corr[r]);
        float o = beta != 0.0f ? beta * out[t] : 0.0f;
        out[t] = o - c * self[t];
    }
}

/* ---- the loss ------------------------------------------------------------------ */

static int check_labels(const fw_arcface *a, const int *labels, int n, int *known,
                        fw_error *err)
{
    *known = 0;
    for (int i = 0; i < n; i++) {
        if (labels[i] < -1 || labels[i] >= a->classes)
            return fw_fail(err, FW_EINVAL, "ArcFace loss: label %d of row %d is outside "
                           "[0, %d) and not new_whale", labels[i], i, a->classes);
        *known += labels[i] >= 0;
    }
    return 0;
}

int cuda_arcface_loss(fw_backend *be, fw_arcface *a, const float *emb, const int *labels, int n,
                      double scale, float *d_emb, fw_loss_result *res, fw_error *err)
{
    CUDA_ENTER(be);
    memset(res, 0, sizeof *res);
    if (n < 0 || (n > 0 && (!emb || !labels)))
        return fw_fail(err, FW_EINVAL, "ArcFace loss: bad batch (N=%d)", n);
    int known;
    FW_TRY(check_labels(a, labels, n, &known, err));
    if (known == 0)
        return 0;
    const int R = a->rows, D = a->dim, C = a->classes;
    const int grads = d_emb != NULL;
    FW_TRY(ensure_rows(a, n, err));
    FW_TRY(cuda_dparam_refresh(be, &a->w, err));
    size_t nd = (size_t)n * D, nr = (size_t)n * R;
    /* pageable sources: staged before the calls return */
    CUDA_CHECK(cudaMemcpyAsync(a->emb, emb, nd * sizeof(float), cudaMemcpyHostToDevice,
                               be->stream));
    CUDA_CHECK(cudaMemcpyAsync(a->labels, labels, (size_t)n * sizeof(int),
                               cudaMemcpyHostToDevice, be->stream));
    arc_norms_kernel<<<cuda_blocks(n, ARC_THREADS), ARC_THREADS, 0, be->stream>>>(
        a->emb, n, D, a->re, a->rade);
    arc_norms_kernel<<<cuda_blocks(R, ARC_THREADS), ARC_THREADS, 0, be->stream>>>(
        a->w.d, R, D, a->rw, a->radw);
    CUDA_LAUNCH_CHECK();
    /* products (n, R) row-major = col-major (R, n) = W (R x D)^T-stored . e */
    FW_TRY(cuda_gemm(be, CUDA_R_32F, 1, 0, R, n, D, 1.0f, a->w.d, a->emb, 0.0f, a->cos_f, err));
    arc_cos_kernel<<<cuda_blocks((int64_t)nr, 256), 256, 0, be->stream>>>(a->cos_f, a->re, a->rw,
                                                                          n, R, a->cosv);
    if (grads)
        CUDA_CHECK(cudaMemsetAsync(a->dcos, 0, nr * sizeof(double), be->stream));
    arc_rows_kernel<<<cuda_blocks(n, 32), 32, 0, be->stream>>>(
        a->consts, a->labels, n, C, a->k, R, grads, a->cosv, a->logits, a->arg, a->dphi,
        a->dcos, a->rade, a->corr_e, a->loss_row);
    CUDA_LAUNCH_CHECK();
    CUDA_CHECK(cudaMemcpyAsync(a->loss_h, a->loss_row, (size_t)n * sizeof(double),
                               cudaMemcpyDeviceToHost, be->stream));
    if (grads) {
        double alpha = scale / known;
        arc_corr_w_kernel<<<cuda_blocks(R, 256), 256, 0, be->stream>>>(a->dcos, a->cosv,
                                                                        a->radw, n, R, a->corr_w);
        arc_dcos_f_kernel<<<cuda_blocks((int64_t)nr, 256), 256, 0, be->stream>>>(
            a->dcos, a->re, a->rw, n, R, a->cos_f);
        /* d_emb (n, D) = alpha (dcos W - corr_e e): col-major (D, n) = W-stored (D x R) . dcos */
        arc_corr_kernel<<<cuda_blocks((int64_t)nd, 256), 256, 0, be->stream>>>(
            a->demb, 0.0f, a->corr_e, alpha, a->emb, n, D);
        CUDA_LAUNCH_CHECK();
        FW_TRY(cuda_gemm(be, CUDA_R_32F, 0, 0, D, n, R, (float)alpha, a->w.d, a->cos_f, 1.0f,
                         a->demb, err));
        /* dW (R, D) += alpha (dcos^T e - corr_w W): col-major (D, R) = e (D x n) . dcos^T */
        arc_corr_kernel<<<cuda_blocks((int64_t)R * D, 256), 256, 0, be->stream>>>(
            a->dw->d, cuda_slot_beta(a->dw, FW_GRAD_ACCUMULATE), a->corr_w, alpha, a->w.d, R, D);
        CUDA_LAUNCH_CHECK();
        FW_TRY(cuda_gemm(be, CUDA_R_32F, 0, 1, D, R, n, (float)alpha, a->emb, a->cos_f, 1.0f,
                         a->dw->d, err));
        cuda_slot_mark(a->dw, FW_GRAD_ACCUMULATE);
        CUDA_CHECK(cudaMemcpyAsync(a->demb_h, a->demb, nd * sizeof(float),
                                   cudaMemcpyDeviceToHost, be->stream));
    }
    CUDA_CHECK(cudaStreamSynchronize(be->stream));
    double total = 0.0;
    for (int i = 0; i < n; i++)
        total += a->loss_h[i];
    if (grads)
        for (size_t t = 0; t < nd; t++)
            d_emb[t] += a->demb_h[t];
    res->loss = total / known;
    res->count = known;
    res->active = known;
    return 0;
}
