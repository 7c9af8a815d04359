/* micro_batch.c — a batch through the model in micro-batches (see micro_batch.h). */
#include "micro_batch.h"

#include <stdlib.h>
#include <string.h>

void fw_micro_batch_init(fw_micro_batch *mb, int k)
{
    memset(mb, 0, sizeof *mb);
    mb->k = k < 1 ? 1 : k;
}

void fw_micro_batch_free(fw_micro_batch *mb)
{
    free(mb->scratch);
    free(mb->saved_stats);
    mb->scratch = NULL;
    mb->saved_stats = NULL;
    mb->scratch_cap = mb->saved_cap = 0;
}

static int micro_count(const fw_micro_batch *mb, int n)
{
    return mb->k < n ? mb->k : (n > 0 ? n : 1);
}

/* Micro-batch i's dropout stream: the step itself for the first (so k = 1
 * draws exactly the masks of a plain forward), distinct for the others. */
static uint64_t micro_stream(uint64_t step, int i)
{
    return step + ((uint64_t)i << 40);
}

/* First row of micro-batch i of k over n rows. */
static int micro_start(int i, int k, int n)
{
    return (int)((int64_t)i * n / k);
}

/* Rows [a, b) of the input through the model (training), embeddings into emb. */
static int forward_rows(fw_model *m, uint64_t stream, const fw_batch_input *in, int a, int b,
                        int h, int w, float *emb, fw_error *err)
{
    if (in->x) {
        size_t image = (size_t)fw_model_get_config(m)->in_channels * h * w;
        return fw_model_forward(m, 1, stream, in->x + (size_t)a * image, b - a, h, w, emb, err);
    }
    return fw_model_forward_augmented(m, 1, stream, in->params + a, in->items + a, b - a, h, w,
                                      emb, err);
}

static int grow_scratch(fw_micro_batch *mb, size_t floats, fw_error *err)
{
    if (floats <= mb->scratch_cap)
        return FW_OK;
    float *s = realloc(mb->scratch, floats * sizeof *s);
    if (!s)
        return fw_fail(err, FW_ENOMEM, "micro-batches: cannot allocate %zu floats", floats);
    mb->scratch = s;
    mb->scratch_cap = floats;
    return FW_OK;
}

int fw_micro_batch_forward(fw_micro_batch *mb, fw_model *m, uint64_t step,
                           const fw_batch_input *in, int n, int h, int w, float *emb,
                           fw_error *err)
{
    int k = micro_count(mb, n);
    size_t dim = (size_t)fw_model_get_config(m)->embedding_dim;
    for (int i = 0; i < k; i++) {
        int a = micro_start(i, k, n), b = micro_start(i + 1, k, n);
        FW_TRY(forward_rows(m, micro_stream(step, i), in, a, b, h, w, emb + (size_t)a * dim,
                            err));
    }
    return FW_OK;
}

/* Running statistics (every FW_PARAM_BUFFER) saved into / restored from buf. */
static size_t buffer_floats(const fw_param_list *ps)
{
    size_t total = 0;
    for (int i = 0; i < ps->n; i++)
        if (ps->items[i]->flags & FW_PARAM_BUFFER)
            total += (size_t)ps->items[i]->numel;
    return total;
}

static void copy_buffers(const fw_param_list *ps, float *buf, int restore)
{
    for (int i = 0; i < ps->n; i++) {
        fw_param *p = ps->items[i];
        if (!(p->flags & FW_PARAM_BUFFER))
            continue;
        size_t bytes = (size_t)p->numel * sizeof(float);
        if (restore)
            memcpy(p->data, buf, bytes);
        else
            memcpy(buf, p->data, bytes);
        buf += p->numel;
    }
}

int fw_micro_batch_save_stats(fw_micro_batch *mb, const fw_model *m, fw_error *err)
{
    const fw_param_list *ps = fw_model_params(m);
    size_t stats = buffer_floats(ps);
    if (stats > mb->saved_cap) {
        float *s = realloc(mb->saved_stats, stats * sizeof *s);
        if (!s)
            return fw_fail(err, FW_ENOMEM, "micro-batches: cannot save %zu statistics", stats);
        mb->saved_stats = s;
        mb->saved_cap = stats;
    }
    copy_buffers(ps, mb->saved_stats, 0);
    return FW_OK;
}

void fw_micro_batch_restore_stats(fw_micro_batch *mb, fw_model *m)
{
    fw_model_discard_pending(m); /* the failed attempt's statistics and gradients */
    copy_buffers(fw_model_params(m), mb->saved_stats, 1);
    fw_model_buffers_updated(m);
}

int fw_micro_batch_backward(fw_micro_batch *mb, fw_model *m, uint64_t step,
                            const fw_batch_input *in, int n, int h, int w, const float *d_emb,
                            fw_error *err)
{
    int k = micro_count(mb, n);
    if (k == 1)
        return fw_model_backward(m, d_emb, err);
    const fw_param_list *ps = fw_model_params(m);
    size_t dim = (size_t)fw_model_get_config(m)->embedding_dim;
    size_t stats = buffer_floats(ps);
    size_t rows = (size_t)(n / k + 1); /* the largest micro-batch */
    FW_TRY(grow_scratch(mb, stats + rows * dim, err));
    float *saved = mb->scratch, *emb = mb->scratch + stats;
    copy_buffers(ps, saved, 0);
    int rc = FW_OK;
    /* The last micro-batch's activations are the model's now. */
    for (int i = k - 1; i >= 0 && rc == FW_OK; i--) {
        int a = micro_start(i, k, n), b = micro_start(i + 1, k, n);
        if (i != k - 1)
            rc = forward_rows(m, micro_stream(step, i), in, a, b, h, w, emb, err);
        if (rc == FW_OK)
            rc = fw_model_backward(m, d_emb + (size_t)a * dim, err);
    }
    copy_buffers(ps, saved, 1);
    fw_model_buffers_updated(m); /* the running statistics were written back */
    return rc;
}
