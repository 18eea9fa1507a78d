"""ALWAHook on MMDetection's own detector configs: what it weighs, and that it changes nothing else.

Each :class:`StockDetector` is a config file as mmdet ships it (its pre-trained backbone download switched off and
YOLOX's batch-size randomiser dropped, nothing else), built at tiny scale: a batch of two noise images of ``size``
pixels with two boxes each (and masks where the detector needs them). :func:`check_detector` runs it three times from
one initial state (``torch``, ``numpy`` and ``random`` seeded per iteration, so samplers and denoising queries repeat):

1. without the hook, ``iterations`` SGD steps;
2. with the hook holding both weights at 1 (``mode='monitor'``), the same steps: every loss must equal run 1's,
   bit for bit;
3. with the weights fixed at ``cls_weight``/``reg_weight`` (powers of two, so the products are exact), one step:
   the weighted keys must be exactly ``weight x`` run 1's and every other loss unchanged.

The result, a :class:`DetectorCheck` per detector, names the head, the keys weighed by default (see
:func:`alwa.mmdet.heads.default_keys`) and the keys left untouched; the book's mmdet page prints that table from the
stored record (``alwa bench detectors``).
"""

from __future__ import annotations

import copy
import random
import re
import time
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from alwa.core.checks import DetectorCheck
from alwa.mmdet.configs import MMDET_CONFIGS
from alwa.mmdet.hook import ALWAHook

WEIGHTS = (0.5, 2.0)  # powers of two: weight x loss is exact in floating point


@dataclass(frozen=True)
class StockDetector:
    """One stock mmdet config (``config``: its path under mmdet's ``configs/``) and the hook's ``head=``."""

    name: str
    config: str
    size: int = 96  # pixels; SSD300 needs 300, DINO needs >= 900 encoder tokens for its 900 queries
    head: Optional[str] = None
    masks: bool = False


STOCK_DETECTORS: tuple[StockDetector, ...] = (
    StockDetector("RetinaNet", "retinanet/retinanet_r50_fpn_1x_coco.py"),
    StockDetector("FCOS", "fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py"),
    StockDetector("ATSS", "atss/atss_r50_fpn_1x_coco.py"),
    StockDetector("GFL", "gfl/gfl_r50_fpn_1x_coco.py"),
    StockDetector("Faster R-CNN", "faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py"),
    StockDetector("Faster R-CNN (RoI head)", "faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py", head="roi_head.bbox_head"),
    StockDetector("Cascade R-CNN", "cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py"),
    StockDetector("Cascade R-CNN (stage 1 of 3)", "cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py",
                  head="roi_head.bbox_head.0"),
    StockDetector("Mask R-CNN", "mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py", masks=True),
    StockDetector("YOLOX-tiny", "yolox/yolox_tiny_8xb8-300e_coco.py"),
    StockDetector("SSD300", "ssd/ssd300_coco.py", size=300),
    StockDetector("DETR", "detr/detr_r50_8xb2-150e_coco.py"),
    StockDetector("Deformable DETR", "deformable_detr/deformable-detr_r50_16xb2-50e_coco.py"),
    StockDetector("DINO", "dino/dino-4scale_r50_8xb2-12e_coco.py", size=224),
)


def _strip_pretrained(node) -> None:
    """Switch off every ``init_cfg`` that downloads weights (the matrix builds models, it does not need them)."""
    if isinstance(node, dict):
        if node.get("init_cfg") is not None and "Pretrained" in str(node["init_cfg"]):
            node["init_cfg"] = None
        for v in node.values():
            _strip_pretrained(v)
    elif isinstance(node, list):
        for v in node:
            _strip_pretrained(v)


def build_tiny(det: StockDetector) -> torch.nn.Module:
    """The stock config's model, randomly initialised, in train mode."""
    from mmengine.config import Config
    from mmengine.logging import MMLogger
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules

    register_all_modules()
    cfg = Config.fromfile(str(MMDET_CONFIGS / det.config))
    _strip_pretrained(cfg.model)
    if cfg.model.get("data_preprocessor", {}).get("batch_augments"):
        cfg.model.data_preprocessor.batch_augments = None  # YOLOX's size randomiser reads the runner's iteration
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel("ERROR")  # init_weights logs every parameter
    try:
        model = MODELS.build(cfg.model)
        model.init_weights()
    finally:
        logger.setLevel(level)
    return model.train()


