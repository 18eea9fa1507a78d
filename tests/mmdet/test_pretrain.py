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


# ------------------------------------------------------------------ the pinned backbone
def _fake_ckpt(path, value):
    import torch

    torch.save({"state_dict": {"w": torch.full((2,), float(value))}, "meta": {}}, path)


def _pinned(folder, value):
    import hashlib
    import json

    from alwa.mmdet.fingerprint import checkpoint_hash

    folder.mkdir(parents=True, exist_ok=True)
    f = folder / "r18w16_abc.pth"
    _fake_ckpt(f, value)
    pin = {"sha256": hashlib.sha256(f.read_bytes()).hexdigest(), "state_hash": checkpoint_hash(str(f))}
    (folder / "pins.json").write_text(json.dumps({f.name: pin}))
    return pin


def test_the_pinned_backbone_is_installed_and_a_different_cached_one_moved_aside_not_lost(tmp_path):
    from alwa.mmdet.fingerprint import checkpoint_hash
    from alwa.mmdet.pretrain import install_pinned

    pin = _pinned(tmp_path / "pinned", 1.0)
    cache = tmp_path / "cache" / "r18w16_abc.pth"
    assert install_pinned(cache, pin, tmp_path / "pinned") and checkpoint_hash(str(cache)) == pin["state_hash"]
    assert not install_pinned(cache, pin, tmp_path / "pinned")  # already there: nothing written
    _fake_ckpt(cache, 2.0)  # this machine's own pre-training
    other = checkpoint_hash(str(cache))
    with pytest.warns(UserWarning, match="other than the pinned one"):
        assert install_pinned(cache, pin, tmp_path / "pinned")
    assert checkpoint_hash(str(cache)) == pin["state_hash"]
    assert checkpoint_hash(str(cache.with_name(f"r18w16_abc.unpinned-{other}.pth"))) == other


def test_a_damaged_or_missing_pin_is_refused_with_one_line_naming_the_file(tmp_path):
    from alwa.mmdet.pretrain import PinError, install_pinned

    pin = _pinned(tmp_path / "pinned", 1.0)
    (tmp_path / "pinned" / "r18w16_abc.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(PinError, match=r"r18w16_abc.pth is damaged: its sha256 is"):
        install_pinned(tmp_path / "c" / "r18w16_abc.pth", pin, tmp_path / "pinned")
    (tmp_path / "pinned" / "r18w16_abc.pth").unlink()
    with pytest.raises(PinError, match="is missing"):
        install_pinned(tmp_path / "c" / "r18w16_abc.pth", pin, tmp_path / "pinned")


def test_the_committed_pin_is_whole_and_names_the_cpu_profiles_backbone():
    """The cpu profile's data and PretrainOptions() name the pinned file; its bytes match the manifest's sha256."""
    import hashlib

    from alwa.mmdet.fingerprint import checkpoint_hash
    from alwa.mmdet.pretrain import PINNED, pins

    (name, pin), = pins().items()
    f = PINNED / name
    assert hashlib.sha256(f.read_bytes()).hexdigest() == pin["sha256"] and checkpoint_hash(str(f)) == pin["state_hash"]
    assert f.stat().st_size < 4_000_000
