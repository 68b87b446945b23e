#!/usr/bin/env bash
# Run on a GPU machine from the repository root (a copy without .git is fine: pass KINETICS_COMMIT):
#   KINETICS_COMMIT=<sha> WORKLOAD=<workload.json> [NAME=engine] bash benchmarks/engine_gpu.sh PARTS [extra args]
# Maps kernels/ to kinetics.kernels and runs `kinetics bench engine --parts PARTS`; the JSON ($NAME.json once every
# part is done; until then $NAME.json.partial holds the finished parts, so a time limit keeps them), the step-model
# calibration (step_model.json, when PARTS has validate) and the log ($NAME.log) go under $OUT.
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
