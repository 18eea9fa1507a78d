#!/usr/bin/env python
"""Write book/data/mmdet_log_excerpt.txt from a real short run of a mini RetinaNet
with ALWA-1 (C = 4): the hook line and mmengine's log lines with the weights."""
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main():
    from mmengine.runner import Runner

    from alwa.data import synthetic
    from alwa.mmdet.configs import MiniSetting, build_config

    with tempfile.TemporaryDirectory() as tmp:
        synthetic.generate(tmp, synthetic.MiniVOCOptions(n_trainval=32, n_test=4, seed=2), workers=1, progress=False)
        st = MiniSetting(iters=16, batch_size=4, img_scale=(160, 160), interval=4, warmup_iters=2)
        cfg = build_config("retinanet_r18w16_mini_l1_alwa1", data_root=f"{tmp}/VOCdevkit/", setting=st, work_dir=f"{tmp}/work")
        cfg.default_hooks.logger.interval = 2
        cfg.log_processor = dict(type="LogProcessor", window_size=1, by_epoch=False)
        Runner.from_cfg(cfg).train()
        log = next(Path(f"{tmp}/work").rglob("*.log")).read_text().splitlines()
    keep = [re.sub(r"^\S+ \S+ - mmengine - INFO - ", "", line) for line in log
            if "ALWAHook" in line or ("Iter(train)" in line and "alwa_cls_weight" in line)]
    keep = [re.sub(r"\s+eta: \S+\s+time: \S+\s+data_time: \S+", "", k) for k in keep]
    (ROOT / "book" / "data" / "mmdet_log_excerpt.txt").write_text("\n".join(keep) + "\n")
    print("\n".join(keep))


if __name__ == "__main__":
    main()
