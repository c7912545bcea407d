"""The number of SQL queries of every page and fragment does not grow with the data: each
is measured on a small and on a large plan (or deal list) and must be the same, within a
budget."""

from datetime import timedelta
from functools import partial

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile

from plans import materials, services
from plans.models import Milestone
from stakeholders.actors import Actor
from tests.factories import (
    DealFactory,
    MilestoneFactory,
    PlanFactory,
    PlanTemplateFactory,
    StakeholderFactory,
    TemplateStepFactory,
    future_weekday,
)
from tests.helpers import htmx, url

BUYER_ROLES = ["champion", "economic_buyer", "security_reviewer", "legal_reviewer"]
SELLER_ROLES = ["ae", "se", "csm"]


def build_plan(organization, owner, *, steps: int, people: int):
    """A plan with `steps` milestones (some slipped, done, internal, dependent, post
    signature) and `people` stakeholders on each side, and some activity."""
    actor = Actor.seller(owner)
    deal = DealFactory(organization=organization, owner=owner, target_close_date=future_weekday())
    plan = PlanFactory(deal=deal, success_criteria=["a", "b"])
    buyers = [
        StakeholderFactory(deal=deal, role=BUYER_ROLES[i % len(BUYER_ROLES)]) for i in range(people)
    ]
    sellers = [
        StakeholderFactory(deal=deal, role=SELLER_ROLES[i % len(SELLER_ROLES)])
        for i in range(people)
    ]
    target = plan.target_signature_date
    previous = None
    for i in range(steps):
        post = i >= steps - 2
        milestone = MilestoneFactory(
            plan=plan,
            position=i + 1,
            phase="post" if post else "close",
            due_date=target + timedelta(days=i) if post else target - timedelta(days=steps - i),
            buyer_owner=buyers[i % people] if i % 4 else None,
            seller_owner=sellers[i % people],
            risk="legal" if i % 5 == 0 else "",
            template_duration_days=5 if i % 5 == 0 else None,
            visibility="internal" if i % 7 == 3 else "shared",
            depends_on=previous if i % 3 == 2 else None,
            description="Some words " * 5,
            internal_note="Internal" if i % 2 else "",
        )
        if i % 6 == 1:
            services.update_milestone(
                milestone,
                actor=actor,
                expected_version=milestone.version,
                due_date=milestone.due_date + timedelta(days=1),
                reason="Slipped",
            )
        if i % 6 == 4:
            services.set_milestone_status(milestone, actor=actor, status="done")
        previous = milestone
    add_materials(plan, actor, sections=max(1, steps // 20), per_section=steps // 6 or 1)
    return plan


def add_materials(plan, actor, *, sections: int, per_section: int) -> None:
    """Sections of files (some with two versions, some internal, some about a step) and
    links, each opened by a buyer, in the viewer and by download."""
    buyer = plan.deal.stakeholders.filter(side="buyer").first()
    steps = list(plan.milestones.filter(visibility="shared")[:3])
    for s in range(sections):
        section = materials.add_section(
            plan, actor=actor, title=f"Section {s}", buyer_uploads=s == 0
        )
        for i in range(per_section):
            pdf = SimpleUploadedFile(f"doc{s}-{i}.pdf", b"%PDF-1.4 test", "application/pdf")
            if i % 3 == 2:
                resource = materials.add_link(
                    plan, actor=actor, section=section, title=f"Link {i}", url="https://x.test/"
                )
            else:
                resource = materials.add_file(
                    plan,
                    actor=actor,
                    section=section,
                    upload=pdf,
                    visibility="internal" if i % 4 == 3 else "shared",
                    milestone=steps[i % len(steps)] if steps and i % 2 else None,
                )
                if i % 3 == 1:
                    again = SimpleUploadedFile("v2.pdf", b"%PDF-1.4 two", "application/pdf")
                    materials.add_version(resource, actor=actor, upload=again)
            view = materials.record_open(resource, kind="viewer", stakeholder=buyer)
            materials.record_time(view, {"1": 3}, now=view.started_at + timedelta(seconds=9))


@pytest.fixture
def small(acme, alice):
    return build_plan(acme, alice, steps=5, people=2)


@pytest.fixture
def large(acme, alice):
    return build_plan(acme, alice, steps=60, people=12)


def same_count(assert_num_queries, make_request, small, large, expected: int, status=None):
    """`make_request(plan)` runs exactly `expected` queries on the small and on the large
    plan (after a warm-up request: session, content types)."""
    make_request(small)
    for plan in (small, large):
        with assert_num_queries(expected):
            response = make_request(plan)
        if status is None:
            assert response.status_code < 400, response.content[:500]
        else:
            assert response.status_code == status


def first_step(plan) -> Milestone:
    return Milestone.objects.filter(plan=plan, phase="close").order_by("position")[1]


# The counts are exact: a change that adds a query to a page should be deliberate. The plan
# page, computed with nothing cached: session, user, the user's memberships (the workspace
# of the URL among them, and the navigation's switcher), which plan (page cache lookup, with
# the deal's revision), plan with deal (and its recent slips, subqueries), milestones,
# stakeholders, activity, the workspace's members (options of forms), the stakeholders'
# active room links and the signature events (signature block), the materials' sections,
# resources and engagement, and what each buyer opened of them (the stakeholder panel).
PAGE = 16  # + the notification bell's unread count

# Every other request below reads its session from the cache (cached_db sessions): one
# query less than with nothing cached. After a change the page is computed again: its
# session from the cache, as many queries as with nothing cached in all.
PAGE_AFTER_CHANGE = PAGE
# Warm (nothing changed since the last view), the body comes whole from the page cache
# (plans.page_cache): user, memberships, which plan, the bell.
PAGE_WARM = 4
REGIONS = {
    "plan-header": 9,
    "plan-overview": 7,
    "stakeholder-panel": 9,  # with what each buyer opened of the materials
    "milestone-table": 7,
    "plan-warnings": 7,
    "activity-feed": 7,
    "timeline": 7,
}
# A write moves the deal's revision (deals/revisions.py): an UPDATE of the deal row where
# the change records an activity, another where it changes the plan's content.


def test_plan_page_query_count_is_constant(alice_client, django_assert_num_queries, small, large):
    assert large.milestones.count() == 60

    def cold_view(plan):  # nothing cached: the page and its regions are rendered
        cache.clear()
        return alice_client.get(plan.get_absolute_url())

    same_count(django_assert_num_queries, cold_view, small, large, PAGE)


def test_plan_page_query_count_after_a_change_is_constant(
    alice_client, django_assert_num_queries, small, large
):
    from deals import revisions

    for plan in (small, large):  # fill the caches
        alice_client.get(plan.get_absolute_url())

    def view_after_a_change(plan):
        revisions.bump_deal(plan.deal_id)
        return alice_client.get(plan.get_absolute_url())

    same_count(django_assert_num_queries, view_after_a_change, small, large, PAGE_AFTER_CHANGE)


def test_plan_page_warm_query_count_is_constant(
    alice_client, django_assert_num_queries, small, large
):
    for plan in (small, large):  # fill the caches
        alice_client.get(plan.get_absolute_url())
    same_count(
        django_assert_num_queries,
        lambda plan: alice_client.get(plan.get_absolute_url()),
        small,
        large,
        PAGE_WARM,
    )


@pytest.mark.parametrize(
    "region",
    [
        "plan-header",
        "plan-overview",
        "stakeholder-panel",
        "milestone-table",
        "plan-warnings",
        "activity-feed",
        "timeline",
    ],
)
def test_plan_region_query_count_is_constant(
    alice_client, django_assert_num_queries, small, large, region
):
    same_count(
        django_assert_num_queries,
        lambda plan: alice_client.get(plan.get_absolute_url(), **htmx(region)),
        small,
        large,
        REGIONS[region],
    )


def test_milestone_row_query_count_is_constant(
    alice_client, django_assert_num_queries, small, large
):
    same_count(
        django_assert_num_queries,
        lambda plan: alice_client.get(
            url("plans:milestone-row", milestone_id=first_step(plan).public_id), **htmx()
        ),
        small,
        large,
        6,
    )


def test_milestone_edit_form_query_count_is_constant(
    alice_client, django_assert_num_queries, small, large
):
    same_count(
        django_assert_num_queries,
        lambda plan: alice_client.get(
            url("plans:milestone-edit", milestone_id=first_step(plan).public_id), **htmx()
        ),
        small,
        large,
        7,
    )


def test_milestone_edit_post_query_count_is_constant(
    alice_client, django_assert_num_queries, small, large
):
    def edit(plan):
        milestone = first_step(plan)
        return alice_client.post(
            url("plans:milestone-edit", milestone_id=milestone.public_id),
            {
                "title": f"{milestone.title}!",
                "phase": milestone.phase,
                "buyer_owner": milestone.buyer_owner_id or "",
                "seller_owner": milestone.seller_owner_id or "",
                "due_date": milestone.due_date.isoformat(),
                "duration_days": milestone.duration_days,
                "status": milestone.status,
                "risk": milestone.risk,
                "visibility": milestone.visibility,
                "version": milestone.version,
            },
            **htmx(),
        )

    same_count(django_assert_num_queries, edit, small, large, 23)


def test_milestone_status_query_count_is_constant(
    alice_client, django_assert_num_queries, small, large
):
    # Alternate between statuses that are not webhook events (completing a step looks up
    # the workspace's webhook endpoints: one query more, whatever the plan size).
    statuses = iter(["in_progress", "blocked"] * 4)

    same_count(
        django_assert_num_queries,
        lambda plan: alice_client.post(
            url("plans:milestone-status", milestone_id=first_step(plan).public_id),
            {"status": next(statuses)},
            **htmx(),
        ),
        small,
        large,
        17,
    )


def test_milestone_move_query_count_is_constant(
    alice_client, django_assert_num_queries, small, large
):
    same_count(
        django_assert_num_queries,
        lambda plan: alice_client.post(
            url("plans:milestone-move", milestone_id=first_step(plan).public_id),
            {"direction": "down"},
            **htmx("milestone-table"),
        ),
        small,
        large,
        18,
    )


def test_milestone_add_query_count_is_constant(
    alice_client, django_assert_num_queries, small, large
):
    same_count(
        django_assert_num_queries,
        lambda plan: alice_client.post(
            url("plans:milestone-add", deal_id=plan.deal.public_id),
            {
                "add-title": "New step",
                "add-phase": "close",
                "add-duration_days": "1",
                "add-visibility": "shared",
                "after": str(first_step(plan).public_id),
            },
            **htmx("milestone-table"),
        ),
        small,
        large,
        19,
    )


def test_milestone_add_invalid_query_count_is_constant(
    alice_client, django_assert_num_queries, small, large
):
    same_count(
        django_assert_num_queries,
        lambda plan: alice_client.post(
            url("plans:milestone-add", deal_id=plan.deal.public_id),
            {"add-title": "", "add-phase": "close"},
            **htmx("milestone-table"),
        ),
        small,
        large,
        10,
        status=422,
    )


def test_milestone_delete_query_count_is_constant(
    alice_client, django_assert_num_queries, small, large
):
    same_count(
        django_assert_num_queries,
        lambda plan: alice_client.post(
            url("plans:milestone-delete", milestone_id=first_step(plan).public_id),
            **htmx("milestone-table"),
        ),
        small,
        large,
        25,  # with the resources about the step losing it
    )


def test_stakeholder_add_query_count_is_constant(
    alice_client, django_assert_num_queries, small, large
):
    same_count(
        django_assert_num_queries,
        lambda plan: alice_client.post(
            url("plans:stakeholder-add", deal_id=plan.deal.public_id),
            {"sh-name": "New person", "sh-role": "procurement", "sh-is_required_signer": "unknown"},
            **htmx("stakeholder-panel"),
        ),
        small,
        large,
        21,  # the panel comes back with what each buyer opened of the materials
    )


EMAIL_CHANGE = 34  # a stakeholder edit that changes the address


def test_stakeholder_edit_and_remove_query_counts_are_constant(
    alice_client, django_assert_num_queries, small, large
):
    addresses = iter(range(100))

    def edit(plan, *, new_address=False):
        stakeholder = plan.deal.stakeholders.order_by("pk").first()
        prefix = f"sh-{stakeholder.public_id}"
        email = f"new{next(addresses)}@example.com" if new_address else stakeholder.email
        return alice_client.post(
            url("plans:stakeholder-edit", stakeholder_id=stakeholder.public_id),
            {
                f"{prefix}-name": "Renamed",
                f"{prefix}-role": stakeholder.role,
                f"{prefix}-email": email,
            },
            **htmx(),
        )

    def remove(plan):
        stakeholder = plan.deal.stakeholders.order_by("-pk").first()
        return alice_client.post(
            url("plans:stakeholder-remove", stakeholder_id=stakeholder.public_id), **htmx()
        )

    # The edit reads the stored address first (a new address is a new identity), and
    # moves the deal's revision with the change, the plan's content and the feed.
    # (Each answer is the panel, with what each buyer opened of the materials.)
    same_count(django_assert_num_queries, edit, small, large, 27)
    # A new address revokes links, burns codes and records the change: still constant.
    same_count(
        django_assert_num_queries, partial(edit, new_address=True), small, large, EMAIL_CHANGE
    )
    # Removing also revokes the person's links and voids their requests and codes (+5),
    # deletes their openings of the materials and unnames the files they added (+2), and
    # deletes their calendar feeds (+1).
    same_count(django_assert_num_queries, remove, small, large, 40)


def test_plan_overview_query_counts_are_constant(
    alice_client, django_assert_num_queries, small, large
):
    endpoint = lambda plan: url("plans:plan-overview", deal_id=plan.deal.public_id)  # noqa: E731
    outcomes = iter(range(10))

    same_count(
        django_assert_num_queries,
        lambda p: alice_client.get(endpoint(p), **htmx()),
        small,
        large,
        3,
    )
    same_count(
        django_assert_num_queries,
        lambda plan: alice_client.post(
            endpoint(plan),
            {"business_outcome": f"Outcome {next(outcomes)}", "review_weekday": "1"},
            **htmx("plan-overview"),
        ),
        small,
        large,
        16,
    )


def test_stakeholder_edit_form_query_count_is_constant(
    alice_client, django_assert_num_queries, small, large
):
    same_count(
        django_assert_num_queries,
        lambda plan: alice_client.get(
            url(
                "plans:stakeholder-edit",
                stakeholder_id=plan.deal.stakeholders.first().public_id,
            ),
            **htmx(),
        ),
        small,
        large,
        8,
    )


# Deal list and templates -------------------------------------------------------------


def make_deals(organization, owner, n):
    for i in range(n):
        deal = DealFactory(organization=organization, owner=owner)
        if i % 2:
            PlanFactory(deal=deal, archived_at=None if i % 3 else deal.created_at)


def test_deal_list_query_count_is_constant(
    client, django_assert_num_queries, acme, globex, alice, bob, charlie
):
    """Session, user, memberships (the URL's workspace and the navigation's switcher),
    deals (with owner and plan), owners for the filter, the bell; the htmx results fragment
    skips the last two."""
    make_deals(acme, alice, 3)
    make_deals(globex, charlie, 40)
    client.force_login(alice)
    client.get(url("deals:deal-list"))

    for total in (3, 40):
        with django_assert_num_queries(5):
            client.get(url("deals:deal-list"), {"archived": "1"})
        with django_assert_num_queries(3):
            client.get(url("deals:deal-list"), **htmx("deal-results"))
        make_deals(acme, bob, 40 - total)


def test_template_list_query_count_is_constant(client, django_assert_num_queries, acme, alice):
    client.force_login(alice)
    client.get(url("plans:template-list"))

    for _ in range(2):
        with django_assert_num_queries(4):
            client.get(url("plans:template-list"))
        for _ in range(10):
            template = PlanTemplateFactory(organization=acme)
            TemplateStepFactory.create_batch(3, template=template)
