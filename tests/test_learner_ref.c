/* test_learner_ref.c — the training step end to end against PyTorch: the tiny
 * ResNet-18 (base width 1, GeM, D 16) with each head (softmax CE with label
 * smoothing, ArcFace, sub-center ArcFace, batch-hard triplet, contrastive,
 * ArcFace + 0.5 triplet) on a 4 x 2 + 2 new_whale batch, two SGD steps
 * (momentum 0.9, no Nesterov, weight decay 0.01 except on no-decay tensors,
 * head lr x4, constant schedule, no clipping), from tests/ref/learner_ref.py
 * (PyTorch in float64 on the same fp32 weights and inputs).
 *
 * Per case, two test points:
 *   parts    fw_model_forward / fw_head_loss / fw_model_backward by hand: the
 *            embedding, the loss, dLoss/demb and every model and head gradient;
 *   learner  fw_learner_step twice (batch x1, then x2): both losses, the lr and
 *            momentum used, step 1's gradients (still in fw_param.grad after
 *            the update), every tensor after the two steps (weights, head,
 *            BN running stats, num_batches_tracked) and each parameter's change
 *            over the two steps.
 * Measure: per tensor ||ours - ref||_2 / max(||ref||_2, floor) <= 1e-4, with
 * floor = a fraction of the largest ref norm of the same group, so a tensor
 * that is (nearly) zero is held to its group's scale: 1e-3 for final tensors
 * and changes, 1e-2 for gradients (with base width 1, BN makes
 * layer2.0.downsample.0.weight's gradient ~1e-6 of the largest, a sum over
 * the batch that cancels but for BN's eps: fp32 leaves ~1e-7 of noise on it);
 * for a change also 1e-2 x the norm of the final weights (fp32 weights hold
 * a change only to their own rounding: ~16 ulps at best).
 * Scalars (losses) by |ours - ref| / |ref|.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "head.h"
#include "learner.h"
#include "model.h"
#include "model_fixture.h"
#include "param_list.h"
#include "tap.h"

#define REL_TOL 1e-4
#define LR 0.02
#define MOMENTUM 0.9
#define WEIGHT_DECAY 0.01
#define HEAD_LR_MULT 4.0

/* fixture reader, rel_err and the weight pattern: model_fixture.h ("FWREFLRN") */

static double ref_scalar(const ref_file *f, const char *name)
{
    const ref_tensor *t = ref_get(f, name);
    return t && t->numel == 1 ? (double)t->data[0] : NAN;
}

/* frac x the largest norm among the ref tensors whose name starts with prefix. */
static double group_floor(const ref_file *f, const char *prefix, double frac)
{
    double m = 0;
    size_t len = strlen(prefix);
    for (int i = 0; i < f->n; i++)
        if (strncmp(f->t[i].name, prefix, len) == 0) {
            double v = norm2(f->t[i].data, f->t[i].numel);
            m = v > m ? v : m;
        }
    return frac * m;
}

/* ---- the cases (the twins of learner_ref.py's CASES) ---- */
typedef struct {
    const char *name;
    int n_terms;
    fw_head_term terms[2];
} ref_case;

static const ref_case CASES[] = {
    {"softmax", 1,
     {{.kind = FW_LOSS_SOFTMAX, .weight = 1.0, .softmax = {.label_smoothing = 0.1},
       .softmax_bias = 1}}},
    {"arcface", 1,
     {{.kind = FW_LOSS_ARCFACE, .weight = 1.0,
       .arcface = {.scale = 16, .margin = 0.3, .subcenters = 1}}}},
    {"subcenter", 1,
     {{.kind = FW_LOSS_ARCFACE, .weight = 1.0,
       .arcface = {.scale = 16, .margin = 0.3, .subcenters = 3, .label_smoothing = 0.1}}}},
    {"triplet", 1, {{.kind = FW_LOSS_TRIPLET, .weight = 1.0, .triplet = {.margin = 0.3}}}},
    {"contrastive", 1,
     {{.kind = FW_LOSS_CONTRASTIVE, .weight = 1.0, .contrastive = {.margin = 1.0}}}},
    {"arcface_triplet", 2,
     {{.kind = FW_LOSS_ARCFACE, .weight = 1.0,
       .arcface = {.scale = 16, .margin = 0.3, .subcenters = 2}},
      {.kind = FW_LOSS_TRIPLET, .weight = 0.5, .triplet = {.margin = 0.3}}}},
};
enum { N_CASES = sizeof CASES / sizeof CASES[0] };

