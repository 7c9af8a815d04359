/* bench_train.c — training and inference images/s of the flukewatch model on
 * the CPU or CUDA backend (the peer is bench/torch_train.py; bench/train.sh
 * runs both on the CPU, tests/gpu/check on a GPU).
 *
 *   bench/bench_train [--arch 18] [--threads 2] [--batch 32] [--height 128]
 *       [--width 256] [--channels 1] [--dim 512] [--mult 1] [--iters 8]
 *       [--warmup 2] [--device cpu|cuda[:N]] [--precision fp32|bf16|fp16]
 *       [--resident] [--profile]
 * On a GPU (or with --resident) the batch and the embedding gradient are
 * backend tensors uploaded once, as the PyTorch peer keeps its tensors on the
 * GPU; otherwise host arrays copied in every step.
 *
 * Training step = zero grads + forward (train mode) + backward from a fixed
 * d_embedding + one SGD step (src/optim.h): momentum 0.9, weight decay 5e-4
 * except on FW_PARAM_NO_DECAY tensors (BN, biases, GeM p), lr 1e-4 (small so
 * that the repeated fixed gradient keeps the weights finite); the peer runs
 * the same torch.optim.SGD step. On the CPU the step is fw_optim_step on
 * --threads threads; on a GPU it is the learner's update (src/train_update:
 * the gradient norm, then the fused step on the device, or on the host with
 * FLUKEWATCH_UPDATE=host).
 * Inference = eval-mode forward. Each line gives the mean over --iters batches
 * and the fastest batch (best_*: on a shared machine, the least disturbed).
 * FLUKEWATCH_CONV_ALGO=direct|auto (backend.h)
 * picks the convolution algorithm. The ops table is wrapped to time every op and
 * count conv FLOPs (--profile prints the table); backend ops are synchronous on
 * the CPU, so an op's wall time is its cost.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <oneapi/dnnl/dnnl.h>

#include "backend.h"
#include "backend_select.h"
#include "model.h"
#include "optim.h"
#include "param_list.h"
#include "rng.h"
#include "train_update.h"

/* ---- op profiling (program-level state: this is a benchmark, not the library) ---- */
enum { P_CONV_F, P_CONV_B, P_BN_F, P_BN_B, P_RELU_F, P_RELU_B, P_ADD, P_POOL_F, P_POOL_B,
       P_GEM_F, P_GEM_B, P_LIN_F, P_LIN_B, P_COPY, P_OPTIM, P_COUNT };
static const char *const P_NAMES[P_COUNT] = {
    "conv forward", "conv backward", "bn forward", "bn backward", "relu forward",
    "relu backward", "add", "pool forward", "pool backward", "gem forward", "gem backward",
    "linear forward", "linear backward", "copy in/out", "sgd step"};
static double prof_s[P_COUNT];
static long prof_calls[P_COUNT];
static double conv_flops;       /* forward conv FLOPs since the last reset */
static double conv1_flops;      /* of them, the first conv's (no data gradient) */
static const fw_backend_ops *base;
static fw_backend_ops wrapped;

typedef struct {
    const fw_conv *conv;
    fw_conv_desc desc;
} conv_entry;
static conv_entry convs[512];
static int n_convs;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define TIMED(slot, call)                 \
    do {                                  \
        double t0_ = now();               \
        int rc_ = (call);                 \
        prof_s[slot] += now() - t0_;      \
        prof_calls[slot]++;               \
        return rc_;                       \
    } while (0)

