/* cuda_update.cu — the training update on the GPU (update_bind,
 * update_grad_sumsq, update_step, update_to_host; see src/backend.h).
 *
 * update_bind finds each tensor's fp32 master mirror (an op's cuda_dparam)
 * and gradient buffer (its cuda_slot, which stops being downloaded at
 * sync), gives it device moments, and splits all the tensors into chunks of
 * CHUNK elements listed in one device table. Each step is then two
 * multi-tensor launches over that table, one block per chunk:
 *   - sumsq_kernel: per-chunk sums of (g * mult_i)^2 in double (a block
 *     reduction) and a non-finite flag; the host adds the chunks up in order
 *     (each tensor's first), so the norm is the same on every run and rank;
 *   - step_kernel: fw_sgd_elem / fw_adamw_elem (src/optim_math.h, the host
 *     optimizer's own per-element code) on every element.
 * Nothing but the per-chunk sums (8 bytes per 16 Ki elements), multipliers
 * and coefficients (4 and 24 bytes a tensor) crosses PCIe per step. The converted weights of conv
 * and linear layers are re-made from the masters after a step
 * (be->weights_gen).
 * The host's copies: after params_updated (the host wrote the weights or
 * the optimizer's state) the masters and moments are uploaded again before
 * the next use; update_to_host downloads those the host does not have.
 */
#include <stdlib.h>
#include <string.h>

#include "cuda_backend.h"

#define CHUNK ((int64_t)1 << 14) /* elements per block */
#define UPDATE_THREADS 256

typedef struct update_tensor_dev {
    float *p, *g, *m1, *m2; /* master weights, gradient, moments (m2: AdamW) */
} update_tensor_dev;

typedef struct update_chunk_dev {
    int tensor;
    int64_t begin, end;
} update_chunk_dev;

typedef struct cuda_bound {
    fw_update_tensor t;
    cuda_dparam *w;       /* the op's fp32 master */
    cuda_slot *g;         /* the op's gradient */
    float *m1, *m2;       /* device moments */
    uint64_t moments_gen; /* be->param_gen of the moments' upload (0: never) */
} cuda_bound;

struct cuda_update {
    cuda_bound *b;
    int n;
    update_tensor_dev *tensors_d; /* (n) */
    update_chunk_dev *chunks_d;   /* (n_chunks) */
    int64_t n_chunks;
    int64_t *first_chunk;         /* (n + 1) host: tensor i has chunks [first[i], first[i+1]) */
    fw_optim_coeffs *coeffs_d;    /* (n) */
    float *mult_d;                /* (n) the gradients' multipliers */
    double *sums_d, *sums_h;      /* (n_chunks) device, pinned */
    int *bad_d, *bad_h;           /* (1) device, pinned */
    float **sum_bufs;             /* (n) update_allreduce's list of gradients */
    size_t *sum_counts;           /* (n) */
};

void cuda_update_release(fw_backend *be)
{
    struct cuda_update *u = be->update;
    if (!u)
        return;
    for (int i = 0; i < u->n; i++) {
        if (u->b[i].g)
            u->b[i].g->bound = 0;
        cudaFree(u->b[i].m1);
        cudaFree(u->b[i].m2);
    }
    free(u->b);
    free(u->first_chunk);
    free(u->sum_bufs);
    free(u->sum_counts);
    cudaFree(u->tensors_d);
    cudaFree(u->chunks_d);
    cudaFree(u->coeffs_d);
    cudaFree(u->mult_d);
    cudaFree(u->sums_d);
    cudaFreeHost(u->sums_h);
    cudaFree(u->bad_d);
    cudaFreeHost(u->bad_h);
    free(u);
    be->update = NULL;
}

void cuda_update_forget(fw_backend *be, const cuda_slot *s, const cuda_dparam *dp)
{
    struct cuda_update *u = be->update;
    for (int i = 0; u && i < u->n; i++)
        if ((s && u->b[i].g == s) || (dp && u->b[i].w == dp)) {
            cuda_update_release(be);
            return;
        }
}

