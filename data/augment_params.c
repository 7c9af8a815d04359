/* augment_params.c — augmentation options, their defaults and checks, and
 * the per-sample parameters (inverse affine, blur taps, photometric
 * constants, erase rectangle) drawn from a random stream. */
#include "augment_params.h"

#include <math.h>
#include <string.h>

static const double PI = 3.14159265358979323846;

void fw_augment_opts_none(fw_augment_opts *o)
{
    memset(o, 0, sizeof *o);
    o->scale_min = o->scale_max = 1.0f;
    o->aspect = 1.0f;
    o->border = FW_BORDER_REPLICATE;
    o->brightness = o->contrast = o->saturation = 0.0f;
    o->gamma = 1.0f;
    o->blur_sigma_min = o->blur_sigma_max = 0.0f;
    o->erase_area_min = o->erase_area_max = 0.0f;
    o->erase_ratio_min = o->erase_ratio_max = 1.0f;
    o->mean[0] = 0.485f, o->mean[1] = 0.456f, o->mean[2] = 0.406f;
    o->std[0] = 0.229f, o->std[1] = 0.224f, o->std[2] = 0.225f;
}

void fw_augment_opts_default(fw_augment_opts *o)
{
    fw_augment_opts_none(o);
    o->p_affine = 0.9f;
    o->rotate_deg = 10.0f;
    o->scale_min = 0.9f, o->scale_max = 1.1f;
    o->aspect = 1.1f;
    o->shear_deg = 5.0f;
    o->translate = 0.05f;
    o->p_flip = 0.5f;
    o->flip_identity = 0;
    o->p_color = 0.8f;
    o->brightness = 0.2f, o->contrast = 0.2f, o->saturation = 0.2f;
    o->p_gamma = 0.3f, o->gamma = 1.25f;
    o->p_gray = 0.2f;
    o->p_blur = 0.1f, o->blur_sigma_min = 0.3f, o->blur_sigma_max = 1.2f;
    o->p_erase = 0.25f;
    o->erase_area_min = 0.02f, o->erase_area_max = 0.15f;
    o->erase_ratio_min = 0.3f, o->erase_ratio_max = 3.3f;
}

static int prob_ok(float p)
{
    return p >= 0.0f && p <= 1.0f;
}

