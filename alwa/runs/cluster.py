"""Sweeps on a cluster: one SLURM job per pending run, through submitit.

The runs, their result files, skipping, staleness and failure records are those of the local pool
(:func:`alwa.runs.sweep.run_sweep`): each job calls the same :func:`alwa.runs.worker._run_one`, which writes the
result (or the failure) into the results folder, which must be on a file system the jobs share; this
process waits for the jobs and records a failure for a job that died without one (killed for time or
memory, node failure). ``cluster='local'`` is submitit's local executor: the same code path without
SLURM (what the tests run).

SLURM options (``--slurm-partition``, ``--slurm-time``, ``--slurm-gpus`` or the profile's ``slurm``
mapping): ``partition``, ``time_min``, ``gpus_per_job``, ``cpus_per_job``, ``mem_gb``, ``account``, and
``extra`` (any further ``slurm_*`` parameter of submitit, e.g. ``{"constraint": "a100"}``).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Optional

from alwa.core.files import write_json_atomic
from alwa.runs.store import spec_key
from alwa.runs.worker import (DEFAULT_FN, SweepInterrupted, _end_with_sweep, _install_handlers, _restore_handlers, _run_one,
                              plan_pending, settle)

SLURM_DEFAULTS = {"partition": None, "time_min": 240, "gpus_per_job": 1, "cpus_per_job": 4, "mem_gb": None, "account": None,
                  "extra": {}}


def _job_main(fn_path: str, spec: dict, out_dir: str, threads: int, device=None, sweep_pid: int = 0) -> int:
    """What a job runs: one spec, its record written by :func:`alwa.runs.worker._run_one`; returns its exit code.
    ``device``: the GPU a local job runs on (set before torch is imported here); None: the scheduler's choice."""
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    if sweep_pid:  # a local job ends with the sweep that started it (a SLURM job runs on another machine)
        _end_with_sweep(sweep_pid)
    if device is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(device)
    return _run_one(fn_path, spec, out_dir, threads, os.environ.get("CUDA_VISIBLE_DEVICES"))


def check_slurm() -> None:
    """``--executor slurm`` needs SLURM's commands on this machine; a one-line ValueError if they are not there."""
    import shutil

    missing = [c for c in ("sbatch", "squeue") if shutil.which(c) is None]
    if missing:
        raise ValueError(f"--executor slurm needs SLURM, but {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} "
                         "not on PATH here: run it on the cluster's login node, or use --executor submitit-local")


def executor_for(folder: Path, cluster: str, slurm: dict, threads: int):
    """A submitit executor: ``cluster='slurm'`` with the SLURM options, or ``'local'``."""
    import submitit

    opts = {**SLURM_DEFAULTS, **(slurm or {})}
    ex = submitit.AutoExecutor(folder=str(folder), cluster=cluster)
    params = {"timeout_min": int(opts["time_min"]), "cpus_per_task": int(opts["cpus_per_job"] or threads), "nodes": 1,
              "tasks_per_node": 1, "name": "alwa-run"}
    if cluster == "slurm":
        params["gpus_per_node"] = int(opts["gpus_per_job"])
        if opts["mem_gb"]:
            params["mem_gb"] = int(opts["mem_gb"])
        if opts["partition"]:
            params["slurm_partition"] = opts["partition"]
        if opts["account"]:
            params["slurm_account"] = opts["account"]
        params.update({f"slurm_{k}": v for k, v in (opts["extra"] or {}).items()})
    ex.update_parameters(**params)
    return ex


JOBS_FILE = "alwa_jobs.json"  # in the executor's folder: the SLURM jobs a sweep submitted and has not seen end


def _jobs_file(out: Path) -> Path:
    return out / ".submitit" / JOBS_FILE


