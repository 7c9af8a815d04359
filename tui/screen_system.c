/* screen_system.c — the System screen: per GPU utilisation, memory,
 * temperature and power with history sparklines (or, without a GPU, why
 * not, plainly); overall CPU and memory with sparklines, this process's CPU
 * and RSS, every core as a bar; and for the runs this process trains and
 * the selected run, loader images/s, the data-wait share of each step and
 * the step time. Data from tui/telemetry.h, sampled at the refresh rate
 * while the screen is shown; run figures from the trainers' states or, for
 * other processes' runs, from the store's train.* metrics. */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "run_config.h"
#include "telemetry.h"

#define HISTORY_LEN 240     /* samples kept per series (the widest sparkline) */
#define SPARK_MAX HISTORY_LEN /* widest sparkline drawn */
#define BATCH_CACHE 32      /* runs whose batch size is remembered */
#define MAX_TABLE_RUNS 16

typedef struct batch_entry {
    char id[FW_RUN_ID_CAP];
    int batch;              /* sampler.p * sampler.k; 0 when the config did not parse */
} batch_entry;

/* Figures of a run trained by another process, from its metrics. */
typedef struct foreign_run {
    char id[FW_RUN_ID_CAP];
    int64_t after_ips, after_wait, after_loss; /* rowids read */
    double img_per_s, data_wait, epoch;        /* latest per-epoch values (NaN: none) */
    int64_t step, prev_step;                   /* latest train.loss steps */
    double wall, prev_wall;
    int final_read;                            /* an ended run was read once */
} foreign_run;

typedef struct system_screen {
    fw_telemetry *tel;
    char open_error[sizeof(fw_error){0}.msg];
    double last_sample;
    batch_entry batches[BATCH_CACHE];
    int n_batches, next_batch;
    foreign_run foreign;
    int failed;
} system_screen;

static void foreign_reset(foreign_run *f, const char *id)
{
    memset(f, 0, sizeof *f);
    snprintf(f->id, sizeof f->id, "%s", id);
    f->img_per_s = f->data_wait = f->epoch = NAN;
    f->step = f->prev_step = -1;
}

static void *sys_create(fw_app *app)
{
    (void)app;
    system_screen *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    fw_error err;
    fw_error_clear(&err);
    if (fw_telemetry_open(&s->tel, HISTORY_LEN, &err) < 0) {
        s->tel = NULL;
        snprintf(s->open_error, sizeof s->open_error, "%s", err.msg);
    }
    s->last_sample = -1e9;
    foreign_reset(&s->foreign, "");
    return s;
}

static void sys_destroy(void *self)
{
    system_screen *s = self;
    if (!s)
        return;
    fw_telemetry_close(s->tel);
    free(s);
}

/* ------------------------------------------------------------ data */

/* The batch size of a run (from its config text), remembered. */
static int batch_of(system_screen *s, const fw_run_info *r)
{
    for (int i = 0; i < s->n_batches; i++)
        if (!strcmp(s->batches[i].id, r->id))
            return s->batches[i].batch;
    fw_run_config cfg;
    fw_run_config_default(&cfg);
    fw_error err;
    int batch = 0;
    if (r->config && r->config[0] && fw_run_config_parse(&cfg, r->config, r->id, &err) == FW_OK)
        batch = cfg.sampler_p * cfg.sampler_k;
    batch_entry *e = &s->batches[s->n_batches < BATCH_CACHE ? s->n_batches++ : s->next_batch++];
    s->next_batch %= BATCH_CACHE;
    snprintf(e->id, sizeof e->id, "%s", r->id);
    e->batch = batch;
    return batch;
}

/* New points of one metric: the newest value (and step, epoch, wall time). */
static int read_latest(fw_store *st, const char *run, const char *name, int64_t *after,
                       fw_metric_point *last, int *got, fw_error *err)
{
    fw_metric_query q = {.run_id = run, .name = name, .after_rowid = *after};
    fw_metric_point *p = NULL;
    int n = 0;
    *got = 0;
    FW_TRY(fw_store_metrics_read(st, &q, &p, &n, err));
    if (n > 0) {
        *last = p[n - 1];
        *after = p[n - 1].rowid;
        *got = n;
    }
    free(p);
    return FW_OK;
}

