/* screen_runs.c — the workbench's Runs screen: a table of every run in the
 * store (this process's and other processes'), with status, progress, ETA,
 * best mAP@5, duration and who trains it; a details pane for the selected
 * run (its config against the defaults, its latest events, its parent);
 * the run actions (new, clone, pause/resume, stop, resume, rename, delete)
 * and the new-run form (its model is run_form.c; it is drawn here).
 *
 * Each tick reads only new metric rows (per run and metric, after the last
 * rowid seen) and only for runs that may have changed, and says "changed"
 * only when the text shown changed.
 */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "run_form.h"
#include "run_progress.h"
#include "run_summary.h"

enum {
    METRIC_PAGE = 20000, /* rows per metric and run read in one tick */
    EVENT_KEEP = 64,     /* latest events of the selected run kept */
    EVENT_PAGE = 1000,
    CTRL_L = 12,
    CTRL_S = 19,
};

#define RUNS_HINTS                                                                        \
    "n new  c clone  p pause/resume  s stop  r resume  R rename  D delete  Enter plots  "  \
    "j/k PgUp/PgDn g/G move  click select  form: F2 start, Esc close"

/* What the screen keeps about one run between ticks. */
typedef struct run_cache {
    char id[FW_RUN_ID_CAP];
    int seen;                   /* in the run list at the last tick */
    int loaded;                 /* its metrics were read to the end once */
    int more;                   /* a page was full: read on at the next tick */
    int64_t after_loss, after_map5;
    fw_run_summary sum;
    int epochs;                 /* planned, from its config (0 unknown) */
    fw_rate_tracker rate;
    fw_run_status status;       /* as of the last read */
    double updated_at;
} run_cache;

/* One table row as text. */
typedef struct row_text {
    char status[24], epoch[24], eta[16], best[16], duration[16], owner[96];
    double fraction;
    fw_theme_role role;
    int live, here;
} row_text;

typedef struct runs_screen {
    run_cache *cache;
    int n_cache, cap_cache;
    char host[256];
    uint64_t signature;         /* of what the last tick showed */

    /* the table, as last drawn */
    int sel_index;              /* row of the selection in fw_app_runs */
    int first_row;              /* first run shown */
    int rows_shown, rows_y;     /* run rows shown and the screen row of the first */

    /* details of the selected run */
    char detail_id[FW_RUN_ID_CAP];
    char *diff_text;            /* "key = value\n" lines differing from the defaults */
    int diff_lines;
    char diff_error[FW_FORM_ERROR_MAX];
    fw_event events[EVENT_KEEP];
    int n_events;
    int64_t events_after;

    /* the run a confirm/prompt acts on (kept by pointer by the app) */
    char pending_id[FW_RUN_ID_CAP];

    /* the new-run form, when open */
    fw_run_form *form;
    char form_title[256];
    int form_list_y, form_list_rows;
    char form_last_error[FW_FORM_ERROR_MAX];
    char last_error[FW_FORM_ERROR_MAX]; /* store read errors, said once */
} runs_screen;

/* ------------------------------------------------------------- helpers */

static int is_live_status(fw_run_status st)
{
    return st == FW_RUN_RUNNING || st == FW_RUN_PAUSED;
}

static uint64_t hash_bytes(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull; /* FNV-1a */
    }
    return h;
}

static uint64_t hash_str(uint64_t h, const char *s)
{
    return hash_bytes(h, s ? s : "", strlen(s ? s : "") + 1);
}

static void say_error_once(runs_screen *rs, fw_app *app, const char *msg)
{
    if (strcmp(rs->last_error, msg) == 0)
        return;
    snprintf(rs->last_error, sizeof rs->last_error, "%s", msg);
    fw_app_message(app, FW_ROLE_BAD, "%s", msg);
}

/* ------------------------------------------------------------- caches */

static run_cache *cache_find(runs_screen *rs, const char *id)
{
    for (int i = 0; i < rs->n_cache; i++)
        if (strcmp(rs->cache[i].id, id) == 0)
            return &rs->cache[i];
    return NULL;
}

static run_cache *cache_add(runs_screen *rs, const fw_run_info *run)
{
    if (rs->n_cache == rs->cap_cache) {
        int cap = rs->cap_cache ? rs->cap_cache * 2 : 16;
        run_cache *grown = realloc(rs->cache, (size_t)cap * sizeof *grown);
        if (!grown)
            return NULL;
        rs->cache = grown;
        rs->cap_cache = cap;
    }
    run_cache *c = &rs->cache[rs->n_cache++];
    memset(c, 0, sizeof *c);
    snprintf(c->id, sizeof c->id, "%s", run->id);
    fw_run_config cfg;
    fw_error err;
    if (fw_run_summary_config(run, &cfg, NULL, &err) == FW_OK)
        c->epochs = cfg.epochs;
    c->status = run->status;
    c->updated_at = run->updated_at;
    return c;
}

/* Read the metric rows added since the last read (a page at most). */
static int poll_metrics(fw_store *s, run_cache *c, fw_error *err)
{
    static const char *const names[2] = {"train.loss", "val.map5"};
    int64_t *after[2] = {&c->after_loss, &c->after_map5};
    c->more = 0;
    for (int k = 0; k < 2; k++) {
        fw_metric_query q = {.run_id = c->id, .name = names[k], .after_rowid = *after[k],
                             .min_step = INT64_MIN, .limit = METRIC_PAGE};
        fw_metric_point *pts = NULL;
        int n = 0;
        FW_TRY(fw_store_metrics_read(s, &q, &pts, &n, err));
        for (int i = 0; i < n; i++) {
            fw_progress_fold_point(&c->sum, &pts[i]);
            if (k == 0 && c->epochs > 0)
                fw_rate_add(&c->rate, pts[i].wall_time, pts[i].epoch / c->epochs);
        }
        if (n > 0)
            *after[k] = pts[n - 1].rowid;
        if (n == METRIC_PAGE)
            c->more = 1;
        free(pts);
    }
    c->loaded = 1;
    return FW_OK;
}

