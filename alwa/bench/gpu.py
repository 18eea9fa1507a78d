"""GPU check of ALWA in a plain PyTorch loop (made for a CUDA machine; runs on a CPU too).

torchvision's RetinaNet (random weights, random images and boxes) trains with
and without ALWA, interleaved in blocks (the order alternates between blocks,
so machine noise hits both alike). On CUDA it checks, with
``torch.cuda.set_sync_debug_mode``:

* positive control: an ``.item()`` (the authors' per-level bookkeeping) under
  mode "error" must raise, so the check can fail;
* every ALWA call that does not end a window runs under mode "error": any
  host-device synchronisation inside it raises;
* every window-ending call runs under mode "warn": the synchronisations are
  counted (the design has one per window, the copy of the window's sums).

It reports the per-block median step times, the geometric-mean ratio ALWA /
plain with a 95 % t-interval over blocks (:func:`alwa.core.stats.ratio_ci`), its
verdict against the goal 1.005, the host time spent inside the ALWA call (the
weighting and the bookkeeping; window ends included) as a fraction of a plain
step (resolves what the end-to-end interval cannot on a noisy machine; the
backward of the weighting, one scalar multiplication per weighted loss, is not in it), and
:mod:`alwa.bench.micro` on the same device.

    alwa gpu-check [--device cuda] [--steps 20] [--blocks 20] [--interval 10] [--json out.json]

On a CPU (``--device cpu``) the sync checks do not apply and are reported as None.
Records of runs on a GPU machine are kept as JSON in ``results/gpu_check/``;
:func:`load_records` reads them for the book. No test or notebook needs a GPU.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

from alwa.bench import micro as bench
from alwa.core import weighter as weighter_module
from alwa.core.files import provenance
from alwa.bench.interleave import interleaved
from alwa.core.weighter import ALWA

GOAL = bench.STEP_RATIO_GOAL


def _sync_mode(dev, mode):
    if dev.type == "cuda":
        torch.cuda.set_sync_debug_mode(mode)


def _sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def weighter_digest() -> str:
    """First 12 hex digits of the SHA-256 of ``alwa/core/weighter.py``: which weighter a record timed."""
    return hashlib.sha256(Path(weighter_module.__file__).read_bytes()).hexdigest()[:12]


def item_raises_under_error_mode(dev) -> bool:
    """Positive control: does ``.item()`` on a device tensor raise under sync debug mode "error"?"""
    x = torch.ones((), device=dev) * 2
    _sync_mode(dev, "error")
    try:
        x.item()
        return False
    except RuntimeError:
        return True
    finally:
        _sync_mode(dev, "default")


def run(device="cuda", steps=20, blocks=20, interval=10, batch=8, size=512, warmup=3, seed=0, bench_calls=2000):
    from torchvision.models.detection import retinanet_resnet50_fpn

    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA device: run with --device cpu, or on a GPU machine")
    torch.manual_seed(seed)
    model = retinanet_resnet50_fpn(weights=None, weights_backbone=None, num_classes=21, min_size=size, max_size=size).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    g = torch.Generator().manual_seed(seed)
    images = [torch.rand(3, size, size, generator=g).to(dev) for _ in range(batch)]
    targets = []
    for _ in range(batch):
        xy = torch.rand(3, 2, generator=g) * size * 0.6
        wh = torch.rand(3, 2, generator=g) * size * 0.3 + 16
        targets.append({"boxes": torch.cat([xy, xy + wh], 1).to(dev), "labels": torch.randint(1, 21, (3,), generator=g).to(dev)})
    w = ALWA("alwa2", interval=interval)
    checked, window_syncs, call_s = 0, [], []

    def step(use_alwa):
        nonlocal checked
        losses = model(images, targets)
        cls, reg = losses["classification"], losses["bbox_regression"]
        if use_alwa:
            ends_window = (w.calls + 1) % w.interval == 0
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                _sync_mode(dev, "warn" if ends_window else "error")
                try:
                    t0 = time.perf_counter()
                    cls, reg = w(cls, reg)
                    call_s.append(time.perf_counter() - t0)
                finally:
                    _sync_mode(dev, "default")
            if dev.type == "cuda":
                if ends_window:
                    window_syncs.append(sum("synchroniz" in str(c.message) for c in caught))
                else:
                    checked += 1
        opt.zero_grad(set_to_none=True)
        (cls + reg).backward()
        opt.step()

    model.train()
    for _ in range(warmup):
        step(False)
        step(True)
    call_s.clear()  # time the calls of the timed steps only

    def progress(b, t):
        print(f"block {b + 1}/{blocks}: median step {1e3 * t.block_alwa[-1]:.1f} ms with ALWA, "
              f"{1e3 * t.block_plain[-1]:.1f} ms without", flush=True)

    t = interleaved(step, blocks, steps, dev, on_block=progress)
    cuda = dev.type == "cuda"
    med_plain = t.median_plain
    call_fraction = statistics.fmean(call_s) / med_plain
    return {
        "device": torch.cuda.get_device_name(dev) if cuda else platform.processor() or "cpu",
        "torch": torch.__version__, "batch": batch, "size": size, "blocks": blocks, "steps_per_block": steps,
        "median_step_s_alwa": t.median_alwa, "median_step_s_plain": med_plain,
        "block_medians_s_alwa": t.block_alwa, "block_medians_s_plain": t.block_plain, **t.ratio(GOAL),
        "alwa_call_us_median": 1e6 * statistics.median(call_s), "alwa_call_us_mean": 1e6 * statistics.fmean(call_s),
        "call_fraction": call_fraction, "call_fraction_verdict": "within" if call_fraction <= GOAL - 1 else "above",
        "item_raises_under_error_mode": item_raises_under_error_mode(dev) if cuda else None,
        "alwa_calls_checked_without_sync": checked if cuda else None,
        "syncs_per_window_end": window_syncs if cuda else None,
        "windows": len(w.history), "final_cls_weight": w.cls_weight,
        "weighter_bench": bench.run(device=str(dev), calls=bench_calls, repeats=5),
        "weighter_sha256": weighter_digest(), "provenance": provenance(),
    }


def describe(r: dict) -> str:
    lo, hi = r["ratio_ci95"]
    lines = [
        f"{r['device']}, torch {r['torch']}: torchvision RetinaNet R-50 FPN, batch {r['batch']} at {r['size']} px",
        f"median step {1e3 * r['median_step_s_alwa']:.2f} ms with ALWA, {1e3 * r['median_step_s_plain']:.2f} ms without",
        f"ratio {r['ratio']:.4f} [95% CI {lo:.4f}, {hi:.4f}] over {r['blocks']} blocks x {r['steps_per_block']} steps "
        f"-> {r['goal_verdict']} (goal <= {r['goal']})",
        f"host time inside the ALWA call: median {r['alwa_call_us_median']:.1f} us, mean {r['alwa_call_us_mean']:.1f} us "
        f"(window ends included) = {100 * r['call_fraction']:.3f}% of a plain step -> {r['call_fraction_verdict']} "
        f"(goal <= {100 * (r['goal'] - 1):.1f}%)",
    ]
    if r["item_raises_under_error_mode"] is not None:
        ws = r["syncs_per_window_end"]
        lines += [
            f"positive control: .item() raises under sync debug mode 'error': {r['item_raises_under_error_mode']}",
            f"ALWA calls run under 'error' without raising: {r['alwa_calls_checked_without_sync']}",
            f"syncs counted at window ends ('warn'): {sorted(set(ws))} over {len(ws)} window ends",
        ]
    lines += [f"{r['windows']} windows; final cls weight {r['final_cls_weight']:.4f}", bench.format_table(r["weighter_bench"])]
    return "\n".join(lines)


def summary(r: dict) -> str:
    """One sentence on a record, for prose."""
    lo, hi = r["ratio_ci95"]
    s = (f"On {r['device']} (torch {r['torch']}; torchvision RetinaNet R-50 FPN, batch {r['batch']} at {r['size']} px) "
         f"the median step took {1e3 * r['median_step_s_alwa']:.1f} ms with ALWA and {1e3 * r['median_step_s_plain']:.1f} ms "
         f"without; the ratio is {r['ratio']:.4f} (95% CI {lo:.4f}-{hi:.4f}, {r['blocks']} blocks x {r['steps_per_block']} steps, "
         f"against the goal of at most {r['goal']}: {r['goal_verdict']})")
    if "call_fraction" in r:
        s += (f"; the host time inside the ALWA call was {r['alwa_call_us_mean']:.0f} us per step on average "
              f"(window ends included), {100 * r['call_fraction']:.3f}% of a plain step")
    if r.get("item_raises_under_error_mode"):
        ws = sorted(set(r["syncs_per_window_end"]))
        s += (f". {r['alwa_calls_checked_without_sync']} ALWA calls that did not end a window ran under sync debug mode "
              f"'error' without a synchronisation (an .item() raises there, checked), and each of the "
              f"{len(r['syncs_per_window_end'])} window ends synchronised "
              f"{'once' if ws == [1] else ' or '.join(map(str, ws)) + ' times'}")
    s += "."
    digest = r.get("weighter_sha256")
    if digest != weighter_digest():
        s += (" These timings are of another version of alwa/core/weighter.py than the one this page was built with "
              + (f"(SHA-256 {digest}...)." if digest else "(the record predates the digest; see results/gpu_check/README.md)."))
    return s


def load_records(folder) -> list[dict]:
    """Every ``*.json`` record of :func:`run` in ``folder`` (sorted by name), each with
    its file name under ``"file"``; an empty list if the folder does not exist."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return [{"file": f.name, **json.loads(f.read_text())} for f in sorted(folder.glob("*.json"))]


