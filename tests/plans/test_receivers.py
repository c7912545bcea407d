"""What plans/ does when stakeholders change (through stakeholders.signals)."""

from plans.models import Activity, Milestone, Plan
from stakeholders import services as stakeholder_services
from stakeholders.actors import Actor


def test_stakeholder_added_is_recorded_and_bumps_the_plan_version(plan, alice):
    version = Plan.objects.get(pk=plan.pk).version

    stakeholder_services.add_stakeholder(
        plan.deal, actor=Actor.seller(alice), name="Tina Tech", role="technical_evaluator"
    )

    assert Plan.objects.get(pk=plan.pk).version == version + 1
    activity = Activity.objects.get(verb=Activity.Verb.STAKEHOLDER_ADDED)
    assert activity.summary == (
        "added Tina Tech (buyer, Technical evaluator); now owner of 1 step(s)"
    )
    assert Milestone.objects.get(plan=plan, title="Technical validation").buyer_owner.name == (
        "Tina Tech"
    )


def test_stakeholder_moved_to_the_other_side_stops_owning_steps(plan, alice, economic_buyer):
    owned = list(Milestone.objects.filter(plan=plan, buyer_owner=economic_buyer))
    assert owned

    stakeholder_services.update_stakeholder(
        economic_buyer, actor=Actor.seller(alice), role="exec_sponsor"
    )

    assert not Milestone.objects.filter(plan=plan, buyer_owner=economic_buyer).exists()
    assert Activity.objects.filter(verb=Activity.Verb.STAKEHOLDER_EDITED).count() == 1


def test_stakeholder_removed_leaves_gaps(plan, alice, economic_buyer):
    stakeholder_services.remove_stakeholder(economic_buyer, actor=Actor.seller(alice))

    signature = Milestone.objects.get(plan=plan, title="Signature")
    assert signature.buyer_owner is None
    assert Activity.objects.filter(verb=Activity.Verb.STAKEHOLDER_REMOVED).count() == 1


def test_stakeholder_change_without_plan_records_nothing(acme, alice):
    from tests.factories import DealFactory

    deal = DealFactory(organization=acme, owner=alice)

    stakeholder_services.add_stakeholder(deal, actor=Actor.seller(alice), name="X", role="champion")

    assert not Activity.objects.exists()
