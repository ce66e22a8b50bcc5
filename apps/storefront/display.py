"""How the booking pages say things: money, availability badges, and saga outcomes in plain words."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from django.utils import timezone

from ticketflow.messaging.codes import BookingFailureCode
from ticketflow.messaging.failure_reasons import FAILURE_REASONS, GENERIC_FAILURE, failure_reason
from ticketflow.messaging.refund_policy import parse_policy
from ticketflow.messaging.sale import SaleState, SaleTerms, sale_state

CURRENCY_SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}

# "Few left" when fewer than this many seats, or this share of the house, remain.
FEW_LEFT_SEATS = 20
FEW_LEFT_SHARE = Decimal("0.10")


def money(cents: int | None, currency: str, *, whole: bool = False) -> str:
    """``4200, "GBP"`` -> ``£42.00`` (``whole``: ``£42`` when there are no pence)."""
    amount = Decimal(cents or 0) / 100
    text = f"{amount:,.0f}" if whole and (cents or 0) % 100 == 0 else f"{amount:,.2f}"
    symbol = CURRENCY_SYMBOLS.get(currency.upper())
    return f"{symbol}{text}" if symbol else f"{text} {currency.upper()}"


def venue_zone(name: str | None) -> tzinfo:
    """The venue's time zone (events are shown in local time), UTC when unknown."""
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def local(moment: datetime, zone: tzinfo) -> datetime:
    return timezone.localtime(moment, zone)


@dataclass(frozen=True)
class Badge:
    """An event's availability as the listing shows it."""

    key: str
    """``on_sale``, ``few_left``, ``sold_out``, ``soon``, ``closed``, ``cancelled`` or ``ended``."""
    label: str
    available: int
    capacity: int

    @property
    def can_buy(self) -> bool:
        return self.key in ("on_sale", "few_left")


def availability_badge(terms: SaleTerms, *, counts: dict[str, int], now: datetime | None = None) -> Badge:
    """On sale / few left (< 10% or < 20 seats) / sold out, or why the event cannot be bought."""
    now = now or timezone.now()
    available = counts.get("AVAILABLE", 0)
    capacity = sum(counts.values())

    def badge(key: str, label: str) -> Badge:
        return Badge(key=key, label=label, available=available, capacity=capacity)

    state = sale_state(terms, at=now)
    if state is SaleState.CANCELLED:
        return badge("cancelled", "Cancelled")
    if state is SaleState.ENDED:
        return badge("ended", "Ended")
    if state is SaleState.SOLD_OUT or (capacity and not available):
        return badge("sold_out", "Sold out")
    if not capacity or state in (SaleState.DRAFT, SaleState.NOT_STARTED):
        return badge("soon", "On sale soon")
    if state is SaleState.CLOSED:
        return badge("closed", "Sales closed")
    if available < FEW_LEFT_SEATS or available < capacity * FEW_LEFT_SHARE:
        return badge("few_left", f"Only {available} left")
    return badge("on_sale", "On sale")


def price_range(prices: dict[str, Any], currency: str) -> str:
    """``from £18`` for an event's category prices ("" when it has none)."""
    cents = [value for value in prices.values() if isinstance(value, int)]
    if not cents:
        return ""
    low = min(cents)
    return "Free" if low == 0 and max(cents) == 0 else f"from {money(low, currency, whole=True)}"


@dataclass(frozen=True)
class Outcome:
    """A finished (or failed) booking explained to its buyer."""

    title: str
    detail: str
    advice: str
    retry: bool


def failure_outcome(*, status: str, code: str, reason: str) -> Outcome:
    """Title, detail and what to do next for a FAILED or EXPIRED booking."""
    explained = failure_reason(code)
    if explained is GENERIC_FAILURE and status == "EXPIRED":
        explained = FAILURE_REASONS[BookingFailureCode.HOLD_EXPIRED]
    return Outcome(title=explained.title, detail=reason, advice=explained.advice, retry=explained.retry)


def refund_terms(*, policy: object, starts_at: datetime, zone: tzinfo) -> list[str]:
    """An event's refund policy in the buyer's words, one line per step, in local time.

    ``policy`` is the stored list of ``{hours_before, percent}`` steps (empty: a full refund
    until the start), read by the contract's parser so the page says what bookings refunds.
    """
    steps = parse_policy(policy)
    if not steps:
        return ["Full refund if you cancel before the event starts."]
    lines = []
    for step in steps:
        deadline = local(starts_at - timedelta(hours=step.hours_before), zone)
        share = "Full refund" if step.percent == 100 else f"{step.percent}% refund"
        if step.percent == 0:
            share = "No refund"
        lines.append(f"{share} if you cancel by {deadline:%-d %b %Y, %H:%M}.")
    if steps[-1].percent:
        last = local(starts_at - timedelta(hours=steps[-1].hours_before), zone)
        lines.append(f"No refund if you cancel after {last:%-d %b %Y, %H:%M}.")
    return lines