static int w_conv_create(fw_backend *be, const fw_conv_desc *d, fw_param *w, fw_param *b,
                         fw_conv **out, fw_error *err)
{
    int rc = base->conv_create(be, d, w, b, out, err);
    if (rc == 0 && n_convs < 512)
        convs[n_convs++] = (conv_entry){*out, *d};
    return rc;
}
static int w_conv_forward(fw_backend *be, fw_conv *c, const fw_tensor *x, fw_tensor *y,
                          fw_error *err)
{
    double t0 = now();
    int rc = base->conv_forward(be, c, x, y, err);
    prof_s[P_CONV_F] += now() - t0;
    prof_calls[P_CONV_F]++;
    for (int i = 0; i < n_convs; i++)
        if (convs[i].conv == c) {
            fw_shape ys = base->tensor_shape(y);
            const fw_conv_desc *d = &convs[i].desc;
            double f = 2.0 * (double)(ys.n * ys.c * ys.h * ys.w) * d->in_channels *
                       d->kernel_h * d->kernel_w;
            conv_flops += f;
            if (i == 0)
                conv1_flops += f;
        }
    return rc;
}
static int w_conv_backward(fw_backend *be, fw_conv *c, const fw_tensor *x, const fw_tensor *dy,
                           fw_tensor *dx, unsigned flags, fw_error *err)
{
    TIMED(P_CONV_B, base->conv_backward(be, c, x, dy, dx, flags, err));
}
static int w_bn_forward(fw_backend *be, fw_bn *bn, int training, const fw_tensor *x,
                        fw_tensor *y, fw_error *err)
{
    TIMED(P_BN_F, base->bn_forward(be, bn, training, x, y, err));
}
static int w_bn_backward(fw_backend *be, fw_bn *bn, const fw_tensor *x, const fw_tensor *dy,
                         fw_tensor *dx, unsigned flags, fw_error *err)
{
    TIMED(P_BN_B, base->bn_backward(be, bn, x, dy, dx, flags, err));
}
static int w_relu_forward(fw_backend *be, const fw_tensor *x, fw_tensor *y, fw_error *err)
{
    TIMED(P_RELU_F, base->relu_forward(be, x, y, err));
}
static int w_relu_backward(fw_backend *be, const fw_tensor *y, const fw_tensor *dy,
                           fw_tensor *dx, fw_error *err)
{
    TIMED(P_RELU_B, base->relu_backward(be, y, dy, dx, err));
}
static int w_add(fw_backend *be, const fw_tensor *a, const fw_tensor *b, fw_tensor *y,
                 fw_error *err)
{
    TIMED(P_ADD, base->add(be, a, b, y, err));
}
static int w_pool_forward(fw_backend *be, fw_pool *p, const fw_tensor *x, fw_tensor *y,
                          fw_error *err)
{
    TIMED(P_POOL_F, base->pool_forward(be, p, x, y, err));
}
static int w_pool_backward(fw_backend *be, fw_pool *p, const fw_tensor *dy, fw_tensor *dx,
                           fw_error *err)
{
    TIMED(P_POOL_B, base->pool_backward(be, p, dy, dx, err));
}
static int w_gem_forward(fw_backend *be, fw_gem *g, const fw_tensor *x, fw_tensor *y,
                         fw_error *err)
{
    TIMED(P_GEM_F, base->gem_forward(be, g, x, y, err));
}
static int w_gem_backward(fw_backend *be, fw_gem *g, const fw_tensor *x, const fw_tensor *y,
                          const fw_tensor *dy, fw_tensor *dx, unsigned flags, fw_error *err)
{
    TIMED(P_GEM_B, base->gem_backward(be, g, x, y, dy, dx, flags, err));
}
static int w_linear_forward(fw_backend *be, fw_linear *l, const fw_tensor *x, fw_tensor *y,
                            fw_error *err)
{
    TIMED(P_LIN_F, base->linear_forward(be, l, x, y, err));
}
static int w_linear_backward(fw_backend *be, fw_linear *l, const fw_tensor *x,
                             const fw_tensor *dy, fw_tensor *dx, unsigned flags, fw_error *err)
{
    TIMED(P_LIN_B, base->linear_backward(be, l, x, dy, dx, flags, err));
}
static int w_copy_in(fw_backend *be, fw_tensor *t, fw_shape s, const float *src, fw_error *err)
{
    TIMED(P_COPY, base->tensor_copy_in(be, t, s, src, err));
}
static int w_copy_out(fw_backend *be, const fw_tensor *t, float *dst, fw_error *err)
{
    TIMED(P_COPY, base->tensor_copy_out(be, t, dst, err));
}

static void wrap_ops(const fw_backend_ops *ops)
{
    base = ops;
    wrapped = *ops;
    wrapped.conv_create = w_conv_create;
    wrapped.conv_forward = w_conv_forward;
    wrapped.conv_backward = w_conv_backward;
    wrapped.bn_forward = w_bn_forward;
    wrapped.bn_backward = w_bn_backward;
    wrapped.relu_forward = w_relu_forward;
    wrapped.relu_backward = w_relu_backward;
    wrapped.add = w_add;
    wrapped.pool_forward = w_pool_forward;
    wrapped.pool_backward = w_pool_backward;
    wrapped.gem_forward = w_gem_forward;
    wrapped.gem_backward = w_gem_backward;
    wrapped.linear_forward = w_linear_forward;
    wrapped.linear_backward = w_linear_backward;
    wrapped.tensor_copy_in = w_copy_in;
    wrapped.tensor_copy_out = w_copy_out;
}

