/* test_synth.c — the synthetic fluke generator: JPEG encoding against the
 * TurboJPEG decoder, determinism (seeds, thread counts), the id distribution
 * against the real dataset's shape, identity consistency across photos,
 * grayscale share, image sizes, and the output directory rules. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <turbojpeg.h>
#include <unistd.h>

#include "decode.h"
#include "synth_dataset.h"
#include "synth_identity.h"
#include "synth_render.h"
#include "tap.h"

static char tmp_root[] = "/tmp/test_synth.XXXXXX";

static void make_plan(fw_synth_plan *plan, uint64_t seed, int whales, int w, int h)
{
    fw_synth_opts opts = {.seed = seed, .n_whales = whales, .width = w, .height = h};
    fw_error err;
    fw_error_clear(&err);
    int rc = fw_synth_plan_make(&opts, plan, &err);
    if (rc < 0) {
        printf("# plan failed: %s\n", err.msg);
        exit(1);
    }
}

/* ---- JPEG encoding ------------------------------------------------------------ */

static double psnr(const uint8_t *a, const uint8_t *b, size_t n)
{
    double se = 0;
    for (size_t i = 0; i < n; i++)
        se += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return se == 0 ? 99.0 : 10.0 * log10(255.0 * 255.0 / (se / n));
}

static void check_roundtrip(int channels, int quality, int want_subsamp)
{
    fw_image img;
    fw_error err;
    fw_error_clear(&err);
    CHECK_INT(fw_image_alloc(&img, 97, 61, channels, &err), FW_OK);
    for (int y = 0; y < 61; y++)
        for (int x = 0; x < 97; x++)
            for (int c = 0; c < channels; c++) /* smooth, with a soft disc: JPEG-friendly */
                img.pixels[(y * 97 + x) * channels + c] =
                    (uint8_t)(40 + x + c * 30 + ((x - 48) * (x - 48) + (y - 30) * (y - 30) < 300 ? 60 : 0));
    uint8_t *jpeg = NULL;
    size_t len = 0;
    CHECK_INT(fw_jpeg_encode(&img, quality, &jpeg, &len, &err), FW_OK);
    CHECK(len > 100);
    tjhandle tj = tjInitDecompress();
    int w = 0, h = 0, subsamp = -1, colorspace = -1;
    CHECK_INT(tjDecompressHeader3(tj, jpeg, (unsigned long)len, &w, &h, &subsamp, &colorspace), 0);
    CHECK_INT(w, 97);
    CHECK_INT(h, 61);
    CHECK_INT(subsamp, want_subsamp);
    uint8_t *back = malloc((size_t)97 * 61 * channels);
    CHECK_INT(tjDecompress2(tj, jpeg, (unsigned long)len, back, 97, 0, 61,
                            channels == 1 ? TJPF_GRAY : TJPF_RGB, 0),
              0);
    double p = psnr(img.pixels, back, (size_t)97 * 61 * channels);
    CHECK_MSG(p > 30.0, "PSNR %.1f dB at quality %d, %d channels", p, quality, channels);
    tjDestroy(tj);
    free(back);
    free(jpeg);
    fw_image_free(&img);
}

static void test_jpeg_encode_roundtrip(void)
{
    check_roundtrip(3, 90, TJSAMP_420);
    check_roundtrip(1, 90, TJSAMP_GRAY);
    check_roundtrip(3, 75, TJSAMP_420);
}

static void test_jpeg_encode_rejects_bad_input(void)
{
    fw_error err;
    fw_error_clear(&err);
    fw_image img;
    CHECK_INT(fw_image_alloc(&img, 8, 8, 3, &err), FW_OK);
    uint8_t *jpeg = (uint8_t *)&err; /* must be reset to NULL on failure */
    size_t len = 5;
    CHECK_INT(fw_jpeg_encode(&img, 0, &jpeg, &len, &err), FW_EINVAL);
    CHECK(jpeg == NULL && len == 0);
    CHECK(strstr(err.msg, "quality") != NULL);
    CHECK_INT(fw_jpeg_encode(&img, 101, &jpeg, &len, &err), FW_EINVAL);
    fw_image bad = img;
    bad.channels = 2;
    CHECK_INT(fw_jpeg_encode(&bad, 90, &jpeg, &len, &err), FW_EINVAL);
    bad = img;
    bad.pixels = NULL;
    CHECK_INT(fw_jpeg_encode(&bad, 90, &jpeg, &len, &err), FW_EINVAL);
    fw_image_free(&img);
}

