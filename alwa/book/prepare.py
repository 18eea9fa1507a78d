"""What the notebooks read, made before they run (``alwa book`` calls :func:`prepare`): the profile's training runs
(its parts' sweep, then the learning-rate study where the profile plans one), the benchmarks not yet recorded, and
then the claim store and result tables (:func:`alwa.report.store.build`). The notebooks start no run, measure
nothing and write no result: they read the records and the store, render and glue."""

from __future__ import annotations

from typing import Optional

from alwa.bench import micro, train as bench_train
from alwa.core.files import provenance, write_json_atomic
from alwa.mmdet import run as mmrun
from alwa.report import store
from alwa.runs import study
from alwa.runs.engine import drive
from alwa.runs.profile import Profile, results_dir
from alwa.runs.specs import PARTS, profile_specs
from alwa.runs.sweep import run_sweep


def _bench(p: Profile, name: str, measure, log) -> None:
    """Measure and store ``bench/<name>.json`` where it is not recorded yet (a stored benchmark is never measured anew
    by a build: two builds give the same numbers)."""
    path = results_dir(p.results_root, p.profile, "bench") / f"{name}.json"
    if path.exists():
        return
    log(f"measuring the {name} benchmark for profile {p.profile} ({path})")
    rec = {"profile": p.profile, **measure()}
    rec.setdefault("provenance", provenance())
    write_json_atomic(path, rec)


def measure_weighter() -> dict:
    return micro.run(device="cpu", calls=2000, repeats=5)


def measure_train_step(p: Profile) -> dict:
    voc, _ = mmrun.prepare_mini_data(p.data_dir, p.dataset, p.pretrain)
    return bench_train.run(blocks=p.bench_blocks, steps=p.bench_steps, data_root=voc, threads=max(1, p.threads * p.workers),
                           progress=True)


def prepare(p: Profile, max_runs: Optional[int] = None, source=".", log=print) -> list:
    """Run what is missing (``max_runs``: at most this many training runs per step; 0: nothing is trained or
    measured), then build the store. Returns the store's files with whether each was written."""
    if max_runs != 0:
        out = results_dir(p.results_root, p.profile, "runs")
        summary = run_sweep(profile_specs(p, tuple(PARTS)), out, workers=p.workers, threads=p.threads, devices=p.devices,
                            desc=f"{p.profile}: the notebooks' runs", max_runs=max_runs, runs_per_device=p.runs_per_device)
        for line in summary.get("problems", []):
            log(f"warning: {line}")
        if summary["failed"]:
            log(f"warning: {len(summary['failed'])} run(s) failed: {summary['failed']} (the tables use what exists)")
        if p.profile in study.PLANS:
            outcome = drive(study.LrStudy(study.plan_for(p.profile)), p, out, max_runs=max_runs, log=log)
            if outcome.failed:
                log(f"warning: {len(outcome.failed)} run(s) of the learning-rate study failed: {outcome.failed}")
        _bench(p, "weighter", measure_weighter, log)
        if p.data == "mini":
            _bench(p, "train_step", lambda: measure_train_step(p), log)
    return store.build(p, source)
