"""alwa.analysis.settled: the settling study's comparisons per loss and schedule (hand-made records, no training)."""
import math
import statistics

import pytest
from scipy import stats as st

from alwa.analysis import settled
from alwa.runs.profile import load_profile
from alwa.runs.engine import Stop, StopKind
from alwa.runs.settle import Cell, SettleState, arm_experiment


@pytest.fixture
def p():
    return load_profile("cpu")


def rec(exp, seed, mAP, init=None, final=1.0):
    fp = {"init_state": init or f"s{seed}", "data": "d", "pretrained": "b", "first_batches": [1, 2], "setting_version": 1}
    return {"name": exp.name, "seed": seed, "mAP": mAP, "fingerprints": fp, "final_weights": [final, 1.0],
            "experiment": {"weighting": exp.weighting}}


CTRL = [0.70, 0.72, 0.69, 0.71]
ALWA1 = [0.71, 0.72, 0.71, 0.72]  # minus the control: +1, 0, +2, +1 points
ALWA2 = [0.66, 0.69, 0.66, 0.67]  # -4, -3, -3, -4


def study(p, seeds=4, frozen_init=None):
    E = lambda w, **kw: arm_experiment(p, "l1", w, 0.04, 1500, **kw)  # noqa: E731
    recs = [rec(E("base"), s, CTRL[s]) for s in range(seeds)]
    recs += [rec(E("alwa1"), s, ALWA1[s]) for s in range(seeds)]
    recs += [rec(E("alwa2"), s, ALWA2[s], final=0.93) for s in range(seeds)]
    recs += [rec(E("fixed", cls_weight=0.93), s, CTRL[s] - 0.01, init=(frozen_init or {}).get(s)) for s in range(seeds)]
    cell = Cell("l1", 1500, lr_means={0.04: 0.7}, tuned_lr=0.04, seeds=seeds, frozen={s: 0.93 for s in range(seeds)})
    untuned = Cell("smoothl1", 1500, lr_means={0.04: None})
    return recs, SettleState("arms", cells=[cell, untuned], cuts=["Faster R-CNN"], estimate_h=3.0, spent_h=1.0)


def test_each_arm_minus_the_control_is_the_paired_t_interval_per_tuned_cell(p):
    recs, state = study(p)
    rows = settled.comparisons(recs, p, state)
    assert [r.label for r in rows] == ["ALWA-1 minus control", "ALWA-2 minus control", "ALWA frozen minus control",
                                       "ALWA-2 minus ALWA frozen"]  # the untuned SmoothL1 cell has no row
    assert all(r.loss == "l1" and r.regime == "1500 it, lr 0.04" and r.detector == "retinanet" for r in rows)
    a1 = rows[0]
    diffs = [a - c for a, c in zip(ALWA1, CTRL)]
    ref = st.ttest_rel(ALWA1, CTRL).confidence_interval()
    assert a1.diff.n == 4 and a1.diff.mean == pytest.approx(0.01)
    assert (a1.diff.lo, a1.diff.hi) == (pytest.approx(ref.low), pytest.approx(ref.high))
    assert a1.dropped == 0 and a1.mde > statistics.stdev(diffs)  # 4 pairs detect no less than one sd
    assert rows[2].diff.mean == pytest.approx(-0.01) and rows[2].diff.n == 4  # frozen: the control minus 1 point
    assert str(rows[1].verdict) == "worse"


def test_pairs_whose_runs_started_elsewhere_are_dropped_and_counted(p):
    recs, state = study(p, frozen_init={1: "elsewhere", 3: "elsewhere"})
    rows = {r.label: r for r in settled.comparisons(recs, p, state)}
    frozen = rows["ALWA frozen minus control"]
    assert frozen.diff.n == 2 and frozen.dropped == 2 and frozen.diff.seeds == (0, 2)
    assert rows["ALWA-1 minus control"].dropped == 0
    assert "2 pair(s) dropped" in settled.fmt_row(frozen)


def test_a_row_says_n_the_interval_and_what_the_design_detects(p):
    recs, state = study(p)
    line = settled.fmt_row(settled.comparisons(recs, p, state)[0])
    assert line.startswith("l1       1500 it, lr 0.04: ALWA-1 minus control: +1.00 [")
    assert "pts, n=4; detectable " in line and line.endswith("(inconclusive)")
    recs, state = study(p, seeds=1)
    assert "n=1" in settled.fmt_row(settled.comparisons(recs, p, state)[0]) and "no interval" in settled.fmt_row(
        settled.comparisons(recs, p, state)[0])
    assert math.isnan(settled.comparisons(recs, p, state)[0].mde)


