/* csv_read.c — RFC 4180 rows with line numbers, on top of libcsv.
 *
 * libcsv parses but knows nothing of lines, so the bytes are handed to it one
 * physical line at a time (each piece ends just after a CR or LF). A row can
 * then only end on the last byte of a piece, and the reader knows the line of
 * every byte: a row starts on the line of the first piece that carries data
 * while no row is open. A piece that is only a line break while no row is
 * open is a blank line (skipped, but counted).
 *
 * Field length is bounded without trusting libcsv's growth policy: its entry
 * buffer is allocated in blocks of max_field + 2 bytes (room for the field,
 * the closing quote it keeps for a moment, and one more byte), so the buffer
 * grows only when a field is already too long; the reader checks the size
 * after every piece (at most block_size bytes) and stops.
 */
#include "csv_read.h"

#include <csv.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct csv_reader {
    struct csv_parser parser;
    const char *name;
    size_t max_field;
    int max_fields;
    fw_csv_row_fn fn;
    void *ctx;
    fw_error *err;
    int rc;          /* first error, 0 while all is well */
    long line;       /* line of the next byte (1-based) */
    long row_line;   /* line on which the open row started */
    int row_open;    /* libcsv is inside a row */
    int pending_cr;  /* the last byte seen was a CR (a following LF belongs to it) */
    long row_index;
    char *arena;     /* the current row's fields, each NUL-terminated */
    size_t arena_len, arena_cap;
    size_t *offsets; /* (max_fields) start of each field in arena */
    char **ptrs;     /* (max_fields) */
    int n_fields;
} csv_reader;

static int vfail_at(fw_error *err, int code, const char *name, long line, const char *fmt,
                    va_list ap)
{
    char msg[sizeof err->msg];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (line > 0)
        return fw_fail(err, code, "%s:%ld: %s", name, line, msg);
    return fw_fail(err, code, "%s: %s", name, msg);
}

