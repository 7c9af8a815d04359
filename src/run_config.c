/* run_config.c — the run configuration: the key table (one X-macro list
 * gives both the public fw_config_key table and where each key lives in
 * struct fw_run_config), defaults, parsing of `key = value` text, exact
 * round-trip formatting, cross-key validation and the translation into the
 * learner's and the augmentation's configs.
 *
 * Numbers are read and written in the "C" locale whatever the process
 * locale is, so a config file means the same everywhere. */
#include "run_config.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "edit_distance.h"
#include "fileio.h"
#include "kv_text.h"
#include "sanitize.h"

#define CONFIG_FILE_MAX (1 << 20) /* bytes of a config file */
#define U64_MAX_AS_DOUBLE 18446744073709551615.0

/* Where a key's value lives and how it is stored. */
typedef enum field_kind {
    F_STRING, /* char[cap] */
    F_INT,    /* int (also enums stored as int) */
    F_U64,    /* uint64_t */
    F_FLOAT,  /* float */
    F_DOUBLE, /* double */
    F_BOOL,   /* int 0/1 */
    F_SIZE,   /* two ints: width at offset, height at offset2 */
    F_ENUM,   /* int: choice index, or values[index] */
    F_FLAGS,  /* unsigned: bit i = choice i */
} field_kind;

typedef struct field_binding {
    field_kind kind;
    size_t offset, offset2;
    size_t size; /* bytes of the member (F_STRING: its capacity) */
    const int *values;
} field_binding;

_Static_assert(sizeof(fw_neck_pool) == sizeof(int), "enums are stored through int");
_Static_assert(sizeof(fw_optim_kind) == sizeof(int), "enums are stored through int");
_Static_assert(sizeof(fw_schedule_kind) == sizeof(int), "enums are stored through int");
_Static_assert(sizeof(fw_precision) == sizeof(int), "enums are stored through int");
_Static_assert(sizeof(fw_augment_on) == sizeof(int), "enums are stored through int");

static const int ARCH_VALUES[] = {18, 34, 50};
static const int CHANNEL_VALUES[] = {1, 3};
static const int PRECISION_VALUES[] = {FW_PRECISION_AUTO, FW_PRECISION_FP32, FW_PRECISION_BF16,
                                       FW_PRECISION_FP16};
static const int BORDER_VALUES[] = {FW_BORDER_CONSTANT, FW_BORDER_REPLICATE, FW_BORDER_REFLECT};

#define LOSS_CHOICES "arcface|softmax|triplet|contrastive" /* bit order of FW_RUN_LOSS_* */
_Static_assert(FW_RUN_LOSS_ARCFACE == 1 && FW_RUN_LOSS_SOFTMAX == 2 && FW_RUN_LOSS_TRIPLET == 4 &&
                   FW_RUN_LOSS_CONTRASTIVE == 8,
               "LOSS_CHOICES follows the FW_RUN_LOSS_* bits");

