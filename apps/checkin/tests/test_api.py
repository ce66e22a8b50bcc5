"""The check-in API over HTTP: who may scan, the answers' shape, snapshots, counts, errors."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient

from apps.checkin import signing
from apps.checkin.tests.conftest import book, deliver, nonce

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(databases=["default", "documents"])]


def test_redeem_answers_with_the_ticket_and_a_retry_is_marked_replayed(door: APIClient) -> None:
    booking = book(seats=1)
    [ticket] = booking.tickets()
    body = {"secret": ticket.secret, "event_id": booking.event_id, "nonce": "door-7:000001"}

    first = door.post("/api/checkin/redeem", body, format="json")
    again = door.post("/api/checkin/redeem", body, format="json")

    assert first.status_code == 200
    assert first.json()["result"] == "ok"
    assert first.json()["ticket"] == {
        "id": str(ticket.pk),
        "event_id": booking.event_id,
        "booking_reference": "TF-7Q2K-9MRX",
        "seat_id": ticket.seat_id,
        "seat_label": "Stalls, row A, seat 1",
        "status": "checked_in",
        "first_scan_at": first.json()["first_scan_at"],
    }
    assert again.json() == {**first.json(), "replayed": True}
    assert again.headers["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"nonce": "short"}, "nonce"),
        ({"force": True}, "scanned_at"),
        ({"type": "sideways"}, "type"),
        ({"scanned_at": "2999-01-01T00:00:00Z", "force": True}, "scanned_at"),
        ({"event_id": "not-a-uuid"}, "event_id"),
    ],
)
def test_bad_scans_are_refused_in_the_one_error_shape(door: APIClient, body: dict, field: str) -> None:
    booking = book(seats=1)
    valid = {"secret": booking.tickets()[0].secret, "event_id": booking.event_id, "nonce": nonce()}

    response = door.post("/api/checkin/redeem", valid | body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert field in response.json()["error"]["details"]["fields"]


def test_an_event_without_tickets_is_404(door: APIClient) -> None:
    response = door.post(
        "/api/checkin/redeem",
        {"secret": "x" * 130, "event_id": str(uuid.uuid4()), "nonce": nonce()},
        format="json",
    )

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_event"


def test_only_door_staff_may_scan(db: None) -> None:
    booking = book(seats=1)
    body = {"secret": booking.tickets()[0].secret, "event_id": booking.event_id, "nonce": nonce()}
    buyer = APIClient()
    buyer.force_authenticate(
        get_user_model().objects.create_user(email="buyer@example.com", password="x", name="B")
    )

    anonymous = APIClient().post("/api/checkin/redeem", body, format="json")
    not_staff = buyer.post("/api/checkin/redeem", body, format="json")
    snapshot = buyer.get(f"/api/checkin/events/{booking.event_id}/snapshot")

    assert (anonymous.status_code, anonymous.json()["error"]["code"]) == (401, "not_authenticated")
    assert (not_staff.status_code, not_staff.json()["error"]["code"]) == (403, "forbidden")
    assert snapshot.status_code == 403


def test_the_snapshot_is_signed_lists_fingerprints_only_and_gives_deltas(door: APIClient) -> None:
    booking = book(seats=3)
    used, revoked_later, valid = booking.tickets()
    door.post(
        "/api/checkin/redeem",
        {"secret": used.secret, "event_id": booking.event_id, "nonce": nonce()},
        format="json",
    )

    full = door.get(f"/api/checkin/events/{booking.event_id}/snapshot").json()
    deliver(booking.refunded())
    delta = door.get(
        f"/api/checkin/events/{booking.event_id}/snapshot", {"since": full["generated_at"]}
    ).json()

    body = {key: value for key, value in full.items() if key != "signature"}
    assert signing.verify(
        public_key=full["public_key"],
        data=signing.canonical_json(body),
        signature=signing.unb64url(full["signature"]),
    )
    assert (full["checked_in"], full["revoked"]) == ([used.fingerprint], [])
    assert sorted(full["valid"]) == sorted([revoked_later.fingerprint, valid.fingerprint])
    assert (full["sold"], full["checked_in_count"]) == (3, 1)
    assert all(t.secret not in str(full) and "ada@example.com" not in str(full) for t in booking.tickets())
    assert sorted(delta["revoked"]) == sorted(t.fingerprint for t in booking.tickets())
    assert (delta["valid"], delta["checked_in"], delta["sold"]) == ([], [], 0)


def test_a_tampered_snapshot_fails_its_signature(door: APIClient) -> None:
    booking = book(seats=1)
    snapshot = door.get(f"/api/checkin/events/{booking.event_id}/snapshot").json()

    body = {key: value for key, value in snapshot.items() if key != "signature"} | {"revoked": []}
    body["valid"] = [*body["valid"], "0" * 32]

    assert not signing.verify(
        public_key=snapshot["public_key"],
        data=signing.canonical_json(body),
        signature=signing.unb64url(snapshot["signature"]),
    )


def test_a_malformed_since_is_400(door: APIClient) -> None:
    booking = book(seats=1)

    response = door.get(f"/api/checkin/events/{booking.event_id}/snapshot", {"since": "yesterday"})

    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"fields": {"since": ["invalid"]}}


def test_a_batch_answers_in_the_order_sent_and_refuses_more_than_500(door: APIClient) -> None:
    booking = book(seats=2)
    one, two = booking.tickets()
    now = timezone.now()
    scans = [
        {"secret": two.secret, "nonce": "device-1:2", "scanned_at": now.isoformat()},
        {"secret": one.secret, "nonce": "device-1:1", "scanned_at": (now - timedelta(minutes=1)).isoformat()},
        {"secret": one.secret, "nonce": "device-1:3", "scanned_at": now.isoformat()},
    ]

    response = door.post(f"/api/checkin/events/{booking.event_id}/batch", {"scans": scans}, format="json")
    too_many = door.post(
        f"/api/checkin/events/{booking.event_id}/batch",
        {"scans": [{**scans[0], "nonce": f"device-2:{n:04d}"} for n in range(501)]},
        format="json",
    )
    counts = door.get(f"/api/checkin/events/{booking.event_id}/counts").json()

    assert [(r["nonce"], r["result"]) for r in response.json()["results"]] == [
        ("device-1:2", "ok"),
        ("device-1:1", "ok"),
        ("device-1:3", "already_redeemed"),
    ]
    assert too_many.status_code == 400
    assert counts == {"event_id": booking.event_id, "sold": 2, "checked_in": 2, "revoked": 0}


def test_the_public_key_is_public(db: None) -> None:
    booking = book(seats=1)

    response = APIClient().get(f"/api/checkin/events/{booking.event_id}/key")

    assert response.status_code == 200
    assert response.json()["algorithm"] == "Ed25519"
    assert len(signing.unb64url(response.json()["public_key"])) == 32
