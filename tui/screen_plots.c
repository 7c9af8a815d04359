/* screen_plots.c — the workbench's Plots screen: live curves of the selected
 * run, read from the run store a few rows per tick (run_series.h) and drawn
 * with the plot renderer (plot.h).
 *
 * Panels: training loss per step (raw, dimmed under a debiased EMA of
 * adjustable strength, optionally with a min/max envelope), validation loss
 * and mAP@5 per epoch, LR and momentum. Layout of the area (top, h, w):
 *
 *     rows 0..h-2  the panels: the loss big on top, the four small panels
 *                  below (side by side when w >= 160; else two at a time,
 *                  the pair holding the focused panel; `o` shows only the
 *                  focused panel); each panel is a title rule (with the
 *                  cursor readout) over its plot grid
 *     row h-1      status: run, x axis, smoothing, envelope, zoom state
 *
 * Views: a panel fits its data every tick until the user zooms or pans it.
 * Zooming and panning x keep y fitted to the points in view; panning y
 * stops that too; 0/f fits every panel again.
 */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "run_series.h"
#include "run_summary.h"

#define ROWS_PER_TICK 20000 /* store rows read per query; a few queries per tick at most */
#define QUERIES_PER_TICK 5
#define ZOOM_STEP 1.5
#define PAN_STEP 0.125
#define SMOOTH_STEP 0.05
#define SMOOTH_MAX 0.99
#define WIDE_COLUMNS 160 /* from this width the four small panels sit side by side */
#define SOLO_MIN_H 10    /* below this many rows per panel, show one panel at a time */

enum { P_LOSS = 0, P_VLOSS, P_MAP, P_LR, P_MOM, N_PANELS };

typedef struct panel_def {
    const char *title;  /* the panel's title */
    const char *metric; /* the store's metric name */
    const char *short_label;
} panel_def;

static const panel_def PANEL_DEFS[N_PANELS] = {
    {"train loss", "train.loss", "loss"},
    {"val loss", "val.loss", "val.loss"},
    {"val mAP@5", "val.map5", "mAP@5"},
    {"LR", "train.lr", "lr"},
    {"momentum", "train.momentum", "mom"},
};

typedef enum view_mode {
    VIEW_AUTO = 0, /* fit x and y to the data every time it changes */
    VIEW_X_USER,   /* x set by the user (zoom/pan); y fits the points in view */
    VIEW_USER,     /* both axes set by the user */
} view_mode;

typedef struct panel {
    fw_plot plot;
    fw_plot_grid grid;
    int has_grid;       /* grid holds the last render of plot */
    int log_y;
    view_mode mode;
    size_t n_points;    /* points of the metric fed to the plot */
    int shown;          /* laid out in the last draw */
    int y, x, h, w;     /* its rectangle (title rule + plot) in the last draw */
} panel;

typedef struct plots_screen {
    fw_run_series rs;
    uint64_t fed_version;    /* rs.version fed to the panels */
    int need_feed;           /* options changed: feed the panels again */
    panel panels[N_PANELS];
    fw_series_x xaxis;
    int log_x;
    int utf8;
    double smoothing;
    int envelope;
    int cursor_on;
    double cursor_x;         /* data units of the x axis */
    int focus;               /* panel with the keys */
    int page;                /* which pair of small panels shows when not wide */
    int solo;                /* only the focused panel */
    fw_run_status shown_status;
    char shown_name[128];
    char error[512];         /* the last store error, shown in the status line */
} plots_screen;

/* ------------------------------------------------------------ views */

static double to_axis(double v, int log) { return log ? log10(v) : v; }
static double from_axis(double t, int log) { return log ? pow(10.0, t) : t; }
static int usable(double v, int log) { return isfinite(v) && (!log || v > 0); }

/* Extend [lo, hi] (axis space) with the usable values of y whose x lies in
 * [x0, x1]. */
static void extend_visible(const fw_plot *p, const double *x, const double *y, size_t n,
                           double *lo, double *hi)
{
    for (size_t i = 0; i < n; i++) {
        if (!usable(x[i], p->log_x) || x[i] < p->x0 || x[i] > p->x1 || !usable(y[i], p->log_y))
            continue;
        double t = to_axis(y[i], p->log_y);
        if (t < *lo)
            *lo = t;
        if (t > *hi)
            *hi = t;
    }
}

