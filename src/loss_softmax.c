/* loss_softmax.c — softmax cross-entropy with label smoothing over a linear
 * classifier (W (C, D), optional bias); new_whale rows are ignored. */
#include <math.h>
#include <string.h>

#include "loss.h"
#include "loss_math.h"

int fw_loss_softmax(fw_loss_ws *ws, const fw_softmax_cfg *cfg, const float *emb, const int *labels,
                    int n, int d, const float *weight, const float *bias, int classes,
                    const fw_loss_grads *grads, fw_loss_result *res, fw_error *err)
{
    memset(res, 0, sizeof *res);
    if (classes <= 0 || !weight)
        return fw_fail(err, FW_EINVAL, "softmax loss: %d classes, weight %s", classes,
                       weight ? "given" : "missing");
    double eps = cfg->label_smoothing;
    if (!(eps >= 0.0 && eps < 1.0))
        return fw_fail(err, FW_EINVAL, "softmax loss: label smoothing %g is outside [0, 1)", eps);
    FW_TRY(fw_lm_check_args("softmax", emb, labels, n, d, classes, err));

    int known = 0;
    for (int i = 0; i < n; i++)
        known += labels[i] >= 0;
    if (known == 0)
        return FW_OK;

    /* logits (N, C) in double; rows of new_whale are computed and then dropped
     * (cheaper than compacting, and N is small). */
    double *logits = fw_lm_slot(ws, 0, sizeof(double) * (size_t)n * classes, err);
    if (!logits)
        return FW_ENOMEM;
    FW_TRY(fw_lm_gemm_abt(ws, emb, weight, n, classes, d, logits, err));
    double total = 0.0;
    for (int i = 0; i < n; i++) {
        double *z = logits + (size_t)i * classes;
        if (labels[i] < 0) {
            memset(z, 0, sizeof(double) * (size_t)classes); /* no gradient */
            continue;
        }
        if (bias)
            for (int c = 0; c < classes; c++)
                z[c] += bias[c];
        total += fw_lm_ce_row(z, classes, labels[i], eps); /* z becomes dl/dz */
    }
    res->loss = total / known;
    res->count = known;
    res->active = known;
    if (!grads)
        return FW_OK;

    /* dL/dz = (dl/dz) / known; emb side: dz . W; weight side: dz^T . emb. */
    double alpha = grads->scale / known;
    if (grads->d_emb)
        FW_TRY(fw_lm_gemm_acc(ws, 0, n, classes, d, alpha, logits, weight, NULL, NULL,
                              grads->d_emb, err));
    if (grads->d_weight)
        FW_TRY(fw_lm_gemm_acc(ws, 1, classes, n, d, alpha, logits, emb, NULL, NULL,
                              grads->d_weight, err));
    if (grads->d_bias && bias) {
        for (int c = 0; c < classes; c++) {
            double s = 0.0;
            for (int i = 0; i < n; i++)
                s += logits[(size_t)i * classes + c];
            grads->d_bias[c] += (float)(alpha * s);
        }
    }
    return FW_OK;
}
