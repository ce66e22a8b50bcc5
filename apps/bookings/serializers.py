"""Request and response shapes of the bookings API."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.bookings.models import Booking, BookingCancellation, BookingStep, BookingTicket, TicketTransfer
from apps.bookings.selectors import booking_refund_percent, refund_policy_for
from apps.bookings.services import PAYMENT_METHOD
from ticketflow.values import decimal_amount


class BookingInput(serializers.Serializer):
    event_id = serializers.UUIDField()
    seat_ids = serializers.ListField(
        child=serializers.CharField(max_length=64), allow_empty=False, min_length=1, max_length=100
    )
    # Required whatever the provider: a real one has no card to assume, and the simulated one
    # takes the same request, so a client written against it works against Stripe.
    payment_method = serializers.RegexField(
        PAYMENT_METHOD,
        max_length=255,
        help_text="The payment method to charge: a Stripe PaymentMethod id (test cards: pm_card_visa).",
        error_messages={"invalid": "Expected a payment method id such as pm_card_visa."},
    )
    waitlist_offer = serializers.CharField(
        required=False,
        max_length=2000,
        help_text="The token of seats offered to you from the waiting list (GET /api/events/{id}/waitlist).",
    )

    def validate_seat_ids(self, seat_ids: list[str]) -> list[str]:
        if len(set(seat_ids)) != len(seat_ids):
            raise serializers.ValidationError("Each seat may be asked for only once.")
        return seat_ids


class BookingCancelInput(serializers.Serializer):
    """The optional body of a cancellation: which seats. Without ``seat_ids``, all of them."""

    seat_ids = serializers.ListField(
        child=serializers.CharField(max_length=64),
        required=False,
        allow_empty=False,
        min_length=1,
        max_length=100,
        help_text="Cancel only these seats of a confirmed booking (every seat it holds: the whole booking).",
    )

    def validate_seat_ids(self, seat_ids: list[str]) -> list[str]:
        if len(set(seat_ids)) != len(seat_ids):
            raise serializers.ValidationError("Name each seat once.")
        return seat_ids


class StepOutput(serializers.ModelSerializer):
    class Meta:
        model = BookingStep
        fields = ("step", "status", "detail", "at")


class SeatOutput(serializers.Serializer):
    seat_id = serializers.CharField()
    section = serializers.CharField()
    row = serializers.CharField()
    number = serializers.IntegerField()
    category = serializers.CharField()
    price_cents = serializers.IntegerField()


class TicketOutput(serializers.ModelSerializer):
    id = serializers.CharField()
    secret = serializers.CharField(help_text="What the ticket's QR code encodes; show it at the door.")
    status = serializers.ChoiceField(choices=BookingTicket.Status.choices)

    class Meta:
        model = BookingTicket
        fields = ("id", "seat_id", "secret", "status")


class CancellationOutput(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)
    seats = SeatOutput(many=True, read_only=True)

    class Meta:
        model = BookingCancellation
        fields = (
            "id", "partial", "seat_ids", "seats", "refund_percent", "refund_cents", "refund_state",
            "refunded_cents", "created_at", "refunded_at",
        )  # fmt: skip


class RefundStepOutput(serializers.Serializer):
    hours_before = serializers.IntegerField()
    percent = serializers.IntegerField()


class BookingOutput(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)
    event_id = serializers.CharField(read_only=True)
    total = serializers.SerializerMethodField()
    seats = serializers.SerializerMethodField()
    timeline = serializers.SerializerMethodField()
    tickets = serializers.SerializerMethodField()
    refund_policy = serializers.SerializerMethodField()
    refund_percent_now = serializers.SerializerMethodField()
    cancellations = CancellationOutput(many=True, read_only=True)

    class Meta:
        model = Booking
        fields = (
            "id", "reference", "status", "event_id", "event_name", "event_starts_at", "venue_name",
            "seat_ids", "seats", "total_cents", "total", "currency", "payment_method", "paid",
            "refund_state", "failure_code", "failure_reason", "hold_expires_at", "version",
            "created_at", "updated_at", "finished_at", "timeline", "tickets",
            "refund_cents", "refund_policy", "refund_percent_now", "cancellations",
        )  # fmt: skip

    def get_total(self, booking: Booking) -> str | None:
        return None if booking.total_cents is None else decimal_amount(booking.total_cents)

    @extend_schema_field(SeatOutput(many=True))
    def get_seats(self, booking: Booking) -> list[dict[str, Any]]:
        return booking.seats

    @extend_schema_field(StepOutput(many=True))
    def get_timeline(self, booking: Booking) -> list[dict[str, Any]]:
        return StepOutput(booking.steps.all(), many=True).data  # type: ignore[return-value]  # a ReturnList; drf-stubs says dict

    @extend_schema_field(TicketOutput(many=True))
    def get_tickets(self, booking: Booking) -> list[dict[str, Any]]:
        """One per seat once checkin has issued them, in the booking's seat order."""
        order = {seat["seat_id"]: index for index, seat in enumerate(booking.seats)}
        issued = [ticket for ticket in booking.tickets.all() if ticket.secret]
        tickets = sorted(issued, key=lambda ticket: order.get(ticket.seat_id, len(order)))
        return TicketOutput(tickets, many=True).data  # type: ignore[return-value]  # a ReturnList; drf-stubs says dict

    @extend_schema_field(RefundStepOutput(many=True))
    def get_refund_policy(self, booking: Booking) -> list[dict[str, int]]:
        """The event's refund steps, earliest deadline first (empty: in full until the start)."""
        return [step.model_dump() for step in refund_policy_for(booking=booking)]

    def get_refund_percent_now(self, booking: Booking) -> int:
        """What cancelling now would refund, in percent of the price."""
        return booking_refund_percent(booking=booking)


