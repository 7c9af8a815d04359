/* draw.c — the drawing helpers of tui/app.h that screens share: sanitised,
 * width-clipped text in a theme role's colours, rules, plot grids, and the
 * display width of UTF-8 text.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "app.h"
#include "sanitize.h"

#define DRAW_TEXT_CAP 4096

/* Decode one UTF-8 character at s (already sanitised: valid UTF-8).
 * Returns its byte length (>= 1) and its code point in *cp. */
static int utf8_next(const char *s, wchar_t *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    if (u[0] < 0x80) {
        *cp = u[0];
        return 1;
    }
    int len = u[0] >= 0xF0 ? 4 : u[0] >= 0xE0 ? 3 : 2;
    wchar_t c = u[0] & (0x3F >> (len - 1));
    for (int i = 1; i < len; i++) {
        if ((u[i] & 0xC0) != 0x80) { /* cannot happen after fw_sanitize */
            *cp = '?';
            return 1;
        }
        c = (c << 6) | (u[i] & 0x3F);
    }
    *cp = c;
    return len;
}

static int char_columns(wchar_t c)
{
    int w = wcwidth(c);
    return w < 0 ? 1 : w;
}

int fw_text_columns(const char *s)
{
    int cols = 0;
    while (*s) {
        wchar_t c;
        s += utf8_next(s, &c);
        cols += char_columns(c);
    }
    return cols;
}

int fw_draw_text(fw_app *app, int y, int x, int max_cols, fw_theme_role role, attr_t extra,
                 const char *text)
{
    if (max_cols <= 0 || y < 0 || y >= LINES || x < 0 || x >= COLS || !text)
        return 0;
    if (x + max_cols > COLS)
        max_cols = COLS - x;
    char clean[DRAW_TEXT_CAP];
    fw_sanitize(text, clean, sizeof clean);
    /* Cut at max_cols display columns, on a character boundary. */
    int cols = 0;
    size_t end = 0;
    while (clean[end]) {
        wchar_t c;
        int len = utf8_next(clean + end, &c);
        int w = char_columns(c);
        if (cols + w > max_cols)
            break;
        cols += w;
        end += (size_t)len;
    }
    clean[end] = '\0';
    if (!fw_app_utf8(app)) /* a non-UTF-8 terminal: show other bytes as '?' */
        for (size_t i = 0; i < end; i++)
            if ((unsigned char)clean[i] >= 0x80)
                clean[i] = '?';
    attr_t a = fw_app_attr(app, role) | extra;
    attron(a);
    mvaddstr(y, x, clean);
    attroff(a);
    return cols;
}

int fw_draw_textf(fw_app *app, int y, int x, int max_cols, fw_theme_role role, attr_t extra,
                  const char *fmt, ...)
{
    char buf[DRAW_TEXT_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return fw_draw_text(app, y, x, max_cols, role, extra, buf);
}

void fw_draw_clear(fw_app *app, int top, int x, int h, int w)
{
    attr_t a = fw_app_attr(app, FW_ROLE_BACKGROUND);
    attron(a);
    for (int r = top; r < top + h && r < LINES; r++)
        if (r >= 0 && x < COLS)
            mvhline(r, x, ' ', x + w > COLS ? COLS - x : w);
    attroff(a);
}

void fw_draw_rule(fw_app *app, int y, int x, int w, const char *title)
{
    if (w <= 0 || y < 0 || y >= LINES)
        return;
    const char *line = fw_app_utf8(app) ? "─" : "-";
    attr_t a = fw_app_attr(app, FW_ROLE_BORDER);
    attron(a);
    move(y, x);
    for (int i = 0; i < w && x + i < COLS; i++)
        addstr(line);
    attroff(a);
    if (title && *title && w > 6) {
        fw_draw_text(app, y, x + 2, 1, FW_ROLE_BORDER, 0, " ");
        int used = fw_draw_text(app, y, x + 3, w - 6, FW_ROLE_TITLE, 0, title);
        fw_draw_text(app, y, x + 3 + used, 1, FW_ROLE_BORDER, 0, " ");
    }
}

static fw_theme_role cell_role(const fw_plot_cell *c)
{
    switch (c->role) {
    case FW_PLOT_ROLE_LINE:
    case FW_PLOT_ROLE_RAW:
    case FW_PLOT_ROLE_ENVELOPE:
    case FW_PLOT_ROLE_LEGEND:
        return c->color >= 0 ? (fw_theme_role)(FW_ROLE_PLOT1 + c->color % 8) : FW_ROLE_TEXT;
    case FW_PLOT_ROLE_CURSOR:
        return FW_ROLE_CURSOR;
    case FW_PLOT_ROLE_AXIS:
        return FW_ROLE_GRID;
    case FW_PLOT_ROLE_TICK_LABEL:
    case FW_PLOT_ROLE_NOTE:
        return FW_ROLE_DIM;
    default:
        return FW_ROLE_BACKGROUND;
    }
}

void fw_draw_plot(fw_app *app, const fw_plot_grid *grid, int y, int x)
{
    int utf8 = fw_app_utf8(app);
    for (int r = 0; r < grid->h && y + r < LINES; r++) {
        move(y + r, x);
        for (int c = 0; c < grid->w && x + c < COLS; c++) {
            const fw_plot_cell *cell = &grid->cells[(size_t)r * grid->w + c];
            attr_t a = fw_app_attr(app, cell_role(cell));
            if (cell->role == FW_PLOT_ROLE_RAW || cell->role == FW_PLOT_ROLE_ENVELOPE)
                a |= A_DIM;
            attron(a);
            /* The glyph comes from the plot renderer (Braille, box lines or
             * ASCII), except legend text, which is sanitised there. */
            if (!utf8 && (unsigned char)cell->glyph[0] >= 0x80)
                addch('?');
            else
                addstr(cell->glyph);
            attroff(a);
        }
    }
}
