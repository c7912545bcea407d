"""Under /api/ every answer is JSON: unknown paths are a JSON 404 for every method, with or
without credentials, with or without a browser session and its CSRF cookie; a method a
known path does not support is a JSON 405 with Allow; never Django's HTML pages (CSRF
failure, APPEND_SLASH redirect)."""

import json
import uuid

import pytest
from django.test import Client

from plans.api import DealViewSet

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "PROPFIND"]
SOME_ID = "6f1c2f4e-1111-4a4a-9b9b-0123456789ab"

UNKNOWN_PATHS = [
    "/api",
    "/api/",
    "/api/nothing",
    "/api/nothing/",
    "/api/v1",
    "/api/v1/",
    "/api/v2/deals/",
    "/api/v1/nothing/",
    "/api/v1/deals/not-a-uuid/",
    f"/api/v1/deals/{SOME_ID}/nothing/",
    "{plan}unknown-action/",
    "/api/v1/plans/null%2Cnull/share/",
    "/api/schema/extra/",
    # Without the trailing slash: no redirect (its body would be HTML), a 404 that says so.
    "/api/v1/deals",
    "{plan}share",
    "/api/schema",
]
SLASH_HINTS = {"/api/v1/deals", "{plan}share", "/api/schema"}


@pytest.fixture
def clients(acme_key, alice):
    """Who may knock: nobody, an API key, a signed-in seller whose browser holds a CSRF
    cookie but sends no token (what a cross-site form would send)."""
    anonymous = Client(enforce_csrf_checks=True)
    with_key = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {acme_key}")
    session = Client(enforce_csrf_checks=True)
    session.force_login(alice)
    session.cookies["csrftoken"] = "a" * 32
    return {"anonymous": anonymous, "api key": with_key, "session": session}


def _send(client, method, path):
    return client.generic(method, path, data=b"{}", content_type="application/json")


def _is_json(response) -> bool:
    return response["Content-Type"].split(";")[0] == "application/json"


@pytest.mark.parametrize("who", ["anonymous", "api key", "session"])
@pytest.mark.parametrize("path", UNKNOWN_PATHS)
def test_unknown_api_path_is_json_404_for_every_method(clients, acme_plan, who, path):
    path = path.replace("{plan}", f"/api/v1/plans/{acme_plan.public_id}/")
    wrong = []
    for method in METHODS:
        response = _send(clients[who], method, path)
        body = response.content
        if response.status_code != 404 or not _is_json(response):
            wrong.append(f"{method} → {response.status_code} {response['Content-Type']}")
        elif method != "HEAD" and not json.loads(body)["detail"].startswith("Not found."):
            wrong.append(f"{method} → {body!r}")
    assert wrong == []


@pytest.mark.parametrize("path", sorted(SLASH_HINTS))
def test_unknown_api_path_without_its_slash_names_it(api, acme_plan, path):
    path = path.replace("{plan}", f"/api/v1/plans/{acme_plan.public_id}/")

    response = api.post(path, {}, format="json")

    assert response.status_code == 404
    assert response.json() == {"detail": f"Not found. API paths end with a slash: {path}/"}


def test_unknown_api_path_changes_nothing(api, acme_plan):
    response = api.post(f"/api/v1/plans/{acme_plan.public_id}/share", format="json")

    assert response.status_code == 404
    acme_plan.refresh_from_db()
    assert acme_plan.status == "draft"


WRONG_METHODS = [
    ("/api/v1/deals/", ["PUT", "PATCH", "DELETE"]),
    ("{deal}", ["POST"]),
    ("{plan}", ["POST", "DELETE"]),
    ("{plan}share/", ["GET", "PUT", "PATCH", "DELETE"]),
    ("{plan}signatures/", ["POST", "PUT", "DELETE"]),
    ("/api/v1/signatures/", ["POST", "PUT", "PATCH", "DELETE"]),
    ("/api/v1/date-changes/", ["POST", "DELETE"]),
    ("/api/v1/activity/", ["POST", "PATCH"]),
    (f"/api/v1/milestones/{SOME_ID}/", ["POST", "TRACE", "PROPFIND"]),
    ("/api/schema/", ["POST", "PUT", "PATCH", "DELETE", "TRACE", "PROPFIND"]),
    ("/api/docs/", ["POST", "PUT", "DELETE"]),
]


@pytest.mark.parametrize(("path", "methods"), WRONG_METHODS)
def test_wrong_method_on_a_known_api_path_is_json_405_with_allow(clients, acme_plan, path, methods):
    path = path.replace("{plan}", f"/api/v1/plans/{acme_plan.public_id}/")
    path = path.replace("{deal}", f"/api/v1/deals/{acme_plan.deal.public_id}/")
    for method in methods:
        response = _send(clients["api key"], method, path)

        assert response.status_code == 405, (method, response.content)
        assert _is_json(response)
        assert response.json()["detail"] == f'Method "{method}" not allowed.'
        allowed = {m.strip() for m in response["Allow"].split(",")}
        assert method not in allowed and "OPTIONS" in allowed


@pytest.mark.parametrize("who", ["anonymous", "session"])
@pytest.mark.parametrize(("path", "methods"), WRONG_METHODS)
def test_wrong_method_without_a_key_is_json_too(clients, acme_plan, who, path, methods):
    """Authentication runs before the method is looked at: 401 (no key) or 403 (a session's
    missing CSRF token), in JSON; the public schema and docs answer 405."""
    path = path.replace("{plan}", f"/api/v1/plans/{acme_plan.public_id}/")
    path = path.replace("{deal}", f"/api/v1/deals/{acme_plan.deal.public_id}/")
    for method in methods:
        response = _send(clients[who], method, path)

        assert response.status_code in {401, 403, 405}, (method, response.status_code)
        assert _is_json(response) and "detail" in response.json()


@pytest.mark.parametrize("query", ["", "?script="])
def test_api_docs_with_an_api_key_is_served(clients, query):
    """The docs page used to fail (500) when a client sent its API key along."""
    response = clients["api key"].get("/api/docs/" + query)

    assert response.status_code == 200


def test_api_schema_not_acceptable_is_json(clients):
    response = clients["api key"].get("/api/schema/", HTTP_ACCEPT="text/html")

    assert response.status_code == 406 and _is_json(response)


def test_unknown_object_id_is_json_404(clients):
    response = _send(clients["api key"], "PATCH", f"/api/v1/deals/{uuid.uuid4()}/")

    assert response.status_code == 404 and _is_json(response) and response.json()["detail"]


def test_unexpected_error_under_api_is_json_500(api, monkeypatch):
    def broken(self, request, *args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(DealViewSet, "list", broken)
    api.raise_request_exception = False

    response = api.get("/api/v1/deals/")

    assert response.status_code == 500 and _is_json(response)
    assert response.json()["detail"].startswith("Server error")


def test_unexpected_error_elsewhere_is_still_the_html_page(rf, db):
    from config.errors import server_error

    assert server_error(rf.get("/o/acme/"))["Content-Type"].startswith("text/html")
    assert server_error(rf.get("/apiary/"))["Content-Type"].startswith("text/html")
    assert server_error(rf.get("/api"))["Content-Type"] == "application/json"


def test_host_not_allowed_under_api_is_json_400(acme_key):
    client = Client(HTTP_AUTHORIZATION=f"Bearer {acme_key}", HTTP_HOST="evil.example")

    response = client.get("/api/v1/deals/")

    assert response.status_code == 400 and _is_json(response)
    assert response.json() == {"detail": "Bad request."}
