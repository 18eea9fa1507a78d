"""The settling study's comparisons (:mod:`alwa.runs.settle`): per loss and schedule, each arm minus the lr
control at the same tuned lr, over the seeds that pair (:mod:`alwa.core.pairing`), with n, the paired 95 % CI,
the pairs dropped and the minimum detectable effect (80 % power, alpha 0.05) of the design as run."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Iterable

from alwa.analysis.pairing import min_detectable_effect, paired_records_diff
from alwa.analysis.records import PairedDiff, Verdict
from alwa.core.experiment import run_key
from alwa.runs.profile import Profile
from alwa.runs.settle import SettleState, arm_experiment

LABELS = {"alwa1": "ALWA-1", "alwa2": "ALWA-2", "frozen": "ALWA frozen"}


@dataclass(frozen=True)
class SettledRow:
    """One comparison of a cell: ``label`` minus ``baseline`` (mAP fractions), its pairs and what it could detect."""

    loss: str
    schedule: int
    lr: float
    label: str
    baseline: str
    diff: PairedDiff
    dropped: tuple
    mde: float

    @property
    def verdict(self) -> Verdict:
        return self.diff.verdict


def _by_seed(by: dict, exp, seeds: Iterable[int]) -> dict:
    return {s: by[run_key(exp.name, s)] for s in seeds if run_key(exp.name, s) in by}


def _row(loss, schedule, lr, label, baseline, method: dict, base: dict) -> SettledRow:
    d, pr = paired_records_diff(method, base)
    diffs = [float(method[s]["mAP"]) - float(base[s]["mAP"]) for s in pr.seeds]
    sd = statistics.stdev(diffs) if len(diffs) > 1 else math.nan
    return SettledRow(loss, schedule, lr, label, baseline, d, pr.dropped, min_detectable_effect(sd, len(diffs)))


def comparisons(records: Iterable[dict], p: Profile, st: SettleState) -> list[SettledRow]:
    """ALWA-1, ALWA-2 and ALWA frozen minus the control, and ALWA-2 minus ALWA frozen, for every cell whose lr is tuned."""
    by = {run_key(r["name"], r["seed"]): r for r in records}
    out = []
    for c in st.cells:
        if c.tuned_lr is None:
            continue
        seeds = range(c.seeds)
        ctrl = _by_seed(by, arm_experiment(p, c.loss, "base", c.tuned_lr, c.schedule), seeds)
        arms = {w: _by_seed(by, arm_experiment(p, c.loss, w, c.tuned_lr, c.schedule), seeds) for w in ("alwa1", "alwa2")}
        frozen = {s: by[k] for s, w in c.frozen.items()
                  if (k := run_key(arm_experiment(p, c.loss, "fixed", c.tuned_lr, c.schedule, cls_weight=w).name, s)) in by}
        for w in ("alwa1", "alwa2"):
            out.append(_row(c.loss, c.schedule, c.tuned_lr, LABELS[w], "control", arms[w], ctrl))
        out.append(_row(c.loss, c.schedule, c.tuned_lr, LABELS["frozen"], "control", frozen, ctrl))
        out.append(_row(c.loss, c.schedule, c.tuned_lr, LABELS["alwa2"], "ALWA frozen", arms["alwa2"], frozen))
    return out


def fmt_row(r: SettledRow) -> str:
    d = r.diff
    ci = f"{100 * d.mean:+.2f} [{100 * d.lo:+.2f}, {100 * d.hi:+.2f}]" if math.isfinite(d.lo) else (
        f"{100 * d.mean:+.2f} (no interval)" if math.isfinite(d.mean) else "no pair yet")
    mde = f"; detectable {100 * r.mde:.2f} pts" if math.isfinite(r.mde) else ""
    drop = f"; {len(r.dropped)} pair(s) dropped" if r.dropped else ""
    return (f"{r.loss:8s} {r.schedule:5d} it lr {r.lr:g}: {r.label} minus {r.baseline}: {ci} pts, n={d.n}{mde}{drop} "
            f"({r.verdict.value})")
