/* test_plot.c — the line-plot renderer: debiased EMA against a brute-force
 * weighted sum (and numpy when $PYTHON_REF is set), exact Braille code points
 * for known dots, ASCII mode, log axes hiding non-positive values, nice
 * ticks against a brute-force search over 1-2-5 steps, zoom/pan/fit
 * arithmetic, the envelope per dot column, the cursor's nearest point,
 * small sizes refused, and NaN/Inf points skipped. */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "plot.h"
#include "rng.h"
#include "tap.h"

/* ------------------------------------------------------------ helpers */

static double uniform(fw_rng *r) { return fw_rng_uniform(r); }

/* Code point of a cell's one UTF-8 character (0 when malformed). */
static unsigned codepoint(const fw_plot_cell *c)
{
    const unsigned char *s = (const unsigned char *)c->glyph;
    if (s[0] < 0x80)
        return s[1] ? 0 : s[0];
    if ((s[0] & 0xF0) == 0xE0 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80 && !s[3])
        return ((s[0] & 0x0Fu) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu);
    if ((s[0] & 0xE0) == 0xC0 && (s[1] & 0xC0) == 0x80 && !s[2])
        return ((s[0] & 0x1Fu) << 6) | (s[1] & 0x3Fu);
    return 0;
}

static const fw_plot_cell *area_cell(const fw_plot_grid *g, int row, int col)
{
    return &g->cells[(size_t)(g->area_y + row) * g->w + g->area_x + col];
}

/* Unicode Braille: dot n (1..8) is bit n-1; dots 1,2,3,7 are the left
 * column top to bottom, 4,5,6,8 the right. */
static unsigned braille_for(int dx, int dy)
{
    static const int dot_number[2][4] = {{1, 2, 3, 7}, {4, 5, 6, 8}};
    return 1u << (dot_number[dx][dy] - 1);
}

/* Is dot (col, row) of the plot area lit (Braille grid)? */
static int dot_lit(const fw_plot_grid *g, int col, int row)
{
    unsigned cp = codepoint(area_cell(g, row / 4, col / 2));
    if (cp < 0x2800 || cp > 0x28FF)
        return 0;
    return ((cp - 0x2800) & braille_for(col % 2, row % 4)) != 0;
}

static int count_lit(const fw_plot_grid *g)
{
    int n = 0;
    for (int row = 0; row < g->area_h * 4; row++)
        for (int col = 0; col < g->area_w * 2; col++)
            n += dot_lit(g, col, row);
    return n;
}

/* Braille plot whose view maps dot (i, j) centres to (i + 0.5, dh - j - 0.5):
 * the y view is [0, dh] and the x view [0, dw] once the label width is known. */
static void dot_view(fw_plot *p, fw_plot_grid *g, int w, int h)
{
    int dh = (h - 3) * (p->utf8 ? 4 : 2);
    CHECK(fw_plot_set_view(p, 0, 1, 0, dh, NULL) == FW_OK);
    CHECK(fw_plot_render(p, w, h, g, NULL) == FW_OK);
    int dw = g->area_w * (p->utf8 ? 2 : 1);
    CHECK(fw_plot_set_view(p, 0, dw, 0, dh, NULL) == FW_OK);
    CHECK(fw_plot_render(p, w, h, g, NULL) == FW_OK);
}

static int add(fw_plot *p, const double *x, const double *y, size_t n, int color, unsigned draw,
               const char *label)
{
    fw_plot_series s = {.label = label, .x = x, .y = y, .n = n, .color = color, .draw = draw};
    return fw_plot_add_series(p, &s, NULL);
}

/* Grid text of one row (glyphs concatenated). */
static void row_text(const fw_plot_grid *g, int row, char *out, size_t outsz)
{
    size_t len = 0;
    out[0] = '\0';
    for (int c = 0; c < g->w; c++) {
        size_t n = strlen(g->cells[(size_t)row * g->w + c].glyph);
        if (len + n + 1 > outsz)
            break;
        memcpy(out + len, g->cells[(size_t)row * g->w + c].glyph, n + 1);
        len += n;
    }
}

/* ---------------------------------------------------------------- EMA */

static void test_ema_brute_force(void)
{
    fw_rng rng;
    fw_rng_init(&rng, 7, 0);
    enum { N = 300 };
    double y[N], out[N];
    for (int i = 0; i < N; i++)
        y[i] = 2.0 + sin(i * 0.1) + uniform(&rng);
    y[5] = NAN;
    y[40] = INFINITY;
    const double betas[] = {0.0, 0.3, 0.6, 0.9, 0.99, 0.999};
    for (size_t b = 0; b < sizeof betas / sizeof *betas; b++) {
        double beta = betas[b];
        CHECK(fw_ema_debiased(y, N, beta, out) == FW_OK);
        /* reference: the weighted mean of the finite values so far with
         * weights beta^(age), normalised by their sum */
        double worst = 0;
        for (int i = 0; i < N; i++) {
            if (!isfinite(y[i])) {
                CHECK(isnan(y[i]) ? isnan(out[i]) : out[i] == y[i]);
                continue;
            }
            double num = 0, den = 0, wgt = 1;
            for (int j = i; j >= 0; j--) {
                if (!isfinite(y[j]))
                    continue;
                num += wgt * y[j];
                den += wgt;
                wgt *= beta;
            }
            worst = fmax(worst, fabs(out[i] - num / den));
        }
        CHECK_MSG(worst < 1e-9, "beta %g: worst difference %g", beta, worst);
    }
    /* by hand: y = 1, 2 with beta 0.5: s1 = 0.5 / 0.5 = 1; s2 = 1.25 / 0.75 */
    double two[2] = {1, 2};
    CHECK(fw_ema_debiased(two, 2, 0.5, two) == FW_OK); /* in place */
    CHECK_NEAR(two[0], 1.0, 1e-15);
    CHECK_NEAR(two[1], 1.25 / 0.75, 1e-15);
    CHECK(fw_ema_debiased(y, N, 1.0, out) == FW_EINVAL);
    CHECK(fw_ema_debiased(y, N, -0.1, out) == FW_EINVAL);
    CHECK(fw_ema_debiased(y, N, NAN, out) == FW_EINVAL);
}

