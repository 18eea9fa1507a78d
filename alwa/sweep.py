"""A resumable sweep runner: a list of experiment specs run in parallel worker processes.

* one result file per finished spec, written atomically (``{key}.json``);
* a spec whose result exists is skipped, so a killed sweep restarted loses
  nothing and reruns nothing;
* a failed spec is recorded in ``{key}.failed.json`` with its error and
  traceback, does not stop the others, and is retried by the next sweep;
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
import sys
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

from .results import write_json_atomic

DEFAULT_FN = "alwa.mmdet.run:run_spec"


def spec_key(spec: dict) -> str:
    """File-name key of a spec: ``{name}__s{seed}``."""
    return f"{spec['name']}__s{int(spec.get('seed', 0))}"


def _resolve(path: str) -> Callable:
    mod, _, fn = path.partition(":")
    return getattr(importlib.import_module(mod), fn)


_DEVICE = None


def _init_worker(threads: int, devices) -> None:
    global _DEVICE
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ["MKL_NUM_THREADS"] = str(threads)
    if devices is not None:
        _DEVICE = devices.get()
        os.environ["CUDA_VISIBLE_DEVICES"] = str(_DEVICE)
    import torch

    torch.set_num_threads(threads)


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


def _run_one(fn_path: str, spec: dict, out_dir: str) -> tuple[str, str, float]:
    """Worker: run (its output going to :func:`log_path`), then write the result
    (or the failure) atomically."""
    key = spec_key(spec)
    out = Path(out_dir)
    t0 = time.time()
    try:
        with _output_to(log_path(spec)):
            result = _resolve(fn_path)(spec)
        result.setdefault("spec", spec)
        result.setdefault("device", _DEVICE)
        write_json_atomic(out / f"{key}.json", result)
        failed = out / f"{key}.failed.json"
        if failed.exists():
            failed.unlink()
        return key, "ok", time.time() - t0
    except Exception as e:  # noqa: BLE001 - recorded, the sweep goes on
        write_json_atomic(out / f"{key}.failed.json", {
            "spec": spec, "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc(), "log": str(log_path(spec)),
            "seconds": time.time() - t0, "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        })
        return key, "failed", time.time() - t0


def _same_spec(a: dict, b: dict) -> bool:
    """Specs match when everything but where the work files go is equal."""
    strip = lambda s: {k: v for k, v in s.items() if k != "work_root"}  # noqa: E731
    return json.dumps(strip(a), sort_keys=True) == json.dumps(strip(b), sort_keys=True)


def pending(specs: Sequence[dict], out_dir) -> list[dict]:
    """Specs without a result file, or whose result was made with a different
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
        try:
            old = json.loads(f.read_text()).get("spec")
        except (json.JSONDecodeError, OSError):
            old = None
        if old is None or not _same_spec(old, s):
            todo.append(s)
    return todo


def run_sweep(specs: Sequence[dict], out_dir, workers: int = 1, threads: int = 1, devices: Optional[Sequence[int]] = None,
              fn: str = DEFAULT_FN, progress: bool = True, desc: str = "sweep", max_runs: Optional[int] = None) -> dict:
    """Run every pending spec; returns ``{'done': [...], 'failed': [...], 'skipped': n}``.

    ``max_runs`` stops after that many runs (to run a long sweep in parts)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    todo = pending(specs, out)
    skipped = len({spec_key(s) for s in specs}) - len(todo)
    stale = [spec_key(s) for s in todo if (out / f"{spec_key(s)}.json").exists()]
    if stale:
        print(f"{len(stale)} result(s) made with other settings will be rerun: {stale[:5]}{' ...' if len(stale) > 5 else ''}")
    if max_runs is not None:
        todo = todo[:max_runs]
    summary = {"done": [], "failed": [], "skipped": skipped, "stale": stale}
    if not todo:
        return summary
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), desc=desc, unit="run", dynamic_ncols=True)
    ctx = mp.get_context("spawn")
    queue = None
    if devices is not None:
        workers = len(devices)
        queue = ctx.Manager().Queue()
        for d in devices:
            queue.put(d)
    workers = max(1, min(workers, len(todo)))
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker, initargs=(threads, queue)) as ex:
        futures = {ex.submit(_run_one, fn, s, str(out)): s for s in todo}
        remaining = set(futures)
        while remaining:
            finished, remaining = wait(remaining, return_when=FIRST_COMPLETED)
            for f in finished:
                try:
                    key, status, secs = f.result()
                except Exception as e:  # noqa: BLE001 - a worker died (e.g. killed): record it
                    key, status, secs = spec_key(futures[f]), "failed", 0.0
                    write_json_atomic(out / f"{key}.failed.json", {"spec": futures[f], "error": f"worker died: {e!r}"})
                summary["done" if status == "ok" else "failed"].append(key)
                if bar is not None:
                    bar.set_postfix_str(f"{key} {status} {secs:.0f}s", refresh=False)
                    bar.update(1)
    if bar is not None:
        bar.close()
    return summary


def _wanted(spec: dict, wanted: dict) -> bool:
    """``spec`` is one of ``wanted`` (``{spec_key: spec}``): same key and same spec."""
    other = wanted.get(spec_key(spec))
    return other is not None and _same_spec(spec, other)


def load_results(out_dir, specs: Optional[Iterable[dict]] = None) -> list[dict]:
    """The result records in ``out_dir`` (only those of ``specs`` if given)."""
    out = Path(out_dir)
    if specs is not None:
        specs = list(specs)
        keys = [spec_key(s) for s in specs]
        files = [out / f"{k}.json" for k in dict.fromkeys(keys)]
        wanted = {spec_key(s): s for s in specs}
        loaded = [json.loads(p.read_text()) for p in files if p.exists()]
        return [r for r in loaded if "spec" not in r or _wanted(r["spec"], wanted)]
    return [json.loads(p.read_text()) for p in sorted(out.glob("*.json")) if not p.name.endswith(".failed.json")]


def of_specs(records: Iterable[dict], specs: Iterable[dict]) -> list[dict]:
    """The ``records`` (already loaded) that belong to ``specs``: same key and same spec."""
    wanted = {spec_key(s): s for s in specs}
    return [r for r in records if "spec" in r and _wanted(r["spec"], wanted)]


def load_failures(out_dir) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(Path(out_dir).glob("*.failed.json"))]
