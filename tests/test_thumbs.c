/* test_thumbs.c — thumbnails and terminal probes: sixel bytes decoded back
 * with libsixel and compared with the source pixels, exact half-block escape
 * sequences, the xterm 256-colour mapping against a brute-force search, the
 * DA1 reply parser, colour depth rules, and the DA1 probe against a pseudo
 * terminal that answers (or not), with its settings restored. */
#include <config.h>

#include <poll.h>
#include <pty.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "resize.h"
#include "tap.h"
#include "term_caps.h"
#include "thumbs.h"

#undef PACKAGE_VERSION
#include <sixel.h>

/* A 3-tile grid like the matches command draws: two smooth "photos"
 * (gradients with a dark curved shape) and one empty tile, 2-pixel gaps. */
static void make_grid(fw_image *grid, int tile_w, int tile_h)
{
    int gap = 2;
    CHECK(fw_image_alloc(grid, 3 * tile_w + 2 * gap, tile_h, 3, NULL) == FW_OK);
    for (int t = 0; t < 2; t++) {
        fw_image photo;
        CHECK(fw_image_alloc(&photo, 300, 140, 3, NULL) == FW_OK);
        for (int y = 0; y < photo.height; y++)
            for (int x = 0; x < photo.width; x++) {
                uint8_t *p = photo.pixels + ((size_t)y * photo.width + x) * 3;
                double dx = (x - 150.0) / 120.0, dy = (y - 90.0) / 50.0;
                int inside = dx * dx + dy * dy * (1.0 + 0.5 * t) < 1.0 && y < 100;
                p[0] = (uint8_t)(inside ? 30 + t * 10 : 40 + y / 3);
                p[1] = (uint8_t)(inside ? 35 : 80 + x / 4 - t * 20);
                p[2] = (uint8_t)(inside ? 40 : 140 + y / 2);
            }
        CHECK(fw_thumb_fit(&photo, grid, t * (tile_w + gap), 0, tile_w, tile_h, NULL) == FW_OK);
        fw_image_free(&photo);
    }
    fw_thumb_empty(grid, 2 * (tile_w + gap), 0, tile_w, tile_h);
}

/* Decode sixel bytes to RGB with libsixel; returns 0 on success. */
static int decode_sixel(const fw_outbuf *b, fw_image *out)
{
    unsigned char *indexed = NULL, *palette = NULL;
    int w = 0, h = 0, ncolors = 0;
    SIXELSTATUS st = sixel_decode_raw((unsigned char *)b->data, (int)b->len, &indexed, &w, &h,
                                      &palette, &ncolors, NULL);
    if (SIXEL_FAILED(st)) {
        printf("#   sixel_decode_raw: %s\n", sixel_helper_format_error(st));
        return -1;
    }
    int rc = fw_image_alloc(out, w, h, 3, NULL);
    for (int i = 0; rc == 0 && i < w * h; i++) {
        int c = indexed[i];
        if (c >= ncolors) {
            rc = -1;
            break;
        }
        memcpy(out->pixels + (size_t)i * 3, palette + c * 3, 3);
    }
    free(indexed);
    free(palette);
    return rc;
}

static double mean_abs_error(const fw_image *a, const fw_image *b)
{
    double sum = 0;
    size_t n = (size_t)a->width * a->height * 3;
    for (size_t i = 0; i < n; i++)
        sum += abs((int)a->pixels[i] - (int)b->pixels[i]);
    return sum / (double)n / 255.0;
}

