/* eval_submission.c — the Kaggle submission file ("Image,Id", five
 * space-separated ids per row): writing, reading with file:line errors, and
 * scoring against a truth file by image name. */
#include <config.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../data/csv_read.h"
#include "eval.h"

/* ---- a small open-addressing set of strings -> row index ---- */

typedef struct name_index {
    long *slot;   /* (cap) row index or -1 */
    size_t cap;
    char *const *names;
} name_index;

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static int index_init(name_index *ix, long n, char *const *names)
{
    ix->cap = 16;
    while (ix->cap < (size_t)n * 2)
        ix->cap *= 2;
    ix->names = names;
    ix->slot = malloc(ix->cap * sizeof *ix->slot);
    if (!ix->slot)
        return FW_ENOMEM;
    for (size_t i = 0; i < ix->cap; i++)
        ix->slot[i] = -1;
    return 0;
}

/* Row of name, or -1. */
static long index_find(const name_index *ix, const char *name)
{
    for (size_t h = hash_str(name) & (ix->cap - 1);; h = (h + 1) & (ix->cap - 1)) {
        if (ix->slot[h] < 0)
            return -1;
        if (strcmp(ix->names[ix->slot[h]], name) == 0)
            return ix->slot[h];
    }
}

/* Insert row (names[row]); returns the existing row when the name is there. */
static long index_insert(name_index *ix, long row)
{
    const char *name = ix->names[row];
    for (size_t h = hash_str(name) & (ix->cap - 1);; h = (h + 1) & (ix->cap - 1)) {
        if (ix->slot[h] < 0) {
            ix->slot[h] = row;
            return -1;
        }
        if (strcmp(ix->names[ix->slot[h]], name) == 0)
            return ix->slot[h];
    }
}

/* ---- writing ---- */

static int plain_token(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == ',' || *s == '"' || *s == ' ')
            return 0;
    return 1;
}

int fw_submission_write(const char *path, long n, const char *const *image,
                        const char *const *ids, fw_error *err)
{
    for (long r = 0; r < n; r++) {
        if (!plain_token(image[r]))
            return fw_fail(err, FW_EINVAL, "%s: row %ld: the image name is empty or holds a "
                           "comma, quote, space or control byte", path, r + 1);
        for (int i = 0; i < FW_MAP_K; i++) {
            const char *id = ids[r * FW_MAP_K + i];
            if (id && !plain_token(id))
                return fw_fail(err, FW_EINVAL, "%s: row %ld: id %d is empty or holds a comma, "
                               "quote, space or control byte", path, r + 1, i + 1);
        }
    }
    FILE *f = fopen(path, "w");
    if (!f)
        return fw_fail(err, FW_EIO, "%s: cannot create: %s", path, strerror(errno));
    int bad = fputs("Image,Id\n", f) < 0;
    for (long r = 0; r < n && !bad; r++) {
        bad |= fputs(image[r], f) < 0 || fputc(',', f) == EOF;
        int first = 1;
        for (int i = 0; i < FW_MAP_K && !bad; i++) {
            const char *id = ids[r * FW_MAP_K + i];
            if (!id)
                continue;
            bad |= (!first && fputc(' ', f) == EOF) || fputs(id, f) < 0;
            first = 0;
        }
        bad |= fputc('\n', f) == EOF;
    }
    int saved = errno;
    if (fclose(f) != 0 && !bad) {
        bad = 1;
        saved = errno;
    }
    if (bad)
        return fw_fail(err, FW_EIO, "%s: write failed: %s", path, strerror(saved));
    return 0;
}

/* ---- reading ---- */

typedef struct read_ctx {
    fw_submission *sub;
    long cap;
    int max_ids;
    int saw_header;
} read_ctx;

static int grow(read_ctx *c)
{
    fw_submission *s = c->sub;
    long cap = c->cap ? c->cap * 2 : 256;
    char **image = realloc(s->image, (size_t)cap * sizeof *image);
    if (image)
        s->image = image;
    int *n_ids = realloc(s->n_ids, (size_t)cap * sizeof *n_ids);
    if (n_ids)
        s->n_ids = n_ids;
    char **ids = realloc(s->ids, (size_t)cap * FW_MAP_K * sizeof *ids);
    if (ids)
        s->ids = ids;
    long *line = realloc(s->line, (size_t)cap * sizeof *line);
    if (line)
        s->line = line;
    if (!image || !n_ids || !ids || !line)
        return FW_ENOMEM;
    c->cap = cap;
    return 0;
}