/* X(name, type, lo, hi, choices, field kind, member, member2, enum values, doc) */
#define RUN_CONFIG_KEYS(X)                                                                      \
    X("dataset", FW_CFG_STRING, 0, 0, NULL, F_STRING, dataset, dataset, NULL,                  \
      "dataset directory (train.csv and train/); empty: given by --dataset")                    \
    X("input", FW_CFG_SIZE, 16, 2048, NULL, F_SIZE, input_w, input_h, NULL,                    \
      "network input size WxH in pixels (images are resized and cached at it)")                 \
    X("channels", FW_CFG_ENUM, 0, 0, "1|3", F_ENUM, channels, channels, CHANNEL_VALUES,        \
      "input channels: 1 (grey) or 3 (RGB)")                                                    \
    X("val.query_share", FW_CFG_REAL, 0, 1, NULL, F_FLOAT, val_query_share, val_query_share,   \
      NULL, "share of the known whales whose images are held out as validation queries")        \
    X("val.new_whale_share", FW_CFG_REAL, 0, 0.95, NULL, F_FLOAT, val_new_whale_share,         \
      val_new_whale_share, NULL, "share of new_whale among the validation queries")             \
    X("backbone", FW_CFG_ENUM, 0, 0, "resnet18|resnet34|resnet50", F_ENUM, arch, arch,         \
      ARCH_VALUES, "ResNet backbone")                                                           \
    X("width", FW_CFG_REAL, 0.125, 4, NULL, F_FLOAT, width_mult, width_mult, NULL,             \
      "backbone width multiplier (base width round(64 * width))")                               \
    X("embedding", FW_CFG_INT, 8, 4096, NULL, F_INT, embedding_dim, embedding_dim, NULL,       \
      "embedding dimension D")                                                                  \
    X("pool", FW_CFG_ENUM, 0, 0, "gem|avg", F_ENUM, pool, pool, NULL,                          \
      "global pooling of the neck: generalised mean or average")                                \
    X("gem_p", FW_CFG_REAL, 1, 10, NULL, F_FLOAT, gem_p, gem_p, NULL,                          \
      "initial exponent p of GeM pooling (learned)")                                            \
    X("dropout", FW_CFG_REAL, 0, 0.9, NULL, F_FLOAT, dropout, dropout, NULL,                   \
      "dropout before the neck's linear layer (0: none)")                                       \
    X("head", FW_CFG_FLAGS, 0, 0, LOSS_CHOICES, F_FLAGS, losses, losses, NULL,                 \
      "loss terms of the head, joined with '+'")                                                \
    X("arcface.scale", FW_CFG_REAL, 1, 128, NULL, F_DOUBLE, arcface_scale, arcface_scale, NULL, \
      "ArcFace logit scale s")                                                                  \
    X("arcface.margin", FW_CFG_REAL, 0, 1.5, NULL, F_DOUBLE, arcface_margin, arcface_margin,   \
      NULL, "ArcFace angular margin m in radians")                                              \
    X("arcface.subcenters", FW_CFG_INT, 1, 16, NULL, F_INT, arcface_subcenters,                \
      arcface_subcenters, NULL, "sub-centres per class (1: plain ArcFace)")                     \
    X("arcface.weight", FW_CFG_REAL, 0, 100, NULL, F_DOUBLE, arcface_weight, arcface_weight,   \
      NULL, "weight of the ArcFace term (0: computed and logged only)")                         \
    X("softmax.weight", FW_CFG_REAL, 0, 100, NULL, F_DOUBLE, softmax_weight, softmax_weight,   \
      NULL, "weight of the softmax cross-entropy term")                                         \
    X("label_smoothing", FW_CFG_REAL, 0, 0.99, NULL, F_DOUBLE, label_smoothing,                \
      label_smoothing, NULL, "label smoothing of the softmax and ArcFace terms")                \
    X("triplet.margin", FW_CFG_REAL, 0, 4, NULL, F_DOUBLE, triplet_margin, triplet_margin,     \
      NULL, "batch-hard triplet margin")                                                        \
    X("triplet.weight", FW_CFG_REAL, 0, 100, NULL, F_DOUBLE, triplet_weight, triplet_weight,   \
      NULL, "weight of the triplet term")                                                       \
    X("triplet.soft", FW_CFG_BOOL, 0, 1, NULL, F_BOOL, triplet_soft, triplet_soft, NULL,       \
      "soft-margin triplet loss (softplus instead of the hinge; the margin is ignored)")         \
    X("contrastive.margin", FW_CFG_REAL, 0, 4, NULL, F_DOUBLE, contrastive_margin,             \
      contrastive_margin, NULL, "contrastive loss margin for negative pairs")                   \
    X("contrastive.weight", FW_CFG_REAL, 0, 100, NULL, F_DOUBLE, contrastive_weight,           \
      contrastive_weight, NULL, "weight of the contrastive term")                               \
    X("sampler.p", FW_CFG_INT, 2, 4096, NULL, F_INT, sampler_p, sampler_p, NULL,               \
      "whales per batch (P of a P x K batch)")                                                  \
    X("sampler.k", FW_CFG_INT, 1, 64, NULL, F_INT, sampler_k, sampler_k, NULL,                 \
      "images per whale in a batch (K)")                                                        \
    X("sampler.new_whale", FW_CFG_INT, 0, 4096, NULL, F_INT, sampler_new, sampler_new, NULL,   \
      "new_whale images added to each batch (negatives only)")                                  \
    X("optimizer", FW_CFG_ENUM, 0, 0, "sgd|adamw", F_ENUM, optimizer, optimizer, NULL,         \
      "optimizer")                                                                              \
    X("lr", FW_CFG_REAL, 1e-8, 10, NULL, F_DOUBLE, lr, lr, NULL,                               \
      "peak learning rate of the schedule")                                                     \
    X("head_lr_mult", FW_CFG_REAL, 0, 1000, NULL, F_DOUBLE, head_lr_mult, head_lr_mult, NULL,  \
      "learning-rate multiplier for the head's class weights")                                  \
    X("weight_decay", FW_CFG_REAL, 0, 1, NULL, F_DOUBLE, weight_decay, weight_decay, NULL,     \
      "weight decay (SGD: L2 on the gradient; AdamW: decoupled)")                               \
    X("momentum", FW_CFG_REAL, 0, 0.999, NULL, F_DOUBLE, momentum, momentum, NULL,             \
      "SGD momentum / AdamW beta1 (one-cycle cycles its own momentum)")                         \
    X("clip_norm", FW_CFG_REAL, 0, 1e6, NULL, F_DOUBLE, clip_norm, clip_norm, NULL,            \
      "clip gradients to this global L2 norm (0: no clipping)")                                 \
    X("schedule", FW_CFG_ENUM, 0, 0, "constant|one-cycle|cosine|sgdr|step", F_ENUM, schedule,  \
      schedule, NULL, "learning-rate schedule")                                                 \
    X("schedule.pct_start", FW_CFG_REAL, 0, 1, NULL, F_DOUBLE, pct_start, pct_start, NULL,     \
      "one-cycle: share of the steps spent rising to lr (strictly between 0 and 1)")            \
    X("schedule.div", FW_CFG_REAL, 1, 1e6, NULL, F_DOUBLE, div, div, NULL,                     \
      "one-cycle: the lr starts at lr / div")                                                   \
    X("schedule.div_final", FW_CFG_REAL, 1, 1e9, NULL, F_DOUBLE, div_final, div_final, NULL,   \
      "one-cycle: the lr ends at lr / div_final")                                               \
    X("schedule.eta_min", FW_CFG_REAL, 0, 1, NULL, F_DOUBLE, eta_min, eta_min, NULL,           \
      "cosine, sgdr: the lowest lr (at most lr)")                                               \
    X("schedule.warmup_epochs", FW_CFG_REAL, 0, 1000, NULL, F_DOUBLE, warmup_epochs,           \
      warmup_epochs, NULL, "linear warm-up length in epochs (0: none)")                         \
    X("schedule.cycle_epochs", FW_CFG_REAL, 0.01, 100000, NULL, F_DOUBLE, cycle_epochs,        \
      cycle_epochs, NULL, "sgdr: length of the first cycle in epochs")                          \
    X("schedule.t_mult", FW_CFG_INT, 1, 16, NULL, F_INT, t_mult, t_mult, NULL,                 \
      "sgdr: each cycle is this many times longer than the one before")                         \
    X("schedule.step_epochs", FW_CFG_REAL, 0.01, 100000, NULL, F_DOUBLE, step_epochs,          \
      step_epochs, NULL, "step: the lr is multiplied by gamma every this many epochs")          \
    X("schedule.gamma", FW_CFG_REAL, 1e-6, 1, NULL, F_DOUBLE, gamma, gamma, NULL,              \
      "step: decay factor")                                                                     \
    X("epochs", FW_CFG_INT, 1, 100000, NULL, F_INT, epochs, epochs, NULL,                      \
      "training epochs (the schedule spans them)")                                              \
    X("lr_find", FW_CFG_BOOL, 0, 1, NULL, F_BOOL, lr_find, lr_find, NULL,                      \
      "run the LR range test first and train with its suggested lr")                            \
    X("aug.p_affine", FW_CFG_REAL, 0, 1, NULL, F_FLOAT, aug.p_affine, aug.p_affine, NULL,      \
      "probability of a random affine transform (else only the resize)")                        \
    X("aug.rotate_deg", FW_CFG_REAL, 0, 180, NULL, F_FLOAT, aug.rotate_deg, aug.rotate_deg,    \
      NULL, "rotation uniform in [-r, r] degrees")                                              \
    X("aug.scale_min", FW_CFG_REAL, 0.01, 10, NULL, F_FLOAT, aug.scale_min, aug.scale_min,     \
      NULL, "smallest zoom factor")                                                             \
    X("aug.scale_max", FW_CFG_REAL, 0.01, 10, NULL, F_FLOAT, aug.scale_max, aug.scale_max,     \
      NULL, "largest zoom factor")                                                              \
    X("aug.aspect", FW_CFG_REAL, 1, 10, NULL, F_FLOAT, aug.aspect, aug.aspect, NULL,           \
      "aspect-ratio factor log-uniform in [1/a, a]")                                            \
    X("aug.shear_deg", FW_CFG_REAL, 0, 59, NULL, F_FLOAT, aug.shear_deg, aug.shear_deg, NULL,  \
      "shear angles uniform in [-s, s] degrees")                                                \
    X("aug.translate", FW_CFG_REAL, 0, 1, NULL, F_FLOAT, aug.translate, aug.translate, NULL,   \
      "shift uniform in [-t, t] times the output width and height")                             \
    X("aug.p_flip", FW_CFG_REAL, 0, 1, NULL, F_FLOAT, aug.p_flip, aug.p_flip, NULL,            \
      "probability of a horizontal flip")                                                       \
    X("aug.flip_identity", FW_CFG_BOOL, 0, 1, NULL, F_BOOL, aug.flip_identity,                 \
      aug.flip_identity, NULL, "a flipped fluke counts as a new identity")                      \
    X("aug.border", FW_CFG_ENUM, 0, 0, "constant|replicate|reflect", F_ENUM, aug.border,       \
      aug.border, BORDER_VALUES, "what points outside the image read")                          \
    X("aug.fill", FW_CFG_REAL, 0, 1, NULL, F_FLOAT, aug.fill, aug.fill, NULL,                  \
      "border value for aug.border = constant (0..1)")                                          \
    X("aug.p_color", FW_CFG_REAL, 0, 1, NULL, F_FLOAT, aug.p_color, aug.p_color, NULL,         \
      "probability of brightness/contrast/saturation jitter")                                   \
    X("aug.brightness", FW_CFG_REAL, 0, 1, NULL, F_FLOAT, aug.brightness, aug.brightness,      \
      NULL, "brightness factor uniform in [1-b, 1+b]")                                          \
    X("aug.contrast", FW_CFG_REAL, 0, 1, NULL, F_FLOAT, aug.contrast, aug.contrast, NULL,      \
      "contrast factor uniform in [1-c, 1+c]")                                                  \
    X("aug.saturation", FW_CFG_REAL, 0, 1, NULL, F_FLOAT, aug.saturation, aug.saturation,      \
      NULL, "saturation change uniform in [-s, s] (3 channels)")                                \
    X("aug.p_gamma", FW_CFG_REAL, 0, 1, NULL, F_FLOAT, aug.p_gamma, aug.p_gamma, NULL,         \
      "probability of a gamma change")                                                          \
    X("aug.gamma", FW_CFG_REAL, 1, 5, NULL, F_FLOAT, aug.gamma, aug.gamma, NULL,               \
      "gamma exponent log-uniform in [1/g, g]")                                                 \
    X("aug.p_gray", FW_CFG_REAL, 0, 1, NULL, F_FLOAT, aug.p_gray, aug.p_gray, NULL,            \
      "probability of turning the image fully grey")                                            \
    X("aug.p_blur", FW_CFG_REAL, 0, 1, NULL, F_FLOAT, aug.p_blur, aug.p_blur, NULL,            \
      "probability of a Gaussian blur")                                                         \
    X("aug.blur_sigma_min", FW_CFG_REAL, 0, 1.5, NULL, F_FLOAT, aug.blur_sigma_min,            \
      aug.blur_sigma_min, NULL, "smallest blur sigma in source pixels")                         \
    X("aug.blur_sigma_max", FW_CFG_REAL, 0, 1.5, NULL, F_FLOAT, aug.blur_sigma_max,            \
      aug.blur_sigma_max, NULL, "largest blur sigma in source pixels")                          \
    X("aug.p_erase", FW_CFG_REAL, 0, 1, NULL, F_FLOAT, aug.p_erase, aug.p_erase, NULL,         \
      "probability of random erasing")                                                          \
    X("aug.erase_area_min", FW_CFG_REAL, 0, 1, NULL, F_FLOAT, aug.erase_area_min,              \
      aug.erase_area_min, NULL, "smallest erased share of the image area")                      \
    X("aug.erase_area_max", FW_CFG_REAL, 0, 1, NULL, F_FLOAT, aug.erase_area_max,              \
      aug.erase_area_max, NULL, "largest erased share of the image area")                       \
    X("aug.erase_ratio_min", FW_CFG_REAL, 0.01, 100, NULL, F_FLOAT, aug.erase_ratio_min,       \
      aug.erase_ratio_min, NULL, "smallest height/width ratio of the erased rectangle")          \
    X("aug.erase_ratio_max", FW_CFG_REAL, 0.01, 100, NULL, F_FLOAT, aug.erase_ratio_max,       \
      aug.erase_ratio_max, NULL, "largest height/width ratio of the erased rectangle")          \
    X("precision", FW_CFG_ENUM, 0, 0, "auto|fp32|bf16|fp16", F_ENUM, precision, precision,     \
      PRECISION_VALUES,                                                                         \
      "arithmetic precision of the GPU backend (auto: bf16 on Ampere and newer GPUs, else "     \
      "fp32; cpu: fp32 only)")                                                                  \
    X("device", FW_CFG_STRING, 0, 0, NULL, F_STRING, device, device, NULL,                     \
      "where to train: cpu, cuda, cuda:N or cuda:N,M,...")                                      \
    X("augment_on", FW_CFG_ENUM, 0, 0, "auto|loader|device", F_ENUM, augment_on, augment_on,   \
      NULL, "where training images are augmented: the loader's threads, or the device "        \
      "(the backend's augment_batch on the resident image cache); auto: device on a GPU")      \
    X("replicas", FW_CFG_INT, 0, 64, NULL, F_INT, replicas, replicas, NULL,                    \
      "data-parallel replicas in this process, one thread each (0: one per GPU of a "          \
      "device=cuda:A,B list, else 1)")                                                          \
    X("micro_batches", FW_CFG_INT, 1, 1024, NULL, F_INT, micro_batches, micro_batches, NULL,   \
      "run each batch as this many micro-batches, accumulating gradients (set automatically "  \
      "when the device runs out of memory at start-up)")                                        \
    X("threads", FW_CFG_INT, 0, 1024, NULL, F_INT, threads, threads, NULL,                     \
      "compute threads (0: all CPUs)")                                                          \
    X("loader_threads", FW_CFG_INT, 0, 1024, NULL, F_INT, loader_threads, loader_threads,      \
      NULL, "image loading and augmentation threads (0: automatic)")                      \
    X("seed", FW_CFG_U64, 0, U64_MAX_AS_DOUBLE, NULL, F_U64, seed, seed, NULL,                 \
      "seed of every random stream (weights, split, sampler, augmentation)")                    \
    X("eval_every", FW_CFG_INT, 0, 100000, NULL, F_INT, eval_every, eval_every, NULL,          \
      "evaluate on the validation split every this many epochs (0: only at the end)")           \
    X("checkpoint_every", FW_CFG_INT, 1, 100000, NULL, F_INT, checkpoint_every,                \
      checkpoint_every, NULL, "save a checkpoint every this many epochs")                       \
    X("keep_last", FW_CFG_INT, 1, 1000, NULL, F_INT, keep_last, keep_last, NULL,               \
      "checkpoints kept besides the best")                                                      \
    X("tta_flip", FW_CFG_BOOL, 0, 1, NULL, F_BOOL, tta_flip, tta_flip, NULL,                   \
      "average each embedding with that of the mirrored image at evaluation")                   \
    X("nan_limit", FW_CFG_INT, 1, 1000000, NULL, F_INT, nan_limit, nan_limit, NULL,            \
      "fail the run after this many non-finite steps in a row")

