"""The experiment name grammar: one :class:`Experiment` per configuration, its name the result key.

No mm* import: names are built, parsed and compared here, and only here. A name is::

    {detector}_{backbone}_{dataset}_{regloss}_{weighting}[_C{C}][_init{w}][_detrend][_lr{lr}][_it{iters}][_noclip]

    detector   retinanet | faster-rcnn | mask-rcnn
    backbone   r50 | r101 (paper);  r18w16 (mini: ResNet-18 at 1/4 width)
    dataset    voc | coco (paper);  mini (the synthetic VOC-layout set)
    regloss    l1 | smoothl1 | giou | ciou
    weighting  base            1:1 weights (ALWA in 'monitor' mode: statistics only)
               w{cls}-{reg}    fixed weights, e.g. w0.50-0.75 (table 1 / 5)
               alwa1 | alwa2   ALWA with C = 100 and initial weights 1:1 unless
                               _C{C} / _init{w} say otherwise (tables 7 / 8)
    _detrend   ALWA's window statistic taken around the window's linear trend (``ALWA(stat='detrended')``)
    _lr{lr}    the peak learning rate, where it differs from the setting's (e.g. ``_lr0.04``)
    _it{iters} the schedule's length in iterations, where it differs from the setting's (e.g. ``_it1200``)
    _noclip    no gradient clipping (the norm is still measured and recorded)

e.g. ``retinanet_r50_voc_l1_alwa2``, ``faster-rcnn_r50_voc_ciou_alwa2_C200``,
``retinanet_r18w16_mini_l1_w0.50-0.75``, ``retinanet_r18w16_mini_l1_base_lr0.01_it1200``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Optional

DETECTORS = ("retinanet", "faster-rcnn", "mask-rcnn")
BACKBONES = ("r50", "r101", "r18w16")
DATASETS = ("voc", "coco", "mini")
REG_LOSSES = ("l1", "smoothl1", "giou", "ciou")
WEIGHTINGS = ("base", "fixed", "alwa1", "alwa2")
_NUM = r"\d+(?:\.\d+)?(?:e-?\d+)?"

_NAME = re.compile(
    r"^(?P<detector>retinanet|faster-rcnn|mask-rcnn)_(?P<backbone>r50|r101|r18w16)_(?P<dataset>voc|coco|mini)_"
    rf"(?P<reg_loss>l1|smoothl1|giou|ciou)_(?P<weighting>base|alwa1|alwa2|w(?P<wc>{_NUM})-(?P<wr>{_NUM}))"
    rf"(?:_C(?P<C>\d+))?(?:_init(?P<init>{_NUM}))?(?P<detrend>_detrend)?(?:_lr(?P<lr>{_NUM}))?(?:_it(?P<iters>\d+))?"
    r"(?P<noclip>_noclip)?$"
)


@dataclass(frozen=True)
class Experiment:
    """One configuration (see the module doc for its name).

    ``lr`` and ``iters`` are None where the setting's values hold; ``clip`` False turns
    gradient clipping off; ``detrend`` is ALWA's trend-free window statistic."""

    detector: str
    backbone: str
    dataset: str
    reg_loss: str
    weighting: str  # base | fixed | alwa1 | alwa2
    cls_weight: float = 1.0
    reg_weight: float = 1.0
    interval: int = 100
    detrend: bool = False
    lr: Optional[float] = None
    iters: Optional[int] = None
    clip: bool = True

    def __post_init__(self):
        for field, allowed in (("detector", DETECTORS), ("backbone", BACKBONES), ("dataset", DATASETS),
                               ("reg_loss", REG_LOSSES), ("weighting", WEIGHTINGS)):
            if getattr(self, field) not in allowed:
                raise ValueError(f"Experiment.{field} = {getattr(self, field)!r}; expected one of {allowed}")
        alwa = self.weighting in ("alwa1", "alwa2")
        if not alwa and self.detrend:
            raise ValueError("_detrend applies to ALWA runs only")  # interval: the monitor window of a baseline, not named
        if self.weighting == "base" and (self.cls_weight, self.reg_weight) != (1.0, 1.0):
            raise ValueError("a baseline has weights 1:1; use weighting='fixed'")
        if alwa and self.cls_weight != self.reg_weight:
            raise ValueError("ALWA runs start from equal weights (_init{w})")
        if self.lr is not None and not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.iters is not None and int(self.iters) <= 0:
            raise ValueError(f"iters must be > 0, got {self.iters}")

    @property
    def weighting_tag(self) -> str:
        """The weighting part of the name: ``base``, ``alwa1``, ``alwa2`` or ``w{cls}-{reg}`` (e.g. ``w0.50-0.75``)."""
        if self.weighting == "fixed":
            return f"w{self.cls_weight:.2f}-{self.reg_weight:.2f}"
        return self.weighting

    @property
    def name(self) -> str:
        s = f"{self.detector}_{self.backbone}_{self.dataset}_{self.reg_loss}_{self.weighting_tag}"
        if self.weighting in ("alwa1", "alwa2"):
            if self.interval != 100:
                s += f"_C{self.interval}"
            if self.cls_weight != 1.0:
                s += f"_init{self.cls_weight:g}"
            if self.detrend:
                s += "_detrend"
        if self.lr is not None:
            s += f"_lr{self.lr:g}"
        if self.iters is not None:
            s += f"_it{int(self.iters)}"
        if not self.clip:
            s += "_noclip"
        return s

    @classmethod
    def parse(cls, name: str) -> "Experiment":
        m = _NAME.match(name)
        if not m:
            raise ValueError(
                f"not an experiment name: {name!r}; expected {{detector}}_{{backbone}}_{{dataset}}_{{regloss}}_{{weighting}}"
                f"[_C{{C}}][_init{{w}}][_detrend][_lr{{lr}}][_it{{iters}}][_noclip] with detector in {DETECTORS}, backbone in "
                f"{BACKBONES}, dataset in {DATASETS}, regloss in {REG_LOSSES}, weighting base|alwa1|alwa2|w<cls>-<reg>"
            )
        g = m.groupdict()
        extra = dict(detrend=bool(g["detrend"]), lr=float(g["lr"]) if g["lr"] else None,
                     iters=int(g["iters"]) if g["iters"] else None, clip=not g["noclip"])
        if g["wc"] is not None or g["weighting"] == "base":
            if g["C"] or g["init"] or g["detrend"]:
                raise ValueError(f"{name!r}: _C, _init and _detrend apply to ALWA runs only")
            if g["wc"] is not None:
                exp = cls(g["detector"], g["backbone"], g["dataset"], g["reg_loss"], "fixed", float(g["wc"]), float(g["wr"]), **extra)
            else:
                exp = cls(g["detector"], g["backbone"], g["dataset"], g["reg_loss"], "base", **extra)
        else:
            init = float(g["init"]) if g["init"] else 1.0
            exp = cls(g["detector"], g["backbone"], g["dataset"], g["reg_loss"], g["weighting"], init, init,
                      int(g["C"]) if g["C"] else 100, **extra)
        if exp.name != name:
            raise ValueError(f"{name!r} is not in canonical form: write {exp.name!r}")
        return exp

    def baseline(self) -> "Experiment":
        """The 1:1 run of the same detector, backbone, data, loss, learning rate, schedule and clipping."""
        return replace(self, weighting="base", cls_weight=1.0, reg_weight=1.0, interval=100, detrend=False)

    @classmethod
    def of(cls, detector: str, backbone: str, dataset: str, reg_loss: str, weighting: str = "base", *, pair: Optional[str] = None,
           interval: int = 100, init: float = 1.0, **extra) -> "Experiment":
        """Build from parts: ``weighting`` base | alwa1 | alwa2, or ``pair='0.50:0.75'`` for fixed weights ('1.00:1.00' is
        the baseline); ``interval``/``init`` for ALWA; ``extra``: lr, iters, clip, detrend."""
        if pair is not None:
            a, b = (float(v) for v in pair.split(":"))
            if (a, b) == (1.0, 1.0):
                return cls(detector, backbone, dataset, reg_loss, "base", **extra)
            return cls(detector, backbone, dataset, reg_loss, "fixed", a, b, **extra)
        if weighting in ("alwa1", "alwa2"):
            return cls(detector, backbone, dataset, reg_loss, weighting, float(init), float(init), int(interval), **extra)
        return cls(detector, backbone, dataset, reg_loss, weighting, **extra)

    def with_(self, **changes) -> "Experiment":
        """A copy with ``changes`` (dataclasses.replace, validated)."""
        return replace(self, **changes)


def run_key(name: str, seed: int) -> str:
    """The key of one run (its result file, work folder and log): ``{experiment name}__s{seed}``."""
    return f"{name}__s{int(seed)}"
