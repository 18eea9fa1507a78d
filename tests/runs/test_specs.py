"""alwa.runs.specs: the profile's run specs (order, overrides, work folders), sweep status and archiving."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from mini_profile import mini

from alwa.report import tables
from alwa.runs import specs as ex
from alwa.runs.profile import load_profile, params_path
from alwa.runs.store import pending, spec_key
from alwa.runs.worker import log_path

TESTS = Path(__file__).resolve().parents[1]


def test_spec_lists_cover_the_papers_tables():
    p = mini(data_dir="data/mini_voc", seed=0, grid_losses=["l1", "ciou"], grid_pairs=[], grid_seeds=2, alwa_losses=["l1"], retina_seeds=5, faster_seeds=3,
             abl_losses=["l1"], abl_C=[20, 100], abl_init=[0.5, 1.5], abl_seeds=3)
    g = ex.grid_specs(p)
    assert len(g) == 2 * 11 * 2 and {s.name for s in g} >= {"retinanet_r18w16_mini_ciou_w0.25-0.50", "retinanet_r18w16_mini_l1_base"}
    a = ex.alwa_specs(p)
    assert len(a) == 3 * 5 + 3 * 3 and "faster-rcnn_r18w16_mini_l1_alwa1" in {s.name for s in a}
    b = ex.ablation_specs(p)
    assert {s.name for s in b} == {"faster-rcnn_r18w16_mini_l1_base", "faster-rcnn_r18w16_mini_l1_alwa2_C20",
                                      "faster-rcnn_r18w16_mini_l1_alwa2", "faster-rcnn_r18w16_mini_l1_alwa2_init0.5",
                                      "faster-rcnn_r18w16_mini_l1_alwa2_init1.5"}


def test_faster_setting_reaches_only_two_stage_specs():
    """``faster_setting`` overrides reach Faster R-CNN specs only, so changing them leaves RetinaNet's results current."""
    p = mini(data_dir="data/mini_voc", seed=0, alwa_losses=["l1"], retina_seeds=1, faster_seeds=1, setting={"iters": 700}, faster_setting={"rpn_nms_pre": 300})
    by = {s.name.split("_")[0]: s.get("setting") for s in ex.alwa_specs(p)}
    assert by == {"retinanet": {"iters": 700}, "faster-rcnn": {"iters": 700, "rpn_nms_pre": 300}}
    assert p.setting == {"iters": 700}  # the profile's own setting is not changed


def test_profile_specs_orders_for_useful_partial_results():
    """The background sweep runs every notebook spec once, RetinaNet before Faster R-CNN
    within a part, and all configurations of a seed before the next seed."""
    p = mini(data_dir="data/mini_voc", seed=0, grid_losses=["l1"], grid_pairs=["0.50:0.50"], grid_seeds=2, alwa_losses=["l1", "ciou"], retina_seeds=3,
             faster_seeds=2, abl_losses=["l1"], abl_C=[20, 100], abl_init=[0.5], abl_seeds=2)
    specs = ex.profile_specs(p, ["alwa", "grid", "ablation"])
    keys = [spec_key(s) for s in specs]
    assert len(keys) == len(set(keys))
    union = {spec_key(s) for f in (ex.alwa_specs, ex.grid_specs, ex.ablation_specs) for s in f(p)}
    assert set(keys) == union
    alwa = [s for s in specs[: len(ex.alwa_specs(p))]]
    dets = [s.name.split("_")[0] for s in alwa]
    assert dets == sorted(dets, key=lambda d: d != "retinanet")  # RetinaNet first
    retina_seeds = [s.seed for s in alwa if s.name.startswith("retinanet")]
    assert retina_seeds == sorted(retina_seeds) and retina_seeds[:6] == [0] * 6  # 2 losses x 3 weightings of seed 0 first


def test_each_profile_has_its_own_work_folder(tmp_path):
    """A smoke run (e.g. the test suite) never writes into the logs of a cpu run of the same name,
    and moving the work folder does not make finished results stale."""
    p = mini(data_dir="data/mini_voc", seed=0, alwa_losses=["l1"], retina_seeds=1, faster_seeds=1, work_root=str(tmp_path / "w"))
    smoke, cpu = ex.alwa_specs(p.replace(profile="smoke")), ex.alwa_specs(p.replace(profile="cpu"))
    assert [s.name for s in smoke] == [s.name for s in cpu]
    logs = {str(log_path(s)) for s in smoke} | {str(log_path(s)) for s in cpu}
    assert len(logs) == 2 * len(cpu)
    assert all(Path(s.get("work_root")) == tmp_path / "w" / "cpu" for s in cpu)
    for s in cpu:
        (tmp_path / "r").mkdir(exist_ok=True)
        (tmp_path / "r" / f"{spec_key(s)}.json").write_text(json.dumps({"name": s.name, "seed": s.seed, "mAP": 0.5, "final_weights": [1.0, 1.0],
                                                                          "spec": dict(s.to_dict(), work_root="work_dirs")}))
    assert pending(cpu, tmp_path / "r") == []


