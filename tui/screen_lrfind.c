/* screen_lrfind.c — the LR finder screen: the selected run's learning-rate
 * range test as loss against lr (log x), raw and smoothed; live from the
 * lr_find.* metric points while the test runs, the stored curve once done,
 * with fastai's valley / steep / minimum÷10 suggestions marked on the lr
 * axis. `f` runs the finder on the selected run's config (or the defaults);
 * v/s/m or arrows pick a suggestion; Enter trains a run with it. */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "lr_finder.h"
#include "run_config.h"

enum { PICK_VALLEY = 0, PICK_STEEP, PICK_MINIMUM, PICKS };
static const char *const pick_names[PICKS] = {"valley", "steep", "min/10"};
static const char pick_keys[PICKS] = {'v', 's', 'm'};
static const char *const pick_marks[PICKS] = {"V", "S", "M"};

/* The live metrics, in this order. */
enum { LIVE_LR = 0, LIVE_LOSS, LIVE_SMOOTHED, LIVE_SERIES };
static const char *const live_names[LIVE_SERIES] = {"lr_find.lr", "lr_find.loss",
                                                    "lr_find.smoothed"};

typedef struct live_series {
    double *v;      /* (cap) value at step i */
    int n, cap;     /* steps 0..n-1 received */
    int64_t after;  /* newest rowid read */
} live_series;

typedef enum pending_kind { PENDING_LR_FIND = 0, PENDING_TRAIN } pending_kind;

typedef struct lr_screen {
    char run_id[FW_RUN_ID_CAP];
    int have_curve;          /* the stored curve is loaded: the test is over */
    fw_lr_curve curve;
    live_series live[LIVE_SERIES];
    int checked_final;       /* an ended run without a curve was looked at once */
    int pick;                /* PICK_* */
    char progress[96];       /* this process's trainer: phase and progress */
    int in_lr_find;          /* this process's trainer is in the LR finder (or before it) */
    int load_failed;         /* a store error was said once */

    fw_plot plot;
    fw_plot_grid grid;
    int plot_ready, dirty, utf8;

    /* a run about to start (kept here: prompts and confirms keep ctx by pointer) */
    pending_kind pending;
    fw_run_config pending_cfg;
    char pending_parent[FW_RUN_ID_CAP];
    double pending_lr;
    char question[160];
} lr_screen;

static void live_reset(lr_screen *s)
{
    for (int m = 0; m < LIVE_SERIES; m++) {
        free(s->live[m].v);
        memset(&s->live[m], 0, sizeof s->live[m]);
    }
}

static void reset(lr_screen *s, const char *run_id)
{
    if (s->have_curve)
        fw_lr_curve_free(&s->curve);
    s->have_curve = 0;
    live_reset(s);
    s->checked_final = 0;
    s->pick = PICK_VALLEY;
    s->progress[0] = '\0';
    s->load_failed = 0;
    s->dirty = 1;
    snprintf(s->run_id, sizeof s->run_id, "%s", run_id);
}

static void *lr_create(fw_app *app)
{
    lr_screen *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->utf8 = fw_app_utf8(app);
    fw_plot_init(&s->plot, s->utf8, 1, 0);
    reset(s, "");
    return s;
}

static void lr_destroy(void *self)
{
    lr_screen *s = self;
    if (!s)
        return;
    reset(s, "");
    fw_plot_free(&s->plot);
    fw_plot_grid_free(&s->grid);
    free(s);
}

/* ------------------------------------------------------------ data */

/* Put one metric point in its series (a step below the count overwrites:
 * a restarted test starts its curve again). */
static int live_put(live_series *l, int64_t step, double value)
{
    if (step < 0 || step > 1000000)
        return 0;
    if (step >= l->cap) {
        int cap = l->cap ? l->cap : 128;
        while (cap <= step)
            cap *= 2;
        double *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v)
            return FW_ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[step] = value;
    if (step < l->n)
        l->n = (int)step + 1;
    else if (step == l->n)
        l->n++;
    return 0; /* a gap (step > n) cannot happen: points arrive in step order */
}

/* Points of the live curve with all three values. */
static int live_count(const lr_screen *s)
{
    int n = s->live[0].n;
    for (int m = 1; m < LIVE_SERIES; m++)
        if (s->live[m].n < n)
            n = s->live[m].n;
    return n;
}