static int on_row(void *ctx, const fw_csv_row *row, fw_error *err)
{
    read_ctx *c = ctx;
    if (row->index == 0) {
        static const char *const header[] = {"Image", "Id"};
        c->saw_header = 1;
        return fw_csv_expect_header(row, header, 2, err);
    }
    FW_TRY(fw_csv_expect_fields(row, 2, err));
    const char *name = row->fields[0];
    if (!*name)
        return fw_csv_row_fail(row, err, FW_EFORMAT, "empty image name");
    fw_submission *s = c->sub;
    if (s->n == c->cap && grow(c) < 0)
        return fw_csv_row_fail(row, err, FW_ENOMEM, "out of memory");
    long r = s->n;
    char *ids_copy = strdup(row->fields[1]);
    char *image = strdup(name);
    if (!ids_copy || !image) {
        free(ids_copy);
        free(image);
        return fw_csv_row_fail(row, err, FW_ENOMEM, "out of memory");
    }
    s->image[r] = image;
    s->line[r] = row->line;
    s->n_ids[r] = 0;
    for (int i = 0; i < FW_MAP_K; i++)
        s->ids[r * FW_MAP_K + i] = NULL;
    s->n++;
    /* Split on runs of spaces; each id is its own allocation. */
    int n = 0, rc = 0;
    char *save = NULL;
    for (char *tok = strtok_r(ids_copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        if (n == c->max_ids) {
            rc = fw_csv_row_fail(row, err, FW_EFORMAT, "more than %d id%s", c->max_ids,
                                 c->max_ids == 1 ? "" : "s");
            break;
        }
        char *id = strdup(tok);
        if (!id) {
            rc = fw_csv_row_fail(row, err, FW_ENOMEM, "out of memory");
            break;
        }
        s->ids[r * FW_MAP_K + n++] = id;
        s->n_ids[r] = n;
    }
    free(ids_copy);
    if (rc == 0 && c->max_ids == 1 && n != 1)
        rc = fw_csv_row_fail(row, err, FW_EFORMAT, "expected one id, got none");
    return rc;
}

void fw_submission_free(fw_submission *sub)
{
    if (!sub)
        return;
    for (long r = 0; r < sub->n; r++) {
        free(sub->image[r]);
        for (int i = 0; i < FW_MAP_K; i++)
            free(sub->ids[r * FW_MAP_K + i]);
    }
    free(sub->image);
    free(sub->n_ids);
    free(sub->ids);
    free(sub->line);
    memset(sub, 0, sizeof *sub);
}

int fw_submission_read(const char *path, int max_ids, fw_submission *sub, fw_error *err)
{
    memset(sub, 0, sizeof *sub);
    if (max_ids < 1 || max_ids > FW_MAP_K)
        return fw_fail(err, FW_EINVAL, "submission: max_ids %d not in 1..%d", max_ids, FW_MAP_K);
    read_ctx c = {.sub = sub, .cap = 0, .max_ids = max_ids};
    int rc = fw_csv_read_file(path, NULL, on_row, &c, err);
    if (rc == 0 && !c.saw_header)
        rc = fw_fail(err, FW_EFORMAT, "%s: empty file (expected the header 'Image,Id')", path);
    name_index ix = {0};
    if (rc == 0 && index_init(&ix, sub->n, sub->image) < 0)
        rc = fw_fail(err, FW_ENOMEM, "%s: out of memory", path);
    for (long r = 0; rc == 0 && r < sub->n; r++) {
        long prev = index_insert(&ix, r);
        if (prev >= 0)
            rc = fw_fail(err, FW_EFORMAT, "%s:%ld: image '%s' already on line %ld", path,
                         sub->line[r], sub->image[r], sub->line[prev]);
    }
    free(ix.slot);
    if (rc < 0)
        fw_submission_free(sub);
    return rc;
}

int fw_submission_score(const fw_submission *sub, const char *sub_name,
                        const fw_submission *truth, const char *truth_name, double *map5,
                        fw_error *err)
{
    if (truth->n == 0)
        return fw_fail(err, FW_EINVAL, "%s: no images", truth_name);
    name_index ix = {0};
    if (index_init(&ix, sub->n, sub->image) < 0)
        return fw_fail(err, FW_ENOMEM, "scoring: out of memory");
    for (long r = 0; r < sub->n; r++)
        index_insert(&ix, r);
    unsigned char *seen = calloc(sub->n > 0 ? (size_t)sub->n : 1, 1);
    if (!seen) {
        free(ix.slot);
        return fw_fail(err, FW_ENOMEM, "scoring: out of memory");
    }
    long long total = 0;
    int rc = 0;
    for (long t = 0; t < truth->n; t++) {
        long r = index_find(&ix, truth->image[t]);
        if (r < 0) {
            rc = fw_fail(err, FW_ENOTFOUND, "%s: no row for image '%s' (%s:%ld)", sub_name,
                         truth->image[t], truth_name, truth->line[t]);
            break;
        }
        seen[r] = 1;
        const char *answer = truth->ids[t * FW_MAP_K];
        for (int i = 0; i < sub->n_ids[r]; i++)
            if (strcmp(sub->ids[r * FW_MAP_K + i], answer) == 0) {
                total += 60 / (i + 1);
                break;
            }
    }
    for (long r = 0; rc == 0 && r < sub->n; r++)
        if (!seen[r])
            rc = fw_fail(err, FW_EFORMAT, "%s:%ld: image '%s' is not in %s", sub_name,
                         sub->line[r], sub->image[r], truth_name);
    free(seen);
    free(ix.slot);
    if (rc == 0 && map5)
        *map5 = (double)total / (60.0 * (double)truth->n);
    return rc;
}
