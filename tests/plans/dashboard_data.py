"""Hand-computed dashboard data: 7 Acme deals (and one Globex deal) whose every metric was
worked out on paper. Today is Wednesday 12 March 2025 (Acme's time zone, Europe/London,
is on GMT then, so local dates equal UTC dates).

deal     owner  stage        amount       target close             plan
Alpha    alice  negotiation  100,000 USD  31 Mar 2025              shared, 5 steps, a recent slip
Bravo    alice  proposal     50,000 USD   15 Apr 2025              draft, 3 steps, 1 overdue
Charlie  bob    evaluation   20,000 USD   7 Mar 2025               shared, 4 steps, 3 overdue
Delta    bob    discovery    5,000 EUR    20 May 2025              none
Echo     alice  closed won   80,000 USD   28 Feb 2025              signed, 5 steps
Foxtrot  bob    closed won   30,000 USD   14 Feb (first: 31 Jan)   shared, 3 steps
Golf     alice  closed lost  40,000 USD   3 Mar 2025               none
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal

from deals.models import Deal, Organization
from plans.models import Activity, DueDateChange, Milestone, Phase, Plan
from stakeholders.models import Side, Stakeholder

NOW = datetime(2025, 3, 12, 12, 0, tzinfo=UTC)
TODAY = date(2025, 3, 12)

D = date
NOT_STARTED, IN_PROGRESS, BLOCKED, DONE, CANCELLED = (
    "not_started",
    "in_progress",
    "blocked",
    "done",
    "cancelled",
)


def at(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


@dataclass
class Builder:
    organization: Organization

    def deal(
        self,
        account,
        *,
        owner,
        stage,
        amount,
        target,
        created,
        closed=None,
        original=None,
        currency="USD",
    ) -> Deal:
        deal = Deal.objects.create(
            organization=self.organization,
            account_name=account,
            name=f"{account} deal",
            owner=owner,
            stage=stage,
            amount=Decimal(amount),
            currency=currency,
            target_close_date=target,
            original_close_date=original or target,
            closed_date=closed,
        )
        Deal.objects.filter(pk=deal.pk).update(created_at=at(created))
        return deal

    def plan(self, deal, *, status, target) -> Plan:
        return Plan.objects.create(
            organization=self.organization, deal=deal, status=status, target_signature_date=target
        )

    def person(self, deal, name, side) -> Stakeholder:
        role = "champion" if side == Side.BUYER else "se"
        return Stakeholder.objects.create(
            organization=self.organization, deal=deal, side=side, name=name, role=role
        )

    def step(
        self,
        plan,
        title,
        position,
        *,
        due,
        baseline="same",
        duration=5,
        status=NOT_STARTED,
        phase=Phase.CLOSE,
        buyer=None,
        seller=None,
        completed=None,
        signature=False,
    ) -> Milestone:
        return Milestone.objects.create(
            organization=self.organization,
            plan=plan,
            title=title,
            position=position,
            phase=phase,
            due_date=due,
            baseline_date=due if baseline == "same" else baseline,
            duration_days=duration,
            status=status,
            completed_at=at(completed, 15) if completed else None,
            buyer_owner=buyer,
            seller_owner=seller,
            is_signature_step=signature,
        )

    def moved(self, milestone, *, old, new, reason, on) -> DueDateChange:
        change = DueDateChange.objects.create(
            organization=self.organization,
            milestone=milestone,
            old_date=old,
            new_date=new,
            reason=reason,
            changed_by_name="Someone",
        )
        DueDateChange.objects.filter(pk=change.pk).update(created_at=at(on))
        return change

    def buyer_activity(self, plan, *, on) -> Activity:
        activity = Activity.objects.create(
            organization=self.organization,
            plan=plan,
            verb=Activity.Verb.MILESTONE_STATUS,
            actor_name="A buyer",
            side=Side.BUYER,
            summary="changed the status of a step",
        )
        Activity.objects.filter(pk=activity.pk).update(created_at=at(on))
        return activity


def build(acme, alice, bob) -> dict[str, Deal]:
    """The seven Acme deals of the table above. Returns them by account name."""
    acme.map_coverage_threshold = Decimal(10000)
    acme.save()
    b = Builder(acme)
    deals = {}

    # Alpha: in progress; security slipped a week (5 March, recent); legal (15 days, not
    # started) is late to start; the buyer was active on 10 March.
    alpha = deals["Alpha"] = b.deal(
        "Alpha",
        owner=alice,
        stage="negotiation",
        amount=100000,
        target=D(2025, 3, 31),
        created=D(2025, 1, 6),
    )
    plan = b.plan(alpha, status="shared", target=D(2025, 3, 31))
    bea, sol = b.person(alpha, "Alpha Buyer", Side.BUYER), b.person(alpha, "Sol Engineer", "seller")
    b.step(plan, "Business case", 1, due=D(2025, 2, 28), status=DONE, completed=D(2025, 3, 4))
    security = b.step(
        plan,
        "Security review",
        2,
        due=D(2025, 3, 14),
        baseline=D(2025, 3, 7),
        duration=10,
        status=IN_PROGRESS,
        buyer=bea,
        seller=sol,
    )
    b.moved(
        security,
        old=D(2025, 3, 7),
        new=D(2025, 3, 14),
        reason="Security asked for more time",
        on=D(2025, 3, 5),
    )
    b.step(plan, "Legal review", 3, due=D(2025, 3, 21), duration=15, buyer=bea)
    b.step(plan, "Signature", 4, due=D(2025, 3, 28), duration=1, buyer=bea, signature=True)
    b.step(plan, "Kickoff", 1, due=D(2025, 4, 4), duration=3, phase=Phase.POST, buyer=bea)
    b.buyer_activity(plan, on=D(2025, 3, 10))

    # Bravo: a draft; business case overdue without a buyer owner; security undated.
    bravo = deals["Bravo"] = b.deal(
        "Bravo",
        owner=alice,
        stage="proposal",
        amount=50000,
        target=D(2025, 4, 15),
        created=D(2025, 2, 3),
    )
    plan = b.plan(bravo, status="draft", target=D(2025, 4, 15))
    buyer, sol = (
        b.person(bravo, "Bravo Buyer", Side.BUYER),
        b.person(bravo, "Sol Engineer", "seller"),
    )
    b.step(plan, "Business case", 1, due=D(2025, 3, 10), seller=sol)
    b.step(plan, "Security review", 2, due=None, duration=10, buyer=buyer)
    b.step(plan, "Signature", 3, due=D(2025, 4, 15), duration=1, buyer=buyer, signature=True)

    # Charlie: past its target unsigned; security blocked since 28 Feb (slipped in
    # February); legal and signature overdue; the buyer's last visit was 20 February.
    charlie = deals["Charlie"] = b.deal(
        "Charlie",
        owner=bob,
        stage="evaluation",
        amount=20000,
        target=D(2025, 3, 7),
        created=D(2024, 12, 2),
    )
    plan = b.plan(charlie, status="shared", target=D(2025, 3, 7))
    bea = b.person(charlie, "Bea Security", Side.BUYER)
    len_ = b.person(charlie, "Len Legal", Side.BUYER)
    eve = b.person(charlie, "Eve Economic", Side.BUYER)
    sol = b.person(charlie, "Sol Engineer", Side.SELLER)
    lee = b.person(charlie, "Lee Legal", Side.SELLER)
    ann = b.person(charlie, "Ann Executive", Side.SELLER)
    b.step(plan, "Business case", 1, due=D(2025, 2, 14), status=DONE, completed=D(2025, 2, 14))
    security = b.step(
        plan,
        "Security review",
        2,
        due=D(2025, 2, 28),
        baseline=D(2025, 2, 21),
        duration=10,
        status=BLOCKED,
        buyer=bea,
        seller=sol,
    )
    b.moved(
        security,
        old=D(2025, 2, 21),
        new=D(2025, 2, 28),
        reason="security asked for more time",
        on=D(2025, 2, 20),
    )
    b.step(plan, "Legal review", 3, due=D(2025, 3, 4), duration=3, buyer=len_, seller=lee)
    b.step(
        plan, "Signature", 4, due=D(2025, 3, 7), duration=1, buyer=eve, seller=ann, signature=True
    )
    b.buyer_activity(plan, on=D(2025, 2, 20))

    # Delta: no plan, in euros, below the coverage threshold anyway.
    deals["Delta"] = b.deal(
        "Delta",
        owner=bob,
        stage="discovery",
        amount=5000,
        currency="EUR",
        target=D(2025, 5, 20),
        created=D(2025, 3, 3),
    )

    # Echo: won on 26 Feb, two days before its target, with a signed plan.
    echo = deals["Echo"] = b.deal(
        "Echo",
        owner=alice,
        stage="closed_won",
        amount=80000,
        target=D(2025, 2, 28),
        closed=D(2025, 2, 26),
        created=D(2024, 12, 2),
    )
    plan = b.plan(echo, status="signed", target=D(2025, 2, 28))
    b.step(plan, "Business case", 1, due=D(2024, 12, 20), status=DONE, completed=D(2024, 12, 20))
    security = b.step(
        plan,
        "Security review",
        2,
        due=D(2025, 1, 31),
        baseline=D(2025, 1, 17),
        duration=10,
        status=DONE,
        completed=D(2025, 2, 4),
    )
    b.moved(
        security,
        old=D(2025, 1, 17),
        new=D(2025, 1, 31),
        reason="Security asked for more time",
        on=D(2025, 1, 10),
    )
    legal = b.step(
        plan,
        "Legal review",
        3,
        due=D(2025, 2, 21),
        baseline=D(2025, 2, 14),
        status=DONE,
        completed=D(2025, 2, 21),
    )
    b.moved(
        legal, old=D(2025, 2, 14), new=D(2025, 2, 21), reason="Legal on holiday", on=D(2025, 2, 1)
    )
    b.step(
        plan,
        "Signature",
        4,
        due=D(2025, 2, 26),
        duration=1,
        status=DONE,
        completed=D(2025, 2, 26),
        signature=True,
    )
    b.step(plan, "Kickoff", 1, due=D(2025, 3, 7), duration=3, phase=Phase.POST, status=CANCELLED)

    # Foxtrot: won on 14 Feb, two weeks after its first target (31 Jan), plan never signed.
    foxtrot = deals["Foxtrot"] = b.deal(
        "Foxtrot",
        owner=bob,
        stage="closed_won",
        amount=30000,
        target=D(2025, 2, 14),
        original=D(2025, 1, 31),
        closed=D(2025, 2, 14),
        created=D(2024, 11, 1),
    )
    plan = b.plan(foxtrot, status="shared", target=D(2025, 2, 14))
    case = b.step(
        plan,
        "Business case",
        1,
        due=D(2025, 1, 10),
        baseline=D(2025, 1, 15),
        status=DONE,
        completed=D(2025, 1, 8),
    )
    b.moved(case, old=D(2025, 1, 15), new=D(2025, 1, 10), reason="Pulled in", on=D(2025, 1, 6))
    security = b.step(
        plan,
        "Security review",
        2,
        due=D(2025, 2, 7),
        baseline=D(2025, 1, 24),
        duration=10,
        status=DONE,
        completed=D(2025, 2, 7),
    )
    b.moved(
        security,
        old=D(2025, 1, 24),
        new=D(2025, 2, 7),
        reason="  security asked for more time ",
        on=D(2025, 1, 20),
    )
    signature = b.step(
        plan,
        "Signature",
        3,
        due=D(2025, 2, 14),
        baseline=D(2025, 1, 31),
        duration=1,
        status=DONE,
        completed=D(2025, 2, 14),
        signature=True,
    )
    b.moved(
        signature, old=D(2025, 1, 31), new=D(2025, 2, 14), reason="Budget freeze", on=D(2025, 1, 25)
    )

    # Golf: lost on 3 March, no plan.
    deals["Golf"] = b.deal(
        "Golf",
        owner=alice,
        stage="closed_lost",
        amount=40000,
        target=D(2025, 3, 3),
        closed=D(2025, 3, 3),
        created=D(2025, 1, 6),
    )
    return deals


def build_globex(globex, charlie) -> Deal:
    """A Globex deal that would change every Acme figure if it leaked."""
    b = Builder(globex)
    deal = b.deal(
        "Initrode",
        owner=charlie,
        stage="negotiation",
        amount=999000,
        target=D(2025, 3, 1),
        created=D(2024, 10, 1),
    )
    plan = b.plan(deal, status="shared", target=D(2025, 3, 1))
    buyer = b.person(deal, "Globex Buyer", Side.BUYER)
    step = b.step(
        plan, "Security review", 1, due=D(2025, 3, 1), baseline=D(2025, 2, 1), buyer=buyer
    )
    b.moved(step, old=D(2025, 2, 1), new=D(2025, 3, 1), reason="Globex reason", on=D(2025, 3, 10))
    b.buyer_activity(plan, on=D(2025, 3, 11))
    won = b.deal(
        "Initrode Two",
        owner=charlie,
        stage="closed_won",
        amount=1000,
        target=D(2025, 2, 1),
        closed=D(2025, 2, 1),
        created=D(2025, 1, 1),
    )
    b.plan(won, status="signed", target=D(2025, 2, 1))
    return deal