#define KEY_ENTRY(name, type, lo, hi, choices, kind, member, member2, values, doc) \
    {name, type, lo, hi, choices, doc},
static const fw_config_key KEYS[] = {RUN_CONFIG_KEYS(KEY_ENTRY)};

#define MEMBER_SIZE(member) sizeof(((fw_run_config *)0)->member)
#define BINDING_ENTRY(name, type, lo, hi, choices, kind, member, member2, values, doc) \
    {kind, offsetof(fw_run_config, member), offsetof(fw_run_config, member2),         \
     MEMBER_SIZE(member), values},
static const field_binding BINDINGS[] = {RUN_CONFIG_KEYS(BINDING_ENTRY)};

#define N_KEYS ((int)(sizeof KEYS / sizeof KEYS[0]))
_Static_assert(sizeof KEYS / sizeof KEYS[0] == sizeof BINDINGS / sizeof BINDINGS[0],
               "one binding per key");

const fw_config_key *fw_run_config_keys(int *n)
{
    if (n)
        *n = N_KEYS;
    return KEYS;
}

void fw_run_config_default(fw_run_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->input_w = 192, cfg->input_h = 96;
    cfg->channels = 1;
    cfg->val_query_share = 0.2f;
    cfg->val_new_whale_share = 0.28f;
    cfg->arch = 18;
    cfg->width_mult = 1.0f;
    cfg->embedding_dim = 256;
    cfg->pool = FW_NECK_GEM;
    cfg->gem_p = 3.0f;
    cfg->dropout = 0.0f;
    cfg->losses = FW_RUN_LOSS_ARCFACE;
    cfg->arcface_scale = 30.0, cfg->arcface_margin = 0.3;
    cfg->arcface_subcenters = 1;
    cfg->arcface_weight = 1.0;
    cfg->softmax_weight = 1.0;
    cfg->label_smoothing = 0.0;
    cfg->triplet_margin = 0.3, cfg->triplet_weight = 1.0;
    cfg->triplet_soft = 0;
    cfg->contrastive_margin = 1.0, cfg->contrastive_weight = 1.0;
    cfg->sampler_p = 8, cfg->sampler_k = 4, cfg->sampler_new = 0;
    cfg->optimizer = FW_OPTIM_ADAMW;
    cfg->lr = 5e-4;
    cfg->head_lr_mult = 10.0;
    cfg->weight_decay = 1e-4;
    cfg->momentum = 0.9;
    cfg->clip_norm = 5.0;
    cfg->schedule = FW_SCHED_ONE_CYCLE;
    cfg->pct_start = 0.25, cfg->div = 25.0, cfg->div_final = 1e4;
    cfg->eta_min = 0.0;
    cfg->warmup_epochs = 0.0;
    cfg->cycle_epochs = 1.0;
    cfg->t_mult = 2;
    cfg->step_epochs = 10.0;
    cfg->gamma = 0.1;
    cfg->epochs = 40;
    cfg->lr_find = 0;
    fw_augment_opts_default(&cfg->aug);
    cfg->precision = FW_PRECISION_AUTO;
    strcpy(cfg->device, "cpu");
    cfg->threads = 0, cfg->loader_threads = 0;
    cfg->micro_batches = 1;
    cfg->seed = 42;
    cfg->eval_every = 5;
    cfg->checkpoint_every = 1;
    cfg->keep_last = 3;
    cfg->tta_flip = 1;
    cfg->nan_limit = 20;
}

