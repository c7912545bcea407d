"""Demo data for `make run`: idempotent, so running it twice changes nothing."""

import hashlib
import hmac
from datetime import datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from deals.models import Deal, Membership, Organization, User, hash_token
from plans import evidence, materials
from plans import services as plan_services
from plans.builtin_templates import install
from plans.models import Activity, Milestone, PlanTemplate, Resource, TemplateStep
from plans.signing import signatures
from stakeholders import access
from stakeholders import services as stakeholder_services
from stakeholders.actors import Actor
from stakeholders.models import RoomLink, Stakeholder

DEMO_PASSWORD = "demo-password"  # noqa: S105 - published demo credentials

WORKSPACES = [
    {
        "name": "Acme Software",
        "slug": "acme",
        "time_zone": "Europe/London",
        "members": [
            ("admin@example.com", "Ada Admin", Membership.Role.ADMIN),
            ("manager@example.com", "Morgan Manager", Membership.Role.MANAGER),
            ("seller@example.com", "Sam Seller", Membership.Role.SELLER),
        ],
    },
    {
        "name": "Globex",
        "slug": "globex",
        "time_zone": "America/Los_Angeles",
        "members": [("seller@globex.example.com", "Gina Globex", Membership.Role.SELLER)],
    },
]

# (account, opportunity, amount, stage, owner email, days to target close, template, story)
ACME_DEALS = [
    (
        "Initech",
        "Platform rollout",
        180000,
        "negotiation",
        "seller@example.com",
        40,
        "Enterprise (12 steps)",
        "on_track",
    ),
    (
        "Umbrella Corp",
        "EMEA expansion",
        95000,
        "proposal",
        "seller@example.com",
        30,
        "Core (8 steps)",
        "slipping",
    ),
    (
        "Hooli",
        "Team plan",
        24000,
        "evaluation",
        "seller@example.com",
        21,
        "SMB (5 steps)",
        "missing_owners",
    ),
    (
        "Wayne Enterprises",
        "Security analytics",
        240000,
        "negotiation",
        "admin@example.com",
        12,
        "Core (8 steps)",
        "overdue",
    ),
    (
        "Massive Dynamic",
        "Research licence",
        60000,
        "evaluation",
        "admin@example.com",
        55,
        "Core (8 steps)",
        "on_track",
    ),
    (
        "Stark Industries",
        "Global deployment",
        320000,
        "closed_won",
        "seller@example.com",
        -20,
        "Enterprise (12 steps)",
        "won",
    ),
    (
        "Vandelay Industries",
        "Import tracking",
        18000,
        "closed_lost",
        "seller@example.com",
        -35,
        "SMB (5 steps)",
        "lost",
    ),
    ("Soylent", "Pilot", 12000, "discovery", "seller@example.com", 75, None, "no_plan"),
    # Closed deals for the dashboard's outcomes: a win that closed after its original target
    # date, and a loss without a plan.
    (
        "Cyberdyne Systems",
        "Fleet analytics",
        150000,
        "closed_won",
        "admin@example.com",
        -10,
        "Core (8 steps)",
        "won_late",
    ),
    ("Tyrell Corp", "Replicant QA", 45000, "closed_lost", "admin@example.com", -50, None, "lost"),
]
GLOBEX_DEALS = [
    (
        "Initrode",
        "Analytics suite",
        70000,
        "proposal",
        "seller@globex.example.com",
        35,
        "Core (8 steps)",
        "on_track",
    ),
]

