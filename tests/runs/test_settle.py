"""alwa.runs.settle: the settling study's plan, decided from finished runs (hand-made records, no training)."""
import math

import pytest

from alwa.runs.profile import load_profile
from alwa.runs.engine import Stop, StopKind
from alwa.runs.settle import FROZEN_CUT, SettlePlan, arm_experiment, decide, frozen_is_cut, half_width

PLAN = SettlePlan(losses=("l1",), schedules=(100,), lrs=(0.02, 0.04, 0.08), lr_seeds=2, min_seeds=3, round_seeds=2,
                  max_seeds=5, target_half_width=0.01, budget_h=100.0)


@pytest.fixture
def p():
    return load_profile("cpu")


def rec(exp, seed, mAP, final=None, cls0=1.0):
    return {"name": exp.name, "seed": seed, "mAP": mAP, "iters": 100, "train_seconds": 20.0, "wall_seconds": 25.0,
            "final_weights": [final if final is not None else 1.0, 1.0],
            "per_iter": {"cls_raw": [cls0], "reg_raw": [0.5]}, "experiment": {"weighting": exp.weighting}}


def lr_records(p, means):
    return [rec(arm_experiment(p, "l1", "base", lr, 100), s, m) for lr, m in means.items() for s in range(PLAN.lr_seeds)]


def names(specs):
    return [(s.name, s.seed) for s in specs]


def test_the_lr_stage_comes_first_and_the_best_mean_is_the_tuned_lr(p):
    st, specs = decide(p, PLAN, [])
    assert st.stage == "lr" and len(specs) == 6 and st.cells[0].tuned_lr is None
    st, specs = decide(p, PLAN, lr_records(p, {0.02: 0.5, 0.04: 0.6, 0.08: 0.55}))
    c = st.cells[0]
    assert st.stage == "arms" and c.tuned_lr == 0.04 and c.seeds == 3
    arms = names(specs)[6:]
    assert arms[:2] == [(arm_experiment(p, "l1", w, 0.04, 100).name, 0) for w in ("alwa1", "alwa2")]
    ctrl = arm_experiment(p, "l1", "base", 0.04, 100).name  # its first seeds are the lr stage's runs at the tuned lr
    assert names(specs).count((ctrl, 0)) == 1 and (ctrl, 2) in arms


def test_a_best_lr_at_an_end_adds_one_lr_beyond_it(p):
    st, specs = decide(p, PLAN, lr_records(p, {0.02: 0.5, 0.04: 0.6, 0.08: 0.7}))
    assert st.cells[0].tuned_lr is None and 0.16 in st.cells[0].lr_means
    st, _ = decide(p, PLAN, lr_records(p, {0.02: 0.5, 0.04: 0.6, 0.08: 0.7, 0.16: 0.65}))
    assert st.cells[0].tuned_lr == 0.08


def test_frozen_runs_take_the_same_seeds_alwa2_weight_and_rounds_follow_the_rule(p):
    recs = lr_records(p, {0.02: 0.5, 0.04: 0.6, 0.08: 0.55})
    E = lambda w: arm_experiment(p, "l1", w, 0.04, 100)  # noqa: E731
    noisy = [0.0, 0.05, -0.05]  # ALWA minus control: CI far wider than +-1 point
    for s in range(3):
        recs += [rec(E("base"), s, 0.6), rec(E("alwa1"), s, 0.6 + noisy[s]), rec(E("alwa2"), s, 0.6 + noisy[s], final=0.934)]
    st, specs = decide(p, PLAN, recs)
    c = st.cells[0]
    frozen = arm_experiment(p, "l1", "fixed", 0.04, 100, cls_weight=0.93)
    assert c.frozen == {0: 0.93, 1: 0.93, 2: 0.93} and (frozen.name, 0) in names(specs)
    assert c.seeds == 5 and (E("alwa2").name, 4) in names(specs)  # one round of 2 more seeds
    for s in (3, 4):
        recs += [rec(E("base"), s, 0.6), rec(E("alwa1"), s, 0.6), rec(E("alwa2"), s, 0.6, final=0.9)]
    st, _ = decide(p, PLAN, recs)
    assert st.cells[0].seeds == 5 and st.cells[0].stop.kind is StopKind.MAX_SEEDS


def test_a_tight_comparison_stops_at_the_minimum_and_unpaired_seeds_do_not_count(p):
    recs = lr_records(p, {0.02: 0.5, 0.04: 0.6, 0.08: 0.55})
    E = lambda w: arm_experiment(p, "l1", w, 0.04, 100)  # noqa: E731
    for s in range(3):
        recs += [rec(E("base"), s, 0.6), rec(E("alwa1"), s, 0.601 + 0.001 * s), rec(E("alwa2"), s, 0.59 - 0.001 * s)]
    st, _ = decide(p, PLAN, recs)
    assert st.cells[0].seeds == 3 and st.cells[0].stop.kind is StopKind.WITHIN_TARGET
    ctrl = {s: rec(E("base"), s, 0.6) for s in range(3)}
    other = {s: rec(E("alwa1"), s, 0.6 + 0.001 * s, cls0=2.0 if s else 1.0) for s in range(3)}  # seeds 1, 2 start elsewhere
    assert math.isinf(half_width(other, ctrl))


def test_over_budget_cuts_in_the_stated_order(p):
    plan = SettlePlan(budget_h=5.0)
    st, _ = decide(p, plan, [])
    assert st.cuts[:3] == ["Faster R-CNN", "ALWA frozen at the long schedule", "the long schedule's SmoothL1"]
    assert [(c.loss, c.schedule) for c in st.cells] == [("l1", 1500), ("smoothl1", 1500), ("l1", 3000)]
    st, _ = decide(p, SettlePlan(), [])
    assert st.cuts == ["Faster R-CNN"] and st.estimate_h <= 12.0


