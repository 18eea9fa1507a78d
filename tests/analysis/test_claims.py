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


def test_the_c100_ablation_row_says_which_window_its_runs_used():
    """A C = 100 run has no _C in its name and trains with the setting's C where the profile sets one (smoke: 4)."""
    from alwa.analysis.claims import window_used
    from alwa.runs.profile import load_profile

    smoke, cpu = load_profile("smoke"), load_profile("cpu")
    assert window_used(smoke, 100) == 4 and window_used(smoke, 2) == 2
    assert cpu.mini_setting("faster-rcnn").interval is None and window_used(cpu, 100) == 100
