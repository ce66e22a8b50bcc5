"""The waiting list of a sold-out event: who waits for how many seats, and the offers they get.

Why it lives in inventory (docs/adr/010-waiting-list-in-inventory.md): its promise is about
seats. A seat that comes back (a hold that expired, a payment that failed, a cancellation)
goes to the waiting list before it goes back on sale, and is never offered to two buyers
at once. Both are decided in the transaction that frees the seat, under the same row
locks, so there is no moment when the seat is on open sale or claimed twice.

How it goes:

1. A signed-in buyer joins a sold-out event (or section) for 1 to ``max_seats_per_booking``
   seats (:func:`waitlist_join`); joining while seats are on sale is ``409 not_sold_out``.
2. Every path that frees seats calls :func:`seats_offer_to_waitlist` in its transaction.
   The waiting entries are locked in FIFO order; each in turn that the freed seats can
   satisfy (enough seats, in its section; seats on sale since an earlier release count too)
   gets an offer: its seats become OFFERED to a
   booking id made for the offer until the offer ends (``waitlist_offer_minutes``, default
   30), the door's seat claims are taken for that booking id, and ``waitlist.offer-made``
   tells notifications to email the buyer. Entries that do not fit keep their place. What
   nobody waiting can use goes back on open sale.
3. The buyer books with the offer's signed token (``ticketflow.waitlist_offers``): the booking
   gets the offer's booking id and inventory's hold accepts the OFFERED seats
   (:func:`offered_to`); the entry is BOOKED.
4. An offer not taken in time lapses (:func:`waitlist_offers_lapse`, a sweep) and its seats
   pass to the next entry that fits, or back on sale. Leaving the list with an open offer
   passes its seats on at once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError
from django.db.models import F, Q
from django.utils import timezone

from apps.inventory import metrics
from apps.inventory.error_codes import InventoryErrorCode
from apps.inventory.models import SaleEvent, Seat, SeatStatus, WaitlistEntry, WaitlistStatus
from apps.inventory.selectors import seat_map_forget
from ticketflow import db, seat_claims, waitlist_offers
from ticketflow.errors import Conflict, InvalidInput, NotFound
from ticketflow.messaging.outbox import emit
from ticketflow.messaging.schemas import Customer, SeatLabel, WaitlistOfferMade

logger = logging.getLogger(__name__)

ACTIVE = (WaitlistStatus.WAITING, WaitlistStatus.OFFERED)
SERVE_AT_ONCE = 500
"""Waiting entries looked at per release: the head of the list, where the seats go anyway."""


def _db() -> str:
    return db.alias_for("inventory")


@dataclass(frozen=True)
class Buyer:
    """Who joins: the account and where to write to them."""

    user_id: str
    email: str
    name: str


# --- joining and leaving -----------------------------------------------------------------------------


def waitlist_join(*, event_id: str, buyer: Buyer, quantity: int, section: str = "") -> WaitlistEntry:
    """Put ``buyer`` on the event's waiting list for ``quantity`` seats (of ``section``, or any).

    Refused with ``404`` for an unknown event, ``409 not_on_sale`` when the event is not on
    sale, ``400`` for a quantity outside 1 to the event's ``max_seats_per_booking`` or an
    unknown section, ``409 not_sold_out`` while seats (of that section) are on open sale, and
    ``409 already_waiting`` when the account already has a place on this list.
    """
    sale = SaleEvent.objects.filter(pk=event_id).first()
    if sale is None:
        raise NotFound("We do not know this event.")
    if not sale.on_sale_at(timezone.now()):
        raise Conflict(
            "Tickets for this event are not on sale, so it has no waiting list.",
            code=InventoryErrorCode.NOT_ON_SALE,
        )
    if not 1 <= quantity <= sale.max_seats_per_booking:
        raise InvalidInput(
            f"Ask for between 1 and {sale.max_seats_per_booking} seats.",
            details={"fields": {"quantity": [f"Between 1 and {sale.max_seats_per_booking}."]}},
        )
    seats = Seat.objects.filter(event_id=event_id)
    if section:
        seats = seats.filter(section=section)
        if not seats.exists():
            raise InvalidInput(
                f"This event has no section called {section!r}.",
                details={"fields": {"section": ["No such section."]}},
            )
    available = seats.filter(status=SeatStatus.AVAILABLE).count()
    if available:
        raise Conflict(
            f"{available} seat{'s are' if available != 1 else ' is'} still on sale: book "
            f"{'them' if available != 1 else 'it'} instead of joining the waiting list.",
            code=InventoryErrorCode.NOT_SOLD_OUT,
            details={"available": available},
        )
    try:
        with db.atomic(_db()):
            entry = WaitlistEntry.objects.create(
                id=uuid.uuid4(),
                event_id=event_id,
                section=section,
                user_id=buyer.user_id,
                email=buyer.email,
                name=buyer.name,
                quantity=quantity,
            )
    except IntegrityError:
        raise Conflict(
            "You are already on this event's waiting list. Leave it first to change your request.",
            code=InventoryErrorCode.ALREADY_WAITING,
        ) from None
    metrics.waitlist_changed("joined")
    return entry


def waitlist_leave(*, event_id: str, user_id: str) -> WaitlistEntry:
    """Take the account off the event's waiting list; seats offered to it pass on at once."""
    with db.atomic(_db()):
        entry = (
            WaitlistEntry.objects.select_for_update()
            .filter(event_id=event_id, user_id=user_id, status__in=ACTIVE)
            .first()
        )
        if entry is None:
            raise NotFound("You are not on this event's waiting list.")
        offered = entry.status == WaitlistStatus.OFFERED
        _end(entry, WaitlistStatus.LEFT)
        if offered:
            seats = list(
                Seat.objects.select_for_update()
                .filter(event_id=event_id, status=SeatStatus.OFFERED, hold_id=entry.offer_id)
                .values_list("id", flat=True)
            )
            _pass_on(event_id=event_id, owner=str(entry.offer_booking_id), seat_ids=[str(s) for s in seats])
    metrics.waitlist_changed("left")
    return entry


