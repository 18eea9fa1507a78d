#!/usr/bin/env python
"""Download, verify (MD5) and extract PASCAL VOC 2007+2012 or COCO 2017.

    python data_scripts/download.py voc  --root data [--dry-run] [--mirror URL] [--delete-archives]
    python data_scripts/download.py coco --root data

Resumable (rerun after an interruption continues the partial file),
idempotent (verified and extracted archives are skipped), refuses archive
members that would escape the target. Result: data/VOCdevkit/VOC{2007,2012},
data/coco/{train2017,val2017,annotations}.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from alwa.data.download import DATASETS, ChecksumError, MissingArchiveError, UnsafeArchiveError, prepare, with_mirror  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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


if __name__ == "__main__":
    main()
