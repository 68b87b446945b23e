"""Grade a model's answer to a math problem the way the Kinetics authors did, without lighteval.

The authors graded AIME with lighteval's extractive match (their LiteSys evaluation scripts): ENGLISH, `fallback_mode="first_match"`,
`precision=5`, gold parsed as an expression, prediction parsed as an expression or LaTeX with `\\boxed` at the top
priority, applied to the whole decoded output *including* the `<think>` block. We rebuild its search order:

| priority | what is searched (rightmost match first)                                                        |
|---------:|--------------------------------------------------------------------------------------------------|
|        0 | `\\boxed{...}` (balanced braces) and "final answer is X. I hope"                                 |
|       50 | "final answer ... is X"                                                                           |
|      100 | "answer: X" (X within 50 characters, or a number after the last "=" within 100)                  |
|      200 | "answer ... X" (the same)                                                                         |
|      300 | any math span (`$...$`, `\\(...\\)`, `\\[...\\]`, a bare `\\frac{1}{2}`) or plain number/expression |

Every anchor is tried with a math value and with a plain-number value, as lighteval's separate LaTeX and
expression patterns are. The first candidate, in that order, whose text parses to a value is the prediction. So
the last parseable box wins (a model often boxes guesses while thinking), and a text without any box or anchor
falls back to its last number: lighteval does that too with these settings, because `try_extract_without_anchor`
defaults to True for both extraction configs (priority 300). Its `fallback_mode="first_match"` only adds the raw
*string* of the first match when parsing fails, which never equals a numeric gold, so we leave it out.

Values: LaTeX is rewritten into a small arithmetic language (\\frac, \\dfrac, \\sqrt[n], ^, \\cdot, \\times,
\\left/\\right, thousands commas, \\text{...} and unit words dropped, degrees dropped, "x = 5" read as 5, a percent sign
divides by 100, 3\\frac{1}{2} is a mixed number) and evaluated by a safe evaluator of our own: exact fractions while
the value is rational, floats once a decimal point, a root of a non-square or pi enters. Nothing from model output
is ever passed to `eval`.

Equivalence: two exact values must be equal exactly; when either side is inexact the comparison allows a relative
difference of 1e-5 (lighteval rounds to 5 decimals instead). Answers with letters are compared symbolically by sympy
(`simplify(a - b) == 0`, sympy imported lazily) when it is installed, else by their normalised text.
Grading never raises on model output: anything unparseable is simply not an answer.

Checked against lighteval 0.10.0 itself (tests/test_grading.py, run where lighteval is installed): on 4,000 synthetic
model-like outputs the two agree on 98.4%, and every disagreement is an answer with a trailing period inside its box
or math span (`\\boxed{981.}`): lighteval cannot parse it and grades it wrong, we read it as 981. That, and golds
written in LaTeX (lighteval reads golds as plain expressions only), are our deliberate departures.
"""
from __future__ import annotations

import ast
import math
import operator
import re
from dataclasses import dataclass
from fractions import Fraction

RELATIVE_TOLERANCE = 1e-5
MAX_ANSWER_CHARS = 300   # longer "answers" are prose, not values; also bounds the parser's work
MAX_EXPONENT = 10_000    # 2^{10} is fine; 10^{10^{10}} is not an AIME answer and must not hang the grader
MAX_BITS = 100_000       # the same for towers of smaller powers
FUNCTIONS = ("sqrt", "pi")

# ---------------------------------------------------------------------------------------------------------------
# Finding the answer in the text


@dataclass(frozen=True)
class Candidate:
    priority: int
    start: int
    end: int
    text: str
    source: str


@dataclass(frozen=True)
class Answer:
    """What we read as the model's answer: the raw text, the normalised expression, and where it was found."""
    text: str
    expression: str
    source: str