static void test_sixel_round_trip(void)
{
    fw_image grid;
    make_grid(&grid, 192, 96);
    fw_outbuf b = {0};
    fw_error err;
    fw_error_clear(&err);
    CHECK_MSG(fw_sixel_render(&grid, 256, &b, &err) == FW_OK, "%s", err.msg);
    CHECK(b.len > 4 && b.data[0] == '\033' && b.data[1] == 'P');
    CHECK(b.len >= 2 && b.data[b.len - 2] == '\033' && b.data[b.len - 1] == '\\');
    for (size_t i = 0; i < b.len; i++) /* 7-bit: no C1 controls */
        CHECK_MSG((unsigned char)b.data[i] < 0x80, "byte %zu is 0x%02x", i,
                  (unsigned char)b.data[i]);
    CHECK(b.len < (1u << 20)); /* tmux and terminals want well under 1 MiB */
    fw_image back = {0};
    CHECK(decode_sixel(&b, &back) == 0);
    CHECK_INT(back.width, grid.width);
    CHECK_INT(back.height, grid.height);
    if (back.width == grid.width && back.height == grid.height) {
        double mae = mean_abs_error(&grid, &back);
        printf("#   sixel %dx%d: %zu bytes, mean abs error %.4f (x255 = %.2f)\n", grid.width,
               grid.height, b.len, mae, mae * 255);
        CHECK(mae < 8.0 / 255.0);
    }
    fw_image_free(&back);
    fw_image_free(&grid);
    fw_outbuf_free(&b);
}

/* Few colours and an odd height (not a multiple of the 6-row sixel band):
 * the palette holds them all, so the round trip is exact. */
static void test_sixel_exact_few_colours(void)
{
    fw_image img;
    CHECK(fw_image_alloc(&img, 37, 13, 3, NULL) == FW_OK);
    static const uint8_t colours[4][3] = {{255, 0, 0}, {0, 128, 255}, {10, 10, 10}, {250, 250, 0}};
    for (int y = 0; y < 13; y++)
        for (int x = 0; x < 37; x++)
            memcpy(img.pixels + ((size_t)y * 37 + x) * 3, colours[(x / 5 + y / 3) % 4], 3);
    fw_outbuf b = {0};
    fw_error err;
    CHECK(fw_sixel_render(&img, 16, &b, &err) == FW_OK);
    fw_image back = {0};
    CHECK(decode_sixel(&b, &back) == 0);
    CHECK_INT(back.width, 37);
    CHECK_INT(back.height, 13);
    if (back.width == 37 && back.height == 13) {
        /* sixel palettes are in percent: each channel within 255/100/2 */
        int worst = 0;
        for (size_t i = 0; i < (size_t)37 * 13 * 3; i++) {
            int d = abs((int)img.pixels[i] - (int)back.pixels[i]);
            worst = d > worst ? d : worst;
        }
        CHECK_MSG(worst <= 2, "worst channel error %d", worst);
    }
    fw_image_free(&back);
    fw_image_free(&img);
    fw_outbuf_free(&b);
}

static void test_sixel_refuses_bad_input(void)
{
    fw_image gray;
    CHECK(fw_image_alloc(&gray, 4, 4, 1, NULL) == FW_OK);
    fw_outbuf b = {0};
    fw_error err;
    fw_error_clear(&err);
    CHECK_INT(fw_sixel_render(&gray, 256, &b, &err), FW_EINVAL);
    CHECK(strstr(err.msg, "RGB") != NULL);
    fw_image rgb;
    CHECK(fw_image_alloc(&rgb, 4, 4, 3, NULL) == FW_OK);
    CHECK_INT(fw_sixel_render(&rgb, 1, &b, &err), FW_EINVAL);
    CHECK_INT(fw_sixel_render(&rgb, 257, &b, &err), FW_EINVAL);
    CHECK_INT((long)b.len, 0);
    fw_image_free(&gray);
    fw_image_free(&rgb);
    fw_outbuf_free(&b);
}

/* 2x2 pixels: top row red, green; bottom row blue, blue. */
static void make_2x2(fw_image *img)
{
    CHECK(fw_image_alloc(img, 2, 2, 3, NULL) == FW_OK);
    static const uint8_t px[12] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 255};
    memcpy(img->pixels, px, sizeof px);
}

