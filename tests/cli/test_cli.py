"""The one command, ``alwa``: every subcommand reaches its module; an unknown one is named with the closest."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from alwa import cli

ALWA = shutil.which("alwa", path=str(Path(sys.executable).parent)) or "alwa"


def test_the_console_script_is_installed_and_lists_every_command():
    r = subprocess.run([ALWA, "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    for cmd in cli.COMMANDS:
        assert f"alwa {cmd}" in r.stdout


def test_an_unknown_command_names_the_closest():
    r = subprocess.run([ALWA, "staus"], capture_output=True, text=True)
    assert r.returncode == 1 and "unknown command 'staus'; did you mean 'status'?" in r.stderr
    r = subprocess.run([ALWA, "data", "make-mini"], capture_output=True, text=True)
    assert r.returncode == 1 and "did you mean 'make-mini-voc'?" in r.stderr


@pytest.mark.parametrize("argv, module", [
    (["sweep", "--help"], "--executor"), (["status", "--help"], "--workers"), (["study", "--help"], "learning-rate study"),
    (["book", "--help"], "Build the book"), (["data", "check", "--help"], "Check a dataset"), (["data", "download", "--help"], "Download"),
    (["data", "make-mini-voc", "--help"], "synthetic mini VOC"), (["bench", "--help"], "bench"), (["gpu-check", "--help"], "GPU check"),
    (["gpu-check", "--mmdet", "--help"], "inside MMDetection"),
])
def test_each_command_reaches_its_module(argv, module, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "usage:" in out and (module in out or module.split(".")[-1] in out)


def test_the_data_scripts_are_the_data_commands(tmp_path):
    root = Path(__file__).resolve().parents[2]
    for script in ("make_mini_voc.py", "check_dataset.py", "download.py"):
        text = (root / "data_scripts" / script).read_text()
        assert "sys.path" not in text and "from alwa.cli import main" in text
    r = subprocess.run([sys.executable, str(root / "data_scripts" / "make_mini_voc.py"), "--out", str(tmp_path / "d"), "--n-trainval", "4",
                        "--n-test", "2", "--workers", "1"], capture_output=True, text=True)
    assert r.returncode == 0 and (tmp_path / "d" / "VOCdevkit" / "mini_voc.json").exists()
