import csv
import re
from pathlib import Path

from playwright.sync_api import expect

from plans.management.commands.seed_demo import DEMO_PASSWORD

from .conftest import sign_in


def test_demo_manager_filters_dashboard_and_downloads_csv(page, transactional_db):
    from django.core.management import call_command

    from deals.models import User

    call_command("seed_demo", quiet=True)
    ada = User.objects.get(email="admin@example.com")
    sign_in(page, "manager@example.com", DEMO_PASSWORD)

    page.get_by_role("link", name="Dashboard").click()

    expect(page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Dashboard")).to_have_attribute("aria-current", "page")
    health = page.get_by_role("region", name="MAP health")
    expect(health.get_by_role("link", name="Wayne Enterprises")).to_be_visible()
    expect(health.get_by_role("link", name="Initech")).to_be_visible()
    # Chart.js drew the charts: a drawn canvas gets its pixel size.
    drawn = re.compile(r"^\d+$")
    for chart in ("pipeline-stage", "health", "forecast", "durations", "overdue", "outcomes"):
        expect(page.locator(f"canvas[data-chart='{chart}']")).to_have_attribute("width", drawn)
    expect(page.get_by_role("button", name="How MAP health is measured")).to_be_visible()

    owner = page.get_by_label("Owner", exact=True)
    owner.select_option(label="Ada Admin")
    page.get_by_role("button", name="Apply filters").click()

    expect(owner).to_have_value(str(ada.public_id))
    expect(health.get_by_role("link", name="Wayne Enterprises")).to_be_visible()
    expect(health.get_by_role("link", name="Initech")).to_have_count(0)

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download MAP health as CSV").click()
    download = download_info.value
    assert download.suggested_filename.startswith("tandem-acme-health-")
    with Path(download.path()).open(encoding="utf-8") as file:
        rows = list(csv.reader(file))
    assert rows[0][:3] == ["account", "opportunity", "owner"]
    assert {row[0] for row in rows[1:]} == {"Wayne Enterprises", "Massive Dynamic"}
    assert {row[2] for row in rows[1:]} == {"Ada Admin"}
    assert page.csp_errors == []

    # A bad filter: a clear message next to the field, no 500.
    page.get_by_label("Amount from").fill("500000")
    page.get_by_label("Amount up to").fill("1000")
    page.get_by_role("button", name="Apply filters").click()

    expect(page.get_by_text("The maximum is below the minimum.")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("correct the highlighted fields")
    # The browser logs the 422 status itself; nothing else may be logged.
    assert [e for e in page.csp_errors if "422" not in e] == []