BUYERS = {
    "Initech": [
        ("Peter Gibbons", "VP Operations", "champion@initech.example.com", "champion"),
        ("Bill Lumbergh", "CFO", "bill@initech.example.com", "economic_buyer"),
        (
            "Samir Nagheenanajar",
            "IT Security Lead",
            "samir@initech.example.com",
            "security_reviewer",
        ),
        ("Joanna Legal", "Counsel", "joanna@initech.example.com", "legal_reviewer"),
        ("Milton Waddams", "Procurement", "milton@initech.example.com", "procurement"),
        ("Michael Bolton", "Engineer", "michael@initech.example.com", "technical_evaluator"),
    ],
    "Umbrella Corp": [
        ("Alice Abernathy", "Head of Sales Ops", "alice@umbrella.example.com", "champion"),
        ("Albert Wesker", "COO", "wesker@umbrella.example.com", "economic_buyer"),
        ("Ada Wong", "CISO", "ada@umbrella.example.com", "security_reviewer"),
        ("Leon Kennedy", "Legal", "leon@umbrella.example.com", "legal_reviewer"),
        ("Claire Redfield", "Procurement", "claire@umbrella.example.com", "procurement"),
    ],
    "Hooli": [("Gavin Belson", "CEO", "gavin@hooli.example.com", "economic_buyer")],
    "Wayne Enterprises": [
        ("Lucius Fox", "CTO", "lucius@wayne.example.com", "champion"),
        ("Bruce Wayne", "CEO", "bruce@wayne.example.com", "economic_buyer"),
        ("Barbara Gordon", "Security", "barbara@wayne.example.com", "security_reviewer"),
        ("Harvey Dent", "Legal", "harvey@wayne.example.com", "legal_reviewer"),
        ("Alfred Pennyworth", "Procurement", "alfred@wayne.example.com", "procurement"),
    ],
    "Massive Dynamic": [
        ("Nina Sharp", "Executive Director", "nina@massive.example.com", "economic_buyer"),
        ("Walter Bishop", "Research Lead", "walter@massive.example.com", "champion"),
        ("Astrid Farnsworth", "Security", "astrid@massive.example.com", "security_reviewer"),
        ("Phillip Broyles", "Legal", "phillip@massive.example.com", "legal_reviewer"),
        ("Olivia Dunham", "Procurement", "olivia@massive.example.com", "procurement"),
    ],
    "Stark Industries": [
        ("Pepper Potts", "CEO", "pepper@stark.example.com", "economic_buyer"),
        ("Happy Hogan", "Head of Security", "happy@stark.example.com", "security_reviewer"),
        ("Maria Hill", "Operations", "maria@stark.example.com", "champion"),
        ("Matt Murdock", "Legal", "matt@stark.example.com", "legal_reviewer"),
        ("Obadiah Stane", "Procurement", "obadiah@stark.example.com", "procurement"),
        ("Bruce Banner", "Engineering", "bruce@stark.example.com", "technical_evaluator"),
    ],
    "Vandelay Industries": [
        ("Art Vandelay", "Owner", "art@vandelay.example.com", "economic_buyer"),
        ("George Costanza", "Importer", "george@vandelay.example.com", "champion"),
    ],
    "Cyberdyne Systems": [
        ("Miles Dyson", "Director of R&D", "miles@cyberdyne.example.com", "champion"),
        ("Sarah Connor", "COO", "sarah@cyberdyne.example.com", "economic_buyer"),
        ("Kyle Reese", "Security", "kyle@cyberdyne.example.com", "security_reviewer"),
        ("Peter Silberman", "Legal", "peter@cyberdyne.example.com", "legal_reviewer"),
        ("John Connor", "Procurement", "john@cyberdyne.example.com", "procurement"),
    ],
    "Initrode": [
        ("Tom Smykowski", "Operations", "tom@initrode.example.com", "champion"),
        ("Dom Portwood", "VP Finance", "dom@initrode.example.com", "economic_buyer"),
    ],
}

OUTCOMES = {
    "Initech": "Cut onboarding of new plants from 9 to 5 months by Q3",
    "Umbrella Corp": "Give every EMEA rep one forecast they trust by the April QBR",
    "Wayne Enterprises": "Detect insider threats within 24 hours across all sites",
    "Massive Dynamic": "Share research results across labs within a day, not a month",
    "Stark Industries": "Roll out one deployment pipeline to all 14 factories this year",
    "Initrode": "Close the books in 3 days instead of 10",
}
CRITERIA = [
    "Integrates with the existing SSO and HRIS",
    "Passes the security review without exceptions",
    "Payback within 12 months on the agreed ROI model",
    "Admins trained before go-live",
]