static void test_halfblock_truecolor_exact(void)
{
    fw_image img;
    make_2x2(&img);
    fw_outbuf b = {0};
    static const uint8_t pad[3] = {0, 0, 0};
    CHECK(fw_halfblock_render(&img, FW_CELL_COLORS_TRUE, pad, &b, NULL) == FW_OK);
    CHECK_STR(b.data, "\033[38;2;255;0;0;48;2;0;0;255m\xe2\x96\x80"
                      "\033[38;2;0;255;0m\xe2\x96\x80"
                      "\033[0m\n");
    fw_image_free(&img);
    fw_outbuf_free(&b);
}

static void test_halfblock_256_exact(void)
{
    fw_image img;
    make_2x2(&img);
    fw_outbuf b = {0};
    static const uint8_t pad[3] = {0, 0, 0};
    CHECK(fw_halfblock_render(&img, FW_CELL_COLORS_256, pad, &b, NULL) == FW_OK);
    /* xterm: 196 = (255,0,0), 46 = (0,255,0), 21 = (0,0,255) */
    CHECK_STR(b.data, "\033[38;5;196;48;5;21m\xe2\x96\x80"
                      "\033[38;5;46m\xe2\x96\x80"
                      "\033[0m\n");
    fw_image_free(&img);
    fw_outbuf_free(&b);
}

/* An odd last row takes the pad colour as background; one line per 2 rows. */
static void test_halfblock_odd_height(void)
{
    fw_image img;
    CHECK(fw_image_alloc(&img, 1, 3, 3, NULL) == FW_OK);
    memset(img.pixels, 200, 9);
    static const uint8_t pad[3] = {1, 2, 3};
    fw_outbuf b = {0};
    CHECK(fw_halfblock_render(&img, FW_CELL_COLORS_TRUE, pad, &b, NULL) == FW_OK);
    CHECK_STR(b.data, "\033[38;2;200;200;200;48;2;200;200;200m\xe2\x96\x80\033[0m\n"
                      "\033[38;2;200;200;200;48;2;1;2;3m\xe2\x96\x80\033[0m\n");
    fw_image_free(&img);
    fw_outbuf_free(&b);
}

/* The xterm palette entry, computed as xterm does. */
static void xterm_color(int index, int rgb[3])
{
    static const int levels[6] = {0, 95, 135, 175, 215, 255};
    if (index >= 232) {
        rgb[0] = rgb[1] = rgb[2] = 8 + 10 * (index - 232);
    } else {
        int i = index - 16;
        rgb[0] = levels[i / 36], rgb[1] = levels[(i / 6) % 6], rgb[2] = levels[i % 6];
    }
}

static void test_color_256_is_nearest(void)
{
    uint64_t s = 12345;
    int bad = 0;
    for (int n = 0; n < 20000; n++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        int r = (int)(s >> 56), g = (int)((s >> 48) & 255), b = (int)((s >> 40) & 255);
        if (n < 256) /* include every grey */
            r = g = b = n;
        int best = -1, best_d = 1 << 30;
        for (int i = 16; i < 256; i++) {
            int c[3];
            xterm_color(i, c);
            int d = (r - c[0]) * (r - c[0]) + (g - c[1]) * (g - c[1]) + (b - c[2]) * (b - c[2]);
            if (d < best_d)
                best_d = d, best = i;
        }
        int got = fw_cell_color_256((uint8_t)r, (uint8_t)g, (uint8_t)b);
        int c[3];
        xterm_color(got, c);
        int d = (r - c[0]) * (r - c[0]) + (g - c[1]) * (g - c[1]) + (b - c[2]) * (b - c[2]);
        if (got < 16 || got > 255 || d != best_d) {
            if (bad++ < 5)
                printf("#   (%d,%d,%d): got %d (d=%d), nearest %d (d=%d)\n", r, g, b, got, d,
                       best, best_d);
        }
    }
    CHECK_INT(bad, 0);
}

