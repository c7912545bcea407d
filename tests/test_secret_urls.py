"""A URL that carries a secret (config/secret_urls.py) is never written in clear: not in the
application's log (test client), not in the request lines of the real servers (runserver,
gunicorn with its access log on, nginx with deploy/nginx.conf; Referer headers included),
not in error emails, and no other site gets it as a Referer.

Before, password-reset keys (`/accounts/password/reset/key/<uid>-<key>/`) were logged in
clear, unsubscribe tokens (`/u/.eJx…:…:…/`) kept everything after their first character
in clear, and an error at a room link emailed its token to ADMINS."""

import http.cookiejar
import io
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from allauth.account.models import EmailAddress, EmailConfirmationHMAC
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from config.secret_urls import SECRET_PATHS, SECRET_QUERY_PARAMETERS, redact
from deals.services import invite_teammate
from deploy.stack import render_nginx_site
from notifications.services import unsubscribe_token
from stakeholders.services import issue_room_link, revoke_room_link

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """These tests sign in, sign up and reset passwords from 127.0.0.1: allauth counts that
    in the cache (Redis: shared by the whole run), and other tests count on full buckets."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def console():
    """What the configured console handler writes (the log as operators read it)."""
    handler = next(h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler))
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


def _reset_key_url(client, email):
    mail.outbox.clear()
    client.post(reverse("account_reset_password"), {"email": email})
    return re.search(r"https?://testserver(/accounts/password/reset/key/\S+)", mail.outbox[0].body)[
        1
    ]


@pytest.fixture
def secret_urls(acme, acme_admin, alice, dana):
    """Every kind of URL with a secret, as the application really builds them, with the
    secrets they carry: {url: secret}."""
    link, token = issue_room_link(dana)
    revoked, revoked_token = issue_room_link(dana)
    revoke_room_link(revoked)
    step = dana.deal.plan.milestones.filter(visibility="shared").first()
    _, invitation = invite_teammate(
        acme, email="newbie@acme.test", role="seller", invited_by=acme_admin
    )
    unsubscribe = unsubscribe_token(organization_id=acme.pk, email=dana.email, kind="digest")
    reset_url = _reset_key_url(Client(), alice.email)
    address, _ = EmailAddress.objects.get_or_create(user=alice, email=alice.email)
    confirmation = EmailConfirmationHMAC(address).key
    return {
        f"/r/{token}/": token,
        f"/r/{revoked_token}/": revoked_token,
        f"/r/{token}/act/{step.public_id}/done/": token,
        f"/invite/{invitation}/": invitation,
        f"/u/{unsubscribe}/": unsubscribe,
        f"/u/{unsubscribe}/preferences/": unsubscribe,
        reset_url: reset_url.split("/")[-2],
        f"/accounts/confirm-email/{confirmation}/": confirmation,
        f"/accounts/login/?next=/invite/{invitation}/": invitation,
    }


def test_redact_covers_every_kind_of_secret_url():
    assert redact("GET /r/AbC-_123456789/act/x/done/ HTTP/1.1") == (
        "GET /r/[redacted]/act/x/done/ HTTP/1.1"
    )
    assert redact("/r/AbC-_123456789/request/") == "/r/[redacted]/request/"
    assert redact("/u/.eJxTyk0tLlayUkhJzMnPyA:1tX2:Zm9v-bar_/") == "/u/[redacted]/"
    assert redact("/accounts/password/reset/key/3-cf1x-0123abcd/") == (
        "/accounts/password/reset/key/[redacted]/"
    )
    assert redact("/accounts/password/reset/key/3-set-password/") == (
        "/accounts/password/reset/key/[redacted]/"
    )
    assert redact("/accounts/confirm-email/MQ:1tX:abc/") == "/accounts/confirm-email/[redacted]/"
    assert redact("/accounts/confirm-email/") == "/accounts/confirm-email/"
    assert redact("/accounts/login/?next=%2Finvite%2FSeCrEt123%2F") == (
        "/accounts/login/?next=%2Finvite%2F[redacted]%2F"
    )
    assert redact("/feed.ics?token=SeCrEt123&page=2") == "/feed.ics?token=[redacted]&page=2"
    assert redact("/x/?page=2&api_key=SeC%3Aret") == "/x/?page=2&api_key=[redacted]"
    assert redact("http://testserver/o/acme/deals/?page=2") == (
        "http://testserver/o/acme/deals/?page=2"
    )


def test_request_log_never_shows_a_secret(client, secret_urls, console, caplog):
    with caplog.at_level(logging.INFO):
        for url in secret_urls:
            client.get(url)
            client.post(url)
        for url in [u for u in secret_urls if u.startswith("/r/") and u.count("/") == 3]:
            client.post(url + "request/")

    written = console.getvalue() + "\n".join(r.getMessage() for r in caplog.records)
    assert "Not Found: /r/[redacted]/" in written  # the revoked link, among others
    for secret in set(secret_urls.values()):
        assert secret not in written


def test_no_other_site_gets_a_referer_from_a_secret_url_page(client, secret_urls, alice):
    """`same-origin`: the browser sends a Referer only to this site (whose logs redact it,
    test_*_log_* below). Not `no-referrer`: forms on these pages (open the room, accept,
    set a password, confirm) would then post `Origin: null` and fail CSRF checks."""
    for url in secret_urls:
        assert client.get(url)["Referrer-Policy"] == "same-origin", url
    client.force_login(alice)
    assert client.get("/o/acme/deals/")["Referrer-Policy"] == "same-origin"


def _failing_room_link(monkeypatch, dana):
    from stakeholders import views

    def boom(*args, **kwargs):
        raise RuntimeError("template exploded")

    monkeypatch.setattr(views, "render", boom)
    _, token = issue_room_link(dana)
    return token


def test_error_email_carries_no_secret(settings, monkeypatch, dana):
    settings.ADMINS = [("Ops", "ops@tandem.test")]
    token = _failing_room_link(monkeypatch, dana)

    response = Client(raise_request_exception=False).get(
        f"/r/{token}/?code=SeCrEtCoDe1", HTTP_REFERER=f"http://testserver/r/{token}/"
    )

    assert response.status_code == 500
    [email] = mail.outbox
    assert "/r/[redacted]/" in email.subject
    assert "template exploded" in email.body
    assert "Request Method: GET" in email.body  # the report keeps the request, redacted
    assert "/r/[redacted]/" in email.body
    for text in (email.subject, email.body):
        assert token not in text
        assert "SeCrEtCoDe1" not in text


def test_debug_error_page_carries_no_secret(settings, monkeypatch, dana):
    settings.DEBUG = True
    token = _failing_room_link(monkeypatch, dana)

    response = Client(raise_request_exception=False).get(f"/r/{token}/")

    assert response.status_code == 500
    assert b"template exploded" in response.content
    assert token.encode() not in response.content


def test_proxy_log_redacts_the_same_urls():
    """deploy/nginx.conf cannot import the list: it mirrors it, and this keeps them equal."""
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()

    prefixes = re.search(r"\(\?<secret_prefix>/\(\?:([^)]*)\)/\)", nginx)[1].split("|")
    assert prefixes == [prefix.strip("/") for prefix in SECRET_PATHS]
    words = re.search(r"\\\?\.\*\(\?:([^)]*)\)", nginx)[1].split("|")
    assert words[: len(SECRET_QUERY_PARAMETERS)] == SECRET_QUERY_PARAMETERS
    assert "access_log /var/log/nginx/access.log tandem;" in nginx


# --- The real servers: what `make run` (runserver) and production (nginx in front of
# gunicorn, deploy/nginx.conf) write for each secret URL, Referer included. ---------------

SEED = """
import json, django
django.setup()
from allauth.account.forms import default_token_generator
from allauth.account.models import EmailAddress, EmailConfirmationHMAC
from allauth.account.utils import user_pk_to_url_str
from deals.models import Membership
from deals.services import invite_teammate
from notifications.services import unsubscribe_token
from stakeholders.services import issue_room_link, revoke_room_link
from tests.factories import (
    MembershipFactory, OrganizationFactory, UserFactory, add_buyer, make_deal, make_plan,
)

