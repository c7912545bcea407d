"""Calendar feeds (plans/calendars.py): what each feed holds, parsed back with icalendar
and with `ics` (an independent parser); stable UIDs, SEQUENCE after a date move, cancelled
steps, ETag and 304; who may read a feed and when it stops; single-step .ics; isolation."""

import re
from datetime import timedelta

import ics
import pytest
from django.test import Client
from django.urls import reverse
from icalendar import Calendar

from deals.models import Deal, Membership
from plans import calendars, services
from plans.models import CalendarFeed, Milestone, Plan
from stakeholders.actors import Actor
from stakeholders.models import RoomLink
from tests.conftest import open_room
from tests.factories import MilestoneFactory
from tests.helpers import url


def feed_token(response) -> str:
    match = re.search(r"/cal/([A-Za-z0-9_-]+)\.ics", response.content.decode())
    assert match, response.content[:500]
    return match.group(1)


def events(body: bytes) -> dict:
    """UID → event, read by icalendar; the same calendar must parse with `ics` too."""
    parsed = Calendar.from_ical(body)
    independent = ics.Calendar(body.decode())
    found = {str(e["uid"]): e for e in parsed.walk("VEVENT")}
    assert {e.uid for e in independent.events} == set(found)
    return found


@pytest.fixture
def plan(acme_deal):
    return Plan.objects.get(deal=acme_deal)


def test_a_plan_feed_holds_every_dated_step_as_an_all_day_event(alice_client, plan):
    internal = plan.milestones.first()
    Milestone.objects.filter(pk=internal.pk).update(visibility="internal")
    response = alice_client.post(url("plans:calendars"), {"deal": plan.deal.public_id})
    assert response.status_code == 201
    token = feed_token(response)
    assert token not in CalendarFeed.objects.get().token_hash
    feed = Client().get(f"/cal/{token}.ics")
    assert feed.status_code == 200 and feed["Content-Type"].startswith("text/calendar")
    found = events(feed.content)
    dated = plan.milestones.exclude(due_date=None)
    assert set(found) == {f"step-{m.public_id}@tandem" for m in dated}
    step = dated.order_by("due_date").first()
    event = found[f"step-{step.public_id}@tandem"]
    assert event.decoded("dtstart") == step.due_date
    assert event.decoded("dtend") == step.due_date + timedelta(days=1)
    assert str(event["summary"]) == f"{step.title} — {plan.deal.account_name}"
    assert "Owner (Initech)" in str(event["description"])
    assert str(event["status"]) == "CONFIRMED" and int(event["sequence"]) == 0
    # Stable across requests; the same bytes answer If-None-Match with 304.
    again = Client().get(f"/cal/{token}.ics")
    assert again.content == feed.content
    assert Client().get(f"/cal/{token}.ics", HTTP_IF_NONE_MATCH=feed["ETag"]).status_code == 304


