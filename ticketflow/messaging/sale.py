"""When an event sells tickets: the one rule every context applies to its copy of the event.

The catalog publishes an event's status and sale window in its snapshots
(``schemas.EventSnapshot``); bookings, inventory, the catalog's API and the booking pages
each keep or read those facts and ask this module whether a ticket can be bought at a given
moment, so they can never disagree about it. Pure: no database, no clock of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


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


class SaleTerms(Protocol):
    """What the rule reads of an event: a snapshot, a context's copy of it, a catalog event."""

    @property
    def status(self) -> str: ...
    @property
    def ends_at(self) -> datetime: ...
    @property
    def sale_starts_at(self) -> datetime | None: ...
    @property
    def sale_ends_at(self) -> datetime | None: ...


@dataclass(frozen=True, slots=True)
class SaleWindow:
    """:class:`SaleTerms` from loose values, for a caller that holds no event object."""

    status: str
    ends_at: datetime
    sale_starts_at: datetime | None = None
    sale_ends_at: datetime | None = None


def sale_state(terms: SaleTerms, *, at: datetime) -> SaleState:
    """Where the event ``terms`` describe stands at ``at``, from its catalog status and sale window.

    The window is half open: on sale from ``sale_starts_at`` (inclusive; ``None`` means as
    soon as published) until ``sale_ends_at`` (exclusive; ``None`` means until the event
    ends), and never at or after ``ends_at``. When several reasons apply, the first of
    cancelled, ended, sold out, draft, not started, closed wins. Every datetime must be
    timezone-aware.
    """
    if terms.status == "cancelled":
        return SaleState.CANCELLED
    if terms.ends_at <= at:
        return SaleState.ENDED
    if terms.status == "sold_out":
        return SaleState.SOLD_OUT
    if terms.status != "on_sale":
        return SaleState.DRAFT
    if terms.sale_starts_at is not None and at < terms.sale_starts_at:
        return SaleState.NOT_STARTED
    if terms.sale_ends_at is not None and terms.sale_ends_at <= at:
        return SaleState.CLOSED
    return SaleState.ON_SALE


def is_on_sale(terms: SaleTerms, *, at: datetime) -> bool:
    """True when tickets of the event ``terms`` describe can be bought at ``at`` (:func:`sale_state`)."""
    return sale_state(terms, at=at) is SaleState.ON_SALE
