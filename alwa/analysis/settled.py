"""The settling study's comparisons (:mod:`alwa.runs.settle`): per loss and schedule, each arm minus the lr
control at the same tuned lr, over the seeds that pair (:mod:`alwa.core.pairing`), with n, the paired 95 % CI,
the pairs dropped and the minimum detectable effect (80 % power, alpha 0.05) of the design as run."""

from __future__ import annotations

import math
import statistics
from typing import Iterable, Optional

from alwa.analysis.claims import paper_gain
from alwa.analysis.lrstudy import fmt_comparison
from alwa.runs.specs import LOSS_NAMES
from alwa.core.stats import min_detectable_effect, paired_records_diff
from alwa.analysis.records import Claim, Comparison, Status, combined_status, verdict_status
from alwa.core.pairing import backbones_note
from alwa.runs.profile import Profile
from alwa.runs.engine import RecordIndex, StopKind
from alwa.runs.settle import Cell, SettleState, arm_experiment, frozen_is_cut

LABELS = {"alwa1": "ALWA-1", "alwa2": "ALWA-2", "frozen": "ALWA frozen"}
CONTROL = "control"  # the baseline of a cell's rows: 1:1 at the cell's tuned lr


def cell_name(schedule: int, lr: float) -> str:
    """How a row names its cell: '1500 it, lr 0.04'."""
    return f"{schedule} it, lr {lr:g}"


def _row(loss, schedule, lr, label, baseline, method: dict, base: dict) -> Comparison:
    """``label`` (the method arm's name) minus ``baseline`` over the seeds that pair, in one cell."""
    d, pr = paired_records_diff(method, base)
    diffs = [float(method[s]["mAP"]) - float(base[s]["mAP"]) for s in pr.seeds]
    sd = statistics.stdev(diffs) if len(diffs) > 1 else math.nan
    return Comparison(label, baseline, d, regime=cell_name(schedule, lr), detector="retinanet", loss=loss,
                      dropped=len(pr.dropped), mde=min_detectable_effect(sd, len(diffs)))


def frozen_cut(st: SettleState, c: Cell) -> bool:
    """Whether the budget cut ALWA frozen from cell ``c`` (the long schedule's cells)."""
    return frozen_is_cut(st.cuts, c.schedule, max(x.schedule for x in st.cells))


def _cell_rows(idx: RecordIndex, p: Profile, c: Cell, frozen_too: bool = True) -> list[Comparison]:
    """A tuned cell's rows: ALWA-1 and ALWA-2 minus the control and, unless ``frozen_too`` is false (the budget cut
    it), ALWA frozen minus the control and ALWA-2 minus ALWA frozen."""
    seeds = p.seeds(c.seeds)
    ctrl = idx.by_seed(arm_experiment(p, c.loss, "base", c.tuned_lr, c.schedule), seeds)
    arms = {w: idx.by_seed(arm_experiment(p, c.loss, w, c.tuned_lr, c.schedule), seeds) for w in ("alwa1", "alwa2")}
    frozen = {s: r for s, w in c.frozen.items()
              if (r := idx.get(arm_experiment(p, c.loss, "fixed", c.tuned_lr, c.schedule, cls_weight=w), s)) is not None}
    out = [_row(c.loss, c.schedule, c.tuned_lr, LABELS[w], CONTROL, arms[w], ctrl) for w in ("alwa1", "alwa2")]
    if not frozen_too:
        return out
    out.append(_row(c.loss, c.schedule, c.tuned_lr, LABELS["frozen"], CONTROL, frozen, ctrl))
    out.append(_row(c.loss, c.schedule, c.tuned_lr, LABELS["alwa2"], "ALWA frozen", arms["alwa2"], frozen))
    return out


def _tuned(records: Iterable[dict], p: Profile, st: SettleState) -> list[tuple[Cell, list[Comparison]]]:
    idx = RecordIndex(records)
    return [(c, _cell_rows(idx, p, c, not frozen_cut(st, c))) for c in st.cells if c.tuned_lr is not None]


def comparisons(records: Iterable[dict], p: Profile, st: SettleState) -> list[Comparison]:
    """ALWA-1, ALWA-2 and ALWA frozen minus the control, and ALWA-2 minus ALWA frozen, for every cell whose lr is tuned
    (the frozen rows only where the budget did not cut them)."""
    return [r for _, rows in _tuned(records, p, st) for r in rows]


LOSS_CLAIMS = ("C6", "C11")  # what the settling study measures per regression loss (RetinaNet, at the tuned lr)


