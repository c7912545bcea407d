"""Dates and durations said in a sentence, relative to the day of the call.

Exact days ("September 30", "3/14", "the 14th", "by Friday", "next Tuesday", "tomorrow",
"in two weeks") are read by dateparser from the span found here; the days people name by a
period ("end of the month", "end of next week") are computed here; periods that name no day
("end of Q3", "early next year", "mid-November") are flagged vague with the period's likely
day for the seller to correct. Durations ("about four weeks", "two sprints", "ten business
days", "a couple of weeks") are business days, as steps count them.
"""

from __future__ import annotations

import calendar
import contextlib
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from .lexicon import Lexicon

MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
ORDINAL_WORDS = [
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
    "twentieth",
    "twenty-first",
    "twenty-second",
    "twenty-third",
    "twenty-fourth",
    "twenty-fifth",
    "twenty-sixth",
    "twenty-seventh",
    "twenty-eighth",
    "twenty-ninth",
    "thirtieth",
    "thirty-first",
]
ORDINAL = r"(?:[12]?\d|3[01])(?:st|nd|rd|th)?|" + "|".join(
    sorted(ORDINAL_WORDS, key=len, reverse=True)
)
WEEKDAY = r"(?:mon|tues?|wed(?:nes)?|thu(?:rs?)?|fri|sat(?:ur)?|sun)(?:day)?"
EXACT = re.compile(
    rf"""\b(?:
        (?P<md>{MONTH}\s+(?:{ORDINAL})\b(?:,?\s+\d{{4}})?)
      | (?P<dm>(?:the\s+)?(?:{ORDINAL})\s+(?:of\s+)?{MONTH}(?:,?\s+\d{{4}})?)
      | (?P<numeric>\d{{1,2}}/\d{{1,2}}(?:/\d{{2,4}})?)
      | (?P<iso>\d{{4}}-\d{{2}}-\d{{2}})
      | (?P<endweek>end\s+of\s+(?:the\s+|this\s+)?(?P<next_week>next\s+)?week|eow)
      | (?P<endmonth>end\s+of\s+(?:the\s+|this\s+)?(?P<next_month>next\s+)?month)
      | (?P<endof>(?:the\s+)?end\s+of\s+(?P<endof_month>{MONTH})(?!\s*\d))
      | (?P<weekday>(?:(?:this|next|on|by|until|til|till|before|after)\s+)?{WEEKDAY}\b)
      | (?P<ordinal>the\s+(?:[12]?\d|3[01])(?:st|nd|rd|th)\b)
      | (?P<relative>tomorrow
          |(?:in|within)\s+(?:a|one|two|three|four|five|six|\d+)\s+(?:days?|weeks?)\b(?!\s+of\b))
    )""",
    re.I | re.X,
)
DURATION = (
    r"\b(?P<n>{number})(?:\s*(?:to|-|–|or)\s*(?P<m>{number}))?(?:\s+(?:more|extra|additional))?"
    r"[\s-]+(?P<business>business[\s-]|working[\s-])?"
    r"(?P<unit>day|week|sprint|month|quarter)s?\b"
)
TAKES = re.compile(
    r"\b(take|takes|taking|took|need|needs|needed|usually|typically|normally|about|around|roughly|"
    r"approximately|give|budget|allow|plan for|expect|runs?|last|lasts|for|at least|least|minimum|"
    r"turnaround|cycle|sla|window)\b[^.]{0,30}$",
    re.I,
)


@dataclass
class DateMention:
    start: int
    end: int
    text: str
    day: date | None  # the day, or the likely day of a vague period
    vague: bool


@dataclass
class DurationMention:
    start: int
    end: int
    text: str
    days: int  # business days


@lru_cache(maxsize=4096)
def _dateparser(span: str, base: date, order: str) -> date | None:
    import dateparser  # noqa: PLC0415 - 0.2 s to import; only drafting needs it

    found = dateparser.parse(
        span,
        languages=["en"],
        settings={
            "RELATIVE_BASE": datetime(base.year, base.month, base.day),
            "PREFER_DATES_FROM": "future",
            "DATE_ORDER": order,
            "PREFER_DAY_OF_MONTH": "first",
            "RETURN_AS_TIMEZONE_AWARE": False,
        },
    )
    return found.date() if found else None


