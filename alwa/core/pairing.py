"""Which runs pair: a paired comparison uses only seeds whose two runs started from the same state.

A record made since 2026-12-04 carries ``fingerprints`` (:mod:`alwa.mmdet.fingerprint`): the hash of the model
at iteration 0, of the data, of the pre-trained backbone, the first batches' image ids and the setting version.
Older records have none; for them the *observed* initial state stands in: the unweighted classification and
regression losses of iteration 0 (a run with fixed weights logs them multiplied by its weights, which are divided
out), to 4 decimals. Either way two runs pair only when their keys are equal; :func:`pairing` says which seeds
were dropped, so that every table can say it. Plain Python: the runs layer (a study's stopping rule) and the
analysis use it alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Optional

FINGERPRINT_FIELDS = ("init_state", "data", "pretrained", "first_batches", "setting_version")


def pair_key(record: Mapping) -> Optional[tuple]:
    """What two runs of one seed must share to pair (see the module); None if the record tells nothing."""
    fp = record.get("fingerprints")
    if isinstance(fp, Mapping) and fp.get("init_state"):
        return ("fingerprint",) + tuple(_frozen(fp.get(k)) for k in FINGERPRINT_FIELDS)
    per = record.get("per_iter") or {}
    cls, reg = per.get("cls_raw") or [], per.get("reg_raw") or []
    if not cls or not reg:
        return None
    exp = record.get("experiment") or {}
    wc, wr = 1.0, 1.0
    if exp.get("weighting") == "fixed":  # the head's loss weights scale the logged losses
        wc, wr = _number(exp.get("cls_weight"), 1.0), _number(exp.get("reg_weight"), 1.0)
    c0, r0 = _number(cls[0]), _number(reg[0])
    if None in (c0, r0, wc, wr) or not (math.isfinite(c0) and math.isfinite(r0)) or wc == 0 or wr == 0:
        return None  # an initial state that cannot be told: the seed does not pair (and is counted as dropped)
    return ("observed", round(c0 / wc, 4), round(r0 / wr, 4))


def _number(v, default=None):
    """``v`` as a float; ``default`` for None; None for anything that is not a number (a string, a list)."""
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v)


def _frozen(v):
    if isinstance(v, list):
        return tuple(_frozen(x) for x in v)
    return v


@dataclass(frozen=True)
class Pairing:
    """The seeds of a method/baseline comparison that pair, and those dropped (both ran, the keys differ)."""

    seeds: tuple
    dropped: tuple

    def note(self) -> str:
        return f"{len(self.dropped)} pair(s) dropped (initial states differ: seeds {list(self.dropped)})" if self.dropped else ""


def pairing(method: Mapping[int, Mapping], baseline: Mapping[int, Mapping]) -> Pairing:
    """``method``/``baseline``: {seed: record}. Seeds both have whose :func:`pair_key` agree (and is known)."""
    both = sorted(set(method) & set(baseline))
    ok = [s for s in both if pair_key(method[s]) is not None and pair_key(method[s]) == pair_key(baseline[s])]
    return Pairing(tuple(ok), tuple(s for s in both if s not in ok))


def backbones_note(records) -> str:
    """'' when every record with fingerprints started from one pre-trained backbone; otherwise a sentence naming each
    backbone (its hash's first 8 digits) and how many runs used it. The pre-training's float sums differ between
    CPUs, so runs made on another machine start elsewhere and pair only among themselves."""
    counts: dict = {}
    for r in records:
        fp = r.get("fingerprints")
        if isinstance(fp, Mapping) and fp.get("pretrained"):
            counts[fp["pretrained"]] = counts.get(fp["pretrained"], 0) + 1
    if len(counts) < 2:
        return ""
    each = ", ".join(f"{h[:8]}: {n} run{'s' if n != 1 else ''}" for h, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    return (f"these runs started from {len(counts)} different pre-trained backbones ({each}; the pre-training's float "
            "sums differ between CPUs): a run pairs only with runs made from the same one")
