"""Run one experiment (a config name x a seed) through mmengine's Runner and
return a result record: VOC mAP, per-iteration raw losses and weights, the
ALWA window history (mean/std per C iterations: figures 3 and 6), wall time,
versions, hardware, config hash and seed.

Used by :mod:`alwa.runs.sweep` in worker processes; ``run_spec`` is the entry point.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import uuid
from dataclasses import fields
from pathlib import Path

import numpy as np
import torch
from mmengine.runner import Runner

from alwa.core.experiment import RunSpec
from alwa.core.files import provenance
from alwa.core.settings import MiniSetting, MiniVOCOptions, PretrainOptions
from alwa.data.synthetic import ensure
from alwa.mmdet.configs import build_config
from alwa.mmdet.fingerprint import FingerprintHook, fingerprints
from alwa.mmdet.hook import ALWAHook
from alwa.mmdet.pretrain import ensure_pretrained


def _round(xs, digits: int = 6) -> list:
    return [float(f"{x:.{digits}g}") for x in xs]


def prepare_mini_data(data_dir: str, dataset: dict | None = None, pretrain: dict | None = None,
                      progress: bool = False) -> tuple[str, str]:
    """Generate (or reuse) the synthetic set and the pre-trained backbone; return (voc root, checkpoint)."""
    opts = MiniVOCOptions(**(dataset or {}))
    ensure(data_dir, opts, progress=progress)
    voc = str(Path(data_dir) / "VOCdevkit")
    ck = ensure_pretrained(voc, opts.classes, cache_dir=str(Path(data_dir).parent / "pretrained"),
                           opts=PretrainOptions(**(pretrain or {})), progress=progress)
    return voc + "/", str(ck)


def _check_setting_types(overrides: dict) -> None:
    """Refuse a spec's setting value of the wrong kind with one line naming the key (``iters: 'abc'`` ended in a bare
    TypeError deep in the config): a whole number where the setting's default is one, a number where it is a float,
    true/false where it is a bool, a list where it is a tuple."""
    defaults = MiniSetting()
    for k, v in overrides.items():
        d = getattr(defaults, k, None)
        if d is None:
            continue
        if isinstance(d, bool):
            ok, want = isinstance(v, bool), "true or false"
        elif isinstance(d, int):
            ok, want = isinstance(v, int) and not isinstance(v, bool), "a whole number"
        elif isinstance(d, float):
            ok, want = isinstance(v, (int, float)) and not isinstance(v, bool), "a number"
        elif isinstance(d, tuple):
            ok, want = isinstance(v, tuple), "a list"
        elif isinstance(d, str):
            ok, want = isinstance(v, str), "a string"
        else:
            continue
        if not ok:
            raise ValueError(f"the spec's setting.{k} must be {want}, got {v!r} ({type(v).__name__})")


def spec_config(spec: "RunSpec | dict"):
    """The mmengine Config of a spec (a :class:`RunSpec` or its mapping) and its hash (``config_hash`` of the
    result record): everything :func:`run_spec` trains with, before the per-run unique name is set."""
    spec = RunSpec.of(spec)
    exp, seed = spec.experiment, spec.seed
    work_dir = Path(spec.get("work_root", "work_dirs")) / spec.key
    if exp.dataset == "mini":
        data_root, ckpt = prepare_mini_data(spec.get("data_dir", "data/mini_voc"), spec.get("dataset"), spec.get("pretrain"))
        known = {f.name for f in fields(MiniSetting)}
        unknown = sorted(set(spec.get("setting") or {}) - known)
        if unknown:  # never dropped silently: the spec (and the run's key) would record a setting that did not act
            raise ValueError(f"unknown MiniSetting key(s) {unknown} in the spec's setting; known: {sorted(known)}")
        overrides = {k: (tuple(v) if isinstance(v, list) else v) for k, v in (spec.get("setting") or {}).items()}
        _check_setting_types(overrides)
        if "classes" not in overrides and (spec.get("dataset") or {}).get("classes"):
            overrides["classes"] = tuple(spec.get("dataset")["classes"])  # the model predicts the data set's classes
        neck = int((spec.get("pretrain") or {}).get("neck", PretrainOptions().neck))
        if neck and "pretrained_neck" not in overrides:
            if neck != overrides.get("fpn_channels", MiniSetting().fpn_channels):
                raise ValueError(f"pretrain neck={neck} must equal the setting's fpn_channels to load the pre-trained FPN")
            overrides["pretrained_neck"] = True
        setting = MiniSetting(pretrained=ckpt, **overrides)
        cfg = build_config(exp, data_root=data_root, setting=setting, work_dir=str(work_dir), seed=seed)
    else:
        cfg = build_config(exp, data_root=spec.get("data_root"), work_dir=str(work_dir), seed=seed, **(spec.get("paper") or {}))
    cfg.log_level = spec.get("log_level", "WARNING")
    cfg.default_hooks.checkpoint = dict(type="CheckpointHook", interval=10**9, by_epoch=False, save_last=spec.get("save_checkpoint", False))
    if spec.get("max_iters") is not None:
        cfg.train_cfg.max_iters = spec.get("max_iters")
    if cfg.train_cfg.get("type") == "IterBasedTrainLoop":
        cfg.train_cfg.val_interval = 10**9  # evaluate once, after training (runner.test below)
    return cfg, hashlib.sha256(cfg.pretty_text.encode()).hexdigest()[:16]


def _train_root(cfg) -> str | None:
    """The VOC root holding the training split (VOC2012/...) of a config, or None."""
    ds = cfg.train_dataloader.dataset
    ds = ds.get("dataset", ds)  # a wrapper (RepeatDataset, ...)
    root = ds.get("data_root")
    return str(root) if root else None


def _pretrained_path(cfg) -> str | None:
    init = cfg.model.backbone.get("init_cfg") or {}
    ck = init.get("checkpoint") if isinstance(init, dict) else None
    return ck if ck and Path(ck).exists() else None


def run_spec(spec: "RunSpec | dict") -> dict:
    """Train and evaluate one spec (a :class:`RunSpec`, or the mapping it is written as).

    Its overrides: ``work_root``; for the mini
    setting ``data_dir``, ``dataset`` (MiniVOCOptions overrides), ``pretrain``
    (PretrainOptions overrides), ``setting`` (MiniSetting overrides); for the
    paper's settings ``data_root`` and ``paper`` (paper_config keywords). The model is
    evaluated once, on the test split, after training; ``validate=True`` keeps the
    config's validation loop as well.
    """
    t0 = time.time()
    spec = RunSpec.of(spec)
    exp, seed = spec.experiment, spec.seed
    cfg, config_hash = spec_config(spec)  # the hash before the per-run unique name
    cfg.experiment_name = f"{spec.key}_{uuid.uuid4().hex[:8]}"
    if not spec.get("validate", False):
        # runner.test() below evaluates the test split once. mmengine's IterBasedTrainLoop validates at its last
        # iteration whatever val_interval says, and the paper configs' epoch loop after epoch 12, on the same split:
        # a second, identical evaluation (~3 % of a mini run). Dropped after hashing, so hashes stay comparable.
        cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None

    runner = Runner.from_cfg(cfg)
    prints = FingerprintHook()
    runner.register_hook(prints)
    logging.getLogger("mmengine").setLevel(logging.WARNING)
    t_train = time.time()
    runner.train()
    train_seconds = time.time() - t_train
    metrics = runner.test()
    hook = next(h for h in runner.hooks if isinstance(h, ALWAHook))
    hub = runner.message_hub

    def series(key):
        try:
            return _round(np.asarray(hub.get_scalar(f"train/{key}").data[0], dtype=float))
        except KeyError:
            return []

    n = hook.weighter.interval
    return {
        "name": exp.name,
        "seed": seed,
        "experiment": {"detector": exp.detector, "backbone": exp.backbone, "dataset": exp.dataset, "reg_loss": exp.reg_loss,
                       "weighting": exp.weighting, "cls_weight": exp.cls_weight, "reg_weight": exp.reg_weight,
                       "interval": n, "detrend": exp.detrend, "lr": exp.lr, "iters": exp.iters, "clip": exp.clip},
        "metrics": {k.split("/")[-1]: float(v) for k, v in metrics.items()},
        "mAP": float(next((v for k, v in metrics.items() if k.endswith("mAP")), float("nan"))),
        "iters": int(runner.iter),
        "per_iter": {"cls_raw": series("alwa_cls_raw"), "reg_raw": series("alwa_reg_raw"), "cls_weight": series("alwa_cls_weight"),
                     "loss": series("loss"), "lr": series("lr"),
                     # the global gradient norm of each iteration, before clipping (mmengine's clip_grad_norm_ result)
                     "grad_norm": series("grad_norm")},
        "peak_lr": max(series("lr"), default=None),
        "windows": [h.as_dict() for h in hook.weighter.history],
        "weight_trajectory": [h.cls_weight for h in hook.weighter.history],
        "final_weights": list(hook.weighter.weights),
        "train_seconds": train_seconds,
        "wall_seconds": time.time() - t0,
        "threads": torch.get_num_threads(),
        "config_hash": config_hash,
        "fingerprints": fingerprints(prints, _train_root(cfg), _pretrained_path(cfg)),
        "provenance": provenance(),
        "pid": os.getpid(),
    }
