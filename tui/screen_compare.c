/* screen_compare.c — the workbench's Compare screen: pick up to eight runs,
 * overlay one metric of each (a colour per run, legend "r0003 name"), and
 * tabulate their best metrics and the config keys that differ.
 *
 * Layout of the area (top, h, w):
 *
 *     upper part   left: the runs, "[x] r0003 name  status" (space toggles)
 *                  right: the plot of the chosen metric (m cycles)
 *     lower part   the table: a column per picked run (id in its colour,
 *                  name), best mAP@5, at epoch, last loss, status, then
 *                  the config keys that differ (J/K scroll)
 *
 * A picked run keeps its slot (and so its colour, plot.1 .. plot.8) until
 * it is unpicked or disappears from the store. Series are read from the
 * store a few rows per tick (run_series.h); summaries (run_summary.h) are
 * read again at most every few seconds while a run gets new points.
 */
#include <config.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "config_diff.h"
#include "run_progress.h"
#include "run_series.h"
#include "run_summary.h"

#define MAX_PICKED FW_CONFIG_DIFF_MAX_RUNS
#define ROWS_PER_TICK 20000
#define SUMMARY_EVERY_S 5.0
#define LIST_MIN_W 24
#define LIST_MAX_W 36
#define LABEL_MAX_W 22
#define CELL_MIN_W 8
#define CELL_MAX_W 24

typedef struct metric_def {
    const char *name;  /* the store's metric */
    const char *label; /* what the screen calls it */
    int smoothed;
} metric_def;

static const metric_def METRICS[] = {
    {"train.loss", "train loss (smoothed)", 1},
    {"val.map5", "val mAP@5", 0},
    {"val.loss", "val loss", 0},
    {"train.lr", "LR", 0},
};
#define N_METRICS ((int)(sizeof METRICS / sizeof METRICS[0]))

typedef struct slot {
    char id[FW_RUN_ID_CAP]; /* "" = free */
    fw_run_series rs;
    int has_summary;
    fw_run_summary sum;
    uint64_t sum_version; /* rs.version the summary was read at */
    double sum_at;        /* when (fw_app_now) */
} slot;

typedef struct compare_screen {
    slot slots[MAX_PICKED];
    int list_cursor, list_top;
    int metric;
    fw_series_x xaxis;
    int log_y;
    double smoothing;
    int utf8;
    fw_plot plot;
    fw_plot_grid grid;
    int need_feed;
    uint64_t fed_sum; /* sum of the slots' versions fed to the plot */
    fw_config_diff diff;
    int diff_valid, diff_dirty;
    int table_scroll;
    uint64_t runs_signature; /* of the run list drawn */
    int preselected;
    char error[512];
} compare_screen;

/* ------------------------------------------------------------ state */

static int n_picked(const compare_screen *cs)
{
    int n = 0;
    for (int i = 0; i < MAX_PICKED; i++)
        n += cs->slots[i].id[0] != '\0';
    return n;
}

static int slot_of(const compare_screen *cs, const char *id)
{
    for (int i = 0; i < MAX_PICKED; i++)
        if (cs->slots[i].id[0] && !strcmp(cs->slots[i].id, id))
            return i;
    return -1;
}

static void slot_clear(slot *s)
{
    fw_run_series_free(&s->rs);
    memset(s, 0, sizeof *s);
    fw_run_series_init(&s->rs);
}

/* Pick a run (first free slot); FW_ETOOBIG when eight are picked. */
static int pick(compare_screen *cs, const char *id)
{
    for (int i = 0; i < MAX_PICKED; i++) {
        if (!cs->slots[i].id[0]) {
            slot_clear(&cs->slots[i]);
            snprintf(cs->slots[i].id, sizeof cs->slots[i].id, "%s", id);
            cs->diff_dirty = cs->need_feed = 1;
            return FW_OK;
        }
    }
    return FW_ETOOBIG;
}

static void unpick(compare_screen *cs, int i)
{
    slot_clear(&cs->slots[i]);
    cs->diff_dirty = cs->need_feed = 1;
}