/* A loaded case: fixture, configuration, batches. */
typedef struct {
    const ref_case *rc;
    ref_file f;
    fw_learner_config cfg;
    int n, h, w;
    uint64_t seed;
    int *labels;      /* (N) */
    float *x1, *x2;   /* (N, 1, H, W) */
} case_data;

static void case_free(case_data *c)
{
    ref_free(&c->f);
    free(c->labels);
    free(c->x1);
    free(c->x2);
    memset(c, 0, sizeof *c);
}

static int case_load(case_data *c, const ref_case *rc)
{
    memset(c, 0, sizeof *c);
    c->rc = rc;
    char leaf[128];
    snprintf(leaf, sizeof leaf, "learner_%s.bin", rc->name);
    if (ref_load(&c->f, leaf, "FWREFLRN") < 0)
        return -1;
    c->n = ref_int(&c->f, "cfg.batch");
    c->h = ref_int(&c->f, "cfg.height");
    c->w = ref_int(&c->f, "cfg.width_px");
    int seed = ref_int(&c->f, "cfg.seed"), dim = ref_int(&c->f, "cfg.dim");
    int classes = ref_int(&c->f, "cfg.classes"), base = ref_int(&c->f, "cfg.width");
    const ref_tensor *lab = ref_get(&c->f, "labels");
    if (c->n <= 0 || c->h <= 0 || c->w <= 0 || seed < 0 || dim <= 0 || classes <= 0 ||
        base <= 0 || !lab || lab->numel != c->n) {
        printf("# %s: incomplete configuration\n", leaf);
        return -1;
    }
    c->seed = (uint64_t)seed;
    size_t px = (size_t)c->n * (size_t)c->h * (size_t)c->w;
    c->labels = malloc((size_t)c->n * sizeof *c->labels);
    c->x1 = malloc(px * sizeof *c->x1);
    c->x2 = malloc(px * sizeof *c->x2);
    if (!c->labels || !c->x1 || !c->x2)
        return -1;
    for (int i = 0; i < c->n; i++)
        c->labels[i] = (int)lab->data[i];
    for (size_t i = 0; i < px; i++) {
        c->x1[i] = pattern_uniform(c->seed, 1000, i);
        c->x2[i] = pattern_uniform(c->seed, 1002, i);
    }
    fw_learner_config *cfg = &c->cfg;
    memset(cfg, 0, sizeof *cfg);
    fw_model_config_default(&cfg->model);
    cfg->model.arch = 18;
    cfg->model.in_channels = 1;
    cfg->model.width_mult = (float)base / 64.0f;
    cfg->model.embedding_dim = dim;
    cfg->model.pool = FW_NECK_GEM;
    cfg->model.dropout = 0;
    cfg->model.seed = c->seed;
    cfg->head.emb_dim = dim;
    cfg->head.classes = classes;
    cfg->head.seed = 1;
    cfg->head.n_terms = rc->n_terms;
    memcpy(cfg->head.terms, rc->terms, sizeof rc->terms);
    fw_optim_config_default(&cfg->optim, FW_OPTIM_SGD);
    cfg->optim.lr = LR;
    cfg->optim.momentum = MOMENTUM;
    cfg->optim.weight_decay = WEIGHT_DECAY;
    cfg->optim.nesterov = 0;
    cfg->optim.head_lr_mult = HEAD_LR_MULT;
    cfg->optim.threads = 1;
    fw_schedule_config_default(&cfg->schedule, FW_SCHED_CONSTANT);
    cfg->schedule.lr_max = LR;
    cfg->schedule.momentum = MOMENTUM;
    cfg->schedule.total_steps = 2;
    cfg->clip_norm = 0;
    cfg->threads = 1;
    return 0;
}

