"""Reasoning traces as one tidy table: one row per sampled generation.

Two sources feed the same table:

* the Kinetics authors' per-problem tables (`*_numTrials_tradeoff.csv`, `*_tradeoff.csv`): one row per
  (problem, k) with the JSON list of every sample's generated-token count and the unbiased pass@k `coverage`.
  The number of correct samples of a problem is c = coverage(k=1) * n; *which* samples were correct is not recorded.
* the Hugging Face jsonl traces (InfiniAILab/Kinetics-generations, and the files our own eval writes with
  `write_hf_jsonl`): line 1 is a metadata object, then one line per sample with `query`, `choices`,
  `prediction` (a list holding the generated text) and `score` (0 or 100). Per-sample correctness is known.

The attention setting comes from the file name, the way the authors name their files:
`{task}_{model}_dense...`, `{task}_{model}_local{L}_topk{K}...` (oracle top-k, KV budget L + K tokens) and
`{task}_{model}_local{L}_block{S}_blocktopk{K}...` (K blocks of S tokens, budget L + S*K). A trailing `_1`
after the attention part marks a second run of the same setting; runs of one setting are pooled for analysis.

Columns of the tidy table (`TIDY_COLUMNS`): task, model (canonical, e.g. "qwen3-0.6b"), attention
("dense" | "topk" | "blocktopk"), budget (KV tokens; 0 for dense), block_size (0 unless block top-k),
local_window, run, source (file name), query_id, sample_id, n_samples, prompt_tokens, gen_tokens,
finished (stopped before the length cap), correct (nullable boolean: NA where unknown), num_correct (per problem).
"""
from __future__ import annotations

import io
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from kinetics.errors import InputError, read_text
from kinetics.output import atomic_write

# LiteSys generates at most 30,768 tokens (max_len 32768 minus 2000 reserved for the prompt). The traces' lengths
# are re-tokenised text, so a capped sample can read a few tokens off the cap, and the repetition stop drops the
# last 64 tokens: anything within 64 tokens of the cap counts as "did not finish".
CAP_TOKENS = 30768
CAP_SLACK = 64

# The longest generation a trace may record: 2^20 tokens, 25x the 40,960 positions of the longest-context model
# here. A length above it (or below 1) is a unit or parsing error, not a sample, and would price as nonsense.
MAX_TRACE_TOKENS = 1 << 20

ATTENTION_KINDS = ("dense", "topk", "blocktopk")
CONFIG_KEYS = ["task", "model", "attention", "budget", "block_size", "local_window"]
TIDY_COLUMNS = CONFIG_KEYS + ["run", "source", "query_id", "sample_id", "n_samples", "prompt_tokens",
                              "gen_tokens", "finished", "correct", "num_correct"]
CSV_REQUIRED = ("query_id", "query", "generation_length", "trial", "coverage")
HF_REQUIRED = ("query", "choices", "prediction", "score")

_SUFFIX = r"(?:_(?P<run>\d+))?(?:_(?:numTrials|ntrial|nTrials))?(?:_tradeoff)?"
_NAME_PATTERNS = (
    ("dense", re.compile(r"^(?P<task>[A-Za-z0-9]+)_(?P<model>[^_]+)_dense" + _SUFFIX + r"$")),
    ("topk", re.compile(r"^(?P<task>[A-Za-z0-9]+)_(?P<model>[^_]+)_local(?P<local>\d+)_topk(?P<topk>\d+)"
                        + _SUFFIX + r"$")),
    ("blocktopk", re.compile(r"^(?P<task>[A-Za-z0-9]+)_(?P<model>[^_]+)_local(?P<local>\d+)_block(?P<bs>\d+)"
                             r"_blocktopk(?P<topk>\d+)" + _SUFFIX + r"$")),
)


