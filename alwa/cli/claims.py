"""``alwa claims --profile P``: write the claim store and the result tables from the run and benchmark records
(:mod:`alwa.report.store`); ``alwa book`` runs it before the notebooks, which only read them."""

from __future__ import annotations

import argparse
import sys

from alwa.report import store
from alwa.runs.profile import ProfileError, add_profile_options, load_profile


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="alwa claims", description=__doc__)
    add_profile_options(ap)
    ap.add_argument("--source", default=".", help="the checkout holding book/data/paper_tables.yaml (default: here)")
    a = ap.parse_args(argv)
    try:
        p = load_profile(a.profile, a.params, a.results)
    except ProfileError as e:
        sys.exit(f"error: {e}")
    files = store.build(p, a.source)
    for path, wrote in files:
        print(f"{'wrote' if wrote else 'unchanged'} {path}")
    print(f"{sum(w for _, w in files)} of {len(files)} files written")
