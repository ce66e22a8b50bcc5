"""The notifications context's reactions to events: each one records the email it owes.

The kernel runs every handler inside ``db.atomic("documents")`` together with its inbox row;
the handler only records a PENDING notification, and the email is sent by a Celery task
after that transaction commits (never inside it). The row's context is the event payload
as it arrived, which is everything the templates need.
"""

from __future__ import annotations

from typing import TypeVar

from apps.notifications.models import NotificationKind
from apps.notifications.selectors import notification_get_booking_facts
from apps.notifications.services import notification_record
from ticketflow.messaging.envelope import Envelope
from ticketflow.messaging.handlers import handles
from ticketflow.messaging.schemas import (
    BookingCancelled,
    BookingExpired,
    BookingFacts,
    BookingFailed,
    BookingSeatsCancelled,
    PaymentRefunded,
    SignUpAttempted,
    TicketsIssued,
    TicketsTransferred,
    TicketTransferRequested,
    UserRegistered,
    WaitlistOfferMade,
)
from ticketflow.messaging.topics import Topic

# Any event that carries the booking's facts (Envelope is invariant in its payload type).
_Facts = TypeVar("_Facts", bound=BookingFacts)


def _record_booking_email(kind: NotificationKind, event: Envelope[_Facts]) -> None:
    payload = event.payload
    notification_record(
        kind=kind,
        source_event_id=event.id,
        recipient=payload.customer.email,
        user_id=payload.customer.user_id,
        booking_id=payload.booking_id,
        context=payload.model_dump(mode="json"),
    )


@handles(Topic.USER_REGISTERED)
def on_user_registered(event: Envelope[UserRegistered]) -> None:
    """Owe the new user a welcome email, with the link that verifies their address.

    A second delivery of the same event records nothing and sends nothing: the inbox
    drops it, and were it to get through, the notification of that event already exists.
    """
    payload = event.payload
    notification_record(
        kind=NotificationKind.WELCOME,
        source_event_id=event.id,
        recipient=payload.email,
        user_id=payload.user_id,
        context=payload.model_dump(mode="json"),
    )


@handles(Topic.SIGN_UP_ATTEMPTED)
def on_sign_up_attempted(event: Envelope[SignUpAttempted]) -> None:
    """Owe the account's owner word that someone tried to sign up with their address.

    The sign-up itself answered as for a new account, so this email is how the owner (and
    only the owner) learns it. A second delivery records nothing and sends nothing.
    """
    payload = event.payload
    notification_record(
        kind=NotificationKind.SIGN_UP_ATTEMPTED,
        source_event_id=event.id,
        recipient=payload.email,
        user_id=payload.user_id,
        context=payload.model_dump(mode="json"),
    )


@handles(Topic.TICKETS_ISSUED)
def on_tickets_issued(event: Envelope[TicketsIssued]) -> None:
    """Owe the buyer their confirmation: seats, total, reference and one QR code per ticket.

    Sent on ``tickets.issued`` rather than ``booking.confirmed``: only then do the signed
    ticket secrets exist, and the event carries the booking's facts too. A second delivery
    of the same event records nothing and sends nothing.
    """
    _record_booking_email(NotificationKind.BOOKING_CONFIRMED, event)


@handles(Topic.BOOKING_FAILED)
def on_booking_failed(event: Envelope[BookingFailed]) -> None:
    """Owe the buyer an explanation of why the booking failed, and a way to try again.

    A second delivery of the same event records nothing and sends nothing.
    """
    _record_booking_email(NotificationKind.BOOKING_FAILED, event)


@handles(Topic.BOOKING_CANCELLED)
def on_booking_cancelled(event: Envelope[BookingCancelled]) -> None:
    """Owe the buyer word of the cancellation and whether a refund is coming.

    A second delivery of the same event records nothing and sends nothing.
    """
    _record_booking_email(NotificationKind.BOOKING_CANCELLED, event)


@handles(Topic.BOOKING_SEATS_CANCELLED)
def on_booking_seats_cancelled(event: Envelope[BookingSeatsCancelled]) -> None:
    """Owe the buyer word of the seats they cancelled, that the rest stands, and the refund.

    A second delivery of the same event records nothing and sends nothing.
    """
    _record_booking_email(NotificationKind.SEATS_CANCELLED, event)


@handles(Topic.BOOKING_EXPIRED)
def on_booking_expired(event: Envelope[BookingExpired]) -> None:
    """Owe the buyer word that their seat hold expired unpaid, and a way to try again.

    A second delivery of the same event records nothing and sends nothing.
    """
    _record_booking_email(NotificationKind.BOOKING_EXPIRED, event)


@handles(Topic.PAYMENT_REFUNDED)
def on_payment_refunded(event: Envelope[PaymentRefunded]) -> None:
    """Owe the buyer an explanation when a payment that arrived too late was refunded.

    Only ``reason_code == "late_payment"`` earns an email: a cancellation's refund is
    already announced by the booking-cancelled (or seats-cancelled) email. A second delivery of the same event
    records nothing and sends nothing.
    """
    payload = event.payload
    if payload.reason_code != "late_payment":
        return
    notification_record(
        kind=NotificationKind.LATE_PAYMENT_REFUND,
        source_event_id=event.id,
        recipient=payload.customer.email,
        user_id=payload.customer.user_id,
        booking_id=payload.booking_id,
        context={
            **payload.model_dump(mode="json"),
            **notification_get_booking_facts(booking_id=payload.booking_id),
        },
    )


@handles(Topic.TICKET_TRANSFER_REQUESTED)
def on_ticket_transfer_requested(event: Envelope[TicketTransferRequested]) -> None:
    """Owe the recipient the offer: who sends which tickets, and the link that accepts them.

    The recipient may have no account yet (``user_id`` stays empty). A second delivery of
    the same event records nothing and sends nothing.
    """
    payload = event.payload
    notification_record(
        kind=NotificationKind.TRANSFER_OFFERED,
        source_event_id=event.id,
        recipient=payload.recipient_email,
        user_id="",
        booking_id=payload.booking_id,
        context=payload.model_dump(mode="json"),
    )


@handles(Topic.TICKETS_TRANSFERRED)
def on_tickets_transferred(event: Envelope[TicketsTransferred]) -> None:
    """Owe the recipient their new tickets, one QR code each; a refused transfer earns nothing.

    A second delivery of the same event records nothing and sends nothing.
    """
    payload = event.payload
    if payload.outcome != "transferred":
        return
    notification_record(
        kind=NotificationKind.TRANSFER_RECEIVED,
        source_event_id=event.id,
        recipient=payload.recipient.email,
        user_id=payload.recipient.user_id,
        booking_id=payload.booking_id,
        context=payload.model_dump(mode="json"),
    )


@handles(Topic.WAITLIST_OFFER_MADE)
def on_waitlist_offer_made(event: Envelope[WaitlistOfferMade]) -> None:
    """Owe the buyer on the waiting list the offer: which seats, the price, and until when.

    A second delivery of the same event records nothing and sends nothing.
    """
    payload = event.payload
    notification_record(
        kind=NotificationKind.WAITLIST_OFFERED,
        source_event_id=event.id,
        recipient=payload.customer.email,
        user_id=payload.customer.user_id,
        context=payload.model_dump(mode="json"),
    )
