"""The waiting room's knobs on the event: PATCH any subset, validated, announced; pause in the admin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from apps.catalog.models import Event
from apps.catalog.tests.factories import UserFactory, announced_updates, published
from tests.support.api import Api

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(databases=["default", "documents"])]


def test_staff_patch_only_the_queue_knobs_and_the_change_is_announced(api: Api, staff_token: str) -> None:
    event = published(sale_starts_at=timezone.now() + timedelta(hours=1))
    opens = (event.sale_starts_at - timedelta(minutes=30)).isoformat().replace("+00:00", "Z")

    response = api.request(
        "PATCH",
        f"/api/events/{event.pk}",
        {"queue_enabled": True, "queue_opens_at": opens, "admit_per_minute": 250, "max_active_shoppers": 80},
        token=staff_token,
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["queue_enabled"], body["admit_per_minute"], body["max_active_shoppers"]) == (True, 250, 80)
    assert (body["shopping_window_minutes"], body["queue_paused"], body["name"]) == (10, False, event.name)
    [announced] = announced_updates()
    assert (announced["queue_enabled"], announced["admit_per_minute"], announced["queue_opens_at"]) == (
        True,
        250,
        opens,
    )


def test_pausing_is_a_patch_too(api: Api, staff_token: str) -> None:
    event = published(queue_enabled=True)

    paused = api.request("PATCH", f"/api/events/{event.pk}", {"queue_paused": True}, token=staff_token)
    resumed = api.request("PATCH", f"/api/events/{event.pk}", {"queue_paused": False}, token=staff_token)

    assert (paused.json()["queue_paused"], resumed.json()["queue_paused"]) == (True, False)
    assert [u["queue_paused"] for u in announced_updates()] == [True, False]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"admit_per_minute": 0}, "admit_per_minute"),
        ({"max_active_shoppers": -1}, "max_active_shoppers"),
        ({"shopping_window_minutes": 121}, "shopping_window_minutes"),
        ({"queue_enabled": "maybe"}, "queue_enabled"),
        ({"queue_opens_at": "2026-01-01T00:00:00Z"}, "queue_opens_at"),  # no sale start to open before
        ({"name": ""}, "name"),
    ],
)
def test_a_bad_patch_is_a_400_naming_the_field(api: Api, staff_token: str, change: dict, field: str) -> None:
    event = published()

    response = api.request("PATCH", f"/api/events/{event.pk}", change, token=staff_token)

    assert response.status_code == 400
    assert field in response.json()["error"]["details"]["fields"]
    assert Event.objects.get(pk=event.pk).version == event.version


def test_a_pre_queue_must_open_before_the_sale(api: Api, staff_token: str) -> None:
    event = published(sale_starts_at=timezone.now() + timedelta(hours=1))
    late = (event.sale_starts_at + timedelta(minutes=1)).isoformat()

    response = api.request("PATCH", f"/api/events/{event.pk}", {"queue_opens_at": late}, token=staff_token)

    assert response.json()["error"]["details"]["fields"] == {
        "queue_opens_at": ["The pre-queue must open before the sale starts."]
    }


def test_only_staff_patch_and_an_empty_patch_is_refused(
    api: Api, staff_token: str, customer_token: str
) -> None:
    event = published()

    assert (
        api.request(
            "PATCH", f"/api/events/{event.pk}", {"queue_paused": True}, token=customer_token
        ).status_code
        == 403
    )
    assert api.request("PATCH", f"/api/events/{event.pk}", {}, token=staff_token).status_code == 400
    assert api.request("PATCH", f"/api/events/{event.pk}", [1], token=staff_token).status_code == 400


def test_the_admin_pauses_and_resumes_the_waiting_room() -> None:
    event = published(queue_enabled=True)
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    for action, paused in (("pause_queue", True), ("resume_queue", False)):
        response = client.post(
            "/admin/catalog/event/", {"action": action, "_selected_action": [str(event.pk)]}, follow=True
        )
        assert response.status_code == 200
        assert Event.objects.get(pk=event.pk).queue_paused is paused
    assert [u["queue_paused"] for u in announced_updates()] == [True, False]
