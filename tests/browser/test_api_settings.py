"""Admins create and revoke API keys and register webhooks in Settings; the API docs
render from local files under the strict CSP."""

import re

from playwright.sync_api import expect

from deals.models import ApiKey, hash_token
from notifications.models import WebhookEndpoint

from .conftest import sign_in


def test_admin_creates_sees_once_and_revokes_an_api_key(page, acme_admin, password):
    sign_in(page, acme_admin.email, password)
    page.goto("/o/acme/settings/")

    page.get_by_label("Key name").fill("Salesforce sync")
    page.get_by_role("button", name="Create API key").click()

    expect(page.get_by_role("heading", name="API key created")).to_be_visible()
    key = page.get_by_label("API key").input_value()
    assert ApiKey.objects.get(name="Salesforce sync").key_hash == hash_token(key)
    page.get_by_role("link", name="Back to settings").click()
    expect(page.get_by_text(key[:12] + "…")).to_be_visible()
    assert key not in page.content()

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke API key Salesforce sync").click()
    expect(page.get_by_text("revoked: it no longer works")).to_be_visible()
    assert ApiKey.objects.get().revoked_at is not None
    assert page.csp_errors == []


def test_admin_registers_a_webhook_and_sees_the_secret_once(page, acme_admin, password):
    sign_in(page, acme_admin.email, password)
    page.goto("/o/acme/settings/")
    page.get_by_role("link", name="Manage webhooks").click()

    page.get_by_label("Endpoint URL").fill("https://hooks.example.com/tandem")
    page.get_by_role("checkbox", name=re.compile(r"plan\.signed")).check()
    page.get_by_role("button", name="Register endpoint").click()

    expect(page.get_by_role("heading", name="Signing secret")).to_be_visible()
    secret = page.get_by_role("textbox", name="Signing secret").input_value()
    endpoint = WebhookEndpoint.objects.get()
    assert secret == endpoint.secret and secret.startswith("whsec_")
    assert endpoint.event_types == ["plan.signed"]
    page.get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("link", name="https://hooks.example.com/tandem")).to_be_visible()
    assert page.csp_errors == []


def test_api_docs_render_from_local_files_without_csp_errors(page, transactional_db):
    requested = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto("/api/docs/")

    expect(page.get_by_text("Tandem API").first).to_be_visible()
    expect(page.get_by_text("/api/v1/milestones/{id}/").first).to_be_visible()
    base = page.url.split("/api/")[0]
    assert all(url.startswith(base) or url.startswith("data:") for url in requested), requested
    assert page.csp_errors == []
