"""Benchmark: open SSE streams per events process, and event-to-stream latency.

Starts the ASGI events process (uvicorn, one worker) against PostgreSQL and Redis, opens N
idle streams as a signed-in seller, reports the server's resident memory, then publishes
changes of the plan and measures the time until every stream has received each one's
rendered fragments (p50/p95: one render, then the fan-out). With
--idle S it then leaves the streams idle for S seconds and counts the database connections
the events process holds and the transactions it runs meanwhile (streams hold none; the
re-check of every open stream runs once per plans.live.RECHECK_SECONDS), and finally ends
every stream with one control message (what removing the seller's membership publishes)
and measures the time until all are closed.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tandem_bench \\
    REDIS_URL=redis://127.0.0.1:6379/9 .venv/bin/python bench/sse_streams.py --streams 1000 3000

Traffic goes only to 127.0.0.1. Not a test: run it by hand and copy the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup_django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
    import django

    django.setup()


def prepare() -> tuple[str, str]:
    """Migrate, create a workspace with one plan and a signed-in seller session."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from deals.models import Membership, Organization, User
    from tests.factories import add_buyer, make_deal, make_plan

    organization, _ = Organization.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    user = User.objects.filter(email="bench@bench.test").first() or User.objects.create_user(
        email="bench@bench.test",
        password="bench-password-123",  # noqa: S106, full_name="Bench Seller"
    )
    Membership.objects.get_or_create(
        organization=organization, user=user, defaults={"role": "admin"}
    )
    deal = organization.deals.first()
    if deal is None:
        deal = make_deal(organization, user)
        add_buyer(deal, email="buyer@bench.test")
        make_plan(deal, shared=True)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    from django.db import connection

    connection.close()  # the counts of open connections are then the server's alone
    return str(deal.plan.public_id), session.session_key, user.pk


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def threads(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return 0


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Stream:
    def __init__(self):
        # When each pushed plan header arrived (one per change published).
        self.headers: list[float] = []
        self.ready = asyncio.Event()


def database_activity() -> tuple[int, int]:
    """(transactions committed or rolled back so far in the bench's database, connections
    open to it), read from the `postgres` database so that reading counts nowhere."""
    import psycopg
    from django.db import connection

    name = connection.settings_dict["NAME"]
    params = {**connection.get_connection_params(), "dbname": "postgres"}
    with psycopg.connect(**params, autocommit=True) as maintenance:
        maintenance.execute("SELECT pg_stat_clear_snapshot()")
        transactions = maintenance.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s",
            [name],
        ).fetchone()[0]
        connections = maintenance.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [name]
        ).fetchone()[0]
    return transactions, connections


