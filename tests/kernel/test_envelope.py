"""The envelope's wire format and its validation."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from ticketflow.messaging.envelope import Envelope, MalformedEvent, decode
from ticketflow.messaging.schemas import SeatsRelease
from ticketflow.messaging.topics import Topic

pytestmark = pytest.mark.embedded


def make_envelope() -> Envelope[SeatsRelease]:
    return Envelope(
        id=uuid.UUID("12345678-1234-5678-1234-567812345678"),
        type=Topic.SEATS_RELEASE,
        version=1,
        occurred_at=datetime(2026, 11, 21, 12, 0, tzinfo=UTC),
        aggregate_id="booking-1",
        trace="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        payload=SeatsRelease(
            booking_id="booking-1",
            event_id="event-1",
            hold_id="hold-1",
            seat_ids=["s1", "s2"],
            reason="expired",
        ),
    )


def test_an_envelope_survives_the_wire() -> None:
    envelope = make_envelope()

    assert decode(envelope.encode().encode()) == envelope


def test_the_wire_format_is_the_documented_one() -> None:
    assert json.loads(make_envelope().encode()) == {
        "id": "12345678-1234-5678-1234-567812345678",
        "type": "ticketflow.seats.release",
        "version": 1,
        "occurred_at": "2026-11-21T12:00:00+00:00",
        "aggregate_id": "booking-1",
        "trace": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "payload": {
            "booking_id": "booking-1",
            "event_id": "event-1",
            "hold_id": "hold-1",
            "seat_ids": ["s1", "s2"],
            "reason": "expired",
        },
    }


def test_unknown_payload_fields_are_ignored_for_forward_compatibility() -> None:
    body = json.loads(make_envelope().encode())
    body["payload"]["added_in_a_later_build"] = True

    assert decode(json.dumps(body)).payload == make_envelope().payload


@pytest.mark.parametrize(
    ("mutate", "complaint"),
    [
        (lambda body: "{not json", "not a JSON envelope"),
        (lambda body: json.dumps([1, 2]), "not a JSON object"),
        (lambda body: json.dumps({k: v for k, v in body.items() if k != "payload"}), "lacks ['payload']"),
        (lambda body: json.dumps({**body, "type": "ticketflow.unheard.of"}), "unknown event type"),
        (lambda body: json.dumps({**body, "version": 99}), "version 99"),
        (
            lambda body: json.dumps({**body, "payload": {"booking_id": "b"}}),
            "invalid ticketflow.seats.release",
        ),
        (lambda body: json.dumps({**body, "id": "not-a-uuid"}), "invalid ticketflow.seats.release"),
    ],
)
def test_a_message_that_is_not_a_valid_envelope_is_rejected(mutate, complaint: str) -> None:
    body = json.loads(make_envelope().encode())

    with pytest.raises(MalformedEvent, match=complaint.replace("[", r"\[").replace("]", r"\]")):
        decode(mutate(body))
