"""Tables of the training notebooks side by side with the paper, and the claims
C2-C11 measured from run results. Every number comes from result records.

Statuses: ``supported``, ``not supported``, ``inconclusive at mini scale``,
``needs GPU`` (the claim is about VOC/COCO at full scale), ``too few runs``.
"""

from __future__ import annotations

import math
from typing import Optional

from alwa.core import stats
from alwa.analysis import summaries as sm
from alwa.analysis.records import Claim, Status, SummaryRow, VsPaper, claims_of, combined_status, verdict_status
from alwa.core.stats import fmt_ci, fmt_pts
from alwa.core.experiment import Experiment, RunRecord
from alwa.runs import specs as ex
from alwa.runs.profile import Profile

MIN_SEEDS = 2


def _pairs(p: Profile) -> list[str]:
    return ["1.00:1.00", *(p.grid_pairs or ex.TABLE1_PAIRS)]


def _weights(e: Experiment) -> Optional[tuple[float, float]]:
    """(cls, reg) weights of a baseline or fixed-weight run; None for ALWA runs."""
    return (e.cls_weight, e.reg_weight) if e.weighting in ("base", "fixed") else None


# ------------------------------------------------------------------ table 1
def _fmt_diff(r: SummaryRow) -> str:
    return fmt_ci(None, None, None) if r.diff is None else fmt_ci(r.diff.mean, r.diff.lo, r.diff.hi)


def _verdict(r: SummaryRow) -> str:
    return "-" if r.verdict is None else str(r.verdict)


def _vs_paper(label: str, r: SummaryRow, pv: Optional[float], pb: Optional[float]) -> VsPaper:
    d = r.diff
    return VsPaper(label, r.diff_mean, math.nan if d is None else d.lo, math.nan if d is None else d.hi,
                   math.nan if pv is None or pb is None else pv - pb)


def table1(rows: list[SummaryRow], tables: dict, p: Profile) -> tuple[list, list]:
    """(table rows for display, rows for plot_vs_paper)."""
    by = sm.rows_by_experiment(rows)
    table, plot_rows = [], []
    for loss in p.grid_losses:
        L = ex.LOSS_NAMES[loss]
        known = L in tables["table1"]["columns"]
        for pair in _pairs(p):
            exp = ex.experiment_of(p, "retinanet", loss, pair=pair)
            r = by.get(exp) or SummaryRow.empty(exp)
            pv = sm.paper_value(tables, "table1", pair, L) if known else None
            pb = sm.paper_value(tables, "table1", "1.00:1.00", L) if known else None
            base = pair == "1.00:1.00"
            table.append({"loss": L, "weights": pair, "seeds": r.n,
                          "mAP [95% CI]": fmt_ci(r.mean, r.lo, r.hi),
                          "diff vs 1:1 [95% CI]": "-" if base else _fmt_diff(r),
                          "verdict": "-" if base else _verdict(r),
                          "paper mAP": None if pv is None else round(100 * pv, 2),
                          "paper diff": None if pv is None or base else round(100 * (pv - pb), 2)})
            if not base:
                plot_rows.append(_vs_paper(f"{L} {pair}", r, pv, pb))
    return table, plot_rows


def best_experiments(rows: list[SummaryRow], p: Profile, loss: str, k: int = 3) -> list[Experiment]:
    """The ``k`` experiments of RetinaNet with ``loss`` whose mean gain over 1:1 is largest (best first)."""
    want = ex.experiment_of(p, "retinanet", loss)

    def same_run_family(e: Experiment) -> bool:
        return (e.detector, e.backbone, e.dataset, e.reg_loss) == (want.detector, want.backbone, want.dataset, want.reg_loss)

    cand = [r for r in rows if same_run_family(r.experiment) and math.isfinite(r.diff_mean)]
    return [r.experiment for r in sorted(cand, key=lambda r: -r.diff_mean)[:k]]


def _decay(result: dict, window: int) -> tuple[float, float]:
    c = sm.window_curves(result, window)
    if len(c["iter"]) < 2 or c["cls_mean"][0] <= 0 or c["reg_mean"][0] <= 0:
        return math.nan, math.nan
    return c["cls_mean"][-1] / c["cls_mean"][0], c["reg_mean"][-1] / c["reg_mean"][0]


