/* test_log_view.c — the Log screen's model against a real run store in a
 * temporary directory: events read incrementally (only new ones, in order,
 * per run, a poll limit), lines formatted as documented (time from
 * localtime/strftime, step, kind, message) and sanitised (no control bytes
 * or bidi overrides), severities counted, search (case, wrap, direction,
 * match offsets against a brute-force scan) and scroll clamping with
 * tail-following. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log_view.h"
#include "store.h"
#include "tap.h"

static char tmp_root[256];
static int dir_counter;

static fw_store *open_fresh(void)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/ws%d", tmp_root, ++dir_counter);
    fw_store *s = NULL;
    fw_error err;
    if (fw_store_open(dir, &s, &err) != 0) {
        printf("#   fw_store_open %s: %s\n", dir, err.msg);
        return NULL;
    }
    return s;
}

static void new_run(fw_store *s, const char *name, char id[FW_RUN_ID_CAP])
{
    fw_error err;
    fw_run_spec spec = {.name = name};
    CHECK(fw_store_run_create(s, &spec, id, &err) == 0);
}

/* Write events (kind, message pairs) at steps step0, step0+1, ... */
static void write_events(fw_store *s, const char *run, int64_t step0, int n,
                         const char *const *kinds, const char *const *msgs)
{
    fw_error err;
    fw_metric_writer *w = NULL;
    CHECK(fw_metric_writer_open(s, run, NULL, &w, &err) == 0);
    for (int i = 0; i < n; i++)
        CHECK(fw_metric_writer_event(w, step0 + i, kinds[i], msgs[i], &err) == 0);
    CHECK(fw_metric_writer_close(w, &err) == 0);
}

/* Does the string hold a byte a terminal would act on? */
static int has_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return 1;
        if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) /* C1 */
            return 1;
        if (p[0] == 0xe2 && p[1] == 0x80 && p[2] >= 0xaa && p[2] <= 0xae) /* U+202A..E */
            return 1;
    }
    return 0;
}

static void test_format(void)
{
    time_t now = time(NULL);
    fw_event e = {.id = 1, .step = 1234, .wall_time = (double)now, .kind = "nan_step",
                  .message = "loss was NaN\nskipped\x1b[31m red \xe2\x80\xae evil"};
    char out[256];
    int kind_at = -1, msg_at = -1;
    fw_log_format(&e, out, sizeof out, &kind_at, &msg_at);
    struct tm tm;
    localtime_r(&now, &tm);
    char want_time[16];
    strftime(want_time, sizeof want_time, "%H:%M:%S", &tm);
    char want_head[64];
    snprintf(want_head, sizeof want_head, "%s    1234 nan_step     ", want_time);
    CHECK_MSG(strncmp(out, want_head, strlen(want_head)) == 0, "got \"%s\"", out);
    CHECK_INT(kind_at, 17);
    CHECK_INT(msg_at, 30);
    CHECK(strncmp(out + kind_at, "nan_step", 8) == 0);
    CHECK(strncmp(out + msg_at, "loss was NaN skipped", 20) == 0);
    CHECK(!has_control(out));
    CHECK(strstr(out, "red") && strstr(out, "evil"));
    /* a kind longer than its column pushes the message along, offsets follow */
    fw_event long_kind = {.id = 2, .step = -1, .wall_time = 0, .kind = "a_very_long_kind_name",
                          .message = "m"};
    fw_log_format(&long_kind, out, sizeof out, &kind_at, &msg_at);
    CHECK(strncmp(out, "--:--:--      -1 a_very_long_kind_name m", 40) == 0);
    CHECK_STR(out + msg_at, "m");
    /* truncation keeps a terminated string */
    char tiny[12];
    fw_log_format(&e, tiny, sizeof tiny, &kind_at, &msg_at);
    CHECK_INT((int)strlen(tiny), 11);
    CHECK(msg_at <= 11 && kind_at <= 11);
}

static void test_severity(void)
{
    CHECK_INT(fw_log_kind_severity("warning"), FW_LOG_WARNING);
    CHECK_INT(fw_log_kind_severity("skipped_file"), FW_LOG_WARNING);
    CHECK_INT(fw_log_kind_severity("nan_step"), FW_LOG_WARNING);
    CHECK_INT(fw_log_kind_severity("error"), FW_LOG_ERROR);
    CHECK_INT(fw_log_kind_severity("checkpoint"), FW_LOG_INFO);
    CHECK_INT(fw_log_kind_severity("info"), FW_LOG_INFO);
    CHECK_INT(fw_log_kind_severity("status"), FW_LOG_INFO);
    CHECK_INT(fw_log_kind_severity("something new"), FW_LOG_INFO);
}

