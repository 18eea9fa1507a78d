"""The analysis layer's typed records: statuses are a closed set, claims round-trip through the claims files'
schema, paired differences decide their verdict from their interval."""

import json
import math

import pytest

from alwa.runs.profile import load_profile
from alwa.analysis.records import Claim, Comparison, PairedDiff, Status, SummaryRow, Verdict, claims_of, verdict_status
from alwa.report.store import load_claims, save_claims


def test_a_claim_refuses_a_status_outside_the_enum():
    with pytest.raises(ValueError, match="claim C6: unknown status 'suported'"):
        Claim("C6", "x", "suported")
    assert Claim("C6", "x", "supported").status is Status.SUPPORTED


def test_a_claim_round_trips_through_the_files_schema():
    c = Claim("C9", "range 1.00 pts", Status.NOT_SUPPORTED, note="n", values={"a": 1})
    d = c.as_dict()
    assert d == {"ours": "range 1.00 pts", "status": "not supported", "note": "n", "values": {"a": 1}}
    assert json.loads(json.dumps(d))["status"] == "not supported"  # a StrEnum writes its text
    assert Claim.from_dict("C9", d) == c
    assert "paper" not in Claim("C1", "y", Status.TOO_FEW_RUNS).as_dict()  # only the keys a claim has


def test_saved_claims_load_back_typed_and_a_bad_file_is_refused(tmp_path):
    p = load_profile("smoke", results_root=str(tmp_path))
    save_claims(p, "grid", {"C2": Claim("C2", "share 0.8", Status.SUPPORTED)})
    assert load_claims(tmp_path, "smoke") == {"C2": Claim("C2", "share 0.8", Status.SUPPORTED)}
    (tmp_path / "smoke" / "claims" / "bad.json").write_text(json.dumps({"claims": {"C3": {"ours": "", "status": "maybe"}}}))
    with pytest.raises(ValueError, match="C3: unknown status 'maybe'"):
        load_claims(tmp_path, "smoke")


@pytest.mark.parametrize("lo, hi, n, want", [(0.01, 0.03, 3, Verdict.BETTER), (-0.03, -0.01, 3, Verdict.WORSE),
                                             (-0.01, 0.02, 3, Verdict.INCONCLUSIVE), (math.nan, math.nan, 1, Verdict.TOO_FEW_SEEDS)])
def test_a_paired_difference_decides_its_verdict_from_its_interval(lo, hi, n, want):
    d = PairedDiff(n=n, mean=0.0, lo=lo, hi=hi)
    assert d.verdict is want and d.lo is lo and d.as_dict()["lo"] is lo


def test_claims_of_keeps_claims_and_types_dicts():
    c = Claim("C4", "z", Status.INCONCLUSIVE_MINI)
    out = claims_of({"C4": c, "C5": {"ours": "w", "status": "needs GPU"}})
    assert out["C4"] is c and out["C5"] == Claim("C5", "w", Status.NEEDS_GPU)


def test_a_summary_row_flattens_to_the_columns_the_rows_always_had():
    d = PairedDiff(n=3, seeds=(0, 1, 2), mean=0.02, lo=0.01, hi=0.03, p=0.01)
    row = SummaryRow("retinanet_r18w16_mini_l1_alwa2", n=3, mean=0.6, std=0.01, lo=0.58, hi=0.62, diff=d)
    assert row.verdict is Verdict.BETTER and row.diff_mean == 0.02
    assert row.as_dict() == {"name": "retinanet_r18w16_mini_l1_alwa2", "n": 3, "mean": 0.6, "std": 0.01, "lo": 0.58, "hi": 0.62,
                             "diff": 0.02, "diff_lo": 0.01, "diff_hi": 0.03, "diff_p": 0.01, "diff_n": 3, "verdict": "better"}
    base = SummaryRow("retinanet_r18w16_mini_l1_base", n=3, mean=0.58)
    assert base.verdict is None and math.isnan(base.diff_mean) and set(base.as_dict()) == {"name", "n", "mean", "std", "lo", "hi"}


def test_a_comparison_reads_a_spanning_interval_as_inconclusive():
    spans = Comparison("alwa2", "lr control", PairedDiff(n=5, mean=0.001, lo=-0.01, hi=0.012), regime="paper", detector="retinanet")
    assert spans.verdict == "inconclusive"
    d = spans.as_dict()
    assert math.isnan(d.pop("detectable")) and d == {"comparison": "alwa2 minus lr control", "regime": "paper", "detector": "retinanet",
                                                     "n": 5, "diff": 0.001, "lo": -0.01, "hi": 0.012, "verdict": "inconclusive",
                                                     "pairs dropped": 0}
    assert Comparison("x", "y", PairedDiff(n=1)).verdict == "too few seeds"


def test_one_vocabulary_one_mapping_to_a_claim_status():
    """A summary row and a study comparison of the same interval say the same word, and a verdict gives one status."""
    d = PairedDiff(n=5, mean=0.001, lo=-0.01, hi=0.012)
    assert SummaryRow("x", n=5, diff=d).as_dict()["verdict"] == Comparison("x", "y", d).as_dict()["verdict"] == "inconclusive"
    assert {v: verdict_status(v) for v in Verdict} == {Verdict.BETTER: Status.SUPPORTED, Verdict.WORSE: Status.NOT_SUPPORTED,
                                              Verdict.INCONCLUSIVE: Status.INCONCLUSIVE,
                                              Verdict.TOO_FEW_SEEDS: Status.TOO_FEW_RUNS}


@pytest.mark.parametrize("parts, want", [
    ([Status.NOT_SUPPORTED, Status.SUPPORTED], Status.SUPPORTED), ([Status.TOO_FEW_RUNS] * 2, Status.TOO_FEW_RUNS),
    ([Status.NOT_SUPPORTED] * 2, Status.NOT_SUPPORTED), ([Status.NOT_SUPPORTED, Status.INCONCLUSIVE], Status.INCONCLUSIVE_MINI),
    ([Status.NOT_SUPPORTED, Status.TOO_FEW_RUNS], Status.INCONCLUSIVE_MINI),
    ([Status.INCONCLUSIVE] * 2, Status.INCONCLUSIVE),  # parts that agree keep their word (was 'at mini scale' here)
])
def test_a_claim_of_several_parts_combines_their_statuses(parts, want):
    from alwa.analysis.records import combined_status

    assert combined_status(parts) is want


def test_the_regime_claims_combine_their_parts_by_the_one_rule(monkeypatch):
    """The learning-rate study's regimes used a rule of their own (not supported + inconclusive gave 'inconclusive');
    every claim now combines its parts with combined_status."""
    from alwa.analysis import lrstudy
    from alwa.analysis import records as rec

    seen = []
    monkeypatch.setattr(lrstudy, "combined_status", lambda sts: seen.append(list(sts)) or rec.combined_status(sts))
    from alwa.runs import study
    from alwa.runs.profile import load_profile
    from alwa.runs.store import load_results

    p = load_profile("cpu", None, "results")
    records = load_results("results/cpu/runs")
    st, _ = study.study_specs(p, records)
    lrstudy.regime_claims(records, p, study.plan_for("cpu"), st, {})
    assert len(seen) == 3  # C6 tuned, C6 paper, C7 paper: each of several parts
    assert rec.combined_status([Status.NOT_SUPPORTED, Status.INCONCLUSIVE]) is Status.INCONCLUSIVE_MINI
