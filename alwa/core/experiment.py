"""The experiment name grammar: one :class:`Experiment` per configuration, its name the result key.

No mm* import: names are built, parsed and compared here, and only here. A name is::

    {detector}_{backbone}_{dataset}_{regloss}_{weighting}[_C{C}][_init{w}][_detrend][_lr{lr}][_it{iters}][_noclip]

    detector   retinanet | faster-rcnn | mask-rcnn
    backbone   r50 | r101 (paper);  r18w16 (mini: ResNet-18 at 1/4 width)
    dataset    voc | coco (paper);  mini (the synthetic VOC-layout set)
    regloss    l1 | smoothl1 | giou | ciou
    weighting  base            1:1 weights (ALWA in 'monitor' mode: statistics only)
               w{cls}-{reg}    fixed weights, e.g. w0.50-0.75 (table 1 / 5)
               alwa1 | alwa2   ALWA with initial weights 1:1 unless _init{w} says otherwise (table 8)
               uw | dwa | rlw  uncertainty weighting, Dynamic Weight Average, Random Loss Weighting
                               (alwa.core.weightings); DWA's window is C (``_C{C}``) like ALWA's
    _C{C}      ALWA's window C (table 7); without it the setting's C (the paper's 100; a mini setting may
               name its own, e.g. 4 at the smoke profile): ``Experiment.interval`` is None
    _detrend   ALWA's window statistic taken around the window's linear trend (``ALWA(stat='detrended')``)
    _lr{lr}    the peak learning rate, where it differs from the setting's (e.g. ``_lr0.04``)
    _it{iters} the schedule's length in iterations, where it differs from the setting's (e.g. ``_it1200``)
    _noclip    no gradient clipping (the norm is still measured and recorded)

e.g. ``retinanet_r50_voc_l1_alwa2``, ``faster-rcnn_r50_voc_ciou_alwa2_C200``,
``retinanet_r18w16_mini_l1_w0.50-0.75``, ``retinanet_r18w16_mini_l1_base_lr0.01_it1200``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Iterator, Optional, Union

DETECTORS = ("retinanet", "faster-rcnn", "mask-rcnn")
BACKBONES = ("r50", "r101", "r18w16")
DATASETS = ("voc", "coco", "mini")
REG_LOSSES = ("l1", "smoothl1", "giou", "ciou")
WEIGHTINGS = ("base", "fixed", "alwa1", "alwa2", "uw", "dwa", "rlw")
OTHER_WEIGHTINGS = ("uw", "dwa", "rlw")  # alwa.core.weightings: adaptive loss weightings besides ALWA
WINDOWED = ("alwa1", "alwa2", "dwa")  # weightings whose window C is theirs to name (``_C{C}``)
PAPER_C = 100  # ALWA's window in the paper (and the window of a name without _C where the setting names none)
_NUM = r"\d+(?:\.\d+)?(?:e-?\d+)?"

_NAME = re.compile(
    r"^(?P<detector>retinanet|faster-rcnn|mask-rcnn)_(?P<backbone>r50|r101|r18w16)_(?P<dataset>voc|coco|mini)_"
    rf"(?P<reg_loss>l1|smoothl1|giou|ciou)_(?P<weighting>base|alwa1|alwa2|uw|dwa|rlw|w(?P<wc>{_NUM})-(?P<wr>{_NUM}))"
    rf"(?:_C(?P<C>\d+))?(?:_init(?P<init>{_NUM}))?(?P<detrend>_detrend)?(?:_lr(?P<lr>{_NUM}))?(?:_it(?P<iters>\d+))?"
    r"(?P<noclip>_noclip)?$"
)


@dataclass(frozen=True)
class Experiment:
    """One configuration (see the module doc for its name).

    ``lr``, ``iters`` and ``interval`` (ALWA's window C) are None where the setting's values hold (see
    :meth:`window`); ``clip`` False turns gradient clipping off; ``detrend`` is ALWA's trend-free window statistic."""

    detector: str
    backbone: str
    dataset: str
    reg_loss: str
    weighting: str  # base | fixed | alwa1 | alwa2 | uw | dwa | rlw
    cls_weight: float = 1.0
    reg_weight: float = 1.0
    interval: Optional[int] = None
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
        if self.weighting in ("base",) + OTHER_WEIGHTINGS and (self.cls_weight, self.reg_weight) != (1.0, 1.0):
            raise ValueError(f"a {self.weighting} run starts from weights 1:1; use weighting='fixed' for others")
        if alwa and self.cls_weight != self.reg_weight:
            raise ValueError("ALWA runs start from equal weights (_init{w})")
        if self.lr is not None and not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.iters is not None and int(self.iters) <= 0:
            raise ValueError(f"iters must be > 0, got {self.iters}")
        if self.interval is not None and (self.weighting not in WINDOWED or int(self.interval) <= 0):
            raise ValueError(f"interval (the window C) must be a whole number > 0 of an ALWA or DWA run, got {self.interval!r}"
                             f" for weighting {self.weighting!r}")

    def window(self, setting_c: Optional[int] = None) -> int:
        """The window C a run of this experiment uses: its own (``_C{C}``), else the setting's ``setting_c``,
        else the paper's 100."""
        if self.interval is not None:
            return int(self.interval)
        return int(setting_c) if setting_c is not None else PAPER_C

    def __lt__(self, other: "Experiment") -> bool:  # experiments sort by name (tables, pooled keys)
        if not isinstance(other, Experiment):
            return NotImplemented
        return self.name < other.name

    @property
    def weighting_tag(self) -> str:
        """The weighting part of the name: ``base``, ``alwa1``, ``alwa2`` or ``w{cls}-{reg}`` (e.g. ``w0.50-0.75``)."""
        if self.weighting == "fixed":
            return f"w{self.cls_weight:.2f}-{self.reg_weight:.2f}"
        return self.weighting

    @property
    def name(self) -> str:
        s = f"{self.detector}_{self.backbone}_{self.dataset}_{self.reg_loss}_{self.weighting_tag}"
        if self.weighting in WINDOWED and self.interval is not None:
            s += f"_C{int(self.interval)}"
        if self.weighting in ("alwa1", "alwa2"):
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
                f"{BACKBONES}, dataset in {DATASETS}, regloss in {REG_LOSSES}, weighting base|alwa1|alwa2|uw|dwa|rlw|w<cls>-<reg>"
            )
        g = m.groupdict()
        extra = dict(detrend=bool(g["detrend"]), lr=float(g["lr"]) if g["lr"] else None,
                     iters=int(g["iters"]) if g["iters"] else None, clip=not g["noclip"])
        if g["weighting"] in OTHER_WEIGHTINGS:
            if g["init"] or g["detrend"] or (g["C"] and g["weighting"] not in WINDOWED):
                raise ValueError(f"{name!r}: _init and _detrend apply to ALWA runs only, _C to ALWA and DWA")
            exp = cls(g["detector"], g["backbone"], g["dataset"], g["reg_loss"], g["weighting"],
                      interval=int(g["C"]) if g["C"] else None, **extra)
        elif g["wc"] is not None or g["weighting"] == "base":
            if g["C"] or g["init"] or g["detrend"]:
                raise ValueError(f"{name!r}: _C, _init and _detrend apply to ALWA runs only")
            if g["wc"] is not None:
                exp = cls(g["detector"], g["backbone"], g["dataset"], g["reg_loss"], "fixed", float(g["wc"]), float(g["wr"]), **extra)
            else:
                exp = cls(g["detector"], g["backbone"], g["dataset"], g["reg_loss"], "base", **extra)
        else:
            init = float(g["init"]) if g["init"] else 1.0
            exp = cls(g["detector"], g["backbone"], g["dataset"], g["reg_loss"], g["weighting"], init, init,
                      int(g["C"]) if g["C"] else None, **extra)
        if exp.name != name:
            raise ValueError(f"{name!r} is not in canonical form: write {exp.name!r}")
        return exp

    @classmethod
    def of_name(cls, experiment: "Experiment | str") -> "Experiment":
        """``experiment`` itself, or the experiment its name (a string) stands for."""
        return experiment if isinstance(experiment, Experiment) else cls.parse(experiment)

    def baseline(self) -> "Experiment":
        """The 1:1 run of the same detector, backbone, data, loss, learning rate, schedule and clipping."""
        return replace(self, weighting="base", cls_weight=1.0, reg_weight=1.0, interval=None, detrend=False)

    @classmethod
    def of(cls, detector: str, backbone: str, dataset: str, reg_loss: str, weighting: str = "base", *, pair: Optional[str] = None,
           interval: Optional[int] = None, init: float = 1.0, **extra) -> "Experiment":
        """Build from parts: ``weighting`` base | alwa1 | alwa2, or ``pair='0.50:0.75'`` for fixed weights ('1.00:1.00' is
        the baseline); ``interval`` (None: the setting's C) / ``init`` for ALWA; ``extra``: lr, iters, clip, detrend."""
        if pair is not None:
            a, b = (float(v) for v in pair.split(":"))
            if (a, b) == (1.0, 1.0):
                return cls(detector, backbone, dataset, reg_loss, "base", **extra)
            return cls(detector, backbone, dataset, reg_loss, "fixed", a, b, **extra)
        if weighting in ("alwa1", "alwa2"):
            return cls(detector, backbone, dataset, reg_loss, weighting, float(init), float(init),
                       None if interval is None else int(interval), **extra)
        if weighting in WINDOWED:
            return cls(detector, backbone, dataset, reg_loss, weighting, interval=None if interval is None else int(interval), **extra)
        return cls(detector, backbone, dataset, reg_loss, weighting, **extra)

    def with_(self, **changes) -> "Experiment":
        """A copy with ``changes`` (dataclasses.replace, validated)."""
        return replace(self, **changes)


