"""The Celery worker SIGKILLed (with its children) in the middle of a reminder sweep that
sends ~200 emails, then started again: every email arrives exactly once at the SMTP sink
(counted by recipient and subject).

The SMTP sink is slow (it holds each message 0.1 s before accepting it), and the kill lands
while every worker child is inside a send (the sink stops accepting for that moment): the
messages being sent are never accepted, and their log rows stay claimed until their lease
ends (5 s here, NOTIFICATION_CLAIM_SECONDS); the next sweep sends them. (The design's one
window for a duplicate, the milliseconds between the server's acceptance and the row marked
sent, is not where this kill lands.) Beat is stopped meanwhile: the test sends the sweeps as
beat would, at a fixed moment.
"""

from __future__ import annotations

import signal
import time

from celery import Celery

from .clients import mail_counts, query, wait_until

BUYERS = 200
NOW = "2025-03-10T16:00:00+00:00"  # 09:00 on Monday in Los Angeles
SEED = f"""
from datetime import date
from django.db import transaction
from tests.notifications.conftest import Room, make_workspace

with transaction.atomic():
    workspace = make_workspace("pacific", "America/Los_Angeles", "ae@pacific.example.com")
    for number in range({BUYERS}):
        room = Room(
            *workspace,
            account=f"Account {{number:03d}}",
            buyer_email=f"champion@account{{number:03d}}.example.com",
        )
        room.step("Security review", date(2025, 3, 7))
"""
SLOW_SMTP_SECONDS = 0.1
KILL_AFTER = 60  # messages accepted


def sent_rows(database_url: str) -> list[tuple[str, str]]:
    return query(
        database_url,
        "SELECT n.recipient, n.status FROM notifications_sentnotification n"
        " JOIN deals_organization o ON o.id = n.organization_id WHERE o.slug = 'pacific'",
    )


def test_worker_killed_mid_sweep_every_email_arrives_exactly_once(fault_stack):
    stack = fault_stack
    stack.manage("shell", "-c", SEED)
    buyers = {f"champion@account{number:03d}.example.com" for number in range(BUYERS)}
    worker, beat = stack.processes["worker"], stack.processes["beat"]
    beat.stop()
    probe = Celery("probe", broker=stack.redis_url, set_as_current=False)
    mark = len(stack.mail.snapshot())
    stack.mail.delay = SLOW_SMTP_SECONDS
    try:
        probe.send_task("notifications.sweep_reminders", kwargs={"now": NOW}, queue="tandem")

        # When enough have arrived, the sink stops accepting; once every worker child is
        # mid-send (held by the sink), the worker is killed, and the sink goes on.
        assert wait_until(
            lambda: len(stack.mail.snapshot()) - mark >= KILL_AFTER, timeout=120, step=0.05
        )
        stack.mail.paused = True
        assert wait_until(
            lambda: stack.mail.holding == stack.worker_concurrency, timeout=30, step=0.01
        )
        killed_at = len(stack.mail.snapshot()) - mark
        worker.signal(signal.SIGKILL)
        worker.popen.wait(10)
        # The children die a moment later: their connections drop, the held sends with them.
        assert wait_until(lambda: stack.mail.holding == 0, timeout=10, step=0.01)
        stack.mail.paused = False
        time.sleep(1)
        assert len(stack.mail.snapshot()) - mark == killed_at  # the ones held: not accepted
        assert killed_at < BUYERS

        worker.start(stack.env, stack.state / "logs")
        # Queued sends go on at once; those cut by the kill wait for their lease (5 s) and
        # the next sweep (beat sends one every 15 minutes).
        time.sleep(6)
        probe.send_task("notifications.sweep_reminders", kwargs={"now": NOW}, queue="tandem")

        def all_done():
            rows = sent_rows(stack.database_url)
            return rows and all(status != "pending" for _, status in rows)

        assert wait_until(all_done, timeout=120, step=0.5), sent_rows(stack.database_url)
        # Another sweep, and time for anything sent twice to arrive.
        probe.send_task("notifications.sweep_reminders", kwargs={"now": NOW}, queue="tandem")
        time.sleep(4)
    finally:
        stack.mail.delay, stack.mail.paused = 0, False
        if not worker.running:
            worker.start(stack.env, stack.state / "logs")
        beat.start(stack.env, stack.state / "logs")
        probe.close()

    counts = mail_counts(stack, since=mark)
    assert [key for key, count in counts.items() if count > 1] == []
    # Only this workspace's mail: the stack is shared with the tests before this one, whose
    # batched notices (a seller's event emails wait up to their 10-minute window) may land
    # in this window too.
    rows = sent_rows(stack.database_url)
    pacific = buyers | {"ae@pacific.example.com"} | {recipient for recipient, _ in rows}
    recipients = sorted(recipient for recipient, _ in counts if recipient in pacific)
    assert {status for _, status in rows} == {"sent"}
    assert recipients == sorted(recipient for recipient, _ in rows)
    assert buyers <= set(recipients)
    assert ("champion@account007.example.com", "1 overdue: your steps for Account 007") in counts
    print(f"{killed_at} of {len(counts)} emails had arrived when the worker was killed")