def _end(entry: WaitlistEntry, status: WaitlistStatus) -> None:
    entry.status, entry.version, entry.updated_at = status, entry.version + 1, timezone.now()
    entry.save(update_fields=["status", "version", "updated_at"])


# --- what a buyer sees --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """A buyer's entry, where it stands, and the token of its open offer."""

    entry: WaitlistEntry
    position: int | None
    """1 for the head of the list; None once the entry is no longer waiting."""
    offer_token: str | None
    offered_seats: list[Seat]


def waitlist_place(*, event_id: str, user_id: str) -> Place | None:
    """The account's latest entry on the event's list, or None if it never joined."""
    entry = WaitlistEntry.objects.filter(event_id=event_id, user_id=user_id).order_by("-joined_at").first()
    if entry is None:
        return None
    position = None
    if entry.status == WaitlistStatus.WAITING:
        ahead = WaitlistEntry.objects.filter(
            Q(joined_at__lt=entry.joined_at) | Q(joined_at=entry.joined_at, id__lt=entry.id),
            event_id=event_id,
            status=WaitlistStatus.WAITING,
        ).count()
        position = ahead + 1
    token, seats = None, []
    if (
        entry.status == WaitlistStatus.OFFERED
        and entry.offer_expires_at
        and entry.offer_expires_at > timezone.now()
    ):
        seats = list(Seat.objects.filter(id__in=entry.offer_seat_ids).order_by("section", "row", "number"))
        token = waitlist_offers.issue(
            waitlist_offers.Offer(
                offer_id=str(entry.offer_id),
                booking_id=str(entry.offer_booking_id),
                user_id=str(entry.user_id),
                event_id=str(entry.event_id),
                seat_ids=tuple(entry.offer_seat_ids),
                expires_at=entry.offer_expires_at.timestamp(),
            )
        )
    return Place(entry=entry, position=position, offer_token=token, offered_seats=seats)


