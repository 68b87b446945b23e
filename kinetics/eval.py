"""`kinetics eval`: sample a model with real weights on AIME, grade the boxed answers, write Hugging Face traces.

The run follows the authors' LiteSys evaluation (ORIGINAL.md §4.5): one user turn holding their prompt around the
problem, rendered with the model's own chat template (thinking on); temperature 0.6, top-p 0.95, top-k 20; at most
32,768 tokens in all and 30,768 generated; N trials of every problem, each its own sample; the whole decoded output
(thinking included) graded by `kinetics.grading`, 100 for right and 0 for wrong.

LiteSys also stops a sample that loops: once its last 64 tokens already occur 15 times in the 1,024 tokens before
them, it ends there and drops those 64 tokens. Our engine has no such stop, so we apply it afterwards
(`repetition_cut`): sampling is causal, so cutting the finished sequence at the first step where the rule fires
gives exactly the tokens LiteSys would have returned; the tokens after the cut only cost time. Block top-k runs keep
LiteSys's 4 sink tokens and dense first layer unless told otherwise (--sinks, --dense-layers), with the block = the
KV page (--page-size, 16 as in LiteSys).

One departure, deliberate: every sample has its own seed derived from (seed, problem, trial), so a sample does not
change when the batch, the problem subset or the order changes (LiteSys ignores its --seed). That is also what makes
a long run safe to checkpoint (--chunk N): a run that dies resumes and ends with exactly the same samples.

The traces go out in the format `kinetics.traces` reads (line 1 metadata, then one line per sample with `query`,
`choices`, `prediction`, `score`, plus the exact token counts), written by `kinetics.traces.write_hf_jsonl`.
torch, transformers and the engine are imported only when a run starts.
"""
from __future__ import annotations

import argparse
import bisect
import hashlib
import json
import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from kinetics import grading
from kinetics.errors import InputError
from kinetics.paths import DEFAULT_TRACES, REPO_ROOT

log = logging.getLogger(__name__)

TASKS = ("aime24", "aime25")
# Where the authors' eval_math.py took the problems from (users with network access; --dataset overrides).
TASK_DATASETS = {"aime24": "HuggingFaceH4/aime_2024", "aime25": "math-ai/aime25"}
MAX_LENGTH = 32_768      # LiteSys max_len: prompt + generation
MAX_NEW_TOKENS = 30_768  # LiteSys gen_len (2,000 tokens left for the prompt)
TEMPERATURE, TOP_P, TOP_K = 0.6, 0.95, 20
PROBLEM_FIELDS = ("problem", "answer")
# LiteSys's loop stop (litesys/engine/engine.py): block 64, window 1024, threshold max(1024 // 64 - 1, 2) = 15
REPEAT_BLOCK, REPEAT_WINDOW = 64, 1024
REPEAT_THRESHOLD = max(REPEAT_WINDOW // REPEAT_BLOCK - 1, 2)


# ---- problems ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    """One problem: its text (the trace's `query`) and the reference answer (the trace's `choices[0]`)."""
    problem: str
    answer: str
    where: str = ""   # file and line, for error messages


def default_problems_file(task: str) -> Path:
    """`../shared/problems/<task>.jsonl` next to the repository (where this project keeps the AIME sets)."""
    return REPO_ROOT.parent / "shared" / "problems" / f"{task}.jsonl"


def _problem(record, where: str) -> Problem:
    if not isinstance(record, dict):
        raise InputError(f"{where}: a problem must be a JSON object with fields {', '.join(PROBLEM_FIELDS)}")
    for field in PROBLEM_FIELDS:
        if field not in record or record[field] is None:
            raise InputError(f"{where}: missing field {field!r} (a problem needs {', '.join(PROBLEM_FIELDS)})")
    text, answer = record["problem"], record["answer"]
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"{where}: field 'problem' must be a non-empty string")
    if isinstance(answer, bool) or not isinstance(answer, (str, int, float)) or not str(answer).strip():
        raise InputError(f"{where}: field 'answer' must be a number or a non-empty string, got {answer!r}")
    try:
        grading.gold_value(answer)
    except ValueError:
        raise InputError(f"{where}: field 'answer' {answer!r} is not a number or expression the grader reads") \
            from None
    return Problem(text, str(answer).strip(), where)