/* ---- small helpers ----------------------------------------------------------- */

/* Numbers in the "C" locale for the duration of one call. */
typedef struct c_numeric {
    locale_t c, saved;
} c_numeric;

static void c_numeric_begin(c_numeric *s)
{
    s->c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    s->saved = s->c ? uselocale(s->c) : (locale_t)0;
}

static void c_numeric_end(c_numeric *s)
{
    if (s->c) {
        uselocale(s->saved);
        freelocale(s->c);
    }
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* [*begin, *end) without surrounding white space. */
static void trim(const char **begin, const char **end)
{
    while (*begin < *end && is_space(**begin))
        (*begin)++;
    while (*end > *begin && is_space((*end)[-1]))
        (*end)--;
}

static int find_key(const char *key)
{
    for (int i = 0; i < N_KEYS; i++)
        if (strcmp(KEYS[i].name, key) == 0)
            return i;
    return -1;
}

static void *field_ptr(fw_run_config *cfg, size_t offset)
{
    return (char *)cfg + offset;
}

static const void *field_cptr(const fw_run_config *cfg, size_t offset)
{
    return (const char *)cfg + offset;
}

/* The i-th '|'-separated name of choices into out; 0 when there is none. */
static int choice_at(const char *choices, int i, char *out, size_t cap)
{
    const char *p = choices;
    for (int k = 0; k < i; k++) {
        p = strchr(p, '|');
        if (!p)
            return 0;
        p++;
    }
    size_t len = strcspn(p, "|");
    if (len + 1 > cap)
        return 0;
    memcpy(out, p, len);
    out[len] = '\0';
    return 1;
}

/* Index of name [s, s+len) among choices, or -1. */
static int choice_index(const char *choices, const char *s, size_t len)
{
    const char *p = choices;
    for (int i = 0;; i++) {
        size_t n = strcspn(p, "|");
        if (n == len && memcmp(p, s, len) == 0)
            return i;
        if (!p[n])
            return -1;
        p += n + 1;
    }
}

static int n_choices(const char *choices)
{
    int n = 1;
    for (const char *p = choices; *p; p++)
        n += *p == '|';
    return n;
}

/* What a key accepts, for messages. */
static void describe(int i, char *buf, size_t cap)
{
    const fw_config_key *k = &KEYS[i];
    switch (k->type) {
    case FW_CFG_INT:
        snprintf(buf, cap, "an integer in [%.0f, %.0f]", k->lo, k->hi);
        break;
    case FW_CFG_U64:
        snprintf(buf, cap, "an unsigned integer in [0, 18446744073709551615]");
        break;
    case FW_CFG_REAL:
        snprintf(buf, cap, "a real number in [%g, %g]", k->lo, k->hi);
        break;
    case FW_CFG_BOOL:
        snprintf(buf, cap, "a boolean (0/1, true/false, yes/no, on/off)");
        break;
    case FW_CFG_SIZE:
        snprintf(buf, cap, "WxH with W and H integers in [%.0f, %.0f]", k->lo, k->hi);
        break;
    case FW_CFG_ENUM:
        snprintf(buf, cap, "one of %s", k->choices);
        break;
    case FW_CFG_FLAGS:
        snprintf(buf, cap, "names from %s joined with '+'", k->choices);
        break;
    case FW_CFG_STRING:
        if (BINDINGS[i].offset == offsetof(fw_run_config, device))
            snprintf(buf, cap, "cpu, cuda, cuda:N or cuda:N,M,...");
        else
            snprintf(buf, cap, "text of at most %zu bytes without control characters or ' #'",
                     BINDINGS[i].size - 1);
        break;
    }
}

static int bad_value(fw_error *err, int i, const char *value, const char *origin)
{
    char what[160], shown[96];
    describe(i, what, sizeof what);
    fw_sanitize(value, shown, sizeof shown);
    return fw_fail(err, FW_EINVAL, "%s: expected %s, got '%s'%s (%s)", KEYS[i].name, what,
                   shown, strlen(value) >= sizeof shown - 1 ? "..." : "", origin);
}

/* origin NULL: no "(origin)" in the message. */
static int unknown_key(const char *key, const char *origin, fw_error *err)
{
    char shown[96], where[FW_RUN_PATH_MAX + 40] = "";
    fw_sanitize(key, shown, sizeof shown);
    if (origin)
        snprintf(where, sizeof where, " (%s)", origin);
    int best = -1, best_d = 3;
    for (int i = 0; i < N_KEYS; i++) {
        int d = fw_edit_distance(key, KEYS[i].name);
        if (d < best_d)
            best = i, best_d = d;
    }
    if (best >= 0)
        return fw_fail(err, FW_ENOTFOUND, "unknown key '%s'%s; did you mean '%s'?", shown,
                       where, KEYS[best].name);
    return fw_fail(err, FW_ENOTFOUND,
                   "unknown key '%s'%s; see man flukewatch.conf for the keys", shown, where);
}

/* ---- device ------------------------------------------------------------------ */

int fw_run_config_device_parse(const char *device, int *is_cuda, int *ids, int cap, int *n_ids,
                               fw_error *err)
{
    char shown[96];
    int n = 0;
    *is_cuda = 0;
    if (n_ids)
        *n_ids = 0;
    if (strcmp(device, "cpu") == 0)
        return FW_OK;
    if (strncmp(device, "cuda", 4) != 0)
        goto bad;
    *is_cuda = 1;
    const char *p = device + 4;
    if (*p == '\0') {
        if (ids && cap > 0)
            ids[0] = 0;
        if (n_ids)
            *n_ids = 1;
        return FW_OK;
    }
    if (*p != ':')
        goto bad;
    p++;
    int seen[1024] = {0};
    for (;;) {
        if (*p < '0' || *p > '9')
            goto bad;
        long id = 0;
        while (*p >= '0' && *p <= '9') {
            id = id * 10 + (*p - '0');
            if (id > 1023)
                goto bad;
            p++;
        }
        if (seen[id]) {
            fw_sanitize(device, shown, sizeof shown);
            return fw_fail(err, FW_EINVAL, "device: GPU %ld is listed twice in '%s'", id, shown);
        }
        seen[id] = 1;
        if (ids && n < cap)
            ids[n] = (int)id;
        n++;
        if (*p == '\0')
            break;
        if (*p != ',')
            goto bad;
        p++;
    }
    if (n_ids)
        *n_ids = n;
    return FW_OK;
bad:
    *is_cuda = 0;
    fw_sanitize(device, shown, sizeof shown);
    return fw_fail(err, FW_EINVAL,
                   "device: expected cpu, cuda, cuda:N or cuda:N,M,... (N in 0..1023), got '%s'",
                   shown);
}

/* ---- setting one key ----------------------------------------------------------- */

static int parse_bool(const char *v, int *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0)
            return *out = 1, 1;
        if (strcasecmp(v, no[i]) == 0)
            return *out = 0, 1;
    }
    return 0;
}