def gain_status(parts: list[tuple[Comparison, Optional[float]]]) -> Status:
    """The status of a claimed gain (C6: ALWA improves RetinaNet by about the paper's reported amount) from its parts,
    each ALWA minus the control with the paper's own gain for it (None: the paper reports none): *supported* if a
    part is better than the control, *not supported* if every part's interval lies below the paper's gain for it
    (below 0 where it reports none, or no gain), else as :func:`alwa.analysis.records.combined_status` combines the
    parts. Without any gain it gives exactly what ``combined_status`` gives."""
    if any(r.diff.lo > 0 for r, _ in parts):
        return Status.SUPPORTED
    if parts and all(r.diff.n > 1 and r.diff.hi < (0.0 if g is None else max(g, 0.0)) for r, g in parts):
        return Status.NOT_SUPPORTED
    return combined_status(verdict_status(r.verdict) for r, _ in parts)


def loss_claims(records: Iterable[dict], p: Profile, st: SettleState,
                tables: Optional[dict] = None) -> dict[str, dict[str, Claim]]:
    """``{claim: {loss: Claim}}`` from the settling study: C6 (ALWA-1 and ALWA-2 minus the lr control) and C11 (ALWA-2
    minus ALWA-1), per regression loss over the schedules whose lr is tuned, each part with n and its paired 95 % CI.
    The status is :func:`gain_status`: C6's parts, given the paper's tables, are weighed against the gain the paper
    reports for that loss and arm (named in the part); without a gain (C11, or no tables) a part is weighed against
    0, which is :func:`alwa.analysis.records.combined_status` of the parts' verdicts."""
    idx = RecordIndex(records)
    out: dict = {c: {} for c in LOSS_CLAIMS}
    for loss in dict.fromkeys(c.loss for c in st.cells):
        parts: dict = {c: [] for c in LOSS_CLAIMS}
        for c in (c for c in st.cells if c.loss == loss and c.tuned_lr is not None):
            rows = _cell_rows(idx, p, c)
            arm = {w: idx.by_seed(arm_experiment(p, loss, w, c.tuned_lr, c.schedule), p.seeds(c.seeds)) for w in ("alwa1", "alwa2")}
            c11 = _row(loss, c.schedule, c.tuned_lr, LABELS["alwa2"], LABELS["alwa1"], arm["alwa2"], arm["alwa1"])
            parts["C6"] += [(f"{c.schedule} it, {LABELS[w]}", r, None if tables is None else paper_gain(tables, "retinanet", loss, w))
                            for w, r in zip(("alwa1", "alwa2"), rows[:2])]
            parts["C11"].append((f"{c.schedule} it, ALWA-2 minus ALWA-1", c11, None))
        for cid, ps in parts.items():
            told = [(what, r, g) for what, r, g in ps if r.diff.n]
            if not told:
                out[cid][loss] = Claim(cid, "no paired runs yet", Status.NOT_RUN_YET)
                continue
            ours = "; ".join(f"{what} {fmt_comparison(r)}" + ("" if g is None else f" (paper {100 * g:+.2f})")
                             for what, r, g in told)
            out[cid][loss] = Claim(cid, ours, gain_status([(r, g) for _, r, g in told]))
    return out


PAPER_GAIN = 0.01  # the paper's ALWA gain on RetinaNet, about +1 point of mAP


def _alwa_rows(cells) -> list[tuple[Cell, Comparison]]:
    """ALWA-1 and ALWA-2 minus the control, per tuned cell, where the pairs give an interval."""
    return [(c, r) for c, rows in cells for r in rows[:2] if r.diff.n > 1 and math.isfinite(r.diff.hi)]


def _arm_name(c: Cell, r: Comparison) -> str:
    return f"{r.method} ({LOSS_NAMES.get(c.loss, c.loss)}, {c.schedule} it)"


def _span(lo, hi, fmt="{:g}") -> str:
    return fmt.format(lo) if fmt.format(lo) == fmt.format(hi) else f"{fmt.format(lo)}-{fmt.format(hi)}"


