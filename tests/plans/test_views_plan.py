from datetime import timedelta

import pytest

from plans import services
from plans.models import Activity, DueDateChange, Milestone, Plan, PlanTemplate
from stakeholders.actors import Actor
from stakeholders.models import Stakeholder
from tests.factories import DealFactory, PlanTemplateFactory
from tests.helpers import (
    assert_error_next_to,
    assert_fragment,
    assert_page,
    htmx,
    snapshot,
    url,
)


def deal_url(name, plan_or_deal):
    deal = getattr(plan_or_deal, "deal", plan_or_deal)
    return url(name, deal_id=deal.public_id)


# plan-detail --------------------------------------------------------------------------


def test_plan_detail_without_plan_shows_the_create_form(alice_client, deal):
    response = alice_client.get(deal_url("plans:plan-detail", deal))

    html = assert_page(response)
    assert "Create the mutual action plan" in html
    assert "Enterprise (12 steps)" in html
    assert f'value="{deal.target_close_date.isoformat()}"' in html
    assert ">Create plan</button>" in html


def test_plan_detail_shows_the_whole_plan(alice_client, plan):
    response = alice_client.get(deal_url("plans:plan-detail", plan))

    html = assert_page(response)
    assert "Initech — Platform rollout" in html
    assert html.count('<tr id="milestone-') == 12
    for region in [
        "plan-header",
        "plan-overview",
        "plan-warnings",
        "milestone-table",
        "timeline",
        "stakeholder-panel",
        "activity-feed",
    ]:
        assert f'id="{region}"' in html
    assert "Peter Champion" in html and "Bill Budget" in html
    assert 'aria-label="Status of Signature"' in html
    assert 'data-timeline="{&quot;tasks&quot;: [{' in html
    # Health with its reasons: the Enterprise plan has steps without a buyer owner.
    assert "At risk" in html
    assert "step(s) without a buyer owner" in html
    assert "Only 0 success criteria" in html


@pytest.mark.parametrize(
    "region",
    [
        "plan-header",
        "plan-overview",
        "stakeholder-panel",
        "milestone-table",
        "plan-warnings",
        "activity-feed",
        "timeline",
    ],
)
def test_plan_detail_htmx_region_is_only_that_region(alice_client, plan, region):
    response = alice_client.get(deal_url("plans:plan-detail", plan), **htmx(region))

    html = assert_fragment(response)
    assert html.startswith("<section") and f'id="{region}"' in html.split(">", 1)[0]
    assert html.count('id="plan-header"') == (region == "plan-header")


def test_plan_detail_htmx_unknown_target_is_the_whole_page(alice_client, plan):
    response = alice_client.get(deal_url("plans:plan-detail", plan), **htmx("somewhere"))

    assert_page(response)


def test_plan_detail_shows_slip_history_and_overdue(alice_client, plan, alice):
    milestone = Milestone.objects.get(plan=plan, title="Technical validation")
    services.update_milestone(
        milestone,
        actor=Actor.seller(alice),
        expected_version=1,
        due_date=milestone.due_date + timedelta(days=3),
        reason="Lab not ready",
    )

    html = alice_client.get(plan.get_absolute_url()).content.decode()

    assert "slipped 3 days" in html
    assert "Lab not ready" in html  # in the activity feed


def test_plan_detail_internal_step_shows_no_buyer_owner_gap(alice_client, plan, alice):
    milestone = Milestone.objects.get(plan=plan, title="Technical validation")
    services.update_milestone(
        milestone, actor=Actor.seller(alice), expected_version=1, visibility="internal"
    )

    html = alice_client.get(plan.get_absolute_url()).content.decode()
    row = html[html.index(f'<tr id="{milestone.dom_id}"') :]
    row = row[: row.index("</tr>")]

    assert "Internal" in row
    assert "No buyer owner" not in row


# plan-create --------------------------------------------------------------------------


def test_plan_create_builds_the_plan_from_the_template(alice_client, deal, enterprise, champion):
    target = deal.target_close_date
    while target.weekday() >= 5:
        target += timedelta(days=1)

    response = alice_client.post(
        deal_url("plans:plan-create", deal),
        {"template": enterprise.pk, "target_date": target.isoformat(), "business_outcome": "X"},
    )

    assert response.status_code == 302
    assert response["Location"] == deal.get_absolute_url()
    plan = Plan.objects.get(deal=deal)
    assert plan.milestones.count() == 12
    assert plan.milestones.get(is_signature_step=True).due_date == target
    assert plan.business_outcome == "X"
    html = alice_client.get(response["Location"]).content.decode()
    assert "Plan created." in html


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"target_date": "next friday"}, "id_target_date", "Enter a valid date."),
        ({"target_date": ""}, "id_target_date", "This field is required."),
        ({"template": "999999"}, "id_template", "Select a valid choice."),
    ],
)
def test_plan_create_invalid_is_422_and_creates_nothing(
    alice_client, deal, enterprise, data, field, message
):
    before = snapshot()

    response = alice_client.post(
        deal_url("plans:plan-create", deal),
        {"template": enterprise.pk, "target_date": "2031-03-14", **data},
    )

    html = assert_page(response, 422)
    assert_error_next_to(html, field, message)
    assert snapshot() == before


