"""How fast a mini training step is, and what each candidate speed-up gives: ``alwa bench speed``.

    alwa bench speed [--detectors retinanet faster-rcnn] [--blocks 6] [--steps 4] [--layout] [--json out.json]

For each detector of the cpu setting (the published profile's model, data and batch size), one model and a few real
batches are built; then every **path** (a way of running the same training step) is timed, interleaved block by
block in one process (the order rotates between blocks), so that a noisy machine hits all alike. The **speed-up**
of a path is the geometric mean over blocks of (median step of the current path ``v1``) / (median step of the path),
with a 95 % t-interval over blocks (:func:`alwa.core.stats.ratio_ci`).

Each path is also checked for **keeping the numbers**: from one copy of the initial state, ``check_steps`` SGD steps
on the same batches; it keeps them only when every loss of every step is bitwise equal to ``v1``'s. A path that does
not keep them may only be taken as a new setting version (:data:`alwa.core.settings.SETTING_VERSION`).

Paths: ``v1`` (float32, contiguous tensors: the published setting), ``channels_last`` (oneDNN's NHWC convolutions),
``bf16`` (CPU autocast to bfloat16), ``bf16+channels_last``.

``--profile-iters N`` also profiles one real run per detector (cProfile over N iterations after a warm-up, then
its evaluation) and splits an iteration into its parts (:data:`PROFILE_PARTS`).

``--layout`` also measures the sweep's layout on this machine: aggregate training steps per second of 2 processes
with 1 torch thread each (the sweep's default) against 1 process with 2 threads, each for ``layout_steps`` steps;
from it, the runs per hour of the cpu sweep with 2 workers (a 600-iteration RetinaNet run, plus its measured start
and evaluation).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import multiprocessing as mp
import statistics
import time
from typing import Callable, Optional

from alwa.core.stats import ratio_ci
from alwa.core.experiment import RunSpec
from alwa.core.files import provenance, write_json_atomic
from alwa.mmdet.run import spec_config
from alwa.runs.profile import add_profile_options, load_profile
from alwa.runs.specs import experiment_of, make_spec

PATHS = ("v1", "channels_last", "bf16", "bf16+channels_last")
DETECTORS = ("retinanet", "faster-rcnn")
START_AND_EVAL_S = 12.0  # a run's process start, build and test evaluation (measured: imports 2.7 s, build 2.4 s, test 4 s)


def _spec(detector: str, params: Optional[str] = None, profile: str = "cpu") -> RunSpec:
    p = load_profile(profile, params)
    return make_spec(p, experiment_of(p, detector, "l1"), 0)


def build(detector: str, n_batches: int = 2, params: Optional[str] = None, profile: str = "cpu", spec: Optional[dict] = None):
    """The model of the profile's ``detector`` 1:1 L1 run (seed 0, weights initialised and the backbone loaded) and
    ``n_batches`` preprocessed training batches."""
    import torch
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.runner import Runner

    register_all_modules()
    import random

    import numpy as np

    cfg, _ = spec_config(spec or _spec(detector, params, profile))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    # the augmentation (flips, crops) draws from numpy's and Python's global generators: seeded, the batches, and with
    # them the reference losses of the numbers check, are the same in every invocation (two runs gave 'kept' and 'CHANGED')
    np.random.seed(0)
    random.seed(0)
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
    it = iter(loader)
    batches = [model.data_preprocessor(next(it), True) for _ in range(n_batches)]
    return model, batches


def make_path(model, name: str):
    """(model, step) for path ``name``: ``step(data) -> loss tensor`` runs forward and backward."""
    import torch

    if name not in PATHS:
        raise ValueError(f"unknown path {name!r}; known: {', '.join(PATHS)}")
    cl = "channels_last" in name
    bf16 = name.startswith("bf16")
    m = copy.deepcopy(model)
    if cl:
        m = m.to(memory_format=torch.channels_last)

    def step(data):
        d = dict(data)
        if cl:
            d["inputs"] = d["inputs"].contiguous(memory_format=torch.channels_last)
        ctx = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
        with ctx:
            losses = m(**d, mode="loss")
        loss, _ = m.parse_losses(losses)
        loss.backward()
        return loss

    return m, step


def keeps_numbers(model, batches, name: str, check_steps: int = 3) -> tuple[bool, list, list]:
    """Whether path ``name`` gives bitwise the losses of ``v1`` over ``check_steps`` SGD steps from the same state."""
    import torch

    import random

    import numpy as np

    seqs = []
    for path in ("v1", name):
        m, step = make_path(model, path)
        torch.manual_seed(0)  # the RoI and RPN samplers draw from the global generators
        np.random.seed(0)
        random.seed(0)
        opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
        seq = []
        for i in range(check_steps):
            opt.zero_grad()
            seq.append(float(step(batches[i % len(batches)]).detach()))
            opt.step()
        seqs.append(seq)
    return seqs[0] == seqs[1], seqs[0], seqs[1]


def interleave(steps_of: dict[str, Callable[[], None]], blocks: int, steps: int, on_block=None) -> dict[str, list]:
    """Median step time (s) of each path per block; the paths' order rotates by one each block."""
    names = list(steps_of)
    out = {n: [] for n in names}
    for b in range(blocks):
        order = names[b % len(names):] + names[: b % len(names)]
        for n in order:
            times = []
            for _ in range(steps):
                t = time.perf_counter()
                steps_of[n]()
                times.append(time.perf_counter() - t)
            out[n].append(statistics.median(times))
        if on_block:
            on_block(b)
    return out


