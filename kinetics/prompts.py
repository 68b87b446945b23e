"""The prompt the Kinetics authors sent, and how many tokens it is.

Their LiteSys evaluation (`eval_math.py` in Infini-AI-Lab/Kinetics) wraps each problem in one fixed instruction, sends it as
a single user turn through the Qwen chat template with thinking on, and the cost model's `ctx` is the length of
that templated prefix. Qwen3's template for one user turn with the generation prompt added renders as
`<|im_start|>user\\n{content}<|im_end|>\\n<|im_start|>assistant\\n` (thinking on adds nothing; thinking off would
add an empty `<think>\\n\\n</think>\\n\\n`).

Token counts come from the exact Qwen3 BPE bundled with the `quicktok-v1` package (no model download), or from a
real `tokenizer.json` (a file or a model directory) through the `tokenizers` library when one is given.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from kinetics.errors import InputError

#: The authors' instruction, verbatim (note the two spaces after "clearly.").
PROMPT_TEMPLATE = (
    "Solve the following math problem efficiently and clearly.  The last line of your response should be of the "
    "following format: 'Therefore, the final answer is: $\\boxed{ANSWER}$. I hope it is correct' (without quotes) "
    "where ANSWER is just the final number or expression that solves the problem. Think step by step before "
    "answering.\n\n{Question}"
)


def user_message(problem: str) -> str:
    """The user turn: the authors' instruction around the problem text."""
    if not isinstance(problem, str) or not problem.strip():
        raise InputError(f"a problem must be a non-empty string, got {problem!r}")
    return PROMPT_TEMPLATE.replace("{Question}", problem)


def chat_prompt(content: str, thinking: bool = True) -> str:
    """Qwen3's chat template for one user turn, generation prompt added."""
    prompt = f"<|im_start|>user\n{content}<|im_end|>\n<|im_start|>assistant\n"
    return prompt if thinking else prompt + "<think>\n\n</think>\n\n"


def templated_prompt(problem: str, thinking: bool = True) -> str:
    """What the model sees before it generates: the chat-templated user turn of the authors' prompt."""
    return chat_prompt(user_message(problem), thinking)


@lru_cache(maxsize=8)
def _file_tokenizer(path: str):
    from tokenizers import Tokenizer

    try:
        return Tokenizer.from_file(path)
    except Exception as error:  # noqa: BLE001 -- the library raises bare Exceptions on bad JSON
        raise InputError(f"{path}: not a tokenizer.json ({str(error).splitlines()[0]})") from None


@lru_cache(maxsize=1)
def _qwen3_encoding():
    import quicktok

    return quicktok.get_encoding("qwen3")  # loading the vocabulary costs ~17 ms: once per process


def _encoder(tokenizer):
    """A function text -> token count, special tokens in the text encoded as themselves."""
    if tokenizer is None:
        qwen3 = _qwen3_encoding()
        return lambda text: len(qwen3.encode(text, allowed_special="all"))
    if isinstance(tokenizer, (str, Path)):
        path = Path(tokenizer)
        if path.is_dir():
            path = path / "tokenizer.json"
        if not path.is_file():
            raise InputError(f"tokenizer {str(path)!r} does not exist (give a tokenizer.json or a model directory)")
        loaded = _file_tokenizer(str(path))
        return lambda text: len(loaded.encode(text, add_special_tokens=False).ids)
    if hasattr(tokenizer, "encode"):  # tokenizers.Tokenizer, a transformers tokenizer, a quicktok encoding
        def count(text):
            try:
                ids = tokenizer.encode(text, add_special_tokens=False)
            except TypeError:
                ids = tokenizer.encode(text, allowed_special="all")
            return len(getattr(ids, "ids", ids))
        return count
    raise InputError(f"tokenizer must be None, a path or an object with .encode, got {type(tokenizer).__name__}")


def prompt_tokens(problem_text: str, tokenizer=None, thinking: bool = True) -> int:
    """Tokens of the templated prompt for one problem: the paper's ctx. tokenizer: None (Qwen3 BPE from
    quicktok-v1), a tokenizer.json path or model directory, or a tokenizer object."""
    return _encoder(tokenizer)(templated_prompt(problem_text, thinking))


def prompt_tokens_many(problems, tokenizer=None, thinking: bool = True) -> list[int]:
    """`prompt_tokens` of each problem."""
    count = _encoder(tokenizer)
    return [count(templated_prompt(p, thinking)) for p in problems]
