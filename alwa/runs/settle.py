"""The study that settles the learning-rate question (issue "Settle it"): RetinaNet, L1 and SmoothL1, each at its
own tuned lr, on two schedules, seeds added in rounds under a stopping rule fixed before the runs.

Every run of it is new (its own results folder, ``results/<profile>/settle``), made with the pinned pre-training
(:class:`alwa.core.settings.PretrainOptions` ``threads=1``) and carrying fingerprints, so that its pairs are
checked (:mod:`alwa.core.stats`). The plan, decided from the finished runs (a stopped study resumes with the
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

A declaration on the one study engine (:mod:`alwa.runs.engine`): its arms, lr rule, stopping rule, budget and cuts
are the engine's typed objects; the engine's pieces decide, estimate, cut and drive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

from alwa.core.experiment import Experiment
from alwa.core.pairing import pairing
from alwa.core.stats import half_width as _half_width, paired_diff
from alwa.runs.engine import (BUDGET_STOP, Arm, CellsState, Cut, LrRule, RecordIndex, StoppingRule, Stop, choose_cuts, drive,
                              estimate_h, seconds_per_iter, seeds_by_rule, unique)
from alwa.runs.profile import Profile
from alwa.runs.specs import experiment_of, make_spec

__all__ = ["BUDGET_STOP", "SettleCut", "CUTS", "FROZEN_CUT", "SettlePlan", "SETTLE_PLANS", "settle_plan_for", "Cell",
           "SettleState", "arm_experiment", "half_width", "decide", "frozen_is_cut", "SettleStudy", "run_settle"]

CONTROL, ALWA1, ALWA2 = Arm("base", "control"), Arm("alwa1", "ALWA-1"), Arm("alwa2", "ALWA-2")
ARMS = (CONTROL, ALWA1, ALWA2)  # the control first
FROZEN = Arm("fixed", "ALWA frozen")  # its weight: the same seed's ALWA-2 run's final weight


class SettleCut(Cut):
    FASTER = "Faster R-CNN"
    FROZEN_LONG = "ALWA frozen at the long schedule"
    SMOOTHL1_LONG = "the long schedule's SmoothL1"
    ROUNDS = "extra rounds"


CUTS = tuple(SettleCut)
FROZEN_CUT = SettleCut.FROZEN_LONG


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

    @property
    def lr_rule(self) -> LrRule:
        return LrRule(tuple(self.lrs), self.lr_seeds)

    @property
    def stopping(self) -> StoppingRule:
        return StoppingRule(self.min_seeds, self.round_seeds, self.max_seeds, self.target_half_width)


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
    seeds: int = 0  # seeds of the control / ALWA arms planned now (the profile's first ``seeds`` seeds)
    frozen: dict = field(default_factory=dict)  # {seed: the ALWA-2 run's final weight, 2 decimals}
    half_widths: dict = field(default_factory=dict)  # {"alwa1": ..., "alwa2": ...}: CI half-width (mAP) so far
    stop: Optional[Stop] = None


class SettleState(CellsState):
    """The settling study's state (:class:`alwa.runs.engine.CellsState` of :class:`Cell`)."""


def arm_experiment(p: Profile, loss: str, weighting: str, lr: float, iters: int, cls_weight: Optional[float] = None) -> Experiment:
    """An arm of the study: its lr and schedule always named (``_lr{lr}_it{iters}``); ``cls_weight``: ALWA frozen."""
    pair = None if cls_weight is None else f"{cls_weight:.2f}:1.00"
    return experiment_of(p, "retinanet", loss, weighting, pair=pair, lr=lr, iters=iters, name_setting_values=True)


def half_width(method: dict, control: dict) -> float:
    """Half-width (mAP) of the paired 95 % CI of method minus control (records by seed) over the seeds that pair
    (:func:`alwa.core.pairing.pairing`); inf below 2 pairs. The stopping rule's measure."""
    seeds = pairing(method, control).seeds
    return _half_width(paired_diff({s: float(method[s]["mAP"]) for s in seeds}, {s: float(control[s]["mAP"]) for s in seeds}))