/* ---- determinism ------------------------------------------------------------------ */

static void test_identity_deterministic(void)
{
    fw_synth_identity *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    fw_synth_identity_make(5, 3, a);
    fw_synth_identity_make(5, 3, b);
    CHECK(memcmp(a, b, sizeof *a) == 0);
    fw_synth_identity_make(5, 4, b);
    CHECK(memcmp(a->field, b->field, sizeof a->field) != 0);
    CHECK(memcmp(a->top, b->top, sizeof a->top) != 0);
    fw_synth_identity_make(6, 3, b);
    CHECK(memcmp(a->field, b->field, sizeof a->field) != 0);
    /* The white/black balance varies a lot between whales. */
    float lo = 1, hi = 0;
    int mostly_black = 0, mostly_white = 0, mixed = 0;
    for (int w = 0; w < 100; w++) {
        fw_synth_identity_make(11, (uint64_t)w, a);
        lo = a->white_share < lo ? a->white_share : lo;
        hi = a->white_share > hi ? a->white_share : hi;
        mostly_black += a->white_share < 0.2f;
        mostly_white += a->white_share > 0.8f;
        mixed += a->white_share > 0.35f && a->white_share < 0.65f;
        /* the outline is a fluke: tips above the notch, leading edge below */
        CHECK(a->top_min < 0.0f && a->bottom_centre > 0.3f);
    }
    CHECK_MSG(lo < 0.1f && hi > 0.9f, "white share range %.2f..%.2f", lo, hi);
    CHECK_MSG(mostly_black >= 10 && mostly_white >= 10 && mixed >= 10, "black %d white %d mixed %d",
              mostly_black, mostly_white, mixed);
    free(a);
    free(b);
}

static double mean_abs_diff(const fw_image *a, const fw_image *b)
{
    if (a->width != b->width || a->height != b->height || a->channels != b->channels)
        return 255.0;
    size_t n = (size_t)a->width * a->height * a->channels;
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += abs((int)a->pixels[i] - (int)b->pixels[i]);
    return s / n;
}

static void copy_image(const fw_image *src, fw_image *dst)
{
    fw_error err;
    fw_image_alloc(dst, src->width, src->height, src->channels, &err);
    memcpy(dst->pixels, src->pixels, (size_t)src->width * src->height * src->channels);
}

static void test_render_deterministic(void)
{
    fw_synth_plan p1, p2, p3;
    make_plan(&p1, 77, 20, 160, 80);
    make_plan(&p2, 77, 20, 160, 80);
    make_plan(&p3, 78, 20, 160, 80);
    fw_synth_worker *w1, *w2;
    fw_error err;
    fw_error_clear(&err);
    CHECK_INT(fw_synth_worker_new(&w1, &err), FW_OK);
    CHECK_INT(fw_synth_worker_new(&w2, &err), FW_OK);
    int identical = 0, differ_seed = 0;
    for (long k = 0; k < 12; k++) {
        fw_image a, b, c, kept;
        CHECK_INT(fw_synth_render_item(&p1, k, w1, &a, NULL, NULL, &err), FW_OK);
        copy_image(&a, &kept);
        /* a different worker, after rendering something else first */
        CHECK_INT(fw_synth_render_item(&p2, (k + 5) % p2.n_items, w2, &b, NULL, NULL, &err), FW_OK);
        CHECK_INT(fw_synth_render_item(&p2, k, w2, &b, NULL, NULL, &err), FW_OK);
        identical += mean_abs_diff(&kept, &b) == 0.0;
        CHECK_INT(fw_synth_render_item(&p3, k, w2, &c, NULL, NULL, &err), FW_OK);
        differ_seed += mean_abs_diff(&kept, &c) > 5.0;
        fw_image_free(&kept);
    }
    CHECK_INT(identical, 12);
    CHECK_INT(differ_seed, 12);
    fw_synth_worker_free(w1);
    fw_synth_worker_free(w2);
    fw_synth_plan_free(&p1);
    fw_synth_plan_free(&p2);
    fw_synth_plan_free(&p3);
}