/* Copy the fixture's "init.<name>" into every head tensor of `list`; 0 when
 * every head tensor was found with the right size. */
static int load_head_weights(const case_data *c, fw_param_list *list)
{
    int found = 0;
    for (int i = 0; i < list->n; i++) {
        fw_param *p = list->items[i];
        if (!(p->flags & FW_PARAM_HEAD))
            continue;
        char key[160];
        snprintf(key, sizeof key, "init.%s", p->name);
        const ref_tensor *t = ref_get(&c->f, key);
        if (!t || t->numel != p->numel) {
            printf("# %s: no %s of %lld values in the fixture\n", c->rc->name, key,
                   (long long)p->numel);
            return -1;
        }
        memcpy(p->data, t->data, (size_t)p->numel * sizeof *p->data);
        found++;
    }
    int expected = 0;
    for (int i = 0; i < c->f.n; i++)
        expected += strncmp(c->f.t[i].name, "init.", 5) == 0;
    return found == expected ? 0 : -1;
}

/* The worst error of one comparison group, for the TAP log. */
typedef struct {
    double err;
    char name[160];
} worst;

static void note(worst *w, double err, const char *name)
{
    if (err > w->err || !w->name[0]) {
        w->err = err;
        snprintf(w->name, sizeof w->name, "%s", name);
    }
}

/* Compare `ours` (numel) with the ref tensor `key`; check, record the worst. */
static void compare(const case_data *c, const char *key, const float *ours, int64_t numel,
                    double floor, worst *w)
{
    const ref_tensor *t = ref_get(&c->f, key);
    CHECK_MSG(t != NULL, "%s: %s missing from the fixture", c->rc->name, key);
    if (!t)
        return;
    CHECK_MSG(t->numel == numel, "%s: %s has %lld values, ours %lld", c->rc->name, key,
              (long long)t->numel, (long long)numel);
    if (t->numel != numel)
        return;
    double e = rel_err(ours, t->data, numel, floor);
    CHECK_MSG(e <= REL_TOL, "%s: %s rel err %.3g", c->rc->name, key, e);
    note(w, e, key);
}

static void compare_scalar(const case_data *c, const char *key, double ours, worst *w)
{
    double ref = ref_scalar(&c->f, key);
    double e = fabs(ours - ref) / fmax(fabs(ref), 1e-30);
    CHECK_MSG(e <= REL_TOL, "%s: %s = %.9g, PyTorch %.9g (rel err %.3g)", c->rc->name, key,
              ours, ref, e);
    note(w, e, key);
}

/* Every trained tensor's grad against "grad.<name>"; returns how many. */
static int compare_grads(const case_data *c, const fw_param_list *list, worst *w)
{
    double floor = group_floor(&c->f, "grad.", 1e-2);
    int count = 0;
    for (int i = 0; i < list->n; i++) {
        const fw_param *p = list->items[i];
        if (!p->grad || (p->flags & FW_PARAM_BUFFER))
            continue;
        char key[160];
        snprintf(key, sizeof key, "grad.%s", p->name);
        compare(c, key, p->grad, p->numel, floor, w);
        count++;
    }
    return count;
}

