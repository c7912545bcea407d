"""The REST API of plans' materials: sections, links (created), files (read), engagement,
isolation between workspaces, and the OpenAPI schema that documents them."""

from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile

from plans import materials
from plans.models import Resource, ResourceSection
from stakeholders.actors import Actor
from stakeholders.models import Stakeholder


def section_of(api, plan, title="Proposal"):
    response = api.post(
        "/api/v1/resource-sections/",
        {"plan": str(plan.public_id), "title": title, "buyer_uploads": True},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()


def test_sections_and_links_are_created_and_listed_with_their_engagement(api, acme_plan):
    section = section_of(api, acme_plan)
    assert section["buyer_uploads"] is True and section["position"] == 1
    step = acme_plan.milestones.first()
    response = api.post(
        "/api/v1/resources/",
        {
            "section": section["id"],
            "title": "Recorded demo",
            "url": "https://video.acme.test/demo",
            "milestone": str(step.public_id),
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    link = response.json()
    assert response["Location"].endswith(f"/api/v1/resources/{link['id']}/")
    assert link["kind"] == "link" and link["visibility"] == "shared" and link["opens"] == 0
    # A file uploaded in the app, opened by a buyer: its version and engagement.
    resource = materials.add_file(
        acme_plan,
        actor=Actor.seller(acme_plan.deal.owner),
        section=ResourceSection.objects.get(public_id=section["id"]),
        upload=SimpleUploadedFile("proposal.pdf", b"%PDF-1.4 x"),
    )
    buyer = Stakeholder.objects.get(deal=acme_plan.deal, email="priya@x.test")
    view = materials.record_open(resource, kind="viewer", stakeholder=buyer)
    materials.record_time(view, {"2": 30}, now=view.started_at + timedelta(minutes=1))
    listed = api.get("/api/v1/resources/", {"plan": str(acme_plan.public_id)}).json()["results"]
    assert [r["title"] for r in listed] == ["Recorded demo", "proposal.pdf"]
    pdf = listed[1]
    assert pdf["file"]["content_type"] == "application/pdf" and pdf["file"]["version"] == 1
    assert (pdf["opens"], pdf["people"], pdf["seconds"]) == (1, 1, 30)
    views = api.get("/api/v1/resource-views/", {"resource": pdf["id"]}).json()["results"]
    assert views[0]["stakeholder_name"] == "Priya Raman" and views[0]["pages"] == {"2": 30}
    assert api.get(f"/api/v1/resources/{pdf['id']}/").json()["opens"] == 1


def test_a_link_must_be_https_and_of_the_same_plan(api, acme_plan, acme, alice):
    from tests.api.conftest import make_plan

    section = section_of(api, acme_plan)
    other = make_plan(acme, alice, account_name="Hooli")
    elsewhere = str(other.milestones.first().public_id)
    for body, field in (
        ({"title": "x", "url": "javascript:alert(1)"}, "url"),
        ({"title": "x", "url": "http://plain.test/"}, "url"),
        ({"title": "x"}, "url"),
        (
            {
                "title": "x",
                "url": "https://x.test/",
                "milestone": elsewhere,
            },
            "milestone",
        ),
    ):
        response = api.post("/api/v1/resources/", {"section": section["id"], **body}, format="json")
        assert response.status_code == 400 and field in response.json(), response.json()
    assert not Resource.objects.exists()


def test_a_link_is_removed(api, acme_plan):
    section = section_of(api, acme_plan)
    link = api.post(
        "/api/v1/resources/",
        {"section": section["id"], "title": "Demo", "url": "https://d.test/"},
        format="json",
    ).json()
    assert api.delete(f"/api/v1/resources/{link['id']}/").status_code == 204
    assert not Resource.objects.exists()


def test_another_workspaces_materials_are_404(api, globex_api, acme_plan, globex_plan):
    section = section_of(api, acme_plan)
    link = api.post(
        "/api/v1/resources/",
        {"section": section["id"], "title": "Demo", "url": "https://d.test/"},
        format="json",
    ).json()
    assert globex_api.get(f"/api/v1/resources/{link['id']}/").status_code == 404
    assert globex_api.delete(f"/api/v1/resources/{link['id']}/").status_code == 404
    assert globex_api.get(f"/api/v1/resource-sections/{section['id']}/").status_code == 404
    assert globex_api.get("/api/v1/resources/").json()["results"] == []
    assert globex_api.get("/api/v1/resource-views/").json()["results"] == []
    response = globex_api.post(
        "/api/v1/resources/",
        {"section": section["id"], "title": "Stolen", "url": "https://x.test/"},
        format="json",
    )
    assert response.status_code == 400  # no such section for Globex
    response = globex_api.post(
        "/api/v1/resource-sections/",
        {"plan": str(acme_plan.public_id), "title": "Stolen"},
        format="json",
    )
    assert response.status_code == 400
    assert Resource.objects.count() == 1 and ResourceSection.objects.count() == 1


def test_the_schema_documents_the_materials(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for path in (
        "/api/v1/resources/",
        "/api/v1/resources/{id}/",
        "/api/v1/resource-sections/",
        "/api/v1/resource-views/",
    ):
        assert path in schema["paths"], path


def test_a_file_is_uploaded_and_gets_new_versions(api, acme_plan, globex_api):
    section = section_of(api, acme_plan)
    response = api.post(
        "/api/v1/resources/files/",
        {
            "section": section["id"],
            "title": "Proposal",
            "file": SimpleUploadedFile("proposal.pdf", b"%PDF-1.4 one"),
        },
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["kind"] == "file" and created["file"]["version"] == 1
    assert created["file"]["name"] == "proposal.pdf" and created["url"] is None
    response = api.post(
        f"/api/v1/resources/{created['id']}/versions/",
        {"file": SimpleUploadedFile("proposal-v2.pdf", b"%PDF-1.4 two")},
        format="multipart",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["file"]["version"] == 2
    # Refused by content, with the reason; nothing added.
    response = api.post(
        "/api/v1/resources/files/",
        {"section": section["id"], "file": SimpleUploadedFile("x.exe", b"MZ\x90\x00" * 8)},
        format="multipart",
    )
    assert response.status_code == 400
    assert "not accepted" in response.json()["file"][0]
    # Another workspace: no such section, no such resource.
    response = globex_api.post(
        "/api/v1/resources/files/",
        {"section": section["id"], "file": SimpleUploadedFile("a.pdf", b"%PDF-1.4 x")},
        format="multipart",
    )
    assert response.status_code == 400 and "section" in response.json()
    response = globex_api.post(
        f"/api/v1/resources/{created['id']}/versions/",
        {"file": SimpleUploadedFile("a.pdf", b"%PDF-1.4 x")},
        format="multipart",
    )
    assert response.status_code == 404
    assert Resource.objects.count() == 1
    assert Resource.objects.get().versions.count() == 2
