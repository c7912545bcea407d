"""From a conversation to a proposed plan, every item with the sentence it came from.

Deterministic and explainable: rules over a lexicon (plans/drafting/lexicon/en.toml). The
stages — read turns (reading.py), find the people, the steps, the anchors and the
statements — are methods of `RuleExtractor`; `settings.DRAFTING_EXTRACTOR` names the class
used, so a statistical or language-model extractor can replace one stage (a subclass
overriding one method) or all of them behind the same `extract(text, context)`. Nothing
here touches the database or the network: the context says who is already on the deal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import cache, lru_cache

from django.conf import settings
from django.utils.module_loading import import_string

from . import reading
from .dates import DateMention, DurationMention, dates_in, durations_in
from .lexicon import Lexicon, load

BUYER, SELLER = "buyer", "seller"


@dataclass
class Person:
    name: str
    side: str
    title: str = ""
    role: str = ""
    email: str = ""
    key: str = ""  # the stakeholder's public id when already on the deal
    quote: str = ""
    speaker: str = ""  # who said the sentence that names them

    @property
    def first(self) -> str:
        return self.name.split()[0].casefold() if self.name else ""


@dataclass
class Context:
    """What the product already knows: the day of the call, its people, the companies."""

    call_date: date
    day_first: bool = False
    people: list[Person] = field(default_factory=list)
    seller_company: str = ""
    buyer_company: str = ""
    author: str = ""  # who pastes it: "Me:" and "I'll" in notes are theirs
    language: str = "en"


@dataclass
class StepItem:
    type: str
    title: str
    side: str
    phase: str
    quote: str
    speaker: str
    owner: str = ""  # a person's name
    owner_title: str = ""  # a role said without a name ("our CFO")
    duration_days: int | None = None
    date: date | None = None
    vague: bool = False
    date_text: str = ""
    duration_text: str = ""
    risks: list[str] = field(default_factory=list)


@dataclass
class Anchor:
    kind: str  # target_signature, fiscal_year_end, go_live, deadline
    date: date | None
    vague: bool
    quote: str
    speaker: str
    date_text: str = ""


@dataclass
class Statement:
    kind: str  # outcome, criteria, risk
    quote: str
    speaker: str
    step: str = ""  # the step type a risk is about


@dataclass
class Draft:
    steps: list[StepItem]
    anchors: list[Anchor]
    people: list[Person]
    statements: list[Statement]

    def of_kind(self, kind: str) -> list[Statement]:
        return [s for s in self.statements if s.kind == kind]


def extract(text: str, context: Context) -> Draft:
    """The draft of `text` by the configured extractor."""
    return extractor_class()(context).extract(text)


def type_of(title: str) -> str:
    """The step type a plan's step title names ("Complete security review" → security_review)."""
    for kind, step in load().steps.items():
        if step.pattern.search(title):
            return kind
    return ""


def step_types_in(text: str) -> set[str]:
    """The step types a text names and does not rule out ("another week for legal")."""
    extractor = RuleExtractor(Context(call_date=date.today()))
    return {kind for _start, _end, kind, negated in extractor._mentions(text) if not negated}


@cache
def extractor_class():
    return import_string(
        getattr(settings, "DRAFTING_EXTRACTOR", "plans.drafting.extract.RuleExtractor")
    )


# --- The rule-based extractor -----------------------------------------------------------------