def _valid_weight(r) -> Optional[float]:
    w = (r.get("final_weights") or [None])[0]
    return round(float(w), 2) if isinstance(w, (int, float)) and not isinstance(w, bool) and math.isfinite(w) else None


def cell_specs(p: Profile, plan: SettlePlan, cell: Cell, frozen: bool = True) -> list[tuple[Experiment, int]]:
    """The (experiment, seed) pairs a cell needs as far as it is decided, in run order."""
    out = []
    for lr in sorted(cell.lr_means):
        for s in p.seeds(plan.lr_seeds):
            out.append((arm_experiment(p, cell.loss, "base", lr, cell.schedule), s))
    if cell.tuned_lr is None:
        return out
    for s in p.seeds(cell.seeds):  # seed by seed, so that a stopped study has whole seeds
        for a in ARMS:
            out.append((arm_experiment(p, cell.loss, a.weighting, cell.tuned_lr, cell.schedule), s))
        if frozen and s in cell.frozen:
            out.append((arm_experiment(p, cell.loss, FROZEN.weighting, cell.tuned_lr, cell.schedule, cls_weight=cell.frozen[s]), s))
    return out


def _decide_cell(p: Profile, plan: SettlePlan, idx: RecordIndex, loss: str, schedule: int, rounds: bool) -> Cell:
    cell = Cell(loss, schedule)
    rule, seeds = plan.lr_rule, p.seeds(plan.lr_seeds)
    base = lambda lr: arm_experiment(p, loss, "base", lr, schedule)  # noqa: E731
    means = {lr: idx.mean(base(lr), seeds) for lr in rule.lrs}
    for lr in rule.candidates(means):
        means.setdefault(lr, idx.mean(base(lr), seeds))
    cell.lr_means = {float(f"{lr:.6g}"): m for lr, m in means.items()}
    if len(rule.candidates(means)) != len(means):
        return cell
    cell.tuned_lr = rule.tuned(means)
    if cell.tuned_lr is None:
        return cell
    arm = {a.weighting: arm_experiment(p, loss, a.weighting, cell.tuned_lr, schedule) for a in ARMS}
    got = lambda w, n: idx.by_seed(arm[w], p.seeds(n))  # noqa: E731

    def complete(n: int) -> bool:
        a2 = got("alwa2", n)
        cell.frozen = {s: w for s, r in a2.items() if (w := _valid_weight(r)) is not None}
        return all(len(got(a.weighting, n)) == n for a in ARMS)

    def half_widths(n: int) -> dict:
        return {w: half_width(got(w, n), got("base", n)) for w in ("alwa1", "alwa2")}

    def started(n: int, m: int) -> bool:  # a round once begun is finished (cutting it would drop finished runs)
        return any(idx.by_seed(arm[a.weighting], p.seeds(m)[n:]) for a in ARMS)

    cell.seeds, cell.half_widths, cell.stop = seeds_by_rule(plan.stopping, complete, half_widths, rounds, started)
    return cell


def _cells(p: Profile, plan: SettlePlan, idx: RecordIndex, cuts) -> list[Cell]:
    long = max(plan.schedules)
    out = []
    for schedule in plan.schedules:
        for loss in plan.losses:
            if schedule == long and loss == "smoothl1" and SettleCut.SMOOTHL1_LONG in cuts and len(plan.schedules) > 1:
                continue
            out.append(_decide_cell(p, plan, idx, loss, schedule, rounds=SettleCut.ROUNDS not in cuts))
    return out


def frozen_is_cut(cuts, schedule: int, longest: int) -> bool:
    """Whether the budget's cut removes ALWA frozen from a cell on ``schedule`` (iterations; ``longest``: the
    study's longest schedule, the only one the cut touches)."""
    return FROZEN_CUT in cuts and schedule == longest


