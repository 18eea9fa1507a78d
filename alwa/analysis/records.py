"""Typed records of the analysis layer: the status of a claim, a claim, a paired difference.

The result files keep their schema: :meth:`Claim.as_dict` writes what the claim records always held
(``ours``, ``status`` and, where present, ``paper``, ``note``, ``values``), and :meth:`Claim.from_dict`
reads them back, refusing a status that is not a :class:`Status`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Mapping, Optional


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


class Verdict(StrEnum):
    """A paired difference's verdict: its 95 % CI above 0, below 0, spanning 0, or not computable."""

    BETTER = "better"
    WORSE = "worse"
    NO_CLEAR_DIFFERENCE = "no clear difference"
    TOO_FEW_SEEDS = "too few seeds"


@dataclass(frozen=True)
class PairedDiff:
    """Method minus baseline over the seeds both have: mean, paired-t 95 % CI (``lo``, ``hi``) and p-value."""

    n: int
    seeds: tuple = ()
    mean: float = math.nan
    lo: float = math.nan
    hi: float = math.nan
    p: float = math.nan

    @property
    def verdict(self) -> Verdict:
        if self.n < 2 or not math.isfinite(self.lo):
            return Verdict.TOO_FEW_SEEDS
        if self.lo > 0:
            return Verdict.BETTER
        if self.hi < 0:
            return Verdict.WORSE
        return Verdict.NO_CLEAR_DIFFERENCE

    def __getitem__(self, key: str):  # d["mean"] as before the record was typed
        return getattr(self, key)

    def as_dict(self) -> dict:
        return {"n": self.n, "seeds": list(self.seeds), "mean": self.mean, "lo": self.lo, "hi": self.hi, "p": self.p}


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
