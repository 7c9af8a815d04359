/* run_config.h — a run's configuration: every setting of a training run as
 * one struct, its text form, validation and the translation into the
 * engine's configs (learner, loader, sampler, split).
 *
 * Text form (man/flukewatch.conf.5): UTF-8 lines `key = value`; `#` starts a
 * comment (whole line or after whitespace); blank lines are ignored; keys are
 * case-sensitive; a key given twice keeps the last value (so `train --config
 * FILE key=value` overrides the file). Every key is in one table
 * (fw_run_config_keys) with its type, range and one line of documentation;
 * an unknown key or a bad value is refused naming the key, the origin
 * ("FILE:LINE" or "command line") and what is accepted, and the run does
 * not start. fw_run_config_format writes every key in table order, so two
 * formatted configs can be compared line by line (compare, show).
 *
 * Values: integers and reals in C syntax (1e-3), booleans as 0/1/true/false/
 * yes/no/on/off, sizes as WxH ("256x128"), enumerations by name, lists of
 * enumeration names joined with '+' ("arcface+triplet"), strings as the rest
 * of the line with surrounding spaces removed.
 */
#ifndef FW_RUN_CONFIG_H
#define FW_RUN_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "augment_params.h"
#include "fw_error.h"
#include "learner.h"

#define FW_RUN_PATH_MAX 1024
#define FW_RUN_DEVICE_MAX 64

/* Where training images are augmented. */
typedef enum fw_augment_on {
    FW_AUGMENT_ON_AUTO = 0, /* the device on a GPU, the loader on the CPU */
    FW_AUGMENT_ON_LOADER,   /* the loader's threads make float batches */
    FW_AUGMENT_ON_DEVICE,   /* the backend makes them from parameters + the image cache */
} fw_augment_on;

/* Loss terms of the head (bit set; at least one). */
enum {
    FW_RUN_LOSS_ARCFACE = 1 << 0,
    FW_RUN_LOSS_SOFTMAX = 1 << 1,
    FW_RUN_LOSS_TRIPLET = 1 << 2,
    FW_RUN_LOSS_CONTRASTIVE = 1 << 3,
};

typedef struct fw_run_config {
    /* data */
    char dataset[FW_RUN_PATH_MAX];  /* dataset directory ("dataset"; "" = given by --dataset) */
    int input_w, input_h;           /* "input" WxH: network input (and cache) size */
    int channels;                   /* "channels" 1 or 3 */
    float val_query_share;          /* "val.query_share" (split.h) */
    float val_new_whale_share;      /* "val.new_whale_share" */
    /* model */
    int arch;                       /* "backbone" resnet18 | resnet34 | resnet50 */
    float width_mult;               /* "width" */
    int embedding_dim;              /* "embedding" */
    fw_neck_pool pool;              /* "pool" gem | avg */
    float gem_p;                    /* "gem_p" */
    float dropout;                  /* "dropout" */
    /* head (losses) */
    unsigned losses;                /* "head" FW_RUN_LOSS_* joined with '+' */
    double arcface_scale, arcface_margin;   /* "arcface.scale", "arcface.margin" */
    int arcface_subcenters;                 /* "arcface.subcenters" */
    double arcface_weight;                  /* "arcface.weight" */
    double softmax_weight;                  /* "softmax.weight" */
    double label_smoothing;                 /* "label_smoothing" (softmax, arcface) */
    double triplet_margin, triplet_weight;  /* "triplet.margin", "triplet.weight" */
    int triplet_soft;                       /* "triplet.soft" */
    double contrastive_margin, contrastive_weight; /* "contrastive.*" */
    /* sampler */
    int sampler_p, sampler_k, sampler_new;  /* "sampler.p", "sampler.k", "sampler.new_whale" */
    /* optimisation */
    fw_optim_kind optimizer;        /* "optimizer" sgd | adamw */
    double lr;                      /* "lr": peak lr of the schedule */
    double head_lr_mult;            /* "head_lr_mult" */
    double weight_decay;            /* "weight_decay" */
    double momentum;                /* "momentum" (SGD momentum / AdamW beta1) */
    double clip_norm;               /* "clip_norm" (0: off) */
    fw_schedule_kind schedule;      /* "schedule" */
    double pct_start, div, div_final;       /* "schedule.pct_start", ".div", ".div_final" */
    double eta_min;                         /* "schedule.eta_min" (cosine, sgdr) */
    double warmup_epochs;                   /* "schedule.warmup_epochs" */
    double cycle_epochs;                    /* "schedule.cycle_epochs" (sgdr: first cycle) */
    int t_mult;                             /* "schedule.t_mult" (sgdr: cycle growth) */
    double step_epochs;                     /* "schedule.step_epochs" (step: decay period) */
    double gamma;                           /* "schedule.gamma" (step: decay factor) */
    int epochs;                     /* "epochs" */
    int lr_find;                    /* "lr_find": run the LR finder first and use its valley */
    /* augmentation (a subset of fw_augment_opts, "aug.*" keys) */
    fw_augment_opts aug;            /* out size = input; mean/std by channels */
    /* hardware */
    fw_precision precision;         /* "precision" fp32 | bf16 | fp16 (cpu: fp32 only) */
    char device[FW_RUN_DEVICE_MAX]; /* "device" cpu | cuda | cuda:N[,M...] */
    int micro_batches;              /* "micro_batches": gradient accumulation per batch */
    int replicas;                   /* "replicas": in-process data parallel (0: auto) */
    fw_augment_on augment_on;       /* "augment_on" auto | loader | device */
    int threads;                    /* "threads": compute threads (0: all CPUs) */
    int loader_threads;             /* "loader_threads" (0: same as threads) */
    uint64_t seed;                  /* "seed" */
    /* cadence */
    int eval_every;                 /* "eval_every" epochs (0: only at the end) */
    int checkpoint_every;           /* "checkpoint_every" epochs */
    int keep_last;                  /* "keep_last" checkpoints besides the best */
    int tta_flip;                   /* "tta_flip" */
    int nan_limit;                  /* "nan_limit": this many skipped steps in a row fail the run */
} fw_run_config;

