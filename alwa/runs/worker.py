"""One run in its own process: the run function resolved by its import path, its output sent to a log file, its
result (or its failure) written atomically, its exit code read back by the sweep (or the cluster job's waiter)."""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Callable, Optional

from alwa.core.files import write_json_atomic
from alwa.runs.store import pending, read_record, result_problems, spec_dict, spec_key


DEFAULT_FN = "alwa.mmdet.run:run_spec"
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


def log_path(spec) -> Path:
    """Where a worker writes the output of a run: ``{work_root}/logs/{key}.log`` (the profile's work root: ``work_dirs/<profile>``)."""
    return Path(spec.get("work_root", "work_dirs")) / "logs" / f"{spec_key(spec)}.log"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _failure(spec, error: str, seconds: float, **extra) -> dict:
    return {"spec": spec_dict(spec), "error": error, "log": str(log_path(spec)), "seconds": seconds, "time_utc": _now(), **extra}


def _run_one(fn_path: str, spec, out_dir: str, threads: int = 1, device=None) -> int:
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
        result.setdefault("spec", spec_dict(spec))
        result.setdefault("device", device)
    except Exception as e:  # noqa: BLE001 - recorded, the sweep goes on
        rec = _failure(spec, f"{type(e).__name__}: {e}", time.time() - t0, traceback=traceback.format_exc())
        try:
            write_json_atomic(out / f"{key}.failed.json", rec)
        except OSError:
            return _EXIT_CANNOT_WRITE
        return _EXIT_FAILED_RECORDED
    try:
        _keep_replaced(out, key)
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


REPLACED = "replaced"


def _keep_replaced(out: Path, key: str) -> Optional[Path]:
    """A result file about to be written over (a stale, bad or concurrent run's) is moved to
    ``{out}/replaced/{key}.{UTC time}.json`` first: never lost in silence. Returns where it went."""
    old = out / f"{key}.json"
    if not old.exists():
        return None
    dest = out / REPLACED / f"{key}.{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.{os.getpid()}.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(old, dest)
    print(f"the earlier result of {key} was kept as {dest}", file=sys.stderr)
    return dest


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (an ended process not yet reaped, a zombie, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _end_with_sweep(sweep_pid: int, every_s: float = 1.0) -> None:
    """A run's process ends (SIGTERM to itself: no result is written) once the sweep that started it is gone, even
    when the sweep was killed with SIGKILL and could not end it: a daemon thread looks every ``every_s`` seconds.
    (A forkserver outlives the sweep while its children hold its pipe, so the parent's death cannot be the signal.)"""
    import threading

    def watch():
        while True:
            time.sleep(every_s)
            if not _alive(sweep_pid):
                os.kill(os.getpid(), signal.SIGTERM)
                return

    threading.Thread(target=watch, name="alwa-sweep-watch", daemon=True).start()


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


def _remove_partial(out: Path, key: str) -> None:
    for t in out.glob(f".{key}.json.*.tmp"):
        with contextlib.suppress(OSError):
            t.unlink()
    for t in out.glob(f".{key}.failed.json.*.tmp"):
        with contextlib.suppress(OSError):
            t.unlink()


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
    if code == _EXIT_OK:
        rec, problem = read_record(out / f"{key}.json")
        if rec is not None:
            return True
        cause = cause or f"the run finished but its record {problem}"
        code = None  # recorded below as a failure with that cause
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