int fw_augment_opts_check(const fw_augment_opts *o, fw_error *err)
{
    const struct {
        const char *name;
        float p;
    } probs[] = {{"p_affine", o->p_affine}, {"p_flip", o->p_flip},   {"p_color", o->p_color},
                 {"p_gamma", o->p_gamma},   {"p_gray", o->p_gray},   {"p_blur", o->p_blur},
                 {"p_erase", o->p_erase},   {"fill", o->fill}};
    for (size_t i = 0; i < sizeof probs / sizeof probs[0]; i++)
        if (!prob_ok(probs[i].p))
            return fw_fail(err, FW_EINVAL, "augment: %s = %g is outside 0..1", probs[i].name,
                           probs[i].p);
    if (o->out_width < 0 || o->out_height < 0 || o->out_width > 16384 || o->out_height > 16384)
        return fw_fail(err, FW_EINVAL, "augment: output size %dx%d is out of range",
                       o->out_width, o->out_height);
    if (!(o->rotate_deg >= 0.0f && o->rotate_deg <= 180.0f))
        return fw_fail(err, FW_EINVAL, "augment: rotate = %g is outside 0..180", o->rotate_deg);
    if (!(o->scale_min > 0.0f && o->scale_min <= o->scale_max && o->scale_max <= 10.0f))
        return fw_fail(err, FW_EINVAL, "augment: scale %g..%g is not within (0, 10]",
                       o->scale_min, o->scale_max);
    if (!(o->aspect >= 1.0f && o->aspect <= 10.0f))
        return fw_fail(err, FW_EINVAL, "augment: aspect = %g is outside 1..10", o->aspect);
    if (!(o->shear_deg >= 0.0f && o->shear_deg < 60.0f))
        return fw_fail(err, FW_EINVAL, "augment: shear = %g is outside 0..60", o->shear_deg);
    if (!(o->translate >= 0.0f && o->translate <= 1.0f))
        return fw_fail(err, FW_EINVAL, "augment: translate = %g is outside 0..1", o->translate);
    if (o->flip_identity != 0 && o->flip_identity != 1)
        return fw_fail(err, FW_EINVAL, "augment: flip_identity = %d (0 or 1)", o->flip_identity);
    if (o->border != FW_BORDER_CONSTANT && o->border != FW_BORDER_REPLICATE &&
        o->border != FW_BORDER_REFLECT)
        return fw_fail(err, FW_EINVAL, "augment: unknown border rule %d", o->border);
    if (!(o->brightness >= 0.0f && o->brightness <= 1.0f) ||
        !(o->contrast >= 0.0f && o->contrast <= 1.0f) ||
        !(o->saturation >= 0.0f && o->saturation <= 1.0f))
        return fw_fail(err, FW_EINVAL,
                       "augment: brightness/contrast/saturation %g/%g/%g must be within 0..1",
                       o->brightness, o->contrast, o->saturation);
    if (!(o->gamma >= 1.0f && o->gamma <= 5.0f))
        return fw_fail(err, FW_EINVAL, "augment: gamma = %g is outside 1..5", o->gamma);
    if (!(o->blur_sigma_min >= 0.0f && o->blur_sigma_min <= o->blur_sigma_max &&
          o->blur_sigma_max <= 1.5f))
        return fw_fail(err, FW_EINVAL, "augment: blur sigma %g..%g is not within 0..1.5",
                       o->blur_sigma_min, o->blur_sigma_max);
    if (!(o->erase_area_min >= 0.0f && o->erase_area_min <= o->erase_area_max &&
          o->erase_area_max <= 1.0f))
        return fw_fail(err, FW_EINVAL, "augment: erase area %g..%g is not within 0..1",
                       o->erase_area_min, o->erase_area_max);
    if (!(o->erase_ratio_min > 0.0f && o->erase_ratio_min <= o->erase_ratio_max &&
          o->erase_ratio_max <= 100.0f))
        return fw_fail(err, FW_EINVAL, "augment: erase ratio %g..%g is not within (0, 100]",
                       o->erase_ratio_min, o->erase_ratio_max);
    for (int c = 0; c < 3; c++)
        if (!(o->std[c] > 0.0f) || !isfinite(o->mean[c]))
            return fw_fail(err, FW_EINVAL, "augment: channel %d mean/std %g/%g", c, o->mean[c],
                           o->std[c]);
    return FW_OK;
}

void fw_augment_rng(fw_rng *r, uint64_t seed, long epoch, long sample)
{
    uint64_t x = seed ^ 0xA5A5F00DCAFEull ^ ((uint64_t)epoch * 0xD1B54A32D192ED03ull);
    fw_rng_init(r, fw_splitmix64(&x), (uint64_t)sample);
}

void fw_aug_params_neutral(fw_aug_params *p, int sw, int sh, int ow, int oh, int channels,
                           const float *mean, const float *std)
{
    memset(p, 0, sizeof *p);
    p->border = FW_BORDER_REPLICATE;
    p->n_taps = 1;
    p->tap_w[0] = 1.0f;
    p->gain = 1.0f;
    p->bias = 0.0f;
    p->gamma = 1.0f;
    p->gray = 0.0f;
    for (int c = 0; c < FW_AUG_MAX_CHANNELS; c++) {
        int cc = c < channels ? c : 0;
        p->mean[c] = mean ? mean[cc] : 0.0f;
        p->inv_std[c] = std ? 1.0f / std[cc] : 1.0f;
    }
    fw_aug_geometry g = FW_AUG_GEOMETRY_IDENTITY;
    fw_aug_set_geometry(p, &g, sw, sh, ow, oh);
}

