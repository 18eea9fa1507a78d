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
that would drop a run which has already finished is not taken (nor any after it): the estimate can move
between resumes as run times are measured, but a resumed study never loses a finished run from its plan.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Optional

from alwa.core.experiment import Experiment, RunRecord, RunSpec, run_key
from alwa.runs.profile import Profile
from alwa.runs.specs import experiment_of, make_spec
from alwa.runs.store import load_results, pending, spec_key
from alwa.runs.sweep import run_sweep
from alwa.runs.worker import DEFAULT_FN

PAPER_ARMS = (("base", 5), ("alwa1", 5), ("alwa2", 5), ("0.50:0.50", 3), ("0.25:0.25", 3), ("0.50:0.75", 3))
TUNED_ARMS = (("base", 5), ("0.50:0.50", 5), ("alwa1", 5), ("alwa2", 5))
FASTER_ARMS = (("base", 3), ("alwa1", 3), ("alwa2", 3))
CUTS = ("smoothl1 in the tuned regime", "0.25:0.25 and 0.5:0.75", "Faster R-CNN to 2 seeds")


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
        return asdict(self)


# ------------------------------------------------------------------ names and specs
def setting_lr(p: Profile, detector: str = "retinanet") -> float:
    return p.mini_setting(detector).lr


def setting_iters(p: Profile, detector: str = "retinanet") -> int:
    return p.mini_setting(detector).iters


def _specs(p: Profile, exps_seeds) -> list[RunSpec]:
    out, seen = [], set()
    for exp, seeds in exps_seeds:
        for seed in seeds:
            if (exp, seed) not in seen:
                seen.add((exp, seed))
                out.append(make_spec(p, exp, seed))
    return out


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
    fixed_cut = "0.25:0.25 and 0.5:0.75" in cuts
    for loss in plan.losses:  # ALWA against the lr control in the paper regime first
        for w, n in PAPER_ARMS[:3]:
            arms.append(("paper", experiment_of(p, "retinanet", loss, w, lr=paper_lr, iters=schedule), S(n)))
        arms.append(("control", experiment_of(p, "retinanet", loss, "base", lr=tuned_lr, iters=schedule), S(5)))
    fs = detector_schedule(p, "faster-rcnn", schedule)
    f_seeds = 2 if "Faster R-CNN to 2 seeds" in cuts else 3
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
        if loss == "smoothl1" and "smoothl1 in the tuned regime" in cuts:
            continue
        for w, n in TUNED_ARMS:
            arms.append(("tuned", experiment_of(p, "retinanet", loss, w, lr=tuned_lr, iters=schedule), S(n)))
    return arms


def regime_specs(p: Profile, plan: StudyPlan, schedule: int, tuned_lr: float, cuts=()) -> list[RunSpec]:
    return _specs(p, [(e, seeds) for _, e, seeds in regime_arms(p, plan, schedule, tuned_lr, cuts)])


# ------------------------------------------------------------------ decisions from results
def _mean_map(results_by_key: dict, p: Profile, exp: Experiment, n: int) -> Optional[float]:
    vals = [results_by_key.get(run_key(exp.name, s), {}).get("mAP") for s in p.seeds(n)]
    if any(v is None or not math.isfinite(v) for v in vals):
        return None
    return sum(vals) / len(vals)


def seconds_per_iter(results: list[dict]) -> dict:
    """Mean wall seconds per training iteration of finished runs, per detector (data, training, test)."""
    acc: dict = {}
    for r in map(RunRecord.of, results):
        if r.get("wall_seconds") and r.get("iters"):
            acc.setdefault(r.experiment.detector, []).append(r["wall_seconds"] / r["iters"])
    return {d: sum(v) / len(v) for d, v in acc.items()}


def estimate_h(specs: list[dict], done_keys: set, spi: dict, workers: int) -> float:
    """Wall hours of the pending ``specs`` with ``workers`` workers at seconds-per-iteration ``spi``."""
    total = 0.0
    for s in specs:
        if spec_key(s) in done_keys:
            continue
        exp = s.experiment
        it = exp.iters or int((s.get("setting") or {}).get("iters", 700))
        total += it * spi.get(exp.detector, spi.get("retinanet", 0.36) * 1.5)
    return total / max(1, workers) / 3600


