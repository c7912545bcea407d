"""The database triggers that keep the dashboard's summary rows current
(plans.dashboard.summaries says how they are used): on every insert, update or delete of a
step, a date change, a buyer-side activity, a plan or a stakeholder's name, they bump the
`stamp` of the summary rows the write touches. Statement-level on PostgreSQL, row-level on
SQLite. Migrations 0007–0009 hold frozen copies of the statements; a change here needs a new
migration with new copies (tests/plans/test_dashboard_triggers.py compares the installed
triggers with TRIGGERS)."""

# The SQL below is put together from this module's constants and table names, never from
# input: S608 (string-built SQL) does not apply.
# ruff: noqa: S608

from __future__ import annotations

from stakeholders.models import Side

_PLAN_UPSERT = (
    "INSERT INTO plans_plansummary (plan_id, organization_id, stamp) "
    "SELECT {row}.plan_id, {row}.organization_id, 1 WHERE {condition} "
    "ON CONFLICT (plan_id) DO UPDATE SET stamp = plans_plansummary.stamp + 1"
)
_STEP_PLAN_UPSERT = (
    "INSERT INTO plans_plansummary (plan_id, organization_id, stamp) "
    "SELECT step.plan_id, step.organization_id, 1 FROM plans_milestone step "
    "WHERE step.id = {row}.milestone_id "
    "ON CONFLICT (plan_id) DO UPDATE SET stamp = plans_plansummary.stamp + 1"
)
_TITLE_UPSERT = (
    "INSERT INTO plans_titlesummary (organization_id, title, stamp) "
    "SELECT {row}.organization_id, {row}.title, 1 WHERE {condition} "
    "ON CONFLICT (organization_id, title) DO UPDATE SET stamp = plans_titlesummary.stamp + 1"
)


def _bumps(table: str, row: str) -> list[str]:
    """SQLite: the statements a row-level trigger on `table` runs for its OLD or NEW
    `row`."""
    if table == "plans_milestone":
        return [
            _PLAN_UPSERT.format(row=row, condition="1 = 1"),
            _TITLE_UPSERT.format(row=row, condition="1 = 1"),
        ]
    if table == "plans_duedatechange":
        return [
            _STEP_PLAN_UPSERT.format(row=row),  # the plan's recent date changes
            "INSERT INTO plans_reasonsummary (organization_id, key, stamp) "
            f"SELECT {row}.organization_id, LOWER(TRIM({row}.reason)), 1 WHERE 1 = 1 "
            "ON CONFLICT (organization_id, key) "
            "DO UPDATE SET stamp = plans_reasonsummary.stamp + 1",
        ]
    if table == "plans_activity":
        return [_PLAN_UPSERT.format(row=row, condition=f"{row}.side = '{Side.BUYER}'")]
    if table == "plans_plan":
        if row == "NEW":
            return [
                "INSERT INTO plans_plansummary (plan_id, organization_id, stamp) "
                "SELECT NEW.id, NEW.organization_id, 1 WHERE 1 = 1 "
                "ON CONFLICT (plan_id) DO UPDATE SET stamp = plans_plansummary.stamp + 1"
            ]
        return [
            "DELETE FROM plans_plansummary WHERE plan_id = OLD.id",
            "DELETE FROM plans_overduegroup WHERE plan_id = OLD.id",
        ]
    if table == "stakeholders_stakeholder":
        return [
            "INSERT INTO plans_plansummary (plan_id, organization_id, stamp) "
            "SELECT DISTINCT step.plan_id, step.organization_id, 1 FROM plans_milestone step "
            "WHERE step.seller_owner_id = NEW.id AND NEW.name IS NOT OLD.name "
            "ON CONFLICT (plan_id) DO UPDATE SET stamp = plans_plansummary.stamp + 1"
        ]
    if table == "deals_organization":
        return [
            "DELETE FROM plans_plansummary WHERE organization_id = OLD.id",
            "DELETE FROM plans_overduegroup WHERE organization_id = OLD.id",
            "DELETE FROM plans_titlesummary WHERE organization_id = OLD.id",
            "DELETE FROM plans_reasonsummary WHERE organization_id = OLD.id",
        ]
    raise ValueError(table)


_PLAN_BUMP = (
    "INSERT INTO plans_plansummary (plan_id, organization_id, stamp) {select} "
    "ON CONFLICT (plan_id) DO UPDATE SET stamp = plans_plansummary.stamp + 1"
)


