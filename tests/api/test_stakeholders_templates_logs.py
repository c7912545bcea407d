"""/api/v1/stakeholders/, /templates/, /date-changes/ and /activity/."""

from plans.models import Activity, Milestone, PlanTemplate
from stakeholders.models import Stakeholder

from .conftest import make_deal

# Stakeholders ---------------------------------------------------------------------------


def test_stakeholder_create_fills_owner_gaps(api, acme_plan):
    response = api.post(
        "/api/v1/stakeholders/",
        {
            "deal": str(acme_plan.deal.public_id),
            "name": "Lee Legal",
            "email": "lee@initech.test",
            "role": "legal_reviewer",
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["side"] == "buyer" and body["is_required_signer"] is False
    stakeholder = Stakeholder.objects.get(public_id=body["id"])
    assert Milestone.objects.filter(buyer_owner=stakeholder).exists()
    assert Activity.objects.filter(plan=acme_plan, verb="stakeholder_added").exists()


def test_stakeholder_validation(api, acme, alice, acme_plan):
    response = api.post(
        "/api/v1/stakeholders/",
        {
            "deal": str(acme_plan.deal.public_id),
            "name": "",
            "email": "not-an-email",
            "role": "champion",
            "user": str(alice.public_id),
        },
        format="json",
    )

    assert response.status_code == 400
    assert set(response.json()) == {"name", "email"}
    linked = api.post(
        "/api/v1/stakeholders/",
        {
            "deal": str(acme_plan.deal.public_id),
            "name": "X",
            "role": "champion",
            "user": str(alice.public_id),
        },
        format="json",
    )
    assert linked.status_code == 400 and set(linked.json()) == {"user"}


def test_stakeholder_update_and_delete_with_if_match(api, acme_plan):
    stakeholder = Stakeholder.objects.get(deal=acme_plan.deal, side="buyer")
    url = f"/api/v1/stakeholders/{stakeholder.public_id}/"
    etag = api.get(url)["ETag"]

    missing = api.patch(url, {"title": "CFO"}, format="json")
    ok = api.patch(url, {"title": "CFO"}, format="json", HTTP_IF_MATCH=etag)
    stale = api.delete(url, HTTP_IF_MATCH=etag)
    deleted = api.delete(url, HTTP_IF_MATCH=ok["ETag"])

    assert missing.status_code == 428
    assert ok.status_code == 200 and ok.json()["title"] == "CFO"
    assert stale.status_code == 412
    assert deleted.status_code == 204
    assert not Stakeholder.objects.filter(pk=stakeholder.pk).exists()


def test_stakeholder_deal_cannot_change(api, acme, alice, acme_plan):
    stakeholder = Stakeholder.objects.get(deal=acme_plan.deal, side="buyer")
    other = make_deal(acme, alice, name="Other")
    url = f"/api/v1/stakeholders/{stakeholder.public_id}/"

    etag = api.get(url)["ETag"]

    response = api.patch(url, {"deal": str(other.public_id)}, format="json", HTTP_IF_MATCH=etag)

    assert response.status_code == 200
    stakeholder.refresh_from_db()
    assert stakeholder.deal == acme_plan.deal


def test_stakeholder_other_workspace_is_404(api, globex_plan):
    stakeholder = Stakeholder.objects.filter(deal=globex_plan.deal).first()
    url = f"/api/v1/stakeholders/{stakeholder.public_id}/"

    assert api.get(url).status_code == 404
    assert api.delete(url).status_code == 404
    assert Stakeholder.objects.filter(pk=stakeholder.pk).exists()
    assert api.get("/api/v1/stakeholders/").json()["results"] == []


# Templates ------------------------------------------------------------------------------

STEPS = [
    {"title": "Business case", "duration_days": 5, "buyer_role": "champion", "seller_role": "ae"},
    {"title": "Sign", "buyer_role": "economic_buyer", "is_signature_step": True},
]


def test_template_list_has_built_ins_and_own(api, acme, globex):
    PlanTemplate.objects.create(organization=acme, name="Acme own")
    PlanTemplate.objects.create(organization=globex, name="Globex own")

    names = [t["name"] for t in api.get("/api/v1/templates/").json()["results"]]
    own = api.get("/api/v1/templates/", {"built_in": "false"}).json()["results"]

    assert "Acme own" in names and "Core (8 steps)" in names and "Globex own" not in names
    assert [t["name"] for t in own] == ["Acme own"]


def test_template_create_update_delete(api, acme):
    created = api.post("/api/v1/templates/", {"name": "Mid-market", "steps": STEPS}, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert [s["position"] for s in body["steps"]] == [1, 2]
    url = f"/api/v1/templates/{body['id']}/"

    updated = api.patch(
        url, {"steps": STEPS[:1], "name": "Renamed"}, format="json", HTTP_IF_MATCH=created["ETag"]
    )
    deleted = api.delete(url, HTTP_IF_MATCH=updated["ETag"])

    assert updated.status_code == 200, updated.json()
    assert updated.json()["name"] == "Renamed" and len(updated.json()["steps"]) == 1
    assert deleted.status_code == 204
    assert not PlanTemplate.objects.filter(public_id=body["id"]).exists()


def test_template_validation(api):
    response = api.post(
        "/api/v1/templates/",
        {"name": "", "steps": [{"title": "", "duration_days": 0, "buyer_role": "ae"}]},
        format="json",
    )

    assert response.status_code == 400
    assert set(response.json()) == {"name", "steps"}
    # DRF reports a nested list's errors by index.
    assert set(response.json()["steps"]["0"]) == {"title", "duration_days", "buyer_role"}


def test_template_built_in_is_read_only(api):
    built_in = PlanTemplate.objects.get(name="Core (8 steps)")
    url = f"/api/v1/templates/{built_in.public_id}/"

    assert api.get(url).status_code == 200
    assert api.patch(url, {"name": "x"}, format="json", HTTP_IF_MATCH="*").status_code == 403
    assert api.delete(url).status_code == 403
    assert PlanTemplate.objects.filter(pk=built_in.pk, name="Core (8 steps)").exists()


def test_template_other_workspace_is_404(api, globex):
    template = PlanTemplate.objects.create(organization=globex, name="Globex own")
    url = f"/api/v1/templates/{template.public_id}/"

    assert api.get(url).status_code == 404
    assert api.delete(url).status_code == 404


# Read-only logs -------------------------------------------------------------------------


def test_activity_list_filters_and_isolation(api, acme_plan, globex_plan):
    response = api.get("/api/v1/activity/", {"plan": str(acme_plan.public_id)})
    verbs = api.get("/api/v1/activity/", {"verb": "plan_created"}).json()["results"]
    everything = api.get("/api/v1/activity/").json()["results"]

    assert response.status_code == 200
    assert {a["plan"] for a in response.json()["results"]} == {str(acme_plan.public_id)}
    assert [a["verb"] for a in verbs] == ["plan_created"]
    assert str(globex_plan.public_id) not in {a["plan"] for a in everything}


def test_logs_are_read_only(api, acme_plan):
    assert api.post("/api/v1/activity/", {}, format="json").status_code == 405
    assert api.post("/api/v1/date-changes/", {}, format="json").status_code == 405


def test_template_patch_steps_must_each_be_complete(api, acme):
    """`steps` replaces all steps, in PATCH too: a step without its title is refused, not
    saved untitled (DRF makes nested fields optional in a partial update)."""
    created = api.post("/api/v1/templates/", {"name": "Mid-market", "steps": STEPS}, format="json")
    url = f"/api/v1/templates/{created.json()['id']}/"

    response = api.patch(
        url, {"steps": [{"phase": "close"}]}, format="json", HTTP_IF_MATCH=created["ETag"]
    )

    assert response.status_code == 400
    assert response.json() == {"steps": {"0": {"title": ["This field is required."]}}}
    assert [s["title"] for s in api.get(url).json()["steps"]] == ["Business case", "Sign"]
