/* test_train_update.c — the training update on a backend (update_bind and
 * friends, src/train_update.c), against the host update.
 *
 * The backend here is the CPU backend plus the four update ops, kept the way
 * a GPU keeps them: the optimizer's moments live only in the backend's own
 * buffers (the host's state tensors are stale until update_to_host), and a
 * step's gradient is taken out of fw_param.grad when update_grad_sumsq
 * closes it, so the next backward starts from zero. The weights themselves
 * stay in fw_param.data, which the CPU ops read. Its ArcFace term is the
 * host's fw_loss_arcface called through the arcface ops, so the head's class
 * weights are the backend's too (bound, not loss-scaled). Learners on it
 * must give the host learner's losses and weights bit for bit (the same
 * per-element math, the same order of the norm's sums), through clipping,
 * loss scaling, AdamW, checkpoints taken from it and the LR finder. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckpt_store.h"
#include "dist.h"
#include "dist_group.h"
#include "learner.h"
#include "param_list.h"
#include "tap.h"
#include "learner_fixture.h"

/* ---- the resident update (test-only backend state) ---- */
typedef struct resident {
    fw_update_tensor t;
    float *grad;         /* (numel) the closed step's gradient */
    float *m1, *m2;      /* (numel) the backend's moments */
} resident;

static fw_backend_ops g_resident_ops;
static int g_binds, g_steps_on_backend, g_downloads, g_allreduces; /* (atomic adds) */

