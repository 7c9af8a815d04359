/* synth_identity.c — draws a whale's outline and pigmentation tables from
 * (seed, identity index); see synth_identity.h for the canonical frame. */
#include "synth_identity.h"

#include <math.h>
#include <string.h>

#include "../src/rng.h"

#define SALT_IDENTITY 0x6964656e74697479ull /* "identity" */
#define PI_F 3.14159265358979f

/* Coarse field (COARSE_H, COARSE_W) samples the same domain as the fine grid;
 * smooth structure is built there and upsampled, marks are drawn on the fine grid. */
#define COARSE_W 65
#define COARSE_H 33
#define LATTICE_MAX (33 * 17)
#define HIST_BINS 512
#define HIST_LO (-5.0f)
#define HIST_HI 5.0f

static float clampf(float x, float lo, float hi) { return x < lo ? lo : (x > hi ? hi : x); }
static float smooth01(float t) { return t * t * (3.0f - 2.0f * t); }
static float grid_u(int j) { return -1.0f + 2.0f * (float)j / (FW_SYNTH_GRID_W - 1); }
static float grid_v(int i)
{
    return FW_SYNTH_GRID_V0 + (FW_SYNTH_GRID_V1 - FW_SYNTH_GRID_V0) * (float)i / (FW_SYNTH_GRID_H - 1);
}

void fw_synth_identity_edges(const fw_synth_identity *id, float u, float *top, float *bottom)
{
    float f = clampf((u + 1.0f) * 0.5f * (FW_SYNTH_EDGE_N - 1), 0.0f, FW_SYNTH_EDGE_N - 1.001f);
    int i = (int)f;
    float t = f - (float)i;
    *top = id->top[i] + t * (id->top[i + 1] - id->top[i]);
    *bottom = id->bottom[i] + t * (id->bottom[i + 1] - id->bottom[i]);
}

float fw_synth_identity_field(const fw_synth_identity *id, float u, float v)
{
    float gx = clampf((u + 1.0f) * 0.5f * (FW_SYNTH_GRID_W - 1), 0.0f, FW_SYNTH_GRID_W - 1.001f);
    float gy = clampf((v - FW_SYNTH_GRID_V0) * ((FW_SYNTH_GRID_H - 1) / (FW_SYNTH_GRID_V1 - FW_SYNTH_GRID_V0)),
                      0.0f, FW_SYNTH_GRID_H - 1.001f);
    int x = (int)gx, y = (int)gy;
    float tx = gx - (float)x, ty = gy - (float)y;
    const float *r0 = id->field[y], *r1 = id->field[y + 1];
    float a = r0[x] + tx * (r0[x + 1] - r0[x]);
    float b = r1[x] + tx * (r1[x + 1] - r1[x]);
    return a + ty * (b - a);
}

/* ---- outline ------------------------------------------------------------ */

typedef struct nick {
    float u, depth, width, power;
} nick;

