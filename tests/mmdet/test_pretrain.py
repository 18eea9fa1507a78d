"""alwa.mmdet.pretrain: the backbone pre-training on crops of the set, and its checkpoint in a detector."""

import pytest
import torch

pytest.importorskip("mmdet")

import alwa.mmdet  # noqa: E402,F401
from alwa.data import synthetic  # noqa: E402
from alwa.mmdet.configs import MiniSetting, build_config  # noqa: E402


def test_deep_multiscale_pretraining_trains_every_level(tiny_voc, tmp_path):
    """deep=True puts a classifier on C3, C4 and C5; the saved backbone loads into mmdet's ResNet;
    other options give another cache entry."""
    from mmdet.models.backbones import ResNet

    from alwa.mmdet.pretrain import PretrainOptions, ensure_pretrained

    opts = PretrainOptions(steps=3, batch_size=8, sizes=(16, 32), deep=True)
    path = ensure_pretrained(tiny_voc, synthetic.CLASSES, tmp_path, opts, progress=False)
    ck = torch.load(path, weights_only=False)
    assert ck["meta"]["options"]["deep"] is True and list(ck["meta"]["options"]["sizes"]) == [16, 32]
    ResNet(depth=18, base_channels=16, out_indices=(1, 2, 3)).load_state_dict(ck["state_dict"])
    other = ensure_pretrained(tiny_voc, synthetic.CLASSES, tmp_path, PretrainOptions(steps=3, batch_size=8), progress=False)
    assert other != path and other.exists()


def test_pretrained_neck_loads_into_the_detector(tiny_voc, tmp_path):
    """neck=fpn_channels pre-trains the FPN too; the detector built with pretrained_neck starts
    from exactly those backbone and FPN weights."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules

    from alwa.mmdet.pretrain import PretrainOptions, ensure_pretrained

    register_all_modules()
    path = ensure_pretrained(tiny_voc, synthetic.CLASSES, tmp_path, PretrainOptions(steps=2, batch_size=8, neck=64), progress=False)
    sd = torch.load(path, weights_only=False)["state_dict"]
    assert any(k.startswith("neck.") for k in sd) and "conv1.weight" in sd
    m = MODELS.build(build_config("retinanet_r18w16_mini_l1_base", setting=MiniSetting(pretrained=str(path), pretrained_neck=True)).model)
    m.init_weights()
    for k, v in m.neck.state_dict().items():
        assert torch.equal(v, sd[f"neck.{k}"]), k
    assert torch.equal(m.backbone.conv1.weight, sd["conv1.weight"])
