"""Logging filters: secrets in URLs (magic-link and invitation tokens) never reach logs."""

import logging
import re

SECRET_PATH = re.compile(r"/(r|invite|u)/[A-Za-z0-9_\-]{8,}")


def redact(text: str) -> str:
    return SECRET_PATH.sub(lambda m: f"/{m.group(1)}/[redacted]", text)


class RedactTokens(logging.Filter):
    """Rewrite the record in place, so every handler downstream sees the redacted text."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if hasattr(record, "request"):
            # django.request attaches the request; formatters may print its path.
            record.request = None
        return True
