"""How demanding a conversation looks, as one score in 0..1: the routing rules' ``complexity``.

Owns the features, each a cheap count over the text squashed to 0..1, and
their weights (``WEIGHTS``, the one place to tune them). Each feature is
evidence on its own, so they combine as a noisy OR:
``1 - prod(1 - weight * feature)``; one strong signal (a proof, a code
block) is enough to score about its weight, several push towards 1. The
features are mostly structural (size, turns, code shape, symbols, lists,
punctuation, word length) rather than topic keywords, which overfitted:
``bench/RESULTS.md`` gives the AUC on prompts the weights were tuned on and
on held-out ones.

Must not tokenize, call a model, do I/O, or take long: it runs on the
request path, so it scans at most the last ``SCAN_CHARS`` characters of the
user's turns and of the rest (a conversation's demands sit in its latest
turns; length counts everything), with a handful of C-speed passes (a set
of words, ``str.count``, three regular expressions anchored on a literal).
``bench/complexity.py`` measures it (well under 1 ms for a 32 KiB prompt)
and its AUC on ``examples/complexity.jsonl``.

Features (what raises each one):

* ``length`` — estimated tokens of the whole conversation (characters / 4),
  on a log scale: ~0.16 at 50 tokens, 1.0 from 4,000.
* ``turns`` — user and assistant messages beyond the first; 1.0 from 9.
* ``code`` — fenced code blocks, and lines that look like code (a keyword
  such as ``def``, ``class``, ``import``, ``return`` first, or ending in ``;``
  ``{`` ``}``); 1.0 from one block or six lines.
* ``math`` — distinct math words (prove, theorem, integral, derivative,
  probability, matrix, LaTeX names such as frac and sqrt...), powers
  (``^``) and ``$...$`` pairs; 1.0 from two.
* ``questions`` — question marks in the user's turns beyond the first;
  1.0 from three more.
* ``constraints`` — list items (numbered or bulleted), distinct
  requirement words (must, should, exactly, without, only, never, ensure,
  don't...) and the phrases at least / at most / no more than / do not, in
  the user's turns; 1.0 from five.
* ``tools`` — tool definitions offered; 1.0 from three.
* ``vocabulary`` — distinct long words (eight letters or more) in the
  user's turns, a proxy for specialised or precise language; 1.0 from six.
* ``clauses`` — commas, semicolons and colons in the user's turns (a brief
  with several parts or conditions); 1.0 from six.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from brb.core.conversation import Conversation

SCAN_CHARS = 16 * 1024
CHARS_PER_TOKEN = 4  # the rough estimate, as for the prompt size
LONG_WORD = 8  # letters: a word this long counts towards ``vocabulary``

# How much each feature, fully present, says on its own (0..1 each).
WEIGHTS: Mapping[str, float] = MappingProxyType(
    {
        "length": 0.50,
        "turns": 0.30,
        "code": 0.55,
        "math": 0.55,
        "questions": 0.35,
        "constraints": 0.35,
        "tools": 0.40,
        "vocabulary": 0.45,
        "clauses": 0.30,
    }
)

_PUNCT = str.maketrans({c: " " for c in '!"#$%&()*+,./:;<=>?@[\\]^_`{|}~'})


def _vocabulary(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Vocabularies, lower case: a feature counts the distinct ones a text uses.
MATH_WORDS = _vocabulary(
    """prove proof theorem lemma corollary integral integrate derivative differentiate
    equation equations probability variance matrix matrices eigenvalue eigenvalues
    eigenvector polynomial modulo asymptotic induction frac sqrt sum prod lim infty
    mathbb alpha beta theta lambda sigma logarithm convergence"""
)
CONSTRAINT_WORDS = _vocabulary(
    """must should shall exactly without only never always ensure avoid require required
    requirement requirements don't mustn't shouldn't cannot limit limited"""
)
CONSTRAINT_PHRASES = ("at least", "at most", "no more than", "do not")
# A line that starts like code, or ends like C-family code; a list item.
_CODE_START = re.compile(r"\n[ \t]*(?:def|class|import|return|function|const|fn|#include) ")
_CODE_END = re.compile(r"[;{}][ \t]*\n")
_LIST_ITEM = re.compile(r"\n[ \t]*(?:[-*\u2022]|\d{1,2}[.)]) ")


@dataclass(frozen=True, slots=True)
class Features:
    """Each feature of one conversation, squashed to 0..1."""

    length: float
    turns: float
    code: float
    math: float
    questions: float
    constraints: float
    tools: float
    vocabulary: float
    clauses: float

    def score(self) -> float:
        # Each feature is one piece of evidence: 1 - prod(1 - weight * feature).
        doubt = 1.0
        for name, weight in WEIGHTS.items():
            doubt *= 1.0 - weight * getattr(self, name)
        return round(min(1.0, max(0.0, 1.0 - doubt)), 4)


def features(conv: Conversation) -> Features:
    """The features of ``conv`` (see the module doc for what raises each)."""
    user = "\n" + "\n".join(conv.user_texts)[-SCAN_CHARS:].lower() + "\n"
    context = "\n" + "\n".join((conv.system, *conv.other_texts))[-SCAN_CHARS:].lower() + "\n"
    words = set(user.translate(_PUNCT).split())
    code_lines = sum(
        len(_CODE_START.findall(text)) + len(_CODE_END.findall(text)) for text in (user, context)
    )
    fences = (user.count("```") + context.count("```")) // 2
    symbols = user.count("^") + context.count("^") + user.count("$") // 2
    constraints = len(words & CONSTRAINT_WORDS) + len(_LIST_ITEM.findall(user))
    constraints += sum(user.count(p) for p in CONSTRAINT_PHRASES)
    long_words = sum(1 for word in words if len(word) >= LONG_WORD and word.isalpha())
    clauses = user.count(",") + user.count(";") + user.count(":")
    return Features(
        length=_squash_log(conv.chars // CHARS_PER_TOKEN, 50, 4_000),
        turns=_ratio(max(0, conv.turns - 1), 8),
        code=max(_ratio(fences, 1), _ratio(code_lines, 6)),
        math=_ratio(len(words & MATH_WORDS) + symbols, 2),
        questions=_ratio(max(0, user.count("?") - 1), 3),
        constraints=_ratio(constraints, 5),
        tools=_ratio(conv.tools, 3),
        vocabulary=_ratio(long_words, 6),
        clauses=_ratio(clauses, 6),
    )


def score(conv: Conversation) -> float:
    """The complexity of ``conv`` in 0..1 (higher: more demanding)."""
    return features(conv).score()


def _ratio(count: int, full: int) -> float:
    return min(1.0, count / full)


def _squash_log(count: int, low: int, full: int) -> float:
    """0 at zero, ``log 2 / log(1 + full / low)`` at ``low``, 1 from ``full`` on (log scale)."""
    return min(1.0, math.log1p(count / low) / math.log1p(full / low))
