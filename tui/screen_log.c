/* screen_log.c — the Log screen: the selected run's events and warnings,
 * scrollable (j/k, PgUp/PgDn, g/G, the wheel; following the tail while at
 * the bottom; h/l sideways for long lines) and searchable (/, n/N, matches
 * highlighted, Esc clears).
 * The model (reading, formatting, scrolling, search) is log_view.c. */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "log_view.h"

#define HSCROLL_STEP 8
#define MAX_MARKS 64 /* highlighted matches per line */

typedef struct log_screen {
    fw_log_view view;
    int hoff;               /* columns scrolled to the right */
    int failed;             /* the last poll failed (said once) */
} log_screen;

static void *log_create(fw_app *app)
{
    (void)app;
    log_screen *s = calloc(1, sizeof *s);
    if (s)
        fw_log_view_init(&s->view);
    return s;
}

static void log_destroy(void *self)
{
    log_screen *s = self;
    if (!s)
        return;
    fw_log_view_free(&s->view);
    free(s);
}

static int log_tick(void *self, fw_app *app)
{
    log_screen *s = self;
    int added = 0;
    fw_error err;
    fw_error_clear(&err);
    if (fw_log_view_poll(&s->view, fw_app_store(app), fw_app_selected(app), &added, &err) < 0) {
        if (!s->failed)
            fw_app_message(app, FW_ROLE_BAD, "log: %s", err.msg);
        s->failed = 1;
        return 0;
    }
    s->failed = 0;
    if (added < 0) {
        s->hoff = 0;
        if (s->view.query[0])
            fw_log_view_set_query(&s->view, s->view.query, NULL);
    }
    return added != 0;
}

/* The role of the message part of a line. */
static fw_theme_role severity_role(fw_log_severity sev)
{
    return sev == FW_LOG_ERROR ? FW_ROLE_BAD : sev == FW_LOG_WARNING ? FW_ROLE_WARNING
                                                                      : FW_ROLE_TEXT;
}

/* Byte offset in text after skipping `cols` display columns (whole
 * characters; the text is sanitised UTF-8). */
static size_t skip_columns(const char *text, int cols)
{
    size_t i = 0;
    int used = 0;
    while (text[i] && used < cols) {
        unsigned char c = (unsigned char)text[i];
        size_t len = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        char one[5] = {0};
        for (size_t k = 0; k < len && text[i + k]; k++)
            one[k] = text[i + k];
        used += fw_text_columns(one);
        i += strlen(one);
    }
    return i;
}

/* Draw one line from byte `from`, coloured by part (time and step dim, kind
 * and message by severity) with search matches highlighted. */
static void draw_line(fw_app *app, const fw_log_line *l, const char *query, int current,
                      int y, int w, size_t from)
{
    const char *t = l->text;
    size_t len = strlen(t), kind = (size_t)l->kind_at, msg = (size_t)l->msg_at;
    int starts[MAX_MARKS];
    int nm = query[0] ? fw_log_find_all(t, query, starts, MAX_MARKS) : 0;
    if (nm > MAX_MARKS)
        nm = MAX_MARKS;
    size_t qlen = strlen(query);
    int x = 0;
    size_t pos = from;
    char *seg = malloc(len + 1);
    if (!seg)
        return;
    while (pos < len && x < w) {
        /* the part pos is in, and where it ends */
        fw_theme_role role;
        attr_t extra = 0;
        size_t end = len;
        int in_match = 0;
        for (int k = 0; k < nm; k++) {
            size_t a = (size_t)starts[k], b = a + qlen;
            if (pos >= a && pos < b) {
                in_match = 1;
                end = b;
                break;
            }
            if (a > pos && a < end)
                end = a;
        }
        if (in_match) {
            role = current ? FW_ROLE_CURSOR : FW_ROLE_SELECTION;
            extra = current ? A_BOLD : 0;
        } else if (pos < kind) {
            role = FW_ROLE_DIM;
            if (end > kind)
                end = kind;
        } else if (pos < msg) {
            role = l->severity == FW_LOG_INFO ? FW_ROLE_ACCENT : severity_role(l->severity);
            if (end > msg)
                end = msg;
        } else {
            role = severity_role(l->severity);
        }
        memcpy(seg, t + pos, end - pos);
        seg[end - pos] = '\0';
        x += fw_draw_text(app, y, x, w - x, role, extra, seg);
        pos = end;
    }
    free(seg);
}

