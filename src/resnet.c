/* resnet.c — ResNet-18/34/50 backbone on the backend ops (see resnet.h).
 *
 * Each conv is followed by a BN; a "unit" is that pair plus its two saved
 * activations (conv output = BN input, and BN output, ReLU applied in place).
 * A block's last unit also holds the residual sum: out = relu(bn(conv) + identity)
 * is computed in place in that unit's output tensor.
 *
 * Backward uses four scratch gradient tensors (scratch[0..3]); a block takes its
 * output gradient in one of them and returns its input gradient in another.
 */
#include "resnet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_params.h"

enum { N_SCRATCH = 4 };

typedef struct unit {
    fw_conv *conv;
    fw_param *weight; /* (out, in, k, k) */
    fw_bn_unit bn;
    fw_tensor *conv_out; /* (N, out, OH, OW): BN input */
    fw_tensor *out;      /* (N, out, OH, OW): BN output (ReLU'd in place) */
} unit;

typedef struct block {
    unit u[3];
    int n_units; /* 2 BasicBlock, 3 Bottleneck */
    int has_down;
    unit down; /* downsample.0 (conv 1x1) + downsample.1 (BN) */
} block;

struct fw_resnet {
    const fw_backend_ops *ops;
    fw_backend *be;
    int out_channels;
    unit stem; /* conv1 + bn1 */
    fw_pool *maxpool;
    fw_tensor *pool_out;
    block *blocks;
    int n_blocks;
    fw_tensor *scratch[N_SCRATCH];
};

static const struct {
    int arch, bottleneck, layers[4];
} ARCHS[] = {
    {18, 0, {2, 2, 2, 2}},
    {34, 0, {3, 4, 6, 3}},
    {50, 1, {3, 4, 6, 3}},
};

static int unit_create(fw_resnet *r, fw_param_list *list, const char *conv_name,
                       const char *bn_name, int in, int out, int k, int stride, unit *u,
                       fw_error *err)
{
    const fw_backend_ops *ops = r->ops;
    int64_t shape[4] = {out, in, k, k};
    FW_TRY(fw_mp_add(list, conv_name, 4, shape, 0, &u->weight, err));
    FW_TRY(fw_bn_unit_create(ops, r->be, list, bn_name, out, &u->bn, err));
    fw_conv_desc d = {.in_channels = in, .out_channels = out, .kernel_h = k, .kernel_w = k,
                      .stride_h = stride, .stride_w = stride, .pad_h = k / 2, .pad_w = k / 2};
    FW_TRY(ops->conv_create(r->be, &d, u->weight, NULL, &u->conv, err));
    FW_TRY(ops->tensor_create(r->be, &u->conv_out, err));
    return ops->tensor_create(r->be, &u->out, err);
}

static void unit_destroy(fw_resnet *r, unit *u)
{
    r->ops->conv_destroy(r->be, u->conv);
    fw_bn_unit_destroy(r->ops, r->be, &u->bn);
    r->ops->tensor_free(r->be, u->conv_out);
    r->ops->tensor_free(r->be, u->out);
}

/* conv -> BN (-> ReLU in place) */
static int unit_forward(fw_resnet *r, unit *u, int training, int relu, const fw_tensor *x,
                        fw_error *err)
{
    FW_TRY(r->ops->conv_forward(r->be, u->conv, x, u->conv_out, err));
    FW_TRY(fw_bn_unit_forward(r->ops, r->be, &u->bn, training, u->conv_out, u->out, err));
    if (relu)
        FW_TRY(r->ops->relu_forward(r->be, u->out, u->out, err));
    return 0;
}

/* dy (overwritten when relu) -> tmp (BN input grad) -> dx (may be NULL). */
static int unit_backward(fw_resnet *r, unit *u, int relu, const fw_tensor *x, fw_tensor *dy,
                         fw_tensor *tmp, fw_tensor *dx, unsigned flags, fw_error *err)
{
    if (relu)
        FW_TRY(r->ops->relu_backward(r->be, u->out, dy, dy, err));
    FW_TRY(r->ops->bn_backward(r->be, u->bn.op, u->conv_out, dy, tmp, flags, err));
    return r->ops->conv_backward(r->be, u->conv, x, tmp, dx, flags, err);
}

static int name_of(char *buf, size_t size, int layer, int index, const char *leaf,
                   fw_error *err)
{
    int len = snprintf(buf, size, "layer%d.%d.%s", layer, index, leaf);
    if (len < 0 || (size_t)len >= size)
        return fw_fail(err, FW_EINVAL, "parameter name too long");
    return 0;
}

