/* test_dist_learner.c — the data-parallel training step, driven by
 * tests/dist_learner.sh (which runs it once alone and under mpirun):
 *
 *   test_dist_learner train OUT [ROWS0]
 *       trains a tiny model (ResNet-18 at base width 8, 32x64 grey images,
 *       ArcFace + triplet, SGD with momentum, clipping) for STEPS steps on
 *       fixed batches of N images. Alone it takes the whole batch; under
 *       mpirun with R ranks rank r takes its shard (2 ranks: rank 0 rows
 *       [0, ROWS0), rank 1 the rest; default N/2). Every rank writes its
 *       final tensors (model with BN buffers, then head) to OUT.rankR and
 *       rank 0 the step losses and gradient norms to OUT.loss.
 *       FW_TEST_NO_BN_SYNC=1 turns SyncBatchNorm off again after the
 *       learner is built (to show the comparison notices the difference).
 *   test_dist_learner compare A B REL
 *       exit 0 when every tensor of A equals B's within REL x max(1, max|B|)
 *       (REL 0: bitwise), else print the worst tensor and exit 1.
 *   test_dist_learner compare-ckpt A.fwc B.fwc REL
 *       the same for the model tensors (weights and buffers, head included)
 *       of two checkpoints (tests/train_mpi.sh); prints their steps too.
 *   test_dist_learner compare-losses A B REL REL_NORM
 *       the same for two loss files: each step's loss within REL and its
 *       gradient norm (before clipping) within REL_NORM, relative.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "dist.h"
#include "learner.h"
#include "param_list.h"
#include "rng.h"
#include "tap.h"
#include "learner_fixture.h"

/* The fixture's model, head and batches; SGD at a small lr, clipped at 2. */
static void config_dist(fw_learner_config *cfg, fw_dist *dist)
{
    config(cfg, 16);
    cfg->schedule.lr_max = 0.003;
    cfg->clip_norm = 2.0;
    cfg->dist = dist;
}

static int write_params(const char *path, fw_param_list *list)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    for (int i = 0; i < list->n; i++) {
        fw_param *p = list->items[i];
        fprintf(f, "%s %lld\n", p->name, (long long)p->numel);
        fwrite(p->data, sizeof(float), (size_t)p->numel, f);
        fputc('\n', f);
    }
    return fclose(f);
}

static int train(const char *out, int rows0)
{
    fw_error e;
    fw_error_clear(&e);
    fw_dist *d = NULL;
    if (fw_dist_init(&d, &e) != 0) {
        fprintf(stderr, "dist: %s\n", e.msg);
        return 1;
    }
    int rank = fw_dist_rank(d), ranks = fw_dist_size(d);
    int lo = 0, hi = N;
    if (ranks == 2) {
        lo = rank == 0 ? 0 : rows0;
        hi = rank == 0 ? rows0 : N;
    } else if (ranks > 2) {
        lo = (int)((long)N * rank / ranks);
        hi = (int)((long)N * (rank + 1) / ranks);
    }
    fw_learner_config cfg;
    config_dist(&cfg, d);
    fw_learner *l = NULL;
    int rc = fw_learner_create(fw_backend_cpu(), &cfg, &l, &e);
    if (rc == 0 && getenv("FW_TEST_NO_BN_SYNC"))
        rc = fw_model_set_bn_sync(fw_learner_model(l), NULL, NULL, &e);
    static float x[N * H * W];
    int labels[N];
    double loss[STEPS], norm[STEPS];
    for (int s = 0; rc == 0 && s < STEPS; s++) {
        make_batch(s, x, labels);
        fw_step_result r;
        rc = fw_learner_step(l, x + (size_t)lo * H * W, labels + lo, hi - lo, H, W, &r, &e);
        loss[s] = r.loss;
        norm[s] = r.grad_norm;
        if (rc == 0 && r.skipped) {
            fprintf(stderr, "rank %d: step %d skipped\n", rank, s);
            rc = 1;
        }
    }
    if (rc == 0) {
        char path[4096];
        snprintf(path, sizeof path, "%s.rank%d", out, rank);
        if (write_params(path, fw_learner_params(l)) != 0) {
            fprintf(stderr, "cannot write %s\n", path);
            rc = 1;
        }
        if (rank == 0) {
            snprintf(path, sizeof path, "%s.loss", out);
            FILE *f = fopen(path, "w");
            for (int s = 0; f && s < STEPS; s++)
                fprintf(f, "%.9g %.9g\n", loss[s], norm[s]);
            if (!f || fclose(f) != 0)
                rc = 1;
        }
    } else if (rc < 0) {
        fprintf(stderr, "rank %d: %s\n", rank, e.msg);
    }
    fw_learner_destroy(l);
    if (rc != 0)
        fw_dist_abort(d, 1);
    fw_dist_finalize(d);
    return rc != 0;
}