def grid_claims(rows: list[SummaryRow], results: list, p: Profile, window: int) -> dict[str, Claim]:
    """C2, C3, C4, C5 from the weight grid."""
    out = {}
    diffs = [r for r in rows if math.isfinite(r.diff_mean) and _weights(r.experiment)]
    below = [r for r in diffs if all(w < 1 for w in _weights(r.experiment))]
    above = [r for r in diffs if all(w > 1 for w in _weights(r.experiment))]
    enough = all(r.diff.n >= MIN_SEEDS for r in below + above)
    if below and above:
        mb = sum(r.diff_mean for r in below) / len(below)
        ma = sum(r.diff_mean for r in above) / len(above)
        wins = sum(1 for r in below if r.diff_mean > 0)
        status = (Status.SUPPORTED if mb > ma and wins > len(below) / 2 else Status.NOT_SUPPORTED) if enough else Status.TOO_FEW_RUNS
        out["C3"] = {"ours": f"mean difference to 1:1: weights < 1 {100 * mb:+.2f} pts ({wins}/{len(below)} cells above 0), "
                             f"weights > 1 {100 * ma:+.2f} pts ({len(above)} cells)",
                     "status": status, "values": {"mean_diff_below": mb, "mean_diff_above": ma, "below_positive": wins, "below_cells": len(below)}}
    else:
        out["C3"] = {"ours": "no cells with both weights above (or below) 1 in this profile's grid", "status": Status.TOO_FEW_RUNS, "values": {}}
    best = {}
    for loss in p.grid_losses:
        b = best_experiments(rows, p, loss, 1)
        best[ex.LOSS_NAMES[loss]] = b[0].weighting_tag if b else None
    distinct = len({v for v in best.values() if v}) > 1
    out["C5"] = {"ours": "largest mean gain: " + ", ".join(f"{k} {v}" for k, v in best.items()),
                 "status": (Status.SUPPORTED if distinct else Status.NOT_SUPPORTED) if len(p.grid_losses) > 1 and enough else Status.TOO_FEW_RUNS,
                 "values": best, "note": "the best pair by mean; overlapping CIs mean the ranking is uncertain"}
    faster = {}
    for loss in p.grid_losses:
        b = best_experiments(rows, p, loss, 1)
        runs = [r for r in map(RunRecord.of, results) if b and r.experiment == b[0]]
        d = [_decay(r, window) for r in runs]
        d = [(a, c) for a, c in d if math.isfinite(a) and math.isfinite(c)]
        if d:
            faster[ex.LOSS_NAMES[loss]] = sum(1 for a, c in d if a < c) / len(d)
    out["C2"] = {"ours": "share of seeds of the best pair whose classification loss decays faster than the regression loss "
                         "(last/first window mean): " + ", ".join(f"{k} {v:.0%}" for k, v in faster.items()),
                 "status": (Status.SUPPORTED if all(v > 0.5 for v in faster.values()) else Status.NOT_SUPPORTED) if faster and enough else Status.TOO_FEW_RUNS,
                 "values": faster}
    out["C4"] = {"ours": "table 1's pairs differ by at most 0.25 between the two weights; the grid does not test large gaps",
                 "status": Status.INCONCLUSIVE_MINI, "values": {}}
    return claims_of(out)


# ------------------------------------------------------------------ tables 2 / 3
# where the paper reports each detector's baseline and ALWA runs (its R-50 rows): table, row per weighting
PAPER_ROWS = {"retinanet": ("table2", {"base": "R50", "alwa1": "R50+ALWA1", "alwa2": "R50+ALWA2"}),
              "faster-rcnn": ("table3", {"base": "baseline", "alwa1": "ALWA1", "alwa2": "ALWA2"})}


def paper_gain(tables: dict, det: str, loss: str, weighting: str) -> Optional[float]:
    """The paper's ALWA minus baseline (mAP) for detector ``det``, regression loss ``loss`` (e.g. 'l1') and ALWA
    variant ``weighting`` ('alwa1', 'alwa2'), from its R-50 rows (tables 2 and 3); None where it reports none."""
    tab, row_of = PAPER_ROWS[det]
    cols, L = tables[tab]["columns"], ex.LOSS_NAMES[loss]
    if L not in cols or weighting not in row_of:
        return None
    return tables[tab]["rows"][row_of[weighting]][cols.index(L)] - tables[tab]["rows"][row_of["base"]][cols.index(L)]


