"""Live co-editing: events published after commit reach open streams, scoped and safe."""

import json
import threading
import time

import pytest
from django.test import Client
from django.urls import reverse

from plans import live
from plans.models import Milestone, Plan
from plans.services import ConflictError, set_milestone_status, update_milestone
from stakeholders.actors import Actor
from tests.conftest import needs_postgres, needs_redis, open_room


def first_chunk(response) -> str:
    return next(iter(response.streaming_content)).decode()


@pytest.fixture
def subscriber(acme_deal):
    plan = Plan.objects.get(deal=acme_deal)
    sub = live.Subscriber(str(plan.public_id), seller=True)
    live.hub.subscribe(sub)
    yield sub
    live.hub.unsubscribe(sub)


def _events(sub, timeout=2.0) -> list[str]:
    message = sub.sync_queue.get(timeout=timeout)
    return json.loads(message)["events"]


def test_change_is_published_after_commit(
    acme_deal, alice, subscriber, django_capture_on_commit_callbacks, settings
):
    settings.REDIS_URL = ""
    step = Milestone.objects.filter(plan__deal=acme_deal).first()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        set_milestone_status(step, actor=Actor.seller(alice), status="done")
        assert subscriber.sync_queue.empty()  # nothing before commit
    for callback in callbacks:
        callback()

    events = _events(subscriber)
    assert "plan" in events
    assert f"milestone-{step.public_id}" in events


def test_buyer_streams_do_not_receive_internal_events(
    acme_deal, alice, settings, django_capture_on_commit_callbacks
):
    settings.REDIS_URL = ""
    plan = Plan.objects.get(deal=acme_deal)
    buyer_sub = live.Subscriber(str(plan.public_id), seller=False)
    seller_sub = live.Subscriber(str(plan.public_id), seller=True)
    live.hub.subscribe(buyer_sub)
    live.hub.subscribe(seller_sub)
    step = Milestone.objects.filter(plan=plan).first()
    Milestone.objects.filter(pk=step.pk).update(visibility="internal")
    step.refresh_from_db()
    try:
        with django_capture_on_commit_callbacks(execute=True):
            set_milestone_status(step, actor=Actor.seller(alice), status="in_progress")
        assert _events(seller_sub)
        assert buyer_sub.sync_queue.empty()
    finally:
        live.hub.unsubscribe(buyer_sub)
        live.hub.unsubscribe(seller_sub)


@needs_redis
def test_redis_carries_events_between_processes_through_one_subscription(acme_deal, subscriber):
    import redis
    from django.conf import settings

    time.sleep(0.3)  # the listener thread subscribes
    plan_key = subscriber.plan_key
    redis.Redis.from_url(settings.REDIS_URL).publish(
        live.CHANNEL_PREFIX + plan_key, json.dumps({"events": ["plan"], "internal": False})
    )

    assert _events(subscriber, timeout=3) == ["plan"]
    listeners = [t for t in threading.enumerate() if t.name == "tandem-live-listener"]
    assert len(listeners) == 1


def test_stream_for_member_starts_with_retry(client, alice, acme_deal):
    client.force_login(alice)
    plan = Plan.objects.get(deal=acme_deal)

    response = client.get(reverse("plan-events", kwargs={"plan_id": plan.public_id}))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    assert first_chunk(response).startswith("retry:")
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


def test_sse_frames_name_each_event():
    frame = live._format(json.dumps({"events": ["plan", "milestone-x"], "internal": False}))

    assert frame == "event: plan\ndata: plan\n\nevent: milestone-x\ndata: milestone-x\n\n"


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
