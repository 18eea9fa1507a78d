#!/usr/bin/env python
"""One calibration run of the mini setting; prints mAP, iterations and train time.

    python tools/calibrate.py NAME --threads 1 --data-dir data/mini_voc \\
        --dataset '{"clutter": 0.5}' --pretrain '{"steps": 1500}' --setting '{"img_scale": [160, 160], "iters": 700}'

The runs behind the mini setting's choices are listed in book/data/tuning_runs.yaml.
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data-dir", default="data/mini_voc")
    ap.add_argument("--work-root", default="work_dirs/calibrate")
    ap.add_argument("--dataset", default="{}")
    ap.add_argument("--pretrain", default="{}")
    ap.add_argument("--setting", default="{}")
    a = ap.parse_args()
    import torch

    torch.set_num_threads(a.threads)
    from alwa.mmdet.run import run_spec

    r = run_spec(dict(name=a.name, seed=a.seed, work_root=a.work_root, data_dir=a.data_dir, dataset=json.loads(a.dataset),
                      pretrain=json.loads(a.pretrain), setting=json.loads(a.setting)))
    print(json.dumps({k: r[k] for k in ("name", "seed", "mAP", "iters", "train_seconds", "wall_seconds", "threads")}))


if __name__ == "__main__":
    main()