/* Fit y to the drawn values of the points inside the x view (5% margin;
 * a single value v gets v±1, ×/÷√10 on log). Leaves y alone when none. */
static void fit_y_to_view(fw_plot *p)
{
    double lo = INFINITY, hi = -INFINITY;
    for (int s = 0; s < p->n_series; s++) {
        fw_plot_series_data *d = &p->series[s];
        int smooth = (d->draw & FW_PLOT_DRAW_SMOOTH) && p->smoothing > 0;
        if (!smooth || (d->draw & (FW_PLOT_DRAW_RAW | FW_PLOT_DRAW_ENVELOPE)))
            extend_visible(p, d->x, d->y, d->n, &lo, &hi);
        if (smooth && d->n) {
            double *ema = malloc(d->n * sizeof *ema);
            if (ema && fw_ema_debiased(d->y, d->n, p->smoothing, ema) == FW_OK)
                extend_visible(p, d->x, ema, d->n, &lo, &hi);
            free(ema);
        }
    }
    if (!(lo <= hi))
        return;
    double a, b;
    if (lo == hi) {
        a = p->log_y ? lo - 0.5 : lo - 1.0;
        b = p->log_y ? hi + 0.5 : hi + 1.0;
    } else {
        double m = 0.05 * (hi - lo);
        a = lo - m;
        b = hi + m;
    }
    double y0 = from_axis(a, p->log_y), y1 = from_axis(b, p->log_y);
    if (y0 < y1 && isfinite(y0) && isfinite(y1))
        fw_plot_set_view(p, p->x0, p->x1, y0, y1, NULL);
}

/* Apply a panel's view mode after its data or options changed. */
static void refit(panel *pn)
{
    if (pn->mode == VIEW_AUTO)
        fw_plot_fit(&pn->plot, NULL);
    else if (pn->mode == VIEW_X_USER)
        fit_y_to_view(&pn->plot);
}

/* ------------------------------------------------------------ data */

/* Give each panel its series again (after new points or new options). */
static void feed(plots_screen *ps)
{
    for (int i = 0; i < N_PANELS; i++) {
        panel *pn = &ps->panels[i];
        fw_plot *p = &pn->plot;
        fw_plot_clear(p);
        p->utf8 = ps->utf8;
        p->smoothing = i == P_LOSS ? ps->smoothing : 0.0;
        int rescaled = p->log_x != ps->log_x || p->log_y != pn->log_y;
        fw_plot_set_scale(p, ps->log_x, pn->log_y, NULL);
        const fw_series *s = fw_run_series_find(&ps->rs, PANEL_DEFS[i].metric);
        pn->n_points = s ? s->n : 0;
        pn->has_grid = 0;
        if (!s || s->n == 0)
            continue;
        char label[64];
        unsigned draw = FW_PLOT_DRAW_RAW;
        if (i == P_LOSS && ps->smoothing > 0) {
            draw |= FW_PLOT_DRAW_SMOOTH;
            snprintf(label, sizeof label, "%s  EMA %.2f", PANEL_DEFS[i].metric, ps->smoothing);
        } else {
            snprintf(label, sizeof label, "%s", PANEL_DEFS[i].metric);
        }
        if (i == P_LOSS && ps->envelope)
            draw |= FW_PLOT_DRAW_ENVELOPE;
        fw_plot_series series = {
            .label = label,
            .x = fw_series_x_values(s, ps->xaxis),
            .y = s->value,
            .n = s->n,
            .color = i,
            .draw = draw,
        };
        if (fw_plot_add_series(p, &series, NULL) < 0)
            continue;
        if (rescaled && pn->mode == VIEW_USER)
            pn->mode = VIEW_AUTO;
        refit(pn);
    }
    ps->fed_version = ps->rs.version;
    ps->need_feed = 0;
}

static void reset_views(plots_screen *ps)
{
    for (int i = 0; i < N_PANELS; i++)
        ps->panels[i].mode = VIEW_AUTO;
    ps->need_feed = 1;
}

static void *plots_create(fw_app *app)
{
    plots_screen *ps = calloc(1, sizeof *ps);
    if (!ps)
        return NULL;
    fw_run_series_init(&ps->rs);
    ps->utf8 = fw_app_utf8(app);
    for (int i = 0; i < N_PANELS; i++)
        fw_plot_init(&ps->panels[i].plot, ps->utf8, 0, 0);
    double s = fw_app_user_config(app)->smoothing;
    ps->smoothing = s >= 0 && s <= SMOOTH_MAX ? s : 0.9;
    ps->xaxis = FW_SERIES_X_STEP;
    ps->cursor_x = NAN;
    ps->shown_status = (fw_run_status)-1;
    ps->need_feed = 1;
    return ps;
}

