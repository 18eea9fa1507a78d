#!/usr/bin/env python
"""Ask pip's resolver whether the pins of environment.yml fit together (``make env-pins-check``).

The conda packages are mapped to their PyPI names (pytorch -> torch; pytorch-cuda is the CUDA of the
torch wheel and has no PyPI name), mmcv is left out (its CUDA build comes from ``mim`` or
tools/build_mmcv.sh), and ``pip install --dry-run`` resolves them for Python 3.11, Linux x86-64, binary
wheels only. Needs the package registry: not part of ``make test``.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONDA_TO_PYPI = {"pytorch": "torch", "pytorch-cuda": None, "pip": None, "python": None}


def requirements(env: dict) -> list[str]:
    """PyPI requirement lines for an environment.yml mapping (mmcv left out)."""
    out = []
    for dep in env.get("dependencies", []):
        if isinstance(dep, dict):
            out += [line for line in dep.get("pip", []) if not line.lower().startswith("mmcv")]
            continue
        m = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", str(dep))
        name, spec = m[1], m[2].strip()
        name = CONDA_TO_PYPI.get(name, name)
        if name is None or name.lower().startswith("mmcv"):
            continue
        if spec.startswith("=") and not spec.startswith("=="):  # conda's "=0.16" is a version prefix: pip's ==0.16.*
            version = spec[1:]
            spec = f"=={version}" if version.count(".") >= 2 else f"=={version}.*"
        out.append(f"{name}{spec}")
    return out


def python_version(env: dict) -> str:
    for dep in env.get("dependencies", []):
        if isinstance(dep, str) and dep.startswith("python"):
            return dep.split("=")[-1]
    return "3.11"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", default=str(ROOT / "environment.yml"))
    ap.add_argument("--print", action="store_true", help="print the requirements and stop")
    a = ap.parse_args(argv)
    env = yaml.safe_load(Path(a.file).read_text())
    reqs = requirements(env)
    if a.print:
        print("\n".join(reqs))
        return 0
    with tempfile.TemporaryDirectory() as d:
        req = Path(d) / "requirements.txt"
        req.write_text("\n".join(reqs) + "\n")
        cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--only-binary=:all:",
               "--python-version", python_version(env), "--platform", "manylinux2014_x86_64", "--implementation", "cp",
               "--target", str(Path(d) / "t"), "-r", str(req)]
        print("[env-pins-check]", " ".join(cmd), flush=True)
        r = subprocess.run(cmd)
    print(f"[env-pins-check] environment.yml pins {'fit together' if r.returncode == 0 else 'do NOT resolve'} "
          f"(Python {python_version(env)}, binary wheels, mmcv left out)")
    return r.returncode


if __name__ == "__main__":
    sys.exit(main())