static int block_create(fw_resnet *r, fw_param_list *list, int bottleneck, int layer,
                        int index, int in, int planes, int stride, block *b, fw_error *err)
{
    char conv[FW_PARAM_NAME_MAX], bn[FW_PARAM_NAME_MAX];
    int expansion = bottleneck ? 4 : 1;
    if (bottleneck) {
        const int ins[3] = {in, planes, planes}, outs[3] = {planes, planes, planes * 4};
        const int ks[3] = {1, 3, 1}, strides[3] = {1, stride, 1};
        b->n_units = 3;
        for (int i = 0; i < 3; i++) {
            char leaf[16];
            snprintf(leaf, sizeof leaf, "conv%d", i + 1);
            FW_TRY(name_of(conv, sizeof conv, layer, index, leaf, err));
            snprintf(leaf, sizeof leaf, "bn%d", i + 1);
            FW_TRY(name_of(bn, sizeof bn, layer, index, leaf, err));
            strcat(conv, ".weight");
            FW_TRY(unit_create(r, list, conv, bn, ins[i], outs[i], ks[i], strides[i],
                               &b->u[i], err));
        }
    } else {
        b->n_units = 2;
        FW_TRY(name_of(conv, sizeof conv, layer, index, "conv1.weight", err));
        FW_TRY(name_of(bn, sizeof bn, layer, index, "bn1", err));
        FW_TRY(unit_create(r, list, conv, bn, in, planes, 3, stride, &b->u[0], err));
        FW_TRY(name_of(conv, sizeof conv, layer, index, "conv2.weight", err));
        FW_TRY(name_of(bn, sizeof bn, layer, index, "bn2", err));
        FW_TRY(unit_create(r, list, conv, bn, planes, planes, 3, 1, &b->u[1], err));
    }
    if (stride != 1 || in != planes * expansion) {
        b->has_down = 1;
        FW_TRY(name_of(conv, sizeof conv, layer, index, "downsample.0.weight", err));
        FW_TRY(name_of(bn, sizeof bn, layer, index, "downsample.1", err));
        FW_TRY(unit_create(r, list, conv, bn, in, planes * expansion, 1, stride, &b->down,
                           err));
    }
    return 0;
}

int fw_resnet_create(const fw_backend_ops *ops, fw_backend *be, const fw_resnet_config *cfg,
                     fw_param_list *list, fw_resnet **out, fw_error *err)
{
    *out = NULL;
    int a = -1;
    for (size_t i = 0; i < sizeof ARCHS / sizeof ARCHS[0]; i++)
        if (ARCHS[i].arch == cfg->arch)
            a = (int)i;
    if (a < 0)
        return fw_fail(err, FW_EINVAL, "resnet: unsupported depth %d (18, 34 or 50)", cfg->arch);
    if (cfg->in_channels != 1 && cfg->in_channels != 3)
        return fw_fail(err, FW_EINVAL, "resnet: %d input channels (1 or 3)", cfg->in_channels);
    if (cfg->base_width < 1 || cfg->base_width > 4096)
        return fw_fail(err, FW_EINVAL, "resnet: base width %d out of range", cfg->base_width);
    fw_resnet *r = calloc(1, sizeof *r);
    if (!r)
        return fw_fail(err, FW_ENOMEM, "resnet: out of memory");
    r->ops = ops;
    r->be = be;
    int bottleneck = ARCHS[a].bottleneck, expansion = bottleneck ? 4 : 1;
    for (int l = 0; l < 4; l++)
        r->n_blocks += ARCHS[a].layers[l];
    r->blocks = calloc((size_t)r->n_blocks, sizeof *r->blocks);
    int rc = r->blocks ? 0 : fw_fail(err, FW_ENOMEM, "resnet: out of memory");
    int base = cfg->base_width;
    if (!rc)
        rc = unit_create(r, list, "conv1.weight", "bn1", cfg->in_channels, base, 7, 2,
                         &r->stem, err);
    fw_pool_desc pd = {.kind = FW_POOL_MAX, .kernel_h = 3, .kernel_w = 3, .stride_h = 2,
                       .stride_w = 2, .pad_h = 1, .pad_w = 1};
    if (!rc)
        rc = ops->pool_create(be, &pd, &r->maxpool, err);
    if (!rc)
        rc = ops->tensor_create(be, &r->pool_out, err);
    int in = base, bi = 0;
    for (int l = 0; l < 4 && !rc; l++) {
        int planes = base << l;
        for (int i = 0; i < ARCHS[a].layers[l] && !rc; i++) {
            rc = block_create(r, list, bottleneck, l + 1, i, in, planes,
                              (i == 0 && l > 0) ? 2 : 1, &r->blocks[bi++], err);
            in = planes * expansion;
        }
    }
    r->out_channels = in;
    for (int i = 0; i < N_SCRATCH && !rc; i++)
        rc = ops->tensor_create(be, &r->scratch[i], err);
    if (rc) {
        fw_resnet_destroy(r);
        return rc;
    }
    *out = r;
    return 0;
}

int fw_resnet_set_bn_sync(fw_resnet *r, fw_bn_sync_fn fn, void *ctx, fw_error *err)
{
    FW_TRY(r->ops->bn_set_sync(r->be, r->stem.bn.op, fn, ctx, err));
    for (int i = 0; i < r->n_blocks; i++) {
        block *b = &r->blocks[i];
        for (int k = 0; k < b->n_units; k++)
            FW_TRY(r->ops->bn_set_sync(r->be, b->u[k].bn.op, fn, ctx, err));
        if (b->has_down)
            FW_TRY(r->ops->bn_set_sync(r->be, b->down.bn.op, fn, ctx, err));
    }
    return 0;
}

