"""The deployment files: docker-compose.yml and the Dockerfile are checked by reading (there
is no Docker engine here); deploy/nginx.conf is loaded by the real nginx (`nginx -t`), and
run in front of a recording upstream to check what it forwards."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import threading
import time
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from deploy.stack import free_port, nginx_main_conf, render_nginx_site

ROOT = Path(__file__).resolve().parent.parent
needs_nginx = pytest.mark.skipif(
    not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()),
    reason="nginx not installed (apt-get install nginx-light; .ci/run installs it)",
)
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


# docker-compose.yml ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def services():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


APP_SERVICES = ("web", "events", "worker", "beat")


def test_compose_has_every_service(services):
    assert set(services) >= {
        "migrate",
        "proxy",
        "web",
        "events",
        "worker",
        "beat",
        "postgres",
        "redis",
        "mail",
    }
    assert "gunicorn" in services["web"]["command"]
    assert "uvicorn" in services["events"]["command"]
    assert "--timeout-graceful-shutdown" in services["events"]["command"]
    assert "worker" in services["worker"]["command"]
    assert "beat" in services["beat"]["command"]
    assert services["beat"]["deploy"]["replicas"] == 1


def test_migrations_run_once_in_a_one_shot_service_the_others_wait_for(services):
    assert services["migrate"]["command"][-2:] == ["migrate", "--noinput"]
    assert services["migrate"]["restart"] == "no"
    for name in APP_SERVICES:
        command = " ".join(services[name]["command"])
        assert "migrate" not in command, f"{name} must not migrate (scaled replicas race)"
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }


def test_every_service_has_a_healthcheck(services):
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "HEALTHCHECK" in dockerfile and "/healthz" in dockerfile
    for name, service in services.items():
        if name == "migrate":
            continue  # one-shot: it exits
        # web and events use the image's HEALTHCHECK (events says its port).
        if name in {"web", "events"}:
            assert "healthcheck" not in service or not service["healthcheck"].get("disable")
            continue
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    assert services["events"]["environment"]["PORT"] == "8001"


def test_web_and_events_can_be_scaled(services):
    for name in ("web", "events"):
        assert "container_name" not in services[name]
        assert "ports" not in services[name], f"{name} publishes a host port: cannot scale"
    # The proxy waits for healthy backends.
    assert services["proxy"]["depends_on"]["web"] == {"condition": "service_healthy"}


def test_app_services_read_settings_and_secrets_from_the_environment(services):
    for name in (*APP_SERVICES, "migrate"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["REDIS_URL"].startswith("redis://")
        assert "SECRET_KEY" in env and "SECRET_KEY_FILE" in env
        assert env["TRUSTED_PROXIES"]


# Dockerfile and the lock files ----------------------------------------------------------


def test_dockerfile_is_multi_stage_non_root_and_installs_from_the_lock():
    dockerfile = (ROOT / "Dockerfile").read_text()

    assert len(re.findall(r"^FROM ", dockerfile, re.M)) >= 2
    assert "--require-hashes" in dockerfile and "requirements.txt" in dockerfile
    assert re.search(r"^USER tandem$", dockerfile, re.M)
    assert "libpango-1.0-0" in dockerfile


def test_dockerignore_keeps_history_state_and_virtualenvs_out():
    ignored = set((ROOT / ".dockerignore").read_text().split())

    assert {".git", "var", ".venv"} <= ignored


def _locked(path: Path) -> dict[str, str]:
    pins = re.findall(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)", path.read_text(), re.M)
    return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in pins}


@pytest.mark.parametrize(
    ("lock", "extras"), [("requirements.txt", ()), ("requirements-dev.txt", ("dev",))]
)
def test_lock_files_pin_every_dependency_within_pyproject(lock, extras):
    """`make lock` after changing pyproject.toml: a dependency added or a bound moved without
    locking fails here."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    for extra in extras:
        wanted += project["optional-dependencies"][extra]
    locked = _locked(ROOT / lock)
    text = (ROOT / lock).read_text()

    assert "--hash=sha256:" in text
    for line in wanted:
        requirement = Requirement(line)
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        assert name in locked, f"{name} is not in {lock}: run make lock"
        assert requirement.specifier.contains(locked[name]), (
            f"{lock} pins {name}=={locked[name]} outside {requirement.specifier}: run make lock"
        )


def test_django_htmx_lower_bound_allows_only_versions_with_htmx_script_extensions():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    htmx = next(Requirement(d) for d in project["dependencies"] if d.startswith("django-htmx"))

    assert not htmx.specifier.contains("1.28.0")
    assert htmx.specifier.contains("1.29.0")


# nginx ----------------------------------------------------------------------------------


