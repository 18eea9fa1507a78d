"""Train-step time of the mini RetinaNet with and without ALWA, interleaved in one process.

    python -m alwa.mmdet.bench_train [--blocks 6] [--steps 8] [--json out.json]

The same model, optimizer and batch are used for both; ALWA is switched on and
off between blocks of steps by attaching and detaching :class:`ALWAHook`'s
wrapper, so machine noise hits both alike. Reports the median step time of
each and their ratio (goal: <= 1.005).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time


def run(blocks: int = 6, steps: int = 8, warmup: int = 3, data_root: str = "data/mini_voc/VOCdevkit/", threads: int | None = None,
        interval: int = 10) -> dict:
    import torch
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.runner import Runner

    from ..results import provenance
    from .configs import MiniSetting, build_config
    from .hook import ALWAHook

    if threads:
        torch.set_num_threads(threads)
    register_all_modules()
    torch.manual_seed(0)
    cfg = build_config("retinanet_r18w16_mini_l1_alwa2", data_root=data_root, setting=MiniSetting())
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
    batch = next(iter(loader))
    opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    hook = ALWAHook(mode="alwa2", interval=interval)

    def step():
        data = model.data_preprocessor(batch, True)
        losses = model(**data, mode="loss")
        loss, _ = model.parse_losses(losses)
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(warmup):
        step()
    times = {"alwa": [], "plain": []}
    for b in range(blocks):
        for mode in (("alwa", "plain") if b % 2 == 0 else ("plain", "alwa")):
            if mode == "alwa":
                hook.attach(model)
            else:
                hook.detach(model)
            for _ in range(steps):
                t = time.perf_counter()
                step()
                times[mode].append(time.perf_counter() - t)
    hook.detach(model)
    a, p = statistics.median(times["alwa"]), statistics.median(times["plain"])
    return {"median_step_s_alwa": a, "median_step_s_plain": p, "ratio": a / p, "steps_each": len(times["alwa"]),
            "blocks": blocks, "alwa_calls": hook.weighter.calls, "threads": torch.get_num_threads(), "provenance": provenance()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=6)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--data-root", default="data/mini_voc/VOCdevkit/")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    r = run(a.blocks, a.steps, data_root=a.data_root, threads=a.threads)
    print(f"median train step: with ALWA {r['median_step_s_alwa'] * 1e3:.1f} ms, without {r['median_step_s_plain'] * 1e3:.1f} ms, "
          f"ratio {r['ratio']:.4f} ({r['steps_each']} steps each, interleaved; {r['alwa_calls']} ALWA calls)")
    if a.json:
        from ..results import write_json_atomic

        write_json_atomic(a.json, r)


if __name__ == "__main__":
    main()
