"""alwa.bench.gpu: the loop runs on a CPU (CI has no GPU), its records feed C10."""
import json
from pathlib import Path

import pytest

from alwa.analysis import claims
from alwa.core import stats
from alwa.bench import gpu as gpu_check


@pytest.fixture(scope="module")
def cpu_record():
    # a tiny RetinaNet run on the CPU: 2 blocks x 2 steps each way, windows of 3 calls
    return gpu_check.run(device="cpu", steps=2, blocks=2, interval=3, batch=1, size=64, warmup=1, bench_calls=20)


def test_cpu_run_counts_windows_and_times_both_paths(cpu_record):
    r = cpu_record
    # ALWA is called in 1 warm-up step + 2 blocks x 2 steps = 5 calls -> one window of 3
    assert r["windows"] == 1
    assert len(r["block_medians_s_alwa"]) == len(r["block_medians_s_plain"]) == 2
    lo, hi = r["ratio_ci95"]
    assert lo <= r["ratio"] <= hi and r["goal_verdict"] == stats.ratio_verdict(lo, hi, r["goal"])  # the verdict of this interval
    # the ALWA call is timed in the timed steps only and is a small part of a step
    assert 0 < r["alwa_call_us_median"] <= r["alwa_call_us_mean"] * 10
    assert 0 < r["call_fraction"] < 0.5
    # sync checks need CUDA: reported as not applicable, never as passed
    assert r["item_raises_under_error_mode"] is None and r["alwa_calls_checked_without_sync"] is None
    assert r["weighter_bench"]["device"] == "cpu"


def test_records_round_trip_and_render(cpu_record, tmp_path):
    (tmp_path / "b.json").write_text(json.dumps(cpu_record))
    (tmp_path / "a.json").write_text(json.dumps(dict(cpu_record, device="X")))
    recs = gpu_check.load_records(tmp_path)
    assert [r["file"] for r in recs] == ["a.json", "b.json"] and recs[0]["device"] == "X"
    row = gpu_check.record_row(recs[1])
    assert row["ALWA call, % of step"] == round(100 * cpu_record["call_fraction"], 3)
    assert "synchronisation" not in gpu_check.summary(recs[1])  # no sync claim without the CUDA check
    # a record of another weighter version says so
    assert recs[1]["weighter_sha256"] == gpu_check.weighter_digest() and "another version" not in gpu_check.summary(recs[1])
    assert "another version" in gpu_check.summary(dict(recs[1], weighter_sha256="0" * 12))
    assert "predates" in gpu_check.summary({k: v for k, v in recs[1].items() if k != "weighter_sha256"})
    assert gpu_check.load_records(tmp_path / "missing") == []


def _cpu_bench(lo, hi, frac):
    return {"ratio": (lo + hi) / 2, "ratio_ci95": [lo, hi], "goal": 1.005, "hook_fraction": frac, "blocks": 20, "steps_per_block": 10}


def _gpu(lo, hi, frac, item_raises=True):
    return {"device": "NVIDIA H200", "batch": 8, "size": 512, "blocks": 20, "steps_per_block": 20, "ratio": (lo + hi) / 2,
            "ratio_ci95": [lo, hi], "call_fraction": frac, "item_raises_under_error_mode": item_raises,
            "alwa_calls_checked_without_sync": 363}


def test_gpu_record_decides_an_inconclusive_overhead_claim():
    inconclusive = _cpu_bench(0.95, 1.05, 0.02)
    assert claims.overhead_claim(inconclusive, "cpu").status == "inconclusive at mini scale"
    c = claims.overhead_claim(inconclusive, "cpu", gpu=_gpu(0.93, 1.03, 0.00364))
    assert c.status == "supported"
    assert "NVIDIA H200" in c.ours and "0.36% of a step" in c.ours and "363 non-window calls" in c.ours
    # a GPU call fraction above the goal leaves it inconclusive; a GPU interval above the goal refutes it
    assert claims.overhead_claim(inconclusive, "cpu", gpu=_gpu(0.93, 1.03, 0.006)).status == "inconclusive at mini scale"
    assert claims.overhead_claim(_cpu_bench(0.998, 1.003, 0.001), "cpu", gpu=_gpu(1.01, 1.02, 0.001)).status == "not supported"
    # smoke never claims anything; without the positive control no sync statement is made
    assert claims.overhead_claim(inconclusive, "smoke", gpu=_gpu(0.99, 1.001, 0.001)).status == "too few runs"
    assert "non-window calls" not in claims.overhead_claim(inconclusive, "cpu", gpu=_gpu(0.93, 1.03, 0.001, None)).ours


