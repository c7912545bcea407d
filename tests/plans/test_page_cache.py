"""The whole plan page is served from the cache (plans/page_cache.py) until something it
shows changes. Each test views the page first (so it is cached), makes one kind of change the
way the product makes it, and requires the next view to equal a page computed from scratch —
and to differ from the page before (the change shows, so the test can fail)."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from deals.models import Membership
from deals.services import accept_invitation, invite_teammate, remove_member
from plans import evidence, page_cache, services, views
from plans.models import Milestone, Plan
from plans.signing import signatures
from stakeholders import services as stakeholder_services
from stakeholders.actors import Actor
from stakeholders.models import RoomLink, Stakeholder
from tests.conftest import open_room
from tests.factories import MembershipFactory, UserFactory
from tests.plans.test_queries import PAGE, PAGE_WARM


@pytest.fixture
def plan(acme_deal):
    return Plan.objects.select_related("deal", "deal__owner").get(deal=acme_deal)


def view(client, plan) -> str:
    response = client.get(plan.get_absolute_url())
    assert response.status_code == 200
    return main(response.content.decode())


def main(html: str) -> str:
    """The page's <main> without what differs per response (CSRF token masks)."""
    body = html[html.index('<main class="container" id="main">') : html.index("</main>")]
    return re.sub(r'name="csrfmiddlewaretoken" value="\w+"', "", body)


def fresh(client, plan) -> str:
    cache.clear()
    return view(client, plan)


def step(plan, index=0) -> Milestone:
    return Milestone.objects.filter(plan=plan, phase="close").order_by("position")[index]


def seller(plan) -> Actor:
    return Actor.seller(plan.deal.owner)


def buyer(plan) -> Stakeholder:
    return plan.deal.stakeholders.get(email="dana@initech.test")


def _edit_step(plan):
    s = step(plan)
    services.update_milestone(s, actor=seller(plan), expected_version=s.version, title="Renamed")


def _move_date(plan):
    s = step(plan)
    services.update_milestone(
        s,
        actor=seller(plan),
        expected_version=s.version,
        due_date=s.due_date + timedelta(days=3),
        reason="Their legal team is out",
    )


def _buyer_status(plan):
    s = step(plan)
    services.update_milestone(
        s, actor=Actor.buyer(buyer(plan)), expected_version=s.version, status="in_progress"
    )


def _add_stakeholder(plan):
    # A legal reviewer: the template's legal step gets them as its owner (fill_owner_gaps).
    stakeholder_services.add_stakeholder(
        plan.deal, actor=seller(plan), name="Lena Legal", role="legal_reviewer", email="l@x.test"
    )


def _remove_stakeholder(plan):
    stakeholder_services.remove_stakeholder(buyer(plan), actor=seller(plan))


def _revoke_link(plan):
    link = RoomLink.objects.filter(stakeholder=buyer(plan)).get()
    stakeholder_services.revoke_room_link(link)


def _sign(plan):
    eve = plan.deal.stakeholders.get(email="eve@initech.test")
    signatures.sign_plan(
        plan,
        signer=eve,
        typed_name=eve.name,
        consent=True,
        seen_hash=evidence.content_hash(plan),
        ip_address="127.0.0.1",
        user_agent="pytest",
        auth_method="test",
    )


def _decide_proposal(plan):
    proposal = step(plan).proposals.get()
    services.decide_proposal(proposal, actor=seller(plan), accept=True)


def _transfer(plan):
    bob = UserFactory(email="bobby@acme.test", full_name="Bobby Newowner")
    MembershipFactory(organization=plan.organization, user=bob, role=Membership.Role.SELLER)
    cache.clear()  # the member is on the page now: start from a page that shows them
    return bob


