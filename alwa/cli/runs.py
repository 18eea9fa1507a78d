"""``alwa sweep | status | archive``: a profile's training runs outside the notebooks."""

from __future__ import annotations

import argparse
import sys

from alwa.analysis.summaries import TARGETS, target_check
from alwa.report.tables import format_status, format_targets
from alwa.runs.profile import ProfileError, add_profile_options, load_profile, params_path, results_dir
from alwa.runs.specs import PARTS, archive_results, profile_specs, sweep_status
from alwa.runs.store import pending, read_record, result_problems, spec_key
from alwa.runs.sweep import run_sweep
from alwa.runs.worker import DEFAULT_FN, SweepInterrupted, SweepLocked, SweepStorageError


def _at_least(lo: int):
    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if n < lo:
            raise argparse.ArgumentTypeError(f"must be >= {lo}, got {n}")
        return n
    return parse


_non_negative, _positive = _at_least(0), _at_least(1)


def _check_devices(parser, devices: list) -> None:
    """Refuse GPU indices this machine does not have (without CUDA every run would train on the CPU while its record
    said device 0)."""
    import torch

    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    missing = [d for d in devices if d >= n]
    if missing:
        parser.error(f"--devices {' '.join(map(str, devices))}: this machine has {n} CUDA device(s)"
                     + (f" (indices 0-{n - 1})" if n else "; run without --devices to train on the CPU"))


def main(argv=None) -> None:
    """``alwa sweep --profile cpu [--parts alwa grid ablation] [--max-runs N]``:
    run (or resume) a profile's training runs in the background, outside the notebooks;
    the notebooks then find the results and run nothing again.
    ``alwa status --profile cpu``: how far that sweep is.
    ``--params FILE`` reads a profile's parameters from FILE instead of
    ``notebooks/params/{profile}.yaml`` (e.g. a candidate setting swept into its own ``--results`` root)."""
    ap = argparse.ArgumentParser(prog="alwa", description=main.__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("sweep", help="run the pending training runs of a profile")
    add_profile_options(a)
    a.add_argument("--parts", nargs="+", default=list(PARTS), choices=list(PARTS))
    a.add_argument("--max-runs", type=_non_negative, default=None, help="run at most N of the pending runs (N >= 0)")
    a.add_argument("--fn", default=None, help=argparse.SUPPRESS)  # the run function (tests swap in a stand-in)
    a.add_argument("--devices", type=_non_negative, nargs="+", default=None, help="GPU indices (default: the profile's devices)")
    a.add_argument("--start-method", choices=["forkserver", "spawn"], default=None,
                   help="how run processes start: forkserver (preloaded, the CPU default) or spawn (the default with --devices)")
    a.add_argument("--runs-per-device", type=_positive, default=None, help="runs sharing each GPU at once (default: the profile's, or 1)")
    a.add_argument("--executor", choices=["local", "slurm", "submitit-local"], default="local",
                   help="local process pool, or one SLURM job per run (submitit; submitit-local: the same path on this machine)")
    a.add_argument("--slurm-partition", default=None)
    a.add_argument("--slurm-time", type=int, default=None, help="minutes per job")
    a.add_argument("--slurm-gpus", type=int, default=None, help="GPUs per job")
    a.add_argument("--workers", type=_positive, default=None, help="default: the profile's")
    a.add_argument("--threads", type=_positive, default=None, help="default: the profile's")
    a.add_argument("--list", action="store_true", help="print the pending specs and stop")
    c = sub.add_parser("archive", help="move a profile's training results to results/archive/NAME (before re-calibrating it)")
    add_profile_options(c)
    c.add_argument("--name", required=True, help="archive folder name, e.g. cpu_7class")
    b = sub.add_parser("status", help="how far a profile's sweep is: runs done, compute spent, time to go")
    add_profile_options(b)
    b.add_argument("--workers", type=_positive, default=None, help="default: the profile's")
    args = ap.parse_args(argv)
    try:
        p = load_profile(args.profile, args.params, args.results)
    except ProfileError as e:
        sys.exit(f"error: {e}")
    if args.cmd == "archive":
        dest = archive_results(p, args.results, args.name, args.params or params_path(args.profile))
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
    devices = args.devices if args.devices is not None else p.devices
    if args.runs_per_device is not None and not devices:
        a.error("--runs-per-device applies to runs on GPUs: give --devices (or a profile with devices)")
    if args.devices is not None and args.executor == "local":
        _check_devices(a, args.devices)
    specs = profile_specs(p, args.parts)
    out = results_dir(args.results, args.profile, "runs")
    for line in result_problems(out):
        print(f"warning: {line}", flush=True)
    todo = pending(specs, out)
    print(f"{args.profile}: {len(specs)} runs in {args.parts}, {len(todo)} pending (results in {out})", flush=True)
    stale = [s for s in todo if read_record(out / f"{spec_key(s)}.json")[0] is not None]
    if stale:
        print(f"{len(stale)} of them have a result made with other settings, which this sweep overwrites "
              f"(keep them with `alwa archive --profile {args.profile} --name NAME` first)", flush=True)
    if args.list:
        for s in todo:
            print(f"  {spec_key(s)}")
        return
    try:
        slurm = dict(p.slurm)
        for key, value in (("partition", args.slurm_partition), ("time_min", args.slurm_time), ("gpus_per_job", args.slurm_gpus)):
            if value is not None:
                slurm[key] = value
        summary = run_sweep(specs, out, workers=args.workers or p.workers, threads=args.threads or p.threads,
                            devices=devices, desc=f"{args.profile} sweep",
                            max_runs=args.max_runs, fn=args.fn or DEFAULT_FN,
                            runs_per_device=args.runs_per_device if args.runs_per_device is not None else p.runs_per_device,
                            executor=args.executor, slurm=slurm, start_method=args.start_method)
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
