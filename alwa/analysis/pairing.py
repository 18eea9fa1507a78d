"""Paired comparisons over the seeds that really pair (:mod:`alwa.core.pairing`), and what a design can detect."""

from __future__ import annotations

import math
from typing import Mapping

from alwa.analysis import stats
from alwa.analysis.records import PairedDiff
from alwa.core.pairing import Pairing, pairing


def paired_records_diff(method: Mapping[int, Mapping], baseline: Mapping[int, Mapping], metric: str = "mAP") -> tuple[PairedDiff, Pairing]:
    """The paired difference (method minus baseline, :func:`alwa.analysis.stats.paired_diff`) over the seeds that
    pair, and the :class:`Pairing` (what was dropped)."""
    pr = pairing(method, baseline)
    return stats.paired_diff({s: float(method[s][metric]) for s in pr.seeds},
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