@dataclass(frozen=True)
class TraceConfig:
    """One attention setting of one model on one task (what a trace file holds)."""

    task: str
    model: str
    attention: str = "dense"
    budget: int = 0
    block_size: int = 0
    local_window: int = 0
    run: int = 0

    @property
    def label(self) -> str:
        if self.attention == "dense":
            return f"{self.model} dense"
        extra = f", local {self.local_window}" if self.local_window else ""
        block = f", block {self.block_size}" if self.attention == "blocktopk" else ""
        return f"{self.model} {self.attention} B={self.budget}{block}{extra}"


def _canonical_model(token: str, where: str) -> str:
    from kinetics.models import canonical_name, get_model

    try:
        get_model(token)
    except InputError:
        raise InputError(f"{where}: unknown model name {token!r} (field model)") from None
    return canonical_name(token)


def parse_trace_name(path: str | Path) -> TraceConfig:
    """The attention setting encoded in a trace file's name (see the module docstring)."""
    path = Path(path)
    stem = path.name.split(".")[0]
    for kind, pattern in _NAME_PATTERNS:
        match = pattern.match(stem)
        if match is None:
            continue
        parts = match.groupdict()
        model = _canonical_model(parts["model"], str(path))
        run = int(parts["run"] or 0)
        if kind == "dense":
            return TraceConfig(parts["task"].lower(), model, "dense", 0, 0, 0, run)
        local, topk = int(parts["local"]), int(parts["topk"])
        if kind == "topk":
            return TraceConfig(parts["task"].lower(), model, "topk", local + topk, 0, local, run)
        block = int(parts["bs"])
        if block <= 0 or topk <= 0:
            raise InputError(f"{path}: block size and block count must be positive in the file name")
        return TraceConfig(parts["task"].lower(), model, "blocktopk", local + block * topk, block, local, run)
    raise InputError(f"{path}: file name not understood; expected TASK_MODEL_dense, TASK_MODEL_localL_topkK or "
                     f"TASK_MODEL_localL_blockS_blocktopkK (optionally _numTrials_tradeoff), e.g. "
                     f"aime24_qwen3-8b_local0_topk128_numTrials_tradeoff.csv")


def trace_file_name(config: TraceConfig, suffix: str = ".jsonl") -> str:
    """The file name `parse_trace_name` reads back as `config` (model written the traces' way, 0.6b -> 0-6b)."""
    model = config.model.replace(".", "-")
    run = f"_{config.run}" if config.run else ""
    if config.attention == "dense":
        body = "dense"
    elif config.attention == "topk":
        body = f"local{config.local_window}_topk{config.budget - config.local_window}"
    elif config.attention == "blocktopk":
        blocks, rest = divmod(config.budget - config.local_window, config.block_size)
        if rest:
            raise InputError(f"block top-k budget {config.budget} minus local window {config.local_window} is not "
                             f"a multiple of the block size {config.block_size}")
        body = f"local{config.local_window}_block{config.block_size}_blocktopk{blocks}"
    else:
        raise InputError(f"attention {config.attention!r} unknown; use one of {', '.join(ATTENTION_KINDS)}")
    return f"{config.task}_{model}_{body}{run}{suffix}"


# ---- token counting ----------------------------------------------------------------------------------------------

_PROMPT_CACHE: dict[str, int] = {}


def _prompt_counts(texts: list[str]) -> list[int]:
    """Templated prompt lengths (kinetics.prompts), counted once per distinct problem text and cached."""
    missing = sorted({t for t in texts if t not in _PROMPT_CACHE})
    if missing:
        from kinetics.prompts import prompt_tokens_many

        _PROMPT_CACHE.update(zip(missing, (int(v) for v in prompt_tokens_many(missing))))
    return [_PROMPT_CACHE[t] for t in texts]


def count_tokens(texts: list[str]) -> np.ndarray:
    """Qwen3 token counts of generated texts (special tokens such as <think> count as one token each)."""
    import quicktok

    if not texts:
        return np.zeros(0, dtype=np.int64)
    return np.asarray(quicktok.count_batch(quicktok.get_encoding("qwen3"), texts, with_special=True),
                      dtype=np.int64)


