"""The study "best against best" (issue 40): ALWA at its own learning rate, Faster R-CNN tuned, the best fixed weight
and three other adaptive loss weightings, each at its best, against the lr control, per regression loss.

A declaration on the one study engine (:mod:`alwa.runs.engine`). Cells: RetinaNet on the settling study's short
schedule (1500 iterations) and Faster R-CNN on its scaled schedule (1000), per loss (L1, SmoothL1). Every run is
new in ``results/<profile>/best``, made from the pinned backbone (:mod:`alwa.mmdet.pretrain`); a run of the
settling study (``results/<profile>/settle``) with the same experiment and seed is reused as it is, and pairs only
where its initial state is the same (:mod:`alwa.core.pairing`). The parts, in priority order (the budget cuts from
the bottom, never dropping a finished run):

a. **ALWA at its own lr** (RetinaNet): ALWA-1 and ALWA-2 each swept at ``lr_factors`` x the control's lr (the
   settling study's tuned lr for that loss), ``lr_seeds`` seeds, one lr beyond a winning edge; at its tuned lr the
   stopping rule against the control (1:1 at the control's lr).
b. **Faster R-CNN** per loss: 1:1 swept over ``faster_lrs`` (one beyond a winning edge; a run that dies in warm-up
   scores 0 and is named), then the control, ALWA-1 and ALWA-2 at that tuned lr under the stopping rule.
c. **The best fixed weight** (RetinaNet, at the control's lr): classification weights ``fixed_weights`` (below and
   above 1), ``lr_seeds`` seeds; the best mean (1:1 included) under the stopping rule.
d. **Uncertainty weighting, DWA, RLW** (:mod:`alwa.core.weightings`), each at its own lr as in (a).
e. **The long schedule** (``long_schedule`` iterations): control, ALWA-1 and ALWA-2 at the lrs of (a), ``long_seeds``.

The stopping rule (fixed before any run): seeds in rounds of ``round_seeds`` from ``min_seeds`` until the paired
95 % CI of the arm minus the control is within ±1 point, at most ``max_seeds``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from alwa.core.experiment import Experiment
from alwa.runs.engine import (Arm, CellsState, Cut, LrRule, RecordIndex, Stop, StoppingRule, choose_cuts, drive, estimate_h,
                              seconds_per_iter, seeds_by_rule, unique)
from alwa.runs.profile import Profile
from alwa.runs.settle import SettleStudy, half_width, settle_plan_for
from alwa.runs.specs import experiment_of, make_spec

CONTROL = Arm("base", "control")
ALWA1, ALWA2 = Arm("alwa1", "ALWA-1"), Arm("alwa2", "ALWA-2")
UW, DWA, RLW = Arm("uw", "uncertainty weighting"), Arm("dwa", "DWA"), Arm("rlw", "RLW")
FIXED = Arm("fixed", "best fixed weight")


class BestCut(Cut):
    """The parts the budget may cut, from the bottom of the priority list."""

    LONG = "the long schedule"
    RLW = "RLW"
    DWA = "DWA"
    UW = "uncertainty weighting"
    FIXED = "the best fixed weight"
    FASTER = "Faster R-CNN"


CUTS = tuple(BestCut)
DEAD_MAP = 0.05  # a mean mAP below this: the runs did not train
_ARM_CUT = {RLW: BestCut.RLW, DWA: BestCut.DWA, UW: BestCut.UW}


@dataclass(frozen=True)
class BestPlan:
    """The study's fixed choices (the stopping rule included), per profile."""

    losses: tuple = ("l1", "smoothl1")
    schedule: int = 1500  # RetinaNet; Faster R-CNN runs the profile's scaled schedule (1000 at the cpu profile)
    lr_factors: tuple = (0.5, 1.0, 2.0)  # an arm's lr sweep, around the control's lr
    lr_seeds: int = 3
    faster_lrs: tuple = (0.01, 0.02, 0.04)
    fixed_weights: tuple = (0.25, 0.5, 2.0, 4.0)  # classification weights (regression 1)
    min_seeds: int = 10
    round_seeds: int = 5
    max_seeds: int = 20
    target_half_width: float = 0.01  # mAP (1.0 point)
    long_schedule: int = 6000
    long_seeds: int = 5
    budget_h: float = 14.0
    default_spi: float = 0.2

    @property
    def stopping(self) -> StoppingRule:
        return StoppingRule(self.min_seeds, self.round_seeds, self.max_seeds, self.target_half_width)