class Command(BaseCommand):
    help = "Create the demo workspaces, users, deals and plans (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--quiet", action="store_true", help="Do not print the logins.")
        parser.add_argument("--port", default="8000", help="Port shown in the printed links.")

    def handle(self, *args, quiet=False, port="8000", **options):
        # Seed in one transaction; print after it commits, so that the emails the seeding
        # sends (on the console under `make run`) come before the logins, not after.
        with transaction.atomic():
            created, room_url = self.seed()
        if quiet:
            return
        self.stdout.write(
            self.style.SUCCESS("Demo data ready" + (" (created)." if created else " (unchanged).")),
        )
        self.stdout.write(f"Sign in at http://127.0.0.1:{port}/accounts/login/ with:")
        for spec in WORKSPACES:
            for email, _, role in spec["members"]:
                self.stdout.write(f"  {email:<28} {DEMO_PASSWORD}   ({spec['name']}, {role})")
        if room_url:
            local = room_url.replace("http://127.0.0.1:8000", f"http://127.0.0.1:{port}", 1)
            self.stdout.write(
                "Buyer deal room of Initech's champion (champion@initech.example.com):"
            )
            self.stdout.write(f"  {local}")

    def seed(self) -> tuple[int, str | None]:

        # The built-in templates come with a data migration; a flushed database (`manage.py
        # flush`, or a test with transactional_db that ran before) has lost them.
        if not PlanTemplate.objects.filter(organization=None).exists():
            install(PlanTemplate, TemplateStep)
        created = 0
        organizations = {}
        for spec in WORKSPACES:
            organization, was_created = Organization.objects.get_or_create(
                slug=spec["slug"], defaults={"name": spec["name"], "time_zone": spec["time_zone"]}
            )
            organizations[spec["slug"]] = organization
            created += was_created
            for email, full_name, role in spec["members"]:
                user = User.objects.filter(email=email).first()
                if user is None:
                    user = User.objects.create_user(
                        email=email, password=DEMO_PASSWORD, full_name=full_name
                    )
                    created += 1
                _, was_created = Membership.objects.get_or_create(
                    organization=organization, user=user, defaults={"role": role}
                )
                created += was_created
        for slug, deals in (("acme", ACME_DEALS), ("globex", GLOBEX_DEALS)):
            for spec in deals:
                created += seed_deal(organizations[slug], *spec)
        room_url = ensure_demo_room_link(organizations["acme"])
        return created, room_url