static void format_row(const runs_screen *rs, fw_app *app, const fw_run_info *run,
                       const run_cache *c, row_text *rt)
{
    memset(rt, 0, sizeof *rt);
    fw_trainer_state ts;
    rt->here = fw_app_trainer_state(app, run->id, &ts);
    fw_run_progress p;
    fw_run_summary empty;
    memset(&empty, 0, sizeof empty);
    fw_run_progress_compute(run, c ? &c->sum : &empty, c ? c->epochs : 0,
                            rt->here ? &ts : NULL, c ? &c->rate : NULL, &p);
    snprintf(rt->status, sizeof rt->status, "%s", p.status);
    rt->role = p.role;
    rt->live = p.live;
    rt->fraction = p.fraction;
    if (p.epochs > 0)
        snprintf(rt->epoch, sizeof rt->epoch, "%d/%d", p.epoch, p.epochs);
    else if (c && c->sum.has_epoch)
        snprintf(rt->epoch, sizeof rt->epoch, "%.0f", c->sum.last_epoch);
    else
        snprintf(rt->epoch, sizeof rt->epoch, "-");
    if (p.eta_s >= 0)
        fw_format_duration(p.eta_s, rt->eta, sizeof rt->eta);
    else
        snprintf(rt->eta, sizeof rt->eta, "-");
    if (c && c->sum.has_best)
        snprintf(rt->best, sizeof rt->best, "%.4f", c->sum.best_map5);
    else
        snprintf(rt->best, sizeof rt->best, "-");
    fw_format_duration(fw_run_duration(run, fw_store_now()), rt->duration, sizeof rt->duration);
    fw_run_owner_text(run, rt->here, rs->host, rt->owner, sizeof rt->owner);
}

/* ------------------------------------------------------------- details */

static void events_clear(runs_screen *rs)
{
    for (int i = 0; i < rs->n_events; i++)
        free(rs->events[i].message);
    rs->n_events = 0;
    rs->events_after = 0;
}

/* Keep the newest EVENT_KEEP events (ev's messages are taken over). */
static void events_take(runs_screen *rs, fw_event *ev, int n)
{
    for (int i = 0; i < n; i++) {
        if (rs->n_events == EVENT_KEEP) {
            free(rs->events[0].message);
            memmove(rs->events, rs->events + 1, (EVENT_KEEP - 1) * sizeof rs->events[0]);
            rs->n_events--;
        }
        rs->events[rs->n_events++] = ev[i];
        ev[i].message = NULL;
        rs->events_after = ev[i].id;
    }
}

/* Read the selected run's new events; 1 when there were any. */
static int poll_events(runs_screen *rs, fw_store *s, fw_error *err)
{
    int got = 0;
    for (;;) {
        fw_event *ev = NULL;
        int n = 0;
        FW_TRY(fw_store_events_read(s, rs->detail_id, rs->events_after, EVENT_PAGE, &ev, &n,
                                    err));
        events_take(rs, ev, n);
        fw_events_free(ev, n);
        got |= n > 0;
        if (n < EVENT_PAGE)
            return got;
    }
}

static void details_clear(runs_screen *rs)
{
    events_clear(rs);
    free(rs->diff_text);
    rs->diff_text = NULL;
    rs->diff_lines = 0;
    rs->diff_error[0] = '\0';
    rs->detail_id[0] = '\0';
}

static void details_load(runs_screen *rs, fw_app *app, const fw_run_info *run)
{
    details_clear(rs);
    snprintf(rs->detail_id, sizeof rs->detail_id, "%s", run->id);
    fw_run_config cfg, def;
    fw_run_config_default(&def);
    fw_error err;
    fw_error_clear(&err);
    if (fw_run_summary_config(run, &cfg, NULL, &err) != FW_OK ||
        fw_run_config_diff(&cfg, &def, &rs->diff_text, &rs->diff_lines, &err) != FW_OK)
        snprintf(rs->diff_error, sizeof rs->diff_error, "%s", err.msg);
    if (poll_events(rs, fw_app_store(app), &err) < 0)
        say_error_once(rs, app, err.msg);
}

/* ------------------------------------------------------------- tick */

static int find_run(const fw_run_info *runs, int n, const char *id)
{
    for (int i = 0; i < n; i++)
        if (strcmp(runs[i].id, id) == 0)
            return i;
    return -1;
}

static int runs_tick(void *self, fw_app *app)
{
    runs_screen *rs = self;
    int n = 0;
    const fw_run_info *runs = fw_app_runs(app, &n);
    fw_store *s = fw_app_store(app);
    fw_error err;
    fw_error_clear(&err);
    uint64_t sig = 14695981039346656037ull;

    for (int i = 0; i < rs->n_cache; i++)
        rs->cache[i].seen = 0;
    for (int i = 0; i < n; i++) {
        const fw_run_info *r = &runs[i];
        run_cache *c = cache_find(rs, r->id);
        if (!c)
            c = cache_add(rs, r);
        if (c) {
            c->seen = 1;
            fw_trainer_state ts;
            int here = fw_app_trainer_state(app, r->id, &ts);
            if (!c->loaded || c->more || here || is_live_status(r->status) ||
                c->status != r->status || c->updated_at != r->updated_at) {
                if (poll_metrics(s, c, &err) < 0)
                    say_error_once(rs, app, err.msg);
                c->status = r->status;
                c->updated_at = r->updated_at;
            }
        }
        row_text rt;
        format_row(rs, app, r, c, &rt);
        sig = hash_str(sig, r->id);
        sig = hash_str(sig, r->name);
        sig = hash_str(sig, r->parent);
        sig = hash_bytes(sig, &rt, sizeof rt);
    }
    /* Forget runs that are gone. */
    for (int i = 0; i < rs->n_cache;)
        if (!rs->cache[i].seen)
            rs->cache[i] = rs->cache[--rs->n_cache];
        else
            i++;

    /* The selection follows its run id; the details follow the selection. */
    const char *sel = fw_app_selected(app);
    int idx = find_run(runs, n, sel);
    if (idx >= 0) {
        rs->sel_index = idx;
        if (strcmp(rs->detail_id, sel) != 0)
            details_load(rs, app, &runs[idx]);
        else if (poll_events(rs, s, &err) < 0)
            say_error_once(rs, app, err.msg);
    } else {
        details_clear(rs);
    }
    sig = hash_str(sig, sel);
    sig = hash_bytes(sig, &rs->events_after, sizeof rs->events_after);
    sig = hash_bytes(sig, &rs->n_events, sizeof rs->n_events);
    int changed = sig != rs->signature;
    rs->signature = sig;
    return changed && !rs->form; /* the form covers the table */
}

/* ------------------------------------------------------------- layout */

typedef struct table_cols {
    int id, name, status, epoch, bar, eta, best, duration, owner;
    int x_id, x_name, x_status, x_epoch, x_bar, x_eta, x_best, x_duration, x_owner;
} table_cols;

static int max_int(int a, int b)
{
    return a > b ? a : b;
}

/* Column widths: each as wide as its header and its widest text; the bar
 * and the name share what is left. */
