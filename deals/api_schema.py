"""The API's OpenAPI schema, post-processed (`document_error_responses`, named in
SPECTACULAR_SETTINGS): what the API answers besides its success responses, and the headers
of its conditional requests, added to every operation in one place, so that the schema and
the contract cannot drift apart per view. The API key's security scheme is declared beside
its authentication class (deals/authentication.py)."""

from __future__ import annotations

from .api import ETAG_LIST_PATTERN

# What the API answers besides its success responses, and the headers of its conditional
# requests, added to every operation by `document_error_responses` (one place, so that the
# schema and the contract cannot drift apart per view).


ERROR_EXAMPLES = {
    "400": {"name": ["This field may not be blank."]},
    "401": {"detail": "Invalid or revoked API key."},
    "403": {"detail": "Built-in templates are read-only: create your own from it."},
    "404": {"detail": "Not found."},
    "409": {"detail": "This plan is archived: restore it before editing."},
    "412": {
        "detail": "This resource changed since you read it: nothing was saved. Read it again "
        "(its current ETag is in this response) and retry."
    },
    "415": {"detail": 'Unsupported media type "text/plain" in request.'},
    "428": {
        "detail": "Send the If-Match header with the ETag of your last read of this resource "
        "(updates without it could overwrite someone else's change)."
    },
    "429": {"detail": "Request was throttled. Expected available in 12 seconds."},
}
ERROR_RESPONSES = {
    "400": (
        "Invalid input, nothing changed: field name (or `non_field_errors`, or a query "
        "parameter such as `page_size`) → messages.",
        "ValidationError",
    ),
    "401": ("No credentials, or an invalid or revoked API key.", "Error"),
    "403": ("Not allowed (e.g. a built-in template, or no workspace named).", "Error"),
    "404": (
        "Not found in this workspace (other workspaces' ids are 404 too), or a `cursor` "
        "that is not one of ours.",
        "Error",
    ),
    "429": ("Too many requests for this key: retry after Retry-After seconds.", "Error"),
}
WRITE_RESPONSES = {
    "409": (
        "Refused by the current state, nothing changed; `detail` says why: an archived plan "
        "(restore it first), a deal that already has a plan, signers missing for a signature "
        "request, a stakeholder who cannot be invited.",
        "Error",
    ),
    "415": ("The body must be JSON (Content-Type: application/json).", "Error"),
}
PRECONDITION_RESPONSES = {
    "412": (
        "If-Match names a version that is no longer current: someone changed the resource "
        "since you read it. Nothing was saved; the response's ETag is the current version: "
        "read the resource again and retry.",
        "Error",
    ),
    "428": (
        "If-Match is missing where it is required, is `*`, or is not a list of quoted ETags: "
        "send the ETag of your last read of this resource.",
        "Error",
    ),
}
ETAG_HEADER = {
    "schema": {"type": "string"},
    "description": "The version of the resource: send it back in If-Match to change it, or "
    "in If-None-Match to read it only if it changed.",
}
WRITE_METHODS = {"post", "put", "patch", "delete"}


def _if_match(*, required: bool) -> dict:
    if required:
        description = (
            "Required: the ETag of your last read of this resource (428 without it or for "
            "`*`, 412 if it is no longer current)."
        )
    else:
        description = (
            "Optional: when sent, the change applies only if the resource is still at this "
            "ETag (412 otherwise). `*` is refused (428): leave the header out instead."
        )
    return {
        "in": "header",
        "name": "If-Match",
        "required": required,
        # `format` names the syntax for tools (schemathesis draws such values from it).
        "schema": {
            "type": "string",
            "format": "etag-list",
            "pattern": ETAG_LIST_PATTERN,
            "example": '"3"',
        },
        "description": description,
    }


IF_NONE_MATCH = {
    "in": "header",
    "name": "If-None-Match",
    "required": False,
    "schema": {"type": "string"},
    "description": "The ETag of a copy you hold: 304 without a body while it is current.",
}


# A text field that may not be blank is refused when it holds only whitespace (DRF trims
# it first): "at least one character that is not whitespace" is the rule, which this pattern
# states (JSON Schema patterns match anywhere in the value; Python's `\s` is str.isspace).
NOT_BLANK_PATTERN = r"\S"


def _require_non_whitespace(schema: dict) -> None:
    """Add NOT_BLANK_PATTERN to the plain strings of `schema` that must not be blank."""
    if schema.get("type") == "string":
        if schema.get("minLength", 0) >= 1 and not {"format", "enum", "pattern"} & set(schema):
            schema["pattern"] = NOT_BLANK_PATTERN
        return
    for child in (schema.get("properties") or {}).values():
        _require_non_whitespace(child)
    if isinstance(schema.get("items"), dict):
        _require_non_whitespace(schema["items"])


def _json_response(description: str, component: str, code: str) -> dict:
    media = {"schema": {"$ref": f"#/components/schemas/{component}"}}
    if code in ERROR_EXAMPLES:
        media["example"] = ERROR_EXAMPLES[code]
    return {"description": description, "content": {"application/json": media}}


