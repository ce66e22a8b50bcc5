"""Emit probe events the way a real service emits its events."""

from __future__ import annotations

from collections.abc import Iterable

from tests.probe.schemas import ProbeRecorded, ProbeTallied
from ticketflow import db
from ticketflow.messaging.outbox import emit


def probe_emit(
    run: str,
    items: Iterable[tuple[str, int]],
    *,
    using: str = "default",
    poison: bool = False,
    sleep_seconds: float = 0.0,
    marker: str | None = None,
    bulk: bool = False,
) -> list[str]:
    """Emit one probe event per ``(aggregate_id, seq)`` in a single transaction; returns event ids.

    ``bulk`` emits them on the topic the probe also handles with ``@handles_many``.
    """
    schema = ProbeTallied if bulk else ProbeRecorded
    ids = []
    with db.atomic(using):
        for aggregate_id, seq in items:
            payload = schema(run=run, seq=seq, poison=poison, sleep_seconds=sleep_seconds, marker=marker)
            ids.append(str(emit(payload, aggregate_id=aggregate_id, using=using).id))
    return ids
