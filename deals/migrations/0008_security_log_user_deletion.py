"""Deleting a user sets `user` to NULL on their security-log entries (the entry keeps their
name and email): the PostgreSQL trigger of 0007 refused that UPDATE, so a user with entries
could not be deleted. The trigger now lets through an UPDATE that changes nothing but
`user_id` to NULL, and refuses every other one."""

from django.db import migrations

APPEND_ONLY_SQL = """
CREATE OR REPLACE FUNCTION deals_securityevent_append_only() RETURNS trigger AS $$
BEGIN
    IF NEW.user_id IS NULL AND (to_jsonb(NEW) - 'user_id') = (to_jsonb(OLD) - 'user_id') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'security log entries are append-only';
END;
$$ LANGUAGE plpgsql;
"""
PREVIOUS_SQL = """
CREATE OR REPLACE FUNCTION deals_securityevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'security log entries are append-only';
END;
$$ LANGUAGE plpgsql;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_ONLY_SQL)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PREVIOUS_SQL)


class Migration(migrations.Migration):
    dependencies = [("deals", "0007_security_log")]

    operations = [migrations.RunPython(forwards, backwards)]