static void reader_fail(csv_reader *r, long line, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void reader_fail(csv_reader *r, long line, int code, const char *fmt, ...)
{
    if (r->rc)
        return;
    va_list ap;
    va_start(ap, fmt);
    r->rc = vfail_at(r->err, code, r->name, line, fmt, ap);
    va_end(ap);
}

int fw_csv_row_fail(const fw_csv_row *row, fw_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail_at(err, code, row->file, row->line, fmt, ap);
    va_end(ap);
    return rc;
}

/* Spaces are data (RFC 4180): tell libcsv that nothing is a space. */
static int no_space(unsigned char c)
{
    (void)c;
    return 0;
}

static void on_field(void *buf, size_t len, void *data)
{
    csv_reader *r = data;
    if (r->rc)
        return;
    if (len > r->max_field) {
        reader_fail(r, r->row_line, FW_ETOOBIG, "field %d is longer than %zu bytes",
                    r->n_fields + 1, r->max_field);
        return;
    }
    if (len && memchr(buf, '\0', len)) {
        reader_fail(r, r->row_line, FW_EFORMAT, "NUL byte in field %d", r->n_fields + 1);
        return;
    }
    if (r->n_fields == r->max_fields) {
        reader_fail(r, r->row_line, FW_ETOOBIG, "more than %d fields", r->max_fields);
        return;
    }
    if (r->arena_len + len + 1 > r->arena_cap) {
        size_t cap = r->arena_cap ? r->arena_cap : 256;
        while (cap < r->arena_len + len + 1)
            cap *= 2;
        char *grown = realloc(r->arena, cap);
        if (!grown) {
            reader_fail(r, r->row_line, FW_ENOMEM, "out of memory");
            return;
        }
        r->arena = grown;
        r->arena_cap = cap;
    }
    if (len)
        memcpy(r->arena + r->arena_len, buf, len);
    r->arena[r->arena_len + len] = '\0';
    r->offsets[r->n_fields++] = r->arena_len;
    r->arena_len += len + 1;
}

static void on_row(int terminator, void *data)
{
    (void)terminator;
    csv_reader *r = data;
    r->row_open = 0;
    if (!r->rc) {
        for (int i = 0; i < r->n_fields; i++)
            r->ptrs[i] = r->arena + r->offsets[i];
        fw_csv_row row = {r->name, r->row_line, r->row_index, r->n_fields, r->ptrs};
        int rc = r->fn(r->ctx, &row, r->err);
        if (rc < 0)
            r->rc = rc;
    }
    r->row_index++;
    r->n_fields = 0;
    r->arena_len = 0;
}

static void parse_piece(csv_reader *r, const unsigned char *s, size_t len)
{
    size_t done = csv_parse(&r->parser, s, len, on_field, on_row, r);
    if (r->rc)
        return;
    if (done < len) {
        int e = csv_error(&r->parser);
        if (e == CSV_EPARSE)
            reader_fail(r, r->line, FW_EFORMAT,
                        "bad quoting (a quote inside an unquoted field, or text after a "
                        "closing quote)");
        else if (e == CSV_ENOMEM)
            reader_fail(r, r->row_line, FW_ENOMEM, "out of memory");
        else
            reader_fail(r, r->row_line, FW_ETOOBIG, "field too large");
        return;
    }
    if (csv_get_buffer_size(&r->parser) > r->max_field + 2)
        reader_fail(r, r->row_line, FW_ETOOBIG, "field %d is longer than %zu bytes",
                    r->n_fields + 1, r->max_field);
}

/* Hand a block to libcsv one physical line at a time (see the top comment). */
static void feed(csv_reader *r, const unsigned char *p, size_t n)
{
    size_t pos = 0;
    while (pos < n && !r->rc) {
        size_t end = pos;
        while (end < n && p[end] != '\n' && p[end] != '\r')
            end++;
        int has_break = end < n;
        size_t len = end - pos + (size_t)has_break;
        int lf_of_crlf = r->pending_cr && p[pos] == '\n';
        r->pending_cr = 0;
        if (!r->row_open && len > (size_t)has_break) {
            r->row_open = 1;
            r->row_line = r->line;
        }
        parse_piece(r, p + pos, len);
        if (has_break && !lf_of_crlf) {
            r->line++;
            r->pending_cr = p[end] == '\r';
        }
        pos += len;
    }
}

static void finish(csv_reader *r)
{
    if (r->rc)
        return;
    if (csv_fini(&r->parser, on_field, on_row, r) != 0 && !r->rc) {
        if (csv_error(&r->parser) == CSV_EPARSE)
            reader_fail(r, r->row_line, FW_EFORMAT, "unterminated quoted field");
        else
            reader_fail(r, r->row_line, FW_EFORMAT, "cannot finish parsing");
    }
}

static int reader_init(csv_reader *r, const char *name, const fw_csv_opts *opts,
                       fw_csv_row_fn fn, void *ctx, fw_error *err)
{
    memset(r, 0, sizeof *r);
    r->name = name;
    r->max_field = opts && opts->max_field ? opts->max_field : FW_CSV_MAX_FIELD;
    if (r->max_field > ((size_t)1 << 30))
        r->max_field = (size_t)1 << 30;
    r->max_fields = opts && opts->max_fields > 0 ? opts->max_fields : FW_CSV_MAX_FIELDS;
    r->fn = fn;
    r->ctx = ctx;
    r->err = err;
    r->line = 1;
    if (csv_init(&r->parser, CSV_STRICT | CSV_STRICT_FINI) != 0)
        return fw_fail(err, FW_ENOMEM, "%s: cannot start the CSV parser", name);
    csv_set_space_func(&r->parser, no_space);
    csv_set_blk_size(&r->parser, r->max_field + 2);
    r->offsets = malloc((size_t)r->max_fields * sizeof *r->offsets);
    r->ptrs = malloc((size_t)r->max_fields * sizeof *r->ptrs);
    if (!r->offsets || !r->ptrs) {
        csv_free(&r->parser);
        free(r->offsets);
        free(r->ptrs);
        return fw_fail(err, FW_ENOMEM, "%s: out of memory", name);
    }
    return FW_OK;
}

static void reader_free(csv_reader *r)
{
    csv_free(&r->parser);
    free(r->arena);
    free(r->offsets);
    free(r->ptrs);
}

static const unsigned char utf8_bom[3] = {0xEF, 0xBB, 0xBF};

static size_t block_size(const fw_csv_opts *opts)
{
    return opts && opts->block_size ? opts->block_size : FW_CSV_BLOCK;
}

int fw_csv_read_mem(const void *data, size_t len, const char *name, const fw_csv_opts *opts,
                    fw_csv_row_fn fn, void *ctx, fw_error *err)
{
    csv_reader r;
    FW_TRY(reader_init(&r, name, opts, fn, ctx, err));
    const unsigned char *p = data;
    if (len >= 3 && !memcmp(p, utf8_bom, 3))
        p += 3, len -= 3;
    size_t bs = block_size(opts);
    for (size_t pos = 0; pos < len && !r.rc; pos += bs)
        feed(&r, p + pos, len - pos < bs ? len - pos : bs);
    finish(&r);
    reader_free(&r);
    return r.rc;
}

int fw_csv_read_file(const char *path, const fw_csv_opts *opts, fw_csv_row_fn fn, void *ctx,
                     fw_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT)
            return fw_fail(err, FW_ENOTFOUND, "%s: not found", path);
        return fw_fail(err, FW_EIO, "%s: %s", path, strerror(errno));
    }
    size_t bs = block_size(opts);
    unsigned char *buf = malloc(bs < 3 ? 3 : bs);
    if (!buf) {
        fclose(f);
        return fw_fail(err, FW_ENOMEM, "%s: out of memory", path);
    }
    csv_reader r;
    int rc = reader_init(&r, path, opts, fn, ctx, err);
    if (rc < 0) {
        free(buf);
        fclose(f);
        return rc;
    }
    size_t got = fread(buf, 1, 3, f);
    if (!(got == 3 && !memcmp(buf, utf8_bom, 3)))
        feed(&r, buf, got);
    while (!r.rc && (got = fread(buf, 1, bs, f)) > 0)
        feed(&r, buf, got);
    if (!r.rc && ferror(f))
        reader_fail(&r, 0, FW_EIO, "read error: %s", strerror(errno));
    finish(&r);
    reader_free(&r);
    free(buf);
    fclose(f);
    return r.rc;
}

