"""`manage.py create_api_key --org <slug> --name <label>`: print a new API key once."""

from django.core.management.base import BaseCommand, CommandError

from deals.models import Organization
from deals.services import create_api_key


class Command(BaseCommand):
    help = "Create an API key of a workspace and print it (it is shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="The workspace's slug.")
        parser.add_argument("--name", required=True, help="What the key is for.")

    def handle(self, *args, org, name, **options):
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"No workspace with the slug {org!r}.")
        if not name.strip() or len(name.strip()) > 100:
            raise CommandError("Give the key a name of 1 to 100 characters.")
        api_key, key = create_api_key(organization, name=name)
        self.stderr.write(
            f"API key “{api_key.name}” of {organization.name} created. It is shown only "
            "once: store it now."
        )
        self.stdout.write(key)