static int parse_int_in(const char *v, double lo, double hi, int *out)
{
    if (!*v)
        return 0;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || *end || (double)x < lo || (double)x > hi)
        return 0;
    *out = (int)x;
    return 1;
}

/* A real number whose stored form (float or double) lies in [lo, hi]. */
static int parse_real_in(const char *v, double lo, double hi, int as_float, double *out)
{
    if (!*v)
        return 0;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (*end || !isfinite(x) || (errno == ERANGE && x != 0.0))
        return 0;
    if (as_float) {
        float f = (float)x;
        if (!(isfinite(f) && f >= (float)lo && f <= (float)hi))
            return 0;
    } else if (!(x >= lo && x <= hi)) {
        return 0;
    }
    *out = x;
    return 1;
}

/* A string value survives format and parse unchanged: no control
 * characters, no '#' that would start a comment, no surrounding spaces. */
static int text_ok(const char *v)
{
    size_t len = strlen(v);
    if (len && (is_space(v[0]) || is_space(v[len - 1])))
        return 0;
    for (size_t j = 0; j < len; j++) {
        unsigned char c = (unsigned char)v[j];
        if (c < 0x20 || c == 0x7f || (c == '#' && (j == 0 || is_space(v[j - 1]))))
            return 0;
    }
    return 1;
}

/* Store the (trimmed) value v of key i into cfg. */
static int set_value(fw_run_config *cfg, int i, const char *v, const char *origin, fw_error *err)
{
    const fw_config_key *k = &KEYS[i];
    const field_binding *b = &BINDINGS[i];
    void *dst = field_ptr(cfg, b->offset);
    if (!*v && b->offset != offsetof(fw_run_config, dataset))
        return bad_value(err, i, v, origin);
    switch (b->kind) {
    case F_STRING: {
        size_t len = strlen(v);
        if (len >= b->size)
            return bad_value(err, i, v, origin);
        if (!text_ok(v))
            return bad_value(err, i, v, origin);
        if (b->offset == offsetof(fw_run_config, device)) {
            int cuda;
            if (fw_run_config_device_parse(v, &cuda, NULL, 0, NULL, NULL) < 0)
                return bad_value(err, i, v, origin);
        }
        memset(dst, 0, b->size);
        memcpy(dst, v, len);
        return FW_OK;
    }
    case F_INT: {
        int x;
        if (!parse_int_in(v, k->lo, k->hi, &x))
            return bad_value(err, i, v, origin);
        *(int *)dst = x;
        return FW_OK;
    }
    case F_U64: {
        char *end;
        errno = 0;
        if (v[0] < '0' || v[0] > '9')
            return bad_value(err, i, v, origin);
        unsigned long long x = strtoull(v, &end, 10);
        if (errno || *end)
            return bad_value(err, i, v, origin);
        *(uint64_t *)dst = (uint64_t)x;
        return FW_OK;
    }
    case F_FLOAT:
    case F_DOUBLE: {
        double x;
        if (!parse_real_in(v, k->lo, k->hi, b->kind == F_FLOAT, &x))
            return bad_value(err, i, v, origin);
        if (b->kind == F_FLOAT)
            *(float *)dst = (float)x;
        else
            *(double *)dst = x;
        return FW_OK;
    }
    case F_BOOL: {
        int x;
        if (!parse_bool(v, &x))
            return bad_value(err, i, v, origin);
        *(int *)dst = x;
        return FW_OK;
    }
    case F_SIZE: {
        const char *x = v + strcspn(v, "xX");
        char w_text[32], h_text[32];
        size_t wl = (size_t)(x - v);
        if (!*x || wl == 0 || wl >= sizeof w_text || strlen(x + 1) >= sizeof h_text)
            return bad_value(err, i, v, origin);
        memcpy(w_text, v, wl);
        w_text[wl] = '\0';
        strcpy(h_text, x + 1);
        int w, h;
        if (!parse_int_in(w_text, k->lo, k->hi, &w) || !parse_int_in(h_text, k->lo, k->hi, &h) ||
            w_text[0] < '0' || w_text[0] > '9' || h_text[0] < '0' || h_text[0] > '9')
            return bad_value(err, i, v, origin);
        *(int *)dst = w;
        *(int *)field_ptr(cfg, b->offset2) = h;
        return FW_OK;
    }
    case F_ENUM: {
        int idx = choice_index(k->choices, v, strlen(v));
        if (idx < 0)
            return bad_value(err, i, v, origin);
        *(int *)dst = b->values ? b->values[idx] : idx;
        return FW_OK;
    }
    case F_FLAGS: {
        unsigned bits = 0;
        const char *p = v;
        for (;;) {
            const char *e = p + strcspn(p, "+");
            const char *s = p, *t = e;
            trim(&s, &t);
            int idx = t > s ? choice_index(k->choices, s, (size_t)(t - s)) : -1;
            if (idx < 0)
                return bad_value(err, i, v, origin);
            bits |= 1u << idx;
            if (!*e)
                break;
            p = e + 1;
        }
        *(unsigned *)dst = bits;
        return FW_OK;
    }
    }
    return fw_fail(err, FW_EINVAL, "%s: unsupported key kind", k->name);
}

