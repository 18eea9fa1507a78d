"""ALWAHook on MMDetection's stock detectors, stored as a record: ``alwa bench detectors``.

    alwa bench detectors [--detectors RetinaNet GFL ...] [--iterations 2] [--json results/mmdet/detectors.json]

Runs :func:`alwa.mmdet.detectors.check_detector` on each stock detector (all of
:data:`alwa.mmdet.detectors.STOCK_DETECTORS` by default; a few minutes on two cores), prints one line per detector as
it finishes and, with ``--json``, writes the record the book's mmdet page renders: ``{"detectors": [DetectorCheck
as a dict, ...], "provenance": {...}}``. It exits with status 1 when any detector fails its check.
"""

from __future__ import annotations

import argparse
import sys

from alwa.core.files import provenance, write_json_atomic
from alwa.core.checks import DETECTOR_RECORD as RECORD
from alwa.core.checks import DetectorCheck
from alwa.mmdet.detectors import STOCK_DETECTORS, check_detectors, find_detectors


def describe(row: DetectorCheck) -> str:
    """One line: the detector, the verdict, the weighted keys (or the error) and the seconds it took."""
    if row.error is not None:
        return f"{row.detector}: FAILED ({row.error}) [{row.seconds:.0f} s]"
    verdict = "ok" if row.ok else (f"CHANGED (weight 1: max |diff| {row.identity_max_abs_diff:g}; "
                                    f"fixed weights: max |err| {row.scaled_max_abs_err:g})")
    return (f"{row.detector}: {verdict}; head {row.head} ({row.head_type}) weighs {list(row.cls_keys)} against "
            f"{list(row.reg_keys)}, leaves {list(row.untouched)} [{row.seconds:.0f} s]")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="alwa bench detectors", description=__doc__.splitlines()[0])
    ap.add_argument("--detectors", nargs="+", default=None, metavar="NAME",
                    help=f"by name (default: all): {', '.join(d.name for d in STOCK_DETECTORS)}")
    ap.add_argument("--iterations", type=int, default=2, help="SGD steps of the weight-1 comparison (default 2)")
    ap.add_argument("--json", default=None, help=f"write the record here (e.g. {RECORD})")
    a = ap.parse_args(argv)
    if a.iterations < 1:
        ap.error("--iterations must be >= 1")
    detectors = find_detectors(a.detectors) if a.detectors else list(STOCK_DETECTORS)
    try:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(detectors), desc="stock detectors", unit="detector", file=sys.stderr)
    except ImportError:  # pragma: no cover - tqdm is a dependency
        bar = None

    def progress(row: DetectorCheck) -> None:
        (bar.write if bar is not None else print)(describe(row))
        if bar is not None:
            bar.update(1)

    rows = check_detectors(detectors, a.iterations, progress=progress)
    if bar is not None:
        bar.close()
    if a.json:
        write_json_atomic(a.json, {"detectors": [r.as_dict() for r in rows], "provenance": provenance()})
        print(f"wrote {a.json}")
    failed = [r.detector for r in rows if not r.ok]
    if failed:
        sys.exit(f"alwa bench detectors: {len(failed)} of {len(rows)} failed: {', '.join(failed)}")
