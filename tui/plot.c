/* plot.c — line plots into a character-cell grid: series, view arithmetic,
 * Braille/ASCII rasterisation, axes with nice ticks, legend, cursor readout
 * (see plot.h for the layout and the rules). */
#include "plot.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sanitize.h"

/* ------------------------------------------------------------ helpers */

static double to_axis(double v, int log) { return log ? log10(v) : v; }
static double from_axis(double t, int log) { return log ? pow(10.0, t) : t; }
static int usable(double v, int log) { return isfinite(v) && (!log || v > 0); }

/* 10^e exactly for |e| <= 22 (pow of an exact power is exact there). */
static double pow10i(int e) { return e >= 0 ? pow(10.0, e) : 1.0 / pow(10.0, -e); }

static void default_range(int log, double *lo, double *hi)
{
    *lo = log ? 1.0 : 0.0;
    *hi = log ? 10.0 : 1.0;
}

/* --------------------------------------------------------------- EMA */

int fw_ema_debiased(const double *in, size_t n, double beta, double *out)
{
    if (!(beta >= 0.0 && beta < 1.0))
        return FW_EINVAL;
    double state = 0.0, beta_t = 1.0; /* beta^t, t = finite inputs so far */
    for (size_t i = 0; i < n; i++) {
        double v = in[i];
        if (!isfinite(v)) {
            out[i] = v;
            continue;
        }
        state = beta * state + (1.0 - beta) * v;
        beta_t *= beta;
        out[i] = state / (1.0 - beta_t);
    }
    return FW_OK;
}

/* --------------------------------------------------------- nice ticks */

/* Multiples of step = m * 10^e inside [lo, hi]; count only when out is NULL. */
static int multiples(double lo, double hi, int m, int e, int max, double *out)
{
    double step = m * pow10i(e);
    double first = ceil(lo / step - 1e-9), last = floor(hi / step + 1e-9);
    double count = last - first + 1;
    if (count < 0)
        count = 0;
    if (!out || count > max)
        return count > max ? max + 1 : (int)count;
    for (int i = 0; i < (int)count; i++) {
        double k = first + i;
        double v = e >= 0 ? k * m * pow10i(e) : k * m / pow10i(-e);
        out[i] = fabs(v) < step * 1e-9 ? 0.0 : v;
    }
    return (int)count;
}

static const int mantissas[3] = {1, 2, 5};

/* Linear 1-2-5 ticks; *step_out gets the step. */
static int linear_ticks(double lo, double hi, int max, double *out, double *step_out)
{
    int e = (int)floor(log10((hi - lo) / max)) - 1;
    for (;; e++)
        for (int j = 0; j < 3; j++)
            if (multiples(lo, hi, mantissas[j], e, max, NULL) <= max) {
                *step_out = mantissas[j] * pow10i(e);
                return multiples(lo, hi, mantissas[j], e, max, out);
            }
}

/* Ticks and the step used for labels (0 for log ticks: labels by value). */
static int nice_ticks_step(double lo, double hi, int max, int log, double *out, int *n,
                           double *step)
{
    if (!(isfinite(lo) && isfinite(hi) && lo < hi) || max < 2 || (log && !(lo > 0)))
        return FW_EINVAL;
    if (!log) {
        *n = linear_ticks(lo, hi, max, out, step);
        return FW_OK;
    }
    *step = 0.0;
    int elo = (int)ceil(log10(lo) - 1e-9), ehi = (int)floor(log10(hi) + 1e-9);
    if (ehi - elo + 1 >= 2) {
        /* decades whose exponent is a multiple of d, d in 1, 2, 5, 10, ... */
        for (int e = 0;; e++)
            for (int j = 0; j < 3; j++) {
                int d = mantissas[j] * (int)pow10i(e);
                int first = (int)ceil((double)elo / d), last = (int)floor((double)ehi / d);
                if (last - first + 1 <= max) {
                    *n = 0;
                    for (int k = first; k <= last; k++)
                        out[(*n)++] = pow10i(k * d);
                    return FW_OK;
                }
            }
    }
    /* under two decades: 1-2-5 x 10^k, else linear */
    double cand[16];
    int count = 0;
    for (int k = (int)floor(log10(lo)) ; k <= (int)floor(log10(hi)) && count < 16; k++)
        for (int j = 0; j < 3 && count < 16; j++) {
            double v = k >= 0 ? mantissas[j] * pow10i(k) : mantissas[j] / pow10i(-k);
            if (v >= lo * (1 - 1e-12) && v <= hi * (1 + 1e-12))
                cand[count++] = v;
        }
    if (count >= 2 && count <= max) {
        memcpy(out, cand, (size_t)count * sizeof *out);
        *n = count;
        return FW_OK;
    }
    *n = linear_ticks(lo, hi, max, out, step);
    return FW_OK;
}

