"""Demo data for `make run`: idempotent, so running it twice changes nothing."""

from django.core.management.base import BaseCommand
from django.db import transaction

from deals.models import Membership, Organization, User

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


class Command(BaseCommand):
    help = "Create the demo workspaces, users, deals and plans (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--quiet", action="store_true", help="Do not print the logins.")
        parser.add_argument("--port", default="8000", help="Port shown in the printed links.")

    @transaction.atomic
    def handle(self, *args, quiet=False, port="8000", **options):
        created = 0
        for spec in WORKSPACES:
            organization, was_created = Organization.objects.get_or_create(
                slug=spec["slug"], defaults={"name": spec["name"], "time_zone": spec["time_zone"]}
            )
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
        if quiet:
            return
        self.stdout.write(
            self.style.SUCCESS("Demo data ready" + (" (created)." if created else " (unchanged)."))
        )
        self.stdout.write(f"Sign in at http://127.0.0.1:{port}/accounts/login/ with:")
        for spec in WORKSPACES:
            for email, _, role in spec["members"]:
                self.stdout.write(f"  {email:<28} {DEMO_PASSWORD}   ({spec['name']}, {role})")
