"""The data commands (``alwa data make-mini-voc | check | download``); ``data_scripts/*.py`` call them."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from alwa.data.synthetic import CLASSES, DatasetFolderError, MiniVOCOptions, ensure, generate
from alwa.data.check import check_coco, check_voc
from alwa.report.plots import plot_report
from alwa.data.download import DATASETS, ChecksumError, MissingArchiveError, UnsafeArchiveError, prepare, with_mirror


# ------------------------------------------------------------------ alwa data make-mini-voc


def make_mini_voc_main(argv=None):
    """Generate the synthetic mini VOC dataset (deterministic by seed)."""
    d = MiniVOCOptions()
    p = argparse.ArgumentParser(prog='alwa data make-mini-voc', description='Generate the synthetic mini VOC dataset (deterministic by seed).')
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


# ------------------------------------------------------------------ alwa data check


def check_dataset_main(argv=None):
    """Check a dataset: images per split, objects per class, box size/aspect histograms, problems."""
    p = argparse.ArgumentParser(prog='alwa data check', description='Check a dataset: images per split, objects per class, box size/aspect histograms, problems.')
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--voc", help="root holding VOCdevkit/ (or the VOCdevkit folder itself)")
    g.add_argument("--coco", help="a COCO annotation json")
    p.add_argument("--images", help="image folder for --coco")
    p.add_argument("--no-read", action="store_true", help="do not decode the images (faster)")
    p.add_argument("--plot", help="write the four-panel figure here (png)")
    p.add_argument("--json", help="write the summary here")
    a = p.parse_args(argv)
    if a.voc:
        rep = check_voc(a.voc, read_images=not a.no_read, progress=True)
    else:
        rep = check_coco(a.coco, a.images, read_images=not a.no_read and a.images is not None)
    summ = rep.summary()
    for split, s in summ["splits"].items():
        print(f"{split}: {s['images']} images, {s['objects']} objects ({s['difficult']} difficult/crowd), "
              f"box size median {s['box_size_px']['median']}")
        print("   per class:", s["objects_per_class"])
    print("problems:", summ["counts"])
    for kind in ("unreadable", "outside", "degenerate", "malformed"):
        for row in summ[kind][:10]:
            print(f"  {kind}: {row}")
    if a.plot:
        plot_report(rep, a.plot)
        print("figure:", a.plot)
    if a.json:
        Path(a.json).write_text(json.dumps(summ, indent=1))
    sys.exit(0 if rep.ok else 1)


# ------------------------------------------------------------------ alwa data download


def download_main(argv=None):
    """Download, verify (MD5) and extract PASCAL VOC 2007+2012 or COCO 2017."""
    p = argparse.ArgumentParser(prog='alwa data download', description='Download, verify (MD5) and extract PASCAL VOC 2007+2012 or COCO 2017.')
    p.add_argument("dataset", choices=sorted(DATASETS))
    p.add_argument("--root", default="data")
    p.add_argument("--dry-run", action="store_true", help="list what would be fetched and where; change nothing")
    p.add_argument("--mirror", default=None, help="base URL replacing the official host")
    p.add_argument("--delete-archives", action="store_true", help="delete each archive after extraction")
    a = p.parse_args(argv)
    try:
        prepare(a.root, with_mirror(DATASETS[a.dataset], a.mirror), dry_run=a.dry_run, keep_archives=not a.delete_archives)
    except (ChecksumError, MissingArchiveError, UnsafeArchiveError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
