"""``alwa study run | status | list | answer``: the learning-rate study's runs (chapter 05), resumable, and its answer."""

from __future__ import annotations

import argparse
import sys

from alwa.analysis import lrstudy
from alwa.runs.profile import ProfileError, load_profile, results_dir
from alwa.runs.store import load_results, pending, result_problems, spec_key
from alwa.runs.study import PLANS, is_complete, plan_for, run_study, study_specs
from alwa.runs.worker import SweepInterrupted, SweepLocked, SweepStorageError


def main(argv=None) -> None:
    """The learning-rate study (chapter 05): run its runs (resumable), show its stage and what is pending, or print
    its comparisons (ALWA minus the lr control, paired 95 % CIs) and its answer from the finished runs."""
    ap = argparse.ArgumentParser(prog="alwa study", description=main.__doc__)
    ap.add_argument("cmd", choices=["run", "status", "list", "answer"])
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
    if a.profile not in PLANS:
        sys.exit(f"error: no learning-rate study is planned for profile {a.profile!r} (planned: {', '.join(sorted(PLANS))})")
    out = results_dir(a.results, a.profile, "runs")
    for line in result_problems(out):
        print(f"warning: {line}")
    if a.cmd in ("status", "list", "answer"):
        records = load_results(out)
        st, specs = study_specs(p, records)
        todo = pending(specs, out)
        print(f"stage: {st.stage}; {len(specs) - len(todo)} of {len(specs)} runs done"
              + ("" if a.cmd != "answer" or is_complete(st, todo) else " (in progress: every number below is interim)"))
        if a.cmd == "answer":
            rows = lrstudy.alwa_vs_control(records, p, plan_for(a.profile), st)
            for r in rows:
                print(f"  {r.regime:5s} {r.detector:11s} {r.label}: {lrstudy.fmt_comparison(r)}")
            print(lrstudy.answer(rows))
            return
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