/* Read a whole file; NULL if missing. */
static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n + 1);
    *len = fread(buf, 1, (size_t)n, f);
    buf[*len] = 0;
    fclose(f);
    return buf;
}

/* Compare every regular file of dir a (and its train/ and test/) with dir b;
 * returns the number of files compared, or -1 on any difference. */
static int compare_dirs(const char *a, const char *b)
{
    static const char *const subs[] = {"", "/train", "/test"};
    int files = 0;
    for (int s = 0; s < 3; s++) {
        char da[512], db[512];
        snprintf(da, sizeof da, "%s%s", a, subs[s]);
        snprintf(db, sizeof db, "%s%s", b, subs[s]);
        DIR *d = opendir(da);
        if (!d)
            return -1;
        struct dirent *e;
        int count_a = 0;
        while ((e = readdir(d)) != NULL) {
            char pa[1024], pb[1024];
            snprintf(pa, sizeof pa, "%s/%s", da, e->d_name);
            snprintf(pb, sizeof pb, "%s/%s", db, e->d_name);
            struct stat st;
            if (stat(pa, &st) != 0 || !S_ISREG(st.st_mode))
                continue;
            count_a++;
            size_t la, lb;
            uint8_t *ba = slurp(pa, &la), *bb = slurp(pb, &lb);
            int same = ba && bb && la == lb && memcmp(ba, bb, la) == 0;
            free(ba);
            free(bb);
            if (!same) {
                printf("#   %s differs from %s\n", pa, pb);
                closedir(d);
                return -1;
            }
        }
        closedir(d);
        /* and b has no extra files */
        d = opendir(db);
        int count_b = 0;
        while (d && (e = readdir(d)) != NULL) {
            char pb[1024];
            struct stat st;
            snprintf(pb, sizeof pb, "%s/%s", db, e->d_name);
            count_b += stat(pb, &st) == 0 && S_ISREG(st.st_mode);
        }
        if (d)
            closedir(d);
        if (count_a != count_b)
            return -1;
        files += count_a;
    }
    return files;
}

static int write_dataset(const char *dir, uint64_t seed, int whales, int threads, int force,
                         fw_error *err)
{
    fw_synth_opts opts = {.seed = seed, .n_whales = whales, .width = 96, .height = 48,
                          .threads = threads, .force = force};
    fw_synth_plan plan;
    int rc = fw_synth_plan_make(&opts, &plan, err);
    if (rc < 0)
        return rc;
    rc = fw_synth_write(dir, &opts, &plan, err);
    fw_synth_plan_free(&plan);
    return rc;
}

static void test_write_identical_for_any_thread_count(void)
{
    char a[256], b[256], c[256];
    snprintf(a, sizeof a, "%s/threads1", tmp_root);
    snprintf(b, sizeof b, "%s/threads2", tmp_root);
    snprintf(c, sizeof c, "%s/otherseed", tmp_root);
    fw_error err;
    fw_error_clear(&err);
    CHECK_INT(write_dataset(a, 3, 8, 1, 0, &err), FW_OK);
    CHECK_INT(write_dataset(b, 3, 8, 2, 0, &err), FW_OK);
    int files = compare_dirs(a, b);
    CHECK_MSG(files > 30, "compared %d files", files);
    /* Rewriting a previous output with 3 threads gives the same bytes again. */
    CHECK_INT(write_dataset(a, 3, 8, 3, 0, &err), FW_OK);
    CHECK_INT(compare_dirs(a, b), files);
    CHECK_INT(write_dataset(c, 4, 8, 2, 0, &err), FW_OK);
    CHECK(compare_dirs(a, c) < 0);
    if (err.msg[0])
        printf("# %s\n", err.msg);
}

