/* pointwise_math.h — the CUDA backend's per-element math as FW_HD functions,
 * so the kernels and the host tests (tests/test_gpu_math.c) run the same code:
 * GeM pooling terms, L2-norm scale and gradient, batch-norm apply/gradient and
 * running-statistics update, and the dropout mask (drawn exactly as the CPU
 * backend draws it: the i-th uniform of fw_rng(seed, stream) < rate drops
 * element i of the plain (N, C, H, W) order).
 */
#ifndef FW_POINTWISE_MATH_H
#define FW_POINTWISE_MATH_H

#include <math.h>
#include <stdint.h>

#include "../src/hostdev.h"
#include "../src/rng.h"

/* ---- GeM: y = (mean_i max(x_i, eps)^p)^(1/p) (src/cpu_kernels.h's float math) ---- */
FW_HD float fw_gem_clamp(float x, float eps)
{
    return x < eps ? eps : x;
}

/* z^p of one value (z = clamped x). */
FW_HD float fw_gem_pow(float x, float p, float eps)
{
    return powf(fw_gem_clamp(x, eps), p);
}

/* y from acc = sum_i z_i^p over hw values. */
FW_HD float fw_gem_value(double acc, int64_t hw, float p)
{
    return powf((float)(acc / (double)hw), 1.0f / p);
}

/* dL/dx_i = coef * x_i^(p-1) (0 where x_i < eps), coef = dy m^(1/p-1) / hw. */
FW_HD float fw_gem_coef(float dy, double m, float p, int64_t hw)
{
    return (float)((double)dy * (double)powf((float)m, 1.0f / p - 1.0f) / (double)hw);
}

FW_HD float fw_gem_dx(float x, float coef, float p, float eps)
{
    return x < eps ? 0.0f : coef * powf(x, p - 1.0f);
}

/* dL/dp of one plane: dy y (s / (p m) - ln(m) / p^2), m = mean z^p, s = mean z^p ln z. */
FW_HD double fw_gem_dp(float dy, float y, double m, double s, float p)
{
    return (double)dy * (double)y * (s / ((double)p * m) - log(m) / ((double)p * p));
}

/* ---- L2 normalisation over C: y = x / max(||x||, eps) ---- */
FW_HD double fw_l2norm_denom(double sumsq, float eps)
{
    double d = sqrt(sumsq);
    return d < (double)eps ? (double)eps : d;
}

/* dL/dx_i from dy_i, x_i, xdy = x . dy and ss = ||x||^2. */
FW_HD float fw_l2norm_dx(float dy, float x, double xdy, double ss, float eps)
{
    double n = sqrt(ss);
    if (n <= (double)eps)
        return (float)((double)dy / (double)eps);
    return (float)((double)dy / n - (double)x * xdy / (n * n * n));
}

/* ---- batch norm ---- */
/* mean and inverse std from count, sum x and sum x^2 (biased variance). */
FW_HD void fw_bn_stats(double count, double sum, double sumsq, float eps, float *mean,
                       float *invstd, double *var_biased)
{
    double m = sum / count;
    double v = sumsq / count - m * m;
    if (v < 0)
        v = 0;
    *mean = (float)m;
    *invstd = (float)(1.0 / sqrt(v + (double)eps));
    *var_biased = v;
}

FW_HD float fw_bn_invstd(float var, float eps)
{
    return (float)(1.0 / sqrt((double)var + (double)eps));
}

FW_HD float fw_bn_apply(float x, float mean, float invstd, float gamma, float beta)
{
    return (x - mean) * invstd * gamma + beta;
}

/* running = (1 - momentum) running + momentum batch (PyTorch). */
FW_HD float fw_bn_running(float running, float batch, float momentum)
{
    return (1 - momentum) * running + momentum * batch;
}

/* Training dx: gamma invstd (dy - sum dy / count - xhat sum(dy xhat) / count). */
FW_HD float fw_bn_dx_train(float dy, float xhat, float gamma, float invstd, double sum_dy,
                           double sum_dy_xhat, double count)
{
    return (float)((double)gamma * (double)invstd *
                   ((double)dy - sum_dy / count - (double)xhat * sum_dy_xhat / count));
}

/* ---- dropout ---- */
/* The kept-value scale of a uniform draw u: 0 (dropped) or scale. */
FW_HD float fw_dropout_factor(float u, float rate, float scale)
{
    return u < rate ? 0.0f : scale;
}

/* keep[i] = 1 unless element i (plain order) is dropped: the CPU backend's draw. */
FW_HD void fw_dropout_fill_keep(uint64_t seed, uint64_t stream, float rate, int64_t n,
                                uint8_t *keep)
{
    fw_rng r;
    fw_rng_init(&r, seed, stream);
    for (int64_t i = 0; i < n; i++)
        keep[i] = fw_dropout_factor(fw_rng_uniform(&r), rate, 1.0f) != 0.0f;
}

#endif
