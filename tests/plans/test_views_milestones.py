from datetime import timedelta

import pytest

from plans import services
from plans.models import Activity, DueDateChange, Milestone
from stakeholders.actors import Actor
from tests.factories import DealFactory, StakeholderFactory
from tests.helpers import (
    assert_error_next_to,
    assert_fragment,
    assert_page,
    htmx,
    snapshot,
    url,
)


def step(plan, title="Technical validation") -> Milestone:
    return Milestone.objects.get(plan=plan, title=title)


def edit_data(milestone: Milestone, **overrides) -> dict:
    """The POST of the edit form as the page renders it for `milestone`."""
    data = {
        "title": milestone.title,
        "phase": milestone.phase,
        "buyer_owner": milestone.buyer_owner.pk if milestone.buyer_owner else "",
        "seller_owner": milestone.seller_owner.pk if milestone.seller_owner else "",
        "due_date": milestone.due_date.isoformat() if milestone.due_date else "",
        "duration_days": milestone.duration_days,
        "status": milestone.status,
        "risk": milestone.risk,
        "visibility": milestone.visibility,
        "depends_on": milestone.depends_on.pk if milestone.depends_on else "",
        "description": milestone.description,
        "shared_notes": milestone.shared_notes,
        "internal_note": milestone.internal_note,
        "version": milestone.version,
        "reason": "",
    }
    data.update(overrides)
    return data


def add_data(**overrides) -> dict:
    data = {
        "add-title": "Reference call",
        "add-phase": "close",
        "add-buyer_owner": "",
        "add-seller_owner": "",
        "add-due_date": "",
        "add-duration_days": 1,
        "add-risk": "",
        "add-visibility": "shared",
    }
    data.update(overrides)
    return data


# milestone-add ------------------------------------------------------------------------


def test_milestone_add_htmx_returns_the_table_with_the_new_step(alice_client, plan):
    response = alice_client.post(
        url("plans:milestone-add", deal_id=plan.deal.public_id),
        add_data(**{"add-due_date": plan.target_signature_date.isoformat()}),
        **htmx("milestone-table"),
    )

    html = assert_fragment(response)
    assert html.startswith('<section id="milestone-table"')
    assert "Reference call" in html
    added = step(plan, "Reference call")
    assert added.baseline_date == plan.target_signature_date


def test_milestone_add_without_js_redirects_to_the_plan(alice_client, plan):
    response = alice_client.post(
        url("plans:milestone-add", deal_id=plan.deal.public_id), add_data()
    )

    assert response.status_code == 302
    assert response["Location"] == plan.get_absolute_url()
    assert step(plan, "Reference call").position == 12


def test_milestone_add_at_a_position(alice_client, plan):
    first = step(plan)

    alice_client.post(
        url("plans:milestone-add", deal_id=plan.deal.public_id),
        {**add_data(), "after": str(first.public_id)},
        **htmx(),
    )

    titles = list(
        Milestone.objects.filter(plan=plan, phase="close")
        .order_by("position")
        .values_list("title", flat=True)
    )
    assert titles[:3] == ["Technical validation", "Reference call", "Economic buyer alignment call"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("title", "", "Give the step a title."),
        ("due_date", "31/12/2030", "Enter a valid date."),
        ("duration_days", "0", "A step lasts at least 1 business day."),
    ],
)
def test_milestone_add_invalid_is_422_next_to_the_field_and_adds_nothing(
    alice_client, plan, field, value, message
):
    before = snapshot()

    response = alice_client.post(
        url("plans:milestone-add", deal_id=plan.deal.public_id),
        add_data(**{f"add-{field}": value}),
        **htmx("milestone-table"),
    )

    html = assert_fragment(response, 422)
    assert_error_next_to(html, f"id_add-{field}", message)
    # The table stays (the form swaps the whole table region).
    assert html.startswith('<section id="milestone-table"')
    assert "Technical validation" in html
    assert snapshot() == before


def test_milestone_add_close_step_after_the_target_is_422(alice_client, plan):
    before = snapshot()
    late = plan.target_signature_date + timedelta(days=3)

    response = alice_client.post(
        url("plans:milestone-add", deal_id=plan.deal.public_id),
        add_data(**{"add-due_date": late.isoformat()}),
        **htmx("milestone-table"),
    )

    html = assert_fragment(response, 422)
    assert_error_next_to(
        html, "id_add-due_date", "A close-plan step must be due on or before the target"
    )
    assert snapshot() == before


