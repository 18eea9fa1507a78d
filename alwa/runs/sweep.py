"""A resumable sweep runner: a list of experiment specs run in parallel worker processes.

* one result file per finished spec, written atomically (``{key}.json``);
* a spec whose result exists is skipped, so a killed sweep restarted loses
  nothing and reruns nothing;
* every run is its own process: a run that fails, or whose process dies
  (killed, out of memory, a segmentation fault), is recorded in
  ``{key}.failed.json`` with its cause and fails alone; the others go on, and
  the next sweep retries it;
* Ctrl-C (SIGINT) or SIGTERM stops the sweep within seconds: the running runs
  are ended (SIGTERM, then SIGKILL), nothing queued is started, no partial
  result is left; :class:`SweepInterrupted` is raised;
* one sweep per results folder at a time (a lock file names the holder);
* result files that cannot be read (truncated, empty, not a record) are named
  by :func:`result_problems` and counted as missing, never a traceback;
* a result or failure record that cannot be written (disk full) stops the
  sweep with :class:`SweepStorageError`;
* CPU: ``workers`` processes with ``threads`` torch/OpenMP threads each; GPU
  box: ``devices=[0, 1, ...]``, one run per GPU at a time;
* a progress bar with an ETA (tqdm).

The worker function is named by its import path (default
``alwa.mmdet.run:run_spec``) so this module stays free of mmdet imports.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Iterable, Optional, Sequence

from alwa.core.files import write_json_atomic
from alwa.runs.cluster import run_submitit
from alwa.runs.store import spec_key
from alwa.runs.worker import (DEFAULT_FN, SweepInterrupted, _end_with_sweep, SweepLocked, _install_handlers, _now, _remove_partial, _restore_handlers,
                              _run_one, plan_pending, settle)

LOCK_NAME = ".sweep.lock"
GRACE_S = 3.0  # after SIGTERM, how long a run's process has before SIGKILL


def _child_main(fn_path: str, spec: dict, out_dir: str, threads: int, device, sweep_pid: int = 0) -> None:
    if sweep_pid:
        _end_with_sweep(sweep_pid)
    # a forkserver child inherits the server's environment, not the sweep's: set the run's own before torch
    # creates its thread pool or initialises CUDA (neither happens on import)
    os.environ.update({"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)})
    if device is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(device)
    os._exit(_run_one(fn_path, spec, out_dir, threads, device))


# What a forkserver imports once, so that each run's process starts with them loaded (~7 s saved per run on
# the 2-core machine for the mmdet runs) and stays a process of its own (a crash takes no other run down).
PRELOAD = {DEFAULT_FN: ["torch", "mmengine.runner", "mmdet.models", "mmdet.evaluation", "alwa.mmdet.run"]}


def _context(fn: str, start_method: str):
    """The multiprocessing context of the runs: ``forkserver`` with the run function's modules preloaded
    (default), or ``spawn`` (every run imports everything itself)."""
    if start_method == "spawn":
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["alwa.runs.sweep", *PRELOAD.get(fn, [fn.partition(":")[0]])])
    return ctx


# ------------------------------------------------------------------ the lock of a results folder
@contextlib.contextmanager
def sweep_lock(out_dir):
    """Hold ``{out_dir}/.sweep.lock`` for the block; :class:`SweepLocked` at once, naming the
    holder, if another sweep holds it. The lock is the kernel's (released when its process dies)."""
    from filelock import FileLock, Timeout

    out = Path(out_dir)
    info = out / (LOCK_NAME + ".info")
    lock = FileLock(str(out / LOCK_NAME))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        try:
            who = json.loads(info.read_text())
            holder = f"process {who.get('pid')} on {who.get('host')} since {who.get('since')} ({who.get('command')})"
        except (OSError, ValueError, AttributeError):
            holder = "another process"
        raise SweepLocked(f"another sweep is running on {out}: {holder}; wait for it or stop it first") from None
    try:
        write_json_atomic(info, {"pid": os.getpid(), "host": socket.gethostname(), "since": _now(),
                                 "command": " ".join(sys.argv)[:300]})
        yield
    finally:
        with contextlib.suppress(OSError):
            info.unlink()
        lock.release()


# ------------------------------------------------------------------ the pool
class _Stop(Exception):
    pass


def _end(procs: Iterable, grace: float = GRACE_S) -> None:
    """SIGTERM each live process, then SIGKILL what is left after ``grace`` seconds; wait for all."""
    procs = [p for p in procs if p.is_alive()]
    for p in procs:
        with contextlib.suppress(OSError):
            p.terminate()
    deadline = time.time() + grace
    for p in procs:
        p.join(max(0.0, deadline - time.time()))
    for p in procs:
        if p.is_alive():
            with contextlib.suppress(OSError):
                p.kill()
            p.join(5)


