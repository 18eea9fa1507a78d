"""The study that settles the learning-rate question (issue "Settle it"): RetinaNet, L1 and SmoothL1, each at its
own tuned lr, on two schedules, seeds added in rounds under a stopping rule fixed before the runs.

Every run of it is new (its own results folder, ``results/<profile>/settle``), made with the pinned pre-training
(:class:`alwa.core.settings.PretrainOptions` ``threads=1``) and carrying fingerprints, so that its pairs are
checked (:mod:`alwa.analysis.pairing`). The plan, decided from the finished runs (a stopped study resumes with the
same plan), for each loss and schedule (``schedules``: the lr study's 1500 iterations and twice that):

1. **lr**: 1:1 at ``lrs`` (around the lr study's tuned 0.04), ``lr_seeds`` seeds; if the best mean is at an end
   of the list, one more lr beyond it (x2 or /2). The best mean mAP is the loss's **tuned lr** on that schedule.
2. **arms** at the tuned lr: the **control** (1:1), **ALWA-1** and **ALWA-2** (C = 100), seeds ``0..min_seeds-1``.
3. **frozen**: 1:1 with the classification weight fixed from iteration 0 at the weight the same seed's ALWA-2 run
   ended with (2 decimals, as the name grammar writes weights): is ALWA more than a weight picked once?
4. **rounds** (the stopping rule, fixed before any run): while an ALWA-vs-control comparison's paired 95 % CI is
   wider than ±``target_half_width`` (1.0 mAP point) and its arms have fewer than ``max_seeds`` seeds, add
   ``round_seeds`` seeds to the control, ALWA-1, ALWA-2 and frozen arms of that loss and schedule.

Budget: ``budget_h`` wall hours with the profile's workers, estimated from the finished runs' seconds per
iteration. Cut in this order when the estimate does not fit, never dropping a finished run: Faster R-CNN (not in
the plan at all: its rows read "not evaluable" in the chapter), ALWA frozen at the long schedule, the long
schedule's SmoothL1, extra rounds (no new round begins; one begun is finished). A cut that would drop a finished
run is passed over and the next one tried. Never fewer than ``min_seeds`` (10) seeds per ALWA arm and control.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Optional

from alwa.core.pairing import backbones_note, pairing
from alwa.core.experiment import Experiment, RunRecord, run_key
from alwa.runs.profile import Profile
from alwa.runs.specs import experiment_of, make_spec
from alwa.runs.store import load_results, pending, spec_key
from alwa.runs.sweep import run_sweep
from alwa.runs.worker import DEFAULT_FN

ARMS = ("base", "alwa1", "alwa2")  # the control first
CUTS = ("Faster R-CNN", "ALWA frozen at the long schedule", "the long schedule's SmoothL1", "extra rounds")
FROZEN_CUT = CUTS[1]
BUDGET_STOP = "further rounds cut by the budget"  # how a cell stopped by the budget's last cut begins its stop
START_S = 12.0  # a run's start and evaluation (seconds), on top of its iterations, for the estimate


@dataclass(frozen=True)
class SettlePlan:
    """The study's fixed choices (the stopping rule included), per profile."""

    losses: tuple = ("l1", "smoothl1")
    schedules: tuple = (1500, 3000)
    lrs: tuple = (0.02, 0.04, 0.08)
    lr_seeds: int = 3
    min_seeds: int = 10
    round_seeds: int = 5
    max_seeds: int = 20
    target_half_width: float = 0.01  # mAP (1.0 point)
    budget_h: float = 12.0
    default_spi: float = 0.2  # seconds per iteration before any run has finished (measured: 0.19 with 2 workers)


SETTLE_PLANS = {
    "cpu": SettlePlan(),
    "smoke": SettlePlan(losses=("l1",), schedules=(12, 24), lrs=(0.01, 0.02), lr_seeds=1, min_seeds=2, round_seeds=1,
                        max_seeds=3, target_half_width=0.0, budget_h=1.0),
}


def settle_plan_for(profile: str) -> SettlePlan:
    if profile not in SETTLE_PLANS:
        raise ValueError(f"no settling study is planned for profile {profile!r}; planned: {sorted(SETTLE_PLANS)}")
    return SETTLE_PLANS[profile]


