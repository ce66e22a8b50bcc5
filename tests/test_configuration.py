"""Settings come from the environment, with embedded defaults and strict production checks."""

from __future__ import annotations

import json
import os
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
    "jwt_hours": settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds() / 3600,
    "log_level": settings.LOGGING["root"]["level"],
}))
"""


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
        TICKETFLOW_ENV="production",
        DJANGO_SECRET_KEY="s" * 50,
        JWT_SECRET="j" * 40,
        POSTGRES_HOST="db",
        POSTGRES_PASSWORD="pw",
        MONGO_HOST="mongo",
        MONGO_INITDB_ROOT_PASSWORD="pw",
        REDIS_URL="redis://cache:6379/0",
        KAFKA_BOOTSTRAP_SERVERS="kafka:9092",
        SMTP_HOST="mail",
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
