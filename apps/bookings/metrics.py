"""The booking funnel in Prometheus: how many bookings reach each state, and how fast."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

_entered = Counter("ticketflow_bookings_total", "Bookings that entered each state.", ["state"])
_turned_away = Counter(
    "ticketflow_bookings_turned_away_total",
    "Booking requests answered 409 at the door because a seat was already claimed or sold.",
)
_timed_out = Counter(
    "ticketflow_bookings_timed_out_total",
    "Bookings the sweep ended FAILED because they stayed PENDING too long (a lost saga event).",
)
_saga = Histogram(
    "ticketflow_booking_saga_seconds",
    "Time from a booking's request to its outcome (confirmed, failed, expired, cancelled).",
    ["outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600),
)


def entered(state: str) -> None:
    _entered.labels(state).inc()


def finished(outcome: str, seconds: float) -> None:
    _saga.labels(outcome).observe(seconds)


def turned_away() -> None:
    _turned_away.inc()


def timed_out() -> None:
    _timed_out.inc()