def _projected(p: Profile, plan: SettlePlan, c: Cell) -> Cell:
    """For the budget: a cell whose lr is not tuned yet as if it were (the middle lr, ``min_seeds`` seeds, every
    frozen run); a decided cell as it is."""
    if c.tuned_lr is not None:
        return c
    mid = float(f"{plan.lrs[len(plan.lrs) // 2]:.6g}")
    return Cell(c.loss, c.schedule, dict(c.lr_means), mid, plan.min_seeds, {s: 0.5 for s in p.seeds(plan.min_seeds)})


def _specs_of(p: Profile, plan: SettlePlan, cells: list[Cell], cuts, project: bool = False) -> list:
    long = max(plan.schedules)
    pairs = []
    for c in cells:
        c = _projected(p, plan, c) if project else c
        pairs += cell_specs(p, plan, c, frozen=not frozen_is_cut(cuts, c.schedule, long))
    return unique(make_spec(p, exp, s) for exp, s in pairs)


def decide(p: Profile, plan: SettlePlan, records: list[dict]) -> tuple[SettleState, list]:
    """The study's state and every spec it needs as far as the finished ``records`` decide."""
    idx = RecordIndex(records)
    spi = seconds_per_iter(idx.records).get("retinanet", plan.default_spi)
    workers, done = p.workers, idx.keys()
    spent = idx.spent_h(workers)
    cost = lambda specs: spent + estimate_h(specs, done, {}, workers, spi)  # noqa: E731
    # Faster R-CNN: the budget cannot hold an lr sweep of its own besides the RetinaNet cells (decided before the runs)
    plan_with = lambda cuts: _specs_of(p, plan, _cells(p, plan, idx, cuts), cuts, project=True)  # noqa: E731
    cuts, projected = choose_cuts(CUTS, plan_with, done, cost, plan.budget_h, start=[SettleCut.FASTER])
    cells = _cells(p, plan, idx, cuts)
    specs = _specs_of(p, plan, cells, cuts)
    st = SettleState(stage="lr" if any(c.tuned_lr is None for c in cells) else "arms", cells=cells, cuts=cuts,
                     estimate_h=cost(projected), spent_h=spent)
    if st.stage == "arms" and all(c.stop is not None and c.stop.final for c in cells):
        st.stage = "done" if all(s.key in done for s in specs) else "arms"
    return st, specs


class SettleStudy:
    """The settling study, declared for the engine's driver (:func:`alwa.runs.engine.drive`)."""

    name, folder, reads = "settle", "settle", ()

    def __init__(self, plan: SettlePlan):
        self.plan = plan

    def decide(self, p: Profile, records: list, reused: list = ()) -> tuple[SettleState, list]:
        return decide(p, self.plan, records)

    def is_complete(self, st: SettleState, todo: list) -> bool:
        return st.stage == "done" and not todo

    def status_line(self, st: SettleState, n_specs: int, n_done: int) -> str:
        return (f"stage {st.stage}; {n_done} of {n_specs} planned runs done; estimate {st.estimate_h:.1f} h of "
                f"{self.plan.budget_h:g}; cuts {[str(c) for c in st.cuts]}")

    def chunk(self, workers: int) -> Optional[int]:
        return max(2, 2 * workers)  # a few runs per call, so that a finished ALWA-2 run soon plans its frozen run


def run_settle(p: Profile, out_dir, workers: Optional[int] = None, threads: Optional[int] = None, max_runs: Optional[int] = None,
               fn: Optional[str] = None, progress: bool = True, log=print):
    """Run the study until its plan is done (or ``max_runs`` were started); resumable (:func:`alwa.runs.engine.drive`)."""
    return drive(SettleStudy(settle_plan_for(p.profile)), p, out_dir, workers, threads, max_runs, fn, progress, log)
