"""Commands of the bookings context: start a booking, react to the saga, cancel, expire.

There is no orchestrator: bookings decides only its own aggregate's next state from the
events it receives, and says what should happen next by emitting events in the same
transaction. Every reaction locks the booking row first (``SELECT ... FOR UPDATE``), so a
payment result and the expiry sweep can never both win; whichever commits second sees
the first one's state and takes the compensating path instead.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum, auto
from typing import Any, NoReturn, cast

from django.conf import settings
from django.core import signing
from django.db import OperationalError
from django.db.models import F, Q
from django.utils import timezone

from apps.bookings import metrics, status_feed
from apps.bookings.error_codes import BookingErrorCode
from apps.bookings.models import (
    ACTIVE,
    TERMINAL,
    UNPAID,
    BookableEvent,
    Booking,
    BookingCancellation,
    BookingStatus,
    BookingStep,
    BookingTicket,
    BuyerAdmission,
    RefundState,
    TicketTransfer,
    TimelineStep,
)
from apps.bookings.selectors import booking_refund_percent
from ticketflow import admission_tokens, db, seat_claims, waitlist_offers
from ticketflow.errors import Conflict, Forbidden, InvalidInput, NotFound
from ticketflow.messaging import schemas
from ticketflow.messaging.codes import BookingFailureCode, PaymentFailureCode
from ticketflow.messaging.outbox import emit
from ticketflow.messaging.projection import projection_fields
from ticketflow.messaging.refund_policy import refund_cents
from ticketflow.messaging.sale import is_on_sale
from ticketflow.messaging.schemas import (
    BookingCancelled,
    BookingConfirmed,
    BookingExpired,
    BookingFailed,
    BookingInitiated,
    BookingSeatsCancelled,
    Customer,
    EventSnapshot,
    PaymentProcessed,
    PaymentRefunded,
    PaymentRefundRequested,
    PaymentRequested,
    SeatLabel,
    SeatsConfirm,
    SeatsLocked,
    SeatsLockFailed,
    SeatsReacquire,
    SeatsRelease,
    TicketScanned,
    TicketsIssued,
    TicketsRevoked,
    TicketsTransferred,
    TicketTransferAccepted,
    TicketTransferRequested,
    seat_ids_of,
)
from ticketflow.values import decimal_amount, is_uuid

logger = logging.getLogger(__name__)

PAYMENT_METHOD = re.compile(r"^pm_[A-Za-z0-9_]{1,250}$")
REFERENCE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O or 1/I to misread
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE when lock_timeout gave up waiting
IDEMPOTENT_BOOKINGS = uuid.UUID("6f1c4d2e-8a57-4b0e-9d3f-2c7a1e5b9f04")  # namespace of keyed booking ids


def _db() -> str:
    return db.alias_for("bookings")


# --- the events bookings sells ----------------------------------------------------------------

BOOKABLE_EVENT_FIELDS = (
    "name", "venue_name", "status", "starts_at", "ends_at", "sale_starts_at", "sale_ends_at", "currency",
    "max_seats_per_booking", "max_active_seats_per_buyer", "hold_minutes", "layout", "revision",
    "queue_enabled", "transfers_allowed", "refund_policy",
)  # fmt: skip
"""What ``BookableEvent`` copies from every snapshot (``projection_fields`` maps them)."""


def bookable_event_apply_snapshot(*, snapshot: EventSnapshot) -> bool:
    """Keep the local copy of an event's booking rules; False for a snapshot no newer than ours."""
    fields = projection_fields(snapshot, BOOKABLE_EVENT_FIELDS)
    with db.atomic(_db()):
        current = BookableEvent.objects.select_for_update().filter(pk=snapshot.event_id).first()
        if current is None:
            BookableEvent.objects.create(event_id=snapshot.event_id, **fields)
            return True
        if current.revision >= snapshot.revision:
            return False
        BookableEvent.objects.filter(pk=snapshot.event_id).update(**fields)
    return True


# --- starting a booking -----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Buyer:
    user_id: str
    email: str
    name: str


def _fingerprint(event_id: str, seat_ids: Sequence[str], payment_method: str) -> str:
    body = json.dumps({"event": event_id, "seats": sorted(seat_ids), "pm": payment_method}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()


def _reference() -> str:
    code = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))
    return f"TF-{code[:4]}-{code[4:]}"


def _validate(*, event_id: str, seat_ids: Sequence[str], payment_method: str) -> BookableEvent:
    event = BookableEvent.objects.filter(pk=event_id).first()
    if event is None:
        raise InvalidInput(
            "We do not sell tickets for this event.",
            code=BookingErrorCode.UNKNOWN_EVENT,
            details={"fields": {"event_id": ["No event with this id is on sale here."]}},
        )
    if not is_on_sale(event, at=timezone.now()):
        raise Conflict(
            "Tickets for this event are not on sale right now.",
            code=BookingErrorCode.NOT_ON_SALE,
            details={"event_status": event.status},
        )
    if len(seat_ids) > event.max_seats_per_booking:
        raise InvalidInput(
            f"You can book at most {event.max_seats_per_booking} seats at once for this event.",
            code=BookingErrorCode.TOO_MANY_SEATS,
            details={"fields": {"seat_ids": [f"At most {event.max_seats_per_booking} seats."]}},
        )
    layout_json = json.dumps(event.layout, sort_keys=True)
    unknown = sorted(set(seat_ids) - seat_ids_of(str(event.event_id), layout_json))
    if unknown:
        raise InvalidInput(
            "Some of the seats are not seats of this event.",
            code=BookingErrorCode.UNKNOWN_SEATS,
            details={"fields": {"seat_ids": ["Not seats of this event."]}, "unknown_seat_ids": unknown},
        )
    if not PAYMENT_METHOD.match(payment_method):
        raise InvalidInput(
            "The payment method is not one we can charge.",
            details={"fields": {"payment_method": ["Expected a payment method id such as pm_card_visa."]}},
        )
    return event