int fw_nice_ticks(double lo, double hi, int max_ticks, int log, double *out, int *n)
{
    double step;
    return nice_ticks_step(lo, hi, max_ticks, log, out, n, &step);
}

char *fw_plot_tick_label(double v, double step, int log, char *out, size_t outsz)
{
    if (v == 0.0) {
        snprintf(out, outsz, "0");
        return out;
    }
    double a = fabs(v);
    if (log || !(step > 0)) {
        int e = (int)floor(log10(a) + 1e-9);
        double mant = a / pow10i(e);
        if (e < -3 || e >= 4) {
            if (fabs(mant - round(mant)) < 1e-6)
                snprintf(out, outsz, "%s%.0fe%d", v < 0 ? "-" : "", round(mant), e);
            else
                snprintf(out, outsz, "%.2g", v);
        } else {
            int dec = e < 0 ? -e : 0;
            if (fabs(mant - round(mant)) > 1e-6)
                dec++;
            snprintf(out, outsz, "%.*f", dec, v);
        }
        return out;
    }
    int es = (int)floor(log10(step) + 1e-9);
    if (es < -3) {
        /* tiny steps: mantissa times the step's power of ten, "3e-4" */
        snprintf(out, outsz, "%.0fe%d", v / pow10i(es), es);
    } else if (a >= 1e6 && step >= 1e4) {
        int dec = es >= 6 ? 0 : 6 - es;
        snprintf(out, outsz, "%.*fM", dec, v / 1e6);
    } else if (a >= 1e4 && step >= 100) {
        int dec = es >= 3 ? 0 : 3 - es;
        snprintf(out, outsz, "%.*fk", dec, v / 1e3);
    } else {
        snprintf(out, outsz, "%.*f", es < 0 ? -es : 0, v);
    }
    return out;
}

/* ---------------------------------------------------- series and view */

void fw_plot_init(fw_plot *p, int utf8, int log_x, int log_y)
{
    memset(p, 0, sizeof *p);
    p->utf8 = utf8;
    p->log_x = log_x;
    p->log_y = log_y;
    p->smoothing = 0.0;
    p->cursor_x = NAN;
    default_range(log_x, &p->x0, &p->x1);
    default_range(log_y, &p->y0, &p->y1);
}

void fw_plot_clear(fw_plot *p)
{
    for (int i = 0; i < p->n_series; i++) {
        free(p->series[i].x);
        free(p->series[i].y);
        free(p->series[i].smooth);
    }
    memset(p->series, 0, sizeof p->series);
    p->n_series = 0;
}

void fw_plot_free(fw_plot *p) { fw_plot_clear(p); }

int fw_plot_add_series(fw_plot *p, const fw_plot_series *s, fw_error *err)
{
    if (p->n_series >= FW_PLOT_MAX_SERIES)
        return fw_fail(err, FW_EINVAL, "plot: at most %d series", FW_PLOT_MAX_SERIES);
    if (s->color < 0)
        return fw_fail(err, FW_EINVAL, "plot: series colour %d is negative", s->color);
    if (s->n > 0 && (!s->x || !s->y))
        return fw_fail(err, FW_EINVAL, "plot: series of %zu points without x or y", s->n);
    fw_plot_series_data *d = &p->series[p->n_series];
    memset(d, 0, sizeof *d);
    size_t bytes = (s->n ? s->n : 1) * sizeof(double);
    d->x = malloc(bytes);
    d->y = malloc(bytes);
    if (!d->x || !d->y) {
        free(d->x);
        free(d->y);
        d->x = d->y = NULL;
        return fw_fail(err, FW_ENOMEM, "plot: no memory for %zu points", s->n);
    }
    if (s->n) {
        memcpy(d->x, s->x, s->n * sizeof(double));
        memcpy(d->y, s->y, s->n * sizeof(double));
    }
    d->n = s->n;
    d->color = s->color;
    d->draw = s->draw ? s->draw : FW_PLOT_DRAW_RAW;
    d->smooth_beta = NAN;
    if (s->label)
        fw_sanitize(s->label, d->label, sizeof d->label);
    return p->n_series++;
}

/* Compute (or reuse) the series' EMA for the plot's smoothing. */
static int ensure_smooth(fw_plot *p, fw_plot_series_data *d, fw_error *err)
{
    if (!(p->smoothing >= 0.0 && p->smoothing < 1.0))
        return fw_fail(err, FW_EINVAL, "plot: smoothing %g is outside [0, 1)", p->smoothing);
    if (!(d->draw & FW_PLOT_DRAW_SMOOTH) || d->smooth_beta == p->smoothing)
        return FW_OK;
    if (!d->smooth) {
        d->smooth = malloc((d->n ? d->n : 1) * sizeof(double));
        if (!d->smooth)
            return fw_fail(err, FW_ENOMEM, "plot: no memory for %zu smoothed points", d->n);
    }
    fw_ema_debiased(d->y, d->n, p->smoothing, d->smooth);
    d->smooth_beta = p->smoothing;
    return FW_OK;
}

