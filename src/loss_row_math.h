/* loss_row_math.h — the per-row pieces of the classification losses, written
 * once for the host losses (src/loss_arcface.c, src/loss_softmax.c) and the
 * GPU's ArcFace (gpu/cuda_arcface.cu): a row's norm as F.normalize uses it,
 * softmax cross-entropy with label smoothing, and ArcFace's sub-centre
 * maximum, angular margin and the gradient it sends back to the cosines.
 * Everything is in double. */
#ifndef FW_LOSS_ROW_MATH_H
#define FW_LOSS_ROW_MATH_H

#include <math.h>

#include "hostdev.h"
#include "loss.h"

/* One row x (d) of floats: *r = max(|x|, eps) and *rad = 1/|x|^2, or 0 where
 * the norm was clamped (no gradient through it). */
FW_HD void fw_lm_row_norm(const float *x, int d, double *r, double *rad)
{
    double s = 0.0;
    for (int k = 0; k < d; k++)
        s += (double)x[k] * x[k];
    double norm = sqrt(s);
    if (norm > FW_LOSS_NORM_EPS) {
        *r = norm;
        *rad = 1.0 / s;
    } else {
        *r = FW_LOSS_NORM_EPS;
        *rad = 0.0;
    }
}

/* Softmax cross-entropy of one row of logits (c) with target y and label
 * smoothing eps; replaces the logits by dl/dlogits = p - target distribution
 * and returns l. */
FW_HD double fw_lm_ce_row(double *logits, int c, int y, double eps)
{
    double mx = logits[0];
    for (int j = 1; j < c; j++)
        if (logits[j] > mx)
            mx = logits[j];
    double sum = 0.0, mean_logit = 0.0;
    for (int j = 0; j < c; j++) {
        sum += exp(logits[j] - mx);
        mean_logit += logits[j];
    }
    mean_logit /= c;
    double lse = mx + log(sum);
    /* -log p_y = lse - z_y; mean_c(-log p_c) = lse - mean(z) */
    double loss = (1.0 - eps) * (lse - logits[y]) + eps * (lse - mean_logit);
    double inv = 1.0 / sum;
    for (int j = 0; j < c; j++)
        logits[j] = exp(logits[j] - mx) * inv - eps / c - (j == y ? 1.0 - eps : 0.0);
    return loss;
}

/* ArcFace's constants for scale s, margin m and label smoothing eps. */
typedef struct fw_arcface_consts {
    double s, cos_m, sin_m, th, mm, eps;
} fw_arcface_consts;

FW_HD fw_arcface_consts fw_arcface_consts_of(double s, double m, double eps)
{
    fw_arcface_consts c;
    c.s = s;
    c.cos_m = cos(m);
    c.sin_m = sin(m);
    c.th = cos(M_PI - m);
    c.mm = sin(M_PI - m) * m;
    c.eps = eps;
    return c;
}

/* One labelled sample (class y) from its cosines to every sub-centre
 * (classes * k): z (classes) = s * (the best sub-centre's cosine per class,
 * the target's with the margin: cos(theta + m), or cos - mm past theta = pi -
 * m), arg (classes) = that sub-centre, *dphi = d phi / d cos of the target;
 * then the cross-entropy: returns the row's loss, z becomes dl/dz. */
FW_HD double fw_arcface_row(const double *cos_row, int classes, int k, int y,
                            const fw_arcface_consts *a, double *z, int *arg, double *dphi)
{
    for (int c = 0; c < classes; c++) {
        const double *cc = cos_row + (size_t)c * k;
        int best = 0;
        for (int j = 1; j < k; j++)
            if (cc[j] > cc[best])
                best = j;
        arg[c] = best;
        z[c] = cc[best];
    }
    double ct = z[y], phi;
    if (ct > a->th) {
        double one_minus = 1.0 - ct * ct;
        double sine = one_minus > 0.0 ? sqrt(one_minus) : 0.0;
        phi = ct * a->cos_m - sine * a->sin_m;
        *dphi = one_minus > 0.0 ? a->cos_m + a->sin_m * ct / fmax(sine, 1e-6) : a->cos_m;
    } else {
        phi = ct - a->mm;
        *dphi = 1.0;
    }
    z[y] = phi;
    for (int c = 0; c < classes; c++)
        z[c] *= a->s;
    return fw_lm_ce_row(z, classes, y, a->eps);
}

/* dl/dcos of that sample at each class's arg-max sub-centre (the row of
 * classes * k must be zero elsewhere): s * dl/dz, times dphi at the target. */
FW_HD void fw_arcface_dcos_row(const double *z, const int *arg, int classes, int k, int y,
                               double s, double dphi, double *dcos_row)
{
    for (int c = 0; c < classes; c++)
        dcos_row[(size_t)c * k + arg[c]] = s * z[c] * (c == y ? dphi : 1.0);
}

#endif