static void test_thumb_fit_keeps_aspect(void)
{
    fw_image src, canvas, ref;
    CHECK(fw_image_alloc(&src, 100, 50, 3, NULL) == FW_OK);
    for (size_t i = 0; i < (size_t)100 * 50 * 3; i++)
        src.pixels[i] = (uint8_t)(i * 7 % 251);
    CHECK(fw_image_alloc(&canvas, 50, 40, 3, NULL) == FW_OK);
    memset(canvas.pixels, 99, (size_t)50 * 40 * 3);
    CHECK(fw_thumb_fit(&src, &canvas, 5, 0, 40, 40, NULL) == FW_OK);
    CHECK(fw_image_alloc(&ref, 40, 20, 3, NULL) == FW_OK);
    CHECK(fw_resize(&src, 0, 0, 100, 50, &ref, NULL) == FW_OK);
    int mismatches = 0;
    for (int y = 0; y < 40; y++)
        for (int x = 0; x < 50; x++) {
            const uint8_t *p = canvas.pixels + ((size_t)y * 50 + x) * 3;
            int in = x >= 5 && x < 45 && y >= 10 && y < 30;
            for (int c = 0; c < 3; c++) {
                int want = in ? ref.pixels[((size_t)(y - 10) * 40 + (x - 5)) * 3 + c] : 99;
                mismatches += p[c] != want;
            }
        }
    CHECK_INT(mismatches, 0);
    fw_error err;
    CHECK_INT(fw_thumb_fit(&src, &canvas, 20, 0, 40, 40, &err), FW_EINVAL); /* outside */
    fw_image_free(&src);
    fw_image_free(&canvas);
    fw_image_free(&ref);
}

static void test_outbuf_grows(void)
{
    fw_outbuf b = {0};
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    for (int i = 0; i < 50; i++)
        CHECK(fw_outbuf_printf(&b, NULL, "%s%d", big, i) == FW_OK);
    CHECK_INT((long)b.len, 50 * 999 + 10 + 40 * 2);
    CHECK_INT((long)strlen(b.data), (long)b.len);
    CHECK(!strcmp(b.data + b.len - 2, "49"));
    fw_outbuf_free(&b);
}

static void test_da1_parser(void)
{
#define HAS(s) fw_da1_reply_has_sixel(s, sizeof(s) - 1)
    CHECK_INT(HAS("\033[?62;4;22c"), 1);
    CHECK_INT(HAS("\033[?63;1;2;4;6;9;15;16;22;28c"), 1);
    CHECK_INT(HAS("\033[?4c"), 1);
    CHECK_INT(HAS("typed\033[?62;4c"), 1);     /* typeahead before the answer */
    CHECK_INT(HAS("\033[?1;2c"), 0);
    CHECK_INT(HAS("\033[?64;14;44c"), 0);      /* 14 and 44 are not 4 */
    CHECK_INT(HAS("\033[?62;4;22"), 0);        /* incomplete (timeout) */
    CHECK_INT(HAS(""), 0);
    CHECK_INT(HAS("garbage 4;4;4c"), 0);
    CHECK_INT(HAS("\033[62;4c"), 0);           /* no '?' */
    CHECK_INT(HAS("\033[?;c"), 0);
    CHECK_INT(HAS("\033[?6x;4c"), 0);          /* junk inside */
    CHECK_INT(HAS("\033[?6x\033[?1;4c"), 1);   /* a good answer after junk */
    CHECK_INT(fw_da1_reply_complete("\033[?1;2c", 7), 1);
    CHECK_INT(fw_da1_reply_complete("\033[?1;2", 6), 0);
#undef HAS
}