/* Refresh the selected run's figures when another process trains it. */
static int poll_foreign(system_screen *s, fw_app *app, const fw_run_info *info, fw_error *err)
{
    foreign_run *f = &s->foreign;
    int live = info->status == FW_RUN_RUNNING || info->status == FW_RUN_PAUSED;
    if (!live && f->final_read)
        return 0;
    fw_store *st = fw_app_store(app);
    fw_metric_point p;
    int got, changed = 0;
    FW_TRY(read_latest(st, info->id, "train.img_per_s", &f->after_ips, &p, &got, err));
    if (got) {
        f->img_per_s = p.value;
        f->epoch = p.epoch;
        changed = 1;
    }
    FW_TRY(read_latest(st, info->id, "train.data_wait", &f->after_wait, &p, &got, err));
    if (got) {
        f->data_wait = p.value;
        changed = 1;
    }
    if (live) { /* step and its time from the per-step loss (only while it trains) */
        FW_TRY(read_latest(st, info->id, "train.loss", &f->after_loss, &p, &got, err));
        if (got) {
            f->prev_step = f->step, f->prev_wall = f->wall;
            f->step = p.step, f->wall = p.wall_time;
            changed = 1;
        }
    }
    if (!live)
        f->final_read = 1;
    return changed;
}

/* One telemetry sample per refresh period; 1 when one was taken. */
static int sample_telemetry(system_screen *s, fw_app *app)
{
    double now = fw_app_now();
    double period = fw_app_user_config(app)->refresh_ms / 1000.0;
    if (!s->tel || now - s->last_sample < 0.9 * period)
        return 0;
    fw_error err;
    fw_error_clear(&err);
    if (fw_telemetry_sample(s->tel, &err) < 0) {
        if (!s->failed)
            fw_app_message(app, FW_ROLE_BAD, "telemetry: %s", err.msg);
        s->failed = 1;
    }
    s->last_sample = now;
    return 1;
}

/* While another screen shows: keep the histories without gaps. */
static void sys_background(void *self, fw_app *app)
{
    if (self)
        sample_telemetry(self, app);
}

static int sys_tick(void *self, fw_app *app)
{
    system_screen *s = self;
    int changed = sample_telemetry(s, app);
    const fw_run_info *info = fw_app_selected_info(app);
    fw_trainer_state ts;
    if (info && !fw_app_trainer_state(app, info->id, &ts)) {
        if (strcmp(s->foreign.id, info->id))
            foreign_reset(&s->foreign, info->id);
        fw_error err;
        fw_error_clear(&err);
        int rc = poll_foreign(s, app, info, &err);
        if (rc < 0 && !s->failed) {
            fw_app_message(app, FW_ROLE_BAD, "system: %s", err.msg);
            s->failed = 1;
        }
        changed |= rc > 0;
    }
    return changed;
}

/* ------------------------------------------------------------ drawing */

static fw_spark_glyphs glyphs(fw_app *app)
{
    return fw_app_utf8(app) ? FW_SPARK_UTF8 : FW_SPARK_ASCII;
}

/* A sparkline of the ring's newest values in `width` cells; returns width. */
static int draw_spark(fw_app *app, int y, int x, int width, const fw_ring *r, double lo,
                      double hi)
{
    if (width > SPARK_MAX)
        width = SPARK_MAX;
    if (width <= 0 || !r)
        return 0;
    char buf[FW_SPARKLINE_BYTES(SPARK_MAX)];
    fw_sparkline_ring(r, width, lo, hi, glyphs(app), buf, sizeof buf);
    fw_draw_text(app, y, x, width, FW_ROLE_SPARKLINE, 0, buf);
    return width;
}

/* label, value, then a sparkline of spark_w cells; label and value take
 * label_w and value_w columns when those are > 0 (so meters stacked in a
 * column line up). Returns the columns used. */
static int draw_meter(fw_app *app, int y, int x, int w, const char *label, int label_w,
                      const char *value, int value_w, const fw_ring *r, double lo, double hi,
                      int spark_w)
{
    int x0 = x;
    int used = fw_draw_text(app, y, x, w - (x - x0), FW_ROLE_DIM, 0, label);
    x += used > label_w ? used : label_w;
    used = fw_draw_text(app, y, x, w - (x - x0), FW_ROLE_TEXT, 0, value);
    x += used > value_w ? used : value_w;
    if (spark_w > 0 && w - (x - x0) > spark_w) {
        x += fw_draw_text(app, y, x, 1, FW_ROLE_TEXT, 0, " ");
        x += draw_spark(app, y, x, spark_w, r, lo, hi);
    }
    return x - x0;
}