static void layout_columns(runs_screen *rs, fw_app *app, const fw_run_info *runs, int n, int w,
                           table_cols *c)
{
    c->id = 2;
    c->status = 6;
    c->epoch = 5;
    c->eta = 3;
    c->best = 6;
    c->duration = 4;
    c->owner = 5;
    for (int i = 0; i < n; i++) {
        row_text rt;
        format_row(rs, app, &runs[i], cache_find(rs, runs[i].id), &rt);
        c->id = max_int(c->id, fw_text_columns(runs[i].id));
        c->status = max_int(c->status, fw_text_columns(rt.status));
        c->epoch = max_int(c->epoch, fw_text_columns(rt.epoch));
        c->eta = max_int(c->eta, fw_text_columns(rt.eta));
        c->duration = max_int(c->duration, fw_text_columns(rt.duration));
        c->owner = max_int(c->owner, fw_text_columns(rt.owner));
    }
    if (c->owner > 24)
        c->owner = 24;
    int fixed = c->id + c->status + c->epoch + c->eta + c->best + c->duration + c->owner +
                10; /* a leading space and nine gaps */
    int longest = 4;
    for (int i = 0; i < n; i++)
        longest = max_int(longest, fw_text_columns(runs[i].name));
    int left = w - fixed;
    c->bar = 8;
    c->name = left - c->bar;
    if (c->name > 30) { /* room to spare: a longer bar, then a longer name */
        c->bar += (c->name - 30) / 2;
        if (c->bar > 30)
            c->bar = 30;
        c->name = left - c->bar;
    }
    /* No wider than the longest name (or 48): the rest stays blank. */
    if (c->name > 48)
        c->name = 48;
    if (c->name > longest && c->name > 24)
        c->name = max_int(24, longest);
    if (c->name < 6)
        c->name = 6;
    int x = 1;
    c->x_id = x, x += c->id + 1;
    c->x_name = x, x += c->name + 1;
    c->x_status = x, x += c->status + 1;
    c->x_epoch = x, x += c->epoch + 1;
    c->x_bar = x, x += c->bar + 1;
    c->x_eta = x, x += c->eta + 1;
    c->x_best = x, x += c->best + 1;
    c->x_duration = x, x += c->duration + 1;
    c->x_owner = x;
}

/* Text right-aligned in a cell of `width` columns. */
static void draw_right(fw_app *app, int y, int x, int width, fw_theme_role role, attr_t extra,
                       const char *text)
{
    int cols = fw_text_columns(text);
    int pad = width - cols;
    fw_draw_text(app, y, x + (pad > 0 ? pad : 0), width, role, extra, text);
}

static void draw_header(runs_screen *rs, fw_app *app, int y, int w, const table_cols *c, int n)
{
    attr_t b = A_BOLD;
    fw_draw_text(app, y, c->x_id, c->id, FW_ROLE_TITLE, b, "id");
    fw_draw_text(app, y, c->x_name, c->name, FW_ROLE_TITLE, b, "name");
    fw_draw_text(app, y, c->x_status, c->status, FW_ROLE_TITLE, b, "status");
    draw_right(app, y, c->x_epoch, c->epoch, FW_ROLE_TITLE, b, "epoch");
    fw_draw_text(app, y, c->x_bar, c->bar, FW_ROLE_TITLE, b, "progress");
    draw_right(app, y, c->x_eta, c->eta, FW_ROLE_TITLE, b, "ETA");
    draw_right(app, y, c->x_best, c->best, FW_ROLE_TITLE, b, "mAP@5");
    draw_right(app, y, c->x_duration, c->duration, FW_ROLE_TITLE, b, "time");
    fw_draw_text(app, y, c->x_owner, w - c->x_owner, FW_ROLE_TITLE, b, "owner");
    (void)rs, (void)n;
}

/* "runs 2-13 of 40" at the right end of the rule under the table, when the
 * table does not show every run. */
static void draw_scroll_position(runs_screen *rs, fw_app *app, int y, int w, int n)
{
    if (n <= rs->rows_shown || rs->rows_shown <= 0)
        return;
    char pos[64];
    snprintf(pos, sizeof pos, " runs %d-%d of %d ", rs->first_row + 1,
             rs->first_row + rs->rows_shown, n);
    int pw = fw_text_columns(pos);
    if (pw + 30 < w)
        fw_draw_text(app, y, w - pw - 2, pw, FW_ROLE_DIM, 0, pos);
}

static void draw_row(runs_screen *rs, fw_app *app, int y, int w, const table_cols *c,
                     const fw_run_info *run, int selected)
{
    row_text rt;
    format_row(rs, app, run, cache_find(rs, run->id), &rt);
    fw_theme_role base = selected ? FW_ROLE_SELECTION : FW_ROLE_TEXT;
    fw_theme_role dim = selected ? FW_ROLE_SELECTION : FW_ROLE_DIM;
    fw_theme_role status = selected ? FW_ROLE_SELECTION : rt.role;
    attr_t bold = selected ? A_BOLD : 0;
    if (selected) {
        char blank[512];
        int bw = w < (int)sizeof blank - 1 ? w : (int)sizeof blank - 1;
        memset(blank, ' ', (size_t)bw);
        blank[bw] = '\0';
        fw_draw_text(app, y, 0, w, FW_ROLE_SELECTION, 0, blank);
        fw_draw_text(app, y, 0, 1, FW_ROLE_SELECTION, A_BOLD, fw_app_utf8(app) ? "▸" : ">");
    }
    fw_draw_text(app, y, c->x_id, c->id, dim, bold, run->id);
    fw_draw_text(app, y, c->x_name, c->name, base, bold, run->name);
    fw_draw_text(app, y, c->x_status, c->status, status, bold, rt.status);
    draw_right(app, y, c->x_epoch, c->epoch, base, 0, rt.epoch);
    char bar[256];
    fw_progress_bar_text(rt.fraction, c->bar, fw_app_utf8(app), bar, sizeof bar);
    fw_draw_text(app, y, c->x_bar, c->bar, status, 0, bar);
    draw_right(app, y, c->x_eta, c->eta, base, 0, rt.eta);
    draw_right(app, y, c->x_best, c->best, base, bold, rt.best);
    draw_right(app, y, c->x_duration, c->duration, dim, 0, rt.duration);
    fw_draw_text(app, y, c->x_owner, w - c->x_owner - 1, rt.here ? (selected ? base : FW_ROLE_ACCENT) : dim,
                 0, rt.owner);
}

static fw_theme_role event_role(const fw_event *e)
{
    if (!strcmp(e->kind, FW_EVENT_WARNING) || !strcmp(e->kind, FW_EVENT_NAN_STEP) ||
        !strcmp(e->kind, FW_EVENT_SKIPPED_FILE))
        return FW_ROLE_WARNING;
    if (!strcmp(e->kind, "error"))
        return FW_ROLE_BAD;
    if (!strcmp(e->kind, "eval"))
        return FW_ROLE_GOOD;
    return FW_ROLE_TEXT;
}

