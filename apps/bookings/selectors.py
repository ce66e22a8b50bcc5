"""Reads of the bookings context."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from apps.bookings.models import BookableEvent, Booking, BookingStep, TicketTransfer
from ticketflow.messaging.refund_policy import RefundStep, parse_policy, refund_percent
from ticketflow.values import is_uuid


def booking_get(*, booking_id: str, user_id: str, is_staff: bool = False) -> Booking | None:
    """A booking its buyer (or staff) may see, with its timeline; None otherwise."""
    if not is_uuid(booking_id):
        return None
    booking = (
        Booking.objects.prefetch_related(
            Prefetch("steps", queryset=BookingStep.objects.order_by("at", "id")), "tickets", "cancellations"
        )
        .filter(pk=booking_id)
        .first()
    )
    if booking is None or (str(booking.user_id) != str(user_id) and not is_staff):
        return None
    return booking


def booking_list_for_user(*, user_id: str) -> QuerySet[Booking]:
    """The buyer's bookings, newest first."""
    return (
        Booking.objects.filter(user_id=user_id)
        .prefetch_related(
            Prefetch("steps", queryset=BookingStep.objects.order_by("at", "id")), "tickets", "cancellations"
        )
        .order_by("-created_at")
    )


def transfer_list_for_booking(*, booking: Booking) -> QuerySet[TicketTransfer]:
    """A booking's transfers, newest first (the caller has checked it is the owner's)."""
    return TicketTransfer.objects.filter(booking=booking).order_by("-created_at")


def transfer_list_received(*, user_id: str) -> QuerySet[TicketTransfer]:
    """The transfers a user accepted, newest first, with their tickets once issued."""
    return (
        TicketTransfer.objects.filter(recipient_user_id=user_id)
        .select_related("booking")
        .order_by("-created_at")
    )


def refund_policy_for(*, booking: Booking) -> list[RefundStep]:
    """The refund policy of the booking's event as last announced (empty: in full until the start)."""
    policy = BookableEvent.objects.filter(pk=booking.event_id).values_list("refund_policy", flat=True).first()
    return parse_policy(policy)


def booking_refund_percent(*, booking: Booking, at: datetime | None = None) -> int:
    """The percent of its price that cancelling ``booking`` at ``at`` (default now) refunds."""
    return refund_percent(
        policy=refund_policy_for(booking=booking), starts_at=booking.event_starts_at, at=at or timezone.now()
    )