/* Extend [lo, hi] (axis space) by the usable values of v. */
static void extend(const double *v, const double *x, size_t n, int log_x, int log_v, double *lo,
                   double *hi)
{
    for (size_t i = 0; i < n; i++) {
        if (!usable(x[i], log_x) || !usable(v[i], log_v))
            continue;
        double t = to_axis(v[i], log_v);
        if (t < *lo)
            *lo = t;
        if (t > *hi)
            *hi = t;
    }
}

static void fitted_range(double lo, double hi, int log, double margin, double *a, double *b)
{
    if (!(lo <= hi)) {
        default_range(log, a, b);
        return;
    }
    if (lo == hi) {
        double pad = log ? 0.5 : 1.0;
        lo -= pad;
        hi += pad;
    } else {
        double m = (hi - lo) * margin;
        lo -= m;
        hi += m;
    }
    *a = from_axis(lo, log);
    *b = from_axis(hi, log);
}

static int fit_axes(fw_plot *p, int fit_x, int fit_y, fw_error *err)
{
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (int s = 0; s < p->n_series; s++) {
        fw_plot_series_data *d = &p->series[s];
        FW_TRY(ensure_smooth(p, d, err));
        if (d->draw & (FW_PLOT_DRAW_RAW | FW_PLOT_DRAW_ENVELOPE)) {
            extend(d->y, d->x, d->n, p->log_x, p->log_y, &ylo, &yhi);
            extend(d->x, d->y, d->n, p->log_y, p->log_x, &xlo, &xhi);
        }
        if (d->draw & FW_PLOT_DRAW_SMOOTH) {
            extend(d->smooth, d->x, d->n, p->log_x, p->log_y, &ylo, &yhi);
            extend(d->x, d->smooth, d->n, p->log_y, p->log_x, &xlo, &xhi);
        }
    }
    if (fit_x)
        fitted_range(xlo, xhi, p->log_x, 0.0, &p->x0, &p->x1);
    if (fit_y)
        fitted_range(ylo, yhi, p->log_y, 0.05, &p->y0, &p->y1);
    return FW_OK;
}

int fw_plot_fit(fw_plot *p, fw_error *err) { return fit_axes(p, 1, 1, err); }

int fw_plot_set_scale(fw_plot *p, int log_x, int log_y, fw_error *err)
{
    int refit_x = !log_x != !p->log_x, refit_y = !log_y != !p->log_y;
    p->log_x = log_x;
    p->log_y = log_y;
    if (refit_x || refit_y)
        return fit_axes(p, refit_x, refit_y, err);
    return FW_OK;
}

int fw_plot_set_view(fw_plot *p, double x0, double x1, double y0, double y1, fw_error *err)
{
    if (!(isfinite(x0) && isfinite(x1) && x0 < x1) || !(isfinite(y0) && isfinite(y1) && y0 < y1))
        return fw_fail(err, FW_EINVAL, "plot: view [%g, %g] x [%g, %g] is empty or not finite",
                       x0, x1, y0, y1);
    if ((p->log_x && !(x0 > 0)) || (p->log_y && !(y0 > 0)))
        return fw_fail(err, FW_EINVAL, "plot: view [%g, %g] x [%g, %g] is not positive on a log axis",
                       x0, x1, y0, y1);
    p->x0 = x0;
    p->x1 = x1;
    p->y0 = y0;
    p->y1 = y1;
    return FW_OK;
}

/* New [lo, hi] keeping centre c (axis space) fixed on screen. */
static void zoom_axis(double *lo, double *hi, int log, double factor, double c)
{
    double a = to_axis(*lo, log), b = to_axis(*hi, log);
    double t = isnan(c) ? (a + b) / 2 : to_axis(c, log);
    double na = t - (t - a) / factor, nb = t + (b - t) / factor;
    if (!(na < nb) || !isfinite(na) || !isfinite(nb))
        return;
    double la = from_axis(na, log), lb = from_axis(nb, log);
    if (la < lb && isfinite(la) && isfinite(lb) && (!log || la > 0)) {
        *lo = la;
        *hi = lb;
    }
}