static void log_draw(void *self, fw_app *app, int top, int h, int w)
{
    log_screen *s = self;
    fw_log_view *v = &s->view;
    fw_draw_clear(app, top, 0, h, w);
    fw_log_view_set_rows(v, h > 1 ? h - 1 : 1);
    const fw_run_info *info = fw_app_selected_info(app);

    /* header: the run, counts, the position */
    int x = 0;
    if (!info) {
        fw_draw_text(app, top, 0, w, FW_ROLE_DIM, 0, "no run selected (the Runs screen picks one)");
        return;
    }
    x += fw_draw_textf(app, top, x, w - x, FW_ROLE_TITLE, A_BOLD, "%s %s", info->id, info->name);
    x += fw_draw_textf(app, top, x, w - x, FW_ROLE_DIM, 0, "  %d event%s", v->n,
                       v->n == 1 ? "" : "s");
    if (v->n_warnings)
        x += fw_draw_textf(app, top, x, w - x, FW_ROLE_WARNING, 0, "  %d warning%s",
                           v->n_warnings, v->n_warnings == 1 ? "" : "s");
    if (v->n_errors)
        x += fw_draw_textf(app, top, x, w - x, FW_ROLE_BAD, 0, "  %d error%s", v->n_errors,
                           v->n_errors == 1 ? "" : "s");
    char where[FW_LOG_QUERY_MAX + 96];
    int last = v->top + v->rows < v->n ? v->top + v->rows : v->n;
    if (v->query[0] && v->match >= 0)
        snprintf(where, sizeof where, "/%s: line %d  %d-%d/%d%s", v->query, v->match + 1,
                 v->n ? v->top + 1 : 0, last, v->n, v->follow ? " tail" : "");
    else if (v->query[0])
        snprintf(where, sizeof where, "/%s: none  %d-%d/%d%s", v->query, v->n ? v->top + 1 : 0,
                 last, v->n, v->follow ? " tail" : "");
    else
        snprintf(where, sizeof where, "%d-%d/%d%s%s", v->n ? v->top + 1 : 0, last, v->n,
                 v->follow ? " tail" : "", s->hoff ? "  >>" : "");
    int wc = fw_text_columns(where);
    if (x + 2 + wc <= w)
        fw_draw_text(app, top, w - wc, wc, FW_ROLE_DIM, 0, where);

    if (v->n == 0) {
        if (h > 1)
            fw_draw_text(app, top + 1, 0, w, FW_ROLE_DIM, 0, "no events yet");
        return;
    }
    /* scrolled right no further than keeps the longest visible line's end in view */
    int longest = 0;
    for (int r = 0; r < v->rows && v->top + r < v->n; r++) {
        int c = fw_text_columns(v->lines[v->top + r].text);
        longest = c > longest ? c : longest;
    }
    int max_hoff = longest > w / 2 ? longest - w / 2 : 0;
    if (s->hoff > max_hoff)
        s->hoff = max_hoff - max_hoff % HSCROLL_STEP;
    for (int r = 0; r < v->rows && v->top + r < v->n; r++) {
        const fw_log_line *l = &v->lines[v->top + r];
        size_t from = s->hoff ? skip_columns(l->text, s->hoff) : 0;
        draw_line(app, l, v->query, v->top + r == v->match, top + 1 + r, w, from);
    }
}

static void say_search(fw_app *app, const fw_log_view *v, int line, int wrapped)
{
    if (line < 0)
        fw_app_message(app, FW_ROLE_WARNING, "no line matches \"%s\"", v->query);
    else if (wrapped)
        fw_app_message(app, FW_ROLE_TEXT, "search wrapped: line %d of %d", line + 1, v->n);
}

static void on_search(fw_app *app, void *ctx, const char *text)
{
    log_screen *s = ctx;
    int wrapped = 0;
    int line = fw_log_view_set_query(&s->view, text, &wrapped);
    if (text[0])
        say_search(app, &s->view, line, wrapped);
}

static int log_key(void *self, fw_app *app, int ch)
{
    log_screen *s = self;
    fw_log_view *v = &s->view;
    int wrapped = 0;
    switch (ch) {
    case 'j': case KEY_DOWN: fw_log_view_scroll(v, 1); return 1;
    case 'k': case KEY_UP: fw_log_view_scroll(v, -1); return 1;
    case ' ': case KEY_NPAGE: case 6 /* ^F */: fw_log_view_page(v, 1); return 1;
    case KEY_PPAGE: case 2 /* ^B */: fw_log_view_page(v, -1); return 1;
    case 'g': case KEY_HOME: fw_log_view_home(v); return 1;
    case 'G': case KEY_END: fw_log_view_end(v); return 1;
    case 'l': case KEY_RIGHT: s->hoff += HSCROLL_STEP; return 1;
    case 'h': case KEY_LEFT:
        s->hoff = s->hoff > HSCROLL_STEP ? s->hoff - HSCROLL_STEP : 0;
        return 1;
    case '/':
        fw_app_prompt(app, "search", v->query, on_search, s);
        return 1;
    case 'n': case 'N':
        if (!v->query[0]) {
            fw_app_message(app, FW_ROLE_TEXT, "no search yet: / searches");
            return 1;
        }
        say_search(app, v, fw_log_view_next(v, ch == 'n' ? 1 : -1, &wrapped), wrapped);
        return 1;
    case 27: /* Esc: stop highlighting */
        if (!v->query[0])
            return 0;
        fw_log_view_set_query(v, "", NULL);
        return 1;
    case KEY_MOUSE: {
        const MEVENT *m = fw_app_mouse(app);
        if (m && (m->bstate & BUTTON4_PRESSED)) {
            fw_log_view_scroll(v, -3);
            return 1;
        }
#ifdef BUTTON5_PRESSED
        if (m && (m->bstate & BUTTON5_PRESSED)) {
            fw_log_view_scroll(v, 3);
            return 1;
        }
#endif
        return 0;
    }
    default:
        return 0;
    }
}

const fw_screen_ops fw_screen_log = {
    .title = "Log",
    .hints = "j/k scroll  / search  n/N next",
    .create = log_create,
    .destroy = log_destroy,
    .tick = log_tick,
    .draw = log_draw,
    .key = log_key,
};