/* cos and sin of an angle in degrees, exact at multiples of 90. */
static void cos_sin_deg(double deg, double *c, double *s)
{
    double q = deg / 90.0;
    if (q == floor(q) && fabs(q) < 1e9) {
        long k = ((long)q % 4 + 4) % 4;
        static const double cs[4][2] = {{1, 0}, {0, 1}, {-1, 0}, {0, -1}};
        *c = cs[k][0];
        *s = cs[k][1];
        return;
    }
    *c = cos(deg * PI / 180.0);
    *s = sin(deg * PI / 180.0);
}

/* Forward map, in centred continuous coordinates (source centre -> output
 * centre): A = Rot * Shear * Scale(aspect) * Flip * Resize; the inverse of A
 * sends an output pixel centre back to the source. */
void fw_aug_set_geometry(fw_aug_params *p, const fw_aug_geometry *g, int sw, int sh, int ow,
                         int oh)
{
    double rx = (double)ow / sw, ry = (double)oh / sh;
    double sa = sqrt((double)g->aspect);
    double kx = g->scale * sa * (g->flip ? -1.0 : 1.0) * rx; /* Scale * Flip * Resize: diagonal */
    double ky = g->scale / sa * ry;
    double tx = tan(g->shear_x_deg * PI / 180.0), ty = tan(g->shear_y_deg * PI / 180.0);
    if (g->shear_x_deg == 0.0f)
        tx = 0.0;
    if (g->shear_y_deg == 0.0f)
        ty = 0.0;
    double c, s;
    cos_sin_deg(g->rotate_deg, &c, &s);
    /* Shear * D = [[kx, tx ky], [ty kx, ky]] */
    double h00 = kx, h01 = tx * ky, h10 = ty * kx, h11 = ky;
    /* Rot (clockwise on screen with y down) = [[c, -s], [s, c]] */
    double a00 = c * h00 - s * h10, a01 = c * h01 - s * h11;
    double a10 = s * h00 + c * h10, a11 = s * h01 + c * h11;
    double det = a00 * a11 - a01 * a10;
    if (!(fabs(det) > 1e-12))
        det = 1e-12; /* degenerate (shear near 90 deg): options check prevents it */
    double i00 = a11 / det, i01 = -a01 / det, i10 = -a10 / det, i11 = a00 / det;
    /* output pixel (x, y): centred U = (x + 0.5 - ow/2 - dx, y + 0.5 - oh/2 - dy);
     * source index = A^-1 U + (sw/2 - 0.5, sh/2 - 0.5) */
    double ux = 0.5 - ow / 2.0 - (double)g->translate_x * ow;
    double uy = 0.5 - oh / 2.0 - (double)g->translate_y * oh;
    p->m[0] = (float)i00;
    p->m[1] = (float)i01;
    p->m[2] = (float)(i00 * ux + i01 * uy + (sw / 2.0 - 0.5));
    p->m[3] = (float)i10;
    p->m[4] = (float)i11;
    p->m[5] = (float)(i10 * ux + i11 * uy + (sh / 2.0 - 0.5));
}

void fw_aug_set_blur(fw_aug_params *p, float sigma)
{
    if (!(sigma > 0.0f)) {
        p->n_taps = 1;
        p->tap_dx[0] = p->tap_dy[0] = 0.0f;
        p->tap_w[0] = 1.0f;
        return;
    }
    /* Discrete Gaussian g(k) ~ exp(-k^2 / 2 sigma^2), k = -2..2, per axis;
     * the pair (g1, g2) is one bilinear tap at 1 + g2 / (g1 + g2) with weight
     * g1 + g2, which reproduces the pair exactly at integer sample points. */
    double s2 = 2.0 * (double)sigma * sigma;
    double g0 = 1.0, g1 = exp(-1.0 / s2), g2 = exp(-4.0 / s2);
    double norm = g0 + 2.0 * (g1 + g2);
    double side = g1 + g2;
    float node[3], weight[3];
    node[1] = 0.0f;
    node[2] = side > 0.0 ? (float)(1.0 + g2 / side) : 1.0f;
    node[0] = -node[2];
    weight[1] = (float)(g0 / norm);
    weight[0] = weight[2] = (float)(side / norm);
    int t = 0;
    for (int j = 0; j < 3; j++)
        for (int i = 0; i < 3; i++, t++) {
            p->tap_dx[t] = node[i];
            p->tap_dy[t] = node[j];
            p->tap_w[t] = weight[i] * weight[j];
        }
    p->n_taps = FW_AUG_BLUR_TAPS;
}