static void test_color_depth_rules(void)
{
    CHECK_INT(fw_color_depth_from("xterm", "truecolor", 8), FW_COLORS_TRUE);
    CHECK_INT(fw_color_depth_from("xterm", "24bit", 8), FW_COLORS_TRUE);
    CHECK_INT(fw_color_depth_from("xterm-256color", NULL, -1), FW_COLORS_256);
    CHECK_INT(fw_color_depth_from("tmux", "", 256), FW_COLORS_256);
    CHECK_INT(fw_color_depth_from("rxvt", NULL, 88), FW_COLORS_16);
    CHECK_INT(fw_color_depth_from("xterm", NULL, 8), FW_COLORS_8);
    CHECK_INT(fw_color_depth_from("vt100", NULL, -1), FW_COLORS_8);
    CHECK_INT(fw_color_depth_from("vt100", NULL, 0), FW_COLORS_NONE);
    CHECK_INT(fw_color_depth_from("dumb", NULL, -1), FW_COLORS_NONE);
    CHECK_INT(fw_color_depth_from(NULL, NULL, -1), FW_COLORS_NONE);
    CHECK_INT(fw_color_depth_from("", "", -1), FW_COLORS_NONE);
}

/* Run the probe in a child whose controlling terminal is a pty; the parent
 * plays the terminal: it reads the query and answers with `answer` (NULL:
 * stays silent). The child exits with 10 + the probe's result, or 3 when
 * the termios differ afterwards. */
static int probe_through_pty(const char *answer, char *seen, size_t seen_cap)
{
    int master;
    pid_t pid = forkpty(&master, NULL, NULL, NULL);
    if (pid < 0)
        return -1;
    if (pid == 0) {
        struct termios before, after;
        tcgetattr(STDIN_FILENO, &before);
        int r = fw_term_probe_sixel(300, NULL);
        tcgetattr(STDIN_FILENO, &after);
        if (before.c_lflag != after.c_lflag || before.c_iflag != after.c_iflag ||
            before.c_oflag != after.c_oflag || memcmp(before.c_cc, after.c_cc, sizeof before.c_cc))
            _exit(3);
        _exit(10 + r);
    }
    size_t n = 0;
    int answered = 0;
    seen[0] = '\0';
    for (;;) {
        struct pollfd p = {.fd = master, .events = POLLIN};
        if (poll(&p, 1, 2000) <= 0)
            break;
        char buf[64];
        ssize_t got = read(master, buf, sizeof buf);
        if (got <= 0)
            break; /* EIO: the child closed the pty */
        for (ssize_t i = 0; i < got && n + 1 < seen_cap; i++)
            seen[n++] = buf[i];
        seen[n] = '\0';
        if (!answered && answer && strstr(seen, "\033[c")) {
            if (write(master, answer, strlen(answer)) < 0)
                break;
            answered = 1;
        }
    }
    int status = 0;
    waitpid(pid, &status, 0);
    close(master);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_probe_sixel_terminal(void)
{
    char seen[256];
    CHECK_INT(probe_through_pty("\033[?63;1;2;4;6;9;15;16;22;28c", seen, sizeof seen), 11);
    CHECK(strstr(seen, "\033[c") != NULL);
    /* the answer is read, not echoed back to the terminal */
    CHECK(strstr(seen, "63;1") == NULL);
}

static void test_probe_plain_terminal(void)
{
    char seen[256];
    CHECK_INT(probe_through_pty("\033[?1;2c", seen, sizeof seen), 10);
}

static void test_probe_silent_terminal(void)
{
    char seen[256];
    CHECK_INT(probe_through_pty(NULL, seen, sizeof seen), 10); /* timed out: no sixel */
    CHECK(strstr(seen, "\033[c") != NULL);
}

int main(void)
{
    RUN(test_sixel_round_trip);
    RUN(test_sixel_exact_few_colours);
    RUN(test_sixel_refuses_bad_input);
    RUN(test_halfblock_truecolor_exact);
    RUN(test_halfblock_256_exact);
    RUN(test_halfblock_odd_height);
    RUN(test_color_256_is_nearest);
    RUN(test_thumb_fit_keeps_aspect);
    RUN(test_outbuf_grows);
    RUN(test_da1_parser);
    RUN(test_color_depth_rules);
    RUN(test_probe_sixel_terminal);
    RUN(test_probe_plain_terminal);
    RUN(test_probe_silent_terminal);
    return tap_done();
}
