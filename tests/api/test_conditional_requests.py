"""The If-Match contract on every resource: PUT and PATCH need the ETag of the client's
last read (428 without it, 412 when stale); DELETE and the plan actions check it when
sent; `If-Match: *` is refused (428) everywhere, because it would skip the check."""

import pytest

from plans.models import Milestone, PlanTemplate
from stakeholders.models import Stakeholder


@pytest.fixture
def rows(acme_plan):
    """One row of each writable resource, by resource name."""
    template = PlanTemplate.objects.create(organization=acme_plan.organization, name="Own")
    return {
        "deals": acme_plan.deal,
        "plans": acme_plan,
        "milestones": acme_plan.milestones.order_by("position").first(),
        "stakeholders": Stakeholder.objects.filter(deal=acme_plan.deal).first(),
        "templates": template,
    }


PUT_BODIES = {
    "deals": lambda body: {
        **{key: body[key] for key in ("account_name", "stage", "target_close_date")},
        "name": "Changed",
    },
    "plans": lambda body: {"business_outcome": "Changed", "success_criteria": []},
    "milestones": lambda body: {"title": "Changed", "plan": body["plan"]},
    "stakeholders": lambda body: {"name": "Changed", "role": body["role"]},
    "templates": lambda body: {"name": "Changed", "steps": []},
}
PATCH_BODIES = {
    "deals": {"name": "Changed"},
    "plans": {"business_outcome": "Changed"},
    "milestones": {"title": "Changed"},
    "stakeholders": {"title": "Changed"},
    "templates": {"name": "Changed"},
}
WILDCARDS = ["*", " * ", '"abc", *', 'W/"1", *']


def _url(resource, row) -> str:
    return f"/api/v1/{resource}/{row.public_id}/"


@pytest.mark.parametrize("wildcard", WILDCARDS)
@pytest.mark.parametrize("method", ["put", "patch"])
@pytest.mark.parametrize("resource", sorted(PATCH_BODIES))
def test_update_with_if_match_star_is_428_and_nothing_saved(api, rows, resource, method, wildcard):
    url = _url(resource, rows[resource])
    before = api.get(url)
    body = PUT_BODIES[resource](before.json()) if method == "put" else PATCH_BODIES[resource]

    response = getattr(api, method)(url, body, format="json", HTTP_IF_MATCH=wildcard)

    assert response.status_code == 428, response.json()
    assert "If-Match: * is not accepted" in response.json()["detail"]
    after = api.get(url)
    assert after["ETag"] == before["ETag"] and after.json() == before.json()


@pytest.mark.parametrize("method", ["put", "patch"])
@pytest.mark.parametrize("resource", sorted(PATCH_BODIES))
def test_update_with_the_etag_read_applies(api, rows, resource, method):
    url = _url(resource, rows[resource])
    before = api.get(url)
    body = PUT_BODIES[resource](before.json()) if method == "put" else PATCH_BODIES[resource]

    response = getattr(api, method)(url, body, format="json", HTTP_IF_MATCH=before["ETag"])

    assert response.status_code == 200, response.json()
    assert response["ETag"] != before["ETag"]


@pytest.mark.parametrize("resource", ["milestones", "stakeholders", "templates"])
def test_delete_with_if_match_star_is_428_and_nothing_deleted(api, rows, resource):
    row = rows[resource]

    response = api.delete(_url(resource, row), HTTP_IF_MATCH="*")

    assert response.status_code == 428
    assert "If-Match: * is not accepted" in response.json()["detail"]
    assert type(row).objects.filter(pk=row.pk).exists()


@pytest.mark.parametrize("resource", ["milestones", "stakeholders", "templates"])
def test_delete_without_if_match_or_with_the_etag_read_applies(api, acme_plan, rows, resource):
    row = rows[resource]
    url = _url(resource, row)
    if resource == "milestones":
        other = Milestone.objects.filter(plan=acme_plan).exclude(pk=row.pk).first()
        assert api.delete(_url(resource, other)).status_code == 204

    response = api.delete(url, HTTP_IF_MATCH=api.get(url)["ETag"])

    assert response.status_code == 204
    assert not type(row).objects.filter(pk=row.pk).exists()


PLAN_ACTIONS = {
    "share": None,
    "reschedule": {"target_date": "2099-01-15", "reason": "Budget moved"},
    "archive": {"archived": True},
    "request-signatures": None,
}


@pytest.mark.parametrize("action", sorted(PLAN_ACTIONS))
def test_plan_action_with_if_match_star_is_428_and_nothing_done(api, acme_plan, action):
    url = f"/api/v1/plans/{acme_plan.public_id}/"
    before = api.get(url)

    response = api.post(url + f"{action}/", PLAN_ACTIONS[action], format="json", HTTP_IF_MATCH="*")

    assert response.status_code == 428
    assert "If-Match: * is not accepted" in response.json()["detail"]
    assert api.get(url).json() == before.json()
    assert not acme_plan.signature_events.exists()


@pytest.mark.parametrize("action", ["share", "archive"])
def test_plan_action_with_the_etag_read_applies(api, acme_plan, action):
    url = f"/api/v1/plans/{acme_plan.public_id}/"
    etag = api.get(url)["ETag"]

    response = api.post(url + f"{action}/", PLAN_ACTIONS[action], format="json", HTTP_IF_MATCH=etag)

    assert response.status_code == 200, response.json()
