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


def test_readme_weighter_example_is_the_documented_api():
    (code,) = [b for b in python_blocks("README.md") if "from alwa import ALWA" in b]
    for needle in ("ALWA(mode=\"alwa2\", interval=100)", "w.cls_weight", "w.state_dict()"):
        assert needle in code