static void plots_destroy(void *self)
{
    plots_screen *ps = self;
    if (!ps)
        return;
    for (int i = 0; i < N_PANELS; i++) {
        fw_plot_free(&ps->panels[i].plot);
        fw_plot_grid_free(&ps->panels[i].grid);
    }
    fw_run_series_free(&ps->rs);
    free(ps);
}

static int plots_tick(void *self, fw_app *app)
{
    plots_screen *ps = self;
    if (!ps)
        return 0;
    int changed = 0;
    const char *sel = fw_app_selected(app);
    if (strcmp(sel, ps->rs.run_id) != 0) {
        reset_views(ps);
        ps->cursor_on = 0;
        ps->cursor_x = NAN;
        changed = 1;
    }
    fw_error err;
    fw_error_clear(&err);
    int n_new = 0, queries = 0;
    do {
        if (fw_run_series_update(&ps->rs, fw_app_store(app), sel, ROWS_PER_TICK, &n_new,
                                 &err) < 0) {
            if (strcmp(ps->error, err.msg)) {
                snprintf(ps->error, sizeof ps->error, "%s", err.msg);
                changed = 1;
            }
            break;
        }
        if (ps->error[0] && n_new >= 0) {
            ps->error[0] = '\0';
            changed = 1;
        }
    } while (n_new == ROWS_PER_TICK && ++queries < QUERIES_PER_TICK);
    if (ps->rs.version != ps->fed_version || ps->need_feed || ps->utf8 != fw_app_utf8(app)) {
        ps->utf8 = fw_app_utf8(app);
        feed(ps);
        changed = 1;
    }
    const fw_run_info *info = fw_app_selected_info(app);
    if (info && (info->status != ps->shown_status || strcmp(info->name, ps->shown_name))) {
        ps->shown_status = info->status;
        snprintf(ps->shown_name, sizeof ps->shown_name, "%s", info->name);
        changed = 1;
    }
    return changed;
}

/* ------------------------------------------------------------ layout */

typedef struct rect {
    int y, x, h, w;
} rect;

/* Place the panels in rows [top, top + h) x [0, w): loss on top, the four
 * small panels below (all four when wide, else the current pair), or the
 * focused one alone. Unshown panels get h = 0. */
static void layout(plots_screen *ps, int top, int h, int w, rect out[N_PANELS])
{
    memset(out, 0, sizeof(rect) * N_PANELS);
    int wide = w >= WIDE_COLUMNS;
    if (ps->focus != P_LOSS)
        ps->page = (ps->focus - P_VLOSS) / 2;
    int solo = ps->solo || h < 2 * SOLO_MIN_H - 2;
    if (solo) {
        out[ps->focus] = (rect){top, 0, h, w};
        return;
    }
    int loss_h = h / 2;
    out[P_LOSS] = (rect){top, 0, loss_h, w};
    int small_top = top + loss_h, small_h = h - loss_h;
    if (wide) {
        for (int i = 0; i < 4; i++) {
            int x0 = w * i / 4, x1 = w * (i + 1) / 4;
            out[P_VLOSS + i] = (rect){small_top, x0, small_h, x1 - x0 - (i < 3)};
        }
    } else {
        int first = P_VLOSS + 2 * ps->page;
        int half = w / 2;
        out[first] = (rect){small_top, 0, small_h, half - 1};
        out[first + 1] = (rect){small_top, half, small_h, w - half};
    }
}

/* ------------------------------------------------------------ drawing */

static void format_x(fw_series_x axis, double x, char *buf, size_t cap)
{
    if (axis == FW_SERIES_X_STEP)
        snprintf(buf, cap, "step %.0f", x);
    else if (axis == FW_SERIES_X_EPOCH)
        snprintf(buf, cap, "ep %.2f", x);
    else {
        char d[32];
        fw_format_duration(x, d, sizeof d);
        snprintf(buf, cap, "t %s", d);
    }
}

