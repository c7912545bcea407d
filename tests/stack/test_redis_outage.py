"""Redis stopped for 20 s under light traffic, then started again (empty: the test's Redis
keeps nothing on disk), on the production topology (nginx, 2 web, 2 events, worker, beat).

During the outage pages render (the cache reads as a miss) and writes that owe a task (a
buyer's check-off and comment: the AE's event email; every step change: a webhook; a PDF)
answer 2xx: the tasks wait in the outbox. After it, everything owed arrives exactly once
(counted at the SMTP sink by recipient and subject, at the webhook receiver by webhook-id),
and event streams opened before the outage are told to refresh and receive new events.
"""

from __future__ import annotations

import threading
import time

from .clients import (
    EventStream,
    WebhookReceiver,
    mail_counts,
    open_room,
    query,
    sign_in,
    wait_until,
)

OUTAGE_SECONDS = 20
# After Redis is back: the worker reconnects (its retries back off), beat's relay runs every
# 5 s here (OUTBOX_RELAY_SECONDS) and sends rows older than 10 s, the PDF renders. A delivery
# whose task sat in Redis when it stopped (lost: it restarts empty) is sent again by beat's
# webhook retry sweep, every 60 s.
DELIVERY_WAIT = 90
# A write during the outage may pay for finding Redis down (then each process takes it as
# down for 5 s); kombu's default connection retries once cost each such write 2 s.
SLOWEST_SECONDS = 2


def initech(database_url: str) -> dict:
    """The public ids the people below act on: the Initech deal and plan, two open steps
    its champion owns, and another open step (for the seller)."""
    deal, plan = query(
        database_url,
        "SELECT d.public_id, p.public_id FROM deals_deal d JOIN plans_plan p ON p.deal_id = d.id"
        " WHERE d.account_name = 'Initech'",
    )[0]
    steps = query(
        database_url,
        "SELECT m.public_id::text, m.buyer_owner_id IS NOT NULL FROM plans_milestone m"
        " WHERE m.plan_id = (SELECT id FROM plans_plan WHERE public_id = %s)"
        " AND m.visibility = 'shared' AND m.status NOT IN ('done', 'cancelled')"
        " ORDER BY m.phase, m.position",
        (plan,),
    )
    buyer_steps = [step for step, buyers in steps if buyers][:2]
    others = [step for step, _ in steps if step not in buyer_steps]
    return {
        "deal": str(deal),
        "plan": str(plan),
        "buyer_steps": buyer_steps,
        "seller_step": others[0],
    }


def add_webhook_endpoint(stack, url: str) -> None:
    """Acme's admin adds an endpoint that receives every event type."""
    code = (
        "from deals.models import Organization\n"
        "from notifications.models import WebhookEndpoint\n"
        "from notifications.webhooks import check_url, new_secret\n"
        f"check_url({url!r})\n"
        "WebhookEndpoint.objects.create(organization=Organization.objects.get(slug='acme'),"
        f" url={url!r}, secret=new_secret(), description='CRM sync')\n"
    )
    stack.manage("shell", "-c", code)


class Traffic(threading.Thread):
    """Light traffic: every ~0.3 s a page (the seller's plan, the buyer's room, the
    dashboard); every ~2 s the seller moves a step between in progress and done."""

    def __init__(self, seller, buyer, ids):
        super().__init__(daemon=True)
        self.seller, self.buyer, self.ids = seller, buyer, ids
        self.answers = []
        self.stopping = threading.Event()

    def run(self):
        deal, step = self.ids["deal"], self.ids["seller_step"]
        pages = [
            (self.seller, f"/o/acme/deals/{deal}/"),
            (self.buyer, f"/room/{deal}/"),
            (self.seller, "/o/acme/dashboard/"),
        ]
        turn = 0
        while not self.stopping.is_set():
            person, path = pages[turn % len(pages)]
            self.answers.append(person.get(path))
            if turn % 6 == 5:
                status = "done" if turn % 12 == 5 else "in_progress"
                self.answers.append(
                    self.seller.post(
                        f"/o/acme/milestones/{step}/status/", {"status": status}, htmx=True
                    )
                )
            turn += 1
            self.stopping.wait(0.3)

    def stop(self):
        self.stopping.set()
        self.join(30)


