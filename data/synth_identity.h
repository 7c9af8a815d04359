/* synth_identity.h — a synthetic humpback's persistent identity.
 *
 * Everything that makes one whale recognisable across its photos is drawn
 * from the RNG stream (seed, identity index) and stored as tables in the
 * fluke's canonical frame, so that rendering a pixel is a few lookups:
 *
 *   u in [-1, 1]  tip to tip (0 = the central notch);
 *   v             downwards (the trailing edge is near v = 0 at the notch,
 *                 the tips rise to v ~ -0.3, the leading edge lies below,
 *                 the tail stock goes on down to the water).
 *
 * The outline (span, sweep, tip shape, central notch, trailing-edge nicks and
 * scallops) is sampled at FW_SYNTH_EDGE_N points of u; the black/white
 * pigmentation (thresholded smooth random field with blotches, partial
 * mirror symmetry, a whale-specific white/black balance, plus scars: rake
 * marks, scratches, spots) is a FW_SYNTH_GRID_H x FW_SYNTH_GRID_W field whose
 * sign says white (> 0) or black (< 0).
 */
#ifndef FW_SYNTH_IDENTITY_H
#define FW_SYNTH_IDENTITY_H

#include <stdint.h>

#define FW_SYNTH_EDGE_N 1024 /* outline samples over u in [-1, 1] */
#define FW_SYNTH_GRID_W 256  /* pigmentation field columns over u in [-1, 1] */
#define FW_SYNTH_GRID_H 128  /* rows over v in [FW_SYNTH_GRID_V0, FW_SYNTH_GRID_V1] */
#define FW_SYNTH_GRID_V0 (-0.55f)
#define FW_SYNTH_GRID_V1 (0.60f)

typedef struct fw_synth_identity {
    uint64_t seed, index;             /* where it came from */
    float top[FW_SYNTH_EDGE_N];       /* (EDGE_N) trailing edge v at u_i = -1 + 2i/(EDGE_N-1) */
    float bottom[FW_SYNTH_EDGE_N];    /* (EDGE_N) leading edge v; == top where there is no fluke */
    float top_min;                    /* smallest top[] (the highest point of the fluke) */
    float bottom_centre;              /* leading edge at u = 0 (where the tail stock starts) */
    float ped_v0;                     /* the tail stock starts at this v ... */
    float ped_half;                   /* ... with this half-width in u ... */
    float ped_flare, ped_flare_len;   /* ... widening by ped_flare towards the wings */
    float margin;                     /* width (in v) of the dark band along the trailing edge */
    float white_level, black_level;   /* albedo of white and black skin */
    float tint[3];                    /* skin colour (RGB multipliers) */
    float white_share;                /* share of the wings that is white (for tests, stats) */
    float field[FW_SYNTH_GRID_H][FW_SYNTH_GRID_W]; /* (GRID_H, GRID_W) > 0 white, < 0 black */
} fw_synth_identity;

/* Build identity `index` of generator `seed` (deterministic; ~0.2 ms). */
void fw_synth_identity_make(uint64_t seed, uint64_t index, fw_synth_identity *id);

/* Trailing and leading edge at u (linear interpolation of the tables; u is clamped). */
void fw_synth_identity_edges(const fw_synth_identity *id, float u, float *top, float *bottom);

/* Pigmentation field at (u, v) (bilinear, clamped to the grid): > 0 white. */
float fw_synth_identity_field(const fw_synth_identity *id, float u, float v);

#endif
