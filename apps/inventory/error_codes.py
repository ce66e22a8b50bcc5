"""The error codes the inventory API answers (the waiting list, ``docs/api.md``).

A hold that fails is not an API error: it is a ``seats.lock-failed`` event whose
``reason_code`` is the contract's ``LockFailure``.
"""

from __future__ import annotations

from enum import StrEnum

from ticketflow.messaging.codes import LockFailure


class InventoryErrorCode(StrEnum):
    NOT_ON_SALE = LockFailure.NOT_ON_SALE
    """One idea, one code: the same the bookings door and a failed hold answer."""
    NOT_SOLD_OUT = "not_sold_out"
    ALREADY_WAITING = "already_waiting"