def run_sweep(specs: Sequence[dict], out_dir, workers: int = 1, threads: int = 1, devices: Optional[Sequence[int]] = None,
              fn: str = DEFAULT_FN, progress: bool = True, desc: str = "sweep", max_runs: Optional[int] = None,
              poll_s: float = 0.2, runs_per_device: int = 1, executor: str = "local", slurm: Optional[dict] = None,
              start_method: Optional[str] = None) -> dict:
    """Run every pending spec; returns ``{'done': [...], 'failed': [...], 'skipped': n, 'stale': [...], 'problems': [...]}``.

    ``max_runs`` stops after that many runs (to run a long sweep in parts); it must be >= 0. With
    ``devices``, ``runs_per_device`` runs share each GPU (small models). ``executor='slurm'`` submits one
    job per pending run through submitit (``slurm``: partition, time_min, gpus_per_job, ...);
    ``executor='submitit-local'`` is the same path on this machine (:mod:`alwa.runs.cluster`).
    Raises :class:`SweepLocked`, :class:`SweepInterrupted` or :class:`SweepStorageError`."""
    if max_runs is not None and int(max_runs) < 0:
        raise ValueError(f"max_runs must be >= 0, got {max_runs}")
    if devices is not None and len(devices) == 0:
        raise ValueError("devices is empty: give at least one GPU index, or None for CPU workers")
    if int(runs_per_device) < 1:
        raise ValueError(f"runs_per_device must be >= 1, got {runs_per_device}")
    if int(workers) < 1 or int(threads) < 1:
        raise ValueError(f"workers and threads must be >= 1, got {workers} and {threads}")
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; expected one of {EXECUTORS}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if max_runs is not None and int(max_runs) == 0:  # starts nothing: reads only, so another sweep may hold the folder
        return plan_pending(specs, out, 0)[1]
    with sweep_lock(out):
        if executor != "local":
            return run_submitit(specs, out, fn=fn, threads=threads, max_runs=max_runs, progress=progress, desc=desc,
                                cluster="slurm" if executor == "slurm" else "local", slurm=slurm or {}, poll_s=max(poll_s, 0.5),
                                workers=int(workers), devices=devices, runs_per_device=int(runs_per_device))
        if start_method is None:  # a GPU run starts where CUDA was never touched (what worked on the H200)
            start_method = "spawn" if devices is not None else "forkserver"
        if start_method not in START_METHODS:
            raise ValueError(f"start_method must be one of {START_METHODS}, got {start_method!r}")
        return _run_locked(specs, out, workers, threads, devices, fn, progress, desc, max_runs, poll_s, int(runs_per_device),
                           start_method)


EXECUTORS = ("local", "slurm", "submitit-local")
START_METHODS = ("forkserver", "spawn")


def _run_locked(specs, out: Path, workers, threads, devices, fn, progress, desc, max_runs, poll_s, runs_per_device=1,
                start_method: str = "forkserver") -> dict:
    todo, summary = plan_pending(specs, out, max_runs)
    if not todo:
        return summary
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), desc=desc, unit="run", dynamic_ncols=True)
    ctx = _context(fn, start_method)
    free = ([d for d in devices for _ in range(runs_per_device)] if devices is not None
            else [None] * max(1, min(int(workers), len(todo))))
    queue = list(todo)
    running: dict = {}  # process -> (spec, device, start time)

    def stop(signum, frame):  # noqa: ARG001
        raise _Stop(signal.Signals(signum).name)

    old = _install_handlers(stop)
    try:
        while queue or running:
            while queue and free:
                spec, dev = queue.pop(0), free.pop(0)
                proc = ctx.Process(target=_child_main, args=(fn, spec, str(out), int(threads), dev, os.getpid()), name=spec_key(spec),
                                   daemon=False)
                with _child_env(threads, dev):
                    proc.start()
                running[proc] = (spec, dev, time.time())
            time.sleep(poll_s)
            for proc in [p for p in running if not p.is_alive()]:
                proc.join()
                spec, dev, t0 = running.pop(proc)
                free.append(dev)
                key, secs = spec_key(spec), time.time() - t0
                code = proc.exitcode
                if code == -signal.SIGINT:  # Ctrl-C reached the run before this process's handler ran
                    running[proc] = (spec, dev, t0)
                    raise _Stop("SIGINT")
                ok = settle(out, spec, code, secs)
                summary["done" if ok else "failed"].append(key)
                if bar is not None:
                    bar.set_postfix_str(f"{key} {'ok' if ok else 'failed'} {secs:.0f}s", refresh=False)
                    bar.update(1)
    except _Stop as e:
        if old:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the clean-up
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _end(list(running))
        for spec, _, _ in running.values():
            _remove_partial(out, spec_key(spec))
        summary["interrupted"] = [spec_key(s) for s, _, _ in running.values()]
        summary["not_started"] = [spec_key(s) for s in queue]
        raise SweepInterrupted(f"sweep stopped by {e}: {len(summary['done'])} done, {len(summary['failed'])} failed, "
                               f"{len(summary['interrupted'])} ended unfinished, {len(queue)} not started", summary) from None
    except BaseException:
        if old:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        _end(list(running))
        for spec, _, _ in running.values():
            _remove_partial(out, spec_key(spec))
        raise
    finally:
        _restore_handlers(old)
        if bar is not None:
            bar.close()
    return summary


@contextlib.contextmanager
def _child_env(threads: int, device):
    """The environment a run's process (and a forkserver started for it) starts with (spawn copies ``os.environ``):
    its thread count (set before torch is imported there), its GPU, and CUDA's NVML-based availability check."""
    # PYTORCH_NVML_BASED_CUDA_CHECK: a forkserver started here (on the first run) preloads mmengine, whose import asks
    # torch.cuda.is_available(); with the NVML check that question does not initialise CUDA, so the runs forked
    # from the server can still use it ("Cannot re-initialize CUDA in forked subprocess" otherwise)
    new = {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "PYTORCH_NVML_BASED_CUDA_CHECK": "1"}
    if device is not None:
        new["CUDA_VISIBLE_DEVICES"] = str(device)
    saved = {k: os.environ.get(k) for k in new}
    os.environ.update(new)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
