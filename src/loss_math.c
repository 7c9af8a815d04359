/* loss_math.c — workspace slots, argument checks, norms, one-row softmax
 * cross-entropy and the matrix products shared by the losses (loss_math.h). */
#include "loss_math.h"
#include "loss_row_math.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>

#include "dataset.h"

void fw_loss_ws_init(fw_loss_ws *ws)
{
    memset(ws, 0, sizeof *ws);
}

void fw_loss_ws_free(fw_loss_ws *ws)
{
    if (!ws)
        return;
    for (int i = 0; i < FW_LOSS_WS_SLOTS; i++)
        free(ws->slot[i]);
    int precise = ws->precise;
    memset(ws, 0, sizeof *ws);
    ws->precise = precise;
}

void *fw_lm_slot(fw_loss_ws *ws, int slot, size_t bytes, fw_error *err)
{
    if (bytes == 0)
        bytes = 1;
    if (ws->cap[slot] < bytes) {
        void *p = realloc(ws->slot[slot], bytes);
        if (!p) {
            fw_fail(err, FW_ENOMEM, "%s:%d: loss workspace: cannot allocate %zu bytes", __FILE__,
                    __LINE__, bytes);
            return NULL;
        }
        ws->slot[slot] = p;
        ws->cap[slot] = bytes;
    }
    return ws->slot[slot];
}

int fw_lm_check_args(const char *what, const float *emb, const int *labels, int n, int d,
                     int classes, fw_error *err)
{
    if (n < 0 || d <= 0)
        return fw_fail(err, FW_EINVAL, "%s loss: bad shape N=%d, D=%d", what, n, d);
    if (n > 0 && (!emb || !labels))
        return fw_fail(err, FW_EINVAL, "%s loss: embeddings or labels missing", what);
    for (int i = 0; i < n; i++) {
        int y = labels[i];
        if (y < FW_NEW_WHALE || (classes > 0 && y >= classes)) {
            if (classes > 0)
                return fw_fail(err, FW_EINVAL,
                               "%s loss: label %d of row %d is neither new_whale (%d) nor a "
                               "class index below %d",
                               what, y, i, FW_NEW_WHALE, classes);
            return fw_fail(err, FW_EINVAL,
                           "%s loss: label %d of row %d is neither new_whale (%d) nor a class "
                           "index >= 0",
                           what, y, i, FW_NEW_WHALE);
        }
    }
    return FW_OK;
}

void fw_lm_row_norms(const float *x, int rows, int d, double *r, double *rad)
{
    for (int i = 0; i < rows; i++)
        fw_lm_row_norm(x + (size_t)i * d, d, &r[i], &rad[i]);
}

static int sgemm_failed(fw_error *err, dnnl_status_t st, const char *file, int line)
{
    return fw_fail(err, FW_EDEVICE, "%s:%d: oneDNN sgemm failed (status %d)", file, line,
                   (int)st);
}

int fw_lm_gemm_abt(fw_loss_ws *ws, const float *a, const float *b, int m, int n, int k,
                   double *out, fw_error *err)
{
    if (m == 0 || n == 0)
        return FW_OK;
    if (ws->precise) {
        for (int i = 0; i < m; i++) {
            const float *ai = a + (size_t)i * k;
            for (int j = 0; j < n; j++) {
                const float *bj = b + (size_t)j * k;
                double s = 0.0;
                for (int t = 0; t < k; t++)
                    s += (double)ai[t] * bj[t];
                out[(size_t)i * n + j] = s;
            }
        }
        return FW_OK;
    }
    float *tmp = fw_lm_slot(ws, FW_LM_SCRATCH_A, sizeof(float) * (size_t)m * n, err);
    if (!tmp)
        return FW_ENOMEM;
    dnnl_status_t st = dnnl_sgemm('N', 'T', m, n, k, 1.0f, a, k, b, k, 0.0f, tmp, n);
    if (st != dnnl_success)
        return sgemm_failed(err, st, __FILE__, __LINE__);
    for (size_t i = 0; i < (size_t)m * n; i++)
        out[i] = tmp[i];
    return FW_OK;
}

