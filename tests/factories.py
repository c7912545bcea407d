from datetime import date, timedelta

import factory
from django.utils import timezone
from django.utils.text import slugify

from deals.models import Membership, Organization, User
from stakeholders.models import side_of_role

PASSWORD = "correct-horse-battery"  # noqa: S105


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save()


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Workspace {n}")
    slug = factory.LazyAttribute(lambda o: slugify(o.name))
    time_zone = "UTC"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)
    role = Membership.Role.SELLER


def make_deal(organization, owner, **fields):
    from datetime import timedelta

    from django.utils import timezone

    from deals.models import Deal

    defaults = {
        "account_name": "Initech",
        "name": "Platform",
        "amount": 50000,
        "stage": "evaluation",
        "target_close_date": timezone.localdate() + timedelta(days=45),
    }
    return Deal.objects.create(organization=organization, owner=owner, **{**defaults, **fields})


def make_plan(deal, *, template="Core (8 steps)", target=None, shared=False):
    """The deal's plan from a built-in template; `shared`: shared with the buyers (a draft is
    not theirs: the room says it is not shared yet)."""
    from plans import builtin_templates
    from plans.models import PlanTemplate, TemplateStep
    from plans.services import create_plan_from_template, share_plan
    from stakeholders.actors import Actor

    if not PlanTemplate.objects.filter(organization=None).exists():
        builtin_templates.install(PlanTemplate, TemplateStep)  # flushed by a transactional test

    plan = create_plan_from_template(
        deal,
        template=PlanTemplate.objects.get(organization=None, name=template) if template else None,
        target_date=target or deal.target_close_date,
        actor=Actor.seller(deal.owner),
    )
    if shared:
        share_plan(plan, actor=Actor.seller(deal.owner))
    return plan


def add_buyer(deal, *, name="Dana Buyer", email="dana@initech.test", role="champion", **fields):
    from stakeholders.actors import Actor
    from stakeholders.services import add_stakeholder

    return add_stakeholder(
        deal, actor=Actor.seller(deal.owner), name=name, email=email, role=role, **fields
    )


# Deals, stakeholders and plans ---------------------------------------------------------


class DealFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "deals.Deal"

    organization = factory.SubFactory(OrganizationFactory)
    account_name = factory.Sequence(lambda n: f"Account {n}")
    name = factory.Sequence(lambda n: f"Opportunity {n}")
    amount = 50000
    currency = "USD"
    stage = "evaluation"
    owner = factory.SubFactory(UserFactory)
    target_close_date = factory.LazyFunction(lambda: timezone.localdate() + timedelta(days=60))


class StakeholderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "stakeholders.Stakeholder"

    deal = factory.SubFactory(DealFactory)
    organization = factory.SelfAttribute("deal.organization")
    role = "champion"
    side = factory.LazyAttribute(lambda o: side_of_role(o.role))
    name = factory.Sequence(lambda n: f"Stakeholder {n}")
    email = factory.Sequence(lambda n: f"stakeholder{n}@buyer.test")


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "plans.Plan"

    deal = factory.SubFactory(DealFactory)
    organization = factory.SelfAttribute("deal.organization")
    target_signature_date = factory.SelfAttribute("deal.target_close_date")


class MilestoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "plans.Milestone"

    plan = factory.SubFactory(PlanFactory)
    organization = factory.SelfAttribute("plan.organization")
    title = factory.Sequence(lambda n: f"Step {n}")
    phase = "close"
    position = factory.Sequence(lambda n: n + 1)
    due_date = factory.LazyAttribute(lambda o: o.plan.target_signature_date - timedelta(days=7))
    baseline_date = factory.SelfAttribute("due_date")


class PlanTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "plans.PlanTemplate"

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Template {n}")


class TemplateStepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "plans.TemplateStep"

    template = factory.SubFactory(PlanTemplateFactory)
    position = factory.Sequence(lambda n: n + 1)
    title = factory.Sequence(lambda n: f"Template step {n}")
    phase = "close"
    duration_days = 2


# A Friday far enough ahead that nothing is overdue.
TARGET = date(2031, 3, 14)


def future_weekday(days: int = 90) -> date:
    """A business day about `days` from today."""
    day = timezone.localdate() + timedelta(days=days)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day
