"""``alwa study run | status | list``: the learning-rate study's runs (chapter 05), resumable."""

from __future__ import annotations

import argparse
import sys

from alwa.runs.profile import ProfileError, load_profile, results_dir
from alwa.runs.store import load_results, pending, result_problems, spec_key
from alwa.runs.study import run_study, study_specs
from alwa.runs.worker import SweepInterrupted, SweepLocked, SweepStorageError


def main(argv=None) -> None:
    """The learning-rate study (chapter 05): run its runs (resumable), or show its stage and what is pending."""
    ap = argparse.ArgumentParser(prog="alwa study", description=main.__doc__)
    ap.add_argument("cmd", choices=["run", "status", "list"])
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--results", default="results")
    ap.add_argument("--params", default=None, help="parameters file (default: notebooks/params/PROFILE.yaml)")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--max-runs", type=int, default=None)
    ap.add_argument("--fn", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.max_runs is not None and a.max_runs < 0:
        ap.error("--max-runs must be >= 0")
    try:
        p = load_profile(a.profile, a.params, a.results)
    except ProfileError as e:
        sys.exit(f"error: {e}")
    out = results_dir(a.results, a.profile, "runs")
    for line in result_problems(out):
        print(f"warning: {line}")
    if a.cmd in ("status", "list"):
        st, specs = study_specs(p, load_results(out))
        todo = pending(specs, out)
        print(f"stage: {st.stage}; {len(specs) - len(todo)} of {len(specs)} runs done")
        for k, v in st.as_dict().items():
            print(f"  {k}: {v}")
        if a.cmd == "list":
            for s in todo:
                print(f"  pending {spec_key(s)}")
        return
    try:
        st = run_study(p, out, a.workers, a.threads, a.max_runs, a.fn)
    except SweepLocked as e:
        sys.exit(f"error: {e}")
    except SweepInterrupted as e:
        print(f"interrupted: {e}")
        sys.exit(130)
    except SweepStorageError as e:
        sys.exit(f"error: {e}")
    print(st.as_dict())

