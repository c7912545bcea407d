"""Live co-editing: events published after commit reach open streams, scoped and safe."""

import json
import re
import threading
import time
from datetime import timedelta

import pytest
import redis
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from deals.models import Membership, hash_token
from plans import live, rows, viewers
from plans.models import Milestone, Plan
from plans.services import (
    ConflictError,
    add_milestone,
    set_milestone_status,
    update_milestone,
    update_plan_overview,
)
from plans.signing.signatures import request_signatures, required_signers
from stakeholders.actors import Actor
from stakeholders.models import RoomLink
from stakeholders.services import issue_room_link, revoke_room_link, update_stakeholder
from tests.conftest import needs_postgres, needs_redis, open_room, share_plan_of


def first_chunk(response) -> str:
    return next(iter(response.streaming_content)).decode()


@pytest.fixture
def subscriber(acme_deal):
    plan = Plan.objects.get(deal=acme_deal)
    sub = live.Subscriber(str(plan.public_id), audience=live.SELLER)
    live.hub.subscribe(sub)
    yield sub
    live.hub.unsubscribe(sub)


def _frames(sub, timeout=2.0) -> dict[str, str]:
    """The next delivery of `sub`: {event name: data}."""
    message = sub.sync_queue.get(timeout=timeout)
    return parse_frames(message)


def parse_frames(text: str) -> dict[str, str]:
    frames = {}
    for block in text.split("\n\n"):
        lines = block.splitlines()
        names = [line[7:] for line in lines if line.startswith("event: ")]
        if names:
            frames[names[0]] = "\n".join(line[6:] for line in lines if line.startswith("data: "))
    return frames


def _events(sub, timeout=2.0) -> list[str]:
    return list(_frames(sub, timeout))


def test_a_change_pushes_the_changed_fragments_rendered_after_commit(
    acme_deal, alice, subscriber, django_capture_on_commit_callbacks, settings
):
    settings.REDIS_URL = ""
    step = Milestone.objects.filter(plan__deal=acme_deal).first()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        set_milestone_status(step, actor=Actor.seller(alice), status="done")
        assert subscriber.sync_queue.empty()  # nothing before commit
    for callback in callbacks:
        callback()

    frames = _frames(subscriber)
    assert list(frames) == [
        f"milestone-{step.public_id}",
        "plan-header",
        "plan-warnings",
        "timeline",
        "activity-feed",
    ]
    row = frames[f"milestone-{step.public_id}"]
    assert row.startswith(f'<tr id="milestone-{step.public_id}"')
    assert '<option value="done" selected>' in row
    assert step.title in frames["activity-feed"]
    # Drawn for every seller: no one's CSRF token, the placeholder the page replaces.
    assert str(rows.CSRF_PLACEHOLDER) in row
    assert "csrfmiddlewaretoken" in row
    assert subscriber.sync_queue.empty()


@pytest.fixture
def both_audiences(acme_deal, settings):
    settings.REDIS_URL = ""
    share_plan_of(acme_deal)  # a draft is not the buyers'
    plan = Plan.objects.get(deal=acme_deal)
    pages = {
        audience: live.Subscriber(str(plan.public_id), audience=audience)
        for audience in (live.SELLER, live.BUYER)
    }
    for page in pages.values():
        live.hub.subscribe(page)
    yield plan, pages
    for page in pages.values():
        live.hub.unsubscribe(page)


def test_buyer_streams_do_not_receive_internal_events(
    both_audiences, alice, django_capture_on_commit_callbacks
):
    plan, pages = both_audiences
    step = Milestone.objects.filter(plan=plan).first()
    Milestone.objects.filter(pk=step.pk).update(visibility="internal")
    step.refresh_from_db()

    with django_capture_on_commit_callbacks(execute=True):
        set_milestone_status(step, actor=Actor.seller(alice), status="in_progress")

    assert f"milestone-{step.public_id}" in _events(pages[live.SELLER])
    assert pages[live.BUYER].sync_queue.empty()


