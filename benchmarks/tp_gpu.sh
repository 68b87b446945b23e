#!/usr/bin/env bash
# Run on a machine with two GPUs from the repository root (a copy without .git is fine: pass KINETICS_COMMIT):
#   KINETICS_COMMIT=<sha> bash benchmarks/tp_gpu.sh [TP1_SECONDS TP2_SECONDS TP1_LIMIT TP2_LIMIT]
# Maps kernels/ to kinetics.kernels, then times decode at TP=1 (one process) and TP=2 (torchrun, NCCL) with
# kinetics.bench.tensor_parallel; JSON and logs under $OUT. NVLink multicast stays as the machine sets it.
set -uo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
[ -e kinetics/kernels ] || ln -s ../kernels kinetics/kernels   # what pyproject's package-dir does on install
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv
nvidia-smi topo -m | head -4
env | grep -E "^(NCCL_NVLS_ENABLE|TORCH_SYMM_MEM_DISABLE_MULTICAST|NVSHMEM_DISABLE_NVLS)="
timeout "${3:-230}" python3 -m kinetics.bench.tensor_parallel --tp 1 --out "$OUT/tp1.json" --seconds "${1:-200}" > "$OUT/tp1.log" 2>&1
echo "tp1 exit $?"; grep -E "tok/s|Error|error" "$OUT/tp1.log" | tail -12
timeout "${4:-250}" python3 -m torch.distributed.run --nproc-per-node 2 -m kinetics.bench.tensor_parallel --tp 2 --out "$OUT/tp2.json" \
  --seconds "${2:-220}" > "$OUT/tp2.log" 2>&1
echo "tp2 exit $?"; grep -E "tok/s|Error|error" "$OUT/tp2.log" | tail -12
