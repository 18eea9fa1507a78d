"""Every figure of the project (matplotlib): the notebooks', the data check's and the generated pages'.
Each function returns the Figure; pass ``path`` to save it as well (:func:`_save`, the one place figures are written)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from alwa.analysis.summaries import window_curves
from alwa.core.experiment import Experiment, RunRecord
from alwa.data.check import DatasetReport

LABEL_COLOURS = {1: "#c7e9c0", -1: "#e0e0e0", 0: "#fcbba1"}
REG_STYLES = {"L1": "-", "SmoothL1": "--", "GIoU": "-.", "DIoU": ":", "CIoU": (0, (5, 1, 1, 1))}


def _save(fig, path):
    if path is not None:
        fig.savefig(path, dpi=110, bbox_inches="tight")
    return fig


def panel_columns(fig) -> int:
    """How many panels a figure sets side by side: the distinct grid columns its visible axes start in (a colorbar
    is not a panel). A reader's page shows the whole figure at the text width, so each of these gets 1/columns of it."""
    starts = set()
    for ax in fig.axes:
        if not ax.get_visible() or ax.get_label() == "<colorbar>":
            continue
        spec = ax.get_subplotspec()
        spec = spec.get_topmost_subplotspec() if spec is not None else None  # a colorbar nests its panel's grid
        starts.add((id(spec.get_gridspec()), spec.colspan.start) if spec is not None else round(ax.get_position().x0, 2))
    return max(1, len(starts))


COLUMNS_KEY = "alwa:columns"  # the PNG text chunk that carries panel_columns (read by the book's layout test)