def booking_create(
    *,
    buyer: Buyer,
    event_id: str,
    seat_ids: Sequence[str],
    payment_method: str,
    idempotency_key: str | None = None,
    queue_token: str | None = None,
    waitlist_offer: str | None = None,
) -> tuple[Booking, bool]:
    """Start a booking (PENDING) and ask inventory for the seats; returns (booking, created).

    Admission comes first, and a buyer turned away gets a :class:`Conflict` with nothing
    written and no seat kept from anyone:

    * ``purchase_limit_reached`` when the buyer's active seats for the event (pending, held
      or bought) plus these would exceed the event's limit (details: ``limit``, ``active``,
      ``requested``); ``too_many_unpaid_bookings`` when the buyer already has
      ``MAX_UNPAID_BOOKINGS_PER_BUYER`` bookings waiting for payment, across events
      (details: ``limit``, ``unpaid``). Both are decided under the buyer's admission lock
      (:class:`BuyerAdmission`), so racing requests of one buyer never pass them together.
    * ``seats_unavailable`` (with the seat ids) when inventory's claim port says someone
      else holds a seat; every seat is claimed at the door, all or none.
    * ``booking_in_progress`` when the buyer's other bookings kept the lock too long.

    With an ``idempotency_key``, asking again returns the same booking instead of a second
    one, and never counts against a limit twice; the same key with a different request is a
    :class:`Conflict`.
    While the event's waiting room is on, ``queue_token`` must be the account's admission
    token for this event, still in its window; anything else is ``403 queue_required``.

    ``waitlist_offer`` is the token of seats offered to the buyer from the waiting list
    (``ticketflow.waitlist_offers``; ``400 invalid_offer``, ``403 offer_not_yours``, ``409
    offer_expired``). The booking then gets the id the offer was made for, which the door's
    claims and inventory's offered seats wait for; it needs no queue token, and asking
    again returns the same booking.
    """
    fingerprint = _fingerprint(event_id, seat_ids, payment_method)
    if idempotency_key is not None:
        existing = _by_key(buyer.user_id, idempotency_key, fingerprint)
        if existing is not None:
            return existing, False
    event = _validate(event_id=event_id, seat_ids=seat_ids, payment_method=payment_method)
    offer = None
    if waitlist_offer is not None:
        offer = waitlist_offers.require(waitlist_offer, user_id=buyer.user_id, event_id=str(event.event_id))
        if existing := Booking.objects.filter(id=offer.booking_id).first():
            return existing, False
    elif event.queue_enabled:
        admission_tokens.require(queue_token, user_id=buyer.user_id, event_id=str(event.event_id))
    # A first look without the lock: a buyer already at a limit claims nothing, so a hoarder
    # hammering the door never keeps a seat from anyone, not even for a moment.
    if refusal := _limit_refusal(event, user_id=buyer.user_id, seat_ids=seat_ids):
        if idempotency_key is not None and (existing := _by_key(buyer.user_id, idempotency_key, fingerprint)):
            return existing, False  # a copy of this request got in since the look above
        _turn_away(refusal, user_id=buyer.user_id, event=event)
    booking_id = uuid.UUID(offer.booking_id) if offer else _booking_id(buyer.user_id, idempotency_key)
    _admit(event, booking_id=booking_id, seat_ids=seat_ids)
    try:
        with db.atomic(_db()):
            _take_turn(buyer.user_id)
            if offer is not None and (existing := Booking.objects.filter(id=booking_id).first()):
                return existing, False  # a copy of this request got in while this one waited
            if idempotency_key is not None:
                existing = _by_key(buyer.user_id, idempotency_key, fingerprint)
                if existing is not None:
                    # Its first copy got in while this one waited; the claims are that booking's.
                    return existing, False
            if refusal := _limit_refusal(event, user_id=buyer.user_id, seat_ids=seat_ids):
                _turn_away(refusal, user_id=buyer.user_id, event=event)
            booking = Booking.objects.create(
                id=booking_id,
                reference=_reference(),
                user_id=buyer.user_id,
                customer_email=buyer.email,
                customer_name=buyer.name,
                event_id=event.event_id,
                event_name=event.name,
                event_starts_at=event.starts_at,
                venue_name=event.venue_name,
                seat_ids=list(seat_ids),
                payment_method=payment_method,
                currency=event.currency,
                idempotency_key=idempotency_key,
                request_fingerprint=fingerprint,
            )
            BookingStep.objects.create(booking=booking, step=TimelineStep.REQUESTED, status=booking.status)
            emit(
                BookingInitiated(
                    booking_id=str(booking.id),
                    event_id=str(event.event_id),
                    seat_ids=list(seat_ids),
                    customer=_customer(booking),
                ),
                aggregate_id=str(booking.id),
                using=_db(),
            )
            db.on_commit(lambda: metrics.entered(BookingStatus.PENDING), using=_db())
    except BaseException:
        # Refused or failed: this request wrote nothing, so its claims go. Two copies of one
        # idempotent request take turns above, so the one that got in keeps the claims. An
        # offer's claims are inventory's, kept for the buyer until the offer ends.
        if offer is None:
            seat_claims.release(event_id=event_id, seat_ids=seat_ids, owner=str(booking_id))
        raise
    return booking, True


def _booking_id(user_id: str, idempotency_key: str | None) -> uuid.UUID:
    """A new booking's id, known before anything is written so the door can claim for it.

    Retries of one idempotent request get the same id: racing copies then share one
    claim instead of beating each other to it.
    """
    if idempotency_key is None:
        return uuid.uuid4()
    return uuid.uuid5(IDEMPOTENT_BOOKINGS, f"{user_id}:{idempotency_key}")


def _admit(event: BookableEvent, *, booking_id: uuid.UUID, seat_ids: Sequence[str]) -> None:
    """Claim the seats at the door, or turn the buyer away with the seats that are taken.

    The claim lasts as long as a hold would; inventory stretches it to the real hold, and
    drops or sells it on every outcome. If the claim store is down, the door steps aside
    and inventory's row locks decide alone.
    """
    hold_seconds = min(event.hold_minutes, settings.HOLD_MAX_MINUTES) * 60
    result = seat_claims.claim(
        event_id=str(event.event_id), seat_ids=seat_ids, owner=str(booking_id), ttl_seconds=hold_seconds
    )
    if not result.granted:
        metrics.turned_away(BookingErrorCode.SEATS_UNAVAILABLE)
        count = len(result.taken)
        if len(seat_ids) == 1:
            which = "the seat you picked is"
        elif count == 1:
            which = "one of your seats is"
        else:
            which = f"{count} of your seats are"
        raise Conflict(
            f"Sorry, someone else got there first: {which} no longer available. Pick other seats and try again.",
            code=BookingErrorCode.SEATS_UNAVAILABLE,
            details={"unavailable_seat_ids": result.taken},
        )


def _take_turn(user_id: str) -> None:
    """Lock the buyer's admission row until the transaction ends, creating it the first time.

    One upsert does both (``INSERT ... ON CONFLICT DO UPDATE`` locks the row it updates). On
    the embedded default SQLite's IMMEDIATE transactions already take turns. A buyer whose
    own requests keep the row past the lock timeout is told to wait (409
    ``booking_in_progress``) rather than answered 500.
    """
    try:
        BuyerAdmission.objects.bulk_create(
            [BuyerAdmission(user_id=user_id, last_admitted_at=timezone.now())],
            update_conflicts=True,
            unique_fields=["user_id"],
            update_fields=["last_admitted_at"],
        )
    except OperationalError as error:
        if getattr(error.__cause__, "sqlstate", None) != LOCK_NOT_AVAILABLE:
            raise
        metrics.turned_away(BookingErrorCode.BOOKING_IN_PROGRESS)
        raise Conflict(
            "Another booking of yours is being placed right now. Wait for it, then try again.",
            code=BookingErrorCode.BOOKING_IN_PROGRESS,
        ) from None


def _limit_refusal(event: BookableEvent, *, user_id: str, seat_ids: Sequence[str]) -> Conflict | None:
    """The refusal due if this booking would take the buyer over a purchase limit, else None.

    Counts the buyer's active bookings (PENDING, SEATS_LOCKED, CONFIRMED) in the database,
    which is the source of truth: a booking that ends stops counting the moment its status
    changes, with nothing to reconcile. Decisive only under :func:`_take_turn`'s lock.
    """
    rows = (
        Booking.objects.filter(user_id=user_id, status__in=ACTIVE)
        .filter(Q(event_id=event.event_id) | Q(status__in=UNPAID))
        .values_list("event_id", "status", "seat_ids")
    )
    active = unpaid = 0
    for booked_event_id, status, booked_seats in rows:
        if booked_event_id == event.event_id:
            active += len(booked_seats)
        if status in UNPAID:
            unpaid += 1
    limit, requested = event.active_seats_limit, len(seat_ids)
    if active + requested > limit:
        left = max(limit - active, 0)
        if left:
            advice = f"you can book {left} more seat{'s' * (left != 1)}"
        else:
            advice = "cancel one of your bookings to choose other seats"
        return Conflict(
            f"Each buyer may have at most {limit} seats for this event and you already have {active}: {advice}.",
            code=BookingErrorCode.PURCHASE_LIMIT_REACHED,
            details={"limit": limit, "active": active, "requested": requested},
        )
    cap = settings.MAX_UNPAID_BOOKINGS_PER_BUYER
    if unpaid >= cap:
        return Conflict(
            f"You have {unpaid} bookings waiting for payment, the most one buyer may have at once. "
            "Pay for or cancel one of them (or let its hold run out) before you book again.",
            code=BookingErrorCode.TOO_MANY_UNPAID_BOOKINGS,
            details={"limit": cap, "unpaid": unpaid},
        )
    return None


def _turn_away(refusal: Conflict, *, user_id: str, event: BookableEvent) -> NoReturn:
    """Count and log a buyer refused for a purchase limit, then raise the refusal."""
    metrics.turned_away(refusal.code)
    logger.warning(
        "booking refused: %s",
        refusal.code,
        extra={
            "user_id": user_id,
            "event_id": str(event.event_id),
            "refusal": refusal.code,
            **refusal.details,
        },
    )
    raise refusal


