"""torchvision_pipeline.py — the peer of bench/bench_pipeline.c: the same JPEG
files through PIL decode + Resize((H, W)) + RandomAffine + ColorJitter +
ToTensor + Normalize into float batches (N, 3, H, W) with a DataLoader.

    /usr/bin/python3 torchvision_pipeline.py DIR [--threads 1,2] [--batch 32]
                                             [--size 512x256] [--passes 3]

threads=1: num_workers=0 (the main process does everything), threads=T>1:
num_workers=T worker processes (persistent); torch.set_num_threads(1) in
every process. One untimed warm-up pass, then `passes` timed passes.
Augmentation ranges follow flukewatch's defaults for the operations both do
(rotation +-10 deg, translate 0.05, scale 0.9..1.1, shear 5 deg, bilinear;
brightness, contrast and saturation 0.2). flukewatch additionally flips,
applies gamma, grayscale, blur and random erasing. Prints one line per
thread count:
    torchvision threads=T images=N seconds=S images_per_s=X
"""
import argparse
import glob
import os
import time

import torch
import torchvision
import torchvision.transforms as T
from PIL import Image


class Files(torch.utils.data.Dataset):
    def __init__(self, paths, transform):
        self.paths = paths
        self.transform = transform

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        with Image.open(self.paths[i]) as img:
            return self.transform(img.convert("RGB"))


def one_thread(_worker_id):
    torch.set_num_threads(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--size", default="512x256")
    ap.add_argument("--passes", type=int, default=3)
    a = ap.parse_args()
    w, h = (int(v) for v in a.size.split("x"))
    paths = sorted(glob.glob(os.path.join(a.root, "train", "*.jpg")) +
                   glob.glob(os.path.join(a.root, "test", "*.jpg")))
    if not paths:
        raise SystemExit(f"torchvision_pipeline: no *.jpg in {a.root}/train or {a.root}/test")
    transform = T.Compose([
        T.Resize((h, w)),
        T.RandomAffine(degrees=10, translate=(0.05, 0.05), scale=(0.9, 1.1), shear=5,
                       interpolation=T.InterpolationMode.BILINEAR),
        T.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2),
        T.ToTensor(),
        T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])
    torch.set_num_threads(1)
    torch.manual_seed(42)
    data = Files(paths, transform)
    for threads in (int(v) for v in a.threads.split(",")):
        workers = 0 if threads == 1 else threads
        loader = torch.utils.data.DataLoader(
            data, batch_size=a.batch, shuffle=False, num_workers=workers,
            worker_init_fn=one_thread if workers else None,
            persistent_workers=workers > 0)
        for batch in loader:  # warm-up pass (also starts the workers)
            assert batch.shape[1:] == (3, h, w)
        t0 = time.perf_counter()
        images = 0
        for _ in range(a.passes):
            for batch in loader:
                images += batch.shape[0]
        secs = time.perf_counter() - t0
        print(f"torchvision threads={threads} images={images} seconds={secs:.3f} "
              f"images_per_s={images / secs:.1f}", flush=True)
        del loader


if __name__ == "__main__":
    print(f"# torch {torch.__version__}, torchvision {torchvision.__version__}, "
          f"PIL {Image.__version__}", flush=True)
    main()
