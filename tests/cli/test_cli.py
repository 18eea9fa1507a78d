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
    (["data", "make-mini-voc", "--help"], "synthetic mini VOC"), (["bench", "--help"], "one ALWA call vs a call in the authors' style"),
    (["bench", "train", "--help"], "usage: alwa bench train"), (["bench", "speed", "--help"], "usage: alwa bench speed"),
    (["bench", "detectors", "--help"], "usage: alwa bench detectors"), (["gpu-check", "--help"], "GPU check"),
    (["gpu-check", "--mmdet", "--help"], "inside MMDetection"),
])
def test_each_command_reaches_its_module(argv, module, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "usage: alwa" in out and module in out


def test_the_data_scripts_are_the_data_commands(tmp_path):
    root = Path(__file__).resolve().parents[2]
    for script in ("make_mini_voc.py", "check_dataset.py", "download.py"):
        text = (root / "data_scripts" / script).read_text()
        assert "sys.path" not in text and "from alwa.cli import main" in text
    r = subprocess.run([sys.executable, str(root / "data_scripts" / "make_mini_voc.py"), "--out", str(tmp_path / "d"), "--n-trainval", "4",
                        "--n-test", "2", "--workers", "1"], capture_output=True, text=True)
    assert r.returncode == 0 and (tmp_path / "d" / "VOCdevkit" / "mini_voc.json").exists()


# ------------------------------------------------------------------ one-line errors (issue "Nothing silent", item 7)
def _error_line(capsys, argv, monkeypatch=None):
    from alwa.cli import main as alwa_main

    with pytest.raises(SystemExit) as e:
        alwa_main(argv)
    msg = str(e.value.code)
    assert "\n" not in msg and "Traceback" not in capsys.readouterr().err
    return msg


@pytest.mark.parametrize("name", ["", "..", ".hidden", "a/b"])
def test_archive_refuses_names_that_are_not_plain_folder_names(capsys, name):
    assert _error_line(capsys, ["archive", "--profile", "smoke", "--name", name]) == (
        f"alwa archive: error: archive name must be a plain folder name, got {name!r}")


def test_status_of_a_results_root_that_is_a_file(capsys, tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    assert _error_line(capsys, ["status", "--profile", "smoke", "--results", str(f)]).startswith(
        f"alwa status: error: Not a directory: {f}")


def test_check_of_a_missing_folder(capsys, tmp_path):
    assert _error_line(capsys, ["data", "check", "--voc", str(tmp_path / "none")]).startswith("alwa data: error: no VOC")


def test_a_read_only_or_full_disk_is_one_line(capsys, tmp_path, monkeypatch):
    import errno

    from alwa.cli import data as cli_data

    def refuse(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "ro" / "VOCdevkit"))

    monkeypatch.setattr(cli_data, "ensure", refuse)
    assert _error_line(capsys, ["data", "make-mini-voc", "--out", str(tmp_path / "ro")]) == (
        f"alwa data: error: Permission denied: {tmp_path / 'ro' / 'VOCdevkit'}")
    import alwa.runs.sweep as sweep

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / ".sweep.lock.info"))

    monkeypatch.setattr(sweep, "write_json_atomic", full)
    msg = _error_line(capsys, ["sweep", "--profile", "smoke", "--results", str(tmp_path / "r"), "--fn", "toy_worker:run"])
    assert msg == f"alwa sweep: error: No space left on device: {tmp_path / '.sweep.lock.info'}"
    monkeypatch.setenv("ALWA_TRACEBACK", "1")
    with pytest.raises(OSError):
        from alwa.cli import main as alwa_main
        alwa_main(["sweep", "--profile", "smoke", "--results", str(tmp_path / "r"), "--fn", "toy_worker:run"])


@pytest.mark.parametrize("argv, said", [
    (["--devices", "-1"], "argument --devices: must be >= 0, got -1"),
    (["--runs-per-device", "0"], "argument --runs-per-device: must be >= 1, got 0"),
    (["--runs-per-device", "2"], "--runs-per-device applies to runs on GPUs: give --devices"),
    (["--devices", "0"], "--devices 0: this machine has 0 CUDA device(s); run without --devices to train on the CPU"),
])
def test_the_sweeps_device_options_are_checked_against_the_machine(argv, said, tmp_path, capsys, monkeypatch):
    """Each was taken in silence: -1 hid every GPU, 0 was replaced by the profile's value, a count without devices was
    ignored, and --devices 0 without CUDA trained on the CPU and recorded device 0."""
    import torch

    from alwa.cli import runs

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit) as e:
        runs.main(["sweep", "--profile", "smoke", "--results", str(tmp_path), "--max-runs", "0", *argv])
    assert e.value.code == 2 and said in capsys.readouterr().err
    assert not (tmp_path / "smoke" / "runs").exists() or not any((tmp_path / "smoke" / "runs").iterdir())