/* Read new lr_find.* points; 1 when some arrived. */
static int read_live(lr_screen *s, fw_store *store, fw_error *err)
{
    int grew = 0;
    for (int m = 0; m < LIVE_SERIES; m++) {
        fw_metric_query q = {.run_id = s->run_id, .name = live_names[m],
                             .after_rowid = s->live[m].after};
        fw_metric_point *p = NULL;
        int n = 0;
        FW_TRY(fw_store_metrics_read(store, &q, &p, &n, err));
        for (int i = 0; i < n; i++) {
            if (live_put(&s->live[m], p[i].step, p[i].value) < 0) {
                free(p);
                return fw_fail(err, FW_ENOMEM, "LR finder: out of memory");
            }
            s->live[m].after = p[i].rowid;
        }
        free(p);
        grew |= n > 0;
    }
    return grew;
}

static int run_is_live(const fw_run_info *info)
{
    return info && (info->status == FW_RUN_QUEUED || info->status == FW_RUN_RUNNING ||
                    info->status == FW_RUN_PAUSED);
}

static int lr_tick(void *self, fw_app *app)
{
    lr_screen *s = self;
    const char *sel = fw_app_selected(app);
    int changed = 0;
    if (strcmp(sel, s->run_id)) {
        reset(s, sel);
        changed = 1;
    }
    if (!sel[0])
        return changed;

    char progress[sizeof s->progress] = "";
    fw_trainer_state st;
    int own = fw_app_trainer_state(app, sel, &st);
    int in_lr_find = own && st.phase == FW_PHASE_LR_FIND;
    if (in_lr_find != s->in_lr_find) {
        s->in_lr_find = in_lr_find;
        changed = 1;
    }
    if (own && st.phase != FW_PHASE_DONE) {
        if (st.total > 0)
            snprintf(progress, sizeof progress, "%s %ld/%ld", fw_trainer_phase_name(st.phase),
                     st.done, st.total);
        else
            snprintf(progress, sizeof progress, "%s", fw_trainer_phase_name(st.phase));
    }
    if (strcmp(progress, s->progress)) {
        snprintf(s->progress, sizeof s->progress, "%s", progress);
        changed = 1;
    }
    if (s->have_curve)
        return changed;
    const fw_run_info *info = fw_app_selected_info(app);
    int live = run_is_live(info);
    if (!live && s->checked_final)
        return changed;

    fw_store *store = fw_app_store(app);
    fw_error err;
    fw_error_clear(&err);
    int rc = fw_store_lr_curve_latest(store, sel, &s->curve, &err);
    if (rc == FW_OK) {
        s->have_curve = 1;
        s->pick = PICK_VALLEY;
        s->dirty = 1;
        live_reset(s);
        return 1;
    }
    if (rc == FW_ENOTFOUND)
        rc = read_live(s, store, &err);
    if (rc < 0) {
        if (!s->load_failed)
            fw_app_message(app, FW_ROLE_BAD, "LR finder: %s", err.msg);
        s->load_failed = 1;
        return changed;
    }
    if (rc > 0) {
        s->dirty = 1;
        changed = 1;
    }
    if (!live)
        s->checked_final = 1;
    return changed;
}

/* ------------------------------------------------------------ drawing */

/* The curve shown: the stored one, else the live points. */
static int curve_arrays(const lr_screen *s, const double **lrs, const double **losses,
                        const double **smoothed)
{
    if (s->have_curve) {
        *lrs = s->curve.lrs, *losses = s->curve.losses, *smoothed = s->curve.smoothed;
        return s->curve.n;
    }
    *lrs = s->live[LIVE_LR].v, *losses = s->live[LIVE_LOSS].v;
    *smoothed = s->live[LIVE_SMOOTHED].v;
    return live_count(s);
}

static double pick_lr(const lr_screen *s, int pick)
{
    return pick == PICK_VALLEY ? s->curve.valley
           : pick == PICK_STEEP ? s->curve.steep
                                : s->curve.minimum;
}

static int pick_index(const lr_screen *s, int pick)
{
    return pick == PICK_VALLEY ? s->curve.valley_idx
           : pick == PICK_STEEP ? s->curve.steep_idx
                                : s->curve.minimum_idx;
}

static int suggestions_valid(const lr_screen *s)
{
    return s->have_curve && s->curve.valid;
}