void fw_aug_set_photometric(fw_aug_params *p, float brightness, float contrast, float mean_luma,
                            float gamma)
{
    /* c (b v - m') + m' with m' = b m: the contrast pivot is the mean of the
     * brightened image, as in torchvision's ColorJitter (brightness first). */
    float pivot = brightness * mean_luma;
    p->gain = brightness * contrast;
    p->bias = pivot * (1.0f - contrast);
    p->gamma = gamma;
}

/* log-uniform in [1/a, a] */
static float log_uniform(fw_rng *r, float a)
{
    float u = fw_rng_range(r, -1.0f, 1.0f);
    return a > 1.0f ? expf(u * logf(a)) : 1.0f;
}

void fw_aug_params_draw(const fw_augment_opts *o, fw_rng *r, int sw, int sh, int channels,
                        float mean_luma, fw_aug_params *p, int *flipped)
{
    int ow = o->out_width > 0 ? o->out_width : sw;
    int oh = o->out_height > 0 ? o->out_height : sh;
    float mean[3], std[3];
    for (int c = 0; c < 3; c++)
        mean[c] = o->mean[c], std[c] = o->std[c];
    if (channels == 1) {
        mean[0] = (o->mean[0] + o->mean[1] + o->mean[2]) / 3.0f;
        std[0] = (o->std[0] + o->std[1] + o->std[2]) / 3.0f;
    }
    fw_aug_params_neutral(p, sw, sh, ow, oh, channels, mean, std);
    p->border = o->border;
    p->fill = o->fill * 255.0f;

    /* geometry: 1 + 1 + 7 draws */
    fw_aug_geometry g = FW_AUG_GEOMETRY_IDENTITY;
    g.flip = fw_rng_uniform(r) < o->p_flip;
    int affine = fw_rng_uniform(r) < o->p_affine;
    float rot = fw_rng_range(r, -o->rotate_deg, o->rotate_deg);
    float scale = fw_rng_range(r, o->scale_min, o->scale_max);
    float aspect = log_uniform(r, o->aspect);
    float shx = fw_rng_range(r, -o->shear_deg, o->shear_deg);
    float shy = fw_rng_range(r, -o->shear_deg, o->shear_deg);
    float tx = fw_rng_range(r, -o->translate, o->translate);
    float ty = fw_rng_range(r, -o->translate, o->translate);
    if (affine) {
        g.rotate_deg = rot, g.scale = scale, g.aspect = aspect;
        g.shear_x_deg = shx, g.shear_y_deg = shy;
        g.translate_x = tx, g.translate_y = ty;
    }
    fw_aug_set_geometry(p, &g, sw, sh, ow, oh);
    *flipped = g.flip;

    /* colour: 4 draws; gamma: 2; grey: 1 */
    int color = fw_rng_uniform(r) < o->p_color;
    float b = fw_rng_range(r, 1.0f - o->brightness, 1.0f + o->brightness);
    float c = fw_rng_range(r, 1.0f - o->contrast, 1.0f + o->contrast);
    float sat = fw_rng_range(r, -o->saturation, o->saturation);
    int use_gamma = fw_rng_uniform(r) < o->p_gamma;
    float gam = log_uniform(r, o->gamma);
    int gray = fw_rng_uniform(r) < o->p_gray;
    fw_aug_set_photometric(p, color ? b : 1.0f, color ? c : 1.0f, mean_luma,
                           use_gamma ? gam : 1.0f);
    p->gray = gray ? 1.0f : color ? sat : 0.0f;

    /* blur: 2 draws */
    int blur = fw_rng_uniform(r) < o->p_blur;
    float sigma = fw_rng_range(r, o->blur_sigma_min, o->blur_sigma_max);
    fw_aug_set_blur(p, blur ? sigma : 0.0f);

    /* erase: 1 + 4 + 3 draws */
    int erase = fw_rng_uniform(r) < o->p_erase;
    float area = fw_rng_range(r, o->erase_area_min, o->erase_area_max) * (float)ow * (float)oh;
    float ratio = expf(fw_rng_range(r, logf(o->erase_ratio_min), logf(o->erase_ratio_max)));
    float ux = fw_rng_uniform(r), uy = fw_rng_uniform(r);
    float value[3];
    for (int k = 0; k < 3; k++)
        value[k] = fw_rng_uniform(r);
    if (erase && area >= 1.0f) {
        int eh = (int)lrintf(sqrtf(area * ratio)), ew = (int)lrintf(sqrtf(area / ratio));
        eh = eh < 1 ? 1 : eh > oh ? oh : eh;
        ew = ew < 1 ? 1 : ew > ow ? ow : ew;
        p->erase_x0 = (int)(ux * (float)(ow - ew + 1));
        p->erase_y0 = (int)(uy * (float)(oh - eh + 1));
        if (p->erase_x0 > ow - ew)
            p->erase_x0 = ow - ew;
        if (p->erase_y0 > oh - eh)
            p->erase_y0 = oh - eh;
        p->erase_x1 = p->erase_x0 + ew;
        p->erase_y1 = p->erase_y0 + eh;
        for (int k = 0; k < 3; k++)
            p->erase_value[k] = value[k];
    }
}

