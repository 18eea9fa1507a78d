"""The published numbers do not change: the claims C2-C7, C9 and C11 and the tables rebuilt from the committed
run records of the cpu profile equal the committed claim records and tables (what the book shows)."""

import json
from pathlib import Path

import pytest

from alwa.analysis import claims, summaries as sm
from alwa.runs import specs as ex
from alwa.report.store import paper_tables
from alwa.runs.profile import load_profile
from alwa.runs.store import load_results, of_specs

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "results" / "cpu"


@pytest.fixture(scope="module")
def cpu():
    p = load_profile("cpu", results_root=str(ROOT / "results"))
    return p, load_results(RESULTS / "runs", ex.profile_specs(p))


def committed(part: str) -> dict:
    return json.loads((RESULTS / "claims" / f"{part}.json").read_text())["claims"]


def as_json(claims_by_id: dict) -> dict:
    """Claim records as the claims files hold them (a JSON round trip of :meth:`Claim.as_dict`)."""
    return json.loads(json.dumps({cid: c.as_dict() for cid, c in claims_by_id.items()}))


def same(a, b):
    """Equal, floats to 12 significant digits (JSON round trip)."""
    if isinstance(a, float) or isinstance(b, float):
        return a == pytest.approx(b, rel=1e-12, abs=1e-15)
    if isinstance(a, dict):
        return set(a) == set(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def test_the_published_runs_are_all_there(cpu):
    p, results = cpu
    assert len(results) == len(ex.profile_specs(p)) == 153


def test_grid_claims_and_table1_unchanged(cpu):
    p, results = cpu
    grid = of_specs(results, ex.grid_specs(p))
    rows = sm.summary_table(grid)
    measured = as_json(claims.grid_claims(rows, grid, p, p.curve_window))
    assert same(measured, committed("grid"))
    table, _ = claims.table1(rows, paper_tables(), p)
    assert same(json.loads(json.dumps(table)), json.loads((RESULTS / "tables" / "table1.json").read_text())["rows"])


def test_alwa_claims_and_tables23_unchanged(cpu):
    p, results = cpu
    alwa = of_specs(results, ex.alwa_specs(p))
    measured = as_json(claims.alwa_claims(alwa, p))
    want = committed("alwa")
    assert same(measured, {k: v for k, v in want.items() if k != "C10"})  # C10: the benchmark's records, below
    table, _ = claims.alwa_table(sm.summary_table(alwa), paper_tables(), p)
    assert same(json.loads(json.dumps(table)), json.loads((RESULTS / "tables" / "tables23.json").read_text())["rows"])


def test_the_overhead_claim_comes_from_the_stored_benchmark_records():
    """C10 is rendered from the stored train-step record (and the latest GPU check), never measured by a render."""
    from alwa.bench.gpu import load_records

    bench = json.loads((RESULTS / "bench" / "train_step.json").read_text())
    gpu = load_records(ROOT / "results" / "gpu_check")
    measured = as_json({"C10": claims.overhead_claim(bench, "cpu", gpu=gpu[-1] if gpu else None)})
    assert same(measured["C10"], committed("alwa")["C10"])


def test_ablation_claims_unchanged(cpu):
    p, results = cpu
    abl = of_specs(results, ex.ablation_specs(p))
    assert same(as_json(claims.ablation_claims(abl, p)), committed("ablation"))
    table = json.loads(json.dumps(claims.ablation_table(sm.summary_table(abl), paper_tables(), p)))
    want = [{k: v for k, v in r.items() if k != "windows per run"} for r in json.loads((RESULTS / "tables" / "tables78.json").read_text())["rows"]]
    assert same(table, want)


def test_c1_is_unchanged_and_stored_in_the_claim_store():
    """C1 from the box-shifting record's settings equals the stored claim (claims/box_shifting.json)."""
    rows = json.loads((RESULTS / "box_shifting" / "c1.json").read_text())["rows"]
    assert same(as_json({"C1": claims.c1_claim(rows)}), committed("box_shifting"))
