/* image.h — an 8-bit image in memory: (H, W, C) row-major, channels interleaved
 * (C = 1 grayscale or 3 RGB). The unit that decoding, caching, synthesis and
 * augmentation pass around. */
#ifndef FW_IMAGE_H
#define FW_IMAGE_H

#include <stdint.h>
#include <stdlib.h>

#include "../src/fw_error.h"

typedef struct fw_image {
    int width;
    int height;
    int channels;    /* 1 or 3 */
    uint8_t *pixels; /* (height, width, channels), owned */
} fw_image;

/* Allocate w*h*c zeroed bytes (checked for overflow). */
static inline int fw_image_alloc(fw_image *img, int w, int h, int c, fw_error *err)
{
    img->width = img->height = img->channels = 0;
    img->pixels = NULL;
    if (w <= 0 || h <= 0 || (c != 1 && c != 3))
        return fw_fail(err, FW_EINVAL, "image: bad shape %dx%dx%d", w, h, c);
    size_t n = (size_t)w * (size_t)h * (size_t)c;
    img->pixels = calloc(n, 1);
    if (!img->pixels)
        return fw_fail(err, FW_ENOMEM, "image: cannot allocate %dx%dx%d", w, h, c);
    img->width = w, img->height = h, img->channels = c;
    return FW_OK;
}

static inline void fw_image_free(fw_image *img)
{
    free(img->pixels);
    img->pixels = NULL;
    img->width = img->height = img->channels = 0;
}

#endif
