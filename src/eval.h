/* eval.h — evaluation of a re-identification model: cosine similarity of
 * query embeddings against gallery embeddings in bounded blocks (oneDNN
 * sgemm), per-row top-k without a full sort, per-whale aggregation (max
 * similarity over a whale's gallery images), five predictions per query with
 * new_whale inserted at a threshold, the threshold that maximises mAP@5 on a
 * validation set, mAP@5 as Kaggle defines it, and the submission file.
 *
 * Tie order (everywhere): equal similarities rank by the smaller gallery
 * index (top-k of images) or the smaller whale index (per-whale top-k). A NaN
 * similarity ranks below every number.
 *
 * Whales are small integers 0..n_whales-1; FW_NEW_WHALE (-1) is new_whale,
 * FW_NO_PRED (-2) an empty prediction slot (fewer than five whales exist).
 */
#ifndef FW_EVAL_H
#define FW_EVAL_H

#include <stddef.h>

#include "fw_error.h"

#define FW_MAP_K 5
#define FW_NEW_WHALE (-1)
#define FW_NO_PRED (-2)
#define FW_NEW_WHALE_NAME "new_whale"

/* L2-normalise each row of x (n, d) in place (in double); a zero row stays zero. */
void fw_l2_normalize(float *x, long n, int d);

/* Flip test-time augmentation: x = normalise(x + x_flip), both (n, d). */
void fw_merge_flip(float *x, const float *x_flip, long n, int d);

/* Bounds on the similarity blocks (rows of queries × rows of gallery held at
 * once; the scratch is q_block * g_block floats). 0 means the default. */
typedef struct fw_sim_opts {
    long q_block;  /* default 256 */
    long g_block;  /* default 4096 */
    int threads;   /* threads for the per-row scans; <= 0: all CPUs */
} fw_sim_opts;

/* Top-k of each row of a score matrix scores (n, m) -> out_index (n, k),
 * out_sim (n, k), best first (ties: smaller column), by a k-element heap per
 * row (no sort of the row). Slots beyond m hold -1 and -INFINITY. threads <= 0:
 * all CPUs. */
int fw_topk_rows(const float *scores, long n, long m, int k, int threads, long *out_index,
                 float *out_sim, fw_error *err);

/* Top-k gallery images by inner product for each query:
 *   queries (nq, d), gallery (ng, d) -> out_index (nq, k), out_sim (nq, k),
 * best first. Slots beyond ng hold index -1 and similarity -INFINITY.
 * Q×G is never materialised beyond one block. opts may be NULL. */
int fw_knn_topk(const float *queries, long nq, const float *gallery, long ng, int d, int k,
                const fw_sim_opts *opts, long *out_index, float *out_sim, fw_error *err);

/* Top-k whales per query, a whale's similarity being the max over its gallery
 * images; gallery_whale (ng) gives each image's whale in 0..n_whales-1, or
 * FW_NEW_WHALE for an image that is not a whale (skipped). Output
 * out_whale (nq, k), out_sim (nq, k), best first; slots beyond the whales
 * that have images hold FW_NO_PRED and -INFINITY. Scratch: q_block * n_whales
 * floats besides the similarity block. */
int fw_knn_whales(const float *queries, long nq, const float *gallery, long ng, int d,
                  const int *gallery_whale, int n_whales, int k, const fw_sim_opts *opts,
                  int *out_whale, float *out_sim, fw_error *err);

/* Five predictions per query from its per-whale top five (whale (nq, 5), sim
 * (nq, 5), best first): new_whale goes at the first position whose slot is
 * empty or whose similarity is below threshold; the rest shift right and the
 * fifth drops. A threshold of +INFINITY puts new_whale first, -INFINITY
 * never inserts it (unless a slot is empty). Output pred (nq, 5). */
void fw_predict_with_new_whale(const int *whale, const float *sim, long nq, float threshold,
                               int *pred);

/* mAP@5 (Kaggle): the mean over queries of 1/rank of the first prediction
 * equal to the truth (whale index or FW_NEW_WHALE), 0 when absent.
 * pred (n, 5), truth (n). n must be > 0 (returns 0 for n <= 0). */
double fw_map5(const int *pred, const int *truth, long n);

/* The threshold maximising mAP@5 of fw_predict_with_new_whale over a
 * validation set. Candidates: +INFINITY and every finite similarity in sim.
 * Search: each query's score depends only on how many of its five slots
 * reach t, so all 5n similarities are sorted once (descending) and swept,
 * adding each query's score change as t passes its values; the score is
 * kept exactly as an integer count of 1/60ths. O(n log n) time, O(n) memory.
 * Among equal best scores the largest threshold wins. Fills *best_threshold
 * and *best_map (either may be NULL). */
int fw_best_threshold(const int *whale, const float *sim, const int *truth, long n,
                      float *best_threshold, double *best_map, fw_error *err);

/* ---- submission files: header "Image,Id", per row an image name and up to
 * five space-separated ids ---- */

typedef struct fw_submission {
    long n;            /* rows */
    char **image;      /* (n) */
    int *n_ids;        /* (n) ids on the row, 0..5 */
    char **ids;        /* (n, 5), NULL beyond n_ids */
    long *line;        /* (n) line of each row in the file */
} fw_submission;

/* Write rows: image (n), ids (n, 5) with NULL for an empty slot. Names and
 * ids must be non-empty and hold no comma, quote, space or control byte. */
int fw_submission_write(const char *path, long n, const char *const *image,
                        const char *const *ids, fw_error *err);

/* Read a submission (max_ids 5) or a truth file (max_ids 1, exactly one id
 * per row). Refuses a bad header, a wrong field count, an empty image name,
 * more ids than max_ids and a duplicate image, as "FILE:LINE: ...". */
int fw_submission_read(const char *path, int max_ids, fw_submission *sub, fw_error *err);
void fw_submission_free(fw_submission *sub);

/* mAP@5 of a submission against a truth file (read with max_ids 1): every
 * truth image must have exactly one row and the submission no other rows;
 * the names are used in messages ("sub.csv:7: image 'x' is not in truth.csv"). */
int fw_submission_score(const fw_submission *sub, const char *sub_name,
                        const fw_submission *truth, const char *truth_name, double *map5,
                        fw_error *err);

#endif
