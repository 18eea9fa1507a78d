"""tools/build_mmcv.sh: an mmcv 2.1.0 that is already installed with working ops is kept (a re-run of `make setup`
must not start a 35-80 min source build); otherwise the wheelhouse, then the source build."""

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path("tools/build_mmcv.sh")
FAKE = """#!/bin/sh
echo "$@" >> "$FAKE_LOG"
if [ "$1" = "-" ]; then cat > /dev/null; exit "$FAKE_CHECK_RC"; fi
exit 0
"""


def run(tmp_path, check_rc, **env):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True, exist_ok=True)
    py = venv / "bin" / "python"
    py.write_text(FAKE)
    py.chmod(0o755)
    log = tmp_path / "log"
    log.write_text("")
    base = {k: v for k, v in os.environ.items() if k != "ALWA_MMCV_REBUILD"}
    e = {**base, "FAKE_LOG": str(log), "FAKE_CHECK_RC": str(check_rc), "ALWA_MMCV_SDIST": str(tmp_path / "missing.tar.gz"), **env}
    r = subprocess.run(["bash", str(SCRIPT), str(venv)], capture_output=True, text=True, env=e, timeout=60)
    return r, log.read_text().splitlines()


def wheelhouse(tmp_path):
    w = tmp_path / "wheels"
    w.mkdir(exist_ok=True)
    (w / "mmcv-2.1.0-cp311-cp311-linux_x86_64.whl").write_text("")
    return str(w)


def test_an_installed_mmcv_with_working_ops_is_kept(tmp_path):
    r, calls = run(tmp_path, 0, ALWA_WHEELHOUSE=wheelhouse(tmp_path))
    assert r.returncode == 0 and "already installed" in r.stdout and "kept" in r.stdout
    assert len(calls) == 1 and calls[0].startswith("- ")  # only the check ran: no pip, no build


def test_a_missing_or_broken_mmcv_is_installed_from_the_wheelhouse(tmp_path):
    r, calls = run(tmp_path, 1, ALWA_WHEELHOUSE=wheelhouse(tmp_path))
    assert r.returncode == 0 and "from wheelhouse" in r.stdout
    assert any(c.startswith("-m pip install --no-index --no-deps --find-links") for c in calls)


def test_rebuild_forces_the_install_even_when_mmcv_works(tmp_path):
    r, calls = run(tmp_path, 0, ALWA_WHEELHOUSE=wheelhouse(tmp_path), ALWA_MMCV_REBUILD="1")
    assert "from wheelhouse" in r.stdout and not any(c.startswith("- ") for c in calls)


def test_without_a_wheelhouse_it_goes_on_to_the_source_build(tmp_path):
    r, calls = run(tmp_path, 1, ALWA_WHEELHOUSE="")
    assert r.returncode != 0 and "missing.tar.gz" in r.stderr  # it tried to copy the sdist: the build path was taken


def test_the_check_passes_on_this_venvs_real_mmcv():
    """The check's Python runs here against the installed mmcv (as `make setup` leaves it): it must say 'kept'."""
    venv = Path(sys.executable).parent.parent
    e = {k: v for k, v in os.environ.items() if k not in ("ALWA_MMCV_REBUILD", "ALWA_WHEELHOUSE")}
    r = subprocess.run(["bash", str(SCRIPT), str(venv)], capture_output=True, text=True, env={**e, "ALWA_MMCV_CUDA": "0"}, timeout=300)
    assert r.returncode == 0 and "kept" in r.stdout, r.stdout + r.stderr