def alwa_table(rows: list[SummaryRow], tables: dict, p: Profile) -> tuple[list, list]:
    by = sm.rows_by_experiment(rows)
    table, plot_rows = [], []
    for det, (tab, row_of) in PAPER_ROWS.items():
        for loss in p.alwa_losses:
            L = ex.LOSS_NAMES[loss]
            cols = tables[tab]["columns"]
            for w in ("base", "alwa1", "alwa2"):
                exp = ex.experiment_of(p, det, loss, w)
                r = by.get(exp) or SummaryRow.empty(exp)
                pv = tables[tab]["rows"][row_of[w]][cols.index(L)] if L in cols else None
                pb = tables[tab]["rows"][row_of["base"]][cols.index(L)] if L in cols else None
                table.append({"detector": det, "loss": L, "weighting": w, "seeds": r.n,
                              "mAP [95% CI]": fmt_ci(r.mean, r.lo, r.hi),
                              "diff vs base [95% CI]": "-" if w == "base" else _fmt_diff(r),
                              "p": "-" if w == "base" or r.diff is None or not math.isfinite(r.diff.p) else f"{r.diff.p:.3f}",
                              "verdict": "-" if w == "base" else _verdict(r),
                              "paper mAP": None if pv is None else round(100 * pv, 2),
                              "paper diff": None if pv is None or w == "base" else round(100 * (pv - pb), 2)})
                if w != "base":
                    plot_rows.append(_vs_paper(f"{det} {L} {w}", r, pv, pb))
    return table, plot_rows


def baseline_level(rows: list[SummaryRow], p: Profile, det: str, loss: str = "l1") -> str:
    """The 1:1 baseline's mAP of a detector as prose, e.g. '30.05 [29.47, 30.62] (5 seeds)'; 'no runs yet' without runs."""
    r = sm.row_of(rows, ex.experiment_of(p, det, loss, "base"))
    if not r.n:
        return "no runs yet"
    return f"{fmt_ci(r.mean, r.lo, r.hi)} ({r.n} seed{'s' if r.n != 1 else ''})"


def _pooled(results: list, p: Profile, det: str, w: str) -> dict:
    """Paired difference over all (loss, seed) pairs of a detector: ALWA-w vs base."""
    vals = sm.by_experiment(results)
    a, b = {}, {}
    for loss in p.alwa_losses:
        m, base = vals.get(ex.experiment_of(p, det, loss, w), {}), vals.get(ex.experiment_of(p, det, loss, "base"), {})
        for s in set(m) & set(base):
            a[(loss, s)], b[(loss, s)] = m[s], base[s]
    return stats.paired_diff(a, b)


def alwa_claims(results: list, p: Profile) -> dict[str, Claim]:
    out = {}
    for cid, det, paper in (("C6", "retinanet", "about +1 point"), ("C7", "faster-rcnn", "more than +1 point")):
        parts, statuses = [], []
        for w in ("alwa1", "alwa2"):
            d = _pooled(results, p, det, w)
            parts.append(fmt_pts(w, d))
            statuses.append(verdict_status(d.verdict))
        status = combined_status(statuses)
        out[cid] = {"ours": f"{det}, pooled over losses and seeds, paired vs baseline: " + "; ".join(parts),
                    "paper": paper, "status": status}
    r1, r2 = _pooled(results, p, "retinanet", "alwa1"), _pooled(results, p, "retinanet", "alwa2")
    f1, f2 = _pooled(results, p, "faster-rcnn", "alwa1"), _pooled(results, p, "faster-rcnn", "alwa2")
    ok = all(d.n >= MIN_SEEDS for d in (r1, r2, f1, f2))
    holds = (r2.mean > r1.mean) and (f1.mean > f2.mean)
    out["C11"] = {"ours": f"RetinaNet: {fmt_pts('ALWA-2', r2)} vs {fmt_pts('ALWA-1', r1)}; "
                          f"Faster R-CNN: {fmt_pts('ALWA-1', f1)} vs {fmt_pts('ALWA-2', f2)}",
                  "status": (Status.SUPPORTED if holds else Status.NOT_SUPPORTED) if ok else Status.TOO_FEW_RUNS}
    return claims_of(out)


# ------------------------------------------------------------------ tables 7 / 8
def ablation_experiment(p: Profile, loss: str, kind: str, value) -> Experiment:
    """The Faster R-CNN ALWA-2 run of an ablation: ``kind`` 'C' (the window) or 'init' (the initial weights)."""
    if kind == "C":
        return ex.experiment_of(p, "faster-rcnn", loss, "alwa2", interval=int(value))
    return ex.experiment_of(p, "faster-rcnn", loss, "alwa2", init=float(value))


