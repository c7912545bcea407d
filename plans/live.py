"""Live co-editing: every change of a plan is published on the plan's channels, one per
audience (sellers; buyers, who are never told of internal changes), and every open page of
that plan receives the changed fragments, rendered, over Server-Sent Events; htmx's
`sse-swap` puts them in place (plans/fragments.py).

One process holds ONE subscription: with Redis, a daemon thread listens to the pattern
`tandem:plan:*` on one connection and, for each message on a channel with open streams in
this process, renders the changed fragments ONCE and fans them out in memory to those
streams; without Redis (the single process of `make run`), publishing dispatches in memory
directly. So an edit costs one render per changed fragment and audience in each events
process, whatever the number of open pages. Streams are async views under ASGI (uvicorn:
thousands of idle streams cost no thread each) and plain generators under the WSGI
development server.

A stream lives only as long as what authorized it. Each subscriber remembers its grant (the
buyer's room link and when it expires, or the seller's user, workspace and session);
revoking links (`end_streams_of_links`), losing a membership (`end_streams_of_member`) or
logging out (`end_streams_of_session`) publishes a control message on the same
subscription, and every process closes the matching streams at once. An expired link ends
its stream at the next keep-alive, without a query. As a fallback (a revocation that
bypassed the services, a control message lost while Redis was away, a new password), the
open streams of a process are re-checked together, in two queries, every
RECHECK_SECONDS. Streams never hold a database connection; the listener thread opens one
while it renders a change.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import queue
import re
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import redis
from asgiref.sync import SyncToAsync, sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.db import connection, transaction
from django.http import Http404, StreamingHttpResponse
from django.utils import timezone

from deals.models import Membership
from deals.tenancy import SESSION_ROOMS
from stakeholders.models import RoomLink

from . import fragments
from .fragments import AUDIENCES, BUYER, SELLER
from .models import Plan

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "tandem:plan:"
# Control messages (streams to end) travel on the same one subscription per process. Named
# per Redis database: pub/sub ignores database numbers, and deployments (or test runs) that
# share a Redis server must not end each other's streams (plan channels carry UUIDs).
CONTROL_CHANNEL = "tandem:live-control:"
KEEPALIVE_SECONDS = 15
RECHECK_SECONDS = 60
RETRY_MS = 2000
# Put in a subscriber's queue to end its stream.
_END = None


@dataclass(frozen=True)
class Grant:
    """What authorized a stream: a buyer's room link (until it expires), or a seller's
    membership of the plan's workspace."""

    link_id: int | None = None
    expires_at: datetime | None = None
    user_id: int | None = None
    organization_id: int | None = None
    # The seller's session (logging out ends its streams), and a digest of their password
    # hash (a new password ends them at the next re-check, as it ends their other sessions).
    session_key: str | None = None
    credential: str | None = None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at


# What ends a line in an event stream (str.splitlines would split on more, changing text).
LINE_END = re.compile(r"\r\n|\r|\n")


def frame(name: str, data: str) -> str:
    """One Server-Sent Event: `name`, with `data` (HTML) on as many data lines as it has."""
    lines = LINE_END.split(data)
    return f"event: {name}\n" + "".join(f"data: {line}\n" for line in lines) + "\n"


# Sent to every open stream when the subscription comes back after a loss (static/js/live.js
# refetches the page's live regions).
REFRESH = frame("refresh", "refresh")


