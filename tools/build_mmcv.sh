#!/usr/bin/env bash
# Install mmcv 2.1.0 with compiled ops into the venv given as $1.
# - If ALWA_WHEELHOUSE names a directory holding an mmcv-2.1.0 wheel, install it from there.
# - Otherwise download the sdist, switch its C++ standard to C++20 (torch >= 2.14
#   headers need it; mmcv hard-codes -std=c++17) and compile the ops (~35 min on 2 cores).
set -euo pipefail
VENV=${1:-.venv}
PY="$VENV/bin/python"
if [ -n "${ALWA_WHEELHOUSE:-}" ]; then
  if ls "$ALWA_WHEELHOUSE"/mmcv-2.1.0-*.whl >/dev/null 2>&1; then
    echo "[setup] mmcv 2.1.0 from wheelhouse $ALWA_WHEELHOUSE"
    "$PY" -m pip install --no-index --no-deps --find-links "$ALWA_WHEELHOUSE" mmcv==2.1.0
  else
    echo "[setup] ALWA_WHEELHOUSE=$ALWA_WHEELHOUSE holds no mmcv-2.1.0 wheel; building from source" >&2
    unset ALWA_WHEELHOUSE
  fi
fi
if [ -z "${ALWA_WHEELHOUSE:-}" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  echo "[setup] building mmcv 2.1.0 from source in $work (about 35 min on 2 cores)"
  "$PY" -m pip download --no-deps --no-binary :all: --no-build-isolation -d "$work" mmcv==2.1.0
  tar -xzf "$work"/mmcv-2.1.0.tar.gz -C "$work"
  src="$work/mmcv-2.1.0"
  grep -q -- '-std=c++17' "$src/setup.py" || { echo "mmcv setup.py has no -std=c++17 to patch" >&2; exit 1; }
  sed -i 's/-std=c++17/-std=c++20/g' "$src/setup.py"
  (cd "$src" && MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-2} "$OLDPWD/$PY" -m pip install --no-deps --no-build-isolation .)
fi
# the compiled ops are checked by `python -m alwa.env_check` once mmcv's own
# dependencies (opencv, mmengine) are installed by the next setup step
echo "[setup] mmcv installed"
