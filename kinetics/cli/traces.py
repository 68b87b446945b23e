"""kinetics traces summary: per setting, problems, samples, pass@1, lengths and the share at the length cap."""
from __future__ import annotations

import argparse
import json

from kinetics.traces import load_traces, summary


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    show = sub.add_parser("summary", help="per (model, attention, budget): problems, samples, pass@1, lengths")
    show.add_argument("--traces", default=None, help="traces directory (default: $KINETICS_TRACES, then data/traces)")
    show.add_argument("--json", action="store_true", help="print JSON records instead of a table")
    show.add_argument("--pool-duplicates", action="store_true",
                      help="pool files holding the same setting and run as separate runs (default: refuse)")
    show.set_defaults(func=_summary)


def _summary(args) -> int:
    frame = summary(load_traces(args.traces, pool=args.pool_duplicates))
    if args.json:
        print(json.dumps(frame.to_dict(orient="records"), indent=2))
        return 0
    shown = frame.copy()
    shown["pass@1"] = shown["pass@1"].map(lambda v: f"{100 * v:.1f}%")
    shown["at_cap"] = shown["at_cap"].map(lambda v: f"{100 * v:.1f}%")
    shown["mean_tokens"] = shown["mean_tokens"].map(lambda v: f"{v:,.0f}")
    shown["p90_tokens"] = shown["p90_tokens"].map(lambda v: f"{v:,.0f}")
    print(shown.to_string(index=False))
    return 0
