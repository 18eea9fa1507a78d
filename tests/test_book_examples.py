"""The code shown in the book and README runs as shown."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def python_blocks(path):
    return re.findall(r"```python\n(.*?)```", (ROOT / path).read_text(), flags=re.S)


@pytest.mark.slow
def test_pytorch_loop_example_runs(capsys):
    (code,) = [b for b in python_blocks("book/use_pytorch.md") if "retinanet_resnet50_fpn" in b]
    exec(compile(code, "use_pytorch.md", "exec"), {})
    out = capsys.readouterr().out
    assert out.count("cls weight in force next") == 4


def test_readme_weighter_example_runs(tmp_path, monkeypatch, capsys):
    """The README's loop, run as written with a stand-in model, loader and optimizer."""
    import torch

    from alwa import ALWA

    (code,) = [b for b in python_blocks("README.md") if "from alwa import ALWA" in b]
    theta = torch.nn.Parameter(torch.tensor([2.0, 1.0]))
    ns = {"torch": torch, "loader": [(None, None)] * 3, "opt": torch.optim.SGD([theta], lr=0.1),
          "model": lambda images, targets: {"classification": (theta[0] ** 2), "bbox_regression": theta[1].abs()}}
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), ns)
    w = ns["w"]
    assert w.calls == 3 and (w.mode, w.interval) == ("alwa2", 100)
    assert capsys.readouterr().out.split() == ["1.0", "1.0"]  # no window has ended: the weights printed are the initial ones
    saved = torch.load(tmp_path / "ckpt.pth", weights_only=True)["alwa"]
    assert ALWA.from_state_dict(saved).calls == 3 and theta.detach().tolist() != [2.0, 1.0]  # the loop trained
