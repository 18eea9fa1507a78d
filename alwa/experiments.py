"""The experiment lists of the training notebooks, per profile, and their summaries.

Specs are plain dicts for :mod:`alwa.sweep` (no mmdet import here). A profile's
parameters (``notebooks/params/{smoke,cpu,gpu}.yaml``, injected by papermill)
pick the scale: ``data: mini`` + ``backbone: r18w16`` (smoke, cpu) or
``data: voc`` + ``backbone: r50`` (gpu, the paper's configs).
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Optional

from . import stats
from .experiment import Experiment

TABLE1_PAIRS = ["0.10:0.10", "0.25:0.25", "0.25:0.50", "0.50:0.25", "0.50:0.50", "0.50:0.75",
                "0.75:0.50", "0.75:0.75", "1.50:1.50", "2.00:2.00"]
LOSS_NAMES = {"l1": "L1", "smoothl1": "SmoothL1", "ciou": "CIoU", "giou": "GIoU"}


def experiment_of(p: dict, detector: str, loss: str, weighting: str = "base", **kw) -> Experiment:
    """The :class:`Experiment` of a profile (its backbone and data); ``kw``: ``pair``, ``interval``, ``init``, lr, iters, ...
    Faster and Mask R-CNN use R-50 where the profile names R-101 (the paper's tables)."""
    bb = p.get("backbone", "r18w16")
    if detector != "retinanet" and bb == "r101":
        bb = "r50"
    return Experiment.of(detector, bb, p.get("data", "mini"), loss, weighting, **kw)


def _spec(p: dict, name: str, seed: int) -> dict:
    # one work folder per profile: a smoke run never appends to the log of a cpu run of the same name
    work_root = str(Path(p.get("work_root", "work_dirs")) / p.get("profile", "default"))
    s = {"name": name, "seed": int(seed), "work_root": work_root}
    if p.get("data", "mini") == "mini":
        setting = dict(p.get("setting") or {})
        if not name.startswith("retinanet"):  # two-stage-only knobs, kept out of RetinaNet's specs (and their staleness)
            setting.update(p.get("faster_setting") or {})
        if "data_dir" not in p:  # never another profile's data by default (alwa.profile refuses such a profile)
            raise ValueError("a mini profile needs data_dir (where its synthetic set lives)")
        s.update(data_dir=p["data_dir"], dataset=p.get("dataset") or {}, pretrain=p.get("pretrain") or {},
                 setting=setting)
    else:
        s.update(data_root=p.get("data_root"), paper=p.get("paper") or {})
    return s


def _seeds(p: dict, n: int) -> list[int]:
    base = int(p.get("seed", 0))
    return list(range(base, base + int(n)))


def exp_name(p: dict, detector: str, loss: str, weighting: str = "base", **kw) -> str:
    """The name of :func:`experiment_of` (the result key)."""
    return experiment_of(p, detector, loss, weighting, **kw).name


def grid_specs(p: dict) -> list[dict]:
    """Table 1: RetinaNet, 1:1 plus every weight pair, for each regression loss."""
    pairs = p.get("grid_pairs") or TABLE1_PAIRS
    out = []
    for loss in p["grid_losses"]:
        for pair in ["1.00:1.00", *pairs]:
            for seed in _seeds(p, p["grid_seeds"]):
                out.append(_spec(p, exp_name(p, "retinanet", loss, pair=pair), seed))
    return out


def alwa_specs(p: dict) -> list[dict]:
    """Tables 2 and 3: baseline / ALWA-1 / ALWA-2 for RetinaNet and Faster R-CNN (ALWA in the RPN)."""
    out = []
    for det, n in (("retinanet", p["retina_seeds"]), ("faster-rcnn", p["faster_seeds"])):
        for loss in p["alwa_losses"]:
            for w in ("base", "alwa1", "alwa2"):
                for seed in _seeds(p, n):
                    out.append(_spec(p, exp_name(p, det, loss, w), seed))
    return out


def ablation_specs(p: dict) -> list[dict]:
    """Tables 7 and 8: Faster R-CNN ALWA-2 with C in abl_C and initial weights in abl_init (+ baselines)."""
    out = []
    for loss in p["abl_losses"]:
        for seed in _seeds(p, p["abl_seeds"]):
            out.append(_spec(p, exp_name(p, "faster-rcnn", loss, "base"), seed))
            for c in p["abl_C"]:
                out.append(_spec(p, exp_name(p, "faster-rcnn", loss, "alwa2", interval=int(c)), seed))
            for w in p["abl_init"]:
                out.append(_spec(p, exp_name(p, "faster-rcnn", loss, "alwa2", init=float(w)), seed))
    return out


# ------------------------------------------------------------------ summaries
def by_name(results: Iterable[dict], metric: str = "mAP") -> dict:
    """{name: {seed: metric}}."""
    out = defaultdict(dict)
    for r in results:
        v = r.get(metric)
        if v is not None and math.isfinite(v):
            out[r["name"]][int(r["seed"])] = float(v)
    return dict(out)


def summary_table(results: Iterable[dict], baseline_of, metric: str = "mAP") -> list[dict]:
    """One row per experiment name: mean and 95 % CI over seeds, and the paired
    difference to ``baseline_of(name)`` (None for baselines)."""
    vals = by_name(results, metric)
    rows = []
    for name in sorted(vals):
        row = {"name": name, **{f"{k}": v for k, v in stats.mean_ci(list(vals[name].values())).items()}}
        base = baseline_of(name)
        if base and base != name and base in vals:
            d = stats.paired_diff(vals[name], vals[base])
            row.update(diff=d["mean"], diff_lo=d["lo"], diff_hi=d["hi"], diff_p=d["p"], diff_n=d["n"], verdict=stats.verdict(d))
        rows.append(row)
    return rows


def weight_summary(results: Iterable[dict]) -> list[dict]:
    """Per ALWA experiment name: how many runs, the range of the classification
    weight at the end of training, and in how many runs it went back up at least
    once between windows (the rule recomputes it from already-weighted losses)."""
    groups = defaultdict(list)
    for r in results:
        t = r.get("weight_trajectory") or []
        if r.get("experiment", {}).get("weighting") in ("alwa1", "alwa2") and t:
            groups[r["name"]].append(t)
    rows = []
    for name in sorted(groups):
        ts = groups[name]
        finals = [t[-1] for t in ts]
        rows.append({"name": name, "runs": len(ts), "final_min": min(finals), "final_max": max(finals),
                     "runs_went_up": sum(any(b > a + 1e-12 for a, b in zip(t, t[1:])) for t in ts)})
    return rows


def weight_range(rows: list[dict], detector: str) -> str:
    """'a-b' over the final weights of a detector's rows of :func:`weight_summary` ('no runs yet' if none)."""
    sel = [r for r in rows if Experiment.parse(r["name"]).detector == detector]
    if not sel:
        return "no runs yet"
    lo, hi = min(r["final_min"] for r in sel), max(r["final_max"] for r in sel)
    return f"{lo:.3g}-{hi:.3g}"


def baseline_name(name: str) -> str:
    """The 1:1 baseline of an experiment name (same detector/backbone/data/loss)."""
    return Experiment.parse(name).baseline().name


def window_curves(result: dict, window: int) -> dict:
    """Mean and std of the weighted cls/reg losses per ``window`` iterations
    (figures 3 and 6), from the per-iteration record of a run."""
    import numpy as np

    pi = result["per_iter"]
    # cls_weight is ALWA's weight of each iteration (1 in monitor mode). The "raw" values are what the head returned:
    # for fixed-weight runs mmdet's loss_weight is already in them, so only ALWA's (fixed) regression weight is applied.
    c = np.asarray(pi["cls_raw"], float) * np.asarray(pi["cls_weight"] or [1.0] * len(pi["cls_raw"]), float)
    exp = result.get("experiment", {})
    w_reg = float(exp.get("reg_weight", 1.0)) if exp.get("weighting") in ("alwa1", "alwa2") else 1.0
    r = np.asarray(pi["reg_raw"], float) * w_reg
    n = len(c) // window
    if n == 0:
        return {"iter": [], "cls_mean": [], "cls_std": [], "reg_mean": [], "reg_std": []}
    C, R = c[: n * window].reshape(n, window), r[: n * window].reshape(n, window)
    return {"iter": [(i + 1) * window for i in range(n)], "cls_mean": C.mean(1).tolist(), "cls_std": C.std(1, ddof=1).tolist(),
            "reg_mean": R.mean(1).tolist(), "reg_std": R.std(1, ddof=1).tolist()}


def paper_value(tables: dict, table: str, row: str, loss: str) -> Optional[float]:
    """A value of tables.yaml (``loss`` in L1/SmoothL1/CIoU)."""
    t = tables[table]
    cols = t["columns"]
    if table == "table1":
        base = t["baseline"][loss]
        if row == "1.00:1.00":
            return base
        return base + t["deltas_points"][row][cols.index(loss)] / 100
    return t["rows"][row][cols.index(loss)]


# ------------------------------------------------------------------ the sweep of a profile, without the notebooks
PARTS = {"alwa": alwa_specs, "grid": grid_specs, "ablation": ablation_specs}


def profile_specs(p: dict, parts: Iterable[str] = ("alwa", "grid", "ablation")) -> list[dict]:
    """The specs of the training notebooks, in an order that makes partial results
    useful: part by part, RetinaNet before Faster R-CNN, then seed by seed (every
    configuration of seed 0 before any of seed 1), duplicates removed."""
    from .sweep import spec_key

    out, seen = [], set()
    for part in parts:
        specs = PARTS[part](p)
        order = sorted(range(len(specs)), key=lambda k: (not specs[k]["name"].startswith("retinanet"), specs[k]["seed"], k))
        for k in order:
            key = spec_key(specs[k])
            if key not in seen:
                seen.add(key)
                out.append(specs[k])
    return out


def _detector(name: str) -> str:
    return Experiment.parse(name).detector


def sweep_status(p: dict, out_dir, parts: Iterable[str] = ("alwa", "grid", "ablation"), workers: Optional[int] = None) -> dict:
    """How far a profile's sweep is, from its result files.

    For each part (runs shared between parts are counted in the first) and in
    total: ``planned``, ``done``, ``failed`` (a failure record, no result),
    ``compute_s`` (sum of the finished runs' wall seconds) and ``remaining_s``
    (pending runs x the mean wall seconds of finished runs of the same
    detector; None where no run of that detector has finished). ``wall_h`` and
    ``remaining_wall_h`` divide by ``workers`` (default: the profile's)."""
    from .sweep import load_failures, load_results, pending, spec_key

    workers = int(workers or p.get("workers", 1))
    specs = profile_specs(p, parts)
    name_of = {spec_key(s): s["name"] for s in specs}
    done = {spec_key(r["spec"]): r for r in load_results(out_dir, specs) if "spec" in r}
    failed = {spec_key(f["spec"]) for f in load_failures(out_dir)}
    todo = {spec_key(s) for s in pending(specs, out_dir)}
    per_det: dict = defaultdict(list)
    for r in done.values():
        per_det[_detector(r["name"])].append(float(r.get("wall_seconds", 0.0)))
    mean_wall = {d: sum(v) / len(v) for d, v in per_det.items()}
    rows, seen = {}, set()
    for part in parts:
        keys = [k for k in dict.fromkeys(spec_key(s) for s in PARTS[part](p)) if k not in seen]
        seen.update(keys)
        rem = [mean_wall.get(_detector(name_of[k])) for k in keys if k in todo]
        rows[part] = {"planned": len(keys), "done": sum(k in done and k not in todo for k in keys),
                      "failed": sum(k in failed and k in todo for k in keys),
                      "compute_s": sum(float(done[k].get("wall_seconds", 0.0)) for k in keys if k in done and k not in todo),
                      "remaining_s": None if any(x is None for x in rem) else sum(rem)}
    total = {k: sum(r[k] for r in rows.values()) for k in ("planned", "done", "failed", "compute_s")}
    rems = [r["remaining_s"] for r in rows.values()]
    total["remaining_s"] = None if any(x is None for x in rems) else sum(rems)
    for r in list(rows.values()) + [total]:
        r["wall_h"] = r["compute_s"] / workers / 3600
        r["remaining_wall_h"] = None if r["remaining_s"] is None else r["remaining_s"] / workers / 3600
    return {"parts": rows, "total": total, "workers": workers, "mean_wall_s": mean_wall}


# The calibration targets of a profile: wall time of the whole sweep with the profile's workers,
# mean wall time of one run (per detector), and the band for the 1:1 L1 baseline's VOC mAP@0.5.
TARGETS = {"cpu": {"wall_h": 6.0, "run_s": 240.0, "baseline_map": (0.5, 0.85)}}


def target_check(p: dict, out_dir, workers: Optional[int] = None) -> list[dict]:
    """The profile's :data:`TARGETS` against its finished runs: one row per target with
    ``target``, ``goal``, ``measured`` (text) and ``met`` (True/False; None while runs are missing).

    The sweep's wall time is the finished runs' compute / workers, plus the estimate for
    the pending ones; a run's time is its ``wall_seconds`` (data preparation, training and
    the test evaluation); mAP is the mean over the baseline's seeds."""
    from .sweep import load_results, of_specs

    goal = TARGETS.get(p.get("profile"))
    if not goal:
        return []
    st = sweep_status(p, out_dir, workers=workers)
    t = st["total"]
    complete = t["done"] == t["planned"]
    rows = []
    total_h = t["wall_h"] + (t["remaining_wall_h"] or 0.0)
    rows.append({"target": "wall time of the profile's sweep", "goal": f"<= {goal['wall_h']:g} h",
                 "measured": f"{total_h:.2f} h with {st['workers']} worker(s)" + ("" if complete else
                             f" ({t['done']} of {t['planned']} runs done; the rest estimated)" if t["remaining_wall_h"] is not None
                             else f" ({t['done']} of {t['planned']} runs done)"),
                 "met": (total_h <= goal["wall_h"]) if complete else None})
    results = load_results(out_dir, profile_specs(p))
    by = {r["name"]: r for r in summary_table(of_specs(results, alwa_specs(p)), baseline_name)}
    lo, hi = goal["baseline_map"]
    for det, label in (("retinanet", "RetinaNet"), ("faster-rcnn", "Faster R-CNN")):
        walls = [float(r["wall_seconds"]) for r in results if Experiment.parse(r["name"]).detector == det and "wall_seconds" in r]
        if walls:
            mean = sum(walls) / len(walls)
            over = sum(w > goal["run_s"] for w in walls)
            rows.append({"target": f"time of one {label} run", "goal": f"<= {goal['run_s']:g} s",
                         "measured": f"{mean:.0f} s on average over {len(walls)} runs (max {max(walls):.0f} s; {over} over {goal['run_s']:g} s)",
                         "met": mean <= goal["run_s"]})
        b = by.get(exp_name(p, det, "l1", "base"))
        if b and b.get("n"):
            rows.append({"target": f"{label} baseline mAP@0.5 (1:1, L1)", "goal": f"{lo:g}-{hi:g}",
                         "measured": f"{b['mean']:.3f} (mean of {b['n']} seed{'s' if b['n'] != 1 else ''})",
                         "met": lo <= b["mean"] <= hi})
    return rows


def format_targets(rows: list[dict]) -> str:
    """:func:`target_check` as plain-text lines."""
    word = {True: "met", False: "MISSED", None: "not yet known"}
    return "\n".join(f"target: {r['target']} {r['goal']}: {r['measured']} -> {word[r['met']]}" for r in rows)


def format_status(st: dict) -> str:
    """:func:`sweep_status` as a plain-text table."""
    lines = [f"{'part':<10}{'done':>6}{'/':1}{'planned':<8}{'failed':>7}{'compute h':>11}{'to go h':>9}"]
    for name, r in list(st["parts"].items()) + [("total", st["total"])]:
        rem = "?" if r["remaining_s"] is None else f"{r['remaining_s'] / 3600:.2f}"
        lines.append(f"{name:<10}{r['done']:>6}/{r['planned']:<8}{r['failed']:>7}{r['compute_s'] / 3600:>11.2f}{rem:>9}")
    t = st["total"]
    rem = ("time to go unknown (a detector has no finished run yet)" if t["remaining_wall_h"] is None
           else f"about {t['remaining_wall_h']:.2f} h to go")
    lines.append(f"compute h = sum of the runs' wall seconds; with {st['workers']} worker(s): {t['wall_h']:.2f} h of wall time so far, {rem} "
                 f"(mean s per run: " + ", ".join(f"{d} {s:.0f}" for d, s in sorted(st["mean_wall_s"].items())) + ")")
    return "\n".join(lines)


ARCHIVED_PARTS = ("runs", "claims", "tables", "figures")


def archive_results(p: dict, results_root, name: str, params_file=None) -> Path:
    """Move a profile's training results (``runs/``, ``claims/``, ``tables/``, ``figures/``) to
    ``<results_root>/archive/<name>/`` with the parameters they were made with (``params.yaml``).

    For a re-calibration: run it before changing the profile's parameters, or the
    sweep would take the old results for stale ones and overwrite them. Box-shifting
    results and the train-step benchmark stay (they do not depend on the training
    setting, or are measured again by the next book build). ``params.yaml`` is a verbatim copy of ``params_file`` (comments
    kept) if given, else ``p`` written out. Returns the archive folder."""
    import shutil

    import yaml

    src = Path(results_root) / p["profile"]
    dest = Path(results_root) / "archive" / name
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"archive name must be a plain folder name, got {name!r}")
    if dest.exists():
        raise FileExistsError(f"{dest} exists: choose another name")
    have = [part for part in ARCHIVED_PARTS if (src / part).is_dir() and any((src / part).iterdir())]
    if "runs" not in have:
        raise FileNotFoundError(f"no run results in {src / 'runs'}: nothing to archive")
    dest.mkdir(parents=True)
    if params_file is not None:
        shutil.copyfile(params_file, dest / "params.yaml")
    else:
        params = {k: v for k, v in p.items() if k not in ("results_root", "max_runs")}
        (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for part in have:
        shutil.move(str(src / part), str(dest / part))
    return dest


def _non_negative(text: str) -> int:
    import argparse

    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {n}")
    return n


def main(argv=None) -> None:
    """``python -m alwa.experiments sweep --profile cpu [--parts alwa grid ablation] [--max-runs N]``:
    run (or resume) a profile's training runs in the background, outside the notebooks;
    the notebooks then find the results and run nothing again.
    ``python -m alwa.experiments status --profile cpu``: how far that sweep is.
    ``--params FILE`` reads a profile's parameters from FILE instead of
    ``notebooks/params/{profile}.yaml`` (e.g. a candidate setting swept into its own ``--results`` root)."""
    import argparse

    from .book import notebook_params
    from .results import results_dir
    import sys

    from .sweep import (DEFAULT_FN, SweepInterrupted, SweepLocked, SweepStorageError, pending, read_record, result_problems,
                        run_sweep, spec_key)

    ap = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("sweep", help="run the pending training runs of a profile")
    a.add_argument("--profile", default="cpu")
    a.add_argument("--results", default="results")
    a.add_argument("--params", default=None, help="parameters file (default: notebooks/params/PROFILE.yaml)")
    a.add_argument("--parts", nargs="+", default=list(PARTS), choices=list(PARTS))
    a.add_argument("--max-runs", type=_non_negative, default=None, help="run at most N of the pending runs (N >= 0)")
    a.add_argument("--fn", default=None, help=argparse.SUPPRESS)  # the run function (tests swap in a stand-in)
    a.add_argument("--devices", type=int, nargs="+", default=None, help="GPU indices (default: the profile's devices)")
    a.add_argument("--runs-per-device", type=int, default=None, help="runs sharing each GPU at once (default: the profile's, or 1)")
    a.add_argument("--executor", choices=["local", "slurm", "submitit-local"], default="local",
                   help="local process pool, or one SLURM job per run (submitit; submitit-local: the same path on this machine)")
    a.add_argument("--slurm-partition", default=None)
    a.add_argument("--slurm-time", type=int, default=None, help="minutes per job")
    a.add_argument("--slurm-gpus", type=int, default=None, help="GPUs per job")
    a.add_argument("--workers", type=int, default=None, help="default: the profile's")
    a.add_argument("--threads", type=int, default=None, help="default: the profile's")
    a.add_argument("--list", action="store_true", help="print the pending specs and stop")
    c = sub.add_parser("archive", help="move a profile's training results to results/archive/NAME (before re-calibrating it)")
    c.add_argument("--profile", default="cpu")
    c.add_argument("--results", default="results")
    c.add_argument("--params", default=None, help="parameters file (default: notebooks/params/PROFILE.yaml)")
    c.add_argument("--name", required=True, help="archive folder name, e.g. cpu_7class")
    b = sub.add_parser("status", help="how far a profile's sweep is: runs done, compute spent, time to go")
    b.add_argument("--profile", default="cpu")
    b.add_argument("--results", default="results")
    b.add_argument("--params", default=None, help="parameters file (default: notebooks/params/PROFILE.yaml)")
    b.add_argument("--workers", type=int, default=None, help="default: the profile's")
    args = ap.parse_args(argv)
    from .profile import ProfileError

    try:
        p = notebook_params(args.profile, args.results, params_file=args.params)
    except ProfileError as e:
        sys.exit(f"error: {e}")
    if args.cmd == "archive":
        from .book import NOTEBOOKS

        dest = archive_results(p, args.results, args.name, args.params or NOTEBOOKS / "params" / f"{args.profile}.yaml")
        print(f"archived {', '.join(sorted(x.name for x in dest.iterdir()))} of profile {args.profile} in {dest}")
        return
    if args.cmd == "status":
        out = results_dir(args.results, args.profile, "runs")
        for line in result_problems(out):
            print(f"warning: {line}")
        print(format_status(sweep_status(p, out, workers=args.workers)))
        if TARGETS.get(args.profile):
            print(format_targets(target_check(p, out, workers=args.workers)))
        return
    specs = profile_specs(p, args.parts)
    out = results_dir(args.results, args.profile, "runs")
    for line in result_problems(out):
        print(f"warning: {line}", flush=True)
    todo = pending(specs, out)
    print(f"{args.profile}: {len(specs)} runs in {args.parts}, {len(todo)} pending (results in {out})", flush=True)
    stale = [s for s in todo if read_record(out / f"{spec_key(s)}.json")[0] is not None]
    if stale:
        print(f"{len(stale)} of them have a result made with other settings, which this sweep overwrites "
              f"(keep them with `python -m alwa.experiments archive --profile {args.profile} --name NAME` first)", flush=True)
    if args.list:
        for s in todo:
            print(f"  {spec_key(s)}")
        return
    try:
        slurm = dict(p.get("slurm") or {})
        for key, value in (("partition", args.slurm_partition), ("time_min", args.slurm_time), ("gpus_per_job", args.slurm_gpus)):
            if value is not None:
                slurm[key] = value
        summary = run_sweep(specs, out, workers=args.workers or int(p.get("workers", 1)), threads=args.threads or int(p.get("threads", 1)),
                            devices=args.devices if args.devices is not None else p.get("devices"), desc=f"{args.profile} sweep",
                            max_runs=args.max_runs, fn=args.fn or DEFAULT_FN,
                            runs_per_device=args.runs_per_device or int(p.get("runs_per_device", 1)),
                            executor=args.executor, slurm=slurm)
    except SweepLocked as e:
        sys.exit(f"error: {e}")
    except SweepInterrupted as e:
        print(f"interrupted: {e}", flush=True)
        sys.exit(130)
    except SweepStorageError as e:
        sys.exit(f"error: {e}")
    print(f"done {len(summary['done'])}, failed {len(summary['failed'])}: {summary['failed']}", flush=True)
    if summary["failed"]:
        print(f"{len(summary['failed'])} run(s) failed; their records: {out}/<run>.failed.json (the next sweep retries them)", flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