def record_row(r: dict) -> dict:
    """One table row of a record (keys a reader can scan; missing measures as None)."""
    lo, hi = r["ratio_ci95"] if "ratio_ci95" in r else (None, None)
    ws = r.get("syncs_per_window_end")
    return {
        "file": r.get("file"), "device": r["device"], "torch": r["torch"],
        "blocks x steps": f"{r.get('blocks', '?')} x {r.get('steps_per_block', '?')}",
        "median step ms (ALWA / plain)": f"{1e3 * r['median_step_s_alwa']:.2f} / {1e3 * r['median_step_s_plain']:.2f}",
        "ratio [95% CI]": f"{r['ratio']:.4f} [{lo:.4f}, {hi:.4f}]" if lo is not None else f"{r['ratio']:.4f} (no interval)",
        "ALWA call, % of step": round(100 * r["call_fraction"], 3) if "call_fraction" in r else None,
        ".item() caught": r.get("item_raises_under_error_mode"),
        "calls checked, no sync": r.get("alwa_calls_checked_without_sync"),
        "syncs per window end": sorted(set(ws)) if ws else None,
    }


def main(argv=None):
    ap = argparse.ArgumentParser(prog="alwa gpu-check", description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--blocks", type=int, default=20)
    ap.add_argument("--interval", type=int, default=10)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    r = run(a.device, a.steps, a.blocks, a.interval, a.batch, a.size)
    print(describe(r))
    if a.json:
        Path(a.json).write_text(json.dumps(r, indent=1))
    return r

