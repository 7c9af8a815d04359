/* test_csv.c — the RFC 4180 reader: every edge case with its exact fields and
 * line numbers, or its exact error with file and line. Each input is parsed
 * with several block sizes (1, 2, 3, 7 bytes and the default) so that every
 * piece boundary — a CRLF split in two, a BOM split in three — is exercised,
 * and the results must be identical. A random round trip checks the reader
 * against an independent RFC 4180 writer. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csv_read.h"
#include "rng.h"
#include "tap.h"

/* ---- rendering rows as text: "LINE#INDEX[field][field] ..." --------------- */

typedef struct render {
    char *text;
    size_t len, cap;
    int fail_at_row;  /* > 0: the callback fails on this row index */
} render;

static void put(render *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(render *r, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (r->len + (size_t)n + 1 > r->cap) {
        r->cap = (r->len + (size_t)n + 1) * 2;
        r->text = realloc(r->text, r->cap);
    }
    memcpy(r->text + r->len, tmp, (size_t)n + 1);
    r->len += (size_t)n;
}

static int render_row(void *ctx, const fw_csv_row *row, fw_error *err)
{
    render *r = ctx;
    if (r->fail_at_row && row->index == r->fail_at_row)
        return fw_csv_row_fail(row, err, FW_EINVAL, "stop here");
    put(r, "%s%ld#%ld", r->len ? " " : "", row->line, row->index);
    for (int i = 0; i < row->n_fields; i++) {
        put(r, "[");
        for (const unsigned char *p = (const unsigned char *)row->fields[i]; *p; p++) {
            if (*p == '\n')
                put(r, "\\n");
            else if (*p == '\r')
                put(r, "\\r");
            else if (*p < 0x20 || *p >= 0x7F)
                put(r, "\\x%02x", *p);
            else
                put(r, "%c", *p);
        }
        put(r, "]");
    }
    return 0;
}

static const size_t block_sizes[] = {1, 2, 3, 7, 0};
#define N_BLOCKS (sizeof block_sizes / sizeof block_sizes[0])

/* Parse `len` bytes with every block size; all must agree. Returns the rc and
 * the rendering / error message of the default block size. */
static int parse_all(const char *data, size_t len, const fw_csv_opts *base, render *out,
                     fw_error *err_out)
{
    int rc0 = 0;
    for (size_t b = 0; b < N_BLOCKS; b++) {
        fw_csv_opts o = base ? *base : (fw_csv_opts){0};
        o.block_size = block_sizes[b];
        render r = {0};
        r.fail_at_row = out->fail_at_row;
        fw_error e;
        fw_error_clear(&e);
        int rc = fw_csv_read_mem(data, len, "t.csv", &o, render_row, &r, &e);
        if (b + 1 == N_BLOCKS) {
            rc0 = rc;
            *out = r;
            *err_out = e;
        } else {
            render d = {0};
            d.fail_at_row = out->fail_at_row;
            fw_error de;
            fw_error_clear(&de);
            int drc = fw_csv_read_mem(data, len, "t.csv", base, render_row, &d, &de);
            CHECK_MSG(rc == drc && !strcmp(e.msg, de.msg) &&
                          !strcmp(r.text ? r.text : "", d.text ? d.text : ""),
                      "block size %zu differs: '%s' / '%s' vs '%s' / '%s'", block_sizes[b],
                      r.text ? r.text : "", e.msg, d.text ? d.text : "", de.msg);
            free(r.text);
            free(d.text);
        }
    }
    return rc0;
}

static void expect_rows_n(const char *data, size_t len, const char *want)
{
    render r = {0};
    fw_error e;
    int rc = parse_all(data, len, NULL, &r, &e);
    CHECK_MSG(rc == 0, "rc %d: %s", rc, e.msg);
    CHECK_STR(r.text ? r.text : "", want);
    free(r.text);
}

static void expect_rows(const char *data, const char *want)
{
    expect_rows_n(data, strlen(data), want);
}

/* Expect an error: its code, exact message, and the rows delivered before it. */
static void expect_error_opts(const char *data, size_t len, const fw_csv_opts *opts, int code,
                              const char *msg, const char *rows_before)
{
    render r = {0};
    fw_error e;
    int rc = parse_all(data, len, opts, &r, &e);
    CHECK_INT(rc, code);
    CHECK_INT(e.code, code);
    CHECK_STR(e.msg, msg);
    CHECK_STR(r.text ? r.text : "", rows_before);
    free(r.text);
}

static void expect_error(const char *data, int code, const char *msg, const char *rows_before)
{
    expect_error_opts(data, strlen(data), NULL, code, msg, rows_before);
}

/* ---- the cases ------------------------------------------------------------ */

static void test_lf_rows(void)
{
    expect_rows("Image,Id\na.jpg,w_1\nb.jpg,new_whale\n",
                "1#0[Image][Id] 2#1[a.jpg][w_1] 3#2[b.jpg][new_whale]");
}

static void test_crlf_rows(void)
{
    expect_rows("Image,Id\r\na.jpg,w_1\r\nb.jpg,new_whale\r\n",
                "1#0[Image][Id] 2#1[a.jpg][w_1] 3#2[b.jpg][new_whale]");
}

static void test_lone_cr_rows(void)
{
    expect_rows("a,b\rc,d\r", "1#0[a][b] 2#1[c][d]");
    expect_rows("a,b\r\rc,d", "1#0[a][b] 3#1[c][d]");
}

static void test_bom_skipped(void)
{
    expect_rows("\xEF\xBB\xBFImage,Id\r\nx,y\r\n", "1#0[Image][Id] 2#1[x][y]");
    /* only at the very start: elsewhere it is data */
    expect_rows("a,\xEF\xBB\xBF" "b\n", "1#0[a][\\xef\\xbb\\xbfb]");
    /* a lone BOM or part of one is no row / data */
    expect_rows("\xEF\xBB\xBF", "");
    expect_rows("\xEF\xBB,x\n", "1#0[\\xef\\xbb][x]");
}

static void test_quoted_fields(void)
{
    expect_rows("\"a,b\",\"say \"\"hi\"\"\",plain\n", "1#0[a,b][say \"hi\"][plain]");
    expect_rows("\"\"\"\",\"\"\n", "1#0[\"][]");
}

static void test_embedded_newlines(void)
{
    expect_rows("h1,h2\n\"line1\nline2\",x\nnext,y\n",
                "1#0[h1][h2] 2#1[line1\\nline2][x] 4#2[next][y]");
    expect_rows("\"a\r\nb\",x\r\nc,d\r\n", "1#0[a\\r\\nb][x] 3#1[c][d]");
    expect_rows("x,\"\n\n\"\ny,z\n", "1#0[x][\\n\\n] 4#1[y][z]");
}

static void test_missing_final_newline(void)
{
    expect_rows("a,b\nc,d", "1#0[a][b] 2#1[c][d]");
    expect_rows("a,\"b\"", "1#0[a][b]");
    expect_rows("a,", "1#0[a][]");
    expect_rows("\"a\"\"\"", "1#0[a\"]");
}

static void test_empty_fields(void)
{
    expect_rows(",\n,,\n\"\",x\n", "1#0[][] 2#1[][][] 3#2[][x]");
}

static void test_spaces_are_data(void)
{
    expect_rows(" a , b \n\" q \", \t\n", "1#0[ a ][ b ] 2#1[ q ][ \\x09]");
}

static void test_empty_inputs(void)
{
    expect_rows("", "");
    expect_rows("\n", "");
    expect_rows("\r\n\r\n\n", "");
}

static void test_blank_lines_skipped(void)
{
    /* trailing, middle and leading blank lines are skipped; line numbers stay true */
    expect_rows("a,b\n\nc,d\n\n\n", "1#0[a][b] 3#1[c][d]");
    expect_rows("a,b\r\n\r\nc,d\r\n\r\n", "1#0[a][b] 3#1[c][d]");
    expect_rows("\n\na,b\n", "3#0[a][b]");
    /* a line of spaces is not blank: it is a row with one field */
    expect_rows("a,b\n \n", "1#0[a][b] 2#1[ ]");
}

static void test_unterminated_quote(void)
{
    expect_error("a,b\nc,\"open\nmore\n", FW_EFORMAT, "t.csv:2: unterminated quoted field",
                 "1#0[a][b]");
    expect_error("\"", FW_EFORMAT, "t.csv:1: unterminated quoted field", "");
}

static void test_bad_quoting(void)
{
    const char *msg_tail = ": bad quoting (a quote inside an unquoted field, or text after a "
                           "closing quote)";
    char want[256];
    snprintf(want, sizeof want, "t.csv:1%s", msg_tail);
    expect_error("a,b\"c\n", FW_EFORMAT, want, "");
    expect_error("\"a\"b,c\n", FW_EFORMAT, want, "");
    expect_error("\"a\" ,c\n", FW_EFORMAT, want, "");
    /* the line of the offending byte, inside a multi-line row */
    snprintf(want, sizeof want, "t.csv:3%s", msg_tail);
    expect_error("x,y\n\"a\nb\"c\n", FW_EFORMAT, want, "1#0[x][y]");
}

static void test_nul_byte_refused(void)
{
    static const char data[] = "a,b\nc,d\0e\nf,g\n";
    expect_error_opts(data, sizeof data - 1, NULL, FW_EFORMAT, "t.csv:2: NUL byte in field 2",
                      "1#0[a][b]");
    static const char quoted[] = "a,b\n\"x\ny\0\",z\n";
    expect_error_opts(quoted, sizeof quoted - 1, NULL, FW_EFORMAT,
                      "t.csv:2: NUL byte in field 1", "1#0[a][b]");
}

static void test_non_utf8_passed_through(void)
{
    expect_rows("\xff\xfe,\xc3\x28\n", "1#0[\\xff\\xfe][\\xc3(]");
}

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static void test_field_length_bound_small(void)
{
    fw_csv_opts o = {.max_field = 5};
    expect_error_opts("a,b\n123456,x\n", 12, &o, FW_ETOOBIG,
                      "t.csv:2: field 1 is longer than 5 bytes", "1#0[a][b]");
    expect_error_opts("a,\"123456\"\n", 11, &o, FW_ETOOBIG,
                      "t.csv:1: field 2 is longer than 5 bytes", "");
    expect_error_opts("a,123456", 8, &o, FW_ETOOBIG, "t.csv:1: field 2 is longer than 5 bytes",
                      "");
    /* exactly 5 is fine, quoted or not, with doubled quotes counted once */
    const char *ok = "12345,\"12345\",\"\"\"\"\"\"\"\"\"\"\"\"\n";
    render r = {0};
    fw_error e;
    CHECK_INT(parse_all(ok, strlen(ok), &o, &r, &e), 0);
    CHECK_STR(r.text ? r.text : "", "1#0[12345][12345][\"\"\"\"\"]");
    free(r.text);
}

static void test_field_length_bound_default(void)
{
    /* 4096 bytes pass, 4097 are refused — unquoted and quoted */
    for (int quoted = 0; quoted <= 1; quoted++) {
        for (size_t n = FW_CSV_MAX_FIELD; n <= FW_CSV_MAX_FIELD + 1; n++) {
            char *f = repeat('x', n);
            size_t cap = n + 64;
            char *data = malloc(cap);
            int len = snprintf(data, cap, "Image,Id\n%s%s%s,w\n", quoted ? "\"" : "", f,
                               quoted ? "\"" : "");
            render r = {0};
            fw_error e;
            fw_error_clear(&e);
            int rc = fw_csv_read_mem(data, (size_t)len, "t.csv", NULL, render_row, &r, &e);
            if (n == FW_CSV_MAX_FIELD) {
                CHECK_MSG(rc == 0, "%zu bytes (quoted %d): %s", n, quoted, e.msg);
            } else {
                CHECK_INT(rc, FW_ETOOBIG);
                CHECK_STR(e.msg, "t.csv:2: field 1 is longer than 4096 bytes");
            }
            free(r.text);
            free(data);
            free(f);
        }
    }
}

static void test_runaway_quote_bounded(void)
{
    /* 4 MiB after an opening quote: refused at the row's line, long before the end */
    size_t n = (size_t)4 << 20;
    char *data = repeat('y', n);
    memcpy(data, "a,b\n\"", 5);
    render r = {0};
    fw_error e;
    fw_error_clear(&e);
    int rc = fw_csv_read_mem(data, n, "t.csv", NULL, render_row, &r, &e);
    CHECK_INT(rc, FW_ETOOBIG);
    CHECK_STR(e.msg, "t.csv:2: field 1 is longer than 4096 bytes");
    CHECK_STR(r.text ? r.text : "", "1#0[a][b]");
    free(r.text);
    free(data);
}

static void test_too_many_fields(void)
{
    fw_csv_opts o = {.max_fields = 3};
    expect_error_opts("a,b,c\nd,e,f,g\n", 14, &o, FW_ETOOBIG, "t.csv:2: more than 3 fields",
                      "1#0[a][b][c]");
}

static void test_callback_error_stops(void)
{
    render r = {0};
    r.fail_at_row = 2;
    fw_error e;
    int rc = parse_all("a,b\nc,d\n\ne,f\ng,h\n", 17, NULL, &r, &e);
    CHECK_INT(rc, FW_EINVAL);
    CHECK_STR(e.msg, "t.csv:4: stop here");
    CHECK_STR(r.text ? r.text : "", "1#0[a][b] 2#1[c][d]");
    free(r.text);
}

static int field_count_row(void *ctx, const fw_csv_row *row, fw_error *err)
{
    (void)ctx;
    if (row->index == 0) {
        static const char *const names[2] = {"Image", "Id"};
        return fw_csv_expect_header(row, names, 2, err);
    }
    return fw_csv_expect_fields(row, 2, err);
}

static void test_header_and_width_helpers(void)
{
    fw_error e;
    fw_error_clear(&e);
    CHECK_INT(fw_csv_read_mem("image , ID\n", 11, "train.csv", NULL, field_count_row, NULL, &e),
              0);
    CHECK_INT(fw_csv_read_mem("\tIMAGE,id\t\n", 11, "train.csv", NULL, field_count_row, NULL,
                              &e),
              0);
    CHECK_INT(fw_csv_read_mem("Image,Id,x\n", 11, "train.csv", NULL, field_count_row, NULL, &e),
              FW_EFORMAT);
    CHECK_STR(e.msg, "train.csv:1: expected the header 'Image,Id', got 'Image,Id,x'");
    CHECK_INT(fw_csv_read_mem("Images,Id\n", 10, "train.csv", NULL, field_count_row, NULL, &e),
              FW_EFORMAT);
    CHECK_STR(e.msg, "train.csv:1: expected the header 'Image,Id', got 'Images,Id'");
    /* a wrong row on line 17 (blank lines and a two-line field before it) */
    const char *data = "Image,Id\n"
                       "a,1\nb,2\nc,3\nd,4\n\n"
                       "e,\"5\n5\"\nf,6\ng,7\nh,8\ni,9\nj,10\n\n\nk,11\n"
                       "l,12,extra\n";
    CHECK_INT(fw_csv_read_mem(data, strlen(data), "train.csv", NULL, field_count_row, NULL, &e),
              FW_EFORMAT);
    CHECK_STR(e.msg, "train.csv:17: expected 2 fields, got 3");
    CHECK_INT(fw_csv_read_mem("Image,Id\nonly\n", 14, "train.csv", NULL, field_count_row, NULL,
                              &e),
              FW_EFORMAT);
    CHECK_STR(e.msg, "train.csv:2: expected 2 fields, got 1");
}

/* ---- files ------------------------------------------------------------- */

static char tmpdir[64];

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, len, f);
    fclose(f);
}

