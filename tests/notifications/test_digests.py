"""The daily owner digest: who gets what, and when, in each workspace's time zone."""

from datetime import date

import time_machine
from django.core import mail

from notifications.digests import decide_digests
from notifications.models import Kind, NotificationPreference, SentNotification
from plans.models import Milestone

from .conftest import MONDAY, Room, html_of, links_in, outbox_to, run_sweep, utc

TUESDAY = date(2025, 3, 11)
WEDNESDAY = date(2025, 3, 12)
THURSDAY = date(2025, 3, 13)


def run_digests():
    return run_sweep(deciders=(decide_digests,))


def test_digest_same_utc_instant_tokyo_not_yet_los_angeles_now(tokyo, la):
    # 22:30 UTC on Monday: 07:30 on Tuesday in Tokyo, 15:30 on Monday in Los Angeles.
    with time_machine.travel(utc(2025, 3, 10, 22, 30), tick=False):
        tokyo_room = Room(*tokyo, account="Sony")
        la_room = Room(*la, account="Initech")
        tokyo_room.step("Security review", MONDAY)
        la_room.step("Security review", MONDAY)

        run_digests()

        assert outbox_to("champion@sony.test") == []
        assert outbox_to("ae@tokyo.test") == []
        assert len(outbox_to("champion@initech.test")) == 1
        assert len(outbox_to("ae@la.test")) == 1

    # An hour later it is 08:30 in Tokyo: Tokyo's owners get theirs; LA's are not resent.
    with time_machine.travel(utc(2025, 3, 10, 23, 30), tick=False):
        run_digests()

    assert len(outbox_to("champion@sony.test")) == 1
    assert len(outbox_to("ae@tokyo.test")) == 1
    assert len(outbox_to("champion@initech.test")) == 1
    tokyo_row = SentNotification.objects.get(kind=Kind.DIGEST, recipient="ae@tokyo.test")
    la_row = SentNotification.objects.get(kind=Kind.DIGEST, recipient="ae@la.test")
    # Each workspace's own date: Tuesday in Tokyo, Monday in Los Angeles.
    assert (tokyo_row.period, la_row.period) == ("2025-03-11", "2025-03-10")


def test_digest_due_soon_window_follows_each_workspace_local_date(tokyo, la):
    # 23:30 UTC Monday: Tuesday in Tokyo (due soon until Thursday), Monday in LA (until Wed).
    with time_machine.travel(utc(2025, 3, 10, 23, 30), tick=False):
        tokyo_room = Room(*tokyo, account="Sony")
        la_room = Room(*la, account="Initech")
        tokyo_room.step("Legal review", THURSDAY)
        la_room.step("Legal review", THURSDAY)
        la_room.step("Pricing call", WEDNESDAY)

        run_digests()

    assert "Legal review" in outbox_to("ae@tokyo.test")[0].body
    la_digest = outbox_to("ae@la.test")[0].body
    assert "Pricing call" in la_digest and "Legal review" not in la_digest


def test_digest_lists_overdue_days_and_due_soon(la):
    with time_machine.travel(utc(2025, 3, 10, 16, 0), tick=False):  # 09:00 Monday in LA
        room = Room(*la)
        room.step("Security questionnaire returned", date(2025, 3, 5))
        room.step("Pricing call", TUESDAY)

        run_digests()

    [message] = outbox_to("ae@la.test")
    assert message.subject == "1 overdue, 1 due soon: your steps for Initech"
    assert "Security questionnaire returned" in message.body
    assert "5 days overdue" in message.body
    assert "Pricing call" in message.body


def test_digest_not_sent_at_weekends_and_monday_catches_up(la):
    saturday_morning = utc(2025, 3, 15, 17, 0)  # 10:00 Saturday in LA
    with time_machine.travel(saturday_morning, tick=False):
        room = Room(*la)
        room.step("Reference call", date(2025, 3, 15))
        run_digests()
        assert mail.outbox == []

    with time_machine.travel(utc(2025, 3, 16, 17, 0), tick=False):  # Sunday
        run_digests()
        assert mail.outbox == []

    with time_machine.travel(utc(2025, 3, 17, 15, 15), tick=False):  # 08:15 Monday
        run_digests()

    [message] = outbox_to("ae@la.test")
    assert "Reference call" in message.body and "2 days overdue" in message.body


