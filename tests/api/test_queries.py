"""Every list endpoint runs a constant number of SQL queries per page, whatever the data."""

import pytest

from deals.models import ApiKey
from plans import plan_templates
from plans import services as plan_services
from plans.signing import signatures

from .conftest import ACTOR, make_plan

ENDPOINTS = [
    "/api/v1/deals/",
    "/api/v1/plans/",
    "/api/v1/milestones/",
    "/api/v1/stakeholders/",
    "/api/v1/templates/",
    "/api/v1/date-changes/",
    "/api/v1/activity/",
    "/api/v1/signatures/",
]


def _grow(acme, alice, count):
    for n in range(count):
        plan = make_plan(acme, alice, account_name=f"Account {n}")
        milestone = plan.milestones.order_by("position").first()
        plan_services.update_milestone(
            milestone,
            actor=ACTOR,
            expected_version=None,
            reason="slip",
            due_date=milestone.due_date.replace(day=1),
        )
        plan_templates.save_plan_as_template(plan, organization=acme, name=f"T{n}")
        signatures.request_signatures(plan, actor=ACTOR)


def _count_queries(api, url):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = api.get(url, {"page_size": 50})
    assert response.status_code == 200
    return len(captured), len(response.json()["results"])


@pytest.mark.parametrize("url", ENDPOINTS)
def test_api_list_query_count_is_constant(api, acme, alice, url, django_assert_max_num_queries):
    # The key's first request from an address writes a security-log entry, once: not a cost
    # of every request.
    api.get(url)
    ApiKey.objects.update(last_used_at=None)
    _grow(acme, alice, 1)
    small, small_rows = _count_queries(api, url)
    _grow(acme, alice, 6)
    ApiKey.objects.update(last_used_at=None)  # the same "record last use" write both times

    with django_assert_max_num_queries(small):
        response = api.get(url, {"page_size": 50})

    assert len(response.json()["results"]) > small_rows
    assert small <= 6
