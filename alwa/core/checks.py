"""The record of one detector's ALWAHook check (:func:`alwa.mmdet.detectors.check_detector`), and its file.

A :class:`DetectorCheck` is written by ``alwa bench detectors --json results/mmdet/detectors.json`` and read back by
the book's mmdet page; it lives in the core so that the report reads it without importing mmdet.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

DETECTOR_RECORD = Path("results") / "mmdet" / "detectors.json"


@dataclass(frozen=True)
class DetectorCheck:
    """What :func:`alwa.mmdet.detectors.check_detector` found for one detector: the head the hook wrapped, the keys
    it weighed and those it left untouched (as the head names them), the largest difference from the run without the
    hook (weights held at 1: must be 0) and from ``weight x`` that run (fixed weights: must be 0), and run 1's
    first-iteration losses (per-key sums over levels, floats). ``error``: the one-line error of a detector that
    failed."""

    detector: str
    config: str
    head: str = ""
    head_type: str = ""
    cls_keys: tuple[str, ...] = ()
    reg_keys: tuple[str, ...] = ()
    untouched: tuple[str, ...] = ()
    iterations: int = 0
    identity_max_abs_diff: Optional[float] = None  # run 2 vs run 1, every loss, every iteration
    scaled_max_abs_err: Optional[float] = None  # run 3 vs weight x run 1 (weighted keys) or run 1 (others)
    seconds: float = 0.0
    error: Optional[str] = None
    losses: dict = field(default_factory=dict)  # run 1's first-iteration losses, for the record

    @property
    def ok(self) -> bool:
        return self.error is None and self.identity_max_abs_diff == 0.0 and self.scaled_max_abs_err == 0.0

    def as_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}

    @classmethod
    def from_dict(cls, d: dict) -> "DetectorCheck":
        d = {k: v for k, v in d.items() if k != "ok"}
        unknown = sorted(set(d) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"a detector check with unknown field(s) {unknown}: written by a newer alwa?")
        for k in ("cls_keys", "reg_keys", "untouched"):
            d[k] = tuple(d.get(k) or ())
        return cls(**d)


def load_detector_checks(path=DETECTOR_RECORD) -> Optional[list[DetectorCheck]]:
    """The stored checks (``{"detectors": [...], "provenance": {...}}``), or None where there is no record."""
    path = Path(path)
    if not path.exists():
        return None
    return [DetectorCheck.from_dict(d) for d in json.loads(path.read_text())["detectors"]]
