/* synth_render.h — procedural rendering of one fluke photograph.
 *
 * A photo is an identity (synth_identity.h) seen under per-photo nuisance
 * parameters drawn from the RNG stream (seed, image index): viewpoint (a
 * projective map of the fluke plane: rotation, tilt, scale, placement that
 * may crop the tips), sea and sky with waves, the tail stock entering the
 * water with foam, water streaming off the fluke, lighting (exposure,
 * contrast, gamma, a gradient, shading, tint), sensor noise, blur, colour or
 * grayscale, JPEG quality and the image size.
 *
 * Rendering walks the output pixels once, maps each back into the fluke's
 * canonical frame through the inverse homography (incrementally: a division
 * per pixel), and composes background, fluke (with analytic box-filter edge
 * coverage), foam and streaks from precomputed tables.
 */
#ifndef FW_SYNTH_RENDER_H
#define FW_SYNTH_RENDER_H

#include <stdint.h>

#include "image.h"
#include "synth_identity.h"

#define FW_SYNTH_TILE 256
#define FW_SYNTH_GRAIN 4096
#define FW_SYNTH_MAX_STREAKS 12

/* Limits of the photo sizes drawn when no fixed size is asked for. */
#define FW_SYNTH_MIN_W 320
#define FW_SYNTH_MAX_W 1000
#define FW_SYNTH_MIN_H 100

/* A periodic smooth noise tile shared by all photos of a dataset (waves, foam,
 * streak texture) and a white-noise strip (grain), built once from the seed. */
typedef struct fw_synth_sea {
    uint8_t tile[FW_SYNTH_TILE][FW_SYNTH_TILE]; /* (TILE, TILE) 0..255 */
    int8_t grain[FW_SYNTH_GRAIN];               /* (GRAIN) white noise for sensor grain */
} fw_synth_sea;

typedef struct fw_synth_streak {
    float u;          /* where on the fluke the water leaves (canonical u) */
    int from_top;     /* 1: from the trailing edge, 0: from the leading edge */
    float width;      /* pixels */
    float alpha;      /* opacity */
    float overshoot;  /* how far below the waterline it reaches (share of height) */
} fw_synth_streak;

typedef struct fw_synth_photo {
    int width, height;
    int channels;         /* 1 (grayscale, about a third) or 3 */
    int quality;          /* JPEG quality 70..95 */
    double hom[9];        /* canonical (u, v, 1) -> image (x, y, w), row-major; pixel
                             centres are at x + 0.5, y + 0.5 */
    double inv[9];        /* its inverse */
    float pix;            /* canonical units per pixel near the fluke */
    float stock;          /* visible tail stock below the leading edge: the water
                             line is at v = identity bottom_centre + stock */
    /* lighting */
    float exposure, contrast, brightness, gamma;
    float grad_x, grad_y; /* relative gain change across the image */
    float noise;          /* sensor noise amplitude (0..1 scale) */
    float shade0, shade_u, shade_v; /* fluke shading a + b u + c v */
    float light[3];       /* light colour */
    float pattern_sharpness;
    /* background */
    float horizon_y, horizon_slope; /* sky above y = horizon_y + slope * x */
    float sky_top[3], sky_bottom[3];
    float sea_far[3], sea_near[3];
    float wave_amp, wave_scale, wave_aniso, wave_ox, wave_oy, cap_threshold;
    /* water on and around the fluke */
    int n_streaks;
    fw_synth_streak streak[FW_SYNTH_MAX_STREAKS];
    float foam, foam_half, foam_height, foam_ox, foam_oy;
    int blur;             /* box blur radius 0..2 */
    uint32_t noise_seed;
} fw_synth_photo;

/* Per-worker scratch: grown on demand, reused across photos. */
typedef struct fw_synth_scratch {
    uint8_t *rgb;    /* (H, W, 3) */
    uint8_t *out;    /* (H, W, C) final pixels */
    uint8_t *tmp;    /* (H, W, C) blur temporary */
    float *cols;     /* (3, W) streak alpha, start, end per column */
    int *blur_cols;  /* (W * 3) running column sums of the blur */
    size_t cap_pixels, cap_cols;
} fw_synth_scratch;

/* Build the dataset's noise tile from the seed. */
int fw_synth_sea_make(uint64_t seed, fw_synth_sea *sea, fw_error *err);

/* Draw photo `image_index`'s parameters. fixed_w/fixed_h > 0 fix the size,
 * else it is drawn (mostly wide, FW_SYNTH_MIN_W..FW_SYNTH_MAX_W wide). */
void fw_synth_photo_draw(uint64_t seed, uint64_t image_index, int fixed_w, int fixed_h,
                         fw_synth_photo *photo);

/* Map a canonical point to image pixel coordinates (pixel centres at +0.5).
 * Returns 0 when the point is behind the camera. */
int fw_synth_photo_project(const fw_synth_photo *photo, float u, float v, float *x, float *y);

/* Render into scratch; on success *out views the scratch's pixels (valid until
 * the next render with this scratch; out->pixels must not be freed). */
int fw_synth_render(const fw_synth_identity *id, const fw_synth_photo *photo,
                    const fw_synth_sea *sea, fw_synth_scratch *scratch, fw_image *out,
                    fw_error *err);

void fw_synth_scratch_free(fw_synth_scratch *scratch);

/* Canonical v of the water line for this identity and photo. */
static inline float fw_synth_waterline(const fw_synth_identity *id, const fw_synth_photo *photo)
{
    return id->bottom_centre + photo->stock;
}

#endif
