"""Benchmark: how long the reminder sweep takes to decide who gets what, over 1,000,000
milestones across 10,000 plans on PostgreSQL (sending excluded).

Generates the data with COPY (once; `--fresh` regenerates): 100 workspaces in 10 time zones,
500 sellers, 10,000 deals each with a plan of 100 steps (due dates from 90 days ago to 180
days ahead, most past ones done), 4 buyers and 2 sellers per deal, a few activities per
plan. Then times `notifications.digests.decide` for every kind of email, at an instant
when the workspaces of 6 of the 10 time zones are in business hours, and again with every
workspace in business hours (the worst case: all 1,000,000 steps are candidates).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tandem_h4 \\
      .venv/bin/python bench/reminder_sweep.py [--fresh] [--runs 5]

It owns the database it is given: `--fresh` empties every Tandem table of it first.
Traffic goes only to 127.0.0.1. Not a test: run it by hand and copy the figures.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import re
import statistics
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ZONES = [
    "America/Los_Angeles",
    "America/New_York",
    "America/Sao_Paulo",
    "Europe/London",
    "Europe/Berlin",
    "UTC",
    "Africa/Johannesburg",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Sydney",
]
# Monday 10 March 2025, 16:00 UTC: business hours from Los Angeles (09:00) to Berlin (17:00).
NOW = datetime(2025, 3, 10, 16, 0, tzinfo=UTC)


def setup_django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
    import django

    django.setup()


def copy_rows(model, rows) -> int:
    """COPY dicts of field attnames into the model's table; missing fields get their
    default (callables called), auto_now fields NOW, nullable ones NULL."""
    from django.db import connection, models

    fields = model._meta.concrete_fields
    columns = ", ".join(f'"{f.column}"' for f in fields)

    def default(field):
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            return lambda: NOW
        if field.has_default():
            value = field.default
            if isinstance(field, models.JSONField):
                return lambda: "[]" if value is list else "{}"
            return value if callable(value) else (lambda: value)
        if field.null:
            return lambda: None
        return lambda: ""

    defaults = [(f.attname, default(f)) for f in fields]
    count = 0
    connection.ensure_connection()
    table = model._meta.db_table
    with (
        connection.connection.cursor() as cursor,
        cursor.copy(f'COPY "{table}" ({columns}) FROM STDIN') as copy,
    ):
        for row in rows:
            copy.write_row(tuple(row[name] if name in row else make() for name, make in defaults))
            count += 1
    return count


def generate(*, workspaces: int, plans: int, steps: int, seed: int = 7) -> None:
    from django.db import connection

    from deals.models import Deal, Membership, Organization, User
    from plans.models import Activity, Milestone, Plan
    from stakeholders.models import Stakeholder

    rng = random.Random(seed)
    today = NOW.date()
    tables = [
        m._meta.db_table
        for m in (Activity, Milestone, Plan, Stakeholder, Deal, Membership, User, Organization)
    ]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")

    started = time.perf_counter()
    copy_rows(
        Organization,
        (
            {
                "id": n,
                "public_id": uuid.uuid4(),
                "name": f"Workspace {n}",
                "slug": f"w{n}",
                "time_zone": ZONES[n % len(ZONES)],
            }
            for n in range(1, workspaces + 1)
        ),
    )
    sellers_per = 5
    copy_rows(
        User,
        (
            {
                "id": n,
                "public_id": uuid.uuid4(),
                "email": f"seller{n}@bench.test",
                "password": "!",
                "full_name": f"Seller {n}",
            }
            for n in range(1, workspaces * sellers_per + 1)
        ),
    )
    copy_rows(
        Membership,
        (
            {
                "id": n,
                "public_id": uuid.uuid4(),
                "organization_id": (n - 1) // sellers_per + 1,
                "user_id": n,
                "role": "seller",
            }
            for n in range(1, workspaces * sellers_per + 1)
        ),
    )

    def org_of(plan: int) -> int:
        return (plan - 1) % workspaces + 1

    def owner_of(plan: int) -> int:
        return (org_of(plan) - 1) * sellers_per + 1 + (plan // workspaces) % sellers_per

    copy_rows(
        Deal,
        (
            {
                "id": n,
                "public_id": uuid.uuid4(),
                "organization_id": org_of(n),
                "account_name": f"Account {n}",
                "name": "Platform",
                "amount": 50000,
                "currency": "USD",
                "stage": "evaluation",
                "owner_id": owner_of(n),
                "target_close_date": today + timedelta(days=60),
                "original_close_date": today + timedelta(days=60),
            }
            for n in range(1, plans + 1)
        ),
    )
    roles = [
        ("buyer", "champion"),
        ("buyer", "economic_buyer"),
        ("buyer", "technical_evaluator"),
        ("buyer", "legal_reviewer"),
        ("seller", "ae"),
        ("seller", "se"),
    ]

    def stakeholders():
        for deal in range(1, plans + 1):
            for index, (side, role) in enumerate(roles):
                invited = side == "buyer" and rng.random() < 0.9
                yield {
                    "id": (deal - 1) * len(roles) + index + 1,
                    "public_id": uuid.uuid4(),
                    "organization_id": org_of(deal),
                    "deal_id": deal,
                    "side": side,
                    "name": f"{role} {deal}",
                    "email": f"{role}{deal}@{'buyer' if side == 'buyer' else 'seller'}.test",
                    "role": role,
                    "user_id": owner_of(deal) if role == "ae" else None,
                    "is_required_signer": role in {"economic_buyer", "ae"},
                    "invited_at": NOW - timedelta(days=rng.randint(1, 40)) if invited else None,
                    "first_visit_at": NOW - timedelta(days=1)
                    if invited and rng.random() < 0.7
                    else None,
                    "visit_count": 0,
                    "added_by_buyer": False,
                }

    copy_rows(Stakeholder, stakeholders())
    copy_rows(
        Plan,
        (
            {
                "id": n,
                "public_id": uuid.uuid4(),
                "organization_id": org_of(n),
                "deal_id": n,
                "target_signature_date": today + timedelta(days=60),
                "status": "shared",
                "review_weekday": rng.randint(0, 4),
                "version": 1,
            }
            for n in range(1, plans + 1)
        ),
    )

    def milestones():
        number = 0
        for plan in range(1, plans + 1):
            base = (plan - 1) * len(roles)
            for position in range(1, steps + 1):
                number += 1
                offset = rng.randint(-90, 180)
                if offset < 0:
                    status = "done" if rng.random() < 0.8 else "in_progress"
                else:
                    status = "not_started"
                if rng.random() < 0.02:
                    status = "cancelled"
                due = today + timedelta(days=offset)
                yield {
                    "id": number,
                    "public_id": uuid.uuid4(),
                    "organization_id": org_of(plan),
                    "plan_id": plan,
                    "title": f"Step {position}",
                    "phase": "close",
                    "position": position,
                    "buyer_owner_id": base + 1 + rng.randint(0, 3) if rng.random() < 0.6 else None,
                    "seller_owner_id": base + 5 + rng.randint(0, 1),
                    "due_date": due,
                    "baseline_date": due,
                    "duration_days": 1,
                    "is_signature_step": False,
                    "status": status,
                    "visibility": "internal" if rng.random() < 0.1 else "shared",
                    "created_by_side": "seller",
                    "version": 1,
                }

    copy_rows(Milestone, milestones())
    ids = itertools.count(1)
    copy_rows(
        Activity,
        (
            {
                "id": next(ids),
                "organization_id": org_of(plan),
                "plan_id": plan,
                "verb": "plan_edited",
                "actor_name": "Seller",
                "side": "seller",
                "summary": "edited the plan",
                "visibility": "shared",
                "created_at": NOW - timedelta(days=rng.randint(0, 25), minutes=rng.randint(0, 999)),
            }
            for plan in range(1, plans + 1)
            for _ in range(3)
        ),
    )
    with connection.cursor() as cursor:
        for table in tables:
            # Table names come from the models above, not from input.
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
            )
    # As autovacuum would: statistics, and the visibility map for index-only scans.
    connection.ensure_connection()
    connection.connection.autocommit = True
    with connection.connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"generated in {time.perf_counter() - started:.0f} s")


def time_decide(runs: int) -> dict:
    from notifications import digests

    results = {}
    deciders = digests.FREQUENT + digests.HOURLY
    for decider in deciders:
        timings = []
        for _ in range(runs):
            started = time.perf_counter()
            planned = decider(NOW, digests.local_days(NOW))
            timings.append(time.perf_counter() - started)
        results[decider.__name__] = (statistics.median(timings), max(timings), len(planned))
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        planned = digests.decide(NOW, deciders)
        timings.append(time.perf_counter() - started)
    results["total (decide: every kind)"] = (
        statistics.median(timings),
        max(timings),
        len(planned),
    )
    return results


def report(title: str, results: dict) -> None:
    print(f"\n{title}")
    for name, (median, worst, count) in results.items():
        print(
            f"  {name:<30} median {median * 1000:7.0f} ms  max {worst * 1000:7.0f} ms  "
            f"emails decided {count:>7,}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fresh", action="store_true", help="regenerate the data")
    parser.add_argument("--workspaces", type=int, default=100)
    parser.add_argument("--plans", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=100, help="milestones per plan")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database this benchmark may fill.")
    setup_django()
    from django.core.management import call_command
    from django.db import connection

    from deals.models import Organization
    from plans.models import Milestone

    call_command("migrate", verbosity=0)
    expected = args.plans * args.steps
    if args.fresh or Milestone.objects.count() != expected:
        generate(workspaces=args.workspaces, plans=args.plans, steps=args.steps)
    total = Milestone.objects.count()
    candidates = Milestone.objects.open().filter(due_date__lte=date(2025, 3, 12)).count()
    print(
        f"{total:,} milestones, {args.plans:,} plans, {args.workspaces} workspaces; "
        f"{candidates:,} open and overdue or due within 2 days"
    )

    with connection.cursor() as cursor:
        from notifications import digests, timing

        days = [d for d in digests.local_days(NOW) if d.is_business_hours]
        horizons = digests._by_date(days, lambda d: timing.business_days_after(d.today, 2))
        sql, params = digests.digest_rows(horizons).query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    used = re.findall(r"(Index Only Scan|Index Scan|Bitmap Index Scan) (?:using|on) (\w+)", plan)
    print("digest query plan:", ", ".join(f"{kind} on {name}" for kind, name in used) or "no index")

    report(
        f"Decide at {NOW:%a %Y-%m-%d %H:%M} UTC (workspaces in 6 of 10 time zones in hours), "
        f"{args.runs} runs",
        time_decide(args.runs),
    )
    # The first sweep of the day records what it decided; later sweeps find it and decide
    # nothing new (rolled back afterwards, so reruns of the benchmark start alike).
    from django.db import transaction

    from notifications import digests as sweep

    with transaction.atomic():
        planned = sweep.decide(NOW)
        started = time.perf_counter()
        inserted = sweep.record(planned)
        recorded = time.perf_counter() - started
        started = time.perf_counter()
        again = sweep.decide(NOW)
        later = time.perf_counter() - started
        transaction.set_rollback(True)
    print(
        f"\nRecording the {len(inserted):,} decided emails in the log: {recorded * 1000:.0f} ms; "
        f"the next sweep of the day then decides {len(again)} in {later * 1000:.0f} ms"
    )

    zones = dict(Organization.objects.values_list("id", "time_zone"))
    Organization.objects.update(time_zone="America/New_York")
    try:
        report(
            "Worst case: every workspace in business hours (America/New_York)",
            time_decide(args.runs),
        )
    finally:
        for zone in ZONES:
            Organization.objects.filter(id__in=[k for k, v in zones.items() if v == zone]).update(
                time_zone=zone
            )


if __name__ == "__main__":
    main()
