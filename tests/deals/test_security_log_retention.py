"""The security log keeps entries SECURITY_LOG_RETENTION_DAYS days: a daily beat task (and
`manage.py purge_security_log`) deletes older ones in bulk, in every workspace."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command

from config.celery import app
from deals import tasks
from deals.models import SecurityEvent
from deals.security import record
from deals.services import purge_security_log
from tests.test_settings import _run

Kind = SecurityEvent.Kind
JAN_1 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def _written_at(moment, organization, target):
    with time_machine.travel(moment, tick=False):
        return record(organization, Kind.SIGN_IN, actor="x", target=target)


@pytest.fixture
def entries(acme, globex, settings):
    settings.SECURITY_LOG_RETENTION_DAYS = 30
    _written_at(JAN_1, acme, "acme-old")
    _written_at(JAN_1, globex, "globex-old")
    _written_at(JAN_1 + timedelta(days=20), acme, "acme-recent")


def _targets():
    return set(SecurityEvent.objects.values_list("target", flat=True))


def test_purge_keeps_entries_within_the_retention_period(entries):
    with time_machine.travel(JAN_1 + timedelta(days=30), tick=False):
        assert purge_security_log() == 0  # exactly 30 days old: still kept

    with time_machine.travel(JAN_1 + timedelta(days=30, seconds=1), tick=False):
        assert purge_security_log() == 2

    assert _targets() == {"acme-recent"}


def test_purge_in_small_batches_deletes_everything_due(acme, settings):
    settings.SECURITY_LOG_RETENTION_DAYS = 1
    for n in range(7):
        _written_at(JAN_1, acme, f"old-{n}")
    _written_at(JAN_1 + timedelta(days=2), acme, "new")

    with time_machine.travel(JAN_1 + timedelta(days=2), tick=False):
        assert purge_security_log(batch=3) == 7
        assert purge_security_log(batch=3) == 0  # idempotent

    assert _targets() == {"new"}


def test_purge_follows_the_setting(entries, settings):
    settings.SECURITY_LOG_RETENTION_DAYS = 10

    with time_machine.travel(JAN_1 + timedelta(days=31), tick=False):
        purge_security_log()

    assert _targets() == set()


def test_purge_task_and_its_daily_beat(entries):
    entry = app.conf.beat_schedule["security-log-retention"]
    assert entry["task"] == "deals.purge_security_log" == tasks.purge_security_log.name
    assert entry["schedule"].hour == {3} and entry["schedule"].minute == {17}

    with time_machine.travel(JAN_1 + timedelta(days=31), tick=False):
        assert tasks.purge_security_log.delay().get() == 2

    assert _targets() == {"acme-recent"}
    assert tasks.purge_security_log(now=(JAN_1 + timedelta(days=60)).isoformat()) == 1


def test_purge_command(entries, capsys):
    with time_machine.travel(JAN_1 + timedelta(days=31), tick=False):
        call_command("purge_security_log")

    assert "Deleted 2 security-log entries older than 30 days." in capsys.readouterr().out
    assert _targets() == {"acme-recent"}


def test_retention_below_one_day_refuses_to_start():
    result = _run(
        ["check"],
        {"DEBUG": "1", "DATABASE_URL": "sqlite:///:memory:", "SECURITY_LOG_RETENTION_DAYS": "0"},
    )

    assert result.returncode != 0
    assert "SECURITY_LOG_RETENTION_DAYS must be at least 1" in result.stderr