static const fw_run_info *find_run(const fw_run_info *runs, int n, const char *id)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(runs[i].id, id))
            return &runs[i];
    return NULL;
}

static void *compare_create(fw_app *app)
{
    compare_screen *cs = calloc(1, sizeof *cs);
    if (!cs)
        return NULL;
    for (int i = 0; i < MAX_PICKED; i++)
        fw_run_series_init(&cs->slots[i].rs);
    cs->utf8 = fw_app_utf8(app);
    fw_plot_init(&cs->plot, cs->utf8, 0, 0);
    double s = fw_app_user_config(app)->smoothing;
    cs->smoothing = s >= 0 && s < 1 ? s : 0.9;
    cs->need_feed = cs->diff_dirty = 1;
    return cs;
}

static void compare_destroy(void *self)
{
    compare_screen *cs = self;
    if (!cs)
        return;
    for (int i = 0; i < MAX_PICKED; i++)
        fw_run_series_free(&cs->slots[i].rs);
    fw_plot_free(&cs->plot);
    fw_plot_grid_free(&cs->grid);
    if (cs->diff_valid)
        fw_config_diff_free(&cs->diff);
    free(cs);
}

/* ------------------------------------------------------------ data */

/* Give the plot one series per picked run (colour = slot). */
static void feed(compare_screen *cs, fw_app *app)
{
    const metric_def *m = &METRICS[cs->metric];
    int n_runs = 0;
    const fw_run_info *runs = fw_app_runs(app, &n_runs);
    fw_plot_clear(&cs->plot);
    cs->plot.utf8 = cs->utf8;
    cs->plot.smoothing = m->smoothed ? cs->smoothing : 0.0;
    fw_plot_set_scale(&cs->plot, 0, cs->log_y, NULL);
    uint64_t sum = 0;
    for (int i = 0; i < MAX_PICKED; i++) {
        slot *s = &cs->slots[i];
        if (!s->id[0])
            continue;
        sum += s->rs.version;
        const fw_series *ser = fw_run_series_find(&s->rs, m->name);
        if (!ser || ser->n == 0)
            continue;
        const fw_run_info *info = find_run(runs, n_runs, s->id);
        char label[64];
        snprintf(label, sizeof label, "%s %s", s->id, info ? info->name : "");
        fw_plot_series series = {
            .label = label,
            .x = fw_series_x_values(ser, cs->xaxis),
            .y = ser->value,
            .n = ser->n,
            .color = i,
            .draw = m->smoothed && cs->smoothing > 0 ? FW_PLOT_DRAW_SMOOTH : FW_PLOT_DRAW_RAW,
        };
        fw_plot_add_series(&cs->plot, &series, NULL);
    }
    fw_plot_fit(&cs->plot, NULL);
    cs->fed_sum = sum;
    cs->need_feed = 0;
}

static uint64_t versions_sum(const compare_screen *cs)
{
    uint64_t sum = 0;
    for (int i = 0; i < MAX_PICKED; i++)
        if (cs->slots[i].id[0])
            sum += cs->slots[i].rs.version;
    return sum;
}

/* FNV-1a over what the run list shows (ids, names, statuses). */
static uint64_t runs_signature(const fw_run_info *runs, int n)
{
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < n; i++) {
        const char *parts[2] = {runs[i].id, runs[i].name};
        for (int p = 0; p < 2; p++)
            for (const unsigned char *c = (const unsigned char *)parts[p]; *c; c++)
                h = (h ^ *c) * 1099511628211ull;
        h = (h ^ (uint64_t)(runs[i].status + 1)) * 1099511628211ull;
    }
    return h ^ (uint64_t)n;
}

static void set_error(compare_screen *cs, const fw_error *err, int *changed)
{
    if (strcmp(cs->error, err->msg)) {
        snprintf(cs->error, sizeof cs->error, "%s", err->msg);
        *changed = 1;
    }
}

