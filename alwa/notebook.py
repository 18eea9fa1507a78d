"""Helpers that keep the notebooks thin: profile labels, running a sweep of a
notebook's specs, the paper's tables, claim records, and figures of runs."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import yaml

from .results import read_json, results_dir, write_json_atomic
from .sweep import load_failures, load_results, run_sweep, spec_key

ROOT = Path(__file__).resolve().parents[1]
PAPER_TABLES = ROOT / "book" / "data" / "paper_tables.yaml"


class Text(str):
    """A string that displays without quotes, for ``glue`` into prose (``{glue:text}``):
    a plain ``str`` glues as its repr, ``'like this'``."""

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))

    def __repr__(self):
        return str(self)


NOTEBOOK_PARAMETERS = ("profile", "params_file", "results_root", "max_runs", "overrides")


def _injected_names() -> list[str]:
    """Names papermill injected (its ``# Parameters`` cell) in this kernel's history; [] outside IPython."""
    import ast

    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return []
    ip = get_ipython()
    if ip is None:
        return []
    names = []
    for src in ip.user_ns.get("In", []):
        if src.lstrip().startswith("# Parameters"):  # papermill's injected-parameters cell
            try:
                tree = ast.parse(src)
            except SyntaxError:
                continue
            names = [t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)]
    return names


def start(profile: str, params_file=None, results_root="results", max_runs=None, overrides=None) -> dict:
    """The first step of every notebook: refuse a parameter the notebook does not have (a typo such as
    ``-p retina_seed 5`` would otherwise be injected and ignored), then load and check the profile
    (:func:`alwa.profile.load_profile`). Returns the profile's parameters."""
    import difflib

    from .profile import TOP, ProfileError, load_profile

    unknown = [n for n in _injected_names() if n not in NOTEBOOK_PARAMETERS]
    if unknown:
        hints = []
        for n in unknown:
            close = difflib.get_close_matches(n, list(TOP), n=1, cutoff=0.6)
            hints.append(f"{n!r}" + (f" (a profile key like {close[0]!r} goes in overrides: -y 'overrides: {{{close[0]}: ...}}')"
                                      if close else ""))
        raise ProfileError(f"this notebook has no parameter {', '.join(hints)}; its parameters: {', '.join(NOTEBOOK_PARAMETERS)}")
    return load_profile(profile, params_file, results_root, max_runs, overrides)


def profile_label(profile: str) -> str:
    return "SMOKE RUN - not evidence" if profile == "smoke" else f"profile {profile}"


def paper_tables() -> dict:
    """The paper's numbers (a copy of shared/paper/tables.yaml kept in the project)."""
    return yaml.safe_load(PAPER_TABLES.read_text())


def run_and_load(specs: list, p: dict, desc: str) -> tuple[list, list]:
    """Run the pending specs of a notebook (resumable) and load every result."""
    out = results_dir(p["results_root"], p["profile"], "runs")
    devices = p.get("devices")
    summary = run_sweep(specs, out, workers=int(p.get("workers", 1)), threads=int(p.get("threads", 1)),
                        devices=devices, desc=desc, max_runs=p.get("max_runs"), runs_per_device=int(p.get("runs_per_device", 1)))
    for line in summary.get("problems", []):
        print(f"warning: {line}")
    print(f"{desc}: {len(summary['done'])} run now, {summary['skipped']} already done, {len(summary['failed'])} failed")
    results = load_results(out, specs)
    keys = {spec_key(s) for s in specs}
    failures = [f for f in load_failures(out) if spec_key(f["spec"]) in keys]
    missing = len(keys) - len(results)
    if missing:
        print(f"{missing} of {len(keys)} runs have no result yet (failed: {len(failures)}); tables below use what exists")
    return results, failures


def save_claims(p: dict, part: str, claims: dict) -> Path:
    """Claim records ({'C3': {...}, ...}) for the claims table of the book."""
    path = results_dir(p["results_root"], p["profile"], "claims") / f"{part}.json"
    write_json_atomic(path, {"profile": p["profile"], "claims": claims})
    return path


def load_claims(results_root, profile: str) -> dict:
    out = {}
    d = Path(results_root) / profile / "claims"
    for f in sorted(d.glob("*.json")) if d.exists() else []:
        out.update(read_json(f)["claims"])
    return out


def fmt_ci(mean: float, lo: float, hi: float, scale: float = 100.0, digits: int = 2) -> str:
    """'75.17 [74.9, 75.4]' in points (scale 100) or as given."""
    if mean is None or not math.isfinite(mean):
        return "n/a"
    if lo is None or not math.isfinite(lo):
        return f"{mean * scale:.{digits}f}"
    return f"{mean * scale:.{digits}f} [{lo * scale:.{digits}f}, {hi * scale:.{digits}f}]"


