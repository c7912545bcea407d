"""When notices fall due, shared by the sweeps that decide them (notifications.digests) and
the senders that write them (notifications.delivery): the business-day arithmetic, the
windows the emails look at, and how long a sender holds a claimed row.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings

DUE_SOON_BUSINESS_DAYS = 2
WEEKLY_LOOKBACK_DAYS = 7


def business_days_after(day: date, count: int) -> date:
    """The date `count` business days (Mon–Fri) after `day`."""
    while count > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            count -= 1
    return day


def claim_lease() -> timedelta:
    return timedelta(seconds=settings.NOTIFICATION_CLAIM_SECONDS)