int fw_csv_expect_fields(const fw_csv_row *row, int n, fw_error *err)
{
    if (row->n_fields == n)
        return FW_OK;
    return fw_csv_row_fail(row, err, FW_EFORMAT, "expected %d field%s, got %d", n,
                           n == 1 ? "" : "s", row->n_fields);
}

/* Equal ignoring ASCII case, with spaces and tabs around `have` ignored. */
static int header_name_eq(const char *have, const char *want)
{
    while (*have == ' ' || *have == '\t')
        have++;
    size_t len = strlen(have);
    while (len && (have[len - 1] == ' ' || have[len - 1] == '\t'))
        len--;
    if (len != strlen(want))
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char a = (unsigned char)have[i], b = (unsigned char)want[i];
        if (a >= 'A' && a <= 'Z')
            a = (unsigned char)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z')
            b = (unsigned char)(b - 'A' + 'a');
        if (a != b)
            return 0;
    }
    return 1;
}

/* "a,b,c" into buf (truncated with "..." when long). */
static void join_fields(const char *const *fields, int n, char *buf, size_t bufsz)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && used + 1 < bufsz; i++) {
        int w = snprintf(buf + used, bufsz - used, "%s%s", i ? "," : "", fields[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    if (used >= bufsz && bufsz > 4)
        memcpy(buf + bufsz - 4, "...", 4);
}

int fw_csv_expect_header(const fw_csv_row *row, const char *const *names, int n, fw_error *err)
{
    int ok = row->n_fields == n;
    for (int i = 0; ok && i < n; i++)
        ok = header_name_eq(row->fields[i], names[i]);
    if (ok)
        return FW_OK;
    char want[128], got[128];
    join_fields(names, n, want, sizeof want);
    join_fields((const char *const *)row->fields, row->n_fields, got, sizeof got);
    return fw_csv_row_fail(row, err, FW_EFORMAT, "expected the header '%s', got '%s'", want,
                           got);
}
