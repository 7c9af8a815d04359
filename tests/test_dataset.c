/* test_dataset.c — loading small datasets written to a temp dir: whale
 * indices and sorted ids (checked against a brute-force recount), new_whale,
 * test_truth, bounding boxes and every refusal with its file and line. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dataset.h"
#include "rng.h"
#include "tap.h"

static char base[64];
static int n_roots;

/* A fresh dataset directory with train/ and test/. */
static void new_root(char *root, size_t sz)
{
    snprintf(root, sz, "%s/ds%d", base, n_roots++);
    mkdir(root, 0755);
    char d[256];
    snprintf(d, sizeof d, "%s/train", root);
    mkdir(d, 0755);
    snprintf(d, sizeof d, "%s/test", root);
    mkdir(d, 0755);
}

static void write_at(const char *root, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", root, name);
    FILE *f = fopen(path, "wb");
    fputs(text, f);
    fclose(f);
}

/* Load; expect failure with code and a message equal to "ROOT/" + tail. */
static void expect_load_error(const char *root, const fw_dataset_opts *opts, int code,
                              const char *tail_fmt, ...) __attribute__((format(printf, 4, 5)));

static void expect_load_error(const char *root, const fw_dataset_opts *opts, int code,
                              const char *tail_fmt, ...)
{
    char tail[512], want[768];
    va_list ap;
    va_start(ap, tail_fmt);
    vsnprintf(tail, sizeof tail, tail_fmt, ap);
    va_end(ap);
    snprintf(want, sizeof want, "%s/%s", root, tail);
    fw_dataset ds;
    fw_error e;
    fw_error_clear(&e);
    int rc = fw_dataset_load(&ds, root, opts, &e);
    CHECK_INT(rc, code);
    CHECK_STR(e.msg, want);
    CHECK(ds.n_train == 0 && ds.train == NULL && ds.root == NULL);
    fw_dataset_free(&ds);
}

static void test_basic_load(void)
{
    char root[128];
    new_root(root, sizeof root);
    write_at(root, "train.csv",
             "Image,Id\n"
             "a.jpg,w_c\n"
             "b.jpg,new_whale\n"
             "c.jpg,w_a\n"
             "d.jpg,w_c\n"
             "e.jpg,w_b\n"
             "f.jpg,new_whale\n");
    write_at(root, "sample_submission.csv",
             "Image,Id\nt1.jpg,new_whale w_1 w_2 w_3 w_4\nt2.jpg,new_whale w_1 w_2 w_3 w_4\n");
    fw_dataset ds;
    fw_error e;
    fw_error_clear(&e);
    fw_dataset_opts opts = {NULL, 1};
    int rc = fw_dataset_load(&ds, root, &opts, &e);
    CHECK_MSG(rc == 0, "%s", e.msg);
    if (rc)
        return;
    CHECK_STR(ds.root, root);
    CHECK_INT(ds.n_train, 6);
    CHECK_INT(ds.n_whales, 3);
    CHECK_STR(ds.whales[0], "w_a");
    CHECK_STR(ds.whales[1], "w_b");
    CHECK_STR(ds.whales[2], "w_c");
    static const char *const names[6] = {"a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg", "f.jpg"};
    static const int whales[6] = {2, FW_NEW_WHALE, 0, 2, 1, FW_NEW_WHALE};
    for (int i = 0; i < 6; i++) {
        CHECK_STR(ds.train[i].image, names[i]);
        CHECK_INT(ds.train[i].whale, whales[i]);
        CHECK_INT(ds.train[i].box.valid, 0);
    }
    CHECK_INT(ds.n_test, 2);
    CHECK_STR(ds.test[0].image, "t1.jpg");
    CHECK_STR(ds.test[1].image, "t2.jpg");
    CHECK_INT(ds.test[0].whale, FW_NEW_WHALE);
    CHECK_INT(ds.has_test_truth, 0);
    CHECK(ds.bbox_path == NULL);
    CHECK_INT(fw_dataset_whale_index(&ds, "w_b"), 1);
    CHECK_INT(fw_dataset_whale_index(&ds, "new_whale"), FW_NEW_WHALE);
    CHECK_INT(fw_dataset_whale_index(&ds, "w_z"), -2);
    CHECK_INT(fw_dataset_whale_index(&ds, "W_A"), -2);
    char path[256];
    CHECK_INT(fw_dataset_path(&ds, "train", "a.jpg", path, sizeof path, &e), 0);
    char want[256];
    snprintf(want, sizeof want, "%s/train/a.jpg", root);
    CHECK_STR(path, want);
    CHECK_INT(fw_dataset_path(&ds, "train", "a.jpg", path, 8, &e), FW_ETOOBIG);
    fw_dataset_free(&ds);
    CHECK(ds.train == NULL && ds.n_train == 0);
}

