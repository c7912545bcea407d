import pytest

from plans import live
from plans.models import Milestone
from stakeholders.models import Stakeholder
from tests.helpers import (
    assert_error_next_to,
    assert_fragment,
    assert_page,
    htmx,
    snapshot,
    url,
)


def add_data(**overrides) -> dict:
    data = {
        "sh-name": "Sam Security",
        "sh-title": "CISO",
        "sh-email": "sam@initech.test",
        "sh-role": "security_reviewer",
        "sh-is_required_signer": "unknown",
        "sh-user": "",
    }
    data.update(overrides)
    return data


def edit_data(stakeholder, **overrides) -> dict:
    prefix = f"sh-{stakeholder.public_id}"
    data = {
        f"{prefix}-name": stakeholder.name,
        f"{prefix}-title": stakeholder.title,
        f"{prefix}-email": stakeholder.email,
        f"{prefix}-role": stakeholder.role,
        f"{prefix}-user": stakeholder.user_id or "",
    }
    if stakeholder.is_required_signer:
        data[f"{prefix}-is_required_signer"] = "on"
    data.update({f"{prefix}-{key}": value for key, value in overrides.items()})
    return data


# stakeholder-add ----------------------------------------------------------------------


def test_stakeholder_add_htmx_returns_the_panel_and_fills_gaps(alice_client, plan):
    response = alice_client.post(
        url("plans:stakeholder-add", deal_id=plan.deal.public_id),
        add_data(),
        **htmx("stakeholder-panel"),
    )

    html = assert_fragment(response)
    assert html.startswith('<section id="stakeholder-panel"')
    assert "Sam Security" in html
    stakeholder = Stakeholder.objects.get(name="Sam Security")
    assert (stakeholder.side, stakeholder.is_required_signer) == ("buyer", False)
    returned = Milestone.objects.get(plan=plan, title="Security questionnaire returned")
    assert returned.buyer_owner == stakeholder


def test_stakeholder_add_without_js_redirects(alice_client, plan):
    response = alice_client.post(
        url("plans:stakeholder-add", deal_id=plan.deal.public_id),
        add_data(**{"sh-is_required_signer": "true"}),
    )

    assert response.status_code == 302
    assert Stakeholder.objects.get(name="Sam Security").is_required_signer


def test_stakeholder_add_seller_linked_to_a_member(alice_client, plan, bob):
    alice_client.post(
        url("plans:stakeholder-add", deal_id=plan.deal.public_id),
        add_data(**{"sh-name": "Bob", "sh-role": "exec_sponsor", "sh-user": bob.pk}),
        **htmx(),
    )

    stakeholder = Stakeholder.objects.get(name="Bob")
    assert (stakeholder.side, stakeholder.user) == ("seller", bob)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"sh-name": ""}, "id_sh-name", "This field is required."),
        ({"sh-email": "not-an-email"}, "id_sh-email", "Enter a valid email address."),
        ({"sh-role": "ceo"}, "id_sh-role", "Select a valid choice."),
    ],
)
def test_stakeholder_add_invalid_is_422_next_to_the_field(
    alice_client, plan, overrides, field, message
):
    before = snapshot()

    response = alice_client.post(
        url("plans:stakeholder-add", deal_id=plan.deal.public_id),
        add_data(**overrides),
        **htmx("stakeholder-panel"),
    )

    html = assert_fragment(response, 422)
    assert html.startswith('<section id="stakeholder-panel"')
    assert_error_next_to(html, field, message)
    assert snapshot() == before


def test_stakeholder_add_buyer_linked_to_a_user_is_422(alice_client, plan, bob):
    before = snapshot()

    response = alice_client.post(
        url("plans:stakeholder-add", deal_id=plan.deal.public_id),
        add_data(**{"sh-user": bob.pk}),
        **htmx("stakeholder-panel"),
    )

    html = assert_fragment(response, 422)
    assert_error_next_to(
        html, "id_sh-user", "Only seller-side stakeholders can be linked to a Tandem user."
    )
    assert snapshot() == before


def test_stakeholder_add_linked_to_a_user_of_another_workspace_is_422(alice_client, plan, charlie):
    before = snapshot()

    response = alice_client.post(
        url("plans:stakeholder-add", deal_id=plan.deal.public_id),
        add_data(**{"sh-role": "se", "sh-user": charlie.pk}),
    )

    html = assert_page(response, 422)
    assert_error_next_to(html, "id_sh-user", "Select a valid choice.")
    assert "Charlie" not in html
    assert snapshot() == before


# stakeholder-edit ---------------------------------------------------------------------


