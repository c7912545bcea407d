"""The OpenAPI schema (/api/schema/), its docs page (/api/docs/) and a bounded
schemathesis run against the schema: no 5xx, every response conforms."""

import json
import re

import pytest
from django.test import Client
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings

from plans import signatures
from plans.models import PlanTemplate, SignatureEvent
from stakeholders.models import Stakeholder

from .conftest import ACTOR, make_plan


@pytest.fixture
def schema(db):
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return json.loads(response.content)


def test_schema_is_openapi_3_with_bearer_auth(schema):
    assert schema["openapi"].startswith("3.")
    assert schema["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["apiKey"]["description"],
    }
    paths = set(schema["paths"])
    for resource in ("deals", "plans", "milestones", "stakeholders", "templates"):
        assert f"/api/v1/{resource}/" in paths and f"/api/v1/{resource}/{{id}}/" in paths
    assert {"/api/v1/date-changes/", "/api/v1/activity/"} <= paths
    assert "/api/v1/plans/{id}/reschedule/" in paths
    assert {
        "/api/v1/signatures/",
        "/api/v1/signatures/{id}/",
        "/api/v1/plans/{id}/signatures/",
        "/api/v1/plans/{id}/request-signatures/",
        "/api/v1/stakeholders/{id}/invite/",
    } <= paths
    assert set(schema["paths"]["/api/v1/signatures/"]) == {"get"}
    assert "409" in schema["paths"]["/api/v1/plans/{id}/request-signatures/"]["post"]["responses"]


def test_schema_documents_every_endpoint_with_examples(schema):
    missing = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary"), f"{method} {path} has no summary"
            bodies = [operation.get("requestBody", {})] + [
                response
                for code, response in operation["responses"].items()
                if code.startswith("2")
            ]
            has_json_body = any("content" in body for body in bodies)
            has_example = any(
                "examples" in media for body in bodies for media in body.get("content", {}).values()
            )
            if has_json_body and not has_example:
                missing.append(f"{method.upper()} {path}")
    assert missing == []


