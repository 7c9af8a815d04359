/* plot.h — line plots of training curves rendered into a character-cell grid.
 *
 * The workbench's plots (training loss raw and smoothed with an optional
 * min/max envelope, validation loss and mAP@5 per epoch, LR, momentum) are
 * drawn here into a W x H grid of cells {UTF-8 glyph, colour index, role}:
 * no curses calls, so the app can draw the grid in any colour mode and the
 * tests can read it cell by cell.
 *
 * Layout of a rendered grid (rows top to bottom):
 *
 *     row 0        legend: "━━ label" per series in its colour, then a note
 *                  when points were hidden ("[3 ≤0 hidden]" on log axes)
 *     rows 1..H-3  y tick labels (right-aligned), the y axis "│" with "┤" at
 *                  ticks, then the plot area (grid->area_*)
 *     row H-2      the x axis "└──┬──" with "┬" at ticks
 *     row H-1      x tick labels centred on their ticks
 *
 * In UTF-8 mode the plot area uses Braille (U+2800 + dot bits; 2 x 4 dots
 * per cell), so a W x H area has 2W x 4H dots; otherwise ASCII with 1 x 2
 * "dots" per cell: "'" (upper), "." (lower), ":" (both), "|" where only an
 * envelope covers the cell, axes "|", "-", "+".
 *
 * Points: each series is (x, y) pairs in data order (x may be step, epoch
 * or wall time: whichever array the caller passes). Non-finite points
 * (NaN, ±Inf) are skipped; on a log axis non-positive values are skipped
 * too and counted (grid->hidden_nonpositive), and the legend says so.
 * Consecutive kept points are joined by straight lines (in screen space),
 * clipped to the view; a point on the view's right or bottom edge is drawn
 * in the last dot column/row, a point beyond it not at all. Rendering costs
 * O(points + cells): runs of points in one dot column become one span.
 *
 * Smoothing: the debiased EMA of fw_ema_debiased with beta = plot->smoothing
 * (0 = none), as TensorBoard's smoothing slider. Envelope: for each dot
 * column of the plot area, the min..max of the raw y of the points that fall
 * in that column, filled.
 *
 * Thread-safety: none; one fw_plot per panel, used from the UI thread.
 */
#ifndef FW_PLOT_H
#define FW_PLOT_H

#include <stddef.h>

#include "fw_error.h"

#define FW_PLOT_MAX_SERIES 8
#define FW_PLOT_MIN_W 10 /* smallest grid fw_plot_render accepts */
#define FW_PLOT_MIN_H 4

/* What to draw of a series (fw_plot_series.draw); 0 means FW_PLOT_DRAW_RAW. */
enum {
    FW_PLOT_DRAW_RAW = 1 << 0,      /* the points as given */
    FW_PLOT_DRAW_SMOOTH = 1 << 1,   /* the debiased EMA (raw when smoothing is 0) */
    FW_PLOT_DRAW_ENVELOPE = 1 << 2, /* per dot column min..max of the raw points */
};

/* What a cell shows, so the app can pick attributes (e.g. A_DIM for RAW
 * drawn under a smoothed line). Where layers share a cell, the glyph is the
 * union of their dots and role/colour come from the first in this order:
 * LINE, RAW, ENVELOPE, CURSOR. */
typedef enum fw_plot_role {
    FW_PLOT_ROLE_EMPTY = 0, /* blank cell (glyph " ") */
    FW_PLOT_ROLE_LINE,      /* a series' main line: smoothed, else raw */
    FW_PLOT_ROLE_RAW,       /* raw points drawn under a smoothed line */
    FW_PLOT_ROLE_ENVELOPE,  /* min/max envelope */
    FW_PLOT_ROLE_CURSOR,    /* the vertical cursor line */
    FW_PLOT_ROLE_AXIS,      /* axis lines and tick marks */
    FW_PLOT_ROLE_TICK_LABEL,
    FW_PLOT_ROLE_LEGEND,    /* legend swatch and label (colour = the series') */
    FW_PLOT_ROLE_NOTE,      /* "[N ≤0 hidden]" */
} fw_plot_role;

typedef struct fw_plot_cell {
    char glyph[5]; /* one character, UTF-8, NUL-terminated */
    unsigned char role; /* fw_plot_role */
    int color;          /* the series' colour index for series roles, else -1 */
} fw_plot_cell;

/* A rendered plot. cells is (h, w) row-major; reused between renders. */
typedef struct fw_plot_grid {
    int w, h;
    fw_plot_cell *cells;                    /* (h, w) */
    int area_x, area_y, area_w, area_h;     /* the plot area, in cells */
    size_t hidden_nonpositive;              /* points skipped on log axes */
    size_t hidden_nonfinite;                /* NaN/Inf points skipped */
} fw_plot_grid;

/* One series to add. x and y are copied. */
typedef struct fw_plot_series {
    const char *label;   /* legend text (sanitised when drawn); NULL = none */
    const double *x, *y; /* (n,) each */
    size_t n;
    int color;           /* colour index >= 0, returned in the cells */
    unsigned draw;       /* FW_PLOT_DRAW_* bits; 0 = raw */
} fw_plot_series;

typedef struct fw_plot_series_data {
    char label[64];
    double *x, *y;     /* (n,) copies */
    double *smooth;    /* (n,) EMA of y, computed for smooth_beta; NULL until needed */
    double smooth_beta;
    size_t n;
    int color;
    unsigned draw;
} fw_plot_series_data;

