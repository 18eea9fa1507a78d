"""alwa.analysis.claims: C1 from the box-shifting settings, the baselines' levels, the ALWA, overhead and ablation claims,
and every claim for the claims page."""
from mini_profile import mini

from alwa.analysis import summaries as sm
from alwa.analysis.claims import CLAIMS, all_claims, c1_claim
from alwa.analysis.records import Claim, Status


def setting(loss, shift, model, holds, holds_cv):
    return {"reg_loss": loss, "shift_range": shift, "score_model": model, "c1_holds": holds, "c1_holds_cv": holds_cv}


def test_c1_counts_the_settings_where_the_classification_spread_is_larger():
    rows = [setting("L1", 0.5, "iou", True, True), setting("L1", 1.0, "iou", False, True),
            setting("SmoothL1", 0.5, "constant", True, False), setting("CIoU", 0.5, "logistic", False, False)]
    c = c1_claim(rows)
    assert c.ours == ("per box, std(cls) > std(reg) in 50% of 4 settings (where: L1 at ±0.5 (iou), SmoothL1 at ±0.5 "
                      "(constant)); CV(cls) > CV(reg) in 50%")
    assert c.status is Status.NOT_SUPPORTED  # half is not a majority
    assert c1_claim(rows[:1] + rows[2:3]).status is Status.SUPPORTED
    assert c1_claim([]) == Claim("C1", "not run", Status.TOO_FEW_RUNS)


def test_the_claims_page_gets_every_claim_in_order_with_c8_needing_a_gpu():
    stored = {"C3": Claim("C3", "x", Status.SUPPORTED)}
    out = all_claims(stored)
    assert list(out) == CLAIMS and out["C3"] is stored["C3"]
    assert out["C8"].status is Status.NEEDS_GPU and out["C5"] == Claim("C5", "not measured yet", Status.TOO_FEW_RUNS)
    assert all_claims({"C8": Claim("C8", "measured", Status.SUPPORTED)})["C8"].ours == "measured"


def test_the_c100_ablation_row_runs_with_c100_at_every_profile():
    """The "C = 100" row is a C = 100 run: at smoke (whose setting's C is 4) its experiment names _C100 (before the
    fix it was the name without _C, trained with C = 4); at cpu (no C of its own: 100) the name keeps no _C, so the
    published runs keep their keys; a C equal to the setting's own is the name without _C."""
    from alwa.analysis.claims import ablation_experiment, window_used
    from alwa.runs.profile import load_profile
    from alwa.runs.specs import setting_c

    smoke, cpu = load_profile("smoke"), load_profile("cpu")
    assert setting_c(smoke, "faster-rcnn") == 4 and setting_c(cpu, "faster-rcnn") is None
    s100 = ablation_experiment(smoke, "l1", "C", 100)
    assert s100.interval == 100 and s100.name.endswith("_alwa2_C100") and s100.window(4) == 100
    assert window_used(smoke, 100) == 100 and window_used(smoke, 2) == 2
    assert ablation_experiment(smoke, "l1", "C", 4).name == "faster-rcnn_r18w16_mini_l1_alwa2" and window_used(smoke, 4) == 4
    c100 = ablation_experiment(cpu, "l1", "C", 100)
    assert c100.name == "faster-rcnn_r18w16_mini_l1_alwa2" and c100.interval is None and window_used(cpu, 100) == 100


def test_baseline_level_reads_the_baseline_row():
    """The prose level of a baseline (glued into the book's intro): mean and CI in points with the seed count."""
    from alwa.analysis import claims

    p = mini(backbone="r18w16", data="mini")
    res = [{"name": "retinanet_r18w16_mini_l1_base", "seed": s, "mAP": v} for s, v in enumerate([0.30, 0.31, 0.32])]
    rows = sm.summary_table(res)
    text = claims.baseline_level(rows, p, "retinanet")
    assert text.startswith("31.00 [") and text.endswith("(3 seeds)")  # mean 0.31; t-interval 0.31 +- 4.30 * 0.01 / sqrt(3)
    assert text == "31.00 [28.52, 33.48] (3 seeds)"
    assert claims.baseline_level(rows, p, "faster-rcnn") == "no runs yet"