def test_milestone_add_owner_from_the_wrong_side_or_another_deal_is_422(
    alice_client, plan, champion, acme, alice
):
    other_deal_buyer = StakeholderFactory(deal=DealFactory(organization=acme, owner=alice))
    before = snapshot()

    for field, owner in [
        ("buyer_owner", step(plan, "Signature").seller_owner),  # a seller as buyer owner
        ("seller_owner", champion),  # a buyer as seller owner
        ("buyer_owner", other_deal_buyer),  # another deal's buyer
    ]:
        response = alice_client.post(
            url("plans:milestone-add", deal_id=plan.deal.public_id),
            add_data(**{f"add-{field}": owner.pk}),
            **htmx("milestone-table"),
        )
        html = assert_fragment(response, 422)
        assert_error_next_to(html, f"id_add-{field}", "Select a valid choice.")

    assert snapshot() == before


def test_milestone_add_invalid_without_js_shows_the_page_with_the_errors(alice_client, plan):
    response = alice_client.post(
        url("plans:milestone-add", deal_id=plan.deal.public_id), add_data(**{"add-title": ""})
    )

    html = assert_page(response, 422)
    assert_error_next_to(html, "id_add-title", "Give the step a title.")
    assert not Milestone.objects.filter(plan=plan, title="").exists()


# milestone-row ------------------------------------------------------------------------


def test_milestone_row_htmx_is_the_row_only(alice_client, plan):
    milestone = step(plan)

    response = alice_client.get(
        url("plans:milestone-row", milestone_id=milestone.public_id), **htmx(milestone.dom_id)
    )

    html = assert_fragment(response)
    assert html.startswith(f'<tr id="{milestone.dom_id}"')
    assert 'aria-label="Status of Technical validation"' in html
    # Cancelling an edit changes nothing: the other regions need not refresh.
    assert "HX-Trigger" not in response


def test_milestone_row_without_js_redirects_to_the_plan(alice_client, plan):
    response = alice_client.get(url("plans:milestone-row", milestone_id=step(plan).public_id))

    assert response.status_code == 302
    assert response["Location"] == plan.get_absolute_url()


# milestone-edit -----------------------------------------------------------------------


def test_milestone_edit_get_htmx_is_the_form_row(alice_client, plan):
    milestone = step(plan)

    response = alice_client.get(
        url("plans:milestone-edit", milestone_id=milestone.public_id), **htmx(milestone.dom_id)
    )

    html = assert_fragment(response)
    assert html.startswith(f'<tr id="{milestone.dom_id}" class="editing"')
    assert 'name="version" value="1"' in html


def test_milestone_edit_get_without_js_is_a_full_page(alice_client, plan):
    response = alice_client.get(url("plans:milestone-edit", milestone_id=step(plan).public_id))

    html = assert_page(response)
    assert f'id="id_title-{step(plan).public_id}"' in html


def test_milestone_edit_post_htmx_saves_and_returns_the_row(alice_client, plan, champion):
    milestone = step(plan)

    response = alice_client.post(
        url("plans:milestone-edit", milestone_id=milestone.public_id),
        edit_data(milestone, title="Proof of concept", buyer_owner=champion.pk),
        **htmx(milestone.dom_id),
    )

    html = assert_fragment(response)
    assert html.startswith(f'<tr id="{milestone.dom_id}"')
    assert "Proof of concept" in html and "Peter Champion" in html
    milestone.refresh_from_db()
    assert (milestone.title, milestone.buyer_owner, milestone.version) == (
        "Proof of concept",
        champion,
        2,
    )


def test_milestone_edit_post_without_js_redirects(alice_client, plan):
    milestone = step(plan)

    response = alice_client.post(
        url("plans:milestone-edit", milestone_id=milestone.public_id),
        edit_data(milestone, title="Proof of concept"),
    )

    assert response.status_code == 302
    milestone.refresh_from_db()
    assert milestone.title == "Proof of concept"


def test_milestone_edit_moving_a_date_without_reason_is_422(alice_client, plan):
    milestone = step(plan)
    before = snapshot()

    response = alice_client.post(
        url("plans:milestone-edit", milestone_id=milestone.public_id),
        edit_data(milestone, due_date=(milestone.due_date + timedelta(days=7)).isoformat()),
        **htmx(milestone.dom_id),
    )

    html = assert_fragment(response, 422)
    assert_error_next_to(
        html, f"id_reason-{milestone.public_id}", "Say why the date moves: it was committed."
    )
    assert snapshot() == before


