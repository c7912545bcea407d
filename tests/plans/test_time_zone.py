"""Due, overdue and "days left" are judged by the workspace's calendar (its time zone), on
the seller's pages and in the buyer's room alike, as the reminders judge them."""

from datetime import UTC, date, datetime

import time_machine
from django.test import Client

from plans.models import Milestone, Plan
from tests.conftest import open_room
from tests.factories import add_buyer, make_deal, make_plan

# 03:00 UTC on 24 November is 19:00 on the 23rd in Los Angeles (Globex) and 03:00 on the
# 24th in London (Acme).
MOMENT = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)


def step_due_on_the_23rd(deal) -> Milestone:
    step = Milestone.objects.filter(plan__deal=deal, phase="close").order_by("position").first()
    step.due_date = date(2026, 11, 23)
    step.save()
    return step


def row(html: str, step: Milestone) -> str:
    start = html.index(f'id="milestone-{step.public_id}"')
    return html[start : html.index("</tr>", start)]


def test_a_step_due_yesterday_in_london_is_overdue_for_acme(client, alice):
    deal = make_deal(alice.memberships.get().organization, alice)
    make_plan(deal, target=date(2027, 3, 1))
    step = step_due_on_the_23rd(deal)
    client.force_login(alice)
    with time_machine.travel(MOMENT, tick=False):
        html = client.get(Plan.objects.get(deal=deal).get_absolute_url()).content.decode()

    assert "1 day overdue" in row(html, step)


def test_the_same_step_is_due_today_in_los_angeles_for_globex(client, charlie):
    deal = make_deal(charlie.memberships.get().organization, charlie)
    make_plan(deal, target=date(2027, 3, 1))
    step = step_due_on_the_23rd(deal)
    client.force_login(charlie)
    with time_machine.travel(MOMENT, tick=False):
        html = client.get(Plan.objects.get(deal=deal).get_absolute_url()).content.decode()

    assert "overdue" not in row(html, step)


def test_the_buyer_room_uses_the_workspace_calendar_too(charlie):
    deal = make_deal(charlie.memberships.get().organization, charlie)
    buyer = add_buyer(deal, name="Gus Buyer", email="gus@initrode.test")
    make_plan(deal, target=date(2027, 3, 1))
    step = step_due_on_the_23rd(deal)
    room = Client()
    with time_machine.travel(MOMENT, tick=False):
        open_room(room, buyer)
        html = room.get(f"/room/{deal.public_id}/").content.decode()

    assert step.title in html
    assert (
        "overdue" not in html[html.index(step.title) : html.index("</tr>", html.index(step.title))]
    )