def is_finished(gen_tokens, cap_tokens: int = CAP_TOKENS, slack: int = CAP_SLACK):
    """True where a generation stopped on its own, before the length cap (see CAP_SLACK)."""
    return np.asarray(gen_tokens) < cap_tokens - slack


# ---- the authors' per-problem tables --------------------------------------------------------------------------

def _pass_at_k_exact(n: int, c: int, k: int) -> float:
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def read_table_csv(path: str | Path) -> pd.DataFrame:
    """One of the authors' per-problem tables as tidy rows (one per sample). Every fault is an InputError."""
    path = Path(path)
    config = parse_trace_name(path)
    text = read_text(path, "trace table")
    try:
        raw = pd.read_csv(io.StringIO(text))
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise InputError(f"{path}: not a readable CSV table ({error})") from None
    for column in CSV_REQUIRED:
        if column not in raw.columns:
            raise InputError(f"{path}: missing column {column!r} (needs {', '.join(CSV_REQUIRED)})")
    if raw.empty:
        raise InputError(f"{path}: the table has no rows")

    problems: dict[int, dict] = {}
    for i, row in enumerate(raw.itertuples(index=False), start=1):
        where = f"{path}, row {i}"
        try:
            query_id, trial = int(row.query_id), int(row.trial)
            if float(row.query_id) != query_id or float(row.trial) != trial:
                raise ValueError
        except (TypeError, ValueError):
            raise InputError(f"{where}: query_id and trial must be integers, got {row.query_id!r}, "
                             f"{row.trial!r} (field query_id/trial)") from None
        try:
            lengths = json.loads(row.generation_length)
            if not (isinstance(lengths, list) and lengths
                    and all(isinstance(v, int) and not isinstance(v, bool) for v in lengths)):
                raise ValueError
        except (TypeError, ValueError):
            raise InputError(f"{where}: field generation_length must be a JSON list of integers, "
                             f"got {str(row.generation_length)[:60]!r}") from None
        odd = next((v for v in lengths if not 1 <= v <= MAX_TRACE_TOKENS), None)
        if odd is not None:
            raise InputError(f"{where}: field generation_length holds {odd}, outside 1..{MAX_TRACE_TOKENS:,} tokens")
        try:
            coverage = float(row.coverage)
        except (TypeError, ValueError):
            coverage = float("nan")
        if not 0.0 <= coverage <= 1.0:
            raise InputError(f"{where}: field coverage must be in [0, 1], got {row.coverage!r}")
        if "budget" in raw.columns and not pd.isna(row.budget) and int(row.budget) != config.budget:
            raise InputError(f"{where}: field budget is {row.budget}, but the file name says {config.budget}")
        n = len(lengths)
        if not 1 <= trial <= n:
            raise InputError(f"{where}: field trial is {trial}, outside 1..{n} (the number of samples)")
        problem = problems.setdefault(query_id, {"lengths": lengths, "query": str(row.query), "rows": {}})
        if problem["lengths"] != lengths:
            raise InputError(f"{where}: inconsistent sample counts or lengths for query_id {query_id} "
                             f"(field generation_length differs from its first row: {len(problem['lengths'])} vs "
                             f"{n} samples)")
        if trial in problem["rows"]:
            raise InputError(f"{where}: query_id {query_id} with trial {trial} appears twice (first at "
                             f"{problem['rows'][trial][1].rsplit(', ', 1)[-1]}); fields query_id/trial")
        problem["rows"][trial] = (coverage, where)

    counts = {q: len(p["lengths"]) for q, p in problems.items()}
    if len(set(counts.values())) > 1:
        first = next(iter(counts))
        odd = next(q for q, n in counts.items() if n != counts[first])
        raise InputError(f"{path}: inconsistent sample counts between problems ({counts[first]} samples for "
                         f"query_id {first}, {counts[odd]} for query_id {odd}; field generation_length)")

    rows = []
    for query_id, problem in sorted(problems.items()):
        n = len(problem["lengths"])
        if 1 not in problem["rows"]:
            raise InputError(f"{path}: query_id {query_id} has no trial=1 row, so its number correct is unknown "
                             f"(field trial)")
        coverage1, where = problem["rows"][1]
        c = round(coverage1 * n)
        if abs(coverage1 * n - c) > 1e-6:
            raise InputError(f"{where}: field coverage {coverage1} at trial 1 is not a multiple of 1/{n}")
        for trial, (coverage, where) in problem["rows"].items():
            if abs(_pass_at_k_exact(n, c, trial) - coverage) > 1e-6:
                raise InputError(f"{where}: field coverage {coverage} disagrees with pass@{trial} of {c} correct out "
                                 f"of {n} ({_pass_at_k_exact(n, c, trial):.6f})")
        rows.append((query_id, problem["lengths"], c))
    prompts = _prompt_counts([problems[query_id]["query"] for query_id, _, _ in rows])
    return table_from_counts(path, [(*row, prompt) for row, prompt in zip(rows, prompts)])