/* Events newest last in rows [y, y + h) x [x, x + w). */
static void draw_events(runs_screen *rs, fw_app *app, int y, int x, int h, int w)
{
    if (h <= 0)
        return;
    fw_draw_text(app, y, x, w, FW_ROLE_TITLE, A_BOLD, "events");
    h--, y++;
    if (rs->n_events == 0) {
        if (h > 0)
            fw_draw_text(app, y, x, w, FW_ROLE_DIM, 0, "none yet");
        return;
    }
    int first = rs->n_events > h ? rs->n_events - h : 0;
    for (int i = first; i < rs->n_events; i++, y++) {
        const fw_event *e = &rs->events[i];
        char when[16] = "--:--:--";
        time_t t = (time_t)e->wall_time;
        struct tm tm;
        if (e->wall_time > 0 && localtime_r(&t, &tm))
            strftime(when, sizeof when, "%H:%M:%S", &tm);
        int used = fw_draw_text(app, y, x, w, FW_ROLE_DIM, 0, when);
        used += fw_draw_text(app, y, x + used, w - used, FW_ROLE_DIM, 0, " ");
        fw_theme_role role = event_role(e);
        used += fw_draw_text(app, y, x + used, w - used, role, A_BOLD, e->kind);
        used += fw_draw_text(app, y, x + used, w - used, FW_ROLE_DIM, 0, " ");
        fw_draw_text(app, y, x + used, w - used, role == FW_ROLE_GOOD ? FW_ROLE_TEXT : role, 0,
                     e->message ? e->message : "");
    }
}

/* The config lines that differ from the defaults: one per line in
 * [y, y + h) when `one_per_line`, else as "key=value" items wrapped over
 * at most h rows. Returns the rows used. */
static int draw_config_diff(runs_screen *rs, fw_app *app, int y, int x, int h, int w,
                            int one_per_line)
{
    if (h <= 0)
        return 0;
    int used_rows = 1;
    int cx = x + fw_draw_text(app, y, x, w, FW_ROLE_TITLE, A_BOLD,
                              one_per_line ? "config (differs from the defaults)" : "config");
    if (rs->diff_error[0]) {
        fw_draw_text(app, y, cx + 1, w - (cx + 1 - x), FW_ROLE_BAD, 0, rs->diff_error);
        return 1;
    }
    if (!rs->diff_text || !rs->diff_text[0]) {
        fw_draw_text(app, y, cx + 1, w - (cx + 1 - x), FW_ROLE_DIM, 0, "the defaults");
        return 1;
    }
    const char *p = rs->diff_text;
    int row = one_per_line ? 1 : 0;
    int col = one_per_line ? x : cx + 2;
    int shown = 0;
    while (*p && row < h) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char line[FW_FORM_VALUE_MAX + 80];
        snprintf(line, sizeof line, "%.*s", (int)len, p);
        char *eq = strstr(line, " = ");
        if (one_per_line) {
            if (row == h - 1 && shown + 1 < rs->diff_lines) { /* the last row says what's left */
                fw_draw_textf(app, y + row, x, w, FW_ROLE_DIM, 0, "... %d more",
                              rs->diff_lines - shown);
                return h;
            }
            int kx = 0;
            if (eq) {
                *eq = '\0';
                kx = fw_draw_text(app, y + row, x + 1, w - 1, FW_ROLE_DIM, 0, line);
                kx += fw_draw_text(app, y + row, x + 1 + kx, w - 1 - kx, FW_ROLE_DIM, 0, " = ");
                fw_draw_text(app, y + row, x + 1 + kx, w - 1 - kx, FW_ROLE_TEXT, 0, eq + 3);
            } else {
                fw_draw_text(app, y + row, x + 1, w - 1, FW_ROLE_TEXT, 0, line);
            }
            row++;
            used_rows = row;
        } else {
            if (eq) { /* "key=value" */
                memmove(eq + 1, eq + 3, strlen(eq + 3) + 1);
                *eq = '=';
            }
            int iw = fw_text_columns(line);
            if (col + iw > x + w && col > x + 2) { /* wrap */
                row++;
                col = x + 2;
                if (row >= h)
                    break;
            }
            if (row == h - 1 && col + iw + 12 > x + w && shown + 1 < rs->diff_lines) {
                fw_draw_textf(app, y + row, col, x + w - col, FW_ROLE_DIM, 0, "... %d more",
                              rs->diff_lines - shown);
                return h;
            }
            col += fw_draw_text(app, y + row, col, x + w - col, FW_ROLE_TEXT, 0, line) + 2;
            used_rows = row + 1;
        }
        shown++;
        p = nl ? nl + 1 : p + len;
    }
    return used_rows;
}

static void draw_details(runs_screen *rs, fw_app *app, int y, int h, int w,
                         const fw_run_info *run)
{
    if (h <= 0)
        return;
    char title[320];
    snprintf(title, sizeof title, "%s  %s", run->id, run->name);
    fw_draw_rule(app, y, 0, w, title);
    y++, h--;
    if (h <= 0)
        return;
    /* One line of facts. */
    const run_cache *c = cache_find(rs, run->id);
    char facts[1024], when[32], part[256];
    size_t len = 0;
    facts[0] = '\0';
#define FACT(...)                                                                         \
    do {                                                                                  \
        snprintf(part, sizeof part, __VA_ARGS__);                                         \
        len += (size_t)snprintf(facts + len, sizeof facts - len, "%s%s", len ? " · " : "", \
                                part);                                                    \
        if (len >= sizeof facts)                                                          \
            len = sizeof facts - 1;                                                       \
    } while (0)
    FACT("parent %s", run->parent[0] ? run->parent : "none");
    fw_format_when(run->created_at, fw_store_now(), when, sizeof when);
    FACT("created %s", when);
    if (run->started_at > 0) {
        fw_format_when(run->started_at, fw_store_now(), when, sizeof when);
        FACT("started %s", when);
    }
    if (run->ended_at > 0) {
        fw_format_when(run->ended_at, fw_store_now(), when, sizeof when);
        FACT("ended %s", when);
    }
    if (c && c->sum.has_loss)
        FACT("step %lld, loss %.4g", (long long)c->sum.last_step, c->sum.last_loss);
    if (c && c->sum.has_best)
        FACT("best mAP@5 %.4f at epoch %.0f", c->sum.best_map5, c->sum.best_epoch);
    if (run->backend && run->backend[0])
        FACT("%s%s%s", run->backend, run->devices[0] ? " " : "", run->devices);
    if (run->owner_pid > 0)
        FACT("%s pid %lld@%s", is_live_status(run->status) ? "owner" : "last owner",
             (long long)run->owner_pid, run->owner_host);
#undef FACT
    fw_draw_text(app, y, 1, w - 2, FW_ROLE_DIM, 0, facts);
    y++, h--;
    if (h <= 0)
        return;
    if (w >= 120) { /* config on the left, events on the right */
        int lw = w / 2 - 2;
        draw_config_diff(rs, app, y, 1, h, lw, 1);
        draw_events(rs, app, y, lw + 3, h, w - lw - 4);
    } else {
        int cfg_rows = h >= 8 ? 3 : h >= 4 ? 2 : 1;
        int used = draw_config_diff(rs, app, y, 1, cfg_rows, w - 2, 0);
        draw_events(rs, app, y + used, 1, h - used, w - 2);
    }
}

