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
import importlib
import json
import multiprocessing as mp
import os
import signal
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

from .results import write_json_atomic

DEFAULT_FN = "alwa.mmdet.run:run_spec"
LOCK_NAME = ".sweep.lock"
GRACE_S = 3.0  # after SIGTERM, how long a run's process has before SIGKILL
# exit codes of a run's process
_EXIT_OK, _EXIT_FAILED_RECORDED, _EXIT_CANNOT_WRITE = 0, 3, 4


class SweepError(RuntimeError):
    """Base of the sweep runner's own errors."""


class SweepLocked(SweepError):
    """Another sweep holds the results folder."""


class SweepInterrupted(SweepError, KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped the sweep; ``summary`` says what had finished."""

    def __init__(self, msg: str, summary: dict):
        super().__init__(msg)
        self.summary = summary


class SweepStorageError(SweepError):
    """A result or failure record could not be written (e.g. disk full); the sweep stopped."""


def spec_key(spec: dict) -> str:
    """File-name key of a spec: ``{name}__s{seed}``."""
    return f"{spec['name']}__s{int(spec.get('seed', 0))}"


def _resolve(path: str) -> Callable:
    mod, _, fn = path.partition(":")
    return getattr(importlib.import_module(mod), fn)


@contextlib.contextmanager
def _output_to(path: Path):
    """Send this process's stdout and stderr (file descriptors 1 and 2, so C
    libraries and warnings too) to ``path`` for the block, then restore them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "a") as f:
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def log_path(spec: dict) -> Path:
    """Where a worker writes the output of a run: ``{work_root}/logs/{key}.log`` (the profile's work root: ``work_dirs/<profile>``)."""
    return Path(spec.get("work_root", "work_dirs")) / "logs" / f"{spec_key(spec)}.log"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _failure(spec: dict, error: str, seconds: float, **extra) -> dict:
    return {"spec": spec, "error": error, "log": str(log_path(spec)), "seconds": seconds, "time_utc": _now(), **extra}


def _run_one(fn_path: str, spec: dict, out_dir: str, threads: int = 1, device=None) -> int:
    """A run's process: run ``spec`` (its output going to :func:`log_path`), write the
    result (or the failure) atomically; returns the process's exit code."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # ended by the parent (or the terminal), never a half-written record
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    key = spec_key(spec)
    out = Path(out_dir)
    t0 = time.time()
    try:
        import torch

        torch.set_num_threads(threads)
        with _output_to(log_path(spec)):
            result = _resolve(fn_path)(spec)
        if not isinstance(result, dict):
            raise TypeError(f"the run function returned {type(result).__name__}, not a record (dict)")
        result.setdefault("spec", spec)
        result.setdefault("device", device)
    except Exception as e:  # noqa: BLE001 - recorded, the sweep goes on
        rec = _failure(spec, f"{type(e).__name__}: {e}", time.time() - t0, traceback=traceback.format_exc())
        try:
            write_json_atomic(out / f"{key}.failed.json", rec)
        except OSError:
            return _EXIT_CANNOT_WRITE
        return _EXIT_FAILED_RECORDED
    try:
        write_json_atomic(out / f"{key}.json", result)
    except OSError as e:
        try:
            print(f"cannot write the result of {key}: {e}", file=sys.stderr)
            write_json_atomic(out / f"{key}.failed.json", _failure(spec, f"result not written: {type(e).__name__}: {e}", time.time() - t0))
        except OSError:
            pass
        return _EXIT_CANNOT_WRITE
    failed = out / f"{key}.failed.json"
    if failed.exists():
        failed.unlink()
    return _EXIT_OK


def _child_main(fn_path: str, spec: dict, out_dir: str, threads: int, device) -> None:
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
    ctx.set_forkserver_preload(["alwa.sweep", *PRELOAD.get(fn, [fn.partition(":")[0]])])
    return ctx


def exit_cause(code: Optional[int]) -> str:
    """Words for a run process's exit code (negative: killed by that signal)."""
    if code is None:
        return "still running"
    if code < 0:
        sig = -code
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else f"signal {sig}"
        hint = {signal.SIGKILL: " (the out-of-memory killer, or killed by hand)", signal.SIGSEGV: " (segmentation fault)",
                signal.SIGBUS: " (bus error)", signal.SIGABRT: " (aborted)"}.get(sig, "")
        return f"worker process killed by {name}{hint}"
    if code == _EXIT_CANNOT_WRITE:
        return "worker could not write its result (disk full?)"
    return f"worker process exited with code {code}"


