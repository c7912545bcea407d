"""Scheduling backwards from the target signature date, in business days.

The signature step lands on the target date (the business day on or before it); each earlier
close-plan step ends on the business day before its successor starts; steps after the
signature (post-signature execution) are scheduled forwards from it. Durations count
business days (Monday–Friday), the due day included.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


def is_business_day(day: date) -> bool:
    return day.weekday() < 5


def on_or_before(day: date) -> date:
    while not is_business_day(day):
        day -= timedelta(days=1)
    return day


def on_or_after(day: date) -> date:
    while not is_business_day(day):
        day += timedelta(days=1)
    return day


def add_business_days(day: date, count: int) -> date:
    """Move `count` business days from a business day (negative: backwards)."""
    step = 1 if count >= 0 else -1
    remaining = abs(count)
    while remaining:
        day += timedelta(days=step)
        if is_business_day(day):
            remaining -= 1
    return day


def start_of(due: date, duration_days: int) -> date:
    return add_business_days(due, -(max(duration_days, 1) - 1))


@dataclass
class Step:
    duration_days: int
    phase: str  # "close" or "post"
    is_signature_step: bool = False


def schedule(steps: list[Step], target: date) -> list[date]:
    """Due dates for `steps` (in plan order: close-plan steps, then post-signature steps)."""
    if not steps:
        return []
    close = [i for i, step in enumerate(steps) if step.phase == "close"]
    signature = [i for i in close if steps[i].is_signature_step]
    # The anchor is the signature step, or the last close-plan step when none is marked.
    if signature:
        anchor = signature[-1]
    elif close:
        anchor = close[-1]
    else:
        anchor = None

    due: list[date | None] = [None] * len(steps)
    if anchor is None:
        # Only post-signature steps: they start on the target date.
        previous_due = add_business_days(on_or_after(target), -1)
        first_forward = 0
    else:
        due[anchor] = on_or_before(target)
        for i in range(anchor - 1, -1, -1):
            successor_start = start_of(due[i + 1], steps[i + 1].duration_days)
            due[i] = add_business_days(successor_start, -1)
        previous_due = due[anchor]
        first_forward = anchor + 1
    for i in range(first_forward, len(steps)):
        start = add_business_days(previous_due, 1)
        due[i] = add_business_days(start, max(steps[i].duration_days, 1) - 1)
        previous_due = due[i]
    return due  # type: ignore[return-value]
