"""Two browsers, one plan: the seller's page and the buyer's room see each other's edits."""

import time

import pytest
from playwright.sync_api import expect

from plans.models import Milestone
from stakeholders.services import issue_room_link
from tests.factories import PASSWORD, add_buyer, make_deal, make_plan

from .conftest import sign_in

SSE_PROBE = "document.addEventListener('htmx:sseOpen', () => { window.__sseOpen = true; });"


@pytest.fixture
def live_deal(transactional_db):
    from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

    acme = OrganizationFactory(name="Acme Software", slug="acme")
    seller = MembershipFactory(
        organization=acme, user=UserFactory(email="sam@acme.test", full_name="Sam Seller")
    ).user
    deal = make_deal(acme, seller)
    add_buyer(deal, name="Dana Buyer", email="dana@initech.test", role="champion")
    add_buyer(deal, name="Eve Economic", email="eve@initech.test", role="economic_buyer")
    make_plan(deal, shared=True)
    return deal


def open_seller_page(browser, live_server, deal):
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(10_000)
    context.add_init_script(SSE_PROBE)
    page = context.new_page()
    sign_in(page, "sam@acme.test", PASSWORD)
    page.goto(deal.get_absolute_url())
    return page


def open_buyer_room(browser, live_server, stakeholder):
    _, token = issue_room_link(stakeholder)
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(10_000)
    context.add_init_script(SSE_PROBE)
    page = context.new_page()
    page.goto(f"/r/{token}/")
    page.get_by_role("button", name="Open deal room").click()
    expect(page.get_by_role("heading", name="Milestones")).to_be_visible()
    return page


def wait_for_stream(page):
    # The page is live once htmx reports its event stream open.
    page.wait_for_function("() => window.__sseOpen === true")


def test_buyer_and_seller_see_each_others_edits_live(browser, live_server, live_deal):
    dana = live_deal.stakeholders.get(email="dana@initech.test")
    step = Milestone.objects.filter(plan__deal=live_deal, buyer_owner=dana).first()
    seller = open_seller_page(browser, live_server, live_deal)
    buyer = open_buyer_room(browser, live_server, dana)
    wait_for_stream(seller)
    wait_for_stream(buyer)

    # The buyer checks off a step: the seller's open page shows it within 1 s.
    started = time.monotonic()
    buyer.get_by_label(f"Status of {step.title}").select_option("done")
    expect(seller.get_by_label(f"Status of {step.title}")).to_have_value("done", timeout=1000)
    buyer_to_seller = time.monotonic() - started

    # The seller renames a step: the buyer sees the new title within 1 s.
    seller.get_by_role("button", name=f"Edit {step.title}").click()
    form = seller.get_by_role("form", name=f"Edit {step.title}")
    form.get_by_label("Title").fill("Business case signed off")
    started = time.monotonic()
    form.get_by_role("button", name="Save").click()
    # (The timeline draws the title too; the plan's table is where the step is read.)
    plan_table = buyer.get_by_role("table", name="Close plan")
    expect(plan_table.get_by_text("Business case signed off", exact=True)).to_be_visible(
        timeout=1000
    )
    seller_to_buyer = time.monotonic() - started

    assert buyer_to_seller < 1 and seller_to_buyer < 1


def test_second_editor_sees_conflict_instead_of_overwriting(browser, live_server, live_deal):
    step = Milestone.objects.filter(plan__deal=live_deal).first()
    first = open_seller_page(browser, live_server, live_deal)
    second = open_seller_page(browser, live_server, live_deal)
    forms = []
    for page in (first, second):
        page.get_by_role("button", name=f"Edit {step.title}").click()
        forms.append(page.get_by_role("form", name=f"Edit {step.title}"))
        expect(forms[-1].get_by_label("Title")).to_be_visible()

    forms[0].get_by_label("Title").fill("Title from first")
    forms[0].get_by_role("button", name="Save").click()
    expect(first.get_by_role("button", name="Edit Title from first")).to_be_visible()
    forms[1].get_by_label("Title").fill("Title from second")
    forms[1].get_by_role("button", name="Save").click()

    alert = second.get_by_role("alert")
    expect(alert).to_contain_text("Someone else changed this step")
    expect(alert).to_contain_text("Title from first")
    expect(alert).to_contain_text("Title from second")
    step.refresh_from_db()
    assert step.title == "Title from first"


def test_open_page_refreshes_when_the_server_says_events_were_missed(
    browser, live_server, live_deal, monkeypatch
):
    # When an events process gets its Redis subscription back after an outage, it tells its
    # open streams `refresh` (plans/live.py: Hub.refresh_all): what was published meanwhile
    # never reached them, and the page refetches its live regions.
    from plans import live, services
    from stakeholders.actors import Actor

    step = Milestone.objects.filter(plan__deal=live_deal).order_by("phase", "position").first()
    seller = open_seller_page(browser, live_server, live_deal)
    wait_for_stream(seller)
    status = seller.get_by_label(f"Status of {step.title}")

    with monkeypatch.context() as lost:
        lost.setattr(live, "publish", lambda *args, **kwargs: None)
        services.set_milestone_status(step, actor=Actor.seller(live_deal.owner), status="done")
    seller.wait_for_timeout(500)
    expect(status).not_to_have_value("done")

    live.hub.refresh_all()
    expect(status).to_have_value("done", timeout=3000)
    seller.context.close()


