"""alwa.bench.train: the train-step benchmark of ALWA inside mmdet."""

import pytest

pytest.importorskip("mmdet")

import alwa.mmdet  # noqa: E402,F401


def test_train_step_benchmark_times_alwa_blocks_only(tiny_voc):
    from alwa.bench import train as bench_train

    r = bench_train.run(blocks=2, steps=2, warmup=1, data_root=tiny_voc, threads=1)
    # ALWA runs only in its own blocks: 2 blocks x 2 steps
    assert r["alwa_calls"] == 4 and r["steps_each"] == 4 and len(r["block_ratios"]) == 2
    lo, hi = r["ratio_ci95"]
    from alwa.core.stats import ratio_verdict

    assert lo <= r["ratio"] <= hi and r["goal_verdict"] == ratio_verdict(lo, hi, r["goal"])  # the verdict of this interval
    # the wrapper's own time is positive and far below a step (a few scalar ops and four logging tensors)
    assert 0 < r["median_hook_s"] < 0.05 * r["median_step_s_plain"]
    assert "95% CI" in bench_train.describe(r)
