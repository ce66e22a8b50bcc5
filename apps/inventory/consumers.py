"""How inventory reacts to the saga's events."""

from __future__ import annotations

from apps.inventory import services
from ticketflow.messaging.envelope import Envelope
from ticketflow.messaging.handlers import event_scope, handles, handles_many
from ticketflow.messaging.schemas import (
    BookingCancelled,
    BookingInitiated,
    BookingSeatsCancelled,
    EventCreated,
    EventUpdated,
    SeatsConfirm,
    SeatsReacquire,
    SeatsRelease,
)
from ticketflow.messaging.topics import Topic


@handles(Topic.EVENT_CREATED)
def on_event_created(event: Envelope[EventCreated]) -> None:
    """Create the event's seats. Again: the snapshot's revision is not newer, nothing changes."""
    services.sale_event_apply_snapshot(snapshot=event.payload)


@handles(Topic.EVENT_UPDATED)
def on_event_updated(event: Envelope[EventUpdated]) -> None:
    """Refresh sale terms and prices (or create the seats if the update overtook the creation).

    Again, or an older revision after a newer one: nothing changes.
    """
    services.sale_event_apply_snapshot(snapshot=event.payload)


@handles(Topic.BOOKING_INITIATED)
def on_booking_initiated(event: Envelope[BookingInitiated]) -> None:
    """Hold the booking's seats and say how it went. Again: the inbox drops it before this runs."""
    payload = event.payload
    services.seats_hold(booking_id=payload.booking_id, event_id=payload.event_id, seat_ids=payload.seat_ids)


@handles_many(Topic.BOOKING_INITIATED)
def on_booking_initiated_many(events: list[Envelope[BookingInitiated]]) -> None:
    """A run of holds from one batch, decided in one pass over their locked seats.

    The same answers as :func:`on_booking_initiated` on each in order. Again: the inbox
    drops repeats before this runs.
    """
    services.seats_hold_many(
        requests=[
            services.HoldRequest(
                booking_id=event.payload.booking_id,
                event_id=event.payload.event_id,
                seat_ids=event.payload.seat_ids,
            )
            for event in events
        ],
        scope=lambda index: event_scope(events[index]),
    )


@handles(Topic.SEATS_REACQUIRE)
def on_seats_reacquire(event: Envelope[SeatsReacquire]) -> None:
    """A paid booking whose hold expired asks for its seats back: hold them again if still free.

    Answers like a first hold (``seats.locked`` / ``seats.lock-failed``). Again: dropped by the inbox.
    """
    payload = event.payload
    services.seats_hold(booking_id=payload.booking_id, event_id=payload.event_id, seat_ids=payload.seat_ids)


@handles(Topic.SEATS_CONFIRM)
def on_seats_confirm(event: Envelope[SeatsConfirm]) -> None:
    """Sell the held seats. Again: they are already sold; nothing changes."""
    payload = event.payload
    services.seats_confirm(
        booking_id=payload.booking_id,
        event_id=payload.event_id,
        hold_id=payload.hold_id,
        seat_ids=payload.seat_ids,
    )


@handles(Topic.SEATS_RELEASE)
def on_seats_release(event: Envelope[SeatsRelease]) -> None:
    """Put a hold's unsold seats back on sale. Again: nothing of that hold is left; no change."""
    payload = event.payload
    services.seats_release(
        booking_id=payload.booking_id,
        event_id=payload.event_id,
        hold_id=payload.hold_id,
        reason=payload.reason,
    )


@handles(Topic.BOOKING_CANCELLED)
def on_booking_cancelled(event: Envelope[BookingCancelled]) -> None:
    """Free every seat of the cancelled booking. Again: nothing is left to free."""
    services.booking_seats_cancel(booking_id=event.payload.booking_id, event_id=event.payload.event_id)


@handles(Topic.BOOKING_SEATS_CANCELLED)
def on_booking_seats_cancelled(event: Envelope[BookingSeatsCancelled]) -> None:
    """Free the seats a partial cancellation gave back. Again: they are no longer the booking's."""
    payload = event.payload
    services.booking_seats_cancel_some(
        booking_id=payload.booking_id, event_id=payload.event_id, seat_ids=payload.seat_ids
    )
