"""Small value helpers every context uses the same way."""

from __future__ import annotations

import uuid


def is_uuid(value: object) -> bool:
    """True when ``value`` reads as a UUID (ids in URLs and bodies are checked before querying)."""
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def decimal_amount(cents: int) -> str:
    """Minor units as a decimal string for JSON: 4250 -> "42.50"."""
    return f"{cents // 100}.{cents % 100:02d}"
