/* test_learner.c — the wired training step: same seed → same losses; a run
 * resumed from a checkpoint continues bit-exactly; it learns; non-finite
 * batches are skipped without touching the weights; the LR finder puts
 * everything back; a checkpoint of another model is refused by name. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckpt_store.h"
#include "learner.h"
#include "param_list.h"
#include "rng.h"
#include "tap.h"
#include "learner_fixture.h"

static void test_same_seed_same_losses(void)
{
    fw_learner *a = new_learner(16), *b = new_learner(16);
    double la[STEPS], lb[STEPS];
    if (a && b && !run_steps(a, 0, STEPS, la) && !run_steps(b, 0, STEPS, lb)) {
        CHECK(memcmp(la, lb, sizeof la) == 0);
        CHECK(same_params(a, b));
        CHECK_INT(fw_learner_steps_done(a), STEPS);
        for (int s = 0; s < STEPS; s++)
            CHECK(isfinite(la[s]) && la[s] > 0);
    }
    fw_learner_destroy(a);
    fw_learner_destroy(b);
}

static void test_resume_is_bit_exact(void)
{
    char dir[] = "/tmp/fwlearnerXXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    fw_learner *a = new_learner(16), *b = new_learner(16);
    double la[STEPS], lb[STEPS];
    fw_error e;
    fw_error_clear(&e);
    fw_learner_position pos = {.epoch = 1, .sampler_epoch = 1, .sampler_batch = 3};
    if (a && b && !run_steps(a, 0, 3, la)) {
        CHECK_MSG(fw_learner_save_to_store(a, dir, &pos, "arch=18", 0, 2, &e) == 0, "%s", e.msg);
        run_steps(a, 3, STEPS, la);
        /* b: a fresh process would do exactly this */
        fw_ckpt ck;
        CHECK_MSG(fw_ckpt_store_open_newest(dir, &ck, NULL, NULL, &e) == 0, "%s", e.msg);
        fw_learner_position got = {0};
        CHECK_MSG(fw_learner_restore(b, &ck, &got, &e) == 0, "%s", e.msg);
        CHECK_STR(ck.config, "arch=18");
        fw_ckpt_close(&ck);
        CHECK_INT(fw_learner_steps_done(b), 3);
        CHECK(got.sampler_epoch == 1 && got.sampler_batch == 3 && got.epoch == 1);
        run_steps(b, 3, STEPS, lb);
        for (int s = 3; s < STEPS; s++)
            CHECK_MSG(la[s] == lb[s], "step %d: %.17g vs %.17g", s, la[s], lb[s]);
        CHECK(same_params(a, b));
    }
    fw_learner_destroy(a);
    fw_learner_destroy(b);
    remove_dir(dir);
}

static void test_two_threads_deterministic_and_resumable(void)
{
    g_threads = 2;
    test_same_seed_same_losses();
    test_resume_is_bit_exact();
    g_threads = 1;
}

static void test_it_learns(void)
{
    fw_learner_config cfg;
    config(&cfg, 16);
    fw_schedule_config_default(&cfg.schedule, FW_SCHED_CONSTANT);
    cfg.schedule.lr_max = 0.02;
    fw_learner *l = NULL;
    fw_error e;
    fw_error_clear(&e);
    CHECK_MSG(fw_learner_create(fw_backend_cpu(), &cfg, &l, &e) == 0, "%s", e.msg);
    if (!l)
        return;
    static float x[N * H * W];
    int labels[N];
    make_batch(0, x, labels);
    fw_step_result r;
    double first = 0, last = 0;
    for (int s = 0; s < 40; s++) {
        CHECK(fw_learner_step(l, x, labels, N, H, W, &r, &e) == 0);
        if (s == 0)
            first = r.loss;
        last = r.loss;
    }
    printf("#   fixed batch: loss %.4f -> %.4f after 40 steps\n", first, last);
    CHECK(last < 0.5 * first);
    fw_learner_destroy(l);
}

