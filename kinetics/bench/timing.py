"""GPU timing and the device's ceilings: CUDA-event medians, copy bandwidth, matmul rate (random data, never zeros)."""
from __future__ import annotations

import statistics


def time_ms(fn, repeats: int = 30, warmup: int = 3) -> dict:
    """Median (and spread) of `repeats` CUDA-event timings of fn() after `warmup` calls."""
    import torch

    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    times.sort()
    return {"median_ms": statistics.median(times), "p10_ms": times[len(times) // 10],
            "p90_ms": times[(9 * len(times)) // 10], "repeats": repeats}


def copy_bandwidth_tbps() -> float:
    """Device-to-device copy of 2 GiB, bytes read + written per second (the memory ceiling, for reference)."""
    import torch

    src = torch.randn(2**29, device="cuda")  # 2 GiB of float32
    dst = torch.empty_like(src)
    t = time_ms(lambda: dst.copy_(src), repeats=20)["median_ms"]
    return 2 * src.numel() * 4 / (t * 1e-3) / 1e12


def measure_ceilings() -> dict:
    """Device-to-device copy bandwidth (bytes read + written) and bf16 matmul rate, on random data."""
    import torch

    n = 1 << 30  # 2 GiB of bf16
    src = torch.randn(n, dtype=torch.bfloat16, device="cuda")
    dst = torch.empty_like(src)
    copy_ms = time_ms(lambda: dst.copy_(src), repeats=20)["median_ms"]
    del src, dst
    a = torch.randn(8192, 8192, dtype=torch.bfloat16, device="cuda")
    b = torch.randn(8192, 8192, dtype=torch.bfloat16, device="cuda")
    mm_ms = time_ms(lambda: a @ b, repeats=20)["median_ms"]
    del a, b
    torch.cuda.empty_cache()
    return {"copy_tbps": 2 * n * 2 / (copy_ms * 1e-3) / 1e12, "copy_ms": copy_ms,
            "matmul_tflops": 2 * 8192 ** 3 / (mm_ms * 1e-3) / 1e12, "matmul_ms": mm_ms}

