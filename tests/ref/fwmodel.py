"""fwmodel.py — the flukewatch model (ResNet backbone + neck) in PyTorch, shared by
tests/ref/model_ref.py (fixtures) and bench/torch_train.py (the peer benchmark).

The backbone is torchvision's ResNet v1.5 (BasicBlock / Bottleneck from
torchvision.models.resnet, stride on the Bottleneck's 3x3 conv, downsample =
1x1 conv + BN) with a base width of 64 * width_mult and 1 or 3 input channels,
without avgpool/fc. Its state_dict names equal torchvision's (checked by
check_names_against_torchvision). The neck is

    neck.pool  GeM (learnable p, "neck.pool.p", init 3) or global average pool
    neck.bn1   BatchNorm1d(C)
    neck.drop  Dropout(p) (no parameters)
    neck.fc    Linear(C, D)
    neck.bn2   BatchNorm1d(D)

and the model returns the embedding (N, D).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models.resnet import BasicBlock, Bottleneck

ARCHS = {18: (BasicBlock, [2, 2, 2, 2]), 34: (BasicBlock, [3, 4, 6, 3]),
         50: (Bottleneck, [3, 4, 6, 3])}
GEM_EPS = 1e-6


class GeM(nn.Module):
    def __init__(self, p=3.0):
        super().__init__()
        self.p = nn.Parameter(torch.ones(1) * p)

    def forward(self, x):  # (N, C, H, W) -> (N, C)
        y = x.clamp(min=GEM_EPS).pow(self.p).mean(dim=(2, 3))
        return y.pow(1.0 / self.p)


class AvgPool(nn.Module):
    def forward(self, x):
        return x.mean(dim=(2, 3))


class Neck(nn.Module):
    def __init__(self, channels, dim, gem=True, dropout=0.0):
        super().__init__()
        self.pool = GeM() if gem else AvgPool()
        self.bn1 = nn.BatchNorm1d(channels)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(channels, dim)
        self.bn2 = nn.BatchNorm1d(dim)

    def forward(self, x):
        return self.bn2(self.fc(self.drop(self.bn1(self.pool(x)))))


class FwModel(nn.Module):
    def __init__(self, arch=18, in_channels=1, width_mult=1.0, dim=512, gem=True,
                 dropout=0.0):
        super().__init__()
        block, layers = ARCHS[arch]
        base = max(1, int(round(64 * width_mult)))
        self.inplanes = base
        self.conv1 = nn.Conv2d(in_channels, base, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(base)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(block, base, layers[0], 1)
        self.layer2 = self._make_layer(block, base * 2, layers[1], 2)
        self.layer3 = self._make_layer(block, base * 4, layers[2], 2)
        self.layer4 = self._make_layer(block, base * 8, layers[3], 2)
        self.neck = Neck(base * 8 * block.expansion, dim, gem, dropout)
        # torchvision's init
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def _make_layer(self, block, planes, blocks, stride):  # torchvision's, base width 64
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.neck(x)


def check_names_against_torchvision():
    """The backbone's state_dict (names and shapes) equals torchvision's minus fc."""
    import torchvision
    for arch in ARCHS:
        tv = getattr(torchvision.models, "resnet%d" % arch)().state_dict()
        ours = FwModel(arch, in_channels=3).state_dict()
        tv_items = [(k, tuple(v.shape)) for k, v in tv.items() if not k.startswith("fc.")]
        our_items = [(k, tuple(v.shape)) for k, v in ours.items() if not k.startswith("neck.")]
        assert tv_items == our_items, "resnet%d names differ from torchvision" % arch


# ---- the deterministic test pattern shared with tests/test_model.c -------------------
M64 = (1 << 64) - 1


def pattern_uniform(seed, index, n):
    """n floats in [-1, 1), element i = a splitmix64 finaliser of
    seed*G1 + index*G2 + i*G3 (mod 2^64), top 24 bits (exact in fp32)."""
    import numpy as np
    i = np.arange(n, dtype=np.uint64)
    x = (np.uint64((seed * 0x9E3779B97F4A7C15 + index * 0xD1B54A32D192ED03) & M64)
         + i * np.uint64(0x94D049BB133111EB))
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    x = x ^ (x >> np.uint64(31))
    return ((x >> np.uint64(40)).astype(np.float64) * 2.0 ** -23 - 1.0).astype(np.float32)


def pattern_value(name, shape, u):
    """Map a uniform pattern to a sensible value for the tensor `name` (same rule as C)."""
    import numpy as np
    import math
    leaf = name.rsplit(".", 1)[-1]
    if leaf == "num_batches_tracked":
        return np.zeros(shape, dtype=np.float32)
    if leaf == "bias" and not name.startswith("neck."):
        # backbone BN biases lean positive: few dead ReLU channels, so no BN sees a
        # near-constant input (whose 1/sigma would amplify rounding far past 1e-4)
        return (np.float32(0.5) + u * np.float32(0.1)).astype(np.float32)
    if leaf == "running_mean" or leaf == "bias":
        return (u * np.float32(0.1)).astype(np.float32)
    if leaf == "running_var":
        return (np.float32(1.0) + u * np.float32(0.25)).astype(np.float32)
    if leaf == "p":
        return (np.float32(3.0) + u * np.float32(0.25)).astype(np.float32)
    if leaf == "weight" and len(shape) == 1:  # BN weight
        return (np.float32(1.0) + u * np.float32(0.2)).astype(np.float32)
    fan_in = 1
    for s in shape[1:]:
        fan_in *= s
    bound = np.float32(math.sqrt(6.0 / fan_in))
    return (u * bound).astype(np.float32)


def set_pattern_weights(model, seed):
    """Set every state_dict tensor k (in order) from pattern_uniform(seed, k, numel)."""
    import numpy as np
    sd = model.state_dict()
    with torch.no_grad():
        for k, (name, t) in enumerate(sd.items()):
            u = pattern_uniform(seed, k, t.numel()).reshape(tuple(t.shape))
            v = pattern_value(name, tuple(t.shape), u)
            if name.endswith("num_batches_tracked"):
                t.zero_()
            else:
                t.copy_(torch.from_numpy(np.ascontiguousarray(v)))
