/* test_cache.c — the decoded-image cache: built from a temp dir of fixture
 * copies plus corrupt files, it reports exactly the failures (with reasons
 * naming the file), its pixels match PIL's DCT-scaled decode and the crop
 * box's region, thread count changes nothing, and the on-disk copy
 * round-trips while damaged, truncated or mismatching copies are rebuilt. */
#include <dirent.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "decode.h"
#include "disk_cache.h"
#include "image_cache.h"
#include "resize.h"
#include "tap.h"

static char tmpdir[512];

/* Files in the temp dir, in cache order; 0..4 decode, 5 and 6 do not. */
static const char *names[] = {"color420.jpg", "odd.jpg", "gray.jpg", "cmyk.jpg",
                              "progressive.jpg", "truncated.jpg", "png.jpg"};
#define N_FILES 7
#define N_GOOD 5
static char paths[N_FILES][600];
static const char *path_list[N_FILES];

static int copy_file(const char *from, const char *to)
{
    uint8_t *buf;
    size_t len;
    fw_error e;
    if (fw_read_file(from, (size_t)1 << 24, &buf, &len, &e) != 0)
        return -1;
    FILE *f = fopen(to, "wb");
    int rc = f && fwrite(buf, 1, len, f) == len ? 0 : -1;
    if (f && fclose(f) != 0)
        rc = -1;
    free(buf);
    return rc;
}

static int setup(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/fwcache-test.XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir))
        return -1;
    const char *top = getenv("TOP_SRCDIR");
    for (int i = 0; i < N_FILES; i++) {
        char from[600];
        snprintf(from, sizeof from, "%s/tests/fixtures/jpeg/%s", top ? top : ".", names[i]);
        snprintf(paths[i], sizeof paths[i], "%s/%s", tmpdir, names[i]);
        path_list[i] = paths[i];
        if (copy_file(from, paths[i]) != 0)
            return -1;
    }
    return 0;
}

