"""Load a Hugging Face checkpoint (safetensors only, one file or sharded with an index) into the engine's model.

Every parameter of the model must be found exactly once with the right shape, and every tensor of the
checkpoint must be used: a missing, extra or mis-shaped tensor is an InputError naming it. Pickle checkpoints
(pytorch_model.bin) are refused: loading them can run arbitrary code.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import torch
from safetensors import safe_open

from kinetics.engine.parallel import read_shard
from kinetics.errors import InputError

_EXPERT = re.compile(r"^(model\.layers\.\d+\.mlp\.experts)\.(\d+)\.(gate_proj|up_proj|down_proj)\.weight$")


def checkpoint_files(directory: Path) -> list[Path]:
    """The safetensors files of a model directory: those the index names, or every *.safetensors."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(f"weights directory {str(directory)!r} does not exist")
    index = directory / "model.safetensors.index.json"
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text())["weight_map"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise InputError(f"{index}: not a safetensors index (no 'weight_map')") from None
        files = sorted({directory / name for name in weight_map.values()})
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            raise InputError(f"{index} names shard(s) that are not there: {', '.join(missing[:3])}")
        return files
    files = sorted(directory.glob("*.safetensors"))
    if not files:
        pickles = [p.name for p in directory.glob("*.bin")] + [p.name for p in directory.glob("*.pt")]
        hint = f" (found {', '.join(pickles[:2])}: pickle checkpoints are not loaded)" if pickles else ""
        raise InputError(f"weights directory {str(directory)!r} has no *.safetensors file{hint}")
    return files


@torch.no_grad()
def load_weights(model: torch.nn.Module, directory: Path) -> None:
    params = dict(model.named_parameters())
    tied = getattr(model.config, "tie_word_embeddings", False)
    expected = set(params) - ({"lm_head.weight"} if tied else set())
    loaded: set[str] = set()
    expert_parts: dict[str, set] = {}
    for path in checkpoint_files(directory):
        with safe_open(str(path), framework="pt", device="cpu") as f:
            for name in f.keys():
                tensor = read_shard(f, name)
                if tied and name == "lm_head.weight":
                    continue
                match = _EXPERT.match(name)
                if match:
                    prefix, expert, which = match.group(1), int(match.group(2)), match.group(3)
                    target_name = f"{prefix}.{'down_proj' if which == 'down_proj' else 'gate_up_proj'}"
                    target = params.get(target_name)
                    if target is None or expert >= target.shape[0]:
                        raise InputError(f"{path.name}: tensor {name!r} has no place in this model")
                    rows = target.shape[1] // 2
                    view = {"gate_proj": lambda: target[expert, :rows], "up_proj": lambda: target[expert, rows:],
                            "down_proj": lambda: target[expert]}[which]()
                    _copy(view, tensor, name, path)
                    expert_parts.setdefault(target_name, set()).add((expert, which))
                    continue
                if name not in params:
                    raise InputError(f"{path.name}: unexpected tensor {name!r} (does the config match the weights?)")
                _copy(params[name], tensor, name, path)
                loaded.add(name)
    for target_name, parts in expert_parts.items():
        experts = params[target_name].shape[0]
        kinds = ("down_proj",) if target_name.endswith("down_proj") else ("gate_proj", "up_proj")
        if len(parts) == experts * len(kinds):
            loaded.add(target_name)
    missing = sorted(expected - loaded)
    if missing:
        raise InputError(f"weights in {str(directory)!r} lack {len(missing)} tensor(s), e.g. {missing[0]!r}")


def _copy(param: torch.Tensor, tensor: torch.Tensor, name: str, path: Path) -> None:
    if tuple(param.shape) != tuple(tensor.shape):
        raise InputError(f"{path.name}: tensor {name!r} has shape {tuple(tensor.shape)}, the config implies "
                         f"{tuple(param.shape)}")
    param.copy_(tensor)