def running_jobs(out: Path) -> dict:
    """{run key: job id} of SLURM jobs an earlier sweep on ``out`` submitted that SLURM still lists (``squeue``):
    a sweep killed without cancelling them leaves them running, and a new sweep must not start the same runs."""
    import json
    import subprocess

    try:
        recorded = json.loads(_jobs_file(out).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(recorded, dict) or not recorded:
        return {}
    ids = ",".join(str(v) for v in recorded.values())
    try:
        listed = subprocess.run(["squeue", "-h", "-o", "%i", "-j", ids], capture_output=True, text=True, timeout=60).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return {}
    alive = {x.split("_")[0] for x in listed}
    return {k: v for k, v in recorded.items() if str(v).split("_")[0] in alive}


def _record_jobs(out: Path, jobs: dict) -> None:
    if jobs:
        write_json_atomic(_jobs_file(out), jobs)
    else:
        _jobs_file(out).unlink(missing_ok=True)


def run_submitit(specs, out: Path, fn: str = DEFAULT_FN, threads: int = 1, max_runs: Optional[int] = None, progress: bool = True,
                 desc: str = "sweep", cluster: str = "slurm", slurm: Optional[dict] = None, poll_s: float = 5.0,
                 workers: int = 1, devices=None, runs_per_device: int = 1) -> dict:
    """Submit one job per pending spec and wait for all of them (the caller holds the results folder's lock).

    On SLURM every job is submitted at once (the scheduler decides what runs when). Locally (``cluster='local'``)
    at most ``workers`` jobs run at a time, or ``runs_per_device`` per GPU of ``devices``, each job on its own
    GPU, as in the local pool."""
    if cluster == "slurm":
        check_slurm()
        alive = running_jobs(out)
        if alive:
            keys = ", ".join(sorted(alive)[:5]) + (" ..." if len(alive) > 5 else "")
            raise ValueError(f"{len(alive)} SLURM job(s) of an earlier sweep on {out} still run ({keys}): wait for them, "
                             f"or cancel them with: scancel {' '.join(str(v) for v in alive.values())}")
    todo, summary = plan_pending(specs, out, max_runs)
    if not todo:
        return summary
    ex = executor_for(out / ".submitit", cluster, slurm or {}, threads)
    if cluster == "slurm":
        with ex.batch():
            jobs = [(s, ex.submit(_job_main, fn, s, str(out), int(threads))) for s in todo]
        _record_jobs(out, {spec_key(s): str(j.job_id) for s, j in jobs})  # seen by the next sweep if this one dies
        queue, free = [], []
    else:
        jobs, queue = [], list(todo)
        free = [d for d in devices for _ in range(int(runs_per_device))] if devices is not None else [None] * max(1, int(workers))
    t0 = time.time()
    summary["jobs"] = {}
    slot_of: dict = {}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), desc=f"{desc} ({cluster} jobs)", unit="run", dynamic_ncols=True)
    waiting = list(jobs)

    def submit_free():
        while queue and free:
            spec, dev = queue.pop(0), free.pop(0)
            job = ex.submit(_job_main, fn, spec, str(out), int(threads), dev, os.getpid())
            slot_of[job.job_id] = dev
            waiting.append((spec, job))

    def stop(signum, frame):  # noqa: ARG001
        raise KeyboardInterrupt

    old = _install_handlers(stop)
    try:
        submit_free()
        summary["jobs"].update({spec_key(s): str(j.job_id) for s, j in waiting})
        while waiting:
            time.sleep(poll_s)
            for spec, job in [w for w in waiting if w[1].done()]:
                waiting.remove((spec, job))
                if job.job_id in slot_of:
                    free.append(slot_of.pop(job.job_id))
                cause = None
                try:
                    code = job.result()
                except Exception as e:  # noqa: BLE001 - the job died: killed for time/memory, node failure, ...
                    code = -int(signal.SIGKILL)
                    cause = f"job {job.job_id} ended without a result ({type(e).__name__}: {str(e).splitlines()[0][:300]}); " \
                            f"its log: {job.paths.stdout}"
                    summary.setdefault("job_errors", {})[spec_key(spec)] = cause
                ok = settle(out, spec, code, time.time() - t0, cause)
                summary["done" if ok else "failed"].append(spec_key(spec))
                if bar is not None:
                    bar.set_postfix_str(f"{spec_key(spec)} {'ok' if ok else 'failed'}", refresh=False)
                    bar.update(1)
            submit_free()
            summary["jobs"].update({spec_key(s): str(j.job_id) for s, j in waiting})
            if cluster == "slurm":
                _record_jobs(out, {spec_key(s): str(j.job_id) for s, j in waiting})
    except KeyboardInterrupt:
        if old:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        for _, job in waiting:
            try:
                job.cancel(check=False)
            except Exception:  # noqa: BLE001 - best effort: the scheduler may have finished it meanwhile
                pass
        if cluster == "slurm":
            _record_jobs(out, {})  # cancelled: nothing of this sweep runs on
        summary["interrupted"] = [spec_key(s) for s, _ in waiting]
        summary["not_started"] = [spec_key(s) for s in queue]
        raise SweepInterrupted(f"sweep stopped: {len(summary['done'])} done, {len(waiting)} job(s) cancelled", summary) from None
    finally:
        _restore_handlers(old)
        if bar is not None:
            bar.close()
    return summary