def table_from_counts(path: str | Path, problems: Iterable[tuple[int, list[int], int, int]]) -> pd.DataFrame:
    """Tidy rows of one per-problem table from its numbers alone: (query_id, generated-token counts of every sample,
    number correct, prompt tokens) per problem; the setting comes from the file name. Per-sample correctness is
    unknown (NA). The authors' tables and the table inside the package both become rows here."""
    path = Path(path)
    columns = {key: [] for key in ("query_id", "sample_id", "n_samples", "gen_tokens", "num_correct",
                                   "prompt_tokens")}
    for query_id, lengths, num_correct, prompt_tokens in problems:
        n = len(lengths)
        columns["query_id"] += [query_id] * n
        columns["sample_id"] += range(n)
        columns["n_samples"] += [n] * n
        columns["gen_tokens"] += lengths
        columns["num_correct"] += [num_correct] * n
        columns["prompt_tokens"] += [prompt_tokens] * n
    table = pd.DataFrame({key: np.asarray(v, dtype=np.int64) for key, v in columns.items()})
    table["finished"] = is_finished(table["gen_tokens"].to_numpy())
    table["correct"] = pd.array([pd.NA] * len(table), dtype="boolean")
    return _finish(table, parse_trace_name(path), path)


def _finish(table: pd.DataFrame, config: TraceConfig, path: Path) -> pd.DataFrame:
    for key in ("task", "model", "attention", "budget", "block_size", "local_window", "run"):
        table[key] = getattr(config, key)
    table["source"] = path.name
    return table[TIDY_COLUMNS]


# ---- the Hugging Face jsonl format (read and write) -------------------------------------------------------------

def _metadata_config(metadata: Mapping, where: str) -> TraceConfig | None:
    """The setting a metadata line states, or None when it names no model (then the file name decides)."""
    if "model" not in metadata:
        return None
    local = int(metadata.get("attn_local", 0) or 0)
    topk = int(metadata.get("attn_topk", 0) or 0)
    block_topk = int(metadata.get("attn_block_topk", 0) or 0)
    block_size = int(metadata.get("attn_block_size", 0) or 0)
    attention = metadata.get("attention") or ("blocktopk" if block_topk else "topk" if topk else "dense")
    if attention not in ATTENTION_KINDS:
        raise InputError(f"{where}: field attention is {attention!r}; use one of {', '.join(ATTENTION_KINDS)}")
    budget = {"dense": 0, "topk": local + topk, "blocktopk": local + block_size * block_topk}[attention]
    return TraceConfig(str(metadata.get("task", "unknown")).lower(), _canonical_model(str(metadata["model"]), where),
                       attention, budget, block_size if attention == "blocktopk" else 0,
                       local if attention != "dense" else 0, int(metadata.get("run", 0) or 0))


