/* dataset.h — a Kaggle "Humpback Whale Identification" dataset on disk:
 *   DIR/train/*.jpg, DIR/test/*.jpg, DIR/train.csv (Image,Id; "new_whale" for
 *   unidentified whales), DIR/sample_submission.csv (Image,Id), and optionally
 *   DIR/test_truth.csv (Image,Id: flukewatch synth writes it) and a bounding-box
 *   CSV (Image,x0,y0,x1,y1).
 */
#ifndef FW_DATASET_H
#define FW_DATASET_H

#include "../src/fw_error.h"

#define FW_NEW_WHALE (-1)
#define FW_NEW_WHALE_ID "new_whale"

typedef struct fw_bbox {
    float x0, y0, x1, y1; /* pixels in the original image */
    int valid;            /* 0 when no box was given for this image */
} fw_bbox;

typedef struct fw_sample {
    char *image;   /* file name inside train/ or test/ (no '/', no "..") */
    int whale;     /* index into fw_dataset.whales, or FW_NEW_WHALE */
    fw_bbox box;
} fw_sample;

typedef struct fw_dataset {
    char *root;          /* dataset directory */
    fw_sample *train;    /* rows of train.csv, in file order */
    long n_train;
    char **whales;       /* distinct whale ids except new_whale, sorted (strcmp) */
    int n_whales;
    fw_sample *test;     /* rows of sample_submission.csv (whale from test_truth.csv
                            when present, else FW_NEW_WHALE with has_test_truth = 0) */
    long n_test;
    int has_test_truth;
} fw_dataset;

typedef struct fw_dataset_opts {
    const char *bbox_csv;   /* optional bounding boxes (NULL = none; also tried:
                               DIR/bounding_boxes.csv when present) */
    int require_test;       /* 1: sample_submission.csv must exist */
} fw_dataset_opts;

/* Load and validate; every error names the file and line. */
int fw_dataset_load(fw_dataset *ds, const char *root, const fw_dataset_opts *opts,
                    fw_error *err);
void fw_dataset_free(fw_dataset *ds);

/* "ROOT/SUBDIR/NAME" into buf; FW_ETOOBIG if it does not fit. */
int fw_dataset_path(const fw_dataset *ds, const char *subdir, const char *name,
                    char *buf, size_t bufsz, fw_error *err);

/* Index of a whale id (binary search), FW_NEW_WHALE for "new_whale", or -2 if unknown. */
int fw_dataset_whale_index(const fw_dataset *ds, const char *id);

/* 1 if a file name is acceptable as an Image value (non-empty, no '/', '\\',
 * no "..", no control characters). */
int fw_image_name_ok(const char *name);

#endif