static void test_nonfinite_batch_is_skipped(void)
{
    fw_learner *a = new_learner(16), *b = new_learner(16);
    if (!a || !b)
        return;
    static float x[N * H * W];
    int labels[N];
    make_batch(0, x, labels);
    x[5] = NAN;
    fw_step_result r;
    fw_error e;
    fw_error_clear(&e);
    CHECK(fw_learner_step(a, x, labels, N, H, W, &r, &e) == 0);
    CHECK_INT(r.skipped, 1);
    CHECK_INT(fw_learner_steps_done(a), 0);
    CHECK_INT(fw_learner_steps_skipped(a), 1);
    /* Trained weights are untouched (BN running stats saw the batch). */
    fw_param_list *pa = fw_learner_params(a), *pb = fw_learner_params(b);
    int same = 1;
    for (int i = 0; i < pa->n; i++)
        if (!(pa->items[i]->flags & FW_PARAM_BUFFER))
            same &= !memcmp(pa->items[i]->data, pb->items[i]->data,
                            sizeof(float) * (size_t)pa->items[i]->numel);
    CHECK(same);
    fw_learner_destroy(a);
    fw_learner_destroy(b);
}

/* Trainable weights equal (BN running statistics may differ). */
static int same_weights(fw_learner *a, fw_learner *b)
{
    fw_param_list *pa = fw_learner_params(a), *pb = fw_learner_params(b);
    int same = pa->n == pb->n;
    for (int i = 0; same && i < pa->n; i++)
        if (!(pa->items[i]->flags & FW_PARAM_BUFFER))
            same &= !memcmp(pa->items[i]->data, pb->items[i]->data,
                            sizeof(float) * (size_t)pa->items[i]->numel);
    return same;
}

/* The scaler's state machine, as torch.cuda.amp.GradScaler: x2 after 2000
 * clean steps, x0.5 and skip on an overflow, nothing when disabled. */
static void test_loss_scaler_rules(void)
{
    fw_loss_scaler s;
    fw_loss_scaler_init(&s, 1, 0);
    CHECK(fw_loss_scaler_scale(&s) == 65536.0);
    int applied = 1;
    for (int i = 0; i < 1999; i++)
        applied &= fw_loss_scaler_update(&s, 1);
    CHECK(applied);
    CHECK(s.scale == 65536.0 && s.clean_steps == 1999);
    CHECK_INT(fw_loss_scaler_update(&s, 1), 1);
    CHECK(s.scale == 131072.0 && s.clean_steps == 0);
    CHECK_INT(fw_loss_scaler_update(&s, 1), 1);
    CHECK_INT(fw_loss_scaler_update(&s, 0), 0);
    CHECK(s.scale == 65536.0 && s.clean_steps == 0 && s.overflows == 1);
    fw_loss_scaler off;
    fw_loss_scaler_init(&off, 0, 1024);
    CHECK(fw_loss_scaler_scale(&off) == 1.0);
    CHECK_INT(fw_loss_scaler_update(&off, 0), 0);
    CHECK_INT(fw_loss_scaler_update(&off, 1), 1);
    CHECK(off.overflows == 0 && off.scale == 1.0);
}

/* Scaling by 2^16 is exact in fp32: a scaled run gives the unscaled run's
 * bits (losses and every tensor), and a checkpoint carries the scaler. */
