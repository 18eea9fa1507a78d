"""alwa.runs.sweep (resumable parallel runner) and alwa.analysis.stats (scipy-based statistics)."""

import json
import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as st

from alwa.analysis import stats
from alwa.analysis import summaries as sm
from alwa.core.experiment import Experiment
from alwa.report import tables
from alwa.runs import specs as ex
from alwa.runs.profile import load_profile, params_path, validate
from alwa.runs.store import load_failures, load_results, of_specs, pending, spec_key
from alwa.runs.sweep import run_sweep
from alwa.runs.worker import log_path

FN = "toy_worker:run"
TESTS = Path(__file__).resolve().parents[1]


def mini(**kw):
    """A checked profile: the cpu profile's parameters with ``kw`` changed."""
    import yaml

    return validate({**yaml.safe_load(params_path("cpu").read_text()), **kw})


def specs(n, **kw):
    return [{"name": f"toy{i % 3}", "seed": i, **kw} for i in range(n)]


def test_runs_everything_in_parallel_and_writes_one_file_each(tmp_path):
    s = specs(5)
    out = run_sweep(s, tmp_path, workers=2, threads=1, fn=FN, progress=False)
    assert sorted(out["done"]) == sorted(spec_key(x) for x in s) and not out["failed"]
    res = load_results(tmp_path, s)
    assert len(res) == 5 and {r["threads"] for r in res} == {"1"}
    assert len({r["pid"] for r in res}) == 5  # every run in a process of its own (a dead one takes no other down)
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))
    assert all(r["spec"]["name"] == r["name"] for r in res)


def test_worker_output_goes_to_a_log_file_per_run(tmp_path, capfd):
    """What a run prints (Python or C level) lands in {work_root}/logs/{key}.log, not in
    the caller's output (a notebook cell), and the failure record names the log."""
    s = [{"name": "talk", "seed": 0, "talk": True, "work_root": str(tmp_path / "w")},
         {"name": "talkbad", "seed": 0, "talk": True, "fail": True, "work_root": str(tmp_path / "w")}]
    run_sweep(s, tmp_path / "r", workers=2, fn=FN, progress=False)
    out, err = capfd.readouterr()
    assert "hello from" not in out + err and "fd 2" not in out + err
    log = (tmp_path / "w" / "logs" / "talk__s0.log").read_text()
    assert "hello from talk" in log and "written straight to fd 2" in log
    (f,) = load_failures(tmp_path / "r")
    assert f["log"].endswith("talkbad__s0.log") and "hello from talkbad" in Path(f["log"]).read_text()


def test_restart_skips_finished_and_reruns_nothing(tmp_path):
    s = specs(4)
    run_sweep(s, tmp_path, workers=1, fn=FN, progress=False, max_runs=2)  # a sweep "in parts"
    assert len(pending(s, tmp_path)) == 2
    mtimes = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.json")}
    out = run_sweep(s, tmp_path, workers=2, fn=FN, progress=False)
    assert len(out["done"]) == 2 and out["skipped"] == 2
    for name, m in mtimes.items():
        assert (tmp_path / name).stat().st_mtime_ns == m
    assert run_sweep(s, tmp_path, fn=FN, progress=False)["done"] == []


def test_a_failed_run_is_recorded_and_does_not_stop_the_others(tmp_path):
    s = specs(3) + [{"name": "bad", "seed": 0, "fail": True}]
    out = run_sweep(s, tmp_path, workers=2, fn=FN, progress=False)
    assert out["failed"] == ["bad__s0"] and len(out["done"]) == 3
    (f,) = load_failures(tmp_path)
    assert "RuntimeError: boom in bad" in f["error"] and "Traceback" in f["traceback"]
    assert len(load_results(tmp_path)) == 3
    # retried next time; once it succeeds the failure record goes away
    s[-1]["fail"] = False
    out = run_sweep(s, tmp_path, fn=FN, progress=False)
    assert out["done"] == ["bad__s0"] and not load_failures(tmp_path)


def test_stale_results_are_rerun(tmp_path):
    s = specs(2)
    run_sweep(s, tmp_path, fn=FN, progress=False)
    changed = [dict(x, setting={"iters": 10}) for x in s]
    assert len(pending(changed, tmp_path)) == 2
    assert load_results(tmp_path, changed) == []  # stale results are not served
    assert pending([dict(x, work_root="elsewhere") for x in s], tmp_path) == []


