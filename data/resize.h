/* resize.h — resampling 8-bit images to the working size (area-averaging when
 * shrinking, bilinear when enlarging), optionally from a crop box. */
#ifndef FW_RESIZE_H
#define FW_RESIZE_H

#include "image.h"

/* Resize the region [x0,x1) x [y0,y1) of src (pixel coords, fractions allowed;
 * pass 0,0,w,h for all) into dst, which must already be allocated with the
 * wanted size and the same channel count as src. Each axis on its own: when
 * it shrinks, an output pixel is the average of the source interval it covers
 * (edge pixels weighted by their overlap); when it keeps its size or grows,
 * bilinear between the nearest source pixel centres (half-pixel aligned),
 * reading only pixels the box touches. Rounded half up; deterministic. A box
 * not inside src (or empty) is FW_EINVAL. Same size from the whole image is an
 * exact copy; halving is the rounded 2x2 mean. */
int fw_resize(const fw_image *src, float x0, float y0, float x1, float y1,
              fw_image *dst, fw_error *err);

/* Convert between 1 and 3 channels (gray = 0.299 R + 0.587 G + 0.114 B, rounded,
 * in PIL's fixed point so it equals PIL's convert("L"); gray -> RGB copies the
 * value to all three). Same channel count copies. dst is allocated. */
int fw_image_convert(const fw_image *src, int channels, fw_image *dst, fw_error *err);

#endif