# --- offers -----------------------------------------------------------------------------------------


def offered_to(seat: Seat, booking_id: str, now: datetime) -> bool:
    """Whether ``seat`` is offered to ``booking_id`` and the offer is still open."""
    return (
        seat.status == SeatStatus.OFFERED
        and str(seat.booking_id) == booking_id
        and seat.hold_expires_at is not None
        and seat.hold_expires_at > now
    )


@db.transactional("inventory")
def waitlist_offer_taken(*, booking_id: str) -> None:
    """The offer's booking holds its seats: the entry is served (call inside the hold's transaction)."""
    served = WaitlistEntry.objects.filter(offer_booking_id=booking_id, status=WaitlistStatus.OFFERED).update(
        status=WaitlistStatus.BOOKED, version=F("version") + 1, updated_at=timezone.now()
    )
    if served:
        db.on_commit(lambda: metrics.waitlist_changed("booked"), using=_db())


@db.transactional("inventory")
def seats_offer_to_waitlist(*, event_id: str, seat_ids: Sequence[str]) -> list[str]:
    """Offer just-freed seats to the event's waiting list; returns the seats offered.

    Call it in the transaction that freed the seats (they are AVAILABLE and row-locked by
    it). The waiting entries are locked in FIFO order, so two releases racing for the same
    head of the list take turns, and the second finds it OFFERED: one offer per entry.
    """
    if not seat_ids:
        return []
    entries = list(
        WaitlistEntry.objects.select_for_update()
        .filter(event_id=event_id, status=WaitlistStatus.WAITING)
        .order_by("joined_at", "id")[:SERVE_AT_ONCE]
    )
    if not entries:
        return []
    now = timezone.now()
    sale = SaleEvent.objects.filter(pk=event_id).first()
    if sale is None or not sale.on_sale_at(now):
        return []
    freed = list(Seat.objects.filter(event_id=event_id, id__in=list(seat_ids), status=SeatStatus.AVAILABLE))
    # Seats that came back earlier and that nobody waiting could use then are on open sale;
    # with these they may now make up a waiting pair. Those a hold is deciding are skipped.
    earlier = list(
        Seat.objects.select_for_update(skip_locked=True)
        .filter(event_id=event_id, status=SeatStatus.AVAILABLE)
        .exclude(id__in=[seat.id for seat in freed])[:SERVE_AT_ONCE]
    )
    pool = sorted(freed + earlier, key=lambda seat: (seat.section, seat.row, seat.number))
    offered: list[str] = []
    for entry in entries:
        fitting = [seat for seat in pool if not entry.section or seat.section == entry.section]
        if len(fitting) < entry.quantity:
            continue
        chosen = fitting[: entry.quantity]
        _offer(entry, sale=sale, seats=chosen, now=now)
        offered += [str(seat.id) for seat in chosen]
        pool = [seat for seat in pool if seat not in chosen]
        if not pool:
            break
    return offered