static void prof_reset(void)
{
    memset(prof_s, 0, sizeof prof_s);
    memset(prof_calls, 0, sizeof prof_calls);
    conv_flops = 0;
    conv1_flops = 0;
}

static void prof_print(const char *kind, double total_s, int iters)
{
    double ops_s = 0;
    for (int i = 0; i < P_COUNT; i++)
        ops_s += prof_s[i];
    printf("# profile %s: ms per batch (share of the step)\n", kind);
    for (int i = 0; i < P_COUNT; i++)
        if (prof_calls[i])
            printf("#   %-16s %8.1f ms %5.1f%%  (%ld calls per batch)\n", P_NAMES[i],
                   1000 * prof_s[i] / iters, 100 * prof_s[i] / total_s, prof_calls[i] / iters);
    printf("#   %-16s %8.1f ms %5.1f%%\n", "other", 1000 * (total_s - ops_s) / iters,
           100 * (total_s - ops_s) / total_s);
}

/* Best-of-`reps` GFLOP/s of oneDNN's sgemm 1024^3 (the ceiling), with the
 * OpenMP thread count the backend's last op set on this thread. */
static double sgemm_gflops(int reps)
{
    enum { G = 1024 };
    float *a = malloc((size_t)G * G * sizeof *a), *b = malloc((size_t)G * G * sizeof *b),
          *c = malloc((size_t)G * G * sizeof *c);
    double best = 0;
    if (a && b && c) {
        for (size_t i = 0; i < (size_t)G * G; i++) {
            a[i] = (float)(i % 7) * 0.25f - 0.75f;
            b[i] = (float)(i % 5) * 0.5f - 1.0f;
        }
        dnnl_sgemm('N', 'N', G, G, G, 1.0f, a, G, b, G, 0.0f, c, G); /* warm-up */
        for (int r = 0; r < reps; r++) {
            double t0 = now();
            if (dnnl_sgemm('N', 'N', G, G, G, 1.0f, a, G, b, G, 0.0f, c, G) != dnnl_success)
                break;
            double gf = 2.0 * G * G * G / (now() - t0) / 1e9;
            if (gf > best)
                best = gf;
        }
    }
    free(a);
    free(b);
    free(c);
    return best;
}

/* ---- the benchmark ---- */
typedef struct {
    int arch, threads, batch, height, width, channels, dim, iters, warmup, profile, resident;
    float mult;
    const char *device;
    fw_precision precision;
} options;

static int parse(int argc, char **argv, options *o)
{
    *o = (options){18, 2, 32, 128, 256, 1, 512, 8, 2, 0, 0, 1.0f, "cpu", FW_PRECISION_FP32};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int *dst = !strcmp(a, "--arch") ? &o->arch : !strcmp(a, "--threads") ? &o->threads
                 : !strcmp(a, "--batch") ? &o->batch : !strcmp(a, "--height") ? &o->height
                 : !strcmp(a, "--width") ? &o->width : !strcmp(a, "--dim") ? &o->dim
                 : !strcmp(a, "--channels") ? &o->channels
                 : !strcmp(a, "--iters") ? &o->iters : !strcmp(a, "--warmup") ? &o->warmup
                 : NULL;
        if (!strcmp(a, "--profile")) {
            o->profile = 1;
        } else if (!strcmp(a, "--resident")) {
            o->resident = 1;
        } else if (!strcmp(a, "--device") && v) {
            o->device = v;
            i++;
        } else if (!strcmp(a, "--precision") && v) {
            o->precision = !strcmp(v, "bf16")   ? FW_PRECISION_BF16
                           : !strcmp(v, "fp16") ? FW_PRECISION_FP16
                                                : FW_PRECISION_FP32;
            if (o->precision == FW_PRECISION_FP32 && strcmp(v, "fp32")) {
                fprintf(stderr, "bench_train: --precision fp32, bf16 or fp16, not %s\n", v);
                return -1;
            }
            i++;
        } else if (!strcmp(a, "--mult") && v) {
            o->mult = strtof(v, NULL);
            i++;
        } else if (dst && v) {
            char *end;
            long x = strtol(v, &end, 10);
            if (*end || x < 0 || x > 100000) {
                fprintf(stderr, "bench_train: bad value %s for %s\n", v, a);
                return -1;
            }
            *dst = (int)x;
            i++;
        } else {
            fprintf(stderr, "bench_train: unknown option %s\n", a);
            return -1;
        }
    }
    if (o->iters < 1 || o->batch < 2 || (o->channels != 1 && o->channels != 3)) {
        fprintf(stderr, "bench_train: --iters >= 1, --batch >= 2, --channels 1 or 3\n");
        return -1;
    }
    return 0;
}