static void test_incremental(void)
{
    fw_store *s = open_fresh();
    if (!s)
        SKIP("no store");
    char a[FW_RUN_ID_CAP], b[FW_RUN_ID_CAP];
    new_run(s, "a", a);
    new_run(s, "b", b);
    fw_error err;
    fw_log_view v;
    fw_log_view_init(&v);
    int added = 99;
    CHECK(fw_log_view_poll(&v, s, a, &added, &err) == 0);
    CHECK_INT(added, -1); /* the first poll starts the view on run a */
    CHECK_INT(v.n, 0);
    CHECK(fw_log_view_poll(&v, s, a, &added, &err) == 0);
    CHECK_INT(added, 0);

    const char *k1[] = {"info", "warning", "checkpoint"};
    const char *m1[] = {"started", "3 unreadable images", "saved epoch 1"};
    write_events(s, a, 0, 3, k1, m1);
    const char *kb[] = {"info"};
    const char *mb[] = {"run b's event"};
    write_events(s, b, 0, 1, kb, mb);
    CHECK(fw_log_view_poll(&v, s, a, &added, &err) == 0);
    CHECK_INT(added, 3);
    CHECK_INT(v.n, 3);
    CHECK_INT(v.n_warnings, 1);
    CHECK_INT(v.n_errors, 0);
    for (int i = 0; i < v.n && i < 3; i++) {
        CHECK_STR(v.lines[i].kind, k1[i]);
        CHECK_STR(v.lines[i].text + v.lines[i].msg_at, m1[i]);
        CHECK_INT(v.lines[i].step, i);
        if (i)
            CHECK(v.lines[i].id > v.lines[i - 1].id);
    }
    /* nothing new: nothing added */
    CHECK(fw_log_view_poll(&v, s, a, &added, &err) == 0);
    CHECK_INT(added, 0);
    CHECK_INT(v.n, 3);
    /* two more, one an error: only those are appended */
    const char *k2[] = {"nan_step", "error"};
    const char *m2[] = {"skipped a NaN step", "out of memory"};
    write_events(s, a, 10, 2, k2, m2);
    CHECK(fw_log_view_poll(&v, s, a, &added, &err) == 0);
    CHECK_INT(added, 2);
    CHECK_INT(v.n, 5);
    CHECK_INT(v.n_warnings, 2);
    CHECK_INT(v.n_errors, 1);
    CHECK_INT(v.lines[4].severity, FW_LOG_ERROR);
    CHECK_INT(v.lines[4].step, 11);
    /* another run: starts over, keeps the query */
    fw_log_view_set_query(&v, "event", NULL);
    CHECK(fw_log_view_poll(&v, s, b, &added, &err) == 0);
    CHECK_INT(added, -1); /* started over, its one line read */
    CHECK_INT(v.n, 1);
    CHECK_STR(v.run_id, b);
    CHECK_STR(v.query, "event");
    CHECK_INT(v.n_warnings, 0);
    CHECK_STR(v.lines[0].text + v.lines[0].msg_at, "run b's event");
    /* no run: empty */
    CHECK(fw_log_view_poll(&v, s, "", &added, &err) == 0);
    CHECK_INT(added, -1);
    CHECK_INT(v.n, 0);
    /* a run that does not exist reads as empty, not an error */
    CHECK(fw_log_view_poll(&v, s, "r9999", &added, &err) == 0);
    CHECK_INT(v.n, 0);
    fw_log_view_free(&v);
    fw_store_close(s);
}

static void test_poll_limit(void)
{
    fw_store *s = open_fresh();
    if (!s)
        SKIP("no store");
    char a[FW_RUN_ID_CAP];
    new_run(s, "many", a);
    int total = FW_LOG_POLL_LIMIT + 37;
    const char **k = malloc((size_t)total * sizeof *k), **m = malloc((size_t)total * sizeof *m);
    char (*msgs)[32] = malloc((size_t)total * sizeof *msgs);
    for (int i = 0; i < total; i++) {
        snprintf(msgs[i], sizeof msgs[i], "event %d", i);
        k[i] = "info";
        m[i] = msgs[i];
    }
    write_events(s, a, 0, total, k, m);
    fw_log_view v;
    fw_log_view_init(&v);
    fw_error err;
    int added = 0;
    CHECK(fw_log_view_poll(&v, s, a, &added, &err) == 0);
    CHECK_INT(added, -1); /* a new run for the view */
    CHECK_INT(v.n, FW_LOG_POLL_LIMIT);
    CHECK(fw_log_view_poll(&v, s, a, &added, &err) == 0);
    CHECK_INT(added, 37);
    CHECK_INT(v.n, total);
    int in_order = 1;
    for (int i = 0; i < v.n; i++)
        in_order &= !strcmp(v.lines[i].text + v.lines[i].msg_at, msgs[i]);
    CHECK(in_order);
    fw_log_view_free(&v);
    free(k);
    free(m);
    free(msgs);
    fw_store_close(s);
}

