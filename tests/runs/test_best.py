"""alwa.runs.best: the best-against-best study's plan, decided from hand-made finished runs (no training)."""
import pytest

from alwa.runs import best
from alwa.runs.best import BestCut, BestPlan, decide
from alwa.runs.engine import StopKind
from alwa.runs.profile import load_profile
from alwa.runs.settle import arm_experiment
from alwa.runs.specs import experiment_of

PLAN = BestPlan(losses=("l1",), lr_factors=(0.5, 1.0, 2.0), lr_seeds=2, faster_lrs=(0.01, 0.02, 0.04),
                fixed_weights=(0.5, 2.0), min_seeds=3, round_seeds=2, max_seeds=5, target_half_width=0.01,
                long_schedule=3000, long_seeds=2, budget_h=1000.0)


@pytest.fixture
def p(monkeypatch):
    monkeypatch.setattr(best, "pinned_backbones", lambda: {"PIN"})
    return load_profile("cpu")


def rec(exp, seed, mAP, backbone="PIN", iters=None):
    return {"name": exp.name, "seed": seed, "mAP": mAP, "iters": iters or exp.iters, "train_seconds": 0.2 * (iters or exp.iters),
            "wall_seconds": 0.2 * (iters or exp.iters), "final_weights": [0.5, 1.0],
            "fingerprints": {"init_state": f"s{seed}", "pretrained": backbone}}


def settle_lr(p, backbone="OTHER"):
    """The settling study's L1 lr sweep at 1500 iterations: 0.04 is its tuned lr."""
    return [rec(arm_experiment(p, "l1", "base", lr, 1500), s, m, backbone)
            for lr, m in ((0.02, 0.70), (0.04, 0.74), (0.08, 0.67)) for s in range(3)]


def E(p, w, lr, det="retinanet", iters=1500, pair=None):
    return experiment_of(p, det, "l1", w, pair=pair, lr=lr, iters=iters, name_setting_values=True)


def keys(specs):
    return [(s.name, s.seed) for s in specs]


def test_the_control_lr_is_the_settling_studys_and_the_plan_runs_part_a_first_and_the_long_schedule_last(p):
    st, specs = decide(p, PLAN, [], settle_lr(p))
    retina = st.cells[0]
    assert (retina.detector, retina.control_lr) == ("retinanet", 0.04)
    assert [a.arm.label for a in retina.arms] == ["ALWA-1", "ALWA-2", "best fixed weight", "uncertainty weighting", "DWA", "RLW"]
    names = [n for n, _ in keys(specs)]
    assert names[0] == E(p, "alwa1", 0.02).name and set(names[:12]) <= {E(p, w, lr).name for w in ("alwa1", "alwa2") for lr in (0.02, 0.04, 0.08)}
    part = lambda n: ("uw" in n or "dwa" in n or "rlw" in n, "faster" in n)  # noqa: E731
    first_d = next(i for i, n in enumerate(names) if part(n)[0])
    first_b = next(i for i, n in enumerate(names) if part(n)[1])
    assert first_b < first_d and not any(part(n)[0] for n in names[:first_b])
    assert {s.seed for s in specs} == {0, 1}  # lr sweeps only so far: 2 seeds each


def test_a_settling_run_is_reused_only_where_it_was_made_from_the_pinned_backbone(p):
    other = settle_lr(p, "OTHER")
    runs = [rec(E(p, w, lr), s, 0.7) for w in ("alwa1",) for lr in (0.02, 0.04, 0.08) for s in range(2)]
    st, _ = decide(p, PLAN, runs, other)
    assert st.cells[0].arms[0].lr_means[0.04] == pytest.approx(0.7)
    pinned_alwa = [rec(E(p, "alwa1", 0.04), s, 0.9, "PIN") for s in range(2)]
    st, _ = decide(p, PLAN, runs[:2] + runs[4:], other + pinned_alwa)  # the 0.04 runs from the settling folder
    assert st.cells[0].arms[0].lr_means[0.04] == pytest.approx(0.9)
    unpinned = [rec(E(p, "alwa1", 0.04), s, 0.9, "OTHER") for s in range(2)]
    st, _ = decide(p, PLAN, runs[:2] + runs[4:], other + unpinned)
    assert st.cells[0].arms[0].lr_means[0.04] is None