/* One backend's bound tensors; a few learners (data-parallel threads) at once. */
enum { MAX_RESIDENT = 4 };
typedef struct resident_be {
    fw_backend *be; /* NULL: a free entry */
    resident *res;
    int n;
} resident_be;
static resident_be g_bes[MAX_RESIDENT];
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static void count(int *counter)
{
    __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

/* be's entry (NULL: none, and make is 0 or the table is full) */
static resident_be *state_of(fw_backend *be, int make)
{
    resident_be *found = NULL;
    pthread_mutex_lock(&g_lock);
    for (int i = 0; i < MAX_RESIDENT && !found; i++)
        if (g_bes[i].be == be)
            found = &g_bes[i];
    for (int i = 0; i < MAX_RESIDENT && !found && make; i++)
        if (!g_bes[i].be) {
            found = &g_bes[i];
            found->be = be;
        }
    pthread_mutex_unlock(&g_lock);
    return found;
}

static void free_resident(resident_be *st)
{
    for (int i = 0; i < st->n; i++) {
        free(st->res[i].grad);
        free(st->res[i].m1);
        free(st->res[i].m2);
    }
    free(st->res);
    pthread_mutex_lock(&g_lock);
    *st = (resident_be){0};
    pthread_mutex_unlock(&g_lock);
}

static void res_destroy(fw_backend *be)
{
    resident_be *st = state_of(be, 0);
    if (st)
        free_resident(st);
    fw_backend_cpu()->destroy(be);
}

/* The host's moments were written (params_updated): upload them. */
static void upload_moments(resident_be *st)
{
    for (int i = 0; i < st->n; i++) {
        resident *r = &st->res[i];
        size_t bytes = (size_t)r->t.param->numel * sizeof(float);
        memcpy(r->m1, r->t.moment1->data, bytes);
        if (r->m2)
            memcpy(r->m2, r->t.moment2->data, bytes);
    }
}

static void res_params_updated(fw_backend *be)
{
    fw_backend_cpu()->params_updated(be);
    resident_be *st = state_of(be, 0);
    if (st)
        upload_moments(st);
}

static int res_bind(fw_backend *be, const fw_update_tensor *t, int n, fw_error *err)
{
    resident_be *st = state_of(be, 1);
    if (!st)
        return fw_fail(err, FW_EINVAL, "resident: more than %d backends", MAX_RESIDENT);
    st->res = calloc((size_t)n, sizeof *st->res);
    if (!st->res)
        return fw_fail(err, FW_ENOMEM, "resident: out of memory");
    for (int i = 0; i < n; i++) {
        resident *r = &st->res[i];
        size_t bytes = (size_t)t[i].param->numel * sizeof(float);
        r->t = t[i];
        r->grad = calloc(1, bytes);
        r->m1 = calloc(1, bytes);
        r->m2 = t[i].moment2 ? calloc(1, bytes) : NULL;
        st->n++;
        if (!r->grad || !r->m1 || (t[i].moment2 && !r->m2))
            return fw_fail(err, FW_ENOMEM, "resident: out of memory");
    }
    upload_moments(st);
    count(&g_binds);
    return FW_OK;
}

/* Data parallel: the sums go through fn on the step's gradients, which are
 * still in fw_param.grad here (host memory: stream NULL). */
static int res_allreduce(fw_backend *be, const int *reduce, fw_buffers_sum_fn fn, void *ctx,
                         fw_error *err)
{
    resident_be *st = state_of(be, 0);
    float *bufs[512];
    size_t counts[512];
    int n = 0;
    for (int i = 0; st && i < st->n && n < 512; i++)
        if (reduce[i]) {
            bufs[n] = st->res[i].t.param->grad;
            counts[n++] = (size_t)st->res[i].t.param->numel;
        }
    count(&g_allreduces);
    return fn(ctx, bufs, counts, n, NULL, err);
}

static int res_sumsq(fw_backend *be, const float *mult, double *sumsq, int *finite,
                     fw_error *err)
{
    (void)err;
    resident_be *st = state_of(be, 0);
    double total = 0;
    int ok = 1;
    for (int i = 0; st && i < st->n; i++) {
        fw_param *p = st->res[i].t.param;
        double sum = 0;
        for (int64_t k = 0; k < p->numel; k++) {
            float g = p->grad[k];
            ok &= isfinite(g) != 0;
            float v = g * mult[i];
            sum += (double)v * (double)v;
            st->res[i].grad[k] = g;
        }
        total += sum;
        /* closed: the next backward starts a new gradient */
        memset(p->grad, 0, (size_t)p->numel * sizeof(float));
    }
    *sumsq = total;
    *finite = ok;
    return FW_OK;
}

static int res_step(fw_backend *be, const fw_optim_hyper *h, const fw_optim_coeffs *c,
                    const float *mult, fw_error *err)
{
    (void)err;
    resident_be *st = state_of(be, 0);
    for (int i = 0; st && i < st->n; i++) {
        resident *r = &st->res[i];
        float *p = r->t.param->data;
        for (int64_t k = 0; k < r->t.param->numel; k++) {
            float g = r->grad[k] * mult[i];
            if (h->adamw)
                fw_adamw_elem(&p[k], g, &r->m1[k], &r->m2[k], h, &c[i]);
            else
                fw_sgd_elem(&p[k], g, &r->m1[k], h, &c[i]);
        }
    }
    fw_backend_cpu()->params_updated(be); /* the CPU's derived weights */
    count(&g_steps_on_backend);
    return FW_OK;
}

/* A given-up step's gradients (still in fw_param.grad here) are dropped. */
static void res_discard(fw_backend *be)
{
    resident_be *st = state_of(be, 0);
    for (int i = 0; st && i < st->n; i++) {
        fw_param *p = st->res[i].t.param;
        memset(p->grad, 0, (size_t)p->numel * sizeof(float));
    }
}

static int res_to_host(fw_backend *be, fw_error *err)
{
    (void)err;
    resident_be *st = state_of(be, 0);
    for (int i = 0; st && i < st->n; i++) {
        resident *r = &st->res[i];
        size_t bytes = (size_t)r->t.param->numel * sizeof(float);
        memcpy(r->t.moment1->data, r->m1, bytes);
        if (r->m2)
            memcpy(r->t.moment2->data, r->m2, bytes);
    }
    count(&g_downloads);
    return FW_OK;
}

/* ---- the ArcFace term through the backend's ops ---- */
struct fw_arcface {
    fw_arcface_cfg cfg;
    int classes, dim;
    fw_param *weight;
    fw_loss_ws ws;
};
static int g_arcface_calls; /* (atomic adds) */
static int g_arcface_nan;   /* > 0: so many more calls end with a NaN loss */

static int res_arcface_create(fw_backend *be, const fw_arcface_cfg *cfg, int classes, int dim,
                              fw_param *weight, fw_arcface **out, fw_error *err)
{
    (void)be;
    fw_arcface *a = calloc(1, sizeof *a);
    if (!a)
        return fw_fail(err, FW_ENOMEM, "arcface: out of memory");
    a->cfg = *cfg;
    a->classes = classes;
    a->dim = dim;
    a->weight = weight;
    fw_loss_ws_init(&a->ws);
    *out = a;
    return FW_OK;
}

static void res_arcface_destroy(fw_backend *be, fw_arcface *a)
{
    (void)be;
    fw_loss_ws_free(&a->ws);
    free(a);
}

static int res_arcface_loss(fw_backend *be, fw_arcface *a, const float *emb, const int *labels,
                            int n, double scale, float *d_emb, fw_loss_result *res,
                            fw_error *err)
{
    (void)be;
    count(&g_arcface_calls);
    fw_loss_grads g = {.d_emb = d_emb, .d_weight = a->weight->grad, .scale = scale};
    int rc = fw_loss_arcface(&a->ws, &a->cfg, emb, labels, n, a->dim, a->weight->data,
                             a->classes, d_emb ? &g : NULL, res, err);
    if (rc == FW_OK && g_arcface_nan > 0) { /* a loss gone bad after its gradients */
        g_arcface_nan--;
        res->loss = NAN;
    }
    return rc;
}

static const fw_backend_ops *resident_ops(void)
{
    g_resident_ops = *fw_backend_cpu();
    g_resident_ops.destroy = res_destroy;
    g_resident_ops.params_updated = res_params_updated;
    g_resident_ops.discard_pending = res_discard;
    g_resident_ops.update_bind = res_bind;
    g_resident_ops.update_allreduce = res_allreduce;
    g_resident_ops.update_grad_sumsq = res_sumsq;
    g_resident_ops.update_step = res_step;
    g_resident_ops.update_to_host = res_to_host;
    g_resident_ops.arcface_create = res_arcface_create;
    g_resident_ops.arcface_destroy = res_arcface_destroy;
    g_resident_ops.arcface_loss = res_arcface_loss;
    return &g_resident_ops;
}

static fw_learner *new_resident_learner(int emb_dim)
{
    g_ops = resident_ops();
    fw_learner *l = new_learner(emb_dim);
    g_ops = NULL;
    return l;
}

/* a (host) and b (resident) hold the same bits; b's host copy is brought
 * up to date first. */
static int same_after_sync(fw_learner *a, fw_learner *b)
{
    fw_error e;
    fw_error_clear(&e);
    if (fw_learner_sync_host(b, &e) != 0) {
        CHECK_MSG(0, "sync_host: %s", e.msg);
        return 0;
    }
    return same_params(a, b);
}

static int g_expect_arcface = 1; /* the resident learner computes ArcFace on the backend */

static void compare_runs(const char *what, int on_backend)
{
    fw_learner *a = new_learner(16), *b = new_resident_learner(16);
    double la[STEPS], lb[STEPS];
    int steps0 = g_steps_on_backend, arcface0 = g_arcface_calls;
    if (a && b && !run_steps(a, 0, STEPS, la) && !run_steps(b, 0, STEPS, lb)) {
        CHECK_MSG(g_arcface_calls - arcface0 == (g_expect_arcface ? STEPS : 0),
                  "%s: ArcFace ran %d times on the backend",
                  what, g_arcface_calls - arcface0);
        int equal = memcmp(la, lb, sizeof la) == 0;
        CHECK_MSG(equal, "%s: losses differ (last %.17g vs %.17g)", what, la[STEPS - 1],
                  lb[STEPS - 1]);
        CHECK_MSG(g_steps_on_backend - steps0 == (on_backend ? STEPS : 0), "%s: %d steps on the backend", what,
                  g_steps_on_backend - steps0);
        CHECK_MSG(same_after_sync(a, b), "%s: weights differ", what);
    }
    fw_learner_destroy(a);
    fw_learner_destroy(b);
}

static void test_sgd_clip_matches_host(void)
{
    compare_runs("sgd + clip", 1);
}

static void test_adamw_loss_scaled_matches_host(void)
{
    g_optim = FW_OPTIM_ADAMW;
    g_loss_scale = 65536.0;
    compare_runs("adamw + loss scale", 1);
    g_optim = FW_OPTIM_SGD;
    g_loss_scale = 0;
}

/* Clipping must be active somewhere in those runs for the test to mean it. */
static void test_clip_is_active(void)
{
    fw_learner *a = new_learner(16);
    static float x[N * H * W];
    int labels[N], clipped = 0;
    fw_error e;
    fw_error_clear(&e);
    for (int s = 0; a && s < STEPS; s++) {
        make_batch(s, x, labels);
        fw_step_result r;
        CHECK_MSG(fw_learner_step(a, x, labels, N, H, W, &r, &e) == 0, "%s", e.msg);
        clipped += r.grad_norm > 5.0;
    }
    CHECK_MSG(clipped > 0, "no step had a gradient norm above the clip (5)");
    fw_learner_destroy(a);
}

/* A checkpoint taken from the resident learner carries its moments: a host
 * learner restored from it continues like the host learner that never
 * stopped. */
static void test_checkpoint_carries_backend_moments(void)
{
    g_optim = FW_OPTIM_ADAMW;
    char dir[] = "/tmp/fwupdateXXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    fw_learner *a = new_learner(16), *b = new_resident_learner(16), *c = new_learner(16);
    double la[STEPS], lb[STEPS], lc[STEPS];
    fw_learner_position pos = {.epoch = 1};
    int downloads0 = g_downloads;
    if (a && b && c && !run_steps(a, 0, STEPS, la) && !run_steps(b, 0, 3, lb) &&
        !save_and_restore(b, c, dir, &pos)) {
        CHECK(g_downloads > downloads0);
        run_steps(c, 3, STEPS, lc);
        run_steps(b, 3, STEPS, lb);
        for (int s = 3; s < STEPS; s++) {
            CHECK_MSG(lc[s] == la[s], "restored, step %d: %.17g vs %.17g", s, lc[s], la[s]);
            CHECK_MSG(lb[s] == la[s], "resident, step %d: %.17g vs %.17g", s, lb[s], la[s]);
        }
        CHECK(same_params(a, c));
        CHECK(same_after_sync(a, b));
    }
    fw_learner_destroy(a);
    fw_learner_destroy(b);
    fw_learner_destroy(c);
    remove_dir(dir);
    g_optim = FW_OPTIM_SGD;
}

/* And a resident learner restored from a host checkpoint uploads it. */
static void test_restore_uploads_moments(void)
{
    g_optim = FW_OPTIM_ADAMW;
    char dir[] = "/tmp/fwupdateXXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    fw_learner *a = new_learner(16), *b = new_resident_learner(16);
    double la[STEPS], lb[STEPS];
    if (a && b && !run_steps(a, 0, 3, la) && !run_steps(b, 0, 1, lb) &&
        !save_and_restore(a, b, dir, NULL)) {
        run_steps(a, 3, STEPS, la);
        run_steps(b, 3, STEPS, lb);
        CHECK(memcmp(la + 3, lb + 3, sizeof(double) * (STEPS - 3)) == 0);
        CHECK(same_after_sync(a, b));
    }
    fw_learner_destroy(a);
    fw_learner_destroy(b);
    remove_dir(dir);
    g_optim = FW_OPTIM_SGD;
}

/* The LR finder on a resident learner puts weights and moments back. */
static void test_lr_finder_on_backend(void)
{
    g_optim = FW_OPTIM_ADAMW;
    fw_learner *a = new_learner(16), *b = new_resident_learner(16);
    double la[STEPS], lb[STEPS];
    if (a && b && !run_steps(a, 0, 2, la) && !run_steps(b, 0, 2, lb)) {
        fw_lr_finder_config fc;
        fw_lr_finder_config_default(&fc);
        fc.num_it = 8;
        static finder_batches fb;
        fw_lr_finder_result res;
        fw_error e;
        fw_error_clear(&e);
        int steps0 = g_steps_on_backend;
        CHECK_MSG(fw_learner_lr_find(b, &fc, finder_batch, &fb, &res, &e) == 0, "%s", e.msg);
        CHECK(g_steps_on_backend > steps0);
        fw_lr_finder_result_free(&res);
        CHECK(same_after_sync(a, b));
        run_steps(a, 2, STEPS, la);
        run_steps(b, 2, STEPS, lb);
        CHECK(memcmp(la + 2, lb + 2, sizeof(double) * (STEPS - 2)) == 0);
    }
    fw_learner_destroy(a);
    fw_learner_destroy(b);
    g_optim = FW_OPTIM_SGD;
}

/* FLUKEWATCH_UPDATE=host keeps the update on the host, FLUKEWATCH_HEAD=host
 * the ArcFace term; a bad value fails. */
static void test_environment_switch(void)
{
    setenv("FLUKEWATCH_UPDATE", "host", 1);
    int binds0 = g_binds;
    compare_runs("FLUKEWATCH_UPDATE=host", 0);
    CHECK_INT(g_binds, binds0);
    setenv("FLUKEWATCH_UPDATE", "gpu", 1);
    fw_learner_config cfg;
    config(&cfg, 16);
    fw_learner *l = NULL;
    fw_error e;
    fw_error_clear(&e);
    CHECK(fw_learner_create(resident_ops(), &cfg, &l, &e) == FW_EINVAL);
    CHECK(l == NULL);
    CHECK_MSG(strstr(e.msg, "FLUKEWATCH_UPDATE") != NULL, "%s", e.msg);
    unsetenv("FLUKEWATCH_UPDATE");
    /* FLUKEWATCH_HEAD=host: ArcFace on the host, the model's update still bound */
    setenv("FLUKEWATCH_HEAD", "host", 1);
    g_expect_arcface = 0;
    binds0 = g_binds;
    compare_runs("FLUKEWATCH_HEAD=host", 1);
    CHECK_INT(g_binds, binds0 + 1);
    g_expect_arcface = 1;
    setenv("FLUKEWATCH_HEAD", "cpu", 1);
    fw_error_clear(&e);
    CHECK(fw_learner_create(resident_ops(), &cfg, &l, &e) == FW_EINVAL);
    CHECK_MSG(strstr(e.msg, "FLUKEWATCH_HEAD") != NULL, "%s", e.msg);
    unsetenv("FLUKEWATCH_HEAD");
}

/* A step given up on a non-finite loss, after the head wrote its weights'
 * gradient and before the backward, leaves nothing behind: the next steps
 * are those of a learner with the same ArcFace op whose update runs on the
 * host (which zeroes its gradients at every step). */
static void test_nonfinite_loss_leaves_nothing(void)
{
    static fw_backend_ops head_only;
    head_only = *fw_backend_cpu();
    head_only.arcface_create = res_arcface_create;
    head_only.arcface_destroy = res_arcface_destroy;
    head_only.arcface_loss = res_arcface_loss;
    g_ops = &head_only;
    fw_learner *a = new_learner(16);
    g_ops = NULL;
    fw_learner *b = new_resident_learner(16);
    double la[STEPS] = {0}, lb[STEPS] = {0};
    if (a && b) {
        g_arcface_nan = 2; /* step 0 of a, then of b */
        CHECK(!run_steps(a, 0, 1, la) && !run_steps(b, 0, 1, lb));
        CHECK(isnan(la[0]) && isnan(lb[0]) && g_arcface_nan == 0);
        if (!run_steps(a, 1, STEPS, la) && !run_steps(b, 1, STEPS, lb)) {
            CHECK(memcmp(la + 1, lb + 1, sizeof(double) * (STEPS - 1)) == 0);
            CHECK_INT(fw_learner_steps_skipped(b), 1);
            CHECK(same_after_sync(a, b));
        }
    }
    g_arcface_nan = 0;
    fw_learner_destroy(a);
    fw_learner_destroy(b);
}

/* ---- data parallel: two in-process ranks ---- */
typedef struct rank_run {
    fw_dist *d;
    int rank, resident;
    double losses[STEPS];
    fw_param_list params; /* rank 0: copies of the final tensors */
    int rc;
    char msg[sizeof(((fw_error *)0)->msg)];
} rank_run;

static void *run_rank(void *arg)
{
    rank_run *rr = arg;
    fw_learner_config cfg;
    config(&cfg, 16);
    fw_optim_config_default(&cfg.optim, FW_OPTIM_ADAMW);
    cfg.dist = rr->d;
    fw_learner *l = NULL;
    fw_error e;
    fw_error_clear(&e);
    static float xs[2][N * H * W];
    float *x = xs[rr->rank];
    int labels[N];
    /* rank r takes rows [N r / 2, N (r + 1) / 2) of every batch */
    int a = N * rr->rank / 2, b = N * (rr->rank + 1) / 2;
    int rc = fw_learner_create(rr->resident ? &g_resident_ops : fw_backend_cpu(), &cfg, &l, &e);
    for (int s = 0; rc == 0 && s < STEPS; s++) {
        make_batch(s, x, labels);
        fw_step_result r;
        rc = fw_learner_step(l, x + (size_t)a * H * W, labels + a, b - a, H, W, &r, &e);
        rr->losses[s] = r.loss;
    }
    if (rc == 0)
        rc = fw_learner_sync_host(l, &e);
    fw_param_list *ps = rc == 0 ? fw_learner_params(l) : NULL;
    for (int i = 0; ps && rc == 0 && i < ps->n; i++) {
        fw_param *p = ps->items[i], *copy;
        rc = fw_param_list_add_owned(&rr->params, p->name, p->ndim, p->shape, p->flags, 0,
                                     &copy, &e);
        if (rc == 0)
            memcpy(copy->data, p->data, (size_t)p->numel * sizeof(float));
    }
    if (rc)
        snprintf(rr->msg, sizeof rr->msg, "%s", e.msg);
    rr->rc = rc;
    fw_learner_destroy(l);
    return NULL;
}

static int run_pair(rank_run *rr, int on_backend)
{
    fw_dist_group *g = NULL;
    fw_error e;
    fw_error_clear(&e);
    if (fw_dist_group_create(2, &g, &e) != 0) {
        CHECK_MSG(0, "group: %s", e.msg);
        return -1;
    }
    pthread_t th[2];
    for (int r = 0; r < 2; r++) {
        rr[r] = (rank_run){.rank = r, .resident = on_backend};
        fw_param_list_init(&rr[r].params);
        CHECK_INT(fw_dist_group_member(g, r, &rr[r].d, &e), FW_OK);
    }
    for (int r = 0; r < 2; r++)
        pthread_create(&th[r], NULL, run_rank, &rr[r]);
    for (int r = 0; r < 2; r++)
        pthread_join(th[r], NULL);
    for (int r = 0; r < 2; r++) {
        fw_dist_finalize(rr[r].d);
        CHECK_MSG(rr[r].rc == 0, "%s rank %d: %s", on_backend ? "resident" : "host", r,
                  rr[r].msg);
    }
    fw_dist_group_free(g);
    return rr[0].rc || rr[1].rc ? -1 : 0;
}

/* Two ranks whose update (and ArcFace) run on the backend, summing the
 * backend's gradient buffers through update_allreduce, give the bits of two
 * ranks that sum one flat host buffer. */
static void test_data_parallel_matches_host(void)
{
    rank_run host[2], res[2];
    int allreduces0 = g_allreduces;
    if (run_pair(host, 0) == 0 && run_pair(res, 1) == 0) {
        CHECK_INT(g_allreduces - allreduces0, 2 * STEPS);
        CHECK(memcmp(host[0].losses, res[0].losses, sizeof host[0].losses) == 0);
        int same = host[0].params.n == res[0].params.n;
        for (int i = 0; same && i < host[0].params.n; i++)
            same = memcmp(host[0].params.items[i]->data, res[0].params.items[i]->data,
                          (size_t)host[0].params.items[i]->numel * sizeof(float)) == 0;
        CHECK_MSG(same, "rank 0's weights differ");
        /* and the ranks agree with each other */
        for (int i = 0; same && i < res[0].params.n; i++)
            same = memcmp(res[0].params.items[i]->data, res[1].params.items[i]->data,
                          (size_t)res[0].params.items[i]->numel * sizeof(float)) == 0;
        CHECK_MSG(same, "the resident ranks' weights differ");
    }
    for (int r = 0; r < 2; r++) {
        fw_param_list_free_owned(&host[r].params);
        fw_param_list_free_owned(&res[r].params);
    }
}

int main(void)
{
    unsetenv("FLUKEWATCH_UPDATE");
    unsetenv("FLUKEWATCH_HEAD");
    resident_ops();
    RUN(test_clip_is_active);
    RUN(test_sgd_clip_matches_host);
    RUN(test_adamw_loss_scaled_matches_host);
    RUN(test_checkpoint_carries_backend_moments);
    RUN(test_restore_uploads_moments);
    RUN(test_lr_finder_on_backend);
    RUN(test_environment_switch);
    RUN(test_nonfinite_loss_leaves_nothing);
    RUN(test_data_parallel_matches_host);
    return tap_done();
}