def _by_key(user_id: str, key: str, fingerprint: str) -> Booking | None:
    booking = Booking.objects.filter(user_id=user_id, idempotency_key=key).first()
    if booking is not None and booking.request_fingerprint != fingerprint:
        raise Conflict(
            "This Idempotency-Key was already used for a different booking request.",
            code=BookingErrorCode.IDEMPOTENCY_KEY_REUSED,
        )
    return booking


# --- the saga's reactions -----------------------------------------------------------------------


def _customer(booking: Booking) -> Customer:
    return Customer(user_id=str(booking.user_id), email=booking.customer_email, name=booking.customer_name)


def _facts(booking: Booking) -> dict[str, Any]:
    return {
        "booking_id": str(booking.id),
        "reference": booking.reference,
        "event_id": str(booking.event_id),
        "event_name": booking.event_name,
        "event_starts_at": booking.event_starts_at,
        "venue_name": booking.venue_name,
        "customer": _customer(booking),
    }


def _locked(booking_id: str) -> Booking | None:
    return Booking.objects.select_for_update().filter(pk=booking_id).first()


def _locked_own(booking_id: str, user_id: str, *, is_staff: bool = False) -> Booking:
    """The booking, locked, if it is ``user_id``'s (or ``is_staff``); 404 otherwise, never 403."""
    booking = _locked(booking_id)
    if booking is None or (str(booking.user_id) != str(user_id) and not is_staff):
        raise NotFound("No booking of yours has this id.")
    return booking


class _Keep(Enum):
    """The default of ``_move``'s field arguments: leave that field as it is."""

    KEEP = auto()


_KEEP = _Keep.KEEP


def _move(
    booking: Booking,
    status: str,
    *,
    step: str,
    detail: str = "",
    seats: list[dict[str, Any]] | _Keep = _KEEP,
    seat_ids: list[str] | _Keep = _KEEP,
    total_cents: int | _Keep = _KEEP,
    currency: str | _Keep = _KEEP,
    hold_id: str | _Keep | None = _KEEP,
    hold_expires_at: datetime | _Keep | None = _KEEP,
    payment_attempt: int | _Keep = _KEEP,
    payment_id: str | _Keep = _KEEP,
    paid: bool | _Keep = _KEEP,
    failure_code: str | _Keep = _KEEP,
    failure_reason: str | _Keep = _KEEP,
    refund_state: str | _Keep = _KEEP,
    refund_cents: int | _Keep | None = _KEEP,
) -> None:
    """Record a transition (or, with the same status, a timeline step) on a locked booking.

    Besides ``status``, the fields given (the rest keep their values) are written with it.
    """
    now = timezone.now()
    previous = booking.status
    given: dict[str, object] = {
        "seats": seats,
        "seat_ids": seat_ids,
        "total_cents": total_cents,
        "currency": currency,
        "hold_id": hold_id,
        "hold_expires_at": hold_expires_at,
        "payment_attempt": payment_attempt,
        "payment_id": payment_id,
        "paid": paid,
        "failure_code": failure_code,
        "failure_reason": failure_reason,
        "refund_state": refund_state,
        "refund_cents": refund_cents,
    }
    finished = {"finished_at": now} if status in TERMINAL or status == BookingStatus.CONFIRMED else {}
    _write(booking, {**given, "status": status, "updated_at": now, **finished})
    BookingStep.objects.create(booking=booking, step=step, status=status, detail=detail[:500], at=now)
    booking_id, version = str(booking.id), booking.version
    db.on_commit(lambda: status_feed.announce_version(booking_id, version), using=_db())
    if status != previous:
        created_at = booking.created_at

        def observe() -> None:
            status_feed.announce(booking_id, status)
            metrics.entered(status)
            if status in TERMINAL or status == BookingStatus.CONFIRMED:
                metrics.finished(status, (now - created_at).total_seconds())

        db.on_commit(observe, using=_db())


def _write(row: Booking | TicketTransfer, changes: dict[str, object]) -> None:
    """Write ``changes`` (less the fields left ``_KEEP``) to a locked row, bumping its version.

    The instance is updated too, so the caller goes on with what the database now holds.
    """
    changes = {name: value for name, value in changes.items() if value is not _KEEP}
    type(row).objects.filter(pk=row.pk).update(version=F("version") + 1, **changes)
    for name, value in changes.items():
        setattr(row, name, value)
    row.version += 1


def _emit(payload: Any, booking: Booking) -> None:
    emit(payload, aggregate_id=str(booking.id), using=_db())


def _release(booking: Booking, hold_id: str, seat_ids: Sequence[str], reason: str) -> None:
    _emit(
        SeatsRelease(
            booking_id=str(booking.id),
            event_id=str(booking.event_id),
            hold_id=hold_id,
            seat_ids=list(seat_ids),
            reason=reason,
        ),
        booking,
    )


def _confirm(booking: Booking) -> None:
    """CONFIRMED: tell the buyer and have inventory sell the held seats."""
    _emit(
        BookingConfirmed(
            **_facts(booking),
            seats=[SeatLabel(**seat) for seat in booking.seats],
            total_cents=booking.total_cents or 0,
            currency=booking.currency,
        ),
        booking,
    )
    _emit(
        SeatsConfirm(
            booking_id=str(booking.id),
            event_id=str(booking.event_id),
            hold_id=str(booking.hold_id),
            seat_ids=[seat["seat_id"] for seat in booking.seats],
        ),
        booking,
    )


def _request_refund(
    booking: Booking,
    reason_code: str,
    reason: str,
    *,
    amount_cents: int | None = None,
    refund_request_id: str | None = None,
) -> None:
    _emit(
        PaymentRefundRequested(
            booking_id=str(booking.id),
            reason_code=cast("schemas.RefundReason", reason_code),  # the event validates it
            reason=reason,
            amount_cents=amount_cents,
            refund_request_id=refund_request_id,
        ),
        booking,
    )


@db.transactional("bookings")
def booking_on_seats_locked(*, payload: SeatsLocked) -> None:
    """Seats are held: ask for the payment (PENDING -> SEATS_LOCKED).

    For a paid booking whose hold had expired, this is its seats coming back: CONFIRMED.
    Seats held for a booking that no longer wants them are released straight away.
    """
    booking = _locked(payload.booking_id)
    seats = [seat.model_dump() for seat in payload.seats]
    if booking is None:
        logger.warning("seats held for unknown booking %s; releasing them", payload.booking_id)
        emit(
            SeatsRelease(
                booking_id=payload.booking_id,
                event_id=payload.event_id,
                hold_id=payload.hold_id,
                seat_ids=[s["seat_id"] for s in seats],
                reason="unknown booking",
            ),
            aggregate_id=payload.booking_id,
            using=_db(),
        )
        return
    if booking.status == BookingStatus.PENDING:
        attempt = booking.payment_attempt + 1
        _move(
            booking,
            BookingStatus.SEATS_LOCKED,
            step=TimelineStep.SEATS_LOCKED,
            detail=f"{len(seats)} seats held until {payload.hold_expires_at:%H:%M:%S} UTC",
            seats=seats,
            total_cents=payload.total_cents,
            currency=payload.currency,
            hold_id=payload.hold_id,
            hold_expires_at=payload.hold_expires_at,
            payment_attempt=attempt,
        )
        if payload.total_cents == 0:
            _move(
                booking,
                BookingStatus.CONFIRMED,
                step=TimelineStep.BOOKING_CONFIRMED,
                detail="free tickets: nothing to pay",
            )
            _confirm(booking)
            return
        _emit(
            PaymentRequested(
                booking_id=str(booking.id),
                attempt=attempt,
                payment_method=booking.payment_method,
                amount_cents=payload.total_cents,
                currency=payload.currency,
                customer=_customer(booking),
                description=f"{booking.event_name}: {len(seats)} seat(s), booking {booking.reference}",
            ),
            booking,
        )
        return
    if booking.status == BookingStatus.EXPIRED and booking.paid and not booking.refund_state:
        _move(
            booking,
            BookingStatus.CONFIRMED,
            step=TimelineStep.SEATS_LOCKED,
            detail="the seats were still free after the late payment",
            seats=seats,
            total_cents=payload.total_cents,
            hold_id=payload.hold_id,
            hold_expires_at=payload.hold_expires_at,
            failure_code="",
            failure_reason="",
        )
        _confirm(booking)
        return
    if str(booking.hold_id) == payload.hold_id:
        return  # the hold this booking already knows about
    _release(booking, payload.hold_id, [s["seat_id"] for s in seats], f"booking is {booking.status}")
    _move(
        booking, booking.status, step=TimelineStep.SEATS_LOCKED, detail="seats held too late; released again"
    )


