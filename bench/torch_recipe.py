#!/usr/bin/python3
"""torch_recipe.py — flukewatch's default training recipe as a plain PyTorch script, the peer
that `flukewatch train` is measured against (bench/RESULTS.md).

    /usr/bin/python3 bench/torch_recipe.py --dataset DIR [--config FILE] [key=value ...]
        [--minutes M] [--threads N] [--workers 0|1] [--out CURVE.csv]

The config has flukewatch's run-config syntax (key = value, `#` comments; bench/recipe.conf is
the default recipe). Keys this script cannot honour are refused unless they hold the value it
implements; keys that cannot change a result here (checkpoints, other losses' settings while
`head = arcface`, other schedules' settings) are accepted and unused.

Recipe: every image is decoded once (PIL, JPEG draft mode) and resized (bilinear) to the input
size into an in-memory uint8 cache, as flukewatch's image cache does; training batches are
augmented from that cache in batched torch ops (affine + flip by grid_sample with replicated
borders, blur, brightness/contrast about the mean luma, gamma, grey, random erasing). Model:
tests/ref/fwmodel.py (ResNet + GeM + BN/fc/BN neck) and an ArcFace head; P x K batches; AdamW
with a fastai one-cycle (lr and beta1) over the configured epochs; gradient clipping.
Validation: a split by identity (split.h's rule, numpy draws), flip-TTA embeddings, cosine
kNN, per-whale max similarity, new_whale at the threshold maximising mAP@5. The time budget
counts training time only (not evaluation); when it runs out the run stops where it is,
mid-schedule, and says so. Then the test images are predicted with every train.csv image as
the gallery, written as a Kaggle submission and scored against DIR/test_truth.csv.
"""
import argparse
import csv
import math
import os
import re
import sys
import time
import warnings

import numpy as np
import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "ref"))
import fwmodel  # noqa: E402

NEW = -1  # new_whale label; -2 = empty prediction slot
# keys whose values this script uses (default = flukewatch's default recipe)
USED = {"dataset": "", "input": (192, 96), "channels": 1, "val.query_share": 0.2,
        "val.new_whale_share": 0.28, "backbone": "resnet18", "width": 1.0, "embedding": 256,
        "pool": "gem", "gem_p": 3.0, "dropout": 0.0, "arcface.scale": 30.0,
        "arcface.margin": 0.3, "arcface.subcenters": 1, "sampler.p": 8, "sampler.k": 4,
        "lr": 5e-4, "head_lr_mult": 10.0, "weight_decay": 1e-4, "clip_norm": 5.0,
        "schedule.pct_start": 0.25, "schedule.div": 25.0, "schedule.div_final": 1e4,
        "epochs": 40, "seed": 42, "eval_every": 5, "threads": 0, "tta_flip": True,
        "aug.p_affine": 0.9, "aug.rotate_deg": 10.0, "aug.scale_min": 0.9, "aug.scale_max": 1.1,
        "aug.aspect": 1.1, "aug.shear_deg": 5.0, "aug.translate": 0.05, "aug.p_flip": 0.5,
        "aug.p_color": 0.8, "aug.brightness": 0.2, "aug.contrast": 0.2, "aug.saturation": 0.2,
        "aug.p_gamma": 0.3, "aug.gamma": 1.25, "aug.p_gray": 0.2, "aug.p_blur": 0.1,
        "aug.blur_sigma_min": 0.3, "aug.blur_sigma_max": 1.2, "aug.p_erase": 0.25,
        "aug.erase_area_min": 0.02, "aug.erase_area_max": 0.15, "aug.erase_ratio_min": 0.3,
        "aug.erase_ratio_max": 3.3}
