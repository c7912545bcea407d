"""Benchmark (a script, not a test): the production topology under load.

Starts the stack of deploy/stack.py (nginx, gunicorn web processes, uvicorn events
processes, a Celery worker and beat, an SMTP sink; production settings, DEBUG off) on a
database of its own, fills it with 3 workspaces × 500 deals × 30 steps (COPY, the generator
of bench/reminder_sweep.py, dated from today), then drives it with locust in headless mode
(bench/locustfile.py): for each number of concurrent users (16 and 64), each scenario alone
for --seconds without pause (a closed loop: what the stack serves at saturation), every
simulated user holding its plan's event stream open meanwhile; then all of them mixed at a
person's pace (about one request a second per user: the latencies people would see at that
concurrency). The ceiling is /healthz through the same proxy path, measured in the same
run; each endpoint's requests/s at saturation is reported as a share of it.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tandem_load \\
    REDIS_URL=redis://127.0.0.1:6379/12 .venv/bin/python bench/load.py

The database named by DATABASE_URL is created when missing and owned by the benchmark
(`--fresh` regenerates its data); REDIS_URL should be a Redis database of its own. Traffic
goes only to 127.0.0.1. `--profile SCENARIO` records py-spy samples of the web processes
while that scenario runs at the highest user count (var/load/profile-*.txt, collapsed
stacks: `py-spy` or speedscope.app turn them into flame graphs).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from deploy.stack import BIN, Stack  # noqa: E402

SCENARIOS = ["healthz", "plan", "room", "checkoff", "dashboard", "api", "paced"]
WORKSPACES, DEALS_PER_WORKSPACE, STEPS = 3, 500, 30
STATE = ROOT / "var" / "load"


def ensure_database(url: str) -> None:
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    server = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(server, autocommit=True) as connection:
        found = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if not found.fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')


def setup_django(stack: Stack) -> None:
    """This process talks to the stack's database and Redis as the stack does (same secret
    key: the sessions it makes are the stack's), to prepare data and sessions."""
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="0",
        SECRET_KEY=stack.env["SECRET_KEY"],
        DATABASE_URL=stack.database_url,
        REDIS_URL=stack.redis_url,
        SITE_URL=stack.url,
        ALLOWED_HOSTS="testserver",
        STATIC_ROOT=stack.env["STATIC_ROOT"],
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        EMAIL_URL=stack.env["EMAIL_URL"],
    )
    import django

    django.setup()


def generate(fresh: bool) -> None:
    from deals.models import Membership
    from plans.models import Milestone

    expected = WORKSPACES * DEALS_PER_WORKSPACE * STEPS
    if not fresh and Milestone.objects.count() == expected:
        return
    sys.path.insert(0, str(ROOT / "bench"))
    import reminder_sweep

    reminder_sweep.NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    reminder_sweep.generate(
        workspaces=WORKSPACES, plans=WORKSPACES * DEALS_PER_WORKSPACE, steps=STEPS
    )
    # The first seller of each workspace manages it (the dashboard's reader).
    for membership in Membership.objects.order_by("organization_id", "user_id").distinct(
        "organization_id"
    ):
        Membership.objects.filter(pk=membership.pk).update(role=Membership.Role.MANAGER)


def prepare_slots(count: int) -> list[dict]:
    """One slot per simulated user: a deal (round robin over the workspaces), its owner's
    session, its champion's room session (opened through the room link, as a buyer does),
    the workspace manager's session and an API key."""
    from django.test import Client

    from deals.models import Deal, Membership
    from deals.services import create_api_key
    from plans.models import Milestone, Plan
    from stakeholders.models import Stakeholder
    from stakeholders.services import issue_room_link

    def session_of(user) -> str:
        client = Client()
        client.force_login(user)
        return client.cookies["sessionid"].value

    managers = {
        m.organization_id: session_of(m.user)
        for m in Membership.objects.filter(role=Membership.Role.MANAGER).select_related("user")
    }
    slots = []
    for number, deal in enumerate(
        Deal.objects.select_related("organization", "owner").order_by("id")[:count]
    ):
        plan = Plan.objects.get(deal=deal)
        champion = Stakeholder.objects.get(deal=deal, role="champion")
        _, token = issue_room_link(champion)
        # Each simulated buyer from an address of its own: the room-link rate limit is per
        # client address, and 64 buyers behind one address are not what it is for.
        buyer = Client(REMOTE_ADDR=f"10.77.{number // 200}.{number % 200 + 1}")
        opened = buyer.post(f"/r/{token}/")
        if opened.status_code != 302:
            raise SystemExit(f"opening the room of {deal} answered {opened.status_code}")
        _, key = create_api_key(deal.organization, name=f"load {number}")
        steps = list(
            Milestone.objects.filter(plan=plan, visibility="shared")
            .order_by("position")
            .values_list("public_id", flat=True)[:10]
        )
        slots.append(
            {
                "slug": deal.organization.slug,
                "deal": str(deal.public_id),
                "plan": str(plan.public_id),
                "steps": [str(step) for step in steps],
                "seller": session_of(deal.owner),
                "buyer": buyer.cookies["sessionid"].value,
                "manager": managers[deal.organization_id],
                "api_key": key,
            }
        )
    return slots


