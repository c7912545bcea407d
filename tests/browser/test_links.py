"""In a real browser: the invalid-link page's button (a relative form action, so that the
token is not written in the page) reaches /r/<token>/request/ from the link and from an
act-from-email link; a signer asking for a second code at once is told when to ask again."""

from datetime import timedelta

import time_machine
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from stakeholders.services import issue_room_link, revoke_room_link

from .test_live_room import live_deal  # noqa: F401 - the fixture


def test_ask_for_a_new_link_from_a_revoked_link_and_an_act_link(page, live_deal):  # noqa: F811
    dana = live_deal.stakeholders.get(email="dana@initech.test")
    link, token = issue_room_link(dana)
    revoke_room_link(link)
    step = live_deal.plan.milestones.filter(visibility="shared").first()

    for url in (f"/r/{token}/", f"/r/{token}/act/{step.public_id}/done/"):
        page.goto(url)
        expect(page.get_by_role("heading", name="This link is no longer valid")).to_be_visible()
        expect(page.get_by_text("Sam Seller")).to_have_count(0)
        page.get_by_role("button", name="Ask for a new link").click()
        expect(page.get_by_role("heading", name="Request sent")).to_be_visible()

    # Twice asked, one email to the seller (at most one an hour per stakeholder).
    assert [m.to for m in mail.outbox] == [["sam@acme.test"]]
    # The invalid-link page answers 404 on purpose (Chromium logs the status as an error).
    assert [e for e in page.csp_errors if "status of 404" not in e] == []


def test_a_second_code_at_once_is_refused_with_the_time_to_ask_again(page, live_deal):  # noqa: F811
    eve = live_deal.stakeholders.get(email="eve@initech.test")
    _, token = issue_room_link(eve)
    page.goto(f"/r/{token}/")
    page.get_by_role("button", name="Open deal room").click()
    page.wait_for_url(f"**/room/{live_deal.public_id}/")

    # The room session is older than 10 minutes: signing needs an emailed code.
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        page.goto(f"/room/{live_deal.public_id}/sign/")
        expect(page.get_by_text("We send one code a minute, five an hour.")).to_be_visible()
        page.get_by_role("button", name="Email me a code").click()
        expect(page.get_by_text("We emailed a 6-digit code")).to_be_visible()
        page.get_by_role("button", name="Email me a code").click()
        expect(
            page.get_by_role("alert").filter(has_text="You can ask for a new code at")
        ).to_be_visible()

    assert len(mail.outbox) == 1