def load_problems(path: str | Path) -> list[Problem]:
    """Problems from a jsonl file: one JSON object per line with `problem` and `answer` (other fields ignored)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"problems file {str(path)!r} does not exist")
    problems = []
    from kinetics.traces import iter_jsonl

    for where, record in iter_jsonl(path, path.read_text(encoding="utf-8").splitlines()):
        problems.append(_problem(record, where))
    if not problems:
        raise InputError(f"problems file {str(path)!r} holds no problems")
    return problems


def load_dataset_problems(dataset: str, split: str | None = None) -> list[Problem]:
    """Problems from a Hugging Face dataset (needs the `datasets` package and network access, or its cache)."""
    try:
        import datasets
    except ImportError:
        raise InputError(f"--dataset {dataset} needs the 'datasets' package (pip install datasets); or give a local "
                         f"--problems FILE (jsonl with problem and answer)") from None
    try:
        loaded = datasets.load_dataset(dataset)
    except Exception as error:  # noqa: BLE001 -- network, auth and name errors come in many types
        raise InputError(f"cannot load dataset {dataset!r}: {str(error).splitlines()[0] if str(error) else error}") \
            from None
    if split is None:
        names = list(loaded)
        split = next((s for s in ("test", "train") if s in names), names[0] if len(names) == 1 else None)
        if split is None:
            raise InputError(f"dataset {dataset!r} has splits {', '.join(names)}; choose one with --split")
    if split not in loaded:
        raise InputError(f"dataset {dataset!r} has no split {split!r}; it has {', '.join(loaded)}")
    return [_problem(dict(row), f"{dataset} [{split}] row {i}") for i, row in enumerate(loaded[split])]


def problems_for(task: str, problems: str | Path | None = None, dataset: str | None = None,
                 split: str | None = None) -> list[Problem]:
    """The problems of a run: --problems FILE, else --dataset ID, else the project's local copy for the task."""
    if problems is not None and dataset is not None:
        raise InputError("give either --problems FILE or --dataset ID, not both")
    if problems is not None:
        return load_problems(problems)
    if dataset is not None:
        return load_dataset_problems(dataset, split)
    default = default_problems_file(task)
    if not default.is_file():
        raise InputError(f"no problems for task {task}: give --problems FILE (jsonl with problem and answer) or "
                         f"--dataset {TASK_DATASETS.get(task, 'HF_ID')}; the default ../shared/problems/{task}.jsonl "
                         f"next to the repository does not exist")
    return load_problems(default)