def window_used(p: Profile, c: int) -> int:
    """The window C the ablation run for ``c`` trains with (its experiment's window under the profile's setting:
    the C it names, or the setting's own where ``c`` is the setting's C)."""
    return ablation_experiment(p, p.abl_losses[0] if p.abl_losses else "l1", "C", c).window(ex.setting_c(p, "faster-rcnn"))


def ablation_table(rows: list[SummaryRow], tables: dict, p: Profile, results: Optional[list] = None) -> list:
    """Tables 7 and 8 beside the paper's: per loss, each C (with the C its runs used) and each initial weight;
    with ``results`` also how many windows ended in a run (0: ALWA never acted)."""
    windows = {r.experiment: len(r["windows"]) for r in map(RunRecord.of, results or []) if "windows" in r}
    by = sm.rows_by_experiment(rows)
    out = []
    for loss in p.abl_losses:
        L = ex.LOSS_NAMES[loss]
        for kind, values, tab in (("C", p.abl_C, "table7"), ("init", p.abl_init, "table8")):
            for v in values:
                key = str(int(v)) if kind == "C" else f"{float(v):g}:{float(v):g}"
                exp = ablation_experiment(p, loss, kind, v)
                r = by.get(exp) or SummaryRow.empty(exp)
                cols = tables[tab]["columns"]
                prow = tables[tab]["rows"].get(key)
                pv = prow[cols.index(L)] if prow and L in cols else None
                out.append({"loss": L, "ablation": kind, "value": v,
                            "C used": window_used(p, int(v)) if kind == "C" else None, "seeds": r.n,
                            "mAP [95% CI]": fmt_ci(r.mean, r.lo, r.hi),
                            "diff vs base [95% CI]": _fmt_diff(r),
                            "paper mAP": None if pv is None else round(100 * pv, 2)})
                if results is not None:
                    out[-1]["windows per run"] = windows.get(exp)
    return out


def ablation_claims(results: list, p: Profile) -> dict[str, Claim]:
    """C9: spread of the mean mAP across C values and across initial weights, vs the seed noise."""
    results = [RunRecord.of(r) for r in results]
    vals = sm.by_experiment(results)
    inert = {r.experiment for r in results if "windows" in r and not r["windows"]}  # no window ended: ALWA never acted
    parts, noisy = [], []
    for loss in p.abl_losses:
        for kind, values in (("C", p.abl_C), ("init", p.abl_init)):
            means, sds, idle = [], [], []
            for v in values:
                exp = ablation_experiment(p, loss, kind, v)
                s = stats.mean_ci(list(vals.get(exp, {}).values()))
                if s["n"]:
                    means.append(s["mean"])
                    sds.append(s["std"])
                if exp in inert:
                    idle.append(f"{kind}={v:g}")
            if len(means) >= 2:
                spread = max(means) - min(means)
                seed_sd = sum(x for x in sds if math.isfinite(x)) / max(1, sum(1 for x in sds if math.isfinite(x)))
                parts.append(f"{ex.LOSS_NAMES[loss]} {kind}: range {100 * spread:.2f} pts (seed sd {100 * seed_sd:.2f})"
                             + (f"; {', '.join(idle)}: no window ends within a run, so ALWA never acts there" if idle else ""))
                noisy.append(math.isfinite(seed_sd) and spread <= 2 * seed_sd)
    status = (Status.SUPPORTED if all(noisy) else Status.NOT_SUPPORTED) if noisy else Status.TOO_FEW_RUNS
    return claims_of({"C9": {"ours": "; ".join(parts) or "no runs", "status": status,
                   "note": "insensitive = the range of means across settings is within two seed standard deviations"}})


