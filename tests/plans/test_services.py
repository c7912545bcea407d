from datetime import date, timedelta

import pytest
from django.utils import timezone

from plans import plan_templates, services
from plans.health import plan_health, plan_warnings
from plans.models import Activity, DueDateChange, Milestone, Plan, PlanTemplate, TemplateStep
from stakeholders import services as stakeholder_services
from stakeholders.actors import Actor
from stakeholders.models import Stakeholder
from tests.factories import (
    TARGET,
    DealFactory,
    MilestoneFactory,
    PlanFactory,
    StakeholderFactory,
)

ENTERPRISE_TITLES = [
    "Technical validation",
    "Economic buyer alignment call",
    "Business case review with the economic buyer",
    "Security questionnaire sent",
    "Security questionnaire returned",
    "Vendor onboarding form submitted",
    "Vendor code created",
    "MSA/DPA exchanged",
    "Legal redlines complete",
    "Finance approval and PO",
    "Signature",
    "Kickoff and first-value milestone",
]


def ordered(plan):
    return list(Milestone.objects.filter(plan=plan).order_by("phase", "position"))


def by_title(plan, title):
    return Milestone.objects.get(plan=plan, title=title)


@pytest.fixture
def seller(alice):
    return Actor.seller(alice)


@pytest.fixture
def target_plan(deal, enterprise, seller, champion, economic_buyer):
    """The Enterprise plan with the signature on TARGET (a Friday)."""
    return services.create_plan_from_template(
        deal, template=enterprise, target_date=TARGET, actor=seller
    )


# create_plan_from_template ------------------------------------------------------------


def test_create_plan_from_template_creates_the_12_enterprise_steps_in_order(target_plan):
    steps = ordered(target_plan)

    assert [m.title for m in steps] == ENTERPRISE_TITLES
    assert [m.phase for m in steps] == ["close"] * 11 + ["post"]
    assert all(m.due_date and m.due_date == m.baseline_date for m in steps)
    assert all(m.due_date.weekday() < 5 for m in steps)
    assert target_plan.template_name == "Enterprise (12 steps)"


def test_create_plan_from_template_puts_signature_on_target_and_kickoff_after(target_plan):
    signature = by_title(target_plan, "Signature")
    kickoff = by_title(target_plan, "Kickoff and first-value milestone")
    finance = by_title(target_plan, "Finance approval and PO")

    assert signature.is_signature_step
    assert signature.due_date == TARGET
    # Finance approval (7 days) ends the business day before the signature.
    assert finance.due_date == date(2031, 3, 13)
    # Kickoff (10 business days) starts Monday 17th and ends Friday 28th.
    assert kickoff.due_date == date(2031, 3, 28)


def test_create_plan_from_template_each_step_ends_before_its_successor_starts(target_plan):
    from plans.scheduling import start_of

    close = [m for m in ordered(target_plan) if m.phase == "close"]

    for step, successor in zip(close, close[1:], strict=False):
        assert step.due_date < start_of(successor.due_date, successor.duration_days)


def test_create_plan_from_template_weekend_target_signs_on_the_friday_before(
    deal, enterprise, seller
):
    saturday = TARGET + timedelta(days=1)

    plan = services.create_plan_from_template(
        deal, template=enterprise, target_date=saturday, actor=seller
    )

    assert by_title(plan, "Signature").due_date == TARGET
    assert plan.target_signature_date == saturday
    assert by_title(plan, "Kickoff and first-value milestone").due_date > saturday


def test_create_plan_from_template_fills_owners_by_role(
    target_plan, champion, economic_buyer, alice
):
    ae = Stakeholder.objects.get(deal=target_plan.deal, role="ae")

    alignment = by_title(target_plan, "Economic buyer alignment call")
    kickoff = by_title(target_plan, "Kickoff and first-value milestone")
    validation = by_title(target_plan, "Technical validation")

    assert alignment.buyer_owner == economic_buyer
    assert alignment.seller_owner == ae
    assert kickoff.buyer_owner == champion
    # No technical evaluator, SE or CSM on the deal: those stay empty (and show as gaps).
    assert validation.buyer_owner is None
    assert validation.seller_owner is None
    assert kickoff.seller_owner is None
    assert validation.buyer_role_hint == "technical_evaluator"


def test_create_plan_from_template_deal_owner_becomes_the_ae_stakeholder(target_plan, alice):
    ae = Stakeholder.objects.get(deal=target_plan.deal, role="ae")

    assert ae.user == alice
    assert ae.side == "seller"
    assert ae.name == alice.display_name
    assert ae.is_required_signer