def test_the_estimate_uses_the_median_speed(p):
    from alwa.runs.engine import seconds_per_iter

    exp = arm_experiment(p, "l1", "base", 0.04, 100)
    recs = [{"name": exp.name, "seed": s, "train_seconds": t, "iters": 100} for s, t in enumerate((20.0, 21.0, 80.0))]  # one paused
    assert seconds_per_iter(recs) == {"retinanet": 0.21} and seconds_per_iter([]) == {}


def test_over_budget_no_new_round_begins_though_a_finished_cell_cannot_be_cut(p):
    """Past the budget, the long SmoothL1 cell cannot be cut (its runs are finished), so the next cut is taken: no
    new round of seeds begins. A round already begun is finished, since cutting it would drop finished runs."""
    plan = SettlePlan(losses=("l1", "smoothl1"), schedules=(100, 200), lrs=(0.02, 0.04, 0.08), lr_seeds=2,
                      min_seeds=3, round_seeds=2, max_seeds=5, target_half_width=0.01, budget_h=0.01)
    noisy = [0.0, 0.05, -0.05, 0.04, -0.04]  # ALWA minus control: CI far wider than +-1 point
    recs = []
    for loss in plan.losses:
        for it in plan.schedules:
            E = lambda w, lr=0.04: arm_experiment(p, loss, w, lr, it)  # noqa: E731
            recs += [rec(E("base", lr), s, m) for lr, m in {0.02: 0.5, 0.04: 0.6, 0.08: 0.55}.items() for s in range(2)]
            for s in range(3):
                recs += [rec(E("base"), s, 0.6), rec(E("alwa1"), s, 0.6 + noisy[s]), rec(E("alwa2"), s, 0.6 + noisy[s])]
    E = lambda w: arm_experiment(p, "l1", w, 0.04, 100)  # noqa: E731
    recs.append(rec(E("alwa1"), 3, 0.6))  # the short L1 cell began its second round
    st, specs = decide(p, plan, recs)
    assert st.spent_h > plan.budget_h
    assert "the long schedule's SmoothL1" not in st.cuts and st.cuts[-1] == "extra rounds"
    stops = {(c.loss, c.schedule): (c.seeds, c.stop) for c in st.cells}
    assert stops[("l1", 100)][0] == 5 and stops[("l1", 100)][1] == Stop(StopKind.RUNNING, 5)
    for cell in (("smoothl1", 100), ("l1", 200), ("smoothl1", 200)):
        assert stops[cell] == (3, Stop(StopKind.BUDGET, 3)) and str(stops[cell][1]) == "further rounds cut by the budget at 3 seeds"
    assert (E("alwa2").name, 4) in names(specs)
    short_l1 = {E(w).name for w in ("base", "alwa1", "alwa2")}
    assert not [n for n, s in names(specs) if s >= 3 and n not in short_l1]


def test_the_frozen_cut_touches_only_the_longest_schedule_and_only_once_made():
    assert frozen_is_cut([FROZEN_CUT], 3000, 3000)
    assert not frozen_is_cut([FROZEN_CUT], 1500, 3000)  # the short schedule keeps its frozen arm
    assert not frozen_is_cut(["Faster R-CNN"], 3000, 3000)  # another cut leaves it
    assert not frozen_is_cut([], 3000, 3000)


@pytest.mark.parametrize("field, value, said", [
    ("final_weights", None, "an ALWA record without final_weights"),
    ("final_weights", [float("nan"), 1.0], "has final_weights [nan, 1.0], not a list of finite weights > 0"),
    ("final_weights", ["abc"], "has final_weights ['abc'], not a list of finite weights > 0"),
    ("fingerprints", {"init_state": "s0", "pretrained": ["a", "b"]}, "has fingerprints.pretrained ['a', 'b'] (list), not a hash string"),
])
def test_a_bad_settling_record_is_named_and_counted_as_missing_never_planned_from(p, tmp_path, field, value, said):
    """An ALWA-2 record whose final weight is missing, NaN or not a number, or whose fingerprints hold a list, is
    named by its file and field and counted as missing: the plan runs it again instead of dropping its frozen run
    silently, planning a run named ``..._wnan...`` or ending status in a traceback."""
    import json

    from alwa.runs.store import load_results, result_problems

    recs = lr_records(p, {0.02: 0.5, 0.04: 0.6, 0.08: 0.55})
    E = lambda w: arm_experiment(p, "l1", w, 0.04, 100)  # noqa: E731
    for s in range(3):
        recs += [rec(E("base"), s, 0.6), rec(E("alwa1"), s, 0.6), rec(E("alwa2"), s, 0.6, final=0.5)]
    bad = dict(recs[-1])
    if value is None:
        bad.pop(field)
    else:
        bad[field] = value
    recs[-1] = bad
    for r in recs:
        (tmp_path / f"{r['name']}__s{r['seed']}.json").write_text(json.dumps(r))
    problems = result_problems(tmp_path)
    assert len(problems) == 1 and f"{E('alwa2').name}__s2.json: " in problems[0] and said in problems[0]
    assert "counted as missing" in problems[0]
    st, specs = decide(p, PLAN, load_results(tmp_path))
    assert (E("alwa2").name, 2) in names(specs) and not any("_wnan" in n for n, _ in names(specs))
    assert st.cells[0].frozen == {0: 0.5, 1: 0.5}