@db.transactional("bookings")
def booking_on_seats_lock_failed(*, payload: SeatsLockFailed) -> None:
    """No seats: a new booking fails; a late-paid one is refunded. Otherwise nothing to do."""
    booking = _locked(payload.booking_id)
    if booking is None:
        return
    if booking.status == BookingStatus.PENDING:
        _move(
            booking,
            BookingStatus.FAILED,
            step=TimelineStep.SEATS_LOCK_FAILED,
            detail=payload.reason,
            failure_code=payload.reason_code,
            failure_reason=payload.reason,
        )
        _emit(
            BookingFailed(**_facts(booking), reason_code=payload.reason_code, reason=payload.reason), booking
        )
    elif booking.status == BookingStatus.EXPIRED and booking.paid and not booking.refund_state:
        reason = (
            "Your payment arrived after your hold had expired, and the seats were sold meanwhile. "
            "We are refunding your payment in full."
        )
        _move(
            booking,
            BookingStatus.EXPIRED,
            step=TimelineStep.SEATS_LOCK_FAILED,
            detail=payload.reason,
            failure_code=BookingFailureCode.LATE_PAYMENT_SEATS_GONE,
            failure_reason=reason,
            refund_state=RefundState.REQUESTED,
        )
        _request_refund(booking, "late_payment", reason)


@db.transactional("bookings")
def booking_on_payment_processed(*, payload: PaymentProcessed) -> None:
    """The payment's outcome decides the booking; a payment nobody can use any more is refunded."""
    booking = _locked(payload.booking_id)
    if booking is None:
        logger.error("payment %s for unknown booking %s", payload.payment_id, payload.booking_id)
        return
    if payload.status == "FAILED":
        if booking.status != BookingStatus.SEATS_LOCKED:
            return
        reason = payload.failure_message or "Your payment was declined."
        hold_id, seat_ids = str(booking.hold_id), [seat["seat_id"] for seat in booking.seats]
        _move(
            booking,
            BookingStatus.FAILED,
            step=TimelineStep.PAYMENT_PROCESSED,
            detail=f"payment failed: {payload.failure_code or 'declined'}",
            failure_code=payload.failure_code or PaymentFailureCode.PAYMENT_FAILED,
            failure_reason=reason,
        )
        _release(booking, hold_id, seat_ids, "payment failed")
        _emit(BookingFailed(**_facts(booking), reason_code=booking.failure_code, reason=reason), booking)
        return
    if booking.paid and booking.payment_id == payload.payment_id:
        return  # this success is already known
    if booking.status == BookingStatus.SEATS_LOCKED:
        _move(
            booking,
            BookingStatus.CONFIRMED,
            step=TimelineStep.PAYMENT_PROCESSED,
            detail="paid",
            paid=True,
            payment_id=payload.payment_id,
        )
        _confirm(booking)
    elif booking.status == BookingStatus.EXPIRED and not booking.paid:
        _move(
            booking,
            BookingStatus.EXPIRED,
            step=TimelineStep.PAYMENT_PROCESSED,
            detail="paid after the hold expired; asking for the seats back",
            paid=True,
            payment_id=payload.payment_id,
        )
        _emit(
            SeatsReacquire(
                booking_id=str(booking.id), event_id=str(booking.event_id), seat_ids=booking.seat_ids
            ),
            booking,
        )
    elif booking.status in (BookingStatus.CANCELLED, BookingStatus.FAILED):
        _move(
            booking,
            booking.status,
            step=TimelineStep.PAYMENT_PROCESSED,
            detail="paid after the booking ended; refunding",
            paid=True,
            payment_id=payload.payment_id,
            refund_state=RefundState.REQUESTED,
        )
        code = "booking_cancelled" if booking.status == BookingStatus.CANCELLED else "late_payment"
        _request_refund(booking, code, "The booking had already ended when the payment went through.")
    else:
        logger.error(
            "payment %s succeeded for booking %s in state %s; not applied",
            payload.payment_id,
            booking.id,
            booking.status,
        )


@db.transactional("bookings")
def booking_on_payment_refunded(*, payload: PaymentRefunded) -> None:
    """Note the refund on the booking's timeline and on the cancellation it pays back.

    A refund naming a cancellation (``refund_request_id``) adds to what that cancellation
    got back; the booking is REFUNDED once no cancellation waits for its refund. One naming
    none (a late payment's, or a request from before cancellations had ids) ends the
    booking's refund. Again: the cancellation already lists this refund id, or the booking
    is already REFUNDED; nothing changes.
    """
    booking = _locked(payload.booking_id)
    if booking is None:
        return
    amount = f"{decimal_amount(payload.amount_cents)} {payload.currency}"
    cancellation = _locked_cancellation(booking, payload.refund_request_id)
    if cancellation is None:
        if booking.refund_state == RefundState.REFUNDED:
            return
        _move(
            booking,
            booking.status,
            step=TimelineStep.PAYMENT_REFUNDED,
            detail=f"refunded {amount}",
            refund_state=RefundState.REFUNDED,
        )
        return
    if payload.refund_id in cancellation.refund_ids:
        return
    refunded = cancellation.refunded_cents + payload.amount_cents
    done = refunded >= (cancellation.refund_cents or 0)
    now = timezone.now()
    BookingCancellation.objects.filter(pk=cancellation.pk).update(
        refunded_cents=refunded,
        refund_ids=[*cancellation.refund_ids, payload.refund_id],
        refund_state=RefundState.REFUNDED if done else cancellation.refund_state,
        refunded_at=now if done else None,
    )
    detail = f"refunded {amount}"
    if cancellation.partial:
        count = len(cancellation.seat_ids)
        detail += f" for the {count} cancelled seat{'s' * (count != 1)}"
    _move(
        booking,
        booking.status,
        step=TimelineStep.PAYMENT_REFUNDED,
        detail=detail,
        refund_state=_refund_state(booking),
    )


def _locked_cancellation(booking: Booking, refund_request_id: str | None) -> BookingCancellation | None:
    """The booking's cancellation a refund names, locked; None when it names none of them."""
    if not refund_request_id or not is_uuid(refund_request_id):
        return None
    return (
        BookingCancellation.objects.select_for_update().filter(pk=refund_request_id, booking=booking).first()
    )


def _refund_state(booking: Booking) -> str:
    """The booking's refund state from its cancellations': REQUESTED while one waits, else REFUNDED.

    Blank when none of them asked for a refund.
    """
    states = set(BookingCancellation.objects.filter(booking=booking).values_list("refund_state", flat=True))
    if RefundState.REQUESTED in states:
        return RefundState.REQUESTED
    return RefundState.REFUNDED if RefundState.REFUNDED in states else ""


# --- tickets (issued, revoked and scanned by checkin) ---------------------------------------------


def _ticket_placeholder(booking: Booking, ticket_id: str, seat_id: str = "") -> BookingTicket:
    """The booking's copy of a ticket, created empty when a later event overtook ``tickets.issued``.

    Topics are ordered one by one, so a revocation or a scan can arrive first; the
    placeholder keeps its status and ``tickets.issued`` fills in the seat and secret later.
    """
    ticket, _ = BookingTicket.objects.get_or_create(
        id=ticket_id, defaults={"booking": booking, "seat_id": seat_id}
    )
    return ticket


