/* dataset.c — loads and validates the CSV files of a Kaggle-layout whale
 * dataset into an fw_dataset (rules in dataset.h). No image is opened. */
#include "dataset.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "csv_read.h"

/* ---- names and ids ------------------------------------------------------ */

int fw_utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        int extra;
        unsigned cp, min;
        if (c < 0x80) {
            p++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            extra = 1, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            extra = 2, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            extra = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        for (int i = 1; i <= extra; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        p += extra + 1;
    }
    return 1;
}

/* Why a name is not acceptable as an Image value, or NULL when it is. */
static const char *image_name_problem(const char *name)
{
    if (!*name)
        return "is empty";
    if (!fw_utf8_valid(name))
        return "is not valid UTF-8";
    if (!strcmp(name, ".") || strstr(name, ".."))
        return "contains '..' or is '.'";
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (*p == '/' || *p == '\\')
            return "contains a path separator";
        if (*p < 0x20 || *p == 0x7F)
            return "contains a control character";
        if (*p == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F)
            return "contains a control character";
    }
    return NULL;
}

int fw_image_name_ok(const char *name)
{
    return name && !image_name_problem(name);
}

/* ---- reading Image,... files ---------------------------------------------- */

typedef struct csv_entry {
    char *image;
    char *id;      /* second column for Image,Id files (NULL otherwise) */
    float box[4];  /* x0 y0 x1 y1 for box files */
    long line;
} csv_entry;

typedef struct entry_list {
    csv_entry *v;
    long n, cap;
    int rows_seen;              /* header included */
    const char *const *header;  /* expected column names */
    int n_cols;
    int check_id;               /* 1: validate the Id column */
    int is_box;                 /* 1: parse x0,y0,x1,y1 */
} entry_list;

static void entries_free(entry_list *l)
{
    for (long i = 0; i < l->n; i++) {
        free(l->v[i].image);
        free(l->v[i].id);
    }
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

static int parse_coord(const fw_csv_row *row, int col, const char *name, float *out,
                       fw_error *err)
{
    const char *s = row->fields[col];
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno == ERANGE || !isfinite(v))
        return fw_csv_row_fail(row, err, FW_EFORMAT, "%s '%s' is not a number", name, s);
    if (v < 0)
        return fw_csv_row_fail(row, err, FW_EFORMAT, "%s is negative (%s)", name, s);
    *out = (float)v;
    return FW_OK;
}

static int on_entry_row(void *ctx, const fw_csv_row *row, fw_error *err)
{
    entry_list *l = ctx;
    if (l->rows_seen++ == 0)
        return fw_csv_expect_header(row, l->header, l->n_cols, err);
    FW_TRY(fw_csv_expect_fields(row, l->n_cols, err));
    const char *image = row->fields[0];
    const char *problem = image_name_problem(image);
    if (problem)
        return fw_csv_row_fail(row, err, FW_EFORMAT, "Image '%s' %s", image, problem);
    csv_entry e = {0};
    e.line = row->line;
    if (l->check_id) {
        const char *id = row->fields[1];
        if (!*id)
            return fw_csv_row_fail(row, err, FW_EFORMAT, "empty Id for '%s'", image);
        if (!fw_utf8_valid(id))
            return fw_csv_row_fail(row, err, FW_EFORMAT, "Id for '%s' is not valid UTF-8",
                                   image);
    }
    if (l->is_box) {
        static const char *const names[4] = {"x0", "y0", "x1", "y1"};
        for (int k = 0; k < 4; k++)
            FW_TRY(parse_coord(row, k + 1, names[k], &e.box[k], err));
        if (!(e.box[2] > e.box[0]))
            return fw_csv_row_fail(row, err, FW_EFORMAT, "empty box: x1 (%s) <= x0 (%s)",
                                   row->fields[3], row->fields[1]);
        if (!(e.box[3] > e.box[1]))
            return fw_csv_row_fail(row, err, FW_EFORMAT, "empty box: y1 (%s) <= y0 (%s)",
                                   row->fields[4], row->fields[2]);
    }
    if (l->n == l->cap) {
        long cap = l->cap ? l->cap * 2 : 1024;
        csv_entry *grown = realloc(l->v, (size_t)cap * sizeof *grown);
        if (!grown)
            return fw_csv_row_fail(row, err, FW_ENOMEM, "out of memory");
        l->v = grown;
        l->cap = cap;
    }
    e.image = strdup(image);
    e.id = l->check_id ? strdup(row->fields[1]) : NULL;
    if (!e.image || (l->check_id && !e.id)) {
        free(e.image);
        free(e.id);
        return fw_csv_row_fail(row, err, FW_ENOMEM, "out of memory");
    }
    l->v[l->n++] = e;
    return FW_OK;
}