def test_the_cells_table_and_the_status_line(p):
    _, state = study(p)
    rows = settled.cells_table(state)
    assert rows[0]["lr: mean mAP (pts)"] == "0.04: 70.0" and rows[0]["tuned lr"] == 0.04 and rows[0]["seeds"] == 4
    assert rows[1]["lr: mean mAP (pts)"] == "0.04: -" and rows[1]["state"] == "lr sweep running"
    line = settled.status_line(state, planned=30, done=12, budget_h=12)
    assert line.startswith("**12 of 30 planned runs done** (stage: arms; estimated 3.0 h of the 12 h budget")
    assert "interim" in line and "interim" not in settled.status_line(SettleState("done", estimate_h=3.0), 30, 30, 12)


def test_the_answer_says_per_cell_where_a_one_point_gain_is_excluded(p):
    recs, state = study(p)
    text = settled.answer(recs, p, state)
    assert text.startswith("Interim, until the plan is done: ")  # stage 'arms'
    assert "L1 at 1500 iterations (lr 0.04): ALWA-1 +1.0 points [" in text and ", n = 4, inconclusive, detectable " in text
    assert "lies above the interval of ALWA-2 (L1, 1500 it); it is not excluded for ALWA-1 (L1, 1500 it)." in text
    assert "ALWA-2 minus ALWA frozen" in text and "Twice the training" not in text  # one schedule only
    done = SettleState("done", cells=state.cells[:1])
    assert settled.answer(recs, p, done).startswith("Each arm minus the lr control")
    assert "no answer so far" in settled.answer([], p, state)


def test_the_answer_compares_the_two_schedules_where_both_have_pairs(p):
    recs, state = study(p)
    E = lambda w: arm_experiment(p, "l1", w, 0.04, 3000)  # noqa: E731
    recs += [rec(E("base"), s, 0.75) for s in range(4)] + [rec(E("alwa1"), s, 0.75) for s in range(4)]
    recs += [rec(E("alwa2"), s, 0.73 + 0.002 * s) for s in range(4)]  # -2.0 .. -1.4: mean -1.7
    state.cells.append(Cell("l1", 3000, lr_means={0.04: 0.75}, tuned_lr=0.04, seeds=4))
    text = settled.answer(recs, p, state)
    assert "Twice the training: ALWA-1 on L1 +1.0 at 1500 and +0.0 at 3000; ALWA-2 on L1 -3.5 at 1500 and -1.7 at 3000 points." in text


def test_the_answer_says_when_runs_started_from_two_backbones(p):
    recs, state = study(p)
    assert "Note:" not in settled.answer(recs, p, state)
    recs[0] = {**recs[0], "fingerprints": {**recs[0]["fingerprints"], "pretrained": "other"}}
    assert settled.answer(iter(recs), p, state).endswith("a run pairs only with runs made from the same one.")


def test_c6_and_c11_per_loss_combine_the_arms_of_every_tuned_schedule(p):
    recs, state = study(p)
    by = settled.loss_claims(recs, p, state)
    c6, c11 = by["C6"]["l1"], by["C11"]["l1"]
    assert c6.ours.startswith("1500 it, ALWA-1 +1.0 points [") and "; 1500 it, ALWA-2 -3.5 points [" in c6.ours
    assert str(c6.status) == "inconclusive at mini scale"  # ALWA-1 inconclusive, ALWA-2 worse
    assert c11.ours.startswith("1500 it, ALWA-2 minus ALWA-1 -4.5 points [") and str(c11.status) == "not supported"
    assert str(by["C6"]["smoothl1"].status) == "not run yet"  # its lr is not tuned


def test_a_cell_without_frozen_runs_for_the_budget_has_no_frozen_rows_and_the_answer_says_why(p):
    recs, state = study(p)
    E = lambda w: arm_experiment(p, "l1", w, 0.04, 3000)  # noqa: E731
    recs += [rec(E("base"), s, 0.75) for s in range(4)] + [rec(E("alwa1"), s, 0.75) for s in range(4)]
    recs += [rec(E("alwa2"), s, 0.73 + 0.002 * s) for s in range(4)]
    long = Cell("l1", 3000, lr_means={0.04: 0.75}, tuned_lr=0.04, seeds=4, half_widths={"alwa1": 0.0, "alwa2": 0.0123},
                stop=Stop(StopKind.BUDGET, 4))
    state = SettleState("done", cells=state.cells + [long], cuts=["Faster R-CNN", "ALWA frozen at the long schedule",
                                                                   "extra rounds"])
    rows = settled.comparisons(recs, p, state)
    assert [r.label for r in rows if r.regime.startswith("3000")] == ["ALWA-1 minus control", "ALWA-2 minus control"]
    assert len([r for r in rows if r.regime.startswith("1500")]) == 4  # the short schedule keeps its frozen rows
    text = settled.answer(recs, p, state)
    assert "ALWA frozen was not run at 3000 iterations (cut by the budget)." in text and "no pair" not in text
    assert ("L1 at 3000 it stopped at 4 seeds for the budget, with ALWA-1's interval ±0.0, ALWA-2's interval ±1.2 "
            "points (the stopping rule aims at ±1).") in text
    assert "ALWA-2 minus ALWA frozen (1:1" in text and "L1 at 3000 it +" not in text.split("ALWA-2 minus ALWA frozen (1:1")[1]