def _seat_label(booking: Booking, seat_id: str) -> str:
    for seat in booking.seats:
        if seat["seat_id"] == seat_id:
            return f"{seat['section']}, row {seat['row']}, seat {seat['number']}"
    return "a seat"


def booking_on_tickets_issued(*, payload: TicketsIssued) -> None:
    """Keep the booking's tickets for its owner, and note them on the timeline.

    A ticket already known from an earlier revocation or scan keeps its status and gains its
    seat and secret. Again: every ticket already has its secret; nothing changes.
    """
    with db.atomic(_db()):
        booking = _locked(payload.booking_id)
        if booking is None:
            return
        known = {str(t.pk): t for t in BookingTicket.objects.filter(booking=booking)}
        issued = 0
        for ticket in payload.tickets:
            copy = known.get(ticket.ticket_id)
            if copy is None:
                BookingTicket.objects.create(
                    id=ticket.ticket_id, booking=booking, seat_id=ticket.seat_id, secret=ticket.secret
                )
            elif not copy.secret:
                BookingTicket.objects.filter(pk=copy.pk).update(seat_id=ticket.seat_id, secret=ticket.secret)
            else:
                continue
            issued += 1
        if issued:
            _move(
                booking,
                booking.status,
                step=TimelineStep.TICKETS_ISSUED,
                detail=f"{issued} ticket{'s' * (issued != 1)}",
            )


def booking_on_tickets_revoked(*, payload: TicketsRevoked) -> None:
    """Mark the booking's tickets revoked. Again: already revoked; nothing changes."""
    with db.atomic(_db()):
        booking = _locked(payload.booking_id)
        if booking is None:
            return
        received = _received_tickets_mark(booking, payload.ticket_ids, BookingTicket.Status.REVOKED)
        owned = [ticket_id for ticket_id in payload.ticket_ids if ticket_id not in received]
        for ticket_id in owned:
            _ticket_placeholder(booking, ticket_id)
        changed = (
            BookingTicket.objects.filter(booking=booking, id__in=owned)
            .exclude(status=BookingTicket.Status.REVOKED)
            .update(status=BookingTicket.Status.REVOKED, updated_at=timezone.now())
        )
        if changed:
            _move(
                booking,
                booking.status,
                step=TimelineStep.TICKETS_REVOKED,
                detail=f"{changed} ticket{'s' * (changed != 1)}",
            )


def booking_on_ticket_scanned(*, payload: TicketScanned) -> None:
    """Log the scan on the booking's timeline; an accepted entry marks the ticket checked in.

    Again: the kernel's inbox drops the copy; were it replayed past the inbox, the step
    would be noted twice (the ticket's status is unchanged by it).
    """
    with db.atomic(_db()):
        booking = _locked(payload.booking_id)
        if booking is None:
            return
        admitted = payload.type == "entry" and payload.accepted
        if _received_tickets_mark(
            booking, [payload.ticket_id], BookingTicket.Status.CHECKED_IN if admitted else ""
        ):
            # A transfer's recipient's ticket: its status lives on their transfer, not the owner's list.
            ticket = None
        else:
            ticket = _ticket_placeholder(booking, payload.ticket_id, payload.seat_id)
        if admitted and ticket is not None and ticket.status == BookingTicket.Status.VALID:
            BookingTicket.objects.filter(pk=ticket.pk).update(
                status=BookingTicket.Status.CHECKED_IN, updated_at=timezone.now()
            )
        verdict = "admitted" if payload.accepted else f"refused ({payload.result.replace('_', ' ')})"
        offline = ", scanned offline" if payload.forced else ""
        detail = f"{_seat_label(booking, payload.seat_id)}: {payload.type} {verdict} at {payload.scanned_at:%H:%M:%S} UTC{offline}"
        _move(booking, booking.status, step=TimelineStep.TICKET_SCANNED, detail=detail)


# --- the buyer cancels ------------------------------------------------------------------------------


def booking_cancel(
    *, booking_id: str, user_id: str, is_staff: bool = False, seat_ids: Sequence[str] | None = None
) -> Booking:
    """Cancel a booking, or some of its seats, freeing them and refunding the policy's share.

    Only its buyer (or staff) may, and only before the event starts. Without ``seat_ids``,
    or naming every seat the booking still holds, the whole booking is cancelled
    (CANCELLED). A proper subset of a CONFIRMED booking's seats cancels those seats only:
    the booking stays CONFIRMED with the others (:func:`_cancel_seats`). Raises
    :class:`InvalidInput` for an empty list, a seat twice, seats the booking never had
    (``unknown_seats``) or already cancelled (``seats_already_cancelled``), and
    :class:`Conflict` (``partial_cancel_not_allowed``) for some seats of a booking that is
    not confirmed.
    """
    with db.atomic(_db()):
        booking = _locked_own(booking_id, user_id, is_staff=is_staff)
        if booking.is_terminal:
            raise Conflict(
                f"This booking is already {booking.get_status_display().lower()}; there is nothing to cancel.",
                code=BookingErrorCode.ALREADY_FINISHED,
            )
        if booking.event_starts_at <= timezone.now():
            raise Conflict(
                "The event has already started; bookings can no longer be cancelled.",
                code=BookingErrorCode.TOO_LATE,
            )
        by_staff = is_staff and str(booking.user_id) != str(user_id)
        if seat_ids is not None:
            chosen = _seats_to_cancel(booking, seat_ids)
            if set(chosen) != {str(seat_id) for seat_id in booking.seat_ids}:
                _cancel_seats(booking, chosen, by_staff=by_staff)
                return booking
        _cancel_all(booking, by_staff=by_staff)
    return booking


def _cancel_all(booking: Booking, *, by_staff: bool) -> None:
    """CANCELLED: free every seat the booking holds and refund the policy's share of its total."""
    was_confirmed = booking.status == BookingStatus.CONFIRMED
    amount = percent = None
    detail = "cancelled by staff" if by_staff else "cancelled by the buyer"
    if booking.paid:
        percent = booking_refund_percent(booking=booking)
        amount = refund_cents(amount_cents=booking.total_cents or 0, percent=percent)
        refund_words = (
            f"refunding {percent}%, {decimal_amount(amount)} {booking.currency}"
            if amount
            else "no refund under the event's refund policy"
        )
        detail = f"{detail}; {refund_words}"
    refund_due = bool(amount)
    cancellation = BookingCancellation.objects.create(
        booking=booking,
        partial=False,
        seat_ids=list(booking.seat_ids),
        seats=list(booking.seats),
        by_staff=by_staff,
        refund_percent=percent,
        refund_cents=amount,
        refund_state=RefundState.REQUESTED if refund_due else "",
    )
    earlier = booking.refund_cents
    _move(
        booking,
        BookingStatus.CANCELLED,
        step=TimelineStep.BOOKING_CANCELLED,
        detail=detail,
        refund_state=_refund_state(booking),
        refund_cents=amount if earlier is None else earlier + (amount or 0),
    )
    _emit(
        BookingCancelled(
            **_facts(booking),
            seat_ids=booking.seat_ids,
            was_confirmed=was_confirmed,
            refund_due=refund_due,
            reason="cancelled at the buyer's request",
            refund_cents=amount,
        ),
        booking,
    )
    if refund_due:
        _request_refund(
            booking,
            "booking_cancelled",
            "The booking was cancelled.",
            amount_cents=amount,
            refund_request_id=str(cancellation.id),
        )
    # Offers of its tickets end with it: their links then say so (409 transfer_cancelled).
    _withdraw_transfers(booking, reason="The booking was cancelled.")