static void make_outline(fw_rng *r, fw_synth_identity *id)
{
    /* Per side (0 = left, u < 0; 1 = right): tip lift, tip end, tip shape. */
    float lift[2], tip_end[2], tip_q[2], tip_r[2];
    lift[0] = fw_rng_range(r, 0.04f, 0.3f);
    lift[1] = lift[0] * fw_rng_range(r, 0.88f, 1.12f);
    float sweep_pow = fw_rng_range(r, 1.3f, 2.4f);
    float bulge = fw_rng_range(r, -0.04f, 0.06f);
    float chord0 = fw_rng_range(r, 0.42f, 0.65f);
    tip_end[0] = fw_rng_range(r, 0.94f, 1.0f);
    tip_end[1] = clampf(tip_end[0] * fw_rng_range(r, 0.98f, 1.02f), 0.9f, 1.0f);
    tip_q[0] = fw_rng_range(r, 1.2f, 2.5f);
    tip_q[1] = tip_q[0] * fw_rng_range(r, 0.9f, 1.1f);
    tip_r[0] = fw_rng_range(r, 0.55f, 1.0f);
    tip_r[1] = tip_r[0] * fw_rng_range(r, 0.9f, 1.1f);
    if (fw_rng_uniform(r) < 0.15f) { /* a damaged, blunt tip */
        int side = (int)fw_rng_below(r, 2);
        tip_end[side] = fw_rng_range(r, 0.78f, 0.92f);
        tip_r[side] = fw_rng_range(r, 0.2f, 0.4f);
    }
    float notch_depth = fw_rng_range(r, 0.03f, 0.12f);
    float notch_width = fw_rng_range(r, 0.03f, 0.09f);
    float notch_pow = fw_rng_range(r, 1.0f, 2.5f);

    /* Scallops: two octaves of 1-D value noise along the trailing edge. */
    float scallop_amp = fw_rng_range(r, 0.003f, 0.016f);
    float lat1[25], lat2[129];
    for (int k = 0; k < 25; k++)
        lat1[k] = fw_rng_range(r, -1.0f, 1.0f);
    for (int k = 0; k < 129; k++)
        lat2[k] = fw_rng_range(r, -1.0f, 1.0f);

    nick nicks[9];
    int n_nicks = (int)fw_rng_below(r, 9);
    for (int k = 0; k < n_nicks; k++) {
        nicks[k].u = fw_rng_range(r, -0.95f, 0.95f);
        nicks[k].depth = fw_rng_range(r, 0.01f, 0.06f);
        nicks[k].width = fw_rng_range(r, 0.008f, 0.04f);
        nicks[k].power = fw_rng_range(r, 0.7f, 2.0f); /* < 1: V-shaped, > 1: rounded */
    }

    float top_min = 1.0f;
    for (int i = 0; i < FW_SYNTH_EDGE_N; i++) {
        float u = -1.0f + 2.0f * (float)i / (FW_SYNTH_EDGE_N - 1);
        float a = fabsf(u);
        int side = u < 0.0f ? 0 : 1;
        float smooth = -lift[side] * powf(a, sweep_pow) - bulge * sinf(PI_F * a);
        float top = smooth;
        if (a < notch_width)
            top += notch_depth * powf(1.0f - a / notch_width, notch_pow);
        float f1 = (u + 1.0f) * 12.0f, f2 = (u + 1.0f) * 64.0f;
        int k1 = (int)f1 < 24 ? (int)f1 : 23, k2 = (int)f2 < 128 ? (int)f2 : 127;
        float s1 = smooth01(f1 - (float)k1), s2 = smooth01(f2 - (float)k2);
        float scallop = (lat1[k1] + s1 * (lat1[k1 + 1] - lat1[k1])) +
                        0.5f * (lat2[k2] + s2 * (lat2[k2 + 1] - lat2[k2]));
        top += scallop_amp * (0.3f + 0.7f * a) * scallop;
        for (int k = 0; k < n_nicks; k++) {
            float d = fabsf(u - nicks[k].u) / nicks[k].width;
            if (d < 1.0f)
                top += nicks[k].depth * powf(1.0f - d, nicks[k].power);
        }
        float t = a / tip_end[side];
        float chord = t < 1.0f ? chord0 * powf(1.0f - powf(t, tip_q[side]), tip_r[side]) : 0.0f;
        float bottom = smooth + chord;
        if (bottom < top)
            bottom = top;
        id->top[i] = top;
        id->bottom[i] = bottom;
        if (bottom > top && top < top_min)
            top_min = top;
    }
    id->top_min = top_min;
    id->ped_half = fw_rng_range(r, 0.1f, 0.16f);
    id->ped_flare = fw_rng_range(r, 0.1f, 0.25f);
    id->ped_flare_len = fw_rng_range(r, 0.15f, 0.35f);
    /* the flare reaches beyond the leading edge, blending stock and wings */
    id->bottom_centre = id->bottom[FW_SYNTH_EDGE_N / 2];
    float ped_v0 = id->bottom_centre - 0.4f * id->ped_flare_len;
    if (ped_v0 < notch_depth + 0.03f)
        ped_v0 = notch_depth + 0.03f;
    id->ped_v0 = ped_v0;
}

/* ---- pigmentation ------------------------------------------------------- */