static void gib(char *out, size_t cap, uint64_t bytes)
{
    snprintf(out, cap, "%.1f", (double)bytes / (1024.0 * 1024.0 * 1024.0));
}

static void pct(char *out, size_t cap, double v)
{
    if (isfinite(v))
        snprintf(out, cap, "%3.0f%%", v);
    else
        snprintf(out, cap, "  -%%");
}

/* One GPU in one row (narrow) or two (room to spare). Returns rows used. */
static int draw_gpu(system_screen *s, fw_app *app, int g, int y, int rows, int w)
{
    const fw_gpu_reading *r = fw_telemetry_gpu(s->tel, g);
    if (!r)
        return 0;
    char v[4][48];
    if (r->has_util) snprintf(v[0], sizeof v[0], "%3u%%", r->util_gpu);
    else snprintf(v[0], sizeof v[0], "  -");
    if (r->has_memory) {
        char used[16], total[16];
        gib(used, sizeof used, r->memory_used);
        gib(total, sizeof total, r->memory_total);
        snprintf(v[1], sizeof v[1], "%s/%s GiB", used, total);
    } else {
        snprintf(v[1], sizeof v[1], "-");
    }
    if (r->has_temp) snprintf(v[2], sizeof v[2], fw_app_utf8(app) ? "%3u°C" : "%3u C", r->temp_c);
    else snprintf(v[2], sizeof v[2], "  -");
    if (r->has_power) snprintf(v[3], sizeof v[3], "%4.0f W", r->power_w);
    else snprintf(v[3], sizeof v[3], "   -");
    const fw_ring *h[4];
    for (int m = 0; m < 4; m++)
        h[m] = fw_telemetry_gpu_history(s->tel, g, (fw_gpu_metric)m);
    const double lo[4] = {0, 0, NAN, 0}, hi[4] = {100, 100, NAN, NAN};
    const char *labels[4] = {" util ", " mem ", " temp ", " power "}; /* util, memory, temp, power */

    int name_w = rows >= 2 ? 24 : 14;
    fw_draw_textf(app, y, 0, 3, FW_ROLE_ACCENT, A_BOLD, "%d", g);
    int x = 3;
    fw_draw_text(app, y, x, name_w, FW_ROLE_TEXT, 0, r->name);
    x += name_w;
    if (rows >= 2) {
        /* row 1: util and memory; row 2 (under them): temperature and power */
        int spark = (w - x - 2 * 26) / 2;
        spark = spark < 4 ? 4 : spark > 40 ? 40 : spark;
        const int label_w = 7, value_w[2] = {5, 17};
        int col2 = x + label_w + value_w[0] + 1 + spark + 2;
        for (int m = 0; m < 4; m++) {
            int right = m % 2, xx = right ? col2 : x;
            draw_meter(app, y + m / 2, xx, right ? w - col2 : col2 - x, labels[m], label_w,
                       v[m], value_w[right], h[m], lo[m], hi[m], spark);
        }
        if (r->error[0] && w - x > 10)
            fw_draw_text(app, y + 1, 3, name_w - 1, FW_ROLE_WARNING, 0, r->error);
        return 2;
    }
    /* one row: compact values (memory in %) and short sparklines */
    if (r->has_memory && r->memory_total)
        snprintf(v[1], sizeof v[1], "%3.0f%%", 100.0 * r->memory_used / r->memory_total);
    int fixed = 6 + 4 + 5 + 4 + 6 + 5 + 7 + 6; /* labels and values */
    int spark = (w - x - fixed) / 4 - 1;
    if (spark > 12)
        spark = 12;
    for (int m = 0; m < 4 && x < w; m++)
        x += draw_meter(app, y, x, w - x, labels[m], 0, v[m], 0, h[m], lo[m], hi[m],
                        spark >= 3 ? spark : 0);
    return 1;
}

