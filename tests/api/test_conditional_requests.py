"""The If-Match contract on every resource: PUT and PATCH need the ETag of the client's
last read (428 without it, 412 when stale); DELETE and the plan actions check it when
sent; `If-Match: *` is refused (428) everywhere, because it would skip the check."""

import pytest
from django.core import mail

from plans.models import Milestone, PlanTemplate
from stakeholders.models import RoomLink, Stakeholder


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


MALFORMED = ["abc", "", '""', '"a b"', '"3', "W/3", '"3";"4"']


@pytest.mark.parametrize("if_match", MALFORMED)
@pytest.mark.parametrize("resource", sorted(PATCH_BODIES))
def test_update_with_malformed_if_match_is_428_and_nothing_saved(api, rows, resource, if_match):
    url = _url(resource, rows[resource])
    before = api.get(url)

    response = api.patch(url, PATCH_BODIES[resource], format="json", HTTP_IF_MATCH=if_match)

    assert response.status_code == 428
    assert "quoted ETags" in response.json()["detail"]
    assert api.get(url)["ETag"] == before["ETag"]


@pytest.mark.parametrize("if_match", MALFORMED)
def test_optional_if_match_malformed_is_428_and_nothing_done(api, acme_plan, rows, if_match):
    """Where If-Match may be left out, a malformed one is still refused: it is not absent."""
    plan_url = f"/api/v1/plans/{acme_plan.public_id}/"
    stakeholder = rows["stakeholders"]

    responses = [
        api.post(plan_url + "share/", HTTP_IF_MATCH=if_match),
        api.post(plan_url + "archive/", {"archived": True}, format="json", HTTP_IF_MATCH=if_match),
        api.post(f"/api/v1/stakeholders/{stakeholder.public_id}/invite/", HTTP_IF_MATCH=if_match),
        api.delete(_url("milestones", rows["milestones"]), HTTP_IF_MATCH=if_match),
    ]

    assert [r.status_code for r in responses] == [428] * 4
    acme_plan.refresh_from_db()
    assert acme_plan.status == "draft" and acme_plan.archived_at is None
    assert Milestone.objects.filter(pk=rows["milestones"].pk).exists()
    assert not mail.outbox and not RoomLink.objects.exists()


def test_weak_and_listed_etags_match(api, rows):
    url = _url("deals", rows["deals"])
    etag = api.get(url)["ETag"]

    response = api.patch(url, {"name": "Changed"}, format="json", HTTP_IF_MATCH=f'"x", W/{etag}')

    assert response.status_code == 200


INVALID_PATCH_BODIES = {
    "deals": {"stage": "not-a-stage"},
    "plans": {"review_weekday": 99},
    "milestones": {"status": "not-a-status"},
    "stakeholders": {"role": "not-a-role"},
    "templates": {"name": ""},
}


@pytest.mark.parametrize("resource", sorted(INVALID_PATCH_BODIES))
def test_update_invalid_body_with_stale_etag_is_400_not_412(api, rows, resource):
    """A request that could never succeed is told why (400), not to re-read and retry (412)."""
    url = _url(resource, rows[resource])

    response = api.patch(
        url, INVALID_PATCH_BODIES[resource], format="json", HTTP_IF_MATCH='"stale"'
    )

    assert response.status_code == 400, response.json()
    valid = api.patch(url, PATCH_BODIES[resource], format="json", HTTP_IF_MATCH='"stale"')
    assert valid.status_code == 412 and valid["ETag"] == api.get(url)["ETag"]


def test_plan_action_invalid_body_with_stale_etag_is_400_not_412(api, acme_plan):
    url = f"/api/v1/plans/{acme_plan.public_id}/"

    reschedule = api.post(url + "reschedule/", {}, format="json", HTTP_IF_MATCH='"stale"')
    archive = api.post(url + "archive/", {"archived": "x"}, format="json", HTTP_IF_MATCH='"1"')

    assert reschedule.status_code == 400 and "target_date" in reschedule.json()
    assert archive.status_code == 400 and set(archive.json()) == {"archived"}


def test_stakeholder_invite_checks_if_match_when_sent(
    api, rows, django_capture_on_commit_callbacks
):
    stakeholder = rows["stakeholders"]
    url = _url("stakeholders", stakeholder)
    etag = api.get(url)["ETag"]
    api.patch(url, {"email": "new@initech.example"}, format="json", HTTP_IF_MATCH=etag)
    mail.outbox.clear()

    current_etag = api.get(url)["ETag"]

    with django_capture_on_commit_callbacks(execute=True):
        stale = api.post(url + "invite/", HTTP_IF_MATCH=etag)
        current = api.post(url + "invite/", HTTP_IF_MATCH=current_etag)

    assert stale.status_code == 412 and stale["ETag"] == current_etag
    assert current.status_code == 201, current.json()
    assert [m.to for m in mail.outbox] == [["new@initech.example"]]


def test_milestone_stale_etag_on_an_archived_plan_is_412_first(api, acme_plan, rows):
    url = _url("milestones", rows["milestones"])
    etag = api.get(url)["ETag"]
    api.patch(url, {"title": "Theirs"}, format="json", HTTP_IF_MATCH=etag)
    api.post(f"/api/v1/plans/{acme_plan.public_id}/archive/", {"archived": True}, format="json")

    stale = api.patch(url, {"title": "Mine"}, format="json", HTTP_IF_MATCH=etag)
    current = api.patch(url, {"title": "Mine"}, format="json", HTTP_IF_MATCH=api.get(url)["ETag"])

    assert stale.status_code == 412
    assert current.status_code == 409
