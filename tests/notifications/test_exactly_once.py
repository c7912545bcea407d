"""Exactly-once: a unique row is written before sending; reruns, crashes, concurrent sweeps
and SMTP failures neither drop nor double an email."""

import threading
from datetime import date, timedelta
from smtplib import SMTPServerDisconnected

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.db import connection, connections

from deals import retries
from notifications import delivery, digests
from notifications.digests import decide_digests
from notifications.models import Kind, SentNotification
from notifications.tasks import deliver_notification
from tests.conftest import needs_postgres

from .conftest import Room, make_workspace, outbox_to, run_sweep, utc

MORNING = utc(2025, 3, 10, 16, 0)  # 09:00 on Monday in Los Angeles


def _rooms(la, count=1):
    rooms = [Room(*la, account=f"Account {n}") for n in range(count)]
    for room in rooms:
        room.step("Security review", date(2025, 3, 7))
    return rooms


def test_sweep_twice_sends_each_digest_once(la):
    with time_machine.travel(MORNING, tick=False):
        room = _rooms(la)[0]
        first = run_sweep(deciders=(decide_digests,))
        second = run_sweep(deciders=(decide_digests,))

    assert len(first.queued) == 2 and second.queued == [] and second.requeued == []
    assert len(outbox_to(room.buyer.email)) == 1
    assert len(outbox_to("ae@la.test")) == 1
    assert set(SentNotification.objects.values_list("status", flat=True)) == {"sent"}


def test_crash_after_insert_leaves_pending_row_that_a_later_sweep_sends_once(la):
    with time_machine.travel(MORNING, tick=False):
        _rooms(la)
        # The sweep records its rows and queues the sending after commit; this test's
        # transaction never commits, so the queued tasks are lost, as in a crash.
        lost = digests.sweep(deciders=(decide_digests,))
    assert len(lost.queued) == 2 and mail.outbox == []
    assert set(SentNotification.objects.values_list("status", flat=True)) == {"pending"}

    with time_machine.travel(MORNING + timedelta(minutes=5), tick=False):
        early = run_sweep(deciders=(decide_digests,))  # within the lease: not yet
    assert early.requeued == [] and mail.outbox == []

    with time_machine.travel(MORNING + timedelta(minutes=15), tick=False):
        retry = run_sweep(deciders=(decide_digests,))
        again = run_sweep(deciders=(decide_digests,))

    assert sorted(retry.requeued) == sorted(lost.queued)
    assert again.requeued == [] and again.queued == []
    assert len(mail.outbox) == 2
    assert set(SentNotification.objects.values_list("status", flat=True)) == {"sent"}


def test_a_claimed_row_is_sent_by_one_sender_only(la):
    with time_machine.travel(MORNING, tick=False):
        _rooms(la)
        result = digests.sweep(deciders=(decide_digests,))
        sent_id = result.queued[0]

        assert delivery.deliver(sent_id) == "sent"
        assert delivery.deliver(sent_id) == "busy"  # a redelivered task: nothing sent again

        other = result.queued[1]
        SentNotification.objects.filter(pk=other).update(
            claimed_until=MORNING + timedelta(minutes=10)
        )
        assert delivery.deliver(other) == "busy"  # claimed by a live sender

    assert len(mail.outbox) == 1


class FlakyBackend(EmailBackend):
    """Fails the first `failures` sends like a dropped SMTP connection."""

    failures = 0

    def send_messages(self, messages):
        if FlakyBackend.failures:
            FlakyBackend.failures -= 1
            raise SMTPServerDisconnected("Connection unexpectedly closed")
        return super().send_messages(messages)


def test_smtp_failure_releases_the_claim_and_a_retry_sends_once(la, settings):
    settings.EMAIL_BACKEND = f"{__name__}.FlakyBackend"
    FlakyBackend.failures = 1
    with time_machine.travel(MORNING, tick=False):
        _rooms(la)
        sent_id = digests.sweep(deciders=(decide_digests,)).queued[0]

        with pytest.raises(SMTPServerDisconnected):
            delivery.deliver(sent_id)
        row = SentNotification.objects.get(pk=sent_id)
        assert (row.status, row.attempts, row.claimed_until) == ("pending", 1, None)
        assert "SMTPServerDisconnected" in row.last_error

        assert delivery.deliver(sent_id) == "sent"
    assert len(mail.outbox) == 1
    assert SentNotification.objects.get(pk=sent_id).attempts == 2