def test_the_headline_counts_the_alwa_rows_names_the_untold_one_and_says_interim(p):
    # ALWA-1 minus control: +1, 0, +2, +1 points: mean +1, sd 0.816, t(3) 3.182 -> [-0.30, +2.30], not told apart;
    # ALWA-2: -4, -3, -3, -4: mean -3.5, sd 0.577 -> [-4.42, -2.58], below the control and below +1
    recs, state = study(p)
    text = settled.headline(recs, p, state)
    assert text.startswith("Not settled (interim, until the plan is done): against the lr control")
    assert "ends below it in 1 of the 2 comparisons per loss and schedule and above it in none" in text
    assert "not told apart: ALWA-1 (L1, 1500 it) +1.0 points [-0.3, +2.3], n = 4, inconclusive." in text
    assert "lies above 1 of the 2 intervals" in text and "Each comparison pairs 4 seeds" in text


def test_the_headline_says_no_only_when_every_interval_excludes_the_papers_point_and_none_is_better(p):
    recs, state = study(p)
    done = SettleState("done", cells=state.cells, cuts=state.cuts, estimate_h=3.0, spent_h=3.0)
    shifted = [dict(r, mAP=r["mAP"] - 0.02) if r["experiment"]["weighting"] == "alwa1" else r for r in recs]
    text = settled.headline(shifted, p, done)  # ALWA-1 now -1, -2, 0, -1: [-2.30, +0.30], below +1
    assert text.startswith("No: ") and "lies above all 2 intervals" in text and "not told apart: ALWA-1" in text
    lifted = [dict(r, mAP=r["mAP"] + 0.01) if r["experiment"]["weighting"] == "alwa1" else r for r in recs]
    text = settled.headline(lifted, p, done)  # ALWA-1 now +2, +1, +3, +2: [+0.70, +3.30], above the control
    assert text.startswith("In part: ") and "above it in 1" in text and "lies above 1 of the 2 intervals" in text
    assert settled.headline([], p, done) == "The settling study has no paired comparison of ALWA with the lr control yet."


PAPER = {"table2": {"columns": ["L1", "SmoothL1"], "rows": {"R50": [0.75, 0.75], "R50+ALWA1": [0.7582, 0.7578],
                                                             "R50+ALWA2": [0.7596, 0.7614]}}}


def test_c6_per_loss_is_not_supported_where_every_interval_lies_below_the_papers_own_gain(p):
    recs, state = study(p)
    lower = [dict(r, mAP=r["mAP"] - 0.02) if r["experiment"]["weighting"] == "alwa1" else r for r in recs]
    # ALWA-1 minus control -1, -2, 0, -1 points: [-2.30, +0.30], not told apart from 0 but below the paper's +0.82
    c6 = settled.loss_claims(lower, p, state, PAPER)["C6"]["l1"]
    assert str(c6.status) == "not supported"
    assert "1500 it, ALWA-1 -1.0 points [-2.3, +0.3], n = 4, inconclusive (paper +0.82)" in c6.ours
    assert "1500 it, ALWA-2 -3.5 points [-4.4, -2.6], n = 4, worse (paper +0.96)" in c6.ours
    assert str(settled.loss_claims(lower, p, state)["C6"]["l1"].status) == "inconclusive at mini scale"  # no tables
    c6 = settled.loss_claims(recs, p, state, PAPER)["C6"]["l1"]  # ALWA-1 [-0.30, +2.30]: the paper's gain inside
    assert str(c6.status) == "inconclusive at mini scale"


def test_a_gain_is_supported_by_a_better_part_and_judged_against_zero_where_the_paper_gives_none():
    from alwa.analysis.records import Comparison, PairedDiff

    def part(lo, hi):
        return Comparison("x", "y", PairedDiff(10, tuple(range(10)), (lo + hi) / 2, lo, hi, 0.01))

    assert str(settled.gain_status([(part(0.001, 0.02), 0.01), (part(-0.05, -0.03), 0.01)])) == "supported"
    assert str(settled.gain_status([(part(-0.01, 0.005), 0.008), (part(-0.05, -0.03), None)])) == "not supported"
    assert str(settled.gain_status([(part(-0.01, 0.005), None)])) == "inconclusive"  # spans 0: the one part's own verdict
    assert str(settled.gain_status([(part(-0.01, 0.005), -0.002)])) == "inconclusive"  # no gain: 0