int fw_run_config_set(fw_run_config *cfg, const char *key, const char *value,
                      const char *origin, fw_error *err)
{
    if (!origin)
        origin = "command line";
    int i = find_key(key);
    if (i < 0)
        return unknown_key(key, origin, err);
    const char *s = value, *e = value + strlen(value);
    trim(&s, &e);
    size_t len = (size_t)(e - s);
    char *v = malloc(len + 1);
    if (!v)
        return fw_fail(err, FW_ENOMEM, "%s: out of memory", KEYS[i].name);
    memcpy(v, s, len);
    v[len] = '\0';
    c_numeric loc;
    c_numeric_begin(&loc);
    int rc = set_value(cfg, i, v, origin, err);
    c_numeric_end(&loc);
    free(v);
    return rc;
}

int fw_run_config_set_arg(fw_run_config *cfg, const char *arg, fw_error *err)
{
    const char *eq = strchr(arg, '=');
    if (!eq) {
        char shown[96];
        fw_sanitize(arg, shown, sizeof shown);
        return fw_fail(err, FW_EINVAL, "expected key=value, got '%s' (command line)", shown);
    }
    const char *s = arg, *e = eq;
    trim(&s, &e);
    size_t len = (size_t)(e - s);
    char *key = malloc(len + 1);
    if (!key)
        return fw_fail(err, FW_ENOMEM, "out of memory");
    memcpy(key, s, len);
    key[len] = '\0';
    int rc = fw_run_config_set(cfg, key, eq + 1, "command line", err);
    free(key);
    return rc;
}

/* ---- text ---------------------------------------------------------------------- */

/* One line of a config text. */
static int config_line(void *ctx, const fw_kv_line *l, fw_error *err)
{
    if (!l->value || !l->key[0]) {
        char shown[96];
        fw_sanitize(l->text, shown, sizeof shown);
        return fw_fail(err, FW_EINVAL, "expected 'key = value', got '%s' (%s)", shown, l->origin);
    }
    return fw_run_config_set(ctx, l->key, l->value, l->origin, err);
}

int fw_run_config_parse(fw_run_config *cfg, const char *text, const char *name, fw_error *err)
{
    return fw_kv_parse(text, name ? name : "config", FW_KV_HASH_AFTER_SPACE, config_line, cfg,
                       err);
}

int fw_run_config_load(fw_run_config *cfg, const char *path, fw_error *err)
{
    char *text = NULL;
    FW_TRY(fw_kv_read_file(path, CONFIG_FILE_MAX, "a config", &text, err));
    int rc = fw_run_config_parse(cfg, text, path, err);
    free(text);
    return rc;
}

/* Shortest of %.15g, %.16g, %.17g that reads back as x. */
static void format_double(double x, char *buf, size_t cap)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, x);
        if (strtod(buf, NULL) == x)
            return;
    }
}

/* Shortest of %.6g .. %.9g that reads back (through double) as x. */
static void format_float(float x, char *buf, size_t cap)
{
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(buf, cap, "%.*g", prec, (double)x);
        if ((float)strtod(buf, NULL) == x)
            return;
    }
}

/* The value of key i as text; returns the length it needs (like snprintf). */
static int value_text(const fw_run_config *cfg, int i, char *buf, size_t cap)
{
    const fw_config_key *k = &KEYS[i];
    const field_binding *b = &BINDINGS[i];
    const void *src = field_cptr(cfg, b->offset);
    char tmp[64];
    switch (b->kind) {
    case F_STRING:
        return snprintf(buf, cap, "%.*s", (int)strnlen(src, b->size), (const char *)src);
    case F_INT:
        return snprintf(buf, cap, "%d", *(const int *)src);
    case F_U64:
        return snprintf(buf, cap, "%llu", (unsigned long long)*(const uint64_t *)src);
    case F_FLOAT:
        format_float(*(const float *)src, tmp, sizeof tmp);
        return snprintf(buf, cap, "%s", tmp);
    case F_DOUBLE:
        format_double(*(const double *)src, tmp, sizeof tmp);
        return snprintf(buf, cap, "%s", tmp);
    case F_BOOL:
        return snprintf(buf, cap, "%d", *(const int *)src ? 1 : 0);
    case F_SIZE:
        return snprintf(buf, cap, "%dx%d", *(const int *)src,
                        *(const int *)field_cptr(cfg, b->offset2));
    case F_ENUM: {
        int value = *(const int *)src;
        for (int c = 0; c < n_choices(k->choices); c++)
            if ((b->values ? b->values[c] : c) == value && choice_at(k->choices, c, tmp, sizeof tmp))
                return snprintf(buf, cap, "%s", tmp);
        return snprintf(buf, cap, "%d", value); /* invalid: validate refuses it */
    }
    case F_FLAGS: {
        unsigned bits = *(const unsigned *)src;
        char joined[128] = "";
        for (int c = 0; c < n_choices(k->choices); c++)
            if (bits & (1u << c) && choice_at(k->choices, c, tmp, sizeof tmp)) {
                if (joined[0])
                    strcat(joined, "+");
                strcat(joined, tmp);
            }
        int len = snprintf(buf, cap, "%s", joined);
        return len;
    }
    }
    return snprintf(buf, cap, "?");
}