/* Brute force: lower-case both, scan every offset, skip past each hit. */
static int brute_find(const char *text, const char *q, int *starts, int max)
{
    size_t n = strlen(text), m = strlen(q);
    int count = 0;
    if (!m)
        return 0;
    for (size_t i = 0; i + m <= n;) {
        size_t j = 0;
        while (j < m && tolower((unsigned char)text[i + j]) == tolower((unsigned char)q[j]))
            j++;
        if (j == m) {
            if (count < max)
                starts[count] = (int)i;
            count++;
            i += m;
        } else {
            i++;
        }
    }
    return count;
}

static void test_find_all(void)
{
    const char *texts[] = {"NaN nan nAn", "aaaa", "no hit here", "", "Ünïcode naN ü"};
    const char *queries[] = {"nan", "aa", "a", "NAN", "x", "ü", "Ü"};
    for (size_t t = 0; t < sizeof texts / sizeof *texts; t++)
        for (size_t q = 0; q < sizeof queries / sizeof *queries; q++) {
            int got[16], want[16];
            int n = fw_log_find_all(texts[t], queries[q], got, 16);
            int m = brute_find(texts[t], queries[q], want, 16);
            CHECK_MSG(n == m, "\"%s\" in \"%s\": %d, brute force %d", queries[q], texts[t], n, m);
            for (int i = 0; i < n && i < m && i < 16; i++)
                CHECK(got[i] == want[i]);
            CHECK_INT(fw_log_contains(texts[t], queries[q]), m > 0);
        }
    int starts[2];
    CHECK_INT(fw_log_find_all("aaaa", "aa", starts, 2), 2);
    CHECK_INT(starts[1], 2); /* not overlapping */
    CHECK_INT(fw_log_find_all("xyz", "", starts, 2), 0);
    /* more hits than room: all counted, max stored */
    CHECK_INT(fw_log_find_all("ababab", "ab", starts, 2), 3);
}

/* A view of n synthetic lines, "line I" plus "NEEDLE" on the given ones. */
static void fill(fw_log_view *v, int n, const int *needles, int n_needles)
{
    fw_log_view_init(v);
    for (int i = 0; i < n; i++) {
        char msg[64];
        int has = 0;
        for (int k = 0; k < n_needles; k++)
            has |= needles[k] == i;
        snprintf(msg, sizeof msg, "line %d%s", i, has ? (i % 2 ? " Needle" : " nEEDLE") : "");
        fw_event e = {.id = i + 1, .step = i, .wall_time = 0, .kind = "info", .message = msg};
        fw_error err;
        CHECK(fw_log_view_append(v, &e, &err) == 0);
    }
}

static void test_search(void)
{
    fw_log_view v;
    const int needles[] = {3, 8, 15};
    fill(&v, 20, needles, 3);
    fw_log_view_set_rows(&v, 5);
    fw_log_view_home(&v);
    int wrapped = -1;
    CHECK_INT(fw_log_view_set_query(&v, "needle", &wrapped), 3);
    CHECK_INT(wrapped, 0);
    CHECK(v.top <= 3 && 3 < v.top + v.rows);
    CHECK_INT(fw_log_view_next(&v, 1, &wrapped), 8);
    CHECK_INT(wrapped, 0);
    CHECK(v.top <= 8 && 8 < v.top + v.rows);
    CHECK_INT(fw_log_view_next(&v, 1, &wrapped), 15);
    CHECK(v.top <= 15 && 15 < v.top + v.rows);
    CHECK_INT(fw_log_view_next(&v, 1, &wrapped), 3); /* round the end */
    CHECK_INT(wrapped, 1);
    CHECK(v.top <= 3 && 3 < v.top + v.rows);
    CHECK_INT(fw_log_view_next(&v, -1, &wrapped), 15); /* back round the start */
    CHECK_INT(wrapped, 1);
    CHECK_INT(fw_log_view_next(&v, -1, &wrapped), 8);
    CHECK_INT(wrapped, 0);
    /* the query searches from the top visible line */
    fw_log_view_end(&v); /* lines 15..19 */
    CHECK_INT(fw_log_view_set_query(&v, "NEEDLE", &wrapped), 15);
    CHECK_INT(wrapped, 0);
    fw_log_view_scroll(&v, 1); /* clamped: already at the end */
    CHECK_INT(v.top, 15);
    fw_log_view_scroll(&v, -10); /* lines 5..9 */
    CHECK_INT(fw_log_view_set_query(&v, "needle", &wrapped), 8);
    /* no match: -1, nothing moves */
    int top = v.top;
    CHECK_INT(fw_log_view_set_query(&v, "haystack", &wrapped), -1);
    CHECK_INT(v.match, -1);
    CHECK_INT(v.top, top);
    CHECK_INT(fw_log_view_next(&v, 1, &wrapped), -1);
    /* a single match: next finds it again, having gone round */
    CHECK_INT(fw_log_view_set_query(&v, "line 12", &wrapped), 12);
    CHECK_INT(fw_log_view_next(&v, 1, &wrapped), 12);
    CHECK_INT(wrapped, 1);
    /* an empty query clears the search */
    CHECK_INT(fw_log_view_set_query(&v, "", &wrapped), -1);
    CHECK_STR(v.query, "");
    fw_log_view_free(&v);
}

