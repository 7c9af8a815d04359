/* optim.h — SGD (momentum, Nesterov) and AdamW over an fw_param_list, with
 * PyTorch's update formulas, plus gradient clipping by global norm.
 *
 * Trained tensors are the items with a grad and without FW_PARAM_BUFFER
 * (buffers are never touched). Weight decay skips FW_PARAM_NO_DECAY items;
 * FW_PARAM_HEAD items use lr * head_lr_mult (as a separate PyTorch param
 * group with that lr would). The schedule sets lr and momentum (AdamW: beta1)
 * before each step with fw_optim_set_hyper.
 *
 * SGD  (torch.optim.SGD, dampening 0):   d = g + wd*p;
 *      buf = d on its first update, else buf = momentum*buf + d;
 *      d = nesterov ? d + momentum*buf : buf;   p -= lr*d
 *      (momentum 0: p -= lr*d, no buffer).
 * AdamW (torch.optim.AdamW, amsgrad off): t += 1; p *= 1 - lr*wd;
 *      m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g*g;
 *      p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
 *
 * Optimizer state is a list of named tensors (fw_optim_state), flagged
 * FW_PARAM_BUFFER, so checkpoints save and restore it by name:
 *   "optim.<param>.momentum_buffer", "optim.<param>.step"          (SGD)
 *   "optim.<param>.exp_avg", "optim.<param>.exp_avg_sq", "optim.<param>.step" (AdamW)
 * The step tensors hold the count as a float (shape (1), like PyTorch 1.13's
 * state['step']); for SGD it counts momentum-buffer updates (0 = no buffer
 * yet). Everything the next step needs is in those tensors, so writing saved
 * values back into them continues the run exactly.
 */
#ifndef FW_OPTIM_H
#define FW_OPTIM_H

#include "fw_error.h"
#include "optim_math.h"
#include "param.h"

typedef enum fw_optim_kind {
    FW_OPTIM_SGD = 0,
    FW_OPTIM_ADAMW = 1,
} fw_optim_kind;

typedef struct fw_optim_config {
    fw_optim_kind kind;
    double lr;           /* initial lr (the schedule overrides it each step) */
    double momentum;     /* SGD momentum, AdamW beta1 (schedule may override) */
    double beta2;        /* AdamW */
    double eps;          /* AdamW */
    double weight_decay; /* SGD: L2 added to the gradient; AdamW: decoupled */
    int nesterov;        /* SGD */
    double head_lr_mult; /* lr multiplier for FW_PARAM_HEAD tensors (1 = none) */
    int threads;         /* worker threads for the update (<= 0: all CPUs) */
} fw_optim_config;

/* Defaults for `kind`. AdamW: PyTorch's (lr 1e-3, betas (0.9, 0.999), eps
 * 1e-8, weight decay 1e-2). SGD: the usual ResNet recipe (PyTorch has no
 * default lr): lr 0.1, momentum 0.9, no Nesterov, weight decay 5e-4.
 * head_lr_mult 1, threads 0. */
void fw_optim_config_default(fw_optim_config *cfg, fw_optim_kind kind);

/* "sgd" / "adamw" -> kind; FW_EINVAL for anything else. */
int fw_optim_kind_parse(const char *name, fw_optim_kind *kind, fw_error *err);
const char *fw_optim_kind_name(fw_optim_kind kind);

typedef struct fw_optim fw_optim;

/* Create an optimizer over `params` (borrowed; must outlive it). State starts
 * at zero (no step taken). FW_EINVAL for bad hyper-parameters or a state name
 * longer than FW_PARAM_NAME_MAX. */
int fw_optim_create(fw_optim **out, const fw_optim_config *cfg, fw_param_list *params,
                    fw_error *err);
void fw_optim_destroy(fw_optim *opt);

/* Set the lr and momentum (AdamW: beta1) for the following steps. */
void fw_optim_set_hyper(fw_optim *opt, double lr, double momentum);
double fw_optim_lr(const fw_optim *opt);
double fw_optim_momentum(const fw_optim *opt);

/* One update of every trained tensor from its grad. Grads are not zeroed.
 * FW_ETOOBIG once a step count reaches 2^24 (float step tensors stay exact). */
int fw_optim_step(fw_optim *opt, fw_error *err);

/* ---- a step in parts, for an update partly done elsewhere (a GPU) ----
 * fw_optim_step = fw_optim_prepare + fw_optim_update + fw_optim_finish.
 * Tensors marked external get their coefficients from prepare but are left
 * to the caller (who applies fw_sgd_elem / fw_adamw_elem with them). */
typedef struct fw_optim_tensor {
    fw_param *param;   /* the trained tensor */
    fw_param *buf;     /* SGD momentum_buffer / AdamW exp_avg (param's shape) */
    fw_param *sq;      /* AdamW exp_avg_sq, NULL for SGD */
    fw_param *step;    /* (1) step count */
    fw_optim_coeffs c; /* this step's coefficients (set by fw_optim_prepare) */
    int external;      /* 1: fw_optim_update leaves it alone */
} fw_optim_tensor;

/* The trained tensors in parameter order; *n receives their count. */
fw_optim_tensor *fw_optim_tensors(fw_optim *opt, int *n);
/* Check the lr and momentum, fill *h and every tensor's coefficients. */
int fw_optim_prepare(fw_optim *opt, fw_optim_hyper *h, fw_error *err);
/* Update the tensors that are not external (after prepare). */
int fw_optim_update(fw_optim *opt, fw_error *err);
/* Advance the step counts (after the update, wherever it ran). */
void fw_optim_finish(fw_optim *opt);

/* The named state tensors (owned by the optimizer; write into their data to
 * restore). */
fw_param_list *fw_optim_state(fw_optim *opt);

/* Reset all state to zero (as if freshly created). */
void fw_optim_reset(fw_optim *opt);

/* Global L2 norm of the grads of the trained tensors (as one vector), summed
 * in double in a fixed order. */
double fw_grad_global_norm(const fw_param_list *params);

/* torch.nn.utils.clip_grad_norm_: total = global L2 norm of the grads; if
 * total is finite and max_norm/(total+1e-6) < 1, every grad is multiplied by
 * that factor. *total_norm receives the norm (before clipping). Returns 0,
 * FW_CLIP_NONFINITE when the norm is NaN or infinite (grads left untouched:
 * the caller should skip the step), or FW_EINVAL when max_norm <= 0. */
#define FW_CLIP_NONFINITE 1
int fw_clip_grad_norm(fw_param_list *params, double max_norm, double *total_norm,
                      fw_error *err);

#endif
