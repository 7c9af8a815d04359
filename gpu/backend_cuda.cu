/* backend_cuda.cu — the CUDA backend's instance (device, stream, cuDNN and
 * cuBLASLt handles bound to the stream, precision), sync(), and the ops table
 * fw_backend_cuda(). Layers live in cuda_conv.cu, cuda_bn.cu, cuda_pool.cu,
 * cuda_linear.cu and cuda_pointwise.cu; tensors in cuda_tensor.cu.
 * create() on a machine without a usable GPU fails with a plain message:
 * "device=cuda: no usable NVIDIA GPU (cudaGetDeviceCount: <reason>)".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_backend.h"

extern "C" {
#include "../src/parallel.h" /* a C header without its own extern "C" */
}

static const char *precision_name(fw_precision p)
{
    return p == FW_PRECISION_BF16 ? "bf16" : p == FW_PRECISION_FP16 ? "fp16" : "fp32";
}

static void cuda_destroy(fw_backend *be)
{
    if (!be)
        return;
    if (be->stream) {
        cudaSetDevice(be->device);
        cudaStreamSynchronize(be->stream);
    }
    cuda_update_release(be); /* (it touches the slots: before they go) */
    for (int i = 0; i < be->n_slots; i++) { /* ops not destroyed by the caller */
        cudaFree(be->slots[i]->d);
        cudaFreeHost(be->slots[i]->h);
        free(be->slots[i]);
    }
    free(be->slots);
    free(be->dparams); /* (the mirrors themselves belong to the ops) */
    cuda_augment_release(be);
    if (be->stage_h)
        cudaFreeHost(be->stage_h);
    if (be->stage_d)
        cudaFree(be->stage_d);
    if (be->workspace)
        cudaFree(be->workspace);
    if (be->lt)
        cublasLtDestroy(be->lt);
    if (be->cudnn)
        cudnnDestroy(be->cudnn);
    if (be->stream)
        cudaStreamDestroy(be->stream);
    free(be);
}

static int create_parts(fw_backend *be, const fw_backend_options *opt, fw_error *err)
{
    int count = 0; /* the runtime leaves it unset when there is no driver */
    cudaError_t rc = cudaGetDeviceCount(&count);
    if (rc != cudaSuccess) {
        const char *why = cudaGetErrorString(rc);
        cudaGetLastError();
        return fw_fail(err, FW_EDEVICE,
                       "device=cuda: no usable NVIDIA GPU (cudaGetDeviceCount: %s)", why);
    }
    if (count <= 0)
        return fw_fail(err, FW_EDEVICE,
                       "device=cuda: no usable NVIDIA GPU (cudaGetDeviceCount: no CUDA devices)");
    if (be->device < 0 || be->device >= count)
        return fw_fail(err, FW_EINVAL, "device=cuda:%d: this machine has %d GPU%s (cuda:0..%d)",
                       be->device, count, count == 1 ? "" : "s", count - 1);
    (void)opt;
    CUDA_CHECK(cudaSetDevice(be->device));
    cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDeviceProperties(&prop, be->device));
    CUDA_CHECK(cudaStreamCreateWithFlags(&be->stream, cudaStreamNonBlocking));
    CUDNN_CHECK(cudnnCreate(&be->cudnn));
    CUDNN_CHECK(cudnnSetStream(be->cudnn, be->stream));
    CUBLAS_CHECK(cublasLtCreate(&be->lt));
    size_t v = cudnnGetVersion(); /* 9.19.0 -> 91900 */
    snprintf(be->describe, sizeof be->describe, "cuda:%d %s, cuDNN %zu.%zu.%zu, %s", be->device,
             prop.name, v / 10000, (v / 100) % 100, v % 100, precision_name(be->prec));
    return 0;
}

static int cuda_create(const fw_backend_options *opt, fw_backend **out, fw_error *err)
{
    *out = NULL;
    fw_precision prec = opt ? opt->precision : FW_PRECISION_FP32;
    if (prec != FW_PRECISION_FP32 && prec != FW_PRECISION_BF16 && prec != FW_PRECISION_FP16)
        return fw_fail(err, FW_EINVAL, "backend cuda: unknown precision %d", (int)prec);
    fw_backend *be = (fw_backend *)calloc(1, sizeof *be);
    if (!be)
        return fw_fail(err, FW_ENOMEM, "backend: out of memory");
    be->device = opt ? opt->device : 0;
    be->prec = prec;
    be->esize = prec == FW_PRECISION_FP32 ? 4 : 2;
    be->threads = fw_resolve_threads(opt ? opt->threads : 0);
    be->param_gen = be->weights_gen = be->buffer_gen = 1;
    int rc = create_parts(be, opt, err);
    if (rc < 0) {
        cuda_destroy(be);
        return rc;
    }
    *out = be;
    return 0;
}