/* ---- the id distribution ---------------------------------------------------------- */

static void test_distribution_shape(void)
{
    fw_synth_plan plan;
    make_plan(&plan, 9, 2000, 0, 0);
    fw_synth_stats st;
    fw_synth_plan_stats(&plan, &st);
    double new_share = (double)st.n_train_new / st.n_train;
    double single_share = (double)st.singletons / st.n_whales;
    double test_new_share = (double)st.n_test_new / st.n_test;
    CHECK_NEAR(new_share, 0.381, 0.02);  /* real: 9,664 / 25,361 */
    CHECK_NEAR(single_share, 0.414, 0.03); /* real: 2,073 / 5,004 */
    CHECK_NEAR(test_new_share, 0.28, 0.02);
    CHECK_NEAR((double)st.n_test / st.n_whales, 7960.0 / 5004.0, 0.01);
    CHECK_MSG(st.max_images >= 40, "max images per whale %d", st.max_images);
    CHECK_MSG(st.whales_ge10 >= 0.03 * st.n_whales, "%d whales with >= 10 images", st.whales_ge10);
    int twos = 0, threes = 0;
    for (int w = 0; w < plan.n_whales; w++) {
        twos += plan.train_count[w] == 2;
        threes += plan.train_count[w] == 3;
    }
    CHECK_NEAR(twos / 2000.0, 1285.0 / 5004.0, 0.03);
    CHECK_NEAR(threes / 2000.0, 568.0 / 5004.0, 0.02);
    /* Test images of known whales favour whales with many photos: the mean
     * train count of the picked whales is near E[c^2]/E[c], well above E[c]. */
    double sum_c = 0, sum_c2 = 0, picked = 0;
    long n_picked = 0;
    for (int w = 0; w < plan.n_whales; w++) {
        sum_c += plan.train_count[w];
        sum_c2 += (double)plan.train_count[w] * plan.train_count[w];
    }
    for (long k = plan.n_train; k < plan.n_items; k++)
        if (plan.items[k].whale >= 0) {
            picked += plan.train_count[plan.items[k].whale];
            n_picked++;
        }
    double mean_c = sum_c / plan.n_whales, size_biased = sum_c2 / sum_c;
    CHECK_MSG(picked / n_picked > 1.5 * mean_c, "picked %.2f vs mean %.2f", picked / n_picked, mean_c);
    CHECK_NEAR(picked / n_picked, size_biased, 0.25 * size_biased);
    fw_synth_plan_free(&plan);

    /* At full scale it matches the real counts. */
    make_plan(&plan, 9, 5004, 0, 0);
    fw_synth_plan_stats(&plan, &st);
    CHECK_NEAR(st.n_train, 25361, 25361 * 0.03);
    CHECK_INT(st.n_test, 7960);
    CHECK_NEAR(st.singletons, 2073, 30);
    CHECK_MSG(st.max_images >= 60 && st.max_images <= 80, "max %d", st.max_images);
    fw_synth_plan_free(&plan);

    /* Tiny N still gives a usable dataset. */
    make_plan(&plan, 9, 1, 0, 0);
    CHECK(plan.n_train >= 2 && plan.n_test >= 1);
    fw_synth_plan_free(&plan);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void test_names_and_ids_unique(void)
{
    fw_synth_plan plan;
    make_plan(&plan, 123, 3000, 0, 0);
    uint32_t *names = malloc(sizeof(uint32_t) * (size_t)plan.n_items);
    for (long k = 0; k < plan.n_items; k++)
        names[k] = plan.items[k].name;
    qsort(names, (size_t)plan.n_items, sizeof *names, cmp_u32);
    long dup = 0;
    for (long k = 1; k < plan.n_items; k++)
        dup += names[k] == names[k - 1];
    CHECK_INT(dup, 0);
    uint32_t *codes = malloc(sizeof(uint32_t) * (size_t)plan.n_whales);
    memcpy(codes, plan.whale_code, sizeof(uint32_t) * (size_t)plan.n_whales);
    qsort(codes, (size_t)plan.n_whales, sizeof *codes, cmp_u32);
    for (int w = 1; w < plan.n_whales; w++)
        dup += codes[w] == codes[w - 1];
    CHECK_INT(dup, 0);
    char id[16];
    int shaped = 1;
    for (int w = 0; w < plan.n_whales; w++) {
        fw_synth_whale_id(&plan, w, id, sizeof id);
        shaped &= strlen(id) == 9 && id[0] == 'w' && id[1] == '_' &&
                  strspn(id + 2, "0123456789abcdef") == 7;
    }
    CHECK(shaped);
    fw_synth_whale_id(&plan, -1, id, sizeof id);
    CHECK_STR(id, "new_whale");
    /* new_whale images each have a fresh identity, never a known whale's */
    long fresh = 0, n_new = 0;
    uint64_t prev = 0;
    for (long k = 0; k < plan.n_items; k++) {
        if (plan.items[k].whale >= 0) {
            CHECK(plan.items[k].identity == (uint64_t)plan.items[k].whale);
            continue;
        }
        n_new++;
        fresh += plan.items[k].identity >= (uint64_t)plan.n_whales && plan.items[k].identity > prev;
        prev = plan.items[k].identity;
    }
    CHECK_INT(fresh, n_new);
    free(names);
    free(codes);
    fw_synth_plan_free(&plan);
}

/* ---- identity consistency ------------------------------------------------------------ */

/* The pattern of one photo sampled in the canonical frame: at grid points
 * well inside the wings (away from the outline and its dark margin), the
 * photo's luma at the projected pixel, binarised at the photo's median. This
 * undoes viewpoint (the known homography) and exposure/contrast (the median),
 * so what is left is pattern plus the nuisances a model must see through. */
#define SAMPLES_U 46
#define SAMPLES_V 30
typedef struct canon {
    signed char bit[SAMPLES_V][SAMPLES_U]; /* +1 white, -1 black, 0 not visible */
} canon;

static void canonical_pattern(const fw_synth_identity *id, const fw_synth_photo *photo,
                              const fw_image *img, canon *out)
{
    float val[SAMPLES_V][SAMPLES_U];
    float all[SAMPLES_V * SAMPLES_U];
    int n = 0;
    for (int i = 0; i < SAMPLES_V; i++)
        for (int j = 0; j < SAMPLES_U; j++) {
            out->bit[i][j] = 0;
            val[i][j] = -1;
            float u = -0.9f + 1.8f * j / (SAMPLES_U - 1);
            float top, bottom;
            fw_synth_identity_edges(id, u, &top, &bottom);
            float v = -0.35f + 1.0f * i / (SAMPLES_V - 1);
            if (v < top + 0.06f || v > bottom - 0.04f)
                continue;
            float x, y;
            if (!fw_synth_photo_project(photo, u, v, &x, &y))
                continue;
            int xi = (int)x, yi = (int)y;
            if (x < 1 || y < 1 || xi >= img->width - 1 || yi >= img->height - 1)
                continue;
            const uint8_t *px = img->pixels + ((size_t)yi * img->width + xi) * img->channels;
            float luma = img->channels == 1 ? px[0] : 0.299f * px[0] + 0.587f * px[1] + 0.114f * px[2];
            val[i][j] = luma;
            all[n++] = luma;
        }
    /* median by partial sort (n is small) */
    for (int a = 0; a < n; a++)
        for (int b = a + 1; b < n; b++)
            if (all[b] < all[a]) {
                float t = all[a];
                all[a] = all[b];
                all[b] = t;
            }
    float median = n ? all[n / 2] : 0;
    for (int i = 0; i < SAMPLES_V; i++)
        for (int j = 0; j < SAMPLES_U; j++)
            if (val[i][j] >= 0)
                out->bit[i][j] = val[i][j] > median ? 1 : -1;
}

/* Phi correlation over points visible in both; -2 when too few overlap. */
static double pattern_corr(const canon *a, const canon *b)
{
    double n = 0, sa = 0, sb = 0, sab = 0;
    for (int i = 0; i < SAMPLES_V; i++)
        for (int j = 0; j < SAMPLES_U; j++)
            if (a->bit[i][j] && b->bit[i][j]) {
                n++;
                sa += a->bit[i][j];
                sb += b->bit[i][j];
                sab += a->bit[i][j] * b->bit[i][j];
            }
    if (n < 80)
        return -2;
    double ma = sa / n, mb = sb / n;
    double va = 1 - ma * ma, vb = 1 - mb * mb;
    if (va < 1e-6 || vb < 1e-6)
        return 0;
    return (sab / n - ma * mb) / sqrt(va * vb);
}

static void test_identity_consistency(void)
{
    /* Whales with two photos (two train images, or one train + one test). */
    fw_synth_plan plan;
    make_plan(&plan, 2024, 400, 384, 192);
    fw_synth_worker *worker;
    fw_error err;
    fw_error_clear(&err);
    CHECK_INT(fw_synth_worker_new(&worker, &err), FW_OK);
    enum { MAX_WHALES = 24 };
    canon *photos = calloc(2 * MAX_WHALES, sizeof *photos);
    int n_whales = 0;
    for (int w = 0; w < plan.n_whales && n_whales < MAX_WHALES; w++) {
        long first = plan.unit_start[w], count = plan.unit_start[w + 1] - first;
        if (count < 2)
            continue;
        for (int k = 0; k < 2; k++) {
            fw_image img;
            fw_synth_photo photo;
            const fw_synth_identity *id;
            CHECK_INT(fw_synth_render_item(&plan, plan.unit_items[first + k], worker, &img, &photo, &id, &err),
                      FW_OK);
            canonical_pattern(id, &photo, &img, &photos[2 * n_whales + k]);
        }
        n_whales++;
    }
    CHECK_INT(n_whales, MAX_WHALES);
    /* Same-whale pairs vs different-whale pairs, and re-identification: for
     * each photo, is its sibling the best match among all other photos? */
    double same = 0, diff = 0;
    int n_same = 0, n_diff = 0, rank1 = 0, queries = 0;
    for (int a = 0; a < 2 * n_whales; a++) {
        double best = -3;
        int best_b = -1;
        for (int b = 0; b < 2 * n_whales; b++) {
            if (b == a)
                continue;
            double c = pattern_corr(&photos[a], &photos[b]);
            if (c < -1.5)
                continue;
            if (b / 2 == a / 2) {
                same += c;
                n_same++;
            } else if (b > a) {
                diff += c;
                n_diff++;
            }
            if (c > best)
                best = c, best_b = b;
        }
        queries++;
        rank1 += best_b >= 0 && best_b / 2 == a / 2;
    }
    same /= n_same ? n_same : 1;
    diff /= n_diff ? n_diff : 1;
    printf("# same-whale phi %.3f (%d pairs), different-whale phi %.3f (%d pairs), rank-1 %d/%d\n",
           same, n_same / 2, diff, n_diff, rank1, queries);
    CHECK(n_same >= 2 * MAX_WHALES - 4);
    CHECK_MSG(same > 0.5, "same-whale correlation %.3f", same);
    CHECK_MSG(fabs(diff) < 0.15, "different-whale correlation %.3f", diff);
    CHECK_MSG(rank1 >= 0.75 * queries, "rank-1 %d of %d", rank1, queries);
    free(photos);
    fw_synth_worker_free(worker);
    fw_synth_plan_free(&plan);
}

/* ---- photos ---------------------------------------------------------------------------- */

static void test_grayscale_share_and_sizes(void)
{
    fw_synth_plan plan;
    make_plan(&plan, 31, 2000, 0, 0);
    long gray = 0, wide = 0, in_range = 0, quality_ok = 0;
    for (long k = 0; k < plan.n_items; k++) {
        fw_synth_photo p;
        fw_synth_photo_draw(plan.seed, (uint64_t)k, 0, 0, &p);
        gray += p.channels == 1;
        wide += (double)p.width / p.height >= 1.9;
        in_range += p.width >= FW_SYNTH_MIN_W && p.width <= FW_SYNTH_MAX_W &&
                    p.height >= FW_SYNTH_MIN_H && p.height <= p.width;
        quality_ok += p.quality >= 70 && p.quality <= 95;
    }
    CHECK_NEAR((double)gray / plan.n_items, 1.0 / 3.0, 0.03);
    CHECK_MSG(wide > 0.6 * plan.n_items, "%ld of %ld wide", wide, plan.n_items);
    CHECK_INT(in_range, plan.n_items);
    CHECK_INT(quality_ok, plan.n_items);
    /* Rendered images carry the drawn size and channel count. */
    fw_synth_worker *worker;
    fw_error err;
    fw_error_clear(&err);
    CHECK_INT(fw_synth_worker_new(&worker, &err), FW_OK);
    for (long k = 0; k < 6; k++) {
        fw_image img;
        fw_synth_photo p;
        CHECK_INT(fw_synth_render_item(&plan, k, worker, &img, &p, NULL, &err), FW_OK);
        CHECK(img.width == p.width && img.height == p.height && img.channels == p.channels);
    }
    fw_synth_worker_free(worker);
    fw_synth_plan_free(&plan);
}

static void test_images_vary_and_fixed_size(void)
{
    fw_synth_plan plan;
    make_plan(&plan, 5, 30, 200, 100);
    fw_synth_worker *worker;
    fw_error err;
    fw_error_clear(&err);
    CHECK_INT(fw_synth_worker_new(&worker, &err), FW_OK);
    int flat = 0, sized = 0, dark_and_light = 0;
    for (long k = 0; k < 20; k++) {
        fw_image img;
        CHECK_INT(fw_synth_render_item(&plan, k, worker, &img, NULL, NULL, &err), FW_OK);
        sized += img.width == 200 && img.height == 100;
        size_t n = (size_t)img.width * img.height * img.channels;
        double s = 0, s2 = 0;
        int lo = 255, hi = 0;
        for (size_t i = 0; i < n; i++) {
            s += img.pixels[i];
            s2 += (double)img.pixels[i] * img.pixels[i];
            lo = img.pixels[i] < lo ? img.pixels[i] : lo;
            hi = img.pixels[i] > hi ? img.pixels[i] : hi;
        }
        double sd = sqrt(s2 / n - (s / n) * (s / n));
        flat += sd < 8.0;
        dark_and_light += hi - lo > 100;
    }
    CHECK_INT(sized, 20);
    CHECK_INT(flat, 0);
    CHECK_MSG(dark_and_light >= 16, "%d of 20 images span > 100 levels", dark_and_light);
    fw_synth_worker_free(worker);
    fw_synth_plan_free(&plan);
}

/* ---- the output directory --------------------------------------------------------------- */

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void touch(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_directory_rules(void)
{
    char dir[256], path[512];
    fw_error err;
    fw_error_clear(&err);
    /* A non-empty directory that is not a synth output is refused ... */
    snprintf(dir, sizeof dir, "%s/userdata", tmp_root);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/notes.txt", dir);
    touch(path, "mine\n");
    CHECK_INT(write_dataset(dir, 1, 3, 1, 0, &err), FW_EINVAL);
    CHECK(strstr(err.msg, dir) != NULL && strstr(err.msg, "--force") != NULL);
    CHECK_INT(count_files(dir), 1);
    /* ... unless forced; the user's file stays. */
    CHECK_INT(write_dataset(dir, 1, 3, 1, 1, &err), FW_OK);
    CHECK(access(path, F_OK) == 0);

    /* A previous output is replaced: stale images (and a killed run's leftovers) go. */
    snprintf(dir, sizeof dir, "%s/rerun", tmp_root);
    CHECK_INT(write_dataset(dir, 1, 12, 2, 0, &err), FW_OK);
    snprintf(path, sizeof path, "%s/train/0badf00d.jpg.tmp", dir);
    touch(path, "partial");
    snprintf(path, sizeof path, "%s/train/keep-me.txt", dir);
    touch(path, "not ours");
    CHECK_INT(write_dataset(dir, 1, 3, 2, 0, &err), FW_OK);
    fw_synth_plan plan;
    make_plan(&plan, 1, 3, 96, 48);
    snprintf(path, sizeof path, "%s/train", dir);
    CHECK_INT(count_files(path), plan.n_train + 1); /* + keep-me.txt */
    snprintf(path, sizeof path, "%s/test", dir);
    CHECK_INT(count_files(path), plan.n_test);
    fw_synth_plan_free(&plan);

    /* Unwritable places are errors naming the path. */
    snprintf(path, sizeof path, "%s/rerun/train.csv/sub", tmp_root);
    CHECK(write_dataset(path, 1, 3, 1, 0, &err) < 0);
    CHECK_MSG(strstr(err.msg, "train.csv") != NULL, "message: %s", err.msg);
    snprintf(path, sizeof path, "%s/rerun/train.csv", tmp_root);
    CHECK_INT(write_dataset(path, 1, 3, 1, 0, &err), FW_EINVAL);
    CHECK(strstr(err.msg, "not a directory") != NULL);
}

/* The CSVs name exactly the images on disk, with the expected ids. */
static void test_csvs_match_files(void)
{
    char dir[256], path[512];
    fw_error err;
    fw_error_clear(&err);
    snprintf(dir, sizeof dir, "%s/csv", tmp_root);
    CHECK_INT(write_dataset(dir, 8, 10, 2, 0, &err), FW_OK);
    fw_synth_plan plan;
    make_plan(&plan, 8, 10, 96, 48);
    static const char *const csvs[] = {"train.csv", "test_truth.csv", "sample_submission.csv"};
    for (int c = 0; c < 3; c++) {
        snprintf(path, sizeof path, "%s/%s", dir, csvs[c]);
        size_t len;
        char *text = (char *)slurp(path, &len);
        CHECK(text != NULL);
        if (!text)
            continue;
        CHECK(strncmp(text, "Image,Id\n", 9) == 0);
        long rows = 0, present = 0, new_whales = 0;
        char prev[16] = "";
        int sorted = 1;
        for (char *line = strtok(text + 9, "\n"); line; line = strtok(NULL, "\n")) {
            rows++;
            char name[16] = "", img_path[600];
            sscanf(line, "%12[^,]", name);
            sorted &= strcmp(prev, name) < 0;
            snprintf(prev, sizeof prev, "%s", name);
            snprintf(img_path, sizeof img_path, "%s/%s/%s", dir, c == 0 ? "train" : "test", name);
            present += access(img_path, F_OK) == 0;
            new_whales += strstr(line, ",new_whale") != NULL;
            if (c == 2)
                CHECK(strlen(strchr(line, ',') + 1) == strlen("new_whale w_0000000 w_0000000 w_0000000 w_0000000"));
        }
        CHECK(sorted);
        long want = c == 0 ? plan.n_train : plan.n_test;
        CHECK_INT(rows, want);
        CHECK_INT(present, want);
        if (c == 0)
            CHECK_INT(new_whales, plan.n_train_new);
        if (c == 1)
            CHECK_INT(new_whales, plan.n_test_new);
        free(text);
    }
    snprintf(path, sizeof path, "%s/train", dir);
    CHECK_INT(count_files(path), plan.n_train);
    snprintf(path, sizeof path, "%s/test", dir);
    CHECK_INT(count_files(path), plan.n_test);
    fw_synth_plan_free(&plan);
}

int main(void)
{
    (void)tap_skip_buf_;
    if (!mkdtemp(tmp_root)) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    RUN(test_jpeg_encode_roundtrip);
    RUN(test_jpeg_encode_rejects_bad_input);
    RUN(test_identity_deterministic);
    RUN(test_render_deterministic);
    RUN(test_write_identical_for_any_thread_count);
    RUN(test_distribution_shape);
    RUN(test_names_and_ids_unique);
    RUN(test_identity_consistency);
    RUN(test_grayscale_share_and_sizes);
    RUN(test_images_vary_and_fixed_size);
    RUN(test_directory_rules);
    RUN(test_csvs_match_files);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", tmp_root);
    return tap_done();
}