static int read_file_render(const char *path, size_t block, render *r, fw_error *e)
{
    fw_csv_opts o = {.block_size = block};
    fw_error_clear(e);
    return fw_csv_read_file(path, &o, render_row, r, e);
}

static void test_file_reader(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/f.csv", tmpdir);
    const char data[] = "\xEF\xBB\xBFImage,Id\r\n\"a\r\nb\",w\r\n\r\nc,\"x,y\"";
    write_file(path, data, sizeof data - 1);
    for (size_t b = 0; b < N_BLOCKS; b++) {
        render r = {0};
        fw_error e;
        CHECK_INT(read_file_render(path, block_sizes[b], &r, &e), 0);
        CHECK_STR(r.text ? r.text : "", "1#0[Image][Id] 2#1[a\\r\\nb][w] 5#2[c][x,y]");
        free(r.text);
    }
    /* a short file that only looks like the start of a BOM */
    write_file(path, "\xEF\xBB", 2);
    render r = {0};
    fw_error e;
    CHECK_INT(read_file_render(path, 0, &r, &e), 0);
    CHECK_STR(r.text ? r.text : "", "1#0[\\xef\\xbb]");
    free(r.text);
    /* errors name the path */
    write_file(path, "a,b\n\"x", 6);
    r = (render){0};
    CHECK_INT(read_file_render(path, 0, &r, &e), FW_EFORMAT);
    char want[256];
    snprintf(want, sizeof want, "%s:2: unterminated quoted field", path);
    CHECK_STR(e.msg, want);
    free(r.text);
    unlink(path);
    CHECK_INT(read_file_render(path, 0, &r, &e), FW_ENOTFOUND);
    snprintf(want, sizeof want, "%s: not found", path);
    CHECK_STR(e.msg, want);
    CHECK_INT(read_file_render(tmpdir, 0, &r, &e), FW_EIO);
}