static cuda_dparam *find_mirror(fw_backend *be, const fw_param *p)
{
    for (int i = 0; i < be->n_dparams; i++)
        if (be->dparams[i]->p == p)
            return be->dparams[i];
    return NULL;
}

static cuda_slot *find_grad(fw_backend *be, const fw_param *p)
{
    for (int i = 0; i < be->n_slots; i++)
        if (be->slots[i]->p == p && be->slots[i]->to_grad)
            return be->slots[i];
    return NULL;
}

/* The tensors and chunk tables on the device (once, at bind). */
static int upload_tables(fw_backend *be, struct cuda_update *u, fw_error *err)
{
    update_tensor_dev *tens = (update_tensor_dev *)calloc((size_t)u->n, sizeof *tens);
    u->first_chunk = (int64_t *)malloc(((size_t)u->n + 1) * sizeof *u->first_chunk);
    int64_t n_chunks = 0;
    for (int i = 0; u->first_chunk && i < u->n; i++) {
        u->first_chunk[i] = n_chunks;
        n_chunks += (u->b[i].t.param->numel + CHUNK - 1) / CHUNK;
    }
    if (u->first_chunk)
        u->first_chunk[u->n] = n_chunks;
    update_chunk_dev *chunks =
        (update_chunk_dev *)malloc((size_t)(n_chunks ? n_chunks : 1) * sizeof *chunks);
    if (!tens || !chunks || !u->first_chunk) {
        free(tens);
        free(chunks);
        return fw_fail(err, FW_ENOMEM, "update_bind: out of memory (tables)");
    }
    int64_t k = 0;
    for (int i = 0; i < u->n; i++) {
        const cuda_bound *b = &u->b[i];
        tens[i] = (update_tensor_dev){b->w->d, b->g->d, b->m1, b->m2};
        for (int64_t at = 0; at < b->t.param->numel; at += CHUNK) {
            int64_t end = at + CHUNK < b->t.param->numel ? at + CHUNK : b->t.param->numel;
            chunks[k++] = (update_chunk_dev){i, at, end};
        }
    }
    u->n_chunks = n_chunks;
    cudaError_t rc = cudaMalloc((void **)&u->tensors_d, (size_t)u->n * sizeof *tens);
    if (rc == cudaSuccess)
        rc = cudaMalloc((void **)&u->chunks_d, (size_t)(n_chunks ? n_chunks : 1) * sizeof *chunks);
    /* on the backend's stream (a plain cudaMemcpy from pageable memory may
     * return before the data arrive, and the legacy stream does not order
     * the non-blocking one), then waited for: tens and chunks are freed */
    if (rc == cudaSuccess)
        rc = cudaMemcpyAsync(u->tensors_d, tens, (size_t)u->n * sizeof *tens,
                             cudaMemcpyHostToDevice, be->stream);
    if (rc == cudaSuccess && n_chunks)
        rc = cudaMemcpyAsync(u->chunks_d, chunks, (size_t)n_chunks * sizeof *chunks,
                             cudaMemcpyHostToDevice, be->stream);
    if (rc == cudaSuccess)
        rc = cudaStreamSynchronize(be->stream);
    free(tens);
    free(chunks);
    if (rc != cudaSuccess)
        return fw_fail(err, rc == cudaErrorMemoryAllocation ? FW_ENOMEM : FW_EDEVICE,
                       "%s:%d: update_bind: %s", __FILE__, __LINE__, cudaGetErrorString(rc));
    return 0;
}

