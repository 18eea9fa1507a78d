#!/usr/bin/env python
"""Download, verify (MD5) and extract PASCAL VOC 2007+2012 or COCO 2017.

    python data_scripts/download.py voc  --root data [--dry-run] [--mirror URL] [--delete-archives]
    python data_scripts/download.py coco --root data

Resumable (rerun after an interruption continues the partial file),
idempotent (verified and extracted archives are skipped), refuses archive
members that would escape the target. Result: data/VOCdevkit/VOC{2007,2012},
data/coco/{train2017,val2017,annotations}.
"""
import sys

from alwa.cli import main

if __name__ == "__main__":
    main(["data", "download", *sys.argv[1:]])
