/* loss_arcface.c — ArcFace (additive angular margin) and sub-center ArcFace
 * over normalised embeddings and class weights, then softmax cross-entropy;
 * plus the class cosines used for prediction. See loss.h for the formulas. */
#include <math.h>
#include <string.h>

#include "loss.h"
#include "loss_math.h"
#include "loss_row_math.h"

/* cos (N, C*k) = e^ . w^ from raw products and the row norms. */
static int cosines(fw_loss_ws *ws, const float *emb, int n, int d, const float *weight, int rows_w,
                   double *cosv, double *re, double *rade, double *rw, double *radw, fw_error *err)
{
    fw_lm_row_norms(emb, n, d, re, rade);
    fw_lm_row_norms(weight, rows_w, d, rw, radw);
    FW_TRY(fw_lm_gemm_abt(ws, emb, weight, n, rows_w, d, cosv, err));
    for (int i = 0; i < n; i++) {
        double *ci = cosv + (size_t)i * rows_w;
        for (int j = 0; j < rows_w; j++)
            ci[j] /= re[i] * rw[j];
    }
    return FW_OK;
}

int fw_cosine_logits(fw_loss_ws *ws, const float *emb, int n, int d, const float *weight,
                     int classes, int subcenters, float *out, fw_error *err)
{
    if (classes <= 0 || subcenters <= 0 || !weight || !out)
        return fw_fail(err, FW_EINVAL, "cosine logits: %d classes x %d sub-centres", classes,
                       subcenters);
    if (n < 0 || d <= 0 || (n > 0 && !emb))
        return fw_fail(err, FW_EINVAL, "cosine logits: bad shape N=%d, D=%d", n, d);
    int rows_w = classes * subcenters;
    double *cosv = fw_lm_slot(ws, 0, sizeof(double) * (size_t)n * rows_w, err);
    double *norms = fw_lm_slot(ws, 4, sizeof(double) * 2 * ((size_t)n + rows_w), err);
    if (!cosv || !norms)
        return FW_ENOMEM;
    double *re = norms, *rade = re + n, *rw = rade + n, *radw = rw + rows_w;
    FW_TRY(cosines(ws, emb, n, d, weight, rows_w, cosv, re, rade, rw, radw, err));
    for (int i = 0; i < n; i++)
        for (int c = 0; c < classes; c++) {
            const double *cc = cosv + (size_t)i * rows_w + (size_t)c * subcenters;
            double best = cc[0];
            for (int j = 1; j < subcenters; j++)
                if (cc[j] > best)
                    best = cc[j];
            out[(size_t)i * classes + c] = (float)best;
        }
    return FW_OK;
}

int fw_loss_arcface(fw_loss_ws *ws, const fw_arcface_cfg *cfg, const float *emb,
                    const int *labels, int n, int d, const float *weight, int classes,
                    const fw_loss_grads *grads, fw_loss_result *res, fw_error *err)
{
    memset(res, 0, sizeof *res);
    const double s = cfg->scale, m = cfg->margin, eps = cfg->label_smoothing;
    const int k = cfg->subcenters;
    if (classes <= 0 || k <= 0 || !weight)
        return fw_fail(err, FW_EINVAL, "ArcFace loss: %d classes x %d sub-centres, weight %s",
                       classes, k, weight ? "given" : "missing");
    if (!(s > 0.0) || !(m >= 0.0 && m < M_PI))
        return fw_fail(err, FW_EINVAL, "ArcFace loss: scale %g must be > 0 and margin %g in "
                       "[0, pi)", s, m);
    if (!(eps >= 0.0 && eps < 1.0))
        return fw_fail(err, FW_EINVAL, "ArcFace loss: label smoothing %g is outside [0, 1)", eps);
    FW_TRY(fw_lm_check_args("ArcFace", emb, labels, n, d, classes, err));
    int known = 0;
    for (int i = 0; i < n; i++)
        known += labels[i] >= 0;
    if (known == 0)
        return FW_OK;

    const int rows_w = classes * k;
    const size_t ncw = (size_t)n * rows_w, nc = (size_t)n * classes;
    double *cosv = fw_lm_slot(ws, 0, sizeof(double) * ncw, err);
    double *dcos = fw_lm_slot(ws, 1, sizeof(double) * ncw, err);
    double *logits = fw_lm_slot(ws, 2, sizeof(double) * nc, err);
    int *arg = fw_lm_slot(ws, 3, sizeof(int) * nc, err);
    double *vec = fw_lm_slot(ws, 4, sizeof(double) * (4 * ((size_t)n + rows_w) + n), err);
    if (!cosv || !dcos || !logits || !arg || !vec)
        return FW_ENOMEM;
    double *re = vec, *rade = re + n, *rw = rade + n, *radw = rw + rows_w;
    double *corr_e = radw + rows_w, *corr_w = corr_e + n, *dphi = corr_w + rows_w;
    FW_TRY(cosines(ws, emb, n, d, weight, rows_w, cosv, re, rade, rw, radw, err));

    const fw_arcface_consts consts = fw_arcface_consts_of(s, m, eps);
    double total = 0.0;
    for (int i = 0; i < n; i++) {
        const int y = labels[i];
        if (y < 0)
            continue;
        /* logits + cross-entropy; the row of logits becomes dl/dz */
        total += fw_arcface_row(cosv + (size_t)i * rows_w, classes, k, y, &consts,
                                logits + (size_t)i * classes, arg + (size_t)i * classes,
                                &dphi[i]);
    }
    res->loss = total / known;
    res->count = known;
    res->active = known;
    if (!grads || (!grads->d_emb && !grads->d_weight))
        return FW_OK;

    /* dl/dcos at each class's arg-max sub-centre, then G = dcos / (|e| |w|)
     * and the radial corrections sum_j dcos_ij cos_ij (see loss_math.h). */
    memset(dcos, 0, sizeof(double) * ncw);
    for (int i = 0; i < n; i++) {
        const int y = labels[i];
        if (y < 0)
            continue;
        fw_arcface_dcos_row(logits + (size_t)i * classes, arg + (size_t)i * classes, classes, k,
                            y, s, dphi[i], dcos + (size_t)i * rows_w);
    }
    memset(corr_w, 0, sizeof(double) * rows_w);
    for (int i = 0; i < n; i++) {
        double *dci = dcos + (size_t)i * rows_w;
        const double *ci = cosv + (size_t)i * rows_w;
        double acc = 0.0;
        for (int j = 0; j < rows_w; j++) {
            double t = dci[j] * ci[j];
            acc += t;
            corr_w[j] += t;
            dci[j] /= re[i] * rw[j];
        }
        corr_e[i] = acc * rade[i];
    }
    for (int j = 0; j < rows_w; j++)
        corr_w[j] *= radw[j];

    double alpha = grads->scale / known;
    if (grads->d_emb)
        FW_TRY(fw_lm_gemm_acc(ws, 0, n, rows_w, d, alpha, dcos, weight, corr_e, emb,
                              grads->d_emb, err));
    if (grads->d_weight)
        FW_TRY(fw_lm_gemm_acc(ws, 1, rows_w, n, d, alpha, dcos, emb, corr_w, weight,
                              grads->d_weight, err));
    return FW_OK;
}