/* rm -r of the temp dir (one level of subdirectories) */
static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *ent;
    while ((ent = readdir(d))) {
        if (!strcmp(ent->d_name, ".") || !strcmp(ent->d_name, ".."))
            continue;
        char p[1200];
        snprintf(p, sizeof p, "%s/%s", dir, ent->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            remove_tree(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static size_t image_bytes(const fw_image_cache *c)
{
    return (size_t)c->width * c->height * c->channels;
}

static void check_same_cache(const fw_image_cache *a, const fw_image_cache *b)
{
    CHECK(a->n == b->n && a->width == b->width && a->height == b->height &&
          a->channels == b->channels);
    CHECK(memcmp(a->pixels, b->pixels, image_bytes(a) * (size_t)a->n) == 0);
    CHECK(memcmp(a->ok, b->ok, (size_t)a->n) == 0);
    CHECK_INT(a->n_failed, b->n_failed);
    for (long k = 0; k < a->n_failed && k < b->n_failed; k++) {
        CHECK(a->failures[k].index == b->failures[k].index);
        CHECK(a->failures[k].code == b->failures[k].code);
        CHECK_STR(a->failures[k].reason, b->failures[k].reason);
    }
}

static void test_failures_reported_exactly(void)
{
    fw_cache_opts o = {.width = 48, .height = 32, .channels = 3, .threads = 2};
    fw_image_cache c;
    fw_error e;
    CHECK(fw_cache_build(&c, path_list, NULL, N_FILES, &o, &e) == 0);
    CHECK_INT(c.n, N_FILES);
    for (int i = 0; i < N_FILES; i++)
        CHECK_MSG(c.ok[i] == (i < N_GOOD), "%s ok=%d", names[i], c.ok[i]);
    CHECK_INT(c.n_failed, 2);
    if (c.n_failed == 2) {
        CHECK_INT(c.failures[0].index, 5);
        CHECK_INT(c.failures[0].code, FW_ECORRUPT);
        CHECK(strncmp(c.failures[0].reason, paths[5], strlen(paths[5])) == 0);
        CHECK(strstr(c.failures[0].reason, "Premature end of JPEG file") != NULL);
        CHECK_INT(c.failures[1].index, 6);
        CHECK_INT(c.failures[1].code, FW_EFORMAT);
        CHECK(strncmp(c.failures[1].reason, paths[6], strlen(paths[6])) == 0);
        CHECK(strstr(c.failures[1].reason, "PNG") != NULL);
        printf("#   %s\n#   %s\n", c.failures[0].reason, c.failures[1].reason);
    }
    /* failed slots are zero, decoded ones are real images (not flat) */
    for (int i = 0; i < N_FILES; i++) {
        const uint8_t *p = fw_cache_image(&c, i);
        int lo = 255, hi = 0;
        for (size_t k = 0; k < image_bytes(&c); k++)
            lo = p[k] < lo ? p[k] : lo, hi = p[k] > hi ? p[k] : hi;
        if (i < N_GOOD)
            CHECK_MSG(hi - lo > 50, "%s spans only %d..%d", names[i], lo, hi);
        else
            CHECK(hi == 0);
    }
    CHECK(!c.from_disk && c.disk_note.code == 0);
    fw_cache_free(&c);
}

/* At 48x32 from a 96x64 file the decoder uses DCT scale 1/2, which is exactly
 * the working size: the cache must equal PIL's draft() pixels (+-1). The
 * right-half crop at 48x64 needs full scale and equals PIL's full decode. */
static void test_pixels_match_direct_decode(void)
{
    const char *top = getenv("TOP_SRCDIR");
    char ref_path[600];
    snprintf(ref_path, sizeof ref_path, "%s/tests/fixtures/jpeg/reference.bin", top ? top : ".");
    uint8_t *ref;
    size_t ref_len;
    fw_error e;
    if (fw_read_file(ref_path, (size_t)1 << 24, &ref, &ref_len, &e) != 0)
        SKIP("no reference.bin");
    /* find entries "color420.jpg" denom 2 RGB and denom 1 RGB (format: see the script) */
    const uint8_t *half = NULL, *full = NULL;
    size_t off = 16;
    while (off + 4 <= ref_len) {
        uint32_t nl;
        memcpy(&nl, ref + off, 4);
        const char *nm = (const char *)ref + off + 4;
        uint32_t f[6];
        memcpy(f, ref + off + 4 + nl, sizeof f);
        const uint8_t *px = ref + off + 4 + nl + 24;
        if (nl == 12 && !memcmp(nm, "color420.jpg", 12) && f[1] == 3) {
            if (f[0] == 2 && f[4] == 48 && f[5] == 32)
                half = px;
            if (f[0] == 1 && f[4] == 96 && f[5] == 64)
                full = px;
        }
        off += 4 + nl + 24 + (size_t)f[1] * f[4] * f[5];
    }
    CHECK(half && full);
    fw_cache_opts o = {.width = 48, .height = 32, .channels = 3, .threads = 1};
    fw_image_cache c;
    CHECK(fw_cache_build(&c, path_list, NULL, 1, &o, &e) == 0);
    int worst = 0;
    for (size_t k = 0; half && k < 48 * 32 * 3; k++) {
        int d = abs(fw_cache_image(&c, 0)[k] - half[k]);
        worst = d > worst ? d : worst;
    }
    CHECK_MSG(worst <= 1, "whole image vs PIL draft 1/2: max |diff| %d", worst);
    fw_cache_free(&c);

    fw_bbox box = {48, 0, 96, 64, 1};
    fw_cache_opts o2 = {.width = 48, .height = 64, .channels = 3, .threads = 1};
    CHECK(fw_cache_build(&c, path_list, &box, 1, &o2, &e) == 0);
    worst = 0;
    for (int y = 0; full && y < 64; y++)
        for (int k = 0; k < 48 * 3; k++) {
            int d = abs(fw_cache_image(&c, 0)[y * 48 * 3 + k] - full[(y * 96 + 48) * 3 + k]);
            worst = d > worst ? d : worst;
        }
    CHECK_MSG(worst <= 1, "right-half box vs PIL full decode: max |diff| %d", worst);
    fw_cache_free(&c);

    /* a box half the width at 24x32 decodes at 1/2 scale and equals the same
       crop of the whole-image decode at that scale */
    fw_image dec;
    CHECK(fw_jpeg_decode_file(paths[1], 1, 66, 35, NULL, &dec, &e) == 0); /* odd.jpg, 1/2 */
    CHECK(dec.width == 67 && dec.height == 36);
    fw_bbox obox = {10, 6, 110, 66, 1};
    fw_cache_opts o3 = {.width = 50, .height = 30, .channels = 1, .threads = 1};
    CHECK(fw_cache_build(&c, path_list + 1, &obox, 1, &o3, &e) == 0);
    fw_image want;
    CHECK(fw_image_alloc(&want, 50, 30, 1, &e) == 0);
    CHECK(fw_resize(&dec, 5, 3, 55, 33, &want, &e) == 0);
    CHECK(memcmp(want.pixels, fw_cache_image(&c, 0), 50 * 30) == 0);
    fw_image_free(&want);
    fw_cache_free(&c);

    /* the whole 133x71 picture at 50x27: decoded at 1/2 (67x36, of which
       66.5x35.5 is picture), and that extent is what gets resized */
    fw_cache_opts o4 = {.width = 50, .height = 27, .channels = 1, .threads = 1};
    CHECK(fw_cache_build(&c, path_list + 1, NULL, 1, &o4, &e) == 0);
    CHECK(fw_image_alloc(&want, 50, 27, 1, &e) == 0);
    CHECK(fw_resize(&dec, 0, 0, 66.5f, 35.5f, &want, &e) == 0);
    CHECK(memcmp(want.pixels, fw_cache_image(&c, 0), 50 * 27) == 0);
    fw_image_free(&want);
    fw_image_free(&dec);
    fw_cache_free(&c);
    free(ref);
}

static void test_thread_count_changes_nothing(void)
{
    fw_bbox boxes[N_FILES] = {{5, 3, 90, 60, 1}, {0, 0, 0, 0, 0}, {20.5f, 10.25f, 70, 50, 1},
                              {0, 0, 0, 0, 0}, {-10, -10, 200, 200, 1}};
    for (int ch = 1; ch <= 3; ch += 2) {
        fw_cache_opts o = {.width = 40, .height = 24, .channels = ch, .threads = 1};
        fw_image_cache one, four;
        fw_error e;
        CHECK(fw_cache_build(&one, path_list, boxes, N_FILES, &o, &e) == 0);
        o.threads = 4;
        CHECK(fw_cache_build(&four, path_list, boxes, N_FILES, &o, &e) == 0);
        check_same_cache(&one, &four);
        CHECK_INT(one.n_failed, 2);
        fw_cache_free(&one);
        fw_cache_free(&four);
    }
}

static void test_box_outside_image_is_a_failure(void)
{
    fw_bbox boxes[2] = {{200, 200, 300, 300, 1}, {10, 10, 10.5f, 40, 1}};
    fw_cache_opts o = {.width = 16, .height = 16, .channels = 3, .threads = 1};
    fw_image_cache c;
    fw_error e;
    CHECK(fw_cache_build(&c, path_list, boxes, 2, &o, &e) == 0);
    CHECK_INT(c.n_failed, 2);
    CHECK(!c.ok[0] && !c.ok[1]);
    if (c.n_failed == 2) {
        CHECK_INT(c.failures[0].code, FW_EINVAL);
        CHECK(strstr(c.failures[0].reason, "bounding box") && strstr(c.failures[0].reason, paths[0]));
    }
    fw_cache_free(&c);
}

typedef struct {
    atomic_long calls, last_total, max_done;
} progress_seen;

static void on_progress(void *ctx, long done, long total)
{
    progress_seen *p = ctx;
    atomic_fetch_add(&p->calls, 1);
    atomic_store(&p->last_total, total);
    long m = atomic_load(&p->max_done);
    while (done > m && !atomic_compare_exchange_weak(&p->max_done, &m, done))
        ;
}

static int count_cache_files(const char *dir, char *one, size_t n)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int count = 0;
    struct dirent *ent;
    while ((ent = readdir(d)))
        if (!strncmp(ent->d_name, "fwcache-", 8)) {
            count++;
            snprintf(one, n, "%s/%s", dir, ent->d_name);
        }
    closedir(d);
    return count;
}

/* Flip one byte at `offset` (from the start; negative: from the end), or
 * truncate to `truncate_to` bytes when that is >= 0. */
static void damage(const char *path, long offset, long truncate_to)
{
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL);
    if (!f)
        return;
    if (truncate_to >= 0) {
        CHECK(ftruncate(fileno(f), truncate_to) == 0);
    } else {
        fseek(f, offset, offset < 0 ? SEEK_END : SEEK_SET);
        int ch = fgetc(f);
        fseek(f, offset, offset < 0 ? SEEK_END : SEEK_SET);
        fputc(ch ^ 0x10, f);
    }
    fclose(f);
}

static void test_disk_cache_round_trip_and_rebuild(void)
{
    char dir[700], file[1000] = "";
    snprintf(dir, sizeof dir, "%s/cache/sub", tmpdir); /* created on demand */
    progress_seen seen = {0};
    fw_cache_opts o = {.width = 32, .height = 20, .channels = 3, .threads = 2, .disk_dir = dir,
                       .progress = on_progress, .progress_ctx = &seen};
    fw_image_cache first, again;
    fw_error e;
    CHECK(fw_cache_build(&first, path_list, NULL, N_FILES, &o, &e) == 0);
    CHECK(!first.from_disk && !first.disk_rejected && first.disk_note.code == 0);
    CHECK_MSG(first.disk_note.code == 0, "%s", first.disk_note.msg);
    CHECK_INT(atomic_load(&seen.calls), N_FILES);
    CHECK_INT(atomic_load(&seen.max_done), N_FILES);
    CHECK_INT(atomic_load(&seen.last_total), N_FILES);
    CHECK_INT(count_cache_files(dir, file, sizeof file), 1);

    /* second start: from disk, identical, failures included */
    atomic_store(&seen.calls, 0);
    CHECK(fw_cache_build(&again, path_list, NULL, N_FILES, &o, &e) == 0);
    CHECK(again.from_disk && !again.disk_rejected);
    CHECK_INT(atomic_load(&seen.calls), 1);
    check_same_cache(&first, &again);
    fw_cache_free(&again);

    /* flipped bytes (pixels, ok flags, header field, version, magic) and
       truncations: each is ignored, rebuilt to the same pixels, and the file
       is good again after */
    const long damages[][2] = {{-100, -1}, {88 + 3, -1}, {40, -1}, {8, -1}, {0, -1},
                               {0, 60}, {0, 300}, {0, 0}};
    for (size_t k = 0; k < sizeof damages / sizeof damages[0]; k++) {
        damage(file, damages[k][0], damages[k][1]);
        CHECK(fw_cache_build(&again, path_list, NULL, N_FILES, &o, &e) == 0);
        CHECK_MSG(!again.from_disk && again.disk_rejected, "damage %zu was trusted", k);
        CHECK(again.disk_note.code < 0 && strstr(again.disk_note.msg, file) != NULL);
        printf("#   damage %zu: %s\n", k, again.disk_note.msg + strlen(file) + 2);
        check_same_cache(&first, &again);
        fw_cache_free(&again);
        CHECK(fw_cache_build(&again, path_list, NULL, N_FILES, &o, &e) == 0);
        CHECK(again.from_disk);
        fw_cache_free(&again);
    }

    /* the key follows the files: touching one makes a new cache file */
    struct stat st;
    CHECK(stat(paths[0], &st) == 0);
    struct timespec times[2] = {st.st_atim, {st.st_mtim.tv_sec + 10, st.st_mtim.tv_nsec}};
    CHECK(utimensat(AT_FDCWD, paths[0], times, 0) == 0);
    CHECK(fw_cache_build(&again, path_list, NULL, N_FILES, &o, &e) == 0);
    CHECK(!again.from_disk && !again.disk_rejected);
    check_same_cache(&first, &again);
    fw_cache_free(&again);
    CHECK_INT(count_cache_files(dir, file, sizeof file), 2);

    /* another config's file under this config's name: mismatch, rebuilt */
    char other[1000];
    fw_cache_opts o2 = o;
    o2.width = 30;
    CHECK(fw_cache_build(&again, path_list, NULL, N_FILES, &o2, &e) == 0);
    fw_cache_free(&again);
    uint64_t key = fw_disk_cache_key(path_list, NULL, N_FILES, 32, 20, 3);
    uint64_t key2 = fw_disk_cache_key(path_list, NULL, N_FILES, 30, 20, 3);
    CHECK(key != key2);
    CHECK(fw_disk_cache_path(dir, key, file, sizeof file, &e) == 0);
    CHECK(fw_disk_cache_path(dir, key2, other, sizeof other, &e) == 0);
    CHECK(rename(other, file) == 0);
    CHECK(fw_cache_build(&again, path_list, NULL, N_FILES, &o, &e) == 0);
    CHECK(!again.from_disk && again.disk_rejected && strstr(again.disk_note.msg, "other files"));
    fw_cache_free(&again);
    fw_cache_free(&first);

    /* no temp files are left behind */
    DIR *d = opendir(dir);
    int tmp_left = 0;
    struct dirent *ent;
    while (d && (ent = readdir(d)))
        tmp_left += strstr(ent->d_name, ".tmp-") != NULL;
    if (d)
        closedir(d);
    CHECK_INT(tmp_left, 0);
}

static void test_unwritable_disk_dir_is_a_note(void)
{
    char dir[700];
    snprintf(dir, sizeof dir, "%s/color420.jpg/cache", tmpdir); /* parent is a file */
    fw_cache_opts o = {.width = 16, .height = 16, .channels = 1, .threads = 1, .disk_dir = dir};
    fw_image_cache c;
    fw_error e;
    CHECK(fw_cache_build(&c, path_list, NULL, 2, &o, &e) == 0);
    CHECK(c.ok[0] && c.ok[1] && !c.from_disk);
    CHECK_MSG(c.disk_note.code == FW_EIO && strstr(c.disk_note.msg, "color420.jpg"), "%d %s",
              c.disk_note.code, c.disk_note.msg);
    fw_cache_free(&c);
}

static void test_bad_options(void)
{
    fw_image_cache c;
    fw_error e;
    fw_cache_opts o = {.width = 0, .height = 16, .channels = 3};
    CHECK_INT(fw_cache_build(&c, path_list, NULL, 1, &o, &e), FW_EINVAL);
    o.width = 16, o.channels = 2;
    CHECK_INT(fw_cache_build(&c, path_list, NULL, 1, &o, &e), FW_EINVAL);
    o.channels = 1;
    CHECK(fw_cache_build(&c, path_list, NULL, 0, &o, &e) == 0); /* empty dataset is fine */
    CHECK(c.n == 0 && c.n_failed == 0);
    fw_cache_free(&c);
}

static void test_hash_is_xxh64(void)
{
    /* published XXH64 test vectors */
    CHECK(fw_hash64("", 0, 0) == 0xEF46DB3751D8E999ULL);
    CHECK(fw_hash64("a", 1, 0) == 0xD24EC4F1A98C6E5BULL);
    CHECK(fw_hash64("abc", 3, 0) == 0x44BC2CF5AD770999ULL);
    const char *s = "Nobody inspects the spammish repetition";
    CHECK(fw_hash64(s, strlen(s), 0) == 0xFBCEA83C8A378BF1ULL);
}

int main(void)
{
    if (setup() != 0) {
        printf("Bail out! cannot set up a temp dir of fixture copies\n");
        return 1;
    }
    RUN(test_failures_reported_exactly);
    RUN(test_pixels_match_direct_decode);
    RUN(test_thread_count_changes_nothing);
    RUN(test_box_outside_image_is_a_failure);
    RUN(test_disk_cache_round_trip_and_rebuild);
    RUN(test_unwritable_disk_dir_is_a_note);
    RUN(test_bad_options);
    RUN(test_hash_is_xxh64);
    remove_tree(tmpdir);
    return tap_done();
}
