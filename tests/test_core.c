/* test_core.c — the shared basics: errors, RNG determinism, parallel_for,
 * the terminal sanitiser and CLI number parsing. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fw_error.h"
#include "parallel.h"
#include "rng.h"
#include "sanitize.h"
#include "tap.h"

static void test_error_prefix(void)
{
    fw_error e;
    fw_error_clear(&e);
    CHECK_INT(fw_fail(&e, FW_EFORMAT, "line %d: bad", 7), FW_EFORMAT);
    fw_error_prefix(&e, "%s: ", "train.csv");
    CHECK_STR(e.msg, "train.csv: line 7: bad");
    CHECK_INT(e.code, FW_EFORMAT);
}

static void test_rng_streams_deterministic(void)
{
    fw_rng a, b, c;
    fw_rng_init(&a, 123, 5);
    fw_rng_init(&b, 123, 5);
    fw_rng_init(&c, 123, 6);
    int same = 1, differ = 0;
    for (int i = 0; i < 100; i++) {
        uint32_t x = fw_rng_u32(&a), y = fw_rng_u32(&b), z = fw_rng_u32(&c);
        same &= x == y;
        differ += x != z;
    }
    CHECK(same);
    CHECK(differ > 90);
}

static void test_rng_uniform_moments(void)
{
    fw_rng r;
    fw_rng_init(&r, 1, 0);
    double sum = 0, sum2 = 0;
    int below[10] = {0};
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        float u = fw_rng_uniform(&r);
        CHECK(u >= 0.0f && u < 1.0f);
        sum += u;
        sum2 += (double)u * u;
        below[fw_rng_below(&r, 10)]++;
    }
    CHECK_NEAR(sum / n, 0.5, 0.005);
    CHECK_NEAR(sum2 / n - (sum / n) * (sum / n), 1.0 / 12, 0.002);
    for (int k = 0; k < 10; k++)
        CHECK_NEAR(below[k], n / 10.0, n / 10.0 * 0.05);
    double ns = 0, ns2 = 0;
    for (int i = 0; i < n; i++) {
        float g = fw_rng_normal(&r);
        ns += g;
        ns2 += (double)g * g;
    }
    CHECK_NEAR(ns / n, 0.0, 0.01);
    CHECK_NEAR(ns2 / n, 1.0, 0.02);
}

static void test_shuffle_is_permutation(void)
{
    int v[100], seen[100] = {0};
    for (int i = 0; i < 100; i++)
        v[i] = i;
    fw_rng r;
    fw_rng_init(&r, 9, 9);
    fw_rng_shuffle_int(&r, v, 100);
    int moved = 0;
    for (int i = 0; i < 100; i++) {
        seen[v[i]]++;
        moved += v[i] != i;
    }
    for (int i = 0; i < 100; i++)
        CHECK_INT(seen[i], 1);
    CHECK(moved > 80);
}

static int square_item(void *ctx, long i, int worker, fw_error *err)
{
    long *out = ctx;
    if (i == 777)
        return fw_fail(err, FW_EINVAL, "item %ld refused", i);
    out[i] = i * i;
    return 0;
}

static void test_parallel_for_all_items_and_first_error(void)
{
    long *out = calloc(1000, sizeof *out);
    fw_error e;
    fw_error_clear(&e);
    int rc = fw_parallel_for(4, 1000, square_item, out, &e);
    CHECK_INT(rc, FW_EINVAL);
    CHECK_STR(e.msg, "item 777 refused");
    for (long i = 0; i < 1000; i++)
        if (i != 777)
            CHECK_INT(out[i], i * i);
    free(out);
}

static void test_sanitize_strips_controls_and_bidi(void)
{
    char out[128];
    CHECK_STR(fw_sanitize("plain w_1a2b3c4", out, sizeof out), "plain w_1a2b3c4");
    CHECK_STR(fw_sanitize("a\033[2Jb\a\x7f", out, sizeof out), "a[2Jb");
    CHECK_STR(fw_sanitize("tab\there", out, sizeof out), "tab here");
    /* U+202E RIGHT-TO-LEFT OVERRIDE and U+2066 LRI are removed. */
    CHECK_STR(fw_sanitize("x\xE2\x80\xAEgpj.exe\xE2\x81\xA6", out, sizeof out), "xgpj.exe");
    /* C1 control U+009B (CSI) encoded in UTF-8 is removed; raw 0x9B is invalid -> '?'. */
    CHECK_STR(fw_sanitize("a\xC2\x9B" "1m\x9b", out, sizeof out), "a1m?");
    /* Valid non-ASCII stays. */
    CHECK_STR(fw_sanitize("baleine \xC3\xA9t\xC3\xA9", out, sizeof out), "baleine \xC3\xA9t\xC3\xA9");
    /* Truncation never splits a character. */
    char small[5];
    CHECK_STR(fw_sanitize("ab\xC3\xA9\xC3\xA9", small, sizeof small), "ab\xC3\xA9");
}

static void test_parse_numbers(void)
{
    long v;
    int w, h;
    double d;
    CHECK_INT(fw_parse_long("42", 0, 100, &v), 0);
    CHECK_INT(v, 42);
    CHECK(fw_parse_long("42x", 0, 100, &v) < 0);
    CHECK(fw_parse_long("101", 0, 100, &v) < 0);
    CHECK(fw_parse_long("", 0, 100, &v) < 0);
    CHECK_INT(fw_parse_size("512x256", &w, &h), 0);
    CHECK(w == 512 && h == 256);
    CHECK(fw_parse_size("512", &w, &h) < 0);
    CHECK(fw_parse_size("x256", &w, &h) < 0);
    CHECK(fw_parse_size("4x4", &w, &h) < 0);
    CHECK_INT(fw_parse_float("0.25", 0, 1, &d), 0);
    CHECK_NEAR(d, 0.25, 0);
    CHECK(fw_parse_float("nan", 0, 1, &d) < 0);
    unsigned long long u;
    CHECK_INT(fw_parse_u64("18446744073709551615", &u), 0);
    CHECK(u == 18446744073709551615ull);
    CHECK(fw_parse_u64(" -1", &u) < 0);
    CHECK(fw_parse_u64("-1", &u) < 0);
    CHECK(fw_parse_u64("18446744073709551616", &u) < 0);
    CHECK_INT(fw_parse_u64("010", &u), 0);
    CHECK(u == 10);
}

int main(void)
{
    RUN(test_error_prefix);
    RUN(test_rng_streams_deterministic);
    RUN(test_rng_uniform_moments);
    RUN(test_shuffle_is_permutation);
    RUN(test_parallel_for_all_items_and_first_error);
    RUN(test_sanitize_strips_controls_and_bidi);
    RUN(test_parse_numbers);
    return tap_done();
}
