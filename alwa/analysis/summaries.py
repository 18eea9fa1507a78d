"""Summaries of run records: per-experiment means and paired differences, ALWA's weights, loss curves per
window, the paper's values, and a profile's calibration targets."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Iterable, Optional

import numpy as np

from alwa.core import stats
from alwa.analysis.records import SummaryRow
from alwa.core.experiment import Experiment, RecordLike, RunRecord
from alwa.runs.profile import Profile
from alwa.runs.specs import alwa_specs, experiment_of, profile_specs, sweep_status
from alwa.runs.store import load_results, of_specs


def by_experiment(results: Iterable[RecordLike], metric: str = "mAP") -> dict[Experiment, dict[int, float]]:
    """{experiment: {seed: metric}} over the records with a finite ``metric``."""
    out: dict = defaultdict(dict)
    for r in map(RunRecord.of, results):
        v = r.get(metric)
        if v is not None and math.isfinite(v):
            out[r.experiment][r.seed] = float(v)
    return dict(out)


def summary_table(results: Iterable[RecordLike], baseline_of=Experiment.baseline, metric: str = "mAP") -> list[SummaryRow]:
    """One row per experiment (sorted by name): mean and 95 % CI over seeds, and the paired difference to
    ``baseline_of(experiment)`` (default: its 1:1 run; None for baselines and where the baseline has no runs)."""
    vals = by_experiment(results, metric)
    rows = []
    for exp in sorted(vals, key=lambda e: e.name):
        m = stats.mean_ci(list(vals[exp].values()))
        base = baseline_of(exp)
        diff = stats.paired_diff(vals[exp], vals[base]) if base is not None and base != exp and base in vals else None
        rows.append(SummaryRow(exp.name, m["n"], m["mean"], m["std"], m["lo"], m["hi"], diff, experiment=exp))
    return rows


def rows_by_experiment(rows: Iterable[SummaryRow]) -> dict[Experiment, SummaryRow]:
    return {r.experiment: r for r in rows}


def row_of(rows: Iterable[SummaryRow], exp: Experiment) -> SummaryRow:
    """The row of ``exp``; :meth:`SummaryRow.empty` (no runs) where the table has none."""
    return next((r for r in rows if r.experiment == exp), SummaryRow.empty(exp))


def weight_summary(results: Iterable[dict]) -> list[dict]:
    """Per ALWA experiment name: how many runs, the range of the classification
    weight at the end of training, and in how many runs it went back up at least
    once between windows (the rule recomputes it from already-weighted losses)."""
    groups = defaultdict(list)
    for r in map(RunRecord.of, results):
        t = r.get("weight_trajectory") or []
        if r.experiment.weighting in ("alwa1", "alwa2") and t:
            groups[r.experiment].append(t)
    rows = []
    for exp in sorted(groups, key=lambda e: e.name):
        ts = groups[exp]
        finals = [t[-1] for t in ts]
        rows.append({"name": exp.name, "detector": exp.detector, "runs": len(ts), "final_min": min(finals), "final_max": max(finals),
                     "runs_went_up": sum(any(b > a + 1e-12 for a, b in zip(t, t[1:])) for t in ts)})
    return rows


def weight_range(rows: list[dict], detector: str) -> str:
    """'a-b' over the final weights of a detector's rows of :func:`weight_summary` ('no runs yet' if none)."""
    sel = [r for r in rows if r["detector"] == detector]
    if not sel:
        return "no runs yet"
    lo, hi = min(r["final_min"] for r in sel), max(r["final_max"] for r in sel)
    return f"{lo:.3g}-{hi:.3g}"


