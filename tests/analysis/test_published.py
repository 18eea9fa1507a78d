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


# ------------------------------------------------------------------ the per-loss verdicts, recomputed independently
# A minimal implementation of its own, from the raw record files (json, re, math and scipy's t quantile only):
# tuned lr per cell, pairs by the records' fingerprints, paired t-intervals by the textbook formula, the status
# rule as the claims page states it. It shares no code with alwa.analysis or alwa.runs.

import math  # noqa: E402
import re  # noqa: E402

NAME = re.compile(r"^retinanet_r18w16_mini_(?P<loss>l1|smoothl1)_(?P<w>base|alwa1|alwa2|w[\d.]+-[\d.]+)_lr(?P<lr>[\d.]+)_it(?P<it>\d+)$")
FP = ("init_state", "data", "pretrained", "first_batches", "setting_version")


def _raw(folder):
    out = {}
    for f in sorted((RESULTS / folder).glob("*.json")):
        r = json.loads(f.read_text())
        m = NAME.match(r.get("name", ""))
        if m:
            out[(m["loss"], int(m["it"]), m["w"], float(m["lr"]), int(r["seed"]))] = r
    return out


def _key(r):
    fp = r.get("fingerprints") or {}
    return json.dumps([fp.get(k) for k in FP]) if fp.get("init_state") else None


def _interval(a: dict, b: dict):
    """Paired mean difference (points), its 95 % t-interval, n: over seeds both have with the same initial state."""
    from scipy.stats import t

    seeds = sorted(s for s in set(a) & set(b) if _key(a[s]) is not None and _key(a[s]) == _key(b[s]))
    d = [100 * (a[s]["mAP"] - b[s]["mAP"]) for s in seeds]
    n = len(d)
    m = sum(d) / n
    sd = math.sqrt(sum((x - m) ** 2 for x in d) / (n - 1))
    h = t.ppf(0.975, n - 1) * sd / math.sqrt(n)
    return m, m - h, m + h, n


def _independent_cells():
    raw = _raw("settle")
    cells = {}
    for loss, it in sorted({(k[0], k[1]) for k in raw}):
        means = {}
        for (lo, i, w, lr, s), r in raw.items():
            if (lo, i, w) == (loss, it, "base") and s < 3:
                means.setdefault(lr, []).append(r["mAP"])
        lr = max((x for x in means if len(means[x]) == 3), key=lambda x: sum(means[x]) / 3)
        arm = {w: {s: r for (lo, i, ww, l2, s), r in raw.items() if (lo, i, ww, l2) == (loss, it, w, lr)} for w in ("base", "alwa1", "alwa2")}
        cells[(loss, it)] = {"lr": lr, **{k: _interval(arm[w], arm[b]) for k, w, b in
                                          (("alwa1", "alwa1", "base"), ("alwa2", "alwa2", "base"), ("c11", "alwa2", "alwa1"))}}
    return cells


PART = re.compile(r"(\d+) it, (ALWA-[12]|ALWA-2 minus ALWA-1) ([+-]\d+\.\d) points \[([+-]\d+\.\d), ([+-]\d+\.\d)\], n = (\d+)")


def test_the_per_loss_verdicts_equal_an_independent_recomputation_from_the_raw_records():
    cells = _independent_cells()
    store = json.loads((RESULTS / "claims" / "by_loss.json").read_text())["by_loss"]
    gains = {("l1", "alwa1"): 0.82, ("l1", "alwa2"): 0.96, ("smoothl1", "alwa1"): 0.78, ("smoothl1", "alwa2"): 1.14}  # table 2, R-50
    checked = 0
    for cid, which in (("C6", ("alwa1", "alwa2")), ("C11", ("c11",))):
        for loss, claim in store[cid].items():
            parts = PART.findall(claim["ours"])
            mine = [(it, w, cells[(loss, it)][w]) for (lo, it) in sorted(cells) if lo == loss for w in which]
            assert len(parts) == len(mine) and len(parts) >= 2
            for (it, label, m, lo, hi, n), (it2, w, (mm, ll, hh, nn)) in zip(parts, mine):
                assert int(it) == it2 and int(n) == nn
                for shown, exact in ((m, mm), (lo, ll), (hi, hh)):
                    assert abs(float(shown) - exact) <= 0.05 + 1e-9, (cid, loss, it, label, shown, exact)
                checked += 1
            # the rule: not supported where every part's interval lies below the paper's gain (C6) or below 0 (C11)
            below = all(hh < (gains[(loss, w)] if cid == "C6" else 0.0) for _, w, (_, _, hh, _) in mine)
            assert (claim["status"] == "not supported") == below
    assert checked == 12


