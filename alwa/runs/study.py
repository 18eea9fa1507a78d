"""The learning-rate study (issue "Loss weight or learning rate?"): which runs it needs, decided stage by stage
from the runs already finished, and a resumable driver that runs them.

Stages (each one's runs are fixed by the results of the stages before it, so a stopped study resumes
with the same plan):

1. **calibration** — the RetinaNet 1:1 L1 baseline at each schedule of ``ladder`` (the 1x shape: warm-up,
   x0.1 at 8/12 and 11/12), ``calib_seeds`` seeds. The *converged schedule* is the shortest one whose
   doubled schedule raises the mean mAP by less than ``converged_gain`` (1 point). The **equivalence
   runs** (k:k at lr/k against 1:1 at lr on the profile's short schedule, with and without gradient
   clipping) need no decision and fill the workers' idle time here.
2. **lr sweep** — the 1:1 L1 baseline on the converged schedule at ``lr_factors`` x the setting's lr;
   the best mean mAP is the **tuned lr**.
3. **regimes** — on the converged schedule: the *paper regime* (2 x tuned lr: what 8 images per iteration
   at mmdetection's 16-image lr mean) and the *tuned regime*, RetinaNet L1 and SmoothL1 (arms below),
   Faster R-CNN (ALWA in the RPN) in the paper regime, and ALWA-2 with the trend-free window statistic.
   The **lr control** is 1:1 at the tuned lr. Runs are ordered by importance: ALWA against the control in
   the paper regime first.

If the planned runs do not fit ``budget_h`` (wall hours with the profile's workers, estimated from the
seconds per iteration of finished runs), arms are cut in the issue's order and the cuts are recorded. A cut
that would drop a run which has already finished is passed over (:func:`alwa.runs.engine.choose_cuts`): the
estimate can move between resumes as run times are measured, but a resumed study never loses a finished run.

A declaration on the one study engine (:mod:`alwa.runs.engine`): its record index, cost, cuts and driver.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Optional

from alwa.core.experiment import Experiment, RunSpec
from alwa.runs.engine import Cut, LrRule, RecordIndex, choose_cuts, drive, estimate_h, seconds_per_iter, unique
from alwa.runs.profile import Profile
from alwa.runs.specs import experiment_of, make_spec

PAPER_ARMS = (("base", 5), ("alwa1", 5), ("alwa2", 5), ("0.50:0.50", 3), ("0.25:0.25", 3), ("0.50:0.75", 3))
TUNED_ARMS = (("base", 5), ("0.50:0.50", 5), ("alwa1", 5), ("alwa2", 5))
FASTER_ARMS = (("base", 3), ("alwa1", 3), ("alwa2", 3))


class StudyCut(Cut):
    SMOOTHL1_TUNED = "smoothl1 in the tuned regime"
    FIXED_PAIRS = "0.25:0.25 and 0.5:0.75"
    FASTER_2_SEEDS = "Faster R-CNN to 2 seeds"


CUTS = tuple(StudyCut)
DEFAULT_SPI = 0.54  # seconds per iteration of a detector without a finished run (1.5 x the RetinaNet of 0.36 measured)


@dataclass(frozen=True)
class StudyPlan:
    """The study's fixed choices for a profile (the issue's numbers for ``cpu``)."""

    ladder: tuple = (600, 1200, 2400)  # schedules tried, in iterations; extended to (1500, 3000) if 1200 is not converged
    extra_ladder: tuple = (1500, 3000)
    cap: int = 3000
    calib_seeds: int = 3
    converged_gain: float = 0.01  # mAP: doubling the schedule gains less than this
    lr_factors: tuple = (0.25, 0.5, 1.0, 2.0, 4.0)
    lr_seeds: int = 3
    losses: tuple = ("l1", "smoothl1")
    paper_factor: float = 2.0  # paper regime lr = 2 x tuned lr
    seed_scale: float = 1.0  # smoke: fewer seeds
    equivalence_k: tuple = (0.5, 2.0)
    equivalence_seeds: int = 3
    detrend_seeds: int = 5
    budget_h: float = 8.0

    def seeds(self, n: int) -> int:
        return max(1, int(math.ceil(n * self.seed_scale)))


PLANS = {"cpu": StudyPlan(),
         "smoke": StudyPlan(ladder=(12, 24, 48), extra_ladder=(), cap=48, calib_seeds=1, lr_factors=(0.5, 1.0, 2.0), lr_seeds=1,
                            losses=("l1",), seed_scale=0.2, equivalence_k=(0.5,), equivalence_seeds=1, detrend_seeds=1, budget_h=1.0)}


def plan_for(profile: str) -> StudyPlan:
    if profile not in PLANS:
        raise ValueError(f"no learning-rate study is planned for profile {profile!r}; planned: {sorted(PLANS)}")
    return PLANS[profile]


@dataclass
class StudyState:
    """What the finished runs decide: the stage reached, the converged schedule, the tuned lr, the cuts."""

    stage: str
    schedule: Optional[int] = None
    converged: Optional[bool] = None
    schedule_gains: dict = field(default_factory=dict)  # {iters: mean mAP(2 x iters) - mean mAP(iters)}
    tuned_lr: Optional[float] = None
    lr_means: dict = field(default_factory=dict)
    cuts: list = field(default_factory=list)
    estimate_h: Optional[float] = None  # wall hours of the whole study (finished + estimated) with the profile's workers
    schedule_reason: str = ""

    def as_dict(self) -> dict:
        d = asdict(self)
        d["cuts"] = [str(c) for c in self.cuts]
        return d


# ------------------------------------------------------------------ names and specs
def setting_lr(p: Profile, detector: str = "retinanet") -> float:
    return p.mini_setting(detector).lr


def setting_iters(p: Profile, detector: str = "retinanet") -> int:
    return p.mini_setting(detector).iters


def _specs(p: Profile, exps_seeds) -> list[RunSpec]:
    return unique(make_spec(p, exp, seed) for exp, seeds in exps_seeds for seed in seeds)


def calibration_specs(p: Profile, plan: StudyPlan, ladder=None) -> list[RunSpec]:
    lr = setting_lr(p)
    return _specs(p, [(experiment_of(p, "retinanet", "l1", "base", lr=lr, iters=it), p.seeds(plan.calib_seeds)) for it in (ladder or plan.ladder)])


def equivalence_specs(p: Profile, plan: StudyPlan) -> list[RunSpec]:
    """k:k at lr/k and 1:1 at lr, on the profile's own schedule, with and without clipping."""
    lr, seeds = setting_lr(p), p.seeds(plan.equivalence_seeds)
    out = []
    for clip in (True, False):
        out.append((experiment_of(p, "retinanet", "l1", "base", lr=lr, clip=clip), seeds))
        for k in plan.equivalence_k:
            out.append((experiment_of(p, "retinanet", "l1", f"{k:.2f}:{k:.2f}", lr=lr / k, clip=clip), seeds))
    return _specs(p, out)