/* Smooth value noise with an (ly, lx) lattice over the coarse grid, added with weight amp. */
static void add_octave(fw_rng *r, int lx, int ly, float amp, float *coarse /* (COARSE_H, COARSE_W) */)
{
    float lattice[LATTICE_MAX];
    for (int k = 0; k < lx * ly; k++)
        lattice[k] = fw_rng_range(r, -1.0f, 1.0f);
    for (int i = 0; i < COARSE_H; i++) {
        float fy = (float)i * (ly - 1) / (COARSE_H - 1);
        int y = fy < ly - 1 ? (int)fy : ly - 2;
        float ty = smooth01(fy - (float)y);
        for (int j = 0; j < COARSE_W; j++) {
            float fx = (float)j * (lx - 1) / (COARSE_W - 1);
            int x = fx < lx - 1 ? (int)fx : lx - 2;
            float tx = smooth01(fx - (float)x);
            const float *l0 = lattice + y * lx, *l1 = l0 + lx;
            float a = l0[x] + tx * (l0[x + 1] - l0[x]);
            float b = l1[x] + tx * (l1[x + 1] - l1[x]);
            coarse[i * COARSE_W + j] += amp * (a + ty * (b - a));
        }
    }
}

static void make_coarse_field(fw_rng *r, const fw_synth_identity *id,
                              float *coarse /* (COARSE_H, COARSE_W) */)
{
    static const int lat[4][2] = {{5, 3}, {9, 5}, {17, 9}, {33, 17}};
    static const float amp[4] = {1.0f, 0.75f, 0.5f, 0.3f};
    float rough = fw_rng_range(r, 0.6f, 1.3f);
    memset(coarse, 0, sizeof(float) * COARSE_H * COARSE_W);
    float w = 1.0f;
    for (int o = 0; o < 4; o++) {
        add_octave(r, lat[o][0], lat[o][1], amp[o] * w, coarse);
        w *= rough;
    }
    /* Partial bilateral symmetry, as in real flukes. */
    float sym = fw_rng_range(r, 0.2f, 0.9f);
    for (int i = 0; i < COARSE_H; i++) {
        float *row = coarse + i * COARSE_W;
        for (int j = 0; j < COARSE_W / 2; j++) {
            int m = COARSE_W - 1 - j;
            float mean = 0.5f * (row[j] + row[m]);
            row[j] = sym * mean + (1.0f - sym) * row[j];
            row[m] = sym * mean + (1.0f - sym) * row[m];
        }
    }
    /* Layout terms: white lobes, a dark or light centre, radial striations. */
    float lobe_amp = fw_rng_normal(r) * 0.8f, lobe_u = fw_rng_range(r, 0.35f, 0.65f);
    float lobe_v = fw_rng_range(r, -0.1f, 0.15f);
    float centre_amp = fw_rng_normal(r) * 0.7f;
    float stria_amp = fw_rng_uniform(r) < 0.4f ? fw_rng_range(r, 0.2f, 0.7f) : 0.0f;
    float stria_freq = fw_rng_range(r, 10.0f, 30.0f), stria_phase = fw_rng_range(r, 0.0f, 6.283f);
    int n_blotches = (int)fw_rng_below(r, 10);
    float bu[10], bv[10], brx[10], bry[10], bamp[10];
    for (int k = 0; k < n_blotches; k++) {
        bu[k] = fw_rng_range(r, -0.95f, 0.95f);
        bv[k] = fw_rng_range(r, -0.35f, 0.3f);
        brx[k] = fw_rng_range(r, 0.03f, 0.2f);
        bry[k] = brx[k] * fw_rng_range(r, 0.5f, 1.5f);
        bamp[k] = (fw_rng_uniform(r) < 0.5f ? -1.0f : 1.0f) * fw_rng_range(r, 0.8f, 2.0f);
    }
    for (int i = 0; i < COARSE_H; i++) {
        float v = FW_SYNTH_GRID_V0 + (FW_SYNTH_GRID_V1 - FW_SYNTH_GRID_V0) * (float)i / (COARSE_H - 1);
        for (int j = 0; j < COARSE_W; j++) {
            float u = -1.0f + 2.0f * (float)j / (COARSE_W - 1);
            float du = fabsf(u) - lobe_u, dv = v - lobe_v;
            float add = lobe_amp * expf(-(du * du * 12.5f + dv * dv * 35.0f));
            add += centre_amp * expf(-u * u * 35.0f);
            if (stria_amp > 0.0f)
                add += stria_amp * sinf(stria_freq * atan2f(v + 0.5f, u) + stria_phase);
            for (int k = 0; k < n_blotches; k++) {
                float x = (u - bu[k]) / brx[k], y = (v - bv[k]) / bry[k];
                float d2 = x * x + y * y;
                if (d2 < 9.0f)
                    add += bamp[k] * expf(-d2);
            }
            coarse[i * COARSE_W + j] += add;
        }
    }
    /* Normalise over the wings so thresholds mean the same for every whale. */
    double sum = 0, sum2 = 0;
    long n = 0;
    for (int i = 0; i < COARSE_H; i++) {
        float v = FW_SYNTH_GRID_V0 + (FW_SYNTH_GRID_V1 - FW_SYNTH_GRID_V0) * (float)i / (COARSE_H - 1);
        for (int j = 0; j < COARSE_W; j++) {
            float top, bottom;
            fw_synth_identity_edges(id, -1.0f + 2.0f * (float)j / (COARSE_W - 1), &top, &bottom);
            if (v > top && v < bottom) {
                float x = coarse[i * COARSE_W + j];
                sum += x;
                sum2 += (double)x * x;
                n++;
            }
        }
    }
    float mean = n ? (float)(sum / n) : 0.0f;
    float var = n ? (float)(sum2 / n) - mean * mean : 1.0f;
    float inv_sd = var > 1e-6f ? 1.0f / sqrtf(var) : 1.0f;
    for (int k = 0; k < COARSE_H * COARSE_W; k++)
        coarse[k] = (coarse[k] - mean) * inv_sd;
}

