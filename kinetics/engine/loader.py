"""Load a Hugging Face checkpoint (safetensors only, one file or sharded with an index) into the engine's model.

Every parameter of the model must be found exactly once with the right shape, and every tensor of the
checkpoint must be used: a missing, extra or mis-shaped tensor is an InputError naming it. Pickle checkpoints
(pytorch_model.bin) are refused: loading them can run arbitrary code.
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import torch
from safetensors import safe_open

from kinetics.engine.parallel import read_shard
from kinetics.errors import InputError

FINGERPRINT_BYTES = 64 << 10
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


def weights_fingerprint(directory: Path) -> str:
    """sha256 of what identifies a checkpoint's content cheaply: config.json, and every safetensors file's name,
    size, header (tensor names, dtypes, shapes, offsets) and first and last FINGERPRINT_BYTES of data. Headers and
    sizes alone cannot tell apart two checkpoints of one shape (a base model and its fine-tune); the sampled bytes
    do, at the cost of reading 128 KiB per file. A copy of the same files elsewhere has the same fingerprint."""
    digest = hashlib.sha256()
    directory = Path(directory)
    digest.update((directory / "config.json").read_bytes())
    for path in checkpoint_files(directory):
        size = path.stat().st_size
        with path.open("rb") as file:
            head = file.read(8)
            header = file.read(min(int.from_bytes(head, "little"), size)) if len(head) == 8 else b""
            first = file.read(FINGERPRINT_BYTES)
            file.seek(max(file.tell(), size - FINGERPRINT_BYTES))
            last = file.read(FINGERPRINT_BYTES)
        digest.update(f"{path.name}\0{size}\0".encode() + head + header + first + last)
    return digest.hexdigest()


@torch.no_grad()
def load_weights(model: torch.nn.Module, directory: Path, check_finite: bool = True) -> None:
    """Copy every tensor of the checkpoint into `model`. check_finite: refuse a tensor holding NaN or inf (a model
    with them writes token 0 forever); off, a corrupt checkpoint loads unnoticed."""
    params = dict(model.named_parameters())
    tied = getattr(model.config, "tie_word_embeddings", False)
    expected = set(params) - ({"lm_head.weight"} if tied else set())
    loaded: set[str] = set()
    expert_parts: dict[str, set] = {}
    found_in: dict[str, Path] = {}
    for path, name, tensor in _tensors(checkpoint_files(directory)):
        if name in found_in:
            raise InputError(f"tensor {name!r} is in two files, {found_in[name].name} and {path.name}; a checkpoint "
                             f"holds each tensor once")
        found_in[name] = path
        if not tensor.is_floating_point():
            raise InputError(f"{path.name}: tensor {name!r} has dtype {str(tensor.dtype).replace('torch.', '')}; "
                             f"weights must be floating point (the config's torch_dtype)")
        if check_finite and not bool(torch.isfinite(tensor).all()):
            raise InputError(f"{path.name}: tensor {name!r} holds NaN or inf values (not finite); the checkpoint is "
                             f"corrupt (--skip-finite-check loads it anyway)")
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


def _tensors(files: list[Path]):
    """(file, name, tensor) of every tensor of the safetensors files; a file that is empty, cut short or not
    safetensors at all is one InputError naming it."""
    from safetensors import SafetensorError

    for path in files:
        if path.stat().st_size < 8:
            raise InputError(f"{path}: empty or cut short ({path.stat().st_size} bytes), not a safetensors file")
        try:
            with safe_open(str(path), framework="pt", device="cpu") as f:
                for name in f.keys():
                    yield path, name, read_shard(f, name)
        except SafetensorError as error:
            raise InputError(f"{path}: not a readable safetensors file (truncated, empty or not safetensors: "
                             f"{error})") from None


def _copy(param: torch.Tensor, tensor: torch.Tensor, name: str, path: Path) -> None:
    if tuple(param.shape) != tuple(tensor.shape):
        raise InputError(f"{path.name}: tensor {name!r} has shape {tuple(tensor.shape)}, the config implies "
                         f"{tuple(param.shape)}")
    param.copy_(tensor)


@torch.no_grad()
def save_random_checkpoint(config: dict, directory: Path, seed: int = 0) -> Path:
    """A model directory (config.json + model.safetensors) of seeded random weights for the Hugging Face config
    `config`: what tests and chapters load when they need a checkpoint and have no real one."""
    from safetensors.torch import save_file

    from kinetics.engine.config import load_model_spec
    from kinetics.engine.qwen3 import Qwen3ForCausalLM

    model = Qwen3ForCausalLM.empty(load_model_spec(config), 8, torch.float32, torch.device("cpu"))
    model.init_random(seed)
    tensors = {name: t.contiguous() for name, t in model.state_dict().items()
               if not (config.get("tie_word_embeddings") and name == "lm_head.weight")}
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config))
    save_file(tensors, str(directory / "model.safetensors"))
    return directory
