"""The error codes any part of the API may answer, whichever context handles the request.

Every failure a client can cause carries a stable ``code`` (``ticketflow/errors.py``
renders it). The codes here belong to no one context: the error hierarchy's defaults,
what the DRF exception handler and the project's error views answer, and the refusals of
kernel modules several contexts call (the waiting room's admission tokens, waiting-list
offers). Each context keeps its own codes in its ``error_codes.py``; codes that travel in
events live beside the contract, in ``ticketflow/messaging/codes.py``. ``docs/api.md``
lists every one of them (``tests/test_error_codes.py`` keeps the two in step).

The codes are ``StrEnum`` members rather than Django ``TextChoices``: they are wire values,
never a model field's choices, and the kernel's event contract (pydantic, no Django
models) uses the same kind. A member *is* its string, so it renders into JSON, compares
with a stored code and formats as the plain value.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Codes shared by every context."""

    INVALID = "invalid"
    """Some of the data sent is not valid (field errors in ``details.fields``)."""
    MALFORMED_REQUEST = "malformed_request"
    BAD_REQUEST = "bad_request"
    NOT_AUTHENTICATED = "not_authenticated"
    AUTHENTICATION_FAILED = "authentication_failed"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    NOT_ACCEPTABLE = "not_acceptable"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    CONFLICT = "conflict"
    THROTTLED = "throttled"
    BUSY = "busy"
    """A lock wait or a dependency gave up in time: try again in a moment."""
    SERVICE_UNAVAILABLE = "service_unavailable"
    SERVER_ERROR = "server_error"
    ERROR = "error"
    """Any other refusal of the API framework, with its own message."""
    QUEUE_REQUIRED = "queue_required"
    """The event's waiting room is on and the booking has no valid admission token."""
    INVALID_OFFER = "invalid_offer"
    OFFER_NOT_YOURS = "offer_not_yours"
    OFFER_EXPIRED = "offer_expired"