/* The batch and the embedding gradient: host arrays (the CPU benchmark copies
 * them in every step, as training does), or on a GPU backend tensors uploaded
 * once (as the PyTorch peer keeps its tensors on the GPU; training there makes
 * its input on the device with augment_on=device). */
typedef struct bench_input {
    const float *x, *g;
    float *emb;
    fw_tensor *xt, *gt; /* NULL: host arrays */
} bench_input;

static int infer_step(fw_model *m, fw_backend *be, const bench_input *in, const options *o,
                      fw_error *err)
{
    if (!in->xt)
        return fw_model_forward(m, 0, 0, in->x, o->batch, o->height, o->width, in->emb, err);
    const fw_tensor *emb;
    FW_TRY(fw_model_forward_tensor(m, 0, 0, in->xt, &emb, err));
    return wrapped.tensor_copy_out(be, emb, in->emb, err); /* waits for the device */
}

/* The bench has no head: every trained tensor is a layer's, held by the backend. */
static int held_by_backend(const fw_param *p, void *ctx)
{
    (void)p;
    (void)ctx;
    return 1;
}

/* up: the learner's update (GPU), or NULL: fw_optim_step (CPU). */
static int train_step(fw_model *m, fw_backend *be, fw_optim *opt, fw_train_update *up,
                      const bench_input *in, const options *o, uint64_t step, fw_error *err)
{
    if (up)
        fw_train_update_zero_grads(up);
    else
        fw_model_zero_grad(m);
    if (in->xt) {
        const fw_tensor *emb;
        FW_TRY(fw_model_forward_tensor(m, 1, step, in->xt, &emb, err));
        FW_TRY(fw_model_backward_tensor(m, in->gt, err));
        FW_TRY(wrapped.sync(be, err)); /* host-updated gradients and statistics */
    } else {
        FW_TRY(fw_model_forward(m, 1, step, in->x, o->batch, o->height, o->width, in->emb, err));
        FW_TRY(fw_model_backward(m, in->g, err));
    }
    double t0 = now();
    int rc;
    if (up) {
        fw_loss_scaler off;
        fw_loss_scaler_init(&off, 0, 1.0);
        fw_update_result res;
        rc = fw_train_update_apply(up, &off, 1.0, 0.0, fw_optim_lr(opt), fw_optim_momentum(opt),
                                   &res, err);
    } else {
        rc = fw_optim_step(opt, err);
        fw_model_params_updated(m);
    }
    prof_s[P_OPTIM] += now() - t0;
    prof_calls[P_OPTIM]++;
    return rc;
}