/* A bar of `width` cells for pct (0..100): eighths in UTF-8, '#' otherwise. */
static void draw_bar(fw_app *app, int y, int x, int width, double p)
{
    static const char *const eighths[8] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};
    int utf8 = fw_app_utf8(app);
    double f = isfinite(p) ? fmax(0, fmin(100, p)) / 100.0 : 0;
    int units = (int)lround(f * width * (utf8 ? 8 : 1));
    int full = utf8 ? units / 8 : units, part = utf8 ? units % 8 : 0;
    char buf[4 * 256 + 1];
    size_t n = 0;
    if (width > 256)
        width = 256;
    for (int i = 0; i < full && i < width; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s", utf8 ? "█" : "#");
    int cells = full;
    if (part && cells < width) {
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s", eighths[part]);
        cells++;
    }
    buf[n] = '\0';
    int used = fw_draw_text(app, y, x, width, FW_ROLE_SPARKLINE, 0, buf);
    char rest[257];
    int r = width - used;
    if (r > 0) {
        memset(rest, utf8 ? ' ' : '.', (size_t)r);
        rest[r] = '\0';
        fw_draw_text(app, y, x + used, r, FW_ROLE_DIM, 0, rest);
    }
}

/* Every core: bars in columns, or one glyph each when there are too many.
 * Returns rows used (at most max_rows). */
static int draw_cores(system_screen *s, fw_app *app, int y, int max_rows, int w)
{
    int n = fw_telemetry_core_count(s->tel);
    if (n <= 0 || max_rows <= 0)
        return 0;
    int digits = n > 1000 ? 4 : n > 100 ? 3 : n > 10 ? 2 : 1;
    int cols = (n + max_rows - 1) / max_rows;
    int rows = (n + cols - 1) / cols;
    int cell_w = w / cols;
    int bar_w = cell_w - digits - 1 - 5 - 2; /* "NN " bar " 100%" gap */
    if (bar_w > 30)
        bar_w = 30;
    if (bar_w >= 3) {
        for (int c = 0; c < n; c++) {
            int row = c % rows, col = c / rows; /* down, then across */
            int x = col * cell_w, yy = y + row;
            fw_draw_textf(app, yy, x, digits + 1, FW_ROLE_DIM, 0, "%*d ", digits, c);
            x += digits + 1;
            if (!fw_telemetry_core_online(s->tel, c)) {
                fw_draw_text(app, yy, x, bar_w + 5, FW_ROLE_DIM, 0, "offline");
                continue;
            }
            double p = fw_telemetry_core_percent(s->tel, c);
            draw_bar(app, yy, x, bar_w, p);
            char v[16];
            pct(v, sizeof v, p);
            fw_draw_text(app, yy, x + bar_w + 1, 4, FW_ROLE_TEXT, 0, v);
        }
        return rows;
    }
    /* too many for bars: one level glyph per core, 2 cells each */
    int label_w = fw_draw_text(app, y, 0, w, FW_ROLE_DIM, 0, "cores ");
    int per_row = (w - label_w) / 2;
    if (per_row < 1)
        return 1;
    int used_rows = 0;
    for (int c = 0; c < n; c++) {
        int row = c / per_row;
        if (row >= max_rows)
            break;
        double p = fw_telemetry_core_percent(s->tel, c);
        char g[FW_SPARKLINE_BYTES(1)];
        double v = isfinite(p) ? p : NAN;
        fw_sparkline(&v, 1, 0, 100, glyphs(app), g, sizeof g);
        fw_draw_text(app, y + row, label_w + 2 * (c % per_row), 1, FW_ROLE_SPARKLINE, 0, g);
        used_rows = row + 1;
    }
    return used_rows;
}

/* One row of the run table. */
typedef struct run_row {
    const fw_run_info *info;
    int own;
    fw_trainer_state st;
} run_row;

static void fmt_step_time(char *out, size_t cap, double seconds)
{
    if (!(seconds > 0) || !isfinite(seconds))
        snprintf(out, cap, "-");
    else if (seconds < 1)
        snprintf(out, cap, "%.0f ms", seconds * 1000);
    else
        snprintf(out, cap, "%.2f s", seconds);
}