def _seats_to_cancel(booking: Booking, seat_ids: Sequence[str]) -> list[str]:
    """``seat_ids``, checked against the seats ``booking`` holds, in the booking's order."""
    wanted = [str(seat_id) for seat_id in seat_ids]
    asked = set(wanted)
    if not wanted or len(asked) != len(wanted):
        raise InvalidInput(
            "Name each seat to cancel once.", details={"fields": {"seat_ids": ["one or more, no repeats"]}}
        )
    held = [str(seat_id) for seat_id in booking.seat_ids]
    cancelled = {
        str(seat_id)
        for ids in BookingCancellation.objects.filter(booking=booking).values_list("seat_ids", flat=True)
        for seat_id in ids
    }
    gone = sorted(asked & cancelled)
    if gone:
        raise InvalidInput(
            "Some of these seats were already cancelled.",
            code=BookingErrorCode.SEATS_ALREADY_CANCELLED,
            details={"fields": {"seat_ids": ["already cancelled"]}, "cancelled_seat_ids": gone},
        )
    unknown = sorted(asked - set(held))
    if unknown:
        raise InvalidInput(
            "Some of these seats are not seats of this booking.",
            code=BookingErrorCode.UNKNOWN_SEATS,
            details={"fields": {"seat_ids": ["not seats of this booking"]}, "unknown_seat_ids": unknown},
        )
    return [seat_id for seat_id in held if seat_id in asked]


def _cancel_seats(booking: Booking, seat_ids: list[str], *, by_staff: bool) -> None:
    """Cancel some seats of a CONFIRMED booking, which keeps the others.

    The seats leave ``seat_ids``, ``seats`` and ``total_cents``; the refund policy's share
    of their prices (now) is added to ``refund_cents`` and asked of payments with this
    cancellation's id. ``booking.seats-cancelled`` has inventory free them and checkin revoke
    their tickets; pending transfer offers of those tickets are withdrawn.
    """
    if booking.status != BookingStatus.CONFIRMED:
        raise Conflict(
            f"This booking is {booking.get_status_display().lower()}; only a confirmed booking's seats "
            "can be cancelled one by one. Cancel the whole booking instead.",
            code=BookingErrorCode.PARTIAL_CANCEL_NOT_ALLOWED,
        )
    chosen = set(seat_ids)
    cancelled = [seat for seat in booking.seats if seat["seat_id"] in chosen]
    kept = [seat for seat in booking.seats if seat["seat_id"] not in chosen]
    price = sum(seat["price_cents"] for seat in cancelled)
    percent = booking_refund_percent(booking=booking) if booking.paid else 0
    amount = refund_cents(amount_cents=price, percent=percent)
    cancellation = BookingCancellation.objects.create(
        booking=booking,
        partial=True,
        seat_ids=seat_ids,
        seats=cancelled,
        by_staff=by_staff,
        refund_percent=percent if booking.paid else None,
        refund_cents=amount if booking.paid else None,
        refund_state=RefundState.REQUESTED if amount else "",
    )
    count, held = len(cancelled), len(booking.seats)
    labels = "; ".join(_seat_label(booking, seat["seat_id"]) for seat in cancelled)
    detail = f"cancelled {count} of {held} seats ({labels}) {'by staff' if by_staff else 'by the buyer'}"
    if booking.paid:
        detail += (
            f"; refunding {percent}%, {decimal_amount(amount)} {booking.currency}"
            if amount
            else "; no refund under the event's refund policy"
        )
    facts = _facts(booking)
    _move(
        booking,
        booking.status,
        step=TimelineStep.BOOKING_SEATS_CANCELLED,
        detail=detail,
        seat_ids=[seat_id for seat_id in booking.seat_ids if str(seat_id) not in chosen],
        seats=kept,
        total_cents=(booking.total_cents or 0) - price,
        refund_cents=(booking.refund_cents or 0) + amount if booking.paid else booking.refund_cents,
        refund_state=_refund_state(booking),
    )
    _emit(
        BookingSeatsCancelled(
            **facts,
            cancellation_id=str(cancellation.id),
            seat_ids=seat_ids,
            seats=[SeatLabel(**seat) for seat in cancelled],
            refund_percent=percent,
            refund_cents=amount,
            currency=booking.currency,
        ),
        booking,
    )
    if amount:
        _request_refund(
            booking,
            "seats_cancelled",
            f"{count} seat{'s' * (count != 1)} of the booking {'were' if count != 1 else 'was'} cancelled.",
            amount_cents=amount,
            refund_request_id=str(cancellation.id),
        )
    tickets = {
        str(pk)
        for pk in BookingTicket.objects.filter(booking=booking, seat_id__in=chosen).values_list(
            "id", flat=True
        )
    }
    _withdraw_transfers(booking, reason="Those seats were cancelled.", ticket_ids=tickets)
    db.on_commit(lambda: metrics.seats_cancelled(count), using=_db())


def _withdraw_transfers(booking: Booking, *, reason: str, ticket_ids: set[str] | None = None) -> None:
    """End the booking's PENDING transfer offers (those offering any of ``ticket_ids``, if given)."""
    pending = TicketTransfer.objects.filter(booking=booking, status=TicketTransfer.Status.PENDING)
    if ticket_ids is not None:
        offers = pending.values_list("id", "ticket_ids")
        pending = pending.filter(pk__in=[pk for pk, offered in offers if ticket_ids & set(offered)])
    pending.update(
        status=TicketTransfer.Status.CANCELLED,
        reason=reason,
        version=F("version") + 1,
        updated_at=timezone.now(),
    )


# --- holds that run out ------------------------------------------------------------------------------


def _sweep_candidates(criteria: Q, *, order_by: str, limit: int) -> list[uuid.UUID]:
    """Ids of the bookings a sweep should look at, oldest first (read without locks)."""
    return list(Booking.objects.filter(criteria).order_by(order_by).values_list("id", flat=True)[:limit])


def _lock_if_still(criteria: Q, booking_id: uuid.UUID) -> Booking | None:
    """The booking, locked, if it still matches ``criteria`` and no other sweep holds it.

    SKIP LOCKED plus the re-check make sweeps on several workers at once each end a booking
    once, and leave alone a booking that moved on since it was listed.
    """
    return Booking.objects.select_for_update(skip_locked=True).filter(criteria, pk=booking_id).first()


def bookings_expire_overdue(*, now: datetime | None = None, limit: int = 500) -> int:
    """Expire bookings whose seat hold ran out before payment; returns how many.

    Safe to run on several workers at once: each booking is taken with SKIP LOCKED and
    re-checked under its lock, in its own transaction.
    """
    now = now or timezone.now()
    overdue = Q(status=BookingStatus.SEATS_LOCKED, hold_expires_at__lt=now)
    expired = 0
    for booking_id in _sweep_candidates(overdue, order_by="hold_expires_at", limit=limit):
        with db.atomic(_db()):
            booking = _lock_if_still(overdue, booking_id)
            if booking is None:
                continue
            hold_id, seat_ids = str(booking.hold_id), [seat["seat_id"] for seat in booking.seats]
            _move(
                booking,
                BookingStatus.EXPIRED,
                step=TimelineStep.HOLD_EXPIRED,
                detail="the payment did not complete in time",
                failure_code=BookingFailureCode.HOLD_EXPIRED,
                failure_reason="Your seats were held for a limited time and the payment did not complete in time.",
            )
            _release(booking, hold_id, seat_ids, "hold expired")
            _emit(BookingExpired(**_facts(booking), seat_ids=booking.seat_ids), booking)
            expired += 1
    return expired