BEST_PLANS = {
    "cpu": BestPlan(),
    "smoke": BestPlan(losses=("l1",), schedule=12, lr_factors=(0.5, 1.0), lr_seeds=1, faster_lrs=(0.01, 0.02),
                      fixed_weights=(0.5, 2.0), min_seeds=2, round_seeds=1, max_seeds=3, target_half_width=0.0,
                      long_schedule=24, long_seeds=1, budget_h=1.0),
}


@dataclass
class ArmState:
    """One arm of a cell: its lr sweep's means, its tuned lr, its seeds and why it stopped adding them."""

    arm: Arm
    lr_means: dict = field(default_factory=dict)
    tuned_lr: Optional[float] = None
    seeds: int = 0
    half_width: Optional[float] = None
    stop: Optional[Stop] = None
    weight: Optional[float] = None  # the best fixed weight's classification weight (1.0: 1:1 is the best)


@dataclass
class BestCell:
    detector: str
    loss: str
    schedule: int
    control_lr: Optional[float] = None
    control_means: dict = field(default_factory=dict)  # Faster R-CNN's own lr sweep of 1:1
    arms: list = field(default_factory=list)

    @property
    def dead_lrs(self) -> list:
        """The lrs of the 1:1 sweep at which the detector did not train (mean mAP below ``DEAD_MAP``: it dies in the
        warm-up, as Faster R-CNN at 0.08)."""
        return sorted(lr for lr, m in self.control_means.items() if m is not None and m < DEAD_MAP)


class BestState(CellsState):
    """The study's state (:class:`alwa.runs.engine.CellsState` of :class:`BestCell`)."""


def _exp(p: Profile, cell: BestCell, arm: Arm, lr: float, iters: Optional[int] = None, weight: Optional[float] = None) -> Experiment:
    pair = None if weight is None else f"{weight:.2f}:1.00"
    return experiment_of(p, cell.detector, cell.loss, "base" if weight == 1.0 else arm.weighting, pair=None if weight == 1.0 else pair,
                         lr=lr, iters=iters or cell.schedule, name_setting_values=True)


def _control_lrs(p: Profile, settle_records: list) -> dict:
    """The settling study's tuned lr per loss on its short schedule (its state, decided from its records)."""
    st, _ = SettleStudy(settle_plan_for(p.profile)).decide(p, settle_records)
    short = min(c.schedule for c in st.cells) if st.cells else None
    return {c.loss: c.tuned_lr for c in st.cells if c.schedule == short and c.tuned_lr is not None}


