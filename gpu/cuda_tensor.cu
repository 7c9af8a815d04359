/* cuda_tensor.cu — the CUDA backend's activations (NHWC device memory in the
 * backend's precision), plain fp32 (N, C, H, W) copies in and out through a
 * pinned staging buffer and a conversion kernel, the backend's scratch
 * buffers, parameter mirrors and the gradient/statistics download slots.
 */
#include <stdlib.h>
#include <string.h>

#include "cuda_backend.h"
#include "layout_math.h"

int64_t cuda_numel(fw_shape s)
{
    return s.n * s.c * s.h * s.w;
}

int cuda_shape_eq(fw_shape a, fw_shape b)
{
    return a.n == b.n && a.c == b.c && a.h == b.h && a.w == b.w;
}

int cuda_grow(void **d, size_t *cap, size_t need, fw_error *err)
{
    if (need <= *cap && *d)
        return 0;
    size_t bytes = ((need ? need : 1) + 255) & ~(size_t)255;
    if (*d)
        CUDA_CHECK(cudaFree(*d));
    *d = NULL;
    *cap = 0;
    CUDA_CHECK(cudaMalloc(d, bytes));
    *cap = bytes;
    return 0;
}

int cuda_tensor_define(fw_backend *be, fw_tensor *t, fw_shape s, fw_error *err)
{
    if (s.n < 0 || s.c < 0 || s.h < 0 || s.w < 0)
        return fw_fail(err, FW_EINVAL, "backend cuda: negative tensor shape");
    FW_TRY(cuda_grow(&t->d, &t->cap, (size_t)cuda_numel(s) * be->esize, err));
    t->shape = s;
    t->defined = 1;
    return 0;
}

int cuda_stage_d(fw_backend *be, size_t bytes, void **out, fw_error *err)
{
    FW_TRY(cuda_grow(&be->stage_d, &be->stage_d_cap, bytes, err));
    *out = be->stage_d;
    return 0;
}

int cuda_stage_h(fw_backend *be, size_t bytes, void **out, fw_error *err)
{
    if (bytes > be->stage_h_cap || !be->stage_h) {
        size_t cap = ((bytes ? bytes : 1) + 4095) & ~(size_t)4095;
        if (be->stage_h)
            CUDA_CHECK(cudaFreeHost(be->stage_h));
        be->stage_h = NULL;
        be->stage_h_cap = 0;
        CUDA_CHECK(cudaMallocHost(&be->stage_h, cap));
        be->stage_h_cap = cap;
    }
    *out = be->stage_h;
    return 0;
}

int cuda_workspace(fw_backend *be, size_t bytes, void **out, fw_error *err)
{
    FW_TRY(cuda_grow(&be->workspace, &be->workspace_cap, bytes, err));
    *out = be->workspace;
    return 0;
}

/* ---- layout / precision conversion ---------------------------------------- */

template <int PIN, int POUT>
__global__ void convert_kernel(const typename cuda_elem<PIN>::t *src,
                               typename cuda_elem<POUT>::t *dst, fw_shape s, int to_nhwc)
{
    CUDA_FOR(i, s.n * s.c * s.h * s.w)
    {
        int64_t j = fw_nhwc_to_plain(i, s.c, s.h, s.w);
        if (to_nhwc)
            dst[i] = cuda_elem<POUT>::st(cuda_elem<PIN>::ld(src[j]));
        else
            dst[j] = cuda_elem<POUT>::st(cuda_elem<PIN>::ld(src[i]));
    }
}

template <int P>
static void launch_from_f32(cudaStream_t st, const float *src, void *dst, fw_shape s)
{
    convert_kernel<FW_PRECISION_FP32, P><<<cuda_blocks(cuda_numel(s), 256), 256, 0, st>>>(
        src, (typename cuda_elem<P>::t *)dst, s, 1);
}

