"""Event notices: a buyer acts → the AE is notified in-app at once, by email in batches of at
most one per 10 minutes."""

from datetime import date, timedelta

import time_machine
from django.core import mail
from django.urls import reverse

from notifications.digests import decide_digests
from notifications.models import Kind, Notification, NotificationPreference, SentNotification
from notifications.services import PLAN_SIGNED_VERB
from plans.services import record_activity, set_milestone_status
from stakeholders.actors import Actor
from tests.conftest import open_room

from .conftest import Room, outbox_to, run_sweep, utc

NOON = utc(2025, 3, 10, 20, 0)


def _status_url(room, step):
    return reverse(
        "room-milestone-status",
        kwargs={"deal_id": room.deal.public_id, "milestone_id": step.public_id},
    )


def test_buyer_completing_a_step_notifies_the_ae_in_app_and_by_email(
    client, la, django_capture_on_commit_callbacks
):
    with time_machine.travel(NOON, tick=False):
        room = Room(*la)
        step = room.step("Security review", date(2025, 3, 12))
        open_room(client, room.buyer)

        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(_status_url(room, step), {"status": "done"})

    assert response.status_code == 302
    notification = Notification.objects.get()
    assert notification.user == room.owner and notification.kind == Kind.EVENTS
    assert notification.text == "Initech Champion set “Security review” to done"
    assert notification.read_at is None
    [message] = outbox_to("ae@la.test")
    assert message.subject == "Initech Champion set “Security review” to done"
    assert f"/o/la/deals/{room.deal.public_id}/#milestone-{step.public_id}" in message.body


def test_event_emails_are_batched_at_most_one_per_10_minutes(
    client, la, django_capture_on_commit_callbacks
):
    with time_machine.travel(NOON, tick=False):
        room = Room(*la)
        first = room.step("Security review", date(2025, 3, 12))
        second = room.step("Legal review", date(2025, 3, 14))
        open_room(client, room.buyer)
        with django_capture_on_commit_callbacks(execute=True):
            client.post(_status_url(room, first), {"status": "done"})
    assert len(outbox_to("ae@la.test")) == 1

    with (
        time_machine.travel(NOON + timedelta(minutes=2), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        client.post(_status_url(room, second), {"status": "done"})
    with time_machine.travel(NOON + timedelta(minutes=6), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            client.post(
                reverse(
                    "room-comment",
                    kwargs={"deal_id": room.deal.public_id, "milestone_id": second.public_id},
                ),
                {"body": "Signed off by our counsel."},
            )
        run_sweep(deciders=(decide_digests,))  # the sweep's flush respects the window too
    assert len(outbox_to("ae@la.test")) == 1
    assert Notification.objects.filter(read_at=None).count() == 3  # in-app: immediately

    with time_machine.travel(NOON + timedelta(minutes=10, seconds=1), tick=False):
        run_sweep(deciders=(decide_digests,))
        run_sweep(deciders=(decide_digests,))

    emails = outbox_to("ae@la.test")
    assert len(emails) == 2
    assert emails[1].subject == "2 updates from your buyers"
    assert "Legal review" in emails[1].body and "Signed off by our counsel." in emails[1].body
    assert "Security review" not in emails[1].body
    assert SentNotification.objects.filter(kind=Kind.EVENTS, status="sent").count() == 2


def test_seller_actions_notify_nobody(la):
    with time_machine.travel(NOON, tick=False):
        room = Room(*la)
        step = room.step("Security review", date(2025, 3, 12))
        set_milestone_status(step, actor=Actor.seller(room.owner), status="done")
    assert not Notification.objects.exists()


def test_event_email_turned_off_keeps_the_in_app_notice(la, django_capture_on_commit_callbacks):
    with time_machine.travel(NOON, tick=False):
        room = Room(*la)
        step = room.step("Security review", date(2025, 3, 12))
        NotificationPreference.objects.create(
            organization=room.deal.organization, email="ae@la.test", kind=Kind.EVENTS, enabled=False
        )
        with django_capture_on_commit_callbacks(execute=True):
            set_milestone_status(step, actor=Actor.buyer(room.buyer), status="done")

    assert mail.outbox == []
    assert Notification.objects.get().email_state == "skipped"


def test_a_buyer_signature_notifies_the_ae_through_the_signing_hook(
    la, django_capture_on_commit_callbacks
):
    with time_machine.travel(NOON, tick=False):
        room = Room(*la)
        with django_capture_on_commit_callbacks(execute=True):
            record_activity(
                room.plan,
                actor=Actor.buyer(room.buyer),
                verb=PLAN_SIGNED_VERB,
                summary="signed the plan",
            )
    assert Notification.objects.get().text == "Initech Champion signed the plan"
    assert outbox_to("ae@la.test")[0].subject == "Initech Champion signed the plan"
