"""Routing rules: an ordered list of "when a request looks like this, route it so".

Owns what a rule matches on (``model`` glob, ``endpoint``, ``session`` glob,
``header`` ``{name: value-glob}``, ``prompt_tokens`` and ``complexity``
bounds, ``has_tools``, ``has_images``), the actions (``local``, ``cloud``,
``overflow``, ``provider: NAME``) and finding the first rule that matches.
Every condition of a rule must hold (an empty match holds for every
request); the first matching rule wins. What an action *does* is
:func:`brb.core.policy.decide`'s, which applies compliance exclusion,
local-only, eligibility and the budget before any rule. Must not do I/O;
the facts are computed by the caller, the costly ones (the conversation's
token estimate and complexity) only when some rule asks for them
(:attr:`RuleSet.reads_body`, :attr:`RuleSet.reads_complexity`).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from brb.core import complexity
from brb.core.conversation import Conversation, estimate_prompt_tokens


class Action(StrEnum):
    LOCAL = "local"  # never divert
    CLOUD = "cloud"  # divert when eligible and within budget, even in standby
    OVERFLOW = "overflow"  # the default behaviour (and stop looking at later rules)
    PROVIDER = "provider"  # the default behaviour, trying the named provider first


@dataclass(frozen=True, slots=True)
class Bound:
    """``gt`` < value < ``lt`` (either side optional)."""

    gt: float | None = None
    lt: float | None = None

    def holds(self, value: float) -> bool:
        if self.gt is not None and not value > self.gt:
            return False
        return self.lt is None or value < self.lt


@dataclass(frozen=True, slots=True)
class RuleFacts:
    """What the rules can look at for one request. A None fact is unknown (not
    computed because no rule needed it, or not in a replay's trace): a condition on
    it never holds."""

    model: str
    endpoint: str
    session: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)  # case-insensitive, or lower case
    prompt_tokens: int | None = None
    has_tools: bool | None = None
    has_images: bool | None = None
    complexity: float | None = None


@dataclass(frozen=True, slots=True)
class Match:
    """The conditions of one rule; None means "any"."""

    model: str | None = None  # glob
    endpoint: str | None = None
    session: str | None = None  # glob
    header: Mapping[str, str] = field(default_factory=dict)  # lower-case name -> value glob
    prompt_tokens: Bound | None = None
    has_tools: bool | None = None
    has_images: bool | None = None
    complexity: Bound | None = None

    def holds(self, facts: RuleFacts) -> bool:
        if self.model is not None and not fnmatch.fnmatchcase(facts.model, self.model):
            return False
        if self.endpoint is not None and facts.endpoint != self.endpoint:
            return False
        if self.session is not None and not fnmatch.fnmatchcase(facts.session, self.session):
            return False
        for name, glob in self.header.items():
            value = facts.headers.get(name)
            if value is None or not fnmatch.fnmatchcase(value, glob):
                return False
        if self.prompt_tokens is not None and (
            facts.prompt_tokens is None or not self.prompt_tokens.holds(facts.prompt_tokens)
        ):
            return False
        if self.has_tools is not None and facts.has_tools is not self.has_tools:
            return False  # (an unknown None is neither True nor False)
        if self.has_images is not None and facts.has_images is not self.has_images:
            return False
        return self.complexity is None or (
            facts.complexity is not None and self.complexity.holds(facts.complexity)
        )

    @property
    def reads_body(self) -> bool:
        return (
            self.prompt_tokens is not None
            or self.has_tools is not None
            or self.has_images is not None
            or self.complexity is not None
        )

    def describe(self) -> str:
        """The conditions as one line, for ``brb config check``."""
        parts = [
            f"{name} {value}"
            for name, value in (
                ("model", self.model),
                ("endpoint", self.endpoint),
                ("session", self.session),
            )
            if value is not None
        ]
        parts += [f"header {name}: {glob}" for name, glob in self.header.items()]
        for name, bound in (("prompt_tokens", self.prompt_tokens), ("complexity", self.complexity)):
            if bound is not None:
                if bound.gt is not None:
                    parts.append(f"{name} > {bound.gt:g}")
                if bound.lt is not None:
                    parts.append(f"{name} < {bound.lt:g}")
        for name, flag in (("has_tools", self.has_tools), ("has_images", self.has_images)):
            if flag is not None:
                parts.append(f"{name} {str(flag).lower()}")
        return " and ".join(parts) or "every request"


@dataclass(frozen=True, slots=True)
class Rule:
    match: Match
    action: Action
    provider: str | None = None  # with Action.PROVIDER

    def describe(self) -> str:
        action = f"provider {self.provider}" if self.action is Action.PROVIDER else self.action
        return f"when {self.match.describe()}: {action}"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The first rule that matched: its 1-based number and what it says."""

    number: int
    action: Action
    provider: str | None = None

    @property
    def reason(self) -> str:
        """The stable route reason naming the rule, e.g. ``rule:2:cloud``."""
        return f"rule:{self.number}:{self.action}"


@dataclass(frozen=True, slots=True)
class RuleSet:
    rules: tuple[Rule, ...] = ()

    @property
    def reads_body(self) -> bool:
        """Whether some rule needs the conversation (tokens, tools, images, complexity)."""
        return any(rule.match.reads_body for rule in self.rules)

    @property
    def reads_complexity(self) -> bool:
        return any(rule.match.complexity is not None for rule in self.rules)

    def first_match(self, facts: RuleFacts) -> Verdict | None:
        for number, rule in enumerate(self.rules, start=1):
            if rule.match.holds(facts):
                return Verdict(number, rule.action, rule.provider)
        return None


def facts_of(
    rules: RuleSet,
    conv: Conversation,
    *,
    model: str,
    endpoint: str,
    session: str = "",
    headers: Mapping[str, str] | None = None,
    prompt_tokens: int | None = None,
) -> RuleFacts:
    """The facts ``rules`` look at, computing the complexity only if a rule reads it.
    ``headers`` must look names up case-insensitively (aiohttp's do) or be in lower case."""
    return RuleFacts(
        model=model,
        endpoint=endpoint,
        session=session,
        headers=headers if headers is not None else {},
        prompt_tokens=prompt_tokens if prompt_tokens is not None else estimate_prompt_tokens(conv),
        has_tools=conv.has_tools,
        has_images=conv.has_images,
        complexity=complexity.score(conv) if rules.reads_complexity else None,
    )
