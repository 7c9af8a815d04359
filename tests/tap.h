/* tap.h — a tiny test harness printing TAP (run by automake's tap-driver).
 *
 *   static void test_something(void) { CHECK(1 + 1 == 2); CHECK_NEAR(x, 1.0, 1e-6); }
 *   int main(void) { RUN(test_something); return tap_done(); }
 *
 * Each RUN is one TAP test point: "ok N - name" when all its checks held,
 * "not ok N - name" otherwise (failed checks are printed as # comments with
 * file and line). SKIP(reason) inside a test makes it "ok N - name # SKIP reason".
 */
#ifndef FW_TAP_H
#define FW_TAP_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int tap_count_, tap_failed_ __attribute__((unused)), tap_current_failed_;
static const char *tap_skip_reason_ __attribute__((unused));
static char tap_skip_buf_[256] __attribute__((unused));

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            printf("#   %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);  \
            tap_current_failed_ = 1;                                             \
        }                                                                        \
    } while (0)

#define CHECK_MSG(cond, ...)                                                     \
    do {                                                                         \
        if (!(cond)) {                                                           \
            printf("#   %s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond);  \
            printf(__VA_ARGS__);                                                 \
            printf("\n");                                                        \
            tap_current_failed_ = 1;                                             \
        }                                                                        \
    } while (0)

#define CHECK_INT(a, b)                                                          \
    do {                                                                         \
        long long tap_a_ = (long long)(a), tap_b_ = (long long)(b);              \
        if (tap_a_ != tap_b_) {                                                  \
            printf("#   %s:%d: %s == %lld, expected %s == %lld\n", __FILE__,      \
                   __LINE__, #a, tap_a_, #b, tap_b_);                            \
            tap_current_failed_ = 1;                                             \
        }                                                                        \
    } while (0)

#define CHECK_STR(a, b)                                                          \
    do {                                                                         \
        const char *tap_a_ = (a), *tap_b_ = (b);                                 \
        if (!tap_a_ || !tap_b_ || strcmp(tap_a_, tap_b_) != 0) {                 \
            printf("#   %s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__,       \
                   __LINE__, #a, tap_a_ ? tap_a_ : "(null)",                      \
                   tap_b_ ? tap_b_ : "(null)");                                  \
            tap_current_failed_ = 1;                                             \
        }                                                                        \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                    \
    do {                                                                         \
        double tap_a_ = (double)(a), tap_b_ = (double)(b);                       \
        if (!(fabs(tap_a_ - tap_b_) <= (tol))) {                                 \
            printf("#   %s:%d: %s == %.9g, expected %.9g (tol %g)\n", __FILE__,   \
                   __LINE__, #a, tap_a_, tap_b_, (double)(tol));                 \
            tap_current_failed_ = 1;                                             \
        }                                                                        \
    } while (0)

#define SKIP(...)                                                                \
    do {                                                                         \
        snprintf(tap_skip_buf_, sizeof tap_skip_buf_, __VA_ARGS__);              \
        tap_skip_reason_ = tap_skip_buf_;                                        \
        return;                                                                  \
    } while (0)

#define RUN(fn) tap_run_(#fn, fn)

static inline void tap_run_(const char *name, void (*fn)(void))
{
    tap_current_failed_ = 0;
    tap_skip_reason_ = NULL;
    fn();
    tap_count_++;
    if (tap_skip_reason_) {
        printf("ok %d - %s # SKIP %s\n", tap_count_, name, tap_skip_reason_);
    } else if (tap_current_failed_) {
        tap_failed_++;
        printf("not ok %d - %s\n", tap_count_, name);
    } else {
        printf("ok %d - %s\n", tap_count_, name);
    }
    fflush(stdout);
}

static inline int tap_done(void)
{
    printf("1..%d\n", tap_count_);
    return 0; /* the TAP driver judges by the lines, not the exit code */
}

#endif
