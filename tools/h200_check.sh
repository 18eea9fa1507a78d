#!/usr/bin/env bash
# The H200 check (issue 20, item 3): on a GPU machine without network (Python 3.12, torch 2.11+cu130,
# nvcc 13, 16 cores), with .gpuwheels/ from tools/fetch_gpu_wheels.sh in the working tree:
#   1. install mmengine/mmdet and their dependencies from .gpuwheels (offline);
#   2. build mmcv 2.1.0's CUDA ops for the visible GPU (sm_90) with tools/build_mmcv.sh, timed, and check a
#      CUDA op (nms) runs;
#   3. run the gpu-mini profile's sweep (every training configuration once; 8 runs share the GPU), timed;
#   4. the host-sync check of ALWA inside mmdet and the train-step ratio with/without ALWA (alwa.bench.gpu_mmdet).
# Records go to ${OUT:-results/gpu_check}/h200_mmdet_<date>*.json|log; each stage can be run alone:
#   bash tools/h200_check.sh [install] [build] [sweep] [sync]       (default: all four, in order)
# Sized for two device calls of at most 10 minutes each: "install build" then "sweep sync" (the sweep stage runs
# GPU_SWEEP_RUNS=16 runs, about 8 minutes at the measured throughput; 0: all 55).
set -uo pipefail
cd "$(dirname "$0")/.."
OUTDIR=${OUT:-results/gpu_check}
mkdir -p "$OUTDIR"
STAMP=$(date -u +%Y-%m-%d)
PY=${PY:-python3}
stages=("$@")
[ ${#stages[@]} -eq 0 ] && stages=(install build sweep sync)
record() {  # record NAME STATUS SECONDS [extra json]
  printf '{"stage": "%s", "status": "%s", "seconds": %s, "time_utc": "%s"%s}\n' "$1" "$2" "$3" "$(date -u +%FT%TZ)" "${4:-}" \
    >> "$OUTDIR/h200_mmdet_${STAMP}_stages.jsonl"
}
for stage in "${stages[@]}"; do
  t0=$(date +%s)
  log="$OUTDIR/h200_mmdet_${STAMP}_${stage}.log"
  case "$stage" in
    install)
      # --no-deps: mmengine's metadata asks for opencv-python, a torch box has the headless build; the imports decide
      $PY -m pip install --no-index --no-deps .gpuwheels/*.whl >"$log" 2>&1
      rc=$?
      $PY -m pip install --no-deps --no-build-isolation -e . >>"$log" 2>&1 || rc=1
      $PY -c "import mmengine, mmdet, pycocotools, shapely, addict, yapf, termcolor, terminaltables, cv2, scipy, matplotlib; print('imports ok')" \
        >>"$log" 2>&1 || rc=1 ;;
    build)
      ALWA_MMCV_SDIST=$(ls .gpuwheels/mmcv-2.1.0.tar.gz) ALWA_MMCV_CUDA=1 bash tools/build_mmcv.sh "$PY" >"$log" 2>&1
      rc=$?
      $PY - >>"$log" 2>&1 <<'PYEOF' || rc=1
import torch
from mmcv.ops import nms
boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=torch.float32, device="cuda")
dets, keep = nms(boxes, torch.tensor([0.9, 0.8, 0.7], device="cuda"), 0.5)
assert keep.tolist() == [0, 2] and dets.is_cuda, keep
print("mmcv CUDA nms ok on", torch.cuda.get_device_name(0))
PYEOF
      ;;
    sweep)
      # a subset sized to the measured throughput (2026-11-28: 8 runs sharing the H200 took 225-228 s), so that the
      # stage fits one device call of 10 minutes; GPU_SWEEP_RUNS=0 runs every pending run
      n=${GPU_SWEEP_RUNS:-16}
      echo "[h200-check] sweep: $([ "$n" -gt 0 ] && echo "the first $n runs of the gpu-mini profile" || echo "every run")"
      $PY -m alwa.cli sweep --profile gpu-mini --results "$OUTDIR/gpu_mini_results" $([ "$n" -gt 0 ] && echo "--max-runs $n") >"$log" 2>&1
      rc=$?
      $PY -m alwa.cli status --profile gpu-mini --results "$OUTDIR/gpu_mini_results" >>"$log" 2>&1
      $PY - "$OUTDIR" "$STAMP" >>"$log" 2>&1 <<'PYEOF'
import json, sys
from pathlib import Path
from alwa.runs.store import load_results
out, stamp = Path(sys.argv[1]), sys.argv[2]
rows = [{"name": r["name"], "seed": r["seed"], "mAP": r["mAP"], "wall_seconds": r["wall_seconds"], "device": r.get("device")}
        for r in load_results(out / "gpu_mini_results" / "gpu-mini" / "runs")]
(out / f"h200_mmdet_{stamp}_runs.json").write_text(json.dumps({"profile": "gpu-mini", "runs": rows}, indent=1))
print(len(rows), "runs recorded")
PYEOF
      ;;
    sync)
      $PY -m alwa.cli gpu-check --mmdet --data-root data/gpu_mini_voc/VOCdevkit/ --json "$OUTDIR/h200_mmdet_${STAMP}_sync.json" >"$log" 2>&1
      rc=$? ;;
    *) echo "unknown stage $stage (install, build, sweep, sync)" >&2; exit 2 ;;
  esac
  secs=$(( $(date +%s) - t0 ))
  status=ok; [ "$rc" -eq 0 ] || status=failed
  record "$stage" "$status" "$secs"
  echo "[h200-check] $stage: $status in ${secs} s (log: $log)"
  [ "$rc" -eq 0 ] || exit "$rc"
done
