"""Real parts: a `celery -A config worker` process on Redis, PostgreSQL, and an SMTP server
(aiosmtpd) on 127.0.0.1. The sweep runs in the worker; the test reads what the SMTP server
received. The worker is killed in the middle of a send and restarted: nothing is lost and
nothing is sent twice. Then the worker runs the dashboard summaries' beat task.

Runs when DATABASE_URL (PostgreSQL) and REDIS_URL are set. The worker uses the test
database (committed rows: transactional_db) and the broker TANDEM_TEST_BROKER_URL (default:
REDIS_URL); the test purges the worker's queue first.
"""

from __future__ import annotations

import asyncio
import email
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import date
from email import policy
from pathlib import Path
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller
from celery import Celery
from django.conf import settings
from django.db import connection

from config.celery import app
from notifications.models import SentNotification
from plans.models import PlanSummary
from tests.conftest import needs_postgres, needs_redis

from .conftest import Room, make_workspace

pytestmark = [pytest.mark.postgres, pytest.mark.redis, needs_postgres, needs_redis]

ROOT = Path(__file__).resolve().parents[2]
NOW = "2025-03-10T16:00:00+00:00"  # 09:00 on Monday in Los Angeles
BUYERS = 6
# The message whose sending is cut by the kill: the SMTP server holds it at RCPT TO.
KILL_AT = 3


class Inbox:
    """An aiosmtpd handler that keeps every complete message. While the KILL_AT-th message
    is being sent it signals `in_flight` and holds the session, so the test can kill the
    worker at a moment when that message cannot have been delivered."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.rcpt_count = 0
        self.in_flight = threading.Event()
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        with self.lock:
            self.rcpt_count += 1
            hold = self.rcpt_count == KILL_AT
        envelope.rcpt_tos.append(address)
        if hold:
            self.in_flight.set()
            await asyncio.sleep(3)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        message = email.message_from_bytes(envelope.original_content, policy=policy.default)
        with self.lock:
            self.messages.append(message)
        return "250 Message accepted for delivery"

    def recipients(self) -> list[str]:
        with self.lock:
            return sorted(m["To"] for m in self.messages)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url() -> str:
    db = connection.settings_dict
    auth = quote(db["USER"] or "postgres")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _wait(condition, timeout=60, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Worker:
    def __init__(self, env: dict, log_path: Path):
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self):
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("celery")),
                "-A",
                "config",
                "worker",
                "--pool",
                "prefork",
                "--concurrency",
                "1",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the kill takes its children too
        )

    def kill(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.mark.django_db(transaction=True)
def test_real_worker_sends_digests_once_even_when_killed_mid_run(client, tmp_path):
    broker_url = os.environ.get("TANDEM_TEST_BROKER_URL") or settings.REDIS_URL
    import redis

    redis.Redis.from_url(broker_url).delete(
        "tandem", "unacked", "unacked_index", "unacked_mutex", "_kombu.binding.tandem"
    )

    la = make_workspace("la", "America/Los_Angeles", "ae@la.test")
    rooms = [Room(*la, account=f"Account{n}") for n in range(BUYERS)]
    for room in rooms:
        room.step("Security review", date(2025, 3, 7))
    expected = sorted([room.buyer.email for room in rooms] + ["ae@la.test"])

    inbox = Inbox()
    port = _free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": broker_url,
        "EMAIL_URL": f"smtp://127.0.0.1:{port}",
        "SITE_URL": "http://testserver",
        "SECRET_KEY": settings.SECRET_KEY,
        "DEBUG": "0",
        # A short lease, so the email cut by the kill is retried within the test.
        "NOTIFICATION_CLAIM_SECONDS": "3",
    }
    worker = Worker(env, tmp_path / "worker.log")
    # Not the current app: shared tasks of later tests must keep resolving to config.celery.
    probe = Celery("probe", broker=broker_url, set_as_current=False)
    try:
        worker.start()
        probe.send_task("notifications.sweep_reminders", kwargs={"now": NOW}, queue="tandem")

        # The worker sends digests one by one; kill it while the 3rd is half-way through.
        _wait(inbox.in_flight.is_set, what="the 3rd message in flight")
        worker.kill()
        received_before_restart = inbox.recipients()
        assert len(received_before_restart) == KILL_AT - 1

        worker.start()
        # Queued sends continue at once; the one cut by the kill waits for its lease to
        # expire and for the next sweep (beat runs it every 15 minutes).
        time.sleep(4)
        probe.send_task("notifications.sweep_reminders", kwargs={"now": NOW}, queue="tandem")
        _wait(lambda: len(inbox.messages) >= len(expected), what="every digest")
        # Another sweep, and time for anything duplicated to arrive.
        probe.send_task("notifications.sweep_reminders", kwargs={"now": NOW}, queue="tandem")
        time.sleep(3)
        # The beat's dashboard refresh, sent as its schedule entry sends it, runs there too:
        # every plan's overdue steps counted as of the workspace's day (10 March in LA).
        entry = app.conf.beat_schedule["dashboard-summaries-refresh"]
        probe.send_task(entry["task"], kwargs={"now": NOW}, queue="tandem", **entry["options"])
        recounted = PlanSummary.objects.filter(
            organization=la[0], overdue_on=date(2025, 3, 10), overdue=1
        )
        _wait(lambda: recounted.count() == BUYERS, what="the dashboard summaries")
    finally:
        worker.stop()
        smtp.stop()
        probe.close()

    log = (tmp_path / "worker.log").read_text(errors="replace")
    assert inbox.recipients() == expected, log[-3000:]
    assert set(SentNotification.objects.values_list("status", flat=True)) == {"sent"}
    # The send cut by the kill was claimed twice (the killed worker, then the retry); its
    # task is still unacknowledged in Redis, and if it is ever redelivered it finds the row
    # sent and does nothing.
    attempts = sorted(SentNotification.objects.values_list("attempts", flat=True))
    assert attempts == [1] * (len(expected) - 1) + [2]

    # What the buyers received: the subject, both parts, and a magic link that works.
    message = next(m for m in inbox.messages if m["To"] == rooms[0].buyer.email)
    assert message["Subject"] == "1 overdue: your steps for Account0"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert message.get_body(preferencelist=("html",)) is not None
    link = re.search(r"http://testserver(/r/[A-Za-z0-9_-]+/)\s", text).group(1)
    assert client.get(link).status_code == 200
    response = client.post(link)
    assert response.status_code == 302
    assert response["Location"] == f"/room/{rooms[0].deal.public_id}/"