/* The plot. Fields marked "set freely" may be changed between calls. */
typedef struct fw_plot {
    int utf8;         /* set freely: 1 Braille + box lines, 0 ASCII */
    double smoothing; /* set freely: EMA beta in [0, 1); 0 = no smoothing */
    double cursor_x;  /* set freely: x of the cursor line; NaN = none */
    int log_x, log_y; /* change with fw_plot_set_scale */
    double x0, x1, y0, y1; /* the view (data units); change with set_view/fit/zoom/pan */
    int n_series;
    fw_plot_series_data series[FW_PLOT_MAX_SERIES];
} fw_plot;

/* The nearest point of one series to a cursor x. */
typedef struct fw_plot_readout {
    int series;       /* index in plot->series */
    size_t index;     /* index of the point in the series */
    double x, y;
    double y_smooth;  /* EMA at that point; equals y when smoothing is 0 */
} fw_plot_readout;

/* An empty plot: no series, linear axes, view [0,1] x [0,1] ([1,10] on a
 * log axis), no smoothing, no cursor. */
void fw_plot_init(fw_plot *p, int utf8, int log_x, int log_y);

/* Free every series' copies; p can be initialised again. */
void fw_plot_free(fw_plot *p);

/* Remove every series, keeping the view and options (for live updates:
 * clear, add the grown series again, render). */
void fw_plot_clear(fw_plot *p);

/* Add a copy of a series. Returns its index (>= 0), or FW_EINVAL (more than
 * FW_PLOT_MAX_SERIES, negative colour, NULL arrays with n > 0), FW_ENOMEM. */
int fw_plot_add_series(fw_plot *p, const fw_plot_series *s, fw_error *err);

/* Switch axes between linear and log10. An axis whose scale changes is fitted
 * to the data again (the old range may hold non-positive values). Errors as
 * fw_plot_fit. */
int fw_plot_set_scale(fw_plot *p, int log_x, int log_y, fw_error *err);

/* Set the view. FW_EINVAL unless lo < hi, all finite, and > 0 on log axes. */
int fw_plot_set_view(fw_plot *p, double x0, double x1, double y0, double y1, fw_error *err);

/* Fit the view to the drawn values of every series (raw and/or smoothed,
 * skipping what the axes skip): x exactly, y with a 5% margin each side (in
 * log space on a log axis). A single value v gets v±1 (v×/÷√10 on log); no
 * data gives the initial view. FW_EINVAL when smoothing is outside [0, 1),
 * FW_ENOMEM. */
int fw_plot_fit(fw_plot *p, fw_error *err);

/* Zoom about (cx, cy) (data units; NaN = the view's centre): the range of x
 * shrinks by factor_x and of y by factor_y (> 1 zooms in, < 1 out, 1 leaves
 * that axis), keeping (cx, cy) at the same place on screen. Log axes zoom in
 * log space. FW_EINVAL for factors that are not finite and > 0, or a
 * non-positive centre on a log axis; the view is unchanged then. */
int fw_plot_zoom(fw_plot *p, double factor_x, double factor_y, double cx, double cy,
                 fw_error *err);

/* Pan by fractions of the view's width/height (+x shows larger x, +y larger
 * y); log axes pan in log space. FW_EINVAL for non-finite fractions. */
int fw_plot_pan(fw_plot *p, double frac_x, double frac_y, fw_error *err);

/* Render into a w x h grid (cells reallocated as needed; free with
 * fw_plot_grid_free). FW_EINVAL when w < FW_PLOT_MIN_W or h < FW_PLOT_MIN_H
 * or smoothing is outside [0, 1); FW_ENOMEM. */
int fw_plot_render(fw_plot *p, int w, int h, fw_plot_grid *grid, fw_error *err);
void fw_plot_grid_free(fw_plot_grid *grid);

/* The x (data units) at the centre of a column of the grid's plot area
 * (0 = its first column), for mouse clicks and cursor steps; grid is the
 * last successful render of p. */
double fw_plot_x_at_column(const fw_plot *p, const fw_plot_grid *grid, int column);

/* For each series with a drawable point, the point whose x is nearest to x
 * (in log space on a log x axis; ties to the lower index). out holds
 * FW_PLOT_MAX_SERIES entries; *n = how many were filled (in series order).
 * FW_EINVAL when x is not finite (or not > 0 on a log x axis). */
int fw_plot_cursor(fw_plot *p, double x, fw_plot_readout *out, int *n, fw_error *err);

/* Debiased exponential moving average (TensorBoard / fastai):
 * s_t = beta*s_{t-1} + (1-beta)*y_t, s_0 = 0, out_t = s_t / (1 - beta^t),
 * t counting the finite inputs so far. A non-finite input is copied to out
 * and leaves the state alone. in == out is allowed. beta = 0 copies.
 * Returns FW_EINVAL unless 0 <= beta < 1. */
int fw_ema_debiased(const double *in, size_t n, double beta, double *out);

/* "Nice" tick positions inside [lo, hi], ascending, at most max_ticks (>= 2)
 * into out (room for max_ticks). Linear: the multiples of the smallest step
 * in the 1-2-5 series (…, 0.1, 0.2, 0.5, 1, 2, 5, 10, …) that leaves at most
 * max_ticks in the range. Log: powers of ten whose exponents are multiples
 * of the smallest step in 1, 2, 5, 10, 20, … decades that fits; when fewer
 * than two decades fall inside, 1-2-5 × 10^k, and failing that the linear
 * ticks. FW_EINVAL unless lo < hi, finite, max_ticks >= 2, lo > 0 for log. */
int fw_nice_ticks(double lo, double hi, int max_ticks, int log, double *out, int *n);

/* A short label for a tick value: "%.*f" with just the decimals the step
 * needs, thousands as "20k" / "1.5M", and powers of ten outside
 * [1e-3, 1e4] as "1e-6". Returns out. */
char *fw_plot_tick_label(double v, double step, int log, char *out, size_t outsz);

#endif
