"""Commands of the inventory context: holding, releasing and selling seats.

How a seat is never given to two bookings, however many requests race for it:

1. Redis claims (``apps.inventory.locks``) turn most losers away before the database.
2. In one transaction, the wanted seats are locked in id order (``SELECT ... FOR UPDATE``,
   so racing multi-seat holds cannot deadlock), checked, and updated. The database is the
   only judge; everything else is an optimisation.
3. The outcome (``seats.locked`` or ``seats.lock-failed``) is emitted in that transaction.

Each hold gets its own ``hold_id``. Releases and confirmations name the hold they mean, so
a stale release can never free seats a later hold of the same booking re-acquired.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import timedelta

from django.conf import settings
from django.db.models import F, QuerySet
from django.utils import timezone

from apps.inventory import locks
from apps.inventory.models import CancelledBooking, SaleEvent, Seat, SeatStatus
from apps.inventory.selectors import seat_map_forget
from ticketflow import db
from ticketflow.messaging.dispatch import PermanentFailure
from ticketflow.messaging.outbox import emit
from ticketflow.messaging.schemas import (
    EventSnapshot,
    LockedSeat,
    LockFailure,
    SeatsLocked,
    SeatsLockFailed,
    iter_seats,
)

logger = logging.getLogger(__name__)


def _db() -> str:
    return db.alias_for("inventory")


def _label(seat: Seat) -> str:
    return f"{seat.section} {seat.row}{seat.number}"


def sale_event_apply_snapshot(*, snapshot: EventSnapshot) -> bool:
    """Create or refresh an event's inventory from a catalog snapshot; False if it was stale.

    The first snapshot creates one AVAILABLE seat per seat of the layout. Later ones update
    the sale terms and re-price seats still on sale (held or sold seats keep their price).
    """
    event_id = snapshot.event_id
    terms = {
        "name": snapshot.name,
        "status": snapshot.status,
        "starts_at": snapshot.starts_at,
        "ends_at": snapshot.ends_at,
        "sale_starts_at": snapshot.sale_starts_at,
        "sale_ends_at": snapshot.sale_ends_at,
        "currency": snapshot.currency,
        "max_seats_per_booking": snapshot.max_seats_per_booking,
        "hold_minutes": snapshot.hold_minutes,
        "capacity": snapshot.layout.capacity,
        "revision": snapshot.revision,
        "updated_at": timezone.now(),
    }
    with db.atomic(_db()):
        current = SaleEvent.objects.select_for_update().filter(pk=event_id).first()
        if current is not None and current.revision >= snapshot.revision:
            return False
        if current is None:
            SaleEvent.objects.create(event_id=event_id, **terms)
            Seat.objects.bulk_create(
                (
                    Seat(
                        id=seat.seat_id,
                        event_id=event_id,
                        section=seat.section,
                        row=seat.row,
                        number=seat.number,
                        category=seat.category,
                        price_cents=snapshot.prices[seat.category],
                    )
                    for seat in iter_seats(event_id, snapshot.layout)
                ),
                batch_size=1000,
            )
        else:
            SaleEvent.objects.filter(pk=event_id).update(**terms)
            for category, cents in snapshot.prices.items():
                Seat.objects.filter(
                    event_id=event_id, category=category, status=SeatStatus.AVAILABLE
                ).exclude(price_cents=cents).update(
                    price_cents=cents, version=F("version") + 1, updated_at=timezone.now()
                )
        db.on_commit(lambda: seat_map_forget(event_id=event_id), using=_db())
    return True


def _fail(
    *, booking_id: str, event_id: str, code: LockFailure, reason: str, seats: Sequence[str] = ()
) -> None:
    emit(
        SeatsLockFailed(
            booking_id=booking_id,
            event_id=event_id,
            reason_code=code,
            reason=reason,
            unavailable_seat_ids=list(seats),
        ),
        aggregate_id=booking_id,
        using=_db(),
    )


def seats_hold(*, booking_id: str, event_id: str, seat_ids: Sequence[str]) -> str | None:
    """Hold ``seat_ids`` for ``booking_id``, all or none; returns the hold id (None on failure).

    Emits ``seats.locked`` (with the seats' prices and the hold's expiry) or
    ``seats.lock-failed`` with a reason a buyer can read. Seats this booking already holds
    count as available to it, so a paid booking can take back seats its expired hold left.
    """
    wanted = sorted(set(seat_ids))
    now = timezone.now()
    # A booking cancelled before this request arrived is not checked here (that would cost
    # every hold a query): bookings answers seats held for a cancelled booking with a release.
    sale = SaleEvent.objects.filter(pk=event_id).first()
    if sale is None:
        with db.atomic(_db()):
            _fail(
                booking_id=booking_id,
                event_id=event_id,
                code="unknown_event",
                reason="We do not know this event.",
            )
        return None
    if not sale.on_sale_at(now):
        with db.atomic(_db()):
            _fail(
                booking_id=booking_id,
                event_id=event_id,
                code="event_not_on_sale",
                reason="Tickets for this event are not on sale right now.",
            )
        return None
    hold_minutes = min(sale.hold_minutes, settings.HOLD_MAX_MINUTES)
    claim = locks.claim_seats(
        event_id=event_id, seat_ids=wanted, owner=booking_id, ttl_seconds=hold_minutes * 60
    )
    hold_id = None
    try:
        hold_id = _hold_in_database(
            booking_id=booking_id,
            sale=sale,
            wanted=wanted,
            contested=claim.contested,
            hold_minutes=hold_minutes,
        )
    finally:
        if hold_id is None:
            locks.release_seats(event_id=event_id, seat_ids=claim.claimed, owner=booking_id)
    return hold_id


def _hold_in_database(
    *, booking_id: str, sale: SaleEvent, wanted: list[str], contested: list[str], hold_minutes: int
) -> str | None:
    event_id = str(sale.event_id)

    def taken(seat: Seat) -> bool:
        ours = seat.status == SeatStatus.LOCKED and str(seat.booking_id) == booking_id
        return not (seat.status == SeatStatus.AVAILABLE or ours)

    if contested:
        # Someone else claimed these in Redis: if the database agrees, answer without locking.
        losers = [s for s in Seat.objects.filter(event_id=event_id, id__in=contested) if taken(s)]
        if losers:
            with db.atomic(_db()):
                _fail_taken(booking_id=booking_id, event_id=event_id, seats=losers)
            return None
    with db.atomic(_db()):
        # Row locks in id order: racing holds of overlapping seats queue instead of deadlocking.
        # (PostgreSQL gives up after lock_timeout; the kernel then retries the message.)
        seats = list(Seat.objects.select_for_update().filter(event_id=event_id, id__in=wanted).order_by("id"))
        if len(seats) != len(wanted):
            unknown = sorted(set(wanted) - {str(seat.id) for seat in seats})
            _fail(
                booking_id=booking_id,
                event_id=event_id,
                code="unknown_seats",
                reason="Some of the seats asked for are not part of this event.",
                seats=unknown,
            )
            return None
        losers = [seat for seat in seats if taken(seat)]
        if losers:
            _fail_taken(booking_id=booking_id, event_id=event_id, seats=losers)
            return None
        hold_id = str(uuid.uuid4())
        now = timezone.now()
        expires_at = now + timedelta(minutes=hold_minutes)
        Seat.objects.filter(event_id=event_id, id__in=wanted).update(
            status=SeatStatus.LOCKED,
            booking_id=booking_id,
            hold_id=hold_id,
            hold_expires_at=expires_at,
            version=F("version") + 1,
            updated_at=now,
        )
        emit(
            SeatsLocked(
                booking_id=booking_id,
                event_id=event_id,
                hold_id=hold_id,
                seats=[
                    LockedSeat(
                        seat_id=str(seat.id),
                        section=seat.section,
                        row=seat.row,
                        number=seat.number,
                        category=seat.category,
                        price_cents=seat.price_cents,
                    )
                    for seat in seats
                ],
                total_cents=sum(seat.price_cents for seat in seats),
                currency=sale.currency,
                hold_expires_at=expires_at,
            ),
            aggregate_id=booking_id,
            using=_db(),
        )
        db.on_commit(lambda: seat_map_forget(event_id=event_id), using=_db())
    return hold_id


def _fail_taken(*, booking_id: str, event_id: str, seats: Sequence[Seat]) -> None:
    labels = ", ".join(_label(seat) for seat in sorted(seats, key=lambda s: (s.section, s.row, s.number)))
    _fail(
        booking_id=booking_id,
        event_id=event_id,
        code="seats_unavailable",
        reason=f"Sorry, someone else got there first: {labels} {'is' if len(seats) == 1 else 'are'} no longer available.",
        seats=sorted(str(seat.id) for seat in seats),
    )


def seats_release(*, booking_id: str, event_id: str, hold_id: str, reason: str) -> int:
    """Put back on sale the seats of one hold that were not sold; returns how many."""
    with db.atomic(_db()):
        seats = list(
            Seat.objects.filter(booking_id=booking_id, hold_id=hold_id, status=SeatStatus.LOCKED).values_list(
                "id", flat=True
            )
        )
        # The update re-checks the hold: between the read and the write the seats may have been
        # freed by a cancellation and held by another booking, whose hold this must not free.
        released = _free(
            Seat.objects.filter(
                id__in=seats, booking_id=booking_id, hold_id=hold_id, status=SeatStatus.LOCKED
            )
        )
        _forget(event_id=event_id, booking_id=booking_id, seat_ids=[str(s) for s in seats])
    if released:
        logger.info("released %d seats of booking %s (%s)", released, booking_id, reason)
    return released


def seats_confirm(*, booking_id: str, event_id: str, hold_id: str, seat_ids: Sequence[str]) -> int:
    """Sell the seats of a paid hold (LOCKED -> RESERVED); returns how many changed.

    A booking cancelled meanwhile is ignored. Any other mismatch means the saga's promise
    was broken somewhere: it is raised as :class:`PermanentFailure` for an operator.
    """
    if CancelledBooking.objects.filter(pk=booking_id).exists():
        logger.info("booking %s was cancelled before its seats were confirmed; ignoring", booking_id)
        return 0
    with db.atomic(_db()):
        seats = list(
            Seat.objects.select_for_update().filter(event_id=event_id, id__in=seat_ids).order_by("id")
        )
        sold = [s for s in seats if s.status == SeatStatus.RESERVED and str(s.booking_id) == booking_id]
        held = [s for s in seats if s.status == SeatStatus.LOCKED and str(s.hold_id) == hold_id]
        if len(sold) + len(held) != len(set(seat_ids)):
            raise PermanentFailure(
                f"booking {booking_id} was confirmed but hold {hold_id} no longer has all of its seats"
            )
        changed = Seat.objects.filter(id__in=[s.id for s in held], status=SeatStatus.LOCKED).update(
            status=SeatStatus.RESERVED,
            hold_expires_at=None,
            version=F("version") + 1,
            updated_at=timezone.now(),
        )
        _forget(event_id=event_id, booking_id=booking_id, seat_ids=[str(s.id) for s in seats])
    return changed


def booking_seats_cancel(*, booking_id: str, event_id: str) -> int:
    """Free every seat of a cancelled booking, held or sold, and remember the cancellation."""
    with db.atomic(_db()):
        CancelledBooking.objects.get_or_create(pk=booking_id)
        seats = list(Seat.objects.filter(booking_id=booking_id).values_list("id", flat=True))
        freed = _free(Seat.objects.filter(id__in=seats, booking_id=booking_id))
        _forget(event_id=event_id, booking_id=booking_id, seat_ids=[str(s) for s in seats])
    return freed


def _free(seats: QuerySet[Seat]) -> int:
    return seats.update(
        status=SeatStatus.AVAILABLE,
        booking_id=None,
        hold_id=None,
        hold_expires_at=None,
        version=F("version") + 1,
        updated_at=timezone.now(),
    )


def _forget(*, event_id: str, booking_id: str, seat_ids: list[str]) -> None:
    """After commit: drop the booking's Redis claims and the cached seat map."""

    def clean_up() -> None:
        locks.release_seats(event_id=event_id, seat_ids=seat_ids, owner=booking_id)
        seat_map_forget(event_id=event_id)

    db.on_commit(clean_up, using=_db())