static void recompute_diff(compare_screen *cs, fw_app *app)
{
    if (cs->diff_valid)
        fw_config_diff_free(&cs->diff);
    cs->diff_valid = 0;
    cs->diff_dirty = 0;
    int n_runs = 0;
    const fw_run_info *runs = fw_app_runs(app, &n_runs);
    const fw_run_info *picked[MAX_PICKED];
    int n = 0;
    for (int i = 0; i < MAX_PICKED; i++) {
        const fw_run_info *info =
            cs->slots[i].id[0] ? find_run(runs, n_runs, cs->slots[i].id) : NULL;
        if (info)
            picked[n++] = info;
    }
    if (n == 0)
        return;
    fw_error err;
    fw_error_clear(&err);
    if (fw_config_diff_runs(picked, n, &cs->diff, &err) == FW_OK)
        cs->diff_valid = 1;
    else
        snprintf(cs->error, sizeof cs->error, "%s", err.msg);
}

static int compare_tick(void *self, fw_app *app)
{
    compare_screen *cs = self;
    if (!cs)
        return 0;
    int changed = 0, n_runs = 0;
    const fw_run_info *runs = fw_app_runs(app, &n_runs);
    double now = fw_app_now();

    uint64_t sig = runs_signature(runs, n_runs);
    if (sig != cs->runs_signature) {
        cs->runs_signature = sig;
        changed = 1;
    }
    if (!cs->preselected && n_runs > 0) {
        cs->preselected = 1;
        const char *sel = fw_app_selected(app);
        if (sel[0] && find_run(runs, n_runs, sel)) {
            pick(cs, sel);
            for (int i = 0; i < n_runs; i++)
                if (!strcmp(runs[i].id, sel))
                    cs->list_cursor = i;
        }
    }
    if (cs->list_cursor >= n_runs)
        cs->list_cursor = n_runs > 0 ? n_runs - 1 : 0;

    for (int i = 0; i < MAX_PICKED; i++) {
        slot *s = &cs->slots[i];
        if (!s->id[0])
            continue;
        if (!find_run(runs, n_runs, s->id)) { /* deleted from the store */
            unpick(cs, i);
            changed = 1;
            continue;
        }
        fw_error err;
        fw_error_clear(&err);
        if (fw_run_series_update(&s->rs, fw_app_store(app), s->id, ROWS_PER_TICK, NULL, &err) <
            0) {
            set_error(cs, &err, &changed);
            continue;
        }
        int stale = !s->has_summary ||
                    (s->sum_version != s->rs.version && now - s->sum_at >= SUMMARY_EVERY_S);
        if (stale) {
            if (fw_run_summary_read(fw_app_store(app), s->id, &s->sum, &err) < 0) {
                set_error(cs, &err, &changed);
            } else {
                s->has_summary = 1;
                s->sum_version = s->rs.version;
                s->sum_at = now;
                changed = 1;
            }
        }
    }
    if (cs->diff_dirty) {
        recompute_diff(cs, app);
        changed = 1;
    }
    if (cs->need_feed || versions_sum(cs) != cs->fed_sum || cs->utf8 != fw_app_utf8(app)) {
        cs->utf8 = fw_app_utf8(app);
        feed(cs, app);
        changed = 1;
    }
    return changed;
}

/* ------------------------------------------------------------ drawing */