def _rename_owner(plan):
    """A name changes in the admin (the product has no other place for it)."""
    owner = plan.deal.owner
    response = _staff_client().post(
        f"/admin/deals/user/{owner.pk}/change/",
        {"email": owner.email, "full_name": "Alice Renamed", "is_active": "on"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]


def _edit_deal(plan):
    """The deal's edit form, as a seller sends it."""
    deal = plan.deal
    client = Client()
    client.force_login(deal.owner)
    response = client.post(
        f"/o/{plan.organization.slug}/deals/{deal.public_id}/edit/",
        {
            "account_name": deal.account_name,
            "name": deal.name,
            "amount": "424242",
            "currency": deal.currency,
            "stage": "negotiation",
            "owner": deal.owner_id,
            "target_close_date": deal.target_close_date.isoformat(),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]


# Each change, as the product makes it (services, its forms, the buyer's room, the admin).
CHANGES = {
    "step edited": _edit_step,
    "date moved with a reason": _move_date,
    "status set": lambda plan: services.set_milestone_status(
        step(plan), actor=seller(plan), status="done"
    ),
    "status set by the buyer": _buyer_status,
    "step moved": lambda plan: services.move_milestone(
        step(plan), actor=seller(plan), direction="down"
    ),
    "step added": lambda plan: services.add_milestone(
        plan, actor=seller(plan), after=step(plan), title="Pilot readout", phase="close"
    ),
    "step deleted": lambda plan: services.delete_milestone(step(plan, 1), actor=seller(plan)),
    "outcome edited": lambda plan: services.update_plan_overview(
        plan, actor=seller(plan), business_outcome="Close the books in 3 days"
    ),
    "rescheduled": lambda plan: services.reschedule_plan(
        plan,
        actor=seller(plan),
        target_date=plan.target_signature_date + timedelta(days=14),
        reason="Board moved",
    ),
    "shared": lambda plan: services.share_plan(plan, actor=seller(plan)),
    "archived": lambda plan: services.archive_plan(plan, actor=seller(plan), archived=True),
    "deal edited": _edit_deal,
    "stakeholder added (fills owner gaps)": _add_stakeholder,
    "stakeholder edited": lambda plan: stakeholder_services.update_stakeholder(
        buyer(plan), actor=seller(plan), title="VP Operations"
    ),
    "stakeholder removed": _remove_stakeholder,
    "buyer invited": lambda plan: stakeholder_services.invite_buyer(
        buyer(plan), actor=seller(plan)
    ),
    "buyer opens the room": lambda plan: open_room(Client(), buyer(plan)),
    "comment": lambda plan: services.add_comment(
        step(plan), actor=seller(plan), body="Agenda attached"
    ),
    "file attached": lambda plan: services.add_attachment(
        step(plan),
        actor=seller(plan),
        upload=SimpleUploadedFile("msa.pdf", b"%PDF-1.7\n" + b"0" * 100),
    ),
    "date proposed by the buyer": lambda plan: services.propose_date(
        step(plan),
        buyer=buyer(plan),
        proposed_date=step(plan).due_date + timedelta(days=7),
        reason="Procurement is slow",
    ),
    "signatures requested": lambda plan: signatures.request_signatures(plan, actor=seller(plan)),
    "owner renamed": _rename_owner,
}


def _prepare(name, plan):
    """What a change needs in place before the first view."""
    if name == "link revoked":
        stakeholder_services.issue_room_link(buyer(plan))
    if name == "proposal accepted":
        CHANGES["date proposed by the buyer"](plan)
    if name == "signed":
        signatures.request_signatures(plan, actor=seller(plan))


# Changes that need something in place first (done before the page is cached).
CHANGES_AFTER_SETUP = {
    "link revoked": _revoke_link,
    "proposal accepted": _decide_proposal,
    "signed": _sign,
}


@pytest.mark.parametrize(
    "name", [*CHANGES, *CHANGES_AFTER_SETUP], ids=[*CHANGES, *CHANGES_AFTER_SETUP]
)
def test_cached_page_equals_a_fresh_page_after(name, alice_client, plan):
    _prepare(name, plan)
    before = view(alice_client, plan)
    assert view(alice_client, plan) == before  # served from the cache, unchanged

    change = CHANGES.get(name) or CHANGES_AFTER_SETUP[name]
    change(Plan.objects.select_related("deal", "deal__owner").get(pk=plan.pk))
    served = view(alice_client, plan)

    assert served != before, f"{name}: the change does not show on the page"
    assert served == fresh(alice_client, plan), f"{name}: the cached page is stale"


# The changes a buyer sees in the room (the others leave it as it was; it must still equal a
# room drawn from scratch).
SHOWN_IN_ROOM = {
    "step edited",
    "date moved with a reason",
    "status set",
    "status set by the buyer",
    "step moved",
    "step added",
    "step deleted",
    "outcome edited",
    "rescheduled",
    "stakeholder added (fills owner gaps)",
    "stakeholder edited",
    "stakeholder removed",
    "comment",
    "file attached",
    "signatures requested",
    "proposal accepted",
    "signed",
}


def view_room(client, plan) -> str:
    response = client.get(f"/room/{plan.deal.public_id}/")
    assert response.status_code == 200
    return main(response.content.decode())


@pytest.mark.parametrize(
    "name", [*CHANGES, *CHANGES_AFTER_SETUP], ids=[*CHANGES, *CHANGES_AFTER_SETUP]
)
def test_cached_room_equals_a_fresh_room_after(name, plan):
    _prepare(name, plan)
    room = Client()
    open_room(room, plan.deal.stakeholders.get(email="eve@initech.test"))
    before = view_room(room, plan)
    assert view_room(room, plan) == before  # served from the cache, unchanged

    change = CHANGES.get(name) or CHANGES_AFTER_SETUP[name]
    change(Plan.objects.select_related("deal", "deal__owner").get(pk=plan.pk))
    served = view_room(room, plan)

    if name in SHOWN_IN_ROOM:
        assert served != before, f"{name}: the change does not show in the room"
    cache.clear()
    assert served == view_room(room, plan), f"{name}: the cached room is stale"


def test_cached_room_is_the_buyers_own(plan):
    # Two buyers of one room: each is named and offered their own edits.
    rooms = {}
    for email in ("dana@initech.test", "eve@initech.test"):
        rooms[email] = Client()
        open_room(rooms[email], plan.deal.stakeholders.get(email=email))
    views = {email: view_room(client, plan) for email, client in rooms.items()}
    views = {email: view_room(client, plan) for email, client in rooms.items()}  # cached

    assert views["dana@initech.test"] != views["eve@initech.test"]
    for email, client in rooms.items():
        cache.clear()
        assert view_room(client, plan) == views[email]


def test_cached_room_is_not_served_once_the_buyers_link_is_revoked(plan):
    eve = plan.deal.stakeholders.get(email="eve@initech.test")
    room = Client()
    open_room(room, eve)
    view_room(room, plan)  # cached

    for link in RoomLink.objects.filter(stakeholder=eve):
        stakeholder_services.revoke_room_link(link)

    assert room.get(f"/room/{plan.deal.public_id}/").status_code == 410
    assert room.get(f"/room/{plan.deal.public_id}/").status_code == 404  # session ended


def test_another_rooms_buyer_gets_404_not_a_cached_room(plan, globex, charlie):
    from tests.factories import add_buyer, make_deal, make_plan

    other = make_deal(globex, charlie, account_name="Hooli")
    make_plan(other)
    stranger = Client()
    open_room(stranger, add_buyer(other, name="Gavin", email="gavin@hooli.test"))
    room = Client()
    open_room(room, plan.deal.stakeholders.get(email="eve@initech.test"))
    view_room(room, plan)  # cached

    assert stranger.get(f"/room/{plan.deal.public_id}/").status_code == 404


def test_cached_room_is_not_served_after_midnight(plan):
    room = Client()
    open_room(room, plan.deal.stakeholders.get(email="eve@initech.test"))
    before = view_room(room, plan)
    with time_machine.travel(timezone_now_plus(days=1)):
        after = view_room(room, plan)
        assert after != before  # days left
        cache.clear()
        assert after == view_room(room, plan)


def timezone_now_plus(*, days: int) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


def test_cached_page_shows_a_new_member_in_the_forms(alice_client, plan):
    before = view(alice_client, plan)
    zed = UserFactory(full_name="Zed Newmember", email="zed@acme.test")
    _, token = invite_teammate(
        plan.organization, email=zed.email, role="seller", invited_by=plan.deal.owner
    )
    accept_invitation(token, user=zed)

    served = view(alice_client, plan)

    assert "Zed Newmember" not in before
    assert "Zed Newmember" in served
    assert served == fresh(alice_client, plan)


def _staff_client() -> Client:
    client = Client()
    client.force_login(UserFactory(email="root@acme.test", is_staff=True, is_superuser=True))
    return client


def _seller_member(plan, full_name: str):
    """A seller of the plan's workspace, zoe@acme.test, named `full_name`."""
    return MembershipFactory(
        organization=plan.organization,
        user=UserFactory(email="zoe@acme.test", full_name=full_name),
        role=Membership.Role.SELLER,
    ).user


def test_cached_page_drops_a_member_deleted_in_the_admin(alice_client, plan):
    zoe = _seller_member(plan, "Zoe Member")
    cache.clear()
    before = view(alice_client, plan)

    response = _staff_client().post(f"/admin/deals/user/{zoe.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    served = view(alice_client, plan)

    assert "Zoe Member" in before  # the transfer and stakeholder forms list the members
    assert "Zoe Member" not in served
    assert served == fresh(alice_client, plan)


def test_cached_page_shows_the_new_name_of_an_owner_who_left_the_workspace(alice_client, plan):
    """A member may leave while still owning deals; their name stays on those deals."""
    zoe = _seller_member(plan, "Zoe Owner")
    services.transfer_deal(plan.deal, actor=seller(plan), new_owner=zoe)
    remove_member(Membership.objects.get(user=zoe), actor=plan.deal.owner)
    before = view(alice_client, plan)

    response = _staff_client().post(
        f"/admin/deals/user/{zoe.pk}/change/",
        {"email": zoe.email, "full_name": "Zoe Renamed", "is_active": "on"},
    )
    assert response.status_code == 302
    served = view(alice_client, plan)

    assert "Zoe Owner" in before
    assert "Zoe Renamed" in served
    assert served == fresh(alice_client, plan)


def test_cached_page_shows_a_transfer(alice_client, plan):
    new_owner = _transfer(plan)
    before = view(alice_client, plan)
    services.transfer_deal(plan.deal, actor=seller(plan), new_owner=new_owner)

    served = view(alice_client, plan)

    assert served != before
    assert served == fresh(alice_client, plan)


def test_cached_page_shows_a_later_visit_of_a_buyer_in_the_room(alice_client, plan):
    # After the first visit, the room refreshes "last visit" with QuerySet.update() at most
    # once a minute (stakeholders.access._touch).
    start = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    room = Client()
    with time_machine.travel(start, tick=False):
        open_room(room, buyer(plan))
        before = view(alice_client, plan)
    with time_machine.travel(start + timedelta(minutes=5), tick=False):
        assert room.get(f"/room/{plan.deal.public_id}/").status_code == 200
        served = view(alice_client, plan)
        assert served != before
        assert served == fresh(alice_client, plan)


def test_cached_page_is_not_served_after_midnight(alice_client, plan):
    start = datetime(2026, 11, 24, 23, 50, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        before = view(alice_client, plan)
        assert view(alice_client, plan) == before
    with time_machine.travel(start + timedelta(minutes=20), tick=False):
        served = view(alice_client, plan)
        assert served != before  # days left, overdue steps
        assert served == fresh(alice_client, plan)


def test_cached_page_is_not_served_after_a_room_link_expires(alice_client, plan):
    start = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        link, _ = stakeholder_services.issue_room_link(buyer(plan))
        link.expires_at = start + timedelta(minutes=10)
        link.save()
        before = view(alice_client, plan)
        assert "Revoke link" in before
    with time_machine.travel(start + timedelta(minutes=11), tick=False):
        served = view(alice_client, plan)
        assert "Revoke link" not in served
        assert served == fresh(alice_client, plan)


def test_cached_page_is_not_served_after_a_date_change_leaves_the_health_window(alice_client, plan):
    made = datetime(2026, 11, 10, 0, 30, tzinfo=UTC)
    with time_machine.travel(made, tick=False):
        _move_date(plan)
    window_end = made + timedelta(days=14)
    with time_machine.travel(window_end - timedelta(minutes=10), tick=False):
        before = view(alice_client, plan)
        assert "1 date change(s) in the last 14 days" in before
    with time_machine.travel(window_end + timedelta(minutes=10), tick=False):  # same day
        served = view(alice_client, plan)
        assert "date change(s) in the last 14 days" not in served
        assert served == fresh(alice_client, plan)


def _draw_a_link_expiring_in(plan, moment, seconds):
    link, _ = stakeholder_services.issue_room_link(buyer(plan))
    link.expires_at = moment + timedelta(seconds=seconds)
    link.save()


@pytest.mark.parametrize(
    ("start", "shows"),
    [
        # A room link expires while the page is drawn: it is drawn active.
        (datetime(2026, 11, 24, 10, 0, tzinfo=UTC), "Revoke link"),
        # Midnight passes while the page is drawn: it is drawn for the day before.
        (datetime(2026, 11, 24, 23, 59, 59, 500000, tzinfo=UTC), "<dt>Days left</dt><dd>2</dd>"),
    ],
    ids=["link expires", "midnight"],
)
def test_cached_page_is_not_kept_when_the_clock_passes_a_change_while_it_is_drawn(
    alice_client, plan, monkeypatch, start, shows
):
    plan.target_signature_date = start.date() + timedelta(days=2)
    plan.save()
    with time_machine.travel(start, tick=False) as clock:
        _draw_a_link_expiring_in(plan, start, seconds=0.5)
        drawn = views.plan_context

        def slow_plan_context(*args, **kwargs):  # the rows are loaded, then a second passes
            context = drawn(*args, **kwargs)
            clock.shift(timedelta(seconds=1))
            return context

        with monkeypatch.context() as patch:
            patch.setattr(views, "plan_context", slow_plan_context)
            before = view(alice_client, plan)
        assert shows in before

        served = view(alice_client, plan)

        assert shows not in served
        assert served == fresh(alice_client, plan)


def test_cached_page_is_not_served_after_a_deploy(alice_client, plan, settings):
    # A new release (settings.RELEASE, from TANDEM_RELEASE) is part of every body's and
    # row's key: what the old templates and code drew is not served.
    cache.clear()
    view(alice_client, plan)
    settings.RELEASE = "the next release"

    with CaptureQueriesContext(connection) as queries:
        served = view(alice_client, plan)

    assert len(queries) > 10  # drawn again
    assert served == fresh(alice_client, plan)


def test_a_change_made_while_the_cache_is_unreachable_shows_when_it_is_back(
    alice_client, plan, monkeypatch
):
    """The revisions are in the database, moved in the change's transaction: a change needs
    no cache write to show (with Redis counters, a check-off saved during a Redis blip left
    the old page served until it expired)."""
    before = view(alice_client, plan)

    def unreachable(*args, **kwargs):
        raise ConnectionError("the cache is unreachable")

    with monkeypatch.context() as patch:
        for method in ("get", "get_many", "set", "set_many", "add", "delete", "incr"):
            patch.setattr(cache, method, unreachable)
        services.set_milestone_status(step(plan), actor=seller(plan), status="done")
    served = view(alice_client, plan)

    assert served != before
    assert served == fresh(alice_client, plan)


def test_warm_page_loads_nothing_of_the_plan(alice_client, plan):
    view(alice_client, plan)
    with CaptureQueriesContext(connection) as warm:
        view(alice_client, plan)

    assert len(warm) == PAGE_WARM
    tables = " ".join(q["sql"] for q in warm.captured_queries)
    for table in ("plans_milestone", "stakeholders_stakeholder", "plans_activity"):
        assert table not in tables


def test_the_same_user_in_two_browsers_gets_their_own_csrf_token(plan, alice):
    clients = []
    for _ in range(2):
        client = Client()
        client.force_login(alice)
        clients.append(client)
    for client in clients:  # the second one is served from the cache
        html = client.get(plan.get_absolute_url()).content.decode()
        assert "csrf-placeholder" not in html
        tokens = re.findall(r'name="csrfmiddlewaretoken" value="(\w+)"', html)
        assert len(tokens) > 10
        secret = client.cookies["csrftoken"].value
        assert all(_unmask(token) == secret for token in tokens)
        # The token a POST from this page sends is accepted.
        response = client.post(
            f"/o/acme/deals/{plan.deal.public_id}/plan/overview/",
            {"csrfmiddlewaretoken": tokens[0], "business_outcome": "Faster close"},
        )
        assert response.status_code in (200, 302, 422)


def _unmask(token: str) -> str:
    from django.middleware.csrf import _unmask_cipher_token

    return _unmask_cipher_token(token)


def test_page_cache_can_be_turned_off(alice_client, plan, settings, django_assert_num_queries):
    settings.PAGE_CACHE_SECONDS = 0
    view(alice_client, plan)
    cache.clear()
    view(alice_client, plan)  # the session is read from the cache; the page is computed
    with django_assert_num_queries(PAGE - 1):
        view(alice_client, plan)


def test_valid_until_is_the_first_clock_change():
    now = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    midnight = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)

    assert page_cache.valid_until(now, []) == midnight
    assert page_cache.valid_until(now, [None]) == midnight
    soon = now + timedelta(minutes=5)
    assert page_cache.valid_until(now, [midnight + timedelta(hours=1), soon, None]) == soon
    # A moment passed while the page was drawn, or the page was drawn for the day before:
    # it is stale already.
    past = now - timedelta(seconds=1)
    assert page_cache.valid_until(now, [soon, past]) == past
    yesterday = now.date() - timedelta(days=1)
    assert page_cache.valid_until(now, [], today=yesterday) == midnight - timedelta(days=1)
