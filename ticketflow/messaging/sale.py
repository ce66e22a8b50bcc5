"""When an event sells tickets: the one rule every context applies to its copy of the event.

The catalog publishes an event's status and sale window in its snapshots
(``schemas.EventSnapshot``); bookings, inventory, the catalog's API and the booking pages
each keep or read those facts and ask this module whether a ticket can be bought at a given
moment, so they can never disagree about it. Pure: no database, no clock of its own.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum


class SaleState(StrEnum):
    """Where an event stands for a buyer at one moment, and so why it cannot be bought."""

    ON_SALE = "on_sale"
    CANCELLED = "cancelled"
    ENDED = "ended"
    """The event itself is over (at or past ``ends_at``)."""
    SOLD_OUT = "sold_out"
    """The organiser marked it sold out (seats counted out is the caller's business)."""
    DRAFT = "draft"
    """Not published yet."""
    NOT_STARTED = "not_started"
    """Published, but before ``sale_starts_at``."""
    CLOSED = "closed"
    """Published, but at or past ``sale_ends_at``."""


def sale_state(
    *,
    status: str,
    ends_at: datetime,
    sale_starts_at: datetime | None,
    sale_ends_at: datetime | None,
    at: datetime,
) -> SaleState:
    """The event's sale state at ``at``, from its catalog ``status`` and sale window.

    The window is half open: on sale from ``sale_starts_at`` (inclusive; ``None`` means as
    soon as published) until ``sale_ends_at`` (exclusive; ``None`` means until the event
    ends), and never at or after ``ends_at``. When several reasons apply, the first of
    cancelled, ended, sold out, draft, not started, closed wins. Every datetime must be
    timezone-aware.
    """
    if status == "cancelled":
        return SaleState.CANCELLED
    if ends_at <= at:
        return SaleState.ENDED
    if status == "sold_out":
        return SaleState.SOLD_OUT
    if status != "on_sale":
        return SaleState.DRAFT
    if sale_starts_at is not None and at < sale_starts_at:
        return SaleState.NOT_STARTED
    if sale_ends_at is not None and sale_ends_at <= at:
        return SaleState.CLOSED
    return SaleState.ON_SALE


def is_on_sale(
    *,
    status: str,
    ends_at: datetime,
    sale_starts_at: datetime | None,
    sale_ends_at: datetime | None,
    at: datetime,
) -> bool:
    """True when tickets of the event can be bought at ``at`` (see :func:`sale_state`)."""
    state = sale_state(
        status=status, ends_at=ends_at, sale_starts_at=sale_starts_at, sale_ends_at=sale_ends_at, at=at
    )
    return state is SaleState.ON_SALE
