"""Settings come from the environment; production refuses to start without a secret."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.settings import email_settings

ROOT = Path(__file__).resolve().parent.parent

PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "a-production-secret-key-that-is-long-and-random-0123456789abcdefghij",
    "ALLOWED_HOSTS": "tandem.example.com",
    "DATABASE_URL": "sqlite:///:memory:",
    "EMAIL_URL": "smtp://mailer:secret@smtp.example.com:587?tls=1",
}


def _run(args, env):
    # The suite's own defaults (pytest-env) are not production's: start from a clean slate.
    dropped = {
        "SECRET_KEY",
        "DEBUG",
        "SECURE_SSL_REDIRECT",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "DJANGO_ALLOW_ASYNC_UNSAFE",
    }
    clean = {k: v for k, v in os.environ.items() if k not in dropped}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_without_secret_key_fails_to_start_with_clear_message():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"}

    result = _run(["check"], env)

    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_debug_mode_has_a_development_key():
    result = _run(["check"], {"DEBUG": "1", "DATABASE_URL": "sqlite:///:memory:"})

    assert result.returncode == 0, result.stderr


def test_check_deploy_is_clean_with_production_variables():
    result = _run(["check", "--deploy", "--fail-level", "WARNING"], PRODUCTION_ENV)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_invalid_boolean_names_the_variable():
    result = _run(["check"], {**PRODUCTION_ENV, "DEBUG": "maybe"})

    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "smtp://user:p%40ss@mail.example.com:587?tls=1",
            {
                "EMAIL_HOST": "mail.example.com",
                "EMAIL_PORT": 587,
                "EMAIL_HOST_USER": "user",
                "EMAIL_HOST_PASSWORD": "p@ss",
                "EMAIL_USE_TLS": True,
                "EMAIL_USE_SSL": False,
            },
        ),
        (
            "smtp://127.0.0.1:1025",
            {"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": 1025, "EMAIL_USE_TLS": False},
        ),
        ("console://", {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}),
    ],
)
def test_email_url_parsing(url, expected):
    result = email_settings(url)

    for key, value in expected.items():
        assert result[key] == value


def test_email_url_with_unknown_scheme_is_refused():
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="EMAIL_URL"):
        email_settings("carrier-pigeon://coop")


def test_collectstatic_works_with_production_settings(tmp_path):
    """The Dockerfile collects static files with production settings (hashed names and a
    manifest): every vendored file must resolve what it references."""
    result = _run(
        ["collectstatic", "--noinput", "-v", "0"],
        # Without the (slow) compression: the manifest is what resolves references.
        {**PRODUCTION_ENV, "STATIC_ROOT": str(tmp_path / "static"), "STATIC_COMPRESS": "0"},
    )

    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "static" / "staticfiles.json").exists()


def test_secrets_can_come_from_files(tmp_path):
    """docker-compose.yml and orchestrators give secrets as files: X_FILE names the file."""
    key = tmp_path / "secret_key"
    key.write_text(PRODUCTION_ENV["SECRET_KEY"] + "\n")
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"}

    result = _run(
        [
            "shell",
            "--no-imports",
            "-c",
            "from django.conf import settings; print(settings.SECRET_KEY)",
        ],
        {**env, "SECRET_KEY_FILE": str(key)},
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == PRODUCTION_ENV["SECRET_KEY"]


def test_unreadable_secret_file_names_the_variable(tmp_path):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"}

    result = _run(["check"], {**env, "SECRET_KEY_FILE": str(tmp_path / "missing")})

    assert result.returncode != 0
    assert "SECRET_KEY_FILE: cannot read" in result.stderr


def test_a_secret_given_twice_is_refused(tmp_path):
    key = tmp_path / "secret_key"
    key.write_text("from-the-file")

    result = _run(["check"], {**PRODUCTION_ENV, "SECRET_KEY_FILE": str(key)})

    assert result.returncode != 0
    assert "Set SECRET_KEY or SECRET_KEY_FILE, not both" in result.stderr


@pytest.mark.parametrize(
    ("site_url", "scheme"),
    [("https://tandem.example.com", "https"), ("http://localhost:8080", "http")],
)
def test_links_in_account_emails_use_the_scheme_of_site_url(site_url, scheme):
    # docker compose serves plain http on :8080: a sign-up confirmation link in https
    # would lead nowhere.
    result = _run(
        [
            "shell",
            "--no-imports",
            "-c",
            "from django.conf import settings; print(settings.ACCOUNT_DEFAULT_HTTP_PROTOCOL)",
        ],
        {**PRODUCTION_ENV, "SITE_URL": site_url},
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == scheme