def bookings_time_out_pending(*, now: datetime | None = None, limit: int = 500) -> int:
    """End bookings stuck PENDING past ``settings.BOOKING_PENDING_TIMEOUT``: FAILED (``timed_out``).

    A booking is PENDING for well under a second unless its ``booking.initiated`` or the
    answer to it (``seats.locked`` / ``seats.lock-failed``) was lost: dead-lettered, or held
    up by an outage longer than the timeout. Nothing was charged (payment is requested only
    from SEATS_LOCKED), so the booking fails and ``booking.failed`` tells the buyer. Seats
    inventory did hold for it come back by themselves: a late ``seats.locked`` (a replayed
    dead letter) is answered with ``seats.release`` because the booking has ended, and a
    hold whose ``seats.locked`` never arrives is released by inventory's own sweep of lapsed
    holds.

    Safe to run on several workers at once, and again: each booking is taken with SKIP
    LOCKED and re-checked under its lock, in its own transaction; a booking no longer
    PENDING is left alone. The door's seat claims of a booking it ends are dropped (inventory's
    rows still decide). Returns how many bookings it ended.
    """
    now = now or timezone.now()
    cutoff = now - settings.BOOKING_PENDING_TIMEOUT
    stuck = Q(status=BookingStatus.PENDING, created_at__lt=cutoff)
    timed_out = 0
    reason = "We could not confirm your seats in time, so this booking was not completed. You have not been charged."
    for booking_id in _sweep_candidates(stuck, order_by="created_at", limit=limit):
        with db.atomic(_db()):
            booking = _lock_if_still(stuck, booking_id)
            if booking is None:
                continue
            _move(
                booking,
                BookingStatus.FAILED,
                step=TimelineStep.BOOKING_TIMED_OUT,
                detail=f"no answer about the seats within {settings.BOOKING_PENDING_TIMEOUT}",
                failure_code=BookingFailureCode.TIMED_OUT,
                failure_reason=reason,
            )
            _emit(
                BookingFailed(**_facts(booking), reason_code=BookingFailureCode.TIMED_OUT, reason=reason),
                booking,
            )
            event_id, seat_ids, owner = str(booking.event_id), list(booking.seat_ids), str(booking.id)

            def after_commit(
                event_id: str = event_id, seat_ids: list[str] = seat_ids, owner: str = owner
            ) -> None:
                # The door's claims would turn buyers away until the hold's length is up.
                seat_claims.release(event_id=event_id, seat_ids=seat_ids, owner=owner)
                metrics.timed_out()

            db.on_commit(after_commit, using=_db())
            timed_out += 1
    if timed_out:
        logger.warning(
            "%d booking(s) stuck PENDING timed out (a lost booking.initiated or seats.locked?)", timed_out
        )
    return timed_out


# --- ticket transfers (issue 14) ---------------------------------------------------------------

TRANSFER_SALT = "ticketflow.bookings.transfer"
TRANSFER_DAYS = 7
"""How long a transfer's link may be accepted (and never once the event has started)."""


def transfer_token(transfer: TicketTransfer) -> str:
    """The signed token of the recipient's accept link: it names the transfer and its address."""
    return signing.dumps({"t": str(transfer.id), "e": transfer.recipient_email}, salt=TRANSFER_SALT)