static int bind_one(fw_backend *be, cuda_bound *b, const fw_update_tensor *t, fw_error *err)
{
    b->t = *t;
    b->w = find_mirror(be, t->param);
    b->g = find_grad(be, t->param);
    if (!b->w || !b->g)
        return fw_fail(err, FW_EINVAL, "update_bind: %s is not a trained parameter of this "
                       "backend's layers", t->param->name);
    if (t->moment1->numel != t->param->numel ||
        (t->moment2 && t->moment2->numel != t->param->numel))
        return fw_fail(err, FW_EINVAL, "update_bind: %s: moments of another size",
                       t->param->name);
    size_t bytes = (size_t)(t->param->numel ? t->param->numel : 1) * sizeof(float);
    CUDA_CHECK(cudaMalloc((void **)&b->m1, bytes));
    if (t->moment2)
        CUDA_CHECK(cudaMalloc((void **)&b->m2, bytes));
    b->g->bound = 1;
    return 0;
}

static int bind(fw_backend *be, const fw_update_tensor *t, int n, fw_error *err)
{
    struct cuda_update *u = (struct cuda_update *)calloc(1, sizeof *u);
    if (!u)
        return fw_fail(err, FW_ENOMEM, "update_bind: out of memory");
    be->update = u;
    u->b = (cuda_bound *)calloc((size_t)(n ? n : 1), sizeof *u->b);
    u->sum_bufs = (float **)malloc((size_t)(n ? n : 1) * sizeof *u->sum_bufs);
    u->sum_counts = (size_t *)malloc((size_t)(n ? n : 1) * sizeof *u->sum_counts);
    if (!u->b || !u->sum_bufs || !u->sum_counts)
        return fw_fail(err, FW_ENOMEM, "update_bind: out of memory (%d tensors)", n);
    for (int i = 0; i < n; i++) {
        u->n = i + 1; /* (release frees what a failing bind_one allocated) */
        FW_TRY(bind_one(be, &u->b[i], &t[i], err));
    }
    FW_TRY(upload_tables(be, u, err));
    size_t tn = (size_t)(n ? n : 1);
    CUDA_CHECK(cudaMalloc((void **)&u->coeffs_d, tn * sizeof *u->coeffs_d));
    CUDA_CHECK(cudaMalloc((void **)&u->mult_d, tn * sizeof *u->mult_d));
    size_t nc = (size_t)(u->n_chunks ? u->n_chunks : 1);
    CUDA_CHECK(cudaMalloc((void **)&u->sums_d, nc * sizeof *u->sums_d));
    CUDA_CHECK(cudaMallocHost((void **)&u->sums_h, nc * sizeof *u->sums_h));
    CUDA_CHECK(cudaMalloc((void **)&u->bad_d, sizeof *u->bad_d));
    CUDA_CHECK(cudaMallocHost((void **)&u->bad_h, sizeof *u->bad_h));
    return 0;
}

int cuda_update_bind(fw_backend *be, const fw_update_tensor *t, int n, fw_error *err)
{
    CUDA_ENTER(be);
    cuda_update_release(be);
    int rc = bind(be, t, n, err);
    if (rc < 0)
        cuda_update_release(be);
    return rc;
}

static int need_bind(fw_backend *be, fw_error *err)
{
    if (!be->update)
        return fw_fail(err, FW_EINVAL, "backend cuda: update op before update_bind");
    return 0;
}

/* Masters and moments current on the device: uploaded again after the host
 * wrote them (params_updated). */
static int refresh_bound(fw_backend *be, struct cuda_update *u, fw_error *err)
{
    for (int i = 0; i < u->n; i++) {
        cuda_bound *b = &u->b[i];
        FW_TRY(cuda_dparam_refresh(be, b->w, err));
        if (b->moments_gen == be->param_gen)
            continue;
        size_t bytes = (size_t)b->t.param->numel * sizeof(float);
        CUDA_CHECK(cudaMemcpyAsync(b->m1, b->t.moment1->data, bytes, cudaMemcpyHostToDevice,
                                   be->stream));
        if (b->m2)
            CUDA_CHECK(cudaMemcpyAsync(b->m2, b->t.moment2->data, bytes,
                                       cudaMemcpyHostToDevice, be->stream));
        b->moments_gen = be->param_gen;
    }
    return 0;
}

