/* thumbs.c — thumbnail tiles, sixel encoding (libsixel) and half-block
 * rendering of RGB images into byte buffers (see thumbs.h). */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "resize.h"
#include "thumbs.h"

/* sixel.h defines PACKAGE_VERSION (and friends) unconditionally. */
#undef PACKAGE_VERSION
#include <sixel.h>

/* ------------------------------------------------------------ buffer */

int fw_outbuf_append(fw_outbuf *b, const void *bytes, size_t n, fw_error *err)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) {
            if (cap > ((size_t)1 << 40))
                return fw_fail(err, FW_ETOOBIG, "output buffer: %zu bytes is too large",
                               b->len + n);
            cap *= 2;
        }
        char *grown = realloc(b->data, cap);
        if (!grown)
            return fw_fail(err, FW_ENOMEM, "output buffer: cannot grow to %zu bytes", cap);
        b->data = grown;
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, bytes, n);
    b->len += n;
    b->data[b->len] = '\0';
    return FW_OK;
}

int fw_outbuf_printf(fw_outbuf *b, fw_error *err, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return fw_fail(err, FW_EINVAL, "output buffer: bad format '%s'", fmt);
    if ((size_t)n < sizeof small)
        return fw_outbuf_append(b, small, (size_t)n, err);
    char *big = malloc((size_t)n + 1);
    if (!big)
        return fw_fail(err, FW_ENOMEM, "output buffer: cannot format %d bytes", n);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = fw_outbuf_append(b, big, (size_t)n, err);
    free(big);
    return rc;
}

