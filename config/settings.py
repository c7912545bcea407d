"""Tandem settings: the only settings module.

Everything comes from environment variables with embedded defaults that make `make run`
and `pytest` work on a fresh machine without services (SQLite, in-process tasks, local
memory cache, email on the console). Production sets DEBUG off and provides SECRET_KEY,
DATABASE_URL, REDIS_URL, EMAIL_URL and ALLOWED_HOSTS.
"""

import os
import time
from ipaddress import ip_network
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"


def env(name: str, default: str = "") -> str:
    """The variable `name`, or the content of the file named by `<name>_FILE` (Docker and
    Kubernetes secrets), or `default`. Setting both is an error: which one wins would be a
    surprise."""
    path = os.environ.get(f"{name}_FILE", "").strip()
    if path:
        if os.environ.get(name, "").strip():
            raise ImproperlyConfigured(f"Set {name} or {name}_FILE, not both.")
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(
                f"{name}_FILE: cannot read {path}: {exc.strerror}."
            ) from None
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    value = env(name)
    if not value:
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {value!r}.")


def env_int(name: str, default: int) -> int:
    value = env(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}.") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


def email_settings(url: str) -> dict:
    """Translate EMAIL_URL into Django's EMAIL_* settings.

    smtp://user:password@host:587?tls=1, smtps://… (implicit TLS), smtp://127.0.0.1:1025,
    console:// (the default), locmem:// (tests).
    """
    parts = urlsplit(url)
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    backends = {
        "console": "django.core.mail.backends.console.EmailBackend",
        "locmem": "django.core.mail.backends.locmem.EmailBackend",
        "smtp": "django.core.mail.backends.smtp.EmailBackend",
        "smtps": "django.core.mail.backends.smtp.EmailBackend",
    }
    if parts.scheme not in backends:
        raise ImproperlyConfigured(
            f"EMAIL_URL must start with one of {', '.join(sorted(backends))}://, not {url!r}."
        )
    result = {"EMAIL_BACKEND": backends[parts.scheme]}
    if parts.scheme.startswith("smtp"):
        try:
            port = parts.port or (465 if parts.scheme == "smtps" else 25)
        except ValueError:
            raise ImproperlyConfigured(f"EMAIL_URL has an invalid port: {url!r}.") from None
        result.update(
            EMAIL_HOST=parts.hostname or "127.0.0.1",
            EMAIL_PORT=port,
            EMAIL_HOST_USER=unquote(parts.username or ""),
            EMAIL_HOST_PASSWORD=unquote(parts.password or ""),
            EMAIL_USE_TLS=query.get("tls", "0").lower() in {"1", "true", "yes"},
            EMAIL_USE_SSL=parts.scheme == "smtps"
            or query.get("ssl", "0").lower() in {"1", "true", "yes"},
            EMAIL_TIMEOUT=int(query.get("timeout", "10")),
        )
    return result


DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set the SECRET_KEY environment variable "
            "(a development default is only used when DEBUG=1)."
        )
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# The public address used in emails and links that leave the site (magic links, invites).
SITE_URL = env("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "rest_framework",
    "django_htmx",
    "template_partials.apps.SimpleAppConfig",
    "csp",
    "deals",
    "stakeholders",
    "plans",
    "notifications",
]

MIDDLEWARE = [
    # /healthz and /readyz, whatever the Host of the probe (config/health.py).
    "config.health.HealthMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "deals.security.RequestContextMiddleware",
    # A change's emails that the mail server refused: a warning, not an error page.
    "deals.emails.UnsentEmailsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "deals.context_processors.shell",
                "notifications.context_processors.notification_bell",
            ],
            "builtins": ["template_partials.templatetags.partials"],
            # The partials loader wraps the others; our templates in DIRS win over apps'.
            # Cached with DEBUG too (Django's own default since 4.1): runserver's autoreloader
            # empties the cache when a template changes, and parsing the templates again on
            # every request made a live update take 8x longer to render under `make run`.
            "loaders": [
                (
                    "template_partials.loader.Loader",
                    [
                        (
                            "django.template.loaders.cached.Loader",
                            [
                                "django.template.loaders.filesystem.Loader",
                                "django.template.loaders.app_directories.Loader",
                            ],
                        )
                    ],
                )
            ],
        },
    }
]