static void test_ema_numpy(void)
{
    const char *py = getenv("PYTHON_REF");
    if (!py || !*py || access(py, X_OK) != 0)
        SKIP("PYTHON_REF is not set to an executable python3 with numpy");
    enum { N = 64 };
    double y[N], out[N];
    char cmd[8192];
    int len = snprintf(cmd, sizeof cmd,
                       "%s -c 'import numpy as np,sys\n"
                       "y=np.array([float(v) for v in sys.argv[1:]])\n"
                       "b=0.8; t=np.arange(1,len(y)+1)\n"
                       "w=b**(t[:,None]-t[None,:])*(t[None,:]<=t[:,None])\n"
                       "s=(w*(1-b)*y[None,:]).sum(1)/(1-b**t)\n"
                       "print(\" \".join(repr(float(v)) for v in s))'",
                       py);
    for (int i = 0; i < N; i++) {
        y[i] = cos(i * 0.37) * 3 + i * 0.01;
        len += snprintf(cmd + len, sizeof cmd - (size_t)len, " %.17g", y[i]);
    }
    FILE *f = popen(cmd, "r");
    if (!f)
        SKIP("cannot run %s", py);
    double ref[N];
    int got = 0;
    while (got < N && fscanf(f, "%lf", &ref[got]) == 1)
        got++;
    int status = pclose(f);
    if (got != N || status != 0)
        SKIP("numpy reference did not run (got %d values, status %d)", got, status);
    CHECK(fw_ema_debiased(y, N, 0.8, out) == FW_OK);
    double worst = 0;
    for (int i = 0; i < N; i++)
        worst = fmax(worst, fabs(out[i] - ref[i]));
    CHECK_MSG(worst < 1e-12, "worst difference from numpy %g", worst);
}

/* ---------------------------------------------------------- nice ticks */

static void check_ticks(double lo, double hi, int max, int log, const double *want, int nwant)
{
    double t[32];
    int n = -1;
    CHECK(fw_nice_ticks(lo, hi, max, log, t, &n) == FW_OK);
    CHECK_MSG(n == nwant, "[%g, %g] max %d log %d: %d ticks, expected %d", lo, hi, max, log, n, nwant);
    for (int i = 0; i < n && i < nwant; i++)
        CHECK_MSG(fabs(t[i] - want[i]) <= 1e-12 * fabs(want[i]), "[%g, %g]: tick %d = %.17g, expected %g",
                  lo, hi, i, t[i], want[i]);
}

static void test_nice_ticks_known(void)
{
    check_ticks(0, 1, 6, 0, (double[]){0, 0.2, 0.4, 0.6, 0.8, 1.0}, 6);
    check_ticks(0, 1, 11, 0, (double[]){0, .1, .2, .3, .4, .5, .6, .7, .8, .9, 1}, 11);
    check_ticks(0.013, 0.87, 6, 0, (double[]){0.2, 0.4, 0.6, 0.8}, 4);
    check_ticks(0.013, 0.87, 8, 0, (double[]){.1, .2, .3, .4, .5, .6, .7, .8}, 8);
    check_ticks(-3.5, 12, 5, 0, (double[]){0, 5, 10}, 3);
    check_ticks(0, 48000, 6, 0, (double[]){0, 10000, 20000, 30000, 40000}, 5);
    check_ticks(1e-7, 10, 5, 1, (double[]){1e-6, 1e-4, 1e-2, 1}, 4);
    check_ticks(1e-7, 10, 9, 1, (double[]){1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10}, 9);
    check_ticks(1e-7, 10, 2, 1, (double[]){1e-5, 1}, 2);
    check_ticks(2, 8, 5, 1, (double[]){2, 5}, 2);          /* no decade inside: 1-2-5 */
    check_ticks(0.15, 3, 6, 1, (double[]){0.2, 0.5, 1, 2}, 4);
    check_ticks(2.2, 4.8, 4, 1, (double[]){3, 4}, 2);      /* no 1-2-5 pair: linear */
    double t[8];
    int n;
    CHECK(fw_nice_ticks(1, 1, 5, 0, t, &n) == FW_EINVAL);
    CHECK(fw_nice_ticks(2, 1, 5, 0, t, &n) == FW_EINVAL);
    CHECK(fw_nice_ticks(0, 1, 1, 0, t, &n) == FW_EINVAL);
    CHECK(fw_nice_ticks(0, 10, 5, 1, t, &n) == FW_EINVAL);
    CHECK(fw_nice_ticks(0, INFINITY, 5, 0, t, &n) == FW_EINVAL);
    CHECK(fw_nice_ticks(NAN, 1, 5, 0, t, &n) == FW_EINVAL);
}

/* Number of multiples of step in [lo, hi], counted one by one. */
static int brute_count(double lo, double hi, double step, double *first)
{
    int n = 0;
    double k = floor(lo / step) - 1;
    *first = NAN;
    for (; k * step <= hi + step * 1e-9; k++)
        if (k * step >= lo - step * 1e-9) {
            if (n++ == 0)
                *first = k * step;
        }
    return n;
}

