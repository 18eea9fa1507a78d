"""The settling study's comparisons (:mod:`alwa.runs.settle`): per loss and schedule, each arm minus the lr
control at the same tuned lr, over the seeds that pair (:mod:`alwa.core.pairing`), with n, the paired 95 % CI,
the pairs dropped and the minimum detectable effect (80 % power, alpha 0.05) of the design as run."""

from __future__ import annotations

import math
import statistics
from typing import Iterable

from alwa.analysis.pairing import min_detectable_effect, paired_records_diff
from alwa.analysis.records import Comparison
from alwa.core.experiment import RunRecord, run_key
from alwa.runs.profile import Profile
from alwa.runs.settle import SettleState, arm_experiment

LABELS = {"alwa1": "ALWA-1", "alwa2": "ALWA-2", "frozen": "ALWA frozen"}


def _by_seed(by: dict, exp, seeds: Iterable[int]) -> dict:
    return {s: by[run_key(exp.name, s)] for s in seeds if run_key(exp.name, s) in by}


def cell_name(schedule: int, lr: float) -> str:
    """How a row names its cell: '1500 it, lr 0.04'."""
    return f"{schedule} it, lr {lr:g}"


def _row(loss, schedule, lr, label, baseline, method: dict, base: dict) -> Comparison:
    d, pr = paired_records_diff(method, base)
    diffs = [float(method[s]["mAP"]) - float(base[s]["mAP"]) for s in pr.seeds]
    sd = statistics.stdev(diffs) if len(diffs) > 1 else math.nan
    return Comparison(f"{label} minus {baseline}", d, regime=cell_name(schedule, lr), detector="retinanet", loss=loss,
                      dropped=len(pr.dropped), mde=min_detectable_effect(sd, len(diffs)))


def comparisons(records: Iterable[dict], p: Profile, st: SettleState) -> list[Comparison]:
    """ALWA-1, ALWA-2 and ALWA frozen minus the control, and ALWA-2 minus ALWA frozen, for every cell whose lr is tuned."""
    by = {r.key: r for r in map(RunRecord.of, records)}
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


def fmt_row(r: Comparison) -> str:
    """One line of ``alwa study answer --study settle``."""
    d = r.diff
    ci = f"{100 * d.mean:+.2f} [{100 * d.lo:+.2f}, {100 * d.hi:+.2f}]" if math.isfinite(d.lo) else (
        f"{100 * d.mean:+.2f} (no interval)" if math.isfinite(d.mean) else "no pair yet")
    mde = f"; detectable {100 * r.mde:.2f} pts" if math.isfinite(r.mde) else ""
    drop = f"; {r.dropped} pair(s) dropped" if r.dropped else ""
    return f"{r.loss:8s} {r.regime}: {r.label}: {ci} pts, n={d.n}{mde}{drop} ({r.verdict})"


def cells_table(st: SettleState) -> list[dict]:
    """One row per loss and schedule: the lr sweep's means (points), the tuned lr, the seeds planned and why it stops."""
    return [{"loss": c.loss, "iterations": c.schedule,
             "lr: mean mAP (pts)": ", ".join(f"{lr:g}: {'-' if m is None else f'{100 * m:.1f}'}" for lr, m in sorted(c.lr_means.items())),
             "tuned lr": c.tuned_lr if c.tuned_lr is not None else "-", "seeds": c.seeds or "-", "state": c.stop or "lr sweep running"}
            for c in st.cells]


def status_line(st: SettleState, planned: int, done: int, budget_h: float) -> str:
    """'**12 of 36 planned runs done** (stage lr; ...)': the study's state in one sentence, saying that every number
    is interim until the plan is done."""
    interim = "" if st.stage == "done" else " Every number below is interim until the plan is done."
    return (f"**{done} of {planned} planned runs done** (stage: {st.stage}; estimated {st.estimate_h:.1f} h of the "
            f"{budget_h:g} h budget with the profile's workers; cuts: {', '.join(st.cuts) or 'none'}).{interim}")
