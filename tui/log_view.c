/* log_view.c — a run's events as lines: incremental reading, formatting,
 * scrolling and search for the Log screen (see log_view.h). */
#include "log_view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sanitize.h"

fw_log_severity fw_log_kind_severity(const char *kind)
{
    if (!strcmp(kind, "error"))
        return FW_LOG_ERROR;
    if (!strcmp(kind, FW_EVENT_WARNING) || !strcmp(kind, FW_EVENT_SKIPPED_FILE) ||
        !strcmp(kind, FW_EVENT_NAN_STEP))
        return FW_LOG_WARNING;
    return FW_LOG_INFO;
}

void fw_log_view_init(fw_log_view *v)
{
    memset(v, 0, sizeof *v);
    v->rows = 1;
    v->follow = 1;
    v->match = -1;
}

static void clear_lines(fw_log_view *v)
{
    for (int i = 0; i < v->n; i++)
        free(v->lines[i].text);
    v->n = 0;
    v->n_warnings = v->n_errors = 0;
    v->last_id = 0;
    v->top = 0;
    v->follow = 1;
    v->match = -1;
}

void fw_log_view_free(fw_log_view *v)
{
    clear_lines(v);
    free(v->lines);
    fw_log_view_init(v);
}

char *fw_log_format(const fw_event *e, char *out, size_t outsz, int *kind_at, int *msg_at)
{
    if (kind_at)
        *kind_at = 0;
    if (msg_at)
        *msg_at = 0;
    if (!outsz)
        return out;
    char when[16] = "--:--:--";
    time_t t = (time_t)e->wall_time;
    struct tm tm;
    if (e->wall_time > 0 && localtime_r(&t, &tm))
        strftime(when, sizeof when, "%H:%M:%S", &tm);
    /* each part sanitised on its own, so the offsets are exact */
    char head[64], kind[sizeof e->kind + 16];
    snprintf(head, sizeof head, "%s %7lld ", when, (long long)e->step);
    snprintf(kind, sizeof kind, "%-12s ", e->kind);
    size_t n = strlen(fw_sanitize(head, out, outsz));
    if (kind_at)
        *kind_at = (int)n;
    if (n + 1 < outsz)
        n += strlen(fw_sanitize(kind, out + n, outsz - n));
    if (msg_at)
        *msg_at = (int)n;
    const char *msg = e->message ? e->message : "";
    size_t len = strlen(msg);
    char *raw = malloc(len + 1);
    if (!raw || n + 1 >= outsz) {
        free(raw);
        return out;
    }
    for (size_t i = 0; i < len; i++) /* line breaks read as spaces, not as nothing */
        raw[i] = (msg[i] == '\n' || msg[i] == '\r') ? ' ' : msg[i];
    raw[len] = '\0';
    fw_sanitize(raw, out + n, outsz - n);
    free(raw);
    return out;
}

int fw_log_view_append(fw_log_view *v, const fw_event *e, fw_error *err)
{
    if (v->n == v->cap) {
        int cap = v->cap ? v->cap * 2 : 256;
        fw_log_line *grown = realloc(v->lines, (size_t)cap * sizeof *grown);
        if (!grown)
            return fw_fail(err, FW_ENOMEM, "log: out of memory for %d lines", cap);
        v->lines = grown;
        v->cap = cap;
    }
    /* the sanitised text is never longer than the raw text */
    size_t sz = 128 + (e->message ? strlen(e->message) : 0);
    char *text = malloc(sz);
    if (!text)
        return fw_fail(err, FW_ENOMEM, "log: out of memory for an event of %zu bytes", sz);
    fw_log_line *l = &v->lines[v->n++];
    fw_log_format(e, text, sz, &l->kind_at, &l->msg_at);
    l->id = e->id;
    l->step = e->step;
    l->wall_time = e->wall_time;
    snprintf(l->kind, sizeof l->kind, "%s", e->kind);
    l->severity = fw_log_kind_severity(e->kind);
    l->text = text;
    if (l->severity == FW_LOG_WARNING)
        v->n_warnings++;
    else if (l->severity == FW_LOG_ERROR)
        v->n_errors++;
    if (e->id > v->last_id)
        v->last_id = e->id;
    if (v->follow)
        v->top = fw_log_view_max_top(v);
    return FW_OK;
}

int fw_log_view_poll(fw_log_view *v, fw_store *s, const char *run_id, int *added,
                     fw_error *err)
{
    if (added)
        *added = 0;
    if (strcmp(run_id, v->run_id)) {
        clear_lines(v);
        snprintf(v->run_id, sizeof v->run_id, "%s", run_id);
        if (added)
            *added = -1;
    }
    if (!run_id[0])
        return FW_OK;
    fw_event *ev = NULL;
    int n = 0;
    FW_TRY(fw_store_events_read(s, run_id, v->last_id, FW_LOG_POLL_LIMIT, &ev, &n, err));
    int rc = FW_OK;
    for (int i = 0; i < n && rc == FW_OK; i++)
        rc = fw_log_view_append(v, &ev[i], err);
    fw_events_free(ev, n);
    if (rc == FW_OK && added && n > 0 && *added == 0)
        *added = n;
    return rc;
}

