"""Statistics over seeds, with scipy.stats (no hand-rolled formulas).

* :func:`mean_ci`: mean and a t-based 95 % confidence interval over seeds
  (``scipy.stats.ttest_1samp(...).confidence_interval``);
* :func:`paired_diff`: the mean difference of a method vs the baseline on the
  same seeds, with its paired 95 % CI and p-value (``scipy.stats.ttest_rel``);
* :func:`ratio_ci`: the geometric-mean ratio of paired timings (ALWA / plain per
  block) with a t-interval on the log ratios, and :func:`ratio_verdict` against a goal.

With n < 2 values there is no interval: the bounds are NaN and ``n`` says why.
"""

from __future__ import annotations

import math
import statistics
from typing import Sequence

import numpy as np
from scipy import stats

from alwa.analysis.records import PairedDiff


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
