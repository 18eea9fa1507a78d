"""Interleaved with/without-ALWA timing: the one loop behind every train-step benchmark.

Blocks alternate the order of the two arms (ALWA first in even blocks, plain first in odd ones), so a slow
spell of the machine hits both alike; within a block each arm runs ``steps`` timed steps and the block's
median is kept. On CUDA each step is timed between two ``torch.cuda.synchronize()``.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import torch

from alwa.core.stats import ratio_ci, ratio_verdict


@dataclass
class Interleaved:
    """Step times (seconds) of the two arms: per block (medians) and every timed step."""

    block_alwa: list = field(default_factory=list)
    block_plain: list = field(default_factory=list)
    steps_alwa: list = field(default_factory=list)
    steps_plain: list = field(default_factory=list)

    def ratio(self, goal: float) -> dict:
        """Geometric-mean ratio ALWA / plain of the block medians, its 95 % t-interval and verdict against ``goal``."""
        r, lo, hi = ratio_ci(self.block_alwa, self.block_plain)
        return {"ratio": r, "ratio_ci95": [lo, hi], "goal": goal, "goal_verdict": ratio_verdict(lo, hi, goal)}

    @property
    def median_alwa(self) -> float:
        return statistics.median(self.steps_alwa)

    @property
    def median_plain(self) -> float:
        return statistics.median(self.steps_plain)


def interleaved(step: Callable[[bool], None], blocks: int, steps: int, device="cpu", switch: Optional[Callable[[bool], None]] = None,
                on_block: Optional[Callable[[int, Interleaved], None]] = None) -> Interleaved:
    """Time ``step(use_alwa)`` in ``blocks`` interleaved blocks of ``steps`` steps per arm.

    ``switch(use_alwa)``: called once before each arm's block (e.g. to put ALWA's wrapper on a head or take it
    off), outside the timing. ``on_block(b, so_far)``: after each block (progress lines, bars)."""
    cuda = torch.device(device).type == "cuda"
    out = Interleaved()
    for b in range(blocks):
        for use in ((True, False) if b % 2 == 0 else (False, True)):
            if switch is not None:
                switch(use)
            times = []
            for _ in range(steps):
                if cuda:
                    torch.cuda.synchronize()
                t = time.perf_counter()
                step(use)
                if cuda:
                    torch.cuda.synchronize()
                times.append(time.perf_counter() - t)
            (out.block_alwa if use else out.block_plain).append(statistics.median(times))
            (out.steps_alwa if use else out.steps_plain).extend(times)
        if on_block is not None:
            on_block(b, out)
    return out
