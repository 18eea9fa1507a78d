"""Tiny mmdet runs for the tests of alwa.mmdet and alwa.bench: a config of 12 iterations on 128-px images, the run's
ALWA hook and the logged scalars."""

import json
import os
from pathlib import Path

from alwa.mmdet.configs import MiniSetting, build_config
from alwa.mmdet.hook import ALWAHook

ROOT = Path(__file__).resolve().parents[2]
ITERS, C = 12, 4


def tiny_cfg(name, data_root, work_dir, iters=ITERS, **setting):
    # the paper's RetinaNet head (std-0.01 convs, no GroupNorm): with it the classification loss of these
    # 12-iteration runs exceeds the regression loss, so ALWA's weight moves and the tests are not vacuous
    setting = {"head_init": "normal", "head_norm": None, **setting}
    st = MiniSetting(iters=iters, batch_size=2, img_scale=(128, 128), interval=C, warmup_iters=2, **setting)
    cfg = build_config(name, data_root=data_root, setting=st, work_dir=str(work_dir))
    cfg.experiment_name = f"{name}_{Path(work_dir).parent.name}_{Path(work_dir).name}_{os.getpid()}"
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.visualization = dict(type="DetVisualizationHook")
    cfg.log_processor = dict(type="LogProcessor", window_size=1, by_epoch=False)
    return cfg


def alwa_hook(runner):
    hooks = [h for h in runner.hooks if isinstance(h, ALWAHook)]
    assert len(hooks) == 1
    return hooks[0]


def scalars(work_dir):
    files = sorted(Path(work_dir).rglob("vis_data/scalars.json"))
    assert files, f"no scalars.json under {work_dir}"
    rows = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    return [r for r in rows if "alwa_cls_weight" in r]
