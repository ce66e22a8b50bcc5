"""The event envelope: what travels through the outbox, Kafka and the inbox.

``{"id", "type", "version", "occurred_at", "aggregate_id", "trace", "payload"}`` serialised
as compact UTF-8 JSON. ``type`` is the topic name, ``aggregate_id`` the Kafka key (all
events of one booking land on one partition, in order), ``trace`` a W3C ``traceparent``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from ticketflow.messaging.schemas import Payload, schema_for

P = TypeVar("P", bound=Payload)


class MalformedEvent(ValueError):
    """A message that can never be handled: not JSON, unknown type, or an invalid payload."""


@dataclass(frozen=True, slots=True)
class Envelope(Generic[P]):
    """One event: metadata plus its validated payload."""

    id: uuid.UUID
    type: str
    version: int
    occurred_at: datetime
    aggregate_id: str
    trace: str | None
    payload: P

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "type": self.type,
            "version": self.version,
            "occurred_at": self.occurred_at.isoformat(),
            "aggregate_id": self.aggregate_id,
            "trace": self.trace,
            "payload": self.payload.model_dump(mode="json"),
        }

    def encode(self) -> str:
        """Compact JSON text (the outbox stores it; the relay publishes its UTF-8 bytes)."""
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)


def decode(raw: bytes | str) -> Envelope[Payload]:
    """Parse and validate a serialised envelope; :class:`MalformedEvent` if it is not one."""
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MalformedEvent(f"not a JSON envelope: {error}") from None
    if not isinstance(data, dict):
        raise MalformedEvent("the envelope is not a JSON object")
    missing = {"id", "type", "version", "occurred_at", "aggregate_id", "payload"} - data.keys()
    if missing:
        raise MalformedEvent(f"the envelope lacks {sorted(missing)}")
    try:
        schema = schema_for(data["type"])
    except (KeyError, TypeError):
        raise MalformedEvent(f"unknown event type {data['type']!r}") from None
    version = data["version"]
    if not isinstance(version, int) or version < 1 or version > schema.version:
        raise MalformedEvent(f"{data['type']} version {version!r} is not one this build understands")
    try:
        payload = schema.model_validate(data["payload"])
        event_id = uuid.UUID(str(data["id"]))
        occurred_at = datetime.fromisoformat(str(data["occurred_at"]))
    except (ValidationError, ValueError) as error:
        raise MalformedEvent(f"invalid {data['type']} event: {error}") from None
    trace = data.get("trace")
    return Envelope(
        id=event_id,
        type=data["type"],
        version=version,
        occurred_at=occurred_at,
        aggregate_id=str(data["aggregate_id"]),
        trace=trace if isinstance(trace, str) else None,
        payload=payload,
    )
