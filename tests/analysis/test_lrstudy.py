"""alwa.runs.study (which runs, decided from finished ones) and alwa.analysis.lrstudy (the analysis), on hand-made records."""

import math

import pytest

from alwa.analysis import lrstudy
from alwa.runs import study
from alwa.runs.profile import load_profile
from alwa.runs.specs import experiment_of

P = load_profile("cpu")
PLAN = study.plan_for("cpu")


def rec(exp, seed, mAP, **kw):
    """A finished run; its initial state is its seed's unless ``fingerprints`` says otherwise."""
    return {"name": exp.name, "seed": seed, "mAP": mAP, "wall_seconds": 300.0, "iters": exp.iters or 600,
            "fingerprints": {"init_state": f"s{seed}", "data": "d", "setting_version": "v1"}, **kw}


def base(lr=None, it=None, **kw):
    return experiment_of(P, "retinanet", "l1", "base", lr=lr, iters=it, **kw)


def test_names_keep_the_published_keys_and_name_what_differs():
    assert base(0.02, 600).name == "retinanet_r18w16_mini_l1_base"  # the profile's lr and schedule: no suffix
    assert base(0.04, 1200).name == "retinanet_r18w16_mini_l1_base_lr0.04_it1200"
    f = experiment_of(P, "faster-rcnn", "l1", "alwa2", lr=0.02, iters=400)
    assert f.name == "faster-rcnn_r18w16_mini_l1_alwa2"


def test_calibration_picks_the_shortest_converged_schedule():
    # 600 -> 1200 gains 3 points (not converged); 1200 -> 2400 gains 0.5 (converged): 1200
    means = {600: 0.58, 1200: 0.61, 2400: 0.615}
    rs = [rec(base(None, it), s, means[it]) for it in means for s in range(3)]
    st = study.decide(P, PLAN, rs)
    assert st.stage == "lr sweep" and st.schedule == 1200 and st.converged
    assert st.schedule_gains[600] == pytest.approx(0.03) and st.schedule_gains[1200] == pytest.approx(0.005)
    names = {s.name for s in study.all_specs(P, PLAN, st)}
    assert {base(0.02 * f, 1200).name for f in PLAN.lr_factors} <= names


def test_an_unconverged_ladder_extends_then_takes_the_longest_schedule():
    means = {600: 0.50, 1200: 0.55, 2400: 0.60}
    rs = [rec(base(None, it), s, means[it]) for it in means for s in range(3)]
    st = study.decide(P, PLAN, rs)
    assert st.stage == "calibration (extended)"
    assert {base(None, 1500).name, base(None, 3000).name} <= {s.name for s in study.all_specs(P, PLAN, st)}
    rs += [rec(base(None, it), s, m) for it, m in ((1500, 0.57), (3000, 0.62)) for s in range(3)]
    st = study.decide(P, study.StudyPlan(budget_h=1000.0), rs)
    assert st.converged is False and st.schedule == 3000 and "not converged by 3000" in st.schedule_reason


def test_the_tuned_lr_is_the_best_mean_and_the_regimes_follow():
    rs = [rec(base(None, it), s, m) for it, m in ((600, 0.58), (1200, 0.61), (2400, 0.612)) for s in range(3)]
    lr_maps = {0.25: 0.50, 0.5: 0.58, 1.0: 0.61, 2.0: 0.63, 4.0: 0.40}
    rs += [rec(base(0.02 * f, 1200), s, m) for f, m in lr_maps.items() for s in range(3)]
    st = study.decide(P, PLAN, rs)
    assert st.stage == "regimes" and st.tuned_lr == pytest.approx(0.04)
    arms = study.regime_arms(P, PLAN, 1200, st.tuned_lr, st.cuts)
    first = [(g, e.name) for g, e, _ in arms[:4]]
    assert first == [("paper", "retinanet_r18w16_mini_l1_base_lr0.08_it1200"), ("paper", "retinanet_r18w16_mini_l1_alwa1_lr0.08_it1200"),
                     ("paper", "retinanet_r18w16_mini_l1_alwa2_lr0.08_it1200"), ("control", "retinanet_r18w16_mini_l1_base_lr0.04_it1200")]
    assert all(len(seeds) >= 5 for g, e, seeds in arms if g in ("control",) or e.weighting in ("alwa1", "alwa2") and g == "paper")
    faster = [e for g, e, _ in arms if g == "faster"]
    assert {e.iters for e in faster} == {800} and {e.lr for e in faster} == {0.08, 0.04}