ENUMS = {"backbone": ("resnet18", "resnet34", "resnet50"), "pool": ("gem", "avg")}
# keys this script implements with one value only
FIXED = {"head": "arcface", "arcface.weight": 1.0, "label_smoothing": 0.0,
         "sampler.new_whale": 0, "optimizer": "adamw", "schedule": "one-cycle",
         "schedule.warmup_epochs": 0.0, "lr_find": False, "precision": "fp32", "device": "cpu",
         "aug.flip_identity": False, "aug.border": "replicate"}
# keys that cannot change a result of this script
INERT = {"softmax.weight", "triplet.margin", "triplet.weight", "triplet.soft",
         "contrastive.margin", "contrastive.weight", "momentum", "schedule.eta_min",
         "schedule.cycle_epochs", "schedule.t_mult", "schedule.step_epochs", "schedule.gamma",
         "checkpoint_every", "keep_last", "nan_limit", "loader_threads", "aug.fill"}
BOOLS = {"1": True, "true": True, "yes": True, "on": True,
         "0": False, "false": False, "no": False, "off": False}


def parse_value(key, text, like):
    """text as the type of `like` (bool, WxH tuple, int, float, enumeration or string)."""
    if isinstance(like, bool):
        if text.lower() not in BOOLS:
            raise ValueError("expected " + "/".join(BOOLS))
        return BOOLS[text.lower()]
    if isinstance(like, tuple):
        m = re.fullmatch(r"([1-9]\d*)x([1-9]\d*)", text)
        if not m:
            raise ValueError("expected WxH")
        return int(m.group(1)), int(m.group(2))
    if isinstance(like, (int, float)):
        return float(text) if isinstance(like, float) else int(text, 10)
    if key in ENUMS and text not in ENUMS[key]:
        raise ValueError("one of " + " ".join(ENUMS[key]))
    return text


def set_key(cfg, key, text, origin):
    """Set a used key, check a fixed one, skip an inert one, refuse anything else."""
    if key in INERT:
        return
    like = USED.get(key, FIXED.get(key))
    if like is None:
        sys.exit("%s: unknown key '%s'" % (origin, key))
    try:
        value = parse_value(key, text, like)
    except ValueError as e:
        sys.exit("%s: bad value '%s' for %s (%s)" % (origin, text, key, e))
    if key in FIXED and value != like:
        sys.exit("%s: %s = %s is not implemented by this script (only %s)"
                 % (origin, key, text, int(like) if isinstance(like, bool) else like))
    cfg[key] = value


def load_config(path, args):
    cfg = dict(USED)
    if path:
        for n, line in enumerate(open(path, encoding="utf-8"), 1):
            line = re.sub(r"(^|\s)#.*", "", line).strip()
            if line:
                key, eq, value = line.partition("=")
                if not eq:
                    sys.exit("%s:%d: expected key = value" % (path, n))
                set_key(cfg, key.strip(), value.strip(), "%s:%d" % (path, n))
    for arg in args:
        key, eq, value = arg.partition("=")
        if not eq:
            sys.exit("command line: expected key=value, got '%s'" % arg)
        set_key(cfg, key.strip(), value.strip(), "command line")
    return cfg


def read_csv(path):
    with open(path, newline="", encoding="utf-8-sig") as f:
        return [(r[0], r[1]) for r in list(csv.reader(f))[1:] if r]


def load_images(folder, names, w, h, channels):
    """(N, C, H, W) uint8: each image decoded once and resized to the input size."""
    out = np.empty((len(names), channels, h, w), np.uint8)
    for i, name in enumerate(names):
        with Image.open(os.path.join(folder, name)) as im:
            im.draft("L" if channels == 1 else "RGB", (w, h))  # JPEG DCT scaling
            im = im.convert("L" if channels == 1 else "RGB").resize((w, h), Image.BILINEAR)
            out[i] = np.asarray(im).reshape(h, w, channels).transpose(2, 0, 1)
    return torch.from_numpy(out)


