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


def _lint_imports(config=None):
    import subprocess
    import sys
    from pathlib import Path

    exe = Path(sys.executable).parent / "lint-imports"
    args = [str(exe)] + (["--config", str(config)] if config else [])
    return subprocess.run(args, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])


def test_core_does_not_import_mm_libraries():
    """The import contract of pyproject.toml (import-linter), direct and indirect imports, function-level ones too."""
    r = _lint_imports()
    assert r.returncode == 0 and "1 kept, 0 broken" in r.stdout, r.stdout + r.stderr


def test_the_import_contract_can_fail(tmp_path):
    cfg = tmp_path / "contract.toml"
    cfg.write_text('[tool.importlinter]\nroot_package = "alwa"\ninclude_external_packages = true\n\n'
                   '[[tool.importlinter.contracts]]\nname = "profile imports no mm*"\ntype = "forbidden"\n'
                   'source_modules = ["alwa.profile"]\nforbidden_modules = ["mmdet", "mmcv", "mmengine"]\n')
    r = _lint_imports(cfg)
    assert r.returncode != 0 and "BROKEN" in r.stdout  # alwa.profile reads MiniSetting from the adapter
