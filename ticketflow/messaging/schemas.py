"""Payload schemas: the only contract the bounded contexts share.

Each event type (topic) has exactly one payload model here, with a schema ``version``. A
payload is validated when it is emitted and again when it is consumed; unknown fields are
ignored on the way in, so a producer may add optional fields without breaking older
consumers (bump ``version`` for anything else). Money is integer minor units plus an ISO
4217 currency; ids are opaque strings; times are timezone-aware.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from functools import lru_cache
from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from ticketflow.messaging.codes import LockFailure
from ticketflow.messaging.refund_policy import RefundPolicy, check_policy
from ticketflow.messaging.topics import Topic

Id = Annotated[str, Field(min_length=1, max_length=64)]
Cents = Annotated[int, Field(ge=0)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
Email = Annotated[str, Field(min_length=3, max_length=254)]


class Payload(BaseModel):
    """Base of every event payload; subclasses declare ``topic`` and ``version``."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    topic: ClassVar[Topic]
    version: ClassVar[int] = 1


REGISTRY: dict[str, type[Payload]] = {}


def register(model: type[Payload]) -> type[Payload]:
    """Declare ``model`` as the payload schema of its topic (one schema per topic)."""
    if model.topic in REGISTRY:
        raise ValueError(f"{model.topic} already has the schema {REGISTRY[model.topic].__name__}")
    REGISTRY[model.topic] = model
    return model


def schema_for(event_type: str) -> type[Payload]:
    """The payload model of ``event_type``; ``KeyError`` for a type nobody declared."""
    return REGISTRY[event_type]


# --- Seat layout ------------------------------------------------------------------------------


class LayoutRow(BaseModel):
    """A row of consecutively numbered seats, ``start`` .. ``start + seats - 1``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    label: Annotated[str, Field(min_length=1, max_length=16)]
    seats: Annotated[int, Field(ge=1, le=500)]
    start: Annotated[int, Field(ge=0, le=10_000)] = 1
    category: Annotated[str, Field(min_length=1, max_length=32)] | None = None


class LayoutSection(BaseModel):
    """A named block of rows; rows inherit the section's price category unless they name one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=64)]
    category: Annotated[str, Field(min_length=1, max_length=32)]
    rows: Annotated[list[LayoutRow], Field(min_length=1, max_length=500)]

    @model_validator(mode="after")
    def _unique_rows(self) -> LayoutSection:
        labels = [row.label for row in self.rows]
        if len(labels) != len(set(labels)):
            raise ValueError(f"section {self.name!r} repeats a row label")
        return self


class SeatLayout(BaseModel):
    """A venue's seating plan: sections -> rows -> seats, each seat in a price category."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sections: Annotated[list[LayoutSection], Field(min_length=1, max_length=100)]

    @model_validator(mode="after")
    def _unique_sections(self) -> SeatLayout:
        names = [section.name for section in self.sections]
        if len(names) != len(set(names)):
            raise ValueError("the layout repeats a section name")
        if self.capacity > 100_000:
            raise ValueError("a layout may hold at most 100,000 seats")
        return self

    @property
    def capacity(self) -> int:
        return sum(row.seats for section in self.sections for row in section.rows)

    @property
    def categories(self) -> set[str]:
        return {row.category or section.category for section in self.sections for row in section.rows}


class SeatSpec(BaseModel):
    """One seat of an event, as every context derives it from the published layout."""

    model_config = ConfigDict(frozen=True)

    seat_id: str
    section: str
    row: str
    number: int
    category: str


def seat_id_for(event_id: str, section: str, row: str, number: int) -> str:
    """The stable, opaque id of a seat of an event: the same in every context."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"ticketflow:seat:{event_id}:{section}:{row}:{number}"))


def iter_seats(event_id: str, layout: SeatLayout) -> Iterator[SeatSpec]:
    """Expand ``layout`` into the event's seats, in layout order."""
    for section in layout.sections:
        for row in section.rows:
            for number in range(row.start, row.start + row.seats):
                yield SeatSpec(
                    seat_id=seat_id_for(event_id, section.name, row.label, number),
                    section=section.name,
                    row=row.label,
                    number=number,
                    category=row.category or section.category,
                )


@lru_cache(maxsize=64)
def seat_ids_of(event_id: str, layout_json: str) -> frozenset[str]:
    """The set of seat ids of an event (cached: validating a booking must be cheap)."""
    layout = SeatLayout.model_validate_json(layout_json)
    return frozenset(seat.seat_id for seat in iter_seats(event_id, layout))


