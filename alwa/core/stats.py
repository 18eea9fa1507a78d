"""Statistics over seeds, with scipy.stats (no hand-rolled formulas): the one statistics module, below the runs
(a study's stopping rule) and the analysis alike.

* :func:`mean_ci`: mean and a t-based 95 % confidence interval over seeds
  (``scipy.stats.ttest_1samp(...).confidence_interval``);
* :func:`paired_diff`: the mean difference of a method vs the baseline on the
  same seeds, with its paired 95 % CI and p-value (``scipy.stats.ttest_rel``);
* :func:`ratio_ci`: the geometric-mean ratio of paired timings (ALWA / plain per
  block) with a t-interval on the log ratios, and :func:`ratio_verdict` against a goal.

* :func:`paired_records_diff`: a paired difference of run records over the seeds that pair
  (:mod:`alwa.core.pairing`), and :func:`min_detectable_effect`, what a design can detect.

With n < 2 values there is no interval: the bounds are NaN and ``n`` says why.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from enum import StrEnum
from typing import Mapping, Sequence

import numpy as np
from scipy import stats

from alwa.core.pairing import Pairing, pairing


class Verdict(StrEnum):
    """A paired difference's verdict, the one vocabulary of every comparison of runs: its 95 % CI above 0
    (better), below 0 (worse), spanning 0 (inconclusive), or not computable (too few seeds).
    :func:`alwa.analysis.records.verdict_status` is the one mapping to a claim's status."""

    BETTER = "better"
    WORSE = "worse"
    INCONCLUSIVE = "inconclusive"
    TOO_FEW_SEEDS = "too few seeds"


@dataclass(frozen=True)
class PairedDiff:
    """Method minus baseline over the seeds both have: mean, paired-t 95 % CI (``lo``, ``hi``) and p-value."""

    n: int
    seeds: tuple = ()
    mean: float = math.nan
    lo: float = math.nan
    hi: float = math.nan
    p: float = math.nan

    @property
    def verdict(self) -> Verdict:
        if self.n < 2 or not math.isfinite(self.lo):
            return Verdict.TOO_FEW_SEEDS
        if self.lo > 0:
            return Verdict.BETTER
        if self.hi < 0:
            return Verdict.WORSE
        return Verdict.INCONCLUSIVE

    def as_dict(self) -> dict:
        return {"n": self.n, "seeds": list(self.seeds), "mean": self.mean, "lo": self.lo, "hi": self.hi, "p": self.p}


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> dict:
    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    out = {"n": int(x.size), "mean": float(x.mean()) if x.size else math.nan, "std": float(x.std(ddof=1)) if x.size > 1 else math.nan,
           "lo": math.nan, "hi": math.nan}
    if x.size >= 2:
        if np.ptp(x) == 0:
            out["lo"] = out["hi"] = float(x[0])
        else:
            ci = stats.ttest_1samp(x, 0.0).confidence_interval(confidence)
            out["lo"], out["hi"] = float(ci.low), float(ci.high)
    return out


def paired_diff(method: dict, baseline: dict, confidence: float = 0.95) -> PairedDiff:
    """``method``/``baseline``: {seed: value}. Uses the seeds both have; a paired t-interval of the differences."""
    seeds = sorted(set(method) & set(baseline))
    a = np.asarray([method[s] for s in seeds], dtype=float)
    b = np.asarray([baseline[s] for s in seeds], dtype=float)
    d = a - b
    mean, lo, hi, p = (float(d.mean()) if d.size else math.nan), math.nan, math.nan, math.nan
    if d.size >= 2 and np.ptp(d) > 0:
        res = stats.ttest_rel(a, b)
        ci = res.confidence_interval(confidence)
        lo, hi, p = float(ci.low), float(ci.high), float(res.pvalue)
    elif d.size >= 2:
        lo = hi = float(d[0])
        p = 0.0 if d[0] != 0 else 1.0
    return PairedDiff(n=len(seeds), seeds=tuple(seeds), mean=mean, lo=lo, hi=hi, p=p)


