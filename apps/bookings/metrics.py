"""The booking funnel in Prometheus: how many bookings reach each state, and how fast."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from apps.bookings.error_codes import BookingErrorCode

_entered = Counter("ticketflow_bookings_total", "Bookings that entered each state.", ["state"])
_turned_away = Counter(
    "ticketflow_bookings_turned_away_total",
    "Booking requests answered 409 at the door, with nothing written, by reason (the error code): "
    "a seat already claimed or sold, or a purchase limit the buyer reached.",
    ["reason"],
)
_timed_out = Counter(
    "ticketflow_bookings_timed_out_total",
    "Bookings the sweep ended FAILED because they stayed PENDING too long (a lost saga event).",
)
_partial_cancellations = Counter(
    "ticketflow_bookings_partial_cancellations_total",
    "Partial cancellations: some seats of a confirmed booking given back, the booking going on.",
)
_seats_cancelled = Counter(
    "ticketflow_bookings_seats_cancelled_total",
    "Seats given back by partial cancellations (a whole booking's cancellation is state CANCELLED).",
)
_saga = Histogram(
    "ticketflow_booking_saga_seconds",
    "Time from a booking's request to its outcome (confirmed, failed, expired, cancelled).",
    ["outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600),
)

# Every reason the door gives, so each series exists (at zero) before its first refusal.
TURNED_AWAY_REASONS = (
    BookingErrorCode.SEATS_UNAVAILABLE,
    BookingErrorCode.PURCHASE_LIMIT_REACHED,
    BookingErrorCode.TOO_MANY_UNPAID_BOOKINGS,
    BookingErrorCode.BOOKING_IN_PROGRESS,
)
for _reason in TURNED_AWAY_REASONS:
    _turned_away.labels(_reason)


def entered(state: str) -> None:
    _entered.labels(state).inc()


def finished(outcome: str, seconds: float) -> None:
    _saga.labels(outcome).observe(seconds)


def turned_away(reason: str) -> None:
    """Count one request refused at the door; ``reason`` is one of :data:`TURNED_AWAY_REASONS`."""
    _turned_away.labels(reason).inc()


def timed_out() -> None:
    _timed_out.inc()


def seats_cancelled(count: int) -> None:
    """Count one partial cancellation of ``count`` seats."""
    _partial_cancellations.inc()
    _seats_cancelled.inc(count)
