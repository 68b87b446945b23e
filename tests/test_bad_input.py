"""Every bad input is named: one table of bad inputs over every subcommand, the Python API and the chapters'
parameters. Each case must end with exit code 2 and exactly one stderr line `kinetics: error: ...` that names the
field or file (and the value) at fault; an API case must raise InputError with such a one-line message.

`python tests/test_bad_input.py` prints how the cases end today, by family (clear / traceback / multi-line / vague /
silent / hang), without asserting anything: the before/after measure of the hardening work.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from kinetics.cli import main  # noqa: E402
from kinetics.errors import InputError  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from test_eval import _save_tiny_model  # noqa: E402
from test_traces import LENGTHS, CORRECT, table_rows  # noqa: E402

HANG_SECONDS = 60
CORES = os.cpu_count() or 1
TINY = {"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "vocab_size": 300, "hidden_size": 32,
        "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
        "head_dim": 16, "max_position_embeddings": 2048, "eos_token_id": 7}
DROP = object()
DENSE_CSV = "aime24_qwen3-0-6b_dense_numTrials_tradeoff.csv"
TOPK_META = {"model": "qwen3-0.6b", "task": "aime24", "attention": "topk", "attn_local": 0, "attn_topk": 64}


# ---- the world the cases run in: good files, each case spoils one thing -----------------------------------------

@dataclass
class World:
    root: Path          # a fresh directory per case
    model: Path         # a tiny real model directory (config, safetensors, tokenizer)
    traces: Path        # a good traces directory
    problems: Path      # a good problems file

    def config(self, raw: str | bytes | None = None, name: str = "config.json", **fields) -> str:
        """A config.json: TINY with `fields` changed (DROP removes one), or `raw` bytes/text as given."""
        path = self.root / "cfg" / name
        path.parent.mkdir(exist_ok=True)
        if raw is not None:
            path.write_bytes(raw if isinstance(raw, bytes) else raw.encode())
        else:
            config = {**TINY, **fields}
            path.write_text(json.dumps({k: v for k, v in config.items() if v is not DROP}))
        return str(path)

    def traces_with(self, files: dict[str, str | bytes], keep_good: bool = True) -> str:
        """A traces directory holding the good table (unless keep_good is False) and `files` (relative path: data)."""
        root = self.root / "traces"
        if keep_good:
            shutil.copytree(self.traces, root)
        root.mkdir(exist_ok=True)
        for relative, data in files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data if isinstance(data, bytes) else data.encode())
        return str(root)

    def weights_with(self, spoil: Callable[[Path], None]) -> str:
        """A copy of the tiny model directory, spoiled by `spoil(directory)`."""
        directory = self.root / "weights"
        shutil.copytree(self.model, directory)
        spoil(directory)
        return str(directory)

    def file(self, name: str, data: str | bytes = "keep me\n") -> str:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
        return str(path)


def csv_text(lengths=LENGTHS, correct=CORRECT, mutate=None) -> str:
    frame = table_rows(lengths, correct)
    if mutate is not None:
        mutate(frame)
    return frame.to_csv(index=False)


def hf_text(samples=None, metadata=None, gen_tokens=(100, 200)) -> str:
    metadata = metadata or {"model": "qwen3-0.6b", "task": "aime24", "attention": "dense"}
    rows = samples or [{"query": f"q{i // 2}", "choices": ["1"], "prediction": ["x"], "score": 100,
                        "gen_tokens": gen_tokens[i % len(gen_tokens)]} for i in range(4)]
    return "\n".join(json.dumps(r) for r in [metadata, *rows]) + "\n"


# ---- safetensors surgery ------------------------------------------------------------------------------------------

def _shard(directory: Path) -> Path:
    return next(directory.glob("*.safetensors"))


def truncate(directory: Path) -> None:
    path = _shard(directory)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def empty(directory: Path) -> None:
    _shard(directory).write_bytes(b"")


def garbage(directory: Path) -> None:
    _shard(directory).write_bytes(os.urandom(4096))


def header_only(directory: Path) -> None:
    path = _shard(directory)
    data = path.read_bytes()
    size = int.from_bytes(data[:8], "little")
    path.write_bytes(data[: 8 + size])


def _rewrite(directory: Path, change: Callable[[dict], dict]) -> None:
    from safetensors.torch import load_file, save_file

    path = _shard(directory)
    save_file(change(load_file(str(path))), str(path), metadata={"format": "pt"})


def nan_weights(directory: Path) -> None:
    def change(tensors):
        tensors["model.norm.weight"] = torch.full_like(tensors["model.norm.weight"], float("nan"))
        return tensors
    _rewrite(directory, change)


def int_weights(directory: Path) -> None:
    def change(tensors):
        tensors["model.norm.weight"] = tensors["model.norm.weight"].to(torch.int32)
        return tensors
    _rewrite(directory, change)


def twice(directory: Path) -> None:
    """model.norm.weight in a second shard too, both listed nowhere (no index): every *.safetensors is read."""
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(_shard(directory)))
    save_file({"model.norm.weight": tensors["model.norm.weight"] * 2}, str(directory / "extra.safetensors"),
              metadata={"format": "pt"})


def utf8_config(directory: Path) -> None:
    (directory / "config.json").write_bytes(b'{"hidden_size": "\xff\xfe"}')


# ---- the cases ----------------------------------------------------------------------------------------------------

@dataclass
class Case:
    id: str
    run: Callable[[World], list | Callable]   # CLI: the argv; API: a call that must raise InputError
    names: tuple[str, ...]                     # what the one line must name (field, file, value)
    kind: str = "cli"                          # cli (in process), proc (a subprocess, memory-capped), api
    skip_unless: Callable[[], bool] | None = field(default=None)


def cli(id, run, *names, kind="cli"):
    return Case(id, run, names, kind)


def api(id, call, *names):
    return Case(id, call, names, "api")


COST = ["cost", "--model", "qwen3-8b", "--prompt-tokens", "155", "--gen-tokens", "1000"]
GEN = ["generate", "--prompt-ids", "1,2,3", "--max-new-tokens", "4"]


def gen(w: World, *extra, model=None):
    return ["generate", "--model", model or w.config(), "--prompt-ids", "1,2,3", "--max-new-tokens", "4", *extra]


def replay(w: World, *extra):
    return ["replay", "--model", w.config(), "--trace-model", "qwen3-0.6b", "--traces", str(w.traces),
            "--trials", "2", "--max-problems", "1", "--length-scale", "0.01", "--no-progress", *extra]


def evaluate(w: World, *extra):
    return ["eval", "--weights", str(w.model), "--problems", str(w.problems), "--model", "qwen3-0.6b",
            "--max-new-tokens", "8", "--device", "cpu", *extra]


def frontier(w: World, *extra, traces=None):
    return ["frontier", "--traces", traces or str(w.traces), "--points", "8", *extra]


# bad config.json fields: (id, fields or raw, names)
BAD_CONFIGS = [
    ("hidden-float", {"hidden_size": 128.7}, ("hidden_size", "128.7")),
    ("layers-bool", {"num_hidden_layers": True}, ("num_hidden_layers", "True")),
    ("kv-heads-zero", {"num_key_value_heads": 0}, ("num_key_value_heads", "0")),
    ("intermediate-negative", {"intermediate_size": -5}, ("intermediate_size", "-5")),
    ("hidden-null", {"hidden_size": None}, ("hidden_size", "null")),
    ("hidden-text", {"hidden_size": "abc"}, ("hidden_size", "abc")),
    ("vocab-string-number", {"vocab_size": "300"}, ("vocab_size", "300")),
    ("vocab-missing", {"vocab_size": DROP}, ("vocab_size",)),
    ("heads-not-divisible", {"num_attention_heads": 3}, ("num_attention_heads", "3")),
    ("architecture-unknown", {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2"}, ("GPT2LMHeadModel",)),
    ("head-dim-zero", {"head_dim": 0}, ("head_dim", "0")),
    ("experts-per-token-too-many", {"architectures": ["Qwen3MoeForCausalLM"], "model_type": "qwen3_moe",
                                    "num_experts": 4, "num_experts_per_tok": 8, "moe_intermediate_size": 16},
     ("num_experts_per_tok", "8")),
    ("max-positions-zero", {"max_position_embeddings": 0}, ("max_position_embeddings", "0")),
    ("eps-text", {"rms_norm_eps": "x"}, ("rms_norm_eps", "x")),
    ("tie-text", {"tie_word_embeddings": "yes"}, ("tie_word_embeddings", "yes")),
    ("layers-inf-text", {"num_hidden_layers": "inf"}, ("num_hidden_layers", "inf")),
    ("not-json", "{hidden_size: 32", ("config.json", "JSON")),
    ("not-utf8", b'{"hidden_size": "\xff\xfe"}', ("config.json", "UTF-8")),
    ("json-list", "[1, 2]", ("config.json", "object")),
    ("empty-file", "", ("config.json",)),
]


def _config_run(fields):
    return (lambda w: w.config(raw=fields)) if not isinstance(fields, dict) else (lambda w: w.config(**fields))


CASES: list[Case] = []
for _id, _fields, _names in BAD_CONFIGS:
    _make = _config_run(_fields)
    CASES.append(cli(f"models-show-{_id}", lambda w, m=_make: ["models", "show", m(w)], *_names))
for _id, _fields, _names in BAD_CONFIGS[:10]:
    _make = _config_run(_fields)
    CASES.append(cli(f"cost-config-{_id}", lambda w, m=_make: ["cost", "--model", m(w), "--prompt-tokens", "10",
                                                                "--gen-tokens", "10"], *_names))
for _id, _fields, _names in BAD_CONFIGS[:10] + BAD_CONFIGS[12:13] + BAD_CONFIGS[16:18]:
    _make = _config_run(_fields)
    CASES.append(cli(f"generate-config-{_id}", lambda w, m=_make: gen(w, model=m(w)), *_names))
    CASES.append(api(f"api-llm-config-{_id}", lambda w, m=_make: __import__("kinetics.engine").engine.LLM(m(w)),
                     *_names))

CASES += [
    # ---- the top level and argparse ----
    cli("no-command", lambda w: [], "COMMAND"),
    cli("unknown-command", lambda w: ["bogus"], "bogus"),
    cli("models-no-action", lambda w: ["models"], "list"),
    cli("traces-no-action", lambda w: ["traces"], "summary"),
    cli("hardware-no-action", lambda w: ["hardware"], "list"),
    cli("bench-no-benchmark", lambda w: ["bench"], "attention"),
    cli("bench-unknown", lambda w: ["bench", "nope"], "nope"),
    cli("hardware-show-missing-name", lambda w: ["hardware", "show"], "name"),
    cli("cost-int-not-int", lambda w: ["cost", "--model", "qwen3-8b", "--prompt-tokens", "abc", "--gen-tokens",
                                       "10"], "--prompt-tokens", "abc"),
    cli("cost-unknown-flag", lambda w: COST + ["--frobnicate"], "--frobnicate"),
    cli("cost-bad-choice", lambda w: COST + ["--attention", "foo"], "--attention", "foo"),
    cli("generate-missing-prompt", lambda w: ["generate", "--model", w.config()], "--prompt-ids"),
    cli("eval-missing-weights", lambda w: ["eval"], "--weights"),
    cli("frontier-bad-strategy", lambda w: ["frontier", "--strategy", "nope"], "--strategy", "nope"),
    cli("replay-trials-text", lambda w: ["replay", "--trials", "x"], "--trials", "x"),
    # ---- hardware ----
    cli("hardware-show-unknown", lambda w: ["hardware", "show", "tpu9"], "tpu9"),
    cli("cost-hardware-unknown", lambda w: COST + ["--hardware", "tpu9"], "tpu9"),
    cli("cost-peak-zero", lambda w: COST + ["--peak-tflops", "0", "--hbm-tbps", "1"], "peak", "0"),
    cli("cost-peak-nan", lambda w: COST + ["--peak-tflops", "nan", "--hbm-tbps", "1"], "peak", "nan"),
    cli("cost-peak-alone", lambda w: COST + ["--peak-tflops", "100"], "--hbm-tbps"),
    cli("cost-bandwidth-inf", lambda w: COST + ["--peak-tflops", "100", "--hbm-tbps", "inf"], "HBM", "inf"),
    cli("cost-memory-negative", lambda w: COST + ["--memory-gb", "-5"], "--memory-gb", "-5"),
    cli("cost-memory-zero", lambda w: COST + ["--memory-gb", "0"], "--memory-gb", "0"),
    cli("cost-memory-nan-raw", lambda w: COST + ["--peak-tflops", "100", "--hbm-tbps", "1", "--memory-gb", "nan"],
        "memory", "nan"),
    cli("frontier-memory-nan", lambda w: frontier(w, "--memory-gb", "nan"), "--memory-gb", "nan"),
    # ---- cost ----
    cli("cost-gen-tokens-text", lambda w: ["cost", "--model", "qwen3-8b", "--prompt-tokens", "1", "--gen-tokens",
                                           "1,x"], "--gen-tokens", "1,x"),
    cli("cost-gen-tokens-zero", lambda w: ["cost", "--model", "qwen3-8b", "--prompt-tokens", "1", "--gen-tokens",
                                           "0"], "generated tokens", "0"),
    cli("cost-gen-tokens-negative", lambda w: ["cost", "--model", "qwen3-8b", "--prompt-tokens", "1",
                                               "--gen-tokens", "-5"], "generated tokens", "-5"),
    cli("cost-gen-tokens-huge", lambda w: ["cost", "--model", "qwen3-8b", "--prompt-tokens", "1", "--gen-tokens",
                                           "1000000000000000"], "generated tokens", "1000000000000000"),
    cli("cost-prompt-negative", lambda w: ["cost", "--model", "qwen3-8b", "--prompt-tokens", "-1", "--gen-tokens",
                                           "10"], "prompt tokens", "-1"),
    cli("cost-trials-zero", lambda w: COST + ["--trials", "0"], "trials", "0"),
    cli("cost-trials-huge", lambda w: COST + ["--trials", "100000000000"], "trials", "100000000000", kind="proc"),
    cli("cost-topk-no-budget", lambda w: COST + ["--attention", "topk"], "--budget"),
    cli("cost-budget-zero", lambda w: COST + ["--attention", "topk", "--budget", "0"], "budget", "0"),
    cli("cost-block-size-zero", lambda w: COST + ["--attention", "blocktopk", "--budget", "64", "--block-size", "0"],
        "block size", "0"),
    cli("cost-budget-not-multiple", lambda w: COST + ["--attention", "blocktopk", "--budget", "100"],
        "budget", "100"),
    cli("cost-batch-zero", lambda w: COST + ["--batch-size", "0"], "batch_size", "0"),
    cli("cost-batch-nan", lambda w: COST + ["--batch-size", "nan"], "batch_size", "nan"),
    cli("cost-kv-bytes-zero", lambda w: COST + ["--kv-bytes", "0"], "kv_dtype_bytes", "0"),
    cli("cost-local-window-negative", lambda w: COST + ["--attention", "topk", "--budget", "64", "--local-window",
                                                        "-1"], "local_window", "-1"),
    cli("cost-dense-layers-too-many", lambda w: COST + ["--attention", "topk", "--budget", "64", "--dense-layers",
                                                        "99"], "dense_layers", "99"),
    cli("cost-model-unknown", lambda w: ["cost", "--model", "gpt-5", "--prompt-tokens", "1", "--gen-tokens", "1"],
        "gpt-5"),
    cli("models-show-missing-file", lambda w: ["models", "show", str(w.root / "nope.json")], "nope.json"),
    cli("models-show-dir-without-config", lambda w: ["models", "show", str(w.root)], str("config.json")),
    # ---- traces and frontier over bad trace directories ----
    cli("traces-missing-dir", lambda w: ["traces", "summary", "--traces", str(w.root / "none")], "none"),
    cli("traces-empty-dir", lambda w: ["traces", "summary", "--traces", str(w.root)], str("trace files")),
    cli("traces-csv-not-utf8", lambda w: ["traces", "summary", "--traces", w.traces_with(
        {"x/aime24_qwen3-8b_dense.csv": b"query_id,query\n1,\xff\xfe\n"})], "aime24_qwen3-8b_dense.csv", "UTF-8"),
    cli("traces-jsonl-not-utf8", lambda w: ["traces", "summary", "--traces", w.traces_with(
        {"x/aime24_qwen3-8b_dense.jsonl": b'{"model": "qwen3-8b"}\n{"query": "\xff"}\n'})],
        "aime24_qwen3-8b_dense.jsonl", "UTF-8"),
    cli("traces-csv-zero-length", lambda w: ["traces", "summary", "--traces", w.traces_with(
        {"dense/" + DENSE_CSV: csv_text([[0, 5, 6, 7], *LENGTHS[1:]])}, keep_good=False)],
        "generation_length", "0"),
    cli("traces-csv-huge-length", lambda w: ["traces", "summary", "--traces", w.traces_with(
        {"dense/" + DENSE_CSV: csv_text([[10 ** 15, 5, 6, 7], *LENGTHS[1:]])}, keep_good=False)],
        "generation_length", "1000000000000000"),
    cli("traces-csv-duplicate-row", lambda w: ["traces", "summary", "--traces", w.traces_with(
        {"dense/" + DENSE_CSV: csv_text() + csv_text().splitlines()[1] + "\n"}, keep_good=False)],
        DENSE_CSV, "query_id"),
    cli("traces-jsonl-zero-tokens", lambda w: ["traces", "summary", "--traces", w.traces_with(
        {"aime24_qwen3-0-6b_dense.jsonl": hf_text(gen_tokens=(0, 5))}, keep_good=False)], "gen_tokens", "0"),
    cli("traces-jsonl-huge-tokens", lambda w: ["traces", "summary", "--traces", w.traces_with(
        {"aime24_qwen3-0-6b_dense.jsonl": hf_text(gen_tokens=(10 ** 15, 5))}, keep_good=False)],
        "gen_tokens", "1000000000000000"),
    cli("traces-same-setting-two-folders", lambda w: ["traces", "summary", "--traces", w.traces_with(
        {"copy/" + DENSE_CSV: csv_text()})], "dense/" + DENSE_CSV, "copy/" + DENSE_CSV),
    cli("traces-csv-and-jsonl-same-setting", lambda w: ["traces", "summary", "--traces", w.traces_with(
        {"aime24_qwen3-0-6b_dense.jsonl": hf_text()})], DENSE_CSV, "aime24_qwen3-0-6b_dense.jsonl"),
    cli("frontier-same-setting-two-folders", lambda w: frontier(w, traces=w.traces_with(
        {"copy/" + DENSE_CSV: csv_text()})), "dense/" + DENSE_CSV, "copy/" + DENSE_CSV),
    cli("traces-jsonl-empty", lambda w: ["traces", "summary", "--traces", w.traces_with(
        {"aime24_qwen3-0-6b_local0_topk64.jsonl": ""})], "aime24_qwen3-0-6b_local0_topk64.jsonl"),
    cli("traces-jsonl-metadata-list", lambda w: ["traces", "summary", "--traces", w.traces_with(
        {"aime24_qwen3-0-6b_local0_topk64.jsonl": "[1]\n"})], "aime24_qwen3-0-6b_local0_topk64.jsonl", "line 1"),
    cli("traces-jsonl-score-50", lambda w: ["traces", "summary", "--traces", w.traces_with(
        {"aime24_qwen3-0-6b_local0_topk64.jsonl": hf_text(samples=[{"query": "q", "choices": ["1"],
                                                                    "prediction": ["x"], "score": 50}],
                                                          metadata=TOPK_META)})],
        "score", "50"),
    cli("traces-jsonl-duplicate-problem-ids", lambda w: ["traces", "summary", "--traces", w.traces_with(
        {"aime24_qwen3-0-6b_local0_topk64.jsonl": hf_text(samples=[
            {"query": "q", "choices": ["1"], "prediction": ["x"], "score": 0, "gen_tokens": 5, "query_id": 3},
            {"query": "r", "choices": ["1"], "prediction": ["x"], "score": 0, "gen_tokens": 5, "query_id": 3}],
            metadata=TOPK_META)})],
        "query_id", "3"),
    cli("traces-csv-missing-column", lambda w: ["traces", "summary", "--traces", w.traces_with(
        {"dense/" + DENSE_CSV: "query_id,query\n1,x\n"}, keep_good=False)], DENSE_CSV, "coverage"),
    cli("traces-csv-coverage-2", lambda w: ["traces", "summary", "--traces", w.traces_with(
        {"dense/" + DENSE_CSV: csv_text(mutate=lambda f: f.__setitem__("coverage", 2.0))}, keep_good=False)],
        "coverage", "2"),
    cli("traces-name-not-understood", lambda w: ["traces", "summary", "--traces", w.traces_with(
        {"results.csv": "a,b\n1,2\n"})], "results.csv"),
    cli("traces-csv-length-float", lambda w: ["traces", "summary", "--traces", w.traces_with(
        {"dense/" + DENSE_CSV: csv_text([[10.5, 5, 6, 7], *LENGTHS[1:]])}, keep_good=False)],
        "generation_length", "10.5"),
    cli("frontier-points-one", lambda w: frontier(w, "--points", "1"), "--points", "1"),
    cli("frontier-points-huge", lambda w: frontier(w, "--points", "100000000"), "--points", "100000000",
        kind="proc"),
    cli("frontier-attention-none", lambda w: frontier(w, "--attention", "blocktopk"), "blocktopk"),
    # ---- output files ----
    cli("frontier-csv-exists", lambda w: frontier(w, "--csv", w.file("mine.csv")), "mine.csv", "--force"),
    cli("frontier-csv-onto-its-input", lambda w: frontier(w, "--csv", str(w.traces / "dense" / DENSE_CSV)),
        DENSE_CSV, "--force"),
    cli("frontier-csv-missing-dir", lambda w: frontier(w, "--csv", str(w.root / "no" / "such" / "x.csv")),
        "--csv", "no/such"),
    cli("frontier-csv-onto-dir", lambda w: frontier(w, "--csv", str(w.root)), "--csv", "directory"),
    cli("frontier-csv-under-a-file", lambda w: frontier(w, "--csv", w.file("plain") + "/x.csv"), "--csv", "plain"),
    cli("frontier-plot-exists", lambda w: frontier(w, "--plot", w.file("mine.png")), "mine.png", "--force"),
    cli("frontier-plot-unknown-extension", lambda w: frontier(w, "--plot", str(w.root / "f.xyz")),
        "--plot", "f.xyz"),
    cli("frontier-plot-missing-dir", lambda w: frontier(w, "--plot", str(w.root / "no" / "f.png")),
        "--plot", "no"),
    cli("replay-save-workload-exists", lambda w: replay(w, "--save-workload", w.file("w.json")),
        "w.json", "--force"),
    cli("replay-save-workload-missing-dir", lambda w: replay(w, "--save-workload", str(w.root / "no" / "w.json")),
        "--save-workload", "no"),
    cli("replay-save-workload-onto-dir", lambda w: replay(w, "--save-workload", str(w.root)),
        "--save-workload", "directory"),
    cli("eval-out-exists", lambda w: evaluate(w, "--out", w.file("run.jsonl")), "run.jsonl", "--force"),
    cli("eval-out-under-a-file", lambda w: evaluate(w, "--out", w.file("plain") + "/run.jsonl"), "--out", "plain"),
    cli("eval-out-other-extension", lambda w: evaluate(w, "--out", w.file("run.txt")), "--out", "run.txt"),
    cli("bench-attention-out-exists-on-cpu", lambda w: ["bench", "attention", "--out", w.file("a.json")], "CUDA"),
    # ---- generate ----
    cli("generate-ids-text", lambda w: ["generate", "--model", w.config(), "--prompt-ids", "a,b"],
        "--prompt-ids", "a,b"),
    cli("generate-ids-empty", lambda w: ["generate", "--model", w.config(), "--prompt-ids", ","], "--prompt-ids"),
    cli("generate-ids-negative", lambda w: ["generate", "--model", w.config(), "--prompt-ids=-1,2"],
        "--prompt-ids", "-1"),
    cli("generate-ids-beyond-vocab", lambda w: ["generate", "--model", w.config(), "--prompt-ids", "5,999999"],
        "999999", "vocab"),
    cli("generate-max-new-zero", lambda w: gen(w, "--max-new-tokens", "0"), "max_tokens", "0"),
    cli("generate-max-new-negative", lambda w: gen(w, "--max-new-tokens", "-3"), "max_tokens", "-3"),
    cli("generate-max-new-huge", lambda w: gen(w, "--max-new-tokens", "100000000000"), "max_position_embeddings",
        "2048", kind="proc"),
    cli("generate-cache-huge", lambda w: gen(w, "--max-new-tokens", "100000000000", model=w.config(
        max_position_embeddings=10 ** 12)), "KV cache", "GB", kind="proc"),
    cli("generate-beyond-max-positions", lambda w: gen(w, "--max-new-tokens", "3000"),
        "max_position_embeddings", "2048"),
    cli("generate-huge-model", lambda w: gen(w, model=w.config(hidden_size=10 ** 12, head_dim=16)), "GB",
        kind="proc"),
    cli("generate-temperature-negative", lambda w: gen(w, "--temperature", "-1"), "temperature", "-1"),
    cli("generate-temperature-nan", lambda w: gen(w, "--temperature", "nan"), "temperature", "nan"),
    cli("generate-top-p-zero", lambda w: gen(w, "--top-p", "0"), "top_p", "0"),
    cli("generate-top-p-big", lambda w: gen(w, "--top-p", "1.5"), "top_p", "1.5"),
    cli("generate-top-k-negative", lambda w: gen(w, "--top-k", "-2"), "top_k", "-2"),
    cli("generate-budget-not-multiple", lambda w: gen(w, "--attention", "blocktopk", "--budget", "100"),
        "budget", "100"),
    cli("generate-page-size-12", lambda w: gen(w, "--page-size", "12"), "page_size", "12"),
    cli("generate-budget-one-page", lambda w: gen(w, "--attention", "blocktopk", "--budget", "16"), "budget", "16"),
    cli("generate-max-model-len-zero", lambda w: gen(w, "--max-model-len", "0"), "max-model-len", "0"),
    cli("generate-max-model-len-negative", lambda w: gen(w, "--max-model-len", "-5"), "max-model-len", "-5"),
    cli("generate-max-model-len-too-small", lambda w: gen(w, "--max-model-len", "4"), "max-model-len", "4"),
    cli("generate-num-pages-zero", lambda w: gen(w, "--num-pages", "0"), "num_pages", "0"),
    cli("generate-max-num-seqs-zero", lambda w: gen(w, "--max-num-seqs", "0"), "--max-num-seqs", "0"),
    cli("generate-device-tpu", lambda w: gen(w, "--device", "tpu"), "tpu"),
    cli("generate-device-cuda", lambda w: gen(w, "--device", "cuda"), "cuda"),
    cli("generate-dtype-int8", lambda w: gen(w, "--dtype", "int8"), "int8"),
    cli("generate-sinks-negative", lambda w: gen(w, "--attention", "blocktopk", "--budget", "64", "--sinks", "-1"),
        "sinks", "-1"),
    cli("generate-dense-layers-negative", lambda w: gen(w, "--attention", "blocktopk", "--budget", "64",
                                                        "--dense-layers", "-1"), "dense_layers", "-1"),
    cli("generate-weights-missing", lambda w: ["generate", "--weights", str(w.root / "none"), "--prompt-ids", "1"],
        "none"),
    cli("generate-weights-no-safetensors", lambda w: ["generate", "--weights", w.weights_with(
        lambda d: _shard(d).unlink()), "--prompt-ids", "1"], "safetensors"),
    cli("generate-weights-truncated", lambda w: ["generate", "--weights", w.weights_with(truncate), "--prompt-ids",
                                                 "1"], "model.safetensors"),
    cli("generate-weights-empty", lambda w: ["generate", "--weights", w.weights_with(empty), "--prompt-ids", "1"],
        "model.safetensors"),
    cli("generate-weights-garbage", lambda w: ["generate", "--weights", w.weights_with(garbage), "--prompt-ids",
                                               "1"], "model.safetensors"),
    cli("generate-weights-header-only", lambda w: ["generate", "--weights", w.weights_with(header_only),
                                                   "--prompt-ids", "1"], "model.safetensors"),
    cli("generate-weights-tensor-twice", lambda w: ["generate", "--weights", w.weights_with(twice), "--prompt-ids",
                                                    "1"], "model.norm.weight", "extra.safetensors"),
    cli("generate-weights-nan", lambda w: ["generate", "--weights", w.weights_with(nan_weights), "--prompt-ids",
                                           "1"], "model.norm.weight", "finite"),
    cli("generate-weights-int-dtype", lambda w: ["generate", "--weights", w.weights_with(int_weights),
                                                 "--prompt-ids", "1"], "model.norm.weight", "int32"),
    cli("generate-weights-config-not-utf8", lambda w: ["generate", "--weights", w.weights_with(utf8_config),
                                                       "--prompt-ids", "1"], "config.json", "UTF-8"),
    # ---- replay ----
    cli("replay-traces-missing", lambda w: ["replay", "--model", w.config(), "--trace-model", "qwen3-0.6b",
                                            "--traces", str(w.root / "none")], "none"),
    cli("replay-trace-model-unknown", lambda w: replay(w, "--trace-model", "gpt-5"), "gpt-5"),
    cli("replay-trace-model-absent", lambda w: replay(w, "--trace-model", "qwen3-32b"), "qwen3-32b"),
    cli("replay-length-scale-zero", lambda w: replay(w, "--length-scale", "0"), "--length-scale", "0"),
    cli("replay-length-scale-nan", lambda w: replay(w, "--length-scale", "nan"), "--length-scale", "nan"),
    cli("replay-trials-zero", lambda w: replay(w, "--trials", "0"), "trials", "0"),
    cli("replay-trials-too-many", lambda w: replay(w, "--trials", "99"), "99"),
    cli("replay-max-problems-zero", lambda w: replay(w, "--max-problems", "0"), "max_problems", "0"),
    cli("replay-max-gen-zero", lambda w: replay(w, "--max-gen-tokens", "0"), "max-gen-tokens", "0"),
    cli("replay-lengths-from-bogus", lambda w: replay(w, "--lengths-from", "bogus"), "bogus"),
    cli("replay-task-unknown", lambda w: replay(w, "--task", "mmlu"), "mmlu"),
    cli("replay-hardware-unknown", lambda w: replay(w, "--hardware", "tpu9"), "tpu9"),
    cli("replay-peak-negative", lambda w: replay(w, "--peak-tflops", "-1", "--hbm-tbps", "1"), "peak", "-1"),
    cli("replay-workload-broken", lambda w: replay(w)[:5] + ["--traces", w.file("w.json", "{broken")], "w.json"),
    cli("replay-workload-not-utf8", lambda w: replay(w)[:5] + ["--traces", w.file("w.json", b"\xff\xfe")],
        "w.json", "UTF-8"),
    cli("replay-saturate-zero", lambda w: replay(w, "--saturate", "0"), "--saturate", "0"),
    # a cache that cannot hold one sequence of the workload: plain replay and the saturated mode
    cli("replay-cache-too-small", lambda w: replay(w, "--num-pages", "2"), "context limit"),
    cli("replay-saturate-cache-too-small", lambda w: replay(w, "--saturate", "4", "--num-pages", "2"),
        "cache is too small"),
    cli("replay-budget-one-page", lambda w: replay(w, "--attention", "blocktopk", "--budget", "16"),
        "budget", "16", "two pages"),
    cli("replay-max-model-len-zero", lambda w: replay(w, "--max-model-len", "0"), "max-model-len", "0"),
    # ---- eval ----
    cli("eval-weights-missing", lambda w: ["eval", "--weights", str(w.root / "none")], "none"),
    cli("eval-trials-zero", lambda w: evaluate(w, "--trials", "0"), "--trials", "0"),
    cli("eval-limit-zero", lambda w: evaluate(w, "--limit", "0"), "--limit", "0"),
    cli("eval-chunk-negative", lambda w: evaluate(w, "--chunk", "-1"), "--chunk", "-1"),
    cli("eval-problems-not-utf8", lambda w: evaluate(w, "--problems", w.file("p.jsonl", b'{"problem": "\xff"}\n')),
        "p.jsonl", "UTF-8"),
    cli("eval-problems-missing", lambda w: evaluate(w, "--problems", str(w.root / "none.jsonl")), "none.jsonl"),
    cli("eval-problems-empty", lambda w: evaluate(w, "--problems", w.file("p.jsonl", "")), "p.jsonl"),
    cli("eval-top-p-two", lambda w: evaluate(w, "--top-p", "2"), "--top-p", "2"),
    cli("eval-temperature-negative", lambda w: evaluate(w, "--temperature", "-1"), "--temperature", "-1"),
    cli("eval-budget-not-multiple", lambda w: evaluate(w, "--attention", "blocktopk", "--budget", "100"),
        "--budget", "100"),
    cli("eval-max-new-zero", lambda w: evaluate(w, "--max-new-tokens", "0"), "--max-new-tokens", "0"),
    cli("eval-model-unknown", lambda w: evaluate(w, "--model", "gpt-5"), "gpt-5"),
    cli("eval-page-size-12", lambda w: evaluate(w, "--page-size", "12"), "--page-size", "12"),
    cli("eval-checkpoint-not-utf8", lambda w: evaluate(w, "--out", str(w.root / "o.jsonl"), "--chunk", "1") if
        w.file("o.jsonl.partial", b"\xff\xfe\n") else [], "o.jsonl.partial", "UTF-8"),
    cli("eval-checkpoint-garbage", lambda w: evaluate(w, "--out", str(w.root / "o.jsonl"), "--chunk", "1") if
        w.file("o.jsonl.partial", "not json\n") else [], "o.jsonl.partial"),
    # ---- verdicts, and the parallel options ----
    cli("verdicts-claim-unknown", lambda w: ["verdicts", "--traces", str(w.traces), "--claim", "five_x_faster"],
        "five_x_faster"),
    cli("verdicts-n-boot-negative", lambda w: ["verdicts", "--traces", str(w.traces), "--n-boot", "-1"],
        "--n-boot", "-1"),
    cli("verdicts-hardware-unknown", lambda w: ["verdicts", "--traces", str(w.traces), "--hardware", "abacus"],
        "abacus"),
    cli("verdicts-convention", lambda w: ["verdicts", "--convention", "roughly"], "--convention", "roughly"),
    cli("verdicts-traces-missing", lambda w: ["verdicts", "--traces", str(w.root / "none")], "none"),
    cli("generate-tp-zero", lambda w: gen(w, "--tp", "0"), "--tp", "0"),
    cli("generate-tp-text", lambda w: gen(w, "--tp", "two"), "--tp", "two"),
    cli("replay-tp-and-dp", lambda w: replay(w, "--tp", "2", "--dp", "2"), "--tp 2 --dp 2"),
    # one rank more than the cores: refused before any process starts (a regression starts only that many)
    cli("replay-dp-more-than-cores", lambda w: replay(w, "--dp", str(CORES + 1)), "--dp", str(CORES + 1)),
    cli("eval-dp-zero", lambda w: evaluate(w, "--dp", "0"), "--dp 0"),
    # ---- bench ----
    cli("bench-attention-no-gpu", lambda w: ["bench", "attention"], "CUDA"),
    cli("bench-engine-no-gpu", lambda w: ["bench", "engine"], "CUDA"),
    cli("bench-engine-unknown-part", lambda w: ["bench", "engine", "--parts", "foo"], "foo"),
]


def _api(call):
    return call


def _chapter(chapter, **values):
    """The chapter's parameters cell run as papermill would run it, `values` injected after it, then checked."""
    def call(w):
        from kinetics.parameters import parameters_cell

        namespace: dict = {}
        exec(parameters_cell(chapter), namespace)
        namespace.update(values)
        exec(parameters_cell(chapter, after=1), namespace)   # the chapter's own check cell
    return call


