/* trainer.h — one training run on its own thread, recorded in the run store.
 *
 * The thread opens its own store connection, marks the run running (this
 * process becomes its owner), loads the run's data (run_data.h), builds the
 * learner and, when resuming, restores the newest checkpoint that loads
 * (weights, optimizer, schedule step and sampler position: the run goes on
 * as if it had never stopped). Optionally an LR range test first (its curve
 * is stored and its valley becomes the peak lr). Then epochs of P×K batches
 * from the loader (prepared ahead on worker threads while the learner
 * computes), the schedule stepping with each applied update; metrics are
 * written in batches (train.loss, train.lr, train.momentum, train.grad_norm
 * per step; train.img_per_s, train.data_wait per epoch); every eval_every
 * epochs and at the end the validation evaluation (val.map5, val.top1,
 * val.threshold, val.loss and every query's top five); checkpoints every
 * checkpoint_every epochs (the last keep_last plus best.fwc by val.map5).
 *
 * A step whose loss or gradient is NaN/Inf is skipped (the schedule does not
 * advance) and recorded as a nan_step event; nan_limit of them in a row fail
 * the run. Control: pause (at the next step boundary; the thread sleeps on a
 * condition variable and the loader's workers idle once their prefetch is
 * full), resume, stop (checkpoint at the current position, then the run is
 * marked interrupted: `flukewatch resume` continues it). Requests come from
 * this process (fw_trainer_control) or from any process through the store's
 * control requests, polled every ~250 ms. *interrupt (a signal flag) acts as
 * stop.
 *
 * Checkpoints live in WORKSPACE/runs/RUNID/checkpoints and carry the
 * effective config text (the LR finder's lr written in), which is what a
 * resume trains with.
 *
 * Data parallel (opts.dist with R > 1 ranks, every rank starting a trainer
 * on the same run): rank 0 alone opens the store and writes the run's
 * status, metrics, events, evaluations and checkpoints; the other ranks
 * touch no store. Rank 0 loads the data first (filling the disk cache),
 * then the others. Every rank builds the same sampler and takes its shard
 * of each batch from the loader (fw_loader_opts.shard_*); the learner
 * synchronises BN statistics and sums gradients (learner.h). At every step
 * boundary the ranks agree on stopping (an all-reduce of their stop flags:
 * rank 0's control requests and pause, any rank's interrupt). Evaluation
 * runs on rank 0 alone while the others wait at the next step boundary. A
 * resume has every rank read the same newest checkpoint. An error on one
 * rank leaves the others waiting in a collective: the caller must end the
 * group (fw_dist_abort) after fw_trainer_join returns an error (rank 0 has
 * recorded the failure in the store by then).
 */
#ifndef FW_TRAINER_H
#define FW_TRAINER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "dist.h"
#include "fw_error.h"
#include "run_config.h"
#include "store.h"

typedef struct fw_trainer fw_trainer;

typedef struct fw_trainer_opts {
    const char *workspace;       /* the store's workspace */
    const char *run_id;          /* an existing run: queued (new) or interrupted (resume) */
    const fw_run_config *cfg;    /* copied; for resume the checkpoint's config wins */
    int resume;                  /* 1: continue from the newest checkpoint */
    int lr_find_only;            /* 1: only the LR range test (stored), then finished */
    const char *cache_dir;       /* decoded-image cache directory, NULL/"" for none */
    const volatile sig_atomic_t *interrupt; /* may be NULL; non-zero = stop */
    fw_dist *dist;               /* data-parallel group (not owned); NULL: one process */
} fw_trainer_opts;

typedef enum fw_trainer_phase {
    FW_PHASE_STARTING = 0,
    FW_PHASE_LOADING,    /* decoding images into the cache */
    FW_PHASE_LR_FIND,
    FW_PHASE_TRAINING,
    FW_PHASE_EVALUATING,
    FW_PHASE_PAUSED,
    FW_PHASE_DONE,
} fw_trainer_phase;

const char *fw_trainer_phase_name(fw_trainer_phase p);

/* A consistent snapshot for progress displays. */
typedef struct fw_trainer_state {
    fw_trainer_phase phase;
    long done, total;            /* progress of the phase (images, steps, ...) */
    int64_t step, total_steps;   /* applied updates of the whole run */
    long epoch;                  /* completed epochs */
    int epochs;
    double loss, lr;             /* last step */
    double img_per_s;            /* training images/s over the last ~20 steps */
    double data_wait;            /* share of step time spent waiting for batches */
    double best_map5;            /* -1 before the first evaluation */
    double last_map5;            /* -1 before the first evaluation */
    long last_eval_epoch;        /* the epoch last_map5 belongs to (-1: none) */
    int64_t skipped;             /* non-finite steps skipped */
    long start_epoch;            /* completed epochs when this process began training
                                    (-1 until then) */
} fw_trainer_state;

/* What one completed epoch did (for per-epoch lines). */
typedef struct fw_epoch_summary {
    long epoch;                  /* 1-based */
    int64_t step;                /* updates applied at its end */
    double loss;                 /* mean training loss of its applied steps */
    double lr;                   /* lr of its last step */
    double img_per_s, data_wait; /* training images/s, share of time waiting for data */
    double val_map5;             /* its evaluation, or -1 when it had none */
    double best_map5;            /* best so far, -1 before the first evaluation */
} fw_epoch_summary;

/* The summary of epoch `epoch` trained by this trainer; FW_ENOTFOUND when it
 * has not completed (or was trained by an earlier process). */
int fw_trainer_epoch_summary(fw_trainer *t, long epoch, fw_epoch_summary *out);

/* Whether cfg can start a run: it validates, names a dataset, and that
 * dataset loads (checked before a run is created for data it cannot read). */
int fw_trainer_check_config(const fw_run_config *cfg, fw_error *err);

/* Create a queued run for cfg in the store, its formatted text as the run's
 * config. name NULL/"" = "train" (or "lr-find" when lr_find_only); parent
 * NULL/"" = none. */
int fw_trainer_create_run(fw_store *s, const fw_run_config *cfg, const char *name,
                          const char *parent, int lr_find_only, char id_out[FW_RUN_ID_CAP],
                          fw_error *err);

/* The same with the run's backend and devices fields given (e.g. "cpu" and
 * "cpu x2 ranks (MPI)" for a data-parallel run; backend NULL: "cpu" or "cuda"
 * from the config's device). */
int fw_trainer_create_run_on(fw_store *s, const fw_run_config *cfg, const char *name,
                             const char *parent, int lr_find_only, const char *backend,
                             const char *devices, char id_out[FW_RUN_ID_CAP], fw_error *err);

/* Start the thread (the run must exist in the store). Errors before the
 * thread starts are returned here; later ones come from fw_trainer_join and
 * are also recorded in the store (status failed with an error event). */
int fw_trainer_start(const fw_trainer_opts *opts, fw_trainer **out, fw_error *err);

void fw_trainer_get_state(fw_trainer *t, fw_trainer_state *s);

/* Ask this process's trainer to pause, resume or stop (returns at once). */
void fw_trainer_control(fw_trainer *t, fw_control_action a);

/* Wait for the thread, free t, and return the run's outcome: FW_OK when it
 * finished or was stopped (*stopped = 1 then; may be NULL), the error
 * otherwise. */
int fw_trainer_join(fw_trainer *t, int *stopped, fw_error *err);

/* WORKSPACE/runs/RUNID/checkpoints into buf. */
int fw_trainer_checkpoint_dir(const char *workspace, const char *run_id, char *buf, size_t cap,
                              fw_error *err);

#endif