# --- accounts ---------------------------------------------------------------------------------


@register
class UserRegistered(Payload):
    topic = Topic.USER_REGISTERED

    user_id: Id
    email: Email
    name: str
    # The link that proves the address is the user's (optional: added after version 1).
    verification_url: str | None = None


@register
class SignUpAttempted(Payload):
    """Someone signed up with an address that already has an account; its owner is told."""

    topic = Topic.SIGN_UP_ATTEMPTED

    user_id: Id
    email: Email
    name: str


# --- catalog ----------------------------------------------------------------------------------

EventStatus = Literal["draft", "on_sale", "sold_out", "cancelled"]


class EventSnapshot(Payload):
    """Everything other contexts need to know about a published event."""

    event_id: Id
    name: str
    venue_id: Id
    venue_name: str
    timezone: str
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    status: EventStatus
    sale_starts_at: AwareDatetime | None = None
    sale_ends_at: AwareDatetime | None = None
    currency: Currency
    prices: dict[str, Cents]
    max_seats_per_booking: Annotated[int, Field(ge=1, le=100)]
    # The most seats one buyer may have at once; None means twice max_seats_per_booking.
    # Optional because snapshots published before it existed lack it (and mean the default).
    max_active_seats_per_buyer: Annotated[int, Field(ge=1)] | None = None
    hold_minutes: Annotated[int, Field(ge=1, le=60)]
    layout: SeatLayout
    revision: Annotated[int, Field(ge=1)]
    # The waiting room's knobs (docs/waiting-room.md); defaults keep older snapshots valid.
    queue_enabled: bool = False
    queue_opens_at: AwareDatetime | None = None
    queue_paused: bool = False
    admit_per_minute: Annotated[int, Field(ge=1, le=100_000)] = 100
    max_active_shoppers: Annotated[int, Field(ge=1, le=1_000_000)] = 500
    shopping_window_minutes: Annotated[int, Field(ge=1, le=120)] = 10
    # Ticket transfers (issue 14); older snapshots lack it and mean the default.
    transfers_allowed: bool = True
    # Minutes a waiting-list offer stays open (issue 14); older snapshots mean the default.
    waitlist_offer_minutes: Annotated[int, Field(ge=1, le=1440)] = 30
    # The refund policy (ticketflow/messaging/refund_policy.py); the default, no steps, is a
    # full refund until the start, which is what older snapshots meant.
    refund_policy: RefundPolicy = Field(default_factory=list)

    @model_validator(mode="after")
    def _priced(self) -> EventSnapshot:
        unpriced = self.layout.categories - set(self.prices)
        if unpriced:
            raise ValueError(f"no price for categories {sorted(unpriced)}")
        check_policy(self.refund_policy)
        return self


@register
class EventCreated(EventSnapshot):
    topic = Topic.EVENT_CREATED


@register
class EventUpdated(EventSnapshot):
    topic = Topic.EVENT_UPDATED


# --- bookings and inventory -------------------------------------------------------------------

SeatIds = Annotated[list[Id], Field(min_length=1, max_length=100)]


class Customer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    user_id: Id
    email: Email
    name: str


@register
class BookingInitiated(Payload):
    topic = Topic.BOOKING_INITIATED

    booking_id: Id
    event_id: Id
    seat_ids: SeatIds
    customer: Customer


