"""The transactional outbox: a change saved while the broker is down does not fail, and the
task it owes is sent once the broker is back."""

import time
from datetime import timedelta

import pytest
from celery import Celery, shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from deals import outbox
from deals.models import OutboxTask
from tests.conftest import needs_redis

QUEUE = "tandem-outbox-test"


@shared_task(name="tests.outbox_probe")
def probe_task(*, value: int) -> int:
    return value


def probe_app(broker_url: str) -> Celery:
    """A Celery app like config.celery's, on `broker_url`, publishing to its own queue."""
    app = Celery("outbox-probe")
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.broker_url = broker_url
    app.conf.task_always_eager = False
    app.conf.task_default_queue = QUEUE
    app.set_current()
    return app


@pytest.fixture(autouse=True)
def _fresh_circuit(monkeypatch):
    monkeypatch.setattr(outbox, "_down_until", 0.0)


@pytest.fixture
def dead_broker():
    # Nothing listens on port 1 of the loopback address.
    return probe_app("redis://127.0.0.1:1/0")


@pytest.fixture
def live_broker():
    import redis

    probe_app(settings.REDIS_URL)
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(QUEUE)
    yield client
    client.delete(QUEUE)


def test_broker_down_change_is_saved_and_task_waits(
    dead_broker, db, django_capture_on_commit_callbacks
):
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        outbox.enqueue(probe_task.name, value=1)

    assert time.monotonic() - started < 2.5
    row = OutboxTask.objects.get()
    assert (row.task, row.kwargs) == ("tests.outbox_probe", {"value": 1})


def test_after_a_broker_failure_requests_do_not_wait_for_it(
    dead_broker, db, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        outbox.enqueue(probe_task.name, value=1)
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        for value in range(10):
            outbox.enqueue(probe_task.name, value=value)

    assert time.monotonic() - started < 0.5
    assert OutboxTask.objects.count() == 11


def test_a_broker_that_refuses_connections_costs_a_write_no_wait(
    dead_broker, db, django_capture_on_commit_callbacks
):
    # kombu's default, retrying the connection for 2 s, cost every write that.
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        outbox.enqueue(probe_task.name, value=1)

    assert time.monotonic() - started < 0.5
    assert OutboxTask.objects.count() == 1


@needs_redis
def test_after_the_broker_restarts_the_next_write_publishes_at_once(
    db, django_capture_on_commit_callbacks
):
    # A Redis of the test's own, restarted: the pooled connection to it is stale.
    from tests.stack.services import own_redis

    with own_redis() as server:
        probe_app(server.url(0))
        with django_capture_on_commit_callbacks(execute=True):
            outbox.enqueue(probe_task.name, value=1)
        server.restart()
        with django_capture_on_commit_callbacks(execute=True):
            outbox.enqueue(probe_task.name, value=2)

        assert not OutboxTask.objects.exists()
        assert server.client().llen(QUEUE) == 1


def test_rolled_back_change_owes_nothing(dead_broker, db):
    with pytest.raises(RuntimeError), transaction.atomic():
        outbox.enqueue(probe_task.name, value=1)
        raise RuntimeError("the change fails")

    assert not OutboxTask.objects.exists()


def test_relay_keeps_rows_while_the_broker_is_down(dead_broker, db):
    OutboxTask.objects.create(
        task="tests.outbox_probe",
        kwargs={"value": 1},
        created_at=timezone.now() - timedelta(minutes=1),
    )

    assert outbox.relay() == 0
    assert OutboxTask.objects.get().attempts == 1


@needs_redis
def test_live_broker_gets_the_task_after_commit_and_the_row_goes(
    live_broker, db, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        outbox.enqueue(probe_task.name, value=7)
        assert live_broker.llen(QUEUE) == 0  # not before the commit

    assert live_broker.llen(QUEUE) == 1
    assert not OutboxTask.objects.exists()


@needs_redis
def test_relay_sends_what_waited_once_the_broker_is_back(live_broker, db):
    old = timezone.now() - timedelta(minutes=1)
    for value in range(3):
        OutboxTask.objects.create(
            task="tests.outbox_probe", kwargs={"value": value}, created_at=old
        )
    # A row the request that wrote it is still sending is left to it.
    OutboxTask.objects.create(task="tests.outbox_probe", kwargs={"value": 9})

    assert outbox.relay() == 3
    assert live_broker.llen(QUEUE) == 3
    assert OutboxTask.objects.count() == 1
    assert outbox.relay() == 0  # sent once


def test_without_a_broker_tasks_run_in_process_after_commit(db, django_capture_on_commit_callbacks):
    # The suite's default: eager tasks, as `make run` without Redis.
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        outbox.enqueue(probe_task.name, value=3)

    assert len(callbacks) == 1
    assert not OutboxTask.objects.exists()


@pytest.mark.django_db
def test_a_task_is_named_and_an_unknown_name_is_refused_at_once():
    """Domain code names its task (it does not import the tasks module, which imports it);
    a misspelt name fails where it is written, not later in a worker."""
    from celery.exceptions import NotRegistered

    with pytest.raises(NotRegistered), transaction.atomic():
        outbox.enqueue("plans.render_documnet", document_id=1)
    assert not OutboxTask.objects.exists()
    # The apps' tasks are found without a worker's autodiscovery.
    assert outbox._registered("plans.render_document").name == "plans.render_document"