template <int P>
static void launch_to_f32(cudaStream_t st, const void *src, float *dst, fw_shape s)
{
    convert_kernel<P, FW_PRECISION_FP32><<<cuda_blocks(cuda_numel(s), 256), 256, 0, st>>>(
        (const typename cuda_elem<P>::t *)src, dst, s, 0);
}

template <int P>
static void launch_permute(cudaStream_t st, const void *src, void *dst, fw_shape s, int to_nhwc)
{
    convert_kernel<P, P><<<cuda_blocks(cuda_numel(s), 256), 256, 0, st>>>(
        (const typename cuda_elem<P>::t *)src, (typename cuda_elem<P>::t *)dst, s, to_nhwc);
}

int cuda_from_nchw_f32(fw_backend *be, const float *src, void *dst, fw_shape s, fw_error *err)
{
    if (cuda_numel(s) == 0)
        return 0;
    CUDA_PREC_SWITCH(be->prec, launch_from_f32, be->stream, src, dst, s);
    CUDA_LAUNCH_CHECK();
    return 0;
}

int cuda_to_nchw_f32(fw_backend *be, const void *src, float *dst, fw_shape s, fw_error *err)
{
    if (cuda_numel(s) == 0)
        return 0;
    CUDA_PREC_SWITCH(be->prec, launch_to_f32, be->stream, src, dst, s);
    CUDA_LAUNCH_CHECK();
    return 0;
}

int cuda_permute(fw_backend *be, const void *src, void *dst, fw_shape s, int to_nhwc,
                 fw_error *err)
{
    if (cuda_numel(s) == 0)
        return 0;
    CUDA_PREC_SWITCH(be->prec, launch_permute, be->stream, src, dst, s, to_nhwc);
    CUDA_LAUNCH_CHECK();
    return 0;
}

/* ---- tensors through the interface ---------------------------------------- */

int cuda_tensor_create(fw_backend *be, fw_tensor **out, fw_error *err)
{
    (void)be;
    *out = (fw_tensor *)calloc(1, sizeof **out);
    if (!*out)
        return fw_fail(err, FW_ENOMEM, "backend cuda: out of memory (tensor)");
    return 0;
}

void cuda_tensor_free(fw_backend *be, fw_tensor *t)
{
    if (!t)
        return;
    cuda_enter_quiet(be);
    if (t->d)
        cudaFree(t->d);
    free(t);
}

fw_shape cuda_tensor_shape(const fw_tensor *t)
{
    return t->shape;
}

int cuda_tensor_copy_in(fw_backend *be, fw_tensor *t, fw_shape s, const float *src,
                        fw_error *err)
{
    CUDA_ENTER(be);
    FW_TRY(cuda_tensor_define(be, t, s, err));
    int64_t n = cuda_numel(s);
    if (n == 0)
        return 0;
    size_t bytes = (size_t)n * sizeof(float);
    void *h, *d;
    /* the staging buffers are reused: earlier copies must have finished */
    CUDA_CHECK(cudaStreamSynchronize(be->stream));
    FW_TRY(cuda_stage_h(be, bytes, &h, err));
    FW_TRY(cuda_stage_d(be, bytes, &d, err));
    memcpy(h, src, bytes);
    CUDA_CHECK(cudaMemcpyAsync(d, h, bytes, cudaMemcpyHostToDevice, be->stream));
    return cuda_from_nchw_f32(be, (const float *)d, t->d, s, err);
}