# Database: DATABASE_URL, or a SQLite file under var/ for `make run`.
VAR_DIR.mkdir(exist_ok=True)
DATABASE_URL = env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'tandem.sqlite3'}")
try:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
else:
    # A connection found broken is replaced before use, so the app recovers by itself when
    # the database returns; a database that does not answer fails a connection within 2 s
    # (the 503 page of config/errors.py), not after the system's TCP timeout.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 2)
    # `.iterator()` (every <select> of a ModelChoiceField renders through it) would open a
    # server-side cursor: DECLARE, FETCH, CLOSE — three round trips where one does, for
    # lists of a few dozen rows (and no cursor may outlive a transaction behind a pooler).
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis: broker, cache and live events. Absent → eager tasks, local memory cache and an
# in-process event channel, which is enough for the single process of `make run` — and only
# for one process: live events, and the generation counters that invalidate the cached plan
# pages and dashboards, would not reach the other processes.
REDIS_URL = env("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            # A miss when Redis cannot be reached (config/cache.py), within half a second.
            "BACKEND": "config.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "tandem",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# How long a cached plan page body is kept at most (plans/page_cache.py); 0 turns it off.
PAGE_CACHE_SECONDS = env_int("PAGE_CACHE_SECONDS", 15 * 60)
# The release being run: part of the key of every cached page and row, so
# that a deploy never serves what the old code and templates drew. Set TANDEM_RELEASE to one
# value for all processes of a release (the image's build, `make stack` sets the git commit);
# unset, each process start counts as a release of its own (correct, but processes do not
# share cached pages).
RELEASE = env("TANDEM_RELEASE") or f"started-{time.time_ns()}"

CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Longer than any countdown or ETA we use (webhook retries back off up to ~12 hours), so
# Redis does not redeliver a task that is merely waiting for its time.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 60 * 60 * 24,
    # A broker that does not answer fails a publish within about a second; the task waits
    # in the outbox (deals/outbox.py) instead of holding up the request that owes it.
    "socket_connect_timeout": 1,
    "socket_timeout": 2,
    # Connecting to publish: one immediate second try, not kombu's default of retrying for
    # 2 s, 4 s… (a refused connection cost each write 2 s during a Redis outage). The
    # worker's own reconnection has its own settings (broker_connection_*).
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_BROKER_CONNECTION_TIMEOUT = 1
CELERY_TASK_DEFAULT_QUEUE = "tandem"
CELERY_TIMEZONE = "UTC"

AUTH_USER_MODEL = "deals.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"

# allauth: email + password, no username.
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_SIGNUP_FORM_CLASS = "deals.forms.WorkspaceSignupForm"
# Counts allauth's rate limits by deals.security.client_ip (TRUSTED_PROXIES).
ACCOUNT_ADAPTER = "deals.adapters.AccountAdapter"
ACCOUNT_UNIQUE_EMAIL = True
# No account enumeration: sign-up, sign-in and password reset answer the same for a known
# and an unknown address. At sign-up allauth needs mandatory verification for that: a new
# account is usable once its address is verified, and a sign-up with a taken address gets
# the same "check your email" page while the owner is emailed instead (deals/adapters.py,
# which also keeps accounts not made by a sign-up signing in as before).
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
# Confirming in the browser that signed up signs in (allauth: only that session's sign-up).
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
# An account's address is its owner's identity (sellers sign from it; password resets go
# there): changing it adds the new address unverified, and it replaces the old one only once
# its link is followed; managing addresses asks for the password again after 5 minutes.
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_REAUTHENTICATION_REQUIRED = True
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Tandem] "
# Links in account emails (confirmation, password reset) use the scheme the site is served
# on: https behind TLS, http for a compose or `make stack` on a plain port.
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if SITE_URL.startswith("https://") else "http"
# allauth's defaults, written out so they are visible: failed sign-ins are limited per IP
# and per account; a test proves the 429.
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
}

# Workspace invitations expire after this many days.
INVITATION_MAX_AGE_DAYS = env_int("INVITATION_MAX_AGE_DAYS", 7)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
try:
    ZoneInfo(TIME_ZONE)
except ZoneInfoNotFoundError:  # pragma: no cover - tzdata is part of the system
    raise ImproperlyConfigured("The system has no time zone database.") from None

STATIC_URL = "/static/"
STATIC_ROOT = Path(env("STATIC_ROOT", str(VAR_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env_bool("STATIC_COMPRESS", True)
        else "whitenoise.storage.ManifestStaticFilesStorage"
    },
}
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(VAR_DIR / "media")))

globals().update(email_settings(env("EMAIL_URL", "console://")))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "Tandem <tandem@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Replies to buyers' digests (notifications/inbound.py): the domain whose mail reaches
# /inbound/email/ (POSTed by the mail gateway with INBOUND_EMAIL_SECRET as a bearer token)
# or `manage.py receive_email`. Unset: digests carry no reply address.
INBOUND_EMAIL_DOMAIN = env("INBOUND_EMAIL_DOMAIN", "")
INBOUND_EMAIL_SECRET = env("INBOUND_EMAIL_SECRET", "")

# Sessions are read from the cache and written through to the database: every page reads
# its session, and that read was one of the five queries of a warm plan page. Without Redis
# (or while it is unreachable: config/cache.py reads a miss) they are read from the database.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# Security. Production (DEBUG off) is HTTPS behind the proxy of docker-compose.yml.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
# No other site ever gets a Referer from us, so never a URL with a secret in it; our own
# logs redact them (config/secret_urls.py). Not "no-referrer" on those pages: browsers
# then send `Origin: null` with their forms, which CSRF protection rightly refuses.
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy: scripts only from this site and carrying the nonce; no inline
# scripts, no inline styles, no eval; nobody may frame us.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # First, so that a request without credentials gets 401 with WWW-Authenticate.
        "deals.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["deals.authentication.ApiKeyThrottle"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "deals.api.exception_handler",
}