def test_create_plan_from_template_keeps_an_existing_ae(deal, enterprise, seller):
    existing = StakeholderFactory(deal=deal, role="ae", name="Other AE")

    plan = services.create_plan_from_template(
        deal, template=enterprise, target_date=TARGET, actor=seller
    )

    assert list(Stakeholder.objects.filter(deal=deal, role="ae")) == [existing]
    assert by_title(plan, "Signature").seller_owner == existing


def test_create_plan_from_template_records_plan_created(target_plan):
    activity = Activity.objects.get(plan=target_plan)

    assert activity.verb == Activity.Verb.PLAN_CREATED
    assert "Enterprise (12 steps)" in activity.summary


def test_create_plan_from_template_blank_plan_has_no_steps(deal, seller):
    plan = services.create_plan_from_template(deal, template=None, target_date=TARGET, actor=seller)

    assert plan.milestones.count() == 0


# update_milestone ---------------------------------------------------------------------


def test_update_milestone_stale_version_raises_conflict_and_saves_nothing(target_plan, seller):
    step = by_title(target_plan, "Technical validation")
    services.update_milestone(step, actor=seller, expected_version=step.version, title="Theirs")

    with pytest.raises(services.ConflictError) as caught:
        services.update_milestone(step, actor=seller, expected_version=1, title="Mine")

    step.refresh_from_db()
    assert step.title == "Theirs"
    assert step.version == 2
    assert caught.value.current.title == "Theirs"


def test_update_milestone_moving_a_committed_date_without_reason_is_refused(target_plan, seller):
    step = by_title(target_plan, "Technical validation")
    old_date, plan_version = step.due_date, Plan.objects.get(pk=target_plan.pk).version

    with pytest.raises(services.ReasonRequired):
        services.update_milestone(
            step,
            actor=seller,
            expected_version=step.version,
            due_date=old_date + timedelta(days=7),
            title="Also changed",
        )

    step.refresh_from_db()
    assert (step.due_date, step.title, step.version) == (old_date, "Technical validation", 1)
    assert not DueDateChange.objects.exists()
    assert Plan.objects.get(pk=target_plan.pk).version == plan_version


def test_update_milestone_moving_a_date_with_reason_records_the_slip(target_plan, seller, alice):
    step = by_title(target_plan, "Technical validation")
    old_date = step.due_date
    new_date = old_date + timedelta(days=7)

    updated = services.update_milestone(
        step, actor=seller, expected_version=1, due_date=new_date, reason="  Lab not ready  "
    )

    change = DueDateChange.objects.get(milestone=step)
    assert (change.old_date, change.new_date, change.reason) == (
        old_date,
        new_date,
        "Lab not ready",
    )
    assert change.changed_by_user == alice
    assert change.delta_days == 7
    assert updated.due_date == new_date
    assert updated.baseline_date == old_date
    assert updated.slip_days == 7
    assert updated.version == 2
    activity = Activity.objects.get(plan=target_plan, verb=Activity.Verb.DATE_MOVED)
    assert "+7 days" in activity.summary and "Lab not ready" in activity.summary


def test_update_milestone_first_date_of_an_undated_step_needs_no_reason(target_plan, seller):
    step = MilestoneFactory(plan=target_plan, due_date=None, baseline_date=None)

    updated = services.update_milestone(
        step, actor=seller, expected_version=step.version, due_date=TARGET
    )

    assert updated.due_date == updated.baseline_date == TARGET
    assert not DueDateChange.objects.exists()


def test_update_milestone_without_change_is_a_no_op(target_plan, seller):
    step = by_title(target_plan, "Technical validation")

    services.update_milestone(step, actor=seller, expected_version=1, title=step.title)

    step.refresh_from_db()
    assert step.version == 1
    assert Activity.objects.filter(plan=target_plan).count() == 1


def test_update_milestone_bumps_plan_version_and_records_the_edit(target_plan, seller):
    step = by_title(target_plan, "Technical validation")
    before = Plan.objects.get(pk=target_plan.pk).version

    services.update_milestone(step, actor=seller, expected_version=1, title="Proof of concept")

    assert Plan.objects.get(pk=target_plan.pk).version == before + 1
    assert Activity.objects.filter(verb=Activity.Verb.MILESTONE_EDITED).count() == 1