def make_split(ids, seed, query_share, new_share):
    """split.h's rule: one query from a share of the whales with >= 2 images, plus new_whale."""
    rng = np.random.RandomState(seed % 2**32)
    by_whale = {}
    for i in sorted(range(len(ids)), key=lambda i: ids[i][0]):  # images by file name
        by_whale.setdefault(ids[i][1], []).append(i)
    news = by_whale.pop("new_whale", [])
    eligible = sorted(w for w, items in by_whale.items() if len(items) >= 2)
    chosen = sorted(rng.permutation(eligible)[:int(math.floor(query_share * len(eligible) + 0.5))])
    query = [by_whale[w][rng.randint(len(by_whale[w]))] for w in chosen]
    k = min(len(news), int(math.floor(new_share * len(chosen) / (1 - new_share) + 0.5)))
    query += list(rng.choice(news, k, replace=False)) if k else []
    qset = set(query)
    return [i for i in range(len(ids)) if i not in qset], sorted(query)


def pk_epoch(items_by_label, p, k, seed, epoch):
    """One epoch of P x K batches (sampler.h): each whale once as one of the P; the last batch
    is topped up with distinct earlier whales; fewer than K items are repeated evenly."""
    rng = np.random.RandomState((seed * 1000003 + epoch) % 2**32)
    order = rng.permutation(len(items_by_label))
    batches = []
    for b in range(0, len(order), p):
        whales = list(order[b:b + p])
        if len(whales) < p:
            whales += list(rng.choice(order[:b], p - len(whales), replace=False))
        batch = []
        for w in whales:
            items = items_by_label[w]
            pick = rng.choice(items, k, replace=False) if len(items) >= k else \
                rng.permutation(np.resize(rng.permutation(items), k))
            batch += [(i, w) for i in pick]
        batches.append(batch)
    return batches


