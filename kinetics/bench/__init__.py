"""Benchmarks: everything that times something and writes a result with its provenance, in one place.

- ``timing``      CUDA-event medians, the device's copy bandwidth and matmul rate
- ``provenance``  device, versions, commit, date and command of a measurement
- ``attention``   `kinetics bench attention`: our decode kernels vs FlashInfer, and one Qwen3-8B layer
- ``engine``      `kinetics bench engine`: the engine vs Hugging Face, trace replay, cost model vs clock
- ``analysis``    chapter 4's byte model of a decode row and its page-size experiment (CPU)
- ``validation``  the cost model against the engine's timed steps: scores and a one-term calibration (no GPU)
- ``tensor_parallel``  ``python -m kinetics.bench.tensor_parallel`` (under torchrun): decode at TP=1 vs TP=N, NCCL
- ``frontier``    ``python -m kinetics.bench.frontier``: the seconds of the full frontier sweep (CPU)
- ``compile_check``, ``summarize``: GPU-runner helpers (``benchmarks/attention_gpu.sh``)
"""