int fw_lm_gemm_acc(fw_loss_ws *ws, int trans, int rows, int inner, int d, double alpha,
                   const double *g, const float *b, const double *corr, const float *self,
                   float *out, fw_error *err)
{
    if (rows == 0)
        return FW_OK;
    if (ws->precise) {
        double *acc = fw_lm_slot(ws, FW_LM_SCRATCH_B, sizeof(double) * (size_t)d, err);
        if (!acc)
            return FW_ENOMEM;
        for (int r = 0; r < rows; r++) {
            memset(acc, 0, sizeof(double) * (size_t)d);
            for (int i = 0; i < inner; i++) {
                double gi = trans ? g[(size_t)i * rows + r] : g[(size_t)r * inner + i];
                if (gi == 0.0)
                    continue;
                const float *bi = b + (size_t)i * d;
                for (int t = 0; t < d; t++)
                    acc[t] += gi * bi[t];
            }
            float *o = out + (size_t)r * d;
            if (corr) {
                const float *sr = self + (size_t)r * d;
                for (int t = 0; t < d; t++)
                    acc[t] -= corr[r] * sr[t];
            }
            for (int t = 0; t < d; t++)
                o[t] += (float)(alpha * acc[t]);
        }
        return FW_OK;
    }
    if (corr) {
        for (int r = 0; r < rows; r++) {
            float c = (float)(alpha * corr[r]);
            if (c == 0.0f)
                continue;
            const float *sr = self + (size_t)r * d;
            float *o = out + (size_t)r * d;
            for (int t = 0; t < d; t++)
                o[t] -= c * sr[t];
        }
    }
    if (inner == 0)
        return FW_OK;
    size_t ng = (size_t)rows * inner;
    float *gf = fw_lm_slot(ws, FW_LM_SCRATCH_A, sizeof(float) * ng, err);
    if (!gf)
        return FW_ENOMEM;
    for (size_t i = 0; i < ng; i++)
        gf[i] = (float)g[i];
    dnnl_status_t st = dnnl_sgemm(trans ? 'T' : 'N', 'N', rows, d, inner, (float)alpha, gf,
                                  trans ? rows : inner, b, d, 1.0f, out, d);
    if (st != dnnl_success)
        return sgemm_failed(err, st, __FILE__, __LINE__);
    return FW_OK;
}

void fw_lm_normalize_backward(const double *g, const float *x, int d, double r, double rad,
                              double scale, float *out)
{
    double xg = 0.0;
    for (int k = 0; k < d; k++)
        xg += (double)x[k] * g[k];
    double a = scale / r, b = xg * rad;
    for (int k = 0; k < d; k++)
        out[k] += (float)(a * (g[k] - x[k] * b));
}

void fw_lm_pair_geometry(const float *x, int n, int d, double *r, double *rad, double *xhat,
                         double *d2)
{
    fw_lm_row_norms(x, n, d, r, rad);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < d; k++)
            xhat[(size_t)i * d + k] = x[(size_t)i * d + k] / r[i];
    for (int i = 0; i < n; i++) {
        d2[(size_t)i * n + i] = 0.0;
        for (int j = i + 1; j < n; j++) {
            const double *a = xhat + (size_t)i * d, *b = xhat + (size_t)j * d;
            double s = 0.0;
            for (int k = 0; k < d; k++) {
                double t = a[k] - b[k];
                s += t * t;
            }
            d2[(size_t)i * n + j] = s;
            d2[(size_t)j * n + i] = s;
        }
    }
}

double fw_lm_dist(double d2, double *inv)
{
    if (d2 > FW_LOSS_DIST_EPS) {
        double dist = sqrt(d2);
        *inv = 1.0 / dist;
        return dist;
    }
    *inv = 0.0;
    return sqrt(FW_LOSS_DIST_EPS);
}

void fw_lm_pair_push(double *dxhat, const double *xhat, int d, int i, int j, double g)
{
    if (g == 0.0)
        return;
    const double *a = xhat + (size_t)i * d, *b = xhat + (size_t)j * d;
    double *da = dxhat + (size_t)i * d, *db = dxhat + (size_t)j * d;
    for (int k = 0; k < d; k++) {
        double t = g * (a[k] - b[k]);
        da[k] += t;
        db[k] -= t;
    }
}
