"""kinetics models list|show NAME|PATH: model shapes, parameter counts, KV bytes per token."""
from __future__ import annotations

import argparse

from kinetics.cli import add_list_and_show
from kinetics.models import PRESET_CONFIGS, ModelSpec, get_model


def register(parser: argparse.ArgumentParser) -> None:
    add_list_and_show(parser, lambda: [get_model(name) for name in PRESET_CONFIGS], get_model, _print_list,
                      _print_one, "show a preset or a config.json",
                      "preset name or path to a config.json / model directory")


def _print_list(specs: list[ModelSpec]) -> None:
    print(f"{'name':<16} {'params':>9} {'active':>9} {'layers':>6} {'Hq/Hkv':>7} {'KV KiB/token':>12}")
    for s in specs:
        print(f"{s.name:<16} {s.params_total / 1e9:8.3f}B {s.params_active / 1e9:8.3f}B {s.num_layers:6d} "
              f"{s.num_heads:>3}/{s.num_kv_heads:<3} {s.kv_bytes_per_token(2) / 1024:12.1f}")


def _print_one(spec: ModelSpec) -> None:
    for key, value in spec.to_dict().items():
        print(f"{key:<24} {value:,}" if isinstance(value, (int, float)) and not isinstance(value, bool)
              else f"{key:<24} {value}")
