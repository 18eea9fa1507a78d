"""Plain-text and Markdown renderings of the analysis layer's records: sweep status, targets."""

from __future__ import annotations


def format_targets(rows: list[dict]) -> str:
    """:func:`target_check` as plain-text lines."""
    word = {True: "met", False: "MISSED", None: "not yet known"}
    return "\n".join(f"target: {r['target']} {r['goal']}: {r['measured']} -> {word[r['met']]}" for r in rows)


def format_status(st: dict) -> str:
    """:func:`sweep_status` as a plain-text table."""
    lines = [f"{'part':<10}{'done':>6}{'/':1}{'planned':<8}{'failed':>7}{'compute h':>11}{'to go h':>9}"]
    for name, r in list(st["parts"].items()) + [("total", st["total"])]:
        rem = "?" if r["remaining_s"] is None else f"{r['remaining_s'] / 3600:.2f}"
        lines.append(f"{name:<10}{r['done']:>6}/{r['planned']:<8}{r['failed']:>7}{r['compute_s'] / 3600:>11.2f}{rem:>9}")
    t = st["total"]
    rem = ("time to go unknown (a detector has no finished run yet)" if t["remaining_wall_h"] is None
           else f"about {t['remaining_wall_h']:.2f} h to go")
    lines.append(f"compute h = sum of the runs' wall seconds; with {st['workers']} worker(s): {t['wall_h']:.2f} h of wall time so far, {rem} "
                 f"(mean s per run: " + ", ".join(f"{d} {s:.0f}" for d, s in sorted(st["mean_wall_s"].items())) + ")")
    return "\n".join(lines)


def comparison_table(rows):
    """The paired comparisons (:class:`alwa.analysis.records.Comparison`) as a DataFrame a reader can scan: the
    difference in points with its 95 % interval, n, the seeds dropped as unpaired and the detectable effect in
    points, without an index column."""
    import math

    import pandas as pd

    def pts(v):
        return round(100 * v, 2) if isinstance(v, float) and math.isfinite(v) else None

    out = []
    for r in rows:
        d = r.diff
        diff = (f"{100 * d.mean:+.2f} [{100 * d.lo:+.2f}, {100 * d.hi:+.2f}]" if math.isfinite(d.lo) else
                f"{100 * d.mean:+.2f}" if math.isfinite(d.mean) else "no pair")
        ctx = {k: getattr(r, k) for k in ("regime", "detector", "clipping") if getattr(r, k) is not None}
        out.append({**ctx, "loss": r.loss or "", "comparison": r.label, "diff (pts) [95 % CI]": diff, "n": d.n,
                    "pairs dropped": r.dropped, "detectable (pts)": pts(r.mde), "verdict": r.verdict})
    return pd.DataFrame(out).style.hide(axis="index").format(precision=2, na_rep="-")
