#!/usr/bin/env bash
# Prepare .gpuwheels/ for the H200 check (tools/h200_check.sh): what a GPU machine without network
# lacks, for its Python (default 3.12), as wheels, plus mmcv's source distribution. Run here (the
# registry is reachable); the folder travels with the working tree (at most 64 MiB in all).
set -euo pipefail
PYV=${PYV:-3.12}
DEST=${1:-.gpuwheels}
mkdir -p "$DEST"
PIP="${PIP:-.venv/bin/python -m pip}"
common=(--only-binary=:all: --python-version "$PYV" --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64
        --platform manylinux_2_28_x86_64 --implementation cp -d "$DEST")
# mmengine, mmdet and what they import that a torch box does not have (torch, numpy, pillow are there)
$PIP download "${common[@]}" --no-deps mmengine==0.10.7 mmdet==3.3.0 addict yapf termcolor terminaltables \
  pycocotools shapely opencv-python-headless==4.10.0.84 rich markdown-it-py mdurl pygments platformdirs tomli scipy \
  matplotlib contourpy cycler fonttools kiwisolver pyparsing python-dateutil six pyyaml tqdm filelock
$PIP download --no-deps --no-binary :all: --no-build-isolation -d "$DEST" mmcv==2.1.0
du -sh "$DEST"
total=$(du -sm "$DEST" | cut -f1)
if [ "$total" -gt 56 ]; then
  echo "[gpu-wheels] $DEST is ${total} MiB: with the working tree it may pass the 64 MiB a device call carries" >&2
fi
