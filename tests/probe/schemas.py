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


PROBE_BULK_TOPIC = "ticketflow.probe.tallied"


@register
class ProbeTallied(ProbeRecorded):
    """The same fields on a topic the probe also handles in bulk (``@handles_many``)."""

    topic = PROBE_BULK_TOPIC  # type: ignore[assignment]