/* ------------------------------------------------------------- form */

static int text_prefix_columns(const char *s, size_t bytes)
{
    char tmp[FW_FORM_VALUE_MAX];
    snprintf(tmp, sizeof tmp, "%.*s", (int)bytes, s);
    return fw_text_columns(tmp);
}

/* The edit buffer in [x, x + w) with the cursor shown (reversed). */
static void draw_edit(fw_app *app, const fw_run_form *f, int y, int x, int w, fw_theme_role role)
{
    if (w < 2)
        return;
    /* Scroll so the cursor stays inside the cell. */
    size_t start = 0;
    while (start < f->cursor && text_prefix_columns(f->buf + start, f->cursor - start) > w - 2) {
        start++;
        while (start < f->len && ((unsigned char)f->buf[start] & 0xC0) == 0x80)
            start++;
    }
    char before[FW_FORM_VALUE_MAX];
    snprintf(before, sizeof before, "%.*s", (int)(f->cursor - start), f->buf + start);
    int used = fw_draw_text(app, y, x, w - 1, role, A_UNDERLINE, before);
    /* The character under the cursor, or a space at the end. */
    char under[8] = " ";
    if (f->cursor < f->len) {
        size_t n = 1;
        while (f->cursor + n < f->len && ((unsigned char)f->buf[f->cursor + n] & 0xC0) == 0x80)
            n++;
        snprintf(under, sizeof under, "%.*s", (int)n, f->buf + f->cursor);
    }
    int uw = fw_draw_text(app, y, x + used, w - used, role, A_REVERSE, under);
    if (f->cursor < f->len)
        fw_draw_text(app, y, x + used + uw, w - used - uw, role, A_UNDERLINE,
                     f->buf + f->cursor + strlen(under));
}

static void draw_form(runs_screen *rs, fw_app *app, int top, int h, int w)
{
    fw_run_form *f = rs->form;
    int x = fw_draw_text(app, top, 1, w - 2, FW_ROLE_TITLE, A_BOLD, rs->form_title);
    /* The form's keys, as many as fit after the title. */
    const char *keys[] = {fw_app_utf8(app)
                              ? "F2/^S start  Enter edit  \xe2\x86\x90/\xe2\x86\x92 choose  Esc close"
                              : "F2/^S start  Enter edit  Left/Right choose  Esc close",
                          "F2 start  Enter edit  Esc close", "F2 start  Esc close"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        int kw = fw_text_columns(keys[i]);
        if (x + kw + 4 < w) {
            fw_draw_text(app, top, w - kw - 1, kw, FW_ROLE_HINT, 0, keys[i]);
            break;
        }
    }
    rs->form_list_y = top + 1;
    rs->form_list_rows = h - 2;
    if (rs->form_list_rows < 1)
        return;
    fw_run_form_scroll(f, rs->form_list_rows);
    int rows = fw_run_form_rows(f);
    int lw = 4;
    for (int i = 0; i < rows; i++) {
        int lc = fw_text_columns(fw_run_form_label(f, i));
        if (lc > lw)
            lw = lc;
    }
    int vw = w >= 160 ? 44 : w >= 120 ? 32 : w >= 100 ? 24 : 18;
    int xl = 2, xv = xl + lw + 2, xd = xv + vw + 2;
    for (int r = 0; r < rs->form_list_rows && f->top + r < rows; r++) {
        int row = f->top + r, y = rs->form_list_y + r;
        int sel = row == f->sel;
        if (sel)
            fw_draw_text(app, y, 0, 1, FW_ROLE_ACCENT, A_BOLD, fw_app_utf8(app) ? "▸" : ">");
        if (fw_run_form_is_start_row(f, row)) {
            int sw = fw_draw_text(app, y, xl, w - xl, sel ? FW_ROLE_SELECTION : FW_ROLE_ACCENT,
                                  A_BOLD, "[ Start ]");
            int bad = fw_run_form_invalid_count(f);
            if (bad > 0)
                fw_draw_textf(app, y, xl + sw + 2, w - xl - sw - 3, FW_ROLE_BAD, 0,
                              "%d value%s refused: fix %s first", bad, bad == 1 ? "" : "s",
                              bad == 1 ? "it" : "them");
            else
                fw_draw_text(app, y, xl + sw + 2, w - xl - sw - 3, FW_ROLE_DIM, 0,
                             "Enter here, or F2 / Ctrl-S anywhere, starts the run");
            continue;
        }
        int invalid = fw_run_form_row_invalid(f, row);
        int changed = fw_run_form_row_changed(f, row);
        fw_theme_role vrole = invalid ? FW_ROLE_BAD : changed ? FW_ROLE_ACCENT : FW_ROLE_TEXT;
        fw_draw_text(app, y, xl, lw, sel ? FW_ROLE_SELECTION : FW_ROLE_TEXT, sel ? A_BOLD : 0,
                     fw_run_form_label(f, row));
        if (sel && f->editing) { /* the edit gets the value and doc columns */
            draw_edit(app, f, y, xv, w - xv - 1, vrole);
            continue;
        }
        const char *value = fw_run_form_text(f, row);
        if (!value[0] && row == 0)
            fw_draw_text(app, y, xv, vw, FW_ROLE_DIM, sel ? A_REVERSE : 0, "(run)");
        else if (!value[0])
            fw_draw_text(app, y, xv, vw, FW_ROLE_DIM, sel ? A_REVERSE : 0, "(empty)");
        else
            fw_draw_text(app, y, xv, vw, vrole, (changed ? A_BOLD : 0) | (sel ? A_REVERSE : 0),
                         value);
        const char *doc = invalid ? fw_run_form_row_error(f, row)
                          : row == 0 ? "a name for the run (shown in the table)"
                                     : f->fields[row].key->doc;
        if (xd < w - 2)
            fw_draw_text(app, y, xd, w - xd - 1, invalid ? FW_ROLE_BAD : FW_ROLE_DIM, 0, doc);
    }
    /* The bottom row: what the form holds. */
    int yb = top + h - 1;
    int n_changed = 0;
    for (int i = 0; i < f->n_fields; i++)
        n_changed += fw_run_form_row_changed(f, i);
    char status[320];
    snprintf(status, sizeof status, "%d of %d values differ from the defaults%s%s  ·  row %d/%d",
             n_changed, f->n_fields - 1, f->parent[0] ? "  ·  parent " : "", f->parent,
             f->sel + 1, rows);
    fw_draw_text(app, yb, 1, w - 2, FW_ROLE_DIM, 0, status);
}

