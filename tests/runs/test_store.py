"""alwa.runs.store: run records are checked where they are read; a bad one is named and counted as missing."""
import json
import math

import pytest

from alwa.runs.store import load_results, of_specs, pending, read_record, record_problem, result_problems

GOOD = {"name": "retinanet_r18w16_mini_l1_base", "seed": 0, "mAP": 0.58, "iters": 600, "wall_seconds": 200.0}
KEY = "retinanet_r18w16_mini_l1_base__s0"


@pytest.mark.parametrize("change, words", [
    ({"mAP": None}, "without mAP"), ({"mAP": float("nan")}, "not a finite number"), ({"mAP": "0.5"}, "'0.5' (str), not a number"),
    ({"mAP": 61.2}, "outside [0, 1] (a fraction; 61.2 looks like a percentage)"), ({"mAP": -0.1}, "outside [0, 1]"),
    ({"mAP": True}, "not a number"), ({"seed": None}, "without a seed"), ({"seed": "0"}, "not a whole number"),
    ({"name": "retinanet_r18w16_mini_l1_alwa2"}, "holds the record of retinanet_r18w16_mini_l1_alwa2__s0, not of its file's key"),
    ({"wall_seconds": "n/a"}, "has wall_seconds 'n/a', not a number"), ({"iters": 6.5}, "has iters 6.5"),
])
def test_a_bad_record_is_named_counted_as_missing_and_never_loaded(tmp_path, change, words):
    rec = {**GOOD, **change}
    if change.get("mAP", 0) is None:
        rec.pop("mAP")
    (tmp_path / f"{KEY}.json").write_text(json.dumps(rec))
    got, problem = read_record(tmp_path / f"{KEY}.json")
    assert got is None and words in problem
    assert load_results(tmp_path) == []
    assert pending([{"name": GOOD["name"], "seed": 0}], tmp_path) == [{"name": GOOD["name"], "seed": 0}]
    (line,) = result_problems(tmp_path)
    assert f"{KEY}.json: " in line and words in line and "counted as missing" in line


def test_a_good_record_passes_and_the_check_reads_no_file():
    assert record_problem(GOOD) is None and record_problem(GOOD, f"{KEY}.json") is None
    assert record_problem({**GOOD, "mAP": 0}) is None and record_problem({**GOOD, "mAP": 1.0}) is None
    assert math.isnan(float("nan"))  # NaN is refused above, never compared


def test_a_result_written_over_is_kept_not_lost(tmp_path):
    from alwa.runs.worker import REPLACED, _keep_replaced

    (tmp_path / f"{KEY}.json").write_text(json.dumps({**GOOD, "mAP": 61.2}))
    dest = _keep_replaced(tmp_path, KEY)
    assert dest.parent == tmp_path / REPLACED and json.loads(dest.read_text())["mAP"] == 61.2
    assert not (tmp_path / f"{KEY}.json").exists() and _keep_replaced(tmp_path, KEY) is None
    assert result_problems(tmp_path) == []  # the kept copy is not read as a result


def test_a_sweep_reruns_a_bad_record_and_keeps_the_old_file(tmp_path):
    from alwa.runs.sweep import run_sweep
    from alwa.runs.worker import REPLACED

    spec = {"name": "toy", "seed": 1, "work_root": str(tmp_path / "w")}
    (tmp_path / "toy__s1.json").write_text(json.dumps({"name": "toy", "seed": 1, "mAP": float("nan"), "spec": spec}))
    summary = run_sweep([spec], tmp_path, workers=1, fn="toy_worker:run", progress=False)
    assert summary["done"] == ["toy__s1"] and read_record(tmp_path / "toy__s1.json")[0]["mAP"] == 0.51
    (kept,) = (tmp_path / REPLACED).iterdir()
    assert kept.name.startswith("toy__s1.") and "NaN" in kept.read_text()


def test_a_run_whose_record_is_bad_is_a_failure_with_the_reason(tmp_path):
    from alwa.runs.sweep import run_sweep

    spec = {"name": "toy", "seed": 1, "work_root": str(tmp_path / "w")}
    summary = run_sweep([spec], tmp_path, workers=1, fn="toy_worker:percent", progress=False)
    assert summary["failed"] == ["toy__s1"]
    fail = json.loads((tmp_path / "toy__s1.failed.json").read_text())
    assert fail["error"].startswith("the run finished but its record has mAP 55.0, outside [0, 1]")


def test_the_store_loads_typed_records_once_with_their_experiment(tmp_path):
    """``load_results`` returns :class:`RunRecord` objects (selected by field, not by rebuilding names); a record
    file of any age stays readable (no spec, or a spec)."""
    from alwa.core.experiment import Experiment, RunRecord, RunSpec
    from alwa.runs.store import load_results, pending

    e = Experiment.parse("retinanet_r18w16_mini_l1_base_lr0.04_it1500")
    spec = RunSpec(e, 1, {"work_root": "w"})
    (tmp_path / f"{spec.key}.json").write_text(json.dumps({"name": e.name, "seed": 1, "mAP": 0.7, "spec": spec.to_dict()}))
    (tmp_path / f"{e.name}__s0.json").write_text(json.dumps({"name": e.name, "seed": 0, "mAP": 0.6}))
    recs = load_results(tmp_path)
    assert all(isinstance(r, RunRecord) for r in recs) and {r.seed for r in recs} == {0, 1}
    assert all(r.experiment == e for r in recs)
    assert [r.seed for r in load_results(tmp_path, [spec])] == [1]
    assert pending([spec, RunSpec(e, 2, {"work_root": "w"})], tmp_path) == [RunSpec(e, 2, {"work_root": "w"})]


def test_of_specs_keeps_only_records_of_the_same_spec():
    """Records are matched by key and by spec (a stale record with the same key is dropped;
    where the work files went does not matter); records without a spec are dropped."""
    a = {"name": "a", "seed": 0, "iters": 10, "work_root": "w1"}
    b = {"name": "b", "seed": 1, "iters": 10}
    recs = [{"spec": dict(a, work_root="w2"), "mAP": 1}, {"spec": dict(b, iters=20), "mAP": 2},
            {"spec": {"name": "c", "seed": 0}, "mAP": 3}, {"mAP": 4}]
    assert [r["mAP"] for r in of_specs(recs, [a, b])] == [1]
    assert of_specs(recs, []) == []