def run_key(name: str, seed: int) -> str:
    """The key of one run (its result file, work folder and log): ``{experiment name}__s{seed}``."""
    return f"{name}__s{int(seed)}"


@dataclass(frozen=True, eq=True)
class RunSpec:
    """One run to make: an :class:`Experiment`, a seed, and the settings it runs with (``overrides``: where its
    work goes, ``work_root``; for the mini setting ``data_dir``, ``dataset``, ``pretrain``, ``setting``; for the
    paper's ``data_root``, ``paper``; see :func:`alwa.mmdet.run.run_spec`).

    Written to a record (and across a process boundary) as :meth:`to_dict`, the flat mapping
    ``{"name": ..., "seed": ..., **overrides}`` every result file since the first sweep holds; read back with
    :meth:`from_dict`, which parses the name once."""

    experiment: Experiment
    seed: int = 0
    overrides: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self):
        if not isinstance(self.experiment, Experiment):
            raise TypeError(f"RunSpec.experiment must be an Experiment, got {type(self.experiment).__name__}")
        if isinstance(self.seed, bool) or int(self.seed) != self.seed:
            raise ValueError(f"RunSpec.seed must be a whole number, got {self.seed!r}")
        bad = sorted({"name", "seed"} & set(self.overrides))
        if bad:
            raise ValueError(f"RunSpec.overrides may not set {bad}: the experiment and the seed say them")
        object.__setattr__(self, "seed", int(self.seed))
        object.__setattr__(self, "overrides", dict(self.overrides))

    @property
    def name(self) -> str:
        return self.experiment.name

    @property
    def key(self) -> str:
        """``{name}__s{seed}``: the run's result file, work folder and log (:func:`run_key`)."""
        return run_key(self.name, self.seed)

    def get(self, key: str, default=None):
        """An override (``work_root``, ``setting``, ...), or ``default``."""
        return self.overrides.get(key, default)

    def to_dict(self) -> dict:
        return {"name": self.name, "seed": self.seed, **self.overrides}

    @classmethod
    def from_dict(cls, d: Mapping) -> "RunSpec":
        """The spec a record or a sweep wrote (:meth:`to_dict`); a name that is not an experiment's is refused."""
        if not isinstance(d, Mapping) or not isinstance(d.get("name"), str):
            raise ValueError(f"a run spec needs a 'name' (an experiment name), got {d!r:.120}")
        rest = {k: v for k, v in d.items() if k not in ("name", "seed")}
        return cls(Experiment.parse(d["name"]), d.get("seed", 0), rest)

    @classmethod
    def of(cls, spec: "RunSpec | Mapping") -> "RunSpec":
        """``spec`` itself, or the spec its :meth:`to_dict` mapping stands for."""
        return spec if isinstance(spec, RunSpec) else cls.from_dict(spec)


