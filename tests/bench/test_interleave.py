"""alwa.bench.interleave: the interleaved with/without-ALWA timing loop (a counting clock, no real timing)."""
import pytest

from alwa.bench import interleave


class Clock:
    """perf_counter for the loop: each step with ALWA takes ``alwa`` s, without ``plain`` s."""

    def __init__(self, alwa, plain):
        self.t, self.cost = 0.0, {True: alwa, False: plain}

    def __call__(self):
        return self.t

    def step(self, use):
        self.t += self.cost[use]


def test_blocks_alternate_which_arm_goes_first_and_switch_before_each_arm(monkeypatch):
    clock = Clock(0.011, 0.010)
    monkeypatch.setattr(interleave.time, "perf_counter", clock)
    order, switched, seen = [], [], []
    out = interleave.interleaved(lambda use: (order.append(use), clock.step(use)), blocks=3, steps=2,
                                 switch=switched.append, on_block=lambda b, so_far: seen.append((b, len(so_far.block_alwa))))
    assert order == [True, True, False, False, False, False, True, True, True, True, False, False]
    assert switched == [True, False, False, True, True, False]
    assert seen == [(0, 1), (1, 2), (2, 3)]
    assert len(out.steps_alwa) == len(out.steps_plain) == 6 and len(out.block_alwa) == 3


def test_the_ratio_of_block_medians_is_the_step_cost_ratio(monkeypatch):
    clock = Clock(0.0105, 0.0100)
    monkeypatch.setattr(interleave.time, "perf_counter", clock)
    out = interleave.interleaved(clock.step, blocks=4, steps=3)
    assert out.median_alwa == pytest.approx(0.0105) and out.median_plain == pytest.approx(0.0100)
    r = out.ratio(goal=1.005)
    assert r["ratio"] == pytest.approx(1.05) and r["ratio_ci95"] == [pytest.approx(1.05), pytest.approx(1.05)]
    assert r["goal_verdict"] == "above"
