"""The error codes the waiting room's API answers (``docs/api.md``, "Waiting room").

A closed queue is not an error (its ``status`` says ``closed`` with a ``reason``); a
booking without a valid admission token is the kernel's ``queue_required``.
"""

from __future__ import annotations

from enum import StrEnum


class WaitingRoomErrorCode(StrEnum):
    NOT_IN_QUEUE = "not_in_queue"