KILL_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from alwa.runs.sweep import run_sweep
if __name__ == "__main__":
    specs = [{{"name": "slow", "seed": i, "sleep": 0.2 if i == 0 else 30}} for i in range(3)]
    run_sweep(specs, {out!r}, workers=1, fn="toy_worker:run", progress=False)
"""


def test_killed_sweep_loses_nothing(tmp_path):
    script = tmp_path / "sweep.py"
    out = tmp_path / "out"
    script.write_text(KILL_SCRIPT.format(tests=str(TESTS), out=str(out)))
    proc = subprocess.Popen([sys.executable, str(script)], start_new_session=True)
    deadline = time.time() + 60
    while not (out / "slow__s0.json").exists() and time.time() < deadline:
        time.sleep(0.1)
    assert (out / "slow__s0.json").exists()
    import os

    os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its workers die mid-run
    proc.wait()
    first = (out / "slow__s0.json").stat().st_mtime_ns
    assert json.loads((out / "slow__s0.json").read_text())["seed"] == 0  # complete, valid JSON
    assert not (out / "slow__s1.json").exists()
    specs_fast = [{"name": "slow", "seed": i, "sleep": 0.2 if i == 0 else 30} for i in range(3)]
    left = pending(specs_fast, out)
    assert [spec_key(s) for s in left] == ["slow__s1", "slow__s2"]
    assert (out / "slow__s0.json").stat().st_mtime_ns == first


# ------------------------------------------------------------------ stats
def test_mean_ci_equals_the_t_interval():
    x = [0.71, 0.74, 0.69, 0.73, 0.75]
    r = stats.mean_ci(x)
    m, se = np.mean(x), st.sem(x)
    h = se * st.t.ppf(0.975, len(x) - 1)
    assert r["mean"] == pytest.approx(m) and r["lo"] == pytest.approx(m - h) and r["hi"] == pytest.approx(m + h)
    assert math.isnan(stats.mean_ci([0.7])["lo"]) and stats.mean_ci([])["n"] == 0


def test_paired_diff_equals_ttest_rel_and_uses_common_seeds():
    a = {0: 0.75, 1: 0.77, 2: 0.74, 3: 0.80}
    b = {0: 0.74, 1: 0.75, 2: 0.74, 9: 0.1}
    r = stats.paired_diff(a, b)
    assert r.seeds == (0, 1, 2) and r.n == 3
    ref = st.ttest_rel([0.75, 0.77, 0.74], [0.74, 0.75, 0.74])
    ci = ref.confidence_interval()
    assert r.p == pytest.approx(ref.pvalue) and (r.lo, r.hi) == (pytest.approx(ci.low), pytest.approx(ci.high))
    assert r.mean == pytest.approx(0.01)
    assert r.verdict == "inconclusive"
    assert stats.paired_diff({0: 1.0, 1: 1.1, 2: 1.2}, {0: 0.0, 1: 0.0, 2: 0.05}).verdict == "better"
    assert stats.paired_diff({0: 1.0}, {0: 0.0}).verdict == "too few seeds"


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


def test_sweep_command_lists_pending_runs(tmp_path):
    """`alwa sweep --list` names what is left without running it."""
    r = subprocess.run([sys.executable, "-m", "alwa.cli", "sweep", "--profile", "smoke", "--results", str(tmp_path), "--list"],
                       capture_output=True, text=True, check=True, cwd=TESTS.parent)
    first = r.stdout.splitlines()[0]
    assert first.startswith("smoke: ") and "pending" in first
    listed = [l.strip() for l in r.stdout.splitlines()[1:]]
    assert listed and all("__s" in l for l in listed)
    assert not (tmp_path / "smoke" / "runs").exists() or not list((tmp_path / "smoke" / "runs").glob("*.json"))


def test_sweep_command_reads_another_params_file(tmp_path):
    """`--params FILE` sweeps a variant of a profile (here: smoke with one seed fewer) without touching notebooks/params."""
    import yaml

    base = yaml.safe_load((TESTS.parent / "notebooks" / "params" / "smoke.yaml").read_text())
    cmd = [sys.executable, "-m", "alwa.cli", "sweep", "--profile", "smoke", "--results", str(tmp_path), "--list"]

    def listed(*extra):
        r = subprocess.run(cmd + list(extra), capture_output=True, text=True, cwd=TESTS.parent)
        return r, [l.strip() for l in r.stdout.splitlines()[1:]]

    _, stock = listed()
    variant = tmp_path / "variant.yaml"
    variant.write_text(yaml.safe_dump(dict(base, retina_seeds=int(base["retina_seeds"]) + 1)))
    r, more = listed("--params", str(variant))
    assert r.returncode == 0 and set(stock) < set(more)  # the extra seed's RetinaNet runs are planned too
    variant.write_text(yaml.safe_dump(dict(base, profile="cpu")))
    r, _ = listed("--params", str(variant))
    assert r.returncode != 0 and "is for profile 'cpu'" in r.stderr


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


def test_write_json_atomic_leaves_a_readable_file_or_nothing(tmp_path):
    """A result is written whole with the umask's permissions (not mkstemp's 0600); a failed write leaves no file behind."""
    import os
    import stat

    from alwa.core.files import read_json, write_json_atomic

    old = os.umask(0o022)
    try:
        path = write_json_atomic(tmp_path / "r.json", {"mAP": 0.3, "nan": float("nan")})
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert read_json(path)["mAP"] == 0.3
    with pytest.raises(TypeError):
        write_json_atomic(tmp_path / "bad.json", {"x": object()})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


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


# ------------------------------------------------------------------ train-step benchmark statistics (C10)
def test_ratio_ci_is_the_t_interval_of_log_ratios():
    from alwa.analysis.stats import ratio_ci

    alwa, plain = [1.02, 0.99, 1.05, 1.00], [1.0, 1.0, 1.0, 1.0]
    r, lo, hi = ratio_ci(alwa, plain)
    logs = np.log(alwa)
    ref = st.t.interval(0.95, len(logs) - 1, loc=logs.mean(), scale=st.sem(logs))
    assert r == pytest.approx(math.exp(logs.mean()))
    assert (lo, hi) == pytest.approx(tuple(np.exp(ref)))
    assert lo < r < hi


def test_ratio_ci_is_scale_invariant_and_exact_for_a_constant_ratio():
    from alwa.analysis.stats import ratio_ci

    a, p = [0.21, 0.25, 0.19], [0.20, 0.24, 0.18]
    assert ratio_ci([10 * x for x in a], [10 * x for x in p]) == pytest.approx(ratio_ci(a, p))
    assert ratio_ci([0.3, 0.6], [0.2, 0.4]) == pytest.approx((1.5, 1.5, 1.5))
    with pytest.raises(ValueError):
        ratio_ci([1.0], [1.0])


def _bench(ratio, lo, hi, frac):
    return {"ratio": ratio, "ratio_ci95": [lo, hi], "goal": 1.005, "hook_fraction": frac, "blocks": 20, "steps_per_block": 10}


def test_overhead_claim_status_follows_the_interval_then_the_wrapper_time():
    from alwa.analysis import claims
    from alwa.analysis.stats import ratio_verdict as verdict

    assert verdict(0.99, 1.004, 1.005) == "within"
    assert verdict(1.01, 1.02, 1.005) == "above"
    assert verdict(0.98, 1.03, 1.005) == "unresolved"
    assert claims.overhead_claim(_bench(1.0, 0.998, 1.003, 0.01), "cpu").status == "supported"
    assert claims.overhead_claim(_bench(1.02, 1.01, 1.03, 0.0001), "cpu").status == "not supported"
    assert claims.overhead_claim(_bench(1.0, 0.95, 1.05, 0.0004), "cpu").status == "supported"
    assert claims.overhead_claim(_bench(1.0, 0.95, 1.05, 0.02), "cpu").status == "inconclusive at mini scale"
    c = claims.overhead_claim(_bench(1.0, 0.998, 1.003, 0.0004), "smoke")
    assert c.status == "too few runs" and "0.040%" in c.ours and "[95% CI 0.9980, 1.0030]" in c.ours


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
        (tmp_path / "r" / f"{spec_key(s)}.json").write_text(json.dumps({"name": s.name, "seed": s.seed, "mAP": 0.5,
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
        (out / f"{key}.json").write_text(json.dumps({"name": by[key]["name"], "seed": by[key]["seed"], "mAP": 0.5, "spec": by[key],
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


def test_glued_text_displays_without_quotes():
    from IPython.core.formatters import PlainTextFormatter

    from alwa.report.notebook import Text

    fmt = PlainTextFormatter()
    assert fmt(Text("30.05 [29.47, 30.62]")) == "30.05 [29.47, 30.62]" and fmt("plain") == "'plain'"


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


def test_of_specs_keeps_only_records_of_the_same_spec():
    """Records are matched by key and by spec (a stale record with the same key is dropped;
    where the work files went does not matter); records without a spec are dropped."""
    a = {"name": "a", "seed": 0, "iters": 10, "work_root": "w1"}
    b = {"name": "b", "seed": 1, "iters": 10}
    recs = [{"spec": dict(a, work_root="w2"), "mAP": 1}, {"spec": dict(b, iters=20), "mAP": 2},
            {"spec": {"name": "c", "seed": 0}, "mAP": 3}, {"mAP": 4}]
    assert [r["mAP"] for r in of_specs(recs, [a, b])] == [1]
    assert of_specs(recs, []) == []


# ------------------------------------------------------------------ faults (issue 17, sweep runner)
from alwa.runs.store import result_problems  # noqa: E402
from alwa.runs.worker import SweepLocked, SweepStorageError  # noqa: E402


@pytest.mark.parametrize("how, cause", [("SIGKILL", "SIGKILL"), ("SIGSEGV", "segmentation fault")])
def test_a_dying_worker_fails_only_its_own_run(tmp_path, how, cause):
    """A run whose process is killed (the OOM killer sends SIGKILL) or crashes fails alone,
    recorded with the cause; the other worker's run and every queued run still finish."""
    s = [{"name": "long", "seed": 0, "sleep": 1.5}, {"name": "dies", "seed": 0, "sleep": 0.3, "die": how}] + specs(4)
    out = run_sweep(s, tmp_path, workers=2, fn=FN, progress=False)
    assert out["failed"] == ["dies__s0"]
    assert sorted(out["done"]) == sorted(spec_key(x) for x in s if x["name"] != "dies")
    (f,) = load_failures(tmp_path)
    assert f["spec"]["name"] == "dies" and cause in f["error"] and f["exitcode"] < 0
    assert len(load_results(tmp_path)) == 5