/* ---- random round trip against an RFC 4180 writer ------------------------ */

static void emit(render *out, const char *s, size_t n)
{
    if (out->len + n + 1 > out->cap) {
        out->cap = (out->len + n + 1) * 2;
        out->text = realloc(out->text, out->cap);
    }
    memcpy(out->text + out->len, s, n);
    out->len += n;
    out->text[out->len] = '\0';
}

static void test_random_round_trip(void)
{
    static const char *const atoms[] = {"a", "Z", "0", ",", "\"", "\n", "\r", "\r\n", " ",
                                        "\xc3\xa9", "w_1", "."};
    const int n_atoms = (int)(sizeof atoms / sizeof atoms[0]);
    static const char *const breaks[] = {"\n", "\r\n", "\r"};
    fw_rng rng;
    fw_rng_init(&rng, 2024, 0);
    int mismatches = 0;
    for (int trial = 0; trial < 300; trial++) {
        render csv = {0}, want = {0};
        emit(&csv, "", 0);
        long line = 1;
        int n_rows = 1 + (int)fw_rng_below(&rng, 12);
        for (int row = 0; row < n_rows; row++) {
            while (fw_rng_below(&rng, 5) == 0) { /* blank lines */
                const char *b = breaks[fw_rng_below(&rng, 3)];
                /* a CR then a LF would fuse into one CRLF: avoid it */
                if (csv.len && csv.text[csv.len - 1] == '\r' && b[0] == '\n')
                    b = "\r\n";
                emit(&csv, b, strlen(b));
                line++;
            }
            int n_fields = 2 + (int)fw_rng_below(&rng, 3);
            char head[32];
            snprintf(head, sizeof head, "%s%ld#%d", row ? " " : "", line, row);
            emit(&want, head, strlen(head));
            for (int f = 0; f < n_fields; f++) {
                char field[64] = "";
                int n_at = (int)fw_rng_below(&rng, 5);
                for (int k = 0; k < n_at; k++)
                    strcat(field, atoms[fw_rng_below(&rng, (uint32_t)n_atoms)]);
                int needs_quotes = strpbrk(field, ",\"\r\n") != NULL || fw_rng_below(&rng, 4) == 0;
                if (f)
                    emit(&csv, ",", 1);
                if (needs_quotes)
                    emit(&csv, "\"", 1);
                emit(&want, "[", 1);
                for (const char *p = field; *p; p++) {
                    if (*p == '"' && needs_quotes)
                        emit(&csv, "\"", 1);
                    emit(&csv, p, 1);
                    if (*p == '\n' && !(p > field && p[-1] == '\r'))
                        line++;
                    if (*p == '\r')
                        line++;
                    if (*p == '\n')
                        emit(&want, "\\n", 2);
                    else if (*p == '\r')
                        emit(&want, "\\r", 2);
                    else if ((unsigned char)*p >= 0x7F) {
                        char hex[8];
                        snprintf(hex, sizeof hex, "\\x%02x", (unsigned char)*p);
                        emit(&want, hex, 4);
                    } else
                        emit(&want, p, 1);
                }
                if (needs_quotes)
                    emit(&csv, "\"", 1);
                emit(&want, "]", 1);
            }
            if (row + 1 < n_rows || fw_rng_below(&rng, 2)) {
                const char *b = breaks[fw_rng_below(&rng, 3)];
                emit(&csv, b, strlen(b));
                line++;
            }
        }
        render got = {0};
        fw_error e;
        int rc = parse_all(csv.text, csv.len, NULL, &got, &e);
        if (rc != 0 || strcmp(got.text ? got.text : "", want.text ? want.text : "")) {
            if (mismatches++ < 3)
                printf("#   trial %d: rc %d %s\n#   got  %s\n#   want %s\n", trial, rc, e.msg,
                       got.text ? got.text : "", want.text ? want.text : "");
        }
        free(got.text);
        free(csv.text);
        free(want.text);
    }
    CHECK_INT(mismatches, 0);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "%s/fwcsv.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir)) {
        printf("Bail out! cannot create a temp dir\n");
        return 1;
    }
    RUN(test_lf_rows);
    RUN(test_crlf_rows);
    RUN(test_lone_cr_rows);
    RUN(test_bom_skipped);
    RUN(test_quoted_fields);
    RUN(test_embedded_newlines);
    RUN(test_missing_final_newline);
    RUN(test_empty_fields);
    RUN(test_spaces_are_data);
    RUN(test_empty_inputs);
    RUN(test_blank_lines_skipped);
    RUN(test_unterminated_quote);
    RUN(test_bad_quoting);
    RUN(test_nul_byte_refused);
    RUN(test_non_utf8_passed_through);
    RUN(test_field_length_bound_small);
    RUN(test_field_length_bound_default);
    RUN(test_runaway_quote_bounded);
    RUN(test_too_many_fields);
    RUN(test_callback_error_stops);
    RUN(test_header_and_width_helpers);
    RUN(test_file_reader);
    RUN(test_random_round_trip);
    rmdir(tmpdir);
    return tap_done();
}