def nginx_config(tmp_path: Path, *, listen: int, web: list[int], events: list[int]) -> Path:
    for folder in ("logs", "nginx"):
        (tmp_path / folder).mkdir(exist_ok=True)
    site = tmp_path / "nginx" / "site.conf"
    site.write_text(render_nginx_site(listen=listen, web_ports=web, events_ports=events))
    main = tmp_path / "nginx" / "nginx.conf"
    main.write_text(nginx_main_conf(tmp_path, site))
    return main


@needs_nginx
def test_nginx_accepts_the_shipped_config(tmp_path):
    main = nginx_config(tmp_path, listen=free_port(), web=[free_port()], events=[free_port()])

    result = subprocess.run(
        [NGINX, "-t", "-c", str(main), "-p", str(tmp_path)], capture_output=True, text=True
    )

    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


class Recorder(BaseHTTPRequestHandler):
    """An upstream that records the headers it gets; /events/ streams two chunks 1 s apart."""

    seen: list[dict] = []

    def do_GET(self):  # noqa: N802 - http.server's name
        Recorder.seen.append({k.lower(): v for k, v in self.headers.items()})
        if self.path.startswith("/events/"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            self.wfile.write(b": first\n\n")
            self.wfile.flush()
            time.sleep(1.5)
            self.wfile.write(b": second\n\n")
            self.wfile.flush()
            return
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET  # noqa: N815

    def log_message(self, *args):
        pass


@pytest.fixture
def proxied(tmp_path):
    """nginx with the shipped config in front of one recording upstream (as web and events)."""
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    port = upstream.server_address[1]
    listen = free_port()
    main = nginx_config(tmp_path, listen=listen, web=[port], events=[port])
    process = subprocess.Popen(
        [NGINX, "-c", str(main), "-p", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", listen)) == 0:
                break
        assert time.monotonic() < deadline, (tmp_path / "logs" / "nginx-error.log").read_text()
        time.sleep(0.05)
    Recorder.seen = []
    yield listen
    process.terminate()
    process.wait(10)
    upstream.shutdown()


def _raw(port: int, request: bytes, *, until: bytes = b"", timeout: float = 5) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        data = b""
        while until not in data if until else True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


@needs_nginx
def test_nginx_sets_forwarded_headers_itself(proxied):
    _raw(
        proxied,
        b"GET /plan HTTP/1.1\r\nHost: tandem.test\r\nX-Forwarded-Proto: https\r\n"
        b"X-Forwarded-For: 6.6.6.6\r\nConnection: close\r\n\r\n",
    )

    headers = Recorder.seen[-1]
    # The client's claim of https is not passed on; its forged X-Forwarded-For stays on the
    # left, and the address nginx saw is appended last (the app reads from the right).
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-for"] == "6.6.6.6, 127.0.0.1"
    assert headers["host"] == "tandem.test"


@needs_nginx
def test_nginx_passes_the_host_with_its_port(proxied):
    # docker compose serves on :8080: Django compares a form's Origin (with the port) to the
    # Host it gets, and builds links from it. `$host` would drop the port.
    _raw(proxied, b"GET /plan HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: close\r\n\r\n")

    assert Recorder.seen[-1]["host"] == "127.0.0.1:8080"


@needs_nginx
def test_nginx_streams_events_without_buffering(proxied):
    started = time.monotonic()
    first = _raw(
        proxied,
        b"GET /events/plans/x/ HTTP/1.1\r\nHost: tandem.test\r\nConnection: close\r\n\r\n",
        until=b": first",
    )

    assert b": first" in first
    assert time.monotonic() - started < 1.2, "the first event waited for the second: buffered"
    assert Recorder.seen[-1]["x-forwarded-proto"] == "http"


@needs_nginx
def test_nginx_refuses_bodies_over_the_upload_limit(proxied, settings):
    limit = settings.ATTACHMENT_MAX_MB * 1024 * 1024
    head = (
        f"POST /room/x/steps/y/attach/ HTTP/1.1\r\nHost: tandem.test\r\n"
        f"Content-Length: {limit + 2 * 1024 * 1024}\r\nConnection: close\r\n\r\n"
    ).encode()

    answer = _raw(proxied, head, until=b"\r\n\r\n")

    assert answer.startswith(b"HTTP/1.1 413")
    # An upload at the limit (plus its multipart envelope) is let through.
    site = render_nginx_site(listen=1, web_ports=[2], events_ports=[3])
    allowed_mb = int(re.search(r"client_max_body_size (\d+)m;", site).group(1))
    assert settings.ATTACHMENT_MAX_MB < allowed_mb <= settings.ATTACHMENT_MAX_MB + 2


def test_the_stack_keeps_its_secret_key_across_runs(tmp_path, monkeypatch):
    from deploy.stack import Stack

    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("SECRET_KEY_FILE", raising=False)
    first = Stack("postgres://x@127.0.0.1/db", "redis://127.0.0.1:6379/0", state=tmp_path)
    first.mail_port = 2525
    again = Stack("postgres://x@127.0.0.1/db", "redis://127.0.0.1:6379/0", state=tmp_path)
    again.mail_port = 2525

    key = first.build_env()["SECRET_KEY"]
    assert len(key) > 40
    assert again.build_env()["SECRET_KEY"] == key  # sessions and seal keys survive a restart
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_every_process_of_a_stack_start_runs_one_release(tmp_path, monkeypatch):
    """Cache keys carry the release (settings.RELEASE): the processes of one start share
    their cached pages; the next start (a code change since) shares none with it."""
    from deploy.stack import Stack

    monkeypatch.delenv("TANDEM_RELEASE", raising=False)
    stack = Stack("postgres://x@127.0.0.1/db", "redis://127.0.0.1:6379/0", state=tmp_path)
    stack.mail_port = 2525
    release = stack.build_env()["TANDEM_RELEASE"]
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()

    assert release.startswith(f"{commit or 'local'}-")
    monkeypatch.setenv("TANDEM_RELEASE", "v1.2.3")
    assert stack.build_env()["TANDEM_RELEASE"] == "v1.2.3"  # an operator's own id wins


def test_the_image_is_built_with_its_release(services):
    assert services["web"]["build"]["args"] == {"TANDEM_RELEASE": "${TANDEM_RELEASE:-}"}
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'ARG TANDEM_RELEASE=""' in dockerfile
    assert "ENV TANDEM_RELEASE=${TANDEM_RELEASE}" in dockerfile


def test_the_stack_takes_the_secret_key_from_a_file_as_compose_does(tmp_path, monkeypatch):
    from deploy.stack import Stack

    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("SECRET_KEY_FILE", str(tmp_path / "key"))
    stack = Stack("postgres://x@127.0.0.1/db", "redis://127.0.0.1:6379/0", state=tmp_path)
    stack.mail_port = 2525

    env = stack.build_env()
    assert "SECRET_KEY" not in env  # not both: the settings would refuse to start
    assert env["SECRET_KEY_FILE"] == str(tmp_path / "key")


def test_a_failing_management_command_of_the_stack_says_why(tmp_path):
    from deploy.stack import Stack

    stack = Stack("postgres://x@127.0.0.1/db", "redis://127.0.0.1:6379/0", state=tmp_path)
    stack.env = {**os.environ, "DEBUG": "1", "DATABASE_URL": "sqlite:///:memory:"}

    with pytest.raises(RuntimeError, match="no_such_command"):
        stack.manage("no_such_command")


def _option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def test_make_stack_runs_the_processes_as_compose_does(services, tmp_path):
    # The stack (and the load benchmark on it) measures the configuration compose deploys.
    from deploy.stack import Stack

    stack = Stack("postgres://x@127.0.0.1/db", "redis://127.0.0.1:6379/0", state=tmp_path)
    web = services["web"]["command"]
    assert (web[0], _option(web, "-c")) == ("gunicorn", "python:config.gunicorn")
    assert int(_option(web, "--workers")) == stack.web_workers
    assert int(_option(web, "--threads")) == stack.web_threads
    worker = services["worker"]["command"]
    assert int(_option(worker, "--concurrency")) == stack.worker_concurrency
    assert _option(stack.worker_args(), "--concurrency") == str(stack.worker_concurrency)


def test_the_stack_restarts_a_process_that_exits_on_its_own_as_compose_does(tmp_path):
    import sys
    import threading

    from deploy.stack import Process, Stack

    stack = Stack("postgres://x@127.0.0.1/db", "redis://127.0.0.1:6379/0", state=tmp_path)
    stack.env = dict(os.environ)
    (tmp_path / "logs").mkdir()
    counter = tmp_path / "starts"
    code = f"open({str(counter)!r}, 'a').write('x')"
    crashing = Process("crashing", [sys.executable, "-c", code])
    stopped = Process("stopped", [sys.executable, "-c", "import time; time.sleep(60)"])
    stack.add(crashing)
    stack.add(stopped)
    stopped.stop()  # on purpose: stays down
    supervisor = threading.Thread(target=stack._supervise, kwargs={"every": 0.1}, daemon=True)
    supervisor.start()
    try:
        deadline = time.monotonic() + 10
        while (counter.read_text() if counter.exists() else "").count("x") < 3:
            assert time.monotonic() < deadline, "the crashed process was not restarted"
            time.sleep(0.05)
        assert not stopped.running
    finally:
        stack.stop()
        supervisor.join(5)
    assert not supervisor.is_alive()