def test_cuts_follow_the_issues_order_when_the_plan_is_over_budget():
    plan = study.StudyPlan(budget_h=0.1)
    rs = [rec(base(None, it), s, m) for it, m in ((600, 0.58), (1200, 0.61), (2400, 0.612)) for s in range(3)]
    rs += [rec(base(0.02 * f, 1200), s, 0.6 + 0.001 * f) for f in plan.lr_factors if f != 1.0 for s in range(3)]
    st = study.decide(P, plan, rs)
    assert st.cuts == list(study.CUTS)  # everything cut that may be cut; never the ALWA-vs-control seeds
    arms = study.regime_arms(P, plan, 1200, st.tuned_lr, st.cuts)
    assert not [e for g, e, _ in arms if g == "tuned" and e.reg_loss == "smoothl1"]  # SmoothL1 in the tuned regime: cut
    assert [e for g, e, _ in arms if g == "control" and e.reg_loss == "smoothl1"]  # its lr control stays (paper regime)
    names = [e.name for _, e, _ in arms]
    assert not any("w0.25-0.25" in n or "w0.50-0.75" in n for n in names)
    assert {len(seeds) for g, e, seeds in arms if g == "faster"} == {2}
    assert all(len(seeds) == 5 for g, e, seeds in arms if g == "control" or (g == "paper" and e.weighting != "fixed"))


def test_a_cut_never_drops_a_run_that_has_finished():
    """Over budget, but a SmoothL1 tuned-regime run (the first cut) has finished: that cut is passed over (the later
    ones are taken), the run stays planned and the estimate says the plan is over budget."""
    plan = study.StudyPlan(budget_h=0.1)
    rs = [rec(base(None, it), s, m) for it, m in ((600, 0.58), (1200, 0.61), (2400, 0.612)) for s in range(3)]
    rs += [rec(base(0.02 * f, 1200), s, 0.6 + 0.001 * f) for f in plan.lr_factors if f != 1.0 for s in range(3)]
    tuned = study.decide(P, plan, rs).tuned_lr
    tuned_smoothl1 = experiment_of(P, "retinanet", "smoothl1", "alwa1", lr=tuned, iters=1200)
    rs.append(rec(tuned_smoothl1, 0, 0.6))
    st = study.decide(P, plan, rs)
    assert st.cuts == [study.StudyCut.FIXED_PAIRS, study.StudyCut.FASTER_2_SEEDS] and st.estimate_h > plan.budget_h
    assert (tuned_smoothl1.name, 0) in {(s.name, s.seed) for s in study.all_specs(P, plan, st)}
    # a finished run of a later cut's arm (0.25:0.25) keeps that cut out; the cuts before and after it are taken
    # (the engine's one rule, alwa.runs.engine.choose_cuts: a cut that would drop a finished run is passed over)
    rs[-1] = rec(experiment_of(P, "retinanet", "l1", "0.25:0.25", lr=2 * tuned, iters=1200), 0, 0.6)
    assert study.decide(P, plan, rs).cuts == [study.StudyCut.SMOOTHL1_TUNED, study.StudyCut.FASTER_2_SEEDS]


def test_step_size_is_weight_times_lr_averaged():
    e = experiment_of(P, "retinanet", "l1", "0.50:0.50", lr=0.04, iters=1200)
    r = rec(e, 0, 0.5, per_iter={"lr": [0.02, 0.04, 0.04, 0.004], "cls_weight": [1.0, 1.0, 1.0, 1.0]})
    assert lrstudy.step_size(r) == pytest.approx(0.5 * (0.02 + 0.04 + 0.04 + 0.004) / 4)
    a = experiment_of(P, "retinanet", "l1", "alwa2", lr=0.04, iters=1200)
    r = rec(a, 0, 0.5, per_iter={"lr": [0.04, 0.04], "cls_weight": [1.0, 0.25]})
    assert lrstudy.step_size(r) == pytest.approx((0.04 + 0.01) / 2)