static void test_header_variants_and_syntax(void)
{
    char root[128];
    new_root(root, sizeof root);
    /* BOM, CRLF, case-insensitive header with spaces, quoted fields, blank lines */
    write_at(root, "train.csv",
             "\xEF\xBB\xBF" "IMAGE , id\r\n\"a.jpg\",\"w 1\"\r\n\r\nb.jpg,w 1\r\n\r\n");
    fw_dataset ds;
    fw_error e;
    fw_error_clear(&e);
    int rc = fw_dataset_load(&ds, root, NULL, &e);
    CHECK_MSG(rc == 0, "%s", e.msg);
    if (rc)
        return;
    CHECK_INT(ds.n_train, 2);
    CHECK_INT(ds.n_whales, 1);
    CHECK_STR(ds.whales[0], "w 1");
    CHECK_INT(ds.n_test, 0); /* no sample_submission.csv, not required */
    fw_dataset_free(&ds);
    /* trailing spaces in an Id are kept: "w 1 " is another whale */
    write_at(root, "train.csv", "Image,Id\na.jpg,w 1\nb.jpg,w 1 \n");
    rc = fw_dataset_load(&ds, root, NULL, &e);
    CHECK_INT(rc, 0);
    CHECK_INT(ds.n_whales, 2);
    fw_dataset_free(&ds);
}

static void test_file_level_errors(void)
{
    char root[128];
    new_root(root, sizeof root);
    expect_load_error(root, NULL, FW_ENOTFOUND, "train.csv: not found");
    write_at(root, "train.csv", "");
    expect_load_error(root, NULL, FW_EFORMAT,
                      "train.csv: empty file (expected the header 'Image,Id')");
    write_at(root, "train.csv", "\xEF\xBB\xBF\r\n\n");
    expect_load_error(root, NULL, FW_EFORMAT,
                      "train.csv: empty file (expected the header 'Image,Id')");
    write_at(root, "train.csv", "Image,Id\n");
    expect_load_error(root, NULL, FW_EFORMAT, "train.csv: no images listed (only the header)");
    write_at(root, "train.csv", "Image,Whale\na.jpg,w\n");
    expect_load_error(root, NULL, FW_EFORMAT,
                      "train.csv:1: expected the header 'Image,Id', got 'Image,Whale'");
    write_at(root, "train.csv", "Image,Id\na.jpg,w\nb.jpg,w,x\n");
    expect_load_error(root, NULL, FW_EFORMAT, "train.csv:3: expected 2 fields, got 3");
    write_at(root, "train.csv", "Image,Id\na.jpg,w\n\"b.jpg,w\n");
    expect_load_error(root, NULL, FW_EFORMAT, "train.csv:3: unterminated quoted field");
    /* the dataset root itself */
    char missing[160];
    snprintf(missing, sizeof missing, "%s/nope", root);
    fw_dataset ds;
    fw_error e;
    CHECK_INT(fw_dataset_load(&ds, missing, NULL, &e), FW_ENOTFOUND);
    char want[256];
    snprintf(want, sizeof want, "%s: no such directory", missing);
    CHECK_STR(e.msg, want);
}

