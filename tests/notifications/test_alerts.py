"""Weekly MAP reviews, stale plans, escalations and unopened invitations: thresholds,
recipients and once-only."""

from datetime import date

import time_machine
from django.core import mail

from notifications.digests import (
    decide_escalations,
    decide_invitation_reminders,
    decide_stale_plans,
    decide_weekly_reviews,
)
from notifications.models import Kind, Notification
from plans.models import Activity
from plans.services import propose_date, record_activity, set_milestone_status, update_milestone
from stakeholders.actors import Actor
from stakeholders.models import Stakeholder

from .conftest import Room, html_of, links_in, outbox_to, run_sweep, utc


def sweep(*deciders):
    return run_sweep(deciders=deciders)


# --- Weekly MAP review ----------------------------------------------------------------------


def _review_plan(tokyo):
    """A Tokyo plan reviewed on Tuesdays, with a week of history."""
    with time_machine.travel(utc(2025, 3, 3, 1, 0), tick=False):
        room = Room(*tokyo)
        room.plan.review_weekday = 1
        room.plan.save()
        done = room.step("Kickoff call", date(2025, 3, 5))
        room.step("Security questionnaire", date(2025, 3, 7))
        room.step("Legal review", date(2025, 3, 13))
        room.step("Discount approval", date(2025, 3, 6), visibility="internal")
        moved = room.step("Pilot", date(2025, 3, 10))
    with time_machine.travel(utc(2025, 3, 6, 1, 0), tick=False):
        set_milestone_status(done, actor=Actor.buyer(room.buyer), status="done")
        update_milestone(
            moved,
            actor=Actor.seller(room.owner),
            expected_version=None,
            reason="Their IT needs a week",
            due_date=date(2025, 3, 17),
        )
        propose_date(
            room.plan.milestones.get(title="Legal review"),
            buyer=room.buyer,
            proposed_date=date(2025, 3, 20),
            reason="Counsel is away",
        )
    return room


def test_weekly_review_goes_to_ae_and_champion_on_the_review_weekday(tokyo):
    room = _review_plan(tokyo)

    with time_machine.travel(utc(2025, 3, 10, 1, 0), tick=False):  # Monday 10:00 in Tokyo
        sweep(decide_weekly_reviews)
    assert mail.outbox == []

    with time_machine.travel(utc(2025, 3, 11, 0, 5), tick=False):  # Tuesday 09:05 in Tokyo
        sweep(decide_weekly_reviews)
        sweep(decide_weekly_reviews)  # the next hourly run sends nothing again

    assert sorted(m.to[0] for m in mail.outbox) == ["ae@tokyo.test", room.buyer.email]
    ae_mail = outbox_to("ae@tokyo.test")[0]
    assert ae_mail.subject.startswith("Weekly review: Initech × Tokyo is ")
    body = ae_mail.body
    assert "Done since last week (1)" in body and "Kickoff call" in body
    assert "Due this week (2)" in body and "Legal review" in body and "Pilot" in body
    assert "Security questionnaire" in body and "4 days overdue" in body
    assert "Their IT needs a week" in body
    assert "Counsel is away" in body
    assert "Discount approval" in body  # internal: the AE sees it
    assert "Health: Off track" in body or "Health: At risk" in body


def test_weekly_review_of_champion_has_no_internal_steps_and_a_room_link(tokyo, client):
    room = _review_plan(tokyo)

    with time_machine.travel(utc(2025, 3, 11, 0, 5), tick=False):
        sweep(decide_weekly_reviews)
        champion_mail = outbox_to(room.buyer.email)[0]
        assert "Discount approval" not in champion_mail.body
        assert "Discount approval" not in html_of(champion_mail)
        [link] = [u for u in links_in(champion_mail.body) if u.startswith("/r/")]
        assert client.post(link).status_code == 302


# --- Stale plan -----------------------------------------------------------------------------


def test_stale_plan_alerts_ae_after_14_days_once_per_stale_period(tokyo):
    with time_machine.travel(utc(2025, 2, 20, 1, 0), tick=False):  # plan created (activity)
        room = Room(*tokyo)

    with time_machine.travel(utc(2025, 3, 6, 0, 30), tick=False):  # 13 days 23.5 hours later
        sweep(decide_stale_plans)
    assert mail.outbox == []

    with time_machine.travel(utc(2025, 3, 6, 1, 30), tick=False):  # 14 days later
        sweep(decide_stale_plans)
    with time_machine.travel(utc(2025, 3, 7, 2, 30), tick=False):  # still stale: no repeat
        sweep(decide_stale_plans)
    [alert] = outbox_to("ae@tokyo.test")
    assert alert.subject == "No activity on Initech for 14 days"
    notification = Notification.objects.get(kind=Kind.STALE_PLAN)
    assert notification.user == room.owner and "No activity" in notification.text

    # New activity starts a new period, which can go stale again.
    with time_machine.travel(utc(2025, 3, 7, 3, 0), tick=False):
        record_activity(
            room.plan, actor=Actor.seller(room.owner), verb=Activity.Verb.PLAN_EDITED, summary="x"
        )
    with time_machine.travel(utc(2025, 3, 21, 3, 30), tick=False):
        sweep(decide_stale_plans)
    assert len(outbox_to("ae@tokyo.test")) == 2