def test_milestone_edit_moving_a_date_with_reason_shows_the_slip(alice_client, plan):
    milestone = step(plan)
    new_date = milestone.due_date + timedelta(days=7)

    response = alice_client.post(
        url("plans:milestone-edit", milestone_id=milestone.public_id),
        edit_data(milestone, due_date=new_date.isoformat(), reason="Lab not ready"),
        **htmx(milestone.dom_id),
    )

    html = assert_fragment(response)
    assert "slipped 7 days" in html
    change = DueDateChange.objects.get(milestone=milestone)
    assert (change.new_date, change.reason) == (new_date, "Lab not ready")
    assert Activity.objects.filter(verb=Activity.Verb.DATE_MOVED).exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("title", "  ", "Give the step a title."),
        ("due_date", "2030-02-30", "Enter a valid date."),
        ("status", "finished", "Select a valid choice."),
    ],
)
def test_milestone_edit_invalid_is_422_and_changes_nothing(
    alice_client, plan, field, value, message
):
    milestone = step(plan)
    before = snapshot()

    response = alice_client.post(
        url("plans:milestone-edit", milestone_id=milestone.public_id),
        edit_data(milestone, **{field: value}),
        **htmx(milestone.dom_id),
    )

    html = assert_fragment(response, 422)
    assert_error_next_to(html, f"id_{field}-{milestone.public_id}", message)
    assert snapshot() == before


def test_milestone_edit_close_step_after_the_target_is_422(alice_client, plan):
    milestone = step(plan)
    before = snapshot()
    late = plan.target_signature_date + timedelta(days=1)

    response = alice_client.post(
        url("plans:milestone-edit", milestone_id=milestone.public_id),
        edit_data(milestone, due_date=late.isoformat(), reason="later"),
        **htmx(milestone.dom_id),
    )

    html = assert_fragment(response, 422)
    assert_error_next_to(
        html, f"id_due_date-{milestone.public_id}", "must be due on or before the target"
    )
    assert snapshot() == before


def test_milestone_edit_owner_from_the_wrong_side_or_another_deal_is_422(
    alice_client, plan, champion, acme, alice
):
    milestone = step(plan)
    other_deal_buyer = StakeholderFactory(deal=DealFactory(organization=acme, owner=alice))
    before = snapshot()

    for field, owner in [
        ("seller_owner", champion),
        ("buyer_owner", step(plan, "Signature").seller_owner),
        ("buyer_owner", other_deal_buyer),
    ]:
        response = alice_client.post(
            url("plans:milestone-edit", milestone_id=milestone.public_id),
            edit_data(milestone, **{field: owner.pk}),
            **htmx(milestone.dom_id),
        )
        html = assert_fragment(response, 422)
        assert_error_next_to(html, f"id_{field}-{milestone.public_id}", "Select a valid choice.")

    assert snapshot() == before


def test_milestone_edit_depends_on_a_step_of_another_plan_is_422(
    alice_client, plan, acme, alice, enterprise
):
    other = services.create_plan_from_template(
        DealFactory(organization=acme, owner=alice),
        template=enterprise,
        target_date=plan.target_signature_date,
        actor=Actor.seller(alice),
    )
    milestone = step(plan)

    response = alice_client.post(
        url("plans:milestone-edit", milestone_id=milestone.public_id),
        edit_data(milestone, depends_on=step(other).pk),
        **htmx(milestone.dom_id),
    )

    html = assert_fragment(response, 422)
    assert_error_next_to(html, f"id_depends_on-{milestone.public_id}", "Select a valid choice.")


def test_milestone_edit_stale_version_is_409_with_both_values(alice_client, plan, alice):
    milestone = step(plan)
    seen = edit_data(milestone, title="Mine")
    services.update_milestone(
        milestone, actor=Actor.seller(alice), expected_version=1, title="Theirs"
    )
    before = snapshot()

    response = alice_client.post(
        url("plans:milestone-edit", milestone_id=milestone.public_id),
        seen,
        **htmx(milestone.dom_id),
    )

    html = assert_fragment(response, 409)
    assert "Someone else changed this step" in html
    conflict = html[html.index('class="conflict"') : html.index("</table>")]
    assert "<td>Title</td><td>Theirs</td><td>Mine</td>" in conflict
    # The form carries the current version: saving again keeps "mine".
    assert 'name="version" value="2"' in html
    assert snapshot() == before

    response = alice_client.post(
        url("plans:milestone-edit", milestone_id=milestone.public_id),
        {**seen, "version": 2},
        **htmx(milestone.dom_id),
    )
    assert response.status_code == 200
    milestone.refresh_from_db()
    assert milestone.title == "Mine"


def test_milestone_edit_changing_phase_moves_the_step_to_the_end_of_that_phase(alice_client, plan):
    milestone = step(plan)
    after_target = plan.target_signature_date + timedelta(days=30)

    response = alice_client.post(
        url("plans:milestone-edit", milestone_id=milestone.public_id),
        edit_data(milestone, phase="post", due_date=after_target.isoformat(), reason="later"),
        **htmx(milestone.dom_id),
    )

    # The step changes table: the whole milestone table is sent back in its place.
    html = assert_fragment(response)
    assert response["HX-Retarget"] == "#milestone-table"
    assert html.startswith('<section id="milestone-table"')
    post = list(
        Milestone.objects.filter(plan=plan, phase="post")
        .order_by("position")
        .values_list("title", flat=True)
    )
    assert post == ["Kickoff and first-value milestone", "Technical validation"]


