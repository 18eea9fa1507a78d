"""alwa.report.plots: what a figure shows, read back from its axes (no image comparison)."""

import matplotlib

matplotlib.use("Agg")

from alwa.report import plots  # noqa: E402


def row(regime, arm, det, step, mAP):
    return {"regime": regime, "arm": arm, "detector": det, "step_size": step, "mAP": mAP}


def test_step_size_plot_tells_the_detectors_apart_and_labels_ticks_once(tmp_path):
    rows = [row("paper", "base", "retinanet", 0.04, 0.70), row("paper", "base", "faster-rcnn", 0.04, 0.03),
            row("paper", "alwa2", "retinanet", 0.008, 0.62), row("paper", "lr control", "retinanet", 0.02, 0.74),
            row("tuned", "fixed 0.5:0.5", "retinanet", 0.01, 0.73)]
    fig = plots.plot_step_size(rows, path=tmp_path / "a.png")
    tuned, paper = fig.axes
    assert [t.get_text() for t in tuned.get_legend().get_texts()] == ["fixed weights"]
    assert [t.get_text() for t in paper.get_legend().get_texts()] == ["alwa2", "base", "lr control", "base (Faster R-CNN)"]
    faster = next(c for c in paper.collections if c.get_label() == "base (Faster R-CNN)")
    assert faster.get_facecolor().size == 0 or faster.get_facecolor()[0][3] == 0  # hollow
    assert list(map(tuple, faster.get_offsets())) == [(0.04, 0.03)]
    fig.canvas.draw()
    shown = [t.get_text() for t in paper.xaxis.get_ticklabels(minor=True) if t.get_text()]
    assert shown == []  # minor ticks unlabelled: no overlapping '2x10^-2 4x10^-2'
    assert (tmp_path / "a.png").stat().st_size > 0
