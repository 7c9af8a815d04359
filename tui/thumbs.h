/* thumbs.h — thumbnails for the terminal: fit images into tiles of a grid
 * canvas, and render an RGB canvas as sixel bytes (libsixel) or as Unicode
 * half-block cells (U+2580 "▀": foreground = upper pixel, background =
 * lower pixel) with 24-bit or 256-colour SGR sequences.
 *
 * Everything here is a pure function from pixels to bytes in a growable
 * buffer: nothing is written to a terminal, so the output can be tested
 * byte for byte (and the sixel decoded back).
 */
#ifndef FW_THUMBS_H
#define FW_THUMBS_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"

/* A growable byte buffer; always NUL-terminated after a successful append. */
typedef struct fw_outbuf {
    char *data;
    size_t len, cap;
} fw_outbuf;

int fw_outbuf_append(fw_outbuf *b, const void *bytes, size_t n, fw_error *err);
int fw_outbuf_printf(fw_outbuf *b, fw_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void fw_outbuf_free(fw_outbuf *b);

/* Fit src (1 or 3 channels) inside a tile_w x tile_h box of dst (RGB) whose
 * top-left corner is (x, y), keeping its aspect ratio and centring it; the
 * rest of the box is left as it is. src is area-averaged (fw_resize). */
int fw_thumb_fit(const fw_image *src, fw_image *dst, int x, int y, int tile_w, int tile_h,
                 fw_error *err);

/* Fill a rectangle of an RGB image with one colour (clipped to the image). */
void fw_thumb_fill(fw_image *dst, int x, int y, int w, int h, const uint8_t rgb[3]);

/* An empty tile: a flat fill with a one-pixel frame and a diagonal cross,
 * which reads as "no image" at any size. */
void fw_thumb_empty(fw_image *dst, int x, int y, int w, int h);

/* Encode an RGB image as one sixel DCS sequence (ESC P ... ESC \), 7-bit
 * controls, palette of at most `colors` registers (2..256) built by median
 * cut over the image, no dithering (so flat areas stay flat). */
int fw_sixel_render(const fw_image *rgb, int colors, fw_outbuf *out, fw_error *err);

typedef enum fw_cell_colors {
    FW_CELL_COLORS_256 = 0, /* xterm 256-colour palette: 6x6x6 cube + grey ramp */
    FW_CELL_COLORS_TRUE,    /* 24-bit "38;2;R;G;B" */
} fw_cell_colors;

/* The xterm palette index (16..255) nearest an RGB colour (squared
 * distance) among the 6x6x6 cube and the 24-step grey ramp. */
int fw_cell_color_256(uint8_t r, uint8_t g, uint8_t b);

/* Render rows [0, H) of an RGB image as text: one line per two pixel rows
 * (an odd last row gets the background colour of `pad`), each cell "▀"
 * with foreground = upper pixel, background = lower pixel. Per line: for
 * each cell the SGR sequences of the
 * colours that changed since the previous cell of the line
 * ("\033[38;2;R;G;Bm" / "\033[48;2;R;G;Bm", or "\033[38;5;Nm" /
 * "\033[48;5;Nm" with both in one sequence when both change:
 * "\033[38;2;R;G;B;48;2;R;G;Bm"), then "\033[0m\n" at the end of the line. */
int fw_halfblock_render(const fw_image *rgb, fw_cell_colors colors, const uint8_t pad[3],
                        fw_outbuf *out, fw_error *err);

#endif
