"""Run the reminder sweep in this process (what Celery beat and the worker do with Redis)."""

from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError

from notifications import digests


class Command(BaseCommand):
    help = (
        "Decide and send due reminders, digests, reviews and alerts now, in-process. "
        "Idempotent: running it again sends nothing twice."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--now",
            help="Act as if it were this time (ISO 8601, e.g. 2025-03-10T08:30+09:00; "
            "without an offset, UTC).",
        )
        parser.add_argument(
            "--only",
            choices=["frequent", "hourly"],
            help="Only the 15-minute sweep (digests, escalations, invitations) or only the "
            "hourly one (weekly reviews, stale plans). Default: both.",
        )

    def handle(self, *args, now=None, only=None, **options):
        when = None
        if now:
            try:
                when = datetime.fromisoformat(now)
            except ValueError:
                raise CommandError(f"--now must be an ISO date and time, not {now!r}.") from None
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
        deciders = {
            "frequent": digests.FREQUENT,
            "hourly": digests.HOURLY,
            None: digests.FREQUENT + digests.HOURLY,
        }[only]
        result = digests.sweep(when, deciders=deciders, inline=True)
        outcomes = ", ".join(f"{n} {status}" for status, n in sorted(result.outcomes.items()))
        self.stdout.write(
            f"{result.decided} new email(s) decided, {len(result.requeued)} retried"
            + (f": {outcomes}." if outcomes else ".")
        )