static void test_loss_scaling_is_exact_in_fp32(void)
{
    fw_learner *plain = new_learner(16);
    g_loss_scale = 65536;
    fw_learner *scaled = new_learner(16), *resumed = new_learner(16);
    g_loss_scale = 0;
    double lp[STEPS], ls[STEPS];
    if (plain && scaled && resumed && !run_steps(plain, 0, STEPS, lp) &&
        !run_steps(scaled, 0, STEPS, ls)) {
        CHECK(memcmp(lp, ls, sizeof lp) == 0);
        CHECK(same_params(plain, scaled));
        CHECK(fw_learner_loss_scaler(scaled)->scale == 65536.0);
        CHECK(fw_learner_loss_scaler(scaled)->clean_steps == STEPS);
        CHECK(fw_learner_loss_scaler(plain)->enabled == 0);
        char path[] = "/tmp/fwscaleXXXXXX";
        int fd = mkstemp(path);
        CHECK(fd >= 0);
        close(fd);
        fw_error e;
        fw_error_clear(&e);
        CHECK_MSG(fw_learner_save(scaled, path, NULL, "", &e) == 0, "%s", e.msg);
        CHECK_MSG(fw_learner_load(resumed, path, NULL, &e) == 0, "%s", e.msg);
        CHECK(fw_learner_loss_scaler(resumed)->clean_steps == STEPS);
        unlink(path);
    }
    fw_learner_destroy(plain);
    fw_learner_destroy(scaled);
    fw_learner_destroy(resumed);
}

/* A scale that overflows fp32 in the backward pass: each such step is
 * skipped and halves the scale, the schedule does not advance, and the first
 * applied step equals an unscaled learner's first step. */
static void test_loss_scale_overflow_skips_and_halves(void)
{
    fw_learner *ref = new_learner(16);
    g_loss_scale = 0x1p126;
    fw_learner *l = new_learner(16);
    g_loss_scale = 0;
    if (!ref || !l)
        return;
    static float x[N * H * W];
    int labels[N];
    make_batch(0, x, labels);
    fw_error e;
    fw_error_clear(&e);
    fw_step_result r = {0};
    int tries = 0, overflows = 0;
    while (tries < 120 && fw_learner_step(l, x, labels, N, H, W, &r, &e) == 0 && r.skipped) {
        tries++;
        overflows += r.overflow;
        CHECK_INT(fw_learner_steps_done(l), 0);
    }
    const fw_loss_scaler *s = fw_learner_loss_scaler(l);
    printf("#   %d overflow(s) before scale %g gave finite gradients\n", overflows, s->scale);
    CHECK(overflows >= 1 && overflows == tries);
    CHECK(s->overflows == overflows && s->clean_steps == 1);
    CHECK(s->scale == ldexp(1.0, 126 - overflows));
    CHECK(r.loss_scale == s->scale && !r.skipped);
    CHECK_INT(fw_learner_steps_done(l), 1);
    CHECK_INT(fw_learner_steps_skipped(l), overflows);
    fw_step_result rr;
    CHECK(fw_learner_step(ref, x, labels, N, H, W, &rr, &e) == 0);
    CHECK_MSG(rr.lr == r.lr, "lr %g vs %g: the schedule advanced on an overflow", r.lr, rr.lr);
    CHECK(same_weights(ref, l));
    fw_learner_destroy(ref);
    fw_learner_destroy(l);
}

/* ---- micro-batches: the CPU ops wrapped (test-only state) ---- */
static fw_backend_ops g_wrapped;
static int g_frozen_bn;    /* 1: BN always in eval mode (no batch coupling) */
static int64_t g_oom_rows; /* > 0: conv_forward fails with FW_ENOMEM above this batch */

static int frozen_bn_forward(fw_backend *be, fw_bn *bn, int training, const fw_tensor *x,
                             fw_tensor *y, fw_error *err)
{
    return fw_backend_cpu()->bn_forward(be, bn, g_frozen_bn ? 0 : training, x, y, err);
}

static int oom_conv_forward(fw_backend *be, fw_conv *c, const fw_tensor *x, fw_tensor *y,
                            fw_error *err)
{
    fw_shape s = fw_backend_cpu()->tensor_shape(x);
    if (g_oom_rows > 0 && s.n > g_oom_rows)
        return fw_fail(err, FW_ENOMEM, "test: out of memory for a batch of %lld",
                       (long long)s.n);
    return fw_backend_cpu()->conv_forward(be, c, x, y, err);
}

