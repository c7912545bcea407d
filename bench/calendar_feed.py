"""Benchmark: a 500-step calendar feed (plans/calendars.py), computed on every request as a
calendar app polls it, and its revalidation (If-None-Match → 304). A script, not a test.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tandem_bench \
        .venv/bin/python bench/calendar_feed.py

It migrates that database, (re)creates a "bench-cal" workspace with one plan of 500 dated
steps (a tenth moved once, a tenth cancelled), makes a plan feed, and measures the median
server time of the feed through Django's whole middleware stack (test Client, DEBUG off),
side by side with the 304 answer to a calendar that already has it. Target: under 200 ms.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

for _name, _value in {
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "DEBUG": "0",
    "SECRET_KEY": "bench-only-secret-key-not-for-production-0123456789",
    "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
    "SECURE_SSL_REDIRECT": "0",
    "LOG_LEVEL": "WARNING",
}.items():
    os.environ.setdefault(_name, _value)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

STEPS = 500
ITERATIONS = 40


def build():
    from deals.models import Deal, Organization, User
    from plans import calendars
    from plans.models import DueDateChange, Milestone, Plan

    Organization.objects.filter(slug="bench-cal").delete()
    org = Organization.objects.create(name="Bench Cal", slug="bench-cal")
    user = User.objects.filter(email="bench-cal@example.com").first()
    if user is None:
        user = User.objects.create_user(email="bench-cal@example.com", full_name="Bench")
    deal = Deal.objects.create(
        organization=org,
        account_name="Initech",
        name="Rollout",
        owner=user,
        target_close_date=date.today() + timedelta(days=400),
    )
    plan = Plan.objects.create(
        organization=org, deal=deal, target_signature_date=date.today() + timedelta(days=400)
    )
    Milestone.objects.bulk_create(
        Milestone(
            organization=org,
            plan=plan,
            title=f"Step {i}",
            position=i,
            due_date=date.today() + timedelta(days=i % 400),
            status="cancelled" if i % 10 == 5 else "not_started",
        )
        for i in range(STEPS)
    )
    DueDateChange.objects.bulk_create(
        DueDateChange(
            organization=org,
            milestone=step,
            old_date=step.due_date,
            new_date=step.due_date,
            reason="Moved",
            changed_by_name="Bench",
        )
        for step in Milestone.objects.filter(plan=plan)[: STEPS // 10]
    )
    from deals.models import Membership

    Membership.objects.get_or_create(organization=org, user=user, defaults={"role": "admin"})
    _, token = calendars.create_feed(org, "plan", plan=plan, user=user)
    return token


def median_ms(fetch) -> tuple[float, int]:
    samples = []
    for _ in range(ITERATIONS):
        start = time.perf_counter()
        response = fetch()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), response


def main() -> int:
    call_command("migrate", verbosity=0)
    token = build()
    client = Client()
    path = f"/cal/{token}.ics"
    first = client.get(path)
    assert first.status_code == 200, first.status_code
    full, response = median_ms(lambda: client.get(path))
    events = response.content.count(b"BEGIN:VEVENT")
    revalidate, again = median_ms(lambda: client.get(path, HTTP_IF_NONE_MATCH=first["ETag"]))
    assert again.status_code == 304
    print(f"database: {connection.vendor}")
    print(f"feed: {events} events, {len(response.content) / 1024:.1f} KB")
    print(f"in-process (Django test Client, {ITERATIONS} requests each, median):")
    print(f"  feed, computed            {full:7.2f} ms  (target < 200 ms)")
    print(f"  revalidation (304)        {revalidate:7.2f} ms")
    return 0 if full < 200 else 1


if __name__ == "__main__":
    sys.exit(main())