_FRACTION = r"-?\\frac\{-?\d+(?:\.\d+)?\}\{-?\d+(?:\.\d+)?\}"
_MATH = (r"\$\$(?P<m1>.+?)\$\$|\$(?P<m2>[^$\n]+?)\$|\\\((?P<m3>.+?)\\\)|\\\[(?P<m4>.+?)\\\]"
         rf"|(?P<m5>{_FRACTION})")
_NUMBER = r"-?\d+(?:,\d{3})*(?:\.\d+)?|-?\.\d+"   # 1,000 is one number; "45, so" is 45
_NUMBER_EXPR = rf"\(?(?:{_NUMBER})(?:\s*[-+*/^×÷]\s*\(?(?:{_NUMBER})\)?)*"
# like lighteval, a bare number must follow the start, a space, "=", "*" or "$" (so not "x2", "{12" or "10^{3}")
_PLAIN = rf"(?<![^\s=*$])(?P<n>{_NUMBER_EXPR})"
# Each anchor is searched twice, once followed by math and once by a plain number, as lighteval's separate LaTeX
# and expression patterns do: "Answer: 345 is wrong. The answer is $82$" then also yields the later $82$.
_ANCHORS = (
    (0, r"final answer is:?\s*{value}\.?\s?I hope", "final answer"),
    (50, r"final answer.{{0,100}}?\s+is:?\s*{value}", "final answer"),
    (100, r"answer:{gap}{value}", "answer"),
    (200, r"answer{gap}{value}", "answer"),
    (300, r"{value}", "last value"),
)
# After "answer", a plain number may also follow the last "=" within 100 characters ("Answer: so x = 5") and must
# not itself be followed by "="; and, as in lighteval's expression patterns, the gap never crosses a line break.
_KINDS = ((_MATH, r".{0,50}?", r"(?P<pct>\s*(?:\\?%|percent))?", re.DOTALL),
          (_PLAIN, r"(?:.{0,100}=\s*|.{0,50}?)", r"(?P<pct>\s*(?:%|percent))?(?!\s*=)", 0))
_PATTERNS = [(priority, re.compile(anchor.format(gap=gap, value=f"(?:{value}){after}"), re.IGNORECASE | flags),
              source) for priority, anchor, source in _ANCHORS for value, gap, after, flags in _KINDS]


_BOX = re.compile(r"\\(?:boxed|fbox)\s*")


def _matching_brace(text: str, open_at: int) -> int | None:
    """Index of the `}` closing the `{` at `open_at`, or None if the braces never balance."""
    depth = 0
    for i in range(open_at, len(text)):
        if text[i] == "{" and (i == 0 or text[i - 1] != "\\"):
            depth += 1
        elif text[i] == "}" and text[i - 1] != "\\":
            depth -= 1
            if depth == 0:
                return i
    return None


def boxed_contents(text: str) -> list[tuple[int, int, str]]:
    """Every `\\boxed{...}` / `\\fbox{...}` in the text as (start, end, content), with nested braces kept whole."""
    found = []
    for match in _BOX.finditer(text):
        i = match.end()
        if i < len(text) and text[i] == "{":
            close = _matching_brace(text, i)
            if close is not None:
                found.append((match.start(), close + 1, text[i + 1:close]))
        elif match.group(0) != match.group(0).rstrip() and i < len(text):  # "\boxed 5": one token
            token = re.match(r"[^\s$.,]+", text[i:])
            if token:
                found.append((match.start(), i + token.end(), token.group(0)))
    return found


def _value_text(match: re.Match) -> str:
    groups = match.groupdict()
    value = next(groups[g] for g in ("m1", "m2", "m3", "m4", "m5", "n") if groups.get(g) is not None)
    return value + "%" if groups["pct"] else value


