"""Seller sends for signature; the buyer (magic link) and the seller sign; both download."""

from playwright.sync_api import expect

from plans.models import Plan
from stakeholders.services import issue_room_link
from tests.factories import PASSWORD

from .conftest import sign_in
from .test_live_room import live_deal  # noqa: F401 - the fixture


def test_both_sides_sign_and_download_the_sealed_pdf(browser, live_server, live_deal, tmp_path):  # noqa: F811
    seller_context = browser.new_context(base_url=live_server.url, accept_downloads=True)
    seller_context.set_default_timeout(15_000)
    seller = seller_context.new_page()
    sign_in(seller, "sam@acme.test", PASSWORD)
    seller.goto(live_deal.get_absolute_url())

    seller.get_by_role("button", name="Send for signature").click()
    expect(seller.get_by_text("Sent for signature to")).to_be_visible()

    # The economic buyer signs in the room, from a fresh magic link.
    eve = live_deal.stakeholders.get(email="eve@initech.test")
    _, token = issue_room_link(eve)
    buyer_context = browser.new_context(base_url=live_server.url, accept_downloads=True)
    buyer_context.set_default_timeout(15_000)
    buyer = buyer_context.new_page()
    buyer.goto(f"/r/{token}/")
    buyer.get_by_role("button", name="Open deal room").click()
    buyer.get_by_role("button", name="Sign plan").click()
    buyer.get_by_role("button", name="Sign plan").click()  # nothing typed: refused
    expect(buyer.get_by_text("Type your full name to sign.")).to_be_visible()
    buyer.get_by_label("Type your full name").fill("eve  economic")
    buyer.get_by_label("I agree to sign this plan electronically").check()
    buyer.get_by_role("button", name="Sign plan").click()
    expect(buyer.get_by_text("You signed the plan.")).to_be_visible()

    # The AE signs on the plan page.
    seller.reload()
    seller.get_by_role("button", name="Sign plan").click()
    seller.get_by_label("Type your full name").fill("Sam Seller")
    seller.get_by_label("I agree to sign this plan electronically").check()
    seller.get_by_role("button", name="Sign plan").click()
    expect(seller.get_by_text("Signed by every required signer")).to_be_visible()
    assert Plan.objects.get(deal=live_deal).status == "signed"

    for page in (seller, buyer):
        if page is buyer:
            page.reload()
        with page.expect_download() as download_info:
            page.get_by_role("button", name="Download PDF").click()
        download = download_info.value
        path = tmp_path / f"{id(page)}.pdf"
        download.save_as(path)
        assert path.read_bytes().startswith(b"%PDF-")
        assert download.suggested_filename.startswith("TDM-")
        assert not download.suggested_filename.endswith("-draft.pdf")