# set_milestone_status -----------------------------------------------------------------


def test_set_milestone_status_done_records_completion_once(target_plan, seller, alice):
    step = by_title(target_plan, "Technical validation")

    services.set_milestone_status(step, actor=seller, status="done")
    services.set_milestone_status(step, actor=seller, status="done")

    step.refresh_from_db()
    assert step.status == "done"
    assert step.completed_at is not None
    assert step.completed_by_name == alice.display_name
    assert step.version == 2
    assert Activity.objects.filter(verb=Activity.Verb.MILESTONE_COMPLETED).count() == 1


def test_set_milestone_status_reopen_clears_completion(target_plan, seller):
    step = by_title(target_plan, "Technical validation")
    services.set_milestone_status(step, actor=seller, status="done")

    services.set_milestone_status(step, actor=seller, status="in_progress")

    step.refresh_from_db()
    assert (step.status, step.completed_at, step.completed_by_name) == ("in_progress", None, "")
    assert Activity.objects.filter(verb=Activity.Verb.MILESTONE_REOPENED).count() == 1


# reschedule_plan ----------------------------------------------------------------------


def test_reschedule_plan_moves_open_steps_and_keeps_done_ones(target_plan, seller):
    done = by_title(target_plan, "Technical validation")
    services.set_milestone_status(done, actor=seller, status="done")
    done.refresh_from_db()
    new_target = TARGET + timedelta(days=14)

    moved = services.reschedule_plan(
        target_plan, actor=seller, target_date=new_target, reason="Budget moved to April"
    )

    target_plan.refresh_from_db()
    assert target_plan.target_signature_date == new_target
    assert by_title(target_plan, "Technical validation").due_date == done.due_date
    assert by_title(target_plan, "Signature").due_date == new_target
    assert len(moved) == 11
    changes = DueDateChange.objects.filter(milestone__plan=target_plan)
    assert changes.count() == 11
    assert {c.reason for c in changes} == {"Budget moved to April"}
    assert not changes.filter(milestone=done).exists()
    signature_change = changes.get(milestone__title="Signature")
    assert (signature_change.old_date, signature_change.new_date) == (TARGET, new_target)
    assert Activity.objects.filter(verb=Activity.Verb.PLAN_RESCHEDULED).count() == 1


def test_reschedule_plan_without_reason_changes_nothing(target_plan, seller):
    with pytest.raises(services.ReasonRequired):
        services.reschedule_plan(
            target_plan, actor=seller, target_date=TARGET + timedelta(days=7), reason="  "
        )

    target_plan.refresh_from_db()
    assert target_plan.target_signature_date == TARGET
    assert not DueDateChange.objects.exists()


def test_reschedule_plan_to_the_same_target_moves_nothing(target_plan, seller):
    moved = services.reschedule_plan(target_plan, actor=seller, target_date=TARGET, reason="x")

    assert moved == []
    assert not DueDateChange.objects.exists()


# move / add / delete ------------------------------------------------------------------


def test_move_milestone_up_swaps_with_the_previous_step(target_plan, seller):
    services.move_milestone(
        by_title(target_plan, "Security questionnaire sent"), actor=seller, direction="up"
    )

    titles = [m.title for m in ordered(target_plan)]
    assert titles[2:4] == [
        "Security questionnaire sent",
        "Business case review with the economic buyer",
    ]
    positions = [m.position for m in ordered(target_plan) if m.phase == "close"]
    assert positions == list(range(1, 12))
    assert Activity.objects.filter(verb=Activity.Verb.MILESTONE_MOVED).count() == 1


def test_move_milestone_past_the_edge_does_nothing(target_plan, seller):
    services.move_milestone(
        by_title(target_plan, "Technical validation"), actor=seller, direction="up"
    )
    services.move_milestone(
        by_title(target_plan, "Kickoff and first-value milestone"), actor=seller, direction="down"
    )

    assert [m.title for m in ordered(target_plan)] == ENTERPRISE_TITLES
    assert not Activity.objects.filter(verb=Activity.Verb.MILESTONE_MOVED).exists()


def test_add_milestone_after_a_step_shifts_the_following_ones(target_plan, seller):
    after = by_title(target_plan, "Technical validation")

    added = services.add_milestone(
        target_plan, actor=seller, after=after, title="Reference call", due_date=TARGET
    )

    titles = [m.title for m in ordered(target_plan)]
    assert titles[:3] == ["Technical validation", "Reference call", "Economic buyer alignment call"]
    assert added.baseline_date == TARGET
    assert [m.position for m in ordered(target_plan) if m.phase == "close"] == list(range(1, 13))
    assert Activity.objects.filter(verb=Activity.Verb.MILESTONE_CREATED).count() == 1


