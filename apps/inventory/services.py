"""Commands of the inventory context: holding, releasing and selling seats.

How a seat is never given to two bookings, however many requests race for it:

1. Seat claims (``ticketflow.seat_claims``, inventory's published port) turn losers away:
   at the door of ``POST /api/bookings`` before anything is written, and here before
   any row lock is taken.
2. In one transaction, the wanted seats are locked in id order (``SELECT ... FOR UPDATE``,
   so racing multi-seat holds cannot deadlock), checked, and updated. The database is the
   only judge; everything else is an optimisation.
3. The outcome (``seats.locked`` or ``seats.lock-failed``) is emitted in that transaction.

Each hold gets its own ``hold_id``. Releases and confirmations name the hold they mean, so
a stale release can never free seats a later hold of the same booking re-acquired.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from apps.inventory import metrics, waitlist
from apps.inventory.models import CancelledBooking, SaleEvent, Seat, SeatStatus
from apps.inventory.selectors import seat_map_forget
from ticketflow import db, seat_claims
from ticketflow.messaging.codes import LockFailure
from ticketflow.messaging.dispatch import PermanentFailure
from ticketflow.messaging.outbox import emit
from ticketflow.messaging.projection import projection_fields
from ticketflow.messaging.schemas import (
    EventSnapshot,
    LockedSeat,
    SeatsLocked,
    SeatsLockFailed,
    iter_seats,
)

logger = logging.getLogger(__name__)


def _db() -> str:
    return db.alias_for("inventory")


def _label(seat: Seat) -> str:
    return f"{seat.section} {seat.row}{seat.number}"


SALE_EVENT_FIELDS = (
    "name", "status", "starts_at", "ends_at", "sale_starts_at", "sale_ends_at", "currency",
    "max_seats_per_booking", "hold_minutes", "waitlist_offer_minutes", "capacity", "revision",
)  # fmt: skip
"""What ``SaleEvent`` copies from every snapshot (``projection_fields`` maps them)."""


def sale_event_apply_snapshot(*, snapshot: EventSnapshot) -> bool:
    """Create or refresh an event's inventory from a catalog snapshot; False if it was stale.

    The first snapshot creates one AVAILABLE seat per seat of the layout. Later ones update
    the sale terms and re-price seats still on sale (held or sold seats keep their price).
    """
    event_id = snapshot.event_id
    terms = {**projection_fields(snapshot, SALE_EVENT_FIELDS), "updated_at": timezone.now()}
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
    The booking's seat claims are stretched to the hold on success and dropped on failure.
    """
    wanted = sorted(set(seat_ids))
    now = timezone.now()
    # A booking cancelled before this request arrived is not checked here (that would cost
    # every hold a query): bookings answers seats held for a cancelled booking with a release.
    sale = SaleEvent.objects.filter(pk=event_id).first()
    hold_id = None
    try:
        if sale is None or not sale.on_sale_at(now):
            with db.atomic(_db()):
                _refuse_unsellable(booking_id=booking_id, event_id=event_id, sale=sale)
        else:
            hold_minutes = min(sale.hold_minutes, settings.HOLD_MAX_MINUTES)
            claim = seat_claims.claim(
                event_id=event_id, seat_ids=wanted, owner=booking_id, ttl_seconds=hold_minutes * 60
            )
            hold_id = _hold_in_database(
                booking_id=booking_id,
                sale=sale,
                wanted=wanted,
                contested=claim.taken,
                hold_minutes=hold_minutes,
            )
    finally:
        if hold_id is None:
            seat_claims.release(event_id=event_id, seat_ids=wanted, owner=booking_id)
    return hold_id


def _hold_in_database(
    *, booking_id: str, sale: SaleEvent, wanted: list[str], contested: list[str], hold_minutes: int
) -> str | None:
    event_id = str(sale.event_id)
    now = timezone.now()

    def taken(seat: Seat) -> bool:
        return not _holdable(seat, booking_id, now)

    if contested:
        # Someone else claimed these: if the database agrees, answer without locking.
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
                code=LockFailure.UNKNOWN_SEATS,
                reason="Some of the seats asked for are not part of this event.",
                seats=unknown,
            )
            return None
        losers = [seat for seat in seats if taken(seat)]
        if losers:
            _fail_taken(booking_id=booking_id, event_id=event_id, seats=losers)
            return None
        hold_id = _grant(booking_id=booking_id, sale=sale, seats=seats, hold_minutes=hold_minutes)
        Seat.objects.bulk_update(seats, HOLD_FIELDS)
        db.on_commit(lambda: seat_map_forget(event_id=event_id), using=_db())
    return hold_id


HOLD_FIELDS = ("status", "booking_id", "hold_id", "hold_expires_at", "version", "updated_at")