def _transfer_from_token(token: str) -> str:
    """The transfer id a token names; 404 for a token that is not ours or has run out."""
    try:
        claims = signing.loads(token, salt=TRANSFER_SALT, max_age=TRANSFER_DAYS * 86_400)
        transfer_id = str(uuid.UUID(claims["t"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise NotFound(
            "This transfer link is not valid or has expired.", code=BookingErrorCode.INVALID_TRANSFER_LINK
        ) from None
    return transfer_id


def _transferable(booking: Booking) -> None:
    """Raise unless tickets of ``booking`` (locked) may change hands now."""
    if booking.status != BookingStatus.CONFIRMED:
        raise Conflict(
            f"This booking is {booking.get_status_display().lower()}; only a confirmed booking's tickets "
            "can be transferred.",
            code=BookingErrorCode.BOOKING_NOT_CONFIRMED,
        )
    if booking.event_starts_at <= timezone.now():
        raise Conflict(
            "The event has already started; tickets can no longer be transferred.",
            code=BookingErrorCode.TOO_LATE,
        )
    event = BookableEvent.objects.filter(pk=booking.event_id).first()
    if event is not None and not event.transfers_allowed:
        raise Conflict(
            "The organiser does not allow ticket transfers for this event.",
            code=BookingErrorCode.TRANSFERS_NOT_ALLOWED,
        )


TICKET_REFUSALS: dict[str, tuple[BookingErrorCode, str]] = {
    BookingTicket.Status.TRANSFERRED: (BookingErrorCode.TICKET_TRANSFERRED, "has already been transferred"),
    BookingTicket.Status.CHECKED_IN: (BookingErrorCode.TICKET_CHECKED_IN, "is already checked in"),
    BookingTicket.Status.REVOKED: (BookingErrorCode.TICKET_REVOKED, "has been revoked"),
}

TRANSFER_REFUSALS: dict[str, BookingErrorCode] = {
    TicketTransfer.Status.REFUSED: BookingErrorCode.TRANSFER_REFUSED,
    TicketTransfer.Status.CANCELLED: BookingErrorCode.TRANSFER_CANCELLED,
}
"""What accepting a transfer that ended this way answers."""


def _tickets_for_transfer(
    booking: Booking, ticket_ids: Sequence[str], *, pending: set[str]
) -> list[BookingTicket]:
    """The booking's tickets ``ticket_ids``, each valid and not offered in ``pending`` transfers."""
    if not ticket_ids or len(set(ticket_ids)) != len(ticket_ids):
        raise InvalidInput(
            "Name each ticket to transfer once.",
            details={"fields": {"ticket_ids": ["one or more, no repeats"]}},
        )
    known = {str(t.pk): t for t in BookingTicket.objects.filter(booking=booking).exclude(secret="")}
    unknown = [ticket_id for ticket_id in ticket_ids if ticket_id not in known]
    if unknown:
        raise InvalidInput(
            "These are not tickets of this booking: " + ", ".join(unknown) + ".",
            code=BookingErrorCode.UNKNOWN_TICKET,
            details={"fields": {"ticket_ids": unknown}},
        )
    for ticket_id in ticket_ids:
        ticket = known[ticket_id]
        if ticket.status in TICKET_REFUSALS:
            code, what = TICKET_REFUSALS[ticket.status]
            raise Conflict(f"The ticket for {_seat_label(booking, ticket.seat_id)} {what}.", code=code)
        if ticket_id in pending:
            raise Conflict(
                f"The ticket for {_seat_label(booking, ticket.seat_id)} is already offered in a pending transfer; "
                "cancel that one first.",
                code=BookingErrorCode.TRANSFER_PENDING,
            )
    return [known[ticket_id] for ticket_id in ticket_ids]


def _pending_ticket_ids(booking: Booking, *, exclude: str | None = None) -> set[str]:
    open_transfers = TicketTransfer.objects.filter(
        booking=booking, status__in=(TicketTransfer.Status.PENDING, TicketTransfer.Status.ACCEPTED)
    )
    if exclude:
        open_transfers = open_transfers.exclude(pk=exclude)
    return {ticket_id for transfer in open_transfers for ticket_id in transfer.ticket_ids}


def transfer_request(
    *, booking_id: str, user_id: str, ticket_ids: Sequence[str], email: str
) -> TicketTransfer:
    """Offer tickets of a confirmed booking to ``email``; the recipient is emailed a link to accept.

    Only the booking's owner may (404 for anyone else's booking), before the event starts, if
    the organiser allows transfers, and only for valid tickets not already on offer.
    """
    email = email.strip()
    with db.atomic(_db()):
        booking = _locked_own(booking_id, user_id)
        if email.lower() == booking.customer_email.lower():
            raise InvalidInput(
                "These tickets are already yours; transfer them to someone else's address.",
                code=BookingErrorCode.TRANSFER_TO_SELF,
                details={"fields": {"email": ["your own address"]}},
            )
        _transferable(booking)
        tickets = _tickets_for_transfer(booking, list(ticket_ids), pending=_pending_ticket_ids(booking))
        now = timezone.now()
        transfer = TicketTransfer.objects.create(
            booking=booking,
            ticket_ids=[str(t.pk) for t in tickets],
            recipient_email=email,
            expires_at=min(now + timedelta(days=TRANSFER_DAYS), booking.event_starts_at),
            created_at=now,
            updated_at=now,
        )
        labels = [_seat_label(booking, t.seat_id) for t in tickets]
        _move(
            booking,
            booking.status,
            step=TimelineStep.TICKET_TRANSFER_REQUESTED,
            detail=f"{len(tickets)} ticket{'s' * (len(tickets) != 1)} offered to {email}",
        )
        _emit(
            TicketTransferRequested(
                **_facts(booking),
                transfer_id=str(transfer.id),
                recipient_email=email,
                ticket_ids=transfer.ticket_ids,
                seat_labels=labels,
                accept_url=f"{settings.PUBLIC_BASE_URL}/transfers/{transfer_token(transfer)}",
                expires_at=transfer.expires_at,
            ),
            booking,
        )
    return transfer


def _locked_transfer(booking: Booking, transfer_id: str) -> TicketTransfer | None:
    return TicketTransfer.objects.select_for_update().filter(pk=transfer_id, booking=booking).first()


def _transfer_move(
    transfer: TicketTransfer,
    status: str,
    *,
    recipient_user_id: str | _Keep = _KEEP,
    recipient_name: str | _Keep = _KEEP,
    reason: str | _Keep = _KEEP,
    tickets: list[dict[str, Any]] | _Keep = _KEEP,
) -> None:
    given: dict[str, object] = {
        "recipient_user_id": recipient_user_id,
        "recipient_name": recipient_name,
        "reason": reason,
        "tickets": tickets,
    }
    _write(transfer, {**given, "status": status, "updated_at": timezone.now()})


def transfer_accept(*, token: str, buyer: Buyer) -> TicketTransfer:
    """Accept a transfer as its recipient: checkin then revokes the old tickets and issues new ones.

    ``buyer`` is the signed-in user; their address must be the one the tickets were offered
    to (403 otherwise). Accepting again, as the same recipient, answers the same transfer.
    """
    transfer_id = _transfer_from_token(token)
    booking_id = TicketTransfer.objects.filter(pk=transfer_id).values_list("booking_id", flat=True).first()
    if booking_id is None:
        raise NotFound(
            "This transfer link is not valid or has expired.", code=BookingErrorCode.INVALID_TRANSFER_LINK
        )
    with db.atomic(_db()):
        booking = _locked(str(booking_id))
        transfer = _locked_transfer(booking, transfer_id) if booking is not None else None
        if booking is None or transfer is None:  # gone since the link was read
            raise NotFound(
                "This transfer link is not valid or has expired.", code=BookingErrorCode.INVALID_TRANSFER_LINK
            )
        if buyer.email.lower() != transfer.recipient_email.lower():
            raise Forbidden(
                "These tickets were offered to another address; sign in with the address the link was sent to.",
                code=BookingErrorCode.WRONG_RECIPIENT,
            )
        if transfer.status != TicketTransfer.Status.PENDING:
            if transfer.status in (TicketTransfer.Status.ACCEPTED, TicketTransfer.Status.COMPLETED):
                return transfer
            raise Conflict(
                f"This transfer was {transfer.get_status_display().lower()}; it can no longer be accepted.",
                code=TRANSFER_REFUSALS[transfer.status],
            )
        if transfer.expires_at <= timezone.now():
            raise Conflict("This transfer has expired.", code=BookingErrorCode.TRANSFER_EXPIRED)
        _transferable(booking)
        _tickets_for_transfer(
            booking, transfer.ticket_ids, pending=_pending_ticket_ids(booking, exclude=transfer_id)
        )
        _transfer_move(
            transfer,
            TicketTransfer.Status.ACCEPTED,
            recipient_user_id=buyer.user_id,
            recipient_name=buyer.name,
        )
        _move(
            booking,
            booking.status,
            step=TimelineStep.TICKET_TRANSFER_ACCEPTED,
            detail=f"accepted by {buyer.email}",
        )
        _emit(
            TicketTransferAccepted(
                transfer_id=str(transfer.id),
                booking_id=str(booking.id),
                event_id=str(booking.event_id),
                ticket_ids=transfer.ticket_ids,
                recipient=Customer(user_id=buyer.user_id, email=buyer.email, name=buyer.name),
            ),
            booking,
        )
    return transfer


def transfer_cancel(*, booking_id: str, transfer_id: str, user_id: str) -> TicketTransfer:
    """Withdraw a pending transfer (the owner only); its link then no longer works."""
    with db.atomic(_db()):
        booking = _locked_own(booking_id, user_id)
        transfer = _locked_transfer(booking, transfer_id)
        if transfer is None:
            raise NotFound("This booking has no transfer with this id.")
        if transfer.status != TicketTransfer.Status.PENDING:
            raise Conflict(
                f"This transfer is {transfer.get_status_display().lower()}; only a pending one can be cancelled.",
                code=BookingErrorCode.TRANSFER_NOT_PENDING,
            )
        _transfer_move(transfer, TicketTransfer.Status.CANCELLED)
        _move(
            booking,
            booking.status,
            step=TimelineStep.TICKET_TRANSFER_CANCELLED,
            detail=f"offer to {transfer.recipient_email}",
        )
    return transfer


def _received_tickets_mark(booking: Booking, ticket_ids: Sequence[str], status: str) -> set[str]:
    """Which of ``ticket_ids`` are tickets a transfer's recipient holds, set to ``status``.

    An empty ``status`` changes nothing (a refused scan). A revoked ticket stays revoked.
    """
    wanted = set(ticket_ids)
    found: set[str] = set()
    for transfer in TicketTransfer.objects.select_for_update().filter(
        booking=booking, status=TicketTransfer.Status.COMPLETED
    ):
        tickets = [dict(ticket) for ticket in transfer.tickets]
        changed = False
        for ticket in tickets:
            if ticket["ticket_id"] not in wanted:
                continue
            found.add(ticket["ticket_id"])
            if (
                status
                and ticket.get("status") != BookingTicket.Status.REVOKED
                and ticket.get("status") != status
            ):
                ticket["status"] = status
                changed = True
        if changed:
            _transfer_move(transfer, transfer.status, tickets=tickets)
    return found


def transfer_on_tickets_transferred(*, payload: TicketsTransferred) -> None:
    """Record checkin's answer: the recipient's new tickets, the owner's marked transferred.

    A refusal ends the transfer REFUSED and the owner keeps the tickets as they are. Again:
    the transfer is no longer ACCEPTED; nothing changes.
    """
    with db.atomic(_db()):
        booking = _locked(payload.booking_id)
        if booking is None:
            return
        transfer = _locked_transfer(booking, payload.transfer_id)
        if transfer is None or transfer.status != TicketTransfer.Status.ACCEPTED:
            return
        if payload.outcome == "refused":
            _transfer_move(transfer, TicketTransfer.Status.REFUSED, reason=payload.reason[:200])
            _move(booking, booking.status, step=TimelineStep.TICKET_TRANSFER_REFUSED, detail=payload.reason)
            return
        BookingTicket.objects.filter(booking=booking, id__in=[t.replaces for t in payload.tickets]).update(
            status=BookingTicket.Status.TRANSFERRED, updated_at=timezone.now()
        )
        # A revocation or scan of a new ticket that overtook this event left a placeholder in
        # the owner's list: its status moves to the recipient's ticket and the placeholder goes.
        overtaken = BookingTicket.objects.filter(
            booking=booking, id__in=[t.ticket_id for t in payload.tickets]
        )
        statuses = {str(pk): status for pk, status in overtaken.values_list("id", "status")}
        overtaken.delete()
        _transfer_move(
            transfer,
            TicketTransfer.Status.COMPLETED,
            tickets=[
                {
                    **ticket.model_dump(mode="json"),
                    "status": statuses.get(ticket.ticket_id, BookingTicket.Status.VALID),
                }
                for ticket in payload.tickets
            ],
        )
        count = len(payload.tickets)
        _move(
            booking,
            booking.status,
            step=TimelineStep.TICKETS_TRANSFERRED,
            detail=f"{count} ticket{'s' * (count != 1)} now held by {payload.recipient.email}",
        )
