"""The probe's handler: records each application, and misbehaves on request."""

from __future__ import annotations

import time
from pathlib import Path

from tests.probe.models import ProbeEffect, ProbeSwitch
from tests.probe.schemas import PROBE_TOPIC, ProbeRecorded
from ticketflow.messaging.envelope import Envelope
from ticketflow.messaging.handlers import handles


@handles(PROBE_TOPIC)
def on_probe_recorded(event: Envelope[ProbeRecorded]) -> None:
    """Record the effect. A second delivery is absorbed by the inbox, so tests count exactly one."""
    payload = event.payload
    if payload.marker:
        # Outside the transaction's reach: proves the handler started even if it is killed.
        with Path(payload.marker).open("a") as marker:
            marker.write(f"{event.id}\n")
    if payload.sleep_seconds:
        time.sleep(payload.sleep_seconds)
    if payload.poison and not ProbeSwitch.objects.filter(name="fixed", on=True).exists():
        raise RuntimeError(f"probe {payload.run}/{event.aggregate_id}/{payload.seq} is poison")
    ProbeEffect.objects.create(
        event_id=event.id, run=payload.run, aggregate_id=event.aggregate_id, seq=payload.seq
    )
