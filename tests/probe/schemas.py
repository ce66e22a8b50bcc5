"""The probe's event type (test-only; not part of the product's catalogue)."""

from ticketflow.messaging.schemas import Payload, register

PROBE_TOPIC = "ticketflow.probe.recorded"


@register
class ProbeRecorded(Payload):
    topic = PROBE_TOPIC  # type: ignore[assignment]

    run: str
    seq: int
    poison: bool = False
    sleep_seconds: float = 0.0
    marker: str | None = None