def ratio_ci(alwa: list[float], plain: list[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Geometric mean and t-interval of paired per-block ratios ``alwa[i] / plain[i]``.

    ``alwa``, ``plain``: per-block step times (s), same length >= 2. Returns
    ``(ratio, low, high)``; the interval is computed on the log ratios.
    """
    if len(alwa) != len(plain) or len(alwa) < 2:
        raise ValueError(f"need >= 2 paired blocks, got {len(alwa)} and {len(plain)}")
    logs = [math.log(a / p) for a, p in zip(alwa, plain)]
    m = statistics.fmean(logs)
    if statistics.pstdev(logs) == 0:
        return math.exp(m), math.exp(m), math.exp(m)
    lo, hi = stats.ttest_1samp(logs, 0.0).confidence_interval(confidence)
    return math.exp(m), math.exp(lo), math.exp(hi)


def ratio_verdict(low: float, high: float, limit: float) -> str:
    """'within' if the whole interval is <= limit, 'above' if all of it is above, else 'unresolved'."""
    return "within" if high <= limit else ("above" if low > limit else "unresolved")


def fmt_pts(label: str, d: PairedDiff) -> str:
    """'alwa1: -6.12 pts [-7.83, -4.42] (n=15)' from a paired difference of mAP fractions; 'alwa1: no paired runs yet'
    without pairs, never 'nan'."""
    if not d.n or not math.isfinite(d.mean):
        return f"{label}: no paired runs yet"
    ci = f" [{100 * d.lo:+.2f}, {100 * d.hi:+.2f}]" if math.isfinite(d.lo) else ""
    return f"{label}: {100 * d.mean:+.2f} pts{ci} (n={d.n})"


def fmt_ci(mean: float, lo: float, hi: float, scale: float = 100.0, digits: int = 2) -> str:
    """'75.17 [74.9, 75.4]' in points (scale 100) or as given."""
    if mean is None or not math.isfinite(mean):
        return "n/a"
    if lo is None or not math.isfinite(lo):
        return f"{mean * scale:.{digits}f}"
    return f"{mean * scale:.{digits}f} [{lo * scale:.{digits}f}, {hi * scale:.{digits}f}]"


def paired_records_diff(method: Mapping[int, Mapping], baseline: Mapping[int, Mapping], metric: str = "mAP") -> tuple[PairedDiff, Pairing]:
    """The paired difference (method minus baseline, :func:`paired_diff`) over the seeds that
    pair, and the :class:`Pairing` (what was dropped)."""
    pr = pairing(method, baseline)
    return paired_diff({s: float(method[s][metric]) for s in pr.seeds},
                             {s: float(baseline[s][metric]) for s in pr.seeds}), pr


def min_detectable_effect(sd_diff: float, n: int, alpha: float = 0.05, power: float = 0.8) -> float:
    """The smallest true mean difference a two-sided paired t-test at ``alpha`` detects with ``power``, given the
    sd of the paired differences and n pairs (noncentral t, solved numerically); NaN below 2 pairs."""
    from scipy import optimize
    from scipy import stats as st

    if n < 2 or not math.isfinite(sd_diff) or sd_diff <= 0:
        return math.nan
    df = n - 1
    tc = st.t.ppf(1 - alpha / 2, df)

    def pw(d):
        nc = d / (sd_diff / math.sqrt(n))
        lower = st.nct.cdf(-tc, df, nc)  # the wrong-sign rejections: negligible, NaN far out in scipy's tail
        return st.nct.sf(tc, df, nc) + (lower if math.isfinite(lower) else 0.0) - power

    se = sd_diff / math.sqrt(n)
    return float(optimize.brentq(pw, 1e-9 * se, 40 * se))  # noncentrality 0..40: power from alpha to 1


def half_width(d: PairedDiff) -> float:
    """Half-width of a paired difference's 95 % CI (mAP); inf without an interval (below 2 pairs)."""
    return (d.hi - d.lo) / 2 if d.n >= 2 and math.isfinite(d.lo) else math.inf
