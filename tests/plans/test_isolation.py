"""Tenant isolation of every endpoint of plans/ and deals/: ids of another workspace's deal,
plan, milestone, stakeholder or template answer 404 and change nothing, in both directions,
whether the URL names the requester's workspace or the other one."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from plans import materials
from plans.models import Conversation
from stakeholders.actors import Actor
from tests.factories import DealFactory, MembershipFactory, PlanTemplateFactory, UserFactory
from tests.helpers import htmx, snapshot

# (url name, kind of id in the URL, methods, POST data builder)
ENDPOINTS = [
    ("plans:plan-detail", "deal", ["GET"]),
    ("plans:plan-detail", "bare_deal", ["GET"]),
    ("plans:plan-create", "bare_deal", ["POST"]),
    ("plans:plan-overview", "deal", ["GET", "POST"]),
    ("plans:plan-reschedule", "deal", ["POST"]),
    ("plans:plan-share", "deal", ["POST"]),
    ("plans:plan-archive", "deal", ["POST"]),
    ("plans:plan-save-template", "deal", ["POST"]),
    ("plans:deal-transfer", "deal", ["POST"]),
    ("plans:milestone-add", "deal", ["POST"]),
    ("plans:stakeholder-add", "deal", ["POST"]),
    ("plans:milestone-row", "milestone", ["GET"]),
    ("plans:milestone-edit", "milestone", ["GET", "POST"]),
    ("plans:milestone-status", "milestone", ["POST"]),
    ("plans:milestone-move", "milestone", ["POST"]),
    ("plans:milestone-delete", "milestone", ["POST"]),
    ("plans:stakeholder-edit", "stakeholder", ["GET", "POST"]),
    ("plans:stakeholder-remove", "stakeholder", ["POST"]),
    ("plans:template-edit", "template", ["GET", "POST"]),
    ("plans:template-delete", "template", ["POST"]),
    ("deals:deal-edit", "deal", ["GET", "POST"]),
    ("deals:deal-close", "deal", ["POST"]),
    ("deals:deal-close", "bare_deal", ["POST"]),
    # Shared materials (plans/material_views.py).
    ("plans:section-add", "deal", ["POST"]),
    ("plans:resource-add", "deal", ["GET", "POST"], {"kind": "link"}),
    ("plans:resource-add", "deal", ["GET", "POST"], {"kind": "file"}),
    ("plans:section-edit", "section", ["GET", "POST"]),
    ("plans:section-remove", "section", ["POST"]),
    ("plans:section-move", "section", ["POST"], {"direction": "down"}),
    ("plans:resource-detail", "resource", ["GET"]),
    ("plans:resource-edit", "resource", ["POST"]),
    ("plans:resource-version", "resource", ["POST"]),
    ("plans:resource-move", "resource", ["POST"], {"direction": "down"}),
    ("plans:resource-remove", "resource", ["POST"]),
    ("plans:resource-file", "resource", ["GET"]),
    ("plans:resource-viewer", "resource", ["GET"]),
    ("plans:resource-share", "resource", ["POST"]),
    ("plans:share-link-revoke", "share_link", ["POST"]),
    # Calendars and spreadsheets.
    ("plans:milestone-ics", "milestone", ["GET"]),
    ("plans:plan-export", "deal", ["GET"], {"fmt": "csv"}),
    ("plans:plan-export", "deal", ["GET"], {"fmt": "xlsx"}),
    ("plans:plan-import", "deal", ["GET", "POST"]),
    # Drafting from a conversation.
    ("plans:plan-draft", "deal", ["GET", "POST"]),
    ("plans:conversation", "conversation", ["GET", "POST"]),
]
URL_KWARG = {
    "deal": "deal_id",
    "bare_deal": "deal_id",
    "milestone": "milestone_id",
    "stakeholder": "stakeholder_id",
    "template": "template_id",
    "section": "section_id",
    "resource": "resource_id",
    "share_link": "link_id",
    "conversation": "conversation_id",
}


def victim_objects(plan, requester_user):
    """Ids of the victim's rows, and a POST that would change them if it got through. The
    POST refers to the requester's own people, as an attacker would."""
    deal = plan.deal
    milestone = plan.milestones.order_by("phase", "position")[1]
    stakeholder = deal.stakeholders.filter(side="buyer").first()
    template = PlanTemplateFactory(organization=plan.organization, name="Victim template")
    bare_deal = DealFactory(organization=plan.organization, owner=deal.owner)
    seller = Actor.seller(deal.owner)
    section = materials.add_section(plan, actor=seller, title="Docs", buyer_uploads=True)
    materials.add_section(plan, actor=seller, title="More", buyer_uploads=False)
    resource = materials.add_file(
        plan,
        actor=seller,
        section=section,
        upload=SimpleUploadedFile("victim.pdf", b"%PDF-1.4 victim"),
    )
    share_link, _ = materials.share_resource(resource, actor=seller, email="x@victim.test")
    conversation = Conversation.objects.create(
        organization=plan.organization, plan=plan, text="Victim: legal review by the 14th."
    )
    ids = {
        "deal": deal.public_id,
        "bare_deal": bare_deal.public_id,
        "milestone": milestone.public_id,
        "stakeholder": stakeholder.public_id,
        "template": template.public_id,
        "section": section.public_id,
        "resource": resource.public_id,
        "share_link": share_link.public_id,
        "conversation": conversation.public_id,
    }
    sh = f"sh-{stakeholder.public_id}"
    data = {
        # plan create / reschedule / overview / transfer / save template / close
        "template": "",
        "target_date": "2031-03-14",
        "reason": "moved",
        "business_outcome": "pwned",
        "success_criteria": "pwned",
        "review_weekday": "1",
        "owner": requester_user.pk,
        "archived": "1",
        "template-name": "stolen",
        "name": "stolen",
        "description": "stolen",
        "outcome": "closed_lost",
        "closed_date": "2031-03-14",
        # deal edit
        "account_name": "pwned",
        "amount": "1",
        "currency": "USD",
        "stage": "discovery",
        "target_close_date": "2031-03-14",
        # milestone add / edit / status / move
        "add-title": "pwned",
        "add-phase": "close",
        "add-duration_days": "1",
        "add-visibility": "shared",
        "title": "pwned",
        "phase": milestone.phase,
        "due_date": "",
        "duration_days": "1",
        "status": "done",
        "visibility": "shared",
        "version": milestone.version,
        "direction": "up",
        # stakeholder add / edit
        "sh-name": "pwned",
        "sh-role": "champion",
        f"{sh}-name": "pwned",
        f"{sh}-role": "champion",
        # materials
        "section-title": "pwned",
        "link-section": section.pk,
        "link-title": "pwned",
        "link-url": "https://pwned.test/",
        "edit-section": section.pk,
        "edit-title": "pwned",
        "edit-visibility": "internal",
        "share-email": "thief@evil.test",
        "share-days": "30",
        # drafting: a conversation whose steps would be added
        "action": "apply",
        "call_date": "2026-10-14",
        "text": "Dana Buyer: We need a pilot and a legal review by the 14th.",
        "step-pilot-take": "on",
        "step-pilot-title": "pwned",
        "step-pilot-target": "new",
    }
    return ids, data


