"""Time the full frontier sweep: every trace table, best-of-N and long CoT, FLOPs and eFLOPs, oracle and deployable
allocations, envelopes on a log grid. Target: <= 2 s on the 2-core CI machine (issue 3).

    python -m kinetics.bench.frontier [--traces DIR] [--repeats 5] [--out FILE.json | --no-save]

Prints the measured seconds; writes them with provenance to data/results/<device>/frontier_sweep.json.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import pandas as pd

from kinetics.bench.provenance import device_slug, provenance
from kinetics.errors import InputError
from kinetics.frontier import ALLOCATIONS, STRATEGIES, cost_grid, envelope, frontier, frontier_points, sweep
from kinetics.output import atomic_write, check_output
from kinetics.paths import results_dir
from kinetics.traces import group_arrays, load_traces


def bench(table: pd.DataFrame, hardware="b200", repeats: int = 3) -> dict:
    """Time the full sweep: every table, both strategies, FLOPs and eFLOPs, both allocations, envelopes on a grid."""
    def once():
        result = sweep(table, hardware, conventions=("exact",))
        count = 0
        for strategy in STRATEGIES:
            settings = result.settings(strategy)
            for metric in ("flops", "eflops"):
                for allocation in ALLOCATIONS:
                    frontiers = [frontier(c, metric, allocation) for c in settings]
                    grid = cost_grid(frontiers)
                    envelope(frontiers, grid)
                    frontier_points(frontiers, grid)
                    count += len(frontiers)
        return count

    once()  # warm caches and imports
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        count = once()
        times.append(time.perf_counter() - start)
    settings = len(group_arrays(table))
    return {"seconds_median": float(np.median(times)), "seconds_all": times, "frontiers": count,
            "settings": settings, "source_files": int(table["source"].nunique())}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", default=None)
    parser.add_argument("--hardware", default="b200")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=None, help="result file (default data/results/<device>/frontier_sweep.json)")
    parser.add_argument("--no-save", action="store_true")
    parser.add_argument("--force", action="store_true", help="replace an existing result file")
    args = parser.parse_args(argv)
    try:
        out = None if args.no_save else check_output(
            args.out or results_dir(device_slug()) / "frontier_sweep.json", "--out", args.force, (".json",),
            create_parent=True)
        start = time.perf_counter()
        table = load_traces(args.traces)
        load_seconds = time.perf_counter() - start
        result = bench(table, args.hardware, repeats=args.repeats)
    except InputError as error:
        print(f"frontier_sweep: error: {error}", file=sys.stderr)
        return 2
    result.update(load_seconds_first=load_seconds, cpu_count=os.cpu_count(), target_seconds=2.0,
                  hardware=args.hardware)
    print(f"frontier sweep: {result['source_files']} tables ({result['settings']} settings), {result['frontiers']} "
          f"frontiers, median {result['seconds_median']:.3f} s over {args.repeats} runs on {os.cpu_count()} CPU(s) "
          f"(target <= 2 s); reading the tables the first time: {load_seconds:.3f} s")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        record = {"result": result, "provenance": provenance(" ".join(["python", "-m", "kinetics.bench.frontier",
                                                                        *(argv or sys.argv[1:])]))}
        atomic_write(out, json.dumps(record, indent=2))
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