def write_hf_jsonl(path: str | Path, config: TraceConfig, samples: Iterable[Mapping],
                   extra_metadata: Mapping | None = None, cap_tokens: int = CAP_TOKENS) -> Path:
    """Write samples in the Hugging Face trace format that `read_hf_jsonl` reads.

    `path` may be a directory: the file is then named by `trace_file_name(config)`. Line 1 holds the metadata
    (task, model, attention, budget, the authors' attn_* keys, max_gen_tokens, plus `extra_metadata`); each sample is
    a mapping with `query` (str), `choices` (list of gold answers), `prediction` (list holding the text, or a str),
    `score` (0 or 100, or a bool) and optionally `gen_tokens`, `finished` and `prompt_tokens` (exact counts from the
    generator, preferred by the reader over re-tokenising the text).
    """
    path = Path(path)
    if path.is_dir():
        path = path / trace_file_name(config)
    trace_file_name(config)  # validates the setting
    blocks = (config.budget - config.local_window) // config.block_size if config.attention == "blocktopk" else 0
    metadata = {
        "task": config.task, "model": config.model, "attention": config.attention, "budget": config.budget,
        "attn_local": config.local_window, "attn_topk": config.budget - config.local_window
        if config.attention == "topk" else 0, "attn_block_size": config.block_size, "attn_block_topk": blocks,
        "run": config.run, "max_gen_tokens": int(cap_tokens), **dict(extra_metadata or {}),
    }
    lines = [json.dumps(metadata)]
    for i, sample in enumerate(samples, start=1):
        record = {key: sample[key] for key in HF_REQUIRED if key in sample}
        missing = [key for key in HF_REQUIRED if key not in sample]
        if missing:
            raise InputError(f"sample {i}: missing field {missing[0]!r} (needs {', '.join(HF_REQUIRED)})")
        if isinstance(record["prediction"], str):
            record["prediction"] = [record["prediction"]]
        if isinstance(record["score"], (bool, np.bool_)):
            record["score"] = 100.0 if record["score"] else 0.0
        record["choices"] = list(record["choices"]) if not isinstance(record["choices"], str) else [record["choices"]]
        for key in ("gen_tokens", "prompt_tokens"):
            if key in sample:
                record[key] = int(sample[key])
        if "finished" in sample:
            record["finished"] = bool(sample["finished"])
        _check_sample(record, f"sample {i}")
        lines.append(json.dumps(record))
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, "\n".join(lines) + "\n")


def _check_sample(record: Mapping, where: str) -> None:
    if not isinstance(record.get("query"), str):
        raise InputError(f"{where}: field query must be a string")
    if not isinstance(record.get("choices"), list):
        raise InputError(f"{where}: field choices must be a list of gold answers")
    prediction = record.get("prediction")
    if not (isinstance(prediction, list) and prediction and all(isinstance(p, str) for p in prediction)):
        raise InputError(f"{where}: field prediction must be a non-empty list of strings")
    score = record.get("score")
    if isinstance(score, bool) or not isinstance(score, (int, float)) or float(score) not in (0.0, 100.0):
        raise InputError(f"{where}: field score must be 0 or 100, got {score!r}")
    for key, low in (("gen_tokens", 1), ("prompt_tokens", 0)):
        if key in record and not (isinstance(record[key], int) and not isinstance(record[key], bool)
                                  and low <= record[key] <= MAX_TRACE_TOKENS):
            raise InputError(f"{where}: field {key} must be an integer in {low}..{MAX_TRACE_TOKENS:,}, "
                             f"got {record[key]!r}")
    if "finished" in record and not isinstance(record["finished"], bool):
        raise InputError(f"{where}: field finished must be true or false, got {record['finished']!r}")


def iter_jsonl(path: Path, lines: list[str], first_number: int = 1):
    """(where, record) for each non-blank line, `where` = "FILE, line N"; invalid JSON is one InputError."""
    for number, line in enumerate(lines, start=first_number):
        if not line.strip():
            continue
        where = f"{path}, line {number}"
        try:
            yield where, json.loads(line)
        except json.JSONDecodeError as error:
            raise InputError(f"{where}: not valid JSON ({error.msg})") from None