CH0, CH1, CH2, CH3, CH4, CH5, CH6 = ("00_findings.py", "01_cost_model.py", "02_scaling_laws.py",
                                     "03_sparse_scaling.py", "04_block_topk_kernels.py", "05_engine_on_traces.py",
                                     "06_scale_out.py")


def _spec(**fields):
    from kinetics.models import ModelSpec
    return ModelSpec.from_config({**TINY, **fields})


def _cost(**kwargs):
    from kinetics.cost import generation_cost
    from kinetics.hardware import get_hardware
    from kinetics.models import get_model
    args = {"prompt_tokens": 10, "gen_tokens": 100, **kwargs}
    return generation_cost(get_model("qwen3-8b"), get_hardware("b200"), **args)


def _read(w, name, data):
    from kinetics.traces import read_trace_file
    return read_trace_file(w.file(name, data))


CASES += [
    # ---- the Python API ----
    api("api-spec-hidden-float", lambda w: _spec(hidden_size=128.7), "hidden_size", "128.7"),
    api("api-spec-layers-bool", lambda w: _spec(num_hidden_layers=True), "num_hidden_layers", "True"),
    api("api-spec-kv-zero", lambda w: _spec(num_key_value_heads=0), "num_key_value_heads", "0"),
    api("api-spec-intermediate-negative", lambda w: _spec(intermediate_size=-5), "intermediate_size", "-5"),
    api("api-spec-vocab-null", lambda w: _spec(vocab_size=None), "vocab_size", "null"),
    api("api-spec-experts-text", lambda w: _spec(num_experts="many"), "num_experts", "many"),
    api("api-spec-not-a-dict", lambda w: __import__("kinetics.models").models.ModelSpec.from_config([1]), "object"),
    api("api-hardware-memory-negative", lambda w: __import__("kinetics.hardware").hardware.resolve_hardware(
        "b200", memory_gb=-1), "memory", "-1"),
    api("api-hardware-raw-zero", lambda w: __import__("kinetics.hardware").hardware.hardware_from_numbers(0, 1),
        "peak", "0"),
    api("api-cost-gen-negative", lambda w: _cost(gen_tokens=-5), "generated tokens", "-5"),
    api("api-cost-gen-zero", lambda w: _cost(gen_tokens=0), "generated tokens", "0"),
    api("api-cost-prompt-negative", lambda w: _cost(prompt_tokens=-1), "prompt tokens", "-1"),
    api("api-cost-trials-zero", lambda w: _cost(trials=0), "trials", "0"),
    api("api-cost-convention", lambda w: _cost(convention="wrong"), "convention", "wrong"),
    api("api-read-csv-not-utf8", lambda w: _read(w, DENSE_CSV, b"query_id\n\xff\n"), DENSE_CSV, "UTF-8"),
    api("api-read-jsonl-not-utf8", lambda w: _read(w, "aime24_qwen3-8b_dense.jsonl", b"\xff\n"),
        "aime24_qwen3-8b_dense.jsonl", "UTF-8"),
    api("api-read-zero-length", lambda w: _read(w, DENSE_CSV, csv_text([[0, 1, 2, 3], *LENGTHS[1:]])),
        "generation_length", "0"),
    api("api-read-unknown-suffix", lambda w: _read(w, "aime24_qwen3-8b_dense.txt", "x"), "aime24_qwen3-8b_dense.txt"),
    api("api-attention-budget-not-multiple", lambda w: __import__("kinetics.engine").engine.AttentionConfig(
        kind="blocktopk", budget=100, page_size=16), "budget", "100"),
    api("api-engine-max-model-len-zero", lambda w: __import__("kinetics.engine").engine.EngineConfig(
        max_model_len=0), "max_model_len", "0"),
    api("api-engine-memory-utilization", lambda w: __import__("kinetics.engine").engine.EngineConfig(
        gpu_memory_utilization=1.5), "gpu_memory_utilization", "1.5"),
    api("api-sampling-max-tokens-zero", lambda w: __import__("kinetics.engine").engine.SamplingParams(
        max_tokens=0), "max_tokens", "0"),
    api("api-sampling-top-k-float", lambda w: __import__("kinetics.engine").engine.SamplingParams(top_k=2.5),
        "top_k", "2.5"),
    api("api-bootstrap-zero", lambda w: __import__("kinetics.metrics").metrics.bootstrap_weights(10, 0),
        "n_boot", "0"),
    api("api-workload-trace-model", lambda w: __import__("kinetics.engine.replay").engine.replay.load_workload(
        str(w.traces), "gpt-5"), "gpt-5"),
    api("api-workload-length-scale-zero", lambda w: __import__("kinetics.engine.replay").engine.replay
        .load_workload(str(w.traces), "qwen3-0.6b", length_scale=0), "length scale", "0"),
    api("api-step-model-other-device", lambda w: __import__("kinetics.step_time").step_time.StepModel(
        {"dense": [0.0] * 5}, "nvidia-h100-80gb-hbm3").save(w.root / "step_model.json") and __import__(
        "kinetics.step_time").step_time.StepModel.load(w.root / "step_model.json", device="nvidia-h200"),
        "nvidia-h100-80gb-hbm3", "nvidia-h200"),
    api("api-eval-settings-trials", lambda w: __import__("kinetics.eval").eval.EvalSettings(trials=0),
        "--trials", "0"),
    api("api-eval-settings-budget", lambda w: __import__("kinetics.eval").eval.EvalSettings(
        attention="blocktopk", budget=100), "--budget", "100"),
    # ---- the chapters' parameters (the check cell after the parameters cell) ----
    api("ch1-unknown", _chapter(CH1, hardwre="h100"), "hardwre", CH1),
    api("ch1-gen-tokens-negative", _chapter(CH1, gen_tokens=-1), "gen_tokens", "-1"),
    api("ch1-quick-text", _chapter(CH1, quick="yes"), "quick", "yes"),
    api("ch1-models-empty", _chapter(CH1, models=[]), "models", "[]"),
    api("ch1-max-tokens-float", _chapter(CH1, max_tokens=1.5), "max_tokens", "1.5"),
    api("ch1-memory-negative", _chapter(CH1, memory_gb=-80), "memory_gb", "-80"),
    api("ch2-n-boot-zero", _chapter(CH2, n_boot=0), "n_boot", "0"),
    api("ch2-strategy", _chapter(CH2, strategy="greedy"), "strategy", "greedy"),
    api("ch2-unknown", _chapter(CH2, budget=3), "budget", CH2),
    api("ch2-peak-text", _chapter(CH2, peak_tflops="fast"), "peak_tflops", "fast"),
    api("ch3-strategy-unknown", _chapter(CH3, strategy="both"), "strategy", CH3),
    api("ch0-n-boot-zero", _chapter(CH0, n_boot=0), "n_boot", "0"),
    api("ch0-unknown", _chapter(CH0, budget=1), "budget", CH0),
    api("ch6-ranks-zero", _chapter(CH6, predict_ranks=[1, 0]), "predict_ranks", "[1, 0]"),
    api("ch6-live-tokens-text", _chapter(CH6, live_tokens="24"), "live_tokens", "24"),
    api("ch3-n-boot-negative", _chapter(CH3, n_boot=-1), "n_boot", "-1"),
    api("ch4-hardware-unknown", _chapter(CH4, hardware="h100"), "hardware", CH4),
    api("ch4-measure-live-cpu", _chapter(CH4, measure_live=True), "measure_live", "True"),
    api("ch4-measure-live-text", _chapter(CH4, measure_live="sometimes"), "measure_live", "sometimes"),
    api("ch4-budget-pages-zero", _chapter(CH4, budget_pages=0), "budget_pages", "0"),
    api("ch4-page-sizes-12", _chapter(CH4, page_sizes=[8, 12]), "page_sizes", "12"),
    api("ch5-trace-model", _chapter(CH5, trace_model="gpt-5"), "trace_model", "gpt-5"),
    api("ch5-length-scale-zero", _chapter(CH5, length_scale=0), "length_scale", "0"),
    api("ch5-problems-zero", _chapter(CH5, problems=0), "problems", "0"),
    api("ch5-measure-live-cpu", _chapter(CH5, measure_live=True), "measure_live", "True"),
    api("ch5-sparse-budget", _chapter(CH5, sparse_budget=30), "sparse_budget", "30"),
    api("ch5-page-size-12", _chapter(CH5, page_size=12), "page_size", "12"),
    api("ch5-unknown", _chapter(CH5, hardware="h100"), "hardware", CH5),
]


