"""Structured logs that carry trace ids, and the request context that feeds them.

The trace and span ids come from OpenTelemetry's current span, so a log line written in the
web process, the relay or a consumer can be joined to the trace of the booking it served.
Other identifiers (``booking_id``, ``event_type``...) are bound for the duration of a unit of
work with :func:`log_context`.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from django.http import HttpRequest, HttpResponse
from opentelemetry import trace

_log_fields: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "log_fields", default=None
)


@contextlib.contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add ``fields`` to every log record written inside the block (nested blocks merge)."""
    token = _log_fields.set({**(_log_fields.get() or {}), **fields})
    try:
        yield
    finally:
        _log_fields.reset(token)


def current_trace_id() -> str | None:
    """The current OpenTelemetry trace id as 32 hex digits, or None outside any trace."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


class LogContextFilter(logging.Filter):
    """Stamp each record with the trace/span ids and whatever :func:`log_context` bound."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        record.trace_id = format(context.trace_id, "032x") if context.is_valid else None
        record.span_id = format(context.span_id, "016x") if context.is_valid else None
        for key, value in (_log_fields.get() or {}).items():
            setattr(record, key, value)
        return True


class RequestContextMiddleware:
    """Give every request an id (``X-Request-ID``, kept if the client sent a sane one)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        sent = request.headers.get("X-Request-ID", "")
        request_id = sent if 0 < len(sent) <= 64 and sent.replace("-", "").isalnum() else uuid.uuid4().hex
        with log_context(request_id=request_id):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        trace_id = current_trace_id()
        if trace_id:
            response["X-Trace-ID"] = trace_id
        return response


class WsgiPathMiddleware:
    """Keep ``PATH_INFO`` a PEP 3333 native string for the tracing middleware behind it.

    Real WSGI servers (gunicorn) pass the path as Latin-1-decoded bytes. Django's test
    client and development server can pass a path with characters beyond Latin-1, which the
    OpenTelemetry middleware cannot encode into the span's URL (a 500 for any such URL).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        environ = getattr(request, "environ", None)  # ASGI requests have none
        if environ is not None:
            path = environ.get("PATH_INFO", "")
            try:
                path.encode("latin-1")
            except UnicodeEncodeError:
                environ["PATH_INFO"] = path.encode("utf-8").decode("latin-1")
        return self.get_response(request)