# ------------------------------------------------------------------ C10
def overhead_claim(bench: Optional[dict], profile: str, gpu: Optional[dict] = None) -> Claim:
    """C10 from a :func:`alwa.bench.train.run` result (and a GPU record, if any); *too few runs* without one.

    Supported when the 95 % interval of the end-to-end train-step ratio lies at or
    below the goal (1.005), or, when that interval is too wide to decide (a noisy
    machine), when the time spent inside ALWA's loss wrapper is at most
    ``goal - 1`` of a step: the text then says that the wrapper's share carries the claim and that the ratio is not
    resolved on this machine. Not supported when the whole interval lies above the goal.

    ``gpu``: a record of :func:`alwa.bench.gpu.run` on a GPU (torchvision RetinaNet).
    It is added to the evidence and decides like the CPU measures (interval first,
    then the time inside the ALWA call): a GPU interval wholly above the goal makes
    the claim *not supported*; a GPU measure within the goal makes an otherwise
    inconclusive claim *supported*. (A synchronisation inside a non-window call
    aborts that check, so a record exists only if there was none.)
    """
    if bench is None:
        return Claim("C10", "no train-step benchmark recorded (`alwa bench train --json ...`)", Status.TOO_FEW_RUNS,
                     paper="negligible training time, no inference cost")
    lo, hi = bench["ratio_ci95"]
    goal, frac = bench["goal"], bench["hook_fraction"]
    v = stats.ratio_verdict(lo, hi, goal)
    ratio = (f"train-step time ratio with/without ALWA {bench['ratio']:.3g} [95% CI {lo:.3g}, {hi:.3g}] "
             f"({bench['blocks']} interleaved blocks x {bench['steps_per_block']} steps, mini RetinaNet, CPU)")
    wrapper = f"time inside ALWA's loss wrapper {100 * frac:.2g}% of a step"
    if v == "unresolved":  # the wrapper's share carries the claim; the ratio is said to be unresolved, not evidence
        ours = (f"{wrapper} (this carries the claim); the {ratio} is not resolved on this machine (its interval spans "
                f"the goal {goal:g}); no inference change (the hook only wraps the loss)")
    else:
        ours = f"{ratio}; {wrapper}; no inference change (the hook only wraps the loss)"
    if profile == "smoke":
        status = Status.TOO_FEW_RUNS
    elif v != "unresolved":
        status = Status.SUPPORTED if v == "within" else Status.NOT_SUPPORTED
    else:
        status = Status.SUPPORTED if frac <= goal - 1 else Status.INCONCLUSIVE_MINI
    if gpu is not None:
        glo, ghi = gpu["ratio_ci95"]
        gfrac = gpu.get("call_fraction")
        ours += (f"; on {gpu['device']} (torchvision RetinaNet R-50 FPN, batch {gpu['batch']}, {gpu['size']} px): "
                 f"ratio {gpu['ratio']:.3g} [95% CI {glo:.3g}, {ghi:.3g}] ({gpu['blocks']} x {gpu['steps_per_block']} steps)")
        if gfrac is not None:
            ours += f", time inside the ALWA call {100 * gfrac:.2g}% of a step"
        if gpu.get("item_raises_under_error_mode"):
            ours += (f", {gpu['alwa_calls_checked_without_sync']} non-window calls ran under sync debug mode 'error' "
                     f"without a host-device synchronisation")
        gv = stats.ratio_verdict(glo, ghi, goal)
        if profile != "smoke" and gv == "above":
            status = Status.NOT_SUPPORTED
        elif profile != "smoke" and status == Status.INCONCLUSIVE_MINI and (gv == "within" or (gfrac is not None and gfrac <= goal - 1)):
            status = Status.SUPPORTED
    return Claim("C10", ours, status, paper="negligible training time, no inference cost")


# ------------------------------------------------------------------ C1
CLAIMS = ["C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "C9", "C10", "C11"]


def c1_claim(rows: list[dict]) -> Claim:
    """C1 from the box-shifting chapter's settings (one row per shift range, score model and regression loss, with
    ``c1_holds``: std(cls) > std(reg) per box, and ``c1_holds_cv``: the same for the coefficients of variation)."""
    if not rows:
        return Claim("C1", "not run", Status.TOO_FEW_RUNS)
    std = sum(bool(r["c1_holds"]) for r in rows) / len(rows)
    cv = sum(bool(r["c1_holds_cv"]) for r in rows) / len(rows)
    where = ", ".join(f"{r['reg_loss']} at ±{r['shift_range']} ({r['score_model']})" for r in rows if r["c1_holds"]) or "none"
    status = Status.SUPPORTED if std > 0.5 else Status.NOT_SUPPORTED
    return Claim("C1", f"per box, std(cls) > std(reg) in {100 * std:.0f}% of {len(rows)} settings (where: {where}); "
                       f"CV(cls) > CV(reg) in {100 * cv:.0f}%", status)


def all_claims(stored: dict) -> dict[str, Claim]:
    """Every claim C1-C11 for the claims page: the stored ones (:func:`alwa.report.store.load_claims`), C8 (COCO)
    as *needs GPU* unless stored, any other one not stored as *too few runs* ("not measured yet")."""
    out = {}
    for c in CLAIMS:
        if c in stored:
            out[c] = stored[c]
        elif c == "C8":
            out[c] = Claim("C8", "COCO is not part of the mini reproduction", Status.NEEDS_GPU)
        else:
            out[c] = Claim(c, "not measured yet", Status.TOO_FEW_RUNS)
    return out