static void form_close(runs_screen *rs)
{
    if (rs->form) {
        fw_run_form_free(rs->form);
        free(rs->form);
        rs->form = NULL;
    }
    rs->form_last_error[0] = '\0';
}

static void form_open(runs_screen *rs, fw_app *app, const fw_run_info *src, int clone)
{
    form_close(rs);
    fw_run_form *f = calloc(1, sizeof *f);
    if (!f) {
        fw_app_message(app, FW_ROLE_BAD, "out of memory for the form");
        return;
    }
    fw_error err;
    fw_error_clear(&err);
    const char *text = src ? src->config : NULL;
    int rc = fw_run_form_init(f, text, clone ? src->name : "", clone ? src->id : NULL, &err);
    int from_src = rc == FW_OK && src;
    if (rc != FW_OK && src) { /* a config that no longer parses: the defaults */
        fw_app_message(app, FW_ROLE_WARNING, "%s's config: %s; the form starts from the defaults",
                       src->id, err.msg);
        rc = fw_run_form_init(f, NULL, clone ? src->name : "", clone ? src->id : NULL, &err);
    }
    if (rc != FW_OK) {
        fw_app_message(app, FW_ROLE_BAD, "%s", err.msg);
        free(f);
        return;
    }
    rs->form = f;
    if (clone)
        snprintf(rs->form_title, sizeof rs->form_title, "Clone %s (%s) with changes", src->id,
                 src->name);
    else if (from_src)
        snprintf(rs->form_title, sizeof rs->form_title, "New run (from %s's config)", src->id);
    else
        snprintf(rs->form_title, sizeof rs->form_title, "New run");
}

static void form_submit(runs_screen *rs, fw_app *app)
{
    fw_run_config cfg;
    char name[FW_FORM_NAME_MAX];
    fw_error err;
    fw_error_clear(&err);
    if (fw_run_form_build(rs->form, &cfg, name, &err) != FW_OK) {
        fw_app_message(app, FW_ROLE_BAD, "cannot start: %s", err.msg);
        snprintf(rs->form_last_error, sizeof rs->form_last_error, "%s", err.msg);
        return;
    }
    /* An absolute dataset path, so the run works from any directory. */
    char *abs = realpath(cfg.dataset, NULL);
    if (abs && strlen(abs) < sizeof cfg.dataset)
        snprintf(cfg.dataset, sizeof cfg.dataset, "%s", abs);
    free(abs);
    char parent[FW_RUN_ID_CAP], id[FW_RUN_ID_CAP];
    snprintf(parent, sizeof parent, "%s", rs->form->parent);
    if (fw_app_start_run(app, &cfg, name, parent[0] ? parent : NULL, 0, id, &err) != FW_OK) {
        fw_app_message(app, FW_ROLE_BAD, "cannot start: %s", err.msg);
        return;
    }
    form_close(rs);
    fw_app_select(app, id);
    fw_app_message(app, FW_ROLE_GOOD, "started %s (%s)%s%s", id, name[0] ? name : "run",
                   parent[0] ? ", a clone of " : "", parent);
}

/* The ncurses key as a form key (-1: none). */
static int form_key_code(int ch)
{
    switch (ch) {
    case KEY_UP: return FW_FORM_KEY_UP;
    case KEY_DOWN: return FW_FORM_KEY_DOWN;
    case KEY_LEFT: return FW_FORM_KEY_LEFT;
    case KEY_RIGHT: return FW_FORM_KEY_RIGHT;
    case KEY_HOME: return FW_FORM_KEY_HOME;
    case KEY_END: return FW_FORM_KEY_END;
    case KEY_PPAGE: return FW_FORM_KEY_PGUP;
    case KEY_NPAGE: return FW_FORM_KEY_PGDN;
    case KEY_BACKSPACE:
    case 127:
    case 8: return FW_FORM_KEY_BACKSPACE;
    case KEY_DC: return FW_FORM_KEY_DELETE;
    case '\n':
    case '\r':
    case KEY_ENTER: return FW_FORM_KEY_ENTER;
    case '\t': return FW_FORM_KEY_TAB;
    case KEY_BTAB: return FW_FORM_KEY_BTAB;
    case 27: return FW_FORM_KEY_ESC;
    case CTRL_S: return FW_FORM_KEY_SUBMIT;
    default: break;
    }
    if (ch == KEY_F(2))
        return FW_FORM_KEY_SUBMIT;
    return ch >= 0 && ch < 0x100 ? ch : -1;
}

static int form_mouse(runs_screen *rs, fw_app *app)
{
    const MEVENT *m = fw_app_mouse(app);
    fw_run_form *f = rs->form;
    if (m->bstate & BUTTON4_PRESSED)
        return fw_run_form_key(f, FW_FORM_KEY_UP) != FW_FORM_IGNORED;
    if (m->bstate & BUTTON5_PRESSED)
        return fw_run_form_key(f, FW_FORM_KEY_DOWN) != FW_FORM_IGNORED;
    if (!(m->bstate & (BUTTON1_CLICKED | BUTTON1_PRESSED)))
        return 1;
    int r = m->y - rs->form_list_y;
    if (r < 0 || r >= rs->form_list_rows || f->top + r >= fw_run_form_rows(f))
        return 1;
    int row = f->top + r;
    if (fw_run_form_is_start_row(f, row) && f->sel == row)
        form_submit(rs, app); /* a second click on [ Start ] */
    else
        fw_run_form_select(f, row);
    return 1;
}

static int form_key(runs_screen *rs, fw_app *app, int ch)
{
    fw_run_form *f = rs->form;
    if (ch == KEY_MOUSE)
        return form_mouse(rs, app);
    int code = form_key_code(ch);
    if (code < 0 && !f->editing)
        return 0; /* function keys: the app's (Ctrl-L redraws) */
    fw_form_result r = fw_run_form_key(f, code < 0 ? 0x2000 : code);
    if (r == FW_FORM_IGNORED)
        return 0; /* Ctrl-C, Ctrl-L outside an edit */
    if (r == FW_FORM_CLOSE) {
        form_close(rs);
        fw_app_message(app, FW_ROLE_TEXT, "new run cancelled");
        rs->signature = 0; /* the table shows again: redraw it */
        return 1;
    }
    if (r == FW_FORM_SUBMIT) {
        form_submit(rs, app);
        return 1;
    }
    /* Say the selected value's error once, and clear it once fixed. */
    const char *e = fw_run_form_error(f);
    if (e && strcmp(e, rs->form_last_error) != 0) {
        fw_app_message(app, FW_ROLE_BAD, "%s", e);
        snprintf(rs->form_last_error, sizeof rs->form_last_error, "%s", e);
    } else if (!e && rs->form_last_error[0]) {
        fw_app_message(app, FW_ROLE_TEXT, "%s", "");
        rs->form_last_error[0] = '\0';
    }
    return 1;
}

