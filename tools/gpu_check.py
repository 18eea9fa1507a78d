#!/usr/bin/env python
"""GPU check of ALWA in a plain PyTorch loop (run it on a CUDA machine).

torchvision's RetinaNet (random weights, random images and boxes) trains for a
number of steps with and without ALWA, interleaved in blocks. Every ALWA call
that does not end a window runs under torch.cuda.set_sync_debug_mode("error"):
any host-device synchronisation inside it raises. Prints the median step times
and their ratio, and the alwa.bench table on the GPU; --json writes them.

    python tools/gpu_check.py [--steps 20] [--blocks 4] [--interval 10] [--json out.json]
"""
import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from alwa import ALWA, bench  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--blocks", type=int, default=4)
    ap.add_argument("--interval", type=int, default=10)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    if not torch.cuda.is_available():
        sys.exit("no CUDA device: this check needs a GPU")
    from torchvision.models.detection import retinanet_resnet50_fpn

    dev = torch.device("cuda")
    torch.manual_seed(0)
    model = retinanet_resnet50_fpn(weights=None, weights_backbone=None, num_classes=21, min_size=a.size, max_size=a.size).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    g = torch.Generator().manual_seed(0)
    images = [torch.rand(3, a.size, a.size, generator=g).to(dev) for _ in range(a.batch)]
    targets = []
    for _ in range(a.batch):
        xy = torch.rand(3, 2, generator=g) * a.size * 0.6
        wh = torch.rand(3, 2, generator=g) * a.size * 0.3 + 16
        targets.append({"boxes": torch.cat([xy, xy + wh], 1).to(dev), "labels": torch.randint(1, 21, (3,), generator=g).to(dev)})
    w = ALWA("alwa2", interval=a.interval)
    checked = 0

    def step(use_alwa):
        nonlocal checked
        losses = model(images, targets)
        cls, reg = losses["classification"], losses["bbox_regression"]
        if use_alwa:
            ends_window = (w.calls + 1) % w.interval == 0
            if not ends_window:
                torch.cuda.set_sync_debug_mode("error")
                checked += 1
            try:
                cls, reg = w(cls, reg)
            finally:
                torch.cuda.set_sync_debug_mode("default")
        opt.zero_grad(set_to_none=True)
        (cls + reg).backward()
        opt.step()

    model.train()
    for _ in range(3):
        step(False)
    times = {True: [], False: []}
    for b in range(a.blocks):
        for use in ((True, False) if b % 2 == 0 else (False, True)):
            for _ in range(a.steps):
                torch.cuda.synchronize()
                t = time.perf_counter()
                step(use)
                torch.cuda.synchronize()
                times[use].append(time.perf_counter() - t)
    med_a, med_p = statistics.median(times[True]), statistics.median(times[False])
    out = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "median_step_s_alwa": med_a,
           "median_step_s_plain": med_p, "ratio": med_a / med_p, "steps_each": len(times[True]),
           "alwa_calls_checked_without_sync": checked, "windows": len(w.history), "final_cls_weight": w.cls_weight,
           "weighter_bench": bench.run(device="cuda", calls=2000, repeats=5)}
    print(json.dumps(out, indent=1))
    print(bench.format_table(out["weighter_bench"]))
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