int fw_plot_zoom(fw_plot *p, double factor_x, double factor_y, double cx, double cy, fw_error *err)
{
    if (!(isfinite(factor_x) && factor_x > 0) || !(isfinite(factor_y) && factor_y > 0))
        return fw_fail(err, FW_EINVAL, "plot: zoom factors %g, %g must be finite and > 0",
                       factor_x, factor_y);
    if ((!isnan(cx) && !usable(cx, p->log_x)) || (!isnan(cy) && !usable(cy, p->log_y)))
        return fw_fail(err, FW_EINVAL, "plot: zoom centre (%g, %g) is not on the axes", cx, cy);
    zoom_axis(&p->x0, &p->x1, p->log_x, factor_x, cx);
    zoom_axis(&p->y0, &p->y1, p->log_y, factor_y, cy);
    return FW_OK;
}

static void pan_axis(double *lo, double *hi, int log, double frac)
{
    double a = to_axis(*lo, log), b = to_axis(*hi, log), shift = (b - a) * frac;
    double la = from_axis(a + shift, log), lb = from_axis(b + shift, log);
    if (la < lb && isfinite(la) && isfinite(lb) && (!log || la > 0)) {
        *lo = la;
        *hi = lb;
    }
}

int fw_plot_pan(fw_plot *p, double frac_x, double frac_y, fw_error *err)
{
    if (!isfinite(frac_x) || !isfinite(frac_y))
        return fw_fail(err, FW_EINVAL, "plot: pan fractions %g, %g must be finite", frac_x, frac_y);
    pan_axis(&p->x0, &p->x1, p->log_x, frac_x);
    pan_axis(&p->y0, &p->y1, p->log_y, frac_y);
    return FW_OK;
}

/* ------------------------------------------------------------- cursor */

int fw_plot_cursor(fw_plot *p, double x, fw_plot_readout *out, int *n, fw_error *err)
{
    *n = 0;
    if (!usable(x, p->log_x))
        return fw_fail(err, FW_EINVAL, "plot: cursor x %g is not on the x axis", x);
    double tx = to_axis(x, p->log_x);
    for (int s = 0; s < p->n_series; s++) {
        fw_plot_series_data *d = &p->series[s];
        FW_TRY(ensure_smooth(p, d, err));
        int smooth = (d->draw & FW_PLOT_DRAW_SMOOTH) != 0;
        int raw = (d->draw & (FW_PLOT_DRAW_RAW | FW_PLOT_DRAW_ENVELOPE)) != 0;
        double best = INFINITY;
        size_t best_i = 0;
        for (size_t i = 0; i < d->n; i++) {
            if (!usable(d->x[i], p->log_x))
                continue;
            if (!((raw && usable(d->y[i], p->log_y)) || (smooth && usable(d->smooth[i], p->log_y))))
                continue;
            double dist = fabs(to_axis(d->x[i], p->log_x) - tx);
            if (dist < best) {
                best = dist;
                best_i = i;
            }
        }
        if (best == INFINITY)
            continue;
        fw_plot_readout *r = &out[(*n)++];
        r->series = s;
        r->index = best_i;
        r->x = d->x[best_i];
        r->y = d->y[best_i];
        r->y_smooth = smooth ? d->smooth[best_i] : d->y[best_i];
    }
    return FW_OK;
}

/* ------------------------------------------------------------ raster */

/* Cell-level raster of the plot area: per cell the dot bits and the
 * owner (best priority; equal priority: the later series). */
enum { PRIO_NONE = 0, PRIO_LINE = 1, PRIO_RAW = 2, PRIO_ENVELOPE = 3, PRIO_CURSOR = 4 };

typedef struct raster {
    int cw, ch;          /* cells */
    int sx, sy;          /* dots per cell */
    int dw, dh;          /* dots: cw*sx, ch*sy */
    uint8_t *bits;       /* (ch, cw) */
    uint8_t *prio;       /* (ch, cw) */
    int8_t *owner;       /* (ch, cw) series index, -1 for the cursor */
    double tx0, tx1, ty0, ty1; /* view in axis space */
    int log_x, log_y;
} raster;

/* Braille dot bits by (column, row) in a cell: dots 1-3 and 7 on the left,
 * 4-6 and 8 on the right. */
static const uint8_t braille_bit[2][4] = {{0x01, 0x02, 0x04, 0x40}, {0x08, 0x10, 0x20, 0x80}};

static void set_dot(raster *r, int col, int row, int prio, int owner)
{
    if (col < 0 || row < 0 || col >= r->dw || row >= r->dh)
        return;
    int cx = col / r->sx, cy = row / r->sy, dx = col % r->sx, dy = row % r->sy;
    size_t c = (size_t)cy * r->cw + cx;
    r->bits[c] |= r->sx == 2 ? braille_bit[dx][dy] : (uint8_t)(1u << dy);
    if (r->prio[c] == PRIO_NONE || prio < r->prio[c] || (prio == r->prio[c] && owner > r->owner[c])) {
        r->prio[c] = (uint8_t)prio;
        r->owner[c] = (int8_t)owner;
    }
}

