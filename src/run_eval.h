/* run_eval.h — evaluate a learner on its run's validation split, as Kaggle
 * would score it: every validation query against the gallery (the training
 * images of known whales), per-whale max cosine similarity, new_whale
 * inserted at the threshold that maximises mAP@5 on these queries, mAP@5
 * and top-1 of those predictions, and the top-5 predictions of every query
 * with their similarities (a new_whale slot carries the threshold), ready
 * for fw_store_eval_put.
 */
#ifndef FW_RUN_EVAL_H
#define FW_RUN_EVAL_H

#include <stdint.h>

#include "embed.h"
#include "run_config.h"
#include "run_data.h"
#include "store.h"

typedef struct fw_run_eval_opts {
    int tta_flip;
    int threads;
    fw_progress_fn progress; /* optional: (ctx, done, total images embedded) */
    void *progress_ctx;
} fw_run_eval_opts;

/* Fill out (queries included; free with fw_evaluation_free). out->run_id,
 * checkpoint, step and epoch are left for the caller. *val_loss gets the
 * head's loss on the known-whale queries (unflipped embeddings), NaN when it
 * cannot be computed (e.g. a pair loss with one image per whale). */
int fw_run_evaluate(fw_learner *l, const fw_run_data *d, const fw_run_config *cfg,
                    const fw_run_eval_opts *opts, fw_evaluation *out, double *val_loss,
                    fw_error *err);

/* Embeddings (n, D) of the gallery (all known-whale train.csv images when
 * whole_train, else d->gallery), and their whale per row; for predict.
 * The three arrays are malloc'd (free them). */
int fw_run_embed_gallery(fw_learner *l, const fw_run_data *d, const fw_run_config *cfg,
                         const fw_run_eval_opts *opts, int whole_train, long **items,
                         int **whales, float **emb, long *n, fw_error *err);

#endif