static void upsample_field(const float *coarse /* (COARSE_H, COARSE_W) */, fw_synth_identity *id)
{
    int cx[FW_SYNTH_GRID_W];
    float tx[FW_SYNTH_GRID_W];
    for (int j = 0; j < FW_SYNTH_GRID_W; j++) {
        float f = (float)j * (COARSE_W - 1) / (FW_SYNTH_GRID_W - 1);
        cx[j] = f < COARSE_W - 1 ? (int)f : COARSE_W - 2;
        tx[j] = f - (float)cx[j];
    }
    for (int i = 0; i < FW_SYNTH_GRID_H; i++) {
        float f = (float)i * (COARSE_H - 1) / (FW_SYNTH_GRID_H - 1);
        int y = f < COARSE_H - 1 ? (int)f : COARSE_H - 2;
        float ty = f - (float)y;
        const float *r0 = coarse + y * COARSE_W, *r1 = r0 + COARSE_W;
        float *out = id->field[i];
        for (int j = 0; j < FW_SYNTH_GRID_W; j++) {
            int x = cx[j];
            float a = r0[x] + tx[j] * (r0[x + 1] - r0[x]);
            float b = r1[x] + tx[j] * (r1[x + 1] - r1[x]);
            out[j] = a + ty * (b - a);
        }
    }
}

/* Whether fine cell (i, j) lies on the wings (used for statistics). */
static int on_wing(const fw_synth_identity *id, int i, int j)
{
    int e = (int)((float)j * (FW_SYNTH_EDGE_N - 1) / (FW_SYNTH_GRID_W - 1) + 0.5f);
    float v = grid_v(i);
    return v > id->top[e] && v < id->bottom[e];
}

/* Shift the field so that `white_share` of the wing cells are > 0. */
static void threshold_field(fw_synth_identity *id, float white_share)
{
    long hist[HIST_BINS] = {0};
    long n = 0;
    const float scale = HIST_BINS / (HIST_HI - HIST_LO);
    for (int i = 0; i < FW_SYNTH_GRID_H; i++)
        for (int j = 0; j < FW_SYNTH_GRID_W; j++)
            if (on_wing(id, i, j)) {
                int b = (int)((id->field[i][j] - HIST_LO) * scale);
                hist[b < 0 ? 0 : (b >= HIST_BINS ? HIST_BINS - 1 : b)]++;
                n++;
            }
    long want_black = (long)((1.0f - white_share) * (float)n);
    long acc = 0;
    int b = 0;
    while (b < HIST_BINS - 1 && acc + hist[b] <= want_black)
        acc += hist[b++];
    float thr = HIST_LO + ((float)b + (hist[b] ? (float)(want_black - acc) / (float)hist[b] : 0.0f)) / scale;
    for (int i = 0; i < FW_SYNTH_GRID_H; i++)
        for (int j = 0; j < FW_SYNTH_GRID_W; j++)
            id->field[i][j] -= thr;
}

/* ---- marks: scars drawn into the fine field ------------------------------- */

#define MARK_LEVEL 2.0f

