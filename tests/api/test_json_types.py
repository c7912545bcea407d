"""Request bodies are taken with the JSON types the schema documents: a wrong type is a 400
naming the field, and nothing changes (DRF alone would turn `0` into false, `5` into "5",
"1" into 1, a number into an amount, and "" into a null reference)."""

import pytest

from plans.models import Milestone, PlanTemplate


def _url(resource, row) -> str:
    return f"/api/v1/{resource}/{row.public_id}/"


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"name": 5}, "name", "Must be a string."),
        ({"amount": 1000}, "amount", 'Must be a string (a decimal number such as "180000.00").'),
        ({"target_close_date": 20260630}, "target_close_date", "Must be a string."),
        ({"owner": ""}, "owner", "Must be an id (a string), or null."),
        ({"stage": ["won"]}, "stage", "Must be a string."),
    ],
)
def test_deal_update_wrong_json_type_is_400_and_nothing_saved(api, acme_plan, body, field, message):
    deal = acme_plan.deal
    url = _url("deals", deal)

    response = api.patch(url, body, format="json", HTTP_IF_MATCH=api.get(url)["ETag"])

    assert response.status_code == 400
    assert response.json() == {field: [message]}
    assert api.get(url).json()["name"] == deal.name


def test_plan_wrong_json_types_are_400(api, acme_plan):
    url = _url("plans", acme_plan)
    etag = api.get(url)["ETag"]

    weekday = api.patch(url, {"review_weekday": "1"}, format="json", HTTP_IF_MATCH=etag)
    criteria = api.patch(url, {"success_criteria": ["ok", 3]}, format="json", HTTP_IF_MATCH=etag)
    archived = api.post(url + "archive/", {"archived": "true"}, format="json")

    assert weekday.json() == {"review_weekday": ["Must be an integer."]}
    assert criteria.json() == {"success_criteria": {"1": ["Must be a string."]}}
    assert archived.status_code == 400
    assert archived.json() == {"archived": ["Must be true or false."]}
    assert api.get(url).json()["archived_at"] is None


def test_milestone_empty_string_reference_is_400_not_null(api, acme_plan):
    body = {"plan": str(acme_plan.public_id), "title": "New", "depends_on": ""}

    response = api.post("/api/v1/milestones/", body, format="json")

    assert response.status_code == 400
    assert response.json() == {"depends_on": ["Must be an id (a string), or null."]}
    assert not Milestone.objects.filter(plan=acme_plan, title="New").exists()


def test_milestone_integer_as_string_is_400(api, acme_plan):
    body = {"plan": str(acme_plan.public_id), "title": "New", "duration_days": "5"}

    response = api.post("/api/v1/milestones/", body, format="json")

    assert response.json() == {"duration_days": ["Must be an integer."]}


def test_template_nested_step_wrong_type_is_400_and_nothing_created(api, acme):
    steps = [{"title": "Kickoff", "is_signature_step": 0}]

    response = api.post("/api/v1/templates/", {"name": "T", "steps": steps}, format="json")

    assert response.status_code == 400
    assert response.json() == {"steps": {"0": {"is_signature_step": ["Must be true or false."]}}}
    assert not PlanTemplate.objects.filter(organization=acme, name="T").exists()


def test_template_steps_not_a_list_is_400(api):
    response = api.post("/api/v1/templates/", {"name": "T", "steps": {"0": {}}}, format="json")

    assert response.json() == {"steps": ["Must be a list."]}


def test_body_of_the_right_types_is_accepted(api, acme_plan):
    body = {
        "plan": str(acme_plan.public_id),
        "title": "New",
        "duration_days": 5,
        "depends_on": None,
        "due_date": None,
    }

    response = api.post("/api/v1/milestones/", body, format="json")

    assert response.status_code == 201, response.json()
