/* cpu_kernels.h — the CPU backend's own math (no library op exists): GeM
 * pooling and L2 normalisation of one row, written once as type-generic
 * macros and instantiated for float (the backend) and double (the tests'
 * finite-difference gradient checks run the very same code in double).
 * Accumulations are in double in both instantiations.
 */
#ifndef FW_CPU_KERNELS_H
#define FW_CPU_KERNELS_H

#include <math.h>
#include <stdint.h>

/* GeM of one (n, c) plane: hw values x[i * stride].
 * y = (mean_i max(x_i, eps)^p)^(1/p). */
#define FW_DEFINE_GEM(T, SUF, POW, LOG)                                                      \
    static inline T fw_gem_forward_##SUF(const T *x, int64_t stride, int64_t hw, T p, T eps) \
    {                                                                                        \
        double acc = 0;                                                                      \
        for (int64_t i = 0; i < hw; i++) {                                                   \
            T z = x[i * stride] < eps ? eps : x[i * stride];                                 \
            acc += POW(z, p);                                                                \
        }                                                                                    \
        return POW((T)(acc / (double)hw), (T)1 / p);                                         \
    }                                                                                        \
    /* dx[i * dx_stride] = dL/dx_i for upstream dy; returns dL/dp of this plane. */          \
    static inline double fw_gem_backward_##SUF(const T *x, int64_t stride, int64_t hw, T p,  \
                                               T eps, T dy, T *dx, int64_t dx_stride)        \
    {                                                                                        \
        double acc = 0, acc_log = 0;                                                         \
        for (int64_t i = 0; i < hw; i++) {                                                   \
            T z = x[i * stride] < eps ? eps : x[i * stride];                                 \
            T zp = POW(z, p);                                                                \
            acc += zp;                                                                       \
            acc_log += (double)zp * (double)LOG(z);                                          \
        }                                                                                    \
        double m = acc / (double)hw, s = acc_log / (double)hw;                               \
        T y = POW((T)m, (T)1 / p);                                                           \
        /* dy/dx_i = m^(1/p - 1) * z_i^(p - 1) / hw  (0 where x_i < eps: clamped) */        \
        T coef = (T)((double)dy * (double)POW((T)m, (T)1 / p - (T)1) / (double)hw);          \
        for (int64_t i = 0; i < hw; i++) {                                                   \
            T xi = x[i * stride];                                                            \
            dx[i * dx_stride] = xi < eps ? (T)0 : coef * POW(xi, p - (T)1);                  \
        }                                                                                    \
        /* dy/dp = y * (s / (p m) - ln(m) / p^2) */                                          \
        return (double)dy * (double)y * (s / ((double)p * m) - log(m) / ((double)p * p));    \
    }

/* L2 normalisation of one row of c values: y = x / max(||x||, eps). */
#define FW_DEFINE_L2NORM(T, SUF)                                                            \
    static inline void fw_l2norm_forward_##SUF(const T *x, T *y, int64_t c, T eps)          \
    {                                                                                       \
        double ss = 0;                                                                      \
        for (int64_t i = 0; i < c; i++)                                                     \
            ss += (double)x[i] * (double)x[i];                                              \
        double d = sqrt(ss);                                                                \
        if (d < (double)eps)                                                                \
            d = (double)eps;                                                                \
        for (int64_t i = 0; i < c; i++)                                                     \
            y[i] = (T)((double)x[i] / d);                                                   \
    }                                                                                       \
    static inline void fw_l2norm_backward_##SUF(const T *x, const T *dy, T *dx, int64_t c,  \
                                                T eps)                                      \
    {                                                                                       \
        double ss = 0, xdy = 0;                                                             \
        for (int64_t i = 0; i < c; i++) {                                                   \
            ss += (double)x[i] * (double)x[i];                                              \
            xdy += (double)x[i] * (double)dy[i];                                            \
        }                                                                                   \
        double n = sqrt(ss);                                                                \
        if (n <= (double)eps) { /* clamped: y = x / eps */                                  \
            for (int64_t i = 0; i < c; i++)                                                 \
                dx[i] = (T)((double)dy[i] / (double)eps);                                   \
            return;                                                                         \
        }                                                                                   \
        /* dx = dy / n - x (x . dy) / n^3 */                                                \
        for (int64_t i = 0; i < c; i++)                                                     \
            dx[i] = (T)((double)dy[i] / n - (double)x[i] * xdy / (n * n * n));              \
    }

FW_DEFINE_GEM(float, f, powf, logf)
FW_DEFINE_GEM(double, d, pow, log)
FW_DEFINE_L2NORM(float, f)
FW_DEFINE_L2NORM(double, d)

#endif
