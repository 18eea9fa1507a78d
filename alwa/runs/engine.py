"""One engine for adaptive studies: a study is a declaration, the engine decides, estimates, cuts and drives.

A study (:class:`Study`) declares what it is made of as typed objects:

- its **arms** (:class:`Arm`: the control, a fixed weight, ALWA-1/2, any weighting, each at an lr given relative
  to the cell's tuned lr);
- its **lr rule** (:class:`LrRule`: the lrs tried, seeds each, one lr beyond an edge that wins);
- its **stopping rule** (:class:`StoppingRule`: seeds in rounds until every comparison's paired 95 % CI is within
  ``target_half_width``, between ``min_seeds`` and ``max_seeds``);
- its **budget** (hours) and the **cut order** (an enum of the study's own cuts, :class:`Cut`).

The engine gives every study the same pieces: the finished runs as a :class:`RecordIndex` (``get(exp, seed)``,
``by_seed``, ``mean``), one definition of seconds per iteration (:func:`seconds_per_iter`), one estimate
(:func:`estimate_h`), one cutting rule (:func:`choose_cuts`: a cut that would drop a finished run is passed over,
the next one tried), the stopping rule's rounds (:func:`seeds_by_rule`) and one resumable driver (:func:`drive`).
Seeds always come from the profile (``p.seeds(n)``: ``seed .. seed + n - 1``).

Studies: :mod:`alwa.runs.study` (the learning-rate study), :mod:`alwa.runs.settle` (the settling study); the
registry :data:`alwa.runs.studies.STUDIES` names them for ``alwa study --study``.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from pathlib import Path
from dataclasses import dataclass, field
from enum import Enum
from typing import Callable, Iterable, Mapping, Optional, Protocol, Sequence

from alwa.core.experiment import Experiment, RunRecord, RunSpec, run_key
from alwa.core.pairing import backbones_note
from alwa.runs.store import load_results, pending
from alwa.runs.sweep import run_sweep
from alwa.runs.worker import DEFAULT_FN


class Cut(str, Enum):
    """A part of a study the budget may cut, in the study's cut order (a subclass per study). A cut is its
    reader's text (``str(cut)``), so states print and store as before; code compares members, never text."""

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Arm:
    """One arm of a study: ``weighting`` (base | alwa1 | alwa2 | fixed), ``cls_weight`` for a fixed weight (the
    regression weight 1), ``detrend`` for ALWA-2's trend-free statistic, run at ``lr_factor`` x the cell's tuned
    lr. ``label`` names it in tables ('ALWA-1', 'control')."""

    weighting: str
    label: str
    lr_factor: float = 1.0
    cls_weight: Optional[float] = None
    detrend: bool = False


@dataclass(frozen=True)
class LrRule:
    """How a cell's lr is tuned: 1:1 at each of ``lrs`` with ``seeds`` seeds; with ``beyond_edge``, one more lr
    beyond an end of the list (x2 or /2) when that end has the best mean. The best mean mAP is the tuned lr."""

    lrs: tuple
    seeds: int
    beyond_edge: bool = True

    def candidates(self, means: Mapping[float, Optional[float]]) -> list[float]:
        """The lrs the rule needs given the means known so far (None: runs missing)."""
        lrs = list(self.lrs)
        if self.beyond_edge and all(means.get(lr) is not None for lr in lrs):
            best = max(lrs, key=lambda lr: means[lr])
            if best == lrs[0]:
                lrs.insert(0, lrs[0] / 2)
            elif best == lrs[-1]:
                lrs.append(lrs[-1] * 2)
        return lrs

    @staticmethod
    def tuned(means: Mapping[float, Optional[float]]) -> Optional[float]:
        """The lr with the best mean (6 significant digits), None while a mean is missing."""
        if not means or any(m is None for m in means.values()):
            return None
        return float(f"{max(means, key=lambda lr: means[lr]):.6g}")


class StopKind(str, Enum):
    RUNNING = "running"
    WITHIN_TARGET = "within target"
    MAX_SEEDS = "max seeds"
    BUDGET = "budget"


@dataclass(frozen=True)
class Stop:
    """Why a cell stopped adding seeds (typed; ``str`` is the reader's text)."""

    kind: StopKind
    seeds: int
    target: float = math.nan  # the rule's half-width (mAP), for WITHIN_TARGET
    max_seeds: int = 0

    def __str__(self) -> str:
        if self.kind is StopKind.RUNNING:
            return f"running {self.seeds} seeds"
        if self.kind is StopKind.WITHIN_TARGET:
            return f"every ALWA-vs-control CI within ±{100 * self.target:g} points at {self.seeds} seeds"
        if self.kind is StopKind.MAX_SEEDS:
            return f"{self.max_seeds} seeds (the most the rule allows)"
        return f"{BUDGET_STOP} at {self.seeds} seeds"

    @property
    def final(self) -> bool:
        return self.kind is not StopKind.RUNNING


BUDGET_STOP = "further rounds cut by the budget"  # how a cell stopped by the budget's round cut reads