def headline(records: Iterable[dict], p: Profile, st: SettleState) -> str:
    """The settling study's verdict in two or three sentences, for a reader who reads nothing else: of its ALWA-vs-
    control comparisons (ALWA-1 and ALWA-2, per loss and schedule) how many end below the lr control, how many above
    and which are not told apart (with their intervals); how many intervals lie below the paper's +1 point; the
    seeds each pairs and the effect the design could detect (80 % power). "No" only where no comparison is
    better and every interval excludes +1 point. Interim until the plan is done."""
    rows = _alwa_rows(_tuned(list(records), p, st))
    if not rows:
        return "The settling study has no paired comparison of ALWA with the lr control yet."
    worse = [(c, r) for c, r in rows if r.diff.hi < 0]
    better = [(c, r) for c, r in rows if r.diff.lo > 0]
    untold = [(c, r) for c, r in rows if r.diff.lo <= 0 <= r.diff.hi]
    below = sum(r.diff.hi < PAPER_GAIN for _, r in rows)
    lead = "In part" if better else ("No" if below == len(rows) else "Not settled")
    text = (f"{lead}{'' if st.stage == 'done' else ' (interim, until the plan is done)'}: against the lr control "
            f"(1:1 at the same tuned lr), ALWA ends below it in {len(worse)} of the {len(rows)} comparisons per loss "
            f"and schedule and above it in {len(better) or 'none'}")
    if untold:
        text += "; not told apart: " + "; ".join(f"{_arm_name(c, r)} {fmt_comparison(r)}" for c, r in untold)
    ns = [r.diff.n for _, r in rows]
    mdes = [r.mde for _, r in rows if math.isfinite(r.mde)]
    share = f"all {below}" if below == len(rows) else f"{below} of the {len(rows)}"
    text += (f". A gain of +1 point, the size the paper reports, lies above {share} intervals. "
             f"Each comparison pairs {_span(min(ns), max(ns))} seeds")
    if mdes:
        text += f" and could detect a difference of {_span(100 * min(mdes), 100 * max(mdes), '{:.1f}')} points (80 % power)"
    return text + "."


def forest_rows(records: Iterable[dict], p: Profile, st: SettleState, tables: Optional[dict] = None) -> list[dict]:
    """The forest plot's rows: ALWA-1 and ALWA-2 minus the lr control per loss and schedule (points), each with the
    gain the paper reports for that loss and arm (None without ``tables`` or where it reports none)."""
    arm = {v: k for k, v in LABELS.items()}
    return [{"label": f"{r.method} · {LOSS_NAMES.get(c.loss, c.loss)} · {c.schedule} it", "loss": c.loss,
             "schedule": c.schedule, "arm": r.method, "n": r.diff.n,
             "diff": 100 * r.diff.mean, "lo": 100 * r.diff.lo, "hi": 100 * r.diff.hi,
             "paper": None if tables is None or (g := paper_gain(tables, "retinanet", c.loss, arm[r.method])) is None else 100 * g}
            for c, r in _alwa_rows(_tuned(list(records), p, st))]


def trend_rows(rows: list[dict]) -> list[dict]:
    """The forest rows as series over the schedule (one per arm and loss), for the deficit-against-schedule figure."""
    return [{**r, "series": f"{r['arm']}, {LOSS_NAMES.get(r['loss'], r['loss'])}"} for r in rows]


def weight_windows(records: Iterable[dict], p: Profile, st: SettleState) -> tuple[list[dict], list[tuple[str, str]]]:
    """ALWA's classification weight after each window, per run of a tuned cell (rows as
    :func:`alwa.report.plots.plot_weight_windows` draws them, keyed by cell) and the panels, one per cell."""
    idx = RecordIndex(records)
    rows, panels = [], []
    for c in (c for c in st.cells if c.tuned_lr is not None):
        key = f"{c.loss} {c.schedule}"
        panels.append((key, f"{LOSS_NAMES.get(c.loss, c.loss)}, {c.schedule} iterations (lr {c.tuned_lr:g})"))
        for w in ("alwa1", "alwa2"):
            for s, r in idx.by_seed(arm_experiment(p, c.loss, w, c.tuned_lr, c.schedule), p.seeds(c.seeds)).items():
                rows.append({"regime": key, "name": r.name, "weighting": w, "detrend": False, "seed": s,
                             "weights": [1.0, *(r.get("weight_trajectory") or [])]})
    return rows, panels


