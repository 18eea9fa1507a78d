"""Analysis of the learning-rate study (:mod:`alwa.runs.study`): is ALWA more than a learning-rate change?

Each run is placed in a *regime* (its schedule and learning rate): ``short`` (the published cpu runs:
the profile's schedule and lr), ``tuned`` (the study's schedule, converged or the longest that fits the budget, at the tuned lr)
or ``paper`` (that schedule at twice the tuned lr: what 8 images per iteration at mmdetection's 16-image lr
mean). Every verdict is a paired difference over seeds with its 95 % t-interval (:mod:`alwa.analysis.stats`);
an interval spanning 0 reads "inconclusive".
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Optional

import numpy as np

from alwa.analysis import stats
from alwa.analysis.records import Claim, Comparison, PairedDiff, Status, Verdict, claims_of
from alwa.core.experiment import Experiment
from alwa.runs.profile import Profile
from alwa.runs.study import StudyPlan, StudyState, detector_schedule, experiment, regime_arms, setting_iters, setting_lr


@dataclass(frozen=True)
class Regime:
    name: str  # short | tuned | paper
    schedule: int  # RetinaNet iterations
    lr: float  # peak lr of the 1:1 arm
    control_lr: Optional[float]  # the lr control's lr (1:1 at the tuned lr), None where there is none


def regimes(p: Profile, st: StudyState, plan: StudyPlan) -> list[Regime]:
    out = [Regime("short", setting_iters(p), setting_lr(p), None)]
    if st.tuned_lr is not None:
        out += [Regime("tuned", st.schedule, st.tuned_lr, st.tuned_lr),
                Regime("paper", st.schedule, plan.paper_factor * st.tuned_lr, st.tuned_lr)]
    return out


def _vals(records: Iterable[dict]) -> dict:
    out: dict = defaultdict(dict)
    for r in records:
        v = r.get("mAP")
        if v is not None and math.isfinite(v):
            out[r["name"]][int(r["seed"])] = float(v)
    return out


def step_size(record: dict) -> Optional[float]:
    """The classification step size of a run: the mean over iterations of (classification weight x lr).

    The weight is ALWA's weight of each iteration (1 in monitor mode) times the fixed loss weight of a
    fixed-weight run (mmdet's ``loss_weight``)."""
    pi = record.get("per_iter") or {}
    lr = np.asarray(pi.get("lr") or [], float)
    if lr.size == 0:
        return None
    w = np.asarray(pi.get("cls_weight") or [1.0] * lr.size, float)[: lr.size]
    exp = Experiment.parse(record["name"])
    fixed = exp.cls_weight if exp.weighting == "fixed" else 1.0
    return float(np.mean(w * fixed * lr[: w.size]))


def _lr_iters(p: Profile, exp: Experiment) -> tuple[float, int]:
    """The peak lr and the schedule a run of ``exp`` had (the setting's where its name leaves them out)."""
    return (exp.lr or setting_lr(p, exp.detector), exp.iters or setting_iters(p, exp.detector))


def regime_of(name: str, p: Profile, regs: list[Regime]) -> Optional[str]:
    """The regime a run belongs to (its schedule and peak lr), or None (equivalence and calibration runs)."""
    exp = Experiment.parse(name)
    if not exp.clip:
        return None
    lr, iters = _lr_iters(p, exp)
    for r in regs:
        if r.name == "short":
            continue
        if iters == detector_schedule(p, exp.detector, r.schedule) and math.isclose(lr, r.lr):
            return r.name
    return "short" if exp.iters is None and exp.lr is None else None


def step_rows(records: Iterable[dict], p: Profile, regs: list[Regime]) -> list[dict]:
    """One row per run of a regime: regime, detector, loss, weighting, seed, mAP and step size (figure (a))."""
    rows = []
    tuned = next((r for r in regs if r.name == "tuned"), None)
    for rec in records:
        exp = Experiment.parse(rec["name"])
        reg = regime_of(rec["name"], p, regs)
        is_control = (tuned is not None and exp.weighting == "base" and exp.lr is not None
                      and math.isclose(exp.lr, tuned.lr) and exp.iters == detector_schedule(p, exp.detector, tuned.schedule))
        if reg is None:
            continue
        s = step_size(rec)
        rows.append({"regime": reg, "detector": exp.detector, "loss": exp.reg_loss, "weighting": exp.weighting,
                     "arm": "lr control" if is_control else ("fixed " + f"{exp.cls_weight:g}:{exp.reg_weight:g}" if exp.weighting == "fixed"
                                                              else exp.weighting), "name": rec["name"], "seed": int(rec["seed"]),
                     "mAP": rec.get("mAP"), "step_size": s})
    return rows


def _diff_row(label: str, a: dict, b: dict, **context) -> Comparison:
    return Comparison(label, stats.paired_diff(a, b), **context)


def equivalence_table(records: Iterable[dict], p: Profile, plan: StudyPlan) -> list[Comparison]:
    """k:k at lr/k against 1:1 at lr, with and without clipping, on the profile's schedule, paired by seed."""
    vals, lr = _vals(records), setting_lr(p)
    rows = []
    for clip in (True, False):
        base = experiment(p, "retinanet", "l1", "base", lr, clip=clip).name
        for k in plan.equivalence_k:
            arm = experiment(p, "retinanet", "l1", f"{k:.2f}:{k:.2f}", lr / k, clip=clip).name
            rows.append(_diff_row(f"{k:g}:{k:g} at lr {lr / k:g} minus 1:1 at lr {lr:g}", vals.get(arm, {}), vals.get(base, {}),
                                  clipping="on (max norm 10)" if clip else "off", k=k))
    return rows


def _pool(vals: dict, pairs: list[tuple[str, str]]) -> tuple[dict, dict]:
    a, b = {}, {}
    for arm, ctl in pairs:
        x, y = vals.get(arm, {}), vals.get(ctl, {})
        for s in set(x) & set(y):
            a[(arm, s)], b[(arm, s)] = x[s], y[s]
    return a, b


def alwa_vs_control(records: Iterable[dict], p: Profile, plan: StudyPlan, st: StudyState) -> list[Comparison]:
    """(d): ALWA-1 / ALWA-2 minus the lr control (1:1 at the tuned lr) per regime and detector, pooled over
    the regression losses, and ALWA minus 1:1 at the regime's own lr. In the paper regime also the fixed 0.5:0.5
    (a global weight of 0.5 at twice the tuned lr: the tuned lr in all but name) and ALWA-2 with the trend-free
    statistic (L1), each minus the lr control. Paired by seed (and loss)."""
    if st.tuned_lr is None:
        return []
    vals = _vals(records)
    rows = []
    for reg in regimes(p, st, plan)[1:]:
        for det, losses in (("retinanet", plan.losses), ("faster-rcnn", ("l1",))):
            if det == "faster-rcnn" and reg.name != "paper":
                continue
            sched = detector_schedule(p, det, st.schedule)
            for w in ("alwa1", "alwa2"):
                arm = {loss: experiment(p, det, loss, w, reg.lr, sched).name for loss in losses}
                ctl = {loss: experiment(p, det, loss, "base", st.tuned_lr, sched).name for loss in losses}
                same = {loss: experiment(p, det, loss, "base", reg.lr, sched).name for loss in losses}
                a, b = _pool(vals, [(arm[loss], ctl[loss]) for loss in losses])
                rows.append(_diff_row(f"{w} minus lr control", a, b, regime=reg.name, detector=det))
                if reg.name == "paper":
                    a, b = _pool(vals, [(arm[loss], same[loss]) for loss in losses])
                    rows.append(_diff_row(f"{w} minus 1:1 at the same lr", a, b, regime=reg.name, detector=det))
        if reg.name == "paper":  # the linearly scaled lr, as a loss weight: does a fixed 0.5 do what the lr control does?
            half = [(experiment(p, "retinanet", loss, "0.50:0.50", reg.lr, st.schedule).name,
                     experiment(p, "retinanet", loss, "base", st.tuned_lr, st.schedule).name) for loss in plan.losses]
            rows.append(_diff_row("0.5:0.5 minus lr control", *_pool(vals, half), regime="paper", detector="retinanet"))
            det_arm = {loss: experiment(p, "retinanet", loss, "alwa2", reg.lr, st.schedule, detrend=True).name for loss in ("l1",)}
            ctl = {loss: experiment(p, "retinanet", loss, "base", st.tuned_lr, st.schedule).name for loss in ("l1",)}
            a, b = _pool(vals, [(det_arm["l1"], ctl["l1"])])
            rows.append(_diff_row("alwa2 (trend-free statistic) minus lr control", a, b, regime="paper", detector="retinanet"))
    return rows


def fmt_comparison(r: Optional[Comparison]) -> str:
    """'-7.5 points [-14.0, -1.0], n = 10, worse'; 'not run yet' for a missing row or one without pairs."""
    if r is None or not r.diff.n or not math.isfinite(r.diff.mean):
        return "not run yet"
    ci = f" [{100 * r.diff.lo:+.1f}, {100 * r.diff.hi:+.1f}]" if math.isfinite(r.diff.lo) else ""
    return f"{100 * r.diff.mean:+.1f} points{ci}, n = {r.diff.n}, {r.verdict}"


def find(rows: Iterable[Comparison], label: str, regime: str, detector: str = "retinanet") -> Optional[Comparison]:
    return next((r for r in rows if (r.label, r.regime, r.detector) == (label, regime, detector)), None)


def answer(rows: list[Comparison]) -> str:
    """The study's answer to "does ALWA do more than lower the learning rate?", in two sentences, from the rows of
    :func:`alwa_vs_control` (RetinaNet, ALWA-1 and ALWA-2 minus the lr control in the tuned and paper regimes, and the
    paper regime's fixed 0.5:0.5 minus the lr control). The wording follows the verdicts; the numbers are the rows'."""
    found = [(f"ALWA-{w} in the {reg} regime", find(rows, f"alwa{w} minus lr control", reg)) for reg in ("paper", "tuned") for w in (1, 2)]
    named = [(n, r) for n, r in found if r is not None and r.diff.n]
    if not named:
        return "No ALWA run has an lr-control run on the same seeds yet: the study gives no answer so far."
    ctl = [r for _, r in named]
    better = [n for n, r in named if r.verdict == "better"]
    worse = [r for r in ctl if r.verdict == "worse"]
    nums = "; ".join(f"{n} {fmt_comparison(r)}" for n, r in named)
    if better:
        first = (f"Yes, in part: {' and '.join(better)} beat{'s' if len(better) == 1 else ''} the lr control "
                 f"(1:1 at the tuned lr) on RetinaNet ({nums}).")
    elif worse:
        first = ("No: ALWA never beats the lr control (1:1 at the tuned lr) on RetinaNet, and in "
                 + (("both comparisons" if len(ctl) == 2 else f"all {len(ctl)} comparisons") if len(worse) == len(ctl) else f"{len(worse)} of its {len(ctl)} comparisons")
                 + f" it ends below it ({nums}).")
    else:
        first = f"Not told apart: no comparison of ALWA with the lr control (1:1 at the tuned lr) on RetinaNet is conclusive ({nums})."
    half = find(rows, "0.5:0.5 minus lr control", "paper")
    if half is None or not half.diff.n:
        return first
    lead = " A fixed 0.5:0.5 at the paper regime's lr, the tuned lr in all but name, "
    if half.verdict != "inconclusive":
        return first + lead + f"ends {half.verdict} than the control ({fmt_comparison(half)}): there a global loss weight is not just a learning rate."
    both = all(find(rows, f"{w} minus lr control", "paper") in worse for w in ("alwa1", "alwa2"))
    return (first + lead + f"is not told apart from the control ({fmt_comparison(half)}): there a global weight of 0.5 is, within "
            "that interval, the same as halving the learning rate" + (", while both ALWA variants end below the control." if both else "."))


@dataclass(frozen=True)
class ArmMean:
    """The mean mAP (a fraction) of one planned arm of the regimes over its finished seeds, with its 95 % t-interval
    (NaN below 2 seeds). ``group``: the plan's group (``paper``, ``control``, ``tuned``, ``faster``, ``detrend``);
    ``weighting``: the arm's weighting tag as in run names (``base``, ``w0.50-0.50``, ``alwa2``, ...)."""

    group: str
    detector: str
    reg_loss: str
    weighting: str
    lr: float
    iters: int
    n_planned: int
    n: int
    mean: float
    lo: float
    hi: float

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def arm_means(records: Iterable[dict], p: Profile, plan: StudyPlan, st: StudyState) -> list[ArmMean]:
    """Every planned arm of the regimes, in the plan's order, with its mean mAP over the seeds that have finished."""
    if st.tuned_lr is None:
        return []
    vals = _vals(records)
    out = []
    for group, exp, seeds in regime_arms(p, plan, st.schedule, st.tuned_lr, st.cuts):
        got = vals.get(exp.name, {})
        ci = stats.mean_ci([got[s] for s in seeds if s in got])
        lr, iters = _lr_iters(p, exp)
        out.append(ArmMean(group, exp.detector, exp.reg_loss, exp.weighting_tag, float(lr), int(iters), len(seeds),
                           ci["n"], ci["mean"], ci["lo"], ci["hi"]))
    return out


def weight_windows(records: Iterable[dict], p: Profile, regs: list[Regime]) -> list[dict]:
    """(b): ALWA's classification weight after each window, per run (window 1 = the warm-up)."""
    out = []
    for r in records:
        exp = Experiment.parse(r["name"])
        if exp.weighting not in ("alwa1", "alwa2"):
            continue
        reg = regime_of(r["name"], p, regs)
        if reg is None:
            continue
        traj = r.get("weight_trajectory") or []
        out.append({"regime": reg, "name": r["name"], "seed": int(r["seed"]), "weights": [exp.cls_weight, *traj]})
    return out


def regime_claims(records: Iterable[dict], p: Profile, plan: StudyPlan, st: StudyState, published: dict) -> dict:
    """{claim: {regime: {"ours": text, "status": ...}}} for C3, C6, C7, C9, C11; ``short`` is the published verdict."""
    vals = _vals(records)
    published = claims_of(published)
    out = {c: {"short": {"ours": published[c].ours, "status": published[c].status} if c in published else
                         {"ours": "not run", "status": Status.NOT_RUN}} for c in ("C3", "C6", "C7", "C9", "C11")}
    if st.tuned_lr is None:
        for c in out:
            for reg in ("tuned", "paper"):
                out[c][reg] = {"ours": f"the study is at stage '{st.stage}'", "status": Status.NOT_RUN_YET}
        return _typed(out)
    for reg in regimes(p, st, plan)[1:]:
        below = [w for w in ("0.50:0.50", "0.25:0.25", "0.50:0.75")]
        pairs = [(experiment(p, "retinanet", loss, w, reg.lr, st.schedule).name, experiment(p, "retinanet", loss, "base", reg.lr, st.schedule).name)
                 for loss in plan.losses for w in below]
        d = stats.paired_diff(*_pool(vals, pairs))
        out["C3"][reg.name] = {"ours": stats.fmt_pts("weights below 1 minus 1:1", d), "status": _status(d)}
        for cid, det, losses in (("C6", "retinanet", plan.losses), ("C7", "faster-rcnn", ("l1",))):
            if det == "faster-rcnn" and reg.name != "paper":
                out[cid][reg.name] = {"ours": "not run in this regime", "status": Status.NOT_RUN}
                continue
            sched = detector_schedule(p, det, st.schedule)
            parts, sts = [], []
            for w in ("alwa1", "alwa2"):
                d = stats.paired_diff(*_pool(vals, [(experiment(p, det, loss, w, reg.lr, sched).name,
                                                     experiment(p, det, loss, "base", reg.lr, sched).name) for loss in losses]))
                parts.append(stats.fmt_pts(w, d))
                sts.append(_status(d))
            out[cid][reg.name] = {"ours": "; ".join(parts), "status": Status.SUPPORTED if Status.SUPPORTED in sts else (
                Status.NOT_SUPPORTED if all(s == Status.NOT_SUPPORTED for s in sts) else sts[0] if len(set(sts)) == 1 else Status.INCONCLUSIVE)}
        out["C9"][reg.name] = {"ours": "the ablations of C and of the initial weight were not run in this regime", "status": Status.NOT_RUN}
        r1 = stats.paired_diff(*_pool(vals, [(experiment(p, "retinanet", loss, "alwa2", reg.lr, st.schedule).name,
                                              experiment(p, "retinanet", loss, "alwa1", reg.lr, st.schedule).name) for loss in plan.losses]))
        out["C11"][reg.name] = {"ours": stats.fmt_pts("RetinaNet ALWA-2 minus ALWA-1", r1), "status": _status(r1)}
    return _typed(out)


def _typed(out: dict) -> dict:
    return {c: {reg: Claim.from_dict(c, v) for reg, v in by.items()} for c, by in out.items()}


def _status(d: PairedDiff) -> Status:
    return {Verdict.BETTER: Status.SUPPORTED, Verdict.WORSE: Status.NOT_SUPPORTED, Verdict.NO_CLEAR_DIFFERENCE: Status.INCONCLUSIVE,
            Verdict.TOO_FEW_SEEDS: Status.TOO_FEW_RUNS}[d.verdict]