def _friday(day: date) -> date:
    return day + timedelta(days=(4 - day.weekday()) % 7)


def dates_in(text: str, *, base: date, day_first: bool, lexicon: Lexicon) -> list[DateMention]:
    """The dates said in `text`, in order; a vague period where no day is named."""
    found: list[DateMention] = []
    order = "DMY" if day_first else "MDY"
    for match in EXACT.finditer(text):
        span = match.group(0)
        day: date | None = None
        if match["endweek"]:
            day = _friday(base + timedelta(days=7 if match["next_week"] else 0))
        elif match["endmonth"]:
            month_start = (
                (base.replace(day=1) + timedelta(days=32)).replace(day=1)
                if match["next_month"]
                else base
            )
            day = month_start.replace(
                day=calendar.monthrange(month_start.year, month_start.month)[1]
            )
        elif match["weekday"]:
            word = re.sub(r"^(on|by|until|til|till|before|after|this)\s+", "", span, flags=re.I)
            if word.casefold().startswith("next "):
                # "next Tuesday": the Tuesday of the following week (weeks start on Monday).
                target = _weekday_index(word.split()[1])
                monday = base - timedelta(days=base.weekday()) + timedelta(days=7)
                day = monday + timedelta(days=target)
            else:
                target = _weekday_index(word)
                day = base + timedelta(days=(target - base.weekday() - 1) % 7 + 1)
        elif match["ordinal"]:
            number = int(re.search(r"\d+", span)[0])
            day = _next_day_of_month(base, number)
            said = found[-1].day if found and match.start() - found[-1].end <= 40 else None
            if said and re.search(
                r"\b(no|sorry|actually|i mean|rather)\b", text[found[-1].end : match.start()], re.I
            ):
                # "the 4th of December — sorry, no, it's the 11th": the month said before.
                with contextlib.suppress(ValueError):
                    day = said.replace(day=number)
        elif match["md"] or match["dm"]:
            day = _month_day(span, base)
        elif match["endof"]:
            month = MONTH_NUMBERS[re.sub(r"\W", "", match["endof_month"]).casefold()[:3]]
            year = base.year if month >= base.month else base.year + 1
            day = date(year, month, calendar.monthrange(year, month)[1])
        elif match["numeric"] or match["iso"]:
            if match["numeric"] and span.count("/") == 1 and _looks_like_ratio(text, match):
                continue
            day = _dateparser(span, base, order)
        elif match["relative"]:
            if re.match(r"(in|within)\s", span, re.I) and TAKES.search(text[: match.start()]):
                continue  # "it takes about … in two weeks" is a duration
            day = _dateparser(re.sub(r"^within\b", "in", span, flags=re.I), base, order)
        if day is not None:
            found.append(DateMention(match.start(), match.end(), span, day, vague=False))
    for match in lexicon.vague.finditer(text):
        if any(m.start < match.end() and match.start() < m.end for m in found):
            continue  # "end of the month" names a day
        found.append(
            DateMention(
                match.start(),
                match.end(),
                match.group(0),
                _likely_day(match.group(0), base),
                vague=True,
            )
        )
    found.sort(key=lambda m: m.start)
    return found


def _month_day(span: str, base: date) -> date | None:
    """ "September 30", "30th of Sept.", "Jan 5, 2027": the year said, else the next one on
    or after the call."""
    words = re.findall(r"[a-z]+(?:-[a-z]+)?|\d+", span.casefold())
    month = next(
        (MONTH_NUMBERS[w[:3]] for w in words if w[:3] in MONTH_NUMBERS and w not in ("the", "of")),
        None,
    )
    numbers = [
        int(w) if w.isdigit() else ORDINAL_WORDS.index(w) + 1
        for w in words
        if w.isdigit() or w in ORDINAL_WORDS
    ]
    if month is None or not numbers:
        return None
    day_number = numbers[0]
    year = numbers[1] if len(numbers) > 1 and numbers[1] > 999 else None
    try:
        if year:
            return date(year, month, day_number)
        found = date(base.year, month, day_number)
        if found >= base or (base - found).days <= 7:
            return found  # a day of the last week is said of the past ("we met October 12")
        return date(base.year + 1, month, day_number)
    except ValueError:
        return None