/* Blend a soft-edged segment (half-width hw, canonical units) into the field. */
static void draw_segment(fw_synth_identity *id, float u0, float v0, float u1, float v1, float hw,
                         float level)
{
    const float cell = 2.0f / (FW_SYNTH_GRID_W - 1);
    const float vcell = (FW_SYNTH_GRID_V1 - FW_SYNTH_GRID_V0) / (FW_SYNTH_GRID_H - 1);
    float reach = hw + cell;
    int j0 = (int)floorf(((u0 < u1 ? u0 : u1) - reach + 1.0f) / cell);
    int j1 = (int)ceilf(((u0 > u1 ? u0 : u1) + reach + 1.0f) / cell);
    int i0 = (int)floorf(((v0 < v1 ? v0 : v1) - reach - FW_SYNTH_GRID_V0) / vcell);
    int i1 = (int)ceilf(((v0 > v1 ? v0 : v1) + reach - FW_SYNTH_GRID_V0) / vcell);
    if (j0 < 0) j0 = 0;
    if (i0 < 0) i0 = 0;
    if (j1 > FW_SYNTH_GRID_W - 1) j1 = FW_SYNTH_GRID_W - 1;
    if (i1 > FW_SYNTH_GRID_H - 1) i1 = FW_SYNTH_GRID_H - 1;
    float du = u1 - u0, dv = v1 - v0, len2 = du * du + dv * dv;
    for (int i = i0; i <= i1; i++) {
        float v = grid_v(i);
        for (int j = j0; j <= j1; j++) {
            float u = grid_u(j);
            float t = len2 > 0.0f ? ((u - u0) * du + (v - v0) * dv) / len2 : 0.0f;
            t = clampf(t, 0.0f, 1.0f);
            float eu = u - (u0 + t * du), ev = v - (v0 + t * dv);
            float d = sqrtf(eu * eu + ev * ev);
            float a = clampf((hw - d) / cell + 0.5f, 0.0f, 1.0f);
            if (a > 0.0f)
                id->field[i][j] += a * (level - id->field[i][j]);
        }
    }
}

/* A ring (or filled disc when hw >= radius) of the given radius. */
static void draw_spot(fw_synth_identity *id, float cu, float cv, float radius, float hw, float level)
{
    const float cell = 2.0f / (FW_SYNTH_GRID_W - 1);
    const float vcell = (FW_SYNTH_GRID_V1 - FW_SYNTH_GRID_V0) / (FW_SYNTH_GRID_H - 1);
    float reach = radius + hw + cell;
    int j0 = (int)floorf((cu - reach + 1.0f) / cell), j1 = (int)ceilf((cu + reach + 1.0f) / cell);
    int i0 = (int)floorf((cv - reach - FW_SYNTH_GRID_V0) / vcell);
    int i1 = (int)ceilf((cv + reach - FW_SYNTH_GRID_V0) / vcell);
    if (j0 < 0) j0 = 0;
    if (i0 < 0) i0 = 0;
    if (j1 > FW_SYNTH_GRID_W - 1) j1 = FW_SYNTH_GRID_W - 1;
    if (i1 > FW_SYNTH_GRID_H - 1) i1 = FW_SYNTH_GRID_H - 1;
    int filled = hw >= radius;
    for (int i = i0; i <= i1; i++) {
        float ev = grid_v(i) - cv;
        for (int j = j0; j <= j1; j++) {
            float eu = grid_u(j) - cu;
            float dist = sqrtf(eu * eu + ev * ev);
            /* filled: inside the disc; ring: within hw of the circle */
            float a = filled ? clampf((radius - dist) / cell + 0.5f, 0.0f, 1.0f)
                             : clampf((hw - fabsf(dist - radius)) / cell + 0.5f, 0.0f, 1.0f);
            if (a > 0.0f)
                id->field[i][j] += a * (level - id->field[i][j]);
        }
    }
}

static float mark_level(fw_rng *r)
{
    return fw_rng_uniform(r) < 0.75f ? MARK_LEVEL : -MARK_LEVEL; /* healed scars are mostly white */
}