def read_hf_jsonl(path: str | Path) -> pd.DataFrame:
    """A Hugging Face jsonl trace file as tidy rows; lengths from `gen_tokens` or, if absent, the Qwen3 tokenizer."""
    path = Path(path)
    lines = read_text(path, "trace file").splitlines()
    if not lines or not lines[0].strip():
        raise InputError(f"{path}: empty file; line 1 must be the metadata object")
    try:
        metadata = json.loads(lines[0])
    except json.JSONDecodeError as error:
        raise InputError(f"{path}, line 1: the metadata line is not valid JSON ({error.msg})") from None
    if not isinstance(metadata, dict):
        raise InputError(f"{path}, line 1: the metadata line must be a JSON object")
    from_meta = _metadata_config(metadata, f"{path}, line 1")
    try:
        config = parse_trace_name(path)
    except InputError:
        if from_meta is None:
            raise
        config = from_meta
    if from_meta is not None:
        for key in ("model", "attention", "budget", "block_size", "local_window"):
            if getattr(from_meta, key) != getattr(config, key):
                raise InputError(f"{path}, line 1: field {key} is {getattr(from_meta, key)!r} in the metadata but "
                                 f"{getattr(config, key)!r} in the file name")
    cap = int(metadata.get("max_gen_tokens", CAP_TOKENS))

    records, wheres = [], []
    for where, record in iter_jsonl(path, lines[1:], first_number=2):
        if not isinstance(record, dict):
            raise InputError(f"{where}: a sample line must be a JSON object")
        for key in HF_REQUIRED:
            if key not in record:
                raise InputError(f"{where}: missing field {key!r} (needs {', '.join(HF_REQUIRED)})")
        if isinstance(record["prediction"], str):
            record["prediction"] = [record["prediction"]]
        _check_sample(record, where)
        records.append(record)
        wheres.append(where)
    if not records:
        raise InputError(f"{path}: no sample lines after the metadata line")

    _check_query_ids(records, wheres)
    query_ids: dict[str, int] = {}
    sample_ids: list[int] = []
    per_query: dict[int, int] = {}
    for record in records:
        q = query_ids.setdefault(record["query"], len(query_ids))
        sample_ids.append(per_query.get(q, 0))
        per_query[q] = per_query.get(q, 0) + 1
    if len(set(per_query.values())) > 1:
        counts = sorted(per_query.items())
        odd = next(q for q, n in counts if n != counts[0][1])
        raise InputError(f"{path}: inconsistent sample counts between problems ({counts[0][1]} samples for query 0, "
                         f"{per_query[odd]} for query {odd}; field query)")

    known = [r["gen_tokens"] if "gen_tokens" in r else None for r in records]
    missing = [i for i, v in enumerate(known) if v is None]
    if missing:
        counted = count_tokens([records[i]["prediction"][0] for i in missing])
        for i, value in zip(missing, counted):
            known[i] = int(value)
    gen = np.asarray(known, dtype=np.int64)
    slack = min(CAP_SLACK, cap // 10)   # short test runs have short caps
    finished = np.array([r["finished"] if "finished" in r else bool(is_finished(g, cap, slack))
                         for r, g in zip(records, gen)], dtype=bool)
    query_id = np.array([query_ids[r["query"]] for r in records])
    correct = np.array([float(r["score"]) > 0 for r in records], dtype=bool)
    table = pd.DataFrame({
        "query_id": query_id, "sample_id": sample_ids, "n_samples": per_query[0],
        "prompt_tokens": [r["prompt_tokens"] if "prompt_tokens" in r else count
                          for r, count in zip(records, _prompt_counts([r["query"] for r in records]))],
        "gen_tokens": gen, "finished": finished,
    })
    table["num_correct"] = pd.Series(correct).groupby(query_id).transform("sum").to_numpy()
    table["correct"] = pd.array(correct, dtype="boolean")
    table = table.sort_values(["query_id", "sample_id"], kind="stable", ignore_index=True)
    return _finish(table, config, path)


def _check_query_ids(records: list[dict], wheres: list[str]) -> None:
    """A sample's problem is its `query` text; an explicit `query_id` must name one problem only."""
    named: dict = {}
    for where, record in zip(wheres, records):
        if "query_id" in record:
            first = named.setdefault(record["query_id"], (record["query"], where))
            if first[0] != record["query"]:
                raise InputError(f"{where}: field query_id {record['query_id']!r} names another problem than at "
                                 f"{first[1].rsplit(', ', 1)[-1]}; problem ids must be unique per file")


# ---- the whole directory ----------------------------------------------------------------------------------------

_CACHE: dict[tuple, pd.DataFrame] = {}


def read_trace_file(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if path.suffix == ".csv":
        return read_table_csv(path)
    if path.suffix == ".jsonl":
        return read_hf_jsonl(path)
    raise InputError(f"{path}: unknown trace file type; expected .csv (per-problem table) or .jsonl (HF traces)")


def trace_files(directory: str | Path) -> list[Path]:
    """The trace files (*.csv tables, *.jsonl Hugging Face traces) under an existing directory, sorted."""
    root = Path(directory)
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".csv", ".jsonl"))
    if not files:
        raise InputError(f"traces directory {str(root)!r} holds no trace files (*.csv per-problem tables or "
                         f"*.jsonl Hugging Face traces)")
    return files