def test_plan_create_with_another_workspaces_template_is_422(alice_client, deal, globex):
    theirs = PlanTemplateFactory(organization=globex, name="Globex secret")
    before = snapshot()

    response = alice_client.post(
        deal_url("plans:plan-create", deal), {"template": theirs.pk, "target_date": "2031-03-14"}
    )

    assert response.status_code == 422
    assert "Globex secret" not in response.content.decode()
    assert snapshot() == before


def test_plan_create_when_the_deal_has_a_plan_changes_nothing(alice_client, plan, enterprise):
    before = snapshot()

    response = alice_client.post(
        deal_url("plans:plan-create", plan),
        {"template": enterprise.pk, "target_date": "2031-03-14"},
    )

    assert response.status_code == 302
    assert snapshot() == before


# plan-overview ------------------------------------------------------------------------


def test_plan_overview_get_htmx_is_the_form(alice_client, plan):
    response = alice_client.get(deal_url("plans:plan-overview", plan), **htmx("plan-overview"))

    html = assert_fragment(response)
    assert html.startswith('<section id="plan-overview"')
    assert 'name="success_criteria"' in html


def test_plan_overview_get_without_js_is_a_page(alice_client, plan):
    html = assert_page(alice_client.get(deal_url("plans:plan-overview", plan)))

    assert 'name="business_outcome"' in html


def test_plan_overview_post_htmx_saves_and_returns_the_region(alice_client, plan):
    response = alice_client.post(
        deal_url("plans:plan-overview", plan),
        {
            "business_outcome": "Cut ramp from 9 to 5 months",
            "success_criteria": "SSO works\n\n Payback in 12 months \nAdmins trained",
            "review_weekday": "2",
        },
        **htmx("plan-overview"),
    )

    html = assert_fragment(response)
    assert html.startswith('<section id="plan-overview"')
    assert "Cut ramp from 9 to 5 months" in html
    plan.refresh_from_db()
    assert plan.success_criteria == ["SSO works", "Payback in 12 months", "Admins trained"]
    assert plan.review_weekday == 2


def test_plan_overview_post_without_js_redirects(alice_client, plan):
    response = alice_client.post(
        deal_url("plans:plan-overview", plan),
        {"business_outcome": "Y", "success_criteria": "", "review_weekday": "0"},
    )

    assert response.status_code == 302
    plan.refresh_from_db()
    assert plan.business_outcome == "Y"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"success_criteria": "\n".join(f"c{i}" for i in range(11))},
            "id_success_criteria",
            "Keep it to at most 10 criteria",
        ),
        ({"review_weekday": "6"}, "id_review_weekday", "Select a valid choice."),
        ({"business_outcome": "x" * 301}, "id_business_outcome", "at most 300 characters"),
    ],
)
def test_plan_overview_invalid_is_422_and_changes_nothing(alice_client, plan, data, field, message):
    before = snapshot()

    response = alice_client.post(
        deal_url("plans:plan-overview", plan),
        {"business_outcome": "", "success_criteria": "", "review_weekday": "0", **data},
        **htmx("plan-overview"),
    )

    html = assert_fragment(response, 422)
    assert_error_next_to(html, field, message)
    assert snapshot() == before


# plan-reschedule ----------------------------------------------------------------------


def test_plan_reschedule_moves_open_steps_with_the_reason(alice_client, plan):
    new_target = plan.target_signature_date + timedelta(days=7)

    response = alice_client.post(
        deal_url("plans:plan-reschedule", plan),
        {"target_date": new_target.isoformat(), "reason": "CFO on leave"},
        follow=True,
    )

    assert "Rescheduled: 12 step(s) moved." in response.content.decode()
    plan.refresh_from_db()
    assert plan.target_signature_date == new_target
    assert plan.milestones.get(is_signature_step=True).due_date == new_target
    assert set(DueDateChange.objects.values_list("reason", flat=True)) == {"CFO on leave"}


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"target_date": "14.03.2031"}, "id_target_date", "Enter a valid date."),
        ({"reason": "   "}, "id_reason", "This field is required."),
    ],
)
def test_plan_reschedule_invalid_is_422_next_to_the_field(alice_client, plan, data, field, message):
    before = snapshot()

    response = alice_client.post(
        deal_url("plans:plan-reschedule", plan),
        {"target_date": "2031-03-14", "reason": "x", **data},
    )

    html = assert_page(response, 422)
    assert_error_next_to(html, field, message)
    assert snapshot() == before


def test_plan_reschedule_invalid_htmx_is_the_form(alice_client, plan):
    response = alice_client.post(
        deal_url("plans:plan-reschedule", plan),
        {"target_date": "", "reason": "x"},
        **htmx("reschedule-form"),
    )

    html = assert_fragment(response, 422)
    assert html.startswith('<form id="reschedule-form"')


# share / archive ----------------------------------------------------------------------


