from playwright.sync_api import expect

from deals.management.commands.seed_demo import DEMO_PASSWORD

from .conftest import sign_in


def test_demo_seller_signs_in_and_sees_deals(page, transactional_db):
    from django.core.management import call_command

    call_command("seed_demo", quiet=True)

    sign_in(page, "seller@example.com", DEMO_PASSWORD)

    expect(page.get_by_role("heading", name="Deals")).to_be_visible()
    expect(page.get_by_role("link", name="Deals")).to_have_attribute("aria-current", "page")
    expect(page.get_by_text("Acme Software").first).to_be_visible()
    assert page.url.endswith("/o/acme/deals/")
    assert page.csp_errors == []

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign In")).to_be_visible()