static fw_learner *new_wrapped_learner(int micro_batches)
{
    g_wrapped = *fw_backend_cpu();
    g_wrapped.bn_forward = frozen_bn_forward;
    g_wrapped.conv_forward = oom_conv_forward;
    fw_learner_config cfg;
    config(&cfg, 16);
    cfg.micro_batches = micro_batches;
    fw_learner *l = NULL;
    fw_error e;
    fw_error_clear(&e);
    CHECK_MSG(fw_learner_create(&g_wrapped, &cfg, &l, &e) == 0, "learner: %s", e.msg);
    return l;
}

/* Largest |a - b| over the trainable tensors, relative to the largest |a|
 * (buffers differ: num_batches_tracked counts micro-batch forwards). */
static double max_rel_diff(fw_learner *a, fw_learner *b)
{
    fw_param_list *pa = fw_learner_params(a), *pb = fw_learner_params(b);
    double diff = 0, scale = 1e-30;
    for (int i = 0; i < pa->n; i++)
        for (int64_t j = 0; j < pa->items[i]->numel && !(pa->items[i]->flags & FW_PARAM_BUFFER);
             j++) {
            double d = fabs((double)pa->items[i]->data[j] - pb->items[i]->data[j]);
            diff = d > diff ? d : diff;
            double m = fabs((double)pa->items[i]->data[j]);
            scale = m > scale ? m : scale;
        }
    return diff / scale;
}

/* Without batch coupling in the model (BN frozen), 3 micro-batches give the
 * whole batch's losses and weights (the head's loss is always the whole
 * batch's, so batch-hard triplet mining sees every image). */
static void test_micro_batches_equal_whole_batch(void)
{
    g_frozen_bn = 1;
    fw_learner *whole = new_wrapped_learner(1), *micro = new_wrapped_learner(3);
    double lw[STEPS], lm[STEPS];
    if (whole && micro && !run_steps(whole, 0, STEPS, lw) && !run_steps(micro, 0, STEPS, lm)) {
        double worst = 0;
        for (int s = 0; s < STEPS; s++)
            worst = fmax(worst, fabs(lw[s] - lm[s]) / fabs(lw[s]));
        double wd = max_rel_diff(whole, micro);
        printf("#   3 micro-batches vs whole batch: loss rel diff %.2g, weights %.2g\n", worst,
               wd);
        CHECK(worst < 1e-5);
        CHECK(wd < 1e-5);
        CHECK(fw_learner_micro_batches(micro) == 3);
    }
    fw_learner_destroy(whole);
    fw_learner_destroy(micro);
    g_frozen_bn = 0;
}

/* Out of memory at start-up: the micro-batch halves until the step fits, the
 * failed attempts leave no trace (the result equals a learner made with that
 * many micro-batches, BN running statistics included); once a step went
 * through, running out of memory is an error. */
static void test_oom_at_startup_halves_micro_batch(void)
{
    g_oom_rows = 3; /* N = 10: 1 and 2 micro-batches fail, 4 (2-3 rows) fit */
    fw_learner *l = new_wrapped_learner(1), *ref = new_wrapped_learner(4);
    double ll[STEPS], lr[STEPS];
    if (l && ref && !run_steps(l, 0, 2, ll) && !run_steps(ref, 0, 2, lr)) {
        int retries = 0;
        const char *why = fw_learner_oom_reason(l, &retries);
        printf("#   after %d halving(s): %d micro-batches (%s)\n", retries,
               fw_learner_micro_batches(l), why);
        CHECK_INT(fw_learner_micro_batches(l), 4);
        CHECK_INT(retries, 2);
        CHECK(strstr(why, "out of memory") != NULL);
        CHECK(ll[0] == lr[0] && ll[1] == lr[1]);
        CHECK(same_params(l, ref));
        g_oom_rows = 1;
        static float x[N * H * W];
        int labels[N];
        make_batch(2, x, labels);
        fw_step_result r;
        fw_error e;
        fw_error_clear(&e);
        CHECK_INT(fw_learner_step(l, x, labels, N, H, W, &r, &e), FW_ENOMEM);
        CHECK_INT(fw_learner_micro_batches(l), 4);
    }
    g_oom_rows = 0;
    fw_learner_destroy(l);
    fw_learner_destroy(ref);
}

