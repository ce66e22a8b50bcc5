"""OpenTelemetry wiring: one trace follows a booking from the HTTP request to the last email.

The web request's span is the root. :func:`~ticketflow.messaging.outbox.emit` stores the
current ``traceparent`` in the envelope; every consumer opens its handler span as a child
of it, and events that handler emits carry the handler's span onwards. Spans are exported
over OTLP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set; otherwise they only give logs their
trace ids.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.conf import settings
from opentelemetry import context, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_propagator = TraceContextTextMapPropagator()
_configured = False


def configure() -> None:
    """Install the tracer provider (once per process) and instrument Django's request cycle."""
    global _configured
    if _configured:
        return
    _configured = True
    provider = TracerProvider(resource=Resource.create({"service.name": settings.OTEL_SERVICE_NAME}))
    if settings.OTEL_EXPORTER_OTLP_ENDPOINT:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)

    from opentelemetry.instrumentation.django import DjangoInstrumentor

    instrumentor = DjangoInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(excluded_urls="health,metrics,static")
        # The instrumentor put its middleware first; this one must run before it.
        settings.MIDDLEWARE = ["ticketflow.observability.WsgiPathMiddleware", *settings.MIDDLEWARE]


def tracer() -> trace.Tracer:
    return trace.get_tracer("ticketflow")


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the current span, if any."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get("traceparent")


@contextlib.contextmanager
def continue_trace(traceparent: str | None, name: str, **attributes: str) -> Iterator[Span]:
    """Open a consumer span whose parent is the span that emitted the event."""
    parent = _propagator.extract({"traceparent": traceparent}) if traceparent else context.Context()
    with tracer().start_as_current_span(
        name, context=parent, kind=SpanKind.CONSUMER, attributes=attributes
    ) as span:
        yield span
