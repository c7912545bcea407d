"""Live co-editing: every change of a plan is published on the plan's channel, and every
open page of that plan receives it over Server-Sent Events and refetches just the changed
fragment with htmx.

One process holds ONE subscription: with Redis, a daemon thread listens to the pattern
`tandem:plan:*` on one connection and fans events out in memory to the streams open in this
process; without Redis (the single process of `make run`), publishing dispatches in memory
directly. Streams are async views under ASGI (uvicorn: thousands of idle streams cost no
thread each) and plain generators under the WSGI development server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import queue
import threading
import time
from collections import defaultdict

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.db import connection, transaction
from django.http import Http404, StreamingHttpResponse

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "tandem:plan:"
KEEPALIVE_SECONDS = 15
RETRY_MS = 2000


class Subscriber:
    """One open stream: events arrive from any thread, are read by its own loop/thread."""

    def __init__(
        self, plan_key: str, *, seller: bool, loop: asyncio.AbstractEventLoop | None = None
    ):
        self.plan_key = plan_key
        # Buyers never receive events about internal (seller-only) steps.
        self.seller = seller
        self.loop = loop
        self.async_queue: asyncio.Queue | None = asyncio.Queue() if loop else None
        self.sync_queue: queue.Queue | None = None if loop else queue.Queue()

    def deliver(self, message: str) -> None:
        if not self.seller and '"internal": true' in message:
            return
        if self.loop is not None:
            # A closed loop means the stream is gone.
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self.async_queue.put_nowait, message)
        else:
            self.sync_queue.put(message)


class Hub:
    """The per-process fan-out of plan events to open streams."""

    def __init__(self):
        self._lock = threading.Lock()
        self._subscribers: dict[str, set[Subscriber]] = defaultdict(set)
        self._listener: threading.Thread | None = None
        self.received = 0

    def subscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers[subscriber.plan_key].add(subscriber)
        if settings.REDIS_URL:
            self._ensure_listener()

    def unsubscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            subscribers = self._subscribers.get(subscriber.plan_key)
            if subscribers is not None:
                subscribers.discard(subscriber)
                if not subscribers:
                    del self._subscribers[subscriber.plan_key]

    def stream_count(self) -> int:
        with self._lock:
            return sum(len(s) for s in self._subscribers.values())

    def dispatch(self, plan_key: str, message: str) -> None:
        self.received += 1
        with self._lock:
            targets = list(self._subscribers.get(plan_key, ()))
        for subscriber in targets:
            subscriber.deliver(message)

    def _ensure_listener(self) -> None:
        with self._lock:
            if self._listener is not None and self._listener.is_alive():
                return
            self._listener = threading.Thread(
                target=self._listen, name="tandem-live-listener", daemon=True
            )
            self._listener.start()

    def _listen(self) -> None:
        import redis

        while True:
            try:
                client = redis.Redis.from_url(settings.REDIS_URL)
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.psubscribe(CHANNEL_PREFIX + "*")
                for item in pubsub.listen():
                    channel = item["channel"].decode()
                    self.dispatch(channel.removeprefix(CHANNEL_PREFIX), item["data"].decode())
            except Exception:  # noqa: BLE001 - reconnect whatever happened
                log.warning("live: Redis subscription lost; reconnecting", exc_info=True)
                time.sleep(1)


hub = Hub()


def publish(plan_key: str, events: list[str], *, internal: bool = False) -> None:
    """Announce, after the current transaction commits, that `events` happened on the plan
    (e.g. ["plan", "milestone-<uuid>"]). Pages refetch the matching fragments. Events about
    internal steps reach only sellers' pages."""
    message = json.dumps({"events": events, "internal": internal})

    def send():
        if settings.REDIS_URL:
            import redis

            try:
                redis.Redis.from_url(settings.REDIS_URL).publish(CHANNEL_PREFIX + plan_key, message)
            except redis.RedisError:
                log.warning("live: could not publish to Redis", exc_info=True)
        else:
            hub.dispatch(plan_key, message)

    transaction.on_commit(send)