def test_equivalence_and_alwa_vs_control_are_paired_differences():
    rs = []
    for s, (m1, mk) in enumerate([(0.58, 0.57), (0.59, 0.575), (0.60, 0.59)]):
        rs.append(rec(base(), s, m1))
        rs.append(rec(experiment_of(P, "retinanet", "l1", "0.50:0.50", lr=0.04), s, mk))
    rows = lrstudy.equivalence_table(rs, P, PLAN)
    row = next(r for r in rows if r.k == 0.5 and r.clipping.startswith("on"))
    assert row.diff.n == 3 and row.diff.mean == pytest.approx((-0.01 - 0.015 - 0.01) / 3, abs=1e-12) and row.verdict == "worse"
    assert row.as_dict() == {"comparison": row.label, "clipping": "on (max norm 10)", "k": 0.5, "loss": "l1", "n": 3, "diff": row.diff.mean,
                             "lo": row.diff.lo, "hi": row.diff.hi, "verdict": "worse", "pairs dropped": 0, "detectable": row.mde}
    assert 0 < row.mde < 0.05
    st = study.StudyState(stage="regimes", schedule=1200, tuned_lr=0.04)
    rs2 = [rec(experiment_of(P, "retinanet", loss, w, lr=lr, iters=1200), s, m)
           for loss in ("l1", "smoothl1") for s in range(5)
           for w, lr, m in (("alwa2", 0.08, 0.60 + 0.001 * s), ("base", 0.04, 0.60 + 0.001 * s + 0.0), ("base", 0.08, 0.55))]
    rows = lrstudy.alwa_vs_control(rs2, P, PLAN, st)
    d = lrstudy.find(rows, "alwa2", lrstudy.LR_CONTROL, "paper")
    per = [r for r in rows if r.regime == "paper" and r.label == "alwa2 minus lr control" and r.detector == "retinanet"]
    assert [r.loss for r in per] == ["l1", "smoothl1", "pooled"] and [r.diff.n for r in per] == [5, 5, 10]
    assert d.loss == "pooled" and d.diff.n == 10 and d.diff.mean == pytest.approx(0.0, abs=1e-12) and d.verdict == "inconclusive"
    rs2 += [rec(experiment_of(P, "retinanet", loss, "0.50:0.50", lr=0.08, iters=1200), s, 0.61 + 0.001 * s) for loss in ("l1", "smoothl1")
            for s in range(3)]
    half = lrstudy.find(lrstudy.alwa_vs_control(rs2, P, PLAN, st), lrstudy.HALF, lrstudy.LR_CONTROL, "paper")
    assert (half.regime, half.diff.n) == ("paper", 6) and half.diff.mean == pytest.approx(0.01, abs=1e-12)  # 3 seeds x 2 losses
    same = lrstudy.find(lrstudy.alwa_vs_control(rs2, P, PLAN, st), "alwa2", lrstudy.SAME_LR, "paper")
    assert same.verdict == "better" and same.diff.mean == pytest.approx(0.05 + 0.002, abs=1e-9)
    # seed 4's L1 control started elsewhere (the 49 runs of 2026-12-02): that pair is dropped, and the rows say so
    moved = [dict(r, fingerprints={"init_state": "other", "data": "d", "setting_version": "v1"})
             if r["name"] == experiment_of(P, "retinanet", "l1", "base", lr=0.04, iters=1200).name and r["seed"] == 4 else r for r in rs2]
    l1 = lrstudy.find(lrstudy.alwa_vs_control(moved, P, PLAN, st), "alwa2", lrstudy.LR_CONTROL, "paper", loss="l1")
    assert (l1.diff.n, l1.dropped) == (4, 1)


def test_step_rows_mark_each_detectors_lr_control():
    st = study.StudyState(stage="regimes", schedule=1200, tuned_lr=0.04)
    regs = lrstudy.regimes(P, st, PLAN)
    pi = {"per_iter": {"lr": [0.04], "cls_weight": [1.0]}}
    rs = [rec(base(0.04, 1200), 0, 0.7, **pi), rec(experiment_of(P, "faster-rcnn", "l1", "base", lr=0.04, iters=800), 0, 0.7, **pi),
          rec(experiment_of(P, "faster-rcnn", "l1", "base", lr=0.08, iters=800), 0, 0.1, **pi)]
    arms = [(r["detector"], r["arm"]) for r in lrstudy.step_rows(rs, P, regs)]
    assert arms == [("retinanet", "lr control"), ("faster-rcnn", "lr control"), ("faster-rcnn", "base")]