def lr_specs(p: Profile, plan: StudyPlan, schedule: int) -> list[RunSpec]:
    lr = setting_lr(p)
    return _specs(p, [(experiment_of(p, "retinanet", "l1", "base", lr=lr * f, iters=schedule), p.seeds(plan.lr_seeds)) for f in plan.lr_factors])


def detector_schedule(p: Profile, detector: str, schedule: int) -> int:
    """A RetinaNet schedule of ``schedule`` iterations scaled to ``detector`` as the profile scales its settings
    (RetinaNet: ``schedule`` itself; Faster R-CNN runs shorter, 400 against 600 at the cpu profile)."""
    return int(round(schedule * setting_iters(p, detector) / setting_iters(p, "retinanet")))



def regime_arms(p: Profile, plan: StudyPlan, schedule: int, tuned_lr: float, cuts=()) -> list[tuple[str, Experiment, list]]:
    """``[(group, experiment, seeds)]`` of the regimes, most important first. Groups:
    ``paper``, ``control``, ``tuned``, ``faster``, ``detrend``."""
    paper_lr = plan.paper_factor * tuned_lr
    S = lambda n: p.seeds(plan.seeds(n))  # noqa: E731
    arms = []
    fixed_cut = StudyCut.FIXED_PAIRS in cuts
    for loss in plan.losses:  # ALWA against the lr control in the paper regime first
        for w, n in PAPER_ARMS[:3]:
            arms.append(("paper", experiment_of(p, "retinanet", loss, w, lr=paper_lr, iters=schedule), S(n)))
        arms.append(("control", experiment_of(p, "retinanet", loss, "base", lr=tuned_lr, iters=schedule), S(5)))
    fs = detector_schedule(p, "faster-rcnn", schedule)
    f_seeds = 2 if StudyCut.FASTER_2_SEEDS in cuts else 3
    for w, n in FASTER_ARMS:
        arms.append(("faster", experiment_of(p, "faster-rcnn", "l1", w, lr=plan.paper_factor * tuned_lr, iters=fs), S(f_seeds)))
    arms.append(("faster", experiment_of(p, "faster-rcnn", "l1", "base", lr=tuned_lr, iters=fs), S(f_seeds)))  # its lr control
    arms.append(("detrend", experiment_of(p, "retinanet", "l1", "alwa2", lr=paper_lr, iters=schedule, detrend=True), S(plan.detrend_seeds)))
    for loss in plan.losses:
        for w, n in PAPER_ARMS[3:]:
            if fixed_cut and w != "0.50:0.50":
                continue
            arms.append(("paper", experiment_of(p, "retinanet", loss, w, lr=paper_lr, iters=schedule), S(n)))
    for loss in plan.losses:
        if loss == "smoothl1" and StudyCut.SMOOTHL1_TUNED in cuts:
            continue
        for w, n in TUNED_ARMS:
            arms.append(("tuned", experiment_of(p, "retinanet", loss, w, lr=tuned_lr, iters=schedule), S(n)))
    return arms