def speedups(block_times: dict[str, list], reference: str = "v1") -> dict:
    """Per path: median step (s) and speed-up over ``reference`` (reference time / path time) with its 95 % CI."""
    out = {}
    for n, ts in block_times.items():
        r, lo, hi = ratio_ci(ts, block_times[reference]) if len(ts) >= 2 else (float("nan"),) * 3
        out[n] = {"median_step_s": statistics.median(ts), "speedup": 1 / r, "speedup_ci95": [1 / hi, 1 / lo]}
    return out


def run_detector(detector: str, paths=PATHS, blocks: int = 6, steps: int = 4, check_steps: int = 3, params=None,
                 profile: str = "cpu", progress: bool = False, spec: Optional[dict] = None) -> dict:
    import torch

    torch.set_num_threads(1)
    model, batches = build(detector, n_batches=max(2, check_steps), params=params, profile=profile, spec=spec)
    fns, failed = {}, {}
    for n in paths:
        m, step = make_path(model, n)
        try:
            for _ in range(2):  # warm-up (oneDNN primitives, autocast caches)
                step(batches[0])
                m.zero_grad(set_to_none=True)
        except RuntimeError as e:  # e.g. mmcv's CPU nms takes no bfloat16 boxes: the path does not run this detector
            failed[n] = f"{type(e).__name__}: {str(e).splitlines()[0]}"
            continue
        fns[n] = (lambda m=m, step=step: (step(batches[0]), m.zero_grad(set_to_none=True)))
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=blocks, desc=f"speed: {detector}", unit="block")
    times = interleave(fns, blocks, steps, on_block=(lambda b: bar.update(1)) if bar else None)
    if bar:
        bar.close()
    res = speedups(times)
    for n in fns:
        same, ref, got = keeps_numbers(model, batches, n, check_steps)
        res[n].update(keeps_numbers=same, losses=got, reference_losses=ref)
    res.update({n: {"error": e} for n, e in failed.items()})
    return {"detector": detector, "paths": res, "blocks": blocks, "steps_per_block": steps, "block_times": times}


# ------------------------------------------------------------------ where a run's time goes
# (label, file suffix, function): cumulative seconds of the outermost such call under cProfile, in ``runner.train()``
PROFILE_PARTS = (
    ("data loading and augmentation", "torch/utils/data/dataloader.py", "__next__"),
    ("data preprocessor (batching, normalisation)", "mmdet/models/data_preprocessors/data_preprocessor.py", "forward"),
    ("forward: backbone", "mmdet/models/backbones/resnet.py", "forward"),
    ("forward: neck (FPN)", "mmdet/models/necks/fpn.py", "forward"),
    ("forward: dense head convs", "mmdet/models/dense_heads/anchor_head.py", "forward"),
    ("forward: RoI head (Faster R-CNN)", "mmdet/models/roi_heads/standard_roi_head.py", "loss"),
    ("dense head loss (targets + losses)", "mmdet/models/dense_heads/anchor_head.py", "loss_by_feat"),
    ("  of it: target assignment", "mmdet/models/dense_heads/anchor_head.py", "get_targets"),
    ("  of it: anchor generation", "mmdet/models/dense_heads/anchor_head.py", "get_anchors"),
    ("RPN proposals (Faster R-CNN)", "mmdet/models/dense_heads/base_dense_head.py", "predict_by_feat"),
    ("backward", "torch/autograd/graph.py", "_engine_run_backward"),
    ("optimizer step (with gradient clipping)", "mmengine/optim/optimizer/optimizer_wrapper.py", "step"),
    ("hooks (logging, timers, schedulers, ALWA's bookkeeping)", "mmengine/runner/runner.py", "call_hook"),
)