KILLABLE = """
import sys
sys.path.insert(0, {tests!r})
from alwa.runs.sweep import run_sweep
from alwa.runs.worker import SweepInterrupted
if __name__ == "__main__":
    specs = [{{"name": "slow", "seed": i, "sleep": 60, "mark_dir": {marks!r}, "ignore_sigint": {stuck!r}}} for i in range(5)]
    try:
        run_sweep(specs, {out!r}, workers=2, fn="toy_worker:run", progress=False)
    except SweepInterrupted as e:
        print("INTERRUPTED", e, flush=True)
        sys.exit(130)
"""


def _start_sweep(tmp_path, stuck=False):
    script = tmp_path / "sweep.py"
    marks, out = tmp_path / "marks", tmp_path / "out"
    script.write_text(KILLABLE.format(tests=str(TESTS), out=str(out), marks=str(marks), stuck=stuck))
    proc = subprocess.Popen([sys.executable, str(script)], start_new_session=True, stdout=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while len(list(marks.glob("*"))) < 2 and time.time() < deadline:
        time.sleep(0.1)
    assert len(list(marks.glob("*"))) == 2, "the two workers did not start"
    return proc, marks, out


@pytest.mark.parametrize("stuck", [False, True])
def test_ctrl_c_stops_the_sweep_within_seconds(tmp_path, stuck):
    """SIGINT to the process group (Ctrl-C): the sweep ends in seconds, even with runs that
    ignore SIGINT/SIGTERM (stuck=True: ended by SIGKILL), starts nothing queued, leaves no result."""
    import os

    proc, marks, out = _start_sweep(tmp_path, stuck)
    t0 = time.time()
    os.killpg(proc.pid, signal.SIGINT)
    stdout, _ = proc.communicate(timeout=20)
    assert time.time() - t0 < 10
    assert proc.returncode == 130 and "INTERRUPTED" in stdout and "3 not started" in stdout
    assert len(list(marks.glob("*"))) == 2  # nothing queued was started
    assert list(out.glob("*.json")) == [] and list(out.glob(".*.tmp")) == []
    # no run process is left behind
    pids = [int(p.read_text()) for p in marks.glob("*")]
    time.sleep(0.2)
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()


def test_a_second_ctrl_c_never_hangs(tmp_path):
    import os

    proc, _, out = _start_sweep(tmp_path, stuck=True)
    t0 = time.time()
    os.killpg(proc.pid, signal.SIGINT)
    time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGINT)  # impatient user, while the runs are being ended
    proc.communicate(timeout=20)
    assert time.time() - t0 < 10 and proc.returncode != 0
    assert list(out.glob("*.json")) == []


