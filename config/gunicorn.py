"""Gunicorn settings: `gunicorn -c python:config.gunicorn config.wsgi:application …`.

Gunicorn's own loggers (its access log, when `--access-logfile` turns it on, and its error
log) do not go through Django's LOGGING: this logger class gives them the same redaction,
so that a request line or Referer with a room link, an invitation or a password-reset key
in it is logged as "/r/[redacted]/…" (config/secret_urls.py)."""

from gunicorn import glogging

from config.logging import RedactTokens


class Logger(glogging.Logger):
    def setup(self, cfg):
        super().setup(cfg)
        # setup() runs again on a configuration reload: one filter per logger.
        for log in (self.error_log, self.access_log):
            if not any(isinstance(f, RedactTokens) for f in log.filters):
                log.addFilter(RedactTokens())


logger_class = Logger