@dataclass
class Cell:
    """One loss on one schedule: its tuned lr, its seeds per arm, and why it stopped adding seeds."""

    loss: str
    schedule: int
    lr_means: dict = field(default_factory=dict)  # {lr: mean mAP over the lr seeds} (None while runs are missing)
    tuned_lr: Optional[float] = None
    seeds: int = 0  # seeds of the control / ALWA arms planned now
    frozen: dict = field(default_factory=dict)  # {seed: the ALWA-2 run's final weight, 2 decimals}
    half_widths: dict = field(default_factory=dict)  # {"alwa1": ..., "alwa2": ...}: CI half-width (mAP) so far
    stop: str = ""


@dataclass
class SettleState:
    stage: str
    cells: list = field(default_factory=list)
    cuts: list = field(default_factory=list)
    estimate_h: Optional[float] = None
    spent_h: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def arm_experiment(p: Profile, loss: str, weighting: str, lr: float, iters: int, cls_weight: Optional[float] = None) -> Experiment:
    """An arm of the study: its lr and schedule always named (``_lr{lr}_it{iters}``); ``cls_weight``: ALWA frozen."""
    pair = None if cls_weight is None else f"{cls_weight:.2f}:1.00"
    return experiment_of(p, "retinanet", loss, weighting, pair=pair, lr=lr, iters=iters, name_setting_values=True)


def _lrs(plan: SettlePlan, means: dict) -> list[float]:
    """The plan's lrs, plus one beyond an end where that end's mean is the best so far (all means known)."""
    lrs = list(plan.lrs)
    if all(means.get(lr) is not None for lr in lrs):
        best = max(lrs, key=lambda lr: means[lr])
        if best == lrs[0]:
            lrs.insert(0, lrs[0] / 2)
        elif best == lrs[-1]:
            lrs.append(lrs[-1] * 2)
    return lrs


def _mean(by: dict, exp: Experiment, seeds) -> Optional[float]:
    vals = [by.get(run_key(exp.name, s), {}).get("mAP") for s in seeds]
    if any(v is None or not isinstance(v, (int, float)) or not math.isfinite(v) for v in vals):
        return None
    return sum(vals) / len(vals)


def _records(by: dict, exp: Experiment, seeds) -> dict:
    return {s: by[run_key(exp.name, s)] for s in seeds if run_key(exp.name, s) in by}


def half_width(method: dict, control: dict, confidence: float = 0.95) -> float:
    """Half-width (mAP) of the paired t-interval of method minus control over the seeds that pair
    (:func:`alwa.core.pairing.pairing`); inf below 2 pairs. The stopping rule's measure."""
    from scipy import stats

    seeds = pairing(method, control).seeds
    d = [float(method[s]["mAP"]) - float(control[s]["mAP"]) for s in seeds]
    if len(d) < 2:
        return math.inf
    m = sum(d) / len(d)
    sd = math.sqrt(sum((x - m) ** 2 for x in d) / (len(d) - 1))
    return float(stats.t.ppf(0.5 + confidence / 2, len(d) - 1) * sd / math.sqrt(len(d)))


def cell_specs(p: Profile, plan: SettlePlan, cell: Cell, frozen: bool = True) -> list[tuple[Experiment, int]]:
    """The (experiment, seed) pairs a cell needs as far as it is decided, in run order."""
    out = []
    for lr in sorted(cell.lr_means):
        for s in range(plan.lr_seeds):
            out.append((arm_experiment(p, cell.loss, "base", lr, cell.schedule), s))
    if cell.tuned_lr is None:
        return out
    for s in range(cell.seeds):  # seed by seed, so that a stopped study has whole seeds
        for w in ARMS:
            out.append((arm_experiment(p, cell.loss, w, cell.tuned_lr, cell.schedule), s))
        if frozen and s in cell.frozen:
            out.append((arm_experiment(p, cell.loss, "fixed", cell.tuned_lr, cell.schedule, cls_weight=cell.frozen[s]), s))
    return out