int main(int argc, char **argv)
{
    options o;
    if (parse(argc, argv, &o) < 0)
        return 2;
    fw_error err = {0};
    fw_backend *be = NULL;
    fw_backend_options bo;
    const fw_backend_ops *ops = NULL;
    const char *colon = strchr(o.device, ':');
    if (fw_backend_for_device(o.device, colon ? atoi(colon + 1) : 0, o.precision, o.threads,
                              &ops, &bo, &err) < 0) {
        fprintf(stderr, "bench_train: %s\n", err.msg);
        return 1;
    }
    int on_cpu = !strcmp(o.device, "cpu");
    wrap_ops(ops);
    fw_model *m = NULL;
    fw_model_config cfg;
    fw_model_config_default(&cfg);
    cfg.arch = o.arch;
    cfg.in_channels = o.channels;
    cfg.width_mult = o.mult;
    cfg.embedding_dim = o.dim;
    cfg.seed = 1;
    fw_param_list params;
    fw_param_list_init(&params);
    fw_optim *opt = NULL;
    fw_optim_config oc;
    fw_optim_config_default(&oc, FW_OPTIM_SGD); /* momentum 0.9, weight decay 5e-4 */
    oc.lr = 1e-4;
    oc.threads = o.threads;
    int setup = wrapped.create(&bo, &be, &err);
    if (setup == 0)
        setup = fw_model_create(&wrapped, be, &cfg, &m, &err);
    const fw_param_list *mp = setup == 0 ? fw_model_params(m) : NULL;
    for (int i = 0; setup == 0 && i < mp->n; i++)
        setup = fw_param_list_append(&params, mp->items[i], &err);
    if (setup == 0)
        setup = fw_optim_create(&opt, &oc, &params, &err);
    fw_train_update update, *up = NULL;
    if (setup == 0 && !on_cpu &&
        (setup = fw_train_update_init(&update, &wrapped, be, opt, &params, 1, held_by_backend,
                                      NULL, &err)) == 0)
        up = &update;
    if (setup < 0) {
        fprintf(stderr, "bench_train: %s\n", err.msg);
        return 1;
    }
    const char *algo = getenv("FLUKEWATCH_CONV_ALGO");
    char desc[256];
    wrapped.describe(be, desc, sizeof desc);
    printf("# flukewatch: %s; ResNet-%d x%g, %dx%dx%d, batch %d, %d-d GeM neck; conv algo %s; "
           "SGD momentum %g, weight decay %g, lr %g; update on the %s\n",
           desc, o.arch, (double)o.mult, o.channels, o.height, o.width, o.batch, o.dim,
           on_cpu ? (algo && *algo ? algo : "auto") : "backend's choice", oc.momentum,
           oc.weight_decay, oc.lr, up && up->on_backend ? "device" : "host");
    size_t nx = (size_t)o.batch * o.channels * o.height * o.width, ng = (size_t)o.batch * o.dim;
    float *x = malloc(nx * sizeof *x), *g = malloc(ng * sizeof *g), *emb = malloc(ng * sizeof *emb);
    fw_rng r;
    fw_rng_init(&r, 1, 0);
    for (size_t i = 0; i < nx; i++)
        x[i] = fw_rng_normal(&r);
    for (size_t i = 0; i < ng; i++)
        g[i] = fw_rng_normal(&r);
    bench_input in = {.x = x, .g = g, .emb = emb};
    int rc = 0;
    if (!on_cpu || o.resident) {
        rc = wrapped.tensor_create(be, &in.xt, &err);
        if (rc == 0)
            rc = wrapped.tensor_create(be, &in.gt, &err);
        if (rc == 0)
            rc = wrapped.tensor_copy_in(
                be, in.xt, (fw_shape){o.batch, o.channels, o.height, o.width}, x, &err);
        if (rc == 0)
            rc = wrapped.tensor_copy_in(be, in.gt, (fw_shape){o.batch, o.dim, 1, 1}, g, &err);
    }
    double fwd_flops = 0, first_flops = 0;
    for (int kind = 0; kind < 2 && !rc; kind++) {
        const char *name = kind == 0 ? "train" : "infer";
        for (int i = 0; i < o.warmup && !rc; i++)
            rc = kind == 0 ? train_step(m, be, opt, up, &in, &o, (uint64_t)i, &err)
                           : infer_step(m, be, &in, &o, &err);
        prof_reset();
        double t0 = now(), fastest = 1e30;
        for (int i = 0; i < o.iters && !rc; i++) {
            double tb = now();
            rc = kind == 0 ? train_step(m, be, opt, up, &in, &o, (uint64_t)i, &err)
                           : infer_step(m, be, &in, &o, &err);
            if (now() - tb < fastest)
                fastest = now() - tb;
        }
        double s = now() - t0;
        if (rc)
            break;
        if (kind == 0) {
            fwd_flops = conv_flops / o.iters / o.batch;
            first_flops = conv1_flops / o.iters / o.batch;
        }
        printf("flukewatch kind=%s device=%s threads=%d batch=%d images_per_s=%.2f "
               "ms_per_batch=%.1f best_images_per_s=%.2f best_ms_per_batch=%.1f\n",
               name, o.device, o.threads, o.batch, o.iters * o.batch / s, 1000 * s / o.iters,
               o.batch / fastest, 1000 * fastest);
        if (o.profile)
            prof_print(name, s, o.iters);
        fflush(stdout);
    }
    if (rc) {
        fprintf(stderr, "bench_train: %s\n", err.msg);
    } else {
        /* convs only (BN, ReLU, pooling and the fc are < 1%); training = forward +
         * backward data + backward weights, conv1 has no data gradient */
        printf("flukewatch flops conv_fwd_gflop_per_image=%.3f train_gflop_per_image=%.3f\n",
               fwd_flops / 1e9, (3 * fwd_flops - first_flops) / 1e9);
        if (on_cpu)
            printf("flukewatch sgemm n=1024 threads=%d gflops=%.1f\n", o.threads,
                   sgemm_gflops(5));
    }
    wrapped.tensor_free(be, in.xt);
    wrapped.tensor_free(be, in.gt);
    free(x);
    free(g);
    free(emb);
    if (up)
        fw_train_update_free(up);
    fw_optim_destroy(opt);
    fw_param_list_free(&params);
    fw_model_destroy(m);
    wrapped.destroy(be);
    return rc ? 1 : 0;
}