static void test_unsafe_image_names(void)
{
    char root[128];
    new_root(root, sizeof root);
    static const struct {
        const char *csv_value, *shown, *why;
    } bad[] = {
        {"../x.jpg", "../x.jpg", "contains '..' or is '.'"},
        {"..", "..", "contains '..' or is '.'"},
        {".", ".", "contains '..' or is '.'"},
        {"a/b.jpg", "a/b.jpg", "contains a path separator"},
        {"/etc/passwd", "/etc/passwd", "contains a path separator"},
        {"a\\b.jpg", "a\\b.jpg", "contains a path separator"},
        {"\"x\x01.jpg\"", "x\x01.jpg", "contains a control character"},
        {"\"x\n.jpg\"", "x\n.jpg", "contains a control character"},
        {"x\x1b[2J.jpg", "x\x1b[2J.jpg", "contains a control character"},
        {"x\xc2\x9b.jpg", "x\xc2\x9b.jpg", "contains a control character"},
        {"x\xff.jpg", "x\xff.jpg", "is not valid UTF-8"},
        {"", "", "is empty"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char csv[256];
        snprintf(csv, sizeof csv, "Image,Id\nok.jpg,w\n\nfine.jpg,w\n%s,w\n", bad[i].csv_value);
        write_at(root, "train.csv", csv);
        expect_load_error(root, NULL, FW_EFORMAT, "train.csv:5: Image '%s' %s", bad[i].shown,
                          bad[i].why);
        CHECK(!fw_image_name_ok(bad[i].shown));
    }
    /* the same rule in the other files */
    write_at(root, "train.csv", "Image,Id\nok.jpg,w\n");
    write_at(root, "sample_submission.csv", "Image,Id\nt.jpg,x\n../t.jpg,x\n");
    expect_load_error(root, NULL, FW_EFORMAT,
                      "sample_submission.csv:3: Image '../t.jpg' contains '..' or is '.'");
    CHECK(fw_image_name_ok("0a1b2c3d.jpg"));
    CHECK(fw_image_name_ok("w\xc3\xa9l.jpg"));
    CHECK(fw_image_name_ok("a b.jpg"));
    CHECK(!fw_image_name_ok(NULL));
}

static void test_duplicates_and_ids(void)
{
    char root[128];
    new_root(root, sizeof root);
    write_at(root, "train.csv", "Image,Id\na.jpg,w\nb.jpg,w\nc.jpg,v\nb.jpg,w\nc.jpg,v\n");
    expect_load_error(root, NULL, FW_EFORMAT, "train.csv:5: duplicate Image 'b.jpg' (first on line 3)");
    write_at(root, "train.csv", "Image,Id\na.jpg,w\nb.jpg,\n");
    expect_load_error(root, NULL, FW_EFORMAT, "train.csv:3: empty Id for 'b.jpg'");
    write_at(root, "train.csv", "Image,Id\na.jpg,w\nb.jpg,w\xc3\n");
    expect_load_error(root, NULL, FW_EFORMAT, "train.csv:3: Id for 'b.jpg' is not valid UTF-8");
    /* a control character in an Id is data: kept as given */
    write_at(root, "train.csv", "Image,Id\na.jpg,w\x1b[31m\nb.jpg,\"w\tx\"\n");
    fw_dataset ds;
    fw_error e;
    int rc = fw_dataset_load(&ds, root, NULL, &e);
    CHECK_MSG(rc == 0, "%s", e.msg);
    if (rc == 0) {
        CHECK_INT(ds.n_whales, 2);
        CHECK_STR(ds.whales[0], "w\tx");
        CHECK_STR(ds.whales[1], "w\x1b[31m");
        fw_dataset_free(&ds);
    }
}

static void test_required_test_and_dirs(void)
{
    char root[128];
    new_root(root, sizeof root);
    write_at(root, "train.csv", "Image,Id\na.jpg,w\n");
    fw_dataset_opts need = {NULL, 1};
    expect_load_error(root, &need, FW_ENOTFOUND, "sample_submission.csv: not found");
    write_at(root, "sample_submission.csv", "Image,Id\nt.jpg,x\n");
    char dir[256];
    snprintf(dir, sizeof dir, "%s/test", root);
    rmdir(dir);
    expect_load_error(root, &need, FW_ENOTFOUND,
                      "test/: directory not found (sample_submission.csv lists 1 image)");
    snprintf(dir, sizeof dir, "%s/train", root);
    rmdir(dir);
    expect_load_error(root, NULL, FW_ENOTFOUND,
                      "train/: directory not found (train.csv lists 1 image)");
    /* no test images: no test/ needed */
    mkdir(dir, 0755);
    write_at(root, "sample_submission.csv", "Image,Id\n");
    fw_dataset ds;
    fw_error e;
    int rc = fw_dataset_load(&ds, root, &need, &e);
    CHECK_MSG(rc == 0, "%s", e.msg);
    CHECK_INT(ds.n_test, 0);
    fw_dataset_free(&ds);
}

static void test_test_truth(void)
{
    char root[128];
    new_root(root, sizeof root);
    write_at(root, "train.csv", "Image,Id\na.jpg,w_1\nb.jpg,w_2\nc.jpg,new_whale\n");
    write_at(root, "sample_submission.csv", "Image,Id\nt1.jpg,x\nt2.jpg,x\nt3.jpg,x\nt4.jpg,x\n");
    write_at(root, "test_truth.csv",
             "Image,Id\nt3.jpg,w_2\nt1.jpg,new_whale\nt4.jpg,w_9\nt2.jpg,w_1\n");
    fw_dataset ds;
    fw_error e;
    int rc = fw_dataset_load(&ds, root, NULL, &e);
    CHECK_MSG(rc == 0, "%s", e.msg);
    if (rc == 0) {
        CHECK_INT(ds.has_test_truth, 1);
        CHECK_INT(ds.test[0].whale, FW_NEW_WHALE);
        CHECK_INT(ds.test[1].whale, 0);
        CHECK_INT(ds.test[2].whale, 1);
        CHECK_INT(ds.test[3].whale, FW_NEW_WHALE); /* w_9 was never in train: new_whale */
        CHECK_INT(ds.n_test_unseen, 1);
        CHECK_INT(ds.n_whales, 2); /* test ids add no whales */
        fw_dataset_free(&ds);
    }
    write_at(root, "test_truth.csv", "Image,Id\nt1.jpg,w_1\nzz.jpg,w_1\n");
    expect_load_error(root, NULL, FW_EFORMAT,
                      "test_truth.csv:3: image 'zz.jpg' is not in sample_submission.csv");
    write_at(root, "test_truth.csv", "Image,Id\nt1.jpg,w_1\nt2.jpg,w_1\nt4.jpg,w_1\n");
    expect_load_error(root, NULL, FW_EFORMAT,
                      "test_truth.csv: no row for test image 't3.jpg' (sample_submission.csv "
                      "line 4)");
    write_at(root, "test_truth.csv",
             "Image,Id\nt1.jpg,w_1\nt2.jpg,w_1\nt3.jpg,w_1\nt4.jpg,w_1\nt2.jpg,w_2\n");
    expect_load_error(root, NULL, FW_EFORMAT,
                      "test_truth.csv:6: duplicate Image 't2.jpg' (first on line 3)");
    write_at(root, "test_truth.csv", "Image,Id\nt1.jpg,\n");
    expect_load_error(root, NULL, FW_EFORMAT, "test_truth.csv:2: empty Id for 't1.jpg'");
}

static void test_bounding_boxes(void)
{
    char root[128];
    new_root(root, sizeof root);
    write_at(root, "train.csv", "Image,Id\na.jpg,w_1\nb.jpg,w_2\nc.jpg,new_whale\n");
    write_at(root, "sample_submission.csv", "Image,Id\nt1.jpg,x\nt2.jpg,x\n");
    write_at(root, "bounding_boxes.csv",
             "Image,x0,y0,x1,y1\nb.jpg,10,20,110.5,70\nt2.jpg,0,0,5,6\nother.jpg,1,1,2,2\n");
    fw_dataset ds;
    fw_error e;
    int rc = fw_dataset_load(&ds, root, NULL, &e);
    CHECK_MSG(rc == 0, "%s", e.msg);
    if (rc == 0) {
        char want[256];
        snprintf(want, sizeof want, "%s/bounding_boxes.csv", root);
        CHECK_STR(ds.bbox_path, want);
        CHECK_INT(ds.train[0].box.valid, 0);
        CHECK_INT(ds.train[1].box.valid, 1);
        CHECK_NEAR(ds.train[1].box.x0, 10, 0);
        CHECK_NEAR(ds.train[1].box.y0, 20, 0);
        CHECK_NEAR(ds.train[1].box.x1, 110.5, 0);
        CHECK_NEAR(ds.train[1].box.y1, 70, 0);
        CHECK_INT(ds.train[2].box.valid, 0);
        CHECK_INT(ds.test[0].box.valid, 0);
        CHECK_INT(ds.test[1].box.valid, 1);
        CHECK_NEAR(ds.test[1].box.y1, 6, 0);
        CHECK_INT(ds.n_boxes, 2);
        CHECK_INT(ds.n_boxes_unmatched, 1);
        fw_dataset_free(&ds);
    }
    static const struct {
        const char *row, *msg;
    } bad[] = {
        {"a.jpg,10,0,10,5", "empty box: x1 (10) <= x0 (10)"},
        {"a.jpg,10,0,5,5", "empty box: x1 (5) <= x0 (10)"},
        {"a.jpg,0,7,5,3", "empty box: y1 (3) <= y0 (7)"},
        {"a.jpg,-1,0,5,5", "x0 is negative (-1)"},
        {"a.jpg,0,-0.5,5,5", "y0 is negative (-0.5)"},
        {"a.jpg,0,0,abc,5", "x1 'abc' is not a number"},
        {"a.jpg,0,0,5,", "y1 '' is not a number"},
        {"a.jpg,0,0,5,nan", "y1 'nan' is not a number"},
        {"a.jpg,0,0,inf,5", "x1 'inf' is not a number"},
        {"a.jpg,0,0,5 ,5", "x1 '5 ' is not a number"},
        {"a.jpg,0,0,5", "expected 5 fields, got 4"},
        {"../a.jpg,0,0,5,5", "Image '../a.jpg' contains '..' or is '.'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char csv[256];
        snprintf(csv, sizeof csv, "Image,x0,y0,x1,y1\nb.jpg,1,2,3,4\n%s\n", bad[i].row);
        write_at(root, "bounding_boxes.csv", csv);
        expect_load_error(root, NULL, FW_EFORMAT, "bounding_boxes.csv:3: %s", bad[i].msg);
    }
    write_at(root, "bounding_boxes.csv", "Image,x0,y0,x1,y1\nb.jpg,1,2,3,4\nb.jpg,1,2,3,4\n");
    expect_load_error(root, NULL, FW_EFORMAT,
                      "bounding_boxes.csv:3: duplicate Image 'b.jpg' (first on line 2)");
    write_at(root, "bounding_boxes.csv", "Image,x,y,w,h\n");
    expect_load_error(root, NULL, FW_EFORMAT,
                      "bounding_boxes.csv:1: expected the header 'Image,x0,y0,x1,y1', got "
                      "'Image,x,y,w,h'");
    /* an explicit box file wins over DIR/bounding_boxes.csv; a missing one is an error */
    write_at(root, "my_boxes.csv", "Image,x0,y0,x1,y1\na.jpg,1,2,3,4\n");
    char path[256];
    snprintf(path, sizeof path, "%s/my_boxes.csv", root);
    fw_dataset_opts opts = {path, 0};
    rc = fw_dataset_load(&ds, root, &opts, &e);
    CHECK_MSG(rc == 0, "%s", e.msg);
    if (rc == 0) {
        CHECK_STR(ds.bbox_path, path);
        CHECK_INT(ds.train[0].box.valid, 1);
        CHECK_INT(ds.train[1].box.valid, 0);
        fw_dataset_free(&ds);
    }
    snprintf(path, sizeof path, "%s/none.csv", root);
    expect_load_error(root, &opts, FW_ENOTFOUND, "none.csv: not found");
}

static void test_utf8_validation(void)
{
    CHECK(fw_utf8_valid(""));
    CHECK(fw_utf8_valid("plain"));
    CHECK(fw_utf8_valid("\xc3\xa9\xe2\x82\xac\xf0\x9f\x90\x8b")); /* é € 🐋 */
    CHECK(!fw_utf8_valid("\xc0\x80"));         /* overlong NUL */
    CHECK(!fw_utf8_valid("\xe0\x80\xaf"));     /* overlong '/' */
    CHECK(!fw_utf8_valid("\xed\xa0\x80"));     /* surrogate */
    CHECK(!fw_utf8_valid("\xf4\x90\x80\x80")); /* > U+10FFFF */
    CHECK(!fw_utf8_valid("\xe2\x82"));         /* truncated */
    CHECK(!fw_utf8_valid("\x80"));
    CHECK(!fw_utf8_valid("\xf8\x88\x80\x80\x80"));
}

/* Random dataset: every invariant checked against a brute-force recount. */
static void test_random_dataset_matches_brute_force(void)
{
    char root[128];
    new_root(root, sizeof root);
    fw_rng rng;
    fw_rng_init(&rng, 77, 0);
    const int n = 600, pool = 90;
    char (*ids)[16] = malloc((size_t)n * sizeof *ids);
    size_t cap = (size_t)n * 48 + 32;
    char *csv = malloc(cap);
    size_t len = (size_t)snprintf(csv, cap, "Image,Id\n");
    for (int i = 0; i < n; i++) {
        uint32_t k = fw_rng_below(&rng, (uint32_t)pool + 30);
        if (k >= (uint32_t)pool)
            snprintf(ids[i], sizeof ids[i], "new_whale");
        else
            snprintf(ids[i], sizeof ids[i], "w_%03u%c", k * 7919 % 1000, 'a' + (int)(k % 26));
        len += (size_t)snprintf(csv + len, cap - len, "img%04d.jpg,%s\n", n - i, ids[i]);
    }
    write_at(root, "train.csv", csv);
    fw_dataset ds;
    fw_error e;
    int rc = fw_dataset_load(&ds, root, NULL, &e);
    CHECK_MSG(rc == 0, "%s", e.msg);
    if (rc == 0) {
        CHECK_INT(ds.n_train, n);
        for (int w = 1; w < ds.n_whales; w++)
            CHECK(strcmp(ds.whales[w - 1], ds.whales[w]) < 0);
        int distinct = 0;
        for (int i = 0; i < n; i++) {
            int seen_before = 0;
            for (int j = 0; j < i; j++)
                seen_before |= !strcmp(ids[i], ids[j]);
            distinct += !seen_before && strcmp(ids[i], "new_whale");
            int w = ds.train[i].whale;
            if (!strcmp(ids[i], "new_whale"))
                CHECK_INT(w, FW_NEW_WHALE);
            else
                CHECK(w >= 0 && w < ds.n_whales && !strcmp(ds.whales[w], ids[i]));
        }
        CHECK_INT(ds.n_whales, distinct);
        for (int w = 0; w < ds.n_whales; w++) {
            int count = 0;
            for (int i = 0; i < n; i++)
                count += ds.train[i].whale == w;
            CHECK(count >= 1);
        }
        fw_dataset_free(&ds);
    }
    free(ids);
    free(csv);
}

static void remove_tree(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", dir);
}

int main(void)
{
    snprintf(base, sizeof base, "%s/fwds.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(base)) {
        printf("Bail out! cannot create a temp dir\n");
        return 1;
    }
    RUN(test_basic_load);
    RUN(test_header_variants_and_syntax);
    RUN(test_file_level_errors);
    RUN(test_unsafe_image_names);
    RUN(test_duplicates_and_ids);
    RUN(test_required_test_and_dirs);
    RUN(test_test_truth);
    RUN(test_bounding_boxes);
    RUN(test_utf8_validation);
    RUN(test_random_dataset_matches_brute_force);
    remove_tree(base);
    return tap_done();
}