class TransferInput(serializers.Serializer):
    ticket_ids = serializers.ListField(
        child=serializers.CharField(max_length=64), allow_empty=False, min_length=1, max_length=100
    )
    email = serializers.EmailField(max_length=254)


class TransferredTicketOutput(serializers.Serializer):
    ticket_id = serializers.CharField()
    replaces = serializers.CharField(
        help_text="The owner's ticket this one replaced (now refused at the door)."
    )
    seat_id = serializers.CharField()
    seat_label = serializers.CharField()
    secret = serializers.CharField(help_text="What the new ticket's QR code encodes.")
    status = serializers.ChoiceField(
        choices=BookingTicket.Status.choices,
        default=BookingTicket.Status.VALID,
        help_text="As the door last said.",
    )


class TransferOutput(serializers.ModelSerializer):
    """A transfer as its owner sees it: never the recipient's new secrets."""

    id = serializers.CharField(read_only=True)
    booking_id = serializers.CharField(read_only=True)

    class Meta:
        model = TicketTransfer
        fields: tuple[str, ...] = (
            "id", "booking_id", "ticket_ids", "recipient_email", "status", "reason", "expires_at",
            "version", "created_at", "updated_at",
        )  # fmt: skip


class ReceivedTransferOutput(TransferOutput):
    """A transfer as its recipient sees it: the event and, once issued, their tickets."""

    event_id = serializers.CharField(source="booking.event_id", read_only=True)
    event_name = serializers.CharField(source="booking.event_name", read_only=True)
    event_starts_at = serializers.DateTimeField(source="booking.event_starts_at", read_only=True)
    venue_name = serializers.CharField(source="booking.venue_name", read_only=True)
    tickets = TransferredTicketOutput(many=True, read_only=True)

    class Meta(TransferOutput.Meta):
        fields = (
            *TransferOutput.Meta.fields,
            "event_id",
            "event_name",
            "event_starts_at",
            "venue_name",
            "tickets",
        )