@dataclass(frozen=True)
class StoppingRule:
    """Seeds in rounds, fixed before any run: start at ``min_seeds``; while a comparison's paired 95 % CI half-width
    exceeds ``target_half_width`` (mAP) and fewer than ``max_seeds`` seeds ran, add ``round_seeds``."""

    min_seeds: int
    round_seeds: int
    max_seeds: int
    target_half_width: float  # mAP (0.01: 1 point)

    @classmethod
    def fixed(cls, n: int) -> "StoppingRule":
        return cls(n, 0, n, math.inf)


def seeds_by_rule(rule: StoppingRule, complete: Callable[[int], bool], half_widths: Callable[[int], dict],
                  rounds: bool, started: Callable[[int, int], bool]) -> tuple[int, dict, Stop]:
    """Apply ``rule`` to a cell: ``complete(n)`` says whether every arm has its first ``n`` seeds,
    ``half_widths(n)`` the comparisons' half-widths at ``n`` seeds, ``started(n, m)`` whether any arm has a run at
    seeds ``n..m-1`` (a round once begun is finished). ``rounds`` False: the budget cut further rounds. Returns the
    seeds planned, the last half-widths and the :class:`Stop`."""
    n, hw = rule.min_seeds, {}
    while True:
        if not complete(n):
            return n, hw, Stop(StopKind.RUNNING, n)
        hw = half_widths(n)
        if all(h <= rule.target_half_width for h in hw.values()):
            return n, hw, Stop(StopKind.WITHIN_TARGET, n, target=rule.target_half_width)
        if n >= rule.max_seeds:
            return n, hw, Stop(StopKind.MAX_SEEDS, n, max_seeds=rule.max_seeds)
        nxt = min(rule.max_seeds, n + rule.round_seeds)
        if not rounds and not started(n, nxt):
            return n, hw, Stop(StopKind.BUDGET, n)
        n = nxt


def plain(x):
    """A state as plain data (what ``as_dict`` gives and a status prints): a cut or stop as its text (a stop not decided
    yet as ''), an arm as its label, dataclasses as mappings."""
    if isinstance(x, Enum) or isinstance(x, Stop):
        return str(x)
    if isinstance(x, Arm):
        return x.label
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return {f.name: ("" if f.name == "stop" and getattr(x, f.name) is None else plain(getattr(x, f.name)))
                for f in dataclasses.fields(x)}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    return x


@dataclass
class CellsState:
    """Where a study of cells stands: its stage, its cells (each study's own dataclass), the cuts taken, the estimate of
    the whole study and the hours spent (wall hours with the profile's workers)."""

    stage: str
    cells: list = field(default_factory=list)
    cuts: list = field(default_factory=list)
    estimate_h: Optional[float] = None
    spent_h: float = 0.0

    def as_dict(self) -> dict:
        return plain(self)


# ------------------------------------------------------------------ the finished runs
class RecordIndex:
    """The finished runs of a study, looked up by experiment and seed (never by a name rebuilt from strings)."""

    def __init__(self, records: Iterable[Mapping]):
        self.records = [RunRecord.of(r) for r in records]
        self._by = {r.key: r for r in self.records}

    def __contains__(self, key: str) -> bool:
        return key in self._by

    def keys(self) -> set:
        return set(self._by)

    def get(self, exp: Experiment, seed: int) -> Optional[RunRecord]:
        return self._by.get(run_key(exp.name, seed))

    def by_seed(self, exp: Experiment, seeds: Iterable[int]) -> dict:
        """``{seed: record}`` of the finished runs of ``exp`` among ``seeds``."""
        return {s: r for s in seeds if (r := self.get(exp, s)) is not None}

    def mean(self, exp: Experiment, seeds: Iterable[int], key: str = "mAP") -> Optional[float]:
        """The mean of ``key`` over ``seeds``; None unless every seed has a finite number."""
        vals = [(r or {}).get(key) for r in (self.get(exp, s) for s in seeds)]
        if not vals or any(not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) for v in vals):
            return None
        return sum(vals) / len(vals)

    def spent_h(self, workers: int, keys: Optional[Iterable[str]] = None) -> float:
        """Wall hours the runs (``keys``: only those) took with ``workers`` workers."""
        sel = self.records if keys is None else [self._by[k] for k in keys if k in self._by]
        secs = sum(r["wall_seconds"] for r in sel if isinstance(r.get("wall_seconds"), (int, float)))
        return secs / max(1, workers) / 3600


# ------------------------------------------------------------------ cost
START_S = 12.0  # a run's start and evaluation (seconds), on top of its iterations


def seconds_per_iter(records: Iterable[Mapping]) -> dict:
    """Median training seconds per iteration of finished runs, per detector: the median, since a run that shared
    the machine with other work (or was paused) is slow for reasons that do not last."""
    acc: dict = {}
    for r in map(RunRecord.of, records):
        t, it = r.get("train_seconds"), r.get("iters")
        if isinstance(t, (int, float)) and isinstance(it, int) and it > 0:
            acc.setdefault(r.experiment.detector, []).append(t / it)
    return {d: statistics.median(v) for d, v in acc.items()}