/* Series and view for n points: raw losses under the smoothed curve; y up
 * to a little over the smoothed curve's top, so the raw spike where the
 * test diverged does not flatten the part that matters. */
static int build_plot(lr_screen *s, int n, const double *lrs, const double *losses,
                      const double *smoothed, fw_error *err)
{
    fw_plot_clear(&s->plot);
    fw_plot_series raw = {.label = "loss", .x = lrs, .y = losses, .n = (size_t)n, .color = 1,
                          .draw = FW_PLOT_DRAW_RAW};
    fw_plot_series sm = {.label = "smoothed", .x = lrs, .y = smoothed, .n = (size_t)n,
                         .color = 0, .draw = FW_PLOT_DRAW_RAW};
    FW_TRY(fw_plot_add_series(&s->plot, &raw, err));
    FW_TRY(fw_plot_add_series(&s->plot, &sm, err));
    FW_TRY(fw_plot_fit(&s->plot, err));
    /* x: while the test runs, the whole sweep, so the curve grows across
     * the plot; once done, the curve's range widened to every suggestion
     * (min/10 may lie left of the first point) */
    double x0 = s->plot.x0, x1 = s->plot.x1;
    if (!s->have_curve) {
        fw_lr_finder_config fc;
        fw_lr_finder_config_default(&fc); /* what the trainer sweeps */
        x0 = fmin(x0, fc.start_lr);
        x1 = fmax(x1, fc.end_lr);
    } else if (s->curve.valid) {
        for (int k = 0; k < PICKS; k++) {
            double v = pick_lr(s, k);
            if (v > 0 && isfinite(v)) {
                x0 = fmin(x0, v / 1.2);
                x1 = fmax(x1, v * 1.2);
            }
        }
    }
    if (x0 > 0 && x1 > x0)
        FW_TRY(fw_plot_set_view(&s->plot, x0, x1, s->plot.y0, s->plot.y1, err));
    double lo = INFINITY, hi_s = -INFINITY, hi_raw = -INFINITY;
    for (int i = 0; i < n; i++) {
        if (isfinite(losses[i])) {
            lo = fmin(lo, losses[i]);
            hi_raw = fmax(hi_raw, losses[i]);
        }
        if (isfinite(smoothed[i])) {
            lo = fmin(lo, smoothed[i]);
            hi_s = fmax(hi_s, smoothed[i]);
        }
    }
    if (isfinite(lo) && isfinite(hi_s) && hi_s > lo) {
        double span = hi_s - lo;
        double hi = fmin(hi_raw, hi_s + 0.25 * span);
        if (hi < hi_s)
            hi = hi_s;
        if (hi > lo && s->plot.x1 > s->plot.x0)
            FW_TRY(fw_plot_set_view(&s->plot, s->plot.x0, s->plot.x1, lo - 0.05 * (hi - lo),
                                    hi + 0.05 * (hi - lo), err));
    }
    return FW_OK;
}

/* The raw losses (series colour 1) are drawn as the plot draws raw points
 * under a smoothed line: dimmed, so the smoothed curve stands out. */
static void dim_raw_losses(fw_plot_grid *g)
{
    for (int i = 0; i < g->w * g->h; i++)
        if (g->cells[i].role == FW_PLOT_ROLE_LINE && g->cells[i].color == 1)
            g->cells[i].role = FW_PLOT_ROLE_RAW;
}

/* The plot-area column of lr (log x), or -1 outside the view. */
static int column_of(const fw_plot *p, const fw_plot_grid *g, double lr)
{
    if (!(lr > 0) || !(p->x0 > 0) || !(p->x1 > p->x0))
        return -1;
    double f = (log10(lr) - log10(p->x0)) / (log10(p->x1) - log10(p->x0));
    if (f < 0 || f > 1)
        return -1;
    int c = (int)(f * g->area_w);
    return c >= g->area_w ? g->area_w - 1 : c;
}

