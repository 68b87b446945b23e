"""kinetics frontier: accuracy-cost frontiers (best-of-N, long CoT) under FLOPs or eFLOPs, as text, JSON, CSV or a plot."""
from __future__ import annotations

import argparse
import json
import logging

import numpy as np
import pandas as pd

from kinetics.cli.hardware import add_hardware_arguments, hardware_from_args
from kinetics.errors import InputError
from kinetics.frontier import (ATTENTION_CHOICES, CONVENTIONS, FRONTIER_ALLOCATIONS, METRICS, STRATEGIES, UNITS,
                               cost_grid, envelope, frontier, frontier_points, sweep, threshold_model, winner_spans)
from kinetics.cli.traces import TRACES_HELP
from kinetics.output import IMAGE_SUFFIXES, atomic_path, atomic_write, check_output
from kinetics.traces import load_traces


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--traces", default=None, help=TRACES_HELP)
    parser.add_argument("--pool-duplicates", action="store_true",
                        help="pool trace files holding the same setting and run as separate runs (default: refuse)")
    parser.add_argument("--strategy", choices=STRATEGIES, default="best-of-n")
    parser.add_argument("--cost", choices=METRICS, default="eflops",
                        help="flops: 2 x params x tokens (prior work); flops-attn: all FLOPs; eflops: FLOPs + I x bytes")
    add_hardware_arguments(parser)
    parser.add_argument("--convention", choices=CONVENTIONS, default="exact")
    parser.add_argument("--attention", choices=ATTENTION_CHOICES, default="dense")
    parser.add_argument("--allocation", choices=FRONTIER_ALLOCATIONS, default="oracle",
                        help="oracle: per-problem cost cap (the paper); deployable: one choice for all problems; "
                             "oracle-mean: best allocation of a mean cost per problem (upper bound)")
    parser.add_argument("--points", type=int, default=60, help="points of the log cost grid (default 60)")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print {points, envelope, ...} as JSON")
    out.add_argument("--csv", metavar="FILE", help="write the grid points as CSV")
    out.add_argument("--plot", metavar="FILE.png", help="draw the frontiers and the envelope (.png, .pdf, .svg)")
    parser.add_argument("--force", action="store_true", help="replace an existing --csv / --plot file")
    parser.add_argument("--bench", action="store_true", help="time the full sweep (all tables, both strategies, "
                                                             "FLOPs and eFLOPs, both allocations) and exit")
    parser.set_defaults(func=run)


MAX_POINTS = 10_000   # a grid finer than this changes no frontier, and 1e8 points would take hours


def run(args) -> int:
    if not 2 <= args.points <= MAX_POINTS:
        raise InputError(f"--points must be in 2..{MAX_POINTS}, got {args.points}")
    hardware = hardware_from_args(args)
    if args.csv:
        csv = check_output(args.csv, "--csv", args.force, suffixes=(".csv",))
    if args.plot:
        plot = check_output(args.plot, "--plot", args.force, suffixes=IMAGE_SUFFIXES)
    table = load_traces(args.traces, pool=args.pool_duplicates)
    logging.getLogger(__name__).info("traces: %s", table.attrs["traces_source"])
    if args.bench:
        from kinetics.bench.frontier import bench

        result = bench(table, hardware)
        print(json.dumps(result, indent=2))
        return 0
    result = sweep(table, hardware, strategies=[args.strategy], conventions=[args.convention])
    settings = result.settings(args.strategy, args.convention, args.attention)
    if not settings:
        raise InputError(f"the traces hold no {args.attention} settings")
    frontiers = [frontier(c, args.cost, args.allocation) for c in settings]
    grid = cost_grid(frontiers, args.points)
    env = envelope(frontiers, grid)
    points = frontier_points(frontiers, grid)
    if args.csv:
        atomic_write(csv, pd.DataFrame(points).to_csv(index=False), "--csv")
        print(f"wrote {len(points)} points to {csv}")
        return 0
    if args.plot:
        from kinetics.plots.scaling import plot_frontiers

        fig = plot_frontiers(frontiers, grid, env, title=f"{args.strategy}, {args.cost} ({args.convention}), "
                                                          f"{args.allocation}, {hardware.name}", unit=UNITS[args.cost])
        with atomic_path(plot, "--plot") as temp:
            fig.savefig(temp, format=plot.suffix[1:].lower())
        print(f"wrote {plot}")
        return 0
    threshold, _ = threshold_model(env)
    record = {"strategy": args.strategy, "cost_metric": args.cost, "cost_unit": UNITS[args.cost],
              "convention": args.convention, "allocation": args.allocation, "attention": args.attention,
              "hardware": hardware.name, "traces_source": table.attrs["traces_source"], "points": points,
              "envelope": [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
                           for row in env.to_dict(orient="records")],
              "threshold_model": threshold}
    if args.json:
        print(json.dumps(record, indent=1))
        return 0
    spans = winner_spans(env, "model" if args.attention == "dense" else "setting")
    print(f"{args.strategy} frontier, cost = {args.cost} ({UNITS[args.cost]}, {args.convention} convention, "
          f"{hardware.name}), {args.allocation} allocation, {len(frontiers)} settings")
    print("cross-model envelope (winning model per cost range):")
    for row in spans.itertuples():
        print(f"  {row.model:<24} {row.start:10.3e} .. {row.stop:10.3e} {UNITS[args.cost]}  accuracy up to "
              f"{100 * row.accuracy:5.1f}%")
    print(f"model-size threshold (widest winning span): {threshold}")
    return 0
