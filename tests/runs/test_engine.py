"""alwa.runs.engine: the one study engine. Its rules by named properties and hand-made records; the lr and settling
studies replayed over the committed records give the plans the two engines before it gave."""
import dataclasses
import json
import math
from pathlib import Path

import pytest

from alwa.runs import settle, study
from alwa.runs.engine import (Cut, LrRule, RecordIndex, Stop, StopKind, StoppingRule, choose_cuts, estimate_h,
                              seeds_by_rule)
from alwa.runs.profile import load_profile
from alwa.runs.specs import experiment_of, make_spec
from alwa.runs.store import load_results

REPLAY = Path(__file__).parent / "data" / "plan_replay.json"


@pytest.fixture(scope="module")
def p():
    return load_profile("cpu", None, "results")


# ------------------------------------------------------------------ the replay
def _close(a, b, path=""):
    """Equal, floats to 1e-9 relative (a sum's order may differ in the last bit)."""
    if isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-9) or (math.isinf(a) and a == b), path
    elif isinstance(a, dict) and isinstance(b, dict):
        assert set(a) == set(b), path
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{path}[{i}]")
    else:
        assert a == b, path


@pytest.mark.parametrize("name,folder", [("lr", "runs"), ("settle", "settle")])
def test_replaying_the_committed_records_gives_the_plans_of_the_two_engines_before(p, name, folder):
    """The fixture holds, for prefixes of the committed records (by finish time, as the studies grew), the state and
    plan the two engines of main 1ebb498 decided. The one engine decides the same plans, run for run and in order,
    and the same states; the lr study's cost estimate now uses the engine's one definition (median training seconds
    per iteration plus each run's start), so only its number of hours may differ, and only before the end."""
    ref = json.loads(REPLAY.read_text())[name]
    recs = {f"{r['name']}__s{r['seed']}": r for r in load_results(f"results/cpu/{folder}")}
    assert len(ref) >= 10 and ref[-1]["records"] == sorted(recs)
    for case in ref:
        rs = [recs[k] for k in case["records"]]
        if name == "lr":
            st, specs = study.study_specs(p, rs)
        else:
            st, specs = settle.decide(p, settle.settle_plan_for("cpu"), rs)
        assert [s.key for s in specs] == case["plan"], f"{name}: plan differs after {len(rs)} records"
        got = json.loads(json.dumps(st.as_dict(), sort_keys=True, default=str))
        want = dict(case["state"])
        if name == "lr" and case is not ref[-1]:
            got.pop("estimate_h"), want.pop("estimate_h")
        _close(got, want, f"{name} after {len(rs)} records")


# ------------------------------------------------------------------ seeds from the profile
def test_a_profile_whose_first_seed_is_3_plans_and_tables_seeds_3_on_in_both_studies(p):
    from alwa.analysis import lrstudy, settled

    p3 = dataclasses.replace(p, seed=3)
    st, specs = study.study_specs(p3, [])
    assert {s.seed for s in specs} == {3, 4, 5}
    # calibration finished at seeds 3-5: the table has its rows, the study moves on
    lr = study.setting_lr(p3)
    cal = [{"name": experiment_of(p3, "retinanet", "l1", "base", lr=lr, iters=it).name, "seed": s, "mAP": 0.5 + it / 1e5,
            "iters": it} for it in (600, 1200, 2400, 1500, 3000) for s in (3, 4, 5)]
    st, _ = study.study_specs(p3, cal)
    assert st.stage == "lr sweep"
    rows = lrstudy.calibration_rows(cal, p3, study.plan_for("cpu"), st)
    assert [r["runs"] for r in rows] == [3] * 5

    plan = settle.SettlePlan(losses=("l1",), schedules=(100,), lrs=(0.02, 0.04, 0.08), lr_seeds=2, min_seeds=2, round_seeds=1,
                             max_seeds=2, target_half_width=1.0, budget_h=100.0)
    st, specs = settle.decide(p3, plan, [])
    assert {s.seed for s in specs} == {3, 4}
    rec = lambda e, s, m: {"name": e.name, "seed": s, "mAP": m, "iters": 100, "final_weights": [0.5, 1.0],  # noqa: E731
                           "fingerprints": {"init_state": f"s{s}"}}
    rs = [rec(settle.arm_experiment(p3, "l1", "base", lr, 100), s, 0.5 - abs(lr - 0.04)) for lr in (0.02, 0.04, 0.08) for s in (3, 4)]
    rs += [rec(settle.arm_experiment(p3, "l1", w, 0.04, 100), s, 0.5 + 0.01 * s) for w in ("alwa1", "alwa2") for s in (3, 4)]
    st, specs = settle.decide(p3, plan, rs)
    c = st.cells[0]
    assert c.tuned_lr == 0.04 and c.frozen == {3: 0.5, 4: 0.5} and {s.seed for s in specs} == {3, 4}
    rows = settled.comparisons(rs, p3, st)
    assert [r.diff.seeds for r in rows[:2]] == [(3, 4), (3, 4)]


