#!/usr/bin/env bash
# Install mmcv 2.1.0 with compiled ops into the venv (or any Python prefix) given as $1.
# - If ALWA_WHEELHOUSE names a directory holding an mmcv-2.1.0 wheel, install it from there.
# - Otherwise build the sdist (ALWA_MMCV_SDIST: a local mmcv-2.1.0.tar.gz for a box without network;
#   else pip downloads it) against the installed torch, with the C++ standard switched to C++20
#   (torch >= 2.14 headers need it; mmcv hard-codes -std=c++17): ~35 min on 2 cores for the CPU ops.
# - CUDA ops (a GPU box): when nvcc is found and torch sees a GPU (or ALWA_MMCV_CUDA=1), the build sets
#   FORCE_CUDA=1, CUDA_HOME from nvcc, and TORCH_CUDA_ARCH_LIST from the visible GPU(s) (e.g. 9.0 on an
#   H100/H200; override with TORCH_CUDA_ARCH_LIST=...). Only the visible architectures are compiled:
#   recent nvcc (12.8+, 13) no longer compiles the old sm_5x/6x targets torch's default list names, and
#   one architecture builds in minutes with MAX_JOBS=$(nproc). ALWA_MMCV_CUDA=0 forces a CPU-only build.
set -euo pipefail
VENV=${1:-.venv}
if [ -x "$VENV/bin/python" ]; then
  PY="$(cd "$VENV/bin" && pwd)/python"
else  # a python executable may be given instead of a venv (a GPU box's system python)
  PY=$(command -v "$VENV") || { echo "no venv or python at $VENV" >&2; exit 1; }
fi
# Already there (a re-run of `make setup` after this script or pyproject.toml changed): keep it, unless
# ALWA_MMCV_REBUILD=1. "There" means mmcv 2.1.0 whose compiled ops load and, where CUDA ops are wanted
# (ALWA_MMCV_CUDA=1, or auto with nvcc and a GPU torch can see, as for the build below), run on the GPU.
have_nvcc=no; command -v nvcc >/dev/null 2>&1 && have_nvcc=yes
if [ "${ALWA_MMCV_REBUILD:-0}" != 1 ] && "$PY" - "${ALWA_MMCV_CUDA:-auto}" "$have_nvcc" >/dev/null 2>&1 <<'PYCHECK'
import importlib.metadata as md
import sys

if md.version("mmcv") != "2.1.0":
    sys.exit(1)
import torch
from mmcv.ops import nms

nms(torch.tensor([[0.0, 0.0, 1.0, 1.0]]), torch.ones(1), 0.5)
want = sys.argv[1]
if want == "1" or (want == "auto" and sys.argv[2] == "yes" and torch.cuda.is_available()):
    boxes = torch.tensor([[0.0, 0.0, 1.0, 1.0]], device="cuda")
    nms(boxes, torch.ones(1, device="cuda"), 0.5)
PYCHECK
then
  echo "[setup] mmcv 2.1.0 with its compiled ops is already installed for $PY: kept (ALWA_MMCV_REBUILD=1 rebuilds it)"
  exit 0
fi
if [ -n "${ALWA_WHEELHOUSE:-}" ]; then
  if ls "$ALWA_WHEELHOUSE"/mmcv-2.1.0-*.whl >/dev/null 2>&1; then
    echo "[setup] mmcv 2.1.0 from wheelhouse $ALWA_WHEELHOUSE"
    "$PY" -m pip install --no-index --no-deps --find-links "$ALWA_WHEELHOUSE" mmcv==2.1.0
    echo "[setup] mmcv installed"
    exit 0
  fi
  echo "[setup] ALWA_WHEELHOUSE=$ALWA_WHEELHOUSE holds no mmcv-2.1.0 wheel; building from source" >&2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -n "${ALWA_MMCV_SDIST:-}" ]; then
  cp "$ALWA_MMCV_SDIST" "$work/mmcv-2.1.0.tar.gz"
else
  "$PY" -m pip download --no-deps --no-binary :all: --no-build-isolation -d "$work" mmcv==2.1.0
fi
tar -xzf "$work"/mmcv-2.1.0.tar.gz -C "$work"
src="$work/mmcv-2.1.0"
grep -q -- '-std=c++17' "$src/setup.py" || { echo "mmcv setup.py has no -std=c++17 to patch" >&2; exit 1; }
sed -i 's/-std=c++17/-std=c++20/g' "$src/setup.py"
cuda=${ALWA_MMCV_CUDA:-auto}
if [ "$cuda" = auto ]; then
  cuda=0
  if command -v nvcc >/dev/null 2>&1 && "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    cuda=1
  fi
fi
jobs=${MAX_JOBS:-$(nproc)}
if [ "$cuda" = 1 ]; then
  export FORCE_CUDA=1
  export CUDA_HOME=${CUDA_HOME:-$(dirname "$(dirname "$(command -v nvcc)")")}
  if [ -z "${TORCH_CUDA_ARCH_LIST:-}" ]; then
    TORCH_CUDA_ARCH_LIST=$("$PY" -c 'import torch; print(" ".join(sorted({"%d.%d" % torch.cuda.get_device_capability(i) for i in range(torch.cuda.device_count())})))')
    export TORCH_CUDA_ARCH_LIST
  fi
  echo "[setup] building mmcv 2.1.0 with CUDA ops for TORCH_CUDA_ARCH_LIST='$TORCH_CUDA_ARCH_LIST' (nvcc: $(nvcc --version | tail -1), CUDA_HOME=$CUDA_HOME, $jobs jobs)"
else
  echo "[setup] building mmcv 2.1.0 with CPU ops in $work (about 35 min on 2 cores, $jobs jobs)"
fi
start=$(date +%s)
(cd "$src" && MMCV_WITH_OPS=1 MAX_JOBS=$jobs "$PY" -m pip install --no-deps --no-build-isolation .)
echo "[setup] mmcv built in $(( $(date +%s) - start )) s"
# the compiled ops are checked by `alwa env-check` once mmcv's own
# dependencies (opencv, mmengine) are installed by the next setup step
echo "[setup] mmcv installed"
