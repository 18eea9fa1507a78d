#!/usr/bin/env python
"""Generate the synthetic mini VOC dataset (deterministic by seed).

    python data_scripts/make_mini_voc.py --out data/mini_voc [--n-trainval 1200 --n-test 300 --seed 0]

Writes VOCdevkit/VOC2012 (trainval) and VOCdevkit/VOC2007 (test) in the real
PASCAL VOC layout; see alwa.data.synthetic for what is drawn and how the
annotation flags are decided. Skips the work if the same dataset is there; refuses a folder holding
anything else (a real VOC root, say) and, without --force, a set made with other options.
"""
import sys

from alwa.cli import main

if __name__ == "__main__":
    main(["data", "make-mini-voc", *sys.argv[1:]])