typedef enum fw_config_type {
    FW_CFG_INT,
    FW_CFG_U64,
    FW_CFG_REAL,
    FW_CFG_BOOL,
    FW_CFG_SIZE,
    FW_CFG_ENUM,
    FW_CFG_FLAGS,   /* '+'-joined enumeration names -> bit set */
    FW_CFG_STRING,
} fw_config_type;

typedef struct fw_config_key {
    const char *name;        /* "sampler.p" */
    fw_config_type type;
    double lo, hi;           /* numeric range (inclusive) */
    const char *choices;     /* ENUM/FLAGS: "sgd|adamw"; NULL otherwise */
    const char *doc;         /* one line */
} fw_config_key;

/* Every key, in the order fw_run_config_format writes them. */
const fw_config_key *fw_run_config_keys(int *n);

/* The default recipe (the one README's quickstart trains). */
void fw_run_config_default(fw_run_config *cfg);

/* Set one key from its text value. origin names where it came from for the
 * message ("run.conf:12", "command line"). FW_EINVAL naming key, origin and
 * what is accepted; FW_ENOTFOUND for an unknown key (with the closest key
 * suggested when one is near). */
int fw_run_config_set(fw_run_config *cfg, const char *key, const char *value,
                      const char *origin, fw_error *err);

/* "key=value" (command line form). */
int fw_run_config_set_arg(fw_run_config *cfg, const char *arg, fw_error *err);

/* Parse text (lines as above) over cfg; name is used in messages. */
int fw_run_config_parse(fw_run_config *cfg, const char *text, const char *name, fw_error *err);
/* Read and parse a file. */
int fw_run_config_load(fw_run_config *cfg, const char *path, fw_error *err);

/* Checks across keys (sampler sizes, precision on the device, loss weights
 * all zero, ...). FW_EINVAL naming the keys. */
int fw_run_config_validate(const fw_run_config *cfg, fw_error *err);

/* Every key as "key = value\n" in table order; *text is malloc'd. */
int fw_run_config_format(const fw_run_config *cfg, char **text, fw_error *err);

/* The value of one key as text (as fw_run_config_format writes it). */
int fw_run_config_get(const fw_run_config *cfg, const char *key, char *buf, size_t cap,
                      fw_error *err);

/* The engine's configs. n_classes: known whales in the training set;
 * steps_per_epoch: batches per epoch (for the schedule length and warm-up). */
void fw_run_config_learner(const fw_run_config *cfg, int n_classes, int64_t steps_per_epoch,
                           fw_learner_config *out);
/* The training augmentation (output size = input; mean/std for channels). */
void fw_run_config_augment(const fw_run_config *cfg, fw_augment_opts *out);

/* The "device" value: cpu (*n_ids = 0) or cuda with the listed GPU ids in
 * order ("cuda" alone is GPU 0). ids may be NULL to only check the syntax;
 * at most cap ids are written. FW_EINVAL for anything else (an empty list, a
 * repeated id, an id over 1023). */
int fw_run_config_device_parse(const char *device, int *is_cuda, int *ids, int cap, int *n_ids,
                               fw_error *err);

#endif