def decide(p: Profile, plan: StudyPlan, results: list[dict]) -> StudyState:
    """The stage the study is at, from its finished ``results`` (records with ``name``, ``seed``, ``mAP``)."""
    by = {r.key: r for r in map(RunRecord.of, results)}
    lr = setting_lr(p)
    base = lambda it, l=lr: experiment_of(p, "retinanet", "l1", "base", lr=l, iters=it)  # noqa: E731
    ladder = list(plan.ladder)
    means = {it: _mean_map(by, p, base(it), plan.calib_seeds) for it in ladder}
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
        extra = {it: _mean_map(by, p, base(it), plan.calib_seeds) for it in plan.extra_ladder}
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
    spi = seconds_per_iter(results)
    workers = p.workers
    done_keys = set(by)
    base_specs = calibration_specs(p, plan) + equivalence_specs(p, plan) + calibration_specs(p, plan, plan.extra_ladder)
    spent_h = sum(by[k].get("wall_seconds", 0.0) for k in {spec_key(s) for s in base_specs} if k in by) / max(1, workers) / 3600

    def fits(it: int) -> bool:  # with every allowed cut; the lr of the regimes does not change their cost
        todo = lr_specs(p, plan, it) + regime_specs(p, plan, it, lr, CUTS)
        return spent_h + estimate_h(todo, done_keys, spi, workers) <= plan.budget_h

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
    lr_means = {f: _mean_map(by, p, base(schedule, lr * f), plan.lr_seeds) for f in plan.lr_factors}
    st.lr_means = {f"{lr * f:g}": m for f, m in lr_means.items()}
    if any(m is None for m in lr_means.values()):
        return st
    best = max(lr_means, key=lambda f: lr_means[f])
    st.tuned_lr = float(f"{lr * best:.6g}")
    st.stage = "regimes"
    spent_h += sum(by[k].get("wall_seconds", 0.0) for k in {spec_key(s) for s in lr_specs(p, plan, schedule)}
                   - {spec_key(s) for s in base_specs} if k in by) / max(1, workers) / 3600
    cuts: list = []
    specs = regime_specs(p, plan, schedule, st.tuned_lr, cuts)
    est = estimate_h(specs, set(by), spi, workers)
    for i in range(1, len(CUTS) + 1):
        if spent_h + est <= plan.budget_h:
            break
        fewer = regime_specs(p, plan, schedule, st.tuned_lr, CUTS[:i])
        if ({spec_key(s) for s in specs} - {spec_key(s) for s in fewer}) & set(by):  # it would drop finished runs
            break
        cuts, specs = list(CUTS[:i]), fewer
        est = estimate_h(specs, set(by), spi, workers)
    st.cuts, st.estimate_h = cuts, spent_h + est
    return st


def _study_keys(p: Profile, plan: StudyPlan, st: StudyState, cuts) -> list[str]:
    return [spec_key(s) for s in all_specs(p, plan, st, cuts)]


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
    seen, out = set(), []
    for s in specs:
        k = s.key
        if k not in seen:
            seen.add(k)
            out.append(s)
    return out


def study_specs(p: Profile, results: list[dict]) -> tuple[StudyState, list[dict]]:
    plan = plan_for(p.profile)
    st = decide(p, plan, results)
    return st, all_specs(p, plan, st)


def is_complete(st: StudyState, todo: list) -> bool:
    """Whether the study is done: its last stage (the regimes) is planned and none of its runs is pending."""
    return st.stage == "regimes" and not todo


# ------------------------------------------------------------------ the driver
def run_study(p: Profile, out_dir, workers: Optional[int] = None, threads: Optional[int] = None, max_runs: Optional[int] = None,
              fn: Optional[str] = None, progress: bool = True, log=print) -> StudyState:
    """Run the study stage by stage until every run it needs exists (or ``max_runs`` were started)."""
    started = 0
    while True:
        st, specs = study_specs(p, load_results(out_dir))
        todo = pending(specs, out_dir)
        log(f"study: stage {st.stage}; {len(specs) - len(todo)} of {len(specs)} runs done"
            + (f"; schedule {st.schedule} (converged: {st.converged})" if st.schedule else "")
            + (f"; tuned lr {st.tuned_lr:g}" if st.tuned_lr else "") + (f"; cuts {st.cuts}" if st.cuts else ""))
        if not todo or (max_runs is not None and started >= max_runs):
            return st
        left = None if max_runs is None else max_runs - started
        summary = run_sweep(specs, out_dir, workers=workers or p.workers, threads=threads or p.threads,
                            devices=p.devices, fn=fn or DEFAULT_FN, progress=progress, desc=f"study: {st.stage}", max_runs=left)
        started += len(summary["done"]) + len(summary["failed"])
        if summary["failed"]:
            log(f"study: {len(summary['failed'])} run(s) failed: {summary['failed']}; stopping (rerun to retry)")
            return st