/* ---- the tests ---- */
static void check_parts(const ref_case *rc)
{
    case_data c;
    if (case_load(&c, rc) < 0) {
        CHECK_MSG(0, "%s: cannot load the fixture", rc->name);
        case_free(&c);
        return;
    }
    const fw_backend_ops *ops = fw_backend_cpu();
    fw_error err;
    fw_error_clear(&err);
    fw_backend_options bopt = {.threads = 1};
    fw_backend *be = NULL;
    fw_model *m = NULL;
    fw_head head;
    int head_ok = 0;
    fw_param_list list;
    fw_param_list_init(&list);
    int D = c.cfg.model.embedding_dim;
    float *emb = malloc((size_t)c.n * (size_t)D * sizeof *emb);
    float *d_emb = malloc((size_t)c.n * (size_t)D * sizeof *d_emb);
    int rc_ = emb && d_emb ? ops->create(&bopt, &be, &err) : FW_ENOMEM;
    if (rc_ == 0)
        rc_ = fw_model_create(ops, be, &c.cfg.model, &m, &err);
    if (rc_ == 0 && (rc_ = fw_head_init(&head, &c.cfg.head, &err)) == 0)
        head_ok = 1;
    const fw_param_list *mp = rc_ == 0 ? fw_model_params(m) : NULL;
    for (int i = 0; rc_ == 0 && i < mp->n; i++)
        rc_ = fw_param_list_append(&list, mp->items[i], &err);
    if (rc_ == 0)
        rc_ = fw_head_add_params(&head, &list, &err);
    CHECK_MSG(rc_ == 0, "%s: setup: %s", rc->name, err.msg);
    if (rc_ == 0) {
        set_pattern_weights(m, c.seed);
        CHECK(load_head_weights(&c, &list) == 0);
        fw_param_list_zero_grad(&list);
        double loss = NAN;
        rc_ = fw_model_forward(m, 1, 0, c.x1, c.n, c.h, c.w, emb, &err);
        if (rc_ == 0)
            rc_ = fw_head_loss(&head, emb, c.labels, c.n, d_emb, &loss, &err);
        if (rc_ == 0)
            rc_ = fw_model_backward(m, d_emb, &err);
        CHECK_MSG(rc_ == 0, "%s: step: %s", rc->name, err.msg);
        if (rc_ == 0) {
            worst we = {0}, wg = {0};
            compare(&c, "emb1", emb, (int64_t)c.n * D, 0, &we);
            compare(&c, "d_emb1", d_emb, (int64_t)c.n * D, 0, &we);
            compare_scalar(&c, "loss1", loss, &we);
            int count = compare_grads(&c, &list, &wg);
            int in_fixture = 0;
            for (int i = 0; i < c.f.n; i++)
                in_fixture += strncmp(c.f.t[i].name, "grad.", 5) == 0;
            CHECK_INT(count, in_fixture); /* every gradient PyTorch has, and no other */
            printf("# %s parts: worst of emb/d_emb/loss %.2g (%s), of %d gradients %.2g (%s)\n",
                   rc->name, we.err, we.name, count, wg.err, wg.name);
        }
    }
    fw_param_list_free(&list);
    if (head_ok)
        fw_head_free(&head);
    fw_model_destroy(m);
    if (be)
        ops->destroy(be);
    free(emb);
    free(d_emb);
    case_free(&c);
}

