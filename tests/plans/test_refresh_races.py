"""A plan deleted while a refresh recomputes it leaves no rows behind (PostgreSQL)."""

import pytest

from plans.models import OverdueGroup, Plan, PlanSummary
from tests.conftest import needs_postgres

from .test_dashboard_summaries import Builder, _overdue_deal, refresh_while_held


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_plan_deleted_during_a_refresh_leaves_no_summary_or_groups(acme, alice):
    deal = _overdue_deal(Builder(acme), alice, "Doomed", buyer="Bo", seller="Sam", steps=2)
    plan_id = Plan.objects.get(deal=deal).pk
    PlanSummary.objects.update(computed=-1)  # behind: the refresh will recompute it

    # its trigger deletes its rows; the refresh's statement waits for the deleting transaction
    refresh_while_held(acme, lambda: Plan.objects.filter(pk=plan_id).delete())

    assert not Plan.objects.filter(pk=plan_id).exists()
    assert list(OverdueGroup.objects.filter(plan_id=plan_id).values_list("steps", flat=True)) == []
    assert not PlanSummary.objects.filter(plan_id=plan_id).exists()