def test_buyers_receive_the_rooms_fragments_without_a_byte_of_internal_steps(
    both_audiences, alice, django_capture_on_commit_callbacks
):
    """A shared change re-renders the whole table for each audience: the buyers' is drawn
    from the room's context, which never loads internal steps or notes."""
    plan, pages = both_audiences
    secret = Milestone.objects.filter(plan=plan).first()
    Milestone.objects.filter(pk=secret.pk).update(
        visibility="internal", title="Discount floor 31%", internal_note="Walk away below"
    )

    with django_capture_on_commit_callbacks(execute=True):
        add_milestone(plan, actor=Actor.seller(alice), title="Security review", phase="close")
    sellers, buyers = _frames(pages[live.SELLER]), _frames(pages[live.BUYER])

    assert "Security review" in sellers["milestone-table"]
    assert "Discount floor 31%" in sellers["milestone-table"]
    assert list(buyers) == [
        "room-header",
        "room-summary",
        "timeline",
        "activity-feed",
        "room-milestones",
    ]
    assert "Security review" in buyers["room-milestones"]
    everything = "".join(buyers.values())
    assert "Discount floor" not in everything
    assert "Walk away" not in everything
    assert str(secret.public_id) not in everything


def test_twenty_open_pages_cost_one_render_per_changed_fragment_and_audience(
    acme_deal, dana, settings, django_capture_on_commit_callbacks
):
    """Ten sellers' pages and ten buyers' rooms open on one plan: a buyer's check-off is
    rendered once per fragment and audience, and every page of an audience receives the
    same bytes. (How long the 20th page waits beside the first is measured by
    bench/live_latency.py --pages 20, not timed here.)"""
    settings.REDIS_URL = ""
    share_plan_of(acme_deal)
    plan = Plan.objects.get(deal=acme_deal)
    step = Milestone.objects.filter(plan=plan, buyer_owner=dana).first()
    pages = [
        live.Subscriber(str(plan.public_id), audience=audience)
        for audience in (live.SELLER, live.BUYER)
        for _ in range(10)
    ]
    for page in pages:
        live.hub.subscribe(page)
    renders = live.hub.renders
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            set_milestone_status(step, actor=Actor.buyer(dana), status="done")
        for callback in callbacks:
            callback()
    finally:
        for page in pages:
            live.hub.unsubscribe(page)

    # Seller: header, warnings, timeline, feed, row. Buyer: header (what each buyer owes),
    # summary (outcome, signatures), timeline, feed, row.
    assert live.hub.renders - renders == 5 + 5
    received = {audience: set() for audience in (live.SELLER, live.BUYER)}
    for page in pages:
        received[page.audience].add(page.sync_queue.get_nowait())
    assert all(len(messages) == 1 for messages in received.values())
    assert list(parse_frames(received[live.BUYER].pop()))[0] == f"milestone-{step.public_id}"


def test_who_may_sign_is_decided_in_the_page_of_each_viewer(
    both_audiences, alice, dana, django_capture_on_commit_callbacks
):
    """One header for every seller: "Sign plan" is there hidden, marked with the keys of
    the seller signers who have not signed; static/js/live.js shows it on their pages."""
    plan, pages = both_audiences
    request_signatures(plan, actor=Actor.seller(alice))

    with django_capture_on_commit_callbacks(execute=True):
        update_plan_overview(plan, actor=Actor.seller(alice), business_outcome="Go live")
    header = _frames(pages[live.SELLER])["plan-header"]
    room_header = _frames(pages[live.BUYER])["room-summary"]

    marked = re.search(
        r'<div class="viewer-only" data-for="([^"]+)" hidden><a [^>]*>Sign plan', header
    )
    assert marked and set(marked.group(1).split()) & viewers.user_keys(alice)
    marked = re.search(r'data-for="([^"]+)" hidden><a [^>]*>Sign plan', room_header)
    buyer_signers = [s for s in required_signers(plan) if s.side == "buyer"]
    assert marked and marked.group(1).split() == [viewers.buyer_key(s) for s in buyer_signers]
    assert viewers.buyer_key(dana) not in marked.group(1)