typedef struct tensor_file {
    char *buf;
    size_t len, pos;
} tensor_file;

static int load(const char *path, tensor_file *t)
{
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return -1;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    t->buf = malloc((size_t)n + 1);
    t->len = t->buf ? fread(t->buf, 1, (size_t)n, f) : 0;
    fclose(f);
    return t->buf && t->len == (size_t)n ? 0 : -1;
}

/* The next tensor: name, numel and its floats (copied out). */
static int next_tensor(tensor_file *t, char name[128], long long *numel, float **data)
{
    if (t->pos >= t->len)
        return 0;
    char *nl = memchr(t->buf + t->pos, '\n', t->len - t->pos);
    if (!nl || sscanf(t->buf + t->pos, "%127s %lld", name, numel) != 2 || *numel < 0)
        return -1;
    t->pos = (size_t)(nl - t->buf) + 1;
    size_t bytes = (size_t)*numel * sizeof(float);
    if (t->pos + bytes + 1 > t->len)
        return -1;
    *data = malloc(bytes ? bytes : 1);
    memcpy(*data, t->buf + t->pos, bytes);
    t->pos += bytes + 1;
    return 1;
}

static int compare(const char *a_path, const char *b_path, double rel)
{
    tensor_file a, b;
    if (load(a_path, &a) || load(b_path, &b))
        return 1;
    int bad = 0, tensors = 0;
    double worst_ratio = 0;
    char worst[128] = "";
    for (;;) {
        char na[128], nb[128];
        long long ca, cb;
        float *da = NULL, *db = NULL;
        int ra = next_tensor(&a, na, &ca, &da), rb = next_tensor(&b, nb, &cb, &db);
        if (ra == 0 && rb == 0)
            break;
        if (ra <= 0 || rb <= 0 || strcmp(na, nb) || ca != cb) {
            fprintf(stderr, "tensor lists differ at %d (%s vs %s)\n", tensors,
                    ra > 0 ? na : "?", rb > 0 ? nb : "?");
            free(da);
            free(db);
            bad = 1;
            break;
        }
        double scale = 1, diff = 0;
        for (long long i = 0; i < ca; i++) {
            scale = fmax(scale, fabs(db[i]));
            double dd = fabs((double)da[i] - db[i]);
            diff = isnan(dd) ? INFINITY : fmax(diff, dd);
        }
        double ratio = diff / scale;
        if (ratio > worst_ratio || (rel == 0 && diff != 0)) {
            worst_ratio = fmax(ratio, worst_ratio);
            snprintf(worst, sizeof worst, "%s", na);
        }
        if (rel == 0 ? diff != 0 : !(ratio <= rel))
            bad = 1;
        tensors++;
        free(da);
        free(db);
    }
    printf("%d tensors, worst %s: max|diff| / max(1, max|w|) = %.3g (limit %g)\n", tensors,
           worst[0] ? worst : "-", worst_ratio, rel);
    free(a.buf);
    free(b.buf);
    return bad || tensors == 0;
}