/* The cursor readout of a panel: "step 120: 0.532 ~0.601". */
static void readout(plots_screen *ps, panel *pn, int index, char *buf, size_t cap)
{
    buf[0] = '\0';
    fw_plot_readout r[FW_PLOT_MAX_SERIES];
    int n = 0;
    if (!ps->cursor_on || !isfinite(ps->cursor_x) ||
        fw_plot_cursor(&pn->plot, ps->cursor_x, r, &n, NULL) < 0 || n == 0)
        return;
    char x[48];
    format_x(ps->xaxis, r[0].x, x, sizeof x);
    if (index == P_LOSS && pn->plot.smoothing > 0)
        snprintf(buf, cap, "%s: %.4g ~%.4g", x, r[0].y, r[0].y_smooth);
    else
        snprintf(buf, cap, "%s: %.4g", x, r[0].y);
}

static void draw_panel(plots_screen *ps, fw_app *app, int index, rect r)
{
    panel *pn = &ps->panels[index];
    pn->shown = r.h > 0;
    pn->y = r.y, pn->x = r.x, pn->h = r.h, pn->w = r.w;
    if (r.h <= 0 || r.w <= 0)
        return;
    /* Title rule: "── ▸ train loss · step 120: 0.53 ~0.60 ───". */
    int focused = index == ps->focus;
    fw_draw_rule(app, r.y, r.x, r.w, NULL);
    char title[160], ro[96];
    readout(ps, pn, index, ro, sizeof ro);
    snprintf(title, sizeof title, " %s%s%s%s ", focused ? (ps->utf8 ? "▸ " : "> ") : "",
             PANEL_DEFS[index].title, ro[0] ? "  " : "", ro);
    int used = fw_draw_text(app, r.y, r.x + 1, r.w - 2, focused ? FW_ROLE_ACCENT : FW_ROLE_TITLE,
                            focused ? A_BOLD : 0, title);
    if (ro[0] && used > 0) { /* the readout part in the cursor's role */
        int off = fw_text_columns(title) - fw_text_columns(ro) - 1;
        if (off < used)
            fw_draw_text(app, r.y, r.x + 1 + off, used - off, FW_ROLE_CURSOR, 0, ro);
    }
    if (pn->plot.log_y && used + 8 < r.w)
        fw_draw_text(app, r.y, r.x + r.w - 7, 6, FW_ROLE_DIM, 0, " log y");

    int gh = r.h - 1, gy = r.y + 1;
    if (pn->n_points == 0) {
        char msg[96];
        snprintf(msg, sizeof msg, "no %s points yet", PANEL_DEFS[index].metric);
        if (gh > 0)
            fw_draw_text(app, gy + gh / 2, r.x + 2, r.w - 4, FW_ROLE_DIM, 0, msg);
        return;
    }
    pn->plot.cursor_x = ps->cursor_on ? ps->cursor_x : NAN;
    if (pn->plot.log_x && !(pn->plot.cursor_x > 0))
        pn->plot.cursor_x = NAN;
    fw_error err;
    if (fw_plot_render(&pn->plot, r.w, gh, &pn->grid, &err) < 0) {
        pn->has_grid = 0;
        if (gh > 0)
            fw_draw_text(app, gy, r.x + 1, r.w - 2, FW_ROLE_DIM, 0, "(too small)");
        return;
    }
    pn->has_grid = 1;
    fw_draw_plot(app, &pn->grid, gy, r.x);
}

static const char *mode_word(view_mode m)
{
    return m == VIEW_AUTO ? "fit" : m == VIEW_X_USER ? "zoomed x" : "zoomed";
}

static void draw_status(plots_screen *ps, fw_app *app, int y, int w)
{
    const fw_run_info *info = fw_app_selected_info(app);
    char line[512];
    int off = 0;
    if (info)
        off += snprintf(line + off, sizeof line - (size_t)off, "%s %s  %s", info->id, info->name,
                        fw_run_status_name(info->status));
    const char *sep = ps->utf8 ? "│" : "|";
    off += snprintf(line + off, sizeof line - (size_t)off, "  %s x %s%s%s %s EMA %.2f%s %s %s",
                    sep, fw_series_x_name(ps->xaxis), ps->xaxis == FW_SERIES_X_WALL ? " (s)" : "",
                    ps->log_x ? " (log)" : "", sep,
                    ps->smoothing, ps->envelope ? " +envelope" : "", sep,
                    mode_word(ps->panels[ps->focus].mode));
    int used = fw_draw_text(app, y, 0, w, FW_ROLE_DIM, 0, line);
    if (ps->error[0] && used + 2 < w)
        fw_draw_text(app, y, used + 2, w - used - 2, FW_ROLE_BAD, 0, ps->error);
}

