"""Milestone rows: URLs built from one reversed prefix, and rows cached by what they show."""

import re

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils.html import escape

from plans import rows, services
from plans.models import Milestone
from stakeholders import services as stakeholder_services
from stakeholders.actors import Actor


def steps(plan):
    return list(Milestone.objects.filter(plan=plan).for_page())


def row_of(html, milestone):
    start = html.index(f'<tr id="milestone-{milestone.public_id}"')
    return html[start : html.index("</tr>", start)]


def test_prepared_urls_are_the_reversed_urls(plan, acme):
    milestone = steps(plan)[0]
    rows.prepare_rows([milestone], org_slug=acme.slug, today=plan.target_signature_date)

    for name, suffix in [
        ("plans:milestone-row", ""),
        ("plans:milestone-edit", "edit/"),
        ("plans:milestone-status", "status/"),
        ("plans:milestone-move", "move/"),
        ("plans:milestone-delete", "delete/"),
    ]:
        expected = reverse(name, kwargs={"org_slug": "acme", "milestone_id": milestone.public_id})
        assert milestone.url + suffix == expected


def test_prepared_stakeholder_urls_are_the_reversed_urls(champion, acme):
    rows.prepare_stakeholders([champion], org_slug=acme.slug)

    for name, suffix in [
        ("plans:stakeholder-edit", "edit/"),
        ("plans:stakeholder-remove", "remove/"),
    ]:
        expected = reverse(name, kwargs={"org_slug": "acme", "stakeholder_id": champion.public_id})
        assert champion.url + suffix == expected


@pytest.mark.parametrize("status", ["not_started", "in_progress", "blocked", "done", "cancelled"])
def test_status_options_select_exactly_the_status(status):
    html = rows.status_options(status)

    assert re.findall(r'value="(\w+)" selected', html) == [status]
    assert html.count("<option") == 5


def prepared(plan, acme):
    milestones = steps(plan)
    for index, milestone in enumerate(milestones):
        milestone.is_first, milestone.is_last = index == 0, index == len(milestones) - 1
    rows.prepare_rows(milestones, org_slug=acme.slug, today=plan.target_signature_date)
    return milestones


def test_rows_are_served_from_the_cache_until_what_they_show_changes(rf, plan, acme, alice):
    request = rf.get("/")
    request.organization, request.user = acme, alice
    milestones = prepared(plan, acme)
    rows.render_rows(request, milestones, can_edit=True)
    keys = [rows._row_key(m, can_edit=True, org_slug="acme") for m in milestones]
    assert len(cache.get_many(keys)) == 12
    cache.set(keys[0], "<tr>from the cache</tr>")

    again = prepared(plan, acme)
    rows.render_rows(request, again, can_edit=True)
    assert again[0].row_html == "<tr>from the cache</tr>"

    # Renaming the step changes its key: the new title shows at once.
    services.update_milestone(again[0], actor=Actor.seller(alice), expected_version=1, title="POC")
    renamed = prepared(plan, acme)
    rows.render_rows(request, renamed, can_edit=True)
    assert "<strong>POC</strong>" in renamed[0].row_html
    # Edit rights are part of the key too.
    rows.render_rows(request, renamed, can_edit=False)
    assert "/status/" not in renamed[0].row_html


def test_rows_show_a_renamed_owner(alice_client, plan, alice, economic_buyer):
    alice_client.get(plan.get_absolute_url())

    stakeholder_services.update_stakeholder(
        economic_buyer, actor=Actor.seller(alice), name="William Lumbergh"
    )

    html = alice_client.get(plan.get_absolute_url()).content.decode()
    signature = Milestone.objects.get(plan=plan, title="Signature")
    assert "William Lumbergh" in row_of(html, signature)


def test_rows_show_a_removed_owner_as_a_gap(alice_client, plan, alice, economic_buyer):
    alice_client.get(plan.get_absolute_url())

    stakeholder_services.remove_stakeholder(economic_buyer, actor=Actor.seller(alice))

    html = alice_client.get(plan.get_absolute_url()).content.decode()
    signature = Milestone.objects.get(plan=plan, title="Signature")
    assert "No buyer owner" in row_of(html, signature)


def test_rows_of_an_archived_plan_have_no_controls(alice_client, plan, alice):
    alice_client.get(plan.get_absolute_url())

    services.archive_plan(plan, actor=Actor.seller(alice), archived=True)

    html = alice_client.get(plan.get_absolute_url()).content.decode()
    assert 'aria-label="Status of Signature"' not in html
    assert "/status/" not in html