# ---- running one case ---------------------------------------------------------------------------------------------

class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang()


@dataclass
class Outcome:
    family: str        # clear, traceback, multi-line, vague, silent, hang
    code: int | None
    stderr: str


def classify(code, stderr: str, names) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    if "Traceback" in stderr or code == 1:
        return "traceback"
    if code == 0:
        return "silent"
    if len(lines) != 1 or not lines[0].startswith("kinetics: error: "):
        return "multi-line"
    return "clear" if all(name in lines[0] for name in names) else "vague"


def run_case(case: Case, world: World, capsys, argv: list | None = None) -> Outcome:
    if case.kind == "api":
        try:
            case.run(world)
        except InputError as error:
            return Outcome(classify(2, f"kinetics: error: {error}\n", case.names), 2, str(error))
        except Exception:  # noqa: BLE001 -- anything else is what the table measures
            return Outcome("traceback", None, traceback.format_exc())
        return Outcome("silent", 0, "")
    argv = [str(a) for a in (argv if argv is not None else case.run(world))]
    if case.kind == "proc":
        return _run_process(argv, world, case.names)
    capsys.readouterr()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(HANG_SECONDS)
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except _Hang:
        return Outcome("hang", None, "")
    except Exception:  # noqa: BLE001
        return Outcome("traceback", None, traceback.format_exc())
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    err = capsys.readouterr().err
    return Outcome(classify(code, err, case.names), code, err)


