"""API keys: Bearer authentication, revocation, throttling, workspace resolution, the
management command and the Settings UI."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from deals import services
from deals.models import ApiKey, hash_token

from .conftest import make_deal


def test_api_key_authenticates_and_sees_its_workspace(api, acme, alice):
    make_deal(acme, alice, account_name="Initech")

    response = api.get("/api/v1/deals/")

    assert response.status_code == 200
    assert [d["account_name"] for d in response.json()["results"]] == ["Initech"]


def test_api_without_credentials_is_401_with_www_authenticate(db):
    response = APIClient().get("/api/v1/deals/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_api_unknown_key_is_401(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer tdm_not-a-key")

    assert client.get("/api/v1/deals/").status_code == 401


def test_api_revoked_key_is_401(acme, acme_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {acme_key}")
    assert client.get("/api/v1/deals/").status_code == 200

    services.revoke_api_key(ApiKey.objects.get(key_hash=hash_token(acme_key)))
    response = client.get("/api/v1/deals/")

    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid or revoked API key."}


def test_api_key_is_stored_hashed_with_prefix_and_records_last_use(api, acme_key):
    api_key = ApiKey.objects.get()
    assert api_key.key_hash == hash_token(acme_key) and acme_key not in api_key.key_hash
    assert acme_key.startswith(api_key.prefix) and len(api_key.prefix) == 12
    assert api_key.last_used_at is None

    api.get("/api/v1/deals/")

    api_key.refresh_from_db()
    assert api_key.last_used_at is not None


def test_api_throttles_per_key_with_retry_after(api, globex_api, settings):
    settings.API_RATE_LIMIT = "3/minute"
    for _ in range(3):
        assert api.get("/api/v1/deals/").status_code == 200

    response = api.get("/api/v1/deals/")

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "detail" in response.json()
    # Another key has its own budget.
    assert globex_api.get("/api/v1/deals/").status_code == 200


def test_api_session_member_uses_workspace_header(client, alice, acme, globex, charlie):
    make_deal(acme, alice)
    client.force_login(alice)

    assert client.get("/api/v1/deals/", HTTP_TANDEM_WORKSPACE="acme").status_code == 200
    # Only one workspace: no header needed.
    assert len(client.get("/api/v1/deals/").json()["results"]) == 1
    # A workspace alice is not a member of is 404.
    assert client.get("/api/v1/deals/", HTTP_TANDEM_WORKSPACE="globex").status_code == 404


def test_api_session_writes_need_csrf(alice, acme):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice)

    response = client.post("/api/v1/templates/", {"name": "X"}, format="json")

    assert response.status_code == 403


def test_create_api_key_command_prints_key_once(acme):
    out, err = StringIO(), StringIO()

    call_command("create_api_key", org="acme", name="Ops script", stdout=out, stderr=err)

    key = out.getvalue().strip()
    assert key.startswith("tdm_")
    api_key = ApiKey.objects.get(name="Ops script")
    assert api_key.organization == acme and api_key.key_hash == hash_token(key)
    assert "shown only once" in err.getvalue()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get("/api/v1/deals/").status_code == 200


def test_create_api_key_command_unknown_org_fails(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No workspace"):
        call_command("create_api_key", org="nope", name="x", stdout=StringIO())


# Settings UI ----------------------------------------------------------------------------


def test_api_key_create_in_settings_shows_key_once(client, acme_admin, acme):
    client.force_login(acme_admin)
    url = reverse("deals:api-key-create", kwargs={"org_slug": "acme"})

    response = client.post(url, {"key-name": "Zapier"})

    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    api_key = ApiKey.objects.get(name="Zapier")
    key = response.context["key"]
    assert api_key.key_hash == hash_token(key)
    assert key.encode() in response.content
    settings_page = client.get(reverse("deals:workspace-settings", kwargs={"org_slug": "acme"}))
    assert key.encode() not in settings_page.content
    assert f"{api_key.prefix}…".encode() in settings_page.content


def test_api_key_revoke_in_settings(client, acme_admin, acme, acme_key):
    client.force_login(acme_admin)
    api_key = ApiKey.objects.get()

    response = client.post(
        reverse("deals:api-key-revoke", kwargs={"org_slug": "acme", "key_id": api_key.public_id})
    )

    assert response.status_code == 302
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None


def test_api_key_settings_are_admin_only(client, alice, acme, acme_key):
    client.force_login(alice)
    api_key = ApiKey.objects.get()

    create = client.post(
        reverse("deals:api-key-create", kwargs={"org_slug": "acme"}), {"key-name": "x"}
    )
    revoke = client.post(
        reverse("deals:api-key-revoke", kwargs={"org_slug": "acme", "key_id": api_key.public_id})
    )

    assert create.status_code == revoke.status_code == 404
    assert ApiKey.objects.count() == 1 and ApiKey.objects.get().revoked_at is None


def test_api_key_revoke_other_workspace_is_404(client, charlie, globex, acme, acme_key):
    from deals.models import Membership

    Membership.objects.filter(user=charlie).update(role="admin")
    client.force_login(charlie)
    api_key = ApiKey.objects.get()

    response = client.post(
        reverse("deals:api-key-revoke", kwargs={"org_slug": "globex", "key_id": api_key.public_id})
    )

    assert response.status_code == 404
    assert ApiKey.objects.get().revoked_at is None