static void test_nice_ticks_random(void)
{
    fw_rng rng;
    fw_rng_init(&rng, 11, 0);
    int bad = 0;
    for (int trial = 0; trial < 2000 && bad < 5; trial++) {
        double scale = pow(10, (int)(uniform(&rng) * 16) - 8);
        double lo = (uniform(&rng) * 2 - 1) * scale, hi = lo + uniform(&rng) * scale * 3 + scale * 1e-3;
        int max = 2 + (int)(uniform(&rng) * 9);
        double t[16];
        int n;
        CHECK(fw_nice_ticks(lo, hi, max, 0, t, &n) == FW_OK);
        /* reference: walk the 1-2-5 steps upwards; the first with at most
         * max multiples in range is the one */
        double step = 0, first = NAN;
        int want = 0;
        for (int e = -30; e < 30 && !step; e++)
            for (int m = 1; m <= 5 && !step; m = m == 1 ? 2 : m + 3) {
                double s = m * pow(10, e);
                if (s < (hi - lo) / 1000)
                    continue;
                int c = brute_count(lo, hi, s, &first);
                if (c <= max) {
                    step = s;
                    want = c;
                }
            }
        int ok = n == want;
        for (int i = 0; ok && i < n; i++)
            ok = fabs(t[i] - (first + i * step)) <= step * 1e-6 && t[i] >= lo - step * 1e-9 &&
                 t[i] <= hi + step * 1e-9;
        if (!ok) {
            bad++;
            CHECK_MSG(ok, "[%.17g, %.17g] max %d: %d ticks from %g, expected %d of step %g from %g",
                      lo, hi, max, n, n ? t[0] : NAN, want, step, first);
        }
    }
}

static void test_tick_labels(void)
{
    char b[32];
    CHECK_STR(fw_plot_tick_label(0.2, 0.2, 0, b, sizeof b), "0.2");
    CHECK_STR(fw_plot_tick_label(0.05, 0.05, 0, b, sizeof b), "0.05");
    CHECK_STR(fw_plot_tick_label(-4, 2, 0, b, sizeof b), "-4");
    CHECK_STR(fw_plot_tick_label(0, 0.1, 0, b, sizeof b), "0");
    CHECK_STR(fw_plot_tick_label(20000, 10000, 0, b, sizeof b), "20k");
    CHECK_STR(fw_plot_tick_label(15000, 5000, 0, b, sizeof b), "15k");
    CHECK_STR(fw_plot_tick_label(12500, 500, 0, b, sizeof b), "12.5k");
    CHECK_STR(fw_plot_tick_label(3e6, 1e6, 0, b, sizeof b), "3M");
    CHECK_STR(fw_plot_tick_label(3e-4, 1e-4, 0, b, sizeof b), "3e-4");
    CHECK_STR(fw_plot_tick_label(1e-6, 0, 1, b, sizeof b), "1e-6");
    CHECK_STR(fw_plot_tick_label(0.01, 0, 1, b, sizeof b), "0.01");
    CHECK_STR(fw_plot_tick_label(1000, 0, 1, b, sizeof b), "1000");
    CHECK_STR(fw_plot_tick_label(1e5, 0, 1, b, sizeof b), "1e5");
    CHECK_STR(fw_plot_tick_label(0.2, 0, 1, b, sizeof b), "0.2");
}

/* -------------------------------------------------------------- Braille */

static void test_braille_dots(void)
{
    fw_plot p;
    fw_plot_grid g = {0};
    fw_plot_init(&p, 1, 0, 0);
    int w = 24, h = 8; /* area 5 rows: 20 dot rows */
    /* one-point series light exactly one dot each */
    struct { int col, row; } dots[] = {{3, 5}, {0, 0}, {9, 19}, {12, 7}, {13, 7}};
    int nd = (int)(sizeof dots / sizeof *dots);
    double xs[8], ys[8];
    dot_view(&p, &g, w, h); /* find the area first: view depends on area_w */
    int dh = g.area_h * 4;
    for (int i = 0; i < nd; i++) {
        xs[i] = dots[i].col + 0.5;
        ys[i] = dh - dots[i].row - 0.5;
        CHECK(add(&p, &xs[i], &ys[i], 1, i, 0, NULL) == i);
    }
    CHECK(fw_plot_render(&p, w, h, &g, NULL) == FW_OK);
    CHECK_INT(g.area_h, 5);
    for (int row = 0; row < g.area_h; row++)
        for (int col = 0; col < g.area_w; col++) {
            unsigned want = 0;
            int last_series = -1;
            for (int i = 0; i < nd; i++)
                if (dots[i].col / 2 == col && dots[i].row / 4 == row) {
                    want |= braille_for(dots[i].col % 2, dots[i].row % 4);
                    last_series = i;
                }
            const fw_plot_cell *c = area_cell(&g, row, col);
            unsigned cp = codepoint(c);
            if (want) {
                CHECK_MSG(cp == 0x2800 + want, "cell (%d,%d) U+%04X, expected U+%04X", row, col, cp,
                          0x2800 + want);
                CHECK_INT(c->role, FW_PLOT_ROLE_LINE);
                CHECK_INT(c->color, last_series); /* the later series on top */
            } else {
                CHECK_MSG(cp == ' ', "cell (%d,%d) U+%04X should be blank", row, col, cp);
            }
        }
    /* the exact code points: dot (3,5) is dot 5 of cell (1,1): U+2810 "⠐" */
    CHECK_STR(area_cell(&g, 1, 1)->glyph, "\xe2\xa0\x90");
    /* dots (12,7) and (13,7): dots 7 and 8 of cell (1,6): U+28C0 */
    CHECK_STR(area_cell(&g, 1, 6)->glyph, "\xe2\xa3\x80");

    /* a line: horizontal from dot (2, 10) to (17, 10); a 45° diagonal from
     * (0, 0) to (7, 7): Bresenham lights exactly those dots */
    fw_plot_clear(&p);
    double hx[2] = {2.5, 17.5}, hy[2] = {dh - 10.5, dh - 10.5};
    double dxs[2] = {0.5, 7.5}, dys[2] = {dh - 0.5, dh - 7.5};
    CHECK(add(&p, hx, hy, 2, 0, 0, NULL) == 0);
    CHECK(add(&p, dxs, dys, 2, 1, 0, NULL) == 1);
    CHECK(fw_plot_render(&p, w, h, &g, NULL) == FW_OK);
    int lit = 0, ok = 1;
    for (int row = 0; row < dh; row++)
        for (int col = 0; col < g.area_w * 2; col++) {
            int want = (row == 10 && col >= 2 && col <= 17) || (row == col && row <= 7);
            lit += dot_lit(&g, col, row);
            if (dot_lit(&g, col, row) != want && ok) {
                ok = 0;
                CHECK_MSG(0, "dot (%d,%d) lit %d, expected %d", col, row, dot_lit(&g, col, row), want);
            }
        }
    CHECK_INT(lit, 16 + 8);

    /* points just outside the view light nothing: right of x1, above y1,
     * below y0, left of x0 */
    fw_plot_clear(&p);
    int dw = g.area_w * 2;
    double ox[4] = {dw + 0.3, 4.5, 6.5, -0.2}, oy[4] = {5.5, dh + 0.2, -0.3, 5.5};
    for (int i = 0; i < 4; i++)
        CHECK(add(&p, &ox[i], &oy[i], 1, i, 0, NULL) == i);
    CHECK(fw_plot_render(&p, w, h, &g, NULL) == FW_OK);
    CHECK_INT(count_lit(&g), 0);
    /* ...but the view's edges belong to it: x = x1 and y = y0 light the last
     * column's bottom dot */
    fw_plot_clear(&p);
    double ex = dw, ey = 0;
    CHECK(add(&p, &ex, &ey, 1, 0, 0, NULL) == 0);
    CHECK(fw_plot_render(&p, w, h, &g, NULL) == FW_OK);
    CHECK_INT(count_lit(&g), 1);
    CHECK(dot_lit(&g, dw - 1, dh - 1));
    fw_plot_grid_free(&g);
    fw_plot_free(&p);
}