def candidates(text: str):
    """Answer candidates in lighteval's search order: priority, then rightmost end, then leftmost start.

    A generator, one priority at a time: a boxed answer is found without running the fallback patterns over a
    30k-token text."""
    for priority in sorted({p for p, _, _ in _PATTERNS}):
        boxes = boxed_contents(text) if priority == 0 else []
        found = [Candidate(0, start, end, content, "boxed") for start, end, content in boxes]
        for pattern_priority, pattern, source in _PATTERNS:
            if pattern_priority == priority:
                found += [Candidate(priority, m.start(), m.end(), _value_text(m), source)
                          for m in pattern.finditer(text)]
        yield from sorted(found, key=lambda c: (-c.end, c.start))


def extract_answer(text: str) -> Answer | None:
    """The model's answer: the first candidate (in lighteval's order) that parses to a value, or None."""
    for candidate in candidates(text):
        expression = normalize(candidate.text)
        if expression is not None and parse_value(expression) is not None:
            return Answer(candidate.text, expression, candidate.source)
    return None


# ---------------------------------------------------------------------------------------------------------------
# LaTeX -> a small expression language (numbers, + - * / **, parentheses, sqrt, pi, single-letter symbols)


def _brace_argument(text: str, i: int) -> tuple[str, int] | None:
    """The argument starting at text[i]: `{...}` (balanced) or a single character; returns (content, next index)."""
    while i < len(text) and text[i] == " ":
        i += 1
    if i >= len(text):
        return None
    if text[i] == "{":
        close = _matching_brace(text, i)
        return None if close is None else (text[i + 1:close], close + 1)
    if text[i] == "\\":
        name = re.match(r"\\[A-Za-z]+", text[i:])
        return (name.group(0), i + name.end()) if name else None
    return text[i], i + 1


def _replace_command(text: str, command: str, arity: int, build) -> str | None:
    """Rewrite every `\\command{a}{b}` (innermost arguments first); None when an argument is missing."""
    pattern = re.compile(re.escape(command) + r"(?![A-Za-z])")
    while (match := pattern.search(text)) is not None:
        i, args = match.end(), []
        optional = None
        if command == r"\sqrt" and text[i:i + 1] == "[":
            close = text.find("]", i)
            if close < 0:
                return None
            optional, i = text[i + 1:close], close + 1
        for _ in range(arity):
            argument = _brace_argument(text, i)
            if argument is None:
                return None
            args.append(normalize_fragment(argument[0]))
            i = argument[1]
        if any(a is None for a in args):
            return None
        text = text[:match.start()] + build(*args, optional=optional) + text[i:]
    return text


def _sqrt(x: str, optional: str | None = None) -> str:
    return f"sqrt({x})" if optional is None else f"(({x})**(1/({normalize_fragment(optional)})))"


_DROP = (r"\left", r"\right", r"\displaystyle", r"\!", r"\,", r"\;", r"\:", r"\quad", r"\qquad", r"\ ", "~",
         r"\$", "$", r"\(", r"\)", r"\[", r"\]", "°", r"^\circ", r"^{\circ}", r"\circ")
_OPERATORS = {r"\%": "/100", "%": "/100", r"\cdot": "*", r"\times": "*", r"\ast": "*", "×": "*", r"\div": "/",
              "÷": "/", r"\pi": " pi ", r"\dfrac": r"\frac", r"\tfrac": r"\frac", "−": "-", r"\{": "(", r"\}": ")"}
_TEXT_COMMANDS = re.compile(r"\\(?:text|textbf|textit|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}")


def normalize_fragment(text: str) -> str | None:
    """A LaTeX fragment as a plain expression string; None when it is malformed."""
    text = _TEXT_COMMANDS.sub(r" \1 ", text)
    for old, new in _OPERATORS.items():
        text = text.replace(old, new)
    for old in sorted(_DROP, key=len, reverse=True):
        text = text.replace(old, " ")
    text = re.sub(r"\\boxed\s*", "", text)
    text = re.sub(r"\\frac\s*(\d)\s*(\d)", r"\\frac{\1}{\2}", text)   # \frac12
    # a mixed number: 3\frac{1}{2} is 3 + 1/2 (as lighteval reads it), not 3 * 1/2
    text = re.sub(r"(?<![\d.])(\d+)\s*\\frac\{(\d+)\}\{(\d+)\}", r"(\1+\\frac{\2}{\3})", text)
    text = _replace_command(text, r"\frac", 2, lambda a, b, optional=None: f"(({a})/({b}))")
    text = text and _replace_command(text, r"\sqrt", 1, _sqrt)
    if text is None:
        return None
    text = re.sub(r"\^\s*\{", "**{", text).replace("^", "**")
    return text.replace("{", "(").replace("}", ")")