/* Continuous dot coordinates of a point; the dot is (floor(u), floor(v)). */
static void to_dots(const raster *r, double x, double y, double *u, double *v)
{
    *u = (to_axis(x, r->log_x) - r->tx0) / (r->tx1 - r->tx0) * r->dw;
    *v = (r->ty1 - to_axis(y, r->log_y)) / (r->ty1 - r->ty0) * r->dh;
    /* keep far-away points finite and representable as int after clipping */
    *u = fmax(-1e12, fmin(1e12, *u));
    *v = fmax(-1e12, fmin(1e12, *v));
}

static int dot_index(double t, int size)
{
    if (t >= size)
        return size - 1; /* the far edge of the view belongs to the last dot */
    return (int)floor(t);
}

/* Dot column of a continuous u; outside [0, dw) (but u == dw, the view's
 * right edge) it stays outside. */
static double dot_column(const raster *r, double u) { return u == r->dw ? r->dw - 1 : floor(u); }

/* Fill rows [vmin, vmax] (continuous) of dot column col (an integer). */
static void vertical_span(raster *r, double col, double vmin, double vmax, int prio, int owner)
{
    if (col < 0 || col >= r->dw || vmax < 0 || vmin > r->dh)
        return;
    int c = (int)col;
    int a = dot_index(fmax(vmin, 0.0), r->dh), b = dot_index(fmin(vmax, (double)r->dh), r->dh);
    for (int row = a; row <= b; row++)
        set_dot(r, c, row, prio, owner);
}

/* Clip the segment to [0, dw] x [0, dh] (Liang-Barsky) and draw it with
 * Bresenham between the dots of its clipped ends. */
static void segment(raster *r, double u0, double v0, double u1, double v1, int prio, int owner)
{
    double t0 = 0.0, t1 = 1.0, du = u1 - u0, dv = v1 - v0;
    double pq[4][2] = {{-du, u0}, {du, r->dw - u0}, {-dv, v0}, {dv, r->dh - v0}};
    for (int k = 0; k < 4; k++) {
        double pk = pq[k][0], qk = pq[k][1];
        if (pk == 0) {
            if (qk < 0)
                return;
        } else {
            double t = qk / pk;
            if (pk < 0) {
                if (t > t1)
                    return;
                if (t > t0)
                    t0 = t;
            } else {
                if (t < t0)
                    return;
                if (t < t1)
                    t1 = t;
            }
        }
    }
    int x0 = dot_index(fmax(u0 + t0 * du, 0.0), r->dw), y0 = dot_index(fmax(v0 + t0 * dv, 0.0), r->dh);
    int x1 = dot_index(fmax(u0 + t1 * du, 0.0), r->dw), y1 = dot_index(fmax(v0 + t1 * dv, 0.0), r->dh);
    int dx = abs(x1 - x0), dy = -abs(y1 - y0), stepx = x0 < x1 ? 1 : -1, stepy = y0 < y1 ? 1 : -1;
    int e = dx + dy;
    for (;;) {
        set_dot(r, x0, y0, prio, owner);
        if (x0 == x1 && y0 == y1)
            break;
        int e2 = 2 * e;
        if (e2 >= dy) {
            e += dy;
            x0 += stepx;
        }
        if (e2 <= dx) {
            e += dx;
            y0 += stepy;
        }
    }
}

/* Join consecutive usable points. Points in the same dot column in a row
 * are drawn as one vertical span (their segments' union), so a series of
 * many points per column costs one span, not one segment each. */
static void polyline(raster *r, const double *x, const double *y, size_t n, int prio, int owner)
{
    int have = 0;
    double col = 0, vmin = 0, vmax = 0, pu = 0, pv = 0;
    for (size_t i = 0; i < n; i++) {
        if (!usable(x[i], r->log_x) || !usable(y[i], r->log_y))
            continue;
        double u, v;
        to_dots(r, x[i], y[i], &u, &v);
        double c = dot_column(r, u);
        if (have && c == col) {
            vmin = fmin(vmin, v);
            vmax = fmax(vmax, v);
        } else {
            if (have) {
                vertical_span(r, col, vmin, vmax, prio, owner);
                segment(r, pu, pv, u, v, prio, owner);
            }
            col = c;
            vmin = vmax = v;
        }
        pu = u;
        pv = v;
        have = 1;
    }
    if (have)
        vertical_span(r, col, vmin, vmax, prio, owner);
}

