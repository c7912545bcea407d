"""The notification centre, email preferences, unsubscribe links and acting on a step from
a digest."""

import re
from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from notifications.models import Kind, Notification, NotificationPreference
from notifications.services import unsubscribe_token
from plans.models import DateProposal, Milestone
from stakeholders.models import RoomLink
from stakeholders.services import issue_room_link, revoke_room_link
from tests.conftest import share_plan_of
from tests.factories import add_buyer, make_deal, make_plan


def _notify(user, organization, count=1, **fields):
    return [
        Notification.objects.create(
            organization=organization,
            user=user,
            kind=Kind.EVENTS,
            text=f"Dana Buyer set “Step {n}” to done",
            url="/o/acme/",
            **fields,
        )
        for n in range(count)
    ]


def _url(name, **kwargs):
    return reverse(f"notifications:{name}", kwargs={"org_slug": "acme", **kwargs})


# --- Notification centre --------------------------------------------------------------------


def test_notification_list_shows_mine_only(alice_client, alice, bob, acme):
    _notify(alice, acme, 2)
    Notification.objects.create(organization=acme, user=bob, kind=Kind.EVENTS, text="For Bob")

    response = alice_client.get(_url("notification-list"))

    assert response.status_code == 200
    assert len(re.findall(rb'<li id="notification-[0-9a-f-]{36}"', response.content)) == 2
    assert b"For Bob" not in response.content
    assert b"Mark all read" in response.content


def test_bell_shows_unread_count(alice_client, alice, acme):
    _notify(alice, acme, 3)
    _notify(alice, acme, 1, read_at=timezone.now())

    response = alice_client.get(_url("notification-bell"), HTTP_HX_REQUEST="true")

    assert b'aria-label="Notifications, 3 unread"' in response.content
    assert b"<html" not in response.content


def test_every_seller_page_shows_the_bell_with_its_count(alice_client, alice, acme):
    _notify(alice, acme, 2)
    response = alice_client.get(reverse("deals:deal-list", kwargs={"org_slug": "acme"}))
    assert b'aria-label="Notifications, 2 unread"' in response.content
    assert b'id="notification-bell"' in response.content
    assert b'hx-trigger="every 30s, notifications-changed from:body"' in response.content