@needs_redis
@pytest.mark.django_db(transaction=True)
def test_redis_carries_events_between_processes_through_one_subscription(acme_deal, subscriber):
    import redis
    from django.conf import settings

    time.sleep(0.3)  # the listener thread subscribes
    plan_key = subscriber.plan_key
    redis.Redis.from_url(settings.REDIS_URL).publish(
        f"{live.CHANNEL_PREFIX}{plan_key}:{live.SELLER}", json.dumps({"events": ["plan"]})
    )

    assert _events(subscriber, timeout=3) == [
        "plan-header",
        "plan-warnings",
        "timeline",
        "activity-feed",
    ]
    listeners = [t for t in threading.enumerate() if t.name == "tandem-live-listener"]
    assert len(listeners) == 1


@needs_redis
@pytest.mark.django_db(transaction=True)
def test_streams_refresh_when_the_subscription_comes_back_after_redis_was_down(settings, acme_deal):
    # A Redis of the test's own, stopped and started (the suite's Redis is shared).
    from tests.stack.services import own_redis

    hub = live.Hub()
    plan_key = str(Plan.objects.get(deal=acme_deal).public_id)
    channel = f"{live.CHANNEL_PREFIX}{plan_key}:{live.BUYER}"
    subscriber = live.Subscriber(plan_key, audience=live.BUYER)
    settings.REDIS_URL = ""  # subscribing starts no listener: the test runs its own
    hub.subscribe(subscriber)
    stop = threading.Event()
    with own_redis() as server:
        settings.REDIS_URL = server.url(0)
        listener = threading.Thread(
            target=hub._listen,
            args=(server.url(0), live.control_channel(), stop),
            name="test-live-listener",
            daemon=True,
        )
        listener.start()
        try:
            probe = redis.Redis.from_url(server.url(0))
            message = json.dumps({"events": ["stakeholders"]})
            deadline = time.monotonic() + 10
            while not probe.publish(channel, message):
                assert time.monotonic() < deadline, "the listener never subscribed"
                time.sleep(0.05)
            assert _events(subscriber) == ["room-people"]

            server.stop()
            time.sleep(2)
            server.start()

            assert _events(subscriber, timeout=15) == ["refresh"]
            probe = redis.Redis.from_url(server.url(0))
            assert probe.publish(channel, message) == 1
            assert _events(subscriber) == ["room-people"]
            assert subscriber.sync_queue.empty()
        finally:
            # The listener ends once this Redis is gone, instead of retrying it for the
            # rest of the session.
            stop.set()
    listener.join(5)
    assert not listener.is_alive()


def test_stream_for_member_starts_with_retry(client, alice, acme_deal):
    client.force_login(alice)
    plan = Plan.objects.get(deal=acme_deal)

    response = client.get(reverse("plan-events", kwargs={"plan_id": plan.public_id}))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    assert first_chunk(response).startswith("retry:")
    response.close()


def test_a_stream_starts_with_the_deals_revision(client, alice, acme_deal):
    """A page drawn at an older revision refetches its regions (static/js/live.js)."""
    client.force_login(alice)
    plan = Plan.objects.get(deal=acme_deal)
    acme_deal.refresh_from_db()

    response = client.get(reverse("plan-events", kwargs={"plan_id": plan.public_id}))

    assert f"event: revision\ndata: {acme_deal.revision}\n\n" in first_chunk(response)
    response.close()


def test_stream_for_buyer_of_that_room(client, dana, acme_deal):
    open_room(client, dana)
    plan = Plan.objects.get(deal=acme_deal)

    response = client.get(reverse("plan-events", kwargs={"plan_id": plan.public_id}))

    assert response.status_code == 200
    response.close()


def test_stream_of_other_workspace_or_room_is_404(client, charlie, acme_deal, globex_room_deal):
    plan = Plan.objects.get(deal=acme_deal)
    url = reverse("plan-events", kwargs={"plan_id": plan.public_id})

    assert Client().get(url).status_code == 404
    client.force_login(charlie)
    assert client.get(url).status_code == 404
    buyer = Client()
    open_room(buyer, globex_room_deal.stakeholders.get(email="gus@initrode.test"))
    assert buyer.get(url).status_code == 404


