"""/api/v1/plans/: create from a template with a target date, overview edits with
If-Match, share, reschedule, archive; isolation."""

from datetime import timedelta

from plans.models import Activity, DueDateChange, Plan, PlanTemplate

from .conftest import TARGET, make_deal, make_plan


def test_plan_create_from_template_schedules_backwards(api, acme, alice):
    deal = make_deal(acme, alice)
    template = PlanTemplate.objects.get(name="Enterprise (12 steps)")

    response = api.post(
        "/api/v1/plans/",
        {
            "deal": str(deal.public_id),
            "template": str(template.public_id),
            "target_date": TARGET.isoformat(),
            "business_outcome": "Cut ramp time",
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    plan = Plan.objects.get(public_id=body["id"])
    assert plan.deal == deal and body["deal"] == str(deal.public_id)
    assert body["steps_total"] == 12 and body["template_name"] == "Enterprise (12 steps)"
    assert max(m.due_date for m in plan.milestones.filter(phase="close")) <= TARGET
    assert Activity.objects.filter(plan=plan, verb="plan_created").exists()
    assert response["Location"].endswith(f"/api/v1/plans/{plan.public_id}/")


def test_plan_create_twice_is_409(api, acme_plan):
    response = api.post(
        "/api/v1/plans/",
        {"deal": str(acme_plan.deal.public_id), "target_date": TARGET.isoformat()},
        format="json",
    )

    assert response.status_code == 409
    assert response.json() == {"detail": "This deal already has a plan."}


def test_plan_create_validation_and_other_workspace_references(api, acme, alice, globex_plan):
    deal = make_deal(acme, alice)
    globex_template = PlanTemplate.objects.create(organization=globex_plan.organization, name="G")

    foreign_deal = api.post(
        "/api/v1/plans/",
        {"deal": str(globex_plan.deal.public_id), "target_date": TARGET.isoformat()},
        format="json",
    )
    foreign_template = api.post(
        "/api/v1/plans/",
        {"deal": str(deal.public_id), "template": str(globex_template.public_id)},
        format="json",
    )

    assert foreign_deal.status_code == 400 and set(foreign_deal.json()) == {"deal"}
    assert foreign_template.status_code == 400
    assert set(foreign_template.json()) == {"template", "target_date"}
    assert not Plan.objects.filter(deal=deal).exists()


def test_plan_blank_plan_without_template(api, acme, alice):
    deal = make_deal(acme, alice)

    response = api.post(
        "/api/v1/plans/",
        {"deal": str(deal.public_id), "template": None, "target_date": TARGET.isoformat()},
        format="json",
    )

    assert response.status_code == 201 and response.json()["steps_total"] == 0


def test_plan_overview_update_with_if_match(api, acme_plan):
    url = f"/api/v1/plans/{acme_plan.public_id}/"
    etag = api.get(url)["ETag"]

    missing = api.patch(url, {"business_outcome": "A"}, format="json")
    ok = api.patch(
        url,
        {"business_outcome": "Cut ramp", "success_criteria": ["SSO", " ", "Sync"]},
        format="json",
        HTTP_IF_MATCH=etag,
    )
    stale = api.patch(url, {"business_outcome": "B"}, format="json", HTTP_IF_MATCH=etag)

    assert missing.status_code == 428
    assert ok.status_code == 200, ok.json()
    assert ok.json()["success_criteria"] == ["SSO", "Sync"]
    assert ok.json()["version"] == acme_plan.version + 1
    assert stale.status_code == 412
    acme_plan.refresh_from_db()
    assert acme_plan.business_outcome == "Cut ramp"


def test_plan_overview_validation(api, acme_plan):
    url = f"/api/v1/plans/{acme_plan.public_id}/"
    etag = api.get(url)["ETag"]

    response = api.patch(
        url,
        {"success_criteria": ["x"] * 11, "review_weekday": 6, "business_outcome": "x" * 301},
        format="json",
        HTTP_IF_MATCH=etag,
    )

    assert response.status_code == 400
    assert set(response.json()) == {"success_criteria", "review_weekday", "business_outcome"}


def test_plan_share_and_reschedule(api, acme_plan):
    url = f"/api/v1/plans/{acme_plan.public_id}/"
    new_target = TARGET + timedelta(days=14)

    shared = api.post(url + "share/")
    no_reason = api.post(
        url + "reschedule/", {"target_date": new_target.isoformat()}, format="json"
    )
    moved = api.post(
        url + "reschedule/",
        {"target_date": new_target.isoformat(), "reason": "Legal review moved"},
        format="json",
    )

    assert shared.status_code == 200 and shared.json()["status"] == "shared"
    assert no_reason.status_code == 400 and set(no_reason.json()) == {"reason"}
    assert moved.status_code == 200, moved.json()
    assert moved.json()["target_signature_date"] == new_target.isoformat()
    assert DueDateChange.objects.filter(reason="Legal review moved").count() > 0


def test_plan_action_with_stale_if_match_is_412(api, acme_plan):
    url = f"/api/v1/plans/{acme_plan.public_id}/"

    response = api.post(url + "share/", HTTP_IF_MATCH='"stale"')

    assert response.status_code == 412
    acme_plan.refresh_from_db()
    assert acme_plan.status == "draft"


def test_plan_archived_refuses_edits_with_409(api, acme_plan):
    url = f"/api/v1/plans/{acme_plan.public_id}/"
    assert api.post(url + "archive/", {"archived": True}, format="json").status_code == 200
    etag = api.get(url)["ETag"]

    edit = api.patch(url, {"business_outcome": "x"}, format="json", HTTP_IF_MATCH=etag)
    share = api.post(url + "share/")

    assert edit.status_code == 409 and share.status_code == 409


def test_plan_list_filters(api, acme, alice, acme_plan):
    other = make_plan(acme, alice, account_name="Other")
    api.post(f"/api/v1/plans/{other.public_id}/share/")

    def ids(**params):
        response = api.get("/api/v1/plans/", params)
        assert response.status_code == 200, response.json()
        return [p["id"] for p in response.json()["results"]]

    assert ids(status="shared") == [str(other.public_id)]
    assert ids(deal=str(acme_plan.deal.public_id)) == [str(acme_plan.public_id)]
    assert ids(overdue="true") == []
    assert len(ids(archived="false")) == 2


def test_plan_other_workspace_is_404(api, globex_plan):
    url = f"/api/v1/plans/{globex_plan.public_id}/"

    assert api.get(url).status_code == 404
    assert api.post(url + "share/").status_code == 404
    globex_plan.refresh_from_db()
    assert globex_plan.status == "draft"
