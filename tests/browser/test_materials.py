"""Shared materials in a real browser: the seller adds a section and a PDF from the plan
page; the buyer reads it in the room's pdf.js viewer while the clock moves forward, and the
viewer's beacons reach the seller's engagement figures; the buyer adds their own file to
the section opened for them."""

import re

import pytest
import time_machine
from django.utils import timezone
from playwright.sync_api import expect

from plans import materials
from plans.models import Resource, ResourceView
from stakeholders.actors import Actor
from stakeholders.services import issue_room_link
from tests.factories import PASSWORD, add_buyer, make_deal, make_plan

from .conftest import sign_in


def two_page_pdf() -> bytes:
    from weasyprint import HTML

    html = (
        "<h1>Proposal</h1><p>Scope and price.</p>"
        '<h1 style="page-break-before: always">Security</h1><p>SOC 2 Type II.</p>'
    )
    return HTML(string=html).write_pdf()


@pytest.fixture
def deal(transactional_db):
    from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

    acme = OrganizationFactory(name="Acme Software", slug="acme")
    seller = MembershipFactory(
        organization=acme,
        user=UserFactory(email="sam@acme.test", full_name="Sam Seller"),
        role="admin",
    ).user
    deal = make_deal(acme, seller, account_name="Initech")
    add_buyer(deal, name="Dana Buyer", email="dana@initech.test", role="champion")
    make_plan(deal, shared=True)
    return deal


def test_seller_adds_a_pdf_and_the_buyers_reading_time_reaches_the_seller(
    page, browser, live_server, deal, tmp_path, request
):
    # The seller: a section, then a PDF in it, from the plan page.
    sign_in(page, "sam@acme.test", PASSWORD)
    page.goto(deal.get_absolute_url())
    materials_region = page.get_by_role("region", name="Materials")
    materials_region.get_by_text("Add a section", exact=True).click()
    materials_region.get_by_label("Section name").fill("Proposal")
    materials_region.get_by_role("button", name="Add section").click()
    expect(materials_region.get_by_role("heading", name="Proposal")).to_be_visible()
    pdf_path = tmp_path / "proposal.pdf"
    pdf_path.write_bytes(two_page_pdf())
    materials_region.get_by_text("Add a file", exact=True).click()
    materials_region.get_by_label(re.compile(r"^File")).set_input_files(str(pdf_path))
    materials_region.get_by_label("Title").first.fill("Our proposal")
    materials_region.get_by_role("button", name="Add file").click()
    expect(materials_region.get_by_role("link", name="Our proposal")).to_be_visible()
    expect(materials_region.get_by_text("Not opened yet")).to_be_visible()
    resource = Resource.objects.get(title="Our proposal")

    # The buyer, in their own browser, with a clock the test moves.
    dana = deal.stakeholders.get(email="dana@initech.test")
    _, token = issue_room_link(dana)
    buyer_context = browser.new_context(base_url=live_server.url)
    buyer_context.set_default_timeout(10_000)
    buyer = buyer_context.new_page()
    errors = []
    buyer.on("console", lambda m: m.type == "error" and errors.append(m.text))
    buyer.clock.install()
    # The server's clock moves with the browser's: it bounds the time a beacon may claim
    # by the time since the opening.
    server_clock = time_machine.travel(timezone.now(), tick=True)
    traveller = server_clock.start()
    request.addfinalizer(server_clock.stop)
    buyer.goto(f"/r/{token}/")
    buyer.get_by_role("button", name="Open deal room").click()
    room_materials = buyer.get_by_role("region", name="Materials")
    room_materials.get_by_role("link", name="Our proposal", exact=True).click()
    viewer = buyer.locator("#pdf-viewer")
    expect(viewer.locator("output")).to_have_text("Page 1 of 2")
    expect(viewer.get_by_role("img", name="Page 1")).to_be_visible()
    traveller.shift(20)
    with buyer.expect_response(re.compile(r"/materials/views/.+/time/$")) as beacon:
        buyer.clock.run_for("00:20")
    assert beacon.value.request.method == "POST" and beacon.value.status == 204
    buyer.get_by_role("button", name="Next page").click()
    expect(viewer.locator("output")).to_have_text("Page 2 of 2")
    traveller.shift(20)
    with buyer.expect_response(re.compile(r"/materials/views/.+/time/$")):
        buyer.clock.run_for("00:20")
    buyer.evaluate("window.tandemPdfViewer.flush()")
    view = ResourceView.objects.get(resource=resource)
    for _ in range(20):
        view.refresh_from_db()
        if view.pages.get("2"):
            break
        buyer.wait_for_timeout(100)
    assert view.kind == "viewer" and view.stakeholder == dana
    assert view.pages.get("1", 0) >= 15 and view.pages.get("2", 0) >= 10, view.pages
    # Time moved forward 40 s; the server counted no more than the clock allows.
    assert view.seconds <= (view.last_seen_at - view.started_at).total_seconds() + 5
    assert errors == []
    buyer_context.close()

    # The seller sees who read what, per page.
    page.goto(f"/o/acme/materials/{resource.public_id}/")
    engagement = page.get_by_role("region", name="Engagement")
    expect(engagement.get_by_role("cell", name="Dana Buyer")).to_be_visible()
    expect(page.get_by_role("table", name="Time per page")).to_be_visible()