def test_cached_rows_carry_each_requests_csrf_token(client, plan, alice, bob):
    """Rows are cached with a placeholder; every page gets its own session's token."""
    tokens = []
    for user in (alice, bob):
        client.force_login(user)
        html = client.get(plan.get_absolute_url()).content.decode()
        assert rows.CSRF_PLACEHOLDER not in html
        row = row_of(html, steps(plan)[0])
        found = set(re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', row))
        assert len(found) == 1
        tokens.append(found.pop())
        client.logout()

    assert tokens[0] != tokens[1]


def test_cached_row_csrf_token_is_accepted(plan, alice):
    """The token in a cached row lets a form without JavaScript post."""
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    client.get(plan.get_absolute_url())  # fills the cache
    html = client.get(plan.get_absolute_url()).content.decode()
    milestone = steps(plan)[0]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', row_of(html, milestone))[1]

    response = client.post(
        milestone_url(milestone, "status"), {"status": "done", "csrfmiddlewaretoken": token}
    )

    assert response.status_code == 302
    milestone.refresh_from_db()
    assert milestone.status == "done"


def milestone_url(milestone, action):
    return reverse(
        f"plans:milestone-{action}",
        kwargs={"org_slug": "acme", "milestone_id": milestone.public_id},
    )


def test_cached_add_forms_follow_their_options(alice_client, plan, alice, acme):
    """The unbound "Add a milestone" and "Add a stakeholder" forms are cached by their options:
    a new stakeholder, a renamed step or a new member shows at once."""
    from tests.factories import MembershipFactory, UserFactory

    alice_client.get(plan.get_absolute_url())
    stakeholder_services.add_stakeholder(
        plan.deal, actor=Actor.seller(alice), name="Tina Tech", role="technical_evaluator"
    )
    first = steps(plan)[0]
    services.update_milestone(first, actor=Actor.seller(alice), expected_version=None, title="POC")
    MembershipFactory(organization=acme, user=UserFactory(full_name="Nora Newcomer"))

    html = alice_client.get(plan.get_absolute_url()).content.decode()
    add_form = html[html.index('id="milestone-add"') : html.index("Add milestone</button>")]
    stakeholder_form = html[html.index("Add a stakeholder</summary>") :]

    assert ">Tina Tech</option>" in add_form
    assert "After “POC”" in add_form
    assert ">Nora Newcomer</option>" in stakeholder_form


def test_cached_add_form_keeps_this_requests_csrf_token(client, plan, alice, bob):
    """The cached part of the add forms holds no CSRF token: each page has its own."""
    tokens = []
    for user in (alice, bob):
        client.force_login(user)
        html = client.get(plan.get_absolute_url()).content.decode()
        form = html[html.index('id="milestone-add"') : html.index("Add milestone</button>")]
        tokens += re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
        client.logout()

    assert len(tokens) == 2 and tokens[0] != tokens[1]


@pytest.mark.parametrize("title", ["csrf-placeholder-7d1f0c5e", rows.CSRF_PLACEHOLDER])
def test_a_title_like_the_csrf_placeholder_shows_as_typed(title, alice, acme_deal, dana):
    """Cached HTML carries a placeholder for the CSRF token; text a buyer types must never
    match it, or the seller's page would show their token in its place (and the buyer's
    text would be gone)."""
    from django.test import Client

    from tests.conftest import open_room

    buyer = Client()
    open_room(buyer, dana)
    buyer.post(
        f"/room/{acme_deal.public_id}/steps/add/",
        {
            "add-title": title,
            "add-phase": "close",
            "add-buyer_owner": dana.pk,
            "add-due_date": acme_deal.plan.target_signature_date.isoformat(),
            "add-duration_days": 1,
            "add-description": f"About {title}.",
        },
    )
    step = Milestone.objects.get(plan=acme_deal.plan, title=title)
    seller = Client()
    seller.force_login(alice)

    for _ in range(2):  # rendered, then from the caches
        html = seller.get(acme_deal.plan.get_absolute_url()).content.decode()
        row = row_of(html, step)
        tokens = re.findall(r'name="csrfmiddlewaretoken" value="([^"]*)"', row)
        assert tokens and all(re.fullmatch(r"[A-Za-z0-9]{64}", token) for token in tokens)
        assert f'aria-label="Edit {escape(title)}"' in row
    room = buyer.get(f"/room/{acme_deal.public_id}/").content.decode()
    assert escape(title) in room