static int read_entries(const char *path, entry_list *l, fw_error *err)
{
    int rc = fw_csv_read_file(path, NULL, on_entry_row, l, err);
    if (rc < 0) {
        entries_free(l);
        return rc;
    }
    if (l->rows_seen == 0) {
        char want[96] = "";
        for (int i = 0; i < l->n_cols; i++) {
            strcat(want, i ? "," : "");
            strcat(want, l->header[i]);
        }
        entries_free(l);
        return fw_fail(err, FW_EFORMAT, "%s: empty file (expected the header '%s')", path,
                       want);
    }
    return FW_OK;
}

/* ---- sorted name index (duplicates, lookups) ------------------------------- */

typedef struct name_ref {
    const char *name;
    long line;   /* for messages */
    long index;  /* position in its list */
} name_ref;

static int cmp_name_ref(const void *a, const void *b)
{
    const name_ref *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return (x->line > y->line) - (x->line < y->line);
}

static int cmp_name_key(const void *key, const void *elem)
{
    return strcmp((const char *)key, ((const name_ref *)elem)->name);
}

/* Sort refs by name; refuse a repeated name, reporting the earliest repeat. */
static int sort_and_check_unique(name_ref *refs, long n, const char *path, fw_error *err)
{
    qsort(refs, (size_t)n, sizeof *refs, cmp_name_ref);
    long worst = -1;
    for (long i = 1; i < n; i++)
        if (!strcmp(refs[i].name, refs[i - 1].name) &&
            (worst < 0 || refs[i].line < refs[worst].line))
            worst = i;
    if (worst >= 0) {
        long first = worst - 1;
        while (first > 0 && !strcmp(refs[first - 1].name, refs[worst].name))
            first--;
        return fw_fail(err, FW_EFORMAT, "%s:%ld: duplicate Image '%s' (first on line %ld)", path,
                       refs[worst].line, refs[worst].name, refs[first].line);
    }
    return FW_OK;
}

static name_ref *refs_of(const entry_list *l)
{
    name_ref *refs = malloc((size_t)(l->n ? l->n : 1) * sizeof *refs);
    if (refs)
        for (long i = 0; i < l->n; i++)
            refs[i] = (name_ref){l->v[i].image, l->v[i].line, i};
    return refs;
}

static const name_ref *find_ref(const name_ref *refs, long n, const char *name)
{
    return n ? bsearch(name, refs, (size_t)n, sizeof *refs, cmp_name_key) : NULL;
}

/* ---- paths -------------------------------------------------------------- */

static char *join2(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 2);
    if (s) {
        memcpy(s, a, la);
        s[la] = '/';
        memcpy(s + la + 1, b, lb + 1);
    }
    return s;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int fw_dataset_path(const fw_dataset *ds, const char *subdir, const char *name, char *buf,
                    size_t bufsz, fw_error *err)
{
    int n = snprintf(buf, bufsz, "%s/%s/%s", ds->root, subdir, name);
    if (n < 0 || (size_t)n >= bufsz)
        return fw_fail(err, FW_ETOOBIG, "path too long: %s/%s/%s", ds->root, subdir, name);
    return FW_OK;
}