def test_pushed_fragments_show_each_viewer_only_their_own_actions(browser, live_server, live_deal):
    """A change pushes one header and one people panel to every page of an audience; each
    page shows "Sign plan", "Edit your details" and the invitation form only to whom they
    belong, and the pushed forms carry the page's own CSRF token."""
    from plans.signing.signatures import request_signatures
    from stakeholders.actors import Actor
    from stakeholders.services import add_stakeholder
    from tests.factories import MembershipFactory, UserFactory

    MembershipFactory(
        organization=live_deal.organization,
        user=UserFactory(email="olga@acme.test", full_name="Olga Other"),
    )
    dana = live_deal.stakeholders.get(email="dana@initech.test")
    eve = live_deal.stakeholders.get(email="eve@initech.test")
    sam = open_seller_page(browser, live_server, live_deal)
    olga_context = browser.new_context(base_url=live_server.url)
    olga_context.add_init_script(SSE_PROBE)
    olga = olga_context.new_page()
    sign_in(olga, "olga@acme.test", PASSWORD)
    olga.goto(live_deal.get_absolute_url())
    dana_room, eve_room = (open_buyer_room(browser, live_server, s) for s in (dana, eve))
    pages = (sam, olga, dana_room, eve_room)
    for page in pages:
        wait_for_stream(page)
    # The signers (the AE and the economic buyer) may sign from the start.
    expect(sam.get_by_role("button", name="Sign plan")).to_be_visible()
    expect(olga.get_by_role("button", name="Sign plan")).to_have_count(0)

    owner = Actor.seller(live_deal.owner)
    request_signatures(live_deal.plan, actor=owner)
    add_stakeholder(
        live_deal, actor=owner, name="Ivan Initech", role="influencer", email="ivan@initech.test"
    )

    # Pushed to every page: the header (signatures asked) and the people panel (Ivan added).
    for page in (dana_room, eve_room):
        expect(page.get_by_text("Ivan Initech", exact=True)).to_be_visible()
    expect(
        olga.locator("#stakeholder-panel").get_by_text("Ivan Initech", exact=True)
    ).to_be_visible()
    expect(sam.get_by_text("Pending").first).to_be_visible()
    expect(sam.get_by_role("button", name="Sign plan")).to_be_visible()
    expect(eve_room.get_by_role("button", name="Sign plan")).to_be_visible()
    expect(olga.get_by_role("button", name="Sign plan")).to_have_count(0)
    expect(dana_room.get_by_role("button", name="Sign plan")).to_have_count(0)
    for page in (dana_room, eve_room):
        expect(page.get_by_role("link", name="Edit your details")).to_have_count(1)
    expect(dana_room.get_by_text("Invite a colleague")).to_be_visible()
    expect(eve_room.get_by_text("Invite a colleague")).not_to_be_visible()

    # A plain form of the pushed header posts with this page's token (no 403).
    with sam.expect_response(lambda r: r.request.method == "POST") as posted:
        sam.get_by_role("button", name="Send for signature").click()
    assert posted.value.status in (200, 302, 303), posted.value.status
    for page in pages:
        page.context.close()


def test_a_change_committed_before_the_pages_stream_started_shows(
    browser, live_server, live_deal, monkeypatch
):
    """The page was drawn, then a change was committed and pushed before the page's stream
    subscribed: the stream starts with the deal's revision, newer than the page's, and the
    page refetches its regions."""
    from plans import live, services
    from stakeholders.actors import Actor

    step = Milestone.objects.filter(plan__deal=live_deal).order_by("phase", "position").first()
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(10_000)
    context.add_init_script(SSE_PROBE)
    seller = context.new_page()
    sign_in(seller, "sam@acme.test", PASSWORD)
    held = []
    seller.route("**/events/plans/**", lambda route: held.append(route))
    seller.goto(live_deal.get_absolute_url())
    status = seller.get_by_label(f"Status of {step.title}")
    expect(status).to_be_visible()
    seller.wait_for_timeout(300)
    assert held, "the page opened no stream"

    with monkeypatch.context() as unheard:  # pushed before this page's stream subscribed
        unheard.setattr(live, "publish", lambda *args, **kwargs: None)
        services.set_milestone_status(step, actor=Actor.seller(live_deal.owner), status="done")
    seller.wait_for_timeout(300)
    expect(status).not_to_have_value("done")

    held[0].continue_()
    wait_for_stream(seller)
    expect(status).to_have_value("done", timeout=3000)
    context.close()


def test_a_page_whose_stream_is_not_open_refreshes_after_its_own_change(
    browser, live_server, live_deal
):
    """Its own change reaches a page through its stream; without one (a proxy that drops
    it, a reconnect under way) the page refetches its regions after the change."""
    step = Milestone.objects.filter(plan__deal=live_deal).order_by("phase", "position").first()
    total = Milestone.objects.filter(plan__deal=live_deal).count()
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(10_000)
    seller = context.new_page()
    sign_in(seller, "sam@acme.test", PASSWORD)
    seller.route("**/events/plans/**", lambda route: route.abort())
    seller.goto(live_deal.get_absolute_url())
    expect(seller.get_by_text(f"0 of {total} steps done")).to_be_visible()

    seller.get_by_label(f"Status of {step.title}").select_option("done")

    expect(seller.get_by_text(f"1 of {total} steps done")).to_be_visible(timeout=3000)
    context.close()
