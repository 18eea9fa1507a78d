"""Typed records of the analysis layer: the status of a claim, a claim, a paired difference, a summary row.

The result files keep their schema: :meth:`Claim.as_dict` writes what the claim records always held
(``ours``, ``status`` and, where present, ``paper``, ``note``, ``values``), and :meth:`Claim.from_dict`
reads them back, refusing a status that is not a :class:`Status`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Mapping, Optional

from alwa.core.experiment import Experiment
from alwa.core.stats import PairedDiff, Verdict  # noqa: F401 (the analysis' records name them)


class Status(StrEnum):
    """A claim's status (a ``str``: it compares and serialises as its text)."""

    SUPPORTED = "supported"
    NOT_SUPPORTED = "not supported"
    INCONCLUSIVE = "inconclusive"  # the paired 95 % CI spans 0 (the learning-rate study's regimes)
    INCONCLUSIVE_MINI = "inconclusive at mini scale"
    NEEDS_GPU = "needs GPU"  # a claim about VOC/COCO at full scale
    TOO_FEW_RUNS = "too few runs"
    NOT_RUN = "not run"
    NOT_RUN_YET = "not run yet"


_VERDICT_STATUS = {Verdict.BETTER: Status.SUPPORTED, Verdict.WORSE: Status.NOT_SUPPORTED,
                   Verdict.INCONCLUSIVE: Status.INCONCLUSIVE, Verdict.TOO_FEW_SEEDS: Status.TOO_FEW_RUNS}


def verdict_status(v: Verdict) -> Status:
    """The claim status a verdict gives a claim that ALWA (the method) does better."""
    return _VERDICT_STATUS[v]


def combined_status(statuses) -> Status:
    """The one rule that combines a claim's parts (e.g. ALWA-1 and ALWA-2, each by :func:`verdict_status`): supported if
    any part is; else, where every part says the same (not supported, too few runs, inconclusive, ...), that; else
    (parts that disagree and none supported) inconclusive at mini scale."""
    statuses = list(statuses)
    if any(s == Status.SUPPORTED for s in statuses):
        return Status.SUPPORTED
    if statuses and len(set(statuses)) == 1:
        return Status(statuses[0])
    return Status.INCONCLUSIVE_MINI


@dataclass(frozen=True)
class SummaryRow:
    """One experiment over its seeds (:func:`alwa.analysis.summaries.summary_table`): the metric's mean, standard
    deviation and t 95 % CI of the mean, and the paired difference to its baseline (``None`` for a baseline, or where
    the baseline has no runs). A row of an experiment without runs is :meth:`empty`: ``n`` 0, values NaN.
    ``experiment``: the row's :class:`~alwa.core.experiment.Experiment` (tables select rows by it; ``name`` is
    its name, for display)."""

    name: str
    n: int = 0
    mean: float = math.nan
    std: float = math.nan
    lo: float = math.nan
    hi: float = math.nan
    diff: Optional[PairedDiff] = None
    experiment: Optional[Experiment] = field(default=None, compare=False)

    @classmethod
    def empty(cls, experiment: Experiment) -> "SummaryRow":
        """The row of an experiment without runs."""
        return cls(experiment.name, experiment=experiment)

    @property
    def verdict(self) -> Optional[Verdict]:
        return None if self.diff is None else self.diff.verdict

    @property
    def diff_mean(self) -> float:
        """The paired difference's mean; NaN without one (sorts and filters like a missing value)."""
        return math.nan if self.diff is None else self.diff.mean

    def as_dict(self) -> dict:
        """The flat mapping the rows were before they were typed (``diff``, ``diff_lo``, ``diff_hi``, ``diff_p``,
        ``diff_n``, ``verdict`` only where there is a difference), e.g. for a DataFrame."""
        out: dict[str, Any] = {"name": self.name, "n": self.n, "mean": self.mean, "std": self.std, "lo": self.lo, "hi": self.hi}
        if self.diff is not None:
            d = self.diff
            out.update(diff=d.mean, diff_lo=d.lo, diff_hi=d.hi, diff_p=d.p, diff_n=d.n, verdict=str(d.verdict))
        return out


@dataclass(frozen=True)
class Comparison:
    """A paired comparison, typed: its ``method`` arm minus its ``baseline`` arm (their names as tables print them:
    'alwa2', 'lr control', 'ALWA-1', 'control'), and where it was made (``regime`` or cell, ``detector``, ``loss``;
    the equivalence test's ``clipping`` and ``k``); ``None``: not applicable. Code selects rows by these fields;
    :attr:`label` ('alwa2 minus lr control') is made from them here and only here."""

    method: str
    baseline: str
    diff: PairedDiff
    regime: Optional[str] = None
    detector: Optional[str] = None
    clipping: Optional[str] = None
    k: Optional[float] = None
    loss: Optional[str] = None  # the regression loss, or "pooled" (a row beside the per-loss rows it pools)
    dropped: int = 0  # seeds both arms ran whose runs started from different states (not paired: alwa.core.pairing)
    mde: float = math.nan  # the minimum detectable effect (mAP) of these pairs: 80 % power, alpha 0.05

    @property
    def verdict(self) -> Verdict:
        """The paired difference's :class:`Verdict`."""
        return self.diff.verdict

    @property
    def label(self) -> str:
        return f"{self.method} minus {self.baseline}"

    def as_dict(self) -> dict:
        """The flat row of the study's table file (``comparison``, the context given, ``n``, ``diff``, ``lo``, ``hi``, ``verdict``)."""
        ctx = {k: getattr(self, k) for k in ("clipping", "k", "regime", "detector", "loss") if getattr(self, k) is not None}
        d = self.diff
        return {"comparison": self.label, **ctx, "n": d.n, "diff": d.mean, "lo": d.lo, "hi": d.hi, "verdict": str(self.verdict),
                "pairs dropped": self.dropped, "detectable": self.mde}


@dataclass(frozen=True)
class VsPaper:
    """One bar of a comparison with the paper: our paired difference to the baseline (mean and 95 % CI) and the
    paper's difference, as fractions of mAP (NaN where missing)."""

    label: str
    diff: float = math.nan
    lo: float = math.nan
    hi: float = math.nan
    paper_diff: float = math.nan


@dataclass(frozen=True)
class Claim:
    """One claim of the paper measured on our runs: our result in words, its status, and what backs it."""

    id: str
    ours: str
    status: Status
    paper: Optional[str] = None
    note: Optional[str] = None
    values: Optional[dict] = field(default=None, compare=False)

    def __post_init__(self):
        try:
            object.__setattr__(self, "status", Status(self.status))
        except ValueError:
            raise ValueError(f"claim {self.id}: unknown status {self.status!r}; expected one of {[s.value for s in Status]}") from None

    def as_dict(self) -> dict:
        out: dict[str, Any] = {"ours": self.ours, "status": str(self.status)}
        for key in ("paper", "note", "values"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out

    @classmethod
    def from_dict(cls, cid: str, d: Mapping) -> "Claim":
        return cls(cid, str(d.get("ours", "")), d["status"], d.get("paper"), d.get("note"), d.get("values"))


def claims_of(d: Mapping[str, Mapping]) -> dict[str, Claim]:
    """``{cid: {"ours": ..., "status": ...}}`` (a claims file's ``claims``) as :class:`Claim` records."""
    return {cid: (v if isinstance(v, Claim) else Claim.from_dict(cid, v)) for cid, v in d.items()}