static void test_ascii_mode(void)
{
    fw_plot p;
    fw_plot_grid g = {0};
    fw_plot_init(&p, 0, 0, 0);
    int w = 20, h = 9; /* area 6 rows: 12 half-rows */
    dot_view(&p, &g, w, h);
    int dh = g.area_h * 2;
    /* (col 2, half-rows 3): lower half of cell row 1 -> "."; (col 4, half-rows
     * 2 and 3 in one column) -> ":"; (col 6, half-row 4) upper -> "'" */
    double x1[1] = {2.5}, y1[1] = {dh - 3.5};
    double x2[2] = {4.5, 4.7}, y2[2] = {dh - 2.5, dh - 3.5};
    double x3[1] = {6.5}, y3[1] = {dh - 4.5};
    CHECK(add(&p, x1, y1, 1, 0, 0, "w\xc3\xa9") == 0); /* é becomes '?' */
    CHECK(add(&p, x2, y2, 2, 1, 0, "b") == 1);
    CHECK(add(&p, x3, y3, 1, 2, 0, "c") == 2);
    CHECK(fw_plot_render(&p, w, h, &g, NULL) == FW_OK);
    CHECK_STR(area_cell(&g, 1, 2)->glyph, ".");
    CHECK_STR(area_cell(&g, 1, 4)->glyph, ":");
    CHECK_STR(area_cell(&g, 2, 6)->glyph, "'");
    CHECK_INT(area_cell(&g, 1, 4)->color, 1);
    int marks = 0, high = 0;
    for (int i = 0; i < w * h; i++) {
        for (const char *s = g.cells[i].glyph; *s; s++)
            high += (unsigned char)*s >= 0x80;
        marks += g.cells[i].role == FW_PLOT_ROLE_LINE;
    }
    CHECK_INT(marks, 3);
    CHECK_INT(high, 0);
    /* axes: "|" left of the area with "+" at ticks, "-" along the bottom */
    CHECK_STR(g.cells[(size_t)(h - 2) * w + g.area_x - 1].glyph, "+");
    int dashes = 0, pluses = 0;
    for (int col = g.area_x; col < w; col++) {
        const char *gl = g.cells[(size_t)(h - 2) * w + col].glyph;
        dashes += strcmp(gl, "-") == 0;
        pluses += strcmp(gl, "+") == 0;
    }
    CHECK_INT(dashes + pluses, g.area_w);
    CHECK(pluses >= 2);
    for (int row = g.area_y; row < g.area_y + g.area_h; row++) {
        const char *gl = g.cells[(size_t)row * w + g.area_x - 1].glyph;
        CHECK(strcmp(gl, "|") == 0 || strcmp(gl, "+") == 0);
    }
    char row0[256];
    row_text(&g, 0, row0, sizeof row0);
    CHECK_MSG(strncmp(row0, "-- w? ", 6) == 0, "legend \"%s\"", row0);
    /* the x labels: 0 at the left edge of the area */
    char last[256];
    row_text(&g, h - 1, last, sizeof last);
    CHECK_MSG(last[g.area_x] == '0', "x labels \"%s\"", last);
    fw_plot_grid_free(&g);
    fw_plot_free(&p);
}

/* -------------------------------------------------------------- log axes */

