"""Webhooks: signed deliveries verified by the Standard Webhooks reference library,
retries with backoff on errors and timeouts, 410 disabling, Slack messages, the SSRF
guard, and the events emitted by plans/ and deals/. A real HTTP server on 127.0.0.1."""

import json
import re
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from standardwebhooks import Webhook

from deals import retries
from notifications import tasks, webhooks
from notifications.models import WebhookDelivery, WebhookEndpoint
from plans import evidence
from plans import services as plan_services
from plans.signing import signatures
from stakeholders import services as stakeholder_services
from stakeholders.models import Stakeholder
from tests.api.conftest import ACTOR, make_deal, make_plan


class Receiver:
    """An HTTP server on 127.0.0.1 that records requests and answers from a script:
    each entry is a status code, or ("sleep", seconds) to time out the client."""

    def __init__(self):
        self.requests = []
        self.script = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                step = receiver.script.pop(0) if receiver.script else 200
                if isinstance(step, tuple):
                    time.sleep(step[1])
                    step = 200
                self.send_response(step)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if step < 300 else b"nope")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def _eager_tasks():
    """Tasks run in the test's process even when REDIS_URL configures a real broker: these
    tests drive attempts and the retry sweep themselves."""
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def receiver(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    settings.WEBHOOK_TIMEOUT_SECONDS = 1
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def endpoint(acme, receiver):
    return WebhookEndpoint.objects.create(
        organization=acme, url=receiver.url, secret=webhooks.new_secret()
    )


def _emit(acme, event_type="plan.signed", data=None):
    deliveries = webhooks.emit(acme, event_type, data or {"summary": "signed", "plan": {}})
    assert len(deliveries) == 1
    return deliveries[0]


def test_webhook_delivery_is_verified_by_standardwebhooks(acme, endpoint, receiver):
    delivery = _emit(acme, data={"summary": "Priya signed the plan"})

    tasks.deliver_webhook(delivery_id=delivery.pk)

    (request,) = receiver.requests
    payload = Webhook(endpoint.secret).verify(request["body"], request["headers"])
    assert payload["type"] == "plan.signed"
    assert payload["data"]["summary"] == "Priya signed the plan"
    assert request["headers"]["webhook-id"] == delivery.event_id
    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.response_code == 200
    assert delivery.attempts == 1 and delivery.duration_ms is not None


def test_webhook_signature_fails_with_another_secret(acme, endpoint, receiver):
    from standardwebhooks.webhooks import WebhookVerificationError

    tasks.deliver_webhook(delivery_id=_emit(acme).pk)

    (request,) = receiver.requests
    with pytest.raises(WebhookVerificationError):
        Webhook(webhooks.new_secret()).verify(request["body"], request["headers"])


def test_webhook_retries_with_exponential_backoff_on_500(acme, endpoint, receiver):
    receiver.script = [500, 500, 200]
    delivery = _emit(acme)
    start = timezone.now()

    with time_machine.travel(start, tick=False) as clock:
        tasks.deliver_webhook(delivery_id=delivery.pk)
        delivery.refresh_from_db()
        assert delivery.status == "retrying" and delivery.response_code == 500
        assert delivery.next_retry_at == start + timedelta(seconds=15)
        # Not due yet: the sweep sends nothing.
        assert tasks.retry_webhooks() == 0

        clock.move_to(start + timedelta(seconds=16))
        assert tasks.retry_webhooks() == 1
        delivery.refresh_from_db()
        assert delivery.attempts == 2
        assert delivery.next_retry_at == start + timedelta(seconds=16 + 60)

        clock.move_to(start + timedelta(seconds=16 + 61))
        tasks.retry_webhooks()

    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.attempts == 3
    assert len(receiver.requests) == 3
    assert len({r["headers"]["webhook-id"] for r in receiver.requests}) == 1


def test_webhook_timeout_is_retried(acme, endpoint, receiver):
    receiver.script = [("sleep", 2)]
    delivery = _emit(acme)

    tasks.deliver_webhook(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == "retrying"
    assert delivery.error == "Timed out after 1 s." and delivery.response_code is None
    assert delivery.next_retry_at is not None


def test_webhook_gives_up_after_eight_attempts(acme, endpoint, receiver):
    receiver.script = [503] * 10
    delivery = _emit(acme)
    now = timezone.now()

    with time_machine.travel(now, tick=False) as clock:
        tasks.deliver_webhook(delivery_id=delivery.pk)
        for delay in retries.DELAYS:
            now += timedelta(seconds=delay)
            clock.move_to(now)
            tasks.retry_webhooks()

    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == 8
    assert len(receiver.requests) == 8
    assert sum(retries.DELAYS) / 3600 == pytest.approx(22.75, abs=0.01)


def test_webhook_410_disables_the_endpoint(acme, endpoint, receiver):
    receiver.script = [410]
    delivery = _emit(acme)

    tasks.deliver_webhook(delivery_id=delivery.pk)

    endpoint.refresh_from_db()
    delivery.refresh_from_db()
    assert not endpoint.is_active and "410" in endpoint.disabled_reason
    assert delivery.status == "failed" and delivery.next_retry_at is None
    assert webhooks.emit(acme, "plan.signed", {}) == []


def test_webhook_claim_prevents_double_sending(acme, endpoint, receiver):
    delivery = _emit(acme)

    tasks.deliver_webhook(delivery_id=delivery.pk)
    tasks.deliver_webhook(delivery_id=delivery.pk)

    assert len(receiver.requests) == 1


def test_webhook_slack_kind_posts_readable_text(acme, alice, receiver):
    WebhookEndpoint.objects.create(
        organization=acme, url=receiver.url, secret=webhooks.new_secret(), kind="slack"
    )
    plan = make_plan(acme, alice)
    data = webhooks.plan_payload(plan, summary="Priya Raman signed the plan")
    delivery = webhooks.emit(acme, "plan.signed", data)[0]

    tasks.deliver_webhook(delivery_id=delivery.pk)

    message = json.loads(receiver.requests[0]["body"])
    assert message["text"].startswith("*Initech — Platform rollout*: Priya Raman signed the plan")
    assert f"<{plan.get_absolute_url()}" in message["text"].replace("http://testserver", "")


def test_webhook_event_filter_and_other_workspaces(acme, globex, receiver):
    WebhookEndpoint.objects.create(
        organization=acme,
        url=receiver.url,
        secret=webhooks.new_secret(),
        event_types=["milestone.completed"],
    )
    WebhookEndpoint.objects.create(organization=globex, url=receiver.url, secret="whsec_eA==")

    assert webhooks.emit(acme, "plan.shared", {}) == []
    assert len(webhooks.emit(acme, "milestone.completed", {})) == 1
    with pytest.raises(ValueError, match="Unknown"):
        webhooks.emit(acme, "plan.exploded", {})


def test_webhook_emit_enqueues_after_commit_only(
    acme, endpoint, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        _emit(acme)

    assert len(callbacks) == 1
    assert len(receiver.requests) == 1


# Events from the domain -----------------------------------------------------------------


def test_webhook_events_from_plans_and_deals(acme, alice, endpoint):
    plan = make_plan(acme, alice)
    milestone = plan.milestones.order_by("position").first()
    plan_services.share_plan(plan, actor=ACTOR)
    plan_services.set_milestone_status(milestone, actor=ACTOR, status="done")
    plan_services.set_milestone_status(milestone, actor=ACTOR, status="in_progress")
    plan_services.update_milestone(
        milestone,
        actor=ACTOR,
        expected_version=None,
        reason="Buyer asked",
        due_date=milestone.due_date - timedelta(days=1),
    )

    types = list(WebhookDelivery.objects.order_by("id").values_list("event_type", flat=True))
    assert types == [
        "deal.created",
        "plan.created",
        "plan.shared",
        "milestone.completed",
        "milestone.reopened",
        "milestone.date_changed",
    ]
    moved = WebhookDelivery.objects.get(event_type="milestone.date_changed").payload["data"]
    assert moved["date_change"]["reason"] == "Buyer asked"
    assert moved["milestone"]["id"] == str(milestone.public_id)
    assert moved["deal"]["id"] == str(plan.deal.public_id)
    completed = WebhookDelivery.objects.get(event_type="milestone.completed").payload["data"]
    assert completed["summary"].startswith("Test set “")


def test_webhook_deal_created_from_the_api(acme, acme_admin, endpoint, alice):
    from rest_framework.test import APIClient

    from deals.services import create_api_key

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Bearer " + create_api_key(acme, name="Salesforce sync")[1])
    response = api.post(
        "/api/v1/deals/",
        {
            "account_name": "Hooli",
            "name": "X",
            "owner": str(alice.public_id),
            "target_close_date": "2030-01-01",
        },
        format="json",
    )

    assert response.status_code == 201
    delivery = WebhookDelivery.objects.get(event_type="deal.created")
    assert delivery.payload["data"]["deal"]["account_name"] == "Hooli"
    assert delivery.payload["data"]["actor"]["name"] == "API key “Salesforce sync”"


def test_webhook_no_endpoint_costs_one_query(acme, alice, django_assert_num_queries):
    deal = make_deal(acme, alice)

    with django_assert_num_queries(1):
        from notifications.receivers import on_deal_created

        on_deal_created(None, deal=deal, actor=ACTOR)


# Signature and buyer events: delivered to a real receiver, verified, without tokens ----


def _deliver_pending():
    for pk in WebhookDelivery.objects.filter(status="pending").values_list("pk", flat=True):
        tasks.deliver_webhook(delivery_id=pk)


def _received(endpoint, receiver) -> dict:
    """Event type → the verified payload of each request the receiver got."""
    events = {}
    for request in receiver.requests:
        payload = Webhook(endpoint.secret).verify(request["body"], request["headers"])
        events.setdefault(payload["type"], []).append(payload["data"])
    return events


def _sign(plan, signer):
    plan.refresh_from_db()
    signatures.sign_plan(
        plan,
        signer=signer,
        typed_name=signer.name,
        consent=True,
        seen_hash=evidence.content_hash(plan),
        ip_address="203.0.113.24",
        user_agent="test",
        auth_method="email code",
    )


def _signers(plan):
    return [
        Stakeholder.objects.get(deal=plan.deal, role=role, is_required_signer=True)
        for role in ("economic_buyer", "ae")
    ]


def test_webhook_plan_signed_and_amended_are_delivered(acme, alice, endpoint, receiver):
    plan = make_plan(acme, alice)
    signatures.request_signatures(plan, actor=ACTOR)
    for signer in _signers(plan):
        _sign(plan, signer)
    plan.refresh_from_db()
    signed_version = plan.signed_version
    plan_services.update_plan_overview(plan, actor=ACTOR, business_outcome="Changed")

    _deliver_pending()

    events = _received(endpoint, receiver)
    (signed,) = events["plan.signed"]
    (amended,) = events["plan.amended"]
    assert signed["plan"]["id"] == str(plan.public_id)
    assert signed["plan"]["status"] == "signed"
    assert signed["plan"]["signed_version"] == signed_version
    assert signed["summary"] == (
        f"Every required signer signed version {signed_version}: the plan is signed"
    )
    assert signed["actor"] == {"name": "Tandem", "side": "seller"}
    assert amended["plan"]["status"] == "amended"
    assert amended["plan"]["version"] > signed_version
    assert amended["plan"]["signed_version"] == signed_version
    assert amended["deal"]["id"] == str(plan.deal.public_id)
    assert WebhookDelivery.objects.exclude(status="succeeded").count() == 0


def test_webhook_stakeholder_invited_is_delivered_without_the_room_link(
    acme, alice, acme_admin, endpoint, receiver
):
    from rest_framework.test import APIClient

    from deals.services import create_api_key

    plan = make_plan(acme, alice)
    buyer = Stakeholder.objects.get(deal=plan.deal, role="economic_buyer")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Bearer " + create_api_key(acme, name="Zapier")[1])

    response = api.post(f"/api/v1/stakeholders/{buyer.public_id}/invite/")
    _deliver_pending()

    assert response.status_code == 201
    token = response.json()["room_url"].rstrip("/").rsplit("/", 1)[1]
    events = _received(endpoint, receiver)
    (invited,) = events["stakeholder.invited"]
    assert invited["stakeholder"] == {
        "id": str(buyer.public_id),
        "name": "Priya Raman",
        "title": "",
        "email": "priya@x.test",
        "role": "economic_buyer",
        "side": "buyer",
    }
    assert invited["summary"] == "API key “Zapier” invited Priya Raman to the deal room"
    assert invited["actor"] == {"name": "API key “Zapier”", "side": "seller"}
    # Inviting shares the draft plan.
    assert events["plan.shared"][0]["plan"]["status"] == "shared"
    _assert_no_token([token], receiver)


def test_webhook_room_visited_is_delivered(acme, alice, endpoint, receiver, client):
    plan = make_plan(acme, alice)
    buyer = Stakeholder.objects.get(deal=plan.deal, role="economic_buyer")
    _, url = stakeholder_services.invite_buyer(buyer, actor=ACTOR)
    token = url.rstrip("/").rsplit("/", 1)[1]

    assert client.post(f"/r/{token}/").status_code == 302
    _deliver_pending()

    (visited,) = _received(endpoint, receiver)["room.visited"]
    assert visited["stakeholder"]["id"] == str(buyer.public_id)
    assert visited["actor"] == {"name": "Priya Raman", "side": "buyer"}
    assert visited["summary"] == "Priya Raman opened the deal room"
    assert visited["url"].endswith(plan.get_absolute_url())
    _assert_no_token([token], receiver)


def test_webhook_payloads_never_carry_room_link_tokens(
    acme, alice, endpoint, receiver, client, django_capture_on_commit_callbacks
):
    """Every flow that mints room links (invitation, signature request, mention) with an
    endpoint subscribed to every event: no token reaches a payload, a Slack message or the
    delivery log."""
    WebhookEndpoint.objects.create(
        organization=acme, url=receiver.url, secret=webhooks.new_secret(), kind="slack"
    )
    plan = make_plan(acme, alice)
    buyer = Stakeholder.objects.get(deal=plan.deal, role="economic_buyer")
    milestone = plan.milestones.order_by("position").first()

    with django_capture_on_commit_callbacks(execute=True):
        stakeholder_services.invite_buyer(buyer, actor=ACTOR)
        signatures.request_signatures(plan, actor=ACTOR)
        plan_services.add_comment(milestone, actor=ACTOR, body="@Priya Raman can you look?")
    tokens = [
        match
        for message in mail.outbox
        for match in re.findall(r"/r/([A-Za-z0-9_-]{20,})/", message.body)
    ]
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/r/{tokens[0]}/").status_code == 302

    assert len(set(tokens)) == 3
    types = set(WebhookDelivery.objects.values_list("event_type", flat=True))
    assert {"stakeholder.invited", "plan.shared", "room.visited"} <= types
    assert WebhookDelivery.objects.filter(status="succeeded").count() == len(receiver.requests)
    _assert_no_token(tokens, receiver)


def _assert_no_token(tokens, receiver):
    assert receiver.requests
    logged = json.dumps(list(WebhookDelivery.objects.values_list("payload", flat=True)))
    for token in tokens:
        assert token not in logged
        for request in receiver.requests:
            assert token.encode() not in request["body"]
            assert token not in json.dumps(request["headers"])


# SSRF guard -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hook",
        "https://127.0.0.1/hook",
        "https://10.0.0.8/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[::ffff:192.168.0.1]/hook",
        "https://localhost/hook",
        "https://user:pw@example.com/hook",
        "ftp://example.com/hook",
    ],
)
def test_ssrf_guard_refuses_unsafe_urls(settings, url):
    settings.WEBHOOKS_ALLOW_PRIVATE = False

    with pytest.raises(webhooks.UnsafeURL):
        webhooks.check_url(url)


def test_ssrf_guard_accepts_public_https(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False

    webhooks.check_url("https://hooks.slack.com/services/T000/B000/XXX")
    webhooks.check_url("https://93.184.216.34/hook")


def test_ssrf_guard_refuses_names_resolving_to_private_addresses(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False

    # A public-looking name can resolve to a private address: checked at delivery time.
    with pytest.raises(webhooks.UnsafeURL, match="resolves to a private"):
        webhooks.resolve("localhost", 443)


def test_ssrf_guard_delivery_to_loopback_fails_without_sending(acme, receiver, settings):
    endpoint = WebhookEndpoint.objects.create(
        organization=acme, url=receiver.url, secret=webhooks.new_secret()
    )
    delivery = _emit(acme)
    settings.WEBHOOKS_ALLOW_PRIVATE = False

    tasks.deliver_webhook(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == "failed" and "https" in delivery.error
    assert receiver.requests == []
    assert endpoint.deliveries.count() == 1


# Settings UI ----------------------------------------------------------------------------


@pytest.fixture
def admin_client(client, acme_admin):
    client.force_login(acme_admin)
    return client


def test_webhook_register_shows_secret_once(admin_client, acme, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    url = reverse("notifications:webhook-list", kwargs={"org_slug": "acme"})

    response = admin_client.post(
        url,
        {
            "url": "https://hooks.example.com/tandem",
            "kind": "json",
            "event_types": ["plan.signed", "milestone.completed"],
        },
    )

    assert response.status_code == 201
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret.startswith("whsec_") and endpoint.secret.encode() in response.content
    assert endpoint.event_types == ["plan.signed", "milestone.completed"]
    detail = admin_client.get(
        reverse(
            "notifications:webhook-detail",
            kwargs={"org_slug": "acme", "endpoint_id": endpoint.public_id},
        )
    )
    assert detail.status_code == 200 and endpoint.secret.encode() not in detail.content


def test_webhook_register_refuses_private_address(admin_client, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False

    response = admin_client.post(
        reverse("notifications:webhook-list", kwargs={"org_slug": "acme"}),
        {"url": "https://192.168.1.10/hook", "kind": "json"},
    )

    assert response.status_code == 422
    assert b"private" in response.content
    assert not WebhookEndpoint.objects.exists()


def test_webhook_resend_from_the_log(admin_client, acme, endpoint, receiver):
    delivery = _emit(acme)
    tasks.deliver_webhook(delivery_id=delivery.pk)

    response = admin_client.post(
        reverse(
            "notifications:webhook-resend",
            kwargs={"org_slug": "acme", "delivery_id": delivery.public_id},
        )
    )

    assert response.status_code == 302
    copy = WebhookDelivery.objects.exclude(pk=delivery.pk).get()
    assert copy.event_id == delivery.event_id and copy.status == "pending"
    tasks.deliver_webhook(delivery_id=copy.pk)
    assert len(receiver.requests) == 2


def test_webhook_pages_are_admin_only_and_scoped(client, alice, charlie, endpoint):
    client.force_login(alice)
    assert (
        client.get(reverse("notifications:webhook-list", kwargs={"org_slug": "acme"})).status_code
        == 404
    )
    client.force_login(charlie)
    from deals.models import Membership

    Membership.objects.filter(user=charlie).update(role="admin")
    detail = reverse(
        "notifications:webhook-detail",
        kwargs={"org_slug": "globex", "endpoint_id": endpoint.public_id},
    )
    assert client.get(detail).status_code == 404


def test_webhook_detail_query_count_is_constant(
    admin_client, acme, endpoint, django_assert_max_num_queries
):
    url = reverse(
        "notifications:webhook-detail",
        kwargs={"org_slug": "acme", "endpoint_id": endpoint.public_id},
    )
    _emit(acme)
    with django_assert_max_num_queries(12) as small:
        admin_client.get(url)
    for _ in range(10):
        _emit(acme)

    with django_assert_max_num_queries(len(small)):
        response = admin_client.get(url)

    assert response.content.count(b"plan.signed") >= 11


def _security_entries(kind):
    from deals.models import SecurityEvent

    return list(SecurityEvent.objects.filter(kind=kind).order_by("id"))


def test_webhook_endpoint_changes_are_in_the_security_log(admin_client, acme, acme_admin, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    from_client = {"HTTP_X_FORWARDED_FOR": "198.51.100.7"}
    slack = "https://hooks.slack.com/services/T000/B000/SECRETPART"
    admin_client.post(
        reverse("notifications:webhook-list", kwargs={"org_slug": "acme"}),
        {"url": slack, "kind": "slack", "description": "Deals channel"},
        **from_client,
    )
    endpoint = WebhookEndpoint.objects.get()
    kwargs = {"org_slug": "acme", "endpoint_id": endpoint.public_id}
    toggle = reverse("notifications:webhook-toggle", kwargs=kwargs)
    admin_client.post(toggle, **from_client)
    admin_client.post(toggle, **from_client)
    admin_client.post(reverse("notifications:webhook-delete", kwargs=kwargs), **from_client)

    from deals.models import SecurityEvent

    entries = list(SecurityEvent.objects.order_by("id"))
    assert [(e.kind, e.summary) for e in entries] == [
        ("webhook_created", "Slack incoming webhook (readable messages); receives every event."),
        ("webhook_changed", "Disabled."),
        ("webhook_changed", "Enabled."),
        ("webhook_deleted", "Removed with its delivery log."),
    ]
    for entry in entries:
        assert (entry.organization, entry.user, entry.ip_address) == (
            acme,
            acme_admin,
            "198.51.100.7",
        )
        assert entry.target == "hooks.slack.com (Deals channel)"
        # The path of a Slack URL is its credential: never in the log.
        assert "SECRETPART" not in f"{entry.target} {entry.summary} {entry.details}"
        assert entry.details["endpoint"] == str(endpoint.public_id)


def test_webhook_410_disabling_is_in_the_security_log(acme, endpoint, receiver):
    receiver.script = [410]
    delivery = _emit(acme)

    tasks.deliver_webhook(delivery_id=delivery.pk)

    (entry,) = _security_entries("webhook_changed")
    assert (entry.actor, entry.user, entry.organization, entry.ip_address) == (
        "Tandem",
        None,
        acme,
        None,
    )
    assert "410" in entry.summary and entry.details["active"] is False


def test_milestone_overdue_is_announced_once_per_due_date(
    acme, alice, endpoint, receiver, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from notifications.digests import sweep
    from plans.models import Milestone
    from plans.services import update_milestone
    from stakeholders.actors import Actor
    from tests.factories import add_buyer, make_deal, make_plan

    deal = make_deal(acme, alice)
    add_buyer(deal)
    make_plan(deal)
    today = timezone.localdate()
    overdue = Milestone.objects.filter(plan__deal=deal).order_by("position").first()
    Milestone.objects.filter(plan__deal=deal).update(due_date=today + timedelta(days=5))
    Milestone.objects.filter(pk=overdue.pk).update(due_date=today - timedelta(days=2))

    with django_capture_on_commit_callbacks(execute=True):
        first = sweep(inline=True)
        second = sweep(inline=True)

    assert first.overdue_announced == 1
    assert second.overdue_announced == 0
    bodies = [json.loads(request["body"]) for request in receiver.requests]
    assert [event["type"] for event in bodies] == ["milestone.overdue"]
    body = bodies[0]["data"]
    assert body["milestone"]["title"] == overdue.title

    # Moved, and overdue again: announced again.
    step = Milestone.objects.get(pk=overdue.pk)
    update_milestone(
        step,
        actor=Actor.seller(alice),
        expected_version=None,
        reason="later",
        due_date=today - timedelta(days=1),
    )
    with django_capture_on_commit_callbacks(execute=True):
        third = sweep(inline=True)
    assert third.overdue_announced == 1
