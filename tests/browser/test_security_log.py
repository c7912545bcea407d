"""An admin reads the security log from Settings: their own sign-in is there; filters and
their messages work in a real browser under the strict CSP."""

import os

from playwright.sync_api import expect

from .conftest import sign_in


def test_admin_reads_and_filters_the_security_log(page, acme_admin, password):
    sign_in(page, acme_admin.email, password)
    page.goto("/o/acme/settings/")

    page.get_by_role("link", name="Open the security log").click()

    expect(page.get_by_role("heading", name="Security log")).to_be_visible()
    table = page.get_by_role("table")
    expect(table.get_by_role("cell", name="Signed in")).to_be_visible()
    expect(table.get_by_text("admin@acme.test").first).to_be_visible()
    if os.environ.get("SECURITY_LOG_SCREENSHOT"):
        page.screenshot(path=os.environ["SECURITY_LOG_SCREENSHOT"], full_page=True)

    page.get_by_label("What").select_option(label="Members")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_text("No entries match these filters.")).to_be_visible()

    page.get_by_label("IP address").fill("not-an-address")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_text("Enter one IP address, such as 203.0.113.9")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("Some filters are not valid")

    page.get_by_role("link", name="Clear filters").click()
    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    assert download.value.suggested_filename.startswith("tandem-acme-security-log-")
    # The invalid filters answered 422 (Chromium logs that status); nothing else.
    assert [e for e in page.csp_errors if "422" not in e] == []
