"""The extractor's word lists, one TOML file per language (en.toml first): step types and
their words, negations, titles and roles, duration units, vague periods, anchors and the
cues of outcomes, criteria and risks. Compiled once per process."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path


@dataclass(frozen=True)
class StepType:
    key: str
    title: str
    side: str
    phase: str
    buyer_role: str
    seller_role: str
    days: int
    risk: str
    pattern: re.Pattern  # words that name the step
    weak: re.Pattern | None  # words that name it only beside a plan's words (a date, "need")


@dataclass(frozen=True)
class Lexicon:
    steps: dict[str, StepType]
    negation_before: re.Pattern
    negation_after: re.Pattern
    titles: list[tuple[re.Pattern, str, str]]  # pattern, short title, role
    units: dict[str, int]
    duration_phrases: list[tuple[re.Pattern, int]]
    numbers: dict[str, float]
    vague: re.Pattern
    anchors: dict[str, re.Pattern]
    statements: dict[str, re.Pattern]
    plan_words: re.Pattern
    own_side: re.Pattern
    other_side: re.Pattern
    not_names: frozenset[str]


def _any(patterns: list[str]) -> re.Pattern:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.I)


@cache
def load(language: str = "en") -> Lexicon:
    data = tomllib.loads((Path(__file__).parent / f"{language}.toml").read_text("utf-8"))
    steps = {
        key: StepType(
            key=key,
            title=entry["title"],
            side=entry["side"],
            phase=entry["phase"],
            buyer_role=entry["roles"][0],
            seller_role=entry["roles"][1],
            days=entry["days"],
            risk=entry["risk"],
            pattern=re.compile(r"\b(?:" + "|".join(entry["patterns"]) + ")", re.I),
            weak=re.compile(r"\b(?:" + "|".join(entry["weak"]) + ")", re.I)
            if entry.get("weak")
            else None,
        )
        for key, entry in data["steps"].items()
    }
    durations = dict(data["durations"])
    phrases = durations.pop("phrases")
    return Lexicon(
        steps=steps,
        negation_before=re.compile(
            r"(?:" + "|".join(data["negation"]["before"]) + r")\s*(?:\w+\s+){0,4}$", re.I
        ),
        negation_after=re.compile(
            r"^\W*(?:\w+\W+){0,2}(?:" + "|".join(data["negation"]["after"]) + ")", re.I
        ),
        titles=[
            (re.compile(rf"\b(?:{words})\b", re.I), short, role)
            for words, (short, role) in data["titles"].items()
        ],
        units=durations,
        duration_phrases=[
            (re.compile(rf"\b(?:{words})\b", re.I), days) for words, days in phrases.items()
        ],
        numbers=data["numbers"],
        vague=_any(data["vague"]["patterns"]),
        anchors={kind: _any(patterns) for kind, patterns in data["anchors"].items()},
        statements={kind: _any(patterns) for kind, patterns in data["statements"].items()},
        plan_words=re.compile(r"\b(?:" + "|".join(data["plan_words"]["patterns"]) + r")\b", re.I),
        own_side=_any(data["sides"]["own"]),
        other_side=_any(data["sides"]["other"]),
        not_names=frozenset(data["names"]["not_names"].split()),
    )