static void cuda_describe(fw_backend *be, char *buf, size_t size)
{
    snprintf(buf, size, "%s", be->describe);
}

static int cuda_threads(fw_backend *be)
{
    return be->threads;
}

static void cuda_params_updated(fw_backend *be)
{
    be->param_gen++;
    be->weights_gen++;
    be->buffer_gen++;
}

static void cuda_buffers_updated(fw_backend *be)
{
    be->buffer_gen++;
}

/* Every slot's pending download or gradient is dropped (see backend.h);
 * the host's running statistics stand again (uploaded before their next use). */
static void cuda_discard_pending(fw_backend *be)
{
    for (int i = 0; i < be->n_slots; i++) {
        be->slots[i]->pending = 0;
        be->slots[i]->add = 0;
    }
    be->buffer_gen++;
}

static int cuda_sync(fw_backend *be, fw_error *err)
{
    CUDA_ENTER(be);
    CUDA_CHECK(cudaGetLastError());
    return cuda_slots_flush(be, err);
}

static const fw_backend_ops cuda_ops = {
    .name = "cuda",
    .create = cuda_create,
    .destroy = cuda_destroy,
    .describe = cuda_describe,
    .threads = cuda_threads,
    .params_updated = cuda_params_updated,
    .sync = cuda_sync,
    .tensor_create = cuda_tensor_create,
    .tensor_free = cuda_tensor_free,
    .tensor_shape = cuda_tensor_shape,
    .tensor_copy_in = cuda_tensor_copy_in,
    .tensor_copy_out = cuda_tensor_copy_out,
    .tensor_zero = cuda_tensor_zero,
    .tensor_copy = cuda_tensor_copy,
    .conv_create = cuda_conv_create,
    .conv_destroy = cuda_conv_destroy,
    .conv_forward = cuda_conv_forward,
    .conv_backward = cuda_conv_backward,
    .bn_create = cuda_bn_create,
    .bn_destroy = cuda_bn_destroy,
    .bn_forward = cuda_bn_forward,
    .bn_backward = cuda_bn_backward,
    .bn_set_sync = cuda_bn_set_sync,
    .relu_forward = cuda_relu_forward,
    .relu_backward = cuda_relu_backward,
    .add = cuda_add,
    .pool_create = cuda_pool_create,
    .pool_destroy = cuda_pool_destroy,
    .pool_forward = cuda_pool_forward,
    .pool_backward = cuda_pool_backward,
    .gem_create = cuda_gem_create,
    .gem_destroy = cuda_gem_destroy,
    .gem_forward = cuda_gem_forward,
    .gem_backward = cuda_gem_backward,
    .linear_create = cuda_linear_create,
    .linear_destroy = cuda_linear_destroy,
    .linear_forward = cuda_linear_forward,
    .linear_backward = cuda_linear_backward,
    .l2norm_forward = cuda_l2norm_forward,
    .l2norm_backward = cuda_l2norm_backward,
    .dropout_create = cuda_dropout_create,
    .dropout_destroy = cuda_dropout_destroy,
    .dropout_forward = cuda_dropout_forward,
    .dropout_backward = cuda_dropout_backward,
    .augment_set_cache = cuda_augment_set_cache,
    .augment_batch = cuda_augment_batch,
    .discard_pending = cuda_discard_pending,
    .buffers_updated = cuda_buffers_updated,
    .update_bind = cuda_update_bind,
    .update_allreduce = cuda_update_allreduce,
    .update_grad_sumsq = cuda_update_grad_sumsq,
    .update_step = cuda_update_step,
    .update_to_host = cuda_update_to_host,
    .arcface_create = cuda_arcface_create,
    .arcface_destroy = cuda_arcface_destroy,
    .arcface_loss = cuda_arcface_loss,
};

extern "C" const fw_backend_ops *fw_backend_cuda(void)
{
    return &cuda_ops;
}
