/* term_caps.h — what the terminal can show: sixel graphics (asked with the
 * DA1 query, ESC [ c, on /dev/tty with a timeout), colour depth (from
 * COLORTERM, TERM and terminfo) and whether the locale is UTF-8.
 *
 * The parsers are pure functions on strings (testable); the probes that
 * touch the terminal restore its settings whatever happens.
 */
#ifndef FW_TERM_CAPS_H
#define FW_TERM_CAPS_H

#include <stddef.h>

#include "fw_error.h"

/* 1 when `reply` (len bytes) holds a complete DA1 answer
 * "ESC [ ? Ps ; Ps ... c" (leading bytes before ESC are skipped) that lists
 * attribute 4 (sixel graphics); 0 for any other reply, incomplete or
 * garbage. */
int fw_da1_reply_has_sixel(const char *reply, size_t len);

/* 1 when `reply` holds a complete DA1 answer (anything up to its final 'c'). */
int fw_da1_reply_complete(const char *reply, size_t len);

/* Send DA1 to the controlling terminal (/dev/tty) in raw mode and read the
 * answer for at most timeout_ms. Returns 1 when sixel is listed, 0 when the
 * answer lacks it or none came in time (no terminal, not a tty, timeout),
 * and without asking when the process is not in the terminal's foreground
 * process group (changing the settings would stop a background job).
 * The tty's termios is restored on every path. Negative only when the
 * settings could not be restored (err says why). */
int fw_term_probe_sixel(int timeout_ms, fw_error *err);

typedef enum fw_color_depth {
    FW_COLORS_NONE = 0, /* monochrome or unknown (TERM unset / dumb) */
    FW_COLORS_8 = 8,
    FW_COLORS_16 = 16,
    FW_COLORS_256 = 256,
    FW_COLORS_TRUE = 1 << 24,
} fw_color_depth;

/* Colour depth from the environment's strings and terminfo's "colors"
 * (-1 when unknown): COLORTERM truecolor/24bit -> true colour; TERM ending
 * in "-256color" or terminfo >= 256 -> 256; terminfo >= 16 -> 16; >= 8 ->
 * 8; TERM unset, empty or "dumb" -> none; other TERMs -> 8. */
fw_color_depth fw_color_depth_from(const char *term, const char *colorterm,
                                   int terminfo_colors);

/* The same from getenv and the terminfo entry of $TERM (ncurses
 * setupterm/tigetnum, without touching the terminal). */
fw_color_depth fw_term_color_depth(void);

/* 1 when the current LC_CTYPE's codeset is UTF-8 (call setlocale first). */
int fw_locale_is_utf8(void);

#endif
