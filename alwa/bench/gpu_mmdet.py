"""GPU check of ALWA inside MMDetection (the H200 check's last step; runs on a CPU too, without the sync checks).

The mini RetinaNet (mmdet, ALWAHook's wrapper on its head) trains with and without ALWA, interleaved in
blocks (:mod:`alwa.bench.train`), and on CUDA each ALWA call runs under
``torch.cuda.set_sync_debug_mode``:

* positive control: ``.item()`` on a device tensor under mode "error" must raise (the check can fail);
* every ALWA call runs under "warn" (:class:`SyncGuard`): a host-device synchronisation inside the wrapper
  (weighting, bookkeeping) on a call that does not end a window is a violation, recorded with where it
  happened (file:line and the stack); a window-ending call may synchronise (its one copy of the window's sums);
* the sync check runs in calls of its own before the timed blocks, so the step-time ratio times ALWA alone.

Only the wrapper's own work is checked: the head's loss (mmdet's code) runs outside the guard.

    alwa gpu-check --mmdet --data-root data/gpu_mini_voc/VOCdevkit/ --json results/gpu_check/mmdet.json
"""

from __future__ import annotations

import argparse
import warnings
from typing import Callable, Optional

import torch

from alwa.bench import train as bench_train
from alwa.bench.gpu import item_raises_under_error_mode
from alwa.core.files import write_json_atomic


def _where(stack) -> list[str]:
    """'file:line in function' of the frames of a stack (innermost last), without this module's and the warnings
    machinery's own frames."""
    out = []
    for f in stack:
        if f.filename.endswith(("gpu_mmdet.py", "warnings.py")):
            continue
        out.append(f"{f.filename}:{f.lineno} in {f.name}")
    return out


class SyncGuard:
    """Wraps ALWA's loss wrapper and reports every host-device synchronisation inside its own work; it never changes
    what the step does. Each call runs under ``set_mode("warn")`` (``torch.cuda.set_sync_debug_mode`` on a GPU; a
    recorder in the tests): a synchronisation is then a warning, which the guard takes with the stack at that moment
    (file:line of each frame). A call that does not end a window and synchronises is a *violation*, recorded with its
    location; a window's end may synchronise (its one copy of the window's sums) and is counted apart. The head's own
    loss (mmdet's code) runs outside the guard (mode "default"). Never re-runs anything."""

    def __init__(self, wrapper, set_mode: Callable[[str], None]):
        self.wrapper, self.set_mode = wrapper, set_mode
        self.checked = self.violations = self.window_ends = self.window_end_syncs = 0
        self.errors: list[dict] = []
        self._orig = wrapper.original
        guard = self

        def head_loss_unguarded(*args, **kwargs):
            guard.set_mode("default")
            try:
                return guard._orig(*args, **kwargs)
            finally:
                guard.set_mode(guard._mode)

        self._mode = "default"
        wrapper.original = head_loss_unguarded

    @property
    def original(self):
        """The head's own loss method."""
        return self._orig

    @original.setter
    def original(self, fn):
        self._orig = fn

    @property
    def weighter(self):
        return self.wrapper.weighter

    def __call__(self, *args, **kwargs):
        import traceback

        w = self.wrapper.weighter
        ends = (len(w._window_sums) + len(w._window) + 1) >= w.interval
        seen: list[dict] = []
        previous = warnings.showwarning

        def take(message, category, filename, lineno, file=None, line=None):
            if "synchroniz" in str(message).lower():
                seen.append({"message": str(message).splitlines()[0][:200], "at": f"{filename}:{lineno}",
                             "stack": _where(traceback.extract_stack())[-8:]})
            else:
                previous(message, category, filename, lineno, file, line)

        self._mode = "warn"
        self.set_mode("warn")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("always")
                warnings.showwarning = take
                out = self.wrapper(*args, **kwargs)
        finally:
            self._mode = "default"
            self.set_mode("default")
        if ends:
            self.window_ends += 1
            self.window_end_syncs += len(seen)
        else:
            self.checked += 1
            if seen:
                self.violations += 1
                self.errors.extend({**e, "call": w.calls} for e in seen)
        return out

    def as_dict(self) -> dict:
        return {"checked_calls": self.checked, "violations": self.violations, "window_ends": self.window_ends,
                "window_end_syncs": self.window_end_syncs, "first_errors": self.errors[:3]}


def run(data_root: str, device: str = "cuda", blocks: int = 20, steps: int = 10, interval: int = 10,
        set_mode: Optional[Callable] = None) -> dict:
    dev = torch.device(device)
    if set_mode is None:
        set_mode = torch.cuda.set_sync_debug_mode if dev.type == "cuda" else (lambda mode: None)
    control = item_raises_under_error_mode(dev) if dev.type == "cuda" else None
    r = bench_train.run(blocks=blocks, steps=steps, data_root=data_root, interval=interval, device=device,
                        guard=lambda wrapper: SyncGuard(wrapper, set_mode))
    sync = r.pop("guard")
    r["sync_check"] = {"positive_control_raised": control, **sync} if dev.type == "cuda" else None
    r["device"] = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    r["passed"] = (None if dev.type != "cuda" else bool(control) and sync["violations"] == 0 and sync["checked_calls"] > 0)
    return r


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="alwa gpu-check --mmdet", description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default="data/mini_voc/VOCdevkit/")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--blocks", type=int, default=20)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    r = run(a.data_root, a.device, a.blocks, a.steps)
    print(bench_train.describe(r))
    print("sync check:", r["sync_check"], "passed:", r["passed"])
    if a.json:
        write_json_atomic(a.json, r)

