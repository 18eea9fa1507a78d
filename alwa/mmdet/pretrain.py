"""The mini setting's analogue of ImageNet pre-training: a short classification
pre-training of the small backbone on object crops of the synthetic set.

The paper starts from torchvision's ImageNet ResNets. Our ResNet-18/4 has no
such weights, and SGD from scratch barely learns in a few hundred iterations,
so :func:`ensure_pretrained` trains the same mmdet ``ResNet`` as a classifier
on crops of the *trainval* objects (plus background crops as an extra class)
and caches the backbone weights, keyed by the dataset and the options. Test
images are never used.

By default the crops are drawn at several sizes (24-64 px) and each of the
three output levels C3, C4, C5 gets its own linear classifier ("deep"): the
detector sees small objects through C3/C4, and with a C5-only classifier
RetinaNet's class scores stayed at chance level in the mini budget
(``book/data/tuning_runs.yaml``). The detector then loads them through mmdet's
``init_cfg=dict(type='Pretrained', checkpoint=...)``.

**Pinned**: pre-training is deterministic on one CPU type but not across them (the float sums differ), and runs
pair only from one backbone. A backbone named in ``alwa/mmdet/pinned/pins.json`` (its file beside it, with its
sha256 and its tensors' hash) is therefore installed into the cache instead of trained, on every machine; a cached
file whose tensors differ from the pin is moved aside (``*.unpinned-<hash>.pth``, with a warning), never deleted.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import warnings
import xml.etree.ElementTree as ET
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from PIL import Image
from torch import nn

from alwa.core.files import file_lock
from alwa.core.settings import PretrainOptions
from alwa.mmdet.fingerprint import checkpoint_hash




def _crops(voc_root: Path, classes, crop: int, bg_per_image: int, rng: np.random.Generator):
    year = voc_root / "VOC2012"
    ids = (year / "ImageSets" / "Main" / "trainval.txt").read_text().split()
    xs, ys = [], []
    cls_index = {c: i for i, c in enumerate(classes)}
    for i in ids:
        img = Image.open(year / "JPEGImages" / f"{i}.jpg").convert("RGB")
        W, H = img.size
        boxes = []
        for o in ET.parse(year / "Annotations" / f"{i}.xml").findall("object"):
            if o.findtext("difficult", "0") == "1":
                continue
            b = [int(o.find("bndbox").findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax")]
            boxes.append(b)
            # a little context around the box, like an anchor that roughly fits
            w, h = b[2] - b[0], b[3] - b[1]
            m = 0.1
            box = (max(0, b[0] - m * w), max(0, b[1] - m * h), min(W, b[2] + m * w), min(H, b[3] + m * h))
            xs.append(np.asarray(img.crop(box).resize((crop, crop), Image.BILINEAR)))
            ys.append(cls_index[o.findtext("name")])
        for _ in range(bg_per_image):  # background: random windows with little overlap with objects
            for _try in range(10):
                s = rng.uniform(16, min(W, H) * 0.6)
                x0, y0 = rng.uniform(0, W - s), rng.uniform(0, H - s)
                if all(_overlap((x0, y0, x0 + s, y0 + s), b) < 0.2 for b in boxes):
                    xs.append(np.asarray(img.crop((x0, y0, x0 + s, y0 + s)).resize((crop, crop), Image.BILINEAR)))
                    ys.append(len(classes))
                    break
    return np.stack(xs), np.asarray(ys)


def _overlap(a, b) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    area = (a[2] - a[0]) * (a[3] - a[1])
    return iw * ih / area if area > 0 else 0.0


class Classifier(nn.Module):
    """Pooled C5 -> linear (``deep=False``), or one linear classifier per output
    level (C3, C4, C5), whose logits are summed (``deep=True``): then the
    finer levels, from which the detector sees small objects, learn the classes too."""

    def __init__(self, backbone: nn.Module, channels: int, n_out: int, deep: bool = False, neck: Optional[nn.Module] = None):
        super().__init__()
        self.backbone, self.deep, self.neck = backbone, deep, neck
        level_channels = [neck.out_channels] * 3 if neck is not None else [channels // 4, channels // 2, channels]
        if deep:
            self.fcs = nn.ModuleList([nn.Linear(c, n_out) for c in level_channels])
        else:
            self.fc = nn.Linear(level_channels[-1], n_out)

    def forward(self, x):
        feats = self.backbone(x)
        if self.neck is not None:
            feats = self.neck(feats)
        if not self.deep:
            return self.fc(feats[-1].mean((2, 3)))
        return [fc(f.mean((2, 3))) for fc, f in zip(self.fcs, feats)]

    def loss(self, x, y):
        out = self(x)
        outs = out if isinstance(out, list) else [out]
        return sum(nn.functional.cross_entropy(o, y) for o in outs)

    def predict(self, x):
        out = self(x)
        return (sum(out) if isinstance(out, list) else out).argmax(1)


def _resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """(N, 3, H, W) crops -> (N, 3, size, size), antialiased; unchanged when already that size."""
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    return nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


def _key(voc_root: Path, classes, opts: PretrainOptions) -> str:
    manifest = voc_root / "mini_voc.json"
    ident = manifest.read_text() if manifest.exists() else (voc_root / "VOC2012/ImageSets/Main/trainval.txt").read_text()
    blob = json.dumps([hashlib.sha256(ident.encode()).hexdigest(), list(classes), asdict(opts)], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def pretrain(voc_root, classes, out_path, opts: Optional[PretrainOptions] = None, progress: bool = True) -> dict:
    """Train and save ``{'state_dict': backbone (+ ``neck.``-prefixed FPN) weights, 'meta': {...}}``; returns meta.

    Runs with ``opts.threads`` torch threads (default 1) and gives the caller's count back afterwards. Until
    2026-12-04 the default was the calling process's count: a checkpoint trained in a 2-thread process differs
    from one trained in a 1-thread sweep worker under the same cache key (measured: iteration-0 loss of the cpu
    RetinaNet L1 seed 0, 2.0206 vs 2.04625): one way in which runs of one seed came to start from different states."""
    opts = opts or PretrainOptions()
    before = torch.get_num_threads()
    if opts.threads:  # the checkpoint depends on it (float sums): part of the cache key, restored afterwards
        torch.set_num_threads(opts.threads)
    try:
        return _pretrain(voc_root, classes, out_path, opts, progress)
    finally:
        torch.set_num_threads(before)


def _pretrain(voc_root, classes, out_path, opts: PretrainOptions, progress: bool) -> dict:
    from mmdet.models.backbones import ResNet

    t0 = time.time()
    rng = np.random.default_rng(opts.seed)
    torch.manual_seed(opts.seed)
    base = max([opts.crop, *opts.sizes])
    x, y = _crops(Path(voc_root), classes, base, opts.background_per_image, rng)
    mean = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)
    X = (torch.from_numpy(x).permute(0, 3, 1, 2).float() - mean) / std  # the detector's normalisation
    Y = torch.from_numpy(y).long()
    n_val = max(1, len(Y) // 10)
    perm = torch.randperm(len(Y))
    val, tr = perm[:n_val], perm[n_val:]
    backbone = ResNet(depth=18, base_channels=opts.base_channels, out_indices=(1, 2, 3), norm_eval=False)
    neck = None
    if opts.neck:
        from mmdet.models.necks import FPN

        w = opts.base_channels  # the detector's neck (alwa.mmdet.configs.mini_config), so its weights load there
        neck = FPN(in_channels=[2 * w, 4 * w, 8 * w], out_channels=opts.neck, start_level=0, add_extra_convs=False, num_outs=3)
        neck.init_weights()
    model = Classifier(backbone, opts.base_channels * 8, len(classes) + 1, deep=opts.deep, neck=neck)
    opt = torch.optim.AdamW(model.parameters(), lr=opts.lr, weight_decay=opts.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=opts.lr, total_steps=opts.steps, pct_start=0.15)
    it = range(opts.steps)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc="pre-training backbone", unit="step")
    g = torch.Generator().manual_seed(opts.seed)
    model.train()
    for _ in it:
        idx = tr[torch.randint(len(tr), (opts.batch_size,), generator=g)]
        xb = X[idx]
        flip = torch.rand(len(idx), generator=g) < 0.5
        xb = torch.where(flip[:, None, None, None], xb.flip(-1), xb)
        size = opts.sizes[int(torch.randint(len(opts.sizes), (1,), generator=g))] if opts.sizes else opts.crop
        xb = _resize(xb, size)
        loss = model.loss(xb, Y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    model.eval()
    with torch.no_grad():
        acc = float((model.predict(_resize(X[val], opts.crop)) == Y[val]).float().mean())
    meta = dict(options=asdict(opts), classes=list(classes), crops=len(Y), val_accuracy=acc, seconds=time.time() - t0)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(".tmp")
    state = dict(backbone.state_dict())
    if neck is not None:  # under "neck." (loaded with prefix="neck."); the backbone's keys stay unprefixed
        state.update({f"neck.{k}": v for k, v in neck.state_dict().items()})
    torch.save({"state_dict": state, "meta": meta}, tmp)
    tmp.replace(out_path)
    out_path.with_suffix(".json").write_text(json.dumps(meta, indent=1))
    return meta


PINNED = Path(__file__).parent / "pinned"


class PinError(ValueError):
    """A pinned backbone that cannot be used as pinned (its file is missing or damaged)."""


def pins(folder: Path = PINNED) -> dict:
    """``{file name: {'sha256', 'state_hash', ...}}`` of the pinned backbones (empty without a manifest)."""
    f = Path(folder) / "pins.json"
    return json.loads(f.read_text()) if f.exists() else {}


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def install_pinned(path: Path, pin: dict, folder: Path = PINNED) -> bool:
    """Put the pinned file for ``path``'s name at ``path`` (checked by sha256); a different checkpoint already there
    is moved aside with a warning. Returns whether anything was written."""
    src = Path(folder) / path.name
    if not src.exists():
        raise PinError(f"the pinned backbone {src} is missing (named in {Path(folder) / 'pins.json'})")
    if _sha256(src) != pin["sha256"]:
        raise PinError(f"the pinned backbone {src} is damaged: its sha256 is {_sha256(src)[:16]}..., "
                       f"{Path(folder) / 'pins.json'} expects {pin['sha256'][:16]}...")
    if path.exists():
        if _sha256(path) == pin["sha256"] or checkpoint_hash(str(path)) == pin["state_hash"]:
            return False
        aside = path.with_name(f"{path.stem}.unpinned-{checkpoint_hash(str(path))}.pth")
        path.replace(aside)
        warnings.warn(f"{path} held a backbone other than the pinned one (tensors {aside.stem.rsplit('-', 1)[-1]}, pinned "
                      f"{pin['state_hash']}); moved to {aside.name}, the pinned one installed", stacklevel=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    shutil.copyfile(src, tmp)
    tmp.replace(path)
    meta = src.with_suffix(".json")
    if meta.exists():
        shutil.copyfile(meta, path.with_suffix(".json"))
    return True


def ensure_pretrained(voc_root, classes, cache_dir=".cache/pretrained", opts: Optional[PretrainOptions] = None,
                      progress: bool = True) -> Path:
    """Path of the cached backbone for this dataset and options: the pinned one where one is pinned (see the
    module), else trained if missing."""
    opts = opts or PretrainOptions()
    path = Path(cache_dir) / f"r18w{opts.base_channels}_{_key(Path(voc_root), classes, opts)}.pth"
    pin = pins().get(path.name)
    with file_lock(path.with_suffix(".lock")):  # one process trains (or installs), the others wait for it
        if pin is not None:
            install_pinned(path, pin)
        elif not path.exists():
            pretrain(voc_root, classes, path, opts, progress=progress)
    return path