def seed_deal(
    organization, account, opportunity, amount, stage, owner_email, days, template_name, story
):
    """Create one demo deal with its stakeholders and plan, told as `story`. Returns 1 when
    created, 0 when the deal already existed."""

    if Deal.objects.for_org(organization).filter(account_name=account).exists():
        return 0
    today = timezone.localdate()
    owner = User.objects.get(email=owner_email)
    seller = Actor.seller(owner)
    target = today + timedelta(days=days)
    deal = Deal.objects.create(
        organization=organization,
        account_name=account,
        name=opportunity,
        amount=Decimal(amount),
        stage=stage,
        owner=owner,
        target_close_date=target,
        closed_date=target if stage in Deal.CLOSED_STAGES else None,
    )
    for name, title, email, role in BUYERS.get(account, []):
        if story == "missing_owners" and role != "economic_buyer":
            continue
        stakeholder_services.add_stakeholder(
            deal, actor=seller, name=name, title=title, email=email, role=role
        )
    if story == "overdue":
        # Invited four days ago and never came: `manage.py send_reminders` reminds them once
        # (and sends the digests and escalations of this deal's overdue steps).
        deal.stakeholders.filter(side="buyer").update(invited_at=timezone.now() - timedelta(days=4))
    if organization.slug == "acme":
        stakeholder_services.add_stakeholder(
            deal,
            actor=seller,
            name="Sol Engineer",
            title="Solutions engineer",
            email="se@acme.example.com",
            role="se",
        )
        stakeholder_services.add_stakeholder(
            deal,
            actor=seller,
            name="Lee Legal",
            title="Commercial counsel",
            email="legal@acme.example.com",
            role="seller_legal",
        )
        stakeholder_services.add_stakeholder(
            deal,
            actor=seller,
            name="Casey Success",
            title="Customer success",
            email="csm@acme.example.com",
            role="csm",
        )
    # Deals started a quarter ago, so closed ones have a cycle length on the dashboard.
    Deal.objects.filter(pk=deal.pk).update(created_at=timezone.now() - timedelta(days=90))
    if story == "won_late":
        # Closed 15 days after the first target date entered.
        Deal.objects.filter(pk=deal.pk).update(original_close_date=target - timedelta(days=15))
    if template_name is None:
        return 1
    template = PlanTemplate.objects.get(organization=None, name=template_name)
    plan = plan_services.create_plan_from_template(
        deal,
        template=template,
        target_date=target,
        actor=seller,
        business_outcome=OUTCOMES.get(account, ""),
    )
    if story != "missing_owners":
        plan_services.update_plan_overview(
            plan, actor=seller, success_criteria=CRITERIA[: 4 if story != "slipping" else 3]
        )
    if story != "missing_owners" and stage != "discovery":
        plan_services.share_plan(plan, actor=seller)
    milestones = list(plan.milestones.order_by("phase", "position"))
    close_steps = [m for m in milestones if m.phase == "close"]
    _demo_materials(plan, seller, milestones)
    if story == "won_late":
        security = next(m for m in close_steps if m.risk == "security")
        plan_services.update_milestone(
            security,
            actor=seller,
            expected_version=security.version,
            reason="Security team asked for a second questionnaire round",
            due_date=security.due_date + timedelta(days=5),
        )
    # Steps due before today are done, except where the story says otherwise.
    for index, milestone in enumerate(Milestone.objects.filter(plan=plan, phase="close")):
        past = bool(milestone.due_date and milestone.due_date < today)
        done = (
            story in {"won", "lost", "won_late"}
            or (past and story in {"on_track", "missing_owners"})
            or (past and story == "slipping" and index % 2 == 0)
            or (past and story == "overdue" and index < 2)
        )
        if done:
            plan_services.set_milestone_status(milestone, actor=seller, status="done")
    if story == "slipping":
        reasons = [
            "Security team asked for a second questionnaire round",
            "Legal is out until next week",
            "CFO moved the budget review",
        ]
        open_steps = [m for m in close_steps if m.status != Milestone.Status.DONE][:3]
        for milestone, reason, delta in zip(open_steps, reasons, (7, 5, 10), strict=False):
            fresh = Milestone.objects.get(pk=milestone.pk)
            plan_services.update_milestone(
                fresh,
                actor=seller,
                expected_version=fresh.version,
                reason=reason,
                due_date=fresh.due_date + timedelta(days=delta),
            )
    if story == "overdue":
        for milestone in close_steps[2:4]:
            fresh = Milestone.objects.get(pk=milestone.pk)
            plan_services.set_milestone_status(fresh, actor=seller, status="blocked")
    if story == "lost":
        plan_services.archive_plan(plan, actor=seller, archived=True)
    if story == "won" or account == "Massive Dynamic":
        sign_demo_plan(plan, seller, buyer_signs=story == "won")
    _date_completions(plan)
    _buyer_engagement(plan, story)
    return 1


DEMO_FILES = Path(__file__).parent / "demo_files"


def _demo_materials(plan, seller, milestones) -> None:
    """What a seller shares beside the plan: a proposal and a recorded demo, a security
    pack about the security step, an internal pricing note, and a section for the buyers'
    own documents."""
    proposal = materials.add_section(plan, actor=seller, title="Proposal", buyer_uploads=False)
    materials.add_file(
        plan,
        actor=seller,
        section=proposal,
        title="Proposal",
        note="Scope, pricing and terms",
        upload=SimpleUploadedFile("proposal.pdf", (DEMO_FILES / "proposal.pdf").read_bytes()),
    )
    materials.add_link(
        plan,
        actor=seller,
        section=proposal,
        title="Recorded demo (20 minutes)",
        url="https://video.example.com/tandem-demo",
    )
    materials.add_link(
        plan,
        actor=seller,
        section=proposal,
        title="Pricing floor (internal)",
        url="https://wiki.example.com/pricing-floor",
        visibility="internal",
    )
    security = materials.add_section(
        plan, actor=seller, title="Security & legal", buyer_uploads=False
    )
    step = next((m for m in milestones if "ecurity" in m.title and m.visibility == "shared"), None)
    materials.add_file(
        plan,
        actor=seller,
        section=security,
        title="Security pack",
        upload=SimpleUploadedFile(
            "security-pack.pdf", (DEMO_FILES / "security-pack.pdf").read_bytes()
        ),
        milestone=step,
    )
    materials.add_section(plan, actor=seller, title="Your documents", buyer_uploads=True)