async def open_stream(port, plan_id, session_key, stream: Stream):
    # Pushed fragments are HTML: a line (the timeline's data) can be long.
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**20)
    writer.write(
        (
            f"GET /events/plans/{plan_id}/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Cookie: sessionid={session_key}\r\nAccept: text/event-stream\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    status = await reader.readline()
    if b"200" not in status:
        raise RuntimeError(f"stream refused: {status!r}")
    while True:
        line = await reader.readline()
        if not line:
            return
        if line == b"0\r\n":  # the last chunk: the server ended the stream
            return
        if line.startswith(b": connected"):
            stream.ready.set()
        elif line.startswith(b"event: plan-header"):
            stream.headers.append(time.perf_counter())


async def run(port, plan_id, session_key, counts, events, server_pid, idle, user):
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    streams: list[Stream] = []
    tasks = []
    results = []
    for target in counts:
        while len(streams) < target:
            batch = min(200, target - len(streams))
            new = [Stream() for _ in range(batch)]
            streams.extend(new)
            tasks.extend(
                asyncio.create_task(open_stream(port, plan_id, session_key, s)) for s in new
            )
            await asyncio.wait_for(asyncio.gather(*(s.ready.wait() for s in new)), timeout=120)
        await asyncio.sleep(2)
        failed = [t for t in tasks if t.done() and t.exception()]
        rss = rss_mb(server_pid)
        print(f"  server threads: {threads(server_pid)}")
        latencies = []
        for i in range(events):
            # A change of the plan (what the web process publishes after a commit): the
            # events process renders its fragments once and sends them to every stream.
            seen = [len(s.headers) for s in streams]
            sent = time.perf_counter()
            client.publish(f"tandem:plan:{plan_id}:seller", json.dumps({"events": ["plan"]}))
            deadline = time.perf_counter() + 10
            while time.perf_counter() < deadline and any(
                len(s.headers) <= n for s, n in zip(streams, seen, strict=True)
            ):
                await asyncio.sleep(0.005)
            pairs = zip(streams, seen, strict=True)
            arrivals = [s.headers[n] - sent for s, n in pairs if len(s.headers) > n]
            latencies.extend(arrivals)
            missing = len(streams) - len(arrivals)
            if missing:
                print(f"  change {i}: {missing} streams missed it")
            await asyncio.sleep(0.2)
        latencies.sort()
        p50 = statistics.median(latencies) * 1000
        p95 = latencies[int(len(latencies) * 0.95) - 1] * 1000
        results.append((target, rss, p50, p95, len(failed)))
        print(
            f"{target:>5} open streams: server RSS {rss:.0f} MB; publish→stream latency over "
            f"{events} events: p50 {p50:.1f} ms, p95 {p95:.1f} ms; errors {len(failed)}"
        )
    if idle:
        await measure_idle(streams, tasks, idle, client, user)
    for task in tasks:
        task.cancel()
    return results


async def measure_idle(streams, tasks, idle, client, user):
    """Idle streams and the database; then one control message ends them all."""
    from plans import live

    # Every PostgreSQL backend flushes its statistics when it ends or goes idle (at most
    # once a second): wait, then count.
    await asyncio.sleep(2)
    before, _ = await asyncio.to_thread(database_activity)
    held = []
    started = time.perf_counter()
    while time.perf_counter() - started < idle:
        await asyncio.sleep(min(10, idle))
        held.append((await asyncio.to_thread(database_activity))[1])
    await asyncio.sleep(2)
    after, _ = await asyncio.to_thread(database_activity)
    print(
        f"{len(streams):>5} idle streams for {idle} s: {after - before} database "
        f"transactions by the events process (re-check every {live.RECHECK_SECONDS} s), "
        f"at most {max(held)} database connections open to it meanwhile"
    )
    open_before = sum(1 for t in tasks if not t.done())
    sent = time.perf_counter()
    client.publish(live.control_channel(), json.dumps({"user": user, "organization": None}))
    while any(not t.done() for t in tasks) and time.perf_counter() - sent < 30:
        await asyncio.sleep(0.01)
    closed = sum(1 for t in tasks if t.done())
    print(
        f"  one control message (membership removed) ended {closed} of {open_before} streams "
        f"in {(time.perf_counter() - sent) * 1000:.0f} ms"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, nargs="+", default=[1000, 3000])
    parser.add_argument("--events", type=int, default=10)
    parser.add_argument("--idle", type=int, default=0, help="seconds of idle streams (e.g. 75)")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres") or not os.environ.get(
        "REDIS_URL"
    ):
        sys.exit("Set DATABASE_URL (PostgreSQL) and REDIS_URL.")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    setup_django()
    plan_id, session_key, user = prepare()
    port = free_port()
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "config.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--timeout-graceful-shutdown",
            "3",
            "--log-level",
            "warning",
            "--backlog",
            "4096",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        print(f"uvicorn (1 worker) idle RSS: {rss_mb(server.pid):.0f} MB")
        asyncio.run(
            run(
                port,
                plan_id,
                session_key,
                sorted(args.streams),
                args.events,
                server.pid,
                args.idle,
                user,
            )
        )
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
