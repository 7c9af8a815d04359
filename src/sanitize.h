/* sanitize.h — the one sanitiser for every untrusted string shown on a terminal.
 *
 * Removes C0 controls (except none: tabs become spaces), DEL, C1 controls
 * (U+0080..U+009F), bidi overrides/isolates (U+202A..U+202E, U+2066..U+2069,
 * U+200E/U+200F, U+061C) and invalid UTF-8 (each bad byte becomes '?').
 */
#ifndef FW_SANITIZE_H
#define FW_SANITIZE_H

#include <stddef.h>

/* Write a sanitised copy of `in` into out (size outsz, always NUL-terminated
 * when outsz > 0; truncated on a character boundary). Returns out. */
char *fw_sanitize(const char *in, char *out, size_t outsz);

#endif