def _schema_ref(response: dict | None) -> str | None:
    if not response:
        return None
    return response.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")


def _links_to_changes(paths: dict, resource_path: str, *, id_expression: str) -> dict:
    """OpenAPI links from a response that carries a resource and its ETag to every operation
    that changes it, with the id and that ETag as If-Match: the lost-update contract in a
    form that tools follow (a client generator's docs, schemathesis' stateful phase)."""
    links = {}
    for path, operations in paths.items():
        if not path.startswith(resource_path):
            continue
        for method, operation in operations.items():
            if method not in WRITE_METHODS or "operationId" not in operation:
                continue
            links[operation["operationId"]] = {
                "operationId": operation["operationId"],
                "parameters": {
                    "path.id": id_expression,
                    "header.If-Match": "$response.header.ETag",
                },
                "description": f"{method.upper()} {path} on this version of the resource.",
            }
    return links


def document_error_responses(result, generator, request, public):
    """drf-spectacular post-processing: every operation's error responses with their JSON
    bodies, and the conditional-request contract:

    - reads of one resource (`GET …/{id}/`) answer an ETag, and take If-None-Match (304);
    - PUT and PATCH require If-Match (428 without it, 412 when stale); DELETE and the
      actions on one resource (`POST …/{id}/<action>/`) check it when sent;
    - the responses that carry the resource (reads, updates, creations, actions that answer
      it) carry its ETag, and so does a 412 (the current version).
    """
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault(
        "Error",
        {
            "type": "object",
            "properties": {"detail": {"type": "string"}},
            "required": ["detail"],
        },
    )
    schemas.setdefault(
        "ValidationError",
        {
            "type": "object",
            "description": "Field name (or `non_field_errors`, or the query parameter) → list "
            "of messages; a nested field (e.g. a template's `steps`) → its own errors.",
            "additionalProperties": True,
        },
    )
    for name, component in schemas.items():
        if name.endswith("Request"):  # request bodies (COMPONENT_SPLIT_REQUEST)
            _require_non_whitespace(component)
    paths = result.get("paths", {})
    for path, operations in paths.items():
        is_detail = path.endswith("/{id}/")
        is_action = "/{id}/" in path and not is_detail
        resource_path = path.split("/{id}/")[0] + "/{id}/" if "/{id}/" in path else path + "{id}/"
        read = paths.get(resource_path, {}).get("get", {})
        read_ref = _schema_ref(read.get("responses", {}).get("200"))
        for method, operation in operations.items():
            if method not in {"get", *WRITE_METHODS}:
                continue
            responses = operation.setdefault("responses", {})
            parameters = operation.setdefault("parameters", [])
            for parameter in parameters:
                if parameter.get("in") == "query":
                    _require_non_whitespace(parameter.get("schema", {}))
            extra = dict(ERROR_RESPONSES)
            if method in WRITE_METHODS:
                extra.update(WRITE_RESPONSES)
            checks_if_match = method in WRITE_METHODS and (is_detail or is_action)
            if checks_if_match:
                extra.update(PRECONDITION_RESPONSES)
                if not any(p.get("name") == "If-Match" for p in parameters):
                    parameters.append(_if_match(required=method in {"put", "patch"}))
            for code, (description, component) in extra.items():
                responses.setdefault(code, _json_response(description, component, code))
            responses["401"].setdefault("headers", {})["WWW-Authenticate"] = {
                "schema": {"type": "string"},
                "required": True,
                "description": 'How to authenticate: `Bearer realm="api"`.',
            }
            responses["429"].setdefault("headers", {})["Retry-After"] = {
                "schema": {"type": "integer"},
                "description": "Seconds to wait before the next request with this key.",
            }
            if checks_if_match:
                responses["412"].setdefault("headers", {})["ETag"] = {
                    **ETAG_HEADER,
                    "required": True,
                }
            # The responses that carry the resource carry its ETag.
            carries_resource = [
                code
                for code in ("200", "201")
                if code in responses
                and read_ref is not None
                and _schema_ref(responses[code]) == read_ref
                and (method != "get" or is_detail)
            ]
            for code in carries_resource:
                responses[code].setdefault("headers", {})["ETag"] = {
                    **ETAG_HEADER,
                    "required": True,
                }
                created = code == "201"
                links = _links_to_changes(
                    paths,
                    resource_path,
                    id_expression="$response.body#/id" if created else "$request.path.id",
                )
                if links:
                    responses[code].setdefault("links", {}).update(links)
            if method == "get" and is_detail and read_ref is not None:
                parameters.append(IF_NONE_MATCH)
                responses.setdefault(
                    "304",
                    {
                        "description": "Not modified: If-None-Match named the current ETag.",
                        "headers": {"ETag": {**ETAG_HEADER, "required": True}},
                    },
                )
    return result
