"""Benchmark: browser-to-browser latency of live co-editing (p50/p95).

A buyer in the deal room changes a step's status; the seller's open plan page shows the new
status (the row, rendered once for every seller page, pushed over SSE and swapped in by htmx).
Both are real Chromium pages
(Playwright, Debian's /usr/bin/chromium) against `manage.py runserver` — the server of
`make run` — on 127.0.0.1, with Redis pub/sub when REDIS_URL is set, in-process otherwise.
The time is from the buyer's change (Date.now() in the buyer's page, just before the select
changes) to the moment the seller's page has the new row (a MutationObserver's Date.now()).

    .venv/bin/python bench/live_latency.py --changes 30
    REDIS_URL=redis://127.0.0.1:6379/9 .venv/bin/python bench/live_latency.py --changes 30

Not a test: run it by hand and copy the figures into the README.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

OBSERVE = """
() => {
  window.__changes = [];
  new MutationObserver(() => {
    document.querySelectorAll('select[aria-label^="Status of"]').forEach((select) => {
      window.__changes.push([select.getAttribute('aria-label'), select.value, Date.now()]);
    });
  }).observe(document.getElementById('milestone-table'), {childList: true, subtree: true});
}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(database: Path):
    os.environ["DATABASE_URL"] = f"sqlite:///{database}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["DEBUG"] = "1"
    import django

    django.setup()
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from deals.models import Membership, Organization, User
    from plans.models import Milestone
    from stakeholders.services import issue_room_link
    from tests.factories import add_buyer, make_deal, make_plan

    organization = Organization.objects.create(name="Bench", slug="bench")
    user = User.objects.create_user(email="seller@bench.test", full_name="Bench Seller")
    Membership.objects.create(organization=organization, user=user, role="admin")
    deal = make_deal(organization, user)
    champion = add_buyer(deal, name="Dana Buyer", email="dana@bench.test")
    make_plan(deal, template="Enterprise (12 steps)")
    Milestone.objects.filter(plan__deal=deal).update(buyer_owner=champion)
    step = Milestone.objects.filter(plan__deal=deal).order_by("position").first()
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    _, token = issue_room_link(champion)
    return deal.get_absolute_url(), session.session_key, token, step.title


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "live.sqlite3"
        plan_url, session_key, token, title = prepare(database)
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{database}",
            "DEBUG": "1",
            "LOG_LEVEL": "WARNING",
        }
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            print(
                run(f"http://127.0.0.1:{port}", plan_url, session_key, token, title, args.changes)
            )
        finally:
            server.terminate()
            server.wait(timeout=10)


def run(base, plan_url, session_key, token, title, changes) -> str:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        probe = "document.addEventListener('htmx:sseOpen', () => { window.__sseOpen = true; });"
        seller_context = browser.new_context(base_url=base)
        seller_context.add_init_script(probe)
        seller_context.add_cookies([{"name": "sessionid", "value": session_key, "url": base}])
        seller = seller_context.new_page()
        seller.goto(plan_url)
        buyer_context = browser.new_context(base_url=base)
        buyer_context.add_init_script(probe)
        buyer = buyer_context.new_page()
        buyer.goto(f"/r/{token}/")
        buyer.get_by_role("button", name="Open deal room").click()
        for page in (seller, buyer):
            page.wait_for_function("() => window.__sseOpen === true")
        seller.evaluate(OBSERVE)
        latencies = []
        label = f"Status of {title}"
        for i in range(changes):
            status = ["in_progress", "blocked", "done", "not_started"][i % 4]
            started = buyer.evaluate("Date.now()")
            buyer.get_by_label(label).select_option(status)
            seller.wait_for_function(
                "([label, status, since]) => window.__changes.some("
                "c => c[0] === label && c[1] === status && c[2] >= since)",
                arg=[label, status, started],
                timeout=10_000,
            )
            arrived = seller.evaluate(
                "([label, status, since]) => window.__changes.find("
                "c => c[0] === label && c[1] === status && c[2] >= since)[2]",
                [label, status, started],
            )
            latencies.append(arrived - started)
            buyer.wait_for_timeout(150)
        browser.close()
    latencies.sort()
    p95 = latencies[max(0, int(round(len(latencies) * 0.95)) - 1)]
    mode = "Redis pub/sub" if os.environ.get("REDIS_URL") else "in-process channel"
    return (
        f"{changes} buyer changes seen on the seller's page ({mode}, runserver): "
        f"p50 {statistics.median(latencies):.0f} ms, p95 {p95:.0f} ms, max {latencies[-1]:.0f} ms"
    )


if __name__ == "__main__":
    main()
