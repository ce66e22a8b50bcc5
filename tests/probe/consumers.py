"""The probe's handlers: record each application, and misbehave on request.

``ticketflow.probe.recorded`` has a single-message handler only; ``ticketflow.probe.tallied``
has the same one plus a bulk handler, so tests see both paths through a batch.
"""

from __future__ import annotations

import time
from pathlib import Path

from tests.probe.models import ProbeEffect, ProbeSwitch
from tests.probe.schemas import PROBE_BULK_TOPIC, PROBE_TOPIC, ProbeRecorded
from ticketflow.messaging.envelope import Envelope
from ticketflow.messaging.handlers import handles, handles_many


def _misbehave(events: list[Envelope[ProbeRecorded]]) -> None:
    for event in events:
        if event.payload.marker:
            # Outside the transaction's reach: proves the handler started even if it is killed.
            with Path(event.payload.marker).open("a") as marker:
                marker.write(f"{event.id}\n")
    if delay := max(event.payload.sleep_seconds for event in events):
        time.sleep(delay)
    fixed = None
    for event in events:
        if event.payload.poison:
            fixed = ProbeSwitch.objects.filter(name="fixed", on=True).exists() if fixed is None else fixed
            if not fixed:
                payload = event.payload
                raise RuntimeError(f"probe {payload.run}/{event.aggregate_id}/{payload.seq} is poison")


@handles(PROBE_TOPIC)
@handles(PROBE_BULK_TOPIC)
def on_probe_recorded(event: Envelope[ProbeRecorded]) -> None:
    """Record the effect. A second delivery is absorbed by the inbox, so tests count exactly one."""
    _misbehave([event])
    ProbeEffect.objects.create(
        event_id=event.id, run=event.payload.run, aggregate_id=event.aggregate_id, seq=event.payload.seq
    )


@handles_many(PROBE_BULK_TOPIC)
def on_probe_tallied_many(events: list[Envelope[ProbeRecorded]]) -> None:
    """Record a run of effects in one statement, in the order given."""
    _misbehave(events)
    ProbeEffect.objects.bulk_create(
        ProbeEffect(
            event_id=event.id,
            run=event.payload.run,
            aggregate_id=event.aggregate_id,
            seq=event.payload.seq,
            applied_with=len(events),
        )
        for event in events
    )
