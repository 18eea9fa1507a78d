"""alwa.analysis.claims: C1 from the box-shifting settings, and every claim for the claims page."""
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
