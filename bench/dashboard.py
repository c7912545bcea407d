"""Benchmark (a script, not a test): the manager dashboard over 5,000 deals and 150,000
milestones on PostgreSQL. Target: under 150 ms median server time, warm.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tandem_bench .venv/bin/python bench/dashboard.py

DATABASE_URL is required and should name a database of its own: the script creates it when
missing, migrates it, and fills a "bench" workspace once (COPY, about a minute; --fresh
rebuilds it). It then requests /o/bench/dashboard/ as the workspace's manager through
Django's test client — the whole view: middleware, session, the dashboard's queries and the
template, without network — a few times to warm up, then --runs times, and prints the
median and the 90th percentile, with a per-metric breakdown and a few other requests for
comparison. Production-like settings (DEBUG off, so no query logging). Every request
computes the figures (from the summaries the database keeps): there is no results cache.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
SLUG = "bench"
STAGES_OPEN = ["discovery", "evaluation", "proposal", "negotiation"]
BUYER_ROLES = ["champion", "economic_buyer", "security_reviewer", "legal_reviewer", "procurement"]
SELLER_ROLES = ["ae", "se", "seller_legal"]
# (title, duration in business days, buyer role index, seller role index, risk)
CLOSE_STEPS = [
    ("Discovery call recap", 2, 0, 0, ""),
    ("Success criteria agreed", 3, 0, 0, ""),
    ("Technical validation kickoff", 2, 0, 1, ""),
    ("Technical validation", 10, 0, 1, ""),
    ("Architecture review", 3, 0, 1, ""),
    ("Business case draft", 5, 0, 0, ""),
    ("Economic buyer alignment call", 1, 1, 0, "executive"),
    ("Business case review", 3, 1, 0, ""),
    ("Reference calls", 5, 0, 0, ""),
    ("Security questionnaire sent", 1, 2, 1, "security"),
    ("Security questionnaire returned", 10, 2, 1, "security"),
    ("Penetration test report review", 5, 2, 1, "security"),
    ("Data protection review", 5, 3, 2, "legal"),
    ("Vendor onboarding form submitted", 5, 4, 0, "procurement"),
    ("Vendor code created", 5, 4, 0, "procurement"),
    ("MSA/DPA exchanged", 2, 3, 2, "legal"),
    ("Legal redlines round 1", 10, 3, 2, "legal"),
    ("Legal redlines round 2", 5, 3, 2, "legal"),
    ("Pricing proposal", 3, 1, 0, ""),
    ("Commercial negotiation", 5, 1, 0, ""),
    ("Final commercial review", 3, 1, 0, ""),
    ("Budget confirmation", 3, 1, 0, ""),
    ("Finance approval", 5, 1, 0, "procurement"),
    ("Purchase order issued", 5, 4, 0, "procurement"),
    ("Executive sign-off", 2, 1, 0, "executive"),
    ("Signature", 1, 1, 0, "executive"),
]
POST_STEPS = [
    ("Kickoff", 3, 0, 0, ""),
    ("Admin training", 5, 0, 1, ""),
    ("Integration live", 10, 0, 1, ""),
    ("First value review", 5, 1, 0, ""),
]
REASONS = [
    "Security team asked for a second questionnaire round",
    "Legal is out until next week",
    "CFO moved the budget review",
    "Procurement needs a new vendor form",
    "Champion on holiday",
    "Waiting for the reference customer",
    "Board meeting moved",
    "Redlines took longer than planned",
]
VERBS = ["milestone_completed", "milestone_status", "milestone_edited", "date_moved", "plan_edited"]


def configure() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit(
            "DATABASE_URL=postgres://… is required: a PostgreSQL database of its own "
            "(created when missing), e.g. postgres://postgres@127.0.0.1:5432/tandem_bench"
        )
    os.environ.setdefault("SECRET_KEY", "benchmark-only-" + "x" * 40)
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    for name in ("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"):
        os.environ.setdefault(name, "0")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    return url


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    maintenance = parts._replace(path="/postgres").geturl()
    with psycopg.connect(maintenance, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if not exists:
            print(f"creating database {name}")
            connection.execute(f'CREATE DATABASE "{name}"')


def business_days_back(day: date, count: int) -> date:
    while count > 0:
        day -= timedelta(days=1)
        if day.weekday() < 5:
            count -= 1
    return day


def generate(deal_count: int, rng: random.Random) -> None:
    """The bench workspace: a manager, 20 sellers, `deal_count` deals with 8 stakeholders
    and a 30-step plan each, slips with their history, and activity (buyer side included)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from deals.models import Membership, Organization, User
    from plans.scheduling import Step as ScheduleStep
    from plans.scheduling import schedule

    now = timezone.now()
    today = now.date()
    with transaction.atomic():
        Organization.objects.filter(slug=SLUG).delete()
        organization = Organization.objects.create(name="Bench Inc", slug=SLUG, time_zone="UTC")
        manager, _ = User.objects.get_or_create(
            email="bench-manager@example.com", defaults={"full_name": "Bench Manager"}
        )
        Membership.objects.create(organization=organization, user=manager, role="manager")
        sellers = []
        for index in range(20):
            seller, _ = User.objects.get_or_create(
                email=f"bench-seller-{index}@example.com",
                defaults={"full_name": f"Seller {index:02d}"},
            )
            Membership.objects.create(organization=organization, user=seller, role="seller")
            sellers.append(seller)

        def next_id(table: str) -> int:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")  # noqa: S608
                return cursor.fetchone()[0]

        ids = {
            table: next_id(table)
            for table in (
                "deals_deal",
                "stakeholders_stakeholder",
                "plans_plan",
                "plans_milestone",
                "plans_duedatechange",
                "plans_activity",
            )
        }
        rows: dict[str, list[tuple]] = {table: [] for table in ids}
        org = organization.pk
        signature_steps = [ScheduleStep(d, "close", i == len(CLOSE_STEPS) - 1)
                           for i, (_, d, *_rest) in enumerate(CLOSE_STEPS)]  # fmt: skip
        steps = signature_steps + [ScheduleStep(d, "post") for _, d, *_rest in POST_STEPS]
        specs = CLOSE_STEPS + POST_STEPS

        for _ in range(deal_count):
            deal_id = ids["deals_deal"]
            ids["deals_deal"] += 1
            draw = rng.random()
            if draw < 0.60:
                stage = rng.choice(STAGES_OPEN)
                target = today + timedelta(days=rng.randint(-30, 270))
            else:
                stage = "closed_won" if draw < 0.85 else "closed_lost"
                target = today - timedelta(days=rng.randint(5, 365))
            closed = stage.startswith("closed")
            closed_date = (
                min(today, target + timedelta(days=rng.randint(-10, 20))) if closed else None
            )
            original = target - timedelta(days=rng.randint(1, 30) if rng.random() < 0.3 else 0)
            created = datetime.combine(
                target - timedelta(days=rng.randint(60, 200)), datetime.min.time(), tzinfo=UTC
            )
            currency = "EUR" if rng.random() < 0.1 else "USD"
            rows["deals_deal"].append((
                deal_id, uuid.uuid4(), f"Account {deal_id}", "Expansion",
                rng.randint(5, 500) * 1000, currency, stage, target, original, closed_date,
                created, now, org, rng.choice(sellers).pk,
            ))  # fmt: skip

            buyers, seller_people = [], []
            for role in BUYER_ROLES + SELLER_ROLES:
                person = ids["stakeholders_stakeholder"]
                ids["stakeholders_stakeholder"] += 1
                side = "buyer" if role in BUYER_ROLES else "seller"
                (buyers if side == "buyer" else seller_people).append(person)
                rows["stakeholders_stakeholder"].append((
                    person, uuid.uuid4(), side, f"{role.title()} {person}", "", "", "", role,
                    role in {"economic_buyer", "ae"}, now, now, deal_id, org, None, False, 0,
                ))  # fmt: skip

            plan_id = ids["plans_plan"]
            ids["plans_plan"] += 1
            if stage == "closed_won":
                status = rng.choices(["signed", "amended", "shared"], [5, 1, 4])[0]
            elif stage == "closed_lost":
                status = rng.choice(["shared", "draft"])
            else:
                status = rng.choices(["draft", "shared", "signed"], [25, 60, 15])[0]
            archived = now if stage == "closed_lost" and rng.random() < 0.3 else None
            rows["plans_plan"].append((
                plan_id, uuid.uuid4(), "Cut onboarding time in half", "[]", target, status, 0,
                1, "Bench (30 steps)", None, archived, created, now, deal_id, org, "",
            ))  # fmt: skip

            for index, (due, step, spec) in enumerate(
                zip(schedule(steps, target), steps, specs, strict=True)
            ):
                title, duration, buyer_role, seller_role, risk = spec
                milestone = ids["plans_milestone"]
                ids["plans_milestone"] += 1
                baseline = due
                slipped = rng.random() < 0.15
                if slipped:
                    due = due + timedelta(days=rng.randint(1, 15))
                if rng.random() < 0.01:
                    due = baseline = None
                if closed and step.phase == "close":
                    state = "done"
                elif due is not None and due < today:
                    state = rng.choices(
                        ["done", "in_progress", "blocked", "not_started"], [85, 7, 3, 5]
                    )[0]
                elif due is not None and business_days_back(due, duration) <= today:
                    state = rng.choice(["in_progress", "not_started"])
                else:
                    state = "not_started"
                if rng.random() < 0.03:
                    state = "cancelled"
                completed = None
                if state == "done":
                    day = (due or target) + timedelta(days=rng.randint(-2, 5))
                    completed = min(now, datetime.combine(day, datetime.min.time(), tzinfo=UTC)
                                    + timedelta(hours=15))  # fmt: skip
                buyer = None if rng.random() < 0.05 else buyers[buyer_role]
                position = index + 1 if step.phase == "close" else index - len(CLOSE_STEPS) + 1
                rows["plans_milestone"].append((
                    milestone, uuid.uuid4(), title, "", step.phase, position, due, baseline,
                    duration, duration, step.is_signature_step, BUYER_ROLES[buyer_role],
                    SELLER_ROLES[seller_role], state, completed, "", risk, "", "", "shared",
                    "seller", 1, created, now, buyer, None, org, seller_people[seller_role],
                    plan_id,
                ))  # fmt: skip
                if slipped and due is not None:
                    change = ids["plans_duedatechange"]
                    ids["plans_duedatechange"] += 1
                    rows["plans_duedatechange"].append((
                        change, baseline, due, rng.choice(REASONS), "Bench", "seller",
                        now - timedelta(days=rng.randint(0, 90), hours=rng.randint(0, 23)),
                        None, org, milestone,
                    ))  # fmt: skip
            for _ in range(8):
                activity = ids["plans_activity"]
                ids["plans_activity"] += 1
                side = "buyer" if rng.random() < 0.4 else "seller"
                rows["plans_activity"].append((
                    activity, rng.choice(VERBS), f"{side.title()} person", side, "did something",
                    "shared", now - timedelta(days=rng.randint(0, 60), hours=rng.randint(0, 23)),
                    None, org, None, plan_id,
                ))  # fmt: skip

        columns = {
            "deals_deal": "id, public_id, account_name, name, amount, currency, stage, "
            "target_close_date, original_close_date, closed_date, created_at, updated_at, "
            "organization_id, owner_id",
            "stakeholders_stakeholder": "id, public_id, side, name, title, email, phone, role, "
            "is_required_signer, created_at, updated_at, deal_id, organization_id, user_id, "
            "added_by_buyer, visit_count",
            "plans_plan": "id, public_id, business_outcome, success_criteria, "
            "target_signature_date, status, review_weekday, version, template_name, shared_at, "
            "archived_at, created_at, updated_at, deal_id, organization_id, signed_content_hash",
            "plans_milestone": "id, public_id, title, description, phase, position, due_date, "
            "baseline_date, duration_days, template_duration_days, is_signature_step, "
            "buyer_role_hint, seller_role_hint, status, completed_at, completed_by_name, risk, "
            "shared_notes, internal_note, visibility, created_by_side, version, created_at, "
            "updated_at, buyer_owner_id, depends_on_id, organization_id, seller_owner_id, plan_id",
            "plans_duedatechange": "id, old_date, new_date, reason, changed_by_name, side, "
            "created_at, changed_by_user_id, organization_id, milestone_id",
            "plans_activity": "id, verb, actor_name, side, summary, visibility, created_at, "
            "actor_user_id, organization_id, milestone_id, plan_id",
        }
        raw = connection.connection
        with raw.cursor() as cursor:
            for table, table_rows in rows.items():
                started = time.perf_counter()
                with cursor.copy(f"COPY {table} ({columns[table]}) FROM STDIN") as copy:
                    for row in table_rows:
                        copy.write_row(row)
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f"(SELECT MAX(id) FROM {table}))"
                )
                print(
                    f"  {table}: {len(table_rows):,} rows in {time.perf_counter() - started:.1f} s"
                )
    with connection.cursor() as cursor:
        # VACUUM too, as autovacuum would after such a load: index-only scans (the critical
        # path reads milestone_path_idx) need the visibility map it sets.
        cursor.execute("VACUUM ANALYZE")