def test_the_buyer_adds_a_file_to_the_section_opened_for_them(page, deal, tmp_path):
    plan = deal.plan
    seller = Actor.seller(deal.owner)
    materials.add_section(plan, actor=seller, title="Your documents", buyer_uploads=True)
    _, token = issue_room_link(deal.stakeholders.get(email="dana@initech.test"))
    page.goto(f"/r/{token}/")
    page.get_by_role("button", name="Open deal room").click()
    upload = page.get_by_role("form", name="Add a file to Your documents")
    nda = tmp_path / "signed-nda.pdf"
    nda.write_bytes(two_page_pdf())
    upload.get_by_label("Add a file to Your documents").set_input_files(str(nda))
    upload.get_by_label("Title").fill("Signed NDA")
    upload.get_by_role("button", name="Upload").click()
    room_materials = page.get_by_role("region", name="Materials")
    expect(room_materials.get_by_role("link", name="Signed NDA", exact=True)).to_be_visible()
    expect(room_materials.get_by_text("added by Dana Buyer")).to_be_visible()
    # A file that is not accepted: the reason next to the field, nothing added.
    bad = tmp_path / "tool.exe"
    bad.write_bytes(b"MZ\x90\x00" * 64)
    upload = page.get_by_role("form", name="Add a file to Your documents")
    upload.get_by_label("Add a file to Your documents").set_input_files(str(bad))
    upload.get_by_role("button", name="Upload").click()
    expect(page.get_by_text("This type of file is not accepted")).to_be_visible()
    assert Resource.objects.filter(side="buyer").count() == 1


def test_the_seller_imports_a_spreadsheet_and_sees_the_plan(page, deal):
    """A sample MAP spreadsheet (tests/fixtures/sample-map.xlsx: a title row, the usual
    "Milestone | Owner (Buyer / Seller) | Due Date | Status | Notes" layout, a vague date, an
    unknown person) uploaded, previewed and imported from the plan page."""
    from pathlib import Path

    sample = Path(__file__).resolve().parent.parent / "fixtures" / "sample-map.xlsx"
    sign_in(page, "sam@acme.test", PASSWORD)
    page.goto(deal.get_absolute_url())
    page.get_by_role("button", name="Import steps").click()
    page.get_by_label("Spreadsheet (CSV or XLSX)").set_input_files(str(sample))
    page.get_by_role("button", name="Preview the import").click()
    expect(page.get_by_role("heading", name="Import from sample-map.xlsx")).to_be_visible()
    expect(page.get_by_text("not a precise date")).to_be_visible()
    expect(page.get_by_text("Pat Procurement").first).to_be_visible()
    page.get_by_role("button", name=re.compile(r"^Import 5 steps")).click()
    expect(page.get_by_text(re.compile(r"5 step\(s\) added"))).to_be_visible()
    table = page.get_by_role("region", name="Milestones")
    expect(table.get_by_text("Security questionnaire", exact=True)).to_be_visible()
    expect(table.get_by_text("Procurement onboarding", exact=True)).to_be_visible()
    step = deal.plan.milestones.get(title="Procurement onboarding")
    assert step.buyer_owner.name == "Pat Procurement"
    assert str(step.due_date) == "2031-02-10"