int fw_run_config_get(const fw_run_config *cfg, const char *key, char *buf, size_t cap,
                      fw_error *err)
{
    int i = find_key(key);
    if (i < 0)
        return unknown_key(key, NULL, err);
    c_numeric loc;
    c_numeric_begin(&loc);
    int n = value_text(cfg, i, buf, cap);
    c_numeric_end(&loc);
    if (n < 0 || (size_t)n >= cap)
        return fw_fail(err, FW_ETOOBIG, "%s: the value needs %d bytes, the buffer holds %zu",
                       key, n + 1, cap);
    return FW_OK;
}

int fw_run_config_format(const fw_run_config *cfg, char **text, fw_error *err)
{
    *text = NULL;
    size_t cap = 4096, len = 0;
    char *out = malloc(cap);
    if (!out)
        return fw_fail(err, FW_ENOMEM, "config: out of memory");
    c_numeric loc;
    c_numeric_begin(&loc);
    char value[FW_RUN_PATH_MAX + 64];
    for (int i = 0; i < N_KEYS; i++) {
        value_text(cfg, i, value, sizeof value);
        size_t need = strlen(KEYS[i].name) + strlen(value) + 5;
        if (len + need + 1 > cap) {
            while (len + need + 1 > cap)
                cap *= 2;
            char *grown = realloc(out, cap);
            if (!grown) {
                c_numeric_end(&loc);
                free(out);
                return fw_fail(err, FW_ENOMEM, "config: out of memory");
            }
            out = grown;
        }
        len += (size_t)snprintf(out + len, cap - len, value[0] ? "%s = %s\n" : "%s =\n",
                                KEYS[i].name, value);
    }
    c_numeric_end(&loc);
    *text = out;
    return FW_OK;
}

/* ---- validation ---------------------------------------------------------------- */

/* The stored value of key i is one that setting it could have produced. */
static int check_stored(const fw_run_config *cfg, int i, fw_error *err)
{
    const fw_config_key *k = &KEYS[i];
    const field_binding *b = &BINDINGS[i];
    const void *src = field_cptr(cfg, b->offset);
    int ok = 1;
    switch (b->kind) {
    case F_STRING:
        ok = strnlen(src, b->size) < b->size && text_ok(src);
        break;
    case F_INT:
        ok = *(const int *)src >= k->lo && *(const int *)src <= k->hi;
        break;
    case F_U64:
        break;
    case F_FLOAT: {
        float f = *(const float *)src;
        ok = isfinite(f) && f >= (float)k->lo && f <= (float)k->hi;
        break;
    }
    case F_DOUBLE: {
        double d = *(const double *)src;
        ok = isfinite(d) && d >= k->lo && d <= k->hi;
        break;
    }
    case F_BOOL:
        ok = *(const int *)src == 0 || *(const int *)src == 1;
        break;
    case F_SIZE: {
        int w = *(const int *)src, h = *(const int *)field_cptr(cfg, b->offset2);
        ok = w >= k->lo && w <= k->hi && h >= k->lo && h <= k->hi;
        break;
    }
    case F_ENUM: {
        int value = *(const int *)src;
        ok = 0;
        for (int c = 0; c < n_choices(k->choices); c++)
            ok |= (b->values ? b->values[c] : c) == value;
        break;
    }
    case F_FLAGS: {
        unsigned bits = *(const unsigned *)src;
        ok = bits != 0 && (bits >> n_choices(k->choices)) == 0;
        break;
    }
    }
    if (ok)
        return FW_OK;
    char value[FW_RUN_PATH_MAX + 64];
    value_text(cfg, i, value, sizeof value);
    return bad_value(err, i, value, "config");
}

int fw_run_config_validate(const fw_run_config *cfg, fw_error *err)
{
    c_numeric loc;
    c_numeric_begin(&loc);
    int rc = FW_OK;
    for (int i = 0; i < N_KEYS && rc == FW_OK; i++)
        rc = check_stored(cfg, i, err);
    c_numeric_end(&loc);
    FW_TRY(rc);
    if (strnlen(cfg->device, sizeof cfg->device) == 0)
        return fw_fail(err, FW_EINVAL, "device: empty (cpu, cuda, cuda:N or cuda:N,M,...)");

    int cuda;
    FW_TRY(fw_run_config_device_parse(cfg->device, &cuda, NULL, 0, NULL, err));
    if (!cuda && cfg->precision != FW_PRECISION_FP32 && cfg->precision != FW_PRECISION_AUTO) {
        const char *name = cfg->precision == FW_PRECISION_BF16 ? "bf16" : "fp16";
        return fw_fail(err, FW_EINVAL,
                       "precision=%s needs device=cuda (the CPU backend computes in fp32)", name);
    }

    static const struct {
        unsigned bit;
        const char *name;
        size_t weight;
    } terms[] = {
        {FW_RUN_LOSS_ARCFACE, "arcface", offsetof(fw_run_config, arcface_weight)},
        {FW_RUN_LOSS_SOFTMAX, "softmax", offsetof(fw_run_config, softmax_weight)},
        {FW_RUN_LOSS_TRIPLET, "triplet", offsetof(fw_run_config, triplet_weight)},
        {FW_RUN_LOSS_CONTRASTIVE, "contrastive", offsetof(fw_run_config, contrastive_weight)},
    };
    int weighted = 0;
    for (size_t t = 0; t < sizeof terms / sizeof terms[0]; t++)
        if (cfg->losses & terms[t].bit && *(const double *)field_cptr(cfg, terms[t].weight) > 0)
            weighted = 1;
    if (!weighted)
        return fw_fail(err, FW_EINVAL,
                       "head: every selected loss has weight 0; give one of them "
                       "(e.g. arcface.weight) a weight > 0");
    for (size_t t = 2; t < sizeof terms / sizeof terms[0]; t++)
        if (cfg->losses & terms[t].bit && cfg->sampler_k < 2)
            return fw_fail(err, FW_EINVAL,
                           "head=%s needs sampler.k >= 2 (positive pairs in each batch), "
                           "got sampler.k = %d",
                           terms[t].name, cfg->sampler_k);

    if (cfg->aug.scale_min > cfg->aug.scale_max)
        return fw_fail(err, FW_EINVAL, "aug.scale_min %g is above aug.scale_max %g",
                       cfg->aug.scale_min, cfg->aug.scale_max);
    if (cfg->aug.blur_sigma_min > cfg->aug.blur_sigma_max)
        return fw_fail(err, FW_EINVAL, "aug.blur_sigma_min %g is above aug.blur_sigma_max %g",
                       cfg->aug.blur_sigma_min, cfg->aug.blur_sigma_max);
    if (cfg->aug.erase_area_min > cfg->aug.erase_area_max)
        return fw_fail(err, FW_EINVAL, "aug.erase_area_min %g is above aug.erase_area_max %g",
                       cfg->aug.erase_area_min, cfg->aug.erase_area_max);
    if (cfg->aug.erase_ratio_min > cfg->aug.erase_ratio_max)
        return fw_fail(err, FW_EINVAL,
                       "aug.erase_ratio_min %g is above aug.erase_ratio_max %g",
                       cfg->aug.erase_ratio_min, cfg->aug.erase_ratio_max);
    fw_augment_opts aug;
    fw_run_config_augment(cfg, &aug);
    if (fw_augment_opts_check(&aug, err) < 0)
        return fw_error_prefix(err, "aug.*: ");

    if (cfg->schedule == FW_SCHED_ONE_CYCLE && !(cfg->pct_start > 0 && cfg->pct_start < 1))
        return fw_fail(err, FW_EINVAL,
                       "schedule.pct_start = %g: one-cycle needs a value strictly between 0 "
                       "and 1",
                       cfg->pct_start);
    if ((cfg->schedule == FW_SCHED_COSINE || cfg->schedule == FW_SCHED_SGDR) &&
        cfg->eta_min > cfg->lr)
        return fw_fail(err, FW_EINVAL, "schedule.eta_min %g is above lr %g", cfg->eta_min,
                       cfg->lr);
    if ((cfg->schedule == FW_SCHED_ONE_CYCLE || cfg->schedule == FW_SCHED_COSINE) &&
        cfg->warmup_epochs >= cfg->epochs)
        return fw_fail(err, FW_EINVAL,
                       "schedule.warmup_epochs %g must be below epochs %d for schedule=%s",
                       cfg->warmup_epochs, cfg->epochs, fw_schedule_kind_name(cfg->schedule));
    fw_learner_config lc;
    fw_run_config_learner(cfg, 1, 100, &lc);
    if (fw_schedule_validate(&lc.schedule, err) < 0)
        return fw_error_prefix(err, "schedule=%s: ", fw_schedule_kind_name(cfg->schedule));
    return FW_OK;
}