int cuda_tensor_copy_out(fw_backend *be, const fw_tensor *t, float *dst, fw_error *err)
{
    CUDA_ENTER(be);
    if (!t->defined)
        return fw_fail(err, FW_EINVAL, "tensor_copy_out: tensor is empty");
    int64_t n = cuda_numel(t->shape);
    if (n == 0)
        return 0;
    size_t bytes = (size_t)n * sizeof(float);
    void *h, *d;
    CUDA_CHECK(cudaStreamSynchronize(be->stream));
    FW_TRY(cuda_stage_h(be, bytes, &h, err));
    FW_TRY(cuda_stage_d(be, bytes, &d, err));
    FW_TRY(cuda_to_nchw_f32(be, t->d, (float *)d, t->shape, err));
    CUDA_CHECK(cudaMemcpyAsync(h, d, bytes, cudaMemcpyDeviceToHost, be->stream));
    CUDA_CHECK(cudaStreamSynchronize(be->stream));
    memcpy(dst, h, bytes);
    return 0;
}

int cuda_tensor_zero(fw_backend *be, fw_tensor *t, fw_shape s, fw_error *err)
{
    CUDA_ENTER(be);
    FW_TRY(cuda_tensor_define(be, t, s, err));
    size_t bytes = (size_t)cuda_numel(s) * be->esize;
    if (bytes)
        CUDA_CHECK(cudaMemsetAsync(t->d, 0, bytes, be->stream)); /* 0 bits = +0 in every type */
    return 0;
}

int cuda_tensor_copy(fw_backend *be, const fw_tensor *src, fw_tensor *dst, fw_error *err)
{
    CUDA_ENTER(be);
    if (src == dst)
        return 0;
    if (!src->defined)
        return fw_fail(err, FW_EINVAL, "backend cuda: tensor_copy from an empty tensor");
    FW_TRY(cuda_tensor_define(be, dst, src->shape, err));
    size_t bytes = (size_t)cuda_numel(src->shape) * be->esize;
    if (bytes)
        CUDA_CHECK(cudaMemcpyAsync(dst->d, src->d, bytes, cudaMemcpyDeviceToDevice, be->stream));
    return 0;
}

/* ---- parameter mirrors ----------------------------------------------------- */

/* Room for one more entry in a growing array of n pointers (capacity *cap). */
template <typename T>
static int room_for_one(T ***list, int n, int *cap, const char *what, fw_error *err)
{
    if (n < *cap)
        return 0;
    int grown = *cap ? 2 * *cap : 64;
    T **more = (T **)realloc(*list, (size_t)grown * sizeof *more);
    if (!more)
        return fw_fail(err, FW_ENOMEM, "backend cuda: out of memory (%s)", what);
    *list = more;
    *cap = grown;
    return 0;
}

int cuda_dparam_init(fw_backend *be, cuda_dparam *dp, fw_param *p, fw_error *err)
{
    memset(dp, 0, sizeof *dp);
    dp->p = p;
    FW_TRY(room_for_one(&be->dparams, be->n_dparams, &be->cap_dparams, "mirrors", err));
    CUDA_CHECK(cudaMalloc((void **)&dp->d, (size_t)(p->numel ? p->numel : 1) * sizeof(float)));
    be->dparams[be->n_dparams++] = dp;
    return 0;
}

void cuda_dparam_free(fw_backend *be, cuda_dparam *dp)
{
    cuda_update_forget(be, NULL, dp);
    for (int i = 0; i < be->n_dparams; i++)
        if (be->dparams[i] == dp) {
            be->dparams[i] = be->dparams[--be->n_dparams];
            break;
        }
    if (dp->d)
        cudaFree(dp->d);
    memset(dp, 0, sizeof *dp);
}

int cuda_dparam_refresh(fw_backend *be, cuda_dparam *dp, fw_error *err)
{
    return cuda_dparam_refresh_at(be, dp, be->param_gen, err);
}

int cuda_dparam_refresh_at(fw_backend *be, cuda_dparam *dp, uint64_t gen, fw_error *err)
{
    if (dp->gen == gen)
        return 0;
    /* pageable source: the call returns once the data is staged, so the
     * host may change p->data right after */
    CUDA_CHECK(cudaMemcpyAsync(dp->d, dp->p->data, (size_t)dp->p->numel * sizeof(float),
                               cudaMemcpyHostToDevice, be->stream));
    dp->gen = gen;
    return 0;
}

