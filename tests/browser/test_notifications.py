"""A buyer acts from a digest's button; the seller's bell counts it, and they read it."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from plans.models import Milestone
from stakeholders.services import issue_room_link
from tests.factories import PASSWORD, add_buyer, make_deal, make_plan

from .conftest import sign_in


@pytest.fixture
def deal(transactional_db):
    from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

    acme = OrganizationFactory(name="Acme Software", slug="acme")
    seller = MembershipFactory(
        organization=acme, user=UserFactory(email="sam@acme.test", full_name="Sam Seller")
    ).user
    deal = make_deal(acme, seller)
    add_buyer(deal, name="Dana Buyer", email="dana@initech.test", role="champion")
    make_plan(deal, shared=True)
    return deal


def test_buyer_marks_done_from_email_and_seller_reads_the_notification(browser, live_server, deal):
    dana = deal.stakeholders.get(email="dana@initech.test")
    step = Milestone.objects.filter(plan__deal=deal, buyer_owner=dana).first()
    _, token = issue_room_link(dana)
    act_url = reverse(
        "room-act", kwargs={"token": token, "milestone_id": step.public_id, "action": "done"}
    )

    buyer = browser.new_context(base_url=live_server.url).new_page()
    buyer.goto(act_url)
    button = buyer.get_by_role("button", name=f"Mark “{step.title}” done")
    expect(button).to_be_visible()
    step.refresh_from_db()
    assert step.status == "not_started"  # opening the link changed nothing
    button.click()
    expect(buyer.get_by_text(f"“{step.title}” is marked done")).to_be_visible()
    expect(buyer.get_by_role("heading", name="Initech × Acme Software")).to_be_visible()

    seller = browser.new_context(base_url=live_server.url).new_page()
    errors = []
    seller.on("console", lambda message: message.type == "error" and errors.append(message.text))
    sign_in(seller, "sam@acme.test", PASSWORD)
    bell = seller.get_by_role("link", name="Notifications, 1 unread")
    expect(bell).to_be_visible()
    bell.click()
    expect(
        seller.get_by_role("link", name=f"Dana Buyer set “{step.title}” to done")
    ).to_be_visible()
    seller.get_by_role("button", name=f"Mark read: Dana Buyer set “{step.title}” to done").click()
    expect(seller.get_by_role("link", name="Notifications", exact=True)).to_be_visible()
    assert seller.csp_errors == [] if hasattr(seller, "csp_errors") else True