CASES = [
    pytest.param(
        name,
        kind,
        method,
        headers,
        extra[0] if extra else {},
        id=f"{name}-{kind}-{method}-{headers}"
        + "".join(f"-{v}" for e in extra for v in e.values()),
    )
    for name, kind, methods, *extra in ENDPOINTS
    for method in methods
    for headers in ("plain", "htmx")
]


def path_of(name, kind, org_slug, ids, extra):
    """The URL of `name` with the id of `kind` (and the URL's other parts, `extra`)."""
    return reverse(name, kwargs={"org_slug": org_slug, URL_KWARG[kind]: ids[kind], **extra})


def request(client, method, path, data, headers):
    extra = htmx() if headers == "htmx" else {}
    if method == "GET":
        return client.get(path, **extra)
    return client.post(path, data, **extra)


@pytest.mark.parametrize(("name", "kind", "method", "headers", "extra"), CASES)
def test_globex_member_gets_404_for_acme_ids(
    client, plan, globex_plan, charlie, name, kind, method, headers, extra
):
    """charlie (Globex) with Acme ids, under /o/globex/ and under /o/acme/."""
    ids, data = victim_objects(plan, charlie)
    before = snapshot()
    client.force_login(charlie)

    for org_slug in ("globex", "acme"):
        path = path_of(name, kind, org_slug, ids, extra)
        response = request(client, method, path, data, headers)
        assert response.status_code == 404, (org_slug, response.content[:300])

    assert snapshot() == before