class Subscriber:
    """One open stream: events arrive from any thread, are read by its own loop/thread."""

    def __init__(
        self,
        plan_key: str,
        *,
        audience: str,
        loop: asyncio.AbstractEventLoop | None = None,
        grant: Grant | None = None,
        revision: int | None = None,
    ):
        if audience not in AUDIENCES:
            raise ValueError(audience)
        self.plan_key = plan_key
        # SELLER or BUYER: which channel of the plan it hears (buyers: only the room's
        # fragments, of changes that are not internal).
        self.audience = audience
        self.grant = grant or Grant()
        # The deal's revision when the stream was authorized: the stream starts with it, and
        # a page drawn at an older one refetches its regions (a change committed between
        # the page's GET and its stream's start was pushed to no one).
        self.revision = revision
        self.loop = loop
        self.async_queue: asyncio.Queue | None = asyncio.Queue() if loop else None
        self.sync_queue: queue.Queue | None = None if loop else queue.Queue()

    @property
    def channel(self) -> tuple[str, str]:
        return (self.plan_key, self.audience)

    def deliver(self, frames: str) -> None:
        """Send `frames` (Server-Sent Events, ready to write)."""
        self._put(frames)

    def end(self) -> None:
        """End the stream (from any thread): its loop stops at this message."""
        self._put(_END)

    def _put(self, message: str | None) -> None:
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
        self._subscribers: dict[tuple[str, str], set[Subscriber]] = defaultdict(set)
        self._listener: threading.Thread | None = None
        # One render at a time: a render reads the plan as it is then, so rendering and
        # sending in turn never sends an older state after a newer one (without Redis,
        # changes committed by concurrent requests dispatch from their own threads).
        self._render_lock = threading.Lock()
        self.received = 0
        # Fragments rendered by this process (a test counts them).
        self.renders = 0
        self._last_recheck = time.monotonic()

    def subscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers[subscriber.channel].add(subscriber)
        if settings.REDIS_URL:
            self._ensure_listener()

    def unsubscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            subscribers = self._subscribers.get(subscriber.channel)
            if subscribers is not None:
                subscribers.discard(subscriber)
                if not subscribers:
                    del self._subscribers[subscriber.channel]

    def stream_count(self) -> int:
        with self._lock:
            return sum(len(s) for s in self._subscribers.values())

    def dispatch(self, plan_key: str, audience: str, message: str) -> None:
        """A change of the plan for `audience` (the message names its events): render the
        changed fragments once, if this process has streams of that plan and audience, and
        send them to each."""
        self.received += 1
        with self._lock:
            targets = list(self._subscribers.get((plan_key, audience), ()))
        if not targets:
            return
        with self._render_lock:
            try:
                rendered = fragments.render(plan_key, audience, json.loads(message)["events"])
            except Exception:  # noqa: BLE001 - the pages refetch what they show instead
                log.warning("live: could not render the fragments of a change", exc_info=True)
                frames = REFRESH
            else:
                self.renders += len(rendered)
                frames = "".join(frame(name, html.strip()) for name, html in rendered)
            if frames:
                for subscriber in targets:
                    subscriber.deliver(frames)

    def subscribers(self) -> list[Subscriber]:
        with self._lock:
            return [s for subscribers in self._subscribers.values() for s in subscribers]

    def end_streams(self, message: str) -> None:
        """A control message: end the streams authorized by what it names (links, a user's
        membership of a workspace or of every workspace, or a session)."""
        control = json.loads(message)
        links = set(control.get("links", ()))
        user, organization = control.get("user"), control.get("organization")
        session = control.get("session")
        for subscriber in self.subscribers():
            grant = subscriber.grant
            if (
                (grant.link_id is not None and grant.link_id in links)
                or (
                    user is not None
                    and grant.user_id == user
                    and organization in (None, grant.organization_id)
                )
                or (session is not None and grant.session_key == session)
            ):
                subscriber.end()

    def recheck(self) -> list[Subscriber]:
        """End the streams whose grant no longer holds, in two queries for the whole
        process. Returns the subscribers ended. The fallback for revocations that sent no
        control message; runs every RECHECK_SECONDS (`recheck_due`)."""
        subscribers = self.subscribers()
        link_ids = {s.grant.link_id for s in subscribers if s.grant.link_id is not None}
        members = {
            (s.grant.user_id, s.grant.organization_id)
            for s in subscribers
            if s.grant.user_id is not None
        }
        # Cross-organization on purpose: every open stream of this process, whoever's.
        usable = set(
            RoomLink.objects.usable().filter(pk__in=link_ids).values_list("pk", flat=True)
            if link_ids
            else ()
        )
        current = {
            (user, organization): credential(password)
            for user, organization, password in (
                Membership.objects.filter(
                    user_id__in={user for user, _ in members},
                    organization_id__in={organization for _, organization in members},
                    user__is_active=True,
                ).values_list("user_id", "organization_id", "user__password")
                if members
                else ()
            )
        }
        ended = []
        for subscriber in subscribers:
            grant = subscriber.grant
            member = (grant.user_id, grant.organization_id)
            if (grant.link_id is not None and grant.link_id not in usable) or (
                grant.user_id is not None
                and (
                    member not in current
                    or (grant.credential is not None and current[member] != grant.credential)
                )
            ):
                subscriber.end()
                ended.append(subscriber)
        return ended

    def recheck_due(self) -> bool:
        """True for one caller every RECHECK_SECONDS (the streams' loops ask when they
        wake up for a keep-alive; the first one past the period runs `recheck`)."""
        with self._lock:
            if time.monotonic() - self._last_recheck < RECHECK_SECONDS:
                return False
            self._last_recheck = time.monotonic()
            return True

    def _ensure_listener(self) -> None:
        with self._lock:
            if self._listener is not None and self._listener.is_alive():
                return
            self._listener = threading.Thread(
                target=self._listen,
                # Read here, once: the thread outlives any later change of the settings.
                args=(settings.REDIS_URL, control_channel()),
                name="tandem-live-listener",
                daemon=True,
            )
            self._listener.start()

    def refresh_all(self) -> None:
        """Tell every open stream of this process to refetch its page's live regions (the
        `refresh` event; static/js/live.js): events published while the subscription was
        down never reached them."""
        with self._lock:
            targets = [subscriber for group in self._subscribers.values() for subscriber in group]
        for subscriber in targets:
            subscriber.deliver(REFRESH)

    def _listen(self, url: str, control: str, stop: threading.Event | None = None) -> None:
        """The process's one subscription, kept up until `stop` is set (never, but in
        tests that run a listener of their own)."""
        subscribed = False
        while stop is None or not stop.is_set():
            pubsub = None
            try:
                client = redis.Redis.from_url(url)
                pubsub = client.pubsub()
                pubsub.psubscribe(CHANNEL_PREFIX + "*")
                pubsub.subscribe(control)
                for item in pubsub.listen():
                    if item["type"] == "psubscribe":
                        # Confirmed. Again (after this loop or redis-py reconnected): what was
                        # published meanwhile is lost, so open pages refresh.
                        if subscribed:
                            log.info("live: Redis subscription back; streams refresh")
                            self.refresh_all()
                        subscribed = True
                    elif item["type"] == "message" and item["channel"].decode() == control:
                        self.end_streams(item["data"].decode())
                    elif item["type"] == "pmessage":
                        channel = item["channel"].decode().removeprefix(CHANNEL_PREFIX)
                        plan_key, _, audience = channel.rpartition(":")
                        try:
                            self.dispatch(plan_key, audience, item["data"].decode())
                        finally:
                            # Rendering opened this thread's own connection: not kept
                            # between changes (~2 ms to open again on the next one).
                            connection.close()
            except Exception:  # noqa: BLE001 - reconnect whatever happened
                log.warning("live: Redis subscription lost; reconnecting", exc_info=True)
                if pubsub is not None:
                    with contextlib.suppress(Exception):
                        pubsub.close()
                time.sleep(1)