static void check_learner(const ref_case *rc)
{
    case_data c;
    if (case_load(&c, rc) < 0) {
        CHECK_MSG(0, "%s: cannot load the fixture", rc->name);
        case_free(&c);
        return;
    }
    fw_error err;
    fw_error_clear(&err);
    fw_learner *l = NULL;
    int rc_ = fw_learner_create(fw_backend_cpu(), &c.cfg, &l, &err);
    CHECK_MSG(rc_ == 0, "%s: learner: %s", rc->name, err.msg);
    if (rc_ != 0) {
        case_free(&c);
        return;
    }
    fw_param_list *list = fw_learner_params(l);
    set_pattern_weights(fw_learner_model(l), c.seed);
    CHECK(load_head_weights(&c, list) == 0);
    /* the initial weights, for the changes */
    int64_t total = fw_param_list_numel(list, 0);
    float *init = malloc((size_t)total * sizeof *init);
    CHECK(init != NULL);
    int64_t off = 0;
    for (int i = 0; init && i < list->n; off += list->items[i]->numel, i++)
        memcpy(init + off, list->items[i]->data, (size_t)list->items[i]->numel * sizeof *init);

    worst ws = {0}, wg = {0}, wf = {0}, wu = {0};
    fw_step_result r1, r2;
    rc_ = fw_learner_step(l, c.x1, c.labels, c.n, c.h, c.w, &r1, &err);
    CHECK_MSG(rc_ == 0, "%s: step 1: %s", rc->name, err.msg);
    if (rc_ == 0) {
        CHECK(!r1.skipped);
        CHECK_NEAR(r1.lr, LR, 1e-15);
        CHECK_NEAR(r1.momentum, MOMENTUM, 1e-15);
        compare_scalar(&c, "loss1", r1.loss, &ws);
        compare_grads(&c, list, &wg); /* the optimizer leaves the grads as they were */
        rc_ = fw_learner_step(l, c.x2, c.labels, c.n, c.h, c.w, &r2, &err);
        CHECK_MSG(rc_ == 0, "%s: step 2: %s", rc->name, err.msg);
    }
    if (rc_ == 0 && init) {
        CHECK(!r2.skipped);
        CHECK_INT(fw_learner_steps_done(l), 2);
        compare_scalar(&c, "loss2", r2.loss, &ws);
        double floor_final = group_floor(&c.f, "final.", 1e-3);
        /* the update floor: 1e-3 x the largest ref change */
        double max_change = 0;
        float *change = malloc((size_t)total * 2 * sizeof *change);
        CHECK(change != NULL);
        for (int pass = 0; change && pass < 2; pass++) {
            off = 0;
            for (int i = 0; i < list->n; off += list->items[i]->numel, i++) {
                fw_param *p = list->items[i];
                char key[160];
                snprintf(key, sizeof key, "final.%s", p->name);
                const ref_tensor *t = ref_get(&c.f, key);
                if (pass == 0) {
                    compare(&c, key, p->data, p->numel, floor_final, &wf);
                    if (t && t->numel == p->numel && !(p->flags & FW_PARAM_BUFFER)) {
                        float *ref_ch = change + total, *ours_ch = change;
                        for (int64_t k = 0; k < p->numel; k++) {
                            ref_ch[off + k] = t->data[k] - init[off + k];
                            ours_ch[off + k] = p->data[k] - init[off + k];
                        }
                        double nrm = norm2(ref_ch + off, p->numel);
                        max_change = nrm > max_change ? nrm : max_change;
                    }
                    continue;
                }
                if (!t || t->numel != p->numel || (p->flags & FW_PARAM_BUFFER))
                    continue;
                double floor = fmax(1e-3 * max_change, 1e-2 * norm2(t->data, t->numel));
                double e = rel_err(change + off, change + total + off, p->numel, floor);
                snprintf(key, sizeof key, "change.%s", p->name);
                CHECK_MSG(e <= REL_TOL, "%s: %s rel err %.3g", rc->name, key, e);
                note(&wu, e, key);
            }
        }
        free(change);
    }
    printf("# %s learner: worst loss %.2g (%s), gradient %.2g (%s), final tensor %.2g (%s), "
           "change %.2g (%s)\n",
           rc->name, ws.err, ws.name, wg.err, wg.name, wf.err, wf.name, wu.err, wu.name);
    free(init);
    fw_learner_destroy(l);
    case_free(&c);
}

static const ref_case *current;
static void test_parts(void) { check_parts(current); }
static void test_learner(void) { check_learner(current); }

int main(void)
{
    for (int i = 0; i < N_CASES; i++) {
        current = &CASES[i];
        char name[96];
        snprintf(name, sizeof name, "%s: parts of step 1", current->name);
        tap_run_(name, test_parts);
        snprintf(name, sizeof name, "%s: learner, two steps", current->name);
        tap_run_(name, test_learner);
    }
    return tap_done();
}
