/* augment_params.h — augmentation options and the per-sample random
 * parameters drawn from them (host side; the per-pixel math is augment.h).
 *
 * Each sample's parameters come from its own random stream
 * fw_augment_rng(seed, epoch, sample), so they do not depend on thread count,
 * batch order or timing. Every operation always consumes the same number of
 * draws whether it is applied or not, so changing one probability leaves the
 * other operations' draws unchanged.
 */
#ifndef FW_AUGMENT_PARAMS_H
#define FW_AUGMENT_PARAMS_H

#include <stdint.h>

#include "../src/fw_error.h"
#include "../src/rng.h"
#include "augment.h"

typedef struct fw_augment_opts {
    int out_width, out_height; /* output size; 0 = the source (working) size */

    /* geometry (output pixels; angles in degrees) */
    float p_affine;            /* probability of a random affine, else only the resize */
    float rotate_deg;          /* rotation uniform in [-r, r]; positive = clockwise on screen */
    float scale_min, scale_max;/* zoom uniform in [min, max] (> 1 enlarges) */
    float aspect;              /* aspect factor log-uniform in [1/a, a] (x stretched by sqrt) */
    float shear_deg;           /* x and y shear angles uniform in [-s, s] */
    float translate;           /* shift uniform in [-t, t] x the output width / height */
    float p_flip;              /* horizontal flip */
    int flip_identity;         /* 1: a flipped whale is a new identity (label + n_whales) */
    int border;                /* FW_BORDER_* */
    float fill;                /* FW_BORDER_CONSTANT value in 0..1 */

    /* photometric */
    float p_color;             /* probability of brightness/contrast/saturation jitter */
    float brightness;          /* factor uniform in [1-b, 1+b] */
    float contrast;            /* factor uniform in [1-c, 1+c] about the image mean */
    float saturation;          /* grey-mix weight uniform in [-s, s] */
    float p_gamma;
    float gamma;               /* exponent log-uniform in [1/g, g] */
    float p_gray;              /* fully grey (overrides the saturation jitter) */
    float p_blur;
    float blur_sigma_min, blur_sigma_max; /* Gaussian sigma in source pixels (<= 1.5) */

    /* random erasing */
    float p_erase;
    float erase_area_min, erase_area_max;   /* share of the output area */
    float erase_ratio_min, erase_ratio_max; /* height / width, log-uniform */

    /* normalisation of v in 0..1 */
    float mean[3], std[3];
} fw_augment_opts;

/* Training defaults (see the table in doc/ARCHITECTURE.md):
 * p_affine 0.9, rotate +-10 deg, scale 0.9..1.1, aspect 1.1, shear +-5 deg,
 * translate +-0.05, p_flip 0.5, flip_identity 0, border replicate;
 * p_color 0.8 (brightness 0.2, contrast 0.2, saturation 0.2), p_gamma 0.3
 * (gamma 1.25), p_gray 0.2, p_blur 0.1 (sigma 0.3..1.2), p_erase 0.25
 * (area 0.02..0.15, ratio 0.3..3.3); ImageNet mean/std (0.485 0.456 0.406 /
 * 0.229 0.224 0.225; for one channel 0.449 / 0.226, set by the drawer). */
void fw_augment_opts_default(fw_augment_opts *o);

/* Evaluation: no random operation, only resize and normalisation. */
void fw_augment_opts_none(fw_augment_opts *o);

/* FW_EINVAL naming the first option out of range. */
int fw_augment_opts_check(const fw_augment_opts *o, fw_error *err);

/* The random stream of one sample: `sample` is its position in the epoch. */
void fw_augment_rng(fw_rng *r, uint64_t seed, long epoch, long sample);

/* Explicit geometry, for building parameters by hand (tests, inspection). */
typedef struct fw_aug_geometry {
    float rotate_deg;          /* clockwise on screen; multiples of 90 are exact */
    float scale;               /* 1 = plain resize */
    float aspect;              /* 1 = none; x scaled by sqrt(a), y by 1/sqrt(a) */
    float shear_x_deg, shear_y_deg;
    float translate_x, translate_y; /* fractions of the output width / height */
    int flip;                  /* mirror the source horizontally */
} fw_aug_geometry;

#define FW_AUG_GEOMETRY_IDENTITY {0.0f, 1.0f, 1.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0}

/* Neutral parameters for an sw x sh source and an ow x oh output with
 * `channels` channels: plain (bilinear) resize, no blur, no photometric
 * change, no erase, normalisation by mean/std (NULL: the identity 0 / 1). */
void fw_aug_params_neutral(fw_aug_params *p, int sw, int sh, int ow, int oh, int channels,
                           const float *mean, const float *std);

/* Set the inverse affine of p from an explicit geometry. */
void fw_aug_set_geometry(fw_aug_params *p, const fw_aug_geometry *g, int sw, int sh, int ow,
                         int oh);

/* Gaussian blur of sigma source pixels: the separable 5x5 discrete Gaussian
 * (radius 2, normalised) folded into 3x3 bilinear taps (at 0 and
 * +-(1 + g2/(g1+g2)) per axis), exact at integer sample points. sigma <= 0:
 * none. Meant for sigma <= 1.5 (the kernel is cut at radius 2). */
void fw_aug_set_blur(fw_aug_params *p, float sigma);

/* Brightness factor b, contrast factor c about the mean luma m (0..1) of the
 * source: v -> c (b v - b m) + b m, then gamma. */
void fw_aug_set_photometric(fw_aug_params *p, float brightness, float contrast, float mean_luma,
                            float gamma);

/* Draw one sample's parameters. mean_luma: the source image's mean luma in
 * 0..1 (fw_image_mean_luma), the pivot of the contrast change. *flipped is set
 * to 1 when the sample was mirrored. */
void fw_aug_params_draw(const fw_augment_opts *o, fw_rng *r, int sw, int sh, int channels,
                        float mean_luma, fw_aug_params *p, int *flipped);

/* FW_EINVAL unless every number in p is finite, n_taps is 1 or
 * FW_AUG_BLUR_TAPS and gamma > 0 (the CPU path assumes finite math). */
int fw_aug_params_check(const fw_aug_params *p, fw_error *err);

/* Training label of a sample: label + n_whales when it was flipped and
 * flip_identity is on; new_whale (negative) labels stay as they are. */
int fw_augment_label(const fw_augment_opts *o, int label, int flipped, int n_whales);

/* Mean luma (0..1) of an (h, w, c) uint8 image over every `step`-th row and column. */
float fw_image_mean_luma(const uint8_t *pixels, int w, int h, int c, int step);

#endif