/* Mark each suggestion on the x axis row ("V", "S", "M"). */
static void mark_suggestions(lr_screen *s)
{
    fw_plot_grid *g = &s->grid;
    int row = g->area_y + g->area_h; /* the x axis */
    if (row >= g->h)
        return;
    for (int k = 0; k < PICKS; k++) {
        if (k == s->pick)
            continue; /* drawn last, on top */
        int c = column_of(&s->plot, g, pick_lr(s, k));
        if (c >= 0) {
            fw_plot_cell *cell = &g->cells[row * g->w + g->area_x + c];
            snprintf(cell->glyph, sizeof cell->glyph, "%s", pick_marks[k]);
            cell->role = FW_PLOT_ROLE_TICK_LABEL;
            cell->color = -1;
        }
    }
    int c = column_of(&s->plot, g, pick_lr(s, s->pick));
    if (c >= 0) {
        fw_plot_cell *cell = &g->cells[row * g->w + g->area_x + c];
        snprintf(cell->glyph, sizeof cell->glyph, "%s", pick_marks[s->pick]);
        cell->role = FW_PLOT_ROLE_CURSOR;
        cell->color = -1;
    }
}

static void draw_header(lr_screen *s, fw_app *app, const fw_run_info *info, int n, int y,
                        int w)
{
    int x = fw_draw_text(app, y, 0, w, FW_ROLE_TITLE, A_BOLD, "LR finder  ");
    x += fw_draw_textf(app, y, x, w - x, FW_ROLE_TEXT, A_BOLD, "%s %s", info->id, info->name);
    const char *status = fw_run_status_name(info->status);
    x += fw_draw_text(app, y, x, w - x, FW_ROLE_DIM, 0, "  ");
    x += fw_draw_text(app, y, x, w - x,
                      (fw_theme_role)(FW_ROLE_STATUS_QUEUED + (int)info->status), 0, status);
    if (s->progress[0])
        x += fw_draw_textf(app, y, x, w - x, FW_ROLE_TEXT, 0, "  %s", s->progress);
    if (s->have_curve)
        fw_draw_textf(app, y, x, w - x, FW_ROLE_DIM, 0, "  curve of %d points%s", n,
                      s->curve.diverged ? ", stopped at divergence" : "");
    else if (n > 0)
        fw_draw_textf(app, y, x, w - x, FW_ROLE_DIM, 0, "  live: %d points", n);
}

/* "[v] valley 1.59e-03  [s] steep ..." with the picked one selected. */
static void draw_suggestions(lr_screen *s, fw_app *app, int n, int y, int w)
{
    if (!s->have_curve) {
        fw_draw_textf(app, y, 0, w, FW_ROLE_DIM, 0,
                      "suggestions come when the test ends (%d point%s so far)", n,
                      n == 1 ? "" : "s");
        return;
    }
    if (!s->curve.valid) {
        fw_draw_textf(app, y, 0, w, FW_ROLE_WARNING, 0,
                      "no suggestion: %d points are too few once the first tenth and the "
                      "last 5 are dropped", n);
        return;
    }
    int x = 0;
    for (int k = 0; k < PICKS && x < w; k++) {
        char item[64];
        snprintf(item, sizeof item, "[%c] %s %.3g", pick_keys[k], pick_names[k], pick_lr(s, k));
        fw_theme_role role = k == s->pick ? FW_ROLE_SELECTION : FW_ROLE_TEXT;
        x += fw_draw_text(app, y, x, w - x, role, k == s->pick ? A_BOLD : 0, item);
        x += fw_draw_text(app, y, x, w - x, FW_ROLE_TEXT, 0, "  ");
    }
}

static void draw_readout(lr_screen *s, fw_app *app, int n, int y, int w)
{
    if (!s->have_curve && n > 0) {
        const double *lrs, *losses, *smoothed;
        curve_arrays(s, &lrs, &losses, &smoothed);
        fw_draw_textf(app, y, 0, w, FW_ROLE_CURSOR, 0,
                      "latest: lr %.3g, loss %.4g, smoothed %.4g (point %d)", lrs[n - 1],
                      losses[n - 1], smoothed[n - 1], n);
        return;
    }
    if (!suggestions_valid(s)) {
        fw_draw_text(app, y, 0, w, FW_ROLE_HINT, 0, "f runs the LR finder on this run's config");
        return;
    }
    int i = pick_index(s, s->pick);
    int x = 0;
    if (i >= 0 && i < n) {
        if (s->pick == PICK_MINIMUM)
            x += fw_draw_textf(app, y, 0, w, FW_ROLE_CURSOR, 0,
                               "min/10: lr %.3g = %.3g (lowest smoothed loss %.4g) / 10",
                               pick_lr(s, s->pick), s->curve.lrs[i], s->curve.smoothed[i]);
        else
            x += fw_draw_textf(app, y, 0, w, FW_ROLE_CURSOR, 0,
                               "%s: lr %.3g, smoothed loss %.4g (point %d of %d)",
                               pick_names[s->pick], pick_lr(s, s->pick), s->curve.smoothed[i],
                               i + 1, n);
    }
    fw_draw_text(app, y, x, w - x, FW_ROLE_HINT, 0, "  Enter: train with it");
}

