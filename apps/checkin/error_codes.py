"""The error codes the check-in API answers (``docs/api.md``, "Check-in")."""

from __future__ import annotations

from enum import StrEnum


class CheckinErrorCode(StrEnum):
    UNKNOWN_EVENT = "unknown_event"
    """404: no ticket has been issued for this event yet, so the door does not know it."""
    NONCE_REUSED = "nonce_reused"
