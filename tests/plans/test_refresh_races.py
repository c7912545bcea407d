"""A plan deleted while a refresh recomputes it leaves no rows behind (PostgreSQL)."""

import threading

import pytest
from django.db import transaction

from plans import dashboard_summaries
from plans.models import OverdueGroup, Plan, PlanSummary
from tests.conftest import needs_postgres

from .dashboard_data import NOW
from .test_dashboard_summaries import Builder, _overdue_deal


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_plan_deleted_during_a_refresh_leaves_no_summary_or_groups(acme, alice):
    deal = _overdue_deal(Builder(acme), alice, "Doomed", buyer="Bo", seller="Sam", steps=2)
    plan_id = Plan.objects.get(deal=deal).pk
    PlanSummary.objects.update(computed=-1)  # behind: the refresh will recompute it
    deleted, commit = threading.Event(), threading.Event()

    def delete():
        from django.db import connection

        try:
            with transaction.atomic():
                Plan.objects.filter(pk=plan_id).delete()  # its trigger deletes its rows
                deleted.set()
                commit.wait(5)
        finally:
            connection.close()

    def refresh():
        from django.db import connection

        try:
            dashboard_summaries.refresh_plans(acme, now=NOW)
        finally:
            connection.close()

    deleter = threading.Thread(target=delete)
    deleter.start()
    assert deleted.wait(5)
    refresher = threading.Thread(target=refresh)
    refresher.start()
    refresher.join(0.5)  # its upsert waits for the deleting transaction
    commit.set()
    deleter.join()
    refresher.join()

    assert not Plan.objects.filter(pk=plan_id).exists()
    assert list(OverdueGroup.objects.filter(plan_id=plan_id).values_list("steps", flat=True)) == []
    assert not PlanSummary.objects.filter(plan_id=plan_id).exists()
