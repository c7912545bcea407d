from stakeholders import services
from stakeholders.actors import Actor
from stakeholders.models import Stakeholder
from stakeholders.signals import stakeholder_changed
from tests.factories import DealFactory


def test_add_stakeholder_side_follows_role_and_signers_default_by_role(acme, alice):
    deal = DealFactory(organization=acme, owner=alice)
    actor = Actor.seller(alice)

    eb = services.add_stakeholder(deal, actor=actor, name="Bill", role="economic_buyer")
    champion = services.add_stakeholder(deal, actor=actor, name="Peter", role="champion")
    se = services.add_stakeholder(deal, actor=actor, name="Sol", role="se")
    ae = services.add_stakeholder(deal, actor=actor, name="Ann", role="ae")
    forced = services.add_stakeholder(
        deal, actor=actor, name="Legal", role="legal_reviewer", is_required_signer=True
    )

    assert [s.side for s in (eb, champion, se, ae)] == ["buyer", "buyer", "seller", "seller"]
    assert [s.is_required_signer for s in (eb, champion, se, ae, forced)] == [
        True,
        False,
        False,
        True,
        True,
    ]
    assert eb.organization == acme


def test_stakeholder_services_announce_every_change(acme, alice):
    deal = DealFactory(organization=acme, owner=alice)
    actor = Actor.seller(alice)
    heard = []

    def listener(sender, *, stakeholder, actor, action, **kwargs):
        heard.append((stakeholder.name, action))

    stakeholder_changed.connect(listener)
    try:
        stakeholder = services.add_stakeholder(deal, actor=actor, name="Peter", role="champion")
        services.update_stakeholder(stakeholder, actor=actor, name="Peter G.")
        services.remove_stakeholder(stakeholder, actor=actor)
    finally:
        stakeholder_changed.disconnect(listener)

    assert heard == [("Peter", "added"), ("Peter G.", "edited"), ("Peter G.", "removed")]
    assert not Stakeholder.objects.exists()


def test_update_stakeholder_side_follows_a_new_role(acme, alice):
    deal = DealFactory(organization=acme, owner=alice)
    actor = Actor.seller(alice)
    stakeholder = services.add_stakeholder(deal, actor=actor, name="Pat", role="champion")

    services.update_stakeholder(stakeholder, actor=actor, role="csm")

    stakeholder.refresh_from_db()
    assert stakeholder.side == "seller"
