"""Long-CoT accuracy the way the Kinetics authors computed it: cut every generated text at G tokens and grade the
cut text again (book chapter 2, long CoT).

The per-problem tables hold only counts, so `kinetics.frontier.long_cot_accuracy` bounds the accuracy at G and
counts a cut sample as wrong. The authors instead re-tokenised each prediction, kept its first G tokens, decoded
them and graded the result with their extractive matcher (`kinetics.grading`), which finds an answer the model
wrote before the cut (a boxed guess while thinking, or any last number). That needs the text, which only the
Hugging Face jsonl traces carry (`kinetics traces download --hf`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from kinetics.errors import InputError
from kinetics.traces import iter_jsonl, parse_trace_name


def truncated_grades(path: str | Path, budgets: Sequence[int]) -> np.ndarray:
    """correct[q, s, g]: sample s of problem q (problems in order of first appearance, as `read_hf_jsonl` numbers
    them) graded on its first budgets[g] Qwen3 tokens. A sample no longer than G is graded on its whole text."""
    import quicktok

    from kinetics.grading import is_correct

    path = Path(path)
    budgets = [int(g) for g in budgets]
    lines = path.read_text().splitlines()
    parse_trace_name(path)   # a trace file name, or one clear error
    samples: dict[str, list] = {}
    for where, record in iter_jsonl(path, lines[1:], first_number=2):
        prediction = record.get("prediction") if isinstance(record, dict) else None
        text = prediction[0] if isinstance(prediction, list) and prediction else prediction
        if not isinstance(text, str) or not record.get("choices"):
            raise InputError(f"{where}: re-grading needs the text (field prediction) and the gold (field choices)")
        samples.setdefault(record["query"], []).append((text, record["choices"][0]))
    counts = {len(v) for v in samples.values()}
    if len(counts) != 1:
        raise InputError(f"{path}: inconsistent sample counts between problems {sorted(counts)}")
    encoding = quicktok.get_encoding("qwen3")
    out = np.zeros((len(samples), counts.pop(), len(budgets)), dtype=bool)
    for q, rows in enumerate(samples.values()):
        for s, (text, gold) in enumerate(rows):
            tokens = encoding.encode(text, disallowed_special=())
            whole = is_correct(text, gold)
            for g, budget in enumerate(budgets):
                out[q, s, g] = whole if len(tokens) <= budget else is_correct(
                    encoding.decode(tokens[:budget]), gold)
    return out


def regraded_accuracy(path: str | Path, budgets: Sequence[int]) -> np.ndarray:
    """Accuracy per problem at each length budget, (Q, len(budgets)), by truncating and re-grading."""
    return truncated_grades(path, budgets).mean(axis=1)