def timed(function, runs: int) -> list[float]:
    results = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        results.append((time.perf_counter() - started) * 1000)
    return results


def summary(label: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[max(0, round(0.9 * len(ordered)) - 1)]
    return f"{label:<44} median {statistics.median(ordered):7.1f} ms   p90 {p90:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deals", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--fresh", action="store_true", help="rebuild the bench workspace")
    args = parser.parse_args()
    url = configure()
    ensure_database(url)

    import django

    django.setup()
    from django.conf import settings

    # Production serves hashed files collected by `collectstatic`; the benchmark reads the
    # sources (the manifest lookup is not what is measured).
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from deals.models import Deal, Organization, User
    from plans import services
    from plans.dashboard import history as dashboard_history
    from plans.dashboard import metrics as dashboard
    from plans.models import Milestone
    from stakeholders.actors import Actor

    call_command("migrate", verbosity=0)
    organization = Organization.objects.filter(slug=SLUG).first()
    if (
        args.fresh
        or organization is None
        or Deal.objects.for_org(organization).count() != args.deals
    ):
        print(f"generating {args.deals:,} deals with 30 steps each…")
        started = time.perf_counter()
        generate(args.deals, random.Random(7))
        print(f"generated in {time.perf_counter() - started:.0f} s")
        organization = Organization.objects.get(slug=SLUG)
    deals = Deal.objects.for_org(organization).count()
    milestones = Milestone.objects.for_org(organization).count()
    print(f"workspace '{SLUG}': {deals:,} deals, {milestones:,} milestones ({connection.vendor})")

    manager = User.objects.get(email="bench-manager@example.com")
    seller = User.objects.get(email="bench-seller-0@example.com")
    url = f"/o/{SLUG}/dashboard/"
    client = Client()
    client.force_login(manager)
    for _ in range(3):
        assert client.get(url).status_code == 200
    # The first request computed every plan's, title's and reason's summary (5,000 updated
    # rows, and the plans' overdue groups): vacuum them, as autovacuum would after such a
    # batch.
    with connection.cursor() as cursor:
        cursor.execute(
            "VACUUM ANALYZE plans_plansummary, plans_overduegroup, plans_titlesummary, "
            "plans_reasonsummary"
        )
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    print(f"page: {len(response.content) / 1024:.0f} KB, {len(queries)} queries")
    print()
    print(
        summary(
            "GET dashboard, manager (whole workspace)", timed(lambda: client.get(url), args.runs)
        )
    )

    # The same after a real change: a seller moves a step between "in progress" and "not
    # started" through the service (not timed), so the summaries of its plan and of its
    # title are recomputed by the request (timed), besides the figures.
    steps = list(
        Milestone.objects.for_org(organization)
        .filter(status__in=["in_progress", "not_started"], plan__deal__stage="proposal")
        .order_by("pk")[: args.runs]
    )
    changed = []
    for step in steps:
        status = "not_started" if step.status == "in_progress" else "in_progress"
        services.set_milestone_status(step, actor=Actor.seller(step.plan.deal.owner), status=status)
        started = time.perf_counter()
        assert client.get(url).status_code == 200
        changed.append((time.perf_counter() - started) * 1000)
    print(summary("  …computed after a step's status change", changed))

    owner = f"{url}?owner={seller.public_id}"
    print(
        summary(
            "GET dashboard, manager, filtered by owner", timed(lambda: client.get(owner), args.runs)
        )
    )
    export = f"{url}?export=health"
    print(summary("GET health CSV (every open deal)", timed(lambda: client.get(export), 5)))
    seller_client = Client()
    seller_client.force_login(seller)
    print(
        summary(
            "GET dashboard, seller (own deals)", timed(lambda: seller_client.get(url), args.runs)
        )
    )
    print()
    print("per metric (manager scope):")
    for name, metric in dashboard_history.METRICS.items():
        # A fresh scope each time: metrics share rollups within one scope (one request).
        run = lambda metric=metric: metric(dashboard.Scope.build(organization))  # noqa: E731
        print(summary(f"  {name}", timed(run, 7)))

    # Last, because it moves the clock: the first request of a new day recomputes the
    # summaries of the plans whose steps fell due or became late overnight (overdue steps
    # are kept as of a date). Each day after a VACUUM of the summaries, as autovacuum would
    # have run since the day before.
    import time_machine
    from django.utils import timezone

    from plans.dashboard import summaries as dashboard_summaries
    from plans.tasks import refresh_dashboard_summaries

    def new_days(first: int, action, before=None) -> list[float]:
        samples = []
        for day in range(first, first + 5):
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE plans_plansummary, plans_overduegroup")
            with time_machine.travel(timezone.now() + timedelta(days=day), tick=True):
                if before is not None:
                    before()  # not timed
                started = time.perf_counter()
                action()
                samples.append((time.perf_counter() - started) * 1000)
        return samples

    def get_page():
        assert client.get(url).status_code == 200

    print()
    print(summary("GET dashboard, first request of a new day", new_days(1, get_page)))
    # In production the beat task (plans.refresh_dashboard_summaries) recounts each
    # workspace's plans as its day begins, before its first request. (Days under two weeks
    # ahead: the client's session expires after 14 days.)
    print(
        summary(
            "  …after the beat task ran (other days)",
            new_days(6, get_page, before=refresh_dashboard_summaries),
        )
    )
    refresh = lambda: dashboard_summaries.refresh_plans(organization, now=timezone.now())  # noqa: E731
    print(summary("  …the plans' refresh alone (other days)", new_days(11, refresh)))

    # The worst case: every plan's overdue steps recounted (after the migration, or when
    # the workspace's time zone puts it back a day).
    def every_plan():
        with connection.cursor() as cursor:
            cursor.execute("UPDATE plans_plansummary SET overdue_on = NULL")
            cursor.execute("VACUUM ANALYZE plans_plansummary, plans_overduegroup")
        started = time.perf_counter()
        assert client.get(url).status_code == 200
        return (time.perf_counter() - started) * 1000

    print(
        summary("GET dashboard, every plan's summary recomputed", [every_plan() for _ in range(5)])
    )


if __name__ == "__main__":
    main()