NAME_WORD = r"[A-Z][a-z]+(?:[-'’][A-Z]?[a-z]+)?"
FULL_NAME = re.compile(rf"\b({NAME_WORD}(?:\s+(?:[A-Z]\.\s+)?{NAME_WORD}){{1,2}})\b")
NAME_CUES_BEFORE = re.compile(
    r"(?:loop(?:ing)? in|looped in|cc(?:'d|ing)?|bring(?:ing)? in|include|add(?:ing)?|ask(?:ed)?|"
    r"talk(?:ed)? to|spoke (?:to|with)|speak (?:to|with)|meet(?:ing)? with|introduce you to|ping|"
    r"pull(?:ing)? in|check with|run it by|with|from|to|and|thanks|hi|hey|hello|dear|"
    r"(?:our|my|their|your|the)\s+[A-Za-z ]{2,40}?,?)\s+$",
    re.I,
)
VOCATIVE = re.compile(
    r"^\s*,\s*(?:i|you|we|can you|could you|would you|you said|what|how|when)\b", re.I
)
NAME_CUES_AFTER = re.compile(
    r"^(?:\s*,\s*(?:our|my|their|your|the|who|head|vp|director|chief)|\s*\(|\s+there\b|\s+(?:will|'ll|’ll|can|is|"
    r"was|needs?|owns?|handles?|runs?|leads?|said|says|mentioned|signs?|from|on|in|at|over|who|"
    r"has|had|would|should|could|and|wants?|is going to|agreed|approves?|mentioned)\b)",
)
FIRST_NAME = re.compile(
    r"(?:\b(?:goes to|go to|loop(?:ing)? in|looped in|cc(?:'d|ing)?|ask|asked|talk(?:ed)? to|"
    r"check(?:ed)? with|send (?:it|that|this|them) to|owned by|sign-?off from|approval from|"
    r"copying|introduce you to|meet)\s+(?P<name>[A-Z][a-z]{2,})\b(?!\s+[A-Z])"
    r"|\b(?P<name2>[A-Z][a-z]{2,})"
    r"(?=\s+(?:on|from|in) (?:our|the|their) [a-z]|\s*,\s*(?:our|my|who)\b"
    r"|\s+to (?:sign|send|get|review|approve|present|run|own|line up|confirm|handle|take|book|"
    r"set up|lead|draft|share|schedule)\b))"
)
ROLE_SIDE = {
    "champion": BUYER,
    "economic_buyer": BUYER,
    "technical_evaluator": BUYER,
    "security_reviewer": BUYER,
    "procurement": BUYER,
    "legal_reviewer": BUYER,
    "buyer_other": BUYER,
    "ae": SELLER,
    "se": SELLER,
    "csm": SELLER,
    "seller_legal": SELLER,
    "exec_sponsor": SELLER,
    "seller_other": SELLER,
}
SELLER_CUES = re.compile(
    r"\b(?:our|my) (?:platform|product|solution|tool|software|soc ?2|pen ?test|customers|"
    r"implementation|onboarding team|order form|proposal|pricing|trust (?:center|portal)|"
    r"security (?:docs|packet|documentation)|standard (?:msa|dpa|terms))\b|"
    r"\b(?:i|we)(?:'ll|’ll| will| can) (?:send|get|share) (?:you|over)\b|\bhappy to send\b|"
    r"\byour (?:team|cfo|ciso|legal|procurement|board|fiscal|budget|security|it|side|company)\b",
    re.I,
)
BUYER_CUES = re.compile(
    r"\byour (?:platform|product|solution|tool|software|soc ?2|pen ?test|pricing|proposal|"
    r"order form|paper|msa|dpa|customers|implementation|security (?:docs|packet))\b|"
    r"\b(?:our|my) (?:cfo|ciso|ceo|cio|cto|procurement|legal|board|fiscal|budget|security team|"
    r"it team|infosec|gc|general counsel|vp|finance|vendor)\b",
    re.I,
)
I_WILL = re.compile(
    r"\b(?:i(?:'ll|’ll| will| can| am going to|'m going to|’m going to| need to| have to| own| "
    r"handle| run| want to| want the| want a| plan to|'d like to|’d like to)|let me|i'm on|"
    r"i’m on|i'll take|i’ll take|^me\s*:)",
    re.I,
)
WE_WILL = re.compile(
    r"\b(?:we(?:'ll|’ll| will| can| are going to|'re going to|’re going to| need to| have to| "
    r"usually| typically| normally| always)|our side|on our end|from our side)\b",
    re.I,
)
YOU_WILL = re.compile(
    r"\b(?:you(?:'ll|’ll| will| can| could| guys| all)|can you|could you|would you|will you|"
    r"your side|on your end|from your side|you to)\b",
    re.I,
)

QUESTION = re.compile(
    r"^(?:[^?]*,\s*)?\W*(?:so\W+|and\W+|but\W+|okay\W+|ok\W+|um\W+|uh\W+)*(?:when|what|how|"
    r"who|where|which|why|do|does|did|is|are|was|were|have|has|any|anything|should|can i|"
    r"could i|may i|shall i)\b[^?]*\?\s*$",
    re.I,
)
CLAUSE = re.compile(r"[;:,()]|\s[-–—]\s|\bbut\b|\bso\b|\band then\b|\bthen\b|\bbecause\b")