def _decide_cell(p: Profile, plan: SettlePlan, by: dict, loss: str, schedule: int, rounds: bool) -> Cell:
    cell = Cell(loss, schedule)
    seeds = range(plan.lr_seeds)
    means = {lr: _mean(by, arm_experiment(p, loss, "base", lr, schedule), seeds) for lr in plan.lrs}
    for lr in _lrs(plan, means):
        means.setdefault(lr, _mean(by, arm_experiment(p, loss, "base", lr, schedule), seeds))
    cell.lr_means = {float(f"{lr:.6g}"): m for lr, m in means.items()}
    if any(m is None for m in means.values()) or len(_lrs(plan, means)) != len(means):
        return cell
    cell.tuned_lr = float(f"{max(means, key=lambda lr: means[lr]):.6g}")
    cell.seeds = plan.min_seeds
    while True:
        ctrl = _records(by, arm_experiment(p, loss, "base", cell.tuned_lr, schedule), range(cell.seeds))
        a2 = _records(by, arm_experiment(p, loss, "alwa2", cell.tuned_lr, schedule), range(cell.seeds))
        cell.frozen = {s: round(float(r["final_weights"][0]), 2) for s, r in a2.items() if r.get("final_weights")}
        complete = all(len(_records(by, arm_experiment(p, loss, w, cell.tuned_lr, schedule), range(cell.seeds))) == cell.seeds for w in ARMS)
        if not complete:
            cell.stop = f"running {cell.seeds} seeds"
            return cell
        for w in ("alwa1", "alwa2"):
            cell.half_widths[w] = half_width(_records(by, arm_experiment(p, loss, w, cell.tuned_lr, schedule), range(cell.seeds)), ctrl)
        if all(h <= plan.target_half_width for h in cell.half_widths.values()):
            cell.stop = f"every ALWA-vs-control CI within ±{100 * plan.target_half_width:g} points at {cell.seeds} seeds"
            return cell
        if cell.seeds >= plan.max_seeds:
            cell.stop = f"{plan.max_seeds} seeds (the most the rule allows)"
            return cell
        nxt = min(plan.max_seeds, cell.seeds + plan.round_seeds)
        if not rounds and not _started(p, by, cell, range(cell.seeds, nxt)):
            cell.stop = f"{BUDGET_STOP} at {cell.seeds} seeds"
            return cell
        cell.seeds = nxt


def _started(p: Profile, by: dict, cell: Cell, seeds) -> bool:
    """Whether any arm of ``cell`` has a finished run at one of ``seeds``: a round once begun is finished, whatever
    the budget says later (cutting it would drop finished runs)."""
    return any(_records(by, arm_experiment(p, cell.loss, w, cell.tuned_lr, cell.schedule), seeds) for w in ARMS)


def _cells(p: Profile, plan: SettlePlan, by: dict, cuts) -> list[Cell]:
    long = max(plan.schedules)
    out = []
    for schedule in plan.schedules:
        for loss in plan.losses:
            if schedule == long and loss == "smoothl1" and "the long schedule's SmoothL1" in cuts and len(plan.schedules) > 1:
                continue
            out.append(_decide_cell(p, plan, by, loss, schedule, rounds="extra rounds" not in cuts))
    return out


def frozen_is_cut(cuts, schedule: int, longest: int) -> bool:
    """Whether the budget's cut removes ALWA frozen from a cell on ``schedule`` (iterations; ``longest``: the
    study's longest schedule, the only one the cut touches)."""
    return FROZEN_CUT in cuts and schedule == longest


def _projected(plan: SettlePlan, c: Cell) -> Cell:
    """For the budget: a cell whose lr is not tuned yet as if it were (the middle lr, ``min_seeds`` seeds, every
    frozen run); a decided cell as it is."""
    if c.tuned_lr is not None:
        return c
    mid = float(f"{plan.lrs[len(plan.lrs) // 2]:.6g}")
    return Cell(c.loss, c.schedule, dict(c.lr_means), mid, plan.min_seeds, {s: 0.5 for s in range(plan.min_seeds)})


def _specs_of(p: Profile, plan: SettlePlan, cells: list[Cell], cuts, project: bool = False) -> list[dict]:
    long = max(plan.schedules)
    pairs = []
    for c in cells:
        c = _projected(plan, c) if project else c
        pairs += cell_specs(p, plan, c, frozen=not frozen_is_cut(cuts, c.schedule, long))
    seen, out = set(), []
    for exp, s in pairs:
        if (exp.name, s) not in seen:
            seen.add((exp.name, s))
            out.append(make_spec(p, exp, s))
    return out