def test_alwa_claims_say_no_runs_instead_of_nan():
    """With RetinaNet runs only, C6 has numbers, C7 says 'no paired runs yet' (never 'nan') and is 'too few runs'."""
    from alwa.analysis import claims

    p = mini(backbone="r18w16", data="mini", alwa_losses=["l1"])
    res = [{"name": f"retinanet_r18w16_mini_l1_{w}", "seed": s, "mAP": m + 0.01 * s}
           for w, m in (("base", 0.30), ("alwa1", 0.28), ("alwa2", 0.25)) for s in range(3)]
    c = claims.alwa_claims(res, p)
    assert "alwa1: -2.00 pts" in c["C6"].ours and c["C6"].status == "not supported"
    assert "nan" not in c["C7"].ours + c["C11"].ours and "no paired runs yet" in c["C7"].ours
    assert c["C7"].status == "too few runs" and c["C11"].status == "too few runs"


def _bench(ratio, lo, hi, frac):
    return {"ratio": ratio, "ratio_ci95": [lo, hi], "goal": 1.005, "hook_fraction": frac, "blocks": 20, "steps_per_block": 10}


def test_overhead_claim_status_follows_the_interval_then_the_wrapper_time():
    from alwa.analysis import claims
    from alwa.core.stats import ratio_verdict as verdict

    assert verdict(0.99, 1.004, 1.005) == "within"
    assert verdict(1.01, 1.02, 1.005) == "above"
    assert verdict(0.98, 1.03, 1.005) == "unresolved"
    assert claims.overhead_claim(_bench(1.0, 0.998, 1.003, 0.01), "cpu").status == "supported"
    assert claims.overhead_claim(_bench(1.02, 1.01, 1.03, 0.0001), "cpu").status == "not supported"
    assert claims.overhead_claim(_bench(1.0, 0.95, 1.05, 0.0004), "cpu").status == "supported"
    assert claims.overhead_claim(_bench(1.0, 0.95, 1.05, 0.02), "cpu").status == "inconclusive at mini scale"
    c = claims.overhead_claim(_bench(1.0, 0.998, 1.003, 0.0004), "smoke")
    assert c.status == "too few runs" and "0.04%" in c.ours and "[95% CI 0.998, 1]" in c.ours


def test_an_unresolved_ratio_is_said_to_be_unresolved_and_the_wrapper_share_carries_the_claim():
    """A ratio whose interval spans the goal was printed first, as if it were the evidence, beside 'supported'."""
    from alwa.analysis import claims

    c = claims.overhead_claim(_bench(1.27, 0.91, 1.78, 0.00038), "cpu")
    assert c.status == "supported" and c.ours.startswith("time inside ALWA's loss wrapper 0.038% of a step (this carries the claim)")
    assert "1.27 [95% CI 0.91, 1.78]" in c.ours and "is not resolved on this machine" in c.ours


def test_ablation_claim_measures_the_range_over_C_and_names_runs_where_alwa_never_acted():
    """C9 by hand: C=2 runs 0.40/0.42 (no window ended), C=100 runs 0.44/0.46: range 4.00 pts against a seed sd of
    1.41 pts (> 2 sd: not insensitive); the C whose runs ended no window is named."""
    from alwa.analysis import claims

    p = mini(backbone="r18w16", data="mini", abl_losses=["l1"], abl_C=[2, 100], abl_init=[0.5])
    res = [{"name": "faster-rcnn_r18w16_mini_l1_alwa2_C2", "seed": s, "mAP": m, "windows": []} for s, m in enumerate([0.40, 0.42])]
    res += [{"name": "faster-rcnn_r18w16_mini_l1_alwa2", "seed": s, "mAP": m, "windows": [{"updated": True}]}
            for s, m in enumerate([0.44, 0.46])]
    c9 = claims.ablation_claims(res, p)["C9"]
    assert c9.status == "not supported"
    assert c9.ours == "L1 C: range 4.00 pts (seed sd 1.41); C=2: no window ends within a run, so ALWA never acts there"
    close = [dict(r, mAP=r["mAP"] - 0.03) if r["name"].endswith("alwa2") else r for r in res]  # C=100 at 0.41/0.43
    c9 = claims.ablation_claims(close, p)["C9"]
    assert c9.status == "supported" and c9.ours.startswith("L1 C: range 1.00 pts (seed sd 1.41)")
    assert claims.ablation_claims([], p)["C9"].status == "too few runs"