def test_an_sse_frame_carries_html_of_many_lines():
    frame = live.frame("timeline", '<section id="timeline">\n  <h2>Timeline</h2>\n</section>')

    assert frame == (
        "event: timeline\n"
        'data: <section id="timeline">\n'
        "data:   <h2>Timeline</h2>\n"
        "data: </section>\n\n"
    )


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_edits_of_one_field_never_overwrite_silently(alice):
    from tests.factories import add_buyer, make_deal, make_plan

    deal = make_deal(alice.memberships.get().organization, alice)
    add_buyer(deal)
    make_plan(deal)
    step = Milestone.objects.filter(plan__deal=deal).first()
    version = step.version
    barrier = threading.Barrier(2)
    outcomes = []

    def edit(title):
        from django.db import connection

        barrier.wait()
        try:
            update_milestone(
                Milestone.objects.get(pk=step.pk),
                actor=Actor.seller(alice),
                expected_version=version,
                title=title,
            )
            outcomes.append(("saved", title))
        except ConflictError:
            outcomes.append(("conflict", title))
        finally:
            connection.close()

    threads = [threading.Thread(target=edit, args=(t,)) for t in ("First", "Second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(kind for kind, _ in outcomes) == ["conflict", "saved"]
    saved = next(title for kind, title in outcomes if kind == "saved")
    step.refresh_from_db()
    assert step.title == saved
    assert step.version == version + 1


# --- A stream lives only as long as what authorized it. Before, a stream opened before
# the buyer's link was revoked (or the seller was removed) kept receiving event names. ----


class Stream:
    """A real open stream (the test client's response), read with a deadline."""

    def __init__(self, client, plan):
        self.plan_key = str(plan.public_id)
        self.reader = None
        self.url = reverse("plan-events", kwargs={"plan_id": plan.public_id})
        self.response = client.get(self.url)
        assert self.response.status_code == 200
        self.chunks = iter(self.response.streaming_content)
        assert next(self.chunks).decode().startswith("retry:")

    def ends_within(self, seconds: float) -> bool:
        """True when the stream ends (not a keep-alive, not an event) within `seconds`."""
        outcome = []

        def read():
            try:
                while True:
                    chunk = next(self.chunks).decode()
                    if not chunk.startswith(": keep-alive"):
                        outcome.append(chunk)
                        return
            except StopIteration:
                outcome.append("ended")

        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()
        self.reader.join(seconds)
        return outcome == ["ended"]

    def close(self):
        # A reader still waiting holds the generator: end the stream for it first.
        if self.reader is not None and self.reader.is_alive():
            for subscriber in live.hub.subscribers():
                if subscriber.plan_key == self.plan_key:
                    subscriber.end()
            self.reader.join(5)
        self.response.close()


def _wait_for_control_subscription():
    """With Redis, the process's listener must be subscribed before a control message is
    published (in production the periodic re-check covers that first instant)."""
    from django.conf import settings

    if not settings.REDIS_URL:
        return
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if dict(client.pubsub_numsub(live.control_channel())).get(
            live.control_channel().encode(), 0
        ):
            return
        time.sleep(0.05)
    raise AssertionError(
        f"the live listener did not subscribe: {client.pubsub_channels()} {threading.enumerate()}"
    )


@pytest.fixture
def buyer_stream(client, dana, acme_deal):
    token = open_room(client, dana)
    stream = Stream(client, Plan.objects.get(deal=acme_deal))
    _wait_for_control_subscription()
    link = RoomLink.objects.get(token_hash=hash_token(token))
    yield stream, link
    stream.close()


@pytest.fixture
def seller_stream(client, alice, acme_deal):
    client.force_login(alice)
    stream = Stream(client, Plan.objects.get(deal=acme_deal))
    _wait_for_control_subscription()
    yield stream
    stream.close()


def test_revoking_the_link_ends_the_buyers_open_stream(
    client, buyer_stream, alice, django_capture_on_commit_callbacks
):
    stream, link = buyer_stream

    with django_capture_on_commit_callbacks(execute=True):
        revoke_room_link(link, actor=Actor.seller(alice))

    assert stream.ends_within(5)
    assert client.get(stream.url).status_code == 404


def test_changing_the_buyers_email_ends_their_open_stream(
    client, buyer_stream, dana, alice, django_capture_on_commit_callbacks
):
    stream, _ = buyer_stream

    with django_capture_on_commit_callbacks(execute=True):
        update_stakeholder(dana, actor=Actor.seller(alice), email="dana.new@initech.test")

    assert stream.ends_within(5)
    assert client.get(stream.url).status_code == 404


def test_another_links_revocation_leaves_the_stream_open(
    buyer_stream, dana, alice, django_capture_on_commit_callbacks
):
    stream, _ = buyer_stream
    other, _ = issue_room_link(dana)

    with django_capture_on_commit_callbacks(execute=True):
        revoke_room_link(other, actor=Actor.seller(alice))

    assert not stream.ends_within(1)


def test_removing_the_sellers_membership_ends_their_open_stream(
    seller_stream, client, alice, acme_admin, acme, django_capture_on_commit_callbacks
):
    admin = Client()
    admin.force_login(acme_admin)
    membership = alice.memberships.get(organization=acme)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(
            reverse(
                "deals:member-remove",
                kwargs={"org_slug": "acme", "member_id": membership.public_id},
            )
        )

    assert response.status_code == 302
    assert seller_stream.ends_within(5)
    assert client.get(seller_stream.url).status_code == 404


def test_deactivating_the_seller_ends_their_open_stream(
    seller_stream, client, alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        alice.is_active = False
        alice.save(update_fields=["is_active"])

    assert seller_stream.ends_within(5)
    assert client.get(seller_stream.url).status_code == 404


def test_an_expired_link_ends_its_stream_at_the_next_keep_alive_without_a_query(
    client, dana, acme_deal, monkeypatch, django_assert_num_queries
):
    monkeypatch.setattr(live, "KEEPALIVE_SECONDS", 0.1)
    token = open_room(client, dana)
    RoomLink.objects.filter(token_hash=hash_token(token)).update(
        expires_at=timezone.now() + timedelta(seconds=1)
    )
    stream = Stream(client, Plan.objects.get(deal=acme_deal))

    with django_assert_num_queries(0):
        assert stream.ends_within(5)


def test_idle_streams_do_not_query_the_database_between_re_checks(
    seller_stream, monkeypatch, django_assert_num_queries
):
    monkeypatch.setattr(live, "KEEPALIVE_SECONDS", 0.05)
    monkeypatch.setattr(live, "RECHECK_SECONDS", 3600)
    live.hub.recheck_due()  # the period starts now

    with django_assert_num_queries(0):
        chunks = [next(seller_stream.chunks).decode() for _ in range(10)]

    assert chunks == [": keep-alive\n\n"] * 10


@pytest.mark.parametrize("streams", [2, 20])
def test_the_re_check_ends_what_lost_its_grant_in_two_queries(
    streams, alice, acme, dana, django_assert_num_queries
):
    """The fallback: grants that ended without a control message (an update that bypassed
    the services) are found by one batched check of every open stream of the process."""
    plan_key = str(dana.deal.plan.public_id)
    link, _ = issue_room_link(dana)
    kept, _ = issue_room_link(dana)
    buyers = [
        live.Subscriber(plan_key, audience=live.BUYER, grant=live.Grant(link_id=link.pk))
        for _ in range(streams)
    ]
    still = live.Subscriber(plan_key, audience=live.BUYER, grant=live.Grant(link_id=kept.pk))
    seller = live.Subscriber(
        plan_key, audience=live.SELLER, grant=live.Grant(user_id=alice.pk, organization_id=acme.pk)
    )
    subscribers = [*buyers, still, seller]
    for subscriber in subscribers:
        live.hub.subscribe(subscriber)
    RoomLink.objects.filter(pk=link.pk).update(revoked_at=timezone.now())
    Membership.objects.filter(user=alice).delete()  # QuerySet.delete: no control message
    for subscriber in subscribers:
        while not subscriber.sync_queue.empty():
            subscriber.sync_queue.get()
    try:
        with django_assert_num_queries(2):
            ended = live.hub.recheck()
    finally:
        for subscriber in subscribers:
            live.hub.unsubscribe(subscriber)

    assert set(ended) >= {*buyers, seller}
    assert still not in ended
    assert all(s.sync_queue.get_nowait() is None for s in [*buyers, seller])
    assert still.sync_queue.empty()


@needs_redis
def test_a_control_message_from_another_process_ends_the_stream(buyer_stream):
    """What a web process publishes when it revokes a link reaches the events process."""
    import redis
    from django.conf import settings

    stream, link = buyer_stream

    redis.Redis.from_url(settings.REDIS_URL).publish(
        live.control_channel(), json.dumps({"links": [link.pk]})
    )

    assert stream.ends_within(5)


@pytest.mark.django_db(transaction=True)
def test_revoking_the_link_ends_an_asgi_stream(alice):
    """Under ASGI (uvicorn in production) the stream is the async generator: it ends too."""
    import asyncio
    import concurrent.futures

    from asgiref.sync import async_to_sync, sync_to_async
    from django.test import AsyncClient

    from tests.factories import add_buyer, make_deal, make_plan

    deal = make_deal(alice.memberships.get().organization, alice)
    buyer = add_buyer(deal)
    plan = make_plan(deal)
    browser = Client()
    token = open_room(browser, buyer)
    link = RoomLink.objects.get(token_hash=hash_token(token))
    url = reverse("plan-events", kwargs={"plan_id": plan.public_id})

    async def scenario():
        client = AsyncClient()
        client.cookies = browser.cookies
        response = await client.get(url)
        assert response.status_code == 200
        chunks = aiter(response.streaming_content)
        assert (await anext(chunks)).decode().startswith("retry:")
        await sync_to_async(_wait_for_control_subscription)()
        await sync_to_async(revoke_room_link)(link, actor=Actor.seller(alice))

        async def rest():
            return [chunk async for chunk in chunks]

        remaining = await asyncio.wait_for(rest(), timeout=5)
        assert not any(b"event:" in chunk for chunk in remaining)
        again = await client.get(url)
        assert again.status_code == 404

    # In a thread of its own: Playwright's sync API (the browser tests, earlier in the same
    # session) leaves an event loop in the main thread, where async_to_sync refuses to run.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(async_to_sync(scenario)).result()


def test_a_step_made_internal_leaves_the_open_rooms_and_comes_back_when_shared(
    both_audiences, alice, django_capture_on_commit_callbacks
):
    plan, pages = both_audiences
    step = Milestone.objects.filter(plan=plan, visibility="shared").first()

    with django_capture_on_commit_callbacks(execute=True):
        update_milestone(
            step, actor=Actor.seller(alice), expected_version=None, visibility="internal"
        )
    room = _frames(pages[live.BUYER])
    assert "room-milestones" in room
    assert step.title not in room["room-milestones"]
    assert "milestone-table" in _frames(pages[live.SELLER])

    with django_capture_on_commit_callbacks(execute=True):
        update_milestone(
            Milestone.objects.get(pk=step.pk),
            actor=Actor.seller(alice),
            expected_version=None,
            visibility="shared",
        )
    assert step.title in _frames(pages[live.BUYER])["room-milestones"]


def test_a_step_moved_to_the_other_phase_redraws_the_tables(
    both_audiences, alice, django_capture_on_commit_callbacks
):
    plan, pages = both_audiences
    step = Milestone.objects.filter(plan=plan, phase="close", visibility="shared").first()

    with django_capture_on_commit_callbacks(execute=True):
        update_milestone(step, actor=Actor.seller(alice), expected_version=None, phase="post")

    assert "milestone-table" in _frames(pages[live.SELLER])
    assert "room-milestones" in _frames(pages[live.BUYER])


def test_a_transfer_renames_the_ae_in_the_open_rooms(
    both_audiences, alice, bob, django_capture_on_commit_callbacks
):
    from plans.services import transfer_deal

    plan, pages = both_audiences
    with django_capture_on_commit_callbacks(execute=True):
        transfer_deal(plan.deal, actor=Actor.seller(alice), new_owner=bob)

    room = _frames(pages[live.BUYER])
    assert bob.display_name in room["room-people"]
    assert "transferred" not in room["activity-feed"]  # the feed entry stays internal


def test_an_sse_frame_keeps_characters_that_are_not_line_ends():
    text = "a\u2028b\x85c\x0cd"

    assert live.frame("x", text) == f"event: x\ndata: {text}\n\n"


def test_logging_out_ends_the_sellers_open_stream(
    seller_stream, client, django_capture_on_commit_callbacks
):
    """A stream carries the plan's content: it ends with the session that opened it."""
    with django_capture_on_commit_callbacks(execute=True):
        client.logout()

    assert seller_stream.ends_within(5)


def test_a_new_password_ends_the_sellers_streams_at_the_re_check(alice, acme_deal):
    """As it ends their other sessions (an administrator resetting a leaked password)."""
    plan_key = str(Plan.objects.get(deal=acme_deal).public_id)
    organization = acme_deal.organization_id
    stream = live.Subscriber(
        plan_key,
        audience=live.SELLER,
        grant=live.Grant(
            user_id=alice.pk,
            organization_id=organization,
            credential=live.credential(alice.password),
        ),
    )
    live.hub.subscribe(stream)
    try:
        assert stream not in live.hub.recheck()
        alice.set_password("a-new-long-password-1")
        alice.save()
        ended = live.hub.recheck()
    finally:
        live.hub.unsubscribe(stream)

    assert stream in ended


def test_a_deal_edited_or_closed_shows_on_the_open_pages(
    both_audiences, alice, django_capture_on_commit_callbacks
):
    from deals.services import update_deal

    plan, pages = both_audiences
    with django_capture_on_commit_callbacks(execute=True):
        update_deal(plan.deal, actor=Actor.seller(alice), name="Platform rollout", stage="won")

    assert "Platform rollout" in _frames(pages[live.SELLER])["plan-header"]
    assert "Platform rollout" in _frames(pages[live.BUYER])["room-header"]


def test_a_draft_plan_reaches_no_room(
    acme_deal, dana, alice, settings, client, django_capture_on_commit_callbacks
):
    """A draft is not the buyers' yet (a link may have been issued before the plan was
    made): its changes reach no buyer stream, a buyer's stream of it is refused, and the
    room says the plan is not shared yet."""
    settings.REDIS_URL = ""
    plan = Plan.objects.get(deal=acme_deal)
    assert plan.status == Plan.Status.DRAFT
    _, token = issue_room_link(dana)
    assert client.post(f"/r/{token}/").status_code == 302
    pages = {
        audience: live.Subscriber(str(plan.public_id), audience=audience)
        for audience in (live.SELLER, live.BUYER)
    }
    for page in pages.values():
        live.hub.subscribe(page)
    try:
        step = Milestone.objects.filter(plan=plan, visibility="shared").first()
        with django_capture_on_commit_callbacks(execute=True):
            set_milestone_status(step, actor=Actor.seller(alice), status="in_progress")
    finally:
        for page in pages.values():
            live.hub.unsubscribe(page)

    assert not pages[live.SELLER].sync_queue.empty()
    assert pages[live.BUYER].sync_queue.empty()
    room = client.get(f"/room/{acme_deal.public_id}/").content.decode()
    assert "is not shared yet" in room
    assert step.title not in room
    assert client.get(f"/events/plans/{plan.public_id}/").status_code == 404
    step_url = f"/room/{acme_deal.public_id}/steps/{step.public_id}/"
    assert client.get(step_url, HTTP_HX_REQUEST="true").status_code == 404
    assert client.get(f"/room/{acme_deal.public_id}/pdf/").status_code == 404
    for path in ("sign/", "sign/code/", "sign/verify/"):
        assert client.post(f"/room/{acme_deal.public_id}/{path}").status_code == 404, path
