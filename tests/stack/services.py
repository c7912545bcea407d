"""PostgreSQL and Redis instances of a test's own, on free ports, that the test may stop and
start at will (never the machine's shared 5432/6379, which other runs use).

    with own_postgres() as postgres, own_redis() as redis:
        stack = Stack(postgres.url("tandem"), redis.url(0), ...)
        redis.stop()      # an outage: the port refuses connections
        redis.start()     # back, on the same port (empty: Redis keeps nothing on disk)
        postgres.restart()

Redis: `redis-server --port <p> --save "" --appendonly no`. PostgreSQL (the newest
/usr/lib/postgresql/<version>/bin, or TANDEM_PG_BIN): a cluster made by `initdb` in a
temporary folder and `postgres -D <dir> -p <p> -k <dir>`, run as the `postgres` user when
the tests run as root (postgres refuses to run as root). Stopping PostgreSQL is a fast
shutdown (SIGINT): open connections are cut, new ones are refused.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from deploy.stack import free_port


def _pg_bin() -> Path:
    """TANDEM_PG_BIN, else the newest /usr/lib/postgresql/<version>/bin (Debian's layout)."""
    if os.environ.get("TANDEM_PG_BIN"):
        return Path(os.environ["TANDEM_PG_BIN"])
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else Path("/usr/lib/postgresql/15/bin")


PG_BIN = _pg_bin()


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait(condition, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} within {timeout:.0f} s")
        time.sleep(0.05)


class _Server:
    """A server process on a fixed port that can be stopped and started again."""

    name = "server"

    def __init__(self, folder: Path, port: int | None = None):
        self.folder = folder
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        return _listening(self.port)

    def start(self, timeout: float = 30) -> None:
        if self.running:
            return
        log = (self.folder / f"{self.name}.log").open("ab")
        self.process = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        _wait(
            lambda: self.ready() or self.process.poll() is not None,
            timeout=timeout,
            what=f"{self.name} on port {self.port} did not start",
        )
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited; see {self.folder / self.name}.log")

    def send(self, sig: int) -> None:
        self.process.send_signal(sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        if not self.running:
            return
        self.send(sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        _wait(lambda: not _listening(self.port), timeout=10, what=f"{self.name} still listens")

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class RedisServer(_Server):
    name = "redis"

    def command(self) -> list[str]:
        return [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.folder),
        ]

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def client(self, db: int = 0):
        import redis

        return redis.Redis.from_url(self.url(db))


class PostgresServer(_Server):
    name = "postgres"

    def __init__(self, folder: Path, port: int | None = None):
        super().__init__(folder, port)
        self.data = folder / "data"
        # postgres refuses to run as root: then the cluster belongs to the postgres user.
        self.user = "postgres" if os.geteuid() == 0 else None

    def _as_owner(self, args: list[str]) -> list[str]:
        return ["runuser", "-u", self.user, "--", *args] if self.user else args

    def init(self) -> None:
        if self.user:
            owner = pwd.getpwnam(self.user)
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
        subprocess.run(
            self._as_owner(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "--no-sync",
                    "-E",
                    "UTF8",
                ]
            ),
            check=True,
            capture_output=True,
        )

    def command(self) -> list[str]:
        return self._as_owner(
            [
                str(PG_BIN / "postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-k",
                str(self.folder),
                "-c",
                "listen_addresses=127.0.0.1",
                # A test database: speed over durability.
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=200",
            ]
        )

    def ready(self) -> bool:
        return (
            subprocess.run(
                ["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port)], check=False
            ).returncode
            == 0
        )

    def send(self, sig: int) -> None:
        # To the postmaster itself (runuser does not pass signals on).
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        os.kill(pid, sig)

    def stop(self, sig: int = signal.SIGINT, timeout: float = 30) -> None:
        # SIGINT: PostgreSQL's fast shutdown (cuts sessions, refuses new ones).
        super().stop(sig, timeout)

    def create_database(self, name: str) -> None:
        subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                f'CREATE DATABASE "{name}"',
            ],
            check=True,
            capture_output=True,
        )

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"


@contextlib.contextmanager
def own_redis() -> Iterator[RedisServer]:
    with tempfile.TemporaryDirectory(prefix="tandem-redis-") as folder:
        server = RedisServer(Path(folder))
        server.start()
        try:
            yield server
        finally:
            server.stop()


@contextlib.contextmanager
def own_postgres(database: str | None = None) -> Iterator[PostgresServer]:
    """A fresh cluster (with `database` created in it, when given)."""
    with tempfile.TemporaryDirectory(prefix="tandem-pg-") as folder:
        server = PostgresServer(Path(folder))
        server.init()
        server.start()
        try:
            if database:
                server.create_database(database)
            yield server
        finally:
            server.stop()