def seconds_per_iter(records: list[dict], default: float) -> float:
    """Median training seconds per iteration of finished runs (``default`` before any): the median, since a run
    that shared the machine with other work (or was paused) is slow for reasons that do not last."""
    import statistics

    v = [r["train_seconds"] / r["iters"] for r in records
         if isinstance(r.get("train_seconds"), (int, float)) and isinstance(r.get("iters"), int) and r["iters"] > 0]
    return statistics.median(v) if v else default


def _estimate_h(specs: list[dict], done: set, spi: float, workers: int) -> float:
    secs = sum(s.experiment.iters * spi + START_S for s in specs if spec_key(s) not in done)
    return secs / max(1, workers) / 3600


def decide(p: Profile, plan: SettlePlan, records: list[dict]) -> tuple[SettleState, list[dict]]:
    """The study's state and every spec it needs as far as the finished ``records`` decide."""
    by = {r.key: r for r in map(RunRecord.of, records)}
    spi = seconds_per_iter(records, plan.default_spi)
    workers = p.workers
    spent = sum(r.get("wall_seconds", 0.0) for r in records if isinstance(r.get("wall_seconds"), (int, float))) / max(1, workers) / 3600
    cuts = ["Faster R-CNN"]  # the budget cannot hold an lr sweep of its own besides the RetinaNet cells (decided before the runs)
    cells = _cells(p, plan, by, cuts)
    projected = _specs_of(p, plan, cells, cuts, project=True)
    for cut in CUTS[1:]:
        if spent + _estimate_h(projected, set(by), spi, workers) <= plan.budget_h:
            break
        fewer_cells = _cells(p, plan, by, cuts + [cut])
        fewer = _specs_of(p, plan, fewer_cells, cuts + [cut], project=True)
        if ({spec_key(s) for s in projected} - {spec_key(s) for s in fewer}) & set(by):  # never drop a finished run:
            continue  # this cut is past; the next one may still save time
        cuts, cells, projected = cuts + [cut], fewer_cells, fewer
    specs = _specs_of(p, plan, cells, cuts)
    st = SettleState(stage="lr" if any(c.tuned_lr is None for c in cells) else "arms", cells=cells, cuts=cuts,
                     estimate_h=spent + _estimate_h(projected, set(by), spi, workers), spent_h=spent)
    if st.stage == "arms" and all(c.stop and not c.stop.startswith("running") for c in cells):
        st.stage = "done" if not pending_keys(specs, set(by)) else "arms"
    return st, specs


def pending_keys(specs: list[dict], done: set) -> list[str]:
    return [spec_key(s) for s in specs if spec_key(s) not in done]


def run_settle(p: Profile, out_dir, workers: Optional[int] = None, threads: Optional[int] = None, max_runs: Optional[int] = None,
               fn: Optional[str] = None, progress: bool = True, log=print) -> SettleState:
    """Run the study until its plan is done (or ``max_runs`` were started); resumable. Each sweep call runs the runs
    pending now; the plan is decided again after it (a finished ALWA-2 run adds its frozen run, a finished round
    its decision)."""
    plan = settle_plan_for(p.profile)
    started = 0
    while True:
        records = load_results(out_dir)
        st, specs = decide(p, plan, records)
        todo = pending(specs, out_dir)
        log(f"settle: stage {st.stage}; {len(specs) - len(todo)} of {len(specs)} planned runs done; "
            f"estimate {st.estimate_h:.1f} h of {plan.budget_h:g}; cuts {st.cuts}")
        if backbones_note(records):
            log(f"settle: note: {backbones_note(records)}")
        if not todo or (max_runs is not None and started >= max_runs):
            return st
        left = len(todo) if max_runs is None else min(len(todo), max_runs - started)
        # a few runs per call, so that a finished ALWA-2 run soon plans its frozen run
        chunk = min(left, max(2, 2 * (workers or p.workers)))
        summary = run_sweep(specs, out_dir, workers=workers or p.workers, threads=threads or p.threads, devices=p.devices,
                            fn=fn or DEFAULT_FN, progress=progress, desc=f"settle: {st.stage}", max_runs=chunk)
        started += len(summary["done"]) + len(summary["failed"])
        if summary["failed"]:
            log(f"settle: {len(summary['failed'])} run(s) failed: {summary['failed']}; stopping (rerun to retry)")
            return st
