"""The production topology of docker-compose.yml as local processes, for machines without
Docker and for the integration tests: nginx (the real `deploy/nginx.conf`, its upstream
hosts mapped to 127.0.0.1 ports), N gunicorn web processes, M uvicorn events processes, a
Celery worker, one Celery beat, and an SMTP sink, against the PostgreSQL and Redis of
DATABASE_URL and REDIS_URL, with production settings (DEBUG off).

    make stack                                  # 2 web, 2 events; Ctrl-C stops everything
    .venv/bin/python deploy/stack.py --web 3 --events 2 --port 8080

Like docker-compose.yml, migrations run once before anything starts (a one-shot step), and
static files are collected. Emails land in the SMTP sink, written to `<state>/mail/` as .eml
files. Logs of each process are in `<state>/logs/`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email import policy
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NGINX_CONF = ROOT / "deploy" / "nginx.conf"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def render_nginx_site(
    *, listen: int, web_ports: list[int], events_ports: list[int], access_log: str | None = None
) -> str:
    """deploy/nginx.conf with its upstream hosts replaced by 127.0.0.1 ports (one `server`
    line per process) and the listen address by 127.0.0.1:<listen>. Fails loudly if the
    file no longer has the lines it replaces."""
    text = NGINX_CONF.read_text()
    replacements = {
        r"^(\s*)server web:8000;$": lambda m: "\n".join(
            f"{m.group(1)}server 127.0.0.1:{port};" for port in web_ports
        ),
        r"^(\s*)server events:8001;$": lambda m: "\n".join(
            f"{m.group(1)}server 127.0.0.1:{port};" for port in events_ports
        ),
        r"^(\s*)listen 80;$": lambda m: f"{m.group(1)}listen 127.0.0.1:{listen};",
        r"^(\s*)access_log /var/log/nginx/access.log tandem;$": lambda m: (
            f"{m.group(1)}access_log {access_log or '/dev/null'} tandem;"
        ),
    }
    for pattern, replace in replacements.items():
        text, count = re.subn(pattern, replace, text, flags=re.M)
        if count != 1:
            raise RuntimeError(f"deploy/nginx.conf: expected one line matching {pattern!r}")
    return text


def nginx_main_conf(state: Path, site: Path) -> str:
    """A main nginx.conf around the site file, with every path under `state` (no root
    paths needed: `nginx -c <this> -p <state>`)."""
    return f"""daemon off;
worker_processes 1;
pid {state}/nginx.pid;
error_log {state}/logs/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log {state}/logs/nginx-access.log;
    client_body_temp_path {state}/nginx/body;
    proxy_temp_path {state}/nginx/proxy;
    fastcgi_temp_path {state}/nginx/fastcgi;
    uwsgi_temp_path {state}/nginx/uwsgi;
    scgi_temp_path {state}/nginx/scgi;
    include {site};
}}
"""


def nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if not found:
        raise SystemExit("nginx is not installed (Debian/Ubuntu: apt-get install nginx-light).")
    return found


def _answers(url: str) -> bool:
    """GET `url` (on 127.0.0.1) answers 200 within 2 s."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - 127.0.0.1
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


class MailSink:
    """An SMTP server on 127.0.0.1 that keeps every message (and writes it to a folder)."""

    def __init__(self, folder: Path, port: int, *, delay: float = 0.0):
        from aiosmtpd.controller import Controller  # noqa: PLC0415 - a dev dependency: only the stack's SMTP sink needs it

        self.folder = folder
        self.messages: list[email.message.EmailMessage] = []
        self.lock = threading.Lock()
        self.controller = Controller(self, hostname="127.0.0.1", port=port)
        self.port = port
        # Seconds each message is held before it is accepted (a slow mail server), and a
        # switch that holds every message until it is turned off (tests set them). A sender
        # that goes away meanwhile has not delivered its message: nothing is kept.
        self.delay = delay
        self.paused = False
        self.holding = 0  # messages being held right now
        self.earlier = 0  # messages an earlier run wrote to the folder

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name

        self.holding += 1
        try:
            await asyncio.sleep(self.delay)
            while self.paused:
                await asyncio.sleep(0.01)
        finally:
            self.holding -= 1
        message = email.message_from_bytes(envelope.original_content, policy=policy.default)
        with self.lock:
            self.messages.append(message)
            path = self.folder / f"{self.earlier + len(self.messages):05d}.eml"
        path.write_bytes(envelope.original_content)
        return "250 Message accepted for delivery"

    def start(self):
        self.folder.mkdir(parents=True, exist_ok=True)
        # Numbered after what an earlier run of the same state folder wrote (kept).
        self.earlier = len(list(self.folder.glob("*.eml")))
        self.controller.start()

    def stop(self):
        with contextlib.suppress(Exception):
            self.controller.stop()

    def snapshot(self) -> list[email.message.EmailMessage]:
        with self.lock:
            return list(self.messages)