def _looks_like_ratio(text: str, match) -> bool:
    """ "24/7", "50/50" are not dates."""
    first, second = (int(x) for x in match.group(0).split("/"))
    return first > 12 and second > 12 or match.group(0) in {"24/7", "50/50", "9/5"}


def _weekday_index(word: str) -> int:
    return ["mo", "tu", "we", "th", "fr", "sa", "su"].index(word[:2].casefold())


def _next_day_of_month(base: date, number: int) -> date | None:
    year, month = base.year, base.month
    for _ in range(3):
        later = number >= base.day or (year, month) != (base.year, base.month)
        if later and number <= calendar.monthrange(year, month)[1]:
            return date(year, month, number)
        month += 1
        if month > 12:
            year, month = year + 1, 1
    return None


MONTH_NUMBERS = {
    name: index
    for index, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}


def _likely_day(text: str, base: date) -> date | None:
    """The day a period most likely means, for the seller to correct: a quarter's or a
    month's last day, the 5th/15th/25th of a month said early/mid/late."""
    text = text.casefold()
    if quarter := re.search(r"q([1-4])", text):
        month = int(quarter[1]) * 3
        year = base.year if month >= base.month else base.year + 1
        return date(year, month, calendar.monthrange(year, month)[1])
    for name, number in sorted(MONTH_NUMBERS.items(), key=lambda item: -len(item[0])):
        if re.search(rf"\b{name}\b", text):
            year = base.year if number >= base.month else base.year + 1
            day = (
                5
                if "early" in text or "beginning" in text or "start" in text
                else (
                    15
                    if "mid" in text or "middle" in text
                    else (25 if "late" in text else calendar.monthrange(year, number)[1])
                )
            )
            return date(year, number, day)
    if "next month" in text:
        first = (base.replace(day=1) + timedelta(days=32)).replace(day=1)
        return first.replace(day=calendar.monthrange(first.year, first.month)[1])
    if "next year" in text or "new year" in text:
        return date(base.year + 1, 1, 31)
    if "holiday" in text:
        return date(base.year, 12, 18) if base.month <= 12 else None
    if "year" in text or "eoy" in text:
        return date(base.year, 12, 31)
    if "quarter" in text or "eoq" in text:
        month = ((base.month - 1) // 3 + 1) * 3
        return date(base.year, month, calendar.monthrange(base.year, month)[1])
    return None


def durations_in(text: str, *, lexicon: Lexicon) -> list[DurationMention]:
    """The durations said in `text`, in business days; "in two weeks" after no verb of
    duration is a date, not a duration."""
    found: list[DurationMention] = []
    taken: list[tuple[int, int]] = []
    for pattern, days in lexicon.duration_phrases:
        for match in pattern.finditer(text):
            if any(a <= match.start() < b for a, b in taken):
                continue
            taken.append((match.start(), match.end()))
            found.append(DurationMention(match.start(), match.end(), match.group(0), days))
    words = "|".join(sorted((re.escape(w) for w in lexicon.numbers), key=len, reverse=True))
    pattern = re.compile(DURATION.format(number=rf"\d+(?:\.\d)?|{words}"), re.I)
    for match in pattern.finditer(text):
        if any(a <= match.start() < b or match.start() <= a < match.end() for a, b in taken):
            continue
        first = _number(match["n"], lexicon)
        if first is None:
            continue
        amount = _number(match["m"], lexicon) if match["m"] else first
        if amount is None or amount <= 0:
            continue
        before = text[max(0, match.start() - 12) : match.start()].casefold()
        if re.search(r"\b(in|within)\s+$", before) and not TAKES.search(text[: match.start()]):
            continue  # "in two weeks": a date
        if re.search(r"\b(ago|last|past)\s*$", before) or re.match(
            r"\s+ago\b", text[match.end() :]
        ):
            continue
        unit = match["unit"].casefold()
        if unit == "day" and not match["business"]:
            days = round(amount * 5 / 7)
        else:
            days = round(amount * lexicon.units[unit])
        if 1 <= days <= 260:
            taken.append((match.start(), match.end()))
            found.append(DurationMention(match.start(), match.end(), match.group(0), days))
    found.sort(key=lambda m: m.start)
    return found


def _number(word: str, lexicon: Lexicon) -> float | None:
    word = word.casefold()
    if re.fullmatch(r"\d+(\.\d)?", word):
        return float(word)
    return lexicon.numbers.get(word)