def test_add_milestone_without_position_goes_last_in_its_phase(target_plan, seller):
    added = services.add_milestone(
        target_plan, actor=seller, title="Go-live", phase="post", due_date=None
    )

    assert ordered(target_plan)[-1] == added
    assert ordered(target_plan)[-2].title == "Kickoff and first-value milestone"


def test_delete_milestone_removes_it_and_its_history(target_plan, seller):
    step = by_title(target_plan, "Technical validation")
    services.update_milestone(
        step,
        actor=seller,
        expected_version=1,
        due_date=step.due_date - timedelta(days=1),
        reason="earlier",
    )

    services.delete_milestone(step, actor=seller)

    assert not Milestone.objects.filter(pk=step.pk).exists()
    assert not DueDateChange.objects.exists()
    deleted = Activity.objects.get(verb=Activity.Verb.MILESTONE_DELETED)
    assert "Technical validation" in deleted.summary


# fill_owner_gaps (through the stakeholder signal) ---------------------------------------


def test_adding_a_stakeholder_later_fills_the_open_gaps_of_their_role(target_plan, seller):
    done = by_title(target_plan, "Security questionnaire sent")
    services.set_milestone_status(done, actor=seller, status="done")

    reviewer = stakeholder_services.add_stakeholder(
        target_plan.deal, actor=seller, name="Sam Security", role="security_reviewer"
    )

    assert by_title(target_plan, "Security questionnaire returned").buyer_owner == reviewer
    # Done steps keep their (missing) owner: history is not rewritten.
    assert by_title(target_plan, "Security questionnaire sent").buyer_owner is None
    activity = Activity.objects.get(verb=Activity.Verb.STAKEHOLDER_ADDED)
    assert "now owner of 1 step(s)" in activity.summary


def test_fill_owner_gaps_does_not_replace_an_existing_owner(target_plan, economic_buyer, seller):
    second = StakeholderFactory(deal=target_plan.deal, role="economic_buyer", name="Second EB")

    filled = services.fill_owner_gaps(target_plan, second)

    assert filled == 0
    assert by_title(target_plan, "Signature").buyer_owner == economic_buyer


def test_fill_owner_gaps_fills_seller_side(target_plan):
    se = StakeholderFactory(deal=target_plan.deal, role="se", name="Sol Engineer")

    filled = services.fill_owner_gaps(target_plan, se)

    assert filled == 3
    assert by_title(target_plan, "Technical validation").seller_owner == se


# plan_health and plan_warnings on hand-made fixtures ----------------------------------

TODAY = date(2031, 1, 15)


def make_plan(*steps, criteria=("a", "b", "c"), target=TARGET, status="draft"):
    plan = PlanFactory.build(
        target_signature_date=target, success_criteria=list(criteria), status=status
    )
    return plan, [
        Milestone(plan=plan, title=f"Step {i}", **fields) for i, fields in enumerate(steps)
    ]


OWNED = {"buyer_owner_id": 1, "seller_owner_id": 2}


def test_plan_health_on_track_when_dated_owned_and_on_time():
    plan, steps = make_plan({**OWNED, "due_date": TODAY}, {**OWNED, "due_date": TARGET})

    health = plan_health(plan, steps, today=TODAY, recent_slips=0)

    assert health.level == "on_track"
    assert health.label == "On track"


@pytest.mark.parametrize(
    ("steps", "slips", "reason"),
    [
        ([{**OWNED, "due_date": TODAY - timedelta(days=2)}], 0, "1 step(s) overdue"),
        ([{**OWNED, "due_date": TODAY}], 2, "2 date change(s) in the last 14 days"),
        ([{"seller_owner_id": 2, "due_date": TODAY}], 0, "1 step(s) without a buyer owner"),
        ([{**OWNED, "due_date": None}], 0, "1 step(s) without a date"),
    ],
)
def test_plan_health_at_risk(steps, slips, reason):
    plan, milestones = make_plan(*steps)

    health = plan_health(plan, milestones, today=TODAY, recent_slips=slips)

    assert health.level == "at_risk"
    assert health.reasons == [reason]