static void test_log_axes(void)
{
    fw_plot p;
    fw_plot_grid g = {0};
    fw_plot_init(&p, 1, 0, 1);
    double x[6] = {0, 1, 2, 3, 4, 5}, y[6] = {1, -1, 0, 10, 100, NAN};
    CHECK(add(&p, x, y, 6, 3, 0, "lr") == 0);
    CHECK(fw_plot_fit(&p, NULL) == FW_OK);
    /* y fitted to [1, 100] in log space with 5% margins: 10^-0.1 .. 10^2.1 */
    CHECK_NEAR(p.y0, pow(10, -0.1), 1e-12);
    CHECK_NEAR(p.y1, pow(10, 2.1), 1e-9);
    CHECK_NEAR(p.x0, 0, 0);
    CHECK_NEAR(p.x1, 4, 0); /* x = 5 has no usable y, x = 1, 2 no positive y */
    CHECK(fw_plot_render(&p, 40, 12, &g, NULL) == FW_OK);
    CHECK_INT(g.hidden_nonpositive, 2);
    CHECK_INT(g.hidden_nonfinite, 1);
    char row0[512];
    row_text(&g, 0, row0, sizeof row0);
    CHECK_MSG(strstr(row0, "[2 \xe2\x89\xa4" "0 hidden]") != NULL, "legend \"%s\"", row0);
    /* the y labels are decades */
    int found_1 = 0, found_10 = 0, found_100 = 0;
    for (int row = g.area_y; row < g.area_y + g.area_h; row++) {
        char text[512];
        row_text(&g, row, text, sizeof text);
        found_1 += strncmp(text + g.area_x - 2, "1\xe2\x94\xa4", 4) == 0;
        found_10 += strncmp(text + g.area_x - 3, "10\xe2\x94\xa4", 5) == 0;
        found_100 += strncmp(text, "100\xe2\x94\xa4", 6) == 0;
    }
    CHECK_INT(found_1, 1);
    CHECK_INT(found_10, 1);
    CHECK_INT(found_100, 1);
    /* the line joins (0,1) to (3,10): same as a series without the hidden points */
    fw_plot q;
    fw_plot_grid gq = {0};
    fw_plot_init(&q, 1, 0, 1);
    double qx[3] = {0, 3, 4}, qy[3] = {1, 10, 100};
    CHECK(add(&q, qx, qy, 3, 3, 0, "lr") == 0);
    CHECK(fw_plot_set_view(&q, p.x0, p.x1, p.y0, p.y1, NULL) == FW_OK);
    CHECK(fw_plot_render(&q, 40, 12, &gq, NULL) == FW_OK);
    int same = 1;
    for (int i = 40; i < 40 * 12; i++) /* all but the legend row */
        same &= strcmp(g.cells[i].glyph, gq.cells[i].glyph) == 0 && g.cells[i].role == gq.cells[i].role;
    CHECK(same);
    CHECK(count_lit(&g) > 10);
    /* log x: x = 0 hidden too; a view with y0 <= 0 is refused on log y */
    CHECK(fw_plot_set_scale(&p, 1, 1, NULL) == FW_OK);
    CHECK_NEAR(p.x0, 3, 1e-12); /* x refitted over points usable on both axes */
    CHECK_NEAR(p.x1, 4, 1e-12);
    CHECK(fw_plot_render(&p, 40, 12, &g, NULL) == FW_OK);
    CHECK_INT(g.hidden_nonpositive, 3);
    CHECK(fw_plot_set_view(&p, 1, 10, 0, 10, NULL) == FW_EINVAL);
    CHECK(fw_plot_set_view(&p, -1, 10, 1, 10, NULL) == FW_EINVAL);
    /* back to linear y: refitted over all finite values (-1 .. 100) */
    CHECK(fw_plot_set_scale(&p, 0, 0, NULL) == FW_OK);
    CHECK_NEAR(p.y0, -1 - 101 * 0.05, 1e-9);
    CHECK_NEAR(p.y1, 100 + 101 * 0.05, 1e-9);
    fw_plot_grid_free(&g);
    fw_plot_grid_free(&gq);
    fw_plot_free(&p);
    fw_plot_free(&q);
}

/* ------------------------------------------------------ view arithmetic */

