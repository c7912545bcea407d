"""Fixtures of the REST API tests: an API key of Acme and one of Globex, and data."""

from datetime import date, timedelta

import pytest
from rest_framework.test import APIClient

from deals import services as deal_services
from deals.authentication import RequestActor
from deals.models import Deal
from plans import services as plan_services
from plans.models import PlanTemplate
from stakeholders import services as stakeholder_services

TARGET = date.today() + timedelta(days=60)


@pytest.fixture
def acme_key(acme, acme_admin):
    _, key = deal_services.create_api_key(acme, name="Salesforce sync", created_by=acme_admin)
    return key


@pytest.fixture
def globex_key(globex, charlie):
    _, key = deal_services.create_api_key(globex, name="HubSpot", created_by=charlie)
    return key


@pytest.fixture
def api(acme_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {acme_key}")
    return client


@pytest.fixture
def globex_api(globex_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {globex_key}")
    return client


ACTOR = RequestActor(name="Test")


def make_deal(organization, owner, **fields) -> Deal:
    defaults = {
        "account_name": "Initech",
        "name": "Platform rollout",
        "amount": 1000,
        "owner": owner,
        "target_close_date": TARGET,
    }
    return deal_services.create_deal(organization, actor=ACTOR, **{**defaults, **fields})


def make_plan(organization, owner, template_name="Core (8 steps)", **deal_fields):
    deal = make_deal(organization, owner, **deal_fields)
    stakeholder_services.add_stakeholder(
        deal, actor=ACTOR, name="Priya Raman", role="economic_buyer", email="priya@x.test"
    )
    template = PlanTemplate.objects.get(organization=None, name=template_name)
    return plan_services.create_plan_from_template(
        deal, template=template, target_date=TARGET, actor=ACTOR
    )


@pytest.fixture
def acme_plan(acme, alice):
    return make_plan(acme, alice)


@pytest.fixture
def globex_plan(globex, charlie):
    return make_plan(globex, charlie, account_name="Globex customer")
