"""Review: migration 0009 backwards leaves 0008's code summaries it can trust."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from plans.dashboard import metrics as dashboard
from plans.dashboard.metrics import Scope

from .dashboard_data import NOW
from .test_dashboard_summaries import Builder, _overdue_deal


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)


@pytest.mark.django_db(transaction=True)
def test_0009_backwards_has_0008_recount_the_overdue_owners(acme, alice):
    _overdue_deal(Builder(acme), alice, "Late", buyer="Bo", seller="Sam", steps=2)
    dashboard.refresh_summaries(Scope.build(acme, now=NOW))  # rows current, groups written
    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    try:
        _migrate([("plans", "0008_dashboard_overdue")])
        with connection.cursor() as cursor:
            # What 0008's code takes as current (stamp unmoved, counted as of a day) though
            # its overdue_owners, which its owners panel reads, were never written.
            cursor.execute(
                "SELECT COUNT(*) FROM plans_plansummary WHERE overdue > 0 "
                "AND overdue_owners IS NULL AND computed = stamp AND overdue_on IS NOT NULL"
            )
            trusted_but_empty = cursor.fetchone()[0]
    finally:
        _migrate(leaves)
    assert trusted_but_empty == 0
