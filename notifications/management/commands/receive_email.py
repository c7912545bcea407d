"""Receive one reply to a digest from standard input (a mail server's pipe, e.g. Postfix's
`reply: "|/app/.venv/bin/python /app/manage.py receive_email"`); see notifications/inbound.py."""

import sys

from django.core.management.base import BaseCommand

from notifications import inbound


class Command(BaseCommand):
    help = "Act on one inbound email (a reply to a buyer's digest) read from standard input."

    def handle(self, *args, **options):
        raw = sys.stdin.buffer.read(inbound.MAX_BYTES + 1)
        self.stdout.write(inbound.receive(raw))
