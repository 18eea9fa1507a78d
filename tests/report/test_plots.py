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
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["fixed weights", "alwa2", "base", "lr control",
                                                                  "base (Faster R-CNN)"]
    faster = next(c for c in paper.collections if c.get_label() == "base (Faster R-CNN)")
    assert faster.get_facecolor().size == 0 or faster.get_facecolor()[0][3] == 0  # hollow
    assert list(map(tuple, faster.get_offsets())) == [(0.04, 0.03)]
    fig.canvas.draw()
    shown = [t.get_text() for t in paper.xaxis.get_ticklabels(minor=True) if t.get_text()]
    assert shown == []  # minor ticks unlabelled: no overlapping '2x10^-2 4x10^-2'
    assert (tmp_path / "a.png").stat().st_size > 0


def legend_clear_of_the_data(fig) -> bool:
    fig.canvas.draw()
    box = fig.legends[0].get_window_extent()
    return all(not box.overlaps(ax.get_window_extent()) for ax in fig.axes)


def test_the_lr_study_figures_stack_their_panels_at_the_text_width_with_the_legend_outside(tmp_path):
    rows = [row(reg, arm, "retinanet", 0.01 * (i + 1), 0.7) for i, reg in enumerate(("short", "tuned", "paper"))
            for arm in ("base", "alwa1", "alwa2", "lr control")]
    traj = [{"regime": reg, "name": f"x_{a}", "weighting": a, "detrend": False, "weights": [1.0, 0.9, 0.5]}
            for reg in ("short", "tuned", "paper")
            for a in ("alwa1", "alwa2")]
    for fig in (plots.plot_step_size(rows), plots.plot_weight_windows(traj)):
        assert len(fig.axes) == 3 and not any(ax.get_legend() for ax in fig.axes)
        width = fig.get_size_inches()[0]
        assert all(ax.get_position().width * width >= 4.5 for ax in fig.axes)  # each panel at least 4.5 in wide
        assert len({round(ax.get_position().x0, 3) for ax in fig.axes}) == 1  # stacked, one column
        assert legend_clear_of_the_data(fig)
