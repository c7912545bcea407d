from playwright.sync_api import expect

from plans.management.commands.seed_demo import DEMO_PASSWORD

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


def test_sign_up_then_confirm_the_address_then_the_new_workspace(page, transactional_db):
    """A sign-up answers "verify your email" (the same for a taken address: no account
    enumeration); the emailed link, opened in the same browser, signs in."""
    import re

    from django.core import mail

    page.goto("/accounts/signup/")
    page.get_by_label("Your full name").fill("Nina New")
    page.get_by_label("Email").fill("nina@newco.test")
    page.get_by_label("Workspace name").fill("NewCo Inc")
    page.get_by_label("Password:", exact=True).fill("a-long-unusual-passphrase")
    page.get_by_label("Password (again)").fill("a-long-unusual-passphrase")
    page.get_by_role("button", name="Sign Up").click()

    expect(page.get_by_role("heading", name="Verify Your Email Address")).to_be_visible()
    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+/)", mail.outbox[-1].body)[1]
    page.goto(link)
    page.get_by_role("button", name="Confirm").click()

    expect(page.get_by_role("heading", name="Deals")).to_be_visible()
    assert page.url.endswith("/o/newco-inc/deals/")
    assert page.csp_errors == []