@pytest.mark.parametrize(("name", "kind", "method", "headers", "extra"), CASES)
def test_acme_member_gets_404_for_globex_ids(
    client, plan, globex_plan, alice, name, kind, method, headers, extra
):
    """alice (Acme) with Globex ids, under /o/acme/ and under /o/globex/."""
    ids, data = victim_objects(globex_plan, alice)
    before = snapshot()
    client.force_login(alice)

    for org_slug in ("acme", "globex"):
        path = path_of(name, kind, org_slug, ids, extra)
        response = request(client, method, path, data, headers)
        assert response.status_code == 404, (org_slug, response.content[:300])

    assert snapshot() == before


@pytest.mark.parametrize(("name", "kind", "method", "headers", "extra"), CASES)
def test_own_ids_are_not_404(client, plan, alice, name, kind, method, headers, extra):
    """The same requests with the requester's own ids get through (so the 404s above come
    from the tenancy checks, not from a broken request)."""
    ids, data = victim_objects(plan, alice)
    client.force_login(alice)
    path = path_of(name, kind, "acme", ids, extra)

    response = request(client, method, path, data, headers)

    assert response.status_code != 404


def test_milestone_add_after_a_step_of_another_workspace_adds_at_the_end(
    alice_client, plan, globex_plan
):
    """The "after" position only accepts steps of the same plan."""
    theirs = globex_plan.milestones.first()
    before = snapshot()["Milestone"]

    alice_client.post(
        reverse("plans:milestone-add", kwargs={"org_slug": "acme", "deal_id": plan.deal.public_id}),
        {
            "add-title": "Mine",
            "add-phase": "close",
            "add-duration_days": "1",
            "add-visibility": "shared",
            "after": str(theirs.public_id),
        },
    )

    after = snapshot()["Milestone"]
    theirs_before = [row for row in before if row["plan_id"] == globex_plan.pk]
    assert [row for row in after if row["plan_id"] == globex_plan.pk] == theirs_before
    assert plan.milestones.filter(phase="close").order_by("position").last().title == "Mine"


@pytest.mark.parametrize(
    ("name", "kwarg"),
    [
        ("deals:member-role", "member_id"),
        ("deals:member-remove", "member_id"),
    ],
)
def test_settings_endpoints_other_workspace_member_is_404(client, acme, globex, name, kwarg):
    acme_admin = MembershipFactory(organization=acme, user=UserFactory(), role="admin").user
    victim = MembershipFactory(organization=globex, user=UserFactory(), role="admin")
    before = list(globex.memberships.values_list("pk", "role"))
    client.force_login(acme_admin)

    response = client.post(
        reverse(name, kwargs={"org_slug": "acme", kwarg: victim.public_id}), {"role": "seller"}
    )

    assert response.status_code == 404
    assert list(globex.memberships.values_list("pk", "role")) == before


def test_stakeholder_of_another_workspace_cannot_own_a_step(alice_client, plan, globex_plan):
    from plans.models import Milestone

    theirs = globex_plan.deal.stakeholders.filter(side="buyer").first()
    milestone = Milestone.objects.filter(plan=plan).first()
    before = snapshot()

    response = alice_client.post(
        reverse(
            "plans:milestone-edit",
            kwargs={"org_slug": "acme", "milestone_id": milestone.public_id},
        ),
        {
            "title": milestone.title,
            "phase": milestone.phase,
            "buyer_owner": theirs.pk,
            "duration_days": milestone.duration_days,
            "status": milestone.status,
            "visibility": milestone.visibility,
            "version": milestone.version,
        },
    )

    assert response.status_code == 422
    assert "Tom Globex" not in response.content.decode()
    assert snapshot() == before
