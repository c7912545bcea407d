"""A phone's width (375 px): no page scrolls sideways, the buyer's room and the seller's
pages alike (issue: the room as the buyer's home)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import expect

from plans import materials
from plans.models import Resource
from plans.services import add_comment, add_milestone
from stakeholders.actors import Actor
from stakeholders.services import issue_room_link
from tests.factories import PASSWORD, add_buyer, make_deal, make_plan

from .conftest import sign_in
from .test_materials import two_page_pdf

PHONE = {"width": 375, "height": 812}

# The widest elements when a page is wider than the screen: named in the failure.
OVERFLOW = """() => {
  const limit = 375;
  const wide = [];
  const scrolls = (element) => {
    for (let up = element.parentElement; up && up !== document.body; up = up.parentElement) {
      if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(up).overflowX)) return true;
    }
    return false;
  };
  for (const element of document.querySelectorAll('body *')) {
    if (scrolls(element)) continue;  // inside a box of its own that scrolls (a wide table)
    const box = element.getBoundingClientRect();
    if (box.right > limit + 0.5 && box.width > 0) {
      const parent = element.parentElement.getBoundingClientRect();
      if (parent.right <= limit + 0.5 || element.parentElement === document.body) {
        const name = `${element.tagName.toLowerCase()}#${element.id}.${element.className}`;
        wide.push(`${name} ${Math.round(box.right)}px`);
      }
    }
  }
  const scrollWidth = document.documentElement.scrollWidth;
  return {scrollWidth, innerWidth: window.innerWidth, wide: wide.slice(0, 8)};
}"""


def assert_fits(page):
    found = page.evaluate(OVERFLOW)
    assert found["scrollWidth"] <= PHONE["width"], (page.url, found)
    assert found["innerWidth"] == PHONE["width"], (page.url, found)


@pytest.fixture
def phone_deal(transactional_db):
    from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

    acme = OrganizationFactory(name="Acme Software", slug="acme")
    seller = MembershipFactory(
        organization=acme,
        user=UserFactory(email="sam@acme.test", full_name="Sam Seller"),
        role="admin",
    ).user
    deal = make_deal(acme, seller, account_name="Initech Global Manufacturing Holdings")
    dana = add_buyer(
        deal,
        name="Dana Buyer-Longname-Hyphenated",
        email="dana.buyer.with.a.long.address@procurement.initech-global.test",
        role="champion",
    )
    plan = make_plan(deal, shared=True)
    # What people paste: an address with no place to break, a long word, a long comment.
    step = add_milestone(
        plan,
        actor=Actor.seller(seller),
        title="Security questionnaire https://trust.initech-global.test/questionnaires/2026/"
        "vendor-assessment-SIG-lite-v4.xlsx",
        due_date=plan.target_signature_date,
        buyer_owner=dana,
    )
    long_comment = "Rechtsschutzversicherungsgesellschaften " * 8
    add_comment(step, actor=Actor.seller(seller), body=long_comment)
    # Materials with long names: a section, a PDF about the step, a link, an upload box.
    actor = Actor.seller(seller)
    section = materials.add_section(
        plan,
        actor=actor,
        title="Sicherheits- und Rechtsdokumentation (Datenschutzvereinbarungen)",
        buyer_uploads=True,
    )
    materials.add_file(
        plan,
        actor=actor,
        section=section,
        upload=SimpleUploadedFile(
            "Vendor-Security-Assessment-SIG-lite-v4-Initech-Global-final-final2.pdf",
            two_page_pdf(),
        ),
        milestone=step,
    )
    materials.add_link(
        plan,
        actor=actor,
        section=section,
        title="https://trust.initech-global.test/documents/soc2-type2-report-2026-annual",
        url="https://trust.initech-global.test/documents/soc2-type2-report-2026-annual",
    )
    return deal


@pytest.fixture
def phone(browser, live_server):
    """A page at a phone's size; its context is closed after the test, so that nothing it
    still loads (a PDF viewer's beacon) reaches the server while its database is reset."""
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, is_mobile=True)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def test_the_buyers_room_fits_a_phone(phone, phone_deal):
    _, token = issue_room_link(phone_deal.stakeholders.get(role="champion"))
    page = phone
    page.goto(f"/r/{token}/")
    assert_fits(page)
    page.get_by_role("button", name="Open deal room").click()
    expect(page.get_by_role("heading", name="Milestones")).to_be_visible()
    assert_fits(page)
    page.get_by_role("button", name="Discuss Security questionnaire").click()
    expect(page.get_by_text("Rechtsschutzversicherungsgesellschaften").first).to_be_visible()
    assert_fits(page)
    pdf = Resource.objects.get(kind="file")
    for path in ("sign/", f"materials/{pdf.public_id}/"):
        page.goto(f"/room/{phone_deal.public_id}/{path}")
        assert_fits(page)
    expect(page.get_by_role("img", name="Page 1")).to_be_visible()
    assert_fits(page)
    # One document sent by link, opened on a phone.
    _, share_token = materials.share_resource(
        pdf, actor=Actor.seller(phone_deal.owner), email="cfo@initech-global.test"
    )
    page.goto(f"/s/{share_token}/")
    assert_fits(page)
    page.get_by_role("button", name="Open the document").click()
    expect(page.get_by_role("img", name="Page 1")).to_be_visible()
    assert_fits(page)