# ------------------------------------------------------------------ the engine's pieces
def test_the_lr_rule_adds_one_lr_beyond_a_winning_edge_and_tunes_to_the_best_mean():
    rule = LrRule((0.02, 0.04, 0.08), seeds=3)
    assert rule.candidates({0.02: 0.5, 0.04: None, 0.08: 0.7}) == [0.02, 0.04, 0.08]  # not all known: no extension
    assert rule.candidates({0.02: 0.7, 0.04: 0.6, 0.08: 0.5}) == [0.01, 0.02, 0.04, 0.08]
    assert rule.candidates({0.02: 0.5, 0.04: 0.6, 0.08: 0.7}) == [0.02, 0.04, 0.08, 0.16]
    assert rule.candidates({0.02: 0.5, 0.04: 0.7, 0.08: 0.6}) == [0.02, 0.04, 0.08]
    assert LrRule((0.02, 0.04), 3, beyond_edge=False).candidates({0.02: 0.7, 0.04: 0.5}) == [0.02, 0.04]
    assert LrRule.tuned({0.02: 0.5, 0.04: 0.7}) == 0.04 and LrRule.tuned({0.02: 0.5, 0.04: None}) is None


def test_the_stopping_rule_adds_rounds_until_the_target_or_the_most_seeds():
    rule = StoppingRule(min_seeds=3, round_seeds=2, max_seeds=7, target_half_width=0.01)
    hw = {3: 0.05, 5: 0.02, 7: 0.015}
    n, _, stop = seeds_by_rule(rule, lambda n: True, lambda n: {"a": hw[n]}, True, lambda n, m: False)
    assert (n, stop) == (7, Stop(StopKind.MAX_SEEDS, 7, max_seeds=7)) and str(stop) == "7 seeds (the most the rule allows)"
    n, _, stop = seeds_by_rule(rule, lambda n: True, lambda n: {"a": 0.005}, True, lambda n, m: False)
    assert (n, stop.kind) == (3, StopKind.WITHIN_TARGET)
    n, _, stop = seeds_by_rule(rule, lambda n: n <= 3, lambda n: {"a": 0.05}, True, lambda n, m: False)
    assert (n, stop) == (5, Stop(StopKind.RUNNING, 5)) and not stop.final
    # the budget cut rounds: none begins, but a begun one (a run at seeds 3-4) is finished
    n, _, stop = seeds_by_rule(rule, lambda n: True, lambda n: {"a": 0.05}, False, lambda n, m: False)
    assert (n, stop.kind) == (3, StopKind.BUDGET)
    n, _, stop = seeds_by_rule(rule, lambda n: True, lambda n: {"a": 0.05}, False, lambda n, m: (n, m) == (3, 5))
    assert (n, stop.kind) == (5, StopKind.BUDGET)


class _Cuts(Cut):
    A = "a"
    B = "b"
    C = "c"


def test_choose_cuts_passes_over_a_cut_that_would_drop_a_finished_run(p):
    exp = lambda w: experiment_of(p, "retinanet", "l1", w, lr=0.04, iters=100)  # noqa: E731
    runs = {_Cuts.A: make_spec(p, exp("alwa1"), 0), _Cuts.B: make_spec(p, exp("alwa2"), 0), _Cuts.C: make_spec(p, exp("base"), 1)}
    plan = lambda cuts: [s for c, s in runs.items() if c not in cuts]  # noqa: E731
    cost = lambda specs: float(len(specs))  # noqa: E731
    assert choose_cuts(tuple(_Cuts), plan, set(), cost, 5.0) == ([], plan([]))  # fits: nothing cut
    assert choose_cuts(tuple(_Cuts), plan, set(), cost, 1.0)[0] == [_Cuts.A, _Cuts.B]  # in order, until it fits
    done = {runs[_Cuts.A].key}
    cuts, specs = choose_cuts(tuple(_Cuts), plan, done, cost, 1.0)
    assert cuts == [_Cuts.B, _Cuts.C] and runs[_Cuts.A] in specs  # a finished run never leaves the plan
    assert str(_Cuts.A) == "a" and _Cuts.A == "a"  # a cut reads (and stores) as its text


def test_the_estimate_counts_pending_runs_at_their_detector_speed_plus_a_start(p):
    a = make_spec(p, experiment_of(p, "retinanet", "l1", "base", iters=100), 0)
    b = make_spec(p, experiment_of(p, "faster-rcnn", "l1", "base", iters=200), 0)
    h = estimate_h([a, b], {a.key}, {"retinanet": 1.0}, workers=2, default=0.5)
    assert h == pytest.approx((200 * 0.5 + 12.0) / 2 / 3600)


def test_the_record_index_reads_by_experiment_and_seed_and_means_only_whole_finite_sets(p):
    e = experiment_of(p, "retinanet", "l1", "base", iters=100)
    idx = RecordIndex([{"name": e.name, "seed": 0, "mAP": 0.5, "wall_seconds": 3600.0}, {"name": e.name, "seed": 1, "mAP": 0.7}])
    assert idx.get(e, 0)["mAP"] == 0.5 and idx.get(e, 2) is None and set(idx.by_seed(e, range(5))) == {0, 1}
    assert idx.mean(e, [0, 1]) == pytest.approx(0.6) and idx.mean(e, [0, 1, 2]) is None
    assert RecordIndex([{"name": e.name, "seed": 0, "mAP": math.nan}]).mean(e, [0]) is None
    assert RecordIndex([{"name": e.name, "seed": 0, "mAP": "0.5"}]).mean(e, [0]) is None
    assert idx.spent_h(workers=2) == 0.5


def test_a_study_run_whose_runs_fail_exits_nonzero(tmp_path, monkeypatch):
    from alwa.cli import study as cli_study

    monkeypatch.syspath_prepend(str(Path(__file__).parents[1]))
    with pytest.raises(SystemExit) as e:
        cli_study.main(["run", "--study", "settle", "--profile", "smoke", "--results", str(tmp_path), "--max-runs", "2",
                        "--fn", "toy_worker:fail"])
    assert "run(s) of the settle study failed" in str(e.value)