@pytest.mark.parametrize(
    ("steps", "target", "reason"),
    [
        (
            [{**OWNED, "due_date": TODAY - timedelta(days=8)}],
            TARGET,
            "1 close-plan step(s) overdue by more than 7 days",
        ),
        ([{**OWNED, "due_date": TODAY - timedelta(days=1)}] * 3, TARGET, "3 steps overdue"),
        (
            [{**OWNED, "due_date": TODAY - timedelta(days=10), "status": "done"}],
            TODAY - timedelta(days=1),
            "target signature date has passed without a signature",
        ),
    ],
)
def test_plan_health_off_track(steps, target, reason):
    plan, milestones = make_plan(*steps, target=target)

    health = plan_health(plan, milestones, today=TODAY, recent_slips=0)

    assert health.level == "off_track"
    assert reason in health.reasons


def test_plan_health_ignores_done_and_cancelled_steps():
    plan, steps = make_plan(
        {"due_date": TODAY - timedelta(days=30), "status": "done"},
        {"due_date": None, "status": "cancelled"},
        {**OWNED, "due_date": TODAY},
    )

    assert plan_health(plan, steps, today=TODAY, recent_slips=0).level == "on_track"


def test_plan_health_signed_plan_past_its_target_is_not_off_track():
    plan, steps = make_plan(
        {**OWNED, "due_date": TODAY - timedelta(days=3), "status": "done"},
        target=TODAY - timedelta(days=3),
        status="signed",
    )

    assert plan_health(plan, steps, today=TODAY, recent_slips=0).level == "on_track"


def test_plan_health_internal_step_needs_no_buyer_owner():
    plan, steps = make_plan({"seller_owner_id": 2, "due_date": TODAY, "visibility": "internal"})

    assert plan_health(plan, steps, today=TODAY, recent_slips=0).level == "on_track"


def test_plan_warnings_empty_for_a_complete_plan():
    plan, steps = make_plan({**OWNED, "due_date": TODAY})

    assert plan_warnings(plan, steps) == []


def test_plan_warnings_lists_every_gap():
    plan, steps = make_plan(
        {"seller_owner_id": 2, "due_date": None},
        {
            **OWNED,
            "due_date": TODAY,
            "risk": "legal",
            "duration_days": 3,
            "template_duration_days": 10,
        },
        {"due_date": None, "status": "cancelled"},
        {"due_date": TODAY, "visibility": "internal"},
        criteria=["only one", " "],
    )

    warnings = plan_warnings(plan, steps)

    assert warnings == [
        "Only 1 success criteria: 3–5 make the decision clear.",
        "“Step 0” has no date.",
        "“Step 0” has no buyer owner.",
        "“Step 1” is high-risk (legal) and planned for 3 days, less than the usual 10.",
    ]


def test_plan_warnings_more_than_20_close_steps():
    plan, steps = make_plan(*([{**OWNED, "due_date": TODAY}] * 21))

    assert plan_warnings(plan, steps)[-1].startswith("21 close-plan steps")
    assert plan_warnings(plan, steps[:20]) == []


# save_plan_as_template ----------------------------------------------------------------


def test_save_plan_as_template_copies_shared_steps_with_roles(target_plan, acme, seller):
    step = by_title(target_plan, "Technical validation")
    services.update_milestone(step, actor=seller, expected_version=1, visibility="internal")

    template = plan_templates.save_plan_as_template(
        target_plan, organization=acme, name=" Initech way ", description="From Initech"
    )

    assert template.organization == acme
    assert template.name == "Initech way"
    steps = list(TemplateStep.objects.filter(template=template).order_by("position"))
    assert [s.title for s in steps] == ENTERPRISE_TITLES[1:]
    assert [s.position for s in steps] == list(range(1, 12))
    signature = next(s for s in steps if s.title == "Signature")
    assert (signature.buyer_role, signature.seller_role) == ("economic_buyer", "ae")
    assert signature.is_signature_step
    assert signature.risk == "executive"
    assert steps[-1].phase == "post"
    assert PlanTemplate.objects.available_to(acme).filter(pk=template.pk).exists()


def test_saved_template_builds_an_equivalent_plan(target_plan, acme, alice, seller):
    template = plan_templates.save_plan_as_template(target_plan, organization=acme, name="Copy")
    other = DealFactory(organization=acme, owner=alice)

    copy = services.create_plan_from_template(
        other, template=template, target_date=TARGET, actor=seller
    )

    assert [m.title for m in ordered(copy)] == ENTERPRISE_TITLES
    assert [m.due_date for m in ordered(copy)] == [m.due_date for m in ordered(target_plan)]