def load_traces(directory: str | Path | None = None, pool: bool = False) -> pd.DataFrame:
    """Every trace of one source as one tidy table; `table.attrs["traces_source"]` says which source.

    `directory`: see `kinetics.paths.traces_source` (None: $KINETICS_TRACES, then data/traces/, then the table
    inside the package). Two files holding the same setting and run (say a copy in another folder) are refused,
    both named: pooling them would count one run twice. With `pool`, such a file becomes one more run of its
    setting instead. A setting is never pooled across the two formats: the authors' tables number problems by
    their own ids, the jsonl files by the order of their queries, so one id would name two problems.
    Files are cached by (path, size, mtime), so chapters and the CLI can call this freely.
    """
    from kinetics import tracepack
    from kinetics.paths import portable_path, traces_source

    root, origin = traces_source(directory)
    if root is None:
        key = ("embedded", str(tracepack.embedded_path()))
        if key not in _CACHE:
            _CACHE[key] = tracepack.tidy_table()
        table = _CACHE[key].copy()
        table.attrs["traces_source"] = f"{tracepack.describe()} (from {origin})"
        return table
    frames, seen, formats = [], {}, {}
    for path in trace_files(root):
        stat = path.stat()
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        if key not in _CACHE:
            _CACHE[key] = read_trace_file(path)
        frame = _CACHE[key]
        setting = tuple(frame[CONFIG_KEYS].iloc[0])
        formats.setdefault(setting, {}).setdefault(path.suffix, path)
        mixed = [p for suffix, p in formats[setting].items() if suffix != path.suffix]
        if mixed:
            raise InputError(f"{mixed[0]} and {path} hold the same setting ({TraceConfig(*setting).label}) in two "
                             f"formats (.csv tables and .jsonl traces number problems differently); keep one")
        run = int(frame["run"].iloc[0])
        if (setting, run) in seen:
            if not pool:
                raise InputError(f"{seen[setting, run]} and {path} hold the same setting "
                                 f"({TraceConfig(*setting).label}, run {run}); remove one, or pool them as "
                                 f"separate runs (--pool-duplicates, load_traces(pool=True))")
            run = max(r for s, r in seen if s == setting) + 1
            frame = frame.assign(run=run)
        seen[setting, run] = path
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    for key in ("task", "model", "attention", "source"):
        table[key] = table[key].astype(str)
    # portable: the description travels into saved workloads, results files and rendered chapters
    table.attrs["traces_source"] = f"{len(frames)} trace files in {portable_path(root)!r} (from {origin})"
    return table