class _Decider:
    """Decides one state from the finished runs (``project``: undecided parts as if decided, for the budget)."""

    def __init__(self, p: Profile, plan: BestPlan, idx: RecordIndex, control_lrs: dict, cuts, project: bool = False):
        self.p, self.plan, self.idx, self.cuts, self.project = p, plan, idx, cuts, project
        self.control_lrs = control_lrs
        self.specs: list = []  # (part, experiment, seed)
        self.part = "a"

    def want(self, exp: Experiment, seeds) -> None:
        self.specs += [(self.part, exp, s) for s in seeds]

    def sweep(self, cell: BestCell, arm: Arm, lrs: tuple, weight: Optional[float] = None) -> tuple[dict, Optional[float]]:
        rule = LrRule(tuple(float(f"{lr:.6g}") for lr in lrs), self.plan.lr_seeds)
        seeds = self.p.seeds(self.plan.lr_seeds)
        means = {lr: self.idx.mean(_exp(self.p, cell, arm, lr, weight=weight), seeds) for lr in rule.lrs}
        for lr in rule.candidates(means):
            means.setdefault(float(f"{lr:.6g}"), self.idx.mean(_exp(self.p, cell, arm, lr, weight=weight), seeds))
        for lr in sorted(means):
            self.want(_exp(self.p, cell, arm, lr, weight=weight), seeds)
        tuned = rule.tuned(means) if len(rule.candidates(means)) == len(means) else None
        if tuned is None and self.project:
            tuned = rule.lrs[len(rule.lrs) // 2]
        return means, tuned

    def by_rule(self, cell: BestCell, st: ArmState, exp: Experiment, control: Experiment) -> None:
        """The stopping rule for ``exp`` against ``control`` (both planned seed by seed)."""
        if self.project and not self.idx.by_seed(exp, self.p.seeds(self.plan.max_seeds)):
            st.seeds = self.plan.min_seeds
        else:
            got = lambda e, n: self.idx.by_seed(e, self.p.seeds(n))  # noqa: E731
            st.seeds, hw, st.stop = seeds_by_rule(
                self.plan.stopping, lambda n: len(got(exp, n)) == n and len(got(control, n)) == n,
                lambda n: {"arm": half_width(got(exp, n), got(control, n))}, True,
                lambda n, m: bool(self.idx.by_seed(exp, self.p.seeds(m)[n:])))
            st.half_width = hw.get("arm")
        for s in self.p.seeds(st.seeds):
            self.want(control, [s])
            self.want(exp, [s])

    def own_lr_arm(self, cell: BestCell, arm: Arm, control: Experiment) -> ArmState:
        st = ArmState(arm)
        st.lr_means, st.tuned_lr = self.sweep(cell, arm, tuple(cell.control_lr * f for f in self.plan.lr_factors))
        if st.tuned_lr is not None:
            self.by_rule(cell, st, _exp(self.p, cell, arm, st.tuned_lr), control)
        return st

    def fixed_arm(self, cell: BestCell, control: Experiment) -> ArmState:
        st = ArmState(FIXED, tuned_lr=cell.control_lr)
        seeds = self.p.seeds(self.plan.lr_seeds)
        means = {1.0: self.idx.mean(control, seeds)}
        for w in self.plan.fixed_weights:
            e = _exp(self.p, cell, FIXED, cell.control_lr, weight=w)
            self.want(e, seeds)
            means[w] = self.idx.mean(e, seeds)
        self.want(control, seeds)
        st.lr_means = means  # here: {classification weight: mean mAP}
        if any(m is None for m in means.values()):
            if not self.project:
                return st
            st.weight = self.plan.fixed_weights[0]
        else:
            st.weight = max(means, key=lambda w: means[w])
        if st.weight != 1.0:
            self.by_rule(cell, st, _exp(self.p, cell, FIXED, cell.control_lr, weight=st.weight), control)
        return st

    def cell(self, detector: str, loss: str) -> Optional[BestCell]:
        p, plan = self.p, self.plan
        retina = detector == "retinanet"
        schedule = plan.schedule if retina else int(round(plan.schedule * p.mini_setting(detector).iters
                                                           / p.mini_setting("retinanet").iters))
        cell = BestCell(detector, loss, schedule)
        if retina:
            cell.control_lr = self.control_lrs.get(loss)
            if cell.control_lr is None:
                return cell  # the settling study has not tuned this loss yet
        else:
            cell.control_means, cell.control_lr = self.sweep(cell, CONTROL, plan.faster_lrs)
            if cell.control_lr is None:
                return cell
        control = _exp(p, cell, CONTROL, cell.control_lr)
        if not retina:  # (b): ALWA at Faster R-CNN's tuned lr
            for arm in (ALWA1, ALWA2):
                st = ArmState(arm, tuned_lr=cell.control_lr)
                self.by_rule(cell, st, _exp(p, cell, arm, cell.control_lr), control)
                cell.arms.append(st)
            return cell
        self.part = "a"
        cell.arms += [self.own_lr_arm(cell, arm, control) for arm in (ALWA1, ALWA2)]
        if BestCut.FIXED not in self.cuts:
            self.part = "c"
            cell.arms.append(self.fixed_arm(cell, control))
        self.part = "d"
        cell.arms += [self.own_lr_arm(cell, arm, control) for arm in (UW, DWA, RLW) if _ARM_CUT[arm] not in self.cuts]
        return cell

    def long(self, cell: BestCell) -> None:
        """(e): control, ALWA-1 and ALWA-2 on the long schedule at the lrs of (a)."""
        seeds = self.p.seeds(self.plan.long_seeds)
        self.want(_exp(self.p, cell, CONTROL, cell.control_lr, iters=self.plan.long_schedule), seeds)
        for st in cell.arms:
            if st.arm in (ALWA1, ALWA2) and st.tuned_lr is not None:
                self.want(_exp(self.p, cell, st.arm, st.tuned_lr, iters=self.plan.long_schedule), seeds)

    def decide(self) -> tuple[list, list]:
        """The cells and the (experiment, seed) pairs in run order: part (a) for every loss first, then (b), (c),
        (d), (e); within a part, as decided (lr sweeps first, then seed by seed); a run wanted twice where first."""
        cells = [self.cell("retinanet", loss) for loss in self.plan.losses]
        if BestCut.FASTER not in self.cuts:
            self.part = "b"
            cells += [self.cell("faster-rcnn", loss) for loss in self.plan.losses]
        if BestCut.LONG not in self.cuts:
            self.part = "e"
            for c in cells:
                if c.detector == "retinanet" and c.control_lr is not None:
                    self.long(c)
        seen, out = set(), []
        for _, e, s in sorted(self.specs, key=lambda x: x[0]):  # stable: the order within a part is kept
            if (e.name, s) not in seen:
                seen.add((e.name, s))
                out.append((e, s))
        return cells, out


PINS = Path(__file__).parents[1] / "mmdet" / "pinned" / "pins.json"  # read as data: no mm* import here


def pinned_backbones() -> set:
    """The tensor hashes of the pinned pre-trained backbones (:mod:`alwa.mmdet.pretrain`)."""
    return {v["state_hash"] for v in json.loads(PINS.read_text()).values()} if PINS.exists() else set()


def made_from(record, backbones: set) -> bool:
    """Whether a run was made from a backbone in ``backbones`` (a run from another backbone cannot pair with this
    study's runs, which start from the pinned one)."""
    return ((record.get("fingerprints") or {}).get("pretrained")) in backbones


def decide(p: Profile, plan: BestPlan, records: list, settle_records: list) -> tuple[BestState, list]:
    """The study's state and every spec it needs as far as its finished ``records`` and the settling study's
    ``settle_records`` decide (the control's lr from the settling study's state; its runs reused where they were
    made from the pinned backbone)."""
    pinned = pinned_backbones()
    idx = RecordIndex(list(records) + [r for r in settle_records if made_from(r, pinned)])
    own = RecordIndex(records)
    control_lrs = _control_lrs(p, settle_records)
    spi = seconds_per_iter(idx.records)
    workers, done = p.workers, idx.keys()
    spent = own.spent_h(workers)
    cost = lambda specs: spent + estimate_h(specs, done, spi, workers, plan.default_spi)  # noqa: E731

    def plan_with(cuts):
        return [make_spec(p, e, s) for e, s in _Decider(p, plan, idx, control_lrs, cuts, project=True).decide()[1]]

    cuts, projected = choose_cuts(CUTS, plan_with, done, cost, plan.budget_h)
    cells, pairs = _Decider(p, plan, idx, control_lrs, cuts).decide()
    specs = unique(make_spec(p, e, s) for e, s in pairs)
    undecided = any(c.control_lr is None or any(a.stop is None or not a.stop.final for a in c.arms if a.weight != 1.0)
                    for c in cells)
    stage = "running" if undecided or any(s.key not in done for s in specs) else "done"
    return BestState(stage, cells, cuts, cost(projected), spent), specs


class BestStudy:
    """The study, declared for the engine's driver; it reads the settling study's folder too."""

    name, folder, reads = "best", "best", ("settle",)

    def __init__(self, plan: BestPlan):
        self.plan = plan
        self._pinned = pinned_backbones()

    def reuses(self, record) -> bool:
        """A settling-study run is reused where it was made from the pinned backbone."""
        return made_from(record, self._pinned)

    def decide(self, p: Profile, records: list, reused: list = ()) -> tuple[BestState, list]:
        return decide(p, self.plan, records, reused)

    def is_complete(self, st: BestState, todo: list) -> bool:
        return st.stage == "done" and not todo

    def status_line(self, st: BestState, n_specs: int, n_done: int) -> str:
        return (f"stage {st.stage}; {n_done} of {n_specs} planned runs done; estimate {st.estimate_h:.1f} h of "
                f"{self.plan.budget_h:g}; cuts {[str(c) for c in st.cuts]}")

    def chunk(self, workers: int) -> Optional[int]:
        return max(2, 2 * workers)

    def describe(self, st: BestState) -> list[str]:
        """One line per cell and arm: the lr (or weight) sweep, the tuned value, the seeds and why they stop."""
        out = []
        for c in st.cells:
            sweep = ", ".join(f"{lr:g}: {'-' if m is None else f'{100 * m:.1f}'}" for lr, m in sorted(c.control_means.items()))
            dead = f"; did not train at lr {', '.join(f'{lr:g}' for lr in c.dead_lrs)}" if c.dead_lrs else ""
            out.append(f"{c.detector} {c.loss} {c.schedule} it: control lr {c.control_lr if c.control_lr else '-'}"
                       + (f" (1:1 sweep [{sweep}]{dead})" if sweep else " (the settling study's tuned lr)"))
            for a in c.arms:
                what = "weight" if a.arm == FIXED else "lr"
                sweep = ", ".join(f"{k:g}: {'-' if m is None else f'{100 * m:.1f}'}" for k, m in sorted(a.lr_means.items()))
                best = a.weight if a.arm == FIXED else a.tuned_lr
                out.append(f"  {a.arm.label}: {what} sweep [{sweep}]; best {what} {best if best is not None else '-'}; "
                           f"{a.seeds} seeds; {a.stop or '-'}")
        return out


def run_best(p: Profile, out_dir, workers: Optional[int] = None, threads: Optional[int] = None,
             max_runs: Optional[int] = None, fn: Optional[str] = None, progress: bool = True, log=print):
    """Run the study until its plan is done (or ``max_runs`` were started); resumable."""
    return drive(BestStudy(BEST_PLANS[p.profile]), p, out_dir, workers, threads, max_runs, fn, progress, log)