static void lr_draw(void *self, fw_app *app, int top, int h, int w)
{
    lr_screen *s = self;
    fw_draw_clear(app, top, 0, h, w);
    const fw_run_info *info = fw_app_selected_info(app);
    if (!info) {
        fw_draw_text(app, top, 0, w, FW_ROLE_DIM, 0,
                     "no run selected: f runs the LR finder on the default config");
        return;
    }
    const double *lrs, *losses, *smoothed;
    int n = curve_arrays(s, &lrs, &losses, &smoothed);
    draw_header(s, app, info, n, top, w);
    if (n < 2) {
        const char *why = run_is_live(info) && (n > 0 || s->in_lr_find)
                              ? "waiting for the first points of the curve ..."
                              : "no LR-finder curve for this run: f runs the LR finder on "
                                "its config";
        if (h > 2)
            fw_draw_text(app, top + 2, 2, w - 2, FW_ROLE_DIM, 0, why);
        return;
    }
    int plot_h = h - 3;
    if (plot_h >= FW_PLOT_MIN_H && w >= FW_PLOT_MIN_W) {
        fw_error err;
        fw_error_clear(&err);
        int rc = FW_OK;
        if (s->utf8 != fw_app_utf8(app)) {
            s->utf8 = fw_app_utf8(app);
            s->plot.utf8 = s->utf8;
        }
        if (s->dirty) {
            rc = build_plot(s, n, lrs, losses, smoothed, &err);
            s->dirty = rc < 0;
        }
        s->plot.cursor_x = suggestions_valid(s) ? pick_lr(s, s->pick) : NAN;
        if (rc == FW_OK)
            rc = fw_plot_render(&s->plot, w, plot_h, &s->grid, &err);
        if (rc == FW_OK) {
            dim_raw_losses(&s->grid);
            if (suggestions_valid(s))
                mark_suggestions(s);
            fw_draw_plot(app, &s->grid, top + 1, 0);
        } else {
            fw_draw_textf(app, top + 2, 2, w - 2, FW_ROLE_BAD, 0, "plot: %s", err.msg);
        }
    }
    if (h >= 3) {
        draw_suggestions(s, app, n, top + h - 2, w);
        draw_readout(s, app, n, top + h - 1, w);
    }
}

/* ------------------------------------------------------------ actions */

/* The config of run_id (its stored text over the defaults), or the defaults
 * when run_id is NULL/"" or has no config. */
static int config_of(fw_app *app, const char *run_id, fw_run_config *cfg, fw_error *err)
{
    fw_run_config_default(cfg);
    if (!run_id || !run_id[0])
        return FW_OK;
    int n = 0;
    const fw_run_info *runs = fw_app_runs(app, &n);
    for (int i = 0; i < n; i++)
        if (!strcmp(runs[i].id, run_id) && runs[i].config && runs[i].config[0])
            return fw_run_config_parse(cfg, runs[i].config, run_id, err);
    return FW_OK;
}

static void launch(lr_screen *s, fw_app *app)
{
    char id[FW_RUN_ID_CAP] = "";
    fw_error err;
    fw_error_clear(&err);
    fw_run_config *cfg = &s->pending_cfg;
    const char *parent = s->pending_parent[0] ? s->pending_parent : NULL;
    if (s->pending == PENDING_LR_FIND) {
        if (fw_app_start_run(app, cfg, "lr-find", parent, 1, id, &err) < 0) {
            fw_app_message(app, FW_ROLE_BAD, "LR finder: %s", err.msg);
            return;
        }
        fw_app_select(app, id);
        fw_app_message(app, FW_ROLE_GOOD, "%s: LR finder started on %s", id, cfg->dataset);
        return;
    }
    cfg->lr = s->pending_lr;
    cfg->lr_find = 0;
    if (fw_app_start_run(app, cfg, "train", parent, 0, id, &err) < 0) {
        fw_app_message(app, FW_ROLE_BAD, "train: %s", err.msg);
        return;
    }
    fw_app_message(app, FW_ROLE_GOOD, "%s started: training with lr %.3g (from %s)", id,
                   s->pending_lr, parent ? parent : "the LR finder");
}