def authors_costs(directory: str | Path | None = None) -> pd.DataFrame:
    """The authors' published cost columns (tera-eFLOPs), one row per (source, query_id, trial), from the same
    source `load_traces` picks. Kept only to test the paper convention against, never read as results."""
    from kinetics import tracepack
    from kinetics.paths import traces_source

    root, _ = traces_source(directory)
    if root is None:
        return tracepack.authors_costs()
    columns = ["query_id", "trial", *tracepack.COST_COLUMNS]
    frames = []
    for path in trace_files(root):
        if path.suffix == ".csv":
            raw = pd.read_csv(path)
            if set(columns) <= set(raw.columns):
                frames.append(raw[columns].assign(source=path.name))
    if not frames:
        raise InputError(f"traces directory {str(root)!r} holds no table with the authors' cost columns "
                         f"({', '.join(tracepack.COST_COLUMNS)})")
    return pd.concat(frames, ignore_index=True)[["source", *columns]]


# ---- per-configuration arrays for the frontier ----------------------------------------------------------------

@dataclass(frozen=True)
class ProblemArrays:
    """One setting's samples as dense arrays, runs pooled: Q problems x n samples."""

    config: TraceConfig
    gen_tokens: np.ndarray      # (Q, n) int
    finished: np.ndarray        # (Q, n) bool
    prompt_tokens: np.ndarray   # (Q,) int
    num_correct: np.ndarray     # (Q,) int
    correct: np.ndarray | None  # (Q, n) bool where per-sample correctness is known, else None
    query_ids: np.ndarray       # (Q,)

    @property
    def n_samples(self) -> int:
        return self.gen_tokens.shape[1]


def group_arrays(table: pd.DataFrame) -> list[ProblemArrays]:
    """Split the tidy table into one ProblemArrays per setting (CONFIG_KEYS), pooling runs of a setting."""
    out = []
    for key, group in table.groupby(CONFIG_KEYS, sort=True):
        config = TraceConfig(*key, run=0)
        group = group.sort_values(["query_id", "run", "sample_id"], kind="stable")
        per_query = group.groupby("query_id").size()
        if per_query.nunique() != 1:
            raise InputError(f"{config.label}: problems have different numbers of samples across pooled runs "
                             f"({per_query.min()} to {per_query.max()}); field n_samples")
        q, n = len(per_query), int(per_query.iloc[0])
        known = group["correct"].notna().all()
        # a problem's correct count, summed over pooled runs (num_correct is repeated on every sample of a run)
        correct_counts = group.groupby(["query_id", "run"])["num_correct"].first().groupby("query_id").sum()
        out.append(ProblemArrays(
            config=config,
            gen_tokens=group["gen_tokens"].to_numpy(np.int64).reshape(q, n),
            finished=group["finished"].to_numpy(bool).reshape(q, n),
            prompt_tokens=group.groupby("query_id")["prompt_tokens"].first().to_numpy(np.int64),
            num_correct=correct_counts.to_numpy(np.int64),
            correct=group["correct"].to_numpy(bool).reshape(q, n) if known else None,
            query_ids=per_query.index.to_numpy(),
        ))
    return out


# ---- summary and CLI -----------------------------------------------------------------------------------------------

def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per setting: problems, samples, pass@1, mean and p90 generated length, share of samples at the length cap."""
    rows = []
    for arrays in group_arrays(table):
        config = arrays.config
        rows.append({
            "task": config.task, "model": config.model, "attention": config.attention, "budget": config.budget,
            "block_size": config.block_size, "local_window": config.local_window,
            "problems": arrays.gen_tokens.shape[0], "samples": int(arrays.gen_tokens.size),
            "pass@1": float(np.mean(arrays.num_correct / arrays.n_samples)),
            "mean_tokens": float(arrays.gen_tokens.mean()),
            "p90_tokens": float(np.percentile(arrays.gen_tokens, 90)),
            "at_cap": float(1.0 - arrays.finished.mean()),
        })
    frame = pd.DataFrame(rows)
    from kinetics.models import get_model

    frame["_size"] = frame["model"].map(lambda m: get_model(m).params_total)
    order = {kind: i for i, kind in enumerate(ATTENTION_KINDS)}
    frame["_kind"] = frame["attention"].map(order)
    return (frame.sort_values(["task", "_size", "_kind", "budget", "local_window"])
            .drop(columns=["_size", "_kind"]).reset_index(drop=True))