def test_digest_on_friday_due_soon_reaches_over_the_weekend(la):
    with time_machine.travel(utc(2025, 3, 14, 16, 0), tick=False):  # 09:00 Friday in LA
        room = Room(*la)
        room.step("Due Tuesday", date(2025, 3, 18))  # 2 business days after Friday
        room.step("Due Wednesday", date(2025, 3, 19))

        run_digests()

    body = outbox_to("ae@la.test")[0].body
    assert "Due Tuesday" in body and "Due Wednesday" not in body


def test_digest_excludes_done_and_cancelled_steps(la):
    with time_machine.travel(utc(2025, 3, 10, 16, 0), tick=False):
        room = Room(*la)
        room.step("Open and overdue", date(2025, 3, 7))
        room.step("Done already", date(2025, 3, 7), status=Milestone.Status.DONE)
        room.step("Cancelled", date(2025, 3, 7), status=Milestone.Status.CANCELLED)

        run_digests()

    body = outbox_to("ae@la.test")[0].body
    assert "Open and overdue" in body
    assert "Done already" not in body and "Cancelled" not in body


def test_digest_not_sent_when_nothing_is_due(la):
    with time_machine.travel(utc(2025, 3, 10, 16, 0), tick=False):
        room = Room(*la)
        room.step("Far away", date(2025, 4, 30))
        room.step("Done", date(2025, 3, 3), status=Milestone.Status.DONE)

        run_digests()

    assert mail.outbox == []
    assert not SentNotification.objects.exists()


def test_digest_internal_steps_reach_sellers_only(la):
    with time_machine.travel(utc(2025, 3, 10, 16, 0), tick=False):
        room = Room(*la)
        room.step("Shared step", TUESDAY)
        room.step("Deal desk approval", TUESDAY, visibility="internal")

        run_digests()

    buyer_mail = outbox_to(room.buyer.email)[0]
    seller_mail = outbox_to("ae@la.test")[0]
    assert "Deal desk approval" in seller_mail.body and "(internal)" in seller_mail.body
    assert "Deal desk approval" not in buyer_mail.body
    assert "Deal desk approval" not in html_of(buyer_mail)
    assert "Shared step" in buyer_mail.body


def test_a_draft_plans_steps_reach_its_sellers_only(la):
    """A draft is not the buyers' yet (its champion may hold a link from before the plan was
    made): the digest tells the seller of its steps, not the buyer."""
    with time_machine.travel(utc(2025, 3, 10, 16, 0), tick=False):
        room = Room(*la, shared=False)
        room.step("Draft step", TUESDAY)

        run_digests()

    assert outbox_to(room.buyer.email) == []
    assert "Draft step" in outbox_to("ae@la.test")[0].body


def test_digest_buyer_link_opens_the_room_and_seller_link_the_plan(client, la):
    with time_machine.travel(utc(2025, 3, 10, 16, 0), tick=False):
        room = Room(*la)
        room.step("Security review", TUESDAY)
        run_digests()

        buyer_mail = outbox_to(room.buyer.email)[0]
        links = links_in(buyer_mail.body)
        room_link = next(link for link in links if "/act/" not in link and "/ics/" not in link)
        assert room_link.startswith("/r/")
        # The step's date: an .ics file through the same link, which it does not use up.
        ics = next(link for link in links if "/ics/" in link)
        calendar = client.get(ics)
        assert calendar["Content-Type"].startswith("text/calendar")
        assert b"SUMMARY:Security review" in calendar.content
        assert client.get(room_link).status_code == 200  # the landing page: changes nothing
        response = client.post(room_link)
        assert response.status_code == 302
        assert response["Location"] == f"/room/{room.deal.public_id}/"
        assert client.get(response["Location"]).status_code == 200
    assert buyer_mail.reply_to == ["ae@la.test"]

    seller_mail = outbox_to("ae@la.test")[0]
    assert f"http://testserver/o/la/deals/{room.deal.public_id}/" in seller_mail.body
    assert "/r/" not in seller_mail.body
    assert "http://testserver/o/la/milestones/" in seller_mail.body  # "add to calendar"


