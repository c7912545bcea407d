"""Schemathesis over the whole REST API, as `st run --checks all` would run it: every
operation, every check, every phase (the schema's examples, coverage, fuzzing, and the
stateful phase that chains operations through the schema's links — a read's ETag into the
next change's If-Match — and the links it infers), against a live server with the demo
workspace seeded (deals with plans, milestones, stakeholders, slips, signatures),
authenticated with an API key of that workspace.

The promise: 0 server errors and 0 conformance failures. A failure prints each problem with
a curl command that reproduces it and the response. Marked `schemathesis`: CI runs it once,
with PostgreSQL and Redis (.ci/run).

A bigger run than CI's: `SCHEMATHESIS_MAX_EXAMPLES=100 SCHEMATHESIS_SEED=7 pytest
tests/api/test_schemathesis.py` (the seed is fixed by default, so CI is repeatable).
"""

import os
import string
import threading
import zlib
from contextlib import contextmanager

import pytest
import requests
import schemathesis
from django.core.management import call_command
from django.core.servers.basehttp import WSGIRequestHandler, WSGIServer
from django.core.wsgi import get_wsgi_application
from django.db import connections
from hypothesis import strategies as st
from schemathesis.engine import events, from_schema

from deals import services as deal_services
from deals.api import DEAL_EXAMPLE
from deals.models import Deal, Organization, User
from plans import builtin_templates, material_api
from plans import serializers as examples
from plans.models import (
    Milestone,
    Plan,
    PlanTemplate,
    Resource,
    ResourceSection,
    SignatureEvent,
    TemplateStep,
)
from stakeholders.models import Stakeholder

# Committed rows for the server's threads; the rows of the data migration (the built-in
# templates) come back afterwards for the tests that follow.
pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.schemathesis,
]

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "10"))
SEED = int(os.environ.get("SCHEMATHESIS_SEED", "20261204"))

# Where our contract answers a status that schemathesis' defaults do not expect, and why.
# Nothing here switches a check off.
POSITIVE_DATA_STATUSES = [
    "2xx",
    "3xx",
    "401",
    "403",
    "404",
    "409",
    "429",
    "5xx",
    # A schema-valid If-Match that is not the resource's current ETag: the schema can say
    # what an ETag looks like, not which one is current. The stateful phase sends the real
    # one (from the ETag of the previous response) and gets 200.
    "412",
]
MISSING_HEADER_STATUSES = [
    "400",
    "401",
    "403",
    "406",
    "415",
    "422",
    # If-Match missing on PUT/PATCH: 428 Precondition Required is the status made for it
    # (RFC 6585, section 3).
    "428",
]


# Operations whose input the schema cannot fully describe: a reference must name a row of
# this workspace (a deal, plan, stakeholder, member) and some fields depend on each other
# (a closed deal's closing date, a step due by the plan's target date and owned by a
# stakeholder of the right side, a reason for moving a committed date, a Tandem user only
# on the seller side). Schema-valid input can break those rules: 400 with the field's
# message, nothing changed. The schema says so in the fields' descriptions; schemathesis'
# own advice for such rules (`st explain ST202`) is this per-operation allowance.
CROSS_FIELD_RULES = [
    "POST /api/v1/deals/",
    "PUT /api/v1/deals/{id}/",
    "PATCH /api/v1/deals/{id}/",
    "POST /api/v1/plans/",
    "POST /api/v1/milestones/",
    "PUT /api/v1/milestones/{id}/",
    "PATCH /api/v1/milestones/{id}/",
    "POST /api/v1/stakeholders/",
    "PUT /api/v1/stakeholders/{id}/",
    "PATCH /api/v1/stakeholders/{id}/",
    # A section of a plan of this workspace; a link about a step of the same plan, at an
    # https:// address that is a valid URL.
    "POST /api/v1/resource-sections/",
    "POST /api/v1/resources/",
    # A file's bytes must be of an accepted type (recognised by content), which the schema
    # can only say in words.
    "POST /api/v1/resources/files/",
    "POST /api/v1/resources/{id}/versions/",
]


def _etag_lists():
    """Well-formed If-Match values (the `etag-list` format of the schema). Schemathesis
    builds header values from letters and digits only, so on its own it cannot draw a quoted
    tag and would send `If-Match: 0` as if it were valid."""
    tag = st.text(string.ascii_letters + string.digits, min_size=1, max_size=12)
    entity_tag = st.builds(lambda weak, t: f'{"W/" if weak else ""}"{t}"', st.booleans(), tag)
    return st.lists(entity_tag, min_size=1, max_size=3).map(", ".join)