# ---- settings ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class EvalSettings:
    """Everything that decides the samples (written to the traces' metadata line)."""
    task: str = "aime24"
    trials: int = 1
    temperature: float = TEMPERATURE
    top_p: float = TOP_P
    top_k: int = TOP_K
    max_new_tokens: int = MAX_NEW_TOKENS
    max_length: int = MAX_LENGTH
    seed: int = 0
    attention: str = "dense"
    budget: int = 1024
    page_size: int = 16
    sinks: int = 4          # LiteSys's sparse attention always keeps the first 4 tokens ...
    dense_layers: int = 1   # ... and keeps layer 0 dense (ORIGINAL.md §4.2); both apply to block top-k only
    repetition_stop: bool = True   # LiteSys's loop stop, applied after generation (see repetition_cut)

    def __post_init__(self):
        def integer(name, low):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InputError(f"--{name.replace('_', '-')} must be an integer >= {low}, got {value!r}")
        if not isinstance(self.task, str) or not self.task.isalnum():
            raise InputError(f"--task must be a short name like aime24, got {self.task!r}")
        integer("trials", 1)
        integer("max_new_tokens", 1)
        integer("max_length", 2)
        integer("seed", 0)
        integer("sinks", 0)
        integer("dense_layers", 0)
        if not (isinstance(self.temperature, (int, float)) and math.isfinite(self.temperature)
                and self.temperature >= 0):
            raise InputError(f"--temperature must be a finite number >= 0 (0 = greedy), got {self.temperature!r}")
        if not (isinstance(self.top_p, (int, float)) and 0 < self.top_p <= 1):
            raise InputError(f"--top-p must be in (0, 1], got {self.top_p!r}")
        if isinstance(self.top_k, bool) or not isinstance(self.top_k, int) or self.top_k < 0:
            raise InputError(f"--top-k must be an integer >= 0 (0 = off), got {self.top_k!r}")
        if self.attention not in ("dense", "blocktopk"):
            raise InputError(f"--attention must be dense or blocktopk, got {self.attention!r}")
        integer("page_size", 1)
        if self.page_size & (self.page_size - 1):
            raise InputError(f"--page-size must be a power of two, got {self.page_size}")
        if self.attention == "blocktopk":
            integer("budget", 2 * self.page_size)
            if self.budget % self.page_size:
                raise InputError(f"--budget {self.budget} must be a multiple of --page-size {self.page_size} "
                                 f"(block top-k attends whole pages)")

    def sampling_metadata(self) -> dict:
        return {"temperature": self.temperature, "top_p": self.top_p, "top_k": self.top_k,
                "max_new_tokens": self.max_new_tokens, "max_length": self.max_length, "seed": self.seed}


def sample_seed(seed: int, problem: str, trial: int) -> int:
    """A sample's own seed from (run seed, problem text, trial): the same sample whatever else runs with it."""
    digest = hashlib.sha256(f"{seed}\x00{trial}\x00{problem}".encode()).digest()
    return int.from_bytes(digest[:7], "little")


# ---- the model directory: tokenizer, chat template, stop tokens ---------------------------------------------------

def _check_weights_dir(weights: str | Path) -> Path:
    path = Path(weights)
    if not path.is_dir():
        raise InputError(f"weights directory {str(path)!r} does not exist")
    if not (path / "config.json").is_file():
        raise InputError(f"weights directory {str(path)!r} has no config.json")
    if not any(path.glob("*.safetensors")):
        raise InputError(f"weights directory {str(path)!r} has no *.safetensors file")
    if not ((path / "tokenizer.json").is_file() or (path / "tokenizer_config.json").is_file()):
        raise InputError(f"weights directory {str(path)!r} has no tokenizer (tokenizer.json + tokenizer_config.json)")
    return path


def load_tokenizer(weights: str | Path):
    """The model's tokenizer and chat template, from its directory only (never the Hugging Face hub)."""
    path = Path(weights)
    if not ((path / "tokenizer.json").is_file() or (path / "tokenizer_config.json").is_file()):
        raise InputError(f"weights directory {str(path)!r} has no tokenizer (tokenizer.json + tokenizer_config.json)")
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except Exception as error:  # noqa: BLE001 -- transformers raises OSError, ValueError, KeyError, ...
        raise InputError(f"cannot load the tokenizer of {str(path)!r}: {str(error).splitlines()[0]}") from None
    if not getattr(tokenizer, "chat_template", None):
        raise InputError(f"the tokenizer of {str(path)!r} has no chat_template (tokenizer_config.json or "
                         f"chat_template.jinja); the prompt needs the model's chat template")
    return tokenizer


def build_prompt(tokenizer, question: str) -> str:
    """The authors' user turn around `question`, rendered by the model's chat template, thinking on."""
    from kinetics.prompts import user_message

    messages = [{"role": "user", "content": user_message(question)}]
    try:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True,
                                             enable_thinking=True)
    except Exception as error:  # noqa: BLE001 -- a broken jinja template fails in many ways
        raise InputError(f"the model's chat template failed: {str(error).splitlines()[0]}") from None


def prompt_token_ids(tokenizer, question: str) -> list[int]:
    """Token ids of the rendered prompt (the template already holds the special tokens: none are added)."""
    return list(tokenizer(build_prompt(tokenizer, question), add_special_tokens=False)["input_ids"])


