"""kinetics verdicts: the paper's headline claims recomputed (kinetics.verdicts), as text or JSON."""
from __future__ import annotations

import argparse
import json
import sys

from kinetics.cli.hardware import add_hardware_arguments, hardware_from_args
from kinetics.cli.traces import TRACES_HELP
from kinetics.errors import InputError
from kinetics.frontier import CONVENTIONS
from kinetics.verdicts import ORDER, verdicts


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--traces", default=None, help=TRACES_HELP)
    parser.add_argument("--convention", choices=CONVENTIONS, default="paper")
    parser.add_argument("--claim", nargs="+", metavar="KEY", help=f"claims to compute (default: all): {', '.join(ORDER)}")
    parser.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples of the problems (default 1000)")
    parser.add_argument("--json", action="store_true", help="print the verdicts as a JSON list")
    add_hardware_arguments(parser)
    parser.set_defaults(func=_cli)


def _cli(args) -> int:
    if args.n_boot < 0:
        raise InputError(f"--n-boot must be >= 0, got {args.n_boot}")
    rows = verdicts(None, args.convention, hardware_from_args(args), args.claim, args.n_boot, traces=args.traces)
    if args.json:
        print(json.dumps([v.to_dict() for v in rows], indent=1))
    else:
        for v in rows:
            print(f"{v.claim}: paper {v.paper or '-'}; ours {v.ours_text()} ({v.convention}) -> {v.verdict}")
            print(f"    definition: {v.definition}")
            print(f"    sensitivity: {v.sensitivity}")
    failed = [v for v in rows if not v.computed]
    for v in failed:
        print(f"kinetics: {v.claim} cannot be computed: {v.sensitivity}", file=sys.stderr)
    return 1 if failed else 0