static void test_scroll(void)
{
    fw_log_view v;
    fill(&v, 20, NULL, 0);
    fw_log_view_set_rows(&v, 5);
    CHECK_INT(fw_log_view_max_top(&v), 15);
    CHECK_INT(v.top, 15); /* following the tail from the start */
    CHECK(v.follow);
    fw_log_view_scroll(&v, -3);
    CHECK_INT(v.top, 12);
    CHECK(!v.follow);
    /* new lines while scrolled up: the view stays put */
    fw_error err;
    fw_event e = {.id = 100, .step = 100, .kind = "info", .message = "new"};
    CHECK(fw_log_view_append(&v, &e, &err) == 0);
    CHECK_INT(v.top, 12);
    fw_log_view_scroll(&v, 1000);
    CHECK_INT(v.top, 16);
    CHECK(v.follow);
    /* at the bottom: new lines keep it at the bottom */
    e.id = 101;
    CHECK(fw_log_view_append(&v, &e, &err) == 0);
    CHECK_INT(v.top, 17);
    fw_log_view_scroll(&v, -1000);
    CHECK_INT(v.top, 0);
    CHECK(!v.follow);
    fw_log_view_page(&v, 1);
    CHECK_INT(v.top, 4); /* rows - 1 per page */
    fw_log_view_page(&v, 10);
    CHECK_INT(v.top, 17);
    CHECK(v.follow);
    fw_log_view_home(&v);
    CHECK_INT(v.top, 0);
    fw_log_view_end(&v);
    CHECK_INT(v.top, 17);
    /* growing the window while following keeps the bottom in view */
    fw_log_view_set_rows(&v, 10);
    CHECK_INT(v.top, 12);
    /* a window taller than the log: top 0, still following */
    fw_log_view_set_rows(&v, 50);
    CHECK_INT(v.top, 0);
    CHECK(v.follow);
    fw_log_view_scroll(&v, 5);
    CHECK_INT(v.top, 0);
    fw_log_view_set_rows(&v, 0); /* at least one row */
    CHECK_INT(v.rows, 1);
    fw_log_view_free(&v);
    /* an empty view scrolls nowhere */
    fw_log_view_init(&v);
    fw_log_view_page(&v, 3);
    fw_log_view_end(&v);
    CHECK_INT(v.top, 0);
    CHECK_INT(fw_log_view_next(&v, 1, NULL), -1);
    fw_log_view_free(&v);
}

static void test_long_message(void)
{
    size_t n = 20000;
    char *msg = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        msg[i] = (char)('a' + i % 26);
    msg[n] = '\0';
    fw_event e = {.id = 1, .step = 0, .kind = "error", .message = msg};
    fw_log_view v;
    fw_log_view_init(&v);
    fw_error err;
    CHECK(fw_log_view_append(&v, &e, &err) == 0);
    CHECK_INT(strlen(v.lines[0].text + v.lines[0].msg_at), n);
    CHECK_INT(v.n_errors, 1);
    fw_log_view_free(&v);
    free(msg);
}

int main(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmp_root, sizeof tmp_root, "%s/fw-logview-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmp_root)) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    RUN(test_format);
    RUN(test_severity);
    RUN(test_incremental);
    RUN(test_poll_limit);
    RUN(test_find_all);
    RUN(test_search);
    RUN(test_scroll);
    RUN(test_long_message);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", tmp_root);
    return tap_done();
}
