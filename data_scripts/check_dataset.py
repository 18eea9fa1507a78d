#!/usr/bin/env python
"""Check a dataset: images per split, objects per class, box size/aspect histograms, problems.

    python data_scripts/check_dataset.py --voc data/mini_voc [--plot out.png] [--json out.json]
    python data_scripts/check_dataset.py --coco data/coco/annotations/instances_val2017.json --images data/coco/val2017

Exits 1 when an image is unreadable, a box lies outside its image or is degenerate, or an annotation is malformed
(no <size>, <bndbox> or <name>; NaN or non-numeric coordinates).
"""
import sys

from alwa.cli import main

if __name__ == "__main__":
    main(["data", "check", *sys.argv[1:]])