def window_curves(result: dict, window: int) -> dict:
    """Mean and std of the weighted cls/reg losses per ``window`` iterations
    (figures 3 and 6), from the per-iteration record of a run."""
    pi = result["per_iter"]
    # cls_weight is ALWA's weight of each iteration (1 in monitor mode). The "raw" values are what the head returned:
    # for fixed-weight runs mmdet's loss_weight is already in them, so only ALWA's (fixed) regression weight is applied.
    c = np.asarray(pi["cls_raw"], float) * np.asarray(pi["cls_weight"] or [1.0] * len(pi["cls_raw"]), float)
    exp = result.get("experiment", {})
    w_reg = float(exp.get("reg_weight", 1.0)) if exp.get("weighting") in ("alwa1", "alwa2") else 1.0
    r = np.asarray(pi["reg_raw"], float) * w_reg
    n = len(c) // window
    if n == 0:
        return {"iter": [], "cls_mean": [], "cls_std": [], "reg_mean": [], "reg_std": []}
    C, R = c[: n * window].reshape(n, window), r[: n * window].reshape(n, window)
    return {"iter": [(i + 1) * window for i in range(n)], "cls_mean": C.mean(1).tolist(), "cls_std": C.std(1, ddof=1).tolist(),
            "reg_mean": R.mean(1).tolist(), "reg_std": R.std(1, ddof=1).tolist()}


def paper_value(tables: dict, table: str, row: str, loss: str) -> Optional[float]:
    """A value of tables.yaml (``loss`` in L1/SmoothL1/CIoU)."""
    t = tables[table]
    cols = t["columns"]
    if table == "table1":
        base = t["baseline"][loss]
        if row == "1.00:1.00":
            return base
        return base + t["deltas_points"][row][cols.index(loss)] / 100
    return t["rows"][row][cols.index(loss)]


# The calibration targets of a profile: wall time of the whole sweep with the profile's workers,
# mean wall time of one run (per detector), and the band for the 1:1 L1 baseline's VOC mAP@0.5.
TARGETS = {"cpu": {"wall_h": 6.0, "run_s": 240.0, "baseline_map": (0.5, 0.85)}}


def target_check(p: Profile, out_dir, workers: Optional[int] = None, status: Optional[dict] = None) -> list[dict]:
    """The profile's :data:`TARGETS` against its finished runs: one row per target with
    ``target``, ``goal``, ``measured`` (text) and ``met`` (True/False; None while runs are missing).

    The sweep's wall time is the finished runs' compute / workers, plus the estimate for
    the pending ones; a run's time is its ``wall_seconds`` (data preparation, training and
    the test evaluation); mAP is the mean over the baseline's seeds. ``status``: the folder's
    :func:`~alwa.runs.specs.sweep_status` if the caller has it (it is read from the files otherwise)."""
    goal = TARGETS.get(p.profile)
    if not goal:
        return []
    st = status if status is not None else sweep_status(p, out_dir, workers=workers)
    t = st["total"]
    complete = t["done"] == t["planned"]
    checks = []
    total_h = t["wall_h"] + (t["remaining_wall_h"] or 0.0)
    checks.append({"target": "wall time of the profile's sweep", "goal": f"<= {goal['wall_h']:g} h",
                   "measured": f"{total_h:.2f} h with {st['workers']} worker(s)" + ("" if complete else
                               f" ({t['done']} of {t['planned']} runs done; the rest estimated)" if t["remaining_wall_h"] is not None
                               else f" ({t['done']} of {t['planned']} runs done)"),
                   "met": (total_h <= goal["wall_h"]) if complete else None})
    results = load_results(out_dir, profile_specs(p))
    rows = summary_table(of_specs(results, alwa_specs(p)))
    lo, hi = goal["baseline_map"]
    for det, label in (("retinanet", "RetinaNet"), ("faster-rcnn", "Faster R-CNN")):
        walls = [float(r["wall_seconds"]) for r in results if r.experiment.detector == det and "wall_seconds" in r]
        if walls:
            mean = sum(walls) / len(walls)
            over = sum(w > goal["run_s"] for w in walls)
            checks.append({"target": f"time of one {label} run", "goal": f"<= {goal['run_s']:g} s",
                           "measured": f"{mean:.0f} s on average over {len(walls)} runs (max {max(walls):.0f} s; {over} over {goal['run_s']:g} s)",
                           "met": mean <= goal["run_s"]})
        b = row_of(rows, experiment_of(p, det, "l1", "base"))
        if b.n:
            checks.append({"target": f"{label} baseline mAP@0.5 (1:1, L1)", "goal": f"{lo:g}-{hi:g}",
                           "measured": f"{b.mean:.3f} (mean of {b.n} seed{'s' if b.n != 1 else ''})",
                           "met": lo <= b.mean <= hi})
    return checks


