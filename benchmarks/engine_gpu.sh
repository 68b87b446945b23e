#!/usr/bin/env bash
# Run on the lent GPU (the device tool) from the repository root:
#   KINETICS_COMMIT=<sha> WORKLOAD=<workload.json> [NAME=engine] bash benchmarks/engine_gpu.sh PARTS [extra args]
# Maps kernels/ to kinetics.kernels and runs `kinetics bench engine --parts PARTS`; the JSON ($NAME.json, rewritten
# after each part), the step-model calibration (step_model.json, when PARTS has validate) and the log ($NAME.log)
# go under $OUT.
set -euo pipefail
export PYTHONUNBUFFERED=1
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
[ -e kinetics/kernels ] || ln -s ../kernels kinetics/kernels
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
name=${NAME:-engine}
parts=$1; shift
python3 -m kinetics.cli bench engine --parts "$parts" --workload "${WORKLOAD:-}" --out "$OUT/$name.json" \
  "$@" > "$OUT/$name.log" 2>&1 || { tail -25 "$OUT/$name.log"; exit 1; }
grep -E "^(saturated|validate|targets|replay|wrote)|step model|time guard" "$OUT/$name.log" || true
