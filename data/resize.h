/* resize.h — resampling 8-bit images to the working size (area-averaging when
 * shrinking, bilinear when enlarging), optionally from a crop box. */
#ifndef FW_RESIZE_H
#define FW_RESIZE_H

#include "image.h"

/* Resize the region [x0,x1) x [y0,y1) of src (pixel coords; pass 0,0,w,h for all)
 * into dst, which must already be allocated with the wanted size and the same
 * channel count as src. */
int fw_resize(const fw_image *src, float x0, float y0, float x1, float y1,
              fw_image *dst, fw_error *err);

/* Convert between 1 and 3 channels (gray = 0.299 R + 0.587 G + 0.114 B, rounded).
 * dst is allocated. */
int fw_image_convert(const fw_image *src, int channels, fw_image *dst, fw_error *err);

#endif