def regime_specs(p: Profile, plan: StudyPlan, schedule: int, tuned_lr: float, cuts=()) -> list[RunSpec]:
    return _specs(p, [(e, seeds) for _, e, seeds in regime_arms(p, plan, schedule, tuned_lr, cuts)])


# ------------------------------------------------------------------ decisions from results
def decide(p: Profile, plan: StudyPlan, results: list[dict]) -> StudyState:
    """The stage the study is at, from its finished ``results`` (records with ``name``, ``seed``, ``mAP``)."""
    idx = RecordIndex(results)
    lr = setting_lr(p)
    base = lambda it, l=lr: experiment_of(p, "retinanet", "l1", "base", lr=l, iters=it)  # noqa: E731
    ladder = list(plan.ladder)
    means = {it: idx.mean(base(it), p.seeds(plan.calib_seeds)) for it in ladder}
    st = StudyState(stage="calibration")
    if any(means[it] is None for it in ladder):
        return st
    schedule = None
    for it in ladder:
        if 2 * it in means:
            st.schedule_gains[it] = means[2 * it] - means[it]
            if st.schedule_gains[it] < plan.converged_gain:
                schedule = it
                break
    if schedule is None and plan.extra_ladder:
        extra = {it: idx.mean(base(it), p.seeds(plan.calib_seeds)) for it in plan.extra_ladder}
        if any(v is None for v in extra.values()):
            st.stage = "calibration (extended)"
            return st
        means.update(extra)
        for it in plan.extra_ladder:
            if 2 * it in means:
                st.schedule_gains[it] = means[2 * it] - means[it]
                if st.schedule_gains[it] < plan.converged_gain and schedule is None:
                    schedule = it
    st.converged = schedule is not None
    spi = seconds_per_iter(idx.records)
    workers = p.workers
    done_keys = idx.keys()
    cost = lambda specs, spent: spent + estimate_h(specs, done_keys, spi, workers, DEFAULT_SPI)  # noqa: E731
    base_specs = calibration_specs(p, plan) + equivalence_specs(p, plan) + calibration_specs(p, plan, plan.extra_ladder)
    spent_h = idx.spent_h(workers, {s.key for s in base_specs})

    def fits(it: int) -> bool:  # with every allowed cut; the lr of the regimes does not change their cost
        return cost(lr_specs(p, plan, it) + regime_specs(p, plan, it, lr, CUTS), spent_h) <= plan.budget_h

    if schedule is None:  # not converged by the cap: the longest schedule tried (<= cap) whose plan fits the budget
        tried = sorted((it for it in means if it <= plan.cap), reverse=True)
        fitting = [it for it in tried if fits(it)]
        schedule = fitting[0] if fitting else tried[-1]
        st.schedule_reason = (f"not converged by {max(tried)} iterations (the cap is {plan.cap}); {schedule} is the longest schedule "
                              f"tried whose runs fit the {plan.budget_h:g} h budget" if fitting else
                              f"not converged, and no schedule tried fits the {plan.budget_h:g} h budget: the shortest, {schedule}")
    else:
        st.schedule_reason = f"doubling {schedule} iterations gains {100 * st.schedule_gains[schedule]:.2f} points (< {100 * plan.converged_gain:g})"
    st.schedule = schedule
    st.stage = "lr sweep"
    lr_means = {f: idx.mean(base(schedule, lr * f), p.seeds(plan.lr_seeds)) for f in plan.lr_factors}
    st.lr_means = {f"{lr * f:g}": m for f, m in lr_means.items()}
    best = LrRule.tuned({f: m for f, m in lr_means.items()})
    if best is None:
        return st
    st.tuned_lr = float(f"{lr * best:.6g}")
    st.stage = "regimes"
    spent_h += idx.spent_h(workers, {s.key for s in lr_specs(p, plan, schedule)} - {s.key for s in base_specs})
    cuts, specs = choose_cuts(CUTS, lambda c: regime_specs(p, plan, schedule, st.tuned_lr, c), done_keys,
                              lambda specs: cost(specs, spent_h), plan.budget_h)
    st.cuts, st.estimate_h = cuts, cost(specs, spent_h)
    return st


