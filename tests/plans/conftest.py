"""Deals with plans for alice (Acme) and charlie (Globex), built through the services."""

import pytest

from plans import services
from plans.builtin_templates import install
from plans.models import PlanTemplate, TemplateStep
from stakeholders.actors import Actor
from tests.factories import DealFactory, StakeholderFactory, future_weekday


@pytest.fixture
def enterprise(db):
    # The data migration installs the built-ins; a transactional test that ran before
    # (browser tests) flushed them.
    if not PlanTemplate.objects.filter(organization=None).exists():
        install(PlanTemplate, TemplateStep)
    return PlanTemplate.objects.get(organization=None, name="Enterprise (12 steps)")


@pytest.fixture
def deal(acme, alice):
    return DealFactory(
        organization=acme, owner=alice, account_name="Initech", name="Platform rollout"
    )


@pytest.fixture
def champion(deal):
    return StakeholderFactory(deal=deal, role="champion", name="Peter Champion")


@pytest.fixture
def economic_buyer(deal):
    return StakeholderFactory(deal=deal, role="economic_buyer", name="Bill Budget")


@pytest.fixture
def plan(deal, enterprise, alice, champion, economic_buyer):
    """Alice's Enterprise plan targeting a weekday ~90 days ahead (nothing overdue)."""
    return services.create_plan_from_template(
        deal, template=enterprise, target_date=future_weekday(), actor=Actor.seller(alice)
    )


@pytest.fixture
def globex_deal(globex, charlie):
    return DealFactory(
        organization=globex, owner=charlie, account_name="Initrode", name="Analytics"
    )


@pytest.fixture
def globex_plan(globex_deal, enterprise, charlie):
    StakeholderFactory(deal=globex_deal, role="champion", name="Tom Globex")
    return services.create_plan_from_template(
        globex_deal, template=enterprise, target_date=future_weekday(), actor=Actor.seller(charlie)
    )