def test_one_sweep_per_results_folder(tmp_path):
    """A second sweep on the same results folder stops at once and names the holder's pid."""
    proc, _, out = _start_sweep(tmp_path)
    try:
        t0 = time.time()
        with pytest.raises(SweepLocked, match=rf"process {proc.pid} "):
            run_sweep(specs(2), out, fn=FN, progress=False)
        assert time.time() - t0 < 5
        assert not list(out.glob("toy*.json"))
    finally:
        import os

        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    # the lock dies with its holder: the folder is usable again
    assert len(run_sweep(specs(1), out, fn=FN, progress=False)["done"]) == 1


BAD_FILES = {"truncated": '{"name": "toy0", "seed": 0, "spec": {"na', "empty": "", "null": "null", "list": "[1, 2]",
             "nameless": '{"seed": 0, "mAP": 0.5}'}


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_unreadable_result_files_are_named_and_counted_as_missing(tmp_path, kind):
    s = specs(2)
    (tmp_path / "toy0__s0.json").write_text(BAD_FILES[kind])
    (tmp_path / "toy9__s0.failed.json").write_text(BAD_FILES[kind])
    lines = result_problems(tmp_path)
    assert len(lines) == 2 and all("counted as missing" in x for x in lines)
    assert "toy0__s0.json" in lines[0] and "toy9__s0.failed.json" in lines[1]
    assert [spec_key(x) for x in pending(s, tmp_path)] == ["toy0__s0", "toy1__s1"]
    assert load_results(tmp_path) == [] and load_failures(tmp_path) == []
    out = run_sweep(s, tmp_path, fn=FN, progress=False)  # the sweep replaces it
    assert sorted(out["done"]) == ["toy0__s0", "toy1__s1"] and len(out["problems"]) == 2


