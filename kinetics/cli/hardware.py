"""kinetics hardware list|show NAME, and the hardware options of the commands that price something."""
from __future__ import annotations

import argparse

from kinetics.cli import add_list_and_show
from kinetics.hardware import PRESETS, TERA, Hardware, get_hardware, resolve_hardware


def add_hardware_arguments(parser: argparse.ArgumentParser, default: str | None = "b200") -> None:
    """--hardware / --peak-tflops / --hbm-tbps / --memory-gb / --fp8-tflops, read back with `hardware_from_args`."""
    parser.add_argument("--hardware", default=default, help=f"hardware preset (default {default})")
    parser.add_argument("--peak-tflops", type=float, help="raw peak TFLOP/s (with --hbm-tbps, replaces --hardware)")
    parser.add_argument("--hbm-tbps", type=float, help="raw HBM bandwidth in TB/s")
    parser.add_argument("--memory-gb", type=float, help="raw memory in GB (sets the batch that shares weight reads)")
    parser.add_argument("--fp8-tflops", type=float, help="raw dense FP8 peak TFLOP/s (the paper's convention "
                                                         "prices at FP8 where the hardware has one)")


def hardware_from_args(args: argparse.Namespace) -> Hardware:
    return resolve_hardware(args.hardware, args.peak_tflops, args.hbm_tbps, args.memory_gb, args.fp8_tflops)


def register(parser: argparse.ArgumentParser) -> None:
    add_list_and_show(parser, lambda: list(PRESETS.values()), get_hardware, _print_list, _print_one,
                      "show one preset")


def _print_list(presets: list[Hardware]) -> None:
    print(f"{'name':<10} {'bf16 TFLOP/s':>12} {'fp8 TFLOP/s':>12} {'HBM TB/s':>9} {'mem GB':>7} {'I bf16':>7}")
    for hw in presets:
        fp8 = f"{hw.peak_flops['fp8'] / TERA:12.0f}" if "fp8" in hw.peak_flops else f"{'-':>12}"
        print(f"{hw.name:<10} {hw.peak('bf16') / TERA:12.0f} {fp8} {hw.hbm_bandwidth / 1e12:9.2f} "
              f"{hw.memory_bytes / 1e9:7.0f} {hw.intensity('bf16'):7.1f}")


def _print_one(hw: Hardware) -> None:
    print(f"{hw.name}  ({hw.source})")
    for dtype, rate in hw.peak_flops.items():
        print(f"  peak {dtype:<5} {rate / TERA:10.1f} TFLOP/s   intensity {hw.intensity(dtype):7.1f} FLOP/byte")
    print(f"  HBM bandwidth {hw.hbm_bandwidth / 1e12:.2f} TB/s, memory {hw.memory_bytes / 1e9:.0f} GB")