def plot_curves(results: list, names: list, window: int, title: str, path: Optional[str] = None, labels: Optional[dict] = None):
    """Figures 3 / 6: mean (top) and std (bottom) of the weighted classification
    (dashed) and regression (solid) losses per ``window`` iterations, one column per name
    (seeds averaged)."""
    import matplotlib.pyplot as plt
    import numpy as np

    from .experiments import window_curves

    fig, axes = plt.subplots(2, len(names), figsize=(4.2 * len(names), 6), squeeze=False, sharex=True)
    for j, name in enumerate(names):
        runs = [r for r in results if r["name"] == name]
        if not runs:
            axes[0, j].set_title(f"{name}\n(no runs yet)", fontsize=8)
            continue
        curves = [window_curves(r, window) for r in runs]
        it = curves[0]["iter"]
        for row, stat in enumerate(("mean", "std")):
            ax = axes[row, j]
            for task, style, colour in (("cls", "--", "tab:red"), ("reg", "-", "tab:blue")):
                y = np.mean([c[f"{task}_{stat}"] for c in curves], axis=0)
                ax.plot(it, y, ls=style, color=colour, label=f"{'classification' if task == 'cls' else 'regression'}")
            ax.set_ylabel(f"{stat} per {window} iters")
            if row == 0:
                ax.set_title((labels or {}).get(name, name) + f"\n({len(runs)} seeds)", fontsize=8)
            if row == 1:
                ax.set_xlabel("iteration")
    if any(ax.get_legend_handles_labels()[0] for ax in axes[0]):
        next(ax for ax in axes[0] if ax.get_legend_handles_labels()[0]).legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=110, bbox_inches="tight")
    return fig


def plot_trajectories(results: list, names: list, title: str, path: Optional[str] = None):
    """ALWA's classification weight per iteration, every seed (thin) and their mean (thick)."""
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.2), squeeze=False, sharey=True)
    for j, name in enumerate(names):
        ax = axes[0, j]
        runs = [r for r in results if r["name"] == name]
        ys = [r["per_iter"]["cls_weight"] for r in runs if r["per_iter"]["cls_weight"]]
        for y in ys:
            ax.plot(np.arange(1, len(y) + 1), y, lw=0.7, alpha=0.5)
        if ys:
            n = min(len(y) for y in ys)
            ax.plot(np.arange(1, n + 1), np.mean([y[:n] for y in ys], 0), lw=2, color="black", label="mean")
        ax.set_title(name, fontsize=8)
        ax.set_xlabel("iteration")
        ax.axhline(1.0, color="grey", lw=0.5)
    axes[0, 0].set_ylabel("classification weight")
    fig.suptitle(title)
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=110, bbox_inches="tight")
    return fig


def plot_vs_paper(rows: list, title: str, path: Optional[str] = None):
    """Ours (paired difference to the baseline, 95 % CI, in mAP points) beside the paper's difference."""
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(max(6, 0.45 * len(rows) + 2), 3.8))
    x = np.arange(len(rows))
    ours = np.array([r.get("diff", np.nan) for r in rows], float) * 100
    lo = np.array([r.get("diff_lo", np.nan) for r in rows], float) * 100
    hi = np.array([r.get("diff_hi", np.nan) for r in rows], float) * 100
    paper = np.array([r.get("paper_diff", np.nan) for r in rows], float) * 100
    err = np.vstack([ours - lo, hi - ours])
    ax.errorbar(x - 0.15, ours, yerr=np.nan_to_num(err), fmt="o", color="tab:blue", capsize=3, label="ours (paired 95% CI)")
    ax.plot(x + 0.15, paper, "s", color="tab:orange", label="paper")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(x, [r["label"] for r in rows], rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("mAP difference to 1:1 baseline [points]")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=110, bbox_inches="tight")
    return fig


def plot_block_ratios(bench: dict, path: Optional[str] = None):
    """Per-block train-step ratios (with/without ALWA) of a :mod:`alwa.mmdet.bench_train` result,
    their geometric mean with its 95 % interval, and the goal."""
    import matplotlib.pyplot as plt
    import numpy as np

    r = np.asarray(bench["block_ratios"], float)
    lo, hi = bench["ratio_ci95"]
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.plot(np.arange(1, len(r) + 1), r, "o", ms=4, color="tab:blue", label="per block")
    ax.axhspan(lo, hi, color="tab:blue", alpha=0.15, label=f"mean {bench['ratio']:.4f}, 95% CI")
    ax.axhline(bench["ratio"], color="tab:blue", lw=1)
    ax.axhline(1.0, color="black", lw=0.8)
    ax.axhline(bench["goal"], color="tab:red", lw=0.8, ls="--", label=f"goal {bench['goal']}")
    ax.set_xlabel("block")
    ax.set_ylabel("step time ratio ALWA / plain")
    ax.legend(fontsize=8)
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=110, bbox_inches="tight")
    return fig