def test_deliver_task_in_process_leaves_failed_send_pending_for_the_sweep(la, settings):
    settings.EMAIL_BACKEND = f"{__name__}.FlakyBackend"
    FlakyBackend.failures = 1
    with time_machine.travel(MORNING, tick=False):
        _rooms(la)
        sent_id = digests.sweep(deciders=(decide_digests,)).queued[0]
        assert deliver_notification.delay(sent_id=sent_id).get() == "failed"
    assert SentNotification.objects.get(pk=sent_id).status == "pending"


def test_deliver_task_with_a_broker_queues_the_next_attempt_after_its_delay(
    la, settings, monkeypatch
):
    """The retry policy (deals/retries.py): a failed send queues a new message after the
    delay of its attempt (here the first: 15 s), the row pending meanwhile."""
    settings.EMAIL_BACKEND = f"{__name__}.FlakyBackend"
    FlakyBackend.failures = 1
    queued = []
    monkeypatch.setitem(deliver_notification.app.conf, "task_always_eager", False)
    monkeypatch.setattr(deliver_notification, "apply_async", lambda **kwargs: queued.append(kwargs))
    with time_machine.travel(MORNING, tick=False):
        _rooms(la)
        sent_id = digests.sweep(deciders=(decide_digests,)).queued[0]
        assert deliver_notification.run(sent_id=sent_id) == "failed"

    assert queued == [{"kwargs": {"sent_id": sent_id}, "countdown": retries.DELAYS[0]}]
    assert SentNotification.objects.get(pk=sent_id).status == "pending"


def test_retry_delays_span_a_day_and_end():
    assert retries.DELAYS == [15, 60, 240, 960, 3840, 15360, 61440]
    assert [retries.delay_after(n) for n in (1, 2, 7)] == [15, 60, 61440]
    assert retries.delay_after(retries.MAX_ATTEMPTS) is None
    assert delivery.MAX_ATTEMPTS == retries.MAX_ATTEMPTS == 8


def test_deliver_gives_up_after_max_attempts(la, settings):
    settings.EMAIL_BACKEND = f"{__name__}.FlakyBackend"
    FlakyBackend.failures = 100
    with time_machine.travel(MORNING, tick=False):
        _rooms(la)
        sent_id = digests.sweep(deciders=(decide_digests,)).queued[0]
        for _ in range(delivery.MAX_ATTEMPTS):
            with pytest.raises(SMTPServerDisconnected):
                delivery.deliver(sent_id)
    FlakyBackend.failures = 0
    assert SentNotification.objects.get(pk=sent_id).status == "failed"
    assert delivery.deliver(sent_id) == "busy"


class RecordingBackend(EmailBackend):
    """Remembers whether a database transaction was open while each message was sent."""

    in_transaction: list[bool] = []

    def send_messages(self, messages):
        RecordingBackend.in_transaction.append(connection.in_atomic_block)
        return super().send_messages(messages)


@pytest.mark.django_db(transaction=True)
def test_sending_holds_no_transaction_open(settings):
    settings.EMAIL_BACKEND = f"{__name__}.RecordingBackend"
    RecordingBackend.in_transaction = []
    la = make_workspace("la", "America/Los_Angeles", "ae@la.test")
    with time_machine.travel(MORNING, tick=False):
        _rooms(la)
        run_sweep(deciders=(decide_digests,))
    assert RecordingBackend.in_transaction == [False, False]


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_sweeps_send_each_digest_once():
    la = make_workspace("la", "America/Los_Angeles", "ae@la.test")
    with time_machine.travel(MORNING, tick=False):
        rooms = _rooms(la, count=15)
    start = threading.Barrier(2)
    results, errors = [], []

    def worker():
        try:
            with time_machine.travel(MORNING, tick=False):
                start.wait()
                results.append(run_sweep(deciders=(decide_digests,)))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    recipients = sorted(m.to[0] for m in mail.outbox)
    expected = sorted([r.buyer.email for r in rooms] + ["ae@la.test"])
    assert recipients == expected  # 15 buyers and one AE, each exactly once
    assert sum(len(r.queued) for r in results) == 16
    assert SentNotification.objects.filter(kind=Kind.DIGEST, status="sent").count() == 16