int fw_aug_params_check(const fw_aug_params *p, fw_error *err)
{
    if (p->n_taps != 1 && p->n_taps != FW_AUG_BLUR_TAPS)
        return fw_fail(err, FW_EINVAL, "augment: %d blur taps (1 or %d)", p->n_taps,
                       FW_AUG_BLUR_TAPS);
    if (p->border != FW_BORDER_CONSTANT && p->border != FW_BORDER_REPLICATE &&
        p->border != FW_BORDER_REFLECT)
        return fw_fail(err, FW_EINVAL, "augment: unknown border rule %d", p->border);
    int finite = isfinite(p->fill) && isfinite(p->gain) && isfinite(p->bias) &&
                 isfinite(p->gray) && isfinite(p->gamma) && p->gamma > 0.0f;
    for (int i = 0; i < 6; i++)
        finite = finite && isfinite(p->m[i]) && fabsf(p->m[i]) < 1e6f;
    for (int t = 0; t < p->n_taps; t++)
        finite = finite && isfinite(p->tap_dx[t]) && isfinite(p->tap_dy[t]) &&
                 isfinite(p->tap_w[t]) && fabsf(p->tap_dx[t]) < 1e3f && fabsf(p->tap_dy[t]) < 1e3f;
    for (int c = 0; c < FW_AUG_MAX_CHANNELS; c++)
        finite = finite && isfinite(p->mean[c]) && isfinite(p->inv_std[c]) &&
                 isfinite(p->erase_value[c]);
    if (!finite)
        return fw_fail(err, FW_EINVAL, "augment: parameters hold a non-finite or huge number");
    return FW_OK;
}

int fw_augment_label(const fw_augment_opts *o, int label, int flipped, int n_whales)
{
    if (label < 0 || !flipped || !o->flip_identity)
        return label;
    return label + n_whales;
}

float fw_image_mean_luma(const uint8_t *pixels, int w, int h, int c, int step)
{
    if (step < 1)
        step = 1;
    double sum = 0.0;
    long n = 0;
    for (int y = 0; y < h; y += step) {
        const uint8_t *row = pixels + (size_t)y * w * c;
        for (int x = 0; x < w; x += step) {
            const uint8_t *px = row + (size_t)x * c;
            sum += c == 3 ? 0.299 * px[0] + 0.587 * px[1] + 0.114 * px[2] : px[0];
            n++;
        }
    }
    return n ? (float)(sum / (255.0 * n)) : 0.0f;
}
