"""/api/v1/milestones/: CRUD through the services, If-Match with the row version,
slip history, filters, isolation."""

from datetime import timedelta

from django.utils import timezone

from plans.models import Activity, DueDateChange, Milestone
from stakeholders.models import Stakeholder

from .conftest import TARGET


def _first(plan) -> Milestone:
    return plan.milestones.order_by("phase", "position").first()


def test_milestone_get_has_version_etag(api, acme_plan):
    milestone = _first(acme_plan)

    response = api.get(f"/api/v1/milestones/{milestone.public_id}/")

    assert response.status_code == 200
    assert response["ETag"] == f'"{milestone.version}"'
    assert response.json()["plan"] == str(acme_plan.public_id)


def test_milestone_update_requires_if_match(api, acme_plan):
    milestone = _first(acme_plan)

    response = api.patch(
        f"/api/v1/milestones/{milestone.public_id}/", {"title": "New"}, format="json"
    )

    assert response.status_code == 428
    milestone.refresh_from_db()
    assert milestone.title != "New"


def test_milestone_update_stale_version_is_412_and_nothing_saved(api, acme_plan):
    milestone = _first(acme_plan)
    url = f"/api/v1/milestones/{milestone.public_id}/"
    etag = api.get(url)["ETag"]
    first = api.patch(url, {"title": "Mine"}, format="json", HTTP_IF_MATCH=etag)

    second = api.patch(url, {"title": "Theirs"}, format="json", HTTP_IF_MATCH=etag)

    assert first.status_code == 200 and first["ETag"] == f'"{milestone.version + 1}"'
    assert second.status_code == 412
    assert second["ETag"] == first["ETag"]
    milestone.refresh_from_db()
    assert milestone.title == "Mine"


def test_milestone_complete_records_activity(api, acme_plan):
    milestone = _first(acme_plan)
    url = f"/api/v1/milestones/{milestone.public_id}/"

    response = api.patch(url, {"status": "done"}, format="json", HTTP_IF_MATCH=api.get(url)["ETag"])

    assert response.status_code == 200
    assert response.json()["completed_by_name"] == "API key “Salesforce sync”"
    assert Activity.objects.filter(milestone=milestone, verb="milestone_completed").exists()


def test_milestone_moving_committed_date_needs_reason(api, acme_plan):
    milestone = _first(acme_plan)
    url = f"/api/v1/milestones/{milestone.public_id}/"
    new_date = milestone.due_date - timedelta(days=1)
    etag = api.get(url)["ETag"]

    refused = api.patch(url, {"due_date": new_date.isoformat()}, format="json", HTTP_IF_MATCH=etag)
    moved = api.patch(
        url,
        {"due_date": new_date.isoformat(), "reason": "Buyer asked"},
        format="json",
        HTTP_IF_MATCH=etag,
    )

    assert refused.status_code == 400 and set(refused.json()) == {"reason"}
    assert moved.status_code == 200, moved.json()
    change = DueDateChange.objects.get(milestone=milestone)
    assert change.new_date == new_date and change.reason == "Buyer asked"
    listed = api.get("/api/v1/date-changes/", {"milestone": str(milestone.public_id)}).json()
    assert [c["reason"] for c in listed["results"]] == ["Buyer asked"]


def test_milestone_validation_errors(api, acme_plan, globex_plan):
    milestone = _first(acme_plan)
    url = f"/api/v1/milestones/{milestone.public_id}/"
    buyer = Stakeholder.objects.get(deal=acme_plan.deal, side="buyer")
    foreign = Stakeholder.objects.filter(deal=globex_plan.deal, side="seller").first()

    response = api.patch(
        url,
        {
            "due_date": (TARGET + timedelta(days=30)).isoformat(),
            "seller_owner": str(buyer.public_id),
            "buyer_owner": str(foreign.public_id),
            "duration_days": 0,
            "status": "finished",
        },
        format="json",
        HTTP_IF_MATCH=api.get(url)["ETag"],
    )

    assert response.status_code == 400
    assert set(response.json()) == {"duration_days", "status", "buyer_owner"}
    again = api.patch(
        url,
        {
            "due_date": (TARGET + timedelta(days=30)).isoformat(),
            "seller_owner": str(buyer.public_id),
        },
        format="json",
        HTTP_IF_MATCH=api.get(url)["ETag"],
    )
    assert again.status_code == 400 and set(again.json()) == {"due_date", "seller_owner"}


def test_milestone_create_and_delete(api, acme_plan):
    created = api.post(
        "/api/v1/milestones/",
        {
            "plan": str(acme_plan.public_id),
            "title": "Procurement onboarding",
            "due_date": (TARGET - timedelta(days=2)).isoformat(),
            "risk": "procurement",
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    url = f"/api/v1/milestones/{body['id']}/"

    stale = api.delete(url, HTTP_IF_MATCH='"99"')
    deleted = api.delete(url, HTTP_IF_MATCH=created["ETag"])

    assert body["baseline_date"] == body["due_date"]
    assert stale.status_code == 412
    assert deleted.status_code == 204
    assert not Milestone.objects.filter(public_id=body["id"]).exists()
    assert Activity.objects.filter(plan=acme_plan, verb="milestone_deleted").exists()


def test_milestone_create_validation(api, acme_plan):
    response = api.post(
        "/api/v1/milestones/",
        {"plan": str(acme_plan.public_id), "title": "", "phase": "later"},
        format="json",
    )

    assert response.status_code == 400
    assert set(response.json()) == {"title", "phase"}


def test_milestone_list_filters(api, acme_plan):
    late = _first(acme_plan)
    Milestone.objects.filter(pk=late.pk).update(due_date=timezone.localdate() - timedelta(days=2))
    buyer = Stakeholder.objects.get(deal=acme_plan.deal, side="buyer")

    overdue = api.get("/api/v1/milestones/", {"overdue": "true"}).json()["results"]
    owned = api.get("/api/v1/milestones/", {"owner": str(buyer.public_id)}).json()["results"]
    all_steps = api.get("/api/v1/milestones/", {"plan": str(acme_plan.public_id)}).json()

    assert [m["id"] for m in overdue] == [str(late.public_id)] and overdue[0]["is_overdue"]
    assert owned and all(m["buyer_owner"] == str(buyer.public_id) for m in owned)
    dates = [m["due_date"] for m in all_steps["results"]]
    assert dates == sorted(dates)


def test_milestone_other_workspace_is_404(api, globex_plan):
    milestone = _first(globex_plan)
    url = f"/api/v1/milestones/{milestone.public_id}/"

    assert api.get(url).status_code == 404
    assert api.patch(url, {"title": "x"}, format="json", HTTP_IF_MATCH="*").status_code == 404
    assert api.delete(url).status_code == 404
    created = api.post(
        "/api/v1/milestones/", {"plan": str(globex_plan.public_id), "title": "x"}, format="json"
    )
    assert created.status_code == 400
    milestone.refresh_from_db()
    assert milestone.title != "x"