static void test_lr_finder_restores_everything(void)
{
    fw_learner *a = new_learner(16), *b = new_learner(16);
    double la[STEPS], lb[STEPS];
    if (!a || !b || run_steps(a, 0, 2, la) || run_steps(b, 0, 2, lb))
        return;
    fw_lr_finder_config fc;
    fw_lr_finder_config_default(&fc);
    fc.num_it = 12;
    fc.start_lr = 1e-5;
    fc.end_lr = 10;
    static finder_batches fb;
    fw_lr_finder_result res;
    fw_error e;
    fw_error_clear(&e);
    CHECK_MSG(fw_learner_lr_find(a, &fc, finder_batch, &fb, &res, &e) == 0, "%s", e.msg);
    CHECK(res.n >= 6 && res.n <= 12);
    CHECK(res.lrs[0] == 1e-5);
    printf("#   lr finder: %d points, diverged %d, valley %.3g\n", res.n, res.diverged,
           res.suggest.valid ? res.suggest.valley : -1.0);
    fw_lr_finder_result_free(&res);
    CHECK_INT(fw_learner_steps_done(a), 2);
    CHECK(same_params(a, b));
    /* and training goes on exactly as if the finder had never run */
    run_steps(a, 2, STEPS, la);
    run_steps(b, 2, STEPS, lb);
    CHECK(memcmp(la + 2, lb + 2, sizeof(double) * (STEPS - 2)) == 0);
    fw_learner_destroy(a);
    fw_learner_destroy(b);
}

static void test_other_model_checkpoint_refused(void)
{
    char path[] = "/tmp/fwlearner-ckptXXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    fw_learner *a = new_learner(16), *b = new_learner(24);
    fw_error e;
    fw_error_clear(&e);
    if (a && b) {
        CHECK(fw_learner_save(a, path, NULL, "", &e) == 0);
        int rc = fw_learner_load(b, path, NULL, &e);
        CHECK(rc == FW_EFORMAT);
        printf("#   %s\n", e.msg);
        CHECK(strstr(e.msg, "neck.") != NULL || strstr(e.msg, "head.") != NULL);
    }
    unlink(path);
    fw_learner_destroy(a);
    fw_learner_destroy(b);
}

/* Write the backbone tensors of l (all but neck.*, and skipping `skip`) as
 * an F32 .safetensors file, the format torchvision weights come in. */
