"""alwa.mmdet.run: one run of a spec (same seed, same record), evaluated once, its curves, its name's settings."""

import re

import pytest

pytest.importorskip("mmdet")

from mmengine.runner import Runner  # noqa: E402

import alwa.mmdet  # noqa: E402,F401
from alwa.mmdet.configs import Experiment, MiniSetting, build_config  # noqa: E402
from tiny_runs import C, ITERS, scalars, tiny_cfg  # noqa: E402


@pytest.mark.slow
def test_same_seed_same_result_and_the_record_is_complete(tmp_path):
    from alwa.mmdet.run import run_spec

    spec = dict(name="retinanet_r18w16_mini_l1_alwa1", seed=3, work_root=str(tmp_path / "w"), data_dir=str(tmp_path / "d" / "voc"),
                dataset=dict(n_trainval=16, n_test=4), pretrain=dict(steps=5, batch_size=8),
                setting=dict(iters=8, batch_size=2, img_scale=[128, 128], interval=4, warmup_iters=2))
    a, b = run_spec(spec), run_spec(spec)
    assert a["per_iter"]["cls_raw"] == b["per_iter"]["cls_raw"] and a["per_iter"]["reg_raw"] == b["per_iter"]["reg_raw"]
    assert a["mAP"] == b["mAP"] and a["weight_trajectory"] == b["weight_trajectory"] and a["config_hash"] == b["config_hash"]
    c = run_spec(dict(spec, seed=4))
    assert c["per_iter"]["cls_raw"] != a["per_iter"]["cls_raw"]
    for key in ("mAP", "windows", "weight_trajectory", "train_seconds", "provenance", "config_hash", "seed", "per_iter"):
        assert key in a
    assert len(a["per_iter"]["cls_raw"]) == 8 and len(a["windows"]) == 2 and a["provenance"]["mmdet"] == "3.3.0"


@pytest.mark.slow
def test_a_run_evaluates_the_test_split_once(tmp_path, monkeypatch):
    """mmengine validates at the loop's end on the split runner.test() evaluates again; run_spec drops that copy
    (same mAP, half the evaluations) unless asked to validate."""
    from mmdet.evaluation import VOCMetric

    from alwa.mmdet.run import run_spec

    calls = []
    original = VOCMetric.compute_metrics
    monkeypatch.setattr(VOCMetric, "compute_metrics", lambda self, results: calls.append(len(results)) or original(self, results))
    spec = dict(name="retinanet_r18w16_mini_l1_base", seed=1, work_root=str(tmp_path / "w"), data_dir=str(tmp_path / "d" / "voc"),
                dataset=dict(n_trainval=16, n_test=4), pretrain=dict(steps=5, batch_size=8),
                setting=dict(iters=4, batch_size=2, img_scale=[128, 128], warmup_iters=2))
    once = run_spec(spec)
    assert calls == [4]  # one evaluation of the 4 test images
    twice = run_spec(dict(spec, validate=True))
    assert calls == [4, 4, 4] and twice["mAP"] == once["mAP"] and twice["config_hash"] == once["config_hash"]


@pytest.mark.slow
def test_a_fixed_weight_runs_plotted_curves_are_what_the_head_returned(tiny_voc, tmp_path):
    """Figure 3: the recorded losses of a fixed-weight run already hold mmdet's loss_weight; the plotted
    curves are the head's own losses, not the regression loss scaled by w_reg a second time."""
    from alwa.analysis.summaries import window_curves

    name = "retinanet_r18w16_mini_l1_w0.50-0.75"
    runner = Runner.from_cfg(tiny_cfg(name, tiny_voc, tmp_path))
    runner.train()
    rows = scalars(tmp_path)
    exp = Experiment.parse(name)
    record = {"per_iter": {k: [r[f"alwa_{k}"] for r in rows] for k in ("cls_raw", "reg_raw", "cls_weight")},
              "experiment": {"weighting": exp.weighting, "cls_weight": exp.cls_weight, "reg_weight": exp.reg_weight}}
    c = window_curves(record, C)
    head_cls, head_reg = [r["loss_cls"] for r in rows], [r["loss_bbox"] for r in rows]
    for i in range(ITERS // C):
        assert c["cls_mean"][i] == pytest.approx(sum(head_cls[i * C:(i + 1) * C]) / C, rel=1e-4)
        assert c["reg_mean"][i] == pytest.approx(sum(head_reg[i * C:(i + 1) * C]) / C, rel=1e-4)


def test_lr_schedule_and_clipping_in_the_name_reach_the_config(tiny_voc, tmp_path):
    base = build_config("retinanet_r18w16_mini_l1_base", data_root=tiny_voc, setting=MiniSetting(iters=600), work_dir=str(tmp_path))
    cfg = build_config("retinanet_r18w16_mini_l1_base_lr0.04_it1200_noclip", data_root=tiny_voc, setting=MiniSetting(iters=600),
                       work_dir=str(tmp_path))
    assert base.optim_wrapper.optimizer.lr == 0.02 and cfg.optim_wrapper.optimizer.lr == 0.04
    assert base.train_cfg.max_iters == 600 and cfg.train_cfg.max_iters == 1200
    assert [s.get("milestones") for s in cfg.param_scheduler][1] == [800, 1100]  # the 1x shape on the longer schedule
    assert base.optim_wrapper.clip_grad["max_norm"] == 10.0 and cfg.optim_wrapper.clip_grad["max_norm"] == float("inf")
    det = build_config("retinanet_r18w16_mini_l1_alwa2_detrend", data_root=tiny_voc, setting=MiniSetting(), work_dir=str(tmp_path))
    (hook,) = [h for h in det.custom_hooks if h["type"] == "ALWAHook"]
    assert hook["stat"] == "detrended" and hook["mode"] == "alwa2"
    with pytest.raises(ValueError, match="mini setting"):
        build_config("retinanet_r50_voc_l1_base_it1200")


@pytest.mark.parametrize("key, value, said", [("iters", "abc", "setting.iters must be a whole number, got 'abc' (str)"),
                                              ("lr", "0.1", "setting.lr must be a number, got '0.1' (str)")])
def test_a_setting_value_of_the_wrong_kind_is_refused_naming_the_key(tmp_path, key, value, said):
    from alwa.mmdet.run import spec_config

    spec = dict(name="retinanet_r18w16_mini_l1_base", seed=0, work_root=str(tmp_path / "w"), data_dir=str(tmp_path / "d" / "voc"),
                dataset=dict(n_trainval=4, n_test=2), pretrain=dict(steps=2, batch_size=4), setting={key: value})
    with pytest.raises(ValueError, match=re.escape(said)):
        spec_config(spec)