/* Sum of v over the block (every thread gets nothing; thread 0 the total). */
static __device__ double block_sum(double v)
{
    __shared__ double warp_sums[UPDATE_THREADS / 32];
    for (int off = 16; off > 0; off >>= 1)
        v += __shfl_down_sync(0xffffffffu, v, off);
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    if (lane == 0)
        warp_sums[warp] = v;
    __syncthreads();
    double total = 0;
    if (threadIdx.x == 0)
        for (int i = 0; i < UPDATE_THREADS / 32; i++)
            total += warp_sums[i];
    return total;
}

__global__ void sumsq_kernel(const update_tensor_dev *tensors, const update_chunk_dev *chunks,
                             const float *mults, double *sums, int *bad)
{
    update_chunk_dev c = chunks[blockIdx.x];
    const float *g = tensors[c.tensor].g;
    const float mult = mults[c.tensor];
    double s = 0;
    int nonfinite = 0;
    for (int64_t i = c.begin + threadIdx.x; i < c.end; i += UPDATE_THREADS) {
        float v = g[i];
        nonfinite |= !isfinite(v);
        float x = v * mult;
        s += (double)x * (double)x;
    }
    double total = block_sum(s);
    if (threadIdx.x == 0)
        sums[blockIdx.x] = total;
    if (nonfinite)
        atomicOr(bad, 1);
}

__global__ void step_kernel(const update_tensor_dev *tensors, const update_chunk_dev *chunks,
                            const fw_optim_coeffs *coeffs, fw_optim_hyper h, const float *mults)
{
    update_chunk_dev c = chunks[blockIdx.x];
    update_tensor_dev t = tensors[c.tensor];
    fw_optim_coeffs k = coeffs[c.tensor];
    const float mult = mults[c.tensor];
    for (int64_t i = c.begin + threadIdx.x; i < c.end; i += UPDATE_THREADS) {
        float g = t.g[i] * mult;
        if (h.adamw)
            fw_adamw_elem(&t.p[i], g, &t.m1[i], &t.m2[i], &h, &k);
        else
            fw_sgd_elem(&t.p[i], g, &t.m1[i], &h, &k);
    }
}

/* Tensors no backward reached this step have a zero gradient. */
static int zero_unreached(fw_backend *be, struct cuda_update *u, fw_error *err)
{
    for (int i = 0; i < u->n; i++) {
        cuda_slot *g = u->b[i].g;
        if (g->pending)
            continue;
        CUDA_CHECK(cudaMemsetAsync(g->d, 0, (size_t)u->b[i].t.param->numel * sizeof(float),
                                   be->stream));
        g->pending = 1;
        g->add = 0;
    }
    return 0;
}

int cuda_update_allreduce(fw_backend *be, const int *reduce, fw_buffers_sum_fn fn, void *ctx,
                          fw_error *err)
{
    CUDA_ENTER(be);
    FW_TRY(need_bind(be, err));
    struct cuda_update *u = be->update;
    FW_TRY(zero_unreached(be, u, err));
    int n = 0;
    for (int i = 0; i < u->n; i++)
        if (reduce[i]) {
            u->sum_bufs[n] = u->b[i].g->d;
            u->sum_counts[n++] = (size_t)u->b[i].t.param->numel;
        }
    return fn(ctx, u->sum_bufs, u->sum_counts, n, (void *)be->stream, err);
}