static void plots_draw(void *self, fw_app *app, int top, int h, int w)
{
    plots_screen *ps = self;
    fw_draw_clear(app, top, 0, h, w);
    if (!ps) {
        fw_draw_text(app, top + 1, 2, w - 4, FW_ROLE_BAD, 0, "Plots: out of memory");
        return;
    }
    if (ps->utf8 != fw_app_utf8(app)) {
        ps->utf8 = fw_app_utf8(app);
        feed(ps);
    }
    for (int i = 0; i < N_PANELS; i++)
        ps->panels[i].shown = 0;
    if (!fw_app_selected(app)[0]) {
        fw_draw_text(app, top + 1, 2, w - 4, FW_ROLE_DIM, 0,
                     "No runs yet: start one on the Runs screen (1), or with `flukewatch train`.");
        return;
    }
    rect r[N_PANELS];
    layout(ps, top, h - 1, w, r);
    for (int i = 0; i < N_PANELS; i++)
        draw_panel(ps, app, i, r[i]);
    draw_status(ps, app, top + h - 1, w);
}

/* ------------------------------------------------------------ keys */

/* The column of the focused panel's plot area holding x (may be outside). */
static int column_of(const panel *pn, double x)
{
    const fw_plot *p = &pn->plot;
    double a = to_axis(p->x0, p->log_x), b = to_axis(p->x1, p->log_x);
    if (!usable(x, p->log_x) || !(b > a))
        return 0;
    return (int)floor((to_axis(x, p->log_x) - a) / (b - a) * pn->grid.area_w);
}

/* The newest point's x of the focused panel (NaN when it has none). */
static double last_x(const plots_screen *ps)
{
    const fw_plot *p = &ps->panels[ps->focus].plot;
    if (p->n_series == 0 || p->series[0].n == 0)
        return NAN;
    return p->series[0].x[p->series[0].n - 1];
}

static void move_cursor(plots_screen *ps, int columns)
{
    panel *pn = &ps->panels[ps->focus];
    if (!pn->has_grid || pn->grid.area_w <= 0)
        return;
    int col = column_of(pn, ps->cursor_x) + columns;
    if (col < 0)
        col = 0;
    if (col >= pn->grid.area_w)
        col = pn->grid.area_w - 1;
    ps->cursor_x = fw_plot_x_at_column(&pn->plot, &pn->grid, col);
}

static void toggle_cursor(plots_screen *ps)
{
    ps->cursor_on = !ps->cursor_on;
    if (!ps->cursor_on)
        return;
    const fw_plot *p = &ps->panels[ps->focus].plot;
    double x = last_x(ps);
    if (!(x >= p->x0 && x <= p->x1))
        x = from_axis((to_axis(p->x0, p->log_x) + to_axis(p->x1, p->log_x)) / 2, p->log_x);
    ps->cursor_x = x;
}

static void zoom_x(plots_screen *ps, double factor)
{
    panel *pn = &ps->panels[ps->focus];
    double c = ps->cursor_on && usable(ps->cursor_x, pn->plot.log_x) ? ps->cursor_x : NAN;
    if (fw_plot_zoom(&pn->plot, factor, 1.0, c, NAN, NULL) < 0)
        return;
    if (pn->mode == VIEW_AUTO)
        pn->mode = VIEW_X_USER;
    if (pn->mode == VIEW_X_USER)
        fit_y_to_view(&pn->plot);
}

static void pan(plots_screen *ps, double fx, double fy)
{
    panel *pn = &ps->panels[ps->focus];
    if (fw_plot_pan(&pn->plot, fx, fy, NULL) < 0)
        return;
    if (fy != 0)
        pn->mode = VIEW_USER;
    else if (pn->mode == VIEW_AUTO)
        pn->mode = VIEW_X_USER;
    if (pn->mode == VIEW_X_USER)
        fit_y_to_view(&pn->plot);
}

/* A click in a panel's plot area focuses it and puts the cursor there. */
static int click(plots_screen *ps, fw_app *app)
{
    const MEVENT *m = fw_app_mouse(app);
    if (!m || !(m->bstate & (BUTTON1_CLICKED | BUTTON1_PRESSED)))
        return 0;
    for (int i = 0; i < N_PANELS; i++) {
        panel *pn = &ps->panels[i];
        if (!pn->shown || m->y < pn->y || m->y >= pn->y + pn->h || m->x < pn->x ||
            m->x >= pn->x + pn->w)
            continue;
        ps->focus = i;
        int col = m->x - pn->x - pn->grid.area_x;
        if (pn->has_grid && col >= 0 && col < pn->grid.area_w) {
            ps->cursor_on = 1;
            ps->cursor_x = fw_plot_x_at_column(&pn->plot, &pn->grid, col);
        }
        return 1;
    }
    return 0;
}

