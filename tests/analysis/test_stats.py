"""alwa.core.stats: means, paired differences and ratios, each against scipy's own interval."""

import math

import numpy as np
import pytest
from scipy import stats as st

from alwa.core import stats


def test_mean_ci_equals_the_t_interval():
    x = [0.71, 0.74, 0.69, 0.73, 0.75]
    r = stats.mean_ci(x)
    m, se = np.mean(x), st.sem(x)
    h = se * st.t.ppf(0.975, len(x) - 1)
    assert r["mean"] == pytest.approx(m) and r["lo"] == pytest.approx(m - h) and r["hi"] == pytest.approx(m + h)
    assert math.isnan(stats.mean_ci([0.7])["lo"]) and stats.mean_ci([])["n"] == 0


def test_paired_diff_equals_ttest_rel_and_uses_common_seeds():
    a = {0: 0.75, 1: 0.77, 2: 0.74, 3: 0.80}
    b = {0: 0.74, 1: 0.75, 2: 0.74, 9: 0.1}
    r = stats.paired_diff(a, b)
    assert r.seeds == (0, 1, 2) and r.n == 3
    ref = st.ttest_rel([0.75, 0.77, 0.74], [0.74, 0.75, 0.74])
    ci = ref.confidence_interval()
    assert r.p == pytest.approx(ref.pvalue) and (r.lo, r.hi) == (pytest.approx(ci.low), pytest.approx(ci.high))
    assert r.mean == pytest.approx(0.01)
    assert r.verdict == "inconclusive"
    assert stats.paired_diff({0: 1.0, 1: 1.1, 2: 1.2}, {0: 0.0, 1: 0.0, 2: 0.05}).verdict == "better"
    assert stats.paired_diff({0: 1.0}, {0: 0.0}).verdict == "too few seeds"


def test_ratio_ci_is_the_t_interval_of_log_ratios():
    from alwa.core.stats import ratio_ci

    alwa, plain = [1.02, 0.99, 1.05, 1.00], [1.0, 1.0, 1.0, 1.0]
    r, lo, hi = ratio_ci(alwa, plain)
    logs = np.log(alwa)
    ref = st.t.interval(0.95, len(logs) - 1, loc=logs.mean(), scale=st.sem(logs))
    assert r == pytest.approx(math.exp(logs.mean()))
    assert (lo, hi) == pytest.approx(tuple(np.exp(ref)))
    assert lo < r < hi


def test_ratio_ci_is_scale_invariant_and_exact_for_a_constant_ratio():
    from alwa.core.stats import ratio_ci

    a, p = [0.21, 0.25, 0.19], [0.20, 0.24, 0.18]
    assert ratio_ci([10 * x for x in a], [10 * x for x in p]) == pytest.approx(ratio_ci(a, p))
    assert ratio_ci([0.3, 0.6], [0.2, 0.4]) == pytest.approx((1.5, 1.5, 1.5))
    with pytest.raises(ValueError):
        ratio_ci([1.0], [1.0])
