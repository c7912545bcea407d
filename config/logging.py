"""Logs and error reports never carry the secret of a URL (config/secret_urls.py lists them).

- `RedactTokens` rewrites every log record (request lines of runserver and gunicorn,
  "Not Found: …" of django.request, anything else) before a handler formats it.
- Error emails to ADMINS (and the DEBUG error page) come from `RedactingExceptionReporter`:
  its whole text is redacted, the secrets of the failing request's URL are removed wherever
  they appear (a view's `token` argument, resolver kwargs), and `SecretsReporterFilter`
  hides every frame variable whose name says it holds a secret (token, key, password…).
"""

import logging

from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

from .secret_urls import REDACTED, redact, secrets_in

# Shorter strings are not secrets our URLs carry (tokens are 43 characters, keys 20+);
# replacing them everywhere would only mangle the report.
_MIN_SECRET_LENGTH = 8


class RedactTokens(logging.Filter):
    """Rewrite the record in place, so every handler downstream sees the redacted text.

    Put it on handlers (it then sees records of every logger) and on the loggers whose
    records other handlers may receive (django.request, django.server)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class SecretsReporterFilter(SafeExceptionReporterFilter):
    """Django's filter, plus: a frame variable named like a secret (`token`, `key`,
    `password`, `signature`…) is hidden, as settings with such names already are."""

    def get_traceback_frame_variables(self, request, tb_frame):
        return [
            (name, self.cleansed_substitute if self.hidden_settings.search(name) else value)
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]

    def get_safe_request_meta(self, request):
        return {
            name: redact(value) if isinstance(value, str) else value
            for name, value in super().get_safe_request_meta(request).items()
        }


class RedactingExceptionReporter(ExceptionReporter):
    """The error report (email to ADMINS, DEBUG page) with every URL secret removed."""

    def get_traceback_html(self) -> str:
        return self._redact(super().get_traceback_html())

    def get_traceback_text(self) -> str:
        return self._redact(super().get_traceback_text())

    def _redact(self, text: str) -> str:
        if self.request is not None:
            urls = " ".join(
                [
                    self.request.path,
                    self.request.get_full_path(),
                    self.request.META.get("HTTP_REFERER", ""),
                ]
            )
            for secret in secrets_in(urls):
                if len(secret) >= _MIN_SECRET_LENGTH:
                    text = text.replace(secret, REDACTED)
        return redact(text)