static int plots_key_used(plots_screen *ps, fw_app *app, int ch);

static int plots_key(void *self, fw_app *app, int ch)
{
    plots_screen *ps = self;
    if (!ps)
        return 0;
    int used = plots_key_used(ps, app, ch);
    if (used && ps->need_feed)
        feed(ps);
    return used;
}

/* Act on a key; 1 when it is one of the screen's. */
static int plots_key_used(plots_screen *ps, fw_app *app, int ch)
{
    panel *pn = &ps->panels[ps->focus];
    switch (ch) {
    case 'w':
        ps->focus = (ps->focus + 1) % N_PANELS;
        return 1;
    case 'W':
        ps->focus = (ps->focus + N_PANELS - 1) % N_PANELS;
        return 1;
    case 'o':
        ps->solo = !ps->solo;
        return 1;
    case 'x':
        ps->xaxis = (fw_series_x)((ps->xaxis + 1) % FW_SERIES_X_COUNT);
        reset_views(ps);
        if (ps->cursor_on) {
            feed(ps);
            ps->cursor_on = 0;
            toggle_cursor(ps);
        }
        return 1;
    case 'l':
        pn->log_y = !pn->log_y;
        if (pn->mode == VIEW_USER)
            pn->mode = VIEW_X_USER;
        ps->need_feed = 1;
        feed(ps);
        return 1;
    case 'L':
        ps->log_x = !ps->log_x;
        reset_views(ps);
        feed(ps);
        if (ps->cursor_on && !usable(ps->cursor_x, ps->log_x)) {
            ps->cursor_on = 0;
            toggle_cursor(ps);
        }
        return 1;
    case 'e':
        ps->envelope = !ps->envelope;
        feed(ps);
        return 1;
    case '[':
    case ']': {
        double s = ps->smoothing + (ch == ']' ? SMOOTH_STEP : -SMOOTH_STEP);
        s = round(s * 100.0) / 100.0;
        ps->smoothing = s < 0 ? 0 : s > SMOOTH_MAX ? SMOOTH_MAX : s;
        feed(ps);
        return 1;
    }
    case 'c':
        toggle_cursor(ps);
        return 1;
    case '+':
    case '=':
    case 'z':
        zoom_x(ps, ZOOM_STEP);
        return 1;
    case '-':
    case 'Z':
        zoom_x(ps, 1.0 / ZOOM_STEP);
        return 1;
    case KEY_LEFT:
    case KEY_RIGHT:
        if (ps->cursor_on)
            move_cursor(ps, ch == KEY_LEFT ? -1 : 1);
        else
            pan(ps, ch == KEY_LEFT ? -PAN_STEP : PAN_STEP, 0);
        return 1;
    case KEY_SLEFT:
    case '<':
        pan(ps, -PAN_STEP, 0);
        return 1;
    case KEY_SRIGHT:
    case '>':
        pan(ps, PAN_STEP, 0);
        return 1;
    case KEY_UP:
    case 'K':
        pan(ps, 0, PAN_STEP);
        return 1;
    case KEY_DOWN:
    case 'J':
        pan(ps, 0, -PAN_STEP);
        return 1;
    case '0':
    case 'f':
        reset_views(ps);
        feed(ps);
        return 1;
    case KEY_MOUSE:
        return click(ps, app);
    default:
        return 0;
    }
}

static void plots_invalidate(void *self, fw_app *app)
{
    (void)app;
    plots_screen *ps = self;
    if (ps)
        ps->need_feed = 1;
}

const fw_screen_ops fw_screen_plots = {
    .title = "Plots",
    .hints = "w/W panel  x x-axis  [ ] smooth, e envelope  c cursor  +/- zoom, 0 fit  "
             "arrows < > J K pan  l/L log y/x  o one panel",
    .create = plots_create,
    .destroy = plots_destroy,
    .tick = plots_tick,
    .draw = plots_draw,
    .key = plots_key,
    .invalidate = plots_invalidate,
};
