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
# Only what a torch box lacks (measured on the H200: numpy, scipy, matplotlib, opencv-python-headless, pillow, pandas,
# rich, tqdm, pyyaml, filelock are there; mmengine, mmdet, mmcv, pycocotools, shapely, addict, yapf, termcolor,
# terminaltables are not). h200_check.sh installs these with --no-deps and then checks the imports.
$PIP download "${common[@]}" --no-deps mmengine==0.10.7 mmdet==3.3.0 addict yapf platformdirs termcolor terminaltables \
  pycocotools shapely
$PIP download --no-deps --no-binary :all: --no-build-isolation -d "$DEST" mmcv==2.1.0
MAX_MIB=${GPU_WHEELS_MAX_MIB:-56}  # a device call carries at most 64 MiB with the working tree
total=$(du -sm "$DEST" | cut -f1)
du -sh "$DEST"
if [ "$total" -gt "$MAX_MIB" ]; then
  echo "[gpu-wheels] error: $DEST is ${total} MiB, over the ${MAX_MIB} MiB budget (GPU_WHEELS_MAX_MIB): remove what the box has" >&2
  exit 1
fi
echo "[gpu-wheels] $DEST: ${total} MiB of ${MAX_MIB} MiB"