def test_a_result_that_cannot_be_written_is_a_failure_and_leaves_nothing_partial(tmp_path):
    """As on a full disk: the run's result write fails (EFBIG here): no partial file, a failure
    record (written by the sweep when the run cannot), and the sweep stops saying why."""
    s = [{"name": "big", "seed": 0, "payload": 200_000, "file_size_limit": 100}, *specs(2)]
    with pytest.raises(SweepStorageError, match="big__s0"):
        run_sweep(s, tmp_path, workers=1, fn=FN, progress=False)
    assert not (tmp_path / "big__s0.json").exists() and list(tmp_path.glob(".*.tmp")) == []
    (f,) = load_failures(tmp_path)
    assert f["spec"]["name"] == "big" and "could not write" in f["error"]


def test_max_runs_below_zero_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="max_runs must be >= 0"):
        run_sweep(specs(1), tmp_path, fn=FN, progress=False, max_runs=-1)
    r = subprocess.run([sys.executable, "-m", "alwa.cli", "sweep", "--profile", "smoke", "--results", str(tmp_path),
                        "--max-runs", "-1"], capture_output=True, text=True)
    assert r.returncode == 2 and "--max-runs" in r.stderr and ">= 0" in r.stderr


def _cli(*args, cwd=None):
    import os

    env = dict(os.environ, PYTHONPATH=str(TESTS))
    return subprocess.run([sys.executable, "-m", "alwa.cli", *args], capture_output=True, text=True, env=env, timeout=300)


def test_the_sweep_command_exits_non_zero_when_a_run_failed(tmp_path):
    r = _cli("sweep", "--profile", "smoke", "--results", str(tmp_path), "--parts", "ablation", "--max-runs", "2",
             "--fn", "toy_worker:fail")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "failed 2" in r.stdout and len(load_failures(tmp_path / "smoke" / "runs")) == 2


def test_status_sweep_and_list_name_a_bad_result_file_in_one_line(tmp_path):
    p = load_profile("smoke", None, str(tmp_path))
    key = spec_key(ex.profile_specs(p)[0])
    runs = tmp_path / "smoke" / "runs"
    runs.mkdir(parents=True)
    (runs / f"{key}.json").write_text('{"name": "x", "spec": {')
    for args in (("status",), ("sweep", "--list"), ("sweep", "--max-runs", "0")):
        r = _cli(*args, "--profile", "smoke", "--results", str(tmp_path))
        assert r.returncode == 0, r.stderr
        assert "Traceback" not in r.stdout + r.stderr
        lines = [x for x in (r.stdout + r.stderr).splitlines() if f"{key}.json" in x]
        assert len(lines) == 1 and "not valid JSON" in lines[0] and "counted as missing" in lines[0]
        if args == ("sweep", "--list"):
            assert f"  {key}" in r.stdout.splitlines()