def test_the_sellers_pages_fit_a_phone(phone, phone_deal):
    page = phone
    sign_in(page, "sam@acme.test", PASSWORD)
    for path in [
        "/o/acme/deals/",
        phone_deal.get_absolute_url(),
        "/o/acme/dashboard/",
        "/o/acme/templates/",
        "/o/acme/settings/",
        "/o/acme/notifications/",
        f"/o/acme/deals/{phone_deal.public_id}/edit/",
        f"/o/acme/deals/{phone_deal.public_id}/plan/audit/",
        f"/o/acme/materials/{Resource.objects.get(kind='file').public_id}/",
        f"/o/acme/materials/{Resource.objects.get(kind='file').public_id}/view/",
        "/o/acme/calendar/",
        f"/o/acme/deals/{phone_deal.public_id}/plan/import/",
    ]:
        page.goto(path)
        assert_fits(page)
    # The import's preview of a pasted table with long cells.
    page.goto(f"/o/acme/deals/{phone_deal.public_id}/plan/import/")
    page.get_by_label("Or paste a table").fill(
        "Milestone | Owner (Buyer / Seller) | Due Date | Notes\n"
        "Vendor-Security-Assessment-SIG-lite-v4-questionnaire | Dana Buyer / Sam Seller "
        "| 2031-01-10 | https://trust.initech-global.test/questionnaires/2026/vendor-assessment"
    )
    page.get_by_role("button", name="Preview the import").click()
    assert_fits(page)
    # Drafting from a conversation: the form, then the review of long quotes and names.
    page.goto(f"/o/acme/deals/{phone_deal.public_id}/plan/draft/")
    assert_fits(page)
    page.get_by_label("Transcript, notes or email thread").fill(
        "[00:00:05] Dana Buyer: Our Rechtsschutzversicherungsgesellschaften-Compliance review "
        "usually needs four weeks for security review, https://trust.initech-global.test/x.\n"
        "[00:00:20] Dana Buyer: Marcus Lee from procurement will handle vendor onboarding by "
        "the 14th, and I'll loop in our CFO before signature."
    )
    page.get_by_role("button", name="Read the conversation").click()
    expect(page.get_by_role("heading", name="Review what the conversation says")).to_be_visible()
    assert_fits(page)


def test_on_a_phone_the_buyer_sees_what_they_owe_first_and_finishes_it_in_one_tap(
    phone, phone_deal
):
    dana = phone_deal.stakeholders.get(role="champion")
    step = phone_deal.plan.milestones.filter(buyer_owner=dana).order_by("due_date").first()
    _, token = issue_room_link(dana)
    page = phone
    page.goto(f"/r/{token}/")
    page.get_by_role("button", name="Open deal room").click()

    # The first section after the title is the buyer's own open steps, on the first screen.
    next_steps = page.get_by_role("region", name="Your next steps")
    expect(next_steps).to_be_in_viewport()
    done = next_steps.get_by_role("button", name=f"Done: {step.title}")
    expect(done).to_be_visible()
    expect(next_steps.get_by_role("button", name=f"Need more time: {step.title}")).to_be_visible()

    done.click()

    expect(next_steps.get_by_role("button", name=f"Done: {step.title}")).to_have_count(0)
    step.refresh_from_db()
    assert step.status == "done"
    assert_fits(page)