def _offer(entry: WaitlistEntry, *, sale: SaleEvent, seats: list[Seat], now: datetime) -> None:
    """Make ``seats`` OFFERED to ``entry`` and announce it; the door's claims follow the commit."""
    offer_id, booking_id = uuid.uuid4(), uuid.uuid4()
    expires_at = now + timedelta(minutes=sale.waitlist_offer_minutes)
    seat_ids = [str(seat.id) for seat in seats]
    Seat.objects.filter(id__in=seat_ids, status=SeatStatus.AVAILABLE).update(
        status=SeatStatus.OFFERED,
        booking_id=booking_id,
        hold_id=offer_id,
        hold_expires_at=expires_at,
        version=F("version") + 1,
        updated_at=now,
    )
    entry.status = WaitlistStatus.OFFERED
    entry.offer_id, entry.offer_booking_id = offer_id, booking_id
    entry.offer_seat_ids, entry.offer_expires_at = seat_ids, expires_at
    entry.version, entry.updated_at = entry.version + 1, now
    entry.save()
    emit(
        WaitlistOfferMade(
            offer_id=str(offer_id),
            entry_id=str(entry.id),
            event_id=str(sale.event_id),
            event_name=sale.name,
            event_starts_at=sale.starts_at,
            seats=[
                SeatLabel(
                    seat_id=str(seat.id),
                    section=seat.section,
                    row=seat.row,
                    number=seat.number,
                    price_cents=seat.price_cents,
                )
                for seat in seats
            ],
            total_cents=sum(seat.price_cents for seat in seats),
            currency=sale.currency,
            expires_at=expires_at,
            offer_url=f"{settings.PUBLIC_BASE_URL}/events/{sale.event_id}/waitlist",
            customer=Customer(user_id=str(entry.user_id), email=entry.email, name=entry.name or entry.email),
        ),
        aggregate_id=str(entry.id),
        using=_db(),
    )
    event_id, seconds = str(sale.event_id), (expires_at - now).total_seconds()

    def claim_at_the_door() -> None:
        seat_claims.claim(event_id=event_id, seat_ids=seat_ids, owner=str(booking_id), ttl_seconds=seconds)
        seat_map_forget(event_id=event_id)

    db.on_commit(claim_at_the_door, using=_db())
    db.on_commit(lambda: metrics.waitlist_changed("offered"), using=_db())
    logger.info("offered %d seats of event %s to waiting entry %s", len(seats), event_id, entry.id)


def _pass_on(*, event_id: str, owner: str, seat_ids: list[str]) -> list[str]:
    """Take back seats offered to ``owner`` (locked by the caller) and offer them to the next entries."""
    if not seat_ids:
        return []
    Seat.objects.filter(id__in=seat_ids, status=SeatStatus.OFFERED).free()

    def drop_claims() -> None:
        seat_claims.release(event_id=event_id, seat_ids=seat_ids, owner=owner)
        seat_map_forget(event_id=event_id)

    db.on_commit(drop_claims, using=_db())
    return seats_offer_to_waitlist(event_id=event_id, seat_ids=seat_ids)


def waitlist_offers_lapse(*, now: datetime | None = None, limit: int = 1000) -> int:
    """End the offers whose time is up and pass their seats on; returns how many seats moved.

    Safe on several workers at once: the seats are taken with SKIP LOCKED and the update
    re-checks that each is still OFFERED, so a seat a booking holds meanwhile stays held.
    """
    now = now or timezone.now()
    with db.atomic(_db()):
        lapsed = list(
            Seat.objects.select_for_update(skip_locked=True)
            .filter(status=SeatStatus.OFFERED, hold_expires_at__lte=now)
            .order_by("id")
            .values_list("id", "event_id", "booking_id", "hold_id")[:limit]
        )
        offers: dict[tuple[str, str, str], list[str]] = {}
        for seat_id, event, booking, offer in lapsed:
            offers.setdefault((str(event), str(booking), str(offer)), []).append(str(seat_id))
        for (event_id, booking_id, offer_id), seat_ids in offers.items():
            WaitlistEntry.objects.filter(offer_id=offer_id, status=WaitlistStatus.OFFERED).update(
                status=WaitlistStatus.LAPSED, version=F("version") + 1, updated_at=now
            )
            _pass_on(event_id=event_id, owner=booking_id, seat_ids=seat_ids)
            logger.info("offer %s of event %s lapsed; %d seats passed on", offer_id, event_id, len(seat_ids))
        if offers:
            db.on_commit(lambda: metrics.waitlist_changed("lapsed", len(offers)), using=_db())
    return len(lapsed)