static void draw_list(compare_screen *cs, fw_app *app, int top, int h, int w)
{
    int n_runs = 0;
    const fw_run_info *runs = fw_app_runs(app, &n_runs);
    char title[48];
    snprintf(title, sizeof title, "Runs %d/%d picked", n_picked(cs), MAX_PICKED);
    fw_draw_rule(app, top, 0, w, title);
    int rows = h - 1;
    if (rows <= 0)
        return;
    if (n_runs == 0) {
        fw_draw_text(app, top + 1, 1, w - 1, FW_ROLE_DIM, 0, "no runs yet");
        return;
    }
    if (cs->list_cursor < cs->list_top)
        cs->list_top = cs->list_cursor;
    if (cs->list_cursor >= cs->list_top + rows)
        cs->list_top = cs->list_cursor - rows + 1;
    if (cs->list_top > n_runs - rows)
        cs->list_top = n_runs - rows > 0 ? n_runs - rows : 0;
    for (int r = 0; r < rows && cs->list_top + r < n_runs; r++) {
        int i = cs->list_top + r;
        const fw_run_info *run = &runs[i];
        int sl = slot_of(cs, run->id);
        int y = top + 1 + r, x = 0;
        int cur = i == cs->list_cursor;
        attr_t extra = cur ? A_REVERSE : 0;
        fw_theme_role base = cur ? FW_ROLE_SELECTION : FW_ROLE_TEXT;
        if (cur) { /* the whole row in the selection colour */
            char blank[LIST_MAX_W + 1];
            int bw = w < LIST_MAX_W ? w : LIST_MAX_W;
            memset(blank, ' ', (size_t)bw);
            blank[bw] = '\0';
            fw_draw_text(app, y, 0, w, base, 0, blank);
        }
        x += fw_draw_text(app, y, x, w - x, sl >= 0 ? (fw_theme_role)(FW_ROLE_PLOT1 + sl) : base,
                          sl >= 0 ? A_BOLD | (cur ? extra : 0) : 0, sl >= 0 ? "[x] " : "[ ] ");
        x += fw_draw_text(app, y, x, w - x, cur ? base : FW_ROLE_DIM, 0, run->id);
        x += fw_draw_text(app, y, x, w - x, base, 0, " ");
        const char *st = fw_run_status_name(run->status);
        int st_w = (int)strlen(st);
        int name_w = w - x - st_w - 1;
        if (name_w < 4)
            name_w = w - x, st_w = 0;
        fw_draw_text(app, y, x, name_w, base, 0, run->name);
        if (st_w)
            fw_draw_text(app, y, w - st_w, st_w, cur ? base : fw_run_status_role(run->status), 0, st);
    }
}

static void draw_plot(compare_screen *cs, fw_app *app, int top, int x, int h, int w)
{
    char title[96];
    snprintf(title, sizeof title, "%s by %s%s", METRICS[cs->metric].label,
             fw_series_x_name(cs->xaxis), cs->log_y ? ", log y" : "");
    fw_draw_rule(app, top, x, w, title);
    int gh = h - 1;
    if (n_picked(cs) == 0) {
        fw_draw_text(app, top + 1 + gh / 2, x + 2, w - 4, FW_ROLE_DIM, 0,
                     "pick runs on the left (space) to compare them");
        return;
    }
    if (cs->plot.n_series == 0) {
        char msg[96];
        snprintf(msg, sizeof msg, "no %s points in the picked runs yet",
                 METRICS[cs->metric].name);
        fw_draw_text(app, top + 1 + gh / 2, x + 2, w - 4, FW_ROLE_DIM, 0, msg);
        return;
    }
    fw_error err;
    if (fw_plot_render(&cs->plot, w, gh, &cs->grid, &err) < 0) {
        fw_draw_text(app, top + 1, x + 1, w - 2, FW_ROLE_DIM, 0, "(too small)");
        return;
    }
    fw_draw_plot(app, &cs->grid, top + 1, x);
}

/* Table rows: id, name, the best metrics, then the differing keys. */
enum { ROW_ID = 0, ROW_NAME, ROW_METRICS };

static int table_rows(const compare_screen *cs)
{
    return ROW_METRICS + FW_COMPARE_METRIC_COUNT + 1 + (cs->diff_valid ? cs->diff.n_rows : 0);
}

