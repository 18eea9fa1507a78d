"""mmengine 0.10.7 checkpoint loading under torch >= 2.6 (weights_only default)."""

import pickle

import numpy as np
import pytest
import torch


def _ckpt(tmp_path):
    path = tmp_path / "ckpt.pth"
    # what mmengine puts into checkpoints: numpy objects and plain Python objects
    torch.save({"meta": {"seed": np.int64(3), "hist": np.arange(3)}, "state_dict": {"w": torch.ones(2)}}, path)
    return path


def test_torch_default_load_refuses_mmengine_style_checkpoints(tmp_path):
    """The fault exists (otherwise the fix below would be untested)."""
    with pytest.raises(pickle.UnpicklingError):
        torch.load(_ckpt(tmp_path))


def test_alwa_mmdet_import_makes_mmengine_loading_work(tmp_path):
    import alwa.mmdet  # noqa: F401  (applies the fix)
    from mmengine.runner.checkpoint import _load_checkpoint

    ck = _ckpt(tmp_path)
    out = _load_checkpoint(str(ck), map_location="cpu")
    assert int(out["meta"]["seed"]) == 3
    with pytest.raises(FileNotFoundError, match="can not be found"):
        _load_checkpoint(str(tmp_path / "missing.pth"), map_location="cpu")