schemathesis.openapi.format("etag-list", _etag_lists())


# Where references in bodies draw real ids from (most of the time), so that generated
# input reaches the services instead of stopping at "does not exist".
REFERENCES = {
    "body.deal": "deals",
    "body.plan": "plans",
    "body.template": "templates",
    "body.owner": "members",
    "body.user": "members",
    "body.buyer_owner": "stakeholders",
    "body.seller_owner": "stakeholders",
    "body.depends_on": "milestones",
    "body.section": "resource-sections",
    "body.milestone": "milestones",
}
RESOURCES = [
    "deals",
    "plans",
    "milestones",
    "stakeholders",
    "templates",
    "signatures",
    "resources",
    "resource-sections",
]


def schemathesis_config(key: str, ids: dict[str, list[str]]) -> schemathesis.Config:
    """`ids`: resource → ids of the seeded rows, both workspaces' (another workspace's id
    must be a 404, or a 400 "does not exist" in a body)."""
    allow_400 = [
        {
            "include-name": name,
            "checks": {
                "positive_data_acceptance": {"expected-statuses": [*POSITIVE_DATA_STATUSES, "400"]}
            },
        }
        for name in CROSS_FIELD_RULES
    ]
    real_rows = [
        {
            "include-path-regex": f"^/api/v1/{resource}/\\{{id\\}}/",
            "parameters": {"path.id": {"dictionary": resource, "probability": 0.8}},
        }
        for resource in RESOURCES
    ]
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            # Each run starts from the seed alone, not from what earlier runs remembered.
            "cache": {"enabled": False},
            "workers": 1,
            "headers": {"Authorization": f"Bearer {key}"},
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "database": "none",
                # Text never holds U+0000 (PostgreSQL cannot store it): 400, documented in
                # the API's description, which JSON Schema has no keyword for.
                "allow-x00": False,
            },
            "dictionaries": {name: {"values": values} for name, values in ids.items()},
            "parameters": {
                field: {"dictionary": name, "probability": 0.8}
                for field, name in REFERENCES.items()
            },
            "phases": {"enabled": True},
            "checks": {
                "enabled": True,
                "positive_data_acceptance": {"expected-statuses": POSITIVE_DATA_STATUSES},
                "missing_required_header": {"expected-statuses": MISSING_HEADER_STATUSES},
            },
            "operations": [*allow_400, *real_rows],
        }
    )


@contextmanager
def read_before_write(base_url: str, key: str):
    """Half of the valid changes of one resource first read it and send the ETag they got,
    as a client following the contract does; the other half keep the drawn tag (a 412).
    Without this, a drawn If-Match is never current and no change would get past it.
    (`before_call` hooks are global in schemathesis: registered for this run only.)"""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"

    def before_call(context, case, kwargs):
        meta = case.meta
        if (
            meta is None
            or not meta.generation.mode.is_positive
            or "If-Match" not in (case.headers or {})
            or "id" not in (case.path_parameters or {})
            or zlib.crc32(case.id.encode()) % 2
        ):
            return
        resource = case.path.split("{id}/")[0] + "{id}/"
        response = session.get(base_url + resource.format(id=case.path_parameters["id"]))
        if response.status_code == 200:
            case.headers["If-Match"] = response.headers["ETag"]

    schemathesis.hook(before_call)
    try:
        yield
    finally:
        schemathesis.hooks.unregister(before_call)