def stop_token_ids(weights: str | Path, tokenizer) -> tuple[int, ...]:
    """Every end-of-sequence id the model declares: config.json, generation_config.json and the tokenizer's EOS.

    Qwen3 stops on <|im_end|> (151645) and <|endoftext|> (151643), as LiteSys does.
    """
    ids: set[int] = set()
    for name in ("config.json", "generation_config.json"):
        file = Path(weights) / name
        if file.is_file():
            try:
                value = json.loads(file.read_text()).get("eos_token_id")
            except (json.JSONDecodeError, AttributeError):
                raise InputError(f"{file}: not a JSON object") from None
            values = value if isinstance(value, list) else [] if value is None else [value]
            if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values):
                raise InputError(f"{file}: field eos_token_id must be a token id or a list of them, got {value!r}")
            ids.update(values)
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    if not ids:
        raise InputError(f"{weights}: no eos_token_id in config.json, generation_config.json or the tokenizer")
    return tuple(sorted(int(i) for i in ids))


SHAPE_FIELDS = ("architectures", "hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
                "intermediate_size", "vocab_size", "num_experts")


def model_name(weights: str | Path, name: str | None = None) -> str:
    """The model's name in the traces: --model, else the weights directory's name (Qwen3-8B -> qwen3-8b), else the
    preset whose shape config.json matches (a Hugging Face cache snapshot is named by a commit hash)."""
    from kinetics.models import PRESET_CONFIGS, canonical_name

    if name is not None:
        if canonical_name(name) not in PRESET_CONFIGS:
            raise InputError(f"--model {name!r} is not a model the traces know ({', '.join(PRESET_CONFIGS)})")
        return canonical_name(name)
    by_directory = canonical_name(Path(weights).resolve().name)
    if by_directory in PRESET_CONFIGS:
        return by_directory
    try:
        config = json.loads((Path(weights) / "config.json").read_text())
    except (OSError, json.JSONDecodeError):
        raise InputError(f"{Path(weights) / 'config.json'}: not valid JSON") from None
    shape = {key: config.get(key) for key in SHAPE_FIELDS} if isinstance(config, dict) else {}
    matches = [preset for preset, preset_config in PRESET_CONFIGS.items()
               if shape and all(shape[key] == preset_config.get(key) for key in SHAPE_FIELDS)]
    if len(matches) == 1:
        return matches[0]
    raise InputError(f"the weights directory name {Path(weights).name!r} is not a model the traces know "
                     f"({', '.join(PRESET_CONFIGS)}) and its config.json matches none of their shapes; "
                     f"name it with --model")


def repetition_cut(tokens: list[int], prompt_len: int, block: int = REPEAT_BLOCK, window: int = REPEAT_WINDOW,
                   threshold: int = REPEAT_THRESHOLD) -> int | None:
    """Where LiteSys's loop stop would have ended a generation: the number of tokens it keeps, or None.

    LiteSys checks after every decode step k (k generated tokens before the newest one, and only once prompt + k >
    window): the last `block` of those k tokens is searched, as a sliding window, in the tokens from k - window - block
    to k - block; `threshold` or more occurrences stop the request and keep its first k - block tokens. Every 64-token
    block is indexed once by its start, so a 30k-token sample is checked in milliseconds.
    """
    starts: dict[tuple, list[int]] = {}
    for k in range(1, len(tokens)):
        # make the blocks starting at <= k - 2*block searchable (they end by k - block, inside the window)
        newest_start = k - 2 * block
        if newest_start >= 0:
            starts.setdefault(tuple(tokens[newest_start:newest_start + block]), []).append(newest_start)
        if prompt_len + k <= window or k < 2 * block:
            continue
        found = starts.get(tuple(tokens[k - block:k]))
        if found:
            first = max(0, k - window - block)
            if len(found) - bisect.bisect_left(found, first) >= threshold:
                return k - block
    return None


# ---- the run -----------------------------------------------------------------------------------------------------

@dataclass
class EvalResult:
    path: Path
    pass_at_1: float        # percent, mean score over every sample (the authors' pass@1)
    pass_at_trials: float   # percent of problems with at least one correct sample
    samples: int
    generated_tokens: int
    wall_s: float


