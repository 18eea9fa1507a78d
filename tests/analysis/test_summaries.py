"""alwa.analysis.summaries: the summary rows (paired against the baseline), weight summaries, the target check."""

import json
import math

import pytest

from alwa.analysis import summaries as sm
from alwa.core.experiment import Experiment
from alwa.report import tables
from alwa.runs import specs as ex
from alwa.runs.profile import load_profile


def test_summary_table_pairs_against_the_baseline():
    res = [{"name": "retinanet_r18w16_mini_l1_base", "seed": s, "mAP": 0.6 + 0.01 * s} for s in range(3)]
    res += [{"name": "retinanet_r18w16_mini_l1_alwa2", "seed": s, "mAP": 0.62 + 0.01 * s + 0.001 * (s % 2)} for s in range(3)]
    rows = sm.rows_by_experiment(sm.summary_table(res))
    base, alwa = rows[Experiment.parse("retinanet_r18w16_mini_l1_base")], rows[Experiment.parse("retinanet_r18w16_mini_l1_alwa2")]
    assert base.diff is None and base.verdict is None and "diff" not in base.as_dict()
    assert (base.n, base.mean) == (3, pytest.approx(0.61)) and base.lo < 0.61 < base.hi
    assert alwa.diff.n == 3 and alwa.diff.mean == pytest.approx(0.02 + 0.001 / 3) and alwa.diff_mean == alwa.diff.mean
    assert alwa.verdict == "better" and alwa.as_dict()["verdict"] == "better" and alwa.as_dict()["diff_n"] == 3
    # a method whose baseline has no runs: no difference, and a row of an experiment without runs is empty
    lone = sm.summary_table([{"name": "retinanet_r18w16_mini_ciou_alwa1", "seed": 0, "mAP": 0.5}])[0]
    assert lone.diff is None and lone.n == 1 and math.isnan(lone.lo)
    empty = sm.row_of([], Experiment.parse("retinanet_r18w16_mini_l1_base"))
    assert empty.n == 0 and math.isnan(empty.mean) and math.isnan(empty.diff_mean)


def test_weight_summary_ranges_and_runs_whose_weight_went_back_up():
    def run(name, seed, traj, weighting="alwa1"):
        return {"name": name, "seed": seed, "weight_trajectory": traj, "experiment": {"weighting": weighting}}

    res = [run("retinanet_r18w16_mini_l1_alwa1", 0, [0.8, 0.8]), run("retinanet_r18w16_mini_l1_alwa1", 1, [0.5, 0.9, 0.3]),
           run("retinanet_r18w16_mini_l1_base", 0, [], "base"), run("faster-rcnn_r18w16_mini_l1_alwa2", 0, [0.01], "alwa2")]
    rows = sm.weight_summary(res)
    assert [r["name"] for r in rows] == ["faster-rcnn_r18w16_mini_l1_alwa2", "retinanet_r18w16_mini_l1_alwa1"]
    assert rows[1] == {"name": "retinanet_r18w16_mini_l1_alwa1", "detector": "retinanet", "runs": 2, "final_min": 0.3, "final_max": 0.8, "runs_went_up": 1}
    assert sm.weight_range(rows, "retinanet") == "0.3-0.8" and sm.weight_range(rows, "faster-rcnn") == "0.01-0.01"
    assert sm.weight_range(rows, "mask-rcnn") == "no runs yet"


def test_target_check_judges_the_cpu_setting_against_the_issues_targets(tmp_path):
    """Two RetinaNet baseline runs (200 s and 260 s; mAP 0.55 and 0.57): run time met on average (230 s, one run over),
    mAP met (0.560); the sweep's wall time not known while runs are missing; a lower baseline misses the band."""
    p = load_profile("cpu", None, str(tmp_path))
    out = tmp_path / "cpu" / "runs"
    out.mkdir(parents=True)
    name = ex.experiment_of(p, "retinanet", "l1", "base").name

    def write(maps, walls):
        for seed, (m, w) in enumerate(zip(maps, walls)):
            spec = next(s for s in ex.alwa_specs(p) if s.name == name and s.seed == seed).to_dict()
            (out / f"{name}__s{seed}.json").write_text(json.dumps({"name": name, "seed": seed, "mAP": m, "wall_seconds": w, "spec": spec}))

    write([0.55, 0.57], [200.0, 260.0])
    rows = {r["target"]: r for r in sm.target_check(p, out)}
    assert rows["wall time of the profile's sweep"]["met"] is None
    assert rows["time of one RetinaNet run"]["met"] is True
    assert rows["time of one RetinaNet run"]["measured"] == "230 s on average over 2 runs (max 260 s; 1 over 240 s)"
    assert rows["RetinaNet baseline mAP@0.5 (1:1, L1)"] == {"target": "RetinaNet baseline mAP@0.5 (1:1, L1)", "goal": "0.5-0.85",
                                                           "measured": "0.560 (mean of 2 seeds)", "met": True}
    assert not any(k.startswith("time of one Faster") for k in rows)  # no Faster R-CNN run yet: no verdict on it
    write([0.45, 0.47], [300.0, 320.0])
    rows = {r["target"]: r for r in sm.target_check(p, out)}
    assert rows["RetinaNet baseline mAP@0.5 (1:1, L1)"]["met"] is False and rows["time of one RetinaNet run"]["met"] is False
    assert "MISSED" in tables.format_targets(list(rows.values()))
    assert sm.target_check(load_profile("smoke", None, str(tmp_path)), out) == []


def test_target_check_judges_the_sweeps_wall_time_once_complete(tmp_path, monkeypatch):
    p = load_profile("cpu", None, str(tmp_path))
    for wall_h, met in ((5.5, True), (6.7, False)):
        total = {"done": 153, "planned": 153, "wall_h": wall_h, "remaining_wall_h": 0.0}
        monkeypatch.setattr(sm, "sweep_status", lambda *a, **k: {"total": total, "workers": 2})
        row = sm.target_check(p, tmp_path)[0]
        assert row["met"] is met and row["measured"] == f"{wall_h:.2f} h with 2 worker(s)"
