"""Train-step time of the mini RetinaNet with and without ALWA, interleaved in one process.

    alwa bench train [--blocks 20] [--steps 10] [--json out.json]

The same model, optimizer and batch are used for both; ALWA is switched on and
off inside each block (the order alternates between blocks), so machine noise
hits both alike. Two measures:

* ``ratio``: the geometric mean over blocks of median(step with ALWA) /
  median(step without), with a 95 % t-interval over the per-block log ratios
  (``scipy.stats``). End to end, but only as precise as the machine is quiet.
* ``hook_fraction``: the time spent inside ALWA's loss wrapper beyond the head's
  own loss (weighting, bookkeeping tensors, the window update), per step, as a
  fraction of the median step without ALWA. It excludes the backward of the
  weighting (one scalar multiplication per level whose weight is not 1), and
  resolves far below 0.5 %.
"""

from __future__ import annotations

import argparse
import statistics
import time

from alwa.bench.interleave import interleaved
from alwa.bench.micro import STEP_RATIO_GOAL
from alwa.core.files import provenance, write_json_atomic

GOAL = STEP_RATIO_GOAL


class _TimedWrapper:
    """Stands in for ALWA's loss wrapper and records how long it took beyond the head's own loss."""

    def __init__(self, wrapper):
        self.wrapper, self.extra = wrapper, []
        self._orig = wrapper.original
        self._inner = 0.0

        def timed_original(*args, **kwargs):
            t = time.perf_counter()
            out = self._orig(*args, **kwargs)
            self._inner = time.perf_counter() - t
            return out

        wrapper.original = timed_original

    def __call__(self, *args, **kwargs):
        t = time.perf_counter()
        out = self.wrapper(*args, **kwargs)
        self.extra.append(time.perf_counter() - t - self._inner)
        return out


def run(blocks: int = 20, steps: int = 10, warmup: int = 3, data_root: str = "data/mini_voc/VOCdevkit/",
        threads: int | None = None, interval: int = 10, progress: bool = False, device: str = "cpu", guard=None) -> dict:
    """``device``: where the model trains ("cuda" on a GPU box: steps are timed between synchronisations);
    ``guard``: a function wrapping ALWA's loss wrapper (e.g. :class:`alwa.bench.gpu_mmdet.SyncGuard`), used in
    ``max(2 * interval, blocks * steps // 2)`` steps of its own before the timed blocks (which then time ALWA's
    wrapper alone); its ``as_dict()`` is returned under ``guard``."""
    import torch
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.runner import Runner
    from tqdm.auto import tqdm

    from alwa.mmdet.configs import MiniSetting, build_config  # the adapter imports mmdet: only when a benchmark runs
    from alwa.mmdet.heads import LOSS_METHODS, resolve_head
    from alwa.mmdet.hook import ALWAHook

    if threads:
        torch.set_num_threads(threads)
    register_all_modules()
    torch.manual_seed(0)
    cfg = build_config("retinanet_r18w16_mini_l1_alwa2", data_root=data_root, setting=MiniSetting())
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.to(device)
    model.train()
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
    batch = next(iter(loader))
    opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    hook = ALWAHook(mode="alwa2", interval=interval)
    hook.attach(model)
    _, head = resolve_head(model, hook.head)
    method = next(m for m in LOSS_METHODS if m in head.__dict__)
    inner = head.__dict__[method]
    timed = None

    def step():
        data = model.data_preprocessor(batch, True)
        losses = model(**data, mode="loss")
        loss, _ = model.parse_losses(losses)
        opt.zero_grad()
        loss.backward()
        opt.step()

    def switch(use_alwa: bool):
        if use_alwa:
            head.__dict__[method] = timed
        else:
            head.__dict__.pop(method, None)

    guarded = None
    if guard is not None:  # the check runs first, in steps of its own: the timed blocks below time ALWA alone
        guarded = guard(inner)
        head.__dict__[method] = guarded
        for _ in range(max(2 * interval, blocks * steps // 2)):
            step()
        guarded.wrapper.original = guarded.original  # the head's loss without the guard's mode switches
        head.__dict__[method] = inner
    timed = _TimedWrapper(inner)

    for use in (True, False):  # warm both paths up; the weighter's calls are counted from here on
        switch(use)
        for _ in range(warmup):
            step()
    calls0, timed.extra = hook.weighter.calls, []
    bar = tqdm(total=blocks, desc="train-step benchmark", unit="block", disable=not progress)
    t = interleaved(lambda use: step(), blocks, steps, device, switch=switch, on_block=lambda b, so_far: bar.update(1))
    bar.close()
    head.__dict__.pop(method, None)
    a, p = t.median_alwa, t.median_plain
    hook_s = statistics.median(timed.extra)
    return {**t.ratio(GOAL), "block_ratios": [x / y for x, y in zip(t.block_alwa, t.block_plain)],
            "median_step_s_alwa": a, "median_step_s_plain": p, "median_hook_s": hook_s, "hook_fraction": hook_s / p,
            "steps_each": len(t.steps_alwa), "blocks": blocks, "steps_per_block": steps,
            "alwa_calls": hook.weighter.calls - calls0, "threads": torch.get_num_threads(), "provenance": provenance(),
            **({"guard": guarded.as_dict()} if guarded is not None else {})}


def describe(r: dict) -> str:
    """One paragraph of plain text for a result of :func:`run`."""
    lo, hi = r["ratio_ci95"]
    return (f"median train step: with ALWA {r['median_step_s_alwa'] * 1e3:.1f} ms, without {r['median_step_s_plain'] * 1e3:.1f} ms; "
            f"ratio {r['ratio']:.4f} (95% CI {lo:.4f}-{hi:.4f} over {r['blocks']} interleaved blocks of {r['steps_per_block']} "
            f"steps each; goal <= {r['goal']}: {r['goal_verdict']}); time inside ALWA's wrapper {r['median_hook_s'] * 1e6:.0f} us "
            f"per step = {100 * r['hook_fraction']:.3f}% of a step ({r['alwa_calls']} ALWA calls)")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="alwa bench train", description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=20)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--data-root", default="data/mini_voc/VOCdevkit/")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    r = run(a.blocks, a.steps, data_root=a.data_root, threads=a.threads, progress=True)
    print(describe(r))
    if a.json:
        write_json_atomic(a.json, r)