static int envelope(raster *r, const double *x, const double *y, size_t n, int owner)
{
    double *lo = malloc((size_t)r->dw * sizeof *lo), *hi = malloc((size_t)r->dw * sizeof *hi);
    if (!lo || !hi) {
        free(lo);
        free(hi);
        return FW_ENOMEM;
    }
    for (int c = 0; c < r->dw; c++) {
        lo[c] = INFINITY;
        hi[c] = -INFINITY;
    }
    for (size_t i = 0; i < n; i++) {
        if (!usable(x[i], r->log_x) || !usable(y[i], r->log_y))
            continue;
        double u, v;
        to_dots(r, x[i], y[i], &u, &v);
        double col = dot_column(r, u);
        if (col < 0 || col >= r->dw)
            continue;
        int c = (int)col;
        lo[c] = fmin(lo[c], v);
        hi[c] = fmax(hi[c], v);
    }
    for (int c = 0; c < r->dw; c++)
        if (lo[c] <= hi[c])
            vertical_span(r, c, lo[c], hi[c], PRIO_ENVELOPE, owner);
    free(lo);
    free(hi);
    return FW_OK;
}

/* -------------------------------------------------------------- grid */

static fw_plot_cell *cell_at(fw_plot_grid *g, int row, int col) { return &g->cells[(size_t)row * g->w + col]; }

static void put_glyph(fw_plot_grid *g, int row, int col, const char *glyph, int role, int color)
{
    if (row < 0 || col < 0 || row >= g->h || col >= g->w)
        return;
    fw_plot_cell *c = cell_at(g, row, col);
    snprintf(c->glyph, sizeof c->glyph, "%s", glyph);
    c->role = (unsigned char)role;
    c->color = color;
}