def test_regimes_place_runs_by_schedule_and_lr():
    st = study.StudyState(stage="regimes", schedule=1200, tuned_lr=0.04)
    regs = lrstudy.regimes(P, st, PLAN)
    assert [r.name for r in regs] == ["short", "tuned", "paper"]
    where = lambda e: lrstudy.regime_of(e, P, regs)  # noqa: E731
    assert where(base()) == "short" and where(base(0.04, 1200)) == "tuned" and where(base(0.08, 1200)) == "paper"
    assert where(base(0.04)) is None and where(base(None, 2400)) is None and where(base(clip=False)) is None
    assert where(experiment_of(P, "faster-rcnn", "l1", "alwa1", lr=0.08, iters=800)) == "paper"


def test_without_convergence_the_longest_schedule_that_fits_the_budget_is_taken():
    """Measured on the cpu profile: 600 -> 1200 +10.4 points, 1200 -> 2400 +7.6: not converged. Then the
    longest schedule tried whose runs fit the budget, not the cap."""
    means = {600: 0.58, 1200: 0.69, 2400: 0.765, 1500: 0.71, 3000: 0.78}
    rs = [rec(base(None, it), s, means[it], iters=it, wall_seconds=0.25 * it, train_seconds=0.25 * it) for it in means for s in range(3)]
    st = study.decide(P, PLAN, rs)
    # at 0.25 s per iteration and 12 s per run's start (alwa.runs.engine.estimate_h), 3000 and 2400 iterations do not
    # fit 8 h even with every cut; 1500 does (with cuts)
    assert st.converged is False and st.schedule == 1500 and "fit the 8 h budget" in st.schedule_reason
    roomy = study.StudyPlan(budget_h=1000.0)
    assert study.decide(P, roomy, rs).schedule == 3000
    tight = study.StudyPlan(budget_h=0.01)
    st = study.decide(P, tight, rs)
    assert st.schedule == 600 and "no schedule tried fits" in st.schedule_reason


def test_arm_means_list_every_planned_arm_with_its_finished_seeds():
    st = study.StudyState(stage="regimes", schedule=1200, tuned_lr=0.04)
    rs = [rec(experiment_of(P, "faster-rcnn", "l1", "base", lr=0.08, iters=800), s, m) for s, m in enumerate((0.10, 0.14))]
    rs += [rec(base(0.04, 1200), 0, 0.70)]
    rows = lrstudy.arm_means(rs, P, PLAN, st)
    planned = study.regime_arms(P, PLAN, 1200, 0.04)
    assert len(rows) == len(planned) and [r.group for r in rows] == [g for g, _, _ in planned]
    f = next(r for r in rows if r.detector == "faster-rcnn" and r.weighting == "base" and r.lr == 0.08)
    assert (f.n, f.n_planned, f.iters) == (2, 3, 800) and f.mean == pytest.approx(0.12)
    assert f.lo < 0.12 < f.hi  # a t-interval of two seeds: 0.12 +- 12.71 * 0.02
    assert f.hi - 0.12 == pytest.approx(12.7062 * 0.02, rel=1e-4)
    c = next(r for r in rows if r.group == "control" and r.reg_loss == "l1")
    assert (c.n, c.mean) == (1, 0.70) and math.isnan(c.lo)  # one seed: a mean, no interval
    tuned = [r for r in rows if r.group == "tuned"]
    assert next(r for r in tuned if r.weighting == "base" and r.reg_loss == "l1").mean == 0.70  # the tuned 1:1 is the control
    assert all(r.n == 0 and math.isnan(r.mean) for r in tuned if r.weighting != "base")
    assert lrstudy.arm_means(rs, P, PLAN, study.StudyState(stage="calibration")) == []


def _cmp(label, regime, diffs, loss="l1", dropped=0):
    import statistics

    from alwa.core import stats
    from alwa.core.stats import min_detectable_effect
    from alwa.analysis.records import Comparison
    method, baseline = label.split(" minus ")
    return Comparison(method, baseline, stats.paired_diff(dict(enumerate(diffs)), dict.fromkeys(range(len(diffs)), 0.0)), regime=regime,
                      detector="retinanet", loss=loss, dropped=dropped,
                      mde=min_detectable_effect(statistics.stdev(diffs), len(diffs)) if len(diffs) > 1 else math.nan)