def augment(x, cfg, g):
    """x (B, C, H, W) uint8 -> augmented floats in 0..1 (flukewatch's operations and ranges)."""
    b, c, h, w = x.shape
    x = x.float() / 255
    o = lambda key: cfg["aug." + key]  # noqa: E731
    u = lambda *shape: torch.rand(*shape, generator=g)  # noqa: E731
    rng = lambda lo, hi: lo + (hi - lo) * u(b)  # noqa: E731
    maybe = lambda p, lo, hi, off: torch.where(u(b) < p, rng(lo, hi), torch.full((b,), off))  # noqa
    rgb_to_y = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    luma = lambda v: v if c == 1 else (v * rgb_to_y).sum(1, keepdim=True)  # noqa: E731
    mean_luma = luma(x).mean((1, 2, 3)).view(b, 1, 1, 1)  # of the source: the contrast pivot
    # geometry: forward map (centred pixel units) = rotation @ shear @ zoom, + translation
    affine, flip, rad = u(b) < o("p_affine"), u(b) < o("p_flip"), math.pi / 180
    on = lambda v, off: torch.where(affine, v, torch.full((b,), off))  # noqa: E731
    rot = on(rng(-o("rotate_deg"), o("rotate_deg")) * rad, 0.0)
    scale = on(rng(o("scale_min"), o("scale_max")), 1.0)
    aspect = on(torch.exp(rng(-math.log(o("aspect")), math.log(o("aspect")))), 1.0)
    shx, shy = [on(torch.tan(rng(-o("shear_deg"), o("shear_deg")) * rad), 0.0) for _ in "xy"]
    t = torch.stack([on(rng(-o("translate"), o("translate")) * 2, 0.0) for _ in "xy"], 1)
    cos, sin, one = torch.cos(rot), torch.sin(rot), torch.ones(b)
    rotation = torch.stack([torch.stack([cos, -sin], 1), torch.stack([sin, cos], 1)], 1)
    shear = torch.stack([torch.stack([one, shx], 1), torch.stack([shy, one], 1)], 1)
    zoom = torch.diag_embed(torch.stack([scale * aspect.sqrt(), scale / aspect.sqrt()], 1))
    px = torch.diag(torch.tensor([w / 2.0, h / 2.0]))  # normalised -> pixel units
    inv = torch.linalg.inv(px.inverse() @ rotation @ shear @ zoom @ px)  # output -> source
    inv[:, 0] *= torch.where(flip, -1.0, 1.0)[:, None]  # mirror the source
    theta = torch.cat([inv, -(inv @ t[:, :, None])], 2)
    grid = F.affine_grid(theta, (b, c, h, w), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    sigma = maybe(o("p_blur"), o("blur_sigma_min"), o("blur_sigma_max"), 0.0)
    for i in torch.nonzero(sigma > 0).flatten().tolist():
        x[i] = TF.gaussian_blur(x[i], [5, 5], [float(sigma[i])] * 2)
    # photometric: brightness and contrast about the mean luma, gamma, grey / saturation
    colour = u(b) < o("p_color")
    bri = torch.where(colour, rng(1 - o("brightness"), 1 + o("brightness")), one).view(b, 1, 1, 1)
    con = torch.where(colour, rng(1 - o("contrast"), 1 + o("contrast")), one).view(b, 1, 1, 1)
    sat = torch.where(colour, rng(-o("saturation"), o("saturation")), 0 * one)
    x = (con * (bri * x - bri * mean_luma) + bri * mean_luma).clamp(0, 1)
    lg = math.log(o("gamma"))
    x = x.pow(torch.exp(maybe(o("p_gamma"), -lg, lg, 0.0)).view(b, 1, 1, 1))
    grey = torch.where(u(b) < o("p_gray"), one, sat).view(b, 1, 1, 1)
    x = (x + grey * (luma(x) - x)).clamp(0, 1) if c == 3 else x
    # random erasing: a rectangle of random values
    erase, area = u(b) < o("p_erase"), rng(o("erase_area_min"), o("erase_area_max")) * h * w
    ratio = torch.exp(rng(math.log(o("erase_ratio_min")), math.log(o("erase_ratio_max"))))
    ux, uy, value = u(b), u(b), u(b, c)
    for i in torch.nonzero(erase).flatten().tolist():
        eh = min(h, max(1, round(math.sqrt(area[i] * ratio[i]))))
        ew = min(w, max(1, round(math.sqrt(area[i] / ratio[i]))))
        x0, y0 = min(int(ux[i] * (w - ew + 1)), w - ew), min(int(uy[i] * (h - eh + 1)), h - eh)
        x[i, :, y0:y0 + eh, x0:x0 + ew] = value[i].view(c, 1, 1)
    return x


class EpochBatches(torch.utils.data.Dataset):
    """Batch b of one epoch, augmented from the cache (its random stream: seed, epoch, b)."""

    def __init__(self, cache, batches, cfg, norm, epoch):
        self.cache, self.batches, self.cfg, self.norm, self.epoch = cache, batches, cfg, norm, epoch

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, b):
        seed = (self.cfg["seed"] * 1000003 + self.epoch * 4099 + b) % 2**63
        g = torch.Generator().manual_seed(seed)
        items, labels = zip(*self.batches[b])
        x = augment(self.cache[list(items)], self.cfg, g)
        return (x - self.norm[0]) / self.norm[1], torch.tensor(labels)


def arcface_loss(emb, weight, labels, s, m, k):
    cos = F.linear(F.normalize(emb), F.normalize(weight))  # (N, C*k)
    cos = cos.view(len(emb), -1, k).max(2).values.clamp(-1, 1)
    target = cos.gather(1, labels[:, None])
    sin = (1 - target * target).clamp(min=1e-12).sqrt()  # finite gradient at |cos| = 1
    phi = torch.where(target > math.cos(math.pi - m), target * math.cos(m) - sin * math.sin(m),
                      target - math.sin(math.pi - m) * m)
    logits = s * cos.scatter(1, labels[:, None], phi)
    return F.cross_entropy(logits, labels)