def warm_up(url: str, slots: list[dict]) -> None:
    """Each page once per slot, as the first visitors of the day would."""
    import requests

    session = requests.Session()
    for slot in slots:
        for path, cookie in (
            (f"/o/{slot['slug']}/deals/{slot['deal']}/", slot["seller"]),
            (f"/room/{slot['deal']}/", slot["buyer"]),
            (f"/o/{slot['slug']}/dashboard/", slot["manager"]),
        ):
            answer = session.get(url + path, cookies={"sessionid": cookie}, allow_redirects=False)
            if answer.status_code != 200:
                raise SystemExit(f"warm-up: {path} answered {answer.status_code}")


def run_locust(scenario: str, users: int, seconds: int, data: Path, stack: Stack) -> dict:
    prefix = STATE / f"locust-{scenario}-{users}"
    env = {**os.environ, "LOAD_DATA": str(data), "LOAD_SCENARIO": scenario}
    subprocess.run(
        [
            str(BIN / "locust"),
            "-f",
            str(ROOT / "bench" / "locustfile.py"),
            "--headless",
            "--users",
            str(users),
            "--spawn-rate",
            str(users),
            "--run-time",
            f"{seconds}s",
            "--reset-stats",
            "--stop-timeout",
            "5",
            "--csv",
            str(prefix),
            "--only-summary",
            "--loglevel",
            "WARNING",
            "--host",
            stack.url,
        ],
        env=env,
        cwd=ROOT,
        check=False,
        capture_output=True,
    )
    rows = {"streams": json.loads((data.parent / "streams.json").read_text())}
    with open(f"{prefix}_stats.csv") as stats:
        for row in csv.DictReader(stats):
            if row["Name"] != "Aggregated":
                rows[row["Name"]] = row
    return rows


