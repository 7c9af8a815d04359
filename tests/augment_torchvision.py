"""augment_torchvision.py — reference for tests/test_augment.c: an affine warp
of a raw (H, W, 3) uint8 image with torchvision.transforms.functional.affine
(bilinear, zero padding: fill=None), written back as raw (H, W, 3) uint8.

usage: augment_torchvision.py IN OUT W H ANGLE_DEG TX_PX TY_PX SCALE
(F.affine's angle turns clockwise on screen, like flukewatch's.)
"""
import sys

import numpy as np
import torch
import torchvision.transforms.functional as F
from torchvision.transforms import InterpolationMode


def main():
    src, dst = sys.argv[1], sys.argv[2]
    w, h = int(sys.argv[3]), int(sys.argv[4])
    angle, tx, ty, scale = (float(v) for v in sys.argv[5:9])
    img = np.fromfile(src, dtype=np.uint8).reshape(h, w, 3)
    t = torch.from_numpy(img).permute(2, 0, 1).contiguous()
    out = F.affine(t, angle=angle, translate=[int(tx), int(ty)], scale=scale, shear=[0.0, 0.0],
                   interpolation=InterpolationMode.BILINEAR, fill=None)
    out.permute(1, 2, 0).contiguous().numpy().astype(np.uint8).tofile(dst)


if __name__ == "__main__":
    main()