def tiny_batch(size: int, masks: bool = False, n: int = 2) -> dict:
    """``n`` noise images of ``size`` x ``size`` with two boxes each (classes 1 and 5), as a dataloader yields them."""
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData

    g = torch.Generator().manual_seed(0)
    boxes = torch.tensor([[0.06, 0.12, 0.56, 0.75], [0.38, 0.19, 0.94, 0.62]]) * size
    inputs, samples = [], []
    for _ in range(n):
        inputs.append(torch.randint(0, 256, (3, size, size), generator=g, dtype=torch.uint8))
        s = DetDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size), scale_factor=(1.0, 1.0),
                                        pad_shape=(size, size)))
        inst = InstanceData(bboxes=boxes.clone(), labels=torch.tensor([1, 5]))
        if masks:
            m = np.zeros((2, size, size), np.uint8)
            for i, (x0, y0, x1, y1) in enumerate(boxes.round().int().tolist()):
                m[i, y0:y1, x0:x1] = 1
            inst.masks = BitmapMasks(m, size, size)
        s.gt_instances = inst
        s.ignored_instances = InstanceData(bboxes=torch.zeros(0, 4), labels=torch.zeros(0, dtype=torch.long))
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def detector_key(head_path: str, key: str) -> str:
    """The name under which the detector reports the head's loss ``key``: a cascade's RoI head prefixes stage ``i``'s
    losses with ``s{i}.`` (``roi_head.bbox_head.0``'s ``loss_cls`` is ``s0.loss_cls``); other heads' keys pass as
    they are."""
    m = re.fullmatch(r"roi_head\.bbox_head\.(\d+)", head_path)
    return f"s{m.group(1)}.{key}" if m else key


def _sums(losses: dict) -> dict[str, float]:
    out = {}
    for k, v in losses.items():
        if "loss" in k:
            out[k] = float(sum(x.detach().sum() for x in v) if isinstance(v, (list, tuple)) else v.detach().sum())
    return out


def _train(model, state, batch, iterations: int, hook: Optional[ALWAHook]) -> list[dict[str, float]]:
    """``iterations`` SGD steps from ``state``; the losses of each (hook attached for the run, detached after)."""
    model.load_state_dict(state)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    if hook is not None:
        hook.attach(model)
    try:
        seen = []
        for i in range(iterations):
            torch.manual_seed(i)
            np.random.seed(i)
            random.seed(i)
            data = model.data_preprocessor(copy.deepcopy(batch), True)
            losses = model.loss(data["inputs"], data["data_samples"])
            seen.append(_sums(losses))
            total = sum(v.sum() if torch.is_tensor(v) else sum(x.sum() for x in v)
                        for k, v in losses.items() if "loss" in k)
            opt.zero_grad()
            total.backward()
            opt.step()
        return seen
    finally:
        if hook is not None:
            hook.detach(model)


def check_detector(det: StockDetector, iterations: int = 2) -> DetectorCheck:
    """Run the three runs of the module docstring on ``det``; an exception is recorded, not raised."""
    t0 = time.perf_counter()
    try:
        model = build_tiny(det)
        state = copy.deepcopy(model.state_dict())
        batch = tiny_batch(det.size, det.masks)
        plain = _train(model, state, batch, iterations, None)
        ones = _train(model, state, batch, iterations, ALWAHook(head=det.head, mode="monitor", interval=100))
        hook = ALWAHook(head=det.head, mode="monitor", interval=100, cls_weight=WEIGHTS[0], reg_weight=WEIGHTS[1])
        scaled = _train(model, state, batch, 1, hook)[0]
        path, head = hook.head_path, hook.head_type
        if hook.resolved_keys is None:
            raise RuntimeError(f"the head {path!r} was never called: its loss method is not the one the detector uses")
        cls_keys, reg_keys, untouched = hook.resolved_keys
        identity = max(abs(a[k] - b.get(k, float("nan"))) for a, b in zip(plain, ones) for k in a)
        scale = {**{detector_key(path, k): WEIGHTS[0] for k in cls_keys},
                 **{detector_key(path, k): WEIGHTS[1] for k in reg_keys}}
        missing = sorted(set(scale) - set(plain[0]))
        if missing:
            raise RuntimeError(f"the detector does not report the weighted keys {missing}: got {sorted(plain[0])}")
        err = max(abs(scaled[k] - scale.get(k, 1.0) * v) for k, v in plain[0].items())
        return DetectorCheck(det.name, det.config, path, head, cls_keys, reg_keys, untouched, iterations,
                             float(identity), float(err), time.perf_counter() - t0, None, plain[0])
    except Exception as e:  # noqa: BLE001 - a detector that fails is a row of the table, named with its error
        return DetectorCheck(det.name, det.config, det.head or "", seconds=time.perf_counter() - t0,
                             error=f"{type(e).__name__}: {e}".splitlines()[0][:300])


def check_detectors(detectors: Sequence[StockDetector] = STOCK_DETECTORS, iterations: int = 2,
                    progress: Optional[Callable[[DetectorCheck], None]] = None) -> list[DetectorCheck]:
    """:func:`check_detector` on each; ``progress`` is called with each result as it comes."""
    out = []
    for det in detectors:
        row = check_detector(det, iterations)
        out.append(row)
        if progress is not None:
            progress(row)
    return out


def find_detectors(names: Sequence[str]) -> list[StockDetector]:
    """The stock detectors named (by :attr:`StockDetector.name`, case-insensitive); an unknown name is an error."""
    by = {d.name.lower(): d for d in STOCK_DETECTORS}
    unknown = [n for n in names if n.lower() not in by]
    if unknown:
        raise ValueError(f"unknown detector(s) {unknown}; known: {[d.name for d in STOCK_DETECTORS]}")
    return [by[n.lower()] for n in names]