def test_stakeholder_edit_get_htmx_is_the_item_form(alice_client, plan, champion):
    response = alice_client.get(
        url("plans:stakeholder-edit", stakeholder_id=champion.public_id),
        **htmx(f"stakeholder-{champion.public_id}"),
    )

    html = assert_fragment(response)
    assert html.startswith(f'<li id="stakeholder-{champion.public_id}"')
    assert 'value="Peter Champion"' in html


def test_stakeholder_edit_get_without_js_is_a_page(alice_client, plan, champion):
    html = assert_page(
        alice_client.get(url("plans:stakeholder-edit", stakeholder_id=champion.public_id))
    )

    assert 'value="Peter Champion"' in html


def test_stakeholder_edit_post_htmx_returns_the_panel_in_place_of_the_panel(
    alice_client, plan, champion
):
    response = alice_client.post(
        url("plans:stakeholder-edit", stakeholder_id=champion.public_id),
        edit_data(champion, name="Peter Gibbons", title="VP Operations"),
        **htmx(f"stakeholder-{champion.public_id}"),
    )

    html = assert_fragment(response)
    assert html.startswith('<section id="stakeholder-panel"')
    assert response["HX-Retarget"] == "#stakeholder-panel"
    assert response["HX-Reswap"] == "outerHTML"
    champion.refresh_from_db()
    assert (champion.name, champion.title) == ("Peter Gibbons", "VP Operations")


def test_stakeholder_edit_post_without_js_redirects(alice_client, plan, champion):
    response = alice_client.post(
        url("plans:stakeholder-edit", stakeholder_id=champion.public_id),
        edit_data(champion, email="peter@initech.test"),
    )

    assert response.status_code == 302
    champion.refresh_from_db()
    assert champion.email == "peter@initech.test"


def test_stakeholder_edit_invalid_is_422_and_changes_nothing(alice_client, plan, champion):
    before = snapshot()
    prefix = f"sh-{champion.public_id}"

    response = alice_client.post(
        url("plans:stakeholder-edit", stakeholder_id=champion.public_id),
        edit_data(champion, name=""),
        **htmx(f"stakeholder-{champion.public_id}"),
    )

    html = assert_fragment(response, 422)
    assert html.startswith(f'<li id="stakeholder-{champion.public_id}"')
    assert_error_next_to(html, f"id_{prefix}-name", "This field is required.")
    assert snapshot() == before


def test_stakeholder_edit_invalid_without_js_is_a_page(alice_client, plan, champion):
    response = alice_client.post(
        url("plans:stakeholder-edit", stakeholder_id=champion.public_id),
        edit_data(champion, email="nope"),
    )

    html = assert_page(response, 422)
    assert_error_next_to(html, f"id_sh-{champion.public_id}-email", "Enter a valid email")


# stakeholder-remove -------------------------------------------------------------------


def test_stakeholder_remove_htmx_returns_the_panel_and_steps_lose_the_owner(
    alice_client, plan, economic_buyer
):
    response = alice_client.post(
        url("plans:stakeholder-remove", stakeholder_id=economic_buyer.public_id),
        **htmx("stakeholder-panel"),
    )

    html = assert_fragment(response)
    assert "Bill Budget" not in html
    assert Milestone.objects.get(plan=plan, title="Signature").buyer_owner is None


def test_stakeholder_remove_without_js_redirects(alice_client, plan, champion):
    response = alice_client.post(url("plans:stakeholder-remove", stakeholder_id=champion.public_id))

    assert response.status_code == 302
    assert not Stakeholder.objects.filter(pk=champion.pk).exists()


def test_stakeholder_remove_refuses_get(alice_client, plan, champion):
    response = alice_client.get(url("plans:stakeholder-remove", stakeholder_id=champion.public_id))

    assert response.status_code == 405


def test_a_stakeholder_change_pushes_the_table_with_the_owners_it_filled(
    alice_client, plan, settings, django_capture_on_commit_callbacks
):
    """Every open seller page (the one that made the change too) receives the panel and the
    milestone table, whose owners the new stakeholder may have filled."""
    settings.REDIS_URL = ""
    page = live.Subscriber(str(plan.public_id), audience=live.SELLER)
    live.hub.subscribe(page)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            alice_client.post(
                url("plans:stakeholder-add", deal_id=plan.deal.public_id),
                add_data(),
                **htmx("stakeholder-panel"),
            )
        pushed = page.sync_queue.get_nowait()
    finally:
        live.hub.unsubscribe(page)

    table = pushed[pushed.index("event: milestone-table") :]
    assert "Sam Security" in table[: table.index("\n\n")]
    assert "event: stakeholder-panel" in pushed