/* Launch once the dataset is known (ask for it when the config has none). */
static void on_dataset(fw_app *app, void *ctx, const char *text)
{
    lr_screen *s = ctx;
    while (*text == ' ')
        text++;
    char dir[FW_RUN_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", text);
    for (size_t n = strlen(dir); n > 0 && dir[n - 1] == ' '; n--)
        dir[n - 1] = '\0';
    if (!dir[0]) {
        fw_app_message(app, FW_ROLE_WARNING, "no dataset given: nothing started");
        return;
    }
    char csv[FW_RUN_PATH_MAX + 16];
    snprintf(csv, sizeof csv, "%s/train.csv", dir);
    if (access(csv, R_OK) != 0) {
        fw_app_message(app, FW_ROLE_BAD, "%s: no readable train.csv there", dir);
        return;
    }
    snprintf(s->pending_cfg.dataset, sizeof s->pending_cfg.dataset, "%s", dir);
    launch(s, app);
}

static void with_dataset(lr_screen *s, fw_app *app)
{
    if (s->pending_cfg.dataset[0])
        launch(s, app);
    else
        fw_app_prompt(app, "dataset directory", "", on_dataset, s);
}

static void start_lr_find(lr_screen *s, fw_app *app)
{
    const char *sel = fw_app_selected(app);
    fw_error err;
    fw_error_clear(&err);
    if (config_of(app, sel, &s->pending_cfg, &err) < 0) {
        fw_app_message(app, FW_ROLE_BAD, "config of %s: %s", sel, err.msg);
        return;
    }
    s->pending = PENDING_LR_FIND;
    snprintf(s->pending_parent, sizeof s->pending_parent, "%s", sel);
    with_dataset(s, app);
}

static void on_train_yes(fw_app *app, void *ctx)
{
    lr_screen *s = ctx;
    with_dataset(s, app);
}

static void start_training(lr_screen *s, fw_app *app)
{
    if (!suggestions_valid(s)) {
        fw_app_message(app, FW_ROLE_WARNING,
                       s->have_curve ? "this curve has no suggestion to train with"
                                     : "no suggestion yet: the LR finder has not finished");
        return;
    }
    fw_error err;
    fw_error_clear(&err);
    if (config_of(app, s->run_id, &s->pending_cfg, &err) < 0) {
        fw_app_message(app, FW_ROLE_BAD, "config of %s: %s", s->run_id, err.msg);
        return;
    }
    s->pending = PENDING_TRAIN;
    s->pending_lr = pick_lr(s, s->pick);
    snprintf(s->pending_parent, sizeof s->pending_parent, "%s", s->run_id);
    snprintf(s->question, sizeof s->question, "train a new run with lr %.3g (%s of %s)?",
             s->pending_lr, pick_names[s->pick], s->run_id);
    fw_app_confirm(app, s->question, on_train_yes, s);
}

static int lr_key(void *self, fw_app *app, int ch)
{
    lr_screen *s = self;
    switch (ch) {
    case 'f':
        start_lr_find(s, app);
        return 1;
    case 'v': case 's': case 'm':
    case 'h': case KEY_LEFT: case 'l': case KEY_RIGHT:
        if (!suggestions_valid(s)) {
            fw_app_message(app, FW_ROLE_TEXT, "no suggestions to pick from yet");
            return 1;
        }
        if (ch == 'h' || ch == KEY_LEFT)
            s->pick = (s->pick + PICKS - 1) % PICKS;
        else if (ch == 'l' || ch == KEY_RIGHT)
            s->pick = (s->pick + 1) % PICKS;
        else
            s->pick = ch == 'v' ? PICK_VALLEY : ch == 's' ? PICK_STEEP : PICK_MINIMUM;
        return 1;
    case '\n': case '\r': case KEY_ENTER:
        start_training(s, app);
        return 1;
    default:
        return 0;
    }
}

const fw_screen_ops fw_screen_lrfind = {
    .title = "LR finder",
    .hints = "f find  v/s/m pick  Enter train",
    .create = lr_create,
    .destroy = lr_destroy,
    .tick = lr_tick,
    .draw = lr_draw,
    .key = lr_key,
};