/* ------------------------------------------------------------- actions */

static const fw_run_info *selected_run(runs_screen *rs, fw_app *app)
{
    (void)rs;
    const fw_run_info *r = fw_app_selected_info(app);
    if (!r)
        fw_app_message(app, FW_ROLE_WARNING, "no run selected");
    return r;
}

static void do_stop(fw_app *app, void *ctx)
{
    runs_screen *rs = ctx;
    fw_error err;
    fw_error_clear(&err);
    if (fw_app_control(app, rs->pending_id, FW_CONTROL_STOP, &err) != FW_OK)
        fw_app_message(app, FW_ROLE_BAD, "stop %s: %s", rs->pending_id, err.msg);
    else
        fw_app_message(app, FW_ROLE_WARNING, "stopping %s (a checkpoint is saved; r resumes it)",
                       rs->pending_id);
}

static void do_delete(fw_app *app, void *ctx)
{
    runs_screen *rs = ctx;
    fw_error err;
    fw_error_clear(&err);
    /* The neighbour takes the selection (the next run, else the one before). */
    int n = 0;
    const fw_run_info *runs = fw_app_runs(app, &n);
    int idx = find_run(runs, n, rs->pending_id);
    char next[FW_RUN_ID_CAP] = "";
    if (idx >= 0 && idx + 1 < n)
        snprintf(next, sizeof next, "%s", runs[idx + 1].id);
    else if (idx > 0)
        snprintf(next, sizeof next, "%s", runs[idx - 1].id);
    if (fw_store_run_delete(fw_app_store(app), rs->pending_id, &err) != FW_OK) {
        fw_app_message(app, FW_ROLE_BAD, "delete %s: %s", rs->pending_id, err.msg);
        return;
    }
    if (!strcmp(fw_app_selected(app), rs->pending_id))
        fw_app_select(app, next);
    if (fw_store_run_remove_files(fw_app_workspace(app), rs->pending_id, &err) != FW_OK)
        fw_app_message(app, FW_ROLE_WARNING, "deleted %s from the store; its files: %s",
                       rs->pending_id, err.msg);
    else
        fw_app_message(app, FW_ROLE_GOOD, "deleted %s and its checkpoints", rs->pending_id);
}

static void do_rename(fw_app *app, void *ctx, const char *text)
{
    runs_screen *rs = ctx;
    fw_error err;
    fw_error_clear(&err);
    if (!text[0]) {
        fw_app_message(app, FW_ROLE_BAD, "a run needs a name; %s keeps its own", rs->pending_id);
        return;
    }
    if (fw_store_run_rename(fw_app_store(app), rs->pending_id, text, &err) != FW_OK)
        fw_app_message(app, FW_ROLE_BAD, "rename %s: %s", rs->pending_id, err.msg);
    else
        fw_app_message(app, FW_ROLE_GOOD, "%s is now called %s", rs->pending_id, text);
}

static void toggle_pause(fw_app *app, const fw_run_info *r)
{
    fw_trainer_state ts;
    int here = fw_app_trainer_state(app, r->id, &ts);
    int paused = here ? ts.phase == FW_PHASE_PAUSED : r->status == FW_RUN_PAUSED;
    if (!here && !is_live_status(r->status)) {
        if (r->status == FW_RUN_INTERRUPTED)
            fw_app_message(app, FW_ROLE_WARNING, "%s is interrupted: r resumes it", r->id);
        else
            fw_app_message(app, FW_ROLE_WARNING, "%s is %s: nothing to pause", r->id,
                           fw_run_status_name(r->status));
        return;
    }
    fw_error err;
    fw_error_clear(&err);
    fw_control_action a = paused ? FW_CONTROL_RESUME : FW_CONTROL_PAUSE;
    if (fw_app_control(app, r->id, a, &err) != FW_OK) {
        fw_app_message(app, FW_ROLE_BAD, "%s %s: %s", fw_control_action_name(a), r->id, err.msg);
        return;
    }
    if (here)
        fw_app_message(app, FW_ROLE_TEXT, "%s %s", paused ? "resuming" : "pausing", r->id);
    else
        fw_app_message(app, FW_ROLE_TEXT, "asked pid %lld to %s %s", (long long)r->owner_pid,
                       fw_control_action_name(a), r->id);
}

static void ask_stop(runs_screen *rs, fw_app *app, const fw_run_info *r)
{
    fw_trainer_state ts;
    int here = fw_app_trainer_state(app, r->id, &ts);
    if (!here && !is_live_status(r->status)) {
        fw_app_message(app, FW_ROLE_WARNING, "%s is %s: nothing to stop", r->id,
                       fw_run_status_name(r->status));
        return;
    }
    snprintf(rs->pending_id, sizeof rs->pending_id, "%s", r->id);
    char q[320];
    snprintf(q, sizeof q, "Stop %s (%s)? A checkpoint is saved; r resumes it.", r->id, r->name);
    fw_app_confirm(app, q, do_stop, rs);
}

static void ask_delete(runs_screen *rs, fw_app *app, const fw_run_info *r)
{
    fw_trainer_state ts;
    if (fw_app_trainer_state(app, r->id, &ts) || is_live_status(r->status)) {
        fw_app_message(app, FW_ROLE_BAD, "%s is %s: stop it first (s), then delete it", r->id,
                       is_live_status(r->status) ? fw_run_status_name(r->status) : "training here");
        return;
    }
    snprintf(rs->pending_id, sizeof rs->pending_id, "%s", r->id);
    char q[320];
    snprintf(q, sizeof q, "Delete %s (%s) with its metrics and checkpoints?", r->id, r->name);
    fw_app_confirm(app, q, do_delete, rs);
}

static void resume_run(fw_app *app, const fw_run_info *r)
{
    fw_error err;
    fw_error_clear(&err);
    if (fw_app_resume_run(app, r->id, &err) != FW_OK)
        fw_app_message(app, FW_ROLE_BAD, "resume: %s", err.msg);
    else
        fw_app_message(app, FW_ROLE_GOOD, "resuming %s", r->id);
}

/* ------------------------------------------------------------- keys */

static void move_selection(runs_screen *rs, fw_app *app, int to)
{
    int n = 0;
    const fw_run_info *runs = fw_app_runs(app, &n);
    if (n == 0)
        return;
    if (to < 0)
        to = 0;
    if (to >= n)
        to = n - 1;
    rs->sel_index = to;
    fw_app_select(app, runs[to].id);
}