class RuleExtractor:
    def __init__(self, context: Context):
        self.context = context
        self.lexicon: Lexicon = load(context.language)
        self._mentions_of: dict[str, list] = {}

    def extract(self, text: str) -> Draft:
        turns = reading.turns_of(text)
        sentences = reading.sentences_of(turns)
        people = self.find_people(turns, sentences)
        sides = self.speaker_sides(turns, sentences, people)
        self._speakers = {t.speaker for t in turns if t.speaker}
        steps = self.find_steps(sentences, people, sides)
        anchors = self.find_anchors(sentences)
        statements = self.find_statements(sentences, sides, steps)
        mentioned = [p for p in people if p.quote]
        return Draft(steps=steps, anchors=anchors, people=mentioned, statements=statements)

    # --- People ---------------------------------------------------------------------------

    def find_people(
        self, turns: list[reading.Turn], sentences: list[reading.Sentence]
    ) -> list[Person]:
        """The deal's people who speak or are named, the known ones matched (by email, full
        name, or a first name only one of them has), new ones with the title said beside
        their name."""
        people = [
            Person(
                name=p.name,
                side=p.side,
                title=p.title,
                role=p.role,
                email=p.email,
                key=p.key,
            )
            for p in self.context.people
        ]
        for turn in turns:
            if not turn.speaker:
                continue
            person = self._person(people, turn.speaker, email=turn.email)
            if person is None:
                person = Person(name=turn.speaker, side="", email=turn.email)
                people.append(person)
            if turn.signature and not person.title:
                person.title = self._title_in(turn.signature)[0]
            if not person.quote:
                first = reading.sentences_of([turn])
                person.quote = (first[0].text if first else turn.signature.split("\n")[0])[:200]
                person.speaker = turn.speaker
        for sentence in sentences:
            for match in FULL_NAME.finditer(sentence.text):
                name = match.group(1)
                words = name.split()
                if any(
                    w.casefold().strip(".") in self.lexicon.not_names for w in words
                ) or self._is_company(name):
                    continue
                before = sentence.text[: match.start()]
                after = sentence.text[match.end() :]
                known = self._person(people, name)
                if known is None and not (
                    NAME_CUES_BEFORE.search(before) or NAME_CUES_AFTER.match(after)
                ):
                    continue
                if known is None:
                    title, role = self._title_near(sentence.text, match.start(), match.end())
                    known = Person(
                        name=name,
                        side=self._side_said(sentence, before, role),
                        title=title,
                        role=role,
                    )
                    people.append(known)
                if not known.quote:
                    known.quote, known.speaker = sentence.text[:200], sentence.speaker
            for match in FIRST_NAME.finditer(sentence.text):
                # One name said with a person's cue: "it goes to Raymond on our GRC team".
                group = "name" if match["name"] else "name2"
                name = match[group]
                if (
                    match.start(group) == 0
                    or name.casefold() in self.lexicon.not_names
                    or self._is_company(name)
                    or any(name in p.name.split() for p in people)
                ):
                    continue
                before = sentence.text[: match.start(group)]
                title, role = self._title_near(sentence.text, match.start(group), match.end(group))
                people.append(
                    Person(
                        name=name,
                        side=self._side_said(sentence, before, role),
                        title=title,
                        role=role,
                        quote=sentence.text[:200],
                        speaker=sentence.speaker,
                    )
                )
        # A speaker known only by a first name ("Dana:") is the person of that first name.
        return self._merge_first_names(people)

    def _merge_first_names(self, people: list[Person]) -> list[Person]:
        kept: list[Person] = []
        for person in people:
            if len(person.name.split()) == 1 and not person.key:
                fuller = [
                    p
                    for p in people
                    if p is not person and len(p.name.split()) > 1 and p.first == person.first
                ]
                if len(fuller) == 1:
                    target = fuller[0]
                    target.quote = target.quote or person.quote
                    target.speaker = target.speaker or person.speaker
                    target.email = target.email or person.email
                    target.title = target.title or person.title
                    person.name = target.name  # speakers keep resolving to the full name
                    continue
            kept.append(person)
        return kept

    def _person(self, people: list[Person], name: str, *, email: str = "") -> Person | None:
        if email:
            for person in people:
                if person.email and person.email.casefold() == email.casefold():
                    return person
        key = _name_key(name)
        if not key:
            return None
        for person in people:
            if _name_key(person.name) == key:
                return person
        words = key.split()
        if len(words) == 1:
            fits = [p for p in people if p.first == words[0]]
            return fits[0] if len(fits) == 1 else None
        fits = [
            p
            for p in people
            if len(_name_key(p.name).split()) == len(words)
            and all(
                a == b or (len(a) == 1 and b.startswith(a)) or (len(b) == 1 and a.startswith(b))
                for a, b in zip(words, _name_key(p.name).split(), strict=True)
            )
        ]
        return fits[0] if len(fits) == 1 else None

    def _is_company(self, name: str) -> bool:
        folded = name.casefold()
        return any(
            company
            and (folded in company.casefold() or company.casefold().split()[0] in folded.split())
            for company in (self.context.seller_company, self.context.buyer_company)
        )

    def _title_in(self, text: str) -> tuple[str, str]:
        for pattern, short, role in self.lexicon.titles:
            if pattern.search(text):
                return short, role
        return "", ""

    def _title_said(self, text: str) -> tuple[str, str]:
        """A role as said ("InfoSec", "our DPO", "the legal team" → "legal") and its role."""
        for pattern, _short, role in self.lexicon.titles:
            if match := pattern.search(text):
                said = re.sub(
                    r"\s+(team|folks|people|department|group|office)$",
                    "",
                    match.group(0),
                    flags=re.I,
                )
                if said.isupper() or any(c.isupper() for c in said[1:]):
                    return said, role  # "CFO", "InfoSec" as written
                return (said.upper() if len(said) <= 4 else said[:1].upper() + said[1:]), role
        return "", ""

    def _title_near(self, text: str, start: int, end: int) -> tuple[str, str]:
        around = text[max(0, start - 40) : start] + " " + text[end : end + 50]
        return self._title_in(around)

    def _side_said(self, sentence: reading.Sentence, before: str, role: str) -> str:
        """The side of a person named in a sentence: "our"/"my" just before is the speaker's,
        "your" the other's; else their role's; else the buyer's (sellers speak of the buyer's
        people far more than of their own, who speak for themselves)."""
        near = before[-40:]
        if re.search(r"\b(our|my)\b", near, re.I):
            return "same:" + sentence.speaker
        if re.search(r"\byour\b", near, re.I):
            return "other:" + sentence.speaker
        if role and role not in ("buyer_other", "seller_other"):
            return ROLE_SIDE.get(role, BUYER)
        return BUYER

    def speaker_sides(self, turns, sentences, people: list[Person]) -> dict[str, str]:
        """Each speaker's side: known people's, then the company they say they are from,
        their email's domain, then how they speak ("your product" is a buyer's words)."""
        sides: dict[str, str] = {}
        domains: dict[str, str] = {}
        for person in people:
            if person.side in (BUYER, SELLER) and person.email and "@" in person.email:
                domains[person.email.rsplit("@", 1)[1]] = person.side
        scores: dict[str, int] = {}
        for turn in turns:
            if not turn.speaker:
                continue
            person = self._person(people, turn.speaker, email=turn.email)
            if person and person.side in (BUYER, SELLER):
                sides[turn.speaker] = person.side
                continue
            text = turn.text + " " + turn.signature
            if turn.email and "@" in turn.email and turn.email.rsplit("@", 1)[1] in domains:
                sides[turn.speaker] = domains[turn.email.rsplit("@", 1)[1]]
                continue
            for company, side in (
                (self.context.seller_company, SELLER),
                (self.context.buyer_company, BUYER),
            ):
                first = company.split()[0] if company else ""
                if first and (
                    re.search(rf"\b(from|at|here at|with|of)\s+{re.escape(first)}\b", text, re.I)
                    or (turn.email and first.casefold() in turn.email)
                    or (turn.signature and first.casefold() in turn.signature.casefold())
                ):
                    scores[turn.speaker] = scores.get(turn.speaker, 0) + (
                        5 if side == SELLER else -5
                    )
            scores[turn.speaker] = (
                scores.get(turn.speaker, 0)
                + len(SELLER_CUES.findall(turn.text))
                - len(BUYER_CUES.findall(turn.text))
            )
        for speaker, score in scores.items():
            if speaker not in sides:
                sides[speaker] = SELLER if score > 0 else BUYER
        for person in people:
            if person.side not in (BUYER, SELLER):
                if person.side.startswith("same:"):
                    person.side = sides.get(person.side[5:], BUYER)
                elif person.side.startswith("other:"):
                    said = sides.get(person.side[6:], SELLER)
                    person.side = BUYER if said == SELLER else SELLER
                else:
                    person.side = sides.get(person.name, BUYER)
        return sides

    # --- Steps -----------------------------------------------------------------------------

    def _mentions(self, text: str) -> list[tuple[int, int, str, bool]]:
        if text not in self._mentions_of:
            self._mentions_of[text] = self._find_mentions(text)
        return self._mentions_of[text]

    def _find_mentions(self, text: str) -> list[tuple[int, int, str, bool]]:
        """(start, end, type, negated) of every step named in a sentence, strong words first;
        a weak word only beside a plan's words."""
        found: list[tuple[int, int, str, bool]] = []
        plan_like = bool(self.lexicon.plan_words.search(text))
        for step in self.lexicon.steps.values():
            matches = list(step.pattern.finditer(text))
            if not matches and step.weak is not None and plan_like:
                matches = list(step.weak.finditer(text))
            if not matches:
                continue
            # "Pilot: as discussed, we will not do a pilot." — any mention ruled out rules it out.
            negated = any(self._negated(text, m.start(), m.end()) for m in matches)
            found.append((matches[0].start(), matches[0].end(), step.key, negated))
        found.sort()
        # Overlaps: "security questionnaire" is not also a "questionnaire" elsewhere; the
        # earlier and longer match keeps the words.
        kept: list[tuple[int, int, str, bool]] = []
        for item in found:
            if (
                kept
                and item[0] < kept[-1][1]
                and (item[1] - item[0]) <= (kept[-1][1] - kept[-1][0])
            ):
                continue
            kept.append(item)
        return kept

    def _negated(self, text: str, start: int, end: int) -> bool:
        clause_start = 0
        for boundary in CLAUSE.finditer(text[:start]):
            clause_start = boundary.end()
        before = text[clause_start:start]
        after_text = text[end:]
        cut = re.search(r"[.;(]|,\s*(but|and|so)\b", after_text)
        after = after_text[: cut.start()] if cut else after_text
        return bool(
            self.lexicon.negation_before.search(before) or self.lexicon.negation_after.search(after)
        )

    def find_steps(self, sentences, people: list[Person], sides: dict[str, str]) -> list[StepItem]:
        """One item per step type: the first sentence that names it is its quote; owner,
        duration and date come from the first sentence that says one (later ones are mostly
        recaps or other matters; a correction within the sentence wins: "the 14th — no
        sorry, the 21st"); a step ruled out in its last mention is dropped."""
        items: dict[str, StepItem] = {}
        ruled_out: set[str] = set()
        base, day_first = self.context.call_date, self.context.day_first
        for index, sentence in enumerate(sentences):
            mentions = self._mentions(sentence.text)
            if not mentions or QUESTION.match(sentence.text):
                continue  # "when would you want to kick it off?" plans nothing yet
            # "we'd want it signed by mid-November": the buyer's date (an anchor), not a step.
            for kind, step_kind in (("target_signature", "signature"),):
                if self.lexicon.anchors[kind].search(sentence.text) and self._dated(sentence.text):
                    mentions = [m for m in mentions if m[2] != step_kind]
            if not mentions:
                continue
            if self.lexicon.statements["risk"].search(sentence.text):
                dates, durations = [], []  # "legal is swamped until January" dates no step
            else:
                dates = dates_in(
                    sentence.text, base=base, day_first=day_first, lexicon=self.lexicon
                )
                durations = durations_in(sentence.text, lexicon=self.lexicon)
            follow = sentences[index + 1] if index + 1 < len(sentences) else None
            if (
                follow is not None
                and not self._mentions(follow.text)
                and re.match(
                    r"^\W*(that|it|this|which|so|yes|yeah|sure|ok|okay|absolutely|by|about|probably|"
                    r"usually|typically|realistically|hopefully|i'd say|i think|we're looking at|"
                    r"takes?|should be|could be|maybe|me to|me|due|eta|target|owner)\b",
                    follow.text,
                    re.I,
                )
            ):
                if not dates:
                    dates = dates_in(
                        follow.text, base=base, day_first=day_first, lexicon=self.lexicon
                    )
                    dates = [_shifted(d, len(sentence.text) + 1) for d in dates]
                if not durations:
                    durations = durations_in(follow.text, lexicon=self.lexicon)
                    durations = [_shifted(d, len(sentence.text) + 1) for d in durations]
            for position, (start, end, kind, negated) in enumerate(mentions):
                if negated:
                    ruled_out.add(kind)
                    continue
                ruled_out.discard(kind)
                step = self.lexicon.steps[kind]
                item = items.get(kind)
                if item is None:
                    item = StepItem(
                        type=kind,
                        title=step.title,
                        side=step.side,
                        phase=step.phase,
                        quote=sentence.text[:300],
                        speaker=sentence.speaker,
                    )
                    items[kind] = item
                own = _nearest(mentions, position, dates)
                if own is not None and (item.date is None or item.vague and not own.vague):
                    item.date, item.vague, item.date_text = own.day, own.vague, own.text
                span = _nearest(mentions, position, durations)
                if span is not None and item.duration_days is None:
                    item.duration_days, item.duration_text = span.days, span.text
                self._owner(item, sentence, start, end, mentions, people, sides)
        return [item for kind, item in items.items() if kind not in ruled_out]

    def _dated(self, text: str) -> bool:
        base, day_first = self.context.call_date, self.context.day_first
        return bool(dates_in(text, base=base, day_first=day_first, lexicon=self.lexicon))

    def _owner(self, item, sentence, start, end, mentions, people, sides) -> None:
        """Who owns the step, from the sentence naming it: a person named near it, a role
        said with it ("sign-off from our CFO"), the speaker saying "I'll …" just before it,
        or only its side ("we'll", "can you"). The first owner said is kept."""
        text = sentence.text
        speaker_side = sides.get(sentence.speaker, "")
        other_side = BUYER if speaker_side == SELLER else SELLER
        if item.owner:
            return
        previous_end = max((m[1] for m in mentions if m[1] <= start), default=0)
        next_start = min((m[0] for m in mentions if m[0] >= end), default=len(text))
        window = text[previous_end:next_start]
        offset = previous_end
        best = None
        for person in people:
            if not person.name:
                continue
            for word in {person.name, person.name.split()[0]}:
                for match in re.finditer(rf"\b{re.escape(word)}\b", window):
                    if VOCATIVE.match(window[match.end() :]) and re.search(
                        r"(^|[,.;:]\s*|\b(so|and|ok|okay|right|thanks|hi|hey)\s*,?\s*)$",
                        window[: match.start()],
                        re.I,
                    ):
                        continue  # "Benjamin, I'll build the ROI model": spoken to, not owner
                    at = match.start() + offset
                    distance = at - end if at >= end else start - (match.end() + offset)
                    if distance <= 60 and (best is None or distance < best[0]):
                        best = (distance, person)
        if best is not None:
            item.owner, item.owner_title = best[1].name, ""
            item.side = best[1].side or item.side
            return
        tight = text[max(previous_end, start - 30) : min(next_start, end + 30)]
        title, role = self._title_said(tight)
        if not title:
            said = I_WILL.search(text[previous_end:start]) or (
                I_WILL.search(text[start:next_start]) if previous_end == 0 else None
            )
            speaker = sentence.speaker or self.context.author
            if said and speaker:
                person = self._person(people, speaker)
                if person is not None:
                    item.owner_title = ""
                    item.owner, item.side = person.name, person.side or speaker_side or item.side
                    return
            title, role = self._title_said(window)
        if item.owner_title:
            return  # a role said before stands unless a person is named
        if title:
            if re.search(r"\b(our|my)\b", window, re.I) and speaker_side:
                side = speaker_side
            elif re.search(r"\byour\b", window, re.I) and speaker_side:
                side = other_side
            else:
                side = ROLE_SIDE.get(role) or speaker_side or BUYER
            short = self._title_in(title)[0] or title
            holders = [
                p
                for p in people
                if p.side == side
                and (
                    p.title.casefold() in (title.casefold(), short.casefold())
                    or (role and p.role == role and role not in ("buyer_other", "seller_other"))
                )
            ]
            if len(holders) == 1:
                item.owner = holders[0].name
            else:
                item.owner_title = title
            item.side = side
            return
        if WE_WILL.search(window) and speaker_side:
            item.side = speaker_side
        elif YOU_WILL.search(window) and speaker_side:
            item.side = other_side
            # "Could you send the proposal?" between two people: the other one.
            others = {
                p.name
                for p in people
                if p.speaker and p.name != sentence.speaker and p.name in self._speakers
            }
            if len(self._speakers) == 2 and len(others) == 1:
                listener = self._person(people, others.pop())
                if listener is not None and listener.side == other_side:
                    item.owner = listener.name

    # --- Anchors and statements ------------------------------------------------------------

    def find_anchors(self, sentences) -> list[Anchor]:
        """The buyer's dates the plan must respect: a sentence with an anchor's words and a
        date near them (the last said wins)."""
        anchors: dict[str, Anchor] = {}
        for sentence in sentences:
            text = sentence.text
            kinds = [
                (kind, m)
                for kind, pattern in self.lexicon.anchors.items()
                if (m := pattern.search(text))
            ]
            if not kinds:
                continue
            dates = dates_in(
                text,
                base=self.context.call_date,
                day_first=self.context.day_first,
                lexicon=self.lexicon,
            )
            if not dates:
                continue
            used: set[int] = set()
            for kind, match in sorted(kinds, key=lambda pair: pair[1].start()):
                # The day said after the anchor's words ("ink by mid-December, live before
                # February 1st"), else the one said just before them.
                after = [
                    i
                    for i, d in enumerate(dates)
                    if i not in used and d.start >= match.start() and d.start - match.end() <= 60
                ]
                before = [
                    i
                    for i, d in enumerate(dates)
                    if i not in used and d.end <= match.start() and match.start() - d.end <= 40
                ]
                if not after and not before:
                    continue
                exact = [i for i in after if not dates[i].vague]
                index = (
                    exact[0] if exact and kind == "fiscal_year_end" else (after or before[-1:])[0]
                )
                chosen = dates[index]
                used.add(index)
                anchors[kind] = Anchor(
                    kind=kind,
                    date=chosen.day,
                    vague=chosen.vague,
                    quote=text[:300],
                    speaker=sentence.speaker,
                    date_text=chosen.text,
                )
        return list(anchors.values())

    def find_statements(
        self, sentences, sides: dict[str, str], steps: list[StepItem]
    ) -> list[Statement]:
        """What the buyer wants (outcome), how they will judge it (criteria), and what may hold
        a step up (risks, kept with the step)."""
        found: list[Statement] = []
        by_type = {step.type: step for step in steps}
        seen: set[str] = set()
        for sentence in sentences:
            if sides.get(sentence.speaker) == SELLER:
                continue  # the buyer's words, not the seller's pitch
            for kind in ("criteria", "outcome", "risk"):
                if not self.lexicon.statements[kind].search(sentence.text):
                    continue
                if sentence.text in seen or len(sentence.text) < 12:
                    break
                statement = Statement(
                    kind=kind, quote=sentence.text[:400], speaker=sentence.speaker
                )
                if kind == "risk":
                    named = [m[2] for m in self._mentions(sentence.text)]
                    statement.step = next((t for t in named if t in by_type), "")
                    if statement.step:
                        by_type[statement.step].risks.append(sentence.text[:400])
                found.append(statement)
                seen.add(sentence.text)
                break
        return found


@lru_cache(maxsize=8192)
def _name_key(name: str) -> str:
    return re.sub(r"[^a-z ]", "", re.sub(r"\s+", " ", name.casefold())).strip()


def _shifted(mention, offset: int):
    mention.start += offset
    mention.end += offset
    return mention


def _nearest(mentions, position, found: list[DateMention] | list[DurationMention]):
    """The date or duration of this step: each said is the step's named just before it (the
    first step's when none is), so "POC starting the 26th, security questionnaire with
    Gareth" dates the POC only; several for one step: the last (a correction)."""
    mine = []
    for item in found:
        before = [i for i, m in enumerate(mentions) if m[0] <= item.start]
        if (before[-1] if before else 0) == position:
            mine.append(item)
    return mine[-1] if mine else None