/* ---- whales ------------------------------------------------------------- */

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int fw_dataset_whale_index(const fw_dataset *ds, const char *id)
{
    if (!strcmp(id, FW_NEW_WHALE_ID))
        return FW_NEW_WHALE;
    if (!ds->n_whales)
        return -2;
    char *const *hit =
        bsearch(&id, ds->whales, (size_t)ds->n_whales, sizeof *ds->whales, cmp_str_ptr);
    return hit ? (int)(hit - ds->whales) : -2;
}

/* Sorted distinct ids except new_whale. */
static int build_whales(fw_dataset *ds, const entry_list *train, fw_error *err)
{
    const char **ids = malloc((size_t)(train->n ? train->n : 1) * sizeof *ids);
    if (!ids)
        return fw_fail(err, FW_ENOMEM, "out of memory");
    long n = 0;
    for (long i = 0; i < train->n; i++)
        if (strcmp(train->v[i].id, FW_NEW_WHALE_ID))
            ids[n++] = train->v[i].id;
    qsort(ids, (size_t)n, sizeof *ids, cmp_str_ptr);
    long distinct = 0;
    for (long i = 0; i < n; i++)
        if (i == 0 || strcmp(ids[i], ids[i - 1]))
            ids[distinct++] = ids[i];
    if (distinct > 0x7FFFFFFF) {
        free(ids);
        return fw_fail(err, FW_ETOOBIG, "too many whale ids (%ld)", distinct);
    }
    ds->whales = calloc((size_t)(distinct ? distinct : 1), sizeof *ds->whales);
    if (!ds->whales) {
        free(ids);
        return fw_fail(err, FW_ENOMEM, "out of memory");
    }
    for (long i = 0; i < distinct; i++) {
        ds->whales[i] = strdup(ids[i]);
        if (!ds->whales[i]) {
            ds->n_whales = (int)i;
            free(ids);
            return fw_fail(err, FW_ENOMEM, "out of memory");
        }
    }
    ds->n_whales = (int)distinct;
    free(ids);
    return FW_OK;
}

/* Move the entries' image strings into samples (entries keep NULL). */
static int take_samples(entry_list *l, fw_sample **out, long *n_out, fw_error *err)
{
    *out = calloc((size_t)(l->n ? l->n : 1), sizeof **out);
    if (!*out)
        return fw_fail(err, FW_ENOMEM, "out of memory");
    for (long i = 0; i < l->n; i++) {
        (*out)[i].image = l->v[i].image;
        (*out)[i].whale = FW_NEW_WHALE;
        l->v[i].image = NULL;
    }
    *n_out = l->n;
    return FW_OK;
}

/* ---- the loader --------------------------------------------------------- */

static const char *const header_image_id[2] = {"Image", "Id"};
static const char *const header_box[5] = {"Image", "x0", "y0", "x1", "y1"};

typedef struct loader {
    fw_dataset *ds;
    char *path;          /* scratch: the file being read */
    entry_list train, test, truth, boxes;
    name_ref *train_refs, *test_refs;
} loader;

static void loader_free(loader *L)
{
    free(L->path);
    entries_free(&L->train);
    entries_free(&L->test);
    entries_free(&L->truth);
    entries_free(&L->boxes);
    free(L->train_refs);
    free(L->test_refs);
}

static int set_path(loader *L, const char *name, fw_error *err)
{
    free(L->path);
    L->path = join2(L->ds->root, name);
    return L->path ? FW_OK : fw_fail(err, FW_ENOMEM, "out of memory");
}

