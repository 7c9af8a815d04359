/* text_table.c — aligned, terminal-fitting text tables (see text_table.h). */
#include "text_table.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "sanitize.h"

/* Length of the UTF-8 sequence at s and its code point (s is valid UTF-8:
 * fw_sanitize output). */
static int utf8_next(const unsigned char *s, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    int len = (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 ? 4 : 1;
    uint32_t c = len == 2 ? s[0] & 0x1Fu : len == 3 ? s[0] & 0x0Fu : s[0] & 0x07u;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = '?';
            return i;
        }
        c = (c << 6) | (s[i] & 0x3Fu);
    }
    *cp = c;
    return len;
}

static int char_width(uint32_t c)
{
    if ((c >= 0x0300 && c <= 0x036F) || (c >= 0x200B && c <= 0x200F) || c == 0xFE0F)
        return 0;
    if ((c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0xA4CF) ||
        (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0xF900 && c <= 0xFAFF) ||
        (c >= 0xFE30 && c <= 0xFE4F) || (c >= 0xFF00 && c <= 0xFF60) ||
        (c >= 0xFFE0 && c <= 0xFFE6) || (c >= 0x1F300 && c <= 0x1F64F) ||
        (c >= 0x1F900 && c <= 0x1F9FF) || (c >= 0x20000 && c <= 0x3FFFD))
        return 2;
    return 1;
}

int fw_text_width(const char *s)
{
    int w = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t c;
        p += utf8_next(p, &c);
        w += char_width(c);
    }
    return w;
}

void fw_text_fit(const char *s, int cols, char *out, size_t cap)
{
    if (cap == 0)
        return;
    out[0] = '\0';
    if (fw_text_width(s) <= cols && strlen(s) < cap) {
        snprintf(out, cap, "%s", s);
        return;
    }
    if (cols <= 0)
        return;
    const char *ellipsis = "\xE2\x80\xA6"; /* … */
    const unsigned char *p = (const unsigned char *)s;
    size_t used = 0;
    int w = 0;
    while (*p) {
        uint32_t c;
        int len = utf8_next(p, &c);
        int cw = char_width(c);
        if (w + cw > cols - 1 || used + (size_t)len + 4 > cap)
            break;
        memcpy(out + used, p, (size_t)len);
        used += (size_t)len;
        w += cw;
        p += len;
    }
    if (used + 4 <= cap) {
        memcpy(out + used, ellipsis, 3);
        used += 3;
    }
    out[used] = '\0';
}

int fw_terminal_width(FILE *out)
{
    int fd = fileno(out);
    if (fd < 0 || !isatty(fd) || getenv("CI"))
        return 0;
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    const char *cols = getenv("COLUMNS");
    int c = cols ? atoi(cols) : 0;
    return c > 0 ? c : 80;
}

int fw_table_init(fw_table *t, int n_cols, fw_error *err)
{
    memset(t, 0, sizeof *t);
    if (n_cols < 1 || n_cols > FW_TABLE_MAX_COLS)
        return fw_fail(err, FW_EINVAL, "table: %d columns (1..%d)", n_cols, FW_TABLE_MAX_COLS);
    t->n_cols = n_cols;
    return 0;
}

void fw_table_free(fw_table *t)
{
    if (!t->cells)
        return;
    for (int i = 0; i < t->n_rows * t->n_cols; i++)
        free(t->cells[i]);
    free(t->cells);
    t->cells = NULL;
    t->n_rows = t->cap_rows = 0;
}

int fw_table_add_row(fw_table *t, const char *const *cells, fw_error *err)
{
    if (t->n_rows == t->cap_rows) {
        int cap = t->cap_rows ? 2 * t->cap_rows : 16;
        char **grown = realloc(t->cells, (size_t)cap * (size_t)t->n_cols * sizeof *grown);
        if (!grown)
            return fw_fail(err, FW_ENOMEM, "table: out of memory for %d rows", cap);
        t->cells = grown;
        t->cap_rows = cap;
    }
    char **row = t->cells + (size_t)t->n_rows * (size_t)t->n_cols;
    for (int c = 0; c < t->n_cols; c++) {
        const char *raw = cells[c] ? cells[c] : "-";
        size_t cap = strlen(raw) + 1; /* sanitising never lengthens a string */
        row[c] = malloc(cap);
        if (!row[c]) {
            for (int k = 0; k < c; k++)
                free(row[k]);
            return fw_fail(err, FW_ENOMEM, "table: out of memory for a cell");
        }
        fw_sanitize(raw, row[c], cap);
    }
    t->n_rows++;
    return 0;
}

/* Natural widths narrowed to fit `width` (0: no limit); dropped columns get -1. */
static void fit_widths(const fw_table *t, int width, int *w)
{
    /* Shrinkable columns go down to ROOMY_COL while a column can still be
     * dropped, then to MIN_COL. */
    enum { MIN_COL = 6, ROOMY_COL = 16 };
    for (int c = 0; c < t->n_cols; c++)
        w[c] = 0;
    for (int r = 0; r < t->n_rows; r++)
        for (int c = 0; c < t->n_cols; c++) {
            int cw = fw_text_width(t->cells[r * t->n_cols + c]);
            if (cw > w[c])
                w[c] = cw;
        }
    if (width <= 0)
        return;
    int natural[FW_TABLE_MAX_COLS];
    memcpy(natural, w, sizeof natural);
    for (;;) {
        int can_drop = 0;
        for (int c = 0; c < t->n_cols; c++)
            can_drop |= w[c] >= 0 && t->drop[c];
        int floor = can_drop ? ROOMY_COL : MIN_COL;
        int total = -2;
        for (int c = 0; c < t->n_cols; c++)
            if (w[c] >= 0)
                total += w[c] + 2;
        while (total > width) {
            int widest = -1;
            for (int c = 0; c < t->n_cols; c++)
                if (w[c] >= 0 && t->shrink[c] && w[c] > floor &&
                    (widest < 0 || w[c] > w[widest]))
                    widest = c;
            if (widest < 0)
                break;
            w[widest]--;
            total--;
        }
        if (total <= width)
            return;
        int victim = -1;
        for (int c = 0; c < t->n_cols; c++)
            if (w[c] >= 0 && t->drop[c] && (victim < 0 || t->drop[c] > t->drop[victim]))
                victim = c;
        if (victim < 0)
            return; /* as narrow as it gets */
        w[victim] = -1;
        for (int c = 0; c < t->n_cols; c++) /* start narrowing again from natural */
            if (w[c] >= 0)
                w[c] = natural[c];
    }
}

void fw_table_print(const fw_table *t, FILE *out, int width)
{
    int w[FW_TABLE_MAX_COLS];
    fit_widths(t, width, w);
    int last_col = -1;
    for (int c = 0; c < t->n_cols; c++)
        if (w[c] >= 0)
            last_col = c;
    for (int r = 0; r < t->n_rows; r++) {
        for (int c = 0; c < t->n_cols; c++) {
            if (w[c] < 0)
                continue;
            const char *cell = t->cells[r * t->n_cols + c];
            char fitted[1024];
            fw_text_fit(cell, w[c], fitted, sizeof fitted);
            int pad = w[c] - fw_text_width(fitted);
            int last = c == last_col;
            if (t->right[c])
                fprintf(out, "%*s%s", pad, "", fitted);
            else
                fprintf(out, "%s%*s", fitted, last ? 0 : pad, "");
            if (!last)
                fputs("  ", out);
        }
        fputc('\n', out);
    }
}
