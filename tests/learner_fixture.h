/* learner_fixture.h — a small learner for tests (ResNet-18 at width 1/8 on
 * 32x64 stripes, ArcFace with sub-centres + triplet, one-cycle SGD with
 * clipping) and its batches; shared by tests/test_learner.c and
 * tests/test_train_update.c. Include after tap.h. */
#ifndef FW_TEST_LEARNER_FIXTURE_H
#define FW_TEST_LEARNER_FIXTURE_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt_store.h"
#include "learner.h"
#include "rng.h"

enum { P = 4, K = 2, M = 2, N = P * K + M, C = 6, H = 32, W = 64, STEPS = 6 };

static int g_threads = 1; /* backend and optimizer threads of the learners made */

static inline void config(fw_learner_config *cfg, int emb_dim)
{
    memset(cfg, 0, sizeof *cfg);
    fw_model_config_default(&cfg->model);
    cfg->model.arch = 18;
    cfg->model.in_channels = 1;
    cfg->model.width_mult = 0.125f;
    cfg->model.embedding_dim = emb_dim;
    cfg->model.seed = 7;
    cfg->head = (fw_head_config){
        .classes = C, .seed = 3, .n_terms = 2,
        .terms = {{.kind = FW_LOSS_ARCFACE, .weight = 1.0,
                   .arcface = {.scale = 16, .margin = 0.3, .subcenters = 2}},
                  {.kind = FW_LOSS_TRIPLET, .weight = 0.5, .triplet = {.margin = 0.3}}}};
    fw_optim_config_default(&cfg->optim, FW_OPTIM_SGD);
    cfg->optim.threads = g_threads;
    fw_schedule_config_default(&cfg->schedule, FW_SCHED_ONE_CYCLE);
    cfg->schedule.lr_max = 0.05;
    cfg->schedule.total_steps = STEPS;
    cfg->clip_norm = 5.0;
    cfg->threads = g_threads;
}

/* Batch `step`: P whales x K images + M new_whale; each class is a fixed
 * stripe pattern, plus noise drawn from (step). */
static inline void make_batch(int step, float *x, int *labels)
{
    fw_rng r;
    fw_rng_init(&r, 99, (uint64_t)step);
    for (int i = 0; i < N; i++) {
        int cls = i < P * K ? (step + i / K) % C : -1;
        labels[i] = cls;
        for (int y = 0; y < H; y++)
            for (int xx = 0; xx < W; xx++) {
                float base = cls >= 0 ? sinf(0.2f * (float)((cls + 1) * xx) + (float)cls * y * 0.1f)
                                      : 0.0f;
                x[((size_t)i * H + y) * W + xx] = base + 0.3f * fw_rng_normal(&r);
            }
    }
}

static double g_loss_scale = 0; /* cfg.loss_scale of the learners made */
static fw_optim_kind g_optim = FW_OPTIM_SGD; /* their optimizer */
static const fw_backend_ops *g_ops;          /* their backend (NULL: the CPU's) */

static inline fw_learner *new_learner(int emb_dim)
{
    fw_learner_config cfg;
    config(&cfg, emb_dim);
    cfg.loss_scale = g_loss_scale;
    if (g_optim != FW_OPTIM_SGD) {
        fw_optim_config_default(&cfg.optim, g_optim);
        cfg.optim.threads = g_threads;
    }
    fw_learner *l = NULL;
    fw_error e;
    fw_error_clear(&e);
    int rc = fw_learner_create(g_ops ? g_ops : fw_backend_cpu(), &cfg, &l, &e);
    CHECK_MSG(rc == 0, "learner: %s", e.msg);
    return l;
}

static inline int run_steps(fw_learner *l, int from, int to, double *losses)
{
    static float x[N * H * W];
    int labels[N];
    fw_error e;
    fw_error_clear(&e);
    for (int s = from; s < to; s++) {
        make_batch(s, x, labels);
        fw_step_result r;
        if (fw_learner_step(l, x, labels, N, H, W, &r, &e) != 0) {
            CHECK_MSG(0, "step %d: %s", s, e.msg);
            return -1;
        }
        losses[s] = r.loss;
    }
    return 0;
}

static inline int same_params(fw_learner *a, fw_learner *b)
{
    fw_param_list *pa = fw_learner_params(a), *pb = fw_learner_params(b);
    if (pa->n != pb->n)
        return 0;
    for (int i = 0; i < pa->n; i++)
        if (pa->items[i]->numel != pb->items[i]->numel ||
            memcmp(pa->items[i]->data, pb->items[i]->data,
                   sizeof(float) * (size_t)pa->items[i]->numel))
            return 0;
    return 1;
}

/* Save `from` into the checkpoint store `dir` and restore the newest
 * checkpoint there into `to`; 0 or -1 (a failed check). */
static inline int save_and_restore(fw_learner *from, fw_learner *to, const char *dir,
                                   const fw_learner_position *pos)
{
    fw_error e;
    fw_error_clear(&e);
    fw_ckpt ck;
    int ok = fw_learner_save_to_store(from, dir, pos, "x=1", 0, 2, &e) == 0 &&
             fw_ckpt_store_open_newest(dir, &ck, NULL, NULL, &e) == 0;
    if (ok) {
        ok = fw_learner_restore(to, &ck, NULL, &e) == 0;
        fw_ckpt_close(&ck);
    }
    CHECK_MSG(ok, "checkpoint through %s: %s", dir, e.msg);
    return ok ? 0 : -1;
}

/* rm -rf dir (a mkdtemp directory of the test) */
static inline void remove_dir(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

/* The LR finder's batches: make_batch(i) (fw_learner_batch_fn). */
typedef struct finder_batches {
    float x[N * H * W];
    int labels[N];
} finder_batches;

static inline int finder_batch(void *ctx, int i, const float **x, const int **labels, int *n,
                               int *h, int *w, fw_error *err)
{
    (void)err;
    finder_batches *fb = ctx;
    make_batch(i, fb->x, fb->labels);
    *x = fb->x;
    *labels = fb->labels;
    *n = N, *h = H, *w = W;
    return 0;
}

#endif
