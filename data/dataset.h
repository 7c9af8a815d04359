/* dataset.h — a Kaggle "Humpback Whale Identification" dataset on disk:
 *   DIR/train/ and DIR/test/ (JPEG files), DIR/train.csv (Image,Id; "new_whale" for
 *   unidentified whales), DIR/sample_submission.csv (Image,Id), and optionally
 *   DIR/test_truth.csv (Image,Id: flukewatch synth writes it) and a bounding-box
 *   CSV (Image,x0,y0,x1,y1).
 *
 * Rules fw_dataset_load applies (each refusal names the file and line):
 *   - CSV syntax as in csv_read.h (RFC 4180, BOM, CRLF, blank lines skipped);
 *     headers are compared ignoring ASCII case and surrounding spaces;
 *   - Image values must pass fw_image_name_ok; a name listed twice in the same
 *     file is refused (the same name in train.csv and sample_submission.csv
 *     is allowed: they are files in different directories);
 *   - Id values are kept byte for byte as given (no trimming) and must be
 *     non-empty, valid UTF-8; control characters are allowed in the data and
 *     removed only when printed (fw_sanitize). Invalid UTF-8 is refused: two
 *     ids that differ only in bad bytes would print the same;
 *   - the sample_submission.csv Id column is not used (Kaggle fills it with
 *     example predictions);
 *   - test_truth.csv must have one row per test image and no others; a true
 *     id that no train image has is new_whale for scoring (the Kaggle rule:
 *     a whale the model was never shown is a new whale), counted in
 *     n_test_unseen;
 *   - bounding boxes: x0,y0,x1,y1 finite, >= 0, x1 > x0, y1 > y0; a box for
 *     an image in neither list is ignored and counted (box files often cover
 *     a larger set than a trimmed train.csv); a box listed twice is refused;
 *   - DIR/train/ must exist, and DIR/test/ when there are test images.
 * Images themselves are not opened here (see decode.h / image_cache.h).
 */
#ifndef FW_DATASET_H
#define FW_DATASET_H

#include <stddef.h>

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
    long n_test_unseen;  /* test_truth ids that no train image has (scored as new_whale) */
    char *bbox_path;     /* the box file that was read, or NULL */
    long n_boxes;        /* samples (train + test) that got a box */
    long n_boxes_unmatched; /* box rows for images in neither list (ignored) */
} fw_dataset;

typedef struct fw_dataset_opts {
    const char *bbox_csv;   /* optional bounding boxes (NULL = none; also tried:
                               DIR/bounding_boxes.csv when present) */
    int require_test;       /* 1: sample_submission.csv must exist */
} fw_dataset_opts;

/* Load and validate; every error names the file and line. opts may be NULL.
 * On failure *ds is left empty (safe to fw_dataset_free). */
int fw_dataset_load(fw_dataset *ds, const char *root, const fw_dataset_opts *opts,
                    fw_error *err);
void fw_dataset_free(fw_dataset *ds);

/* "ROOT/SUBDIR/NAME" into buf; FW_ETOOBIG if it does not fit. */
int fw_dataset_path(const fw_dataset *ds, const char *subdir, const char *name,
                    char *buf, size_t bufsz, fw_error *err);

/* Index of a whale id (binary search), FW_NEW_WHALE for "new_whale", or -2 if unknown. */
int fw_dataset_whale_index(const fw_dataset *ds, const char *id);

/* 1 if a file name is acceptable as an Image value: non-empty, valid UTF-8,
 * no '/', '\\', no "..", not ".", no control characters (C0, DEL, C1). */
int fw_image_name_ok(const char *name);

/* 1 if s is valid UTF-8 (no overlong forms, surrogates or code points > U+10FFFF). */
int fw_utf8_valid(const char *s);

#endif
