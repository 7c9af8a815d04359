/* kv_text.c — reading and walking `key = value` text (see kv_text.h). */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "kv_text.h"

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static void cut_comment(char *line, fw_kv_comments comments)
{
    char *p = line;
    if (comments == FW_KV_HASH_ALONE) {
        while (is_space(*p))
            p++;
        if (*p == '#') {
            *p = '\0';
            return;
        }
    }
    for (; *p; p++)
        if (*p == '#' && (comments == FW_KV_HASH_ALONE
                              ? is_space(p[-1]) && (p[1] == '\0' || is_space(p[1]))
                              : p == line || is_space(p[-1]))) {
            *p = '\0';
            return;
        }
}

/* [s, e) without surrounding white space, NUL-terminated in place. */
static char *trim(char *s, char *e)
{
    while (s < e && is_space(*s))
        s++;
    while (e > s && is_space(e[-1]))
        e--;
    *e = '\0';
    return s;
}

int fw_kv_parse(const char *text, const char *name, fw_kv_comments comments, fw_kv_fn fn,
                void *ctx, fw_error *err)
{
    char *copy = strdup(text);
    if (!copy)
        return fw_fail(err, FW_ENOMEM, "%s: out of memory", name);
    char *line = copy;
    if ((unsigned char)line[0] == 0xEF && (unsigned char)line[1] == 0xBB &&
        (unsigned char)line[2] == 0xBF)
        line += 3; /* UTF-8 byte-order mark */
    int rc = FW_OK;
    for (long lineno = 1; line && rc == FW_OK; lineno++) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        cut_comment(line, comments);
        char *s = trim(line, line + strlen(line));
        line = next;
        if (!*s)
            continue;
        char origin[1100];
        snprintf(origin, sizeof origin, "%s:%ld", name, lineno);
        char whole[4096];
        snprintf(whole, sizeof whole, "%s", s);
        char *eq = strchr(s, '=');
        fw_kv_line l = {.origin = origin, .lineno = lineno, .text = whole,
                        .value = eq ? eq + 1 : NULL};
        l.key = trim(s, eq ? eq : s + strlen(s));
        rc = fn(ctx, &l, err);
    }
    free(copy);
    return rc;
}

int fw_kv_read_file(const char *path, size_t max_bytes, const char *what, char **text,
                    fw_error *err)
{
    uint8_t *bytes = NULL;
    size_t size = 0;
    *text = NULL;
    int rc = fw_read_file(path, max_bytes, &bytes, &size, err);
    if (rc == FW_ETOOBIG)
        return fw_fail(err, FW_ETOOBIG, "%s: %s is at most %zu bytes", path, what, max_bytes);
    FW_TRY(rc);
    if (memchr(bytes, '\0', size)) {
        free(bytes);
        return fw_fail(err, FW_EFORMAT, "%s: holds a NUL byte (not a text file)", path);
    }
    *text = (char *)bytes;
    return FW_OK;
}