# ------------------------------------------------------------------ GPUs and clusters (issue 20)
def _max_overlap(records):
    events = sorted([(r["t0"], 1) for r in records] + [(r["t1"], -1) for r in records])
    now = best = 0
    for _, d in events:
        now += d
        best = max(best, now)
    return best


def test_several_runs_share_a_gpu(tmp_path):
    s = specs(6, sleep=1.5)
    out = run_sweep(s, tmp_path, devices=[0, 1], runs_per_device=2, fn=FN, progress=False)
    assert len(out["done"]) == 6
    res = load_results(tmp_path, s)
    assert {r["gpu"] for r in res} == {"0", "1"} and {r["device"] for r in res} == {0, 1}
    assert _max_overlap(res) == 4  # 2 GPUs x 2 runs each, never more
    with pytest.raises(ValueError, match="runs_per_device must be >= 1"):
        run_sweep(s, tmp_path, devices=[0], runs_per_device=0, fn=FN, progress=False)


def test_the_submitit_executor_keeps_the_local_pools_records(tmp_path, monkeypatch):
    """submitit's local executor: the code path of --executor slurm without SLURM. Same result files,
    skipping, staleness and failure records (a run that raises, a job that dies)."""
    import os

    monkeypatch.setenv("PYTHONPATH", str(TESTS) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    s = specs(2) + [{"name": "bad", "seed": 0, "fail": True}, {"name": "dies", "seed": 0, "die": "SIGKILL"}]
    out = run_sweep(s, tmp_path, fn=FN, executor="submitit-local", progress=False)
    assert sorted(out["done"]) == ["toy0__s0", "toy1__s1"] and sorted(out["failed"]) == ["bad__s0", "dies__s0"]
    assert len(out["jobs"]) == 4  # one job per pending run
    fails = {f["spec"]["name"]: f["error"] for f in load_failures(tmp_path)}
    assert "boom in bad" in fails["bad"] and "ended without a result" in fails["dies"]
    res = load_results(tmp_path, s)
    assert sorted(r["name"] for r in res) == ["toy0", "toy1"] and all(r["spec"] == x for r, x in zip(res, s[:2]))
    again = run_sweep(s[:2], tmp_path, fn=FN, executor="submitit-local", progress=False)
    assert again["skipped"] == 2 and again["done"] == []
    stale = [dict(x, setting={"iters": 3}) for x in s[:1]]
    assert run_sweep(stale, tmp_path, fn=FN, executor="submitit-local", progress=False)["stale"] == ["toy0__s0"]


def test_slurm_options_reach_the_executor(tmp_path, monkeypatch):
    import os

    from alwa.runs.cluster import executor_for

    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "srun").write_text("#!/bin/sh\nexit 0\n")
    (fake / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")  # submitit looks for srun
    ex = executor_for(tmp_path, "slurm", {"partition": "gpu", "time_min": 90, "gpus_per_job": 2, "mem_gb": 32,
                                          "extra": {"constraint": "a100"}}, threads=4)
    p = ex._executor.parameters
    assert (p["partition"], p["time"], p["gpus_per_node"], p["mem"], p["constraint"]) == ("gpu", 90, 2, "32GB", "a100")


def test_max_runs_zero_reads_while_another_sweep_holds_the_folder(tmp_path):
    """`make book MAX_RUNS=0` renders from what exists while a long sweep runs into the same folder."""
    proc, _, out = _start_sweep(tmp_path)
    try:
        summary = run_sweep(specs(2), out, fn=FN, progress=False, max_runs=0)
        assert summary["done"] == [] and summary["skipped"] == 0
        with pytest.raises(SweepLocked):
            run_sweep(specs(2), out, fn=FN, progress=False, max_runs=1)
    finally:
        import os

        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_a_sweep_may_run_in_a_thread(tmp_path):
    """Signal handlers belong to the main thread; a sweep started elsewhere (a GUI, a server) still runs."""
    import threading

    out = {}
    t = threading.Thread(target=lambda: out.update(run_sweep(specs(2), tmp_path, fn=FN, progress=False)))
    t.start()
    t.join(120)
    assert sorted(out["done"]) == ["toy0__s0", "toy1__s1"]


def test_both_start_methods_run_and_a_bad_one_is_refused(tmp_path):
    for method in ("spawn", "forkserver"):
        out = run_sweep(specs(2), tmp_path / method, fn=FN, progress=False, start_method=method, workers=2)
        assert sorted(out["done"]) == ["toy0__s0", "toy1__s1"]
        assert {r["threads"] for r in load_results(tmp_path / method)} == {"1"}
    with pytest.raises(ValueError, match="start_method"):
        run_sweep(specs(1), tmp_path / "x", fn=FN, progress=False, start_method="fork")


@pytest.mark.slow
def test_the_forkserver_changes_no_number(tmp_path):
    """A run's process forked from a server with torch/mmdet preloaded gives the same record as a spawned one
    (same seed: same mAP and per-iteration losses), and starts faster."""
    from alwa.runs.profile import load_profile

    p = load_profile("smoke", results_root=str(tmp_path))
    s = [dict(x.to_dict(), data_dir=str(tmp_path / "data" / "voc"), work_root=str(tmp_path / "w"))
         for x in ex.alwa_specs(p)[:2]]
    got = {}
    for method in ("spawn", "forkserver"):
        run_sweep(s, tmp_path / method, workers=2, progress=False, start_method=method)
        got[method] = {(r["name"], r["seed"]): (r["mAP"], r["per_iter"]["cls_raw"], r["per_iter"]["reg_raw"])
                       for r in load_results(tmp_path / method, s)}
    assert len(got["spawn"]) == 2 and got["spawn"] == got["forkserver"]


ORPHAN_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from alwa.runs.sweep import run_sweep
if __name__ == "__main__":
    specs = [{{"name": "slow", "seed": i, "sleep": 60, "mark_dir": {marks!r}}} for i in range(2)]
    kw = dict(executor="submitit-local", poll_s=0.5) if {method!r} == "submitit-local" else dict(start_method={method!r})
    run_sweep(specs, {out!r}, workers=2, fn="toy_worker:run", progress=False, **kw)
"""


@pytest.mark.parametrize("method", ["forkserver", "spawn", "submitit-local"])
def test_a_sweep_killed_with_sigkill_leaves_no_run_behind(tmp_path, method, monkeypatch):
    import os

    monkeypatch.setenv("PYTHONPATH", str(TESTS) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    script, marks = tmp_path / "sweep.py", tmp_path / "marks"
    script.write_text(ORPHAN_SCRIPT.format(tests=str(Path(__file__).resolve().parents[1]), out=str(tmp_path / "out"),
                                           marks=str(marks), method=method))
    proc = subprocess.Popen([sys.executable, str(script)])
    deadline = time.time() + 120
    while time.time() < deadline and len(list(marks.glob("*"))) < 2:
        time.sleep(0.2)
    pids = [int(f.read_text()) for f in marks.glob("*")]
    assert len(pids) == 2, "the runs did not start"
    proc.kill()
    proc.wait()

    def alive(pid):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        with open(f"/proc/{pid}/stat") as f:  # a zombie (ended, not yet reaped) is not running
            return f.read().split(")")[1].split()[0] != "Z"

    deadline = time.time() + 20
    while time.time() < deadline and any(alive(p) for p in pids):
        time.sleep(0.2)
    assert not any(alive(p) for p in pids), "a run outlived its sweep"


def test_the_submitit_local_executor_honours_workers_and_devices(tmp_path, monkeypatch):
    import os

    monkeypatch.setenv("PYTHONPATH", str(TESTS) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    s = [{"name": "toy", "seed": i, "sleep": 1.0} for i in range(3)]
    out = run_sweep(s, tmp_path / "one", fn=FN, executor="submitit-local", workers=1, progress=False, poll_s=0.2)
    assert sorted(out["done"]) == ["toy__s0", "toy__s1", "toy__s2"]
    spans = sorted((r["t0"], r["t1"]) for r in load_results(tmp_path / "one"))
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:])), "one worker: the jobs ran one after another"
    out = run_sweep(s, tmp_path / "gpus", fn=FN, executor="submitit-local", devices=[3, 5], progress=False, poll_s=0.2)
    gpus = sorted(r["gpu"] for r in load_results(tmp_path / "gpus"))
    assert len(out["done"]) == 3 and set(gpus) == {"3", "5"}, gpus


def test_slurm_without_slurm_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    from alwa.cli import main as alwa_main

    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch, no squeue
    with pytest.raises(ValueError, match="--executor slurm needs SLURM, but sbatch and squeue are not on PATH here"):
        run_sweep(specs(1), tmp_path / "r", fn=FN, executor="slurm", progress=False)
    with pytest.raises(SystemExit) as e:
        alwa_main(["sweep", "--profile", "smoke", "--results", str(tmp_path / "r2"), "--executor", "slurm"])
    assert str(e.value.code).startswith("alwa sweep: error: --executor slurm needs SLURM")


def test_run_sweep_refuses_workers_below_one(tmp_path):
    with pytest.raises(ValueError, match="workers and threads must be >= 1, got 0 and 1"):
        run_sweep(specs(1), tmp_path, fn=FN, workers=0, progress=False)


PRELOAD_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
import alwa.runs.sweep as sw
sw.PRELOAD["toy_worker:run"] = ["cuda_spy", "torch", "mmengine.runner"]
if __name__ == "__main__":
    sw.run_sweep([{{"name": "toy", "seed": 0}}], {out!r}, fn="toy_worker:run", progress=False)
"""


def test_the_forkserver_preload_asks_about_cuda_only_with_the_nvml_check(tmp_path, monkeypatch):
    """mmengine's import asks torch.cuda.is_available(); in the forkserver that must not initialise CUDA, or every GPU
    run forked from it fails ("Cannot re-initialize CUDA in forked subprocess", seen on the H200)."""
    import json
    import os

    spy = tmp_path / "spy.jsonl"
    script = tmp_path / "sweep.py"
    script.write_text(PRELOAD_SCRIPT.format(tests=str(TESTS), out=str(tmp_path / "out")))
    env = {k: v for k, v in os.environ.items() if k != "PYTORCH_NVML_BASED_CUDA_CHECK"}
    # PYTHONPATH: Python 3.11's forkserver does not take the parent's sys.path for its preload
    env.update(ALWA_CUDA_SPY=str(spy), PYTHONPATH=str(TESTS) + os.pathsep + env.get("PYTHONPATH", ""))
    subprocess.run([sys.executable, str(script)], check=True, env=env, timeout=300)
    calls = [json.loads(line) for line in spy.read_text().splitlines()]
    assert calls and {c["fn"] for c in calls} == {"is_available"}  # asked (the spy works), never initialised
    assert all(c["nvml"] == "1" for c in calls), calls
    assert (tmp_path / "out" / "toy__s0.json").exists()


def test_gpu_runs_start_by_spawn_unless_told_otherwise(tmp_path, monkeypatch):
    import alwa.runs.sweep as sw

    seen = []
    real = sw._context
    monkeypatch.setattr(sw, "_context", lambda fn, method: seen.append(method) or real(fn, method))
    run_sweep(specs(1), tmp_path / "a", fn=FN, devices=[0], progress=False)
    run_sweep(specs(1), tmp_path / "b", fn=FN, progress=False)
    run_sweep(specs(1), tmp_path / "c", fn=FN, devices=[0], start_method="forkserver", progress=False)
    assert seen == ["spawn", "forkserver", "forkserver"]
    with pytest.raises(ValueError, match="start_method must be one of"):
        run_sweep(specs(1), tmp_path / "d", fn=FN, start_method="fork", progress=False)


def test_a_sweep_refuses_while_slurm_jobs_of_a_killed_sweep_still_run(tmp_path, monkeypatch):
    import os

    from alwa.runs.cluster import JOBS_FILE, running_jobs

    fake = tmp_path / "bin"
    fake.mkdir()
    for cmd in ("sbatch", "srun"):
        (fake / cmd).write_text("#!/bin/sh\nexit 0\n")
    (fake / "squeue").write_text("#!/bin/sh\necho 1001\necho 1003_2\n")  # SLURM still lists jobs 1001 and an array task of 1003
    for f in fake.iterdir():
        f.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    out = tmp_path / "r"
    (out / ".submitit").mkdir(parents=True)
    (out / ".submitit" / JOBS_FILE).write_text(json.dumps({"toy0__s0": "1001", "toy1__s1": "1002", "toy2__s2": "1003_2"}))
    assert running_jobs(out) == {"toy0__s0": "1001", "toy2__s2": "1003_2"}
    with pytest.raises(ValueError, match=r"2 SLURM job\(s\) of an earlier sweep on .* still run \(toy0__s0, toy2__s2\): wait for them, "
                                         r"or cancel them with: scancel 1001 1003_2"):
        run_sweep(specs(2), out, fn=FN, executor="slurm", progress=False)
    (fake / "squeue").write_text("#!/bin/sh\nexit 0\n")  # they ended
    assert running_jobs(out) == {}
