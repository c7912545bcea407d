"""PostgreSQL stopped for 20 s (a fast shutdown: sessions cut, connections refused), then
started again, on the production topology: every page, fragment, event stream and API
call answers a clear 503 within 2 s (no hang, no traceback), /healthz stays 200 (alive)
while /readyz answers 503 (not ready); once the database is back, the same processes serve
200 again within seconds (none restarted), and the worker runs tasks again."""

from __future__ import annotations

import time

from .clients import Person, open_room, query, sign_in, wait_until

OUTAGE_SECONDS = 20
RECOVERY_SECONDS = 5


def test_postgres_outage_answers_503_at_once_and_recovers_without_restarts(
    fault_stack, stack_services
):
    stack, postgres = fault_stack, stack_services.postgres
    deal, plan = (
        str(value)
        for value in query(
            stack.database_url,
            "SELECT d.public_id, p.public_id FROM deals_deal d"
            " JOIN plans_plan p ON p.deal_id = d.id WHERE d.account_name = 'Initech'",
        )[0]
    )
    key = stack.manage("create_api_key", "--org", "acme", "--name", "CRM sync").stdout.strip()
    seller = sign_in(stack.url, "seller@example.com")
    buyer = open_room(stack.url, stack.room_url)
    api = Person(stack.url)
    api.session.headers["Authorization"] = f"Bearer {key}"
    probes = [
        (seller, "GET", f"/o/acme/deals/{deal}/", {}),
        (seller, "GET", "/o/acme/dashboard/", {}),
        (seller, "GET", f"/o/acme/deals/{deal}/", {"htmx": True}),
        (buyer, "GET", f"/room/{deal}/", {}),
        (buyer, "GET", f"/events/plans/{plan}/", {}),
        (seller, "POST", f"/o/acme/deals/{deal}/plan/overview/", {"htmx": True}),
        (api, "GET", "/api/v1/deals/", {}),
        (api, "GET", f"/api/v1/plans/{plan}/", {}),
    ]
    for person, method, path, options in probes:
        if method == "GET" and not path.startswith("/events/"):
            answer = person.request(method, path, **options)
            assert answer.status == 200, (path, answer.status, answer.body[:300])
    pids = {name: process.popen.pid for name, process in stack.processes.items()}

    postgres.stop()
    down_at = time.monotonic()
    answers, health = [], []
    try:
        while time.monotonic() - down_at < OUTAGE_SECONDS:
            for person, method, path, options in probes:
                answers.append(person.request(method, path, timeout=10, **options))
            health += [seller.get("/healthz"), seller.get("/readyz")]
            time.sleep(0.5)
    finally:
        postgres.start()
    up_at = time.monotonic()

    # Back by itself: every probe answers as before, within seconds, from the same processes.
    def all_back():
        return all(
            person.request(method, path, **options).status in {200, 302}
            for person, method, path, options in probes
            if method == "GET" and not path.startswith("/events/")
        )

    assert wait_until(all_back, timeout=RECOVERY_SECONDS, step=0.5)
    recovered_after = time.monotonic() - up_at
    assert {name: process.popen.pid for name, process in stack.processes.items()} == pids
    assert all(process.running for process in stack.processes.values())
    assert seller.get("/readyz").status == 200
    # The worker runs tasks again: the plan's PDF (content changed since the last one).
    changed = seller.post(
        f"/o/acme/deals/{deal}/plan/overview/",
        {
            "business_outcome": f"Cut onboarding to 4 months (outage {down_at:.0f})",
            "success_criteria": "Passes the security review",
            "review_weekday": "0",
        },
        htmx=True,
    )
    assert changed.status == 200, changed.body[:300]
    pdf = wait_until(
        lambda: (answer := seller.get(f"/o/acme/deals/{deal}/plan/pdf/")).status == 200 and answer,
        timeout=60,
        step=1,
    )
    assert pdf and pdf.content.startswith(b"%PDF")

    # During the outage: a clear 503 at once, everywhere (JSON under /api/).
    assert len(answers) >= 4 * len(probes)
    assert {a.status for a in answers} == {503}, {(a.path, a.status) for a in answers}
    slowest = max(a.seconds for a in answers)
    assert slowest < 2, sorted((a.seconds, a.path) for a in answers)[-5:]
    for answer in answers:
        assert "Traceback" not in answer.body and "OperationalError" not in answer.body
        if answer.path.startswith("/api/"):
            assert answer.content_type == "application/json"
            assert "temporarily unavailable" in answer.body
        elif not answer.path.startswith("/events/"):
            assert "Back in a moment" in answer.body
    assert {a.status for a in health[::2]} == {200}  # /healthz: alive
    assert {a.status for a in health[1::2]} == {503}  # /readyz: not ready
    assert '"database": "error' in health[1].body
    print(f"slowest 503: {slowest:.2f} s; back {recovered_after:.1f} s after the restart")