# ------------------------------------------------------------------ reading result files
def read_record(path, kind: str = "result") -> tuple[Optional[dict], Optional[str]]:
    """``(record, None)`` for a readable record, ``(None, problem)`` otherwise.

    A result needs to be a JSON object with a ``name``; a failure record
    (``kind='failure'``) a JSON object with a ``spec`` object."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        return None, f"cannot be read ({e.strerror or e})"
    if not text.strip():
        return None, "is empty"
    try:
        rec = json.loads(text)
    except json.JSONDecodeError as e:
        return None, f"is not valid JSON (truncated?) at line {e.lineno} column {e.colno}"
    if not isinstance(rec, dict):
        return None, f"holds {'null' if rec is None else type(rec).__name__}, not a record"
    if kind == "failure":
        if not isinstance(rec.get("spec"), dict) or "name" not in rec["spec"]:
            return None, "is a failure record without a spec"
    elif not isinstance(rec.get("name"), str):
        return None, "is a record without a name"
    elif "spec" in rec and not isinstance(rec["spec"], dict):
        return None, "has a spec that is not an object"
    return rec, None


def result_problems(out_dir) -> list[str]:
    """One line per unreadable result or failure file in ``out_dir`` (each counted as missing)."""
    out = Path(out_dir)
    lines = []
    for p in sorted(out.glob("*.json")) if out.is_dir() else []:
        kind = "failure" if p.name.endswith(".failed.json") else "result"
        _, problem = read_record(p, kind)
        if problem:
            lines.append(f"{p}: {problem}; counted as missing (delete it, or rerun the sweep to replace it)")
    return lines


def _same_spec(a: dict, b: dict) -> bool:
    """Specs match when everything but where the work files go is equal."""
    strip = lambda s: {k: v for k, v in s.items() if k != "work_root"}  # noqa: E731
    return json.dumps(strip(a), sort_keys=True) == json.dumps(strip(b), sort_keys=True)


def pending(specs: Sequence[dict], out_dir) -> list[dict]:
    """Specs without a (readable) result file, or whose result was made with a different
    spec (stale: e.g. the profile's settings changed). Duplicates removed, order kept."""
    out = Path(out_dir)
    seen, todo = set(), []
    for s in specs:
        k = spec_key(s)
        if k in seen:
            continue
        seen.add(k)
        f = out / f"{k}.json"
        if not f.exists():
            todo.append(s)
            continue
        rec, _ = read_record(f)
        old = rec.get("spec") if rec else None
        if old is None or not _same_spec(old, s):
            todo.append(s)
    return todo


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


def _remove_partial(out: Path, key: str) -> None:
    for t in out.glob(f".{key}.json.*.tmp"):
        with contextlib.suppress(OSError):
            t.unlink()
    for t in out.glob(f".{key}.failed.json.*.tmp"):
        with contextlib.suppress(OSError):
            t.unlink()


def run_sweep(specs: Sequence[dict], out_dir, workers: int = 1, threads: int = 1, devices: Optional[Sequence[int]] = None,
              fn: str = DEFAULT_FN, progress: bool = True, desc: str = "sweep", max_runs: Optional[int] = None,
              poll_s: float = 0.2, runs_per_device: int = 1, executor: str = "local", slurm: Optional[dict] = None,
              start_method: str = "forkserver") -> dict:
    """Run every pending spec; returns ``{'done': [...], 'failed': [...], 'skipped': n, 'stale': [...], 'problems': [...]}``.

    ``max_runs`` stops after that many runs (to run a long sweep in parts); it must be >= 0. With
    ``devices``, ``runs_per_device`` runs share each GPU (small models). ``executor='slurm'`` submits one
    job per pending run through submitit (``slurm``: partition, time_min, gpus_per_job, ...);
    ``executor='submitit-local'`` is the same path on this machine (:mod:`alwa.cluster`).
    Raises :class:`SweepLocked`, :class:`SweepInterrupted` or :class:`SweepStorageError`."""
    if max_runs is not None and int(max_runs) < 0:
        raise ValueError(f"max_runs must be >= 0, got {max_runs}")
    if devices is not None and len(devices) == 0:
        raise ValueError("devices is empty: give at least one GPU index, or None for CPU workers")
    if int(runs_per_device) < 1:
        raise ValueError(f"runs_per_device must be >= 1, got {runs_per_device}")
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; expected one of {EXECUTORS}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if max_runs is not None and int(max_runs) == 0:  # starts nothing: reads only, so another sweep may hold the folder
        return plan_pending(specs, out, 0)[1]
    with sweep_lock(out):
        if executor != "local":
            from .cluster import run_submitit

            return run_submitit(specs, out, fn=fn, threads=threads, max_runs=max_runs, progress=progress, desc=desc,
                                cluster="slurm" if executor == "slurm" else "local", slurm=slurm or {}, poll_s=max(poll_s, 0.5))
        if start_method not in ("forkserver", "spawn"):
            raise ValueError(f"start_method must be 'forkserver' or 'spawn', got {start_method!r}")
        return _run_locked(specs, out, workers, threads, devices, fn, progress, desc, max_runs, poll_s, int(runs_per_device),
                           start_method)


EXECUTORS = ("local", "slurm", "submitit-local")


def plan_pending(specs, out: Path, max_runs) -> tuple[list, dict]:
    """The specs to run now and the summary so far (skipped, stale, unreadable files)."""
    problems = result_problems(out)  # the caller reports them (the CLI before it calls, a notebook after)
    todo = pending(specs, out)
    skipped = len({spec_key(s) for s in specs}) - len(todo)
    stale = [spec_key(s) for s in todo if read_record(out / f"{spec_key(s)}.json")[0] is not None]
    if stale:
        print(f"{len(stale)} result(s) made with other settings will be rerun: {stale[:5]}{' ...' if len(stale) > 5 else ''}")
    if max_runs is not None:
        todo = todo[: int(max_runs)]
    return todo, {"done": [], "failed": [], "skipped": skipped, "stale": stale, "problems": problems}


def settle(out: Path, spec: dict, code: Optional[int], secs: float, cause: Optional[str] = None) -> bool:
    """After a run's process (or job) ended with ``code``: True if its result is there; otherwise make sure a
    failure record is (the run writes its own; a killed one cannot). Raises :class:`SweepStorageError`."""
    key = spec_key(spec)
    if code == _EXIT_OK and read_record(out / f"{key}.json")[0] is not None:
        return True
    _remove_partial(out, key)
    if code != _EXIT_FAILED_RECORDED:
        try:
            write_json_atomic(out / f"{key}.failed.json", _failure(spec, cause or exit_cause(code), secs, exitcode=code))
        except OSError as e:
            raise SweepStorageError(f"cannot record the failure of {key} in {out} ({e}); the sweep stopped: "
                                    f"free space, then run the sweep again") from e
    if code == _EXIT_CANNOT_WRITE:
        raise SweepStorageError(f"the result of {key} could not be written to {out} (disk full?); "
                                f"the sweep stopped: free space, then run the sweep again")
    return False


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
                proc = ctx.Process(target=_child_main, args=(fn, spec, str(out), int(threads), dev), name=spec_key(spec), daemon=False)
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


def _install_handlers(handler) -> dict:
    """SIGINT/SIGTERM -> ``handler`` while the sweep runs; only the main thread may install handlers (elsewhere,
    e.g. a sweep started from a thread, Ctrl-C reaches the runs' processes directly and they end)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return {}
    return {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}


def _restore_handlers(old: dict) -> None:
    for s, h in old.items():
        signal.signal(s, h)


@contextlib.contextmanager
def _child_env(threads: int, device):
    """The environment a run's process starts with (spawn copies ``os.environ``): its thread count
    (set before torch is imported there) and its GPU."""
    new = {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
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


# ------------------------------------------------------------------ loading
def _wanted(spec: dict, wanted: dict) -> bool:
    """``spec`` is one of ``wanted`` (``{spec_key: spec}``): same key and same spec."""
    other = wanted.get(spec_key(spec))
    return other is not None and _same_spec(spec, other)


def load_results(out_dir, specs: Optional[Iterable[dict]] = None) -> list[dict]:
    """The readable result records in ``out_dir`` (only those of ``specs`` if given);
    unreadable files are left out (:func:`result_problems` names them)."""
    out = Path(out_dir)
    if specs is not None:
        specs = list(specs)
        keys = [spec_key(s) for s in specs]
        files = [out / f"{k}.json" for k in dict.fromkeys(keys)]
        wanted = {spec_key(s): s for s in specs}
        loaded = [read_record(p)[0] for p in files if p.exists()]
        return [r for r in loaded if r is not None and ("spec" not in r or _wanted(r["spec"], wanted))]
    recs = (read_record(p)[0] for p in sorted(out.glob("*.json")) if not p.name.endswith(".failed.json"))
    return [r for r in recs if r is not None]


def of_specs(records: Iterable[dict], specs: Iterable[dict]) -> list[dict]:
    """The ``records`` (already loaded) that belong to ``specs``: same key and same spec."""
    wanted = {spec_key(s): s for s in specs}
    return [r for r in records if "spec" in r and _wanted(r["spec"], wanted)]


def load_failures(out_dir) -> list[dict]:
    """The readable failure records in ``out_dir``."""
    recs = (read_record(p, "failure")[0] for p in sorted(Path(out_dir).glob("*.failed.json")))
    return [r for r in recs if r is not None]