def test_the_answer_is_per_loss_follows_the_verdicts_and_quotes_the_rows():
    worse, unsure, better = [-0.08, -0.07, -0.09], [-0.05, 0.04, 0.0], [0.02, 0.03, 0.025]
    rows = [_cmp("alwa1 minus lr control", "paper", worse), _cmp("alwa1 minus lr control", "paper", unsure, "smoothl1"),
            _cmp("alwa2 minus lr control", "tuned", worse, "smoothl1", dropped=2),
            _cmp("alwa2 minus lr control", "tuned", unsure + worse, "pooled"),  # a pooled row is not part of the answer
            _cmp("0.5:0.5 minus lr control", "paper", unsure, "smoothl1"), _cmp("0.5:0.5 minus lr control", "paper", [], "l1", 3)]
    text = lrstudy.answer(rows)
    assert text.startswith("No: ALWA never beats the lr control (1:1 at the tuned lr) on RetinaNet; per loss, ")
    assert "ALWA-1 (L1, paper regime), ALWA-2 (SmoothL1, tuned regime) end below it" in text
    assert "ALWA-1 (SmoothL1, paper regime) is not told apart from it" in text
    assert "ALWA-1 (L1, paper regime) -8.0 points [" in text and ", n = 3, worse" in text  # mean of -8, -7, -9 points
    assert "n = 6" not in text.split(" A fixed")[0]  # the pooled row is left out
    mdes = [r.mde for r in rows[:3]]
    assert f"differences of {100 * min(mdes):.1f}-{100 * max(mdes):.1f} points" in text and "2 seed(s) were left out" in text
    assert "the weight decay doubled" in text and "L1 no true pair (3 dropped: initial states differ)" in text
    yes = lrstudy.answer([_cmp("alwa2 minus lr control", "paper", better), rows[1]])
    assert yes.startswith("Yes, in part: ALWA-2 (L1, paper regime) ends above the lr control")
    assert lrstudy.answer([]).startswith("No ALWA run has an lr-control run")
    assert lrstudy.answer([rows[3]]).startswith("No ALWA run")  # pooled rows alone give no answer


def test_the_chapter_texts_say_where_the_study_stands():
    from alwa.runs.study import StudyState

    st = StudyState(stage="regimes", schedule=600, converged=False, tuned_lr=0.04, cuts=["Faster R-CNN"])
    assert lrstudy.status_text("gpu", False, st, 0, 0, False).endswith("nothing of it runs at profile gpu.")
    assert lrstudy.status_text("cpu", True, st, 94, 94, True) == "The study is complete: 94 of 94 planned runs."
    assert lrstudy.status_text("cpu", True, st, 94, 59, False).startswith(
        "The study is in progress (stage: regimes): 59 of the 94 runs planned so far have finished;")
    assert lrstudy.schedule_text(st) == "600 iterations, not converged; tuned lr 0.04; cut to fit the budget: Faster R-CNN"
    assert lrstudy.schedule_text(StudyState(stage="calibration")) == "not decided yet; tuned lr not decided yet"


def test_the_faster_rcnn_baseline_sentence_needs_both_lrs():
    from alwa.analysis.lrstudy import ArmMean
    from alwa.runs.study import StudyPlan, StudyState

    st, plan = StudyState(stage="regimes", tuned_lr=0.02), StudyPlan()

    def arm(lr, mean):
        return ArmMean("faster", "faster-rcnn", "l1", "base", lr, 600, 3, 3, mean, mean - 0.01, mean + 0.01)

    assert lrstudy.faster_baseline_text([arm(0.02, 0.5)], st, plan) == "No Faster R-CNN run of the regimes has finished yet."
    text = lrstudy.faster_baseline_text([arm(0.02, 0.5), arm(plan.paper_factor * 0.02, 0.6)], st, plan)
    assert text.startswith("Faster R-CNN's 1:1 baseline reaches 60.00 [59.00, 61.00] points at the paper regime's lr")
    assert text.endswith("against 50.00 [49.00, 51.00] at the lr control's 0.02 (n = 3 and 3).")