def trace_config(settings: EvalSettings, model: str):
    from kinetics.traces import TraceConfig

    if settings.attention == "dense":
        return TraceConfig(settings.task, model, "dense")
    return TraceConfig(settings.task, model, "blocktopk", settings.budget, settings.page_size, 0)


def default_out(settings: EvalSettings) -> Path:
    """data/traces/eval/<task>/<dense|blocktopk>/: our runs, apart from the authors' traces downloaded next to them."""
    return DEFAULT_TRACES / "eval" / settings.task / settings.attention


def output_file(out: str | Path | None, settings: EvalSettings, config):
    """(file, trace config) of a run. A *.jsonl path is used as given; in a directory the file takes the authors'
    name, with the first free run number (`_1`, `_2`, ...) so that a new run never overwrites an older one."""
    from dataclasses import replace

    from kinetics.traces import trace_file_name

    path = Path(out) if out is not None else default_out(settings)
    if path.suffix == ".jsonl":
        return path, config
    if path.exists() and not path.is_dir():
        raise InputError(f"--out {str(path)!r} is a file but not *.jsonl; give a FILE.jsonl or a directory")
    run = 0
    while (path / trace_file_name(replace(config, run=run))).exists():
        run += 1
    return path / trace_file_name(replace(config, run=run)), replace(config, run=run)