def _holdable(seat: Seat, booking_id: str, now: datetime) -> bool:
    """Whether ``booking_id`` may hold ``seat``: on sale, already its own, or offered to it."""
    if seat.status == SeatStatus.AVAILABLE:
        return True
    if seat.status == SeatStatus.LOCKED:
        return str(seat.booking_id) == booking_id
    return waitlist.offered_to(seat, booking_id, now)


def _grant(*, booking_id: str, sale: SaleEvent, seats: Sequence[Seat], hold_minutes: int) -> str:
    """Give locked, free ``seats`` to ``booking_id`` (in memory) and announce the hold.

    Seats offered to it from the waiting list serve its entry there.
    """
    hold_id = str(uuid.uuid4())
    now = timezone.now()
    if any(seat.status == SeatStatus.OFFERED for seat in seats):
        waitlist.waitlist_offer_taken(booking_id=booking_id)
    expires_at = now + timedelta(minutes=hold_minutes)
    for seat in seats:
        seat.status, seat.booking_id, seat.hold_id = SeatStatus.LOCKED, booking_id, hold_id
        seat.hold_expires_at, seat.version, seat.updated_at = expires_at, seat.version + 1, now
    emit(
        SeatsLocked(
            booking_id=booking_id,
            event_id=str(sale.event_id),
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
    return hold_id


@dataclass(frozen=True)
class HoldRequest:
    """One booking's request for seats, as ``booking.initiated`` or ``seats.reacquire`` carry it."""

    booking_id: str
    event_id: str
    seat_ids: Sequence[str]


def seats_hold_many(
    *,
    requests: Sequence[HoldRequest],
    scope: Callable[[int], AbstractContextManager[object]] = lambda _index: nullcontext(),
) -> list[str | None]:
    """Decide many holds in one transaction: the same answers as :func:`seats_hold` on each in turn.

    Every seat any of them wants is locked once, in id order; the requests are then decided
    one after another against those rows, and the winners' seats written in one statement.
    ``scope(i)`` is entered around request ``i``'s answer (its trace, for the events it emits).
    """
    now = timezone.now()
    results: list[str | None] = []
    changed: dict[str, Seat] = {}
    with db.atomic(_db()):
        sales = {
            str(sale.event_id): sale
            for sale in SaleEvent.objects.filter(pk__in={r.event_id for r in requests})
        }
        wanted = sorted({seat_id for request in requests for seat_id in request.seat_ids})
        rows = {
            str(seat.id): seat
            for seat in Seat.objects.select_for_update().filter(id__in=wanted).order_by("id")
        }
        for index, request in enumerate(requests):
            with scope(index):
                results.append(_decide(request, sales.get(request.event_id), rows, changed, now))
        Seat.objects.bulk_update(changed.values(), HOLD_FIELDS)
        for event_id in {request.event_id for request in requests}:
            db.on_commit(functools.partial(seat_map_forget, event_id=event_id), using=_db())
        for request, hold_id in zip(requests, results, strict=True):
            db.on_commit(
                functools.partial(_settle_claims, request, hold_id, sales.get(request.event_id)), using=_db()
            )
    return results


def _decide(
    request: HoldRequest,
    sale: SaleEvent | None,
    rows: dict[str, Seat],
    changed: dict[str, Seat],
    now: datetime,
) -> str | None:
    booking_id, event_id = request.booking_id, request.event_id
    if sale is None or not sale.on_sale_at(now):
        _refuse_unsellable(booking_id=booking_id, event_id=event_id, sale=sale)
        return None
    wanted = sorted(set(request.seat_ids))
    seats = [
        rows[seat_id] for seat_id in wanted if seat_id in rows and str(rows[seat_id].event_id) == event_id
    ]
    if len(seats) != len(wanted):
        _fail(
            booking_id=booking_id,
            event_id=event_id,
            code=LockFailure.UNKNOWN_SEATS,
            reason="Some of the seats asked for are not part of this event.",
            seats=sorted(set(wanted) - {str(seat.id) for seat in seats}),
        )
        return None
    losers = [seat for seat in seats if not _holdable(seat, booking_id, now)]
    if losers:
        _fail_taken(booking_id=booking_id, event_id=event_id, seats=losers)
        return None
    hold_minutes = min(sale.hold_minutes, settings.HOLD_MAX_MINUTES)
    hold_id = _grant(booking_id=booking_id, sale=sale, seats=seats, hold_minutes=hold_minutes)
    changed.update((str(seat.id), seat) for seat in seats)
    return hold_id


def _settle_claims(request: HoldRequest, hold_id: str | None, sale: SaleEvent | None) -> None:
    """After the decision: stretch a winner's seat claims to its hold, drop a loser's."""
    if hold_id is None or sale is None:
        seat_claims.release(event_id=request.event_id, seat_ids=request.seat_ids, owner=request.booking_id)
    else:
        seat_claims.claim(
            event_id=request.event_id,
            seat_ids=request.seat_ids,
            owner=request.booking_id,
            ttl_seconds=min(sale.hold_minutes, settings.HOLD_MAX_MINUTES) * 60,
        )


def _refuse_unsellable(*, booking_id: str, event_id: str, sale: SaleEvent | None) -> None:
    """Answer a hold for an event inventory does not know, or that is not on sale now."""
    if sale is None:
        _fail(
            booking_id=booking_id,
            event_id=event_id,
            code=LockFailure.UNKNOWN_EVENT,
            reason="We do not know this event.",
        )
    else:
        _fail(
            booking_id=booking_id,
            event_id=event_id,
            code=LockFailure.NOT_ON_SALE,
            reason="Tickets for this event are not on sale right now.",
        )


def _fail_taken(*, booking_id: str, event_id: str, seats: Sequence[Seat]) -> None:
    labels = ", ".join(_label(seat) for seat in sorted(seats, key=lambda s: (s.section, s.row, s.number)))
    _fail(
        booking_id=booking_id,
        event_id=event_id,
        code=LockFailure.SEATS_UNAVAILABLE,
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
        released = (
            Seat.objects.filter(
                id__in=seats, booking_id=booking_id, hold_id=hold_id, status=SeatStatus.LOCKED
            )
        ).free()
        _forget(event_id=event_id, booking_id=booking_id, seat_ids=[str(s) for s in seats])
        if released:
            waitlist.seats_offer_to_waitlist(event_id=event_id, seat_ids=[str(s) for s in seats])
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
        _mark_sold(event_id=event_id, booking_id=booking_id, seat_ids=[str(s.id) for s in seats])
    return changed


def booking_seats_cancel(*, booking_id: str, event_id: str) -> int:
    """Free every seat of a cancelled booking, held or sold, and remember the cancellation."""
    with db.atomic(_db()):
        CancelledBooking.objects.get_or_create(pk=booking_id)
        seats = list(Seat.objects.filter(booking_id=booking_id).values_list("id", flat=True))
        freed = Seat.objects.filter(id__in=seats, booking_id=booking_id).free()
        _forget(event_id=event_id, booking_id=booking_id, seat_ids=[str(s) for s in seats])
        if freed:
            waitlist.seats_offer_to_waitlist(event_id=event_id, seat_ids=[str(s) for s in seats])
    return freed


def _forget(*, event_id: str, booking_id: str, seat_ids: list[str]) -> None:
    """After commit: drop the booking's seat claims and the cached seat map."""

    def clean_up() -> None:
        seat_claims.release(event_id=event_id, seat_ids=seat_ids, owner=booking_id)
        seat_map_forget(event_id=event_id)

    db.on_commit(clean_up, using=_db())


def _mark_sold(*, event_id: str, booking_id: str, seat_ids: list[str]) -> None:
    """After commit: the door turns buyers of these seats away until the event ends."""
    ends_at = SaleEvent.objects.filter(pk=event_id).values_list("ends_at", flat=True).first()
    remaining = (ends_at - timezone.now()).total_seconds() if ends_at else 0

    def clean_up() -> None:
        if remaining > 0:
            seat_claims.mark_sold(
                event_id=event_id, seat_ids=seat_ids, owner=booking_id, ttl_seconds=remaining
            )
        else:
            seat_claims.release(event_id=event_id, seat_ids=seat_ids, owner=booking_id)
        seat_map_forget(event_id=event_id)

    db.on_commit(clean_up, using=_db())


def seat_claims_reconcile(*, event_id: str) -> int:
    """Drop the seat claims of an event that its rows contradict; returns how many.

    Claims only filter, so a wrong one never sells a seat twice, but it does turn buyers
    away from a seat that is free: a sold marker left by a release that could not reach
    the store, or a claim on a seat that another booking holds. Claims on seats still
    AVAILABLE are left alone: their saga may not have arrived yet, and they expire with
    their hold anyway.
    """
    holders = seat_claims.holders(event_id=event_id)
    if not holders:
        return 0
    seats = {
        str(seat_id): (status, str(booking_id) if booking_id else "")
        for seat_id, status, booking_id in Seat.objects.filter(
            event_id=event_id, id__in=list(holders)
        ).values_list("id", "status", "booking_id")
    }
    dropped = 0
    for seat_id, holder in holders.items():
        status, booking_id = seats.get(seat_id, (None, ""))
        if holder.startswith(seat_claims.SOLD):
            wrong = not (
                status == SeatStatus.RESERVED and booking_id == holder.removeprefix(seat_claims.SOLD)
            )
        else:
            wrong = status is None or (status != SeatStatus.AVAILABLE and booking_id != holder)
        if wrong and seat_claims.drop(event_id=event_id, seat_id=seat_id, holder=holder):
            dropped += 1
    if dropped:
        logger.warning("dropped %d seat claims of event %s that its seats contradict", dropped, event_id)
    return dropped


def seat_holds_release_lapsed(
    *, now: datetime | None = None, grace: timedelta | None = None, limit: int = 1000
) -> int:
    """Put back on sale seats still LOCKED ``grace`` after their hold ran out; returns how many.

    Bookings releases a hold when it expires (``seats.release``), so a seat still held past
    its expiry plus ``grace`` (default ``settings.HOLD_SWEEP_GRACE``) lost that release: the
    ``seats.locked`` announcing the hold was dead-lettered and bookings never learned of it,
    or the release itself was. Inventory then frees the seats on its own, without waiting for
    an event that may never come. The grace keeps this sweep behind bookings' expiry, which
    runs every few seconds: a paid booking's confirmation never finds its seats swept unless
    bookings' sweeps were down for longer than the grace.

    Safe to run on several workers at once and again: the seats are taken with SKIP LOCKED
    (a hold being decided right now is left for the next run), and the update re-checks that
    each is still LOCKED by a lapsed hold, so a seat freed, sold or held again meanwhile is
    left alone.
    """
    now = now or timezone.now()
    cutoff = now - (settings.HOLD_SWEEP_GRACE if grace is None else grace)
    with db.atomic(_db()):
        lapsed = list(
            Seat.objects.select_for_update(skip_locked=True)
            .filter(status=SeatStatus.LOCKED, hold_expires_at__lt=cutoff)
            .order_by("id")
            .values_list("id", "event_id", "booking_id", "hold_id")[:limit]
        )
        if not lapsed:
            return 0
        released = (
            Seat.objects.filter(
                id__in=[seat_id for seat_id, *_ in lapsed],
                status=SeatStatus.LOCKED,
                hold_expires_at__lt=cutoff,
            )
        ).free()
        holds: dict[tuple[str, str, str], list[str]] = {}
        for seat_id, event, booking, hold in lapsed:
            holds.setdefault((str(event), str(booking), str(hold)), []).append(str(seat_id))
        for (event_id, booking_id, hold_id), seat_ids in holds.items():
            _forget(event_id=event_id, booking_id=booking_id, seat_ids=seat_ids)
            waitlist.seats_offer_to_waitlist(event_id=event_id, seat_ids=seat_ids)
            logger.warning(
                "released %d seats of booking %s whose hold %s lapsed without a release",
                len(seat_ids),
                booking_id,
                hold_id,
            )
        db.on_commit(lambda: metrics.seats_swept(released), using=_db())
    return released


class SeatsNotConfirmedYet(RuntimeError):
    """Some seats of a partial cancellation are still only held: their ``seats.confirm`` is behind.

    Not permanent: the kernel retries the event (and dead-letters it for ``replay`` past the
    retry budget), by when the confirmation has sold the seats.
    """


def booking_seats_cancel_some(*, booking_id: str, event_id: str, seat_ids: Sequence[str]) -> int:
    """Give back the seats a partial cancellation names (to the waiting list first); returns how many.

    The booking goes on with its other seats, so no :class:`CancelledBooking` is recorded.
    Only seats still sold to the booking are freed: a second delivery, or a seat sold again
    since, changes nothing. A cancellation can overtake the ``seats.confirm`` that sells the
    seats (they travel on different topics); while a seat is still held for the booking,
    :class:`SeatsNotConfirmedYet` is raised, so that the confirmation, which expects every
    seat of its hold, is applied first.
    """
    with db.atomic(_db()):
        seats = list(
            Seat.objects.select_for_update()
            .filter(event_id=event_id, id__in=seat_ids, booking_id=booking_id)
            .order_by("id")
        )
        if any(seat.status == SeatStatus.LOCKED for seat in seats):
            raise SeatsNotConfirmedYet(f"booking {booking_id}'s seats are not confirmed yet; retry later")
        sold = [str(seat.id) for seat in seats if seat.status == SeatStatus.RESERVED]
        freed = Seat.objects.filter(id__in=sold, booking_id=booking_id, status=SeatStatus.RESERVED).free()
        _forget(event_id=event_id, booking_id=booking_id, seat_ids=sold)
        if freed:
            waitlist.seats_offer_to_waitlist(event_id=event_id, seat_ids=sold)
    if freed:
        logger.info("freed %d seats of booking %s (partial cancellation)", freed, booking_id)
    return freed