static int table_mouse(runs_screen *rs, fw_app *app)
{
    const MEVENT *m = fw_app_mouse(app);
    int cur = rs->sel_index;
    if (m->bstate & BUTTON4_PRESSED) {
        move_selection(rs, app, cur - 1);
        return 1;
    }
    if (m->bstate & BUTTON5_PRESSED) {
        move_selection(rs, app, cur + 1);
        return 1;
    }
    if (!(m->bstate & (BUTTON1_CLICKED | BUTTON1_PRESSED)))
        return 0;
    int r = m->y - rs->rows_y;
    if (r < 0 || r >= rs->rows_shown)
        return 0;
    move_selection(rs, app, rs->first_row + r);
    return 1;
}

static int runs_key(void *self, fw_app *app, int ch)
{
    runs_screen *rs = self;
    if (rs->form)
        return form_key(rs, app, ch);
    int n = 0;
    const fw_run_info *runs = fw_app_runs(app, &n);
    int cur = find_run(runs, n, fw_app_selected(app));
    if (cur < 0)
        cur = rs->sel_index;
    int page = rs->rows_shown > 1 ? rs->rows_shown - 1 : 1;
    const fw_run_info *r;
    switch (ch) {
    case 'j':
    case KEY_DOWN: move_selection(rs, app, cur + 1); return 1;
    case 'k':
    case KEY_UP: move_selection(rs, app, cur - 1); return 1;
    case KEY_NPAGE: move_selection(rs, app, cur + page); return 1;
    case KEY_PPAGE: move_selection(rs, app, cur - page); return 1;
    case 'g':
    case KEY_HOME: move_selection(rs, app, 0); return 1;
    case 'G':
    case KEY_END: move_selection(rs, app, n - 1); return 1;
    case KEY_MOUSE: return table_mouse(rs, app);
    case '\n':
    case '\r':
    case KEY_ENTER:
        if (n > 0)
            fw_app_show_screen(app, &fw_screen_plots);
        return 1;
    case 'n':
        form_open(rs, app, fw_app_selected_info(app), 0);
        return 1;
    case 'c':
        if ((r = selected_run(rs, app)))
            form_open(rs, app, r, 1);
        return 1;
    case 'p':
        if ((r = selected_run(rs, app)))
            toggle_pause(app, r);
        return 1;
    case 's':
        if ((r = selected_run(rs, app)))
            ask_stop(rs, app, r);
        return 1;
    case 'r':
        if ((r = selected_run(rs, app)))
            resume_run(app, r);
        return 1;
    case 'R':
        if ((r = selected_run(rs, app))) {
            snprintf(rs->pending_id, sizeof rs->pending_id, "%s", r->id);
            char label[64];
            snprintf(label, sizeof label, "Rename %s", r->id);
            fw_app_prompt(app, label, r->name, do_rename, rs);
        }
        return 1;
    case 'D':
        if ((r = selected_run(rs, app)))
            ask_delete(rs, app, r);
        return 1;
    default:
        return 0;
    }
}

/* ------------------------------------------------------------- draw */

static void runs_draw(void *self, fw_app *app, int top, int h, int w)
{
    runs_screen *rs = self;
    fw_draw_clear(app, top, 0, h, w);
    if (rs->form) {
        draw_form(rs, app, top, h, w);
        return;
    }
    int n = 0;
    const fw_run_info *runs = fw_app_runs(app, &n);
    table_cols c;
    layout_columns(rs, app, runs, n, w, &c);
    if (n == 0) {
        rs->rows_shown = 0;
        draw_header(rs, app, top, w, &c, 0);
        fw_draw_text(app, top + 2, 2, w - 4, FW_ROLE_TEXT, 0, "No runs in this workspace yet.");
        fw_draw_text(app, top + 3, 2, w - 4, FW_ROLE_DIM, 0,
                     "n opens the new-run form; or: flukewatch train --dataset DIR");
        fw_draw_textf(app, top + 4, 2, w - 4, FW_ROLE_DIM, 0, "workspace: %s",
                      fw_app_workspace(app));
        return;
    }
    /* The details pane gets at least ~40% of the rows; the table the rest. */
    int details_min = h * 2 / 5 > 8 ? h * 2 / 5 : 8;
    if (details_min > h - 4)
        details_min = h - 4;
    int max_rows = h - 1 - details_min;
    if (max_rows < 1)
        max_rows = 1;
    int rows = n < max_rows ? n : max_rows;
    int sel = find_run(runs, n, fw_app_selected(app));
    if (sel < 0)
        sel = rs->sel_index < n ? rs->sel_index : n - 1;
    if (sel < rs->first_row)
        rs->first_row = sel;
    if (sel >= rs->first_row + rows)
        rs->first_row = sel - rows + 1;
    if (rs->first_row > n - rows)
        rs->first_row = n - rows;
    if (rs->first_row < 0)
        rs->first_row = 0;
    rs->rows_shown = rows;
    rs->rows_y = top + 1;
    draw_header(rs, app, top, w, &c, n);
    for (int i = 0; i < rows; i++) {
        int k = rs->first_row + i;
        draw_row(rs, app, top + 1 + i, w, &c, &runs[k], k == sel);
    }
    const fw_run_info *selected = fw_app_selected_info(app);
    if (selected && !strcmp(rs->detail_id, selected->id))
        draw_details(rs, app, top + 1 + rows, h - 1 - rows, w, selected);
    else
        fw_draw_rule(app, top + 1 + rows, 0, w, NULL);
    draw_scroll_position(rs, app, top + 1 + rows, w, n);
}

/* ------------------------------------------------------------- life */

static void *runs_create(fw_app *app)
{
    (void)app;
    runs_screen *rs = calloc(1, sizeof *rs);
    if (!rs)
        return NULL;
    if (gethostname(rs->host, sizeof rs->host) != 0)
        snprintf(rs->host, sizeof rs->host, "unknown");
    rs->host[sizeof rs->host - 1] = '\0';
    return rs;
}

static void runs_destroy(void *self)
{
    runs_screen *rs = self;
    if (!rs)
        return;
    form_close(rs);
    details_clear(rs);
    free(rs->cache);
    free(rs);
}

/* Every callback copes with a NULL self (create ran out of memory). */
static int tick_cb(void *self, fw_app *app) { return self ? runs_tick(self, app) : 0; }
static int key_cb(void *self, fw_app *app, int ch) { return self ? runs_key(self, app, ch) : 0; }

static void draw_cb(void *self, fw_app *app, int top, int h, int w)
{
    if (self)
        runs_draw(self, app, top, h, w);
    else
        fw_draw_text(app, top + 1, 2, w - 4, FW_ROLE_BAD, 0, "Runs: out of memory");
}

const fw_screen_ops fw_screen_runs = {
    .title = "Runs",
    .hints = RUNS_HINTS,
    .create = runs_create,
    .destroy = runs_destroy,
    .tick = tick_cb,
    .draw = draw_cb,
    .key = key_cb,
};
