"""Every dashboard trigger exists after all migrations. SQLite rebuilds a table to add a
column with a default or alter one, and a rebuilt table loses its triggers: a migration that
does so must put them back (see plans 0010)."""

from django.db import connection

from plans.dashboard.triggers import TRIGGERS, _name


def installed_triggers() -> set[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        else:
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        return {row[0] for row in cursor.fetchall()}


def test_every_dashboard_trigger_is_installed_after_migrations(db):
    expected = {_name(table, event) for table, event, _rows in TRIGGERS}

    assert expected <= installed_triggers()
