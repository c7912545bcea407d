"""Each region of the plan page (header, stakeholder panel, activity feed, timeline) shows each
kind of change on the next view. Every test views the page first, so the page is in the cache
(plans/page_cache.py) when the change happens; tests/plans/test_page_cache.py compares whole
pages with pages computed afresh."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from plans import evidence, services
from plans.models import Milestone, Plan
from plans.signing import signatures
from stakeholders import services as stakeholder_services
from stakeholders.actors import Actor
from stakeholders.models import Stakeholder
from tests.conftest import open_room


@pytest.fixture
def plan(acme_deal):
    return Plan.objects.select_related("deal", "deal__owner").get(deal=acme_deal)


@pytest.fixture
def seller(alice):
    return Actor.seller(alice)


def page(client, plan) -> str:
    response = client.get(plan.get_absolute_url())
    assert response.status_code == 200
    return response.content.decode()


def region(html: str, region_id: str) -> str:
    start = html.index(f'id="{region_id}"')
    # The header holds the signature block's <section>: it ends where the grid starts.
    end = "plan-grid" if region_id == "plan-header" else "</section>"
    return html[start : html.index(end, start)]


def first_step(plan) -> Milestone:
    return Milestone.objects.filter(plan=plan, phase="close").order_by("position").first()


def test_page_shows_a_step_edit(alice_client, plan, seller):
    page(alice_client, plan)
    step = first_step(plan)
    services.update_milestone(
        step, actor=seller, expected_version=step.version, title="Renamed kickoff call"
    )

    html = page(alice_client, plan)

    assert "Renamed kickoff call" in region(html, "timeline")
    assert "Renamed kickoff call" in region(html, "activity-feed")


def test_page_shows_a_status_change(alice_client, plan, seller):
    before = region(page(alice_client, plan), "plan-header")
    total = Milestone.objects.filter(plan=plan).count()
    assert f"0 of {total} steps done" in before

    services.set_milestone_status(first_step(plan), actor=seller, status="done")

    assert f"1 of {total} steps done" in region(page(alice_client, plan), "plan-header")


def test_page_shows_an_added_stakeholder(alice_client, plan, seller):
    page(alice_client, plan)
    stakeholder_services.add_stakeholder(
        plan.deal, actor=seller, name="Nora Newcomer", role="buyer_other", email="nora@x.test"
    )

    html = page(alice_client, plan)

    assert "Nora Newcomer" in region(html, "stakeholder-panel")


def test_page_shows_an_edited_stakeholder(alice_client, plan, seller, dana):
    page(alice_client, plan)
    stakeholder_services.update_stakeholder(dana, actor=seller, title="VP Operations")

    assert "VP Operations" in region(page(alice_client, plan), "stakeholder-panel")


def test_page_shows_a_renamed_signer_in_the_header(alice_client, plan, seller):
    page(alice_client, plan)
    eve = plan.deal.stakeholders.get(email="eve@initech.test")
    stakeholder_services.update_stakeholder(eve, actor=seller, name="Eve Renamed")

    assert "Eve Renamed" in region(page(alice_client, plan), "plan-header")


def test_page_shows_a_room_visit(alice_client, plan, dana):
    before = region(page(alice_client, plan), "stakeholder-panel")
    assert "Last visit" not in before

    open_room(Client(), dana)  # updates last_visit_at with QuerySet.update()

    assert "Last visit" in region(page(alice_client, plan), "stakeholder-panel")


def test_page_shows_a_comment_count(alice_client, plan):
    page(alice_client, plan)
    step = first_step(plan)
    services.add_comment(step, actor=Actor.seller(plan.deal.owner), body="Agenda attached")

    html = page(alice_client, plan)
    start = html.index(f'id="milestone-{step.public_id}"')
    row = html[start : html.index("</tr>", start)]
    assert "💬 1" in row


def test_page_shows_a_signature(alice_client, plan, seller):
    signatures.request_signatures(plan, actor=seller)
    page(alice_client, plan)
    eve = plan.deal.stakeholders.get(email="eve@initech.test")
    signatures.sign_plan(
        plan,
        signer=eve,
        typed_name=eve.name,
        consent=True,
        seen_hash=evidence.content_hash(plan),
        ip_address="127.0.0.1",
        user_agent="pytest",
        auth_method="test",
    )

    header = region(page(alice_client, plan), "plan-header")
    start = header.index("Eve Economic")
    assert "Signed" in header[start : header.index("</li>", start)]


def test_page_shows_new_activity(alice_client, plan, seller):
    page(alice_client, plan)
    services.record_activity(plan, actor=seller, verb="commented", summary="said hello to all")

    assert "said hello to all" in region(page(alice_client, plan), "activity-feed")


def test_feed_times_are_absolute_so_cached_html_stays_true(alice_client, plan, seller):
    moment = timezone.now().replace(hour=9, minute=41, second=0, microsecond=0)
    with time_machine.travel(moment, tick=False):
        services.record_activity(plan, actor=seller, verb="commented", summary="timed entry")
        first = region(page(alice_client, plan), "activity-feed")
    with time_machine.travel(moment + timedelta(hours=5), tick=False):
        later = region(page(alice_client, plan), "activity-feed")

    # The moment in full in the workspace's time zone (Acme: Europe/London, GMT in
    # November), the same hours later; app.js shows it relative in the browser.
    expected = f'datetime="{moment.isoformat()}" data-relative>{moment:%-d %b %Y}, 09:41 GMT<'
    assert expected in first
    assert expected in later


def test_page_shows_sign_plan_only_to_the_signer(alice_client, bob, plan, seller):
    signatures.request_signatures(plan, actor=seller)
    ae = plan.deal.stakeholders.filter(role="ae").first()
    if ae is None or ae.user_id != plan.deal.owner_id:
        pytest.skip("the demo deal has no AE signer linked to alice")
    assert "Sign plan" in region(page(alice_client, plan), "plan-header")

    bob_client = Client()
    bob_client.force_login(bob)

    assert "Sign plan" not in region(page(bob_client, plan), "plan-header")
    assert "Sign plan" in region(page(alice_client, plan), "plan-header")


def test_page_puts_this_requests_csrf_token_in(plan, alice, bob):
    clients = []
    for user in (alice, bob):
        client = Client()
        client.force_login(user)
        clients.append(client)
    for client in clients:  # the second one is served from the cache
        html = page(client, plan)
        assert "csrf-placeholder" not in html
        tokens = re.findall(
            r'name="csrfmiddlewaretoken" value="(\w+)"', region(html, "plan-header")
        )
        assert tokens
        # Every form's token is a mask of this client's secret (Django unmasks and compares).
        secret = client.cookies["csrftoken"].value
        assert all(_unmask(token) == secret for token in tokens)


def _unmask(token: str) -> str:
    from django.middleware.csrf import _unmask_cipher_token

    return _unmask_cipher_token(token)


def test_page_shows_a_removed_stakeholder(alice_client, plan, seller, dana):
    assert dana.name in region(page(alice_client, plan), "stakeholder-panel")
    stakeholder_services.remove_stakeholder(Stakeholder.objects.get(pk=dana.pk), actor=seller)

    assert dana.name not in region(page(alice_client, plan), "stakeholder-panel")