class RunRecord(Mapping):
    """One finished run as the store reads it: its :class:`Experiment` (parsed once, from the record's name),
    ``seed``, ``mAP`` (a fraction) and the :class:`RunSpec` it was made with (None for records older than specs),
    with every stored field still readable by key (``record["per_iter"]``), so result files of every age load
    unchanged. Selecting records by field (``r.experiment.detector == ...``) replaces rebuilding their names."""

    __slots__ = ("_data", "__dict__")

    def __init__(self, data: Mapping):
        if not isinstance(data, Mapping) or not isinstance(data.get("name"), str):
            raise ValueError(f"a run record needs a 'name', got {data!r:.120}")
        self._data = dict(data)

    @classmethod
    def of(cls, record: "RunRecord | Mapping") -> "RunRecord":
        return record if isinstance(record, RunRecord) else cls(record)

    # the stored fields, read-only
    def __getitem__(self, key: str):
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"RunRecord({self.key!r}, mAP={self._data.get('mAP')!r})"

    def to_dict(self) -> dict:
        """The stored mapping (a copy), as written to its file."""
        return dict(self._data)

    @property
    def name(self) -> str:
        return self._data["name"]

    @property
    def seed(self) -> int:
        return int(self._data.get("seed", 0))

    @property
    def key(self) -> str:
        return run_key(self.name, self.seed)

    @property
    def mAP(self) -> Optional[float]:
        v = self._data.get("mAP")
        return None if v is None else float(v)

    @cached_property
    def experiment(self) -> Experiment:
        """The record's experiment (parsed once; a record whose name is not an experiment's raises here)."""
        return Experiment.parse(self.name)

    @cached_property
    def spec(self) -> Optional[RunSpec]:
        s = self._data.get("spec")
        return None if s is None else RunSpec.from_dict(s)


RecordLike = Union[RunRecord, Mapping]