class LockedSeat(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    seat_id: Id
    section: str
    row: str
    number: int
    category: str
    price_cents: Cents


HoldId = Annotated[
    str, Field(min_length=1, max_length=64, description="Names one hold of a booking's seats.")
]


@register
class SeatsLocked(Payload):
    topic = Topic.SEATS_LOCKED

    booking_id: Id
    event_id: Id
    hold_id: HoldId
    seats: Annotated[list[LockedSeat], Field(min_length=1)]
    total_cents: Cents
    currency: Currency
    hold_expires_at: AwareDatetime


@register
class SeatsLockFailed(Payload):
    topic = Topic.SEATS_LOCK_FAILED

    booking_id: Id
    event_id: Id
    reason_code: LockFailure
    reason: str
    unavailable_seat_ids: list[Id] = Field(default_factory=list)


@register
class SeatsConfirm(Payload):
    topic = Topic.SEATS_CONFIRM

    booking_id: Id
    event_id: Id
    hold_id: HoldId
    seat_ids: SeatIds


@register
class SeatsRelease(Payload):
    """Give back one hold. A release names its hold, so a stale one never frees a newer hold."""

    topic = Topic.SEATS_RELEASE

    booking_id: Id
    event_id: Id
    hold_id: HoldId
    seat_ids: SeatIds
    reason: str


@register
class SeatsReacquire(Payload):
    topic = Topic.SEATS_REACQUIRE

    booking_id: Id
    event_id: Id
    seat_ids: SeatIds


# --- payments ---------------------------------------------------------------------------------


@register
class PaymentRequested(Payload):
    topic = Topic.PAYMENT_REQUESTED

    booking_id: Id
    attempt: Annotated[int, Field(ge=1)]
    payment_method: Annotated[str, Field(min_length=1, max_length=255)]
    amount_cents: Cents
    currency: Currency
    customer: Customer
    description: str


PaymentOutcome = Literal["SUCCEEDED", "FAILED"]


@register
class PaymentProcessed(Payload):
    topic = Topic.PAYMENT_PROCESSED

    booking_id: Id
    payment_id: Id
    attempt: Annotated[int, Field(ge=1)]
    status: PaymentOutcome
    amount_cents: Cents
    currency: Currency
    provider: str
    failure_code: str | None = None
    failure_message: str | None = None


# ``seats_cancelled``: part of a confirmed booking was cancelled and the booking goes on. A
# consumer that predates it rejects the event rather than taking it for a whole booking's refund.
RefundReason = Literal["booking_cancelled", "late_payment", "seats_cancelled"]


@register
class PaymentRefundRequested(Payload):
    topic = Topic.PAYMENT_REFUND_REQUESTED

    booking_id: Id
    reason_code: RefundReason
    reason: str
    # How much to refund (the refund policy's share); None, as before it existed, is everything.
    amount_cents: Cents | None = None
    # Names this request (a cancellation's id): each one refunds once, however often it is
    # delivered, and a booking may ask for several. None, as before it existed: the booking's
    # one refund.
    refund_request_id: Id | None = None


@register
class PaymentRefunded(Payload):
    topic = Topic.PAYMENT_REFUNDED

    booking_id: Id
    payment_id: Id
    refund_id: Id
    amount_cents: Cents
    currency: Currency
    reason_code: RefundReason
    customer: Customer
    # The request this refund answers (``payment.refund-requested``'s), when it named one.
    refund_request_id: Id | None = None


# --- booking outcomes (notifications) ---------------------------------------------------------


class BookingFacts(Payload):
    """What a buyer's email needs to say about a booking."""

    booking_id: Id
    reference: str
    event_id: Id
    event_name: str
    event_starts_at: AwareDatetime
    venue_name: str
    customer: Customer


class SeatLabel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    seat_id: Id
    section: str
    row: str
    number: int
    price_cents: Cents


@register
class BookingConfirmed(BookingFacts):
    topic = Topic.BOOKING_CONFIRMED

    seats: Annotated[list[SeatLabel], Field(min_length=1)]
    total_cents: Cents
    currency: Currency


@register
class BookingFailed(BookingFacts):
    topic = Topic.BOOKING_FAILED

    reason_code: str
    reason: str


@register
class BookingCancelled(BookingFacts):
    topic = Topic.BOOKING_CANCELLED

    seat_ids: SeatIds
    was_confirmed: bool
    refund_due: bool
    reason: str
    # What the refund policy gives back (None from producers that predate policies: everything).
    refund_cents: Cents | None = None


@register
class BookingExpired(BookingFacts):
    topic = Topic.BOOKING_EXPIRED

    seat_ids: SeatIds


@register
class BookingSeatsCancelled(BookingFacts):
    """Some seats of a confirmed booking were cancelled; the booking keeps the others.

    Inventory puts ``seat_ids`` back on sale, checkin revokes their tickets, the buyer is
    emailed. ``cancellation_id`` names this cancellation (and its refund request), so a
    repeat is recognised. Cancelling a booking's last seats is a ``booking.cancelled``.
    """

    topic = Topic.BOOKING_SEATS_CANCELLED

    cancellation_id: Id
    seat_ids: SeatIds
    seats: Annotated[list[SeatLabel], Field(min_length=1)]
    refund_percent: Annotated[int, Field(ge=0, le=100)]
    refund_cents: Cents
    currency: Currency


# --- check-in (tickets at the door) -----------------------------------------------------------

TicketSecret = Annotated[str, Field(min_length=16, max_length=256, pattern=r"^[A-Za-z0-9_-]+$")]


class IssuedTicket(BaseModel):
    """One seat's ticket: its id and the signed secret its QR code encodes."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    ticket_id: Id
    seat_id: Id
    secret: TicketSecret


@register
class TicketsIssued(BookingFacts):
    """A confirmed booking's tickets, one per seat, with everything its confirmation email shows.

    The secrets are bearer credentials: they travel only to the buyer's own booking (bookings)
    and email (notifications), never into logs or public pages.
    """

    topic = Topic.TICKETS_ISSUED

    seats: Annotated[list[SeatLabel], Field(min_length=1)]
    total_cents: Cents
    currency: Currency
    tickets: Annotated[list[IssuedTicket], Field(min_length=1, max_length=100)]


RevocationReason = Literal["booking_cancelled", "payment_refunded", "seats_cancelled"]


@register
class TicketsRevoked(Payload):
    topic = Topic.TICKETS_REVOKED

    booking_id: Id
    event_id: Id
    ticket_ids: Annotated[list[Id], Field(min_length=1, max_length=100)]
    reason_code: RevocationReason


ScanType = Literal["entry", "exit"]
ScanResult = Literal["ok", "already_redeemed", "revoked", "unknown", "wrong_event"]


@register
class TicketScanned(Payload):
    """A scan of a known ticket, accepted or not: the booking's timeline shows each one."""

    topic = Topic.TICKET_SCANNED

    booking_id: Id
    event_id: Id
    ticket_id: Id
    seat_id: Id
    scan_id: Id
    type: ScanType
    result: ScanResult
    accepted: bool
    forced: bool
    scanned_at: AwareDatetime
    reason: str = ""


# --- ticket transfers (issue 14) --------------------------------------------------------------

TicketIds = Annotated[list[Id], Field(min_length=1, max_length=100)]


@register
class TicketTransferRequested(BookingFacts):
    """The owner (``customer``) offers some tickets to ``recipient_email``: email them the link."""

    topic = Topic.TICKET_TRANSFER_REQUESTED

    transfer_id: Id
    recipient_email: Email
    ticket_ids: TicketIds
    seat_labels: list[str]
    accept_url: str
    expires_at: AwareDatetime


@register
class TicketTransferAccepted(Payload):
    """The recipient accepted: checkin revokes the old secrets and issues new ones to them."""

    topic = Topic.TICKET_TRANSFER_ACCEPTED

    transfer_id: Id
    booking_id: Id
    event_id: Id
    ticket_ids: TicketIds
    recipient: Customer


class TransferredTicket(BaseModel):
    """A ticket issued to a transfer's recipient, replacing (and revoking) ``replaces``."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    ticket_id: Id
    replaces: Id
    seat_id: Id
    seat_label: str
    secret: TicketSecret


TransferOutcome = Literal["transferred", "refused"]


@register
class TicketsTransferred(Payload):
    """Checkin's answer to an accepted transfer: the recipient's new tickets, or why none.

    ``refused`` (with ``reason``) when a ticket was revoked, checked in or already
    transferred by the time the acceptance arrived: nothing was issued then.
    """

    topic = Topic.TICKETS_TRANSFERRED

    transfer_id: Id
    booking_id: Id
    event_id: Id
    event_name: str
    event_starts_at: AwareDatetime
    venue_name: str
    recipient: Customer
    outcome: TransferOutcome
    reason: str = ""
    tickets: Annotated[list[TransferredTicket], Field(max_length=100)] = Field(default_factory=list)


@register
class WaitlistOfferMade(Payload):
    """Seats came back and are offered to a buyer on the waiting list: email them the offer.

    Inventory emits it in the transaction that makes the seats OFFERED; ``offer_url`` is the
    page where the signed-in buyer books them before ``expires_at``.
    """

    topic = Topic.WAITLIST_OFFER_MADE

    offer_id: Id
    entry_id: Id
    event_id: Id
    event_name: str
    event_starts_at: AwareDatetime
    seats: Annotated[list[SeatLabel], Field(min_length=1)]
    total_cents: Cents
    currency: Currency
    expires_at: AwareDatetime
    offer_url: str
    customer: Customer