def _format(message: str) -> str:
    """One SSE frame per event name; the data is not needed (pages refetch fragments)."""
    events = json.loads(message)["events"]
    return "".join(f"event: {name}\ndata: {name}\n\n" for name in events)


def _release_request_thread() -> None:
    """Give back the thread Django's ASGI handler keeps for this request.

    Django runs each ASGI request inside asgiref's ThreadSensitiveContext, whose one-thread
    executor lives until the request ends — for an event stream, hours: 1,000 open streams
    held 1,000 idle threads (~100 MB) in the benchmark. Once streaming starts, no sync code of
    this request runs until it ends (and then a fresh executor is made for the cleanup), so
    the executor is shut down now. Defensive: asgiref internals may change; then nothing
    happens and only memory is lost.
    """
    try:
        from asgiref.sync import SyncToAsync

        context = SyncToAsync.thread_sensitive_context.get(None)
        executor = SyncToAsync.context_to_thread_executor.pop(context, None) if context else None
    except (AttributeError, TypeError):  # pragma: no cover - a different asgiref
        return
    if executor is not None:
        executor.shutdown(wait=False)


async def _async_stream(subscriber: Subscriber):
    _release_request_thread()
    try:
        yield f"retry: {RETRY_MS}\n: connected\n\n"
        while True:
            try:
                message = await asyncio.wait_for(
                    subscriber.async_queue.get(), timeout=KEEPALIVE_SECONDS
                )
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            yield _format(message)
    finally:
        hub.unsubscribe(subscriber)


def _sync_stream(subscriber: Subscriber):
    try:
        yield f"retry: {RETRY_MS}\n: connected\n\n"
        while True:
            try:
                message = subscriber.sync_queue.get(timeout=KEEPALIVE_SECONDS)
            except queue.Empty:
                yield ": keep-alive\n\n"
                continue
            yield _format(message)
    finally:
        hub.unsubscribe(subscriber)


def _authorize(request, plan_id) -> tuple[str, bool]:
    """The plan's key and whether the caller is a seller, when the caller may see it (a
    member of its workspace, or a buyer session of its room), else Http404."""
    from deals.models import Membership
    from stakeholders.access import SESSION_ROOMS

    from .models import Plan

    plan = Plan.objects.select_related("deal").filter(public_id=plan_id).first()
    if plan is None:
        raise Http404
    user = request.user
    if (
        user.is_authenticated
        and Membership.objects.filter(user=user, organization_id=plan.organization_id).exists()
    ):
        return str(plan.public_id), True
    access = request.session.get(SESSION_ROOMS, {}).get(str(plan.deal.public_id))
    if access:
        from stakeholders.models import RoomLink

        link = RoomLink.objects.filter(pk=access["link"]).first()
        if link is not None and link.is_usable() and link.stakeholder.deal_id == plan.deal_id:
            return str(plan.public_id), False
    raise Http404


# Opening many streams at once (a deploy, a reconnect storm) must not open as many
# database connections at once: authorizations queue for a few connection slots.
AUTHORIZE_SLOTS = threading.BoundedSemaphore(8)


def _authorize_and_release(request, plan_id) -> tuple[str, bool]:
    with AUTHORIZE_SLOTS:
        try:
            return _authorize(request, plan_id)
        finally:
            # A stream lives for minutes or hours and never touches the database again: it
            # must not keep a database connection open (outside a test's transaction).
            if not connection.in_atomic_block:
                connection.close()


async def plan_events(request, plan_id):
    """GET /events/plans/<plan_id>/: the plan's live event stream."""
    plan_key, seller = await sync_to_async(_authorize_and_release)(request, plan_id)
    if isinstance(request, ASGIRequest):
        subscriber = Subscriber(plan_key, seller=seller, loop=asyncio.get_running_loop())
        stream = _async_stream(subscriber)
    else:
        subscriber = Subscriber(plan_key, seller=seller)
        stream = _sync_stream(subscriber)
    hub.subscribe(subscriber)
    response = StreamingHttpResponse(stream, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response
