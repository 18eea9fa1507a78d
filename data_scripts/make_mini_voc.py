#!/usr/bin/env python
"""Generate the synthetic mini VOC dataset (deterministic by seed).

    python data_scripts/make_mini_voc.py --out data/mini_voc [--n-trainval 1200 --n-test 300 --seed 0]

Writes VOCdevkit/VOC2012 (trainval) and VOCdevkit/VOC2007 (test) in the real
PASCAL VOC layout; see alwa.data.synthetic for what is drawn and how the
annotation flags are decided. Skips the work if the same dataset is there; refuses a folder holding
anything else (a real VOC root, say) and, without --force, a set made with other options.
"""
import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from alwa.data.synthetic import CLASSES, DatasetFolderError, MiniVOCOptions, ensure, generate  # noqa: E402


def main(argv=None):
    d = MiniVOCOptions()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="data/mini_voc")
    p.add_argument("--n-trainval", type=int, default=d.n_trainval)
    p.add_argument("--n-test", type=int, default=d.n_test)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--min-size", type=int, default=d.image_size[0])
    p.add_argument("--max-size", type=int, default=d.image_size[1])
    p.add_argument("--max-objects", type=int, default=d.max_objects)
    p.add_argument("--clutter", type=float, default=d.clutter)
    p.add_argument("--classes", nargs="+", default=list(CLASSES), choices=CLASSES)
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--force", action="store_true", help="regenerate even if a dataset (of these or other options) exists there")
    a = p.parse_args(argv)
    opts = MiniVOCOptions(n_trainval=a.n_trainval, n_test=a.n_test, seed=a.seed, image_size=(a.min_size, a.max_size),
                          max_objects=a.max_objects, clutter=a.clutter, classes=tuple(a.classes))
    t = time.time()
    try:
        if a.force:
            generate(a.out, opts, workers=a.workers, force=True)
        else:
            ensure(a.out, opts, workers=a.workers)
    except DatasetFolderError as e:
        sys.exit(f"error: {e}")
    man = json.loads((Path(a.out) / "VOCdevkit" / "mini_voc.json").read_text())
    print(f"{a.out}: {man['splits']} classes={man['classes']} ({time.time() - t:.1f} s)")


if __name__ == "__main__":
    main()