def sign_demo_plan(plan, seller, *, buyer_signs: bool) -> None:
    """Sign through the real signing code: the AE signs; the economic buyer too when
    `buyer_signs` (then the plan is signed and its sealed PDF is prepared after commit)."""

    signatures.request_signatures(plan, actor=seller)
    signers = signatures.required_signers(plan)
    for signer in sorted(signers, key=lambda s: s.side != "seller"):
        if signer.side == "buyer" and not buyer_signs:
            continue
        signatures.sign_plan(
            plan,
            signer=signer,
            typed_name=signer.name,
            consent=True,
            seen_hash=evidence.content_hash(plan),
            ip_address="127.0.0.1",
            user_agent="seed_demo",
            auth_method="demo data",
        )


def ensure_demo_room_link(organization) -> str | None:
    """A working room link for Initech's champion. Its token is derived from SECRET_KEY so
    every run prints the same link while the database keeps only its hash (idempotent)."""

    champion = Stakeholder.objects.filter(
        organization=organization, email="champion@initech.example.com"
    ).first()
    if champion is None:
        return None
    token = hmac.new(settings.SECRET_KEY.encode(), b"tandem-demo-room-link", hashlib.sha256)
    token = token.hexdigest()[:43]
    link = RoomLink.objects.filter(token_hash=hash_token(token)).first()
    if link is None or not link.is_usable():
        RoomLink.objects.filter(token_hash=hash_token(token)).delete()
        RoomLink.objects.create(
            organization=organization,
            stakeholder=champion,
            token_hash=hash_token(token),
            email=champion.email,
            expires_at=timezone.now() + timedelta(days=365),
        )
        Stakeholder.objects.filter(pk=champion.pk, invited_at=None).update(
            invited_at=timezone.now()
        )
    return access.room_url(token)


# Days after its due date a done demo step was completed, by risk: security and procurement
# take longer than planned, as they do in the field.
COMPLETION_DELAY = {"security": 6, "procurement": 4, "legal": 2}


def _date_completions(plan):
    """Done demo steps were completed around their due dates, not all at seeding time."""

    now = timezone.now()
    for milestone in Milestone.objects.filter(plan=plan, status="done"):
        day = milestone.due_date + timedelta(days=COMPLETION_DELAY.get(milestone.risk, 0))
        completed = timezone.make_aware(datetime.combine(day, time(16)))
        Milestone.objects.filter(pk=milestone.pk).update(completed_at=min(completed, now))


def _buyer_engagement(plan, story):
    """The buyer's champion works in plans that are on track (this week) and in the slipping
    one (three weeks ago): buyer activity is what the dashboard reads as buyer visits."""

    if story not in {"on_track", "slipping"}:
        return
    champion = Stakeholder.objects.filter(deal=plan.deal, role="champion").first()
    step = Milestone.objects.filter(plan=plan, phase="close", status="not_started").first()
    if champion is None or step is None:
        return
    plan_services.set_milestone_status(step, actor=Actor.buyer(champion), status="in_progress")
    if story == "on_track":
        # They read the proposal: pages 1 and 2 for a few minutes.
        proposal = Resource.objects.filter(plan=plan, title="Proposal").first()
        if proposal is not None:
            view = materials.record_open(proposal, kind="viewer", stakeholder=champion)
            later = view.started_at + timedelta(minutes=6)
            materials.record_time(view, {"1": 95, "2": 210}, now=later)
    if story == "slipping":
        Activity.objects.filter(plan=plan, side="buyer").update(
            created_at=timezone.now() - timedelta(days=21)
        )
