#!/usr/bin/env bash
# Run on a GPU machine from the repository root (a copy without .git is fine: pass KINETICS_COMMIT):
#   KINETICS_COMMIT=<sha> [WHEELS=dir] bash benchmarks/attention_gpu.sh [tests] [quality] [tune|check] [quick|full] [summary]
# Installs the carried FlashInfer wheels (WHEELS, default .whl/), maps kernels/ to kinetics.kernels, checks the
# kernels against the references on the GPU, then runs `kinetics bench attention` and leaves the JSON and the log
# under $OUT. The commit is recorded only from $KINETICS_COMMIT here: the copy has no .git of its own.
set -euo pipefail
export PYTHONUNBUFFERED=1 CUDA_HOME=/usr/local/cuda
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
  "${WHEELS:-.whl}"/*.whl
export PYTHONPATH=/tmp/site:$PWD
[ -e kinetics/kernels ] || ln -s ../kernels kinetics/kernels   # what pyproject's package-dir does on install
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu --format=csv
python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)"
for step in "$@"; do
  case $step in
    tests) KINETICS_KERNEL_EXAMPLES=${EXAMPLES:-4} TRITON_INTERPRET=0 python3 -m pytest -q -x -p no:cacheprovider \
             tests/test_kernels.py tests/test_summary_quality.py tests/test_bench_rows.py 2>&1 | tail -5 ;;
    quality) python3 -m kinetics.bench.summary_quality --out "$OUT/summary_quality.json" ;;
    compile) python3 -m kinetics.bench.compile_check 2>&1 | grep -v -i warn ;;
    tune)  python3 -m kinetics.cli bench attention --tune --out "$OUT/attention.json" 2>&1 | grep -v "^{" ;;
    check) python3 -m kinetics.cli bench attention --tune dense,sparse --quick --out "$OUT/attention.json" 2>&1 \
             | grep -v "^{" ;;
    quick) python3 -m kinetics.cli bench attention --quick --no-layer --out "$OUT/attention.json" \
             > "$OUT/bench.log" 2>&1 || { tail -30 "$OUT/bench.log"; exit 1; } ;;
    summary) python3 -m kinetics.bench.summarize "$OUT/attention.json" ;;
    full)  python3 -m kinetics.cli bench attention --out "$OUT/attention.json" > "$OUT/bench.log" 2>&1 \
             || { tail -30 "$OUT/bench.log"; exit 1; } ;;
  esac
done