# Logs and error emails never carry the secret of a URL (room links, invitations,
# unsubscribe links, password-reset and email-confirmation keys: config/secret_urls.py).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact_tokens": {"()": "config.logging.RedactTokens"},
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
    },
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_tokens"],
        },
        # Django's error emails to ADMINS, with the subject redacted too (the report's body
        # is redacted by DEFAULT_EXCEPTION_REPORTER).
        "mail_admins": {
            "class": "django.utils.log.AdminEmailHandler",
            "filters": ["require_debug_false", "redact_tokens"],
        },
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "django": {"handlers": ["mail_admins"], "level": "INFO"},
        "django.db.backends": {"level": "INFO"},
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
        # Request logs carry URL paths: secrets are redacted before any handler.
        "django.request": {"filters": ["redact_tokens"]},
        "django.server": {
            "handlers": ["console"],
            "filters": ["redact_tokens"],
            "propagate": False,
        },
    },
}
DEFAULT_EXCEPTION_REPORTER = "config.logging.RedactingExceptionReporter"
DEFAULT_EXCEPTION_REPORTER_FILTER = "config.logging.SecretsReporterFilter"

# Attachments on milestones: size limit in MB (the type is checked by content).
ATTACHMENT_MAX_MB = env_int("ATTACHMENT_MAX_MB", 25)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# The reverse proxies whose X-Forwarded-For is believed (addresses or networks, e.g.
# "127.0.0.1,10.0.0.0/8"); none by default. Rate limits, signatures and the security log
# take the client's address from deals.security.client_ip.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES")
try:
    for _proxy in TRUSTED_PROXIES:
        ip_network(_proxy, strict=False)
except ValueError:
    raise ImproperlyConfigured(
        f"TRUSTED_PROXIES must list IP addresses or networks, not {_proxy!r}."
    ) from None

# Entries of the workspaces' security logs are kept this many days.
SECURITY_LOG_RETENTION_DAYS = env_int("SECURITY_LOG_RETENTION_DAYS", 365)
if SECURITY_LOG_RETENTION_DAYS < 1:
    raise ImproperlyConfigured(
        "SECURITY_LOG_RETENTION_DAYS must be at least 1 (days the security log keeps entries)."
    )

# REST API (/api/v1/) and its OpenAPI schema (/api/schema/, docs at /api/docs/).
INSTALLED_APPS += ["drf_spectacular", "drf_spectacular_sidecar"]
# Requests per API key (or signed-in member) and period: "600/minute", "10/second"…
API_RATE_LIMIT = env("API_RATE_LIMIT", "600/minute")
SPECTACULAR_SETTINGS = {
    "TITLE": "Tandem API",
    "DESCRIPTION": (
        "Deals, mutual action plans, milestones, stakeholders and templates of one workspace. "
        "Authenticate with `Authorization: Bearer <API key>` (keys are created by workspace "
        "admins in Settings).\n\n"
        "**No lost updates.** A read of one resource carries its `ETag`. PUT and PATCH must "
        "send it back in `If-Match`: 428 without it, for `If-Match: *` or for anything but "
        "quoted ETags; 412 (with the current `ETag`, nothing saved) when the resource changed "
        "since. DELETE and the actions on one resource check `If-Match` when it is sent. "
        "`If-None-Match` with the ETag you hold answers 304 while it is current.\n\n"
        '**Errors** are JSON: `{"detail": …}`, or field name → messages for invalid input '
        "(400, nothing changed), also for unknown paths (404) and methods (405, with `Allow`). "
        "Values must have the JSON types documented (no `0` for false, no number for a "
        "decimal string) and text may not contain the NUL character (U+0000). 409 says why "
        "the current state refuses a change; 429 comes with `Retry-After`.\n\n"
        "**Lists** are cursor-paginated: follow `next`; `page_size` is 1 to 200 (400 outside)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No call to the public validator badge: the docs page loads only this site's assets.
    "SWAGGER_UI_SETTINGS": {"validatorUrl": None, "deepLinking": True},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "deals.api_schema.document_error_responses",
    ],
    # Choice sets used by several fields get one name each.
    "ENUM_NAME_OVERRIDES": {
        "PlanStatusEnum": "plans.models.Plan.Status",
        "MilestoneStatusEnum": "plans.models.Milestone.Status",
        "SideEnum": "stakeholders.models.Side",
    },
}

# Outgoing webhooks. Production refuses endpoints that resolve to private, loopback or
# link-local addresses (SSRF) and plain http; local testing may allow them.
WEBHOOKS_ALLOW_PRIVATE = env_bool("WEBHOOKS_ALLOW_PRIVATE", False)
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 10)

# Reminders (notifications/): a sender holds its claim on an email this long; a pending email
# not sent within it (a crashed worker, a lost task) is queued again by the next sweep.
NOTIFICATION_CLAIM_SECONDS = env_int("NOTIFICATION_CLAIM_SECONDS", 600)