def profile_run(detector: str, iters: int = 120, warmup: int = 10, params=None, profile: str = "cpu", spec=None) -> dict:
    """One real run of the profile's ``detector`` (1:1 L1, seed 0, 1 thread) for ``warmup + iters`` iterations,
    the last ``iters`` under cProfile, then its test evaluation: seconds per part (:data:`PROFILE_PARTS`), build,
    training and evaluation."""
    import cProfile
    import logging
    import pstats

    import torch
    from mmengine.hooks import Hook
    from mmengine.runner import Runner

    torch.set_num_threads(1)
    spec = spec or _spec(detector, params, profile)
    t0 = time.perf_counter()
    cfg, _ = spec_config(spec)
    cfg.train_cfg.max_iters = warmup + iters
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.work_dir = str(cfg.work_dir) + "_speed"
    cfg.experiment_name = f"speed_{detector}_{time.time_ns()}"
    runner = Runner.from_cfg(cfg)
    logging.getLogger("mmengine").setLevel(logging.WARNING)
    prof = cProfile.Profile()
    marks = {}

    class _Start(Hook):
        def before_train_iter(self, runner, batch_idx, data_batch=None):
            if runner.iter == warmup:
                marks["t"] = time.perf_counter()
                prof.enable()

    runner.register_hook(_Start(), priority="VERY_HIGH")
    t_build = time.perf_counter()
    runner.train()
    prof.disable()
    t_train = time.perf_counter()
    runner.test()
    t_test = time.perf_counter()
    st = pstats.Stats(prof).stats
    parts = {}
    for label, suffix, fn in PROFILE_PARTS:
        # the outermost call of that name in that file (nested ones, e.g. a ResNet block's forward, are inside it)
        secs = max((v[3] for (f, _, name), v in st.items() if name == fn and f.replace("\\", "/").endswith(suffix)), default=0.0)
        if secs:
            parts[label] = secs / iters
    profiled = t_train - marks["t"]
    return {"detector": detector, "iters": iters, "seconds_per_iter": profiled / iters, "parts_s_per_iter": parts,
            "build_s": t_build - t0, "train_s": t_train - t_build, "test_s": t_test - t_train,
            "note": "cProfile adds its own overhead to Python-heavy parts (hooks, target assignment); the torch kernels are timed as they run"}


# ------------------------------------------------------------------ the sweep's layout
def _layout_worker(args) -> float:
    detector, threads, n_steps, params, profile, spec = args
    import torch

    torch.set_num_threads(threads)
    model, batches = build(detector, n_batches=1, params=params, profile=profile, spec=spec)
    _, step = make_path(model, "v1")
    step(batches[0])
    t = time.perf_counter()
    for _ in range(n_steps):
        step(batches[0])
    return time.perf_counter() - t


def layout(detector: str = "retinanet", layout_steps: int = 30, params=None, profile: str = "cpu", spec=None) -> dict:
    """Aggregate steps/s: 2 processes x 1 thread (started together) against 1 process x 2 threads."""
    ctx = mp.get_context("spawn")
    with ctx.Pool(2) as pool:
        two = pool.map(_layout_worker, [(detector, 1, layout_steps, params, profile, spec)] * 2)
    with ctx.Pool(1) as pool:
        one = pool.map(_layout_worker, [(detector, 2, layout_steps, params, profile, spec)])
    per_run_2x1 = max(two) / layout_steps
    return {"detector": detector, "steps": layout_steps, "2x1_steps_per_s": 2 * layout_steps / max(two),
            "1x2_steps_per_s": layout_steps / one[0], "2x1_step_s_per_run": per_run_2x1, "1x2_step_s": one[0] / layout_steps}


