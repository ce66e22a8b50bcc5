"""GET /api/notifications/recent and GET /api/notifications/health."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import Settings
from rest_framework_simplejwt.tokens import AccessToken

from apps.notifications.models import NotificationKind, NotificationStatus
from apps.notifications.tests import factories
from apps.notifications.tests.conftest import MailServer, free_port, point_email_at

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(databases=["default", "documents"])]


def bearer(user: Any) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {AccessToken.for_user(user)}"}


@pytest.fixture
def ada() -> Any:
    return get_user_model().objects.create_user(email="ada@example.com", password="pw-1234567", name="Ada")


def test_recent_lists_only_the_callers_own_notifications_newest_first(client: Client, ada: Any) -> None:
    now = timezone.now()
    older = factories.notification(user_id=str(ada.id), created_at=now - timedelta(minutes=5))
    newer = factories.notification(
        user_id=str(ada.id),
        kind=NotificationKind.BOOKING_CONFIRMED,
        booking_id="b-42",
        subject="Your tickets for Rock & Roll Night (TF-7Q2K9M)",
        status=NotificationStatus.SENT,
        sent_at=now,
        created_at=now,
    )
    factories.notification(user_id="someone-else", created_at=now)

    response = client.get("/api/notifications/recent", **bearer(ada))

    assert response.status_code == 200
    assert response.json() == {
        "count": 2,
        "next": None,
        "previous": None,
        "results": [
            {
                "id": str(newer.id),
                "kind": "booking_confirmed",
                "subject": "Your tickets for Rock & Roll Night (TF-7Q2K9M)",
                "status": "sent",
                "booking_id": "b-42",
                "created_at": now.isoformat().replace("+00:00", "Z"),
                "sent_at": now.isoformat().replace("+00:00", "Z"),
            },
            {
                "id": str(older.id),
                "kind": "welcome",
                "subject": "Welcome to TicketFlow, Grace Hopper",
                "status": "pending",
                "booking_id": None,
                "created_at": (now - timedelta(minutes=5)).isoformat().replace("+00:00", "Z"),
                "sent_at": None,
            },
        ],
    }


def test_recent_pages_with_the_shared_shape(client: Client, ada: Any) -> None:
    now = timezone.now()
    rows = [
        factories.notification(user_id=str(ada.id), created_at=now - timedelta(minutes=i)) for i in range(3)
    ]

    first = client.get("/api/notifications/recent", {"page_size": 2}, **bearer(ada)).json()
    second = client.get("/api/notifications/recent", {"page_size": 2, "page": 2}, **bearer(ada)).json()

    assert (first["count"], first["previous"]) == (3, None)
    assert first["next"] == "http://testserver/api/notifications/recent?page=2&page_size=2"
    assert [item["id"] for item in first["results"]] == [str(rows[0].id), str(rows[1].id)]
    assert (second["next"], second["previous"]) == (
        None,
        "http://testserver/api/notifications/recent?page_size=2",
    )
    assert [item["id"] for item in second["results"]] == [str(rows[2].id)]


def test_recent_works_with_a_session_too(client: Client, ada: Any) -> None:
    factories.notification(user_id=str(ada.id))
    client.force_login(ada)

    response = client.get("/api/notifications/recent")

    assert response.status_code == 200
    assert response.json()["count"] == 1


def test_recent_renders_in_the_browsable_api(client: Client, ada: Any) -> None:
    client.force_login(ada)

    response = client.get("/api/notifications/recent", HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert "Notification Recent Api" in response.content.decode()


def test_recent_needs_a_signed_in_user(client: Client) -> None:
    response = client.get("/api/notifications/recent")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json() == {
        "error": {
            "code": "not_authenticated",
            "message": "Sign in to do this: send 'Authorization: Bearer <token>'.",
            "details": {},
        }
    }


def test_a_page_past_the_end_is_a_404_not_a_crash(client: Client, ada: Any) -> None:
    response = client.get("/api/notifications/recent", {"page": "9"}, **bearer(ada))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_page_that_is_not_a_number_is_a_400(client: Client, ada: Any) -> None:
    response = client.get("/api/notifications/recent", {"page": "nine"}, **bearer(ada))

    assert response.status_code == 400
    assert response.json()["error"]["details"]["fields"] == {"page": ["not a positive whole number"]}


def test_health_is_up_when_the_store_and_the_mail_server_answer(
    client: Client, mail_server: MailServer
) -> None:
    response = client.get("/api/notifications/health")

    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "up"
    assert {name: (check["status"], check["backend"]) for name, check in body["checks"].items()} == {
        "notification_store": ("up", connections["documents"].vendor),
        "smtp": ("up", f"smtp 127.0.0.1:{mail_server.port}"),
    }
    assert response["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"


def test_health_names_smtp_when_the_mail_server_is_down(client: Client, settings: Settings) -> None:
    point_email_at(settings, free_port())

    response = client.get("/api/notifications/health")

    body = response.json()
    assert response.status_code == 503
    assert (body["status"], body["failing"]) == ("down", ["smtp"])
    assert body["checks"]["smtp"]["status"] == "down"
    assert body["checks"]["smtp"]["error"].startswith("ConnectionRefusedError: ")
    assert body["checks"]["notification_store"]["status"] == "up"


def test_health_reports_the_file_backend_as_not_configured_and_up(client: Client, settings: Settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"

    response = client.get("/api/notifications/health", HTTP_AUTHORIZATION="Bearer not-a-token")

    body = response.json()
    assert response.status_code == 200
    assert body["checks"]["smtp"]["status"] == "up"
    assert body["checks"]["smtp"]["backend"] == "not configured (file backend)"
