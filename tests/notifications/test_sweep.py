"""The sweep as a whole: its query budget, the management command and the beat schedule."""

from datetime import date
from io import StringIO

import pytest
import time_machine
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from config.celery import app
from notifications import digests
from notifications.models import SentNotification

from .conftest import Room, outbox_to, run_sweep, utc

MORNING = utc(2025, 3, 10, 16, 0)  # 09:00 on Monday in Los Angeles


def _add_steps(rooms, count):
    for room in rooms:
        for n in range(count):
            # Overdue by fewer than 7 days or due soon: digests, no escalations.
            due = date(2025, 3, 4 + n % 8)
            room.step(f"Step {n}", due)
            room.step(f"Internal {n}", due, visibility="internal")


def _queries(function) -> int:
    with CaptureQueriesContext(connection) as captured:
        function()
    return len(captured.captured_queries)


def _reset():
    SentNotification.objects.all().delete()
    mail.outbox.clear()


def test_sweep_queries_do_not_grow_with_milestones(la):
    with time_machine.travel(MORNING, tick=False):
        rooms = [Room(*la, account=f"Account {n}") for n in range(3)]
        _add_steps(rooms, 2)
        small_decide = _queries(lambda: digests.decide(MORNING))
        small_sweep = _queries(lambda: run_sweep(MORNING))
        sent_small = len(mail.outbox)
        _reset()

        _add_steps(rooms, 30)  # 15 times the milestones, the same people
        large_decide = _queries(lambda: digests.decide(MORNING))
        large_sweep = _queries(lambda: run_sweep(MORNING))

    # Digests (3 buyers and the AE) and weekly reviews (3 champions and the AE, per plan).
    assert len(mail.outbox) == sent_small == 4 + 6
    assert large_decide == small_decide
    assert large_sweep == small_sweep


def test_deciding_does_not_grow_with_recipients_and_sending_grows_linearly(la):
    with time_machine.travel(MORNING, tick=False):
        rooms = [Room(*la, account=f"Account {n}") for n in range(2)]
        _add_steps(rooms, 1)
        decide_2 = _queries(lambda: digests.decide(MORNING))
        sweep_2 = _queries(lambda: run_sweep(MORNING, deciders=(digests.decide_digests,)))
        emails_2 = len(mail.outbox)
        _reset()

        more = [Room(*la, account=f"More {n}") for n in range(4)]
        _add_steps(more, 1)
        decide_6 = _queries(lambda: digests.decide(MORNING))
        sweep_6 = _queries(lambda: run_sweep(MORNING, deciders=(digests.decide_digests,)))
        emails_6 = len(mail.outbox)

    assert decide_6 == decide_2
    assert (emails_2, emails_6) == (3, 7)  # buyers and the AE
    per_email = (sweep_6 - sweep_2) / (emails_6 - emails_2)
    # (13: each buyer's email carries a new room link, which moves the deal's revision: the
    # stakeholder panel lists the active links.)
    assert per_email <= 13, f"{per_email} queries per email sent"


def test_send_reminders_command_acts_as_of_now(la):
    with time_machine.travel(MORNING, tick=False):
        room = Room(*la)
        room.step("Security review", date(2025, 3, 7))
    out = StringIO()

    call_command(
        "send_reminders", "--now", "2025-03-10T09:00-07:00", "--only", "frequent", stdout=out
    )
    call_command("send_reminders", "--now", "2025-03-10T16:30", "--only", "frequent", stdout=out)

    assert out.getvalue().splitlines() == [
        "2 new email(s) decided, 0 retried: 2 sent.",
        "0 new email(s) decided, 0 retried.",
    ]
    assert len(outbox_to(room.buyer.email)) == 1


def test_send_reminders_command_refuses_a_bad_time(db):
    with pytest.raises(CommandError, match="--now must be an ISO date and time"):
        call_command("send_reminders", "--now", "tomorrow morning")


def test_beat_schedule_runs_the_sweeps():
    app.loader.import_default_modules()
    schedule = app.conf.beat_schedule
    frequent = schedule["reminder-sweep"]
    hourly = schedule["review-and-stale-sweep"]

    assert frequent["task"] == "notifications.sweep_reminders"
    assert frequent["schedule"].minute == {0, 15, 30, 45}
    assert hourly["task"] == "notifications.sweep_reviews"
    assert hourly["schedule"].minute == {5} and len(hourly["schedule"].hour) == 24
    for entry in schedule.values():
        assert entry["task"] in app.tasks