def test_digest_buyer_items_carry_mark_done_and_need_more_time(la):
    with time_machine.travel(utc(2025, 3, 10, 16, 0), tick=False):
        room = Room(*la)
        step = room.step("Security review", TUESDAY)
        run_digests()

    html = html_of(outbox_to(room.buyer.email)[0])
    assert f"/act/{step.public_id}/done/" in html and "Mark done" in html
    assert f"/act/{step.public_id}/more-time/" in html and "Need more time" in html


def test_digest_skips_unsubscribed_recipient(la):
    with time_machine.travel(utc(2025, 3, 10, 16, 0), tick=False):
        room = Room(*la)
        room.step("Security review", TUESDAY)
        NotificationPreference.objects.create(
            organization=room.deal.organization,
            email=room.buyer.email,
            kind=Kind.DIGEST,
            enabled=False,
        )

        run_digests()

    assert outbox_to(room.buyer.email) == []
    assert len(outbox_to("ae@la.test")) == 1


def test_digest_not_sent_to_buyer_never_invited(la):
    with time_machine.travel(utc(2025, 3, 10, 16, 0), tick=False):
        room = Room(*la)
        type(room.buyer).objects.filter(pk=room.buyer.pk).update(invited_at=None)
        room.step("Security review", TUESDAY)

        run_digests()

    assert outbox_to(room.buyer.email) == []
    assert len(outbox_to("ae@la.test")) == 1


def test_digest_ignores_archived_plans_and_closed_deals(la):
    with time_machine.travel(utc(2025, 3, 10, 16, 0), tick=False):
        archived = Room(*la, account="Archived")
        archived.step("Old step", MONDAY)
        archived.plan.archived_at = utc(2025, 3, 1)
        archived.plan.save()
        lost = Room(*la, account="Lost")
        lost.step("Lost step", MONDAY)
        lost.deal.stage = "closed_lost"
        lost.deal.save()

        run_digests()

    assert mail.outbox == []


def test_digest_is_one_email_per_person_across_deals(la):
    with time_machine.travel(utc(2025, 3, 10, 16, 0), tick=False):
        first = Room(*la, account="Initech")
        second = Room(*la, account="Hooli")
        first.step("Initech step", date(2025, 3, 7))
        second.step("Hooli step", TUESDAY)

        run_digests()

    [message] = outbox_to("ae@la.test")
    assert "Initech step" in message.body and "Hooli step" in message.body
    assert message.subject == "1 overdue, 1 due soon: your steps"


def test_digest_is_html_and_text_with_one_click_unsubscribe_headers(client, la):
    with time_machine.travel(utc(2025, 3, 10, 16, 0), tick=False):
        room = Room(*la)
        room.step("Security review", TUESDAY)
        run_digests()

    message = outbox_to(room.buyer.email)[0]
    assert "<html" in html_of(message) and "<html" not in message.body
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = message.extra_headers["List-Unsubscribe"].strip("<>")
    assert unsubscribe.startswith("http://testserver/u/")
    assert unsubscribe in message.body and unsubscribe in html_of(message)
    assert message.extra_headers["Message-ID"].startswith("<tandem.digest.")

    # A mail client's one-click POST, without session or CSRF token.
    csrf_client = client.__class__(enforce_csrf_checks=True)
    response = csrf_client.post(
        unsubscribe.removeprefix("http://testserver"), {"List-Unsubscribe": "One-Click"}
    )
    assert response.status_code == 200
    assert NotificationPreference.objects.get(email=room.buyer.email).enabled is False