static int write_backbone_safetensors(fw_learner *l, const char *path, const char *skip)
{
    const fw_param_list *ps = fw_model_params(fw_learner_model(l));
    size_t cap = 1 << 16, len = 0;
    char *json = malloc(cap);
    uint64_t off = 0;
    len += (size_t)snprintf(json + len, cap - len, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (int i = 0; i < ps->n; i++) {
        const fw_param *p = ps->items[i];
        if (!strncmp(p->name, "neck.", 5) || (skip && !strcmp(p->name, skip)))
            continue;
        len += (size_t)snprintf(json + len, cap - len, ",\"%s\":{\"dtype\":\"F32\",\"shape\":[",
                                p->name);
        for (int d = 0; d < p->ndim; d++)
            len += (size_t)snprintf(json + len, cap - len, "%s%lld", d ? "," : "",
                                    (long long)p->shape[d]);
        uint64_t bytes = (uint64_t)p->numel * 4;
        len += (size_t)snprintf(json + len, cap - len, "],\"data_offsets\":[%llu,%llu]}",
                                (unsigned long long)off, (unsigned long long)(off + bytes));
        off += bytes;
    }
    len += (size_t)snprintf(json + len, cap - len, "}");
    FILE *f = fopen(path, "wb");
    if (!f || len >= cap) {
        free(json);
        return -1;
    }
    uint64_t n = len;
    fwrite(&n, 8, 1, f); /* little-endian host */
    fwrite(json, 1, len, f);
    for (int i = 0; i < ps->n; i++) {
        const fw_param *p = ps->items[i];
        if (!strncmp(p->name, "neck.", 5) || (skip && !strcmp(p->name, skip)))
            continue;
        fwrite(p->data, 4, (size_t)p->numel, f);
    }
    free(json);
    return fclose(f) == 0 ? 0 : -1;
}

static void test_pretrained_backbone_loads(void)
{
    char path[] = "/tmp/fwlearner-stXXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    fw_learner *a = new_learner(16);
    fw_learner_config cfg;
    config(&cfg, 16);
    cfg.model.seed = 8; /* another initialisation */
    fw_learner *b = NULL;
    fw_error e;
    fw_error_clear(&e);
    CHECK(fw_learner_create(fw_backend_cpu(), &cfg, &b, &e) == 0);
    if (a && b) {
        double la[STEPS];
        run_steps(a, 0, 2, la); /* a's weights are trained, not just initialised */
        fw_model *ma = fw_learner_model(a), *mb = fw_learner_model(b);
        /* a file lacking one backbone tensor is refused and writes nothing */
        CHECK(write_backbone_safetensors(a, path, "layer2.0.conv1.weight") == 0);
        float before = fw_model_find(mb, "conv1.weight")->data[0];
        CHECK(fw_learner_load_pretrained(b, path, NULL, &e) == FW_ENOTFOUND);
        CHECK(strstr(e.msg, "layer2.0.conv1.weight") != NULL);
        CHECK(fw_model_find(mb, "conv1.weight")->data[0] == before);
        /* the whole backbone loads; the neck keeps b's own initialisation */
        CHECK(write_backbone_safetensors(a, path, NULL) == 0);
        fw_pretrained_report rep;
        CHECK_MSG(fw_learner_load_pretrained(b, path, &rep, &e) == 0, "%s", e.msg);
        const fw_param_list *pa = fw_model_params(ma);
        int backbone_same = 1, n_backbone = 0;
        for (int i = 0; i < pa->n; i++) {
            const fw_param *p = pa->items[i], *q = fw_model_find(mb, p->name);
            int same = !memcmp(p->data, q->data, sizeof(float) * (size_t)p->numel);
            if (strncmp(p->name, "neck.", 5)) {
                backbone_same &= same;
                n_backbone++;
            }
        }
        CHECK(backbone_same);
        CHECK_INT(rep.n_loaded, n_backbone);
        CHECK(memcmp(fw_model_find(ma, "neck.fc.weight")->data,
                     fw_model_find(mb, "neck.fc.weight")->data, 16 * sizeof(float)) != 0);
        /* and b trains on from there */
        static float x[N * H * W];
        int labels[N];
        make_batch(0, x, labels);
        fw_step_result r;
        CHECK(fw_learner_step(b, x, labels, N, H, W, &r, &e) == 0 && isfinite(r.loss));
    }
    unlink(path);
    fw_learner_destroy(a);
    fw_learner_destroy(b);
}

int main(void)
{
    RUN(test_same_seed_same_losses);
    RUN(test_resume_is_bit_exact);
    RUN(test_two_threads_deterministic_and_resumable);
    RUN(test_it_learns);
    RUN(test_nonfinite_batch_is_skipped);
    RUN(test_lr_finder_restores_everything);
    RUN(test_other_model_checkpoint_refused);
    RUN(test_pretrained_backbone_loads);
    RUN(test_loss_scaler_rules);
    RUN(test_loss_scaling_is_exact_in_fp32);
    RUN(test_loss_scale_overflow_skips_and_halves);
    RUN(test_micro_batches_equal_whole_batch);
    RUN(test_oom_at_startup_halves_micro_batch);
    return tap_done();
}