def png_bytes(fig, dpi: int = 110) -> bytes:
    """The figure as PNG (tight box) with its :func:`panel_columns` in the text chunk :data:`COLUMNS_KEY`:
    how the notebooks show figures (:func:`alwa.report.notebook.setup` registers it for matplotlib figures)."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", metadata={COLUMNS_KEY: str(panel_columns(fig))})
    return buf.getvalue()


PANEL_W = 6.5  # inches: a panel of a multi-panel figure of the book is as wide as the text (stacked, never side by side)


def _legend_outside(fig, axes) -> None:
    """One legend for the figure, right of the panels, with every label of every panel once (in order)."""
    seen = {}
    for ax in axes:
        for h, label in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(label, h)
    if seen:
        fig.legend(list(seen.values()), list(seen.keys()), loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8,
                   frameon=False)


def _label_bands(ax, x, labels):
    x = np.asarray(x)
    labels = np.asarray(labels)
    edges = np.concatenate([[x[0]], (x[1:] + x[:-1]) / 2, [x[-1]]])
    start = 0
    for i in range(1, len(x) + 1):
        if i == len(x) or labels[i] != labels[start]:
            ax.axvspan(edges[start], edges[i], color=LABEL_COLOURS[int(labels[start])], zorder=0, lw=0)
            start = i


def plot_slide(gt, offsets, result, snapshots: Sequence[float] = (0.0, 0.35, 0.7), axis: str = "x", path=None):
    """Figure 2 of the paper, extended: the box sliding over the ground truth
    (three snapshots) and, along the slide, IoU with the assigned label, the
    counted classification loss and every regression loss (solid where a
    detector counts it, i.e. for positives; faint elsewhere)."""

    offsets = np.asarray(offsets, float)
    fig = plt.figure(figsize=(12, 8.5))
    gs = fig.add_gridspec(3, 3, height_ratios=[1.1, 1, 1])
    g = np.asarray(gt, float)
    boxes = result.boxes.numpy()
    for k, s in enumerate(snapshots):
        ax = fig.add_subplot(gs[0, k])
        i = int(np.argmin(np.abs(offsets - s)))
        b = boxes[i]
        ax.add_patch(Rectangle((g[0], g[1]), g[2] - g[0], g[3] - g[1], fill=False, ec="tab:red", lw=2, label="ground truth"))
        ax.add_patch(Rectangle((b[0], b[1]), b[2] - b[0], b[3] - b[1], fill=False, ec="tab:green", lw=2, ls="--", label="moved box"))
        lab = {1: "positive", 0: "negative", -1: "ignored"}[int(result.labels[i])]
        ax.set_title(f"offset {offsets[i]:.2f}: IoU {float(result.iou[i]):.2f}, {lab}", fontsize=10)
        pad = (g[2] - g[0]) * 0.6
        ax.set_xlim(min(g[0], boxes[:, 0].min()) - pad * 0.2, max(g[2], b[2]) + pad)
        ax.set_ylim(g[3] + pad, g[1] - pad)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        if k == 0:
            ax.legend(loc="lower left", fontsize=8)
    ax1 = fig.add_subplot(gs[1, :])
    _label_bands(ax1, offsets, result.labels.numpy())
    ax1.plot(offsets, result.iou.numpy(), color="black", label="IoU")
    ax1.plot(offsets, result.score.numpy(), color="tab:purple", ls="--", label="predicted score")
    ax1b = ax1.twinx()
    ax1b.plot(offsets, result.cls.numpy(), color="tab:red", lw=2, label="classification (focal) loss, counted")
    ax1.set_ylabel("IoU / score")
    ax1b.set_ylabel("focal loss")
    ax1.set_title("green: positive (IoU >= 0.5), grey: ignored, red: negative (IoU < 0.4)", fontsize=10)
    h1, l1 = ax1.get_legend_handles_labels()
    h2, l2 = ax1b.get_legend_handles_labels()
    ax1.legend(h1 + h2, l1 + l2, fontsize=8, loc="upper right")
    ax2 = fig.add_subplot(gs[2, :], sharex=ax1)
    _label_bands(ax2, offsets, result.labels.numpy())
    pos = result.labels.numpy() == 1
    for kind, loss in result.reg.items():
        y = loss.numpy()
        line, = ax2.plot(offsets, np.where(pos, y, np.nan), ls=REG_STYLES.get(kind, "-"), lw=2, label=kind)
        ax2.plot(offsets, y, ls=REG_STYLES.get(kind, "-"), color=line.get_color(), alpha=0.3)
    ax2.set_ylabel("regression loss")
    ax2.set_xlabel(f"offset along {axis} (units of the ground-truth {'width' if axis == 'x' else 'height'})")
    ax2.legend(fontsize=8, ncol=5)
    fig.tight_layout()
    return _save(fig, path)


def plot_grid(dxs, dys, result, path=None):
    """Heat maps over a 2-D grid of offsets: IoU, label, classification loss and each regression loss."""

    ny, nx = len(dys), len(dxs)
    panels = [("IoU", result.iou), ("label (1 pos, 0 neg, -1 ignored)", result.labels.float()), ("focal loss (counted)", result.cls)]
    panels += [(f"{k} (all boxes)", v) for k, v in result.reg.items()]
    cols = 2  # two side by side: each readable at the book's text width
    rows = int(np.ceil(len(panels) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(PANEL_W, 2.7 * rows))
    ext = [dxs[0], dxs[-1], dys[-1], dys[0]]
    for ax, (title, v) in zip(axes.flat, panels):
        im = ax.imshow(v.reshape(ny, nx).numpy(), extent=ext, aspect="auto", cmap="viridis")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("dx / width", fontsize=8)
        ax.set_ylabel("dy / height", fontsize=8)
        ax.contour(np.asarray(dxs), np.asarray(dys), result.iou.reshape(ny, nx).numpy(), levels=[0.4, 0.5], colors="white", linewidths=0.8)
        fig.colorbar(im, ax=ax, fraction=0.046)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle("2-D shift of a box over its ground truth (white: IoU 0.4 and 0.5)")
    fig.tight_layout()
    return _save(fig, path)


def plot_c1(rows, score_model: str = "iou", path=None):
    """Claim C1: ratio of classification to regression loss fluctuation (std and
    coefficient of variation), per regression loss and shift range."""

    rows = [r for r in rows if r["score_model"] == score_model]
    kinds = list(dict.fromkeys(r["reg_loss"] for r in rows))
    ranges = list(dict.fromkeys(r["shift_range"] for r in rows))
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=False)
    width = 0.8 / len(kinds)
    for ax, key, title in ((axes[0], "std_ratio", "std(cls) / std(reg)"), (axes[1], "cv_ratio", "CV(cls) / CV(reg)")):
        for k, kind in enumerate(kinds):
            vals = [next(r[key] for r in rows if r["reg_loss"] == kind and r["shift_range"] == s) for s in ranges]
            vals = np.clip(np.nan_to_num(np.asarray(vals, float), nan=1e-3, posinf=1e3), 1e-3, 1e3)
            ax.bar(np.arange(len(ranges)) + k * width, vals, width, label=kind)
        ax.axhline(1.0, color="black", lw=1)
        ax.set_yscale("log")
        ax.set_xticks(np.arange(len(ranges)) + width * (len(kinds) - 1) / 2, [f"±{s}" for s in ranges])
        ax.set_xlabel("shift range (units of gt size)")
        ax.set_title(f"{title}  (> 1: C1 holds)", fontsize=10)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"C1 over random ground truths and moves, score model '{score_model}'")
    fig.tight_layout()
    return _save(fig, path)


def plot_scale_aspect(factors, results_scale, results_aspect, path=None):
    """Losses as the box is scaled (same centre) and as its aspect ratio changes."""

    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
    for ax, res, name in ((axes[0], results_scale, "size factor"), (axes[1], results_aspect, "aspect factor")):
        _label_bands(ax, np.log2(factors), res.labels.numpy())
        ax.plot(np.log2(factors), res.cls.numpy(), color="tab:red", lw=2, label="focal (counted)")
        for kind, loss in res.reg.items():
            ax.plot(np.log2(factors), loss.numpy(), ls=REG_STYLES.get(kind, "-"), label=kind)
        ax.set_xlabel(f"log2({name})")
        ax.set_ylabel("loss")
    axes[0].legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return _save(fig, path)


ARM_STYLES = {"base": ("o", "black"), "alwa1": ("^", "tab:blue"), "alwa2": ("v", "tab:red"), "lr control": ("s", "tab:green")}


def plot_step_size(rows, path=None):
    """mAP against the classification step size (classification weight x lr, averaged over the schedule),
    one panel per regime, every run a point: fixed weights grey, 1:1 black, ALWA blue/red, the lr control green;
    RetinaNet filled, Faster R-CNN hollow."""

    regimes = [r for r in ("short", "tuned", "paper") if any(x["regime"] == r for x in rows)] or ["short"]
    fig, axes = plt.subplots(len(regimes), 1, figsize=(PANEL_W, 3.0 * len(regimes)), squeeze=False, sharex=True, sharey=True)
    for ax, reg in zip(axes[:, 0], regimes):
        sel = [x for x in rows if x["regime"] == reg or (reg == "paper" and x["arm"] == "lr control")]
        for det in ("retinanet", "faster-rcnn"):
            for arm in sorted({x["arm"] for x in sel}):
                pts = [(x["step_size"], x["mAP"]) for x in sel if x["arm"] == arm and x.get("detector", "retinanet") == det
                       and x["step_size"] and x["mAP"] is not None]
                if not pts:
                    continue
                marker, colour = ARM_STYLES.get(arm, (".", "0.6"))
                label = arm if arm in ARM_STYLES else ("fixed weights" if arm.startswith("fixed") else arm)
                style = dict(color=colour) if det == "retinanet" else dict(facecolors="none", edgecolors=colour)
                ax.scatter(*zip(*pts), marker=marker, s=22, alpha=0.8, **style,
                           label=label if det == "retinanet" else f"{label} (Faster R-CNN)")
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_title(f"{reg} regime", fontsize=10)
        ax.set_ylabel("mAP@0.5 (test split)")
    axes[-1, 0].set_xlabel("classification step size (weight x lr, mean)")
    _legend_outside(fig, axes[:, 0])
    fig.tight_layout()
    return _save(fig, path)


def plot_weight_windows(traj_rows, path=None, panels: Optional[Sequence[tuple[str, str]]] = None):
    """ALWA's classification weight at the start and after each window, one line per run, one panel per
    regime (``panels``: ``(key, title)`` of each panel, keys as the rows' ``regime``; default the three regimes);
    window 1 (the warm-up) shaded."""

    if panels is None:
        panels = [(r, f"{r} regime") for r in ("short", "tuned", "paper") if any(x["regime"] == r for x in traj_rows)] or [("short", "short regime")]
    fig, axes = plt.subplots(len(panels), 1, figsize=(PANEL_W, 2.6 * len(panels)), squeeze=False, sharex=True, sharey=True)
    for ax, (reg, title) in zip(axes[:, 0], panels):
        ax.axvspan(0, 1, color="#fde0c5", lw=0, label="window 1 (warm-up)")
        for x in (t for t in traj_rows if t["regime"] == reg):
            colour = "tab:red" if x["weighting"] == "alwa2" else "tab:blue"
            ax.plot(range(len(x["weights"])), x["weights"], color=colour, alpha=0.45, lw=1, ls="--" if x["detrend"] else "-")
        ax.set_yscale("log")
        ax.set_title(title, fontsize=10)
        ax.set_ylabel("classification weight")
        ax.plot([], [], color="tab:blue", label="ALWA-1")
        ax.plot([], [], color="tab:red", label="ALWA-2")
    axes[-1, 0].set_xlabel("window (C iterations each)")
    axes[-1, 0].xaxis.set_major_locator(MaxNLocator(integer=True))
    _legend_outside(fig, axes[:, 0])
    fig.tight_layout()
    return _save(fig, path)


def plot_forest(rows: Sequence[dict], title: str = "", path=None):
    """A forest plot: one row per comparison (``label``, ``diff``, ``lo``, ``hi`` in points of mAP, optional
    ``paper``: the gain the paper reports for it, marked as a diamond), the 95 % CI as a bar, 0 as a line."""
    n = len(rows)
    fig, ax = plt.subplots(figsize=(PANEL_W, 0.36 * n + 1.5))
    y = np.arange(n)[::-1]
    for yi, r in zip(y, rows):
        worse = r["hi"] < 0
        colour = "tab:red" if worse else ("tab:green" if r["lo"] > 0 else "tab:gray")
        ax.plot([r["lo"], r["hi"]], [yi, yi], color=colour, lw=2.2, solid_capstyle="butt")
        ax.plot([r["diff"]], [yi], "o", color=colour, ms=6)
        if r.get("paper") is not None:
            ax.plot([r["paper"]], [yi], "D", color="black", mfc="white", ms=6, zorder=3)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, [r["label"] for r in rows], fontsize=9)
    ax.set_xlabel("ALWA minus the lr control (points of mAP, paired 95 % CI)", fontsize=10)
    ax.tick_params(axis="x", labelsize=9)
    ax.plot([], [], "D", color="black", mfc="white", label="the paper's gain (R-50, VOC)")
    ax.plot([], [], "o-", color="tab:red", label="below the control")
    ax.plot([], [], "o-", color="tab:gray", label="CI spans 0")
    if any(r["lo"] > 0 for r in rows):
        ax.plot([], [], "o-", color="tab:green", label="above the control")
    ax.legend(loc="upper center", bbox_to_anchor=(0.45, -0.16), ncol=3, fontsize=9, frameon=False)
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def plot_schedule_trend(rows: Sequence[dict], path=None):
    """Each deficit against the schedule's length: ``rows`` of ``series`` (a name), ``schedule`` (iterations), ``diff``,
    ``lo``, ``hi`` (points); one line per series."""
    fig, ax = plt.subplots(figsize=(PANEL_W, 3.4))
    series = list(dict.fromkeys(r["series"] for r in rows))
    for k, name in enumerate(series):
        pts = sorted((r for r in rows if r["series"] == name), key=lambda r: r["schedule"])
        x = [r["schedule"] * (1 + 0.012 * (k - len(series) / 2)) for r in pts]  # a small offset: bars do not overlap
        d = [r["diff"] for r in pts]
        err = [[r["diff"] - r["lo"] for r in pts], [r["hi"] - r["diff"] for r in pts]]
        ax.errorbar(x, d, yerr=err, marker="o", capsize=3, lw=1.4, label=name)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xscale("log", base=2)
    ticks = sorted({r["schedule"] for r in rows})
    ax.set_xticks(ticks, [str(t) for t in ticks], fontsize=9)
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("schedule (iterations)", fontsize=10)
    ax.set_ylabel("ALWA minus control (points)", fontsize=10)
    ax.tick_params(axis="y", labelsize=9)
    _legend_outside(fig, [ax])
    fig.tight_layout()
    return _save(fig, path)


# ------------------------------------------------------------------ figures of the training chapters
def _runs_of(results: list, exp: Experiment) -> list[RunRecord]:
    return [r for r in map(RunRecord.of, results) if r.experiment == exp]


def plot_curves(results: list, experiments: list, window: int, title: str, path: Optional[str] = None, labels: Optional[dict] = None):
    """Figures 3 / 6: mean (top) and std (bottom) of the weighted classification
    (dashed) and regression (solid) losses per ``window`` iterations, one column per
    :class:`~alwa.core.experiment.Experiment` (seeds averaged); ``labels``: {experiment: title}."""
    import numpy as np

    # one row per experiment, mean and std side by side: two panels across, readable at the book's text width
    fig, axes = plt.subplots(len(experiments), 2, figsize=(PANEL_W, 2.4 * len(experiments) + 0.6), squeeze=False, sharex=True)
    for j, exp in enumerate(experiments):
        name = exp.name
        runs = _runs_of(results, exp)
        head = (labels or {}).get(exp, name)
        if not runs:
            axes[j, 0].set_title(f"{head} (no runs yet)", fontsize=8, loc="left")
            continue
        curves = [window_curves(r, window) for r in runs]
        it = curves[0]["iter"]
        for col, stat in enumerate(("mean", "std")):
            ax = axes[j, col]
            for task, style, colour in (("cls", "--", "tab:red"), ("reg", "-", "tab:blue")):
                y = np.mean([c[f"{task}_{stat}"] for c in curves], axis=0)
                ax.plot(it, y, ls=style, color=colour, label=f"{'classification' if task == 'cls' else 'regression'}")
            ax.set_ylabel(f"{stat} per {window} iters", fontsize=8)
        axes[j, 0].set_title(f"{head} ({len(runs)} seeds)", fontsize=8, loc="left")
    for ax in axes[-1]:
        ax.set_xlabel("iteration")
    fig.suptitle(title)
    _legend_outside(fig, axes.ravel())
    fig.tight_layout()
    if path:
        _save(fig, path)
    return fig


def plot_trajectories(results: list, experiments: list, title: str, path: Optional[str] = None):
    """ALWA's classification weight per iteration, every seed (thin) and their mean (thick), one panel per
    :class:`~alwa.core.experiment.Experiment`."""
    import numpy as np

    cols = min(2, len(experiments))  # two across at most: each readable at the book's text width
    rows = -(-len(experiments) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(PANEL_W, 2.6 * rows + 0.4), squeeze=False, sharey=True)
    for ax in axes.ravel()[len(experiments):]:
        ax.set_visible(False)
    for j, exp in enumerate(experiments):
        ax = axes.ravel()[j]
        name = exp.name
        runs = _runs_of(results, exp)
        ys = [r["per_iter"]["cls_weight"] for r in runs if r["per_iter"]["cls_weight"]]
        for y in ys:
            ax.plot(np.arange(1, len(y) + 1), y, lw=0.7, alpha=0.5)
        if ys:
            n = min(len(y) for y in ys)
            ax.plot(np.arange(1, n + 1), np.mean([y[:n] for y in ys], 0), lw=2, color="black", label="mean")
        ax.set_title(name, fontsize=8)
        ax.set_xlabel("iteration")
        ax.axhline(1.0, color="grey", lw=0.5)
    for ax in axes[:, 0]:
        ax.set_ylabel("classification weight")
    fig.suptitle(title)
    fig.tight_layout()
    if path:
        _save(fig, path)
    return fig


def plot_vs_paper(rows: list, title: str, path: Optional[str] = None):
    """Ours (paired difference to the baseline, 95 % CI, in mAP points) beside the paper's difference;
    ``rows``: :class:`~alwa.analysis.records.VsPaper` records."""
    import numpy as np

    fig, ax = plt.subplots(figsize=(max(6, 0.45 * len(rows) + 2), 3.8))
    x = np.arange(len(rows))
    ours = np.array([r.diff for r in rows], float) * 100
    lo = np.array([r.lo for r in rows], float) * 100
    hi = np.array([r.hi for r in rows], float) * 100
    paper = np.array([r.paper_diff for r in rows], float) * 100
    err = np.vstack([ours - lo, hi - ours])
    ax.errorbar(x - 0.15, ours, yerr=np.nan_to_num(err), fmt="o", color="tab:blue", capsize=3, label="ours (paired 95% CI)")
    ax.plot(x + 0.15, paper, "s", color="tab:orange", label="paper")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(x, [r.label for r in rows], rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("mAP difference to 1:1 baseline [points]")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    if path:
        _save(fig, path)
    return fig


def plot_block_ratios(bench: dict, path: Optional[str] = None):
    """Per-block train-step ratios (with/without ALWA) of a :mod:`alwa.bench.train` result,
    their geometric mean with its 95 % interval, and the goal."""
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
        _save(fig, path)
    return fig


# ------------------------------------------------------------------ the data check
def plot_report(rep: DatasetReport, path=None):
    """Four panels: images per split, objects per class, box size and aspect histograms."""
    fig, ax = plt.subplots(2, 2, figsize=(11, 7))
    splits = list(rep.images)
    ax[0, 0].bar(splits, [rep.images[s] for s in splits], color="tab:gray")
    ax[0, 0].set_title("images per split")
    classes = sorted({c for s in splits for c in rep.objects.get(s, {})})
    width = 0.8 / max(1, len(splits))
    for k, s in enumerate(splits):
        counts = [rep.objects.get(s, {}).get(c, 0) for c in classes]
        ax[0, 1].bar(np.arange(len(classes)) + k * width, counts, width, label=s)
    ax[0, 1].set_xticks(np.arange(len(classes)) + width * (len(splits) - 1) / 2, classes, rotation=45, ha="right")
    ax[0, 1].set_title("objects per class")
    ax[0, 1].legend(fontsize=8)
    for s in splits:
        sz = rep.box_sizes.get(s, [])
        if sz:
            ax[1, 0].hist(sz, bins=np.geomspace(max(1, min(sz)), max(sz) + 1, 30), histtype="step", label=s)
        asp = rep.aspects.get(s, [])
        if asp:
            ax[1, 1].hist(asp, bins=np.geomspace(min(asp), max(asp) + 1e-6, 30), histtype="step", label=s)
    ax[1, 0].set_xscale("log")
    ax[1, 0].set_title("box size sqrt(w*h) [px]")
    ax[1, 1].set_xscale("log")
    ticks = [0.25, 1 / 3, 0.5, 1, 2, 3, 4]
    ax[1, 1].set_xticks(ticks, ["1:4", "1:3", "1:2", "1:1", "2:1", "3:1", "4:1"])
    ax[1, 1].minorticks_off()
    ax[1, 1].set_title("aspect ratio w:h")
    ax[1, 0].legend(fontsize=8)
    problems = (f"unreadable {len(rep.unreadable)}, outside {len(rep.outside)}, degenerate {len(rep.degenerate)}, "
                f"malformed {len(rep.malformed)}")
    fig.suptitle(f"{Path(rep.name).name}: {problems}")
    fig.tight_layout()
    if path is not None:  # a page or the check command: written, then closed (no figure piles up)
        _save(fig, path)
        plt.close(fig)
    return fig