def test_mark_read_returns_the_item_fragment(alice_client, alice, acme):
    [notification] = _notify(alice, acme)

    response = alice_client.post(
        _url("notification-read", notification_id=notification.public_id), HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 200
    assert b"<html" not in response.content and b"Mark read" not in response.content
    assert "notifications-changed" in response["HX-Trigger"]
    notification.refresh_from_db()
    assert notification.read_at is not None


def test_mark_all_read(alice_client, alice, bob, acme):
    _notify(alice, acme, 3)
    [bobs] = _notify(bob, acme)

    response = alice_client.post(_url("notification-read-all"))

    assert response.status_code == 302
    assert not Notification.objects.filter(user=alice, read_at=None).exists()
    bobs.refresh_from_db()
    assert bobs.read_at is None


def test_mark_read_of_someone_elses_or_another_workspace_is_404(
    alice_client, alice, bob, charlie, globex
):
    [bobs] = _notify(bob, bobs_org := alice.memberships.get().organization)
    [charlies] = _notify(charlie, globex)

    for notification in (bobs, charlies):
        response = alice_client.post(
            _url("notification-read", notification_id=notification.public_id)
        )
        assert response.status_code == 404
        notification.refresh_from_db()
        assert notification.read_at is None
    assert bobs_org.slug == "acme"
    url = reverse("notifications:notification-list", kwargs={"org_slug": "globex"})
    assert alice_client.get(url).status_code == 404


def test_notification_list_and_bell_query_counts_are_constant(
    alice_client, alice, acme, django_assert_num_queries, django_assert_max_num_queries
):
    alice_client.get(_url("notification-list"))  # the session settles on the first visit
    _notify(alice, acme, 3)
    with django_assert_max_num_queries(6) as few:
        alice_client.get(_url("notification-list"))
    with django_assert_max_num_queries(4) as bell:
        alice_client.get(_url("notification-bell"))
    _notify(alice, acme, 40)
    with django_assert_num_queries(len(few.captured_queries)):
        alice_client.get(_url("notification-list"))
    with django_assert_num_queries(len(bell.captured_queries)):
        alice_client.get(_url("notification-bell"))


# --- Preferences and unsubscribe -------------------------------------------------------------


def test_seller_turns_off_a_kind_of_email(alice_client, acme):
    form = {kind: "on" for kind in Kind.values if kind != Kind.EVENTS}

    response = alice_client.post(_url("notification-preferences"), form)

    assert response.status_code == 302
    off = NotificationPreference.objects.filter(email="alice@acme.test", enabled=False)
    assert list(off.values_list("kind", flat=True)) == [Kind.EVENTS]
    page = alice_client.get(_url("notification-preferences"))
    assert re.search(rb'<input type="checkbox" name="digest"[^>]* checked', page.content)
    assert not re.search(rb'<input type="checkbox" name="events"[^>]* checked', page.content)


def test_unsubscribe_get_changes_nothing_and_post_unsubscribes_without_session(client, acme):
    token = unsubscribe_token(organization_id=acme.pk, email="dana@initech.test", kind="digest")
    url = reverse("notification-unsubscribe", kwargs={"token": token})

    page = client.get(url)
    assert page.status_code == 200 and b"Unsubscribe?" in page.content
    assert not NotificationPreference.objects.exists()

    csrf_client = client.__class__(enforce_csrf_checks=True)
    done = csrf_client.post(url, {"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and b"You are unsubscribed" in done.content
    preference = NotificationPreference.objects.get()
    assert (preference.email, preference.kind, preference.enabled) == (
        "dana@initech.test",
        "digest",
        False,
    )


def test_unsubscribe_with_tampered_token_is_404(client, acme):
    token = unsubscribe_token(organization_id=acme.pk, email="dana@initech.test", kind="digest")
    response = client.post(reverse("notification-unsubscribe", kwargs={"token": token + "x"}))
    assert response.status_code == 404
    assert not NotificationPreference.objects.exists()


def test_buyer_preferences_by_token_show_buyer_kinds_and_save(client, acme):
    token = unsubscribe_token(organization_id=acme.pk, email="dana@initech.test", kind="digest")
    url = reverse("notification-preferences-token", kwargs={"token": token})

    page = client.get(url)
    assert b'name="weekly_review"' in page.content
    assert b'name="stale_plan"' not in page.content  # a seller-only kind

    client.post(url, {"digest": "on", "escalation": "on", "invite_reminder": "on"})
    off = NotificationPreference.objects.filter(enabled=False).values_list("kind", flat=True)
    assert list(off) == ["weekly_review"]


# --- Acting on a step from a digest ---------------------------------------------------------


@pytest.fixture
def act(acme_deal, dana):
    """(token, a buyer-owned step of dana's deal, its plan shared: a digest's buttons)."""
    share_plan_of(acme_deal)
    _, token = issue_room_link(dana)
    step = Milestone.objects.filter(plan__deal=acme_deal, buyer_owner__isnull=False).first()
    return token, step


def _act_url(token, step, action):
    return reverse(
        "room-act", kwargs={"token": token, "milestone_id": step.public_id, "action": action}
    )


def test_act_on_a_draft_plan_finds_no_step(client, acme_deal, dana):
    """A link issued before the plan was made: the draft's steps do not exist for buyers."""
    _, token = issue_room_link(dana)
    step = Milestone.objects.filter(plan__deal=acme_deal, buyer_owner=dana).first()

    assert client.get(_act_url(token, step, "done")).status_code == 404
    assert client.post(_act_url(token, step, "done")).status_code == 404
    step.refresh_from_db()
    assert step.status == "not_started"


def test_act_on_an_archived_plan_changes_nothing(client, act, acme_deal):
    from plans.services import archive_plan
    from stakeholders.actors import Actor

    token, step = act
    archive_plan(step.plan, actor=Actor.seller(acme_deal.owner), archived=True)

    page = client.get(_act_url(token, step, "done"))
    assert page.status_code == 200 and b"This plan is archived" in page.content
    for action in ("done", "more-time"):
        response = client.post(
            _act_url(token, step, action), {"proposed_date": "2030-01-01", "reason": "Later"}
        )
        assert response.status_code == 409, action
    step.refresh_from_db()
    assert step.status == "not_started" and not step.proposals.exists()


def test_act_done_get_changes_nothing_post_completes_and_opens_the_room(client, act, acme_deal):
    token, step = act

    page = client.get(_act_url(token, step, "done"))
    assert page.status_code == 200
    assert f"Mark “{step.title}” done".encode() in page.content
    step.refresh_from_db()
    assert step.status == "not_started"
    assert client.get(reverse("room", kwargs={"deal_id": acme_deal.public_id})).status_code == 404

    response = client.post(_act_url(token, step, "done"))

    assert response.status_code == 302
    assert response["Location"] == f"/room/{acme_deal.public_id}/"
    step.refresh_from_db()
    assert step.status == "done" and step.completed_by_name == "Dana Buyer"
    room = client.get(response["Location"])
    assert room.status_code == 200 and b"is marked done" in room.content


def test_act_need_more_time_proposes_a_date(client, act):
    token, step = act
    url = _act_url(token, step, "more-time")
    assert b"Propose this date" in client.get(url).content

    bad = client.post(url, {"proposed_date": "", "reason": ""})
    assert bad.status_code == 422 and b"Say why the date should move." in bad.content
    assert not DateProposal.objects.exists()

    new_date = (step.due_date or date.today()) + timedelta(days=5)
    response = client.post(url, {"proposed_date": new_date.isoformat(), "reason": "Counsel away"})

    assert response.status_code == 302
    proposal = DateProposal.objects.get()
    assert (proposal.milestone, proposal.proposed_date, proposal.reason) == (
        step,
        new_date,
        "Counsel away",
    )


def test_act_done_on_a_seller_side_step_is_refused(client, act, acme_deal):
    token, _ = act
    step = Milestone.objects.filter(plan__deal=acme_deal).last()
    Milestone.objects.filter(pk=step.pk).update(buyer_owner=None)

    assert b"only they can mark it done" in client.get(_act_url(token, step, "done")).content
    assert client.post(_act_url(token, step, "done")).status_code == 403
    step.refresh_from_db()
    assert step.status == "not_started"


def test_act_on_another_deals_or_an_internal_step_is_404(client, act, alice, acme_deal):
    token, step = act
    other = make_deal(acme_deal.organization, alice, account_name="Hooli")
    add_buyer(other, email="x@hooli.test")
    make_plan(other)
    foreign = Milestone.objects.filter(plan__deal=other).first()
    Milestone.objects.filter(pk=step.pk).update(visibility="internal")

    assert client.post(_act_url(token, foreign, "done")).status_code == 404
    assert client.post(_act_url(token, step, "done")).status_code == 404
    assert not Milestone.objects.filter(status="done").exists()


def test_act_with_revoked_link_gets_the_invalid_link_page_and_changes_nothing(client, act):
    token, step = act
    revoke_room_link(RoomLink.objects.get())

    response = client.post(_act_url(token, step, "done"))
    assert response.status_code == 404
    assert b"This link is no longer valid" in response.content
    step.refresh_from_db()
    assert step.status == "not_started"


def test_admin_turns_on_escalation_to_the_champion(client, acme, acme_admin):
    client.force_login(acme_admin)
    page = client.get(reverse("deals:workspace-settings", kwargs={"org_slug": "acme"}))
    assert b"Escalate overdue buyer steps to the champion" in page.content

    response = client.post(
        reverse("deals:workspace-settings", kwargs={"org_slug": "acme"}),
        {
            "ws-name": "Acme Software",
            "ws-time_zone": "Europe/London",
            "ws-room_link_days": "30",
            "ws-accent_color": "#1f6feb",
            "ws-escalate_to_champion": "on",
            "ws-map_coverage_threshold": "0",
        },
    )

    assert response.status_code == 302
    acme.refresh_from_db()
    assert acme.escalate_to_champion is True