static void draw_run_row(system_screen *s, fw_app *app, const run_row *rr, int y, int w)
{
    const fw_run_info *r = rr->info;
    int batch = batch_of(s, r);
    double ips = NAN, wait = NAN, step_s = NAN;
    char phase[24], step[48];
    if (rr->own) {
        const fw_trainer_state *st = &rr->st;
        int trained = st->phase == FW_PHASE_TRAINING || st->phase == FW_PHASE_EVALUATING ||
                      st->phase == FW_PHASE_PAUSED || st->phase == FW_PHASE_DONE;
        ips = trained && st->img_per_s > 0 ? st->img_per_s : NAN;
        /* data wait is measured per epoch: none before this process ends one */
        wait = trained && st->start_epoch >= 0 && st->epoch > st->start_epoch ? st->data_wait
                                                                                : NAN;
        snprintf(phase, sizeof phase, "%s", fw_trainer_phase_name(st->phase));
        if (trained || st->total_steps > 0)
            snprintf(step, sizeof step, "%lld/%lld", (long long)st->step,
                     (long long)st->total_steps);
        else if (st->total > 0)
            snprintf(step, sizeof step, "%ld/%ld", st->done, st->total);
        else
            snprintf(step, sizeof step, "-");
    } else {
        const foreign_run *f = &s->foreign;
        ips = f->img_per_s > 0 ? f->img_per_s : NAN;
        wait = f->data_wait;
        snprintf(phase, sizeof phase, "%s", fw_run_status_name(r->status));
        if (f->step >= 0)
            snprintf(step, sizeof step, "%lld", (long long)f->step);
        else if (isfinite(f->epoch))
            snprintf(step, sizeof step, "epoch %.0f", f->epoch);
        else
            snprintf(step, sizeof step, "-");
        if (f->prev_step >= 0 && f->step > f->prev_step && f->wall > f->prev_wall)
            step_s = (f->wall - f->prev_wall) / (double)(f->step - f->prev_step);
    }
    if (batch > 0 && ips > 0)
        step_s = batch / ips; /* a whole batch per step */
    char c_ips[24], c_wait[16], c_step[24];
    if (isfinite(ips))
        snprintf(c_ips, sizeof c_ips, "%.1f", ips);
    else
        snprintf(c_ips, sizeof c_ips, "-");
    if (isfinite(wait))
        snprintf(c_wait, sizeof c_wait, "%.0f%%", 100 * wait);
    else
        snprintf(c_wait, sizeof c_wait, "-");
    fmt_step_time(c_step, sizeof c_step, step_s);
    fw_draw_text(app, y, 0, 6, rr->own ? FW_ROLE_ACCENT : FW_ROLE_TEXT, 0, r->id);
    fw_draw_text(app, y, 7, 12, FW_ROLE_DIM, 0, r->name);
    int x = 20;
    fw_draw_textf(app, y, x, w - x, FW_ROLE_TEXT, 0, "%-11s %9s %6s %9s  %s", phase, c_ips,
                  c_wait, c_step, step);
    /* the data-wait share as a small bar when there is room */
    int bx = x + 11 + 1 + 9 + 1 + 6 + 1 + 9 + 2 + 14;
    if (isfinite(wait) && bx + 12 <= w)
        draw_bar(app, y, bx, 10, 100 * wait);
}

