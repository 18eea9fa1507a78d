"""alwa.mmdet.configs: the configs an experiment name stands for (the window C an ALWA hook gets)."""

import re

import pytest

pytest.importorskip("mmdet")

from mmengine.config import Config  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import alwa.mmdet  # noqa: E402,F401
from alwa.mmdet.configs import Experiment, MiniSetting, build_config, paper_experiments  # noqa: E402
from alwa.mmdet.hook import ALWAHook  # noqa: E402
from tiny_runs import ROOT, alwa_hook, scalars, tiny_cfg  # noqa: E402


def test_a_named_window_wins_over_the_settings_and_an_unnamed_one_takes_it():
    """At a setting with its own C (smoke: 4) a ``_C100`` run's hook has window 100 (it had 4 before ``interval``
    was typed: 100 meant "not named"); the name without _C takes the setting's 4, and the paper's 100 without one."""
    from alwa.core.settings import MiniSetting
    from alwa.mmdet.configs import build_config

    def window(name, c):
        cfg = build_config(name, setting=MiniSetting(interval=c))
        return next(h for h in cfg.custom_hooks if h["type"] == "ALWAHook")["interval"]

    assert window("faster-rcnn_r18w16_mini_l1_alwa2_C100", 4) == 100
    assert window("faster-rcnn_r18w16_mini_l1_alwa2", 4) == 4 and window("faster-rcnn_r18w16_mini_l1_base", 4) == 4
    assert window("faster-rcnn_r18w16_mini_l1_alwa2", None) == 100 and window("retinanet_r18w16_mini_l1_alwa1_C20", None) == 20


def readme_config_lines():
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    lines = [b for b in blocks if "custom_imports" in b and "ALWAHook" in b]
    assert len(lines) == 1, "README must show one block with the config lines"
    return lines[0]


@pytest.mark.slow
def test_readme_config_lines_work_verbatim(tiny_voc, tmp_path):
    cfg = tiny_cfg("retinanet_r18w16_mini_l1_base", tiny_voc, tmp_path, iters=3)
    cfg.custom_hooks, cfg.custom_imports = [], dict(imports=[])
    cfg.merge_from_dict(Config.fromstring(readme_config_lines(), file_format=".py").to_dict())
    runner = Runner.from_cfg(cfg)
    runner.train()
    hook = alwa_hook(runner)
    assert hook.weighter.mode == "alwa2" and hook.head_path == "bbox_head" and hook.weighter.calls == 3
    assert len(scalars(tmp_path)) == 3


@pytest.mark.slow
def test_every_paper_config_builds():
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules

    register_all_modules()
    names = sorted({e.name for exps in paper_experiments().values() for e in exps})
    assert len(names) > 90
    for name in names:
        cfg = build_config(name)
        assert Experiment.parse(name).name == name
        model = MODELS.build(cfg.model)
        (hook_cfg,) = [h for h in cfg.custom_hooks if h["type"] == "ALWAHook"]
        hook = ALWAHook(**{k: v for k, v in hook_cfg.items() if k != "type"})
        hook.attach(model)
        exp = Experiment.parse(name)
        assert cfg.optim_wrapper.optimizer.lr == {"retinanet": 0.01}.get(exp.detector, 0.02)
        assert cfg.train_dataloader.batch_size * len(cfg.gpu_ids) == 8
        head = model.bbox_head if exp.detector == "retinanet" else model.rpn_head
        assert type(head.loss_bbox).__name__.lower().startswith(exp.reg_loss.replace("smoothl1", "smoothl1"))
        if exp.dataset == "voc":
            assert "VOC2012" in cfg.train_dataloader.dataset.ann_file and "VOC2007" in cfg.test_dataloader.dataset.ann_file


def test_experiment_names_round_trip_and_errors():
    for name in ["retinanet_r50_voc_l1_w0.50-0.75", "faster-rcnn_r50_voc_ciou_alwa2_C200", "faster-rcnn_r50_voc_l1_alwa2_init0.75",
                 "mask-rcnn_r101_coco_smoothl1_alwa1", "retinanet_r18w16_mini_giou_base"]:
        assert Experiment.parse(name).name == name
    with pytest.raises(ValueError, match="not an experiment name"):
        Experiment.parse("yolo_r50_voc_l1_base")
    with pytest.raises(ValueError, match="ALWA runs only"):
        Experiment.parse("retinanet_r50_voc_l1_base_C20")
    with pytest.raises(ValueError, match="COCO only"):
        build_config("mask-rcnn_r50_voc_l1_base")


def test_mini_setting_knobs_reach_the_model():
    """The calibration knobs of MiniSetting end up in the built model (and a typo is an error)."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules

    register_all_modules()
    st = MiniSetting(head_init="kaiming", head_norm="GN", frozen_stages=4, norm_eval=True, scales_per_octave=1, anchor_ratios=(1.0,))
    m = MODELS.build(build_config("retinanet_r18w16_mini_l1_base", setting=st).model)
    m.init_weights()
    h = m.bbox_head
    assert h.num_base_priors == 1 and h.cls_convs[0].gn is not None
    conv_std = float(h.cls_convs[0].conv.weight.detach().std())
    assert 0.04 < conv_std < 0.08  # Kaiming for 64 x 3 x 3 inputs: sqrt(2 / 576) = 0.059, not 0.01
    assert float(h.retina_cls.weight.detach().std()) == pytest.approx(0.01, rel=0.2)
    assert float(h.retina_cls.bias.detach()[0]) == pytest.approx(-4.595, abs=1e-3)  # the focal-loss prior, kept
    m.train()
    assert all(not p.requires_grad for p in m.backbone.parameters()) and not m.backbone.bn1.training
    fr = build_config("faster-rcnn_r18w16_mini_l1_base", setting=MiniSetting(roi_samples=64, roi_fc=128, rpn_proposals=150,
                                                                             rpn_nms_pre=300, roi_sampling_ratio=2)).model
    assert fr.train_cfg.rcnn.sampler.num == 64 and fr.roi_head.bbox_head.fc_out_channels == 128
    assert fr.train_cfg.rpn_proposal.max_per_img == 150 and fr.train_cfg.rpn_proposal.nms_pre == 300
    assert fr.test_cfg.rpn.nms_pre == 300
    fm = MODELS.build(fr)
    assert fm.roi_head.bbox_roi_extractor.roi_layers[0].sampling_ratio == 2
    with pytest.raises(ValueError, match="head_init"):
        build_config("retinanet_r18w16_mini_l1_base", setting=MiniSetting(head_init="xavier"))