static void draw_marks(fw_rng *r, fw_synth_identity *id)
{
    /* Rake marks (orca teeth): 2-4 parallel, slightly bent lines. */
    int n_rakes = (int)fw_rng_below(r, 4);
    for (int k = 0; k < n_rakes; k++) {
        float cu = fw_rng_range(r, -0.85f, 0.85f), cv = fw_rng_range(r, -0.3f, 0.25f);
        float ang = fw_rng_range(r, 0.0f, PI_F), len = fw_rng_range(r, 0.08f, 0.3f);
        float bend = fw_rng_range(r, -0.15f, 0.15f) * len;
        int lines = 2 + (int)fw_rng_below(r, 3);
        float gap = fw_rng_range(r, 0.015f, 0.035f), hw = fw_rng_range(r, 0.003f, 0.007f);
        float level = mark_level(r);
        float du = cosf(ang), dv = sinf(ang), nu = -dv, nv = du;
        for (int l = 0; l < lines; l++) {
            float off = ((float)l - 0.5f * (float)(lines - 1)) * gap;
            float pu[3], pv[3];
            for (int s = 0; s < 3; s++) {
                float t = ((float)s - 1.0f) * 0.5f * len;
                float b = s == 1 ? bend : 0.0f;
                pu[s] = cu + du * t + nu * (off + b);
                pv[s] = cv + dv * t + nv * (off + b);
            }
            draw_segment(id, pu[0], pv[0], pu[1], pv[1], hw, level);
            draw_segment(id, pu[1], pv[1], pu[2], pv[2], hw, level);
        }
    }
    /* Single scratches. */
    int n_lines = (int)fw_rng_below(r, 4);
    for (int k = 0; k < n_lines; k++) {
        float cu = fw_rng_range(r, -0.85f, 0.85f), cv = fw_rng_range(r, -0.3f, 0.25f);
        float ang = fw_rng_range(r, 0.0f, PI_F), len = fw_rng_range(r, 0.1f, 0.5f);
        float hw = fw_rng_range(r, 0.002f, 0.006f);
        float du = cosf(ang) * 0.5f * len, dv = sinf(ang) * 0.5f * len;
        draw_segment(id, cu - du, cv - dv, cu + du, cv + dv, hw, mark_level(r));
    }
    /* Spots: barnacle rings and round marks, in clusters. */
    int n_clusters = (int)fw_rng_below(r, 3);
    for (int k = 0; k < n_clusters; k++) {
        float cu = fw_rng_range(r, -0.8f, 0.8f), cv = fw_rng_range(r, -0.25f, 0.2f);
        float spread = fw_rng_range(r, 0.03f, 0.15f);
        int spots = 1 + (int)fw_rng_below(r, 12);
        float level = mark_level(r);
        int rings = fw_rng_uniform(r) < 0.5f;
        for (int s = 0; s < spots; s++) {
            float su = cu + spread * fw_rng_range(r, -1.0f, 1.0f);
            float sv = cv + spread * fw_rng_range(r, -0.6f, 0.6f);
            float radius = fw_rng_range(r, 0.006f, 0.02f);
            draw_spot(id, su, sv, radius, rings ? 0.003f : radius, level);
        }
    }
}

void fw_synth_identity_make(uint64_t seed, uint64_t index, fw_synth_identity *id)
{
    fw_rng r;
    fw_rng_init(&r, seed ^ SALT_IDENTITY, index);
    id->seed = seed;
    id->index = index;
    make_outline(&r, id);

    /* White/black balance varies a lot between real humpbacks: an arcsine-like
     * spread puts many whales near mostly-white or mostly-black. */
    float x = fw_rng_uniform(&r);
    float white_share = fw_rng_uniform(&r) < 0.5f ? 0.03f + 0.94f * (0.5f - 0.5f * cosf(PI_F * x))
                                                  : 0.05f + 0.9f * x;
    id->white_level = fw_rng_range(&r, 0.78f, 0.97f);
    id->black_level = fw_rng_range(&r, 0.025f, 0.12f);
    id->tint[0] = 1.0f;
    id->tint[1] = fw_rng_range(&r, 0.95f, 1.0f);
    id->tint[2] = fw_rng_range(&r, 0.9f, 1.0f);
    id->margin = fw_rng_uniform(&r) < 0.7f ? fw_rng_range(&r, 0.01f, 0.05f) : 0.0f;

    float coarse[COARSE_H * COARSE_W]; /* (COARSE_H, COARSE_W) */
    make_coarse_field(&r, id, coarse);
    upsample_field(coarse, id);
    threshold_field(id, white_share);
    draw_marks(&r, id);

    long white = 0, n = 0;
    for (int i = 0; i < FW_SYNTH_GRID_H; i++)
        for (int j = 0; j < FW_SYNTH_GRID_W; j++)
            if (on_wing(id, i, j)) {
                white += id->field[i][j] > 0.0f;
                n++;
            }
    id->white_share = n ? (float)white / (float)n : 0.0f;
}