static int load_train(loader *L, fw_error *err)
{
    fw_dataset *ds = L->ds;
    FW_TRY(set_path(L, "train.csv", err));
    L->train = (entry_list){.header = header_image_id, .n_cols = 2, .check_id = 1};
    FW_TRY(read_entries(L->path, &L->train, err));
    if (L->train.n == 0)
        return fw_fail(err, FW_EFORMAT, "%s: no images listed (only the header)", L->path);
    L->train_refs = refs_of(&L->train);
    if (!L->train_refs)
        return fw_fail(err, FW_ENOMEM, "out of memory");
    FW_TRY(sort_and_check_unique(L->train_refs, L->train.n, L->path, err));
    FW_TRY(build_whales(ds, &L->train, err));
    /* the refs keep pointing at the same strings, now owned by ds->train */
    FW_TRY(take_samples(&L->train, &ds->train, &ds->n_train, err));
    for (long i = 0; i < ds->n_train; i++) {
        int w = fw_dataset_whale_index(ds, L->train.v[i].id);
        ds->train[i].whale = w; /* never -2: every id is in ds->whales */
    }
    return FW_OK;
}

static int load_test(loader *L, const fw_dataset_opts *opts, fw_error *err)
{
    fw_dataset *ds = L->ds;
    FW_TRY(set_path(L, "sample_submission.csv", err));
    if (!file_exists(L->path)) {
        if (opts && opts->require_test)
            return fw_fail(err, FW_ENOTFOUND, "%s: not found", L->path);
        return FW_OK;
    }
    L->test = (entry_list){.header = header_image_id, .n_cols = 2};
    FW_TRY(read_entries(L->path, &L->test, err));
    L->test_refs = refs_of(&L->test);
    if (!L->test_refs)
        return fw_fail(err, FW_ENOMEM, "out of memory");
    FW_TRY(sort_and_check_unique(L->test_refs, L->test.n, L->path, err));
    /* the refs keep pointing at the same strings, now owned by ds->test */
    return take_samples(&L->test, &ds->test, &ds->n_test, err);
}

static int load_truth(loader *L, fw_error *err)
{
    fw_dataset *ds = L->ds;
    if (!L->test_refs)
        return FW_OK; /* no sample_submission.csv: nothing to label */
    FW_TRY(set_path(L, "test_truth.csv", err));
    if (!file_exists(L->path))
        return FW_OK;
    L->truth = (entry_list){.header = header_image_id, .n_cols = 2, .check_id = 1};
    FW_TRY(read_entries(L->path, &L->truth, err));
    name_ref *refs = refs_of(&L->truth);
    if (!refs)
        return fw_fail(err, FW_ENOMEM, "out of memory");
    int rc = sort_and_check_unique(refs, L->truth.n, L->path, err);
    free(refs);
    FW_TRY(rc);
    char *labelled = calloc((size_t)(ds->n_test ? ds->n_test : 1), 1);
    if (!labelled)
        return fw_fail(err, FW_ENOMEM, "out of memory");
    for (long i = 0; i < L->truth.n; i++) {
        const csv_entry *e = &L->truth.v[i];
        const name_ref *t = find_ref(L->test_refs, ds->n_test, e->image);
        if (!t) {
            free(labelled);
            return fw_fail(err, FW_EFORMAT, "%s:%ld: image '%s' is not in sample_submission.csv",
                           L->path, e->line, e->image);
        }
        int w = fw_dataset_whale_index(ds, e->id);
        if (w == -2) {
            w = FW_NEW_WHALE;
            ds->n_test_unseen++;
        }
        ds->test[t->index].whale = w;
        labelled[t->index] = 1;
    }
    for (long i = 0; i < ds->n_test; i++)
        if (!labelled[i]) {
            free(labelled);
            return fw_fail(err, FW_EFORMAT,
                           "%s: no row for test image '%s' (sample_submission.csv line %ld)",
                           L->path, ds->test[i].image, L->test.v[i].line);
        }
    free(labelled);
    ds->has_test_truth = 1;
    return FW_OK;
}

static void set_box(fw_sample *s, const float *b)
{
    s->box = (fw_bbox){b[0], b[1], b[2], b[3], 1};
}

