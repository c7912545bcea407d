"""A new date a buyer's words ask for: "we'll need another week for legal", "can we push
this to the 21st?", "two more sprints". Used to offer a date proposal under a buyer's
comment (plans/room.py) — the buyer confirms it, the seller decides as for any proposal.
"""

from __future__ import annotations

import re
from datetime import date

from plans import scheduling

from .dates import dates_in, durations_in
from .lexicon import load

DELAY = re.compile(
    r"\b(another|one more|(?:\w+|\d+) more|an extra|(?:\w+|\d+) extra|additional|push(?:ed)?"
    r"(?: it| this| that)?(?: back| out)?(?: by)?|slip(?:s|ped)?(?: by)?|delay(?:ed)?(?: by)?|"
    r"move(?:d)?(?: it| this)?(?: back| out)? by)\s",
    re.I,
)
CHANGE = re.compile(
    r"\b(more time|push|move|delay|slip|later|postpone|reschedule|extension|extend|won't make|"
    r"can't make|cannot make|will not make|not going to make|need until|until|instead|new date|"
    r"realistic|earliest|at the earliest|behind)\b",
    re.I,
)


def suggest_date(text: str, *, due: date | None, today: date, day_first: bool) -> date | None:
    """The date asked for, or None when the words ask for none (or for the same date)."""
    lexicon = load()
    text = text[:4000]
    found = None
    start = max(due, today) if due else today  # an overdue step needs the time from today
    for duration in durations_in(text, lexicon=lexicon):
        before = text[max(0, duration.start - 40) : duration.start]
        after = text[duration.end : duration.end + 12]
        more = re.search(r"\b(more|extra|additional)\b", duration.text, re.I)
        if more or DELAY.search(before + " ") or re.match(r"\s*(longer|later)\b", after, re.I):
            found = scheduling.add_business_days(start, duration.days)
    if found is None:
        for phrase, days in (("another week", 5), ("one more week", 5), ("a few more days", 3)):
            if phrase in text.casefold():
                found = scheduling.add_business_days(start, days)
    if found is None and CHANGE.search(text):
        exact = [
            m
            for m in dates_in(text, base=today, day_first=day_first, lexicon=lexicon)
            if not m.vague and m.day and m.day >= today
        ]
        if exact:
            found = exact[-1].day
    if found is None or found == due or found < today:
        return None
    return found