def normalize(answer: str) -> str | None:
    """Normalise an answer (LaTeX or plain) into an expression string the parser takes, or None if malformed."""
    text = answer.strip()
    if not text or len(text) > MAX_ANSWER_CHARS:
        return None
    text = normalize_fragment(text)
    if text is None:
        return None
    if "=" in text:                                         # "x = 5" or "n=33": the value is the right-hand side
        text = text.rsplit("=", 1)[1]
    while re.search(r"\d,\d{3}(?!\d)", text):               # 1,000 -> 1000 (not tuples like 1,2)
        text = re.sub(r"(\d),(\d{3})(?!\d)", r"\1\2", text)
    words = re.findall(r"[A-Za-z]{2,}", text)
    for word in words:                                      # units and prose ("cm", "minutes", "degrees")
        if word not in FUNCTIONS:
            text = re.sub(rf"\b{word}\b", " ", text)
    text = re.sub(r"(\d)\s+(?=\d{3}(?!\d))", r"\1", text)  # 1\,000 -> 1000 (thin-space thousands)
    text = re.sub(r"(?<![\d.])0+(?=\d)", "", text)          # 033 -> 33 (Python rejects leading zeros)
    text = re.sub(r"\s+", " ", text).strip().rstrip(".").strip()
    text = re.sub(r"(?<=[\d)])\s*(?=[A-Za-z(])", "*", text)  # implicit products: 2sqrt(3), 2(x+1), (a)(b)
    text = re.sub(r"(?<=\))\s*(?=\d)", "*", text)
    text = re.sub(r"\bsqrt\*\(", "sqrt(", text)
    text = re.sub(r"(?<=[A-Za-z])\s+(?=[A-Za-z(])", "*", text)
    text = re.sub(r"\bsqrt\*\(", "sqrt(", text)
    if not text or not re.fullmatch(r"[0-9A-Za-z+\-*/().,\s]+", text):
        return None
    if any(len(name) > 1 and name not in FUNCTIONS for name in re.findall(r"[A-Za-z]+", text)):
        return None
    return text


# ---------------------------------------------------------------------------------------------------------------
# Values and equivalence


@dataclass(frozen=True)
class Value:
    """A parsed answer: either a number (exact Fraction or inexact float) or a sympy expression with symbols."""
    number: Fraction | float | None = None
    symbolic: object = None
    expression: str = ""

    @property
    def exact(self) -> bool:
        return isinstance(self.number, Fraction)


def _sympy():
    try:
        import sympy
        return sympy
    except ImportError:
        return None