static void test_zoom_pan_fit(void)
{
    fw_plot p;
    fw_plot_init(&p, 1, 0, 0);
    CHECK_NEAR(p.x0, 0, 0);
    CHECK_NEAR(p.x1, 1, 0);
    CHECK(fw_plot_set_view(&p, 0, 10, 0, 1, NULL) == FW_OK);
    CHECK(fw_plot_zoom(&p, 2, 1, NAN, NAN, NULL) == FW_OK);
    CHECK_NEAR(p.x0, 2.5, 1e-12);
    CHECK_NEAR(p.x1, 7.5, 1e-12);
    CHECK_NEAR(p.y0, 0, 0);
    CHECK_NEAR(p.y1, 1, 0);
    /* about x = 4: 4 stays at the same fraction of the width (0.3) */
    CHECK(fw_plot_zoom(&p, 0.5, 4, 4, 0.75, NULL) == FW_OK);
    CHECK_NEAR(p.x0, 4 - 1.5 * 2, 1e-12);
    CHECK_NEAR(p.x1, 4 + 3.5 * 2, 1e-12);
    CHECK_NEAR((4 - p.x0) / (p.x1 - p.x0), 0.3, 1e-12);
    CHECK_NEAR(p.y0, 0.75 - 0.75 / 4, 1e-12);
    CHECK_NEAR(p.y1, 0.75 + 0.25 / 4, 1e-12);
    CHECK(fw_plot_pan(&p, 0.1, -0.5, NULL) == FW_OK);
    CHECK_NEAR(p.x0, 1 + 1, 1e-12);
    CHECK_NEAR(p.x1, 11 + 1, 1e-12);
    CHECK_NEAR(p.y0, 0.5625 - 0.125, 1e-12);
    CHECK_NEAR(p.y1, 0.8125 - 0.125, 1e-12);
    double before[4] = {p.x0, p.x1, p.y0, p.y1};
    CHECK(fw_plot_zoom(&p, 0, 1, NAN, NAN, NULL) == FW_EINVAL);
    CHECK(fw_plot_zoom(&p, INFINITY, 1, NAN, NAN, NULL) == FW_EINVAL);
    CHECK(fw_plot_pan(&p, NAN, 0, NULL) == FW_EINVAL);
    CHECK(fw_plot_set_view(&p, 1, 1, 0, 1, NULL) == FW_EINVAL);
    CHECK(fw_plot_set_view(&p, 0, 1, 0, INFINITY, NULL) == FW_EINVAL);
    CHECK(p.x0 == before[0] && p.x1 == before[1] && p.y0 == before[2] && p.y1 == before[3]);

    /* log x: zoom and pan in decades */
    CHECK(fw_plot_set_scale(&p, 1, 0, NULL) == FW_OK); /* no data: the initial [1, 10] */
    CHECK_NEAR(p.x0, 1, 0);
    CHECK_NEAR(p.x1, 10, 0);
    CHECK(fw_plot_set_view(&p, 1, 1e4, 0, 1, NULL) == FW_OK);
    CHECK(fw_plot_zoom(&p, 2, 1, NAN, NAN, NULL) == FW_OK);
    CHECK_NEAR(p.x0, 10, 1e-9);
    CHECK_NEAR(p.x1, 1000, 1e-9);
    CHECK(fw_plot_pan(&p, 0.5, 0, NULL) == FW_OK);
    CHECK_NEAR(p.x0, 100, 1e-9);
    CHECK_NEAR(p.x1, 1e4, 1e-7);
    CHECK(fw_plot_zoom(&p, 2, 1, -5, NAN, NULL) == FW_EINVAL);

    /* fit: x exact, y with 5% margins, over raw and smoothed values drawn */
    fw_plot_init(&p, 1, 0, 0);
    double x[5] = {2, 3, 5, 6, 7}, y[5] = {1, 3, 2, 2.5, 1.5};
    CHECK(add(&p, x, y, 5, 0, 0, NULL) == 0);
    CHECK(fw_plot_fit(&p, NULL) == FW_OK);
    CHECK_NEAR(p.x0, 2, 0);
    CHECK_NEAR(p.x1, 7, 0);
    CHECK_NEAR(p.y0, 0.9, 1e-12);
    CHECK_NEAR(p.y1, 3.1, 1e-12);
    /* smoothed only: its range is inside the raw one */
    fw_plot_clear(&p);
    CHECK(add(&p, x, y, 5, 0, FW_PLOT_DRAW_SMOOTH, NULL) == 0);
    p.smoothing = 0.9;
    double sm[5];
    fw_ema_debiased(y, 5, 0.9, sm);
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < 5; i++) {
        lo = fmin(lo, sm[i]);
        hi = fmax(hi, sm[i]);
    }
    CHECK(fw_plot_fit(&p, NULL) == FW_OK);
    CHECK_NEAR(p.y0, lo - (hi - lo) * 0.05, 1e-12);
    CHECK_NEAR(p.y1, hi + (hi - lo) * 0.05, 1e-12);
    /* a single value: v ± 1 */
    fw_plot_clear(&p);
    CHECK(add(&p, x, (double[]){4, 4, 4, 4, 4}, 5, 0, 0, NULL) == 0);
    CHECK(fw_plot_fit(&p, NULL) == FW_OK);
    CHECK_NEAR(p.y0, 3, 0);
    CHECK_NEAR(p.y1, 5, 0);
    p.smoothing = 1.0;
    CHECK(fw_plot_fit(&p, NULL) == FW_EINVAL);
    fw_plot_free(&p);
}

/* --------------------------------------------------------------- envelope */

static void test_envelope(void)
{
    fw_plot p;
    fw_plot_grid g = {0};
    fw_plot_init(&p, 1, 0, 0);
    fw_rng rng;
    fw_rng_init(&rng, 3, 0);
    enum { N = 2000 };
    static double x[N], y[N];
    for (int i = 0; i < N; i++) {
        x[i] = i * 0.05;
        y[i] = exp(-x[i] / 40) + 0.3 * (uniform(&rng) - 0.5);
    }
    CHECK(add(&p, x, y, N, 4, FW_PLOT_DRAW_ENVELOPE, "loss") == 0);
    CHECK(fw_plot_fit(&p, NULL) == FW_OK);
    CHECK(fw_plot_set_view(&p, p.x0 + 10, p.x1 - 20, p.y0, p.y1, NULL) == FW_OK); /* clip x */
    CHECK(fw_plot_render(&p, 60, 16, &g, NULL) == FW_OK);
    int dw = g.area_w * 2, dh = g.area_h * 4;
    /* reference: per dot column the rows of the min and max y */
    int bad = 0, columns_with_points = 0;
    for (int col = 0; col < dw; col++) {
        double vmin = INFINITY, vmax = -INFINITY;
        for (int i = 0; i < N; i++) {
            double u = (x[i] - p.x0) / (p.x1 - p.x0) * dw;
            int c = u == dw ? dw - 1 : (int)floor(u);
            if (u < 0 || u > dw || c != col)
                continue;
            double v = (p.y1 - y[i]) / (p.y1 - p.y0) * dh;
            vmin = fmin(vmin, v);
            vmax = fmax(vmax, v);
        }
        columns_with_points += vmin <= vmax;
        for (int row = 0; row < dh; row++) {
            int want = vmin <= vmax && row >= (int)floor(vmin) && row <= (int)floor(vmax);
            if (dot_lit(&g, col, row) != want && bad++ < 3)
                CHECK_MSG(0, "dot (%d,%d) lit %d, expected %d", col, row, dot_lit(&g, col, row), want);
        }
    }
    CHECK_INT(bad, 0);
    CHECK_INT(columns_with_points, dw);
    for (int row = 0; row < g.area_h; row++)
        for (int col = 0; col < g.area_w; col++) {
            const fw_plot_cell *c = area_cell(&g, row, col);
            if (c->role != FW_PLOT_ROLE_EMPTY)
                CHECK(c->role == FW_PLOT_ROLE_ENVELOPE && c->color == 4);
        }

    /* smoothed line over the envelope: line cells win, raw drawn dim under it */
    fw_plot_clear(&p);
    CHECK(add(&p, x, y, N, 4, FW_PLOT_DRAW_ENVELOPE | FW_PLOT_DRAW_SMOOTH | FW_PLOT_DRAW_RAW, "loss") == 0);
    p.smoothing = 0.98;
    CHECK(fw_plot_render(&p, 60, 16, &g, NULL) == FW_OK);
    int roles[16] = {0};
    for (int row = 0; row < g.area_h; row++)
        for (int col = 0; col < g.area_w; col++)
            roles[area_cell(&g, row, col)->role]++;
    CHECK(roles[FW_PLOT_ROLE_LINE] >= g.area_w);
    CHECK(roles[FW_PLOT_ROLE_RAW] > 0);
    p.smoothing = 1.0;
    CHECK(fw_plot_render(&p, 60, 16, &g, NULL) == FW_EINVAL);
    fw_plot_grid_free(&g);
    fw_plot_free(&p);
}