org = OrganizationFactory(name="Acme", slug="acme")
alice = MembershipFactory(organization=org, role=Membership.Role.ADMIN,
                          user=UserFactory(email="alice@acme.test")).user
deal = make_deal(org, alice)
dana = add_buyer(deal)
make_plan(deal)
step = deal.plan.milestones.filter(visibility="shared").first()
_, token = issue_room_link(dana)
revoked, revoked_token = issue_room_link(dana)
revoke_room_link(revoked)
_, invitation = invite_teammate(org, email="newbie@acme.test", role="seller", invited_by=alice)
unsubscribe = unsubscribe_token(organization_id=org.pk, email=dana.email, kind="digest")
uid, key = user_pk_to_url_str(alice), default_token_generator.make_token(alice)
address, _ = EmailAddress.objects.get_or_create(user=alice, email=alice.email)
confirmation = EmailConfirmationHMAC(address).key
print(json.dumps({
    f"/r/{token}/": token,
    f"/r/{token}/act/{step.public_id}/done/": token,
    f"/r/{revoked_token}/": revoked_token,
    f"/invite/{invitation}/": invitation,
    f"/u/{unsubscribe}/": unsubscribe,
    f"/u/{unsubscribe}/preferences/": unsubscribe,
    f"/accounts/password/reset/key/{uid}-{key}/": key,
    f"/accounts/confirm-email/{confirmation}/": confirmation,
    f"/accounts/login/?next=/invite/{invitation}/": invitation,
    "/o/acme/deals/?token=SeCrEtQuErY1": "SeCrEtQuErY1",
}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server stopped"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


def _stop(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGTERM)
    try:
        output, _ = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output


def _visit(base: str, urls) -> None:
    """GET every URL, then POST it as its form would (opening a room, accepting an
    invitation…), each with a Referer that is a secret URL (what a browser without our
    Referrer-Policy would send)."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    for url in urls:
        for data in (None, b""):
            csrf = next((c.value for c in jar if c.name == "csrftoken"), "")
            request = urllib.request.Request(  # noqa: S310 (http://127.0.0.1 only)
                base + url, data=data, headers={"Referer": base + url, "X-CSRFToken": csrf}
            )
            try:
                opener.open(request, timeout=30).read()
            except urllib.error.HTTPError as error:
                error.read()


@pytest.fixture(scope="module")
def server_env(tmp_path_factory):
    """A migrated SQLite database with one of each secret URL: (environment, {url: secret})."""
    directory = tmp_path_factory.mktemp("servers")
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}},
        "DATABASE_URL": f"sqlite:///{directory / 'db.sqlite3'}",
        "EMAIL_URL": "locmem://",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONUNBUFFERED": "1",
    }
    python = [sys.executable]
    migrate = subprocess.run(
        [*python, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, capture_output=True
    )
    assert migrate.returncode == 0, migrate.stderr
    seed = subprocess.run([*python, "-c", SEED], cwd=ROOT, env=env, capture_output=True, text=True)
    assert seed.returncode == 0, seed.stderr
    return env, json.loads(seed.stdout.strip().splitlines()[-1])


def test_runserver_log_never_shows_a_secret(server_env):
    env, urls = server_env
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env={**env, "DEBUG": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_for(port, server)
        _visit(f"http://127.0.0.1:{port}", urls)
    finally:
        log = _stop(server)

    assert '"GET /r/[redacted]/ HTTP/1.1" 200' in log
    assert '"POST /r/[redacted]/ HTTP/1.1" 302' in log
    assert '"GET /accounts/password/reset/key/[redacted]/ HTTP/1.1" 302' in log
    for secret in urls.values():
        assert secret not in log


@pytest.mark.skipif(not shutil.which("nginx"), reason="needs nginx")
def test_production_logs_never_show_a_secret(server_env, tmp_path):
    """nginx with deploy/nginx.conf in front of gunicorn started as docker-compose.yml
    starts it (plus its access log, which an operator may turn on)."""
    env, urls = server_env
    web, proxy = _free_port(), _free_port()
    command = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["web"][
        "command"
    ]
    gunicorn_args = list(command[1:])
    gunicorn_args[gunicorn_args.index("--bind") + 1] = f"127.0.0.1:{web}"
    gunicorn = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), *gunicorn_args, "--access-logfile", "-"],
        cwd=ROOT,
        # DEBUG only so that pages find their static files without `collectstatic`.
        env={**env, "DEBUG": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    site = render_nginx_site(
        listen=proxy,
        web_ports=[web],
        events_ports=[_free_port()],
        access_log=str(tmp_path / "access.log"),
    )
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"""
        {"user root;" if os.geteuid() == 0 else ""}
        worker_processes 1;
        error_log {tmp_path}/error.log;
        pid {tmp_path}/nginx.pid;
        events {{ worker_connections 64; }}
        http {{
            client_body_temp_path {tmp_path}/body;
            proxy_temp_path {tmp_path}/proxy;
            fastcgi_temp_path {tmp_path}/fastcgi;
            uwsgi_temp_path {tmp_path}/uwsgi;
            scgi_temp_path {tmp_path}/scgi;
            include {tmp_path}/site.conf;
        }}
        """
    )
    nginx = subprocess.Popen(
        [
            shutil.which("nginx"),
            "-p",
            str(tmp_path),
            "-c",
            str(tmp_path / "nginx.conf"),
            "-g",
            "daemon off;",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_for(web, gunicorn)
        _wait_for(proxy, nginx)
        _visit(f"http://127.0.0.1:{proxy}", urls)
    finally:
        nginx_output = _stop(nginx)
        gunicorn_log = _stop(gunicorn)
    proxy_log = (tmp_path / "access.log").read_text()

    assert '"GET /r/[redacted]/ HTTP/1.1" 200' in proxy_log, nginx_output
    assert '"GET /accounts/password/reset/key/[redacted]/ HTTP/1.1" 302' in proxy_log
    assert '"GET /r/[redacted]/ HTTP/1.0" 200' in gunicorn_log
    for secret in urls.values():
        assert secret not in proxy_log
        assert secret not in gunicorn_log


CELERY_LOG = """
import logging, django
django.setup()
from celery.utils.log import get_task_logger
from config.celery import app
app.log.setup(loglevel="INFO")  # what `celery worker` and `celery beat` do at start
logging.getLogger("notifications.tasks").warning("could not send /r/SeCrEtToKeN12345/")
get_task_logger("notifications.tasks").warning("sent /u/SeCrEtToKeN12345/preferences/")
"""


def test_celery_worker_log_never_shows_a_secret():
    """Celery replaces the root logger's handlers with its own (settings.LOGGING's filter
    is gone in the worker): before, its log showed URL secrets in clear."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "1"}

    run = subprocess.run(
        [sys.executable, "-c", CELERY_LOG],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert run.returncode == 0, run.stderr
    assert "could not send /r/[redacted]/" in run.stderr
    assert "sent /u/[redacted]/preferences/" in run.stderr
    assert "SeCrEtToKeN12345" not in run.stdout + run.stderr
