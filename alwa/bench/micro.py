"""Micro-benchmark: one ALWA call vs a call in the authors' style.

The authors' head calls ``.item()`` on every per-level loss (10 host-device
synchronisations per iteration with 5 FPN levels) and keeps Python lists.
:class:`alwa.ALWA` accumulates on the loss's device and synchronises once per
window. On a CPU there is no synchronisation to save, so this measures the
bookkeeping cost alone; on a GPU the difference is the avoided syncs.

Usage::

    alwa bench [--device cpu|cuda] [--calls 2000] [--levels 5] [--repeats 5] [--json results/cpu/bench/weighter.json]
"""

from __future__ import annotations

import argparse
import logging
import statistics

import numpy as np
import torch

# torch.utils.benchmark imports cpp_extension, which logs a warning about CUDA_HOME on a machine without CUDA
logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
import torch.utils.benchmark as benchmark  # noqa: E402

from alwa.core.files import provenance, write_json_atomic
from alwa.core.weighter import ALWA

STEP_RATIO_GOAL = 1.005  # goal for a train step's time with ALWA / without (C10: 'negligible')


class AuthorsStyle:
    """The authors' per-iteration bookkeeping (``.item()`` per level, numpy stats)."""

    def __init__(self, C: int = 100, cls_weight: float = 1.0):
        self.C, self.cls_weight, self.bbox_weight = C, cls_weight, 1.0
        self.cls_hist: list[float] = []
        self.bbox_hist: list[float] = []

    def __call__(self, cls_levels, bbox_levels):
        cls_out = [self.cls_weight * t for t in cls_levels]
        bbox_out = [self.bbox_weight * t for t in bbox_levels]
        self.cls_hist.append(sum(t.item() for t in cls_out))
        self.bbox_hist.append(sum(t.item() for t in bbox_out))
        if len(self.cls_hist) % self.C == 0:
            cs, bs = np.std(self.cls_hist, ddof=1), np.std(self.bbox_hist, ddof=1)
            self.cls_hist, self.bbox_hist = [], []
            if cs > bs:
                self.cls_weight = 1 - (cs - bs) / cs
        return cls_out, bbox_out


def _time_calls(fn, cls_levels, reg_levels, calls: int, device: torch.device) -> float:
    """Seconds per call of ``fn(cls_levels, reg_levels)`` over ``calls`` calls: :class:`torch.utils.benchmark.Timer`
    (which synchronises CUDA around the timed loop and keeps torch's thread count fixed)."""
    timer = benchmark.Timer(stmt="fn(c, r)", globals={"fn": fn, "c": cls_levels, "r": reg_levels},
                            num_threads=torch.get_num_threads())
    return timer.timeit(calls).mean


def run(device: str = "cpu", calls: int = 2000, levels: int = 5, repeats: int = 5, interval: int = 100,
        cls_weight: float = 0.5) -> dict:
    """Interleaved timing; returns medians in microseconds per call and their ratio.

    Both start from classification weight ``cls_weight`` (default 0.5: after ALWA's first
    update the weight is below 1; at exactly 1 :class:`alwa.ALWA` skips a multiplication,
    which would flatter it) and regression weight 1.
    """
    dev = torch.device(device)
    g = torch.Generator().manual_seed(0)
    cls_levels = [torch.rand((), generator=g).to(dev).requires_grad_() for _ in range(levels)]
    reg_levels = [torch.rand((), generator=g).to(dev).requires_grad_() for _ in range(levels)]
    ours, theirs = [], []
    for _ in range(repeats):  # interleave so that machine noise hits both alike
        ours.append(_time_calls(ALWA("alwa2", interval=interval, cls_weight=cls_weight), cls_levels, reg_levels, calls, dev))
        theirs.append(_time_calls(AuthorsStyle(interval, cls_weight), cls_levels, reg_levels, calls, dev))
    o, t = statistics.median(ours) * 1e6, statistics.median(theirs) * 1e6
    return {"device": str(dev), "levels": levels, "calls": calls, "repeats": repeats, "cls_weight": cls_weight,
            "alwa_us": o, "authors_us": t, "ratio": o / t}


def format_table(r: dict) -> str:
    rows = [
        ("alwa.ALWA (device accumulation)", f"{r['alwa_us']:.1f}"),
        ("authors' style (.item() per level)", f"{r['authors_us']:.1f}"),
        ("ratio alwa / authors", f"{r['ratio']:.3f}"),
    ]
    width = max(len(a) for a, _ in rows)
    head = (f"device={r['device']} levels={r['levels']} calls={r['calls']} repeats={r['repeats']} "
            f"cls_weight={r.get('cls_weight', 1.0)} (median, us per call)")
    return "\n".join([head] + [f"{a:<{width}}  {b:>10}" for a, b in rows])


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="alwa bench", description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--calls", type=int, default=2000)
    p.add_argument("--levels", type=int, default=5)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--json", default=None, help="write the record here (e.g. results/cpu/bench/weighter.json)")
    a = p.parse_args(argv)
    r = run(a.device, a.calls, a.levels, a.repeats)
    print(format_table(r))
    if a.json:
        write_json_atomic(a.json, {**r, "provenance": provenance()})