static void sys_draw(void *self, fw_app *app, int top, int h, int w)
{
    system_screen *s = self;
    fw_draw_clear(app, top, 0, h, w);
    if (!s->tel) {
        fw_draw_textf(app, top, 0, w, FW_ROLE_BAD, 0, "telemetry unavailable: %s",
                      s->open_error);
        return;
    }
    /* the run table's rows: this process's runs, then the selected one */
    int nruns = 0;
    const fw_run_info *runs = fw_app_runs(app, &nruns);
    const fw_run_info *sel = fw_app_selected_info(app);
    run_row rows[MAX_TABLE_RUNS + 1];
    int nr = 0, sel_listed = 0;
    for (int i = 0; i < nruns && nr < MAX_TABLE_RUNS; i++) {
        if (fw_app_trainer_state(app, runs[i].id, &rows[nr].st)) {
            rows[nr].info = &runs[i];
            rows[nr].own = 1;
            sel_listed |= sel && !strcmp(sel->id, runs[i].id);
            nr++;
        }
    }
    if (sel && !sel_listed) {
        rows[nr].info = sel;
        rows[nr].own = 0;
        nr++;
    }
    int table_rows = 2 + (nr ? nr : 1);

    int ngpu = fw_telemetry_gpu_count(s->tel);
    int y = top, end = top + h;
    /* ---- GPUs */
    fw_draw_rule(app, y++, 0, w, ngpu == 1 ? "GPU" : "GPUs");
    int fixed_below = 4 + 1 + table_rows; /* cpu rule + 3 lines + >= 1 core row + table */
    if (ngpu == 0) {
        const char *why = fw_telemetry_gpu_status(s->tel);
        fw_draw_textf(app, y++, 0, w, FW_ROLE_DIM, 0, "no GPU figures: %s",
                      why && why[0] ? why : "NVML reported no GPU");
    } else {
        int room = end - y - fixed_below;
        int per = (w >= 100 && ngpu * 2 <= room) ? 2 : 1;
        int shown = 0;
        for (int g = 0; g < ngpu && (g == 0 || y + per <= end - fixed_below); g++, shown++)
            y += draw_gpu(s, app, g, y, per, w);
        if (shown < ngpu && y < end)
            fw_draw_textf(app, y++, 0, w, FW_ROLE_DIM, 0,
                          "... %d more GPU%s (a taller terminal shows them)", ngpu - shown,
                          ngpu - shown == 1 ? "" : "s");
    }
    /* ---- CPU, memory, this process */
    if (y < end)
        fw_draw_rule(app, y++, 0, w, "CPU and memory");
    int spark_w = w - 34;
    if (spark_w > SPARK_MAX)
        spark_w = SPARK_MAX;
    char v[96];
    if (y < end) {
        double cpu = fw_telemetry_cpu_percent(s->tel);
        char p[16];
        pct(p, sizeof p, cpu);
        snprintf(v, sizeof v, "%s of %d cores", p, fw_telemetry_core_count(s->tel));
        char padded[128];
        snprintf(padded, sizeof padded, "%-26s", v);
        draw_meter(app, y++, 0, w, "cpu    ", 0, padded, 0, fw_telemetry_cpu_history(s->tel), 0, 100,
                   spark_w);
    }
    if (y < end) {
        const fw_meminfo *m = fw_telemetry_memory(s->tel);
        char used[16], total[16];
        gib(used, sizeof used, m->used);
        gib(total, sizeof total, m->total);
        snprintf(v, sizeof v, "%s/%s GiB %3.0f%%", used, total,
                 m->total ? 100.0 * (double)m->used / (double)m->total : 0.0);
        char padded[128];
        snprintf(padded, sizeof padded, "%-26s", v);
        draw_meter(app, y++, 0, w, "memory ", 0, padded, 0, fw_telemetry_memory_history(s->tel), 0,
                   100, spark_w);
    }
    if (y < end) {
        const fw_proc_usage *u = fw_telemetry_self(s->tel);
        double c = fw_telemetry_self_cpu_percent(s->tel);
        char p[16];
        pct(p, sizeof p, c);
        int x = fw_draw_text(app, y, 0, w, FW_ROLE_DIM, 0, "this process ");
        fw_draw_textf(app, y++, x, w - x, FW_ROLE_TEXT, 0,
                      "cpu %s of a core  rss %.0f MiB  %d thread%s  %d training", p,
                      (double)u->rss_bytes / (1024.0 * 1024.0), u->threads,
                      u->threads == 1 ? "" : "s", fw_app_active_count(app));
    }
    /* ---- cores, in what is left above the table */
    int core_rows = end - y - table_rows;
    if (core_rows > 0)
        y += draw_cores(s, app, y, core_rows, w);
    /* ---- runs */
    if (y >= end)
        return;
    fw_draw_rule(app, y++, 0, w, "Training");
    if (y >= end)
        return;
    fw_draw_textf(app, y++, 0, w, FW_ROLE_DIM, 0, "%-6s %-12s %-11s %9s %6s %9s  %s", "run",
                  "name", "phase", "images/s", "wait", "step time", "step");
    if (nr == 0 && y < end)
        fw_draw_text(app, y++, 0, w, FW_ROLE_DIM, 0, "no run is training in this process");
    for (int i = 0; i < nr && y < end; i++)
        draw_run_row(s, app, &rows[i], y++, w);
}

const fw_screen_ops fw_screen_system = {
    .title = "System",
    .hints = "",
    .create = sys_create,
    .destroy = sys_destroy,
    .tick = sys_tick,
    .background = sys_background,
    .draw = sys_draw,
};
