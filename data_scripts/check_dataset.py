#!/usr/bin/env python
"""Check a dataset: images per split, objects per class, box size/aspect histograms, problems.

    python data_scripts/check_dataset.py --voc data/mini_voc [--plot out.png] [--json out.json]
    python data_scripts/check_dataset.py --coco data/coco/annotations/instances_val2017.json --images data/coco/val2017

Exits 1 when an image is unreadable, a box lies outside its image or is degenerate, or an annotation is malformed
(no <size>, <bndbox> or <name>; NaN or non-numeric coordinates).
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from alwa.data.check import check_coco, check_voc, plot_report  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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


if __name__ == "__main__":
    main()
