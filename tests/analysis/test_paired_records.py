"""alwa.core.stats: paired differences over true pairs only, and the minimum detectable effect."""
import math

from alwa.core.stats import min_detectable_effect, paired_records_diff


def rec(mAP, cls0=1.0):
    return {"mAP": mAP, "per_iter": {"cls_raw": [cls0], "reg_raw": [1.0]}, "experiment": {"weighting": "base"}}


def test_a_seed_whose_runs_start_differently_is_left_out():
    method = {0: rec(0.60), 1: rec(0.70, cls0=2.0), 2: rec(0.62)}
    base = {0: rec(0.50), 1: rec(0.50), 2: rec(0.50)}
    d, pr = paired_records_diff(method, base)
    assert pr.dropped == (1,) and d.n == 2 and math.isclose(d.mean, 0.11)


def test_minimum_detectable_effect_by_hand():
    # n=10, sd=1: (t_.975,9 + t_.80,9) / sqrt(10) = (2.262 + 0.883) / 3.162 = 0.995 (normal approx.); noncentral t: 1.0
    assert 0.98 < min_detectable_effect(1.0, 10) < 1.07
    assert min_detectable_effect(2.0, 10) > min_detectable_effect(2.0, 20)
    assert math.isnan(min_detectable_effect(1.0, 1))