class Checkpoint:
    """Finished samples of a run, kept next to its output (FILE.jsonl.partial) so that a crashed run resumes.

    Line 1 is a fingerprint of everything that decides the samples; then one line per sample with its problem
    index and trial. Every sample has its own seed, so a resumed run ends with exactly the samples an uninterrupted
    one would have. The file is removed once the traces are written.
    """

    def __init__(self, path: Path, fingerprint: dict):
        self.path, self.fingerprint = path, fingerprint

    def load(self) -> dict[tuple[int, int], dict]:
        if not self.path.is_file():
            return {}
        lines = self.path.read_text().splitlines()
        try:
            if json.loads(lines[0]) != self.fingerprint:
                raise InputError(f"{self.path} holds samples of another run (other settings, problems or model); "
                                 f"delete it or write to another --out")
            done = {}
            for line in lines[1:]:
                if line.strip():  # a line cut short by a crash is the last one: drop it
                    try:
                        entry = json.loads(line)
                    except json.JSONDecodeError:
                        break
                    done[(entry["problem"], entry["trial"])] = entry["sample"]
            return done
        except (json.JSONDecodeError, IndexError, KeyError, TypeError):
            raise InputError(f"{self.path}: not a kinetics eval checkpoint; delete it or write to another --out") \
                from None

    def append(self, entries) -> None:
        new = not self.path.is_file()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as file:
            if new:
                file.write(json.dumps(self.fingerprint) + "\n")
            for (problem, trial), sample in entries:
                file.write(json.dumps({"problem": problem, "trial": trial, "sample": sample}) + "\n")

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def run_eval(weights: str | Path, settings: EvalSettings, problems: list[Problem], out: str | Path | None = None,
             model: str | None = None, device: str = "cpu", dtype: str | None = None,
             progress: bool = False, engine_limits: dict | None = None, chunk: int = 0,
             data_parallel: int = 1) -> EvalResult | None:
    """Generate `settings.trials` samples of every problem, grade them, write the traces; returns the summary.

    chunk > 0 generates that many samples per engine call and checkpoints after each call (see Checkpoint); 0 runs
    everything in one call, which batches best but keeps nothing if the run dies.
    data_parallel N > 1 (N torchrun processes, one engine per GPU): every rank takes every N-th sample of each
    call, rank 0 gathers and grades nothing twice, checkpoints and writes the traces in problem order, and returns
    the summary; the other ranks return None. Each sample has its own seed, so the split changes no sample, and a
    checkpoint resumes under any N.
    """
    weights = _check_weights_dir(weights)
    name = model_name(weights, model)
    from kinetics.traces import write_hf_jsonl
    path, config = output_file(out, settings, trace_config(settings, name))  # fails now if the traces cannot name it
    tokenizer = load_tokenizer(weights)
    stops = stop_token_ids(weights, tokenizer)

    prompts = [prompt_token_ids(tokenizer, p.problem) for p in problems]
    for problem, ids in zip(problems, prompts):
        if len(ids) >= settings.max_length:
            raise InputError(f"{problem.where or 'a problem'}: its prompt has {len(ids)} tokens, not less than "
                             f"--max-length {settings.max_length}")
    fingerprint = {"settings": asdict(settings), "model": name, "weights": Path(weights).resolve().name,
                   "problems": hashlib.sha256(json.dumps([(p.problem, p.answer) for p in problems]).encode())
                   .hexdigest()}
    checkpoint = Checkpoint(path.with_name(path.name + ".partial"), fingerprint)
    done = checkpoint.load()
    todo = [(i, trial) for i in range(len(problems)) for trial in range(settings.trials) if (i, trial) not in done]

    from kinetics.engine import LLM, AttentionConfig, SamplingParams, parallel
    from kinetics.engine.model_runner import parse_device

    rank, engine_device = parallel.init_data_parallel(data_parallel, parse_device(device))
    sparse = settings.attention == "blocktopk"
    attention = AttentionConfig(kind=settings.attention, budget=settings.budget, page_size=settings.page_size,
                                sinks=settings.sinks if sparse else 0,
                                dense_layers=settings.dense_layers if sparse else 0)
    llm = LLM(weights, weights=weights, device=engine_device, dtype=dtype, attention=attention,
              seed=settings.seed, **(engine_limits or {}))
    for problem, ids in zip(problems, prompts):  # what the engine would reject, before any sampling
        if len(ids) >= llm.max_model_len:
            raise InputError(f"{problem.where or 'a problem'}: its prompt has {len(ids)} tokens, more than the "
                             f"model's context of {llm.max_model_len}")
        if max(ids) >= llm.config.vocab_size:
            raise InputError(f"the tokenizer of {str(weights)!r} gives token id {max(ids)}, but the model has only "
                             f"{llm.config.vocab_size} embeddings: tokenizer and weights do not belong together")

    def params(i: int, trial: int) -> SamplingParams:
        return SamplingParams(temperature=settings.temperature, top_p=settings.top_p, top_k=settings.top_k,
                              max_tokens=min(settings.max_new_tokens, settings.max_length - len(prompts[i])),
                              seed=sample_seed(settings.seed, problems[i].problem, trial), stop_token_ids=stops)

    log.info("eval: %d problems x %d trials with %s on %s (%s attention), %d samples to generate", len(problems),
             settings.trials, name, device, settings.attention, len(todo))
    start = time.perf_counter()
    size = chunk if chunk > 0 else max(len(todo), 1)
    for first in range(0, len(todo), size):
        part = todo[first:first + size][rank::data_parallel]      # every rank makes as many engine calls
        outputs = llm.generate([prompts[i] for i, _ in part], [params(i, t) for i, t in part],
                               progress=progress and rank == 0)
        failed = [o for o in outputs if o.error is not None]
        error = (f"{len(failed)} of {len(outputs)} requests were rejected by the engine: {failed[0].error}"
                 if failed else None)
        graded = [] if error else [_graded_sample(problems[i], output, tokenizer, stops, settings.repetition_stop)
                                   for (i, _), output in zip(part, outputs)]
        gathered = parallel.gather_objects((error, list(zip(part, graded))))
        errors = [e for e, _ in gathered if e]
        if errors:
            raise InputError(errors[0])
        entries = [entry for _, rank_entries in gathered for entry in rank_entries]
        if chunk > 0 and rank == 0:
            checkpoint.append(entries)
        done.update(entries)
    wall = time.perf_counter() - start
    if rank > 0:
        return None

    samples = [done[(i, trial)] for i in range(len(problems)) for trial in range(settings.trials)]
    correct = [[done[(i, trial)]["score"] > 0 for trial in range(settings.trials)] for i in range(len(problems))]
    pass_at_1 = 100.0 * sum(map(sum, correct)) / len(samples)
    pass_at_trials = 100.0 * sum(map(any, correct)) / len(problems)
    metadata = {
        "trials": settings.trials, "problems": len(problems), "total_example": len(samples), "pass@1": pass_at_1,
        f"pass@{settings.trials}": pass_at_trials, "sampling": settings.sampling_metadata(),
        "block_size": settings.page_size if settings.attention == "blocktopk" else 0, "local_window": 0,
        "sinks": attention.sinks, "dense_layers": attention.dense_layers, "stop_token_ids": list(stops),
        "weights": Path(weights).resolve().name, "grader": "kinetics.grading",
        "device": device if data_parallel == 1 else f"{data_parallel} x {device}",
        "generated_tokens": sum(s["engine_tokens"] for s in samples), "wall_s": round(wall, 3),
        "resumed_samples": len(samples) - len(todo),
        "repetition_stop": settings.repetition_stop, "repetition_stops": sum(s["repetition_stop"] for s in samples),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path = write_hf_jsonl(path, config, [{k: v for k, v in s.items() if k in TRACE_FIELDS} for s in samples],
                          extra_metadata=metadata, cap_tokens=settings.max_new_tokens)
    checkpoint.remove()
    log.info("eval: pass@1 %.1f%%, pass@%d %.1f%% over %d samples; traces in %s", pass_at_1, settings.trials,
             pass_at_trials, len(samples), path)
    return EvalResult(path, pass_at_1, pass_at_trials, len(samples), metadata["generated_tokens"], wall)


TRACE_FIELDS = ("query", "choices", "prediction", "score", "gen_tokens", "prompt_tokens", "finished")


def _graded_sample(problem: Problem, output, tokenizer, stops, repetition_stop: bool) -> dict:
    """One engine output as a trace sample: LiteSys's loop stop applied, decoded as LiteSys does, graded."""
    tokens, finished = list(output.token_ids), output.finish_reason == "stop"
    cut = repetition_cut(tokens, len(output.prompt_token_ids)) if repetition_stop else None
    if cut is not None:
        tokens, finished = tokens[:cut], False   # stopped for looping: the reasoning did not finish
    # the text is what LiteSys decodes: every token but the stop token, special tokens included
    text_tokens = tokens[:-1] if finished and tokens and tokens[-1] in stops else tokens
    text = tokenizer.decode(text_tokens, skip_special_tokens=False)
    return {"query": problem.problem, "choices": [problem.answer], "prediction": [text],
            "score": grading.grade(text, problem.answer).score, "gen_tokens": len(tokens),
            "prompt_tokens": len(output.prompt_token_ids), "finished": finished,
            "engine_tokens": len(output.token_ids), "repetition_stop": cut is not None}


# ---- CLI ---------------------------------------------------------------------------------------------------------

EXAMPLES = """examples:
  kinetics eval --weights ~/models/Qwen3-1.7B --task aime24 --trials 8
  kinetics eval --weights ~/models/Qwen3-8B --trials 32 --attention blocktopk --budget 1024 --page-size 16
  kinetics eval --weights ~/models/Qwen3-0.6B --dataset math-ai/aime25 --task aime25 --limit 5 --device cpu
  kinetics traces summary          # the runs written under data/traces/, next to the authors' tables"""


def register(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EXAMPLES
    parser.add_argument("--weights", required=True, metavar="DIR",
                        help="model directory: config.json, *.safetensors, tokenizer.json, tokenizer_config.json")
    parser.add_argument("--task", choices=TASKS, default="aime24")
    parser.add_argument("--trials", type=int, default=1, help="samples per problem (default 1)")
    parser.add_argument("--problems", metavar="FILE", help="jsonl with problem and answer per line "
                        "(default ../shared/problems/TASK.jsonl next to the repository)")
    parser.add_argument("--dataset", metavar="HF_ID", help="a Hugging Face dataset instead, e.g. "
                        "HuggingFaceH4/aime_2024 (needs the datasets package)")
    parser.add_argument("--split", help="dataset split (default: test, else train)")
    parser.add_argument("--limit", type=int, metavar="N", help="only the first N problems")
    parser.add_argument("--out", metavar="FILE.jsonl", help="trace file (*.jsonl), or a directory where it gets the "
                        "authors' name and a new run number (default data/traces/eval/TASK/ATTENTION/)")
    parser.add_argument("--model", metavar="NAME", help="model name in the traces (default: the directory name)")
    parser.add_argument("--attention", choices=("dense", "blocktopk"), default="dense")
    parser.add_argument("--budget", type=int, default=1024, help="block top-k: KV tokens per step (default 1024)")
    parser.add_argument("--page-size", type=int, default=16, help="KV page = block of block top-k (default 16)")
    parser.add_argument("--sinks", type=int, default=4, help="block top-k: first tokens always kept (default 4, "
                        "as LiteSys)")
    parser.add_argument("--dense-layers", type=int, default=1, help="block top-k: first layers kept dense "
                        "(default 1, as LiteSys)")
    parser.add_argument("--max-new-tokens", type=int, default=MAX_NEW_TOKENS)
    parser.add_argument("--max-length", type=int, default=MAX_LENGTH, help="prompt + generation cap")
    parser.add_argument("--temperature", type=float, default=TEMPERATURE)
    parser.add_argument("--top-p", type=float, default=TOP_P)
    parser.add_argument("--top-k", type=int, default=TOP_K)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", choices=("cpu", "cuda"), help="default: cuda when available")
    parser.add_argument("--dtype", choices=("bf16", "fp16", "fp32"), help="default: fp32 on CPU, bf16 on CUDA")
    parser.add_argument("--max-num-seqs", type=int, help="engine: requests decoded together")
    from kinetics.engine.cli_common import add_parallel_args

    add_parallel_args(parser, data_parallel=True)
    parser.add_argument("--chunk", type=int, default=0, metavar="N",
                        help="generate N samples per engine call and checkpoint after each (FILE.jsonl.partial); "
                        "a rerun with the same settings resumes (default 0: all in one call, no checkpoint)")
    parser.add_argument("--no-repetition-stop", action="store_true",
                        help="keep looping samples whole (LiteSys cuts them; see kinetics.eval.repetition_cut)")
    parser.set_defaults(func=_cli)


def _cli(args) -> int:
    settings = EvalSettings(
        task=args.task, trials=args.trials, temperature=args.temperature, top_p=args.top_p, top_k=args.top_k,
        max_new_tokens=args.max_new_tokens, max_length=args.max_length, seed=args.seed, attention=args.attention,
        budget=args.budget, page_size=args.page_size, sinks=args.sinks, dense_layers=args.dense_layers,
        repetition_stop=not args.no_repetition_stop)
    if args.limit is not None and args.limit < 1:
        raise InputError(f"--limit must be >= 1, got {args.limit}")
    _check_weights_dir(args.weights)
    problems = problems_for(args.task, args.problems, args.dataset, args.split)[:args.limit]
    device = args.device
    if device is None:
        import torch
        device = "cuda" if torch.cuda.is_available() else "cpu"
    limits = {"max_num_seqs": args.max_num_seqs} if args.max_num_seqs else {}
    if args.chunk < 0:
        raise InputError(f"--chunk must be >= 0, got {args.chunk}")
    limits["tensor_parallel"] = args.tp
    result = run_eval(args.weights, settings, problems, args.out, args.model, device, args.dtype,
                      progress=True, engine_limits=limits, chunk=args.chunk, data_parallel=args.dp)
    if result is None:       # a helper rank of --dp: rank 0 reports
        return 0
    print(json.dumps({"out": str(result.path), "pass@1": round(result.pass_at_1, 2),
                      f"pass@{settings.trials}": round(result.pass_at_trials, 2), "samples": result.samples,
                      "generated_tokens": result.generated_tokens, "wall_s": round(result.wall_s, 2),
                      "settings": asdict(settings)}, indent=2))
    return 0
