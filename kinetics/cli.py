"""The `kinetics` console script. Each subcommand lives in its own module, imported only when used."""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from kinetics.errors import InputError

# name -> (module defining register(parser), one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "hardware": ("kinetics.hardware", "list or show hardware presets (peak FLOP/s, bandwidth, intensity)"),
    "models": ("kinetics.models", "list or show model specs (parameters, KV bytes per token)"),
    "cost": ("kinetics.cost", "FLOPs, bytes, eFLOPs and seconds of N trials of one problem"),
    "traces": ("kinetics.traces", "summarise reasoning traces: pass@1, lengths, share at the length cap"),
    "frontier": ("kinetics.frontier", "accuracy-cost frontiers (best-of-N, long CoT) under FLOPs or eFLOPs"),
    "eval": ("kinetics.eval", "sample a model on AIME with real weights, grade, write Hugging Face traces"),
    "bench": ("kinetics.kernels.bench", "benchmark the attention kernels against FlashInfer on a GPU"),
    "generate": ("kinetics.engine.cli_generate", "run the engine on prompt token ids (real or random weights)"),
    "replay": ("kinetics.engine.cli_replay", "replay traces' lengths through the engine; tokens/s vs the cost model"),
}


def _top_parser() -> argparse.ArgumentParser:
    lines = "\n".join(f"  {name:<10} {help_}" for name, (_, help_) in COMMANDS.items())
    parser = argparse.ArgumentParser(
        prog="kinetics", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Kinetics, the book: the real cost of test-time scaling.",
        epilog=f"commands:\n{lines}\n\nRun 'kinetics COMMAND --help' for the options of one command.")
    parser.add_argument("command", choices=sorted(COMMANDS), metavar="COMMAND")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not argv or argv[0] not in COMMANDS:
        _top_parser().parse_args(argv[:1] or ["--help"])
        return 2
    name = argv[0]
    module = importlib.import_module(COMMANDS[name][0])
    parser = argparse.ArgumentParser(prog=f"kinetics {name}", description=COMMANDS[name][1])
    module.register(parser)
    args = parser.parse_args(argv[1:])
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    tp, dp = getattr(args, "tp", 1), getattr(args, "dp", 1)
    ranks = max(tp, dp)
    quiet = ranks > 1 and "WORLD_SIZE" in os.environ and int(os.environ.get("RANK", "0")) > 0
    try:
        if tp < 1 or dp < 1 or (tp > 1 and dp > 1):
            raise InputError(f"--tp and --dp must be >= 1 and only one of them above 1, got --tp {tp} --dp {dp}")
        if ranks > 1 and "WORLD_SIZE" not in os.environ:     # start the ranks here (torchrun starts them itself)
            from kinetics.engine.parallel import launch_local

            return launch_local(ranks, argv, getattr(args, "device", "cpu"))
        if quiet:                                             # ranks other than 0 compute; rank 0 reports
            sys.stdout = open(os.devnull, "w")
            logging.getLogger().setLevel(logging.ERROR)
        return int(args.func(args) or 0)
    except InputError as error:
        if not quiet:
            print(f"kinetics: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