def answer(records: Iterable[dict], p: Profile, st: SettleState) -> str:
    """The settling study's answer in words, per loss and schedule, from its rows: each ALWA arm minus the lr control
    with n, the paired 95 % CI and what the design detects; where a +1 point gain (the paper's size) is excluded and
    where not; how the two schedules compare; ALWA-2 against one fixed weight; whether the runs started from more
    than one pre-trained backbone. Interim until the plan is done."""
    records = list(records)
    cells = _tuned(records, p, st)
    if not any(r.diff.n for _, rows in cells for r in rows):
        return "No loss has its lr tuned and paired runs yet: the settling study gives no answer so far."
    parts, by_cell = [], {}
    for c, rows in cells:
        by_cell[(c.loss, c.schedule)] = {(r.method, r.baseline): r for r in rows}
        said = "; ".join(f"{r.method} {fmt_comparison(r)}" + (f", detectable {100 * r.mde:.1f}" if math.isfinite(r.mde) else "")
                         for r in rows if r.diff.n and r.baseline == CONTROL)
        if said:
            parts.append(f"{LOSS_NAMES.get(c.loss, c.loss)} at {c.schedule} iterations (lr {c.tuned_lr:g}): {said}")
    text = ("Each" if st.stage == "done" else "Interim, until the plan is done: each") + (
        " arm minus the lr control (1:1 at the same tuned lr), in points of mAP with the paired 95 % CI. "
        + ". ".join(parts) + ".")
    alwa = _alwa_rows(cells)
    excluded = [_arm_name(c, r) for c, r in alwa if r.diff.hi < PAPER_GAIN]
    kept = [_arm_name(c, r) for c, r in alwa if r.diff.hi >= PAPER_GAIN]
    if excluded:
        text += f" A gain of +1 point, the size the paper reports, lies above the interval of {', '.join(excluded)}"
        text += f"; it is not excluded for {', '.join(kept)}." if kept else "."
    elif kept:
        text += f" A gain of +1 point, the size the paper reports, is not excluded for {', '.join(kept)}."
    trend = []
    for loss in dict.fromkeys(c.loss for c, _ in cells):
        schedules = sorted(s for (lo, s) in by_cell if lo == loss)
        if len(schedules) < 2:
            continue
        for label in (LABELS["alwa1"], LABELS["alwa2"]):
            a, b = (by_cell[(loss, s)][(label, CONTROL)] for s in (schedules[0], schedules[-1]))
            if a.diff.n and b.diff.n:
                trend.append(f"{label} on {LOSS_NAMES.get(loss, loss)} {100 * a.diff.mean:+.1f} at {schedules[0]} and "
                             f"{100 * b.diff.mean:+.1f} at {schedules[-1]}")
    if trend:
        text += " Twice the training: " + "; ".join(trend) + " points."
    budget = [f"{LOSS_NAMES.get(c.loss, c.loss)} at {c.schedule} it stopped at {c.seeds} seeds for the budget, with "
              + ", ".join(f"{LABELS[w]}'s interval ±{100 * h:.1f}" for w, h in c.half_widths.items()) + " points"
              for c, _ in cells if c.stop is not None and c.stop.kind is StopKind.BUDGET]
    if budget:
        text += " " + "; ".join(budget) + " (the stopping rule aims at ±1)."
    cut = [f"{c.schedule} iterations" for c, _ in cells if frozen_cut(st, c)]
    if cut:
        text += f" ALWA frozen was not run at {' and '.join(dict.fromkeys(cut))} (cut by the budget)."
    frozen = [(c, r) for c, rows in cells for r in rows if (r.method, r.baseline) == (LABELS["alwa2"], LABELS["frozen"]) and r.diff.n]
    if frozen:
        text += (" ALWA-2 minus ALWA frozen (1:1 with the classification weight fixed from iteration 0 at the value the same "
                 "seed's ALWA-2 run ended with): " + "; ".join(
                     f"{LOSS_NAMES.get(c.loss, c.loss)} at {c.schedule} it {fmt_comparison(r)}" for c, r in frozen) + ".")
    note = backbones_note(records)
    return text + (f" Note: {note}." if note else "")


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
             "tuned lr": c.tuned_lr if c.tuned_lr is not None else "-", "seeds": c.seeds or "-", "state": str(c.stop) if c.stop else "lr sweep running"}
            for c in st.cells]


def status_line(st: SettleState, planned: int, done: int, budget_h: float) -> str:
    """'**12 of 36 planned runs done** (stage lr; ...)': the study's state in one sentence, saying that every number
    is interim until the plan is done."""
    interim = "" if st.stage == "done" else " Every number below is interim until the plan is done."
    return (f"**{done} of {planned} planned runs done** (stage: {st.stage}; estimated {st.estimate_h:.1f} h of the "
            f"{budget_h:g} h budget with the profile's workers; cuts: {', '.join(st.cuts) or 'none'}).{interim}")