def _limit_memory():
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))


def _run_process(argv, world: World, names) -> Outcome:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    try:
        done = subprocess.run([sys.executable, "-m", "kinetics.cli", *argv], capture_output=True, text=True,
                              timeout=HANG_SECONDS, cwd=world.root, env=env, preexec_fn=_limit_memory)
    except subprocess.TimeoutExpired:
        return Outcome("hang", None, "")
    err = "\n".join(line for line in done.stderr.splitlines() if not line.startswith(("WARNING", "INFO")))
    return Outcome(classify(done.returncode, err, names), done.returncode, done.stderr)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad-input-base")
    model = _save_tiny_model(root / "tiny-qwen3")
    traces = root / "good-traces"
    (traces / "dense").mkdir(parents=True)
    (traces / "dense" / DENSE_CSV).write_text(csv_text())
    problems = root / "problems.jsonl"
    problems.write_text(json.dumps({"problem": "Compute $3 + 4$.", "answer": "7"}) + "\n")
    return model, traces, problems


@pytest.fixture
def world(base, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KINETICS_TRACES", raising=False)
    model, traces, problems = base
    shutil.copytree(traces, tmp_path / "good-traces")   # a case may try to write over it
    return World(tmp_path / "case", model, tmp_path / "good-traces", problems)


def test_cases_are_many_and_named_once():
    assert len(CASES) >= 150
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))


@pytest.mark.usefixtures("one_torch_thread")
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_one_clear_line(case, world, capsys):
    world.root.mkdir()
    argv = None if case.kind == "api" else case.run(world)   # writes the case's files
    kept = {p: p.read_bytes() for p in world.root.parent.rglob("*") if p.is_file()}
    outcome = run_case(case, world, capsys, argv)
    assert outcome.family == "clear", f"family={outcome.family} code={outcome.code}\n{outcome.stderr[-3000:]}"
    for path, data in kept.items():   # a rejected command leaves every file it was given as it was
        assert path.read_bytes() == data, f"{path} changed"


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q", "-p", "no:cacheprovider", "-rf", *sys.argv[1:]]))
