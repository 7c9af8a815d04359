/* loss_triplet.c — batch-hard triplet loss (hinge or soft margin) over a
 * P x K batch on L2-normalised embeddings; new_whale rows are negatives only. */
#include <math.h>
#include <string.h>

#include "loss.h"
#include "loss_math.h"

int fw_loss_triplet(fw_loss_ws *ws, const fw_triplet_cfg *cfg, const float *emb,
                    const int *labels, int n, int d, const fw_loss_grads *grads,
                    fw_loss_result *res, fw_error *err)
{
    memset(res, 0, sizeof *res);
    if (!cfg->soft_margin && !(cfg->margin >= 0.0))
        return fw_fail(err, FW_EINVAL, "triplet loss: margin %g must be >= 0", cfg->margin);
    FW_TRY(fw_lm_check_args("triplet", emb, labels, n, d, 0, err));
    if (n < 2)
        return FW_OK;

    double *xhat = fw_lm_slot(ws, 0, sizeof(double) * (size_t)n * d, err);
    double *dxhat = fw_lm_slot(ws, 1, sizeof(double) * (size_t)n * d, err);
    double *d2 = fw_lm_slot(ws, 2, sizeof(double) * (size_t)n * n, err);
    double *vec = fw_lm_slot(ws, 3, sizeof(double) * 3 * (size_t)n, err);
    int *pair = fw_lm_slot(ws, 4, sizeof(int) * 2 * (size_t)n, err); /* (N, 2): p, q or -1 */
    if (!xhat || !dxhat || !d2 || !vec || !pair)
        return FW_ENOMEM;
    double *r = vec, *rad = r + n, *slope = rad + n; /* slope: dl_i/d(d_ip - d_iq) */
    fw_lm_pair_geometry(emb, n, d, r, rad, xhat, d2);

    double total = 0.0;
    int count = 0, active = 0;
    for (int i = 0; i < n; i++) {
        int *pq = pair + 2 * (size_t)i;
        pq[0] = pq[1] = -1;
        if (labels[i] < 0)
            continue;
        const double *di = d2 + (size_t)i * n;
        for (int j = 0; j < n; j++) {
            if (j == i)
                continue;
            if (labels[j] == labels[i]) {
                if (pq[0] < 0 || di[j] > di[pq[0]])
                    pq[0] = j;
            } else if (pq[1] < 0 || di[j] < di[pq[1]]) {
                pq[1] = j;
            }
        }
        if (pq[0] < 0 || pq[1] < 0) {
            pq[0] = pq[1] = -1;
            continue;
        }
        double inv;
        double x = fw_lm_dist(di[pq[0]], &inv) - fw_lm_dist(di[pq[1]], &inv);
        count++;
        if (cfg->soft_margin) {
            total += x > 0.0 ? x + log1p(exp(-x)) : log1p(exp(x));
            slope[i] = 1.0 / (1.0 + exp(-x));
            active += x > 0.0;
        } else if (x + cfg->margin > 0.0) {
            total += x + cfg->margin;
            slope[i] = 1.0;
            active++;
        } else {
            slope[i] = 0.0;
        }
    }
    res->count = count;
    res->active = active;
    if (count == 0)
        return FW_OK;
    res->loss = total / count;
    if (!grads || !grads->d_emb)
        return FW_OK;

    /* dL/dxhat, then back through the normalisation. */
    memset(dxhat, 0, sizeof(double) * (size_t)n * d);
    for (int i = 0; i < n; i++) {
        const int *pq = pair + 2 * (size_t)i;
        if (pq[0] < 0 || slope[i] == 0.0)
            continue;
        double inv_p, inv_q;
        fw_lm_dist(d2[(size_t)i * n + pq[0]], &inv_p);
        fw_lm_dist(d2[(size_t)i * n + pq[1]], &inv_q);
        fw_lm_pair_push(dxhat, xhat, d, i, pq[0], slope[i] * inv_p);
        fw_lm_pair_push(dxhat, xhat, d, i, pq[1], -slope[i] * inv_q);
    }
    for (int i = 0; i < n; i++)
        fw_lm_normalize_backward(dxhat + (size_t)i * d, emb + (size_t)i * d, d, r[i], rad[i],
                                 grads->scale / count, grads->d_emb + (size_t)i * d);
    return FW_OK;
}