def one_cycle(pos, cfg):
    """fastai's fit_one_cycle: (lr, beta1) at position pos in [0, 1] of the schedule."""
    sched = lambda a, b, x: a + (1 + math.cos(math.pi * (1 - x))) * (b - a) / 2  # noqa: E731
    lr, pct = cfg["lr"], cfg["schedule.pct_start"]
    if pos < pct:
        return sched(lr / cfg["schedule.div"], lr, pos / pct), sched(0.95, 0.85, pos / pct)
    x = (pos - pct) / (1 - pct)
    return sched(lr, lr / cfg["schedule.div_final"], x), sched(0.85, 0.95, x)


@torch.no_grad()
def embed(model, cache, norm, tta):
    model.eval()
    out = []
    for i in range(0, len(cache), 128):
        x = ((cache[i:i + 128].float() / 255 - norm[0]) / norm[1]).contiguous(
            memory_format=torch.channels_last)
        e = model(x)
        out.append(F.normalize(e + model(x.flip(3)) if tta else e))
    model.train()
    return torch.cat(out)


def top5_whales(q, g, g_labels, n_whales):
    """Per-whale max cosine similarity, five best whales: (nq, 5) ids (-2 empty), sims."""
    warnings.filterwarnings("ignore", "scatter_reduce", UserWarning)  # "beta" in torch 1.13
    sims = q @ g.T
    keep = g_labels >= 0
    per_whale = torch.full((len(q), n_whales), -math.inf).scatter_reduce(
        1, g_labels[keep][None].expand(len(q), -1), sims[:, keep], "amax")
    sim, whale = per_whale.topk(min(5, n_whales), 1)
    whale[torch.isinf(sim)] = -2
    pad = 5 - sim.shape[1]
    return F.pad(whale, (0, pad), value=-2).numpy(), F.pad(sim, (0, pad), value=-math.inf).numpy()


def predict(whale, sim, threshold):
    """new_whale at the first slot that is empty or below the threshold."""
    below = (sim < threshold) | (whale == -2)
    pos = np.where(below.any(1), below.argmax(1), 5)
    return np.array([np.insert(w, p, NEW)[:5] for w, p in zip(whale, pos)])


def map5(pred, truth):
    hit = pred == truth[:, None]
    return float(np.mean(np.where(hit.any(1), 1.0 / (hit.argmax(1) + 1), 0.0)))


def best_threshold(whale, sim, truth):
    """The threshold with the best mAP@5 (candidates: +inf and every similarity; the largest
    one among equal scores)."""
    best = (-1.0, 0.0)
    for t in sorted(set(sim[np.isfinite(sim)].tolist()) | {math.inf}, reverse=True):
        score = map5(predict(whale, sim, t), truth)
        if score > best[0]:
            best = (score, t)
    return best


