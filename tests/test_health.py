"""GET /health reports each dependency, 200 when all answer and 503 naming what does not."""

from __future__ import annotations

import pytest
from django.test import Client

DEPENDENCIES = {"default_database", "documents_database", "cache", "event_transport"}


@pytest.mark.embedded
@pytest.mark.django_db(databases=["default", "documents"])
def test_health_is_up_when_every_dependency_answers(client: Client) -> None:
    response = client.get("/health")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "up"
    assert set(body["checks"]) == DEPENDENCIES
    assert all(check["status"] == "up" for check in body["checks"].values())


@pytest.mark.embedded
@pytest.mark.django_db(databases=["default", "documents"])
def test_health_names_the_dependency_that_is_down(client: Client, settings) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",  # the discard port: nothing answers
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
        }
    }

    response = client.get("/health")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["failing"] == ["cache"]
    assert body["checks"]["cache"]["status"] == "down"
    assert body["checks"]["default_database"]["status"] == "up"


@pytest.mark.services
@pytest.mark.django_db(databases=["default", "documents"])
def test_health_reports_the_real_backends(client: Client) -> None:
    checks = client.get("/health").json()["checks"]

    assert checks["default_database"]["backend"] == "postgresql"
    assert checks["documents_database"]["backend"] == "postgresql"
    assert checks["cache"]["backend"] == "RedisCache"
    assert checks["event_transport"]["backend"] == "kafka"


@pytest.mark.embedded_only
@pytest.mark.django_db(databases=["default", "documents"])
def test_health_reports_the_embedded_backends(client: Client) -> None:
    checks = client.get("/health").json()["checks"]

    assert checks["default_database"]["backend"] == "sqlite"
    assert checks["documents_database"]["backend"] == "sqlite"
    assert checks["cache"]["backend"] == "LocMemCache"
    assert checks["event_transport"]["backend"] == "inprocess"
