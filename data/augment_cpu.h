/* augment_cpu.h — the CPU path of augmentation: applies the per-pixel math of
 * augment.h to whole images and batches, output (N, C, H, W) float32. */
#ifndef FW_AUGMENT_CPU_H
#define FW_AUGMENT_CPU_H

#include <stdint.h>

#include "../src/fw_error.h"
#include "augment.h"

/* One sample: src (sh, sw, sc) uint8 -> out (sc, oh, ow) float, equal to
 * fw_aug_pixel at every (x, y, c) up to float rounding (FMA). FW_EINVAL for
 * bad shapes (images up to 2^31 - 1 bytes) or a bad tap count. */
int fw_augment_image(const fw_aug_params *p, const uint8_t *src, int sw, int sh, int sc,
                     float *out, int ow, int oh, fw_error *err);

/* n samples on `threads` threads (<= 0: all CPUs): sample i reads srcs[i]
 * (sh, sw, sc) with params[i] and writes out + i * sc * oh * ow; out is
 * (n, sc, oh, ow). Results do not depend on the thread count. */
int fw_augment_batch(const fw_aug_params *params, const uint8_t *const *srcs, int n, int sw,
                     int sh, int sc, float *out, int ow, int oh, int threads, fw_error *err);

#endif
