/* synth_dataset.h — plans a synthetic Kaggle-layout dataset and writes it.
 *
 * The plan mirrors the identity distribution of the real "Humpback Whale
 * Identification" data scaled to n_whales known whales (the real one has
 * 5,004): images per whale follow the real histogram (41% singletons, ~26%
 * with 2, ~11% with 3, a power-law tail up to ~70 at full scale), train also
 * holds 1.93 new_whale images per known whale (38% of train), and the test
 * set has 1.59 images per known whale, 28% of them new_whale and the rest
 * drawn from the known whales in proportion to their photo counts.
 *
 * Every image i (train first, then test) is rendered from the RNG stream
 * (seed, i); known whale w has identity w, and the k-th new_whale image gets
 * the fresh identity n_whales + k. Output files are byte-identical for a
 * given seed and options, whatever the thread count.
 *
 *   DIR/train/XXXXXXXX.jpg  DIR/test/XXXXXXXX.jpg   (8 hex digits, unique)
 *   DIR/train.csv               Image,Id            (w_ + 7 hex, or new_whale)
 *   DIR/sample_submission.csv   Image,Id            (a placeholder prediction)
 *   DIR/test_truth.csv          Image,Id            (the true id of each test image)
 *   DIR/.flukewatch-synth       marker: lets a later run replace this output
 *
 * Images are written to a temporary name and renamed; the CSVs are written
 * last (temp file, fsync, rename), so a killed run never leaves a CSV that
 * names missing images.
 */
#ifndef FW_SYNTH_DATASET_H
#define FW_SYNTH_DATASET_H

#include <stdint.h>

#include "../src/fw_error.h"
#include "image.h"
#include "synth_render.h"

#define FW_SYNTH_DEFAULT_WHALES 300
#define FW_SYNTH_DEFAULT_SEED 42ull
#define FW_SYNTH_MAX_WHALES 100000
#define FW_SYNTH_MARKER ".flukewatch-synth"

typedef struct fw_synth_opts {
    uint64_t seed;
    int n_whales;       /* 1..FW_SYNTH_MAX_WHALES */
    int width, height;  /* both > 0: every image exactly this size; 0: drawn per image */
    int threads;        /* <= 0: all CPUs */
    int force;          /* write into a non-empty directory that is not a synth output */
    void (*progress)(void *ctx, long done, long total); /* may be NULL; called from workers */
    void *progress_ctx;
} fw_synth_opts;

typedef struct fw_synth_item {
    uint32_t name;      /* file name: "%08x.jpg" */
    int whale;          /* known whale index, or -1 for new_whale */
    int test;           /* 0 train, 1 test */
    uint64_t identity;  /* identity index used to render it */
} fw_synth_item;

typedef struct fw_synth_plan {
    uint64_t seed;
    int n_whales;
    int width, height;
    fw_synth_item *items;     /* (n_items) train items first, then test; index = RNG stream */
    long n_items, n_train, n_test;
    long n_train_new, n_test_new;
    int *train_count;         /* (n_whales) train images per known whale */
    uint32_t *whale_code;     /* (n_whales) 28-bit codes, distinct: id is "w_%07x" */
    fw_synth_sea *sea;        /* the dataset's noise tile */
    long *unit_items;         /* (n_items) item indices grouped by identity */
    long *unit_start;         /* (n_units + 1) group g is unit_items[unit_start[g] .. unit_start[g+1]) */
    long n_units;
} fw_synth_plan;

typedef struct fw_synth_stats {
    long n_train, n_train_known, n_train_new;
    long n_test, n_test_known, n_test_new;
    int n_whales, singletons, max_images, whales_ge10;
    int top_whales[4]; /* the four whales with the most train images (for the placeholder) */
} fw_synth_stats;

/* Build the plan (no files). */
int fw_synth_plan_make(const fw_synth_opts *opts, fw_synth_plan *plan, fw_error *err);
void fw_synth_plan_free(fw_synth_plan *plan);
void fw_synth_plan_stats(const fw_synth_plan *plan, fw_synth_stats *stats);

/* "w_1a2b3c4" (buf >= 10 bytes) or "new_whale" (buf >= 10) for whale -1. */
void fw_synth_whale_id(const fw_synth_plan *plan, int whale, char *buf, size_t bufsz);

/* Per-thread state for rendering plan items (identity cache, scratch buffers). */
typedef struct fw_synth_worker fw_synth_worker;
int fw_synth_worker_new(fw_synth_worker **worker, fw_error *err);
void fw_synth_worker_free(fw_synth_worker *worker);

/* Render plan item i. *image views the worker's buffers (valid until its next
 * render); photo (may be NULL) receives the photo parameters, identity (may be
 * NULL) points to the identity used. */
int fw_synth_render_item(const fw_synth_plan *plan, long item, fw_synth_worker *worker,
                         fw_image *image, fw_synth_photo *photo,
                         const fw_synth_identity **identity, fw_error *err);

/* Render and JPEG-encode plan item i; *jpeg is malloc'ed (caller frees). */
int fw_synth_encode_item(const fw_synth_plan *plan, long item, fw_synth_worker *worker,
                         uint8_t **jpeg, size_t *len, fw_error *err);

/* Check/prepare DIR (create it; refuse a non-empty DIR that is not a previous
 * synth output unless opts->force; clear a previous output), render every
 * image on opts->threads workers, then write the CSVs. */
int fw_synth_write(const char *dir, const fw_synth_opts *opts, const fw_synth_plan *plan,
                   fw_error *err);

#endif
