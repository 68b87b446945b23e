"""The `kinetics` console script. Each command group lives in its own module of this package (argument parsing and
output formatting only; the library functions it calls take plain arguments and return data), imported only when
used."""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
import traceback

from kinetics.errors import InputError

# name -> (module defining register(parser), one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "hardware": ("kinetics.cli.hardware", "list or show hardware presets (peak FLOP/s, bandwidth, intensity)"),
    "models": ("kinetics.cli.models", "list or show model specs (parameters, KV bytes per token)"),
    "cost": ("kinetics.cli.cost", "FLOPs, bytes, eFLOPs and seconds of N trials of one problem"),
    "traces": ("kinetics.cli.traces", "summarise reasoning traces: pass@1, lengths, share at the length cap"),
    "frontier": ("kinetics.cli.frontier", "accuracy-cost frontiers (best-of-N, long CoT) under FLOPs or eFLOPs"),
    "verdicts": ("kinetics.cli.verdicts", "the paper's headline claims: ours with 95% CI, definition, verdict"),
    "eval": ("kinetics.cli.eval", "sample a model on AIME with real weights, grade, write Hugging Face traces"),
    "bench": ("kinetics.cli.bench", "benchmark the attention kernels against FlashInfer on a GPU"),
    "generate": ("kinetics.cli.generate", "run the engine on prompt token ids (real or random weights)"),
    "replay": ("kinetics.cli.replay", "replay traces' lengths through the engine; tokens/s vs the cost model"),
}


def add_list_and_show(parser: argparse.ArgumentParser, presets, get_one, print_list, print_one, show_help: str,
                      name_help: str | None = None) -> None:
    """The `list [--json]` and `show NAME [--json]` actions of a group of presets (hardware, models): `presets()`
    and `get_one(name)` give objects with `to_dict()`; `print_list(objects)` and `print_one(object)` print text."""
    def listing(args) -> int:
        objects = presets()
        if args.json:
            print(json.dumps([o.to_dict() for o in objects], indent=2))
        else:
            print_list(objects)
        return 0

    def show(args) -> int:
        one = get_one(args.name)
        if args.json:
            print(json.dumps(one.to_dict(), indent=2))
        else:
            print_one(one)
        return 0

    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    list_parser = sub.add_parser("list", help="list the presets")
    list_parser.add_argument("--json", action="store_true")
    list_parser.set_defaults(func=listing)
    show_parser = sub.add_parser("show", help=show_help)
    show_parser.add_argument("name", help=name_help)
    show_parser.add_argument("--json", action="store_true")
    show_parser.set_defaults(func=show)


class Parser(argparse.ArgumentParser):
    """argparse with the CLI's contract: a usage error is one line on stderr and exit code 2 (see `main`)."""

    def error(self, message: str):
        raise InputError(f"{message} ({self.prog}; see {self.prog} --help)")


def _top_parser() -> argparse.ArgumentParser:
    lines = "\n".join(f"  {name:<10} {help_}" for name, (_, help_) in COMMANDS.items())
    parser = Parser(
        prog="kinetics", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Kinetics, the book: the real cost of test-time scaling.",
        epilog=f"commands:\n{lines}\n\nRun 'kinetics COMMAND --help' for the options of one command. "
               f"--debug (anywhere) shows the traceback of an internal error.")
    parser.add_argument("command", choices=sorted(COMMANDS), metavar="COMMAND")
    return parser


def main(argv: list[str] | None = None) -> int:
    """The contract (README, "What the command line promises"): exit 0 on success; exit 2 and one line
    `kinetics: error: ...` for bad input; exit 130 and one line on what was saved when interrupted; exit 1 and one
    line for an internal fault, with the traceback only under --debug. Of several ranks, only rank 0 reports."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug, quiet = "--debug" in argv, _other_rank()
    try:
        return _run([a for a in argv if a != "--debug"], argv)
    except InputError as error:
        if not quiet:
            print(f"kinetics: error: {_one_line(str(error))}", file=sys.stderr)
        return 2
    except BrokenPipeError:   # `kinetics ... | head` closed the pipe: not an error of ours, and nothing to add
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt as stop:
        from kinetics.output import interrupt_note

        if not quiet:
            print(f"kinetics: interrupted: {_one_line(interrupt_note(stop))}", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 -- the contract: any other fault is an internal error, exit 1
        if debug:
            traceback.print_exc()
        print(f"kinetics: internal error: {type(error).__name__}: {_one_line(str(error))} (a bug: rerun with "
              f"--debug for the traceback and report it)", file=sys.stderr)
        return 1


def _other_rank() -> bool:
    """A rank other than 0 of a parallel run (it computes; rank 0 reports)."""
    return "WORLD_SIZE" in os.environ and int(os.environ.get("RANK", "0")) > 0


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _run(argv: list[str], full_argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not argv or argv[0] not in COMMANDS:
        if argv[:1] in (["-h"], ["--help"]):
            _top_parser().print_help()
            return 0
        _top_parser().parse_args(argv[:1] or [])
    name = argv[0]
    module = importlib.import_module(COMMANDS[name][0])
    parser = Parser(prog=f"kinetics {name}", description=COMMANDS[name][1])
    module.register(parser)
    args = parser.parse_args(argv[1:])
    if not hasattr(args, "func"):
        choices = next((a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction)), {})
        raise InputError(f"kinetics {name} needs one of: {', '.join(choices)} (see kinetics {name} --help)")
    tp, dp = getattr(args, "tp", 1), getattr(args, "dp", 1)
    ranks = max(tp, dp)
    if tp < 1 or dp < 1 or (tp > 1 and dp > 1):
        raise InputError(f"--tp and --dp must be >= 1 and only one of them above 1, got --tp {tp} --dp {dp}")
    if ranks > 1 and "WORLD_SIZE" not in os.environ:     # start the ranks here (torchrun starts them itself)
        from kinetics.engine.parallel import launch_local

        if ranks > (os.cpu_count() or 1) and not str(getattr(args, "device", "cpu")).startswith("cuda"):
            raise InputError(f"--tp/--dp {ranks}: more processes than the {os.cpu_count()} CPU cores here")

        return launch_local(ranks, full_argv, getattr(args, "device", "cpu"))
    if ranks > 1 and _other_rank():                      # ranks other than 0 compute; rank 0 reports
        sys.stdout = open(os.devnull, "w")
        logging.getLogger().setLevel(logging.ERROR)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
