#!/usr/bin/env bash
# Run on the lent GPU (the device tool) from the repository root:
#   KINETICS_COMMIT=<sha> WORKLOAD=<workload.json> bash benchmarks/engine_gpu.sh PARTS [extra bench-engine args]
# Maps kernels/ to kinetics.kernels and runs `kinetics bench engine --parts PARTS`; the JSON, the step-model
# calibration and the log go under $OUT.
set -euo pipefail
export PYTHONUNBUFFERED=1
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
[ -e kinetics/kernels ] || ln -s ../kernels kinetics/kernels
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
parts=$1; shift
python3 -m kinetics.cli bench engine --parts "$parts" --workload "${WORKLOAD:-}" --out "$OUT/engine.json" \
  "$@" > "$OUT/engine.log" 2>&1 || { tail -25 "$OUT/engine.log"; exit 1; }
grep -E "^(saturated|validate|targets|replay|wrote)|step model" "$OUT/engine.log" || true