def test_redis_outage_pages_render_writes_succeed_and_what_is_owed_arrives_once(
    fault_stack, stack_services
):
    stack, redis = fault_stack, stack_services.redis
    ids = initech(stack.database_url)
    deal, checked_during, next_step = ids["deal"], *ids["buyer_steps"]
    with WebhookReceiver() as hooks:
        add_webhook_endpoint(stack, hooks.url)
        seller = sign_in(stack.url, "seller@example.com")
        buyer = open_room(stack.url, stack.room_url)
        # Two streams per side: nginx spreads them over both events processes.
        streams = [EventStream(person, ids["plan"]) for person in (seller, buyer, seller, buyer)]
        for stream in streams:
            stream.start()
        for stream in streams:
            assert stream.connected.wait(20), stream.status
        traffic = Traffic(seller, buyer, ids)
        traffic.start()
        time.sleep(3)
        mail_before = len(stack.mail.snapshot())

        redis.stop()
        down_at = time.monotonic()
        try:
            time.sleep(1)
            during = {
                "check-off": buyer.post(
                    f"/room/{deal}/steps/{checked_during}/status/", {"status": "done"}, htmx=True
                ),
                "comment": buyer.post(
                    f"/room/{deal}/steps/{checked_during}/comment/",
                    {"body": "Signed off by our security team."},
                    htmx=True,
                ),
                # The plan's content changes: its PDF is a new one, rendered by the worker.
                "overview": seller.post(
                    f"/o/acme/deals/{deal}/plan/overview/",
                    {
                        "business_outcome": f"Cut onboarding to 5 months (outage {down_at:.0f})",
                        "success_criteria": "Passes the security review",
                        "review_weekday": "0",
                    },
                    htmx=True,
                ),
                "pdf": buyer.get(f"/room/{deal}/pdf/"),
                "healthz": seller.get("/healthz"),
                "readyz": seller.get("/readyz"),
            }
            time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_at)))
        finally:
            redis.start()
        up_at = time.monotonic()

        # Streams opened before the outage: told to refresh once the subscription is back
        # (which may be before `start()` returns: it waits for Redis to answer a ping)…
        for stream in streams:
            assert stream.wait_for("refresh", since=down_at, timeout=20), stream.events[-5:]
        # …and they receive what happens after it (the seller starts the buyer's next step).
        after_at = time.monotonic()
        started = seller.post(
            f"/o/acme/milestones/{next_step}/status/", {"status": "in_progress"}, htmx=True
        )
        assert started.status == 200, started.body[:300]
        for stream in streams:
            assert stream.wait_for(f"milestone-{next_step}", since=after_at, timeout=10)
            assert not stream.ended.is_set()

        # Everything owed arrives: the AE's event email (the check-off and the comment, in
        # one batch), every webhook, the PDF.
        def pdf_ready():
            answer = buyer.get(f"/room/{deal}/pdf/")
            return answer if answer.status == 200 else None

        def webhooks_owed():
            return {
                row[0]
                for row in query(
                    stack.database_url, "SELECT event_id FROM notifications_webhookdelivery"
                )
            }

        ae_email = ("seller@example.com", "2 updates from your buyers")
        assert wait_until(
            lambda: mail_counts(stack, since=mail_before)[ae_email], timeout=DELIVERY_WAIT
        ), mail_counts(stack, since=mail_before)
        traffic.stop()
        owed = webhooks_owed()
        assert wait_until(lambda: owed <= set(hooks.counts()), timeout=DELIVERY_WAIT), owed - set(
            hooks.counts()
        )
        pdf = wait_until(pdf_ready, timeout=DELIVERY_WAIT)
        assert pdf and pdf.content.startswith(b"%PDF"), pdf
        time.sleep(5)  # time for anything sent twice to arrive

        # Everything owed, read at one moment with what arrived: events the relay sends late
        # (and the sweeps' announcements) owe deliveries too, so wait until both sets agree.
        def settled():
            return webhooks_owed() == set(hooks.counts())

        assert wait_until(settled, timeout=DELIVERY_WAIT), set(hooks.counts()) ^ webhooks_owed()
        for stream in streams:
            stream.close()

    # Pages rendered and writes succeeded throughout, the outage included.
    answers = traffic.answers
    outage = [a for a in answers if down_at <= a.at <= up_at]
    assert len(outage) >= 10
    assert [(a.method, a.path, a.status) for a in answers if a.status != 200] == []
    assert {a.method for a in outage} == {"GET", "POST"}
    assert during["check-off"].status == 200, during["check-off"].body[:300]
    assert during["comment"].status == 200, during["comment"].body[:300]
    assert during["overview"].status == 200, during["overview"].body[:300]
    assert during["pdf"].status == 202  # accepted: being prepared
    assert during["healthz"].status == during["readyz"].status == 200
    assert '"redis": "error' in during["healthz"].body
    slowest = max(a.seconds for a in outage + list(during.values()))
    assert slowest < SLOWEST_SECONDS, sorted((a.seconds, a.method, a.path) for a in outage)[-3:]

    # Exactly once: each email (recipient and subject) and each webhook (webhook-id).
    assert mail_counts(stack, since=mail_before)[ae_email] == 1
    assert [key for key, count in mail_counts(stack, since=mail_before).items() if count > 1] == []
    counts = hooks.counts()
    assert owed and owed <= set(counts), owed - set(counts)
    assert [key for key, count in counts.items() if count > 1] == []
