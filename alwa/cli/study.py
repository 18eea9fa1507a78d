"""``alwa study run | status | list | answer [--study lr|settle]``: the learning-rate study's runs (chapter 05) and the
study that settles it (``--study settle``: per loss, checked pairs, seeds in rounds), resumable, and their answers."""

from __future__ import annotations

import argparse
import sys

from alwa.analysis import lrstudy, settled
from alwa.core.pairing import backbones_note
from alwa.runs.profile import ProfileError, add_profile_options, load_profile, results_dir
from alwa.runs.store import load_results, pending, result_problems, spec_key
from alwa.runs.engine import done_elsewhere, drive, reused_records
from alwa.runs.studies import STUDIES, study_for
from alwa.runs.study import is_complete, plan_for
from alwa.runs.worker import SweepInterrupted, SweepLocked, SweepStorageError


def main(argv=None) -> None:
    """The learning-rate study (chapter 05): run its runs (resumable), show its stage and what is pending, or print
    its comparisons (ALWA minus the lr control, paired 95 % CIs) and its answer from the finished runs."""
    ap = argparse.ArgumentParser(prog="alwa study", description=main.__doc__)
    ap.add_argument("cmd", choices=["run", "status", "list", "answer"])
    add_profile_options(ap)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--max-runs", type=int, default=None)
    ap.add_argument("--study", choices=list(STUDIES), default="lr",
                    help="lr: the learning-rate study (chapter 05); settle: the per-loss study with checked pairs")
    ap.add_argument("--fn", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.max_runs is not None and a.max_runs < 0:
        ap.error("--max-runs must be >= 0")
    for name in ("workers", "threads"):
        if getattr(a, name) is not None and getattr(a, name) < 1:
            ap.error(f"--{name} must be >= 1")
    try:
        p = load_profile(a.profile, a.params, a.results)
    except ProfileError as e:
        sys.exit(f"error: {e}")
    try:
        s = study_for(a.study, a.profile)
    except ValueError as e:
        sys.exit(f"error: {e}")
    out = results_dir(a.results, a.profile, s.folder)
    for line in result_problems(out):
        print(f"warning: {line}")
    if a.cmd == "run":
        outcome = _drive(s, p, out, a)
        print(f"{a.study}: stage {outcome.state.stage}" + (f"; cuts {[str(c) for c in outcome.state.cuts]}" if outcome.state.cuts else ""))
        if outcome.failed:
            sys.exit(f"error: {len(outcome.failed)} run(s) of the {a.study} study failed: {', '.join(outcome.failed)} "
                     f"(their errors are in {out}/failed; rerun to retry)")
        return
    if a.study == "settle":
        return _settle(a, p, s, out)
    if a.study == "best":
        records = load_results(out)
        reused = reused_records(s, out)
        st, specs = s.decide(p, records, reused)
        have = done_elsewhere(s, reused)
        todo = [x for x in pending(specs, out) if x.key not in have]
        print(f"{a.study}: {s.status_line(st, len(specs), len(specs) - len(todo))}")
        for line in s.describe(st):
            print("  " + line)
        if a.cmd == "list":
            for spec in todo:
                print(f"  pending {spec_key(spec)}")
        return
    if a.cmd in ("status", "list", "answer"):
        records = load_results(out)
        st, specs = s.decide(p, records)
        todo = pending(specs, out)
        print(f"stage: {st.stage}; {len(specs) - len(todo)} of {len(specs)} runs done"
              + ("" if a.cmd != "answer" or is_complete(st, todo) else " (in progress: every number below is interim)"))
        if a.cmd == "answer":
            rows = lrstudy.alwa_vs_control(records, p, plan_for(a.profile), st)
            for r in rows:
                drop = f"; {r.dropped} seed(s) dropped (initial states differ)" if r.dropped else ""
                print(f"  {r.regime:5s} {r.detector:11s} {r.loss or '':8s} {r.label}: {lrstudy.fmt_comparison(r)}{drop}")
            print(lrstudy.answer(rows))
            return
        for k, v in st.as_dict().items():
            print(f"  {k}: {v}")
        if a.cmd == "list":
            for spec in todo:
                print(f"  pending {spec_key(spec)}")


def _drive(s, p, out, a):
    """Run a study on the engine's driver; a held folder, a storage error or Ctrl-C ends the command with one line."""
    try:
        return drive(s, p, out, a.workers, a.threads, a.max_runs, a.fn)
    except (SweepLocked, SweepStorageError) as e:
        sys.exit(f"error: {e}")
    except SweepInterrupted as e:
        print(f"interrupted: {e}")
        sys.exit(130)



def _settle(a, p, s, out) -> None:
    if a.cmd in ("status", "list", "answer"):
        records = load_results(out)
        st, specs = s.decide(p, records)
        todo = pending(specs, out)
        print(f"stage: {st.stage}; {len(specs) - len(todo)} of {len(specs)} planned runs done; estimate {st.estimate_h:.1f} h "
              f"(spent {st.spent_h:.1f} h) of {s.plan.budget_h:g}; cuts: {', '.join(st.cuts) or 'none'}")
        for c in st.cells:
            lrs = ", ".join(f"{lr:g}: {'-' if m is None else f'{100 * m:.2f}'}" for lr, m in sorted(c.lr_means.items()))
            print(f"  {c.loss:8s} {c.schedule:5d} it: lr means [{lrs}]; tuned lr {c.tuned_lr if c.tuned_lr else '-'}; "
                  f"{c.seeds} seeds; {c.stop or '-'}")
        if backbones_note(records):
            print(f"note: {backbones_note(records)}")
        if a.cmd == "list":
            for s in todo:
                print(f"  pending {spec_key(s)}")
        if a.cmd == "answer":
            for row in settled.comparisons(records, p, st):
                print("  " + settled.fmt_row(row))
            print(settled.headline(records, p, st))
        return
