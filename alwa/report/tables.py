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