def _give_example_ids(organization) -> None:
    """The schema's examples name fixed ids (a deal, its owner, plan, step, people, a
    template): give them to the demo's Initech deal, so that the examples phase sends what a
    reader copying them would, and reaches the services instead of a 400."""
    deal = Deal.objects.get(organization=organization, account_name="Initech")
    # Signature events hash their plan's id: the examples' plan must have none yet.
    assert not SignatureEvent.objects.filter(plan__deal=deal).exists()
    User.objects.filter(pk=deal.owner_id).update(public_id=DEAL_EXAMPLE["owner"])
    Deal.objects.filter(pk=deal.pk).update(public_id=examples.DEAL_ID)
    Plan.objects.filter(deal=deal).update(public_id=examples.PLAN_ID)
    deal.plan.milestones.filter(pk=deal.plan.milestones.order_by("position")[0].pk).update(
        public_id=examples.MILESTONE_ID
    )
    people = Stakeholder.objects.filter(deal=deal)
    people.filter(pk=people.filter(role="economic_buyer")[0].pk).update(public_id=examples.BUYER_ID)
    people.filter(pk=people.filter(role="ae")[0].pk).update(public_id=examples.SELLER_ID)
    template = PlanTemplate.objects.create(organization=organization, name="Mid-market")
    PlanTemplate.objects.filter(pk=template.pk).update(public_id=examples.TEMPLATE_ID)
    sections = ResourceSection.objects.filter(plan__deal=deal).order_by("position")
    ResourceSection.objects.filter(pk=sections[0].pk).update(public_id=material_api.SECTION_ID)
    resources = Resource.objects.filter(plan__deal=deal, kind="file").order_by("pk")
    Resource.objects.filter(pk=resources[0].pk).update(public_id=material_api.RESOURCE_ID)


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


@pytest.fixture
def api_server(transactional_db):
    """The WSGI app on 127.0.0.1, one request at a time. Not pytest-django's live_server:
    its thread-per-request server answered in ~45 ms here against ~5 ms for this one, which
    is the difference between a 2-minute and a 20-second run."""
    server = WSGIServer(("127.0.0.1", 0), QuietHandler)
    server.set_app(get_wsgi_application())

    def serve():
        try:
            server.serve_forever(poll_interval=0.1)
        finally:
            connections.close_all()  # the server thread's own connection

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()
    server.server_close()


@pytest.fixture
def demo(settings):
    """The demo workspaces, the schema's example ids on Acme's Initech deal, an API key of
    Acme, and the ids of the seeded rows by resource."""
    settings.API_RATE_LIMIT = "100000/minute"
    if not PlanTemplate.objects.filter(organization=None).exists():
        builtin_templates.install(PlanTemplate, TemplateStep)
    call_command("seed_demo", quiet=True)
    acme = Organization.objects.get(slug="acme")
    _give_example_ids(acme)
    admin = User.objects.get(email="admin@example.com")
    _, key = deal_services.create_api_key(acme, name="Schemathesis", created_by=admin)
    rows = {
        "deals": Deal.objects.all(),
        "plans": Plan.objects.all(),
        "milestones": Milestone.objects.all(),
        "stakeholders": Stakeholder.objects.all(),
        "templates": PlanTemplate.objects.all(),
        "signatures": SignatureEvent.objects.all(),
        "resources": Resource.objects.all(),
        "resource-sections": ResourceSection.objects.all(),
        "members": User.objects.all(),
    }
    ids = {
        name: [str(i) for i in rows.values_list("public_id", flat=True)]
        for name, rows in rows.items()
    }
    return key, ids


def _problems(schema) -> tuple[list[str], dict]:
    problems, seen, phases = [], set(), {}
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            for case_id, checks in recorder.checks.items():
                for check in checks:
                    info = check.failure_info
                    if info is None:
                        continue
                    failure = info.failure
                    key = (recorder.label, check.name, failure.title)
                    if key in seen:
                        continue
                    seen.add(key)
                    interaction = recorder.interactions.get(case_id)
                    response = interaction.response if interaction else None
                    answer = (
                        f"→ {response.status_code} {response.content[:300]!r}" if response else ""
                    )
                    problems.append(
                        f"{recorder.label} [{event.phase}] {check.name}: {failure.title}\n"
                        f"{failure.message}\n{info.code_sample}\n{answer}"
                    )
        elif isinstance(event, events.NonFatalError):
            problems.append(f"{event.label}: error {event.info.format()}")
        elif isinstance(event, events.FatalError):
            problems.append(f"fatal: {event.exception!r}")
        elif isinstance(event, events.PhaseFinished):
            phases[str(event.phase.name)] = str(event.status)
    return problems, phases


def test_api_conforms_under_schemathesis_all_checks_and_phases(api_server, demo):
    key, ids = demo
    schema = schemathesis.openapi.from_url(
        f"{api_server}/api/schema/", config=schemathesis_config(key, ids)
    )

    with read_before_write(api_server, key):
        problems, phases = _problems(schema)

    assert problems == [], f"{len(problems)} problems:\n\n" + "\n\n".join(problems)
    ran = {phase: phases.get(phase) for phase in ("examples", "coverage", "fuzzing", "stateful")}
    assert ran == dict.fromkeys(ran, "success")
