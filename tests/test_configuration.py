"""Settings come from the environment, with embedded defaults and strict production checks."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVICE_VARIABLES = (
    "POSTGRES_HOST",
    "POSTGRES_DOCUMENTS_DB",
    "POSTGRES_PASSWORD",
    "MONGO_URI",
    "MONGO_HOST",
    "REDIS_URL",
    "KAFKA_BOOTSTRAP_SERVERS",
    "SMTP_HOST",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "JWT_SECRET",
    "DJANGO_SECRET_KEY",
    "TICKETFLOW_ENV",
)

PRINT_SETTINGS = """
import json, django
django.setup()
from django.conf import settings
print(json.dumps({
    "default": settings.DATABASES["default"]["ENGINE"],
    "documents": settings.DATABASES["documents"]["ENGINE"],
    "cache": settings.CACHES["default"]["BACKEND"],
    "transport": settings.TICKETFLOW_EVENTS["TRANSPORT"],
    "email": settings.EMAIL_BACKEND,
    "payments": settings.PAYMENTS["PROVIDER"],
    "jwt_hours": settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"].total_seconds() / 3600,
    "log_level": settings.LOGGING["root"]["level"],
}))
"""


def production_environment(**overrides: str) -> dict[str, str]:
    """A complete production environment with freshly generated secrets."""
    return {
        "TICKETFLOW_ENV": "production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(48),
        "JWT_SECRET": secrets.token_urlsafe(48),
        "POSTGRES_HOST": "db",
        "POSTGRES_PASSWORD": secrets.token_urlsafe(16),
        "POSTGRES_DOCUMENTS_DB": "documents",
        "REDIS_URL": "redis://cache:6379/0",
        "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092",
        "SMTP_HOST": "mail",
        **overrides,
    }


def run_python(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
    clean.update(DJANGO_SETTINGS_MODULE="ticketflow.settings", TICKETFLOW_VAR=str(tmp_path), **env)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.embedded
def test_with_nothing_configured_everything_is_embedded(tmp_path: Path) -> None:
    result = run_python(PRINT_SETTINGS, tmp_path)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "default": "django.db.backends.sqlite3",
        "documents": "django.db.backends.sqlite3",
        "cache": "django.core.cache.backends.locmem.LocMemCache",
        "transport": "inprocess",
        "email": "django.core.mail.backends.filebased.EmailBackend",
        "payments": "simulated",
        "jwt_hours": 24.0,
        "log_level": "INFO",
    }


@pytest.mark.embedded
def test_service_variables_select_the_real_services(tmp_path: Path) -> None:
    result = run_python(
        PRINT_SETTINGS,
        tmp_path,
        POSTGRES_HOST="db.internal",
        POSTGRES_PASSWORD="pw",
        POSTGRES_DOCUMENTS_DB="docs",
        REDIS_URL="redis://cache:6379/0",
        KAFKA_BOOTSTRAP_SERVERS="kafka:9092",
        SMTP_HOST="mail",
        STRIPE_SECRET_KEY="sk_test_x",
        JWT_EXPIRY_HOURS="2",
        LOG_LEVEL="WARNING",
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "default": "django.db.backends.postgresql",
        "documents": "django.db.backends.postgresql",
        "cache": "django_redis.cache.RedisCache",
        "transport": "kafka",
        "email": "django.core.mail.backends.smtp.EmailBackend",
        "payments": "stripe",
        "jwt_hours": 2.0,
        "log_level": "WARNING",
    }


@pytest.mark.embedded
def test_production_refuses_to_start_without_its_variables(tmp_path: Path) -> None:
    result = run_python(PRINT_SETTINGS, tmp_path, TICKETFLOW_ENV="production")

    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    assert "ImproperlyConfigured" in message
    for name in (
        "DJANGO_SECRET_KEY",
        "JWT_SECRET",
        "POSTGRES_HOST",
        "POSTGRES_PASSWORD",
        "REDIS_URL",
        "KAFKA_BOOTSTRAP_SERVERS",
        "SMTP_HOST",
        "MONGO_URI",
    ):
        assert name in message


@pytest.mark.embedded
@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("POSTGRES_PORT", "five-four-three-two"),
        ("JWT_EXPIRY_HOURS", "0"),
        ("LOG_LEVEL", "chatty"),
        ("PROMETHEUS_ENABLED", "perhaps"),
    ],
)
def test_a_malformed_variable_is_named(tmp_path: Path, variable: str, value: str) -> None:
    result = run_python(PRINT_SETTINGS, tmp_path, **{variable: value})

    assert result.returncode != 0
    assert f"bad environment: {variable}" in result.stderr


@pytest.mark.embedded
def test_production_accepts_a_complete_environment(tmp_path: Path) -> None:
    result = run_python(
        PRINT_SETTINGS,
        tmp_path,
        **production_environment(),
        MONGO_HOST="mongo",
        MONGO_INITDB_ROOT_PASSWORD=secrets.token_urlsafe(16),
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["documents"] == "django_mongodb_backend"


@pytest.mark.embedded
def test_the_mongodb_profile_checks_and_migrates_without_a_server(tmp_path: Path) -> None:
    result = run_python(
        "import runpy; runpy.run_module('tests.support.mongo_profile', run_name='__main__')",
        tmp_path,
        MONGO_HOST="mongo.invalid",
        MONGO_INITDB_ROOT_PASSWORD="secret",
        MONGO_REPLICA_SET="rs0",
    )

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["engine"] == "mongodb"
    assert "messaging.0001_initial" in report["migrations"]
    assert all(count > 0 for count in report["migrations"].values())


def example_values() -> dict[str, str]:
    """The values .env.example ships with, placeholders included."""
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
    return values


@pytest.mark.embedded
def test_production_refuses_the_placeholders_of_env_example(tmp_path: Path) -> None:
    shipped = example_values()
    result = run_python(
        PRINT_SETTINGS,
        tmp_path,
        **production_environment(
            DJANGO_SECRET_KEY=shipped["DJANGO_SECRET_KEY"],
            JWT_SECRET=shipped["JWT_SECRET"],
            POSTGRES_PASSWORD=shipped["POSTGRES_PASSWORD"],
        ),
    )

    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    for name in (
        "DJANGO_SECRET_KEY (a placeholder",
        "JWT_SECRET (a placeholder",
        "POSTGRES_PASSWORD (a placeholder",
    ):
        assert name in message


@pytest.mark.embedded
@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("embedded-development-secret-not-for-production", "a placeholder"),
        ("short-but-random-Zx81", "must be at least 32 characters"),
        ("ab" * 30, "too little entropy"),
    ],
)
def test_production_refuses_a_weak_signing_key(tmp_path: Path, value: str, problem: str) -> None:
    result = run_python(PRINT_SETTINGS, tmp_path, **production_environment(JWT_SECRET=value))

    assert result.returncode != 0
    assert f"JWT_SECRET ({problem}" in result.stderr


@pytest.mark.embedded
def test_the_embedded_default_signs_with_a_key_of_its_own(tmp_path: Path) -> None:
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.SECRET_KEY); print(settings.SIMPLE_JWT['SIGNING_KEY'])"
    )
    first = run_python(code, tmp_path)
    again = run_python(code, tmp_path)
    elsewhere = run_python(code, tmp_path / "other")

    assert first.returncode == 0, first.stderr
    django_key, jwt_key = first.stdout.split()
    assert "embedded-development-secret" not in first.stdout
    assert django_key != jwt_key
    assert again.stdout == first.stdout  # kept in var/, so sessions and tokens survive a restart
    assert elsewhere.stdout.split()[0] != django_key
    assert (tmp_path / "secret.key").stat().st_mode & 0o077 == 0


@pytest.mark.embedded
def test_the_deploy_checklist_passes_in_production(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={
            # The browser tests' DJANGO_ALLOW_ASYNC_UNSAFE is theirs, not a deployment's.
            **{
                k: v
                for k, v in os.environ.items()
                if k not in SERVICE_VARIABLES and k != "DJANGO_ALLOW_ASYNC_UNSAFE"
            },
            "TICKETFLOW_VAR": str(tmp_path),
            **production_environment(ALLOWED_HOSTS="tickets.example.org"),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.embedded
def test_seed_refuses_to_run_in_production(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "seed"],
        cwd=ROOT,
        env={
            **{k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES},
            "TICKETFLOW_VAR": str(tmp_path),
            **production_environment(),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode != 0
    assert "does not run in production" in result.stderr


PRINT_HARDENING = """
import json, django
django.setup()
from django.conf import settings
print(json.dumps({
    "renderers": settings.REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"],
    "schema_permissions": settings.SPECTACULAR_SETTINGS["SERVE_PERMISSIONS"],
    "proxy_ssl_header": settings.SECURE_PROXY_SSL_HEADER,
    "csp_enforced": bool(getattr(settings, "CONTENT_SECURITY_POLICY", None)),
    "metrics_networks": bool(settings.METRICS_ALLOWED_NETWORKS),
    "ssl_redirect": settings.SECURE_SSL_REDIRECT,
}))
"""


@pytest.mark.embedded
def test_production_hides_the_browsable_api_and_the_schema_and_trusts_no_forwarded_proto(
    tmp_path: Path,
) -> None:
    result = run_python(PRINT_HARDENING, tmp_path, **production_environment())

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "renderers": ["rest_framework.renderers.JSONRenderer"],
        "schema_permissions": ["rest_framework.permissions.IsAdminUser"],
        "proxy_ssl_header": None,
        "csp_enforced": True,
        "metrics_networks": True,
        "ssl_redirect": True,
    }


@pytest.mark.embedded
def test_behind_a_configured_proxy_its_forwarded_proto_is_believed(tmp_path: Path) -> None:
    result = run_python(PRINT_HARDENING, tmp_path, **production_environment(NUM_PROXIES="1"))

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["proxy_ssl_header"] == ["HTTP_X_FORWARDED_PROTO", "https"]


@pytest.mark.embedded
def test_loading_the_settings_creates_nothing(tmp_path: Path) -> None:
    var = tmp_path / "var"
    result = run_python(
        "import django; django.setup(); from django.conf import settings; print(settings.INSTALLED_APPS)",
        var,
        DJANGO_SECRET_KEY=secrets.token_urlsafe(48),
        JWT_SECRET=secrets.token_urlsafe(48),
    )

    assert result.returncode == 0, result.stderr
    assert not var.exists()
    assert "tests.probe" not in result.stdout  # the test-only context is the test settings' own


@pytest.mark.embedded
def test_the_embedded_broker_makes_its_folders_when_celery_is_first_used(tmp_path: Path) -> None:
    result = run_python(
        "import django; django.setup(); from ticketflow.celery import app; print(app.conf.broker_url)",
        tmp_path,
    )

    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "celery").iterdir()) == ["control", "processed", "queue"]