static int load_boxes(loader *L, const fw_dataset_opts *opts, fw_error *err)
{
    fw_dataset *ds = L->ds;
    if (opts && opts->bbox_csv) {
        free(L->path);
        L->path = strdup(opts->bbox_csv);
        if (!L->path)
            return fw_fail(err, FW_ENOMEM, "out of memory");
    } else {
        FW_TRY(set_path(L, "bounding_boxes.csv", err));
        if (!file_exists(L->path))
            return FW_OK;
    }
    L->boxes = (entry_list){.header = header_box, .n_cols = 5, .is_box = 1};
    FW_TRY(read_entries(L->path, &L->boxes, err));
    name_ref *refs = refs_of(&L->boxes);
    if (!refs)
        return fw_fail(err, FW_ENOMEM, "out of memory");
    int rc = sort_and_check_unique(refs, L->boxes.n, L->path, err);
    free(refs);
    FW_TRY(rc);
    for (long i = 0; i < L->boxes.n; i++) {
        const csv_entry *e = &L->boxes.v[i];
        const name_ref *tr = find_ref(L->train_refs, ds->n_train, e->image);
        const name_ref *te = find_ref(L->test_refs, ds->n_test, e->image);
        if (tr) {
            set_box(&ds->train[tr->index], e->box);
            ds->n_boxes++;
        }
        if (te) {
            set_box(&ds->test[te->index], e->box);
            ds->n_boxes++;
        }
        if (!tr && !te)
            ds->n_boxes_unmatched++;
    }
    ds->bbox_path = L->path;
    L->path = NULL;
    return FW_OK;
}

static int check_dirs(loader *L, fw_error *err)
{
    fw_dataset *ds = L->ds;
    FW_TRY(set_path(L, "train", err));
    if (!is_dir(L->path))
        return fw_fail(err, FW_ENOTFOUND, "%s/: directory not found (train.csv lists %ld image%s)",
                       L->path, ds->n_train, ds->n_train == 1 ? "" : "s");
    if (ds->n_test) {
        FW_TRY(set_path(L, "test", err));
        if (!is_dir(L->path))
            return fw_fail(err, FW_ENOTFOUND,
                           "%s/: directory not found (sample_submission.csv lists %ld image%s)",
                           L->path, ds->n_test, ds->n_test == 1 ? "" : "s");
    }
    return FW_OK;
}

int fw_dataset_load(fw_dataset *ds, const char *root, const fw_dataset_opts *opts,
                    fw_error *err)
{
    memset(ds, 0, sizeof *ds);
    if (!is_dir(root))
        return fw_fail(err, FW_ENOTFOUND, "%s: %s", root,
                       file_exists(root) ? "not a directory" : "no such directory");
    size_t len = strlen(root);
    while (len > 1 && root[len - 1] == '/')
        len--;
    ds->root = strndup(root, len);
    if (!ds->root)
        return fw_fail(err, FW_ENOMEM, "out of memory");
    loader L = {.ds = ds};
    int rc = load_train(&L, err);
    if (rc == FW_OK)
        rc = load_test(&L, opts, err);
    if (rc == FW_OK)
        rc = load_truth(&L, err);
    if (rc == FW_OK)
        rc = load_boxes(&L, opts, err);
    if (rc == FW_OK)
        rc = check_dirs(&L, err);
    loader_free(&L);
    if (rc < 0)
        fw_dataset_free(ds);
    return rc;
}

void fw_dataset_free(fw_dataset *ds)
{
    for (long i = 0; i < ds->n_train; i++)
        free(ds->train[i].image);
    for (long i = 0; i < ds->n_test; i++)
        free(ds->test[i].image);
    for (int i = 0; i < ds->n_whales; i++)
        free(ds->whales[i]);
    free(ds->train);
    free(ds->test);
    free(ds->whales);
    free(ds->root);
    free(ds->bbox_path);
    memset(ds, 0, sizeof *ds);
}
