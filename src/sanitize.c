/* sanitize.c — strips terminal control sequences and bidi tricks (see sanitize.h). */
#include "sanitize.h"

#include <stdint.h>
#include <string.h>

/* Decode one UTF-8 sequence at s; returns its length (0 if invalid) and the code point. */
static size_t utf8_decode(const unsigned char *s, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t len;
    uint32_t c, min;
    if ((s[0] & 0xE0) == 0xC0) {
        len = 2, c = s[0] & 0x1F, min = 0x80;
    } else if ((s[0] & 0xF0) == 0xE0) {
        len = 3, c = s[0] & 0x0F, min = 0x800;
    } else if ((s[0] & 0xF8) == 0xF0) {
        len = 4, c = s[0] & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return len;
}

static int is_forbidden(uint32_t cp)
{
    return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) ||
           (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) ||
           cp == 0x200E || cp == 0x200F || cp == 0x061C;
}

char *fw_sanitize(const char *in, char *out, size_t outsz)
{
    if (outsz == 0)
        return out;
    const unsigned char *s = (const unsigned char *)(in ? in : "");
    size_t o = 0;
    while (*s) {
        uint32_t cp;
        size_t len = utf8_decode(s, &cp);
        const char *emit;
        size_t emit_len;
        if (len == 0) {
            emit = "?", emit_len = 1, len = 1;
        } else if (cp == '\t') {
            emit = " ", emit_len = 1;
        } else if (is_forbidden(cp)) {
            emit = "", emit_len = 0;
        } else {
            emit = (const char *)s, emit_len = len;
        }
        if (o + emit_len + 1 > outsz)
            break;
        memcpy(out + o, emit, emit_len);
        o += emit_len;
        s += len;
    }
    out[o] = '\0';
    return out;
}