def test_milestone_edit_keeps_an_old_date_after_the_target_when_it_does_not_move(
    alice_client, plan, alice
):
    """A done step keeps its date when the target moves earlier; its notes stay editable."""
    milestone = step(plan, "Finance approval and PO")
    services.set_milestone_status(milestone, actor=Actor.seller(alice), status="done")
    services.reschedule_plan(
        plan,
        actor=Actor.seller(alice),
        target_date=plan.target_signature_date - timedelta(days=14),
        reason="Pulled in",
    )
    milestone.refresh_from_db()

    response = alice_client.post(
        url("plans:milestone-edit", milestone_id=milestone.public_id),
        edit_data(milestone, shared_notes="PO number 4711"),
        **htmx(milestone.dom_id),
    )

    assert response.status_code == 200
    milestone.refresh_from_db()
    assert milestone.shared_notes == "PO number 4711"


# milestone-status ---------------------------------------------------------------------


def test_milestone_status_htmx_returns_the_row_and_is_idempotent(alice_client, plan):
    milestone = step(plan)
    endpoint = url("plans:milestone-status", milestone_id=milestone.public_id)

    first = alice_client.post(endpoint, {"status": "done"}, **htmx(milestone.dom_id))
    second = alice_client.post(endpoint, {"status": "done"}, **htmx(milestone.dom_id))

    html = assert_fragment(first)
    assert html.startswith(f'<tr id="{milestone.dom_id}" class="status-done')
    assert second.status_code == 200
    assert Activity.objects.filter(verb=Activity.Verb.MILESTONE_COMPLETED).count() == 1
    milestone.refresh_from_db()
    assert milestone.version == 2


def test_milestone_status_without_js_redirects(alice_client, plan):
    milestone = step(plan)

    response = alice_client.post(
        url("plans:milestone-status", milestone_id=milestone.public_id), {"status": "blocked"}
    )

    assert response.status_code == 302
    milestone.refresh_from_db()
    assert milestone.status == "blocked"


def test_milestone_status_unknown_is_422(alice_client, plan):
    before = snapshot()

    response = alice_client.post(
        url("plans:milestone-status", milestone_id=step(plan).public_id),
        {"status": "finished"},
        **htmx(),
    )

    assert response.status_code == 422
    assert snapshot() == before


# milestone-move -----------------------------------------------------------------------


def test_milestone_move_up_htmx_returns_the_reordered_table(alice_client, plan):
    milestone = step(plan, "Economic buyer alignment call")

    response = alice_client.post(
        url("plans:milestone-move", milestone_id=milestone.public_id),
        {"direction": "up"},
        **htmx("milestone-table"),
    )

    html = assert_fragment(response)
    assert html.index("Economic buyer alignment call") < html.index("Technical validation")
    assert 'aria-label="Move Economic buyer alignment call up" disabled' in html


def test_milestone_move_without_js_redirects(alice_client, plan):
    response = alice_client.post(
        url("plans:milestone-move", milestone_id=step(plan).public_id), {"direction": "down"}
    )

    assert response.status_code == 302
    assert step(plan).position == 2


def test_milestone_move_bad_direction_is_422(alice_client, plan):
    before = snapshot()

    response = alice_client.post(
        url("plans:milestone-move", milestone_id=step(plan).public_id), {"direction": "left"}
    )

    assert response.status_code == 422
    assert snapshot() == before


# milestone-delete ---------------------------------------------------------------------


def test_milestone_delete_htmx_returns_the_table_without_it(alice_client, plan):
    milestone = step(plan)

    response = alice_client.post(
        url("plans:milestone-delete", milestone_id=milestone.public_id), **htmx("milestone-table")
    )

    html = assert_fragment(response)
    assert "Technical validation" not in html
    assert not Milestone.objects.filter(pk=milestone.pk).exists()


def test_milestone_delete_asks_once(alice_client, plan):
    """The delete button confirms with hx-confirm only (no second data-confirm dialog)."""
    html = alice_client.get(plan.get_absolute_url()).content.decode()
    form_at = html.index('aria-label="Delete Technical validation"')
    form = html[html.rindex("<form", 0, form_at) : form_at]

    assert "hx-confirm=" in form
    assert "data-confirm=" not in form


def test_milestone_delete_without_js_redirects_with_a_message(alice_client, plan):
    response = alice_client.post(
        url("plans:milestone-delete", milestone_id=step(plan).public_id), follow=True
    )

    assert "Step “Technical validation” deleted." in response.content.decode()


# GET on POST-only endpoints -------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["plans:milestone-status", "plans:milestone-move", "plans:milestone-delete"]
)
def test_milestone_post_only_endpoints_refuse_get(alice_client, plan, name):
    response = alice_client.get(url(name, milestone_id=step(plan).public_id))

    assert response.status_code == 405
