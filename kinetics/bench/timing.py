"""GPU timing and the device's ceilings: do_bench medians (L2 cleared), copy bandwidth, matmul rate (random data)."""
from __future__ import annotations

import statistics


TIMER = ("triton.testing.do_bench: CUDA events around each call, L2 cleared (256 MB buffer written) before "
         "every call; median of >= 50 calls after do_bench's warm-up")


def time_ms(fn, min_runs: int = 50) -> dict:
    """Median (and spread) of at least `min_runs` timed calls of fn() through triton.testing.do_bench (TIMER)."""
    from triton.testing import do_bench

    rep = 100.0
    while True:
        times = sorted(do_bench(fn, warmup=25, rep=rep, return_mode="all"))
        if len(times) >= min_runs:
            break
        rep *= 1.3 * min_runs / len(times)
    return {"median_ms": statistics.median(times), "p10_ms": times[len(times) // 10],
            "p90_ms": times[(9 * len(times)) // 10], "runs": len(times)}


def time_fixed_ms(fn, repeats: int = 30, warmup: int = 3) -> dict:
    """Median of exactly `repeats` CUDA-event timings after `warmup` calls (no L2 clearing): for code run on
    several ranks at once, where every rank must make the same number of collective calls (time_ms's count
    depends on each rank's own estimate)."""
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
    t = time_ms(lambda: dst.copy_(src))["median_ms"]
    return 2 * src.numel() * 4 / (t * 1e-3) / 1e12


def measure_ceilings() -> dict:
    """Device-to-device copy bandwidth (bytes read + written) and bf16 matmul rate, on random data."""
    import torch

    n = 1 << 30  # 2 GiB of bf16
    src = torch.randn(n, dtype=torch.bfloat16, device="cuda")
    dst = torch.empty_like(src)
    copy_ms = time_ms(lambda: dst.copy_(src))["median_ms"]
    del src, dst
    a = torch.randn(8192, 8192, dtype=torch.bfloat16, device="cuda")
    b = torch.randn(8192, 8192, dtype=torch.bfloat16, device="cuda")
    mm_ms = time_ms(lambda: a @ b)["median_ms"]
    del a, b
    torch.cuda.empty_cache()
    return {"copy_tbps": 2 * n * 2 / (copy_ms * 1e-3) / 1e12, "copy_ms": copy_ms,
            "matmul_tflops": 2 * 8192 ** 3 / (mm_ms * 1e-3) / 1e12, "matmul_ms": mm_ms}

