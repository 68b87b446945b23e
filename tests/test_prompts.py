"""kinetics.prompts: the authors' prompt text, the Qwen3 chat template, token counts."""
from __future__ import annotations

import pandas as pd
import pytest

from kinetics.errors import InputError
from kinetics.prompts import (PROMPT_TEMPLATE, chat_prompt, prompt_tokens, prompt_tokens_many, templated_prompt,
                              user_message)


def test_template_text():
    assert PROMPT_TEMPLATE.startswith("Solve the following math problem efficiently and clearly.  The last line")
    assert "$\\boxed{ANSWER}$. I hope it is correct' (without quotes)" in PROMPT_TEMPLATE
    assert PROMPT_TEMPLATE.endswith("Think step by step before answering.\n\n{Question}")
    assert user_message("What is 1+1?").endswith("answering.\n\nWhat is 1+1?")


def test_chat_template_one_user_turn_thinking_on():
    assert chat_prompt("hi") == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert chat_prompt("hi", thinking=False).endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert templated_prompt("Q?") == chat_prompt(user_message("Q?"))


def test_special_tokens_count_as_one_token_each():
    import quicktok

    qwen3 = quicktok.get_encoding("qwen3")
    ids = qwen3.encode(templated_prompt("x"), allowed_special="all")
    assert prompt_tokens("x") == len(ids)
    assert ids.count(qwen3.encode_single_token("<|im_start|>")) == 2
    assert ids.count(qwen3.encode_single_token("<|im_end|>")) == 1
    # thinking off adds <think>, "\n\n", </think>, "\n\n"
    assert prompt_tokens("x", thinking=False) == len(ids) + 4


@pytest.fixture
def aime24_problems(full_traces):
    table = pd.read_csv(full_traces / "dense" / "aime24_qwen3-8b_dense_numTrials_tradeoff.csv")
    return table.drop_duplicates("query_id").set_index("query_id")["query"]


def test_qwen3_counts_of_the_first_problems(aime24_problems):
    # the lengths the authors' tables were priced with (reproduced exactly in test_reproduce_paper.py)
    assert [prompt_tokens(aime24_problems[i]) for i in (0, 1, 5)] == [155, 177, 160]
    assert prompt_tokens_many(aime24_problems[[0, 1, 5]].tolist()) == [155, 177, 160]


def test_a_tokenizer_json_file_or_directory(tmp_path):
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers import models, pre_tokenizers

    vocab = {"[UNK]": 0, "Solve": 1, "the": 2}
    tok = tokenizers.Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.add_special_tokens(["<|im_start|>", "<|im_end|>"])
    tok.save(str(tmp_path / "tokenizer.json"))
    text = templated_prompt("a b")
    want = len(tok.encode(text, add_special_tokens=False).ids)
    assert prompt_tokens("a b", tokenizer=tmp_path) == want
    assert prompt_tokens("a b", tokenizer=tmp_path / "tokenizer.json") == want
    assert prompt_tokens("a b", tokenizer=tok) == want
    # the special tokens are matched as themselves, not split into pieces
    assert tok.encode(text, add_special_tokens=False).tokens.count("<|im_start|>") == 2


def test_bad_input(tmp_path):
    with pytest.raises(InputError, match="non-empty string"):
        prompt_tokens("  ")
    with pytest.raises(InputError, match="does not exist"):
        prompt_tokens("Q", tokenizer=tmp_path / "nope.json")
    (tmp_path / "tokenizer.json").write_text("{not json")
    with pytest.raises(InputError, match="not a tokenizer.json"):
        prompt_tokens("Q", tokenizer=tmp_path)
    with pytest.raises(InputError, match="tokenizer must be"):
        prompt_tokens("Q", tokenizer=3)
