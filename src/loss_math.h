/* loss_math.h — internal pieces shared by the loss files: workspace slots,
 * label checks, row norms, the softmax cross-entropy of one row, and the two
 * matrix products (fp32 oneDNN sgemm, or double loops when ws->precise). */
#ifndef FW_LOSS_MATH_H
#define FW_LOSS_MATH_H

#include <stddef.h>

#include "fw_error.h"
#include "loss.h"

/* Slots 0..5 belong to the calling loss; the products use 6 and 7. */
enum { FW_LM_SCRATCH_A = 6, FW_LM_SCRATCH_B = 7 };

/* A buffer of at least `bytes` in workspace slot `slot` (kept between calls). */
void *fw_lm_slot(fw_loss_ws *ws, int slot, size_t bytes, fw_error *err);

/* Shared argument checks; `what` names the loss in messages. classes <= 0: no
 * upper bound on labels (pair losses). */
int fw_lm_check_args(const char *what, const float *emb, const int *labels, int n, int d,
                     int classes, fw_error *err);

/* Row norms as F.normalize uses them: r (rows) = max(|x_i|, eps) and
 * rad (rows) = 1/r^2, or 0 where the norm was clamped (no gradient through it). */
void fw_lm_row_norms(const float *x, int rows, int d, double *r, double *rad);

/* out (M, N) = A (M, K) . B (N, K)^T, inputs float, output double. */
int fw_lm_gemm_abt(fw_loss_ws *ws, const float *a, const float *b, int m, int n, int k,
                   double *out, fw_error *err);

/* out_r (rows, d) += alpha * (sum_i G(r, i) * b_i - corr_r * self_r) for r < rows,
 * where G(r, i) = g[r * inner + i] (trans = 0) or g[i * rows + r] (trans = 1),
 * b (inner, d) float; corr (rows) and self (rows, d) may both be NULL. */
int fw_lm_gemm_acc(fw_loss_ws *ws, int trans, int rows, int inner, int d, double alpha,
                   const double *g, const float *b, const double *corr, const float *self,
                   float *out, fw_error *err);

/* fw_lm_ce_row and fw_lm_row_norm (one row): loss_row_math.h. */
#include "loss_row_math.h"

/* The backward of x^ = x / max(|x|, eps) for one row: out (d) += scale *
 * (g - x * (x . g) * rad) / r, where g = dL/dx^ (d), x the raw float row (d),
 * r and rad from fw_lm_row_norms. */
void fw_lm_normalize_backward(const double *g, const float *x, int d, double r, double rad,
                              double scale, float *out);

#endif

/* Pair losses: xhat (n, d) = x / r (double) and d2 (n, n) = |xhat_i - xhat_j|^2
 * (diagonal 0), with r and rad (n) as fw_lm_row_norms. */
void fw_lm_pair_geometry(const float *x, int n, int d, double *r, double *rad, double *xhat,
                         double *d2);

/* Distance from a squared distance: sqrt(max(d2, FW_LOSS_DIST_EPS)), and its
 * derivative factor 1/d (0 where clamped), so dd/dxhat_i = (xhat_i - xhat_j) * inv. */
double fw_lm_dist(double d2, double *inv);

/* dxhat_i += g * (xhat_i - xhat_j), dxhat_j -= the same (rows of d doubles). */
void fw_lm_pair_push(double *dxhat, const double *xhat, int d, int i, int j, double g);