/* ---- download slots -------------------------------------------------------- */

int cuda_slot_create(fw_backend *be, fw_param *p, int to_grad, cuda_slot **out, fw_error *err)
{
    *out = NULL;
    FW_TRY(room_for_one(&be->slots, be->n_slots, &be->cap_slots, "slots", err));
    cuda_slot *s = (cuda_slot *)calloc(1, sizeof *s);
    if (!s)
        return fw_fail(err, FW_ENOMEM, "backend cuda: out of memory (slot)");
    s->p = p;
    s->to_grad = to_grad;
    size_t bytes = (size_t)(p->numel ? p->numel : 1) * sizeof(float);
    cudaError_t rc = cudaMalloc((void **)&s->d, bytes);
    if (rc == cudaSuccess)
        rc = cudaMallocHost((void **)&s->h, bytes);
    if (rc != cudaSuccess) {
        if (s->d)
            cudaFree(s->d);
        free(s);
        return fw_fail(err, FW_EDEVICE, "%s:%d: slot for %s: %s", __FILE__, __LINE__, p->name,
                       cudaGetErrorString(rc));
    }
    be->slots[be->n_slots++] = s;
    *out = s;
    return 0;
}

void cuda_slot_destroy(fw_backend *be, cuda_slot *s)
{
    if (!s)
        return;
    cuda_update_forget(be, s, NULL);
    for (int i = 0; i < be->n_slots; i++)
        if (be->slots[i] == s) {
            be->slots[i] = be->slots[--be->n_slots];
            break;
        }
    cudaFree(s->d);
    cudaFreeHost(s->h);
    free(s);
}

float cuda_slot_beta(const cuda_slot *s, unsigned flags)
{
    return (s->pending && (flags & FW_GRAD_ACCUMULATE)) ? 1.0f : 0.0f;
}

void cuda_slot_mark(cuda_slot *s, unsigned flags)
{
    if (!s->pending)
        s->add = (flags & FW_GRAD_ACCUMULATE) != 0;
    else if (!(flags & FW_GRAD_ACCUMULATE))
        s->add = 0; /* a later overwrite restarts the gradient */
    s->pending = 1;
}

int cuda_slots_flush(fw_backend *be, fw_error *err)
{
    int any = 0;
    for (int i = 0; i < be->n_slots; i++) {
        cuda_slot *s = be->slots[i];
        if (!s->pending || s->bound)
            continue;
        CUDA_CHECK(cudaMemcpyAsync(s->h, s->d, (size_t)s->p->numel * sizeof(float),
                                   cudaMemcpyDeviceToHost, be->stream));
        any = 1;
    }
    CUDA_CHECK(cudaStreamSynchronize(be->stream));
    if (!any)
        return 0;
    for (int i = 0; i < be->n_slots; i++) {
        cuda_slot *s = be->slots[i];
        if (!s->pending || s->bound)
            continue;
        float *dst = s->to_grad ? s->p->grad : s->p->data;
        if (s->add)
            for (int64_t k = 0; k < s->p->numel; k++)
                dst[k] += s->h[k];
        else
            memcpy(dst, s->h, (size_t)s->p->numel * sizeof(float));
        s->pending = 0;
        s->add = 0;
    }
    return 0;
}

__global__ void sums_to_grad_kernel(const double *src, float *dst, int64_t n, float beta)
{
    CUDA_FOR(i, n)
    {
        float v = (float)src[i];
        dst[i] = beta != 0.0f ? v + beta * dst[i] : v;
    }
}

int cuda_sums_to_grad(fw_backend *be, const double *src, float *dst, int64_t n, float beta,
                      fw_error *err)
{
    sums_to_grad_kernel<<<cuda_blocks(n, 256), 256, 0, be->stream>>>(src, dst, n, beta);
    CUDA_LAUNCH_CHECK();
    return 0;
}
