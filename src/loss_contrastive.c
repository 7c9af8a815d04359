/* loss_contrastive.c — contrastive (Siamese) loss over all pairs of a batch on
 * L2-normalised embeddings; any pair with a new_whale row is negative. */
#include <math.h>
#include <string.h>

#include "loss.h"
#include "loss_math.h"

int fw_loss_contrastive(fw_loss_ws *ws, const fw_contrastive_cfg *cfg, const float *emb,
                        const int *labels, int n, int d, const fw_loss_grads *grads,
                        fw_loss_result *res, fw_error *err)
{
    memset(res, 0, sizeof *res);
    const double margin = cfg->margin;
    if (!(margin >= 0.0))
        return fw_fail(err, FW_EINVAL, "contrastive loss: margin %g must be >= 0", margin);
    FW_TRY(fw_lm_check_args("contrastive", emb, labels, n, d, 0, err));
    if (n < 2)
        return FW_OK;

    double *xhat = fw_lm_slot(ws, 0, sizeof(double) * (size_t)n * d, err);
    double *dxhat = fw_lm_slot(ws, 1, sizeof(double) * (size_t)n * d, err);
    double *d2 = fw_lm_slot(ws, 2, sizeof(double) * (size_t)n * n, err);
    double *vec = fw_lm_slot(ws, 3, sizeof(double) * 2 * (size_t)n, err);
    if (!xhat || !dxhat || !d2 || !vec)
        return FW_ENOMEM;
    double *r = vec, *rad = r + n;
    fw_lm_pair_geometry(emb, n, d, r, rad, xhat, d2);

    const int pairs = n * (n - 1) / 2;
    const int want_grad = grads && grads->d_emb;
    if (want_grad)
        memset(dxhat, 0, sizeof(double) * (size_t)n * d);
    double total = 0.0;
    int active = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            double dd = d2[(size_t)i * n + j], g;
            if (labels[i] >= 0 && labels[i] == labels[j]) {
                total += dd; /* d^2 = |xhat_i - xhat_j|^2, d/dxhat_i = 2 (xhat_i - xhat_j) */
                active += dd > 0.0;
                g = 2.0;
            } else {
                double inv, gap = margin - fw_lm_dist(dd, &inv);
                if (gap <= 0.0)
                    continue;
                total += gap * gap;
                active++;
                g = -2.0 * gap * inv;
            }
            if (want_grad)
                fw_lm_pair_push(dxhat, xhat, d, i, j, g);
        }
    res->loss = total / pairs;
    res->count = pairs;
    res->active = active;
    if (!want_grad)
        return FW_OK;
    for (int i = 0; i < n; i++)
        fw_lm_normalize_backward(dxhat + (size_t)i * d, emb + (size_t)i * d, d, r[i], rad[i],
                                 grads->scale / pairs, grads->d_emb + (size_t)i * d);
    return FW_OK;
}
