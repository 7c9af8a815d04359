/* inspect.h — the facts `flukewatch data inspect` shows about a dataset: counts,
 * the images-per-whale histogram, image sizes and grayscale share, and every
 * unreadable image with its reason. This computes a report; it never prints
 * (src/cmd_data_inspect.c does, through fw_sanitize).
 *
 * Every image listed in train.csv and sample_submission.csv is read, probed
 * for its size and colour (fw_jpeg_probe) and decoded at the cheapest DCT
 * scale (fw_jpeg_decode with min 1x1, i.e. 1/8) so that truncated or corrupt
 * files are caught without the cost of a full decode.
 */
#ifndef FW_INSPECT_H
#define FW_INSPECT_H

#include "dataset.h"

#define FW_INSPECT_BINS 5 /* whales with 1, 2, 3, 4-10, >10 images */
#define FW_INSPECT_TOP 5  /* the whales with the most images */

typedef struct fw_inspect_opts {
    int threads;            /* <= 0: all CPUs */
    int work_w, work_h;     /* > 0: count readable images smaller than this */
    void (*progress)(void *ctx, long done, long total); /* optional, from workers */
    void *progress_ctx;
} fw_inspect_opts;

typedef struct fw_inspect_bin {
    const char *label;      /* "1", "2", "3", "4-10", ">10" */
    int lo, hi;             /* image counts covered (hi = 0: no upper bound) */
    long whales, images;
} fw_inspect_bin;

typedef struct fw_inspect_bad {
    int in_test;            /* 0: train/, 1: test/ */
    char *image;            /* file name as listed (raw: sanitise to print) */
    int code;               /* FW_ENOTFOUND when missing, else the read/decode error */
    char *reason;           /* "missing", or the reader's / decoder's message */
} fw_inspect_bad;

typedef struct fw_inspect_report {
    long n_train, n_test;
    int n_whales;                 /* known whales (ids except new_whale) */
    long train_new_whale;         /* new_whale rows in train.csv */
    int has_test_truth;
    long test_new_whale;          /* test images whose truth is new_whale (incl. unseen) */
    long test_unseen;             /* of those, ids that train.csv does not have */
    fw_inspect_bin bins[FW_INSPECT_BINS];
    int n_top;
    int top_whale[FW_INSPECT_TOP];    /* whale indices, most images first (ties: id order) */
    long top_count[FW_INSPECT_TOP];
    long n_boxes, n_boxes_unmatched;
    int has_boxes;
    /* images */
    long n_images;                /* n_train + n_test */
    long n_readable;
    long n_gray;                  /* readable single-channel JPEGs */
    int min_w, max_w, median_w;   /* over readable images; lower median */
    int min_h, max_h, median_h;
    int work_w, work_h;
    long n_smaller;               /* readable images narrower than work_w or shorter than work_h */
    fw_inspect_bad *bad;          /* (n_bad) train rows first, each in file order */
    long n_bad;
} fw_inspect_report;

/* Fill rep (caller frees with fw_inspect_free). Unreadable images are facts,
 * not errors: the call fails only for lack of memory or bad options. */
int fw_inspect(const fw_dataset *ds, const fw_inspect_opts *opts, fw_inspect_report *rep,
               fw_error *err);
void fw_inspect_free(fw_inspect_report *rep);

#endif