static void draw_table(compare_screen *cs, fw_app *app, int top, int h, int w)
{
    int n_runs = 0;
    const fw_run_info *runs = fw_app_runs(app, &n_runs);
    int cols[MAX_PICKED], n = 0;
    for (int i = 0; i < MAX_PICKED; i++)
        if (cs->slots[i].id[0] && find_run(runs, n_runs, cs->slots[i].id))
            cols[n++] = i;
    char title[96];
    if (cs->diff_valid && n > 1)
        snprintf(title, sizeof title, "Best metrics, config keys that differ (%d of %d)",
                 cs->diff.n_rows, cs->diff.n_keys);
    else
        snprintf(title, sizeof title, "Best metrics");
    fw_draw_rule(app, top, 0, w, title);
    if (n == 0 || h < 2)
        return;

    int label_w = 12;
    for (int r = 0; cs->diff_valid && r < cs->diff.n_rows; r++) {
        int kw = fw_text_columns(cs->diff.rows[r].key) + 1;
        if (kw > label_w)
            label_w = kw;
    }
    if (label_w > LABEL_MAX_W)
        label_w = LABEL_MAX_W;
    int cell_w = n ? (w - label_w) / n : w;
    if (cell_w > CELL_MAX_W)
        cell_w = CELL_MAX_W;
    int shown = n;
    if (cell_w < CELL_MIN_W) {
        cell_w = CELL_MIN_W;
        shown = (w - label_w) / cell_w;
    }

    /* Fixed rows (id, name, metrics), then the diff rows scroll. */
    int fixed = ROW_METRICS + FW_COMPARE_METRIC_COUNT;
    int body = h - 1;
    int total = table_rows(cs);
    int max_scroll = total - body > 0 ? total - body : 0;
    if (cs->table_scroll > max_scroll)
        cs->table_scroll = max_scroll;
    if (cs->table_scroll < 0)
        cs->table_scroll = 0;
    int y = top + 1;
    for (int row = 0; row < total && y < top + h; row++) {
        if (row >= fixed && row < fixed + cs->table_scroll)
            continue; /* scrolled past */
        const char *label = "";
        if (row == ROW_NAME)
            label = "name";
        else if (row >= ROW_METRICS && row < fixed)
            label = fw_compare_metric_label((fw_compare_metric)(row - ROW_METRICS));
        else if (row == fixed)
            label = cs->diff_valid && cs->diff.n_rows ? "config:" : n > 1 ? "config: same" : "";
        else if (row > fixed)
            label = cs->diff.rows[row - fixed - 1].key;
        fw_draw_text(app, y, 0, label_w - 1, row > fixed ? FW_ROLE_TEXT : FW_ROLE_DIM, 0, label);
        for (int c = 0; c < shown; c++) {
            int i = cols[c];
            slot *s = &cs->slots[i];
            const fw_run_info *info = find_run(runs, n_runs, s->id);
            char cell[128] = "";
            fw_theme_role role = FW_ROLE_TEXT;
            attr_t extra = 0;
            if (row == ROW_ID) {
                snprintf(cell, sizeof cell, "%s", s->id);
                role = (fw_theme_role)(FW_ROLE_PLOT1 + i);
                extra = A_BOLD;
            } else if (row == ROW_NAME) {
                snprintf(cell, sizeof cell, "%s", info->name);
            } else if (row < fixed) {
                fw_compare_metric m = (fw_compare_metric)(row - ROW_METRICS);
                if (s->has_summary || m == FW_COMPARE_STATUS) {
                    fw_run_summary empty;
                    memset(&empty, 0, sizeof empty);
                    fw_compare_metric_cell(m, s->has_summary ? &s->sum : &empty, info, cell,
                                           sizeof cell);
                } else {
                    snprintf(cell, sizeof cell, "...");
                }
                if (m == FW_COMPARE_STATUS)
                    role = fw_run_status_role(info->status);
            } else if (row > fixed && c < cs->diff.n_runs) {
                /* diff columns follow the picked runs in slot order, as cols */
                snprintf(cell, sizeof cell, "%s", cs->diff.rows[row - fixed - 1].value[c]);
                if (cs->diff.error[c][0])
                    role = FW_ROLE_BAD;
            }
            fw_draw_text(app, y, label_w + c * cell_w, cell_w - 1, role, extra, cell);
        }
        y++;
    }
    if (shown < n)
        fw_draw_textf(app, top, w - 14, 13, FW_ROLE_WARNING, 0, " +%d runs > ", n - shown);
    if (max_scroll > 0)
        fw_draw_textf(app, top + h - 1, w - 16, 15, FW_ROLE_DIM, 0, " J/K more (%d) ",
                      max_scroll - cs->table_scroll);
}