def runs_per_hour(step_s_per_run: float, iters: int = 600, workers: int = 2, start_s: float = START_AND_EVAL_S) -> float:
    """Runs per hour of a sweep with ``workers`` concurrent runs of ``iters`` iterations each."""
    return 3600.0 * workers / (iters * step_s_per_run + start_s)


def describe(r: dict) -> str:
    lines = []
    for pr in r.get("profiles", []):
        lines.append(f"{pr['detector']}: {1e3 * pr['seconds_per_iter']:.0f} ms per iteration over {pr['iters']} profiled "
                     f"iterations (build {pr['build_s']:.1f} s, evaluation {pr['test_s']:.1f} s):")
        for label, v in pr["parts_s_per_iter"].items():
            lines.append(f"  {label:58s} {1e3 * v:6.1f} ms  {100 * v / pr['seconds_per_iter']:5.1f} %")
    for d in r["detectors"]:
        lines.append(f"{d['detector']} (median of {d['blocks']} interleaved blocks of {d['steps_per_block']} steps):")
        for n, v in d["paths"].items():
            if "error" in v:
                lines.append(f"  {n:20s} does not run: {v['error']}")
                continue
            lo, hi = v["speedup_ci95"]
            lines.append(f"  {n:20s} {1e3 * v['median_step_s']:7.1f} ms/step  speed-up {v['speedup']:.3f} [{lo:.3f}, {hi:.3f}]  "
                         f"numbers {'kept' if v['keeps_numbers'] else 'CHANGED (a new setting version)'}")
    if r.get("layout"):
        L = r["layout"]
        lines.append(f"layout ({L['detector']}): 2 runs x 1 thread {L['2x1_steps_per_s']:.2f} steps/s in all, "
                     f"1 run x 2 threads {L['1x2_steps_per_s']:.2f} steps/s; sweep with 2 workers: at most "
                     f"{r['runs_per_hour']:.1f} runs/hour of 600 iterations (forward and backward only: data, optimizer "
                     f"and hooks come on top)")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="alwa bench speed", description=__doc__.splitlines()[0])
    ap.add_argument("--detectors", nargs="+", default=list(DETECTORS), choices=DETECTORS)
    ap.add_argument("--paths", nargs="+", default=list(PATHS), choices=PATHS)
    ap.add_argument("--blocks", type=int, default=6)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--check-steps", type=int, default=3)
    ap.add_argument("--layout", action="store_true", help="also time the sweep's process/thread layout (about a minute)")
    ap.add_argument("--layout-steps", type=int, default=30)
    ap.add_argument("--profile-iters", type=int, default=0,
                    help="also profile a real run of each detector for this many iterations (cProfile), e.g. 120")
    add_profile_options(ap, results=False)
    ap.add_argument("--json", default=None, help="write the record here (e.g. results/cpu/bench/speed.json)")
    a = ap.parse_args(argv)
    for k in ("blocks", "steps", "check_steps", "layout_steps"):
        if getattr(a, k) < (2 if k == "blocks" else 1):
            ap.error(f"--{k.replace('_', '-')} must be >= {2 if k == 'blocks' else 1}")
    if a.profile_iters < 0:  # checked before the benchmark runs (it ended in a pstats traceback after it)
        ap.error(f"--profile-iters must be >= 0 (0: no profile), got {a.profile_iters}")
    paths = ["v1", *[p for p in a.paths if p != "v1"]]
    r = {"detectors": [run_detector(d, paths, a.blocks, a.steps, a.check_steps, a.params, a.profile, progress=True)
                       for d in a.detectors], "provenance": provenance()}
    if a.profile_iters:
        r["profiles"] = [profile_run(d, a.profile_iters, params=a.params, profile=a.profile) for d in a.detectors]
    if a.layout:
        r["layout"] = layout(layout_steps=a.layout_steps, params=a.params, profile=a.profile)
        r["runs_per_hour"] = runs_per_hour(r["layout"]["2x1_step_s_per_run"])
    print(describe(r))
    if a.json:
        write_json_atomic(a.json, r)