int fw_log_view_max_top(const fw_log_view *v)
{
    return v->n > v->rows ? v->n - v->rows : 0;
}

static void clamp_top(fw_log_view *v)
{
    int max = fw_log_view_max_top(v);
    if (v->top > max)
        v->top = max;
    if (v->top < 0)
        v->top = 0;
    v->follow = v->top == max;
}

void fw_log_view_set_rows(fw_log_view *v, int rows)
{
    v->rows = rows < 1 ? 1 : rows;
    if (v->follow)
        v->top = fw_log_view_max_top(v);
    clamp_top(v);
}

void fw_log_view_scroll(fw_log_view *v, int delta)
{
    long top = (long)v->top + delta; /* delta may be INT_MAX-ish from callers */
    v->top = top < 0 ? 0 : top > v->n ? v->n : (int)top;
    clamp_top(v);
}

void fw_log_view_page(fw_log_view *v, int pages)
{
    int step = v->rows > 1 ? v->rows - 1 : 1;
    fw_log_view_scroll(v, pages * step);
}

void fw_log_view_home(fw_log_view *v)
{
    v->top = 0;
    clamp_top(v);
}

void fw_log_view_end(fw_log_view *v)
{
    v->top = fw_log_view_max_top(v);
    clamp_top(v);
}

/* ------------------------------------------------------------ search */

static unsigned char fold(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* First occurrence of query in text at or after text, case-folded; NULL. */
static const char *find_folded(const char *text, const char *query, size_t qlen)
{
    for (const char *p = text; *p; p++) {
        size_t i = 0;
        while (i < qlen && p[i] && fold((unsigned char)p[i]) == fold((unsigned char)query[i]))
            i++;
        if (i == qlen)
            return p;
    }
    return NULL;
}

int fw_log_find_all(const char *text, const char *query, int *starts, int max)
{
    size_t qlen = strlen(query);
    if (!qlen)
        return 0;
    int count = 0;
    for (const char *p = find_folded(text, query, qlen); p;
         p = find_folded(p + qlen, query, qlen)) {
        if (count < max)
            starts[count] = (int)(p - text);
        count++;
    }
    return count;
}

int fw_log_contains(const char *text, const char *query)
{
    size_t qlen = strlen(query);
    return qlen && find_folded(text, query, qlen) != NULL;
}

/* Bring line i into view (and stop following unless it is the last rows). */
static void reveal(fw_log_view *v, int i)
{
    if (i < v->top)
        v->top = i;
    else if (i >= v->top + v->rows)
        v->top = i - v->rows + 1;
    clamp_top(v);
}

/* The first matching line from `from` going in dir, wrapping; -1. */
static int search_from(fw_log_view *v, int from, int dir, int *wrapped)
{
    if (wrapped)
        *wrapped = 0;
    if (!v->query[0] || v->n == 0)
        return -1;
    for (int k = 0; k < v->n; k++) {
        int i = from + dir * k;
        int w = 0;
        if (i >= v->n)
            i -= v->n, w = 1;
        else if (i < 0)
            i += v->n, w = 1;
        if (fw_log_contains(v->lines[i].text, v->query)) {
            if (wrapped)
                *wrapped = w;
            return i;
        }
    }
    return -1;
}

int fw_log_view_set_query(fw_log_view *v, const char *query, int *wrapped)
{
    snprintf(v->query, sizeof v->query, "%s", query ? query : "");
    int from = v->top < v->n ? v->top : 0;
    v->match = search_from(v, from, 1, wrapped);
    if (v->match >= 0)
        reveal(v, v->match);
    return v->match;
}

int fw_log_view_next(fw_log_view *v, int dir, int *wrapped)
{
    dir = dir < 0 ? -1 : 1;
    int from;
    if (v->match >= 0 && v->match < v->n)
        from = v->match + dir;
    else
        from = dir > 0 ? (v->top < v->n ? v->top : 0) : v->top + v->rows - 1;
    if (from >= v->n)
        from = v->n ? from % v->n : 0;
    if (from < 0)
        from = v->n - 1;
    int wrap_from = 0;
    if (v->match >= 0 && ((dir > 0 && v->match + 1 >= v->n) || (dir < 0 && v->match == 0)))
        wrap_from = 1; /* stepping off an end is itself a wrap */
    int i = search_from(v, from, dir, wrapped);
    if (i >= 0 && wrapped && wrap_from)
        *wrapped = 1;
    v->match = i;
    if (i >= 0)
        reveal(v, i);
    return i;
}