static void compare_draw(void *self, fw_app *app, int top, int h, int w)
{
    compare_screen *cs = self;
    fw_draw_clear(app, top, 0, h, w);
    if (!cs) {
        fw_draw_text(app, top + 1, 2, w - 4, FW_ROLE_BAD, 0, "Compare: out of memory");
        return;
    }
    if (cs->utf8 != fw_app_utf8(app)) {
        cs->utf8 = fw_app_utf8(app);
        feed(cs, app);
    }
    int list_w = w / 3;
    if (list_w < LIST_MIN_W)
        list_w = LIST_MIN_W;
    if (list_w > LIST_MAX_W)
        list_w = LIST_MAX_W;
    /* The table takes what it needs up to half the height (error line last). */
    int body_h = h - (cs->error[0] ? 1 : 0);
    int want = 1 + table_rows(cs);
    int table_h = want < body_h / 2 ? want : body_h / 2;
    int upper_h = body_h - table_h;
    draw_list(cs, app, top, upper_h, list_w);
    draw_plot(cs, app, top, list_w + 1, upper_h, w - list_w - 1);
    draw_table(cs, app, top + upper_h, table_h, w);
    if (cs->error[0])
        fw_draw_text(app, top + h - 1, 0, w, FW_ROLE_BAD, 0, cs->error);
}

/* ------------------------------------------------------------ keys */

static int compare_key(void *self, fw_app *app, int ch)
{
    compare_screen *cs = self;
    if (!cs)
        return 0;
    int n_runs = 0;
    const fw_run_info *runs = fw_app_runs(app, &n_runs);
    switch (ch) {
    case 'j':
    case KEY_DOWN:
        if (cs->list_cursor + 1 < n_runs)
            cs->list_cursor++;
        return 1;
    case 'k':
    case KEY_UP:
        if (cs->list_cursor > 0)
            cs->list_cursor--;
        return 1;
    case 'g':
    case KEY_HOME:
        cs->list_cursor = 0;
        return 1;
    case 'G':
    case KEY_END:
        cs->list_cursor = n_runs > 0 ? n_runs - 1 : 0;
        return 1;
    case ' ':
    case '\n':
    case KEY_ENTER: {
        if (cs->list_cursor >= n_runs)
            return 1;
        const char *id = runs[cs->list_cursor].id;
        int sl = slot_of(cs, id);
        if (sl >= 0)
            unpick(cs, sl);
        else if (pick(cs, id) == FW_ETOOBIG)
            fw_app_message(app, FW_ROLE_WARNING, "at most %d runs can be compared: unpick one first",
                           MAX_PICKED);
        compare_tick(cs, app); /* read the new run's points now */
        return 1;
    }
    case 'm':
        cs->metric = (cs->metric + 1) % N_METRICS;
        feed(cs, app);
        return 1;
    case 'x':
        cs->xaxis = (fw_series_x)((cs->xaxis + 1) % FW_SERIES_X_COUNT);
        feed(cs, app);
        return 1;
    case 'l':
        cs->log_y = !cs->log_y;
        feed(cs, app);
        return 1;
    case '[':
    case ']': {
        double s = cs->smoothing + (ch == ']' ? 0.05 : -0.05);
        s = round(s * 100.0) / 100.0;
        cs->smoothing = s < 0 ? 0 : s > 0.99 ? 0.99 : s;
        feed(cs, app);
        return 1;
    }
    case 'J':
    case KEY_NPAGE:
        cs->table_scroll++;
        return 1;
    case 'K':
    case KEY_PPAGE:
        if (cs->table_scroll > 0)
            cs->table_scroll--;
        return 1;
    default:
        return 0;
    }
}

static void compare_invalidate(void *self, fw_app *app)
{
    (void)app;
    compare_screen *cs = self;
    if (cs)
        cs->need_feed = 1;
}

const fw_screen_ops fw_screen_compare = {
    .title = "Compare",
    .hints = "space pick  m metric  x x-axis  l log y  J/K table  [ ] smooth",
    .create = compare_create,
    .destroy = compare_destroy,
    .tick = compare_tick,
    .draw = compare_draw,
    .key = compare_key,
    .invalidate = compare_invalidate,
};