def test_stale_plan_ignores_archived_plans(tokyo):
    with time_machine.travel(utc(2025, 2, 20, 1, 0), tick=False):
        room = Room(*tokyo)
        room.plan.archived_at = utc(2025, 2, 20, 2, 0)
        room.plan.save()
    with time_machine.travel(utc(2025, 3, 6, 1, 30), tick=False):
        sweep(decide_stale_plans)
    assert mail.outbox == []


# --- Escalation -----------------------------------------------------------------------------


def test_escalation_after_7_days_overdue_notifies_the_ae_once(la):
    with time_machine.travel(utc(2025, 3, 1, 17, 0), tick=False):
        room = Room(*la)
        step = room.step("Security questionnaire returned", date(2025, 3, 4))
        room.step("Seller-side step", date(2025, 3, 4), buyer=False)
        room.step("Internal step", date(2025, 3, 4), visibility="internal")

    with time_machine.travel(utc(2025, 3, 10, 17, 0), tick=False):  # Monday: 6 days overdue
        sweep(decide_escalations)
    assert mail.outbox == []

    with time_machine.travel(utc(2025, 3, 11, 17, 0), tick=False):  # Tuesday: 7 days
        sweep(decide_escalations)
        sweep(decide_escalations)

    [message] = mail.outbox
    assert message.to == ["ae@la.test"]
    assert message.subject == "Overdue 7 days: Security questionnaire returned (Initech)"
    notification = Notification.objects.get(kind=Kind.ESCALATION)
    assert notification.milestone == step and notification.user == room.owner


def test_escalation_reaches_the_champion_only_when_the_workspace_enables_it(la):
    organization, owner = la
    with time_machine.travel(utc(2025, 3, 1, 17, 0), tick=False):
        room = Room(organization, owner)
        room.step("Security questionnaire returned", date(2025, 3, 4))
        other = Room(organization, owner, account="Hooli")
        other.step("MSA redlines", date(2025, 3, 4))
    organization.escalate_to_champion = True
    organization.save()

    with time_machine.travel(utc(2025, 3, 11, 17, 0), tick=False):
        sweep(decide_escalations)

    assert len(outbox_to("ae@la.test")) == 2
    [champion_mail] = outbox_to(room.buyer.email)
    assert "Hello Initech Champion" in champion_mail.body
    assert "/r/" in champion_mail.body
    assert len(outbox_to(other.buyer.email)) == 1


def test_escalation_not_for_steps_done_or_moved(la):
    with time_machine.travel(utc(2025, 3, 1, 17, 0), tick=False):
        room = Room(*la)
        room.step("Done", date(2025, 3, 4), status="done")
        room.step("Cancelled", date(2025, 3, 4), status="cancelled")
    with time_machine.travel(utc(2025, 3, 11, 17, 0), tick=False):
        sweep(decide_escalations)
    assert mail.outbox == []


# --- Unopened invitation --------------------------------------------------------------------


def test_unopened_invitation_gets_one_reminder_and_the_ae_is_told(la, client):
    with time_machine.travel(utc(2025, 3, 4, 17, 0), tick=False):  # invited Tuesday
        room = Room(*la)
        visited = Stakeholder.objects.create(
            organization=room.deal.organization,
            deal=room.deal,
            side="buyer",
            role="legal_reviewer",
            name="Lee Legal",
            email="lee@initech.test",
            invited_at=utc(2025, 3, 4, 17, 0),
            first_visit_at=utc(2025, 3, 5, 9, 0),
        )

    with time_machine.travel(utc(2025, 3, 7, 16, 30), tick=False):  # 2 days 23.5 hours
        sweep(decide_invitation_reminders)
    assert mail.outbox == []

    with time_machine.travel(utc(2025, 3, 7, 17, 30), tick=False):  # 3 days
        sweep(decide_invitation_reminders)
        sweep(decide_invitation_reminders)
        [reminder] = outbox_to(room.buyer.email)
        [link] = [u for u in links_in(reminder.body) if u.startswith("/r/")]
        assert client.get(link).status_code == 200

    assert reminder.subject == "Reminder: your deal room for Platform with La"
    assert outbox_to(visited.email) == []
    # The AE is told in-app, and by the batched email of seller notices.
    notice = Notification.objects.get(kind=Kind.INVITE_UNOPENED)
    assert notice.user == room.owner
    assert notice.text == (
        "Initech Champion (Initech) has not opened the deal room in 3 days; we sent them a reminder"
    )
    [told] = outbox_to("ae@la.test")
    assert told.subject == notice.text


def test_unopened_invitations_of_a_whole_committee_make_one_email_to_the_ae(la):
    with time_machine.travel(utc(2025, 3, 4, 17, 0), tick=False):
        room = Room(*la)
        for n in range(3):
            Stakeholder.objects.create(
                organization=room.deal.organization,
                deal=room.deal,
                side="buyer",
                role="buyer_other",
                name=f"Colleague {n}",
                email=f"colleague{n}@initech.test",
                invited_at=utc(2025, 3, 4, 17, 0),
            )
    with time_machine.travel(utc(2025, 3, 7, 17, 30), tick=False):
        sweep(decide_invitation_reminders)

    assert len(mail.outbox) == 4 + 1  # four reminders, one email to the AE
    [told] = outbox_to("ae@la.test")
    assert told.subject == "4 updates from your buyers"
    assert Notification.objects.filter(kind=Kind.INVITE_UNOPENED).count() == 4
