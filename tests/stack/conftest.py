"""The production topology (deploy/stack.py) on a PostgreSQL cluster and a Redis server of
the tests' own (tests/stack/services.py), so that tests may stop and start them.

Every test here is marked `stack` and runs in CI's PostgreSQL + Redis run: it is skipped
unless DATABASE_URL (PostgreSQL) and REDIS_URL are set, although it never uses them (the
shared 5432/6379 are never stopped). One cluster and one Redis server serve the session;
each stack gets its own database and Redis database number. Static files are collected
once (uncompressed: compressing 1,300 files takes minutes on a busy 2-core machine).

    def test_something(stack_services):
        stack = stack_services.start_stack("scale", web=2, events=2)
        try:
            ...  # stack.url, stack.processes, stack.mail, stack_services.redis.stop()
        finally:
            stack.stop()
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from deploy.stack import BIN, ROOT, Stack
from tests.conftest import needs_postgres, needs_redis

from .services import PostgresServer, RedisServer, own_postgres, own_redis


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/stack/" in str(item.fspath):
            item.add_marker(pytest.mark.stack)
            item.add_marker(needs_postgres)
            item.add_marker(needs_redis)


@dataclass
class StackServices:
    postgres: PostgresServer
    redis: RedisServer
    static_root: Path
    folder: Path
    _numbers: itertools.count = field(default_factory=lambda: itertools.count())

    def start_stack(self, name: str, **kwargs) -> Stack:
        """A started Stack (2 web, 2 events unless told) on database `name` of the own
        cluster and the next Redis database number. Stop it with `stack.stop()`."""
        self.postgres.create_database(name)
        extra_env = {
            "STATIC_ROOT": str(self.static_root),
            "STATIC_COMPRESS": "0",
            **kwargs.pop("extra_env", {}),
        }
        stack = Stack(
            self.postgres.url(name),
            self.redis.url(next(self._numbers)),
            state=self.folder / name,
            extra_env=extra_env,
            **kwargs,
        )
        return stack.start(collectstatic=False)


def _collect_static(static_root: Path) -> None:
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")},
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "STATIC_ROOT": str(static_root),
        "STATIC_COMPRESS": "0",
    }
    subprocess.run(
        [str(BIN / "python"), "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="session")
def stack_services(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stack")
    static_root = folder / "static"
    _collect_static(static_root)
    with own_postgres() as postgres, own_redis() as redis:
        yield StackServices(postgres, redis, static_root, folder)


# The fault-tolerance tests' stack: the relay of the outbox every 5 s instead of 30 s, webhook
# endpoints on 127.0.0.1 allowed (the test's receiver), and a 5 s claim on an email being
# sent (a sender killed mid-send leaves its email to the next sweep after that).
FAULTS_ENV = {
    "OUTBOX_RELAY_SECONDS": "5",
    "WEBHOOKS_ALLOW_PRIVATE": "1",
    "NOTIFICATION_CLAIM_SECONDS": "5",
}


def _seeded(stack) -> None:
    seeded = stack.manage("seed_demo", "--port", str(stack.port))
    stack.room_url = re.search(r"(http://\S+/r/\S+/)", seeded.stdout).group(1)


@pytest.fixture(scope="session")
def fault_stack(stack_services):
    """2 web, 2 events, a worker, beat, nginx and the SMTP sink, with the demo data
    (`seed_demo`); `stack.room_url` is the Initech champion's room link. Tests that stop a
    service start it again before they end."""
    stack = stack_services.start_stack("faults", extra_env=FAULTS_ENV)
    try:
        _seeded(stack)
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def demo_stack(stack_services, request):
    """A stack of the test's own, with the demo data, stopped when it ends: for tests whose
    traffic (hundreds of edits, the emails and tasks they owe) must not reach the stack of
    the fault tests, which count what arrives."""
    stack = stack_services.start_stack(request.node.name.lower()[:40])
    try:
        _seeded(stack)
        yield stack
    finally:
        stack.stop()
