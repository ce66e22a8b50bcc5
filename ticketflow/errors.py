"""One error hierarchy, rendered by one handler as one JSON shape.

Every failure a client can cause answers ``{"error": {"code", "message", "details"}}`` with a
4xx status and a message a person understands. Services raise ``ApplicationError``
subclasses; the DRF exception handler below and the project's 404/500 handlers render them.

A database that does not answer (down, restarting, out of connections, a lock wait that
timed out) is not a bug and not the client's fault: it is ``503 service_unavailable`` with
``Retry-After``, in the JSON shape for the API and as a plain 503 page for browsers.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import set_rollback

from ticketflow.error_codes import ErrorCode

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
"""What a 503 tells clients to wait: PostgreSQL restarts and fails over within seconds."""


class ApplicationError(Exception):
    """A failure the caller can understand and act on; ``code`` is stable for clients."""

    status_code = 400
    code: str = ErrorCode.INVALID
    """One of the ``ErrorCode`` enums (``ticketflow/error_codes.py``, each context's ``error_codes.py``)."""
    default_message = "The request could not be processed."

    def __init__(
        self, message: str | None = None, *, code: str | None = None, details: Mapping[str, Any] | None = None
    ) -> None:
        self.message = message or self.default_message
        if code:
            self.code = code
        self.details = dict(details or {})
        super().__init__(self.message)


class InvalidInput(ApplicationError):
    status_code = 400
    code: str = ErrorCode.INVALID
    default_message = "Some of the data sent is not valid."


class NotAuthenticated(ApplicationError):
    status_code = 401
    code: str = ErrorCode.NOT_AUTHENTICATED
    default_message = "Sign in to do this."


class Forbidden(ApplicationError):
    status_code = 403
    code: str = ErrorCode.FORBIDDEN
    default_message = "You are not allowed to do this."


class NotFound(ApplicationError):
    status_code = 404
    code: str = ErrorCode.NOT_FOUND
    default_message = "Nothing was found here."


class Conflict(ApplicationError):
    status_code = 409
    code: str = ErrorCode.CONFLICT
    default_message = "This clashes with the current state; reload and try again."


class Busy(ApplicationError):
    status_code = 503
    code: str = ErrorCode.BUSY
    default_message = "We are very busy right now; please try again in a moment."


class ServiceUnavailable(ApplicationError):
    status_code = 503
    code: str = ErrorCode.SERVICE_UNAVAILABLE
    default_message = "We cannot reach our database right now. Please try again in a few seconds."


def is_database_unavailable(error: BaseException | None) -> bool:
    """Whether ``error`` says a database did not answer, rather than that the code is wrong.

    Django raises ``OperationalError`` for a refused or dropped connection, an exhausted
    pool, a server shutting down, a lock or statement timeout, a deadlock, and SQLite's
    "database is locked"; ``InterfaceError`` for a connection already closed under it.
    """
    return isinstance(error, OperationalError | InterfaceError)


def error_body(code: str, message: str, details: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The one JSON error shape."""
    return {"error": {"code": code, "message": message, "details": dict(details or {})}}


_DRF_CODES: dict[type[drf.APIException], tuple[str, str]] = {
    drf.ParseError: (ErrorCode.MALFORMED_REQUEST, "The request body is not valid JSON."),
    drf.NotAuthenticated: (
        ErrorCode.NOT_AUTHENTICATED,
        "Sign in to do this: send 'Authorization: Bearer <token>'.",
    ),
    drf.AuthenticationFailed: (ErrorCode.AUTHENTICATION_FAILED, "The credentials sent are not valid."),
    drf.PermissionDenied: (ErrorCode.FORBIDDEN, "You are not allowed to do this."),
    drf.NotFound: (ErrorCode.NOT_FOUND, "Nothing was found here."),
    drf.MethodNotAllowed: (ErrorCode.METHOD_NOT_ALLOWED, "This method is not allowed here."),
    drf.NotAcceptable: (ErrorCode.NOT_ACCEPTABLE, "The requested response format is not available."),
    drf.UnsupportedMediaType: (
        ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        "Send the request body as application/json.",
    ),
    drf.Throttled: (ErrorCode.THROTTLED, "Too many requests; slow down and try again shortly."),
}


def _field_errors(detail: Any) -> Any:
    """Flatten DRF's ErrorDetail structures into plain strings, keeping the field nesting."""
    if isinstance(detail, Mapping):
        return {str(key): _field_errors(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_field_errors(item) for item in detail]
    return str(detail)


def _render_drf(exc: drf.APIException) -> tuple[int, dict[str, Any]]:
    if isinstance(exc, drf.ValidationError):
        fields = _field_errors(exc.detail)
        if isinstance(fields, list):
            fields = {"non_field_errors": fields}
        return exc.status_code, error_body(
            ErrorCode.INVALID, "Some of the data sent is not valid.", {"fields": fields}
        )
    for exc_type, (code, message) in _DRF_CODES.items():
        if isinstance(exc, exc_type):
            detail = str(exc.detail) if isinstance(exc.detail, str) else message
            if exc_type in (drf.ParseError, drf.AuthenticationFailed) and detail != message:
                return exc.status_code, error_body(code, message, {"reason": detail})
            return exc.status_code, error_body(code, message)
    return exc.status_code, error_body(ErrorCode.ERROR, str(exc.detail))


def exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response | None:
    """DRF's exception handler: every known failure becomes the one error shape.

    Anything unknown returns ``None`` so Django logs it and answers 500: a bug to fix, never
    something a client's input should reach.
    """
    if isinstance(exc, ApplicationError):
        status, body = exc.status_code, error_body(exc.code, exc.message, exc.details)
    elif isinstance(exc, Http404):
        status, body = 404, error_body(ErrorCode.NOT_FOUND, "Nothing was found here.")
    elif isinstance(exc, DjangoPermissionDenied):
        status, body = 403, error_body(ErrorCode.FORBIDDEN, "You are not allowed to do this.")
    elif isinstance(exc, DjangoValidationError):
        details: dict[str, Any] = (
            {"fields": exc.message_dict} if hasattr(exc, "error_dict") else {"messages": exc.messages}
        )
        status, body = 400, error_body(ErrorCode.INVALID, "Some of the data sent is not valid.", details)
    elif isinstance(exc, drf.APIException):
        status, body = _render_drf(exc)
    elif is_database_unavailable(exc):
        logger.warning("answering 503: the database did not answer: %s", exc)
        unavailable = ServiceUnavailable()
        status, body = unavailable.status_code, error_body(unavailable.code, unavailable.message)
    else:
        return None
    set_rollback()
    headers = {}
    if status == 503:
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    if isinstance(exc, drf.APIException):
        # Only some APIException subclasses carry these (NotAuthenticated, Throttled).
        if auth_header := getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = auth_header
        if wait := getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(wait))
    if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed | NotAuthenticated):
        headers.setdefault("WWW-Authenticate", 'Bearer realm="api"')
    return Response(body, status=status, headers=headers)


def wants_json(request: HttpRequest) -> bool:
    """API paths and JSON clients get JSON errors; browsers on pages get the HTML error page."""
    return request.path.startswith(
        ("/api/", "/health", "/metrics")
    ) or "application/json" in request.headers.get("Accept", "")


def json_error_response(status: int, code: str, message: str) -> HttpResponse:
    return JsonResponse(error_body(code, message), status=status)


def database_unavailable_response(request: HttpRequest) -> HttpResponse | None:
    """The 503 for the exception being handled if a database did not answer, else ``None``.

    Called by the project's 500 handler, so it covers failures anywhere in the request
    (a view, a middleware, the session save). The page is rendered without a request
    context: the context processors would ask the database that just failed.
    """
    error = sys.exc_info()[1]
    if not is_database_unavailable(error):
        return None
    unavailable = ServiceUnavailable()
    if wants_json(request):
        response: HttpResponse = JsonResponse(error_body(unavailable.code, unavailable.message), status=503)
    else:
        response = HttpResponse(loader.get_template("503.html").render(), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
