/* log_view.h — the Log screen's model, with no ncurses: one run's events
 * (warnings, skipped files, NaN steps, checkpoints, info, errors, ...) read
 * from the run store incrementally, formatted into lines, scrolled, and
 * searched.
 *
 * A line reads (local time of the event, its step, its kind, its message):
 *
 *     12:04:31     340 warning      data: 3 unreadable images
 *
 * i.e. "%H:%M:%S %7lld %-12s %s". The text is sanitised when it is made
 * (fw_sanitize: no control characters or bidi overrides; line breaks in a
 * message become spaces), so byte offsets of search matches index exactly
 * what the screen draws; the screen still draws through fw_draw_text.
 *
 * Scrolling: `rows` lines are visible from `top`. The view follows the tail
 * (new lines keep it at the bottom) while it is at the bottom; scrolling up
 * stops that, scrolling back to the bottom starts it again.
 *
 * Search: case-insensitive for ASCII letters (bytes >= 0x80 compare as they
 * are, so a UTF-8 query matches only on character boundaries), forward or
 * backward from the current match, wrapping around the ends.
 */
#ifndef FW_LOG_VIEW_H
#define FW_LOG_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "fw_error.h"
#include "store.h"

#define FW_LOG_QUERY_MAX 128
#define FW_LOG_POLL_LIMIT 2000 /* events read per poll at most (the rest next poll) */

typedef enum fw_log_severity {
    FW_LOG_INFO = 0,   /* info, checkpoint, status, eval and unknown kinds */
    FW_LOG_WARNING,    /* warning, skipped_file, nan_step */
    FW_LOG_ERROR,      /* error */
} fw_log_severity;

/* How serious an event kind is (the screen colours lines by it). */
fw_log_severity fw_log_kind_severity(const char *kind);

typedef struct fw_log_line {
    int64_t id, step;     /* the event's */
    double wall_time;
    char kind[32];
    fw_log_severity severity;
    char *text;           /* formatted and sanitised (see above) */
    int kind_at, msg_at;  /* byte offsets of the kind and the message in text */
} fw_log_line;

typedef struct fw_log_view {
    char run_id[FW_RUN_ID_CAP]; /* "" before the first poll */
    int64_t last_id;            /* newest event read */
    fw_log_line *lines;         /* (n) in event order */
    int n, cap;
    int n_warnings, n_errors;
    int rows;                   /* visible rows (>= 1) */
    int top;                    /* first visible line */
    int follow;                 /* 1: stay at the bottom as lines arrive */
    char query[FW_LOG_QUERY_MAX]; /* "" = no search */
    int match;                  /* line of the current match, -1 = none */
} fw_log_view;

void fw_log_view_init(fw_log_view *v);
void fw_log_view_free(fw_log_view *v);

/* Read run_id's events newer than the last one read (at most
 * FW_LOG_POLL_LIMIT; call again for more) and append them. A different
 * run_id than last time starts over (the search query is kept). run_id ""
 * empties the view. *added (may be NULL) = lines appended, or -1 when the
 * view started over for another run (its first lines read in the same call). */
int fw_log_view_poll(fw_log_view *v, fw_store *s, const char *run_id, int *added,
                     fw_error *err);

/* Append one event (what poll does for each; for tests and replays). */
int fw_log_view_append(fw_log_view *v, const fw_event *e, fw_error *err);

/* Format one event into out (sanitised; truncated to outsz). kind_at and
 * msg_at (either may be NULL) get the byte offsets where the kind and the
 * message start in out. Returns out. */
char *fw_log_format(const fw_event *e, char *out, size_t outsz, int *kind_at, int *msg_at);

/* Scrolling. set_rows keeps the bottom in view while following. */
void fw_log_view_set_rows(fw_log_view *v, int rows);
int fw_log_view_max_top(const fw_log_view *v);
void fw_log_view_scroll(fw_log_view *v, int delta); /* lines; + = down */
void fw_log_view_page(fw_log_view *v, int pages);  /* rows - 1 lines a page */
void fw_log_view_home(fw_log_view *v);
void fw_log_view_end(fw_log_view *v);

/* Search. set_query remembers the query and finds its first match at or
 * after the top visible line (wrapping); next finds the one after (dir > 0)
 * or before (dir < 0) the current match, wrapping. Both scroll the match
 * into view and return its line, or -1 when no line matches (an empty query
 * clears the search). *wrapped (may be NULL) = 1 when the search went round
 * an end. */
int fw_log_view_set_query(fw_log_view *v, const char *query, int *wrapped);
int fw_log_view_next(fw_log_view *v, int dir, int *wrapped);

/* Byte offsets where query occurs in text (case-insensitive, not
 * overlapping, left to right): at most max into starts; returns how many
 * there are in all. An empty query matches nowhere. */
int fw_log_find_all(const char *text, const char *query, int *starts, int max);

/* 1 when the query occurs in text. */
int fw_log_contains(const char *text, const char *query);

#endif