@dataclass
class Process:
    name: str
    args: list[str]
    port: int | None = None
    popen: subprocess.Popen | None = None
    # Stopped or signalled on purpose (a test's fault, the stack stopping): not restarted.
    held: bool = False

    def start(self, env: dict, logs: Path):
        self.held = False
        log = (logs / f"{self.name}.log").open("ab")
        # Each process leads its own group, so that stopping it stops its children too
        # (gunicorn and Celery workers fork).
        self.popen = subprocess.Popen(
            self.args,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def signal(self, signum: int):
        self.held = True
        if self.popen is not None and self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signum)

    def stop(self, timeout: float = 10):
        self.held = True
        if self.popen is None:
            return
        # The leader first: gunicorn's master and Celery's main process stop their children
        # themselves (a Celery pool child sent SIGTERM directly dies as a lost worker). What
        # is still running after `timeout` is killed, children included.
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.popen.wait(5)

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None


@dataclass
class Stack:
    """The topology, started with `start()` (or as a context manager) and stopped with
    `stop()`. Tests reach every part: `processes`, `mail`, `url`, `env`."""

    database_url: str
    redis_url: str
    web: int = 2
    events: int = 2
    port: int = 0
    state: Path = ROOT / "var" / "stack"
    # As docker-compose.yml runs them (tests/test_deploy.py keeps the two equal).
    web_workers: int = 2
    web_threads: int = 1
    worker_concurrency: int = 2
    beat: bool = True
    extra_env: dict = field(default_factory=dict)
    processes: dict[str, Process] = field(default_factory=dict)
    mail: MailSink | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self):
        self.port = self.port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.state = Path(self.state)

    # Environment ----------------------------------------------------------------------

    def build_env(self) -> dict:
        env = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
        env.update(
            DEBUG="0",
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            ALLOWED_HOSTS="127.0.0.1,localhost",
            CSRF_TRUSTED_ORIGINS=f"{self.url},http://localhost:{self.port}",
            SITE_URL=self.url,
            # Plain http on 127.0.0.1: nothing to redirect to, cookies over http.
            SECURE_SSL_REDIRECT="0",
            SESSION_COOKIE_SECURE="0",
            CSRF_COOKIE_SECURE="0",
            SECURE_HSTS_SECONDS="0",
            TRUSTED_PROXIES="127.0.0.1",
            EMAIL_URL=f"smtp://127.0.0.1:{self.mail_port}",
            MEDIA_ROOT=str(self.state / "media"),
            STATIC_ROOT=str(self.state / "static"),
            PYTHONUNBUFFERED="1",
        )
        # One release for every process of this start (config/settings.py RELEASE): they
        # share cached pages, and a restart after a code change serves none of the old ones.
        env.setdefault("TANDEM_RELEASE", f"{self._commit()}-{int(time.time())}")
        if not env.get("SECRET_KEY_FILE"):
            env["SECRET_KEY"] = env.get("SECRET_KEY") or self._kept_secret_key()
        env.update(self.extra_env)
        return env

    @staticmethod
    def _commit() -> str:
        try:
            result = subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            )
        except (OSError, subprocess.CalledProcessError):
            return "local"
        return result.stdout.strip()

    def _kept_secret_key(self) -> str:
        """A key made once and kept in the state folder: sessions, signing codes and the
        workspaces' seal keys outlive a restart of the stack."""
        path = self.state / "secret_key"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(50))
            path.chmod(0o600)
        return path.read_text().strip()

    # Lifecycle ------------------------------------------------------------------------

    def start(self, *, migrate: bool = True, collectstatic: bool = True) -> Stack:
        for folder in ("logs", "nginx", "media", "mail"):
            (self.state / folder).mkdir(parents=True, exist_ok=True)
        self.mail_port = free_port()
        self.mail = MailSink(self.state / "mail", self.mail_port)
        self.mail.start()
        self.env = self.build_env()
        try:
            if migrate:
                # The one-shot step of docker-compose.yml (service `migrate`): once, before
                # any process starts, never inside a scaled service's command.
                self.manage("migrate", "--noinput")
            if collectstatic:
                # Tests collect once into a shared STATIC_ROOT (extra_env) and skip this.
                self.manage("collectstatic", "--noinput", "--verbosity", "0")
            self._start_processes()
            self.wait_ready()
            threading.Thread(target=self._supervise, name="stack-supervisor", daemon=True).start()
        except BaseException:
            self.stop()
            raise
        return self

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """`manage.py <args>` with the stack's environment; with `check`, a failure raises
        with what the command wrote (a migration that fails says why)."""
        done = subprocess.run(
            [str(BIN / "python"), "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            check=False,
            capture_output=True,
            text=True,
        )
        if check and done.returncode != 0:
            output = (done.stderr or done.stdout).strip()[-3000:]
            raise RuntimeError(f"stack: manage.py {' '.join(args)} failed:\n{output}")
        return done

    def _start_processes(self):
        logs = self.state / "logs"
        web_ports = [free_port() for _ in range(self.web)]
        events_ports = [free_port() for _ in range(self.events)]
        for index, port in enumerate(web_ports, start=1):
            self.add(
                Process(
                    f"web{index}",
                    [
                        str(BIN / "gunicorn"),
                        "-c",
                        "python:config.gunicorn",
                        "config.wsgi:application",
                        "--bind",
                        f"127.0.0.1:{port}",
                        "--workers",
                        str(self.web_workers),
                        "--threads",
                        str(self.web_threads),
                        "--timeout",
                        "30",
                        "--graceful-timeout",
                        "5",
                    ],
                    port,
                ),
                logs,
            )
        for index, port in enumerate(events_ports, start=1):
            self.add(
                Process(
                    f"events{index}",
                    [
                        str(BIN / "uvicorn"),
                        "config.asgi:application",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                        "--timeout-graceful-shutdown",
                        "5",
                        "--no-access-log",
                    ],
                    port,
                ),
                logs,
            )
        self.add(Process("worker", self.worker_args()), logs)
        if self.beat:
            self.add(
                Process(
                    "beat",
                    [
                        str(BIN / "celery"),
                        "-A",
                        "config",
                        "beat",
                        "--loglevel",
                        "INFO",
                        "--schedule",
                        str(self.state / "celerybeat-schedule"),
                    ],
                ),
                logs,
            )
        site = self.state / "nginx" / "site.conf"
        site.write_text(
            render_nginx_site(
                listen=self.port,
                web_ports=web_ports,
                events_ports=events_ports,
                access_log=str(self.state / "logs" / "nginx-access.log"),
            )
        )
        main = self.state / "nginx" / "nginx.conf"
        main.write_text(nginx_main_conf(self.state, site))
        self.add(Process("nginx", [nginx_binary(), "-c", str(main), "-p", str(self.state)]), logs)

    def worker_args(self) -> list[str]:
        return [
            str(BIN / "celery"),
            "-A",
            "config",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            str(self.worker_concurrency),
            "--hostname",
            f"stack-{self.port}@%h",
        ]

    def add(self, process: Process, logs: Path | None = None):
        self.processes[process.name] = process
        process.start(self.env, logs or self.state / "logs")

    def restart(self, name: str):
        process = self.processes[name]
        process.stop()
        process.start(self.env, self.state / "logs")

    def wait_ready(self, timeout: float = 60):
        """Until every web and events process answers /healthz directly, and nginx does."""
        targets = [f"http://127.0.0.1:{p.port}/healthz" for p in self.processes.values() if p.port]
        targets.append(f"{self.url}/healthz")
        deadline = time.monotonic() + timeout
        for target in targets:
            while True:
                dead = [p.name for p in self.processes.values() if not p.running]
                if dead:
                    raise RuntimeError(f"stack: {', '.join(dead)} exited; see {self.state}/logs")
                if _answers(target):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"stack: {target} did not answer within {timeout:.0f} s")
                time.sleep(0.2)

    def _supervise(self, every: float = 1.0):
        """compose's `restart: unless-stopped`: a process that exits on its own (a Celery
        worker that kombu's Redis transport crashes when the broker goes away, say) is
        started again; one stopped or signalled on purpose is not."""
        while not self._stopping.wait(every):
            for process in list(self.processes.values()):
                if process.held or process.running:
                    continue
                print(
                    f"stack: {process.name} exited ({process.popen.returncode}); restarting",
                    file=sys.stderr,
                )
                process.start(self.env, self.state / "logs")

    def stop(self):
        self._stopping.set()
        for name in reversed(list(self.processes)):
            self.processes[name].stop()
        if self.mail is not None:
            self.mail.stop()

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--web", type=int, default=2, help="gunicorn web processes (2)")
    parser.add_argument("--events", type=int, default=2, help="uvicorn events processes (2)")
    parser.add_argument("--port", type=int, default=8080, help="nginx on 127.0.0.1 (8080)")
    parser.add_argument("--seed", action="store_true", help="load the demo data (seed_demo)")
    parser.add_argument(
        "--state", type=Path, default=ROOT / "var" / "stack", help="logs, mail, media (var/stack)"
    )
    args = parser.parse_args(argv)
    database_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    if not (database_url or "").startswith(("postgres://", "postgresql://")) or not redis_url:
        print(
            "make stack runs the production topology: set DATABASE_URL (PostgreSQL) and "
            "REDIS_URL, e.g.\n  DATABASE_URL=postgres://postgres@127.0.0.1:5432/tandem "
            "REDIS_URL=redis://127.0.0.1:6379/0 make stack",
            file=sys.stderr,
        )
        return 2
    stack = Stack(
        database_url,
        redis_url,
        web=args.web,
        events=args.events,
        port=args.port,
        state=args.state,
    )
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        stack.start()
        if args.seed:
            print(stack.manage("seed_demo", "--port", str(args.port)).stdout)
        print(
            f"Tandem is up on {stack.url} — {args.web} web, {args.events} events, a worker, "
            f"beat and nginx; emails land in {stack.state / 'mail'} (SMTP 127.0.0.1:"
            f"{stack.mail_port}); logs in {stack.state / 'logs'}. Ctrl-C stops everything."
        )
        while not stopping.wait(1):
            pass
    except KeyboardInterrupt:
        pass
    except RuntimeError as failure:
        print(failure, file=sys.stderr)
        return 1
    finally:
        print("Stopping…", file=sys.stderr)
        stack.stop()
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