/* Dense sorted series: every point's dot is lit, and each lit dot lies
 * within the hull of the rows of the points of its column and its two
 * neighbours (lines only join adjacent columns here). */
static void test_dense_polyline(void)
{
    fw_plot p;
    fw_plot_grid g = {0};
    fw_plot_init(&p, 1, 0, 0);
    fw_rng rng;
    fw_rng_init(&rng, 5, 0);
    enum { N = 20000 };
    static double x[N], y[N];
    for (int i = 0; i < N; i++) {
        x[i] = i;
        y[i] = 2 * exp(-i / 5000.0) + 0.2 * uniform(&rng);
    }
    CHECK(add(&p, x, y, N, 0, 0, NULL) == 0);
    CHECK(fw_plot_fit(&p, NULL) == FW_OK);
    CHECK(fw_plot_render(&p, 50, 14, &g, NULL) == FW_OK);
    int dw = g.area_w * 2, dh = g.area_h * 4;
    int *lo = malloc(sizeof(int) * (size_t)dw), *hi = malloc(sizeof(int) * (size_t)dw);
    for (int c = 0; c < dw; c++) {
        lo[c] = dh;
        hi[c] = -1;
    }
    int missing = 0;
    for (int i = 0; i < N; i++) {
        double u = (x[i] - p.x0) / (p.x1 - p.x0) * dw, v = (p.y1 - y[i]) / (p.y1 - p.y0) * dh;
        int c = u >= dw ? dw - 1 : (int)u, r = v >= dh ? dh - 1 : (int)v;
        missing += !dot_lit(&g, c, r);
        lo[c] = r < lo[c] ? r : lo[c];
        hi[c] = r > hi[c] ? r : hi[c];
    }
    CHECK_INT(missing, 0);
    int stray = 0;
    for (int c = 0; c < dw; c++)
        for (int r = 0; r < dh; r++) {
            if (!dot_lit(&g, c, r))
                continue;
            int rmin = dh, rmax = -1;
            for (int k = c - 1; k <= c + 1; k++)
                if (k >= 0 && k < dw && hi[k] >= 0) {
                    rmin = lo[k] < rmin ? lo[k] : rmin;
                    rmax = hi[k] > rmax ? hi[k] : rmax;
                }
            stray += r < rmin || r > rmax;
        }
    CHECK_INT(stray, 0);
    free(lo);
    free(hi);
    fw_plot_grid_free(&g);
    fw_plot_free(&p);
}

/* ---------------------------------------------------------------- cursor */

static void test_cursor(void)
{
    fw_plot p;
    fw_plot_init(&p, 1, 0, 0);
    double x[5] = {0, 1, 3, NAN, 7}, y[5] = {5, 4, 3, 2, 1};
    double x2[3] = {2, 4, 6}, y2[3] = {0.1, NAN, 0.3};
    CHECK(add(&p, x, y, 5, 0, FW_PLOT_DRAW_SMOOTH | FW_PLOT_DRAW_RAW, NULL) == 0);
    CHECK(add(&p, x2, y2, 3, 1, 0, NULL) == 1);
    p.smoothing = 0.6;
    fw_plot_readout r[FW_PLOT_MAX_SERIES];
    int n = -1;
    CHECK(fw_plot_cursor(&p, 4.9, r, &n, NULL) == FW_OK);
    CHECK_INT(n, 2);
    CHECK_INT(r[0].series, 0);
    CHECK_INT(r[0].index, 2); /* |4.9-3| = 1.9 < |7-4.9| = 2.1 */
    CHECK_NEAR(r[0].x, 3, 0);
    CHECK_NEAR(r[0].y, 3, 0);
    double sm[5];
    fw_ema_debiased(y, 5, 0.6, sm);
    CHECK_NEAR(r[0].y_smooth, sm[2], 1e-15);
    CHECK_INT(r[1].series, 1);
    CHECK_INT(r[1].index, 2); /* x = 4 has a NaN y: skipped */
    CHECK_NEAR(r[1].y_smooth, 0.3, 0);
    CHECK(fw_plot_cursor(&p, 5, r, &n, NULL) == FW_OK);
    CHECK_INT(r[0].index, 2); /* a tie between 3 and 7: the lower index */
    CHECK(fw_plot_cursor(&p, 100, r, &n, NULL) == FW_OK);
    CHECK_INT(r[0].index, 4);
    CHECK(fw_plot_cursor(&p, NAN, r, &n, NULL) == FW_EINVAL);

    /* log x: nearest in decades (40 is nearer 100 than 10 there) */
    fw_plot_free(&p);
    fw_plot_init(&p, 1, 1, 0);
    double lx[3] = {1, 10, 100}, ly[3] = {1, 2, 3};
    CHECK(add(&p, lx, ly, 3, 0, 0, NULL) == 0);
    CHECK(fw_plot_cursor(&p, 40, r, &n, NULL) == FW_OK);
    CHECK_INT(n, 1);
    CHECK_INT(r[0].index, 2);
    CHECK(fw_plot_cursor(&p, -1, r, &n, NULL) == FW_EINVAL);

    /* the cursor line and column <-> x */
    fw_plot_grid g = {0};
    CHECK(fw_plot_set_view(&p, 1, 100, 0, 4, NULL) == FW_OK);
    CHECK(fw_plot_render(&p, 30, 10, &g, NULL) == FW_OK);
    double xc = fw_plot_x_at_column(&p, &g, 5);
    CHECK_NEAR(log10(xc), (5 + 0.5) / g.area_w * 2, 1e-12);
    p.cursor_x = xc;
    CHECK(fw_plot_render(&p, 30, 10, &g, NULL) == FW_OK);
    int cursor_cells = 0;
    for (int row = 0; row < g.area_h; row++) {
        const fw_plot_cell *c = area_cell(&g, row, 5);
        cursor_cells += c->role == FW_PLOT_ROLE_CURSOR;
        CHECK(c->role == FW_PLOT_ROLE_CURSOR || c->role == FW_PLOT_ROLE_LINE);
    }
    CHECK(cursor_cells >= g.area_h - 2);
    fw_plot_grid_free(&g);
    fw_plot_free(&p);
}