def all_specs(p: Profile, plan: StudyPlan, st: StudyState, cuts=None) -> list[RunSpec]:
    """Every spec the study needs as far as ``st`` decides (calibration and equivalence always)."""
    cuts = st.cuts if cuts is None else cuts
    specs = calibration_specs(p, plan) + equivalence_specs(p, plan)
    if st.stage == "calibration (extended)" or (st.schedule is not None and plan.extra_ladder and st.schedule_gains
                                                 and any(it in st.schedule_gains for it in plan.extra_ladder)):
        specs += calibration_specs(p, plan, plan.extra_ladder)
    if st.schedule is not None:
        specs += lr_specs(p, plan, st.schedule)
    if st.tuned_lr is not None:
        specs += regime_specs(p, plan, st.schedule, st.tuned_lr, cuts)
    return unique(specs)


def study_specs(p: Profile, results: list[dict]) -> tuple[StudyState, list[dict]]:
    plan = plan_for(p.profile)
    st = decide(p, plan, results)
    return st, all_specs(p, plan, st)


def is_complete(st: StudyState, todo: list) -> bool:
    """Whether the study is done: its last stage (the regimes) is planned and none of its runs is pending."""
    return st.stage == "regimes" and not todo


# ------------------------------------------------------------------ the declaration
class LrStudy:
    """The learning-rate study, declared for the engine's driver (:func:`alwa.runs.engine.drive`)."""

    name, folder, reads = "study", "runs", ()

    def __init__(self, plan: StudyPlan):
        self.plan = plan

    def decide(self, p: Profile, records: list, reused: list = ()) -> tuple[StudyState, list]:
        st = decide(p, self.plan, records)
        return st, all_specs(p, self.plan, st)

    def is_complete(self, st: StudyState, todo: list) -> bool:
        return is_complete(st, todo)

    def status_line(self, st: StudyState, n_specs: int, n_done: int) -> str:
        return (f"stage {st.stage}; {n_done} of {n_specs} runs done"
                + (f"; schedule {st.schedule} (converged: {st.converged})" if st.schedule else "")
                + (f"; tuned lr {st.tuned_lr:g}" if st.tuned_lr else "") + (f"; cuts {[str(c) for c in st.cuts]}" if st.cuts else ""))

    def chunk(self, workers: int) -> Optional[int]:
        return None  # every pending run of the stage at once


def run_study(p: Profile, out_dir, workers: Optional[int] = None, threads: Optional[int] = None, max_runs: Optional[int] = None,
              fn: Optional[str] = None, progress: bool = True, log=print):
    """Run the study stage by stage until every run it needs exists (or ``max_runs`` were started)."""
    return drive(LrStudy(plan_for(p.profile)), p, out_dir, workers, threads, max_runs, fn, progress, log)