/* ---- translation ----------------------------------------------------------------- */

static int64_t epochs_to_steps(double epochs, int64_t steps_per_epoch)
{
    return (int64_t)llround(epochs * (double)steps_per_epoch);
}

void fw_run_config_learner(const fw_run_config *cfg, int n_classes, int64_t steps_per_epoch,
                           fw_learner_config *out)
{
    memset(out, 0, sizeof *out);

    fw_model_config *m = &out->model;
    fw_model_config_default(m);
    m->arch = cfg->arch;
    m->in_channels = cfg->channels;
    m->width_mult = cfg->width_mult;
    m->embedding_dim = cfg->embedding_dim;
    m->pool = cfg->pool;
    m->gem_p = cfg->gem_p;
    m->dropout = cfg->dropout;
    m->seed = cfg->seed;

    fw_head_config *h = &out->head;
    h->emb_dim = cfg->embedding_dim;
    h->classes = n_classes;
    h->seed = cfg->seed;
    if (cfg->losses & FW_RUN_LOSS_ARCFACE) {
        fw_head_term *t = &h->terms[h->n_terms++];
        t->kind = FW_LOSS_ARCFACE;
        t->weight = cfg->arcface_weight;
        t->arcface.scale = cfg->arcface_scale;
        t->arcface.margin = cfg->arcface_margin;
        t->arcface.subcenters = cfg->arcface_subcenters;
        t->arcface.label_smoothing = cfg->label_smoothing;
    }
    if (cfg->losses & FW_RUN_LOSS_SOFTMAX) {
        fw_head_term *t = &h->terms[h->n_terms++];
        t->kind = FW_LOSS_SOFTMAX;
        t->weight = cfg->softmax_weight;
        t->softmax.label_smoothing = cfg->label_smoothing;
        t->softmax_bias = 1;
    }
    if (cfg->losses & FW_RUN_LOSS_TRIPLET) {
        fw_head_term *t = &h->terms[h->n_terms++];
        t->kind = FW_LOSS_TRIPLET;
        t->weight = cfg->triplet_weight;
        t->triplet.margin = cfg->triplet_margin;
        t->triplet.soft_margin = cfg->triplet_soft;
    }
    if (cfg->losses & FW_RUN_LOSS_CONTRASTIVE) {
        fw_head_term *t = &h->terms[h->n_terms++];
        t->kind = FW_LOSS_CONTRASTIVE;
        t->weight = cfg->contrastive_weight;
        t->contrastive.margin = cfg->contrastive_margin;
    }

    fw_optim_config *o = &out->optim;
    fw_optim_config_default(o, cfg->optimizer);
    o->lr = cfg->lr;
    o->momentum = cfg->momentum;
    o->weight_decay = cfg->weight_decay;
    o->head_lr_mult = cfg->head_lr_mult;
    o->threads = cfg->threads;

    fw_schedule_config *s = &out->schedule;
    fw_schedule_config_default(s, cfg->schedule);
    s->lr_max = cfg->lr;
    s->total_steps = (int64_t)cfg->epochs * steps_per_epoch;
    s->momentum = cfg->momentum;
    if (cfg->schedule == FW_SCHED_ONE_CYCLE) {
        s->pct_start = cfg->pct_start;
        s->div = cfg->div;
        s->div_final = cfg->div_final;
    }
    s->eta_min = cfg->eta_min;
    s->t0 = epochs_to_steps(cfg->cycle_epochs, steps_per_epoch);
    if (s->t0 < 1)
        s->t0 = 1;
    s->t_mult = cfg->t_mult;
    s->step_size = epochs_to_steps(cfg->step_epochs, steps_per_epoch);
    if (s->step_size < 1)
        s->step_size = 1;
    s->gamma = cfg->gamma;
    s->warmup_steps = epochs_to_steps(cfg->warmup_epochs, steps_per_epoch);

    out->clip_norm = cfg->clip_norm;
    out->threads = cfg->threads;
    /* auto on the CPU is fp32; on a GPU fw_backend_for_device resolves it */
    out->precision = cfg->precision == FW_PRECISION_AUTO && strcmp(cfg->device, "cpu") == 0
                         ? FW_PRECISION_FP32
                         : cfg->precision;
    out->micro_batches = cfg->micro_batches;
    /* fp16 needs dynamic loss scaling; bf16 has fp32's range and fp32 needs none. */
    out->loss_scale = cfg->precision == FW_PRECISION_FP16 ? FW_LOSS_SCALE_INIT : 0;
}

void fw_run_config_augment(const fw_run_config *cfg, fw_augment_opts *out)
{
    /* The aug.* keys; the rest (normalisation) as the defaults have it: the
     * ImageNet mean/std per RGB channel, which fw_aug_params_draw averages
     * for a one-channel image (0.449 / 0.226). */
    *out = cfg->aug;
    fw_augment_opts defaults;
    fw_augment_opts_default(&defaults);
    memcpy(out->mean, defaults.mean, sizeof out->mean);
    memcpy(out->std, defaults.std, sizeof out->std);
    out->out_width = cfg->input_w;
    out->out_height = cfg->input_h;
}
