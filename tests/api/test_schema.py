"""The OpenAPI schema (/api/schema/) and its docs page (/api/docs/). The schema's promises
are checked against the running API by tests/api/test_schemathesis.py."""

import json
import re

import pytest
from django.core.management import call_command
from django.test import Client


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


def test_schema_validates_against_openapi_without_warnings(db, tmp_path):
    """drf-spectacular's validation against the OpenAPI 3 meta-schema; a warning (e.g. two
    choice sets named alike) fails it too."""
    call_command(
        "spectacular", validate=True, fail_on_warn=True, file=str(tmp_path / "schema.yaml")
    )


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


def test_schema_links_a_read_etag_to_the_changes_of_the_resource(schema):
    read = schema["paths"]["/api/v1/plans/{id}/"]["get"]["responses"]["200"]
    created = schema["paths"]["/api/v1/milestones/"]["post"]["responses"]["201"]

    assert set(read["links"]) == {
        "plans_update",
        "plans_partial_update",
        "plans_share_create",
        "plans_reschedule_create",
        "plans_archive_create",
        "plans_request_signatures_create",
    }
    assert read["links"]["plans_partial_update"]["parameters"] == {
        "path.id": "$request.path.id",
        "header.If-Match": "$response.header.ETag",
    }
    assert created["links"]["milestones_destroy"]["parameters"]["path.id"] == ("$response.body#/id")


def test_schema_documents_page_size_bounds_and_cursor(schema):
    lists = [
        operation
        for path, method, operation in _operations(schema)
        if method == "get" and "{" not in path
    ]

    assert len(lists) == 11
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


def test_schema_update_bodies_do_not_ask_for_the_parent(schema):
    """A step stays in its plan and a person on their deal: PUT must not require them."""
    bodies = schema["components"]["schemas"]
    for path, parent in (
        ("/api/v1/milestones/{id}/", "plan"),
        ("/api/v1/stakeholders/{id}/", "deal"),
    ):
        for method in ("put", "patch"):
            ref = schema["paths"][path][method]["requestBody"]["content"]["application/json"]
            body = bodies[ref["schema"]["$ref"].rsplit("/", 1)[1]]
            assert parent not in body.get("required", []), (method, path)
            assert parent not in body["properties"], (method, path)
        created = schema["paths"][path.replace("{id}/", "")]["post"]["requestBody"]["content"]
        assert (
            parent
            in bodies[created["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]]["required"]
        )


def test_schema_blank_addresses_are_documented(schema):
    """The signature log keeps "" for a signer who had no address: not an email format."""
    email = schema["components"]["schemas"]["SignatureEvent"]["properties"]["signer_email"]

    assert {"type": "string", "maxLength": 0} in email["oneOf"]


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