def test_an_arm_at_its_own_lr_follows_the_stopping_rule_against_the_control(p):
    runs = [rec(E(p, "alwa1", lr), s, m) for lr, m in ((0.02, 0.72), (0.04, 0.70), (0.08, 0.6)) for s in range(2)]
    st, specs = decide(p, PLAN, runs, settle_lr(p))
    a1 = st.cells[0].arms[0]
    assert a1.tuned_lr is None and a1.lr_means[0.01] is None  # the winning edge: one lr beyond it first
    assert (E(p, "alwa1", 0.01).name, 1) in keys(specs)
    runs += [rec(E(p, "alwa1", 0.01), s, 0.65) for s in range(2)]
    st, specs = decide(p, PLAN, runs, settle_lr(p))
    a1 = st.cells[0].arms[0]
    assert a1.tuned_lr == 0.02 and a1.seeds == 3 and a1.stop.kind is StopKind.RUNNING
    assert {(E(p, "base", 0.04).name, s) for s in range(3)} <= set(keys(specs))
    noisy = [0.0, 0.05, -0.05, 0.03, -0.03]
    runs += [rec(E(p, "base", 0.04), s, 0.7) for s in range(5)] + [rec(E(p, "alwa1", 0.02), s, 0.7 + noisy[s]) for s in range(2, 5)]
    st, _ = decide(p, PLAN, runs, settle_lr(p))
    a1 = st.cells[0].arms[0]
    assert a1.seeds == 5 and a1.stop.kind is StopKind.MAX_SEEDS and a1.half_width > 0.01


def test_the_best_fixed_weight_is_chosen_from_the_grid_with_1_1_and_1_1_needs_no_more_runs(p):
    ctl = [rec(E(p, "base", 0.04), s, 0.74) for s in range(2)]
    grid = lambda m05, m2: [rec(E(p, "fixed", 0.04, pair=f"{w:.2f}:1.00"), s, m) for w, m in ((0.5, m05), (2.0, m2)) for s in range(2)]  # noqa: E731,E501
    st, specs = decide(p, PLAN, ctl + grid(0.70, 0.72), settle_lr(p))
    fixed = st.cells[0].arms[2]
    assert fixed.weight == 1.0 and fixed.seeds == 0 and fixed.lr_means == {1.0: 0.74, 0.5: 0.70, 2.0: 0.72}
    st, specs = decide(p, PLAN, ctl + grid(0.70, 0.76), settle_lr(p))
    fixed = st.cells[0].arms[2]
    assert fixed.weight == 2.0 and fixed.seeds == 3 and (E(p, "fixed", 0.04, pair="2.00:1.00").name, 2) in keys(specs)


def test_faster_rcnn_tunes_its_own_lr_and_names_the_lrs_where_it_did_not_train(p):
    f = lambda lr, m: [rec(E(p, "base", lr, "faster-rcnn", 1000), s, m) for s in range(2)]  # noqa: E731
    st, specs = decide(p, PLAN, f(0.01, 0.6) + f(0.02, 0.7) + f(0.04, 0.77), settle_lr(p))
    fr = st.cells[1]
    assert fr.detector == "faster-rcnn" and fr.schedule == 1000 and fr.control_lr is None
    assert (E(p, "base", 0.08, "faster-rcnn", 1000).name, 0) in keys(specs)  # one lr beyond the winning edge
    st, specs = decide(p, PLAN, f(0.01, 0.6) + f(0.02, 0.7) + f(0.04, 0.77) + f(0.08, 0.0), settle_lr(p))
    fr = st.cells[1]
    assert fr.control_lr == 0.04 and fr.dead_lrs == [0.08] and [a.arm.label for a in fr.arms] == ["ALWA-1", "ALWA-2"]
    assert (E(p, "alwa2", 0.04, "faster-rcnn", 1000).name, 2) in keys(specs)


def test_over_budget_the_parts_are_cut_from_the_bottom_and_a_finished_run_never_leaves_the_plan(p):
    assert decide(p, BestPlan(**{**PLAN.__dict__, "budget_h": 5.0}), [], settle_lr(p))[0].cuts == []
    tight = BestPlan(**{**PLAN.__dict__, "budget_h": 2.0})
    st, specs = decide(p, tight, [], settle_lr(p))
    assert st.cuts == [BestCut.LONG, BestCut.RLW] and st.estimate_h <= 2.0
    assert not any("rlw" in n or "it3000" in n for n, _ in keys(specs))
    st, _ = decide(p, BestPlan(**{**PLAN.__dict__, "budget_h": 0.3}), [], settle_lr(p))
    assert st.cuts == list(best.CUTS) and st.estimate_h > 0.3  # part (a) is never cut: the estimate says it is over
    done_rlw = [rec(E(p, "rlw", 0.04), 0, 0.7)]
    st2, specs2 = decide(p, tight, done_rlw, settle_lr(p))
    assert BestCut.RLW not in st2.cuts and (E(p, "rlw", 0.04).name, 0) in keys(specs2)
    # idempotent: deciding again from the same runs gives the same plan
    assert keys(decide(p, tight, done_rlw, settle_lr(p))[1]) == keys(specs2)
