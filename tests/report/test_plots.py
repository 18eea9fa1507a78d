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


def test_figures_say_how_many_panels_they_set_side_by_side():
    """``panel_columns`` counts the distinct left edges of the visible panels (a colorbar is not one); ``png_bytes``
    writes it into the PNG, where the book's layout test reads it."""
    import io

    import matplotlib.pyplot as plt
    from PIL import Image

    from alwa.report.plots import COLUMNS_KEY, panel_columns, png_bytes

    fig, axes = plt.subplots(3, 2)
    axes[2, 1].set_visible(False)
    im = axes[0, 0].imshow([[0, 1], [1, 0]])
    fig.colorbar(im, ax=axes[0, 0])
    assert panel_columns(fig) == 2
    assert Image.open(io.BytesIO(png_bytes(fig))).text[COLUMNS_KEY] == "2"
    plt.close(fig)
    fig, axes = plt.subplots(1, 4)
    assert panel_columns(fig) == 4
    plt.close(fig)


def test_the_training_figures_set_at_most_two_panels_side_by_side():
    """Figures 3 / 6 (one row per experiment: mean and std) and the weight trajectories (two across) keep every
    panel readable at the book's text width whatever the number of experiments (before: one column each)."""
    import matplotlib.pyplot as plt

    from alwa.core.experiment import Experiment
    from alwa.report.plots import panel_columns, plot_curves, plot_trajectories

    exps = [Experiment.parse(n) for n in ("retinanet_r18w16_mini_l1_base", "retinanet_r18w16_mini_l1_alwa1",
                                          "retinanet_r18w16_mini_l1_alwa2", "retinanet_r18w16_mini_ciou_alwa2")]
    per_iter = {"cls_raw": [1.0] * 8, "reg_raw": [0.5] * 8, "cls_weight": [1.0, 0.9] * 4}
    results = [{"name": e.name, "seed": 0, "mAP": 0.5, "per_iter": per_iter, "experiment": {"weighting": e.weighting}}
               for e in exps]
    for fig in (plot_curves(results, exps, 2, "t"), plot_trajectories(results, exps[1:], "t")):
        assert panel_columns(fig) == 2 and fig.get_size_inches()[0] <= 6.5 + 1e-9
        plt.close(fig)
