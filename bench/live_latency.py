"""Benchmark: browser-to-browser latency of live co-editing (p50/p95).

A buyer in the deal room changes a step's status; the seller's open plan page shows the new
status (the row, rendered once for every seller page, pushed over SSE and swapped in by htmx).
Both are real Chromium pages
(Playwright, Debian's /usr/bin/chromium) against `manage.py runserver` — the server of
`make run` — on 127.0.0.1, with Redis pub/sub when REDIS_URL is set, in-process otherwise.
The time is from the buyer's change (Date.now() in the buyer's page, at the select's change
event) to the moment the seller's page has the new row (a MutationObserver's Date.now()).

    .venv/bin/python bench/live_latency.py --changes 30
    REDIS_URL=redis://127.0.0.1:6379/9 .venv/bin/python bench/live_latency.py --changes 30
    .venv/bin/python bench/live_latency.py --changes 30 --pages 20   # 20 seller pages open

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
    make_plan(deal, template="Enterprise (12 steps)", shared=True)
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
    parser.add_argument("--pages", type=int, default=1, help="seller pages open on the plan")
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
                run(
                    f"http://127.0.0.1:{port}",
                    plan_url,
                    session_key,
                    token,
                    title,
                    args.changes,
                    args.pages,
                )
            )
        finally:
            server.terminate()
            server.wait(timeout=10)


def run(base, plan_url, session_key, token, title, changes, pages=1) -> str:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        probe = "document.addEventListener('htmx:sseOpen', () => { window.__sseOpen = true; });"
        sellers = []
        for _ in range(pages):
            # A context each: a browser holds at most 6 connections per host, and every page
            # keeps one open for its stream.
            seller_context = browser.new_context(base_url=base)
            seller_context.add_init_script(probe)
            seller_context.add_cookies([{"name": "sessionid", "value": session_key, "url": base}])
            sellers.append(seller_context.new_page())
            sellers[-1].goto(plan_url)
        buyer_context = browser.new_context(base_url=base)
        buyer_context.add_init_script(probe)
        buyer_context.add_init_script(
            "document.addEventListener('change', () => { window.__changedAt = Date.now(); }, true);"
        )
        buyer = buyer_context.new_page()
        buyer.goto(f"/r/{token}/")
        buyer.get_by_role("button", name="Open deal room").click()
        for page in (*sellers, buyer):
            page.wait_for_function("() => window.__sseOpen === true")
        for seller in sellers:
            seller.evaluate(OBSERVE)
        firsts, lasts = [], []
        label = f"Status of {title}"
        for i in range(changes):
            status = ["in_progress", "blocked", "done", "not_started"][i % 4]
            before = buyer.evaluate("Date.now()")
            buyer.get_by_label(label).select_option(status)
            # From the change event itself: Playwright's own checks before it selects
            # (visible, stable for two frames) are the harness's time, not the product's.
            started = buyer.evaluate("window.__changedAt")
            assert started >= before
            arrivals = []
            for seller in sellers:
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
                arrivals.append(arrived - started)
            firsts.append(min(arrivals))
            lasts.append(max(arrivals))
            buyer.wait_for_timeout(150)
        browser.close()
    mode = "Redis pub/sub" if os.environ.get("REDIS_URL") else "in-process channel"
    report = (
        f"{changes} buyer changes seen on the seller's page ({mode}, runserver): {_figures(firsts)}"
    )
    if pages > 1:
        report += (
            f"\n  with {pages} seller pages open, the last page to see each change: "
            f"{_figures(lasts)}; last/first at p95 {_p95(lasts) / _p95(firsts):.2f}x"
        )
    return report


def _p95(values) -> float:
    values = sorted(values)
    return values[max(0, int(round(len(values) * 0.95)) - 1)]


def _figures(values) -> str:
    return (
        f"p50 {statistics.median(values):.0f} ms, p95 {_p95(values):.0f} ms, "
        f"max {max(values):.0f} ms"
    )


if __name__ == "__main__":
    main()
