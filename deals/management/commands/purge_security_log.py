"""`manage.py purge_security_log`: delete security-log entries past their retention now
(the daily beat task `deals.purge_security_log` does the same)."""

from django.conf import settings
from django.core.management.base import BaseCommand

from deals.services import purge_security_log


class Command(BaseCommand):
    help = (
        "Delete the security-log entries older than SECURITY_LOG_RETENTION_DAYS, in every "
        "workspace."
    )

    def handle(self, *args, **options):
        deleted = purge_security_log()
        days = settings.SECURITY_LOG_RETENTION_DAYS
        self.stdout.write(f"Deleted {deleted} security-log entries older than {days} days.")