# ------------------------------------------------------------------ the H200 check script (issue 20): its CPU-testable parts
def test_h200_check_records_each_stage_and_stops_at_a_failure(tmp_path):
    import subprocess

    root = Path(__file__).resolve().parents[2]
    ok, bad = tmp_path / "ok.sh", tmp_path / "bad.sh"
    ok.write_text("#!/bin/sh\nexit 0\n")
    bad.write_text("#!/bin/sh\nexit 3\n")
    for f in (ok, bad):
        f.chmod(0o755)
    env = {"PATH": "/usr/bin:/bin", "OUT": str(tmp_path / "out")}
    r = subprocess.run(["bash", str(root / "tools/h200_check.sh"), "sync"], env={**env, "PY": str(ok)}, capture_output=True, text=True)
    assert r.returncode == 0 and "sync: ok" in r.stdout
    r = subprocess.run(["bash", str(root / "tools/h200_check.sh"), "sync", "sweep"], env={**env, "PY": str(bad)},
                       capture_output=True, text=True)
    assert r.returncode == 3 and "sync: failed" in r.stdout and "sweep" not in r.stdout  # stops at the first failure
    (stages,) = list((tmp_path / "out").glob("h200_mmdet_*_stages.jsonl"))
    rows = [json.loads(line) for line in stages.read_text().splitlines()]
    assert [(x["stage"], x["status"]) for x in rows] == [("sync", "ok"), ("sync", "failed")] and all(x["seconds"] >= 0 for x in rows)
    r = subprocess.run(["bash", str(root / "tools/h200_check.sh"), "bogus"], env={**env, "PY": str(ok)}, capture_output=True, text=True)
    assert r.returncode == 2 and "unknown stage" in r.stderr


def test_fetch_gpu_wheels_fails_above_its_budget_and_installs_offline_without_deps(tmp_path):
    import subprocess

    root = Path(__file__).resolve().parents[2]
    pip = tmp_path / "pip.sh"  # a stand-in for pip download: writes a 3 MiB file into the -d folder
    pip.write_text('#!/bin/sh\nwhile [ $# -gt 0 ]; do [ "$1" = "-d" ] && d=$2; shift; done\n'
                   'head -c 3145728 /dev/zero > "$d/blob-$$.whl"\n')
    pip.chmod(0o755)
    env = {"PATH": "/usr/bin:/bin", "PIP": str(pip)}
    r = subprocess.run(["bash", str(root / "tools/fetch_gpu_wheels.sh"), str(tmp_path / "w1")], env={**env, "GPU_WHEELS_MAX_MIB": "4"},
                       capture_output=True, text=True)
    assert r.returncode == 1 and "over the 4 MiB budget" in r.stderr
    r = subprocess.run(["bash", str(root / "tools/fetch_gpu_wheels.sh"), str(tmp_path / "w2")], env={**env, "GPU_WHEELS_MAX_MIB": "56"},
                       capture_output=True, text=True)
    assert r.returncode == 0 and "of 56 MiB" in r.stdout
    code = "\n".join(line for line in (root / "tools/fetch_gpu_wheels.sh").read_text().splitlines() if not line.lstrip().startswith("#"))
    fetched = code.split("--no-deps mmengine")[1].split("mmcv==")[0]
    assert not any(pkg in fetched for pkg in ("opencv", "scipy", "matplotlib", "rich", "tqdm")), fetched
    check = (root / "tools/h200_check.sh").read_text()
    assert "--no-index --no-deps .gpuwheels/*.whl" in check and "import mmengine, mmdet" in check