# share / archive / transfer -----------------------------------------------------------


def test_share_plan_is_idempotent(target_plan, seller):
    services.share_plan(target_plan, actor=seller)
    shared_at = target_plan.shared_at

    services.share_plan(target_plan, actor=seller)

    target_plan.refresh_from_db()
    assert target_plan.status == "shared"
    assert target_plan.shared_at == shared_at
    assert Activity.objects.filter(verb=Activity.Verb.PLAN_SHARED).count() == 1


def test_archive_and_restore_plan(target_plan, seller):
    services.archive_plan(target_plan, actor=seller, archived=True)
    services.archive_plan(target_plan, actor=seller, archived=True)

    target_plan.refresh_from_db()
    assert target_plan.is_archived
    assert not Plan.objects.active().filter(pk=target_plan.pk).exists()

    services.archive_plan(target_plan, actor=seller, archived=False)

    target_plan.refresh_from_db()
    assert not target_plan.is_archived
    verbs = list(Activity.objects.filter(plan=target_plan).values_list("verb", flat=True))
    assert verbs.count(Activity.Verb.PLAN_ARCHIVED) == 1
    assert verbs.count(Activity.Verb.PLAN_RESTORED) == 1


def test_transfer_deal_changes_owner_and_the_owner_ae(target_plan, bob, seller, alice):
    deal = target_plan.deal

    services.transfer_deal(deal, actor=seller, new_owner=bob)

    deal.refresh_from_db()
    assert deal.owner == bob
    ae = Stakeholder.objects.get(deal=deal, role="ae")
    assert (ae.user, ae.name, ae.email) == (bob, bob.display_name, bob.email)
    assert by_title(target_plan, "Signature").seller_owner == ae
    activity = Activity.objects.get(verb=Activity.Verb.DEAL_TRANSFERRED)
    assert activity.visibility == "internal"
    assert "Alice Seller" in activity.summary and "Bob Manager" in activity.summary


def test_a_new_owner_from_the_deals_edit_form_or_the_api_is_a_transfer(target_plan, bob, seller):
    """deals.services.update_deal (the edit form, the API) gives the AE to the new owner
    too: before, the old owner stayed the deal's signer and step owner."""
    from deals.services import update_deal

    deal = target_plan.deal
    update_deal(deal, actor=seller, owner=bob)

    ae = Stakeholder.objects.get(deal=deal, role="ae")
    assert (ae.user, ae.name, ae.email) == (bob, bob.display_name, bob.email)
    assert by_title(target_plan, "Signature").seller_owner == ae
    assert Activity.objects.filter(verb=Activity.Verb.DEAL_TRANSFERRED).count() == 1


def test_transfer_deal_to_the_same_owner_is_a_no_op(target_plan, seller, alice):
    services.transfer_deal(target_plan.deal, actor=seller, new_owner=alice)

    assert not Activity.objects.filter(verb=Activity.Verb.DEAL_TRANSFERRED).exists()


def test_transfer_deal_without_plan(acme, alice, bob, seller):
    deal = DealFactory(organization=acme, owner=alice)

    services.transfer_deal(deal, actor=seller, new_owner=bob)

    deal.refresh_from_db()
    assert deal.owner == bob


# update_plan_overview -----------------------------------------------------------------


def test_update_plan_overview_saves_and_records_only_changes(target_plan, seller):
    before = Plan.objects.get(pk=target_plan.pk).version

    services.update_plan_overview(
        target_plan,
        actor=seller,
        business_outcome="Cut ramp from 9 to 5 months",
        success_criteria=["a", "b", "c"],
        review_weekday=target_plan.review_weekday,
    )

    target_plan.refresh_from_db()
    assert target_plan.business_outcome == "Cut ramp from 9 to 5 months"
    assert target_plan.version == before + 1
    activity = Activity.objects.get(verb=Activity.Verb.PLAN_EDITED)
    assert activity.summary == "edited the business outcome, the success criteria"


def test_record_activity_keeps_summaries_within_the_column(target_plan, seller):
    activity = services.record_activity(
        target_plan, actor=seller, verb=Activity.Verb.PLAN_EDITED, summary="x" * 500
    )

    assert len(activity.summary) == 400


def test_plan_created_today_has_nothing_overdue(plan):
    today = timezone.localdate()

    assert not Milestone.objects.filter(plan=plan).overdue(today).exists()