static int compare_losses(const char *a_path, const char *b_path, double rel, double rel_norm)
{
    FILE *fa = fopen(a_path, "r"), *fb = fopen(b_path, "r");
    if (!fa || !fb) {
        fprintf(stderr, "cannot open the loss files\n");
        return 1;
    }
    int bad = 0, n = 0;
    double la, ga, lb, gb;
    while (fscanf(fa, "%lf %lf", &la, &ga) == 2) {
        if (fscanf(fb, "%lf %lf", &lb, &gb) != 2) {
            bad = 1;
            break;
        }
        double dl = fabs(la - lb) / fmax(1, fabs(lb)), dg = fabs(ga - gb) / fmax(1, fabs(gb));
        printf("step %d: loss %.7g vs %.7g, grad norm %.7g vs %.7g\n", n, la, lb, ga, gb);
        if (!(dl <= rel && dg <= rel_norm))
            bad = 1;
        n++;
    }
    fclose(fa);
    fclose(fb);
    return bad || n != STEPS;
}

static int compare_ckpt(const char *a_path, const char *b_path, double rel)
{
    fw_ckpt a, b;
    fw_error e;
    fw_error_clear(&e);
    if (fw_ckpt_open(a_path, &a, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    if (fw_ckpt_open(b_path, &b, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        fw_ckpt_close(&a);
        return 1;
    }
    int bad = a.meta.step != b.meta.step, tensors = 0;
    double worst_ratio = 0;
    char worst[FW_CKPT_NAME_MAX] = "-";
    long j = 0;
    for (long i = 0; i < a.n_entries; i++) {
        const fw_ckpt_entry *x = &a.entries[i];
        if (x->kind != FW_CKPT_KIND_TENSOR || x->section != FW_CKPT_SECTION_MODEL)
            continue;
        while (j < b.n_entries && (b.entries[j].kind != FW_CKPT_KIND_TENSOR ||
                                   b.entries[j].section != FW_CKPT_SECTION_MODEL))
            j++;
        if (j >= b.n_entries || strcmp(x->name, b.entries[j].name) ||
            x->length != b.entries[j].length) {
            fprintf(stderr, "tensor lists differ at %s\n", x->name);
            bad = 1;
            break;
        }
        const fw_ckpt_entry *y = &b.entries[j++];
        size_t n = (size_t)x->length / sizeof(float);
        double scale = 1, diff = 0;
        for (size_t k = 0; k < n; k++) {
            float va, vb;
            memcpy(&va, x->data + k * sizeof va, sizeof va);
            memcpy(&vb, y->data + k * sizeof vb, sizeof vb);
            scale = fmax(scale, fabs(vb));
            double dd = fabs((double)va - vb);
            diff = isnan(dd) ? INFINITY : fmax(diff, dd);
        }
        if (diff / scale > worst_ratio || isnan(diff / scale)) {
            worst_ratio = diff / scale;
            snprintf(worst, sizeof worst, "%s", x->name);
        }
        if (!(diff / scale <= rel))
            bad = 1;
        tensors++;
    }
    printf("steps %llu and %llu; %d model tensors, worst %s: max|diff| / max(1, max|w|) = "
           "%.3g (limit %g)\n",
           (unsigned long long)a.meta.step, (unsigned long long)b.meta.step, tensors, worst,
           worst_ratio, rel);
    fw_ckpt_close(&a);
    fw_ckpt_close(&b);
    return bad || tensors == 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "train"))
        return train(argv[2], argc >= 4 ? atoi(argv[3]) : N / 2);
    if (argc == 5 && !strcmp(argv[1], "compare"))
        return compare(argv[2], argv[3], atof(argv[4]));
    if (argc == 5 && !strcmp(argv[1], "compare-ckpt"))
        return compare_ckpt(argv[2], argv[3], atof(argv[4]));
    if (argc == 6 && !strcmp(argv[1], "compare-losses"))
        return compare_losses(argv[2], argv[3], atof(argv[4]), atof(argv[5]));
    if (argc == 2 && !strcmp(argv[1], "has-mpi"))
        return !fw_dist_available();
    fprintf(stderr, "usage: %s train OUT [ROWS0] | compare A B REL | compare-ckpt A B REL | compare-losses A B REL REL_NORM | "
                    "has-mpi\n",
            argv[0]);
    return 2;
}
