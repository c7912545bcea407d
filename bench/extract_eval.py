"""Evaluation: how well the conversation extractor (plans/drafting/) finds what people said.

    .venv/bin/python bench/extract_eval.py [--verbose] [--speed]

Reads every conversation under tests/fixtures/conversations/ (the text and its hand-made
annotation, NN-name.json; conventions in that folder's README.md), drafts it with the
product's extractor, and prints precision and recall per item kind and overall:

- steps: by type, per conversation;
- dates: over the steps and anchors found that were expected with a date: the same day, or
  "vague" both ways;
- owners, durations: over the steps found that were expected with one;
- anchors: by kind; stakeholders: by name.

`--speed` also drafts a 60-minute transcript (about 10,000 words, made from the set's
transcripts) and prints the time, cold (the first in the process) and warm.
Targets (issue): steps recall and precision >= 0.8; dates >= 0.85; owners >= 0.7; the
60-minute transcript under 1 s. tests/plans/test_drafting_eval.py holds the floor.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "conversations"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-for-production-0123456789")

KINDS = ("steps", "dates", "owners", "durations", "anchors", "stakeholders")


@dataclass
class Tally:
    found: int = 0  # items the extractor gave
    expected: int = 0  # items the annotation has
    right: int = 0  # items both agree on

    @property
    def precision(self) -> float:
        return self.right / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        return self.right / self.expected if self.expected else 1.0


@dataclass
class Result:
    tallies: dict[str, Tally] = field(default_factory=lambda: {k: Tally() for k in KINDS})
    misses: list[str] = field(default_factory=list)

    @property
    def overall(self) -> Tally:
        return Tally(
            found=sum(t.found for t in self.tallies.values()),
            expected=sum(t.expected for t in self.tallies.values()),
            right=sum(t.right for t in self.tallies.values()),
        )


def context_of(annotation: dict):
    from plans.drafting.extract import Context, Person

    return Context(
        call_date=date.fromisoformat(annotation["call_date"]),
        day_first=not annotation.get("time_zone", "").startswith("America/"),
        people=[
            Person(name=p["name"], side=p["side"], title=p.get("title") or "", key=f"k{i}")
            for i, p in enumerate(annotation.get("known_people", []))
        ],
        seller_company=annotation.get("seller_company", ""),
        # Notes are the seller's: the first seller the deal knows wrote them.
        author=next(
            (p["name"] for p in annotation.get("known_people", []) if p["side"] == "seller"), ""
        ),
        buyer_company=annotation.get("buyer_company", ""),
    )


def _name(text: str) -> str:
    return re.sub(r"\s+", " ", (text or "").strip().casefold())


def _same_owner(want: str, got: str) -> bool:
    """The same person, or the same role however it is worded ("DPO" and "Data Protection
    Officer", "GC" and "General Counsel": the lexicon's title for both)."""
    if _name(want) == _name(got):
        return True
    from plans.drafting.lexicon import load

    def title(text):
        return next((short for pattern, short, _ in load().titles if pattern.search(text)), None)

    return title(want) is not None and title(want) == title(got)


def _same_date(expected, found_day, found_vague) -> bool:
    if expected == "vague":
        return bool(found_vague)
    return not found_vague and found_day is not None and found_day.isoformat() == expected


def score(annotation: dict, draft, result: Result) -> None:
    """Add one conversation's comparison to `result`."""
    tallies, name = result.tallies, annotation["source"]
    expected = {s["type"]: s for s in annotation["expected"]["steps"]}
    found = {s.type: s for s in draft.steps}
    tallies["steps"].expected += len(expected)
    tallies["steps"].found += len(found)
    tallies["steps"].right += len(expected.keys() & found.keys())
    for kind in sorted(expected.keys() - found.keys()):
        result.misses.append(f"{name}: step {kind} not found ({expected[kind]['quote']!r})")
    for kind in sorted(found.keys() - expected.keys()):
        result.misses.append(f"{name}: step {kind} not expected ({found[kind].quote[:80]!r})")
    for kind in expected.keys() & found.keys():
        want, got = expected[kind], found[kind]
        _attribute(
            result,
            "dates",
            name,
            kind,
            want.get("date"),
            (got.date, got.vague),
            has=got.date is not None or got.vague,
            same=lambda w, g: _same_date(w, *g),
        )
        owner = want.get("owner") or want.get("owner_title")
        _attribute(
            result,
            "owners",
            name,
            kind,
            owner,
            got.owner or got.owner_title,
            has=bool(got.owner or got.owner_title),
            same=_same_owner,
        )
        _attribute(
            result,
            "durations",
            name,
            kind,
            want.get("duration_days"),
            got.duration_days,
            has=got.duration_days is not None,
            same=lambda w, g: w == g,
        )
    expected_anchors = {a["kind"]: a for a in annotation["expected"]["anchors"]}
    found_anchors = {a.kind: a for a in draft.anchors}
    tallies["anchors"].expected += len(expected_anchors)
    tallies["anchors"].found += len(found_anchors)
    tallies["anchors"].right += len(expected_anchors.keys() & found_anchors.keys())
    for kind in sorted(expected_anchors.keys() ^ found_anchors.keys()):
        side = "not found" if kind in expected_anchors else "not expected"
        result.misses.append(f"{name}: anchor {kind} {side}")
    for kind in expected_anchors.keys() & found_anchors.keys():
        got = found_anchors[kind]
        _attribute(
            result,
            "dates",
            name,
            f"anchor {kind}",
            expected_anchors[kind].get("date"),
            (got.date, got.vague),
            has=got.date is not None or got.vague,
            same=lambda w, g: _same_date(w, *g),
        )
    want_people = {_name(p["name"]) for p in annotation["expected"]["stakeholders"]}
    got_people = {_name(p.name) for p in draft.people}
    tallies["stakeholders"].expected += len(want_people)
    tallies["stakeholders"].found += len(got_people)
    tallies["stakeholders"].right += len(want_people & got_people)
    for person in sorted(want_people - got_people):
        result.misses.append(f"{name}: person {person!r} not found")
    for person in sorted(got_people - want_people):
        result.misses.append(f"{name}: person {person!r} not expected")


def _attribute(result, kind, name, item, want, got, *, has, same) -> None:
    tally = result.tallies[kind]
    tally.expected += want is not None
    tally.found += bool(has)
    if want is not None and has and same(want, got):
        tally.right += 1
    elif want is not None or has:
        result.misses.append(f"{name}: {item} {kind[:-1]} {got!r}, expected {want!r}")


def evaluate(directory: Path = FIXTURES) -> Result:
    import django

    django.setup()
    from plans.drafting.extract import extract

    result = Result()
    for path in sorted(directory.glob("*.json")):
        annotation = json.loads(path.read_text("utf-8"))
        text = (directory / annotation["source"]).read_text("utf-8")
        score(annotation, extract(text, context_of(annotation)), result)
    return result


def long_transcript(words: int = 10_000) -> str:
    """A 60-minute call: the set's speaker-labelled transcripts, end to end, until ~10,000
    words."""
    parts, count = [], 0
    sources = [
        text
        for path in sorted(FIXTURES.glob("*.txt"))
        if re.search(r"^\[\d|^[A-Z][a-z]+ [A-Z][a-z]+: ", text := path.read_text("utf-8"), re.M)
    ]
    if not sources:
        raise SystemExit(f"No speaker-labelled transcript under {FIXTURES}.")
    while count < words:
        for text in sources:
            parts.append(text)
            count += len(text.split())
            if count >= words:
                break
    return "\n".join(parts)


def main() -> None:
    verbose = "--verbose" in sys.argv
    started = time.perf_counter()
    result = evaluate()
    elapsed = time.perf_counter() - started
    files = len(list(FIXTURES.glob("*.json")))
    print(f"Conversations: {files} (tests/fixtures/conversations/), drafted in {elapsed:.2f} s")
    print(f"{'kind':<14}{'found':>7}{'expected':>10}{'right':>7}{'precision':>11}{'recall':>8}")
    for kind, tally in [*result.tallies.items(), ("overall", result.overall)]:
        print(
            f"{kind:<14}{tally.found:>7}{tally.expected:>10}{tally.right:>7}"
            f"{tally.precision:>11.2f}{tally.recall:>8.2f}"
        )
    if verbose:
        print("\nDifferences:")
        for miss in result.misses:
            print("  " + miss)
    if "--speed" in sys.argv:
        from plans.drafting.extract import Context, extract

        text = long_transcript()
        context = Context(call_date=date(2026, 10, 14))
        print(f"\n60-minute transcript: {len(text.split()):,} words, {len(text):,} characters")
        import subprocess

        cold = subprocess.run(
            [sys.executable, __file__, "--cold-once"], capture_output=True, text=True, check=True
        ).stdout.strip()
        print(f"  cold (a web process's first draft: imports, lexicon, dateparser's data): {cold}")
        times = []
        for _ in range(5):
            began = time.perf_counter()
            extract(text, context)
            times.append(time.perf_counter() - began)
        times.sort()
        median, best = times[2] * 1000, times[0] * 1000
        print(f"  warm: median {median:.0f} ms, best {best:.0f} ms (target < 1 s)")


def cold_once() -> None:
    import django

    django.setup()  # a web process has done this before its first request
    text = long_transcript()
    began = time.perf_counter()
    from plans.drafting.extract import Context, extract

    extract(text, Context(call_date=date(2026, 10, 14)))
    print(f"{(time.perf_counter() - began) * 1000:.0f} ms")


if __name__ == "__main__":
    if "--cold-once" in sys.argv:
        cold_once()
    else:
        main()