hub = Hub()


def publish(plan_key: str, events: list[str], *, internal: bool = False) -> None:
    """Announce, after the current transaction commits, that `events` happened on the plan
    (e.g. ["plan", "milestone-<uuid>"]): open pages receive the changed fragments
    (plans/fragments.py). An internal change is published on the sellers' channel only."""
    message = json.dumps({"events": events})
    audiences = (SELLER,) if internal else (SELLER, BUYER)

    def send():
        if settings.REDIS_URL:
            try:
                pipe = redis.Redis.from_url(settings.REDIS_URL).pipeline(transaction=False)
                for audience in audiences:
                    pipe.publish(f"{CHANNEL_PREFIX}{plan_key}:{audience}", message)
                pipe.execute()
            except redis.RedisError:
                log.warning("live: could not publish to Redis", exc_info=True)
        else:
            for audience in audiences:
                hub.dispatch(plan_key, audience, message)

    transaction.on_commit(send)


def control_channel() -> str:
    return CONTROL_CHANNEL + (urlsplit(settings.REDIS_URL).path.strip("/") or "0")


def _send_control(control: dict) -> None:
    """After commit, to every process (Redis) or to this one (no Redis)."""
    message = json.dumps(control)

    def send():
        if settings.REDIS_URL:
            try:
                redis.Redis.from_url(settings.REDIS_URL).publish(control_channel(), message)
            except redis.RedisError:
                # The re-check ends these streams within RECHECK_SECONDS.
                log.warning("live: could not publish to Redis", exc_info=True)
        else:
            hub.end_streams(message)

    transaction.on_commit(send)


def end_streams_of_links(link_ids) -> None:
    """The room links `link_ids` stopped working (revoked, or voided by an email change):
    after commit, end every open stream they authorized, in every process. Reconnecting
    then gets a 404."""
    link_ids = sorted(link_ids)
    if link_ids:
        _send_control({"links": link_ids})


def end_streams_of_session(session_key: str | None) -> None:
    """The session logged out: end the streams it opened, in every process."""
    if session_key:
        _send_control({"session": session_key})


