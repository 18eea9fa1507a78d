"""alwa.runs.sweep: the resumable parallel runner (processes, start methods, faults, GPUs and cluster executors) and
the `alwa sweep` command that drives it."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alwa.runs import specs as ex
from alwa.runs.profile import load_profile
from alwa.runs.store import load_failures, load_results, pending, spec_key
from alwa.runs.sweep import run_sweep

FN = "toy_worker:run"
TESTS = Path(__file__).resolve().parents[1]


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
    specs = [{{"name": "slow", "seed": i, "sleep": 300, "mark_dir": {marks!r}, "ignore_sigint": {stuck!r}}} for i in range(5)]
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
    """SIGINT to the process group (Ctrl-C): the sweep ends its runs instead of waiting for them, even runs that
    ignore SIGINT/SIGTERM (stuck=True: ended by SIGKILL), starts nothing queued, leaves no result.
    No stopwatch: the runs sleep 300 s, so a sweep that waited for them would write their results and outlive
    the 120 s a slow machine is given; one that ends them needs GRACE_S (3 s) and leaves no result."""
    import os

    proc, marks, out = _start_sweep(tmp_path, stuck)
    os.killpg(proc.pid, signal.SIGINT)
    stdout, _ = proc.communicate(timeout=120)
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
    os.killpg(proc.pid, signal.SIGINT)
    time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGINT)  # impatient user, while the runs are being ended
    proc.communicate(timeout=120)  # the runs sleep 300 s: a hang (or waiting for them) outlives this
    assert proc.returncode != 0
    assert list(out.glob("*.json")) == []


def test_one_sweep_per_results_folder(tmp_path):
    """A second sweep on the same results folder stops at once and names the holder's pid (a sweep that waited for
    the lock would run once the holder's 300 s runs ended, and raise nothing)."""
    proc, _, out = _start_sweep(tmp_path)
    try:
        with pytest.raises(SweepLocked, match=rf"process {proc.pid} "):
            run_sweep(specs(2), out, fn=FN, progress=False)
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