/* Length in characters of UTF-8 text. */
static int text_len(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Write text from col, one character per cell, stopping before end_col.
 * Without UTF-8 every non-ASCII character becomes '?'. Returns the next col. */
static int put_text(fw_plot_grid *g, int utf8, int row, int col, int end_col, const char *s,
                    int role, int color)
{
    while (*s && col < end_col) {
        size_t len = 1;
        unsigned char b = (unsigned char)*s;
        if (b >= 0xC0)
            while (len < 4 && ((unsigned char)s[len] & 0xC0) == 0x80)
                len++;
        char ch[5];
        if (b < 0x80 || utf8) {
            memcpy(ch, s, len);
            ch[len] = '\0';
        } else {
            ch[0] = '?';
            ch[1] = '\0';
        }
        put_glyph(g, row, col++, ch, role, color);
        s += len;
    }
    return col;
}

static int grid_alloc(fw_plot_grid *g, int w, int h, fw_error *err)
{
    if (!g->cells || g->w * g->h < w * h) {
        fw_plot_cell *c = realloc(g->cells, (size_t)w * h * sizeof *c);
        if (!c)
            return fw_fail(err, FW_ENOMEM, "plot: no memory for a %dx%d grid", w, h);
        g->cells = c;
    }
    g->w = w;
    g->h = h;
    for (int i = 0; i < w * h; i++) {
        snprintf(g->cells[i].glyph, sizeof g->cells[i].glyph, " ");
        g->cells[i].role = FW_PLOT_ROLE_EMPTY;
        g->cells[i].color = -1;
    }
    return FW_OK;
}

void fw_plot_grid_free(fw_plot_grid *grid)
{
    free(grid->cells);
    memset(grid, 0, sizeof *grid);
}

static void count_hidden(const fw_plot *p, fw_plot_grid *g)
{
    g->hidden_nonpositive = g->hidden_nonfinite = 0;
    for (int s = 0; s < p->n_series; s++) {
        const fw_plot_series_data *d = &p->series[s];
        for (size_t i = 0; i < d->n; i++) {
            if (!isfinite(d->x[i]) || !isfinite(d->y[i]))
                g->hidden_nonfinite++;
            else if ((p->log_x && d->x[i] <= 0) || (p->log_y && d->y[i] <= 0))
                g->hidden_nonpositive++;
        }
    }
}

static void draw_legend(const fw_plot *p, fw_plot_grid *g)
{
    int col = 0;
    for (int s = 0; s < p->n_series && col < g->w; s++) {
        const fw_plot_series_data *d = &p->series[s];
        if (s > 0)
            col += 2;
        col = put_text(g, p->utf8, 0, col, g->w, p->utf8 ? "━━" : "--", FW_PLOT_ROLE_LEGEND, d->color);
        if (d->label[0]) {
            col++;
            col = put_text(g, p->utf8, 0, col, g->w, d->label, FW_PLOT_ROLE_LEGEND, d->color);
        }
    }
    if (g->hidden_nonpositive) {
        char note[64];
        snprintf(note, sizeof note, p->utf8 ? "[%zu ≤0 hidden]" : "[%zu <=0 hidden]",
                 g->hidden_nonpositive);
        int len = text_len(note);
        int start = g->w - len > 0 ? g->w - len : 0;
        if (start > 0)
            put_glyph(g, 0, start - 1, " ", FW_PLOT_ROLE_EMPTY, -1);
        put_text(g, p->utf8, 0, start, g->w, note, FW_PLOT_ROLE_NOTE, -1);
    }
}

typedef struct ticks {
    double v[16];
    char label[16][24];
    int n;
    double step;
} ticks;

static void make_ticks(double lo, double hi, int log, int max, ticks *t)
{
    if (max > 16)
        max = 16;
    if (nice_ticks_step(lo, hi, max < 2 ? 2 : max, log, t->v, &t->n, &t->step) != FW_OK)
        t->n = 0;
    for (int i = 0; i < t->n; i++)
        fw_plot_tick_label(t->v[i], t->step, log && t->step == 0.0, t->label[i], sizeof t->label[i]);
}

/* Cell (row or column) of an axis-space value t within [a, b] over `cells`
 * cells of `sub` dots; flip for rows (top = b). */
static int tick_cell(double t, double a, double b, int cells, int sub, int flip)
{
    int dots = cells * sub;
    double d = flip ? (b - t) / (b - a) * dots : (t - a) / (b - a) * dots;
    if (d < 0)
        d = 0;
    return dot_index(d, dots) / sub;
}

static const char *cell_glyph(const raster *r, size_t c, char buf[5])
{
    uint8_t b = r->bits[c];
    if (r->sx == 2) { /* U+2800 + bits, 3-byte UTF-8 */
        unsigned cp = 0x2800u + b;
        buf[0] = (char)(0xE0 | (cp >> 12));
        buf[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        buf[2] = (char)(0x80 | (cp & 0x3F));
        buf[3] = '\0';
        return buf;
    }
    if (r->prio[c] == PRIO_CURSOR || (r->prio[c] == PRIO_ENVELOPE && b == 3))
        return "|";
    return b == 3 ? ":" : b == 1 ? "'" : ".";
}

int fw_plot_render(fw_plot *p, int w, int h, fw_plot_grid *g, fw_error *err)
{
    if (w < FW_PLOT_MIN_W || h < FW_PLOT_MIN_H)
        return fw_fail(err, FW_EINVAL, "plot: %dx%d is smaller than %dx%d", w, h, FW_PLOT_MIN_W,
                       FW_PLOT_MIN_H);
    for (int s = 0; s < p->n_series; s++)
        FW_TRY(ensure_smooth(p, &p->series[s], err));
    FW_TRY(grid_alloc(g, w, h, err));
    count_hidden(p, g);
    draw_legend(p, g);

    int utf8 = p->utf8, sx = utf8 ? 2 : 1, sy = utf8 ? 4 : 2;
    double tx0 = to_axis(p->x0, p->log_x), tx1 = to_axis(p->x1, p->log_x);
    double ty0 = to_axis(p->y0, p->log_y), ty1 = to_axis(p->y1, p->log_y);

    /* y ticks and the label column */
    g->area_y = 1;
    g->area_h = h - 3;
    ticks yt;
    int ymax = g->area_h / 3 + 1;
    make_ticks(p->y0, p->y1, p->log_y, ymax > 8 ? 8 : ymax, &yt);
    int lw = 1;
    for (int i = 0; i < yt.n; i++)
        if (text_len(yt.label[i]) > lw)
            lw = text_len(yt.label[i]);
    if (lw > w / 2 - 1)
        lw = w / 2 - 1;
    g->area_x = lw + 1;
    g->area_w = w - g->area_x;

    /* axes */
    const char *vline = utf8 ? "│" : "|", *ytick = utf8 ? "┤" : "+", *hline = utf8 ? "─" : "-";
    const char *xtick = utf8 ? "┬" : "+", *corner = utf8 ? "└" : "+";
    for (int row = 0; row < g->area_h; row++)
        put_glyph(g, g->area_y + row, lw, vline, FW_PLOT_ROLE_AXIS, -1);
    put_glyph(g, h - 2, lw, corner, FW_PLOT_ROLE_AXIS, -1);
    for (int col = g->area_x; col < w; col++)
        put_glyph(g, h - 2, col, hline, FW_PLOT_ROLE_AXIS, -1);
    int last_row = -1;
    for (int i = yt.n - 1; i >= 0; i--) { /* top to bottom */
        int row = tick_cell(to_axis(yt.v[i], p->log_y), ty0, ty1, g->area_h, sy, 1);
        if (row == last_row)
            continue;
        last_row = row;
        put_glyph(g, g->area_y + row, lw, ytick, FW_PLOT_ROLE_AXIS, -1);
        int len = text_len(yt.label[i]);
        if (len <= lw) /* a cut label would lie: leave the tick unlabelled */
            put_text(g, utf8, g->area_y + row, lw - len, lw, yt.label[i], FW_PLOT_ROLE_TICK_LABEL, -1);
    }

    /* x ticks: the most that fit with a space between labels */
    ticks xt;
    int xmax = g->area_w / 4 + 1;
    for (; xmax >= 2; xmax--) {
        make_ticks(p->x0, p->x1, p->log_x, xmax, &xt);
        int end = -1, fits = 1;
        for (int i = 0; i < xt.n && fits; i++) {
            int col = g->area_x + tick_cell(to_axis(xt.v[i], p->log_x), tx0, tx1, g->area_w, sx, 0);
            int len = text_len(xt.label[i]), start = col - (len - 1) / 2;
            if (start < 0)
                start = 0;
            if (start + len > w)
                start = w - len;
            fits = start > end;
            end = start + len;
        }
        if (fits)
            break;
    }
    int end = -1;
    for (int i = 0; i < xt.n; i++) {
        int col = g->area_x + tick_cell(to_axis(xt.v[i], p->log_x), tx0, tx1, g->area_w, sx, 0);
        put_glyph(g, h - 2, col, xtick, FW_PLOT_ROLE_AXIS, -1);
        int len = text_len(xt.label[i]), start = col - (len - 1) / 2;
        if (start < 0)
            start = 0;
        if (start + len > w)
            start = w - len;
        if (start <= end)
            continue;
        end = put_text(g, utf8, h - 1, start, w, xt.label[i], FW_PLOT_ROLE_TICK_LABEL, -1);
    }

    /* the plot area */
    raster r = {.cw = g->area_w, .ch = g->area_h, .sx = sx, .sy = sy, .tx0 = tx0, .tx1 = tx1,
                .ty0 = ty0, .ty1 = ty1, .log_x = p->log_x, .log_y = p->log_y};
    r.dw = r.cw * sx;
    r.dh = r.ch * sy;
    size_t ncell = (size_t)r.cw * r.ch;
    r.bits = calloc(ncell, 1);
    r.prio = calloc(ncell, 1);
    r.owner = calloc(ncell, 1);
    int rc = FW_OK;
    if (!r.bits || !r.prio || !r.owner)
        rc = fw_fail(err, FW_ENOMEM, "plot: no memory for the raster");
    if (rc == FW_OK && usable(p->cursor_x, p->log_x)) {
        double u = (to_axis(p->cursor_x, p->log_x) - tx0) / (tx1 - tx0) * r.dw;
        vertical_span(&r, dot_column(&r, u), 0, r.dh, PRIO_CURSOR, -1);
    }
    for (int s = 0; rc == FW_OK && s < p->n_series; s++) {
        fw_plot_series_data *d = &p->series[s];
        int smooth = (d->draw & FW_PLOT_DRAW_SMOOTH) != 0;
        if (d->draw & FW_PLOT_DRAW_ENVELOPE) {
            rc = envelope(&r, d->x, d->y, d->n, s);
            if (rc != FW_OK)
                rc = fw_fail(err, rc, "plot: no memory for an envelope");
        }
        if (rc == FW_OK && (d->draw & FW_PLOT_DRAW_RAW))
            polyline(&r, d->x, d->y, d->n, smooth ? PRIO_RAW : PRIO_LINE, s);
        if (rc == FW_OK && smooth)
            polyline(&r, d->x, d->smooth, d->n, PRIO_LINE, s);
    }
    for (size_t c = 0; rc == FW_OK && c < ncell; c++) {
        if (!r.bits[c])
            continue;
        static const unsigned char role_of[] = {FW_PLOT_ROLE_EMPTY, FW_PLOT_ROLE_LINE,
                                                FW_PLOT_ROLE_RAW, FW_PLOT_ROLE_ENVELOPE,
                                                FW_PLOT_ROLE_CURSOR};
        char buf[5];
        int owner = r.owner[c];
        put_glyph(g, g->area_y + (int)(c / r.cw), g->area_x + (int)(c % r.cw), cell_glyph(&r, c, buf),
                  role_of[r.prio[c]], owner >= 0 ? p->series[owner].color : -1);
    }
    free(r.bits);
    free(r.prio);
    free(r.owner);
    return rc;
}

double fw_plot_x_at_column(const fw_plot *p, const fw_plot_grid *grid, int column)
{
    double a = to_axis(p->x0, p->log_x), b = to_axis(p->x1, p->log_x);
    return from_axis(a + (column + 0.5) / grid->area_w * (b - a), p->log_x);
}