void fw_outbuf_free(fw_outbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* ------------------------------------------------------------ tiles */

void fw_thumb_fill(fw_image *dst, int x, int y, int w, int h, const uint8_t rgb[3])
{
    int x0 = x < 0 ? 0 : x, y0 = y < 0 ? 0 : y;
    int x1 = x + w > dst->width ? dst->width : x + w;
    int y1 = y + h > dst->height ? dst->height : y + h;
    for (int r = y0; r < y1; r++)
        for (int c = x0; c < x1; c++)
            memcpy(dst->pixels + ((size_t)r * dst->width + c) * 3, rgb, 3);
}

void fw_thumb_empty(fw_image *dst, int x, int y, int w, int h)
{
    static const uint8_t fill[3] = {40, 40, 44}, line[3] = {110, 110, 118};
    fw_thumb_fill(dst, x, y, w, h, fill);
    fw_thumb_fill(dst, x, y, w, 1, line);
    fw_thumb_fill(dst, x, y + h - 1, w, 1, line);
    fw_thumb_fill(dst, x, y, 1, h, line);
    fw_thumb_fill(dst, x + w - 1, y, 1, h, line);
    if (w < 3 || h < 3)
        return;
    /* the two diagonals, stepping along the longer side */
    int steps = w > h ? w : h;
    for (int i = 0; i < steps; i++) {
        int c = x + (int)((long)i * (w - 1) / (steps - 1 > 0 ? steps - 1 : 1));
        int r = y + (int)((long)i * (h - 1) / (steps - 1 > 0 ? steps - 1 : 1));
        fw_thumb_fill(dst, c, r, 1, 1, line);
        fw_thumb_fill(dst, c, y + h - 1 - (r - y), 1, 1, line);
    }
}

int fw_thumb_fit(const fw_image *src, fw_image *dst, int x, int y, int tile_w, int tile_h,
                 fw_error *err)
{
    if (dst->channels != 3 || tile_w <= 0 || tile_h <= 0 || x < 0 || y < 0 ||
        x + tile_w > dst->width || y + tile_h > dst->height)
        return fw_fail(err, FW_EINVAL, "thumbnail: tile %dx%d at (%d,%d) outside %dx%d canvas",
                       tile_w, tile_h, x, y, dst->width, dst->height);
    if (src->width <= 0 || src->height <= 0)
        return fw_fail(err, FW_EINVAL, "thumbnail: empty source image");
    /* the largest w x h with the source's aspect ratio inside the tile */
    int w = tile_w, h = (int)((long)src->height * tile_w / src->width);
    if (h > tile_h) {
        h = tile_h;
        w = (int)((long)src->width * tile_h / src->height);
    }
    if (w < 1)
        w = 1;
    if (h < 1)
        h = 1;
    fw_image small;
    FW_TRY(fw_image_alloc(&small, w, h, src->channels, err));
    int rc = fw_resize(src, 0.0f, 0.0f, (float)src->width, (float)src->height, &small, err);
    if (rc < 0) {
        fw_image_free(&small);
        return rc;
    }
    int ox = x + (tile_w - w) / 2, oy = y + (tile_h - h) / 2;
    for (int r = 0; r < h; r++) {
        for (int c = 0; c < w; c++) {
            const uint8_t *s = small.pixels + ((size_t)r * w + c) * (size_t)small.channels;
            uint8_t *d = dst->pixels + ((size_t)(oy + r) * dst->width + (ox + c)) * 3;
            if (small.channels == 1)
                d[0] = d[1] = d[2] = s[0];
            else
                memcpy(d, s, 3);
        }
    }
    fw_image_free(&small);
    return FW_OK;
}

/* ------------------------------------------------------------ sixel */

/* One check for every libsixel call: record the call, status text, file and
 * line, and jump to the function's cleanup. */
#define SIXEL_CHECK(call)                                                                     \
    do {                                                                                      \
        SIXELSTATUS sixel_status_ = (call);                                                   \
        if (SIXEL_FAILED(sixel_status_)) {                                                    \
            rc = fw_fail(err, FW_EIO, "%s:%d: %s failed: %s", __FILE__, __LINE__, #call,      \
                         sixel_helper_format_error(sixel_status_));                           \
            goto done;                                                                        \
        }                                                                                     \
    } while (0)

typedef struct sixel_sink {
    fw_outbuf *out;
    fw_error err;
    int failed;
} sixel_sink;

static int sixel_sink_write(char *data, int size, void *priv)
{
    sixel_sink *sink = priv;
    if (sink->failed || size < 0)
        return -1;
    if (fw_outbuf_append(sink->out, data, (size_t)size, &sink->err) < 0) {
        sink->failed = 1;
        return -1;
    }
    return size;
}

/* The distinct colours of an RGB image into palette (3 bytes each) when
 * there are at most max of them: returns their number, or 0 when more. */
static int distinct_colors(const fw_image *rgb, int max, unsigned char *palette)
{
    int n = 0;
    size_t total = (size_t)rgb->width * rgb->height;
    for (size_t i = 0; i < total; i++) {
        const uint8_t *p = rgb->pixels + i * 3;
        int found = 0;
        for (int k = n - 1; k >= 0 && !found; k--)
            found = !memcmp(palette + k * 3, p, 3);
        if (found)
            continue;
        if (n == max)
            return 0;
        memcpy(palette + n * 3, p, 3);
        n++;
    }
    return n;
}

int fw_sixel_render(const fw_image *rgb, int colors, fw_outbuf *out, fw_error *err)
{
    if (rgb->channels != 3 || rgb->width <= 0 || rgb->height <= 0 || !rgb->pixels)
        return fw_fail(err, FW_EINVAL, "sixel: need an RGB image, got %dx%dx%d", rgb->width,
                       rgb->height, rgb->channels);
    if (colors < 2 || colors > SIXEL_PALETTE_MAX)
        return fw_fail(err, FW_EINVAL, "sixel: %d colours is outside 2..%d", colors,
                       SIXEL_PALETTE_MAX);
    int rc = FW_OK;
    size_t start = out->len;
    sixel_sink sink = {.out = out};
    fw_error_clear(&sink.err);
    sixel_output_t *output = NULL;
    sixel_dither_t *dither = NULL;
    /* libsixel takes non-const pixels (and may work in place): give it a copy */
    size_t n = (size_t)rgb->width * rgb->height * 3;
    unsigned char *pixels = malloc(n);
    if (!pixels)
        return fw_fail(err, FW_ENOMEM, "sixel: cannot copy a %dx%d image", rgb->width,
                       rgb->height);
    memcpy(pixels, rgb->pixels, n);

    SIXEL_CHECK(sixel_output_new(&output, sixel_sink_write, &sink, NULL));
    sixel_output_set_8bit_availability(output, 0);
    /* An image with few colours gets exactly them as its palette: libsixel's
     * median cut works on a 5-bit histogram and would darken 255 to 248. */
    unsigned char exact[SIXEL_PALETTE_MAX * 3];
    int n_exact = distinct_colors(rgb, colors, exact);
    if (n_exact > 0) {
        SIXEL_CHECK(sixel_dither_new(&dither, n_exact < 2 ? 2 : n_exact, NULL));
        if (n_exact < 2)
            memcpy(exact + 3, exact, 3); /* libsixel wants at least two registers */
        sixel_dither_set_palette(dither, exact);
        sixel_dither_set_pixelformat(dither, SIXEL_PIXELFORMAT_RGB888);
    } else {
        SIXEL_CHECK(sixel_dither_new(&dither, colors, NULL));
        SIXEL_CHECK(sixel_dither_initialize(dither, pixels, rgb->width, rgb->height,
                                            SIXEL_PIXELFORMAT_RGB888, SIXEL_LARGE_AUTO,
                                            SIXEL_REP_AVERAGE_PIXELS, SIXEL_QUALITY_FULL));
    }
    sixel_dither_set_diffusion_type(dither, SIXEL_DIFFUSE_NONE);
    memcpy(pixels, rgb->pixels, n);
    SIXEL_CHECK(sixel_encode(pixels, rgb->width, rgb->height, 3, dither, output));
    if (sink.failed) {
        rc = sink.err.code;
        if (err)
            *err = sink.err;
    }
done:
    if (dither)
        sixel_dither_unref(dither);
    if (output)
        sixel_output_unref(output);
    free(pixels);
    if (rc < 0 && out->len > start) {
        out->len = start; /* no half sequence */
        out->data[start] = '\0';
    }
    return rc;
}

/* ------------------------------------------------------------ half-blocks */

static const uint8_t cube_levels[6] = {0, 95, 135, 175, 215, 255};

static int nearest_cube_level(int v)
{
    int best = 0;
    for (int i = 1; i < 6; i++)
        if (abs(v - cube_levels[i]) < abs(v - cube_levels[best]))
            best = i;
    return best;
}

static int dist2(int r, int g, int b, int r2, int g2, int b2)
{
    return (r - r2) * (r - r2) + (g - g2) * (g - g2) + (b - b2) * (b - b2);
}

int fw_cell_color_256(uint8_t r, uint8_t g, uint8_t b)
{
    int ri = nearest_cube_level(r), gi = nearest_cube_level(g), bi = nearest_cube_level(b);
    int cube = 16 + 36 * ri + 6 * gi + bi;
    int cube_d = dist2(r, g, b, cube_levels[ri], cube_levels[gi], cube_levels[bi]);
    /* grey ramp 232..255: 8, 18, ..., 238 */
    int mean = (r + g + b) / 3;
    int gi24 = (mean - 8 + 5) / 10;
    if (gi24 < 0)
        gi24 = 0;
    if (gi24 > 23)
        gi24 = 23;
    int grey = 8 + 10 * gi24;
    int grey_d = dist2(r, g, b, grey, grey, grey);
    return grey_d < cube_d ? 232 + gi24 : cube;
}

/* "38;2;R;G;B" or "38;5;N" (base 38 for foreground, 48 for background). */
static int format_color(char *buf, size_t cap, int base, const uint8_t *px,
                        fw_cell_colors colors)
{
    if (colors == FW_CELL_COLORS_TRUE)
        return snprintf(buf, cap, "%d;2;%d;%d;%d", base, px[0], px[1], px[2]);
    return snprintf(buf, cap, "%d;5;%d", base, fw_cell_color_256(px[0], px[1], px[2]));
}

static int same_cell_color(const uint8_t *a, const uint8_t *b, fw_cell_colors colors)
{
    if (colors == FW_CELL_COLORS_TRUE)
        return a[0] == b[0] && a[1] == b[1] && a[2] == b[2];
    return fw_cell_color_256(a[0], a[1], a[2]) == fw_cell_color_256(b[0], b[1], b[2]);
}

int fw_halfblock_render(const fw_image *rgb, fw_cell_colors colors, const uint8_t pad[3],
                        fw_outbuf *out, fw_error *err)
{
    if (rgb->channels != 3 || rgb->width <= 0 || rgb->height <= 0 || !rgb->pixels)
        return fw_fail(err, FW_EINVAL, "half-blocks: need an RGB image, got %dx%dx%d",
                       rgb->width, rgb->height, rgb->channels);
    static const char upper_half[] = "\xe2\x96\x80"; /* U+2580 */
    size_t w = (size_t)rgb->width;
    for (int y = 0; y < rgb->height; y += 2) {
        const uint8_t *top_row = rgb->pixels + (size_t)y * w * 3;
        const uint8_t *bottom_row = y + 1 < rgb->height ? top_row + w * 3 : NULL;
        const uint8_t *prev_fg = NULL, *prev_bg = NULL;
        for (size_t x = 0; x < w; x++) {
            const uint8_t *fg = top_row + x * 3;
            const uint8_t *bg = bottom_row ? bottom_row + x * 3 : pad;
            int fg_changed = !prev_fg || !same_cell_color(fg, prev_fg, colors);
            int bg_changed = !prev_bg || !same_cell_color(bg, prev_bg, colors);
            if (fg_changed || bg_changed) {
                char fgs[32] = "", bgs[32] = "";
                if (fg_changed)
                    format_color(fgs, sizeof fgs, 38, fg, colors);
                if (bg_changed)
                    format_color(bgs, sizeof bgs, 48, bg, colors);
                FW_TRY(fw_outbuf_printf(out, err, "\033[%s%s%sm", fgs,
                                        fg_changed && bg_changed ? ";" : "", bgs));
            }
            FW_TRY(fw_outbuf_append(out, upper_half, 3, err));
            prev_fg = fg;
            prev_bg = bg;
        }
        FW_TRY(fw_outbuf_append(out, "\033[0m\n", 5, err));
    }
    return FW_OK;
}