def test_plan_share_marks_the_plan_shared(alice_client, plan):
    response = alice_client.post(deal_url("plans:plan-share", plan), follow=True)

    assert "Plan marked as shared with the buyer." in response.content.decode()
    plan.refresh_from_db()
    assert plan.status == "shared"
    assert ">Share plan</button>" not in response.content.decode()


def test_plan_archive_makes_it_read_only_and_restore_undoes_it(alice_client, plan):
    response = alice_client.post(
        deal_url("plans:plan-archive", plan), {"archived": "1"}, follow=True
    )

    html = response.content.decode()
    assert "Plan archived." in html
    assert "Archived" in html and ">Restore plan</button>" in html
    assert "Add milestone" not in html
    assert 'aria-label="Status of Signature"' not in html
    plan.refresh_from_db()
    assert plan.is_archived

    alice_client.post(deal_url("plans:plan-archive", plan), {"archived": "0"})

    plan.refresh_from_db()
    assert not plan.is_archived


def archived_edits(plan, champion):
    milestone = plan.milestones.get(title="Technical validation")
    m = {"milestone_id": milestone.public_id}
    d = {"deal_id": plan.deal.public_id}
    s = {"stakeholder_id": champion.public_id}
    return [
        ("plans:plan-overview", d, {"business_outcome": "x", "review_weekday": "0"}),
        ("plans:plan-reschedule", d, {"target_date": "2031-03-14", "reason": "x"}),
        ("plans:plan-share", d, {}),
        ("plans:milestone-add", d, {"add-title": "x", "add-phase": "close"}),
        ("plans:milestone-edit", m, {"title": "x"}),
        ("plans:milestone-status", m, {"status": "done"}),
        ("plans:milestone-move", m, {"direction": "down"}),
        ("plans:milestone-delete", m, {}),
        ("plans:stakeholder-add", d, {"sh-name": "x", "sh-role": "champion"}),
        ("plans:stakeholder-edit", s, {}),
        ("plans:stakeholder-remove", s, {}),
    ]


def test_archived_plan_refuses_every_edit(alice_client, plan, alice, champion):
    services.archive_plan(plan, actor=Actor.seller(alice), archived=True)
    before = snapshot()

    for name, kwargs, data in archived_edits(plan, champion):
        for headers in ({}, htmx()):
            response = alice_client.post(url(name, **kwargs), data, **headers)
            assert response.status_code == 409, name
            assert "archived" in response.content.decode()

    assert snapshot() == before


# save as template ---------------------------------------------------------------------


def test_plan_save_template_creates_a_workspace_template(alice_client, plan, acme):
    response = alice_client.post(
        deal_url("plans:plan-save-template", plan),
        {"template-name": "Initech way", "template-description": "12 steps"},
        follow=True,
    )

    assert "Saved as template “Initech way”." in response.content.decode()
    template = PlanTemplate.objects.get(organization=acme, name="Initech way")
    assert template.steps.count() == 12


def test_plan_save_template_without_name_is_422(alice_client, plan):
    before = snapshot()

    response = alice_client.post(
        deal_url("plans:plan-save-template", plan), {"template-name": "  "}
    )

    html = assert_page(response, 422)
    assert_error_next_to(html, "id_template-name", "Give the template a name.")
    assert snapshot() == before


# transfer -----------------------------------------------------------------------------


def test_deal_transfer_to_a_member(alice_client, plan, bob):
    response = alice_client.post(
        deal_url("plans:deal-transfer", plan), {"owner": bob.pk}, follow=True
    )

    assert "Deal transferred to Bob Manager." in response.content.decode()
    plan.deal.refresh_from_db()
    assert plan.deal.owner == bob
    assert Stakeholder.objects.get(deal=plan.deal, role="ae").user == bob
    assert Activity.objects.filter(verb=Activity.Verb.DEAL_TRANSFERRED).exists()


def test_deal_transfer_to_someone_of_another_workspace_is_422(alice_client, plan, charlie):
    before = snapshot()

    response = alice_client.post(deal_url("plans:deal-transfer", plan), {"owner": charlie.pk})

    html = assert_page(response, 422)
    assert_error_next_to(html, "id_owner", "Select a valid choice.")
    assert "Charlie" not in html
    assert snapshot() == before


def test_deal_transfer_of_a_deal_without_plan(alice_client, acme, alice, bob):
    deal = DealFactory(organization=acme, owner=alice)

    response = alice_client.post(deal_url("plans:deal-transfer", deal), {"owner": bob.pk})

    assert response.status_code == 302
    deal.refresh_from_db()
    assert deal.owner == bob


# POST-only endpoints ------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "plans:plan-create",
        "plans:plan-reschedule",
        "plans:plan-share",
        "plans:plan-archive",
        "plans:plan-save-template",
        "plans:deal-transfer",
        "plans:milestone-add",
        "plans:stakeholder-add",
    ],
)
def test_plan_post_only_endpoints_refuse_get(alice_client, plan, name):
    assert alice_client.get(deal_url(name, plan)).status_code == 405