/* ------------------------------------------------------------ sizes, NaN */

static void test_sizes(void)
{
    fw_plot p;
    fw_plot_grid g = {0};
    fw_error err;
    fw_plot_init(&p, 1, 0, 0);
    double x[4] = {0, 1, 2, 3}, y[4] = {0.001, 0.5, 0.2, 1234.5};
    CHECK(add(&p, x, y, 4, 0, 0, "a very long series name indeed") == 0);
    CHECK(fw_plot_fit(&p, NULL) == FW_OK);
    CHECK(fw_plot_render(&p, 9, 4, &g, &err) == FW_EINVAL);
    CHECK(strstr(err.msg, "9x4") != NULL);
    CHECK(fw_plot_render(&p, 10, 3, &g, NULL) == FW_EINVAL);
    CHECK(fw_plot_render(&p, 0, 0, &g, NULL) == FW_EINVAL);
    int bad = 0;
    for (int utf8 = 0; utf8 <= 1; utf8++)
        for (int logy = 0; logy <= 1; logy++)
            for (int w = 10; w <= 90; w += 7)
                for (int h = 4; h <= 30; h += 3) {
                    p.utf8 = utf8;
                    CHECK(fw_plot_set_scale(&p, 0, logy, NULL) == FW_OK);
                    if (fw_plot_render(&p, w, h, &g, NULL) != FW_OK) {
                        bad++;
                        continue;
                    }
                    bad += g.w != w || g.h != h || g.area_w < 1 || g.area_h < 1 ||
                           g.area_x + g.area_w != w || g.area_y + g.area_h != h - 2;
                    for (int i = 0; i < w * h; i++)
                        bad += codepoint(&g.cells[i]) == 0 || (!utf8 && codepoint(&g.cells[i]) > 0x7F);
                }
    CHECK_INT(bad, 0);
    /* the label is sanitised */
    fw_plot_clear(&p);
    CHECK(add(&p, x, y, 4, 0, 0, "r\x1b[31mun\x07") == 0);
    CHECK(fw_plot_render(&p, 40, 8, &g, NULL) == FW_OK);
    for (int i = 0; i < 40; i++)
        CHECK((unsigned char)g.cells[i].glyph[0] >= 0x20);
    /* more than 8 series, negative colours */
    for (int s = 1; s < FW_PLOT_MAX_SERIES; s++)
        CHECK(add(&p, x, y, 4, s, 0, NULL) == s);
    CHECK(add(&p, x, y, 4, 0, 0, NULL) == FW_EINVAL);
    fw_plot_clear(&p);
    CHECK(add(&p, x, y, 4, -1, 0, NULL) == FW_EINVAL);
    fw_plot_grid_free(&g);
    fw_plot_free(&p);
}

static void test_nonfinite_skipped(void)
{
    double x[7] = {0, 1, 2, 3, NAN, 5, 6}, y[7] = {1, NAN, 3, INFINITY, 9, 5, -INFINITY};
    double cx[3] = {0, 2, 5}, cy[3] = {1, 3, 5};
    for (int utf8 = 0; utf8 <= 1; utf8++) {
        fw_plot a, b;
        fw_plot_grid ga = {0}, gb = {0};
        fw_plot_init(&a, utf8, 0, 0);
        fw_plot_init(&b, utf8, 0, 0);
        CHECK(add(&a, x, y, 7, 2, 0, "s") == 0);
        CHECK(add(&b, cx, cy, 3, 2, 0, "s") == 0);
        CHECK(fw_plot_fit(&a, NULL) == FW_OK);
        CHECK_NEAR(a.x0, 0, 0);
        CHECK_NEAR(a.x1, 5, 0);
        CHECK_NEAR(a.y0, 0.8, 1e-12);
        CHECK_NEAR(a.y1, 5.2, 1e-12);
        CHECK(fw_plot_fit(&b, NULL) == FW_OK);
        CHECK(fw_plot_render(&a, 33, 11, &ga, NULL) == FW_OK);
        CHECK(fw_plot_render(&b, 33, 11, &gb, NULL) == FW_OK);
        CHECK_INT(ga.hidden_nonfinite, 4);
        CHECK_INT(gb.hidden_nonfinite, 0);
        int differ = 0;
        for (int i = 0; i < 33 * 11; i++)
            differ += strcmp(ga.cells[i].glyph, gb.cells[i].glyph) != 0 || ga.cells[i].role != gb.cells[i].role ||
                      ga.cells[i].color != gb.cells[i].color;
        CHECK_INT(differ, 0);
        fw_plot_grid_free(&ga);
        fw_plot_grid_free(&gb);
        fw_plot_free(&a);
        fw_plot_free(&b);
    }
}

int main(void)
{
    RUN(test_ema_brute_force);
    RUN(test_ema_numpy);
    RUN(test_nice_ticks_known);
    RUN(test_nice_ticks_random);
    RUN(test_tick_labels);
    RUN(test_braille_dots);
    RUN(test_ascii_mode);
    RUN(test_log_axes);
    RUN(test_zoom_pan_fit);
    RUN(test_envelope);
    RUN(test_dense_polyline);
    RUN(test_cursor);
    RUN(test_sizes);
    RUN(test_nonfinite_skipped);
    return tap_done();
}
