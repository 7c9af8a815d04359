/* kv_text.h — the `key = value` text format that run configs, themes and
 * the workbench's settings file share: reading such a file (a size cap, no
 * NUL bytes) and walking its lines (a UTF-8 byte-order mark skipped, `#`
 * comments cut, white space trimmed, blank lines skipped, each line named
 * "NAME:LINE" for errors). What a key means is the caller's business.
 */
#ifndef FW_KV_TEXT_H
#define FW_KV_TEXT_H

#include <stddef.h>

#include "fw_error.h"

/* Where a `#` starts a comment. */
typedef enum fw_kv_comments {
    FW_KV_HASH_AFTER_SPACE = 0, /* at the line's start or after white space */
    FW_KV_HASH_ALONE,           /* first non-blank, or with white space before it and
                                   white space or the line's end after it (so that
                                   `#rrggbb` is a value, not a comment) */
} fw_kv_comments;

/* One non-blank line, comment cut and trimmed. */
typedef struct fw_kv_line {
    const char *origin; /* "NAME:LINE" */
    long lineno;        /* LINE, from 1 */
    const char *text;   /* the whole line */
    const char *key;    /* before the first '=', trimmed ("" when nothing is there) */
    char *value;        /* after the first '=' (not trimmed at its start; the
                           callback may change it in place), or NULL when the
                           line has no '=' */
} fw_kv_line;

/* Called for each line; a non-zero return stops the walk and is returned. */
typedef int (*fw_kv_fn)(void *ctx, const fw_kv_line *line, fw_error *err);

/* Walk the lines of text (name: how errors call it). */
int fw_kv_parse(const char *text, const char *name, fw_kv_comments comments, fw_kv_fn fn,
                void *ctx, fw_error *err);

/* Read a text file of at most max_bytes: FW_ETOOBIG says "PATH: WHAT is at
 * most N bytes", a NUL byte is FW_EFORMAT; other errors as fw_read_file
 * (FW_ENOTFOUND for a missing file). *text is NUL-terminated; free it. */
int fw_kv_read_file(const char *path, size_t max_bytes, const char *what, char **text,
                    fw_error *err);

#endif
