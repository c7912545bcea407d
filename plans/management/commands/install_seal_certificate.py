"""Install an organisation-issued seal certificate (PEM) for a workspace."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from deals.models import Organization
from plans.signing.seal import install_seal


class Command(BaseCommand):
    help = "Install an organisation-issued certificate and private key as a workspace's seal."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="Workspace slug")
        parser.add_argument("--cert", required=True, help="Certificate (PEM)")
        parser.add_argument("--key", required=True, help="Private key (PEM)")
        parser.add_argument("--password", default=None, help="Password of the key, if any")

    def handle(self, *args, org, cert, key, password, **options):
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"No workspace with slug {org!r}.")
        try:
            seal = install_seal(
                organization,
                key_pem=Path(key).read_bytes(),
                cert_pem=Path(cert).read_bytes(),
                password=password.encode() if password else None,
            )
        except (OSError, ValueError, TypeError) as exc:
            raise CommandError(f"Could not install the certificate: {exc}") from None
        self.stdout.write(f"Seal installed for {organization.name}: SHA-256 {seal.fingerprint}")
