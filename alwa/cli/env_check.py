"""Check that the environment `make setup` built is complete (``alwa env-check``).

Prints one line per component and exits non-zero, naming what is missing,
when something the book or the tests need is absent or the wrong version.
"""

from __future__ import annotations

import importlib
import shutil
import sys

EXPECTED = {
    "torch": "2.14.1",
    "torchvision": "0.29.1",
    "mmcv": "2.1.0",
    "mmengine": "0.10.7",
    "mmdet": "3.3.0",
}
PRESENT = ["jupyter_book", "papermill", "nbval", "pytest", "matplotlib", "scipy", "pycocotools", "pkg_resources"]


def _line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0]}" if text else type(e).__name__


def check() -> list[str]:
    """One line per problem (a missing part, a wrong version); never raises."""
    problems = []
    for name, want in EXPECTED.items():
        try:
            mod = importlib.import_module(name)
        except Exception as e:  # noqa: BLE001 - report any import failure
            problems.append(f"{name}: cannot import ({_line(e)})")
            continue
        got = getattr(mod, "__version__", "?").split("+")[0]
        if got != want:
            problems.append(f"{name}: version {got}, expected {want}")
        else:
            print(f"  {name:<12} {got}")
    try:
        from mmcv.ops import nms  # noqa: F401  (compiled ops)
    except Exception as e:  # noqa: BLE001
        problems.append(f"mmcv compiled ops missing ({_line(e)}); mmcv-lite does not work with mmdet")
    for name in PRESENT:
        try:
            importlib.import_module(name)
        except Exception as e:  # noqa: BLE001
            problems.append(f"{name}: cannot import ({_line(e)})")
    jb = sys.modules.get("jupyter_book")
    if jb is not None and int(str(getattr(jb, "__version__", "0")).split(".")[0]) >= 2:
        problems.append(f"jupyter-book {jb.__version__}: must be < 2 (v1 reads _config.yml/_toc.yml)")
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        problems.append("chromium not found (needed by the book's HTML test); run tools/install_browser.sh")
    return problems


def main() -> None:
    print("[env_check] python", sys.version.split()[0])
    problems = check()
    for p in problems:
        print("[env_check] PROBLEM:", p, file=sys.stderr)
    if problems:
        sys.exit(1)
    print("[env_check] environment complete")

