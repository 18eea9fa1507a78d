"""Analysis of the learning-rate study (:mod:`alwa.runs.study`): is ALWA more than a learning-rate change?

Each run is placed in a *regime* (its schedule and learning rate): ``short`` (the published cpu runs:
the profile's schedule and lr), ``tuned`` (the study's schedule, converged or the longest that fits the budget, at the tuned lr)
or ``paper`` (that schedule at twice the tuned lr: what 8 images per iteration at mmdetection's 16-image lr
mean). Every verdict is a paired difference over seeds with its 95 % t-interval (:mod:`alwa.core.stats`);
an interval spanning 0 reads "inconclusive".
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Optional

import numpy as np

from alwa.core import stats
from alwa.core.stats import min_detectable_effect, paired_records_diff
from alwa.analysis.records import Claim, Comparison, PairedDiff, Status, Verdict, claims_of, combined_status, verdict_status
from alwa.analysis.summaries import by_experiment
from alwa.core.experiment import Experiment, RunRecord
from alwa.runs.profile import Profile
from alwa.runs.specs import LOSS_NAMES, experiment_of
from alwa.runs.study import StudyPlan, StudyState, detector_schedule, regime_arms, setting_iters, setting_lr


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


def step_size(record: dict) -> Optional[float]:
    """The classification step size of a run: the mean over iterations of (classification weight x lr).

    The weight is ALWA's weight of each iteration (1 in monitor mode) times the fixed loss weight of a
    fixed-weight run (mmdet's ``loss_weight``)."""
    pi = record.get("per_iter") or {}
    lr = np.asarray(pi.get("lr") or [], float)
    if lr.size == 0:
        return None
    w = np.asarray(pi.get("cls_weight") or [1.0] * lr.size, float)[: lr.size]
    exp = RunRecord.of(record).experiment
    fixed = exp.cls_weight if exp.weighting == "fixed" else 1.0
    return float(np.mean(w * fixed * lr[: w.size]))


def _lr_iters(p: Profile, exp: Experiment) -> tuple[float, int]:
    """The peak lr and the schedule a run of ``exp`` had (the setting's where its name leaves them out)."""
    return (exp.lr or setting_lr(p, exp.detector), exp.iters or setting_iters(p, exp.detector))


def regime_of(exp: Experiment, p: Profile, regs: list[Regime]) -> Optional[str]:
    """The regime a run of ``exp`` belongs to (its schedule and peak lr), or None (equivalence and calibration runs)."""
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
    for rec in map(RunRecord.of, records):
        exp = rec.experiment
        reg = regime_of(exp, p, regs)
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


def _pool(recs: dict, pairs: list[tuple[Experiment, Experiment]]) -> tuple[dict, dict]:
    """{(arm, seed): record} of each side over the (arm, control) ``pairs`` (several: pooled), by seed."""
    a, b = {}, {}
    for arm, ctl in pairs:
        x, y = recs.get(arm, {}), recs.get(ctl, {})
        for s in set(x) & set(y):
            a[(arm, s)], b[(arm, s)] = x[s], y[s]
    return a, b


def _pooled_diff(recs: dict, pairs: list[tuple[Experiment, Experiment]]) -> PairedDiff:
    """The paired difference over the pooled ``pairs``, each seed kept only where both runs started from the same
    state (:func:`alwa.core.pairing.pairing`)."""
    return paired_records_diff(*_pool(recs, pairs))[0]


def _recs(records: Iterable[dict]) -> dict:
    """{Experiment: {seed: record}} of the records with a finite mAP."""
    out: dict = defaultdict(dict)
    for r in map(RunRecord.of, records):
        v = r.get("mAP")
        if isinstance(v, (int, float)) and math.isfinite(v):
            out[r.experiment][r.seed] = r
    return out


def _paired_row(method: str, baseline: str, recs: dict, pairs: list[tuple[str, str]], **context) -> Comparison:
    """``method`` minus ``baseline`` over the (method name, baseline name) ``pairs`` (several: pooled), each seed
    kept only where both runs started from the same state (:func:`alwa.core.pairing.pairing`); the dropped seeds
    are counted and the minimum detectable effect of what is left is computed."""
    a, b = _pool(recs, pairs)
    d, pr = paired_records_diff(a, b)
    diffs = [float(a[k]["mAP"]) - float(b[k]["mAP"]) for k in pr.seeds]
    sd = float(np.std(diffs, ddof=1)) if len(diffs) > 1 else math.nan
    return Comparison(method, baseline, d, dropped=len(pr.dropped), mde=min_detectable_effect(sd, len(diffs)), **context)


LR_CONTROL, SAME_LR = "lr control", "1:1 at the same lr"  # the baselines of the rows of alwa_vs_control
HALF, DETREND = "0.5:0.5", "alwa2 (trend-free statistic)"  # two of its method arms besides alwa1 / alwa2


def equivalence_table(records: Iterable[dict], p: Profile, plan: StudyPlan) -> list[Comparison]:
    """k:k at lr/k against 1:1 at lr, with and without clipping, on the profile's schedule, paired by seed where
    both runs started from the same state (the rows say how many seeds were dropped)."""
    recs, lr = _recs(records), setting_lr(p)
    rows = []
    for clip in (True, False):
        base = experiment_of(p, "retinanet", "l1", "base", lr=lr, clip=clip)
        for k in plan.equivalence_k:
            arm = experiment_of(p, "retinanet", "l1", f"{k:.2f}:{k:.2f}", lr=lr / k, clip=clip)
            rows.append(_paired_row(f"{k:g}:{k:g} at lr {lr / k:g}", f"1:1 at lr {lr:g}", recs, [(arm, base)],
                                    clipping="on (max norm 10)" if clip else "off", k=k, loss="l1"))
    return rows


def alwa_vs_control(records: Iterable[dict], p: Profile, plan: StudyPlan, st: StudyState) -> list[Comparison]:
    """(d): ALWA-1 / ALWA-2 minus the lr control (1:1 at the tuned lr) per regime, detector and regression loss,
    with a pooled row beside the per-loss rows it pools; and ALWA minus 1:1 at the regime's own lr. In the paper
    regime also the fixed 0.5:0.5 (a global weight of 0.5 at twice the tuned lr: with SGD, momentum and a clipping
    that does not bind, 1:1 at the tuned lr with the weight decay doubled) and ALWA-2 with the trend-free statistic
    (L1), each minus the lr control. Every row pairs only seeds whose runs started from the same state and says
    how many it dropped and what it could detect."""
    if st.tuned_lr is None:
        return []
    recs = _recs(records)
    rows = []

    def per_loss(method, baseline, losses, arm_of, ctl_of, **ctx):
        for loss in losses:
            rows.append(_paired_row(method, baseline, recs, [(arm_of(loss), ctl_of(loss))], loss=loss, **ctx))
        if len(losses) > 1:
            rows.append(_paired_row(method, baseline, recs, [(arm_of(loss), ctl_of(loss)) for loss in losses], loss="pooled", **ctx))

    for reg in regimes(p, st, plan)[1:]:
        for det, losses in (("retinanet", plan.losses), ("faster-rcnn", ("l1",))):
            if det == "faster-rcnn" and reg.name != "paper":
                continue
            sched = detector_schedule(p, det, st.schedule)
            for w in ("alwa1", "alwa2"):
                arm = lambda loss, w=w: experiment_of(p, det, loss, w, lr=reg.lr, iters=sched)  # noqa: E731
                per_loss(w, LR_CONTROL, losses, arm, lambda loss: experiment_of(p, det, loss, "base", lr=st.tuned_lr, iters=sched),
                         regime=reg.name, detector=det)
                if reg.name == "paper":
                    per_loss(w, SAME_LR, losses, arm,
                             lambda loss: experiment_of(p, det, loss, "base", lr=reg.lr, iters=sched), regime=reg.name, detector=det)
        if reg.name == "paper":
            per_loss(HALF, LR_CONTROL, plan.losses,
                     lambda loss: experiment_of(p, "retinanet", loss, "0.50:0.50", lr=reg.lr, iters=st.schedule),
                     lambda loss: experiment_of(p, "retinanet", loss, "base", lr=st.tuned_lr, iters=st.schedule), regime="paper", detector="retinanet")
            per_loss(DETREND, LR_CONTROL, ("l1",),
                     lambda loss: experiment_of(p, "retinanet", loss, "alwa2", lr=reg.lr, iters=st.schedule, detrend=True),
                     lambda loss: experiment_of(p, "retinanet", loss, "base", lr=st.tuned_lr, iters=st.schedule), regime="paper", detector="retinanet")
    return rows


def fmt_comparison(r: Optional[Comparison]) -> str:
    """'-7.5 points [-14.0, -1.0], n = 10, worse'; 'not run yet' for a missing row or one without pairs."""
    if r is None or not r.diff.n or not math.isfinite(r.diff.mean):
        return "not run yet" if r is None or not r.dropped else f"no true pair ({r.dropped} dropped: initial states differ)"
    ci = f" [{100 * r.diff.lo:+.1f}, {100 * r.diff.hi:+.1f}]" if math.isfinite(r.diff.lo) else ""
    return f"{100 * r.diff.mean:+.1f} points{ci}, n = {r.diff.n}, {r.verdict}"


def find(rows: Iterable[Comparison], method: str, baseline: str, regime: str, detector: str = "retinanet",
         loss: str = "pooled") -> Optional[Comparison]:
    """The row of ``method`` minus ``baseline`` in ``regime`` for ``detector`` and ``loss`` (default: the pooled row,
    or the only row where the detector ran one loss)."""
    hits = [r for r in rows if (r.method, r.baseline, r.regime, r.detector) == (method, baseline, regime, detector)]
    return next((r for r in hits if r.loss == loss), hits[0] if len(hits) == 1 else None)



ARM_WORDS = {"alwa1": "ALWA-1", "alwa2": "ALWA-2"}


def answer(rows: list[Comparison]) -> str:
    """The study's answer to "does ALWA do more than lower the learning rate?", per regression loss, from the rows of
    :func:`alwa_vs_control` (RetinaNet, ALWA-1 and ALWA-2 minus the lr control in the tuned and paper regimes), with
    what the design could detect. The wording follows the verdicts; the numbers are the rows'."""
    per = [r for r in rows if r.detector == "retinanet" and r.loss not in (None, "pooled")
           and r.method in ARM_WORDS and r.baseline == LR_CONTROL and r.regime in ("tuned", "paper")]
    named = [r for r in per if r.diff.n]
    if not named:
        return "No ALWA run has an lr-control run on the same seeds yet: the study gives no answer so far."

    def name(r):
        return f"{ARM_WORDS[r.method]} ({LOSS_NAMES.get(r.loss, r.loss)}, {r.regime} regime)"

    better = [name(r) for r in named if r.verdict == Verdict.BETTER]
    worse = [name(r) for r in named if r.verdict == Verdict.WORSE]
    unclear = [name(r) for r in named if r.verdict not in (Verdict.BETTER, Verdict.WORSE)]
    nums = "; ".join(f"{name(r)} {fmt_comparison(r)}" for r in named)
    parts = []
    if better:
        parts.append(f"{', '.join(better)} end{'s' if len(better) == 1 else ''} above the lr control")
    if worse:
        parts.append(f"{', '.join(worse)} end{'s' if len(worse) == 1 else ''} below it")
    if unclear:
        parts.append(f"{', '.join(unclear)} {'is' if len(unclear) == 1 else 'are'} not told apart from it")
    first = (("Yes, in part: " if better else "No: ALWA never beats the lr control (1:1 at the tuned lr) on RetinaNet; per loss, "
              if worse or unclear else "") + "; ".join(parts) + f" ({nums}).")
    mdes = [r.mde for r in named if math.isfinite(r.mde)]
    dropped = sum(r.dropped for r in per)
    limits = (f" With {min(r.diff.n for r in named)}-{max(r.diff.n for r in named)} paired seeds per comparison these rows could "
              f"only detect differences of {100 * min(mdes):.1f}-{100 * max(mdes):.1f} points (80 % power), so a +1 point effect, "
              "the size the paper reports, is neither shown nor excluded where a row is not told apart" if mdes else "")
    if dropped:
        limits += f"; {dropped} seed(s) were left out because their two runs did not start from the same state"
    text = first + (limits + "." if limits else "")
    halves = [r for r in rows if (r.method, r.baseline) == (HALF, LR_CONTROL) and r.loss not in (None, "pooled")]
    if not any(r.diff.n or r.dropped for r in halves):
        return text
    told = "; ".join(f"{LOSS_NAMES.get(r.loss, r.loss)} {fmt_comparison(r)}" for r in halves)
    return (text + " A fixed 0.5:0.5 at the paper regime's lr (twice the tuned lr) is, with SGD, momentum and a gradient "
            "clipping that does not bind, 1:1 at the tuned lr with the weight decay doubled, so it should end close to "
            f"the control, and does where it can be compared ({told}).")


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
    vals = by_experiment(records)
    out = []
    for group, exp, seeds in regime_arms(p, plan, st.schedule, st.tuned_lr, st.cuts):
        got = vals.get(exp, {})
        ci = stats.mean_ci([got[s] for s in seeds if s in got])
        lr, iters = _lr_iters(p, exp)
        out.append(ArmMean(group, exp.detector, exp.reg_loss, exp.weighting_tag, float(lr), int(iters), len(seeds),
                           ci["n"], ci["mean"], ci["lo"], ci["hi"]))
    return out


def weight_windows(records: Iterable[dict], p: Profile, regs: list[Regime]) -> list[dict]:
    """(b): ALWA's classification weight after each window, per run (window 1 = the warm-up)."""
    out = []
    for r in map(RunRecord.of, records):
        exp = r.experiment
        if exp.weighting not in ("alwa1", "alwa2"):
            continue
        reg = regime_of(exp, p, regs)
        if reg is None:
            continue
        traj = r.get("weight_trajectory") or []
        out.append({"regime": reg, "name": r.name, "weighting": exp.weighting, "detrend": exp.detrend, "seed": r.seed,
                    "weights": [exp.cls_weight, *traj]})
    return out


def regime_claims(records: Iterable[dict], p: Profile, plan: StudyPlan, st: StudyState, published: dict) -> dict:
    """{claim: {regime: {"ours": text, "status": ...}}} for C3, C6, C7, C9, C11; ``short`` is the published verdict.
    Every tuned and paper part pools the losses' pairs, each seed only where both runs started from the same state."""
    recs = _recs(records)
    published = claims_of(published)
    out = {c: {"short": {"ours": published[c].ours, "status": published[c].status} if c in published else
                         {"ours": "not run", "status": Status.NOT_RUN}} for c in ("C3", "C6", "C7", "C9", "C11")}
    if st.tuned_lr is None:
        for c in out:
            for reg in ("tuned", "paper"):
                out[c][reg] = {"ours": f"the study is at stage '{st.stage}'", "status": Status.NOT_RUN_YET}
        return _typed(out)
    for reg in regimes(p, st, plan)[1:]:
        below = ("0.50:0.50", "0.25:0.25", "0.50:0.75")
        pairs = [(experiment_of(p, "retinanet", loss, w, lr=reg.lr, iters=st.schedule), experiment_of(p, "retinanet", loss, "base", lr=reg.lr, iters=st.schedule))
                 for loss in plan.losses for w in below]
        d = _pooled_diff(recs, pairs)
        out["C3"][reg.name] = {"ours": stats.fmt_pts("weights below 1 minus 1:1", d), "status": verdict_status(d.verdict)}
        for cid, det, losses in (("C6", "retinanet", plan.losses), ("C7", "faster-rcnn", ("l1",))):
            if det == "faster-rcnn" and reg.name != "paper":
                out[cid][reg.name] = {"ours": "not run in this regime", "status": Status.NOT_RUN}
                continue
            sched = detector_schedule(p, det, st.schedule)
            parts, sts = [], []
            for w in ("alwa1", "alwa2"):
                d = _pooled_diff(recs, [(experiment_of(p, det, loss, w, lr=reg.lr, iters=sched),
                                         experiment_of(p, det, loss, "base", lr=reg.lr, iters=sched)) for loss in losses])
                parts.append(stats.fmt_pts(w, d))
                sts.append(verdict_status(d.verdict))
            out[cid][reg.name] = {"ours": "; ".join(parts), "status": combined_status(sts)}
        out["C9"][reg.name] = {"ours": "the ablations of C and of the initial weight were not run in this regime", "status": Status.NOT_RUN}
        r1 = _pooled_diff(recs, [(experiment_of(p, "retinanet", loss, "alwa2", lr=reg.lr, iters=st.schedule),
                                  experiment_of(p, "retinanet", loss, "alwa1", lr=reg.lr, iters=st.schedule)) for loss in plan.losses])
        out["C11"][reg.name] = {"ours": stats.fmt_pts("RetinaNet ALWA-2 minus ALWA-1", r1), "status": verdict_status(r1.verdict)}
    return _typed(out)


def _typed(out: dict) -> dict:
    return {c: {reg: Claim.from_dict(c, v) for reg, v in by.items()} for c, by in out.items()}



# ------------------------------------------------------------------ what chapter 05 says in words (rendered, not derived, in the notebook)
def status_text(profile: str, planned: bool, st: StudyState, n_planned: int, done: int, complete: bool) -> str:
    """Where the study stands, in one sentence."""
    if not planned:
        return f"The learning-rate study is planned for the cpu profile only: nothing of it runs at profile {profile}."
    if complete:
        return f"The study is complete: {done} of {n_planned} planned runs."
    return (f"The study is in progress (stage: {st.stage}): {done} of the {n_planned} runs planned so far have finished; "
            "every number below rests on those, and the stages after this one are not planned yet.")


def schedule_text(st: StudyState) -> str:
    """The schedule and learning rate the study chose (or that it has not yet), and its budget cuts."""
    if not st.schedule:
        text = "not decided yet"
    else:
        why = (f" ({st.schedule_reason})" if st.schedule_reason else
               "" if st.converged is None else (", converged" if st.converged else ", not converged"))
        text = f"{st.schedule} iterations{why}"
    text += f"; tuned lr {st.tuned_lr if st.tuned_lr is not None else 'not decided yet'}"
    return text + (f"; cut to fit the budget: {', '.join(st.cuts)}" if st.cuts else "")


def calibration_rows(records: Iterable[dict], p: Profile, plan: StudyPlan, st: StudyState) -> list[dict]:
    """The calibration ladder: per schedule (iterations), the 1:1 L1 RetinaNet runs at the setting's lr, their mean
    mAP and the gain of doubling the schedule (points)."""
    records, lr0, rows = list(map(RunRecord.of, records)), setting_lr(p), []
    for it in sorted({*plan.ladder, *plan.extra_ladder}):
        exp = experiment_of(p, "retinanet", "l1", "base", lr=lr0, iters=it)
        seeds = set(p.seeds(plan.calib_seeds))
        vals = [r["mAP"] for r in records if r.experiment == exp and r.seed in seeds]
        if vals:
            rows.append({"iterations": it, "runs": len(vals), "mean mAP": sum(vals) / len(vals),
                         "gain of doubling (pts)": 100 * st.schedule_gains[it] if it in st.schedule_gains else None})
    return rows


def arm_rows(arms: Iterable[ArmMean]) -> list[dict]:
    """The planned arms as table rows (mAP in points with its 95 % interval)."""
    return [{"group": a.group, "detector": a.detector, "loss": a.reg_loss, "arm": a.weighting, "lr": a.lr,
             "iterations": a.iters, "seeds": f"{a.n} of {a.n_planned}", "mAP (pts)": stats.fmt_ci(a.mean, a.lo, a.hi)}
            for a in arms]


def faster_baseline_text(arms: Iterable[ArmMean], st: StudyState, plan: StudyPlan) -> str:
    """Faster R-CNN's 1:1 baseline at the paper regime's lr against the lr control's, in one sentence."""
    fr = {(a.weighting, a.lr): a for a in arms if a.detector == "faster-rcnn" and a.n}
    if st.tuned_lr is None or ("base", st.tuned_lr) not in fr or ("base", plan.paper_factor * st.tuned_lr) not in fr:
        return "No Faster R-CNN run of the regimes has finished yet."
    lo_lr, hi_lr = fr[("base", st.tuned_lr)], fr[("base", plan.paper_factor * st.tuned_lr)]
    return (f"Faster R-CNN's 1:1 baseline reaches {stats.fmt_ci(hi_lr.mean, hi_lr.lo, hi_lr.hi)} points at the paper "
            f"regime's lr {hi_lr.lr:g} against {stats.fmt_ci(lo_lr.mean, lo_lr.lo, lo_lr.hi)} at the lr control's "
            f"{lo_lr.lr:g} (n = {hi_lr.n} and {lo_lr.n}).")


FASTER_LR_CAVEAT = ("The tuned lr was tuned on RetinaNet; doubling it is the paper's regime for RetinaNet, but nothing "
                    "here tuned it for the mini Faster R-CNN, so its paper-regime comparisons (ALWA against 1:1 at the "
                    "same lr) say how ALWA behaves at an lr that may be far from that detector's best, not at the "
                    "paper's.")