def profile(stack: Stack, scenario: str, seconds: int) -> None:
    """py-spy samples of each web process (and its workers) while `scenario` runs."""
    for name, process in stack.processes.items():
        if name.startswith("web"):
            subprocess.Popen(
                [
                    str(BIN / "py-spy"),
                    "record",
                    "--subprocesses",
                    "--pid",
                    str(process.popen.pid),
                    "--duration",
                    str(seconds),
                    "--format",
                    "raw",
                    "--output",
                    str(STATE / f"profile-{scenario}-{name}.txt"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--seconds", type=int, default=20, help="per scenario and user count")
    parser.add_argument("--scenarios", nargs="+", default=SCENARIOS, choices=SCENARIOS)
    parser.add_argument("--web", type=int, default=2, help="gunicorn web processes (2)")
    parser.add_argument("--web-workers", type=int, default=2, help="workers of each (2)")
    parser.add_argument("--web-threads", type=int, default=1, help="threads of each (1)")
    parser.add_argument("--events", type=int, default=2, help="uvicorn events processes (2)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="repeat the closed-loop scenarios, each round after its own /healthz (1); the "
        "shares are the median of the rounds",
    )
    parser.add_argument("--fresh", action="store_true", help="regenerate the data")
    parser.add_argument("--profile", choices=SCENARIOS, help="py-spy the web processes")
    args = parser.parse_args()
    database_url, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL")
    if not database_url.startswith(("postgres://", "postgresql://")) or not redis_url:
        sys.exit("Set DATABASE_URL (a PostgreSQL database of its own) and REDIS_URL.")
    if "healthz" not in args.scenarios:
        args.scenarios.insert(0, "healthz")
    ensure_database(database_url)
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    stack = Stack(
        database_url,
        redis_url,
        web=args.web,
        events=args.events,
        web_workers=args.web_workers,
        web_threads=args.web_threads,
        state=STATE / "stack",
        # Static files are not requested here: collected uncompressed (compressing takes
        # minutes on 2 cores), served by nginx as in production.
        extra_env={"STATIC_COMPRESS": "0"},
    )
    started = time.perf_counter()
    stack.start()
    try:
        setup_django(stack)
        generate(args.fresh)
        slots = prepare_slots(max(args.users))
        data = STATE / "slots.json"
        data.write_text(json.dumps({"url": stack.url, "slots": slots}))
        warm_up(stack.url, slots)
        print(
            f"stack up, data ready and warm in {time.perf_counter() - started:.0f} s: "
            f"{args.web} web × {args.web_workers} workers × {args.web_threads} threads, "
            f"{args.events} events, "
            f"{WORKSPACES} workspaces × {DEALS_PER_WORKSPACE} deals × {STEPS} steps",
            flush=True,
        )
        results = []
        for users in args.users:
            for round_ in range(args.rounds):
                last = round_ == args.rounds - 1
                for scenario in args.scenarios:
                    if scenario == "paced" and not last:
                        continue
                    if args.profile == scenario and users == max(args.users) and last:
                        profile(stack, scenario, args.seconds)
                    rows = run_locust(scenario, users, args.seconds, data, stack)
                    results.append((users, round_, scenario, rows))
                    for name, row in rows.items():
                        if name.startswith(("SSE", "streams")):
                            continue
                        print(
                            f"  {users:>3} users  {scenario:<9} {name:<24} "
                            f"{float(row['Requests/s']):8.1f} req/s  p95 {row['95%']:>5} ms  "
                            f"errors {row['Failure Count']}",
                            flush=True,
                        )
        report(results, args.rounds)
    finally:
        stack.stop()
    return 0


def report(results: list, rounds: int) -> None:
    """The table of the last round (with the paced rows); with several rounds, then each
    endpoint's share of the ceiling in every round (against the /healthz measured just
    before it: this machine's speed drifts by 2x within minutes) and their median."""
    today = datetime.now(UTC).date().isoformat()
    print(
        f"\nLoad on {today}, {os.cpu_count()} cores; each endpoint alone in a closed loop, "
        "then all mixed at about one request a second per user (paced); every user holding "
        "an SSE stream:\n"
    )
    print("| users | endpoint | req/s | × ceiling | p50 ms | p95 ms | p99 ms | errors | streams |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    ceilings, shares = {}, {}
    for users, round_, scenario, rows in results:
        streams = rows["streams"]
        stream_text = f"{streams['opened'] - streams['dropped']}/{users}"
        if streams["refused"]:
            stream_text += f" ({streams['refused']} refused)"
        for name, row in rows.items():
            if name.startswith(("SSE", "streams")):
                continue
            rate = float(row["Requests/s"])
            if scenario == "healthz":
                ceilings[users] = rate
            elif scenario != "paced" and ceilings.get(users):
                shares.setdefault((users, name), []).append(rate / ceilings[users])
            if round_ != rounds - 1:
                continue
            if scenario == "paced":
                label, share = f"{name}, paced", "—"
            else:
                label = name
                share = f"{rate / ceilings[users]:.0%}" if ceilings.get(users) else "—"
            print(
                f"| {users} | {label} | {rate:.0f} | {share} | {row['50%']} | {row['95%']} "
                f"| {row['99%']} | {row['Failure Count']} | {stream_text} |"
            )

    if rounds > 1:
        print(f"\nShare of the ceiling in each of {rounds} rounds, and the median:\n")
        print("| users | endpoint | rounds | median |")
        print("|---:|---|---|---:|")
        for (users, name), values in shares.items():
            each = " ".join(f"{value:.0%}" for value in values)
            print(f"| {users} | {name} | {each} | {statistics.median(values):.0%} |")


if __name__ == "__main__":
    sys.exit(main())