int cuda_update_grad_sumsq(fw_backend *be, const float *mult, double *sumsq, int *finite,
                           fw_error *err)
{
    CUDA_ENTER(be);
    FW_TRY(need_bind(be, err));
    struct cuda_update *u = be->update;
    FW_TRY(refresh_bound(be, u, err));
    FW_TRY(zero_unreached(be, u, err));
    CUDA_CHECK(cudaMemsetAsync(u->bad_d, 0, sizeof(int), be->stream));
    if (u->n_chunks) {
        /* pageable sources: staged before the calls return */
        CUDA_CHECK(cudaMemcpyAsync(u->mult_d, mult, (size_t)u->n * sizeof *mult,
                                   cudaMemcpyHostToDevice, be->stream));
        sumsq_kernel<<<(unsigned)u->n_chunks, UPDATE_THREADS, 0, be->stream>>>(
            u->tensors_d, u->chunks_d, u->mult_d, u->sums_d, u->bad_d);
        CUDA_LAUNCH_CHECK();
    }
    if (u->n_chunks)
        CUDA_CHECK(cudaMemcpyAsync(u->sums_h, u->sums_d, (size_t)u->n_chunks * sizeof(double),
                                   cudaMemcpyDeviceToHost, be->stream));
    CUDA_CHECK(cudaMemcpyAsync(u->bad_h, u->bad_d, sizeof(int), cudaMemcpyDeviceToHost,
                               be->stream));
    CUDA_CHECK(cudaStreamSynchronize(be->stream));
    double total = 0;
    for (int i = 0; i < u->n; i++) {
        double tensor = 0;
        for (int64_t k = u->first_chunk[i]; k < u->first_chunk[i + 1]; k++)
            tensor += u->sums_h[k];
        total += tensor;
    }
    *sumsq = total;
    *finite = !*u->bad_h;
    /* the step's gradient is closed: the next backward starts a new one */
    for (int i = 0; i < u->n; i++) {
        u->b[i].g->pending = 0;
        u->b[i].g->add = 0;
    }
    return 0;
}

int cuda_update_step(fw_backend *be, const fw_optim_hyper *h, const fw_optim_coeffs *c,
                     const float *mult, fw_error *err)
{
    CUDA_ENTER(be);
    FW_TRY(need_bind(be, err));
    struct cuda_update *u = be->update;
    FW_TRY(refresh_bound(be, u, err));
    if (!u->n_chunks)
        return 0;
    /* pageable source: staged before the call returns */
    CUDA_CHECK(cudaMemcpyAsync(u->coeffs_d, c, (size_t)u->n * sizeof *c, cudaMemcpyHostToDevice,
                               be->stream));
    CUDA_CHECK(cudaMemcpyAsync(u->mult_d, mult, (size_t)u->n * sizeof *mult,
                               cudaMemcpyHostToDevice, be->stream));
    step_kernel<<<(unsigned)u->n_chunks, UPDATE_THREADS, 0, be->stream>>>(
        u->tensors_d, u->chunks_d, u->coeffs_d, *h, u->mult_d);
    CUDA_LAUNCH_CHECK();
    be->weights_gen++; /* converted copies are re-made from the new masters */
    return 0;
}

int cuda_update_to_host(fw_backend *be, fw_error *err)
{
    CUDA_ENTER(be);
    FW_TRY(need_bind(be, err));
    struct cuda_update *u = be->update;
    for (int i = 0; i < u->n; i++) {
        cuda_bound *b = &u->b[i];
        size_t bytes = (size_t)b->t.param->numel * sizeof(float);
        /* (a mirror behind the host's generation: the host holds newer data) */
        if (b->w->gen == be->param_gen)
            CUDA_CHECK(cudaMemcpyAsync(b->t.param->data, b->w->d, bytes,
                                       cudaMemcpyDeviceToHost, be->stream));
        if (b->moments_gen == be->param_gen) {
            CUDA_CHECK(cudaMemcpyAsync(b->t.moment1->data, b->m1, bytes,
                                       cudaMemcpyDeviceToHost, be->stream));
            if (b->m2)
                CUDA_CHECK(cudaMemcpyAsync(b->t.moment2->data, b->m2, bytes,
                                           cudaMemcpyDeviceToHost, be->stream));
        }
    }
    CUDA_CHECK(cudaStreamSynchronize(be->stream));
    return 0;
}