def test_the_headline_counts_equal_the_independent_recomputation():
    """The answer the book leads with: how many ALWA-vs-control intervals lie below 0, span it, or lie above +1 point."""
    from alwa.analysis import settled
    from alwa.runs import settle

    cells = _independent_cells()
    ivs = [cells[c][w] for c in cells for w in ("alwa1", "alwa2")]
    worse, spans, above = sum(h < 0 for _, _, h, _ in ivs), sum(lo <= 0 <= h for _, lo, h, _ in ivs), sum(h >= 1 for *_, h, _ in ivs)
    p = load_profile("cpu", results_root=str(ROOT / "results"))
    records = load_results(RESULTS / "settle")
    st, _ = settle.decide(p, settle.settle_plan_for("cpu"), records)
    text = settled.headline(records, p, st)
    assert f"below it in {worse} of the {len(ivs)} comparisons" in text and (worse, spans, above) == (7, 1, 0)
    assert "lies above all 8 intervals" in text


def _key_or_observed(r):
    """The fingerprint key, or for a record without fingerprints the first raw losses (4 decimals)."""
    k = _key(r)
    if k is not None:
        return k
    per = r.get("per_iter") or {}
    return json.dumps([round(per["cls_raw"][0], 4), round(per["reg_raw"][0], 4)]) if per.get("cls_raw") else None


def test_the_regime_verdicts_of_the_tuned_regime_equal_an_independent_recomputation():
    """claims/regimes.json, tuned regime: C6 (ALWA-1 and ALWA-2 minus 1:1 at the tuned lr) and C11 (ALWA-2 minus ALWA-1),
    pooled over both losses, paired by (loss, seed) where the initial states agree."""
    from scipy.stats import t

    raw = _raw("runs")
    ctx = json.loads((RESULTS / "claims" / "regimes.json").read_text())
    lr, it = ctx["context"]["tuned_lr"], ctx["context"]["schedule"]

    def pooled(w, b):
        d = []
        for loss in ("l1", "smoothl1"):
            for s in range(30):
                x, y = raw.get((loss, it, w, lr, s)), raw.get((loss, it, b, lr, s))
                if x and y and _key_or_observed(x) is not None and _key_or_observed(x) == _key_or_observed(y):
                    d.append(100 * (x["mAP"] - y["mAP"]))
        n, m = len(d), sum(d) / len(d)
        h = t.ppf(0.975, n - 1) * math.sqrt(sum((v - m) ** 2 for v in d) / (n - 1)) / math.sqrt(n)
        return m, m - h, m + h, n

    shown = re.compile(r"([+-]\d+\.\d\d) pts \[([+-]\d+\.\d\d), ([+-]\d+\.\d\d)\] \(n=(\d+)\)")
    c6 = shown.findall(ctx["by_regime"]["C6"]["tuned"]["ours"])
    c11 = shown.findall(ctx["by_regime"]["C11"]["tuned"]["ours"])
    for got, want in zip(c6 + c11, [pooled("alwa1", "base"), pooled("alwa2", "base"), pooled("alwa2", "alwa1")]):
        assert int(got[3]) == want[3] and all(abs(float(g) - w) <= 0.005 + 1e-9 for g, w in zip(got[:3], want[:3])), (got, want)
    assert len(c6) == 2 and len(c11) == 1