void fw_resnet_destroy(fw_resnet *r)
{
    if (!r)
        return;
    unit_destroy(r, &r->stem);
    r->ops->pool_destroy(r->be, r->maxpool);
    r->ops->tensor_free(r->be, r->pool_out);
    for (int i = 0; i < r->n_blocks && r->blocks; i++) {
        block *b = &r->blocks[i];
        for (int k = 0; k < b->n_units; k++)
            unit_destroy(r, &b->u[k]);
        if (b->has_down)
            unit_destroy(r, &b->down);
    }
    free(r->blocks);
    for (int i = 0; i < N_SCRATCH; i++)
        r->ops->tensor_free(r->be, r->scratch[i]);
    free(r);
}

int fw_resnet_out_channels(const fw_resnet *r)
{
    return r->out_channels;
}

static int block_forward(fw_resnet *r, block *b, int training, const fw_tensor *x,
                         fw_error *err)
{
    const fw_tensor *cur = x;
    for (int i = 0; i < b->n_units; i++) {
        FW_TRY(unit_forward(r, &b->u[i], training, i < b->n_units - 1, cur, err));
        cur = b->u[i].out;
    }
    const fw_tensor *identity = x;
    if (b->has_down) {
        FW_TRY(unit_forward(r, &b->down, training, 0, x, err));
        identity = b->down.out;
    }
    fw_tensor *y = b->u[b->n_units - 1].out;
    FW_TRY(r->ops->add(r->be, y, identity, y, err));
    return r->ops->relu_forward(r->be, y, y, err);
}

static const fw_tensor *block_output(const block *b)
{
    return b->u[b->n_units - 1].out;
}

int fw_resnet_forward(fw_resnet *r, int training, const fw_tensor *x,
                      const fw_tensor **features, fw_error *err)
{
    FW_TRY(unit_forward(r, &r->stem, training, 1, x, err));
    FW_TRY(r->ops->pool_forward(r->be, r->maxpool, r->stem.out, r->pool_out, err));
    const fw_tensor *cur = r->pool_out;
    for (int i = 0; i < r->n_blocks; i++) {
        FW_TRY(block_forward(r, &r->blocks[i], training, cur, err));
        cur = block_output(&r->blocks[i]);
    }
    *features = cur;
    return 0;
}

fw_tensor *fw_resnet_grad_features(fw_resnet *r)
{
    return r->scratch[0];
}

/* Gradient of block b's output in scratch[in_slot] (overwritten); x: its input.
 * Returns the slot holding the input gradient (!= in_slot). */
static int block_backward(fw_resnet *r, block *b, const fw_tensor *x, int in_slot,
                          unsigned flags, int *out_slot, fw_error *err)
{
    int others[3], k = 0;
    for (int i = 0; i < N_SCRATCH; i++)
        if (i != in_slot)
            others[k++] = i;
    fw_tensor *d_sum = r->scratch[in_slot], *tmp = r->scratch[others[0]];
    /* dL/d(sum) = relu'(out) * dL/dout, shared by both branches */
    FW_TRY(r->ops->relu_backward(r->be, block_output(b), d_sum, d_sum, err));
    int cur = in_slot, next = others[1], spare = others[2];
    for (int i = b->n_units - 1; i >= 0; i--) {
        const fw_tensor *xi = i > 0 ? b->u[i - 1].out : x;
        int relu = i < b->n_units - 1;
        /* the first step reads d_sum, which the shortcut still needs: relu=0 there */
        FW_TRY(unit_backward(r, &b->u[i], relu, xi, r->scratch[cur], tmp, r->scratch[next],
                             flags, err));
        if (cur == in_slot) {
            cur = next;
            next = spare;
        } else {
            int t = cur;
            cur = next;
            next = t;
        }
    }
    /* cur: main-branch input gradient; next: free */
    if (b->has_down) {
        FW_TRY(unit_backward(r, &b->down, 0, x, d_sum, tmp, r->scratch[next], flags, err));
        FW_TRY(r->ops->add(r->be, r->scratch[cur], r->scratch[next], r->scratch[cur], err));
    } else {
        FW_TRY(r->ops->add(r->be, r->scratch[cur], d_sum, r->scratch[cur], err));
    }
    *out_slot = cur;
    return 0;
}

int fw_resnet_backward(fw_resnet *r, const fw_tensor *x, unsigned flags, fw_error *err)
{
    int slot = 0;
    for (int i = r->n_blocks - 1; i >= 0; i--) {
        const fw_tensor *xi = i > 0 ? block_output(&r->blocks[i - 1]) : r->pool_out;
        FW_TRY(block_backward(r, &r->blocks[i], xi, slot, flags, &slot, err));
    }
    int a = (slot + 1) % N_SCRATCH, b = (slot + 2) % N_SCRATCH;
    FW_TRY(r->ops->pool_backward(r->be, r->maxpool, r->scratch[slot], r->scratch[a], err));
    return unit_backward(r, &r->stem, 1, x, r->scratch[a], r->scratch[b], NULL, flags, err);
}
