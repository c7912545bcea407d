"""Benchmark: the seller's plan page (40 milestones) against a minimal Django page of the
same HTML size, warm, in-process and over HTTP under gunicorn. A script, not a test.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tandem_bench .venv/bin/python bench/plan_page.py

It migrates that database, (re)creates a "bench" workspace with one 40-step plan, then
measures the median server time of both pages:
- in-process: Django's test Client through the whole middleware stack, many iterations;
- over HTTP: gunicorn (2 sync workers) on a free 127.0.0.1 port, driven by 2 client threads
  with a bounded number of requests; the server time is read from a Server-Timing header
  set around the Django handler, and the client latency and throughput are printed too.

Both pages are workspace pages behind `org_view` (signed in, membership checked), extend
base.html (with the navigation) and render with the project's Django template settings
(cached loader, DEBUG off). The minimal page adds one query of the same milestones drawn as
a plain table, padded to the plan page's size. The target is a plan page within 1.25x of the
minimal page. Both are measured warm: the plan page is served from its cache
(plans/page_cache.py) as it is for any plan viewed since its last change. The first view
after an edit, which computes the page (its unchanged rows from their cache), is measured
in-process too, side by side with the minimal page (target: within 2.5x).

This module is also the WSGI app gunicorn serves (`bench.plan_page:application`): the app's
URLs plus the bench-only minimal page, so nothing bench-only enters config/urls.py.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from datetime import timedelta
from http.client import HTTPConnection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Production-like settings: DEBUG off (cached template loader, hashed static files), plain
# HTTP on 127.0.0.1.
BENCH_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "DEBUG": "0",
    "SECRET_KEY": "bench-only-secret-key-not-for-production-0123456789",
    "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
    "SECURE_SSL_REDIRECT": "0",
    "SESSION_COOKIE_SECURE": "0",
    "CSRF_COOKIE_SECURE": "0",
    "SECURE_HSTS_SECONDS": "0",
    "LOG_LEVEL": "WARNING",
}
for _name, _value in BENCH_ENV.items():
    os.environ.setdefault(_name, _value)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.template import engines  # noqa: E402
from django.urls import include, path  # noqa: E402

from deals.tenancy import org_view  # noqa: E402

# Static URLs without a collected manifest: `collectstatic` with the hashed storage stops on
# the vendored Chart.js, whose sourceMappingURL names a .map file that is not vendored. Both
# pages pay the same for {% static %}, so the comparison holds.
settings.STORAGES = {
    **settings.STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Compiled once, like the cached loader does for the app's templates.
MINIMAL_TEMPLATE = engines["django"].from_string(
    (Path(__file__).with_name("minimal_page.html")).read_text()
)
_filler_for_size: dict[tuple[int, int], str] = {}


@org_view
def minimal_page(request):
    """The same shell (signed in, a workspace page, base.html with its navigation) and one
    query of the plan's steps drawn as a plain table, padded to ?size= bytes."""
    from plans.models import Milestone

    plan_id = int(request.GET["plan"])
    size = int(request.GET.get("size", "0"))
    milestones = list(
        Milestone.objects.for_org(request.organization)
        .filter(plan_id=plan_id)
        .order_by("phase", "position")
        .values("title", "buyer_owner__name", "seller_owner__name", "due_date", "status")
    )
    context = {"title": "Minimal page", "milestones": milestones, "nav": "deals"}
    key = (plan_id, size)
    if key not in _filler_for_size:
        base = len(MINIMAL_TEMPLATE.render({**context, "filler": ""}, request).encode())
        per_row = max(size - base, 0) // max(len(milestones), 1)
        _filler_for_size[key] = ("Lorem ipsum dolor sit amet " * (per_row // 27 + 1))[:per_row]
    html = MINIMAL_TEMPLATE.render({**context, "filler": _filler_for_size[key]}, request)
    return HttpResponse(html)


# The bench URL conf: the app's URLs and the minimal page.
urlpatterns = [
    path("o/<slug:org_slug>/bench-minimal/", minimal_page),
    path("", include("config.urls")),
]
settings.ROOT_URLCONF = "bench.plan_page"

_handler = None


def application(environ, start_response):
    """Django's WSGI app, timed: Server-Timing carries the time spent in the handler."""
    global _handler
    if _handler is None:
        from django.core.wsgi import get_wsgi_application

        _handler = get_wsgi_application()
    started = time.perf_counter()

    def timed_start_response(status, headers, exc_info=None):
        elapsed = (time.perf_counter() - started) * 1000
        headers.append(("Server-Timing", f"app;dur={elapsed:.3f}"))
        return start_response(status, headers, exc_info)

    return _handler(environ, timed_start_response)


# Data ---------------------------------------------------------------------------------


def build_data():
    """A fresh "bench" workspace: a seller, a deal with 12 stakeholders and a 40-step plan
    built from the Enterprise template, with slips, done steps and activity."""
    from deals.models import Deal, Membership, Organization, User
    from plans import services
    from plans.models import Milestone, PlanTemplate
    from stakeholders import services as stakeholder_services
    from stakeholders.actors import Actor

    Organization.objects.filter(slug="bench").delete()
    User.objects.filter(email="bench@example.com").delete()
    organization = Organization.objects.create(name="Bench", slug="bench")
    user = User.objects.create_user(email="bench@example.com", full_name="Ben Bench")
    Membership.objects.create(organization=organization, user=user, role="admin")
    actor = Actor.seller(user)
    from django.utils import timezone

    today = timezone.localdate()
    target = today + timedelta(days=120)
    while target.weekday() >= 5:
        target += timedelta(days=1)
    deal = Deal.objects.create(
        organization=organization,
        account_name="Initech",
        name="Platform rollout",
        amount=180000,
        stage="negotiation",
        owner=user,
        target_close_date=target,
    )
    people = [
        ("Peter Gibbons", "champion"),
        ("Bill Lumbergh", "economic_buyer"),
        ("Samir Nagheenanajar", "security_reviewer"),
        ("Joanna Legal", "legal_reviewer"),
        ("Milton Waddams", "procurement"),
        ("Michael Bolton", "technical_evaluator"),
        ("Tom Smykowski", "buyer_other"),
        ("Sol Engineer", "se"),
        ("Lee Legal", "seller_legal"),
        ("Casey Success", "csm"),
        ("Eve Exec", "exec_sponsor"),
    ]
    for name, role in people:
        stakeholder_services.add_stakeholder(
            deal, actor=actor, name=name, role=role, email=f"{role}@bench.example.com"
        )
    template = PlanTemplate.objects.get(organization=None, name="Enterprise (12 steps)")
    plan = services.create_plan_from_template(
        deal,
        template=template,
        target_date=target,
        actor=actor,
        business_outcome="Cut onboarding of new plants from 9 to 5 months by Q3",
    )
    services.update_plan_overview(
        plan, actor=actor, success_criteria=["SSO and HRIS", "Security review", "Payback < 12m"]
    )
    close_steps = list(plan.milestones.filter(phase="close").order_by("position"))
    for i in range(26):
        after = close_steps[i % len(close_steps)]
        services.add_milestone(
            plan,
            actor=actor,
            after=after,
            title=f"Working session {i + 1} with the buyer team",
            due_date=after.due_date,
            duration_days=1 + i % 3,
            risk="security" if i % 7 == 0 else "",
            visibility="internal" if i % 9 == 4 else "shared",
        )
    for i in range(2):
        services.add_milestone(
            plan,
            actor=actor,
            title=f"Adoption review {i + 1}",
            phase="post",
            due_date=target + timedelta(days=30 * (i + 1)),
        )
    milestones = list(plan.milestones.order_by("phase", "position"))
    assert len(milestones) == 40, len(milestones)
    for i, milestone in enumerate(milestones[:30]):
        fresh = Milestone.objects.get(pk=milestone.pk)
        if i % 5 == 1:
            services.update_milestone(
                fresh,
                actor=actor,
                expected_version=fresh.version,
                due_date=fresh.due_date - timedelta(days=7),
                reason="Pulled in after the kickoff call",
                shared_notes="Agreed in the weekly review.",
            )
        elif i % 6 == 0:
            services.set_milestone_status(fresh, actor=actor, status="in_progress")
    # Materials, as a seller shares them: two sections of files and links, one opened.
    from django.core.files.uploadedfile import SimpleUploadedFile

    from plans import materials

    for title in ("Proposal", "Security & legal"):
        section = materials.add_section(plan, actor=actor, title=title, buyer_uploads=False)
        for j in range(3):
            upload = SimpleUploadedFile(f"{title[:4]}-{j}.pdf", b"%PDF-1.4 bench")
            materials.add_file(plan, actor=actor, section=section, upload=upload)
        materials.add_link(
            plan, actor=actor, section=section, title=f"{title} video", url="https://v.test/"
        )
    return user, plan


# Measuring ----------------------------------------------------------------------------


@contextmanager
def count_queries(connection):
    """Count the statements a block sends (a list whose first item is the count)."""
    counter = [0]

    def wrapper(execute, sql, params, many, context):
        counter[0] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield counter


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def measure_in_process(user, paths: dict[str, str], iterations: int) -> dict[str, list[float]]:
    from django.test import Client

    client = Client()
    client.force_login(user)
    for path_ in paths.values():  # warm up: templates compiled, connections open
        for _ in range(20):
            assert client.get(path_).status_code == 200
    samples: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(iterations):
        for name, path_ in paths.items():  # interleaved, so drift hits both alike
            started = time.perf_counter()
            response = client.get(path_)
            samples[name].append(time.perf_counter() - started)
            assert response.status_code == 200
    return samples


def measure_after_change(user, plan, iterations: int) -> list[float]:
    """The first view after an edit of the plan (a step's status set, as the seller does):
    the page cache misses and the page is computed, its unchanged rows from their cache.
    Only the GET is timed."""
    from django.test import Client

    from plans import services
    from stakeholders.actors import Actor

    client = Client()
    client.force_login(user)
    step = plan.milestones.order_by("phase", "position").first()
    actor = Actor.seller(user)
    samples = []
    for index in range(iterations):
        status = "in_progress" if index % 2 == 0 else "not_started"
        services.set_milestone_status(step, actor=actor, status=status)
        started = time.perf_counter()
        response = client.get(plan.get_absolute_url())
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200
    return samples


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(port: int, path_: str, cookie: str) -> tuple[float, float, int]:
    """One request on a new connection (gunicorn's sync workers close it after each)."""
    started = time.perf_counter()
    connection = HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", path_, headers={"Cookie": cookie, "Host": "127.0.0.1"})
    response = connection.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - started
    connection.close()
    assert response.status == 200, (response.status, body[:300])
    timing = response.getheader("Server-Timing", "app;dur=0")
    server = float(timing.split("dur=")[1]) / 1000
    return server, elapsed, len(body)


def drive(port: int, path_: str, cookie: str, requests: int, threads: int = 2):
    """`requests` GETs from `threads` concurrent clients: server times, latencies, req/s."""
    server, client = [], []
    lock = threading.Lock()
    per_thread = requests // threads

    def worker():
        for _ in range(per_thread):
            s, c, _ = http_get(port, path_, cookie)
            with lock:
                server.append(s)
                client.append(c)

    started = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return server, client, len(server) / (time.perf_counter() - started)


def measure_http(paths: dict[str, str], cookie: str, requests: int, rounds: int):
    port = free_port()
    # The workers run this process's release: the pages it warmed are theirs too.
    env = {**os.environ, "TANDEM_RELEASE": settings.RELEASE}
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen(  # noqa: S603 - fixed arguments
        [
            str(gunicorn),
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--chdir",
            str(ROOT),
            "--log-level",
            "warning",
            "bench.plan_page:application",
        ],
        env=env,
    )
    try:
        deadline = time.time() + 30
        while True:
            try:
                http_get(port, "/healthz", cookie)
                break
            except (ConnectionError, OSError):
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        for path_ in paths.values():  # warm both workers
            drive(port, path_, cookie, 40)
        results = {name: {"server": [], "client": [], "rps": []} for name in paths}
        for _ in range(rounds):  # alternate the pages in rounds, so drift hits both alike
            for name, path_ in paths.items():
                server_times, client_times, rps = drive(port, path_, cookie, requests // rounds)
                results[name]["server"] += server_times
                results[name]["client"] += client_times
                results[name]["rps"].append(rps)
        return results
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> int:
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        print(
            "Set DATABASE_URL to a PostgreSQL database (it is migrated and gets a 'bench' "
            "workspace).",
            file=sys.stderr,
        )
        return 2
    from django.core.management import call_command
    from django.db import connection

    iterations = int(os.environ.get("BENCH_ITERATIONS", "300"))
    http_requests = int(os.environ.get("BENCH_HTTP_REQUESTS", "600"))

    call_command("migrate", verbosity=0)
    user, plan = build_data()

    from django.test import Client

    client = Client()
    client.force_login(user)
    plan_path = plan.get_absolute_url()
    client.get(plan_path)  # fills the row cache, like any earlier view of the plan
    with count_queries(connection) as plan_queries:
        plan_html = client.get(plan_path).content
    size = len(plan_html)
    minimal_path = f"/o/bench/bench-minimal/?plan={plan.pk}&size={size}"
    client.get(minimal_path)
    with count_queries(connection) as minimal_queries:
        minimal_html = client.get(minimal_path).content
    paths = {"plan page": plan_path, "minimal page": minimal_path}
    print(f"database: {connection.vendor}, cache: {settings.CACHES['default']['BACKEND']}")
    print(
        f"plan page: {plan.milestones.count()} milestones, {size / 1024:.1f} KB, "
        f"{plan_queries[0]} queries"
    )
    print(f"minimal page: {len(minimal_html) / 1024:.1f} KB, {minimal_queries[0]} queries")

    samples = measure_in_process(user, paths, iterations)
    plan_ms, minimal_ms = (median_ms(samples[name]) for name in paths)
    print(f"\nin-process (Django test Client, {iterations} requests each, median):")
    print(f"  plan page     {plan_ms:7.2f} ms")
    print(f"  minimal page  {minimal_ms:7.2f} ms")
    print(f"  ratio         {plan_ms / minimal_ms:7.2f}x  (target <= 1.25x)")
    after_change = median_ms(measure_after_change(user, plan, max(iterations // 5, 20)))
    print(
        f"  plan page, first view after an edit (computed)  {after_change:7.2f} ms"
        f"  ({after_change / minimal_ms:.2f}x the minimal page; target <= 2.5x)"
    )

    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    results = measure_http(paths, cookie, http_requests, rounds=3)
    print(f"\nHTTP, gunicorn 2 sync workers, 2 concurrent clients, {http_requests} requests each:")
    print("                server median   client median   throughput")
    for name in paths:
        r = results[name]
        print(
            f"  {name:<13} {median_ms(r['server']):9.2f} ms    {median_ms(r['client']):9.2f} ms"
            f"    {statistics.mean(r['rps']):6.1f} req/s"
        )
    plan_server = median_ms(results["plan page"]["server"])
    minimal_server = median_ms(results["minimal page"]["server"])
    print(f"  ratio (server) {plan_server / minimal_server:6.2f}x  (target <= 1.25x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
