"""genai-prices' `match` clauses: which model ids a model of that source answers to.

A clause is one of `{"equals": s}`, `{"starts_with": s}`, `{"ends_with": s}`, `{"contains": s}`,
`{"regex": r}`, `{"or": [clause, ...]}`, `{"and": [clause, ...]}`, compared as genai-prices 0.2.3
compares them (`types.Clause*`): the id asked for is lower-cased, the strings too; a regex is
searched (`re.search`) in the lower-cased id. A provider's `model_match` clause says which ids
are that provider's when no provider is named.

Pure functions: `clause_problem` checks a clause as the feed gives it (a bad one is dropped,
named, and the model is still served under its own id); `matcher` compiles a checked clause
once per catalog version into a predicate; `compact_date_variant` is genai-prices' second try
for LiteLLM's and OpenRouter's compact dates (`gpt-5.2-20251211` -> `gpt-5.2-2025-12-11`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

__all__ = ["AnswersTo", "clause_problem", "compact_date_variant", "matcher"]

_TEXT_KINDS = ("equals", "starts_with", "ends_with", "contains", "regex")
_LIST_KINDS = ("or", "and")
# Deeper nesting than any real clause (the 2026-07-25 file nests two levels): a bound, so a
# hostile file cannot make one check recurse without end.
MAX_CLAUSE_DEPTH = 8
MAX_CLAUSE_PARTS = 1000
# A group holding a repetition, itself repeated: `(a+)+`, `(x*y)*`, `(\d{2})+`. Timeline this
# prevents: a feed carries `^(a+)+$`; a user types `aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!` with
# `source=genai_prices`; Python's `re` backtracks for minutes and the worker thread is gone
# (it has no timeout). The real file's regexes (`^gemini-3\.5-flash-\d`) have no such group;
# a clause that has one is dropped, named, like any other bad clause.
_NESTED_REPEAT = re.compile(r"\([^()]*(?:[*+]|\{\d*,?\d*\})[^()]*\)(?:[*+]|\{\d*,?\d*\})")


@dataclass(frozen=True)
class AnswersTo:
    """What a model of a matching source answers to: its own clause, its provider's (for an id
    that names no provider), the providers whose models the provider also offers (genai-prices'
    `fallback_model_providers`), and its place in the file (providers, then their models, are
    tried in the file's order: the first match answers)."""

    clause: Mapping[str, Any]
    provider_clause: Mapping[str, Any] | None = None
    fallback_providers: tuple[str, ...] = ()
    place: tuple[int, int] = (0, 0)


def clause_problem(clause: Any, depth: int = 0, parts: list[int] | None = None) -> str | None:
    """Why `clause` is not a clause genai-prices would read, or None."""
    counted = parts if parts is not None else [0]
    counted[0] += 1
    if depth > MAX_CLAUSE_DEPTH or counted[0] > MAX_CLAUSE_PARTS:
        return "nested too deep or too long"
    if not isinstance(clause, dict) or len(clause) != 1:
        return "expected an object with one of " + ", ".join(_TEXT_KINDS + _LIST_KINDS)
    ((kind, value),) = clause.items()
    if kind in _TEXT_KINDS:
        if not isinstance(value, str):
            return f"{kind}: expected a string"
        if kind == "regex":
            try:
                re.compile(value)
            except re.error as exc:
                return f"regex: {exc}"
            if _NESTED_REPEAT.search(value):
                return "regex: a repeated group that repeats inside (could take exponential time)"
        return None
    if kind in _LIST_KINDS:
        if not isinstance(value, list) or not value:
            return f"{kind}: expected a non-empty list of clauses"
        for index, part in enumerate(value):
            problem = clause_problem(part, depth + 1, counted)
            if problem is not None:
                return f"{kind}[{index}]: {problem}"
        return None
    return f"unknown clause {kind!r}"


def matcher(clause: Mapping[str, Any]) -> Callable[[str], bool]:
    """A predicate over a lower-cased id for a clause `clause_problem` accepts."""
    ((kind, value),) = clause.items()
    if kind == "equals":
        wanted = value.lower()
        return lambda ref: ref == wanted
    if kind == "starts_with":
        prefix = value.lower()
        return lambda ref: ref.startswith(prefix)
    if kind == "ends_with":
        suffix = value.lower()
        return lambda ref: ref.endswith(suffix)
    if kind == "contains":
        part = value.lower()
        return lambda ref: part in ref
    if kind == "regex":
        pattern = re.compile(value)
        return lambda ref: pattern.search(ref) is not None
    parts = [matcher(p) for p in value]
    if kind == "or":
        return lambda ref: any(p(ref) for p in parts)
    return lambda ref: all(p(ref) for p in parts)


_COMPACT_DATE = re.compile(r"(-)(20\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?=-|:|$)")


def compact_date_variant(ref: str) -> str:
    """`ref` with each compact date suffix written with dashes (`-20251211` -> `-2025-12-11`);
    a string that is not a real date stays as it is."""

    def dashed(found: re.Match[str]) -> str:
        year, month, day = (int(found.group(i)) for i in range(2, 5))
        try:
            date(year, month, day)
        except ValueError:
            return found.group(0)
        return f"{found.group(1)}{year:04d}-{month:02d}-{day:02d}"

    return _COMPACT_DATE.sub(dashed, ref)