_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def _evaluate(node: ast.AST) -> Fraction | float:
    """Evaluate a parsed arithmetic expression: Fractions while exact, floats once a decimal, root or pi enters."""
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return Fraction(node.value) if isinstance(node.value, int) else float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _evaluate(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _BINARY[type(node.op)](_evaluate(node.left), _evaluate(node.right))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        base, exponent = _evaluate(node.left), _evaluate(node.right)
        if abs(exponent) > MAX_EXPONENT:
            raise OverflowError("exponent too large")
        if isinstance(exponent, Fraction) and exponent.denominator == 1:
            if isinstance(base, Fraction) and \
                    max(base.numerator, base.denominator).bit_length() * abs(exponent) > MAX_BITS:
                raise OverflowError("number too large")  # checked before computing: towers must not hang
            return base ** int(exponent)
        power = float(base) ** float(exponent)
        if isinstance(power, complex):
            raise ValueError("complex power")
        return power
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "sqrt" \
            and len(node.args) == 1 and not node.keywords:
        argument = _evaluate(node.args[0])
        root = math.isqrt(argument.numerator) if isinstance(argument, Fraction) and argument >= 0 else None
        if root is not None and argument.denominator == 1 and root * root == argument.numerator:
            return Fraction(root)
        return math.sqrt(argument)
    if isinstance(node, ast.Name) and node.id == "pi":
        return math.pi
    raise ValueError(f"not an arithmetic expression: {ast.dump(node)}")


def parse_value(expression: str) -> Value | None:
    """The value of a normalised expression, or None if it is not one (tuples, prose, malformed input)."""
    try:
        number = _evaluate(ast.parse(expression, mode="eval"))
        if not isinstance(number, (Fraction, float)) or math.isnan(number):
            return None
        return Value(number=number, expression=expression)
    except OverflowError:  # a number too large to compute is still an answer (a wrong one for any sane gold)
        return Value(number=math.inf, expression=expression)
    except (SyntaxError, ValueError, TypeError, ZeroDivisionError, RecursionError):
        pass
    names = set(re.findall(r"[A-Za-z]+", expression)) - set(FUNCTIONS)
    if not names:
        return None
    sympy = _sympy()
    if sympy is None:  # without sympy an answer with letters is kept as its normalised text
        return Value(expression=expression)
    try:
        from sympy.parsing.sympy_parser import parse_expr
        symbols = {name: sympy.Symbol(name) for name in names}
        expr = parse_expr(expression, local_dict=symbols, global_dict={"sqrt": sympy.sqrt, "pi": sympy.pi,
                                                                       "Integer": sympy.Integer,
                                                                       "Float": sympy.Float,
                                                                       "Rational": sympy.Rational,
                                                                       "Symbol": sympy.Symbol})
        return Value(symbolic=expr, expression=expression) if isinstance(expr, sympy.Expr) else None
    except Exception:  # noqa: BLE001 -- sympy raises many kinds of errors on odd input; none is an answer
        return None


def equivalent(prediction: Value, gold: Value) -> bool:
    """Equal as exact numbers, close (relative 1e-5) when either is inexact, or symbolically equal."""
    if prediction.number is not None and gold.number is not None:
        if prediction.exact and gold.exact:
            return prediction.number == gold.number
        a, b = float(prediction.number), float(gold.number)
        return math.isclose(a, b, rel_tol=RELATIVE_TOLERANCE, abs_tol=1e-12)
    if prediction.number is not None or gold.number is not None:
        return False
    if prediction.symbolic is not None and gold.symbolic is not None:
        try:
            return bool(_sympy().simplify(prediction.symbolic - gold.symbolic) == 0)
        except Exception:  # noqa: BLE001 -- fall back to the text below
            pass
    return prediction.expression.replace(" ", "") == gold.expression.replace(" ", "")


def gold_value(gold: str | int | float) -> Value:
    """The reference answer as a value. Unlike model output, a gold that does not parse is an error."""
    expression = normalize(str(gold))
    value = parse_value(expression) if expression is not None else None
    if value is None:
        raise ValueError(f"cannot read the reference answer {gold!r} as a number or expression")
    return value


@dataclass(frozen=True)
class Grade:
    correct: bool
    answer: Answer | None

    @property
    def score(self) -> float:
        """The authors' per-sample score: 100.0 for a correct answer, 0.0 otherwise."""
        return 100.0 if self.correct else 0.0


def grade(prediction: str, gold: str | int | float) -> Grade:
    """Grade one model output (thinking included) against the reference answer."""
    reference = gold_value(gold)
    answer = extract_answer(prediction)
    if answer is None:
        return Grade(False, None)
    value = parse_value(answer.expression)
    return Grade(value is not None and equivalent(value, reference), answer)


def is_correct(prediction: str, gold: str | int | float) -> bool:
    return grade(prediction, gold).correct