def load_data(root, cfg):
    """Caches of train and test images, labels, the split and the P x K classes."""
    (w, h), ch = cfg["input"], cfg["channels"]
    d = argparse.Namespace(rows=read_csv(os.path.join(root, "train.csv")))
    d.sample = read_csv(os.path.join(root, "sample_submission.csv"))
    d.tests = [name for name, _ in d.sample]
    d.cache = load_images(os.path.join(root, "train"), [n for n, _ in d.rows], w, h, ch)
    d.test_cache = load_images(os.path.join(root, "test"), d.tests, w, h, ch)
    d.whales = sorted({i for _, i in d.rows if i != "new_whale"})
    d.label_of = {wid: j for j, wid in enumerate(d.whales)}
    d.labels = torch.tensor([d.label_of.get(i, NEW) for _, i in d.rows])
    d.train, d.query = make_split(d.rows, cfg["seed"], cfg["val.query_share"],
                                  cfg["val.new_whale_share"])
    train_whales = sorted({int(d.labels[i]) for i in d.train if d.labels[i] >= 0})
    cls = {wl: j for j, wl in enumerate(train_whales)}  # classes: whales of the training set
    d.items_by_class = [[] for _ in train_whales]
    for i in d.train:
        if d.labels[i] >= 0:
            d.items_by_class[cls[int(d.labels[i])]].append(i)
    return d


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset")
    ap.add_argument("--config")
    ap.add_argument("--minutes", type=float, default=float("inf"), help="training-time budget")
    ap.add_argument("--threads", type=int, help="torch threads (default: the threads key)")
    ap.add_argument("--workers", type=int, default=1, choices=(0, 1), help="DataLoader workers")
    ap.add_argument("--out", help="curve CSV (one row per evaluation)")
    ap.add_argument("--submission", default="torch_recipe_submission.csv")
    ap.add_argument("overrides", nargs="*", metavar="key=value")
    a = ap.parse_args()
    cfg = load_config(a.config, a.overrides)
    root = a.dataset or cfg["dataset"] or sys.exit("no dataset: give --dataset or dataset =")
    if not os.path.isfile(os.path.join(root, "train.csv")):
        sys.exit("%s: no train.csv (not a Kaggle-layout dataset)" % root)
    threads = a.threads if a.threads is not None else cfg["threads"] or os.cpu_count()
    torch.set_num_threads(threads)
    torch.manual_seed(cfg["seed"] % 2**63)
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    if cfg["channels"] == 1:
        mean, std = mean.mean()[None], std.mean()[None]
    norm = (mean.view(-1, 1, 1), std.view(-1, 1, 1))
    t0 = time.perf_counter()
    d = load_data(root, cfg)
    print("torch_recipe: %d train images (%d whales), %d validation queries, %d test images; "
          "cache %dx%dx%d in %.1f s; %d threads, %d loader workers"
          % (len(d.train), len(d.items_by_class), len(d.query), len(d.tests), *cfg["input"],
             cfg["channels"], time.perf_counter() - t0, threads, a.workers), flush=True)

    model = fwmodel.FwModel(int(cfg["backbone"][6:]), cfg["channels"], cfg["width"],
                            cfg["embedding"], cfg["pool"] == "gem", cfg["dropout"])
    model = model.to(memory_format=torch.channels_last)  # faster than NCHW on this CPU
    if cfg["pool"] == "gem":
        model.neck.pool.p.data.fill_(cfg["gem_p"])
    k_sub = cfg["arcface.subcenters"]
    head = torch.nn.Parameter(torch.empty(len(d.items_by_class) * k_sub, cfg["embedding"]))
    torch.nn.init.xavier_uniform_(head)
    params = list(model.parameters())
    opt = torch.optim.AdamW([  # no decay on BN, biases and GeM p; the head at lr x head_lr_mult
        {"params": [p for p in params if p.dim() > 1], "mult": 1.0},
        {"params": [p for p in params if p.dim() <= 1], "mult": 1.0, "weight_decay": 0.0},
        {"params": [head], "mult": cfg["head_lr_mult"]}],
        lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    per_epoch = math.ceil(len(d.items_by_class) / cfg["sampler.p"])  # batches
    total = cfg["epochs"] * per_epoch
    q_idx, g_idx = torch.tensor(d.query), torch.tensor(d.train)
    curve = open(a.out, "w") if a.out else None
    if curve:
        curve.write("train_s,total_s,epoch,step,val_map5,val_top1,threshold\n")
    clock = [time.perf_counter(), 0.0]  # start of training, seconds spent evaluating
    train_time = lambda: time.perf_counter() - clock[0] - clock[1]  # noqa: E731

    def evaluate(step):
        e0 = time.perf_counter()
        emb = embed(model, d.cache, norm, cfg["tta_flip"])
        whale, sim = top5_whales(emb[q_idx], emb[g_idx], d.labels[g_idx], len(d.whales))
        truth = d.labels[q_idx].numpy()
        score, thr = best_threshold(whale, sim, truth)
        top1 = float(np.mean(predict(whale, sim, thr)[:, 0] == truth))
        clock[1] += time.perf_counter() - e0
        row = (train_time(), time.perf_counter() - clock[0], step / per_epoch, step, score, top1,
               thr)
        print("eval train_s %.1f total_s %.1f epoch %.2f step %d val_map5 %.4f val_top1 %.4f "
              "threshold %.4f" % row, flush=True)
        if curve:
            curve.write("%.1f,%.1f,%.3f,%d,%.5f,%.5f,%.5f\n" % row)
            curve.flush()
        return thr

    budget, step, epoch, thr, evaluated, stopped = a.minutes * 60, 0, 0, math.inf, -1, False
    lr = one_cycle(0.0, cfg)[0]
    while epoch < cfg["epochs"] and not stopped:
        plan = pk_epoch(d.items_by_class, cfg["sampler.p"], cfg["sampler.k"], cfg["seed"], epoch)
        loader = torch.utils.data.DataLoader(
            EpochBatches(d.cache, plan, cfg, norm, epoch), batch_size=None,
            num_workers=a.workers, worker_init_fn=lambda _: torch.set_num_threads(1))
        losses = []
        for x, y in loader:
            stopped = train_time() >= budget
            if stopped:
                break
            lr, beta1 = one_cycle(step / total, cfg)
            for group in opt.param_groups:
                group["lr"], group["betas"] = lr * group["mult"], (beta1, 0.999)
            opt.zero_grad(set_to_none=True)
            emb = model(x.contiguous(memory_format=torch.channels_last))
            loss = arcface_loss(emb, head, y, cfg["arcface.scale"], cfg["arcface.margin"], k_sub)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(params + [head], cfg["clip_norm"])
            if torch.isfinite(loss) and torch.isfinite(grad_norm):  # else skip, as flukewatch
                opt.step()
                step += 1
                losses.append(loss.item())
        del loader
        if stopped:
            print("budget: %g min of training spent in epoch %d at step %d of %d (%.0f%% of the "
                  "one-cycle schedule, lr %.2e): stopping here"
                  % (a.minutes, epoch + 1, step, total, 100.0 * step / total, lr), flush=True)
            continue
        epoch += 1
        print("epoch %d train_s %.1f loss %.4f lr %.2e"
              % (epoch, train_time(), np.mean(losses), lr), flush=True)
        if cfg["eval_every"] and epoch % cfg["eval_every"] == 0:
            thr, evaluated = evaluate(step), step
    if evaluated != step:
        thr = evaluate(step)
    trained, total_s = train_time(), time.perf_counter() - clock[0]

    # test: gallery = every train.csv image; new_whale at the last validation threshold
    emb = embed(model, d.cache, norm, cfg["tta_flip"])
    whale, sim = top5_whales(embed(model, d.test_cache, norm, cfg["tta_flip"]), emb, d.labels,
                             len(d.whales))
    pred = predict(whale, sim, thr)
    names = lambda p: " ".join("new_whale" if j == NEW else d.whales[j]  # noqa: E731
                               for j in p if j != -2)
    with open(a.submission, "w") as f:
        f.write("Image,Id\n" + "".join("%s,%s\n" % (n, names(p)) for n, p in zip(d.tests, pred)))
    true_ids = dict(read_csv(os.path.join(root, "test_truth.csv")))
    truth = np.array([d.label_of.get(true_ids[n], NEW) for n in d.tests])  # unseen: new_whale
    sample = np.array([[d.label_of.get(i, -3) if i != "new_whale" else NEW for i in ids.split()]
                       + [-2] * (5 - len(ids.split())) for _, ids in d.sample])
    print("baselines: test mAP@5 %.4f sample_submission.csv, %.4f new_whale alone"
          % (map5(sample, truth), map5(np.full((len(d.tests), 1), NEW), truth)))
    print("training %.1f s, total %.1f s (evaluations included, test excluded); submission %s"
          % (trained, total_s, a.submission))
    print("test mAP@5 %.4f" % map5(pred, truth))


if __name__ == "__main__":
    main()