def _set_bumps(table: str, source: str) -> list[str]:
    """PostgreSQL: the statements a statement-level trigger on `table` runs over `source`,
    the rows the statement wrote (its transition tables). Each summary row is bumped once
    per statement, in key order: bumping it once per written row would, in a bulk write,
    pile thousands of versions of the same row into one transaction."""
    if table == "plans_milestone":
        return [
            _PLAN_BUMP.format(
                select=f"SELECT DISTINCT r.plan_id, r.organization_id, 1 FROM {source} r ORDER BY 1"
            ),
            "INSERT INTO plans_titlesummary (organization_id, title, stamp) "
            f"SELECT DISTINCT r.organization_id, r.title, 1 FROM {source} r ORDER BY 1, 2 "
            "ON CONFLICT (organization_id, title) "
            "DO UPDATE SET stamp = plans_titlesummary.stamp + 1",
        ]
    if table == "plans_duedatechange":
        return [
            _PLAN_BUMP.format(
                select="SELECT DISTINCT step.plan_id, step.organization_id, 1 "
                f"FROM plans_milestone step JOIN {source} r ON step.id = r.milestone_id "
                "ORDER BY 1"
            ),
            "INSERT INTO plans_reasonsummary (organization_id, key, stamp) "
            f"SELECT DISTINCT r.organization_id, LOWER(TRIM(r.reason)), 1 FROM {source} r "
            "ORDER BY 1, 2 "
            "ON CONFLICT (organization_id, key) "
            "DO UPDATE SET stamp = plans_reasonsummary.stamp + 1",
        ]
    if table == "plans_activity":
        return [
            _PLAN_BUMP.format(
                select=f"SELECT DISTINCT r.plan_id, r.organization_id, 1 FROM {source} r "
                f"WHERE r.side = '{Side.BUYER}' ORDER BY 1"
            )
        ]
    if table == "plans_plan":
        if source == "new_rows":
            return [
                _PLAN_BUMP.format(
                    select="SELECT r.id, r.organization_id, 1 FROM new_rows r ORDER BY 1"
                )
            ]
        return [
            f"DELETE FROM plans_{summary} WHERE plan_id IN (SELECT id FROM old_rows)"
            for summary in ("plansummary", "overduegroup")
        ]
    if table == "stakeholders_stakeholder":
        # A seller owner's new name: the plans whose steps they own keep it in their
        # overdue groups (OverdueGroup.seller_name). Other updates (visits) bump nothing.
        return [
            _PLAN_BUMP.format(
                select="SELECT DISTINCT step.plan_id, step.organization_id, 1 "
                "FROM new_rows r JOIN old_rows o ON o.id = r.id "
                "JOIN plans_milestone step ON step.seller_owner_id = r.id "
                "WHERE r.name IS DISTINCT FROM o.name ORDER BY 1"
            )
        ]
    if table == "deals_organization":
        return [
            f"DELETE FROM plans_{summary} WHERE organization_id IN (SELECT id FROM old_rows)"
            for summary in ("plansummary", "overduegroup", "titlesummary", "reasonsummary")
        ]
    raise ValueError(table)


# (table, event, the rows a row-level trigger's bumps run for)
TRIGGERS = [
    ("plans_milestone", "INSERT", ["NEW"]),
    ("plans_milestone", "UPDATE", ["OLD", "NEW"]),
    ("plans_milestone", "DELETE", ["OLD"]),
    ("plans_duedatechange", "INSERT", ["NEW"]),
    ("plans_duedatechange", "UPDATE", ["OLD", "NEW"]),
    ("plans_duedatechange", "DELETE", ["OLD"]),
    ("plans_activity", "INSERT", ["NEW"]),
    ("plans_activity", "UPDATE", ["OLD", "NEW"]),
    ("plans_activity", "DELETE", ["OLD"]),
    ("plans_plan", "INSERT", ["NEW"]),
    ("plans_plan", "DELETE", ["OLD"]),
    ("stakeholders_stakeholder", "UPDATE", ["NEW"]),  # its bump reads OLD too
    ("deals_organization", "DELETE", ["OLD"]),
]
# PostgreSQL's statement-level triggers read the written rows from transition tables.
TRANSITIONS = {
    "INSERT": ("REFERENCING NEW TABLE AS new_rows", "new_rows"),
    "UPDATE": (
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "(SELECT * FROM old_rows UNION ALL SELECT * FROM new_rows)",
    ),
    "DELETE": ("REFERENCING OLD TABLE AS old_rows", "old_rows"),
}


def _name(table: str, event: str) -> str:
    return f"{table}_dashboard_{event.lower()}"


def install_triggers(schema_editor) -> None:
    """Create the triggers: statement-level on PostgreSQL, row-level on SQLite (which has
    no statement-level triggers). Migrations do not call this: each holds the statements it
    ran, as this function and remove_triggers wrote them then (0009's were recorded from a
    stand-in schema editor); a change to TRIGGERS needs a migration with new copies."""
    vendor = schema_editor.connection.vendor
    for table, event, rows in TRIGGERS:
        name = _name(table, event)
        if vendor == "postgresql":
            referencing, source = TRANSITIONS[event]
            body = "; ".join(_set_bumps(table, source))
            schema_editor.execute(
                f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                f"BEGIN {body}; RETURN NULL; END $$"
            )
            schema_editor.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON {table} {referencing} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
            )
        elif vendor == "sqlite":
            body = "".join(f"{s}; " for row in rows for s in _bumps(table, row))
            schema_editor.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW BEGIN {body}END"
            )
        else:
            raise NotImplementedError(f"No dashboard triggers for {vendor}.")


def remove_triggers(schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    for table, event, _rows in TRIGGERS:
        name = _name(table, event)
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {name}()")
        else:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")


def create_rows(schema_editor) -> None:
    """One row, to compute, for every existing plan, (workspace, step title) and
    (workspace, reason)."""
    schema_editor.execute(
        "INSERT INTO plans_plansummary (plan_id, organization_id, stamp) "
        "SELECT id, organization_id, 1 FROM plans_plan"
    )
    schema_editor.execute(
        "INSERT INTO plans_titlesummary (organization_id, title, stamp) "
        "SELECT DISTINCT organization_id, title, 1 FROM plans_milestone"
    )
    schema_editor.execute(
        "INSERT INTO plans_reasonsummary (organization_id, key, stamp) "
        "SELECT DISTINCT organization_id, LOWER(TRIM(reason)), 1 FROM plans_duedatechange"
    )


# The summary rows of the plans behind (the CTE "dirty"), with their overdue steps from the
# CTE "groups" (per plan and owners, see refresh_plans), under the compare-and-set on `stamp`.
# An UPDATE: every plan has its row from its creation, and a row deleted with its plan while
# the statement runs is not written again. `{locked}`: PostgreSQL's join to the rows it locks.