def test_a_date_move_raises_the_sequence_and_a_cancelled_step_stays(alice, plan):
    _, token = calendars.create_feed(plan.organization, "plan", plan=plan, user=alice)
    step = plan.milestones.exclude(due_date=None).order_by("due_date").first()
    before = Client().get(f"/cal/{token}.ics")
    services.update_milestone(
        step,
        actor=Actor.seller(alice),
        expected_version=step.version,
        due_date=step.due_date - timedelta(days=2),
        reason="Pulled in",
    )
    after = Client().get(f"/cal/{token}.ics", HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200
    event = events(after.content)[f"step-{step.public_id}@tandem"]
    assert int(event["sequence"]) == 1
    assert event.decoded("dtstart") == step.due_date - timedelta(days=2)
    Milestone.objects.filter(pk=step.pk).update(status="cancelled")
    event = events(Client().get(f"/cal/{token}.ics").content)[f"step-{step.public_id}@tandem"]
    assert str(event["status"]) == "CANCELLED"


def test_a_buyers_feed_shows_their_shared_steps_only_while_they_may_enter(
    client, acme_deal, dana, plan
):
    open_room(client, dana)
    mine = plan.milestones.filter(buyer_owner=dana).exclude(due_date=None)
    hidden = mine.first()
    Milestone.objects.filter(pk=hidden.pk).update(visibility="internal")
    response = client.post(reverse("room-calendar", kwargs={"deal_id": acme_deal.public_id}))
    token = feed_token(response)
    found = events(Client().get(f"/cal/{token}.ics").content)
    expected = {f"step-{m.public_id}@tandem" for m in mine.exclude(pk=hidden.pk)}
    assert set(found) == expected and expected
    link = next(iter(found.values()))["url"]
    assert f"/room/{acme_deal.public_id}/" in str(link)
    # Revoking the buyer's access revokes the feed; a closed room too.
    RoomLink.objects.filter(stakeholder=dana).update(revoked_at=plan.created_at)
    assert Client().get(f"/cal/{token}.ics").status_code == 404
    RoomLink.objects.filter(stakeholder=dana).update(revoked_at=None)
    assert Client().get(f"/cal/{token}.ics").status_code == 200
    Deal.objects.filter(pk=acme_deal.pk).update(room_closes_at=plan.created_at)
    assert Client().get(f"/cal/{token}.ics").status_code == 404


def test_a_sellers_feed_holds_their_steps_across_deals_of_the_workspace(
    alice_client, alice, acme_deal, plan, globex_room_deal
):
    response = alice_client.post(url("plans:calendars"))
    token = feed_token(response)
    found = events(Client().get(f"/cal/{token}.ics").content)
    owned = Milestone.objects.filter(seller_owner__user=alice).exclude(due_date=None)
    assert set(found) == {f"step-{m.public_id}@tandem" for m in owned} and owned.exists()
    other = {f"step-{m.public_id}@tandem" for m in globex_room_deal.plan.milestones.all()}
    assert not other & set(found)
    # Out of the workspace, out of its feeds.
    Membership.objects.filter(user=alice).delete()
    assert Client().get(f"/cal/{token}.ics").status_code == 404


def test_a_revoked_or_unknown_feed_is_404_and_only_its_maker_revokes_it(
    alice_client, alice, bob, plan
):
    feed, token = calendars.create_feed(plan.organization, "plan", plan=plan, user=alice)
    bobs = Client()
    bobs.force_login(bob)
    revoke = url("plans:calendar-revoke", feed_id=feed.public_id)
    assert bobs.post(revoke).status_code == 404
    assert Client().get(f"/cal/{token}.ics").status_code == 200
    alice_client.post(revoke)
    assert Client().get(f"/cal/{token}.ics").status_code == 404
    assert Client().get("/cal/not-a-real-token-at-all-0123456789.ics").status_code == 404
    page = alice_client.get(url("plans:calendars")).content.decode()
    assert "Revoke the feed" not in page


def test_a_feed_costs_the_same_queries_whatever_its_steps(
    alice, plan, django_assert_num_queries, django_assert_max_num_queries
):
    _, token = calendars.create_feed(plan.organization, "plan", plan=plan, user=alice)
    client = Client()
    client.get(f"/cal/{token}.ics")
    with django_assert_max_num_queries(20) as few:
        client.get(f"/cal/{token}.ics")
    for i in range(40):
        MilestoneFactory(plan=plan, position=100 + i, due_date=plan.target_signature_date)
    with django_assert_num_queries(len(few.captured_queries)):
        body = client.get(f"/cal/{token}.ics").content
    assert body.count(b"BEGIN:VEVENT") >= 40


def test_one_step_as_an_ics_file_for_sellers_and_buyers(alice_client, dana_client, plan, charlie):
    step = plan.milestones.exclude(due_date=None).filter(visibility="shared").first()
    seller = alice_client.get(url("plans:milestone-ics", milestone_id=step.public_id))
    assert seller["Content-Disposition"] == 'attachment; filename="step.ics"'
    assert set(events(seller.content)) == {f"step-{step.public_id}@tandem"}
    room = reverse(
        "room-step-ics", kwargs={"deal_id": plan.deal.public_id, "milestone_id": step.public_id}
    )
    assert set(events(dana_client.get(room).content)) == {f"step-{step.public_id}@tandem"}
    Milestone.objects.filter(pk=step.pk).update(visibility="internal")
    assert dana_client.get(room).status_code == 404
    other = Client()
    other.force_login(charlie)
    for org in ("globex", "acme"):
        path = url("plans:milestone-ics", org_slug=org, milestone_id=step.public_id)
        assert other.get(path).status_code == 404


def test_feed_tokens_are_redacted_from_logs():
    from config.secret_urls import redact

    assert redact("GET /cal/abcdefghijklmnopqrstuvwxyz0123.ics") == "GET /cal/[redacted]"


def test_calendar_services_may_poll_but_guessing_is_limited(alice, plan):
    _, token = calendars.create_feed(plan.organization, "plan", plan=plan, user=alice)
    poller = Client()
    for _ in range(30):  # more than the budget of link attempts: only misses count
        assert poller.get(f"/cal/{token}.ics").status_code == 200
    statuses = [
        poller.get(f"/cal/guessed-token-number-{i:04d}-abcdefgh.ics").status_code for i in range(25)
    ]
    assert statuses[:20] == [404] * 20 and statuses[-1] == 429