def _operations(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def _header(operation, name):
    return next((p for p in operation.get("parameters", []) if p["name"] == name), None)


def test_schema_documents_if_match_required_on_put_and_patch(schema):
    for path, method, operation in _operations(schema):
        if method not in {"put", "patch"}:
            continue
        if_match = _header(operation, "If-Match")
        assert if_match and if_match["in"] == "header" and if_match["required"] is True, path
        assert {"412", "428"} <= set(operation["responses"]), path
        assert operation["responses"]["412"]["headers"]["ETag"]["required"] is True
        assert operation["responses"]["200"]["headers"]["ETag"]["required"] is True


def test_schema_documents_if_match_optional_on_delete_and_actions(schema):
    conditional = [
        (path, method, operation)
        for path, method, operation in _operations(schema)
        if method == "delete" or (method == "post" and "/{id}/" in path)
    ]

    assert {f"{m} {p}" for p, m, _ in conditional} >= {
        "delete /api/v1/milestones/{id}/",
        "post /api/v1/plans/{id}/share/",
        "post /api/v1/plans/{id}/request-signatures/",
        "post /api/v1/stakeholders/{id}/invite/",
    }
    for path, _, operation in conditional:
        assert _header(operation, "If-Match")["required"] is False, path
        assert {"412", "428"} <= set(operation["responses"]), path


def test_schema_if_match_pattern_takes_etags_and_refuses_the_wildcard(schema):
    pattern = _header(schema["paths"]["/api/v1/deals/{id}/"]["patch"], "If-Match")["schema"][
        "pattern"
    ]

    for good in ['"3"', 'W/"3"', '"a1b2", W/"c3"', '"0f3e9a"']:
        assert re.search(pattern, good), good
    for bad in ["*", '"*"', "", "3", '"3", *', '""', '"a b"']:
        assert not re.search(pattern, bad), bad


def test_schema_documents_etag_if_none_match_and_304_on_reads(schema):
    for path, method, operation in _operations(schema):
        if method != "get" or not path.endswith("/{id}/"):
            continue
        assert _header(operation, "If-None-Match")["required"] is False, path
        assert operation["responses"]["200"]["headers"]["ETag"]["required"] is True, path
        assert operation["responses"]["304"]["headers"]["ETag"]["required"] is True, path
        assert "content" not in operation["responses"]["304"]
    for path in ("/api/v1/deals/", "/api/v1/milestones/", "/api/v1/templates/"):
        created = schema["paths"][path]["post"]["responses"]["201"]
        assert created["headers"]["ETag"]["required"] is True


def test_schema_documents_page_size_bounds_and_cursor(schema):
    lists = [
        operation
        for path, method, operation in _operations(schema)
        if method == "get" and "{" not in path
    ]

    assert len(lists) == 8
    for operation in lists:
        page_size = next(p for p in operation["parameters"] if p["name"] == "page_size")
        cursor = next(p for p in operation["parameters"] if p["name"] == "cursor")
        assert page_size["schema"] == {
            "type": "integer",
            "minimum": 1,
            "maximum": 200,
            "default": 50,
        }
        assert cursor["schema"] == {"type": "string"} and cursor["required"] is False


def test_schema_documents_error_bodies(schema):
    for path, method, operation in _operations(schema):
        responses = operation["responses"]
        for code in ("401", "403", "404", "429"):
            body = responses[code]["content"]["application/json"]
            assert body["schema"] == {"$ref": "#/components/schemas/Error"}, (path, code)
            assert "detail" in body["example"]
        assert responses["401"]["headers"]["WWW-Authenticate"]["required"] is True
        assert "Retry-After" in responses["429"]["headers"]
        assert responses["400"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ValidationError"
        }
        if method != "get":
            refusal = responses["409"]["content"]["application/json"]
            assert refusal["schema"] == {"$ref": "#/components/schemas/Error"}, path
    assert schema["components"]["schemas"]["Error"]["required"] == ["detail"]


def test_api_docs_page_loads_only_local_assets_under_csp(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    policy = response["Content-Security-Policy"]
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert not re.search(r"<style|\sstyle=", html)
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("/") and not s.startswith("//") for s in sources)
    scripts = re.findall(r"<script[^>]*>", html)
    assert len(scripts) == 3 and all("src=" in tag for tag in scripts)
    assert any("swagger-ui-bundle.js" in s for s in sources)
    script_url = next(s for s in sources if "script" in s and "swagger" not in s)
    init = client.get(script_url.replace("&amp;", "&"))
    assert init.status_code == 200 and init["Content-Type"].startswith("application/javascript")
    assert b"/api/schema/" in init.content


# schemathesis ---------------------------------------------------------------------------


@pytest.fixture
def _keep_test_connection():
    """Like Django's test client: the WSGI handler must not close the database connection
    at the end of each request (it holds the test's transaction)."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_setup(settings, acme, alice, acme_key, globex, charlie, _keep_test_connection):
    settings.ALLOWED_HOSTS = ["*"]
    settings.API_RATE_LIMIT = "100000/minute"
    plan = make_plan(acme, alice)
    make_plan(globex, charlie, account_name="Globex customer")
    template = PlanTemplate.objects.create(organization=acme, name="Own")
    signatures.request_signatures(plan, actor=ACTOR)
    # Real ids, so that generated bodies reach the services and not only the 404.
    ids = {
        "deals": plan.deal.public_id,
        "plans": plan.public_id,
        "milestones": plan.milestones.order_by("position").last().public_id,
        "stakeholders": Stakeholder.objects.filter(deal=plan.deal).first().public_id,
        "templates": template.public_id,
        "signatures": SignatureEvent.objects.filter(plan=plan).first().public_id,
    }
    return acme_key, ids


def test_api_conforms_to_its_schema_under_schemathesis(fuzz_setup):
    """A bounded run: for every operation, examples and generated cases (positive data),
    with a valid key. Checks: no server error, status codes, content types, headers and
    response bodies as documented."""
    import schemathesis
    from django.core.wsgi import get_wsgi_application
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    key, ids = fuzz_setup
    headers = {"Authorization": f"Bearer {key}"}
    loaded = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
    ]
    failures = []
    operations = [result.ok() for result in loaded.get_all_operations()]
    assert len(operations) >= 25

    runs = []
    for operation in operations:
        runs.append((operation, operation.as_strategy(), headers))
        resource = operation.path.split("/")[3]
        if "{id}" in operation.path and resource in ids:
            # The same operation on a real row (If-Match "*" is refused now: updates 428).
            strategy = operation.as_strategy(path_parameters={"id": str(ids[resource])})
            runs.append((operation, strategy, {**headers, "X-Real-Row": "1"}))

    def make_run(strategy, request_headers):
        @given(case=strategy)
        @hypothesis_settings(
            max_examples=8,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case):
            try:
                case.call_and_validate(headers=request_headers, checks=checks)
            except Exception as exc:  # collect, to report every operation at once
                failures.append(f"{case.method} {case.formatted_path}: {exc}"[:2000])

        return run

    for operation, strategy, request_headers in runs:
        if operation.method.upper() == "DELETE" and "X-Real-Row" in request_headers:
            continue  # deleting the shared rows would turn the rest into 404s
        make_run(strategy, request_headers)()

    assert failures == [], "\n\n".join(failures[:5])