def credential(password_hash: str) -> str:
    """What a grant keeps of a user's password hash: a digest that changes with it."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def end_streams_of_member(*, user_id: int, organization_id: int | None = None) -> None:
    """The user is no longer a member of the workspace (of any workspace when None: the
    account was deactivated): after commit, end their open streams, in every process."""
    _send_control({"user": user_id, "organization": organization_id})


def _opening(subscriber: Subscriber) -> str:
    opening = f"retry: {RETRY_MS}\n: connected\n\n"
    if subscriber.revision is not None:
        opening += frame("revision", str(subscriber.revision))
    return opening


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
        context = SyncToAsync.thread_sensitive_context.get(None)
        executor = SyncToAsync.context_to_thread_executor.pop(context, None) if context else None
    except (AttributeError, TypeError):  # pragma: no cover - a different asgiref
        return
    if executor is not None:
        executor.shutdown(wait=False)


def _recheck_and_release() -> None:
    try:
        hub.recheck()
    except Exception:  # noqa: BLE001 - a fallback: the next period tries again
        log.warning("live: re-check of open streams failed", exc_info=True)
    finally:
        if not connection.in_atomic_block:
            connection.close()


async def _async_stream(subscriber: Subscriber):
    _release_request_thread()
    try:
        yield _opening(subscriber)
        while not subscriber.grant.expired(timezone.now()):
            try:
                message = await asyncio.wait_for(
                    subscriber.async_queue.get(), timeout=KEEPALIVE_SECONDS
                )
            except TimeoutError:
                if hub.recheck_due():
                    # Not thread-sensitive: the request's own thread was given back. A
                    # stream it ends finds _END in its queue right after this keep-alive.
                    await sync_to_async(_recheck_and_release, thread_sensitive=False)()
                yield ": keep-alive\n\n"
                continue
            if message is _END:
                return
            yield message
    finally:
        hub.unsubscribe(subscriber)


def _sync_stream(subscriber: Subscriber):
    try:
        yield _opening(subscriber)
        while not subscriber.grant.expired(timezone.now()):
            try:
                message = subscriber.sync_queue.get(timeout=KEEPALIVE_SECONDS)
            except queue.Empty:
                if hub.recheck_due():
                    _recheck_and_release()
                yield ": keep-alive\n\n"
                continue
            if message is _END:
                return
            yield message
    finally:
        hub.unsubscribe(subscriber)


def _authorize(request, plan_id) -> tuple[str, str, Grant, int]:
    """The plan's key, the caller's audience (SELLER, BUYER), what authorizes them and the
    deal's revision, when the
    caller may see it (a member of its workspace, or a buyer session of its room), else
    Http404."""
    plan = Plan.objects.select_related("deal").filter(public_id=plan_id).first()
    if plan is None:
        raise Http404
    user = request.user
    if (
        user.is_authenticated
        and Membership.objects.filter(user=user, organization_id=plan.organization_id).exists()
    ):
        grant = Grant(
            user_id=user.pk,
            organization_id=plan.organization_id,
            session_key=request.session.session_key,
            credential=credential(user.password),
        )
        return str(plan.public_id), SELLER, grant, plan.deal.revision
    access = request.session.get(SESSION_ROOMS, {}).get(str(plan.deal.public_id))
    if access:
        link = (
            RoomLink.objects.select_related("stakeholder", "stakeholder__deal")
            .filter(pk=access["link"])
            .first()
        )
        if (
            link is not None
            and link.is_usable()
            and link.stakeholder.deal_id == plan.deal_id
            and plan.is_the_buyers
        ):
            grant = Grant(link_id=link.pk, expires_at=link.usable_until())
            return str(plan.public_id), BUYER, grant, plan.deal.revision
    raise Http404


# Opening many streams at once (a deploy, a reconnect storm) must not open as many
# database connections at once: authorizations queue for a few connection slots.
AUTHORIZE_SLOTS = threading.BoundedSemaphore(8)


def _authorize_and_release(request, plan_id) -> tuple[str, str, Grant, int]:
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
    authorized = await sync_to_async(_authorize_and_release)(request, plan_id)
    plan_key, audience, grant, revision = authorized
    if isinstance(request, ASGIRequest):
        loop = asyncio.get_running_loop()
        subscriber = Subscriber(
            plan_key, audience=audience, loop=loop, grant=grant, revision=revision
        )
        stream = _async_stream(subscriber)
    else:
        subscriber = Subscriber(plan_key, audience=audience, grant=grant, revision=revision)
        stream = _sync_stream(subscriber)
    hub.subscribe(subscriber)
    response = StreamingHttpResponse(stream, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response