def estimate_h(specs: Iterable[RunSpec], done: set, spi: Mapping[str, float], workers: int, default: float) -> float:
    """Wall hours of the ``specs`` not in ``done`` with ``workers`` workers: each run its iterations at its
    detector's seconds per iteration (``default`` for a detector without a finished run) plus :data:`START_S`."""
    secs = 0.0
    for s in specs:
        if s.key in done:
            continue
        it = s.experiment.iters or int((s.get("setting") or {}).get("iters", 700))
        secs += it * spi.get(s.experiment.detector, default) + START_S
    return secs / max(1, workers) / 3600


def choose_cuts(order: Sequence[Cut], plan: Callable[[list], list], done: set, cost: Callable[[list], float],
                budget_h: float, start: Sequence[Cut] = ()) -> tuple[list, list]:
    """Take cuts in ``order`` until ``cost(plan(cuts))`` (hours, finished runs included) fits ``budget_h``. A cut that
    would drop a finished run from the plan is passed over and the next one tried. Returns the cuts and the plan."""
    cuts = list(start)
    specs = plan(cuts)
    for cut in order:
        if cut in cuts:
            continue
        if cost(specs) <= budget_h:
            break
        fewer = plan(cuts + [cut])
        if ({s.key for s in specs} - {s.key for s in fewer}) & done:
            continue
        cuts, specs = cuts + [cut], fewer
    return cuts, specs


def unique(specs: Iterable[RunSpec]) -> list:
    """``specs`` without repeats, order kept."""
    seen, out = set(), []
    for s in specs:
        if s.key not in seen:
            seen.add(s.key)
            out.append(s)
    return out


# ------------------------------------------------------------------ a study and its driver
class Study(Protocol):
    """What a study declares for the engine: its name and results folder, how it decides its state and plan from
    the finished runs, whether the state is final, a status line, and how many runs one sweep call may start."""

    name: str
    folder: str

    reads: tuple  # other studies' folders (beside its own) whose finished runs it reuses

    def decide(self, p, records: list, reused: list = ()) -> tuple[object, list]: ...

    def is_complete(self, state, todo: list) -> bool: ...

    def status_line(self, state, n_specs: int, n_done: int) -> str: ...

    def chunk(self, workers: int) -> Optional[int]: ...


def reused_records(study: Study, out_dir) -> list:
    """The finished runs of the folders the study reads beside its own (``study.reads``, siblings of ``out_dir``)."""
    return [r for folder in getattr(study, "reads", ()) for r in load_results(Path(out_dir).parent / folder)]


def done_elsewhere(study: Study, reused: list) -> set:
    """The keys of the read runs the study counts as its own (``study.reuses(record)``, where it says)."""
    keep = getattr(study, "reuses", lambda r: True)
    return {RunRecord.of(r).key for r in reused if keep(r)}


@dataclass
class Outcome:
    """What a drive did: the last state, the runs started, and the runs that failed (their keys)."""

    state: object
    started: int = 0
    failed: list = field(default_factory=list)
    notes: list = field(default_factory=list)


def drive(study: Study, p, out_dir, workers: Optional[int] = None, threads: Optional[int] = None,
          max_runs: Optional[int] = None, fn: Optional[str] = None, progress: bool = True, log=print) -> Outcome:
    """Run ``study`` until its plan has no pending run (or ``max_runs`` were started), deciding again after each
    sweep call (a finished stage plans the next one). Resumable: a stopped study resumes with the same plan. Stops
    at the first call with a failed run (rerun to retry), returning it in :attr:`Outcome.failed`."""
    out = Outcome(state=None)
    w = workers or p.workers
    while True:
        records = load_results(out_dir)
        reused = reused_records(study, out_dir)
        st, specs = study.decide(p, records, reused)
        out.state = st
        have = done_elsewhere(study, reused)
        todo = [s for s in pending(specs, out_dir) if s.key not in have]  # a reused run is done where it lies
        log(f"{study.name}: {study.status_line(st, len(specs), len(specs) - len(todo))}")
        note = backbones_note(records)
        if note:
            log(f"{study.name}: note: {note}")
        if not todo or (max_runs is not None and out.started >= max_runs):
            return out
        left = len(todo) if max_runs is None else min(len(todo), max_runs - out.started)
        chunk = study.chunk(w)
        summary = run_sweep(specs, out_dir, workers=w, threads=threads or p.threads, devices=p.devices,
                            fn=fn or DEFAULT_FN, progress=progress, desc=f"{study.name}: {getattr(st, 'stage', '')}",
                            max_runs=left if chunk is None else min(left, chunk))
        out.started += len(summary["done"]) + len(summary["failed"])
        if summary["failed"]:
            out.failed = list(summary["failed"])
            log(f"{study.name}: {len(summary['failed'])} run(s) failed: {summary['failed']}; stopping (rerun to retry)")
            return out