def test_sweep_status_counts_runs_compute_and_time_to_go(tmp_path):
    """Done/failed/pending per part from the result files; time to go = pending runs x the mean
    wall seconds of finished runs of the same detector, unknown while a detector has none."""
    p = mini(data_dir="data/mini_voc", profile="cpu", seed=0, workers=2, alwa_losses=["l1"], retina_seeds=2, faster_seeds=1, grid_losses=["l1"],
             grid_pairs=["0.50:0.50"], grid_seeds=2, abl_losses=["l1"], abl_C=[20], abl_init=[], abl_seeds=1)
    out = tmp_path / "runs"
    out.mkdir()
    specs = ex.profile_specs(p)
    by = {spec_key(s): s.to_dict() for s in specs}
    for key, wall in (("retinanet_r18w16_mini_l1_base__s0", 100.0), ("retinanet_r18w16_mini_l1_alwa1__s0", 300.0)):
        (out / f"{key}.json").write_text(json.dumps({"name": by[key]["name"], "seed": by[key]["seed"], "mAP": 0.5, "final_weights": [1.0, 1.0], "spec": by[key],
                                                   "wall_seconds": wall}))
    key = "retinanet_r18w16_mini_l1_alwa2__s0"
    (out / f"{key}.failed.json").write_text(json.dumps({"spec": by[key], "error": "boom"}))
    st_ = ex.sweep_status(p, out)
    a, g = st_["parts"]["alwa"], st_["parts"]["grid"]
    assert (a["planned"], a["done"], a["failed"]) == (3 * 2 + 3, 2, 1)
    assert a["compute_s"] == 400.0 and a["remaining_s"] is None  # no Faster R-CNN run has finished
    # the grid's base runs are the alwa part's: only w0.50-0.50 x 2 seeds are its own, each 200 s to go
    assert (g["planned"], g["done"], g["remaining_s"]) == (2, 0, 400.0)
    assert st_["total"]["planned"] == len(specs) and st_["total"]["wall_h"] == pytest.approx(400 / 2 / 3600)
    assert "2/9" in tables.format_status(st_).replace(" ", "")


def test_archive_moves_a_calibrations_results_and_keeps_its_params(tmp_path):
    """Before a re-calibration: runs/claims/tables go to results/archive/NAME with the params file, verbatim;
    box-shifting results stay; the sweep then names stale results instead of overwriting them silently."""
    import yaml

    from alwa.report.pages import calibrations_page

    p = load_profile("smoke", None, str(tmp_path))
    src = tmp_path / "smoke"
    spec = ex.alwa_specs(p)[0].to_dict()
    for part, fname, body in (("runs", f"{spec['name']}__s{spec['seed']}.json", {"name": spec["name"], "seed": spec["seed"], "mAP": 0.4,
                                                                                "wall_seconds": 2.0, "spec": spec}),
                              ("claims", "alwa.json", {"claims": {"C6": {"ours": "x", "status": "supported"}}}),
                              ("tables", "tables23.json", {"rows": []}), ("box_shifting", "c1.json", {"frac": 0.05}),
                              ("bench", "train_step.json", {"ratio": 1.0})):
        (src / part).mkdir(parents=True)
        (src / part / fname).write_text(json.dumps(body))
    with pytest.raises(ValueError, match="plain folder name"):
        ex.archive_results(p, tmp_path, "../elsewhere")
    params_file = params_path("smoke")
    dest = ex.archive_results(p, tmp_path, "first", params_file)
    assert dest == tmp_path / "archive" / "first"
    assert sorted(x.name for x in dest.iterdir()) == ["claims", "params.yaml", "runs", "tables"]
    assert (dest / "params.yaml").read_text() == params_file.read_text()  # comments and all
    assert (src / "box_shifting" / "c1.json").exists() and (src / "bench" / "train_step.json").exists() and not (src / "runs").exists()
    assert "| archive/first |" in calibrations_page("smoke", str(tmp_path)) and "| 1 of " in calibrations_page("smoke", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="nothing to archive"):
        ex.archive_results(p, tmp_path, "second")
    (src / "runs").mkdir(exist_ok=True)  # (the page above made it again, empty)
    (src / "runs" / "x.json").write_text("{}")
    with pytest.raises(FileExistsError, match="choose another name"):
        ex.archive_results(p, tmp_path, "first")
    # a result made with other settings is named by the sweep command before it would be overwritten
    stale = dict(spec, setting=dict(spec["setting"], iters=999))
    (src / "runs" / f"{spec['name']}__s{spec['seed']}.json").write_text(json.dumps({"name": spec["name"], "seed": spec["seed"], "mAP": 0.5,
                                                                                            "spec": stale}))
    r = subprocess.run([sys.executable, "-m", "alwa.cli", "sweep", "--profile", "smoke", "--results", str(tmp_path), "--list"],
                       capture_output=True, text=True, check=True, cwd=TESTS.parent)
    assert "1 of them have a result made with other settings" in r.stdout and "alwa archive" in r.stdout
    assert yaml.safe_load((dest / "params.yaml").read_text())["profile"] == "smoke"
